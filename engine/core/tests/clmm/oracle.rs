//! Library functions against `uniswap_v3_math` (an independent Rust port of the Uniswap V3
//! libraries): same value when both succeed, and both fail on the same inputs.

use alloy_primitives::{I256, U256};
use polyarb_core::clmm::tick_math::{MAX_TICK, MIN_TICK};
use polyarb_core::clmm::{full_math, sqrt_price_math, swap_math, tick_math};
use proptest::prelude::*;
use uniswap_v3_math as oracle;

use crate::{any_price, any_u256, cases};

fn liquidity() -> impl Strategy<Value = u128> {
    prop_oneof![
        0u128..1_000,
        any::<u64>().prop_map(u128::from),
        any::<u128>(),
        (0u32..128).prop_map(|s| 1u128 << s),
    ]
}

fn signed_amount() -> impl Strategy<Value = I256> {
    prop_oneof![
        any::<i64>().prop_map(|a| I256::try_from(a).unwrap()),
        any::<i128>().prop_map(|a| I256::try_from(a).unwrap()),
        any_u256().prop_map(I256::from_raw),
    ]
}

/// Same value when both succeed, same failure otherwise.
fn same<T: PartialEq + core::fmt::Debug, E1: core::fmt::Debug, E2: core::fmt::Debug>(
    ours: Result<T, E1>,
    theirs: Result<T, E2>,
) -> Result<(), TestCaseError> {
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(false, "ours {:?} vs oracle {:?}", ours, theirs),
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(3_000, 200_000))]

    #[test]
    fn mul_div_matches(a in any_u256(), b in any_u256(), d in any_u256()) {
        same(full_math::mul_div(a, b, d), oracle::full_math::mul_div(a, b, d))?;
        same(
            full_math::mul_div_rounding_up(a, b, d),
            oracle::full_math::mul_div_rounding_up(a, b, d),
        )?;
    }

    #[test]
    fn sqrt_ratio_at_tick_matches(t in (MIN_TICK - 10)..=(MAX_TICK + 10)) {
        same(tick_math::sqrt_ratio_at_tick(t), oracle::tick_math::get_sqrt_ratio_at_tick(t))?;
    }

    #[test]
    fn tick_at_sqrt_ratio_matches(p in prop_oneof![any_price(), any_u256()]) {
        same(tick_math::tick_at_sqrt_ratio(p), oracle::tick_math::get_tick_at_sqrt_ratio(p))?;
    }

    /// The oracle does not apply the contract's `toUint160` to the next price (token1 in:
    /// `getNextSqrtPriceFromAmount1RoundingDown`, add side; token0 out:
    /// `getNextSqrtPriceFromAmount0RoundingUp`, remove side), so a result of 2^160 or more is
    /// Ok there; nor does it check the 256-bit add `√P + quotient` (token1 in), which wraps there
    /// and reverts in the contract (`LowGasSafeMath.add`). The contract reverts, and so do we. Such results are mapped to a failure
    /// before comparing; everything else must agree as is.
    #[test]
    fn next_price_matches(
        p in prop_oneof![any_price(), any_u256().prop_map(|x| x >> 96usize)],
        l in liquidity(),
        amt in any_u256(),
        z in any::<bool>(),
    ) {
        same(
            sqrt_price_math::next_sqrt_price_from_input(p, l, amt, z),
            oracle::sqrt_price_math::get_next_sqrt_price_from_input(p, l, amt, z)
                .map_err(|e| e.to_string())
                .and_then(|v| if v.bit_len() > 160 { Err("uint160 overflow".into()) } else { Ok(v) })
                // Token1 in adds to the price; a result below it means the 256-bit add wrapped.
                .and_then(|v| if !z && v < p { Err("uint256 add overflow".into()) } else { Ok(v) }),
        )?;
        same(
            sqrt_price_math::next_sqrt_price_from_output(p, l, amt, z),
            oracle::sqrt_price_math::get_next_sqrt_price_from_output(p, l, amt, z)
                .map_err(|e| e.to_string())
                .and_then(|v| if v.bit_len() > 160 { Err("uint160 overflow".into()) } else { Ok(v) }),
        )?;
    }

    #[test]
    fn deltas_match(a in any_price(), b in any_price(), l in liquidity(), up in any::<bool>(), sl in any::<i128>()) {
        same(
            sqrt_price_math::amount0_delta(a, b, l, up),
            oracle::sqrt_price_math::_get_amount_0_delta(a, b, l, up),
        )?;
        same(
            sqrt_price_math::amount1_delta(a, b, l, up),
            oracle::sqrt_price_math::_get_amount_1_delta(a, b, l, up),
        )?;
        same(
            sqrt_price_math::amount0_delta_signed(a, b, sl),
            oracle::sqrt_price_math::get_amount_0_delta(a, b, sl),
        )?;
        same(
            sqrt_price_math::amount1_delta_signed(a, b, sl),
            oracle::sqrt_price_math::get_amount_1_delta(a, b, sl),
        )?;
    }

    /// Uniswap's step against the oracle's, and Algebra's step against the same oracle on
    /// consistent input (Algebra told the direction the prices imply, fee within `uint16`).
    #[test]
    fn swap_step_matches(
        current in any_price(), target in any_price(), l in liquidity(),
        amt in signed_amount(), fee in prop_oneof![0u32..1_000_000, Just(0u32), Just(3000), Just(999_999), 0u32..=65_535],
    ) {
        // The oracle panics negating int256's minimum; the contract wraps it to 2^255 (0.7.6
        // arithmetic is unchecked), as we do. That one value is left out of the comparison.
        prop_assume!(amt != I256::MIN);
        let theirs = oracle::swap_math::compute_swap_step(current, target, l, amt, fee);
        let ours = swap_math::compute_swap_step(current, target, l, amt, fee)
            .map(|s| (s.sqrt_price_next_x96, s.amount_in, s.amount_out, s.fee_amount));
        let theirs = theirs.map_err(|e| e.to_string());
        same(ours, theirs.clone())?;
        if let Ok(fee16) = u16::try_from(fee) {
            let algebra = swap_math::move_price_towards_target(current >= target, current, target, l, amt, fee16)
                .map(|s| (s.sqrt_price_next_x96, s.amount_in, s.amount_out, s.fee_amount));
            same(algebra, theirs)?;
        }
    }

    /// Steps whose target is a nearby tick price (the common case in a swap loop).
    #[test]
    fn swap_step_matches_near_ticks(
        t in (MIN_TICK + 1000)..(MAX_TICK - 1000), dt in -900i32..900, l in liquidity(),
        amt in signed_amount(), fee in 0u32..1_000_000,
    ) {
        prop_assume!(amt != I256::MIN);
        let current = tick_math::sqrt_ratio_at_tick(t).unwrap() + U256::from(u64::from(dt.unsigned_abs()));
        let target = tick_math::sqrt_ratio_at_tick(t + dt).unwrap();
        let theirs = oracle::swap_math::compute_swap_step(current, target, l, amt, fee);
        let ours = swap_math::compute_swap_step(current, target, l, amt, fee)
            .map(|s| (s.sqrt_price_next_x96, s.amount_in, s.amount_out, s.fee_amount));
        same(ours, theirs)?;
    }
}
