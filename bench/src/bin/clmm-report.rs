//! ns per op, p50 and p99, of the `clmm` bench's cases (criterion reports means per sample):
//! one V3 swap crossing 0, 1 and 10 ticks, ours beside `uniswap_v3_math` with the ratio, and
//! one search step on the generated 10,000-pool table. Prints tables; asserts nothing beyond
//! the fixtures' own checks (both swaps agree and cross that many ticks; every frame opens a
//! gap).
//!
//! `cargo bench -p polyarb-bench --bench clmm-report [-- swaps per row, default 200000]`
//!
//! A bench target rather than a binary: binaries do not see dev-dependencies, and the baseline
//! crate is one. Every sample is one op between two clock reads, so it includes one clock
//! read's cost (printed as its own row). Rows of one table run interleaved, in rounds, so a
//! change in the machine during the run lands on all of them alike.

use std::{hint::black_box, time::Instant};

#[path = "../clmm_cases.rs"]
mod cases;

use cases::{CROSSINGS, LadderPool, Table};

/// Rounds each table's rows are interleaved in.
const ROUNDS: usize = 10;
/// Roughly how long each search row is timed for, ns.
const FRAME_BUDGET_NS: u128 = 6_000_000_000;

fn main() {
    // `cargo bench` passes `--bench`; the first bare number is the swap count.
    let swaps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000)
        .max(ROUNDS);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at start (1, 5, 15 min): {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    swap_report(swaps);
    println!();
    search_report(swaps / 10);
}

/// Times `op` once per sample, appending ns to `out`.
#[inline(never)]
fn time_each<R>(n: usize, out: &mut Vec<u64>, mut op: impl FnMut() -> R) {
    for _ in 0..n {
        let t = Instant::now();
        black_box(op());
        out.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
}

/// min, p50, p99, p99.9, max of `samples` (sorted in place), ns.
fn quantiles(samples: &mut [u64]) -> [u64; 5] {
    samples.sort_unstable();
    let q = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(i).copied().unwrap_or(0)
    };
    [q(0.0), q(0.5), q(0.99), q(0.999), q(1.0)]
}

fn header(what: &str, unit: &str) {
    println!(
        "{what:<44} {:>9} {:>9} {:>9} {:>9} {:>10}",
        format!("min {unit}"),
        "p50",
        "p99",
        "p99.9",
        "max"
    );
}

/// One row of quantiles, in ns divided by `per_unit` (1: ns, 1,000: µs with one decimal).
fn row(name: &str, q: [u64; 5], per_unit: u64) {
    let v = |x: u64| {
        if per_unit == 1 {
            x.to_string()
        } else {
            format!("{:.1}", x as f64 / per_unit as f64)
        }
    };
    println!(
        "  {name:<42} {:>9} {:>9} {:>9} {:>9} {:>10}",
        v(q[0]),
        v(q[1]),
        v(q[2]),
        v(q[3]),
        v(q[4])
    );
}

fn clock_row(n: usize) {
    let mut s = Vec::with_capacity(n);
    time_each(n, &mut s, || ());
    row("clock read alone (in every sample)", quantiles(&mut s), 1);
}

fn swap_report(n: usize) {
    let pool = LadderPool::new();
    let slice = pool.columns.slice();
    let per_round = n / ROUNDS;
    println!(
        "One Uniswap V3 swap: fee {} pips, spacing 60, exact input of token0, widest price limit.",
        cases::LADDER_FEE_PIPS
    );
    println!(
        "{n} swaps per row in {ROUNDS} interleaved rounds, after {per_round} per row discarded; \
         ns per swap. Before timing, both sides are checked to give the same amounts, price, \
         tick and liquidity."
    );
    header("", "ns");
    for crossings in CROSSINGS {
        let case = pool.case(crossings);
        let amount = case.amount_in;
        let mut slice_ns = Vec::with_capacity(n);
        let mut bitmap_ns = Vec::with_capacity(n);
        let mut base_ns = Vec::with_capacity(n);
        for round in 0..=ROUNDS {
            // Round 0 warms up and is thrown away.
            if round == 1 {
                slice_ns.clear();
                bitmap_ns.clear();
                base_ns.clear();
            }
            time_each(per_round, &mut slice_ns, || {
                pool.ours(black_box(&slice), black_box(amount))
            });
            time_each(per_round, &mut bitmap_ns, || {
                pool.ours(black_box(&pool.bitmap), black_box(amount))
            });
            time_each(per_round, &mut base_ns, || pool.baseline(black_box(amount)));
        }
        println!(
            "crossing {} initialized tick{} ({} loop step{}, {} wei of token0 in)",
            case.crossings,
            if case.crossings == 1 { "" } else { "s" },
            case.steps,
            if case.steps == 1 { "" } else { "s" },
            amount
        );
        let ours = quantiles(&mut slice_ns);
        let on_bitmap = quantiles(&mut bitmap_ns);
        let base = quantiles(&mut base_ns);
        row("polyarb swap over TickSlice (engine)", ours, 1);
        row("polyarb swap over TickBitmap (reference)", on_bitmap, 1);
        row("uniswap_v3_math loop over HashMap bitmap", base, 1);
        let ratio = |a: u64, b: u64| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", a as f64 / b as f64)
            }
        };
        println!(
            "  {:<42} {:>9} {:>9} {:>9}",
            "ratio polyarb (TickSlice) / uniswap_v3_math",
            "",
            ratio(ours[1], base[1]),
            ratio(ours[2], base[2]),
        );
    }
    clock_row(n);
}

fn search_report(max_frames: usize) {
    let table: Table = cases::table();
    let mut engine = table.engine();
    let r = engine.build_report();
    println!(
        "One search step (one log in, best routes out: Engine::on_frame) on a generated table of \
         {} pools (V2 {}, Uniswap V3 {}, Algebra {}; {} initialized ticks), {} tokens, {} cycles \
         stored ({} more not stored: the engine's cycle cap).",
        engine.pool_count(),
        table.kinds[0],
        table.kinds[1],
        table.kinds[2],
        table.cl_ticks,
        engine.token_count(),
        r.cycles,
        r.cycles_dropped
    );
    let mut frames: Vec<_> = table.cases.iter().map(|c| c.frames.clone()).collect();
    // Frames per row: about FRAME_BUDGET_NS of frames, at least 200, at most `max_frames`.
    let counts: Vec<usize> = frames
        .iter_mut()
        .map(|f| {
            let t = Instant::now();
            for _ in 0..10 {
                black_box(engine.on_frame(f.next_frame()));
            }
            black_box(engine.on_frame(f.restore()));
            let mean = (t.elapsed().as_nanos() / 10).max(1);
            let n = usize::try_from(FRAME_BUDGET_NS / mean).unwrap_or(usize::MAX);
            // An even count per round: each round starts with a move down (after a restore).
            n.clamp(200, max_frames.max(200)) / (2 * ROUNDS) * (2 * ROUNDS)
        })
        .collect();
    println!(
        "Frames per row: {} in {ROUNDS} interleaved rounds (about {} s each), after a tenth as \
         many discarded; frames alternate between moving the pool's price 1 % down and 1 % up \
         from its snapshot price (one row each); µs per frame. No established crate does this \
         step.",
        counts
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        FRAME_BUDGET_NS / 1_000_000_000,
    );
    // Per case and direction (price down, up): ns per frame.
    let mut samples: Vec<[Vec<u64>; 2]> = counts
        .iter()
        .map(|&n| [Vec::with_capacity(n / 2 + 1), Vec::with_capacity(n / 2 + 1)])
        .collect();
    // Per case: routes, cycles screened, candidates sized exactly (timed rounds only).
    let mut work = vec![[0u64; 3]; table.cases.len()];
    for round in 0..=ROUNDS {
        if round == 1 {
            samples.iter_mut().flatten().for_each(Vec::clear);
            work.iter_mut().for_each(|w| *w = [0; 3]);
        }
        for (i, f) in frames.iter_mut().enumerate() {
            let before = *engine.stats();
            let mut found = 0u64;
            for _ in 0..counts[i] / ROUNDS {
                let dir = f.next_index();
                let t = Instant::now();
                let k = black_box(engine.on_frame(f.next_frame()).len());
                let ns = t.elapsed().as_nanos();
                samples[i][dir].push(u64::try_from(ns).unwrap_or(u64::MAX));
                found += k as u64;
            }
            let after = *engine.stats();
            // Back to the snapshot state, so that the next case finds the table unchanged.
            black_box(engine.on_frame(f.restore()));
            assert!(found > 0, "{}: no route", table.cases[i].name);
            work[i][0] += found;
            work[i][1] += after.screened - before.screened;
            work[i][2] += after.sized - before.sized;
        }
    }
    header("", "µs");
    for (i, case) in table.cases.iter().enumerate() {
        let timed = counts[i] as f64;
        println!(
            "{}: {}; per frame: {:.1} routes, {:.0} cycles screened (all passes), {:.1} sized",
            case.name,
            case.what,
            work[i][0] as f64 / timed,
            work[i][1] as f64 / timed,
            work[i][2] as f64 / timed,
        );
        let [down, up] = &mut samples[i];
        row("Engine::on_frame, price 1 % down", quantiles(down), 1_000);
        row("Engine::on_frame, price 1 % up", quantiles(up), 1_000);
    }
}
