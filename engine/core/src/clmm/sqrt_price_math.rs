//! `SqrtPriceMath` (Uniswap) and `TokenDeltaMath` + `PriceMovementMath.getNewPrice` (Algebra):
//! the next sqrt price after an amount goes in or out, and the token amounts between two sqrt
//! prices. Prices are Q64.96 (`uint160` in a `U256`), liquidity `u128`, amounts raw token units.
//!
//! Rounding always favours the pool:
//! - next price from an input rounds so the price moves *less* (token0 in: up; token1 in: down),
//!   from an output so it moves *more* (token0 out: up; token1 out: down);
//! - amounts the pool receives round up, amounts it pays round down.
//!
//! Algebra's `getNewPrice` is the same function as Uniswap's `getNextSqrtPriceFrom{Input,
//! Output}`. Its token deltas differ only in argument handling: Uniswap sorts the two prices,
//! Algebra takes them as (lower, upper) and reverts if they are out of order; [`algebra_token0_delta`]
//! and [`algebra_token1_delta`] keep that.

use alloy_primitives::{I256, U256};

use super::full_math::{div_rounding_up, mul_div, mul_div_rounding_up};
use super::{MathError, Result};

const RESOLUTION: usize = 96;
/// 2^96: one in Q64.96.
pub const Q96: U256 = U256::from_limbs([0, 1 << 32, 0, 0]);
/// `type(uint160).max`.
const U160_MAX: U256 = U256::from_limbs([u64::MAX, u64::MAX, 0xffff_ffff, 0]);

#[inline]
fn fits_u160(x: U256) -> bool {
    x <= U160_MAX
}

/// Next sqrt price after adding (`add`) or removing `amount` of token0 to the virtual
/// reserves, rounded up (`getNextSqrtPriceFromAmount0RoundingUp`).
///
/// Computes `L·√P / (L ± amount·√P)` (in Q96), falling back to `L / (L/√P + amount)` when the
/// product overflows on the add side. Errors when removing empties the reserve
/// ([`MathError::InsufficientReserve`]) or the result does not fit 160 bits.
#[inline]
pub fn next_sqrt_price_from_amount0_rounding_up(
    sqrt_price_x96: U256,
    liquidity: u128,
    amount: U256,
    add: bool,
) -> Result<U256> {
    // The short cut matters: the formula would not return the same price for amount = 0.
    if amount.is_zero() {
        return Ok(sqrt_price_x96);
    }
    let numerator1 = U256::from(liquidity) << RESOLUTION;
    let product = amount.checked_mul(sqrt_price_x96);
    if add {
        if let Some(product) = product {
            let (denominator, wrapped) = numerator1.overflowing_add(product);
            if !wrapped {
                // The result is ≤ √P, so it fits 160 bits (the contract casts without a check).
                return mul_div_rounding_up(numerator1, sqrt_price_x96, denominator)
                    .map(truncate_u160);
            }
        }
        // L / (L/√P + amount): √P > 0 is the caller's precondition (checked by the public
        // wrappers); a zero price would make the contract divide by zero and revert.
        let q = numerator1
            .checked_div(sqrt_price_x96)
            .ok_or(MathError::ZeroPrice)?;
        let denominator = q.checked_add(amount).ok_or(MathError::PriceOverflow)?;
        Ok(truncate_u160(div_rounding_up(numerator1, denominator)))
    } else {
        let product = product.ok_or(MathError::InsufficientReserve)?;
        if numerator1 <= product {
            return Err(MathError::InsufficientReserve);
        }
        let next = mul_div_rounding_up(numerator1, sqrt_price_x96, numerator1 - product)?;
        if fits_u160(next) {
            Ok(next)
        } else {
            Err(MathError::PriceOverflow)
        }
    }
}

/// Next sqrt price after adding or removing `amount` of token1, rounded down
/// (`getNextSqrtPriceFromAmount1RoundingDown`): `√P ± amount/L` (in Q96), the quotient floored
/// when adding and ceiled when removing. `liquidity` must be non-zero (the public wrappers check).
#[inline]
pub fn next_sqrt_price_from_amount1_rounding_down(
    sqrt_price_x96: U256,
    liquidity: u128,
    amount: U256,
    add: bool,
) -> Result<U256> {
    if liquidity == 0 {
        return Err(MathError::ZeroLiquidity);
    }
    let l = U256::from(liquidity);
    if add {
        let quotient = if fits_u160(amount) {
            (amount << RESOLUTION).wrapping_div(l)
        } else {
            mul_div(amount, Q96, l)?
        };
        let next = sqrt_price_x96
            .checked_add(quotient)
            .ok_or(MathError::PriceOverflow)?;
        if fits_u160(next) {
            Ok(next)
        } else {
            Err(MathError::PriceOverflow)
        }
    } else {
        let quotient = if fits_u160(amount) {
            div_rounding_up(amount << RESOLUTION, l)
        } else {
            mul_div_rounding_up(amount, Q96, l)?
        };
        if sqrt_price_x96 <= quotient {
            return Err(MathError::InsufficientReserve);
        }
        Ok(sqrt_price_x96 - quotient)
    }
}

/// Next sqrt price after `amount_in` of token0 (`zero_for_one`) or token1 goes in
/// (`getNextSqrtPriceFromInput`, Algebra's `getNewPriceAfterInput`); rounds so the price does not
/// pass the true one.
#[inline]
pub fn next_sqrt_price_from_input(
    sqrt_price_x96: U256,
    liquidity: u128,
    amount_in: U256,
    zero_for_one: bool,
) -> Result<U256> {
    if sqrt_price_x96.is_zero() {
        return Err(MathError::ZeroPrice);
    }
    if liquidity == 0 {
        return Err(MathError::ZeroLiquidity);
    }
    if zero_for_one {
        next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_in, true)
    } else {
        next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_in, true)
    }
}

/// Next sqrt price after `amount_out` of token1 (`zero_for_one`) or token0 goes out
/// (`getNextSqrtPriceFromOutput`, Algebra's `getNewPriceAfterOutput`); rounds so the price
/// moves at least far enough to pay the output.
#[inline]
pub fn next_sqrt_price_from_output(
    sqrt_price_x96: U256,
    liquidity: u128,
    amount_out: U256,
    zero_for_one: bool,
) -> Result<U256> {
    if sqrt_price_x96.is_zero() {
        return Err(MathError::ZeroPrice);
    }
    if liquidity == 0 {
        return Err(MathError::ZeroLiquidity);
    }
    if zero_for_one {
        next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_out, false)
    } else {
        next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_out, false)
    }
}

/// Token0 between two sqrt prices for `liquidity` (`getAmount0Delta`, Uniswap: the prices are
/// sorted first): `L·2^96·(√B − √A)/(√B·√A)`, rounded up or down.
///
/// Errors: [`MathError::ZeroPrice`] if the lower price is zero.
#[inline]
pub fn amount0_delta(a: U256, b: U256, liquidity: u128, round_up: bool) -> Result<U256> {
    let (lower, upper) = if a > b { (b, a) } else { (a, b) };
    if lower.is_zero() {
        return Err(MathError::ZeroPrice);
    }
    token0_delta_sorted(lower, upper, liquidity, round_up)
}

/// Token1 between two sqrt prices for `liquidity` (`getAmount1Delta`, Uniswap, sorted):
/// `L·(√B − √A)/2^96`, rounded up or down.
#[inline]
pub fn amount1_delta(a: U256, b: U256, liquidity: u128, round_up: bool) -> Result<U256> {
    let (lower, upper) = if a > b { (b, a) } else { (a, b) };
    token1_delta_sorted(lower, upper, liquidity, round_up)
}

/// Signed token0 delta for a liquidity change (`getAmount0Delta(int128)`): positive liquidity
/// rounds up (the pool receives), negative rounds down and negates (the pool pays).
#[inline]
pub fn amount0_delta_signed(a: U256, b: U256, liquidity: i128) -> Result<I256> {
    if liquidity < 0 {
        let v = amount0_delta(a, b, liquidity.unsigned_abs(), false)?;
        Ok(to_int256(v)?.wrapping_neg())
    } else {
        to_int256(amount0_delta(a, b, liquidity.unsigned_abs(), true)?)
    }
}

/// Signed token1 delta for a liquidity change (`getAmount1Delta(int128)`).
#[inline]
pub fn amount1_delta_signed(a: U256, b: U256, liquidity: i128) -> Result<I256> {
    if liquidity < 0 {
        let v = amount1_delta(a, b, liquidity.unsigned_abs(), false)?;
        Ok(to_int256(v)?.wrapping_neg())
    } else {
        to_int256(amount1_delta(a, b, liquidity.unsigned_abs(), true)?)
    }
}

/// Algebra's `TokenDeltaMath.getToken0Delta(priceLower, priceUpper, liquidity, roundUp)`: no
/// sorting; `upper − lower` must not underflow and `lower` must be non-zero
/// ([`MathError::PriceOrder`] otherwise, the contract's `require(priceDelta < priceUpper)`).
#[inline]
pub fn algebra_token0_delta(
    lower: U256,
    upper: U256,
    liquidity: u128,
    round_up: bool,
) -> Result<U256> {
    // upper − lower < upper ⇔ lower ≤ upper and lower > 0 (the wrapped difference is ≥ upper).
    let delta = upper.wrapping_sub(lower);
    if delta >= upper {
        return Err(MathError::PriceOrder);
    }
    token0_delta_sorted(lower, upper, liquidity, round_up)
}

/// Algebra's `TokenDeltaMath.getToken1Delta(priceLower, priceUpper, liquidity, roundUp)`:
/// requires `upper ≥ lower`.
#[inline]
pub fn algebra_token1_delta(
    lower: U256,
    upper: U256,
    liquidity: u128,
    round_up: bool,
) -> Result<U256> {
    if upper < lower {
        return Err(MathError::PriceOrder);
    }
    token1_delta_sorted(lower, upper, liquidity, round_up)
}

/// Algebra's signed `getToken0Delta(priceLower, priceUpper, int128 liquidity)`.
#[inline]
pub fn algebra_token0_delta_signed(lower: U256, upper: U256, liquidity: i128) -> Result<I256> {
    if liquidity >= 0 {
        to_int256(algebra_token0_delta(
            lower,
            upper,
            liquidity.unsigned_abs(),
            true,
        )?)
    } else {
        let v = algebra_token0_delta(lower, upper, liquidity.unsigned_abs(), false)?;
        Ok(to_int256(v)?.wrapping_neg())
    }
}

/// Algebra's signed `getToken1Delta(priceLower, priceUpper, int128 liquidity)`.
#[inline]
pub fn algebra_token1_delta_signed(lower: U256, upper: U256, liquidity: i128) -> Result<I256> {
    if liquidity >= 0 {
        to_int256(algebra_token1_delta(
            lower,
            upper,
            liquidity.unsigned_abs(),
            true,
        )?)
    } else {
        let v = algebra_token1_delta(lower, upper, liquidity.unsigned_abs(), false)?;
        Ok(to_int256(v)?.wrapping_neg())
    }
}

/// `lower ≤ upper`, `lower > 0`. Rounding up: `ceil(ceil(L·2^96·Δ/upper)/lower)`; down: the
/// floors. Nested ceilings (floors) of integer divisions equal the ceiling (floor) of the whole
/// quotient, so this is `L·2^96·Δ/(upper·lower)` rounded once.
#[inline]
fn token0_delta_sorted(lower: U256, upper: U256, liquidity: u128, round_up: bool) -> Result<U256> {
    let numerator1 = U256::from(liquidity) << RESOLUTION;
    let numerator2 = upper - lower;
    if round_up {
        Ok(div_rounding_up(
            mul_div_rounding_up(numerator1, numerator2, upper)?,
            lower,
        ))
    } else {
        Ok(mul_div(numerator1, numerator2, upper)?.wrapping_div(lower))
    }
}

#[inline]
fn token1_delta_sorted(lower: U256, upper: U256, liquidity: u128, round_up: bool) -> Result<U256> {
    let delta = upper - lower;
    if round_up {
        mul_div_rounding_up(U256::from(liquidity), delta, Q96)
    } else {
        mul_div(U256::from(liquidity), delta, Q96)
    }
}

/// `SafeCast.toInt256`: fails for values `≥ 2^255`.
#[inline]
pub fn to_int256(x: U256) -> Result<I256> {
    if x.bit(255) {
        Err(MathError::Int256Overflow)
    } else {
        Ok(I256::from_raw(x))
    }
}

/// The contract's unchecked `uint160(x)` where it proves `x` fits.
#[inline]
fn truncate_u160(x: U256) -> U256 {
    x & U160_MAX
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
    use alloy_primitives::U512;
    use proptest::prelude::*;

    fn price() -> impl Strategy<Value = U256> {
        any::<[u64; 3]>().prop_map(|l| {
            let raw = U256::from_limbs([l[0], l[1], l[2] & 0xffff_ffff, 0]);
            MIN_SQRT_RATIO + raw % (MAX_SQRT_RATIO - MIN_SQRT_RATIO)
        })
    }

    fn liquidity() -> impl Strategy<Value = u128> {
        prop_oneof![
            1u128..1_000_000,
            any::<u128>().prop_map(|l| l.max(1)),
            (1u32..128).prop_map(|s| 1u128 << s)
        ]
    }

    fn amount() -> impl Strategy<Value = U256> {
        prop_oneof![
            any::<u64>().prop_map(U256::from),
            any::<u128>().prop_map(U256::from),
            any::<[u64; 4]>().prop_map(U256::from_limbs),
            any::<[u64; 3]>().prop_map(|l| U256::from_limbs([l[0], l[1], l[2], 0])),
        ]
    }

    proptest! {
        /// First principles: the deltas are the exact rationals rounded once in the named
        /// direction (checked in 512 bits).
        #[test]
        fn deltas_round_as_named(a in price(), b in price(), l in liquidity()) {
            let (lo, hi) = if a > b { (b, a) } else { (a, b) };
            let num0 = (U512::from(l) << 96) * U512::from(hi - lo);
            let den0 = U512::from(hi) * U512::from(lo);
            let floor0 = num0 / den0;
            let ceil0 = floor0 + U512::from(u8::from(num0 % den0 != U512::ZERO));
            prop_assert_eq!(U512::from(amount0_delta(a, b, l, false).unwrap()), floor0);
            prop_assert_eq!(U512::from(amount0_delta(a, b, l, true).unwrap()), ceil0);
            let num1 = U512::from(l) * U512::from(hi - lo);
            let den1 = U512::from(1u8) << 96;
            let floor1 = num1 / den1;
            let ceil1 = floor1 + U512::from(u8::from(num1 % den1 != U512::ZERO));
            prop_assert_eq!(U512::from(amount1_delta(a, b, l, false).unwrap()), floor1);
            prop_assert_eq!(U512::from(amount1_delta(a, b, l, true).unwrap()), ceil1);
            // Algebra's versions agree on ordered input and refuse the reverse order.
            prop_assert_eq!(algebra_token0_delta(lo, hi, l, true), amount0_delta(a, b, l, true));
            prop_assert_eq!(algebra_token1_delta(lo, hi, l, false), amount1_delta(a, b, l, false));
            if lo != hi {
                prop_assert_eq!(algebra_token0_delta(hi, lo, l, true), Err(MathError::PriceOrder));
                prop_assert_eq!(algebra_token1_delta(hi, lo, l, true), Err(MathError::PriceOrder));
            }
        }

        /// The next price from an input never lets the input buy more than it pays for: the
        /// exact input needed to reach it (rounded up) is at most the amount given.
        #[test]
        fn input_price_favours_pool(p in price(), l in liquidity(), amt in amount(), z in any::<bool>()) {
            if let Ok(next) = next_sqrt_price_from_input(p, l, amt, z) {
                if z {
                    prop_assert!(next <= p);
                    prop_assert!(amount0_delta(next, p, l, true).unwrap() <= amt);
                } else {
                    prop_assert!(next >= p);
                    prop_assert!(amount1_delta(p, next, l, true).unwrap() <= amt);
                }
            }
        }

        /// The next price from an output moves far enough to pay it: the output available down
        /// to it (rounded down) is at least the amount asked.
        #[test]
        fn output_price_favours_pool(p in price(), l in liquidity(), amt in amount(), z in any::<bool>()) {
            if let Ok(next) = next_sqrt_price_from_output(p, l, amt, z) {
                if z {
                    prop_assert!(next < p || amt.is_zero());
                    prop_assert!(amount1_delta(next, p, l, false).unwrap() >= amt);
                } else {
                    prop_assert!(next > p || amt.is_zero());
                    prop_assert!(amount0_delta(p, next, l, false).unwrap() >= amt);
                }
            }
        }
    }

    #[test]
    fn signed_deltas_and_errors() {
        let a = Q96;
        let b = Q96 * U256::from(2u8);
        let up = amount0_delta(a, b, 1_000_003, true).unwrap();
        let down = amount0_delta(a, b, 1_000_003, false).unwrap();
        assert_eq!(
            amount0_delta_signed(a, b, 1_000_003).unwrap(),
            I256::from_raw(up)
        );
        assert_eq!(
            amount0_delta_signed(a, b, -1_000_003).unwrap(),
            -I256::from_raw(down)
        );
        assert_eq!(
            amount0_delta(U256::ZERO, b, 1, true),
            Err(MathError::ZeroPrice)
        );
        assert_eq!(
            next_sqrt_price_from_input(a, 0, U256::from(1u8), true),
            Err(MathError::ZeroLiquidity)
        );
        assert_eq!(
            next_sqrt_price_from_input(U256::ZERO, 1, U256::from(1u8), true),
            Err(MathError::ZeroPrice)
        );
        // Taking all of token1's virtual reserve (L·√P/2^96 = 1 000 for L = 1 000, √P = 1):
        assert_eq!(
            next_sqrt_price_from_output(a, 1_000, U256::from(1_000u32), true),
            Err(MathError::InsufficientReserve)
        );
        assert_eq!(
            next_sqrt_price_from_output(a, 1_000, U256::from(1_000u32), false),
            Err(MathError::InsufficientReserve)
        );
        assert_eq!(
            to_int256(U256::from(1u8) << 255),
            Err(MathError::Int256Overflow)
        );
    }
}
