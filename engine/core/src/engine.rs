//! The engine: tables, cycles and search behind one sans-IO call, [`Engine::on_frame`].
//!
//! No threads, sockets, clock or log formatting: a frame goes in, up to
//! [`SearchParams::max_routes`] opportunities come out, counters record everything that was
//! skipped. Built once from a [`MarketSpec`]; after that `on_frame` does not allocate.

use core::fmt;

use alloy_primitives::{Address, I256, U256};

use crate::clmm::swap::PoolState as ClState;
use crate::clmm::tick_math::{MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK};
use crate::cycles::{Cycle, Cycles, PairIndex, enumerate};
use crate::fee_model::FeeWrite;
use crate::journal::{Check, Clock, DEFAULT_REORG_DEPTH, Journal, Removal, block_tag};
use crate::pools::{
    PoolId, Pools, QUOTE_UNKNOWN, Staleness, TableError, TokenId, Tokens, U112_MAX, build_tables,
    tick_holds_price,
};
use crate::search::{
    ClHop, EdgeRate, HopState, NativeQuotes, SizedAfterCost, Sizing, profit_bound, screen,
    simulate, size_after_cost,
};
use crate::{
    CapitalSpec, DexSpec, FLAG_MORE_IN_BATCH, FeedFrame, FrameKind, Funding, FundingSet, Hop,
    LenderSpec, MAX_HOPS, MarketSpec, OpportunityFrame, PoolKind, PoolSpec, PoolState, Premium,
    TokenSpec,
};

/// Gas the engine budgets for a route, units: what profit is judged against. Measured on the
/// executor (`contracts/test/ExecutorGas.t.sol`, `docs/executor.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasModel {
    /// Per executor call, before its hops (intrinsic, calldata, balance checks).
    pub base: u32,
    /// Per hop, by [`PoolKind`] (indexed by its `u8` value): the pool's `swap` with its token
    /// transfers.
    pub per_hop: [u32; 3],
    /// Per initialized tick a concentrated-liquidity swap crosses, by [`PoolKind`] (the V2
    /// entry is unused).
    pub per_tick: [u32; 3],
    /// Extra per route by [`Funding`] source (indexed by its `u8` value) over own capital:
    /// the lender's call, its callback and the repayment (`docs/executor.md`, gas by funding).
    pub per_funding: [u32; 4],
}

impl GasModel {
    /// Extra gas units for a route funded by `f`.
    pub fn funding(&self, f: Funding) -> u32 {
        self.per_funding[f as usize]
    }

    /// Gas units for a route of `hops` (kind, ticks crossed) from own capital, saturating.
    pub fn budget(&self, hops: impl IntoIterator<Item = (PoolKind, u16)>) -> u32 {
        hops.into_iter().fold(self.base, |g, (kind, ticks)| {
            g.saturating_add(self.per_hop[kind as usize])
                .saturating_add(self.per_tick[kind as usize].saturating_mul(u32::from(ticks)))
        })
    }
}

/// Default cap on stored cycles ([`SearchParams::max_cycles`]).
pub const DEFAULT_MAX_CYCLES: usize = 1_000_000;
/// Default routes per pool update ([`SearchParams::max_routes`]).
pub const DEFAULT_MAX_ROUTES: usize = 4;

/// What the search looks for and what it may spend. Plain data; build with
/// [`SearchParams::new`] and override fields as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchParams {
    /// The native token (WMATIC / WPOL on Polygon); profits are valued in it, in wei.
    pub native: Address,
    /// Tokens cycles start and end at, highest priority first (a loop through two of them is
    /// stored once, under the first, and searched from both). Must all be known tokens.
    pub start_tokens: Vec<Address>,
    /// Priority fee the engine budgets on top of the base fee, wei per gas.
    pub tip_wei: u128,
    /// Gas budget per route.
    pub gas: GasModel,
    /// Net profit an opportunity must clear beyond its gas cost, wei.
    pub min_profit_native: u128,
    /// Where a route's input may come from. Own capital is always allowed; a flash swap needs
    /// the first pool's DEX to allow it ([`DexSpec::flash_swap`]); a flash loan needs a lender
    /// of the start token in [`MarketSpec::lenders`]. Each sized route takes the source that
    /// leaves the most net value (premium and extra gas counted). Default: capital only.
    pub funding: FundingSet,
    /// Most cycles kept; the rest are counted in [`BuildReport::cycles_dropped`].
    pub max_cycles: usize,
    /// Most routes one pool update may yield: after the best, the engine re-prices the pools
    /// that route uses (as if it had executed) and searches again. At least 1.
    pub max_routes: usize,
    /// Longest cycle enumerated, in hops: 2 to [`MAX_HOPS`] (clamped). Fewer hops, fewer
    /// cycles to search per update.
    pub max_hops: usize,
    /// Seconds between blocks (Polygon PoS: 2). A route lands in the block after the newest
    /// one seen at the earliest; an Algebra hop is priced at the fee its pool's first swap
    /// pays in a block this much later than the newest block time seen.
    pub block_time_s: u32,
    /// Blocks a sent route holds its pools for: until a log of the pool from a later block
    /// (the route landed, or someone else moved the pool first), or until a head this many
    /// blocks after the newest one seen when the route was made. While held, a pool is priced
    /// at the state the route leaves it in. At least 1.
    pub hold_blocks: u64,
    /// Whether a route may be priced on the state a route made from the same block leaves a
    /// pool in. Off (the default): the routes one block's logs lead to use disjoint pools, so
    /// each depends on the chain alone and one that reverts (or lands with other amounts) sinks
    /// no other; routes of earlier blocks still in flight are priced through as before.
    pub chain_routes: bool,
    /// A log from more than this many blocks past the newest head (or the snapshot) is
    /// refused and counted (`future_logs`), never applied: applied, it would move its pool's
    /// last position so far ahead that no real log could follow it.
    pub max_blocks_ahead: u64,
    /// Blocks a reorg can be undone across (docs/engine.md, "Reorgs"): the engine journals what
    /// the logs of the newest this many blocks changed, and a removed log or a head whose parent
    /// is not the block seen at its height undoes them. A removed log of an older block marks
    /// its pool stale instead (`reorg_beyond_depth`). 0 turns the journal off (every removed log
    /// marks its pool stale); at most [`MAX_REORG_DEPTH`](crate::MAX_REORG_DEPTH).
    pub reorg_depth: u64,
}

impl SearchParams {
    /// Parameters with Polygon-sized defaults: a 30 gwei tip (Polygon's minimum priority fee
    /// is 25–30 gwei), 50 000 + 70 000 per hop gas units (estimates for the executor; tune from
    /// receipts), no extra profit margin, at most [`DEFAULT_MAX_CYCLES`] cycles, up to
    /// [`DEFAULT_MAX_ROUTES`] routes per update.
    pub fn new(native: Address, start_tokens: Vec<Address>) -> Self {
        Self {
            native,
            start_tokens,
            tip_wei: 30_000_000_000,
            gas: GasModel {
                base: 50_000,
                per_hop: [70_000; 3],
                per_tick: [0; 3],
                per_funding: [0; 4],
            },
            min_profit_native: 0,
            funding: FundingSet::CAPITAL,
            max_cycles: DEFAULT_MAX_CYCLES,
            max_routes: DEFAULT_MAX_ROUTES,
            max_hops: MAX_HOPS,
            block_time_s: DEFAULT_BLOCK_TIME_S,
            hold_blocks: DEFAULT_HOLD_BLOCKS,
            chain_routes: false,
            max_blocks_ahead: DEFAULT_MAX_BLOCKS_AHEAD,
            reorg_depth: DEFAULT_REORG_DEPTH,
        }
    }
}

/// Default [`SearchParams::max_blocks_ahead`]: logs can come before their block's head, but
/// not this far.
pub const DEFAULT_MAX_BLOCKS_AHEAD: u64 = 64;

/// Default [`SearchParams::hold_blocks`]: the block after the route was made, and one more.
pub const DEFAULT_HOLD_BLOCKS: u64 = 2;

/// Pools one batch's routes may come from at most: each yields up to `max_routes`; the
/// routes buffer is sized for this many, and pools past it are searched in a later batch.
pub const BATCH_ROUTE_POOLS: usize = 16;

/// Default [`SearchParams::block_time_s`]: Polygon PoS's block interval, seconds.
pub const DEFAULT_BLOCK_TIME_S: u32 = 2;

/// Recent blocks whose time the engine remembers, for `Fee` logs that come without one.
const BLOCK_TIMES: usize = 8;

/// Why an [`Engine`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The market spec is inconsistent.
    Table(TableError),
    /// [`SearchParams::native`] is not among the spec's tokens.
    UnknownNative(Address),
    /// A start token is not among the spec's tokens.
    UnknownStartToken(Address),
    /// [`SearchParams::start_tokens`] is empty.
    NoStartTokens,
    /// A [`LenderSpec`] that cannot be used: its token, and why.
    BadLender(Address, &'static str),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(e) => write!(f, "bad market spec: {e}"),
            Self::UnknownNative(a) => write!(f, "native token {a} is not a known token"),
            Self::UnknownStartToken(a) => write!(f, "start token {a} is not a known token"),
            Self::NoStartTokens => write!(f, "no start tokens"),
            Self::BadLender(t, why) => write!(f, "lender of token {t}: {why}"),
        }
    }
}

impl core::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Table(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TableError> for BuildError {
    fn from(e: TableError) -> Self {
        Self::Table(e)
    }
}

/// What building found, for the startup report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Pools dropped because a token of theirs is not in the spec.
    pub pools_dropped: u64,
    /// Cycles kept.
    pub cycles: usize,
    /// Cycles found beyond [`SearchParams::max_cycles`] and not kept.
    pub cycles_dropped: u64,
}

/// Counters of everything `on_frame` did or skipped. Plain `Copy` data for the reporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Frames seen, of any kind.
    pub frames: u64,
    /// `NewHead` frames seen.
    pub heads: u64,
    /// `V2Sync` frames seen (before any check).
    pub syncs: u64,
    /// Concentrated pools' `Swap` frames seen (before any check).
    pub cl_swaps: u64,
    /// Concentrated pools' `Mint` and `Burn` frames seen (before any check).
    pub positions: u64,
    /// Algebra `Fee` frames seen (before any check).
    pub fees: u64,
    /// Pool logs whose state was stored (any kind).
    pub applied: u64,
    /// Swaps that moved a concentrated pool's price outside its loaded tick window: the pool
    /// is out of the search until reloaded.
    pub out_of_window: u64,
    /// Mints and Burns the tick columns refused (a burn at an uninitialized tick, a range off
    /// the spacing, full tick storage): the pool is out of the search until reloaded.
    pub tick_errors: u64,
    /// Syncs from a pool not in the tables.
    pub unknown_pool: u64,
    /// Syncs at or before the snapshot block, or not after the pool's last applied
    /// (block, log index): already reflected, or out of order.
    pub stale_skipped: u64,
    /// Removed (reorged-out) logs: each undoes its block and every later one from the journal
    /// (a no-op if that block was undone already), or, older than the journal reaches, marks its
    /// pool stale (`reorg_beyond_depth`).
    pub removed: u64,
    /// Frames with values out of range: reserves above uint112, or a base fee above u128.
    pub rejected: u64,
    /// Frames of a kind the engine does not handle (`Empty`).
    pub other: u64,
    /// Cycles skipped because one of their pools is stale.
    pub stale_cycles: u64,
    /// Cycles run through the fixed-point screen.
    pub screened: u64,
    /// Cycles that passed the screen and were sized exactly.
    pub sized: u64,
    /// Sized cycles with a positive raw profit.
    pub profitable: u64,
    /// Cycles worth sending whose input is proven the integer optimum: every input that could
    /// do better was tried, or the real curve's supremum leaves no room above the profit found
    /// (all-V2 cycles only; see `docs/engine.md`, sizing).
    pub sized_exact: u64,
    /// Cycles worth sending whose hops are all V2 (the ones [`EngineStats::sized_exact`] can
    /// prove).
    pub worth_all_v2: u64,
    /// Cycles worth sending whose best input after gas stops short of initialized ticks the
    /// gross optimum crosses (the gas of those crossings costs more than they pay).
    pub short_of_ticks: u64,
    /// Profitable cycles whose native value did not clear gas cost + minimum profit.
    pub below_threshold: u64,
    /// Screened candidates never sized: their profit bound could not clear the threshold or
    /// beat the best route already sized.
    pub pruned: u64,
    /// Opportunities returned (up to `max_routes` per frame).
    pub opportunities: u64,
    /// Opportunities by the [`Funding`] source chosen (indexed by its `u8` value).
    pub funded: [u64; 4],
    /// `LenderOffer` frames applied: a lender's available amount refreshed.
    pub lender_updates: u64,
    /// Algebra timepoint writes replayed from `Fee` logs whose fee matched the model's.
    pub fee_checked: u64,
    /// Algebra fee models that stopped following their pool (a fee that disagreed, a write the
    /// logs did not show, a reorg): each pool is out of the search until reloaded.
    pub fee_models_lost: u64,
    /// Times an Algebra pool's next fee could not be computed (no block time yet, a write
    /// waiting for its block's time, or the model refused): the pool sat out until it could.
    pub fee_unknown: u64,
    /// Searches run: one per batch of frames (see `FLAG_MORE_IN_BATCH`) and pool it touched.
    pub searches: u64,
    /// Pool updates that did not get a search of their own because a later frame of the same
    /// batch touched the pool again.
    pub coalesced: u64,
    /// Pools a route sent held at the state it leaves them in (one per hop).
    pub holds: u64,
    /// Holds ended by a log of the pool from a later block (the route landed or someone else
    /// moved the pool).
    pub holds_released: u64,
    /// Holds ended by the head `hold_blocks` after their route without such a log.
    pub holds_expired: u64,
    /// Holds ended because their route's transaction will not land (`RouteEnded` frames:
    /// refused, replaced, its nonce used by another, never written); their pools' next logs
    /// price them at the tables' state again.
    pub holds_dropped: u64,
    /// Holds cut short because their route's transaction was mined (it landed or reverted):
    /// they end two blocks after the newest seen, once its block's logs are in.
    pub holds_mined: u64,
    /// Holds ended because their route's receipt says it reverted: it moved no pool, so its
    /// pools are priced at the tables' state at once.
    pub holds_reverted: u64,
    /// Holds of a route stacked on an earlier pending one kept through that one's log: the log
    /// left the pool exactly where the earlier route was to leave it.
    pub holds_stacked_kept: u64,
    /// `RouteEnded` frames whose route held no pool any more (or never did).
    pub route_ends_unheld: u64,
    /// Cycles priced with at least one pool at a pending route's expected state: what was held
    /// back from being sent again at the tables' state.
    pub in_flight_priced: u64,
    /// Cycles left out because a pool of theirs is held by a route made from the same block
    /// (`chain_routes` off).
    pub same_block_held: u64,
    /// Touched pools left for a later batch because this batch's routes buffer was full.
    pub deferred: u64,
    /// Logs refused for a block more than `max_blocks_ahead` past the newest head.
    pub future_logs: u64,
    /// Reorgs undone from the journal (a removed log, a head's or a log's block hash): each took
    /// back at least one block or change.
    pub reorgs: u64,
    /// Blocks those reorgs took back.
    pub reorg_blocks: u64,
    /// Journal entries they took back (pool states, ticks, fee models, holds).
    pub reorg_entries: u64,
    /// Reorgs found by block hashes rather than removed logs: a head (or a log) whose block is
    /// another one than the journal's at its height, or a head whose parent is not.
    pub reorg_by_hash: u64,
    /// Of those, heads whose parent was not the block seen at its height: how far back the fork
    /// is could not be known, and the engine undid from the parent's height.
    pub reorg_fork_unknown: u64,
    /// Pools a reorg found by a head left stale: a log without a block hash changed them after
    /// its block's head, and may have been the new chain's.
    pub reorg_doubtful: u64,
    /// Removed logs of blocks older than the journal reaches (or with the journal off): their
    /// pools are marked stale, as a V2 pair until its next `Sync`, else until reloaded.
    pub reorg_beyond_depth: u64,
    /// Times the journal ran out of room and gave up its oldest block early.
    pub reorg_journal_full: u64,
    /// Holds released because the route was made in a block a reorg took back.
    pub holds_reorged: u64,
}

/// The arbitrage engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    tokens: Tokens,
    /// The spec's DEXes, as given (pools index them): for [`Engine::market_spec`].
    dexes: Vec<DexSpec>,
    pools: Pools,
    cycles: Cycles,
    /// Per pool: screen rate upper bounds for `[token0 → token1, token1 → token0]`, refreshed
    /// whenever the pool's state changes.
    rates: Vec<[EdgeRate; 2]>,
    quotes: NativeQuotes,
    /// Per token id: most input a route may take, raw units (the executor's capital).
    capital: Vec<u128>,
    /// Per token id: its flash lenders, `[Balancer, Aave]`.
    loans: Vec<[Option<Loan>; 2]>,
    params: SearchParams,
    snapshot_block: u64,
    /// Base fee of the newest head, wei per gas.
    base_fee: u128,
    /// Newest block time seen on any frame, seconds (0: none yet).
    now: u32,
    /// Recent `(block, time)` pairs seen on frames, newest at `times_next − 1`.
    times: [(u64, u32); BLOCK_TIMES],
    times_next: usize,
    next_seq: u64,
    stats: EngineStats,
    report: BuildReport,
    /// The routes of the current batch (capacity `max_routes · BATCH_ROUTE_POOLS`, reused).
    routes: Vec<OpportunityFrame>,
    /// Pools that routes already made will move, at their moved state, held until the chain
    /// shows the move or the hold expires.
    overlay: Overlay,
    /// A pool whose log, about to be applied, may be an earlier route landing under a stacked
    /// hold ([`Engine::recheck_stacked`]).
    recheck: Option<PoolId>,
    /// Pools the current batch updated, in order of first update (capacity: every pool).
    touched: Vec<PoolId>,
    /// Per pool: the frame of its latest update in the current batch, if any.
    trigger: Vec<Option<Trigger>>,
    /// Newest block number seen on any frame.
    newest_block: u64,
    /// Newest head's block number (the snapshot's before any).
    newest_head: u64,
    /// What undoing the newest `reorg_depth` blocks needs.
    journal: Journal,
    /// The current search's screened candidates (capacity: every rotation of every cycle
    /// through the busiest pool, so pushing never allocates).
    pending: Vec<Pending>,
}

/// A screened candidate waiting to be sized: the cycle as run and its bound.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Position in enumeration order, for a deterministic sort.
    order: u32,
    cycle: Cycle,
    start: TokenId,
    hops: [HopState; MAX_HOPS],
    /// Upper bound on `profit_native − gas_cost`, wei.
    bound_net: u128,
}

/// A flash lender's offer of one token (from [`LenderSpec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loan {
    /// Raw units it can lend.
    available: u128,
    premium: Premium,
    /// As in [`LenderSpec::fee`] and [`LenderSpec::holder`], for [`Engine::market_spec`].
    fee: u64,
    holder: Address,
}

/// One way to fund a sized route: where the input comes from, how much there is, what it
/// costs on top.
#[derive(Clone, Copy, Debug)]
struct Source {
    funding: Funding,
    cap: u128,
    premium: Premium,
    extra_gas: u32,
}

/// The ways `start` may fund a route whose first pool is `first`, indexed by [`Funding`]: own
/// capital always; a flash swap where [`SearchParams::funding`] allows it and the first pool's
/// DEX does ([`DexSpec::flash_swap`]); each lender of `start` that is allowed. A token with no
/// capital listed is not capped (hand-made markets): nothing can beat own capital then, so it
/// is the only source.
fn sources(
    params: &SearchParams,
    capital: &[u128],
    loans: &[[Option<Loan>; 2]],
    dexes: &[DexSpec],
    pools: &Pools,
    start: TokenId,
    first: PoolId,
) -> [Option<Source>; 4] {
    let cap = capital.get(start as usize).copied().unwrap_or(0);
    let mut out = [None; 4];
    out[Funding::Capital as usize] = Some(Source {
        funding: Funding::Capital,
        cap,
        premium: Premium::None,
        extra_gas: 0,
    });
    if cap == u128::MAX {
        return out;
    }
    let allowed = params.funding;
    if allowed.contains(Funding::FlashSwap)
        && pools
            .dex(first)
            .and_then(|d| dexes.get(usize::from(d)))
            .is_some_and(|d| d.flash_swap)
    {
        out[Funding::FlashSwap as usize] = Some(Source {
            funding: Funding::FlashSwap,
            cap: u128::MAX,
            premium: Premium::None,
            extra_gas: params.gas.funding(Funding::FlashSwap),
        });
    }
    for (slot, f) in [Funding::Balancer, Funding::Aave].into_iter().enumerate() {
        if allowed.contains(f)
            && let Some(l) = loans.get(start as usize).and_then(|l| l[slot])
        {
            out[f as usize] = Some(Source {
                funding: f,
                cap: l.available,
                premium: l.premium,
                extra_gas: params.gas.funding(f),
            });
        }
    }
    out
}

/// A sized, valued route that clears the threshold.
#[derive(Clone, Copy, Debug)]
struct Best {
    /// The cycle as run: rotated so hop 0 takes the start token.
    cycle: Cycle,
    /// Its hops' states, in `cycle`'s order.
    hops: [HopState; MAX_HOPS],
    start: TokenId,
    sizing: Sizing,
    funding: Funding,
    /// The lender's premium on the input, raw start-token units (`sizing.profit` is net of it).
    premium: u128,
    profit_native: u128,
    gas_cost: u128,
    gas_budget: u32,
    net: u128,
}

/// The frame that last updated a pool in the current batch: what its routes report as their
/// trigger (receive time for latency, block and log index).
#[derive(Clone, Copy, Debug)]
struct Trigger {
    recv_ns: u64,
    block: u64,
    log_index: u32,
}

/// Hypothetical pool states after the routes already made: the search prices held pools
/// there, so a second route is genuinely new profit that would still hold if the first lands
/// (transactions from one sender execute in nonce order), and a gap is not sent twice while its
/// first transaction is pending. The tables themselves only ever hold what logs say.
#[derive(Debug, Default)]
struct Overlay {
    /// Per pool id.
    slot: Vec<Option<Held>>,
    /// Pools with a slot, for expiry (capacity: every pool).
    active: Vec<PoolId>,
}

/// A pool a pending route will move.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    moved: Moved,
    /// The route's opportunity `seq` (what `RouteEnded` frames name).
    seq: u64,
    /// Newest block seen when the route was made: a log of the pool from a later block ends
    /// the hold.
    made_at: u64,
    /// A head at or after this block ends the hold.
    until: u64,
    /// Where an earlier pending route held the pool when this one was made: the state this
    /// route was priced from (that route's expected state). A log that leaves the pool exactly
    /// there is the earlier route landing as predicted, not a reason to end this hold.
    from: Option<Moved>,
}

/// A pool's pricing state as a route leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moved {
    /// `(reserve0, reserve1)`, raw units.
    V2(u128, u128),
    /// Price, tick and liquidity after the route's swap (ticks do not move).
    Cl(ClState),
}

impl Overlay {
    fn new(pools: usize) -> Self {
        Self {
            slot: vec![None; pools],
            active: Vec::with_capacity(pools),
        }
    }

    fn get(&self, p: PoolId) -> Option<Moved> {
        self.held(p).map(|h| h.moved)
    }

    fn held(&self, p: PoolId) -> Option<Held> {
        self.slot.get(p as usize).copied().flatten()
    }

    /// Holds pool `p`; the hold it replaces, if any.
    fn set(&mut self, p: PoolId, held: Held) -> Option<Held> {
        let s = self.slot.get_mut(p as usize)?;
        if s.is_none() {
            self.active.push(p);
        }
        s.replace(held)
    }

    /// Ends pool `p`'s hold; true if it had one.
    fn release(&mut self, p: PoolId) -> bool {
        match self.slot.get_mut(p as usize) {
            Some(s @ Some(_)) => {
                *s = None;
                self.active.retain(|&q| q != p);
                true
            }
            _ => false,
        }
    }

    /// Ends every hold due by the head of `block`, handing each to `ended`; how many.
    fn expire(&mut self, block: u64, mut ended: impl FnMut(PoolId, Held)) -> u64 {
        let slot = &mut self.slot;
        let before = self.active.len();
        self.active.retain(|&p| match slot.get_mut(p as usize) {
            Some(s) if s.is_some_and(|h| h.until <= block) => {
                if let Some(h) = s.take() {
                    ended(p, h);
                }
                false
            }
            _ => true,
        });
        (before - self.active.len()) as u64
    }

    /// Ends the holds of route `seq`; how many.
    fn release_route(&mut self, seq: u64) -> u64 {
        let slot = &mut self.slot;
        let before = self.active.len();
        self.active.retain(|&p| match slot.get_mut(p as usize) {
            Some(s) if s.is_some_and(|h| h.seq == seq) => {
                *s = None;
                false
            }
            _ => true,
        });
        (before - self.active.len()) as u64
    }

    /// Ends route `seq`'s holds by the head of `until` at the latest; how many it holds.
    fn shorten_route(&mut self, seq: u64, until: u64) -> u64 {
        let mut n = 0;
        for &p in &self.active {
            if let Some(Some(h)) = self.slot.get_mut(p as usize)
                && h.seq == seq
            {
                h.until = h.until.min(until);
                n += 1;
            }
        }
        n
    }

    /// Ends every hold of a route made at `block` or later; how many.
    fn release_made_since(&mut self, block: u64) -> u64 {
        let slot = &mut self.slot;
        let before = self.active.len();
        self.active.retain(|&p| match slot.get_mut(p as usize) {
            Some(s) if s.is_some_and(|h| h.made_at >= block) => {
                *s = None;
                false
            }
            _ => true,
        });
        (before - self.active.len()) as u64
    }

    /// Moves the pools of `b`'s route as executing it would: a V2 pair takes the hop's input
    /// and gives its output; a concentrated pool ends where its exact swap ends. Held from
    /// `made_at` until the head of `until`. A hold it replaces goes to `ended`.
    fn apply(
        &mut self,
        pools: &Pools,
        b: &Best,
        seq: u64,
        made_at: u64,
        until: u64,
        mut ended: impl FnMut(PoolId, Held),
    ) -> u64 {
        let n = usize::from(b.cycle.len).min(MAX_HOPS);
        let Some(run) = simulate(pools, &b.hops[..n], b.sizing.amount_in) else {
            return 0;
        };
        let mut amount_in = b.sizing.amount_in;
        let mut held = 0;
        for (i, &p) in b.cycle.pools().iter().enumerate() {
            let out = run.outs[i];
            let moved = match b.hops[i] {
                HopState::V2(h) => {
                    let r_in = h.reserve_in.saturating_add(amount_in);
                    let r_out = h.reserve_out.saturating_sub(out);
                    Some(if b.cycle.zero_for_one(i) {
                        Moved::V2(r_in, r_out)
                    } else {
                        Moved::V2(r_out, r_in)
                    })
                }
                HopState::Cl(_) => run.after[i].map(Moved::Cl),
            };
            if let Some(moved) = moved {
                let from = self.get(p);
                let old = self.set(
                    p,
                    Held {
                        moved,
                        seq,
                        made_at,
                        until,
                        from,
                    },
                );
                if let Some(h) = old {
                    ended(p, h);
                }
                held += 1;
            }
            amount_in = out;
        }
        held
    }
}

impl Engine {
    /// Builds tables, cycles and screen rates from a market snapshot.
    pub fn new(spec: &MarketSpec, params: SearchParams) -> Result<Self, BuildError> {
        let (tokens, pools, pools_dropped) = build_tables(spec)?;
        let n_pools = pools.len();
        let native = tokens
            .id(&params.native)
            .ok_or(BuildError::UnknownNative(params.native))?;
        if params.start_tokens.is_empty() {
            return Err(BuildError::NoStartTokens);
        }
        let mut starts: Vec<TokenId> = Vec::with_capacity(params.start_tokens.len());
        for a in &params.start_tokens {
            let id = tokens.id(a).ok_or(BuildError::UnknownStartToken(*a))?;
            if !starts.contains(&id) {
                starts.push(id);
            }
        }
        let index = PairIndex::new(&pools, tokens.len());
        let cycles = enumerate(
            &pools,
            &index,
            &starts,
            tokens.len(),
            params.max_cycles,
            params.max_hops,
        );
        let quotes = NativeQuotes::new(native, tokens.len(), |t| index.pools(t, native));
        let rates = (0..pools.len() as PoolId)
            .map(|p| edge_rates(&pools, p))
            .collect();
        let mut capital = vec![u128::MAX; tokens.len()];
        for c in &spec.capital {
            if let Some(id) = tokens.id(&c.token) {
                capital[id as usize] = c.amount;
            }
        }
        let mut loans = vec![[None; 2]; tokens.len()];
        for l in &spec.lenders {
            let slot = match l.funding {
                Funding::Balancer => 0,
                Funding::Aave => 1,
                Funding::Capital | Funding::FlashSwap => {
                    return Err(BuildError::BadLender(l.token, "it names no lender"));
                }
            };
            let premium = l
                .premium()
                .ok_or(BuildError::BadLender(l.token, "premium above 100 %"))?;
            let id = tokens
                .id(&l.token)
                .ok_or(BuildError::BadLender(l.token, "an unknown token"))?;
            loans[id as usize][slot] = Some(Loan {
                available: l.available,
                premium,
                fee: l.fee,
                holder: l.holder,
            });
        }
        let report = BuildReport {
            pools_dropped,
            cycles: cycles.len(),
            cycles_dropped: cycles.dropped(),
        };
        let max_routes = params.max_routes.max(1);
        let busiest = (0..pools.len() as PoolId)
            .map(|p| cycles.through(p).len())
            .max()
            .unwrap_or(0);
        // Changes start after the newest position any pool was loaded at (a snapshot taken in
        // the middle of a block already holds that block's first logs, which are not
        // journaled).
        let first = (0..pools.len() as PoolId)
            .filter_map(|p| pools.last_applied(p))
            .map(|(b, _)| b)
            .fold(spec.block, u64::max)
            .saturating_add(1);
        let journal = Journal::new(params.reorg_depth, n_pools, pools.modelled().len(), first);
        Ok(Self {
            tokens,
            dexes: spec.dexes.clone(),
            pools,
            cycles,
            rates,
            quotes,
            capital,
            loans,
            params,
            snapshot_block: spec.block,
            base_fee: spec.base_fee,
            now: 0,
            times: [(u64::MAX, 0); BLOCK_TIMES],
            times_next: 0,
            next_seq: 0,
            stats: EngineStats::default(),
            report,
            routes: Vec::with_capacity(max_routes * BATCH_ROUTE_POOLS),
            overlay: Overlay::new(n_pools),
            recheck: None,
            touched: Vec::with_capacity(n_pools),
            trigger: vec![None; n_pools],
            newest_block: spec.block,
            newest_head: spec.block,
            journal,
            pending: Vec::with_capacity(busiest * MAX_HOPS),
        })
    }

    /// Applies one feed frame and returns the opportunities it opened, best first (empty if
    /// none).
    ///
    /// `NewHead` updates the base fee. A frame's block time moves the engine's clock (and
    /// with it the fee each modelled Algebra pool is quoted at). A pool log (`V2Sync`,
    /// `ClSwap`, `ClMint`, `ClBurn`) updates its pool and searches the cycles through it: the
    /// best route, then, with the pools that route uses re-priced as if it had executed, the
    /// next best, up to [`SearchParams::max_routes`]. An `AlgebraFee` replays the pool's
    /// timepoint write and checks its fee, without a search (its transaction's `Swap`, `Mint`
    /// or `Burn` follows). Every frame that fails a check only moves a counter in
    /// [`EngineStats`]. A `RouteEnded` frame ends or shortens the holds of the route it names
    /// ([`Engine::on_route_ended`]). Each
    /// returned frame has `recv_ns`, `block_number` and `log_index` from `f`, `detect_ns = 0`
    /// (the caller stamps it) and the next sequence number. Does not allocate.
    pub fn on_frame(&mut self, f: &FeedFrame) -> &[OpportunityFrame] {
        self.routes.clear();
        self.stats.frames += 1;
        let far = self
            .newest_head
            .saturating_add(self.params.max_blocks_ahead);
        if f.kind == FrameKind::RouteEnded {
            self.on_route_ended(f);
        } else if f.kind == FrameKind::LenderOffer {
            self.on_lender_offer(f);
        } else if !matches!(f.kind, FrameKind::NewHead | FrameKind::Empty) && f.block_number > far {
            // Checked before anything reads the frame: its time and block move nothing.
            self.stats.future_logs += 1;
        } else {
            self.apply(f);
        }
        if f.flags & FLAG_MORE_IN_BATCH == 0 && !self.touched.is_empty() {
            self.search_batch();
        }
        &self.routes
    }

    /// Applies one frame that passed the block bound: the clock, the newest block (and the
    /// holds it expires), then the frame by kind.
    fn apply(&mut self, f: &FeedFrame) {
        if f.removed == 0 && f.kind != FrameKind::Empty {
            self.follow_chain(f);
            // A removed log's time is its dropped block's: it moves no clock.
            self.observe_time(f);
            if f.block_number > self.newest_block {
                self.newest_block = f.block_number;
                // Holds end `hold_blocks` after their route whatever brings the block: a head,
                // or a log when heads are late or missing.
                let Self {
                    overlay,
                    journal,
                    stats,
                    ..
                } = self;
                let expired = overlay.expire(f.block_number, |p, h| {
                    journal.hold(p, f.block_number, h, stats);
                });
                stats.holds_expired += expired;
            }
        }
        match f.kind {
            FrameKind::NewHead => {
                self.stats.heads += 1;
                self.newest_head = self.newest_head.max(f.block_number);
                match f.word_u128(0) {
                    Some(fee) => self.base_fee = fee,
                    None => self.stats.rejected += 1,
                }
            }
            FrameKind::V2Sync => self.on_sync(f),
            FrameKind::ClSwap => self.on_cl_swap(f),
            FrameKind::ClMint | FrameKind::ClBurn => self.on_position(f),
            FrameKind::AlgebraFee => self.on_fee(f),
            FrameKind::Empty => self.stats.other += 1,
            // Taken before `apply`: it carries no block.
            FrameKind::RouteEnded | FrameKind::LenderOffer => {}
        }
    }

    /// What a flash lender can lend now (the live edge reads it every few seconds): the offer's
    /// `available` changes, nothing else; no search runs on it (the next log's search uses
    /// it). An offer for a token or lender the engine was not built with is counted in
    /// `rejected`: lenders come from the market spec only.
    fn on_lender_offer(&mut self, f: &FeedFrame) {
        let slot = match Funding::from_u8(f.words[1][31]) {
            Some(Funding::Balancer) => 0,
            Some(Funding::Aave) => 1,
            _ => {
                self.stats.rejected += 1;
                return;
            }
        };
        let token = Address::from(f.address);
        let offer = self
            .tokens
            .id(&token)
            .and_then(|t| self.loans.get_mut(t as usize))
            .and_then(|l| l[slot].as_mut());
        let Some(offer) = offer else {
            self.stats.rejected += 1;
            return;
        };
        let word = &f.words[0];
        offer.available = if word[..16].iter().any(|&b| b != 0) {
            u128::MAX
        } else {
            let mut low = [0u8; 16];
            low.copy_from_slice(&word[16..]);
            u128::from_be_bytes(low)
        };
        self.stats.lender_updates += 1;
    }

    /// The live edge's word on a sent route's transaction. Dropped (it will not land): the
    /// route's holds end now, and the next log of a pool of its prices the pool at the tables'
    /// state again, where the gap it was sent for may still be open. No search runs on the word
    /// itself: a refusal that would repeat (no funds for gas, a fee cap under the base fee)
    /// would otherwise send the same route again at once, over and over. Mined (landed or
    /// reverted): a landed route's own logs release its pools; a reverted one's never come, so
    /// its holds end two blocks after the newest seen, by when the mined block's logs are in
    /// (its logs may still be on their way when the count that showed it mined arrives).
    /// Reverted (its receipt, read off the hot path): the holds end now, as for a dropped one,
    /// and again without a search (a revert that would repeat, a paused executor, would
    /// otherwise be sent again at once).
    fn on_route_ended(&mut self, f: &FeedFrame) {
        let seq = u64::from_be_bytes(f.words[0][24..].try_into().unwrap_or([0; 8]));
        let held = if f.words[1][31] == crate::ROUTE_MINED {
            let n = self
                .overlay
                .shorten_route(seq, self.newest_block.saturating_add(2));
            self.stats.holds_mined += n;
            n
        } else if f.words[1][31] == crate::ROUTE_REVERTED {
            // The receipt says reverted: nothing it would have moved moved. Without this word
            // the pools stay priced at the state it would have left for two more blocks, and
            // every route found over them meanwhile reverts too.
            let n = self.overlay.release_route(seq);
            self.stats.holds_reverted += n;
            n
        } else {
            // Not journaled: a reorg does not bring back a transaction the node refused.
            let n = self.overlay.release_route(seq);
            self.stats.holds_dropped += n;
            n
        };
        if held == 0 {
            self.stats.route_ends_unheld += 1;
        }
    }

    /// The checks every pool log passes before it is applied, in order: a known pool
    /// (`unknown_pool`), of a kind that emits this event (`rejected`), not removed (a removed
    /// log marks the pool stale, for good if `removed_needs_reload`: `removed`), after the
    /// snapshot and after the pool's last applied log (`stale_skipped`). The pool's id if the
    /// log is to be applied.
    fn pool_log(
        &mut self,
        f: &FeedFrame,
        kind_ok: fn(PoolKind) -> bool,
        removed_needs_reload: bool,
    ) -> Option<PoolId> {
        let Some(id) = self.pools.id(&Address::from(f.address)) else {
            self.stats.unknown_pool += 1;
            return None;
        };
        if !self.pools.kind(id).is_some_and(kind_ok) {
            // An event this pool's kind does not emit: a lookalike, not a state update.
            self.stats.rejected += 1;
            return None;
        }
        if f.removed != 0 {
            self.stats.removed += 1;
            self.on_removed(f, id, removed_needs_reload);
            return None;
        }
        self.journal.note_log(id, f.block_number, f.block_tag);
        let last = self.pools.last_applied(id)?;
        if f.block_number <= self.snapshot_block || (f.block_number, f.log_index) <= last {
            self.stats.stale_skipped += 1;
            return None;
        }
        // What a reorg of this block would have to put back.
        self.journal
            .touch(&self.pools, id, f.block_number, &mut self.stats);
        // The chain moved the pool after a route held it: the route landed, or someone else
        // got there first. Either way its state comes from logs again. Unless the route was
        // stacked on an earlier pending one: then the log may be that one landing, which
        // [`Engine::updated`] tells once the log is applied.
        self.recheck = None;
        if let Some(h) = self.overlay.held(id).filter(|h| f.block_number > h.made_at) {
            if h.from.is_some() {
                self.recheck = Some(id);
            } else {
                self.overlay.release(id);
                self.journal.hold(id, f.block_number, h, &mut self.stats);
                self.stats.holds_released += 1;
            }
        }
        Some(id)
    }

    /// After a log of pool `id` is applied: a hold stacked on an earlier route's expected state
    /// stays if the pool is now exactly there (the earlier route landed as predicted; this one
    /// is still pending on top of it), and is priced from the chain from now on; any other
    /// state ends it, as any log from a later block ends an unstacked hold.
    fn recheck_stacked(&mut self, id: PoolId, block: u64) {
        if self.recheck.take() != Some(id) {
            return;
        }
        let Some(h) = self.overlay.held(id) else {
            return;
        };
        let now = match self.pools.cl(id) {
            None => self.pools.reserves(id).map(|(r0, r1)| Moved::V2(r0, r1)),
            Some(v) => Some(Moved::Cl(v.state)),
        };
        // What a reorg of this block would have to put back: the hold as it was.
        self.journal.hold(id, block, h, &mut self.stats);
        if now.is_some() && now == h.from {
            self.overlay.set(
                id,
                Held {
                    made_at: block,
                    from: None,
                    ..h
                },
            );
            self.stats.holds_stacked_kept += 1;
        } else {
            self.overlay.release(id);
            self.stats.holds_released += 1;
        }
    }

    /// A removed log of pool `id`: its block and every later one are no longer the chain's.
    /// Undone from the journal; a block older than the journal reaches marks the pool stale, as
    /// the log's kind allows (for good with `needs_reload`: a removed Mint, Burn or Fee).
    fn on_removed(&mut self, f: &FeedFrame, id: PoolId, needs_reload: bool) {
        match self.journal.removed(f.block_number, f.block_tag) {
            Removal::Undo(from) => self.undo(from, f, false),
            Removal::AlreadyUndone => {}
            Removal::Beyond => {
                self.stats.reorg_beyond_depth += 1;
                // Every block the journal holds is after it: of the old chain too.
                if let Some(from) = self.journal.beyond_undo_from() {
                    self.undo(from, f, false);
                }
                // Our state may now come from a block that is no longer canonical. The fork is
                // at or before the oldest such removed block seen since the last head (removed
                // logs may come newest first): every pool marked so goes back before it, so the
                // new chain's logs from there on are applied, not skipped as already seen.
                let (low, lowered) = self.journal.note_beyond(id, f.block_number);
                self.pools.mark_removed(id, low, needs_reload);
                if lowered {
                    for k in 0..self.journal.beyond_pools().len() {
                        if let Some(&p) = self.journal.beyond_pools().get(k) {
                            // Staleness only rises: this moves the pool's position back.
                            self.pools.mark_removed(p, low, false);
                        }
                    }
                }
                let stale = if needs_reload {
                    Staleness::NeedsReload
                } else {
                    Staleness::UntilNextState
                };
                let at = (low.saturating_sub(1), u32::MAX);
                self.journal.taint(id, stale, at);
                // An Algebra pool's writes and volume cannot be undone from logs.
                if self.pools.fee_model(id).is_some() {
                    self.lose_fee_model(id);
                }
            }
        }
    }

    /// Before a frame of the chain is applied: whether its block hash (a head's hash and
    /// parent, a log's tag) shows that the journal holds blocks of another chain, undoing them
    /// if so; then the frame's block is opened in the journal.
    fn follow_chain(&mut self, f: &FeedFrame) {
        let head = (f.kind == FrameKind::NewHead).then_some((f.words[2], f.words[3]));
        let tag = match &head {
            Some((hash, _)) => block_tag(hash),
            None => f.block_tag,
        };
        let check = self
            .journal
            .check(f.block_number, tag, head.as_ref().map(|(h, p)| (h, p)));
        if head.is_some() {
            self.journal.head_seen();
        }
        match check {
            Check::Same => {}
            Check::Replaced(from) => {
                self.stats.reorg_by_hash += 1;
                self.undo(from, f, true);
            }
            Check::ForkUnknown(from) => {
                self.stats.reorg_by_hash += 1;
                self.stats.reorg_fork_unknown += 1;
                self.undo(from, f, true);
            }
        }
        let clock = Clock {
            now: self.now,
            base_fee: self.base_fee,
            newest_block: self.newest_block,
            newest_head: self.newest_head,
        };
        let hash = head.as_ref().map(|(h, _)| h);
        self.journal
            .begin(f.block_number, tag, hash, clock, &mut self.stats);
    }

    /// Undoes every journaled change of block `from` and later (a reorg, found by frame `f`):
    /// the pools, ticks, fee models and holds as at the end of block `from − 1`, the engine's
    /// clock as before block `from`; holds of routes made since are released. The pools it
    /// changed are searched at the batch's end. `by_hash`: found by a block hash, not a removed
    /// log; then a pool a hashless log changed after its block's head is left stale (that log
    /// may have been the new chain's, and will not come again).
    fn undo(&mut self, from: u64, f: &FeedFrame, by_hash: bool) {
        let from = from.max(self.journal.floor());
        let released = self.overlay.release_made_since(from);
        let Self {
            journal,
            pools,
            overlay,
            ..
        } = self;
        let undone = journal.undo(from, pools, |p, held| {
            if held.made_at < from {
                overlay.set(p, held);
            }
        });
        self.stats.holds_reorged += released;
        if undone.blocks == 0 && undone.entries == 0 {
            return;
        }
        self.stats.reorgs += 1;
        self.stats.reorg_blocks += undone.blocks;
        self.stats.reorg_entries += undone.entries;
        if let Some(c) = undone.clock {
            self.now = c.now;
            self.base_fee = c.base_fee;
            self.newest_block = c.newest_block;
            self.newest_head = c.newest_head;
        }
        for t in &mut self.times {
            if t.0 >= from && t.0 != u64::MAX {
                *t = (u64::MAX, 0);
            }
        }
        if by_hash {
            for k in 0..self.journal.doubtful().len() {
                let Some(&id) = self.journal.doubtful().get(k) else {
                    break;
                };
                let concentrated = self.pools.kind(id).is_some_and(PoolKind::is_concentrated);
                self.pools.mark_removed(id, from, concentrated);
                if self.pools.fee_model(id).is_some() {
                    self.lose_fee_model(id);
                }
                self.stats.reorg_doubtful += 1;
            }
        }
        let trigger = Trigger {
            recv_ns: f.recv_ns,
            block: f.block_number,
            log_index: f.log_index,
        };
        for k in 0..self.journal.changed().len() {
            let Some(&id) = self.journal.changed().get(k) else {
                break;
            };
            self.pools.refresh_liquidity_max(id);
            self.refresh_rates(id);
            self.touch(id, trigger);
        }
        // The clock went back: every modelled pool is quoted for the block after it again.
        for k in 0..self.pools.modelled().len() {
            if let Some(&id) = self.pools.modelled().get(k) {
                self.refresh_quote(id);
            }
        }
    }

    fn on_sync(&mut self, f: &FeedFrame) {
        self.stats.syncs += 1;
        let Some(id) = self.pool_log(f, |k| k == PoolKind::UniswapV2, false) else {
            return;
        };
        let (Some(r0), Some(r1)) = (f.word_u128(0), f.word_u128(1)) else {
            self.stats.rejected += 1;
            return;
        };
        if r0 > U112_MAX || r1 > U112_MAX {
            self.stats.rejected += 1;
            return;
        }
        self.pools.apply(id, r0, r1, f.block_number, f.log_index);
        self.updated(f, id);
    }

    fn on_cl_swap(&mut self, f: &FeedFrame) {
        self.stats.cl_swaps += 1;
        let Some(id) = self.pool_log(f, PoolKind::is_concentrated, false) else {
            return;
        };
        let price = U256::from_be_bytes(f.words[0]);
        let Some(liquidity) = f.word_u128(1) else {
            self.stats.rejected += 1;
            return;
        };
        let tick = f.tick;
        if !(MIN_TICK..=MAX_TICK).contains(&tick)
            || price < MIN_SQRT_RATIO
            || price >= MAX_SQRT_RATIO
            || !tick_holds_price(tick, price)
        {
            self.stats.rejected += 1;
            return;
        }
        self.pools
            .apply_cl_swap(id, price, liquidity, tick, f.block_number, f.log_index);
        let time = self.frame_time(f);
        if let Some(model) = self.pools.fee_model_mut(id) {
            let amount0 = I256::from_be_bytes(f.words[2]);
            let amount1 = I256::from_be_bytes(f.words[3]);
            if model
                .on_swap(f.block_number, time, liquidity, amount0, amount1)
                .is_err()
            {
                self.lose_fee_model(id);
            }
            self.refresh_quote(id);
        }
        if self.pools.staleness(id) == Staleness::NeedsReload {
            // The price left the loaded tick window: the pool cannot be priced exactly.
            self.stats.out_of_window += 1;
            return;
        }
        self.updated(f, id);
    }

    fn on_position(&mut self, f: &FeedFrame) {
        self.stats.positions += 1;
        let Some(id) = self.pool_log(f, PoolKind::is_concentrated, true) else {
            return;
        };
        let (Some(lower), Some(upper), Some(amount)) =
            (f.word_i24(0), f.word_i24(1), f.word_u128(2))
        else {
            self.stats.rejected += 1;
            return;
        };
        let mint = f.kind == FrameKind::ClMint;
        let before = [
            (lower, self.pools.tick_before(id, lower)),
            (upper, self.pools.tick_before(id, upper)),
        ];
        match self.pools.apply_cl_position(
            id,
            mint,
            lower,
            upper,
            amount,
            f.block_number,
            f.log_index,
        ) {
            Ok(change) => {
                for (tick, b) in before {
                    if let Some(b) = b {
                        self.journal
                            .tick(id, f.block_number, tick, b, &mut self.stats);
                    }
                }
                if change.active_changed && amount > 0 {
                    let time = self.frame_time(f);
                    if let Some(model) = self.pools.fee_model_mut(id) {
                        if model.on_active_position(f.block_number, time).is_err() {
                            self.lose_fee_model(id);
                        }
                        self.refresh_quote(id);
                    }
                }
                self.updated(f, id)
            }
            // The tick columns refused it (an uninitialized tick burned, a range off the
            // spacing, full storage): the pool is left for a reload, never priced wrong.
            Err(_) => self.stats.tick_errors += 1,
        }
    }

    fn on_fee(&mut self, f: &FeedFrame) {
        self.stats.fees += 1;
        let Some(id) = self.pool_log(f, |k| k == PoolKind::Algebra, true) else {
            return;
        };
        let Some(fee) = f.word_u128(0).and_then(|v| u16::try_from(v).ok()) else {
            self.stats.rejected += 1;
            return;
        };
        // The tables hold the tick and liquidity from before the transaction that wrote the
        // timepoint: its Swap, Mint or Burn comes after this log.
        let time = self.frame_time(f);
        let before = self.pools.tick_liquidity(id);
        if let (Some(model), Some((tick, liquidity))) = (self.pools.fee_model_mut(id), before) {
            match model.on_fee(f.block_number, time, tick, liquidity, fee) {
                Ok(FeeWrite::Checked) => self.stats.fee_checked += 1,
                Ok(FeeWrite::Waiting) => {}
                Err(_) => self.lose_fee_model(id),
            }
        }
        self.pools
            .apply_fee(id, u32::from(fee), f.block_number, f.log_index);
        self.refresh_quote(id);
        // No search here: the Swap, Mint or Burn that made the pool write comes next in the
        // same transaction, and until it does the tables hold a state the chain never rests in.
        self.refresh_rates(id);
        self.stats.applied += 1;
    }

    /// Notes the frame's block time: remembers it for logs of that block that come without
    /// one, replays the timepoint writes that waited for it, and when time moves forward
    /// re-quotes every modelled Algebra pool for the block after it.
    fn observe_time(&mut self, f: &FeedFrame) {
        let Ok(time) = u32::try_from(f.block_time) else {
            return;
        };
        if time == 0 {
            return;
        }
        let newest = self.times[(self.times_next + BLOCK_TIMES - 1) % BLOCK_TIMES];
        if newest != (f.block_number, time) && !self.times.contains(&(f.block_number, time)) {
            self.times[self.times_next] = (f.block_number, time);
            self.times_next = (self.times_next + 1) % BLOCK_TIMES;
            for k in 0..self.pools.modelled().len() {
                let Some(&id) = self.pools.modelled().get(k) else {
                    break;
                };
                let resolved = self
                    .pools
                    .fee_model_mut(id)
                    .map(|m| m.on_block_time(f.block_number, time));
                match resolved {
                    Some(Ok(true)) => {
                        self.stats.fee_checked += 1;
                        self.refresh_quote(id);
                    }
                    Some(Err(_)) => self.lose_fee_model(id),
                    _ => {}
                }
            }
        }
        if time > self.now {
            self.now = time;
            for k in 0..self.pools.modelled().len() {
                if let Some(&id) = self.pools.modelled().get(k) {
                    self.refresh_quote(id);
                }
            }
        }
    }

    /// The timestamp of `f`'s block: its own, or one remembered from another frame of it.
    fn frame_time(&self, f: &FeedFrame) -> Option<u32> {
        let own = u32::try_from(f.block_time).ok().filter(|&t| t != 0);
        own.or_else(|| {
            self.times
                .iter()
                .find(|&&(b, _)| b == f.block_number)
                .map(|&(_, t)| t)
        })
    }

    /// Re-quotes a modelled Algebra pool for the block after the newest block time seen.
    fn refresh_quote(&mut self, id: PoolId) {
        let next = (self.now != 0).then(|| self.now.saturating_add(self.params.block_time_s));
        if self.pools.refresh_quote(id, next).is_err()
            || self.pools.quote_fee(id) == Some(QUOTE_UNKNOWN)
        {
            self.stats.fee_unknown += 1;
        }
        self.refresh_rates(id);
    }

    /// Recomputes pool `id`'s screen rates from the tables.
    fn refresh_rates(&mut self, id: PoolId) {
        if let Some(slot) = self.rates.get_mut(id as usize) {
            *slot = edge_rates(&self.pools, id);
        }
    }

    /// An Algebra pool's fee model failed: count it; the pool leaves the search.
    fn lose_fee_model(&mut self, id: PoolId) {
        self.pools.lose_fee_model(id);
        self.stats.fee_models_lost += 1;
    }

    /// After pool `id`'s state changed: refresh its screen rates, count it, and search the
    /// cycles through it for up to `max_routes` routes.
    fn updated(&mut self, f: &FeedFrame, id: PoolId) {
        self.recheck_stacked(id, f.block_number);
        self.refresh_rates(id);
        self.stats.applied += 1;
        self.touch(
            id,
            Trigger {
                recv_ns: f.recv_ns,
                block: f.block_number,
                log_index: f.log_index,
            },
        );
    }

    /// Notes pool `id` for the batch's search, with what its routes report as their trigger.
    fn touch(&mut self, id: PoolId, t: Trigger) {
        let Some(slot) = self.trigger.get_mut(id as usize) else {
            return;
        };
        match slot {
            Some(_) => self.stats.coalesced += 1,
            None => self.touched.push(id),
        }
        *slot = Some(t);
    }

    /// The end of a batch: searches the cycles through every pool it touched, once each, at
    /// the state after the whole batch, for up to `max_routes` routes a pool (each later
    /// route priced with the pools of the earlier ones moved, and held).
    fn search_batch(&mut self) {
        let routes_cap = self.routes.capacity();
        let mut k = 0;
        while k < self.touched.len() {
            let id = self.touched[k];
            k += 1;
            if self.routes.len() + self.params.max_routes.max(1) > routes_cap {
                // Full: keep the rest touched for the next batch.
                self.stats.deferred += (self.touched.len() - k + 1) as u64;
                self.touched.drain(..k - 1);
                return;
            }
            let Some(t) = self.trigger.get_mut(id as usize).and_then(Option::take) else {
                continue;
            };
            self.stats.searches += 1;
            for _ in 0..self.params.max_routes.max(1) {
                let Some(best) = self.search(id) else {
                    break;
                };
                self.stats.opportunities += 1;
                self.stats.funded[best.funding as usize] += 1;
                let frame = self.frame(&t, &best);
                let seq = frame.seq;
                self.routes.push(frame);
                let until = self
                    .newest_block
                    .saturating_add(self.params.hold_blocks.max(1));
                let Self {
                    overlay,
                    pools,
                    journal,
                    stats,
                    newest_block,
                    ..
                } = self;
                let made_at = *newest_block;
                stats.holds += overlay.apply(pools, &best, seq, made_at, until, |p, h| {
                    // A hold of this block's own routes needs no undo: an undo of the block
                    // releases its holds.
                    if h.made_at < made_at {
                        journal.hold(p, made_at, h, stats);
                    }
                });
            }
        }
        self.touched.clear();
    }

    /// Finds the best route through `pool` against the tables moved by the overlay: every
    /// cycle through it, from every start token it may be borrowed in.
    ///
    /// Branch and bound: each candidate (cycle, rotation) that passes the screen gets a cheap
    /// upper bound on its net value ([`profit_bound`] valued in native, minus gas); candidates
    /// are sized exactly in descending bound order until the next bound cannot beat the best
    /// found. The bound is a true upper bound, so this returns what sizing them all would.
    ///
    /// Each candidate is sized once per funding source it may use ([`Engine::sources`]): the
    /// cap, premium and extra gas differ, so the input and the net value do; it keeps the
    /// source with the most net value (ties: the cheaper source in [`Funding`] order).
    fn search(&mut self, pool: PoolId) -> Option<Best> {
        let Self {
            pools,
            cycles,
            rates,
            quotes,
            capital,
            loans,
            dexes,
            params,
            base_fee,
            stats,
            overlay,
            pending,
            newest_block,
            ..
        } = self;
        pending.clear();
        // Wei per gas the route is budgeted at.
        let fee_per_gas = base_fee.saturating_add(params.tip_wei);
        for &cid in cycles.through(pool) {
            let Some(&cycle) = cycles.get(cid) else {
                continue;
            };
            let n = cycle.pools().len();
            let mut hops = [HopState::default(); MAX_HOPS];
            let mut edge = [EdgeRate::ZERO; MAX_HOPS];
            let mut usable = true;
            for (i, &p) in cycle.pools().iter().enumerate() {
                let zfo = cycle.zero_for_one(i);
                match hop_state(pools, overlay, rates, p, zfo) {
                    Some((h, e)) => (hops[i], edge[i]) = (h, e),
                    None => {
                        usable = false;
                        break;
                    }
                }
            }
            if !usable {
                stats.stale_cycles += 1;
                continue;
            }
            if !params.chain_routes
                && cycle
                    .pools()
                    .iter()
                    .any(|&p| overlay.held(p).is_some_and(|h| h.made_at >= *newest_block))
            {
                stats.same_block_held += 1;
                continue;
            }
            stats.screened += 1;
            if cycle.pools().iter().any(|&p| overlay.get(p).is_some()) {
                stats.in_flight_priced += 1;
            }
            // The marginal-rate product is the same from every rotation: screen once.
            if !screen(&edge[..n]) {
                continue;
            }
            // Gas before ticks crossed: the least the route can cost, so the bound stays a bound.
            let gas_budget = params.gas.budget(
                cycle
                    .pools()
                    .iter()
                    .map(|&p| (pools.kind(p).unwrap_or_default(), 0)),
            );
            let gas_cost = u128::from(gas_budget).saturating_mul(fee_per_gas);
            let bar = gas_cost.saturating_add(params.min_profit_native);
            for r in (0..n).filter(|&r| cycle.rotations >> r & 1 == 1) {
                let run = cycle.rotated(r);
                let mut rhops = [HopState::default(); MAX_HOPS];
                for (k, slot) in rhops.iter_mut().enumerate().take(n) {
                    *slot = hops[(r + k) % n];
                }
                let Some(start) = input_token(pools, &run, 0) else {
                    continue;
                };
                // Valuation is monotone in the amount, so this bounds the native value. The
                // largest input any source could fund bounds the profit (premiums only lower
                // it).
                let cap = sources(params, capital, loans, dexes, pools, start, run.pools()[0])
                    .iter()
                    .flatten()
                    .map(|s| s.cap)
                    .max()
                    .unwrap_or(0);
                let bound = quotes.value_upper(pools, start, profit_bound(&rhops[..n], cap));
                if bound <= bar {
                    stats.pruned += 1;
                    continue;
                }
                // Preallocated for every rotation of every cycle through the busiest pool.
                let order = pending.len() as u32;
                pending.push(Pending {
                    order,
                    cycle: run,
                    start,
                    hops: rhops,
                    bound_net: bound - gas_cost,
                });
            }
        }
        // Highest bound first, ties in enumeration order (an unstable sort does not allocate;
        // `order` makes it deterministic).
        pending.sort_unstable_by(|a, b| b.bound_net.cmp(&a.bound_net).then(a.order.cmp(&b.order)));
        let mut best: Option<Best> = None;
        for (i, c) in pending.iter().enumerate() {
            if best.is_some_and(|b| c.bound_net <= b.net) {
                stats.pruned += (pending.len() - i) as u64;
                break;
            }
            let n = usize::from(c.cycle.len);
            stats.sized += 1;
            // Net of gas in native wei for a gross profit and the ticks its run crosses.
            let mut hop_kinds = [PoolKind::default(); MAX_HOPS];
            for (k, &p) in hop_kinds.iter_mut().zip(c.cycle.pools()) {
                *k = pools.kind(p).unwrap_or_default();
            }
            let gas_for = |ticks: &[u16; MAX_HOPS], extra: u32| {
                let budget = params
                    .gas
                    .budget(hop_kinds[..n].iter().zip(ticks).map(|(&k, &t)| (k, t)))
                    .saturating_add(extra);
                (budget, u128::from(budget).saturating_mul(fee_per_gas))
            };
            let options = sources(
                params,
                capital,
                loans,
                dexes,
                pools,
                c.start,
                c.cycle.pools()[0],
            );
            let mut chosen: Option<(Sizing, Source, i128, bool)> = None;
            let (mut profitable, mut worth) = (false, false);
            for src in options.iter().flatten() {
                let floor = best
                    .map(|b| i128::try_from(b.net).unwrap_or(i128::MAX))
                    .max(chosen.map(|c| c.2));
                let net_of = |profit: u128, ticks: &[u16; MAX_HOPS]| {
                    let value = quotes.value(pools, c.start, profit);
                    let (_, cost) = gas_for(ticks, src.extra_gas);
                    (value > cost.saturating_add(params.min_profit_native))
                        .then(|| i128::try_from(value - cost).unwrap_or(i128::MAX))
                };
                match size_after_cost(pools, &c.hops[..n], src.cap, src.premium, floor, net_of) {
                    SizedAfterCost::Unprofitable => {}
                    SizedAfterCost::BelowCost => profitable = true,
                    SizedAfterCost::Worth {
                        sizing,
                        net,
                        shortened,
                    } => {
                        profitable = true;
                        worth = true;
                        if chosen.is_none_or(|c| net > c.2) {
                            chosen = Some((sizing, *src, net, shortened));
                        }
                    }
                }
            }
            stats.profitable += u64::from(profitable);
            stats.below_threshold += u64::from(profitable && !worth);
            let Some((sizing, src, _, shortened)) = chosen else {
                continue;
            };
            stats.short_of_ticks += u64::from(shortened);
            stats.sized_exact += u64::from(sizing.exact);
            stats.worth_all_v2 +=
                u64::from(c.hops[..n].iter().all(|h| matches!(h, HopState::V2(_))));
            // The ticks each concentrated hop crosses are known: the route's real budget.
            let (gas_budget, gas_cost) = gas_for(&sizing.ticks, src.extra_gas);
            let profit_native = quotes.value(pools, c.start, sizing.profit);
            let net = profit_native - gas_cost;
            if best.is_none_or(|b| net > b.net) {
                best = Some(Best {
                    cycle: c.cycle,
                    hops: c.hops,
                    start: c.start,
                    sizing,
                    funding: src.funding,
                    premium: src.premium.of(sizing.amount_in).unwrap_or(0),
                    profit_native,
                    gas_cost,
                    gas_budget,
                    net,
                });
            }
        }
        best
    }

    fn frame(&mut self, t: &Trigger, b: &Best) -> OpportunityFrame {
        let mut o = OpportunityFrame::EMPTY;
        o.recv_ns = t.recv_ns;
        o.detect_ns = 0;
        o.block_number = t.block;
        o.log_index = t.log_index;
        o.seq = self.next_seq;
        self.next_seq += 1;
        o.amount_in = b.sizing.amount_in;
        o.profit = b.sizing.profit;
        o.profit_native = b.profit_native;
        o.gas_cost_native = b.gas_cost;
        o.base_fee = self.base_fee;
        o.token_in = self
            .tokens
            .address(b.start)
            .unwrap_or_default()
            .into_array();
        o.gas_budget = b.gas_budget;
        o.hop_count = b.cycle.len;
        o.funding = b.funding as u8;
        o.premium = b.premium;
        for (i, (slot, &p)) in o.hops.iter_mut().zip(b.cycle.pools()).enumerate() {
            *slot = Hop {
                amount_out: b.sizing.outs[i],
                pool: self.pools.address(p).unwrap_or_default().into_array(),
                pool_id: p,
                zero_for_one: u8::from(b.cycle.zero_for_one(i)),
                kind: self.pools.kind(p).unwrap_or_default() as u8,
                ticks_crossed: b.sizing.ticks[i],
                _pad: [0; 4],
            };
        }
        o
    }

    /// The engine's confirmed tables as a [`MarketSpec`] that [`Engine::new`] takes back: what
    /// a live run writes as a snapshot to restart from (docs/engine.md, "Export and warm
    /// restart"). Allocates; call it off the hot path, between batches (a batch cut short
    /// keeps its state, but loses its search).
    ///
    /// - `block`: the block before the newest one seen on any frame (not before the snapshot
    ///   the engine was built from): the feed delivers a block's logs before a later block's,
    ///   so every log up to it is applied. Logs of the newest block may still come.
    /// - Each pool: its state in the tables (V2 reserves; price, tick, liquidity, spacing and
    ///   the window's initialized ticks; the current fee; an Algebra pool's fee model as it
    ///   now stands), with [`PoolSpec::last_log`] when its last applied log is in the newest
    ///   block, so a restart skips exactly the logs already applied. What an in-flight route
    ///   holds (the overlay) is never exported.
    /// - A pool out of the search is exported flagged ([`PoolSpec::stale`]), and a restarted
    ///   engine keeps it out the same way. Stricter than the tables in three cases, where a
    ///   restart cannot follow the pool as the running engine would: a concentrated pool
    ///   waiting for its next `Swap` after a removed log (the replacement chain's Mint or Burn
    ///   of an earlier block may not have come yet, and a backfill from `block + 1` would not
    ///   bring it) and an Algebra pool whose fee write waits for its block's time (the write
    ///   is in no timepoint yet) are flagged as needing a reload; a V2 pair with a zero
    ///   reserve (a `Sync` emptied it; snapshots refuse such pairs as never minted) is flagged
    ///   stale until its next `Sync`.
    /// - Tokens, DEXes and capital as built; the base fee of the newest head.
    pub fn market_spec(&self) -> MarketSpec {
        let block = self.snapshot_block.max(self.newest_block.saturating_sub(1));
        let tokens = (0..self.tokens.len() as TokenId)
            .filter_map(|t| {
                Some(TokenSpec {
                    address: self.tokens.address(t)?,
                    symbol: self.tokens.symbol(t)?.to_owned(),
                    decimals: self.tokens.decimals(t)?,
                })
            })
            .collect();
        let pools = (0..self.pools.len() as PoolId)
            .filter_map(|p| self.pool_spec(p, block))
            .collect();
        let capital = self
            .capital
            .iter()
            .zip(0..)
            .filter(|&(&amount, _)| amount != u128::MAX)
            .filter_map(|(&amount, t)| {
                Some(CapitalSpec {
                    token: self.tokens.address(t)?,
                    amount,
                })
            })
            .collect();
        // Discovery's order: every Balancer offer, then every Aave one, by token.
        let mut lenders = Vec::new();
        for (slot, funding) in [Funding::Balancer, Funding::Aave].into_iter().enumerate() {
            for (t, offers) in (0..).zip(&self.loans) {
                if let (Some(l), Some(token)) = (offers[slot], self.tokens.address(t)) {
                    lenders.push(LenderSpec {
                        funding,
                        token,
                        available: l.available,
                        fee: l.fee,
                        holder: l.holder,
                    });
                }
            }
        }
        MarketSpec {
            block,
            base_fee: self.base_fee,
            tokens,
            dexes: self.dexes.clone(),
            pools,
            capital,
            lenders,
        }
    }

    /// The newest block the tables hold logs of (or a head of) whose hash or hash tag the
    /// undo journal knows, for a snapshot to name ([`ChainTip`]); `None` with the journal off
    /// or before any block came.
    pub fn chain_tip(&self) -> Option<crate::ChainTip> {
        let (block, hash, tag) = self.journal.newest_known(self.newest_block)?;
        Some(crate::ChainTip {
            block,
            hash: (hash != [0; 32]).then_some(alloy_primitives::B256::from(hash)),
            tag: (hash == [0; 32] && tag != 0).then_some(tag),
        })
    }

    /// Pool `p` as [`Engine::market_spec`] exports it in a snapshot complete up to `block`.
    fn pool_spec(&self, p: PoolId, block: u64) -> Option<PoolSpec> {
        let pools = &self.pools;
        let (t0, t1) = pools.tokens(p)?;
        let kind = pools.kind(p)?;
        let mut stale = pools.staleness(p);
        let state = match kind {
            PoolKind::UniswapV2 => {
                let (reserve0, reserve1) = pools.reserves(p)?;
                if reserve0 == 0 || reserve1 == 0 {
                    stale = stale.max_by(Staleness::UntilNextState);
                }
                PoolState::UniswapV2 { reserve0, reserve1 }
            }
            PoolKind::UniswapV3 | PoolKind::Algebra => {
                let mut cl = pools.cl_spec(p)?;
                if stale == Staleness::UntilNextState {
                    stale = Staleness::NeedsReload;
                }
                if let Some(model) = pools.fee_model(p) {
                    cl.fee_model = model.to_spec(block);
                    if cl.fee_model.is_none() {
                        stale = Staleness::NeedsReload;
                    }
                }
                if kind == PoolKind::Algebra {
                    PoolState::Algebra(cl)
                } else {
                    PoolState::UniswapV3(cl)
                }
            }
        };
        let last = pools.last_applied(p)?;
        Some(PoolSpec {
            address: pools.address(p)?,
            dex: pools.dex(p)?,
            token0: self.tokens.address(t0)?,
            token1: self.tokens.address(t1)?,
            fee_pips: pools.fee_pips(p)?,
            state,
            last_log: (last.0 > block).then_some(last),
            stale,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// What building found.
    pub fn build_report(&self) -> &BuildReport {
        &self.report
    }

    /// The parameters the engine was built with.
    pub fn params(&self) -> &SearchParams {
        &self.params
    }

    /// Base fee of the newest head seen (or the snapshot's), wei per gas.
    pub fn base_fee(&self) -> u128 {
        self.base_fee
    }

    /// The newest block time seen on any frame, seconds (0: none yet). Modelled Algebra pools
    /// are quoted for a block [`SearchParams::block_time_s`] after it.
    pub fn block_time(&self) -> u32 {
        self.now
    }

    /// Block the snapshot reserves were read at.
    pub fn snapshot_block(&self) -> u64 {
        self.snapshot_block
    }

    /// Number of known tokens.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// Number of known pools.
    pub fn pool_count(&self) -> usize {
        self.pools.len()
    }

    /// Number of cycles searched.
    pub fn cycle_count(&self) -> usize {
        self.cycles.len()
    }

    /// Symbol and decimals of a known token.
    pub fn token(&self, address: &Address) -> Option<(&str, u8)> {
        let id = self.tokens.id(address)?;
        Some((self.tokens.symbol(id)?, self.tokens.decimals(id)?))
    }

    /// A V2 pair's `(reserve0, reserve1)` as a pending route leaves it, if a route holds it
    /// (the search prices it there, not at [`Engine::pool_reserves`]).
    pub fn held_reserves(&self, address: &Address) -> Option<(u128, u128)> {
        match self.overlay.get(self.pools.id(address)?)? {
            Moved::V2(r0, r1) => Some((r0, r1)),
            Moved::Cl(_) => None,
        }
    }

    /// A held pool's `(made_at, until)`: the newest block seen when the route holding it was
    /// made (a log of the pool from a later block releases it), and the block whose first
    /// frame expires the hold.
    pub fn held_span(&self, address: &Address) -> Option<(u64, u64)> {
        self.overlay
            .held(self.pools.id(address)?)
            .map(|h| (h.made_at, h.until))
    }

    /// A concentrated pool's price, tick and liquidity as a pending route leaves it, if a
    /// route holds it.
    pub fn held_cl_state(&self, address: &Address) -> Option<ClState> {
        match self.overlay.get(self.pools.id(address)?)? {
            Moved::Cl(s) => Some(s),
            Moved::V2(..) => None,
        }
    }

    /// `(reserve0, reserve1)` of a known pool, raw token units.
    pub fn pool_reserves(&self, address: &Address) -> Option<(u128, u128)> {
        self.pools.reserves(self.pools.id(address)?)
    }

    /// True if the pool is stale (a removed log and no `Sync` since); `None` if unknown.
    pub fn pool_is_stale(&self, address: &Address) -> Option<bool> {
        Some(self.pools.is_stale(self.pools.id(address)?))
    }

    /// The token table, for reports.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The pool table, for reports (e.g. [`Hop::pool_id`] → pair address).
    pub fn pools(&self) -> &Pools {
        &self.pools
    }
}

/// The token hop `i` of `c` takes in.
fn input_token(pools: &Pools, c: &Cycle, i: usize) -> Option<TokenId> {
    let (t0, t1) = pools.tokens(*c.pools().get(i)?)?;
    Some(if c.zero_for_one(i) { t0 } else { t1 })
}

/// Screen rates of pool `p` in both directions (`[token0 → token1, token1 → token0]`).
fn edge_rates(pools: &Pools, p: PoolId) -> [EdgeRate; 2] {
    let Some(fee) = pools.fee_pips(p) else {
        return [EdgeRate::ZERO; 2];
    };
    match pools.cl(p) {
        Some(v) => [
            EdgeRate::concentrated(v.state.sqrt_price_x96, fee, true),
            EdgeRate::concentrated(v.state.sqrt_price_x96, fee, false),
        ],
        None => match pools.reserves(p) {
            Some((r0, r1)) => [
                EdgeRate::upper_bound(r0, r1, fee),
                EdgeRate::upper_bound(r1, r0, fee),
            ],
            None => [EdgeRate::ZERO; 2],
        },
    }
}

/// Pool `p` as hop `zfo` of a cycle, with its screen rate: its state in the tables, or as the
/// overlay moved it. `None` if the pool is stale or unknown.
fn hop_state(
    pools: &Pools,
    overlay: &Overlay,
    rates: &[[EdgeRate; 2]],
    p: PoolId,
    zfo: bool,
) -> Option<(HopState, EdgeRate)> {
    if pools.is_stale(p) {
        return None;
    }
    let fee = pools.fee_pips(p)?;
    let cached = rates.get(p as usize)?[usize::from(!zfo)];
    let moved = overlay.get(p);
    match pools.cl(p) {
        None => {
            let (r0, r1) = match moved {
                Some(Moved::V2(r0, r1)) => (r0, r1),
                _ => pools.reserves(p)?,
            };
            let (r_in, r_out) = if zfo { (r0, r1) } else { (r1, r0) };
            let rate = match moved {
                Some(_) => EdgeRate::upper_bound(r_in, r_out, fee),
                None => cached,
            };
            Some((HopState::v2(r_in, r_out, fee), rate))
        }
        Some(v) => {
            let state = match moved {
                Some(Moved::Cl(s)) => s,
                _ => v.state,
            };
            let rate = match moved {
                Some(_) => EdgeRate::concentrated(state.sqrt_price_x96, fee, zfo),
                None => cached,
            };
            let hop = ClHop {
                pool: p,
                zero_for_one: zfo,
                kind: v.kind,
                state,
                liquidity_max: v.liquidity_max,
            };
            Some((HopState::Cl(hop), rate))
        }
    }
}
