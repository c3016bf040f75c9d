//! The whole swap: `UniswapV3Pool.swap` and `AlgebraPool._calculateSwapAndLock`, the loop that
//! walks ticks until the amount is used up or the price limit is reached, with the amounts the
//! pool returns.
//!
//! Inputs: the pool state ([`PoolState`]: Q64.96 sqrt price, tick, active liquidity, tick
//! spacing), the DEX and its current fee ([`SwapKind`], pips = 1e-6), a [`TickSource`], the
//! direction (`zero_for_one`: token0 in, price falls), the amount (`> 0` exact input in raw
//! units of the input token, fee included; `< 0` exact output, minus the raw output wanted) and
//! the sqrt price limit (Q64.96). Output: [`SwapResult`] with `amount0`/`amount1` signed as the
//! pool returns them (positive = the pool receives), the state after, and counters.
//!
//! The loop, as both contracts run it:
//! 1. validate: amount ≠ 0 (`'AS'`), limit strictly between the current price and
//!    `MIN_SQRT_RATIO`/`MAX_SQRT_RATIO` on the move side (`'SPL'`);
//! 2. each step: the next tick from the bitmap within one word (clamped to
//!    `[MIN_TICK, MAX_TICK]`), target = that tick's price unless the limit comes first, one swap
//!    step ([`compute_swap_step`] / [`move_price_towards_target`]), amounts accumulated
//!    (remaining decreases by `in + fee` for exact input, increases by `out` for exact output);
//! 3. tick update: price reached the next tick's price ⇒ cross it if initialized (add its
//!    `liquidity_net`, negated when moving left) and set tick = `next − 1` moving left, `next`
//!    moving right; otherwise, if the price moved, tick = `tick_at_sqrt_ratio(price)`. Here the two
//!    differ: Algebra stops the loop after that recomputation (its amount is used up), Uniswap
//!    goes on while amount remains and the limit is not reached (an exact-output step can leave a
//!    unit remaining after rounding and take another step); Algebra also checks its stop condition
//!    at the bottom of the loop and Uniswap at the top, which is the same given step 1.
//!
//! Note the left-move convention: after crossing tick `t` leftwards the pool's tick is `t − 1`
//! while its price is exactly `sqrt_ratio_at_tick(t)`; a later rightward search starts from
//! `t − 1` and finds `t` again, crossing it back at zero cost. States must be fed back exactly.
//!
//! Window edge: with a [`TickSlice`](super::ticks::TickSlice) the next tick may lie outside the
//! known window. The loop then takes the step only when it provably equals the contract's (the
//! price limit comes before the edge, or the amount runs out strictly before the edge price,
//! in which case the target does not matter), and otherwise stops before the step with
//! [`SwapResult::hit_window_edge`] set: amounts and state are then the exact prefix of the
//! contract's loop up to that point, not a full swap.
//!
//! Algebra's fee: the swap takes `globalState.fee` as given. The pool recomputes it
//! (`DataStorageOperator.getFee`, the adaptive sigmoid formula over a 24 h window of
//! volatility and volume per liquidity) only when it writes a new timepoint, i.e. at the first
//! action of a block that writes one: the first `swap` (before its loop, from the tick and
//! liquidity at the start of that swap) or the first `mint`/`burn` whose range contains the
//! current tick, in a block whose timestamp differs from the last timepoint's. The new fee is
//! stored in `globalState.fee` and announced by a `Fee(uint16)` event. Hence: within a block,
//! after that first write, the fee is fixed and `globalState.fee` (or the last `Fee` event) is
//! exact; a transaction landing first in a later block may pay a different fee, which depends
//! on the pool's timepoints (not on this module's state). A caller must read the fee after the
//! block's first write, or treat cross-block fees as an estimate. The adaptive formula itself
//! is not implemented here.

use core::fmt;

use alloy_primitives::{I256, U256};

use super::MathError;
use super::liquidity_math::add_delta;
use super::sqrt_price_math::to_int256;
use super::swap_math::{SwapStep, compute_swap_step, move_price_towards_target};
use super::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use super::ticks::{ALGEBRA_TICK_SPACING, NextTick, TickSource};

/// Which contract's swap, with its current fee in pips (1e-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapKind {
    /// Uniswap V3 pool; `fee_pips` is the pool's immutable `fee()` (e.g. 500, 3000, 10000).
    UniswapV3 {
        /// Fee in pips, below 1e6.
        fee_pips: u32,
    },
    /// Algebra 2.0.0 pool; `fee` is `globalState.fee` as the swap will see it (see module docs).
    Algebra {
        /// Fee in pips.
        fee: u16,
    },
}

/// The pool state a swap starts from (what `slot0`/`globalState` and `liquidity()` return).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolState {
    /// Current sqrt price, Q64.96 (`uint160`).
    pub sqrt_price_x96: U256,
    /// Current tick (`int24`), as the pool stores it (not recomputed from the price).
    pub tick: i32,
    /// Active liquidity (`uint128`).
    pub liquidity: u128,
    /// Tick spacing; must be 60 for Algebra 2.0.0.
    pub tick_spacing: i32,
}

/// What the swap did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapResult {
    /// Token0 delta of the pool, raw units (positive: the pool receives).
    pub amount0: I256,
    /// Token1 delta of the pool, raw units.
    pub amount1: I256,
    /// Sqrt price after, Q64.96.
    pub sqrt_price_x96: U256,
    /// Tick after, as the pool would store it.
    pub tick: i32,
    /// Active liquidity after.
    pub liquidity: u128,
    /// Initialized ticks crossed (each costs the pool a tick update).
    pub ticks_crossed: u32,
    /// Loop iterations (steps), including steps that end on an uninitialized word edge.
    pub steps: u32,
    /// The swap stopped because the next step needed ticks outside the known window; the
    /// amounts are a prefix of the contract's.
    pub hit_window_edge: bool,
}

/// Why a swap fails (where the contract reverts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapError {
    /// `amountSpecified == 0` (`'AS'`).
    ZeroAmount,
    /// The price limit is on the wrong side or out of bounds (`'SPL'`).
    PriceLimit,
    /// The state is not one a pool can be in (tick or price out of range, bad spacing).
    InvalidState,
    /// A checked signed accumulation overflowed (`LowGasSafeMath`).
    AmountOverflow,
    /// The loop would repeat the same step forever (the contract runs out of gas).
    NoProgress,
    /// A library `require` failed.
    Math(MathError),
}

impl fmt::Display for SwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroAmount => f.write_str("swap amount is zero"),
            Self::PriceLimit => f.write_str("price limit on the wrong side or out of bounds"),
            Self::InvalidState => f.write_str("pool state out of range"),
            Self::AmountOverflow => f.write_str("swap amount accumulation overflowed"),
            Self::NoProgress => f.write_str("swap makes no progress"),
            Self::Math(e) => write!(f, "swap math: {e}"),
        }
    }
}

impl core::error::Error for SwapError {}

impl From<MathError> for SwapError {
    fn from(e: MathError) -> Self {
        Self::Math(e)
    }
}

/// `type(uint160).max`.
const U160_MAX: U256 = U256::from_limbs([u64::MAX, u64::MAX, 0xffff_ffff, 0]);

/// Upper bound on loop iterations: every step either crosses an initialized tick or ends a
/// bitmap word, so a swap across the whole range at spacing 1 takes at most about
/// 2·887272 + 2·887272/256 steps. Past this something is wrong; the contract would be out of gas.
const MAX_STEPS: u32 = 2 * (MAX_TICK as u32) * 2 + 16_384;

/// Run a swap. See the module docs for units and semantics.
///
/// Errors: as the contract reverts ([`SwapError`]); a state the pool cannot be in
/// (`tick` outside `[MIN_TICK, MAX_TICK]`, price above 160 bits, spacing outside 1..16384, or
/// not 60 for Algebra) is [`SwapError::InvalidState`].
pub fn swap<T: TickSource>(
    kind: SwapKind,
    state: &PoolState,
    ticks: &T,
    zero_for_one: bool,
    amount_specified: I256,
    sqrt_price_limit_x96: U256,
) -> Result<SwapResult, SwapError> {
    if amount_specified.is_zero() {
        return Err(SwapError::ZeroAmount);
    }
    let spacing = state.tick_spacing;
    let spacing_ok = match kind {
        SwapKind::UniswapV3 { .. } => (1..16384).contains(&spacing),
        SwapKind::Algebra { .. } => spacing == ALGEBRA_TICK_SPACING,
    };
    if !spacing_ok
        || !(MIN_TICK..=MAX_TICK).contains(&state.tick)
        || state.sqrt_price_x96 > U160_MAX
    {
        return Err(SwapError::InvalidState);
    }
    let start_price = state.sqrt_price_x96;
    let limit = sqrt_price_limit_x96;
    let limit_ok = if zero_for_one {
        limit < start_price && limit > MIN_SQRT_RATIO
    } else {
        limit > start_price && limit < MAX_SQRT_RATIO
    };
    if !limit_ok {
        return Err(SwapError::PriceLimit);
    }

    let exact_input = !amount_specified.is_negative();
    let mut remaining = amount_specified;
    let mut calculated = I256::ZERO;
    let mut price = start_price;
    let mut tick = state.tick;
    let mut liquidity = state.liquidity;
    let mut ticks_crossed = 0u32;
    let mut steps = 0u32;
    let mut hit_window_edge = false;

    while !remaining.is_zero() && price != limit {
        if steps >= MAX_STEPS {
            return Err(SwapError::NoProgress);
        }
        let step_start = price;
        // The next tick's price, or None when only a window edge is known (then the step's
        // target is never the real next tick, see below).
        let (next_tick, initialized, next_price, target) =
            match ticks.next_initialized_tick_within_one_word(tick, spacing, zero_for_one) {
                NextTick::Found {
                    tick: t,
                    initialized,
                } => {
                    let t = t.clamp(MIN_TICK, MAX_TICK);
                    let p = sqrt_ratio_at_tick(t)?;
                    let target = if limit_first(zero_for_one, p, limit) {
                        limit
                    } else {
                        p
                    };
                    (t, initialized, Some(p), target)
                }
                NextTick::Beyond { edge } => {
                    let edge_price = sqrt_ratio_at_tick(edge.clamp(MIN_TICK, MAX_TICK))?;
                    let beyond_current = if zero_for_one {
                        edge_price < price
                    } else {
                        edge_price > price
                    };
                    if !beyond_current {
                        hit_window_edge = true;
                        break;
                    }
                    // The real next tick's price is strictly past the edge price. If the limit
                    // is at or before the edge, the contract's target is the limit: exact.
                    // Otherwise probe with the edge price and keep the step only if it stops
                    // strictly short of it (checked after the step).
                    let limit_wins = if zero_for_one {
                        edge_price <= limit
                    } else {
                        edge_price >= limit
                    };
                    (0, false, None, if limit_wins { limit } else { edge_price })
                }
                NextTick::Unknown => {
                    hit_window_edge = true;
                    break;
                }
            };

        let step: SwapStep = match kind {
            SwapKind::UniswapV3 { fee_pips } => {
                compute_swap_step(price, target, liquidity, remaining, fee_pips)?
            }
            SwapKind::Algebra { fee } => {
                move_price_towards_target(zero_for_one, price, target, liquidity, remaining, fee)?
            }
        };
        if next_price.is_none() && target != limit && step.sqrt_price_next_x96 == target {
            // Reached the window edge: the contract's step would have gone further (or split
            // differently). Stop before this step.
            hit_window_edge = true;
            break;
        }
        steps += 1;
        price = step.sqrt_price_next_x96;

        // The contract's `(amountIn + feeAmount).toInt256()` and LowGasSafeMath add/sub on the
        // calculated side; the remaining side is unchecked int256 arithmetic.
        if exact_input {
            let spent = step
                .amount_in
                .checked_add(step.fee_amount)
                .ok_or(SwapError::AmountOverflow)?;
            remaining = remaining.wrapping_sub(to_int256(spent)?);
            calculated = calculated
                .checked_sub(to_int256(step.amount_out)?)
                .ok_or(SwapError::AmountOverflow)?;
        } else {
            remaining = remaining.wrapping_add(to_int256(step.amount_out)?);
            let paid = step
                .amount_in
                .checked_add(step.fee_amount)
                .ok_or(SwapError::AmountOverflow)?;
            calculated = calculated
                .checked_add(to_int256(paid)?)
                .ok_or(SwapError::AmountOverflow)?;
        }

        let tick_before = tick;
        let liquidity_before = liquidity;
        if next_price == Some(price) {
            if initialized {
                let net = ticks.liquidity_net(next_tick);
                // Moving left the net is subtracted; the contract negates in int128, which
                // wraps only for i128::MIN (never a real net).
                let net = if zero_for_one {
                    net.wrapping_neg()
                } else {
                    net
                };
                liquidity = add_delta(liquidity, net)?;
                ticks_crossed += 1;
            }
            tick = if zero_for_one {
                next_tick - 1
            } else {
                next_tick
            };
        } else if price != step_start {
            tick = tick_at_sqrt_ratio(price)?;
            if matches!(kind, SwapKind::Algebra { .. }) {
                // Algebra breaks here: its amount is used up by construction.
                break;
            }
        }
        if price == step_start
            && tick == tick_before
            && liquidity == liquidity_before
            && step.amount_in.is_zero()
            && step.amount_out.is_zero()
            && step.fee_amount.is_zero()
        {
            return Err(SwapError::NoProgress);
        }
    }

    let consumed = amount_specified.wrapping_sub(remaining);
    let (amount0, amount1) = if zero_for_one == exact_input {
        (consumed, calculated)
    } else {
        (calculated, consumed)
    };
    Ok(SwapResult {
        amount0,
        amount1,
        sqrt_price_x96: price,
        tick,
        liquidity,
        ticks_crossed,
        steps,
        hit_window_edge,
    })
}

/// Whether the limit comes before the next tick's price in the direction of the swap (the
/// contract then targets the limit).
#[inline]
fn limit_first(zero_for_one: bool, next_price: U256, limit: U256) -> bool {
    if zero_for_one {
        next_price < limit
    } else {
        next_price > limit
    }
}

/// Output (raw units) for an exact input of `amount_in` raw units, with the widest price
/// limit; `None` if the swap fails, stops at the window edge, cannot take the whole input
/// (runs into the price bound), or the output does not fit `u128`.
pub fn quote_exact_in<T: TickSource>(
    kind: SwapKind,
    state: &PoolState,
    ticks: &T,
    zero_for_one: bool,
    amount_in: u128,
) -> Option<u128> {
    let amount = I256::try_from(amount_in).ok()?;
    let limit = if zero_for_one {
        MIN_SQRT_RATIO + U256::from(1u8)
    } else {
        MAX_SQRT_RATIO - U256::from(1u8)
    };
    let r = swap(kind, state, ticks, zero_for_one, amount, limit).ok()?;
    if r.hit_window_edge {
        return None;
    }
    let (paid_in, out) = if zero_for_one {
        (r.amount0, r.amount1)
    } else {
        (r.amount1, r.amount0)
    };
    if paid_in != amount || out.is_positive() {
        return None;
    }
    u128::try_from(out.unsigned_abs()).ok()
}
