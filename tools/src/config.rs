//! The polyarb config file (TOML) for a deployed world.
//!
//! Writes exactly the keys the `polyarb` binary reads (see `engine/src/config.rs`, whose parser
//! rejects unknown keys); TOML quoting is left to the `toml` crate.

use std::fmt;

use alloy_primitives::Address;
use serde::Serialize;

use crate::world::World;

/// `[[dexes]] name` of a world's Uniswap V3 factory.
pub const V3_DEX_NAME: &str = "uniswap-v3";
/// `[[dexes]] name` of a world's Algebra factory (the engine QuickSwap V3 runs).
pub const ALGEBRA_DEX_NAME: &str = "algebra";

/// `[funding] sources` names, in the order of the executor's funding byte (0 own capital, 1 flash
/// swap, 2 Balancer V2 flash loan, 3 Aave V3 `flashLoanSimple`).
pub const FUNDING_SOURCES: [&str; 4] = ["capital", "flash-swap", "balancer", "aave"];

/// The funding sources `world` offers, in [`FUNDING_SOURCES`] order: own capital and flash swaps
/// always, each lender if it was deployed.
pub fn funding_sources(world: &World) -> Vec<&'static str> {
    let [capital, flash_swap, balancer, aave] = FUNDING_SOURCES;
    let mut sources = vec![capital, flash_swap];
    if world.balancer.is_some() {
        sources.push(balancer);
    }
    if world.aave.is_some() {
        sources.push(aave);
    }
    sources
}

/// The parts of the config that do not come from the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigParams {
    /// `[node] ws_url`.
    pub ws_url: String,
    /// `[signer] key_env`: the environment variable the live signer reads its key from.
    pub key_env: String,
    /// `[replay] chain_id`.
    pub chain_id: u64,
    /// `[replay] key`: a public test key (anvil's), hex.
    pub replay_key: String,
    /// `[replay] nonce`: the replay signer's next nonce on the chain.
    pub replay_nonce: u64,
    /// `[gas] tip_wei`, wei per gas.
    pub tip_wei: u64,
    /// `[gas] gas_base`, gas units per execute call.
    pub gas_base: u32,
    /// `[gas] gas_per_hop`, gas units per Uniswap-V2-style hop.
    pub gas_per_hop: u32,
    /// `[gas] gas_per_v3_hop`, gas units per Uniswap V3 hop before ticks.
    pub gas_per_v3_hop: u32,
    /// `[gas] gas_per_algebra_hop`, gas units per Algebra hop before ticks.
    pub gas_per_algebra_hop: u32,
    /// `[gas] gas_per_v3_tick`, gas units per initialized tick a V3 hop crosses.
    pub gas_per_v3_tick: u32,
    /// `[gas] gas_per_algebra_tick`, gas units per initialized tick an Algebra hop crosses.
    pub gas_per_algebra_tick: u32,
    /// `[search] min_profit_native_wei`.
    pub min_profit_native_wei: u64,
    /// `[cores]` feed, engine, signer.
    pub cores: [usize; 3],
}

impl ConfigParams {
    /// The defaults of the sample: 30 gwei tip, the executor's measured gas per hop kind and
    /// tick, cores 0/1/1.
    pub fn new(ws_url: String, chain_id: u64, replay_key: String, replay_nonce: u64) -> Self {
        Self {
            ws_url,
            key_env: "POLYARB_PRIVATE_KEY".to_owned(),
            chain_id,
            replay_key,
            replay_nonce,
            tip_wei: 30_000_000_000,
            // The executor's gas model fitted to the real pools (docs/executor.md, "new block"
            // column: every pool's first swap of the block, all accounts and slots cold), each
            // term with about 7 % headroom (the fit's largest error over its 20 routes is
            // 6,973 gas) rounded up to 1,000. base 34,898 + first-hop-V2 transfer 11,071; V2 hop
            // 48,140; V3 hop 68,561; Algebra hop 169,729; tick crossed: V3 25,499, Algebra
            // 36,102.
            // The Algebra figures are those of the npm `@cryptoalgebra/core` 2.0.0 build, which
            // is coverage-instrumented (about 22,000 gas more per hop and 9,000 per tick than
            // QuickSwap's build on Polygon); they are right for the test worlds, which run that
            // build, and an upper bound on Polygon.
            gas_base: 50_000,
            gas_per_hop: 52_000,
            gas_per_v3_hop: 74_000,
            gas_per_algebra_hop: 182_000,
            gas_per_v3_tick: 28_000,
            gas_per_algebra_tick: 39_000,
            min_profit_native_wei: 0,
            cores: [0, 1, 1],
        }
    }
}

/// Why no config could be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The world has no executor, and the config needs one.
    NoExecutor,
    /// Serialization failed.
    Toml(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoExecutor => write!(f, "the world has no executor for [signer] executor"),
            Self::Toml(e) => write!(f, "cannot write config toml: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Serialize)]
struct File<'a> {
    node: Node<'a>,
    signer: Signer<'a>,
    replay: Replay<'a>,
    gas: Gas,
    search: Search<'a>,
    funding: Funding,
    dexes: Vec<DexEntry>,
    tokens: Vec<TokenEntry<'a>>,
    cores: Cores,
}

#[derive(Serialize)]
struct Node<'a> {
    ws_url: &'a str,
}

#[derive(Serialize)]
struct Signer<'a> {
    key_env: &'a str,
    executor: Address,
}

#[derive(Serialize)]
struct Replay<'a> {
    chain_id: u64,
    key: &'a str,
    nonce: u64,
}

#[derive(Serialize)]
struct Gas {
    tip_wei: u64,
    gas_base: u32,
    gas_per_hop: u32,
    gas_per_v3_hop: u32,
    gas_per_algebra_hop: u32,
    gas_per_v3_tick: u32,
    gas_per_algebra_tick: u32,
}

#[derive(Serialize)]
struct Search<'a> {
    native: &'a str,
    start_tokens: Vec<&'a str>,
    min_profit_native_wei: u64,
}

#[derive(Serialize)]
struct Funding {
    sources: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    balancer_vault: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aave_pool: Option<Address>,
}

#[derive(Serialize)]
struct DexEntry {
    kind: &'static str,
    name: &'static str,
    factory: Address,
    /// V2 only: concentrated pools report their own fee.
    #[serde(skip_serializing_if = "Option::is_none")]
    fee_bps: Option<u32>,
    /// V2 only: whether the executor can flash-swap from its pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    flash_swap: Option<bool>,
}

#[derive(Serialize)]
struct TokenEntry<'a> {
    symbol: &'a str,
    address: Address,
    decimals: u8,
}

#[derive(Serialize)]
struct Cores {
    feed: usize,
    engine: usize,
    signer: usize,
}

/// The config TOML for `world` with `params`.
pub fn render_config(world: &World, params: &ConfigParams) -> Result<String, ConfigError> {
    let executor = world.executor.ok_or(ConfigError::NoExecutor)?;
    let file = File {
        node: Node {
            ws_url: &params.ws_url,
        },
        signer: Signer {
            key_env: &params.key_env,
            executor,
        },
        replay: Replay {
            chain_id: params.chain_id,
            key: &params.replay_key,
            nonce: params.replay_nonce,
        },
        gas: Gas {
            tip_wei: params.tip_wei,
            gas_base: params.gas_base,
            gas_per_hop: params.gas_per_hop,
            gas_per_v3_hop: params.gas_per_v3_hop,
            gas_per_algebra_hop: params.gas_per_algebra_hop,
            gas_per_v3_tick: params.gas_per_v3_tick,
            gas_per_algebra_tick: params.gas_per_algebra_tick,
        },
        search: Search {
            native: &world.tokens[world.native].symbol,
            start_tokens: world
                .start_tokens
                .iter()
                .map(|&i| world.tokens[i].symbol.as_str())
                .collect(),
            min_profit_native_wei: params.min_profit_native_wei,
        },
        funding: Funding {
            sources: funding_sources(world),
            balancer_vault: world.balancer_vault(),
            aave_pool: world.aave_pool(),
        },
        dexes: world
            .dexes
            .iter()
            .map(|d| DexEntry {
                kind: "uniswap-v2",
                name: d.dex.name(),
                factory: d.factory,
                fee_bps: Some(d.fee_bps),
                flash_swap: Some(d.dex.flash_swap()),
            })
            .chain(world.v3_factory.map(|factory| DexEntry {
                kind: "uniswap-v3",
                name: V3_DEX_NAME,
                factory,
                fee_bps: None,
                flash_swap: None,
            }))
            .chain(world.algebra_factory.map(|factory| DexEntry {
                kind: "algebra",
                name: ALGEBRA_DEX_NAME,
                factory,
                fee_bps: None,
                flash_swap: None,
            }))
            .collect(),
        tokens: world
            .tokens
            .iter()
            .map(|t| TokenEntry {
                symbol: &t.symbol,
                address: t.address,
                decimals: t.decimals,
            })
            .collect(),
        cores: Cores {
            feed: params.cores[0],
            engine: params.cores[1],
            signer: params.cores[2],
        },
    };
    let body = toml::to_string(&file).map_err(|e| ConfigError::Toml(e.to_string()))?;
    Ok(format!(
        "# polyarb config for a local anvil test world, written by polyarb-tools.\n\
         # [replay].key is anvil's public dev key; [signer] executor is owned by that account.\n\n{body}"
    ))
}
