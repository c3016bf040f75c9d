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
