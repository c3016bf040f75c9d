//! Differential property test: our encoder and signer against alloy-consensus + alloy's
//! local signer, byte for byte, over random fields, keys and calldata.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use polyarb_signer::{Eip1559Tx, Signer};
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
