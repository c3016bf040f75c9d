//! Standard base64 (RFC 4648 §4, with `=` padding), encode only: the handshake needs it for a
//! 16-byte key and a 20-byte SHA-1 digest, and nothing else in the crate decodes base64.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the encoding of `n` input bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Encodes `input` into `out`, which must be exactly [`encoded_len`] bytes long.
pub(crate) fn encode(input: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), encoded_len(input.len()));
    for (chunk, o) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, slot) in o.iter_mut().enumerate() {
            *slot = ALPHABET[((n >> (18 - 6 * k)) & 0x3F) as usize];
        }
        // 1 input byte fills 2 output characters, 2 fill 3; the rest is padding.
        for slot in &mut o[chunk.len() + 1..] {
            *slot = b'=';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(input: &[u8]) -> String {
        let mut out = vec![0u8; encoded_len(input.len())];
        encode(input, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(i.as_bytes()), o);
        }
    }

    #[test]
    fn uses_whole_alphabet() {
        let all: Vec<u8> = (0u8..=255).collect();
        let s = enc(&all);
        assert!(s.contains('+') && s.contains('/'));
        assert_eq!(s.len(), encoded_len(256));
        assert!(s.ends_with("/w=="));
    }
}
