//! Per-round-trip latency percentiles of the SPSC ping-pong (`polyarb_bench::rings`), for
//! comparison with REFERENCE.md's p50/p99 figures, which criterion's per-sample means do not
//! give. Prints a table; asserts nothing.
//!
//! `cargo run --profile bench -p polyarb-bench --bin latency-report [round trips, default 200000]`

use std::time::Instant;

use polyarb_bench::rings::{Crossbeam, Pins, Rtrb, Spsc, round_trip_samples};

/// Round trips run and discarded first (page faults, frequency ramp, ring slots first touched).
const WARM_UP: u64 = 20_000;

fn main() {
    let trips: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut samples = Vec::with_capacity(usize::try_from(trips.max(WARM_UP)).unwrap_or(0));

    println!("SPSC ping-pong round trip of a 192-byte FeedFrame, pinger core 0, echo core 1");
    println!("{trips} round trips each, after {WARM_UP} discarded; ns");
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "", "min", "p50", "p90", "p99", "p99.9", "max"
    );
    clock_overhead(&mut samples, trips);
    row("Instant::now() pair (harness)", &mut samples);
    run::<Rtrb>(&mut samples, trips);
    run::<Crossbeam>(&mut samples, trips);
}

fn run<Q: Spsc>(samples: &mut Vec<u64>, trips: u64) {
    round_trip_samples::<Q>(WARM_UP, Pins::TWO_CORES, samples);
    round_trip_samples::<Q>(trips, Pins::TWO_CORES, samples);
    // Before sorting: p50 of each tenth of the run, in time order. A step between tenths means
    // the machine changed under the run (on a VM, the host moving a vCPU next to the other
    // one's SMT sibling or away from it), not the queue.
    let tenths: Vec<String> = samples
        .chunks(samples.len().div_ceil(10).max(1))
        .map(|c| {
            let mut c = c.to_vec();
            c.sort_unstable();
            c[c.len() / 2].to_string()
        })
        .collect();
    row(Q::NAME, samples);
    println!("{:<28} p50 per tenth: {}", "", tenths.join(" "));
}

/// Each round-trip sample holds one clock read; this is what a read costs here.
fn clock_overhead(samples: &mut Vec<u64>, n: u64) {
    samples.clear();
    let mut prev = Instant::now();
    for _ in 0..n {
        let now = Instant::now();
        samples.push(u64::try_from((now - prev).as_nanos()).unwrap_or(u64::MAX));
        prev = now;
    }
}

fn row(name: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    let q = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples.get(i).copied().unwrap_or(0)
    };
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        name,
        q(0.0),
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        q(1.0)
    );
}
