//! The fixed-size frame the decoder emits and the engine consumes.
//!
//! One frame is one event from the node: a tracked log or a new block head. It is plain data
//! (`Copy`, no pointers) so it can cross an SPSC ring by value with no allocation.

/// What a [`FeedFrame`] carries. `repr(u8)` so the frame layout is stable.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FrameKind {
    /// Zeroed frame; never emitted by the decoder.
    #[default]
    Empty = 0,
    /// Uniswap-V2-style `Sync(uint112 reserve0, uint112 reserve1)`.
    /// `words[0]` = reserve0, `words[1]` = reserve1 (32-byte big-endian, raw units of each token).
    V2Sync = 1,
    /// A `newHeads` notification. `words[0]` = base fee (wei per gas), `words[1]` = timestamp (s,
    /// also in `block_time`), `words[2]` = the block's `hash`, `words[3]` = its `parentHash`
    /// (zeros: not sent; the engine then cannot see a reorg from heads). `address` is zero;
    /// `block_number` is the head's number.
    NewHead = 2,
    /// A concentrated-liquidity pool's `Swap(address,address,int256,int256,uint160,uint128,int24)`
    /// (Uniswap V3 and Algebra share the signature; the engine tells them apart by pool).
    /// The pool's state after the swap: `words[0]` = sqrt price (Q64.96, uint160),
    /// `words[1]` = active liquidity (uint128), `tick` = tick (int24); and what it traded:
    /// `words[2]` = amount0, `words[3]` = amount1 (int256 ABI words, positive = paid into the
    /// pool, raw units; an Algebra pool's fee model reads both).
    ClSwap = 3,
    /// A concentrated-liquidity pool's `Mint`: `words[0]` = tickLower, `words[1]` = tickUpper
    /// (int24, sign-extended ABI words, from topics 2 and 3), `words[2]` = liquidity added
    /// (uint128).
    ClMint = 4,
    /// A concentrated-liquidity pool's `Burn`: same layout as [`FrameKind::ClMint`], liquidity
    /// removed (0 for a fee-collecting poke).
    ClBurn = 5,
    /// An Algebra pool's `Fee(uint16)`: `words[0]` = the new fee, pips (uint16).
    AlgebraFee = 6,
    /// Not from the node: the live edge's word on a sent route's transaction
    /// ([`FeedFrame::route_ended`]). `words[0]` = the route's opportunity `seq` (u64, big-endian
    /// in the word's last 8 bytes); `words[1]` = [`ROUTE_DROPPED`], [`ROUTE_MINED`] or
    /// [`ROUTE_REVERTED`].
    /// `block_number` is 0: the frame moves no block or clock.
    RouteEnded = 7,
    /// Not from the node's logs: what a flash lender can lend now, read by the live edge
    /// ([`FeedFrame::lender_offer`]). `address` = the token, `words[0]` = the raw units available
    /// (uint256; above u128 counts as u128::MAX), `words[1]` = the [`Funding`](crate::Funding)
    /// source (`u8` in the last byte). `block_number` is 0: the frame moves no block or clock.
    LenderOffer = 8,
}

/// [`FrameKind::RouteEnded`]: the transaction will not land (refused, replaced by a cancel the
/// node took, its nonce used by another, never written).
pub const ROUTE_DROPPED: u8 = 0;
/// [`FrameKind::RouteEnded`]: the account's count passed the transaction's nonce with the route
/// as its newest version: it was mined, and landed or reverted.
pub const ROUTE_MINED: u8 = 1;
/// [`FrameKind::RouteEnded`]: the transaction's receipt says it reverted: it moved no pool.
pub const ROUTE_REVERTED: u8 = 2;

/// [`FeedFrame::flags`]: more frames of the same batch follow this one (the feed stage read them
/// together: same block, nothing in between that ended the burst). The engine applies the frame
/// and defers the search to the batch's last frame, so every pool the batch touched is searched
/// once, at the state after all of it. A frame without the flag ends its batch (a lone frame is a
/// batch of one).
pub const FLAG_MORE_IN_BATCH: u8 = 1;

/// Number of 32-byte data words a frame holds.
pub const FRAME_WORDS: usize = 4;

/// One decoded event, 192 bytes (three cache lines), aligned to a cache line so two frames never
/// share one across the ring.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedFrame {
    /// When the websocket payload carrying this event was read, in ns on the pipeline clock
    /// (monotonic, process-relative; see `polyarb_engine::clock`). In replay, the replay read time.
    pub recv_ns: u64,
    /// Block the log belongs to, or the head's number.
    pub block_number: u64,
    /// Position of the log in its block (`logIndex`); 0 for heads.
    pub log_index: u32,
    /// Position of the transaction in its block (`transactionIndex`); 0 for heads.
    pub tx_index: u32,
    /// What the frame carries.
    pub kind: FrameKind,
    /// 1 if the node says the log was removed by a reorg (`removed: true`), else 0.
    pub removed: u8,
    /// Bit set of `FLAG_*`, set by the feed stage (the decoder leaves 0).
    pub flags: u8,
    /// Explicit padding so the layout has no hidden bytes.
    pub _pad: u8,
    /// Emitting contract (the pool) for logs; zero for heads.
    pub address: [u8; 20],
    /// Event data words, big-endian, meaning per [`FrameKind`]. Unused words are zero.
    pub words: [[u8; 32]; FRAME_WORDS],
    /// Timestamp of the block, seconds since the Unix epoch: the head's `timestamp`, or the
    /// log's `blockTimestamp` where the node sends it (anvil does, geth-family nodes may not);
    /// 0 when not sent.
    pub block_time: u64,
    /// [`FrameKind::ClSwap`]: the pool's tick after the swap (an ABI `int24`, checked by the
    /// decoder). 0 for other kinds.
    pub tick: i32,
    /// The first four bytes of the log's `blockHash`, big-endian ([`crate::block_tag`]); 0 when
    /// not sent (or for heads, whose whole hash is in `words[2]`). The engine tells the logs of
    /// two blocks at one height apart by it (docs/engine.md, "Reorgs").
    pub block_tag: u32,
}

impl FeedFrame {
    /// An all-zero frame of kind [`FrameKind::Empty`].
    pub const EMPTY: Self = Self {
        recv_ns: 0,
        block_number: 0,
        log_index: 0,
        tx_index: 0,
        kind: FrameKind::Empty,
        removed: 0,
        flags: 0,
        _pad: 0,
        address: [0; 20],
        words: [[0; 32]; FRAME_WORDS],
        block_time: 0,
        tick: 0,
        block_tag: 0,
    };

    /// Word `i` read as a big-endian `u128`, or `None` if it does not fit (high 16 bytes set).
    /// `i` must be < [`FRAME_WORDS`].
    #[inline]
    pub fn word_u128(&self, i: usize) -> Option<u128> {
        let w = &self.words[i];
        if w[..16].iter().any(|&b| b != 0) {
            return None;
        }
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&w[16..]);
        Some(u128::from_be_bytes(lo))
    }
}

impl FeedFrame {
    /// Word `i` read as a signed 24-bit value (an ABI-encoded `int24`: the low three bytes
    /// sign-extended through all 32), or `None` if it is not exactly that. `i` must be <
    /// [`FRAME_WORDS`].
    #[inline]
    pub fn word_i24(&self, i: usize) -> Option<i32> {
        let w = &self.words[i];
        let fill = if w[29] & 0x80 != 0 { 0xff } else { 0 };
        if w[..29].iter().any(|&b| b != fill) {
            return None;
        }
        Some(i32::from_be_bytes([fill, w[29], w[30], w[31]]))
    }
}

impl FeedFrame {
    /// A [`FrameKind::RouteEnded`] frame for route `seq`, `how` ([`ROUTE_DROPPED`] or
    /// [`ROUTE_MINED`]), stamped `recv_ns`.
    pub fn route_ended(seq: u64, how: u8, recv_ns: u64) -> Self {
        let mut f = Self {
            recv_ns,
            kind: FrameKind::RouteEnded,
            ..Self::EMPTY
        };
        f.words[0][24..].copy_from_slice(&seq.to_be_bytes());
        f.words[1][31] = how;
        f
    }
}

impl FeedFrame {
    /// A [`FrameKind::LenderOffer`]: `funding` (a [`Funding`](crate::Funding) as `u8`) can lend
    /// `available` raw units of `token`.
    pub fn lender_offer(token: [u8; 20], funding: u8, available: [u8; 32], recv_ns: u64) -> Self {
        let mut f = Self {
            recv_ns,
            kind: FrameKind::LenderOffer,
            address: token,
            ..Self::EMPTY
        };
        f.words[0] = available;
        f.words[1][31] = funding;
        f
    }
}

impl Default for FeedFrame {
    fn default() -> Self {
        Self::EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn layout_is_fixed() {
        assert_eq!(size_of::<FeedFrame>(), 192);
        assert_eq!(align_of::<FeedFrame>(), 64);
        assert_eq!(offset_of!(FeedFrame, recv_ns), 0);
        assert_eq!(offset_of!(FeedFrame, block_number), 8);
        assert_eq!(offset_of!(FeedFrame, log_index), 16);
        assert_eq!(offset_of!(FeedFrame, tx_index), 20);
        assert_eq!(offset_of!(FeedFrame, kind), 24);
        assert_eq!(offset_of!(FeedFrame, removed), 25);
        assert_eq!(offset_of!(FeedFrame, flags), 26);
        assert_eq!(offset_of!(FeedFrame, _pad), 27);
        assert_eq!(offset_of!(FeedFrame, address), 28);
        assert_eq!(offset_of!(FeedFrame, words), 48);
        assert_eq!(offset_of!(FeedFrame, block_time), 176);
        assert_eq!(offset_of!(FeedFrame, tick), 184);
        assert_eq!(offset_of!(FeedFrame, block_tag), 188);
    }

    #[test]
    fn word_i24_reads_sign_extended_ticks_only() {
        let word = |v: i32| {
            let mut w = [if v < 0 { 0xff } else { 0 }; 32];
            w[28..].copy_from_slice(&v.to_be_bytes());
            w
        };
        let mut f = FeedFrame::EMPTY;
        for v in [0, 1, -1, 887_272, -887_272, (1 << 23) - 1, -(1 << 23)] {
            f.words[0] = word(v);
            assert_eq!(f.word_i24(0), Some(v), "{v}");
        }
        // 2^23 does not fit int24: its sign bit would be set with a zero fill.
        f.words[0] = word(1 << 23);
        assert_eq!(f.word_i24(0), None);
        f.words[0] = word(-(1 << 23) - 1);
        assert_eq!(f.word_i24(0), None);
        // A negative value with a broken fill byte.
        f.words[0] = word(-5);
        f.words[0][3] = 0;
        assert_eq!(f.word_i24(0), None);
    }

    #[test]
    fn word_u128_rejects_wide_values() {
        let mut f = FeedFrame::EMPTY;
        f.words[0][31] = 7;
        f.words[0][16] = 1;
        assert_eq!(f.word_u128(0), Some((1u128 << 120) | 7));
        f.words[1][15] = 1;
        assert_eq!(f.word_u128(1), None);
    }
}
