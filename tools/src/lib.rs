//! Tooling around polyarb: start anvil, talk to it over HTTP JSON-RPC, deploy the real protocol
//! bytecode from npm, simulate traders, and run the scenario that makes the shipped sample.
//!
//! Deliberately independent of `polyarb-engine`, so it can be used to check it (the V2 swap
//! formula in [`amount_out`] is written here again on purpose). Not for production: it signs with
//! anvil's unlocked dev accounts and blocks on every request.
//!
//! - [`Toolchain`]: where anvil, forge and the build artifacts are (`POLYARB_ROOT` overrides).
//! - [`Anvil`]: a node on a free port, killed on drop.
//! - [`Rpc`]: blocking JSON-RPC; a reverted transaction is [`RpcError::Reverted`] with its data.
//! - [`deploy_world`]: tokens, Uniswap V2 and Pancake factories, pairs, Uniswap V3 and Algebra
//!   pools seeded with ranges of liquidity, the flash-loan lenders (the real Balancer V2 Vault and
//!   Aave V3 Pool), the executor, `PoolActor`s for traders and liquidity providers.
//! - [`Traders`]: seeded random swaps on every pool kind, several a block, with an optional
//!   [`LiquidityProvider`] minting and burning ranges in the same blocks.
//! - [`render_config`], [`make_sample`]: the polyarb config and the sample recording.
//! - [`ClmmLab`]: real Uniswap V3 and Algebra V1 (QuickSwap V3) pools on anvil, driven by the
//!   `ClmmProbe` contract; many swap cases per `eth_call`, exact amounts and pool states back
//!   (docs/algebra.md). [`random_case`] makes seeded cases for it.
//! - [`read_pool`]: a live V3 or Algebra pool's price, liquidity, fee and initialized ticks at one
//!   block.
//! - [`wire`]: wire-to-wire measurement: a loopback websocket node that plays a recording to
//!   polyarb and times the signed transactions coming back (docs/wire.md).
#![forbid(unsafe_code)]

pub mod abi;
mod anvil;
mod artifact;
mod clmm;
mod clmm_gen;
mod clmm_state;
mod clmm_world;
mod config;
pub mod faultproxy;
mod lenders;
mod liquidity;
mod paths;
mod rng;
mod rpc;
mod scenario;
mod traders;
mod v2;
pub mod wire;
mod world;

pub use anvil::{Anvil, AnvilError, AnvilOpts, DEV_ACCOUNTS};
pub use artifact::{ArtifactError, load_bytecode};
pub use clmm::{
    ALGEBRA_TICK_SPACING, ALGEBRA_V1_POOL_INIT_CODE_HASH, AlgebraBuild, Case, CaseResult, CaseRun,
    Clmm, ClmmLab, LAB_CODE_SIZE_LIMIT, LabDeployment, LabError, LabOpts, MinedRun, MinedSwap,
    PoolKind, PoolState, Position, Revert, Swap, SwapAmounts, SwapRun, TickLiquidity, V3_FEE_TIERS,
    read_pool_state,
};
pub use clmm_gen::{
    CaseShape, MAX_SQRT_RATIO, MIN_SQRT_RATIO, approx_sqrt_price, random_case, random_kind,
};
pub use clmm_state::{
    MAX_TICK, MIN_TICK, PoolSnapshot, StateError, Words, all_words, read_pool, read_pool_at,
    tick_word, ticks_in_word,
};
pub use clmm_world::{
    ACTOR_GAS, ActorInfo, ClmmPoolInfo, ClmmPoolSpec, seed_ladder, sqrt_price_of,
};
pub use config::{
    ALGEBRA_DEX_NAME, ConfigError, ConfigParams, FUNDING_SOURCES, V3_DEX_NAME, funding_sources,
    render_config,
};
pub use lenders::{
    AAVE_MAX_PREMIUM_BPS, AaveInfo, AaveReserve, AaveSpec, BALANCER_MAX_FLASH_LOAN_FEE,
    BalancerInfo, BalancerSpec, Holding, LENDER_DEPTH_NATIVE_WEI,
};
pub use liquidity::{LiquidityProvider, LpAction, LpChange, LpOpts, LpPosition};
pub use paths::{
    AaveLibrary, Artifact, MissingError, ROOT_ENV, Toolchain, check_executor_artifact,
};
pub use rng::SplitMix64;
pub use rpc::{Log, Receipt, Result as RpcResult, Rpc, RpcError, TxRequest, revert_reason};
pub use scenario::{
    BASE_FEE_WEI, BLOCK_INTERVAL_S, LiveWorld, SUBSCRIBED_LINE, SampleOpts, SampleReport,
    ScenarioError, WorldOpts, lp_seed, make_sample, start_world, world_anvil_opts,
};
pub use traders::{
    SWAP_GAS, SwapRecord, TRANSFER_GAS, TradeError, TradeStats, TraderOpts, Traders, Venue,
    price_limit, swap_calldata, swap_in_one_block, swap_now, swap_txs,
};
pub use v2::{amount_out, pair_accepts};
pub use world::{
    Dex, DexInfo, ExecutorSpec, PairInfo, PairSpec, TokenInfo, TokenSpec, World, WorldError,
    WorldSpec, deploy_world, executor_owner,
};
