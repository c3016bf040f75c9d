//! Exact Uniswap-V2 swap math (the `uniswap-v2` pool kind), reproducing the pair contract's own integer rounding.
//!
//! The executor takes exactly the amounts computed here (`docs/executor.md`), so they must never
//! exceed what the pair's K-check allows: one unit too much and the swap reverts.

use alloy_primitives::{U256, U512};

use crate::PIPS;

/// Output of swapping `amount_in` into a V2 pair, raw units of the output token:
///
/// `floor(a·(10⁶−f)·R_out / (R_in·10⁶ + a·(10⁶−f)))`
///
/// which is the largest output the pair's K-check accepts (with `f = 3000` pips this is
/// Uniswap's `997/1000` form; with `f = 2000` Pancake's `998/1000`: scaling numerator and
/// denominator by the same factor leaves the floor unchanged). Inputs and reserves are raw token
/// units; `fee_pips` is the swap fee in pips (10⁻⁶ of the input). Returns 0 when any input is 0 or the fee
/// is 10⁶ pips or more. Never panics; intermediates are `U256` when they leave `u128`.
#[inline]
pub fn get_amount_out(amount_in: u128, reserve_in: u128, reserve_out: u128, fee_pips: u32) -> u128 {
    let Some(keep) = PIPS.checked_sub(fee_pips) else {
        return 0;
    };
    if amount_in == 0 || reserve_in == 0 || reserve_out == 0 || keep == 0 {
        return 0;
    }
    let keep = u128::from(keep);
    let denom = u128::from(PIPS);
    // Fast path: everything fits in u128 (small amounts against small reserves).
    if let Some(a_keep) = amount_in.checked_mul(keep)
        && let Some(num) = a_keep.checked_mul(reserve_out)
        && let Some(den) = reserve_in
            .checked_mul(denom)
            .and_then(|d| d.checked_add(a_keep))
    {
        return num / den;
    }
    // Chain values (uint112 amounts and reserves) give a·keep < 2^132 (keep < 2^20 pips) and a numerator < 2^244,
    // which U256 holds. Any u128 is accepted, though, and then the numerator can reach 2^276:
    // that rare case takes a U512 detour instead of overflowing.
    let a_keep = U256::from(amount_in) * U256::from(keep);
    let den = U256::from(reserve_in) * U256::from(denom) + a_keep;
    let out = match a_keep.checked_mul(U256::from(reserve_out)) {
        Some(num) => num / den,
        None => {
            let num = U512::from(a_keep) * U512::from(reserve_out);
            // Same bound as below: the quotient is < R_out, so saturation never triggers.
            return (num / U512::from(den)).saturating_to::<u128>();
        }
    };
    // out < R_out because R_in·10⁶ > 0, so it fits u128.
    out.saturating_to::<u128>()
}

/// Smallest input (raw units of the input token) for which [`get_amount_out`] gives at least
/// `amount_out`: `ceil(o·R_in·10⁶ / ((R_out − o)·(10⁶ − f)))`. Derived from the same K-check,
/// so `get_amount_out(get_amount_in(o)) ≥ o` and one unit less falls short (Uniswap's router
/// adds 1 to a floor instead, which is one too many when the division is exact).
/// `None` when no input can give `amount_out` (it is ≥ `reserve_out`, a reserve is 0, the fee
/// is 10⁶ pips or more) or the input would not fit `u128`. `Some(0)` for `amount_out == 0`.
pub fn get_amount_in(
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
    // Chain values (uint112) keep the numerator below 2^244 (o·R_in·10⁶), in U256; any u128 may need U512.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The pair's K-check after a swap of `a_in` in for `out` out, with fee `f` pips:
    /// `(bal_in·10⁶ − a_in·f)·(bal_out·10⁶) ≥ R_in·R_out·10¹²`.
    fn k_check(a_in: u128, r_in: u128, r_out: u128, f: u32, out: u128) -> bool {
        let Some(bal_out) = r_out.checked_sub(out) else {
            return false;
        };
        let d = U512::from(PIPS);
        let bal_in = U512::from(r_in) + U512::from(a_in);
        let adj_in = bal_in * d - U512::from(a_in) * U512::from(f);
        let adj_out = U512::from(bal_out) * d;
        adj_in * adj_out >= U512::from(r_in) * U512::from(r_out) * d * d
    }

    /// Reference: Uniswap's own formula with its 1000 denominator, for fees that are whole
    /// tenths of a percent.
    fn uniswap_1000(a: u128, r_in: u128, r_out: u128, keep_per_mille: u128) -> u128 {
        let a_fee = U512::from(a) * U512::from(keep_per_mille);
        let num = a_fee * U512::from(r_out);
        let den = U512::from(r_in) * U512::from(1000u32) + a_fee;
        (num / den).saturating_to::<u128>()
    }

    const U112: u128 = (1u128 << 112) - 1;

    #[test]
    fn zero_inputs_give_zero() {
        assert_eq!(get_amount_out(0, 10, 10, 3_000), 0);
        assert_eq!(get_amount_out(10, 0, 10, 3_000), 0);
        assert_eq!(get_amount_out(10, 10, 0, 3_000), 0);
        assert_eq!(get_amount_out(10, 10, 10, 1_000_000), 0);
        assert_eq!(get_amount_out(10, 10, 10, 2_000_000), 0);
    }

    #[test]
    fn extreme_values_do_not_panic_and_stay_below_reserve() {
        let out = get_amount_out(u128::MAX, u128::MAX, u128::MAX, 0);
        assert!(out < u128::MAX);
        let out = get_amount_out(u128::MAX, 1, u128::MAX, 1);
        assert!(out < u128::MAX);
        assert!(k_check(u128::MAX, 1, u128::MAX, 1, out));
        let out = get_amount_out(U112, U112, U112, 3_000);
        assert!(k_check(U112, U112, U112, 3_000, out));
        assert!(!k_check(U112, U112, U112, 3_000, out + 1));
    }

    proptest! {
        #[test]
        fn matches_uniswap_and_pancake_forms(
            a in 1u128..=U112, r_in in 1u128..=U112, r_out in 1u128..=U112,
        ) {
            prop_assert_eq!(get_amount_out(a, r_in, r_out, 3_000), uniswap_1000(a, r_in, r_out, 997));
            prop_assert_eq!(get_amount_out(a, r_in, r_out, 2_000), uniswap_1000(a, r_in, r_out, 998));
        }

        #[test]
        fn monotone_in_amount_in(
            a in 0u128..=U112, d in 0u128..=(1u128 << 80),
            r_in in 0u128..=U112, r_out in 0u128..=U112, f in 0u32..1_000_000,
        ) {
            let lo = get_amount_out(a, r_in, r_out, f);
            let hi = get_amount_out(a.saturating_add(d), r_in, r_out, f);
            prop_assert!(lo <= hi);
        }

        #[test]
        fn output_is_below_reserve(
            a in 0u128..=u128::MAX, r_in in 0u128..=U112, r_out in 0u128..=U112, f in 0u32..1_000_000,
        ) {
            let out = get_amount_out(a, r_in, r_out, f);
            prop_assert!(out < r_out || (out == 0 && r_out == 0));
        }

        #[test]
        fn k_check_passes_at_out_and_fails_one_above(
            a in 1u128..=U112, r_in in 1u128..=U112, r_out in 1u128..=U112, f in 0u32..1_000_000,
        ) {
            let out = get_amount_out(a, r_in, r_out, f);
            prop_assert!(k_check(a, r_in, r_out, f, out));
            prop_assert!(!k_check(a, r_in, r_out, f, out + 1));
        }

        #[test]
        fn amount_in_is_the_smallest_input_for_an_output(
            o in 1u128..=U112, r_in in 1u128..=U112, r_out in 1u128..=U112, f in 0u32..1_000_000,
        ) {
            match get_amount_in(o, r_in, r_out, f) {
                Some(a) => {
                    prop_assert!(get_amount_out(a, r_in, r_out, f) >= o);
                    prop_assert!(a == 0 || get_amount_out(a - 1, r_in, r_out, f) < o);
                }
                // No u128 input reaches `o`.
                None => prop_assert!(o >= r_out || get_amount_out(u128::MAX, r_in, r_out, f) < o),
            }
        }

        // Small values exercise the u128 fast path and its boundary with the U256 path.
        #[test]
        fn k_check_small_values(
            a in 1u128..1_000_000, r_in in 1u128..1_000_000, r_out in 1u128..1_000_000,
            f in prop::sample::select(vec![0u32, 1, 2_000, 2_500, 3_000, 10_000, 999_999]),
        ) {
            let out = get_amount_out(a, r_in, r_out, f);
            prop_assert!(k_check(a, r_in, r_out, f, out));
            prop_assert!(!k_check(a, r_in, r_out, f, out + 1));
        }
    }
}
