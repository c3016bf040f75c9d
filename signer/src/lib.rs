//! Signing for polyarb: EIP-1559 (type 2) transactions encoded with `alloy-rlp` and signed with
//! `k256`, the key kept out of logs, and a local nonce counter.
#![forbid(unsafe_code)]
