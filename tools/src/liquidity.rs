//! A simulated liquidity provider on the concentrated pools: now and then (seeded) it mints a new
//! range near a pool's current price, or burns part or all of a range it minted before, through
//! its `PoolActor` (which collects what a burn frees). So ticks get initialized and uninitialized
//! while a recording runs, and `Mint`, `Burn` (and, on Algebra, `Fee`) events happen besides swaps.
//!
//! It keeps a ledger of its open positions, updated only from mined receipts; the pools' own
//! `Mint` and `Burn` events give the amounts.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;

use crate::{
    abi::IPoolActor,
    clmm_state::{MAX_TICK, MIN_TICK},
    clmm_world::{
        ACTOR_GAS, actor_kind, align_down, align_up, burn_event, heads, int24, mint_event,
    },
    rng::SplitMix64,
    rpc::{Receipt, Rpc, TxRequest},
    traders::TradeError,
    world::World,
};

/// How the liquidity provider behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct LpOpts {
    /// The account that owns its `PoolActor` (see [`crate::WorldSpec::actors`]).
    pub owner: Address,
    /// RNG seed (its own stream, apart from the traders').
    pub seed: u64,
    /// Chance of one action in a block, in `[0, 1]`.
    pub rate: f64,
    /// Smallest new position, in units of the pool's [`crate::ClmmPoolInfo::unit_liquidity`].
    pub min_units: f64,
    /// Largest new position, same unit.
    pub max_units: f64,
    /// Widest new range, ticks (before rounding up to the spacing).
    pub max_width_ticks: i32,
}

impl LpOpts {
    /// One action in four blocks, positions of 0.05 to 2 units, ranges up to 4,000 ticks wide.
    pub fn new(owner: Address, seed: u64) -> Self {
        Self {
            owner,
            seed,
            rate: 0.25,
            min_units: 0.05,
            max_units: 2.0,
            max_width_ticks: 4_000,
        }
    }
}

/// A position the provider holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LpPosition {
    /// Index into [`World::clmm_pools`].
    pub pool: usize,
    /// Lower tick.
    pub tick_lower: i32,
    /// Upper tick.
    pub tick_upper: i32,
    /// Liquidity still in it.
    pub liquidity: u128,
}

/// Mint or burn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LpChange {
    /// A new range.
    Mint,
    /// Liquidity taken out of a range (then everything owed collected).
    Burn,
}

/// One action, as mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LpAction {
    /// Block it landed in.
    pub block: u64,
    /// Index into [`World::clmm_pools`].
    pub pool: usize,
    /// What it did.
    pub change: LpChange,
    /// Lower tick.
    pub tick_lower: i32,
    /// Upper tick.
    pub tick_upper: i32,
    /// Liquidity added or removed.
    pub liquidity: u128,
    /// Token0 paid in (mint) or freed (burn), raw units, from the pool's event.
    pub amount0: U256,
    /// Token1, same.
    pub amount1: U256,
    /// Liquidity the provider holds in the range afterwards (0: the range is closed).
    pub remaining: u128,
}

/// A sent, not yet mined action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingLp {
    pub(crate) tx: B256,
    position: LpPosition,
    change: LpChange,
    /// For a burn, the ledger entry it takes from.
    entry: Option<usize>,
}

/// The liquidity provider.
#[derive(Debug, Clone)]
pub struct LiquidityProvider {
    opts: LpOpts,
    actor: Address,
    rng: SplitMix64,
    open: Vec<LpPosition>,
    actions: Vec<LpAction>,
}

impl LiquidityProvider {
    /// The provider of `opts.owner`'s `PoolActor` on `world`.
    pub fn new(world: &World, opts: LpOpts) -> Result<Self, TradeError> {
        if world.clmm_pools.is_empty() {
            return Err(TradeError::Opts(
                "a liquidity provider needs concentrated pools".to_owned(),
            ));
        }
        let actor = world
            .actor(opts.owner)
            .ok_or(TradeError::NoActor(opts.owner))?;
        let ok = (0.0..=1.0).contains(&opts.rate)
            && opts.min_units > 0.0
            && opts.min_units <= opts.max_units
            && opts.max_width_ticks > 0;
        if !ok {
            return Err(TradeError::Opts(format!("bad liquidity options {opts:?}")));
        }
        let rng = SplitMix64::new(opts.seed);
        Ok(Self {
            opts,
            actor,
            rng,
            open: Vec::new(),
            actions: Vec::new(),
        })
    }

    /// Its open positions, oldest first, one per pool and range (as the pools keep them).
    pub fn open_positions(&self) -> &[LpPosition] {
        &self.open
    }

    /// Everything it did, in order.
    pub fn actions(&self) -> &[LpAction] {
        &self.actions
    }

    /// Its `PoolActor`.
    pub fn actor(&self) -> Address {
        self.actor
    }

    /// Decides this block's action (maybe none) and sends it.
    pub(crate) fn send(
        &mut self,
        rpc: &Rpc,
        world: &World,
    ) -> Result<Option<PendingLp>, TradeError> {
        if self.rng.next_f64() >= self.opts.rate {
            return Ok(None);
        }
        let burn = !self.open.is_empty() && self.rng.coin();
        let (position, change, entry, call) = if burn {
            let i = self.rng.below(self.open.len() as u64) as usize;
            let held = self.open[i];
            let liquidity = if held.liquidity < 2 || self.rng.coin() {
                held.liquidity
            } else {
                // 20 % to 80 % of it, never all of it.
                let part = 0.2 + 0.6 * self.rng.next_f64();
                ((held.liquidity as f64 * part) as u128).clamp(1, held.liquidity - 1)
            };
            let pool = &world.clmm_pools[held.pool];
            let call = IPoolActor::burnCall {
                pool: pool.address,
                tickLower: int24(held.tick_lower).map_err(TradeError::Opts)?,
                tickUpper: int24(held.tick_upper).map_err(TradeError::Opts)?,
                liquidity,
            }
            .abi_encode();
            let position = LpPosition { liquidity, ..held };
            (position, LpChange::Burn, Some(i), call)
        } else {
            let index = self.rng.below(world.clmm_pools.len() as u64) as usize;
            let pool = &world.clmm_pools[index];
            let spacing = pool.tick_spacing();
            let width = self.rng.log_uniform(
                f64::from(spacing.max(20)),
                f64::from(self.opts.max_width_ticks.max(spacing.max(20))),
            );
            // Mostly around the price, sometimes wholly on one side of it.
            let shift = width * (self.rng.next_f64() * 1.5 - 0.25);
            let units = self
                .rng
                .log_uniform(self.opts.min_units, self.opts.max_units);
            let liquidity = ((pool.unit_liquidity as f64 * units) as u128).max(1);
            let head = heads(rpc, &[(pool.protocol(), pool.address)])?
                .into_iter()
                .next()
                .ok_or_else(|| TradeError::Opts("no pool state".to_owned()))?;
            let lo = align_up(MIN_TICK, spacing);
            let hi = align_down(MAX_TICK, spacing);
            let tick_lower = align_down(head.tick - shift as i32, spacing).clamp(lo, hi - spacing);
            let tick_upper = (tick_lower + align_up(width as i32, spacing).max(spacing))
                .clamp(tick_lower + spacing, hi);
            let call = IPoolActor::mintCall {
                kind: actor_kind(pool.kind),
                pool: pool.address,
                tickLower: int24(tick_lower).map_err(TradeError::Opts)?,
                tickUpper: int24(tick_upper).map_err(TradeError::Opts)?,
                liquidity,
            }
            .abi_encode();
            let position = LpPosition {
                pool: index,
                tick_lower,
                tick_upper,
                liquidity,
            };
            (position, LpChange::Mint, None, call)
        };
        let tx = rpc.send_transaction(
            &TxRequest::call(self.opts.owner, self.actor, call).with_gas(ACTOR_GAS),
        )?;
        Ok(Some(PendingLp {
            tx,
            position,
            change,
            entry,
        }))
    }

    /// Books a mined action from its (successful) receipt.
    pub(crate) fn confirm(
        &mut self,
        pending: PendingLp,
        receipt: &Receipt,
        world: &World,
    ) -> Result<LpAction, TradeError> {
        let p = pending.position;
        let pool = world.clmm_pools[p.pool].address;
        let missing = |what: &'static str| TradeError::MissingEvent {
            tx: receipt.tx,
            what,
        };
        let (amount0, amount1, remaining) = match (pending.change, pending.entry) {
            (LpChange::Mint, _) => {
                let e = mint_event(receipt, pool).ok_or_else(|| missing("Mint"))?;
                // The pool keeps one position per owner and range: a second mint adds to it.
                let same = |o: &&mut LpPosition| {
                    (o.pool, o.tick_lower, o.tick_upper) == (p.pool, p.tick_lower, p.tick_upper)
                };
                let total = match self.open.iter_mut().find(same) {
                    Some(held) => {
                        held.liquidity = held.liquidity.saturating_add(p.liquidity);
                        held.liquidity
                    }
                    None => {
                        self.open.push(p);
                        p.liquidity
                    }
                };
                (e.amount0, e.amount1, total)
            }
            (LpChange::Burn, Some(i)) => {
                let e = burn_event(receipt, pool).ok_or_else(|| missing("Burn"))?;
                let entry = self
                    .open
                    .get_mut(i)
                    .ok_or_else(|| TradeError::Opts(format!("no open position {i}")))?;
                entry.liquidity = entry.liquidity.saturating_sub(p.liquidity);
                let left = entry.liquidity;
                if left == 0 {
                    self.open.remove(i);
                }
                (e.amount0, e.amount1, left)
            }
            (LpChange::Burn, None) => {
                return Err(TradeError::Opts("burn without a position".to_owned()));
            }
        };
        let action = LpAction {
            block: receipt.block_number,
            pool: p.pool,
            change: pending.change,
            tick_lower: p.tick_lower,
            tick_upper: p.tick_upper,
            liquidity: p.liquidity,
            amount0,
            amount1,
            remaining,
        };
        self.actions.push(action);
        Ok(action)
    }
}
