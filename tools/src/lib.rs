//! Tooling around polyarb: start anvil, talk to it over HTTP JSON-RPC, deploy the real protocol
//! bytecode from npm, and run the scenario that makes the shipped sample.
//!
//! Deliberately independent of `polyarb-engine`, so it can be used to check it.
#![forbid(unsafe_code)]
