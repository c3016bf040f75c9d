//! Cross-module tests of polyarb-signer, built as one binary: shared test vectors, a
//! differential test against alloy's signer, key loading, and a proof of no heap allocation.
//!
//! The binary installs a counting global allocator (see `alloc_free`), so it needs `unsafe`;
//! the library itself stays `#![forbid(unsafe_code)]`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alloc_free;
mod coupons;
mod differential;
mod keys;
mod keystore;
mod vectors;
