//! A counting global allocator for tests that prove "no allocation on the hot path" (STYLE.md):
//! the system allocator, counting the calls and bytes each thread asks for. One copy for every
//! test binary that needs it, so the proofs all rest on the same few lines of `unsafe`.
//!
//! A test binary installs it and measures a closure:
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: polyarb_alloc_count::Counting = polyarb_alloc_count::Counting;
//!
//! fn main() {
//!     let (sum, n) = polyarb_alloc_count::count(|| (1..=10u64).sum::<u64>());
//!     assert_eq!((sum, n.calls), (55, 0));
//! }
//! ```
//!
//! Counts are per thread, so tests running in parallel in one binary do not disturb each other.
//! [`count`] refuses to measure (panics) when [`Counting`] is not the binary's global allocator,
//! so a forgotten `#[global_allocator]` fails the test instead of proving "zero" vacuously.
//!
//! Not for: production builds, benchmarks of allocation speed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls and the bytes they
/// ask for, per thread. `dealloc` is not counted: freeing is not what the proofs are about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    // `const` initialisers and `Cell<u64>` (no destructor): touching these never allocates, so
    // the allocator can use them without recursing into itself.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with` fails only while the thread is being torn down; an allocation then is not a
    // measurement, and an allocator must not panic.
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; counting touches only
// thread-local `Cell`s, never the memory handed out, and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size); passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`; the caller
        // upholds `realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What one thread asked the allocator for while a closure ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocations {
    /// `alloc`, `alloc_zeroed` and `realloc` calls.
    pub calls: u64,
    /// Bytes those calls asked for (a `realloc` counts its new size).
    pub bytes: u64,
}

/// This thread's allocation calls so far (since the thread started).
pub fn calls_so_far() -> u64 {
    CALLS.with(Cell::get)
}

/// Runs `f` and returns its result with what this thread allocated while it ran.
///
/// # Panics
/// If [`Counting`] is not the binary's `#[global_allocator]` (a test allocation was not seen).
pub fn count<R>(f: impl FnOnce() -> R) -> (R, Allocations) {
    assert_installed();
    let (calls, bytes) = (CALLS.with(Cell::get), BYTES.with(Cell::get));
    let out = f();
    let seen = Allocations {
        calls: CALLS.with(Cell::get) - calls,
        bytes: BYTES.with(Cell::get) - bytes,
    };
    (out, seen)
}

/// Panics unless allocations on this thread reach [`Counting`].
pub fn assert_installed() {
    let before = CALLS.with(Cell::get);
    drop(std::hint::black_box(Box::new(0u64)));
    assert!(
        CALLS.with(Cell::get) > before,
        "polyarb_alloc_count::Counting is not this binary's #[global_allocator]: nothing is counted"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn counts_calls_and_bytes_of_this_thread_only() {
        let (v, n) = count(|| std::hint::black_box(Vec::<u64>::with_capacity(16)));
        assert_eq!(
            n,
            Allocations {
                calls: 1,
                bytes: 128
            }
        );
        let (_, grown) = count(|| {
            let mut v = v;
            v.reserve_exact(32);
            v
        });
        // Room for 32 elements (the vector is empty): one realloc to 256 bytes.
        assert_eq!(
            grown,
            Allocations {
                calls: 1,
                bytes: 32 * 8
            }
        );
        // Another thread's allocations are not this thread's.
        let ((), quiet) = count(|| {
            std::thread::scope(|s| {
                s.spawn(|| drop(std::hint::black_box(vec![0u8; 4096])));
            });
        });
        assert!(quiet.bytes < 4096, "{quiet:?}");
        let (sum, none) = count(|| (1..=10u64).sum::<u64>());
        assert_eq!((sum, none), (55, Allocations::default()));
    }
}
