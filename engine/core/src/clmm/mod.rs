//! Exact concentrated-liquidity math for Uniswap V3 (`@uniswap/v3-core` 1.0.1) and Algebra
//! (`@cryptoalgebra/core` 2.0.0, the engine behind QuickSwap V3), reimplemented from the
//! contracts' behaviour so that every amount, price and tick matches the pool to the wei.
//!
//! Units at every boundary:
//! - sqrt prices are Q64.96 fixed point (`sqrt(token1/token0) · 2^96`), `uint160` values held in
//!   a [`U256`](alloy_primitives::U256); functions assume their price inputs fit 160 bits, as the
//!   contracts' ABI does;
//! - ticks are `i32` holding the contracts' `int24`; a tick `t` means price `1.0001^t`;
//! - liquidity is `u128` (`sqrt(x·y)` in raw token units), liquidity deltas are `i128`;
//! - token amounts are raw token units (wei for 18-decimal tokens) in `U256`, signed amounts
//!   in [`I256`](alloy_primitives::I256) with the pool's sign convention (positive: the pool
//!   receives, negative: the pool pays);
//! - fees are in pips (1e-6): Uniswap's `fee` (`uint24`, e.g. 3000 = 0.3 %) and Algebra's
//!   `globalState.fee` (`uint16`, same unit).
//!
//! Every `require` of the contracts becomes an `Err` of a small enum ([`MathError`] for the
//! libraries, [`swap::SwapError`] and [`ticks::TickError`] above them); nothing here panics on
//! input and nothing allocates (the reference bitmap in [`ticks`] aside, which is an oracle).
//!
//! Layout, bottom up: [`full_math`] (512-bit `mulDiv`), [`tick_math`] (tick ↔ sqrt price),
//! [`sqrt_price_math`] (next price and token deltas), [`liquidity_math`], [`swap_math`] (one
//! step of each DEX), [`ticks`] (the tick sources a swap walks, mint/burn bookkeeping),
//! [`swap`] (the whole swap loop) and [`rate`] (the zero-size rate for the screen).
//!
//! Not for: fee growth, oracles/timepoints, positions' owed fees, or Algebra's adaptive-fee
//! formula (see [`swap`] for when Algebra recomputes its fee and what a caller must know).

pub mod algebra_fee;
pub mod full_math;
pub mod liquidity_math;
pub mod rate;
pub mod sqrt_price_math;
pub mod swap;
pub mod swap_math;
pub mod tick_math;
pub mod ticks;

use core::fmt;

/// A `require` of the math libraries that failed: where the contract reverts, we return this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathError {
    /// `mulDiv`: the denominator is zero.
    ZeroDenominator,
    /// `mulDiv`: the quotient does not fit 256 bits (or a rounded-up quotient would wrap).
    MulDivOverflow,
    /// `getSqrtRatioAtTick`: `|tick| > MAX_TICK` (the contract's `'T'`).
    TickOutOfRange,
    /// `getTickAtSqrtRatio`: price outside `[MIN_SQRT_RATIO, MAX_SQRT_RATIO)` (the contract's `'R'`).
    SqrtPriceOutOfRange,
    /// A sqrt price of zero where the contract requires a positive one.
    ZeroPrice,
    /// Zero liquidity where the contract requires a positive one.
    ZeroLiquidity,
    /// The next sqrt price would not fit 160 bits (`toUint160`, or a checked add).
    PriceOverflow,
    /// Taking this output would empty the virtual reserve (the price would reach or cross zero).
    InsufficientReserve,
    /// Algebra's token-delta `require`s: the price pair is out of order (or the lower is zero).
    PriceOrder,
    /// `toInt256`: an amount is `≥ 2^255`.
    Int256Overflow,
    /// `toInt128`: a liquidity net leaves the `int128` range.
    Int128Overflow,
    /// `addDelta` would go below zero (the contract's `'LS'`).
    LiquidityUnderflow,
    /// `addDelta` would exceed `u128::MAX` (the contract's `'LA'`).
    LiquidityOverflow,
    /// A Uniswap fee of 100 % or more in pips (the factory never allows it).
    FeeTooLarge,
}

impl fmt::Display for MathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroDenominator => "division by zero",
            Self::MulDivOverflow => "mul_div result does not fit 256 bits",
            Self::TickOutOfRange => "tick outside [MIN_TICK, MAX_TICK]",
            Self::SqrtPriceOutOfRange => "sqrt price outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)",
            Self::ZeroPrice => "sqrt price is zero",
            Self::ZeroLiquidity => "liquidity is zero",
            Self::PriceOverflow => "sqrt price does not fit 160 bits",
            Self::InsufficientReserve => "output exceeds the virtual reserve",
            Self::PriceOrder => "sqrt prices out of order",
            Self::Int256Overflow => "amount does not fit int256",
            Self::Int128Overflow => "liquidity net does not fit int128",
            Self::LiquidityUnderflow => "liquidity would go below zero",
            Self::LiquidityOverflow => "liquidity would exceed uint128",
            Self::FeeTooLarge => "fee is 100% or more",
        })
    }
}

impl core::error::Error for MathError {}

/// `Result` with [`MathError`] as the default error.
pub type Result<T, E = MathError> = core::result::Result<T, E>;
