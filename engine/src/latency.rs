//! Latency histograms: detection (frame read → opportunity) and submission (frame read → signed
//! transaction bytes written). Recorded in ns with `hdrhistogram`; printed in µs.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

/// Largest latency a histogram tracks, ns (60 s). Larger values are clamped, and counted.
const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// Bucket bounds of a [`SharedLatency`]: the first, ns, and how many, each twice the one
/// before (5 µs to 42 s, the metrics' detection histogram's buckets).
pub const SHARED_FIRST_NS: u64 = 5_000;
/// See [`SHARED_FIRST_NS`].
pub const SHARED_BUCKETS: usize = 25;

/// A latency histogram other threads read while one thread records: a count per bucket
/// (`≤ SHARED_FIRST_NS · 2^k` ns, one more for larger) and the sum, as relaxed atomics. A
/// record is two uncontended atomic adds: no lock, no allocation, no system call, so a hot
/// stage may keep one.
#[derive(Debug)]
pub struct SharedLatency {
    counts: [AtomicU64; SHARED_BUCKETS + 1],
    sum_ns: AtomicU64,
}

impl Default for SharedLatency {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl SharedLatency {
    /// The bucket of `ns`: the least `k` with `ns ≤ SHARED_FIRST_NS · 2^k`, or the overflow.
    fn bucket(ns: u64) -> usize {
        let q = ns.div_ceil(SHARED_FIRST_NS);
        let k = if q <= 1 {
            0
        } else {
            (u64::BITS - (q - 1).leading_zeros()) as usize
        };
        k.min(SHARED_BUCKETS)
    }

    /// Counts one sample, ns.
    #[inline]
    pub fn record(&self, ns: u64) {
        self.counts[Self::bucket(ns)].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Each bucket's upper bound, seconds, with its cumulative count (the last is `+Inf`, the
    /// total), and the sum, seconds.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, f64) {
        let mut total = 0;
        let mut out = Vec::with_capacity(SHARED_BUCKETS + 1);
        for (k, c) in self.counts.iter().enumerate() {
            total += c.load(Ordering::Relaxed);
            let bound = if k < SHARED_BUCKETS {
                (SHARED_FIRST_NS << k) as f64 / 1e9
            } else {
                f64::INFINITY
            };
            out.push((bound, total));
        }
        (out, self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9)
    }
}

/// One latency series.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
    clamped: u64,
    /// Where each sample is also counted for the metrics thread, if anywhere.
    mirror: Option<Arc<SharedLatency>>,
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
        Self {
            hist,
            clamped: 0,
            mirror: None,
        }
    }

    /// An empty series whose samples are also counted in `mirror` (the metrics' view).
    pub fn mirrored(mirror: Option<Arc<SharedLatency>>) -> Self {
        Self {
            mirror,
            ..Self::new()
        }
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
        if let Some(m) = &self.mirror {
            m.record(ns);
        }
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

    /// Mean, ns; 0 when empty.
    pub fn mean_ns(&self) -> f64 {
        if self.hist.is_empty() {
            0.0
        } else {
            self.hist.mean()
        }
    }

    /// Samples above the 60 s bound, recorded as 60 s.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// (quantile, value ns) at HdrHistogram's percentile ticks (`ticks_per_half` per halving of
    /// the distance to 100 %), ending with the maximum at quantile 1: the points of a
    /// percentile plot. Empty when there are no samples.
    pub fn percentile_points(&self, ticks_per_half: u32) -> Vec<(f64, u64)> {
        if self.hist.is_empty() {
            return Vec::new();
        }
        self.hist
            .iter_quantiles(ticks_per_half.max(1))
            .map(|v| {
                (
                    v.quantile_iterated_to(),
                    self.hist.highest_equivalent(v.value_iterated_to()),
                )
            })
            .collect()
    }

    /// Writes the series as an HdrHistogram percentile distribution (the `.hgrm` text that
    /// HdrHistogram's `outputPercentileDistribution` prints and its online plotter reads),
    /// values divided by `unit_ns` (1,000: µs), 5 ticks per half distance.
    pub fn write_hgrm(&self, out: &mut dyn std::io::Write, unit_ns: f64) -> std::io::Result<()> {
        writeln!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        )?;
        let mut total = 0u64;
        if !self.hist.is_empty() {
            for v in self.hist.iter_quantiles(5) {
                total += v.count_since_last_iteration();
                let value = self.hist.highest_equivalent(v.value_iterated_to()) as f64 / unit_ns;
                let q = v.quantile_iterated_to();
                if q < 1.0 {
                    writeln!(
                        out,
                        "{value:>12.3} {q:>14.12} {total:>10} {:>14.2}",
                        1.0 / (1.0 - q)
                    )?;
                } else {
                    writeln!(out, "{value:>12.3} {q:>14.12} {total:>10}")?;
                }
            }
        }
        let (mean, sd, max) = if self.hist.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (
                self.hist.mean() / unit_ns,
                self.hist.stdev() / unit_ns,
                self.hist.max() as f64 / unit_ns,
            )
        };
        writeln!(
            out,
            "#[Mean    = {mean:>12.3}, StdDeviation   = {sd:>12.3}]"
        )?;
        writeln!(
            out,
            "#[Max     = {max:>12.3}, Total count    = {:>12}]",
            self.hist.len()
        )?;
        writeln!(
            out,
            "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
            self.hist.buckets(),
            self.hist.distinct_values()
        )
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

    /// Bounds worked out by hand: 5 µs, 10 µs, 20 µs, … each inclusive.
    #[test]
    fn shared_buckets_are_inclusive_doublings_of_five_microseconds() {
        for (ns, k) in [
            (0, 0),
            (1, 0),
            (5_000, 0),
            (5_001, 1),
            (10_000, 1),
            (10_001, 2),
            (20_000, 2),
            (5_000 << 24, 24),
            ((5_000 << 24) + 1, 25),
            (u64::MAX, 25),
        ] {
            assert_eq!(SharedLatency::bucket(ns), k, "{ns} ns");
        }
        let shared = Arc::new(SharedLatency::default());
        let mut l = Latency::mirrored(Some(Arc::clone(&shared)));
        for ns in [4_000, 7_000, 9_000, 1_000_000] {
            l.record(ns);
        }
        assert_eq!(l.count(), 4);
        let (b, sum) = shared.snapshot();
        assert_eq!(b.len(), SHARED_BUCKETS + 1);
        assert_eq!((b[0], b[1], b[2]), ((5e-6, 1), (1e-5, 3), (2e-5, 3)));
        // 1 ms lies in (640 µs, 1.28 ms]: bucket 8.
        assert_eq!((b[7].1, b[8].1), (3, 4));
        assert_eq!(b[SHARED_BUCKETS], (f64::INFINITY, 4));
        assert!((sum - 1_020_000e-9).abs() < 1e-12, "{sum}");
    }

    #[test]
    fn hgrm_lists_rising_percentiles_ending_at_the_max() {
        let mut l = Latency::new();
        for ns in 1..=1_000u64 {
            l.record(ns * 1_000);
        }
        let mut out = Vec::new();
        l.write_hgrm(&mut out, 1_000.0).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<(f64, f64, u64)> = text
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        assert!(
            rows.windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2)
        );
        let last = rows.last().unwrap();
        // 1,000 µs within the histogram's 3 significant digits; every sample counted.
        assert!((last.0 - 1_000.0).abs() <= 1.0, "{last:?}");
        assert_eq!((last.1, last.2), (1.0, 1_000));
        // The median row: about 500 µs at percentile 0.5.
        let mid = rows.iter().find(|r| r.1 >= 0.5).unwrap();
        assert!((mid.0 - 500.0).abs() <= 1.0, "{mid:?}");
        assert!(text.contains("Total count    =         1000]"), "{text}");
        let points = l.percentile_points(5);
        assert_eq!(points.len(), rows.len());
        assert_eq!(points.last().unwrap().0, 1.0);
    }

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
