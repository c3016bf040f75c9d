//! The polyarb engine: pool tables, the arbitrage search, and the pipeline that joins feeds,
//! engine and signer on pinned threads.
//!
//! The core is sans-IO: it takes decoded [`FeedFrame`](polyarb_feeds::FeedFrame)s and returns
//! [`OpportunityFrame`]s, with no sockets, threads or clock inside, so the same code runs live,
//! in replay and in tests. Threads, sockets and time live in the pipeline module and the
//! `polyarb` binary.
//!
//! Not for: talking to the node (that is `polyarb-feeds`), or signing (`polyarb-signer`).

mod frame;
mod market;

pub use frame::{Hop, MAX_HOPS, OpportunityFrame, TX_MAX, TxFrame};
pub use market::{DexSpec, MarketSpec, PoolSpec, TokenSpec};
