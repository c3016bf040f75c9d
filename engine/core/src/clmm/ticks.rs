//! Tick sources the swap loop walks, and mint/burn bookkeeping.
//!
//! The contracts find the next tick with a bitmap search that never leaves one 256-bit word of
//! compressed ticks (`tick / spacing`, floored): Uniswap's `TickBitmap.nextInitializedTickWithinOneWord`
//! and Algebra's `TickTable.nextTickInTheSameRow` (spacing fixed at 60). Searching left (`lte`)
//! covers compressed positions from the current one down to the start of its word; searching
//! right covers from the next position up to the end of *its* word. When nothing is initialized
//! in that span the answer is the word's edge, uninitialized, and the swap makes a step to it.
//! That extra step splits the price move in two and changes rounding, so every source here
//! reproduces it exactly. Algebra also clamps the answer to `[MIN_TICK, MAX_TICK]` inside the
//! search; Uniswap does the same clamp in the pool. [`TickSource`] answers unclamped (Uniswap's
//! convention) and the swap loop clamps for both.
//!
//! Two sources:
//! - [`TickBitmap`]: a reference bitmap with `BTreeMap` words and tick records, mutated like the
//!   contract's storage; an oracle for tests and differential harnesses (it allocates);
//! - [`TickSlice`]: the engine's compact view, borrowed columns (tick, `liquidity_net`,
//!   `liquidity_gross`) sorted by tick, complete only over a known window `[lo, hi]`; inside
//!   the window it answers exactly as the bitmap, and where the search would need ticks outside
//!   it says so ([`NextTick::Beyond`], [`NextTick::Unknown`]) instead of guessing.
//!   [`TickColumns`] is its mutable, fixed-capacity owner for applying Mint/Burn events.
//!
//! Window rule: ticks below `MIN_TICK` or above `MAX_TICK` can never be initialized, so a window
//! reaching `MIN_TICK` (`MAX_TICK`) counts as complete all the way down (up).

use core::fmt;
use std::collections::BTreeMap;

use alloy_primitives::U256;

use super::MathError;
use super::liquidity_math::add_delta;
use super::tick_math::{MAX_TICK, MIN_TICK};

/// Algebra 2.0.0's fixed tick spacing (`Constants.TICK_SPACING`).
pub const ALGEBRA_TICK_SPACING: i32 = 60;
/// Algebra 2.0.0's `Constants.MAX_LIQUIDITY_PER_TICK`.
pub const ALGEBRA_MAX_LIQUIDITY_PER_TICK: u128 = 11_505_743_598_341_114_571_880_798_222_544_994;

/// What a tick source says about the next tick in one direction within one bitmap word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextTick {
    /// The contract's answer: the next initialized tick, or the word edge (uninitialized).
    /// Unclamped: may lie outside `[MIN_TICK, MAX_TICK]`, as Uniswap's bitmap answers.
    Found {
        /// The tick (a multiple of the spacing).
        tick: i32,
        /// Whether it is initialized (its `liquidity_net` is applied when crossed).
        initialized: bool,
    },
    /// Nothing is initialized from the start of the search up to and including `edge`
    /// (searching left: every tick in `[edge, start]`; right: in `(start, edge]`), but the
    /// answer lies strictly beyond `edge`, outside what the source knows.
    Beyond {
        /// The last tick known to be uninitialized in the search direction.
        edge: i32,
    },
    /// The source knows nothing where the search starts.
    Unknown,
}

/// A view of a pool's initialized ticks that the swap loop walks (static dispatch only).
pub trait TickSource {
    /// The next initialized tick at or left of `tick` (`lte`), or right of it, within one
    /// bitmap word of compressed ticks, with the contracts' word-boundary semantics.
    /// `tick_spacing` must be positive.
    fn next_initialized_tick_within_one_word(
        &self,
        tick: i32,
        tick_spacing: i32,
        lte: bool,
    ) -> NextTick;

    /// The net liquidity added when `tick` is crossed left to right (0 for an uninitialized tick).
    fn liquidity_net(&self, tick: i32) -> i128;
}

/// Mint/burn and construction failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickError {
    /// `tickLower ≥ tickUpper` (the contracts' `'TLU'`).
    InvertedRange,
    /// A tick below `MIN_TICK` or above `MAX_TICK` (`'TLM'`, `'TUM'`).
    TickOutOfRange,
    /// A tick that is not a multiple of the spacing (the bitmap flip's `require`).
    NotSpaced,
    /// A mint of zero liquidity, or an amount above `i128::MAX` (`toInt128`).
    BadAmount,
    /// Gross liquidity above the per-tick maximum (`'LO'`).
    TickLiquidityOverflow,
    /// Liquidity arithmetic failed (a burn larger than the gross liquidity, `'LS'`; `'LA'`).
    Liquidity(MathError),
    /// The fixed-capacity columns are full.
    Full,
    /// Columns of different lengths, or a length above the capacity.
    LengthMismatch,
    /// Ticks not strictly increasing.
    Unsorted,
    /// A stored tick lies outside the window, or `lo > hi`.
    OutsideWindow,
    /// A tick spacing outside `1..=16383`.
    BadSpacing,
}

impl fmt::Display for TickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvertedRange => f.write_str("lower tick is not below the upper tick"),
            Self::TickOutOfRange => f.write_str("tick outside [MIN_TICK, MAX_TICK]"),
            Self::NotSpaced => f.write_str("tick is not a multiple of the tick spacing"),
            Self::BadAmount => f.write_str("liquidity amount is zero or above int128 max"),
            Self::TickLiquidityOverflow => {
                f.write_str("gross liquidity above the per-tick maximum")
            }
            Self::Liquidity(e) => write!(f, "liquidity: {e}"),
            Self::Full => f.write_str("tick columns are full"),
            Self::LengthMismatch => f.write_str("tick columns differ in length"),
            Self::Unsorted => f.write_str("ticks are not strictly increasing"),
            Self::OutsideWindow => f.write_str("tick outside the known window"),
            Self::BadSpacing => f.write_str("tick spacing outside 1..=16383"),
        }
    }
}

impl core::error::Error for TickError {}

/// The per-pool rules mint/burn enforce: tick spacing and maximum gross liquidity per tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickRules {
    /// Tick spacing.
    pub spacing: i32,
    /// Maximum `liquidity_gross` of one tick.
    pub max_liquidity_per_tick: u128,
}

impl TickRules {
    /// Uniswap V3: `maxLiquidityPerTick = u128::MAX / number of usable ticks`
    /// (`Tick.tickSpacingToMaxLiquidityPerTick`).
    pub fn uniswap_v3(spacing: i32) -> Result<Self, TickError> {
        if !(1..16384).contains(&spacing) {
            return Err(TickError::BadSpacing);
        }
        // Rust's `/` truncates toward zero like Solidity's.
        let min = (MIN_TICK / spacing) * spacing;
        let max = (MAX_TICK / spacing) * spacing;
        let count = ((max - min) / spacing) as u128 + 1;
        Ok(Self {
            spacing,
            max_liquidity_per_tick: u128::MAX / count,
        })
    }

    /// Algebra 2.0.0: spacing 60, `MAX_LIQUIDITY_PER_TICK` constant.
    pub const fn algebra() -> Self {
        Self {
            spacing: ALGEBRA_TICK_SPACING,
            max_liquidity_per_tick: ALGEBRA_MAX_LIQUIDITY_PER_TICK,
        }
    }
}

/// The result of applying a Mint or Burn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionChange {
    /// Whether the pool's active liquidity changed (the current tick is in `[lower, upper)`).
    pub active_changed: bool,
    /// Ticks that flipped initialization (went from or to zero gross liquidity), at most two.
    pub flipped: [Option<i32>; 2],
    /// Ticks outside the known window that were left unrecorded, at most two.
    pub skipped: [Option<i32>; 2],
}

/// `floor(tick / spacing)`, in `i64` so no input can overflow.
#[inline]
fn compress(tick: i32, spacing: i32) -> i64 {
    i64::from(tick).div_euclid(i64::from(spacing))
}

/// The search span of one call in compressed positions (`first` is where the walk starts,
/// `last` the word edge it ends on).
#[inline]
fn span(tick: i32, spacing: i32, lte: bool) -> (i64, i64) {
    let c = compress(tick, spacing);
    if lte {
        // Solidity's `uint8(c % 256)` is the low 8 bits of two's complement.
        let bit = c & 0xff;
        (c, c - bit)
    } else {
        let c1 = c + 1;
        let bit = c1 & 0xff;
        (c1, c1 + (255 - bit))
    }
}

/// A compressed position back to a tick (saturating; only absurd inputs saturate).
#[inline]
fn expand(position: i64, spacing: i32) -> i32 {
    let t = position.saturating_mul(i64::from(spacing));
    i32::try_from(t).unwrap_or(if t < 0 { i32::MIN } else { i32::MAX })
}

/// Common checks for mint and burn; returns the signed delta.
fn check_position(lower: i32, upper: i32, spacing: i32) -> Result<(), TickError> {
    if lower >= upper {
        return Err(TickError::InvertedRange);
    }
    if lower < MIN_TICK || upper > MAX_TICK {
        return Err(TickError::TickOutOfRange);
    }
    if spacing <= 0 {
        return Err(TickError::BadSpacing);
    }
    // The contracts revert in the bitmap flip; an unspaced tick always flips (it can never
    // have been initialized) or fails `addDelta` first on a burn. Either way: a revert.
    if lower % spacing != 0 || upper % spacing != 0 {
        return Err(TickError::NotSpaced);
    }
    Ok(())
}

/// New gross and net of one tick after a position change (`Tick.update` /
/// `TickManager.update`): gross via `addDelta` and the per-tick cap, net `+delta` for a lower
/// tick and `−delta` for an upper one, within `int128`.
fn update_tick(
    gross: u128,
    net: i128,
    delta: i128,
    upper: bool,
    max_per_tick: u128,
) -> Result<(u128, i128), TickError> {
    let gross_after = add_delta(gross, delta).map_err(TickError::Liquidity)?;
    if gross_after > max_per_tick {
        return Err(TickError::TickLiquidityOverflow);
    }
    let net_after = if upper {
        net.checked_sub(delta)
    } else {
        net.checked_add(delta)
    }
    .ok_or(TickError::Liquidity(MathError::Int128Overflow))?;
    Ok((gross_after, net_after))
}

/// Mint amount as the contracts' `int256(amount).toInt128()`; zero is refused as mint requires.
fn mint_delta(amount: u128) -> Result<i128, TickError> {
    match i128::try_from(amount) {
        Ok(d) if d > 0 => Ok(d),
        _ => Err(TickError::BadAmount),
    }
}

/// Burn amount as `-int256(amount).toInt128()`; zero is a no-op burn ("poke").
fn burn_delta(amount: u128) -> Result<i128, TickError> {
    i128::try_from(amount)
        .map(|d| -d)
        .map_err(|_| TickError::BadAmount)
}

// ---------------------------------------------------------------------------------------------
// Reference bitmap

/// One tick's record in the reference bitmap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickInfo {
    /// Total liquidity of positions referencing the tick.
    pub liquidity_gross: u128,
    /// Liquidity added when crossing left to right.
    pub liquidity_net: i128,
}

/// A reference tick bitmap: words of 256 compressed ticks keyed by word index, and tick
/// records, updated by mint/burn like the contracts' storage. For tests and oracles.
#[derive(Clone, Debug)]
pub struct TickBitmap {
    rules: TickRules,
    words: BTreeMap<i64, U256>,
    ticks: BTreeMap<i32, TickInfo>,
}

impl TickBitmap {
    /// An empty bitmap with the pool's rules.
    pub fn new(rules: TickRules) -> Self {
        Self {
            rules,
            words: BTreeMap::new(),
            ticks: BTreeMap::new(),
        }
    }

    /// The rules it was made with.
    pub fn rules(&self) -> TickRules {
        self.rules
    }

    /// The record of an initialized tick.
    pub fn tick(&self, tick: i32) -> Option<TickInfo> {
        self.ticks.get(&tick).copied()
    }

    /// Initialized ticks in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, TickInfo)> + '_ {
        self.ticks.iter().map(|(&t, &i)| (t, i))
    }

    /// Whether the bit of `tick` is set in its word.
    pub fn is_initialized(&self, tick: i32) -> bool {
        let c = compress(tick, self.rules.spacing);
        self.words
            .get(&(c >> 8))
            .is_some_and(|w| w.bit((c & 0xff) as usize))
    }

    fn flip(&mut self, tick: i32) {
        let c = compress(tick, self.rules.spacing);
        let word = self.words.entry(c >> 8).or_insert(U256::ZERO);
        *word ^= U256::from(1u8) << ((c & 0xff) as usize);
        if word.is_zero() {
            self.words.remove(&(c >> 8));
        }
    }

    /// Apply a Mint of `amount` liquidity on `[lower, upper)`; `liquidity` is the pool's active
    /// liquidity, changed when `current_tick` is in range.
    pub fn mint(
        &mut self,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        amount: u128,
    ) -> Result<PositionChange, TickError> {
        let delta = mint_delta(amount)?;
        self.modify(current_tick, liquidity, lower, upper, delta)
    }

    /// Apply a Burn of `amount` liquidity on `[lower, upper)` (zero: no change).
    pub fn burn(
        &mut self,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        amount: u128,
    ) -> Result<PositionChange, TickError> {
        let delta = burn_delta(amount)?;
        self.modify(current_tick, liquidity, lower, upper, delta)
    }

    fn modify(
        &mut self,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        delta: i128,
    ) -> Result<PositionChange, TickError> {
        check_position(lower, upper, self.rules.spacing)?;
        let mut change = PositionChange::default();
        if delta == 0 {
            return Ok(change);
        }
        let max = self.rules.max_liquidity_per_tick;
        let lo_before = self.tick(lower).unwrap_or_default();
        let hi_before = self.tick(upper).unwrap_or_default();
        let lo_after = update_tick(
            lo_before.liquidity_gross,
            lo_before.liquidity_net,
            delta,
            false,
            max,
        )?;
        let hi_after = update_tick(
            hi_before.liquidity_gross,
            hi_before.liquidity_net,
            delta,
            true,
            max,
        )?;
        let in_range = lower <= current_tick && current_tick < upper;
        let active = if in_range {
            add_delta(*liquidity, delta).map_err(TickError::Liquidity)?
        } else {
            *liquidity
        };
        for (slot, (tick, before, (gross, net))) in
            [(lower, lo_before, lo_after), (upper, hi_before, hi_after)]
                .into_iter()
                .enumerate()
        {
            if (before.liquidity_gross == 0) != (gross == 0) {
                self.flip(tick);
                change.flipped[slot] = Some(tick);
            }
            if gross == 0 {
                self.ticks.remove(&tick);
            } else {
                self.ticks.insert(
                    tick,
                    TickInfo {
                        liquidity_gross: gross,
                        liquidity_net: net,
                    },
                );
            }
        }
        change.active_changed = in_range;
        *liquidity = active;
        Ok(change)
    }

    /// A [`TickSlice`]-shaped copy of the ticks in `[lo, hi]`, for tests: (ticks, nets, grosses).
    pub fn window_columns(&self, lo: i32, hi: i32) -> (Vec<i32>, Vec<i128>, Vec<u128>) {
        let mut t = Vec::new();
        let mut n = Vec::new();
        let mut g = Vec::new();
        for (&tick, info) in self.ticks.range(lo..=hi) {
            t.push(tick);
            n.push(info.liquidity_net);
            g.push(info.liquidity_gross);
        }
        (t, n, g)
    }
}

impl TickSource for TickBitmap {
    /// Bit operations on the word, as the contract does. `tick_spacing` must equal the
    /// bitmap's own (the one its ticks were flipped with).
    fn next_initialized_tick_within_one_word(
        &self,
        tick: i32,
        tick_spacing: i32,
        lte: bool,
    ) -> NextTick {
        let spacing = tick_spacing.max(1);
        let (first, last) = span(tick, spacing, lte);
        let word = self.words.get(&(first >> 8)).copied().unwrap_or(U256::ZERO);
        let bit = (first & 0xff) as usize;
        if lte {
            // Bits at or right of `bit`.
            let masked = word & (U256::MAX >> (255 - bit));
            if masked.is_zero() {
                NextTick::Found {
                    tick: expand(last, spacing),
                    initialized: false,
                }
            } else {
                let msb = masked.bit_len() as i64 - 1;
                NextTick::Found {
                    tick: expand(first - (bit as i64 - msb), spacing),
                    initialized: true,
                }
            }
        } else {
            // Bits at or left of `bit`.
            let masked = word & (U256::MAX << bit);
            if masked.is_zero() {
                NextTick::Found {
                    tick: expand(last, spacing),
                    initialized: false,
                }
            } else {
                let lsb = masked.trailing_zeros() as i64;
                NextTick::Found {
                    tick: expand(first + (lsb - bit as i64), spacing),
                    initialized: true,
                }
            }
        }
    }

    fn liquidity_net(&self, tick: i32) -> i128 {
        self.ticks.get(&tick).map_or(0, |i| i.liquidity_net)
    }
}

// ---------------------------------------------------------------------------------------------
// Compact window

/// Borrowed struct-of-arrays view of a pool's initialized ticks, complete over `[lo, hi]`.
///
/// `ticks` strictly increasing, all within `[lo, hi]`; a tick counts as initialized when its
/// `liquidity_gross` is non-zero and it is a multiple of the spacing the search is asked with.
#[derive(Clone, Copy, Debug)]
pub struct TickSlice<'a> {
    ticks: &'a [i32],
    net: &'a [i128],
    gross: &'a [u128],
    lo: i32,
    hi: i32,
}

impl<'a> TickSlice<'a> {
    /// Checks the columns (equal lengths, strictly increasing, inside `[lo, hi]`).
    pub fn new(
        ticks: &'a [i32],
        net: &'a [i128],
        gross: &'a [u128],
        lo: i32,
        hi: i32,
    ) -> Result<Self, TickError> {
        let slice = Self::from_table(ticks, net, gross, lo, hi)?;
        if lo > hi {
            return Err(TickError::OutsideWindow);
        }
        if ticks.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TickError::Unsorted);
        }
        if ticks.first().is_some_and(|&t| t < lo) || ticks.last().is_some_and(|&t| t > hi) {
            return Err(TickError::OutsideWindow);
        }
        Ok(slice)
    }

    /// Columns the pool tables keep sorted and inside their window (every insert and removal
    /// keeps that), viewed without re-checking it: [`TickSlice::new`] walks every tick, and the
    /// search views a concentrated pool once per hop of every cycle it prices. Only the lengths
    /// are checked (cheap, and a mismatch would misalign the columns).
    pub(crate) fn from_table(
        ticks: &'a [i32],
        net: &'a [i128],
        gross: &'a [u128],
        lo: i32,
        hi: i32,
    ) -> Result<Self, TickError> {
        if ticks.len() != net.len() || ticks.len() != gross.len() {
            return Err(TickError::LengthMismatch);
        }
        Ok(Self {
            ticks,
            net,
            gross,
            lo,
            hi,
        })
    }

    /// The known window `[lo, hi]`.
    pub fn window(&self) -> (i32, i32) {
        (self.lo, self.hi)
    }

    /// Number of stored ticks.
    pub fn len(&self) -> usize {
        self.ticks.len()
    }

    /// Whether no tick is stored.
    pub fn is_empty(&self) -> bool {
        self.ticks.is_empty()
    }

    /// The stored ticks, ascending: `(tick, liquidity_net, liquidity_gross)`.
    pub fn iter(&self) -> impl Iterator<Item = (i32, i128, u128)> + '_ {
        self.ticks
            .iter()
            .zip(self.net)
            .zip(self.gross)
            .map(|((&t, &n), &g)| (t, n, g))
    }

    /// Lowest tick known to the slice (`i32::MIN` when the window reaches `MIN_TICK`).
    #[inline]
    fn known_lo(&self) -> i32 {
        if self.lo <= MIN_TICK {
            i32::MIN
        } else {
            self.lo
        }
    }

    /// Highest tick known to the slice (`i32::MAX` when the window reaches `MAX_TICK`).
    #[inline]
    fn known_hi(&self) -> i32 {
        if self.hi >= MAX_TICK {
            i32::MAX
        } else {
            self.hi
        }
    }

    #[inline]
    fn counts(&self, i: usize, spacing: i32) -> bool {
        self.gross[i] != 0 && self.ticks[i] % spacing == 0
    }
}

impl TickSource for TickSlice<'_> {
    fn next_initialized_tick_within_one_word(
        &self,
        tick: i32,
        tick_spacing: i32,
        lte: bool,
    ) -> NextTick {
        let s = tick_spacing.max(1);
        let (first, last) = span(tick, s, lte);
        // Tick values of the span, in i64 so the extreme words cannot overflow.
        let first_t = first * i64::from(s);
        let last_t = last * i64::from(s);
        let (klo, khi) = (i64::from(self.known_lo()), i64::from(self.known_hi()));
        let t0 = i64::from(tick);
        let start_known = klo <= t0 && t0 <= khi;
        if lte {
            // The walk goes down from first_t ≤ tick; (first_t, tick] holds no spaced tick.
            if first_t > khi || !start_known {
                return NextTick::Unknown;
            }
            if first_t < klo {
                // Nothing spaced in [lo, tick]: the answer (≤ first_t) is below the window.
                return NextTick::Beyond { edge: self.lo };
            }
            let stop = last_t.max(klo);
            // Largest stored index with tick ≤ first_t, then down past entries that do not count.
            let mut i = self.ticks.partition_point(|&t| i64::from(t) <= first_t);
            while i > 0 {
                i -= 1;
                if i64::from(self.ticks[i]) < stop {
                    break;
                }
                if self.counts(i, s) {
                    return NextTick::Found {
                        tick: self.ticks[i],
                        initialized: true,
                    };
                }
            }
            if last_t >= klo {
                NextTick::Found {
                    tick: expand(last, s),
                    initialized: false,
                }
            } else {
                NextTick::Beyond { edge: self.lo }
            }
        } else {
            // The walk goes up from first_t > tick; (tick, first_t) holds no spaced tick.
            if first_t < klo || !start_known {
                return NextTick::Unknown;
            }
            if first_t > khi {
                // Nothing spaced in (tick, hi]: the answer (≥ first_t) is above the window.
                return NextTick::Beyond { edge: self.hi };
            }
            let stop = last_t.min(khi);
            let mut i = self.ticks.partition_point(|&t| i64::from(t) < first_t);
            while i < self.ticks.len() {
                if i64::from(self.ticks[i]) > stop {
                    break;
                }
                if self.counts(i, s) {
                    return NextTick::Found {
                        tick: self.ticks[i],
                        initialized: true,
                    };
                }
                i += 1;
            }
            if last_t <= khi {
                NextTick::Found {
                    tick: expand(last, s),
                    initialized: false,
                }
            } else {
                NextTick::Beyond { edge: self.hi }
            }
        }
    }

    fn liquidity_net(&self, tick: i32) -> i128 {
        match self.ticks.binary_search(&tick) {
            Ok(i) if self.gross[i] != 0 => self.net[i],
            _ => 0,
        }
    }
}

/// One tick's planned update in a mint/burn (checked before anything is written).
#[derive(Clone, Copy, Debug)]
struct PlannedTick {
    tick: i32,
    gross_before: u128,
    gross: u128,
    net: i128,
}

/// Mutable, fixed-capacity tick columns over caller-owned storage: the first `len` entries are
/// the window's initialized ticks, sorted. Applies Mint/Burn events without allocating.
#[derive(Debug)]
pub struct TickColumns<'a> {
    ticks: &'a mut [i32],
    net: &'a mut [i128],
    gross: &'a mut [u128],
    len: usize,
    lo: i32,
    hi: i32,
}

impl<'a> TickColumns<'a> {
    /// Wraps storage whose first `len` entries already hold the window `[lo, hi]` (checked as
    /// [`TickSlice::new`] does); capacity is the shortest column's length.
    pub fn new(
        ticks: &'a mut [i32],
        net: &'a mut [i128],
        gross: &'a mut [u128],
        len: usize,
        lo: i32,
        hi: i32,
    ) -> Result<Self, TickError> {
        if ticks.len() != net.len() || ticks.len() != gross.len() || len > ticks.len() {
            return Err(TickError::LengthMismatch);
        }
        TickSlice::new(&ticks[..len], &net[..len], &gross[..len], lo, hi)?;
        Ok(Self {
            ticks,
            net,
            gross,
            len,
            lo,
            hi,
        })
    }

    /// The current contents as a [`TickSlice`].
    pub fn as_slice(&self) -> TickSlice<'_> {
        TickSlice {
            ticks: &self.ticks[..self.len],
            net: &self.net[..self.len],
            gross: &self.gross[..self.len],
            lo: self.lo,
            hi: self.hi,
        }
    }

    /// Number of stored ticks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no tick is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Apply a Mint (`amount > 0`) on `[lower, upper)`: both ticks' gross/net (inside the window),
    /// and `liquidity` (the pool's active liquidity) when `lower ≤ current_tick < upper`.
    /// All-or-nothing: on error nothing changed.
    pub fn mint(
        &mut self,
        rules: TickRules,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        amount: u128,
    ) -> Result<PositionChange, TickError> {
        let delta = mint_delta(amount)?;
        self.modify(rules, current_tick, liquidity, lower, upper, delta)
    }

    /// Apply a Burn of `amount` on `[lower, upper)`; zero changes nothing (after the range
    /// checks). All-or-nothing.
    pub fn burn(
        &mut self,
        rules: TickRules,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        amount: u128,
    ) -> Result<PositionChange, TickError> {
        let delta = burn_delta(amount)?;
        self.modify(rules, current_tick, liquidity, lower, upper, delta)
    }

    fn find(&self, tick: i32) -> Result<usize, usize> {
        self.ticks[..self.len].binary_search(&tick)
    }

    /// `(liquidity_net, liquidity_gross)` of a stored tick; `None` if it is not initialized
    /// (or outside the window).
    pub fn get(&self, tick: i32) -> Option<(i128, u128)> {
        self.find(tick).ok().map(|i| (self.net[i], self.gross[i]))
    }

    /// Puts one tick back as it was before a Mint or Burn (an undo journal's before-image):
    /// `Some((net, gross))` stores it (inserting it if the change cleared it), `None` clears it
    /// (if the change initialized it). A tick outside the window is left alone. Fails only if
    /// the storage is full, which a before-image of the same table cannot make it.
    pub fn restore(&mut self, tick: i32, before: Option<(i128, u128)>) -> Result<(), TickError> {
        if tick < self.lo || tick > self.hi {
            return Ok(());
        }
        match (self.find(tick), before) {
            (Ok(i), Some((net, gross))) => {
                self.net[i] = net;
                self.gross[i] = gross;
            }
            (Ok(i), None) => self.remove(i),
            (Err(i), Some((net, gross))) => {
                if self.len == self.ticks.len() {
                    return Err(TickError::Full);
                }
                self.insert(i, tick, net, gross);
            }
            (Err(_), None) => {}
        }
        Ok(())
    }

    fn modify(
        &mut self,
        rules: TickRules,
        current_tick: i32,
        liquidity: &mut u128,
        lower: i32,
        upper: i32,
        delta: i128,
    ) -> Result<PositionChange, TickError> {
        check_position(lower, upper, rules.spacing)?;
        let mut change = PositionChange::default();
        if delta == 0 {
            return Ok(change);
        }
        // Plan both ticks first so a failure leaves everything untouched.
        let mut plan: [Option<PlannedTick>; 2] = [None, None];
        let mut inserts = 0usize;
        for (slot, (tick, upper_side)) in [(lower, false), (upper, true)].into_iter().enumerate() {
            if tick < self.lo || tick > self.hi {
                change.skipped[slot] = Some(tick);
                // Outside the window the record is unknown; a burn there cannot be checked.
                continue;
            }
            let pos = self.find(tick);
            let (gross, net) = match pos {
                Ok(i) => (self.gross[i], self.net[i]),
                Err(_) => (0, 0),
            };
            let (g, n) = update_tick(gross, net, delta, upper_side, rules.max_liquidity_per_tick)?;
            if gross == 0 && g != 0 && pos.is_err() {
                inserts += 1;
            }
            plan[slot] = Some(PlannedTick {
                tick,
                gross_before: gross,
                gross: g,
                net: n,
            });
        }
        let in_range = lower <= current_tick && current_tick < upper;
        let active = if in_range {
            add_delta(*liquidity, delta).map_err(TickError::Liquidity)?
        } else {
            *liquidity
        };
        if self.len + inserts > self.ticks.len() {
            return Err(TickError::Full);
        }
        // Apply; the upper tick goes first so the lower tick's index stays valid.
        for slot in [1usize, 0] {
            let Some(PlannedTick {
                tick,
                gross_before: before,
                gross: g,
                net: n,
            }) = plan[slot]
            else {
                continue;
            };
            if (before == 0) != (g == 0) {
                change.flipped[slot] = Some(tick);
            }
            match self.find(tick) {
                Ok(i) if g == 0 => self.remove(i),
                Ok(i) => {
                    self.gross[i] = g;
                    self.net[i] = n;
                }
                Err(i) if g != 0 => self.insert(i, tick, n, g),
                Err(_) => {}
            }
        }
        change.active_changed = in_range;
        *liquidity = active;
        Ok(change)
    }

    fn remove(&mut self, i: usize) {
        let len = self.len;
        self.ticks.copy_within(i + 1..len, i);
        self.net.copy_within(i + 1..len, i);
        self.gross.copy_within(i + 1..len, i);
        self.len -= 1;
    }

    fn insert(&mut self, i: usize, tick: i32, net: i128, gross: u128) {
        let len = self.len;
        self.ticks.copy_within(i..len, i + 1);
        self.net.copy_within(i..len, i + 1);
        self.gross.copy_within(i..len, i + 1);
        self.ticks[i] = tick;
        self.net[i] = net;
        self.gross[i] = gross;
        self.len += 1;
    }
}
