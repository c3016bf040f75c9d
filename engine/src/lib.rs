//! The polyarb runtime: configuration, the pinned pipeline that joins feeds, the core engine and
//! the signer on threads, the live, record, snapshot and replay commands, and their reports.
//!
//! The sans-IO core (tables, math, search, frames) is `polyarb-core`; this crate owns everything
//! with a clock, a socket, a thread or a file: the same core runs live, in replay and in tests.
//!
//! The commands ([`app`]) return what they did as summaries and errors; they never print. Printing,
//! the SIGINT/SIGTERM handlers, argument parsing and the log subscriber belong to the `polyarb`
//! binary (`src/main.rs`, feature `cli`, on by default: `default-features = false` leaves `clap`,
//! `signal-hook` and `tracing-subscriber` out of a library build).
//!
//! Not for: talking to the node (`polyarb-feeds`), signing (`polyarb-signer`).

#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod config;
pub mod journal;
pub mod latency;
pub mod metrics;
pub mod pipeline;
pub mod placement;
pub mod report;
pub mod risk;
pub mod snapshot;
pub mod submission;
pub mod threads;
pub mod txbuild;
