//! The sans-IO core of polyarb: what turns decoded pool events into sized, valued arbitrage
//! routes, with no sockets, threads, clock reads or printing inside.
//!
//! - Frames ([`FeedFrame`] in, [`OpportunityFrame`] and [`TxFrame`] out): fixed-size,
//!   cache-line-aligned `Copy` data that crosses the pipeline's SPSC rings.
//! - [`MarketSpec`]: what the tables are built from (discovery or a snapshot).
//! - Struct-of-arrays tables ([`Tokens`], [`Pools`]), exact swap math per pool kind, cycle
//!   enumeration, the screen/size/value search, and the executor's calldata ([`encode_run`]).
//! - [`Engine`]: `on_frame(&FeedFrame) -> &[OpportunityFrame]`; time comes in on the frames. A
//!   reorg (a removed log, a block hash that is not the one seen) is taken back out of an undo
//!   journal of the newest [`SearchParams::reorg_depth`] blocks.
//! - [`clmm`]: exact Uniswap V3 and Algebra swap math (tick math, steps, whole swaps over tick
//!   windows), reproducing the contracts' rounding.
//!
//! Not for: talking to the node (`polyarb-feeds`), signing (`polyarb-signer`), or running the
//! pipeline, config, files and reports (`polyarb-engine`, the runtime and the `polyarb` binary).

#![forbid(unsafe_code)]

pub mod clmm;
mod cycles;
mod engine;
pub mod fee_model;
mod feed_frame;
mod frame;
mod funding;
mod journal;
mod kind;
mod market;
mod optimum;
mod pools;
mod route;
mod search;
mod v2;

pub use engine::{
    BATCH_ROUTE_POOLS, BuildError, BuildReport, DEFAULT_BLOCK_TIME_S, DEFAULT_HOLD_BLOCKS,
    DEFAULT_MAX_BLOCKS_AHEAD, DEFAULT_MAX_CYCLES, DEFAULT_MAX_ROUTES, Engine, EngineStats,
    GasModel, SearchParams,
};
pub use feed_frame::{
    FLAG_MORE_IN_BATCH, FRAME_WORDS, FeedFrame, FrameKind, ROUTE_DROPPED, ROUTE_MINED,
    ROUTE_REVERTED,
};
pub use frame::{
    Hop, MAX_HOPS, OpportunityFrame, TX_KIND_CANCEL, TX_KIND_NOT_SIGNED, TX_KIND_ROUTE, TX_MAX,
    TxFrame,
};
pub use funding::{FundingSet, Premium};
pub use journal::{DEFAULT_REORG_DEPTH, MAX_REORG_DEPTH, block_tag};
pub use kind::{Funding, PIPS, PoolKind};
pub use market::{
    AlgebraFeeSpec, CapitalSpec, ChainTip, ClStateSpec, DexSpec, LenderSpec, MarketSpec, PoolSpec,
    PoolState, TickSpec, TokenSpec,
};
pub use pools::{
    ClStateError, ClView, PoolId, Pools, QUOTE_UNKNOWN, Staleness, TICK_HEADROOM, TableError,
    TokenId, Tokens, U112_MAX,
};
pub use route::{
    CALLDATA_MAX, HOP_BYTES, MIN_HOPS, RUN_HEADER_BYTES, RUN_SELECTOR, RouteError, calldata_len,
    encode_run, hop_flags,
};
pub use v2::{get_amount_in, get_amount_out};
