//! Nonce coupons under independent checks: signatures verify and recover in libsecp256k1 (the
//! C library Bitcoin Core uses) as well as in k256; across a mint thread and a signing thread
//! racing on a small ring no coupon is used twice and none is lost; and no r repeats over many
//! signatures.

use std::collections::HashSet;
use std::thread;

use alloy_primitives::{Address, B256, U256, keccak256};
use polyarb_signer::{
    Coupons, SignPath, Signature, Signer, TxFields, TxTemplate, TxType, coupon_ring,
};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, Secp256k1, SecretKey};

const KEY: [u8; 32] = [0x5a; 32];

/// libsecp256k1's verdict on `sig` over `hash`: verified against the key's public key (its
/// verifier refuses high s, so this also checks EIP-2), and the public key it recovers.
fn libsecp_check(hash: &B256, sig: &Signature) -> (bool, PublicKey) {
    let secp = Secp256k1::new();
    let msg = Message::from_digest(hash.0);
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r.to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s.to_be_bytes::<32>());
    let pk = PublicKey::from_secret_key(&secp, &SecretKey::from_byte_array(KEY).expect("key"));
    let plain = secp256k1::ecdsa::Signature::from_compact(&compact).expect("64 bytes");
    let verified = secp.verify_ecdsa(msg, &plain, &pk).is_ok();
    let recid = RecoveryId::try_from(i32::from(sig.y_parity)).expect("0 or 1");
    let rsig = RecoverableSignature::from_compact(&compact, recid).expect("r, s in range");
    let recovered = secp.recover_ecdsa(msg, &rsig).expect("recoverable");
    (verified, recovered)
}

fn our_public_key() -> PublicKey {
    let secp = Secp256k1::new();
    PublicKey::from_secret_key(&secp, &SecretKey::from_byte_array(KEY).expect("key"))
}

#[test]
fn coupon_signatures_verify_and_recover_in_libsecp256k1_and_k256() {
    let signer = Signer::from_bytes(&KEY).expect("key");
    let (mut mint, mut coupons) = coupon_ring(200);
    assert_eq!(mint.fill(), Ok(200));
    for i in 0u64..200 {
        let hash = keccak256(i.to_le_bytes());
        let (sig, path) = coupons.sign(&signer, &hash).expect("signs");
        assert_eq!(path, SignPath::Coupon);
        let (verified, recovered) = libsecp_check(&hash, &sig);
        assert!(verified, "libsecp256k1 refuses signature {i}");
        assert_eq!(recovered, our_public_key(), "signature {i}");
        // k256 as a second verifier, through the uncompressed point.
        let k = k256::ecdsa::Signature::from_scalars(
            sig.r.to_be_bytes::<32>(),
            sig.s.to_be_bytes::<32>(),
        )
        .expect("r, s in range");
        let vk = k256::ecdsa::VerifyingKey::recover_from_prehash(
            hash.as_slice(),
            &k,
            k256::ecdsa::RecoveryId::new(sig.y_parity, false),
        )
        .expect("recoverable");
        assert_eq!(
            vk.to_encoded_point(false).as_bytes(),
            &recovered.serialize_uncompressed()[..]
        );
    }
}

/// Signs `n` transactions on this thread while `mint` refills on another; returns every
/// signature's r and path.
fn race(n: usize, depth: usize) -> (Vec<(U256, SignPath)>, Coupons, u64) {
    let signer = Signer::from_bytes(&KEY).expect("key");
    let (mint, mut coupons) = coupon_ring(depth);
    let mut handle = mint.spawn("test-mint").expect("thread");
    let template = TxTemplate::new(TxType::Eip1559, 137, Address::repeat_byte(0x11));
    let input = [0xabu8; 131];
    let mut buf = vec![0u8; template.buffer_len(input.len())];
    let mut seen = Vec::with_capacity(n);
    for nonce in 0..n as u64 {
        let fields = TxFields {
            nonce,
            max_priority_fee_per_gas: 30_000_000_000,
            max_fee_per_gas: 90_000_000_000,
            gas_limit: 400_000,
            input: &input,
        };
        let mut scratch = vec![0u8; buf.len()];
        let hash = template.signing_hash(&fields, &mut scratch).expect("fits");
        let (sig, path) = coupons.sign(&signer, &hash).expect("signs");
        seen.push((sig.r, path));
        // Some transactions through the template too, so both entry points race the mint.
        if nonce % 4 == 0 {
            template
                .sign(&fields, &signer, &mut coupons, &mut buf)
                .expect("fits");
        }
        if nonce % 64 == 0 {
            thread::yield_now();
        }
    }
    handle.stop();
    let minted = handle.minted();
    (seen, coupons, minted)
}

#[test]
fn across_threads_no_coupon_is_used_twice_or_lost() {
    let (seen, coupons, minted) = race(3_000, 8);
    let stats = coupons.stats();
    let signed = seen.len() as u64 + seen.len().div_ceil(4) as u64;
    // Every signature took a coupon or fell back, and every coupon made was used once or is
    // still waiting: none was handed out twice, none vanished.
    assert_eq!(stats.used + stats.fallbacks, signed);
    assert_eq!(stats.minted, minted);
    assert_eq!(minted, stats.used + stats.waiting as u64, "{stats:?}");
    // The ring (8 deep) cannot keep up with signing, so both paths ran.
    assert!(stats.used > 0, "{stats:?}");
    assert!(stats.fallbacks > 0, "{stats:?}");
    let coupon_rs: HashSet<U256> = seen
        .iter()
        .filter(|(_, p)| *p == SignPath::Coupon)
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(
        coupon_rs.len(),
        seen.iter().filter(|(_, p)| *p == SignPath::Coupon).count(),
        "an r repeated: a coupon was used twice"
    );
}

#[test]
fn twenty_thousand_coupon_signatures_show_no_repeated_r_and_balanced_bits() {
    let signer = Signer::from_bytes(&KEY).expect("key");
    const N: usize = 20_000;
    let (mut mint, mut coupons) = coupon_ring(N);
    assert_eq!(mint.fill(), Ok(N));
    let mut rs = HashSet::with_capacity(N);
    let mut ones = [0u32; 256];
    for i in 0..N as u64 {
        let (sig, path) = coupons
            .sign(&signer, &keccak256(i.to_be_bytes()))
            .expect("signs");
        assert_eq!(path, SignPath::Coupon);
        assert!(rs.insert(sig.r), "r repeated at signature {i}");
        for (bit, count) in ones.iter_mut().enumerate() {
            *count += u32::from(sig.r.bit(bit));
        }
    }
    // r = x(kG) for uniform k is uniform below n to within 2^-127: each of its low 255 bits
    // is one with probability 1/2. Over 20,000 draws a count outside 10,000 ± 6σ (σ ≈ 70.7)
    // has odds below 10^-8 per bit; a stuck or biased random source fails it at once.
    for (bit, &count) in ones.iter().enumerate().take(255) {
        assert!(
            (9_576..=10_424).contains(&count),
            "bit {bit} of r is one in {count} of {N} signatures"
        );
    }
}
