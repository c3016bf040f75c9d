//! Shared fixtures for polyarb's criterion benches (`benches/`) and the `latency-report` binary.
//!
//! - [`Sample`]: the shipped sample (`data/sample.rec`, `.snapshot.json`, `.toml`) read into
//!   memory once, with builders for a fresh [`Engine`](polyarb_core::Engine) and
//!   [`TxBuilder`](polyarb_engine::txbuild::TxBuilder), and [`replay_pass`]: decode → update →
//!   search over it in order, as the pipeline's stages do, minus the rings and threads.
//! - [`rings`]: SPSC ping-pong between two pinned threads through `rtrb` or
//!   `crossbeam-channel`, a [`FeedFrame`](polyarb_core::FeedFrame) as the payload.
//! - [`baselines`]: serde_json into a borrowed struct and alloy's signing path, the same-run
//!   baselines of the decode and sign measurements.
//! - [`report`]: the latency report's machine facts, text summary, `.hgrm` files and HTML page
//!   (`src/bin/report.rs` measures and fills it).
//! - [`rng`]: the seeded generator (SplitMix64) behind the synthetic markets.
//! - [`synthetic`]: a seeded market of any number of pools (V2, Uniswap V3, Algebra) whose
//!   snapshot round-trips, for the warm-start bench.
//!
//! Timing lives in the benches and the report binary, never in tests.
//!
//! Not for: production code paths; nothing here is used by the `polyarb` binary.
#![forbid(unsafe_code)]

pub mod baselines;
pub mod report;
pub mod rings;
pub mod rng;
mod sample;
pub mod synthetic;

pub use sample::{FixtureError, PassCounts, Payload, Sample, replay_pass};
