//! Nonce coupons: the expensive half of an ECDSA signature, made ahead of time off the hot path.
//!
//! A signature needs a secret nonce k, the point R = k·G and k⁻¹. All three are independent of
//! the message, so a background thread (the *mint*) draws k from the operating system's CSPRNG,
//! computes r = x(R) mod n, the parity of R.y and k⁻¹, and hands the result to the signing
//! thread through an SPSC ring (`rtrb`). Signing a message is then s = k⁻¹·(z + r·d): two scalar
//! multiplications and an addition (FIPS 186-5 §6.4.1 allows precomputing k, k⁻¹ and r).
//!
//! This is sound only under rules the types enforce:
//! - k is uniform: 32 bytes from `getrandom`, rejected and redrawn unless 0 < k < n.
//! - A coupon is used once: [`Coupon`] is neither `Clone` nor `Copy`, the ring hands each slot to
//!   one reader, and [`Coupons::sign`] wipes the slot as it releases it.
//! - Nothing outlives its use: k is wiped as soon as k⁻¹ and R are known, and the coupon's
//!   fields when it is used or dropped (unused coupons are dropped, so wiped, with the ring: a
//!   restart throws them away). Coupons are never written to disk or logs; `Debug` shows none
//!   of their content. Copies the compiler makes in registers or on the stack are beyond what
//!   Rust lets a library wipe; the ring slot and every named variable are wiped.
//! - Ethereum's signature has a one-bit recovery id (the parity of R.y), so a k whose x(R) is
//!   n or more (r reduced: odds about 2⁻¹²⁷) is discarded rather than needing a second bit.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use alloy_primitives::{B256, U256};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use k256::{FieldBytes, ProjectivePoint, Scalar};
use rtrb::{Consumer, Producer, RingBuffer};
use zeroize::Zeroize;

use crate::key::Signer;
use crate::sign::{SignError, Signature};

/// How long the mint sleeps when the ring is full before looking again. Once signing takes
/// coupons, the refill starts at most this late: some 22 coupons' worth of minting (about
/// 44 µs each), against a ring of thousands. Long enough that an idle mint costs nothing
/// measurable.
const FULL_NAP: Duration = Duration::from_millis(1);

/// The precomputed part of one signature: k⁻¹, r and the parity of R.y for a fresh random k.
///
/// Usable once. Its fields are wiped when it is dropped.
pub struct Coupon {
    k_inv: Scalar,
    r: Scalar,
    y_odd: bool,
}

impl Default for Coupon {
    /// An empty coupon (all zero) that signs nothing: s would be 0, which signing refuses. Used only to initialise ring slots before the mint writes into them.
    fn default() -> Self {
        Self {
            k_inv: Scalar::ZERO,
            r: Scalar::ZERO,
            y_odd: false,
        }
    }
}

impl Drop for Coupon {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl fmt::Debug for Coupon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Coupon { .. }")
    }
}

/// Why the mint could not make a coupon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MintError {
    /// The operating system's random source failed (its error code, if it gave one).
    Entropy {
        /// The raw OS error, if any.
        os_error: Option<i32>,
    },
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entropy { os_error: Some(e) } => {
                write!(f, "the os random source failed (os error {e})")
            }
            Self::Entropy { os_error: None } => f.write_str("the os random source failed"),
        }
    }
}

impl core::error::Error for MintError {}

impl Coupon {
    /// A coupon for a fresh nonce from the OS CSPRNG.
    pub fn mint() -> Result<Self, MintError> {
        loop {
            let mut k = random_scalar()?;
            let made = Self::from_nonce(&k);
            k.zeroize();
            if let Some(c) = made {
                return Ok(c);
            }
        }
    }

    /// The coupon for nonce `k`, or `None` when k is zero or x(kG) ≥ n (a second recovery bit
    /// would be needed). Public to the crate only: a caller-chosen k is how keys leak.
    pub(crate) fn from_nonce(k: &Scalar) -> Option<Self> {
        let k_inv = Option::<Scalar>::from(k.invert())?;
        let point = ProjectivePoint::mul_by_generator(k).to_affine();
        let x: FieldBytes = point.x();
        // `from_repr` refuses x ≥ n instead of reducing it: exactly the case to discard.
        let r = Option::<Scalar>::from(Scalar::from_repr(x))?;
        if bool::from(r.is_zero()) {
            return None;
        }
        Some(Self {
            k_inv,
            r,
            y_odd: point.y_is_odd().into(),
        })
    }

    /// Signs the 32-byte prehash `hash` with key `d`: s = k⁻¹·(z + r·d), then low s (EIP-2:
    /// s > n/2 becomes n − s and the parity flips). `None` only if s = 0 (odds 2⁻²⁵⁶, or an
    /// empty coupon): the caller signs another way.
    fn sign(&self, d: &Scalar, hash: &B256) -> Option<Signature> {
        let z = <Scalar as Reduce<U256Repr>>::reduce_bytes(&FieldBytes::from(hash.0));
        let mut s = self.k_inv * (z + self.r * d);
        if bool::from(s.is_zero()) {
            return None;
        }
        let mut y_parity = self.y_odd;
        if bool::from(s.is_high()) {
            s = -s;
            y_parity = !y_parity;
        }
        let sig = Signature {
            y_parity,
            r: U256::from_be_bytes::<32>(self.r.to_bytes().into()),
            s: U256::from_be_bytes::<32>(s.to_bytes().into()),
        };
        s.zeroize();
        Some(sig)
    }

    /// r as it appears in the signature, for tests that look for repeats.
    #[cfg(test)]
    pub(crate) fn r(&self) -> Scalar {
        self.r
    }

    fn wipe(&mut self) {
        self.k_inv.zeroize();
        self.r.zeroize();
        self.y_odd = false;
    }
}

/// The integer type k256 reduces 32-byte strings through.
type U256Repr = k256::U256;

/// A uniform scalar in [1, n): 32 random bytes, redrawn until they are a valid nonzero scalar
/// (rejection sampling keeps it uniform; a draw fails with odds about 2⁻¹²⁸).
fn random_scalar() -> Result<Scalar, MintError> {
    let mut bytes = FieldBytes::default();
    loop {
        getrandom::fill(&mut bytes).map_err(|e| MintError::Entropy {
            os_error: e.raw_os_error(),
        })?;
        let k = Option::<Scalar>::from(Scalar::from_repr(bytes));
        bytes.zeroize();
        match k {
            Some(k) if !bool::from(k.is_zero()) => return Ok(k),
            _ => {}
        }
    }
}

/// Counters the mint and the signing side share. All monotonic.
#[derive(Debug, Default)]
struct Shared {
    /// Coupons made and put in the ring.
    minted: AtomicU64,
    /// The mint has been told to stop.
    stop: AtomicBool,
    /// The mint stopped because the OS random source failed.
    entropy_failed: AtomicBool,
}

/// What the signing side did, for the run report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CouponStats {
    /// Signatures made with a coupon.
    pub used: u64,
    /// Signatures made with RFC 6979 because the ring was empty (or a coupon gave s = 0).
    pub fallbacks: u64,
    /// Coupons the mint has made since start.
    pub minted: u64,
    /// Coupons waiting in the ring now.
    pub waiting: usize,
    /// The mint stopped because the OS random source failed (every signature falls back).
    pub entropy_failed: bool,
}

/// How a signature was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignPath {
    /// With a precomputed nonce coupon.
    Coupon,
    /// With RFC 6979 (no coupon was waiting).
    Rfc6979,
}

/// The signing side of a coupon ring: takes one coupon per signature, falls back to RFC 6979
/// when none is waiting, and counts both.
pub struct Coupons {
    ring: Consumer<Coupon>,
    shared: Arc<Shared>,
    used: u64,
    fallbacks: u64,
}

impl fmt::Debug for Coupons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coupons")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The making side of a coupon ring: fills it on a background thread.
pub struct CouponMint {
    ring: Producer<Coupon>,
    shared: Arc<Shared>,
}

impl fmt::Debug for CouponMint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CouponMint")
            .field("capacity", &self.ring.buffer().capacity())
            .field("free_slots", &self.ring.slots())
            .finish()
    }
}

/// A coupon ring holding up to `depth` coupons (at least 1): the mint that fills it and the
/// signing side that empties it. The ring starts empty; [`CouponMint::fill`] or
/// [`CouponMint::spawn`] fills it.
pub fn coupon_ring(depth: usize) -> (CouponMint, Coupons) {
    let (producer, consumer) = RingBuffer::new(depth.max(1));
    let shared = Arc::new(Shared::default());
    (
        CouponMint {
            ring: producer,
            shared: Arc::clone(&shared),
        },
        Coupons {
            ring: consumer,
            shared,
            used: 0,
            fallbacks: 0,
        },
    )
}

impl CouponMint {
    /// Makes coupons until the ring is full or the signing side is gone; returns how many it
    /// made.
    pub fn fill(&mut self) -> Result<usize, MintError> {
        let mut made = 0;
        while !self.ring.is_abandoned() && !self.ring.is_full() {
            self.mint_one()?;
            made += 1;
        }
        Ok(made)
    }

    /// Makes one coupon straight into the next free slot. Returns `false` if the ring is full.
    fn mint_one(&mut self) -> Result<bool, MintError> {
        // `write_chunk` hands out a slot initialised with the empty coupon; the fields are
        // written in place, so the finished coupon is never moved through another variable.
        let Ok(mut chunk) = self.ring.write_chunk(1) else {
            return Ok(false);
        };
        let coupon = Coupon::mint()?;
        let (first, _) = chunk.as_mut_slices();
        if let Some(slot) = first.first_mut() {
            slot.k_inv = coupon.k_inv;
            slot.r = coupon.r;
            slot.y_odd = coupon.y_odd;
        }
        // `coupon` is dropped here, which wipes it.
        drop(coupon);
        chunk.commit_all();
        self.shared.minted.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Runs the mint on a thread named `name`: keeps the ring full, naps while it is full, and
    /// ends when the signing side is dropped or [`MintHandle::stop`] is called. A failing OS
    /// random source ends it too (the signing side sees `entropy_failed` and falls back).
    pub fn spawn(self, name: &str) -> std::io::Result<MintHandle> {
        self.spawn_with(name, || {})
    }

    /// As [`CouponMint::spawn`], running `init` on the new thread first (the engine pins the
    /// mint to a housekeeping core there, off the hot stages' cores).
    pub fn spawn_with(
        mut self,
        name: &str,
        init: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<MintHandle> {
        let shared = Arc::clone(&self.shared);
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                init();
                while !self.shared.stop.load(Ordering::Relaxed) && !self.ring.is_abandoned() {
                    match self.mint_one() {
                        Ok(true) => {}
                        Ok(false) => thread::sleep(FULL_NAP),
                        Err(_) => {
                            self.shared.entropy_failed.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            })?;
        Ok(MintHandle {
            shared,
            thread: Some(thread),
        })
    }
}

/// The running mint thread. Dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct MintHandle {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl MintHandle {
    /// Stops the mint and waits for its thread (at most one coupon's work plus one nap).
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A panic in the mint would only mean no more coupons; signing falls back.
            let _ = t.join();
        }
    }

    /// Coupons made so far.
    pub fn minted(&self) -> u64 {
        self.shared.minted.load(Ordering::Relaxed)
    }
}

impl Drop for MintHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Coupons {
    /// Signs the prehash `hash` with `signer`, using the next coupon if one is waiting and
    /// RFC 6979 otherwise. The coupon is used where it lies in the ring and wiped there.
    pub fn sign(
        &mut self,
        signer: &Signer,
        hash: &B256,
    ) -> Result<(Signature, SignPath), SignError> {
        if let Ok(chunk) = self.ring.read_chunk(1) {
            let (first, _) = chunk.as_slices();
            let sig = first
                .first()
                .and_then(|c| c.sign(signer.key().as_nonzero_scalar(), hash));
            // Releasing the slot drops the coupon in place, which wipes it: used or not, it
            // is gone.
            chunk.commit_all();
            if let Some(sig) = sig {
                self.used += 1;
                return Ok((sig, SignPath::Coupon));
            }
        }
        self.fallbacks += 1;
        Ok((signer.sign_hash(hash)?, SignPath::Rfc6979))
    }

    /// Counters so far.
    pub fn stats(&self) -> CouponStats {
        CouponStats {
            used: self.used,
            fallbacks: self.fallbacks,
            minted: self.shared.minted.load(Ordering::Relaxed),
            waiting: self.ring.slots(),
            entropy_failed: self.shared.entropy_failed.load(Ordering::Relaxed),
        }
    }

    /// Takes one coupon out and hands back its r, for the tests that prove no r repeats.
    #[cfg(test)]
    fn take_r(&mut self) -> Option<Scalar> {
        let chunk = self.ring.read_chunk(1).ok()?;
        let r = chunk.as_slices().0.first().map(Coupon::r);
        chunk.commit_all();
        r
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::sign::tests::recover;
    use alloy_primitives::keccak256;

    fn signer(seed: u8) -> Signer {
        Signer::from_bytes(&[seed; 32]).expect("valid scalar")
    }

    #[test]
    fn a_coupon_signature_recovers_to_the_signer_and_is_low_s() {
        let s = signer(0x51);
        let (mut mint, mut coupons) = coupon_ring(64);
        assert_eq!(mint.fill(), Ok(64));
        let mut parities = [0usize; 2];
        for i in 0u64..64 {
            let hash = keccak256(i.to_be_bytes());
            let (sig, path) = coupons.sign(&s, &hash).expect("signs");
            assert_eq!(path, SignPath::Coupon);
            assert!(!bool::from(
                Scalar::from_repr(sig.s.to_be_bytes::<32>().into())
                    .expect("s < n")
                    .is_high()
            ));
            parities[usize::from(sig.y_parity)] += 1;
            assert_eq!(recover(&hash, &sig), *s.verifying_key());
        }
        assert!(parities[0] > 0 && parities[1] > 0, "{parities:?}");
        let stats = coupons.stats();
        assert_eq!((stats.used, stats.fallbacks, stats.waiting), (64, 0, 0));
    }

    #[test]
    fn a_known_nonce_gives_the_textbook_signature() {
        // Independent of the coupon code: with k fixed, r must be x(kG) as k256's own
        // `sign_prehash_with_nonce`-free path computes it, and (r, s) must verify under
        // k256's verifier. Uses k = 2, whose point 2G is published in SEC 2's examples.
        let k = Scalar::from(2u64);
        let c = Coupon::from_nonce(&k).expect("valid k");
        let two_g = (ProjectivePoint::GENERATOR + ProjectivePoint::GENERATOR).to_affine();
        assert_eq!(c.r().to_bytes(), two_g.x());
        let s = signer(0x52);
        let hash = keccak256(b"fixed nonce");
        let sig = c.sign(s.key().as_nonzero_scalar(), &hash).expect("nonzero");
        assert_eq!(recover(&hash, &sig), *s.verifying_key());
    }

    #[test]
    fn an_empty_ring_falls_back_to_rfc6979_and_counts_it() {
        let s = signer(0x53);
        let (_mint, mut coupons) = coupon_ring(4);
        let hash = keccak256(b"dry");
        let (sig, path) = coupons.sign(&s, &hash).expect("signs");
        assert_eq!(path, SignPath::Rfc6979);
        assert_eq!(
            Ok(sig),
            s.sign_hash(&hash),
            "the fallback is the RFC 6979 signature"
        );
        assert_eq!(coupons.stats().fallbacks, 1);
        assert_eq!(coupons.stats().used, 0);
    }

    #[test]
    fn an_empty_coupon_is_never_used() {
        // s would be 0 for an all-zero coupon; it must be refused, not signed with.
        let c = Coupon::default();
        let s = signer(0x54);
        assert_eq!(c.sign(s.key().as_nonzero_scalar(), &keccak256(b"x")), None);
    }

    #[test]
    fn nonces_of_zero_are_refused() {
        assert!(Coupon::from_nonce(&Scalar::ZERO).is_none());
    }

    #[test]
    fn dropping_a_coupon_wipes_it() {
        let mut c = Coupon::mint().expect("entropy");
        assert!(!bool::from(c.k_inv.is_zero()));
        c.wipe();
        assert!(bool::from(c.k_inv.is_zero()) && bool::from(c.r.is_zero()) && !c.y_odd);
    }

    #[test]
    fn debug_shows_no_coupon_content() {
        let c = Coupon::mint().expect("entropy");
        let text = format!("{c:?} {c:#?}");
        let r_hex = alloy_primitives::hex::encode(c.r().to_bytes());
        assert!(!text.contains(&r_hex[..8]), "{text}");
        assert_eq!(format!("{c:?}"), "Coupon { .. }");
    }

    #[test]
    fn ten_thousand_coupons_have_distinct_r() {
        // A repeated r means a repeated k, which gives the key away. With a uniform k the
        // odds of any repeat among 10^4 draws are about 10^8 / 2^257: a repeat is a bug.
        let (mut mint, mut coupons) = coupon_ring(10_000);
        assert_eq!(mint.fill(), Ok(10_000));
        let mut seen = HashSet::with_capacity(10_000);
        while let Some(r) = coupons.take_r() {
            assert!(seen.insert(r.to_bytes()), "r repeated");
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn mint_errors_display_lowercase() {
        assert_eq!(
            MintError::Entropy { os_error: Some(5) }.to_string(),
            "the os random source failed (os error 5)"
        );
    }
}
