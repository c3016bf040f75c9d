//! One measured run (polyarb started against the server, the recording played, polyarb stopped
//! with SIGINT, everything written to a folder) and the rate search over such runs.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    WireError,
    node::{ChainSpec, Node},
    rec,
    report::{self, Dist, Matching, PolyarbSummary, dist_line},
    schedule::{self, Notification, Pacing},
    server::{self, Shared},
};

/// How long polyarb may take to connect, and to read its start-up state.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long polyarb may take to exit after SIGINT (its `submit.shutdown_wait_ms` is 3 s by
/// default) before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// `submit.capacity` of the run's config unless it sets one: polyarb's largest (docs/config.md).
const SUBMIT_CAPACITY: i64 = 65_536;
/// Longest wait for polyarb's backlog after the play.
const MAX_DRAIN: Duration = Duration::from_secs(120);

/// What one run does.
#[derive(Debug, Clone)]
pub struct WireOpts {
    /// The polyarb binary.
    pub polyarb: PathBuf,
    /// The config the run's is made from (`ws_url` and `batch_quiet_us` replaced).
    pub config: PathBuf,
    /// The snapshot polyarb resumes from.
    pub snapshot: PathBuf,
    /// The recording played.
    pub recording: PathBuf,
    /// Pacing of the play.
    pub pacing: Pacing,
    /// Play at most this long, seconds (the recording may end first).
    pub seconds: f64,
    /// Output folder.
    pub out: PathBuf,
    /// Pin the server's threads to this core.
    pub core: Option<usize>,
    /// polyarb's `node.batch_quiet_us` for the run.
    pub batch_quiet_us: u64,
    /// Wait this long after polyarb read its nonce before playing (its stages start, the
    /// coupon ring fills).
    pub warmup: Duration,
    /// After the last payload, wait until no transaction came for this long (at most two
    /// minutes), then SIGINT: late transactions still count.
    pub drain: Duration,
    /// Write each burst in one `write` instead of one per payload.
    pub one_write_per_burst: bool,
}

/// A run's JSON summary (`summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The pacing, in words.
    pub pacing: String,
    /// Logs a second asked (rate pacing), else the achieved mean.
    pub rate_logs_per_s: f64,
    /// polyarb's `node.batch_quiet_us`.
    pub batch_quiet_us: u64,
    /// Whether each burst went out in one write.
    pub one_write_per_burst: bool,
    /// Bursts (blocks), payloads and logs played.
    pub bursts: usize,
    /// Payloads written.
    pub payloads: usize,
    /// Log notifications written.
    pub logs: usize,
    /// From the first write to the last intended send, s.
    pub play_s: f64,
    /// `eth_sendRawTransaction` requests received.
    pub raw_tx_messages: u64,
    /// Distinct transactions (by hash).
    pub transactions: u64,
    /// Repeated writes of the same bytes.
    pub repeats: u64,
    /// Distinct transactions attributed to a burst.
    pub matched: u64,
    /// Headline: receive − intended send of the triggering burst's last payload, µs.
    pub wire_to_wire_us: Dist,
    /// Receive − intended send of the triggering burst's first payload, µs.
    pub wire_to_wire_from_first_us: Dist,
    /// Receive − return of the last payload's write (not corrected for coordinated omission), µs.
    pub wire_to_wire_from_written_us: Dist,
    /// Write return − intended send, every payload, µs.
    pub server_lateness_us: Dist,
    /// Receive − intended send of the last payload of the block polyarb's opportunities file
    /// names as the trigger, µs (a check on the matching rule).
    pub wire_to_wire_by_report_us: Dist,
    /// Samples above 60 s clamped in the headline histogram.
    pub clamped: u64,
    /// Transactions whose opportunity (polyarb's `--opportunities` file) names the block of the
    /// burst the rule attributed them to, of those it lists.
    pub attribution_agrees: u64,
    /// Transactions polyarb's opportunities file lists with a hash.
    pub attribution_checked: u64,
    /// What polyarb printed on exit.
    pub polyarb: PolyarbSummary,
    /// Requests per method.
    pub requests: BTreeMap<String, u64>,
    /// polyarb's exit status, in words.
    pub polyarb_exit: String,
    /// Problems (each one line); empty when the run went as planned.
    pub problems: Vec<String>,
}

impl RunSummary {
    /// Whether every transaction polyarb reports was received and attributed, and the counts
    /// agree with polyarb's own.
    pub fn counts_agree(&self) -> bool {
        self.polyarb.signed == Some(self.transactions)
            && self.polyarb.writes == Some(self.raw_tx_messages)
            && self.matched == self.transactions
    }
}

/// The config polyarb runs with: the given one pointed at the server.
fn run_config(opts: &WireOpts, url: &str) -> Result<(String, Vec<(String, String)>), WireError> {
    let text = std::fs::read_to_string(&opts.config).map_err(|source| WireError::Io {
        what: format!("read {}", opts.config.display()),
        source,
    })?;
    let mut cfg: toml::Table = text.parse().map_err(|e| WireError::Input {
        what: format!("{}: {e}", opts.config.display()),
    })?;
    let node = cfg
        .entry("node")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(node) = node.as_table_mut() else {
        return Err(WireError::Input {
            what: format!("{}: [node] is not a table", opts.config.display()),
        });
    };
    node.insert("ws_url".into(), toml::Value::String(url.to_owned()));
    node.insert(
        "batch_quiet_us".into(),
        toml::Value::Integer(i64::try_from(opts.batch_quiet_us).unwrap_or(i64::MAX)),
    );
    node.remove("extra_ws_urls");
    // The play sends hundreds of routes a second while the fake chain mines them only at the
    // next head and polyarb asks the mined count once a second: with the default window of 256
    // nonces, routes beyond it are counted `over capacity` and never written. The largest
    // window (65,536 nonces, under 600 bytes each) keeps every signed route on the wire, unless
    // the config chose one.
    if let Some(submit) = cfg
        .entry("submit")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
    {
        submit
            .entry("capacity")
            .or_insert(toml::Value::Integer(SUBMIT_CAPACITY));
    }
    // The sample's key is anvil's public dev key, kept in [replay].key; hand it over in the
    // variable the config names.
    let mut env = Vec::new();
    let key_env = cfg
        .get("signer")
        .and_then(|s| s.get("key_env"))
        .and_then(toml::Value::as_str)
        .unwrap_or("POLYARB_PRIVATE_KEY")
        .to_owned();
    if let Some(key) = cfg
        .get("replay")
        .and_then(|r| r.get("key"))
        .and_then(toml::Value::as_str)
    {
        env.push((key_env, key.to_owned()));
    }
    let out = toml::to_string(&cfg).map_err(|e| WireError::Input {
        what: format!("cannot write the run's config: {e}"),
    })?;
    Ok((out, env))
}

#[derive(Deserialize)]
struct Snap {
    chain_id: Option<u64>,
    market: SnapMarket,
}

#[derive(Deserialize)]
struct SnapMarket {
    block: u64,
    #[serde(default)]
    base_fee: u128,
    #[serde(default)]
    capital: Vec<SnapCapital>,
    #[serde(default)]
    lenders: Vec<SnapLender>,
}

#[derive(Deserialize)]
struct SnapCapital {
    token: Address,
    amount: u128,
}

#[derive(Deserialize)]
struct SnapLender {
    funding: String,
    token: Address,
    available: u128,
    fee: u128,
}

/// What the node answers, from the config and the snapshot.
fn chain_spec(opts: &WireOpts, notes: &[Notification]) -> Result<ChainSpec, WireError> {
    let text = std::fs::read_to_string(&opts.snapshot).map_err(|source| WireError::Io {
        what: format!("read {}", opts.snapshot.display()),
        source,
    })?;
    let snap: Snap = serde_json::from_str(&text).map_err(|e| WireError::Input {
        what: format!("{}: {e}", opts.snapshot.display()),
    })?;
    let cfg_text = std::fs::read_to_string(&opts.config).map_err(|source| WireError::Io {
        what: format!("read {}", opts.config.display()),
        source,
    })?;
    let cfg: toml::Table = cfg_text.parse().map_err(|e| WireError::Input {
        what: format!("{}: {e}", opts.config.display()),
    })?;
    let get = |table: &str, key: &str| cfg.get(table).and_then(|t| t.get(key)).cloned();
    let address = |table: &str, key: &str| -> Result<Option<Address>, WireError> {
        match get(table, key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| WireError::Input {
                    what: format!("{}: {table}.{key} is not an address", opts.config.display()),
                }),
        }
    };
    let int = |table: &str, key: &str| {
        get(table, key)
            .and_then(|v| v.as_integer())
            .and_then(|i| u64::try_from(i).ok())
    };
    let lenders = |kind: &str| -> Vec<(Address, u128)> {
        snap.market
            .lenders
            .iter()
            .filter(|l| l.funding == kind)
            .map(|l| (l.token, l.available))
            .collect()
    };
    let fee = |kind: &str| {
        snap.market
            .lenders
            .iter()
            .find(|l| l.funding == kind)
            .map_or(0, |l| l.fee)
    };
    let mut heads = HashMap::new();
    for n in notes.iter().filter(|n| n.head) {
        if let Ok(v) = serde_json::from_slice::<Value>(&n.payload)
            && let Some(r) = v.get("params").and_then(|p| p.get("result"))
        {
            heads.insert(n.block, r.clone());
        }
    }
    Ok(ChainSpec {
        chain_id: snap
            .chain_id
            .or_else(|| int("replay", "chain_id"))
            .or_else(|| int("node", "expect_chain_id"))
            .unwrap_or(137),
        block: snap.market.block,
        base_fee_wei: snap.market.base_fee,
        first_nonce: int("replay", "nonce").unwrap_or(0),
        executor: address("signer", "executor")?,
        balancer_vault: address("funding", "balancer_vault")?,
        aave_pool: address("funding", "aave_pool")?,
        capital: snap
            .market
            .capital
            .iter()
            .map(|c| (c.token, c.amount))
            .collect(),
        balancer: lenders("balancer"),
        balancer_fee: fee("balancer"),
        aave: lenders("aave"),
        aave_premium_bps: fee("aave"),
        heads,
    })
}

/// The recording's notifications, read once for every run of a search.
pub fn load_notifications(recording: &Path) -> Result<Vec<Notification>, WireError> {
    let records = rec::read(recording)?;
    let (notes, _responses) =
        schedule::notifications(&records).map_err(|what| WireError::Recording {
            path: recording.to_owned(),
            what,
        })?;
    if notes.is_empty() {
        return Err(WireError::Recording {
            path: recording.to_owned(),
            what: "no subscription notifications in it".to_owned(),
        });
    }
    Ok(notes)
}

/// polyarb as a child; killed on drop if it still runs.
struct Polyarb(Child);

impl Polyarb {
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// SIGINT (`kill -INT`, this crate forbids unsafe), then the exit status in words.
    fn interrupt(&mut self) -> String {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill")
            .args(["-INT", &pid])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        loop {
            match self.0.try_wait() {
                Ok(Some(s)) => return s.to_string(),
                Ok(None) if started.elapsed() < EXIT_TIMEOUT => {
                    thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                    return format!(
                        "killed: still running {} s after SIGINT",
                        EXIT_TIMEOUT.as_secs()
                    );
                }
            }
        }
    }
}

impl Drop for Polyarb {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> WireError {
    move |source| WireError::Io { what, source }
}

fn write_file(path: &Path, text: &str) -> Result<(), WireError> {
    std::fs::write(path, text).map_err(io_err(format!("write {}", path.display())))
}

/// The blocks polyarb's opportunities file names per transaction hash.
fn opportunity_blocks(path: &Path) -> HashMap<String, u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let hash = v.get("tx_hash")?.as_str()?.to_ascii_lowercase();
            Some((hash, v.get("block")?.as_u64()?))
        })
        .collect()
}

/// One measured run into `opts.out`.
pub fn run_once(opts: &WireOpts, notes: &[Notification]) -> Result<RunSummary, WireError> {
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(io_err(format!("create {}", out.display())))?;
    let limit_ns = (opts.seconds.max(0.0) * 1e9).min(u64::MAX as f64) as u64;
    let plan = schedule::plan(notes, opts.pacing, limit_ns);
    let spec = chain_spec(opts, notes)?;
    let snapshot_block = spec.block;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(io_err("bind 127.0.0.1:0".to_owned()))?;
    let addr = listener
        .local_addr()
        .map_err(io_err("listener address".to_owned()))?;
    let (config, env) = run_config(opts, &format!("ws://{addr}"))?;
    let config_path = out.join("polyarb.toml");
    write_file(&config_path, &config)?;
    let opportunities = out.join("opportunities.jsonl");
    let stdout_path = out.join("polyarb.stdout");
    let stderr_path = out.join("polyarb.stderr");
    let stdout =
        File::create(&stdout_path).map_err(io_err(format!("create {}", stdout_path.display())))?;
    let stderr =
        File::create(&stderr_path).map_err(io_err(format!("create {}", stderr_path.display())))?;
    let child = Command::new(&opts.polyarb)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .arg("--resume")
        .arg(&opts.snapshot)
        .arg("--opportunities")
        .arg(&opportunities)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(io_err(format!("start {}", opts.polyarb.display())))?;
    let mut polyarb = Polyarb(child);
    let polyarb_failed = |what: String| WireError::Polyarb {
        what,
        stderr: stderr_path.clone(),
    };

    let stream =
        server::accept(&listener, CONNECT_TIMEOUT, || polyarb.alive()).map_err(&polyarb_failed)?;
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        head: snapshot_block.into(),
        heads_played: 0.into(),
        ready_ns: 0.into(),
        last_rx_ns: 0.into(),
        stop: AtomicBool::new(false),
    });
    let writer = Arc::new(Mutex::new(
        stream
            .try_clone()
            .map_err(io_err("clone the socket".to_owned()))?,
    ));
    let reader = server::spawn_reader(
        stream,
        Arc::clone(&writer),
        Node::new(spec),
        Arc::clone(&shared),
        opts.core,
    )
    .map_err(io_err("start the reader thread".to_owned()))?;

    let mut problems = Vec::new();
    let started = Instant::now();
    while shared.ready_ns.load(Ordering::Acquire) == 0 {
        if !polyarb.alive() {
            problems.push("polyarb exited during start-up".to_owned());
            break;
        }
        if reader.is_finished() {
            // A failed pin, or polyarb closed the socket: nothing will answer it.
            problems.push("the server's reader stopped during start-up".to_owned());
            break;
        }
        if started.elapsed() > READY_TIMEOUT {
            problems.push(format!(
                "polyarb did not ask its nonce within {} s",
                READY_TIMEOUT.as_secs()
            ));
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let mut play = server::PlayLog::default();
    if problems.is_empty() {
        thread::sleep(opts.warmup);
        let abort = AtomicBool::new(false);
        // The player runs on this thread; pinned with the reader when asked.
        let pinned = match opts.core {
            Some(c) => server::pin(c),
            None => Ok(()),
        };
        match pinned
            .and_then(|()| server::play(&plan, &writer, &shared, opts.one_write_per_burst, &abort))
        {
            Ok(p) => play = p,
            Err(e) => problems.push(format!("play: {e}")),
        }
        // A polyarb behind the play still has routes to send: wait until none came for
        // `drain`, so its backlog is measured rather than cut off by the SIGINT.
        let play_end = shared.now_ns();
        loop {
            let quiet_since = play_end.max(shared.last_rx_ns.load(Ordering::Acquire));
            let now = shared.now_ns();
            if now.saturating_sub(quiet_since) >= opts.drain.as_nanos() as u64 {
                break;
            }
            if now.saturating_sub(play_end) >= MAX_DRAIN.as_nanos() as u64 {
                problems.push(format!(
                    "polyarb still sent transactions {} s after the play ended",
                    MAX_DRAIN.as_secs()
                ));
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    let exit = polyarb.interrupt();
    shared.stop.store(true, Ordering::Release);
    let log = reader.join().unwrap_or_default();
    if let Some(e) = &log.error {
        problems.push(format!("reader: {e}"));
    }
    let text = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let polyarb_summary = report::parse_polyarb(&text);
    if polyarb_summary.signed.is_none() {
        problems.push(format!(
            "polyarb printed no summary (exit: {exit}); see {}",
            stderr_path.display()
        ));
    }

    let written = play.written_ns.iter().filter(|&&w| w > 0).count();
    // polyarb's feed counts the server's answers too: fewer payloads than were played means it
    // stopped reading (or never started: a starved feed thread) before the play ended.
    if let Some(read) = polyarb_summary.payloads
        && read < written as u64
    {
        problems.push(format!(
            "polyarb's feed read {read} payloads, fewer than the {written} notifications played"
        ));
    }
    let m: Matching = report::attribute(&plan, &play, &log.arrivals);
    let blocks = opportunity_blocks(&opportunities);
    let burst_of: HashMap<u64, usize> = plan
        .bursts
        .iter()
        .enumerate()
        .rev()
        .map(|(k, b)| (b.block, k))
        .collect();
    let (mut checked, mut agrees) = (0u64, 0u64);
    let mut by_report = report::Latency::default();
    for (a, k) in log.arrivals.iter().zip(&m.burst) {
        if a.tx.repeat {
            continue;
        }
        let hash = format!("0x{}", alloy_primitives::hex::encode(a.tx.hash));
        if let Some(&block) = blocks.get(&hash) {
            checked += 1;
            agrees += u64::from(k.is_some_and(|k| plan.bursts[k].block == block));
            // The same measure from the block polyarb names as the trigger (its own report,
            // so a check on the rule rather than the headline).
            if let Some(&k) = burst_of.get(&block) {
                let due = play.start_ns + plan.intended_ns[plan.bursts[k].last()];
                by_report.record(a.rx_ns.saturating_sub(due));
            }
        }
    }
    let logs = plan.logs();
    let play_s = plan.intended_ns.last().map_or(0.0, |&t| t as f64 / 1e9);
    let summary = RunSummary {
        pacing: opts.pacing.to_string(),
        rate_logs_per_s: match opts.pacing {
            Pacing::LogsPerSecond(r) => r,
            Pacing::Recorded(_) if play_s > 0.0 => logs as f64 / play_s,
            Pacing::Recorded(_) => 0.0,
        },
        batch_quiet_us: opts.batch_quiet_us,
        one_write_per_burst: opts.one_write_per_burst,
        bursts: plan.bursts.len(),
        payloads: written,
        logs,
        play_s,
        raw_tx_messages: log.arrivals.len() as u64,
        transactions: m.distinct,
        repeats: m.repeats,
        matched: m.matched,
        wire_to_wire_us: m.from_last_intended.dist(),
        wire_to_wire_from_first_us: m.from_first_intended.dist(),
        wire_to_wire_from_written_us: m.from_last_written.dist(),
        server_lateness_us: m.server_lateness.dist(),
        wire_to_wire_by_report_us: by_report.dist(),
        clamped: m.from_last_intended.clamped,
        attribution_agrees: agrees,
        attribution_checked: checked,
        polyarb: polyarb_summary,
        requests: log.methods.clone(),
        polyarb_exit: exit,
        problems,
    };

    write_file(&out.join("wire_to_wire.hgrm"), &m.from_last_intended.hgrm())?;
    write_file(
        &out.join("wire_to_wire_from_first.hgrm"),
        &m.from_first_intended.hgrm(),
    )?;
    write_file(
        &out.join("wire_to_wire_from_written.hgrm"),
        &m.from_last_written.hgrm(),
    )?;
    write_file(&out.join("server_lateness.hgrm"), &m.server_lateness.hgrm())?;
    write_file(&out.join("wire_to_wire_by_report.hgrm"), &by_report.hgrm())?;
    let mut requests = String::new();
    for r in &log.requests {
        let _ = writeln!(
            requests,
            "{:>12.3} ms  {}  {}",
            r.at_ns as f64 / 1e6,
            r.method,
            r.params
        );
    }
    write_file(&out.join("requests.log"), &requests)?;
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    write_file(&out.join("summary.json"), &json)?;
    write_file(&out.join("summary.txt"), &summary_text(&summary))?;
    Ok(summary)
}

/// A run's summary in words.
pub fn summary_text(s: &RunSummary) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "wire-to-wire: {} ({:.0} logs/s), node.batch_quiet_us = {}, {}",
        s.pacing,
        s.rate_logs_per_s,
        s.batch_quiet_us,
        if s.one_write_per_burst {
            "one write per block"
        } else {
            "one write per payload"
        }
    );
    let _ = writeln!(
        t,
        "played: {} blocks, {} payloads ({} logs) over {:.3} s",
        s.bursts, s.payloads, s.logs, s.play_s
    );
    let _ = writeln!(
        t,
        "transactions: {} received ({} distinct, {} repeated writes), {} attributed to a block; polyarb's opportunities name the same block for {} of {}",
        s.raw_tx_messages,
        s.transactions,
        s.repeats,
        s.matched,
        s.attribution_agrees,
        s.attribution_checked
    );
    let opt = |v: Option<u64>| v.map_or("?".to_owned(), |n| n.to_string());
    let _ = writeln!(
        t,
        "polyarb says: {} opportunities, {} signed, {} written ({} writes, {} rewrites); counts {}",
        opt(s.polyarb.opportunities),
        opt(s.polyarb.signed),
        opt(s.polyarb.written),
        opt(s.polyarb.writes),
        opt(s.polyarb.rewrites),
        if s.counts_agree() {
            "agree"
        } else {
            "DISAGREE"
        }
    );
    for (label, d) in [
        (
            "wire to wire, from the intended send of the block's last payload (coordinated omission corrected)",
            &s.wire_to_wire_us,
        ),
        (
            "  from the intended send of the block's first payload",
            &s.wire_to_wire_from_first_us,
        ),
        (
            "  from the return of the last payload's write (not corrected)",
            &s.wire_to_wire_from_written_us,
        ),
        (
            "  from the intended send of the last payload of the block polyarb's report names",
            &s.wire_to_wire_by_report_us,
        ),
        (
            "server lateness (write returned − intended), every payload",
            &s.server_lateness_us,
        ),
    ] {
        let _ = writeln!(t, "{label}: {}", dist_line(d));
    }
    if let Some(d) = &s.polyarb.detection {
        let _ = writeln!(
            t,
            "polyarb detection (frame read → opportunity): {}",
            dist_line(d)
        );
    }
    if let Some(d) = &s.polyarb.submission {
        let _ = writeln!(
            t,
            "polyarb submission (frame read → signed bytes written): {}",
            dist_line(d)
        );
    }
    let methods: Vec<String> = s.requests.iter().map(|(m, n)| format!("{m} {n}")).collect();
    let _ = writeln!(t, "requests: {}", methods.join(", "));
    let _ = writeln!(t, "polyarb exit: {}", s.polyarb_exit);
    for p in &s.problems {
        let _ = writeln!(t, "problem: {p}");
    }
    let _ = writeln!(t, "polyarb's own summary:");
    for l in &s.polyarb.lines {
        let _ = writeln!(t, "  {l}");
    }
    t
}

/// One step of the rate search.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Logs a second.
    pub rate: f64,
    /// Wire-to-wire p99, µs (headline measure).
    pub p99_us: f64,
    /// The same from the block polyarb's report names, µs.
    pub p99_by_report_us: f64,
    /// Transactions measured.
    pub samples: u64,
    /// Whether it held: p99 under the budget, every transaction attributed, counts agreeing.
    pub held: bool,
    /// Where its files are.
    pub dir: PathBuf,
}

/// The rate search's result (`search.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// The p99 budget, µs.
    pub budget_us: f64,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The highest rate that held, logs/s.
    pub max_rate: Option<f64>,
}

/// Doubles the rate from `start` until a step fails (p99 over `budget_us`, or transactions lost
/// or unattributed), then bisects between the last that held and the first that did not, for
/// `bisect` steps. A step with fewer than `min_samples` transactions does not count as held.
pub fn find_max(
    opts: &WireOpts,
    notes: &[Notification],
    start: f64,
    budget_us: f64,
    bisect: u32,
    max_rate: f64,
    min_samples: u64,
) -> Result<Search, WireError> {
    let mut steps = Vec::new();
    let step = |rate: f64, steps: &mut Vec<Step>| -> Result<bool, WireError> {
        let mut o = opts.clone();
        o.pacing = Pacing::LogsPerSecond(rate);
        o.out = opts.out.join(format!("rate-{rate:.0}"));
        let s = run_once(&o, notes)?;
        // The rule attributes a transaction to the newest burst written before it, so once
        // latency exceeds the gap between bursts it understates; the same measure from the
        // block polyarb's report names must hold the budget too.
        let held = s.wire_to_wire_us.p99_us <= budget_us
            && s.wire_to_wire_by_report_us.p99_us <= budget_us
            && s.counts_agree()
            && s.wire_to_wire_us.count >= min_samples
            && s.problems.is_empty();
        tracing::info!(
            rate,
            p99_us = s.wire_to_wire_us.p99_us,
            samples = s.wire_to_wire_us.count,
            held,
            "rate step"
        );
        steps.push(Step {
            rate,
            p99_us: s.wire_to_wire_us.p99_us,
            p99_by_report_us: s.wire_to_wire_by_report_us.p99_us,
            samples: s.wire_to_wire_us.count,
            held,
            dir: o.out,
        });
        Ok(held)
    };
    let (mut good, mut bad) = (None::<f64>, None::<f64>);
    let mut rate = start.max(1.0);
    while rate <= max_rate {
        if step(rate, &mut steps)? {
            good = Some(rate);
            rate *= 2.0;
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        for _ in 0..bisect {
            let mid = ((lo + hi) / 2.0).round();
            if mid <= lo || mid >= hi {
                break;
            }
            if step(mid, &mut steps)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        good = Some(lo);
    }
    let search = Search {
        budget_us,
        steps,
        max_rate: good,
    };
    let mut t = format!(
        "rate search: highest rate with wire-to-wire p99 under {budget_us:.0} µs (every transaction received, attributed and counted alike): {}\n",
        good.map_or("none held".to_owned(), |r| format!("{r:.0} logs/s"))
    );
    for s in &search.steps {
        let _ = writeln!(
            t,
            "  {:>10.0} logs/s: p99 {:>10.1} µs (from the reported block {:>10.1} µs) over {:>5} transactions, {}  ({})",
            s.rate,
            s.p99_us,
            s.p99_by_report_us,
            s.samples,
            if s.held { "held" } else { "did not hold" },
            s.dir.display()
        );
    }
    write_file(&opts.out.join("search.txt"), &t)?;
    write_file(
        &opts.out.join("search.json"),
        &serde_json::to_string_pretty(&search).unwrap_or_default(),
    )?;
    Ok(search)
}

/// The polyarb binary cargo builds in this workspace's target folder (`CARGO_TARGET_DIR`
/// honoured), `profile` being `debug` or `release`.
pub fn polyarb_binary(root: &Path, profile: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    target.join(profile).join("polyarb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_config_points_at_the_server_and_hands_over_the_key() {
        let dir = std::env::temp_dir().join(format!("wire-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[node]\nws_url = \"ws://x\"\n[signer]\nkey_env = \"K\"\n[replay]\nkey = \"0xab\"\n",
        )
        .unwrap();
        let opts = WireOpts {
            polyarb: PathBuf::new(),
            config: path,
            snapshot: PathBuf::new(),
            recording: PathBuf::new(),
            pacing: Pacing::LogsPerSecond(1.0),
            seconds: 1.0,
            out: dir.clone(),
            core: None,
            batch_quiet_us: 0,
            warmup: Duration::ZERO,
            drain: Duration::ZERO,
            one_write_per_burst: false,
        };
        let (text, env) = run_config(&opts, "ws://127.0.0.1:9").unwrap();
        let t: toml::Table = text.parse().unwrap();
        assert_eq!(t["node"]["ws_url"].as_str(), Some("ws://127.0.0.1:9"));
        assert_eq!(t["node"]["batch_quiet_us"].as_integer(), Some(0));
        assert_eq!(t["submit"]["capacity"].as_integer(), Some(65_536));
        assert_eq!(env, vec![("K".to_owned(), "0xab".to_owned())]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
