//! Websocket client (RFC 6455, `ws://` only): sans-IO handshake and framing, plus the `mio` edge.

mod base64;
mod client;
mod codec;
mod handshake;
mod url;

pub use client::{WsClient, WsError};
pub use codec::{ProtocolError, WsConfig, WsConn, WsEvent};
pub use handshake::{Handshake, HandshakeError, MAX_RESPONSE_HEAD, accept_for_key};
pub use url::{UrlError, WsUrl};
