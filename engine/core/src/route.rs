//! Calldata for the executor's `run()` (`docs/executor.md`), written into a caller's buffer with
//! no allocation.
//!
//! Layout (packed, big-endian, no padding):
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | selector of `run()` |
//! | 4 | funding: 0 capital, 1 flash swap, 2 Balancer, 3 Aave ([`Funding`]) |
//! | 5..25 | `tokenIn` |
//! | 25..41 | `amountIn`, uint128 |
//! | 41..57 | `minProfit`, uint128 |
//! | 57.. | hops, 37 bytes each |
//!
//! A packed hop is `pool (20) ‖ flags (1) ‖ amountOut (uint128, 16)`; flags bit 0 is
//! `zeroForOne`, bits 1–2 the pool kind (0 Uniswap V2, 1 Uniswap V3, 2 Algebra).

use core::fmt;

use crate::{Funding, MAX_HOPS, OpportunityFrame, PoolKind};

/// `keccak256("run()")[..4]`; a test recomputes it.
pub const RUN_SELECTOR: [u8; 4] = [0xc0, 0x40, 0x62, 0x26];

/// Bytes of one packed hop: pool (20), flags (1), amountOut as uint128 (16).
pub const HOP_BYTES: usize = 37;

/// Bytes before the hops: selector (4), funding (1), tokenIn (20), amountIn (16), minProfit (16).
pub const RUN_HEADER_BYTES: usize = 57;

/// Fewest hops the executor takes: a cycle needs two pools.
pub const MIN_HOPS: usize = 2;

/// The flags byte of a hop: bit 0 `zeroForOne`, bits 1–2 the pool kind.
pub const fn hop_flags(zero_for_one: bool, kind: PoolKind) -> u8 {
    (zero_for_one as u8) | (kind as u8) << 1
}

/// Calldata length for a route of `hops` hops, bytes.
pub const fn calldata_len(hops: usize) -> usize {
    RUN_HEADER_BYTES + hops * HOP_BYTES
}

/// Longest calldata [`encode_run`] writes ([`MAX_HOPS`] hops), bytes.
pub const CALLDATA_MAX: usize = calldata_len(MAX_HOPS);

/// Why an opportunity cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// `hop_count` is below [`MIN_HOPS`] or above [`MAX_HOPS`].
    BadHopCount(u8),
    /// `funding` names no [`Funding`].
    BadFunding(u8),
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
            Self::BadHopCount(n) => {
                write!(f, "route has {n} hops, need {MIN_HOPS} to {MAX_HOPS}")
            }
            Self::BadFunding(v) => write!(f, "funding byte {v} names no source"),
            Self::BadDirection { hop } => write!(f, "hop {hop} has a direction other than 0 or 1"),
            Self::BadKind { hop } => write!(f, "hop {hop} names no pool kind"),
            Self::BufferTooSmall { need, have } => {
                write!(f, "calldata needs {need} bytes, buffer has {have}")
            }
        }
    }
}

impl core::error::Error for RouteError {}

/// Writes the `run()` calldata for `opp` into `out` and returns its length: funding
/// `opp.funding`, `min_profit` the least profit the call accepts after repaying any loan (raw
/// units of `token_in`). Every byte of `out[..len]` is written, so `out` may hold old data.
pub fn encode_run(
    opp: &OpportunityFrame,
    min_profit: u128,
    out: &mut [u8],
) -> Result<usize, RouteError> {
    let n = usize::from(opp.hop_count);
    if !(MIN_HOPS..=MAX_HOPS).contains(&n) {
        return Err(RouteError::BadHopCount(opp.hop_count));
    }
    if Funding::from_u8(opp.funding).is_none() {
        return Err(RouteError::BadFunding(opp.funding));
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
    buf[..4].copy_from_slice(&RUN_SELECTOR);
    buf[4] = opp.funding;
    buf[5..25].copy_from_slice(&opp.token_in);
    buf[25..41].copy_from_slice(&opp.amount_in.to_be_bytes());
    buf[41..57].copy_from_slice(&min_profit.to_be_bytes());
    for (chunk, hop) in buf[RUN_HEADER_BYTES..]
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
        let h = keccak256(b"run()");
        assert_eq!(RUN_SELECTOR, h[..4]);
    }

    #[test]
    fn lengths() {
        assert_eq!(calldata_len(2), 57 + 74);
        assert_eq!(calldata_len(3), 57 + 111);
        assert_eq!(calldata_len(4), 57 + 148);
        assert_eq!(CALLDATA_MAX, 205);
    }

    #[test]
    fn rejects_bad_routes_and_short_buffers() {
        let mut o = OpportunityFrame::EMPTY;
        let mut buf = [0u8; CALLDATA_MAX];
        for n in [0, 1, 5] {
            o.hop_count = n;
            assert_eq!(encode_run(&o, 0, &mut buf), Err(RouteError::BadHopCount(n)));
        }
        o.hop_count = 2;
        o.funding = 4;
        assert_eq!(encode_run(&o, 0, &mut buf), Err(RouteError::BadFunding(4)));
        o.funding = Funding::Aave as u8;
        o.hops[1] = Hop {
            zero_for_one: 2,
            ..Hop::default()
        };
        assert_eq!(
            encode_run(&o, 0, &mut buf),
            Err(RouteError::BadDirection { hop: 1 })
        );
        o.hops[1].zero_for_one = 1;
        o.hops[0].kind = 3;
        assert_eq!(
            encode_run(&o, 0, &mut buf),
            Err(RouteError::BadKind { hop: 0 })
        );
        o.hops[0].kind = PoolKind::Algebra as u8;
        assert_eq!(
            encode_run(&o, 0, &mut buf[..100]),
            Err(RouteError::BufferTooSmall {
                need: 131,
                have: 100
            })
        );
        assert_eq!(encode_run(&o, 0, &mut buf), Ok(131));
        assert_eq!(buf[4], Funding::Aave as u8);
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
        let a = encode_run(&o, 5, &mut clean).unwrap();
        let b = encode_run(&o, 5, &mut dirty).unwrap();
        assert_eq!(clean[..a], dirty[..b]);
    }
}
