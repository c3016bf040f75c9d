//! Proof that `Engine::on_frame` does not allocate once the engine is built.
//!
//! This test binary's global allocator is `polyarb_alloc_count`'s: it counts allocations per
//! thread, so tests running in parallel on other threads do not disturb a measurement.

use std::hint::black_box;

use polyarb_alloc_count::{Counting, count};
use polyarb_core::FeedFrame;
use polyarb_core::{Engine, SearchParams, U112_MAX};

use crate::common::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn on_frame_does_not_allocate() {
    let (spec, mut model) = market(&[
        Q_MATIC_USDC_POOL,
        P_MATIC_USDC_POOL,
        Q_WETH_MATIC_POOL,
        P_WETH_USDC_POOL,
    ]);
    // The removed log below takes the stale path, without the undo journal (whose own proof
    // is in engine/core/tests/reorg.rs). Routes priced through each other (`chain_routes`), so
    // the held-pool pricing is on the measured path too.
    let no_journal = SearchParams {
        reorg_depth: 0,
        chain_routes: true,
        ..SearchParams::new(WMATIC, vec![WMATIC, USDC])
    };
    let mut engine = Engine::new(&spec, no_journal).unwrap();

    // Every path of `on_frame`, built before measuring (building frames is the test's cost).
    let b = SNAPSHOT + 1;
    let mut frames: Vec<FeedFrame> = Vec::new();
    frames.push(head(b, 40_000_000_000));
    for (i, usdc) in [530_000u128, 500_000, 470_000, 545_000]
        .into_iter()
        .enumerate()
    {
        let log = u32::try_from(i).unwrap();
        frames.push(sync_model(
            &mut model,
            P_MATIC_USDC,
            b,
            log,
            (WMATIC, 1_000_000 * units(18)),
            (USDC, usdc * units(6)),
        ));
    }
    frames.push(sync_model(
        &mut model,
        P_WETH_USDC,
        b,
        10,
        (WETH, 400 * units(18)),
        (USDC, 760_000 * units(6)),
    ));
    frames.push(sync(STRANGER, b, 11, 1, 1)); // unknown pool
    frames.push(sync(P_MATIC_USDC, b, 0, 1, 1)); // old position
    frames.push(sync(P_MATIC_USDC, SNAPSHOT, 99, 1, 1)); // snapshot block
    frames.push(sync(P_MATIC_USDC, b, 12, U112_MAX + 1, 1)); // oversize
    let mut removed = sync(Q_MATIC_USDC, b, 13, 1, 1);
    removed.removed = 1;
    frames.push(removed);
    frames.push(sync_model(
        &mut model,
        P_MATIC_USDC,
        b,
        14,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 520_000 * units(6)),
    ));
    frames.push(sync_model(
        &mut model,
        Q_MATIC_USDC,
        b + 1,
        0,
        (WMATIC, 2_000_000 * units(18)),
        (USDC, 1_000_000 * units(6)),
    ));
    frames.push(FeedFrame::EMPTY);
    frames.push(head(b + 1, 35_000_000_000));

    let (found, n) = count(|| {
        let mut found = 0u32;
        for f in &frames {
            if !black_box(engine.on_frame(black_box(f))).is_empty() {
                found += 1;
            }
        }
        found
    });
    assert_eq!(n.calls, 0, "on_frame allocated: {n:?}");
    // The measurement covered the whole search, sizing and frame building.
    assert!(
        found >= 3,
        "only {found} opportunities; the hot path was not exercised"
    );
    let s = engine.stats();
    // Routes held their pools, and later searches priced them at the held state.
    assert!(s.holds >= 2 && s.in_flight_priced >= 1, "{s:?}");
    assert!(s.sized >= 4 && s.unknown_pool == 1 && s.removed == 1 && s.rejected == 1);
    assert_eq!(s.stale_skipped, 2);
    assert!(s.stale_cycles >= 1);
}

/// Feed-thread clock readings before the measurement starts: the warm-up (the first few
/// hundred payloads of the sample, which size every buffer and ring and touch every table).
pub(crate) const WARM_UP_READINGS: u64 = 600;

/// The threads the pipeline names, in [`WatchingClock`]'s slots.
pub(crate) const THREADS: [&str; 4] = [
    "polyarb-feed",
    "polyarb-engine",
    "polyarb-signer",
    "polyarb-fused",
];

/// A monotonic clock that also notes, per pipeline thread, that thread's allocation count
/// (this binary's counting allocator) at its first and last reading after the warm-up. Every
/// stage reads the clock on its hot path (the feed stage per payload and per write, the engine
/// per search that finds routes, the signer per transaction), so the difference is what the
/// thread allocated while it ran the measured part of the replay.
#[derive(Debug)]
struct WatchingClock {
    origin: std::time::Instant,
    feed_readings: std::sync::atomic::AtomicU64,
    warm_at_ns: std::sync::atomic::AtomicU64,
    first: [std::sync::atomic::AtomicU64; 4],
    last: [std::sync::atomic::AtomicU64; 4],
    seen: [std::sync::atomic::AtomicBool; 4],
}

impl WatchingClock {
    fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
            feed_readings: Default::default(),
            warm_at_ns: std::sync::atomic::AtomicU64::new(u64::MAX),
            first: Default::default(),
            last: Default::default(),
            seen: Default::default(),
        }
    }

    /// (thread, allocation calls in the measured window) for each thread that read the clock
    /// after the warm-up.
    fn allocations(&self) -> Vec<(&'static str, u64)> {
        use std::sync::atomic::Ordering::Acquire;
        (0..THREADS.len())
            .filter(|&i| self.seen[i].load(Acquire))
            .map(|i| {
                (
                    THREADS[i],
                    self.last[i].load(Acquire) - self.first[i].load(Acquire),
                )
            })
            .collect()
    }
}

impl polyarb_engine::clock::Clock for WatchingClock {
    fn now_ns(&self) -> u64 {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
        let calls = polyarb_alloc_count::calls_so_far();
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let slot = std::thread::current()
            .name()
            .and_then(|n| THREADS.iter().position(|t| *t == n));
        if let Some(i) = slot {
            if (i == 0 || i == 3) && self.feed_readings.fetch_add(1, AcqRel) == WARM_UP_READINGS {
                self.warm_at_ns.store(now, Release);
            }
            if now >= self.warm_at_ns.load(Acquire) {
                if !self.seen[i].swap(true, AcqRel) {
                    self.first[i].store(calls, Release);
                }
                self.last[i].store(calls, Release);
            }
        }
        now
    }
}

/// The assembled pipeline, in both modes, replaying the shipped sample through its real
/// threads, rings, decoder, engine and signer (coupons included): after the warm-up no stage
/// thread allocates. (The replay port stands in for the socket; the websocket client's own
/// proof is feeds/tests/it/alloc.rs.)
#[test]
fn the_assembled_pipeline_does_not_allocate_after_warm_up() {
    use crate::replay::{sample, scratch};
    for (mode, threads) in [
        (
            "pipelined",
            &["polyarb-feed", "polyarb-engine", "polyarb-signer"][..],
        ),
        ("fused", &["polyarb-fused"][..]),
    ] {
        let text = std::fs::read_to_string(sample("toml")).unwrap();
        let config = scratch(&format!("alloc-{mode}")).join("polyarb.toml");
        std::fs::write(&config, format!("{text}\n[pipeline]\nmode = \"{mode}\"\n")).unwrap();
        let clock = std::sync::Arc::new(WatchingClock::new());
        let s = polyarb_engine::app::replay::replay_clocked(
            &crate::placement::sample_args(config),
            std::sync::Arc::clone(&clock),
        )
        .unwrap();
        let warm = clock.warm_at_ns.load(std::sync::atomic::Ordering::Acquire);
        assert_work_after_warm_up(&s, warm, mode);
        let seen = clock.allocations();
        for t in threads {
            assert!(
                seen.iter().any(|(name, _)| name == t),
                "{mode}: {t} never read the clock after the warm-up: {seen:?}"
            );
        }
        assert!(
            seen.iter().all(|&(_, n)| n == 0),
            "{mode}: a stage allocated after the warm-up: {seen:?}"
        );
    }
}

/// The measured window of a replay held real work: opportunities found after the warm-up ended
/// at `warm_at_ns`, and coupon-signed transactions.
pub(crate) fn assert_work_after_warm_up(
    s: &polyarb_engine::app::replay::ReplaySummary,
    warm_at_ns: u64,
    mode: &str,
) {
    let after = s
        .reports
        .iter()
        .filter(|r| r.opp.detect_ns > warm_at_ns)
        .count();
    assert!(
        after >= 100,
        "{mode}: only {after} opportunities after the warm-up"
    );
    assert!(
        s.outcome.signer.coupons.used > 0,
        "{mode}: no coupon signed"
    );
}
