//! `FullMath`: `a·b/d` with the product kept whole (512 bits), floor or ceiling, failing where
//! the contracts' `mulDiv`/`mulDivRoundingUp` revert: a zero denominator or a quotient that does
//! not fit 256 bits. Uniswap's and Algebra's `FullMath` differ in code (Algebra checks the
//! denominator first and has a 256-bit fast path in `mulDivRoundingUp`) but not in results or in
//! when they revert, so one implementation serves both.

use alloy_primitives::{U256, U512};

use super::{MathError, Result};

/// `floor(a·b/denominator)` with a 512-bit intermediate.
///
/// Errors: [`MathError::ZeroDenominator`], [`MathError::MulDivOverflow`] when the quotient is
/// `≥ 2^256`.
#[inline]
pub fn mul_div(a: U256, b: U256, denominator: U256) -> Result<U256> {
    if denominator.is_zero() {
        return Err(MathError::ZeroDenominator);
    }
    // Most calls have a product below 2^256: one 256-bit division then.
    if let Some(product) = a.checked_mul(b) {
        return Ok(product.wrapping_div(denominator));
    }
    let product: U512 = a.widening_mul(b);
    let quotient = product.wrapping_div(U512::from(denominator));
    narrow(quotient).ok_or(MathError::MulDivOverflow)
}

/// `ceil(a·b/denominator)` with a 512-bit intermediate.
///
/// Errors: as [`mul_div`], and [`MathError::MulDivOverflow`] when the floor is `2^256 − 1` and a
/// remainder would round it past 256 bits.
#[inline]
pub fn mul_div_rounding_up(a: U256, b: U256, denominator: U256) -> Result<U256> {
    if denominator.is_zero() {
        return Err(MathError::ZeroDenominator);
    }
    if let Some(product) = a.checked_mul(b) {
        let (q, r) = product.div_rem(denominator);
        // q ≤ (2^256 − 1)/1 and r > 0 only when denominator > 1, so q + 1 cannot wrap.
        return Ok(if r.is_zero() {
            q
        } else {
            q.wrapping_add(U256::from(1u8))
        });
    }
    let product: U512 = a.widening_mul(b);
    let (q, r) = product.div_rem(U512::from(denominator));
    let q = narrow(q).ok_or(MathError::MulDivOverflow)?;
    if r.is_zero() {
        Ok(q)
    } else {
        q.checked_add(U256::from(1u8))
            .ok_or(MathError::MulDivOverflow)
    }
}

/// `ceil(x/y)` as the contracts' `divRoundingUp` (`UnsafeMath` in Uniswap, `FullMath` in
/// Algebra): EVM division, where `x/0 = 0`. Every call site in the contracts guarantees
/// `y > 0`; we keep the EVM result rather than invent an error.
#[inline]
pub fn div_rounding_up(x: U256, y: U256) -> U256 {
    if y.is_zero() {
        return U256::ZERO;
    }
    let (q, r) = x.div_rem(y);
    if r.is_zero() {
        q
    } else {
        q.wrapping_add(U256::from(1u8))
    }
}

/// The low 256 bits of `x` if its high 256 bits are zero.
#[inline]
fn narrow(x: U512) -> Option<U256> {
    let limbs = x.as_limbs();
    if limbs[4..].iter().any(|&l| l != 0) {
        return None;
    }
    Some(U256::from_limbs([limbs[0], limbs[1], limbs[2], limbs[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u256() -> impl Strategy<Value = U256> {
        // Mix full-width values with small ones so both paths and the boundaries get hit.
        prop_oneof![
            any::<[u64; 4]>().prop_map(U256::from_limbs),
            any::<u128>().prop_map(U256::from),
            any::<u64>().prop_map(U256::from),
            (0u32..256).prop_map(|s| U256::from(1u8) << s),
            (0u32..256).prop_map(|s| (U256::from(1u8) << s) - U256::from(1u8)),
        ]
    }

    proptest! {
        /// First principles: the floor is the largest q with q·d ≤ a·b, the ceiling the
        /// smallest with q·d ≥ a·b, checked in 512 bits; the errors come exactly when the
        /// 512-bit quotient does not fit.
        #[test]
        fn matches_exact_512_bit_quotients(a in u256(), b in u256(), d in u256()) {
            let wide = U512::from(a) * U512::from(b);
            if d.is_zero() {
                prop_assert_eq!(mul_div(a, b, d), Err(MathError::ZeroDenominator));
                prop_assert_eq!(mul_div_rounding_up(a, b, d), Err(MathError::ZeroDenominator));
                return Ok(());
            }
            let dw = U512::from(d);
            let floor = wide / dw;
            let ceil = if wide % dw == U512::ZERO { floor } else { floor + U512::from(1u8) };
            let max = U512::from(U256::MAX);
            match mul_div(a, b, d) {
                Ok(q) => {
                    prop_assert!(U512::from(q) * dw <= wide);
                    prop_assert!((U512::from(q) + U512::from(1u8)) * dw > wide);
                }
                Err(e) => {
                    prop_assert_eq!(e, MathError::MulDivOverflow);
                    prop_assert!(floor > max);
                }
            }
            match mul_div_rounding_up(a, b, d) {
                Ok(q) => prop_assert_eq!(U512::from(q), ceil),
                Err(e) => {
                    prop_assert_eq!(e, MathError::MulDivOverflow);
                    prop_assert!(ceil > max);
                }
            }
        }

        #[test]
        fn div_rounding_up_is_the_ceiling(x in u256(), y in u256()) {
            let got = div_rounding_up(x, y);
            if y.is_zero() {
                prop_assert_eq!(got, U256::ZERO);
            } else {
                let (xw, yw) = (U512::from(x), U512::from(y));
                prop_assert!(U512::from(got) * yw >= xw);
                prop_assert!(got.is_zero() || (U512::from(got) - U512::from(1u8)) * yw < xw);
            }
        }
    }

    #[test]
    fn boundaries() {
        let max = U256::MAX;
        let one = U256::from(1u8);
        assert_eq!(mul_div(max, max, max), Ok(max));
        assert_eq!(mul_div(max, max, max - one), Err(MathError::MulDivOverflow));
        // floor(max·(max−1)/max) = max − 1 exactly; the ceiling equals it.
        assert_eq!(mul_div_rounding_up(max, max - one, max), Ok(max - one));
        assert_eq!(
            mul_div_rounding_up(max, U256::from(3u8), U256::from(3u8)),
            Ok(max)
        );
        // (2^192 − 1)(2^192 + 1) = 2^384 − 1: floor over 2^128 is 2^256 − 1 with a remainder,
        // so the ceiling is 2^256 (the contract's `require(result < type(uint256).max)`).
        let a = (one << 192) - one;
        let b = (one << 192) + one;
        let d = one << 128;
        assert_eq!(mul_div(a, b, d), Ok(max));
        assert_eq!(mul_div_rounding_up(a, b, d), Err(MathError::MulDivOverflow));
        assert_eq!(mul_div(U256::ZERO, max, one), Ok(U256::ZERO));
        assert_eq!(
            mul_div(one, one, U256::ZERO),
            Err(MathError::ZeroDenominator)
        );
    }
}
