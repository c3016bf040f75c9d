//! The signer stage's work: opportunity → executor calldata → signed EIP-1559 transaction,
//! written straight into a [`TxFrame`]. No allocation: calldata goes to a fixed buffer owned by
//! the builder, the envelope into the frame.

use alloy_primitives::{Address, U256};
use polyarb_signer::{Eip1559Tx, NonceTracker, Signer};

use crate::clock::Clock;
use polyarb_core::{CALLDATA_MAX, OpportunityFrame, TX_MAX, TxFrame, encode_execute};

/// Why an opportunity did not become a transaction. `Copy` so it rides in a report frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxBuildError {
    /// The route could not be encoded (too many hops, zero hops).
    Route,
    /// Signing failed (the envelope did not fit the frame, or the key rejected the digest).
    Sign,
}

impl std::fmt::Display for TxBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Route => "route does not encode as an executor call",
            Self::Sign => "transaction could not be signed into a frame",
        })
    }
}

impl std::error::Error for TxBuildError {}

/// Fee settings the builder bids with.
#[derive(Debug, Clone, Copy)]
pub struct FeeBid {
    /// Priority fee, wei per gas.
    pub tip_wei: u128,
    /// `maxFeePerGas = base_fee · this + tip`.
    pub max_fee_multiplier: u32,
    /// Gas limit = the opportunity's gas budget plus this many percent.
    pub limit_headroom_pct: u32,
}

impl FeeBid {
    /// The transaction gas limit for a route budgeted `budget` gas units.
    pub fn gas_limit(&self, budget: u32) -> u64 {
        u64::from(budget) * (100 + u64::from(self.limit_headroom_pct)) / 100
    }
}

/// Builds and signs executor transactions.
#[derive(Debug)]
pub struct TxBuilder {
    signer: Signer,
    nonces: NonceTracker,
    chain_id: u64,
    executor: Address,
    fees: FeeBid,
    calldata: [u8; CALLDATA_MAX],
}

impl TxBuilder {
    /// A builder signing with `signer` for `chain_id`, starting at nonce `first_nonce` (the
    /// node's pending count), calling `executor`.
    pub fn new(
        signer: Signer,
        chain_id: u64,
        first_nonce: u64,
        executor: Address,
        fees: FeeBid,
    ) -> Self {
        Self {
            signer,
            nonces: NonceTracker::new(first_nonce),
            chain_id,
            executor,
            fees,
            calldata: [0; CALLDATA_MAX],
        }
    }

    /// The sending account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Next nonce to be used.
    pub fn next_nonce(&self) -> u64 {
        self.nonces.peek()
    }

    /// Sets the next nonce (after the node rejected a transaction).
    pub fn reset_nonce(&mut self, next: u64) {
        self.nonces.reset(next);
    }

    /// Encodes `opp` as an executor call with `minProfit = opp.profit` (the route pays exactly
    /// that or reverts), signs it, and fills `out`. The nonce advances only on success.
    pub fn build(
        &mut self,
        opp: &OpportunityFrame,
        clock: &dyn Clock,
        out: &mut TxFrame,
    ) -> Result<(), TxBuildError> {
        let n =
            encode_execute(opp, opp.profit, &mut self.calldata).map_err(|_| TxBuildError::Route)?;
        let tip = self.fees.tip_wei;
        let tx = Eip1559Tx {
            chain_id: self.chain_id,
            nonce: self.nonces.peek(),
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: opp
                .base_fee
                .saturating_mul(u128::from(self.fees.max_fee_multiplier))
                .saturating_add(tip),
            gas_limit: self.fees.gas_limit(opp.gas_budget),
            to: self.executor,
            value: U256::ZERO,
            input: &self.calldata[..n],
        };
        let signed = self
            .signer
            .sign_eip1559(&tx, &mut out.raw[..TX_MAX])
            .map_err(|_| TxBuildError::Sign)?;
        out.nonce = self.nonces.next();
        out.len = signed.len as u32;
        out.hash = signed.hash.0;
        out.recv_ns = opp.recv_ns;
        out.seq = opp.seq;
        out.signed_ns = clock.now_ns();
        Ok(())
    }
}
