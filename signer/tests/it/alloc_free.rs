//! Proves that encoding and signing allocate nothing after warm-up, with `polyarb_alloc_count`'s
//! counting global allocator. Counting is per thread, so tests running in parallel in this binary
//! do not disturb each other.

use alloy_primitives::{Address, U256};
use polyarb_alloc_count::Counting;
use polyarb_signer::{
    Eip1559Tx, NonceTracker, SignPath, Signer, TxFields, TxTemplate, TxType, coupon_ring,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations (count, bytes requested) made by this thread while `f` runs.
fn count<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (out, n) = polyarb_alloc_count::count(f);
    (out, n.calls, n.bytes)
}

#[test]
fn encode_and_sign_allocate_nothing_after_warm_up() {
    let signer =
        Signer::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646")
            .expect("valid key");
    let calldata: Vec<u8> = (0..300u16).map(|i| i.to_le_bytes()[0]).collect();
    let mut nonces = NonceTracker::new(5);
    let mut buf = [0u8; 512];
    let tx = |nonce: u64, input: &'static [u8]| Eip1559Tx {
        chain_id: 137,
        nonce,
        max_priority_fee_per_gas: 30_000_000_000,
        max_fee_per_gas: 250_000_000_000,
        gas_limit: 600_000,
        to: Address::repeat_byte(0xab),
        value: U256::ZERO,
        input,
    };
    let calldata: &'static [u8] = calldata.leak();

    // Warm-up: first use of anything lazily initialised.
    signer
        .sign_eip1559(&tx(nonces.next(), calldata), &mut buf)
        .expect("fits");

    let (lens, allocs, bytes) = count(|| {
        let mut lens = [0usize; 4];
        for (i, input) in [&[][..], &[0x7f], &calldata[..4], calldata]
            .into_iter()
            .enumerate()
        {
            let t = tx(nonces.next(), input);
            let hash = t.signing_hash();
            let signed = signer.sign_eip1559(&t, &mut buf).expect("fits");
            lens[i] = signed.len;
            std::hint::black_box((hash, signed));
        }
        lens
    });
    assert!(lens.iter().all(|&l| l > 0));
    assert_eq!(
        (allocs, bytes),
        (0, 0),
        "heap allocations (count, bytes) in encode + sign"
    );
}

#[test]
fn template_signing_with_coupons_and_fallback_allocates_nothing() {
    let signer =
        Signer::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646")
            .expect("valid key");
    let (mut mint, mut coupons) = coupon_ring(8);
    assert_eq!(mint.fill(), Ok(8));
    let input = [0x5au8; 205];
    let mut buf = [0u8; 512];
    let eip1559 = TxTemplate::new(TxType::Eip1559, 137, Address::repeat_byte(0xab));
    let legacy = TxTemplate::new(TxType::Legacy, 137, Address::repeat_byte(0xab));
    let fields = |nonce| TxFields {
        nonce,
        max_priority_fee_per_gas: 30_000_000_000,
        max_fee_per_gas: 250_000_000_000,
        gas_limit: 600_000,
        input: &input,
    };
    // Warm-up, on the fallback path too.
    let mut warm = coupon_ring(1).1;
    eip1559
        .sign(&fields(0), &signer, &mut warm, &mut buf)
        .expect("fits");

    let (paths, allocs, bytes) = count(|| {
        let mut paths = [0usize; 2];
        // Eight with coupons, then two more with the ring empty: RFC 6979.
        for nonce in 1..=10 {
            let t = if nonce % 2 == 0 { &eip1559 } else { &legacy };
            let signed = t
                .sign(&fields(nonce), &signer, &mut coupons, &mut buf)
                .expect("fits");
            paths[usize::from(signed.path == SignPath::Rfc6979)] += 1;
        }
        paths
    });
    assert_eq!(paths, [8, 2], "coupon and fallback signatures");
    assert_eq!(
        (allocs, bytes),
        (0, 0),
        "heap allocations (count, bytes) in template + coupon signing"
    );
}
