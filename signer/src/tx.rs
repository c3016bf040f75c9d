//! The EIP-1559 (type 2) transaction: its signing hash and its signed EIP-2718 envelope,
//! written into a caller's buffer without touching the heap.
//!
//! Both outputs come from one field writer driven into a [`Sink`]: a keccak hasher for the
//! signing hash (so hashing needs no buffer at all) or a slice cursor for the envelope.

use core::fmt;

use alloy_primitives::{Address, B256, Keccak256, U256};
use alloy_rlp::{EMPTY_LIST_CODE, Encodable, Header};

use crate::sign::Signature;

/// EIP-2718 type byte of an EIP-1559 transaction.
pub const EIP1559_TX_TYPE: u8 = 0x02;

/// Longest RLP encoding of one scalar field: a 32-byte `U256` behind a one-byte string header.
const MAX_FIELD_LEN: usize = 33;

/// Longest RLP encoding of the signature fields: y-parity (1) + r (33) + s (33).
const MAX_SIGNATURE_LEN: usize = 1 + 2 * MAX_FIELD_LEN;

/// An EIP-1559 (type 2) transaction with an empty access list.
///
/// `input` is borrowed so that building a transaction copies no calldata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eip1559Tx<'a> {
    /// EIP-155 chain id (137 on Polygon PoS).
    pub chain_id: u64,
    /// Sender account nonce.
    pub nonce: u64,
    /// Tip to the block producer, wei per gas.
    pub max_priority_fee_per_gas: u128,
    /// Cap on base fee + tip, wei per gas.
    pub max_fee_per_gas: u128,
    /// Gas limit, gas units.
    pub gas_limit: u64,
    /// Callee. Contract creation is not supported: the engine only ever calls.
    pub to: Address,
    /// Native value sent with the call, wei.
    pub value: U256,
    /// Calldata.
    pub input: &'a [u8],
}

/// The envelope did not fit the caller's buffer. Both numbers are bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the envelope needs.
    pub needed: usize,
    /// Bytes the buffer has.
    pub got: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "buffer too small: need {} bytes, have {}",
            self.needed, self.got
        )
    }
}

impl core::error::Error for BufferTooSmall {}

impl Eip1559Tx<'_> {
    /// keccak256(0x02 ‖ rlp([chain_id, nonce, tip, max_fee, gas, to, value, input, []])): the
    /// 32 bytes that get signed.
    pub fn signing_hash(&self) -> B256 {
        let mut hasher = Keccak256::new();
        hasher.put(&[EIP1559_TX_TYPE]);
        self.write_list(None, &mut hasher);
        hasher.finalize()
    }

    /// Length in bytes of the signed envelope with this signature.
    pub fn signed_len(&self, sig: &Signature) -> usize {
        1 + list_header(self.fields_len() + signature_len(sig)).length_with_payload()
    }

    /// An upper bound in bytes on the signed envelope for any signature: size buffers with it.
    pub fn max_signed_len(&self) -> usize {
        1 + list_header(self.fields_len() + MAX_SIGNATURE_LEN).length_with_payload()
    }

    /// Writes the signed envelope 0x02 ‖ rlp([..fields, y_parity, r, s]) to the front of `out`
    /// and returns its length in bytes. Nothing is written if it does not fit.
    pub fn encode_signed(&self, sig: &Signature, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let needed = self.signed_len(sig);
        let got = out.len();
        let Some(dst) = out.get_mut(..needed) else {
            return Err(BufferTooSmall { needed, got });
        };
        let mut cursor = Cursor { buf: dst, pos: 0 };
        cursor.put(&[EIP1559_TX_TYPE]);
        self.write_list(Some(sig), &mut cursor);
        // The lengths above are computed from the same `Encodable::length` impls the writer
        // uses, so the cursor lands exactly on `needed`; a mismatch is a bug, not bad input.
        debug_assert_eq!(cursor.pos, needed);
        Ok(needed)
    }

    /// Payload bytes of the unsigned field list, the empty access list included.
    fn fields_len(&self) -> usize {
        self.chain_id.length()
            + self.nonce.length()
            + self.max_priority_fee_per_gas.length()
            + self.max_fee_per_gas.length()
            + self.gas_limit.length()
            + self.to.length()
            + self.value.length()
            + self.input.length()
            + 1 // empty access list: 0xc0
    }

    /// Writes rlp([..fields, access_list, (y_parity, r, s)?]).
    fn write_list<S: Sink>(&self, sig: Option<&Signature>, sink: &mut S) {
        let payload = self.fields_len() + sig.map_or(0, signature_len);
        put_header(sink, list_header(payload));
        put_field(sink, &self.chain_id);
        put_field(sink, &self.nonce);
        put_field(sink, &self.max_priority_fee_per_gas);
        put_field(sink, &self.max_fee_per_gas);
        put_field(sink, &self.gas_limit);
        put_field(sink, &self.to);
        put_field(sink, &self.value);
        // Calldata goes to the sink as is, behind its header, never through a scratch buffer.
        // RLP writes a single byte below 0x80 as itself, with no header.
        if !matches!(self.input, [b] if *b < alloy_rlp::EMPTY_STRING_CODE) {
            put_header(
                sink,
                Header {
                    list: false,
                    payload_length: self.input.len(),
                },
            );
        }
        sink.put(self.input);
        sink.put(&[EMPTY_LIST_CODE]);
        if let Some(sig) = sig {
            put_field(sink, &sig.y_parity);
            put_field(sink, &sig.r);
            put_field(sink, &sig.s);
        }
    }
}

fn list_header(payload_length: usize) -> Header {
    Header {
        list: true,
        payload_length,
    }
}

fn signature_len(sig: &Signature) -> usize {
    sig.y_parity.length() + sig.r.length() + sig.s.length()
}

/// Where encoded bytes go.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Keccak256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Writes into a slice already cut to the exact envelope length.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Sink for Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        // The slice was sized from the same lengths, so this always fits; `get_mut` keeps the
        // impossible case from panicking, and the `debug_assert` in `encode_signed` reports it.
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// RLP-encodes one scalar field on the stack, then hands it to the sink.
fn put_field<S: Sink, T: Encodable>(sink: &mut S, value: &T) {
    let mut scratch = [0u8; MAX_FIELD_LEN];
    let mut rest: &mut [u8] = &mut scratch;
    // Every field type here encodes to at most MAX_FIELD_LEN bytes (U256: 1 + 32).
    value.encode(&mut rest);
    let written = MAX_FIELD_LEN - rest.len();
    sink.put(&scratch[..written]);
}

fn put_header<S: Sink>(sink: &mut S, header: Header) {
    // A header is 1 byte plus at most 8 bytes of length.
    const MAX_HEADER_LEN: usize = 9;
    let mut scratch = [0u8; MAX_HEADER_LEN];
    let mut rest: &mut [u8] = &mut scratch;
    header.encode(&mut rest);
    let written = MAX_HEADER_LEN - rest.len();
    sink.put(&scratch[..written]);
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, keccak256};

    use super::*;

    fn tx(input: &[u8]) -> Eip1559Tx<'_> {
        Eip1559Tx {
            chain_id: 137,
            nonce: 7,
            max_priority_fee_per_gas: 30_000_000_000,
            max_fee_per_gas: 200_000_000_000,
            gas_limit: 500_000,
            to: address!("0x794a61358D6845594F94dc1DB02A252b5b4814aD"),
            value: U256::ZERO,
            input,
        }
    }

    fn sig(r: u64, s: u64, y_parity: bool) -> Signature {
        Signature {
            y_parity,
            r: U256::from(r),
            s: U256::from(s),
        }
    }

    /// Reference encoding with alloy-rlp's own list machinery and a heap buffer, written
    /// field by field from the EIP-1559 text, to check the streaming writer against.
    fn reference(tx: &Eip1559Tx<'_>, sig: Option<&Signature>) -> Vec<u8> {
        let mut payload = Vec::new();
        tx.chain_id.encode(&mut payload);
        tx.nonce.encode(&mut payload);
        tx.max_priority_fee_per_gas.encode(&mut payload);
        tx.max_fee_per_gas.encode(&mut payload);
        tx.gas_limit.encode(&mut payload);
        tx.to.encode(&mut payload);
        tx.value.encode(&mut payload);
        tx.input.encode(&mut payload);
        alloy_rlp::encode_list::<u8, u8>(&[], &mut payload);
        if let Some(sig) = sig {
            sig.y_parity.encode(&mut payload);
            sig.r.encode(&mut payload);
            sig.s.encode(&mut payload);
        }
        let mut out = vec![EIP1559_TX_TYPE];
        Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn signing_hash_matches_reference_for_edge_inputs() {
        // Single bytes either side of 0x80 (self-encoding vs headed), and lengths either side
        // of the 55-byte short-string limit.
        let inputs: [&[u8]; 7] = [
            &[],
            &[0x00],
            &[0x7f],
            &[0x80],
            &[0xab; 55],
            &[0xab; 56],
            &[1; 300],
        ];
        for input in inputs {
            let t = tx(input);
            assert_eq!(
                t.signing_hash(),
                keccak256(reference(&t, None)),
                "input len {}",
                input.len()
            );
        }
    }

    #[test]
    fn encode_signed_matches_reference_and_reports_length() {
        for input in [&[][..], &[0x42], &[0x99; 200]] {
            let t = tx(input);
            for s in [sig(1, 1, false), sig(u64::MAX, 0x80, true)] {
                let want = reference(&t, Some(&s));
                let mut buf = [0u8; 512];
                let len = t.encode_signed(&s, &mut buf).expect("fits");
                assert_eq!(&buf[..len], &want[..]);
                assert_eq!(t.signed_len(&s), want.len());
                assert!(t.max_signed_len() >= len);
            }
        }
    }

    #[test]
    fn max_signed_len_is_reached_by_full_width_signature() {
        let t = tx(&[0x11; 100]);
        let full = Signature {
            y_parity: true,
            r: U256::MAX,
            s: U256::MAX,
        };
        assert_eq!(t.signed_len(&full), t.max_signed_len());
    }

    #[test]
    fn short_buffer_is_an_error_and_untouched() {
        let t = tx(&[0x55; 64]);
        let s = sig(3, 4, true);
        let needed = t.signed_len(&s);
        let mut buf = vec![0xeeu8; needed - 1];
        assert_eq!(
            t.encode_signed(&s, &mut buf),
            Err(BufferTooSmall {
                needed,
                got: needed - 1
            })
        );
        assert!(buf.iter().all(|&b| b == 0xee));
        assert_eq!(
            t.encode_signed(&s, &mut []),
            Err(BufferTooSmall { needed, got: 0 })
        );
        let mut exact = vec![0u8; needed];
        assert_eq!(t.encode_signed(&s, &mut exact), Ok(needed));
    }

    #[test]
    fn buffer_error_display_is_lowercase_with_units() {
        let e = BufferTooSmall {
            needed: 120,
            got: 64,
        };
        assert_eq!(e.to_string(), "buffer too small: need 120 bytes, have 64");
    }
}
