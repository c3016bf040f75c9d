//! `polyarb replay`: a recording through the same decoder, engine and signer as live, with signed
//! transactions going to a sink instead of a node. Deterministic: the same recording, snapshot
//! and config give the same opportunities and the same signed transactions (the sink's digest
//! says so). Signatures use fresh nonce coupons as live does, so only (r, s) differ between
//! runs; `--rfc6979` makes the bytes identical too.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool},
};

use alloy_primitives::Keccak256;
use polyarb_feeds::{RecordError, RecordHeader, RecordReader};
use polyarb_signer::Signer;

use super::AppError;
use crate::{
    clock::{Clock, MonoClock},
    config::{Config, ProcessEnv},
    journal::{Journal, JournalHandle, JournalStats, RunInfo, Target},
    pipeline::{
        self, Arrival, FeedPort, PipelineSettings, PortState, Report, RunOutcome, quiet_ends_batch,
    },
    report::{self, Names},
    risk::{RiskGate, RiskState, Trip},
    snapshot,
    txbuild::TxBuilder,
};
use polyarb_core::Engine;

/// Records handed to the feed stage per poll: enough to amortise the loop, small enough that
/// sends are serviced often.
const POLL_BATCH: usize = 64;

/// Why a replay's inputs cannot be used together.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayError {
    /// The config has no `[replay]` section.
    NoSection {
        /// The config file.
        config: PathBuf,
    },
    /// `[replay].key` is not set.
    NoKey {
        /// The config file.
        config: PathBuf,
    },
    /// `--speed` is negative, not a number or infinite.
    Speed(f64),
    /// The snapshot was taken on another chain than the config is for.
    WrongChain {
        /// The snapshot file.
        snapshot: PathBuf,
        /// Its `chain_id`.
        chain: u64,
        /// The config key that disagrees (`[replay].chain_id`, `node.expect_chain_id`).
        key: &'static str,
        /// That key's value.
        config: u64,
    },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSection { config } => {
                write!(
                    f,
                    "{}: needs a [replay] section with a key",
                    config.display()
                )
            }
            Self::NoKey { config } => write!(f, "{}: [replay].key is not set", config.display()),
            Self::Speed(s) => write!(f, "--speed {s} is not a finite number >= 0"),
            Self::WrongChain {
                snapshot,
                chain,
                key,
                config,
            } => write!(
                f,
                "{} was taken on chain {chain}, but {key} is {config}",
                snapshot.display()
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Where replay's inputs are, and what it writes.
#[derive(Debug, Clone)]
pub struct ReplayArgs {
    /// The recording.
    pub recording: PathBuf,
    /// The pool snapshot the recording starts from.
    pub snapshot: PathBuf,
    /// The config (tokens, gas, `[replay]` key and nonce, executor).
    pub config: PathBuf,
    /// Write every opportunity as a JSON line here.
    pub opportunities: Option<PathBuf>,
    /// Write every signed transaction as a 0x-hex line here.
    pub txs: Option<PathBuf>,
    /// Pace: deliver each payload when `(recorded time − first recorded time) / speed` has
    /// elapsed since the replay started, as the live feed would. `0` = as fast as possible (a
    /// throughput test: latencies then include queueing behind earlier frames).
    pub speed: f64,
    /// Sign with RFC 6979 only, no nonce coupons: the signed bytes are then the same on every
    /// run (with coupons only the signatures differ, and the digest leaves them out).
    pub rfc6979: bool,
    /// Write the execution journal here; `None`: `[journal] path` or `url`, if set.
    pub journal: Option<Target>,
}

/// What a replay found; printed by the binary, compared by the determinism test.
#[derive(Debug)]
pub struct ReplaySummary {
    /// Header of the recording.
    pub header: RecordHeader,
    /// The run's counters and histograms.
    pub outcome: RunOutcome<ReplayPort>,
    /// Every report, in order.
    pub reports: Vec<Report>,
    /// Names for printing.
    pub names: Names,
    /// Pools and cycles the engine built.
    pub pools: usize,
    /// Cycles the engine searches.
    pub cycles: usize,
    /// What the execution journal wrote, if one was asked for.
    pub journal: Option<JournalStats>,
    /// Routes the risk limits refused, per reason.
    pub refused: Vec<(Trip, u64)>,
}

/// The replay edge: records from a file in, paced by their recorded receive times, and signed
/// transactions to a sink.
#[derive(Debug)]
pub struct ReplayPort {
    reader: RecordReader<BufReader<File>>,
    pace: Pace,
    /// The pipeline's clock: pacing reads the same time base the stages stamp.
    clock: Arc<dyn Clock>,
    /// The next record when it is not yet due: (recorded ns, payload). The buffer is reused.
    held: Option<u64>,
    held_payload: Vec<u8>,
    /// Recorded receive time of the last payload delivered.
    last_recv: Option<u64>,
    /// A recorded gap this long ends a batch, ns (`node.batch_quiet_us`).
    quiet_ns: u64,
    digest: Keccak256,
    txs_out: Option<BufWriter<File>>,
    /// Routes the signer did not sign, to hand back to the engine as dropped.
    not_signed: std::collections::VecDeque<u64>,
    /// Records read.
    pub records: u64,
    /// Corrupt or truncated stretches skipped (each reported).
    pub record_errors: u64,
    /// Signed transactions received.
    pub txs: u64,
    /// Bytes of signed transactions received.
    pub tx_bytes: u64,
}

/// When recorded payloads are due. Sans-IO: the time comes in.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// 1 / speed, or 0 for unpaced.
    slowdown: f64,
    /// (replay start on the pipeline clock, recorded time of the first record), ns, set at the
    /// first record.
    origin: Option<(u64, u64)>,
}

impl Pace {
    /// True if a payload recorded at `recorded_ns` (recording clock) may be delivered at
    /// `now_ns` (pipeline clock): its offset from the first record, divided by the speed, has
    /// passed since the first record was delivered.
    fn due(&mut self, recorded_ns: u64, now_ns: u64) -> bool {
        if self.slowdown == 0.0 {
            return true;
        }
        let (start, first) = *self.origin.get_or_insert((now_ns, recorded_ns));
        let offset_ns = recorded_ns.saturating_sub(first) as f64 * self.slowdown;
        now_ns.saturating_sub(start) as f64 >= offset_ns
    }
}

impl ReplayPort {
    /// A port delivering `reader`'s records paced by `clock` at `speed` (0: unpaced), a batch
    /// ending at recorded gaps of `quiet_ns` or more, signed transactions to the digest and
    /// `txs_out`.
    fn new(
        reader: RecordReader<BufReader<File>>,
        clock: Arc<dyn Clock>,
        speed: f64,
        quiet_ns: u64,
        txs_out: Option<BufWriter<File>>,
    ) -> Self {
        Self {
            reader,
            clock,
            pace: Pace {
                slowdown: if speed == 0.0 { 0.0 } else { 1.0 / speed },
                origin: None,
            },
            held: None,
            held_payload: Vec::with_capacity(4096),
            last_recv: None,
            quiet_ns,
            digest: Keccak256::new(),
            txs_out,
            not_signed: std::collections::VecDeque::with_capacity(1_024),
            records: 0,
            record_errors: 0,
            txs: 0,
            tx_bytes: 0,
        }
    }

    /// keccak256 over every signed transaction's fields without its signature, in order: equal
    /// digests mean the same transactions were signed (byte-equal output under `--rfc6979`).
    pub fn digest(&self) -> [u8; 32] {
        self.digest.clone().finalize().0
    }
}

/// Whether a record received at `recv_ns` (recording clock) starts a new burst after the last
/// one delivered (`last`), which it then becomes: the live rule ([`quiet_ends_batch`]) applied
/// to the recorded gap.
fn new_burst(last: &mut Option<u64>, recv_ns: u64, quiet_ns: u64) -> bool {
    let gap = last.map(|l| recv_ns.saturating_sub(l));
    *last = Some(recv_ns);
    gap.is_some_and(|g| quiet_ends_batch(g, quiet_ns))
}

fn arrival(new_burst: bool) -> Arrival {
    if new_burst {
        Arrival::NewBurst
    } else {
        Arrival::Live
    }
}

impl ReplayPort {
    /// What to report while the next record (received at `next_recv`) is not yet due: `Idle`
    /// once it is known to start a new burst and the quiet period after the last payload has
    /// passed on the paced clock, as the live socket would have drained and stayed quiet that
    /// long (the engine searches then, not when the next record arrives); `Waiting` before.
    fn not_yet(&mut self, next_recv: u64) -> PortState {
        match self.last_recv {
            Some(last)
                if quiet_ends_batch(next_recv.saturating_sub(last), self.quiet_ns)
                    && self
                        .pace
                        .due(last.saturating_add(self.quiet_ns), self.clock.now_ns()) =>
            {
                PortState::Idle
            }
            _ => PortState::Waiting,
        }
    }
}

impl FeedPort for ReplayPort {
    fn not_signed(&mut self, seq: u64) {
        self.not_signed.push_back(seq);
    }

    fn route_end(&mut self) -> Option<(u64, u8)> {
        self.not_signed
            .pop_front()
            .map(|seq| (seq, polyarb_core::ROUTE_DROPPED))
    }

    fn poll(&mut self, on_payload: &mut dyn FnMut(&[u8], Arrival) -> bool) -> PortState {
        // Batch boundaries come from the recorded receive times, never from how fast this
        // replay runs, so every replay of a recording searches at the same points: a payload
        // received `node.batch_quiet_us` or more after the one before arrived after the live
        // socket had drained and stayed quiet. So this port never reports `Idle` while records
        // remain.
        let mut delivered = false;
        if let Some(t) = self.held {
            if !self.pace.due(t, self.clock.now_ns()) {
                return self.not_yet(t);
            }
            self.held = None;
            self.records += 1;
            let new_burst = new_burst(&mut self.last_recv, t, self.quiet_ns);
            if !on_payload(&self.held_payload, arrival(new_burst)) {
                return PortState::Busy;
            }
            delivered = true;
        }
        for _ in 0..POLL_BATCH {
            match self.reader.next_ref() {
                Some(Ok(rec)) => {
                    if !self.pace.due(rec.recv_ns, self.clock.now_ns()) {
                        // Not yet: keep it (copied, the reader's buffer moves on) for a later poll.
                        self.held_payload.clear();
                        self.held_payload.extend_from_slice(rec.payload);
                        let t = rec.recv_ns;
                        self.held = Some(t);
                        return if delivered {
                            PortState::Busy
                        } else {
                            self.not_yet(t)
                        };
                    }
                    self.records += 1;
                    delivered = true;
                    let new_burst = new_burst(&mut self.last_recv, rec.recv_ns, self.quiet_ns);
                    if !on_payload(rec.payload, arrival(new_burst)) {
                        // Transactions to write first; the next record waits in the reader.
                        return PortState::Busy;
                    }
                }
                Some(Err(e)) => {
                    self.record_errors += 1;
                    tracing::warn!(error = %e, "recording damaged; skipped to the next good record");
                    if matches!(e, RecordError::Io(_)) {
                        return PortState::Ended;
                    }
                }
                None => return PortState::Ended,
            }
        }
        PortState::Busy
    }

    type SubmitError = std::io::Error;

    fn submit(&mut self, tx: &polyarb_core::TxFrame, _now_ns: u64) -> std::io::Result<()> {
        let raw = tx.raw();
        // What was signed, not the signature: coupon signatures differ run to run.
        self.digest
            .update(polyarb_signer::unsigned_fields(raw).unwrap_or(raw));
        self.txs += 1;
        self.tx_bytes += raw.len() as u64;
        if let Some(out) = &mut self.txs_out {
            writeln!(out, "0x{}", alloy_primitives::hex::encode(raw))?;
        }
        Ok(())
    }

    fn on_response(&mut self, _id: Option<u64>, _outcome: Result<&[u8], &[u8]>, _now_ns: u64) {
        // Responses in a recording answered the recorder's own requests (subscriptions).
    }
}

/// The shipped sample's directory: `./data` if it holds the sample, else the one this binary
/// was built from.
pub fn default_data_dir() -> PathBuf {
    let local = Path::new("data");
    if local.join("sample.rec").exists() {
        return local.to_owned();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
}

/// Runs a replay to the end.
pub fn replay(args: &ReplayArgs) -> Result<ReplaySummary, AppError> {
    replay_clocked(args, Arc::new(MonoClock::new()))
}

/// [`replay`] on `clock`: every stamp of the run and the replay's pacing read it (a test's
/// clock can watch the stage threads through it).
pub fn replay_clocked<C: Clock + 'static>(
    args: &ReplayArgs,
    clock: Arc<C>,
) -> Result<ReplaySummary, AppError> {
    // The recording first: it is what the user named, so its problems are reported before those
    // of the config and snapshot found next to it.
    let recording = |error| AppError::Recording {
        path: args.recording.clone(),
        error,
    };
    let file = File::open(&args.recording).map_err(|e| recording(RecordError::Io(e)))?;
    let reader = RecordReader::new(BufReader::with_capacity(1 << 20, file)).map_err(recording)?;
    let header = reader.header().clone();
    let cfg = Config::load(&args.config, &ProcessEnv)?;
    let plan = super::plan_threads(&cfg)?;
    let pins = Arc::new(crate::placement::PinBoard::default());
    let (mut market, chain) =
        snapshot::read(&args.snapshot).map_err(|error| AppError::Snapshot {
            path: args.snapshot.clone(),
            error,
        })?;
    cfg.apply_flash_swap(&mut market);
    let rcfg = cfg.replay.clone().ok_or_else(|| ReplayError::NoSection {
        config: args.config.clone(),
    })?;
    // A snapshot that names its chain must be of the chain replay signs for (and the one the
    // config expects of its node, if it says): pools and addresses of another chain would
    // replay into transactions for this one.
    if let Some(chain) = chain {
        for (key, config) in [
            ("[replay].chain_id", Some(rcfg.chain_id)),
            ("node.expect_chain_id", cfg.node.expect_chain_id),
        ] {
            if let Some(config) = config.filter(|&c| c != chain) {
                return Err(ReplayError::WrongChain {
                    snapshot: args.snapshot.clone(),
                    chain,
                    key,
                    config,
                }
                .into());
            }
        }
    }
    let key = rcfg.key.as_deref().ok_or_else(|| ReplayError::NoKey {
        config: args.config.clone(),
    })?;
    let signer = Signer::from_hex(key).map_err(|error| AppError::Key {
        from: "[replay].key",
        error,
    })?;
    let executor = cfg.executor()?;

    let engine = Engine::new(&market, cfg.search_params()).map_err(AppError::Market)?;
    let pools = market.pools.len() - engine.build_report().pools_dropped as usize;
    let cycles = engine.build_report().cycles;
    let (coupons, _mint) = super::start_coupons(&cfg, args.rfc6979, &plan, &pins)?;
    let mut builder = TxBuilder::new(
        signer,
        rcfg.chain_id,
        rcfg.nonce,
        executor,
        cfg.fee_bid(),
        cfg.signer.tx_type.tx_type(),
        coupons,
    );

    // The static limits apply to a replay as to a live run (the kill switch and the breakers,
    // which need a node, do not).
    let risk = Arc::new(RiskState::default());
    builder.set_risk(RiskGate::new(cfg.risk_limits()?, Arc::clone(&risk)));

    let txs_out = super::create_optional(args.txs.as_deref())?;
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        return Err(ReplayError::Speed(args.speed).into());
    }
    // One clock for the whole run: the stages' stamps and the replay pacing share its origin.
    let port = ReplayPort::new(
        reader,
        Arc::clone(&clock) as _,
        args.speed,
        cfg.node.batch_quiet_ns(),
        txs_out,
    );

    let mut jsonl = super::create_optional(args.opportunities.as_deref())?;
    let names = Names::new(&market);
    // Opened before the threads start: a journal that cannot be written stops the run here,
    // with the file's name and SQLite's words, not after it.
    let journal = match super::journal_target(&cfg, args.journal.as_ref())? {
        Some(path) => {
            let run = RunInfo {
                kind: "replay",
                chain_id: Some(rcfg.chain_id),
                config: args.config.clone(),
            };
            let j = Journal::open(&path).map_err(AppError::Journal)?;
            Some(
                JournalHandle::start(j, &run, names.clone(), &cfg.journal, plan.housekeeping)
                    .map_err(AppError::Journal)?,
            )
        }
        None => None,
    };
    let mut reports = Vec::new();
    let mut write_err = None;
    let settings = PipelineSettings {
        plan,
        pins,
        pipeline: cfg.pipeline,
        settle_ns: 0,
        export: None,
        submission_live: None,
    };
    let mut outcome = pipeline::run(
        port,
        engine,
        builder,
        clock,
        settings,
        Arc::new(AtomicBool::new(false)),
        |r: &Report| {
            if let Some(out) = &mut jsonl
                && let Err(e) = writeln!(out, "{}", report::json_line(r, &names))
            {
                write_err.get_or_insert(e);
            }
            if let Some(j) = &journal {
                j.record(r);
            }
            reports.push(*r);
        },
    );
    let journal = journal.map(JournalHandle::finish);
    if let (Some(out), Some(path)) = (&mut outcome.port.txs_out, &args.txs) {
        out.flush().map_err(AppError::file(path))?;
    }
    if let (Some(mut out), Some(path)) = (jsonl, &args.opportunities) {
        out.flush().map_err(AppError::file(path))?;
    }
    if let (Some(e), Some(path)) = (write_err, &args.opportunities) {
        return Err(AppError::file(path)(e));
    }
    Ok(ReplaySummary {
        header,
        outcome,
        reports,
        names,
        pools,
        cycles,
        journal,
        refused: risk.refusals(),
    })
}

impl std::fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.outcome;
        let e = &o.engine;
        writeln!(
            f,
            "recording: format version {}, recorded {} by {:?}",
            self.header.version,
            report::utc(self.header.created_unix_ns),
            self.header.source
        )?;
        writeln!(
            f,
            "records: {} read, {} damaged stretches skipped; market: {} pools, {} cycles",
            o.port.records, o.port.record_errors, self.pools, self.cycles
        )?;
        writeln!(f, "{}", report::stage_summary(&o.feed, &o.signer))?;
        writeln!(f, "{}", report::engine_summary(e))?;
        writeln!(f, "{}", o.placement)?;
        if let Some(j) = &self.journal {
            writeln!(f, "{j}")?;
        }
        if !self.refused.is_empty() {
            write!(f, "risk: routes refused:")?;
            for (t, n) in &self.refused {
                write!(f, " {n} {}", t.key())?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(f, "opportunities found: {}", self.reports.len())?;
        for r in self.reports.iter().take(SHOW) {
            writeln!(f, "  {}", report::short_line(r, &self.names))?;
        }
        if self.reports.len() > SHOW {
            writeln!(
                f,
                "  … {} more (use --opportunities FILE for all)",
                self.reports.len() - SHOW
            )?;
        }
        writeln!(f)?;
        write!(f, "{}", o.latency)?;
        writeln!(f)?;
        writeln!(
            f,
            "signed transactions: {} ({} bytes), digest keccak256 0x{}",
            o.port.txs,
            o.port.tx_bytes,
            alloy_primitives::hex::encode(o.port.digest())
        )
    }
}

const SHOW: usize = 15;

#[cfg(test)]
mod tests {
    use crate::pipeline::Arrival;
    use std::{
        fs::File,
        io::{BufReader, BufWriter},
        sync::Arc,
    };

    use polyarb_feeds::{RecordReader, RecordWriter};

    use super::{Pace, ReplayPort};
    use crate::{clock::ManualClock, pipeline::FeedPort, pipeline::PortState};

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_port_holds_each_record_until_the_pipeline_clock_reaches_it() {
        // Recorded at 100 s, 101 s, 103 s; replayed at speed 2 on a clock moved by hand.
        let path = std::env::temp_dir().join(format!("polyarb-pace-{}.rec", std::process::id()));
        let mut w =
            RecordWriter::new(BufWriter::new(File::create(&path).unwrap()), 0, "test").unwrap();
        // "b2" was read in the same burst as "b" (50 µs later): no boundary before it.
        for (t, p) in [
            (100 * S, &b"a"[..]),
            (101 * S, b"b"),
            (101 * S + 50_000, b"b2"),
            (103 * S, b"c"),
        ] {
            w.write(t, p).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let reader = RecordReader::new(BufReader::new(File::open(&path).unwrap())).unwrap();
        let _ = std::fs::remove_file(&path);
        let clock = Arc::new(ManualClock::at(7 * S));
        let mut port = ReplayPort::new(reader, Arc::clone(&clock) as _, 2.0, 200_000, None);
        let poll = |port: &mut ReplayPort| {
            let mut seen = Vec::new();
            let state = port.poll(&mut |p: &[u8], arrival: Arrival| {
                seen.push((p.to_vec(), arrival == Arrival::NewBurst));
                true
            });
            (state, seen)
        };
        let at = |p: &[u8], burst| (p.to_vec(), burst);
        // The first record is due at once; the second is held, not skipped. Boundaries come
        // from the recorded gaps: "b" starts a new burst, so once the quiet period (200 µs of
        // recording, 100 µs at speed 2) has passed after "a" the batch is complete (Idle, as a
        // live socket that drained and stayed quiet); before that, the port is only waiting.
        assert_eq!(poll(&mut port), (PortState::Busy, vec![at(b"a", false)]));
        assert_eq!(poll(&mut port), (PortState::Waiting, vec![]));
        clock.set(7 * S + 100_000 - 1);
        assert_eq!(poll(&mut port), (PortState::Waiting, vec![]));
        clock.set(7 * S + 100_000);
        assert_eq!(poll(&mut port), (PortState::Idle, vec![]));
        clock.set(7 * S + S / 2 - 1);
        assert_eq!(poll(&mut port), (PortState::Idle, vec![]));
        clock.set(7 * S + S / 2 + 25_000);
        assert_eq!(
            poll(&mut port),
            (PortState::Busy, vec![at(b"b", true), at(b"b2", false)])
        );
        clock.set(8 * S + S / 2);
        assert_eq!(poll(&mut port), (PortState::Ended, vec![at(b"c", true)]));
        assert_eq!(port.records, 4);
    }

    #[test]
    fn pace_delivers_at_the_recorded_offsets_divided_by_the_speed() {
        // Recorded at 100 s, 101 s, 103 s; replayed at speed 2 from pipeline time 7 s.
        let mut p = Pace {
            slowdown: 0.5,
            origin: None,
        };
        assert!(p.due(100 * S, 7 * S), "the first record is due at once");
        assert!(!p.due(101 * S, 7 * S + S / 2 - 1));
        assert!(p.due(101 * S, 7 * S + S / 2));
        assert!(!p.due(103 * S, 8 * S + S / 2 - 1));
        assert!(p.due(103 * S, 8 * S + S / 2));
        // A record stamped before the first (clock skew in a recording) is due at once.
        assert!(p.due(99 * S, 7 * S));
        // Unpaced: everything is due whenever.
        let mut fast = Pace {
            slowdown: 0.0,
            origin: None,
        };
        assert!(fast.due(u64::MAX, 0));
    }
}
