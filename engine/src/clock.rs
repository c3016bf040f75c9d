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
    fn mono_clock_is_monotonic() {
        let c = MonoClock::new();
        let a = c.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let b = c.now_ns();
        assert!(b > a, "{b} <= {a}");
        assert!(
            b - a >= 1_000_000,
            "slept 1 ms but clock moved {} ns",
            b - a
        );
    }
}
