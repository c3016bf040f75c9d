//! `polyarb-recorder` through its public API, built as one binary: the file is byte for byte what
//! `RecordWriter` writes for the same payloads, through each backend (property test and a long
//! seeded run); the fallback when io-uring cannot be set up; a real write error; and no
//! allocation on the pushing thread (this binary's global allocator counts per thread).

#[global_allocator]
static GLOBAL: polyarb_alloc_count::Counting = polyarb_alloc_count::Counting;

mod common;
mod fallback;
mod identical;
