//! The polyarb engine: pool tables, the arbitrage search, and the pipeline that joins feeds,
//! engine and signer on pinned threads.
//!
//! The core is sans-IO: it takes decoded [`FeedFrame`](polyarb_feeds::FeedFrame)s and returns
//! [`OpportunityFrame`]s, with no sockets, threads or clock inside, so the same code runs live,
//! in replay and in tests. Threads, sockets and time live in the pipeline module and the
//! `polyarb` binary.
//!
//! Not for: talking to the node (that is `polyarb-feeds`), or signing (`polyarb-signer`).

pub mod app;
pub mod clock;
pub mod config;
mod cycles;
mod engine;
mod frame;
pub mod latency;
mod market;
mod math;
pub mod pipeline;
mod pools;
pub mod report;
mod route;
mod search;
pub mod snapshot;
pub mod submit;
pub mod threads;

pub use engine::{BuildError, BuildReport, Engine, EngineStats, SearchParams};
pub use frame::{Hop, MAX_HOPS, OpportunityFrame, TX_MAX, TxFrame};
pub use market::{CapitalSpec, DexSpec, MarketSpec, PoolSpec, TokenSpec};
pub use math::{FEE_DENOM, get_amount_in, get_amount_out};
pub use pools::{PoolId, Pools, TableError, TokenId, Tokens, U112_MAX};
pub use route::{
    CALLDATA_MAX, EXECUTE_SELECTOR, HOP_BYTES, RouteError, calldata_len, encode_execute,
};
