//! Simulated traders: seeded random swaps straight on the pairs, as a router would do them
//! (transfer the input in, then `swap` for the largest output the pair's fee allows).

use std::{
    fmt,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;

use crate::{
    abi::{IERC20, IUniswapV2Pair},
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
    /// Who trades (an unlocked account holding the tokens).
    pub trader: Address,
    /// RNG seed: the same seed on the same world gives the same swaps.
    pub seed: u64,
    /// Swaps per block (each on a different pair). Above 1 the node's automine is switched off
    /// and blocks are mined with `evm_mine`.
    pub swaps_per_block: usize,
    /// Smallest swap, as a fraction of the input reserve.
    pub min_fraction: f64,
    /// Largest swap, as a fraction of the input reserve.
    pub max_fraction: f64,
}

impl TraderOpts {
    /// Swaps log-uniform from 0.01 % to 3 % of the input reserve, `swaps_per_block` a block.
    pub fn new(trader: Address, seed: u64, swaps_per_block: usize) -> Self {
        Self {
            trader,
            seed,
            swaps_per_block,
            min_fraction: 1e-4,
            max_fraction: 3e-2,
        }
    }
}

/// One swap done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapRecord {
    /// Block it landed in.
    pub block: u64,
    /// Index into [`World::pairs`].
    pub pair: usize,
    /// Input is token0.
    pub zero_for_one: bool,
    /// Input, raw units.
    pub amount_in: U256,
    /// Output, raw units.
    pub amount_out: U256,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradeStats {
    /// Swaps done.
    pub swaps: usize,
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
    /// The world has no pairs.
    NoPairs,
    /// A request or transaction failed (a revert carries its data).
    Rpc(RpcError),
    /// A batch did not land in one block.
    SplitBlock { first: u64, other: u64 },
}

impl fmt::Display for TradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Opts(why) => write!(f, "bad trader options: {why}"),
            Self::NoPairs => write!(f, "the world has no pairs to trade on"),
            Self::Rpc(e) => write!(f, "trade: {e}"),
            Self::SplitBlock { first, other } => {
                write!(f, "a batch landed in blocks {first} and {other}, not one")
            }
        }
    }
}

impl std::error::Error for TradeError {}

impl From<RpcError> for TradeError {
    fn from(e: RpcError) -> Self {
        Self::Rpc(e)
    }
}

/// Seeded random swaps on a world.
#[derive(Debug)]
pub struct Traders<'a> {
    rpc: &'a Rpc,
    world: &'a World,
    opts: TraderOpts,
    rng: SplitMix64,
    batched: bool,
}

impl<'a> Traders<'a> {
    /// Traders on `world`. With `swaps_per_block > 1` the node's automine is switched off.
    pub fn new(rpc: &'a Rpc, world: &'a World, opts: TraderOpts) -> Result<Self, TradeError> {
        if world.pairs.is_empty() {
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
        if opts.swaps_per_block == 0 {
            return Err(TradeError::Opts(
                "swaps_per_block must be at least 1".to_owned(),
            ));
        }
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
        })
    }

    /// `swaps` swaps in blocks of `swaps_per_block` (the last may be smaller).
    pub fn run(&mut self, swaps: usize) -> Result<TradeStats, TradeError> {
        let start = Instant::now();
        let mut stats = TradeStats::default();
        while stats.swaps < swaps {
            let n = (swaps - stats.swaps).min(self.opts.swaps_per_block);
            stats.swaps += self.block(n)?.len();
            stats.blocks += 1;
        }
        stats.elapsed = start.elapsed();
        Ok(stats)
    }

    /// One block of up to `n` swaps on distinct random pairs, sized from the reserves at the
    /// start of the block. Fewer if the world has fewer pairs.
    pub fn block(&mut self, n: usize) -> Result<Vec<SwapRecord>, TradeError> {
        let picks = self.pick_pairs(n);
        let addresses: Vec<Address> = picks.iter().map(|&i| self.world.pairs[i].address).collect();
        let reserves = self.rpc.reserves_many(&addresses)?;

        let mut planned = Vec::with_capacity(picks.len());
        let mut txs: Vec<B256> = Vec::with_capacity(2 * picks.len());
        for (&i, &(r0, r1)) in picks.iter().zip(&reserves) {
            let pair = &self.world.pairs[i];
            let zero_for_one = self.rng.coin();
            let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
            let fraction = self
                .rng
                .log_uniform(self.opts.min_fraction, self.opts.max_fraction);
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
            planned.push((i, zero_for_one, amount_in, out));
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
        Ok(planned
            .into_iter()
            .zip(receipts.chunks(2))
            .map(
                |((pair, zero_for_one, amount_in, amount_out), r)| SwapRecord {
                    block: r[1].block_number,
                    pair,
                    zero_for_one,
                    amount_in,
                    amount_out,
                },
            )
            .collect())
    }

    /// `n` distinct pair indices (a partial Fisher-Yates shuffle).
    fn pick_pairs(&mut self, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..self.world.pairs.len()).collect();
        let n = n.min(all.len());
        for k in 0..n {
            let j = k + self.rng.below((all.len() - k) as u64) as usize;
            all.swap(k, j);
        }
        all.truncate(n);
        all
    }
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
