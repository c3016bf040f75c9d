//! Struct-of-arrays tables of tokens and pools of every [`PoolKind`], with dense ids and an
//! address index.
//!
//! Columns rather than a `Vec` of structs because the hot loops read one or two columns of many
//! pools (reserves of the hops of a cycle) and never the cold ones (addresses, symbols). Ids are
//! dense `u32` indices into every column, so a lookup after the address index is a bounds-checked
//! load, and the index itself hashes an address with no allocation.

use core::fmt;
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

use alloy_primitives::Address;

use alloy_primitives::U256;

use crate::clmm::swap::{PoolState as ClState, SwapKind};
use crate::clmm::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick,
};
use crate::clmm::ticks::{PositionChange, TickColumns, TickError, TickRules, TickSlice};
use crate::fee_model::{FeeModel, FeeModelError, ModelImage};
use crate::{ClStateSpec, MarketSpec, PIPS, PoolKind, PoolSpec, PoolState, TickSpec};

/// Free tick slots each concentrated pool gets beyond the ticks it starts with, for ranges
/// minted during the run (36 bytes each). A Mint that needs more marks the pool for reload.
pub const TICK_HEADROOM: usize = 32;

/// [`Pools::quote_fee`] of an Algebra pool whose next fee is not known yet: the pool is out of
/// the search.
pub const QUOTE_UNKNOWN: u32 = u32::MAX;

/// Dense token id: index into the token columns.
pub type TokenId = u32;
/// Dense pool id: index into the pool columns; also [`Hop::pool_id`](crate::Hop::pool_id).
pub type PoolId = u32;

/// Largest reserve a V2 pair can hold: reserves are `uint112` on chain.
pub const U112_MAX: u128 = (1u128 << 112) - 1;

/// Hasher for the address index. Addresses of pairs are CREATE2 outputs, i.e. already uniform,
/// so we skip SipHash and fold two 8-byte windows of the address with one multiply (the second
/// window and the multiply keep vanity or hand-made addresses, which share leading bytes, spread).
/// Only ever fed an `Address`: its derived `Hash` writes a length prefix (ignored) and 20 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let mut tail = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        let start = bytes.len().saturating_sub(8);
        tail[..bytes.len() - start].copy_from_slice(&bytes[start..]);
        let folded = u64::from_le_bytes(head) ^ u64::from_le_bytes(tail).rotate_left(29);
        self.0 = (self.0 ^ folded).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, _len: usize) {
        // The slice length prefix of a 20-byte array is a constant; hashing it adds nothing.
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Address-keyed map with the cheap [`AddrHasher`].
pub(crate) type AddrMap<V> = HashMap<Address, V, BuildHasherDefault<AddrHasher>>;

/// Why a [`MarketSpec`] cannot be turned into tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The same token address is listed twice.
    DuplicateToken(Address),
    /// The same pool address is listed twice.
    DuplicatePool(Address),
    /// More tokens or pools than a `u32` id can index.
    TooMany,
    /// A pool names a DEX index past the end of `dexes`.
    BadDex {
        /// The pool.
        pool: Address,
        /// Its `dex` field.
        dex: u8,
    },
    /// A pool's fee is 10⁶ pips (100 %) or more: it would give nothing out.
    BadFee {
        /// The pool.
        pool: Address,
        /// Its fee, pips.
        fee_pips: u32,
    },
    /// A pool's state is of another kind than its DEX's.
    KindMismatch {
        /// The pool.
        pool: Address,
        /// The DEX's kind.
        dex: PoolKind,
        /// The state's kind.
        state: PoolKind,
    },
    /// A concentrated pool's state is not one the contract can be in.
    BadClState {
        /// The pool.
        pool: Address,
        /// What is wrong.
        reason: ClStateError,
    },
    /// A pool's `token0` is not below its `token1`; the pair contract always sorts them, so
    /// a spec that does not would make the engine send swaps in the wrong direction.
    TokenOrder(Address),
    /// A pool's reserve does not fit `uint112`.
    ReserveTooLarge(Address),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateToken(a) => write!(f, "token {a} is listed twice"),
            Self::DuplicatePool(a) => write!(f, "pool {a} is listed twice"),
            Self::TooMany => write!(f, "more tokens or pools than a u32 id can index"),
            Self::BadDex { pool, dex } => write!(f, "pool {pool} names unknown dex index {dex}"),
            Self::BadFee { pool, fee_pips } => {
                write!(
                    f,
                    "pool {pool} has fee {fee_pips} pips, must be below {PIPS}"
                )
            }
            Self::KindMismatch { pool, dex, state } => {
                write!(
                    f,
                    "pool {pool} has {state} state but its dex makes {dex} pools"
                )
            }
            Self::BadClState { pool, reason } => write!(f, "pool {pool}: {reason}"),
            Self::TokenOrder(a) => write!(f, "pool {a} has token0 not below token1"),
            Self::ReserveTooLarge(a) => write!(f, "pool {a} has a reserve above uint112"),
        }
    }
}

impl core::error::Error for TableError {}

/// What is wrong with a concentrated pool's state (snapshot or discovery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClStateError {
    /// The sqrt price is outside `[MIN_SQRT_RATIO, MAX_SQRT_RATIO)`.
    Price,
    /// The tick is outside `[MIN_TICK, MAX_TICK]` or does not hold the price.
    Tick,
    /// The tick spacing is not one the protocol allows (Uniswap V3: 1 to 16 383; Algebra: 60).
    Spacing,
    /// An Algebra fee above `uint16`.
    Fee,
    /// The window is empty, outside the tick range, or does not hold the current tick.
    Window,
    /// The ticks are not sorted, not inside the window, not multiples of the spacing, or
    /// have zero gross liquidity.
    Ticks,
    /// An Algebra fee model on a pool of another kind, with a configuration the operator
    /// would refuse, or with timepoints that do not restore (see `DataStorage::restore`).
    FeeModel,
}

impl fmt::Display for ClStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Price => "sqrt price outside the protocol's range",
            Self::Tick => "tick outside the range or not holding the price",
            Self::Spacing => "tick spacing the protocol does not allow",
            Self::Fee => "algebra fee above uint16",
            Self::Window => "tick window empty, out of range, or not holding the current tick",
            Self::Ticks => "ticks unsorted, outside the window, off the spacing, or empty",
            Self::FeeModel => {
                "algebra fee model on another kind, with a bad configuration, or with timepoints that do not fit together"
            }
        })
    }
}

/// Why a pool is left out of the search. In a snapshot (`PoolSpec::stale`, version 4) as
/// `"until-next-state"` or `"needs-reload"`; a fresh pool writes no field.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Staleness {
    /// Its state is what the logs say.
    #[default]
    Fresh = 0,
    /// A removed log: stale until the next log that carries the pool's whole pricing state
    /// (`Sync` for a V2 pair, `Swap` for a concentrated pool).
    UntilNextState = 1,
    /// The tables can no longer follow it from logs alone (a removed Mint/Burn/Fee, a Mint or
    /// Burn the tick columns refuse, a price outside the loaded tick window): it needs its
    /// state read from the node again.
    NeedsReload = 2,
}

/// Known tokens, one row per dense [`TokenId`].
#[derive(Debug)]
pub struct Tokens {
    address: Vec<Address>,
    symbol: Vec<String>,
    decimals: Vec<u8>,
    index: AddrMap<TokenId>,
}

impl Tokens {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// Dense id of a token address.
    #[inline]
    pub fn id(&self, address: &Address) -> Option<TokenId> {
        self.index.get(address).copied()
    }

    /// Address of a token id.
    pub fn address(&self, id: TokenId) -> Option<Address> {
        self.address.get(id as usize).copied()
    }

    /// Symbol of a token id, for reports.
    pub fn symbol(&self, id: TokenId) -> Option<&str> {
        self.symbol.get(id as usize).map(String::as_str)
    }

    /// ERC-20 decimals of a token id, for display only (the engine works in raw units).
    pub fn decimals(&self, id: TokenId) -> Option<u8> {
        self.decimals.get(id as usize).copied()
    }
}

/// Known pools, one row per dense [`PoolId`]. Columns common to every kind, then the kind's own
/// (rows of other kinds hold zeros there).
#[derive(Debug)]
pub struct Pools {
    address: Vec<Address>,
    token0: Vec<TokenId>,
    token1: Vec<TokenId>,
    dex: Vec<u8>,
    kind: Vec<PoolKind>,
    /// Swap fee, pips.
    fee_pips: Vec<u32>,
    /// Raw units of token0 (fits uint112).
    reserve0: Vec<u128>,
    /// Raw units of token1 (fits uint112).
    reserve1: Vec<u128>,
    /// Position of the last applied log: (block, log index).
    last_block: Vec<u64>,
    last_log: Vec<u32>,
    /// Why the pool is out of the search, if it is.
    stale: Vec<Staleness>,
    /// Concentrated-liquidity columns (rows of V2 pairs hold zeros).
    cl: ClCols,
    /// Algebra pools loaded with their fee state: the model that follows it (`None` for other
    /// kinds, for Algebra pools loaded without one, and once a model has failed).
    fee_model: Vec<Option<Box<FeeModel>>>,
    /// Models that failed, kept (not freed) so that undoing the block they failed in brings
    /// them back (docs/engine.md, "Reorgs").
    lost_model: Vec<Option<Box<FeeModel>>>,
    /// The fee the search prices a pool's swap at, pips: an Algebra pool with a model, the fee
    /// its first swap in the next block pays ([`QUOTE_UNKNOWN`] until that is known); any other
    /// pool, its fee.
    quote_fee: Vec<u32>,
    /// Ids of the pools with a fee model, for the per-block refresh.
    modelled: Vec<PoolId>,
    index: AddrMap<PoolId>,
}

/// The concentrated-liquidity columns and the preallocated tick storage: pool `i` owns
/// `tick_*[tick_start[i] .. tick_start[i] + tick_cap[i]]`, of which the first `tick_len[i]` are
/// its initialized ticks inside `[window_lo[i], window_hi[i]]`, ascending.
#[derive(Debug, Default)]
struct ClCols {
    /// Q64.96.
    sqrt_price: Vec<U256>,
    tick: Vec<i32>,
    liquidity: Vec<u128>,
    spacing: Vec<i32>,
    window_lo: Vec<i32>,
    window_hi: Vec<i32>,
    tick_start: Vec<u32>,
    tick_len: Vec<u32>,
    tick_cap: Vec<u32>,
    tick_at: Vec<i32>,
    tick_net: Vec<i128>,
    tick_gross: Vec<u128>,
    /// The most active liquidity any price inside the window has: the pool's curve is never
    /// steeper than a V2 curve with this liquidity at the current price (for profit bounds).
    /// Moved by mints and burns only; a swap moves along the same profile.
    liquidity_max: Vec<u128>,
}

impl ClCols {
    /// The largest active liquidity over pool `i`'s window: from the current liquidity, walk the
    /// initialized ticks outward, applying each one's net as a swap crossing it would.
    fn liquidity_max(&self, i: usize) -> u128 {
        let start = self.tick_start[i] as usize;
        let ticks = &self.tick_at[start..start + self.tick_len[i] as usize];
        let nets = &self.tick_net[start..start + self.tick_len[i] as usize];
        let current = self.tick[i];
        let mut best = self.liquidity[i];
        // Right: crossing t upward adds net(t).
        let mut l = i128::try_from(self.liquidity[i]).unwrap_or(i128::MAX);
        for (&t, &n) in ticks.iter().zip(nets) {
            if t > current {
                l = l.saturating_add(n);
                best = best.max(u128::try_from(l).unwrap_or(0));
            }
        }
        // Left: crossing t downward (t <= current) subtracts net(t).
        let mut l = i128::try_from(self.liquidity[i]).unwrap_or(i128::MAX);
        for (&t, &n) in ticks.iter().zip(nets).rev() {
            if t <= current {
                l = l.saturating_sub(n);
                best = best.max(u128::try_from(l).unwrap_or(0));
            }
        }
        best
    }
}

/// A concentrated pool as the search reads it.
#[derive(Clone, Copy, Debug)]
pub struct ClView<'a> {
    /// The contract's swap with the pool's current fee.
    pub kind: SwapKind,
    /// Price, tick, liquidity, spacing.
    pub state: ClState,
    /// The initialized ticks of the loaded window.
    pub ticks: TickSlice<'a>,
    /// The most active liquidity any price in the window has (see [`ClView::ticks`]): a V2
    /// curve with it at the current price pays at least what the pool pays for any input.
    pub liquidity_max: u128,
}

impl Pools {
    /// Number of pools.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// Dense id of a pool address. Hashes the address in place; no allocation.
    #[inline]
    pub fn id(&self, address: &Address) -> Option<PoolId> {
        self.index.get(address).copied()
    }

    /// Pair contract of a pool id.
    pub fn address(&self, id: PoolId) -> Option<Address> {
        self.address.get(id as usize).copied()
    }

    /// `(token0, token1)` ids of a pool.
    #[inline]
    pub fn tokens(&self, id: PoolId) -> Option<(TokenId, TokenId)> {
        let i = id as usize;
        Some((*self.token0.get(i)?, *self.token1.get(i)?))
    }

    /// Index into [`MarketSpec::dexes`] of a pool.
    pub fn dex(&self, id: PoolId) -> Option<u8> {
        self.dex.get(id as usize).copied()
    }

    /// Kind of a pool.
    #[inline]
    pub fn kind(&self, id: PoolId) -> Option<PoolKind> {
        self.kind.get(id as usize).copied()
    }

    /// Swap fee of a pool, pips (10⁻⁶ of the input).
    #[inline]
    pub fn fee_pips(&self, id: PoolId) -> Option<u32> {
        self.fee_pips.get(id as usize).copied()
    }

    /// `(reserve0, reserve1)` of a pool, raw token units (zeros for a concentrated pool).
    #[inline]
    pub fn reserves(&self, id: PoolId) -> Option<(u128, u128)> {
        let i = id as usize;
        Some((*self.reserve0.get(i)?, *self.reserve1.get(i)?))
    }

    /// `(block, log index)` of the last applied log of the pool: before any, the snapshot's
    /// block and 0, or the pool's `last_log` from the snapshot when that is later.
    pub fn last_applied(&self, id: PoolId) -> Option<(u64, u32)> {
        let i = id as usize;
        Some((*self.last_block.get(i)?, *self.last_log.get(i)?))
    }

    /// True if the pool is left out of the search (see [`Staleness`]).
    #[inline]
    pub fn is_stale(&self, id: PoolId) -> bool {
        self.staleness(id) != Staleness::Fresh
            || self.quote_fee.get(id as usize) == Some(&QUOTE_UNKNOWN)
    }

    /// The fee the search prices the pool at, pips (see [`QUOTE_UNKNOWN`]).
    #[inline]
    pub fn quote_fee(&self, id: PoolId) -> Option<u32> {
        self.quote_fee.get(id as usize).copied()
    }

    /// The pool's fee model, if it has one.
    pub fn fee_model(&self, id: PoolId) -> Option<&FeeModel> {
        self.fee_model.get(id as usize)?.as_deref()
    }

    pub(crate) fn fee_model_mut(&mut self, id: PoolId) -> Option<&mut FeeModel> {
        self.fee_model.get_mut(id as usize)?.as_deref_mut()
    }

    /// Pools with a fee model.
    pub(crate) fn modelled(&self) -> &[PoolId] {
        &self.modelled
    }

    /// The pool's fee model failed: drop it and leave the pool out of the search until it is
    /// reloaded (its fee can no longer be predicted).
    pub(crate) fn lose_fee_model(&mut self, id: PoolId) {
        let i = id as usize;
        if let Some(m) = self.fee_model.get_mut(i) {
            // Kept aside: an undo of the block it failed in puts it back.
            self.lost_model[i] = m.take();
            self.stale[i] = Staleness::NeedsReload;
            self.modelled.retain(|&p| p != id);
        }
    }

    /// Recomputes an Algebra pool's quote fee for a swap in a block at `time` (seconds; `None`
    /// when no block time is known yet). Pools without a model keep their fee.
    pub(crate) fn refresh_quote(
        &mut self,
        id: PoolId,
        time: Option<u32>,
    ) -> Result<(), FeeModelError> {
        let i = id as usize;
        let Some(Some(model)) = self.fee_model.get(i) else {
            return Ok(());
        };
        let current = u16::try_from(self.fee_pips[i]).unwrap_or(u16::MAX);
        let quote = match time {
            Some(t) => model.quote(t, self.cl.tick[i], self.cl.liquidity[i], current),
            None => Ok(None),
        };
        match quote {
            Ok(q) => {
                self.quote_fee[i] = q.map_or(QUOTE_UNKNOWN, u32::from);
                Ok(())
            }
            Err(e) => {
                self.quote_fee[i] = QUOTE_UNKNOWN;
                Err(e)
            }
        }
    }

    /// A concentrated pool's tick and active liquidity.
    pub(crate) fn tick_liquidity(&self, id: PoolId) -> Option<(i32, u128)> {
        let i = id as usize;
        Some((*self.cl.tick.get(i)?, *self.cl.liquidity.get(i)?))
    }

    /// Why the pool is out of the search, if it is (unknown ids read as needing a reload).
    #[inline]
    pub fn staleness(&self, id: PoolId) -> Staleness {
        self.stale
            .get(id as usize)
            .copied()
            .unwrap_or(Staleness::NeedsReload)
    }

    /// A concentrated pool's swap kind, state and ticks; `None` for V2 pairs and unknown ids.
    #[inline]
    pub fn cl(&self, id: PoolId) -> Option<ClView<'_>> {
        let i = id as usize;
        let kind = match *self.kind.get(i)? {
            PoolKind::UniswapV2 => return None,
            PoolKind::UniswapV3 => SwapKind::UniswapV3 {
                fee_pips: self.fee_pips[i],
            },
            // The fee its next block's first swap pays (checked to fit uint16 when set; an
            // unknown one leaves the pool stale, out of the search).
            PoolKind::Algebra => SwapKind::Algebra {
                fee: u16::try_from(self.quote_fee[i]).unwrap_or(u16::MAX),
            },
        };
        let c = &self.cl;
        let start = c.tick_start[i] as usize;
        let end = start + c.tick_len[i] as usize;
        let ticks = TickSlice::from_table(
            c.tick_at.get(start..end)?,
            c.tick_net.get(start..end)?,
            c.tick_gross.get(start..end)?,
            c.window_lo[i],
            c.window_hi[i],
        )
        .ok()?;
        Some(ClView {
            kind,
            state: ClState {
                sqrt_price_x96: c.sqrt_price[i],
                tick: c.tick[i],
                liquidity: c.liquidity[i],
                tick_spacing: c.spacing[i],
            },
            ticks,
            liquidity_max: c.liquidity_max[i],
        })
    }

    /// A concentrated pool's state as a snapshot carries it (without the fee model): price,
    /// tick, active liquidity, spacing, the loaded window and its initialized ticks, as the
    /// tables hold them (never a pending route's state). `None` for V2 pairs and unknown ids.
    pub(crate) fn cl_spec(&self, id: PoolId) -> Option<ClStateSpec> {
        let i = id as usize;
        if !self.kind.get(i)?.is_concentrated() {
            return None;
        }
        let c = &self.cl;
        let start = c.tick_start[i] as usize;
        let end = start + c.tick_len[i] as usize;
        let ticks = c.tick_at[start..end]
            .iter()
            .zip(&c.tick_net[start..end])
            .zip(&c.tick_gross[start..end])
            .map(|((&tick, &liquidity_net), &liquidity_gross)| TickSpec {
                tick,
                liquidity_net,
                liquidity_gross,
            })
            .collect();
        Some(ClStateSpec {
            sqrt_price_x96: c.sqrt_price[i],
            tick: c.tick[i],
            liquidity: c.liquidity[i],
            tick_spacing: c.spacing[i],
            window: [c.window_lo[i], c.window_hi[i]],
            ticks,
            fee_model: None,
        })
    }

    /// The mint/burn rules of a concentrated pool.
    fn rules(&self, i: usize) -> Option<TickRules> {
        match self.kind.get(i)? {
            PoolKind::UniswapV2 => None,
            PoolKind::UniswapV3 => TickRules::uniswap_v3(self.cl.spacing[i]).ok(),
            PoolKind::Algebra => Some(TickRules::algebra()),
        }
    }

    fn advance(&mut self, i: usize, block: u64, log: u32) {
        self.last_block[i] = block;
        self.last_log[i] = log;
    }

    /// Stores a concentrated pool's state after a `Swap` (price Q64.96, active liquidity, tick;
    /// already checked to be consistent) seen at `(block, log)`. The pool is fresh again,
    /// unless it needs a reload, or the new tick left the loaded window (then it needs one).
    pub(crate) fn apply_cl_swap(
        &mut self,
        id: PoolId,
        sqrt_price: U256,
        liquidity: u128,
        tick: i32,
        block: u64,
        log: u32,
    ) {
        let i = id as usize;
        if i >= self.len() {
            return;
        }
        let c = &mut self.cl;
        c.sqrt_price[i] = sqrt_price;
        c.liquidity[i] = liquidity;
        c.tick[i] = tick;
        let inside = (c.window_lo[i]..=c.window_hi[i]).contains(&tick);
        self.advance(i, block, log);
        if !inside {
            self.stale[i] = Staleness::NeedsReload;
        } else if self.stale[i] == Staleness::UntilNextState {
            self.stale[i] = Staleness::Fresh;
        }
    }

    /// Applies a `Mint` (`mint`) or `Burn` of `amount` liquidity on `[lower, upper)` seen at
    /// `(block, log)`: the ticks inside the window and, if the range holds the current tick, the
    /// active liquidity. On error nothing changed, and the pool needs a reload: its tables
    /// no longer follow the chain.
    #[expect(
        clippy::too_many_arguments,
        reason = "one event's fields; a struct would only rename them"
    )]
    pub(crate) fn apply_cl_position(
        &mut self,
        id: PoolId,
        mint: bool,
        lower: i32,
        upper: i32,
        amount: u128,
        block: u64,
        log: u32,
    ) -> Result<PositionChange, TickError> {
        let i = id as usize;
        let rules = self.rules(i).ok_or(TickError::BadSpacing)?;
        let c = &mut self.cl;
        let start = c.tick_start[i] as usize;
        let cap = c.tick_cap[i] as usize;
        let (lo, hi) = (c.window_lo[i], c.window_hi[i]);
        let current = c.tick[i];
        let mut liquidity = c.liquidity[i];
        let result = (|| {
            let mut cols = TickColumns::new(
                &mut c.tick_at[start..start + cap],
                &mut c.tick_net[start..start + cap],
                &mut c.tick_gross[start..start + cap],
                c.tick_len[i] as usize,
                lo,
                hi,
            )?;
            let change = if mint {
                cols.mint(rules, current, &mut liquidity, lower, upper, amount)?
            } else {
                cols.burn(rules, current, &mut liquidity, lower, upper, amount)?
            };
            Ok((change, cols.len()))
        })();
        match result {
            Ok((change, len)) => {
                c.tick_len[i] = u32::try_from(len).unwrap_or(u32::MAX);
                c.liquidity[i] = liquidity;
                c.liquidity_max[i] = c.liquidity_max(i);
                self.advance(i, block, log);
                Ok(change)
            }
            Err(e) => {
                self.stale[i] = Staleness::NeedsReload;
                self.advance(i, block, log);
                Err(e)
            }
        }
    }

    /// Stores an Algebra pool's new fee (pips, already checked to fit uint16) seen at
    /// `(block, log)`.
    pub(crate) fn apply_fee(&mut self, id: PoolId, fee_pips: u32, block: u64, log: u32) {
        let i = id as usize;
        if i < self.len() {
            self.fee_pips[i] = fee_pips;
            if self.fee_model[i].is_none() {
                self.quote_fee[i] = fee_pips;
            }
            self.advance(i, block, log);
        }
    }

    /// Stores new V2 reserves (raw units, already checked to fit uint112) seen at
    /// `(block, log)` and clears the stale flag. Out-of-range ids are ignored.
    #[inline]
    pub(crate) fn apply(
        &mut self,
        id: PoolId,
        reserve0: u128,
        reserve1: u128,
        block: u64,
        log: u32,
    ) {
        let i = id as usize;
        if i < self.len() {
            self.reserve0[i] = reserve0;
            self.reserve1[i] = reserve1;
            self.last_block[i] = block;
            self.last_log[i] = log;
            if self.stale[i] == Staleness::UntilNextState {
                self.stale[i] = Staleness::Fresh;
            }
        }
    }

    /// A log of this pool in `block` was removed by a reorg: mark the pool stale (until its next
    /// whole-state log, or for good with `needs_reload`: a removed Mint, Burn or Fee cannot be
    /// undone from logs) and move its last applied position back before `block`, so the
    /// replacement chain's logs from `block` on are accepted. Never moves the position forward
    /// (a deeper reorg may already have moved it further back).
    pub(crate) fn mark_removed(&mut self, id: PoolId, block: u64, needs_reload: bool) {
        let i = id as usize;
        if i < self.len() {
            let s = if needs_reload {
                Staleness::NeedsReload
            } else {
                Staleness::UntilNextState
            };
            self.stale[i] = self.stale[i].max_by(s);
            let rewound = (block.saturating_sub(1), u32::MAX);
            if rewound < (self.last_block[i], self.last_log[i]) {
                self.last_block[i] = rewound.0;
                self.last_log[i] = rewound.1;
            }
        }
    }
}

/// A pool's scalar state, as the undo journal keeps it from before a block's first change of
/// the pool (docs/engine.md, "Reorgs"): every column a log moves but the ticks, which have
/// their own before-images ([`Pools::tick_before`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolImage {
    pub(crate) id: PoolId,
    reserve0: u128,
    reserve1: u128,
    sqrt_price: U256,
    liquidity: u128,
    tick: i32,
    fee_pips: u32,
    quote_fee: u32,
    last_log: u32,
    last_block: u64,
    pub(crate) stale: Staleness,
}

impl PoolImage {
    /// Makes what restoring the image leaves at least as stale as `s`, and its position no
    /// later than `at`: a removed log the journal could not undo taints every older image.
    pub(crate) fn taint(&mut self, s: Staleness, at: (u64, u32)) {
        self.stale = self.stale.max_by(s);
        if at < (self.last_block, self.last_log) {
            (self.last_block, self.last_log) = at;
        }
    }
}

impl Pools {
    /// Pool `id`'s scalar state now.
    pub(crate) fn image(&self, id: PoolId) -> Option<PoolImage> {
        let i = id as usize;
        Some(PoolImage {
            id,
            reserve0: *self.reserve0.get(i)?,
            reserve1: self.reserve1[i],
            sqrt_price: self.cl.sqrt_price[i],
            liquidity: self.cl.liquidity[i],
            tick: self.cl.tick[i],
            fee_pips: self.fee_pips[i],
            quote_fee: self.quote_fee[i],
            last_log: self.last_log[i],
            last_block: self.last_block[i],
            stale: self.stale[i],
        })
    }

    /// Puts a pool's scalar state back. Its tick table is restored separately, and its
    /// `liquidity_max` recomputed by [`Pools::refresh_liquidity_max`] once both are back.
    pub(crate) fn restore_image(&mut self, m: &PoolImage) {
        let i = m.id as usize;
        if i >= self.len() {
            return;
        }
        self.reserve0[i] = m.reserve0;
        self.reserve1[i] = m.reserve1;
        self.cl.sqrt_price[i] = m.sqrt_price;
        self.cl.liquidity[i] = m.liquidity;
        self.cl.tick[i] = m.tick;
        self.fee_pips[i] = m.fee_pips;
        self.quote_fee[i] = m.quote_fee;
        self.last_log[i] = m.last_log;
        self.last_block[i] = m.last_block;
        self.stale[i] = m.stale;
    }

    /// Recomputes a concentrated pool's most active liquidity (after an undo).
    pub(crate) fn refresh_liquidity_max(&mut self, id: PoolId) {
        let i = id as usize;
        if self.kind.get(i).is_some_and(|k| k.is_concentrated()) {
            self.cl.liquidity_max[i] = self.cl.liquidity_max(i);
        }
    }

    /// `tick` of a concentrated pool as a Mint or Burn is about to change it: `Some(None)` if it
    /// is not initialized, `Some(Some((net, gross)))` if it is, `None` if the pool keeps no
    /// record of it (outside the loaded window, or not a concentrated pool).
    pub(crate) fn tick_before(&self, id: PoolId, tick: i32) -> Option<Option<(i128, u128)>> {
        let i = id as usize;
        if !self.kind.get(i)?.is_concentrated() {
            return None;
        }
        let c = &self.cl;
        if tick < c.window_lo[i] || tick > c.window_hi[i] {
            return None;
        }
        let start = c.tick_start[i] as usize;
        let end = start + c.tick_len[i] as usize;
        let at = c.tick_at.get(start..end)?;
        Some(
            at.binary_search(&tick)
                .ok()
                .map(|k| (c.tick_net[start + k], c.tick_gross[start + k])),
        )
    }

    /// Puts one tick of a concentrated pool back as [`Pools::tick_before`] read it. False if
    /// the table refused (it cannot, for a before-image of itself: then the pool needs a
    /// reload).
    pub(crate) fn restore_tick(
        &mut self,
        id: PoolId,
        tick: i32,
        before: Option<(i128, u128)>,
    ) -> bool {
        let i = id as usize;
        if !self.kind.get(i).is_some_and(|k| k.is_concentrated()) {
            return false;
        }
        let c = &mut self.cl;
        let start = c.tick_start[i] as usize;
        let cap = c.tick_cap[i] as usize;
        let restored = TickColumns::new(
            &mut c.tick_at[start..start + cap],
            &mut c.tick_net[start..start + cap],
            &mut c.tick_gross[start..start + cap],
            c.tick_len[i] as usize,
            c.window_lo[i],
            c.window_hi[i],
        )
        .and_then(|mut cols| {
            cols.restore(tick, before)?;
            Ok(cols.len())
        });
        match restored {
            Ok(len) => {
                c.tick_len[i] = u32::try_from(len).unwrap_or(u32::MAX);
                true
            }
            Err(_) => {
                self.stale[i] = Staleness::NeedsReload;
                false
            }
        }
    }

    /// The pool's fee model as it is now, if it has one.
    pub(crate) fn model_image(&self, id: PoolId) -> Option<ModelImage> {
        self.fee_model(id).map(FeeModel::image)
    }

    /// Takes the pool's fee model back to `image`, bringing back a model that failed since
    /// (kept by [`Pools::lose_fee_model`]). False if the pool has neither.
    pub(crate) fn restore_model(&mut self, id: PoolId, image: &ModelImage) -> bool {
        let i = id as usize;
        let Some(slot) = self.fee_model.get_mut(i) else {
            return false;
        };
        if slot.is_none() {
            let Some(lost) = self.lost_model[i].take() else {
                return false;
            };
            *slot = Some(lost);
            // Ids in order; within the capacity the list had when built, so no allocation.
            let at = self.modelled.partition_point(|&p| p < id);
            self.modelled.insert(at, id);
        }
        if let Some(m) = slot.as_deref_mut() {
            m.restore_image(image);
        }
        true
    }
}

/// Builds the token and pool tables from a spec. Pools naming a token that is not in
/// `spec.tokens` are dropped (as [`MarketSpec::tokens`] documents) and counted in the second
/// return value.
pub(crate) fn build_tables(spec: &MarketSpec) -> Result<(Tokens, Pools, u64), TableError> {
    if spec.tokens.len() > u32::MAX as usize || spec.pools.len() > u32::MAX as usize {
        return Err(TableError::TooMany);
    }

    let mut tokens = Tokens {
        address: Vec::with_capacity(spec.tokens.len()),
        symbol: Vec::with_capacity(spec.tokens.len()),
        decimals: Vec::with_capacity(spec.tokens.len()),
        index: AddrMap::with_capacity_and_hasher(spec.tokens.len(), Default::default()),
    };
    for (id, t) in (0u32..).zip(&spec.tokens) {
        if tokens.index.insert(t.address, id).is_some() {
            return Err(TableError::DuplicateToken(t.address));
        }
        tokens.address.push(t.address);
        tokens.symbol.push(t.symbol.clone());
        tokens.decimals.push(t.decimals);
    }

    let n = spec.pools.len();
    let mut pools = Pools {
        address: Vec::with_capacity(n),
        token0: Vec::with_capacity(n),
        token1: Vec::with_capacity(n),
        dex: Vec::with_capacity(n),
        kind: Vec::with_capacity(n),
        fee_pips: Vec::with_capacity(n),
        reserve0: Vec::with_capacity(n),
        reserve1: Vec::with_capacity(n),
        last_block: Vec::with_capacity(n),
        last_log: Vec::with_capacity(n),
        stale: Vec::with_capacity(n),
        cl: ClCols::default(),
        fee_model: Vec::with_capacity(n),
        lost_model: Vec::with_capacity(n),
        quote_fee: Vec::with_capacity(n),
        modelled: Vec::new(),
        index: AddrMap::with_capacity_and_hasher(n, Default::default()),
    };
    let mut dropped = 0u64;
    for p in &spec.pools {
        check_pool(spec, p)?;
        let (Some(t0), Some(t1)) = (tokens.id(&p.token0), tokens.id(&p.token1)) else {
            dropped += 1;
            continue;
        };
        let (reserve0, reserve1) = match &p.state {
            PoolState::UniswapV2 { reserve0, reserve1 } => (*reserve0, *reserve1),
            PoolState::UniswapV3(_) | PoolState::Algebra(_) => (0, 0),
        };
        pools.cl.push(p)?;
        let id = pools.len() as PoolId;
        if pools.index.insert(p.address, id).is_some() {
            return Err(TableError::DuplicatePool(p.address));
        }
        pools.address.push(p.address);
        pools.token0.push(t0);
        pools.token1.push(t1);
        pools.dex.push(p.dex);
        pools.kind.push(p.kind());
        pools.fee_pips.push(p.fee_pips);
        pools.reserve0.push(reserve0);
        pools.reserve1.push(reserve1);
        // A position inside the block after the snapshot's (an export taken in the middle of
        // a block): the logs up to it are applied already and are skipped.
        let (last_block, last_log) = p
            .last_log
            .map_or((spec.block, 0), |at| at.max((spec.block, 0)));
        pools.last_block.push(last_block);
        pools.last_log.push(last_log);
        pools.stale.push(p.stale);
        let model = match &p.state {
            PoolState::Algebra(ClStateSpec {
                fee_model: Some(m), ..
            }) => Some(Box::new(FeeModel::from_spec(m, spec.block).map_err(
                |_| TableError::BadClState {
                    pool: p.address,
                    reason: ClStateError::FeeModel,
                },
            )?)),
            _ => None,
        };
        // A modelled pool's next fee is unknown until the engine knows a block time.
        pools.quote_fee.push(if model.is_some() {
            pools.modelled.push(id);
            QUOTE_UNKNOWN
        } else {
            p.fee_pips
        });
        pools.fee_model.push(model);
        pools.lost_model.push(None);
    }
    Ok((tokens, pools, dropped))
}

impl Staleness {
    /// True for [`Staleness::Fresh`].
    pub fn is_fresh(&self) -> bool {
        *self == Self::Fresh
    }

    /// The more severe of two.
    pub(crate) fn max_by(self, other: Self) -> Self {
        if other as u8 > self as u8 {
            other
        } else {
            self
        }
    }
}

impl ClCols {
    /// Appends pool `p`'s row: its concentrated state, or zeros and no tick storage for a V2
    /// pair. The state was checked by [`check_pool`].
    fn push(&mut self, p: &PoolSpec) -> Result<(), TableError> {
        let s = match &p.state {
            PoolState::UniswapV2 { .. } => None,
            PoolState::UniswapV3(s) | PoolState::Algebra(s) => Some(s),
        };
        let start = u32::try_from(self.tick_at.len()).map_err(|_| TableError::TooMany)?;
        let n = s.map_or(0, |s| s.ticks.len());
        let cap = if s.is_some() { n + TICK_HEADROOM } else { 0 };
        self.sqrt_price
            .push(s.map_or(U256::ZERO, |s| s.sqrt_price_x96));
        self.tick.push(s.map_or(0, |s| s.tick));
        self.liquidity.push(s.map_or(0, |s| s.liquidity));
        self.spacing.push(s.map_or(0, |s| s.tick_spacing));
        self.window_lo.push(s.map_or(0, |s| s.window[0]));
        self.window_hi.push(s.map_or(0, |s| s.window[1]));
        self.tick_start.push(start);
        self.tick_len.push(n as u32);
        self.tick_cap
            .push(u32::try_from(cap).map_err(|_| TableError::TooMany)?);
        if let Some(s) = s {
            for t in &s.ticks {
                self.tick_at.push(t.tick);
                self.tick_net.push(t.liquidity_net);
                self.tick_gross.push(t.liquidity_gross);
            }
            // Free slots; never read past `tick_len`.
            for _ in 0..TICK_HEADROOM {
                self.tick_at.push(0);
                self.tick_net.push(0);
                self.tick_gross.push(0);
            }
        }
        self.liquidity_max.push(0);
        let i = self.liquidity_max.len() - 1;
        if s.is_some() {
            self.liquidity_max[i] = self.liquidity_max(i);
        }
        Ok(())
    }
}

/// Checks a concentrated pool's state: what the contract's own invariants allow.
///
/// A pool flagged [`Staleness::NeedsReload`] (an export of a pool a swap moved out of its
/// loaded window) may have its tick outside the window: that is why it needs a reload, and it
/// never enters the search.
fn check_cl(
    kind: PoolKind,
    fee_pips: u32,
    s: &ClStateSpec,
    stale: Staleness,
) -> Result<(), ClStateError> {
    let spacing_ok = match kind {
        PoolKind::Algebra => s.tick_spacing == TickRules::algebra().spacing,
        _ => TickRules::uniswap_v3(s.tick_spacing).is_ok(),
    };
    if !spacing_ok {
        return Err(ClStateError::Spacing);
    }
    if kind == PoolKind::Algebra && fee_pips > u32::from(u16::MAX) {
        return Err(ClStateError::Fee);
    }
    if let Some(m) = &s.fee_model
        && (kind != PoolKind::Algebra || m.config.validate().is_err())
    {
        return Err(ClStateError::FeeModel);
    }
    if s.sqrt_price_x96 < MIN_SQRT_RATIO || s.sqrt_price_x96 >= MAX_SQRT_RATIO {
        return Err(ClStateError::Price);
    }
    if !tick_holds_price(s.tick, s.sqrt_price_x96) {
        return Err(ClStateError::Tick);
    }
    let [lo, hi] = s.window;
    let holds_tick = (lo..=hi).contains(&s.tick) || stale == Staleness::NeedsReload;
    if lo > hi || lo < MIN_TICK || hi > MAX_TICK || !holds_tick {
        return Err(ClStateError::Window);
    }
    let at: Vec<i32> = s.ticks.iter().map(|t| t.tick).collect();
    let net: Vec<i128> = s.ticks.iter().map(|t| t.liquidity_net).collect();
    let gross: Vec<u128> = s.ticks.iter().map(|t| t.liquidity_gross).collect();
    if TickSlice::new(&at, &net, &gross, lo, hi).is_err()
        || s.ticks
            .iter()
            .any(|t| t.tick % s.tick_spacing != 0 || t.liquidity_gross == 0)
    {
        return Err(ClStateError::Ticks);
    }
    Ok(())
}

/// True if a pool at `tick` can hold `sqrt_price` (Q64.96): the price lies in the tick's
/// range `[P(tick), P(tick + 1)]`. The upper end is included because a swap that stops exactly
/// on a tick boundary moving down stores the tick below it.
pub(crate) fn tick_holds_price(tick: i32, sqrt_price: U256) -> bool {
    if !(MIN_TICK..=MAX_TICK).contains(&tick) {
        return false;
    }
    let Ok(lo) = sqrt_ratio_at_tick(tick) else {
        return false;
    };
    let hi = if tick == MAX_TICK {
        MAX_SQRT_RATIO
    } else {
        match sqrt_ratio_at_tick(tick + 1) {
            Ok(h) => h,
            Err(_) => return false,
        }
    };
    lo <= sqrt_price && sqrt_price <= hi
}

/// Checks one pool's spec against its DEX and the chain's invariants.
fn check_pool(spec: &MarketSpec, p: &PoolSpec) -> Result<(), TableError> {
    let Some(dex) = spec.dexes.get(usize::from(p.dex)) else {
        return Err(TableError::BadDex {
            pool: p.address,
            dex: p.dex,
        });
    };
    if dex.kind != p.kind() {
        return Err(TableError::KindMismatch {
            pool: p.address,
            dex: dex.kind,
            state: p.kind(),
        });
    }
    if p.fee_pips >= PIPS {
        return Err(TableError::BadFee {
            pool: p.address,
            fee_pips: p.fee_pips,
        });
    }
    if p.token0 >= p.token1 {
        return Err(TableError::TokenOrder(p.address));
    }
    match &p.state {
        PoolState::UniswapV2 { reserve0, reserve1 } => {
            if *reserve0 > U112_MAX || *reserve1 > U112_MAX {
                return Err(TableError::ReserveTooLarge(p.address));
            }
        }
        PoolState::UniswapV3(s) | PoolState::Algebra(s) => {
            check_cl(p.kind(), p.fee_pips, s, p.stale).map_err(|reason| {
                TableError::BadClState {
                    pool: p.address,
                    reason,
                }
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DexSpec, TokenSpec};
    use core::hash::BuildHasher;

    fn addr(b: u8) -> Address {
        Address::with_last_byte(b)
    }

    fn spec() -> MarketSpec {
        MarketSpec {
            block: 10,
            base_fee: 1,
            tokens: vec![
                TokenSpec {
                    address: addr(1),
                    symbol: "A".into(),
                    decimals: 18,
                },
                TokenSpec {
                    address: addr(2),
                    symbol: "B".into(),
                    decimals: 6,
                },
            ],
            dexes: vec![DexSpec {
                name: "d".into(),
                factory: addr(0xf0),
                kind: PoolKind::UniswapV2,
                flash_swap: true,
            }],
            pools: vec![
                PoolSpec::v2(addr(0x10), 0, addr(1), addr(2), 3_000, 5, 7),
                PoolSpec::v2(addr(0x11), 0, addr(1), addr(9), 3_000, 5, 7),
            ],
            capital: Vec::new(),
            lenders: Vec::new(),
        }
    }

    #[test]
    fn builds_columns_and_drops_pools_with_unknown_tokens() {
        let (tokens, pools, dropped) = build_tables(&spec()).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(tokens.len(), 2);
        assert_eq!(pools.len(), 1);
        let id = pools.id(&addr(0x10)).unwrap();
        assert_eq!(pools.tokens(id), Some((0, 1)));
        assert_eq!(pools.reserves(id), Some((5, 7)));
        assert_eq!(pools.fee_pips(id), Some(3_000));
        assert_eq!(pools.kind(id), Some(PoolKind::UniswapV2));
        assert_eq!(pools.last_applied(id), Some((10, 0)));
        assert_eq!(pools.id(&addr(0x11)), None);
        assert_eq!(tokens.symbol(1), Some("B"));
        assert_eq!(tokens.decimals(1), Some(6));
    }

    #[test]
    fn rejects_inconsistent_specs() {
        let mut s = spec();
        s.pools[0].dex = 3;
        assert!(matches!(
            build_tables(&s),
            Err(TableError::BadDex { dex: 3, .. })
        ));

        let mut s = spec();
        s.pools[0].fee_pips = PIPS;
        assert!(matches!(build_tables(&s), Err(TableError::BadFee { .. })));

        let mut s = spec();
        s.dexes[0].kind = PoolKind::UniswapV3;
        assert!(matches!(
            build_tables(&s),
            Err(TableError::KindMismatch { .. })
        ));

        let mut s = spec();
        let p = &mut s.pools[0];
        core::mem::swap(&mut p.token0, &mut p.token1);
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::TokenOrder(addr(0x10))
        );

        let mut s = spec();
        s.pools[0].state = PoolState::UniswapV2 {
            reserve0: 5,
            reserve1: U112_MAX + 1,
        };
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::ReserveTooLarge(addr(0x10))
        );

        let mut s = spec();
        s.pools[1] = s.pools[0].clone();
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::DuplicatePool(addr(0x10))
        );

        let mut s = spec();
        s.tokens[1].address = addr(1);
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::DuplicateToken(addr(1))
        );
    }

    #[test]
    fn removed_rewinds_but_never_forwards() {
        let (_, mut pools, _) = build_tables(&spec()).unwrap();
        pools.apply(0, 1, 2, 20, 4);
        assert!(!pools.is_stale(0));
        pools.mark_removed(0, 19, false);
        assert!(pools.is_stale(0));
        assert_eq!(pools.last_applied(0), Some((18, u32::MAX)));
        // A later removal must not move the position forward again.
        pools.mark_removed(0, 20, false);
        assert_eq!(pools.last_applied(0), Some((18, u32::MAX)));
        pools.apply(0, 3, 4, 19, 0);
        assert!(!pools.is_stale(0));
        assert!(pools.is_stale(99), "unknown ids read as stale");
    }

    #[test]
    fn hasher_spreads_addresses_that_differ_only_in_the_last_byte() {
        let b = BuildHasherDefault::<AddrHasher>::default();
        let mut seen: Vec<u64> = (0u8..=255).map(|i| b.hash_one(addr(i))).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
    }
}
