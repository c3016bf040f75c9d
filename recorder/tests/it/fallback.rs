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

/// `RecorderConfig::cpu`: the housekeeping thread pins itself and says where; a CPU it cannot
/// pin to is said too, and the recording is whole either way.
#[test]
fn the_housekeeping_thread_pins_where_asked_and_says_when_it_cannot() {
    let cpu0 = core_affinity::get_core_ids()
        .and_then(|ids| ids.first().map(|c| c.id))
        .expect("this process may run on some CPU");
    // A CPU inside a cpu_set_t this process may not run on, and one past the set (4,095).
    let allowed: Vec<usize> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    let off = (0..1_024)
        .find(|c| !allowed.contains(c))
        .expect("a machine with fewer than 1,024 CPUs");
    for (cpu, want) in [(cpu0, Ok(cpu0)), (off, Err(off)), (4_095, Err(4_095))] {
        let cfg = RecorderConfig {
            cpu: Some(cpu),
            writer: WriterChoice::Plain,
            ..RecorderConfig::default()
        };
        let path = scratch("pinned.rec");
        let mut r = Recorder::start(File::create(&path).unwrap(), CREATED, SOURCE, &cfg).unwrap();
        assert_eq!(r.pinned(), Some(want), "asked for CPU {cpu}");
        for (t, p) in recs() {
            r.push(t, &p).unwrap();
        }
        r.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected(&recs()));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
    let unpinned = Recorder::start(
        File::create(scratch("unpinned.rec")).unwrap(),
        CREATED,
        SOURCE,
        &RecorderConfig::default(),
    )
    .unwrap();
    assert_eq!(unpinned.pinned(), None);
    unpinned.finish().unwrap();
}
