//! Talking to the node: a websocket client on `mio`, JSON-RPC over it, the decoder that turns a
//! log notification into a fixed-size [`FeedFrame`] with no heap allocation, and the recording
//! format that `polyarb record` writes and `polyarb replay` reads.
//!
//! - [`WsClient`]: RFC 6455 client for `ws://` URLs. The protocol lives in the sans-IO
//!   [`WsConn`]; the client adds one non-blocking socket and a `mio::Poll`.
//! - [`RpcClient`]: JSON-RPC over a [`WsClient`]: blocking helpers for start-up (calls,
//!   pipelined batches, subscriptions, [`RpcClient::get_logs_many`] with checked [`Log`]s) and a
//!   non-blocking [`RpcClient::send_raw_transaction`].
//! - [`decode`]: payload bytes and a receive time in, [`Decoded`] out. Hot path: no allocation.
//!   It tracks V2 `Sync`, Uniswap V3 / Algebra `Swap`, `Mint`, `Burn` and Algebra `Fee` logs
//!   ([`TRACKED_TOPICS`]) and new heads. Log notifications in the byte shape geth, Bor and anvil
//!   send take a fixed-layout reader ([`decode_known_shape`]); everything else, the general
//!   parser ([`decode_general`]), which gives the same answer for every payload.
//! - [`RecordWriter`] / [`RecordReader`]: received payloads with their receive times, on disk.
//!
//! The crate has no clock: callers stamp receive times (ns on the pipeline clock) themselves.
//!
//! Not for: anything about pools or prices (that is `polyarb-engine`), signing (`polyarb-signer`).
#![forbid(unsafe_code)]

mod decode;
mod hex;
mod json;
mod logs;
mod record;
mod rpc;
mod ws;

pub use decode::{
    BURN_TOPIC, DecodeError, Decoded, FEE_TOPIC, IgnoreReason, MINT_TOPIC, Reply, Response,
    SWAP_TOPIC, SYNC_TOPIC, TRACKED_TOPICS, decode, decode_general, decode_known_shape,
};
pub use logs::{Log, LogError, LogFilter};
pub use record::{
    Corruption, MAX_RECORD_PAYLOAD, RECORD_MAGIC, RECORD_VERSION, Record, RecordError,
    RecordHeader, RecordReader, RecordRef, RecordWriter,
};
pub use rpc::{BadResponse, BlockHeader, BlockTag, RpcClient, RpcError, RpcStats, quantity_result};
pub use ws::{
    Handshake, HandshakeError, MAX_RESPONSE_HEAD, ProtocolError, UrlError, WsClient, WsConfig,
    WsConn, WsError, WsEvent, WsUrl, accept_for_key,
};
