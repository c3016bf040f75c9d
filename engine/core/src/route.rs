//! Calldata for the executor's `execute(address,uint256,uint256,bytes)` (`docs/executor.md`),
//! written into a caller's buffer with no allocation.
//!
//! Layout (standard ABI, one dynamic argument):
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | selector |
//! | 4..36 | `tokenIn`, left-padded |
//! | 36..68 | `amountIn`, uint256 big-endian |
//! | 68..100 | `minProfit`, uint256 big-endian |
//! | 100..132 | offset of `hops` = 0x80 |
//! | 132..164 | `hops.length` = 37·n |
//! | 164.. | packed hops, zero-padded to a multiple of 32 |
//!
//! A packed hop is `pool (20) ‖ flags (1) ‖ amountOut (uint128, 16)`; flags bit 0 is
//! `zeroForOne`, bits 1–2 the pool kind (0 Uniswap V2, 1 Uniswap V3, 2 Algebra).

use core::fmt;

use crate::{MAX_HOPS, OpportunityFrame, PoolKind};

/// `keccak256("execute(address,uint256,uint256,bytes)")[..4]`; a test recomputes it.
pub const EXECUTE_SELECTOR: [u8; 4] = [0x82, 0x91, 0x63, 0x81];

/// Bytes of one packed hop: pool (20), flags (1), amountOut as uint128 (16).
pub const HOP_BYTES: usize = 37;

/// The flags byte of a hop: bit 0 `zeroForOne`, bits 1–2 the pool kind.
pub const fn hop_flags(zero_for_one: bool, kind: PoolKind) -> u8 {
    (zero_for_one as u8) | (kind as u8) << 1
}

/// Calldata length for a route of `hops` hops, bytes.
pub const fn calldata_len(hops: usize) -> usize {
    4 + 5 * 32 + (hops * HOP_BYTES).div_ceil(32) * 32
}

/// Longest calldata [`encode_execute`] writes ([`MAX_HOPS`] hops), bytes.
pub const CALLDATA_MAX: usize = calldata_len(MAX_HOPS);

/// Why an opportunity cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// `hop_count` is 0 or above [`MAX_HOPS`].
    BadHopCount(u8),
    /// A hop's `zero_for_one` is neither 0 nor 1.
    BadDirection {
        /// Index of the hop.
        hop: usize,
    },
    /// A hop's `kind` names no [`PoolKind`].
    BadKind {
        /// Index of the hop.
        hop: usize,
    },
    /// The output buffer is shorter than the calldata.
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHopCount(n) => write!(f, "route has {n} hops, need 1 to {MAX_HOPS}"),
            Self::BadDirection { hop } => write!(f, "hop {hop} has a direction other than 0 or 1"),
            Self::BadKind { hop } => write!(f, "hop {hop} names no pool kind"),
            Self::BufferTooSmall { need, have } => {
                write!(f, "calldata needs {need} bytes, buffer has {have}")
            }
        }
    }
}

impl core::error::Error for RouteError {}

/// Writes the `execute` calldata for `opp` into `out` and returns its length.
/// `min_profit` is the least profit the call accepts, raw units of `token_in`. Every byte of
/// `out[..len]` is written (padding zeroed), so `out` may hold old data.
pub fn encode_execute(
    opp: &OpportunityFrame,
    min_profit: u128,
    out: &mut [u8],
) -> Result<usize, RouteError> {
    let n = usize::from(opp.hop_count);
    if n == 0 || n > MAX_HOPS {
        return Err(RouteError::BadHopCount(opp.hop_count));
    }
    if let Some(hop) = opp.hops().iter().position(|h| h.zero_for_one > 1) {
        return Err(RouteError::BadDirection { hop });
    }
    if let Some(hop) = opp
        .hops()
        .iter()
        .position(|h| PoolKind::from_u8(h.kind).is_none())
    {
        return Err(RouteError::BadKind { hop });
    }
    let len = calldata_len(n);
    let have = out.len();
    let Some(buf) = out.get_mut(..len) else {
        return Err(RouteError::BufferTooSmall { need: len, have });
    };
    buf.fill(0);
    buf[..4].copy_from_slice(&EXECUTE_SELECTOR);
    buf[16..36].copy_from_slice(&opp.token_in);
    buf[52..68].copy_from_slice(&opp.amount_in.to_be_bytes());
    buf[84..100].copy_from_slice(&min_profit.to_be_bytes());
    buf[131] = 0x80; // offset of `hops` from the start of the arguments: 4 head words
    let hops_len = n * HOP_BYTES; // ≤ 148
    buf[156..164].copy_from_slice(&(hops_len as u64).to_be_bytes());
    for (chunk, hop) in buf[164..164 + hops_len]
        .chunks_exact_mut(HOP_BYTES)
        .zip(opp.hops())
    {
        chunk[..20].copy_from_slice(&hop.pool);
        // Both checked above.
        let kind = PoolKind::from_u8(hop.kind).unwrap_or_default();
        chunk[20] = hop_flags(hop.zero_for_one == 1, kind);
        chunk[21..37].copy_from_slice(&hop.amount_out.to_be_bytes());
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hop;
    use alloy_primitives::keccak256;

    #[test]
    fn selector_is_keccak_of_the_signature() {
        let h = keccak256(b"execute(address,uint256,uint256,bytes)");
        assert_eq!(EXECUTE_SELECTOR, h[..4]);
    }

    #[test]
    fn lengths() {
        assert_eq!(calldata_len(1), 164 + 64);
        assert_eq!(calldata_len(2), 164 + 96);
        assert_eq!(calldata_len(3), 164 + 128);
        assert_eq!(calldata_len(4), 164 + 160);
        assert_eq!(CALLDATA_MAX, 324);
    }

    #[test]
    fn rejects_bad_routes_and_short_buffers() {
        let mut o = OpportunityFrame::EMPTY;
        let mut buf = [0u8; CALLDATA_MAX];
        assert_eq!(
            encode_execute(&o, 0, &mut buf),
            Err(RouteError::BadHopCount(0))
        );
        o.hop_count = 5;
        assert_eq!(
            encode_execute(&o, 0, &mut buf),
            Err(RouteError::BadHopCount(5))
        );
        o.hop_count = 2;
        o.hops[1] = Hop {
            zero_for_one: 2,
            ..Hop::default()
        };
        assert_eq!(
            encode_execute(&o, 0, &mut buf),
            Err(RouteError::BadDirection { hop: 1 })
        );
        o.hops[1].zero_for_one = 1;
        o.hops[0].kind = 3;
        assert_eq!(
            encode_execute(&o, 0, &mut buf),
            Err(RouteError::BadKind { hop: 0 })
        );
        o.hops[0].kind = PoolKind::Algebra as u8;
        assert_eq!(
            encode_execute(&o, 0, &mut buf[..100]),
            Err(RouteError::BufferTooSmall {
                need: 260,
                have: 100
            })
        );
        assert_eq!(encode_execute(&o, 0, &mut buf), Ok(260));
    }

    #[test]
    fn flags_carry_direction_and_kind() {
        assert_eq!(hop_flags(false, PoolKind::UniswapV2), 0);
        assert_eq!(hop_flags(true, PoolKind::UniswapV2), 1);
        assert_eq!(hop_flags(false, PoolKind::UniswapV3), 2);
        assert_eq!(hop_flags(true, PoolKind::UniswapV3), 3);
        assert_eq!(hop_flags(false, PoolKind::Algebra), 4);
        assert_eq!(hop_flags(true, PoolKind::Algebra), 5);
    }

    #[test]
    fn overwrites_old_bytes_in_the_buffer() {
        let mut o = OpportunityFrame::EMPTY;
        o.hop_count = 2;
        let mut clean = [0u8; CALLDATA_MAX];
        let mut dirty = [0xAAu8; CALLDATA_MAX];
        let a = encode_execute(&o, 5, &mut clean).unwrap();
        let b = encode_execute(&o, 5, &mut dirty).unwrap();
        assert_eq!(clean[..a], dirty[..b]);
    }
}
