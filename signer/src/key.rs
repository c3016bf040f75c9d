//! The signing key: loading it from bytes, hex, an env var or a file, and deriving the sender
//! address. The key never leaves this type: `Debug` prints the address only, errors carry no
//! key text, and every buffer that held key text is zeroed before it is freed.

use core::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, keccak256};
use k256::ecdsa::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// Hex digits in a 32-byte key.
const KEY_HEX_DIGITS: usize = 64;

/// Largest key file read, bytes. A key is 64 hex digits plus an optional 0x and whitespace;
/// the cap stops a wrong path (a log, /dev/zero) from being read without end.
pub const KEY_FILE_MAX_BYTES: usize = 4096;

/// Why a key could not be loaded. No variant holds any part of the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The named environment variable is not set (or its name is empty or holds `=`/NUL).
    EnvMissing {
        /// The variable's name.
        name: String,
    },
    /// The text has a character that is not a hex digit (after trimming and an optional 0x).
    NotHex,
    /// The text is hex but not 64 digits long.
    WrongLength {
        /// Hex digits found.
        hex_digits: usize,
    },
    /// The 32 bytes are zero or not below the secp256k1 group order n.
    InvalidScalar,
    /// The key file could not be read.
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: io::ErrorKind,
    },
    /// The key file is longer than [`KEY_FILE_MAX_BYTES`].
    FileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The key file may be read by its group or by others (Unix mode bits `0o077`): anyone on
    /// the host could take the funds. Refused before it is read.
    FileOpenToOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnvMissing { name } => write!(f, "env var {name:?} is not set"),
            Self::NotHex => f.write_str("key is not hex (want 64 hex digits, 0x optional)"),
            Self::WrongLength { hex_digits } => {
                write!(f, "key has {hex_digits} hex digits, want {KEY_HEX_DIGITS}")
            }
            Self::InvalidScalar => {
                f.write_str("key is not a valid secp256k1 secret (zero or not below the order)")
            }
            Self::FileUnreadable { path, kind } => {
                write!(f, "key file {} unreadable: {kind}", path.display())
            }
            Self::FileTooLarge { path } => write!(
                f,
                "key file {} is larger than {KEY_FILE_MAX_BYTES} bytes",
                path.display()
            ),
            Self::FileOpenToOthers { path, mode } => write!(
                f,
                "key file {} can be read by its group or others (mode {mode:04o}); \
                 make it private with `chmod 600 {}`",
                path.display(),
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// A secp256k1 signing key and the Ethereum address it signs for.
///
/// The key is zeroed when the `Signer` is dropped (k256's `SigningKey` does this).
pub struct Signer {
    key: SigningKey,
    address: Address,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// From the 32 big-endian bytes of the secret scalar.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = SigningKey::from_slice(bytes).map_err(|_| KeyError::InvalidScalar)?;
        let address = address_of(key.verifying_key());
        Ok(Self { key, address })
    }

    /// From hex text: 64 digits, either case, with or without `0x`, surrounding whitespace
    /// ignored.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Self::from_hex_bytes(text.as_bytes())
    }

    /// From the environment variable `name`, holding the key as hex. The copy of the value
    /// read from the environment is zeroed; the process environment itself is left as it is.
    pub fn from_env(name: &str) -> Result<Self, KeyError> {
        let missing = || KeyError::EnvMissing {
            name: name.to_owned(),
        };
        // `var_os` rejects these names itself on today's std; checking first rules out any
        // panic from a name that came from a config file.
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(missing());
        }
        let value = std::env::var_os(name).ok_or_else(missing)?;
        // Bytes, not `String`: a non-UTF-8 value must still be zeroed, and fails as `NotHex`.
        let value = Zeroizing::new(value.into_encoded_bytes());
        Self::from_hex_bytes(&value)
    }

    /// From a file holding the key as hex (same format as [`Signer::from_hex`]), at most
    /// [`KEY_FILE_MAX_BYTES`] long and private to its owner ([`read_private_file`]). The read
    /// buffer is zeroed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let text = read_private_file(path, KEY_FILE_MAX_BYTES).map_err(|e| match e {
            PrivateFileError::Unreadable(kind) => KeyError::FileUnreadable {
                path: path.to_owned(),
                kind,
            },
            PrivateFileError::OpenToOthers { mode } => KeyError::FileOpenToOthers {
                path: path.to_owned(),
                mode,
            },
            PrivateFileError::TooLarge => KeyError::FileTooLarge {
                path: path.to_owned(),
            },
        })?;
        Self::from_hex_bytes(&text)
    }

    /// The address this key signs for.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    fn from_hex_bytes(text: &[u8]) -> Result<Self, KeyError> {
        let bytes = decode_key_hex(text)?;
        Self::from_bytes(&bytes)
    }
}

/// Why a file holding a secret could not be read. No variant holds any of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateFileError {
    /// The OS refused (or it is not a regular file: `InvalidInput`).
    Unreadable(io::ErrorKind),
    /// Its group or others may read it (its permission bits).
    OpenToOthers {
        /// Unix permission bits.
        mode: u32,
    },
    /// It is longer than the cap.
    TooLarge,
}

/// Reads a file that holds a secret (a key, a keystore password): a regular file that its
/// group and others cannot read (Unix mode bits `0o077`, checked before anything is read), at
/// most `max` bytes, into a buffer sized once up front (no reallocation leaves an unzeroed
/// copy behind) that is zeroed when dropped.
pub fn read_private_file(path: &Path, max: usize) -> Result<Zeroizing<Vec<u8>>, PrivateFileError> {
    let unreadable = |e: io::Error| PrivateFileError::Unreadable(e.kind());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        // A directory or a device holds no secret: unreadable as one.
        return Err(PrivateFileError::Unreadable(io::ErrorKind::InvalidInput));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(PrivateFileError::OpenToOthers { mode });
        }
    }
    // One spare byte tells "exactly the cap" from "too long".
    let mut buf = Zeroizing::new(vec![0u8; max.saturating_add(1)]);
    let mut len = 0;
    let mut reader = file.take(buf.len() as u64);
    while let Some(rest) = buf.get_mut(len..) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(e)),
        }
    }
    if len > max {
        return Err(PrivateFileError::TooLarge);
    }
    buf.truncate(len);
    Ok(buf)
}

/// keccak256 of the 64-byte uncompressed public key (no 0x04 tag), last 20 bytes.
fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    let hash = keccak256(point.as_bytes().get(1..).unwrap_or_default());
    Address::from_slice(&hash[12..])
}

/// Decodes a key written as hex (64 digits, either case, optional 0x, surrounding whitespace
/// ignored) into 32 bytes that are zeroed on drop. For writing a key into a keystore; to sign,
/// use [`Signer::from_hex`].
pub fn decode_key_hex(text: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let text = text.trim_ascii();
    let digits = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .unwrap_or(text);
    // Characters before length: a file of the wrong kind says "not hex", not "wrong length".
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(KeyError::NotHex);
    }
    if digits.len() != KEY_HEX_DIGITS {
        return Err(KeyError::WrongLength {
            hex_digits: digits.len(),
        });
    }
    // Decoded straight into the zeroizing buffer: no other copy of the key is made.
    let mut out = Zeroizing::new([0u8; 32]);
    alloy_primitives::hex::decode_to_slice(digits, &mut out[..]).map_err(|_| KeyError::NotHex)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HEX: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    fn key_bytes() -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&KEY_HEX[2 * i..2 * i + 2], 16).expect("hex");
        }
        b
    }

    #[test]
    fn signer_can_move_to_the_signing_thread() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Signer>();
    }

    #[test]
    fn derives_the_published_address() {
        // The web3.js `eth.accounts.privateKeyToAccount` documentation example.
        let s = Signer::from_hex(KEY_HEX).expect("valid");
        assert_eq!(
            s.address(),
            alloy_primitives::address!("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
        );
    }

    #[test]
    fn hex_forms_all_give_the_same_key() {
        let want = Signer::from_bytes(&key_bytes()).expect("valid").address();
        let upper = KEY_HEX.to_ascii_uppercase();
        for text in [
            KEY_HEX.to_owned(),
            format!("0x{KEY_HEX}"),
            format!("0X{upper}"),
            format!("  0x{KEY_HEX}\n"),
            format!("\t{upper}\r\n"),
        ] {
            assert_eq!(
                Signer::from_hex(&text).map(|s| s.address()),
                Ok(want),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bad_hex_gives_the_right_error() {
        let cases: [(String, KeyError); 9] = [
            (String::new(), KeyError::WrongLength { hex_digits: 0 }),
            ("0x".to_owned(), KeyError::WrongLength { hex_digits: 0 }),
            (
                KEY_HEX[..63].to_owned(),
                KeyError::WrongLength { hex_digits: 63 },
            ),
            (
                format!("{KEY_HEX}00"),
                KeyError::WrongLength { hex_digits: 66 },
            ),
            (format!("{}g", &KEY_HEX[..63]), KeyError::NotHex),
            (format!("0x 0x{KEY_HEX}"), KeyError::NotHex),
            (
                format!("{} {}", &KEY_HEX[..32], &KEY_HEX[32..]),
                KeyError::NotHex,
            ),
            ("0".repeat(64), KeyError::InvalidScalar),
            ("f".repeat(64), KeyError::InvalidScalar),
        ];
        for (text, want) in cases {
            assert_eq!(
                Signer::from_hex(&text).map(|s| s.address()),
                Err(want),
                "{text:?}"
            );
        }
        // Non-ASCII must not hit a char-boundary panic anywhere.
        assert_eq!(
            Signer::from_hex("ééé").map(|s| s.address()),
            Err(KeyError::NotHex)
        );
    }

    #[test]
    fn order_boundary() {
        // n − 1 is the largest valid secret, n itself is not (SEC 2 order of secp256k1).
        let n_minus_1 = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
        let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        assert!(Signer::from_hex(n_minus_1).is_ok());
        assert_eq!(
            Signer::from_hex(n).map(|s| s.address()),
            Err(KeyError::InvalidScalar)
        );
    }

    #[test]
    fn debug_shows_address_only() {
        let s = Signer::from_hex(KEY_HEX).expect("valid");
        for text in [format!("{s:?}"), format!("{s:#?}")] {
            assert!(text.contains(&format!("{:?}", s.address())), "{text}");
            assert!(
                !text.to_ascii_lowercase().contains(&KEY_HEX[..16]),
                "{text}"
            );
            assert!(
                !text.contains(format!("{:?}", &key_bytes()[..4]).trim_end_matches(']')),
                "{text}"
            );
        }
    }

    #[test]
    fn env_names_that_std_could_reject_are_errors() {
        for name in ["", "A=B", "A\0B"] {
            assert_eq!(
                Signer::from_env(name).map(|s| s.address()),
                Err(KeyError::EnvMissing {
                    name: name.to_owned()
                })
            );
        }
    }

    #[test]
    fn errors_display_lowercase_and_without_key() {
        let errors = [
            KeyError::EnvMissing {
                name: "POLYARB_PRIVATE_KEY".to_owned(),
            },
            KeyError::NotHex,
            KeyError::WrongLength { hex_digits: 63 },
            KeyError::InvalidScalar,
            KeyError::FileUnreadable {
                path: "/k".into(),
                kind: io::ErrorKind::NotFound,
            },
            KeyError::FileTooLarge { path: "/k".into() },
            KeyError::FileOpenToOthers {
                path: "/k".into(),
                mode: 0o644,
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
