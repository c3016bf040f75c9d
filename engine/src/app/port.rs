//! The live edge (`LivePort`): one or more websocket connections to nodes, the submission
//! state machine behind every signed transaction, and the connections kept (docs/live.md).
//!
//! Several endpoints (`node.ws_url` plus `node.extra_ws_urls`) are read at once, one poll each
//! in turn: whichever delivers a log first, the engine applies it, and the copies that come
//! later from the others are skipped by position (a pool's log is applied only after the last
//! one applied to it). Transactions go out through the first endpoint that is connected and
//! caught up.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use polyarb_core::TxFrame;
use polyarb_feeds::RpcClient;

use super::{
    backfill,
    lender_watch::{Answer, LenderWatch},
    live::subscribe,
};
use crate::{
    config::Config,
    pipeline::{AccountControl, Arrival, FeedPort, PortState, Seen},
    report::LogLimit,
    submission::{Action, Answered, Refusal, Submissions, SubmitConfig, SubmitStats},
};

/// How the live port keeps its connections, from `[node]`.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The nodes' websocket URLs: `node.ws_url` first, then `node.extra_ws_urls`.
    pub urls: Vec<String>,
    /// Connect + handshake timeout.
    pub connect_timeout: Duration,
    /// Timeout of the blocking calls of a reconnect (subscribe, backfill).
    pub rpc_timeout: Duration,
    /// The chain the run started on: a node on another chain is refused.
    pub chain_id: u64,
    /// Backoff bounds, ns.
    pub reconnect_min_ns: u64,
    /// See `reconnect_min_ns`.
    pub reconnect_max_ns: u64,
    /// Head-age watchdog, ns; 0 = off.
    pub max_head_age_ns: u64,
    /// Most blocks one reconnect backfills.
    pub max_backfill_blocks: u64,
    /// A drained socket ends a batch only after this long without a payload, ns.
    pub batch_quiet_ns: u64,
    /// The run's stop flag: a signal interrupts a reconnect's blocking calls too.
    pub abort: Arc<AtomicBool>,
}

impl LinkSettings {
    /// From the config, for a run on `chain_id` stopped by `abort`.
    pub fn new(cfg: &Config, chain_id: u64, abort: Arc<AtomicBool>) -> Self {
        let ns = |ms: u64| ms.saturating_mul(1_000_000);
        let mut urls = vec![cfg.node.ws_url.clone()];
        urls.extend(cfg.node.extra_ws_urls.iter().cloned());
        Self {
            urls,
            connect_timeout: Duration::from_millis(cfg.node.connect_timeout_ms),
            rpc_timeout: Duration::from_millis(cfg.node.rpc_timeout_ms),
            chain_id,
            reconnect_min_ns: ns(cfg.node.reconnect_min_ms),
            reconnect_max_ns: ns(cfg.node.reconnect_max_ms),
            max_head_age_ns: ns(cfg.node.max_head_age_ms),
            max_backfill_blocks: cfg.node.max_backfill_blocks,
            batch_quiet_ns: cfg.node.batch_quiet_ns(),
            abort,
        }
    }
}

/// What the connections went through, over all endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections lost (errors, protocol violations, closes, the watchdog).
    pub drops: u64,
    /// Connections (re)established after start-up (subscribed and backfilled).
    pub reconnects: u64,
    /// Connection attempts that failed.
    pub failed_attempts: u64,
    /// Watchdog trips (no head for `max_head_age_ms`).
    pub stalls: u64,
    /// Blocks delivered by backfills.
    pub backfilled_blocks: u64,
    /// Logs delivered by backfills.
    pub backfilled_logs: u64,
    /// Lender offers read again (`[funding] refresh_ms`) and handed to the engine.
    pub lender_readings: u64,
    /// Lender readings the node answered with an error or something else than one word.
    pub lender_read_errors: u64,
}

/// Where one connection is.
#[derive(Debug)]
enum Link {
    Up,
    /// Lost (or never made); the next attempt at `next_try` (ns), `attempt` failed so far.
    Down {
        attempt: u32,
        next_try: u64,
    },
    /// Given up (an outage longer than the backfill bound, or the node is on another chain).
    Failed,
}

/// Why the live port gave up.
#[derive(Debug)]
pub enum LinkError {
    /// A reconnect's backfill cannot catch up: more blocks missed than the bound.
    Backfill(backfill::BackfillError),
    /// The node is on another chain.
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

/// Request ids of endpoint `k` start at `k << ID_SPACE_BITS`: answers from any endpoint are
/// matched by id alone, so no two endpoints (and no two connections of one) share an id.
const ID_SPACE_BITS: u32 = 48;

/// Why one connection attempt failed.
enum Attempt {
    /// Try again later, for this reason.
    Retry(String),
    /// Give up on this endpoint.
    Fatal(LinkError),
}

/// One node connection.
#[derive(Debug)]
struct Endpoint {
    url: String,
    /// The client; a placeholder while the endpoint has never connected.
    rpc: Option<RpcClient>,
    link: Link,
    /// Backfilled payloads still to hand to the feed stage, oldest first.
    backfill: VecDeque<Vec<u8>>,
    /// When this endpoint last delivered a head (ns), for its watchdog; 0 before the first.
    last_head_ns: u64,
    /// When a poll of it last delivered anything (ns).
    last_payload_ns: u64,
    /// The id its next request gets: carried across reconnects so ids never repeat.
    next_id: u64,
    /// Why it was given up, if it was.
    failure: Option<LinkError>,
}

impl Endpoint {
    /// Connected, and not catching up: what it delivers is the live chain.
    fn live(&self) -> bool {
        matches!(self.link, Link::Up) && self.backfill.is_empty()
    }
}

/// The ring of send answers to the journal, and how many were handed to it so far.
#[derive(Debug)]
struct AnswerRing {
    out: rtrb::Producer<crate::journal::SendAnswer>,
    /// The last answer's number in the run (from 1): a gap in the journal's numbers is an
    /// answer the full ring dropped.
    n: u64,
}

/// The live edge: websocket connections to one or more nodes, with every signed transaction
/// followed by the submission state machine ([`Submissions`]) until its nonce settles, and the
/// connections kept: a drop, a protocol violation or a stalled feed reconnects with capped
/// exponential backoff and jitter, resubscribes, and backfills the missed blocks before
/// anything live (docs/live.md).
#[derive(Debug)]
pub struct LivePort {
    settings: LinkSettings,
    endpoints: Vec<Endpoint>,
    /// The endpoint the next poll reads.
    polled: usize,
    /// The endpoint polled last (its payloads are what [`FeedPort::seen`] reports on).
    polled_last: usize,
    /// The endpoint transactions were last written through.
    writer: Option<usize>,
    /// The newest block a log came from (or the discovery block): a reconnect backfills from it
    /// (its logs may have arrived in part; the engine skips those it applied).
    last_log_block: u64,
    /// When the last live endpoint was lost, if none is live since (ns).
    view_lost: Option<u64>,
    /// The time of the newest tick, ns.
    now: u64,
    /// Jitter source (xorshift, seeded from the OS).
    jitter: u64,
    /// The flash lenders' offers it reads again (none until [`LivePort::watch_lenders`]).
    lenders: LenderWatch,
    /// Heads and connection changes, published for the metrics ([`LivePort::report_health`]).
    health: Option<Arc<crate::metrics::FeedHealth>>,
    /// Routes the signer did not sign, to hand back to the engine as dropped.
    not_signed: VecDeque<u64>,
    /// Routes whose receipts say they reverted, from the receipt thread (off the hot path).
    reverted: Option<rtrb::Consumer<u64>>,
    /// Where the node's answers to our sends go, for the journal thread.
    answers: Option<AnswerRing>,
    /// Who hears of signed routes that will never be mined: the risk gate's in-flight count,
    /// and the receipt thread (which stops asking for their receipts).
    unmined: Option<(Arc<crate::risk::RiskState>, Option<rtrb::Producer<u64>>)>,
    /// One submission machine per sending account, in account order.
    senders: Vec<Sender>,
    /// Controls from the machines, waiting for the feed stage to take them.
    controls: VecDeque<AccountControl>,
    log: LogLimit,
    stats: LinkStats,
    /// Why the live edge gave up, once every endpoint has.
    pub failure: Option<LinkError>,
}

/// One sending account's transactions on their way to the node.
#[derive(Debug)]
struct Sender {
    address: [u8; 20],
    /// `["0x<sender>","` — the count request's params up to the tag.
    count_params: Vec<u8>,
    subs: Submissions,
}

impl LivePort {
    /// Wraps the connected, subscribed client of the first endpoint (the others connect on the
    /// first polls); `senders` are the signing accounts in account order, each with the first
    /// nonce (the node's pending count) the signer starts it at; `discovery_block` is the block
    /// the tables were read at.
    pub fn new(
        rpc: RpcClient,
        senders: &[([u8; 20], u64)],
        cfg: SubmitConfig,
        settings: LinkSettings,
        discovery_block: u64,
    ) -> Self {
        let senders = senders
            .iter()
            .map(|&(address, first_nonce)| {
                let mut count_params = Vec::with_capacity(64);
                count_params.extend_from_slice(b"[\"0x");
                count_params.extend_from_slice(alloy_primitives::hex::encode(address).as_bytes());
                count_params.extend_from_slice(b"\",\"");
                Sender {
                    address,
                    count_params,
                    subs: Submissions::new(cfg, first_nonce),
                }
            })
            .collect();
        let mut seed = [0u8; 8];
        // Jitter only spreads reconnects out; a fixed seed if the OS gives none is harmless.
        let _ = getrandom::fill(&mut seed);
        let endpoints = settings
            .urls
            .iter()
            .enumerate()
            .map(|(k, url)| Endpoint {
                url: url.clone(),
                rpc: None,
                link: Link::Down {
                    attempt: 0,
                    next_try: 0,
                },
                backfill: VecDeque::new(),
                last_head_ns: 0,
                last_payload_ns: 0,
                next_id: ((k as u64) << ID_SPACE_BITS).max(1),
                failure: None,
            })
            .collect::<Vec<_>>();
        let mut port = Self {
            settings,
            endpoints,
            polled: 0,
            polled_last: 0,
            writer: None,
            last_log_block: discovery_block,
            view_lost: None,
            now: 0,
            jitter: u64::from_le_bytes(seed) | 1,
            lenders: LenderWatch::new(&[], 0),
            health: None,
            not_signed: VecDeque::with_capacity(1_024),
            reverted: None,
            answers: None,
            unmined: None,
            senders,
            controls: VecDeque::with_capacity(64),
            log: LogLimit::default(),
            stats: LinkStats::default(),
            failure: None,
        };
        if let Some(e) = port.endpoints.first_mut() {
            e.rpc = Some(rpc);
            e.link = Link::Up;
        }
        port
    }

    /// Payloads to hand to the feed stage before anything live, as one batch (a warm start's
    /// backfill); nothing is written until they are.
    pub fn catch_up(&mut self, payloads: VecDeque<Vec<u8>>) {
        if let Some(e) = self.endpoints.first_mut() {
            e.backfill = payloads;
        }
    }

    /// Reads the lenders' offers again every so often through the live connection, handing
    /// each answer to the engine ([`LenderWatch`]).
    pub fn watch_lenders(&mut self, watch: LenderWatch) {
        self.lenders = watch;
    }

    /// Takes the receipt thread's word on reverted routes from `ring`: each becomes a
    /// `RouteEnded` word that ends the route's holds at once (docs/engine.md, "In flight").
    pub fn hear_reverts(&mut self, ring: rtrb::Consumer<u64>) {
        self.reverted = Some(ring);
    }

    /// Tells `risk` (its in-flight count) and the receipt thread (through `ring`) of each signed
    /// route that will never be mined: refused, replaced by a cancel, its nonce used by another.
    pub fn report_unmined(
        &mut self,
        risk: Arc<crate::risk::RiskState>,
        ring: Option<rtrb::Producer<u64>>,
    ) {
        self.unmined = Some((risk, ring));
    }

    /// Hands each answer the node gives to a send (accepted, or refused with its words) to the
    /// journal thread through `ring`.
    pub fn journal_answers(&mut self, ring: rtrb::Producer<crate::journal::SendAnswer>) {
        self.answers = Some(AnswerRing { out: ring, n: 0 });
    }

    /// Publishes heads, drops and reconnects in `health` (relaxed stores) for the metrics.
    pub fn report_health(&mut self, health: Arc<crate::metrics::FeedHealth>) {
        self.health = Some(health);
    }

    /// Sends a round of lender readings when one is due and a connection is live.
    fn read_lenders(&mut self, now: u64) {
        let Some(w) = self.pick_writer() else {
            return;
        };
        if !self.lenders.start_round(now) {
            return;
        }
        let Some(rpc) = self.endpoints.get_mut(w).and_then(|e| e.rpc.as_mut()) else {
            return;
        };
        for k in 0..self.lenders.len() {
            match rpc.send_request("eth_call", self.lenders.params(k)) {
                Ok(id) => self.lenders.sent(k, id),
                Err(e) => {
                    if self.log.allow(now) {
                        tracing::warn!(error = %e, "cannot ask a lender's balance");
                    }
                    break;
                }
            }
        }
    }

    /// What each account's submission machine counted, in account order.
    pub fn submit_stats(&self) -> Vec<([u8; 20], SubmitStats)> {
        self.senders
            .iter()
            .map(|s| (s.address, *s.subs.stats()))
            .collect()
    }

    /// What the connections went through.
    pub fn link_stats(&self) -> LinkStats {
        LinkStats {
            lender_readings: self.lenders.readings,
            lender_read_errors: self.lenders.read_errors,
            ..self.stats
        }
    }

    /// Sends a close on every connection and waits up to `timeout` for each node's: queued
    /// bytes go out first.
    pub fn close(&mut self, timeout: Duration) {
        for e in &mut self.endpoints {
            if matches!(e.link, Link::Up)
                && let Some(rpc) = &mut e.rpc
                && let Err(err) = rpc.close(timeout)
            {
                tracing::warn!(url = %e.url, error = %err, "websocket did not close cleanly");
            }
        }
    }

    /// Endpoint `k`'s connection is gone (`why`): it reconnects at once the first time.
    fn lost(&mut self, k: usize, why: &dyn fmt::Display) {
        self.stats.drops += 1;
        if let Some(h) = &self.health {
            h.drops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let now = self.now;
        let Some(e) = self.endpoints.get_mut(k) else {
            return;
        };
        tracing::warn!(url = %e.url, reason = %why, "connection to the node lost; reconnecting");
        if let Some(rpc) = &e.rpc {
            e.next_id = rpc.next_request_id();
        }
        e.backfill.clear();
        e.link = Link::Down {
            attempt: 0,
            next_try: now,
        };
        if self.writer == Some(k) {
            // Answers to what went out there are lost with it: write those again.
            for s in &mut self.senders {
                s.subs.on_disconnect(now);
            }
            self.writer = None;
        }
        if self.view_lost.is_none() && !self.endpoints.iter().any(Endpoint::live) {
            self.view_lost = Some(now);
        }
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

    /// One (re)connect of endpoint `k`: connect, check the chain, subscribe, then fetch what
    /// was missed.
    fn connect(&mut self, k: usize) -> Result<(), Attempt> {
        let s = &self.settings;
        let e = &self.endpoints[k];
        let retry = |what: &str, e: &dyn fmt::Display| Attempt::Retry(format!("{what}: {e}"));
        let mut rpc =
            RpcClient::connect(&e.url, s.connect_timeout).map_err(|e| retry("connect", &e))?;
        rpc.set_next_request_id(e.next_id);
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
        let fill = match backfill::fetch(&mut rpc, self.last_log_block, head, s.max_backfill_blocks)
        {
            Ok(f) => f,
            Err(e @ backfill::BackfillError::TooFar { .. }) => {
                return Err(Attempt::Fatal(LinkError::Backfill(e)));
            }
            Err(e) => return Err(retry("backfill", &e)),
        };
        let e = &mut self.endpoints[k];
        tracing::info!(
            url = %e.url,
            from = self.last_log_block,
            to = head,
            blocks = fill.blocks,
            logs = fill.logs,
            "reconnected; catching up"
        );
        self.stats.backfilled_blocks += fill.blocks;
        self.stats.backfilled_logs += fill.logs;
        e.backfill = fill.payloads;
        e.rpc = Some(rpc);
        Ok(())
    }

    /// Polls endpoint `k` once.
    fn poll_endpoint(
        &mut self,
        k: usize,
        on_payload: &mut dyn FnMut(&[u8], Arrival) -> bool,
    ) -> PortState {
        match self.endpoints[k].link {
            Link::Failed => return PortState::Idle,
            Link::Down { attempt, next_try } => {
                if self.now < next_try {
                    return PortState::Idle;
                }
                match self.connect(k) {
                    Ok(()) => {
                        self.stats.reconnects += 1;
                        if let Some(h) = &self.health {
                            h.reconnects
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        let e = &mut self.endpoints[k];
                        e.link = Link::Up;
                        // The watchdog counts from the reconnect.
                        e.last_head_ns = self.now;
                        if self.view_lost.take().is_some() {
                            let now = self.now;
                            let dropped: u64 = self
                                .senders
                                .iter_mut()
                                .map(|s| s.subs.on_reconnect(now))
                                .sum();
                            if dropped > 0 {
                                tracing::warn!(
                                    dropped,
                                    "transactions signed before the reconnect not sent; their nonces are reused"
                                );
                            }
                        }
                    }
                    Err(Attempt::Retry(why)) => {
                        self.stats.failed_attempts += 1;
                        let wait = self.backoff(attempt);
                        let e = &mut self.endpoints[k];
                        tracing::warn!(
                            url = %e.url,
                            attempt = attempt + 1,
                            reason = %why,
                            retry_in_ms = wait / 1_000_000,
                            "connecting failed"
                        );
                        e.link = Link::Down {
                            attempt: attempt.saturating_add(1),
                            next_try: self.now.saturating_add(wait),
                        };
                        return PortState::Idle;
                    }
                    Err(Attempt::Fatal(err)) => {
                        let e = &mut self.endpoints[k];
                        tracing::error!(url = %e.url, error = %err, "giving up on this node");
                        e.failure = Some(err);
                        e.link = Link::Failed;
                        return PortState::Idle;
                    }
                }
            }
            Link::Up => {}
        }
        let e = &mut self.endpoints[k];
        if !e.backfill.is_empty() {
            // Catch-up first: one batch, in chain order, before anything that came live.
            for _ in 0..BACKFILL_PER_POLL {
                let Some(p) = e.backfill.pop_front() else {
                    break;
                };
                if !on_payload(&p, Arrival::CatchUp) {
                    break;
                }
            }
            return PortState::Busy;
        }
        let Some(rpc) = &mut e.rpc else {
            return PortState::Idle;
        };
        // A live socket reports its batch boundaries by draining (`Idle`).
        // The rest of this read is delivered even when the pipeline would rather write first:
        // the websocket client has no stop between messages.
        match rpc.poll(Some(Duration::ZERO), &mut |p: &[u8]| {
            on_payload(p, Arrival::Live);
        }) {
            // Drained, but a node streams a block's logs one notification at a time: only a
            // drain that has stayed quiet for `batch_quiet` ends the batch.
            Ok(0)
                if crate::pipeline::quiet_ends_batch(
                    self.now.saturating_sub(e.last_payload_ns),
                    self.settings.batch_quiet_ns,
                ) =>
            {
                PortState::Idle
            }
            Ok(0) => PortState::Waiting,
            Ok(_) => {
                e.last_payload_ns = self.now;
                PortState::Busy
            }
            Err(err) => {
                // Any failure, a protocol violation included: reconnect, never end the run.
                self.lost(k, &err);
                PortState::Idle
            }
        }
    }

    /// The endpoint to write through: the last one used while it stays live, else the first
    /// live one. `None` while none is (down, or catching up): nothing is written then.
    fn pick_writer(&mut self) -> Option<usize> {
        if let Some(w) = self.writer
            && self.endpoints.get(w).is_some_and(Endpoint::live)
        {
            return Some(w);
        }
        self.writer = self.endpoints.iter().position(Endpoint::live);
        self.writer
    }

    /// Does what the machines ask until they ask nothing; true if any asked anything.
    fn drive(&mut self, now: u64) -> bool {
        let mut did = false;
        let writer = self.pick_writer();
        for (k, sender) in self.senders.iter_mut().enumerate() {
            let account = k as u8;
            let Sender {
                subs, count_params, ..
            } = sender;
            while let Some(action) = subs.next_action(now, writer.is_some()) {
                did = true;
                let rpc = writer.and_then(|w| self.endpoints[w].rpc.as_mut());
                match (action, rpc) {
                    (Action::Signer(control), _) => {
                        self.controls.push_back(AccountControl { account, control });
                    }
                    (Action::Send { nonce, raw }, Some(rpc)) => {
                        match rpc.send_raw_transaction(raw) {
                            Ok(id) => subs.on_written(nonce, id, now),
                            Err(e) => {
                                subs.on_write_failed(nonce, now);
                                tracing::error!(account, nonce, error = %e, "cannot write a transaction");
                                break;
                            }
                        }
                    }
                    (Action::Count(tag), Some(rpc)) => {
                        let len = count_params.len();
                        count_params.extend_from_slice(tag.as_str().as_bytes());
                        count_params.extend_from_slice(b"\"]");
                        let sent = rpc.send_request("eth_getTransactionCount", count_params);
                        count_params.truncate(len);
                        match sent {
                            Ok(id) => subs.on_query_written(tag, id, now),
                            Err(e) => {
                                tracing::error!(account, error = %e, "cannot ask the transaction count");
                                break;
                            }
                        }
                    }
                    // Asked to write with no writer: cannot happen (`next_action` was told),
                    // but a send that cannot go is tried again after the answer timeout.
                    (Action::Send { nonce, .. }, None) => {
                        subs.on_write_failed(nonce, now);
                        break;
                    }
                    (Action::Count(_), None) => break,
                }
            }
        }
        did
    }
}

impl FeedPort for LivePort {
    fn poll(&mut self, on_payload: &mut dyn FnMut(&[u8], Arrival) -> bool) -> PortState {
        if self
            .endpoints
            .iter()
            .all(|e| matches!(e.link, Link::Failed))
        {
            if self.failure.is_none() {
                self.failure = self.endpoints.iter_mut().find_map(|e| e.failure.take());
            }
            return PortState::Ended;
        }
        // One endpoint per poll, in turn: each one's batch boundaries are its own drains.
        let k = self.polled;
        self.polled = (k + 1) % self.endpoints.len().max(1);
        let state = self.poll_endpoint(k, on_payload);
        // `seen` (called after this poll) is about endpoint `k`.
        self.polled_last = k;
        state
    }

    fn seen(&mut self, seen: Seen, now_ns: u64) {
        if seen.head.is_some()
            && let Some(e) = self.endpoints.get_mut(self.polled_last)
        {
            e.last_head_ns = now_ns;
        }
        if let (Some(block), Some(h)) = (seen.head, &self.health) {
            // Relaxed stores and a vDSO clock read: no lock, no system call.
            h.heads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            h.head_block
                .store(block, std::sync::atomic::Ordering::Relaxed);
            h.head_unix_ms.store(
                u64::try_from(crate::journal::unix_ms()).unwrap_or(0),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if let Some(b) = seen.log_block {
            self.last_log_block = self.last_log_block.max(b);
        }
    }

    type SubmitError = NotWritten;

    fn submit(&mut self, tx: &TxFrame, now_ns: u64) -> Result<(), NotWritten> {
        let Some(sender) = self.senders.get_mut(usize::from(tx.account)) else {
            return Err(NotWritten);
        };
        sender.subs.on_signed(tx, now_ns).map_err(|()| NotWritten)?;
        self.drive(now_ns);
        Ok(())
    }

    fn on_response(&mut self, id: Option<u64>, outcome: Result<&[u8], &[u8]>, now_ns: u64) {
        // Node-supplied text is logged here, off the signing path, and rate-limited.
        let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned();
        match self.lenders.answer(id, outcome) {
            Answer::NotOurs => {}
            Answer::Reading => return,
            Answer::Failed => {
                if self.log.allow(now_ns) {
                    let answer = match outcome {
                        Ok(b) | Err(b) => text(b),
                    };
                    tracing::warn!(
                        answer,
                        "a lender's balance could not be read; the offer stays as it was"
                    );
                }
                return;
            }
        }
        // The machine that wrote the request knows its id; a null id cannot be told apart, so
        // every machine hears it (each writes its unanswered transactions again).
        let mut answered = Answered::NotOurs;
        let mut account = 0u8;
        for (k, s) in self.senders.iter_mut().enumerate() {
            match s.subs.on_answer(id, outcome, now_ns) {
                Answered::NotOurs => {}
                Answered::NullId => answered = Answered::NullId,
                other => {
                    answered = other;
                    account = u8::try_from(k).unwrap_or(u8::MAX);
                    break;
                }
            }
        }
        if let (
            Answered::Tx {
                nonce,
                refusal,
                route,
                kind,
            },
            Some(ring),
        ) = (answered, self.answers.as_mut())
        {
            // For the journal: a fixed-size record by value, no allocation; a full ring drops
            // it, which shows as a gap in the journal's `n`.
            ring.n += 1;
            let _ = ring.out.push(crate::journal::SendAnswer::new(
                ring.n,
                crate::journal::unix_ms(),
                (account, nonce, route, kind),
                refusal,
                outcome.err(),
            ));
        }
        match answered {
            Answered::Tx {
                nonce,
                refusal: Refusal::Known,
                ..
            } => tracing::info!(nonce, "node accepted transaction"),
            Answered::Tx { nonce, refusal, .. } => {
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
        let max_age = self.settings.max_head_age_ns;
        let mut stalled = None;
        for (k, e) in self.endpoints.iter_mut().enumerate() {
            if e.last_head_ns == 0 {
                e.last_head_ns = now_ns;
            }
            let age = now_ns.saturating_sub(e.last_head_ns);
            if stalled.is_none() && matches!(e.link, Link::Up) && max_age > 0 && age > max_age {
                stalled = Some((k, age));
            }
        }
        if let Some((k, age)) = stalled {
            self.stats.stalls += 1;
            let why = format!("no new head for {} ms", age / 1_000_000);
            self.lost(k, &why);
            return true;
        }
        self.read_lenders(now_ns);
        self.drive(now_ns)
    }

    fn control(&mut self) -> Option<AccountControl> {
        self.controls.pop_front()
    }

    fn not_signed(&mut self, seq: u64) {
        self.not_signed.push_back(seq);
    }

    fn route_end(&mut self) -> Option<(u64, u8)> {
        if let Some(seq) = self.not_signed.pop_front() {
            return Some((seq, polyarb_core::ROUTE_DROPPED));
        }
        if let Some(seq) = self.reverted.as_mut().and_then(|r| r.pop().ok()) {
            return Some((seq, polyarb_core::ROUTE_REVERTED));
        }
        let ended = self.senders.iter_mut().find_map(|s| s.subs.pop_ended());
        if let (Some((seq, polyarb_core::ROUTE_DROPPED)), Some((risk, ring))) =
            (ended, self.unmined.as_mut())
        {
            risk.ended_unmined
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(r) = ring {
                // A full ring: the receipt thread asks on until the run ends (counted there
                // as without a receipt).
                let _ = r.push(seq);
            }
        }
        ended
    }

    fn lender_offer(&mut self) -> Option<([u8; 20], u8, [u8; 32])> {
        self.lenders.pop()
    }

    fn settled(&self) -> bool {
        let Some(w) = self
            .writer
            .and_then(|w| self.endpoints.get(w))
            .filter(|e| e.live())
        else {
            // No connection: nothing more can be settled before the wait ends.
            return true;
        };
        self.controls.is_empty()
            && self.senders.iter().all(|s| s.subs.settled())
            && w.rpc.as_ref().is_none_or(|r| r.ws().pending_bytes() == 0)
    }
}
