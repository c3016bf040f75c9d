//! Simulated traders: seeded random swaps on every kind of pool. On a V2 pair as a router would do
//! them (transfer the input in, then `swap` for the largest output the pair's fee allows); on a
//! Uniswap V3 or Algebra pool through the trader's `PoolActor` (an exact-input `swap` paid in the
//! callback, with a price limit a few percent away). Optionally a [`LiquidityProvider`] acts in
//! the same blocks.
//!
//! A block may hold more swaps than the world has venues (up to
//! [`TraderOpts::MAX_SWAPS_PER_BLOCK`]); venues then repeat, and each swap is made to succeed
//! after the earlier ones of its block, mined in the order sent (one sender: nonce order). A V2
//! swap's output is computed on the reserves as the block's earlier swaps on that pair leave
//! them, tracked exactly. A concentrated pool's swaps of one block going one way get price limits
//! stepping away from the block's starting price, each strictly beyond the last, so no earlier
//! swap can leave the price past a later one's limit (the pools revert such a swap, `SPL`).

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, I256, U160, U256};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};

use crate::{
    abi::{IERC20, IPoolActor, IUniswapV2Pair},
    clmm_gen::{MAX_SQRT_RATIO, MIN_SQRT_RATIO},
    clmm_world::{ACTOR_GAS, decode_head, head_call, swap_event, swap_in_out},
    liquidity::{LiquidityProvider, LpOpts, PendingLp},
    rng::SplitMix64,
    rpc::{Log, Receipt, Rpc, RpcError, TxRequest},
    v2::amount_out,
    world::{PairInfo, World},
};

/// Gas limit of a token transfer. Set explicitly: with several swaps pending in one block the
/// node would estimate a swap against the state before its own transfer, and fail.
pub const TRANSFER_GAS: u64 = 100_000;
/// Gas limit of a pair swap (about 75k used).
pub const SWAP_GAS: u64 = 250_000;

/// How the traders trade.
#[derive(Debug, Clone, PartialEq)]
pub struct TraderOpts {
    /// Who trades (an unlocked account holding the tokens, and owning a `PoolActor` if the world
    /// has concentrated pools).
    pub trader: Address,
    /// RNG seed: the same seed on the same world gives the same swaps.
    pub seed: u64,
    /// Swaps per block, 1 to [`TraderOpts::MAX_SWAPS_PER_BLOCK`]: on distinct pairs and pools
    /// while the world has enough, then venues repeat. Above 1 the node's automine is switched
    /// off and blocks are mined with `evm_mine`.
    pub swaps_per_block: usize,
    /// Smallest swap, as a fraction of the input reserve (a concentrated pool's balance of the
    /// input token).
    pub min_fraction: f64,
    /// Largest swap, as a fraction of the input reserve.
    pub max_fraction: f64,
    /// A concentrated-pool swap stops where the price has moved by this fraction (its price
    /// limit), so no swap runs the price out of the seeded ranges. Measured from the block's
    /// starting price: several swaps on one pool in one block together stay within it.
    pub max_price_move: f64,
    /// A liquidity provider acting in the same blocks, if any.
    pub liquidity: Option<LpOpts>,
    /// Wall-clock time between blocks: block `k` is mined no earlier than `k · block_pause`
    /// after the start, so a recording spreads its blocks out the way a live chain does
    /// (zero: as fast as the node mines).
    pub block_pause: Duration,
}

impl TraderOpts {
    /// Most swaps in one block. Issue 6's load runs need 1,000 (about 1,570 transactions on the
    /// all-kinds world, 1.3 s to send, mine and read back with the release build on two busy
    /// cores); 5,000 is about 7,860 transactions, 10 to 13 s, and a block gas limit of 15 to
    /// 30 G (see [`Traders::block`]); anvil's time per transaction sent grows with its pool.
    pub const MAX_SWAPS_PER_BLOCK: usize = 5_000;

    /// Swaps log-uniform from 0.01 % to 3 % of the input reserve, `swaps_per_block` a block,
    /// concentrated-pool swaps limited to a 3 % price move; no liquidity provider.
    pub fn new(trader: Address, seed: u64, swaps_per_block: usize) -> Self {
        Self {
            trader,
            seed,
            swaps_per_block,
            min_fraction: 1e-4,
            max_fraction: 3e-2,
            max_price_move: 0.03,
            liquidity: None,
            block_pause: Duration::ZERO,
        }
    }

    /// With a liquidity provider.
    pub fn with_liquidity(mut self, lp: LpOpts) -> Self {
        self.liquidity = Some(lp);
        self
    }
}

/// Where a swap happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Index into [`World::pairs`].
    Pair(usize),
    /// Index into [`World::clmm_pools`].
    Pool(usize),
}

/// One swap done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapRecord {
    /// Block it landed in.
    pub block: u64,
    /// The pair or pool.
    pub venue: Venue,
    /// Input is token0.
    pub zero_for_one: bool,
    /// Input, raw units (for a concentrated pool what the pool took, from its `Swap` event; less
    /// than asked if the price limit stopped it).
    pub amount_in: U256,
    /// Output, raw units.
    pub amount_out: U256,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradeStats {
    /// Swaps done.
    pub swaps: usize,
    /// Of which on concentrated pools.
    pub pool_swaps: usize,
    /// Liquidity provider actions (mints and burns).
    pub lp_actions: usize,
    /// Blocks they took.
    pub blocks: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Why trading stopped.
#[derive(Debug)]
pub enum TradeError {
    /// Options out of range.
    Opts(String),
    /// The world has no pairs or pools.
    NoPairs,
    /// The account owns no `PoolActor` in the world, and needs one for concentrated pools.
    NoActor(Address),
    /// A request or transaction failed (a revert carries its data).
    Rpc(RpcError),
    /// A batch did not land in one block.
    SplitBlock { first: u64, other: u64 },
    /// A mined transaction lacks the pool event it must have.
    MissingEvent { tx: B256, what: &'static str },
}

impl fmt::Display for TradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Opts(why) => write!(f, "bad trader options: {why}"),
            Self::NoPairs => write!(f, "the world has no pairs to trade on"),
            Self::NoActor(owner) => write!(f, "{owner} owns no pool actor in this world"),
            Self::Rpc(e) => write!(f, "trade: {e}"),
            Self::SplitBlock { first, other } => {
                write!(f, "a batch landed in blocks {first} and {other}, not one")
            }
            Self::MissingEvent { tx, what } => write!(f, "transaction {tx} emitted no {what}"),
        }
    }
}

impl std::error::Error for TradeError {}

impl From<RpcError> for TradeError {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

/// A swap sent, waiting for its block.
enum Sent {
    Pair {
        pair: usize,
        zero_for_one: bool,
        amount_in: U256,
        amount_out: U256,
    },
    Pool {
        pool: usize,
        zero_for_one: bool,
    },
}

/// Seeded random swaps on a world.
#[derive(Debug)]
pub struct Traders<'a> {
    rpc: &'a Rpc,
    world: &'a World,
    opts: TraderOpts,
    rng: SplitMix64,
    batched: bool,
    actor: Option<Address>,
    lp: Option<LiquidityProvider>,
    /// The node's block gas limit, once read (batched mode only).
    block_gas_limit: Option<u64>,
}

impl<'a> Traders<'a> {
    /// Traders on `world`. With `swaps_per_block > 1` the node's automine is switched off.
    pub fn new(rpc: &'a Rpc, world: &'a World, opts: TraderOpts) -> Result<Self, TradeError> {
        if world.pairs.is_empty() && world.clmm_pools.is_empty() {
            return Err(TradeError::NoPairs);
        }
        let fractions_ok = opts.min_fraction > 0.0
            && opts.min_fraction <= opts.max_fraction
            && opts.max_fraction < 1.0;
        if !fractions_ok {
            return Err(TradeError::Opts(format!(
                "fractions {}..{} not within (0, 1)",
                opts.min_fraction, opts.max_fraction
            )));
        }
        if !(opts.max_price_move > 0.0 && opts.max_price_move < 1.0) {
            return Err(TradeError::Opts(format!(
                "max_price_move {} not within (0, 1)",
                opts.max_price_move
            )));
        }
        if opts.swaps_per_block == 0 {
            return Err(TradeError::Opts(
                "swaps_per_block must be at least 1".to_owned(),
            ));
        }
        if opts.swaps_per_block > TraderOpts::MAX_SWAPS_PER_BLOCK {
            return Err(TradeError::Opts(format!(
                "swaps_per_block {} above the most, {}",
                opts.swaps_per_block,
                TraderOpts::MAX_SWAPS_PER_BLOCK
            )));
        }
        let actor = if world.clmm_pools.is_empty() {
            None
        } else {
            Some(
                world
                    .actor(opts.trader)
                    .ok_or(TradeError::NoActor(opts.trader))?,
            )
        };
        let lp = match &opts.liquidity {
            Some(lp) => Some(LiquidityProvider::new(world, lp.clone())?),
            None => None,
        };
        let batched = opts.swaps_per_block > 1;
        if batched {
            rpc.set_automine(false)?;
        }
        let rng = SplitMix64::new(opts.seed);
        Ok(Self {
            rpc,
            world,
            opts,
            rng,
            batched,
            actor,
            lp,
            block_gas_limit: None,
        })
    }

    /// The liquidity provider, if any.
    pub fn liquidity(&self) -> Option<&LiquidityProvider> {
        self.lp.as_ref()
    }

    /// `swaps` swaps in blocks of `swaps_per_block` (the last may be smaller).
    pub fn run(&mut self, swaps: usize) -> Result<TradeStats, TradeError> {
        let start = Instant::now();
        let mut stats = TradeStats::default();
        let lp_before = self.lp.as_ref().map_or(0, |lp| lp.actions().len());
        while stats.swaps < swaps {
            let n = (swaps - stats.swaps).min(self.opts.swaps_per_block);
            let block = self.block(n)?;
            stats.swaps += block.len();
            stats.pool_swaps += block
                .iter()
                .filter(|s| matches!(s.venue, Venue::Pool(_)))
                .count();
            stats.blocks += 1;
            let due = self.opts.block_pause * u32::try_from(stats.blocks).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        stats.lp_actions = self.lp.as_ref().map_or(0, |lp| lp.actions().len()) - lp_before;
        stats.elapsed = start.elapsed();
        Ok(stats)
    }

    /// One block of up to `n` swaps (at most [`TraderOpts::MAX_SWAPS_PER_BLOCK`]) on random
    /// pairs and pools: distinct ones while the world has enough, then each venue again in a new
    /// random order, and so on. Then the liquidity provider's action if it takes one.
    ///
    /// Sized from the state at the start of the block, read once, and tracked locally through
    /// the block (see the module docs), so every swap succeeds when the block is mined unless
    /// someone else's transaction moves a pool first. A swap that would be pointless is left out
    /// (a V2 pair too small to pay anything, a pool pinned at the end of its price range).
    ///
    /// With several swaps a block, the node's block gas limit is raised (`evm_setBlockGasLimit`)
    /// whenever it is below twice the gas limits of the block's transactions, to that or to
    /// twice what it was, whichever is more. So the block's transactions fit in one block with
    /// room for others' and fill at most the EIP-1559 target (the base fee does not climb
    /// because of them). It is never lowered; a block small enough leaves it alone (4 swaps and a
    /// provider's action on pools fit anvil's default 30 M).
    ///
    /// A reverted transaction is [`TradeError::Rpc`] with [`RpcError::Reverted`]; the block is
    /// mined all the same.
    pub fn block(&mut self, n: usize) -> Result<Vec<SwapRecord>, TradeError> {
        if n > TraderOpts::MAX_SWAPS_PER_BLOCK {
            return Err(TradeError::Opts(format!(
                "{n} swaps in a block, above the most, {}",
                TraderOpts::MAX_SWAPS_PER_BLOCK
            )));
        }
        let started = Instant::now();
        let picks = self.pick_venues(n);
        // Every random draw of the traders comes before any state is read, so the sequence of
        // venues, directions and fractions depends on the seed alone.
        let draws: Vec<Draw> = picks
            .into_iter()
            .map(|venue| {
                let zero_for_one = self.rng.coin();
                let fraction = self
                    .rng
                    .log_uniform(self.opts.min_fraction, self.opts.max_fraction);
                Draw {
                    venue,
                    zero_for_one,
                    fraction,
                }
            })
            .collect();
        // The distinct venues in order of first use, and how many swaps go each way on a pool.
        let mut slot: BTreeMap<Venue, usize> = BTreeMap::new();
        let mut venues: Vec<Venue> = Vec::new();
        let mut stages: BTreeMap<(usize, bool), Stage> = BTreeMap::new();
        for d in &draws {
            slot.entry(d.venue).or_insert_with(|| {
                venues.push(d.venue);
                venues.len() - 1
            });
            if let Venue::Pool(i) = d.venue {
                stages.entry((i, d.zero_for_one)).or_default().total += 1;
            }
        }
        let mut local = self.read_state(&venues)?;
        // Batched, the nonces are counted here: the node would look through its whole pool for
        // each one, which grows with the block.
        let mut nonce = if self.batched {
            self.ensure_block_gas(&draws)?;
            Some(self.rpc.next_nonce(self.opts.trader)?)
        } else {
            None
        };

        let mut sent: Vec<(Sent, usize)> = Vec::with_capacity(draws.len());
        let mut txs: Vec<B256> = Vec::with_capacity(2 * draws.len() + 1);
        for d in &draws {
            let Draw {
                venue,
                zero_for_one,
                fraction,
            } = *d;
            match (venue, &mut local[slot[&venue]]) {
                (Venue::Pair(i), Local::Pair { reserves, balances }) => {
                    let pair = &self.world.pairs[i];
                    let (r_in, r_out) = flip(*reserves, zero_for_one);
                    let amount_in = scale(r_in, fraction);
                    let fee = self
                        .world
                        .dex(pair.dex)
                        .map_or(pair.dex.fee_bps(), |d| d.fee_bps);
                    let out = amount_out(amount_in, r_in, r_out, fee).unwrap_or_default();
                    if out.is_zero() {
                        // A drained or tiny pool: nothing sensible to swap this block.
                        continue;
                    }
                    let token_in = self.world.tokens[if zero_for_one {
                        pair.token0
                    } else {
                        pair.token1
                    }]
                    .address;
                    let (transfer, swap) = swap_txs(
                        self.opts.trader,
                        pair,
                        token_in,
                        zero_for_one,
                        amount_in,
                        out,
                    );
                    txs.push(self.send(transfer, &mut nonce)?);
                    txs.push(self.send(swap, &mut nonce)?);
                    // The swap syncs the reserves to the balances: the input (and anything a
                    // reverted swap left in the pair) in, the output out. `out < r_out <= b_out`.
                    let (b_in, b_out) = flip(*balances, zero_for_one);
                    *balances = flip((b_in + amount_in, b_out - out), zero_for_one);
                    *reserves = *balances;
                    let s = Sent::Pair {
                        pair: i,
                        zero_for_one,
                        amount_in,
                        amount_out: out,
                    };
                    sent.push((s, txs.len() - 1));
                }
                (
                    Venue::Pool(i),
                    Local::Pool {
                        sqrt_price,
                        balance0,
                        balance1,
                    },
                ) => {
                    let Some(actor) = self.actor else {
                        return Err(TradeError::NoActor(self.opts.trader));
                    };
                    let stage = stages
                        .get_mut(&(i, zero_for_one))
                        .ok_or_else(|| TradeError::Opts("pool swap not counted".to_owned()))?;
                    stage.sent += 1;
                    let limit = price_limit(
                        *sqrt_price,
                        zero_for_one,
                        staged_move(
                            self.opts.max_price_move,
                            zero_for_one,
                            stage.sent,
                            stage.total,
                        ),
                    );
                    // The price is at or beyond the last limit of this direction (or at the
                    // start price): a limit not strictly past it could be refused.
                    let past = stage.last.unwrap_or(*sqrt_price);
                    let beyond = if zero_for_one {
                        limit < past
                    } else {
                        limit > past
                    };
                    if !beyond {
                        // Pinned at the end of the price range: no room left this way.
                        continue;
                    }
                    stage.last = Some(limit);
                    let pool = &self.world.clmm_pools[i];
                    let balance_in = if zero_for_one { *balance0 } else { *balance1 };
                    let amount_in = scale(balance_in, fraction);
                    let call = IPoolActor::swapCall {
                        pool: pool.address,
                        zeroForOne: zero_for_one,
                        amountSpecified: I256::try_from(amount_in)
                            .map_err(|_| TradeError::Opts("swap beyond int256".to_owned()))?,
                        sqrtPriceLimitX96: limit,
                    };
                    let tx = TxRequest::call(self.opts.trader, actor, call.abi_encode())
                        .with_gas(ACTOR_GAS);
                    txs.push(self.send(tx, &mut nonce)?);
                    sent.push((
                        Sent::Pool {
                            pool: i,
                            zero_for_one,
                        },
                        txs.len() - 1,
                    ));
                }
                _ => return Err(TradeError::Opts("state read out of order".to_owned())),
            }
        }
        let lp_pending: Option<PendingLp> = match self.lp.as_mut() {
            Some(lp) => lp.send(self.rpc, self.world)?,
            None => None,
        };
        if let Some(p) = &lp_pending {
            txs.push(p.tx);
        }

        let sending = started.elapsed();
        let done = if self.batched {
            self.rpc.mine()?;
            let mined = started.elapsed();
            let done = self.mined_logs(&txs);
            tracing::debug!(
                swaps = sent.len(),
                txs = txs.len(),
                send_ms = sending.as_millis() as u64,
                mine_ms = (mined - sending).as_millis() as u64,
                logs_ms = (started.elapsed() - mined).as_millis() as u64,
                "block of swaps"
            );
            done?
        } else {
            let mut done = HashMap::with_capacity(txs.len());
            for &tx in &txs {
                let r = self.rpc.wait_receipt(tx)?;
                done.insert(tx, (r.block_number, r.events));
            }
            done
        };
        if let (Some(p), Some(lp)) = (lp_pending, self.lp.as_mut()) {
            let receipt = self.rpc.mined_receipts(&[p.tx])?;
            lp.confirm(p, &receipt[0], self.world)?;
        }
        sent.into_iter()
            .map(|(s, last_tx)| {
                let tx = txs[last_tx];
                let (block, logs) = done
                    .get(&tx)
                    .ok_or_else(|| TradeError::Opts(format!("{tx} not followed")))?;
                record(self.world, s, tx, *block, logs)
            })
            .collect()
    }

    /// Sends `tx` from the trader, with `nonce` if counting them (then counts it up).
    fn send(&self, mut tx: TxRequest, nonce: &mut Option<u64>) -> Result<B256, TradeError> {
        tx.nonce = *nonce;
        let hash = self.rpc.send_transaction(&tx)?;
        if let Some(n) = nonce.as_mut() {
            *n += 1;
        }
        Ok(hash)
    }

    /// The block and logs of each of `txs`, all mined in the node's newest block. From the
    /// block's logs (`eth_getLogs`), not the receipts: anvil builds each receipt in time growing
    /// with its block (a receipt of a 3,000-swap block took 5 ms, all of them 10 s), its logs
    /// come at once. Every transaction the traders and the provider send logs something when
    /// it succeeds (a transfer, a swap, a mint or burn); one that did not is looked up on its
    /// own: the first such (in the order sent) that reverted is [`RpcError::Reverted`], one in
    /// another block [`TradeError::SplitBlock`].
    fn mined_logs(&self, txs: &[B256]) -> Result<HashMap<B256, (u64, Vec<Log>)>, TradeError> {
        let Some(&first) = txs.first() else {
            return Ok(HashMap::new());
        };
        let block = self.rpc.mined_receipts(&[first])?[0].block_number;
        let mut done: HashMap<B256, (u64, Vec<Log>)> = HashMap::with_capacity(txs.len());
        for log in self.rpc.logs(block, block, &[])? {
            done.entry(log.transaction_hash)
                .or_insert_with(|| (log.block_number, Vec::new()))
                .1
                .push(log);
        }
        for &tx in txs {
            if done.contains_key(&tx) {
                continue;
            }
            let r = self.rpc.mined_receipts(&[tx])?.swap_remove(0);
            if r.block_number != block {
                return Err(TradeError::SplitBlock {
                    first: block,
                    other: r.block_number,
                });
            }
            done.insert(tx, (r.block_number, r.events));
        }
        Ok(done)
    }

    /// Raises the node's block gas limit if it is below twice the gas limits of this block's
    /// transactions (an upper bound: a swap left out sends nothing).
    fn ensure_block_gas(&mut self, draws: &[Draw]) -> Result<(), TradeError> {
        let swaps: u64 = draws
            .iter()
            .map(|d| match d.venue {
                Venue::Pair(_) => TRANSFER_GAS + SWAP_GAS,
                Venue::Pool(_) => ACTOR_GAS,
            })
            .sum();
        let lp = if self.lp.is_some() { ACTOR_GAS } else { 0 };
        let want = (swaps + lp).saturating_mul(2);
        let have = match self.block_gas_limit {
            Some(limit) => limit,
            None => {
                let block: Value = self
                    .rpc
                    .call("eth_getBlockByNumber", json!(["latest", false]))?;
                let limit = block["gasLimit"]
                    .as_str()
                    .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
                    .ok_or_else(|| {
                        TradeError::Rpc(RpcError::Decode {
                            method: "eth_getBlockByNumber".to_owned(),
                            message: format!("no gasLimit quantity in {block}"),
                        })
                    })?;
                self.block_gas_limit = Some(limit);
                limit
            }
        };
        if want > have {
            // At least doubled, so a run whose blocks vary a little settles after one raise.
            let to = want.max(have.saturating_mul(2));
            self.rpc
                .request("evm_setBlockGasLimit", json!([format!("{to:#x}")]))?;
            tracing::info!(from = have, to, "raised the node's block gas limit");
            self.block_gas_limit = Some(to);
        }
        Ok(())
    }

    /// Reserves and balances of the pairs, price and balances of the pools, one batch request.
    fn read_state(&self, venues: &[Venue]) -> Result<Vec<Local>, TradeError> {
        let reserves = Bytes::from(IUniswapV2Pair::getReservesCall {}.abi_encode());
        let mut calls: Vec<(Address, Bytes)> = Vec::new();
        let balances = |calls: &mut Vec<(Address, Bytes)>, owner: Address, tokens: [usize; 2]| {
            for t in tokens {
                let balance = IERC20::balanceOfCall { owner };
                calls.push((self.world.tokens[t].address, balance.abi_encode().into()));
            }
        };
        for &venue in venues {
            match venue {
                Venue::Pair(i) => {
                    let pair = &self.world.pairs[i];
                    calls.push((pair.address, reserves.clone()));
                    balances(&mut calls, pair.address, [pair.token0, pair.token1]);
                }
                Venue::Pool(i) => {
                    let pool = &self.world.clmm_pools[i];
                    calls.push((pool.address, head_call(pool.protocol())));
                    balances(&mut calls, pool.address, [pool.token0, pool.token1]);
                }
            }
        }
        let mut answers = self.rpc.calls_many(&calls)?.into_iter();
        let mut next = || -> Result<Bytes, TradeError> {
            Ok(answers
                .next()
                .ok_or_else(|| TradeError::Opts("missing answer".to_owned()))??)
        };
        let decode = |what: &str, e: alloy_sol_types::Error| {
            TradeError::Rpc(RpcError::Decode {
                method: what.to_owned(),
                message: e.to_string(),
            })
        };
        let balance = |answer: Bytes| {
            IERC20::balanceOfCall::abi_decode_returns(&answer).map_err(|e| decode("balanceOf", e))
        };
        let mut out = Vec::with_capacity(venues.len());
        for &venue in venues {
            out.push(match venue {
                Venue::Pair(_) => {
                    let r = IUniswapV2Pair::getReservesCall::abi_decode_returns(&next()?)
                        .map_err(|e| decode("getReserves()", e))?;
                    let b0 = balance(next()?)?;
                    let b1 = balance(next()?)?;
                    Local::Pair {
                        reserves: (U256::from(r.reserve0), U256::from(r.reserve1)),
                        balances: (b0, b1),
                    }
                }
                Venue::Pool(i) => {
                    let head = decode_head(self.world.clmm_pools[i].protocol(), &next()?)?;
                    Local::Pool {
                        sqrt_price: head.sqrt_price,
                        balance0: balance(next()?)?,
                        balance1: balance(next()?)?,
                    }
                }
            });
        }
        Ok(out)
    }

    /// `n` venues, pairs first then pools in the index space: a random order of all of them
    /// (a Fisher-Yates shuffle, partial for the last round), again and again until there are
    /// `n`. Up to the number of venues they are distinct, drawn as they always were.
    fn pick_venues(&mut self, n: usize) -> Vec<Venue> {
        let pairs = self.world.pairs.len();
        pick(&mut self.rng, pairs + self.world.clmm_pools.len(), n)
            .into_iter()
            .map(|i| {
                if i < pairs {
                    Venue::Pair(i)
                } else {
                    Venue::Pool(i - pairs)
                }
            })
            .collect()
    }
}

/// One swap as drawn.
#[derive(Debug, Clone, Copy)]
struct Draw {
    venue: Venue,
    zero_for_one: bool,
    fraction: f64,
}

/// One direction's swaps on one pool in one block.
#[derive(Debug, Clone, Copy, Default)]
struct Stage {
    /// How many were drawn.
    total: usize,
    /// How many were reached so far (sent or left out).
    sent: usize,
    /// The price limit of the last one sent.
    last: Option<U160>,
}

/// `n` indices into `0..venues`: rounds of a random order of all of them, the last round cut
/// short (a partial Fisher-Yates shuffle). Empty if there are no venues.
fn pick(rng: &mut SplitMix64, venues: usize, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    while venues > 0 && out.len() < n {
        let mut all: Vec<usize> = (0..venues).collect();
        let take = (n - out.len()).min(venues);
        for k in 0..take {
            let j = k + rng.below((venues - k) as u64) as usize;
            all.swap(k, j);
        }
        out.extend_from_slice(&all[..take]);
    }
    out
}

/// The price move of the `k`-th (from 1) of `total` swaps going one way on one pool in one
/// block: even steps in log price, the last one `max_move` (exactly, so a lone swap's limit is
/// what it always was).
fn staged_move(max_move: f64, zero_for_one: bool, k: usize, total: usize) -> f64 {
    if k >= total {
        return max_move;
    }
    let step = k as f64 / total as f64;
    if zero_for_one {
        1.0 - (1.0 - max_move).powf(step)
    } else {
        (1.0 + max_move).powf(step) - 1.0
    }
}

/// `(token0 side, token1 side)` as `(input side, output side)` for a swap's direction, and back.
fn flip<T>((a, b): (T, T), zero_for_one: bool) -> (T, T) {
    if zero_for_one { (a, b) } else { (b, a) }
}

/// What a block's swaps know of a venue: read at the block's start, and for a pair updated by
/// each swap sent on it.
#[derive(Debug, Clone, Copy)]
enum Local {
    /// A V2 pair's reserves, and its balances of token0 and token1 (above the reserves when a
    /// reverted swap left its input behind; the next swap syncs the reserves to them).
    Pair {
        reserves: (U256, U256),
        balances: (U256, U256),
    },
    /// A concentrated pool's price and balances at the block's start.
    Pool {
        sqrt_price: U160,
        balance0: U256,
        balance1: U256,
    },
}

fn record(
    world: &World,
    sent: Sent,
    tx: B256,
    block: u64,
    logs: &[Log],
) -> Result<SwapRecord, TradeError> {
    Ok(match sent {
        Sent::Pair {
            pair,
            zero_for_one,
            amount_in,
            amount_out,
        } => SwapRecord {
            block,
            venue: Venue::Pair(pair),
            zero_for_one,
            amount_in,
            amount_out,
        },
        Sent::Pool { pool, zero_for_one } => {
            let e = swap_event(logs, world.clmm_pools[pool].address)
                .ok_or(TradeError::MissingEvent { tx, what: "Swap" })?;
            let (amount_in, amount_out) = swap_in_out(e.amount0, e.amount1);
            SwapRecord {
                block,
                venue: Venue::Pool(pool),
                zero_for_one,
                amount_in,
                amount_out,
            }
        }
    })
}

/// A price limit `max_move` away from `sqrt_price` in the swap's direction (the price moves by the
/// square of the √price factor), kept strictly inside the pools' bounds and strictly on the
/// swap's side of the current price.
pub fn price_limit(sqrt_price: U160, zero_for_one: bool, max_move: f64) -> U160 {
    let factor = if zero_for_one {
        (1.0 - max_move).sqrt()
    } else {
        (1.0 + max_move).sqrt()
    };
    // Q32 fixed point: plenty for a test limit, and the product stays within 192 bits.
    let q32 = (factor * 4_294_967_296.0) as u64;
    let p = U256::from(sqrt_price);
    let limit = (p * U256::from(q32)) >> 32usize;
    let (lo, hi) = (
        U256::from(MIN_SQRT_RATIO) + U256::from(1u8),
        U256::from(MAX_SQRT_RATIO) - U256::from(1u8),
    );
    let limit = if zero_for_one {
        limit.min(p.saturating_sub(U256::from(1u8))).max(lo)
    } else {
        limit.max(p + U256::from(1u8)).min(hi)
    };
    U160::saturating_from(limit)
}

/// `reserve · fraction`, at least 1.
fn scale(reserve: U256, fraction: f64) -> U256 {
    // 2^-40 resolution on the fraction is plenty for test sizes and keeps the product exact.
    let ppt = (fraction * (1u64 << 40) as f64) as u64;
    ((reserve * U256::from(ppt)) >> 40usize).max(U256::from(1))
}

/// The two transactions of one swap: transfer `amount_in` of `token_in` from `trader` to the pair,
/// then `swap` for `amount_out` to `trader`. Explicit gas limits, so they can wait in one block.
pub fn swap_txs(
    trader: Address,
    pair: &PairInfo,
    token_in: Address,
    zero_for_one: bool,
    amount_in: U256,
    amount_out: U256,
) -> (TxRequest, TxRequest) {
    let transfer = TxRequest::call(
        trader,
        token_in,
        IERC20::transferCall {
            to: pair.address,
            value: amount_in,
        }
        .abi_encode(),
    )
    .with_gas(TRANSFER_GAS);
    let swap = TxRequest::call(
        trader,
        pair.address,
        swap_calldata(zero_for_one, amount_out, trader),
    )
    .with_gas(SWAP_GAS);
    (transfer, swap)
}

/// `swap(amount0Out, amount1Out, to, "")` for an exact output on the side `zero_for_one` implies.
pub fn swap_calldata(zero_for_one: bool, amount_out: U256, to: Address) -> Vec<u8> {
    let (out0, out1) = if zero_for_one {
        (U256::ZERO, amount_out)
    } else {
        (amount_out, U256::ZERO)
    };
    IUniswapV2Pair::swapCall {
        amount0Out: out0,
        amount1Out: out1,
        to,
        data: Bytes::new(),
    }
    .abi_encode()
}

/// One swap on an automining node: transfer in, swap, both receipts checked.
pub fn swap_now(
    rpc: &Rpc,
    trader: Address,
    pair: &PairInfo,
    token_in: Address,
    zero_for_one: bool,
    amount_in: U256,
    amount_out: U256,
) -> Result<(Receipt, Receipt), RpcError> {
    let (transfer, swap) = swap_txs(trader, pair, token_in, zero_for_one, amount_in, amount_out);
    Ok((rpc.transact(&transfer)?, rpc.transact(&swap)?))
}

/// The priority fee [`swap_in_one_block`] bids, wei per gas: far above what polyarb's tests
/// bid (`tip_wei`, 30 gwei by default), so the trader's pair of transactions comes first.
pub const FRONT_TIP_WEI: u128 = 1_000_000_000_000;

/// [`swap_now`] in one block: with automine off, the transfer and the swap go into the pool
/// with [`FRONT_TIP_WEI`] and one `evm_mine` takes them first, in nonce order. A transaction
/// an engine sends meanwhile cannot land between them (where the pair would count the
/// transfer as that transaction's input and leave the trader's swap none). Needs a node that
/// automines; automine is on again when this returns.
pub fn swap_in_one_block(
    rpc: &Rpc,
    trader: Address,
    pair: &PairInfo,
    token_in: Address,
    zero_for_one: bool,
    amount_in: U256,
    amount_out: U256,
) -> Result<(Receipt, Receipt), RpcError> {
    let (transfer, swap) = swap_txs(trader, pair, token_in, zero_for_one, amount_in, amount_out);
    let fees = |tx: TxRequest| tx.with_fees(2 * FRONT_TIP_WEI, FRONT_TIP_WEI);
    rpc.set_automine(false)?;
    let sent = rpc
        .send_transaction(&fees(transfer))
        .and_then(|t| Ok((t, rpc.send_transaction(&fees(swap))?)));
    let mined = rpc.mine();
    rpc.set_automine(true)?;
    let (transfer, swap) = sent?;
    mined?;
    Ok((rpc.wait_receipt(transfer)?, rpc.wait_receipt(swap)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_a_fraction_and_never_zero() {
        let r = U256::from(10u128.pow(24));
        let s = scale(r, 0.01);
        let want = U256::from(10u128.pow(22));
        assert!(s <= want && s > want - U256::from(10u128.pow(12)), "{s}");
        assert_eq!(scale(U256::from(5), 1e-4), U256::from(1));
    }

    /// The venue picks before repeats existed: a partial Fisher-Yates shuffle of `n.min(venues)`.
    fn pick_distinct(rng: &mut SplitMix64, venues: usize, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..venues).collect();
        let n = n.min(venues);
        for k in 0..n {
            let j = k + rng.below((venues - k) as u64) as usize;
            all.swap(k, j);
        }
        all.truncate(n);
        all
    }

    #[test]
    fn picks_repeat_venues_in_rounds_and_keep_the_old_draws_up_to_the_venues() {
        for (venues, n) in [(63, 1), (63, 40), (63, 63), (6, 6), (1, 1)] {
            let (mut a, mut b) = (SplitMix64::new(9), SplitMix64::new(9));
            assert_eq!(pick(&mut a, venues, n), pick_distinct(&mut b, venues, n));
            assert_eq!(a, b, "same draws consumed");
        }
        for (venues, n) in [(63, 200), (63, 1_000), (6, 20), (1, 5)] {
            let picks = pick(&mut SplitMix64::new(n as u64), venues, n);
            assert_eq!(picks.len(), n);
            // Each round is a permutation of all venues, the last one cut short.
            for round in picks.chunks(venues) {
                let mut seen = round.to_vec();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), round.len(), "{round:?}");
                assert!(seen.iter().all(|&v| v < venues));
            }
            let mut count = vec![0usize; venues];
            picks.iter().for_each(|&v| count[v] += 1);
            let (lo, hi) = (n / venues, n.div_ceil(venues));
            assert!(count.iter().all(|c| (lo..=hi).contains(c)), "{count:?}");
        }
        assert!(pick(&mut SplitMix64::new(1), 0, 10).is_empty());
        assert_ne!(
            pick(&mut SplitMix64::new(1), 63, 200),
            pick(&mut SplitMix64::new(2), 63, 200)
        );
    }

    #[test]
    fn staged_limits_step_strictly_outwards_and_end_at_the_full_move() {
        let start = U160::from(3u128 << 95);
        for zero_for_one in [true, false] {
            for total in [1, 2, 7, 80] {
                let limits: Vec<U160> = (1..=total)
                    .map(|k| {
                        price_limit(
                            start,
                            zero_for_one,
                            staged_move(0.03, zero_for_one, k, total),
                        )
                    })
                    .collect();
                let mut prev = start;
                for &l in &limits {
                    assert!(if zero_for_one { l < prev } else { l > prev }, "{limits:?}");
                    prev = l;
                }
                // The last one is exactly the lone swap's limit.
                assert_eq!(prev, price_limit(start, zero_for_one, 0.03));
            }
        }
        // Even steps in log price.
        let half = staged_move(0.03, true, 1, 2);
        assert!(((1.0 - half) * (1.0 - half) - 0.97).abs() < 1e-12);
        let half = staged_move(0.03, false, 1, 2);
        assert!(((1.0 + half) * (1.0 + half) - 1.03).abs() < 1e-12);
    }

    #[test]
    fn price_limits_sit_on_the_swaps_side_within_bounds() {
        let one = U160::from(1u128 << 96);
        let down = price_limit(one, true, 0.03);
        let up = price_limit(one, false, 0.03);
        // The price (the square) moves by 3 %, to within the Q32 factor's rounding.
        let price = |p: U160| {
            let x = p.to::<u128>() as f64 / (1u128 << 96) as f64;
            x * x
        };
        assert!((price(down) - 0.97).abs() < 1e-9, "{down}");
        assert!((price(up) - 1.03).abs() < 1e-9, "{up}");
        // Next to the bounds the limit stays strictly inside them and beyond the price.
        let low = MIN_SQRT_RATIO + U160::from(2u8);
        assert_eq!(
            price_limit(low, true, 0.5),
            MIN_SQRT_RATIO + U160::from(1u8)
        );
        let high = MAX_SQRT_RATIO - U160::from(2u8);
        assert_eq!(
            price_limit(high, false, 0.5),
            MAX_SQRT_RATIO - U160::from(1u8)
        );
        // A tiny move still moves the limit off the price.
        assert!(price_limit(low + U160::from(1u8), true, 1e-12) < low + U160::from(1u8));
        assert!(price_limit(one, false, 1e-12) > one);
    }

    #[test]
    fn swap_calldata_puts_output_on_the_right_side() {
        let to = Address::repeat_byte(7);
        let call =
            IUniswapV2Pair::swapCall::abi_decode(&swap_calldata(true, U256::from(9), to)).unwrap();
        assert_eq!(
            (call.amount0Out, call.amount1Out, call.to),
            (U256::ZERO, U256::from(9), to)
        );
        let call =
            IUniswapV2Pair::swapCall::abi_decode(&swap_calldata(false, U256::from(9), to)).unwrap();
        assert_eq!(
            (call.amount0Out, call.amount1Out),
            (U256::from(9), U256::ZERO)
        );
    }
}
