//! `polyarb run` and `polyarb snapshot`: the commands that discover the market from a node (the
//! live edge itself is [`super::port`]).

use std::{
    collections::VecDeque,
    fmt,
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use polyarb_feeds::{BlockTag, RpcClient, TRACKED_TOPICS};

pub use super::port::{LinkError, LinkSettings, LinkStats, LivePort};
use super::{
    AppError,
    discovery::{self, DiscoveryStats},
    lender_watch::LenderWatch,
};
use crate::{
    clock::MonoClock,
    config::{Config, ProcessEnv},
    journal::{
        Journal, JournalHandle, JournalStats, RunInfo,
        receipts::{ReceiptSettings, ReceiptStats, ReceiptWatcher, Sent},
    },
    latency::LatencyReport,
    metrics::{BalanceSource, FeedHealth, Metrics, Sources},
    pipeline::{self, Export, FeedStats, PipelineSettings, Report, SignerStats},
    placement::{PinBoard, Placement},
    report::{self, Names},
    risk::{Breakers, RiskGate, RiskState, Trip},
    snapshot,
    submission::SubmitStats,
    txbuild::TxBuildError as Error,
    txbuild::TxBuilder,
};
use polyarb_core::{ChainTip, Engine, EngineStats, MarketSpec};

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
    /// Write the engine's tables as a snapshot here on exit, and whenever `export_now` is set.
    pub save_snapshot: Option<PathBuf>,
    /// Set from outside (the binary's SIGUSR1 handler) to write the snapshot while the run
    /// goes on; the run clears it.
    pub export_now: Option<Arc<AtomicBool>>,
    /// Start from this snapshot (one a run saved) plus a backfill of the blocks since, instead
    /// of a full discovery.
    pub resume: Option<PathBuf>,
    /// Write the execution journal here; `None`: `[journal] path` or `url`, if set.
    pub journal: Option<crate::journal::Target>,
    /// Set from outside (the binary's SIGUSR2 handler): stop sending, or resume (docs/risk.md).
    pub stop_signal: Option<Arc<AtomicBool>>,
}

/// The snapshot-on-request line: the engine stage exports when `args.export_now` is set, and a
/// housekeeping thread writes the file (`--save-snapshot`), so the hot stages never touch the
/// disk. Without a path a request is only logged. `None` when nothing can request one.
fn exporter(args: &RunArgs, chain: u64) -> Option<(Export, Option<std::thread::JoinHandle<()>>)> {
    let requested = Arc::clone(args.export_now.as_ref()?);
    let Some(path) = args.save_snapshot.clone() else {
        return Some((
            Export {
                requested,
                to: None,
            },
            None,
        ));
    };
    let (to, from) = std::sync::mpsc::sync_channel::<(MarketSpec, Option<ChainTip>, u64)>(1);
    let writer = std::thread::Builder::new()
        .name("polyarb-export".into())
        .spawn(move || {
            for (market, tip, took_ns) in from {
                match snapshot::write_at(&path, &market, Some(chain), tip) {
                    Ok(()) => tracing::info!(
                        block = market.block,
                        pools = market.pools.len(),
                        path = %path.display(),
                        engine_paused_us = took_ns / 1_000,
                        "tables written on request"
                    ),
                    Err(e) => tracing::error!(
                        path = %path.display(),
                        error = %e,
                        "cannot write the requested snapshot"
                    ),
                }
            }
        })
        .ok()?;
    Some((
        Export {
            requested,
            to: Some(to),
        },
        Some(writer),
    ))
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
    let bad = |error| AppError::Snapshot {
        path: path.to_owned(),
        error,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(snapshot::SnapshotError::Io(e)))?;
    let (mut market, snap_chain) = snapshot::from_json(&text).map_err(bad)?;
    cfg.apply_flash_swap(&mut market);
    if let Some(c) = snap_chain
        && c != chain
    {
        return Err(AppError::WrongChain {
            node: chain,
            config: c,
        });
    }
    // Tables of a block a reorg has since replaced would start from a state the chain is not
    // in, and the backfill's positions would skip the new chain's logs.
    match snapshot::tip(&text).map_err(bad)? {
        Some(tip) => {
            let node = rpc
                .block_header(BlockTag::Number(tip.block))
                .map_err(|source| {
                    AppError::Resume(super::backfill::BackfillError::Rpc {
                        what: "the snapshot's newest block",
                        source,
                    })
                })?;
            if !node.as_ref().is_some_and(|h| tip.matches(&h.hash)) {
                let ours = match (tip.hash, tip.tag) {
                    (Some(h), _) => format!("{h}"),
                    (None, Some(t)) => format!("tag {t:#010x}"),
                    (None, None) => "unnamed".to_owned(),
                };
                return Err(AppError::Resume(super::backfill::BackfillError::Forked {
                    block: tip.block,
                    ours,
                    node: node.map(|h| format!("0x{}", alloy_primitives::hex::encode(h.hash))),
                }));
            }
        }
        None => tracing::warn!(
            path = %path.display(),
            "the snapshot names no block hash (written by an older build or a discovery): a \
             reorg since it was written would go unseen"
        ),
    }
    // Capital moves with every route and is in no log, and what the lenders hold moves with
    // their own business: read both at the head.
    market.capital = discovery::read_capital(rpc, cfg, BlockTag::Number(head))?;
    market.lenders = discovery::read_lenders(rpc, cfg, BlockTag::Number(head))?;
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
    /// What became of the signed transactions, per sending account (address, counters).
    pub submit: Vec<([u8; 20], SubmitStats)>,
    /// Latency histograms.
    pub latency: LatencyReport,
    /// What the connection went through.
    pub link: LinkStats,
    /// Why the live edge gave up, if it did: the run is then a failure, after this summary.
    pub failure: Option<LinkError>,
    /// Where the threads ran.
    pub placement: Placement,
    /// What the execution journal wrote, if one was asked for.
    pub journal: Option<JournalStats>,
    /// What the receipt thread journaled, with the journal.
    pub receipts: Option<ReceiptStats>,
    /// Routes the risk limits refused, per reason.
    pub refused: Vec<(Trip, u64)>,
    /// Times sending stopped (kill file, signal, breakers).
    pub stops: u64,
    /// The metrics address, and the scrapes served there (`None`: it could not listen).
    pub metrics: Option<(std::net::SocketAddr, Option<u64>)>,
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", report::stage_summary(&self.feed, &self.signer))?;
        writeln!(f, "{}", report::engine_summary(&self.engine))?;
        for (address, stats) in &self.submit {
            if self.submit.len() > 1 {
                writeln!(f, "sender {}:", alloy_primitives::Address::from(*address))?;
            }
            writeln!(f, "{}", report::submit_summary(stats))?;
        }
        let l = &self.link;
        writeln!(
            f,
            "link: {} connections lost ({} stalls: no head for node.max_head_age_ms), {} reconnects, {} failed attempts, {} blocks and {} logs backfilled; lenders: {} offers read again, {} readings failed",
            l.drops,
            l.stalls,
            l.reconnects,
            l.failed_attempts,
            l.backfilled_blocks,
            l.backfilled_logs,
            l.lender_readings,
            l.lender_read_errors
        )?;
        writeln!(f, "{}", self.placement)?;
        if let Some(j) = &self.journal {
            writeln!(f, "{j}")?;
        }
        if let Some(r) = &self.receipts {
            writeln!(f, "{r}")?;
        }
        let refused: u64 = self.refused.iter().map(|r| r.1).sum();
        write!(f, "risk: {refused} routes refused")?;
        for (i, (t, n)) in self.refused.iter().enumerate() {
            write!(f, "{}{n} {}", if i == 0 { " (" } else { ", " }, t.key())?;
        }
        if !self.refused.is_empty() {
            write!(f, ")")?;
        }
        writeln!(f, "; sending stopped {} times", self.stops)?;
        match self.metrics {
            Some((addr, Some(n))) => writeln!(f, "metrics: {n} scrapes served on {addr}")?,
            Some((addr, None)) => writeln!(f, "metrics: NOT served (could not listen on {addr})")?,
            None => {}
        }
        write!(f, "{}", self.latency)
    }
}

/// `polyarb run`: the live engine, until `stop` is set (or `args.max_runtime` passed) or the
/// connection fails ([`RunSummary::failure`]).
pub fn run_cmd(args: &RunArgs, stop: Arc<AtomicBool>) -> Result<RunSummary, AppError> {
    let cfg = Config::load(&args.config, &ProcessEnv)?;
    let plan = super::plan_threads(&cfg)?;
    let pins = Arc::new(PinBoard::default());
    let signers = super::keys::load_signers(&cfg.signer)?;
    let executor = cfg.executor()?;
    // Before connecting: a journal that cannot be written stops the run before it sends.
    let journal_path = super::journal_target(&cfg, args.journal.as_ref())?;
    // One connection per writing thread: the journal's, the receipt thread's, the risk
    // thread's (its stops and resumes) and the metrics thread's (the dashboard's).
    let open_journal = || {
        journal_path
            .as_ref()
            .map(|p| Journal::open(p).map_err(AppError::Journal))
            .transpose()
    };
    let journal = open_journal()?;
    let receipts_journal = open_journal()?;
    let risk_journal = open_journal()?;
    let limits = cfg.risk_limits()?;
    if cfg.risk.needs_receipts() && journal_path.is_none() {
        return Err(AppError::Config(crate::config::ConfigError::Invalid {
            key: "risk",
            reason: "max_in_flight, max_consecutive_reverts and max_daily_loss count receipts: \
                     set [journal] path or url, or --journal"
                .into(),
        }));
    }
    let risk = Arc::new(RiskState::default());
    // The metrics port first: one in use is said at once, and the run goes on without it.
    let metrics_listener = match cfg.metrics.listen {
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!("metrics: cannot listen on {addr}: {e}; running without /metrics");
                None
            }
        },
        None => None,
    };
    // The dashboard's control token, read now: a bad token file stops the start.
    let token = match &cfg.metrics.token_file {
        Some(path) => {
            let bad = |reason: String| {
                AppError::Config(crate::config::ConfigError::Invalid {
                    key: "metrics.token_file",
                    reason,
                })
            };
            let raw = polyarb_signer::read_private_file(path, 4_096).map_err(|e| {
                bad(match e {
                    polyarb_signer::PrivateFileError::Unreadable(kind) => {
                        format!("{}: cannot read it ({kind})", path.display())
                    }
                    polyarb_signer::PrivateFileError::OpenToOthers { mode } => format!(
                        "{}: group or others may read it (mode {mode:o}; chmod 600)",
                        path.display()
                    ),
                    polyarb_signer::PrivateFileError::TooLarge => {
                        format!("{}: longer than 4,096 bytes", path.display())
                    }
                })
            })?;
            let t = String::from_utf8_lossy(&raw).trim().to_owned();
            if t.len() < 16 || t.contains(char::is_whitespace) {
                return Err(bad(format!(
                    "{}: the token must be one word of at least 16 characters",
                    path.display()
                )));
            }
            Some(t)
        }
        None => None,
    };
    let metrics_journal = if metrics_listener.is_some() {
        open_journal()?
    } else {
        None
    };
    let metrics = Arc::new(Metrics::new());
    let feed_health = Arc::new(FeedHealth::default());
    let mut rpc = connect(&cfg)?;
    // Started once the node answers and before discovery, so the ring is full by the first
    // opportunity (and a run that cannot connect says only that).
    let (coupons, _mint) = super::start_coupons(&cfg, false, &plan, &pins)?;
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
    let mut accounts = Vec::with_capacity(signers.len());
    for signer in signers {
        let nonce = rpc
            .transaction_count(&signer.address().0.0, BlockTag::Pending)
            .map_err(AppError::node("eth_getTransactionCount"))?;
        accounts.push((signer, nonce));
    }
    let senders: Vec<([u8; 20], u64)> = accounts
        .iter()
        .map(|(s, n)| (s.address().0.0, *n))
        .collect();
    let engine = Engine::new(&market, cfg.live_search_params()).map_err(AppError::Market)?;
    tracing::info!(
        chain,
        block,
        pools = engine.pool_count(),
        cycles = engine.build_report().cycles,
        senders = senders.len(),
        sender = %alloy_primitives::Address::from(senders[0].0),
        nonce = senders[0].1,
        executor = %executor,
        took_ms = started.elapsed().as_millis() as u64,
        "ready"
    );

    rpc.set_deadline(None);
    let mut builder = TxBuilder::with_accounts(
        accounts,
        chain,
        executor,
        cfg.fee_bid(),
        cfg.signer.tx_type.tx_type(),
        coupons,
    );
    builder.set_risk(RiskGate::new(limits, Arc::clone(&risk)));
    let mut port = LivePort::new(
        rpc,
        &senders,
        cfg.submit.machine(),
        LinkSettings::new(&cfg, chain, Arc::clone(&stop)),
        block,
    );
    port.catch_up(catch_up);
    port.report_health(Arc::clone(&feed_health));
    // With receipts: reverted routes' words from the receipt thread to the port, and back,
    // routes the node will never mine (1,024 outstanding each at most).
    let (reverts_out, unmined_in) = if receipts_journal.is_some() {
        let (reverts_tx, reverts_rx) = rtrb::RingBuffer::new(1_024);
        let (unmined_tx, unmined_rx) = rtrb::RingBuffer::new(1_024);
        port.hear_reverts(reverts_rx);
        port.report_unmined(Arc::clone(&risk), Some(unmined_tx));
        (Some(reverts_tx), Some(unmined_rx))
    } else {
        port.report_unmined(Arc::clone(&risk), None);
        (None, None)
    };
    // The node's answers to sends, from the port to the journal thread (about 300 bytes each;
    // 4,096 waiting at most, read at least every flush_ms).
    let answers_in = journal.is_some().then(|| {
        let (tx, rx) = rtrb::RingBuffer::new(4_096);
        port.journal_answers(tx);
        rx
    });
    port.watch_lenders(LenderWatch::new(
        &market.lenders,
        cfg.funding.refresh_ms.saturating_mul(1_000_000),
    ));
    let names = Names::new(&market);
    let mut jsonl = super::create_optional(args.opportunities.as_deref())?;
    let run = RunInfo {
        kind: "live",
        chain_id: Some(chain),
        config: args.config.clone(),
    };
    let journal = journal
        .map(|j| {
            JournalHandle::start_with_answers(
                j,
                &run,
                names.clone(),
                &cfg.journal,
                plan.housekeeping,
                answers_in,
            )
            .map_err(AppError::Journal)
        })
        .transpose()?;
    let watcher = receipts_journal
        .map(|j| {
            let settings = ReceiptSettings {
                ws_url: cfg.node.ws_url.clone(),
                timeout: Duration::from_millis(cfg.node.rpc_timeout_ms),
                poll: Duration::from_millis(u64::from(cfg.journal.receipt_poll_ms)),
                wait_at_exit: Duration::from_millis(u64::from(cfg.journal.receipt_wait_ms)),
                executor,
                cpu: plan.housekeeping,
                breakers: Some(Breakers::new(
                    Arc::clone(&risk),
                    cfg.risk.max_consecutive_reverts,
                    limits.max_daily_loss_wei,
                )),
                metrics: Some(Arc::clone(&metrics)),
                reverted: reverts_out,
                unmined: unmined_in,
            };
            ReceiptWatcher::start(j, settings).map_err(|error| AppError::Thread {
                name: "polyarb-receipts",
                error,
            })
        })
        .transpose()?;
    // The kill file and SIGUSR2, watched off the hot path; each stop and resume is journaled.
    let risk_done = Arc::new(AtomicBool::new(false));
    let stops = Arc::new(AtomicU64::new(0));
    let risk_thread = {
        let run_id = journal.as_ref().map(JournalHandle::run_id);
        let mut j = risk_journal;
        let stops = Arc::clone(&stops);
        crate::risk::spawn_watch(
            Arc::clone(&risk),
            cfg.risk.kill_file.clone(),
            args.stop_signal
                .clone()
                .unwrap_or_else(|| Arc::new(AtomicBool::new(false))),
            Duration::from_millis(u64::from(cfg.risk.kill_poll_ms)),
            Arc::clone(&risk_done),
            plan.housekeeping,
            {
                let metrics = Arc::clone(&metrics);
                move |e| {
                    metrics.on_risk_event(&e);
                    stops.fetch_add(u64::from(e.stopped), Ordering::Relaxed);
                    if let (Some(j), Some(run_id)) = (j.as_mut(), run_id)
                        && let Err(err) = j.write_risk_event(run_id, &e)
                    {
                        tracing::error!("journal: cannot record a risk event: {err}");
                    }
                }
            },
        )
        .map_err(|error| AppError::Thread {
            name: "polyarb-risk",
            error,
        })?
    };
    let metrics_done = Arc::new(AtomicBool::new(false));
    let metrics_thread = match metrics_listener {
        Some(l) => {
            let tokens = cfg
                .search
                .start_tokens
                .iter()
                .filter_map(|sym| cfg.tokens.iter().find(|t| &t.symbol == sym))
                .map(|t| (t.symbol.clone(), t.address, t.decimals))
                .collect();
            let sources = Sources {
                risk: Arc::clone(&risk),
                feed: Arc::clone(&feed_health),
                node: Some(BalanceSource {
                    url: cfg.node.ws_url.clone(),
                    timeout: Duration::from_millis(cfg.node.rpc_timeout_ms),
                    executor,
                    tokens,
                }),
                balance_every: Duration::from_millis(u64::from(cfg.metrics.balance_refresh_ms)),
                token,
                journal: metrics_journal.zip(journal.as_ref().map(JournalHandle::run_id)),
                started_unix_ms: crate::journal::unix_ms(),
            };
            Some(
                crate::metrics::serve(
                    l,
                    Arc::clone(&metrics),
                    sources,
                    Arc::clone(&metrics_done),
                    plan.housekeeping,
                )
                .map_err(|error| AppError::Thread {
                    name: "polyarb-metrics",
                    error,
                })?,
            )
        }
        None => None,
    };
    if let Some(limit) = args.max_runtime {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.store(true, Ordering::Relaxed);
        });
    }

    let export = exporter(args, chain);
    let settings = PipelineSettings {
        plan,
        pins,
        pipeline: cfg.pipeline,
        settle_ns: cfg.submit.shutdown_wait_ms.saturating_mul(1_000_000),
        export: export.as_ref().map(|(x, _)| x.clone()),
        submission_live: Some(Arc::clone(&metrics.submission)),
    };
    let mut outcome = pipeline::run(
        port,
        engine,
        builder,
        Arc::new(MonoClock::new()),
        settings,
        stop,
        |r: &Report| {
            let line = report::short_line(r, &names);
            tracing::info!("opportunity {line}");
            metrics.note_recent(r, line);
            if let Some(out) = &mut jsonl {
                // Flushed per line so a watcher (or the end-to-end test) sees it at once.
                if let Err(e) =
                    writeln!(out, "{}", report::json_line(r, &names)).and_then(|()| out.flush())
                {
                    tracing::error!(error = %e, "cannot write opportunities file");
                }
            }
            metrics.on_report(r);
            if let Some(Error::Risk(t)) = r.error {
                // The first refusal of each kind, then one in a hundred: the count is in the
                // summary and every one is in the journal.
                let n = risk.refused[usize::from(t as u8 - 1)].load(Ordering::Relaxed);
                if n % 100 == 1 {
                    tracing::warn!("route not signed: {t} ({n} so far)");
                }
            }
            if let Some(j) = &journal {
                j.record(r);
                if let (Some(w), Some(tx)) = (&watcher, r.tx) {
                    w.follow(Sent {
                        run_id: j.run_id(),
                        seq: r.opp.seq,
                        hash: tx.hash,
                        valuation: (r.opp.profit_native, r.opp.profit),
                    });
                }
            }
        },
    );
    // Receipts first (they wait up to `receipt_wait_ms` for the last ones), then the rest of
    // the journal.
    let receipts = watcher.map(ReceiptWatcher::finish);
    let journal = journal.map(JournalHandle::finish);
    risk_done.store(true, Ordering::Relaxed);
    let _ = risk_thread.join();
    metrics_done.store(true, Ordering::Relaxed);
    let scrapes = metrics_thread.and_then(|t| t.join().ok());
    if let Some((x, writer)) = export {
        // The engine stage is gone; the writer ends once its channel is closed.
        drop(x);
        if let Some(w) = writer {
            let _ = w.join();
        }
    }
    // Bytes still queued for the socket go out before the close.
    outcome
        .port
        .close(Duration::from_millis(cfg.node.rpc_timeout_ms.min(2_000)));
    if let Some(path) = &args.save_snapshot {
        let market = outcome.tables.market_spec();
        let tip = outcome.tables.chain_tip();
        snapshot::write_at(path, &market, Some(chain), tip).map_err(|error| {
            AppError::Snapshot {
                path: path.clone(),
                error,
            }
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
        placement: outcome.placement,
        journal,
        receipts,
        refused: risk.refusals(),
        stops: stops.load(Ordering::Relaxed),
        metrics: cfg.metrics.listen.map(|a| (a, scrapes)),
    })
}
