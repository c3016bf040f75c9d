//! Web3 Secret Storage v3 keystores against independent oracles: the two published test
//! vectors (geth-made), Foundry's `cast` (both directions), alloy's `eth-keystore` decoder, and
//! geth's own mac-correct odd-length files; then bad input of every kind, checked for the right
//! error and for errors that hold no key or password.

use std::path::{Path, PathBuf};
use std::process::Command;

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy_primitives::{Address, hex, keccak256};
use alloy_signer_local::PrivateKeySigner;
use polyarb_signer::{
    KEYSTORE_FILE_MAX_BYTES, Kdf, KeystoreError, ParamError, Signer, encrypt_keystore,
    keystore_address, write_keystore,
};
use serde_json::{Value, json};

/// The key and password of the Web3 Secret Storage Definition's test vectors.
const VECTOR_KEY_HEX: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const VECTOR_PASSWORD: &[u8] = b"testpassword";

/// The key our own files hold, and their password (non-ASCII on purpose: tools must agree that
/// the password is its UTF-8 bytes).
const KEY_HEX: &str = "0f3c57a1b6f4d0e2a9c8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6";
const PASSWORD: &str = "pässwörd 7 Zebras";
const WRONG_PASSWORD: &str = "Tr0ub4dor&3-wrong";

/// A cheap pbkdf2 for the files these tests write; the kdf cost is not what they test.
const FAST_PBKDF2: Kdf = Kdf::Pbkdf2 { rounds: 1_000 };

fn key() -> [u8; 32] {
    let mut k = [0u8; 32];
    hex::decode_to_slice(KEY_HEX, &mut k).expect("hex");
    k
}

fn key_address() -> Address {
    Signer::from_hex(KEY_HEX).expect("valid").address()
}

/// A fresh, empty scratch directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("signer-keystore")
        .join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("clearing {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

/// Neither password nor any 8 consecutive digits of either key in `Display` or `Debug`.
fn assert_clean(e: &KeystoreError) {
    let text = format!("{e} | {e:?} | {e:#?}");
    let lower = text.to_ascii_lowercase();
    for password in [PASSWORD, WRONG_PASSWORD, "testpassword"] {
        assert!(!text.contains(password), "password in {text:?}");
    }
    for key in [KEY_HEX, VECTOR_KEY_HEX] {
        for window in key.as_bytes().windows(8) {
            let w = std::str::from_utf8(window).expect("ascii");
            assert!(!lower.contains(w), "key digits {w} in {text:?}");
        }
    }
}

fn open(path: &Path, password: &str) -> Result<Address, KeystoreError> {
    let got = Signer::from_keystore(path, password.as_bytes()).map(|s| s.address());
    if let Err(e) = &got {
        assert_clean(e);
    }
    got
}

// ---- 1. The published vectors (files made by geth's implementation) ----

#[test]
fn published_vectors_open_to_the_published_key() {
    let want = Signer::from_hex(VECTOR_KEY_HEX).expect("valid").address();
    for name in ["keystore-v3-pbkdf2.json", "keystore-v3-scrypt.json"] {
        let path = vector(name);
        assert_eq!(
            Signer::from_keystore(&path, VECTOR_PASSWORD).map(|s| s.address()),
            Ok(want),
            "{name}"
        );
        // The vectors have no `address` field.
        assert_eq!(keystore_address(&path), Ok(None), "{name}");
    }
}

/// geth's own test files (go-ethereum `accounts/keystore/testdata/v3_test_vector.json`,
/// `31_byte_key` and `30_byte_key`): the mac is right, the key is short. geth left-pads such
/// keys; we refuse them, after the mac check, which shows our mac agrees with geth's on them.
#[test]
fn geth_short_key_files_pass_the_mac_and_are_refused_by_length() {
    let files = [
        (
            31,
            json!({"crypto": {"cipher": "aes-128-ctr",
                "cipherparams": {"iv": "e0c41130a323adc1446fc82f724bca2f"},
                "ciphertext": "9517cd5bdbe69076f9bf5057248c6c050141e970efa36ce53692d5d59a3984",
                "kdf": "scrypt",
                "kdfparams": {"dklen": 32, "n": 2, "r": 8, "p": 1,
                    "salt": "711f816911c92d649fb4c84b047915679933555030b3552c1212609b38208c63"},
                "mac": "d5e116151c6aa71470e67a7d42c9620c75c4d23229847dcc127794f0732b0db5"},
                "id": "fecfc4ce-e956-48fd-953b-30f8b52ed66c", "version": 3}),
        ),
        (
            30,
            json!({"crypto": {"cipher": "aes-128-ctr",
                "cipherparams": {"iv": "3ca92af36ad7c2cd92454c59cea5ef00"},
                "ciphertext": "108b7d34f3442fc26ab1ab90ca91476ba6bfa8c00975a49ef9051dc675aa",
                "kdf": "scrypt",
                "kdfparams": {"dklen": 32, "n": 2, "r": 8, "p": 1,
                    "salt": "d0769e608fb86cda848065642a9c6fa046845c928175662b8e356c77f914cd3b"},
                "mac": "75d0e6759f7b3cefa319c3be41680ab6beea7d8328653474bd06706d4cc67420"},
                "id": "a37e1559-5955-450d-8075-7b8931b392b2", "version": 3}),
        ),
    ];
    let dir = scratch_dir("geth-short");
    for (bytes, doc) in files {
        let path = dir.join(format!("{bytes}.json"));
        std::fs::write(&path, doc.to_string()).expect("write");
        assert_eq!(
            open(&path, "foo"),
            Err(KeystoreError::WrongKeyLength { bytes })
        );
        assert_eq!(open(&path, "fop"), Err(KeystoreError::WrongPassword));
    }
}

// ---- 2. Foundry's cast, both directions ----

fn cast_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/toolchain/node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    assert!(
        path.is_file(),
        "cast not found at {}: run tools/toolchain/install.sh (it installs the pinned \
         @foundry-rs/cast-linux-amd64 from tools/toolchain/package-lock.json)",
        path.display()
    );
    path
}

/// Runs cast with a clean environment (no ETH_KEYSTORE/ETH_PASSWORD/CAST_PASSWORD from the
/// caller, HOME in the scratch dir so ~/.foundry is never touched) and returns its stdout.
fn cast(home: &Path, args: &[&str]) -> String {
    let out = Command::new(cast_path())
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("cast runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cast {args:?} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn cast_made_keystores_open_here() {
    let dir = scratch_dir("cast-made");
    let dir_s = dir.to_str().expect("utf-8 path");

    // A fresh random key made by cast: we must find the address cast printed.
    let out = cast(
        &dir,
        &[
            "wallet",
            "new",
            dir_s,
            "--unsafe-password",
            PASSWORD,
            "--json",
        ],
    );
    let made: Value = serde_json::from_str(&out).expect("cast --json output");
    let made = &made[0];
    let path = PathBuf::from(made["path"].as_str().expect("path"));
    let cast_address: Address = made["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("an address");
    assert_eq!(open(&path, PASSWORD), Ok(cast_address));
    assert_eq!(
        open(&path, WRONG_PASSWORD),
        Err(KeystoreError::WrongPassword)
    );
    // cast writes no `address` field.
    assert_eq!(keystore_address(&path), Ok(None));

    // A known key imported by cast: we must decrypt exactly that key.
    let key_arg = format!("0x{KEY_HEX}");
    cast(
        &dir,
        &[
            "wallet",
            "import",
            "imported",
            "--keystore-dir",
            dir_s,
            "--private-key",
            &key_arg,
            "--unsafe-password",
            PASSWORD,
        ],
    );
    assert_eq!(open(&dir.join("imported"), PASSWORD), Ok(key_address()));
}

#[test]
fn our_keystores_open_in_cast_to_the_same_key() {
    let dir = scratch_dir("ours-in-cast");
    let dir_s = dir.to_str().expect("utf-8 path");
    for (name, kdf) in [("light", Kdf::LIGHT), ("pbkdf2", FAST_PBKDF2)] {
        let path = dir.join(name);
        let written = write_keystore(&path, &key(), PASSWORD.as_bytes(), kdf).expect("written");
        assert_eq!(written, key_address(), "{name}");

        let out = cast(
            &dir,
            &[
                "wallet",
                "address",
                "--keystore",
                path.to_str().expect("utf-8 path"),
                "--password",
                PASSWORD,
            ],
        );
        let cast_address: Address = out.trim().parse().expect("an address");
        assert_eq!(cast_address, written, "{name}");

        // cast prints "<name>'s private key is: 0x<64 hex>".
        let out = cast(
            &dir,
            &[
                "wallet",
                "decrypt-keystore",
                name,
                "--keystore-dir",
                dir_s,
                "--unsafe-password",
                PASSWORD,
            ],
        );
        let printed = out.split_whitespace().last().expect("a key");
        assert_eq!(
            printed.trim_start_matches("0x").to_ascii_lowercase(),
            KEY_HEX,
            "{name}"
        );
    }
}

// ---- 3. A second decoder: eth-keystore, through alloy-signer-local ----

#[test]
fn our_keystores_open_in_eth_keystore() {
    let dir = scratch_dir("ours-in-eth-keystore");
    for (name, kdf) in [
        ("light", Kdf::LIGHT),
        (
            "scrypt-small",
            Kdf::Scrypt {
                log_n: 10,
                r: 8,
                p: 1,
            },
        ),
        ("pbkdf2", FAST_PBKDF2),
    ] {
        let path = dir.join(name);
        let written = write_keystore(&path, &key(), PASSWORD.as_bytes(), kdf).expect("written");
        let theirs = PrivateKeySigner::decrypt_keystore(&path, PASSWORD)
            .unwrap_or_else(|e| panic!("{name}: eth-keystore refused our file: {e}"));
        assert_eq!(theirs.address(), written, "{name}");
        assert_eq!(theirs.to_bytes().0, key(), "{name}");
        assert!(
            PrivateKeySigner::decrypt_keystore(&path, WRONG_PASSWORD).is_err(),
            "{name}"
        );
    }
}

// ---- 4. Bad input ----

/// A keystore we wrote, as JSON, and its file.
fn fast_keystore(dir: &Path, name: &str) -> (PathBuf, Value) {
    let path = dir.join(name);
    write_keystore(&path, &key(), PASSWORD.as_bytes(), FAST_PBKDF2).expect("written");
    let doc = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    (path, doc)
}

/// Writes `doc` to a new file in `dir` and opens it with [`PASSWORD`].
fn open_doc(dir: &Path, name: &str, doc: &Value) -> Result<Address, KeystoreError> {
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).expect("write");
    open(&path, PASSWORD)
}

/// `doc` with the string at the JSON pointer `at` replaced by `f` of it.
fn with(doc: &Value, at: &str, f: impl FnOnce(&str) -> Value) -> Value {
    let mut doc = doc.clone();
    let slot = doc.pointer_mut(at).expect("field exists");
    *slot = f(slot.as_str().expect("a string"));
    doc
}

/// Flips the last hex digit.
fn flip_last_digit(s: &str) -> Value {
    let (head, last) = s.split_at(s.len() - 1);
    let flipped = if last == "0" { "1" } else { "0" };
    json!(format!("{head}{flipped}"))
}

#[test]
fn wrong_password_is_named_and_leaks_nothing() {
    let dir = scratch_dir("wrong-password");
    let (path, _) = fast_keystore(&dir, "k");
    assert_eq!(
        open(&path, WRONG_PASSWORD),
        Err(KeystoreError::WrongPassword)
    );
    assert_eq!(open(&path, ""), Err(KeystoreError::WrongPassword));
    assert_eq!(open(&path, PASSWORD), Ok(key_address()));
    let text = KeystoreError::WrongPassword.to_string();
    assert!(text.contains("password"), "{text}");
}

#[test]
fn every_truncation_is_an_error_and_none_panics() {
    let dir = scratch_dir("truncated");
    let (path, _) = fast_keystore(&dir, "whole");
    let whole = std::fs::read(&path).expect("read");
    assert_eq!(open(&path, PASSWORD), Ok(key_address()));
    let cut = dir.join("cut");
    for len in 0..whole.len() {
        std::fs::write(&cut, &whole[..len]).expect("write");
        let got = open(&cut, PASSWORD);
        assert!(
            matches!(got, Err(KeystoreError::NotJson { .. })),
            "prefix of {len} bytes: {got:?}"
        );
    }
}

#[test]
fn corrupt_hex_fields() {
    let dir = scratch_dir("corrupt");
    let (_, doc) = fast_keystore(&dir, "k");
    assert_eq!(open_doc(&dir, "control", &doc), Ok(key_address()));

    let not_hex = |s: &str| json!(format!("{}g", &s[..s.len() - 1]));
    for (at, field) in [
        ("/crypto/mac", "crypto.mac"),
        ("/crypto/ciphertext", "crypto.ciphertext"),
        ("/crypto/cipherparams/iv", "crypto.cipherparams.iv"),
        ("/crypto/kdfparams/salt", "crypto.kdfparams.salt"),
    ] {
        let got = open_doc(&dir, "not-hex", &with(&doc, at, not_hex));
        assert!(
            matches!(got, Err(KeystoreError::BadField { field: f, .. }) if f == field),
            "{at}: {got:?}"
        );
    }
    // Valid hex, wrong content: the mac covers the ciphertext and (through the kdf) the salt.
    for at in [
        "/crypto/mac",
        "/crypto/ciphertext",
        "/crypto/kdfparams/salt",
    ] {
        assert_eq!(
            open_doc(&dir, "flipped", &with(&doc, at, flip_last_digit)),
            Err(KeystoreError::WrongPassword),
            "{at}"
        );
    }
    // The format's mac does not cover the IV: a damaged IV decrypts to another key. Only the
    // `address` field catches it.
    let bad_iv = with(&doc, "/crypto/cipherparams/iv", flip_last_digit);
    assert!(matches!(
        open_doc(&dir, "iv", &bad_iv),
        Err(KeystoreError::AddressMismatch { field, key }) if field == key_address() && key != field
    ));
    let mut no_address = bad_iv.clone();
    no_address
        .as_object_mut()
        .expect("object")
        .remove("address");
    let other = open_doc(&dir, "iv-no-address", &no_address).expect("opens to some key");
    assert_ne!(other, key_address());
    // An edited address field is refused too.
    let moved = with(&doc, "/address", |_| json!("00".repeat(20)));
    assert_eq!(
        open_doc(&dir, "address", &moved),
        Err(KeystoreError::AddressMismatch {
            field: Address::ZERO,
            key: key_address()
        })
    );
}

#[test]
fn unsupported_formats_are_named() {
    let dir = scratch_dir("unsupported");
    let (_, doc) = fast_keystore(&dir, "k");
    let cases = [
        (
            with(&doc, "/crypto/kdf", |_| json!("argon2")),
            KeystoreError::UnsupportedKdf {
                name: Some("argon2".to_owned()),
            },
        ),
        (
            with(&doc, "/crypto/cipher", |_| json!("aes-128-cbc")),
            KeystoreError::UnsupportedCipher {
                name: Some("aes-128-cbc".to_owned()),
            },
        ),
        (
            {
                let mut d = doc.clone();
                d["version"] = json!(2);
                d
            },
            KeystoreError::UnsupportedVersion { version: 2 },
        ),
    ];
    for (bad, want) in cases {
        let got = open_doc(&dir, "bad", &bad);
        assert_eq!(got, Err(want.clone()));
        let text = want.to_string();
        let name = match &want {
            KeystoreError::UnsupportedKdf { name: Some(name) }
            | KeystoreError::UnsupportedCipher { name: Some(name) } => name.clone(),
            _ => "version 2".to_owned(),
        };
        assert!(text.contains(&name), "{text}");
    }
}

#[test]
fn scrypt_params_are_refused_before_any_work() {
    let dir = scratch_dir("scrypt-params");
    let path = dir.join("light");
    write_keystore(&path, &key(), PASSWORD.as_bytes(), Kdf::LIGHT).expect("written");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let with_n = |n: u64| {
        let mut d = doc.clone();
        d["crypto"]["kdfparams"]["n"] = json!(n);
        d
    };
    // n = 2^62 would need 2^72 bytes and n = 2^40 hours of work: returning at all shows no
    // derivation ran; so does getting this error rather than the mac error.
    for (n, want) in [
        (3, ParamError::ScryptN),
        (0, ParamError::ScryptN),
        (1, ParamError::ScryptN),
        (1 << 40, ParamError::ScryptMemory),
        (1 << 62, ParamError::ScryptMemory),
    ] {
        assert_eq!(
            open_doc(&dir, "n", &with_n(n)),
            Err(KeystoreError::ParamRefused(want)),
            "n = {n}"
        );
    }
    let mut huge_p = doc.clone();
    huge_p["crypto"]["kdfparams"]["p"] = json!(1u64 << 40);
    assert_eq!(
        open_doc(&dir, "p", &huge_p),
        Err(KeystoreError::ParamRefused(ParamError::ScryptRpTooLarge))
    );
    assert_eq!(open(&path, PASSWORD), Ok(key_address()));
}

/// A keystore built here with the primitives themselves (pbkdf2-hmac-sha256 with 1 round,
/// AES-128-CTR, keccak mac), holding any payload, so the mac is right whatever its length.
fn handmade(payload: &[u8]) -> Value {
    let salt = [0x5a; 32];
    let iv = [0xa5; 16];
    let mut dk = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), &salt, 1, &mut dk);
    let mut ciphertext = payload.to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&dk[..16], &iv)
        .expect("16-byte key and iv")
        .apply_keystream(&mut ciphertext);
    let mac = keccak256([&dk[16..], &ciphertext[..]].concat());
    json!({
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": hex::encode(iv)},
            "ciphertext": hex::encode(&ciphertext),
            "kdf": "pbkdf2",
            "kdfparams": {"c": 1, "dklen": 32, "prf": "hmac-sha256", "salt": hex::encode(salt)},
            "mac": hex::encode(mac),
        },
        "id": "00000000-0000-4000-8000-000000000000",
        "version": 3,
    })
}

/// geth's CTR counts with the whole 16-byte IV as one big-endian number (Go's `cipher.NewCTR`),
/// so the carry out of the low 64 bits must reach the high half. Built with the AES block
/// function and `u128` arithmetic, not the `ctr` crate, with IVs where a 32- or 64-bit counter
/// would wrap differently.
#[test]
fn ctr_counter_is_the_whole_128_bit_iv() {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let dir = scratch_dir("ctr-wrap");
    let salt = [0x33; 32];
    let mut dk = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), &salt, 1, &mut dk);
    let aes = aes::Aes128::new_from_slice(&dk[..16]).expect("16-byte key");
    for iv in [u128::MAX, u128::from(u64::MAX), u128::from(u32::MAX)] {
        let mut ciphertext = key();
        for (i, chunk) in ciphertext.chunks_mut(16).enumerate() {
            let counter = iv.wrapping_add(i as u128).to_be_bytes();
            let mut block = counter.into();
            aes.encrypt_block(&mut block);
            for (c, k) in chunk.iter_mut().zip(block.iter()) {
                *c ^= k;
            }
        }
        let mac = keccak256([&dk[16..], &ciphertext[..]].concat());
        let doc = json!({
            "crypto": {
                "cipher": "aes-128-ctr",
                "cipherparams": {"iv": hex::encode(iv.to_be_bytes())},
                "ciphertext": hex::encode(ciphertext),
                "kdf": "pbkdf2",
                "kdfparams": {"c": 1, "dklen": 32, "prf": "hmac-sha256", "salt": hex::encode(salt)},
                "mac": hex::encode(mac),
            },
            "id": "00000000-0000-4000-8000-000000000000",
            "version": 3,
        });
        assert_eq!(open_doc(&dir, "k", &doc), Ok(key_address()), "iv {iv:032x}");
    }
}

#[test]
fn wrong_length_and_invalid_keys_with_a_right_mac() {
    let dir = scratch_dir("handmade");
    // Control: the same builder with the real key opens, so the failures below are the payload.
    assert_eq!(open_doc(&dir, "32", &handmade(&key())), Ok(key_address()));
    for len in [0, 1, 31, 33, 64] {
        let payload = vec![0x42; len];
        assert_eq!(
            open_doc(&dir, "len", &handmade(&payload)),
            Err(KeystoreError::WrongKeyLength { bytes: len }),
            "{len}"
        );
    }
    let order = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        .expect("hex");
    for (name, payload) in [("zero", vec![0u8; 32]), ("order", order)] {
        assert_eq!(
            open_doc(&dir, name, &handmade(&payload)),
            Err(KeystoreError::InvalidKey),
            "{name}"
        );
    }
}

#[test]
fn an_invalid_key_is_never_written() {
    let dir = scratch_dir("invalid-key");
    assert_eq!(
        encrypt_keystore(&[0; 32], PASSWORD.as_bytes(), FAST_PBKDF2),
        Err(KeystoreError::InvalidKey)
    );
    let path = dir.join("zero");
    assert_eq!(
        write_keystore(&path, &[0; 32], PASSWORD.as_bytes(), FAST_PBKDF2),
        Err(KeystoreError::InvalidKey)
    );
    assert!(!path.exists());
    // Parameters reading would refuse are not written either.
    assert_eq!(
        write_keystore(
            &path,
            &key(),
            PASSWORD.as_bytes(),
            Kdf::Scrypt {
                log_n: 30,
                r: 8,
                p: 1
            }
        ),
        Err(KeystoreError::ParamRefused(ParamError::ScryptMemory))
    );
    assert_eq!(
        encrypt_keystore(&key(), PASSWORD.as_bytes(), Kdf::Pbkdf2 { rounds: 0 }),
        Err(KeystoreError::ParamRefused(ParamError::Pbkdf2RoundsZero))
    );
    assert!(!path.exists());
}

#[test]
fn written_files_are_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("write");
    let path = dir.join("k.json");
    assert_eq!(
        write_keystore(&path, &key(), PASSWORD.as_bytes(), FAST_PBKDF2),
        Ok(key_address())
    );
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o600, "mode {mode:04o}");
    assert_eq!(keystore_address(&path), Ok(Some(key_address())));
    let first = std::fs::read(&path).expect("read");

    let again = write_keystore(&path, &key(), PASSWORD.as_bytes(), FAST_PBKDF2);
    assert_eq!(again, Err(KeystoreError::FileExists { path: path.clone() }));
    assert_clean(&again.unwrap_err());
    assert_eq!(std::fs::read(&path).expect("read"), first, "file changed");

    let other = dir.join("notes.txt");
    std::fs::write(&other, "not a keystore").expect("write");
    assert_eq!(
        write_keystore(&other, &key(), PASSWORD.as_bytes(), FAST_PBKDF2),
        Err(KeystoreError::FileExists {
            path: other.clone()
        })
    );
    assert_eq!(std::fs::read(&other).expect("read"), b"not a keystore");

    let nowhere = dir.join("no-such-dir").join("k.json");
    let got = write_keystore(&nowhere, &key(), PASSWORD.as_bytes(), FAST_PBKDF2);
    assert_eq!(
        got,
        Err(KeystoreError::FileUnwritable {
            path: nowhere.clone(),
            kind: std::io::ErrorKind::NotFound
        })
    );
    assert_clean(&got.unwrap_err());
}

#[test]
fn unreadable_and_oversized_files() {
    let dir = scratch_dir("files");
    let missing = dir.join("missing.json");
    assert_eq!(
        open(&missing, PASSWORD),
        Err(KeystoreError::FileUnreadable {
            path: missing.clone(),
            kind: std::io::ErrorKind::NotFound
        })
    );
    assert!(matches!(
        open(&dir, PASSWORD),
        Err(KeystoreError::FileUnreadable { .. })
    ));
    assert!(matches!(
        keystore_address(&missing),
        Err(KeystoreError::FileUnreadable { .. })
    ));

    // JSON allows trailing whitespace: a real keystore padded to exactly the cap opens, one
    // byte more is refused unread.
    let (path, _) = fast_keystore(&dir, "k");
    let mut padded = std::fs::read(&path).expect("read");
    padded.resize(KEYSTORE_FILE_MAX_BYTES, b' ');
    let at_cap = dir.join("at-cap");
    std::fs::write(&at_cap, &padded).expect("write");
    assert_eq!(open(&at_cap, PASSWORD), Ok(key_address()));
    padded.push(b' ');
    let too_large = dir.join("too-large");
    std::fs::write(&too_large, &padded).expect("write");
    assert_eq!(
        open(&too_large, PASSWORD),
        Err(KeystoreError::FileTooLarge {
            path: too_large.clone()
        })
    );
}

#[test]
fn keys_and_passwords_never_reach_messages() {
    // Errors produced from files that hold the key, opened with the right and wrong passwords.
    let dir = scratch_dir("messages");
    let (path, doc) = fast_keystore(&dir, "k");
    let mut errors = vec![
        Signer::from_keystore(&path, WRONG_PASSWORD.as_bytes()).unwrap_err(),
        Signer::from_keystore(&dir, PASSWORD.as_bytes()).unwrap_err(),
    ];
    for (at, value) in [
        ("/crypto/mac", json!(KEY_HEX)),
        ("/crypto/ciphertext", json!(format!("{KEY_HEX}zz"))),
        ("/crypto/kdf", json!(PASSWORD)),
        ("/crypto/cipher", json!(KEY_HEX)),
        ("/crypto/kdfparams/prf", json!(WRONG_PASSWORD)),
        ("/address", json!(KEY_HEX)),
    ] {
        let bad = with(&doc, at, |_| value);
        let p = dir.join("bad");
        std::fs::write(&p, bad.to_string()).expect("write");
        errors.push(Signer::from_keystore(&p, PASSWORD.as_bytes()).unwrap_err());
    }
    assert_eq!(errors.len(), 8);
    for e in &errors {
        assert_clean(e);
    }
    // Debug of the Signer itself shows the address only.
    let signer = Signer::from_keystore(&path, PASSWORD.as_bytes()).expect("opens");
    let text = format!("{signer:?}").to_ascii_lowercase();
    assert!(!text.contains(&KEY_HEX[..8]), "{text}");
}
