//! Keys an operator can trust: `polyarb keys new|import|address`, and loading the signing key
//! for a run from a keystore, a private key file or an environment variable.
//!
//! Passwords come from a file (`--password-file`, `signer.password_file`) or from a prompt on
//! the terminal, never from an argument (arguments show in `ps` and shell history). A password
//! file, like a key file, must be private to its owner. Every copy of a password or a raw key
//! made here is zeroed when dropped.

use std::{
    fmt,
    io::{self, Read},
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use polyarb_signer::{
    KEY_FILE_MAX_BYTES, Kdf, KeyError, KeystoreError, PrivateFileError, Signer, decode_key_hex,
    read_private_file, write_keystore,
};
use zeroize::Zeroizing;

use crate::config::SignerConfig;

/// Largest password file read, bytes.
pub const PASSWORD_FILE_MAX_BYTES: usize = 4096;

/// Where a password comes from.
#[derive(Clone, Copy, Debug)]
pub enum PasswordSource<'a> {
    /// The file's content without its final line ending.
    File(&'a Path),
    /// Asked on the terminal (twice when a new keystore is written).
    Prompt,
}

/// Why a `keys` command or loading a key failed. No variant holds a key or a password.
#[derive(Debug)]
pub enum KeysError {
    /// The keystore could not be read, decrypted or written.
    Keystore {
        /// The keystore.
        path: PathBuf,
        /// Why.
        error: KeystoreError,
    },
    /// The raw key given to `keys import` is not a key.
    Key(KeyError),
    /// The password file could not be read.
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: io::ErrorKind,
    },
    /// The password file may be read by its group or others.
    PasswordFileOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The password file is longer than [`PASSWORD_FILE_MAX_BYTES`].
    PasswordFileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// No password file was given and there is no terminal to ask on.
    NoTerminal,
    /// The password is empty (refused for a new keystore).
    EmptyPassword,
    /// The two passwords typed for a new keystore differ.
    PasswordsDiffer,
    /// Standard input could not be read (for `keys import`).
    Stdin(io::ErrorKind),
    /// The OS random source failed (for `keys new`).
    Entropy,
}

impl fmt::Display for KeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keystore { path, error } => write!(f, "keystore {}: {error}", path.display()),
            Self::Key(e) => write!(f, "key from standard input: {e}"),
            Self::PasswordFile { path, kind } => {
                write!(f, "password file {} unreadable: {kind}", path.display())
            }
            Self::PasswordFileOpen { path, mode } => write!(
                f,
                "password file {} can be read by its group or others (mode {mode:04o}); \
                 make it private with `chmod 600 {}`",
                path.display(),
                path.display()
            ),
            Self::PasswordFileTooLarge { path } => write!(
                f,
                "password file {} is larger than {PASSWORD_FILE_MAX_BYTES} bytes",
                path.display()
            ),
            Self::NoTerminal => f.write_str(
                "no password file given and no terminal to ask on (use --password-file or \
                 signer.password_file)",
            ),
            Self::EmptyPassword => f.write_str("the password is empty"),
            Self::PasswordsDiffer => f.write_str("the two passwords differ"),
            Self::Stdin(kind) => write!(f, "standard input unreadable: {kind}"),
            Self::Entropy => f.write_str("the os random source failed"),
        }
    }
}

impl std::error::Error for KeysError {}

/// Reads a password file: private to its owner, at most [`PASSWORD_FILE_MAX_BYTES`], its
/// content without one final `\n` or `\r\n` (as `echo secret > file` leaves it).
pub fn read_password_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let mut buf = read_private_file(path, PASSWORD_FILE_MAX_BYTES).map_err(|e| match e {
        PrivateFileError::Unreadable(kind) => KeysError::PasswordFile {
            path: path.to_owned(),
            kind,
        },
        PrivateFileError::OpenToOthers { mode } => KeysError::PasswordFileOpen {
            path: path.to_owned(),
            mode,
        },
        PrivateFileError::TooLarge => KeysError::PasswordFileTooLarge {
            path: path.to_owned(),
        },
    })?;
    if buf.ends_with(b"\n") {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    Ok(buf)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_capped(mut from: impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..) {
        if rest.is_empty() {
            break;
        }
        match from.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// The password from `source`; a prompt asks twice when `confirm` (a new keystore).
pub fn password(
    source: PasswordSource<'_>,
    confirm: bool,
) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    match source {
        PasswordSource::File(path) => read_password_file(path),
        PasswordSource::Prompt => {
            let ask = |prompt: &str| {
                rpassword::prompt_password(prompt)
                    .map(|p| Zeroizing::new(p.into_bytes()))
                    .map_err(|_| KeysError::NoTerminal)
            };
            let first = ask("keystore password: ")?;
            if confirm && *ask("again: ")? != *first {
                return Err(KeysError::PasswordsDiffer);
            }
            Ok(first)
        }
    }
}

/// `polyarb keys new FILE`: a fresh random key in a new keystore at `file`; returns its
/// address. Never overwrites.
pub fn keys_new(file: &Path, password: &[u8], kdf: Kdf) -> Result<Address, KeysError> {
    let key = loop {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(|_| KeysError::Entropy)?;
        // Redraw the 2^-128 chance of a zero or out-of-range scalar.
        if Signer::from_bytes(&key).is_ok() {
            break key;
        }
    };
    store(file, &key, password, kdf)
}

/// `polyarb keys import FILE`: the raw key read from `input` (hex, 64 digits, 0x optional)
/// into a new keystore at `file`; returns its address. Never overwrites.
pub fn keys_import(
    file: &Path,
    input: impl Read,
    password: &[u8],
    kdf: Kdf,
) -> Result<Address, KeysError> {
    let mut buf = Zeroizing::new([0u8; KEY_FILE_MAX_BYTES + 1]);
    let len = read_capped(input.take(buf.len() as u64), &mut buf[..])
        .map_err(|e| KeysError::Stdin(e.kind()))?;
    if len > KEY_FILE_MAX_BYTES {
        return Err(KeysError::Key(KeyError::WrongLength { hex_digits: len }));
    }
    let key = decode_key_hex(buf.get(..len).unwrap_or_default()).map_err(KeysError::Key)?;
    Signer::from_bytes(&key).map_err(KeysError::Key)?;
    store(file, &key, password, kdf)
}

fn store(file: &Path, key: &[u8; 32], password: &[u8], kdf: Kdf) -> Result<Address, KeysError> {
    if password.is_empty() {
        return Err(KeysError::EmptyPassword);
    }
    write_keystore(file, key, password, kdf).map_err(|error| KeysError::Keystore {
        path: file.to_owned(),
        error,
    })
}

/// `polyarb keys address FILE`: decrypts the keystore (so the password is checked too) and
/// returns the address it signs for.
pub fn keys_address(file: &Path, password: &[u8]) -> Result<Address, KeysError> {
    Signer::from_keystore(file, password)
        .map(|s| s.address())
        .map_err(|error| KeysError::Keystore {
            path: file.to_owned(),
            error,
        })
}

/// Where a run's signing key came from, for error messages.
pub(crate) const FROM_KEYSTORE: &str = "signer.keystore";

/// Every sending account of a run, in account order: `[signer]`'s own key
/// ([`load_signer`]), then each `[[signer.senders]]`. The same account twice is refused (two
/// nonce sequences for one account would collide).
pub(crate) fn load_signers(cfg: &SignerConfig) -> Result<Vec<Signer>, super::AppError> {
    use super::AppError;
    let mut signers = vec![load_signer(cfg)?];
    for (k, s) in cfg.senders.iter().enumerate() {
        let signer = if let Some(path) = &s.keystore {
            let source = match &s.password_file {
                Some(p) => PasswordSource::File(p),
                None => PasswordSource::Prompt,
            };
            let password = password(source, false).map_err(AppError::Keys)?;
            Signer::from_keystore(path, &password).map_err(|error| {
                AppError::Keys(KeysError::Keystore {
                    path: path.clone(),
                    error,
                })
            })?
        } else if let Some(path) = &s.key_file {
            Signer::from_file(path).map_err(|error| AppError::Key {
                from: "signer.senders key_file",
                error,
            })?
        } else {
            let name = s.key_env.as_deref().unwrap_or_default();
            Signer::from_env(name).map_err(|error| AppError::Key {
                from: "signer.senders key_env",
                error,
            })?
        };
        if let Some(first) = signers.iter().position(|o| o.address() == signer.address()) {
            return Err(AppError::Config(crate::config::ConfigError::Invalid {
                key: "signer.senders",
                reason: format!(
                    "sender {} is account {} ({}) again",
                    k + 1,
                    first,
                    signer.address()
                ),
            }));
        }
        signers.push(signer);
    }
    Ok(signers)
}

/// The run's signing key: from `signer.keystore` (password from `signer.password_file`, or
/// asked on the terminal), else `signer.key_file`, else the variable `signer.key_env`.
pub(crate) fn load_signer(cfg: &SignerConfig) -> Result<Signer, super::AppError> {
    use super::AppError;
    if let Some(path) = &cfg.keystore {
        let source = match &cfg.password_file {
            Some(p) => PasswordSource::File(p),
            None => PasswordSource::Prompt,
        };
        let password = password(source, false).map_err(AppError::Keys)?;
        return Signer::from_keystore(path, &password).map_err(|error| {
            AppError::Keys(KeysError::Keystore {
                path: path.clone(),
                error,
            })
        });
    }
    match &cfg.key_file {
        Some(path) => Signer::from_file(path).map_err(|error| AppError::Key {
            from: "signer.key_file",
            error,
        }),
        None => Signer::from_env(&cfg.key_env).map_err(|error| AppError::Key {
            from: "signer.key_env",
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("polyarb-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[cfg(unix)]
    fn write_private(path: &Path, bytes: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, bytes).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    #[cfg(unix)]
    #[test]
    fn password_files_lose_one_line_ending_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("pw");
        let p = dir.join("pw");
        for (text, want) in [
            (&b"secret\n"[..], &b"secret"[..]),
            (b"secret\r\n", b"secret"),
            (b"secret", b"secret"),
            (b" two words \n\n", b" two words \n"),
            (b"\n", b""),
        ] {
            write_private(&p, text);
            assert_eq!(read_password_file(&p).expect("reads").as_slice(), want);
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let e = read_password_file(&p).expect_err("group-readable");
        assert!(
            matches!(e, KeysError::PasswordFileOpen { mode: 0o640, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
        write_private(&p, &vec![b'x'; PASSWORD_FILE_MAX_BYTES + 1]);
        assert!(matches!(
            read_password_file(&p),
            Err(KeysError::PasswordFileTooLarge { .. })
        ));
        assert!(matches!(
            read_password_file(&dir.join("missing")),
            Err(KeysError::PasswordFile {
                kind: io::ErrorKind::NotFound,
                ..
            })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn import_then_address_gives_the_keys_address_and_refuses_bad_input() {
        let dir = scratch("import");
        let file = dir.join("ks.json");
        // The web3.js documentation's example key and its published address.
        let key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let want = alloy_primitives::address!("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
        let got = keys_import(&file, format!("0x{key}\n").as_bytes(), b"pw", Kdf::LIGHT)
            .expect("imports");
        assert_eq!(got, want);
        assert_eq!(keys_address(&file, b"pw").expect("opens"), want);
        assert!(matches!(
            keys_address(&file, b"wrong"),
            Err(KeysError::Keystore {
                error: KeystoreError::WrongPassword,
                ..
            })
        ));
        // Never overwrites, whatever the key.
        assert!(matches!(
            keys_import(&file, key.as_bytes(), b"pw", Kdf::LIGHT),
            Err(KeysError::Keystore { .. })
        ));
        let other = dir.join("other.json");
        for (input, what) in [
            (&key.as_bytes()[..63], "short"),
            (&b"zz"[..], "not hex"),
            (&[b'0'; 64][..], "zero"),
        ] {
            let e = keys_import(&other, input, b"pw", Kdf::LIGHT).expect_err(what);
            assert!(matches!(e, KeysError::Key(_)), "{what}: {e}");
            assert!(!e.to_string().contains(&key[..8]), "{e}");
        }
        assert!(matches!(
            keys_import(&other, key.as_bytes(), b"", Kdf::LIGHT),
            Err(KeysError::EmptyPassword)
        ));
        assert!(!other.exists(), "nothing written for refused input");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn new_keys_are_fresh_and_open_with_their_password() {
        let dir = scratch("new");
        let a = keys_new(&dir.join("a.json"), b"pw", Kdf::LIGHT).expect("new");
        let b = keys_new(&dir.join("b.json"), b"pw", Kdf::LIGHT).expect("new");
        assert_ne!(a, b);
        assert_eq!(keys_address(&dir.join("a.json"), b"pw").expect("opens"), a);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
