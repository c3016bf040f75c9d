//! Matching transactions to the bursts that triggered them, the latency distributions, and the
//! outputs: a summary in words, `.hgrm` percentile distributions, a JSON summary.
//!
//! The matching rule: a transaction is attributed to the last burst whose last payload's write
//! had returned before the transaction's bytes were read. Latency is then measured from that
//! burst's intended send time (coordinated omission: the schedule's time, not the time the
//! server managed to write, so a server or socket that fell behind adds to the latency instead
//! of hiding it).

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{
    schedule::Plan,
    server::{Arrival, PlayLog},
};

/// Highest latency recorded, ns (60 s); above it samples are clamped and counted.
const MAX_NS: u64 = 60_000_000_000;

/// A distribution in µs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Dist {
    /// Samples.
    pub count: u64,
    /// Quantiles and extremes, µs.
    pub p50_us: f64,
    /// 90th percentile, µs.
    pub p90_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Largest, µs.
    pub max_us: f64,
    /// Mean, µs.
    pub mean_us: f64,
}

/// A latency histogram in ns.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
    /// Samples above [`MAX_NS`], recorded as [`MAX_NS`].
    pub clamped: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            // 1 ns to 60 s at 3 significant digits: the bounds are valid, so this cannot fail.
            hist: Histogram::new_with_bounds(1, MAX_NS, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            clamped: 0,
        }
    }
}

impl Latency {
    /// Records one sample, ns.
    pub fn record(&mut self, ns: u64) {
        if ns > MAX_NS {
            self.clamped += 1;
        }
        self.hist.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Its distribution in µs.
    pub fn dist(&self) -> Dist {
        let h = &self.hist;
        if h.is_empty() {
            return Dist::default();
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        Dist {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1_000.0,
        }
    }

    /// The percentile distribution in HdrHistogram's `.hgrm` text layout (as Java's
    /// `outputPercentileDistribution` writes it), values in µs.
    pub fn hgrm(&self) -> String {
        let h = &self.hist;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        let mut total = 0u64;
        if !h.is_empty() {
            for v in h.iter_quantiles(5) {
                total += v.count_since_last_iteration();
                let q = v.quantile_iterated_to();
                let value = v.value_iterated_to() as f64 / 1_000.0;
                if q < 1.0 {
                    let _ = writeln!(
                        out,
                        "{value:12.3} {q:2.12} {total:10} {:14.2}",
                        1.0 / (1.0 - q)
                    );
                } else {
                    let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
                }
            }
        }
        let (mean, sd, max) = if h.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (h.mean() / 1e3, h.stdev() / 1e3, h.max() as f64 / 1e3)
        };
        let _ = writeln!(
            out,
            "#[Mean    = {mean:12.3}, StdDeviation   = {sd:12.3}]\n#[Max     = {max:12.3}, Total count    = {:12}]\n#[Buckets = {:12}, SubBuckets     = {:12}]",
            h.len(),
            h.buckets(),
            // HdrHistogram's sub-bucket count: 2^⌈log2(2·10^sigfig)⌉ (2,048 at 3 digits).
            1u64 << (2.0 * 10f64.powi(i32::from(h.sigfig()))).log2().ceil() as u32
        );
        out
    }
}

/// Which burst each transaction is attributed to, and the latencies.
#[derive(Debug, Default)]
pub struct Matching {
    /// Per arrival: the burst index, or `None` (before any burst was fully written).
    pub burst: Vec<Option<usize>>,
    /// Receive − intended send time of the triggering burst's last payload (the headline).
    pub from_last_intended: Latency,
    /// Receive − intended send time of the burst's first payload.
    pub from_first_intended: Latency,
    /// Receive − the return of the last payload's write (no coordinated-omission correction:
    /// polyarb's own reaction, socket to socket).
    pub from_last_written: Latency,
    /// Write return − intended time, every payload: how far the server fell behind.
    pub server_lateness: Latency,
    /// Distinct transactions (repeats of the same bytes are counted apart, not measured).
    pub distinct: u64,
    /// Repeated writes of bytes already received.
    pub repeats: u64,
    /// Distinct transactions attributed to a burst.
    pub matched: u64,
}

/// Attributes each arrival (see the module docs) and measures it.
pub fn attribute(plan: &Plan, play: &PlayLog, arrivals: &[Arrival]) -> Matching {
    let mut m = Matching::default();
    let intended = |i: usize| play.start_ns + plan.intended_ns[i];
    for (i, &w) in play.written_ns.iter().enumerate() {
        if w > 0 {
            m.server_lateness.record(w.saturating_sub(intended(i)));
        }
    }
    // Bursts are written in order, so their last writes' returns are sorted; bursts never
    // written (a play cut short) stamp 0 and end the search.
    let done: Vec<u64> = plan
        .bursts
        .iter()
        .map(|b| play.written_ns.get(b.last()).copied().unwrap_or(0))
        .take_while(|&t| t > 0)
        .collect();
    for a in arrivals {
        let k = done.partition_point(|&t| t <= a.rx_ns).checked_sub(1);
        m.burst.push(k);
        if a.tx.repeat {
            m.repeats += 1;
            continue;
        }
        m.distinct += 1;
        let Some(k) = k else { continue };
        m.matched += 1;
        let b = plan.bursts[k];
        m.from_last_intended
            .record(a.rx_ns.saturating_sub(intended(b.last())));
        m.from_first_intended
            .record(a.rx_ns.saturating_sub(intended(b.first)));
        m.from_last_written.record(a.rx_ns.saturating_sub(done[k]));
    }
    m
}

/// The lines of polyarb's exit summary the report uses.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PolyarbSummary {
    /// `signer: … N signed`.
    pub signed: Option<u64>,
    /// `signer: N opportunities`.
    pub opportunities: Option<u64>,
    /// `sent: N written`.
    pub written: Option<u64>,
    /// `submission: N writes (M rewrites)`.
    pub writes: Option<u64>,
    /// The `M rewrites` of that line.
    pub rewrites: Option<u64>,
    /// `feed: N payloads`.
    pub payloads: Option<u64>,
    /// Detection latency (frame read → opportunity), µs, from polyarb's table.
    pub detection: Option<Dist>,
    /// Submission latency (frame read → signed bytes written), µs, from polyarb's table.
    pub submission: Option<Dist>,
    /// polyarb's own lines, as printed.
    pub lines: Vec<String>,
}

/// The number before `word` in `line` (`"12 signed"` → 12).
fn count_before(line: &str, word: &str) -> Option<u64> {
    let at = line.find(word)?;
    line[..at].split_whitespace().last()?.parse().ok()
}

/// Reads polyarb's exit summary (`polyarb run` stdout).
pub fn parse_polyarb(stdout: &str) -> PolyarbSummary {
    let mut s = PolyarbSummary {
        lines: stdout.lines().map(str::to_owned).collect(),
        ..PolyarbSummary::default()
    };
    for line in stdout.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("signer: ") {
            s.opportunities = count_before(rest, " opportunities");
            s.signed = count_before(rest, " signed");
        } else if let Some(rest) = t.strip_prefix("sent: ") {
            s.written = count_before(rest, " written");
        } else if let Some(rest) = t.strip_prefix("submission: ") {
            s.writes = count_before(rest, " writes");
            s.rewrites = rest
                .find('(')
                .and_then(|i| rest[i + 1..].split_whitespace().next())
                .and_then(|n| n.parse().ok());
        } else if let Some(rest) = t.strip_prefix("feed: ") {
            s.payloads = count_before(rest, " payloads");
        } else if let Some(name) = ["detection", "submission"]
            .into_iter()
            .find(|n| t.split_whitespace().next() == Some(n))
        {
            let nums: Vec<f64> = t
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [count, p50, p90, p99, p999, max] = nums[..] {
                let d = Dist {
                    count: count as u64,
                    p50_us: p50,
                    p90_us: p90,
                    p99_us: p99,
                    p999_us: p999,
                    max_us: max,
                    mean_us: f64::NAN,
                };
                if name == "detection" {
                    s.detection = Some(d);
                } else {
                    s.submission = Some(d);
                }
            }
        }
    }
    s
}

/// A distribution as one line of words.
pub fn dist_line(d: &Dist) -> String {
    if d.count == 0 {
        return "no samples".to_owned();
    }
    format!(
        "{} samples; p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        d.count, d.p50_us, d.p90_us, d.p99_us, d.p999_us, d.max_us
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{node::RawTx, schedule::Burst};

    fn tx(repeat: bool) -> RawTx {
        RawTx {
            hash: [0; 32],
            nonce: Some(0),
            len: 100,
            repeat,
        }
    }

    #[test]
    fn attributes_to_the_last_burst_fully_written_and_measures_from_the_schedule() {
        let plan = Plan {
            frames: vec![Vec::new(); 4],
            intended_ns: vec![0, 0, 1_000, 1_000],
            head: vec![true, false, true, false],
            bursts: vec![
                Burst {
                    block: 1,
                    first: 0,
                    len: 2,
                    logs: 1,
                },
                Burst {
                    block: 2,
                    first: 2,
                    len: 2,
                    logs: 1,
                },
            ],
        };
        // The second burst was written 500 ns late: its latency counts from 1,000, not 1,500.
        let play = PlayLog {
            start_ns: 10_000,
            written_ns: vec![10_010, 10_020, 11_500, 11_510],
        };
        let at = |rx_ns, repeat| Arrival {
            rx_ns,
            tx: tx(repeat),
        };
        let m = attribute(
            &plan,
            &play,
            &[
                at(10_015, false),
                at(10_900, false),
                at(11_505, false),
                at(12_000, false),
                at(12_100, true),
            ],
        );
        assert_eq!(m.burst, vec![None, Some(0), Some(0), Some(1), Some(1)]);
        assert_eq!((m.distinct, m.matched, m.repeats), (4, 3, 1));
        // The arrival at 11,505 came before block 2's last write returned: block 1's, 1,505
        // after its intended send. Block 2's counts from 11,000 intended, not 11,510 written.
        assert_eq!(m.from_last_intended.hist.max(), 1_505);
        assert_eq!(m.from_last_intended.hist.min(), 900);
        assert_eq!(m.from_last_written.hist.max(), 1_485);
        assert_eq!(m.from_last_written.hist.min(), 490);
        assert_eq!(m.server_lateness.hist.max(), 510);
        let text = m.from_last_intended.hgrm();
        assert!(
            text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"),
            "{text}"
        );
        assert!(
            text.contains("#[Max     =        1.505, Total count    =            3]"),
            "{text}"
        );
    }

    #[test]
    fn reads_polyarbs_exit_summary() {
        let out = "feed: 900 payloads, 900 frames, 0 ignored, 5 responses\n\
                   signer: 41 opportunities, 40 signed, 1 build errors, 0 reports dropped; nonces: 0 reused\n\
                   sent: 40 written, 0 not written\n\
                   submission: 42 writes (2 rewrites), 0 answers timed out\n\
                   latency µs      count        p50        p90        p99      p99.9        max\n\
                   detection          41      120.5      180.0      250.1      250.1      250.1\n\
                   submission         40      150.0      200.0      300.0      300.0      300.0\n";
        let s = parse_polyarb(out);
        assert_eq!(
            (
                s.opportunities,
                s.signed,
                s.written,
                s.writes,
                s.rewrites,
                s.payloads
            ),
            (Some(41), Some(40), Some(40), Some(42), Some(2), Some(900))
        );
        assert_eq!(s.detection.unwrap().p99_us, 250.1);
        assert_eq!(s.submission.unwrap().count, 40);
    }
}
