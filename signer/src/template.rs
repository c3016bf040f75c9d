//! Transaction templates: the parts of a transaction that never change between two sends
//! (chain id, callee, value, empty access list) encoded once, so that signing writes the
//! few fields that do change (nonce, fees, gas limit, calldata), hashes once and appends the
//! signature.
//!
//! The body is written once, at [`HEAD`] bytes into the caller's buffer. The unsigned prefix
//! (type byte and list header) goes just before it, the signing hash is taken over that one
//! contiguous span, then the signature goes after the body, the signed prefix replaces the
//! unsigned one and the whole is moved to the front of the buffer (one `memmove` of the
//! transaction, some 300 bytes). The transaction hash, a second keccak, is not taken here: the
//! caller hashes the written bytes where time matters less (after the send).
//!
//! Two kinds: EIP-1559 (type 2, the default) and legacy EIP-155 for nodes or relays that want
//! it (the gas price is the max fee; the tip is not used).

use core::fmt;

use alloy_primitives::{Address, B256, U256, keccak256};

use crate::coupon::{Coupons, SignPath};
use crate::key::Signer;
use crate::sign::{SignError, Signature};

/// Bytes kept free before the body: a type byte and a list header of up to 3 bytes (a payload
/// under 64 KiB).
pub const HEAD: usize = 4;

/// Longest RLP of a u64 / u128 field: header byte plus the big-endian bytes.
const U64_RLP: usize = 9;
const U128_RLP: usize = 17;
const U256_RLP: usize = 33;

/// Longest RLP of the signature fields: v (legacy: up to a u64) + r (33) + s (33).
const SIG_RLP: usize = U64_RLP + 2 * U256_RLP;

/// The transaction kinds a template can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxType {
    /// EIP-1559, EIP-2718 type 2, empty access list.
    Eip1559,
    /// Legacy with EIP-155 replay protection: v = 35 + 2·chain_id + parity.
    Legacy,
}

impl fmt::Display for TxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eip1559 => "eip-1559",
            Self::Legacy => "legacy eip-155",
        })
    }
}

/// The fields that change between sends. Fees are wei per gas, the gas limit gas units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxFields<'a> {
    /// Sender account nonce.
    pub nonce: u64,
    /// EIP-1559 tip, wei per gas (unused by legacy transactions).
    pub max_priority_fee_per_gas: u128,
    /// EIP-1559 fee cap, wei per gas; a legacy transaction's gas price.
    pub max_fee_per_gas: u128,
    /// Gas limit, gas units.
    pub gas_limit: u64,
    /// Calldata.
    pub input: &'a [u8],
}

/// A signed transaction at the front of the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// Bytes written: the raw transaction for `eth_sendRawTransaction`.
    pub len: usize,
    /// How the signature was made.
    pub path: SignPath,
}

/// A prepared transaction for one chain, callee, value and kind.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TxTemplate {
    kind: TxType,
    chain_id: u64,
    to: Address,
    value: U256,
    /// rlp(chain_id).
    chain: [u8; U64_RLP],
    chain_len: u8,
    /// rlp(value).
    value_rlp: [u8; U256_RLP],
    value_len: u8,
}

impl fmt::Debug for TxTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxTemplate")
            .field("kind", &self.kind)
            .field("chain_id", &self.chain_id)
            .field("to", &self.to)
            .field("value", &self.value)
            .finish()
    }
}

impl TxTemplate {
    /// A template for `kind` transactions calling `to` on chain `chain_id` with no value.
    pub fn new(kind: TxType, chain_id: u64, to: Address) -> Self {
        Self::with_value(kind, chain_id, to, U256::ZERO)
    }

    /// As [`TxTemplate::new`], sending `value` wei with every transaction.
    pub fn with_value(kind: TxType, chain_id: u64, to: Address, value: U256) -> Self {
        let mut chain = [0u8; U64_RLP];
        let chain_len = put_u64(&mut chain, 0, chain_id) as u8;
        let mut value_rlp = [0u8; U256_RLP];
        let value_len = put_u256(&mut value_rlp, 0, &value) as u8;
        Self {
            kind,
            chain_id,
            to,
            value,
            chain,
            chain_len,
            value_rlp,
            value_len,
        }
    }

    /// The kind of transaction this template makes.
    pub fn kind(&self) -> TxType {
        self.kind
    }

    /// The callee.
    pub fn to(&self) -> Address {
        self.to
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// An upper bound, in bytes, on the buffer [`TxTemplate::sign`] needs for `input_len`
    /// bytes of calldata.
    pub fn buffer_len(&self, input_len: usize) -> usize {
        HEAD + U64_RLP + 2 * U128_RLP + U64_RLP + 21 + U256_RLP + 9 + input_len + 1 + SIG_RLP
    }

    /// Signs `fields` with `signer` (a coupon from `coupons`, or RFC 6979 if none is waiting)
    /// and writes the raw transaction to the front of `out`. No heap allocation.
    ///
    /// `out` must hold [`TxTemplate::buffer_len`] bytes; else nothing is signed.
    pub fn sign(
        &self,
        fields: &TxFields<'_>,
        signer: &Signer,
        coupons: &mut Coupons,
        out: &mut [u8],
    ) -> Result<SignedTx, SignError> {
        self.sign_with(fields, out, |hash| coupons.sign(signer, hash))
    }

    /// As [`TxTemplate::sign`], always with RFC 6979: byte-identical to other RFC 6979
    /// signers (alloy), and what signs when no coupon ring exists.
    pub fn sign_rfc6979(
        &self,
        fields: &TxFields<'_>,
        signer: &Signer,
        out: &mut [u8],
    ) -> Result<SignedTx, SignError> {
        self.sign_with(fields, out, |hash| {
            Ok((signer.sign_hash(hash)?, SignPath::Rfc6979))
        })
    }

    /// The signing hash of `fields`, written through `out` as scratch. For tests and tools.
    pub fn signing_hash(&self, fields: &TxFields<'_>, out: &mut [u8]) -> Result<B256, SignError> {
        let (start, end, _) = self.unsigned(fields, out)?;
        Ok(keccak256(out.get(start..end).unwrap_or_default()))
    }

    fn sign_with(
        &self,
        fields: &TxFields<'_>,
        out: &mut [u8],
        sign: impl FnOnce(&B256) -> Result<(Signature, SignPath), SignError>,
    ) -> Result<SignedTx, SignError> {
        let (start, end, body_end) = self.unsigned(fields, out)?;
        let hash = keccak256(out.get(start..end).unwrap_or_default());
        let (sig, path) = sign(&hash)?;

        // The signature replaces the legacy trailer (chain id, 0, 0) or follows the body.
        let mut at = body_end;
        match self.kind {
            TxType::Eip1559 => at += put_u64(out, at, u64::from(sig.y_parity)),
            TxType::Legacy => {
                let v = u64::from(sig.y_parity)
                    .saturating_add(35)
                    .saturating_add(self.chain_id.saturating_mul(2));
                at += put_u64(out, at, v);
            }
        }
        at += put_u256(out, at, &sig.r);
        at += put_u256(out, at, &sig.s);

        let prefix = self.prefix(at - HEAD);
        let start = HEAD - prefix.len;
        if let Some(dst) = out.get_mut(start..HEAD) {
            dst.copy_from_slice(prefix.bytes());
        }
        out.copy_within(start..at, 0);
        Ok(SignedTx {
            len: at - start,
            path,
        })
    }

    /// Writes the body at `HEAD` (plus the legacy trailer) and the unsigned prefix before it.
    /// Returns (start of the signing span, end of it, end of the body proper).
    fn unsigned(
        &self,
        fields: &TxFields<'_>,
        out: &mut [u8],
    ) -> Result<(usize, usize, usize), SignError> {
        let needed = self.buffer_len(fields.input.len());
        if out.len() < needed {
            return Err(SignError::BufferTooSmall {
                needed,
                got: out.len(),
            });
        }
        let mut at = HEAD;
        if self.kind == TxType::Eip1559 {
            at += put_bytes(out, at, &self.chain[..usize::from(self.chain_len)]);
        }
        at += put_u64(out, at, fields.nonce);
        if self.kind == TxType::Eip1559 {
            at += put_u128(out, at, fields.max_priority_fee_per_gas);
        }
        at += put_u128(out, at, fields.max_fee_per_gas);
        at += put_u64(out, at, fields.gas_limit);
        at += put_bytes(out, at, &[0x94]);
        at += put_bytes(out, at, self.to.as_slice());
        at += put_bytes(out, at, &self.value_rlp[..usize::from(self.value_len)]);
        at += put_string_header(out, at, fields.input);
        at += put_bytes(out, at, fields.input);
        let body_end = match self.kind {
            TxType::Eip1559 => {
                at += put_bytes(out, at, &[EMPTY_LIST]); // access list
                at
            }
            TxType::Legacy => {
                let body_end = at;
                at += put_bytes(out, at, &self.chain[..usize::from(self.chain_len)]);
                at += put_bytes(out, at, &[EMPTY_STRING, EMPTY_STRING]);
                body_end
            }
        };
        let prefix = self.prefix(at - HEAD);
        let start = HEAD - prefix.len;
        if let Some(dst) = out.get_mut(start..HEAD) {
            dst.copy_from_slice(prefix.bytes());
        }
        Ok((start, at, body_end))
    }

    /// Type byte (EIP-1559 only) and the list header for a payload of `payload` bytes.
    fn prefix(&self, payload: usize) -> Prefix {
        let mut p = Prefix {
            buf: [0; HEAD],
            len: 0,
        };
        if self.kind == TxType::Eip1559 {
            p.push(0x02);
        }
        if payload < 56 {
            p.push(EMPTY_LIST + payload as u8);
        } else if payload < 256 {
            p.push(0xf8);
            p.push(payload as u8);
        } else {
            // `buffer_len` keeps payloads under 64 KiB only if calldata is; longer calldata
            // is refused by the caller's frame size long before this.
            let [hi, lo] = u16::try_from(payload).unwrap_or(u16::MAX).to_be_bytes();
            p.push(0xf9);
            p.push(hi);
            p.push(lo);
        }
        p
    }
}

/// The signed fields of a raw transaction without its signature: for a type-2 transaction
/// the RLP of its first nine items (chain id … access list), for a legacy one its first six
/// (nonce … data). What was signed, whichever nonce signed it: two transactions that differ
/// only in their signature give the same bytes. `None` if `raw` is not such a transaction.
pub fn unsigned_fields(raw: &[u8]) -> Option<&[u8]> {
    let (list, items) = match raw {
        [0x02, rest @ ..] => (rest, 9),
        [first, ..] if *first >= EMPTY_LIST => (raw, 6),
        _ => return None,
    };
    let mut rest = list;
    let header = alloy_rlp::Header::decode(&mut rest).ok()?;
    if !header.list || rest.len() != header.payload_length {
        return None;
    }
    let payload = rest;
    for _ in 0..items {
        let item = alloy_rlp::Header::decode(&mut rest).ok()?;
        rest = rest.get(item.payload_length..)?;
    }
    payload.get(..payload.len() - rest.len())
}

const EMPTY_STRING: u8 = 0x80;
const EMPTY_LIST: u8 = 0xc0;

struct Prefix {
    buf: [u8; HEAD],
    len: usize,
}

impl Prefix {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Copies `bytes` to `out[at..]`; returns the length. The caller checked the buffer length
/// against `buffer_len`, so the copy always fits; `get_mut` keeps a bug from panicking.
fn put_bytes(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
    bytes.len()
}

/// RLP of an unsigned integer given as big-endian bytes: 0x80 for zero, the byte itself
/// below 0x80, else 0x80 + length and the bytes without leading zeros.
fn put_be(out: &mut [u8], at: usize, be: &[u8]) -> usize {
    let skip = be.iter().take_while(|&&b| b == 0).count();
    let digits = &be[skip..];
    match digits {
        [] => put_bytes(out, at, &[EMPTY_STRING]),
        [b] if *b < EMPTY_STRING => put_bytes(out, at, &[*b]),
        _ => {
            put_bytes(out, at, &[EMPTY_STRING + digits.len() as u8])
                + put_bytes(out, at + 1, digits)
        }
    }
}

fn put_u64(out: &mut [u8], at: usize, v: u64) -> usize {
    put_be(out, at, &v.to_be_bytes())
}

fn put_u128(out: &mut [u8], at: usize, v: u128) -> usize {
    put_be(out, at, &v.to_be_bytes())
}

fn put_u256(out: &mut [u8], at: usize, v: &U256) -> usize {
    put_be(out, at, &v.to_be_bytes::<32>())
}

/// The RLP string header of `bytes` (none for a single byte below 0x80).
fn put_string_header(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    match bytes {
        [b] if *b < EMPTY_STRING => 0,
        _ if bytes.len() < 56 => put_bytes(out, at, &[EMPTY_STRING + bytes.len() as u8]),
        _ => {
            let len = bytes.len() as u64;
            let be = len.to_be_bytes();
            let skip = be.iter().take_while(|&&b| b == 0).count();
            put_bytes(out, at, &[0xb7 + (8 - skip) as u8]) + put_bytes(out, at + 1, &be[skip..])
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_rlp::Encodable;

    use super::*;
    use crate::tx::Eip1559Tx;

    fn fields(input: &[u8]) -> TxFields<'_> {
        TxFields {
            nonce: 7,
            max_priority_fee_per_gas: 30_000_000_000,
            max_fee_per_gas: 200_000_000_000,
            gas_limit: 500_000,
            input,
        }
    }

    #[test]
    fn integers_encode_as_alloy_rlp_does() {
        let mut out = [0u8; 40];
        for v in [0u64, 1, 0x7f, 0x80, 0xff, 0x100, 1 << 55, u64::MAX] {
            let n = put_u64(&mut out, 0, v);
            let mut want = Vec::new();
            v.encode(&mut want);
            assert_eq!(&out[..n], &want[..], "{v}");
        }
        for v in [0u128, 0x7f, 0x80, u128::from(u64::MAX) + 1, u128::MAX] {
            let n = put_u128(&mut out, 0, v);
            let mut want = Vec::new();
            v.encode(&mut want);
            assert_eq!(&out[..n], &want[..], "{v}");
        }
    }

    #[test]
    fn string_headers_encode_as_alloy_rlp_does() {
        let mut out = [0u8; 600];
        for len in [0usize, 1, 2, 55, 56, 255, 256, 300] {
            for fill in [0x00u8, 0x7f, 0x80] {
                let bytes = vec![fill; len];
                let n = put_string_header(&mut out, 0, &bytes);
                let n = n + put_bytes(&mut out, n, &bytes);
                let mut want = Vec::new();
                bytes.as_slice().encode(&mut want);
                assert_eq!(&out[..n], &want[..], "len {len} fill {fill:#x}");
            }
        }
    }

    #[test]
    fn eip1559_signing_hash_matches_the_general_encoder() {
        let signer = Signer::from_bytes(&[0x61; 32]).expect("key");
        let to = Address::repeat_byte(0x35);
        let t = TxTemplate::new(TxType::Eip1559, 137, to);
        for input in [
            &[][..],
            &[0x05],
            &[0x80],
            &[0xaa; 55],
            &[0xbb; 56],
            &[1; 300],
        ] {
            let f = fields(input);
            let general = Eip1559Tx {
                chain_id: 137,
                nonce: f.nonce,
                max_priority_fee_per_gas: f.max_priority_fee_per_gas,
                max_fee_per_gas: f.max_fee_per_gas,
                gas_limit: f.gas_limit,
                to,
                value: U256::ZERO,
                input,
            };
            let mut buf = vec![0u8; t.buffer_len(input.len())];
            assert_eq!(t.signing_hash(&f, &mut buf), Ok(general.signing_hash()));
            let signed = t.sign_rfc6979(&f, &signer, &mut buf).expect("fits");
            let mut want = vec![0u8; general.max_signed_len()];
            let w = signer.sign_eip1559(&general, &mut want).expect("fits");
            assert_eq!(&buf[..signed.len], &want[..w.len], "input {}", input.len());
        }
    }

    #[test]
    fn unsigned_fields_drop_only_the_signature() {
        let to = Address::repeat_byte(0x44);
        for kind in [TxType::Eip1559, TxType::Legacy] {
            let t = TxTemplate::new(kind, 137, to);
            let f = fields(&[0xab; 131]);
            let mut a = vec![0u8; t.buffer_len(131)];
            let mut b = a.clone();
            let la = t
                .sign_rfc6979(&f, &Signer::from_bytes(&[0x63; 32]).expect("key"), &mut a)
                .expect("fits")
                .len;
            let lb = t
                .sign_rfc6979(&f, &Signer::from_bytes(&[0x64; 32]).expect("key"), &mut b)
                .expect("fits")
                .len;
            assert_ne!(a[..la], b[..lb], "{kind}: other keys, other signatures");
            let fa = unsigned_fields(&a[..la]).expect("parses");
            assert_eq!(Some(fa), unsigned_fields(&b[..lb]), "{kind}");
            // The fields end where the signature starts: at the calldata (legacy) or the
            // empty access list (type 2).
            let last = if kind == TxType::Eip1559 { 0xc0 } else { 0xab };
            assert_eq!(fa.last(), Some(&last), "{kind}");
            let other = TxFields { nonce: 8, ..f };
            let lc = t
                .sign_rfc6979(
                    &other,
                    &Signer::from_bytes(&[0x63; 32]).expect("key"),
                    &mut b,
                )
                .expect("fits")
                .len;
            assert_ne!(Some(fa), unsigned_fields(&b[..lc]), "{kind}: another nonce");
        }
        assert_eq!(unsigned_fields(&[]), None);
        assert_eq!(unsigned_fields(&[0x02, 0xc1]), None);
        assert_eq!(unsigned_fields(&[0x01, 0xc0]), None);
    }

    #[test]
    fn a_short_buffer_signs_nothing() {
        let signer = Signer::from_bytes(&[0x62; 32]).expect("key");
        let t = TxTemplate::new(TxType::Legacy, 1, Address::ZERO);
        let f = fields(&[1, 2, 3]);
        let needed = t.buffer_len(3);
        let mut buf = vec![0xeeu8; needed - 1];
        assert_eq!(
            t.sign_rfc6979(&f, &signer, &mut buf),
            Err(SignError::BufferTooSmall {
                needed,
                got: needed - 1
            })
        );
        assert!(buf.iter().all(|&b| b == 0xee));
    }
}
