//! `polyarb-tools`: developer tooling (see `--help`).
fn main() {}
