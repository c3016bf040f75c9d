//! Differential property test: our encoder and signer against alloy-consensus + alloy's
//! local signer, byte for byte, over random fields, keys and calldata.

use alloy_consensus::transaction::SignerRecoverable as _;
use alloy_consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEnvelope, TxLegacy};
use alloy_network::TxSignerSync;
use alloy_network::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use polyarb_signer::{
    Eip1559Tx, SignPath, Signer, TxFields, TxTemplate, TxType, coupon_ring, unsigned_fields,
};
use proptest::collection::vec;
use proptest::prelude::*;

// Integers with a random bit length, so that zero, single bytes below 0x80 and every width
// turn up, not just full-width values.
fn u64_field() -> impl Strategy<Value = u64> {
    (any::<u64>(), 0u32..=64).prop_map(|(x, bits)| x.checked_shr(64 - bits).unwrap_or(0))
}

fn u128_field() -> impl Strategy<Value = u128> {
    (any::<u128>(), 0u32..=128).prop_map(|(x, bits)| x.checked_shr(128 - bits).unwrap_or(0))
}

fn u256_field() -> impl Strategy<Value = U256> {
    (any::<[u8; 32]>(), 0usize..=256).prop_map(|(b, bits)| {
        U256::from_be_bytes(b)
            .checked_shr(256 - bits)
            .unwrap_or(U256::ZERO)
    })
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    // Short inputs get their own arm: one byte below 0x80 encodes as itself.
    prop_oneof![vec(any::<u8>(), 0..400), vec(any::<u8>(), 0..=2)]
}

fn key() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>().prop_filter("a valid secp256k1 secret", |k| {
        Signer::from_bytes(k).is_ok()
    })
}

proptest! {
    #[test]
    fn signed_bytes_and_hash_match_alloy(
        key in key(),
        chain_id in u64_field(),
        nonce in u64_field(),
        tip in u128_field(),
        max_fee in u128_field(),
        gas_limit in u64_field(),
        to in any::<[u8; 20]>(),
        value in u256_field(),
        input in input(),
    ) {
        let signer = Signer::from_bytes(&key).expect("filtered valid");
        let tx = Eip1559Tx {
            chain_id,
            nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit,
            to: Address::from(to),
            value,
            input: &input,
        };
        let mut buf = [0u8; 1024];
        let ours = signer.sign_eip1559(&tx, &mut buf).expect("fits");
        prop_assert!(ours.len <= tx.max_signed_len());

        let alloy_signer = PrivateKeySigner::from_bytes(&B256::from(key)).expect("valid key");
        prop_assert_eq!(alloy_signer.address(), signer.address());
        let mut alloy_tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::from(to)),
            value,
            access_list: Default::default(),
            input: Bytes::copy_from_slice(&input),
        };
        prop_assert_eq!(alloy_tx.signature_hash(), tx.signing_hash());
        let alloy_sig = alloy_signer.sign_transaction_sync(&mut alloy_tx).expect("alloy signs");
        let alloy_signed = alloy_tx.into_signed(alloy_sig);
        let mut want = Vec::new();
        alloy_signed.eip2718_encode(&mut want);
        prop_assert_eq!(alloy_primitives::hex::encode(&buf[..ours.len]), alloy_primitives::hex::encode(&want));
        prop_assert_eq!(ours.hash, *alloy_signed.hash());

        // Our signature recovers to our derived address (recovery and address derivation
        // done by k256 and alloy-signer, not by us).
        let hash = tx.signing_hash();
        let sig = signer.sign_hash(&hash).expect("signs");
        let k = k256::ecdsa::Signature::from_scalars(sig.r.to_be_bytes::<32>(), sig.s.to_be_bytes::<32>())
            .expect("r, s in range");
        let recovered = VerifyingKey::recover_from_prehash(hash.as_slice(), &k, RecoveryId::new(sig.y_parity, false))
            .expect("recoverable");
        prop_assert_eq!(alloy_signer::utils::public_key_to_address(&recovered), signer.address());
    }
}

/// alloy's signed bytes for the transaction a template makes, RFC 6979 like ours.
fn alloy_signed(
    key: &[u8; 32],
    kind: TxType,
    chain_id: u64,
    to: Address,
    value: U256,
    f: &TxFields<'_>,
) -> Vec<u8> {
    let signer = PrivateKeySigner::from_bytes(&B256::from(*key)).expect("valid key");
    let mut out = Vec::new();
    match kind {
        TxType::Eip1559 => {
            let mut tx = TxEip1559 {
                chain_id,
                nonce: f.nonce,
                gas_limit: f.gas_limit,
                max_fee_per_gas: f.max_fee_per_gas,
                max_priority_fee_per_gas: f.max_priority_fee_per_gas,
                to: TxKind::Call(to),
                value,
                access_list: Default::default(),
                input: Bytes::copy_from_slice(f.input),
            };
            let sig = signer.sign_transaction_sync(&mut tx).expect("alloy signs");
            tx.into_signed(sig).eip2718_encode(&mut out);
        }
        TxType::Legacy => {
            let mut tx = TxLegacy {
                chain_id: Some(chain_id),
                nonce: f.nonce,
                gas_price: f.max_fee_per_gas,
                gas_limit: f.gas_limit,
                to: TxKind::Call(to),
                value,
                input: Bytes::copy_from_slice(f.input),
            };
            let sig = signer.sign_transaction_sync(&mut tx).expect("alloy signs");
            tx.into_signed(sig).eip2718_encode(&mut out);
        }
    }
    out
}

proptest! {
    /// The template path in RFC 6979 mode, both transaction types, byte for byte as alloy
    /// signs them; and the same fields signed with a coupon decode in alloy to the same
    /// transaction from the same sender.
    #[test]
    fn template_bytes_match_alloy_and_coupon_signatures_recover(
        key in key(),
        legacy in any::<bool>(),
        // EIP-155's v = 35 + 2·chain_id must fit a u64 for alloy too.
        chain_id in u64_field().prop_map(|c| c >> 2),
        nonce in u64_field(),
        tip in u128_field(),
        max_fee in u128_field(),
        gas_limit in u64_field(),
        to in any::<[u8; 20]>(),
        value in u256_field(),
        input in input(),
    ) {
        let kind = if legacy { TxType::Legacy } else { TxType::Eip1559 };
        let signer = Signer::from_bytes(&key).expect("filtered valid");
        let to = Address::from(to);
        let template = TxTemplate::with_value(kind, chain_id, to, value);
        let fields = TxFields {
            nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit,
            input: &input,
        };
        let mut buf = vec![0u8; template.buffer_len(input.len())];
        let ours = template.sign_rfc6979(&fields, &signer, &mut buf).expect("fits");
        let want = alloy_signed(&key, kind, chain_id, to, value, &fields);
        prop_assert_eq!(alloy_primitives::hex::encode(&buf[..ours.len]), alloy_primitives::hex::encode(&want));

        let (mut mint, mut coupons) = coupon_ring(1);
        mint.fill().expect("entropy");
        let signed = template.sign(&fields, &signer, &mut coupons, &mut buf).expect("fits");
        prop_assert_eq!(signed.path, SignPath::Coupon);
        let raw = &buf[..signed.len];
        let envelope = TxEnvelope::decode_2718(&mut &raw[..]).expect("alloy decodes it");
        prop_assert_eq!(envelope.recover_signer().expect("recovers"), signer.address());
        prop_assert_eq!(envelope.nonce(), nonce);
        prop_assert_eq!(envelope.gas_limit(), gas_limit);
        prop_assert_eq!(envelope.value(), value);
        prop_assert_eq!(envelope.input().as_ref(), &input[..]);
        prop_assert_eq!(envelope.chain_id(), Some(chain_id));
        // Only the signature differs from the RFC 6979 transaction.
        prop_assert_eq!(unsigned_fields(raw), unsigned_fields(&want));
    }
}
