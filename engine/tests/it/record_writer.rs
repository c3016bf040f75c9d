//! `polyarb record` end to end against a real node (anvil, mining a block on request) with each
//! recorder backend: every new head the node sends is in the file, in order, and the file is byte
//! for byte what `RecordWriter` writes for the same stamped payloads. Once through the library
//! call per backend, and once through the binary (its `--writer` switch and summary lines).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use polyarb_engine::app::record::{WriterChoice, record_cmd};
use polyarb_feeds::{RecordReader, RecordWriter};
use polyarb_recorder::Backend;
use polyarb_tools::{Anvil, AnvilOpts};

const BLOCKS: u64 = 25;
const TIMEOUT: Duration = Duration::from_secs(60);

fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shipped sample's config with the node at `ws_url`.
fn config(dir: &Path, ws_url: &str) -> PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample.toml");
    let text = std::fs::read_to_string(&sample).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("ws_url"))
        .expect("sample config has node.ws_url");
    let path = dir.join("record.toml");
    std::fs::write(&path, text.replace(line, &format!("ws_url = {ws_url:?}"))).unwrap();
    path
}

fn mine(anvil: &Anvil, n: u64) {
    let rpc = anvil.rpc();
    for _ in 0..n {
        rpc.request("evm_mine", serde_json::json!([]))
            .unwrap_or_else(|e| panic!("evm_mine: {e}"));
    }
}

/// Checks the recording: `BLOCKS` new-head notifications for blocks `first..`, stamped in
/// order, and the bytes `RecordWriter` writes for them.
fn check_recording(path: &Path, first: u64) {
    let bytes = std::fs::read(path).unwrap();
    let reader = RecordReader::new(&bytes[..]).unwrap();
    let header = reader.header().clone();
    assert!(
        header.source.contains("record ws://127.0.0.1:"),
        "{header:?}"
    );
    let recs: Vec<_> = reader.map(|r| r.unwrap()).collect();
    assert_eq!(recs.len() as u64, BLOCKS);
    for (i, r) in recs.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(v["method"], "eth_subscription", "{v}");
        let number = v["params"]["result"]["number"].as_str().unwrap();
        let number = u64::from_str_radix(number.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(number, first + i as u64);
        if i > 0 {
            assert!(r.recv_ns >= recs[i - 1].recv_ns);
        }
        assert!(r.recv_ns >= header.created_unix_ns);
    }
    let mut w = RecordWriter::new(Vec::new(), header.created_unix_ns, &header.source).unwrap();
    for r in &recs {
        w.write(r.recv_ns, &r.payload).unwrap();
    }
    assert!(
        w.into_inner().unwrap() == bytes,
        "{} is not what RecordWriter writes",
        path.display()
    );
}

#[test]
fn record_writes_every_head_with_each_backend() {
    let anvil = Anvil::start(AnvilOpts {
        no_mining: true,
        ..AnvilOpts::default()
    })
    .unwrap_or_else(|e| panic!("start anvil (see tools/toolchain): {e}"));
    let dir = scratch("record-writer");
    let cfg = config(&dir, &anvil.ws_url());
    let mut used_uring = false;
    for writer in [WriterChoice::Plain, WriterChoice::Uring, WriterChoice::Auto] {
        let out = dir.join(format!("{writer}.rec"));
        let first = anvil.rpc().block_number().unwrap() + 1;
        let stop = AtomicBool::new(false);
        let (subscribed, wait) = mpsc::channel();
        let summary = thread::scope(|s| {
            let run = s.spawn(|| {
                record_cmd(&cfg, &out, Some(BLOCKS), writer, &stop, move || {
                    let _ = subscribed.send(());
                })
            });
            if wait.recv_timeout(TIMEOUT).is_ok() {
                mine(&anvil, BLOCKS);
            }
            // Ends by itself after BLOCKS payloads; the flag only bounds a failing run.
            let start = Instant::now();
            while !run.is_finished() && start.elapsed() < TIMEOUT {
                thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Relaxed);
            run.join().unwrap()
        });
        let summary = match summary {
            Ok(s) => s,
            // io-uring not allowed on this kernel: what auto falls back from.
            Err(e) if writer == WriterChoice::Uring && e.to_string().contains("io_uring_setup") => {
                println!("io-uring not allowed here: {e}");
                continue;
            }
            Err(e) => panic!("{writer}: {e}"),
        };
        assert_eq!(summary.records, BLOCKS, "{writer}: {summary}");
        assert_eq!(summary.dropped(), 0, "{writer}: {summary}");
        match (writer, summary.backend()) {
            (WriterChoice::Plain, Backend::Plain { uring_unavailable }) => {
                assert_eq!(*uring_unavailable, None);
            }
            (WriterChoice::Uring, Backend::Uring { .. }) => used_uring = true,
            (WriterChoice::Auto, b) => assert_eq!(b.is_uring(), used_uring, "{b}"),
            (w, b) => panic!("{w} gave {b}"),
        }
        let text = summary.to_string();
        assert!(
            text.starts_with(&format!(
                "recording: {BLOCKS} payloads -> {} (recorder: {})",
                out.display(),
                summary.backend()
            )),
            "{text}"
        );
        check_recording(&out, first);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_binary_takes_the_writer_switch_and_prints_the_backend() {
    let anvil = Anvil::start(AnvilOpts {
        no_mining: true,
        ..AnvilOpts::default()
    })
    .unwrap_or_else(|e| panic!("start anvil (see tools/toolchain): {e}"));
    let dir = scratch("record-writer-cli");
    let cfg = config(&dir, &anvil.ws_url());
    let out = dir.join("plain.rec");
    let first = anvil.rpc().block_number().unwrap() + 1;
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["record", "--writer", "plain", "--max-messages"])
        .arg(BLOCKS.to_string())
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .env("NO_COLOR", "1")
        .env_remove("POLYARB_WS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first_line = lines.recv_timeout(TIMEOUT).expect("polyarb record prints");
    assert_eq!(first_line, "recording: subscribed");
    mine(&anvil, BLOCKS);
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {err}", output.status);
    assert!(
        err.contains("recorder: plain writes (as asked)"),
        "logged at start: {err}"
    );
    let rest: Vec<String> = lines.iter().collect();
    assert_eq!(
        rest[0],
        format!(
            "recording: {BLOCKS} payloads -> {} (recorder: plain writes (as asked))",
            out.display()
        )
    );
    assert!(
        rest[1].ends_with("; 0 payloads dropped: recorder behind"),
        "{rest:?}"
    );
    check_recording(&out, first);

    // An unknown writer is refused before anything starts.
    let bad = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["record", "--writer", "fast", "--out"])
        .arg(dir.join("never.rec"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown writer \"fast\" (expected auto, plain or uring)"),
        "{err}"
    );
    assert!(!dir.join("never.rec").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
