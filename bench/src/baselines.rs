//! The established crates the hot path is measured against, shared by the benches and the
//! report: serde_json into a borrowed struct holding the fields the decoder reads, and alloy's
//! build + sign + encode of the transaction `TxBuilder` builds.

use std::hint::black_box;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use polyarb_core::OpportunityFrame;
use polyarb_engine::txbuild::FeeBid;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "fields exist to be parsed; the baseline times the parse"
)]
struct Note<'a, R> {
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: Params<'a, R>,
}

#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "fields exist to be parsed; the baseline times the parse"
)]
struct Params<'a, R> {
    #[serde(borrow)]
    subscription: &'a str,
    result: R,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "fields exist to be parsed; the baseline times the parse"
)]
struct Log<'a> {
    address: &'a str,
    #[serde(borrow)]
    topics: Vec<&'a str>,
    data: &'a str,
    block_number: &'a str,
    transaction_index: &'a str,
    log_index: &'a str,
    removed: bool,
    block_hash: &'a str,
    #[serde(borrow)]
    block_timestamp: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    dead_code,
    reason = "fields exist to be parsed; the baseline times the parse"
)]
struct Head<'a> {
    number: &'a str,
    base_fee_per_gas: &'a str,
    timestamp: &'a str,
}

/// Parses a log notification into the borrowed struct (serde_json); whether it fit. The value
/// is consumed through `black_box`.
pub fn parse_log(p: &[u8]) -> bool {
    serde_json::from_slice::<Note<'_, Log<'_>>>(p)
        .map(|n| black_box(n).params.result.removed)
        .is_ok()
}

/// The same for a `newHeads` notification.
pub fn parse_head(p: &[u8]) -> bool {
    serde_json::from_slice::<Note<'_, Head<'_>>>(p)
        .map(|n| black_box(n).params.result.number.len())
        .is_ok()
}

/// A recorded log notification (anvil's key order) with its members in geth's order
/// (`core/types/gen_log_json.go`, geth 1.16 on: `blockTimestamp` between `blockHash` and
/// `logIndex`), no whitespace, as geth writes it. `None` if `p` is not a log notification with
/// every member.
pub fn geth_order(p: &[u8]) -> Option<Vec<u8>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Recorded<'a> {
        address: &'a str,
        #[serde(borrow)]
        topics: Vec<&'a str>,
        data: &'a str,
        block_hash: &'a str,
        block_number: &'a str,
        block_timestamp: &'a str,
        transaction_hash: &'a str,
        transaction_index: &'a str,
        log_index: &'a str,
        removed: bool,
    }
    let n: Note<'_, Recorded<'_>> = serde_json::from_slice(p).ok()?;
    let l = n.params.result;
    let topics: Vec<String> = l.topics.iter().map(|t| format!("\"{t}\"")).collect();
    Some(
        format!(
            r#"{{"jsonrpc":"2.0","method":"{}","params":{{"subscription":"{}","result":{{"address":"{}","topics":[{}],"data":"{}","blockNumber":"{}","transactionHash":"{}","transactionIndex":"{}","blockHash":"{}","blockTimestamp":"{}","logIndex":"{}","removed":{}}}}}}}"#,
            n.method,
            n.params.subscription,
            l.address,
            topics.join(","),
            l.data,
            l.block_number,
            l.transaction_hash,
            l.transaction_index,
            l.block_hash,
            l.block_timestamp,
            l.log_index,
            l.removed
        )
        .into_bytes(),
    )
}

/// What a transaction for an opportunity is signed with besides the opportunity.
#[derive(Debug, Clone, Copy)]
pub struct TxFields {
    /// Chain id.
    pub chain_id: u64,
    /// The executor, the transaction's `to`.
    pub executor: Address,
    /// Fees and gas limit rule.
    pub fees: FeeBid,
}

impl TxFields {
    /// As `TxBuilder::build` bids: `base_fee · multiplier + tip`.
    pub fn max_fee(&self, opp: &OpportunityFrame) -> u128 {
        opp.base_fee
            .saturating_mul(u128::from(self.fees.max_fee_multiplier))
            .saturating_add(self.fees.tip_wei)
    }
}

/// alloy's build + sighash + sign + EIP-2718 encode of the transaction `TxBuilder` builds for
/// `opp` with `calldata` and `nonce`.
pub fn alloy_build_sign(
    signer: &PrivateKeySigner,
    opp: &OpportunityFrame,
    calldata: &[u8],
    fields: &TxFields,
    nonce: u64,
) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: fields.chain_id,
        nonce,
        gas_limit: fields.fees.gas_limit(opp.gas_budget),
        max_fee_per_gas: fields.max_fee(opp),
        max_priority_fee_per_gas: fields.fees.tip_wei,
        to: TxKind::Call(fields.executor),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::copy_from_slice(calldata),
    };
    // A signer built from a valid key signs any transaction; a failure is a bug in the bench.
    let sig = signer
        .sign_transaction_sync(&mut tx)
        .unwrap_or_else(|e| panic!("alloy cannot sign: {e}"));
    let mut out = Vec::with_capacity(512);
    tx.into_signed(sig).eip2718_encode(&mut out);
    out
}
