//! The backend chosen at start: io-uring where it works, plain writes when io-uring cannot be
//! set up (forced here through the API, since this kernel allows io-uring), an error when
//! io-uring was demanded; a real write error (a full disk) is reported, not fallen back from.

use std::fs::{File, OpenOptions};

use polyarb_recorder::{Backend, Recorder, RecorderConfig, RecorderError, WriterChoice};

use crate::common::{CREATED, SOURCE, expected, record, scratch, uring_allowed};

fn recs() -> Vec<(u64, Vec<u8>)> {
    (0..500u64)
        .map(|i| {
            (
                i * 1_000,
                format!("{{\"n\":{i}}}")
                    .repeat(1 + (i % 40) as usize)
                    .into_bytes(),
            )
        })
        .collect()
}

#[test]
fn auto_chooses_io_uring_here_and_says_so() {
    if !uring_allowed() {
        return;
    }
    let (sum, bytes) = record(&RecorderConfig::default(), &recs());
    assert_eq!(sum.backend, Backend::Uring { queue_depth: 32 });
    assert_eq!(sum.backend.to_string(), "io-uring (queue depth 32)");
    assert_eq!(bytes, expected(&recs()));
}

#[test]
fn a_failed_io_uring_setup_falls_back_to_plain_writes_and_says_why() {
    for (errno, text) in [
        (1, "Operation not permitted"),
        (38, "Function not implemented"),
    ] {
        let cfg = RecorderConfig {
            simulate_uring_failure: Some(errno),
            ..RecorderConfig::default()
        };
        let (sum, bytes) = record(&cfg, &recs());
        let why = match &sum.backend {
            Backend::Plain {
                uring_unavailable: Some(why),
            } => why.clone(),
            other => panic!("{other:?}"),
        };
        assert!(
            why.starts_with("io_uring_setup: ") && why.contains(text),
            "{why}"
        );
        assert_eq!(
            sum.backend.to_string(),
            format!("plain writes (io-uring unavailable: {why})")
        );
        assert_eq!(sum.records, 500);
        assert_eq!(bytes, expected(&recs()));
    }
    // Asked for: no reason given.
    let cfg = RecorderConfig {
        writer: WriterChoice::Plain,
        ..RecorderConfig::default()
    };
    let (sum, _) = record(&cfg, &recs());
    assert_eq!(sum.backend.to_string(), "plain writes (as asked)");
}

#[test]
fn io_uring_demanded_but_unavailable_is_an_error() {
    let cfg = RecorderConfig {
        writer: WriterChoice::Uring,
        simulate_uring_failure: Some(1),
        ..RecorderConfig::default()
    };
    let path = scratch("demanded.rec");
    let e = Recorder::start(File::create(&path).unwrap(), CREATED, SOURCE, &cfg).unwrap_err();
    assert!(matches!(e, RecorderError::UringUnavailable(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("io-uring unavailable: io_uring_setup: Operation not permitted"),
        "{e}"
    );
}

#[test]
fn a_full_disk_is_reported_by_every_backend_and_not_fallen_back_from() {
    let mut ws = vec![WriterChoice::Plain, WriterChoice::Auto];
    if uring_allowed() {
        ws.push(WriterChoice::Uring);
    }
    for writer in ws {
        // Every write to /dev/full fails with ENOSPC.
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let cfg = RecorderConfig {
            writer,
            ..RecorderConfig::default()
        };
        match Recorder::start(full, CREATED, SOURCE, &cfg) {
            Err(RecorderError::Io { error, at, .. }) => {
                assert_eq!(error.raw_os_error(), Some(28), "{writer}: {error}");
                assert_eq!(at, Some(0), "{writer}");
            }
            other => panic!("{writer}: {other:?}"),
        }
    }
}
