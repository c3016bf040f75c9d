//! Encrypted key files in the Web3 Secret Storage v3 format (the JSON keystores that geth,
//! `cast wallet` and MetaMask exports use): cipher `aes-128-ctr`, kdf `scrypt` or `pbkdf2` with
//! prf `hmac-sha256`, mac = keccak256(derived_key[16..32] ‖ ciphertext), AES key =
//! derived_key[0..16].
//!
//! Reading is all-or-nothing: every field and every kdf parameter is checked before any key
//! derivation runs, the mac is compared in constant time, and a [`Signer`] exists only once the
//! decrypted key passed every check. Every buffer that holds a derived key or a plaintext key is
//! [`Zeroizing`]; the password is only borrowed, never copied. (The `scrypt` crate's own mixing
//! buffers are freed unwiped; they hold password-dependent state, not the derived key.) Errors
//! name fields and parameters, never the key, the password, the ciphertext, the mac or derived
//! bytes.
//!
//! Not for: other key file kinds (v1 keystores, presale wallets, mnemonics), changing a
//! keystore's password, or choosing where keystores live.

use core::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use aes::Aes128;
use alloy_primitives::{Address, Keccak256, hex};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use k256::elliptic_curve::subtle::ConstantTimeEq;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::key::Signer;

/// Largest keystore file read, bytes. Real keystores are under 1 KiB; the cap stops a wrong path
/// (a log, /dev/zero) from being read without end.
pub const KEYSTORE_FILE_MAX_BYTES: usize = 64 * 1024;

/// geth's cipher: AES-128 in CTR mode with the whole 16-byte IV as a big-endian counter.
type Aes128Ctr = Ctr128BE<Aes128>;

/// Bytes of derived key the format uses: 16 for AES, 16 for the mac.
const DKLEN: u64 = 32;
/// Largest scrypt table (128·r·n bytes) and block buffer (128·r·p bytes), each.
const SCRYPT_MAX_MEMORY: u128 = 1 << 30;
/// Largest scrypt work n·r·p: 128 × geth's standard (2^21), about a minute of CPU. Bounds the
/// time a hostile file can cost, as [`PBKDF2_MAX_ROUNDS`] does for pbkdf2.
const SCRYPT_MAX_WORK: u128 = 1 << 28;
/// RFC 7914: p ≤ ((2^32 − 1) · 32) / (128 · r), i.e. r·p below 2^30.
const SCRYPT_MAX_RP: u128 = 1 << 30;
/// Most pbkdf2 rounds accepted, about a minute of CPU.
const PBKDF2_MAX_ROUNDS: u64 = 100_000_000;
/// Longest unsupported cipher, kdf or prf name repeated in an error message.
const NAME_MAX_CHARS: usize = 32;

/// How a password becomes the 32-byte derived key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kdf {
    /// scrypt with n = 2^`log_n`, block size `r` and parallelism `p`.
    Scrypt {
        /// log₂ of the cost n, 1 to 63.
        log_n: u8,
        /// Block size factor.
        r: u32,
        /// Parallelism factor.
        p: u32,
    },
    /// PBKDF2 with HMAC-SHA256.
    Pbkdf2 {
        /// Iterations, 1 to 10^8.
        rounds: u32,
    },
}

impl Kdf {
    /// geth's standard scrypt: n = 2^18, r = 8, p = 1 (256 MiB, about a second).
    pub const STANDARD: Self = Self::Scrypt {
        log_n: 18,
        r: 8,
        p: 1,
    };
    /// geth's light scrypt (`--lightkdf`): n = 2^12, r = 8, p = 6 (4 MiB).
    pub const LIGHT: Self = Self::Scrypt {
        log_n: 12,
        r: 8,
        p: 6,
    };
    /// PBKDF2-HMAC-SHA256 with 262,144 rounds, as in the Web3 Secret Storage test vector.
    pub const PBKDF2_DEFAULT: Self = Self::Pbkdf2 { rounds: 262_144 };

    /// Checks the parameters against the limits that reading a keystore applies, so a file
    /// written with them can be read back.
    pub fn validate(&self) -> Result<(), ParamError> {
        match *self {
            Self::Scrypt { log_n, r, p } => {
                if !(1..64).contains(&log_n) {
                    return Err(ParamError::ScryptN);
                }
                scrypt_kdf(1 << log_n, r.into(), p.into()).map(|_| ())
            }
            Self::Pbkdf2 { rounds } => pbkdf2_kdf(rounds.into()).map(|_| ()),
        }
    }
}

/// A keystore parameter outside what this reader accepts. Every check runs before any key
/// derivation, so a hostile file cannot make us allocate or spin first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// scrypt n is not a power of two of at least 2.
    ScryptN,
    /// scrypt r or p is zero.
    ScryptRpZero,
    /// scrypt r·p is 2^30 or more (RFC 7914's limit).
    ScryptRpTooLarge,
    /// scrypt would need more than 1 GiB for its table (128·r·n) or its blocks (128·r·p).
    ScryptMemory,
    /// scrypt work n·r·p is above 2^28.
    ScryptWork,
    /// pbkdf2 rounds `c` is zero.
    Pbkdf2RoundsZero,
    /// pbkdf2 rounds `c` is above 10^8.
    Pbkdf2RoundsTooMany {
        /// Rounds in the file.
        rounds: u64,
    },
    /// `dklen` is not 32.
    Dklen {
        /// `dklen` in the file.
        dklen: u64,
    },
    /// The kdf salt is empty.
    SaltEmpty,
    /// The cipher IV is not 16 bytes.
    IvLength {
        /// IV bytes in the file.
        bytes: usize,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ScryptN => f.write_str("scrypt n must be a power of two, at least 2"),
            Self::ScryptRpZero => f.write_str("scrypt r and p must be at least 1"),
            Self::ScryptRpTooLarge => f.write_str("scrypt r*p must be below 2^30"),
            Self::ScryptMemory => f.write_str(
                "scrypt would need more than 1 GiB (128*r*n for its table or 128*r*p for its blocks)",
            ),
            Self::ScryptWork => f.write_str("scrypt work n*r*p is above the 2^28 cap"),
            Self::Pbkdf2RoundsZero => f.write_str("pbkdf2 rounds c must be at least 1"),
            Self::Pbkdf2RoundsTooMany { rounds } => {
                write!(f, "pbkdf2 rounds c = {rounds} is above the 10^8 cap")
            }
            Self::Dklen { dklen } => write!(f, "dklen is {dklen}, want {DKLEN}"),
            Self::SaltEmpty => f.write_str("kdf salt is empty"),
            Self::IvLength { bytes } => write!(f, "cipher iv is {bytes} bytes, want 16"),
        }
    }
}

impl std::error::Error for ParamError {}

/// Why a keystore could not be read, opened or written. No variant holds any part of the key,
/// the password, the ciphertext, the mac or derived bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeystoreError {
    /// The keystore file could not be read.
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: io::ErrorKind,
    },
    /// The keystore file is longer than [`KEYSTORE_FILE_MAX_BYTES`].
    FileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not JSON (syntax error or truncated).
    NotJson {
        /// Line of the first error, from 1.
        line: usize,
        /// Column of the first error, from 1.
        column: usize,
    },
    /// A required field is absent.
    MissingField {
        /// Its dotted path, e.g. `crypto.kdfparams.salt`.
        field: &'static str,
    },
    /// A field has the wrong JSON type or malformed content.
    BadField {
        /// Its dotted path.
        field: &'static str,
        /// What it should be.
        want: &'static str,
    },
    /// `version` is not 3.
    UnsupportedVersion {
        /// The version in the file.
        version: u64,
    },
    /// `crypto.cipher` is not `aes-128-ctr`.
    UnsupportedCipher {
        /// The cipher named, if it is a short identifier (see [`KeystoreError::UnsupportedKdf`]).
        name: Option<String>,
    },
    /// `crypto.kdf` is neither `scrypt` nor `pbkdf2`.
    ///
    /// Names from the file are kept only when they are 1 to 32 of `A-Z a-z 0-9 . _ -`, so a
    /// misplaced key or password in the field is not echoed into a log.
    UnsupportedKdf {
        /// The kdf named, if it is a short identifier.
        name: Option<String>,
    },
    /// `crypto.kdfparams.prf` is not `hmac-sha256`.
    UnsupportedPrf {
        /// The prf named, if it is a short identifier (see [`KeystoreError::UnsupportedKdf`]).
        name: Option<String>,
    },
    /// A kdf or cipher parameter is refused.
    ParamRefused(ParamError),
    /// The mac does not match: the password is wrong or the file is corrupt.
    WrongPassword,
    /// The mac matched but the ciphertext is not 32 bytes, so it holds no secp256k1 key.
    WrongKeyLength {
        /// Ciphertext bytes.
        bytes: usize,
    },
    /// The key is zero or not below the secp256k1 group order n.
    InvalidKey,
    /// The file's `address` field is not the address of the key it holds. The field is not
    /// covered by the mac, so it was edited, or the IV was damaged.
    AddressMismatch {
        /// The `address` field.
        field: Address,
        /// The decrypted key's address.
        key: Address,
    },
    /// The OS random source failed.
    RandomUnavailable,
    /// The output file exists already; keystores are never overwritten.
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// The output file could not be created, written or synced.
    FileUnwritable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: io::ErrorKind,
    },
}

impl fmt::Display for KeystoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FileUnreadable { path, kind } => {
                write!(f, "keystore {} unreadable: {kind}", path.display())
            }
            Self::FileTooLarge { path } => write!(
                f,
                "keystore {} is larger than {KEYSTORE_FILE_MAX_BYTES} bytes",
                path.display()
            ),
            Self::NotJson { line, column } => {
                write!(f, "keystore is not json (line {line}, column {column})")
            }
            Self::MissingField { field } => write!(f, "keystore has no `{field}` field"),
            Self::BadField { field, want } => {
                write!(f, "keystore field `{field}` is malformed: want {want}")
            }
            Self::UnsupportedVersion { version } => {
                write!(f, "keystore version {version} is not supported (want 3)")
            }
            Self::UnsupportedCipher { name } => write!(
                f,
                "keystore cipher {} is not supported (want aes-128-ctr)",
                Shown(name)
            ),
            Self::UnsupportedKdf { name } => write!(
                f,
                "keystore kdf {} is not supported (want scrypt or pbkdf2)",
                Shown(name)
            ),
            Self::UnsupportedPrf { name } => write!(
                f,
                "keystore prf {} is not supported (want hmac-sha256)",
                Shown(name)
            ),
            Self::ParamRefused(e) => write!(f, "keystore parameter refused: {e}"),
            Self::WrongPassword => {
                f.write_str("wrong keystore password or corrupt keystore (mac mismatch)")
            }
            Self::WrongKeyLength { bytes } => {
                write!(f, "keystore holds a {bytes}-byte key, want 32")
            }
            Self::InvalidKey => {
                f.write_str("key is not a valid secp256k1 secret (zero or not below the order)")
            }
            Self::AddressMismatch { field, key } => write!(
                f,
                "keystore address field {field} is not the address of its key ({key})"
            ),
            Self::RandomUnavailable => f.write_str("the os random source failed"),
            Self::FileExists { path } => write!(
                f,
                "keystore {} exists already; a keystore is never overwritten",
                path.display()
            ),
            Self::FileUnwritable { path, kind } => {
                write!(f, "cannot write keystore {}: {kind}", path.display())
            }
        }
    }
}

impl std::error::Error for KeystoreError {}

/// A name from the file in a message: in backticks, or a note that it is not shown.
struct Shown<'a>(&'a Option<String>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "`{name}`"),
            None => f.write_str("(name not shown: not a short identifier)"),
        }
    }
}

impl From<ParamError> for KeystoreError {
    fn from(e: ParamError) -> Self {
        Self::ParamRefused(e)
    }
}

impl Signer {
    /// From a Web3 Secret Storage v3 keystore file, at most [`KEYSTORE_FILE_MAX_BYTES`] long.
    ///
    /// The file's permissions are not checked: the key in it is encrypted, and `cast wallet`
    /// writes keystores with mode 0644. If the file has an `address` field, it must be the
    /// decrypted key's address ([`KeystoreError::AddressMismatch`]).
    pub fn from_keystore(path: impl AsRef<Path>, password: &[u8]) -> Result<Self, KeystoreError> {
        let text = read_capped(path.as_ref())?;
        decrypt_json(&text, password)
    }
}

/// The keystore JSON for `key` under `password`: fresh random 32-byte salt and 16-byte IV, a
/// random UUID v4 `id`, `version` 3 and `address` (lowercase hex, no 0x, as geth writes it).
/// An invalid key or kdf parameters that reading would refuse are refused first.
pub fn encrypt_keystore(
    key: &[u8; 32],
    password: &[u8],
    kdf: Kdf,
) -> Result<String, KeystoreError> {
    encrypt(key, password, kdf).map(|(json, _)| json)
}

/// Writes the keystore JSON for `key` (see [`encrypt_keystore`]) to a new file at `path` with
/// Unix mode 0600, syncs it and its directory, and returns the key's address. An existing file
/// is never overwritten ([`KeystoreError::FileExists`]); on a failed write the new file is
/// removed.
pub fn write_keystore(
    path: &Path,
    key: &[u8; 32],
    password: &[u8],
    kdf: Kdf,
) -> Result<Address, KeystoreError> {
    let (json, address) = encrypt(key, password, kdf)?;
    let unwritable = |e: io::Error| KeystoreError::FileUnwritable {
        path: path.to_owned(),
        kind: e.kind(),
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            KeystoreError::FileExists {
                path: path.to_owned(),
            }
        } else {
            unwritable(e)
        }
    })?;
    let written = file
        .write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_parent_dir(path));
    if let Err(e) = written {
        drop(file);
        // A half-written file would block the next attempt (never overwritten) and hold no
        // key; the write error is the one to report, so a failed removal is not.
        let _ = std::fs::remove_file(path);
        return Err(unwritable(e));
    }
    Ok(address)
}

/// The file's `address` field, if it has one: unverified (not covered by the mac), for
/// messages only. Reads the file like [`Signer::from_keystore`] but decrypts nothing.
pub fn keystore_address(path: impl AsRef<Path>) -> Result<Option<Address>, KeystoreError> {
    let text = read_capped(path.as_ref())?;
    let doc = parse_json(&text)?;
    let top = as_object(&doc, "(top level)")?;
    address_field(top)
}

/// Makes the new directory entry durable: the caller may discard its only other copy of the
/// key once this returns.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Reads at most the cap. The file holds only encrypted material, so the buffer is not zeroed.
fn read_capped(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    let unreadable = |e: io::Error| KeystoreError::FileUnreadable {
        path: path.to_owned(),
        kind: e.kind(),
    };
    let file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        // A directory or a device holds no keystore: unreadable as one.
        return Err(unreadable(io::ErrorKind::InvalidInput.into()));
    }
    let mut text = Vec::new();
    // One spare byte tells "exactly the cap" from "too long".
    file.take(KEYSTORE_FILE_MAX_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(unreadable)?;
    if text.len() > KEYSTORE_FILE_MAX_BYTES {
        return Err(KeystoreError::FileTooLarge {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

/// A keystore's fields, every one checked, before any key derivation.
#[derive(Debug)]
struct Parsed {
    kdf: Kdf,
    salt: Vec<u8>,
    iv: [u8; 16],
    ciphertext: Vec<u8>,
    mac: [u8; 32],
    address: Option<Address>,
}

/// Opens keystore JSON: parse and check everything, derive, verify the mac, decrypt.
fn decrypt_json(text: &[u8], password: &[u8]) -> Result<Signer, KeystoreError> {
    let parsed = parse_keystore(text)?;
    let dk = derive_key(parsed.kdf, password, &parsed.salt)?;
    let [aes_key, mac_key] = &*dk;
    let want = mac_of(mac_key, &parsed.ciphertext);
    if !bool::from(want.as_slice().ct_eq(&parsed.mac[..])) {
        return Err(KeystoreError::WrongPassword);
    }
    // Checked after the mac: only an authentic ciphertext tells anything about the key.
    if parsed.ciphertext.len() != 32 {
        return Err(KeystoreError::WrongKeyLength {
            bytes: parsed.ciphertext.len(),
        });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&parsed.ciphertext);
    // 32 bytes of a keystream 2^128 blocks long: `apply_keystream` cannot run out and panic.
    Aes128Ctr::new(aes_key.into(), (&parsed.iv).into()).apply_keystream(&mut key[..]);
    let signer = Signer::from_bytes(&key).map_err(|_| KeystoreError::InvalidKey)?;
    if let Some(field) = parsed.address
        && field != signer.address()
    {
        return Err(KeystoreError::AddressMismatch {
            field,
            key: signer.address(),
        });
    }
    Ok(signer)
}

fn encrypt(key: &[u8; 32], password: &[u8], kdf: Kdf) -> Result<(String, Address), KeystoreError> {
    let address = Signer::from_bytes(key)
        .map_err(|_| KeystoreError::InvalidKey)?
        .address();
    kdf.validate()?;
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    for buf in [&mut salt[..], &mut iv[..], &mut id[..]] {
        getrandom::fill(buf).map_err(|_| KeystoreError::RandomUnavailable)?;
    }
    let dk = derive_key(kdf, password, &salt)?;
    let [aes_key, mac_key] = &*dk;
    // Encrypted in place in a zeroizing copy: the buffer holds the plaintext key until the
    // keystream is applied.
    let mut ciphertext = Zeroizing::new([0u8; 32]);
    ciphertext.copy_from_slice(key);
    // 32 bytes of a keystream 2^128 blocks long: `apply_keystream` cannot run out and panic.
    Aes128Ctr::new(aes_key.into(), (&iv).into()).apply_keystream(&mut ciphertext[..]);
    let mac = mac_of(mac_key, &ciphertext[..]);
    let kdfparams = match kdf {
        // `validate` bounded log_n to 1..64, so the shift cannot overflow.
        Kdf::Scrypt { log_n, r, p } => json!({
            "dklen": DKLEN,
            "n": 1u64 << log_n,
            "p": p,
            "r": r,
            "salt": hex::encode(salt),
        }),
        Kdf::Pbkdf2 { rounds } => json!({
            "c": rounds,
            "dklen": DKLEN,
            "prf": "hmac-sha256",
            "salt": hex::encode(salt),
        }),
    };
    let kdf_name = match kdf {
        Kdf::Scrypt { .. } => "scrypt",
        Kdf::Pbkdf2 { .. } => "pbkdf2",
    };
    let doc = json!({
        "address": hex::encode(address),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(&ciphertext[..]),
            "kdf": kdf_name,
            "kdfparams": kdfparams,
            "mac": hex::encode(mac),
        },
        "id": uuid_v4(id),
        "version": 3,
    });
    // `Value`'s Display is infallible, unlike `serde_json::to_string`.
    Ok((doc.to_string(), address))
}

/// The 32-byte derived key, as the AES half and the mac half.
fn derive_key(
    kdf: Kdf,
    password: &[u8],
    salt: &[u8],
) -> Result<Zeroizing<[[u8; 16]; 2]>, KeystoreError> {
    // Every caller validated `kdf`, and that is stricter than scrypt's own checks; the error
    // arms below map what cannot happen to the nearest reason rather than panicking.
    kdf.validate()?;
    let mut dk = Zeroizing::new([[0u8; 16]; 2]);
    match kdf {
        Kdf::Scrypt { log_n, r, p } => {
            let params =
                scrypt::Params::new(log_n, r, p).map_err(|_| ParamError::ScryptRpTooLarge)?;
            scrypt::scrypt(password, salt, &params, dk.as_flattened_mut())
                .map_err(|_| ParamError::Dklen { dklen: DKLEN })?;
        }
        Kdf::Pbkdf2 { rounds } => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, dk.as_flattened_mut());
        }
    }
    Ok(dk)
}

/// keccak256(derived_key[16..32] ‖ ciphertext), hashed in two parts so the mac half of the
/// derived key is not copied into another buffer.
fn mac_of(mac_key: &[u8; 16], ciphertext: &[u8]) -> alloy_primitives::B256 {
    let mut hasher = Keccak256::new();
    hasher.update(mac_key);
    hasher.update(ciphertext);
    hasher.finalize()
}

/// RFC 9562 UUID version 4 (random) text from 16 random bytes.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Scrypt parameters as the file gives them, checked in the order the errors are documented.
fn scrypt_kdf(n: u64, r: u64, p: u64) -> Result<Kdf, ParamError> {
    if n < 2 || !n.is_power_of_two() {
        return Err(ParamError::ScryptN);
    }
    if r == 0 || p == 0 {
        return Err(ParamError::ScryptRpZero);
    }
    let (n128, r128, p128) = (u128::from(n), u128::from(r), u128::from(p));
    if r128 * p128 >= SCRYPT_MAX_RP {
        return Err(ParamError::ScryptRpTooLarge);
    }
    // r and p are below 2^30 now; n·r fits in u128 as n < 2^64.
    if 128 * r128 * n128 > SCRYPT_MAX_MEMORY || 128 * r128 * p128 > SCRYPT_MAX_MEMORY {
        return Err(ParamError::ScryptMemory);
    }
    if n128 * r128 * p128 > SCRYPT_MAX_WORK {
        return Err(ParamError::ScryptWork);
    }
    // All three are in range now: n ≤ 2^23, r and p < 2^30.
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| ParamError::ScryptN)?;
    let r = u32::try_from(r).map_err(|_| ParamError::ScryptRpTooLarge)?;
    let p = u32::try_from(p).map_err(|_| ParamError::ScryptRpTooLarge)?;
    Ok(Kdf::Scrypt { log_n, r, p })
}

fn pbkdf2_kdf(rounds: u64) -> Result<Kdf, ParamError> {
    if rounds == 0 {
        return Err(ParamError::Pbkdf2RoundsZero);
    }
    if rounds > PBKDF2_MAX_ROUNDS {
        return Err(ParamError::Pbkdf2RoundsTooMany { rounds });
    }
    let rounds = u32::try_from(rounds).map_err(|_| ParamError::Pbkdf2RoundsTooMany { rounds })?;
    Ok(Kdf::Pbkdf2 { rounds })
}

// Parsing goes through `serde_json::Value` and small typed accessors instead of derived
// `Deserialize` structs: serde's own messages either lack the field ("invalid type: ...") or
// quote the value, and an error here must name the field and never echo what is in it.

fn parse_json(text: &[u8]) -> Result<Value, KeystoreError> {
    serde_json::from_slice(text).map_err(|e| KeystoreError::NotJson {
        line: e.line(),
        column: e.column(),
    })
}

fn parse_keystore(text: &[u8]) -> Result<Parsed, KeystoreError> {
    let doc = parse_json(text)?;
    let top = as_object(&doc, "(top level)")?;

    let version = match top.get("version") {
        None => return Err(KeystoreError::MissingField { field: "version" }),
        Some(Value::Number(n)) => n.as_u64(),
        // Some old writers quote it ("version": "1"); still a version, just not ours.
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    }
    .ok_or(KeystoreError::BadField {
        field: "version",
        want: "a whole number",
    })?;
    if version != 3 {
        return Err(KeystoreError::UnsupportedVersion { version });
    }

    // Old geth wrote `Crypto`; a file with both is ambiguous.
    let crypto = match (top.get("crypto"), top.get("Crypto")) {
        (Some(c), None) | (None, Some(c)) => as_object(c, "crypto")?,
        (None, None) => return Err(KeystoreError::MissingField { field: "crypto" }),
        (Some(_), Some(_)) => {
            return Err(KeystoreError::BadField {
                field: "crypto",
                want: "one of `crypto` and `Crypto`, not both",
            });
        }
    };

    let cipher = string_field(crypto, "cipher", "crypto.cipher")?;
    if cipher != "aes-128-ctr" {
        return Err(KeystoreError::UnsupportedCipher {
            name: short_name(cipher),
        });
    }
    let cipherparams = as_object(
        field(crypto, "cipherparams", "crypto.cipherparams")?,
        "crypto.cipherparams",
    )?;
    let iv = hex_field(cipherparams, "iv", "crypto.cipherparams.iv")?;
    let iv: [u8; 16] = iv
        .as_slice()
        .try_into()
        .map_err(|_| ParamError::IvLength { bytes: iv.len() })?;
    let ciphertext = hex_field(crypto, "ciphertext", "crypto.ciphertext")?;
    let mac: [u8; 32] = hex_field(crypto, "mac", "crypto.mac")?
        .as_slice()
        .try_into()
        .map_err(|_| KeystoreError::BadField {
            field: "crypto.mac",
            want: "32 bytes of hex",
        })?;

    let kdf_name = string_field(crypto, "kdf", "crypto.kdf")?;
    let params = as_object(
        field(crypto, "kdfparams", "crypto.kdfparams")?,
        "crypto.kdfparams",
    )?;
    let kdf = match kdf_name {
        "scrypt" => {
            let n = uint_field(params, "n", "crypto.kdfparams.n")?;
            let r = uint_field(params, "r", "crypto.kdfparams.r")?;
            let p = uint_field(params, "p", "crypto.kdfparams.p")?;
            scrypt_kdf(n, r, p)?
        }
        "pbkdf2" => {
            let prf = string_field(params, "prf", "crypto.kdfparams.prf")?;
            if prf != "hmac-sha256" {
                return Err(KeystoreError::UnsupportedPrf {
                    name: short_name(prf),
                });
            }
            pbkdf2_kdf(uint_field(params, "c", "crypto.kdfparams.c")?)?
        }
        other => {
            return Err(KeystoreError::UnsupportedKdf {
                name: short_name(other),
            });
        }
    };
    let dklen = uint_field(params, "dklen", "crypto.kdfparams.dklen")?;
    if dklen != DKLEN {
        return Err(ParamError::Dklen { dklen }.into());
    }
    let salt = hex_field(params, "salt", "crypto.kdfparams.salt")?;
    if salt.is_empty() {
        return Err(ParamError::SaltEmpty.into());
    }

    Ok(Parsed {
        kdf,
        salt,
        iv,
        ciphertext,
        mac,
        address: address_field(top)?,
    })
}

fn address_field(top: &Map<String, Value>) -> Result<Option<Address>, KeystoreError> {
    let Some(value) = top.get("address") else {
        return Ok(None);
    };
    let bad = KeystoreError::BadField {
        field: "address",
        want: "20 bytes of hex",
    };
    let text = value.as_str().ok_or(bad.clone())?;
    let bytes = decode_hex(text).ok_or(bad.clone())?;
    let bytes: [u8; 20] = bytes.as_slice().try_into().map_err(|_| bad)?;
    Ok(Some(Address::from(bytes)))
}

fn as_object<'a>(
    value: &'a Value,
    field: &'static str,
) -> Result<&'a Map<String, Value>, KeystoreError> {
    value.as_object().ok_or(KeystoreError::BadField {
        field,
        want: "an object",
    })
}

fn field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a Value, KeystoreError> {
    obj.get(key).ok_or(KeystoreError::MissingField { field })
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<&'a str, KeystoreError> {
    field(obj, key, name)?
        .as_str()
        .ok_or(KeystoreError::BadField {
            field: name,
            want: "a string",
        })
}

fn uint_field(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<u64, KeystoreError> {
    field(obj, key, name)?
        .as_u64()
        .ok_or(KeystoreError::BadField {
            field: name,
            want: "a whole number below 2^64",
        })
}

fn hex_field(
    obj: &Map<String, Value>,
    key: &str,
    name: &'static str,
) -> Result<Vec<u8>, KeystoreError> {
    let text = string_field(obj, key, name)?;
    decode_hex(text).ok_or(KeystoreError::BadField {
        field: name,
        want: "hex (0x optional)",
    })
}

/// Hex with or without 0x, either case, an even number of digits.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).ok()
}

/// A name from the file for an error message, if it looks like a cipher, kdf or prf name: a
/// long or odd value may be a key or a password put in the wrong field.
fn short_name(name: &str) -> Option<String> {
    let is_identifier = (1..=NAME_MAX_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    is_identifier.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x11; 32];
    const PASSWORD: &[u8] = b"correct horse";
    /// Few rounds: these tests are about parsing, not the cost of the kdf.
    const FAST: Kdf = Kdf::Pbkdf2 { rounds: 2 };

    fn keystore() -> Value {
        let json = encrypt_keystore(&KEY, PASSWORD, FAST).expect("encrypts");
        serde_json::from_str(&json).expect("json")
    }

    fn open(doc: &Value) -> Result<Address, KeystoreError> {
        decrypt_json(doc.to_string().as_bytes(), PASSWORD).map(|s| s.address())
    }

    fn want_address() -> Address {
        Signer::from_bytes(&KEY).expect("valid").address()
    }

    /// `doc` with the value at `path` (slash separated) replaced, or removed for `None`.
    fn edit(doc: &Value, path: &str, value: Option<Value>) -> Value {
        let mut doc = doc.clone();
        let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
        let target = if parent.is_empty() {
            &mut doc
        } else {
            doc.pointer_mut(&format!("/{parent}"))
                .expect("parent exists")
        };
        let obj = target.as_object_mut().expect("object");
        match value {
            Some(v) => obj.insert(last.to_owned(), v),
            None => obj.remove(last),
        };
        doc
    }

    #[test]
    fn round_trip_and_the_written_shape() {
        let doc = keystore();
        assert_eq!(open(&doc), Ok(want_address()));
        assert_eq!(doc["version"], 3);
        assert_eq!(doc["address"], hex::encode(want_address()));
        assert_eq!(doc["crypto"]["kdf"], "pbkdf2");
        assert_eq!(doc["crypto"]["kdfparams"]["c"], 2);
        assert_eq!(doc["crypto"]["kdfparams"]["dklen"], 32);
        assert_eq!(doc["crypto"]["kdfparams"]["prf"], "hmac-sha256");
        let salt = doc["crypto"]["kdfparams"]["salt"].as_str().expect("salt");
        let iv = doc["crypto"]["cipherparams"]["iv"].as_str().expect("iv");
        assert_eq!((salt.len(), iv.len()), (64, 32));
        // Fresh randomness each time.
        let other = keystore();
        assert_ne!(
            doc["crypto"]["kdfparams"]["salt"],
            other["crypto"]["kdfparams"]["salt"]
        );
        assert_ne!(doc["id"], other["id"]);
    }

    #[test]
    fn written_scrypt_params_are_geth_names() {
        let json = encrypt_keystore(
            &KEY,
            PASSWORD,
            Kdf::Scrypt {
                log_n: 2,
                r: 1,
                p: 1,
            },
        )
        .expect("encrypts");
        let doc: Value = serde_json::from_str(&json).expect("json");
        let params = &doc["crypto"]["kdfparams"];
        assert_eq!(
            (&params["n"], &params["r"], &params["p"]),
            (&json!(4), &json!(1), &json!(1))
        );
        assert_eq!(open(&doc), Ok(want_address()));
    }

    #[test]
    fn uuid_is_version_4_variant_10() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let doc = keystore();
        let id = doc["id"].as_str().expect("id");
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(id.as_bytes()[14], b'4', "{id}");
        assert!(
            matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
    }

    #[test]
    fn field_name_variants_real_files_use() {
        let doc = keystore();
        let with_0x = |doc: &Value, path: &str| {
            let v = doc
                .pointer(&format!("/{path}"))
                .and_then(Value::as_str)
                .expect("str");
            edit(
                doc,
                path,
                Some(json!(format!("0x{}", v.to_ascii_uppercase()))),
            )
        };
        let mut prefixed = doc.clone();
        for path in [
            "crypto/cipherparams/iv",
            "crypto/ciphertext",
            "crypto/mac",
            "crypto/kdfparams/salt",
            "address",
        ] {
            prefixed = with_0x(&prefixed, path);
        }
        assert_eq!(open(&prefixed), Ok(want_address()));

        let old_geth = edit(
            &edit(&doc, "crypto", None),
            "Crypto",
            Some(doc["crypto"].clone()),
        );
        assert_eq!(open(&old_geth), Ok(want_address()));
        let both = edit(&doc, "Crypto", Some(doc["crypto"].clone()));
        assert!(matches!(
            open(&both),
            Err(KeystoreError::BadField {
                field: "crypto",
                ..
            })
        ));

        // No address field, extra unknown fields: both fine.
        let extra = edit(
            &edit(&doc, "address", None),
            "x-ethers",
            Some(json!({"a": 1})),
        );
        assert_eq!(open(&extra), Ok(want_address()));
        assert_eq!(
            open(&edit(&doc, "version", Some(json!("3")))),
            Ok(want_address())
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let doc = keystore();
        for (path, field) in [
            ("version", "version"),
            ("crypto", "crypto"),
            ("crypto/cipher", "crypto.cipher"),
            ("crypto/cipherparams", "crypto.cipherparams"),
            ("crypto/cipherparams/iv", "crypto.cipherparams.iv"),
            ("crypto/ciphertext", "crypto.ciphertext"),
            ("crypto/mac", "crypto.mac"),
            ("crypto/kdf", "crypto.kdf"),
            ("crypto/kdfparams", "crypto.kdfparams"),
            ("crypto/kdfparams/c", "crypto.kdfparams.c"),
            ("crypto/kdfparams/prf", "crypto.kdfparams.prf"),
            ("crypto/kdfparams/dklen", "crypto.kdfparams.dklen"),
            ("crypto/kdfparams/salt", "crypto.kdfparams.salt"),
        ] {
            assert_eq!(
                open(&edit(&doc, path, None)),
                Err(KeystoreError::MissingField { field }),
                "{path}"
            );
        }
        let scrypt: Value = serde_json::from_str(
            &encrypt_keystore(
                &KEY,
                PASSWORD,
                Kdf::Scrypt {
                    log_n: 1,
                    r: 1,
                    p: 1,
                },
            )
            .expect("encrypts"),
        )
        .expect("json");
        for (path, field) in [
            ("crypto/kdfparams/n", "crypto.kdfparams.n"),
            ("crypto/kdfparams/r", "crypto.kdfparams.r"),
            ("crypto/kdfparams/p", "crypto.kdfparams.p"),
        ] {
            assert_eq!(
                open(&edit(&scrypt, path, None)),
                Err(KeystoreError::MissingField { field }),
                "{path}"
            );
        }
    }

    #[test]
    fn mistyped_fields_are_named_without_their_value() {
        let doc = keystore();
        let secret_looking = "deadbeefcafe0123";
        for (path, value, field) in [
            ("version", json!(3.5), "version"),
            ("version", json!("three"), "version"),
            ("crypto", json!(secret_looking), "crypto"),
            ("crypto/cipher", json!(128), "crypto.cipher"),
            ("crypto/cipherparams", json!([1]), "crypto.cipherparams"),
            (
                "crypto/cipherparams/iv",
                json!(format!("{secret_looking}zz")),
                "crypto.cipherparams.iv",
            ),
            (
                "crypto/ciphertext",
                json!(format!("{secret_looking}0")),
                "crypto.ciphertext",
            ),
            ("crypto/mac", json!(secret_looking), "crypto.mac"),
            (
                "crypto/mac",
                json!(format!("0x{secret_looking}g")),
                "crypto.mac",
            ),
            ("crypto/kdf", json!(null), "crypto.kdf"),
            ("crypto/kdfparams/c", json!(-1), "crypto.kdfparams.c"),
            ("crypto/kdfparams/c", json!("2"), "crypto.kdfparams.c"),
            (
                "crypto/kdfparams/dklen",
                json!(32.0),
                "crypto.kdfparams.dklen",
            ),
            ("crypto/kdfparams/salt", json!(7), "crypto.kdfparams.salt"),
            ("address", json!(secret_looking), "address"),
            (
                "address",
                json!(format!("0x{}", "ab".repeat(21))),
                "address",
            ),
        ] {
            let got = open(&edit(&doc, path, Some(value)));
            assert!(
                matches!(got, Err(KeystoreError::BadField { field: f, .. }) if f == field),
                "{path}: {got:?}"
            );
            let e = got.unwrap_err();
            let text = format!("{e} {e:?}");
            assert!(!text.contains("deadbeef"), "{text}");
        }
        assert!(matches!(
            decrypt_json(b"[1, 2]", PASSWORD).map(|s| s.address()),
            Err(KeystoreError::BadField {
                field: "(top level)",
                ..
            })
        ));
    }

    #[test]
    fn unsupported_names_are_named_only_when_short_identifiers() {
        let doc = keystore();
        assert_eq!(
            open(&edit(&doc, "version", Some(json!(1)))),
            Err(KeystoreError::UnsupportedVersion { version: 1 })
        );
        assert_eq!(
            open(&edit(&doc, "crypto/cipher", Some(json!("aes-256-gcm")))),
            Err(KeystoreError::UnsupportedCipher {
                name: Some("aes-256-gcm".to_owned())
            })
        );
        assert_eq!(
            open(&edit(
                &doc,
                "crypto/kdfparams/prf",
                Some(json!("hmac-sha512"))
            )),
            Err(KeystoreError::UnsupportedPrf {
                name: Some("hmac-sha512".to_owned())
            })
        );
        let at_limit = "a".repeat(NAME_MAX_CHARS);
        assert_eq!(short_name(&at_limit), Some(at_limit.clone()));
        for odd in [
            String::new(),
            "a".repeat(NAME_MAX_CHARS + 1),
            "argon2\nx".to_owned(),
            "scrypt ".to_owned(),
            "pässwörd".to_owned(),
            "\"quoted\"".to_owned(),
        ] {
            let got = open(&edit(&doc, "crypto/kdf", Some(json!(odd))));
            assert_eq!(
                got,
                Err(KeystoreError::UnsupportedKdf { name: None }),
                "{odd:?}"
            );
            let text = got.unwrap_err().to_string();
            assert!(text.contains("not shown"), "{text}");
        }
        assert!(
            KeystoreError::UnsupportedKdf {
                name: Some("argon2".to_owned())
            }
            .to_string()
            .contains("`argon2`")
        );
    }

    #[test]
    fn kdf_limits_at_their_edges() {
        use ParamError as P;
        let cases: [(u64, u64, u64, Result<(), ParamError>); 16] = [
            (0, 8, 1, Err(P::ScryptN)),
            (1, 8, 1, Err(P::ScryptN)),
            (2, 8, 1, Ok(())),
            (3, 8, 1, Err(P::ScryptN)),
            (6, 8, 1, Err(P::ScryptN)),
            (1 << 63, 1, 1, Err(P::ScryptMemory)),
            (u64::MAX, 1, 1, Err(P::ScryptN)),
            (1024, 0, 1, Err(P::ScryptRpZero)),
            (1024, 1, 0, Err(P::ScryptRpZero)),
            (2, 1 << 15, 1 << 15, Err(P::ScryptRpTooLarge)),
            (2, u64::MAX, u64::MAX, Err(P::ScryptRpTooLarge)),
            // The table at exactly 1 GiB is allowed, twice that is not.
            (1 << 20, 8, 1, Ok(())),
            (1 << 21, 8, 1, Err(P::ScryptMemory)),
            // The block buffer 128·r·p is held to the same cap.
            (2, 1, (1 << 23) + 1, Err(P::ScryptMemory)),
            // Work n·r·p at 2^28 is allowed, one more p is not.
            (1 << 20, 8, 32, Ok(())),
            (1 << 20, 8, 33, Err(P::ScryptWork)),
        ];
        for (n, r, p, want) in cases {
            assert_eq!(scrypt_kdf(n, r, p).map(|_| ()), want, "n={n} r={r} p={p}");
        }
        assert_eq!(pbkdf2_kdf(0), Err(P::Pbkdf2RoundsZero));
        assert_eq!(pbkdf2_kdf(1), Ok(Kdf::Pbkdf2 { rounds: 1 }));
        assert_eq!(
            pbkdf2_kdf(100_000_000),
            Ok(Kdf::Pbkdf2 {
                rounds: 100_000_000
            })
        );
        assert_eq!(
            pbkdf2_kdf(u64::MAX),
            Err(P::Pbkdf2RoundsTooMany { rounds: u64::MAX })
        );
        assert_eq!(
            scrypt_kdf(1 << 18, 8, 1),
            Ok(Kdf::STANDARD),
            "geth standard"
        );
        assert_eq!(scrypt_kdf(1 << 12, 8, 6), Ok(Kdf::LIGHT), "geth light");
        for kdf in [Kdf::STANDARD, Kdf::LIGHT, Kdf::PBKDF2_DEFAULT] {
            assert_eq!(kdf.validate(), Ok(()), "{kdf:?}");
        }
        for (log_n, want) in [
            (0, P::ScryptN),
            (64, P::ScryptN),
            (255, P::ScryptN),
            (24, P::ScryptMemory),
        ] {
            assert_eq!(
                Kdf::Scrypt { log_n, r: 8, p: 1 }.validate(),
                Err(want),
                "{log_n}"
            );
        }
        assert_eq!(
            Kdf::Pbkdf2 {
                rounds: 100_000_001
            }
            .validate(),
            Err(P::Pbkdf2RoundsTooMany {
                rounds: 100_000_001
            })
        );
    }

    #[test]
    fn refused_params_in_a_file_stop_before_the_kdf() {
        let doc = keystore();
        // A wrong password as well: getting the parameter error, not the mac error, shows the
        // check ran before any key was derived.
        let open_wrong =
            |d: &Value| decrypt_json(d.to_string().as_bytes(), b"wrong").map(|s| s.address());
        for (path, value, want) in [
            ("crypto/kdfparams/c", json!(0), ParamError::Pbkdf2RoundsZero),
            (
                "crypto/kdfparams/c",
                json!(u64::MAX),
                ParamError::Pbkdf2RoundsTooMany { rounds: u64::MAX },
            ),
            (
                "crypto/kdfparams/dklen",
                json!(64),
                ParamError::Dklen { dklen: 64 },
            ),
            (
                "crypto/kdfparams/dklen",
                json!(16),
                ParamError::Dklen { dklen: 16 },
            ),
            ("crypto/kdfparams/salt", json!(""), ParamError::SaltEmpty),
            ("crypto/kdfparams/salt", json!("0x"), ParamError::SaltEmpty),
            (
                "crypto/cipherparams/iv",
                json!("00".repeat(15)),
                ParamError::IvLength { bytes: 15 },
            ),
            (
                "crypto/cipherparams/iv",
                json!("00".repeat(32)),
                ParamError::IvLength { bytes: 32 },
            ),
        ] {
            assert_eq!(
                open_wrong(&edit(&doc, path, Some(value))),
                Err(want.into()),
                "{path}"
            );
        }
        let scrypt = edit(
            &edit(&doc, "crypto/kdf", Some(json!("scrypt"))),
            "crypto/kdfparams",
            Some(json!({"dklen": 32, "n": 1u64 << 40, "r": 8, "p": 1, "salt": "00"})),
        );
        assert_eq!(open_wrong(&scrypt), Err(ParamError::ScryptMemory.into()));
    }

    #[test]
    fn every_error_displays_lowercase_without_a_final_period() {
        let errors = [
            KeystoreError::FileUnreadable {
                path: "/k".into(),
                kind: io::ErrorKind::NotFound,
            },
            KeystoreError::FileTooLarge { path: "/k".into() },
            KeystoreError::NotJson { line: 1, column: 2 },
            KeystoreError::MissingField { field: "crypto" },
            KeystoreError::BadField {
                field: "crypto.mac",
                want: "32 bytes of hex",
            },
            KeystoreError::UnsupportedVersion { version: 2 },
            KeystoreError::UnsupportedCipher {
                name: Some("aes-128-cbc".to_owned()),
            },
            KeystoreError::UnsupportedKdf { name: None },
            KeystoreError::UnsupportedPrf {
                name: Some("hmac-sha512".to_owned()),
            },
            KeystoreError::ParamRefused(ParamError::ScryptN),
            KeystoreError::ParamRefused(ParamError::ScryptRpZero),
            KeystoreError::ParamRefused(ParamError::ScryptRpTooLarge),
            KeystoreError::ParamRefused(ParamError::ScryptMemory),
            KeystoreError::ParamRefused(ParamError::ScryptWork),
            KeystoreError::ParamRefused(ParamError::Pbkdf2RoundsZero),
            KeystoreError::ParamRefused(ParamError::Pbkdf2RoundsTooMany { rounds: 7 }),
            KeystoreError::ParamRefused(ParamError::Dklen { dklen: 7 }),
            KeystoreError::ParamRefused(ParamError::SaltEmpty),
            KeystoreError::ParamRefused(ParamError::IvLength { bytes: 7 }),
            KeystoreError::WrongPassword,
            KeystoreError::WrongKeyLength { bytes: 31 },
            KeystoreError::InvalidKey,
            KeystoreError::AddressMismatch {
                field: Address::ZERO,
                key: Address::ZERO,
            },
            KeystoreError::RandomUnavailable,
            KeystoreError::FileExists { path: "/k".into() },
            KeystoreError::FileUnwritable {
                path: "/k".into(),
                kind: io::ErrorKind::PermissionDenied,
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
