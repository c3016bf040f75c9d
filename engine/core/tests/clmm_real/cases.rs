//! Seeded cases for the differential run, in families that each aim at one thing the brief asks
//! to cover. The real pools decide what every case does; nothing here predicts a swap's result.
//!
//! Prices are chosen approximately (the lab's `approx_sqrt_price`) or, where a case needs a price
//! exactly on a tick (price limits hit exactly), from our `sqrt_ratio_at_tick`: that only chooses
//! inputs, and a wrong tick price would show up as fewer exact hits in the coverage counts, not
//! as a passing comparison.

use alloy_primitives::{I256, U160, U256};
use polyarb_core::clmm::tick_math::{MAX_TICK, MIN_TICK, sqrt_ratio_at_tick};
use polyarb_core::clmm::ticks::TickRules;
use polyarb_tools::{
    Case, CaseShape, MAX_SQRT_RATIO, MIN_SQRT_RATIO, PoolKind, Position, SplitMix64, Swap,
    V3_FEE_TIERS, approx_sqrt_price, random_case,
};

/// What a case is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The lab's own random generator (moderate sizes, both ends of the price range sometimes).
    Random,
    /// Amounts from 1 wei to near `u128::MAX` (and a few int256 extremes), liquidity up to near
    /// the per-tick maximum.
    Amounts,
    /// Start prices and positions at the ends of the tick range, swaps into the price bounds.
    Ends,
    /// Dozens of narrow positions around the price, swaps across all of them and back.
    Crossings,
    /// Price limits exactly on initialized ticks, word edges and one unit from the price.
    Limits,
    /// Swaps the pools refuse (zero amount, limits on the wrong side or on the bounds) and
    /// mints at and above the per-tick liquidity cap.
    Rejections,
}

/// Every family, in the order a run cycles through them.
pub const FAMILIES: [Family; 6] = [
    Family::Random,
    Family::Amounts,
    Family::Ends,
    Family::Crossings,
    Family::Limits,
    Family::Rejections,
];

/// The pool of case number `i`: the four Uniswap V3 tiers and Algebra in turn. Algebra always
/// gets a constant fee: the adaptive fee is out of scope here because our math takes the fee as
/// an input and does not implement `DataStorageOperator.getFee` (docs/clmm-math.md); in the lab a
/// case runs inside one block, so an adaptive pool would still trade at one fee for the whole case
/// and test nothing a constant fee does not, while the fee's change from block to block is a
/// property of the oracle, not of the swap math checked here.
pub fn kind_for(rng: &mut SplitMix64, i: usize) -> PoolKind {
    match V3_FEE_TIERS.get(i % (V3_FEE_TIERS.len() + 1)) {
        Some(&(fee, spacing)) => PoolKind::UniswapV3 { fee, spacing },
        None => PoolKind::Algebra {
            fee: Some(algebra_fee(rng)),
        },
    }
}

/// A constant Algebra fee over the whole `uint16` range, pips, with both ends often.
pub fn algebra_fee(rng: &mut SplitMix64) -> u16 {
    match rng.below(10) {
        0 => 0,
        1 => u16::MAX,
        2 => rng.below(200) as u16,
        3 => u16::MAX - rng.below(200) as u16,
        _ => rng.below(65_536) as u16,
    }
}

/// A case of `family` on a pool of `kind`.
pub fn case_for(rng: &mut SplitMix64, family: Family, kind: PoolKind) -> Case {
    match family {
        Family::Random => random_case(
            rng,
            kind,
            CaseShape {
                max_positions: 8,
                max_swaps: 10,
            },
        ),
        Family::Amounts => amounts_case(rng, kind),
        Family::Ends => ends_case(rng, kind),
        Family::Crossings => crossings_case(rng, kind),
        Family::Limits => limits_case(rng, kind),
        Family::Rejections => rejections_case(rng, kind),
    }
}

/// The pool's per-tick liquidity cap, as the lab's pools have it.
pub fn rules(kind: PoolKind) -> TickRules {
    match kind {
        PoolKind::UniswapV3 { spacing, .. } => {
            TickRules::uniswap_v3(spacing).unwrap_or_else(|e| panic!("tier spacing {spacing}: {e}"))
        }
        PoolKind::Algebra { .. } => TickRules::algebra(),
    }
}

fn align_down(tick: i32, spacing: i32) -> i32 {
    tick - tick.rem_euclid(spacing)
}

/// The lowest and highest ticks a position may use at `spacing`.
fn usable(spacing: i32) -> (i32, i32) {
    let lo = align_down(MIN_TICK, spacing);
    let lo = if lo < MIN_TICK { lo + spacing } else { lo };
    (lo, align_down(MAX_TICK, spacing))
}

/// Q64.96 price of `tick` as the lab's `U160`.
fn tick_price(tick: i32) -> U160 {
    let p = sqrt_ratio_at_tick(tick.clamp(MIN_TICK, MAX_TICK))
        .unwrap_or_else(|e| panic!("tick {tick}: {e}"));
    U160::from(p)
}

fn u160(x: U256) -> U160 {
    U160::from(x)
}

/// A `u128` with a uniformly random bit length in `1..=128` (so log-uniform over the range),
/// and the edges often.
fn amount_u128(rng: &mut SplitMix64) -> u128 {
    match rng.below(12) {
        0 => 1 + u128::from(rng.below(3)),
        1 => u128::MAX - u128::from(rng.below(3)),
        2 => (1u128 << 127) + u128::from(rng.below(3)) - 1,
        _ => {
            let bits = 1 + rng.below(128) as u32;
            let raw = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
            (raw >> (128 - bits)) | (1u128 << (bits - 1))
        }
    }
}

/// Liquidity log-uniform in `[lo, hi]`.
fn liquidity_between(rng: &mut SplitMix64, lo: u128, hi: u128) -> u128 {
    (rng.log_uniform(lo as f64, hi as f64) as u128).clamp(lo, hi)
}

/// Exact input (positive) or exact output (negative) of `x`, 55:45.
fn signed(rng: &mut SplitMix64, x: u128) -> I256 {
    let v = I256::try_from(x).unwrap_or(I256::MAX);
    if rng.below(20) < 11 { v } else { -v }
}

/// The widest limit in the swap's direction (what "no price limit" means for the pools).
fn far_limit(zero_for_one: bool) -> U160 {
    if zero_for_one {
        MIN_SQRT_RATIO + U160::from(1u8)
    } else {
        MAX_SQRT_RATIO - U160::from(1u8)
    }
}

/// A limit about `away` ticks from `centre` in the swap's direction. Far limits at spacing 1 make
/// the pools walk up to 3,466 bitmap words per swap (most of the lab's time), so most swaps get
/// one of these instead.
fn limit_away(zero_for_one: bool, centre: f64, away: f64) -> U160 {
    approx_sqrt_price(if zero_for_one {
        centre - away
    } else {
        centre + away
    })
}

/// A position of `[centre + a, centre + a + width)` in spacings, clamped to the usable range.
fn position(spacing: i32, centre: i32, a: i32, width: i32, liquidity: u128) -> Position {
    let (lo, hi) = usable(spacing);
    let base = align_down(centre, spacing);
    let tick_lower = (base + a * spacing).clamp(lo, hi - spacing);
    let tick_upper = (tick_lower + width.max(1) * spacing).clamp(tick_lower + spacing, hi);
    Position {
        tick_lower,
        tick_upper,
        liquidity,
    }
}

fn amounts_case(rng: &mut SplitMix64, kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let cap = rules(kind).max_liquidity_per_tick;
    let centre = rng.below(400_001) as i32 - 200_000;
    let n = 1 + rng.below(4) as usize;
    let positions = (0..n)
        .map(|_| {
            // At most four positions share a tick, so a quarter of the cap always mints.
            let liquidity = match rng.below(4) {
                0 => liquidity_between(rng, 1, 1 << 20),
                1 => cap / 4 - u128::from(rng.below(1_000)),
                _ => liquidity_between(rng, 1, cap / 4),
            };
            let a = -(rng.log_uniform(1.0, 3_000.0) as i32);
            let width = rng.log_uniform(1.0, 6_000.0) as i32;
            position(s, centre, a, width.max(-a + 1), liquidity)
        })
        .collect();
    let swaps = (0..1 + rng.below(8))
        .map(|_| {
            let zero_for_one = rng.coin();
            let amount_specified = match rng.below(40) {
                0 => I256::MAX,
                1 => I256::MIN,
                2 => I256::MIN + I256::ONE,
                _ => {
                    let a = amount_u128(rng);
                    signed(rng, a)
                }
            };
            let sqrt_price_limit = if rng.below(3) == 0 {
                far_limit(zero_for_one)
            } else {
                limit_away(
                    zero_for_one,
                    f64::from(centre),
                    rng.log_uniform(1.0, 100_000.0),
                )
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
        init_sqrt_price: approx_sqrt_price(f64::from(centre) + rng.next_f64()),
        positions,
        swaps,
    }
}

fn ends_case(rng: &mut SplitMix64, kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let (lo, hi) = usable(s);
    let low_end = rng.coin();
    let algebra = matches!(kind, PoolKind::Algebra { .. });
    // V3 may start exactly on MIN_SQRT_RATIO; Algebra's probe reaches the start by a swap whose
    // limit must lie strictly inside the bounds.
    let init_sqrt_price = match rng.below(6) {
        0 if low_end && !algebra => MIN_SQRT_RATIO,
        0 | 1 if low_end => MIN_SQRT_RATIO + U160::from(1 + rng.below(1_000)),
        0 | 1 => MAX_SQRT_RATIO - U160::from(1 + rng.below(1_000)),
        // At spacing 1 the top usable tick's price is MAX_SQRT_RATIO itself, which V3's
        // `initialize` refuses with 'R' (our `tick_at_sqrt_ratio` must refuse it too).
        2 if low_end => tick_price(lo + s * rng.below(3) as i32),
        2 => tick_price(hi - s * rng.below(3) as i32),
        _ if low_end => approx_sqrt_price(f64::from(MIN_TICK) + rng.log_uniform(1.0, 3_000.0)),
        _ => approx_sqrt_price(f64::from(MAX_TICK) - rng.log_uniform(1.0, 3_000.0)),
    };
    let edge = if low_end { lo } else { hi };
    let n = 1 + rng.below(5) as usize;
    let positions = (0..n)
        .map(|_| {
            let width = 1 + rng.log_uniform(1.0, 2_000.0 / f64::from(s).sqrt()) as i32;
            let liquidity = liquidity_between(rng, 1, 1 << 100);
            match rng.below(3) {
                // Touching the end of the range.
                0 if low_end => position(s, lo, 0, width, liquidity),
                0 => position(s, hi, -width, width, liquidity),
                // Near it.
                _ => {
                    let off = rng.below(60) as i32;
                    let a = if low_end { off } else { -off - width };
                    position(s, edge, a, width, liquidity)
                }
            }
        })
        .collect();
    let end_tick = f64::from(if low_end { MIN_TICK } else { MAX_TICK });
    let swaps = (0..2 + rng.below(7))
        .map(|k| {
            // Towards the end (as far as the bound), then back a little way.
            let towards = k % 2 == 0;
            let zero_for_one = towards == low_end;
            let amount = if rng.below(4) == 0 {
                amount_u128(rng)
            } else {
                rng.log_uniform(1.0, 1e36) as u128
            };
            let sqrt_price_limit = if towards {
                far_limit(zero_for_one)
            } else {
                let from_end = rng.log_uniform(1.0, 30_000.0);
                approx_sqrt_price(if low_end {
                    end_tick + from_end
                } else {
                    end_tick - from_end
                })
            };
            Swap {
                zero_for_one,
                amount_specified: signed(rng, amount.max(1)),
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

fn crossings_case(rng: &mut SplitMix64, kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let centre = rng.below(200_001) as i32 - 100_000;
    // 20–60 positions, each a few spacings wide, within ±70 spacings of the price: up to ~140
    // distinct initialized ticks, mostly in one or two bitmap words.
    let n = 20 + rng.below(41) as usize;
    let positions = (0..n)
        .map(|_| {
            let a = rng.below(141) as i32 - 70;
            let width = 1 + rng.below(8) as i32;
            let liquidity = liquidity_between(rng, 1 << 40, 1 << 80);
            position(s, centre, a, width, liquidity)
        })
        .collect();
    let swaps = (0..3 + rng.below(6))
        .map(|k| {
            let zero_for_one = k % 2 == 0;
            let sqrt_price_limit = match rng.below(8) {
                0 => far_limit(zero_for_one),
                _ => {
                    let away = f64::from(s) * (75.0 + rng.next_f64() * 40.0);
                    limit_away(zero_for_one, f64::from(centre), away)
                }
            };
            let amount = rng.log_uniform(1e20, 1e34) as u128;
            Swap {
                zero_for_one,
                amount_specified: signed(rng, amount),
                sqrt_price_limit,
            }
        })
        .collect();
    Case {
        kind,
        init_sqrt_price: approx_sqrt_price(f64::from(centre) + rng.next_f64()),
        positions,
        swaps,
    }
}

fn limits_case(rng: &mut SplitMix64, kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let centre = rng.below(200_001) as i32 - 100_000;
    let n = 2 + rng.below(8) as usize;
    let positions: Vec<Position> = (0..n)
        .map(|_| {
            let a = rng.below(81) as i32 - 40;
            let width = 1 + rng.below(30) as i32;
            position(
                s,
                centre,
                a,
                width,
                liquidity_between(rng, 1 << 30, 1 << 90),
            )
        })
        .collect();
    let bounds: Vec<i32> = positions
        .iter()
        .flat_map(|p| [p.tick_lower, p.tick_upper])
        .collect();
    // Sometimes exactly on an initialized tick's price: the first swap left of it crosses it
    // at once (V3 starts at tick t there; Algebra, moved there from above, at t − 1).
    let init_sqrt_price = if rng.below(4) == 0 {
        tick_price(bounds[rng.below(bounds.len() as u64) as usize])
    } else {
        approx_sqrt_price(f64::from(centre) + rng.next_f64())
    };
    let word = 256 * s;
    let swaps = (0..2 + rng.below(8))
        .map(|k| {
            let zero_for_one = rng.coin();
            let sqrt_price_limit = match rng.below(6) {
                // An initialized tick's exact price.
                0..=2 => tick_price(bounds[rng.below(bounds.len() as u64) as usize]),
                // A bitmap word's edge (compressed tick a multiple of 256), or one past it.
                3 => {
                    let w = align_down(centre, word) + word * (rng.below(3) as i32 - 1);
                    tick_price(w - i32::from(zero_for_one) * s * rng.below(2) as i32)
                }
                // One unit from the start price: the first swap may move by exactly one unit.
                4 if k == 0 && zero_for_one => init_sqrt_price - U160::from(1u8),
                4 if k == 0 => init_sqrt_price + U160::from(1u8),
                _ => {
                    let t = centre + s * (rng.below(81) as i32 - 40);
                    u160(U256::from(tick_price(t)) + U256::from(rng.below(3)))
                }
            };
            // Big enough to reach the limit most of the time, sometimes exact output.
            let amount = rng.log_uniform(1e25, 1e37) as u128;
            Swap {
                zero_for_one,
                amount_specified: signed(rng, amount),
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

fn rejections_case(rng: &mut SplitMix64, kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let cap = rules(kind).max_liquidity_per_tick;
    let centre = rng.below(20_001) as i32 - 10_000;
    let init_sqrt_price = approx_sqrt_price(f64::from(centre) + rng.next_f64());
    let mut positions = vec![position(
        s,
        centre,
        -20,
        40,
        liquidity_between(rng, 1 << 50, 1 << 80),
    )];
    // Sometimes a position exactly at the per-tick cap (accepted), sometimes one above it
    // (the whole case is refused with 'LO'; our mint must refuse it too).
    match rng.below(8) {
        0 => positions.push(position(s, centre, 30, 5, cap)),
        1 => positions.push(position(s, centre, 30, 5, cap + 1)),
        2 => {
            positions.push(position(s, centre, 30, 5, cap / 2));
            positions.push(position(s, centre, 35, 5, cap - cap / 2 + 1));
        }
        _ => {}
    }
    let swaps = (0..4 + rng.below(6))
        .map(|_| {
            let zero_for_one = rng.coin();
            let amount = rng.log_uniform(1.0, 1e30) as u128;
            let (amount_specified, sqrt_price_limit) = match rng.below(9) {
                0 => (I256::ZERO, far_limit(zero_for_one)),
                // Zero amount and a bad limit: which check comes first.
                1 => (I256::ZERO, far_limit(!zero_for_one)),
                // The bounds themselves are refused, in either direction.
                2 => (signed(rng, amount), MIN_SQRT_RATIO),
                3 => (signed(rng, amount), MAX_SQRT_RATIO),
                4 => (signed(rng, amount), U160::ZERO),
                // On the wrong side (usually: the price may have moved).
                5 => (signed(rng, amount), far_limit(!zero_for_one)),
                6 => (signed(rng, amount.max(1)), far_limit(zero_for_one)),
                _ => {
                    let away = rng.log_uniform(1.0, 50_000.0);
                    let limit = limit_away(zero_for_one, f64::from(centre), away);
                    (signed(rng, amount.max(1)), limit)
                }
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

/// Seeded cases until at least `target` swaps: families and pools in turn (`(family, case)`).
pub fn generate(seed: u64, target: usize) -> Vec<(Family, Case)> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    let mut swaps = 0;
    let mut i = 0;
    while swaps < target {
        let family = FAMILIES[(i / (V3_FEE_TIERS.len() + 1)) % FAMILIES.len()];
        let kind = kind_for(&mut rng, i);
        let case = case_for(&mut rng, family, kind);
        swaps += case.swaps.len();
        out.push((family, case));
        i += 1;
    }
    out
}

#[test]
fn cases_replay_from_their_seed() {
    let a = generate(7, 2_000);
    assert_eq!(a, generate(7, 2_000));
    assert_ne!(a, generate(8, 2_000));
    assert!(a.iter().map(|(_, c)| c.swaps.len()).sum::<usize>() >= 2_000);
    for family in FAMILIES {
        assert!(a.iter().any(|(f, _)| *f == family), "{family:?}");
    }
    // Constant fees only (see `kind_for`), every V3 tier.
    assert!(
        a.iter()
            .all(|(_, c)| c.kind != PoolKind::Algebra { fee: None })
    );
    for (fee, spacing) in V3_FEE_TIERS {
        assert!(
            a.iter()
                .any(|(_, c)| c.kind == PoolKind::UniswapV3 { fee, spacing })
        );
    }
}
