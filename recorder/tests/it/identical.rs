//! The recorder's file is byte for byte what `RecordWriter` writes, through each backend, and
//! reads back with `RecordReader`: random payloads with small rings and buffers (frames wrap
//! around the ring, records straddle buffers, large payloads travel boxed), and a long seeded run
//! with the defaults. Also: a push allocates nothing.

use polyarb_recorder::{Pushed, Recorder, RecorderConfig, WriterChoice};
use proptest::prelude::*;

use crate::common::{CREATED, SOURCE, expected, read_back, record, scratch, writers};

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..300),
        3 => prop::collection::vec(any::<u8>(), 300..6_000),
        1 => prop::collection::vec(any::<u8>(), 17_000..40_000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_payloads_match_record_writer_through_each_backend(
        recs in prop::collection::vec((any::<u64>(), payload()), 0..60),
        ring_kib in prop::sample::select(vec![4usize, 16, 64]),
        buffer_pages in 1usize..4,
        queue_depth in 1u32..6,
    ) {
        let want = expected(&recs);
        for writer in writers() {
            let cfg = RecorderConfig {
                writer,
                ring_bytes: ring_kib << 10,
                buffer_bytes: buffer_pages * 4096,
                queue_depth,
                ..RecorderConfig::default()
            };
            let (sum, bytes) = record(&cfg, &recs);
            prop_assert_eq!(sum.records, recs.len() as u64);
            prop_assert_eq!(sum.bytes, want.len() as u64);
            prop_assert_eq!(sum.dropped, 0);
            prop_assert!(bytes == want, "{} differs from RecordWriter's bytes", writer);
            prop_assert_eq!(read_back(&bytes), recs.clone());
        }
    }
}

/// Payloads like the node's notifications: JSON text of 600-1,200 bytes, seeded.
fn notifications(n: usize, seed: u64) -> Vec<(u64, Vec<u8>)> {
    let mut x = seed;
    let mut next = move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut t = CREATED;
    (0..n)
        .map(|i| {
            t += next() % 2_000_000;
            let len = 600 + (next() % 600) as usize;
            let mut p = format!(
                r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x{:x}","result":{{"n":{i},"data":"0x"#,
                next()
            )
            .into_bytes();
            while p.len() < len - 4 {
                p.extend_from_slice(format!("{:016x}", next()).as_bytes());
            }
            p.truncate(len - 4);
            p.extend_from_slice(br#""}}}"#);
            (t, p)
        })
        .collect()
}

#[test]
fn a_long_seeded_run_matches_record_writer_with_the_defaults() {
    let recs = notifications(40_000, 7);
    let want = expected(&recs);
    let mut ws = writers();
    ws.push(WriterChoice::Auto);
    for writer in ws {
        let cfg = RecorderConfig {
            writer,
            ..RecorderConfig::default()
        };
        let (sum, bytes) = record(&cfg, &recs);
        assert_eq!(
            (sum.records, sum.bytes, sum.dropped),
            (recs.len() as u64, want.len() as u64, 0),
            "{writer}: {sum}"
        );
        assert!(bytes == want, "{writer}: differs from RecordWriter's bytes");
        assert_eq!(read_back(&bytes), recs);
    }
}

#[test]
fn a_push_allocates_nothing() {
    let recs = notifications(5_000, 11);
    for writer in writers() {
        let path = scratch("alloc.rec");
        let cfg = RecorderConfig {
            writer,
            ..RecorderConfig::default()
        };
        let mut r =
            Recorder::start(std::fs::File::create(&path).unwrap(), CREATED, SOURCE, &cfg).unwrap();
        // Warm-up: the first lap of nothing; the ring was touched at start.
        r.push(0, b"warm").unwrap();
        let (pushed, n) = polyarb_alloc_count::count(|| {
            recs.iter()
                .filter(|(t, p)| r.push(*t, p).unwrap() == Pushed::Queued)
                .count()
        });
        assert_eq!(pushed, recs.len(), "{writer}");
        assert_eq!(n.calls, 0, "{writer}: {} allocations pushing", n.calls);
        r.finish().unwrap();
    }
}
