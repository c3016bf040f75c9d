//! Uniswap-V2 swap arithmetic, written here independently of the engine so each can check the
//! other (and both are checked against the real pair bytecode in the integration tests).

use alloy_primitives::U256;

/// Basis points in one.
const BPS: u64 = 10_000;

/// The largest output a V2 pair with swap fee `fee_bps` pays for `amount_in`:
/// `floor(a·(10000−f)·Rout / (Rin·10000 + a·(10000−f)))`.
///
/// Raw token units throughout. `None` if `fee_bps >= 10000` or the products overflow 256 bits
/// (they cannot for real pairs, whose reserves are `uint112`, with inputs below 2^128).
/// Zero reserves give 0.
pub fn amount_out(
    amount_in: U256,
    reserve_in: U256,
    reserve_out: U256,
    fee_bps: u32,
) -> Option<U256> {
    let keep = BPS.checked_sub(u64::from(fee_bps)).filter(|&k| k > 0)?;
    if reserve_in.is_zero() || reserve_out.is_zero() {
        return Some(U256::ZERO);
    }
    let in_with_fee = amount_in.checked_mul(U256::from(keep))?;
    let numerator = in_with_fee.checked_mul(reserve_out)?;
    let denominator = reserve_in
        .checked_mul(U256::from(BPS))?
        .checked_add(in_with_fee)?;
    Some(numerator / denominator)
}

/// What the pair's `swap` checks after `amount_in` was transferred in and `amount_out` asked for
/// (Uniswap's `balance·1000 − in·3`, Pancake's `balance·1000 − in·2`, scaled to basis points):
/// `out > 0`, `out < Rout` and `(Rin+a)·10000 − a·f) · (Rout−out)·10000 ≥ Rin·Rout·10000²`.
/// Used as the oracle for [`amount_out`] in property tests.
pub fn pair_accepts(
    amount_in: U256,
    amount_out: U256,
    reserve_in: U256,
    reserve_out: U256,
    fee_bps: u32,
) -> bool {
    if amount_out.is_zero() || amount_out >= reserve_out || amount_in.is_zero() {
        return false;
    }
    let bps = U256::from(BPS);
    let fee = U256::from(fee_bps);
    let check = || -> Option<bool> {
        let balance_in = reserve_in.checked_add(amount_in)?;
        let adjusted_in = balance_in
            .checked_mul(bps)?
            .checked_sub(amount_in.checked_mul(fee)?)?;
        let adjusted_out = (reserve_out - amount_out).checked_mul(bps)?;
        let lhs = adjusted_in.widening_mul::<256, 4, 512, 8>(adjusted_out);
        let rhs = reserve_in
            .checked_mul(reserve_out)?
            .widening_mul::<256, 4, 512, 8>(bps * bps);
        Some(lhs >= rhs)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn u(x: u128) -> U256 {
        U256::from(x)
    }

    #[test]
    fn known_values() {
        // Expected values worked out outside this code (Python integers) with the pair
        // libraries' own scales: UniswapV2Library.getAmountOut's 997/1000 for 0.3 %,
        // PancakeLibrary's 9975/10000 for 0.25 %, e.g.
        // `10**18*997*100*10**18 // (100*10**18*1000 + 10**18*997)`.
        let e18 = 10u128.pow(18);
        let (one, pool) = (u(e18), u(100 * e18));
        assert_eq!(
            amount_out(one, pool, pool, 30),
            Some(u(987_158_034_397_061_298))
        );
        assert_eq!(
            amount_out(one, pool, pool, 25),
            Some(u(987_648_209_114_086_982))
        );
        // Lopsided decimals (18 in, 6 out): 0.0123… token in buys 738 raw units.
        assert_eq!(
            amount_out(
                u(12_345_678_901_234_567),
                u(5 * 10u128.pow(22)),
                u(3_000_000_000),
                30
            ),
            Some(u(738))
        );
        assert_eq!(amount_out(u(1), u(1000), u(1000), 30), Some(U256::ZERO));
        assert_eq!(amount_out(u(10), U256::ZERO, u(1000), 30), Some(U256::ZERO));
        assert_eq!(amount_out(u(10), u(1000), u(1000), 10_000), None);
        assert_eq!(amount_out(U256::MAX, u(1000), u(1000), 30), None);
    }

    #[test]
    fn lower_fee_pays_more() {
        let (a, r) = (u(1_000_000), u(1_000_000_000));
        let uni = amount_out(a, r, r, 30).unwrap();
        let cake = amount_out(a, r, r, 20).unwrap();
        assert!(cake > uni, "{cake} vs {uni}");
    }

    proptest! {
        /// The formula's output is exactly the largest the pair's invariant check accepts.
        #[test]
        fn output_is_the_maximum_the_pair_accepts(
            reserve_in in 1_000u128..(1u128 << 112),
            reserve_out in 1_000u128..(1u128 << 112),
            amount_in in 1u128..(1u128 << 112),
            fee_bps in prop::sample::select(vec![0u32, 5, 20, 25, 30, 100, 9_999]),
        ) {
            let (a, rin, rout) = (u(amount_in), u(reserve_in), u(reserve_out));
            let out = amount_out(a, rin, rout, fee_bps).unwrap();
            prop_assert!(out < rout);
            if !out.is_zero() {
                prop_assert!(pair_accepts(a, out, rin, rout, fee_bps));
            }
            prop_assert!(!pair_accepts(a, out + U256::from(1), rin, rout, fee_bps));
        }
    }
}
