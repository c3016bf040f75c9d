//! `polyarb keys` as an operator uses it, against Foundry's cast (npm
//! `@foundry-rs/cast-linux-amd64`, pinned in the toolchain) as the independent keystore
//! implementation: keystores polyarb writes open in cast with the same address, keystores cast
//! writes open in polyarb, and a run refuses to start on a keystore it cannot open.

use std::{
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use alloy_primitives::Address;

const PASSWORD: &str = "correct horse battery staple";
/// The web3.js documentation's example key and the address it publishes for it.
const KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const KEY_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `polyarb` with `stdin` piped in, detached from any terminal (`setsid`), so a prompt can
/// never wait on a person.
fn polyarb(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_polyarb"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("POLYARB_KEYSTORE")
        .env_remove("POLYARB_PASSWORD_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid and polyarb run");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `polyarb keys address FILE --password-file PASSWORD_FILE`.
fn keys_address(file: &Path, password_file: &Path) -> Output {
    polyarb(
        &[
            "keys",
            "address",
            file.to_str().unwrap(),
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        "",
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The address line polyarb printed, checked to be EIP-55 checksummed.
fn printed_address(out: &Output) -> Address {
    assert!(
        out.status.success(),
        "polyarb failed: {}",
        text(&out.stderr)
    );
    let line = text(&out.stdout).trim().to_owned();
    let address: Address = line.parse().expect("an address");
    assert_eq!(line, address.to_checksum(None), "printed checksummed");
    address
}

fn cast(home: &Path, args: &[&str]) -> String {
    let cast = polyarb_tools::Toolchain::locate()
        .cast()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(cast)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("cast runs");
    assert!(out.status.success(), "cast {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn imported_and_new_keystores_open_in_cast_with_the_same_address() {
    let dir = scratch("keys-cli");
    let pw = dir.join("pw");
    private_file(&pw, &format!("{PASSWORD}\n"));
    let pw_s = pw.to_str().unwrap();

    let imported = dir.join("imported.json");
    let out = polyarb(
        &[
            "keys",
            "import",
            imported.to_str().unwrap(),
            "--password-file",
            pw_s,
            "--kdf",
            "light",
        ],
        &format!("0x{KEY}\n"),
    );
    assert_eq!(
        printed_address(&out),
        KEY_ADDRESS.parse::<Address>().unwrap()
    );
    assert!(!text(&out.stderr).contains(&KEY[..8]), "key echoed");

    let fresh = dir.join("new.json");
    let out = polyarb(
        &[
            "keys",
            "new",
            fresh.to_str().unwrap(),
            "--password-file",
            pw_s,
            "--kdf",
            "pbkdf2",
        ],
        "",
    );
    let fresh_address = printed_address(&out);

    for (file, want) in [
        (&imported, KEY_ADDRESS.parse::<Address>().unwrap()),
        (&fresh, fresh_address),
    ] {
        let cast_says = cast(
            &dir,
            &[
                "wallet",
                "address",
                "--keystore",
                file.to_str().unwrap(),
                "--password",
                PASSWORD,
            ],
        );
        assert_eq!(
            cast_says.trim(),
            want.to_checksum(None),
            "{}",
            file.display()
        );
        let out = keys_address(file, &pw);
        assert_eq!(printed_address(&out), want);
    }
}

#[test]
fn a_cast_keystore_opens_and_bad_passwords_are_clear_errors() {
    let dir = scratch("keys-cast");
    let made = cast(
        &dir,
        &[
            "wallet",
            "new",
            dir.to_str().unwrap(),
            "--unsafe-password",
            PASSWORD,
            "--json",
        ],
    );
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    let file = made[0]["path"].as_str().unwrap().to_owned();
    let cast_address: Address = made[0]["address"].as_str().unwrap().parse().unwrap();

    let pw = dir.join("pw");
    private_file(&pw, PASSWORD);
    let out = keys_address(Path::new(&file), &pw);
    assert_eq!(printed_address(&out), cast_address);

    let wrong = dir.join("wrong");
    private_file(&wrong, "not the password");
    let out = keys_address(Path::new(&file), &wrong);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("wrong keystore password"), "{err}");
    assert!(!err.contains("signer.keystore"), "not a run's error: {err}");
    assert!(!err.contains("not the password"), "password echoed: {err}");

    // A password file others may read is refused before the keystore is touched.
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = keys_address(Path::new(&file), &wrong);
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );

    // No password file and no terminal: a clear error, not a hang.
    let out = polyarb(&["keys", "address", &file], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no terminal"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_run_refuses_to_start_on_a_keystore_it_cannot_open() {
    let dir = scratch("keys-run");
    let pw = dir.join("pw");
    private_file(&pw, PASSWORD);
    let ks = dir.join("ks.json");
    let out = polyarb(
        &[
            "keys",
            "import",
            ks.to_str().unwrap(),
            "--password-file",
            pw.to_str().unwrap(),
            "--kdf",
            "light",
        ],
        KEY,
    );
    printed_address(&out);
    let wrong = dir.join("wrong");
    private_file(&wrong, "nope");
    // The sample's config with the keystore as the key and a node URL nobody listens on:
    // the key is loaded before any connection, so the error must be the keystore's.
    let sample =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample.toml"))
            .unwrap();
    let config = dir.join("polyarb.toml");
    let text_cfg = sample
        .replace("ws://127.0.0.1:42147", "ws://127.0.0.1:9")
        .replace(
            "key_env = \"POLYARB_PRIVATE_KEY\"",
            &format!(
                "keystore = \"{}\"\npassword_file = \"{}\"",
                ks.display(),
                wrong.display()
            ),
        );
    assert_ne!(text_cfg, sample);
    std::fs::write(&config, text_cfg).unwrap();
    let out = polyarb(&["run", "--config", config.to_str().unwrap()], "");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("signer.keystore") && err.contains("wrong keystore password"),
        "{err}"
    );
    assert!(!err.contains("connect"), "it went on to the node: {err}");
}
