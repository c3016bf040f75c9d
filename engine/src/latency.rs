//! Latency histograms: detection (frame read → opportunity) and submission (frame read → signed
//! transaction bytes written). Recorded in ns with `hdrhistogram`; printed in µs.

use std::fmt;

use hdrhistogram::Histogram;

/// Largest latency a histogram tracks, ns (60 s). Larger values are clamped, and counted.
const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// One latency series.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
    clamped: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty series: 1 ns .. 60 s at 3 significant digits. Allocates once, here; `record`
    /// never allocates (fixed bounds, no auto-resize).
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3)
            .unwrap_or_else(|_| unreachable!("static bounds are valid"));
        Self { hist, clamped: 0 }
    }

    /// Records one latency, ns. Zero is recorded as 1 ns (the histogram's floor).
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(1, MAX_TRACKABLE_NS);
        if v != ns && ns > MAX_TRACKABLE_NS {
            self.clamped += 1;
        }
        // Cannot fail: v is within the histogram's bounds.
        let _ = self.hist.record(v);
    }

    /// Records `end_ns - start_ns` (0 if the clock stamps are out of order).
    #[inline]
    pub fn record_span(&mut self, start_ns: u64, end_ns: u64) {
        self.record(end_ns.saturating_sub(start_ns));
    }

    /// Adds another series' samples.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.hist.add(&other.hist);
        self.clamped += other.clamped;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Value at quantile `q` (0..=1), ns; 0 when empty.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    /// Largest sample, ns; 0 when empty.
    pub fn max_ns(&self) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.max()
        }
    }
}

/// The two series a run reports.
#[derive(Debug, Clone, Default)]
pub struct LatencyReport {
    /// Frame read → opportunity emitted.
    pub detection: Latency,
    /// Frame read → signed transaction written (socket or sink).
    pub submission: Latency,
}

impl fmt::Display for LatencyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "latency µs", "count", "p50", "p90", "p99", "p99.9", "max"
        )?;
        for (name, l) in [
            ("detection", &self.detection),
            ("submission", &self.submission),
        ] {
            let us = |ns: u64| ns as f64 / 1_000.0;
            writeln!(
                f,
                "{:<12} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                name,
                l.count(),
                us(l.quantile_ns(0.50)),
                us(l.quantile_ns(0.90)),
                us(l.quantile_ns(0.99)),
                us(l.quantile_ns(0.999)),
                us(l.max_ns()),
            )?;
            if l.clamped > 0 {
                writeln!(
                    f,
                    "  ({} {name} samples above 60 s were clamped)",
                    l.clamped
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_merge() {
        let mut a = Latency::new();
        for ns in 1..=1000u64 {
            a.record(ns * 1000);
        }
        assert_eq!(a.count(), 1000);
        let p50 = a.quantile_ns(0.5);
        assert!((499_000..=501_000).contains(&p50), "{p50}");
        let mut b = Latency::new();
        b.record_span(10, 5); // out of order → floor, still counted
        b.record(u64::MAX);
        a.merge(&b);
        assert_eq!(a.count(), 1002);
        assert_eq!(a.clamped, 1);
        assert!(a.max_ns() >= MAX_TRACKABLE_NS - MAX_TRACKABLE_NS / 1000);
        let table = LatencyReport {
            detection: a,
            submission: Latency::new(),
        }
        .to_string();
        assert!(
            table.contains("detection") && table.contains("p99.9"),
            "{table}"
        );
    }
}
