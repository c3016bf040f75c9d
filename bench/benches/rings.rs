//! Round trip of a 192-byte `FeedFrame` between two pinned threads through `rtrb` (the
//! pipeline's ring) and `crossbeam-channel` (the baseline), plus the same push + pop on one
//! thread: the harness-overhead baseline with no cross-core traffic.
//!
//! `cargo bench -p polyarb-bench --bench rings`
//!
//! Criterion reports the mean round trip per sample. For per-round-trip p50/p99 (the way
//! REFERENCE.md states its ring numbers) run the `latency-report` binary.

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use polyarb_bench::rings::{
    Crossbeam, Pins, Rtrb, Spsc, push_pop_same_thread, ring_capacity, round_trips, test_frame,
};

fn cross_thread<Q: Spsc>(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("rings/{}", Q::NAME));
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    g.bench_function("round_trip_two_threads", |b| {
        b.iter_custom(|iters| round_trips::<Q>(iters, Pins::TWO_CORES))
    });
    g.bench_function("push_pop_same_thread_baseline", |b| {
        let (mut tx, mut rx) = Q::with_capacity(ring_capacity());
        let f = test_frame();
        b.iter(|| black_box(push_pop_same_thread::<Q>(&mut tx, &mut rx, black_box(f))))
    });
    g.finish();
}

fn rings(c: &mut Criterion) {
    cross_thread::<Rtrb>(c);
    cross_thread::<Crossbeam>(c);
}

criterion_group!(benches, rings);
criterion_main!(benches);
