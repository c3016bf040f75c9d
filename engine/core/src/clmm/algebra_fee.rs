//! Algebra V1's adaptive fee (QuickSwap V3), exactly: a model of one pool's
//! `DataStorageOperator` (timepoints and fee configuration) that predicts the fee the pool sets at
//! its first timepoint write of a block. Written from the behaviour of `cryptoalgebra/Algebra` tag
//! `v1.0.0` (`DataStorage`, `AdaptiveFee`, `DataStorageOperator`, `Sqrt`, and the parts of
//! `AlgebraPool` that feed them); see docs/algebra.md, "The dynamic fee".
//!
//! When the pool writes a timepoint (first swap of a block, or first mint/burn that changes
//! active liquidity, in a block whose timestamp differs from the newest timepoint's) it calls
//! `write(index, block.timestamp, tick, liquidity, volumePerLiquidityInBlock)` and then
//! `getFee(block.timestamp, tick, newIndex, liquidity)`, with the tick and active liquidity from
//! before the swap. [`DataStorage::predict_fee`] does both on a view of the state, without
//! changing it.
//!
//! Modelled, each to the contract's integer widths and roundings: `DataStorage.write`,
//! `initialize`, `getSingleTimepoint` (extrapolation past the newest timepoint, binary search and
//! interpolation), `_getAverageTick`, `_volatilityOnRange`, `getAverages`; `AdaptiveFee.getFee`
//! with its sigmoids and nine-term (degree 8) `exp` series ([`FeeConfig::fee`]);
//! `DataStorageOperator.getFee`, `changeFeeConfiguration`'s checks ([`FeeConfig::validate`]) and
//! `calculateVolumePerLiquidity` with `Sqrt.sqrtAbs` ([`volume_per_liquidity`]); the pool's
//! `volumePerLiquidityInBlock` ([`add_volume_in_block`]). Solidity 0.7.6 does not check arithmetic: every addition,
//! subtraction and multiplication here wraps at the width of the contract's type (`int56` tick
//! cumulative, `uint88` volatility, `uint144` volume, `uint160` seconds per liquidity), divisions
//! truncate towards zero, and a division by zero (a revert there) is
//! [`FeeError::DivisionByZero`]. Nothing panics on any input.
//!
//! Units: timestamps are `block.timestamp` truncated to `u32` seconds; ticks are `i32` holding the
//! contract's `int24` (other values are refused, as the ABI would); liquidity is `u128`; fees are
//! pips (1e-6) in `u16`; volume per liquidity is `√|amount0|·√|amount1| · 2^64 / liquidity`.
//!
//! # Memory
//!
//! The contract keeps 65,536 timepoints of 64 bytes (4 MiB per pool). The fee only ever reads the
//! newest timepoint, the one before it, the oldest one and the two around `now − 1 day`; as `now`
//! only grows, every timepoint written in the last day can still be reached, older ones cannot
//! (but for the oldest). So [`DataStorage`] keeps:
//! - a ring of the newest `capacity` timepoints, 40 bytes each, holding only what the fee reads
//!   (timestamp, tick, volatility and volume cumulatives: [`Record`]); `capacity` is chosen at
//!   construction (2 ..= 65,536) and never grows on the update path;
//! - the newest timepoint in full (also `secondsPerLiquidityCumulative` and `averageTick`, which
//!   `write` carries forward) and the first one (index 0, the contract's oldest until its ring
//!   wraps); with the configuration, 184 bytes besides the ring.
//!
//! A pool needs `1 + (timepoints written in its busiest 1-day span)` records, and 2 while its
//! first timepoint is less than a day old (the fee then reads that one, not the window start);
//! [`capacity_for_interval`] bounds it from the chain's shortest block interval. Polygon PoS makes
//! a block every 2 s, so 43,201 records (1.65 MiB) cover any pool; a pool swapped every 30 s on
//! average needs about 2,881 (113 KiB). [`DataStorage::window_len`] tells a caller how many
//! records the window uses now, so it can [`resize`](DataStorage::resize) off the hot path before
//! they run out. A query that would need a record no longer kept fails with
//! [`FeeError::Evicted`], never with a wrong number.
//!
//! Exactness: with capacity 65,536 nothing is dropped and the search probes the contract's indices
//! literally (where the contract would wander outside the written timepoints, possible only with
//! timestamps that go back, the model stops with [`FeeError::SearchFailed`]). With less, the
//! search starts at the oldest record kept; that gives the contract's answer because block
//! timestamps increase (everything dropped is older than what is kept) and the records span less
//! than 2^32 s, which the chain guarantees. `secondsPerLiquidityCumulative`
//! of an older timepoint is not kept: a `getSingleTimepoint` answer found by the search has it
//! `None` (it is no fee input). The `index` arguments must be the newest index (the pool never
//! passes another). The proof is the differential test `engine/core/tests/algebra_fee.rs` against
//! the real operator bytecode.

use core::fmt;

use alloy_primitives::{
    I256, U160, U256,
    aliases::{U88, U144},
};

/// `DataStorage.WINDOW`: the fee averages over the last day, seconds.
pub const WINDOW: u32 = 86_400;

/// Timepoints in the contract's ring (its indices are `uint16`).
pub const RING_SIZE: usize = 65_536;

/// The fewest records a [`DataStorage`] keeps: the newest and the one before it.
pub const MIN_CAPACITY: usize = 2;

/// `DataStorageOperator.MAX_VOLUME_PER_LIQUIDITY`: one swap's volume per liquidity is capped at
/// 100,000 (Q64).
pub const MAX_VOLUME_PER_LIQUIDITY: u128 = 100_000 << 64;

/// Bytes of one kept record.
pub const RECORD_BYTES: usize = core::mem::size_of::<Slot>();

const INT24_MIN: i32 = -(1 << 23);
const INT24_MAX: i32 = (1 << 23) - 1;

/// Probes of the binary search before giving up; the contract's search over 65,536 timepoints
/// ends within 17 when the timestamps increase.
const SEARCH_PROBES: u32 = 64;

/// The records a pool needs when blocks are at least `min_block_interval` seconds apart and it
/// writes at most one timepoint per block: one more than the timepoints a day can hold, at most
/// [`RING_SIZE`]. An interval of 0 gives [`RING_SIZE`].
pub fn capacity_for_interval(min_block_interval: u32) -> usize {
    if min_block_interval == 0 {
        return RING_SIZE;
    }
    let per_window = WINDOW.div_ceil(min_block_interval) as usize;
    (per_window + 1).clamp(MIN_CAPACITY, RING_SIZE)
}

/// Why a fee configuration was refused (`changeFeeConfiguration`'s `require`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `alpha1 + alpha2 + baseFee > 65535` (the contract's `'Max fee exceeded'`).
    MaxFeeExceeded,
    /// A gamma is zero (the contract's `'Gammas must be > 0'`).
    ZeroGamma,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MaxFeeExceeded => "max fee exceeded: alpha1 + alpha2 + base fee above 65535",
            Self::ZeroGamma => "gammas must be above zero",
        })
    }
}

impl core::error::Error for ConfigError {}

/// Why a timepoint operation failed: where the contract reverts, and the model's own limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeError {
    /// No timepoint yet: `initialize` first.
    NotInitialized,
    /// `initialize` on an initialized state (the contract's bare `require`).
    AlreadyInitialized,
    /// The index given is not the newest one (the pool always passes the newest).
    StaleIndex {
        /// The newest index.
        newest: u16,
        /// The index given.
        given: u16,
    },
    /// A tick outside `int24`.
    TickOutOfRange(i32),
    /// The time asked for is before the oldest timepoint (the contract's `'OLD'`).
    Old,
    /// The answer needs a timepoint this state no longer keeps (capacity too small).
    Evicted,
    /// A division by zero, where the contract reverts; needs timestamps that repeat.
    DivisionByZero,
    /// The binary search did not close in on the target, where the contract would read outside
    /// the written timepoints or run out of gas; needs timestamps that do not increase.
    SearchFailed,
    /// The timepoints given to [`DataStorage::restore`] do not fit together.
    BadHistory,
}

impl fmt::Display for FeeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInitialized => f.write_str("timepoints not initialized"),
            Self::AlreadyInitialized => f.write_str("timepoints already initialized"),
            Self::StaleIndex { newest, given } => {
                write!(f, "index {given} is not the newest timepoint ({newest})")
            }
            Self::TickOutOfRange(t) => write!(f, "tick {t} outside int24"),
            Self::Old => f.write_str("target older than the oldest timepoint"),
            Self::Evicted => f.write_str("needs a timepoint no longer kept (capacity too small)"),
            Self::DivisionByZero => f.write_str("division by zero"),
            Self::SearchFailed => f.write_str("timepoint search did not converge"),
            Self::BadHistory => f.write_str("timepoints to restore do not fit together"),
        }
    }
}

impl core::error::Error for FeeError {}

/// `Result` with [`FeeError`] as the default error.
pub type Result<T, E = FeeError> = core::result::Result<T, E>;

/// `AdaptiveFee.Configuration`: two sigmoids of volatility, summed, scaled by a sigmoid of
/// volume per liquidity, plus a base fee. Alphas and the base fee are pips.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct FeeConfig {
    /// Height of the first volatility sigmoid, pips.
    pub alpha1: u16,
    /// Height of the second volatility sigmoid, pips.
    pub alpha2: u16,
    /// Shift of the first sigmoid along volatility.
    pub beta1: u32,
    /// Shift of the second sigmoid along volatility.
    pub beta2: u32,
    /// Stretch of the first sigmoid.
    pub gamma1: u16,
    /// Stretch of the second sigmoid.
    pub gamma2: u16,
    /// Shift of the volume sigmoid.
    pub volume_beta: u32,
    /// Stretch of the volume sigmoid.
    pub volume_gamma: u16,
    /// The lowest fee, pips.
    pub base_fee: u16,
}

impl FeeConfig {
    /// `AlgebraFactory.baseFeeConfiguration` as deployed: what every new pool starts with, fees
    /// from 100 to 15,000 pips.
    pub const DEFAULT: Self = Self {
        alpha1: 2900,
        alpha2: 12000,
        beta1: 360,
        beta2: 60000,
        gamma1: 59,
        gamma2: 8500,
        volume_beta: 0,
        volume_gamma: 10,
        base_fee: 100,
    };

    /// `changeFeeConfiguration`'s checks, in its order.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if u32::from(self.alpha1) + u32::from(self.alpha2) + u32::from(self.base_fee)
            > u32::from(u16::MAX)
        {
            return Err(ConfigError::MaxFeeExceeded);
        }
        if self.gamma1 == 0 || self.gamma2 == 0 || self.volume_gamma == 0 {
            return Err(ConfigError::ZeroGamma);
        }
        Ok(())
    }

    /// `AdaptiveFee.getFee(volatility, volumePerLiquidity, config)`, pips. `volatility` is the
    /// average volatility already divided by 15, as `DataStorageOperator.getFee` passes it.
    /// Any configuration is accepted; the sum wraps at `u16` as the contract's cast does (a
    /// validated one never gets there).
    pub fn fee(&self, volatility: u128, volume_per_liquidity: u128) -> u16 {
        let sum = sigmoid(volatility, self.gamma1, self.alpha1, self.beta1.into())
            + sigmoid(volatility, self.gamma2, self.alpha2, self.beta2.into());
        let height = sum.min(u16::MAX.into()) as u16;
        let volume = sigmoid(
            volume_per_liquidity,
            self.volume_gamma,
            height,
            self.volume_beta.into(),
        );
        // `uint16(baseFee + sigmoid)`: the contract truncates.
        (u128::from(self.base_fee) + volume) as u16
    }
}

/// `AdaptiveFee.sigmoid`: `alpha / (1 + e^((beta − x)/g))`, with `e^y` from [`exp`] and the
/// contract's integer roundings; at most `alpha`.
fn sigmoid(x: u128, g: u16, alpha: u16, beta: u128) -> u128 {
    let six_g = 6 * u128::from(g);
    let alpha = U256::from(alpha);
    if x > beta {
        let x = x - beta;
        if x >= six_g {
            return alpha.saturating_to();
        }
        // Here g ≥ 1 (x < 6g), so every division below is by a positive number; no product
        // exceeds 2^172.
        let g8 = pow8(g);
        let ex = exp(x, g, g8);
        alpha
            .wrapping_mul(ex)
            .wrapping_div(g8.wrapping_add(ex))
            .saturating_to()
    } else {
        let x = beta - x;
        if x >= six_g {
            return 0;
        }
        let g8 = pow8(g);
        let ex = g8.wrapping_add(exp(x, g, g8));
        alpha.wrapping_mul(g8).wrapping_div(ex).saturating_to()
    }
}

fn pow8(g: u16) -> U256 {
    let g2 = U256::from(u32::from(g) * u32::from(g));
    let g4 = g2.wrapping_mul(g2);
    g4.wrapping_mul(g4)
}

/// `AdaptiveFee.exp`: `g^8 · e^(x/g)` from the series' first nine terms, each rounded down
/// separately. `x < 6g < 2^19` and `g ≥ 1`, so no term exceeds 2^155.
fn exp(x: u128, g: u16, g8: U256) -> U256 {
    let x = U256::from(x);
    let g = U256::from(g);
    let mut g_power = g8;
    let mut x_power = x;
    let mut res = g_power;
    g_power = g_power.wrapping_div(g);
    res = res.wrapping_add(x_power.wrapping_mul(g_power));
    for divisor in [2u32, 6, 24, 120, 720] {
        g_power = g_power.wrapping_div(g);
        x_power = x_power.wrapping_mul(x);
        res = res.wrapping_add(
            x_power
                .wrapping_mul(g_power)
                .wrapping_div(U256::from(divisor)),
        );
    }
    x_power = x_power.wrapping_mul(x);
    res.wrapping_add(x_power.wrapping_mul(g).wrapping_div(U256::from(5040u32)))
        .wrapping_add(x_power.wrapping_mul(x).wrapping_div(U256::from(40320u32)))
}

/// `Sqrt.sqrtAbs`: the integer square root of `|x|` (`|int256.min|` is 2^255), by the contract's
/// seed and seven Newton steps, the smaller of `r` and `|x|/r` at the end.
pub fn sqrt_abs(x: I256) -> U256 {
    let x = x.unsigned_abs();
    if x.is_zero() {
        return U256::ZERO;
    }
    let mut xx = x;
    let mut r = U256::from(1u8);
    for (bits, shift) in [
        (128usize, 64usize),
        (64, 32),
        (32, 16),
        (16, 8),
        (8, 4),
        (4, 2),
    ] {
        if xx >= U256::from(1u8) << bits {
            xx >>= bits;
            r <<= shift;
        }
    }
    if xx >= U256::from(8u8) {
        r <<= 1;
    }
    // r ≥ 1 throughout: it starts at 1 and (r + x/r)/2 ≥ 1 while x ≥ 1.
    for _ in 0..7 {
        r = r.wrapping_add(x.wrapping_div(r)) >> 1;
    }
    let r1 = x.wrapping_div(r);
    r.min(r1)
}

/// `DataStorageOperator.calculateVolumePerLiquidity`: one swap's contribution to the pool's
/// `volumePerLiquidityInBlock`, `√|amount0|·√|amount1| · 2^64 / max(liquidity, 1)`, capped at
/// [`MAX_VOLUME_PER_LIQUIDITY`]. The pool passes its active liquidity at the end of the swap and
/// the swap's signed amounts.
pub fn volume_per_liquidity(liquidity: u128, amount0: I256, amount1: I256) -> u128 {
    let volume = sqrt_abs(amount0).wrapping_mul(sqrt_abs(amount1));
    let liquidity = U256::from(liquidity.max(1));
    let shifted = if volume >= U256::from(1u8) << 192usize {
        U256::MAX.wrapping_div(liquidity)
    } else {
        (volume << 64usize).wrapping_div(liquidity)
    };
    if shifted >= U256::from(MAX_VOLUME_PER_LIQUIDITY) {
        MAX_VOLUME_PER_LIQUIDITY
    } else {
        shifted.saturating_to()
    }
}

/// The pool's `volumePerLiquidityInBlock` after one more swap: `uint128` addition, which wraps
/// (no check in Solidity 0.7.6; each term is at most [`MAX_VOLUME_PER_LIQUIDITY`] ≈ 2^80.6).
/// The pool passes the sum to `write` at its next timepoint write and resets it to zero there,
/// before adding that swap's own volume; a swap in a block that already has a timepoint just
/// adds.
pub fn add_volume_in_block(in_block: u128, swap: u128) -> u128 {
    in_block.wrapping_add(swap)
}

/// `DataStorage.Timepoint`, field for field. `tick_cumulative` holds an `int56`,
/// `average_tick` an `int24`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Timepoint {
    /// Whether the timepoint was written.
    pub initialized: bool,
    /// Block timestamp, seconds.
    pub block_timestamp: u32,
    /// Σ tick · seconds since initialization (`int56`, wrapping).
    pub tick_cumulative: i64,
    /// Σ seconds · 2^128 / max(liquidity, 1) (`uint160`, wrapping).
    pub seconds_per_liquidity_cumulative: U160,
    /// Σ per-second squared deviation of the tick from the average tick (`uint88`, wrapping).
    pub volatility_cumulative: U88,
    /// The average tick over the last day as of this timepoint (`int24`).
    pub average_tick: i32,
    /// Σ volume per liquidity of the blocks (`uint144`, wrapping).
    pub volume_per_liquidity_cumulative: U144,
}

/// What the fee reads of a timepoint: what a [`DataStorage`] keeps of every timepoint but the
/// newest.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Block timestamp, seconds.
    pub block_timestamp: u32,
    /// As [`Timepoint::tick_cumulative`].
    pub tick_cumulative: i64,
    /// As [`Timepoint::volatility_cumulative`].
    pub volatility_cumulative: U88,
    /// As [`Timepoint::volume_per_liquidity_cumulative`].
    pub volume_per_liquidity_cumulative: U144,
}

impl From<&Timepoint> for Record {
    fn from(t: &Timepoint) -> Self {
        Self {
            block_timestamp: t.block_timestamp,
            tick_cumulative: t.tick_cumulative,
            volatility_cumulative: t.volatility_cumulative,
            volume_per_liquidity_cumulative: t.volume_per_liquidity_cumulative,
        }
    }
}

/// `getSingleTimepoint`'s answer: the cumulatives at a time. The seconds per liquidity is known
/// when the answer comes from the newest timepoint (the time is at or after it), else `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cumulatives {
    /// `int56` tick cumulative.
    pub tick_cumulative: i64,
    /// `uint160` seconds per liquidity cumulative, when known.
    pub seconds_per_liquidity_cumulative: Option<U160>,
    /// `uint88` volatility cumulative.
    pub volatility_cumulative: U88,
    /// `uint144` volume per liquidity cumulative.
    pub volume_per_liquidity_cumulative: U144,
}

impl From<&Timepoint> for Cumulatives {
    fn from(t: &Timepoint) -> Self {
        Self {
            tick_cumulative: t.tick_cumulative,
            seconds_per_liquidity_cumulative: Some(t.seconds_per_liquidity_cumulative),
            volatility_cumulative: t.volatility_cumulative,
            volume_per_liquidity_cumulative: t.volume_per_liquidity_cumulative,
        }
    }
}

impl From<Record> for Cumulatives {
    fn from(r: Record) -> Self {
        Self {
            tick_cumulative: r.tick_cumulative,
            seconds_per_liquidity_cumulative: None,
            volatility_cumulative: r.volatility_cumulative,
            volume_per_liquidity_cumulative: r.volume_per_liquidity_cumulative,
        }
    }
}

/// `getAverages`: average volatility per second and average volume per liquidity (`>> 57`)
/// over the last day, or since the oldest timepoint when it is younger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Averages {
    /// `uint88` average volatility (before `getFee` divides it by 15).
    pub volatility: U88,
    /// Volume per liquidity accumulated over the span, shifted right by 57 (below 2^87).
    pub volume_per_liquidity: u128,
}

/// One kept record packed into 320 bits: timestamp (32), tick cumulative (56), volatility
/// cumulative (88), volume cumulative (144), low bits first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot([u64; 5]);

const MASK24: u64 = (1 << 24) - 1;
const MASK48: u64 = (1 << 48) - 1;

impl Slot {
    fn pack(r: &Record) -> Self {
        let tick = r.tick_cumulative as u64 & ((1 << 56) - 1);
        let [v0, v1] = *r.volatility_cumulative.as_limbs();
        let [q0, q1, q2] = *r.volume_per_liquidity_cumulative.as_limbs();
        let v = u128::from(v0) | (u128::from(v1) << 64);
        Self([
            u64::from(r.block_timestamp) | (tick << 32),
            (tick >> 32) | ((v as u64) << 24),
            ((v >> 40) as u64) | (q0 << 48),
            (q0 >> 16) | (q1 << 48),
            (q1 >> 16) | (q2 << 48),
        ])
    }

    fn of(t: &Timepoint) -> Self {
        Self::pack(&Record::from(t))
    }

    fn ts(&self) -> u32 {
        self.0[0] as u32
    }

    fn unpack(&self) -> Record {
        let [w0, w1, w2, w3, w4] = self.0;
        let tick = (w0 >> 32) | ((w1 & MASK24) << 32);
        let v = u128::from(w1 >> 24) | (u128::from(w2 & MASK48) << 40);
        Record {
            block_timestamp: w0 as u32,
            tick_cumulative: ((tick << 8) as i64) >> 8,
            volatility_cumulative: U88::from_limbs([v as u64, (v >> 64) as u64]),
            volume_per_liquidity_cumulative: U144::from_limbs([
                (w2 >> 48) | (w3 << 16),
                (w3 >> 48) | (w4 << 16),
                w4 >> 48,
            ]),
        }
    }
}

/// A [`DataStorage`] before a write, as [`DataStorage::mark`] takes it: enough to take that one
/// write back ([`DataStorage::rewind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteMark {
    newest: u64,
    head: Timepoint,
    /// The record at the slot the next write fills.
    next: Slot,
    initialized: bool,
}

/// One pool's `DataStorageOperator`: its fee configuration and the timepoints the fee can
/// reach (see the module docs for what is kept and what that costs).
///
/// Timepoints are numbered by a sequence number counting writes since `initialize` (0 is the
/// initial one); the contract's index of timepoint `n` is `n mod 65,536`.
#[derive(Clone)]
pub struct DataStorage {
    config: FeeConfig,
    /// Records by sequence number modulo their count.
    slots: Box<[Slot]>,
    /// Sequence number of the newest timepoint.
    newest: u64,
    /// The newest timepoint in full.
    head: Timepoint,
    /// Timepoint 0, the contract's oldest until 65,536 timepoints are written.
    first: Slot,
    initialized: bool,
}

impl fmt::Debug for DataStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStorage")
            .field("config", &self.config)
            .field("capacity", &self.slots.len())
            .field("newest", &self.newest)
            .field("head", &self.head)
            .field("initialized", &self.initialized)
            .finish()
    }
}

impl DataStorage {
    /// An uninitialized state keeping up to `capacity` records (clamped to
    /// [`MIN_CAPACITY`]`..=`[`RING_SIZE`]; see [`capacity_for_interval`]). Allocates them all
    /// now. The configuration is taken as given (see [`DataStorage::set_config`]).
    pub fn new(capacity: usize, config: FeeConfig) -> Self {
        let capacity = capacity.clamp(MIN_CAPACITY, RING_SIZE);
        Self {
            config,
            slots: vec![Slot::default(); capacity].into_boxed_slice(),
            newest: 0,
            head: Timepoint::default(),
            first: Slot::default(),
            initialized: false,
        }
    }

    /// Rebuilds the state of a live operator from its storage: `index` (the pool's
    /// `globalState.timepointIndex`), whether `timepoints(index + 1)` is initialized (the ring
    /// has wrapped), `timepoints(0)` (needed unless wrapped), `timepoints(index)` in full, and
    /// the records before it, oldest first, ending at `index − 1`: as many as the window needs
    /// (see [`DataStorage::window_len`]; the newest `capacity − 1` are kept).
    pub fn restore(
        capacity: usize,
        config: FeeConfig,
        index: u16,
        wrapped: bool,
        first: Option<Record>,
        newest: Timepoint,
        earlier: &[Record],
    ) -> Result<Self> {
        let mut s = Self::new(capacity, config);
        let seq = if wrapped {
            u64::from(index) + RING_SIZE as u64
        } else {
            u64::from(index)
        };
        if !newest.initialized || earlier.len() as u64 > seq {
            return Err(FeeError::BadHistory);
        }
        s.first = match (wrapped, first) {
            (true, _) => Slot::default(),
            (false, Some(r)) => Slot::pack(&r),
            (false, None) if index == 0 => Slot::of(&newest),
            (false, None) => return Err(FeeError::BadHistory),
        };
        let keep = earlier.len().min(s.slots.len() - 1);
        let start = seq - keep as u64;
        for (k, r) in earlier[earlier.len() - keep..].iter().enumerate() {
            let i = s.slot_index(start + k as u64);
            s.slots[i] = Slot::pack(r);
        }
        s.newest = seq;
        let i = s.slot_index(seq);
        s.slots[i] = Slot::of(&newest);
        s.head = newest;
        s.initialized = true;
        Ok(s)
    }

    /// What [`DataStorage::rewind`] needs to take back the next [`DataStorage::write`]: the
    /// newest timepoint and the record the write will overwrite (the ring's oldest when full).
    /// 120 bytes, whatever the capacity: an undo journal keeps one per write, never the ring.
    pub fn mark(&self) -> WriteMark {
        WriteMark {
            newest: self.newest,
            head: self.head,
            next: self.slots[self.slot_index(self.newest + 1)],
            initialized: self.initialized,
        }
    }

    /// Takes the state back to where [`DataStorage::mark`] was taken, provided at most one
    /// write came after it (a pool writes at most once a block, so a mark taken at a block's
    /// start undoes that block; marks restored newest first undo any number of blocks).
    /// `initialize` and `resize` are not undone (the engine calls neither after building).
    pub fn rewind(&mut self, mark: &WriteMark) {
        debug_assert!(
            self.newest <= mark.newest + 1,
            "rewind past more than one write"
        );
        let i = self.slot_index(mark.newest + 1);
        self.slots[i] = mark.next;
        self.newest = mark.newest;
        self.head = mark.head;
        self.initialized = mark.initialized;
    }

    /// How many records it keeps at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The fee configuration.
    pub fn config(&self) -> &FeeConfig {
        &self.config
    }

    /// `changeFeeConfiguration`: validates, then replaces the configuration.
    pub fn set_config(&mut self, config: FeeConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Whether `initialize` has run.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// The contract's index of the newest timepoint (the pool's `globalState.timepointIndex`).
    pub fn index(&self) -> u16 {
        self.newest as u16
    }

    /// Whether the timepoints written since `initialize` have gone round the ring of 65,536
    /// (the newest's sequence number is past it): [`DataStorage::restore`]'s `wrapped`, which
    /// numbers the newest `index + 65,536` then. Timepoint 0 is no longer the oldest.
    pub fn wrapped(&self) -> bool {
        self.initialized && self.newest >= RING_SIZE as u64
    }

    /// The newest timepoint, in full.
    pub fn newest(&self) -> Option<&Timepoint> {
        self.initialized.then_some(&self.head)
    }

    /// What is kept of the timepoint at contract index `index` (`timepoints(index)` minus
    /// seconds per liquidity and average tick), if it is written and kept.
    pub fn record(&self, index: u16) -> Option<Record> {
        if !self.initialized {
            return None;
        }
        let back = self.index().wrapping_sub(index);
        let seq = self.newest.checked_sub(u64::from(back))?;
        self.slot(seq).map(|s| s.unpack())
    }

    /// `DataStorage.initialize`: timepoint 0 at `time` with average tick `tick`.
    pub fn initialize(&mut self, time: u32, tick: i32) -> Result<()> {
        if self.initialized {
            return Err(FeeError::AlreadyInitialized);
        }
        check_tick(tick)?;
        self.head = Timepoint {
            initialized: true,
            block_timestamp: time,
            average_tick: tick,
            ..Timepoint::default()
        };
        self.first = Slot::of(&self.head);
        self.slots[0] = self.first;
        self.newest = 0;
        self.initialized = true;
        Ok(())
    }

    /// `DataStorage.write`: appends the timepoint of a block at `block_timestamp` and returns the
    /// new index, or returns `index` unchanged if the newest timepoint already has that
    /// timestamp. `volume_per_liquidity` is the pool's `volumePerLiquidityInBlock`.
    pub fn write(
        &mut self,
        index: u16,
        block_timestamp: u32,
        tick: i32,
        liquidity: u128,
        volume_per_liquidity: u128,
    ) -> Result<u16> {
        self.check(index, tick)?;
        if self.head.block_timestamp == block_timestamp {
            return Ok(index);
        }
        let next = next_timepoint(self, block_timestamp, tick, liquidity, volume_per_liquidity)?;
        self.newest += 1;
        let i = self.slot_index(self.newest);
        self.slots[i] = Slot::of(&next);
        self.head = next;
        Ok(self.index())
    }

    /// `DataStorage.getSingleTimepoint` (and one entry of `getTimepoints`): the cumulatives at
    /// `time − seconds_ago`, extrapolated from the newest timepoint with `tick` and `liquidity`
    /// when that is later, interpolated between the two timepoints around it otherwise.
    pub fn single_timepoint(
        &self,
        time: u32,
        seconds_ago: u32,
        tick: i32,
        index: u16,
        liquidity: u128,
    ) -> Result<Cumulatives> {
        self.check(index, tick)?;
        single_timepoint(self, time, seconds_ago, tick, liquidity)
    }

    /// `DataStorage.getAverages` at `time`.
    pub fn averages(&self, time: u32, tick: i32, index: u16, liquidity: u128) -> Result<Averages> {
        self.check(index, tick)?;
        averages(self, time, tick, liquidity)
    }

    /// `DataStorageOperator.getFee(time, tick, index, liquidity)`, pips.
    pub fn get_fee(&self, time: u32, tick: i32, index: u16, liquidity: u128) -> Result<u16> {
        self.check(index, tick)?;
        get_fee(self, &self.config, time, tick, liquidity)
    }

    /// The fee the pool sets at its first timepoint write in a block at `block_timestamp`: `write`
    /// then `getFee`, as `AlgebraPool.swap` (and an in-range `mint`/`burn`) does, computed on a
    /// view of this state without changing it. `tick` and `liquidity` are the pool's before the
    /// swap, `volume_per_liquidity_in_block` its `volumePerLiquidityInBlock`. `None` when the
    /// newest timepoint already has this timestamp: then the pool writes nothing and its current
    /// fee stays.
    pub fn predict_fee(
        &self,
        block_timestamp: u32,
        tick: i32,
        liquidity: u128,
        volume_per_liquidity_in_block: u128,
    ) -> Result<Option<u16>> {
        self.check(self.index(), tick)?;
        if self.head.block_timestamp == block_timestamp {
            return Ok(None);
        }
        let next = next_timepoint(
            self,
            block_timestamp,
            tick,
            liquidity,
            volume_per_liquidity_in_block,
        )?;
        let pending = Pending {
            base: self,
            next_slot: Slot::of(&next),
            next,
        };
        get_fee(&pending, &self.config, block_timestamp, tick, liquidity).map(Some)
    }

    /// Records a query at `time` can use: the kept ones written after `time − 1 day`, plus one
    /// (the one at or before it). When this nears [`DataStorage::capacity`], the next writes
    /// will evict records the window still needs. Walks the records (off the hot path).
    pub fn window_len(&self, time: u32) -> usize {
        if !self.initialized {
            return 0;
        }
        let start = time.wrapping_sub(WINDOW);
        let mut n = 0;
        let mut seq = self.newest;
        while let Some(slot) = self.slot(seq) {
            n += 1;
            if lte(slot.ts(), start, time) || seq == 0 {
                break;
            }
            seq -= 1;
        }
        n
    }

    /// Changes the capacity (clamped as in [`DataStorage::new`]), keeping the newest records.
    /// Allocates: call it off the hot path.
    pub fn resize(&mut self, capacity: usize) {
        let capacity = capacity.clamp(MIN_CAPACITY, RING_SIZE);
        if capacity == self.slots.len() {
            return;
        }
        let mut slots = vec![Slot::default(); capacity].into_boxed_slice();
        if self.initialized {
            let keep = (self.newest + 1)
                .min(capacity as u64)
                .min(self.slots.len() as u64);
            for seq in self.newest + 1 - keep..=self.newest {
                if let Some(s) = self.slot(seq) {
                    slots[(seq % capacity as u64) as usize] = s;
                }
            }
        }
        self.slots = slots;
    }

    fn check(&self, index: u16, tick: i32) -> Result<()> {
        if !self.initialized {
            return Err(FeeError::NotInitialized);
        }
        if index != self.index() {
            return Err(FeeError::StaleIndex {
                newest: self.index(),
                given: index,
            });
        }
        check_tick(tick)
    }

    fn slot_index(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }
}

fn check_tick(tick: i32) -> Result<()> {
    if (INT24_MIN..=INT24_MAX).contains(&tick) {
        Ok(())
    } else {
        Err(FeeError::TickOutOfRange(tick))
    }
}

/// What the algorithms read: the kept timepoints, by sequence number.
trait History {
    /// Sequence number of the newest timepoint.
    fn newest(&self) -> u64;
    /// The newest timepoint in full.
    fn head(&self) -> &Timepoint;
    /// The oldest of the unbroken run of kept records that ends at the newest.
    fn first_kept(&self) -> u64;
    /// The record of timepoint `seq`, if written and kept.
    fn slot(&self, seq: u64) -> Option<Slot>;
}

impl History for DataStorage {
    fn newest(&self) -> u64 {
        self.newest
    }

    fn head(&self) -> &Timepoint {
        &self.head
    }

    fn first_kept(&self) -> u64 {
        (self.newest + 1).saturating_sub(self.slots.len() as u64)
    }

    fn slot(&self, seq: u64) -> Option<Slot> {
        if seq > self.newest {
            None
        } else if seq >= self.first_kept() {
            self.slots.get(self.slot_index(seq)).copied()
        } else {
            (seq == 0).then_some(self.first)
        }
    }
}

/// A state with one more timepoint appended, as `write` would leave it (the oldest kept record
/// drops out if the ring is full), without touching the state.
struct Pending<'a> {
    base: &'a DataStorage,
    next: Timepoint,
    next_slot: Slot,
}

impl History for Pending<'_> {
    fn newest(&self) -> u64 {
        self.base.newest + 1
    }

    fn head(&self) -> &Timepoint {
        &self.next
    }

    fn first_kept(&self) -> u64 {
        (self.newest() + 1).saturating_sub(self.base.slots.len() as u64)
    }

    fn slot(&self, seq: u64) -> Option<Slot> {
        if seq == self.newest() {
            Some(self.next_slot)
        } else if seq > self.newest() {
            None
        } else if seq >= self.first_kept() {
            self.base.slot(seq)
        } else {
            (seq == 0).then_some(self.base.first)
        }
    }
}

/// `lteConsideringOverflow(a, b, currentTime)`: whether `a` is at or before `b`, both taken to
/// be at or before `current` on the 32-bit clock (a value above `current` is before a wrap).
fn lte(a: u32, b: u32, current: u32) -> bool {
    let a_wrapped = a > current;
    if a_wrapped == (b > current) {
        a <= b
    } else {
        a_wrapped
    }
}

/// The `int56` value of the low 56 bits of `x`.
fn wrap56(x: i64) -> i64 {
    (x << 8) >> 8
}

/// `int24(x)`: the low 24 bits of `x`, sign-extended.
fn to_i24(x: i64) -> i32 {
    ((x << 40) >> 40) as i32
}

/// `int56 / uint32` in `int56`, truncating towards zero.
fn div56(num: i64, den: u32) -> Result<i64> {
    if den == 0 {
        return Err(FeeError::DivisionByZero);
    }
    Ok(num / i64::from(den))
}

fn i256(x: i64) -> I256 {
    let abs = U256::from(x.unsigned_abs());
    I256::from_raw(if x < 0 { abs.wrapping_neg() } else { abs })
}

/// `_volatilityOnRange(dt, tick0, tick1, avgTick0, avgTick1)` cast to `uint88`: the sum over
/// the `dt` seconds of the squared distance between the tick and the average tick, both moving
/// linearly. The numerator is a sum of squares, never negative; every product fits `int256`.
fn volatility_on_range(dt: u32, tick0: i32, tick1: i32, avg0: i32, avg1: i32) -> Result<U88> {
    if dt == 0 {
        return Err(FeeError::DivisionByZero);
    }
    let dt = i256(dt.into());
    let k = i256(i64::from(tick1) - i64::from(tick0) - (i64::from(avg1) - i64::from(avg0)));
    let b = i256(i64::from(tick0) - i64::from(avg0)).wrapping_mul(dt);
    let one = i256(1);
    let two = i256(2);
    let six = i256(6);
    let dt1 = dt.wrapping_add(one);
    let sum_of_squares = dt
        .wrapping_mul(dt1)
        .wrapping_mul(two.wrapping_mul(dt).wrapping_add(one));
    let sum_of_sequence = dt.wrapping_mul(dt1);
    let num = k
        .wrapping_mul(k)
        .wrapping_mul(sum_of_squares)
        .wrapping_add(
            six.wrapping_mul(b)
                .wrapping_mul(k)
                .wrapping_mul(sum_of_sequence),
        )
        .wrapping_add(six.wrapping_mul(dt).wrapping_mul(b).wrapping_mul(b));
    let den = six.wrapping_mul(dt).wrapping_mul(dt);
    let v = num.checked_div(den).ok_or(FeeError::DivisionByZero)?;
    let [l0, l1, ..] = *v.into_raw().as_limbs();
    Ok(U88::from_limbs([l0, l1 & ((1 << 24) - 1)]))
}

/// `createNewTimepoint(last, time, tick, prevTick, liquidity, averageTick, volumePerLiquidity)`.
fn create(
    last: &Timepoint,
    time: u32,
    tick: i32,
    prev_tick: i32,
    liquidity: u128,
    average_tick: i32,
    volume_per_liquidity: u128,
) -> Result<Timepoint> {
    let delta = time.wrapping_sub(last.block_timestamp);
    // |tick · delta| < 2^23 · 2^32: the product fits int56 before the wrapping sum.
    let tick_cumulative = wrap56(
        last.tick_cumulative
            .wrapping_add(i64::from(tick) * i64::from(delta)),
    );
    let spl = (U160::from(delta) << 128usize).wrapping_div(U160::from(liquidity.max(1)));
    let volatility = volatility_on_range(delta, prev_tick, tick, last.average_tick, average_tick)?;
    Ok(Timepoint {
        initialized: true,
        block_timestamp: time,
        tick_cumulative,
        seconds_per_liquidity_cumulative: last.seconds_per_liquidity_cumulative.wrapping_add(spl),
        volatility_cumulative: last.volatility_cumulative.wrapping_add(volatility),
        average_tick,
        volume_per_liquidity_cumulative: last
            .volume_per_liquidity_cumulative
            .wrapping_add(U144::from(volume_per_liquidity)),
    })
}

/// Sequence number of the contract's oldest timepoint: index 0 until the ring wraps, then the
/// one after the newest (about to be overwritten by the next write).
fn oldest_seq<H: History>(h: &H) -> u64 {
    h.newest().saturating_sub(RING_SIZE as u64 - 1)
}

fn kept<H: History>(h: &H, seq: u64) -> Result<Slot> {
    h.slot(seq).ok_or(FeeError::Evicted)
}

/// `lteConsideringOverflow(oldest.blockTimestamp, target, time)`. If the oldest is no longer
/// kept it is older than every kept record, so the answer is known when the oldest kept one is
/// at or before `target`.
fn oldest_at_or_before<H: History>(h: &H, target: u32, time: u32) -> Result<bool> {
    if let Some(oldest) = h.slot(oldest_seq(h)) {
        return Ok(lte(oldest.ts(), target, time));
    }
    if lte(kept(h, h.first_kept())?.ts(), target, time) {
        Ok(true)
    } else {
        Err(FeeError::Evicted)
    }
}

/// The tick of the newest timepoint's block, from the two newest cumulatives, or `tick` when
/// the newest is the only timepoint.
fn prev_tick<H: History>(h: &H, last: &Timepoint, tick: i32) -> Result<i32> {
    if h.newest() == oldest_seq(h) {
        return Ok(tick);
    }
    let prev = kept(h, h.newest() - 1)?.unpack();
    let avg = div56(
        wrap56(last.tick_cumulative.wrapping_sub(prev.tick_cumulative)),
        last.block_timestamp.wrapping_sub(prev.block_timestamp),
    )?;
    Ok(to_i24(avg))
}

/// `_getAverageTick(time, tick, index, oldestIndex, lastTimestamp, lastTickCumulative)`, before
/// the caller's `int24` cast.
fn average_tick<H: History>(
    h: &H,
    time: u32,
    tick: i32,
    last_ts: u32,
    last_tick_cumulative: i64,
) -> Result<i64> {
    let start = time.wrapping_sub(WINDOW);
    if oldest_at_or_before(h, start, time)? {
        if lte(last_ts, start, time) {
            // The timepoint before the newest; unwritten only when the newest is timepoint 0.
            let Some(seq) = h.newest().checked_sub(1) else {
                return Ok(tick.into());
            };
            let before = kept(h, seq)?.unpack();
            div56(
                wrap56(last_tick_cumulative.wrapping_sub(before.tick_cumulative)),
                last_ts.wrapping_sub(before.block_timestamp),
            )
        } else {
            let window_start = single_timepoint(h, time, WINDOW, tick, 0)?;
            div56(
                wrap56(last_tick_cumulative.wrapping_sub(window_start.tick_cumulative)),
                last_ts.wrapping_sub(time).wrapping_add(WINDOW),
            )
        }
    } else {
        let oldest = kept(h, oldest_seq(h))?.unpack();
        if last_ts == oldest.block_timestamp {
            Ok(tick.into())
        } else {
            div56(
                wrap56(last_tick_cumulative.wrapping_sub(oldest.tick_cumulative)),
                last_ts.wrapping_sub(oldest.block_timestamp),
            )
        }
    }
}

/// The timepoint `write` appends at `time` (the caller has checked that the newest timepoint
/// has another timestamp).
fn next_timepoint<H: History>(
    h: &H,
    time: u32,
    tick: i32,
    liquidity: u128,
    volume_per_liquidity: u128,
) -> Result<Timepoint> {
    extend(h, time, time, tick, liquidity, volume_per_liquidity)
}

/// The newest timepoint carried forward to `at`, with the average tick taken at `time`: what
/// `write` appends (`at == time`) and what a read after the newest timepoint extrapolates.
fn extend<H: History>(
    h: &H,
    time: u32,
    at: u32,
    tick: i32,
    liquidity: u128,
    volume_per_liquidity: u128,
) -> Result<Timepoint> {
    let last = *h.head();
    let avg = to_i24(average_tick(
        h,
        time,
        tick,
        last.block_timestamp,
        last.tick_cumulative,
    )?);
    let prev = prev_tick(h, &last, tick)?;
    create(&last, at, tick, prev, liquidity, avg, volume_per_liquidity)
}

fn single_timepoint<H: History>(
    h: &H,
    time: u32,
    seconds_ago: u32,
    tick: i32,
    liquidity: u128,
) -> Result<Cumulatives> {
    let target = time.wrapping_sub(seconds_ago);
    let last = *h.head();
    if seconds_ago == 0 || lte(last.block_timestamp, target, time) {
        if last.block_timestamp == target {
            return Ok((&last).into());
        }
        return Ok((&extend(h, time, target, tick, liquidity, 0)?).into());
    }
    if !oldest_at_or_before(h, target, time)? {
        return Err(FeeError::Old);
    }
    let (before, after) = search(h, time, target)?;
    let (before, after) = (before.unpack(), after.unpack());
    if target == after.block_timestamp {
        return Ok(after.into());
    }
    if target == before.block_timestamp {
        return Ok(before.into());
    }
    let span = after.block_timestamp.wrapping_sub(before.block_timestamp);
    let into = target.wrapping_sub(before.block_timestamp);
    if span == 0 {
        return Err(FeeError::DivisionByZero);
    }
    let tick_step = div56(
        wrap56(after.tick_cumulative.wrapping_sub(before.tick_cumulative)),
        span,
    )?;
    let volatility_step = after
        .volatility_cumulative
        .wrapping_sub(before.volatility_cumulative)
        .wrapping_div(U88::from(span));
    let volume_step = after
        .volume_per_liquidity_cumulative
        .wrapping_sub(before.volume_per_liquidity_cumulative)
        .wrapping_div(U144::from(span));
    Ok(Cumulatives {
        tick_cumulative: wrap56(
            before
                .tick_cumulative
                .wrapping_add(wrap56(tick_step.wrapping_mul(i64::from(into)))),
        ),
        seconds_per_liquidity_cumulative: None,
        volatility_cumulative: before
            .volatility_cumulative
            .wrapping_add(volatility_step.wrapping_mul(U88::from(into))),
        volume_per_liquidity_cumulative: before
            .volume_per_liquidity_cumulative
            .wrapping_add(volume_step.wrapping_mul(U144::from(into))),
    })
}

/// `DataStorage.binarySearch`: the two adjacent timepoints at or before and at or after
/// `target`, over the contract's range from the oldest to the newest timepoint. When that range
/// is no longer kept whole, the search starts at the oldest kept record, which must then be at
/// or before `target` (see the module docs).
fn search<H: History>(h: &H, time: u32, target: u32) -> Result<(Slot, Slot)> {
    let newest = h.newest();
    let oldest = oldest_seq(h);
    let first = h.first_kept();
    let mut left = if first <= oldest {
        oldest
    } else if lte(kept(h, first)?.ts(), target, time) {
        first
    } else {
        return Err(FeeError::Evicted);
    };
    let floor = left;
    let mut right = newest;
    let mut current = (left + right) >> 1;
    for _ in 0..SEARCH_PROBES {
        if current < floor || current > newest {
            return Err(FeeError::SearchFailed);
        }
        let before = kept(h, current)?;
        if lte(before.ts(), target, time) {
            // The newest is after `target` (else no search), so `current < newest` here when
            // timestamps increase.
            if current == newest {
                return Err(FeeError::SearchFailed);
            }
            let after = kept(h, current + 1)?;
            if lte(target, after.ts(), time) {
                return Ok((before, after));
            }
            left = current + 1;
        } else {
            right = current.checked_sub(1).ok_or(FeeError::SearchFailed)?;
        }
        current = (left + right) >> 1;
    }
    Err(FeeError::SearchFailed)
}

fn averages<H: History>(h: &H, time: u32, tick: i32, liquidity: u128) -> Result<Averages> {
    let end = single_timepoint(h, time, 0, tick, liquidity)?;
    if oldest_at_or_before(h, time.wrapping_sub(WINDOW), time)? {
        let start = single_timepoint(h, time, WINDOW, tick, liquidity)?;
        return Ok(Averages {
            volatility: end
                .volatility_cumulative
                .wrapping_sub(start.volatility_cumulative)
                .wrapping_div(U88::from(WINDOW)),
            volume_per_liquidity: shr57(
                end.volume_per_liquidity_cumulative
                    .wrapping_sub(start.volume_per_liquidity_cumulative),
            ),
        });
    }
    let oldest = kept(h, oldest_seq(h))?.unpack();
    if time == oldest.block_timestamp {
        return Ok(Averages::default());
    }
    Ok(Averages {
        volatility: end
            .volatility_cumulative
            .wrapping_sub(oldest.volatility_cumulative)
            .wrapping_div(U88::from(time.wrapping_sub(oldest.block_timestamp))),
        volume_per_liquidity: shr57(
            end.volume_per_liquidity_cumulative
                .wrapping_sub(oldest.volume_per_liquidity_cumulative),
        ),
    })
}

/// `uint256(x) >> 57` for a `uint144`: below 2^87.
fn shr57(x: U144) -> u128 {
    let [l0, l1, l2] = *(x >> 57usize).as_limbs();
    debug_assert_eq!(l2, 0);
    u128::from(l0) | (u128::from(l1) << 64)
}

fn get_fee<H: History>(
    h: &H,
    config: &FeeConfig,
    time: u32,
    tick: i32,
    liquidity: u128,
) -> Result<u16> {
    let a = averages(h, time, tick, liquidity)?;
    let [v0, v1] = *a.volatility.as_limbs();
    let volatility = u128::from(v0) | (u128::from(v1) << 64);
    Ok(config.fee(volatility / 15, a.volume_per_liquidity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn record_is_forty_bytes() {
        assert_eq!(RECORD_BYTES, 40);
        assert_eq!(core::mem::align_of::<Slot>(), 8);
    }

    proptest! {
        #[test]
        fn slot_round_trips(
            ts in any::<u32>(),
            tick in -(1i64 << 55)..(1i64 << 55),
            v in any::<[u64; 2]>(),
            q in any::<[u64; 3]>(),
        ) {
            let r = Record {
                block_timestamp: ts,
                tick_cumulative: tick,
                volatility_cumulative: U88::from_limbs([v[0], v[1] & ((1 << 24) - 1)]),
                volume_per_liquidity_cumulative: U144::from_limbs([q[0], q[1], q[2] & 0xffff]),
            };
            prop_assert_eq!(Slot::pack(&r).unpack(), r);
            prop_assert_eq!(Slot::pack(&r).ts(), ts);
        }

        #[test]
        fn sqrt_abs_is_the_integer_root(x in any::<[u64; 4]>()) {
            let x = I256::from_raw(U256::from_limbs(x));
            let a = x.unsigned_abs();
            let r = sqrt_abs(x);
            prop_assert!(r * r <= a);
            let r1 = r + U256::from(1u8);
            prop_assert!(r1.checked_mul(r1).is_none_or(|s| s > a));
        }

        #[test]
        fn sigmoid_stays_within_alpha(
            x in any::<u128>(), g in any::<u16>(), alpha in any::<u16>(), beta in any::<u32>()
        ) {
            prop_assert!(sigmoid(x, g, alpha, beta.into()) <= u128::from(alpha));
        }
    }

    #[test]
    fn sigmoid_is_half_alpha_at_beta() {
        // e^0 = 1: alpha · g^8 / (2 g^8).
        assert_eq!(sigmoid(360, 59, 2900, 360), 1450);
        assert_eq!(sigmoid(0, 59, 2900, 360), 0);
        assert_eq!(sigmoid(360 + 6 * 59, 59, 2900, 360), 2900);
    }

    #[test]
    fn default_fee_spans_base_to_max() {
        let c = FeeConfig::DEFAULT;
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.fee(0, 0), 100);
        assert_eq!(c.fee(u128::MAX, u128::MAX), 15_000);
    }

    #[test]
    fn config_checks_follow_the_contract() {
        let mut c = FeeConfig::DEFAULT;
        c.alpha2 = u16::MAX;
        assert_eq!(c.validate(), Err(ConfigError::MaxFeeExceeded));
        c.gamma1 = 0;
        assert_eq!(c.validate(), Err(ConfigError::MaxFeeExceeded));
        let mut c = FeeConfig::DEFAULT;
        c.volume_gamma = 0;
        assert_eq!(c.validate(), Err(ConfigError::ZeroGamma));
        // Before the factory sets one, an operator's configuration is all zero: fee 0.
        assert_eq!(FeeConfig::default().fee(123, 456), 0);
    }

    #[test]
    fn volume_per_liquidity_is_capped() {
        let big = I256::from_raw(U256::from(1u8) << 200usize);
        assert_eq!(volume_per_liquidity(1, big, big), MAX_VOLUME_PER_LIQUIDITY);
        assert_eq!(volume_per_liquidity(0, I256::ZERO, big), 0);
        // √4·√9 = 6, · 2^64 / 3.
        assert_eq!(
            volume_per_liquidity(3, i256(-4), i256(9)),
            (6u128 << 64) / 3
        );
        assert_eq!(add_volume_in_block(u128::MAX, 2), 1);
    }

    #[test]
    fn errors_instead_of_panics() {
        let mut s = DataStorage::new(0, FeeConfig::DEFAULT);
        assert_eq!(s.capacity(), MIN_CAPACITY);
        assert_eq!(s.write(0, 1, 0, 1, 0), Err(FeeError::NotInitialized));
        assert_eq!(
            s.initialize(10, 1 << 23),
            Err(FeeError::TickOutOfRange(1 << 23))
        );
        s.initialize(10, -5).unwrap();
        assert_eq!(s.initialize(10, 0), Err(FeeError::AlreadyInitialized));
        assert_eq!(
            s.write(3, 11, 0, 1, 0),
            Err(FeeError::StaleIndex {
                newest: 0,
                given: 3
            })
        );
        // Same timestamp: no new timepoint.
        assert_eq!(s.write(0, 10, 7, 1, 0), Ok(0));
        assert_eq!(s.predict_fee(10, 7, 1, 0), Ok(None));
        assert_eq!(s.write(0, 12, 7, 1, 0), Ok(1));
        // Before the oldest timepoint.
        assert_eq!(s.single_timepoint(12, 5, 7, 1, 1), Err(FeeError::Old));
    }

    #[test]
    fn small_capacity_evicts_and_says_so() {
        let mut big = DataStorage::new(RING_SIZE, FeeConfig::DEFAULT);
        let mut small = DataStorage::new(8, FeeConfig::DEFAULT);
        big.initialize(1_000, 0).unwrap();
        small.initialize(1_000, 0).unwrap();
        let mut t = 1_000u32;
        let mut evicted_at = None;
        for i in 0..200i32 {
            // 4 hours apart a day spans 6 timepoints; 600 s apart 144, more than 8 records.
            t += if i < 100 { 4 * 3600 } else { 600 };
            let tick = (i * 37) % 500 - 250;
            // What the window reaches at `t` once the timepoint at `t` is written.
            let need = big.window_len(t) + 1;
            let predicted = big.predict_fee(t, tick, 1 << 70, 1 << 60).unwrap();
            let bi = big.write(big.index(), t, tick, 1 << 70, 1 << 60).unwrap();
            assert_eq!(predicted, Some(big.get_fee(t, tick, bi, 1 << 70).unwrap()));
            let small_fee = small.predict_fee(t, tick, 1 << 70, 1 << 60).and_then(|f| {
                small.write(small.index(), t, tick, 1 << 70, 1 << 60)?;
                Ok(f)
            });
            match small_fee {
                Ok(f) => {
                    assert_eq!(f, predicted);
                    assert_eq!(small.newest(), big.newest());
                }
                Err(e) => {
                    assert_eq!(e, FeeError::Evicted);
                    assert!(need > small.capacity(), "{need}");
                    evicted_at = Some(i);
                    break;
                }
            }
        }
        assert!(evicted_at.is_some_and(|i| i >= 100), "{evicted_at:?}");
        // Growing keeps what is there.
        let newest = small.record(small.index());
        small.resize(200);
        assert_eq!(small.capacity(), 200);
        assert_eq!(small.record(small.index()), newest);
    }

    /// Every field of the state, for comparing two of them.
    fn parts(s: &DataStorage) -> (Vec<Slot>, u64, Timepoint, Slot, bool) {
        (s.slots.to_vec(), s.newest, s.head, s.first, s.initialized)
    }

    proptest! {
        /// Marks taken before each of a run of writes, rewound newest first, give back the state
        /// before each write exactly, the ring full and wrapping or not.
        #[test]
        fn rewinding_marks_newest_first_undoes_each_write(
            capacity in 2usize..6,
            steps in prop::collection::vec((1u32..4_000, -300i32..300, any::<u64>()), 1..24),
            back in 1usize..24,
        ) {
            let mut s = DataStorage::new(capacity, FeeConfig::DEFAULT);
            s.initialize(1_000, 0).unwrap();
            let mut t = 1_000u32;
            let mut saved = Vec::new();
            for &(dt, tick, volume) in &steps {
                t += dt;
                saved.push((s.mark(), parts(&s)));
                s.write(s.index(), t, tick, 1 << 70, u128::from(volume) << 40).unwrap();
            }
            for (mark, before) in saved.iter().rev().take(back) {
                s.rewind(mark);
                prop_assert_eq!(&parts(&s), before);
            }
        }
    }

    #[test]
    fn capacity_for_polygon() {
        assert_eq!(capacity_for_interval(2), 43_201);
        assert_eq!(capacity_for_interval(1), RING_SIZE);
        assert_eq!(capacity_for_interval(0), RING_SIZE);
        assert_eq!(capacity_for_interval(u32::MAX), 2);
    }
}
