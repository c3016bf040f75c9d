//! Pool discovery at start-up: every pool of every configured factory whose two tokens are
//! configured, with its state, all read at one block B so the snapshot is consistent.
//!
//! - Uniswap-V2 factories: `allPairsLength()`, then `allPairs(i)`; per pair `token0()`,
//!   `token1()`, `getReserves()`.
//! - Uniswap V3 and Algebra factories ([`clmm`]): the factory's creation logs up to B
//!   (`eth_getLogs` in chunks the node accepts, [`logscan`]), then per pool its price, tick,
//!   liquidity, fee, spacing and the initialized ticks of a window of bitmap words; per
//!   Algebra pool also its adaptive-fee state ([`algebra_fee`]): the operator's configuration,
//!   the timepoints its one-day window reaches and `volumePerLiquidityInBlock`.
//! - The executor's `balanceOf` each start token (its capital).
//!
//! Calls are pipelined `eth_call`s at block B, in batches of `node.discovery_batch`.

mod abi;
pub mod algebra_fee;
pub mod clmm;
mod lenders;
pub(crate) mod logscan;

pub(crate) use lenders::read_lenders;

use std::collections::HashSet;

use std::fmt;

use alloy_primitives::Address;
use polyarb_feeds::{BlockTag, RpcClient, RpcError};

use super::AppError;
use crate::config::{Config, DexConfig};
use abi::AbiError;
pub use logscan::ScanError;
use polyarb_core::{CapitalSpec, MarketSpec, PoolKind, PoolSpec};

const ALL_PAIRS_LENGTH: [u8; 4] = [0x57, 0x4f, 0x2b, 0xa3];
const ALL_PAIRS: [u8; 4] = [0x1e, 0x3d, 0xd1, 0x8b];
const TOKEN0: [u8; 4] = [0x0d, 0xfe, 0x16, 0x81];
const TOKEN1: [u8; 4] = [0xd2, 0x12, 0x20, 0xa7];
const GET_RESERVES: [u8; 4] = [0x09, 0x02, 0xf1, 0xac];
/// `balanceOf(address)`: the executor's capital, the lenders' offers, their refresh.
pub(crate) const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];

/// Most pairs a V2 factory may list for discovery to read them all without `max_pairs` (the
/// largest Polygon V2 factories list tens of thousands).
pub const MAX_LISTED_PAIRS: u64 = 2_000_000;

/// Why discovery could not read the market. A single pool's bad answer is not one of these (it
/// is skipped and counted); these end discovery.
#[derive(Debug)]
pub enum DiscoveryError {
    /// A `uniswap-v2` DEX without `fee_bps`.
    NoFee {
        /// The DEX.
        dex: String,
    },
    /// A DEX whose pools are not found in logs was asked for its creation logs.
    NotInLogs {
        /// The DEX.
        dex: String,
        /// Its kind.
        kind: PoolKind,
    },
    /// The DEX's `from_block` is after the block discovery reads at.
    FromBlockAfter {
        /// The DEX.
        dex: String,
        /// Its `from_block`.
        from: u64,
        /// The discovery block.
        block: u64,
    },
    /// A factory call failed as a whole (transport, timeout, a node error for the batch).
    Factory {
        /// The DEX.
        dex: String,
        /// Its factory.
        factory: Address,
        /// The calls (`allPairs`, `pool state`, ...).
        what: &'static str,
        /// Why.
        error: RpcError,
    },
    /// A factory's `allPairsLength` answer is not a `uint64` word.
    PairCount {
        /// The DEX.
        dex: String,
        /// Its factory.
        factory: Address,
        /// Why.
        error: AbiError,
    },
    /// A factory lists more pairs than discovery reads without a `max_pairs` cap: a node
    /// answering a huge `allPairsLength` would otherwise make it allocate and call for each.
    TooManyPairs {
        /// The DEX.
        dex: String,
        /// Its factory.
        factory: Address,
        /// What the factory said.
        listed: u64,
    },
    /// The factory's creation logs could not be read.
    Logs {
        /// The DEX.
        dex: String,
        /// Its factory.
        factory: Address,
        /// Why.
        error: ScanError,
    },
    /// The node has no header for the discovery block, whose timestamp Algebra fee models
    /// need.
    NoBlock {
        /// The discovery block.
        block: u64,
    },
    /// A lender's view call failed or answered something else than its ABI says.
    Lender {
        /// The contract called.
        lender: Address,
        /// The call.
        what: &'static str,
    },
    /// The executor names another lender than `[funding]` does.
    LenderMismatch {
        /// Which lender.
        funding: polyarb_core::Funding,
        /// The config's address.
        configured: Address,
        /// The executor's.
        executor: Address,
    },
    /// The executor's `balanceOf` a start token failed or did not fit a `uint128`.
    Capital {
        /// The executor.
        executor: Address,
        /// The start token.
        token: Address,
    },
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoFee { dex } => write!(f, "{dex}: a uniswap-v2 dex needs fee_bps"),
            Self::NotInLogs { dex, kind } => write!(f, "{dex}: {kind} pools are not found in logs"),
            Self::FromBlockAfter { dex, from, block } => {
                write!(
                    f,
                    "{dex}: from_block {from} is after the discovery block {block}"
                )
            }
            Self::Factory {
                dex,
                factory,
                what,
                error,
            } => write!(f, "{dex} factory {factory}: {what}: {error}"),
            Self::PairCount {
                dex,
                factory,
                error,
            } => write!(f, "{dex} factory {factory}: {error}"),
            Self::TooManyPairs {
                dex,
                factory,
                listed,
            } => write!(
                f,
                "{dex} factory {factory} lists {listed} pairs, more than the {MAX_LISTED_PAIRS} \
                 read without a cap; set max_pairs for this dex"
            ),
            Self::Logs {
                dex,
                factory,
                error,
            } => write!(f, "{dex} factory {factory}: {error}"),
            Self::NoBlock { block } => write!(
                f,
                "the node has no block {block}, whose timestamp algebra fee models need"
            ),
            Self::Capital { executor, token } => {
                write!(f, "balanceOf({executor}) on start token {token} failed")
            }
            Self::Lender { lender, what } => {
                write!(f, "lender call {what} on {lender} failed or answered badly")
            }
            Self::LenderMismatch {
                funding,
                configured,
                executor,
            } => write!(
                f,
                "funding.{funding} lender is {configured} in the config but {executor} in the \
                 executor (redeploy the executor or fix [funding])"
            ),
        }
    }
}

impl std::error::Error for DiscoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Factory { error, .. } => Some(error),
            Self::PairCount { error, .. } => Some(error),
            Self::Logs { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What discovery saw besides the market.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// Pools listed: V2 pairs by the factories (up to each `max_pairs`), concentrated pools by
    /// their creation logs (likewise).
    pub listed: u64,
    /// Pools kept (both tokens configured, every read answered and checked).
    pub kept: u64,
    /// Pools skipped because a token is not configured.
    pub foreign: u64,
    /// Pools skipped because a call failed or answered nonsense (counted, logged with the
    /// reason), and malformed creation logs.
    pub failed: u64,
    /// Pools skipped because they were never initialized: a concentrated pool's price is zero,
    /// a V2 pair's reserves are.
    pub uninitialized: u64,
    /// Initialized ticks loaded over all concentrated pools.
    pub ticks: u64,
    /// Algebra pools kept with their adaptive-fee state.
    pub fee_models: u64,
    /// Algebra pools kept without it: their one-day window holds more timepoints than the
    /// DEX's `max_timepoints` (or that is 0).
    pub fee_models_capped: u64,
    /// `timepoints(i)` calls made for the fee models.
    pub timepoints: u64,
    /// `eth_getLogs` requests sent (refused ones included).
    pub log_requests: u64,
    /// Log ranges halved because the node refused them as too large.
    pub log_splits: u64,
}

/// Reads the market at `block`.
pub fn discover(
    rpc: &mut RpcClient,
    cfg: &Config,
    block: u64,
) -> Result<(MarketSpec, DiscoveryStats), AppError> {
    let at = BlockTag::Number(block);
    let batch = cfg.node.discovery_batch.max(1);
    let known: HashSet<Address> = cfg.tokens.iter().map(|t| t.address).collect();
    let mut stats = DiscoveryStats::default();
    let mut pools = Vec::new();

    // Its timestamp is the fee models' clock; its base fee the gas price until the first head.
    let header = rpc
        .block_header(at)
        .map_err(AppError::node("eth_getBlockByNumber"))?;
    // The eth_getLogs span the node accepted so far, carried from one factory to the next.
    let mut log_chunk = cfg.node.logs_chunk_blocks;
    for (dex_index, dex) in cfg.dexes.iter().enumerate() {
        // Validated: at most 255 dexes.
        let dex_index = u8::try_from(dex_index).unwrap_or(u8::MAX);
        match dex.kind {
            PoolKind::UniswapV2 => {
                pools.extend(discover_v2(
                    rpc, dex, dex_index, at, batch, &known, &mut stats,
                )?);
            }
            PoolKind::UniswapV3 | PoolKind::Algebra => pools.extend(clmm::discover_dex(
                rpc,
                cfg,
                (dex_index, dex),
                (block, header.map(|h| h.timestamp)),
                &known,
                &mut log_chunk,
                &mut stats,
            )?),
        }
    }

    let capital = read_capital(rpc, cfg, at)?;
    let lenders = read_lenders(rpc, cfg, at)?;
    let base_fee = header.and_then(|h| h.base_fee_per_gas).unwrap_or(0);
    let market = MarketSpec {
        block,
        base_fee,
        tokens: cfg.token_specs(),
        dexes: cfg.dex_specs(),
        pools,
        capital,
        lenders,
    };
    Ok((market, stats))
}

/// Every pair of a Uniswap-V2 factory: listed by index, then read pair by pair.
fn discover_v2(
    rpc: &mut RpcClient,
    dex: &DexConfig,
    dex_index: u8,
    at: BlockTag,
    batch: usize,
    known: &HashSet<Address>,
    stats: &mut DiscoveryStats,
) -> Result<Vec<PoolSpec>, DiscoveryError> {
    let Some(fee_bps) = dex.fee_bps else {
        return Err(DiscoveryError::NoFee {
            dex: dex.name.clone(),
        });
    };
    // Validated below 10 000 bps by the config.
    let fee_pips = fee_bps * 100;
    let node_err = |what: &'static str, error: RpcError| DiscoveryError::Factory {
        dex: dex.name.clone(),
        factory: dex.factory,
        what,
        error,
    };
    let len_word = rpc
        .eth_call(&dex.factory.0.0, &ALL_PAIRS_LENGTH, at)
        .map_err(|e| node_err("allPairsLength", e))?;
    let listed = abi::uint(&len_word, 0, 64, "allPairsLength")
        .map_err(|error| DiscoveryError::PairCount {
            dex: dex.name.clone(),
            factory: dex.factory,
            error,
        })?
        .to::<u64>();
    let n = match dex.max_pairs {
        Some(m) => m.min(listed),
        None if listed > MAX_LISTED_PAIRS => {
            return Err(DiscoveryError::TooManyPairs {
                dex: dex.name.clone(),
                factory: dex.factory,
                listed,
            });
        }
        None => listed,
    };
    stats.listed += n;

    let mut pools = Vec::new();
    // Grows with what the node actually answers, not with what it claims.
    let mut pairs = Vec::new();
    let mut indices: Vec<[u8; 36]> = Vec::with_capacity(batch);
    let mut next = 0u64;
    while next < n {
        indices.clear();
        let end = n.min(next.saturating_add(batch as u64));
        indices.extend((next..end).map(|i| abi::call_uint(ALL_PAIRS, i)));
        next = end;
        let chunk = &indices[..];
        let calls: Vec<([u8; 20], &[u8])> =
            chunk.iter().map(|d| (dex.factory.0.0, &d[..])).collect();
        for r in rpc
            .eth_call_many(&calls, at)
            .map_err(|e| node_err("allPairs", e))?
        {
            match r.ok().and_then(|w| abi::address(&w, 0, "allPairs").ok()) {
                Some(a) => pairs.push(a),
                None => stats.failed += 1,
            }
        }
    }

    for chunk in pairs.chunks(batch) {
        let mut calls: Vec<([u8; 20], &[u8])> = Vec::with_capacity(chunk.len() * 3);
        for p in chunk {
            calls.push((p.0.0, &TOKEN0));
            calls.push((p.0.0, &TOKEN1));
            calls.push((p.0.0, &GET_RESERVES));
        }
        let answers = rpc
            .eth_call_many(&calls, at)
            .map_err(|e| node_err("pair reads", e))?;
        for (p, a) in chunk.iter().zip(answers.chunks(3)) {
            let [t0, t1, res] = a else { continue };
            let parsed = (|| {
                let token0 = abi::address(t0.as_ref().ok()?, 0, "token0").ok()?;
                let token1 = abi::address(t1.as_ref().ok()?, 0, "token1").ok()?;
                let res = res.as_ref().ok()?;
                let reserve = |i| abi::uint(res, i, 112, "getReserves").ok();
                Some((token0, token1, reserve(0)?.to(), reserve(1)?.to()))
            })();
            match parsed {
                None => {
                    stats.failed += 1;
                    tracing::warn!(pair = %p, dex = %dex.name, "pair did not answer token0/token1/getReserves; skipped");
                }
                Some((token0, token1, _, _))
                    if !known.contains(&token0) || !known.contains(&token1) =>
                {
                    stats.foreign += 1;
                }
                // Never minted: no state to price, and a snapshot must not hold it.
                Some((_, _, 0, _) | (_, _, _, 0)) => stats.uninitialized += 1,
                Some((token0, token1, reserve0, reserve1)) => {
                    stats.kept += 1;
                    pools.push(PoolSpec::v2(
                        *p, dex_index, token0, token1, fee_pips, reserve0, reserve1,
                    ));
                }
            }
        }
    }
    Ok(pools)
}

/// The executor's balance of each start token: the most a route may take in. Without an
/// executor in the config (a research snapshot), routes are uncapped and we say so.
pub(crate) fn read_capital(
    rpc: &mut RpcClient,
    cfg: &Config,
    at: BlockTag,
) -> Result<Vec<CapitalSpec>, AppError> {
    let Some(executor) = cfg.signer.executor else {
        tracing::warn!("no signer.executor: route inputs are not capped by capital");
        return Ok(Vec::new());
    };
    let call = abi::call_address(BALANCE_OF, executor);
    let tokens = cfg.start_token_addresses();
    let calls: Vec<([u8; 20], &[u8])> = tokens.iter().map(|t| (t.0.0, &call[..])).collect();
    let answers = rpc
        .eth_call_many(&calls, at)
        .map_err(AppError::node("balanceOf"))?;
    tokens
        .iter()
        .zip(answers)
        .map(|(token, a)| {
            let amount = a.ok().and_then(|w| abi::uint(&w, 0, 128, "balanceOf").ok());
            let amount = amount
                .map(|v| v.to::<u128>())
                .ok_or(DiscoveryError::Capital {
                    executor,
                    token: *token,
                })?;
            Ok(CapitalSpec {
                token: *token,
                amount,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn selectors_are_keccak_of_signatures() {
        for (sel, sig) in [
            (ALL_PAIRS_LENGTH, "allPairsLength()"),
            (ALL_PAIRS, "allPairs(uint256)"),
            (TOKEN0, "token0()"),
            (TOKEN1, "token1()"),
            (GET_RESERVES, "getReserves()"),
            (BALANCE_OF, "balanceOf(address)"),
        ] {
            assert_eq!(sel, keccak256(sig.as_bytes())[..4], "{sig}");
        }
    }
}
