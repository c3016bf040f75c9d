//! Talking to the node: a websocket client on `mio`, JSON-RPC over it, and the decoder that turns
//! a log notification into a fixed-size [`FeedFrame`] with no heap allocation.
//!
//! Not for: anything about pools or prices (that is `polyarb-engine`).

mod frame;

pub use frame::{FRAME_WORDS, FeedFrame, FrameKind};
