//! The per-cycle search: a fixed-point screen, exact integer sizing, and valuation in the
//! native token.
//!
//! Everything here works on values copied onto the stack (at most [`MAX_HOPS`] hops), so the
//! search allocates nothing.

use fixed::types::U8F56;

use alloy_primitives::{I256, U256};

use crate::clmm::rate::edge_rate_upper_bound;
use crate::clmm::swap::{PoolState as ClState, SwapKind, quote_exact_in, swap};
use crate::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
use crate::funding::Premium;
use crate::optimum::Curve;
use crate::pools::{PoolId, Pools, TokenId, U112_MAX};
use crate::v2::{get_amount_in, get_amount_out};
use crate::{MAX_HOPS, PIPS};

/// An upper bound on one hop's marginal rate `(1 − fee)·R_out/R_in` (raw output units per raw
/// input unit at zero size): the rate is at most `mant · 2^exp`.
///
/// Why this representation: raw-unit rates span about 2^±112 (reserves are anything up to
/// uint112, and a 6-decimal token against an 18-decimal one alone shifts the rate by 10^12 ≈
/// 2^40), so no single fixed-point scale holds them — `U64F64` would flush a WMATIC→USDC rate
/// (~5·10^-13) to a few million ulps and a dust-priced token to zero. Splitting off a binary
/// exponent (block floating point with a `U8F56` fixed-point mantissa in (½, 2]) keeps 55
/// significant bits for every rate whatever the decimals, and a product of four mantissas
/// (< 16) still fits `U8F56` without renormalising.
///
/// Why it never falsely rejects: every rounding goes up — reserves feeding the numerator are
/// rounded up and those feeding the denominator down, the division is a ceiling, and each
/// mantissa product is `floor + 1 ulp` — so the screened product is ≥ the true one. Profit is
/// concave in the input and its slope at zero is `product − 1`, so when even the upper bound
/// is ≤ 1 no input size can profit. The slack is below 2^-50 relative, so false passes are
/// rare and the exact sizing rejects them anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EdgeRate {
    mant: U8F56,
    exp: i32,
}

impl EdgeRate {
    /// A hop that gives nothing out (empty reserve or a 100 % fee).
    pub(crate) const ZERO: Self = Self {
        mant: U8F56::ZERO,
        exp: 0,
    };

    /// Upper bound on `(10⁶ − fee_pips)·reserve_out / (10⁶·reserve_in)`; reserves in raw
    /// token units, fee in pips.
    pub(crate) fn upper_bound(reserve_in: u128, reserve_out: u128, fee_pips: u32) -> Self {
        let keep = match PIPS.checked_sub(fee_pips) {
            Some(k) if k > 0 => u128::from(k),
            _ => return Self::ZERO,
        };
        if reserve_in == 0 || reserve_out == 0 {
            return Self::ZERO;
        }
        // Numerator R_out·keep ≤ n·2^ne, rounded up in two steps so nothing overflows u128
        // (a mantissa ≤ 2^64 times keep < 2^20 stays below 2^84).
        let (m, e1) = split_up(reserve_out);
        let (n, e2) = split_up(m * keep);
        // Denominator R_in·10⁶ ≥ d·2^de, rounded down the same way.
        let (m, f1) = split_down(reserve_in);
        let (d, f2) = split_down(m * u128::from(PIPS));
        // n ∈ [2^63, 2^64], d ∈ [2^63, 2^64): q = ceil(n·2^56 / d) ∈ [2^55, 2^57].
        let q = (n << 56).div_ceil(d);
        Self {
            mant: U8F56::from_bits(u64::try_from(q).unwrap_or(u64::MAX)),
            exp: e1 + e2 - f1 - f2,
        }
    }
}

impl EdgeRate {
    /// Upper bound on a concentrated pool's zero-size rate at sqrt price `sqrt_price_x96`
    /// (Q64.96), fee in pips, `zero_for_one` = token0 in ([`crate::clmm::rate`]).
    pub(crate) fn concentrated(sqrt_price_x96: U256, fee_pips: u32, zero_for_one: bool) -> Self {
        let r = edge_rate_upper_bound(sqrt_price_x96, fee_pips, zero_for_one);
        Self {
            mant: U8F56::from_bits(r.mant_bits),
            exp: r.exp,
        }
    }
}

/// `x ≤ m·2^e` with `m ∈ [2^63, 2^64]`; `x` must be non-zero.
#[inline]
fn split_up(x: u128) -> (u128, i32) {
    let bits = 128 - x.leading_zeros() as i32;
    if bits <= 64 {
        (x << (64 - bits), bits - 64)
    } else {
        let s = bits - 64;
        let lost = x & ((1u128 << s) - 1) != 0;
        ((x >> s) + u128::from(lost), s)
    }
}

/// `x ≥ m·2^e` with `m ∈ [2^63, 2^64)`; `x` must be non-zero.
#[inline]
fn split_down(x: u128) -> (u128, i32) {
    let bits = 128 - x.leading_zeros() as i32;
    if bits <= 64 {
        (x << (64 - bits), bits - 64)
    } else {
        let s = bits - 64;
        (x >> s, s)
    }
}

/// The screen: false only if the product of the hops' marginal rates is certainly ≤ 1, i.e.
/// the cycle cannot profit at any size. Conservative by construction (see [`EdgeRate`]).
#[inline]
pub(crate) fn screen(rates: &[EdgeRate]) -> bool {
    let Some((first, rest)) = rates.split_first() else {
        return false;
    };
    if rates.iter().any(|r| r.mant == U8F56::ZERO) {
        return false;
    }
    let mut mant = first.mant;
    let mut exp = first.exp;
    for r in rest {
        // floor(mant·r) + 1 ulp ≥ mant·r: keeps the product an upper bound.
        match mant.checked_mul_add(r.mant, U8F56::DELTA) {
            Some(m) => mant = m,
            None => return true, // cannot happen up to 4 hops (product < 16); pass, never drop
        }
        exp += r.exp;
    }
    // Is mant·2^exp > 1, i.e. mant_bits·2^(exp − 56) > 1, i.e. mant_bits > 2^(56 − exp)?
    let k = 56 - exp;
    if k < 0 {
        true
    } else if k >= 64 {
        false
    } else {
        mant.to_bits() > 1u64 << k
    }
}

/// A V2 hop as the sizing sees it: reserves in raw units of the input and output token, fee in
/// pips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct V2Hop {
    pub(crate) reserve_in: u128,
    pub(crate) reserve_out: u128,
    pub(crate) fee_pips: u32,
}

/// A concentrated-liquidity hop: the pool (its ticks are read from the tables), the direction,
/// the contract's swap with its fee, and the state the swap starts from (the tables', or the
/// overlay's after an earlier route of the same update).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClHop {
    pub(crate) pool: PoolId,
    pub(crate) zero_for_one: bool,
    pub(crate) kind: SwapKind,
    pub(crate) state: ClState,
    /// The most active liquidity in the pool's window, for bounds ([`crate::ClView`]).
    pub(crate) liquidity_max: u128,
}

/// One hop of a cycle, by pool kind (a closed set, dispatched by `match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HopState {
    V2(V2Hop),
    Cl(ClHop),
}

impl Default for HopState {
    fn default() -> Self {
        Self::V2(V2Hop::default())
    }
}

impl HopState {
    /// A V2 hop.
    pub(crate) fn v2(reserve_in: u128, reserve_out: u128, fee_pips: u32) -> Self {
        Self::V2(V2Hop {
            reserve_in,
            reserve_out,
            fee_pips,
        })
    }

    /// `(virtual input reserve, virtual output reserve, fee factor)` in `f64`: a V2 pair's own
    /// reserves; a concentrated pool's current range as the V2 curve it follows there
    /// (`L/√P` of token0, `L·√P` of token1, in raw units). Only estimates use this.
    fn virtual_reserves(&self) -> (f64, f64, f64) {
        self.virtual_reserves_with(false)
    }

    /// [`HopState::virtual_reserves`], or with `upper` the V2 curve that pays at least what
    /// the hop pays for any input: a concentrated pool's current price with the most liquidity
    /// its window has (more liquidity everywhere moves the price less, so every marginal rate
    /// along the way is at least the pool's).
    fn virtual_reserves_with(&self, upper: bool) -> (f64, f64, f64) {
        let keep = |fee_pips: u32| f64::from(PIPS.saturating_sub(fee_pips)) / f64::from(PIPS);
        match self {
            Self::V2(h) => (h.reserve_in as f64, h.reserve_out as f64, keep(h.fee_pips)),
            Self::Cl(h) => {
                let sqrt_p = f64::from(h.state.sqrt_price_x96) / Q96;
                let l = if upper {
                    h.liquidity_max.max(h.state.liquidity)
                } else {
                    h.state.liquidity
                } as f64;
                let (r0, r1) = (l / sqrt_p, l * sqrt_p);
                let fee = match h.kind {
                    SwapKind::UniswapV3 { fee_pips } => fee_pips,
                    SwapKind::Algebra { fee } => u32::from(fee),
                };
                let (r_in, r_out) = if h.zero_for_one { (r0, r1) } else { (r1, r0) };
                (r_in, r_out, keep(fee))
            }
        }
    }
}

impl HopState {
    /// The real marginal rate at zero size (output per input, raw units, fee included), `f64`.
    fn zero_size_rate(&self) -> f64 {
        let keep = |fee_pips: u32| f64::from(PIPS.saturating_sub(fee_pips)) / f64::from(PIPS);
        match self {
            Self::V2(v) => keep(v.fee_pips) * v.reserve_out as f64 / v.reserve_in as f64,
            Self::Cl(c) => {
                let fee = match c.kind {
                    SwapKind::UniswapV3 { fee_pips } => fee_pips,
                    SwapKind::Algebra { fee } => u32::from(fee),
                };
                let sqrt_p = f64::from(c.state.sqrt_price_x96) / Q96;
                let price = sqrt_p * sqrt_p; // token1 per token0, raw units
                keep(fee) * if c.zero_for_one { price } else { 1.0 / price }
            }
        }
    }
}

/// 2^96 as `f64`: Q64.96 to real.
const Q96: f64 = 79_228_162_514_264_337_593_543_950_336.0;

/// A sized cycle: exact amounts, raw token units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sizing {
    /// Input to the first hop, raw units of the start token.
    pub(crate) amount_in: u128,
    /// Output of each hop (each pool's own rounding, chained), raw units of that hop's output
    /// token.
    pub(crate) outs: [u128; MAX_HOPS],
    /// Initialized ticks each concentrated hop crosses (0 for V2 hops).
    pub(crate) ticks: [u16; MAX_HOPS],
    /// `outs[last] − amount_in`, raw units of the start token; always > 0.
    pub(crate) profit: u128,
    /// Proven the integer optimum (every input that could do better was tried); otherwise the
    /// best the search found (see [`size`]).
    pub(crate) exact: bool,
}

/// What an exact run of the hops gives for one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) outs: [u128; MAX_HOPS],
    pub(crate) ticks: [u16; MAX_HOPS],
    /// Each concentrated hop's pool state after its swap (`None` for V2 hops).
    pub(crate) after: [Option<ClState>; MAX_HOPS],
}

/// Sqrt price limit of an exact-input swap with no limit: one step inside the bound.
fn no_limit(zero_for_one: bool) -> U256 {
    if zero_for_one {
        MIN_SQRT_RATIO + U256::from(1u8)
    } else {
        MAX_SQRT_RATIO - U256::from(1u8)
    }
}

/// One concentrated swap of exactly `amount_in`: `(output, ticks crossed, state after)`, or
/// `None` if the pool would not take the whole input (price bound), the swap needs ticks
/// outside the loaded window, or pays nothing.
pub(crate) fn cl_swap_exact_in(
    pools: &Pools,
    h: &ClHop,
    amount_in: u128,
) -> Option<(u128, u16, ClState)> {
    let view = pools.cl(h.pool)?;
    let amount = I256::try_from(amount_in).ok()?;
    let r = swap(
        h.kind,
        &h.state,
        &view.ticks,
        h.zero_for_one,
        amount,
        no_limit(h.zero_for_one),
    )
    .ok()?;
    let (paid, out) = if h.zero_for_one {
        (r.amount0, r.amount1)
    } else {
        (r.amount1, r.amount0)
    };
    if r.hit_window_edge || paid != amount || !out.is_negative() {
        return None;
    }
    let out = u128::try_from(out.unsigned_abs()).ok()?;
    let after = ClState {
        sqrt_price_x96: r.sqrt_price_x96,
        tick: r.tick,
        liquidity: r.liquidity,
        tick_spacing: h.state.tick_spacing,
    };
    Some((
        out,
        u16::try_from(r.ticks_crossed).unwrap_or(u16::MAX),
        after,
    ))
}

/// Exact outputs of every hop for input `x`, or `None` if a hop gives nothing, a V2 pair's
/// input balance would pass uint112 (its `swap` would revert with `OVERFLOW`), or a
/// concentrated hop cannot be priced exactly (see [`cl_swap_exact_in`]).
#[inline]
pub(crate) fn simulate(pools: &Pools, hops: &[HopState], x: u128) -> Option<Run> {
    let mut run = Run {
        outs: [0; MAX_HOPS],
        ticks: [0; MAX_HOPS],
        after: [None; MAX_HOPS],
    };
    let mut amount = x;
    for (i, h) in hops.iter().enumerate().take(MAX_HOPS) {
        amount = match h {
            HopState::V2(h) => {
                if h.reserve_in.checked_add(amount)? > U112_MAX {
                    return None;
                }
                get_amount_out(amount, h.reserve_in, h.reserve_out, h.fee_pips)
            }
            HopState::Cl(h) => {
                let (out, ticks, after) = cl_swap_exact_in(pools, h, amount)?;
                run.ticks[i] = ticks;
                run.after[i] = Some(after);
                out
            }
        };
        if amount == 0 {
            return None;
        }
        run.outs[i] = amount;
    }
    Some(run)
}

/// Profit (raw start-token units, may be negative) and the run for input `x`, net of the
/// lender's `premium` on `x`.
#[inline]
fn profit_at(pools: &Pools, hops: &[HopState], x: u128, premium: Premium) -> Option<(i128, Run)> {
    let run = simulate(pools, hops, x)?;
    let last = *run.outs.get(hops.len().checked_sub(1)?)?;
    let cost = x.checked_add(premium.of(x)?)?;
    Some((i128::try_from(last).ok()? - i128::try_from(cost).ok()?, run))
}

/// The hops composed into one virtual V2 pool `(E_in, E_out, γ)` in `f64` (γ the first hop's
/// fee factor; concentrated hops as their current range's curve). See [`estimate_input`].
fn virtual_pool(hops: &[HopState]) -> Option<(f64, f64, f64)> {
    virtual_pool_with(hops, false)
}

/// [`virtual_pool`], with `upper` composing each hop's upper V2 curve
/// ([`HopState::virtual_reserves_with`]).
fn virtual_pool_with(hops: &[HopState], upper: bool) -> Option<(f64, f64, f64)> {
    let (first, rest) = hops.split_first()?;
    let (mut e_in, mut e_out, gamma) = first.virtual_reserves_with(upper);
    for h in rest {
        let (r_in, r_out, g) = h.virtual_reserves_with(upper);
        let d = r_in + g * e_out;
        if d <= 0.0 {
            return None;
        }
        e_in = e_in * r_in / d;
        e_out = g * e_out * r_out / d;
    }
    Some((e_in, e_out, gamma))
}

/// Relative error allowed for the `f64` virtual pool in [`profit_bound`]: far above what its few
/// dozen roundings (each ≤ 2^-53 relative) can add up to, so the bound stays a bound.
const BOUND_SLACK: f64 = 1e-9;

/// An upper bound on the profit (raw start-token units) of any input to `hops`.
///
/// All V2 hops: the real composed function's maximum `(√E_out − √(E_in/γ))²`, with `E_out`
/// inflated and `E_in/γ` deflated by [`BOUND_SLACK`] so `f64` rounding cannot push it below
/// the truth. The pairs' floors only lower the integer profit, and a capital cap only restricts
/// the input, so no sizing can beat it. Cheap (one composition, two square roots): the search
/// sizes exactly only the cycles whose bound could beat the best found so far.
///
/// With a concentrated hop, each such hop is replaced by the V2 curve with the most liquidity
/// its window has at its current price, which pays at least what the pool pays for any input
/// (inside the window, the only inputs it is priced for); the composed bound above then holds
/// for the cycle. A second, linear bound is taken too (a hop pays at most its zero-size rate
/// times its input, a V2 pair never its whole reserve, capital caps the input), and the smaller
/// wins. `u128::MAX` if `f64` overflows.
pub(crate) fn profit_bound(hops: &[HopState], cap: u128) -> u128 {
    if hops.iter().any(|h| matches!(h, HopState::Cl(_))) {
        return composed_bound(hops, true).min(linear_bound(hops, cap));
    }
    composed_bound(hops, false)
}

/// `(√E_out − √(E_in/γ))²` of the hops' composed virtual pool (each hop's upper curve with
/// `upper`), with [`BOUND_SLACK`].
fn composed_bound(hops: &[HopState], upper: bool) -> u128 {
    let Some((e_in, e_out, gamma)) = virtual_pool_with(hops, upper) else {
        return 0;
    };
    if gamma <= 0.0 {
        return 0;
    }
    let hi = (e_out * (1.0 + BOUND_SLACK)).sqrt();
    let lo = (e_in / gamma * (1.0 - BOUND_SLACK)).sqrt();
    if hi.is_nan() || lo.is_nan() {
        return u128::MAX;
    }
    if hi <= lo {
        return 0;
    }
    let p = (hi - lo) * (hi - lo);
    // `as` saturates; +1 covers the truncation.
    if p.is_finite() {
        (p as u128).saturating_add(1)
    } else {
        u128::MAX
    }
}

/// The concentrated-cycle bound of [`profit_bound`].
fn linear_bound(hops: &[HopState], cap: u128) -> u128 {
    let up = 1.0 + BOUND_SLACK;
    // Π r over all hops, and O: the least V2 output reserve carried through the later rates.
    let mut product = 1.0f64;
    let mut out_cap = f64::INFINITY;
    for h in hops {
        let reserve_out = match h {
            HopState::V2(v) => v.reserve_out as f64,
            HopState::Cl(_) => f64::INFINITY,
        };
        let rate = h.zero_size_rate() * up;
        product *= rate;
        out_cap = (out_cap * rate).min(reserve_out);
    }
    if product.is_nan() || out_cap.is_nan() {
        return u128::MAX;
    }
    if product <= 1.0 {
        return 0;
    }
    let by_reserves = out_cap * (1.0 - 1.0 / product);
    let by_capital = (product - 1.0) * cap as f64;
    let p = by_reserves.min(by_capital);
    if p.is_finite() {
        (p as u128).saturating_add(1)
    } else {
        u128::MAX
    }
}

/// Closed-form optimal input, raw start-token units: compose the hops into one virtual V2 pool
/// `(E_in, E_out)` with the first hop's fee γ, then `x* = (√(γ·E_in·E_out/(1+r)) − E_in)/γ`,
/// where `r` is the lender's premium per unit borrowed (where the slope of the composed output
/// `γ·E_in·E_out/(E_in + γx)²` falls to `1 + r`).
/// Composing a virtual pool with a real hop `(r_in, r_out, g)`:
/// `E_in' = E_in·r_in/(r_in + g·E_out)`, `E_out' = g·E_out·r_out/(r_in + g·E_out)`.
/// In `f64`: it is only the starting point of the exact search, and f64 spans any uint112
/// reserve with 53 significant bits. `None` if the cycle has no positive optimum.
pub(crate) fn estimate_input(hops: &[HopState], rate: f64) -> Option<u128> {
    let (e_in, e_out, gamma) = virtual_pool(hops)?;
    let unit = 1.0 + rate;
    if !(gamma > 0.0 && gamma * e_out > e_in * unit) {
        return None; // also catches NaN
    }
    let x = ((gamma * e_in * e_out / unit).sqrt() - e_in) / gamma;
    // `as` saturates and maps NaN to 0.
    if x.is_finite() && x >= 1.0 {
        Some(x as u128)
    } else {
        None
    }
}

/// Most profit evaluations one sizing may spend (each is one exact swap per hop).
pub(crate) const MAX_EVALS: u32 = 96;

/// Most times [`size`] halves an estimate whose run cannot be priced.
const MAX_HALVINGS: u32 = 16;

/// Sizes a cycle exactly. A cycle with a concentrated hop: bisection on the slope of the real
/// curve ([`size_concentrated`]). All-V2: start at the closed-form estimate `x̂` (the real
/// curve's optimum, up to f64), then a bounded pattern search on the exact integer profit.
/// Steps start at `x̂/2^20` (the f64 estimate lands well within
/// that for any edge worth taking), double after each improving move (so a poor estimate is
/// still reached within the budget) and halve when neither neighbour improves, stopping below
/// `max(1, x̂/2^26)`: the smooth profit curve is flat there (a relative miss of 2^-26 in the
/// input costs ~2^-52 of the profit), and what is left is the pools' floor rounding, which a
/// finer search would only chase. Profit is unimodal in the input (concave, up to that
/// rounding), so this lands next to the optimum; a final backward pass with each pool's exact
/// inverse then trims the input to the smallest one giving the same final output.
/// At most [`MAX_EVALS`] + 2 evaluations; typically about 20. `None` if no input in range
/// profits. The input never exceeds `cap` (what the funding source can provide, raw units):
/// past the optimum that is no loss, and below it profit rises up to `cap`, so the search ends
/// there. Profit is net of the lender's `premium` throughout (still concave: the premium is
/// linear in the input, up to one unit of rounding).
pub(crate) fn size(
    pools: &Pools,
    hops: &[HopState],
    cap: u128,
    premium: Premium,
) -> Option<Sizing> {
    if hops.is_empty() || hops.len() > MAX_HOPS {
        return None;
    }
    let x_hat = estimate_input(hops, premium.rate())?;
    let room = match hops[0] {
        HopState::V2(h) => U112_MAX.saturating_sub(h.reserve_in),
        // A concentrated pool reads its input as int256; u128 inputs always fit.
        HopState::Cl(_) => u128::MAX,
    };
    let x_max = room.min(cap);
    if x_max == 0 {
        return None;
    }
    let mut x = x_hat.clamp(1, x_max);
    if hops.iter().any(|h| matches!(h, HopState::Cl(_))) {
        return size_concentrated(pools, hops, x, x_max, premium);
    }
    // V2 only from here.
    let mut start = profit_at(pools, hops, x, premium);
    let mut halvings = 0;
    while start.is_none() && x > 1 && halvings < MAX_HALVINGS {
        x /= 2;
        halvings += 1;
        start = profit_at(pools, hops, x, premium);
    }
    let (mut best, mut run) = start?;
    let min_step = (x >> 26).max(1);
    // V2 cycles start close: their estimate is the real curve's optimum, up to f64.
    let mut step = (x >> 20).max(1);
    let mut evals = 1;
    while evals < MAX_EVALS {
        let mut moved = false;
        for up in [true, false] {
            let cand = if up {
                x.checked_add(step).filter(|&c| c <= x_max)
            } else {
                x.checked_sub(step).filter(|&c| c >= 1)
            };
            let Some(c) = cand else {
                continue;
            };
            evals += 1;
            if let Some((p, r)) = profit_at(pools, hops, c, premium)
                && p > best
            {
                (x, best, run) = (c, p, r);
                moved = true;
                break;
            }
        }
        if moved {
            step = step.saturating_mul(2);
        } else if step <= min_step {
            break;
        } else {
            step = (step / 2).max(1);
        }
    }
    // Shave: floors make the final output a staircase in the input, and the search may stop
    // anywhere on a step. Walk back with each pool's exact inverse to the smallest input that
    // still yields the same final output; the candidate is re-run forward and kept only if it
    // profits more.
    if let Some(&last) = run.outs.get(hops.len() - 1)
        && let Some(x_min) = min_input_for(pools, hops, last)
        && x_min >= 1
        && x_min < x
        && let Some((p, r)) = profit_at(pools, hops, x_min, premium)
        && p > best
    {
        (x, best, run) = (x_min, p, r);
    }
    // Exact: every input that could profit at least `best` lies in the band where the real
    // composed curve does (the pools' floors only lower the integer profit). When that band is
    // narrow, try every input in it: the best of them is the integer optimum, not a local one.
    let mut exact = false;
    if best > 0
        && let Some((a, b)) = band(hops, best, premium)
    {
        let (a, b) = (a.max(1), b.min(x_max));
        if a <= b && b - a < BAND_LIMIT {
            for c in a..=b {
                if let Some((p, r)) = profit_at(pools, hops, c, premium)
                    && (p > best || (p == best && c < x))
                {
                    (x, best, run) = (c, p, r);
                }
            }
            exact = true;
        }
    }
    // Otherwise the certificate: no allowed input beats `best` when the real composed curve,
    // which bounds every integer profit from above, stays below `best + 1` over them.
    if !exact
        && best > 0
        && let Some(curve) = v2_curve(hops, premium)
    {
        exact = curve.proves(best, x_max);
        // Not yet: the search stops where the profit is flat to ~2^-52 of itself, which for
        // large profits is still thousands of units off. The real optimum, exactly: the last
        // input where the curve still rises (bisection on an exact integer test, from `x`).
        // Near it the real profit is flat, and each final output there, bought with the least
        // input that yields it, profits the real curve's value less a rounding loss of about a
        // unit that varies from one output to the next: try the peak's own final output and
        // those next to it, spaced so each needs other intermediate amounts. One whose loss is
        // under the real supremum's fraction closes the certificate.
        let centre = curve
            .peak(x, x_max)
            .and_then(|peak| simulate(pools, hops, peak))
            .map(|r| r.outs[hops.len() - 1]);
        let stride = output_stride(hops);
        let mut tries = 0u128;
        while let Some(centre) = centre
            && !exact
            && tries <= CERTIFY_TRIES
        {
            let step = tries.saturating_mul(stride);
            tries += 1;
            for y in [centre.checked_add(step), centre.checked_sub(step)] {
                let Some(c) = y.and_then(|y| min_input_for(pools, hops, y)) else {
                    continue;
                };
                if (1..=x_max).contains(&c)
                    && let Some((p, r)) = profit_at(pools, hops, c, premium)
                    && p > best
                {
                    (x, best, run) = (c, p, r);
                    exact = curve.proves(best, x_max);
                    if exact {
                        break;
                    }
                }
            }
        }
    }
    (best > 0).then_some(Sizing {
        amount_in: x,
        outs: run.outs,
        ticks: run.ticks,
        profit: best as u128,
        exact,
    })
}

/// Final-output units one unit of the coarsest intermediate amount is worth, at least 1: the
/// largest product of the later hops' prices (`γ·R_out/R_in`) after any hop. Final outputs
/// closer together than this are bought with the same intermediate amounts, so they are the same
/// candidate; `f64`, as only the spacing of candidates depends on it.
fn output_stride(hops: &[HopState]) -> u128 {
    let mut later = 1.0f64;
    let mut widest = 1.0f64;
    for h in hops.iter().skip(1).rev() {
        later *= match h {
            HopState::V2(v) => {
                f64::from(PIPS.saturating_sub(v.fee_pips)) / f64::from(PIPS) * v.reserve_out as f64
                    / v.reserve_in as f64
            }
            HopState::Cl(_) => return 1,
        };
        widest = widest.max(later);
    }
    // `as` saturates and maps NaN to 0.
    (widest as u128).max(1)
}

/// The real profit curve of a cycle of V2 hops ([`Curve`]); `None` with a concentrated hop.
fn v2_curve(hops: &[HopState], premium: Premium) -> Option<Curve> {
    let mut v2 = [V2Hop::default(); MAX_HOPS];
    for (slot, h) in v2.iter_mut().zip(hops) {
        match h {
            HopState::V2(v) => *slot = *v,
            HopState::Cl(_) => return None,
        }
    }
    Curve::new(&v2[..hops.len().min(MAX_HOPS)], premium)
}

/// The real composed curve's slope at input `x` whose exact run is `run`: the product over the
/// hops of each one's marginal rate (output per input, raw units, fee included) where its swap
/// ends. A V2 pair after input `a`: `γ·R_in·R_out/(R_in + γ·a)²`; a concentrated pool: its fee
/// factor times the price its swap ends at (`(√P/2^96)²` token1 per token0, or the inverse).
/// `f64`: the slope only decides on which side of the optimum `x` lies, and an error of 10⁻¹⁵
/// in it moves the stopping point by an amount whose cost in profit is of second order.
fn marginal_product(hops: &[HopState], x: u128, run: &Run) -> f64 {
    let keep = |fee_pips: u32| f64::from(PIPS.saturating_sub(fee_pips)) / f64::from(PIPS);
    let mut product = 1.0;
    let mut amount = x;
    for (i, h) in hops.iter().enumerate().take(MAX_HOPS) {
        product *= match h {
            HopState::V2(v) => {
                let g = keep(v.fee_pips);
                let (r_in, r_out) = (v.reserve_in as f64, v.reserve_out as f64);
                let d = r_in + g * amount as f64;
                g * r_in * r_out / (d * d)
            }
            HopState::Cl(c) => match run.after[i] {
                Some(after) => {
                    let fee = match c.kind {
                        SwapKind::UniswapV3 { fee_pips } => fee_pips,
                        SwapKind::Algebra { fee } => u32::from(fee),
                    };
                    let sqrt_p = f64::from(after.sqrt_price_x96) / Q96;
                    let price = sqrt_p * sqrt_p;
                    keep(fee) * if c.zero_for_one { price } else { 1.0 / price }
                }
                None => 0.0,
            },
        };
        amount = run.outs[i];
    }
    product
}

/// Relative error allowed for in an `f64` slope of up to [`MAX_HOPS`] hops (each rate a few
/// roundings off, multiplied together), with a wide margin.
const SLOPE_ERROR: f64 = 1e-13;

/// Extra doublings or halvings [`size_concentrated`] may take to bracket the optimum around
/// its estimate (the estimate follows the current range's curve, and the optimum can lie many
/// ranges away).
const MAX_BRACKET_STEPS: u32 = 40;

/// [`size`] for a cycle with a concentrated hop. The real composed curve is concave in the
/// input across tick ranges (each hop's marginal rate only falls as its input grows; a range
/// boundary changes the liquidity, not the price), so the real optimum is where its slope
/// ([`marginal_product`]) falls through 1, or the largest input that can be priced (the
/// tick window, a V2 pair's uint112) if it never does before. "Priced and slope ≥ 1" holds on
/// a prefix of the inputs: bracket its end from the estimate by doubling or halving, then
/// bisect until the bracket is 2^-26 of the input wide (the profit curve is flat to ~2^-52 of
/// the profit there). The integer profit is the real one less the pools' floors, a few raw
/// units: the input kept is the better end of the bracket, or the smallest input giving the
/// same final output. About 30 runs; never a grid or a hill-climb.
fn size_concentrated(
    pools: &Pools,
    hops: &[HopState],
    x0: u128,
    x_max: u128,
    premium: Premium,
) -> Option<Sizing> {
    // The net profit's slope is the composed curve's less 1 + the premium rate.
    let unit = 1.0 + premium.rate();
    let rising = |x: u128| {
        profit_at(pools, hops, x, premium)
            .map(|(p, run)| (marginal_product(hops, x, &run) >= unit, p, run))
    };
    // Invariant: `lo` is priced with slope ≥ 1 (0: none found yet); `hi` is not, or is
    // `sentinel` (none found yet).
    let sentinel = x_max.saturating_add(1);
    let (mut lo, mut hi) = (0u128, sentinel);
    let mut x = x0;
    for _ in 0..MAX_BRACKET_STEPS {
        if rising(x).is_some_and(|r| r.0) {
            lo = x;
            if hi != sentinel || x >= x_max {
                break;
            }
            x = x.saturating_mul(2).min(x_max);
        } else {
            hi = x;
            if lo != 0 || x <= 1 {
                break;
            }
            x /= 2;
        }
    }
    if lo == 0 {
        // No input tried gains on the margin: the cycle loses from its first unit.
        return None;
    }
    // Bisect until concavity caps what any input inside the bracket could add over its ends
    // below one raw unit: the real profit at `x` in `[lo, hi]` is at most the one at `lo` plus
    // `(s_lo − 1)·(x − lo)`, and at most the one at `hi` plus `(1 − s_hi)·(hi − x)`, where `s`
    // is the slope at each end. Thin liquidity past a tick bends the curve sharply, so a fixed
    // relative width would not do.
    let slope_at = |x: u128| {
        profit_at(pools, hops, x, premium).map(|(_, run)| marginal_product(hops, x, &run))
    };
    let mut s_lo = slope_at(lo).unwrap_or(f64::INFINITY);
    let mut s_hi = if hi <= x_max { slope_at(hi) } else { None };
    while hi - lo > 1 {
        let width = (hi - lo) as f64;
        let gain_lo = (s_lo - unit) * width;
        let gain_hi = s_hi.map_or(f64::INFINITY, |s| (unit - s) * width);
        // The slopes are products of a few f64 rates, good to ~10⁻¹⁵ each: near the optimum
        // they differ from 1 by less than that, so only a bracket that narrow times the error
        // is trusted.
        if gain_lo.min(gain_hi) + SLOPE_ERROR * width < 1.0 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        match rising(mid) {
            Some((true, _, run)) => {
                lo = mid;
                s_lo = marginal_product(hops, mid, &run);
            }
            Some((false, _, run)) => {
                hi = mid;
                s_hi = Some(marginal_product(hops, mid, &run));
            }
            None => {
                hi = mid;
                s_hi = None;
            }
        }
    }
    // The optimum lies in [lo, hi): take the better priced end.
    let (mut best, mut run) = profit_at(pools, hops, lo, premium)?;
    let mut x = lo;
    if hi <= x_max
        && let Some((p, r)) = profit_at(pools, hops, hi, premium)
        && p > best
    {
        (x, best, run) = (hi, p, r);
    }
    shaved(pools, hops, x, best, run, premium)
}

/// The sizing of input `x` (profit `best`, run `run`), or of the smallest input giving the same
/// final output if that profits more (floors make the output a staircase in the input). `None`
/// if neither profits.
fn shaved(
    pools: &Pools,
    hops: &[HopState],
    x: u128,
    best: i128,
    run: Run,
    premium: Premium,
) -> Option<Sizing> {
    let (mut x, mut best, mut run) = (x, best, run);
    if let Some(&last) = run.outs.get(hops.len() - 1)
        && let Some(x_min) = min_input_for(pools, hops, last)
        && (1..x).contains(&x_min)
        && let Some((p, r)) = profit_at(pools, hops, x_min, premium)
        && p > best
    {
        (x, best, run) = (x_min, p, r);
    }
    (best > 0).then_some(Sizing {
        amount_in: x,
        outs: run.outs,
        ticks: run.ticks,
        profit: best as u128,
        exact: false,
    })
}

/// Total initialized ticks a run crosses, over all hops.
fn total_ticks(ticks: &[u16; MAX_HOPS]) -> u32 {
    ticks.iter().map(|&t| u32::from(t)).sum()
}

/// The largest input below `x_hi` whose run crosses fewer initialized ticks in total than
/// `x_hi`'s run does (`ticks_hi`), sized like [`size`]'s result (shaved to the smallest input
/// with the same final output); `None` if no such input profits.
///
/// Ticks crossed are non-decreasing in the input: a concentrated hop's exact-input swap moves
/// the price at least as far for more input, and every hop's input is non-decreasing in the
/// first one's. So "fewer ticks than at `x_hi`" holds on a prefix `[1, b)` of the inputs, and
/// bisection finds `b − 1` in about `log2(x_hi)` runs. Inputs whose run fails (a hop paying
/// nothing) lie at the small end and count as crossing none.
fn fewer_ticks(
    pools: &Pools,
    hops: &[HopState],
    x_hi: u128,
    ticks_hi: u32,
    premium: Premium,
) -> Option<Sizing> {
    let crosses_all =
        |x: u128| simulate(pools, hops, x).is_some_and(|r| total_ticks(&r.ticks) >= ticks_hi);
    // Invariant: `lo` crosses fewer, `hi` crosses all (`x_hi` does, by definition).
    let (mut lo, mut hi) = (0u128, x_hi);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if crosses_all(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let (best, run) = profit_at(pools, hops, lo, premium)?;
    shaved(pools, hops, lo, best, run, premium)
}

/// Sizes a cycle for the most profit after a cost that steps up with the initialized ticks
/// crossed: `net(profit, ticks)` is the value of a gross profit (raw start-token units) after
/// the cost of a run crossing `ticks`, `None` when the route would not clear its bar; `floor`
/// is the best net already found elsewhere (candidates that cannot beat it are not searched).
///
/// Gross profit is concave in the input (up to the pools' floors) and the cost never falls as
/// the input grows, so the best input after cost is [`size`]'s gross optimum or, for some
/// smaller count of ticks, the largest input crossing that few ([`fewer_ticks`]): inside a
/// stretch with a fixed cost, gross profit still rises towards the optimum. Each such step
/// down is taken only while the net its gross profit could reach with no tick cost at all
/// beats the best so far. Returns the sizing, its net and whether it stopped short of ticks
/// the gross optimum crosses.
pub(crate) fn size_after_cost(
    pools: &Pools,
    hops: &[HopState],
    cap: u128,
    premium: Premium,
    floor: Option<i128>,
    mut net: impl FnMut(u128, &[u16; MAX_HOPS]) -> Option<i128>,
) -> SizedAfterCost {
    let Some(gross) = size(pools, hops, cap, premium) else {
        return SizedAfterCost::Unprofitable;
    };
    let mut best: Option<(Sizing, i128)> = net(gross.profit, &gross.ticks).map(|n| (gross, n));
    let mut shortened = false;
    let mut at = gross;
    let mut ticks = total_ticks(&gross.ticks);
    while ticks > 0 {
        // No input crossing fewer ticks profits more than the gross optimum does.
        let bar = best.map(|b| b.1).max(floor);
        match net(gross.profit, &[0; MAX_HOPS]) {
            Some(reach) if bar.is_none_or(|b| reach > b) => {}
            _ => break,
        }
        let Some(s) = fewer_ticks(pools, hops, at.amount_in, ticks, premium) else {
            break;
        };
        if let Some(n) = net(s.profit, &s.ticks)
            && best.is_none_or(|b| n > b.1)
        {
            best = Some((s, n));
            shortened = true;
        }
        ticks = total_ticks(&s.ticks);
        at = s;
    }
    match best {
        Some((sizing, net)) => SizedAfterCost::Worth {
            sizing,
            net,
            shortened,
        },
        None => SizedAfterCost::BelowCost,
    }
}

/// What [`size_after_cost`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizedAfterCost {
    /// No input profits before cost.
    Unprofitable,
    /// Some input profits, none clears its cost.
    BelowCost,
    /// The best input after cost; `shortened` when it crosses fewer ticks than the gross
    /// optimum.
    Worth {
        sizing: Sizing,
        net: i128,
        shortened: bool,
    },
}

/// Final outputs on each side of the one found that [`size`] tries to buy at a profit the
/// certificate proves best (two evaluations each, one exact inverse chain and one forward run).
const CERTIFY_TRIES: u128 = 16;

/// Most inputs [`size`] tries one by one to prove its result the integer optimum.
pub(crate) const BAND_LIMIT: u128 = 1024;

/// For all-V2 hops, the inputs `[a, b]` (raw start-token units) outside which no integer input
/// can profit `l` or more net of `premium`: where the real composed curve
/// `G(x) = γ·E_out·x/(E_in + γ·x)` has `G(x) − u·x ≥ l` with `u = 1 + premium rate`, the roots
/// of `u·γx² + (u·E_in + γl − γE_out)·x + l·E_in ≤ 0`.
///
/// In `f64`, made conservative three times: `l` is lowered by a bound on the error of the `f64`
/// virtual pool in `G(x) − x` (10⁻¹² of `E_out + E_in/γ`, plus 1) and by the premium's rounding
/// below its linear value, and the roots are taken only where the discriminant is not lost in
/// cancellation (`B² < 2^40·disc`, so it keeps ~12 good
/// bits) and then widened by 1 % of the width plus 2 on each side. `None` otherwise, with a
/// concentrated hop, or for `l ≤ 0`. Deep pools give bands far too wide to try one by one; the
/// band matters where it is narrow, which is exactly where these margins are small.
fn band(hops: &[HopState], l: i128, premium: Premium) -> Option<(u128, u128)> {
    if l <= 0 || hops.iter().any(|h| matches!(h, HopState::Cl(_))) {
        return None;
    }
    let (e_in, e_out, gamma) = virtual_pool(hops)?;
    let unit = 1.0 + premium.rate();
    let l = l as f64 - (1e-12 * (e_out + e_in / gamma) + 1.0) - premium.rounding_slack() as f64;
    let (qa, qb, qc) = (
        unit * gamma,
        unit * e_in + gamma * l - gamma * e_out,
        l * e_in,
    );
    let disc = qb * qb - 4.0 * qa * qc;
    if !(disc > 0.0 && qb * qb < disc * 2f64.powi(40) && qa > 0.0) {
        return None;
    }
    let root = disc.sqrt();
    let (lo, hi) = ((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa));
    let pad = (hi - lo) * 0.01 + 2.0;
    let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
    // `as` saturates; the widths that matter here are tiny.
    (lo.is_finite() && hi.is_finite()).then_some((lo as u128, hi.ceil() as u128))
}

/// First-hop input whose chained outputs end with at least `out`, raw units: V2 pairs' exact
/// `get_amount_in`, concentrated pools' exact-output swap (the input the contract would ask).
fn min_input_for(pools: &Pools, hops: &[HopState], out: u128) -> Option<u128> {
    let mut need = out;
    for h in hops.iter().rev() {
        need = match h {
            HopState::V2(h) => get_amount_in(need, h.reserve_in, h.reserve_out, h.fee_pips)?,
            HopState::Cl(h) => {
                let view = pools.cl(h.pool)?;
                let amount = I256::try_from(need).ok()?.checked_neg()?;
                let r = swap(
                    h.kind,
                    &h.state,
                    &view.ticks,
                    h.zero_for_one,
                    amount,
                    no_limit(h.zero_for_one),
                )
                .ok()?;
                let (paid, got) = if h.zero_for_one {
                    (r.amount0, r.amount1)
                } else {
                    (r.amount1, r.amount0)
                };
                if r.hit_window_edge || got != amount || !paid.is_positive() {
                    return None;
                }
                u128::try_from(paid.unsigned_abs()).ok()?
            }
        };
    }
    Some(need)
}

/// For each token, the pools pairing it with the native token (CSR), for valuation.
#[derive(Debug, Default)]
pub(crate) struct NativeQuotes {
    native: TokenId,
    offsets: Vec<u32>,
    pools: Vec<PoolId>,
}

impl NativeQuotes {
    /// `pools_with_native(t)` lists the pools between token `t` and `native`.
    pub(crate) fn new<'a>(
        native: TokenId,
        token_count: usize,
        pools_with_native: impl Fn(TokenId) -> &'a [PoolId],
    ) -> Self {
        let mut offsets = Vec::with_capacity(token_count + 1);
        let mut list = Vec::new();
        offsets.push(0);
        for t in 0..token_count as TokenId {
            if t != native {
                list.extend_from_slice(pools_with_native(t));
            }
            offsets.push(u32::try_from(list.len()).unwrap_or(u32::MAX));
        }
        Self {
            native,
            offsets,
            pools: list,
        }
    }

    /// `profit` (raw units of `token`) valued in the native token, wei.
    ///
    /// Rule: the exact `getAmountOut` quote for selling `profit` into the deepest non-stale
    /// pool between `token` and native (deepest = largest native reserve). Chosen over a
    /// mid-price because it is what converting the profit would really fetch (fee and price
    /// impact included), so it never overstates a profit that has to pay for gas; it uses the
    /// same exact integer code as the sizing; and it is cheap (one `get_amount_out`). Identity
    /// for the native token; 0 if no usable pool exists (such a cycle never clears the gas bar).
    /// A valuation pool that is also a hop of the cycle is read at its pre-trade reserves.
    pub(crate) fn value(&self, pools: &Pools, token: TokenId, profit: u128) -> u128 {
        if token == self.native {
            return profit;
        }
        let t = token as usize;
        let (Some(&lo), Some(&hi)) = (self.offsets.get(t), self.offsets.get(t + 1)) else {
            return 0;
        };
        let candidates = self.pools.get(lo as usize..hi as usize).unwrap_or(&[]);
        // The deepest: the largest native reserve (a concentrated pool's current range as a
        // V2 curve: its virtual reserve).
        let mut best: Option<(PoolId, f64)> = None;
        for &p in candidates {
            if pools.is_stale(p) {
                continue;
            }
            let Some((t0, _)) = pools.tokens(p) else {
                continue;
            };
            let zfo = t0 == token;
            let depth = match pools.cl(p) {
                None => pools
                    .reserves(p)
                    .map_or(0.0, |(r0, r1)| if zfo { r1 as f64 } else { r0 as f64 }),
                Some(v) => {
                    HopState::Cl(ClHop {
                        pool: p,
                        zero_for_one: zfo,
                        kind: v.kind,
                        state: v.state,
                        liquidity_max: v.liquidity_max,
                    })
                    .virtual_reserves()
                    .1
                }
            };
            if best.is_none_or(|(_, d)| depth > d) {
                best = Some((p, depth));
            }
        }
        let Some((p, _)) = best else {
            return 0;
        };
        let zfo = pools.tokens(p).is_some_and(|(t0, _)| t0 == token);
        match pools.cl(p) {
            None => {
                let (Some((r0, r1)), Some(fee)) = (pools.reserves(p), pools.fee_pips(p)) else {
                    return 0;
                };
                let (r_tok, r_nat) = if zfo { (r0, r1) } else { (r1, r0) };
                get_amount_out(profit, r_tok, r_nat, fee)
            }
            Some(v) => quote_exact_in(v.kind, &v.state, &v.ticks, zfo, profit).unwrap_or(0),
        }
    }

    /// An upper bound on [`NativeQuotes::value`], for bounds: the same for V2 pools (their
    /// quote is monotone in the amount); for a concentrated valuation pool, the amount times its
    /// zero-size rate (its quote can fail for amounts past the loaded window, and never pays
    /// more than that rate).
    pub(crate) fn value_upper(&self, pools: &Pools, token: TokenId, amount: u128) -> u128 {
        if token == self.native {
            return amount;
        }
        let exact = self.value(pools, token, amount);
        let t = token as usize;
        let (Some(&lo), Some(&hi)) = (self.offsets.get(t), self.offsets.get(t + 1)) else {
            return exact;
        };
        // If any concentrated pool could be the valuation pool, bound by the best rate of them.
        let mut rate = 0.0f64;
        for &p in self.pools.get(lo as usize..hi as usize).unwrap_or(&[]) {
            let (Some(v), Some((t0, _))) = (pools.cl(p), pools.tokens(p)) else {
                continue;
            };
            let hop = HopState::Cl(ClHop {
                pool: p,
                zero_for_one: t0 == token,
                kind: v.kind,
                state: v.state,
                liquidity_max: v.liquidity_max,
            });
            rate = rate.max(hop.zero_size_rate());
        }
        if rate == 0.0 {
            return exact;
        }
        let bound = amount as f64 * rate * (1.0 + BOUND_SLACK) + 1.0;
        exact.max(if bound.is_finite() {
            bound as u128
        } else {
            u128::MAX
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Tables with no pools: V2 hops never read them.
    fn empty() -> Pools {
        let spec = crate::MarketSpec {
            block: 0,
            base_fee: 0,
            tokens: Vec::new(),
            dexes: Vec::new(),
            pools: Vec::new(),
            capital: Vec::new(),
            lenders: Vec::new(),
        };
        crate::pools::build_tables(&spec).unwrap().1
    }

    fn size(hops: &[HopState], cap: u128) -> Option<Sizing> {
        super::size(&empty(), hops, cap, Premium::None)
    }

    fn simulate(hops: &[HopState], x: u128) -> Option<[u128; MAX_HOPS]> {
        super::simulate(&empty(), hops, x).map(|r| r.outs)
    }

    fn profit_at(hops: &[HopState], x: u128) -> Option<(i128, [u128; MAX_HOPS])> {
        super::profit_at(&empty(), hops, x, Premium::None).map(|(p, r)| (p, r.outs))
    }

    /// Tables with a V2 pair (id 0) of reserves `(r0, r1)` and a Uniswap V3 pool (the returned
    /// id) at `tick`, spacing 10, fee 500 pips, with `wide` liquidity over almost the whole range,
    /// `narrow` over [tick − 50, tick + 50] rounded to the spacing, and three times `narrow` in a
    /// range above and one below.
    fn mixed_pools(r0: u128, r1: u128, tick: i32, wide: u128, narrow: u128) -> (Pools, PoolId) {
        use crate::clmm::tick_math::sqrt_ratio_at_tick;
        use crate::clmm::ticks::{TickBitmap, TickRules};
        use crate::{
            ClStateSpec, DexSpec, MarketSpec, PoolKind, PoolSpec, PoolState, TickSpec, TokenSpec,
        };
        use alloy_primitives::Address;
        let a = Address::with_last_byte;
        let mut bitmap = TickBitmap::new(TickRules::uniswap_v3(10).unwrap());
        let mut liquidity = 0;
        let lo = (tick - 50).div_euclid(10) * 10;
        bitmap
            .mint(tick, &mut liquidity, -887_270, 887_270, wide)
            .unwrap();
        if narrow > 0 {
            bitmap
                .mint(tick, &mut liquidity, lo, lo + 100, narrow)
                .unwrap();
            // Deeper liquidity away from the price on both sides: past these ticks the curve
            // is flatter than the current range's, which the bound must still cover.
            bitmap
                .mint(tick, &mut liquidity, lo + 200, lo + 400, 3 * narrow)
                .unwrap();
            bitmap
                .mint(tick, &mut liquidity, lo - 300, lo - 100, 3 * narrow)
                .unwrap();
        }
        let token = |b: u8| TokenSpec {
            address: a(b),
            symbol: format!("T{b}"),
            decimals: 18,
        };
        let dex = |kind| DexSpec {
            name: "d".into(),
            factory: a(0xf0),
            kind,
            flash_swap: true,
        };
        let spec = MarketSpec {
            block: 0,
            base_fee: 0,
            tokens: vec![token(1), token(2)],
            dexes: vec![dex(PoolKind::UniswapV2), dex(PoolKind::UniswapV3)],
            pools: vec![
                PoolSpec::v2(a(0x10), 0, a(1), a(2), 3_000, r0, r1),
                PoolSpec {
                    address: a(0x11),
                    dex: 1,
                    token0: a(1),
                    token1: a(2),
                    fee_pips: 500,
                    state: PoolState::UniswapV3(ClStateSpec {
                        sqrt_price_x96: sqrt_ratio_at_tick(tick).unwrap(),
                        tick,
                        liquidity,
                        tick_spacing: 10,
                        window: [-887_272, 887_272],
                        ticks: bitmap
                            .iter()
                            .map(|(tick, i)| TickSpec {
                                tick,
                                liquidity_net: i.liquidity_net,
                                liquidity_gross: i.liquidity_gross,
                            })
                            .collect(),
                        fee_model: None,
                    }),
                    last_log: None,
                    stale: Default::default(),
                },
            ],
            capital: Vec::new(),
            lenders: Vec::new(),
        };
        let (_, pools, _) = crate::pools::build_tables(&spec).unwrap();
        (pools, 1)
    }

    /// The V2 fields of a test hop (every hop here is V2).
    fn v2(h: &HopState) -> V2Hop {
        match h {
            HopState::V2(v) => *v,
            HopState::Cl(_) => panic!("test hops are V2"),
        }
    }

    /// Exact rational check of Π(keep·R_out) > Π(10000·R_in), 512-bit.
    fn exact_product_above_one(hops: &[HopState]) -> bool {
        use alloy_primitives::U512;
        let mut num = U512::from(1u8);
        let mut den = U512::from(1u8);
        for h in hops {
            num *= U512::from(v2(h).reserve_out) * U512::from(PIPS - v2(h).fee_pips);
            den *= U512::from(v2(h).reserve_in) * U512::from(PIPS);
        }
        num > den
    }

    fn rates(hops: &[HopState]) -> Vec<EdgeRate> {
        hops.iter()
            .map(|h| EdgeRate::upper_bound(v2(h).reserve_in, v2(h).reserve_out, v2(h).fee_pips))
            .collect()
    }

    fn brute_best(hops: &[HopState], limit: u128) -> i128 {
        (1..=limit)
            .filter_map(|x| profit_at(hops, x).map(|(p, _)| p))
            .max()
            .unwrap_or(i128::MIN)
    }

    /// Bound on what the pairs' floors can cost the final output, raw start-token units: a
    /// unit lost at one hop's output is worth at most the product of the later hops' rates.
    /// The search may stop on a floor-made local maximum up to about twice that below the
    /// integer optimum.
    fn jitter(hops: &[HopState]) -> i128 {
        let mut total = 1.0;
        let mut carry = 1.0;
        for h in hops[1..].iter().rev() {
            carry *= v2(h).reserve_out as f64 / v2(h).reserve_in as f64;
            total += carry;
        }
        2 * total.ceil() as i128
    }

    fn hop(reserve_in: u128, reserve_out: u128, fee_pips: u32) -> HopState {
        HopState::v2(reserve_in, reserve_out, fee_pips)
    }

    #[test]
    fn screen_separates_just_above_and_just_below_one() {
        // 6-decimal vs 18-decimal reserves: 1e6·1e6 USDC against 2e6·1e18 WMATIC.
        let usdc = 1_000_000u128 * 1_000_000;
        let wmatic = 2_000_000u128 * 10u128.pow(18);
        // Fee-free hops whose rates multiply to 1 − 10^-12: rejected (profit impossible). The
        // slack of the upper bound (< 2^-50) is far below that gap. (A product of exactly 1
        // may pass: the screen is one-sided by design.)
        let flat = [hop(usdc, wmatic, 0), hop(wmatic, usdc - 1, 0)];
        assert!(!exact_product_above_one(&flat));
        assert!(!screen(&rates(&flat)));
        // One raw unit more on the way back: product just above 1, must pass.
        let edge = [hop(usdc, wmatic, 0), hop(wmatic, usdc + 1, 0)];
        assert!(exact_product_above_one(&edge));
        assert!(screen(&rates(&edge)));
        // A 30 bps fee on each hop with a 0.5 % price gap: rejected; with a 1 % gap: passes.
        let gap = |bp: u128| {
            [
                hop(usdc, wmatic, 3_000),
                hop(wmatic, usdc * (10_000 + bp) / 10_000, 3_000),
            ]
        };
        assert!(!screen(&rates(&gap(50))));
        assert!(screen(&rates(&gap(100))));
        assert!(!screen(&[]));
        assert!(!screen(&[
            EdgeRate::ZERO,
            EdgeRate::upper_bound(1, u128::MAX, 0)
        ]));
    }

    /// The integer optimum by trying every input in `1..=limit`: (profit, smallest input).
    fn brute_argmax(hops: &[HopState], limit: u128) -> (i128, u128) {
        (1..=limit)
            .filter_map(|x| profit_at(hops, x).map(|(p, _)| (p, x)))
            .fold((i128::MIN, 0), |b, (p, x)| if p > b.0 { (p, x) } else { b })
    }

    #[test]
    fn size_matches_brute_force_on_small_pools() {
        let hops = [hop(10_000, 12_000, 3_000), hop(10_000, 9_000, 2_000)];
        let s = size(&hops, u128::MAX).unwrap();
        let (best, at) = brute_argmax(&hops, 5_000);
        assert!(s.exact, "a small pool's band is tried whole");
        assert_eq!((s.profit as i128, s.amount_in), (best, at));
        assert_eq!(simulate(&hops, s.amount_in).unwrap(), s.outs);
        assert_eq!(s.outs[1] - s.amount_in, s.profit);
    }

    /// A seeded generator of values in `[lo, hi)` (a linear congruential one: the spreads, and
    /// the counts asserted on them, are the same on every run).
    fn seeded(mut seed: u64) -> impl FnMut(u128, u128) -> u128 {
        move |lo, hi| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            lo + u128::from(seed >> 33) % (hi - lo)
        }
    }

    /// A fixed spread of small 2- to 4-hop cycles (a seeded generator, so the counts below are
    /// stable): wherever the sizing says exact, it is the brute-force optimum, input included;
    /// and on pools this small it says exact almost everywhere.
    #[test]
    fn exact_sizing_is_the_brute_force_optimum_on_small_pools() {
        let mut next = seeded(0x9E37_79B9_7F4A_7C15);
        let (mut sized, mut exact) = (0, 0);
        for case in 0..300 {
            let n = 2 + case % 3;
            let hops: Vec<HopState> = (0..n)
                .map(|_| {
                    let fee = [0u32, 500, 2_000, 3_000, 10_000][next(0, 5) as usize];
                    hop(next(500, 6_000), next(500, 6_000), fee)
                })
                .collect();
            let Some(s) = size(&hops, u128::MAX) else {
                continue;
            };
            sized += 1;
            if s.exact {
                exact += 1;
                let (best, at) = brute_argmax(&hops, 12_000);
                assert_eq!(
                    (s.profit as i128, s.amount_in),
                    (best, at),
                    "case {case}: {hops:?}"
                );
            }
        }
        assert!(sized >= 100, "the spread sizes often: {sized}");
        assert!(exact * 10 >= sized * 9, "exact on {exact} of {sized}");
    }

    /// Pools too deep for the band to be tried whole (the certificate's cases), still small
    /// enough to try every input: wherever the sizing says exact, no input profits more (the
    /// input may be any that reaches the optimum), for every lender's rounding and with a cap
    /// below the optimum; and the certificate closes on a good share of them.
    #[test]
    fn certified_sizing_is_the_brute_force_optimum_on_deeper_pools() {
        let mut next = seeded(0x2545_F491_4F6C_DD1D);
        let (mut certified, mut sized) = (0, 0);
        for case in 0..24 {
            let fee = [0u32, 500, 3_000][case % 3];
            let r = next(300_000, 600_000);
            let hops = [
                hop(r, r * next(1_020, 1_080) / 1_000, fee),
                hop(r, r, 3_000),
            ];
            let premium = [
                Premium::None,
                Premium::Aave { bps: 9 },
                Premium::Balancer {
                    fee_1e18: 2_000_000_000_000_000,
                },
            ][case / 3 % 3];
            // Every other case caps the input well below the optimum.
            let cap = if case % 2 == 0 { u128::MAX } else { r / 200 };
            let Some(s) = super::size(&empty(), &hops, cap, premium) else {
                continue;
            };
            sized += 1;
            // Inputs above the last hop's output reserve only lose.
            let limit = cap.min(r + 1);
            let best = (1..=limit)
                .filter_map(|x| super::profit_at(&empty(), &hops, x, premium).map(|(p, _)| p))
                .max()
                .unwrap();
            assert!(s.profit as i128 <= best, "case {case}: above the optimum?");
            let wide = band(&hops, s.profit as i128, premium)
                .is_none_or(|(a, b)| b.min(cap).saturating_sub(a.max(1)) >= BAND_LIMIT);
            if s.exact {
                assert_eq!(s.profit as i128, best, "case {case}: {hops:?} {premium:?}");
                certified += u32::from(wide);
            }
        }
        assert!(sized >= 20, "sized {sized}");
        assert!(
            certified >= 6,
            "the certificate closed on {certified} of {sized}"
        );
    }

    #[test]
    fn size_respects_the_capital_cap() {
        let hops = [
            hop(1_000_000_000, 2_000_000_000, 3_000),
            hop(2_000_000_000, 1_100_000_000, 2_000),
        ];
        let free = size(&hops, u128::MAX).unwrap();
        let cap = free.amount_in / 3;
        let capped = size(&hops, cap).unwrap();
        assert!(capped.amount_in <= cap, "{} > cap {cap}", capped.amount_in);
        assert!(capped.profit < free.profit);
        // Profit rises all the way to the cap, so nothing below it beats the cap itself.
        let at_cap = profit_at(&hops, cap).unwrap().0;
        assert!(capped.profit as i128 >= at_cap);
        assert_eq!(size(&hops, 0).map(|s| s.amount_in), None);
    }

    #[test]
    fn size_rejects_a_flat_market_and_bad_shapes() {
        assert_eq!(
            size(
                &[
                    hop(1_000_000, 1_000_000, 3_000),
                    hop(1_000_000, 1_000_000, 3_000)
                ],
                u128::MAX
            ),
            None
        );
        assert_eq!(size(&[], u128::MAX), None);
        assert_eq!(size(&[hop(1, 1, 0); 4], u128::MAX), None);
        // A first pool at the uint112 cap cannot take any input.
        assert_eq!(
            size(&[hop(U112_MAX, U112_MAX, 0), hop(1, 10, 0)], u128::MAX),
            None
        );
    }

    #[test]
    fn valuation_quotes_the_deepest_fresh_native_pool() {
        use crate::cycles::PairIndex;
        use crate::pools::build_tables;
        use crate::{DexSpec, MarketSpec, PoolKind, PoolSpec, TokenSpec};
        use alloy_primitives::Address;
        let a = Address::with_last_byte;
        let token = |b: u8| TokenSpec {
            address: a(b),
            symbol: format!("T{b}"),
            decimals: 18,
        };
        let fees = [3_000, 2_000];
        let pool = |p: u8, dex: u8, r_native: u128, r_other: u128| {
            PoolSpec::v2(
                a(p),
                dex,
                a(1),
                a(2),
                fees[usize::from(dex)],
                r_native,
                r_other,
            )
        };
        let spec = MarketSpec {
            block: 0,
            base_fee: 0,
            // Token id 0 (address 1) is native; id 1 has two native pools; id 2 has none.
            tokens: vec![token(1), token(2), token(3)],
            dexes: vec![
                DexSpec {
                    name: "a".into(),
                    factory: a(0xf0),
                    kind: PoolKind::UniswapV2,
                    flash_swap: true,
                },
                DexSpec {
                    name: "b".into(),
                    factory: a(0xf1),
                    kind: PoolKind::UniswapV2,
                    flash_swap: true,
                },
            ],
            // Shallow pool at 10 other per native; deep pool at 5 other per native.
            pools: vec![
                pool(0x10, 0, 1_000, 10_000),
                pool(0x11, 1, 100_000, 500_000),
            ],
            capital: Vec::new(),
            lenders: Vec::new(),
        };
        let (tokens, mut pools, _) = build_tables(&spec).unwrap();
        let index = PairIndex::new(&pools, tokens.len());
        let q = NativeQuotes::new(0, tokens.len(), |t| index.pools(t, 0));
        let profit = 1_234;
        assert_eq!(q.value(&pools, 0, profit), profit, "native at par");
        assert_eq!(
            q.value(&pools, 1, profit),
            get_amount_out(profit, 500_000, 100_000, 2_000)
        );
        assert_eq!(q.value(&pools, 2, profit), 0, "no native pool");
        assert_eq!(q.value(&pools, 9, profit), 0, "unknown token");
        pools.mark_removed(1, 1, false);
        assert_eq!(
            q.value(&pools, 1, profit),
            get_amount_out(profit, 10_000, 1_000, 3_000)
        );
        pools.mark_removed(0, 1, false);
        assert_eq!(q.value(&pools, 1, profit), 0, "every native pool stale");
    }

    proptest! {
        #[test]
        fn screen_never_rejects_a_cycle_above_one(
            r in prop::collection::vec((1u128..=U112_MAX, 1u128..=U112_MAX, 0u32..100_000), 2..=3),
        ) {
            let hops: Vec<HopState> = r.iter().map(|&(a, b, f)| hop(a, b, f)).collect();
            if exact_product_above_one(&hops) {
                prop_assert!(screen(&rates(&hops)));
            }
        }

        // Cycles near break-even with decimals mixed: where false rejects would hide.
        #[test]
        fn screen_never_rejects_near_break_even(
            a in 1u128..=(1u128 << 100), b in 1u128..=(1u128 << 100), gap in -1_000i64..1_000,
            f in 0u32..5_000,
        ) {
            // Second hop chosen so the product is (1 ± gap·1e-12)·keep² — just around one.
            let keep = u128::from(PIPS - f);
            let back = (a as f64 * (1.0 + gap as f64 * 1e-12) * 1e12 / (keep * keep) as f64) as u128;
            let hops = [hop(a, b, f), hop(b, back.clamp(1, U112_MAX), f)];
            if exact_product_above_one(&hops) {
                prop_assert!(screen(&rates(&hops)));
            }
        }

        #[test]
        fn size_is_near_the_brute_force_optimum(
            r0 in 1_000u128..20_000, r1 in 1_000u128..20_000, r2 in 1_000u128..20_000,
            r3 in 1_000u128..20_000, f0 in 0u32..10_000, f1 in 0u32..10_000,
        ) {
            let hops = [hop(r0, r1, f0), hop(r2, r3, f1)];
            let best = brute_best(&hops, 20_000);
            match size(&hops, u128::MAX) {
                Some(s) => {
                    prop_assert_eq!(simulate(&hops, s.amount_in).unwrap(), s.outs);
                    prop_assert_eq!(s.outs[1] - s.amount_in, s.profit);
                    prop_assert!(s.profit as i128 >= best - jitter(&hops), "sized {} brute {}", s.profit, best);
                    if s.exact {
                        prop_assert_eq!(s.profit as i128, best);
                    }
                }
                // Sizing may give up only where the best possible profit is floor-jitter dust.
                None => prop_assert!(best <= jitter(&hops), "missed profit {}", best),
            }
        }

        #[test]
        fn profit_bound_is_never_below_the_brute_force_optimum(
            r in prop::collection::vec((200u128..6_000, 200u128..6_000), 2..=4),
            f in prop::sample::select(vec![0u32, 2_000, 3_000, 10_000]),
        ) {
            let hops: Vec<HopState> = r.iter().map(|&(a, b)| hop(a, b, f)).collect();
            let best = brute_best(&hops, 8_000);
            prop_assert!(profit_bound(&hops, u128::MAX) as i128 >= best, "bound {} < brute {}", profit_bound(&hops, u128::MAX), best);
        }

        // Near break-even on big, decimal-mixed reserves, where f64 rounding matters most.
        #[test]
        fn profit_bound_covers_the_sized_profit_near_break_even(
            a in 10u128.pow(20)..10u128.pow(33), b in 10u128.pow(6)..10u128.pow(33),
            gap in -100i64..100, f in prop::sample::select(vec![0u32, 100, 3_000]),
        ) {
            let keep = f64::from(PIPS - f) / f64::from(PIPS);
            let back = (a as f64 * (1.0 + gap as f64 * 1e-7) / (keep * keep)) as u128;
            let hops = [hop(a, b, f), hop(b, back.clamp(1, U112_MAX), f)];
            if let Some(s) = size(&hops, u128::MAX) {
                prop_assert!(profit_bound(&hops, u128::MAX) >= s.profit);
            }
        }

        #[test]
        fn size_three_hops_is_near_the_brute_force_optimum(
            r in prop::collection::vec((500u128..6_000, 500u128..6_000), 3),
            f in prop::sample::select(vec![0u32, 2_000, 3_000]),
        ) {
            let hops: Vec<HopState> = r.iter().map(|&(a, b)| hop(a, b, f)).collect();
            let best = brute_best(&hops, 6_000);
            match size(&hops, u128::MAX) {
                Some(s) => prop_assert!(s.profit as i128 >= best - jitter(&hops), "sized {} brute {}", s.profit, best),
                None => prop_assert!(best <= jitter(&hops), "missed profit {}", best),
            }
        }

        // Large, decimal-mixed reserves with a price gap of 2 to 20 % built in (the third hop's
        // output reserve closes the loop above break-even), so every case must size: amounts
        // are exact hop by hop, and the search never ends worse than its closed-form start.
        #[test]
        fn size_three_hops_outputs_are_exact(
            r in prop::collection::vec((10u128.pow(6)..10u128.pow(30), 10u128.pow(6)..10u128.pow(30)), 2),
            last_in in 10u128.pow(6)..10u128.pow(30),
            gap_pct in 2u32..=20,
            f in prop::sample::select(vec![2_000u32, 2_500, 3_000]),
        ) {
            // The loop's price product is (b0/a0)·(b1/a1)·(out/last_in): pick `out` so that it
            // is (1 + gap) over the three fees' break-even.
            let keep = f64::from(PIPS - f) / f64::from(PIPS);
            let rate = (r[0].1 as f64 / r[0].0 as f64) * (r[1].1 as f64 / r[1].0 as f64);
            let out = last_in as f64 / rate * (1.0 + f64::from(gap_pct) / 100.0) / keep.powi(3);
            prop_assume!(out >= 1e6 && out < U112_MAX as f64);
            let mut hops: Vec<HopState> = r.iter().map(|&(a, b)| hop(a, b, f)).collect();
            hops.push(hop(last_in, out as u128, f));
            let s = size(&hops, u128::MAX);
            prop_assert!(s.is_some(), "a {gap_pct} % gap must size: {hops:?}");
            if let Some(s) = s {
                let mut amt = s.amount_in;
                for (i, h) in hops.iter().enumerate() {
                    amt = get_amount_out(amt, v2(h).reserve_in, v2(h).reserve_out, v2(h).fee_pips);
                    prop_assert_eq!(amt, s.outs[i]);
                }
                prop_assert_eq!(amt - s.amount_in, s.profit);
                let x_hat = estimate_input(&hops, 0.0).unwrap();
                if let Some((p, _)) = profit_at(&hops, x_hat) {
                    prop_assert!(s.profit as i128 >= p);
                }
            }
        }
    }

    /// Every input of a mixed cycle up to `limit`, by brute force: `(input, profit, ticks)`.
    fn brute_runs(pools: &Pools, hops: &[HopState], limit: u128) -> Vec<(u128, i128, u32)> {
        (1..=limit)
            .filter_map(|x| {
                super::profit_at(pools, hops, x, Premium::None)
                    .map(|(p, r)| (x, p, total_ticks(&r.ticks)))
            })
            .collect()
    }

    /// The two hops of a cycle through `mixed_pools`' V3 pool in direction `zfo` and back through
    /// its V2 pair.
    fn mixed_hops(pools: &Pools, v3: PoolId, zfo: bool, r0: u128, r1: u128) -> [HopState; 2] {
        let view = pools.cl(v3).unwrap();
        let cl = HopState::Cl(ClHop {
            pool: v3,
            zero_for_one: zfo,
            kind: view.kind,
            state: view.state,
            liquidity_max: view.liquidity_max,
        });
        let v2 = if zfo {
            hop(r1, r0, 3_000)
        } else {
            hop(r0, r1, 3_000)
        };
        [cl, v2]
    }

    /// Gap the slope bisection may leave to the integer optimum on these small mixed cycles, raw
    /// units: the floors of a concentrated swap and a V2 pair make the profit a staircase a few
    /// units high.
    const MIXED_JITTER: i128 = 4;

    /// Small V2/V3 worlds (a grid of reserves and liquidity) with the profitable direction of
    /// each: `(pools, cycle hops)`.
    fn mixed_grid() -> impl Iterator<Item = (Pools, [HopState; 2])> {
        let shapes = [
            (2_000, 10_000),
            (5_000, 10_000),
            (20_000, 20_000),
            (2_000, 40_000),
        ];
        [(10_000u128, 13_000u128), (10_000, 11_500), (12_000, 10_000)]
            .into_iter()
            .flat_map(move |(r0, r1)| shapes.map(move |(wide, narrow)| (r0, r1, wide, narrow)))
            .map(|(r0, r1, wide, narrow)| {
                let (pools, v3) = mixed_pools(r0, r1, 0, wide, narrow);
                // token1 is dearer on the pair than on the pool (r1 > r0) or the other way.
                let hops = mixed_hops(&pools, v3, r1 < r0, r0, r1);
                (pools, hops)
            })
    }

    /// The slope the concentrated sizing bisects on is the run's: against finite differences of
    /// the exact output, on deep pools where the floors are negligible, across tick crossings.
    #[test]
    fn marginal_product_is_the_slope_of_the_exact_run() {
        let e = 10u128.pow(18);
        let mut checked = 0;
        for (r0, r1) in [
            (1_000_000 * e, 1_300_000 * e),
            (1_200_000 * e, 1_000_000 * e),
        ] {
            let (pools, v3) = mixed_pools(r0, r1, 0, 200_000 * e, 1_000_000 * e);
            for zfo in [true, false] {
                let hops = mixed_hops(&pools, v3, zfo, r0, r1);
                for x in [e, 1_000 * e, 30_000 * e, 100_000 * e] {
                    let d = x / 1_000_000;
                    let (Some(a), Some(b)) = (
                        super::profit_at(&pools, &hops, x, Premium::None),
                        super::profit_at(&pools, &hops, x + d, Premium::None),
                    ) else {
                        continue;
                    };
                    let slope = ((b.0 - a.0) as f64 + d as f64) / d as f64;
                    let m = marginal_product(&hops, x, &a.1);
                    assert!(
                        (m - slope).abs() < 1e-4 * slope,
                        "x {x} zfo {zfo}: marginal {m} vs finite difference {slope}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 12, "{checked}");
    }

    #[test]
    fn fewer_ticks_is_the_last_input_before_a_crossing() {
        let mut checked = 0;
        for (pools, hops) in mixed_grid() {
            let runs = brute_runs(&pools, &hops, 20_000);
            let &(x_hi, _, t_hi) = runs.iter().max_by_key(|r| r.1).unwrap();
            if t_hi == 0 {
                continue;
            }
            // b: the first input crossing as many ticks; every input below it crosses fewer.
            let b = runs.iter().find(|r| r.2 >= t_hi).unwrap().0;
            let before = runs
                .iter()
                .find(|r| r.0 == b - 1)
                .map_or(i128::MIN, |r| r.1);
            match fewer_ticks(&pools, &hops, x_hi, t_hi, Premium::None) {
                Some(s) => {
                    checked += 1;
                    assert!(s.amount_in < b && total_ticks(&s.ticks) < t_hi);
                    // b − 1, or a smaller input with the same final output (so more profit).
                    assert!(s.profit as i128 >= before);
                    assert_eq!(
                        s.profit as i128,
                        runs.iter().find(|r| r.0 == s.amount_in).unwrap().1
                    );
                }
                None => assert!(before <= 0, "b − 1 = {} profits {before}", b - 1),
            }
        }
        assert!(
            checked >= 4,
            "only {checked} grid worlds cross a tick profitably"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        // Sizing a V2/V3 cycle against every integer input (small pools, so the optimum is within
        // reach): gross, the sized profit is the brute-force optimum up to the floors' staircase;
        // after a cost per tick crossed (in raw start units), the best input after cost is found
        // even where it stops short of a tick the gross optimum crosses.
        #[test]
        fn mixed_sizing_matches_brute_force_before_and_after_tick_costs(
            r0 in 2_000u128..12_000, r1 in 2_000u128..12_000,
            tick in -300i32..300, wide in 1_000u128..8_000, narrow in 0u128..20_000,
            per_tick in prop::sample::select(vec![0i128, 3, 30, 300]),
        ) {
            let (pools, v3) = mixed_pools(r0, r1, tick, wide, narrow);
            for zfo in [true, false] {
                let hops = mixed_hops(&pools, v3, zfo, r0, r1);
                let runs = brute_runs(&pools, &hops, 20_000);
                let gross = runs.iter().map(|r| r.1).max().unwrap_or(i128::MIN);
                let net_best = runs.iter().map(|r| r.1 - per_tick * i128::from(r.2)).max();
                let sized = super::size(&pools, &hops, u128::MAX, Premium::None);
                match sized {
                    Some(s) => {
                        prop_assert!(s.amount_in <= 20_000, "optimum beyond the brute range");
                        prop_assert!(s.profit as i128 >= gross - MIXED_JITTER, "sized {} brute {}", s.profit, gross);
                        prop_assert!(s.profit as i128 <= gross);
                    }
                    None => prop_assert!(gross <= MIXED_JITTER, "missed a profit of {}", gross),
                }
                let net = |p: u128, t: &[u16; MAX_HOPS]| {
                    let n = p as i128 - per_tick * i128::from(total_ticks(t));
                    (n > 0).then_some(n)
                };
                match size_after_cost(&pools, &hops, u128::MAX, Premium::None, None, net) {
                    SizedAfterCost::Worth { sizing, net, .. } => {
                        let brute = net_best.unwrap();
                        prop_assert_eq!(net, sizing.profit as i128 - per_tick * i128::from(total_ticks(&sizing.ticks)));
                        prop_assert!(net >= brute - MIXED_JITTER, "after cost {} brute {}", net, brute);
                        prop_assert!(net <= brute);
                    }
                    _ => prop_assert!(net_best.is_none_or(|b| b <= MIXED_JITTER), "missed a net of {:?}", net_best),
                }
            }
        }
    }

    /// Stopping short of a tick happens (the property above is not vacuous about it): with a
    /// per-tick cost of half the gross profit, a world whose gross optimum crosses ticks and
    /// whose input just before the crossing still profits stops there, and that is the
    /// brute-force optimum after cost.
    #[test]
    fn a_high_tick_cost_stops_the_input_short_of_the_tick() {
        let mut shortened_worlds = 0;
        for (pools, hops) in mixed_grid() {
            let Some(gross) = super::size(&pools, &hops, u128::MAX, Premium::None) else {
                continue;
            };
            if total_ticks(&gross.ticks) == 0 {
                continue;
            }
            let per_tick = gross.profit as i128 / 2;
            let net = |p: u128, t: &[u16; MAX_HOPS]| {
                let n = p as i128 - per_tick * i128::from(total_ticks(t));
                (n > 0).then_some(n)
            };
            let brute = brute_runs(&pools, &hops, 20_000)
                .iter()
                .map(|r| r.1 - per_tick * i128::from(r.2))
                .max()
                .unwrap();
            if let SizedAfterCost::Worth {
                sizing,
                net,
                shortened,
            } = size_after_cost(&pools, &hops, u128::MAX, Premium::None, None, net)
            {
                assert!(
                    net >= brute - MIXED_JITTER && net <= brute,
                    "{net} vs {brute}"
                );
                if shortened {
                    shortened_worlds += 1;
                    assert!(total_ticks(&sizing.ticks) < total_ticks(&gross.ticks));
                    assert!(sizing.amount_in < gross.amount_in);
                }
            } else {
                assert!(brute <= MIXED_JITTER, "missed a net of {brute}");
            }
        }
        assert!(
            shortened_worlds >= 2,
            "only {shortened_worlds} worlds stop short"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        // A V2 pair against a Uniswap V3 pool (full-range liquidity plus a narrow range, so the
        // curve changes past a tick): the concentrated bound is never below what an input pays
        // (every input to 1 500, then geometric steps to ~10^6; a few dozen cases: each input is
        // a whole concentrated swap).
        #[test]
        fn linear_bound_covers_every_input_of_a_mixed_cycle(
            r0 in 2_000u128..50_000, r1 in 2_000u128..50_000,
            tick in -2_000i32..2_000, wide in 5_000u128..50_000, narrow in 0u128..200_000,
            cap in prop::sample::select(vec![u128::MAX, 500, 5_000]),
        ) {
            let (pools, v3) = mixed_pools(r0, r1, tick, wide, narrow);
            let view = pools.cl(v3).unwrap();
            for zfo in [true, false] {
                let cl = HopState::Cl(ClHop { pool: v3, zero_for_one: zfo, kind: view.kind, state: view.state, liquidity_max: view.liquidity_max });
                let v2 = if zfo { hop(r1, r0, 3_000) } else { hop(r0, r1, 3_000) };
                let hops = [cl, v2];
                let bound = profit_bound(&hops, cap);
                let inputs = (1..=1_500u128).chain((1..40).map(|k| (1_500.0 * 1.25f64.powi(k)) as u128));
                let best = inputs
                    .filter(|&x| x <= cap)
                    .filter_map(|x| super::profit_at(&pools, &hops, x, Premium::None).map(|(p, _)| p))
                    .max()
                    .unwrap_or(0);
                prop_assert!(bound as i128 >= best, "bound {} < best {}", bound, best);
            }
        }

    }
}
