//! `TickMath`: tick → Q64.96 sqrt price (`sqrt(1.0001^tick)·2^96`, rounded up) and back
//! (the greatest tick whose sqrt price is ≤ the given one), bit-exact with the contracts.
//!
//! Algebra 2.0.0's `TickMath` is the same function as Uniswap's: the only code difference is
//! how `|tick|` is taken (`(tick ^ mask) − mask` in `int24` instead of a cast through
//! `int256`), and both give the same value, and the same revert, for every `int24` tick
//! (`−2^23` wraps to itself in Algebra and fails the `≤ MAX_TICK` check, as it does in
//! Uniswap). `getTickAtSqrtRatio` is character-for-character the same. One function serves both.

use alloy_primitives::{I256, U256};

use super::{MathError, Result};

/// The lowest tick a sqrt price can be computed for: `log_1.0001(2^-128)` rounded.
pub const MIN_TICK: i32 = -887_272;
/// The highest tick: `-MIN_TICK`.
pub const MAX_TICK: i32 = 887_272;
/// `sqrt_ratio_at_tick(MIN_TICK)`, the lowest sqrt price a pool can hold (Q64.96).
pub const MIN_SQRT_RATIO: U256 = U256::from_limbs([4_295_128_739, 0, 0, 0]);
/// `sqrt_ratio_at_tick(MAX_TICK)`, one past the highest sqrt price a pool can hold (Q64.96):
/// 1461446703485210103287273052203988822378723970342.
pub const MAX_SQRT_RATIO: U256 = U256::from_limbs([
    0x5d95_1d52_6398_8d26,
    0xefd1_fc6a_5064_8849,
    0x0000_0000_fffd_8963,
    0,
]);

/// `2^128 / sqrt(1.0001)^(2^i)` in Q128.128 for bits `i = 1..=19` of `|tick|`: the factors the
/// contract multiplies together (each product shifted right by 128, i.e. floored).
const BIT_FACTORS: [u128; 19] = [
    0xfff97272373d413259a46990580e213a,
    0xfff2e50f5f656932ef12357cf3c7fdcc,
    0xffe5caca7e10e4e61c3624eaa0941cd0,
    0xffcb9843d60f6159c9db58835c926644,
    0xff973b41fa98c081472e6896dfb254c0,
    0xff2ea16466c96a3843ec78b326b52861,
    0xfe5dee046a99a2a811c461f1969c3053,
    0xfcbe86c7900a88aedcffc83b479aa3a4,
    0xf987a7253ac413176f2b074cf7815e54,
    0xf3392b0822b70005940c7a398e4b70f3,
    0xe7159475a2c29b7443b29c7fa6e889d9,
    0xd097f3bdfd2022b8845ad8f792aa5825,
    0xa9f746462d870fdf8a65dc1f90e061e5,
    0x70d869a156d2a1b890bb3df62baf32f7,
    0x31be135f97d08fd981231505542fcfa6,
    0x09aa508b5b7a84e1c677de54f3e99bc9,
    0x005d6af8dedb81196699c329225ee604,
    0x00002216e584f5fa1ea926041bedfe98,
    0x00000000048a170391f7dc42444e8fa2,
];
/// The factor for bit 0 (`2^128/sqrt(1.0001)`), which seeds the product when bit 0 is set.
const BIT0_FACTOR: u128 = 0xfffcb933bd6fad37aa2d162d1a594001;

/// `sqrt(1.0001^tick)·2^96` as Q64.96, rounded up (`getSqrtRatioAtTick`).
///
/// The contract builds `2^128/sqrt(1.0001^|tick|)` in Q128.128 from one factor per set bit
/// (each product floored), inverts it for positive ticks as `(2^256 − 1)/ratio`, and rounds the
/// Q128.128 → Q128.96 conversion up, so that `tick_at_sqrt_ratio` of the result is the tick.
///
/// Errors: [`MathError::TickOutOfRange`] when `|tick| > MAX_TICK`.
#[inline]
pub fn sqrt_ratio_at_tick(tick: i32) -> Result<U256> {
    let abs = tick.unsigned_abs();
    if abs > MAX_TICK.unsigned_abs() {
        return Err(MathError::TickOutOfRange);
    }
    let mut ratio = if abs & 1 != 0 {
        U256::from(BIT0_FACTOR)
    } else {
        U256::from(1u8) << 128
    };
    for (i, &factor) in BIT_FACTORS.iter().enumerate() {
        if abs & (2 << i) != 0 {
            // ratio ≤ 2^128 and factor < 2^128: the product fits 256 bits.
            ratio = ratio.wrapping_mul(U256::from(factor)) >> 128;
        }
    }
    if tick > 0 {
        // ratio > 0: every factor is > 2^127 relative to 2^128 and |tick| ≤ MAX_TICK keeps it
        // above 2^-128, so this never divides by zero.
        ratio = U256::MAX.checked_div(ratio).unwrap_or(U256::MAX);
    }
    let low32 = ratio.as_limbs()[0] & 0xffff_ffff;
    let q96 = (ratio >> 32) + U256::from(u8::from(low32 != 0));
    Ok(q96)
}

/// The greatest tick `t` with `sqrt_ratio_at_tick(t) ≤ sqrt_price_x96` (`getTickAtSqrtRatio`).
///
/// Computed as the contract does: `log2` of the Q128.128 ratio to 14 fractional bits by repeated
/// squaring, scaled to `log_sqrt(1.0001)`, which brackets the tick within one; the bracket is
/// settled with one `sqrt_ratio_at_tick`.
///
/// Errors: [`MathError::SqrtPriceOutOfRange`] unless `MIN_SQRT_RATIO ≤ price < MAX_SQRT_RATIO`.
#[inline]
pub fn tick_at_sqrt_ratio(sqrt_price_x96: U256) -> Result<i32> {
    if sqrt_price_x96 < MIN_SQRT_RATIO || sqrt_price_x96 >= MAX_SQRT_RATIO {
        return Err(MathError::SqrtPriceOutOfRange);
    }
    // Q128.128 ratio; below 2^192 since the price is below 2^160.
    let ratio: U256 = sqrt_price_x96 << 32usize;
    let msb = ratio.bit_len() - 1; // ratio ≥ 2^32, so bit_len ≥ 33
    // Normalise to [2^127, 2^128): a Q1.127 mantissa of the ratio.
    let mut r = if msb >= 128 {
        ratio >> (msb - 127)
    } else {
        ratio << (127 - msb)
    };
    // Integer part of log2(ratio/2^128) in Q.64; msb ∈ [32, 191] so this is small.
    let int_part = i64::try_from(msb).unwrap_or(0) - 128;
    let mut log2 = I256::try_from(int_part).unwrap_or(I256::ZERO) << 64u32;
    // Fractional bits 63 down to 50: square the mantissa; if it reaches 2, that bit is one and
    // the mantissa is halved.
    let mut frac = U256::ZERO;
    for bit in (50..=63).rev() {
        r = r.wrapping_mul(r) >> 127;
        let f: U256 = r >> 128usize; // 0 or 1
        frac |= f << bit;
        r >>= f.as_limbs()[0] as usize;
    }
    // The integer part has zero low 64 bits, so or-ing the fraction in is adding it.
    log2 = log2.wrapping_add(I256::from_raw(frac));

    // log_sqrt(1.0001)(ratio) in Q128.128.
    let log_sqrt10001 = log2.wrapping_mul(I256::from_raw(U256::from(
        255_738_958_999_603_826_347_141_u128,
    )));
    let low_offset = I256::from_raw(U256::from(
        3_402_992_956_809_132_418_596_140_100_660_247_210_u128,
    ));
    let high_offset = I256::from_raw(U256::from(
        291_339_464_771_989_622_907_027_621_153_398_088_495_u128,
    ));
    let tick_low = low_i32(log_sqrt10001.wrapping_sub(low_offset).asr(128));
    let tick_high = low_i32(log_sqrt10001.wrapping_add(high_offset).asr(128));
    if tick_low == tick_high {
        return Ok(tick_low);
    }
    Ok(if sqrt_ratio_at_tick(tick_high)? <= sqrt_price_x96 {
        tick_high
    } else {
        tick_low
    })
}

/// The low 32 bits of a small signed value (the contract casts to `int24`; the values here are
/// within ±2^20).
#[inline]
fn low_i32(x: I256) -> i32 {
    x.into_raw().as_limbs()[0] as u32 as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundary_values() {
        assert_eq!(sqrt_ratio_at_tick(MIN_TICK), Ok(MIN_SQRT_RATIO));
        assert_eq!(sqrt_ratio_at_tick(MAX_TICK), Ok(MAX_SQRT_RATIO));
        assert_eq!(
            MAX_SQRT_RATIO,
            "1461446703485210103287273052203988822378723970342"
                .parse::<U256>()
                .unwrap()
        );
        assert_eq!(sqrt_ratio_at_tick(0), Ok(U256::from(1u8) << 96));
        assert_eq!(
            sqrt_ratio_at_tick(MIN_TICK - 1),
            Err(MathError::TickOutOfRange)
        );
        assert_eq!(
            sqrt_ratio_at_tick(MAX_TICK + 1),
            Err(MathError::TickOutOfRange)
        );
        assert_eq!(sqrt_ratio_at_tick(i32::MIN), Err(MathError::TickOutOfRange));
        assert_eq!(tick_at_sqrt_ratio(MIN_SQRT_RATIO), Ok(MIN_TICK));
        assert_eq!(
            tick_at_sqrt_ratio(MAX_SQRT_RATIO - U256::from(1u8)),
            Ok(MAX_TICK - 1)
        );
        assert_eq!(
            tick_at_sqrt_ratio(MIN_SQRT_RATIO - U256::from(1u8)),
            Err(MathError::SqrtPriceOutOfRange)
        );
        assert_eq!(
            tick_at_sqrt_ratio(MAX_SQRT_RATIO),
            Err(MathError::SqrtPriceOutOfRange)
        );
        assert_eq!(
            tick_at_sqrt_ratio(U256::ZERO),
            Err(MathError::SqrtPriceOutOfRange)
        );
    }

    /// `sqrt(1.0001^t)·2^96` from f64 agrees to ~1e-12 relative for moderate ticks: the table
    /// of factors is right (an independent computation, not the same algorithm).
    #[test]
    fn close_to_floating_point() {
        for t in (-200_000..=200_000).step_by(997) {
            let exact = 1.0001f64.powf(f64::from(t) / 2.0) * 2f64.powi(96);
            let got = sqrt_ratio_at_tick(t).unwrap();
            let got = f64::from(got);
            assert!(
                ((got - exact) / exact).abs() < 1e-11,
                "tick {t}: {got} vs {exact}"
            );
        }
    }

    proptest! {
        /// Round trip, monotonicity and the defining property of `tick_at_sqrt_ratio` (the
        /// greatest tick whose sqrt price is ≤ the input) checked by its definition.
        #[test]
        fn tick_round_trip(t in MIN_TICK..MAX_TICK) {
            let p = sqrt_ratio_at_tick(t).unwrap();
            let next = sqrt_ratio_at_tick(t + 1).unwrap();
            prop_assert!(p < next);
            prop_assert_eq!(tick_at_sqrt_ratio(p).unwrap(), t);
            prop_assert_eq!(tick_at_sqrt_ratio(next - U256::from(1u8)).unwrap(), t);
        }

        #[test]
        fn tick_at_price_is_greatest_tick_below(limbs in any::<[u64; 3]>()) {
            let raw = U256::from_limbs([limbs[0], limbs[1], limbs[2] & 0xffff_ffff, 0]);
            let span = MAX_SQRT_RATIO - MIN_SQRT_RATIO;
            let p = MIN_SQRT_RATIO + raw % span;
            let t = tick_at_sqrt_ratio(p).unwrap();
            prop_assert!(sqrt_ratio_at_tick(t).unwrap() <= p);
            prop_assert!(t == MAX_TICK || sqrt_ratio_at_tick(t + 1).unwrap() > p);
        }
    }
}
