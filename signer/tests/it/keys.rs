//! Key loading from files and the environment, and that no key text leaks through `Debug`,
//! `Display` or errors.

use std::path::PathBuf;
use std::process::Command;

use polyarb_signer::{KEY_FILE_MAX_BYTES, KeyError, Signer};
use proptest::prelude::*;

const KEY_HEX: &str = "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63";

fn reference() -> Signer {
    Signer::from_hex(KEY_HEX).expect("valid key")
}

/// A file in this test binary's scratch directory, unique per test.
fn scratch_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("signer-keys-{name}"));
    std::fs::write(&path, contents).expect("write scratch file");
    set_mode(&path, 0o600);
    path
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_key_file_others_can_read_is_refused_with_the_fix() {
    for mode in [0o644, 0o640, 0o604, 0o660, 0o666] {
        let path = scratch_file(&format!("mode-{mode:o}"), KEY_HEX.as_bytes());
        set_mode(&path, mode);
        let got = Signer::from_file(&path).map(|s| s.address());
        assert_eq!(
            got,
            Err(KeyError::FileOpenToOthers {
                path: path.clone(),
                mode
            })
        );
        let text = got.unwrap_err().to_string();
        assert!(text.contains("chmod 600"), "{text}");
        assert_no_key(&text);
    }
    // The owner's own bits do not matter.
    for mode in [0o400, 0o600, 0o700] {
        let path = scratch_file(&format!("mode-{mode:o}"), KEY_HEX.as_bytes());
        set_mode(&path, mode);
        assert_eq!(
            Signer::from_file(&path).map(|s| s.address()),
            Ok(reference().address())
        );
    }
}

/// Everything a user could print about a signer or an error, checked for the key.
fn assert_no_key(text: &str) {
    let lower = text.to_ascii_lowercase();
    // Any 8 consecutive key digits would be a leak; the address cannot contain them by chance
    // here (checked against this key's address).
    for window in KEY_HEX.as_bytes().windows(8) {
        let w = std::str::from_utf8(window).expect("ascii");
        assert!(!lower.contains(w), "key digits {w} in {text:?}");
    }
}

#[test]
fn debug_of_signer_shows_address_never_key() {
    let s = reference();
    let text = format!("{s:?} {s:#?}");
    assert!(text.contains(&format!("{:?}", s.address())), "{text}");
    assert_no_key(&text);
}

#[test]
fn file_forms_load_the_same_key() {
    let want = reference().address();
    let cases: [(&str, String); 4] = [
        ("plain", KEY_HEX.to_owned()),
        ("newline", format!("0x{KEY_HEX}\n")),
        ("crlf", format!("  0X{}\r\n", KEY_HEX.to_ascii_uppercase())),
        ("padded", format!("\n\n{KEY_HEX}\n\n")),
    ];
    for (name, text) in cases {
        let path = scratch_file(name, text.as_bytes());
        assert_eq!(
            Signer::from_file(&path).map(|s| s.address()),
            Ok(want),
            "{name}"
        );
    }
}

#[test]
fn bad_files_give_the_right_error_without_key_text() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("signer-keys-does-not-exist");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let not_hex = scratch_file("not-hex", format!("key = \"{KEY_HEX}\"\n").as_bytes());
    let short = scratch_file("short", &KEY_HEX.as_bytes()[..62]);
    let empty = scratch_file("empty", b"");
    let binary = scratch_file("binary", &[0xff, 0xfe, 0x00, 0x80]);
    let mut big = KEY_HEX.as_bytes().to_vec();
    big.resize(KEY_FILE_MAX_BYTES + 1, b' ');
    let too_large = scratch_file("too-large", &big);
    let mut at_cap = KEY_HEX.as_bytes().to_vec();
    at_cap.resize(KEY_FILE_MAX_BYTES, b'\n');
    let at_cap = scratch_file("at-cap", &at_cap);

    let cases = [
        (
            &missing,
            Err(KeyError::FileUnreadable {
                path: missing.clone(),
                kind: std::io::ErrorKind::NotFound,
            }),
        ),
        (&not_hex, Err(KeyError::NotHex)),
        (&short, Err(KeyError::WrongLength { hex_digits: 62 })),
        (&empty, Err(KeyError::WrongLength { hex_digits: 0 })),
        (&binary, Err(KeyError::NotHex)),
        (
            &too_large,
            Err(KeyError::FileTooLarge {
                path: too_large.clone(),
            }),
        ),
        (&at_cap, Ok(reference().address())),
    ];
    for (path, want) in cases {
        let got = Signer::from_file(path).map(|s| s.address());
        assert_eq!(got, want, "{}", path.display());
        if let Err(e) = got {
            assert_no_key(&format!("{e} {e:?}"));
        }
    }
    // A directory opens on Linux but fails to read; either way it is "unreadable".
    assert!(matches!(
        Signer::from_file(&dir),
        Err(KeyError::FileUnreadable { .. })
    ));
}

#[test]
fn missing_env_var_is_an_error() {
    let name = "POLYARB_SIGNER_TEST_SURELY_UNSET_7f3a";
    assert_eq!(
        Signer::from_env(name).map(|s| s.address()),
        Err(KeyError::EnvMissing {
            name: name.to_owned()
        })
    );
    assert_eq!(
        KeyError::EnvMissing {
            name: name.to_owned()
        }
        .to_string(),
        format!("env var \"{name}\" is not set")
    );
}

/// Marks the child process that `from_env_in_child_process` starts.
const CHILD_MARKER: &str = "POLYARB_SIGNER_ENV_CHILD";
const CHILD_DONE: &str = "env_child: all env cases checked";

// Setting variables in this (multi-threaded) test process would need `unsafe` `set_var`, so
// the env cases run in a child copy of this binary started with its environment prepared.
#[test]
fn from_env_in_child_process() {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "keys::env_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_MARKER, "1")
    .env("POLYARB_SIGNER_TEST_KEY", format!("  0x{KEY_HEX}\n"))
    .env("POLYARB_SIGNER_TEST_NOT_HEX", format!("secret:{KEY_HEX}"))
    .env("POLYARB_SIGNER_TEST_EMPTY", "")
    .env_remove("POLYARB_SIGNER_TEST_UNSET");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        cmd.env(
            "POLYARB_SIGNER_TEST_NOT_UTF8",
            std::ffi::OsStr::from_bytes(b"\xff\xfe0x12"),
        );
    }
    let out = cmd.output().expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(CHILD_DONE),
        "child failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by from_env_in_child_process with the variables set"]
fn env_child() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        println!("env_child: not started by from_env_in_child_process; nothing to check");
        return;
    }
    let got = |name: &str| Signer::from_env(name).map(|s| s.address());
    assert_eq!(got("POLYARB_SIGNER_TEST_KEY"), Ok(reference().address()));
    assert_eq!(got("POLYARB_SIGNER_TEST_NOT_HEX"), Err(KeyError::NotHex));
    assert_eq!(
        got("POLYARB_SIGNER_TEST_EMPTY"),
        Err(KeyError::WrongLength { hex_digits: 0 })
    );
    assert_eq!(
        got("POLYARB_SIGNER_TEST_UNSET"),
        Err(KeyError::EnvMissing {
            name: "POLYARB_SIGNER_TEST_UNSET".to_owned()
        })
    );
    #[cfg(unix)]
    assert_eq!(got("POLYARB_SIGNER_TEST_NOT_UTF8"), Err(KeyError::NotHex));
    if let Err(e) = got("POLYARB_SIGNER_TEST_NOT_HEX") {
        assert_no_key(&format!("{e} {e:?}"));
    }
    println!("{CHILD_DONE}");
}

proptest! {
    // Arbitrary text never panics, and an error never repeats the text it was given.
    #[test]
    fn any_text_is_ok_or_error_never_panic(text in any::<String>()) {
        let _ = Signer::from_hex(&text);
    }

    #[test]
    fn near_miss_keys_error_without_echoing_them(
        digits in "[0-9a-fA-F]{16,80}",
        junk in "[g-zG-Z!-/ ]?",
        at in any::<prop::sample::Index>(),
    ) {
        let mut text = digits.clone();
        if !junk.is_empty() {
            text.insert_str(at.index(text.len() + 1), &junk);
        }
        if let Err(e) = Signer::from_hex(&text) {
            let shown = format!("{e} {e:?}").to_ascii_lowercase();
            for window in digits.as_bytes().windows(16) {
                let w = std::str::from_utf8(window).expect("ascii").to_ascii_lowercase();
                prop_assert!(!shown.contains(&w), "{w} in {shown}");
            }
        }
    }
}
