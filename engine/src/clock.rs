//! The pipeline clock. Stages never read time themselves: the edge stamps frames with
//! [`Clock::now_ns`] and the core only compares stamps, so replay and tests are deterministic.
//! Two implementations: [`MonoClock`], the real one, and [`ManualClock`], set by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A source of nanosecond timestamps. All stamps in one run come from one clock, so they compare.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Nanoseconds since the clock's origin. Monotonic.
    fn now_ns(&self) -> u64;
}

/// Monotonic clock (`Instant`, i.e. `CLOCK_MONOTONIC`), origin at construction.
#[derive(Clone, Copy, Debug)]
pub struct MonoClock {
    origin: Instant,
}

impl MonoClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonoClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonoClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        // u64 ns covers 584 years of uptime; saturate rather than wrap.
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A clock that reads what it was set to: the deterministic one, for tests and for driving the
/// stages or the replay pacing through a chosen timeline. Shared behind an `Arc` by the code
/// that reads it and the code that moves it.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ns: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_ns`.
    pub fn at(now_ns: u64) -> Self {
        Self {
            now_ns: AtomicU64::new(now_ns),
        }
    }

    /// Moves the clock to `now_ns`. Never backwards: an earlier time is ignored, so the clock
    /// stays monotonic as [`Clock`] promises.
    pub fn set(&self, now_ns: u64) {
        self.now_ns.fetch_max(now_ns, Ordering::Relaxed);
    }

    /// Moves the clock `ns` forward (saturating).
    pub fn advance(&self, ns: u64) {
        let _ = self
            .now_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(ns))
            });
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.now_ns.load(Ordering::Relaxed)
    }
}

/// Wall-clock time, ns since the Unix epoch; what recordings store (comparable across runs).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_clock_counts_from_its_construction_and_never_goes_back() {
        // Our part: the origin is the clock's construction, one clock's readings never
        // decrease, and copies share the origin (replay pacing and the stages use copies).
        let early = MonoClock::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let late = MonoClock::new();
        let copy = early;
        let (a, b, c) = (late.now_ns(), early.now_ns(), copy.now_ns());
        assert!(a < b, "a later clock reads less: {a} vs {b}");
        assert!(b <= c, "a copy reads the same time base: {b} vs {c}");
        let mut last = 0;
        for _ in 0..10_000 {
            let t = early.now_ns();
            assert!(t >= last);
            last = t;
        }
    }

    #[test]
    fn manual_clock_reads_what_it_was_set_to_and_never_goes_back() {
        let c = ManualClock::at(5);
        assert_eq!(c.now_ns(), 5);
        c.advance(10);
        assert_eq!(c.now_ns(), 15);
        c.set(100);
        assert_eq!(c.now_ns(), 100);
        c.set(7);
        assert_eq!(c.now_ns(), 100, "set backwards is ignored");
        c.advance(u64::MAX);
        assert_eq!(c.now_ns(), u64::MAX, "saturates");
    }
}
