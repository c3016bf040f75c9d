//! ns per signed, EIP-2718-encoded EIP-1559 transaction: the transaction template with a nonce
//! coupon waiting, against alloy and libsecp256k1 on the same fields, in one run.
//!
//! `cargo bench -p polyarb-bench --bench signer` (about 35 s after the build on 2 vCPUs)
//!
//! - `signer/one_3hop_tx/*`: one transaction calling the executor with the calldata of the
//!   sample's first 3-hop route (`encode_run`, as `pipeline.rs`'s `sign/` group), fees and gas
//!   limit as `TxBuilder` bids them, the same nonce every time. Every function ends with the
//!   signed raw transaction in memory.
//! - `signer/coupon_mint/mint`: one `Coupon::mint` (a random k, k·G, k⁻¹), the mint thread's
//!   cost per coupon; 1e9 / ns is the refill rate of one core, coupons per second.
//!
//! Before anything is timed: the RFC 6979 template and the libsecp256k1 path write the same
//! bytes as alloy; a coupon-signed transaction decodes with alloy, has a low s, and recovers
//! (libsecp256k1) to the same sender; the `keccak_payload` input hashes to the signing hash.

use std::hint::black_box;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_network::TxSignerSync;
use alloy_network::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use polyarb_bench::Sample;
use polyarb_core::{CALLDATA_MAX, encode_run};
use polyarb_signer::{
    Coupon, Coupons, SignPath, Signer, TxFields, TxTemplate, TxType, coupon_ring,
};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{All, Message, Secp256k1, SecretKey};

/// Coupons minted per untimed refill in `polyarb_coupon`: 4,096 × 72-byte slots (~300 KiB) stay
/// in this core's L2, as a ring filled by the mint thread would not (see the docs' notes).
const COUPON_CHUNK: u64 = 4_096;

/// What every function signs: the sample's first 3-hop route to the executor.
struct Fixture {
    chain_id: u64,
    to: Address,
    nonce: u64,
    /// Wei per gas.
    tip: u128,
    /// Wei per gas: newest base fee × multiplier + tip, as `TxBuilder::build` bids.
    max_fee: u128,
    /// Gas units.
    gas_limit: u64,
    calldata: Vec<u8>,
}

impl Fixture {
    fn load(s: &Sample) -> Self {
        let opps = s.opportunities().expect("engine builds");
        let opp = *opps
            .iter()
            .find(|o| o.hop_count == 3)
            .expect("the sample has a 3-hop opportunity");
        let mut calldata = [0u8; CALLDATA_MAX];
        let n = encode_run(&opp, opp.profit, &mut calldata).expect("route encodes");
        let fees = s.config.fee_bid();
        Self {
            chain_id: s.chain_id,
            to: s.executor,
            nonce: s.first_nonce,
            tip: fees.tip_wei,
            max_fee: opp
                .base_fee
                .saturating_mul(u128::from(fees.max_fee_multiplier))
                .saturating_add(fees.tip_wei),
            gas_limit: fees.gas_limit(opp.gas_budget),
            calldata: calldata[..n].to_vec(),
        }
    }

    fn fields(&self) -> TxFields<'_> {
        TxFields {
            nonce: self.nonce,
            max_priority_fee_per_gas: self.tip,
            max_fee_per_gas: self.max_fee,
            gas_limit: self.gas_limit,
            input: &self.calldata,
        }
    }

    /// The same transaction as alloy's type, unsigned (the input copied into a new `Bytes`).
    fn alloy_tx(&self) -> TxEip1559 {
        TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: self.tip,
            to: TxKind::Call(self.to),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::copy_from_slice(&self.calldata),
        }
    }
}

/// alloy's established path: build the transaction, `sign_transaction_sync` (signing hash +
/// k256 RFC 6979), EIP-2718 encode into `out` (cleared, capacity kept).
fn alloy_sign(alloy: &PrivateKeySigner, f: &Fixture, out: &mut Vec<u8>) {
    let mut tx = f.alloy_tx();
    let sig = alloy.sign_transaction_sync(&mut tx).expect("alloy signs");
    out.clear();
    tx.into_signed(sig).eip2718_encode(out);
}

/// Decodes `raw` with alloy, checks it is `want` with a low s, and recovers its sender with
/// libsecp256k1 (independent of the k256 that signed it).
fn recover_sender(secp: &Secp256k1<All>, raw: &[u8], want: &TxEip1559) -> Address {
    let TxEnvelope::Eip1559(signed) = TxEnvelope::decode_2718(&mut &raw[..]).expect("decodes")
    else {
        panic!("not an EIP-1559 transaction");
    };
    assert_eq!(signed.tx(), want, "decoded fields differ");
    let sig = signed.signature();
    assert!(sig.normalize_s().is_none(), "s is high");
    let mut rs = [0u8; 64];
    rs[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    rs[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let recid = RecoveryId::try_from(i32::from(sig.v())).expect("parity bit");
    let rec = RecoverableSignature::from_compact(&rs, recid).expect("r, s in range");
    let pk = secp
        .recover_ecdsa(Message::from_digest(signed.signature_hash().0), &rec)
        .expect("recovers");
    Address::from_slice(&keccak256(&pk.serialize_uncompressed()[1..])[12..])
}

/// Times `iters` coupon signatures: refills of `COUPON_CHUNK` coupons (~45 µs each here) are made
/// outside the timing, only the signing loops are summed.
fn time_coupon_signing(
    iters: u64,
    template: &TxTemplate,
    fields: &TxFields<'_>,
    signer: &Signer,
    out: &mut [u8],
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(COUPON_CHUNK);
        let (mut mint, mut coupons) = coupon_ring(n as usize);
        assert_eq!(mint.fill(), Ok(n as usize), "entropy");
        let start = Instant::now();
        for _ in 0..n {
            let signed = template
                .sign(black_box(fields), signer, &mut coupons, out)
                .expect("signs");
            black_box((signed.len, signed.path));
        }
        timed += start.elapsed();
        assert_all_coupons(&coupons, n);
        left -= n;
    }
    timed
}

/// `Coupons::sign` counts each signature as `used` (coupon path) or `fallbacks` (RFC 6979):
/// all `n` of the timed loop must be the former.
fn assert_all_coupons(coupons: &Coupons, n: u64) {
    let st = coupons.stats();
    assert_eq!(
        (st.used, st.fallbacks, st.waiting),
        (n, 0, 0),
        "a timed signature left the coupon path"
    );
}

/// The keys and encoders every function of `signer/one_3hop_tx` uses, built once.
struct Signers {
    ours: Signer,
    alloy: PrivateKeySigner,
    secp: Secp256k1<All>,
    secp_key: SecretKey,
    template: TxTemplate,
    /// The fixture as alloy's type, unsigned.
    alloy_tx: TxEip1559,
    /// The bytes the template hashes: the type byte and the unsigned RLP list.
    payload: Vec<u8>,
}

impl Signers {
    fn new(s: &Sample, f: &Fixture) -> Self {
        let kb = s.key_bytes().expect("[replay].key");
        let alloy_tx = f.alloy_tx();
        Self {
            ours: Signer::from_bytes(&kb).expect("key"),
            alloy: PrivateKeySigner::from_slice(&kb).expect("key"),
            secp: Secp256k1::new(),
            secp_key: SecretKey::from_byte_array(kb).expect("key"),
            template: TxTemplate::new(TxType::Eip1559, f.chain_id, f.to),
            payload: alloy_tx.encoded_for_signing(),
            alloy_tx,
        }
    }

    /// The same-work checks; returns the signed transaction's length in bytes.
    fn check(&self, f: &Fixture) -> usize {
        let fields = f.fields();
        let mut buf = vec![0u8; self.template.buffer_len(f.calldata.len())];
        let mut scratch = buf.clone();
        let mut want = Vec::new();
        // RFC 6979 is deterministic, so all three RFC 6979 paths write the same bytes.
        alloy_sign(&self.alloy, f, &mut want);
        let signed = self
            .template
            .sign_rfc6979(&fields, &self.ours, &mut buf)
            .expect("signs");
        assert_eq!(
            &buf[..signed.len],
            want.as_slice(),
            "template must sign what alloy signs"
        );
        let mut out = Vec::new();
        self.libsecp_sign(&fields, &mut scratch, &mut out);
        assert_eq!(out, want, "libsecp256k1 must sign what alloy signs");
        // A coupon signature differs (random k) but must be the same transaction, same key.
        let (mut mint, mut coupons) = coupon_ring(1);
        assert_eq!(mint.fill(), Ok(1));
        let signed = self
            .template
            .sign(&fields, &self.ours, &mut coupons, &mut buf)
            .expect("signs");
        assert_eq!(signed.path, SignPath::Coupon);
        assert_eq!(signed.len, want.len());
        assert_eq!(
            recover_sender(&self.secp, &buf[..signed.len], &self.alloy_tx),
            self.alloy.address()
        );
        assert_eq!(
            keccak256(&self.payload),
            self.template
                .signing_hash(&fields, &mut scratch)
                .expect("fits")
        );
        want.len()
    }

    /// libsecp256k1 in k256's seat: our template's signing hash (written through `scratch`),
    /// `sign_ecdsa_recoverable` (RFC 6979 and low s, in C), then alloy's envelope encoder on a
    /// clone of the prebuilt transaction (a `Bytes` refcount, no copy of the input) into `out`.
    fn libsecp_sign(&self, fields: &TxFields<'_>, scratch: &mut [u8], out: &mut Vec<u8>) {
        let hash = self
            .template
            .signing_hash(fields, scratch)
            .expect("buffer fits");
        let (recid, rs) = self
            .secp
            .sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.secp_key)
            .serialize_compact();
        let sig = alloy_primitives::Signature::new(
            U256::from_be_slice(&rs[..32]),
            U256::from_be_slice(&rs[32..]),
            i32::from(recid) == 1,
        );
        out.clear();
        self.alloy_tx.clone().into_signed(sig).eip2718_encode(out);
    }
}

fn one_tx_benches(c: &mut Criterion, k: &Signers, f: &Fixture) {
    let fields = f.fields();
    let mut buf = vec![0u8; k.template.buffer_len(f.calldata.len())];
    let mut scratch = buf.clone();
    let mut out = Vec::with_capacity(512);

    let mut g = c.benchmark_group("signer/one_3hop_tx");
    quick(&mut g);
    g.bench_function("alloy_baseline", |b| {
        b.iter(|| alloy_sign(&k.alloy, black_box(f), &mut out))
    });
    g.bench_function("libsecp256k1_baseline", |b| {
        b.iter(|| k.libsecp_sign(black_box(&fields), &mut scratch, &mut out))
    });
    g.bench_function("polyarb_rfc6979", |b| {
        b.iter(|| {
            let signed = k
                .template
                .sign_rfc6979(black_box(&fields), &k.ours, &mut buf)
                .expect("signs");
            black_box(signed.len)
        })
    });
    // Criterion 0.8 sizes a run's iteration counts from the warm-up's wall time per iteration,
    // and `iter_custom`'s wall time includes the untimed minting (~45 µs per coupon against
    // ~1 µs of signing). So this function's wall time is about warm-up + measurement, nearly
    // all of it minting, and only a few 10⁴ signatures are timed; keep both short.
    g.warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("polyarb_coupon", |b| {
        b.iter_custom(|iters| time_coupon_signing(iters, &k.template, &fields, &k.ours, &mut buf))
    });
    quick(&mut g);
    g.bench_function("keccak_payload", |b| {
        b.iter(|| keccak256(black_box(k.payload.as_slice())))
    });
    g.finish();
}

fn mint_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("signer/coupon_mint");
    quick(&mut g);
    // Dropping the coupon (its wipe, a few stores) is inside the timing; the mint drops it too
    // once it is copied into the ring.
    g.bench_function("mint", |b| {
        b.iter(|| black_box(Coupon::mint().expect("entropy")))
    });
    g.finish();
}

/// Keeps the whole file near a minute on a 2-vCPU VM.
fn quick(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn main() {
    let sample = Sample::load().unwrap_or_else(|e| panic!("{e}"));
    let fixture = Fixture::load(&sample);
    let signers = Signers::new(&sample, &fixture);
    let signed_len = signers.check(&fixture);
    println!(
        "signer/one_3hop_tx: {} bytes of calldata, {} bytes hashed, {} bytes signed and encoded",
        fixture.calldata.len(),
        signers.payload.len(),
        signed_len
    );
    let mut c = Criterion::default().configure_from_args();
    one_tx_benches(&mut c, &signers, &fixture);
    mint_benches(&mut c);
    c.final_summary();
}
