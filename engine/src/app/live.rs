//! `polyarb run`, `polyarb record` and `polyarb snapshot`: the commands that talk to a node.

use std::{
    collections::VecDeque,
    fmt,
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use polyarb_feeds::{BlockTag, RpcClient, TRACKED_TOPICS};
use polyarb_signer::Signer;

use super::{
    AppError,
    discovery::{self, DiscoveryStats},
};
use crate::{
    clock::MonoClock,
    config::{Config, ProcessEnv},
    latency::LatencyReport,
    pipeline::{
        self, Arrival, Control, FeedPort, FeedStats, PipelineSettings, PortState, Report, Seen,
        SignerStats,
    },
    report::{self, Names},
    snapshot,
    submission::{Action, Answered, Refusal, Submissions, SubmitConfig, SubmitStats},
    txbuild::TxBuilder,
};
use polyarb_core::{Engine, EngineStats, MarketSpec, TxFrame};

pub(super) fn connect(cfg: &Config) -> Result<RpcClient, AppError> {
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

pub(super) fn check_chain(rpc: &mut RpcClient, cfg: &Config) -> Result<u64, AppError> {
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
pub(super) fn subscribe(rpc: &mut RpcClient) -> Result<(), AppError> {
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

/// `polyarb snapshot`: discovers the market at the node's current block and writes it. `stop`
/// (a signal) or `node.startup_timeout_ms` interrupt it.
pub fn snapshot_cmd(
    config: &Path,
    out: &Path,
    stop: &Arc<AtomicBool>,
) -> Result<SnapshotSummary, AppError> {
    let cfg = Config::load(config, &ProcessEnv)?;
    let mut rpc = connect(&cfg)?;
    rpc.set_abort(Arc::clone(stop));
    rpc.set_deadline(Some(
        Instant::now() + Duration::from_millis(cfg.node.startup_timeout_ms),
    ));
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

/// Arguments of `polyarb run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The config file.
    pub config: PathBuf,
    /// Write every opportunity as a JSON line here (flushed per line).
    pub opportunities: Option<PathBuf>,
    /// Stop after this long (for tests and trials); default: until SIGINT/SIGTERM.
    pub max_runtime: Option<Duration>,
    /// Write the engine's tables as a snapshot here on exit.
    pub save_snapshot: Option<PathBuf>,
    /// Start from this snapshot (one a run saved) plus a backfill of the blocks since, instead
    /// of a full discovery.
    pub resume: Option<PathBuf>,
}

/// A warm start: the tables a run saved (`--save-snapshot`), the executor's capital read
/// afresh, and the blocks since the snapshot as a backfill for the feed stage to apply first.
fn resume(
    rpc: &mut RpcClient,
    cfg: &Config,
    path: &Path,
    chain: u64,
    head: u64,
) -> Result<(MarketSpec, VecDeque<Vec<u8>>), AppError> {
    let started = Instant::now();
    let (mut market, snap_chain) = snapshot::read(path).map_err(|error| AppError::Snapshot {
        path: path.to_owned(),
        error,
    })?;
    if let Some(c) = snap_chain
        && c != chain
    {
        return Err(AppError::WrongChain {
            node: chain,
            config: c,
        });
    }
    // Capital moves with every route and is in no log: read it at the head.
    market.capital = discovery::read_capital(rpc, cfg, BlockTag::Number(head))?;
    let fill = super::backfill::fetch(
        rpc,
        market.block.saturating_add(1),
        head,
        cfg.node.max_backfill_blocks,
    )
    .map_err(AppError::Resume)?;
    tracing::info!(
        snapshot_block = market.block,
        head,
        pools = market.pools.len(),
        blocks = fill.blocks,
        logs = fill.logs,
        took_ms = started.elapsed().as_millis() as u64,
        "resumed from a snapshot; catching up"
    );
    Ok((market, fill.payloads))
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
    /// What the connection went through.
    pub link: LinkStats,
    /// Why the live edge gave up, if it did: the run is then a failure, after this summary.
    pub failure: Option<LinkError>,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", report::stage_summary(&self.feed, &self.signer))?;
        writeln!(f, "{}", report::engine_summary(&self.engine))?;
        writeln!(f, "{}", report::submit_summary(&self.submit))?;
        let l = &self.link;
        writeln!(
            f,
            "link: {} connections lost ({} stalls: no head for node.max_head_age_ms), {} reconnects, {} failed attempts, {} blocks and {} logs backfilled",
            l.drops,
            l.stalls,
            l.reconnects,
            l.failed_attempts,
            l.backfilled_blocks,
            l.backfilled_logs
        )?;
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
    // A signal or the start-up bound ends any wait on the node during start-up.
    rpc.set_abort(Arc::clone(&stop));
    rpc.set_deadline(Some(
        Instant::now() + Duration::from_millis(cfg.node.startup_timeout_ms),
    ));
    let chain = check_chain(&mut rpc, &cfg)?;
    // Subscribe before reading state: every log after the snapshot block is then on its way to
    // us, and the engine skips the ones at or before it.
    subscribe(&mut rpc)?;
    let block = rpc
        .block_number()
        .map_err(AppError::node("eth_blockNumber"))?;
    let started = Instant::now();
    let (market, catch_up) = match &args.resume {
        None => {
            let (market, d) = discovery::discover(&mut rpc, &cfg, block)?;
            tracing::info!(
                block,
                pools = d.kept,
                listed = d.listed,
                failed = d.failed,
                uninitialized = d.uninitialized,
                ticks = d.ticks,
                fee_models = d.fee_models,
                fee_models_capped = d.fee_models_capped,
                took_ms = started.elapsed().as_millis() as u64,
                "discovered"
            );
            (market, VecDeque::new())
        }
        Some(path) => resume(&mut rpc, &cfg, path, chain, block)?,
    };
    let sender = signer.address();
    let nonce = rpc
        .transaction_count(&sender.0.0, BlockTag::Pending)
        .map_err(AppError::node("eth_getTransactionCount"))?;
    let engine = Engine::new(&market, cfg.search_params()).map_err(AppError::Market)?;
    tracing::info!(
        chain,
        block,
        pools = engine.pool_count(),
        cycles = engine.build_report().cycles,
        sender = %sender,
        nonce,
        executor = %executor,
        took_ms = started.elapsed().as_millis() as u64,
        "ready"
    );

    rpc.set_deadline(None);
    let builder = TxBuilder::new(signer, chain, nonce, executor, cfg.fee_bid());
    let mut port = LivePort::new(
        rpc,
        sender.0.0,
        nonce,
        cfg.submit.machine(),
        LinkSettings::new(&cfg, chain, Arc::clone(&stop)),
        block,
    );
    port.catch_up(catch_up);
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
    if let Some(path) = &args.save_snapshot {
        let market = outcome.tables.market_spec();
        snapshot::write(path, &market, Some(chain)).map_err(|error| AppError::Snapshot {
            path: path.clone(),
            error,
        })?;
        tracing::info!(
            block = market.block,
            pools = market.pools.len(),
            path = %path.display(),
            "tables written"
        );
    }
    Ok(RunSummary {
        feed: outcome.feed,
        signer: outcome.signer,
        engine: outcome.engine,
        submit: outcome.port.submit_stats(),
        link: outcome.port.link_stats(),
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

/// How the live port keeps its connection, from `[node]`.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The node's websocket URL.
    pub url: String,
    /// Connect + handshake timeout.
    pub connect_timeout: Duration,
    /// Timeout of the blocking calls of a reconnect (subscribe, backfill).
    pub rpc_timeout: Duration,
    /// The chain the run started on: a node on another chain is refused at reconnect.
    pub chain_id: u64,
    /// Backoff bounds, ns.
    pub reconnect_min_ns: u64,
    /// See `reconnect_min_ns`.
    pub reconnect_max_ns: u64,
    /// Head-age watchdog, ns; 0 = off.
    pub max_head_age_ns: u64,
    /// Most blocks one reconnect backfills.
    pub max_backfill_blocks: u64,
    /// The run's stop flag: a signal interrupts a reconnect's blocking calls too.
    pub abort: Arc<AtomicBool>,
}

impl LinkSettings {
    /// From the config, for a run on `chain_id` stopped by `abort`.
    pub fn new(cfg: &Config, chain_id: u64, abort: Arc<AtomicBool>) -> Self {
        let ns = |ms: u64| ms.saturating_mul(1_000_000);
        Self {
            url: cfg.node.ws_url.clone(),
            connect_timeout: Duration::from_millis(cfg.node.connect_timeout_ms),
            rpc_timeout: Duration::from_millis(cfg.node.rpc_timeout_ms),
            chain_id,
            reconnect_min_ns: ns(cfg.node.reconnect_min_ms),
            reconnect_max_ns: ns(cfg.node.reconnect_max_ms),
            max_head_age_ns: ns(cfg.node.max_head_age_ms),
            max_backfill_blocks: cfg.node.max_backfill_blocks,
            abort,
        }
    }
}

/// What the link went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections lost (errors, protocol violations, closes, the watchdog).
    pub drops: u64,
    /// Reconnects that completed (subscribed and backfilled).
    pub reconnects: u64,
    /// Reconnect attempts that failed.
    pub failed_attempts: u64,
    /// Watchdog trips (no head for `max_head_age_ms`).
    pub stalls: u64,
    /// Blocks delivered by backfills.
    pub backfilled_blocks: u64,
    /// Logs delivered by backfills.
    pub backfilled_logs: u64,
}

/// Where the connection is.
#[derive(Debug)]
enum Link {
    Up,
    /// Lost; the next attempt at `next_try` (ns), `attempt` failed so far.
    Down {
        attempt: u32,
        next_try: u64,
    },
    /// Gave up (an outage longer than the backfill bound, or the node moved to another chain).
    Failed,
}

/// Why the live port gave up.
#[derive(Debug)]
pub enum LinkError {
    /// A reconnect's backfill cannot catch up: more blocks missed than the bound.
    Backfill(super::backfill::BackfillError),
    /// The node is on another chain now.
    WrongChain {
        /// What the node says.
        node: u64,
        /// What the run started on.
        run: u64,
    },
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backfill(e) => write!(f, "cannot catch up after reconnecting: {e}"),
            Self::WrongChain { node, run } => write!(
                f,
                "after reconnecting the node is on chain {node}, the run started on {run}"
            ),
        }
    }
}

impl std::error::Error for LinkError {}

/// The live edge: the websocket, with every signed transaction followed by the submission
/// state machine ([`Submissions`]) until its nonce settles, and the connection kept: a drop, a
/// protocol violation or a stalled feed reconnects with capped exponential backoff and jitter,
/// resubscribes, and backfills the missed blocks before anything live (docs/live.md).
#[derive(Debug)]
pub struct LivePort {
    rpc: RpcClient,
    settings: LinkSettings,
    link: Link,
    /// Backfilled payloads still to hand to the feed stage, oldest first.
    backfill: VecDeque<Vec<u8>>,
    /// The newest block a log came from (or the discovery block): a reconnect backfills from it
    /// (its logs may have arrived in part; the engine skips those it applied).
    last_log_block: u64,
    /// When the newest head arrived (ns), for the watchdog; 0 before the first.
    last_head_ns: u64,
    /// The time of the newest tick, ns.
    now: u64,
    /// Jitter source (xorshift, seeded from the OS).
    jitter: u64,
    /// `["0x<sender>","` — the count request's params up to the tag.
    count_params: Vec<u8>,
    subs: Submissions,
    /// Controls from the machine, waiting for the feed stage to take them.
    controls: VecDeque<Control>,
    log: LogLimit,
    stats: LinkStats,
    /// Why the connection ended for good, if it did.
    pub failure: Option<LinkError>,
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

/// Backfilled payloads handed on per poll, so sends and answers keep their turn.
const BACKFILL_PER_POLL: usize = 256;

/// Why one reconnect attempt failed.
enum Attempt {
    /// Try again later, for this reason.
    Retry(String),
    /// Give up.
    Fatal(LinkError),
}

impl LivePort {
    /// Wraps a connected, subscribed client; `sender` is the signing account, whose first
    /// nonce (the node's pending count) the signer starts at; `discovery_block` is the block
    /// the tables were read at.
    pub fn new(
        rpc: RpcClient,
        sender: [u8; 20],
        first_nonce: u64,
        cfg: SubmitConfig,
        settings: LinkSettings,
        discovery_block: u64,
    ) -> Self {
        let mut count_params = Vec::with_capacity(64);
        count_params.extend_from_slice(b"[\"0x");
        count_params.extend_from_slice(alloy_primitives::hex::encode(sender).as_bytes());
        count_params.extend_from_slice(b"\",\"");
        let mut seed = [0u8; 8];
        // Jitter only spreads reconnects out; a fixed seed if the OS gives none is harmless.
        let _ = getrandom::fill(&mut seed);
        Self {
            rpc,
            settings,
            link: Link::Up,
            backfill: VecDeque::new(),
            last_log_block: discovery_block,
            last_head_ns: 0,
            now: 0,
            jitter: u64::from_le_bytes(seed) | 1,
            count_params,
            subs: Submissions::new(cfg, first_nonce),
            controls: VecDeque::with_capacity(64),
            log: LogLimit::default(),
            stats: LinkStats::default(),
            failure: None,
        }
    }

    /// Payloads to hand to the feed stage before anything live, as one batch (a warm start's
    /// backfill); nothing is written until they are.
    pub fn catch_up(&mut self, payloads: VecDeque<Vec<u8>>) {
        self.backfill = payloads;
    }

    /// What the submission machine counted.
    pub fn submit_stats(&self) -> SubmitStats {
        *self.subs.stats()
    }

    /// What the link went through.
    pub fn link_stats(&self) -> LinkStats {
        self.stats
    }

    /// Sends a close and waits up to `timeout` for the node's: queued bytes go out first.
    pub fn close(&mut self, timeout: Duration) {
        if matches!(self.link, Link::Up)
            && let Err(e) = self.rpc.close(timeout)
        {
            tracing::warn!(error = %e, "websocket did not close cleanly");
        }
    }

    /// The connection is gone (`why`): unanswered writes go again after the reconnect, which
    /// is tried at once the first time.
    fn lost(&mut self, why: &dyn fmt::Display) {
        self.stats.drops += 1;
        tracing::warn!(reason = %why, "connection to the node lost; reconnecting");
        self.subs.on_disconnect(self.now);
        self.backfill.clear();
        self.link = Link::Down {
            attempt: 0,
            next_try: self.now,
        };
    }

    /// The wait after `attempt` failed attempts, ns: doubling from the minimum, capped, drawn
    /// between half and all of it.
    fn backoff(&mut self, attempt: u32) -> u64 {
        let s = &self.settings;
        let full = s
            .reconnect_min_ns
            .saturating_mul(1u64 << attempt.min(40))
            .min(s.reconnect_max_ns);
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        full / 2 + self.jitter % (full / 2 + 1)
    }

    /// One reconnect: connect, check the chain, subscribe, then fetch what was missed.
    fn reconnect(&mut self) -> Result<(), Attempt> {
        let s = &self.settings;
        let retry = |what: &str, e: &dyn fmt::Display| Attempt::Retry(format!("{what}: {e}"));
        let mut rpc =
            RpcClient::connect(&s.url, s.connect_timeout).map_err(|e| retry("connect", &e))?;
        rpc.set_timeout(s.rpc_timeout);
        rpc.set_abort(Arc::clone(&s.abort));
        let chain = rpc.chain_id().map_err(|e| retry("eth_chainId", &e))?;
        if chain != s.chain_id {
            return Err(Attempt::Fatal(LinkError::WrongChain {
                node: chain,
                run: s.chain_id,
            }));
        }
        // Subscribe first: whatever is mined from now on arrives live (kept in the client's
        // backlog, handed out after the backfill), so no block falls between the two.
        subscribe(&mut rpc).map_err(|e| retry("subscribe", &e))?;
        let head = rpc
            .block_number()
            .map_err(|e| retry("eth_blockNumber", &e))?;
        let fill = match super::backfill::fetch(
            &mut rpc,
            self.last_log_block,
            head,
            s.max_backfill_blocks,
        ) {
            Ok(f) => f,
            Err(e @ super::backfill::BackfillError::TooFar { .. }) => {
                return Err(Attempt::Fatal(LinkError::Backfill(e)));
            }
            Err(e) => return Err(retry("backfill", &e)),
        };
        tracing::info!(
            from = self.last_log_block,
            to = head,
            blocks = fill.blocks,
            logs = fill.logs,
            "reconnected; catching up"
        );
        self.stats.backfilled_blocks += fill.blocks;
        self.stats.backfilled_logs += fill.logs;
        self.backfill = fill.payloads;
        self.rpc = rpc;
        Ok(())
    }

    /// Does what the machine asks until it asks nothing; true if it asked anything.
    fn drive(&mut self, now: u64) -> bool {
        let mut did = false;
        // Nothing is written while the chain view is incomplete (down, or catching up).
        let connected = matches!(self.link, Link::Up) && self.backfill.is_empty();
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
    fn poll(&mut self, on_payload: &mut dyn FnMut(&[u8], Arrival)) -> PortState {
        match self.link {
            Link::Failed => return PortState::Ended,
            Link::Down { attempt, next_try } => {
                if self.now < next_try {
                    return PortState::Idle;
                }
                match self.reconnect() {
                    Ok(()) => {
                        self.stats.reconnects += 1;
                        self.link = Link::Up;
                        let dropped = self.subs.on_reconnect(self.now);
                        if dropped > 0 {
                            tracing::warn!(
                                dropped,
                                "transactions signed before the reconnect not sent; their nonces are reused"
                            );
                        }
                        // The watchdog counts from the reconnect.
                        self.last_head_ns = self.now;
                    }
                    Err(Attempt::Retry(why)) => {
                        self.stats.failed_attempts += 1;
                        let wait = self.backoff(attempt);
                        tracing::warn!(
                            attempt = attempt + 1,
                            reason = %why,
                            retry_in_ms = wait / 1_000_000,
                            "reconnect failed"
                        );
                        self.link = Link::Down {
                            attempt: attempt.saturating_add(1),
                            next_try: self.now.saturating_add(wait),
                        };
                        return PortState::Idle;
                    }
                    Err(Attempt::Fatal(e)) => {
                        tracing::error!(error = %e, "giving up on the node; stopping");
                        self.failure = Some(e);
                        self.link = Link::Failed;
                        return PortState::Ended;
                    }
                }
            }
            Link::Up => {}
        }
        if !self.backfill.is_empty() {
            // Catch-up first: one batch, in chain order, before anything that came live.
            for _ in 0..BACKFILL_PER_POLL {
                let Some(p) = self.backfill.pop_front() else {
                    break;
                };
                on_payload(&p, Arrival::CatchUp);
            }
            return PortState::Busy;
        }
        // A live socket reports its batch boundaries by draining (`Idle`).
        match self.rpc.poll(Some(Duration::ZERO), &mut |p: &[u8]| {
            on_payload(p, Arrival::Live)
        }) {
            Ok(0) => PortState::Idle,
            Ok(_) => PortState::Busy,
            Err(e) => {
                // Any failure, a protocol violation included: reconnect, never end the run.
                self.lost(&e);
                PortState::Idle
            }
        }
    }

    fn seen(&mut self, seen: Seen, now_ns: u64) {
        if seen.head.is_some() {
            self.last_head_ns = now_ns;
        }
        if let Some(b) = seen.log_block {
            self.last_log_block = self.last_log_block.max(b);
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
        self.now = now_ns;
        if self.last_head_ns == 0 {
            self.last_head_ns = now_ns;
        }
        let age = now_ns.saturating_sub(self.last_head_ns);
        if matches!(self.link, Link::Up)
            && self.settings.max_head_age_ns > 0
            && age > self.settings.max_head_age_ns
        {
            self.stats.stalls += 1;
            let why = format!("no new head for {} ms", age / 1_000_000);
            self.lost(&why);
            return true;
        }
        self.drive(now_ns)
    }

    fn control(&mut self) -> Option<Control> {
        self.controls.pop_front()
    }

    fn settled(&self) -> bool {
        // Down, nothing more can be settled before the wait ends.
        !matches!(self.link, Link::Up)
            || (self.controls.is_empty()
                && self.subs.settled()
                && self.rpc.ws().pending_bytes() == 0)
    }
}
