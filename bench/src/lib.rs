//! Criterion benches for polyarb's hot path live in `benches/`; this library holds shared fixtures.
#![forbid(unsafe_code)]
