//! Simulated traders: seeded random swaps on every kind of pool. On a V2 pair as a router would do
//! them (transfer the input in, then `swap` for the largest output the pair's fee allows); on a
//! Uniswap V3 or Algebra pool through the trader's `PoolActor` (an exact-input `swap` paid in the
//! callback, with a price limit a few percent away). Optionally a [`LiquidityProvider`] acts in
//! the same blocks.

use std::{
    fmt,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, I256, U160, U256};
use alloy_sol_types::SolCall;

use crate::{
    abi::{IERC20, IPoolActor, IUniswapV2Pair},
    clmm_gen::{MAX_SQRT_RATIO, MIN_SQRT_RATIO},
    clmm_world::{ACTOR_GAS, decode_head, head_call, swap_event, swap_in_out},
    liquidity::{LiquidityProvider, LpOpts, PendingLp},
    rng::SplitMix64,
    rpc::{Receipt, Rpc, RpcError, TxRequest},
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
    /// Swaps per block (each on a different pool). Above 1 the node's automine is switched off
    /// and blocks are mined with `evm_mine`.
    pub swaps_per_block: usize,
    /// Smallest swap, as a fraction of the input reserve (a concentrated pool's balance of the
    /// input token).
    pub min_fraction: f64,
    /// Largest swap, as a fraction of the input reserve.
    pub max_fraction: f64,
    /// A concentrated-pool swap stops where the price has moved by this fraction (its price
    /// limit), so no swap runs the price out of the seeded ranges.
    pub max_price_move: f64,
    /// A liquidity provider acting in the same blocks, if any.
    pub liquidity: Option<LpOpts>,
    /// Wall-clock time between blocks: block `k` is mined no earlier than `k · block_pause`
    /// after the start, so a recording spreads its blocks out the way a live chain does
    /// (zero: as fast as the node mines).
    pub block_pause: Duration,
}

impl TraderOpts {
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

    /// One block of up to `n` swaps on distinct random pairs and pools, sized from the state at
    /// the start of the block, then the liquidity provider's action if it takes one. Fewer swaps
    /// if the world has fewer pools.
    pub fn block(&mut self, n: usize) -> Result<Vec<SwapRecord>, TradeError> {
        let picks = self.pick_venues(n);
        // Every random draw of the traders comes before any state is read, so the sequence of
        // venues, directions and fractions depends on the seed alone.
        let draws: Vec<(Venue, bool, f64)> = picks
            .into_iter()
            .map(|venue| {
                let zero_for_one = self.rng.coin();
                let fraction = self
                    .rng
                    .log_uniform(self.opts.min_fraction, self.opts.max_fraction);
                (venue, zero_for_one, fraction)
            })
            .collect();
        let state = self.read_state(&draws)?;

        let mut sent: Vec<(Sent, usize)> = Vec::with_capacity(draws.len());
        let mut txs: Vec<B256> = Vec::with_capacity(2 * draws.len() + 1);
        for (&(venue, zero_for_one, fraction), state) in draws.iter().zip(&state) {
            match (venue, *state) {
                (Venue::Pair(i), Read::Reserves(r0, r1)) => {
                    let pair = &self.world.pairs[i];
                    let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
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
                    txs.push(self.rpc.send_transaction(&transfer)?);
                    txs.push(self.rpc.send_transaction(&swap)?);
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
                    Read::Pool {
                        sqrt_price,
                        balance0,
                        balance1,
                    },
                ) => {
                    let Some(actor) = self.actor else {
                        return Err(TradeError::NoActor(self.opts.trader));
                    };
                    let pool = &self.world.clmm_pools[i];
                    let balance_in = if zero_for_one { balance0 } else { balance1 };
                    let amount_in = scale(balance_in, fraction);
                    let call = IPoolActor::swapCall {
                        pool: pool.address,
                        zeroForOne: zero_for_one,
                        amountSpecified: I256::try_from(amount_in)
                            .map_err(|_| TradeError::Opts("swap beyond int256".to_owned()))?,
                        sqrtPriceLimitX96: price_limit(
                            sqrt_price,
                            zero_for_one,
                            self.opts.max_price_move,
                        ),
                    };
                    let tx = TxRequest::call(self.opts.trader, actor, call.abi_encode())
                        .with_gas(ACTOR_GAS);
                    txs.push(self.rpc.send_transaction(&tx)?);
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

        let receipts = if self.batched {
            self.rpc.mine()?;
            self.rpc.mined_receipts(&txs)?
        } else {
            txs.iter()
                .map(|&tx| self.rpc.wait_receipt(tx))
                .collect::<Result<Vec<_>, _>>()?
        };
        let block = receipts.first().map_or(0, |r| r.block_number);
        let split = receipts.iter().find(|r| r.block_number != block);
        if let (true, Some(r)) = (self.batched, split) {
            return Err(TradeError::SplitBlock {
                first: block,
                other: r.block_number,
            });
        }
        if let (Some(p), Some(lp), Some(r)) = (lp_pending, self.lp.as_mut(), receipts.last()) {
            lp.confirm(p, r, self.world)?;
        }
        sent.into_iter()
            .map(|(s, last_tx)| record(self.world, s, &receipts[last_tx]))
            .collect()
    }

    /// Reserves of the pairs and price and balances of the pools, one batch request.
    fn read_state(&self, draws: &[(Venue, bool, f64)]) -> Result<Vec<Read>, TradeError> {
        let reserves = Bytes::from(IUniswapV2Pair::getReservesCall {}.abi_encode());
        let mut calls: Vec<(Address, Bytes)> = Vec::new();
        for &(venue, ..) in draws {
            match venue {
                Venue::Pair(i) => calls.push((self.world.pairs[i].address, reserves.clone())),
                Venue::Pool(i) => {
                    let pool = &self.world.clmm_pools[i];
                    calls.push((pool.address, head_call(pool.protocol())));
                    for t in [pool.token0, pool.token1] {
                        let balance = IERC20::balanceOfCall {
                            owner: pool.address,
                        };
                        calls.push((self.world.tokens[t].address, balance.abi_encode().into()));
                    }
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
        let mut out = Vec::with_capacity(draws.len());
        for &(venue, ..) in draws {
            out.push(match venue {
                Venue::Pair(_) => {
                    let r = IUniswapV2Pair::getReservesCall::abi_decode_returns(&next()?)
                        .map_err(|e| decode("getReserves()", e))?;
                    Read::Reserves(U256::from(r.reserve0), U256::from(r.reserve1))
                }
                Venue::Pool(i) => {
                    let head = decode_head(self.world.clmm_pools[i].protocol(), &next()?)?;
                    let b0 = IERC20::balanceOfCall::abi_decode_returns(&next()?)
                        .map_err(|e| decode("balanceOf", e))?;
                    let b1 = IERC20::balanceOfCall::abi_decode_returns(&next()?)
                        .map_err(|e| decode("balanceOf", e))?;
                    Read::Pool {
                        sqrt_price: head.sqrt_price,
                        balance0: b0,
                        balance1: b1,
                    }
                }
            });
        }
        Ok(out)
    }

    /// `n` distinct venues, pairs first then pools in the index space (a partial Fisher-Yates
    /// shuffle).
    fn pick_venues(&mut self, n: usize) -> Vec<Venue> {
        let pairs = self.world.pairs.len();
        let mut all: Vec<usize> = (0..pairs + self.world.clmm_pools.len()).collect();
        let n = n.min(all.len());
        for k in 0..n {
            let j = k + self.rng.below((all.len() - k) as u64) as usize;
            all.swap(k, j);
        }
        all.truncate(n);
        all.into_iter()
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

/// What was read for one venue.
#[derive(Debug, Clone, Copy)]
enum Read {
    Reserves(U256, U256),
    Pool {
        sqrt_price: U160,
        balance0: U256,
        balance1: U256,
    },
}

fn record(world: &World, sent: Sent, receipt: &Receipt) -> Result<SwapRecord, TradeError> {
    Ok(match sent {
        Sent::Pair {
            pair,
            zero_for_one,
            amount_in,
            amount_out,
        } => SwapRecord {
            block: receipt.block_number,
            venue: Venue::Pair(pair),
            zero_for_one,
            amount_in,
            amount_out,
        },
        Sent::Pool { pool, zero_for_one } => {
            let e = swap_event(receipt, world.clmm_pools[pool].address).ok_or(
                TradeError::MissingEvent {
                    tx: receipt.tx,
                    what: "Swap",
                },
            )?;
            let (amount_in, amount_out) = swap_in_out(e.amount0, e.amount1);
            SwapRecord {
                block: receipt.block_number,
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
