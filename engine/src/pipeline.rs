//! The three stages on their threads, joined by SPSC rings:
//!
//! ```text
//!            FeedFrame             OpportunityFrame            TxFrame
//! feed I/O ─────────────▶ engine ──────────────────▶ signer ──────────────▶ feed I/O (send)
//!    ▲                                                 │  ▲
//!    │ payloads (socket or recording)                  │  └── Control (nonce resync) ── feed I/O
//!                                                      └──── Report ──▶ main thread (log, JSONL)
//! ```
//!
//! Nothing is dropped between stages: a producer whose ring is full waits for space (the feed
//! stage keeps servicing sends while it waits, and stops reading its source, so the node's TCP
//! window pushes back instead of us losing logs). Shutdown cascades: the feed stage drops its
//! producer at end of input (or on stop), each later stage drains its ring, sees it abandoned and
//! exits, dropping its own producer.
//!
//! The feed side is a [`FeedPort`]: the live websocket or a recording + sink, so live and replay
//! run the same decoder, engine and signer code.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use polyarb_core::{FLAG_MORE_IN_BATCH, FeedFrame, FrameKind, TX_KIND_NOT_SIGNED};
use polyarb_feeds::{Decoded, Reply};
use polyarb_signer::CouponStats;
use rtrb::{Consumer, Producer, RingBuffer};

pub use crate::submission::{AccountControl, Control};
use crate::{
    clock::Clock,
    config::PipelineConfig,
    latency::{Latency, LatencyReport},
    placement::{
        Mode, PinBoard, Placement, Plan, Wait, advise_huge_pages, lock_memory, prefault_stack,
    },
    report::LogLimit,
    threads::Idle,
    txbuild::{ControlOutcome, TxBuildError, TxBuilder},
};
use polyarb_core::{
    ChainTip, Engine, EngineStats, MarketSpec, OpportunityFrame, TX_KIND_ROUTE, TxFrame,
};

/// What the feed source reported on one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// Delivered at least one payload or did other work.
    Busy,
    /// Nothing available right now: what was read so far is a complete batch (the socket is
    /// drained), and the engine searches after it.
    Idle,
    /// Nothing available yet, but the source knows more of the current batch follows (a
    /// recording whose next payload was read in the same burst): no batch boundary here.
    Waiting,
    /// The source is finished (end of recording, closed connection).
    Ended,
}

/// How a payload arrived, for the feed stage's batch rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Read from the source as it came.
    Live,
    /// The first payload after the source had drained: a batch boundary before it (sources
    /// that know it from their own record report it here; sources that learn it by draining
    /// report [`PortState::Idle`] instead).
    NewBurst,
    /// Part of a catch-up (a reconnect's backfill): one batch until it ends, whatever blocks it
    /// spans, so the engine searches once, on the whole view.
    CatchUp,
}

/// What the feed stage decoded in one poll, for the port's link health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Newest head's block number, if a head came.
    pub head: Option<u64>,
    /// Newest block a log came from, if a log came.
    pub log_block: Option<u64>,
}

/// The edge the feed stage runs on: where payloads come from and where signed transactions go.
pub trait FeedPort: Send {
    /// Reads what is available without blocking for long, handing each complete payload to
    /// `on_payload`, which stamps and decodes it, with how it arrived, and says whether to go
    /// on: `false` when signed transactions are waiting to be written, so a port that can stop
    /// between payloads (the replay) returns `Busy` and is polled again after the writes. The
    /// live port delivers the rest of the socket read it is in first (its websocket client has
    /// no stop between messages).
    fn poll(&mut self, on_payload: &mut dyn FnMut(&[u8], Arrival) -> bool) -> PortState;
    /// What the last poll's payloads decoded to (heads and log blocks), at `now_ns`.
    fn seen(&mut self, _seen: Seen, _now_ns: u64) {}
    /// Why a transaction could not be written.
    type SubmitError: std::fmt::Display;
    /// Writes one signed transaction (socket or sink) at `now_ns` (pipeline clock). Errors are
    /// counted and logged by the stage.
    fn submit(&mut self, tx: &TxFrame, now_ns: u64) -> Result<(), Self::SubmitError>;
    /// A JSON-RPC response arrived for request `id` (`None`: a null or non-integer id):
    /// `Ok(result)` or `Err(error object)`, as raw JSON.
    fn on_response(&mut self, id: Option<u64>, outcome: Result<&[u8], &[u8]>, now_ns: u64);
    /// Runs the port's timers (answer timeouts, rewrites, nonce checks) at `now_ns`; returns
    /// whether it did any work. Called on every turn of the feed stage, so it must be cheap
    /// when nothing is due.
    fn tick(&mut self, _now_ns: u64) -> bool {
        false
    }
    /// The next message for the signer, if any (taken out of the port).
    fn control(&mut self) -> Option<AccountControl> {
        None
    }
    /// The next word for the engine on a sent route's transaction, if any (taken out of the
    /// port): (opportunity `seq`, `ROUTE_DROPPED` or `ROUTE_MINED`). It reaches the engine as
    /// a `RouteEnded` frame, behind every frame read before it.
    fn route_end(&mut self) -> Option<(u64, u8)> {
        None
    }
    /// The route of opportunity `seq` was not signed: the port hands it back through
    /// [`FeedPort::route_end`] as dropped, so the engine stops holding its pools.
    fn not_signed(&mut self, seq: u64);
    /// The next fresh reading of a flash lender's offer, if any (taken out of the port):
    /// (token, funding as `u8`, raw units available as a uint256 word). It reaches the engine as
    /// a `LenderOffer` frame.
    fn lender_offer(&mut self) -> Option<([u8; 20], u8, [u8; 32])> {
        None
    }
    /// Whether nothing written still waits for an answer or a fill: shutdown waits (bounded)
    /// for this before the signer stops.
    fn settled(&self) -> bool {
        true
    }
}

/// Counters of the feed stage.
#[derive(Debug, Clone, Default)]
pub struct FeedStats {
    /// Websocket payloads (or recording records) read.
    pub payloads: u64,
    /// Frames decoded and passed to the engine.
    pub frames: u64,
    /// Valid notifications for events we do not track.
    pub ignored: u64,
    /// JSON-RPC responses seen.
    pub responses: u64,
    /// Payloads that failed to decode (counted, skipped; the next payload is unaffected).
    pub decode_errors: u64,
    /// Signed transactions written.
    pub submitted: u64,
    /// Transactions the port failed to write.
    pub submit_errors: u64,
    /// Times the engine ring was full and the source was paused.
    pub backpressure: u64,
    /// Words on sent routes passed to the engine (`RouteEnded` frames).
    pub route_ends: u64,
    /// Routes the signer did not sign (risk limits, the kill switch, build errors), handed back
    /// to the engine as dropped.
    pub not_signed: u64,
    /// Fresh lender offers passed to the engine (`LenderOffer` frames).
    pub lender_offers: u64,
    /// Pool frames that came after a quiet period (or a recorded gap) had already ended their
    /// block's batch: the engine searched on part of that block (docs/live.md, "Where a batch
    /// ends").
    pub late_in_block: u64,
}

/// Counters of the signer stage.
#[derive(Debug, Clone, Default)]
pub struct SignerStats {
    /// Opportunities received.
    pub opportunities: u64,
    /// Transactions signed.
    pub signed: u64,
    /// Opportunities that could not be turned into a transaction.
    pub build_errors: u64,
    /// Refused nonces handed back for reuse.
    pub nonces_reused: u64,
    /// Skips past nonces used elsewhere.
    pub nonce_skips: u64,
    /// Cancels signed to fill a free nonce that later nonces waited behind.
    pub fills: u64,
    /// Cancels signed to replace a stuck transaction.
    pub replacements: u64,
    /// Cancels that could not be signed.
    pub cancel_errors: u64,
    /// Reports dropped because the reporter fell behind.
    pub reports_dropped: u64,
    /// Signatures made with a precomputed nonce coupon, RFC 6979 fallbacks (no coupon was
    /// waiting), and coupons the mint made.
    pub coupons: CouponStats,
}

/// What the signer tells the main thread about each opportunity.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// The opportunity, as the engine emitted it (with `detect_ns` stamped).
    pub opp: OpportunityFrame,
    /// The transaction built for it, if one was.
    pub tx: Option<SignedInfo>,
    /// Why no transaction was built, if none was.
    pub error: Option<TxBuildError>,
}

/// Summary of a signed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedInfo {
    /// keccak256 of the signed envelope.
    pub hash: [u8; 32],
    /// Nonce used.
    pub nonce: u64,
    /// Envelope length, bytes.
    pub len: u32,
}

/// Stage threads' settings.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Which threads run, on which CPUs, waiting how ([`Plan::new`]).
    pub plan: Plan,
    /// Where threads landed: the stage threads record themselves here, next to what a
    /// housekeeping thread started earlier (the coupon mint) recorded.
    pub pins: Arc<PinBoard>,
    /// Rings.
    pub pipeline: PipelineConfig,
    /// At shutdown, how long (ns) the feed stage keeps reading answers and the signer keeps
    /// filling nonces before both stop, if the port has not settled by then.
    pub settle_ns: u64,
    /// Tables exported on request while the run goes on (a live run's SIGUSR1).
    pub export: Option<Export>,
    /// Where the feed stage also counts each submission latency, for the metrics thread
    /// (plain atomic buckets: no lock, no system call).
    pub submission_live: Option<Arc<crate::latency::SharedLatency>>,
}

/// A request line from outside to the engine stage: when `requested` is set, the engine stage
/// clears it and sends its tables ([`Engine::market_spec`]), their chain tip
/// ([`Engine::chain_tip`]) and the time the export took, ns, to `to`, between two frames (never inside a batch). A request that finds the channel full
/// (the last export not yet written) is dropped and counted by the receiver's absence of a new
/// file; the next request works.
#[derive(Debug, Clone)]
pub struct Export {
    /// Set by the requester (a signal handler).
    pub requested: Arc<AtomicBool>,
    /// Where the tables go; `None`: nowhere (a request is logged and ignored).
    pub to: Option<std::sync::mpsc::SyncSender<(MarketSpec, Option<ChainTip>, u64)>>,
}

/// Everything a finished run reports.
#[derive(Debug)]
pub struct RunOutcome<P> {
    /// The port, handed back (replay reads its sink digest from it).
    pub port: P,
    /// Feed stage counters.
    pub feed: FeedStats,
    /// Engine counters.
    pub engine: EngineStats,
    /// The engine as it stopped: its tables hold every log it was given.
    pub tables: Engine,
    /// Signer counters.
    pub signer: SignerStats,
    /// Latency histograms.
    pub latency: LatencyReport,
    /// Where the threads ran, and what `[memory]` achieved.
    pub placement: Placement,
}

/// Runs the pipeline until the port ends or `stop` is set, calling `on_report` on the calling
/// thread for every opportunity (off the hot path). Blocks until all stages have exited.
pub fn run<P, C>(
    port: P,
    engine: Engine,
    builder: TxBuilder,
    clock: Arc<C>,
    settings: PipelineSettings,
    stop: Arc<AtomicBool>,
    mut on_report: impl FnMut(&Report),
) -> RunOutcome<P>
where
    P: FeedPort + 'static,
    C: Clock + 'static,
{
    settings.plan.log_warnings();
    let memory = lock_memory(&settings.plan.memory);
    let cap = settings.pipeline.ring_capacity;
    let (rep_tx, mut rep_rx) = RingBuffer::<Report>::new(cap);
    let plan = settings.plan.clone();
    let pins = Arc::clone(&settings.pins);
    let wait = |stage: &str| plan.slot(stage).map(|s| s.wait);
    let cpu = |stage: &str| plan.slot(stage).and_then(|s| s.cpu);
    let prefault = plan.memory.prefault_stack_kb;
    // Set once the mode's rings and buffers exist, before any stage thread runs.
    let huge_pages;

    let threads = match plan.mode {
        Mode::Pipelined => {
            let (frame_tx, frame_rx) = RingBuffer::<FeedFrame>::new(cap);
            let (opp_tx, opp_rx) = RingBuffer::<OpportunityFrame>::new(cap);
            let (tx_tx, tx_rx) = RingBuffer::<TxFrame>::new(cap);
            let (ctl_tx, ctl_rx) = RingBuffer::<AccountControl>::new(64);
            // Set by the signer once it has signed every opportunity: from then on only the
            // feed stage's settling (answers, fills) keeps the two alive.
            let signer_drained = Arc::new(AtomicBool::new(false));
            huge_pages = advise_huge_pages(&plan.memory);
            let feed = {
                let (clock, stop) = (Arc::clone(&clock), Arc::clone(&stop));
                let down = Rings {
                    frames: Some(frame_tx),
                    txs: tx_rx,
                    control: Some(ctl_tx),
                    drained: Arc::clone(&signer_drained),
                };
                let settle_ns = settings.settle_ns;
                let w = wait("feed").unwrap_or_else(default_wait);
                let sub = Latency::mirrored(settings.submission_live.clone());
                spawn_stage("feed", cpu("feed"), &pins, prefault, move || {
                    let (port, stats, submission, _) =
                        feed_stage(port, down, &*clock, &stop, settle_ns, w, sub);
                    (port, stats, submission)
                })
            };
            let eng = {
                let clock = Arc::clone(&clock);
                let export = settings.export.clone();
                let w = wait("engine").unwrap_or_else(default_wait);
                spawn_stage("engine", cpu("engine"), &pins, prefault, move || {
                    engine_stage(engine, frame_rx, opp_tx, &*clock, w, export.as_ref())
                })
            };
            let sig = {
                let clock = Arc::clone(&clock);
                let w = wait("signer").unwrap_or_else(default_wait);
                spawn_stage("signer", cpu("signer"), &pins, prefault, move || {
                    let rings = SignerRings {
                        opps: opp_rx,
                        txs: tx_tx,
                        control: ctl_rx,
                        reports: rep_tx,
                    };
                    signer_stage(builder, rings, &*clock, &signer_drained, w)
                })
            };
            Threads::Pipelined { feed, eng, sig }
        }
        Mode::Fused => {
            let (clock, stop) = (Arc::clone(&clock), Arc::clone(&stop));
            let down = Fused::new(engine, builder, rep_tx, settings.export.clone(), cap);
            huge_pages = advise_huge_pages(&plan.memory);
            let settle_ns = settings.settle_ns;
            let w = wait("fused").unwrap_or_else(default_wait);
            let sub = Latency::mirrored(settings.submission_live.clone());
            Threads::Fused(spawn_stage(
                "fused",
                cpu("fused"),
                &pins,
                prefault,
                move || feed_stage(port, down, &*clock, &stop, settle_ns, w, sub),
            ))
        }
    };
    // `[cores] strict`: a thread that could not pin stops the run (it has started; it stops at
    // once). The threads pin first thing, so this waits microseconds.
    if plan.strict {
        let want = plan.hot.len();
        let started = std::time::Instant::now();
        while pins.recorded() < want && started.elapsed() < std::time::Duration::from_secs(5) {
            thread::sleep(std::time::Duration::from_micros(50));
        }
        if pins.any_failed() {
            tracing::error!("[cores] strict: a thread could not be pinned; stopping");
            stop.store(true, Ordering::Relaxed);
        }
    }

    // The main thread reports until the signer is gone and its report ring is drained.
    loop {
        let mut got = false;
        while let Ok(r) = rep_rx.pop() {
            got = true;
            on_report(&r);
        }
        if rep_rx.is_abandoned() && rep_rx.is_empty() {
            break;
        }
        if !got {
            thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    let (port, feed, submission, tables, detection, signer) = match threads {
        Threads::Pipelined { feed, eng, sig } => {
            let signer = join(sig, "signer");
            let (tables, detection) = join(eng, "engine");
            let (port, feed, submission) = join(feed, "feed");
            (port, feed, submission, tables, detection, signer)
        }
        Threads::Fused(h) => {
            let (port, feed, submission, fused) = join(h, "fused");
            let (tables, detection, signer) = fused.finish();
            (port, feed, submission, tables, detection, signer)
        }
    };
    let landed = pins.landed();
    let placement = Placement {
        housekeeping: landed
            .iter()
            .find(|(s, _)| *s == "coupons")
            .map(|&(_, p)| p),
        landed: landed
            .into_iter()
            .filter(|(s, _)| *s != "coupons")
            .collect(),
        plan,
        memory,
        huge_pages,
        usage: polyarb_hugepages::Usage::read().ok(),
    };
    RunOutcome {
        port,
        feed,
        engine: *tables.stats(),
        tables,
        signer,
        latency: LatencyReport {
            detection,
            submission,
        },
        placement,
    }
}

/// A thread's waiting when the plan has no slot for it (never, for the plan's own stages).
fn default_wait() -> Wait {
    let p = PipelineConfig::default();
    Wait {
        policy: p.wait,
        spins: p.spin_before_yield,
        park_max_ns: u64::from(p.park_max_us) * 1_000,
    }
}

/// The threads of a run, by mode.
enum Threads<P> {
    Pipelined {
        feed: thread::JoinHandle<(P, FeedStats, Latency)>,
        eng: thread::JoinHandle<(Engine, Latency)>,
        sig: thread::JoinHandle<SignerStats>,
    },
    Fused(thread::JoinHandle<(P, FeedStats, Latency, Fused)>),
}

/// Starts a named stage thread pinned to `cpu` (loudly, recorded on `pins`), its first
/// `prefault_kb` KiB of stack touched before it starts work.
fn spawn_stage<T: Send + 'static>(
    stage: &'static str,
    cpu: Option<usize>,
    pins: &Arc<PinBoard>,
    prefault_kb: u32,
    body: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let pins = Arc::clone(pins);
    thread::Builder::new()
        .name(format!("polyarb-{stage}"))
        .spawn(move || {
            pins.pin(stage, cpu);
            prefault_stack(prefault_kb);
            body()
        })
        // Without a stage thread there is no pipeline; this is start-up, not outside input.
        .unwrap_or_else(|e| panic!("cannot spawn the {stage} thread: {e}"))
}

fn join<T>(h: thread::JoinHandle<T>, stage: &str) -> T {
    match h.join() {
        Ok(v) => v,
        // A stage panicking is a bug in our code; re-raise it on the main thread.
        Err(p) => {
            tracing::error!(stage, "stage thread panicked");
            std::panic::resume_unwind(p)
        }
    }
}

/// Pushes `v`, waiting for space. Returns false if the consumer is gone (value dropped).
#[inline]
fn push_wait<T>(p: &mut Producer<T>, mut v: T, idle: &mut Idle) -> bool {
    loop {
        match p.push(v) {
            Ok(()) => {
                idle.reset();
                return true;
            }
            Err(rtrb::PushError::Full(back)) => {
                if p.is_abandoned() {
                    return false;
                }
                v = back;
                idle.idle();
            }
        }
    }
}

/// Pops one value; `Err(true)` when the ring is empty and its producer is gone for good.
#[inline]
fn pop_or_done<T>(c: &mut Consumer<T>) -> Result<T, bool> {
    match c.pop() {
        Ok(v) => Ok(v),
        Err(_) if c.is_abandoned() => c.pop().map_err(|_| true),
        Err(_) => Err(false),
    }
}

/// A response copied out of the read buffer: request id and `Ok(result)` / `Err(error)` JSON.
type OwnedResponse = (Option<u64>, Result<Vec<u8>, Vec<u8>>);

/// Where the feed loop's frames go and where its transactions come from: the engine and signer
/// threads through rings ([`Rings`], pipelined), or the engine and the signer themselves on the
/// feed's own thread ([`Fused`]). The feed loop is the same code either way.
trait Downstream {
    /// Takes a frame; false when it cannot now (ring full): the loop holds it and retries.
    fn offer(&mut self, f: FeedFrame, clock: &dyn Clock) -> bool;
    /// The next signed transaction to write.
    fn next_tx(&mut self) -> Option<TxFrame>;
    /// `tx` (the last [`Self::next_tx`]) was handed to the port.
    fn written(&mut self, _tx: &TxFrame) {}
    /// Whether a signed transaction waits to be written.
    fn tx_waiting(&self) -> bool;
    /// A control for the signer; false when it cannot take it now.
    fn control(&mut self, c: AccountControl, clock: &dyn Clock) -> bool;
    /// No frame follows.
    fn end_of_input(&mut self);
    /// Whether the signer has signed every opportunity (the settling may end).
    fn signer_drained(&self) -> bool;
    /// Whether the signer is gone and every transaction it signed was taken.
    fn finished(&self) -> bool;
    /// Lets the signer go: no control follows.
    fn release(&mut self);
    /// After [`Self::release`]: the next transaction, `Err(true)` once none can follow,
    /// `Err(false)` while one still may.
    fn drain_tx(&mut self) -> Result<TxFrame, bool>;
    /// The feed loop is done.
    fn close(&mut self) {}
}

/// The feed thread's ends of the rings to the engine and signer threads (pipelined).
struct Rings {
    frames: Option<Producer<FeedFrame>>,
    txs: Consumer<TxFrame>,
    control: Option<Producer<AccountControl>>,
    drained: Arc<AtomicBool>,
}

impl Downstream for Rings {
    #[inline]
    fn offer(&mut self, f: FeedFrame, _clock: &dyn Clock) -> bool {
        self.frames.as_mut().is_some_and(|p| p.push(f).is_ok())
    }
    #[inline]
    fn next_tx(&mut self) -> Option<TxFrame> {
        self.txs.pop().ok()
    }
    fn tx_waiting(&self) -> bool {
        !self.txs.is_empty()
    }
    fn control(&mut self, c: AccountControl, _clock: &dyn Clock) -> bool {
        self.control.as_mut().is_some_and(|p| p.push(c).is_ok())
    }
    fn end_of_input(&mut self) {
        // Dropping the producer is the engine's end of input.
        self.frames = None;
    }
    fn signer_drained(&self) -> bool {
        self.drained.load(Ordering::Acquire)
    }
    fn finished(&self) -> bool {
        self.txs.is_abandoned() && self.txs.is_empty()
    }
    fn release(&mut self) {
        self.control = None;
    }
    fn drain_tx(&mut self) -> Result<TxFrame, bool> {
        pop_or_done(&mut self.txs)
    }
}

/// The engine and the signer run on the feed's thread (`pipeline.mode = "fused"`): a frame is
/// updated, searched, and its routes signed inside [`Downstream::offer`]; the transactions wait
/// in a queue (preallocated) for the feed loop to write them on the same turn.
struct Fused {
    engine: Engine,
    builder: TxBuilder,
    reports: Option<Producer<Report>>,
    export: Option<Export>,
    /// Signed transactions not yet written, each with its opportunity (`None`: a cancel).
    out: VecDeque<(TxFrame, Option<OpportunityFrame>)>,
    /// The opportunity of the transaction being written.
    writing: Option<OpportunityFrame>,
    frame: TxFrame,
    detection: Latency,
    stats: SignerStats,
    /// Whether the last frame ended its batch: exports happen only between batches.
    between: bool,
    ended: bool,
}

impl std::fmt::Debug for Fused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fused")
            .field("waiting", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Fused {
    fn new(
        engine: Engine,
        builder: TxBuilder,
        reports: Producer<Report>,
        export: Option<Export>,
        cap: usize,
    ) -> Self {
        Self {
            engine,
            builder,
            reports: Some(reports),
            export,
            out: VecDeque::with_capacity(cap),
            writing: None,
            frame: TxFrame::EMPTY,
            detection: Latency::new(),
            stats: SignerStats::default(),
            between: true,
            ended: false,
        }
    }

    fn finish(mut self) -> (Engine, Latency, SignerStats) {
        self.stats.coupons = self.builder.coupon_stats();
        (self.engine, self.detection, self.stats)
    }
}

/// Hands a report to the main thread. Reporting must never slow the hot path down: dropped (and
/// counted) if the reporter lags.
#[inline]
fn push_report(reports: &mut Option<Producer<Report>>, stats: &mut SignerStats, report: Report) {
    if reports.as_mut().is_some_and(|r| r.push(report).is_err()) {
        stats.reports_dropped += 1;
    }
}

impl Downstream for Fused {
    fn offer(&mut self, f: FeedFrame, clock: &dyn Clock) -> bool {
        if self.between {
            maybe_export(&self.engine, self.export.as_ref(), clock);
        }
        self.between = f.flags & FLAG_MORE_IN_BATCH == 0;
        let routes = self.engine.on_frame(&f);
        if routes.is_empty() {
            return true;
        }
        // One search produced them all: they are detected at the same instant.
        let now = clock.now_ns();
        for &route in routes {
            let mut opp = route;
            opp.detect_ns = now;
            self.detection.record_span(f.recv_ns, now);
            self.stats.opportunities += 1;
            match self.builder.build(&opp, clock, &mut self.frame) {
                Ok(()) => {
                    self.stats.signed += 1;
                    self.out.push_back((self.frame, Some(opp)));
                }
                Err(e) => {
                    self.stats.build_errors += 1;
                    // The writer turns this into the engine's word that the route will not land.
                    self.out
                        .push_back((TxFrame::not_signed(opp.seq, f.recv_ns), None));
                    let report = Report {
                        opp,
                        tx: None,
                        error: Some(e),
                    };
                    // Reporting must never slow the hot path down (see `report`).
                    if self
                        .reports
                        .as_mut()
                        .is_some_and(|r| r.push(report).is_err())
                    {
                        self.stats.reports_dropped += 1;
                    }
                }
            }
        }
        true
    }
    #[inline]
    fn next_tx(&mut self) -> Option<TxFrame> {
        let (tx, opp) = self.out.pop_front()?;
        self.writing = opp;
        Some(tx)
    }
    fn written(&mut self, tx: &TxFrame) {
        // Hashed after the write, as the signer thread does after its hand-over.
        if let Some(opp) = self.writing.take() {
            let info = SignedInfo {
                hash: tx.tx_hash(),
                nonce: tx.nonce,
                len: tx.len,
            };
            let report = Report {
                opp,
                tx: Some(info),
                error: None,
            };
            push_report(&mut self.reports, &mut self.stats, report);
        }
    }
    fn tx_waiting(&self) -> bool {
        !self.out.is_empty()
    }
    fn control(&mut self, c: AccountControl, clock: &dyn Clock) -> bool {
        if apply_control(
            c,
            &mut self.builder,
            clock,
            &mut self.frame,
            &mut self.stats,
        ) {
            self.out.push_back((self.frame, None));
        }
        true
    }
    fn end_of_input(&mut self) {
        self.ended = true;
    }
    fn signer_drained(&self) -> bool {
        // Every frame offered was signed on the spot.
        self.ended
    }
    fn finished(&self) -> bool {
        false
    }
    fn release(&mut self) {}
    fn drain_tx(&mut self) -> Result<TxFrame, bool> {
        self.next_tx().ok_or(true)
    }
    fn close(&mut self) {
        // The main thread reports until this producer is gone.
        self.reports = None;
    }
}

/// Moves the port's control messages to the signer without ever waiting: what the signer
/// cannot take now stays queued (in order) for the next turn.
fn pass_controls<P: FeedPort, D: Downstream>(
    port: &mut P,
    queued: &mut VecDeque<AccountControl>,
    down: &mut D,
    clock: &dyn Clock,
) -> bool {
    let mut moved = false;
    while let Some(c) = port.control() {
        queued.push_back(c);
    }
    while let Some(&c) = queued.front() {
        if !down.control(c, clock) {
            break;
        }
        queued.pop_front();
        moved = true;
    }
    moved
}

/// Writes every transaction the signer has ready; whether there was one.
#[inline]
fn write_txs<P: FeedPort, D: Downstream>(
    port: &mut P,
    down: &mut D,
    clock: &dyn Clock,
    stats: &mut FeedStats,
    submission: &mut Latency,
) -> bool {
    let mut any = false;
    while let Some(tx) = down.next_tx() {
        any = true;
        submit(port, &tx, clock, stats, submission);
        down.written(&tx);
    }
    any
}

fn feed_stage<P: FeedPort, D: Downstream>(
    mut port: P,
    mut down: D,
    clock: &dyn Clock,
    stop: &AtomicBool,
    settle_ns: u64,
    wait: Wait,
    mut submission: Latency,
) -> (P, FeedStats, Latency, D) {
    let mut stats = FeedStats::default();
    let mut idle = Idle::with(wait);
    // Frames decoded while the engine ring was full. Bounded in practice by one poll's worth of
    // payloads, because we stop polling the source until it is empty again.
    let mut pending: VecDeque<FeedFrame> = VecDeque::with_capacity(1024);
    let mut responses: Vec<OwnedResponse> = Vec::new();
    // Controls the ring could not take yet: the feed stage never waits on the signer, which
    // may itself be waiting for this stage to take a transaction.
    let mut controls: VecDeque<AccountControl> = VecDeque::with_capacity(64);
    let mut log = LogLimit::default();
    let mut late_log = LogLimit::default();
    let mut ended = false;
    let mut batcher = Batcher::default();

    loop {
        let mut busy = false;

        // 1. Send what the signer produced.
        busy |= write_txs(&mut port, &mut down, clock, &mut stats, &mut submission);

        // 2. Hand decoded frames on, oldest first.
        while let Some(&f) = pending.front() {
            if !down.offer(f, clock) {
                break;
            }
            pending.pop_front();
            busy = true;
        }

        // 3. Read the source, unless we are holding frames back or are done.
        if !ended && pending.is_empty() {
            if stop.load(Ordering::Relaxed) {
                ended = true;
                if let Some(h) = batcher.boundary() {
                    hand_on(h, &mut down, clock, &mut pending, &mut stats);
                }
            } else {
                let mut seen = Seen::default();
                let state = port.poll(&mut |payload: &[u8], arrival: Arrival| {
                    let now = clock.now_ns();
                    stats.payloads += 1;
                    if arrival == Arrival::NewBurst
                        && let Some(h) = batcher.boundary()
                    {
                        hand_on(h, &mut down, clock, &mut pending, &mut stats);
                    }
                    match polyarb_feeds::decode(payload, now) {
                        Ok(Decoded::Frame(f)) => {
                            stats.frames += 1;
                            note_seen(&mut seen, &f);
                            let catch_up = arrival == Arrival::CatchUp;
                            let late = batcher.late_in_block;
                            if let Some(h) = batcher.next(f, catch_up) {
                                hand_on(h, &mut down, clock, &mut pending, &mut stats);
                            }
                            if batcher.late_in_block > late && late_log.allow(now) {
                                tracing::warn!(
                                    block = f.block_number,
                                    "a log came after its block's batch had ended: routes were \
                                     priced on part of the block; raise node.batch_quiet_us if \
                                     this repeats"
                                );
                            }
                        }
                        other => note_other(
                            other,
                            payload.len(),
                            &mut stats,
                            &mut responses,
                            &mut log,
                            now,
                        ),
                    }
                    // Transactions signed (fused) or waiting: write them before reading on.
                    !down.tx_waiting()
                });
                if seen != Seen::default() {
                    port.seen(seen, clock.now_ns());
                }
                match state {
                    PortState::Busy => busy = true,
                    PortState::Waiting => {}
                    PortState::Idle | PortState::Ended => {
                        // Drained or done: the batch is complete.
                        if let Some(h) = batcher.boundary() {
                            hand_on(h, &mut down, clock, &mut pending, &mut stats);
                            busy = true;
                        }
                        ended |= state == PortState::Ended;
                    }
                }
                // Fused: what the batch's search signed goes out now, not a turn later.
                busy |= write_txs(&mut port, &mut down, clock, &mut stats, &mut submission);
            }
        }
        busy |= service(&mut port, &mut responses, &mut controls, &mut down, clock);
        while let Some((seq, how)) = port.route_end() {
            busy = true;
            stats.route_ends += 1;
            let f = batcher.word(FeedFrame::route_ended(seq, how, clock.now_ns()));
            hand_on(f, &mut down, clock, &mut pending, &mut stats);
        }
        while let Some((token, funding, available)) = port.lender_offer() {
            busy = true;
            stats.lender_offers += 1;
            let f = FeedFrame::lender_offer(token, funding, available, clock.now_ns());
            hand_on(batcher.word(f), &mut down, clock, &mut pending, &mut stats);
        }

        if ended && pending.is_empty() {
            // Let the engine see the end of input.
            break;
        }
        if busy { idle.reset() } else { idle.idle() }
    }

    stats.late_in_block = batcher.late_in_block;
    down.end_of_input();
    // Settle: keep writing what the signer signs (its last opportunities, then fills) and
    // reading answers until the port has nothing on its way, or `settle_ns` after the signer
    // ran out of opportunities. Payloads other than answers are not decoded into frames now.
    let mut settle_from: Option<u64> = None;
    loop {
        let mut busy = write_txs(&mut port, &mut down, clock, &mut stats, &mut submission);
        if !ended {
            let state = port.poll(&mut |payload: &[u8], _| {
                stats.payloads += 1;
                let now = clock.now_ns();
                match polyarb_feeds::decode(payload, now) {
                    Ok(Decoded::Frame(_)) => {}
                    other => note_other(
                        other,
                        payload.len(),
                        &mut stats,
                        &mut responses,
                        &mut log,
                        now,
                    ),
                }
                true
            });
            busy |= state == PortState::Busy;
            ended |= state == PortState::Ended;
        }
        busy |= service(&mut port, &mut responses, &mut controls, &mut down, clock);
        let now = clock.now_ns();
        if down.finished() {
            break;
        }
        if down.signer_drained() {
            let from = *settle_from.get_or_insert(now);
            let settled = port.settled() && controls.is_empty() && !down.tx_waiting();
            if settled || now.saturating_sub(from) >= settle_ns {
                break;
            }
        }
        if busy { idle.reset() } else { idle.idle() }
    }
    // Let the signer go; write whatever it still signs before it notices.
    down.release();
    loop {
        match down.drain_tx() {
            Ok(tx) => {
                submit(&mut port, &tx, clock, &mut stats, &mut submission);
                down.written(&tx);
            }
            Err(true) => break,
            Err(false) => idle.idle(),
        }
    }
    down.close();
    (port, stats, submission, down)
}

/// Notes a decoded frame's block for [`FeedPort::seen`].
#[inline]
fn note_seen(seen: &mut Seen, f: &FeedFrame) {
    if f.kind == polyarb_core::FrameKind::NewHead {
        seen.head = Some(seen.head.map_or(f.block_number, |b| b.max(f.block_number)));
    } else {
        seen.log_block = Some(
            seen.log_block
                .map_or(f.block_number, |b| b.max(f.block_number)),
        );
    }
}

/// Counts a payload that is not a frame, keeping a response (copied: responses are rare, one
/// per sent transaction or count request, so this is off the hot path) for the port.
fn note_other(
    decoded: Result<Decoded<'_>, polyarb_feeds::DecodeError>,
    len: usize,
    stats: &mut FeedStats,
    responses: &mut Vec<OwnedResponse>,
    log: &mut LogLimit,
    now: u64,
) {
    match decoded {
        Ok(Decoded::Frame(_)) => stats.frames += 1,
        Ok(Decoded::Response(r)) => {
            stats.responses += 1;
            let outcome = match r.reply {
                Reply::Result(v) => Ok(v.to_vec()),
                Reply::Error(e) => Err(e.to_vec()),
            };
            responses.push((r.id, outcome));
        }
        Ok(Decoded::Ignored(_)) => stats.ignored += 1,
        Err(e) => {
            stats.decode_errors += 1;
            // Counted always; logged rate-limited, so a node sending garbage cannot make the
            // feed thread spend its time formatting log lines.
            if log.allow(now) {
                tracing::warn!(error = %e, len, "undecodable payload skipped");
            }
        }
    }
}

/// The port's turn after a read: the answers read, its timers, and its controls for the
/// signer; whether any of it did work.
fn service<P: FeedPort, D: Downstream>(
    port: &mut P,
    responses: &mut Vec<OwnedResponse>,
    controls: &mut VecDeque<AccountControl>,
    down: &mut D,
    clock: &dyn Clock,
) -> bool {
    let mut busy = answer(port, responses, clock);
    busy |= port.tick(clock.now_ns());
    busy | pass_controls(port, controls, down, clock)
}

/// Hands the responses read this turn to the port.
fn answer<P: FeedPort>(
    port: &mut P,
    responses: &mut Vec<OwnedResponse>,
    clock: &dyn Clock,
) -> bool {
    let any = !responses.is_empty();
    for (id, outcome) in responses.drain(..) {
        let now = clock.now_ns();
        match &outcome {
            Ok(r) => port.on_response(id, Ok(r), now),
            Err(e) => port.on_response(id, Err(e), now),
        }
    }
    any
}

/// The feed stage's batch rule: a frame leaves with `FLAG_MORE_IN_BATCH` when the next one is
/// of the same block and nothing ended the burst between them (the source drained and stayed
/// quiet, or the next payload came in a new burst: see [`quiet_ends_batch`]). Replay and tests
/// apply the same rule.
#[inline]
pub fn more_in_batch(frame: &FeedFrame, next: &FeedFrame, new_burst: bool) -> bool {
    !new_burst && frame.block_number == next.block_number
}

/// Whether `gap_ns` without a payload ends a batch, for a quiet period of `quiet_ns`
/// (`node.batch_quiet_us`): live, a drained socket that has stayed quiet this long; in a
/// replay, a recorded gap this long between two payloads, so a replay searches where the run
/// that recorded it (with the same setting) did.
#[inline]
pub fn quiet_ends_batch(gap_ns: u64, quiet_ns: u64) -> bool {
    gap_ns >= quiet_ns
}

/// The feed stage's batches: the newest decoded frame is held until the next shows whether
/// its batch goes on. It leaves with `FLAG_MORE_IN_BATCH` when the next frame is of the same
/// block and no boundary came between ([`more_in_batch`]; backfilled frames always go on, a
/// catch-up is one batch), without it (the engine then searches) at a block change or a
/// boundary: a drained source that stayed quiet, a new burst, the end. Sans-IO.
#[derive(Debug, Default)]
pub struct Batcher {
    held: Option<FeedFrame>,
    /// The block of the last pool frame a boundary (not a block change) let go.
    boundary_ended: Option<u64>,
    /// Pool frames of a block whose batch a boundary had already ended.
    pub late_in_block: u64,
}

impl Batcher {
    /// A boundary: the held frame, if any, leaves without the flag.
    pub fn boundary(&mut self) -> Option<FeedFrame> {
        let h = self.held.take()?;
        self.boundary_ended = pool_block(&h);
        Some(h)
    }

    /// A frame that is no event of the chain (a `RouteEnded` word) to pass on now, ahead of the
    /// held frame: flagged if a batch is open, so the engine does not search that batch before
    /// its end.
    pub fn word(&self, mut f: FeedFrame) -> FeedFrame {
        if self.held.is_some() {
            f.flags |= FLAG_MORE_IN_BATCH;
        }
        f
    }

    /// The next frame in; the frame it lets go, flagged when its batch goes on.
    pub fn next(&mut self, f: FeedFrame, catch_up: bool) -> Option<FeedFrame> {
        if self.boundary_ended.is_some() && self.boundary_ended == pool_block(&f) {
            self.late_in_block += 1;
        }
        let mut h = self.held.replace(f)?;
        if catch_up || more_in_batch(&h, &f, false) {
            h.flags |= FLAG_MORE_IN_BATCH;
        }
        Some(h)
    }
}

/// Flags recorded `frames` into batches in place, as a replay's feed stage forms them:
/// `recv_ns[i]` is the recorded receive time of frame `i`'s payload, and a gap of `quiet_ns`
/// or more between two payloads ([`quiet_ends_batch`]) or a block change ([`more_in_batch`])
/// ends a batch. For tests and benches that feed a recording to an [`Engine`] directly.
pub fn flag_recorded_batches(frames: &mut [FeedFrame], recv_ns: &[u64], quiet_ns: u64) {
    for i in 1..frames.len().min(recv_ns.len()) {
        let burst = quiet_ends_batch(recv_ns[i].saturating_sub(recv_ns[i - 1]), quiet_ns);
        if more_in_batch(&frames[i - 1], &frames[i], burst) {
            frames[i - 1].flags |= FLAG_MORE_IN_BATCH;
        }
    }
}

/// The block of a pool frame (a log, not a head): what a batch is searched for.
#[inline]
fn pool_block(f: &FeedFrame) -> Option<u64> {
    (f.kind != FrameKind::NewHead && f.kind != FrameKind::Empty && f.removed == 0)
        .then_some(f.block_number)
}

/// Passes a frame to the engine, or queues it behind frames already waiting (counting the
/// first time the engine could not take one).
#[inline]
fn hand_on<D: Downstream>(
    f: FeedFrame,
    down: &mut D,
    clock: &dyn Clock,
    pending: &mut VecDeque<FeedFrame>,
    stats: &mut FeedStats,
) {
    if !pending.is_empty() || !down.offer(f, clock) {
        if pending.is_empty() {
            stats.backpressure += 1;
        }
        pending.push_back(f);
    }
}

/// Writes one signed transaction and records its submission latency (read → written).
#[inline]
fn submit<P: FeedPort>(
    port: &mut P,
    tx: &TxFrame,
    clock: &dyn Clock,
    stats: &mut FeedStats,
    submission: &mut Latency,
) {
    if tx.kind == TX_KIND_NOT_SIGNED {
        // Nothing to write: a word for the engine instead.
        stats.not_signed += 1;
        port.not_signed(tx.seq);
        return;
    }
    let now = clock.now_ns();
    match port.submit(tx, now) {
        Ok(()) => {
            stats.submitted += 1;
            // Cancels answer no log: only routes measure submission latency.
            if tx.kind == TX_KIND_ROUTE {
                submission.record_span(tx.recv_ns, now);
            }
        }
        Err(e) => {
            stats.submit_errors += 1;
            tracing::error!(seq = tx.seq, nonce = tx.nonce, error = %e, "transaction not written");
        }
    }
}

fn engine_stage(
    mut engine: Engine,
    mut frames: Consumer<FeedFrame>,
    mut opps: Producer<OpportunityFrame>,
    clock: &dyn Clock,
    wait: Wait,
    export: Option<&Export>,
) -> (Engine, Latency) {
    let mut detection = Latency::new();
    let mut idle = Idle::with(wait);
    // Whether the last frame ended its batch: exports happen only between batches.
    let mut between = true;
    loop {
        if between {
            maybe_export(&engine, export, clock);
        }
        match pop_or_done(&mut frames) {
            Ok(f) => {
                idle.reset();
                between = f.flags & FLAG_MORE_IN_BATCH == 0;
                let routes = engine.on_frame(&f);
                if !routes.is_empty() {
                    // One search produced them all: they are detected at the same instant.
                    let now = clock.now_ns();
                    for &route in routes {
                        let mut opp = route;
                        opp.detect_ns = now;
                        detection.record_span(f.recv_ns, now);
                        if !push_wait(&mut opps, opp, &mut idle) {
                            return (engine, detection);
                        }
                    }
                }
            }
            Err(true) => break,
            Err(false) => idle.idle(),
        }
    }
    (engine, detection)
}

/// Exports the tables if a request is pending (between batches only).
fn maybe_export(engine: &Engine, export: Option<&Export>, clock: &dyn Clock) {
    let Some(x) = export else { return };
    if !x.requested.swap(false, Ordering::Relaxed) {
        return;
    }
    if let Some(to) = &x.to {
        let started = clock.now_ns();
        let spec = engine.market_spec();
        let tip = engine.chain_tip();
        let took = clock.now_ns().saturating_sub(started);
        if to.try_send((spec, tip, took)).is_err() {
            tracing::warn!("tables not exported: the last export is still being written");
        }
    } else {
        tracing::warn!("snapshot requested, but no --save-snapshot FILE was given");
    }
}

/// The signer stage's ends of the rings.
struct SignerRings {
    opps: Consumer<OpportunityFrame>,
    txs: Producer<TxFrame>,
    control: Consumer<AccountControl>,
    reports: Producer<Report>,
}

fn signer_stage(
    mut builder: TxBuilder,
    rings: SignerRings,
    clock: &dyn Clock,
    drained: &AtomicBool,
    wait: Wait,
) -> SignerStats {
    let SignerRings {
        mut opps,
        mut txs,
        mut control,
        mut reports,
    } = rings;
    let mut stats = SignerStats::default();
    let mut idle = Idle::with(wait);
    let mut frame = TxFrame::EMPTY;
    let mut opps_done = false;
    loop {
        // Nonce news first: a refused nonce is reused by the very next transaction.
        while let Ok(c) = control.pop() {
            idle.reset();
            if !apply_control(c, &mut builder, clock, &mut frame, &mut stats) {
                continue;
            }
            if !push_wait(&mut txs, frame, &mut idle) {
                stats.coupons = builder.coupon_stats();
                return stats;
            }
        }
        if opps_done {
            // Serve controls (fills during the feed stage's settling) until it lets us go.
            if control.is_abandoned() && control.is_empty() {
                break;
            }
            idle.idle();
            continue;
        }
        match pop_or_done(&mut opps) {
            Ok(opp) => {
                idle.reset();
                stats.opportunities += 1;
                let report = match builder.build(&opp, clock, &mut frame) {
                    Ok(()) => {
                        stats.signed += 1;
                        if !push_wait(&mut txs, frame, &mut idle) {
                            break;
                        }
                        // Hashed after the hand-over: the writer is not kept waiting for it.
                        let info = SignedInfo {
                            hash: frame.tx_hash(),
                            nonce: frame.nonce,
                            len: frame.len,
                        };
                        Report {
                            opp,
                            tx: Some(info),
                            error: None,
                        }
                    }
                    Err(e) => {
                        stats.build_errors += 1;
                        // The writer turns this into the engine's word that the route will not
                        // land.
                        if !push_wait(
                            &mut txs,
                            TxFrame::not_signed(opp.seq, opp.recv_ns),
                            &mut idle,
                        ) {
                            break;
                        }
                        Report {
                            opp,
                            tx: None,
                            error: Some(e),
                        }
                    }
                };
                // Reporting must never slow signing down: drop (and count) if the reporter lags.
                if reports.push(report).is_err() {
                    stats.reports_dropped += 1;
                }
            }
            Err(true) => {
                opps_done = true;
                drained.store(true, Ordering::Release);
                // No more reports: the main thread may finish while we serve controls.
                drop(std::mem::replace(&mut reports, RingBuffer::new(1).0));
            }
            Err(false) => idle.idle(),
        }
    }
    drained.store(true, Ordering::Release);
    stats.coupons = builder.coupon_stats();
    stats
}

/// Applies one control message; true when it signed a cancel into `frame` to be written.
fn apply_control(
    c: AccountControl,
    builder: &mut TxBuilder,
    clock: &dyn Clock,
    frame: &mut TxFrame,
    stats: &mut SignerStats,
) -> bool {
    match builder.on_control(c, clock, frame) {
        Ok(ControlOutcome::Reused) => stats.nonces_reused += 1,
        Ok(ControlOutcome::Skipped) => stats.nonce_skips += 1,
        Ok(ControlOutcome::Signed { fill }) => {
            if fill {
                stats.fills += 1;
            } else {
                stats.replacements += 1;
            }
            return true;
        }
        Ok(ControlOutcome::AlreadyUsed) => {}
        Err(e) => {
            stats.cancel_errors += 1;
            tracing::error!(control = %c, error = %e, "cannot sign a cancel");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, block: u64, log_index: u32) -> FeedFrame {
        FeedFrame {
            kind,
            block_number: block,
            log_index,
            ..FeedFrame::EMPTY
        }
    }

    /// Feeds `(frame, boundary before it)` and returns each frame as it left: (block, log
    /// index, flagged), then the late count.
    fn batches(input: &[(FeedFrame, bool)]) -> (Vec<(u64, u32, bool)>, u64) {
        let mut b = Batcher::default();
        let mut out = Vec::new();
        let mut push = |f: FeedFrame| {
            out.push((
                f.block_number,
                f.log_index,
                f.flags & FLAG_MORE_IN_BATCH != 0,
            ))
        };
        for &(f, boundary) in input {
            if boundary && let Some(h) = b.boundary() {
                push(h);
            }
            if let Some(h) = b.next(f, false) {
                push(h);
            }
        }
        if let Some(h) = b.boundary() {
            push(h);
        }
        (out, b.late_in_block)
    }

    #[test]
    fn a_batch_ends_at_a_block_change_or_a_boundary_and_late_logs_are_counted() {
        let (out, late) = batches(&[
            (frame(FrameKind::NewHead, 7, 0), false),
            (frame(FrameKind::V2Sync, 7, 1), false),
            (frame(FrameKind::V2Sync, 7, 2), false),
            // A quiet gap inside block 7: its batch ends at log 2, and logs 3 and 4 are late.
            (frame(FrameKind::ClSwap, 7, 3), true),
            (frame(FrameKind::V2Sync, 7, 4), false),
            // Block 8's head ends block 7's second batch; nothing of 8 is late.
            (frame(FrameKind::NewHead, 8, 0), false),
            (frame(FrameKind::V2Sync, 8, 1), false),
        ]);
        assert_eq!(
            out,
            vec![
                (7, 0, true),
                (7, 1, true),
                (7, 2, false),
                (7, 3, true),
                (7, 4, false),
                (8, 0, true),
                (8, 1, false),
            ]
        );
        assert_eq!(late, 2);
    }

    #[test]
    fn a_boundary_between_a_head_and_its_logs_is_not_late() {
        // Anvil and geth send the head first: a gap after it splits nothing worth searching.
        let (_, late) = batches(&[
            (frame(FrameKind::NewHead, 9, 0), false),
            (frame(FrameKind::V2Sync, 9, 1), true),
            (frame(FrameKind::V2Sync, 9, 2), false),
        ]);
        assert_eq!(late, 0);
    }

    #[test]
    fn the_quiet_rule_is_a_gap_at_least_the_setting() {
        assert!(!quiet_ends_batch(4_999_999, 5_000_000));
        assert!(quiet_ends_batch(5_000_000, 5_000_000));
        assert!(quiet_ends_batch(0, 0));
    }
}
