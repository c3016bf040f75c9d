//! Cross-module tests of polyarb-feeds, one binary (see STYLE.md). The websocket client runs
//! against Python's `websockets` server and a hand-rolled peer, the JSON-RPC client against a real
//! anvil node, the decoder against real Uniswap V2, V3 and Algebra bytecode on it. They need the pinned toolchain (tools/toolchain/install.sh) and fail, not skip,
//! without it.

mod alloc;
mod anvil;
mod clmm;
mod known_shape;
mod rpc_peer;
mod support;
mod ws_peer;
mod ws_python;
