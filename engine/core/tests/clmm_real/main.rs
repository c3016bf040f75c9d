//! Differential test: `polyarb_core::clmm` against the REAL Uniswap V3 (`@uniswap/v3-core`
//! 1.0.1) and Algebra V1 (`@cryptoalgebra/core` 2.0.0) bytecode, run on anvil by the tools' CLMM
//! lab. Every swap of every seeded case must give exactly the pool's amounts, sqrt price, tick and
//! liquidity after, or fail where the pool reverted with the error its revert string maps to;
//! `quote_exact_in` must give the pool's output. See `check.rs` for how a case is rebuilt and
//! compared, `cases.rs` for the case families.
//!
//! Needs the toolchain (`tools/toolchain/install.sh`) and the probe contract (`forge build` in
//! `contracts/`), as `tools/test-all.sh` provides.
//!
//! - Default: a fixed seed and at least [`SHORT_SWAPS`] swaps.
//! - `POLYARB_LONG=1`: at least [`LONG_SWAPS`] swaps.
//! - `POLYARB_CLMM_SEED=<u64, decimal or 0x-hex>` or `=random`: another seed (printed, and named
//!   in any failure with the first mismatching case shrunk to its first mismatching swap).

mod cases;
mod check;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use polyarb_tools::{Case, CaseResult, ClmmLab, LabOpts, SplitMix64};

use cases::Family;
use check::{Mismatch, Tally, check_case};

/// Swaps in the default (CI) run.
const SHORT_SWAPS: usize = 10_000;
/// Swaps with `POLYARB_LONG=1`.
const LONG_SWAPS: usize = 60_000;
/// The default seed.
const DEFAULT_SEED: u64 = 0xD1FF_C1AA_5EED_0001;
/// Cases per lab round: results of one round are checked while the lab runs the next.
const ROUND: usize = 256;

fn long_mode() -> bool {
    std::env::var_os("POLYARB_LONG").is_some_and(|v| v == "1")
}

fn seed() -> u64 {
    let Some(v) = std::env::var_os("POLYARB_CLMM_SEED") else {
        return DEFAULT_SEED;
    };
    let v = v.to_string_lossy();
    if v == "random" {
        // Any varying bits do: the seed is printed and reproduces the run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64();
    }
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("POLYARB_CLMM_SEED={v}: {e}"))
}

/// The windowed slice's reach below and above the start tick of case `i`, in tick spacings.
fn window_for(seed: u64, i: usize) -> (i32, i32) {
    let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (rng.below(300) as i32, rng.below(300) as i32)
}

/// Runs `case` alone on the lab; its mismatch, if it still has one.
fn still_fails(lab: &ClmmLab, case: &Case, window: (i32, i32)) -> Option<Mismatch> {
    let result = lab.run(std::slice::from_ref(case)).ok()?.pop()?;
    check_case(case, &result, window, &mut Tally::default()).err()
}

/// Shrinks a failing case: its swaps up to the first mismatching one; then, if it still fails,
/// only that swap from the price it started at; then without each position that is not needed
/// for the failure. Every candidate is run again on the real pool.
fn shrink(
    lab: &ClmmLab,
    case: &Case,
    result: &CaseResult,
    first: Mismatch,
    window: (i32, i32),
) -> (Case, Mismatch) {
    let mut best = case.clone();
    let mut best_m = first.clone();
    if let Some(i) = first.swap {
        best.swaps.truncate(i + 1);
        if let Ok(run) = result
            && let Some(before) = run.swaps.get(i).map(|s| s.before)
        {
            let single = Case {
                init_sqrt_price: before.sqrt_price,
                swaps: vec![case.swaps[i]],
                ..case.clone()
            };
            if let Some(m) = still_fails(lab, &single, window) {
                (best, best_m) = (single, m);
            }
        }
    } else {
        best.swaps.clear();
    }
    for j in (0..best.positions.len()).rev() {
        let mut fewer = best.clone();
        fewer.positions.remove(j);
        if let Some(m) = still_fails(lab, &fewer, window) {
            (best, best_m) = (fewer, m);
        }
    }
    (best, best_m)
}

struct Checked {
    tally: Tally,
    mismatches: Vec<(usize, Mismatch)>,
    busy: Duration,
}

fn check_round(
    seed: u64,
    offset: usize,
    cases: &[(Family, Case)],
    results: &[CaseResult],
) -> Checked {
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut mismatches = Vec::new();
    for (k, ((_, case), result)) in cases.iter().zip(results).enumerate() {
        let i = offset + k;
        let mut t = Tally::default();
        match check_case(case, result, window_for(seed, i), &mut t) {
            Ok(()) => tally.merge(t),
            Err(m) => mismatches.push((i, m)),
        }
    }
    Checked {
        tally,
        mismatches,
        busy: start.elapsed(),
    }
}

#[test]
fn every_swap_matches_the_real_pools() {
    let seed = seed();
    let target = if long_mode() { LONG_SWAPS } else { SHORT_SWAPS };
    println!("seed {seed:#x}: at least {target} swaps");
    // A few percent of the cases are refused at setup (mints above the cap): generate more.
    let cases = cases::generate(seed, target + target / 10);
    let started = Instant::now();
    let lab = ClmmLab::start_with(LabOpts {
        slots: 32,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let lab_up = started.elapsed();

    // The lab runs round k+1 while a checker thread compares round k.
    let mut results: Vec<CaseResult> = Vec::with_capacity(cases.len());
    let mut tally = Tally::default();
    let mut mismatches: Vec<(usize, Mismatch)> = Vec::new();
    let mut lab_busy = Duration::ZERO;
    let mut check_busy = Duration::ZERO;
    thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Vec<CaseResult>)>();
        let cases_ref = &cases;
        let checker = scope.spawn(move || {
            let mut all = Vec::new();
            for (offset, round) in rx {
                let end = offset + round.len();
                all.push((
                    check_round(seed, offset, &cases_ref[offset..end], &round),
                    round,
                ));
            }
            all
        });
        for (r, chunk) in cases.chunks(ROUND).enumerate() {
            let t = Instant::now();
            let owned: Vec<Case> = chunk.iter().map(|(_, c)| c.clone()).collect();
            let round = lab
                .run(&owned)
                .unwrap_or_else(|e| panic!("seed {seed:#x}: lab: {e}"));
            lab_busy += t.elapsed();
            if tx.send((r * ROUND, round)).is_err() {
                break;
            }
        }
        drop(tx);
        let done = checker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        for (checked, round) in done {
            tally.merge(checked.tally);
            mismatches.extend(checked.mismatches);
            check_busy += checked.busy;
            results.extend(round);
        }
    });
    let total = started.elapsed();

    println!(
        "{} cases, {} swaps ({} succeeded, {} exact output) in {:.1} s: lab start {:.1} s, \
         lab {:.1} s, our math {:.1} s (overlapping); mismatches: {}",
        tally.cases + tally.setup_refused.values().sum::<usize>(),
        tally.swaps,
        tally.ok,
        tally.exact_out,
        total.as_secs_f64(),
        lab_up.as_secs_f64(),
        lab_busy.as_secs_f64(),
        check_busy.as_secs_f64(),
        mismatches.len(),
    );
    println!("succeeded per pool: {:?}", tally.ok_per_pool);
    println!(
        "reverts (each matched by our mapped error): {:?}",
        tally.reverts
    );
    println!("case setups the pool refused: {:?}", tally.setup_refused);
    let fees = &tally.algebra_fees;
    println!(
        "algebra fees: {} cases, min {:?}, max {:?}, ≥ 60000 pips: {}",
        fees.len(),
        fees.iter().min(),
        fees.iter().max(),
        fees.iter().filter(|&&f| f >= 60_000).count()
    );
    println!(
        "ticks crossed: max {} in one swap, {} swaps crossed ≥ 24; limit hit exactly {} times \
         ({} on an initialized tick); |amount| ≤ 3 wei: {}, ≥ 2^127: {}; near MIN_TICK {}, \
         near MAX_TICK {}; quotes {} equal, {} none as the pool; windowed {} full, {} edge prefix",
        tally.max_crossed,
        tally.crossed_24,
        tally.limit_hits,
        tally.limit_hits_on_tick,
        tally.tiny,
        tally.huge,
        tally.near_min_tick,
        tally.near_max_tick,
        tally.quotes_some,
        tally.quotes_none,
        tally.window_full,
        tally.window_edge,
    );

    for (i, m) in mismatches.iter().take(20) {
        println!(
            "MISMATCH case {i} ({:?}, {:?}): {m}",
            cases[*i].0, cases[*i].1.kind
        );
    }
    if let Some((i, first)) = mismatches.first().cloned() {
        let (family, case) = &cases[i];
        let window = window_for(seed, i);
        let (small, m) = shrink(&lab, case, &results[i], first.clone(), window);
        panic!(
            "seed {seed:#x}: {} of {} cases mismatch; the first is case {i} ({family:?}, \
             {:?}): {first}\n\
             shrunk to {} position(s) and {} swap(s), which fails with: {m}\n\
             shrunk case: {small:#?}\n\
             reproduce: POLYARB_CLMM_SEED={seed:#x} cargo test -p polyarb-core --test clmm_real",
            mismatches.len(),
            cases.len(),
            case.kind,
            small.positions.len(),
            small.swaps.len(),
        );
    }

    // Coverage: the run exercised what it claims to.
    assert!(tally.swaps >= target, "{} swaps", tally.swaps);
    for pool in ["v3-100", "v3-500", "v3-3000", "v3-10000", "algebra"] {
        let n = tally.ok_per_pool.get(pool).copied().unwrap_or(0);
        assert!(n * 10 >= tally.ok, "only {n} successful swaps on {pool}");
    }
    for reason in ["v3 'SPL'", "v3 'AS'", "algebra 'SPL'", "algebra 'AS'"] {
        assert!(
            tally.reverts.contains_key(reason),
            "no {reason} revert seen"
        );
    }
    assert!(
        tally.setup_refused.contains_key("'LO'"),
        "no mint above the per-tick cap"
    );
    assert!(
        fees.contains(&0) && fees.contains(&u16::MAX),
        "fees {fees:?}"
    );
    assert!(fees.iter().filter(|&&f| f > 30_000).count() * 4 >= fees.len());
    assert!(
        tally.exact_out * 4 >= tally.ok,
        "{} exact output",
        tally.exact_out
    );
    assert!(tally.max_crossed >= 48 && tally.crossed_24 >= 50);
    assert!(tally.limit_hits_on_tick >= 100 && tally.limit_hits >= 500);
    assert!(tally.tiny >= 50 && tally.huge >= 50);
    assert!(tally.near_min_tick >= 100 && tally.near_max_tick >= 100);
    assert!(tally.quotes_some >= 300 && tally.quotes_none >= 50);
    assert!(tally.window_full >= 1_000 && tally.window_edge >= 100);
}
