//! `polyarb-report`: measures the hot path on this machine and writes a report folder: a text
//! summary, HdrHistogram percentile files (`.hgrm`) and one self-contained HTML page with
//! percentile plots, the machine's facts, the tuning check, the same-run baselines as ratios and
//! the goals with what was achieved. docs/benchmarks.md, "The latency report".
//!
//! `cargo run --release -p polyarb-bench --bin polyarb-report -- [--out DIR] [--quick]
//! [--seconds S] [--wire FILE.json]`
//!
//! - The sample replayed through the real pipeline, pipelined and fused, paced so the replay
//!   takes `--seconds` (default 20; so latencies are not queueing behind an as-fast-as-possible
//!   feed): detection and submission percentiles of each mode.
//! - Each step alone, one timed call at a time (per-call percentiles): decoding a log against
//!   serde_json, `Engine::on_frame`, signing with a coupon against alloy, a ring round trip
//!   (rtrb against crossbeam-channel), and the clock read every timed call includes.
//! - Throughput: decode + update + search over the sample, signing off, one thread.
//! - `--wire`: the summary JSON of `polyarb-tools wire` (socket-to-socket), if it was run.
//! - `--profile`: a text profile (e.g. `callgrind_annotate --inclusive=yes` of a replay), its
//!   first lines shown as "where the time goes".
//!
//! Asserts nothing: a report, not a test. Numbers depend on the machine and its load, which the
//! report records (load average at start and end).

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use polyarb_bench::{
    Sample,
    baselines::{TxFields, alloy_build_sign, geth_order, parse_log},
    replay_pass,
    report::{
        self, Chart, Goal, Machine, Report, Series, Table, ns, percentile_head, percentile_row,
        thousands, us,
    },
    rings::{Crossbeam, Pins, Rtrb, round_trip_samples},
};
use polyarb_core::{CALLDATA_MAX, FrameKind, TxFrame, encode_run};
use polyarb_engine::{
    app::replay::{ReplayArgs, replay},
    clock::MonoClock,
    latency::Latency,
};
use polyarb_feeds::decode;
use polyarb_signer::coupon_ring;

#[allow(
    clippy::print_stderr,
    reason = "a command-line tool: progress and errors go to stderr"
)]
fn say(msg: &str) {
    eprintln!("{msg}");
}

struct Args {
    out: PathBuf,
    quick: bool,
    seconds: f64,
    wire: Option<PathBuf>,
    profile: Option<PathBuf>,
}

const USAGE: &str = "usage: polyarb-report [--out DIR] [--quick] [--seconds S] [--wire FILE.json]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        out: PathBuf::from("target/polyarb-report"),
        quick: false,
        seconds: 20.0,
        wire: None,
        profile: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--out" => a.out = PathBuf::from(value("--out")?),
            "--quick" => a.quick = true,
            "--seconds" => {
                let v = value("--seconds")?;
                a.seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3_600.0)
                    .ok_or(format!(
                        "--seconds {v}: not a number of seconds in (0, 3600]"
                    ))?;
            }
            "--wire" => a.wire = Some(PathBuf::from(value("--wire")?)),
            "--profile" => a.profile = Some(PathBuf::from(value("--profile")?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.quick {
        a.seconds = a.seconds.min(4.0);
    }
    Ok(a)
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("polyarb-report: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (bench/..).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Nanoseconds since `start`.
#[inline]
fn since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One paced replay of the sample in `mode`.
struct ReplayRun {
    mode: &'static str,
    detection: Latency,
    submission: Latency,
    opportunities: usize,
    signed: u64,
    digest: String,
    payloads: u64,
    took_s: f64,
    placement: String,
    /// With a journal: what it committed and dropped.
    journal: Option<polyarb_engine::journal::JournalStats>,
}

/// One paced replay of the sample: `mode` (`pipelined`, `fused`) and, with `per_log`, every log
/// its own batch (`node.batch_quiet_us = 0`: the engine searches after each log instead of
/// waiting for the block's burst to end), named `name`.
fn replay_mode(
    name: &'static str,
    mode: &str,
    per_log: bool,
    speed: f64,
    scratch: &Path,
    journal: Option<PathBuf>,
) -> Result<ReplayRun, String> {
    let data = Sample::data_dir();
    let mut text = std::fs::read_to_string(data.join("sample.toml"))
        .map_err(|e| format!("data/sample.toml: {e}"))?;
    if per_log {
        text = text.replacen("[node]\n", "[node]\nbatch_quiet_us = 0\n", 1);
    }
    let config = scratch.join(format!("{}.toml", name.replace([' ', ','], "-")));
    std::fs::write(&config, format!("{text}\n[pipeline]\nmode = \"{mode}\"\n"))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let started = Instant::now();
    let s = replay(&ReplayArgs {
        recording: data.join("sample.rec"),
        snapshot: data.join("sample.snapshot.json"),
        config,
        opportunities: None,
        txs: None,
        speed,
        rfc6979: false,
        journal: journal.map(polyarb_engine::journal::Target::File),
    })
    .map_err(|e| format!("replay ({name}): {e}"))?;
    let o = s.outcome;
    Ok(ReplayRun {
        mode: name,
        detection: o.latency.detection,
        submission: o.latency.submission,
        opportunities: s.reports.len(),
        signed: o.signer.signed,
        digest: alloy_primitives::hex::encode(o.port.digest()),
        payloads: o.feed.payloads,
        took_s: started.elapsed().as_secs_f64(),
        placement: o.placement.to_string(),
        journal: s.journal,
    })
}

/// Per-call costs of one step and its baseline.
struct Step {
    name: &'static str,
    ours: Series,
    baseline: Option<Series>,
    per: &'static str,
}

fn series(name: &str, lat: Latency) -> Series {
    Series {
        name: name.to_owned(),
        lat,
    }
}

fn run(args: &Args) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("polyarb-report-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let mut machine = Machine::read(&root().join("tuning").join("check.sh"), &scratch);
    let sample = Sample::load().map_err(|e| e.to_string())?;
    let rounds = if args.quick { 2 } else { 20 };

    // ---- the pipeline, both modes, paced ----
    let first = sample.payloads.first().map_or(0, |p| p.recv_ns);
    let last = sample.payloads.last().map_or(0, |p| p.recv_ns);
    let recorded_s = (last.saturating_sub(first)) as f64 / 1e9;
    let speed = (recorded_s / args.seconds).max(1e-6);
    say(&format!(
        "replaying the sample ({recorded_s:.0} s recorded) at {speed:.1}x: pipelined, fused, fused searching per log"
    ));
    let runs = [
        replay_mode("pipelined", "pipelined", false, speed, &scratch, None)?,
        replay_mode("fused", "fused", false, speed, &scratch, None)?,
        replay_mode("fused, per log", "fused", true, speed, &scratch, None)?,
        // The same as "fused", with every report journaled by the housekeeping thread: the hot
        // path's cost of the journal, in the same run.
        replay_mode(
            "fused, journaled",
            "fused",
            false,
            speed,
            &scratch,
            Some(scratch.join("journal.db")),
        )?,
    ];

    // ---- each step alone ----
    say("timing each step alone");
    let mut timer = Latency::new();
    for _ in 0..100_000 {
        let t = Instant::now();
        timer.record(since(black_box(t)));
    }

    // Every log of the sample as geth (and Bor) order its members: the setting.
    let logs: Vec<Vec<u8>> = [
        FrameKind::V2Sync,
        FrameKind::ClSwap,
        FrameKind::ClMint,
        FrameKind::ClBurn,
        FrameKind::AlgebraFee,
    ]
    .into_iter()
    .flat_map(|k| sample.payloads_of(k))
    .filter_map(geth_order)
    .collect();
    let (mut dec, mut dec_base) = (Latency::new(), Latency::new());
    for _ in 0..rounds {
        for p in &logs {
            let t = Instant::now();
            black_box(decode(black_box(p), 1).ok());
            dec.record(since(t));
            let t = Instant::now();
            black_box(parse_log(black_box(p)));
            dec_base.record(since(t));
        }
    }

    let frames = sample.frames();
    let mut on_frame = Latency::new();
    let mut on_frame_search = Latency::new();
    for _ in 0..rounds.min(5) {
        let mut engine = sample.engine().map_err(|e| e.to_string())?;
        for f in &frames {
            let t = Instant::now();
            black_box(engine.on_frame(black_box(f)));
            let dt = since(t);
            on_frame.record(dt);
            // The frames that end a batch run the search: the detection path's cost.
            if f.flags & polyarb_core::FLAG_MORE_IN_BATCH == 0 && f.kind != FrameKind::NewHead {
                on_frame_search.record(dt);
            }
        }
    }

    let opps = sample.opportunities().map_err(|e| e.to_string())?;
    let fields = TxFields {
        chain_id: sample.chain_id,
        executor: sample.executor,
        fees: sample.config.fee_bid(),
    };
    let alloy = alloy_signer_local::PrivateKeySigner::from_slice(
        &sample.key_bytes().map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("[replay].key: {e}"))?;
    let (mut sign, mut sign_base) = (Latency::new(), Latency::new());
    let n_sign = if args.quick { 200 } else { opps.len() };
    let (mut mint, coupons) = coupon_ring(n_sign.max(1));
    mint.fill().map_err(|e| format!("coupon mint: {e}"))?;
    let mut builder = sample.tx_builder(coupons).map_err(|e| e.to_string())?;
    let clock = MonoClock::new();
    let mut frame = TxFrame::EMPTY;
    let mut calldata = [0u8; CALLDATA_MAX];
    for (i, opp) in opps.iter().take(n_sign).enumerate() {
        let t = Instant::now();
        builder
            .build(black_box(opp), &clock, &mut frame)
            .map_err(|e| format!("sign: {e}"))?;
        sign.record(since(t));
        let n = encode_run(opp, opp.profit, &mut calldata).map_err(|_| "route encodes")?;
        let t = Instant::now();
        black_box(alloy_build_sign(
            &alloy,
            opp,
            &calldata[..n],
            &fields,
            sample.first_nonce + i as u64,
        ));
        sign_base.record(since(t));
    }
    let coupon_stats = builder.coupon_stats();

    let trips = if args.quick { 20_000 } else { 200_000 };
    let mut samples = Vec::with_capacity(trips as usize);
    let hop = |samples: &mut Vec<u64>, f: fn(u64, Pins, &mut Vec<u64>)| {
        f(trips / 10, Pins::TWO_CORES, samples);
        f(trips, Pins::TWO_CORES, samples);
        let mut l = Latency::new();
        for &s in samples.iter() {
            l.record(s);
        }
        l
    };
    let rtrb = hop(&mut samples, round_trip_samples::<Rtrb>);
    let crossbeam = hop(&mut samples, round_trip_samples::<Crossbeam>);

    // ---- throughput, signing off ----
    let quiet = sample.config.node.batch_quiet_ns();
    let mut best_rate = 0.0f64;
    let mut logs_per_pass = 0u64;
    for _ in 0..rounds.min(5) {
        let mut engine = sample.engine().map_err(|e| e.to_string())?;
        let t = Instant::now();
        let n = replay_pass(&sample.payloads, quiet, &mut engine, &clock, |o| {
            black_box(o);
        });
        let s = t.elapsed().as_secs_f64();
        logs_per_pass = n.frames;
        best_rate = best_rate.max(n.frames as f64 / s);
    }

    // ---- wire to wire, if measured ----
    let wire = match &args.wire {
        Some(p) => Some(read_wire(p)?),
        None => None,
    };
    // A profile's first lines (the heaviest functions), shown as given.
    let profile = match &args.profile {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let head: Vec<&str> = text.lines().take(PROFILE_LINES).collect();
            Some((p.display().to_string(), head.join("\n")))
        }
        None => None,
    };
    machine.load_end = report::load_average();

    let steps = [
        Step {
            name: "decode one log notification (geth's key order)",
            ours: series("polyarb decode", dec),
            baseline: Some(series("serde_json into a borrowed struct", dec_base)),
            per: "log",
        },
        Step {
            name: "Engine::on_frame, every frame",
            ours: series("on_frame", on_frame),
            baseline: None,
            per: "frame",
        },
        Step {
            name: "Engine::on_frame, frames that end a batch (update + search)",
            ours: series("on_frame ending a batch", on_frame_search),
            baseline: None,
            per: "search",
        },
        Step {
            name: "sign one route transaction (calldata + EIP-1559 + envelope)",
            ours: series("TxBuilder::build, nonce coupon", sign),
            baseline: Some(series("alloy build + sign + encode", sign_base)),
            per: "transaction",
        },
        Step {
            name: "ring round trip of a 192-byte frame between two pinned threads",
            ours: series("rtrb", rtrb),
            baseline: Some(series("crossbeam-channel", crossbeam)),
            per: "round trip",
        },
    ];

    let report = build_report(
        args,
        machine,
        &runs,
        &steps,
        &timer,
        (best_rate, logs_per_pass),
        wire,
        speed,
        coupon_stats.fallbacks,
        sample.config.node.batch_quiet_us,
    );
    let report = Report { profile, ..report };
    let files =
        report::write(&report, &args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let _ = std::fs::remove_dir_all(&scratch);
    say(&format!(
        "wrote {} files to {} (open index.html)",
        files.len(),
        args.out.display()
    ));
    say(&report::text(&report));
    Ok(())
}

/// Lines of a `--profile` file the report shows.
const PROFILE_LINES: usize = 60;

/// The socket-to-socket figures `polyarb-tools wire` writes (its `summary.json`).
#[derive(Debug, Default)]
struct Wire {
    text: Vec<(String, String)>,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
}

fn read_wire(path: &Path) -> Result<Wire, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{}: not a JSON object", path.display()))?;
    let mut w = Wire::default();
    for (k, val) in obj {
        let shown = match val {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            // A distribution (µs): its samples and main percentiles.
            serde_json::Value::Object(d) if d.contains_key("p50_us") => {
                let f = |k: &str| d.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
                format!(
                    "{} samples; p50 {}, p90 {}, p99 {}, max {}",
                    thousands(f("count") as u64),
                    us(f("p50_us") * 1_000.0),
                    us(f("p90_us") * 1_000.0),
                    us(f("p99_us") * 1_000.0),
                    us(f("max_us") * 1_000.0)
                )
            }
            serde_json::Value::Array(a) if a.iter().all(serde_json::Value::is_string) => a
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            _ => continue,
        };
        w.text.push((k.replace('_', " "), shown));
    }
    let headline = |q: &str| {
        obj.get("wire_to_wire_us")
            .and_then(|d| d.get(q))
            .and_then(serde_json::Value::as_f64)
    };
    w.p50_us = headline("p50_us");
    w.p99_us = headline("p99_us");
    Ok(w)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call, assembling everything measured"
)]
fn build_report(
    args: &Args,
    machine: Machine,
    runs: &[ReplayRun; 4],
    steps: &[Step],
    timer: &Latency,
    (rate, logs_per_pass): (f64, u64),
    wire: Option<Wire>,
    speed: f64,
    sign_fallbacks: u64,
    quiet_us: u64,
) -> Report {
    let mut r = Report {
        created: utc_now(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine,
        ..Report::default()
    };
    // Goals (issue 9), what was achieved, honestly.
    let best = |f: &dyn Fn(&ReplayRun) -> u64| runs[..2].iter().map(f).min().unwrap_or(0);
    let det_p99 = best(&|r| r.detection.quantile_ns(0.99));
    let per_log = &runs[2];
    let dec_ratio = steps[0].baseline.as_ref().map_or(0.0, |b| {
        b.lat.quantile_ns(0.5) as f64 / steps[0].ours.lat.quantile_ns(0.5).max(1) as f64
    });
    let search_p99 = steps[2].ours.lat.quantile_ns(0.99);
    r.goals.push(Goal {
        goal: "detection p99 ≤ 5 µs (sample replay)".into(),
        achieved: format!(
            "p99 {}, p50 {} searching after every log (fused); batched by block, the best mode's p99 is {}",
            us(per_log.detection.quantile_ns(0.99) as f64),
            us(per_log.detection.quantile_ns(0.5) as f64),
            us(det_p99 as f64)
        ),
        met: per_log.detection.quantile_ns(0.99) <= 5_000,
    });
    match wire.as_ref().and_then(|w| w.p50_us.zip(w.p99_us)) {
        Some((p50, p99)) => r.goals.push(Goal {
            goal: "wire to wire p50 ≤ 10 µs, p99 ≤ 25 µs (coupon signer)".into(),
            achieved: format!(
                "p50 {}, p99 {} (polyarb-tools wire at the rate its summary names)",
                us(p50 * 1_000.0),
                us(p99 * 1_000.0)
            ),
            met: p50 <= 10.0 && p99 <= 25.0,
        }),
        None => r.goals.push(Goal {
            goal: "wire to wire p50 ≤ 10 µs, p99 ≤ 25 µs (coupon signer)".into(),
            achieved: "not measured in this run (pass --wire with polyarb-tools wire's summary)"
                .into(),
            met: false,
        }),
    }
    r.goals.push(Goal {
        goal: "decoding ≥ 3× serde_json".into(),
        achieved: format!("{dec_ratio:.2}× at the median (the sample's logs in geth's key order)"),
        met: dec_ratio >= 3.0,
    });
    r.goals.push(Goal {
        goal: "a search step p99 ≤ 2 µs per log".into(),
        achieved: format!(
            "p99 {} per log ending a batch on the sample's 63 pools (not the 10,000-pool table: see docs/benchmarks.md, search_10k)",
            us(search_p99 as f64)
        ),
        met: search_p99 <= 2_000,
    });
    r.goals.push(Goal {
        goal: "replay throughput ≥ 1 M logs/s per core, signing off".into(),
        achieved: format!(
            "{} logs/s (one thread, best of the passes)",
            thousands(rate as u64)
        ),
        met: rate >= 1e6,
    });

    // Charts.
    r.charts.push(Chart {
        title: "Detection: log read → opportunity".into(),
        note: format!(
            "The sample replayed through the real threads at {speed:.1}× its recorded pace, each mode in turn; from the replay port's stamp of the payload that ended the search's batch to the engine's stamp of the opportunity. Batched by block, that includes waiting for the block's burst to end (the quiet period); per log, it is the search alone."
        ),
        stem: "detection".into(),
        series: runs
            .iter()
            .map(|x| series(x.mode, x.detection.clone()))
            .collect(),
    });
    r.charts.push(Chart {
        title: "Submission: log read → signed transaction written".into(),
        note: "As above, to the signed bytes handed to the replay's sink.".into(),
        stem: "submission".into(),
        series: runs
            .iter()
            .map(|x| series(x.mode, x.submission.clone()))
            .collect(),
    });
    for (i, s) in steps.iter().enumerate() {
        let mut series_list = vec![s.ours.clone()];
        series_list.extend(s.baseline.clone());
        r.charts.push(Chart {
            title: format!("Step: {}", s.name),
            note: format!(
                "One timed call at a time, per {}; every sample includes one clock read (p50 {}).",
                s.per,
                ns(timer.quantile_ns(0.5) as f64)
            ),
            stem: format!("step-{}", i + 1),
            series: series_list,
        });
    }

    // Tables.
    let mut t = Table {
        title: "The sample through the pipeline (paced replay)".into(),
        head: percentile_head("series"),
        note: String::new(),
        rows: Vec::new(),
    };
    for x in runs {
        t.rows.push(percentile_row(
            &format!("detection, {}", x.mode),
            &x.detection,
        ));
        t.rows.push(percentile_row(
            &format!("submission, {}", x.mode),
            &x.submission,
        ));
    }
    t.note = format!(
        "{} payloads each. Batched by block (node.batch_quiet_us as configured): {} opportunities and {} signed in both modes ({}), digest of the signed fields {}… ({}). Searching after every log finds other routes (each log is priced alone): {} opportunities, {} signed. Runs took {:.1} s, {:.1} s and {:.1} s.",
        runs[0].payloads,
        runs[0].opportunities,
        runs[0].signed,
        if runs[0].opportunities == runs[1].opportunities && runs[0].signed == runs[1].signed {
            "the same"
        } else {
            "DIFFERENT between modes"
        },
        &runs[0].digest[..16],
        if runs[0].digest == runs[1].digest {
            "equal in both modes"
        } else {
            "DIFFERENT between modes"
        },
        runs[2].opportunities,
        runs[2].signed,
        runs[0].took_s,
        runs[1].took_s,
        runs[2].took_s
    );
    if let Some(j) = &runs[3].journal {
        t.note.push_str(&format!(
            " Journaled (fused, the execution journal written by its housekeeping thread): {} opportunities, {} rows committed in {} commits, {} dropped; detection p99 {} against {} without it.",
            runs[3].opportunities,
            j.rows,
            j.batches,
            j.dropped,
            us(runs[3].detection.quantile_ns(0.99) as f64),
            us(runs[1].detection.quantile_ns(0.99) as f64)
        ));
    }
    r.tables.push(t);

    let mut t = Table {
        title: "Each step alone, per call, with the same-run baseline".into(),
        head: [
            "step",
            "ours p50",
            "ours p99",
            "baseline",
            "baseline p50",
            "baseline p99",
            "ratio at p50",
        ]
        .map(str::to_owned)
        .to_vec(),
        note: format!(
            "A clock read costs p50 {} here and is inside every sample. Signing used {} coupon fallbacks to RFC 6979.",
            ns(timer.quantile_ns(0.5) as f64),
            sign_fallbacks
        ),
        rows: Vec::new(),
    };
    for s in steps {
        let (o50, o99) = (s.ours.lat.quantile_ns(0.5), s.ours.lat.quantile_ns(0.99));
        let mut row = vec![s.name.to_owned(), ns(o50 as f64), ns(o99 as f64)];
        match &s.baseline {
            Some(b) => {
                let (b50, b99) = (b.lat.quantile_ns(0.5), b.lat.quantile_ns(0.99));
                row.extend([
                    b.name.clone(),
                    ns(b50 as f64),
                    ns(b99 as f64),
                    format!("{:.2}× faster", b50 as f64 / o50.max(1) as f64),
                ]);
            }
            None => row.extend(["—".to_owned(), String::new(), String::new(), String::new()]),
        }
        t.rows.push(row);
    }
    r.tables.push(t);

    r.tables.push(Table {
        title: "Throughput, signing off".into(),
        head: ["measure", "value"].map(str::to_owned).to_vec(),
        rows: vec![
            vec!["logs and heads per pass".into(), thousands(logs_per_pass)],
            vec![
                "decode + update + search, one thread".into(),
                format!("{} per second", thousands(rate as u64)),
            ],
        ],
        note: "replay_pass over the sample's payloads with a fresh engine per pass (best pass); the same code the feed and engine stages run, without rings.".into(),
    });
    if let Some(w) = &wire {
        r.tables.push(Table {
            title: "Wire to wire (polyarb-tools wire)".into(),
            head: ["measure", "value"].map(str::to_owned).to_vec(),
            rows: w.text.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect(),
            note: "From the tool's summary.json: log bytes written to polyarb's socket → signed transaction bytes read back, over loopback TCP.".into(),
        });
    }
    r.notes.push(format!(
        "Placement in the replays: {} | {}",
        runs[0].placement, runs[1].placement
    ));
    r.notes.push(format!(
        "Where the time goes: batched by block, detection at the recorded pace (p50 {}) is the quiet period that ends a block's batch (node.batch_quiet_us = {} µs in the sample's config) plus the batch's search (Engine::on_frame on the frame that ends a batch: p50 {}, p99 {}). Searching after every log takes the quiet period away (p50 {}) but searches far more often. The rings (a round trip p50 {}) and the signer (p50 {}) are small beside the search; the profile below shows the search's own time is mostly exact concentrated-liquidity swaps while sizing and valuing routes.",
        us(best(&|r| r.detection.quantile_ns(0.5)) as f64),
        thousands(quiet_us),
        us(steps[2].ours.lat.quantile_ns(0.5) as f64),
        us(steps[2].ours.lat.quantile_ns(0.99) as f64),
        us(per_log.detection.quantile_ns(0.5) as f64),
        ns(steps[4].ours.lat.quantile_ns(0.5) as f64),
        ns(steps[3].ours.lat.quantile_ns(0.5) as f64),
    ));
    if args.quick {
        r.notes.push(
            "Quick mode: fewer rounds and a shorter replay; for a smoke test, not for numbers."
                .into(),
        );
    }
    r
}

/// Now, UTC, in words ("2026-12-02 06:31:07 UTC").
fn utc_now() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(0));
    polyarb_engine::report::utc(ns)
}
