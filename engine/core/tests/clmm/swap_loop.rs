//! Whole swaps against a reference loop written here, independently of the crate: it walks the
//! `uniswap_v3_math` oracle's `HashMap` bitmap with the oracle's step, tick math and
//! `addDelta`, following `UniswapV3Pool.swap` (and, for Algebra, `_calculateSwapAndLock`'s early
//! break). Pools are random positions minted into both the reference store and the crate's
//! `TickBitmap`; swaps are chained so states left by a previous swap (tick = crossed − 1) are fed
//! back. The windowed `TickSlice` must give the same result, or stop at its edge with the exact
//! prefix of the reference loop.

use std::collections::HashMap;

use alloy_primitives::{I256, U256};
use polyarb_core::clmm::swap::{PoolState, SwapKind, SwapResult, quote_exact_in, swap};
use polyarb_core::clmm::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use polyarb_core::clmm::ticks::{TickBitmap, TickRules, TickSlice};
use proptest::prelude::*;
use uniswap_v3_math as oracle;

use crate::cases;

/// The reference tick store: the oracle's bitmap plus (gross, net) per tick.
#[derive(Clone, Debug, Default)]
struct RefTicks {
    spacing: i32,
    bitmap: HashMap<i16, U256>,
    info: HashMap<i32, (u128, i128)>,
}

impl RefTicks {
    fn touch(&mut self, tick: i32, delta: i128, upper: bool) {
        let (gross, net) = self.info.get(&tick).copied().unwrap_or((0, 0));
        let g = gross
            .checked_add_signed(delta)
            .expect("test positions stay valid");
        let n = if upper { net - delta } else { net + delta };
        if (gross == 0) != (g == 0) {
            oracle::tick_bitmap::flip_tick(&mut self.bitmap, tick, self.spacing).unwrap();
        }
        if g == 0 {
            self.info.remove(&tick);
        } else {
            self.info.insert(tick, (g, n));
        }
    }
}

/// State after one step of the reference loop, in the pool's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Snap {
    amount0: I256,
    amount1: I256,
    price: U256,
    tick: i32,
    liquidity: u128,
    crossed: u32,
}

#[allow(
    clippy::too_many_arguments,
    reason = "mirrors the pool's swap inputs one to one"
)]
fn reference_swap(
    algebra: bool,
    fee: u32,
    ticks: &RefTicks,
    start: (U256, i32, u128),
    zero_for_one: bool,
    amount: I256,
    limit: U256,
) -> Option<Vec<Snap>> {
    if amount.is_zero() {
        return None;
    }
    let (mut price, mut tick, mut liquidity) = start;
    let ok = if zero_for_one {
        limit < price && limit > MIN_SQRT_RATIO
    } else {
        limit > price && limit < MAX_SQRT_RATIO
    };
    if !ok {
        return None;
    }
    let exact_in = amount > I256::ZERO;
    let mut remaining = amount;
    let mut calculated = I256::ZERO;
    let mut crossed = 0u32;
    let mut snaps = Vec::new();
    let snap = |remaining: I256, calculated: I256, price, tick, liquidity, crossed| {
        let consumed = amount - remaining;
        let (amount0, amount1) = if zero_for_one == exact_in {
            (consumed, calculated)
        } else {
            (calculated, consumed)
        };
        Snap {
            amount0,
            amount1,
            price,
            tick,
            liquidity,
            crossed,
        }
    };
    while remaining != I256::ZERO && price != limit {
        if snaps.len() > 200_000 {
            return None;
        }
        let step_start = price;
        let (mut next, initialized) = oracle::tick_bitmap::next_initialized_tick_within_one_word(
            &ticks.bitmap,
            tick,
            ticks.spacing,
            zero_for_one,
        )
        .ok()?;
        next = next.clamp(MIN_TICK, MAX_TICK);
        let next_price = oracle::tick_math::get_sqrt_ratio_at_tick(next).ok()?;
        let target =
            if (zero_for_one && next_price < limit) || (!zero_for_one && next_price > limit) {
                limit
            } else {
                next_price
            };
        let (p, amount_in, amount_out, fee_amount) =
            oracle::swap_math::compute_swap_step(price, target, liquidity, remaining, fee).ok()?;
        price = p;
        let as_int = |x: U256| I256::try_from(x).ok();
        if exact_in {
            remaining -= as_int(amount_in.checked_add(fee_amount)?)?;
            calculated = calculated.checked_sub(as_int(amount_out)?)?;
        } else {
            remaining += as_int(amount_out)?;
            calculated = calculated.checked_add(as_int(amount_in.checked_add(fee_amount)?)?)?;
        }
        if price == next_price {
            if initialized {
                let net = ticks.info.get(&next).map_or(0, |i| i.1);
                let net = if zero_for_one { -net } else { net };
                liquidity = oracle::liquidity_math::add_delta(liquidity, net).ok()?;
                crossed += 1;
            }
            tick = if zero_for_one { next - 1 } else { next };
        } else if price != step_start {
            tick = oracle::tick_math::get_tick_at_sqrt_ratio(price).ok()?;
            if algebra {
                snaps.push(snap(remaining, calculated, price, tick, liquidity, crossed));
                break;
            }
        }
        snaps.push(snap(remaining, calculated, price, tick, liquidity, crossed));
    }
    Some(snaps)
}

#[derive(Clone, Debug)]
struct Scenario {
    algebra: bool,
    fee: u32,
    spacing: i32,
    positions: Vec<(i32, i32, u128)>,
    start_tick: i32,
    start_offset: u64,
    swaps: Vec<(bool, I256, Option<i32>)>,
    window: (i32, i32),
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let kind = prop_oneof![
        (
            Just(false),
            prop_oneof![Just(1i32), Just(10), Just(60), Just(200)],
            prop_oneof![
                Just(100u32),
                Just(500),
                Just(3000),
                Just(10_000),
                0u32..1_000_000
            ]
        ),
        (
            Just(true),
            Just(60i32),
            prop_oneof![Just(100u32), Just(3000), 0u32..=65_535]
        ),
    ];
    kind.prop_flat_map(|(algebra, spacing, fee)| {
        // Compressed range ±800 spans about seven bitmap words.
        let k = -800i32..800;
        let position = (
            k.clone(),
            1i32..400,
            prop_oneof![
                1u128..1_000_000,
                1u128..(1u128 << 64),
                1u128 << 90..1u128 << 100
            ],
        );
        let full_range = (
            Just(MIN_TICK / spacing),
            Just(MAX_TICK / spacing - MIN_TICK / spacing),
            1u128..(1u128 << 80),
        );
        let positions = prop::collection::vec(prop_oneof![4 => position, 1 => full_range], 0..14);
        let amount = prop_oneof![
            (1u32..120).prop_flat_map(|bits| 1u128..=(u128::MAX >> (128 - bits))),
            Just(1u128),
        ];
        let one_swap = (
            any::<bool>(),
            amount,
            any::<bool>(),
            prop::option::of(prop_oneof![9 => 0i32..900, 1 => -900i32..0]),
        )
            .prop_map(move |(z, a, exact_out, lim)| {
                let a = I256::try_from(a).unwrap();
                // Limit offsets mostly on the side the swap moves to; a tenth on the wrong side.
                let lim = lim.map(|l| if z { -l * spacing } else { l * spacing });
                (z, if exact_out { -a } else { a }, lim)
            });
        let swaps = prop::collection::vec(one_swap, 1..4);
        // Window around the start tick (offsets in compressed ticks, applied in `run`).
        let window = (0i32..700, 0i32..700);
        (
            Just(algebra),
            Just(fee),
            Just(spacing),
            positions,
            (-700i32..700).prop_map(move |t| t * spacing + (t.rem_euclid(7) * spacing / 7)),
            prop_oneof![Just(0u64), any::<u64>()],
            swaps,
            window,
        )
    })
    .prop_map(
        |(algebra, fee, spacing, pos, start_tick, start_offset, swaps, window)| Scenario {
            algebra,
            fee,
            spacing,
            positions: pos
                .into_iter()
                .map(|(k, w, l)| (k * spacing, (k + w).min(MAX_TICK / spacing) * spacing, l))
                .collect(),
            start_tick,
            start_offset,
            swaps,
            window,
        },
    )
}

fn kind_of(s: &Scenario) -> SwapKind {
    if s.algebra {
        SwapKind::Algebra { fee: s.fee as u16 }
    } else {
        SwapKind::UniswapV3 { fee_pips: s.fee }
    }
}

fn same_as_snap(r: &SwapResult, s: &Snap) -> bool {
    r.amount0 == s.amount0
        && r.amount1 == s.amount1
        && r.sqrt_price_x96 == s.price
        && r.tick == s.tick
        && r.liquidity == s.liquidity
        && r.ticks_crossed == s.crossed
}

/// Stats over a run, printed with `--nocapture` for the report.
fn run(s: Scenario) -> Result<(u32, u32, u32), TestCaseError> {
    let rules = if s.algebra {
        TickRules::algebra()
    } else {
        TickRules::uniswap_v3(s.spacing).unwrap()
    };
    // Start state: a price inside the start tick (or exactly on it).
    let base = sqrt_ratio_at_tick(s.start_tick).unwrap();
    let next = sqrt_ratio_at_tick(s.start_tick + 1).unwrap();
    let price = base + U256::from(s.start_offset) % (next - base);
    let tick = tick_at_sqrt_ratio(price).unwrap();
    let mut liquidity = 0u128;
    let mut ours = TickBitmap::new(rules);
    let mut reference = RefTicks {
        spacing: s.spacing,
        ..RefTicks::default()
    };
    for &(lo, hi, l) in &s.positions {
        if lo >= hi || lo < MIN_TICK || hi > MAX_TICK {
            continue;
        }
        if ours.mint(tick, &mut liquidity, lo, hi, l).is_err() {
            continue; // e.g. the per-tick cap; the reference is only fed what the pool accepts
        }
        reference.touch(lo, l as i128, false);
        reference.touch(hi, l as i128, true);
    }
    let (lo, hi) = (
        tick - s.window.0 * s.spacing - 7,
        tick + s.window.1 * s.spacing + 3,
    );
    let (wt, wn, wg) = ours.window_columns(lo, hi);
    let window = TickSlice::new(&wt, &wn, &wg, lo, hi).unwrap();
    let (ft, fnet, fg) = ours.window_columns(MIN_TICK, MAX_TICK);
    let full = TickSlice::new(&ft, &fnet, &fg, MIN_TICK, MAX_TICK).unwrap();
    let kind = kind_of(&s);

    let mut state = PoolState {
        sqrt_price_x96: price,
        tick,
        liquidity,
        tick_spacing: s.spacing,
    };
    let (mut compared, mut partial, mut edge) = (0, 0, 0);
    for &(zero_for_one, amount, limit_tick) in &s.swaps {
        let limit = match limit_tick {
            Some(t) => sqrt_ratio_at_tick((state.tick + t).clamp(MIN_TICK, MAX_TICK)).unwrap(),
            None if zero_for_one => MIN_SQRT_RATIO + U256::from(1u8),
            None => MAX_SQRT_RATIO - U256::from(1u8),
        };
        let expected = reference_swap(
            s.algebra,
            s.fee,
            &reference,
            (state.sqrt_price_x96, state.tick, state.liquidity),
            zero_for_one,
            amount,
            limit,
        );
        let got = swap(kind, &state, &ours, zero_for_one, amount, limit);
        let got_full = swap(kind, &state, &full, zero_for_one, amount, limit);
        prop_assert_eq!(
            &got,
            &got_full,
            "TickSlice over the whole range differs from the bitmap"
        );
        let Some(snaps) = expected else {
            prop_assert!(got.is_err(), "reference failed, ours gave {:?}", got);
            continue;
        };
        let r = match got {
            Ok(r) => r,
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "ours failed ({e}), reference ran {} steps",
                    snaps.len()
                )));
            }
        };
        let last = snaps.last().copied().unwrap_or(Snap {
            amount0: I256::ZERO,
            amount1: I256::ZERO,
            price: state.sqrt_price_x96,
            tick: state.tick,
            liquidity: state.liquidity,
            crossed: 0,
        });
        prop_assert!(
            same_as_snap(&r, &last),
            "ours {:?} vs reference {:?}",
            r,
            last
        );
        prop_assert_eq!(r.steps as usize, snaps.len());
        prop_assert!(!r.hit_window_edge);
        compared += 1;
        if std::env::var("CLMM_STATS").is_ok() {
            println!(
                "STAT steps={} crossed={} algebra={}",
                r.steps, r.ticks_crossed, s.algebra
            );
        }

        // The windowed view: the same result, or a prefix of the reference ending at its edge.
        let w = swap(kind, &state, &window, zero_for_one, amount, limit);
        match w {
            Ok(w) if !w.hit_window_edge => prop_assert_eq!(w, r),
            Ok(w) => {
                edge += 1;
                let k = w.steps as usize;
                prop_assert!(k <= snaps.len());
                if k > 0 {
                    prop_assert!(
                        same_as_snap(&w, &snaps[k - 1]),
                        "edge prefix {:?} vs {:?}",
                        w,
                        snaps[k - 1]
                    );
                } else {
                    prop_assert_eq!(
                        (w.sqrt_price_x96, w.tick, w.liquidity),
                        (state.sqrt_price_x96, state.tick, state.liquidity)
                    );
                    prop_assert!(w.amount0.is_zero() && w.amount1.is_zero());
                }
                if k > 0 {
                    partial += 1;
                }
                if std::env::var("CLMM_STATS").is_ok() {
                    println!("EDGE k={} of={}", k, snaps.len());
                }
            }
            Err(e) => return Err(TestCaseError::fail(format!("windowed swap failed: {e}"))),
        }

        // quote_exact_in agrees with the swap when the input is all taken.
        if amount > I256::ZERO && limit_tick.is_none() {
            let q = quote_exact_in(
                kind,
                &state,
                &ours,
                zero_for_one,
                amount.unsigned_abs().to::<u128>(),
            );
            let (paid, out) = if zero_for_one {
                (r.amount0, r.amount1)
            } else {
                (r.amount1, r.amount0)
            };
            if paid == amount {
                prop_assert_eq!(q, u128::try_from(out.unsigned_abs()).ok());
            } else {
                prop_assert_eq!(q, None);
            }
        }
        state = PoolState {
            sqrt_price_x96: r.sqrt_price_x96,
            tick: r.tick,
            liquidity: r.liquidity,
            tick_spacing: s.spacing,
        };
    }
    Ok((compared, partial, edge))
}

proptest! {
    #![proptest_config(cases(400, 20_000))]

    #[test]
    fn swaps_match_reference_loop(s in scenario()) {
        run(s)?;
    }
}

/// Hand-made: a swap that crosses a tick leftwards leaves tick = t − 1 at price(t); a swap back
/// right crosses t again first. Checked against the reference loop for both DEXes.
#[test]
fn cross_back_from_left_convention() {
    for algebra in [false, true] {
        let s = Scenario {
            algebra,
            fee: 3000,
            spacing: 60,
            positions: vec![
                (-600, 600, 1 << 70),
                (0, 1200, 1 << 69),
                (-15_360 * 2, 15_360, 1 << 60),
            ],
            start_tick: 30,
            start_offset: 12345,
            swaps: vec![
                (true, I256::try_from(1u128 << 90).unwrap(), Some(-31)),
                (false, I256::try_from(-(1i128 << 60)).unwrap(), None),
                (true, I256::try_from(1u128 << 100).unwrap(), None),
            ],
            window: (300, 300),
        };
        run(s).unwrap();
    }
}
