//! What the engine starts from: tokens, DEXes, pools with reserves at a known block.
//!
//! A [`MarketSpec`] comes from pool discovery on a live node, or from a snapshot file (the same
//! type serialised as JSON, see `docs/formats.md`). The engine builds its tables from it once.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// A token the engine knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// ERC-20 contract.
    pub address: Address,
    /// Short name for reports (`"WMATIC"`).
    pub symbol: String,
    /// ERC-20 decimals; used only for display.
    pub decimals: u8,
}

/// A Uniswap-V2-style DEX: one factory, one swap fee for all its pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DexSpec {
    /// Short name for reports (`"quickswap"`).
    pub name: String,
    /// Factory contract.
    pub factory: Address,
    /// Swap fee in basis points (30 = 0.3 %, Uniswap V2's 997/1000). The pair keeps
    /// `amountIn * (10_000 - fee_bps)` of the input when checking its invariant.
    pub fee_bps: u32,
}

/// One V2 pair and its reserves at [`MarketSpec::block`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Pair contract.
    pub address: Address,
    /// Index into [`MarketSpec::dexes`].
    pub dex: u8,
    /// The pair's token0 (lower address).
    pub token0: Address,
    /// The pair's token1.
    pub token1: Address,
    /// Reserve of token0, raw units (uint112 on chain).
    pub reserve0: u128,
    /// Reserve of token1, raw units.
    pub reserve1: u128,
}

/// How much of a start token the executor can put into one route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalSpec {
    /// The start token.
    pub token: Address,
    /// Raw units available: the executor's balance at [`MarketSpec::block`].
    pub amount: u128,
}

/// Everything the engine's tables are built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSpec {
    /// Block the reserves were read at. Logs from this block or earlier are already reflected
    /// and are skipped.
    pub block: u64,
    /// Base fee of that block, wei per gas (until the first head arrives).
    pub base_fee: u128,
    /// Known tokens. Pools whose tokens are not listed here are dropped at load.
    pub tokens: Vec<TokenSpec>,
    /// Known DEXes.
    pub dexes: Vec<DexSpec>,
    /// Known pools.
    pub pools: Vec<PoolSpec>,
    /// The executor's capital per start token; a route never takes more input than this.
    /// Discovery lists every start token. A token not listed is not capped (hand-made markets
    /// in tests and research).
    #[serde(default)]
    pub capital: Vec<CapitalSpec>,
}
