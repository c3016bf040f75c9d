//! One case, rebuilt in our math from what the real pool reported, swap by swap.
//!
//! The pool: positions minted into our reference [`TickBitmap`] at the pool's start tick (its
//! ticks and active liquidity must then equal the ticks and liquidity the real pool reports), and
//! the real pool's reported ticks as [`TickSlice`]s, one over the whole range and one over a
//! window around the start tick. The fee: a Uniswap V3 pool's tier, Algebra's `globalState.fee`
//! as the real run reports it. Each swap starts from the state the real pool had just before it
//! (so one mismatch does not cascade) and must give exactly the real amounts and state after, or
//! fail where the pool reverted, with the error its revert string maps to ([`expected_error`]).

use std::collections::BTreeMap;
use std::fmt;

use alloy_primitives::{I256, U256};
use polyarb_core::clmm::MathError;
use polyarb_core::clmm::swap::{PoolState, SwapError, SwapKind, SwapResult, quote_exact_in, swap};
use polyarb_core::clmm::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use polyarb_core::clmm::ticks::{TickBitmap, TickError, TickSlice, TickSource};
use polyarb_tools::{Case, CaseResult, CaseRun, PoolKind, Revert, SwapRun, TickLiquidity};

use crate::cases::rules;

/// A revert as the pool sent it, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RealRevert {
    /// `Error(string)`.
    Message(String),
    /// No data: a `require` without a message (the math libraries' checks, `SafeCast`).
    Bare,
    /// Anything else (a panic code, a custom error of the probe).
    Other(String),
}

/// The ABI selector of `Error(string)`.
const ERROR_STRING: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];

impl RealRevert {
    /// Classifies revert data.
    pub fn of(revert: &Revert) -> Self {
        if revert.data.is_empty() {
            Self::Bare
        } else if revert.data.starts_with(&ERROR_STRING) {
            match revert.reason() {
                Some(m) => Self::Message(m),
                None => Self::Other(revert.to_string()),
            }
        } else {
            Self::Other(revert.to_string())
        }
    }
}

impl fmt::Display for RealRevert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(m) => write!(f, "'{m}'"),
            Self::Bare => f.write_str("a bare require"),
            Self::Other(o) => f.write_str(o),
        }
    }
}

/// Which of our errors a real swap revert must be. `None`: the revert is not one the swap math
/// models (a lock, an unpaid callback, the probe's own errors): a mismatch wherever it occurs.
///
/// The strings are the pools' (identical in Uniswap V3 1.0.1 and Algebra V1): `'AS'` amount
/// specified is zero, `'SPL'` price limit on the wrong side or not strictly inside the TickMath
/// bounds, `'LS'`/`'LA'` `LiquidityMath.addDelta` below zero / above `uint128`, `'T'`/`'R'`
/// `TickMath`'s tick and price ranges. The libraries' other checks (`FullMath`, `SqrtPriceMath`
/// / `TokenDeltaMath`, `SafeCast`, `LowGasSafeMath`) are `require`s without a message.
pub fn expected_error(revert: &RealRevert) -> Option<fn(&SwapError) -> bool> {
    Some(match revert {
        RealRevert::Message(m) => match m.as_str() {
            "AS" => |e| *e == SwapError::ZeroAmount,
            "SPL" => |e| *e == SwapError::PriceLimit,
            "LS" => |e| *e == SwapError::Math(MathError::LiquidityUnderflow),
            "LA" => |e| *e == SwapError::Math(MathError::LiquidityOverflow),
            "T" => |e| *e == SwapError::Math(MathError::TickOutOfRange),
            "R" => |e| *e == SwapError::Math(MathError::SqrtPriceOutOfRange),
            _ => return None,
        },
        RealRevert::Bare => |e| matches!(e, SwapError::Math(_) | SwapError::AmountOverflow),
        RealRevert::Other(_) => return None,
    })
}

/// Where our math and the real pool part.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// The first mismatching swap, or `None` when the pool rebuild itself differs.
    pub swap: Option<usize>,
    /// What differs, with both sides.
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.swap {
            Some(i) => write!(f, "swap {i}: {}", self.what),
            None => write!(f, "pool rebuild: {}", self.what),
        }
    }
}

fn mismatch(swap: Option<usize>, what: String) -> Mismatch {
    Mismatch { swap, what }
}

/// What a run covered: the numbers the report prints and the coverage assertions read.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Cases whose setup succeeded.
    pub cases: usize,
    /// Cases the real pool refused to set up, by revert (our mint must agree for `'LO'`).
    pub setup_refused: BTreeMap<String, usize>,
    /// Swaps compared.
    pub swaps: usize,
    /// Swaps that succeeded on the pool (and matched).
    pub ok: usize,
    /// Successful swaps per pool (`"v3-100"`, …, `"algebra"`).
    pub ok_per_pool: BTreeMap<String, usize>,
    /// Successful exact-output swaps.
    pub exact_out: usize,
    /// Reverts, by the pool's reason and pool protocol (each matched by our mapped error).
    pub reverts: BTreeMap<String, usize>,
    /// Algebra fees (pips) of cases with at least one successful swap.
    pub algebra_fees: Vec<u16>,
    /// Most initialized ticks one swap crossed.
    pub max_crossed: u32,
    /// Swaps that crossed at least 24 initialized ticks.
    pub crossed_24: usize,
    /// Successful swaps that stopped exactly on their price limit.
    pub limit_hits: usize,
    /// ... of which the limit was an initialized tick's price (crossed there).
    pub limit_hits_on_tick: usize,
    /// Successful swaps with `|amount specified| ≤ 3` wei.
    pub tiny: usize,
    /// Successful swaps with `|amount specified| ≥ 2^127`.
    pub huge: usize,
    /// Successful swaps with the price within 2,000 ticks of `MIN_TICK` / `MAX_TICK`, before or after.
    pub near_min_tick: usize,
    /// See `near_min_tick`.
    pub near_max_tick: usize,
    /// `quote_exact_in` checks: it returned the real output / it returned `None` as it must.
    pub quotes_some: usize,
    /// See `quotes_some`.
    pub quotes_none: usize,
    /// Windowed swaps that gave the full result / stopped at the window's edge (exact prefix).
    pub window_full: usize,
    /// See `window_full`.
    pub window_edge: usize,
}

impl Tally {
    /// Adds another tally's counts.
    pub fn merge(&mut self, o: Tally) {
        fn add(a: &mut BTreeMap<String, usize>, b: BTreeMap<String, usize>) {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
        }
        self.cases += o.cases;
        add(&mut self.setup_refused, o.setup_refused);
        self.swaps += o.swaps;
        self.ok += o.ok;
        add(&mut self.ok_per_pool, o.ok_per_pool);
        self.exact_out += o.exact_out;
        add(&mut self.reverts, o.reverts);
        self.algebra_fees.extend(o.algebra_fees);
        self.max_crossed = self.max_crossed.max(o.max_crossed);
        self.crossed_24 += o.crossed_24;
        self.limit_hits += o.limit_hits;
        self.limit_hits_on_tick += o.limit_hits_on_tick;
        self.tiny += o.tiny;
        self.huge += o.huge;
        self.near_min_tick += o.near_min_tick;
        self.near_max_tick += o.near_max_tick;
        self.quotes_some += o.quotes_some;
        self.quotes_none += o.quotes_none;
        self.window_full += o.window_full;
        self.window_edge += o.window_edge;
    }
}

fn pool_name(kind: PoolKind) -> String {
    match kind {
        PoolKind::UniswapV3 { fee, .. } => format!("v3-{fee}"),
        PoolKind::Algebra { .. } => "algebra".to_owned(),
    }
}

/// The rebuilt pool: our bitmap and the real pool's reported tick columns.
struct Rebuilt {
    bitmap: TickBitmap,
    ticks: Vec<i32>,
    nets: Vec<i128>,
    grosses: Vec<u128>,
}

/// Mints `positions` into a fresh bitmap at `tick`; the active liquidity after.
fn mint_all(case: &Case, tick: i32) -> Result<(TickBitmap, u128), TickError> {
    let mut bitmap = TickBitmap::new(rules(case.kind));
    let mut liquidity = 0u128;
    for p in &case.positions {
        bitmap.mint(
            tick,
            &mut liquidity,
            p.tick_lower,
            p.tick_upper,
            p.liquidity,
        )?;
    }
    Ok((bitmap, liquidity))
}

fn rebuild(case: &Case, run: &CaseRun) -> Result<Rebuilt, Mismatch> {
    let (bitmap, liquidity) = mint_all(case, run.start.tick).map_err(|e| {
        mismatch(
            None,
            format!("the pool accepted every mint, our bitmap refused one: {e}"),
        )
    })?;
    let ours: Vec<TickLiquidity> = bitmap
        .iter()
        .map(|(tick, info)| TickLiquidity {
            tick,
            liquidity_gross: info.liquidity_gross,
            liquidity_net: info.liquidity_net,
        })
        .collect();
    if ours != run.ticks {
        return Err(mismatch(
            None,
            format!("ticks: ours {ours:?}, pool {:?}", run.ticks),
        ));
    }
    if liquidity != run.start.liquidity {
        return Err(mismatch(
            None,
            format!(
                "active liquidity after the mints: ours {liquidity}, pool {}",
                run.start.liquidity
            ),
        ));
    }
    Ok(Rebuilt {
        bitmap,
        ticks: run.ticks.iter().map(|t| t.tick).collect(),
        nets: run.ticks.iter().map(|t| t.liquidity_net).collect(),
        grosses: run.ticks.iter().map(|t| t.liquidity_gross).collect(),
    })
}

/// The swap kind and fee our math runs with: the tier's fee for V3 (the pool must report it),
/// the fee the real Algebra pool reports (it must be the constant the case configured).
fn swap_kind(kind: PoolKind, run: &CaseRun) -> Result<SwapKind, Mismatch> {
    match kind {
        PoolKind::UniswapV3 { fee, .. } => {
            if run.start.fee != fee {
                return Err(mismatch(
                    None,
                    format!("v3 tier {fee} but the pool reports fee {}", run.start.fee),
                ));
            }
            Ok(SwapKind::UniswapV3 { fee_pips: fee })
        }
        PoolKind::Algebra { fee: wanted } => {
            let fee = u16::try_from(run.start.fee)
                .map_err(|_| mismatch(None, format!("algebra fee {}", run.start.fee)))?;
            if wanted.is_some_and(|w| w != fee) {
                return Err(mismatch(
                    None,
                    format!("algebra fee configured {wanted:?}, pool reports {fee}"),
                ));
            }
            Ok(SwapKind::Algebra { fee })
        }
    }
}

/// Checks one case's real result against our math. `window` is the windowed slice's reach below
/// and above the start tick, in tick spacings.
pub fn check_case(
    case: &Case,
    result: &CaseResult,
    window: (i32, i32),
    tally: &mut Tally,
) -> Result<(), Mismatch> {
    let run = match result {
        Ok(run) => run,
        Err(revert) => return check_refused_setup(case, revert, tally),
    };
    tally.cases += 1;
    let spacing = case.kind.tick_spacing();
    if run.tick_spacing != spacing {
        return Err(mismatch(
            None,
            format!("spacing {} reported, {spacing} expected", run.tick_spacing),
        ));
    }
    let kind = swap_kind(case.kind, run)?;
    let pool = rebuild(case, run)?;
    let full = TickSlice::new(&pool.ticks, &pool.nets, &pool.grosses, MIN_TICK, MAX_TICK)
        .map_err(|e| mismatch(None, format!("full slice: {e}")))?;
    let lo = (run.start.tick - window.0 * spacing - 7).max(MIN_TICK);
    let hi = (run.start.tick + window.1 * spacing + 3).min(MAX_TICK);
    let inside = pool.ticks.partition_point(|&t| t < lo)..pool.ticks.partition_point(|&t| t <= hi);
    let windowed = TickSlice::new(
        &pool.ticks[inside.clone()],
        &pool.nets[inside.clone()],
        &pool.grosses[inside],
        lo,
        hi,
    )
    .map_err(|e| mismatch(None, format!("window slice: {e}")))?;

    if run.swaps.len() != case.swaps.len() {
        return Err(mismatch(
            None,
            format!(
                "{} swap results for {} swaps",
                run.swaps.len(),
                case.swaps.len()
            ),
        ));
    }
    // Our own state, chained from swap to swap: the start state, then each successful swap's
    // result (a failed swap leaves it unchanged). Up to the first mismatch it equals the pool's.
    let mut state = PoolState {
        sqrt_price_x96: U256::from(run.start.sqrt_price),
        tick: run.start.tick,
        liquidity: run.start.liquidity,
        tick_spacing: spacing,
    };
    let mut any_ok = false;
    for (i, (spec, real)) in case.swaps.iter().zip(&run.swaps).enumerate() {
        let at = |what: String| mismatch(Some(i), what);
        tally.swaps += 1;
        let before = (
            U256::from(real.before.sqrt_price),
            real.before.tick,
            real.before.liquidity,
        );
        if (state.sqrt_price_x96, state.tick, state.liquidity) != before {
            return Err(at(format!(
                "our chained state {state:?} is not the pool's state before the swap {before:?}"
            )));
        }
        let mut after = None;
        let limit = U256::from(spec.sqrt_price_limit);
        let amount = spec.amount_specified;
        let z = spec.zero_for_one;
        let ours = swap(kind, &state, &pool.bitmap, z, amount, limit);
        let ours_full = swap(kind, &state, &full, z, amount, limit);
        if ours_full != ours {
            return Err(at(format!(
                "full-range TickSlice {ours_full:?} differs from the bitmap {ours:?}"
            )));
        }
        if real.after.fee != real.before.fee {
            return Err(at(format!(
                "the pool's fee changed within a case: {} -> {}",
                real.before.fee, real.after.fee
            )));
        }
        match (&real.outcome, &ours) {
            (Ok(amounts), Ok(r)) => {
                let got = (r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity);
                let want = (
                    amounts.amount0,
                    amounts.amount1,
                    U256::from(real.after.sqrt_price),
                    real.after.tick,
                    real.after.liquidity,
                );
                if got != want || r.hit_window_edge {
                    return Err(at(format!(
                        "(amount0, amount1, sqrt price, tick, liquidity): ours {got:?}, pool {want:?} \
                         (ours {r:?})"
                    )));
                }
                let crossed = crossed_ticks(&pool.ticks, z, real);
                if crossed != r.ticks_crossed {
                    return Err(at(format!(
                        "{} ticks crossed by our count, {crossed} between the pool's ticks before \
                         and after",
                        r.ticks_crossed
                    )));
                }
                any_ok = true;
                after = Some((r.sqrt_price_x96, r.tick, r.liquidity));
                note_ok(
                    tally,
                    case.kind,
                    z,
                    spec.amount_specified,
                    limit,
                    real,
                    r,
                    &pool,
                );
            }
            (Err(revert), Err(e)) => {
                let class = RealRevert::of(revert);
                let Some(matches) = expected_error(&class) else {
                    return Err(at(format!(
                        "the pool reverted with {class}, which the swap math does not model \
                         (ours: {e})"
                    )));
                };
                if !matches(e) {
                    return Err(at(format!(
                        "the pool reverted with {class}, we failed with the wrong error: {e:?}"
                    )));
                }
                if real.after != real.before {
                    return Err(at("the pool reverted but its state moved".to_owned()));
                }
                let protocol = match kind {
                    SwapKind::UniswapV3 { .. } => "v3",
                    SwapKind::Algebra { .. } => "algebra",
                };
                *tally
                    .reverts
                    .entry(format!("{protocol} {class}"))
                    .or_default() += 1;
            }
            (Ok(amounts), Err(e)) => {
                return Err(at(format!(
                    "the pool swapped {amounts:?} to {:?}, we failed: {e:?}",
                    real.after
                )));
            }
            (Err(revert), Ok(r)) => {
                return Err(at(format!(
                    "the pool reverted with {}, we swapped: {r:?}",
                    RealRevert::of(revert)
                )));
            }
        }
        check_window(kind, &state, &pool.bitmap, &windowed, spec, &ours, tally).map_err(at)?;
        check_quote(kind, &state, &pool.bitmap, spec, real, tally).map_err(at)?;
        if let Some(a) = after {
            (state.sqrt_price_x96, state.tick, state.liquidity) = a;
        }
    }
    if any_ok && let SwapKind::Algebra { fee } = kind {
        tally.algebra_fees.push(fee);
    }
    Ok(())
}

/// The real pool refused the case's setup. For `'LO'` (a tick's gross liquidity above the cap)
/// our mints must fail the same way, for `'R'` (a V3 start price outside the TickMath range)
/// our `tick_at_sqrt_ratio`; other refusals are counted.
fn check_refused_setup(case: &Case, revert: &Revert, tally: &mut Tally) -> Result<(), Mismatch> {
    let class = RealRevert::of(revert);
    if class == RealRevert::Message("LO".to_owned()) {
        // The cap does not depend on the current tick; any tick will do.
        match mint_all(case, 0) {
            Err(TickError::TickLiquidityOverflow) => {}
            other => {
                return Err(mismatch(
                    None,
                    format!(
                        "the pool refused a mint with 'LO', our mints gave {:?}",
                        other.map(|(_, l)| l)
                    ),
                ));
            }
        }
    }
    if class == RealRevert::Message("R".to_owned()) {
        // `initialize` takes only prices in [MIN_SQRT_RATIO, MAX_SQRT_RATIO).
        let ours = tick_at_sqrt_ratio(U256::from(case.init_sqrt_price));
        if ours != Err(MathError::SqrtPriceOutOfRange) {
            return Err(mismatch(
                None,
                format!(
                    "the pool refused start price {} with 'R', our tick_at_sqrt_ratio gave {ours:?}",
                    case.init_sqrt_price
                ),
            ));
        }
    }
    *tally.setup_refused.entry(class.to_string()).or_default() += 1;
    Ok(())
}

/// Initialized ticks the price passed, from the real pool's ticks and its tick before and after
/// (moving left a crossed tick `t` leaves the pool at `t − 1`; moving right at `t`).
fn crossed_ticks(ticks: &[i32], zero_for_one: bool, real: &SwapRun) -> u32 {
    let (b, a) = (real.before.tick, real.after.tick);
    ticks
        .iter()
        .filter(|&&t| {
            if zero_for_one {
                a < t && t <= b
            } else {
                b < t && t <= a
            }
        })
        .count() as u32
}

#[allow(
    clippy::too_many_arguments,
    reason = "one swap's inputs, the pool's result and ours, counted together"
)]
fn note_ok(
    tally: &mut Tally,
    kind: PoolKind,
    zero_for_one: bool,
    amount: I256,
    limit: U256,
    real: &SwapRun,
    r: &SwapResult,
    pool: &Rebuilt,
) {
    tally.ok += 1;
    *tally.ok_per_pool.entry(pool_name(kind)).or_default() += 1;
    if amount.is_negative() {
        tally.exact_out += 1;
    }
    tally.max_crossed = tally.max_crossed.max(r.ticks_crossed);
    if r.ticks_crossed >= 24 {
        tally.crossed_24 += 1;
    }
    if r.sqrt_price_x96 == limit {
        tally.limit_hits += 1;
        // The tick the price stopped on: left of it the pool sits at `t − 1`, right of it at `t`.
        let t = real.after.tick + i32::from(zero_for_one);
        if pool.ticks.binary_search(&t).is_ok() && sqrt_ratio_at_tick(t) == Ok(limit) {
            tally.limit_hits_on_tick += 1;
        }
    }
    let size = amount.unsigned_abs();
    if size <= U256::from(3u8) {
        tally.tiny += 1;
    }
    if size >= U256::from(1u8) << 127 {
        tally.huge += 1;
    }
    let ticks = [real.before.tick, real.after.tick];
    if ticks.iter().any(|&t| t <= MIN_TICK + 2_000) {
        tally.near_min_tick += 1;
    }
    if ticks.iter().any(|&t| t >= MAX_TICK - 2_000) {
        tally.near_max_tick += 1;
    }
}

/// The windowed slice gives the bitmap's result, or stops at its edge with the exact prefix of
/// it: the bitmap's swap with the price limit set where the windowed one stopped gives the same
/// amounts and state (every earlier step had the same target, the last one ended on that price).
fn check_window(
    kind: SwapKind,
    state: &PoolState,
    bitmap: &TickBitmap,
    windowed: &TickSlice<'_>,
    spec: &polyarb_tools::Swap,
    ours: &Result<SwapResult, SwapError>,
    tally: &mut Tally,
) -> Result<(), String> {
    let (z, amount, limit) = (
        spec.zero_for_one,
        spec.amount_specified,
        U256::from(spec.sqrt_price_limit),
    );
    let w = swap(kind, state, windowed, z, amount, limit);
    match (&w, ours) {
        (Ok(w), _) if w.hit_window_edge => {
            tally.window_edge += 1;
            if w.sqrt_price_x96 == state.sqrt_price_x96 {
                // No price move: nothing paid, and at most the zero-cost crossing of the tick
                // the pool sits just left of (`tick = t − 1` at exactly `t`'s price).
                return if w.amount0.is_zero() && w.amount1.is_zero() && w.steps <= 1 {
                    Ok(())
                } else {
                    Err(format!("window stop without a price move: {w:?}"))
                };
            }
            let inside = w.sqrt_price_x96 > MIN_SQRT_RATIO && w.sqrt_price_x96 < MAX_SQRT_RATIO;
            if !inside {
                return Ok(());
            }
            let prefix = swap(kind, state, bitmap, z, amount, w.sqrt_price_x96)
                .map_err(|e| format!("window prefix {w:?}: the bitmap re-run failed: {e}"))?;
            let key = |r: &SwapResult| {
                (
                    r.amount0,
                    r.amount1,
                    r.sqrt_price_x96,
                    r.tick,
                    r.liquidity,
                    r.ticks_crossed,
                    r.steps,
                )
            };
            if key(&prefix) != key(w) {
                return Err(format!(
                    "window prefix {w:?} is not the bitmap's swap up to that price {prefix:?}"
                ));
            }
            Ok(())
        }
        (w, o) if w == o => {
            tally.window_full += 1;
            Ok(())
        }
        (w, o) => Err(format!("windowed slice {w:?}, bitmap {o:?}")),
    }
}

/// For an exact input without a price limit, `quote_exact_in` is the real output when the pool
/// took the whole input, else `None`.
fn check_quote<T: TickSource>(
    kind: SwapKind,
    state: &PoolState,
    ticks: &T,
    spec: &polyarb_tools::Swap,
    real: &SwapRun,
    tally: &mut Tally,
) -> Result<(), String> {
    let z = spec.zero_for_one;
    let widest = if z {
        MIN_SQRT_RATIO + U256::from(1u8)
    } else {
        MAX_SQRT_RATIO - U256::from(1u8)
    };
    if !spec.amount_specified.is_positive() || U256::from(spec.sqrt_price_limit) != widest {
        return Ok(());
    }
    let Ok(amount_in) = u128::try_from(spec.amount_specified.unsigned_abs()) else {
        return Ok(());
    };
    let quote = quote_exact_in(kind, state, ticks, z, amount_in);
    let expected = match &real.outcome {
        Ok(a) => {
            let (paid, out) = if z {
                (a.amount0, a.amount1)
            } else {
                (a.amount1, a.amount0)
            };
            if paid == spec.amount_specified && !out.is_positive() {
                u128::try_from(out.unsigned_abs()).ok()
            } else {
                None
            }
        }
        Err(_) => None,
    };
    if quote != expected {
        return Err(format!(
            "quote_exact_in({amount_in}) = {quote:?}, the pool's output says {expected:?} ({:?})",
            real.outcome
        ));
    }
    match quote {
        Some(_) => tally.quotes_some += 1,
        None => tally.quotes_none += 1,
    }
    Ok(())
}
