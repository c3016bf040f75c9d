//! The shared test vectors: ten signed EIP-1559 transactions and the EIP-155 example.

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256, hex, keccak256};
use alloy_signer_local::PrivateKeySigner;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use polyarb_signer::{Eip1559Tx, Signer, TxFields, TxTemplate, TxType};
use serde_json::Value;

/// The vectors live in `signer/tests/vectors/` (copied from the team's `shared/vectors/`, see the
/// README there), so the tests run from any clone.
fn load(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("test vectors {} unreadable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn u64_field(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a u64"))
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(str_field(v, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn key_field(v: &Value) -> [u8; 32] {
    hex_field(v, "privateKey")
        .try_into()
        .expect("privateKey is 32 bytes")
}

#[test]
fn eip1559_vectors_reproduce_byte_for_byte() {
    let file = load("eip1559-signed.json");
    let cases = file["cases"].as_array().expect("cases array");
    assert_eq!(cases.len(), 10);
    let mut buf = [0u8; 512];
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(
            case["accessList"].as_array().map(Vec::len),
            Some(0),
            "case {i}: access list"
        );
        let signer = Signer::from_hex(str_field(case, "privateKey")).expect("valid key");
        let input = hex_field(case, "data");
        let tx = Eip1559Tx {
            chain_id: u64_field(case, "chainId"),
            nonce: u64_field(case, "nonce"),
            max_priority_fee_per_gas: u64_field(case, "maxPriorityFeePerGas").into(),
            max_fee_per_gas: u64_field(case, "maxFeePerGas").into(),
            gas_limit: u64_field(case, "gasLimit"),
            to: str_field(case, "to")
                .parse::<Address>()
                .expect("to address"),
            value: U256::from(u64_field(case, "value")),
            input: &input,
        };

        // The vector wraps the typed transaction once more as an RLP byte string.
        let wrapped = hex_field(case, "signedTransactionRLP");
        let mut rest = &wrapped[..];
        let raw = alloy_rlp::Header::decode_bytes(&mut rest, false).expect("outer string");
        assert!(rest.is_empty(), "case {i}: bytes after the outer string");

        let signed = signer.sign_eip1559(&tx, &mut buf).expect("fits");
        assert_eq!(
            hex::encode(&buf[..signed.len]),
            hex::encode(raw),
            "case {i}"
        );
        assert_eq!(signed.hash, keccak256(raw), "case {i}");
    }
}

#[test]
fn eip155_example_key_address_and_raw_hash_signature() {
    let v = load("eip155-example.json");
    let key = key_field(&v);
    let signer = Signer::from_bytes(&key).expect("valid key");

    // The legacy signing hash is keccak256 of the vector's signing data.
    let hash = B256::from_slice(&hex_field(&v, "signingHash"));
    assert_eq!(keccak256(hex_field(&v, "signingData")), hash);

    let sig = signer.sign_hash(&hash).expect("signs");
    let dec = |key: &str| U256::from_str_radix(str_field(&v, key), 10).expect("decimal");
    assert_eq!(sig.r, dec("r"));
    assert_eq!(sig.s, dec("s"));
    // EIP-155: v = chain_id·2 + 35 + y_parity.
    let chain_id = u64_field(&v, "chainId");
    assert_eq!(
        u64_field(&v, "v"),
        chain_id * 2 + 35 + u64::from(sig.y_parity)
    );

    // Two oracles for the address, neither using our derivation: public-key recovery from the
    // vector's own signature, and alloy's signer.
    let recid = RecoveryId::new((u64_field(&v, "v") - 35 - chain_id * 2) == 1, false);
    let vector_sig = k256::ecdsa::Signature::from_scalars(
        dec("r").to_be_bytes::<32>(),
        dec("s").to_be_bytes::<32>(),
    )
    .expect("r, s in range");
    let recovered = VerifyingKey::recover_from_prehash(hash.as_slice(), &vector_sig, recid)
        .expect("recoverable");
    assert_eq!(
        alloy_signer::utils::public_key_to_address(&recovered),
        signer.address()
    );
    let alloy = PrivateKeySigner::from_bytes(&B256::from(key)).expect("valid key");
    assert_eq!(alloy.address(), signer.address());
}

#[test]
fn the_templates_reproduce_the_vectors() {
    // EIP-1559: the ten cases through a type-2 template in RFC 6979 mode.
    let file = load("eip1559-signed.json");
    for (i, case) in file["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .enumerate()
    {
        let signer = Signer::from_hex(str_field(case, "privateKey")).expect("valid key");
        let input = hex_field(case, "data");
        let template = TxTemplate::with_value(
            TxType::Eip1559,
            u64_field(case, "chainId"),
            str_field(case, "to").parse::<Address>().expect("to"),
            U256::from(u64_field(case, "value")),
        );
        let fields = TxFields {
            nonce: u64_field(case, "nonce"),
            max_priority_fee_per_gas: u64_field(case, "maxPriorityFeePerGas").into(),
            max_fee_per_gas: u64_field(case, "maxFeePerGas").into(),
            gas_limit: u64_field(case, "gasLimit"),
            input: &input,
        };
        let wrapped = hex_field(case, "signedTransactionRLP");
        let mut rest = &wrapped[..];
        let raw = alloy_rlp::Header::decode_bytes(&mut rest, false).expect("outer string");
        let mut buf = vec![0u8; template.buffer_len(input.len())];
        let signed = template
            .sign_rfc6979(&fields, &signer, &mut buf)
            .expect("fits");
        assert_eq!(
            hex::encode(&buf[..signed.len]),
            hex::encode(raw),
            "case {i}"
        );
    }

    // EIP-155: the specification's legacy example, signing hash and signed bytes.
    let v = load("eip155-example.json");
    let signer = Signer::from_bytes(&key_field(&v)).expect("valid key");
    let template = TxTemplate::with_value(
        TxType::Legacy,
        u64_field(&v, "chainId"),
        str_field(&v, "to").parse::<Address>().expect("to"),
        U256::from(u64_field(&v, "value")),
    );
    let fields = TxFields {
        nonce: u64_field(&v, "nonce"),
        max_priority_fee_per_gas: 0,
        max_fee_per_gas: u64_field(&v, "gasPrice").into(),
        gas_limit: u64_field(&v, "gasLimit"),
        input: &[],
    };
    let mut buf = vec![0u8; template.buffer_len(0)];
    assert_eq!(
        template.signing_hash(&fields, &mut buf),
        Ok(B256::from_slice(&hex_field(&v, "signingHash")))
    );
    let signed = template
        .sign_rfc6979(&fields, &signer, &mut buf)
        .expect("fits");
    assert_eq!(
        hex::encode(&buf[..signed.len]),
        hex::encode(hex_field(&v, "signedTransaction"))
    );
}
