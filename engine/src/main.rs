//! The `polyarb` binary.
fn main() {}
