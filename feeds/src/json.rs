//! A small JSON scanner that never allocates: it walks the bytes once, validates the grammar of
//! everything it passes over (RFC 8259), and hands out borrowed slices.
//!
//! It does not build values. Callers ask for the members of an object one key at a time, in
//! whatever order they come, and either read the value (string, array) or skip it. Skipping is
//! iterative with a bit stack, so deep nesting cannot overflow the thread stack.
//!
//! Not checked: UTF-8 validity inside strings (bytes >= 0x80 pass through). The decoder only
//! compares ASCII keys and reads hex, so a bad multi-byte sequence cannot change what it reads.

use crate::decode::DecodeError;

type Result<T, E = DecodeError> = core::result::Result<T, E>;

/// Deepest nesting [`Scanner::skip_value`] accepts: one bit of the `u128` stack per level.
pub(crate) const MAX_DEPTH: u32 = 128;

/// Bytes that end the fast part of a string: the closing quote, a backslash, or a control
/// character (which JSON forbids unescaped).
const STR_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is `"`, `\` or below 0x20. Bits above the first hit
/// may be false positives (borrows run upward), so only the lowest one is meaningful.
#[inline(always)]
fn stop_bits(v: u64) -> u64 {
    let quote = v ^ (ONES * u64::from(b'"'));
    let backslash = v ^ (ONES * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(ONES) & !quote;
    let zero_backslash = backslash.wrapping_sub(ONES) & !backslash;
    let control = v.wrapping_sub(ONES * 0x20) & !v;
    (zero_quote | zero_backslash | control) & HIGHS
}

/// Index of the first byte at or after `from` that ends the plain part of a string, eight
/// bytes at a time (strings are most of a log notification's bytes: hashes, data, topics).
#[inline]
pub(crate) fn find_stop(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        // Little-endian load: the lowest set bit is the earliest byte.
        let hits = stop_bits(u64::from_le_bytes(w));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| STR_STOP[c as usize])
        .map(|k| i + k)
}

/// A string as it appears between its quotes, escapes still in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JStr<'a> {
    /// The bytes between the quotes.
    pub raw: &'a [u8],
    /// True if `raw` contains at least one backslash escape.
    pub escaped: bool,
}

impl<'a> JStr<'a> {
    /// The string's value if it is ASCII and fits `buf`, unescaping only when needed.
    /// `None` means it cannot equal any ASCII name of that length or shorter.
    pub(crate) fn ascii<'b>(&self, buf: &'b mut [u8; 32]) -> Option<&'b [u8]>
    where
        'a: 'b,
    {
        if !self.escaped {
            return Some(self.raw);
        }
        let mut n = 0;
        let mut i = 0;
        let r = self.raw;
        while i < r.len() {
            let mut c = r[i];
            i += 1;
            if c == b'\\' {
                // The scanner validated every escape, so the indexing below stays in bounds.
                let e = *r.get(i)?;
                i += 1;
                c = match e {
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let h = r.get(i..i + 4)?;
                        i += 4;
                        let mut cp = 0u32;
                        for &d in h {
                            cp = (cp << 4) | (d as char).to_digit(16)?;
                        }
                        if cp >= 0x80 {
                            return None;
                        }
                        cp as u8
                    }
                    other => other, // `"`, `\`, `/`
                };
            }
            *buf.get_mut(n)? = c;
            n += 1;
        }
        Some(&buf[..n])
    }

    /// True if the string's value equals the ASCII `name`.
    pub(crate) fn is(&self, name: &[u8]) -> bool {
        if !self.escaped {
            return self.raw == name;
        }
        let mut buf = [0u8; 32];
        self.ascii(&mut buf) == Some(name)
    }
}

/// A cursor over one JSON text.
#[derive(Debug)]
pub(crate) struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    /// A scanner positioned at byte `i` of `b` (to come back to a value skipped earlier).
    pub(crate) fn at(b: &'a [u8], i: usize) -> Self {
        Self { b, i }
    }

    /// Current byte offset.
    pub(crate) fn pos(&self) -> usize {
        self.i
    }

    #[inline]
    fn malformed(&self) -> DecodeError {
        DecodeError::Malformed(self.i)
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Consumes `c` after optional whitespace.
    #[inline]
    fn eat(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    /// Succeeds if only whitespace is left.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.peek().is_some() {
            return Err(self.malformed());
        }
        Ok(())
    }

    /// Reads a string value.
    pub(crate) fn string(&mut self) -> Result<JStr<'a>> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            // Fast part: run to the next quote, backslash or control byte.
            let Some(k) = find_stop(self.b, self.i) else {
                self.i = self.b.len();
                return Err(self.malformed());
            };
            self.i = k;
            match self.b[self.i] {
                b'"' => {
                    let raw = &self.b[start..self.i];
                    self.i += 1;
                    return Ok(JStr { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.b.get(self.i) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            match hex {
                                Some(h) if h.iter().all(u8::is_ascii_hexdigit) => self.i += 5,
                                _ => return Err(self.malformed()),
                            }
                        }
                        _ => return Err(self.malformed()),
                    }
                }
                _ => return Err(self.malformed()), // raw control character
            }
        }
    }

    /// Reads `true`, `false` or `null` (`None`).
    pub(crate) fn bool_or_null(&mut self) -> Result<Option<bool>> {
        self.ws();
        let rest = &self.b[self.i..];
        let (v, n) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return Err(self.malformed());
        };
        self.i += n;
        Ok(v)
    }

    /// True (and consumed) if the next value is `null`.
    pub(crate) fn null(&mut self) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    fn number(&mut self) -> Result<()> {
        let b = self.b;
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        if b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while digit(self.i) {
                    self.i += 1;
                }
            }
            _ => return Err(self.malformed()),
        }
        if b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digit(self.i) {
                return Err(self.malformed());
            }
            while digit(self.i) {
                self.i += 1;
            }
        }
        if matches!(b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digit(self.i) {
                return Err(self.malformed());
            }
            while digit(self.i) {
                self.i += 1;
            }
        }
        Ok(())
    }

    /// Skips one value of any kind, returning its bytes.
    pub(crate) fn value(&mut self) -> Result<&'a [u8]> {
        self.ws();
        let start = self.i;
        self.skip_value()?;
        Ok(&self.b[start..self.i])
    }

    /// Skips one value. Containers are walked with a bit stack (1 = object, 0 = array) so the
    /// closing brackets are checked against the opening ones without recursion.
    fn skip_value(&mut self) -> Result<()> {
        let mut stack: u128 = 0;
        let mut depth: u32 = 0;
        'value: loop {
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return Err(DecodeError::TooDeep);
                        }
                        stack = (stack << 1) | 1;
                        depth += 1;
                        self.string()?;
                        self.eat(b':')?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    if self.peek() == Some(b']') {
                        self.i += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return Err(DecodeError::TooDeep);
                        }
                        stack <<= 1;
                        depth += 1;
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't' | b'f' | b'n') => {
                    self.bool_or_null()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.malformed()),
            }
            // A value just ended: close containers until one continues with a comma.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = stack & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if in_object {
                            self.string()?;
                            self.eat(b':')?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(self.malformed()),
                }
                self.i += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// Walks an object: `member` is called with each key and must consume that key's value
    /// (read it or call [`Scanner::value`]).
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, JStr<'a>) -> Result<()>,
    ) -> Result<()> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.malformed()),
            }
        }
    }

    /// Walks an array: `element` is called once per element and must consume it.
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.malformed()),
            }
        }
    }
}

/// Reads a JSON number that is a plain non-negative integer fitting `u64` (JSON-RPC ids).
pub(crate) fn plain_u64(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 || (raw.len() > 1 && raw[0] == b'0') {
        return None;
    }
    let mut v = 0u64;
    for &c in raw {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// True if `text` is exactly one valid JSON value (with optional surrounding whitespace).
#[cfg(test)]
pub(crate) fn is_valid(text: &[u8]) -> bool {
    let mut s = Scanner::new(text);
    s.value().is_ok() && s.finish().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_valid_values() {
        for t in [
            "0",
            "-0",
            "12.5e-3",
            "1E+9",
            "true",
            " false ",
            "null",
            r#""""#,
            r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00""#,
            "[]",
            "{}",
            r#"{"a":[1,{"b":null},"x"],"c":{"d":[]}}"#,
            " [ 1 , [ 2 , [ ] ] ] ",
        ] {
            assert!(is_valid(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn rejects_invalid_values() {
        for t in [
            "",
            " ",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "[1,]",
            "[,1]",
            "{,}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            "[1}",
            "{\"a\":1]",
            r#""abc"#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}b\"",
            "[1] x",
            "{} {}",
            "[",
            "]",
            "'a'",
        ] {
            assert!(!is_valid(t.as_bytes()), "{t:?}");
        }
    }

    #[test]
    fn depth_is_bounded_not_recursive() {
        let ok = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(is_valid(ok.as_bytes()));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let mut s = Scanner::new(deep.as_bytes());
        assert_eq!(s.value(), Err(DecodeError::TooDeep));
    }

    #[test]
    fn keys_unescape_for_matching() {
        let text = br#"{"\u0061ddress":1,"topics":2,"blo\u0063kNumber":3,"\u00e9":4}"#;
        let mut s = Scanner::new(text);
        let mut seen = Vec::new();
        s.object(|s, k| {
            seen.push((k.is(b"address"), k.is(b"topics"), k.is(b"blockNumber")));
            s.value().map(|_| ())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (false, false, false)
            ]
        );
    }

    #[test]
    fn find_stop_matches_bytewise_search() {
        let mut text: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for special in [b'"', b'\\', 0x00, 0x1F] {
            for at in 0..text.len() {
                let mut t = text.clone();
                t[at] = special;
                // Bytes that trip naive SWAR (0x20 right after a hit, high bytes) around it.
                if at + 1 < t.len() {
                    t[at + 1] = 0x20;
                }
                for from in 0..=at {
                    assert_eq!(
                        find_stop(&t, from),
                        Some(at),
                        "{special:#x} at {at} from {from}"
                    );
                }
            }
        }
        text.extend_from_slice(&[0x80, 0xFF, 0x7F, 0x20, b'!', 0xA2]);
        assert_eq!(find_stop(&text, 0), None);
        assert_eq!(find_stop(&text, text.len()), None);
    }

    #[test]
    fn plain_ids() {
        assert_eq!(plain_u64(b"0"), Some(0));
        assert_eq!(plain_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(plain_u64(b"18446744073709551616"), None);
        assert_eq!(plain_u64(b"01"), None);
        assert_eq!(plain_u64(b"-1"), None);
        assert_eq!(plain_u64(b"1.0"), None);
    }

    /// Small JSON-ish alphabet so random strings are often near-valid.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let atoms = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\"k\"",
            "\"\\u0041\"",
            "\\",
            "1",
            "-",
            "0",
            ".",
            "e",
            "true",
            "null",
            "fals",
            " ",
            "\n",
            "\"a\\nb\"",
            "\u{1}",
            "x",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat().into_bytes())
    }

    proptest! {
        /// Differential: the scanner accepts exactly what serde_json accepts (ASCII inputs, so
        /// the one deliberate difference, UTF-8 checking, does not arise).
        #[test]
        fn agrees_with_serde_json(text in jsonish()) {
            let ours = is_valid(&text);
            let theirs = serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok();
            prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&text));
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = is_valid(&bytes);
        }

        #[test]
        fn find_stop_is_the_bytewise_search(bytes in prop::collection::vec(any::<u8>(), 0..64), from in 0usize..64) {
            let from = from.min(bytes.len());
            let want = bytes[from..].iter().position(|&c| STR_STOP[c as usize]).map(|k| from + k);
            prop_assert_eq!(find_stop(&bytes, from), want);
        }
    }
}
