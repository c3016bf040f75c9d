//! Cross-module tests of the engine, built as one binary (`tests/it`): scenarios fed through
//! [`Engine::on_frame`](polyarb_core::Engine::on_frame), the allocation proof (this binary's
//! global allocator counts per thread), and the calldata checked against `alloy-sol-types`.

mod alloc;
mod bad_input;
mod cl_state;
mod common;
mod dashboard;
mod differential;
mod discovery;
mod discovery_fee;
mod e2e;
mod e2e_cl;
mod e2e_flash;
mod faults;
mod hot_path;
mod journal;
mod journal_pg;
mod keys_cli;
mod log_limit_peer;
mod metrics;
mod placement;
mod record_writer;
mod reorg_replay;
mod replay;
mod revert_share;
mod risk;
mod route;
mod scenario;
mod submission;
mod tables;
mod warm_restart;
