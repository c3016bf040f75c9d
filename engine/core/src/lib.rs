//! The sans-IO core of polyarb: what turns decoded pool events into sized, valued arbitrage
//! routes, with no sockets, threads, clock reads or printing inside.
//!
//! Not for: talking to the node (`polyarb-feeds`), signing (`polyarb-signer`), or running the
//! pipeline (`polyarb-engine`, the runtime and the `polyarb` binary).

#![forbid(unsafe_code)]

pub mod clmm;
