//! The engine: tables, cycles and search behind one sans-IO call, [`Engine::on_frame`].
//!
//! No threads, sockets, clock or log formatting: a frame goes in, at most one opportunity comes
//! out, counters record everything that was skipped. Built once from a [`MarketSpec`]; after
//! that `on_frame` does not allocate.

use core::fmt;

use crate::{FeedFrame, FrameKind};
use alloy_primitives::Address;

use crate::cycles::{Cycle, Cycles, PairIndex, enumerate};
use crate::pools::{PoolId, Pools, TableError, TokenId, Tokens, U112_MAX, build_tables};
use crate::search::{EdgeRate, HopState, NativeQuotes, Sizing, screen, size};
use crate::{Hop, MAX_HOPS, MarketSpec, OpportunityFrame};

/// What the search looks for and what it may spend. Plain data; build with
/// [`SearchParams::new`] and override fields as needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchParams {
    /// The native token (WMATIC / WPOL on Polygon); profits are valued in it, in wei.
    pub native: Address,
    /// Tokens cycles start and end at, highest priority first (a loop reachable from two of
    /// them is kept under the first). Must all be known tokens.
    pub start_tokens: Vec<Address>,
    /// Priority fee the engine budgets on top of the base fee, wei per gas.
    pub tip_wei: u128,
    /// Gas of an executor call before its hops (intrinsic, calldata, balance checks), units.
    pub gas_base: u32,
    /// Gas each hop adds (a pair `swap` with its token transfer), units.
    pub gas_per_hop: u32,
    /// Net profit an opportunity must clear beyond its gas cost, wei.
    pub min_profit_native: u128,
    /// Most cycles kept; the rest are counted in [`BuildReport::cycles_dropped`].
    pub max_cycles: usize,
}

impl SearchParams {
    /// Parameters with Polygon-sized defaults: a 30 gwei tip (Polygon's minimum priority fee
    /// is 25–30 gwei), 50 000 + 70 000 per hop gas units (estimates for the executor; tune from
    /// receipts), no extra profit margin, at most 200 000 cycles.
    pub fn new(native: Address, start_tokens: Vec<Address>) -> Self {
        Self {
            native,
            start_tokens,
            tip_wei: 30_000_000_000,
            gas_base: 50_000,
            gas_per_hop: 70_000,
            min_profit_native: 0,
            max_cycles: 200_000,
        }
    }
}

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
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(e) => write!(f, "bad market spec: {e}"),
            Self::UnknownNative(a) => write!(f, "native token {a} is not a known token"),
            Self::UnknownStartToken(a) => write!(f, "start token {a} is not a known token"),
            Self::NoStartTokens => write!(f, "no start tokens"),
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
    /// Syncs whose reserves were stored.
    pub applied: u64,
    /// Syncs from a pool not in the tables.
    pub unknown_pool: u64,
    /// Syncs at or before the snapshot block, or not after the pool's last applied
    /// (block, log index): already reflected, or out of order.
    pub stale_skipped: u64,
    /// Removed (reorged-out) logs; each marks its pool stale.
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
    /// Profitable cycles whose native value did not clear gas cost + minimum profit.
    pub below_threshold: u64,
    /// Opportunities returned (at most one per frame).
    pub opportunities: u64,
}

/// The arbitrage engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    tokens: Tokens,
    pools: Pools,
    cycles: Cycles,
    /// Per pool: screen rate upper bounds for `[token0 → token1, token1 → token0]`, refreshed
    /// whenever the pool's reserves change.
    rates: Vec<[EdgeRate; 2]>,
    quotes: NativeQuotes,
    /// Per token id: most input a route may take, raw units (the executor's capital).
    capital: Vec<u128>,
    params: SearchParams,
    snapshot_block: u64,
    /// Base fee of the newest head, wei per gas.
    base_fee: u128,
    next_seq: u64,
    stats: EngineStats,
    report: BuildReport,
}

/// The best candidate of one search.
#[derive(Clone, Copy, Debug)]
struct Best {
    cycle: Cycle,
    sizing: Sizing,
    profit_native: u128,
    gas_cost: u128,
    gas_limit: u32,
    net: u128,
}

impl Engine {
    /// Builds tables, cycles and screen rates from a market snapshot.
    pub fn new(spec: &MarketSpec, params: SearchParams) -> Result<Self, BuildError> {
        let (tokens, pools, pools_dropped) = build_tables(spec)?;
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
        let cycles = enumerate(&pools, &index, &starts, tokens.len(), params.max_cycles);
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
        let report = BuildReport {
            pools_dropped,
            cycles: cycles.len(),
            cycles_dropped: cycles.dropped(),
        };
        Ok(Self {
            tokens,
            pools,
            cycles,
            rates,
            quotes,
            capital,
            params,
            snapshot_block: spec.block,
            base_fee: spec.base_fee,
            next_seq: 0,
            stats: EngineStats::default(),
            report,
        })
    }

    /// Applies one feed frame and returns the best opportunity it opened, if any.
    ///
    /// `NewHead` updates the base fee. `V2Sync` updates a pool's reserves and searches the
    /// cycles through it. Everything else, and every frame that fails a check, only moves a
    /// counter in [`EngineStats`]. The returned frame has `recv_ns` and `block_number` from
    /// `f`, `detect_ns = 0` (the caller stamps it) and the next sequence number. Does not
    /// allocate.
    pub fn on_frame(&mut self, f: &FeedFrame) -> Option<OpportunityFrame> {
        self.stats.frames += 1;
        match f.kind {
            FrameKind::NewHead => {
                self.stats.heads += 1;
                match f.word_u128(0) {
                    Some(fee) => self.base_fee = fee,
                    None => self.stats.rejected += 1,
                }
                None
            }
            FrameKind::V2Sync => self.on_sync(f),
            _ => {
                self.stats.other += 1;
                None
            }
        }
    }

    fn on_sync(&mut self, f: &FeedFrame) -> Option<OpportunityFrame> {
        self.stats.syncs += 1;
        let Some(id) = self.pools.id(&Address::from(f.address)) else {
            self.stats.unknown_pool += 1;
            return None;
        };
        if f.removed != 0 {
            // Our reserves may now come from a block that is no longer canonical.
            self.pools.mark_removed(id, f.block_number);
            self.stats.removed += 1;
            return None;
        }
        let last = self.pools.last_applied(id)?;
        if f.block_number <= self.snapshot_block || (f.block_number, f.log_index) <= last {
            self.stats.stale_skipped += 1;
            return None;
        }
        let (Some(r0), Some(r1)) = (f.word_u128(0), f.word_u128(1)) else {
            self.stats.rejected += 1;
            return None;
        };
        if r0 > U112_MAX || r1 > U112_MAX {
            self.stats.rejected += 1;
            return None;
        }
        self.pools.apply(id, r0, r1, f.block_number, f.log_index);
        if let Some(slot) = self.rates.get_mut(id as usize) {
            *slot = edge_rates(&self.pools, id);
        }
        self.stats.applied += 1;
        let best = self.search(id)?;
        self.stats.opportunities += 1;
        Some(self.frame(f, &best))
    }

    /// Screens, sizes and values every cycle through `pool`; returns the one with the highest
    /// `profit_native − gas_cost` that clears the threshold.
    fn search(&mut self, pool: PoolId) -> Option<Best> {
        let Self {
            pools,
            cycles,
            rates,
            quotes,
            capital,
            params,
            base_fee,
            stats,
            ..
        } = self;
        // Wei per gas the route is budgeted at.
        let fee_per_gas = base_fee.saturating_add(params.tip_wei);
        let mut best: Option<Best> = None;
        for &cid in cycles.through(pool) {
            let Some(&cycle) = cycles.get(cid) else {
                continue;
            };
            let n = cycle.pools().len();
            let mut hops = [HopState::default(); MAX_HOPS];
            let mut edge = [EdgeRate::ZERO; MAX_HOPS];
            let mut usable = true;
            for (i, &p) in cycle.pools().iter().enumerate() {
                let (Some((r0, r1)), Some(fee_bps), Some(rate)) =
                    (pools.reserves(p), pools.fee_bps(p), rates.get(p as usize))
                else {
                    usable = false;
                    break;
                };
                if pools.is_stale(p) {
                    usable = false;
                    break;
                }
                let (reserve_in, reserve_out, dir) = if cycle.zero_for_one(i) {
                    (r0, r1, 0)
                } else {
                    (r1, r0, 1)
                };
                hops[i] = HopState {
                    reserve_in,
                    reserve_out,
                    fee_bps,
                };
                edge[i] = rate[dir];
            }
            if !usable {
                stats.stale_cycles += 1;
                continue;
            }
            stats.screened += 1;
            if !screen(&edge[..n]) {
                continue;
            }
            stats.sized += 1;
            let cap = capital.get(cycle.start as usize).copied().unwrap_or(0);
            let Some(sizing) = size(&hops[..n], cap) else {
                continue;
            };
            stats.profitable += 1;
            let profit_native = quotes.value(pools, cycle.start, sizing.profit);
            let hop_count = u32::try_from(n).unwrap_or(u32::MAX);
            let gas_limit = params
                .gas_base
                .saturating_add(params.gas_per_hop.saturating_mul(hop_count));
            let gas_cost = u128::from(gas_limit).saturating_mul(fee_per_gas);
            if profit_native <= gas_cost.saturating_add(params.min_profit_native) {
                stats.below_threshold += 1;
                continue;
            }
            let net = profit_native - gas_cost;
            if best.is_none_or(|b| net > b.net) {
                best = Some(Best {
                    cycle,
                    sizing,
                    profit_native,
                    gas_cost,
                    gas_limit,
                    net,
                });
            }
        }
        best
    }

    fn frame(&mut self, f: &FeedFrame, b: &Best) -> OpportunityFrame {
        let mut o = OpportunityFrame::EMPTY;
        o.recv_ns = f.recv_ns;
        o.detect_ns = 0;
        o.block_number = f.block_number;
        o.seq = self.next_seq;
        self.next_seq += 1;
        o.amount_in = b.sizing.amount_in;
        o.profit = b.sizing.profit;
        o.profit_native = b.profit_native;
        o.gas_cost_native = b.gas_cost;
        o.base_fee = self.base_fee;
        o.token_in = self
            .tokens
            .address(b.cycle.start)
            .unwrap_or_default()
            .into_array();
        o.gas_limit = b.gas_limit;
        o.hop_count = b.cycle.len;
        for (i, (slot, &p)) in o.hops.iter_mut().zip(b.cycle.pools()).enumerate() {
            *slot = Hop {
                amount_out: b.sizing.outs[i],
                pair: self.pools.address(p).unwrap_or_default().into_array(),
                pool_id: p,
                zero_for_one: u8::from(b.cycle.zero_for_one(i)),
                _pad: [0; 7],
            };
        }
        o
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

/// Screen rates of pool `p` in both directions.
fn edge_rates(pools: &Pools, p: PoolId) -> [EdgeRate; 2] {
    match (pools.reserves(p), pools.fee_bps(p)) {
        (Some((r0, r1)), Some(fee)) => [
            EdgeRate::upper_bound(r0, r1, fee),
            EdgeRate::upper_bound(r1, r0, fee),
        ],
        _ => [EdgeRate::ZERO; 2],
    }
}
