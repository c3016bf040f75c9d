//! The pipeline clock. Stages never read time themselves: the edge stamps frames with
//! [`Clock::now_ns`] and the core only compares stamps, so replay and tests are deterministic.

use std::time::Instant;

/// A source of nanosecond timestamps. All stamps in one run come from one clock, so they compare.
pub trait Clock: Send + Sync {
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
}
