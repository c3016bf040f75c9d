//! Proves that encoding and signing allocate nothing after warm-up, with a counting global
//! allocator. Counting is per thread and switched on only inside [`count`], so tests running
//! in parallel in this binary do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use alloy_primitives::{Address, U256};
use polyarb_signer::{Eip1559Tx, NonceTracker, Signer};

struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

thread_local! {
    // `const` initialisers and no destructors: reading these never allocates, so the
    // allocator can use them without recursing into itself.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: during thread teardown the slots may be gone; such allocations are not ours.
    let armed = ARMED.try_with(Cell::get).unwrap_or(false);
    if armed {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + size as u64));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; `record` only touches thread-local `Cell`s and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract; passed through as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap allocations (count, bytes requested) made by this thread while `f` runs.
fn count<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    ALLOCS.with(|c| c.set(0));
    BYTES.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, ALLOCS.with(Cell::get), BYTES.with(Cell::get))
}

#[test]
fn the_counter_sees_allocations() {
    // Without this the zero-allocation test below could pass with a broken counter.
    let (v, allocs, bytes) = count(|| std::hint::black_box(Vec::<u8>::with_capacity(100)));
    drop(v);
    assert_eq!((allocs, bytes), (1, 100));
}

#[test]
fn encode_and_sign_allocate_nothing_after_warm_up() {
    let signer =
        Signer::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646")
            .expect("valid key");
    let calldata: Vec<u8> = (0..300u16).map(|i| i.to_le_bytes()[0]).collect();
    let mut nonces = NonceTracker::new(5);
    let mut buf = [0u8; 512];
    let tx = |nonce: u64, input: &'static [u8]| Eip1559Tx {
        chain_id: 137,
        nonce,
        max_priority_fee_per_gas: 30_000_000_000,
        max_fee_per_gas: 250_000_000_000,
        gas_limit: 600_000,
        to: Address::repeat_byte(0xab),
        value: U256::ZERO,
        input,
    };
    let calldata: &'static [u8] = calldata.leak();

    // Warm-up: first use of anything lazily initialised.
    signer
        .sign_eip1559(&tx(nonces.next(), calldata), &mut buf)
        .expect("fits");

    let (lens, allocs, bytes) = count(|| {
        let mut lens = [0usize; 4];
        for (i, input) in [&[][..], &[0x7f], &calldata[..4], calldata]
            .into_iter()
            .enumerate()
        {
            let t = tx(nonces.next(), input);
            let hash = t.signing_hash();
            let signed = signer.sign_eip1559(&t, &mut buf).expect("fits");
            lens[i] = signed.len;
            std::hint::black_box((hash, signed));
        }
        lens
    });
    assert!(lens.iter().all(|&l| l > 0));
    assert_eq!(
        (allocs, bytes),
        (0, 0),
        "heap allocations (count, bytes) in encode + sign"
    );
}
