//! Fixed-size frames that leave the engine: an opportunity (engine → signer) and a signed
//! transaction (signer → feed I/O or the replay sink). Plain `Copy` data, cache-line aligned.

/// Most hops a route may have: the engine's cycles (2 to 4 hops), the frames and the executor
/// (`contracts/src/Executor.sol`, `MAX_HOPS`) all use this one bound.
pub const MAX_HOPS: usize = 4;

/// Largest signed transaction a [`TxFrame`] carries, in bytes (EIP-2718 envelope `0x02 ‖ rlp`).
/// A 4-hop executor call (205 bytes of calldata) encodes to about 320 bytes.
pub const TX_MAX: usize = 512;

/// One swap of a route: the input goes into `pool`, `amount_out` of the other token comes out.
/// 48 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hop {
    /// Exact output of this swap, raw units of the token received, with the pool's own
    /// rounding.
    pub amount_out: u128,
    /// The pool (pair) contract.
    pub pool: [u8; 20],
    /// Dense pool id in the engine's table (for reports; not sent on chain).
    pub pool_id: u32,
    /// 1 if the input is the pool's token0 (so the output is token1), else 0.
    pub zero_for_one: u8,
    /// The pool's [`PoolKind`](crate::PoolKind) as its `u8` value.
    pub kind: u8,
    /// Initialized ticks the swap crosses (concentrated pools; 0 for V2), for gas and reports.
    pub ticks_crossed: u16,
    /// Explicit padding.
    pub _pad: [u8; 4],
}

/// A profitable cycle, sized exactly, ready to sign. 384 bytes.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpportunityFrame {
    /// Receive time of the feed frame that triggered the search, ns on the pipeline clock.
    pub recv_ns: u64,
    /// When the engine emitted this frame, ns on the pipeline clock.
    pub detect_ns: u64,
    /// Block of the log that triggered the search.
    pub block_number: u64,
    /// Sequence number of this opportunity within the run, from 0.
    pub seq: u64,
    /// Input to the first hop, raw units of `token_in`.
    pub amount_in: u128,
    /// `hops[last].amount_out - amount_in - premium`, raw units of `token_in`: what the
    /// executor keeps after repaying any loan.
    pub profit: u128,
    /// `profit` valued in the native token, wei.
    pub profit_native: u128,
    /// Gas the route is budgeted (units) times the fee per gas the engine assumed, wei.
    pub gas_cost_native: u128,
    /// Base fee of the newest head the engine had seen, wei per gas.
    pub base_fee: u128,
    /// The cycle's start token: its input and its profit (raw units).
    pub token_in: [u8; 20],
    /// Gas the route is budgeted, units (what profit is judged against; the transaction's
    /// limit adds headroom on top).
    pub gas_budget: u32,
    /// How many entries of `hops` are used (2 to [`MAX_HOPS`]).
    pub hop_count: u8,
    /// Where the input comes from, a [`Funding`](crate::Funding) as its `u8` value.
    pub funding: u8,
    /// Explicit padding.
    pub _pad: [u8; 2],
    /// Position in its block of the log that triggered the search (`logIndex`).
    pub log_index: u32,
    /// The swaps, in order; entries past `hop_count` are zero.
    pub hops: [Hop; MAX_HOPS],
    /// What the lender charges for `amount_in`, raw units of `token_in` (0 from own capital
    /// or a flash swap, whose fee is inside its hop); `profit` is already net of it.
    pub premium: u128,
    /// Explicit padding to the cache-line multiple.
    pub _tail: [u8; 32],
}

impl OpportunityFrame {
    /// An all-zero frame.
    pub const EMPTY: Self = Self {
        recv_ns: 0,
        detect_ns: 0,
        block_number: 0,
        seq: 0,
        amount_in: 0,
        profit: 0,
        profit_native: 0,
        gas_cost_native: 0,
        base_fee: 0,
        token_in: [0; 20],
        gas_budget: 0,
        hop_count: 0,
        funding: 0,
        _pad: [0; 2],
        log_index: 0,
        hops: [Hop {
            amount_out: 0,
            pool: [0; 20],
            pool_id: 0,
            zero_for_one: 0,
            kind: 0,
            ticks_crossed: 0,
            _pad: [0; 4],
        }; MAX_HOPS],
        premium: 0,
        _tail: [0; 32],
    };

    /// The used hops.
    pub fn hops(&self) -> &[Hop] {
        &self.hops[..usize::from(self.hop_count).min(MAX_HOPS)]
    }
}

/// [`TxFrame::kind`]: an executor call for an opportunity.
pub const TX_KIND_ROUTE: u8 = 0;
/// [`TxFrame::kind`]: a zero-value transfer to the sender, signed only to fill or free a nonce.
pub const TX_KIND_CANCEL: u8 = 1;
/// [`TxFrame::kind`]: no transaction. The route of opportunity `seq` was not signed (a risk
/// limit, the kill switch, a build error); the writer tells the engine, so the pools the route
/// would have moved are priced at the tables' state again ([`TxFrame::not_signed`]).
pub const TX_KIND_NOT_SIGNED: u8 = 2;

/// A signed transaction on its way to the node (or the replay sink). 576 bytes.
///
/// It carries no transaction hash: hashing the bytes a second time is work the signing path
/// does not need, so whoever needs the hash takes it after the write ([`TxFrame::tx_hash`]).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFrame {
    /// Receive time of the feed frame behind it, ns on the pipeline clock.
    pub recv_ns: u64,
    /// When signing finished, ns on the pipeline clock.
    pub signed_ns: u64,
    /// The opportunity's sequence number.
    pub seq: u64,
    /// Nonce the transaction was signed with.
    pub nonce: u64,
    /// Used length of `raw`, bytes.
    pub len: u32,
    /// What the transaction does: [`TX_KIND_ROUTE`] or [`TX_KIND_CANCEL`].
    pub kind: u8,
    /// The sending account: its index in the signer's account list (0 = `[signer]`'s own
    /// key, then `[[signer.senders]]` in order).
    pub account: u8,
    /// Explicit padding.
    pub _pad: [u8; 2],
    /// `maxFeePerGas` it was signed with, wei per gas (saturated at `u64::MAX`, 18.4 native
    /// tokens per gas: far above any real bid).
    pub max_fee_wei: u64,
    /// `maxPriorityFeePerGas` it was signed with, wei per gas (saturated likewise).
    pub tip_wei: u64,
    /// EIP-2718 typed transaction bytes, as `eth_sendRawTransaction` takes them.
    pub raw: [u8; TX_MAX],
}

impl TxFrame {
    /// An all-zero frame.
    pub const EMPTY: Self = Self {
        recv_ns: 0,
        signed_ns: 0,
        seq: 0,
        nonce: 0,
        len: 0,
        kind: TX_KIND_ROUTE,
        account: 0,
        _pad: [0; 2],
        max_fee_wei: 0,
        tip_wei: 0,
        raw: [0; TX_MAX],
    };

    /// The marker for opportunity `seq` not signed (no bytes, no nonce).
    pub const fn not_signed(seq: u64, recv_ns: u64) -> Self {
        let mut f = Self::EMPTY;
        f.seq = seq;
        f.recv_ns = recv_ns;
        f.kind = TX_KIND_NOT_SIGNED;
        f
    }

    /// The signed bytes.
    pub fn raw(&self) -> &[u8] {
        &self.raw[..(self.len as usize).min(TX_MAX)]
    }

    /// The transaction hash: keccak256 of the signed bytes. Not for the signing path.
    pub fn tx_hash(&self) -> [u8; 32] {
        alloy_primitives::keccak256(self.raw()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn opportunity_layout_is_fixed() {
        assert_eq!(size_of::<Hop>(), 48);
        assert_eq!(offset_of!(Hop, pool), 16);
        assert_eq!(offset_of!(Hop, zero_for_one), 40);
        assert_eq!(offset_of!(Hop, kind), 41);
        assert_eq!(offset_of!(Hop, ticks_crossed), 42);
        assert_eq!(size_of::<OpportunityFrame>(), 384);
        assert_eq!(align_of::<OpportunityFrame>(), 64);
        assert_eq!(offset_of!(OpportunityFrame, amount_in), 32);
        assert_eq!(offset_of!(OpportunityFrame, token_in), 112);
        assert_eq!(offset_of!(OpportunityFrame, gas_budget), 132);
        assert_eq!(offset_of!(OpportunityFrame, log_index), 140);
        assert_eq!(offset_of!(OpportunityFrame, funding), 137);
        assert_eq!(offset_of!(OpportunityFrame, hops), 144);
        assert_eq!(offset_of!(OpportunityFrame, premium), 336);
        assert_eq!(offset_of!(OpportunityFrame, _tail), 352);
    }

    #[test]
    fn tx_layout_is_fixed() {
        assert_eq!(size_of::<TxFrame>(), 576);
        assert_eq!(align_of::<TxFrame>(), 64);
        assert_eq!(offset_of!(TxFrame, kind), 36);
        assert_eq!(offset_of!(TxFrame, account), 37);
        assert_eq!(offset_of!(TxFrame, max_fee_wei), 40);
        assert_eq!(offset_of!(TxFrame, tip_wei), 48);
        assert_eq!(offset_of!(TxFrame, raw), 56);
    }
}
