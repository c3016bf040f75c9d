//! One swap step inside a range of constant liquidity: Uniswap's `SwapMath.computeSwapStep`
//! and Algebra's `PriceMovementMath.movePriceTowardsTarget`.
//!
//! Both take the remaining amount as a signed `I256` (`> 0` exact input, the amount still to
//! pay in, fee included; `< 0` exact output, minus the amount still to receive) and a fee in
//! pips (1e-6) charged on the input: the input net of fee is `floor(amount·(1e6 − fee)/1e6)`,
//! and the fee on an input `x` that fully reaches the target is `ceil(x·fee/(1e6 − fee))`; an
//! exact-input step that stops short of the target keeps the whole remainder as fee.
//!
//! How they differ: Uniswap infers the direction from the prices (`current ≥ target` ⇒
//! token0 in) and sorts prices in its deltas; Algebra is told the direction and its deltas
//! revert on prices out of order ([`MathError::PriceOrder`]). Uniswap's fee is `uint24`
//! (must be `< 1e6`), Algebra's `uint16`. On consistent inputs (target on the side the
//! direction says) the two give the same step, which the tests check.

use alloy_primitives::{I256, U256};

use super::full_math::{mul_div, mul_div_rounding_up};
use super::sqrt_price_math::{
    algebra_token0_delta, algebra_token1_delta, amount0_delta, amount1_delta,
    next_sqrt_price_from_input, next_sqrt_price_from_output,
};
use super::{MathError, Result};

/// One million: the fee denominator (pips).
pub const FEE_DENOMINATOR: u32 = 1_000_000;

/// The outcome of one step: the sqrt price reached (Q64.96) and the raw token amounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapStep {
    /// Sqrt price after the step, Q64.96; never past the target.
    pub sqrt_price_next_x96: U256,
    /// Input token the pool receives for the price move, fee excluded (raw units).
    pub amount_in: U256,
    /// Output token the pool pays (raw units).
    pub amount_out: U256,
    /// Fee taken from the input on top of `amount_in` (raw units of the input token).
    pub fee_amount: U256,
}

/// Uniswap V3's `computeSwapStep`: move from `current` towards `target` with `liquidity`,
/// spending (exact input) or delivering (exact output) at most `amount_remaining`, fee in pips.
///
/// Errors: whatever the price/delta math reverts on, and [`MathError::FeeTooLarge`] for a fee
/// of 1e6 pips or more (the factory refuses such pools).
pub fn compute_swap_step(
    current: U256,
    target: U256,
    liquidity: u128,
    amount_remaining: I256,
    fee_pips: u32,
) -> Result<SwapStep> {
    if fee_pips >= FEE_DENOMINATOR {
        return Err(MathError::FeeTooLarge);
    }
    let fee = U256::from(fee_pips);
    let keep = U256::from(FEE_DENOMINATOR - fee_pips);
    let million = U256::from(FEE_DENOMINATOR);
    let zero_for_one = current >= target;
    let exact_in = !amount_remaining.is_negative();
    // The contract's `uint256(amountRemaining)` / `uint256(-amountRemaining)` (wrapping).
    let remaining_in = amount_remaining.into_raw();
    let remaining_out = amount_remaining.wrapping_neg().into_raw();

    let mut amount_in = U256::ZERO;
    let mut amount_out = U256::ZERO;
    let next;
    if exact_in {
        let remaining_less_fee = mul_div(remaining_in, keep, million)?;
        amount_in = if zero_for_one {
            amount0_delta(target, current, liquidity, true)?
        } else {
            amount1_delta(current, target, liquidity, true)?
        };
        next = if remaining_less_fee >= amount_in {
            target
        } else {
            next_sqrt_price_from_input(current, liquidity, remaining_less_fee, zero_for_one)?
        };
    } else {
        amount_out = if zero_for_one {
            amount1_delta(target, current, liquidity, false)?
        } else {
            amount0_delta(current, target, liquidity, false)?
        };
        next = if remaining_out >= amount_out {
            target
        } else {
            next_sqrt_price_from_output(current, liquidity, remaining_out, zero_for_one)?
        };
    }

    let reached = next == target;
    // Keep the amount computed towards the target when the target was reached in the mode that
    // computed it; otherwise recompute from the price actually reached.
    let keep_in = reached && exact_in;
    let keep_out = reached && !exact_in;
    if zero_for_one {
        if !keep_in {
            amount_in = amount0_delta(next, current, liquidity, true)?;
        }
        if !keep_out {
            amount_out = amount1_delta(next, current, liquidity, false)?;
        }
    } else {
        if !keep_in {
            amount_in = amount1_delta(current, next, liquidity, true)?;
        }
        if !keep_out {
            amount_out = amount0_delta(current, next, liquidity, false)?;
        }
    }

    if !exact_in && amount_out > remaining_out {
        amount_out = remaining_out;
    }

    let fee_amount = if exact_in && !reached {
        // Short of the target: the whole remainder is fee (unchecked in the contract; the
        // rounding of the next price keeps amount_in ≤ remaining).
        remaining_in.wrapping_sub(amount_in)
    } else {
        mul_div_rounding_up(amount_in, fee, keep)?
    };

    Ok(SwapStep {
        sqrt_price_next_x96: next,
        amount_in,
        amount_out,
        fee_amount,
    })
}

/// Algebra's `movePriceTowardsTarget`: the same step with the direction given
/// (`zero_to_one`: token0 in) and Algebra's ordered token deltas; fee in pips (`uint16`).
pub fn move_price_towards_target(
    zero_to_one: bool,
    current: U256,
    target: U256,
    liquidity: u128,
    amount_available: I256,
    fee: u16,
) -> Result<SwapStep> {
    let fee_u = U256::from(fee);
    let keep = U256::from(FEE_DENOMINATOR - u32::from(fee));
    let million = U256::from(FEE_DENOMINATOR);

    // Input side ("A") rounds up, output side ("B") down. For token0 in, the price falls:
    // (lower, upper) = (to, from); for token1 in it rises: (from, to).
    let amount_a = |to: U256, from: U256| -> Result<U256> {
        if zero_to_one {
            algebra_token0_delta(to, from, liquidity, true)
        } else {
            algebra_token1_delta(from, to, liquidity, true)
        }
    };
    let amount_b = |to: U256, from: U256| -> Result<U256> {
        if zero_to_one {
            algebra_token1_delta(to, from, liquidity, false)
        } else {
            algebra_token0_delta(from, to, liquidity, false)
        }
    };

    if !amount_available.is_negative() {
        let available = amount_available.into_raw();
        let available_after_fee = mul_div(available, keep, million)?;
        let mut input = amount_a(target, current)?;
        let result;
        let fee_amount;
        if available_after_fee >= input {
            result = target;
            fee_amount = mul_div_rounding_up(input, fee_u, keep)?;
        } else {
            result =
                next_sqrt_price_from_input(current, liquidity, available_after_fee, zero_to_one)?;
            if target != result {
                input = amount_a(result, current)?;
                // Short of the target: the rest of what was offered is fee.
                fee_amount = available.wrapping_sub(input);
            } else {
                fee_amount = mul_div_rounding_up(input, fee_u, keep)?;
            }
        }
        let output = amount_b(result, current)?;
        Ok(SwapStep {
            sqrt_price_next_x96: result,
            amount_in: input,
            amount_out: output,
            fee_amount,
        })
    } else {
        // `amountAvailable = -amountAvailable` in unchecked int256, then read as uint256.
        let wanted = amount_available.wrapping_neg().into_raw();
        let mut output = amount_b(target, current)?;
        let result;
        if wanted >= output {
            result = target;
        } else {
            result = next_sqrt_price_from_output(current, liquidity, wanted, zero_to_one)?;
            if target != result {
                output = amount_b(result, current)?;
            }
            if output > wanted {
                output = wanted;
            }
        }
        let input = amount_a(result, current)?;
        let fee_amount = mul_div_rounding_up(input, fee_u, keep)?;
        Ok(SwapStep {
            sqrt_price_next_x96: result,
            amount_in: input,
            amount_out: output,
            fee_amount,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
    use proptest::prelude::*;

    fn price() -> impl Strategy<Value = U256> {
        any::<[u64; 3]>().prop_map(|l| {
            let raw = U256::from_limbs([l[0], l[1], l[2] & 0xffff_ffff, 0]);
            MIN_SQRT_RATIO + raw % (MAX_SQRT_RATIO - MIN_SQRT_RATIO)
        })
    }

    fn amount() -> impl Strategy<Value = I256> {
        prop_oneof![
            any::<i64>().prop_map(|a| I256::try_from(a).unwrap()),
            any::<i128>().prop_map(|a| I256::try_from(a).unwrap()),
            any::<[u64; 4]>().prop_map(|l| I256::from_raw(U256::from_limbs(l))),
        ]
    }

    proptest! {
        /// Invariants of a step, from the contract's documentation: never past the target, an
        /// exact input never spends more than offered, an exact output never pays more than
        /// asked; and Algebra's step equals Uniswap's on the same consistent input.
        #[test]
        fn step_invariants(
            current in price(), target in price(), l in any::<u128>(),
            amt in amount(), fee in 0u16..=u16::MAX,
        ) {
            prop_assume!(!amt.is_zero());
            let zero_for_one = current >= target;
            let u = compute_swap_step(current, target, l, amt, u32::from(fee));
            let a = move_price_towards_target(zero_for_one, current, target, l, amt, fee);
            prop_assert_eq!(u, a);
            if let Ok(s) = u {
                if zero_for_one {
                    prop_assert!(s.sqrt_price_next_x96 <= current && s.sqrt_price_next_x96 >= target);
                } else {
                    prop_assert!(s.sqrt_price_next_x96 >= current && s.sqrt_price_next_x96 <= target);
                }
                if amt.is_negative() {
                    prop_assert!(s.amount_out <= amt.unsigned_abs());
                } else {
                    prop_assert!(s.amount_in + s.fee_amount <= amt.into_raw());
                }
            }
        }
    }

    #[test]
    fn fee_bounds() {
        let p = MIN_SQRT_RATIO * U256::from(1000u32);
        let one = I256::ONE;
        assert_eq!(
            compute_swap_step(p, p - U256::from(1u8), 1, one, 1_000_000),
            Err(MathError::FeeTooLarge)
        );
        // A 1-unit exact input with a fee: nothing left after fee, so it is all fee.
        let s = compute_swap_step(p, MIN_SQRT_RATIO, 1 << 90, one, 3000).unwrap();
        assert_eq!(s.sqrt_price_next_x96, p);
        assert_eq!((s.amount_in, s.fee_amount), (U256::ZERO, U256::from(1u8)));
    }
}
