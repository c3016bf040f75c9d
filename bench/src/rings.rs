//! SPSC ping-pong between two threads: the pinger pushes a [`FeedFrame`] into one ring, the
//! echo thread pops it and pushes it back through a second ring, the pinger pops the reply.
//! One round trip is two ring hand-offs across cores, the way a frame crosses the pipeline's
//! feed → engine ring and an opportunity comes back on another.
//!
//! Both sides busy-poll (`try_push`/`try_pop` with `spin_loop`), as pinned pipeline stages do;
//! neither queue ever blocks or parks a thread here.

use std::{
    hint::{black_box, spin_loop},
    sync::{
        Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use polyarb_core::FeedFrame;
use polyarb_engine::placement::{Pinned, pin_current};

/// A bounded single-producer single-consumer queue, reduced to what a ping-pong needs.
pub trait Spsc {
    /// Name in bench ids and reports.
    const NAME: &'static str;
    /// Sending half.
    type Tx: Send;
    /// Receiving half.
    type Rx: Send;
    /// A queue holding up to `capacity` frames.
    fn with_capacity(capacity: usize) -> (Self::Tx, Self::Rx);
    /// Enqueues `v`, or hands it back if the queue is full.
    #[allow(
        clippy::result_large_err,
        reason = "a full queue hands the frame back by value, as rtrb's PushError::Full(T) does"
    )]
    fn try_push(tx: &mut Self::Tx, v: FeedFrame) -> Result<(), FeedFrame>;
    /// Dequeues the oldest frame, if any.
    fn try_pop(rx: &mut Self::Rx) -> Option<FeedFrame>;
}

/// `rtrb::RingBuffer`, the pipeline's ring.
#[derive(Debug)]
pub enum Rtrb {}

impl Spsc for Rtrb {
    const NAME: &'static str = "rtrb";
    type Tx = rtrb::Producer<FeedFrame>;
    type Rx = rtrb::Consumer<FeedFrame>;
    fn with_capacity(capacity: usize) -> (Self::Tx, Self::Rx) {
        rtrb::RingBuffer::new(capacity)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: FeedFrame) -> Result<(), FeedFrame> {
        tx.push(v).map_err(|rtrb::PushError::Full(v)| v)
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Option<FeedFrame> {
        rx.pop().ok()
    }
}

/// `crossbeam::channel::bounded`, an MPMC channel used one-to-one: the baseline.
#[derive(Debug)]
pub enum Crossbeam {}

impl Spsc for Crossbeam {
    const NAME: &'static str = "crossbeam-channel";
    type Tx = crossbeam::channel::Sender<FeedFrame>;
    type Rx = crossbeam::channel::Receiver<FeedFrame>;
    fn with_capacity(capacity: usize) -> (Self::Tx, Self::Rx) {
        crossbeam::channel::bounded(capacity)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: FeedFrame) -> Result<(), FeedFrame> {
        tx.try_send(v).map_err(|e| e.into_inner())
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Option<FeedFrame> {
        rx.try_recv().ok()
    }
}

/// Ring capacity, frames: the pipeline's default (`[pipeline].ring_capacity`).
pub fn ring_capacity() -> usize {
    polyarb_engine::config::PipelineConfig::default().ring_capacity
}

/// Cores for the two threads (indices as `core_affinity` lists them); `None` = unpinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pins {
    /// The thread that sends and times.
    pub pinger: Option<usize>,
    /// The thread that echoes.
    pub echo: Option<usize>,
}

impl Pins {
    /// Pinger on core 0, echo on core 1.
    pub const TWO_CORES: Self = Self {
        pinger: Some(0),
        echo: Some(1),
    };
}

/// A frame with every byte in use, so a copy moves all 192 bytes.
pub fn test_frame() -> FeedFrame {
    let mut f = FeedFrame::EMPTY;
    f.block_number = 0xa7;
    f.address = [0x5a; 20];
    f.words = [[0xc3; 32]; polyarb_core::FRAME_WORDS];
    f
}

/// Pins the calling thread; a failure is printed once per process (it skews every number).
pub fn pin(role: &'static str, core: Option<usize>) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if matches!(pin_current(role, core), Pinned::Failed(_)) && !WARNED.swap(true, Ordering::Relaxed)
    {
        warn(&format!(
            "warning: could not pin the {role} thread to core {core:?}; ring latencies are unpinned"
        ));
    }
}

#[allow(
    clippy::print_stderr,
    reason = "a failed pin must be visible in bench output; there is no log subscriber here"
)]
fn warn(msg: &str) {
    eprintln!("{msg}");
}

#[inline]
fn push_spin<Q: Spsc>(tx: &mut Q::Tx, mut v: FeedFrame) {
    loop {
        match Q::try_push(tx, v) {
            Ok(()) => return,
            Err(back) => {
                v = back;
                spin_loop();
            }
        }
    }
}

#[inline]
fn pop_spin<Q: Spsc>(rx: &mut Q::Rx) -> FeedFrame {
    loop {
        if let Some(v) = Q::try_pop(rx) {
            return v;
        }
        spin_loop();
    }
}

/// Runs `trips` round trips: the echo thread and `pinger` each on their own scoped thread,
/// pinned, released together by a barrier. `pinger` gets the outbound sender and the reply
/// receiver and must do exactly `trips` round trips.
fn ping_pong<Q: Spsc, T: Send>(
    trips: u64,
    pins: Pins,
    pinger: impl FnOnce(&mut Q::Tx, &mut Q::Rx) -> T + Send,
) -> T {
    let (mut out_tx, mut out_rx) = Q::with_capacity(ring_capacity());
    let (mut back_tx, mut back_rx) = Q::with_capacity(ring_capacity());
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let barrier = &barrier;
        s.spawn(move || {
            pin("bench-echo", pins.echo);
            barrier.wait();
            for _ in 0..trips {
                let f = pop_spin::<Q>(&mut out_rx);
                push_spin::<Q>(&mut back_tx, f);
            }
        });
        let timed = s.spawn(move || {
            pin("bench-pinger", pins.pinger);
            barrier.wait();
            pinger(&mut out_tx, &mut back_rx)
        });
        timed
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Wall time of `trips` back-to-back round trips, from the barrier to the last reply (for
/// criterion's `iter_custom`). Thread start-up and pinning are outside the timed span.
pub fn round_trips<Q: Spsc>(trips: u64, pins: Pins) -> Duration {
    ping_pong::<Q, _>(trips, pins, |tx, rx| {
        let mut f = test_frame();
        let start = Instant::now();
        for i in 0..trips {
            f.recv_ns = i;
            push_spin::<Q>(tx, f);
            f = black_box(pop_spin::<Q>(rx));
        }
        start.elapsed()
    })
}

/// Each of `trips` round trips timed on its own, ns, into `out` (cleared first; reserve it
/// beforehand so the loop does not allocate). Every sample includes one `Instant::now()`.
pub fn round_trip_samples<Q: Spsc>(trips: u64, pins: Pins, out: &mut Vec<u64>) {
    out.clear();
    ping_pong::<Q, _>(trips, pins, move |tx, rx| {
        let mut f = test_frame();
        let mut prev = Instant::now();
        for i in 0..trips {
            f.recv_ns = i;
            push_spin::<Q>(tx, f);
            f = black_box(pop_spin::<Q>(rx));
            let now = Instant::now();
            out.push(u64::try_from((now - prev).as_nanos()).unwrap_or(u64::MAX));
            prev = now;
        }
    });
}

/// The harness-overhead baseline: one push and one pop on the calling thread, no second core
/// involved (the frame copies and the queue's own bookkeeping, without cache-line transfers).
#[inline]
pub fn push_pop_same_thread<Q: Spsc>(tx: &mut Q::Tx, rx: &mut Q::Rx, f: FeedFrame) -> FeedFrame {
    push_spin::<Q>(tx, f);
    pop_spin::<Q>(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_come_back<Q: Spsc>() {
        let mut got = Vec::with_capacity(100);
        round_trip_samples::<Q>(100, Pins::TWO_CORES, &mut got);
        assert_eq!(got.len(), 100);
        let (mut tx, mut rx) = Q::with_capacity(2);
        let f = test_frame();
        assert_eq!(push_pop_same_thread::<Q>(&mut tx, &mut rx, f), f);
        assert!(Q::try_pop(&mut rx).is_none());
        assert!(Q::try_push(&mut tx, f).is_ok());
        assert!(Q::try_push(&mut tx, f).is_ok());
        assert_eq!(Q::try_push(&mut tx, f), Err(f));
    }

    #[test]
    fn rtrb_round_trips() {
        frames_come_back::<Rtrb>();
        round_trips::<Rtrb>(10, Pins::TWO_CORES);
    }

    #[test]
    fn crossbeam_round_trips() {
        frames_come_back::<Crossbeam>();
        round_trips::<Crossbeam>(10, Pins::TWO_CORES);
    }
}
