//! `polyarb run`, `polyarb record` and `polyarb snapshot`: the commands that talk to a node.

use std::{
    collections::VecDeque,
    fmt,
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use polyarb_feeds::{BlockTag, RecordWriter, RpcClient, RpcError, TRACKED_TOPICS};
use polyarb_signer::Signer;

use super::{
    AppError,
    discovery::{self, DiscoveryStats},
};
use crate::{
    clock::{MonoClock, unix_now_ns},
    config::{Config, ProcessEnv},
    latency::LatencyReport,
    pipeline::{
        self, Control, FeedPort, FeedStats, PipelineSettings, PortState, Report, SignerStats,
    },
    report::{self, Names},
    snapshot,
    submission::{Action, Answered, Refusal, Submissions, SubmitConfig, SubmitStats},
    txbuild::TxBuilder,
};
use polyarb_core::{Engine, EngineStats, TxFrame};

fn connect(cfg: &Config) -> Result<RpcClient, AppError> {
    let mut rpc = RpcClient::connect(
        &cfg.node.ws_url,
        Duration::from_millis(cfg.node.connect_timeout_ms),
    )
    .map_err(|error| AppError::Connect {
        url: cfg.node.ws_url.clone(),
        error,
    })?;
    rpc.set_timeout(Duration::from_millis(cfg.node.rpc_timeout_ms));
    Ok(rpc)
}

fn check_chain(rpc: &mut RpcClient, cfg: &Config) -> Result<u64, AppError> {
    let chain = rpc.chain_id().map_err(AppError::node("eth_chainId"))?;
    if let Some(want) = cfg.node.expect_chain_id
        && want != chain
    {
        return Err(AppError::WrongChain {
            node: chain,
            config: want,
        });
    }
    Ok(chain)
}

/// Subscribes to the logs we decode (V2 `Sync`, V3/Algebra `Swap`/`Mint`/`Burn`, Algebra `Fee`:
/// one filter, topic0 any of them) and to new heads; returns once both are confirmed.
fn subscribe(rpc: &mut RpcClient) -> Result<(), AppError> {
    rpc.subscribe_logs(&[], &TRACKED_TOPICS)
        .map_err(AppError::node("eth_subscribe logs"))?;
    rpc.subscribe_new_heads()
        .map_err(AppError::node("eth_subscribe newHeads"))?;
    Ok(())
}

/// What `polyarb snapshot` did.
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    /// The block the market was read at.
    pub block: u64,
    /// What discovery saw.
    pub stats: DiscoveryStats,
    /// How long discovery took.
    pub took: Duration,
    /// The snapshot written.
    pub out: PathBuf,
}

impl fmt::Display for SnapshotSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "snapshot: block {}, {} pools kept of {} listed ({} with unconfigured tokens, {} not initialized, {} failed), {} ticks, {} algebra fee models ({} pools without: max_timepoints) from {} timepoints, {} eth_getLogs in {:.1?} -> {}",
            self.block,
            s.kept,
            s.listed,
            s.foreign,
            s.uninitialized,
            s.failed,
            s.ticks,
            s.fee_models,
            s.fee_models_capped,
            s.timepoints,
            s.log_requests,
            self.took,
            self.out.display()
        )
    }
}

/// `polyarb snapshot`: discovers the market at the node's current block and writes it.
pub fn snapshot_cmd(config: &Path, out: &Path) -> Result<SnapshotSummary, AppError> {
    let cfg = Config::load(config, &ProcessEnv)?;
    let mut rpc = connect(&cfg)?;
    let chain = check_chain(&mut rpc, &cfg)?;
    let block = rpc
        .block_number()
        .map_err(AppError::node("eth_blockNumber"))?;
    let started = Instant::now();
    let (market, stats) = discovery::discover(&mut rpc, &cfg, block)?;
    snapshot::write(out, &market, Some(chain)).map_err(|error| AppError::Snapshot {
        path: out.to_owned(),
        error,
    })?;
    Ok(SnapshotSummary {
        block,
        stats,
        took: started.elapsed(),
        out: out.to_owned(),
    })
}

/// What `polyarb record` wrote.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// Payloads written.
    pub records: u64,
    /// The recording.
    pub out: PathBuf,
}

impl fmt::Display for RecordSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "recording: {} payloads -> {}",
            self.records,
            self.out.display()
        )
    }
}

/// `polyarb record`: subscribes and writes every payload with its receive time (Unix ns) until
/// `stop` is set or `max_messages` were written. `on_subscribed` runs once the subscriptions
/// are live (the binary prints a line that the scenario tool waits for before trading).
pub fn record_cmd(
    config: &Path,
    out: &Path,
    max_messages: Option<u64>,
    stop: &AtomicBool,
    on_subscribed: impl FnOnce(),
) -> Result<RecordSummary, AppError> {
    let cfg = Config::load(config, &ProcessEnv)?;
    let mut rpc = connect(&cfg)?;
    check_chain(&mut rpc, &cfg)?;
    let file = File::create(out).map_err(AppError::file(out))?;
    let recording = |error| AppError::Recording {
        path: out.to_owned(),
        error,
    };
    let source = format!(
        "polyarb {} record {}",
        env!("CARGO_PKG_VERSION"),
        cfg.node.ws_url
    );
    let mut w =
        RecordWriter::new(BufWriter::new(file), unix_now_ns(), &source).map_err(recording)?;
    subscribe(&mut rpc)?;
    on_subscribed();

    let mut write_err = None;
    let limit = max_messages.unwrap_or(u64::MAX);
    while !stop.load(Ordering::Relaxed) && w.records() < limit && write_err.is_none() {
        let polled = rpc.poll(Some(Duration::from_millis(100)), |payload| {
            if write_err.is_none()
                && let Err(e) = w.write(unix_now_ns(), payload)
            {
                write_err = Some(e);
            }
        });
        if let Err(e) = polled {
            tracing::error!(error = %e, "websocket failed; closing the recording");
            break;
        }
    }
    if let Some(e) = write_err {
        return Err(recording(e));
    }
    w.flush().map_err(recording)?;
    Ok(RecordSummary {
        records: w.records(),
        out: out.to_owned(),
    })
}

/// Arguments of `polyarb run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The config file.
    pub config: PathBuf,
    /// Write every opportunity as a JSON line here (flushed per line).
    pub opportunities: Option<PathBuf>,
    /// Stop after this long (for tests and trials); default: until SIGINT/SIGTERM.
    pub max_runtime: Option<Duration>,
}

/// What a live run did, for the binary to print on exit.
#[derive(Debug)]
pub struct RunSummary {
    /// Feed stage counters.
    pub feed: FeedStats,
    /// Signer stage counters.
    pub signer: SignerStats,
    /// Engine counters.
    pub engine: EngineStats,
    /// What became of the signed transactions.
    pub submit: SubmitStats,
    /// Latency histograms.
    pub latency: LatencyReport,
    /// Why the connection to the node ended, if it failed: the run is then a failure, after
    /// this summary.
    pub failure: Option<RpcError>,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", report::stage_summary(&self.feed, &self.signer))?;
        writeln!(f, "{}", report::engine_summary(&self.engine))?;
        writeln!(f, "{}", report::submit_summary(&self.submit))?;
        write!(f, "{}", self.latency)
    }
}

/// `polyarb run`: the live engine, until `stop` is set (or `args.max_runtime` passed) or the
/// connection fails ([`RunSummary::failure`]).
pub fn run_cmd(args: &RunArgs, stop: Arc<AtomicBool>) -> Result<RunSummary, AppError> {
    let cfg = Config::load(&args.config, &ProcessEnv)?;
    let signer = match &cfg.signer.key_file {
        Some(path) => Signer::from_file(path).map_err(|error| AppError::Key {
            from: "signer.key_file",
            error,
        }),
        None => Signer::from_env(&cfg.signer.key_env).map_err(|error| AppError::Key {
            from: "signer.key_env",
            error,
        }),
    }?;
    let executor = cfg.executor()?;

    let mut rpc = connect(&cfg)?;
    let chain = check_chain(&mut rpc, &cfg)?;
    // Subscribe before reading state: every log after the snapshot block is then on its way to
    // us, and the engine skips the ones at or before it.
    subscribe(&mut rpc)?;
    let block = rpc
        .block_number()
        .map_err(AppError::node("eth_blockNumber"))?;
    let started = Instant::now();
    let (market, dstats) = discovery::discover(&mut rpc, &cfg, block)?;
    let sender = signer.address();
    let nonce = rpc
        .transaction_count(&sender.0.0, BlockTag::Pending)
        .map_err(AppError::node("eth_getTransactionCount"))?;
    let engine = Engine::new(&market, cfg.search_params()).map_err(AppError::Market)?;
    tracing::info!(
        chain,
        block,
        pools = dstats.kept,
        listed = dstats.listed,
        failed = dstats.failed,
        uninitialized = dstats.uninitialized,
        ticks = dstats.ticks,
        fee_models = dstats.fee_models,
        fee_models_capped = dstats.fee_models_capped,
        cycles = engine.build_report().cycles,
        sender = %sender,
        nonce,
        executor = %executor,
        took_ms = started.elapsed().as_millis() as u64,
        "ready"
    );

    let builder = TxBuilder::new(signer, chain, nonce, executor, cfg.fee_bid());
    let port = LivePort::new(rpc, sender.0.0, nonce, cfg.submit.machine());
    let names = Names::new(&market);
    let mut jsonl = super::create_optional(args.opportunities.as_deref())?;
    if let Some(limit) = args.max_runtime {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.store(true, Ordering::Relaxed);
        });
    }

    let settings = PipelineSettings {
        cores: cfg.cores,
        pipeline: cfg.pipeline,
        settle_ns: cfg.submit.shutdown_wait_ms.saturating_mul(1_000_000),
    };
    let mut outcome = pipeline::run(
        port,
        engine,
        builder,
        Arc::new(MonoClock::new()),
        settings,
        stop,
        |r: &Report| {
            tracing::info!("opportunity {}", report::short_line(r, &names));
            if let Some(out) = &mut jsonl {
                // Flushed per line so a watcher (or the end-to-end test) sees it at once.
                if let Err(e) =
                    writeln!(out, "{}", report::json_line(r, &names)).and_then(|()| out.flush())
                {
                    tracing::error!(error = %e, "cannot write opportunities file");
                }
            }
        },
    );
    // Bytes still queued for the socket go out before the close.
    outcome
        .port
        .close(Duration::from_millis(cfg.node.rpc_timeout_ms.min(2_000)));
    Ok(RunSummary {
        feed: outcome.feed,
        signer: outcome.signer,
        engine: outcome.engine,
        submit: outcome.port.submit_stats(),
        latency: outcome.latency,
        failure: outcome.port.failure,
    })
}

/// At most this many node messages are logged per [`LOG_WINDOW_NS`]; the rest are counted and
/// the count logged when the window ends, so a node that answers every transaction with an
/// error cannot flood the log.
const LOG_BURST: u32 = 10;
/// The rate limiter's window, ns.
const LOG_WINDOW_NS: u64 = 10_000_000_000;

/// Rate limiter for node-supplied text in the log.
#[derive(Debug, Default)]
struct LogLimit {
    window_start: u64,
    logged: u32,
    suppressed: u64,
}

impl LogLimit {
    /// Whether a message at `now` may be logged.
    fn allow(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.window_start) >= LOG_WINDOW_NS {
            if self.suppressed > 0 {
                tracing::warn!(
                    suppressed = self.suppressed,
                    "node messages not logged in the last 10 s (rate limit)"
                );
            }
            *self = Self {
                window_start: now,
                ..Self::default()
            };
        }
        if self.logged < LOG_BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// The live edge: the websocket, with every signed transaction followed by the submission
/// state machine ([`Submissions`]) until its nonce settles.
#[derive(Debug)]
pub struct LivePort {
    rpc: RpcClient,
    /// `["0x<sender>","` — the count request's params up to the tag.
    count_params: Vec<u8>,
    subs: Submissions,
    /// Controls from the machine, waiting for the feed stage to take them.
    controls: VecDeque<Control>,
    log: LogLimit,
    /// Why the connection ended, if it failed.
    pub failure: Option<RpcError>,
}

/// A signed transaction the submission machine would not write (its reason is counted in
/// [`SubmitStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotWritten;

impl fmt::Display for NotWritten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not written: its nonce is not free or too many transactions are in flight")
    }
}

impl LivePort {
    /// Wraps a connected, subscribed client; `sender` is the signing account, whose first
    /// nonce (the node's pending count) the signer starts at.
    pub fn new(rpc: RpcClient, sender: [u8; 20], first_nonce: u64, cfg: SubmitConfig) -> Self {
        let mut count_params = Vec::with_capacity(64);
        count_params.extend_from_slice(b"[\"0x");
        count_params.extend_from_slice(alloy_primitives::hex::encode(sender).as_bytes());
        count_params.extend_from_slice(b"\",\"");
        Self {
            rpc,
            count_params,
            subs: Submissions::new(cfg, first_nonce),
            controls: VecDeque::with_capacity(64),
            log: LogLimit::default(),
            failure: None,
        }
    }

    /// What the submission machine counted.
    pub fn submit_stats(&self) -> SubmitStats {
        *self.subs.stats()
    }

    /// Sends a close and waits up to `timeout` for the node's: queued bytes go out first.
    pub fn close(&mut self, timeout: Duration) {
        if self.failure.is_none()
            && let Err(e) = self.rpc.close(timeout)
        {
            tracing::warn!(error = %e, "websocket did not close cleanly");
        }
    }

    /// Does what the machine asks until it asks nothing; true if it asked anything.
    fn drive(&mut self, now: u64) -> bool {
        let mut did = false;
        let connected = self.failure.is_none();
        while let Some(action) = self.subs.next_action(now, connected) {
            did = true;
            match action {
                Action::Send { nonce, raw } => match self.rpc.send_raw_transaction(raw) {
                    Ok(id) => self.subs.on_written(nonce, id, now),
                    Err(e) => {
                        self.subs.on_write_failed(nonce, now);
                        tracing::error!(nonce, error = %e, "cannot write a transaction");
                        break;
                    }
                },
                Action::Count(tag) => {
                    let len = self.count_params.len();
                    self.count_params.extend_from_slice(tag.as_str().as_bytes());
                    self.count_params.extend_from_slice(b"\"]");
                    let sent = self
                        .rpc
                        .send_request("eth_getTransactionCount", &self.count_params);
                    self.count_params.truncate(len);
                    match sent {
                        Ok(id) => self.subs.on_query_written(tag, id, now),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot ask the transaction count");
                            break;
                        }
                    }
                }
                Action::Signer(c) => self.controls.push_back(c),
            }
        }
        did
    }
}

impl FeedPort for LivePort {
    fn poll(&mut self, on_payload: &mut dyn FnMut(&[u8], bool)) -> PortState {
        if self.failure.is_some() {
            return PortState::Ended;
        }
        // A live socket reports its batch boundaries by draining (`Idle`).
        match self
            .rpc
            .poll(Some(Duration::ZERO), &mut |p: &[u8]| on_payload(p, false))
        {
            Ok(0) => PortState::Idle,
            Ok(_) => PortState::Busy,
            Err(e) => {
                tracing::error!(error = %e, "websocket to the node failed; stopping");
                self.failure = Some(e);
                PortState::Ended
            }
        }
    }

    type SubmitError = NotWritten;

    fn submit(&mut self, tx: &TxFrame, now_ns: u64) -> Result<(), NotWritten> {
        self.subs.on_signed(tx, now_ns).map_err(|()| NotWritten)?;
        self.drive(now_ns);
        Ok(())
    }

    fn on_response(&mut self, id: Option<u64>, outcome: Result<&[u8], &[u8]>, now_ns: u64) {
        // Node-supplied text is logged here, off the signing path, and rate-limited.
        let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned();
        match self.subs.on_answer(id, outcome, now_ns) {
            Answered::Tx {
                nonce,
                refusal: Refusal::Known,
            } => tracing::info!(nonce, "node accepted transaction"),
            Answered::Tx { nonce, refusal } => {
                if self.log.allow(now_ns) {
                    let error = outcome.err().map(text).unwrap_or_default();
                    tracing::error!(
                        nonce,
                        outcome = refusal.describe(),
                        error,
                        "node rejected transaction"
                    );
                }
            }
            Answered::NullId => {
                if self.log.allow(now_ns) {
                    let error = outcome.err().map(text).unwrap_or_default();
                    tracing::warn!(
                        error,
                        "node answered an error with a null id; unanswered transactions are written again"
                    );
                }
            }
            Answered::Late { nonce } => tracing::debug!(nonce, "late answer to a settled nonce"),
            Answered::Count | Answered::NotOurs => {}
        }
        self.drive(now_ns);
    }

    fn tick(&mut self, now_ns: u64) -> bool {
        self.drive(now_ns)
    }

    fn control(&mut self) -> Option<Control> {
        self.controls.pop_front()
    }

    fn settled(&self) -> bool {
        self.controls.is_empty()
            && self.subs.settled()
            && (self.failure.is_some() || self.rpc.ws().pending_bytes() == 0)
    }
}
