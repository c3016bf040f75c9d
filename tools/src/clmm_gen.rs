//! Seeded random [`Case`]s for the CLMM lab: start prices over the whole tick range (mostly
//! moderate, sometimes at either end), zero to several positions around the price, and swaps of
//! both directions and both kinds with amounts over many orders of magnitude and price limits
//! that are far, near, or deliberately on the wrong side.
//!
//! Prices here are approximations (f64): a case only needs *some* valid price, the lab reads the
//! exact state back from the real pool. Nothing in this module computes swap results.

use alloy_primitives::{I256, U160, uint};

use crate::{
    clmm::{Case, PoolKind, Position, Swap, V3_FEE_TIERS},
    clmm_state::{MAX_TICK, MIN_TICK},
    rng::SplitMix64,
};

/// `TickMath.MIN_SQRT_RATIO`, Q64.96 (both protocols).
pub const MIN_SQRT_RATIO: U160 = uint!(4295128739_U160);
/// `TickMath.MAX_SQRT_RATIO`, Q64.96 (both protocols).
pub const MAX_SQRT_RATIO: U160 = uint!(1461446703485210103287273052203988822378723970342_U160);

/// Shape of generated cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseShape {
    /// At most this many positions (0 to this, uniform).
    pub max_positions: usize,
    /// At least one swap, at most this many.
    pub max_swaps: usize,
}

impl Default for CaseShape {
    fn default() -> Self {
        Self {
            max_positions: 5,
            max_swaps: 10,
        }
    }
}

/// A random pool kind: each V3 tier or Algebra, equally likely; Algebra with a constant fee in
/// `[0, 30000]` pips three times in four, else its adaptive default.
pub fn random_kind(rng: &mut SplitMix64) -> PoolKind {
    let i = rng.below(V3_FEE_TIERS.len() as u64 + 1) as usize;
    match V3_FEE_TIERS.get(i) {
        Some(&(fee, spacing)) => PoolKind::UniswapV3 { fee, spacing },
        None => PoolKind::Algebra {
            fee: (rng.below(4) != 0).then(|| rng.below(30_001) as u16),
        },
    }
}

/// A random case on a pool of `kind`.
pub fn random_case(rng: &mut SplitMix64, kind: PoolKind, shape: CaseShape) -> Case {
    let spacing = kind.tick_spacing();
    let lo_tick = align_up(MIN_TICK, spacing);
    let hi_tick = align_down(MAX_TICK, spacing);
    let center = match rng.below(10) {
        0 => MIN_TICK + rng.below(5_000) as i32,
        1 => MAX_TICK - rng.below(5_000) as i32,
        _ => rng.below(200_001) as i32 - 100_000,
    };
    let init_sqrt_price = approx_sqrt_price(f64::from(center) + rng.next_f64());

    let n_positions = rng.below(shape.max_positions as u64 + 1) as usize;
    let mut positions = Vec::with_capacity(n_positions);
    for _ in 0..n_positions {
        let width = rng.log_uniform(f64::from(spacing), 60_000.0);
        // Mostly around the price, sometimes wholly on one side of it.
        let lower = f64::from(center) - width * (rng.next_f64() * 1.4 - 0.2);
        let tick_lower = align_down(lower as i32, spacing).clamp(lo_tick, hi_tick - spacing);
        let tick_upper = align_down((f64::from(tick_lower) + width) as i32, spacing)
            .clamp(tick_lower + spacing, hi_tick);
        positions.push(Position {
            tick_lower,
            tick_upper,
            liquidity: rng.log_uniform(1e3, 1e25) as u128,
        });
    }

    let n_swaps = 1 + rng.below(shape.max_swaps.max(1) as u64) as usize;
    let swaps = (0..n_swaps)
        .map(|_| {
            let zero_for_one = rng.coin();
            let magnitude = if rng.below(100) == 0 {
                0 // the pools refuse a zero amount
            } else {
                rng.log_uniform(1.0, 1e27) as u128
            };
            let magnitude = I256::try_from(magnitude).unwrap_or(I256::MAX);
            let amount_specified = if rng.below(10) < 6 {
                magnitude
            } else {
                -magnitude
            };
            // Ticks away from the start price towards where the swap moves it.
            let away = rng.log_uniform(1.0, 200_000.0);
            let toward = if zero_for_one { -away } else { away };
            let sqrt_price_limit = match rng.below(10) {
                0..=3 if zero_for_one => MIN_SQRT_RATIO + U160::from(1u8),
                0..=3 => MAX_SQRT_RATIO - U160::from(1u8),
                4..=8 => approx_sqrt_price(f64::from(center) + toward),
                _ => approx_sqrt_price(f64::from(center) - toward),
            };
            Swap {
                zero_for_one,
                amount_specified,
                sqrt_price_limit,
            }
        })
        .collect();

    Case {
        kind,
        init_sqrt_price,
        positions,
        swaps,
    }
}

/// About `1.0001^(tick/2) · 2^96`, clamped into the open interval the pools accept.
pub fn approx_sqrt_price(tick: f64) -> U160 {
    let x = (tick.clamp(f64::from(MIN_TICK), f64::from(MAX_TICK)) * 1.0001f64.ln() / 2.0).exp()
        * 2f64.powi(96);
    let lo = MIN_SQRT_RATIO + U160::from(1u8);
    let hi = MAX_SQRT_RATIO - U160::from(1u8);
    U160::try_from(x).unwrap_or(hi).clamp(lo, hi)
}

fn align_down(tick: i32, spacing: i32) -> i32 {
    tick - tick.rem_euclid(spacing)
}

fn align_up(tick: i32, spacing: i32) -> i32 {
    let down = align_down(tick, spacing);
    if down == tick { tick } else { down + spacing }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_well_formed() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..2_000 {
            let kind = random_kind(&mut rng);
            let s = kind.tick_spacing();
            let case = random_case(&mut rng, kind, CaseShape::default());
            assert!(case.init_sqrt_price > MIN_SQRT_RATIO && case.init_sqrt_price < MAX_SQRT_RATIO);
            assert!(!case.swaps.is_empty() && case.swaps.len() <= 10);
            for p in &case.positions {
                assert!(p.tick_lower < p.tick_upper, "{p:?}");
                assert!(
                    p.tick_lower >= MIN_TICK && p.tick_upper <= MAX_TICK,
                    "{p:?}"
                );
                assert_eq!(p.tick_lower.rem_euclid(s), 0);
                assert_eq!(p.tick_upper.rem_euclid(s), 0);
                assert!(p.liquidity >= 1_000);
            }
        }
    }

    #[test]
    fn approximate_prices_are_monotone_and_bounded() {
        assert_eq!(approx_sqrt_price(0.0), U160::from(1u128 << 96));
        // f64 rounding leaves the ends a little inside the bounds, never outside.
        let ends = [approx_sqrt_price(-1e9), approx_sqrt_price(1e9)];
        for p in ends {
            assert!(p > MIN_SQRT_RATIO && p < MAX_SQRT_RATIO, "{p}");
        }
        assert!(ends[0] < U160::from(5_000_000_000u64), "{}", ends[0]);
        assert!(ends[1] > MAX_SQRT_RATIO / U160::from(2u8), "{}", ends[1]);
        let mut last = U160::ZERO;
        for t in (-887_000..887_000).step_by(997) {
            let p = approx_sqrt_price(f64::from(t));
            assert!(p > last);
            last = p;
        }
    }
}
