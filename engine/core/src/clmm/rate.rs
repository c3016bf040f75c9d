//! The marginal rate of a concentrated-liquidity hop at zero size, as an upper bound in the
//! screen's block floating point (the engine's `EdgeRate`: a `U8F56` mantissa and a binary
//! exponent).
//!
//! With `P = (√P_x96 / 2^96)²` token1 per token0 (raw units), the first infinitesimal unit in
//! gets `(1 − fee)·P` out for token0 → token1 and `(1 − fee)/P` for token1 → token0, with the fee
//! in pips (`fee/1e6`). The contracts round every amount in the pool's favour, so the true
//! marginal output of any real swap is at most this analytical rate; the bound here is at
//! least the analytical rate, computed exactly in 512-bit integers and rounded up once.

use alloy_primitives::{U256, U512};

use super::swap_math::FEE_DENOMINATOR;

/// `rate ≤ mant_bits · 2^(exp − 56)`: `mant_bits` are the bits of a `U8F56` mantissa in
/// `[2^55, 2^57]` (a value in `[½, 2]`), or zero for a hop that gives nothing. Raw output units
/// per raw input unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateBound {
    /// `U8F56` bits of the mantissa (`U8F56::from_bits`).
    pub mant_bits: u64,
    /// Binary exponent applied to the mantissa value.
    pub exp: i32,
}

impl RateBound {
    /// A hop that gives nothing (zero price, or a fee of 100 %).
    pub const ZERO: Self = Self {
        mant_bits: 0,
        exp: 0,
    };
}

/// Upper bound on the zero-size rate of a hop: `sqrt_price_x96` Q64.96, fee in pips,
/// `zero_for_one` = token0 in. Within `2^-54` relative of the exact rate.
///
/// Returns [`RateBound::ZERO`] for a zero price with token0 in, or a fee ≥ 1e6; a zero price
/// with token1 in (an infinite rate, no real pool) also gives `ZERO` rather than a bound, and
/// so does any price above 160 bits.
pub fn edge_rate_upper_bound(sqrt_price_x96: U256, fee_pips: u32, zero_for_one: bool) -> RateBound {
    let Some(keep) = FEE_DENOMINATOR.checked_sub(fee_pips).filter(|&k| k > 0) else {
        return RateBound::ZERO;
    };
    if sqrt_price_x96.is_zero() || sqrt_price_x96.bit_len() > 160 {
        return RateBound::ZERO;
    }
    let p2 = U512::from(sqrt_price_x96) * U512::from(sqrt_price_x96); // < 2^320
    let keep = U512::from(keep);
    let million = U512::from(FEE_DENOMINATOR);
    // rate = n/d · 2^e2 with the 2^±192 of the Q64.96 square kept in the exponent.
    let (n, d, e2) = if zero_for_one {
        (keep * p2, million, -192)
    } else {
        (keep, million * p2, 192)
    };
    // Choose s with n·2^s/d ∈ [2^55, 2^57): n/d ∈ (2^(nb−db−1), 2^(nb−db+1)).
    let nb = n.bit_len() as i32;
    let db = d.bit_len() as i32;
    let s = 56 - (nb - db);
    let (num, den) = if s >= 0 {
        (n << (s as usize), d)
    } else {
        (n, d << ((-s) as usize))
    };
    // num < 2^(20+320+56+20) fits 512 bits; the quotient is in [2^55, 2^57].
    let (q, r) = num.div_rem(den);
    let q = if r.is_zero() { q } else { q + U512::from(1u8) };
    let mant_bits = q.as_limbs()[0];
    // rate ≤ q·2^(−s)·2^e2 = (q/2^56)·2^(56 − s + e2).
    RateBound {
        mant_bits,
        exp: 56 - s + e2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
    use proptest::prelude::*;
    use ruint_wide::U1024;

    mod ruint_wide {
        pub type U1024 = alloy_primitives::ruint::Uint<1024, 16>;
    }

    /// Exact comparison `bound ≥ rate` and `bound ≤ rate·(1 + 2^-54)` in 1024-bit integers.
    fn check(sqrt_price: U256, fee: u32, zero_for_one: bool) -> Result<(), TestCaseError> {
        let b = edge_rate_upper_bound(sqrt_price, fee, zero_for_one);
        prop_assert!((1u64 << 55..=1u64 << 57).contains(&b.mant_bits), "{:?}", b);
        let p2 = U1024::from(sqrt_price) * U1024::from(sqrt_price);
        let keep = U1024::from(1_000_000 - fee);
        let million = U1024::from(1_000_000u32);
        // rate = rn/rd; bound = mant·2^(exp−56) = bn/bd.
        let (rn, rd) = if zero_for_one {
            (keep * p2, million << 192)
        } else {
            (keep << 192, million * p2)
        };
        let k = b.exp - 56;
        let (bn, bd) = if k >= 0 {
            (U1024::from(b.mant_bits) << (k as usize), U1024::from(1u8))
        } else {
            (
                U1024::from(b.mant_bits),
                U1024::from(1u8) << ((-k) as usize),
            )
        };
        // bn/bd ≥ rn/rd  ⇔  bn·rd ≥ rn·bd
        prop_assert!(bn * rd >= rn * bd, "bound below the rate");
        // bn/bd ≤ rn/rd·(1 + 2^-54)  ⇔  bn·rd·2^54 ≤ rn·bd·(2^54 + 1)
        prop_assert!(
            (bn * rd) << 54 <= rn * bd * (U1024::from(1u64 << 54) + U1024::from(1u8)),
            "bound too loose"
        );
        Ok(())
    }

    proptest! {
        /// The bound is never below the exact rational rate and within 2^-54 of it, over the
        /// whole price range and fee range.
        #[test]
        fn bound_is_upper_and_tight(
            limbs in any::<[u64; 3]>(), fee in 0u32..1_000_000, zero_for_one in any::<bool>(),
        ) {
            let raw = U256::from_limbs([limbs[0], limbs[1], limbs[2] & 0xffff_ffff, 0]);
            let p = MIN_SQRT_RATIO + raw % (MAX_SQRT_RATIO - MIN_SQRT_RATIO);
            check(p, fee, zero_for_one)?;
        }

        #[test]
        fn exact_powers_of_two(shift in 33usize..160, fee in prop_oneof![Just(0u32), Just(500), Just(3000), Just(999_999)], z in any::<bool>()) {
            check(U256::from(1u8) << shift, fee, z)?;
        }
    }

    #[test]
    fn degenerate_hops_give_zero() {
        let p = U256::from(1u8) << 96;
        assert_eq!(edge_rate_upper_bound(p, 1_000_000, true), RateBound::ZERO);
        assert_eq!(
            edge_rate_upper_bound(U256::ZERO, 3000, true),
            RateBound::ZERO
        );
        assert_eq!(
            edge_rate_upper_bound(U256::ZERO, 3000, false),
            RateBound::ZERO
        );
        // Price 1 and no fee: exactly 1 = 2^56·2^(−56), i.e. mant 2^56 with exp 0.
        assert_eq!(
            edge_rate_upper_bound(p, 0, true),
            RateBound {
                mant_bits: 1 << 56,
                exp: 0
            }
        );
    }
}
