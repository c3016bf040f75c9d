//! The writer behind `polyarb record`: the thread that polls the node's socket hands each payload
//! and its receive time to a preallocated, bounded byte ring and goes back to the socket; a
//! housekeeping thread encodes the recording (with `polyarb-feeds`' encoder, so the file is byte
//! for byte what `RecordWriter` writes for the same payloads) and writes it through io-uring, or
//! with plain `pwrite`s where io-uring cannot be set up. The backend is chosen once, at start, and
//! reported ([`Recorder::backend`]). Format and policy: docs/recording.md.
//!
//! - [`Recorder`]: [`Recorder::start`] writes the header and starts the thread,
//!   [`Recorder::push`] (socket thread, no allocation, no syscall unless the ring is full) queues
//!   a payload, [`Recorder::finish`] writes the rest, syncs the file and says what happened.
//! - [`RecorderConfig`], [`WriterChoice`]: which backend, ring and buffer sizes, queue depth, and
//!   how long a push may wait for room (back-pressure).
//! - [`Backend`], [`Pushed`], [`RecorderSummary`], [`RecorderError`]: what was chosen and done.
//!
//! `unsafe` lives in one module, the io-uring backend (a submitted write reads a buffer the
//! compiler cannot see borrowed); everything else is safe code.
//!
//! Not for: reading recordings or the format itself (`polyarb-feeds`), anything on the trading
//! path.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod handoff;
mod out;
mod recorder;
#[cfg(target_os = "linux")]
#[allow(
    unsafe_code,
    reason = "io-uring submissions point the kernel at our buffers; each block says why they live long enough"
)]
mod uring;

pub use recorder::{
    Backend, Pushed, Recorder, RecorderConfig, RecorderError, RecorderSummary, UnknownWriter,
    WriterChoice,
};
