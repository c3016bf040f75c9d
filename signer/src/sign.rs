//! secp256k1 signing: RFC 6979 deterministic, recoverable, low-s (EIP-2).

use core::fmt;

use alloy_primitives::{B256, U256, keccak256};
use k256::ecdsa;

use crate::key::Signer;
use crate::tx::{BufferTooSmall, Eip1559Tx};

/// A recoverable secp256k1 signature in Ethereum's form, `s` always in the low half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parity of the y coordinate of the nonce point R: `false` = even (0), `true` = odd (1).
    pub y_parity: bool,
    /// x coordinate of R, reduced mod n.
    pub r: U256,
    /// The s scalar, at most n/2.
    pub s: U256,
}

/// A signed transaction written to the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Bytes written at the front of the buffer: the raw transaction for
    /// `eth_sendRawTransaction`.
    pub len: usize,
    /// Transaction hash: keccak256 of those bytes.
    pub hash: B256,
}

/// Why signing failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignError {
    /// The signed envelope did not fit the buffer (bytes).
    BufferTooSmall {
        /// Bytes the envelope needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// k256 refused to sign. With a valid key and a 32-byte prehash this does not happen in
    /// practice (RFC 6979 retries internally), but the library reports it as possible.
    Ecdsa,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed, got } => {
                write!(f, "buffer too small: need {needed} bytes, have {got}")
            }
            Self::Ecdsa => f.write_str("ecdsa signing failed"),
        }
    }
}

impl core::error::Error for SignError {}

impl From<BufferTooSmall> for SignError {
    fn from(e: BufferTooSmall) -> Self {
        Self::BufferTooSmall {
            needed: e.needed,
            got: e.got,
        }
    }
}

impl Signer {
    /// Signs a 32-byte prehash (any scheme: EIP-1559 signing hash, legacy EIP-155 hash, ...).
    pub fn sign_hash(&self, hash: &B256) -> Result<Signature, SignError> {
        let (sig, recid) = self
            .key()
            .sign_prehash_recoverable(hash.as_slice())
            .map_err(|_| SignError::Ecdsa)?;
        // The recovery id's "x reduced" bit (r came from x ≥ n, odds about 2^-127) has no place
        // in Ethereum's signature; like every Ethereum signer we keep only the y parity.
        let (sig, y_parity) = low_s(sig, recid.is_y_odd());
        let (r, s) = sig.split_bytes();
        Ok(Signature {
            y_parity,
            r: U256::from_be_bytes::<32>(r.into()),
            s: U256::from_be_bytes::<32>(s.into()),
        })
    }

    /// Signs `tx` and writes the raw signed transaction to the front of `out`.
    ///
    /// No heap allocation. Size `out` with [`Eip1559Tx::max_signed_len`]; on
    /// [`SignError::BufferTooSmall`] nothing was written.
    pub fn sign_eip1559(&self, tx: &Eip1559Tx<'_>, out: &mut [u8]) -> Result<Signed, SignError> {
        let sig = self.sign_hash(&tx.signing_hash())?;
        let len = tx.encode_signed(&sig, out)?;
        // `encode_signed` returned Ok, so `out` holds at least `len` bytes.
        let hash = keccak256(out.get(..len).unwrap_or_default());
        Ok(Signed { len, hash })
    }
}

/// EIP-2: a signature with s > n/2 is replaced by (r, n − s), which verifies for the negated
/// nonce point, so the y parity flips. k256 0.13 already returns low s; this keeps the rule
/// true whatever the library version does.
fn low_s(sig: ecdsa::Signature, y_parity: bool) -> (ecdsa::Signature, bool) {
    match sig.normalize_s() {
        Some(low) => (low, !y_parity),
        None => (sig, y_parity),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use k256::ecdsa::{RecoveryId, VerifyingKey};

    use super::*;

    /// n/2 for secp256k1, from SEC 2 (n = FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFE BAAEDCE6 AF48A03B
    /// BFD25E8C D0364141), rounded down.
    const HALF_N: U256 = U256::from_be_bytes([
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b,
        0x20, 0xa0,
    ]);

    fn signer(seed: u8) -> Signer {
        Signer::from_bytes(&[seed; 32]).expect("valid scalar")
    }

    /// The public key k256 recovers from `sig` over `hash` (the coupon tests use it too).
    pub(crate) fn recover(hash: &B256, sig: &Signature) -> VerifyingKey {
        let k =
            ecdsa::Signature::from_scalars(sig.r.to_be_bytes::<32>(), sig.s.to_be_bytes::<32>())
                .expect("r, s in range");
        VerifyingKey::recover_from_prehash(
            hash.as_slice(),
            &k,
            RecoveryId::new(sig.y_parity, false),
        )
        .expect("recoverable")
    }

    #[test]
    fn half_n_constant_is_n_shifted_right() {
        // n is odd, so n − 1 = 2·⌊n/2⌋; k256's scalar −1 is n − 1, independent of the literal.
        let n_minus_1 = U256::from_be_slice(&(-k256::Scalar::ONE).to_bytes());
        assert_eq!(HALF_N * U256::from(2), n_minus_1);
    }

    #[test]
    fn signatures_are_low_s_and_recover_to_the_signer() {
        let s = signer(0x11);
        let mut parities = [0usize; 2];
        for i in 0u64..64 {
            let hash = keccak256(i.to_be_bytes());
            let sig = s.sign_hash(&hash).expect("signs");
            assert!(sig.s <= HALF_N, "high s for message {i}");
            parities[usize::from(sig.y_parity)] += 1;
            assert_eq!(recover(&hash, &sig), *s.verifying_key());
        }
        // Both parities turn up in 64 signatures (odds of failing: 2^-63).
        assert!(parities[0] > 0 && parities[1] > 0, "{parities:?}");
    }

    #[test]
    fn low_s_flips_parity_of_a_high_s_signature() {
        let s = signer(0x22);
        let hash = keccak256(b"eip-2");
        let (low, recid) = s
            .key()
            .sign_prehash_recoverable(hash.as_slice())
            .expect("signs");
        assert!(low.normalize_s().is_none(), "k256 returned high s");
        let high = ecdsa::Signature::from_scalars(low.r(), -*low.s()).expect("in range");
        assert!(high.normalize_s().is_some(), "negated s is high");

        let (fixed, parity) = low_s(high, !recid.is_y_odd());
        assert_eq!(fixed, low);
        assert_eq!(parity, recid.is_y_odd());
        // And a low signature passes through untouched.
        assert_eq!(low_s(low, recid.is_y_odd()), (low, recid.is_y_odd()));
    }

    #[test]
    fn signing_is_deterministic() {
        let s = signer(0x33);
        let hash = keccak256(b"rfc 6979");
        assert_eq!(s.sign_hash(&hash), s.sign_hash(&hash));
        assert_ne!(s.sign_hash(&hash), signer(0x34).sign_hash(&hash));
    }

    #[test]
    fn sign_eip1559_hash_covers_written_bytes_and_short_buffer_fails() {
        let s = signer(0x44);
        let tx = Eip1559Tx {
            chain_id: 137,
            nonce: 1,
            max_priority_fee_per_gas: 1,
            max_fee_per_gas: 2,
            gas_limit: 21_000,
            to: alloy_primitives::Address::repeat_byte(0x35),
            value: U256::from(1u64),
            input: &[0xde, 0xad],
        };
        let mut buf = [0u8; 256];
        let signed = s.sign_eip1559(&tx, &mut buf).expect("fits");
        assert_eq!(buf[0], 0x02);
        assert_eq!(signed.hash, keccak256(&buf[..signed.len]));

        let mut small = [0u8; 16];
        assert_eq!(
            s.sign_eip1559(&tx, &mut small),
            Err(SignError::BufferTooSmall {
                needed: signed.len,
                got: 16
            })
        );
    }

    #[test]
    fn sign_error_display_is_lowercase() {
        assert_eq!(SignError::Ecdsa.to_string(), "ecdsa signing failed");
        assert_eq!(
            SignError::BufferTooSmall { needed: 9, got: 3 }.to_string(),
            "buffer too small: need 9 bytes, have 3"
        );
    }
}
