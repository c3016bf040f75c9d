//! Hex helpers for JSON-RPC strings (`"0x…"`), without allocation.
//!
//! Two shapes occur: fixed-width byte strings (addresses, hashes, `data`), always an even number
//! of digits, and quantities (`blockNumber`, `baseFeePerGas`), any number of digits, big-endian.

/// Digit value of each byte, or `0xFF` for a non-hex byte. Upper and lower case both accepted.
const DIGIT: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const LOWER: &[u8; 16] = b"0123456789abcdef";

/// 64 lower- or upper-case hex digits (no prefix) as 32 bytes, at compile time: the topic
/// constants. A bad literal fails the build.
pub(crate) const fn literal32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    assert!(b.len() == 64, "a 32-byte literal is 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        let (hi, lo) = (DIGIT[b[2 * i] as usize], DIGIT[b[2 * i + 1] as usize]);
        assert!(hi != 0xFF && lo != 0xFF, "not a hex digit");
        out[i] = (hi << 4) | lo;
        i += 1;
    }
    out
}

/// Why a hex string did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// Missing `0x`, a non-hex digit, an odd digit count or the wrong width.
    Bad,
    /// A quantity with more significant digits than the target holds.
    TooLarge,
}

/// Strips the mandatory `0x` (or `0X`) prefix.
#[inline]
fn strip_prefix(s: &[u8]) -> Result<&[u8], HexError> {
    match s {
        [b'0', b'x' | b'X', rest @ ..] => Ok(rest),
        _ => Err(HexError::Bad),
    }
}

/// Decodes `0x` + exactly `2 * out.len()` digits into `out`.
#[inline]
pub(crate) fn decode_fixed(s: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    let digits = strip_prefix(s)?;
    if digits.len() != 2 * out.len() {
        return Err(HexError::Bad);
    }
    decode_pairs(digits, out)
}

/// Decodes exactly `2 * out.len()` digits (no prefix) into `out`.
#[inline]
pub(crate) fn decode_digits(digits: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    if digits.len() != 2 * out.len() {
        return Err(HexError::Bad);
    }
    decode_pairs(digits, out)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte of `w` (all bytes < 0x80) that lies in `lo..=hi`. Exact per byte: no
/// sum below can carry into the next byte.
#[inline(always)]
fn in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let ge = w.wrapping_add(ONES * u64::from(0x80 - lo));
    let gt = w.wrapping_add(ONES * u64::from(0x7F - hi));
    ge & !gt & HIGHS
}

/// Eight hex digits (little-endian load of 8 ASCII bytes) to four bytes, or `None` if any byte
/// is not a hex digit. Pure arithmetic, no table: addresses, topics and `data` are all multiples
/// of 8 digits.
#[inline(always)]
fn swar8(w: u64) -> Option<[u8; 4]> {
    if w & HIGHS != 0 {
        return None;
    }
    let lower = w | (ONES * 0x20);
    let digit = in_range(w, b'0', b'9');
    let alpha = in_range(lower, b'a', b'f');
    if digit | alpha != HIGHS {
        return None;
    }
    // Nibble per byte: low 4 bits, plus 9 for letters ('a' = 0x61 -> 1 + 9).
    let nib = (w & (ONES * 0x0F)) + (alpha >> 7) * 9;
    // Per 16-bit lane [first, second] -> first << 4 | second, in the lane's low byte.
    let v = ((nib & 0x000F_000F_000F_000F) << 4) | ((nib & 0x0F00_0F00_0F00_0F00) >> 8);
    let v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
    let v = v | (v >> 16);
    let b = v.to_le_bytes();
    Some([b[0], b[1], b[2], b[3]])
}

/// Decodes pairs of digits; `digits.len()` must be `2 * out.len()`.
#[inline]
fn decode_pairs(digits: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    let whole = digits.len() / 8;
    for (o, d) in out.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(d);
        o.copy_from_slice(&swar8(u64::from_le_bytes(w)).ok_or(HexError::Bad)?);
    }
    decode_pairs_table(&digits[whole * 8..], &mut out[whole * 4..])
}

/// Table decode for what is left after whole 8-digit groups.
#[inline]
fn decode_pairs_table(digits: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    // OR-ing all digit values lets one branch at the end catch any bad digit (0xFF has the high
    // bit set, valid digits never do).
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = DIGIT[pair[0] as usize];
        let lo = DIGIT[pair[1] as usize];
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0F);
    }
    if bad & 0x80 != 0 {
        return Err(HexError::Bad);
    }
    Ok(())
}

/// Number of bytes a `0x`-prefixed byte string decodes to, checking only its shape.
#[inline]
pub(crate) fn byte_len(s: &[u8]) -> Result<usize, HexError> {
    let digits = strip_prefix(s)?;
    if digits.len() % 2 != 0 {
        return Err(HexError::Bad);
    }
    Ok(digits.len() / 2)
}

/// Decodes a quantity (`0x` + 1 or more digits, leading zeros tolerated) into a 32-byte
/// big-endian word.
pub(crate) fn quantity_u256(s: &[u8]) -> Result<[u8; 32], HexError> {
    let digits = significant(strip_prefix(s)?)?;
    if digits.len() > 64 {
        return Err(HexError::TooLarge);
    }
    let mut out = [0u8; 32];
    let nbytes = digits.len().div_ceil(2);
    let dst = &mut out[32 - nbytes..];
    if digits.len() % 2 == 1 {
        // Odd count: the first digit is a whole byte on its own.
        let d = DIGIT[digits[0] as usize];
        if d == 0xFF {
            return Err(HexError::Bad);
        }
        dst[0] = d;
        decode_pairs(&digits[1..], &mut dst[1..])?;
    } else {
        decode_pairs(digits, dst)?;
    }
    Ok(out)
}

/// Decodes a quantity into a `u64`.
#[inline]
pub(crate) fn quantity_u64(s: &[u8]) -> Result<u64, HexError> {
    let digits = significant(strip_prefix(s)?)?;
    if digits.len() > 16 {
        return Err(HexError::TooLarge);
    }
    let mut v = 0u64;
    for &c in digits {
        let d = DIGIT[c as usize];
        if d == 0xFF {
            return Err(HexError::Bad);
        }
        v = (v << 4) | u64::from(d);
    }
    Ok(v)
}

/// Digits without leading zeros (`"0"` becomes empty); an empty input is an error.
#[inline]
fn significant(digits: &[u8]) -> Result<&[u8], HexError> {
    if digits.is_empty() {
        return Err(HexError::Bad);
    }
    let skip = digits.iter().take_while(|&&c| c == b'0').count();
    Ok(&digits[skip..])
}

/// Appends `0x` and the lower-case digits of `bytes`.
pub(crate) fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(2 + 2 * bytes.len());
    out.extend_from_slice(b"0x");
    for &b in bytes {
        out.push(LOWER[usize::from(b >> 4)]);
        out.push(LOWER[usize::from(b & 0x0F)]);
    }
}

/// Appends a quantity: `0x` and the digits of `v` without leading zeros (`0x0` for zero).
pub(crate) fn push_quantity(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(b"0x");
    let digits = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros()).div_ceil(4)
    };
    for i in (0..digits).rev() {
        out.push(LOWER[((v >> (4 * i)) & 0xF) as usize]);
    }
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width() {
        let mut out = [0u8; 3];
        decode_fixed(b"0xA0ff10", &mut out).unwrap();
        assert_eq!(out, [0xA0, 0xFF, 0x10]);
        assert_eq!(decode_fixed(b"0xa0ff1", &mut out), Err(HexError::Bad));
        assert_eq!(decode_fixed(b"0xa0ff1000", &mut out), Err(HexError::Bad));
        assert_eq!(decode_fixed(b"a0ff10", &mut out), Err(HexError::Bad));
        assert_eq!(decode_fixed(b"0xa0fg10", &mut out), Err(HexError::Bad));
        assert_eq!(decode_fixed(b"0x", &mut []), Ok(()));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_u64(b"0x0"), Ok(0));
        assert_eq!(quantity_u64(b"0x1b4"), Ok(0x1b4));
        assert_eq!(quantity_u64(b"0x00001b4"), Ok(0x1b4));
        assert_eq!(quantity_u64(b"0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(
            quantity_u64(b"0x10000000000000000"),
            Err(HexError::TooLarge)
        );
        assert_eq!(quantity_u64(b"0x"), Err(HexError::Bad));
        assert_eq!(quantity_u64(b"12"), Err(HexError::Bad));
        assert_eq!(quantity_u64(b"0x1z"), Err(HexError::Bad));
        let w = quantity_u256(b"0x1234567").unwrap();
        assert_eq!(&w[28..], &[0x01, 0x23, 0x45, 0x67]);
        assert!(w[..28].iter().all(|&b| b == 0));
        let max = [b'f'; 64];
        let mut s = b"0x".to_vec();
        s.extend_from_slice(&max);
        assert_eq!(quantity_u256(&s), Ok([0xFF; 32]));
        s.push(b'f');
        assert_eq!(quantity_u256(&s), Err(HexError::TooLarge));
        assert_eq!(quantity_u256(b"0xg"), Err(HexError::Bad));
    }

    proptest::proptest! {
        /// The 8-digit arithmetic path and the table path agree on every input.
        #[test]
        fn swar_matches_table(bytes in proptest::prelude::any::<[u8; 8]>(), pick in 0usize..4) {
            // Bias towards hex digits so the valid branch is exercised too.
            let alphabet = b"0123456789abcdefABCDEF";
            let mut b = bytes;
            if pick > 0 {
                for x in b.iter_mut() {
                    *x = alphabet[usize::from(*x) % alphabet.len()];
                }
                if pick == 1 {
                    b[usize::from(bytes[0]) % 8] = bytes[1];
                }
            }
            let mut want = [0u8; 4];
            let table = decode_pairs_table(&b, &mut want).ok().map(|()| want);
            proptest::prop_assert_eq!(swar8(u64::from_le_bytes(b)), table);
        }
    }

    #[test]
    fn swar_edges() {
        assert_eq!(
            swar8(u64::from_le_bytes(*b"0123abcd")),
            Some([0x01, 0x23, 0xab, 0xcd])
        );
        assert_eq!(
            swar8(u64::from_le_bytes(*b"FFffA0a9")),
            Some([0xff, 0xff, 0xa0, 0xa9])
        );
        for bad in [
            *b"0123abc/",
            *b":123abcd",
            *b"0123abcg",
            *b"@123abcd",
            *b"0123abc`",
            *b"G123abcd",
        ] {
            assert_eq!(swar8(u64::from_le_bytes(bad)), None, "{bad:?}");
        }
        assert_eq!(
            swar8(u64::from_le_bytes([
                0xB0, b'0', b'0', b'0', b'0', b'0', b'0', b'0'
            ])),
            None
        );
    }

    #[test]
    fn writers() {
        let mut out = Vec::new();
        push_prefixed(&mut out, &[0xAB, 0x01]);
        assert_eq!(out, b"0xab01");
        for (v, s) in [
            (0u64, "0x0"),
            (1, "0x1"),
            (0x1b4, "0x1b4"),
            (u64::MAX, "0xffffffffffffffff"),
        ] {
            out.clear();
            push_quantity(&mut out, v);
            assert_eq!(out, s.as_bytes());
            assert_eq!(quantity_u64(&out), Ok(v));
        }
        for v in [0u64, 7, 10, 12345, u64::MAX] {
            out.clear();
            push_decimal(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }
}
