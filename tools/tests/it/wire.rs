//! `polyarb-tools wire` end to end: the server plays the shipped sample to the debug `polyarb`
//! (tools/test-all.sh builds the binaries before the tests) for a few seconds at a low rate.
//! The oracle is polyarb's own exit summary: every transaction it signed and wrote is received,
//! attributed to a block, and counted alike. No timing is asserted (docs/wire.md has numbers).

use std::time::Duration;

use polyarb_tools::{
    Toolchain,
    wire::{self, Pacing, WireOpts},
};

fn opts(out: std::path::PathBuf) -> WireOpts {
    let root = Toolchain::locate().root().to_owned();
    WireOpts {
        polyarb: wire::polyarb_binary(&root, "debug"),
        config: root.join("data/sample.toml"),
        snapshot: root.join("data/sample.snapshot.json"),
        recording: root.join("data/sample.rec"),
        pacing: Pacing::LogsPerSecond(100.0),
        seconds: 3.0,
        out,
        core: None,
        batch_quiet_us: 100,
        warmup: Duration::from_millis(500),
        drain: Duration::from_secs(2),
        one_write_per_burst: false,
    }
}

#[test]
fn every_transaction_polyarb_sends_is_received_and_matched() {
    let opts = opts(crate::scratch("wire"));
    assert!(
        opts.polyarb.is_file(),
        "no polyarb at {}: cargo build -p polyarb-engine --bins first",
        opts.polyarb.display()
    );
    let notes = wire::load_notifications(&opts.recording).unwrap_or_else(|e| panic!("{e}"));
    let s = wire::run_once(&opts, &notes).unwrap_or_else(|e| panic!("{e}"));
    let text = wire::summary_text(&s);
    assert!(s.problems.is_empty(), "{text}");
    assert!(s.polyarb_exit.contains("exit status: 0"), "{text}");
    // 3 s at 100 logs/s: the sample's first ~300 logs, each block's burst played.
    assert!(s.logs >= 250 && s.bursts > 50, "{text}");
    assert!(s.transactions > 0, "polyarb sent nothing:\n{text}");
    assert_eq!(s.polyarb.signed, Some(s.transactions), "{text}");
    assert_eq!(s.polyarb.written, Some(s.transactions), "{text}");
    assert_eq!(s.polyarb.writes, Some(s.raw_tx_messages), "{text}");
    assert_eq!(s.matched, s.transactions, "{text}");
    assert_eq!(s.wire_to_wire_us.count, s.transactions, "{text}");
    // Every transaction is a route here (no refusals, so no cancels): polyarb's report lists
    // each one with the block that triggered it.
    assert_eq!(s.attribution_checked, s.transactions, "{text}");
    assert!(s.counts_agree(), "{text}");
    // Every payload the server wrote reached polyarb's feed (which also counts responses).
    assert!(
        s.polyarb.payloads.is_some_and(|p| p >= s.payloads as u64),
        "{text}"
    );
    // A resumed start: no discovery, nothing to catch up (the head is the snapshot's block).
    for method in [
        "eth_chainId",
        "eth_subscribe",
        "eth_blockNumber",
        "eth_call",
        "eth_getTransactionCount",
        "eth_sendRawTransaction",
    ] {
        assert!(s.requests.contains_key(method), "no {method}:\n{text}");
    }
    assert!(!s.requests.contains_key("eth_getLogs"), "{text}");
    for file in [
        "summary.txt",
        "summary.json",
        "wire_to_wire.hgrm",
        "wire_to_wire_from_first.hgrm",
        "wire_to_wire_from_written.hgrm",
        "wire_to_wire_by_report.hgrm",
        "server_lateness.hgrm",
        "requests.log",
        "polyarb.stdout",
    ] {
        assert!(
            opts.out.join(file).is_file(),
            "no {file} in {}",
            opts.out.display()
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(opts.out.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["transactions"], serde_json::json!(s.transactions));
    let hgrm = std::fs::read_to_string(opts.out.join("wire_to_wire.hgrm")).unwrap();
    assert!(
        hgrm.contains(&format!("Total count    = {:12}", s.transactions)),
        "{hgrm}"
    );
}

#[test]
fn a_missing_polyarb_or_recording_is_one_clear_error() {
    let dir = crate::scratch("wire-bad");
    let mut o = opts(dir.join("out"));
    o.recording = dir.join("missing.rec");
    let err = wire::load_notifications(&o.recording)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("read ") && err.contains("missing.rec"),
        "{err}"
    );
    std::fs::write(dir.join("junk.rec"), b"not a recording").unwrap();
    let err = wire::load_notifications(&dir.join("junk.rec"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad magic"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polyarb-tools"))
        .args(["wire", "--polyarb"])
        .arg(dir.join("no-such-polyarb"))
        .args(["--rate", "10", "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no polyarb binary at"), "{stderr}");
}
