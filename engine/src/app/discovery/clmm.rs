//! Concentrated-liquidity discovery: Uniswap V3 and Algebra V1 (QuickSwap V3) pools found in
//! their factory's creation logs, then loaded at block B.
//!
//! Per factory: `eth_getLogs` for `PoolCreated` (V3) or `Pool` (Algebra) from the DEX's
//! `from_block` to B ([`super::logscan`]); pools whose two tokens are configured are kept. Per
//! pool, pipelined `eth_call`s at B: V3 `slot0`, `liquidity`, `fee`, `tickSpacing`; Algebra
//! `globalState` (price, tick, fee), `liquidity`, `tickSpacing`. Then the bitmap words
//! (`tickBitmap(int16)` / `tickTable(int16)`, one bit per compressed tick `floor(tick /
//! spacing)`, word `compressed >> 8`, bit `compressed & 255`, the same in both protocols,
//! docs/algebra.md) of `tick_words` words on each side of the current tick's word, and
//! `ticks(int24)` of every set bit (both protocols return gross then net liquidity first).
//! Algebra pools then have their adaptive-fee state read at the same block
//! ([`super::algebra_fee`]; the DEX's `max_timepoints` caps it).
//!
//! Every answer is checked: exact ABI lengths, every word inside its type (uint160 price, int24
//! tick, uint128 liquidity, ...), a price inside TickMath's range whose tick agrees with the
//! pool's tick, fee below 10^6 pips, spacing in `1..16384` (Algebra: 60), a set bit whose tick is initialized
//! with `|net| <= gross`. A pool that fails any check is skipped, counted and logged with the
//! reason; a pool whose price is zero (created, never initialized) is skipped and counted.

use std::collections::HashSet;
use std::fmt;

use alloy_primitives::{Address, U256};
use polyarb_core::clmm::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use polyarb_core::clmm::ticks::ALGEBRA_TICK_SPACING;
use polyarb_core::{ClStateSpec, PIPS, PoolKind, PoolSpec, PoolState, TickSpec};
use polyarb_feeds::{BlockTag, Log, RpcClient, RpcError};

use super::abi::{AbiError, address, boolean, call_int, exact, int, uint};
use super::{DiscoveryError, DiscoveryStats, algebra_fee, logscan};
use crate::config::{Config, DexConfig};
use crate::snapshot::FeeModelError;

/// Uniswap V3 factory `PoolCreated(address,address,uint24,int24,address)`.
pub const POOL_CREATED_TOPIC: [u8; 32] =
    alloy_primitives::hex!("783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118");
/// Algebra V1 factory `Pool(address,address,address)`.
pub const ALGEBRA_POOL_TOPIC: [u8; 32] =
    alloy_primitives::hex!("91ccaa7a278130b65168c3a0c8d3bcae84cf5e43704342bd3ec0b59e59c036db");

const SLOT0: [u8; 4] = [0x38, 0x50, 0xc7, 0xbd];
const GLOBAL_STATE: [u8; 4] = [0xe7, 0x6c, 0x01, 0xe4];
const LIQUIDITY: [u8; 4] = [0x1a, 0x68, 0x65, 0x02];
const FEE: [u8; 4] = [0xdd, 0xca, 0x3f, 0x43];
const TICK_SPACING: [u8; 4] = [0xd0, 0xc9, 0x3a, 0x7c];
const TICK_BITMAP: [u8; 4] = [0x53, 0x39, 0xc2, 0x96];
const TICK_TABLE: [u8; 4] = [0xc6, 0x77, 0xe3, 0xe0];
const TICKS: [u8; 4] = [0xf3, 0x0d, 0xba, 0x93];

/// V3's factory accepts spacings below this (`enableFeeAmount`); Algebra V1's is 60.
const MAX_SPACING: i32 = 16_384;

/// Why one pool was skipped. Outside input, so never a panic: a fault drops its pool only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolFault {
    /// The factory's creation log does not have the event's shape.
    CreationLog(&'static str),
    /// A call failed (reverted, or the node refused it).
    Call {
        /// The function.
        what: &'static str,
        /// The node's error.
        error: String,
    },
    /// An answer of the wrong length, bytes.
    Length {
        /// The function.
        what: &'static str,
        /// Bytes received.
        got: usize,
        /// Bytes its ABI returns.
        want: usize,
    },
    /// A returned word outside its ABI type (a dirty high byte, a bool that is not 0 or 1).
    Range {
        /// The function and field.
        what: &'static str,
    },
    /// A non-zero √price outside TickMath's `[MIN_SQRT_RATIO, MAX_SQRT_RATIO)`.
    Price,
    /// The pool's tick is not the tick of its price.
    TickPrice {
        /// The pool's tick.
        tick: i32,
        /// The tick of its price.
        of_price: i32,
    },
    /// A fee of 10^6 pips or more.
    Fee(u32),
    /// A tick spacing outside `1..16384` (Uniswap V3), or not 60 (Algebra V1).
    Spacing(i32),
    /// The pool's fee or spacing differs from its creation event.
    EventMismatch {
        /// `fee` or `tickSpacing`.
        what: &'static str,
    },
    /// A set bitmap bit whose tick lies outside `[MIN_TICK, MAX_TICK]`.
    TickOutOfRange(i32),
    /// A set bitmap bit whose tick record is not initialized (or has no gross liquidity).
    NotInitialized(i32),
    /// A tick whose `|liquidity_net|` exceeds its `liquidity_gross`.
    NetAboveGross(i32),
    /// Algebra: `eth_getStorageAt` of the pool's slot 3 did not answer one word.
    Storage(&'static str),
    /// Algebra: the low 128 bits of storage slot 3 are not `liquidity()`, so the high 128 bits
    /// are not `volumePerLiquidityInBlock` either: not Algebra V1's storage layout.
    SlotLayout {
        /// The slot's low 128 bits.
        low: u128,
        /// `liquidity()` at the same block.
        liquidity: u128,
    },
    /// Algebra: a timepoint the fee model needs is not one the pool's operator can hold.
    Timepoint {
        /// Its index in the operator's ring.
        index: u16,
        /// What is wrong with it (`"is not initialized"`).
        why: &'static str,
    },
    /// Algebra: the fee-model state read does not restore (see
    /// [`check_fee_model`](crate::snapshot::check_fee_model)).
    FeeModel(FeeModelError),
}

impl fmt::Display for PoolFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreationLog(why) => write!(f, "malformed creation log: {why}"),
            Self::Call { what, error } => write!(f, "{what} failed: {error}"),
            Self::Length { what, got, want } => {
                write!(f, "{what} answered {got} bytes, expected {want}")
            }
            Self::Range { what } => write!(f, "{what} is outside its abi type"),
            Self::Price => write!(f, "sqrt price outside the tick math range"),
            Self::TickPrice { tick, of_price } => {
                write!(f, "tick {tick} disagrees with the price's tick {of_price}")
            }
            Self::Fee(fee) => write!(f, "fee {fee} pips is not below 1000000"),
            Self::Spacing(s) => write!(f, "tick spacing {s} is not the protocol's"),
            Self::EventMismatch { what } => {
                write!(f, "{what} differs from the factory's creation event")
            }
            Self::TickOutOfRange(t) => write!(f, "bitmap bit for tick {t} beyond the tick range"),
            Self::NotInitialized(t) => {
                write!(f, "bitmap bit set for tick {t}, which is not initialized")
            }
            Self::NetAboveGross(t) => write!(f, "tick {t} has |liquidity net| above gross"),
            Self::Storage(why) => write!(f, "eth_getStorageAt of slot 3 {why}"),
            Self::SlotLayout { low, liquidity } => write!(
                f,
                "storage slot 3 holds {low} in its low 128 bits, not liquidity() {liquidity}: \
                 not algebra v1's storage layout"
            ),
            Self::Timepoint { index, why } => write!(f, "timepoint {index} {why}"),
            Self::FeeModel(e) => write!(f, "fee model: {e}"),
        }
    }
}

impl std::error::Error for PoolFault {}

impl From<AbiError> for PoolFault {
    fn from(e: AbiError) -> Self {
        match e {
            AbiError::Length { what, got, want } => Self::Length { what, got, want },
            AbiError::Range { what } => Self::Range { what },
        }
    }
}

/// A pool as its factory's creation log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The pool.
    pub pool: Address,
    /// Its token0 (the lower address).
    pub token0: Address,
    /// Its token1.
    pub token1: Address,
    /// Uniswap V3 only: the fee (pips) and tick spacing the factory created it with.
    pub tier: Option<(u32, i32)>,
}

/// The creation event `kind`'s factory emits.
pub fn creation_topic(kind: PoolKind) -> Option<[u8; 32]> {
    match kind {
        PoolKind::UniswapV3 => Some(POOL_CREATED_TOPIC),
        PoolKind::Algebra => Some(ALGEBRA_POOL_TOPIC),
        PoolKind::UniswapV2 => None,
    }
}

/// Reads a creation log: V3 `PoolCreated(token0 indexed, token1 indexed, fee indexed,
/// tickSpacing, pool)`, Algebra `Pool(token0 indexed, token1 indexed, pool)`.
pub fn decode_created(kind: PoolKind, log: &Log) -> Result<Created, PoolFault> {
    let bad = PoolFault::CreationLog;
    let (topics, data_words) = match kind {
        PoolKind::UniswapV3 => (4, 2),
        PoolKind::Algebra => (3, 1),
        PoolKind::UniswapV2 => return Err(bad("not a concentrated-liquidity kind")),
    };
    if log.topics.len() != topics {
        return Err(bad("wrong number of topics"));
    }
    if log.data.len() != 32 * data_words {
        return Err(bad("wrong data length"));
    }
    if creation_topic(kind) != log.topics.first().copied() {
        return Err(bad("another event"));
    }
    let topic_address = |i: usize| {
        address(&log.topics[i], 0, "token").map_err(|_| bad("token topic is not an address"))
    };
    let token0 = topic_address(1)?;
    let token1 = topic_address(2)?;
    if token0 >= token1 {
        return Err(bad("tokens out of order"));
    }
    let (tier, pool_word) = match kind {
        PoolKind::UniswapV3 => {
            let fee = uint(&log.topics[3], 0, 24, "PoolCreated.fee")
                .map_err(|_| bad("fee topic is not a uint24"))?;
            let spacing = int(&log.data, 0, 24, "PoolCreated.tickSpacing")
                .map_err(|_| bad("tickSpacing is not an int24"))?;
            // Both fit: 24-bit values.
            (Some((fee.to::<u32>(), spacing as i32)), 1)
        }
        _ => (None, 0),
    };
    let pool = address(&log.data, pool_word, "pool").map_err(|_| bad("pool is not an address"))?;
    if pool == Address::ZERO {
        return Err(bad("zero pool address"));
    }
    Ok(Created {
        pool,
        token0,
        token1,
        tier,
    })
}

/// The swap state of an initialized pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Q64.96 √(token1/token0), raw units.
    pub sqrt_price: U256,
    /// Current tick.
    pub tick: i32,
    /// Active liquidity.
    pub liquidity: u128,
    /// Swap fee, pips.
    pub fee: u32,
    /// Tick spacing.
    pub spacing: i32,
    /// Algebra: `globalState().timepointIndex`, the index of the operator's newest timepoint.
    pub timepoint_index: Option<u16>,
}

/// The view functions read per pool, in the order [`decode_head`] takes their answers.
pub fn head_calls(kind: PoolKind) -> &'static [[u8; 4]] {
    match kind {
        PoolKind::Algebra => &[GLOBAL_STATE, LIQUIDITY, TICK_SPACING],
        _ => &[SLOT0, LIQUIDITY, FEE, TICK_SPACING],
    }
}

/// The pool's state from the answers to [`head_calls`]; `Ok(None)` for a pool never
/// initialized (price zero). `tier` is the creation event's (fee, spacing), checked against the
/// pool's own.
pub fn decode_head(
    kind: PoolKind,
    answers: &[Result<Vec<u8>, RpcError>],
    tier: Option<(u32, i32)>,
) -> Result<Option<Head>, PoolFault> {
    let algebra = kind == PoolKind::Algebra;
    if answers.len() != head_calls(kind).len() {
        return Err(PoolFault::Length {
            what: "pool reads",
            got: answers.len(),
            want: head_calls(kind).len(),
        });
    }
    let state_name = if algebra { "globalState" } else { "slot0" };
    let state = answer(&answers[0], state_name)?;
    exact(state, 7, state_name)?;
    let price = uint(state, 0, 160, "price")?;
    let tick = int(state, 1, 24, "tick")? as i32;
    // V3: observationIndex, observationCardinality, observationCardinalityNext (uint16),
    // feeProtocol (uint8); Algebra: fee, timepointIndex (uint16), community fees (uint8 × 2).
    let widths: [usize; 4] = if algebra {
        [16, 16, 8, 8]
    } else {
        [16, 16, 16, 8]
    };
    for (i, bits) in widths.into_iter().enumerate() {
        uint(state, 2 + i, bits, state_name)?;
    }
    boolean(state, 6, "unlocked")?;
    let liquidity_answer = answer(&answers[1], "liquidity")?;
    exact(liquidity_answer, 1, "liquidity")?;
    let liquidity = uint(liquidity_answer, 0, 128, "liquidity")?.to::<u128>();
    let timepoint_index = if algebra {
        Some(uint(state, 3, 16, "timepointIndex")?.to::<u16>())
    } else {
        None
    };
    let fee = if algebra {
        uint(state, 2, 16, "fee")?.to::<u32>()
    } else {
        let a = answer(&answers[2], "fee")?;
        exact(a, 1, "fee")?;
        uint(a, 0, 24, "fee")?.to::<u32>()
    };
    let spacing_answer = answer(&answers[answers.len() - 1], "tickSpacing")?;
    exact(spacing_answer, 1, "tickSpacing")?;
    let spacing = int(spacing_answer, 0, 24, "tickSpacing")? as i32;
    if price.is_zero() {
        return Ok(None);
    }
    if price < MIN_SQRT_RATIO || price >= MAX_SQRT_RATIO {
        return Err(PoolFault::Price);
    }
    let of_price = tick_at_sqrt_ratio(price).map_err(|_| PoolFault::Price)?;
    // A swap that ends exactly on a tick's price moving down leaves the tick below it.
    let on_boundary = tick == of_price - 1 && sqrt_ratio_at_tick(of_price).ok() == Some(price);
    if tick != of_price && !on_boundary {
        return Err(PoolFault::TickPrice { tick, of_price });
    }
    if fee >= PIPS {
        return Err(PoolFault::Fee(fee));
    }
    // Algebra V1's spacing is a constant of the pool; the engine's tables refuse any other.
    if !(1..MAX_SPACING).contains(&spacing) || (algebra && spacing != ALGEBRA_TICK_SPACING) {
        return Err(PoolFault::Spacing(spacing));
    }
    if let Some((tier_fee, tier_spacing)) = tier {
        if tier_fee != fee {
            return Err(PoolFault::EventMismatch { what: "fee" });
        }
        if tier_spacing != spacing {
            return Err(PoolFault::EventMismatch {
                what: "tickSpacing",
            });
        }
    }
    Ok(Some(Head {
        sqrt_price: price,
        tick,
        liquidity,
        fee,
        spacing,
        timepoint_index,
    }))
}

/// The bitmap word of compressed tick `floor(tick / spacing)`, `spacing > 0`.
pub fn word_of(tick: i32, spacing: i32) -> i32 {
    tick.div_euclid(spacing.max(1)) >> 8
}

/// Words `n` either side of the current tick's, clamped to the words a tick in
/// `[MIN_TICK, MAX_TICK]` can be in.
pub fn word_range(tick: i32, spacing: i32, n: u16) -> (i16, i16) {
    let w = word_of(tick, spacing);
    let lo = (w - i32::from(n)).max(word_of(MIN_TICK, spacing));
    let hi = (w + i32::from(n)).min(word_of(MAX_TICK, spacing));
    // Within ±3467 (spacing 1 at the tick bounds): fits i16.
    (lo as i16, hi as i16)
}

/// The ticks that words `lo..=hi` cover, `[first tick of lo, last tick of hi]`, clamped to
/// `[MIN_TICK, MAX_TICK]`: every initialized tick in it has its bit in those words.
pub fn window(lo: i16, hi: i16, spacing: i32) -> [i32; 2] {
    let span = 256 * i64::from(spacing);
    let first = i64::from(lo) * span;
    let last = (i64::from(hi) + 1) * span - 1;
    // Clamped into the i32 tick range.
    [
        first.max(i64::from(MIN_TICK)) as i32,
        last.min(i64::from(MAX_TICK)) as i32,
    ]
}

/// The ticks whose bits are set in word `word` (a `uint256`, big-endian), ascending.
pub fn set_ticks(word: i16, bits: &[u8], spacing: i32) -> impl Iterator<Item = i64> + '_ {
    (0..256usize)
        .filter(move |&bit| {
            bits.get(31 - bit / 8)
                .is_some_and(|b| b >> (bit % 8) & 1 == 1)
        })
        .map(move |bit| (i64::from(word) * 256 + bit as i64) * i64::from(spacing))
}

/// One `ticks(int24)` answer: gross and net liquidity of an initialized tick.
pub fn decode_tick(tick: i32, data: &[u8]) -> Result<TickSpec, PoolFault> {
    exact(data, 8, "ticks")?;
    let gross = uint(data, 0, 128, "ticks.liquidityGross")?.to::<u128>();
    let net = int(data, 1, 128, "ticks.liquidityNet")?;
    // Fee growth outside (uint256 × 2) may be anything.
    int(data, 4, 56, "ticks.tickCumulativeOutside")?;
    uint(data, 5, 160, "ticks.secondsPerLiquidityOutside")?;
    uint(data, 6, 32, "ticks.secondsOutside")?;
    let initialized = boolean(data, 7, "ticks.initialized")?;
    if !initialized || gross == 0 {
        return Err(PoolFault::NotInitialized(tick));
    }
    if net.unsigned_abs() > gross {
        return Err(PoolFault::NetAboveGross(tick));
    }
    Ok(TickSpec {
        tick,
        liquidity_net: net,
        liquidity_gross: gross,
    })
}

pub(super) fn answer<'a>(
    r: &'a Result<Vec<u8>, RpcError>,
    what: &'static str,
) -> Result<&'a [u8], PoolFault> {
    r.as_deref().map_err(|e| PoolFault::Call {
        what,
        error: e.to_string(),
    })
}

/// Pipelined `eth_call`s at `at`, `batch` in flight; one result per call. Transport failures
/// end discovery (the node is gone); a failed call is its pool's problem.
pub(super) fn call_all(
    rpc: &mut RpcClient,
    calls: &[([u8; 20], &[u8])],
    at: BlockTag,
    batch: usize,
    what: &'static str,
    dex: &DexConfig,
) -> Result<Vec<Result<Vec<u8>, RpcError>>, DiscoveryError> {
    let mut out = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(batch.max(1)) {
        out.extend(
            rpc.eth_call_many(chunk, at)
                .map_err(|error| DiscoveryError::Factory {
                    dex: dex.name.clone(),
                    factory: dex.factory,
                    what,
                    error,
                })?,
        );
    }
    Ok(out)
}

/// A pool being loaded.
struct Loading {
    created: Created,
    head: Head,
    words: (i16, i16),
    ticks: Vec<TickSpec>,
}

/// Finds and loads every pool of the concentrated-liquidity DEX `dex`, `cfg.dexes[dex_index]`, at
/// `block`, whose timestamp (seconds, `None` if the node has no such block) Algebra fee models
/// need. `chunk` is the `eth_getLogs` span to start with; it comes back as the span the node
/// accepted, for the next factory.
pub(crate) fn discover_dex(
    rpc: &mut RpcClient,
    cfg: &Config,
    (dex_index, dex): (u8, &DexConfig),
    (block, block_time): (u64, Option<u64>),
    known: &HashSet<Address>,
    chunk: &mut u64,
    stats: &mut DiscoveryStats,
) -> Result<Vec<PoolSpec>, DiscoveryError> {
    let kind = dex.kind;
    let Some(topic) = creation_topic(kind) else {
        return Err(DiscoveryError::NotInLogs {
            dex: dex.name.clone(),
            kind,
        });
    };
    let from = dex.from_block();
    if from > block {
        return Err(DiscoveryError::FromBlockAfter {
            dex: dex.name.clone(),
            from,
            block,
        });
    }
    let scan = logscan::scan(
        rpc,
        dex.factory.0.0,
        topic,
        from,
        block,
        *chunk,
        cfg.node.logs_in_flight,
    )
    .map_err(|error| DiscoveryError::Logs {
        dex: dex.name.clone(),
        factory: dex.factory,
        error,
    })?;
    *chunk = scan.chunk;
    stats.log_requests += scan.requests;
    stats.log_splits += scan.splits;

    let skip = |stats: &mut DiscoveryStats, pool: Address, fault: &PoolFault| {
        stats.failed += 1;
        tracing::warn!(pool = %pool, dex = %dex.name, reason = %fault, "pool skipped");
    };

    let mut seen = HashSet::new();
    let mut created = Vec::new();
    for log in &scan.logs {
        let c = if log.removed {
            Err(PoolFault::CreationLog("removed by a reorg"))
        } else {
            decode_created(kind, log)
        };
        match c {
            Ok(c) if seen.insert(c.pool) => created.push(c),
            Ok(c) => skip(stats, c.pool, &PoolFault::CreationLog("pool created twice")),
            Err(fault) => {
                stats.failed += 1;
                tracing::warn!(
                    dex = %dex.name,
                    block = log.block_number,
                    log_index = log.log_index,
                    reason = %fault,
                    "creation log skipped"
                );
            }
        }
    }
    if let Some(max) = dex.max_pairs {
        created.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    stats.listed += created.len() as u64;
    let (mine, foreign): (Vec<Created>, Vec<Created>) = created
        .into_iter()
        .partition(|c| known.contains(&c.token0) && known.contains(&c.token1));
    stats.foreign += foreign.len() as u64;

    let at = BlockTag::Number(block);
    let batch = cfg.node.discovery_batch;
    let selectors = head_calls(kind);
    let calls: Vec<([u8; 20], &[u8])> = mine
        .iter()
        .flat_map(|c| selectors.iter().map(|s| (c.pool.0.0, &s[..])))
        .collect();
    let answers = call_all(rpc, &calls, at, batch, "pool state", dex)?;
    let mut loading = Vec::with_capacity(mine.len());
    for (c, a) in mine.iter().zip(answers.chunks(selectors.len())) {
        match decode_head(kind, a, c.tier) {
            Ok(Some(head)) => loading.push(Loading {
                created: *c,
                head,
                words: word_range(head.tick, head.spacing, dex.tick_words()),
                ticks: Vec::new(),
            }),
            Ok(None) => {
                stats.uninitialized += 1;
                tracing::debug!(pool = %c.pool, dex = %dex.name, "pool not initialized; skipped");
            }
            Err(fault) => skip(stats, c.pool, &fault),
        }
    }

    // Bitmap words, then the records of their set bits. A pool with a fault is dropped at once.
    let bitmap = if kind == PoolKind::Algebra {
        TICK_TABLE
    } else {
        TICK_BITMAP
    };
    let word_calls: Vec<(usize, i16, [u8; 36])> = loading
        .iter()
        .enumerate()
        .flat_map(|(p, l)| {
            (l.words.0..=l.words.1).map(move |w| (p, w, call_int(bitmap, i32::from(w))))
        })
        .collect();
    let calls: Vec<([u8; 20], &[u8])> = word_calls
        .iter()
        .map(|(p, _, d)| (loading[*p].created.pool.0.0, &d[..]))
        .collect();
    let answers = call_all(rpc, &calls, at, batch, "tick bitmap", dex)?;
    let mut faults: Vec<Option<PoolFault>> = vec![None; loading.len()];
    let mut tick_calls: Vec<(usize, i32, [u8; 36])> = Vec::new();
    for ((p, w, _), a) in word_calls.iter().zip(&answers) {
        if faults[*p].is_some() {
            continue;
        }
        let bits = answer(a, "tick bitmap word").and_then(|b| {
            exact(b, 1, "tick bitmap word")?;
            Ok(b)
        });
        let spacing = loading[*p].head.spacing;
        match bits {
            Ok(bits) => {
                for t in set_ticks(*w, bits, spacing) {
                    match i32::try_from(t) {
                        Ok(t) if (MIN_TICK..=MAX_TICK).contains(&t) => {
                            tick_calls.push((*p, t, call_int(TICKS, t)));
                        }
                        // Saturated for the message only: it is out of range either way.
                        _ => {
                            faults[*p] = Some(PoolFault::TickOutOfRange(
                                t.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                            ));
                            break;
                        }
                    }
                }
            }
            Err(fault) => faults[*p] = Some(fault),
        }
    }
    let calls: Vec<([u8; 20], &[u8])> = tick_calls
        .iter()
        .filter(|(p, _, _)| faults[*p].is_none())
        .map(|(p, _, d)| (loading[*p].created.pool.0.0, &d[..]))
        .collect();
    // The same filter as `calls`, taken before any fault below is recorded: pairs with `answers`.
    let asked: Vec<(usize, i32)> = tick_calls
        .iter()
        .filter(|(p, _, _)| faults[*p].is_none())
        .map(|(p, t, _)| (*p, *t))
        .collect();
    let answers = call_all(rpc, &calls, at, batch, "ticks", dex)?;
    for ((p, tick), a) in asked.into_iter().zip(&answers) {
        if faults[p].is_some() {
            continue;
        }
        match answer(a, "ticks").and_then(|d| decode_tick(tick, d)) {
            Ok(spec) => loading[p].ticks.push(spec),
            Err(fault) => faults[p] = Some(fault),
        }
    }

    // Algebra: each sound pool's adaptive-fee state, at the same block.
    let mut fee_models: Vec<Option<algebra_fee::Outcome>> = std::iter::repeat_with(|| None)
        .take(loading.len())
        .collect();
    if kind == PoolKind::Algebra {
        let (ids, targets): (Vec<usize>, Vec<algebra_fee::Target>) = loading
            .iter()
            .enumerate()
            .filter(|(p, _)| faults[*p].is_none())
            .filter_map(|(p, l)| {
                Some((
                    p,
                    algebra_fee::Target {
                        pool: l.created.pool,
                        index: l.head.timepoint_index?,
                        tick: l.head.tick,
                        liquidity: l.head.liquidity,
                    },
                ))
            })
            .unzip();
        if dex.max_timepoints == Some(0) {
            // Asked for none: every pool is kept without a model, nothing is read.
            for p in ids {
                fee_models[p] = Some(algebra_fee::Outcome::Capped);
            }
        } else if !targets.is_empty() {
            let block_time = block_time.ok_or(DiscoveryError::NoBlock { block })?;
            let (outcomes, timepoints) = algebra_fee::read(
                rpc,
                &targets,
                (block, block_time),
                batch,
                dex.max_timepoints,
                dex,
            )?;
            stats.timepoints += timepoints;
            for (p, o) in ids.into_iter().zip(outcomes) {
                fee_models[p] = Some(o);
            }
        }
    }

    let mut pools = Vec::with_capacity(loading.len());
    for ((l, fault), model) in loading.into_iter().zip(faults).zip(fee_models) {
        if let Some(fault) = fault {
            skip(stats, l.created.pool, &fault);
            continue;
        }
        let fee_model = match model {
            None => None,
            Some(algebra_fee::Outcome::Model(m)) => {
                stats.fee_models += 1;
                Some(*m)
            }
            Some(algebra_fee::Outcome::Capped) => {
                stats.fee_models_capped += 1;
                if dex.max_timepoints != Some(0) {
                    tracing::warn!(
                    pool = %l.created.pool,
                    dex = %dex.name,
                    max_timepoints = dex.max_timepoints,
                    "fee window longer than max_timepoints: pool kept without a fee model"
                    );
                }
                None
            }
            Some(algebra_fee::Outcome::Fault(fault)) => {
                skip(stats, l.created.pool, &fault);
                continue;
            }
        };
        stats.kept += 1;
        stats.ticks += l.ticks.len() as u64;
        let cl = ClStateSpec {
            sqrt_price_x96: l.head.sqrt_price,
            tick: l.head.tick,
            liquidity: l.head.liquidity,
            tick_spacing: l.head.spacing,
            window: window(l.words.0, l.words.1, l.head.spacing),
            ticks: l.ticks,
            fee_model,
        };
        pools.push(PoolSpec {
            address: l.created.pool,
            dex: dex_index,
            token0: l.created.token0,
            token1: l.created.token1,
            fee_pips: l.head.fee,
            state: if kind == PoolKind::Algebra {
                PoolState::Algebra(cl)
            } else {
                PoolState::UniswapV3(cl)
            },
            last_log: None,
            stale: Default::default(),
        });
    }
    Ok(pools)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{
        LogData, U160,
        aliases::{I24, I56, U24},
        keccak256,
    };
    use alloy_sol_types::{SolCall, SolEvent};
    use polyarb_tools::abi::{IAlgebraFactory, IAlgebraPool, IUniswapV3Factory, IUniswapV3Pool};
    use proptest::prelude::*;

    fn i24(v: i32) -> I24 {
        I24::try_from(v).unwrap()
    }

    #[test]
    fn selectors_and_topics_are_keccak_of_signatures() {
        for (sel, sig) in [
            (SLOT0, "slot0()"),
            (GLOBAL_STATE, "globalState()"),
            (LIQUIDITY, "liquidity()"),
            (FEE, "fee()"),
            (TICK_SPACING, "tickSpacing()"),
            (TICK_BITMAP, "tickBitmap(int16)"),
            (TICK_TABLE, "tickTable(int16)"),
            (TICKS, "ticks(int24)"),
        ] {
            assert_eq!(sel, keccak256(sig)[..4], "{sig}");
        }
        assert_eq!(
            POOL_CREATED_TOPIC,
            keccak256("PoolCreated(address,address,uint24,int24,address)").0
        );
        assert_eq!(
            POOL_CREATED_TOPIC,
            IUniswapV3Factory::PoolCreated::SIGNATURE_HASH.0
        );
        assert_eq!(
            ALGEBRA_POOL_TOPIC,
            keccak256("Pool(address,address,address)").0
        );
        assert_eq!(ALGEBRA_POOL_TOPIC, IAlgebraFactory::Pool::SIGNATURE_HASH.0);
    }

    fn log_of(data: LogData) -> Log {
        Log {
            address: [9; 20],
            topics: data.topics().iter().map(|t| t.0).collect(),
            data: data.data.to_vec(),
            block_number: 5,
            block_hash: [1; 32],
            transaction_hash: [2; 32],
            transaction_index: 0,
            log_index: 0,
            removed: false,
        }
    }

    #[test]
    fn creation_logs_decode_as_alloy_encodes_them() {
        let (a, b, pool) = (
            Address::repeat_byte(0x11),
            Address::repeat_byte(0x22),
            Address::repeat_byte(0x33),
        );
        let v3 = IUniswapV3Factory::PoolCreated {
            token0: a,
            token1: b,
            fee: U24::from(3000u32),
            tickSpacing: i24(60),
            pool,
        };
        let log = log_of(v3.encode_log_data());
        assert_eq!(
            decode_created(PoolKind::UniswapV3, &log),
            Ok(Created {
                pool,
                token0: a,
                token1: b,
                tier: Some((3000, 60))
            })
        );
        // The other kind's decoder refuses it.
        assert!(decode_created(PoolKind::Algebra, &log).is_err());
        let alg = IAlgebraFactory::Pool {
            token0: a,
            token1: b,
            pool,
        };
        let log = log_of(alg.encode_log_data());
        assert_eq!(
            decode_created(PoolKind::Algebra, &log),
            Ok(Created {
                pool,
                token0: a,
                token1: b,
                tier: None
            })
        );
        // Tokens out of order, a dirty address word, a short data field, a zero pool.
        let swapped = IAlgebraFactory::Pool {
            token0: b,
            token1: a,
            pool,
        };
        assert!(decode_created(PoolKind::Algebra, &log_of(swapped.encode_log_data())).is_err());
        let mut dirty = log.clone();
        dirty.data[0] = 1;
        assert!(decode_created(PoolKind::Algebra, &dirty).is_err());
        let mut short = log.clone();
        short.data.pop();
        assert!(decode_created(PoolKind::Algebra, &short).is_err());
        let zero = IAlgebraFactory::Pool {
            token0: a,
            token1: b,
            pool: Address::ZERO,
        };
        assert!(decode_created(PoolKind::Algebra, &log_of(zero.encode_log_data())).is_err());
    }

    fn v3_head(price: U256, tick: i32, fee: u32, spacing: i32) -> Vec<Result<Vec<u8>, RpcError>> {
        vec![
            Ok(IUniswapV3Pool::slot0Call::abi_encode_returns(
                &IUniswapV3Pool::slot0Return {
                    sqrtPriceX96: U160::from(price),
                    tick: i24(tick),
                    observationIndex: 3,
                    observationCardinality: 9,
                    observationCardinalityNext: 10,
                    feeProtocol: 0x44,
                    unlocked: true,
                },
            )),
            Ok(IUniswapV3Pool::liquidityCall::abi_encode_returns(
                &(u128::MAX - 5),
            )),
            Ok(IUniswapV3Pool::feeCall::abi_encode_returns(&U24::from(fee))),
            Ok(IUniswapV3Pool::tickSpacingCall::abi_encode_returns(&i24(
                spacing,
            ))),
        ]
    }

    fn algebra_head(price: U256, tick: i32, fee: u16) -> Vec<Result<Vec<u8>, RpcError>> {
        algebra_head_spaced(price, tick, fee, 60)
    }

    fn algebra_head_spaced(
        price: U256,
        tick: i32,
        fee: u16,
        spacing: i32,
    ) -> Vec<Result<Vec<u8>, RpcError>> {
        vec![
            Ok(IAlgebraPool::globalStateCall::abi_encode_returns(
                &IAlgebraPool::globalStateReturn {
                    price: U160::from(price),
                    tick: i24(tick),
                    fee,
                    timepointIndex: 65535,
                    communityFeeToken0: 250,
                    communityFeeToken1: 0,
                    unlocked: true,
                },
            )),
            Ok(IAlgebraPool::liquidityCall::abi_encode_returns(&7)),
            Ok(IAlgebraPool::tickSpacingCall::abi_encode_returns(&i24(
                spacing,
            ))),
        ]
    }

    #[test]
    fn heads_decode_and_check_every_field() {
        let t = -200_013;
        let p = sqrt_ratio_at_tick(t).unwrap() + U256::from(1u8);
        let head = decode_head(
            PoolKind::UniswapV3,
            &v3_head(p, t, 500, 10),
            Some((500, 10)),
        );
        assert_eq!(
            head,
            Ok(Some(Head {
                sqrt_price: p,
                tick: t,
                liquidity: u128::MAX - 5,
                fee: 500,
                spacing: 10,
                timepoint_index: None,
            }))
        );
        let head = decode_head(PoolKind::Algebra, &algebra_head(p, t, 65535), None);
        assert_eq!(
            head.map(|h| h.map(|h| (h.fee, h.spacing, h.liquidity, h.timepoint_index))),
            Ok(Some((65535, 60, 7, Some(65535))))
        );
        // Never initialized: price zero (and tick zero), skipped without a fault.
        assert_eq!(
            decode_head(PoolKind::UniswapV3, &v3_head(U256::ZERO, 0, 3000, 60), None),
            Ok(None)
        );
        // Exactly on a tick's price: the tick or the one below (after a swap down onto it).
        let on = sqrt_ratio_at_tick(t).unwrap();
        for tick in [t, t - 1] {
            assert!(decode_head(PoolKind::Algebra, &algebra_head(on, tick, 100), None).is_ok());
        }
        for (price, tick) in [(on, t - 2), (on, t + 1), (p, t - 1), (p, t + 1)] {
            assert!(matches!(
                decode_head(PoolKind::Algebra, &algebra_head(price, tick, 100), None),
                Err(PoolFault::TickPrice { .. })
            ));
        }
        assert_eq!(
            decode_head(
                PoolKind::Algebra,
                &algebra_head(MAX_SQRT_RATIO, 887_271, 100),
                None
            ),
            Err(PoolFault::Price)
        );
        assert_eq!(
            decode_head(PoolKind::UniswapV3, &v3_head(p, t, 1_000_000, 10), None),
            Err(PoolFault::Fee(1_000_000))
        );
        assert_eq!(
            decode_head(PoolKind::UniswapV3, &v3_head(p, t, 500, 0), None),
            Err(PoolFault::Spacing(0))
        );
        assert_eq!(
            decode_head(PoolKind::UniswapV3, &v3_head(p, t, 500, 16_384), None),
            Err(PoolFault::Spacing(16_384))
        );
        assert_eq!(
            decode_head(PoolKind::Algebra, &algebra_head_spaced(p, t, 100, 10), None),
            Err(PoolFault::Spacing(10))
        );
        assert_eq!(
            decode_head(
                PoolKind::UniswapV3,
                &v3_head(p, t, 500, 10),
                Some((500, 60))
            ),
            Err(PoolFault::EventMismatch {
                what: "tickSpacing"
            })
        );
        assert_eq!(
            decode_head(
                PoolKind::UniswapV3,
                &v3_head(p, t, 500, 10),
                Some((3000, 10))
            ),
            Err(PoolFault::EventMismatch { what: "fee" })
        );
    }

    #[test]
    fn malformed_answers_are_faults_not_panics() {
        let t = 1234;
        let p = sqrt_ratio_at_tick(t).unwrap();
        let good = v3_head(p, t, 500, 10);
        let with = |i: usize, f: &dyn Fn(&mut Vec<u8>)| {
            let mut a: Vec<Result<Vec<u8>, RpcError>> = good
                .iter()
                .map(|r| Ok(r.as_ref().unwrap().clone()))
                .collect();
            if let Ok(v) = &mut a[i] {
                f(v);
            }
            decode_head(PoolKind::UniswapV3, &a, None)
        };
        // A price above uint160, a tick word that is not a sign-extended int24, a liquidity
        // above uint128, a fee above uint24, `unlocked` = 2, answers cut short or too long.
        assert!(matches!(
            with(0, &|v| v[11] = 1),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            with(0, &|v| v[40] = 0x80),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            with(1, &|v| v[15] = 1),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            with(2, &|v| v[28] = 1),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            with(0, &|v| v[223] = 2),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            with(0, &|v| v.truncate(200)),
            Err(PoolFault::Length { .. })
        ));
        assert!(matches!(
            with(3, &|v| v.push(0)),
            Err(PoolFault::Length { .. })
        ));
        assert!(matches!(
            with(1, &|v| v.clear()),
            Err(PoolFault::Length { .. })
        ));
        let mut failed = v3_head(p, t, 500, 10);
        failed[2] = Err(RpcError::Node {
            code: 3,
            message: "execution reverted".into(),
        });
        assert!(matches!(
            decode_head(PoolKind::UniswapV3, &failed, None),
            Err(PoolFault::Call { what: "fee", .. })
        ));
        assert!(decode_head(PoolKind::UniswapV3, &good[..3], None).is_err());
        // A negative tick read with its sign extension is fine.
        let neg = v3_head(sqrt_ratio_at_tick(-5).unwrap(), -5, 500, 10);
        assert_eq!(
            decode_head(PoolKind::UniswapV3, &neg, None).map(|h| h.map(|h| h.tick)),
            Ok(Some(-5))
        );
    }

    fn tick_record(gross: u128, net: i128, initialized: bool) -> Vec<u8> {
        IUniswapV3Pool::ticksCall::abi_encode_returns(&IUniswapV3Pool::ticksReturn {
            liquidityGross: gross,
            liquidityNet: net,
            feeGrowthOutside0X128: U256::MAX,
            feeGrowthOutside1X128: U256::from(3u8),
            tickCumulativeOutside: I56::try_from(-5i64).unwrap(),
            secondsPerLiquidityOutsideX128: U160::MAX,
            secondsOutside: u32::MAX,
            initialized,
        })
    }

    #[test]
    fn tick_records_decode_and_are_checked() {
        assert_eq!(
            decode_tick(-60, &tick_record(10, -10, true)),
            Ok(TickSpec {
                tick: -60,
                liquidity_net: -10,
                liquidity_gross: 10
            })
        );
        assert_eq!(
            decode_tick(60, &tick_record(u128::MAX, i128::MIN + 1, true)).map(|t| t.liquidity_net),
            Ok(i128::MIN + 1)
        );
        // Algebra's record has the same layout under other names.
        let alg = IAlgebraPool::ticksCall::abi_encode_returns(&IAlgebraPool::ticksReturn {
            liquidityTotal: 9,
            liquidityDelta: 4,
            outerFeeGrowth0Token: U256::ZERO,
            outerFeeGrowth1Token: U256::ZERO,
            outerTickCumulative: I56::ZERO,
            outerSecondsPerLiquidity: U160::ZERO,
            outerSecondsSpent: 0,
            initialized: true,
        });
        assert_eq!(
            decode_tick(0, &alg).map(|t| (t.liquidity_gross, t.liquidity_net)),
            Ok((9, 4))
        );
        assert_eq!(
            decode_tick(5, &tick_record(10, 0, false)),
            Err(PoolFault::NotInitialized(5))
        );
        assert_eq!(
            decode_tick(5, &tick_record(0, 0, true)),
            Err(PoolFault::NotInitialized(5))
        );
        assert_eq!(
            decode_tick(5, &tick_record(10, 11, true)),
            Err(PoolFault::NetAboveGross(5))
        );
        let mut dirty = tick_record(10, -10, true);
        dirty[32] = 0; // net's sign extension broken
        assert!(matches!(
            decode_tick(5, &dirty),
            Err(PoolFault::Range { .. })
        ));
        assert!(matches!(
            decode_tick(5, &tick_record(1, 1, true)[..224]),
            Err(PoolFault::Length { .. })
        ));
    }

    #[test]
    fn calldata_is_what_alloy_encodes() {
        for w in [i16::MIN, -1, 0, 1, i16::MAX] {
            assert_eq!(
                call_int(TICK_BITMAP, i32::from(w))[..],
                IUniswapV3Pool::tickBitmapCall { wordPosition: w }.abi_encode()[..]
            );
            assert_eq!(
                call_int(TICK_TABLE, i32::from(w))[..],
                IAlgebraPool::tickTableCall { index: w }.abi_encode()[..]
            );
        }
        for t in [MIN_TICK, -60, 0, 60, MAX_TICK] {
            assert_eq!(
                call_int(TICKS, t)[..],
                IUniswapV3Pool::ticksCall { tick: i24(t) }.abi_encode()[..]
            );
        }
    }

    #[test]
    fn words_round_down_and_clamp_to_the_tick_range() {
        assert_eq!(word_of(-1, 1), -1);
        assert_eq!(word_of(-30, 60), -1, "floor, not truncation");
        assert_eq!(word_of(256 * 60 - 1, 60), 0);
        assert_eq!(word_range(0, 60, 2), (-2, 2));
        // Spacing 60: ticks live in words -58..=57; the window stops there.
        assert_eq!(word_range(886_000, 60, 2), (55, 57));
        assert_eq!(word_range(MIN_TICK, 1, 3), (-3466, -3463));
        assert_eq!(window(55, 57, 60), [55 * 256 * 60, MAX_TICK]);
        assert_eq!(window(-3466, -3463, 1), [MIN_TICK, -3462 * 256 - 1]);
        let mut bits = [0u8; 32];
        bits[31] = 0b1000_0001; // bits 0 and 7
        bits[0] = 0x80; // bit 255
        assert_eq!(
            set_ticks(-2, &bits, 10).collect::<Vec<_>>(),
            vec![-5120, -5050, -2570]
        );
    }

    proptest! {
        /// The window holds a tick exactly when its bit is in one of the words read; and it
        /// contains the current tick.
        #[test]
        fn window_is_the_ticks_of_the_words(
            spacing in prop_oneof![Just(1), Just(10), Just(60), Just(200), 1..16_384i32],
            current in MIN_TICK..=MAX_TICK,
            n in 0u16..4,
            probe in MIN_TICK..=MAX_TICK,
        ) {
            let (lo, hi) = word_range(current, spacing, n);
            let [a, b] = window(lo, hi, spacing);
            prop_assert!(a <= current && current <= b);
            // An initializable tick: a multiple of the spacing.
            let t = probe - probe.rem_euclid(spacing);
            prop_assume!(t >= MIN_TICK);
            // Its word as the pools compute it (compressed = t / spacing exactly).
            let word = (t / spacing) >> 8;
            let read = (i32::from(lo)..=i32::from(hi)).contains(&word);
            prop_assert_eq!((a..=b).contains(&t), read);
            // Its bit, read back from that word.
            let mut bits = [0u8; 32];
            let bit = (t / spacing).rem_euclid(256) as usize;
            bits[31 - bit / 8] |= 1 << (bit % 8);
            let back: Vec<i64> = set_ticks(word as i16, &bits, spacing).collect();
            prop_assert_eq!(back, vec![i64::from(t)]);
        }
    }

    #[test]
    fn faults_read_as_lowercase_reasons() {
        for f in [
            PoolFault::CreationLog("x"),
            PoolFault::Price,
            PoolFault::Fee(1),
            PoolFault::NotInitialized(3),
            PoolFault::TickPrice {
                tick: 1,
                of_price: 2,
            },
        ] {
            let s = f.to_string();
            assert!(s.chars().next().is_some_and(|c| !c.is_uppercase()), "{s}");
        }
    }
}
