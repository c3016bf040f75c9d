//! A by-hand measurement (not a benchmark with a pass/fail): records/s through `RecordWriter`
//! (the old path: encode and `write` on the calling thread) and through the recorder with each
//! backend, for notification-sized payloads, end to end (every byte written and `fdatasync`ed),
//! plus the socket thread's cost per push while the ring has room.
//!
//! `cargo run --release -p polyarb-recorder --example throughput [N] [DIR]`

use std::{
    fs::File,
    io::BufWriter,
    path::PathBuf,
    time::{Duration, Instant},
};

use polyarb_feeds::RecordWriter;
use polyarb_recorder::{Pushed, Recorder, RecorderConfig, WriterChoice};

fn payloads(n: usize) -> Vec<Vec<u8>> {
    let mut x = 0x1234_5678_u64;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 600 + (x % 600) as usize;
            let mut p = format!(r#"{{"jsonrpc":"2.0","method":"eth_subscription","n":{i},"d":""#)
                .into_bytes();
            p.resize(len - 2, b'a' + (i % 26) as u8);
            p.extend_from_slice(b"\"}");
            p
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{:>10.0} records/s ({:.0} ns/record)",
        n as f64 / d.as_secs_f64(),
        d.as_nanos() as f64 / n as f64
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let ps = payloads(n);
    let bytes: usize = ps.iter().map(|p| p.len() + 20).sum();
    println!(
        "{n} payloads, {:.1} MiB of records, files in {}",
        bytes as f64 / (1 << 20) as f64,
        dir.display()
    );
    let path = dir.join("polyarb-throughput.rec");

    // RecordWriter on the calling thread, then fdatasync, as the baseline.
    let start = Instant::now();
    let mut w =
        RecordWriter::new(BufWriter::new(File::create(&path).unwrap()), 1, "bench").unwrap();
    for (i, p) in ps.iter().enumerate() {
        w.write(i as u64, p).unwrap();
    }
    let file = w.into_inner().unwrap().into_inner().unwrap();
    file.sync_data().unwrap();
    println!(
        "RecordWriter (calling thread)   {}",
        rate(n, start.elapsed())
    );
    let want = std::fs::read(&path).unwrap();

    for writer in [WriterChoice::Plain, WriterChoice::Uring] {
        let cfg = RecorderConfig {
            writer,
            ..RecorderConfig::default()
        };
        let file = File::create(&path).unwrap();
        let start = Instant::now();
        let mut r = Recorder::start(file, 1, "bench", &cfg).unwrap();
        let started = start.elapsed();
        let t0 = Instant::now();
        for (i, p) in ps.iter().enumerate() {
            assert_eq!(r.push(i as u64, p).unwrap(), Pushed::Queued);
        }
        let pushed = t0.elapsed();
        let backend = r.backend().to_string();
        let sum = r.finish().unwrap();
        let total = t0.elapsed();
        assert!(
            std::fs::read(&path).unwrap() == want,
            "{writer}: not RecordWriter's bytes"
        );
        println!(
            "recorder, {backend:<26} {} end to end; pushes {:.0} ns each; start {:.1} ms; {} writes, {} waited (longest {:.1} ms)",
            rate(n, total),
            pushed.as_nanos() as f64 / n as f64,
            started.as_secs_f64() * 1e3,
            sum.writes,
            sum.waited,
            sum.longest_wait.as_secs_f64() * 1e3
        );

        // The socket thread's cost while the ring has room: bursts of 10,000 (about 9 MB, under
        // the 16 MiB ring), a pause between them for the writer to catch up.
        let mut r = Recorder::start(File::create(&path).unwrap(), 1, "bench", &cfg).unwrap();
        let mut spent = Duration::ZERO;
        let mut count = 0;
        for burst in ps.chunks(10_000).take(20) {
            let t = Instant::now();
            for p in burst {
                r.push(0, p).unwrap();
            }
            spent += t.elapsed();
            count += burst.len();
            std::thread::sleep(Duration::from_millis(30));
        }
        let sum = r.finish().unwrap();
        println!(
            "recorder, {:<26} push with room: {:.0} ns each over {count} ({} waited)",
            sum.backend.to_string(),
            spent.as_nanos() as f64 / count as f64,
            sum.waited
        );
    }
    let _ = std::fs::remove_file(&path);
}
