//! Proof that the swap path, quotes, mint/burn on fixed columns and the rate bound do not
//! allocate: this binary's global allocator (`polyarb_alloc_count`) counts allocations per
//! thread.

use std::hint::black_box;

use alloy_primitives::{I256, U256};
use polyarb_alloc_count::{Counting, count};
use polyarb_core::clmm::rate::edge_rate_upper_bound;
use polyarb_core::clmm::swap::{PoolState, SwapKind, quote_exact_in, swap};
use polyarb_core::clmm::tick_math::{
    MAX_SQRT_RATIO, MIN_SQRT_RATIO, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use polyarb_core::clmm::ticks::{TickColumns, TickRules};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn clmm_hot_path_does_not_allocate() {
    let rules = TickRules::uniswap_v3(60).unwrap();
    let mut t = [0i32; 64];
    let mut n = [0i128; 64];
    let mut g = [0u128; 64];
    let price = sqrt_ratio_at_tick(1234).unwrap() + U256::from(987_654_321u64);
    let tick = tick_at_sqrt_ratio(price).unwrap();
    let mut liquidity = 0u128;
    let (crossed, n) = count(|| {
        let mut cols = TickColumns::new(&mut t, &mut n, &mut g, 0, -60_000, 60_000).unwrap();
        for (i, k) in (-20i32..20).enumerate() {
            let lower = k * 600;
            let upper = lower + 60 * (1 + (i as i32 % 7) * 30);
            let _ = cols.mint(
                rules,
                tick,
                &mut liquidity,
                lower,
                upper,
                1u128 << (50 + i % 20),
            );
        }
        let _ = cols.burn(rules, tick, &mut liquidity, -1200, -1200 + 60 * 31, 1 << 51);
        let slice = cols.as_slice();
        let state = PoolState {
            sqrt_price_x96: price,
            tick,
            liquidity,
            tick_spacing: 60,
        };
        let mut crossed = 0;
        for kind in [
            SwapKind::UniswapV3 { fee_pips: 3000 },
            SwapKind::Algebra { fee: 500 },
        ] {
            for (z, amt) in [
                (true, 1i128 << 70),
                (false, 1i128 << 70),
                (true, -(1i128 << 60)),
                (false, -(1i128 << 62)),
            ] {
                let limit = if z {
                    MIN_SQRT_RATIO + U256::from(1u8)
                } else {
                    MAX_SQRT_RATIO - U256::from(1u8)
                };
                if let Ok(r) = swap(kind, &state, &slice, z, I256::try_from(amt).unwrap(), limit) {
                    crossed += r.ticks_crossed;
                }
            }
            black_box(quote_exact_in(kind, &state, &slice, true, 1 << 64));
        }
        black_box(edge_rate_upper_bound(price, 3000, true));
        black_box(edge_rate_upper_bound(price, 3000, false));
        crossed
    });
    assert_eq!(n.calls, 0, "the clmm path allocated: {n:?}");
    assert!(
        crossed > 0,
        "the swaps crossed no tick, so the path was not exercised"
    );
}
