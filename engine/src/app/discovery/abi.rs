//! The ABI of discovery's `eth_call`s: calldata of one-argument views, and the words of their
//! answers, checked. The one decoder for V2 pairs, concentrated pools and balances: every read
//! is bounds-checked, and a word wider than its ABI type is refused, never truncated.

use alloy_primitives::{Address, I256, U256};
use std::fmt;

/// Why an answer did not decode. `what` names the function or field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiError {
    /// An answer of the wrong length, bytes.
    Length {
        /// The function.
        what: &'static str,
        /// Bytes received.
        got: usize,
        /// Bytes its ABI returns (or, reading one word, the bytes up to its end).
        want: usize,
    },
    /// A word outside its ABI type (a dirty high byte, a bool that is not 0 or 1).
    Range {
        /// The function and field.
        what: &'static str,
    },
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { what, got, want } => {
                write!(f, "{what} answered {got} bytes, expected {want}")
            }
            Self::Range { what } => write!(f, "{what} is outside its abi type"),
        }
    }
}

impl std::error::Error for AbiError {}

/// Calldata of a view taking one unsigned integer (`allPairs(uint256)`).
pub(crate) fn call_uint(selector: [u8; 4], v: u64) -> [u8; 36] {
    let mut d = [0u8; 36];
    d[..4].copy_from_slice(&selector);
    d[28..].copy_from_slice(&v.to_be_bytes());
    d
}

/// Calldata of a view taking one signed integer (`int16` word index or `int24` tick),
/// sign-extended to the word.
pub(crate) fn call_int(selector: [u8; 4], v: i32) -> [u8; 36] {
    let mut d = [if v < 0 { 0xff } else { 0 }; 36];
    d[..4].copy_from_slice(&selector);
    d[32..].copy_from_slice(&v.to_be_bytes());
    d
}

/// Calldata of a view taking one address (`balanceOf(address)`).
pub(crate) fn call_address(selector: [u8; 4], a: Address) -> [u8; 36] {
    let mut d = [0u8; 36];
    d[..4].copy_from_slice(&selector);
    d[16..].copy_from_slice(a.as_slice());
    d
}

/// Checks that `data` is exactly `words` words.
pub(crate) fn exact(data: &[u8], words: usize, what: &'static str) -> Result<(), AbiError> {
    if data.len() == 32 * words {
        Ok(())
    } else {
        Err(AbiError::Length {
            what,
            got: data.len(),
            want: 32 * words,
        })
    }
}

/// Word `i` of `data`.
pub(crate) fn word(data: &[u8], i: usize, what: &'static str) -> Result<[u8; 32], AbiError> {
    data.get(i * 32..(i + 1) * 32)
        .and_then(|w| w.try_into().ok())
        .ok_or(AbiError::Length {
            what,
            got: data.len(),
            want: (i + 1) * 32,
        })
}

/// Word `i` as a `uint<bits>`.
pub(crate) fn uint(
    data: &[u8],
    i: usize,
    bits: usize,
    what: &'static str,
) -> Result<U256, AbiError> {
    let v = U256::from_be_bytes(word(data, i, what)?);
    if v.bit_len() <= bits {
        Ok(v)
    } else {
        Err(AbiError::Range { what })
    }
}

/// Word `i` as an `int<bits>`, `bits <= 128`: sign-extended in the ABI, so every bit above
/// `bits - 1` must equal the sign.
pub(crate) fn int(data: &[u8], i: usize, bits: u32, what: &'static str) -> Result<i128, AbiError> {
    let v = I256::from_be_bytes(word(data, i, what)?);
    let v = i128::try_from(v).map_err(|_| AbiError::Range { what })?;
    if bits >= 128 {
        return Ok(v);
    }
    let half = 1i128 << bits.saturating_sub(1);
    if (-half..half).contains(&v) {
        Ok(v)
    } else {
        Err(AbiError::Range { what })
    }
}

/// Word `i` as a `bool` (0 or 1 only).
pub(crate) fn boolean(data: &[u8], i: usize, what: &'static str) -> Result<bool, AbiError> {
    Ok(!uint(data, i, 1, what)?.is_zero())
}

/// Word `i` as an `address` (the high 12 bytes must be zero).
pub(crate) fn address(data: &[u8], i: usize, what: &'static str) -> Result<Address, AbiError> {
    let w = word(data, i, what)?;
    if w[..12].iter().all(|&b| b == 0) {
        Ok(Address::from_slice(&w[12..]))
    } else {
        Err(AbiError::Range { what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_decode_strictly() {
        let mut w = [0u8; 96];
        w[31] = 7;
        w[63] = 9;
        w[50] = 1; // inside uint112 range of word 1
        assert_eq!(uint(&w, 0, 64, "x").map(|v| v.to::<u64>()), Ok(7));
        assert_eq!(
            uint(&w, 1, 112, "x").map(|v| v.to::<u128>()),
            Ok(9 | (1u128 << 104))
        );
        w[40] = 1; // above uint112 in word 1
        assert_eq!(uint(&w, 1, 112, "r"), Err(AbiError::Range { what: "r" }));
        assert!(uint(&w, 1, 64, "x").is_err());
        assert_eq!(
            address(&w[..31], 0, "a"),
            Err(AbiError::Length {
                what: "a",
                got: 31,
                want: 32
            }),
            "short data"
        );
        let mut a = [0u8; 32];
        a[12..].copy_from_slice(&[0xab; 20]);
        assert_eq!(address(&a, 0, "a"), Ok(Address::repeat_byte(0xab)));
        a[0] = 1;
        assert_eq!(
            address(&a, 0, "a"),
            Err(AbiError::Range { what: "a" }),
            "dirty high bytes"
        );
        assert_eq!(boolean(&a, 0, "b"), Err(AbiError::Range { what: "b" }));
        assert_eq!(exact(&w, 3, "e"), Ok(()));
        assert!(exact(&w, 2, "e").is_err());
    }

    #[test]
    fn signed_words_must_be_sign_extended() {
        let mut w = [0xffu8; 32];
        w[31] = 0xfe;
        assert_eq!(int(&w, 0, 24, "t"), Ok(-2));
        w[0] = 0x7f; // not sign-extended
        assert!(int(&w, 0, 24, "t").is_err());
        let mut p = [0u8; 32];
        p[29] = 0x80; // 2^23: one past int24
        assert!(int(&p, 0, 24, "t").is_err());
    }

    #[test]
    fn calldata_words() {
        assert_eq!(call_uint([1, 2, 3, 4], 258)[34..], [1, 2]);
        assert_eq!(call_uint([1, 2, 3, 4], 258)[..4], [1, 2, 3, 4]);
        let neg = call_int([0; 4], -2);
        assert!(neg[4..35].iter().all(|&b| b == 0xff) && neg[35] == 0xfe);
        let a = call_address([0; 4], Address::repeat_byte(0xab));
        assert!(a[4..16].iter().all(|&b| b == 0) && a[16..] == [0xab; 20]);
    }
}
