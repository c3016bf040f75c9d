//! Bad input from outside (config files, recordings, a node that is not there) gives one clear
//! error: a `ConfigError` from the library, and from the `polyarb` binary a non-zero exit with a
//! single log line naming the culprit, never a panic.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use polyarb_engine::config::{Config, ConfigError, ProcessEnv};
use polyarb_feeds::RecordWriter;

use crate::replay::{sample, scratch};

/// The shipped sample config with `edit` applied, written to `dir/name`.
fn edited_config(dir: &Path, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "{name}: the edit changed nothing");
    let path = dir.join(name);
    std::fs::write(&path, edited).unwrap();
    path
}

/// `text` with the one line equal to `line` (after trimming) replaced by `with`.
fn replace_line(text: &str, line: &str, with: &str) -> String {
    assert_eq!(
        text.lines().filter(|l| l.trim() == line).count(),
        1,
        "`{line}` once in the sample config"
    );
    text.lines()
        .map(|l| if l.trim() == line { with } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sample config's value of `key = ...` (first occurrence), as written.
fn value_of(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix('='))
        .unwrap_or_else(|| panic!("{key} in the sample config"))
        .trim()
        .to_owned()
}

fn load(path: &Path) -> ConfigError {
    match Config::load(path, &ProcessEnv) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    }
}

#[test]
fn sample_config_loads() {
    // The edits below start from it, so it must be good as shipped.
    Config::load(&sample("toml"), &ProcessEnv).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn config_errors_name_the_key_or_the_file() {
    let dir = scratch("bad-config");
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let gas_base = format!("gas_base = {}", value_of(&text, "gas_base"));

    let missing = edited_config(&dir, "missing.toml", |t| replace_line(&t, &gas_base, ""));
    let e = load(&missing);
    assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("gas_base") && msg.contains("missing.toml"),
        "{msg}"
    );

    let unknown = edited_config(&dir, "unknown.toml", |t| {
        replace_line(&t, &gas_base, &format!("{gas_base}\ngas_bsae = 1"))
    });
    let e = load(&unknown);
    assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("gas_bsae") && msg.contains("unknown.toml"),
        "{msg}"
    );

    let executor = format!("executor = {}", value_of(&text, "executor"));
    let bad_address = edited_config(&dir, "address.toml", |t| {
        replace_line(
            &t,
            &executor,
            "executor = \"0x8464135c8f25da09e49bc8782676a84730c3\"",
        )
    });
    let e = load(&bad_address);
    assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("executor") && msg.contains("address.toml"),
        "the bad key is named: {msg}"
    );

    let nowhere = dir.join("does-not-exist.toml");
    let e = load(&nowhere);
    assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&*nowhere.to_string_lossy()), "{e}");
}

/// Runs the `polyarb` binary with a clean environment for its own variables.
fn polyarb(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyarb"));
    cmd.args(args).env("NO_COLOR", "1").env_remove("RUST_LOG");
    for var in [
        "POLYARB_WS_URL",
        "POLYARB_EXECUTOR",
        "POLYARB_KEY_FILE",
        "POLYARB_PRIVATE_KEY",
        "POLYARB_ROOT",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("polyarb runs")
}

/// `s` without ANSI colour sequences (in case the logger colours a pipe).
fn plain(s: &[u8]) -> String {
    let s = String::from_utf8_lossy(s);
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The run failed with exit status 1 and exactly one error line on stderr, no panic, containing
/// every piece of `says`. Returns that line.
fn assert_one_clear_error(what: &str, out: &Output, says: &[&str]) -> String {
    let stderr = plain(&out.stderr);
    let stdout = plain(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: exit status {:?}\nstderr:\n{stderr}",
        out.status
    );
    for word in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(word), "{what}: {word} in\n{stderr}");
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line, got\n{stderr}");
    assert!(stdout.trim().is_empty(), "{what}: stdout\n{stdout}");
    let line = lines[0];
    assert!(line.contains("ERROR"), "{what}: {line}");
    for s in says {
        assert!(line.contains(s), "{what}: `{s}` not in: {line}");
    }
    line.to_owned()
}

#[test]
fn replay_of_a_missing_recording_names_it() {
    let dir = scratch("cli-missing");
    let rec = dir.join("nothing-here.rec");
    let (snap, cfg) = (sample("snapshot.json"), sample("toml"));
    let out = polyarb(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_one_clear_error("missing recording", &out, &[rec.to_str().unwrap()]);
}

#[test]
fn replay_of_a_garbage_file_says_it_is_not_a_recording() {
    let dir = scratch("cli-garbage");
    let rec = dir.join("garbage.rec");
    std::fs::write(&rec, b"{\"this is\": \"not a recording\"}\n\x00\x01\x02").unwrap();
    let (snap, cfg) = (sample("snapshot.json"), sample("toml"));
    let out = polyarb(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_one_clear_error(
        "garbage recording",
        &out,
        &[rec.to_str().unwrap(), "not a polyarb recording"],
    );
}

#[test]
fn replay_without_a_replay_key_names_the_key() {
    let dir = scratch("cli-no-key");
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let key_line = format!("key = {}", value_of(&text, "key"));
    let cfg = edited_config(&dir, "no-key.toml", |t| replace_line(&t, &key_line, ""));
    let (rec, snap) = (sample("rec"), sample("snapshot.json"));
    let out = polyarb(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_one_clear_error(
        "no [replay].key",
        &out,
        &["[replay].key", cfg.to_str().unwrap()],
    );
}

/// `polyarb replay` of the sample with its snapshot's text edited by `edit` (text, not a JSON
/// round trip: `serde_json::Value` would turn the u128 reserves into floats), written to
/// `dir/name`; returns the edited snapshot's path and the run's output. The recording is an
/// empty one (the sample's would take half a minute to replay where the snapshot is accepted).
fn replay_with_snapshot(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&str) -> String,
) -> (PathBuf, Output) {
    let text = std::fs::read_to_string(sample("snapshot.json")).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "{name}: the edit changed nothing");
    let snap = dir.join(name);
    std::fs::write(&snap, edited).unwrap();
    let rec = dir.join("empty.rec");
    let mut w = RecordWriter::new(std::fs::File::create(&rec).unwrap(), 0, "bad_input").unwrap();
    w.flush().unwrap();
    let cfg = sample("toml");
    let out = polyarb(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--speed",
            "0",
        ],
        &[],
    );
    (snap, out)
}

/// `text` with the value of the first `"key": value` replaced by `with`.
fn set_first(text: &str, key: &str, with: &str) -> String {
    let field = format!("\"{key}\": ");
    let start = text
        .find(&field)
        .unwrap_or_else(|| panic!("{key} in the sample snapshot"))
        + field.len();
    let end = start + text[start..].find([',', '\n', '}']).unwrap();
    format!("{}{with}{}", &text[..start], &text[end..])
}

#[test]
fn replay_refuses_a_snapshot_of_another_chain() {
    let dir = scratch("cli-snapshot-chain");
    // The sample config signs for chain 137 ([replay].chain_id).
    let (snap, out) = replay_with_snapshot(&dir, "chain1.snapshot.json", |t| {
        set_first(t, "chain_id", "1")
    });
    assert_one_clear_error(
        "snapshot of chain 1",
        &out,
        &[
            snap.to_str().unwrap(),
            "chain 1",
            "[replay].chain_id is 137",
        ],
    );
    // Without a chain id there is nothing to compare: it replays.
    let (_, out) = replay_with_snapshot(&dir, "nochain.snapshot.json", |t| {
        set_first(t, "chain_id", "null")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn replay_refuses_a_snapshot_at_the_last_block_or_with_a_zero_reserve() {
    let dir = scratch("cli-snapshot-state");
    let (snap, out) = replay_with_snapshot(&dir, "last.snapshot.json", |t| {
        set_first(t, "block", &u64::MAX.to_string())
    });
    assert_one_clear_error(
        "block u64::MAX",
        &out,
        &[snap.to_str().unwrap(), "u64::MAX"],
    );
    let (snap, out) = replay_with_snapshot(&dir, "zero.snapshot.json", |t| {
        set_first(t, "reserve1", "0")
    });
    assert_one_clear_error(
        "zero reserve",
        &out,
        &[snap.to_str().unwrap(), "zero reserve"],
    );
}

#[test]
fn run_against_a_closed_port_names_the_node() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let dir = scratch("cli-closed-port");
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let ws_line = format!("ws_url = {}", value_of(&text, "ws_url"));
    let cfg = edited_config(&dir, "closed.toml", |t| {
        replace_line(&t, &ws_line, &format!("ws_url = \"{url}\""))
    });
    // The sample's [replay] key stands in for the live key; nothing is sent anywhere.
    let key = value_of(&text, "key").trim_matches('"').to_owned();
    let out = polyarb(
        &["run", "--config", cfg.to_str().unwrap()],
        &[("POLYARB_PRIVATE_KEY", &key)],
    );
    let line = assert_one_clear_error("closed port", &out, &[&url]);
    assert!(
        !line.contains(&key[2..]),
        "the key is never printed: {line}"
    );
}

#[test]
fn help_lists_the_commands() {
    let out = polyarb(&["--help"], &[]);
    assert!(out.status.success(), "{:?}", out.status);
    let text = plain(&out.stdout);
    for cmd in ["run", "record", "replay", "snapshot"] {
        assert!(
            text.lines().any(|l| {
                let l = l.trim_start();
                l.strip_prefix(cmd)
                    .is_some_and(|rest| rest.starts_with(char::is_whitespace))
            }),
            "`{cmd}` not listed in\n{text}"
        );
    }
}

#[test]
fn replay_of_a_missing_recording_alone_names_the_recording() {
    // The usual call: only the recording, snapshot and config taken from its name. None of the
    // three exist; the one the user named is the one to report.
    let dir = scratch("cli-missing-alone");
    let rec = dir.join("nothing-here.rec");
    let out = polyarb(&["replay", rec.to_str().unwrap()], &[]);
    assert_one_clear_error(
        "missing recording, default siblings",
        &out,
        &[rec.to_str().unwrap()],
    );
}

#[test]
fn bad_config_is_one_line_through_the_binary() {
    let dir = scratch("cli-bad-config");
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let gas_base = format!("gas_base = {}", value_of(&text, "gas_base"));
    let cfg = edited_config(&dir, "typo.toml", |t| {
        replace_line(&t, &gas_base, &format!("{gas_base}\ngas_bsae = 1"))
    });
    let (rec, snap) = (sample("rec"), sample("snapshot.json"));
    let out = polyarb(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--snapshot",
            snap.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_one_clear_error(
        "unknown config key",
        &out,
        &["gas_bsae", cfg.to_str().unwrap()],
    );
}
