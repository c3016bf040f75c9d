//! Scratch files, reference bytes from `RecordWriter`, and a recording through the recorder.

use std::{
    fs::File,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use polyarb_feeds::{RecordReader, RecordWriter};
use polyarb_recorder::{Backend, Pushed, Recorder, RecorderConfig, RecorderSummary, WriterChoice};

pub const CREATED: u64 = 1_700_000_000_000_000_000;
pub const SOURCE: &str = "polyarb test record ws://127.0.0.1:8546";

/// A fresh path in a directory of its own under the system's temp dir.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "recorder-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// What `RecordWriter` writes for `recs`.
pub fn expected(recs: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut w = RecordWriter::new(Vec::new(), CREATED, SOURCE).unwrap();
    for (t, p) in recs {
        w.write(*t, p).unwrap();
    }
    w.into_inner().unwrap()
}

/// Every record of `bytes`, which must read back without a problem.
pub fn read_back(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let r = RecordReader::new(bytes).unwrap();
    assert_eq!(r.header().created_unix_ns, CREATED);
    assert_eq!(r.header().source, SOURCE);
    r.map(|r| {
        let r = r.unwrap();
        (r.recv_ns, r.payload)
    })
    .collect()
}

/// Records `recs` through a recorder built by `cfg`; none may be dropped. The summary and the
/// file's bytes.
pub fn record(cfg: &RecorderConfig, recs: &[(u64, Vec<u8>)]) -> (RecorderSummary, Vec<u8>) {
    let path = scratch("r.rec");
    let mut r = Recorder::start(File::create(&path).unwrap(), CREATED, SOURCE, cfg)
        .unwrap_or_else(|e| panic!("start {cfg:?}: {e}"));
    for (t, p) in recs {
        assert_eq!(r.push(*t, p).unwrap(), Pushed::Queued);
    }
    let sum = r.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    (sum, bytes)
}

/// Whether this kernel lets a process set up an io_uring at all. If not (seccomp, a container,
/// `kernel.io_uring_disabled`), the io-uring tests say so and pass: the fallback is what runs
/// there, and `fallback.rs` covers it. Any other reason io-uring is not used fails them.
pub fn uring_allowed() -> bool {
    let path = scratch("probe.rec");
    let cfg = RecorderConfig::default();
    let r = Recorder::start(File::create(&path).unwrap(), 0, "", &cfg).unwrap();
    let backend = r.backend().clone();
    drop(r);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    match &backend {
        Backend::Uring { .. } => true,
        Backend::Plain {
            uring_unavailable: Some(why),
        } if why.starts_with("io_uring_setup:") => {
            println!("io-uring is not allowed here ({why}); io-uring tests skipped");
            false
        }
        other => panic!("auto chose {other}"),
    }
}

/// The backends to test: plain always, io-uring where the kernel allows it.
pub fn writers() -> Vec<WriterChoice> {
    let mut w = vec![WriterChoice::Plain];
    if uring_allowed() {
        w.push(WriterChoice::Uring);
    }
    w
}
