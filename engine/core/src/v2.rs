//! Exact Uniswap-V2 swap math (the `uniswap-v2` pool kind), reproducing the pair contract's own integer rounding.
//!
//! The executor takes exactly the amounts computed here (`docs/executor.md`), so they must never
//! exceed what the pair's K-check allows: one unit too much and the swap reverts.
//!
//! Both formulas are one quotient of a 256-bit numerator by a divisor that fits `u128` for chain
//! values below 2^108 (see [`div_wide`]). The sizing evaluates them about twenty times per sized
//! cycle, so that quotient is found without a 256-bit division: an `f64` estimate, corrected with
//! exact 128×128→256-bit products and comparisons (a numerator that fits `u128` keeps the
//! `u128` division). Every result is checked exactly before it is returned; what the correction
//! cannot settle in [`MAX_CHECKS`] checks takes the `U256` division instead, so speed depends on
//! the error bound, exactness never does.

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
/// is 10⁶ pips or more. Never panics. When `a·(10⁶−f)` and the denominator fit `u128` (amounts
/// and reserves below about 2^108) the quotient comes from `div_wide`, with no wide division;
/// otherwise intermediates are `U256` (and `U512` for arbitrary `u128` inputs).
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
    if let Some(a_keep) = amount_in.checked_mul(keep)
        && let Some(den) = reserve_in
            .checked_mul(denom)
            .and_then(|d| d.checked_add(a_keep))
    {
        let (hi, lo) = mul_wide(a_keep, reserve_out);
        // The quotient is < R_out (den > a·keep), so it fits u128 and `div_wide` always answers.
        if let Some((q, _)) = div_wide(hi, lo, den) {
            return q;
        }
    }
    get_amount_out_wide(amount_in, reserve_in, reserve_out, keep)
}

/// [`get_amount_out`]'s formula with `U256` intermediates (a `U512` detour for arbitrary `u128`
/// inputs): the path for amounts or reserves past about 2^108, and the reference the fast path
/// is tested against. `keep = 10⁶ − fee` pips, > 0; the other inputs > 0. Cold: the sizing's
/// inputs stay far below 2^108.
#[cold]
#[inline(never)]
fn get_amount_out_wide(amount_in: u128, reserve_in: u128, reserve_out: u128, keep: u128) -> u128 {
    // Chain values (uint112 amounts and reserves) give a·keep < 2^132 (keep < 2^20 pips) and a numerator < 2^244,
    // which U256 holds. Any u128 is accepted, though, and then the numerator can reach 2^276:
    // that rare case takes a U512 detour instead of overflowing.
    let a_keep = U256::from(amount_in) * U256::from(keep);
    let den = U256::from(reserve_in) * U256::from(PIPS) + a_keep;
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
/// Like [`get_amount_out`], the quotient comes from `div_wide` when `o·10⁶` and the
/// denominator fit `u128`.
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
    if let Some(o_pips) = amount_out.checked_mul(u128::from(PIPS))
        && let Some(den) = (reserve_out - amount_out).checked_mul(u128::from(keep))
    {
        let (hi, lo) = mul_wide(o_pips, reserve_in);
        // `None` here means the floor, hence the ceiling, is ≥ 2^128: no u128 input.
        let (q, r) = div_wide(hi, lo, den)?;
        return if r == 0 { Some(q) } else { q.checked_add(1) };
    }
    get_amount_in_wide(amount_out, reserve_in, reserve_out, keep)
}

/// [`get_amount_in`]'s formula in `U256` (`U512` for arbitrary `u128` inputs); `keep > 0`,
/// `0 < amount_out < reserve_out`, `reserve_in > 0`.
#[cold]
#[inline(never)]
fn get_amount_in_wide(
    amount_out: u128,
    reserve_in: u128,
    reserve_out: u128,
    keep: u32,
) -> Option<u128> {
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

/// Most exact checks `q·d` vs `N` that [`div_wide`] makes before it falls back to the `U256`
/// division. Four always suffice for a quotient that fits `u128` (proof at [`div_wide`]).
const MAX_CHECKS: u32 = 4;

/// The 256-bit product `a·b` as `(high, low)` 128-bit halves: four 64×64→128-bit multiplies.
#[inline(always)]
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const LO: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & LO);
    let (b1, b0) = (b >> 64, b & LO);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // Bits 64..192: < 3·2^64, no overflow.
    let mid = (p00 >> 64) + (p01 & LO) + (p10 & LO);
    // `<<` drops the bits of `mid` above 64, which `mid >> 64` carries into the high half.
    let lo = (p00 & LO) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

/// `2^e` as an `f64`, exactly, for `0 ≤ e ≤ 192`.
#[inline(always)]
fn pow2(e: u32) -> f64 {
    f64::from_bits(u64::from(1_023 + e) << 52)
}

/// `hi·2^128 + lo` as an `f64`: its top 64 bits, rounded once to 53, scaled by an exact power
/// of two. Relative error < `2^-53 + 2^-63` (the dropped bits are < 2^-63 of the value). Shifts
/// and one u64→f64 conversion: `as f64` on a `u128` is a slower library call.
#[inline(always)]
fn wide_to_f64(hi: u128, lo: u128) -> f64 {
    if hi != 0 {
        let z = hi.leading_zeros();
        // The 128 bits below the top bit's position, then their top 64.
        let top = if z == 0 {
            hi
        } else {
            (hi << z) | (lo >> (128 - z))
        };
        ((top >> 64) as u64) as f64 * pow2(192 - z)
    } else if lo >> 64 != 0 {
        let z = lo.leading_zeros();
        ((lo << z >> 64) as u64) as f64 * pow2(64 - z)
    } else {
        (lo as u64) as f64
    }
}

/// `x as u128` (truncation towards zero, saturating at `u128::MAX`) for a finite `x ≥ 0`, from
/// its bits: `as u128` on an `f64` is a slower library call.
#[inline(always)]
fn f64_to_u128(x: f64) -> u128 {
    let bits = x.to_bits();
    // x = m·2^(e − 1075), m the 53-bit significand with its implicit bit.
    let e = ((bits >> 52) & 0x7ff) as i32;
    if e < 1_023 {
        return 0; // x < 1 (0 and subnormals included)
    }
    let m = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
    let shift = e - 1_075;
    if shift < 0 {
        m >> -shift
    } else if shift <= 75 {
        m << shift
    } else {
        u128::MAX
    }
}

/// `(floor(N / d), N mod d)` for `N = hi·2^128 + lo` and `d > 0`, or `None` when the quotient
/// does not fit `u128` (`hi ≥ d`) or `d` is 0. A numerator that fits `u128` takes the `u128`
/// division (a hardware divide when both operands fit 64 bits); a wider one no division but
/// one `f64` reciprocal.
///
/// **Why four checks suffice.** Let `u = 2^-53` (the unit roundoff of `f64`), `x = N/d` the
/// real quotient (< 2^128 as `hi < d`), and `e = |q − x|` the error of a candidate `q`.
/// - [`wide_to_f64`] is within a relative `u + 2^-63 < 1.001u` of its operand; the reciprocal
///   `fl(1/fl(d))` within `2.01u` of `1/d`; a product rounds once more. So the estimate
///   `fl(fl(N)·inv)` is `x·(1 + ε)` with `|ε| < 4.01u`; [`f64_to_u128`] truncates (and
///   saturates at `u128::MAX`, which only moves it towards `x`): `e₀ < 4.01u·x + 1 < 2^78`.
/// - Each check computes `r = |N − q·d| = e·d` exactly. It returns when `q` is the floor, or
///   one step from it: `0 ≤ N − q·d < 2d` (answer `q` or `q + 1`) or `0 < q·d − N ≤ d`
///   (answer `q − 1`). Otherwise it steps `q` by `max(1, trunc(fl(fl(r)·inv)))` towards `x`;
///   that ratio is `e·(1 + ε)`, `|ε| < 4.01u`, so the new error is `e' < 4.01u·e + 1` (the
///   truncation and the `max` cost at most one unit; the step never crosses `x` by more than
///   `4.01u·e`), and clamping to `[0, u128::MAX]` only moves towards the floor.
/// - So `e₁ < 4.01u·2^78 + 1 < 2^28` and `e₂ < 4.01u·2^28 + 1 < 1 + 2^-22`. A candidate with
///   `e < 2` below `x` returns at its check; one above `x` with `1 < e < 2` steps by exactly 1
///   (`trunc` of a ratio in `(1 − 2^-50, 2)`, or the `max`) to `e < 1`, which returns at the
///   next check. So at most `q₀ … q₃` are checked. Quotients below 2^70 (raw outputs up to
///   ~10^21) have `e₀ < 2^20`, `e₁ < 2`: at most three checks; below 2^48, `e₀ < 2`: two.
///
/// The answer is only ever returned after an exact check, so a wrong bound would cost time
/// (the `U256` fallback), never a wrong quotient.
#[inline]
fn div_wide(hi: u128, lo: u128, d: u128) -> Option<(u128, u128)> {
    if hi >= d {
        return None;
    }
    if hi == 0 {
        return Some((lo / d, lo % d));
    }
    // One f64 division for the reciprocal; the estimate and every step multiply by it.
    let inv = 1.0 / wide_to_f64(0, d);
    // Finite and ≥ 0: d ≥ 1, N < 2^256.
    let q0 = f64_to_u128(wide_to_f64(hi, lo) * inv);
    Some(div_wide_from(hi, lo, d, inv, q0, MAX_CHECKS))
}

/// [`div_wide`] from the estimate `q0`: the exact correction, then the `U256` division if it
/// did not settle in `checks` checks. Requires `d > hi` (so `d > 0`); `inv` is
/// `1 / wide_to_f64(0, d)`. Tests pass a wrong estimate or fewer checks to force the fallback.
#[inline]
fn div_wide_from(hi: u128, lo: u128, d: u128, inv: f64, q0: u128, checks: u32) -> (u128, u128) {
    match correct(hi, lo, d, inv, q0, checks) {
        Some(qr) => qr,
        None => div_u256(hi, lo, d),
    }
}

/// The exact correction of [`div_wide`]: `Some((q, r))` with `q·d + r = N`, `r < d`, found in at
/// most `checks` exact checks from `q0`, else `None`. Requires `d > hi`; `inv` is
/// `1 / wide_to_f64(0, d)` (any finite value ≥ 0 keeps the result exact: only the speed
/// depends on it).
#[inline]
fn correct(hi: u128, lo: u128, d: u128, inv: f64, q0: u128, checks: u32) -> Option<(u128, u128)> {
    let mut q = q0;
    for _ in 0..checks {
        let (ph, pl) = mul_wide(q, d);
        if (ph, pl) <= (hi, lo) {
            // r = N − q·d ≥ 0.
            let (rl, borrow) = lo.overflowing_sub(pl);
            let rh = hi - ph - u128::from(borrow);
            if rh == 0 && rl < d {
                return Some((q, rl));
            }
            // q + 1 is the floor when r < 2d; q + 1 ≤ floor < 2^128 cannot overflow then.
            if rh == 0 && rl - d < d {
                return Some((q + 1, rl - d));
            }
            let step = f64_to_u128(wide_to_f64(rh, rl) * inv);
            q = q.saturating_add(step.max(1));
        } else {
            // r = q·d − N > 0.
            let (rl, borrow) = pl.overflowing_sub(lo);
            let rh = ph - hi - u128::from(borrow);
            if rh == 0 && rl <= d {
                // (q − 1)·d ≤ N, and q ≥ 1 because q·d > N ≥ 0.
                return Some((q - 1, d - rl));
            }
            let step = f64_to_u128(wide_to_f64(rh, rl) * inv);
            q = q.saturating_sub(step.max(1));
        }
    }
    None
}

/// `(floor(N / d), N mod d)` by `U256` division, for `d > hi` (the quotient fits u128).
#[cold]
#[inline(never)]
fn div_u256(hi: u128, lo: u128, d: u128) -> (u128, u128) {
    let limb = |x: u128, half: u32| (x >> (64 * half)) as u64;
    let n = U256::from_limbs([limb(lo, 0), limb(lo, 1), limb(hi, 0), limb(hi, 1)]);
    let (q, r) = n.div_rem(U256::from(d));
    (q.saturating_to::<u128>(), r.saturating_to::<u128>())
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

    /// The U256 formula, written independently of the code under test (U512, no fast path):
    /// `floor(a·k·R_out / (R_in·10⁶ + a·k))`, `k = 10⁶ − f`.
    fn reference_out(a: u128, r_in: u128, r_out: u128, f: u32) -> u128 {
        if a == 0 || r_in == 0 || r_out == 0 || f >= PIPS {
            return 0;
        }
        let a_keep = U512::from(a) * U512::from(PIPS - f);
        let den = U512::from(r_in) * U512::from(PIPS) + a_keep;
        (a_keep * U512::from(r_out) / den).saturating_to::<u128>()
    }

    /// `ceil(o·R_in·10⁶ / ((R_out − o)·k))` in U512, `None` past u128 or when unreachable.
    fn reference_in(o: u128, r_in: u128, r_out: u128, f: u32) -> Option<u128> {
        if f >= PIPS {
            return None;
        }
        if o == 0 {
            return Some(0);
        }
        if r_in == 0 || o >= r_out {
            return None;
        }
        let num = U512::from(o) * U512::from(r_in) * U512::from(PIPS);
        let den = U512::from(r_out - o) * U512::from(PIPS - f);
        u128::try_from(num.div_ceil(den)).ok()
    }

    /// Fees the DEXes use, pips: V2 forks (0.3 %, Pancake's 0.25 % and 0.2 %, 0.1 %), V3
    /// tiers (0.01 %, 0.05 %, 1 %), Algebra's dynamic fee up to uint16, and the extremes.
    const DEX_FEES: [u32; 11] = [
        0, 1, 100, 500, 1_000, 2_000, 2_500, 3_000, 10_000, 65_535, 999_999,
    ];

    /// A value with a uniformly drawn bit length in `1..=bits`: raw amounts span 30 orders of
    /// magnitude (6- and 18-decimal tokens, dust and whales), which a uniform draw over the
    /// range would miss (it is almost always ~2^111).
    fn log_uniform(bits: u32) -> impl Strategy<Value = u128> {
        (1..=bits).prop_flat_map(|b| (1u128 << (b - 1))..=(u128::MAX >> (128 - b)))
    }

    /// Reserves and amounts over the whole uint112 range: log-uniform, uniform, or tiny.
    fn u112_value() -> impl Strategy<Value = u128> {
        prop_oneof![4 => log_uniform(112), 1 => 1u128..=U112, 1 => 1u128..=16]
    }

    fn fee() -> impl Strategy<Value = u32> {
        prop_oneof![3 => prop::sample::select(DEX_FEES.to_vec()), 1 => 0u32..PIPS]
    }

    /// The reciprocal `div_wide` multiplies by.
    fn inv(d: u128) -> f64 {
        1.0 / wide_to_f64(0, d)
    }

    /// `N = q·d + r` as `(hi, lo)`.
    fn compose(q: u128, d: u128, r: u128) -> (u128, u128) {
        let n = U256::from(q) * U256::from(d) + U256::from(r);
        let l = n.as_limbs().map(u128::from);
        (l[2] | l[3] << 64, l[0] | l[1] << 64)
    }

    #[test]
    fn mul_wide_matches_u256() {
        let vals = [
            0,
            1,
            2,
            u64::MAX as u128,
            1u128 << 64,
            (1u128 << 64) + 1,
            U112,
            u128::MAX - 1,
            u128::MAX,
        ];
        for &a in &vals {
            for &b in &vals {
                let (hi, lo) = mul_wide(a, b);
                let n = U256::from(a) * U256::from(b);
                let l = n.as_limbs().map(u128::from);
                assert_eq!((hi, lo), (l[2] | l[3] << 64, l[0] | l[1] << 64), "{a}·{b}");
            }
        }
    }

    /// A grid of special values (powers of two around the f64 mantissa, the u64 and u128 fast
    /// path limits, uint112's top), every combination, every DEX fee.
    #[test]
    fn edge_grid_matches_the_u256_formula() {
        let vals = [
            1,
            2,
            3,
            997,
            (1u128 << 53) - 1,
            1u128 << 53,
            (1u128 << 53) + 1,
            u64::MAX as u128,
            1u128 << 64,
            10u128.pow(18),
            10u128.pow(24) + 7,
            (1u128 << 107) + 12_345,
            (1u128 << 108) - 1,
            1u128 << 108,
            U112 - 1,
            U112,
        ];
        for &a in &vals {
            for &r_in in &vals {
                for &r_out in &vals {
                    for f in DEX_FEES {
                        assert_eq!(
                            get_amount_out(a, r_in, r_out, f),
                            reference_out(a, r_in, r_out, f),
                            "out({a}, {r_in}, {r_out}, {f})"
                        );
                        assert_eq!(
                            get_amount_in(a, r_in, r_out, f),
                            reference_in(a, r_in, r_out, f),
                            "in({a}, {r_in}, {r_out}, {f})"
                        );
                    }
                }
            }
        }
    }

    /// Amounts that take the `U256` path (a·k or R·10⁶ past u128) give the formula's result.
    #[test]
    fn wide_inputs_take_the_u256_path_exactly() {
        for (a, r_in, r_out) in [
            (U112, 1_000, U112),
            (1u128 << 109, U112, U112),
            (5, U112, U112),
        ] {
            for f in DEX_FEES {
                assert_eq!(
                    get_amount_out(a, r_in, r_out, f),
                    reference_out(a, r_in, r_out, f)
                );
                let o = r_out / 3;
                assert_eq!(
                    get_amount_in(o, r_in, r_out, f),
                    reference_in(o, r_in, r_out, f)
                );
            }
        }
    }

    /// 4 096 cases a property, 1 000 000 with `POLYARB_LONG=1`.
    fn cases() -> ProptestConfig {
        let long = std::env::var_os("POLYARB_LONG").is_some_and(|v| v == "1");
        ProptestConfig::with_cases(if long { 1_000_000 } else { 4_096 })
    }

    proptest! {
        #![proptest_config(cases())]

        #[test]
        fn fast_amount_out_equals_the_u256_formula(
            a in u112_value(), r_in in u112_value(), r_out in u112_value(), f in fee(),
        ) {
            prop_assert_eq!(get_amount_out(a, r_in, r_out, f), reference_out(a, r_in, r_out, f));
        }

        /// Amounts near the reserve, results of 0 (a tiny input against a deep input reserve)
        /// and huge price ratios (one reserve tiny, the other near uint112).
        #[test]
        fn fast_amount_out_edges_equal_the_u256_formula(
            r_in in u112_value(), r_out in u112_value(), gap in 0u128..1_000, tiny in 1u128..=16,
            f in fee(),
        ) {
            for a in [r_in.saturating_sub(gap).max(1), r_in + gap, tiny, U112 - gap] {
                prop_assert_eq!(get_amount_out(a, r_in, r_out, f), reference_out(a, r_in, r_out, f));
            }
            for (ri, ro) in [(tiny, r_out), (r_in, tiny), (tiny, U112 - gap), (U112 - gap, tiny)] {
                prop_assert_eq!(get_amount_out(r_in, ri, ro, f), reference_out(r_in, ri, ro, f));
            }
        }

        #[test]
        fn fast_amount_in_equals_the_u256_formula(
            o in u112_value(), r_in in u112_value(), r_out in u112_value(), f in fee(),
        ) {
            // Outputs below the reserve (the only reachable ones), near it, and past it.
            let below = o % r_out;
            for out in [below, r_out.saturating_sub(o % 1_000).max(1) - 1, r_out - 1, o] {
                prop_assert_eq!(get_amount_in(out, r_in, r_out, f), reference_in(out, r_in, r_out, f));
            }
        }

        /// The correction settles within [`MAX_CHECKS`] for every quotient that fits u128, so
        /// the fallback is never taken (this is `div_wide`'s proof, checked).
        #[test]
        fn correction_settles_without_the_fallback(
            q in prop_oneof![log_uniform(128), Just(0u128), Just(u128::MAX)],
            d in prop_oneof![log_uniform(128), Just(1u128), Just(u128::MAX)],
            r_seed in any::<u128>(),
        ) {
            let r = r_seed % d;
            let (hi, lo) = compose(q, d, r);
            let q0 = f64_to_u128(wide_to_f64(hi, lo) * inv(d));
            prop_assert_eq!(correct(hi, lo, d, inv(d), q0, MAX_CHECKS), Some((q, r)));
            // The proof's counts for smaller quotients.
            if q < 1 << 70 {
                prop_assert_eq!(correct(hi, lo, d, inv(d), q0, 3), Some((q, r)));
            }
            if q < 1 << 48 {
                prop_assert_eq!(correct(hi, lo, d, inv(d), q0, 2), Some((q, r)));
            }
            prop_assert_eq!(div_wide(hi, lo, d), Some((q, r)));
        }

        /// The fallback: with no checks allowed, or from a wrong estimate, the result is still
        /// the exact quotient and remainder.
        #[test]
        fn fallback_gives_the_exact_quotient(
            q in log_uniform(128), d in log_uniform(128), r_seed in any::<u128>(),
            q0 in prop_oneof![Just(0u128), Just(u128::MAX), any::<u128>()],
        ) {
            let r = r_seed % d;
            let (hi, lo) = compose(q, d, r);
            prop_assert_eq!(correct(hi, lo, d, inv(d), q0, 0), None);
            prop_assert_eq!(div_wide_from(hi, lo, d, inv(d), q0, 0), (q, r));
            prop_assert_eq!(div_wide_from(hi, lo, d, inv(d), q0, MAX_CHECKS), (q, r));
        }
    }

    /// The integer an `f64` of an integer ≥ 0 holds, exactly.
    fn f64_exact(v: f64) -> U512 {
        let bits = v.to_bits();
        let e = ((bits >> 52) & 0x7ff) as usize;
        if e == 0 {
            return U512::ZERO;
        }
        let m = U512::from((bits & ((1 << 52) - 1)) | (1 << 52));
        if e >= 1_075 {
            m << (e - 1_075)
        } else {
            m >> (1_075 - e)
        }
    }

    proptest! {
        #![proptest_config(cases())]

        /// `wide_to_f64` is within a relative `2^-53 + 2^-63` of its operand (the bound the
        /// correction's proof uses): `|v − N|·2^63 ≤ N·(2^10 + 1)`.
        #[test]
        fn wide_to_f64_is_within_its_bound(
            hi in prop_oneof![Just(0u128), log_uniform(128)],
            lo in prop_oneof![log_uniform(128), any::<u128>(), 0u128..=2],
        ) {
            let n = (U512::from(hi) << 128) | U512::from(lo);
            let v = f64_exact(wide_to_f64(hi, lo));
            let diff = if v > n { v - n } else { n - v };
            prop_assert!(diff << 63 <= n * U512::from(1_025u32), "{hi} {lo}");
        }

        /// `f64_to_u128` is `as u128` for every finite `x ≥ 0`.
        #[test]
        fn f64_to_u128_truncates_like_as(bits in 0u64..0x7ff0_0000_0000_0000) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(f64_to_u128(x), x as u128);
        }
    }

    #[test]
    fn f64_to_u128_edges() {
        for x in [
            0.0,
            0.5,
            1.0,
            1.5,
            2f64.powi(52),
            2f64.powi(53) + 2.0,
            2f64.powi(127),
            2f64.powi(128),
            f64::MAX,
            f64::INFINITY,
        ] {
            assert_eq!(f64_to_u128(x), x as u128, "{x}");
        }
        assert_eq!(wide_to_f64(0, 0), 0.0);
        assert_eq!(wide_to_f64(u128::MAX, u128::MAX), 2f64.powi(256));
    }

    /// A quotient that does not fit u128 is refused, not wrapped.
    #[test]
    fn quotient_past_u128_is_refused() {
        assert_eq!(div_wide(5, 0, 5), None);
        assert_eq!(div_wide(0, 7, 0), None);
        // 4·2^128 / 5: the largest numerator high half 5 allows.
        let (q, r) = div_wide(4, 0, 5).unwrap();
        assert_eq!(compose(q, 5, r), (4, 0));
        assert!(r < 5);
    }

    /// From a zero estimate one check cannot settle a quotient ≥ 2 (`N − 0·d ≥ 2d`): the
    /// fallback is really taken, and exact. (From 0 with [`MAX_CHECKS`] the correction often
    /// still settles: the first step is the usual estimate.)
    #[test]
    fn a_zero_estimate_with_one_check_takes_the_fallback() {
        for (q, d, r) in [
            (u128::MAX - 12_345, (1u128 << 100) + 3, 17),
            (2, 7, 6),
            (1u128 << 90, 3, 0),
        ] {
            let (hi, lo) = compose(q, d, r);
            assert_eq!(correct(hi, lo, d, inv(d), 0, 1), None);
            assert_eq!(div_wide_from(hi, lo, d, inv(d), 0, 1), (q, r));
            assert_eq!(div_u256(hi, lo, d), (q, r));
        }
    }
}
