//! `LiquidityMath.addDelta` (identical in Uniswap and Algebra): a signed change to a `u128`
//! liquidity, reverting on underflow (`'LS'`) or overflow (`'LA'`).

use super::{MathError, Result};

/// `x + y` for liquidity `x` and a signed delta `y`.
///
/// Errors: [`MathError::LiquidityUnderflow`] when `|y| > x` for a negative `y` (also for
/// `y = i128::MIN`, whose negation the contract computes as `2^127`), and
/// [`MathError::LiquidityOverflow`] past `u128::MAX`.
#[inline]
pub fn add_delta(x: u128, y: i128) -> Result<u128> {
    if y < 0 {
        // The contract requires `x − |y| < x` on wrapping arithmetic: |y| ≥ 1 here, so that is
        // exactly "no underflow".
        x.checked_sub(y.unsigned_abs())
            .ok_or(MathError::LiquidityUnderflow)
    } else {
        x.checked_add(y.unsigned_abs())
            .ok_or(MathError::LiquidityOverflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::I256;
    use proptest::prelude::*;

    proptest! {
        /// Against the exact sum in 256-bit signed arithmetic: Ok exactly when it lies in
        /// `[0, u128::MAX]`, with the side of the failure named.
        #[test]
        fn matches_exact_sum(x in any::<u128>(), y in any::<i128>()) {
            let exact = I256::try_from(x).unwrap() + I256::try_from(y).unwrap();
            match add_delta(x, y) {
                Ok(z) => prop_assert_eq!(I256::try_from(z).unwrap(), exact),
                Err(MathError::LiquidityUnderflow) => prop_assert!(exact.is_negative()),
                Err(MathError::LiquidityOverflow) => {
                    prop_assert!(exact > I256::try_from(u128::MAX).unwrap());
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }
    }

    #[test]
    fn edges() {
        assert_eq!(add_delta(0, -1), Err(MathError::LiquidityUnderflow));
        assert_eq!(add_delta(u128::MAX, 1), Err(MathError::LiquidityOverflow));
        assert_eq!(add_delta(1 << 127, i128::MIN), Ok(0));
        assert_eq!(add_delta(5, 0), Ok(5));
    }
}
