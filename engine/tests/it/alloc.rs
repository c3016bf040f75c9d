//! Proof that `Engine::on_frame` does not allocate once the engine is built.
//!
//! This test binary's global allocator counts allocations per thread (a thread-local counter,
//! so tests running in parallel on other threads do not disturb a measurement).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use polyarb_core::FeedFrame;
use polyarb_core::{Engine, SearchParams, U112_MAX};

use crate::common::*;

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls per thread.
struct Counting;

thread_local! {
    // `const` init and a `Cell<u64>` (no destructor): touching it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // `try_with` fails only during thread teardown; an allocation there is not ours to count.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; counting touches no memory
// the allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same `layout` contract as our caller's; forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the number of allocations this thread made in it.
fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (r, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn the_counter_sees_allocations() {
    let (v, n) = count_allocations(|| black_box(Vec::<u64>::with_capacity(16)));
    assert!(n >= 1, "counting allocator missed an allocation");
    drop(v);
}

#[test]
fn on_frame_does_not_allocate() {
    let (spec, mut model) = market(&[
        Q_MATIC_USDC_POOL,
        P_MATIC_USDC_POOL,
        Q_WETH_MATIC_POOL,
        P_WETH_USDC_POOL,
    ]);
    let mut engine = Engine::new(&spec, SearchParams::new(WMATIC, vec![WMATIC, USDC])).unwrap();

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

    let (found, n) = count_allocations(|| {
        let mut found = 0u32;
        for f in &frames {
            if !black_box(engine.on_frame(black_box(f))).is_empty() {
                found += 1;
            }
        }
        found
    });
    assert_eq!(n, 0, "on_frame allocated {n} times");
    // The measurement covered the whole search, sizing and frame building.
    assert!(
        found >= 4,
        "only {found} opportunities; the hot path was not exercised"
    );
    let s = engine.stats();
    assert!(s.sized >= 4 && s.unknown_pool == 1 && s.removed == 1 && s.rejected == 1);
    assert_eq!(s.stale_skipped, 2);
    assert!(s.stale_cycles >= 1);
}
