//! The V2 formulas the sizing evaluates ~20 times per sized cycle, without wide division
//! (`polyarb_core::{get_amount_out, get_amount_in}`: an `f64` estimate and an exact 256-bit
//! check) against the same formulas as they were before, with a `U256` division
//! (`u256_baseline`, copied here verbatim), on the same inputs in the same run.
//!
//! `cargo bench -p polyarb-bench --bench sizing`
//!
//! - `sizing/amount_out/*`: one `getAmountOut` per input over the shipped sample's V2 pairs,
//!   both directions, inputs log-uniform from 10⁻⁷ to 30 % of the input reserve, and a
//!   synthetic spread of 6- and 18-decimal reserves (10⁹ to 10²⁷ raw units). Throughput is
//!   calls.
//! - `sizing/amount_in/*`: the exact inverse (the sizing's shave) for the outputs of those calls.
//! - `sizing/amount_out_small/*`: inputs whose numerator fits `u128` (the old code's `u128`
//!   path): what the new code costs where the old one did not divide wide either.
//!
//! Before timing, every input is checked to give the same result both ways.

use std::{hint::black_box, time::Duration};

use alloy_primitives::{U256, U512};
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use polyarb_bench::{Sample, rng::Rng};
use polyarb_core::{PIPS, PoolKind, get_amount_in, get_amount_out};

fn quick(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

/// The baseline: `polyarb_core::get_amount_out` before this change (u128 when the numerator
/// fits, else `U256`, `U512` past chain values).
fn amount_out_u256(amount_in: u128, reserve_in: u128, reserve_out: u128, fee_pips: u32) -> u128 {
    let Some(keep) = PIPS.checked_sub(fee_pips) else {
        return 0;
    };
    if amount_in == 0 || reserve_in == 0 || reserve_out == 0 || keep == 0 {
        return 0;
    }
    let keep = u128::from(keep);
    let denom = u128::from(PIPS);
    if let Some(a_keep) = amount_in.checked_mul(keep)
        && let Some(num) = a_keep.checked_mul(reserve_out)
        && let Some(den) = reserve_in
            .checked_mul(denom)
            .and_then(|d| d.checked_add(a_keep))
    {
        return num / den;
    }
    let a_keep = U256::from(amount_in) * U256::from(keep);
    let den = U256::from(reserve_in) * U256::from(denom) + a_keep;
    let out = match a_keep.checked_mul(U256::from(reserve_out)) {
        Some(num) => num / den,
        None => {
            let num = U512::from(a_keep) * U512::from(reserve_out);
            return (num / U512::from(den)).saturating_to::<u128>();
        }
    };
    out.saturating_to::<u128>()
}

/// The baseline: `polyarb_core::get_amount_in` before this change.
fn amount_in_u256(
    amount_out: u128,
    reserve_in: u128,
    reserve_out: u128,
    fee_pips: u32,
) -> Option<u128> {
    let keep = PIPS.checked_sub(fee_pips).filter(|&k| k > 0)?;
    if amount_out == 0 {
        return Some(0);
    }
    if reserve_in == 0 || amount_out >= reserve_out {
        return None;
    }
    let den = U256::from(reserve_out - amount_out) * U256::from(keep);
    let q = match (U256::from(amount_out) * U256::from(PIPS)).checked_mul(U256::from(reserve_in)) {
        Some(num) => num.div_ceil(den),
        None => {
            let num = U512::from(amount_out) * U512::from(reserve_in) * U512::from(PIPS);
            return u128::try_from(num.div_ceil(U512::from(den))).ok();
        }
    };
    u128::try_from(q).ok()
}

/// One call's arguments: input (or output, for `amount_in`), reserve in, reserve out, fee pips.
type Args = (u128, u128, u128, u32);

/// The sample's V2 pairs both ways, plus synthetic 6/18-decimal pools, with inputs from 10⁻⁷ to
/// 30 % of the input reserve (log-uniform): the range the sizing's pattern search visits.
fn realistic_inputs(s: &Sample, n: usize) -> Vec<Args> {
    let engine = s.engine().expect("engine builds");
    let pools = engine.pools();
    let mut pairs: Vec<(u128, u128, u32)> = Vec::new();
    for id in 0..pools.len() as u32 {
        if pools.kind(id) != Some(PoolKind::UniswapV2) {
            continue;
        }
        let (Some((r0, r1)), Some(fee)) = (pools.reserves(id), pools.fee_pips(id)) else {
            continue;
        };
        pairs.push((r0, r1, fee));
        pairs.push((r1, r0, fee));
    }
    let mut rng = Rng(0x5eed_d1f7);
    let fees = [3_000, 2_500, 2_000, 1_000];
    // As many synthetic pools as sample pairs (at least 64): reserves of 10³ to 10⁹ whole
    // tokens at 6 or 18 decimals.
    for _ in 0..pairs.len().max(64) {
        let reserve = |rng: &mut Rng| {
            let dec = if rng.below(2) == 0 { 1e6 } else { 1e18 };
            (rng.log_uniform(1e3, 1e9) * dec) as u128
        };
        let (r_in, r_out) = (reserve(&mut rng), reserve(&mut rng));
        pairs.push((r_in, r_out, fees[rng.below(4) as usize]));
    }
    (0..n)
        .map(|_| {
            let (r_in, r_out, fee) = pairs[rng.below(pairs.len() as u64) as usize];
            let a = ((r_in as f64 * rng.log_uniform(1e-7, 0.3)) as u128).max(1);
            (a, r_in, r_out, fee)
        })
        .collect()
}

/// Inputs whose numerator `a·(10⁶ − f)·R_out` fits u128: reserves up to 10¹⁴ raw units,
/// inputs up to a tenth of the reserve.
fn small_inputs(n: usize) -> Vec<Args> {
    let mut rng = Rng(0x5a11);
    (0..n)
        .map(|_| {
            let r_in = rng.log_uniform(1e3, 1e14) as u128;
            let r_out = rng.log_uniform(1e3, 1e14) as u128;
            let a = ((r_in as f64 * rng.log_uniform(1e-7, 0.1)) as u128).max(1);
            (a, r_in, r_out, 3_000)
        })
        .collect()
}

fn group(
    c: &mut Criterion,
    name: &str,
    inputs: &[Args],
    fast: fn(u128, u128, u128, u32) -> u128,
    baseline: fn(u128, u128, u128, u32) -> u128,
) {
    for &(a, r_in, r_out, f) in inputs {
        assert_eq!(
            fast(a, r_in, r_out, f),
            baseline(a, r_in, r_out, f),
            "{name}({a}, {r_in}, {r_out}, {f})"
        );
    }
    let mut g = c.benchmark_group(name);
    quick(&mut g);
    g.throughput(Throughput::Elements(inputs.len() as u64));
    for (label, f) in [("fast", fast), ("u256_baseline", baseline)] {
        g.bench_function(label, |b| {
            b.iter(|| {
                for &(a, r_in, r_out, fee) in inputs {
                    black_box(f(black_box(a), r_in, r_out, fee));
                }
            })
        });
    }
    g.finish();
}

fn main() {
    let s = Sample::load().expect("the shipped sample loads");
    let inputs = realistic_inputs(&s, 4_096);
    let big = inputs
        .iter()
        .filter(|&&(a, _, r_out, f)| {
            a.checked_mul(u128::from(PIPS - f))
                .and_then(|n| n.checked_mul(r_out))
                .is_none()
        })
        .count();
    // Context line, as the pipeline bench prints: how many calls need more than u128.
    println!(
        "sizing: {} realistic calls, {big} with a numerator past u128",
        inputs.len()
    );
    let mut c = Criterion::default().configure_from_args();
    group(
        &mut c,
        "sizing/amount_out",
        &inputs,
        get_amount_out,
        amount_out_u256,
    );
    // The shave's inputs: outputs the forward formula gave, against the same reserves.
    let outs: Vec<Args> = inputs
        .iter()
        .map(|&(a, r_in, r_out, f)| (get_amount_out(a, r_in, r_out, f).max(1), r_in, r_out, f))
        .collect();
    // `None` (unreachable output) as u128::MAX: the bench compares and times, it does not use it.
    fn fast_in(o: u128, r_in: u128, r_out: u128, f: u32) -> u128 {
        get_amount_in(o, r_in, r_out, f).unwrap_or(u128::MAX)
    }
    fn base_in(o: u128, r_in: u128, r_out: u128, f: u32) -> u128 {
        amount_in_u256(o, r_in, r_out, f).unwrap_or(u128::MAX)
    }
    group(&mut c, "sizing/amount_in", &outs, fast_in, base_in);
    group(
        &mut c,
        "sizing/amount_out_small",
        &small_inputs(4_096),
        get_amount_out,
        amount_out_u256,
    );
    c.final_summary();
}
