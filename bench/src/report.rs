//! The latency report's parts that are not measurement: the machine's facts, the text summary,
//! the HdrHistogram files and the self-contained HTML page with its percentile plots (inline
//! SVG, no script, no network). `src/bin/report.rs` measures and fills a [`Report`].

use std::{
    fmt::Write as _,
    io,
    path::{Path, PathBuf},
    process::Command,
};

use polyarb_engine::latency::Latency;

/// One latency series of a chart: a name and its samples (ns).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Samples, ns.
    pub lat: Latency,
}

/// A percentile plot of one quantity, several series.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// What the series measure, one sentence.
    pub note: String,
    /// File stem of its `.hgrm` files (`<stem>-<series>.hgrm`).
    pub stem: String,
    /// The series.
    pub series: Vec<Series>,
}

/// A table of words and numbers.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Title.
    pub title: String,
    /// Column heads.
    pub head: Vec<String>,
    /// Rows, one string per column.
    pub rows: Vec<Vec<String>>,
    /// A sentence under the table.
    pub note: String,
}

/// One line of `tuning/check.sh --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuningCheck {
    /// What was checked.
    pub check: String,
    /// PASS, FAIL or SKIP.
    pub status: String,
    /// What the host has.
    pub found: String,
    /// What the check wants.
    pub wanted: String,
}

/// What the report says about the machine it ran on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// Online CPUs, kernel list format.
    pub online: String,
    /// Isolated CPUs, kernel list format ("" for none).
    pub isolated: String,
    /// cpu0's frequency governor, or why it is unknown.
    pub governor: String,
    /// Kernel release.
    pub kernel: String,
    /// /proc/loadavg's three averages when the report started.
    pub load_start: String,
    /// And when it ended.
    pub load_end: String,
    /// `tuning/check.sh` results; empty if it could not run.
    pub tuning: Vec<TuningCheck>,
    /// Why the tuning check gave nothing, if it did not.
    pub tuning_error: Option<String>,
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The load averages of /proc/loadavg ("1.02 0.80 0.41"), or "unknown".
pub fn load_average() -> String {
    read_trim("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Machine {
    /// Reads the facts of this machine; `tuning_check` is `tuning/check.sh`, run with `--json`.
    pub fn read(tuning_check: &Path, scratch: &Path) -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let governor = read_trim("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .unwrap_or_else(|| "none exposed (no cpufreq: a VM?)".to_owned());
        let (tuning, tuning_error) = match run_tuning_check(tuning_check, scratch) {
            Ok(t) => (t, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Self {
            cpu_model,
            online: read_trim("/sys/devices/system/cpu/online").unwrap_or_default(),
            isolated: read_trim("/sys/devices/system/cpu/isolated").unwrap_or_default(),
            governor,
            kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
            load_start: load_average(),
            load_end: String::new(),
            tuning,
            tuning_error,
        }
    }

    /// "3 PASS, 10 FAIL, 5 SKIP".
    pub fn tuning_counts(&self) -> String {
        let n = |s: &str| self.tuning.iter().filter(|t| t.status == s).count();
        format!("{} PASS, {} FAIL, {} SKIP", n("PASS"), n("FAIL"), n("SKIP"))
    }
}

/// Runs `check.sh --json` and reads its array of `{check, status, found, wanted}`.
fn run_tuning_check(script: &Path, scratch: &Path) -> Result<Vec<TuningCheck>, String> {
    let json = scratch.join("tuning.json");
    let out = Command::new(script)
        .arg("--json")
        .arg(&json)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    // Exit 1 means a FAIL on this host: a finding, not an error.
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!("{} exited {}", script.display(), out.status));
    }
    let text = std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
    let field = |o: &serde_json::Value, k: &str| o[k].as_str().unwrap_or_default().to_owned();
    Ok(v.as_array()
        .ok_or_else(|| format!("{}: not a JSON array", json.display()))?
        .iter()
        .map(|o| TuningCheck {
            check: field(o, "check"),
            status: field(o, "status"),
            found: field(o, "found"),
            wanted: field(o, "wanted"),
        })
        .collect())
}

/// A goal of the issue and what was achieved.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The goal in words ("detection p99 ≤ 5 µs").
    pub goal: String,
    /// What this run measured, in words and units.
    pub achieved: String,
    /// Met or not.
    pub met: bool,
}

/// Everything the report shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// When it was made (UTC, words).
    pub created: String,
    /// The command that made it.
    pub command: String,
    /// The machine.
    pub machine: Machine,
    /// The goals and what was achieved.
    pub goals: Vec<Goal>,
    /// Percentile plots.
    pub charts: Vec<Chart>,
    /// Tables (replay runs, per-step costs with baselines, throughput).
    pub tables: Vec<Table>,
    /// Paragraphs of explanation, in order.
    pub notes: Vec<String>,
    /// A profile of where the time goes (e.g. `callgrind_annotate --inclusive=yes` of a replay),
    /// shown as given: (where it came from, its text).
    pub profile: Option<(String, String)>,
}

/// µs with one decimal below 100 µs, none above ("12.3 µs", "1,234 µs").
pub fn us(ns: f64) -> String {
    let u = ns / 1_000.0;
    if u < 100.0 {
        format!("{u:.1} µs")
    } else {
        format!("{} µs", thousands(u.round() as u64))
    }
}

/// ns, no decimals, thousands separated ("1,054 ns"); from 100 µs up, in µs ([`us`]).
pub fn ns(v: f64) -> String {
    if v >= 100_000.0 {
        us(v)
    } else {
        format!("{} ns", thousands(v.round() as u64))
    }
}

/// `1234567` → "1,234,567".
pub fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The p50 / p90 / p99 / p99.9 / max row of a series.
pub fn percentile_row(name: &str, l: &Latency) -> Vec<String> {
    let q = |x: f64| us(l.quantile_ns(x) as f64);
    vec![
        name.to_owned(),
        thousands(l.count()),
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        us(l.max_ns() as f64),
    ]
}

/// Column heads for [`percentile_row`].
pub fn percentile_head(first: &str) -> Vec<String> {
    [first, "samples", "p50", "p90", "p99", "p99.9", "max"]
        .map(str::to_owned)
        .to_vec()
}

/// A file-name-safe form of `s`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Writes `summary.txt`, one `.hgrm` per series and `index.html` into `dir`; the paths written.
pub fn write(report: &Report, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for c in &report.charts {
        for s in &c.series {
            let path = dir.join(format!("{}-{}.hgrm", c.stem, slug(&s.name)));
            let mut f = io::BufWriter::new(std::fs::File::create(&path)?);
            s.lat.write_hgrm(&mut f, 1_000.0)?;
            io::Write::flush(&mut f)?;
            written.push(path);
        }
    }
    let summary = dir.join("summary.txt");
    std::fs::write(&summary, text(report))?;
    written.push(summary);
    let page = dir.join("index.html");
    std::fs::write(&page, html(report))?;
    written.push(page);
    Ok(written)
}

/// The text summary.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(s, "polyarb latency report, {}", r.created);
    let _ = writeln!(s, "made by: {}", r.command);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "machine: {}; CPUs online {}, isolated {}; governor {}; kernel {}",
        m.cpu_model,
        m.online,
        if m.isolated.is_empty() {
            "none"
        } else {
            &m.isolated
        },
        m.governor,
        m.kernel
    );
    let _ = writeln!(
        s,
        "load average (1, 5, 15 min): {} at the start, {} at the end",
        m.load_start, m.load_end
    );
    match &m.tuning_error {
        Some(e) => {
            let _ = writeln!(s, "tuning check: not run ({e})");
        }
        None => {
            let _ = writeln!(s, "tuning check (tuning/check.sh): {}", m.tuning_counts());
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "goals:");
    for g in &r.goals {
        let _ = writeln!(
            s,
            "  [{}] {}: {}",
            if g.met { "met" } else { "NOT met" },
            g.goal,
            g.achieved
        );
    }
    for t in &r.tables {
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", t.title);
        let widths: Vec<usize> = (0..t.head.len())
            .map(|i| {
                t.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .chain([t.head[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    if i == 0 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let _ = writeln!(s, "  {}", line(&t.head));
        for row in &t.rows {
            let _ = writeln!(s, "  {}", line(row));
        }
        if !t.note.is_empty() {
            let _ = writeln!(s, "  {}", t.note);
        }
    }
    for n in &r.notes {
        let _ = writeln!(s);
        let _ = writeln!(s, "{n}");
    }
    if let Some((from, text)) = &r.profile {
        let _ = writeln!(s);
        let _ = writeln!(s, "Where the time goes ({from}):");
        let _ = writeln!(s, "{text}");
    }
    s
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Series colours (colour-blind safe, Okabe–Ito).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

/// A percentile plot: x is `log10(1 / (1 − percentile))` (0 %, 90 %, 99 %, 99.9 % …), as
/// HdrHistogram's plotter draws it; y is the latency in µs on a log scale.
pub fn svg_chart(c: &Chart) -> String {
    const W: f64 = 720.0;
    const H: f64 = 320.0;
    const L: f64 = 70.0;
    const R: f64 = 20.0;
    const T: f64 = 16.0;
    const B: f64 = 44.0;
    let points: Vec<Vec<(f64, f64)>> = c
        .series
        .iter()
        .map(|s| {
            let n = s.lat.count().max(1) as f64;
            // The max sits at 1/(1-q) = samples: the last percentile a count can resolve.
            let x_max = n.log10().max(1.0);
            s.lat
                .percentile_points(5)
                .into_iter()
                .map(|(q, v)| {
                    let x = if q >= 1.0 {
                        x_max
                    } else {
                        (1.0 / (1.0 - q)).log10().min(x_max)
                    };
                    (x, (v.max(1) as f64) / 1_000.0)
                })
                .collect()
        })
        .collect();
    let all = points.iter().flatten();
    let x_hi = all.clone().map(|p| p.0).fold(1.0f64, f64::max).ceil();
    let y_lo = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(0.001)
        .log10()
        .floor();
    let y_hi = all
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(0.001)
        .log10()
        .ceil()
        .max(y_lo + 1.0);
    let px = |x: f64| L + (W - L - R) * x / x_hi;
    let py = |y: f64| T + (H - T - B) * (1.0 - (y.log10() - y_lo) / (y_hi - y_lo));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"##,
        esc(&c.title)
    );
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="#fff" stroke="#999"/>"##,
        W - L - R,
        H - T - B
    );
    // x ticks: 0 %, 90 %, 99 %, ...
    for k in 0..=(x_hi as u32) {
        let x = px(f64::from(k));
        // 1 − 10^-k: 0 %, 90 %, 99 %, 99.9 %, ...
        let decimals = k.saturating_sub(2) as usize;
        let label = format!("{:.decimals$}%", 100.0 - 100.0 * 10f64.powi(-(k as i32)));
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{T}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle">{label}</text>"##,
            H - B,
            H - B + 16.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">percentile</text>"##,
        L + (W - L - R) / 2.0,
        H - 6.0
    );
    // y ticks: decades of µs.
    for e in (y_lo as i32)..=(y_hi as i32) {
        let v = 10f64.powi(e);
        let y = py(v);
        let label = if v >= 1.0 {
            thousands(v as u64)
        } else {
            format!("{v}")
        };
        let _ = write!(
            s,
            r##"<line x1="{L}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{label}</text>"##,
            W - R,
            L - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="16" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {:.1})">µs (log scale)</text>"##,
        T + (H - T - B) / 2.0,
        T + (H - T - B) / 2.0
    );
    for (i, pts) in points.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"##,
            path.join(" ")
        );
        let ly = T + 16.0 + 18.0 * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
            L + 12.0,
            ly - 4.0,
            L + 32.0,
            ly + 1.0,
            esc(&c.series[i].name)
        );
    }
    s.push_str("</svg>");
    s
}

fn html_table(t: &Table) -> String {
    let mut s = String::new();
    let _ = write!(s, "<h3>{}</h3><table><thead><tr>", esc(&t.title));
    for h in &t.head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        s.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"n\"" };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if !t.note.is_empty() {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(&t.note));
    }
    s
}

/// The self-contained HTML page.
pub fn html(r: &Report) -> String {
    let m = &r.machine;
    let mut s = String::new();
    s.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>polyarb latency report</title><style>\
         body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#222}\
         h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ccc}\
         h3{font-size:15px;margin-bottom:4px}\
         table{border-collapse:collapse;margin:6px 0;font-size:13px}\
         th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
         th{background:#f3f3f3}.met{color:#06702c;font-weight:600}.miss{color:#b00020;font-weight:600}\
         .note{font-size:13px;color:#444;margin:4px 0 14px}figure{margin:10px 0 22px}\
         figcaption{font-size:13px;color:#444}.PASS{color:#06702c}.FAIL{color:#b00020}.SKIP{color:#777}\
         </style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>polyarb latency report</h1><p>Made {} by <code>{}</code>.</p>",
        esc(&r.created),
        esc(&r.command)
    );
    s.push_str("<h2>Goals</h2><table><thead><tr><th>goal</th><th>achieved</th><th></th></tr></thead><tbody>");
    for g in &r.goals {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&g.goal),
            esc(&g.achieved),
            if g.met { "met" } else { "miss" },
            if g.met { "met" } else { "not met" }
        );
    }
    s.push_str("</tbody></table>");
    s.push_str("<h2>Machine</h2><table><tbody>");
    let isolated = if m.isolated.is_empty() {
        "none".to_owned()
    } else {
        m.isolated.clone()
    };
    for (k, v) in [
        ("CPU", m.cpu_model.as_str()),
        ("CPUs online", m.online.as_str()),
        ("isolated CPUs", isolated.as_str()),
        ("frequency governor (cpu0)", m.governor.as_str()),
        ("kernel", m.kernel.as_str()),
        (
            "load average at start (1, 5, 15 min)",
            m.load_start.as_str(),
        ),
        ("load average at end", m.load_end.as_str()),
    ] {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    s.push_str("</tbody></table>");
    match &m.tuning_error {
        Some(e) => {
            let _ = write!(s, "<p>Tuning check not run: {}</p>", esc(e));
        }
        None => {
            let _ = write!(
                s,
                "<h3>Tuning check (<code>tuning/check.sh</code>): {}</h3><table><thead><tr><th>check</th><th>status</th><th>found</th><th>wanted</th></tr></thead><tbody>",
                esc(&m.tuning_counts())
            );
            for t in &m.tuning {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&t.check),
                    esc(&t.status),
                    esc(&t.status),
                    esc(&t.found),
                    esc(&t.wanted)
                );
            }
            s.push_str("</tbody></table>");
        }
    }
    s.push_str("<h2>Percentile plots</h2>");
    for c in &r.charts {
        let _ = write!(
            s,
            "<figure><h3>{}</h3>{}<figcaption>{}</figcaption></figure>",
            esc(&c.title),
            svg_chart(c),
            esc(&c.note)
        );
    }
    s.push_str("<h2>Numbers</h2>");
    for t in &r.tables {
        s.push_str(&html_table(t));
    }
    if !r.notes.is_empty() {
        s.push_str("<h2>Notes</h2>");
        for n in &r.notes {
            let _ = write!(s, "<p>{}</p>", esc(n));
        }
    }
    if let Some((from, text)) = &r.profile {
        let _ = write!(
            s,
            "<h2>Where the time goes</h2><p class=\"note\">{}</p><pre style=\"font-size:11px;overflow-x:auto\">{}</pre>",
            esc(from),
            esc(text)
        );
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, from_us: u64, to_us: u64) -> Series {
        let mut lat = Latency::new();
        for v in from_us..=to_us {
            lat.record(v * 1_000);
        }
        Series {
            name: name.to_owned(),
            lat,
        }
    }

    #[test]
    fn numbers_read_as_words_and_units() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(us(12_345.0), "12.3 µs");
        assert_eq!(us(1_234_567.0), "1,235 µs");
        assert_eq!(ns(1_054.4), "1,054 ns");
        assert_eq!(ns(25_083_903.0), "25,084 µs");
        assert_eq!(slug("detection (pipelined)"), "detection-pipelined");
    }

    #[test]
    fn the_page_is_self_contained_and_plots_every_series() {
        let chart = Chart {
            title: "detection <a&b>".into(),
            note: "frame read → opportunity".into(),
            stem: "detection".into(),
            series: vec![series("pipelined", 10, 1_000), series("fused", 5, 500)],
        };
        let report = Report {
            created: "2026-12-02 06:00 UTC".into(),
            command: "polyarb-report".into(),
            goals: vec![Goal {
                goal: "detection p99 ≤ 5 µs".into(),
                achieved: "p99 990 µs".into(),
                met: false,
            }],
            charts: vec![chart],
            ..Report::default()
        };
        let page = html(&report);
        // One SVG per chart, one line per series; titles escaped; nothing fetched from elsewhere.
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches("<polyline").count(), 2);
        assert!(page.contains("detection &lt;a&amp;b&gt;"));
        for remote in ["http://", "https://", "<script", "src="] {
            let outside_svg_ns = page.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(remote), "{remote}");
        }
        assert!(page.contains("not met"));
        for tick in [">0%<", ">90%<", ">99%<", ">99.9%<"] {
            assert!(page.contains(tick), "{tick}");
        }
        let dir = std::env::temp_dir().join(format!("polyarb-report-test-{}", std::process::id()));
        let files = write(&report, &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "detection-pipelined.hgrm",
                "detection-fused.hgrm",
                "summary.txt",
                "index.html"
            ]
        );
        let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap();
        assert!(
            summary.contains("[NOT met] detection p99 ≤ 5 µs: p99 990 µs"),
            "{summary}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
