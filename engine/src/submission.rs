//! The submission state machine: every signed transaction from the moment the signer hands it
//! over until its nonce is settled on chain. Sans-IO: the live port feeds it what happened (a
//! transaction signed, a request written, an answer, the time) and asks it what to do next
//! ([`Submissions::next_action`]); tests drive it with a fake node and a fake clock.
//!
//! # The nonce policy
//! The signer hands out nonces in order; this machine owns what became of each one:
//!
//! - **Never reuse a nonce that may still land.** A nonce goes back to the signer
//!   ([`Control::Reuse`]) only when the node refused its transaction outright, so nothing with
//!   that nonce is in the node's pool. An answer that never came, a null-id error, or a lost
//!   connection leave the nonce *unknown*: the same signed bytes are written again (a node
//!   answers "already known" if it has them, "nonce too low" if they landed), which settles it
//!   without ever signing a second transaction for it.
//! - **Never leave a gap.** A refused nonce with later nonces already sent blocks them all: the
//!   signer signs its next transaction with the lowest free nonce, and if no opportunity comes
//!   within `fill_after` it signs a cancel (a zero-value transfer to itself) there
//!   ([`Control::Fill`]). A transaction in the pool that stays unmined for `stuck_after` while
//!   it is the account's next nonce is replaced by a cancel paying at least 10 % more
//!   ([`Control::Replace`]), so the nonces behind it are freed.
//! - The node's confirmed count (`eth_getTransactionCount(sender, "latest")`, asked every
//!   `confirm_every` while anything is tracked) retires nonces; a "nonce too low" for a
//!   transaction sent once means someone else used the account: the node's pending count is
//!   asked and the signer skips to it ([`Control::Skip`]), never back.
//!
//! Bounded: at most `capacity` nonces are tracked; a transaction beyond that is refused before
//! it is written and its nonce handed back, so nothing untracked reaches the node.

use polyarb_core::{ROUTE_DROPPED, ROUTE_MINED, TX_KIND_CANCEL, TX_KIND_ROUTE, TX_MAX, TxFrame};

/// Feed → signer control messages: what the signer must do with a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The node refused the transaction with this nonce (or it was never written): nothing with
    /// it is in the pool, so sign the next transaction with it (lowest free nonce first).
    Reuse(u64),
    /// If this nonce is still free, sign a cancel with it now: later nonces wait behind it.
    Fill(u64),
    /// The pooled transaction with this nonce is stuck: replace it with a cancel paying at
    /// least these fees (wei per gas).
    Replace {
        /// The stuck nonce.
        nonce: u64,
        /// Lowest `maxFeePerGas` that replaces the pooled transaction.
        min_max_fee: u64,
        /// Lowest `maxPriorityFeePerGas` that replaces it.
        min_tip: u64,
    },
    /// Nonces below this are used by someone else: never sign below it.
    Skip(u64),
}

/// A [`Control`] for one sending account (its index in the signer's account list): each
/// account has its own nonce sequence and its own [`Submissions`] machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountControl {
    /// The account, as in [`TxFrame::account`].
    pub account: u8,
    /// What to do with its nonce.
    pub control: Control,
}

impl std::fmt::Display for AccountControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}: {}", self.account, self.control)
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Reuse(n) => write!(f, "reuse nonce {n}"),
            Self::Fill(n) => write!(f, "fill nonce {n} with a cancel"),
            Self::Replace {
                nonce,
                min_max_fee,
                min_tip,
            } => write!(
                f,
                "replace nonce {nonce} with a cancel paying at least {min_max_fee} wei/gas (tip {min_tip})"
            ),
            Self::Skip(n) => write!(f, "skip to nonce {n}"),
        }
    }
}

/// Which transaction count to ask the node for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountTag {
    /// Mined transactions: nonces below it are settled.
    Latest,
    /// Mined plus contiguous pooled ones: the next nonce free at the node.
    Pending,
}

impl Refusal {
    /// What it means, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Known => "accepted",
            Self::NonceTooLow => "nonce already used",
            Self::Underpriced => "another transaction holds the nonce",
            Self::NonceTooHigh => "lower nonces missing at the node; written again later",
            Self::Refused => "refused; the nonce goes to the next transaction",
        }
    }

    /// Its name in the journal (`send_answers.outcome`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Known => "accepted",
            Self::NonceTooLow => "nonce-too-low",
            Self::Underpriced => "underpriced",
            Self::NonceTooHigh => "nonce-too-high",
            Self::Refused => "refused",
        }
    }
}

impl CountTag {
    /// The JSON-RPC block tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Pending => "pending",
        }
    }
}

/// How far [`Submissions`] may grow its window past `capacity` when a reorg takes back
/// transactions it had retired.
const MAX_GROWTH: u64 = 16;

/// What the I/O side must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Write `eth_sendRawTransaction(raw)`, then report the request id with
    /// [`Submissions::on_written`] (or [`Submissions::on_write_failed`]).
    Send {
        /// The nonce (to report back).
        nonce: u64,
        /// The signed bytes.
        raw: &'a [u8],
    },
    /// Write `eth_getTransactionCount(sender, tag)`, then report its id with
    /// [`Submissions::on_query_written`].
    Count(CountTag),
    /// Hand this to the signer.
    Signer(Control),
}

/// Timers and bounds, from `[submit]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitConfig {
    /// Nonces tracked at once (written, pooled or free).
    pub capacity: usize,
    /// A request unanswered this long (ns) is written again.
    pub answer_timeout_ns: u64,
    /// A freed nonce with later nonces waiting is filled with a cancel after this long (ns).
    pub fill_after_ns: u64,
    /// The account's next nonce pooled and unmined this long (ns) is replaced by a cancel.
    pub stuck_after_ns: u64,
    /// How often (ns) the confirmed count is asked while nonces are tracked.
    pub confirm_every_ns: u64,
}

impl Default for SubmitConfig {
    fn default() -> Self {
        Self {
            capacity: 256,
            answer_timeout_ns: 5_000_000_000,
            fill_after_ns: 2_000_000_000,
            stuck_after_ns: 60_000_000_000,
            confirm_every_ns: 1_000_000_000,
        }
    }
}

/// What happened to the transactions handed over, for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubmitStats {
    /// Signed transactions taken in (routes and cancels).
    pub signed: u64,
    /// Requests written (first writes and rewrites).
    pub writes: u64,
    /// Rewrites of the same bytes after a lost answer, a null-id error or a failed write.
    pub rewrites: u64,
    /// Answers saying the node has the transaction (a hash, or "already known").
    pub accepted: u64,
    /// Answers refusing it with its nonce unused: the nonce went back to the signer.
    pub refused: u64,
    /// "nonce too low": the nonce was already used (by us, landed, or by someone else).
    pub nonce_too_low: u64,
    /// Another transaction holds the nonce in the pool ("replacement transaction underpriced").
    pub occupied: u64,
    /// Requests unanswered within the timeout.
    pub answer_timeouts: u64,
    /// Error answers with a null id (the request they belong to cannot be told).
    pub null_id_errors: u64,
    /// Answers to an earlier write of a nonce already settled by another answer.
    pub late_answers: u64,
    /// Answers whose transaction hash is not the one we signed.
    pub hash_mismatches: u64,
    /// Transactions refused before writing because `capacity` nonces were tracked.
    pub over_capacity: u64,
    /// Transactions signed with a nonce that was not free (a signer bug guard).
    pub nonce_conflicts: u64,
    /// Cancels asked to fill a freed nonce.
    pub fills_asked: u64,
    /// Cancels asked to replace a stuck transaction.
    pub replacements_asked: u64,
    /// Nonces the node reported mined while we tracked them.
    pub confirmed: u64,
    /// The node's confirmed count, as last reported.
    pub node_latest: u64,
    /// Count answers that could not be read.
    pub bad_counts: u64,
    /// Transactions signed on the view from before a reconnect and never written (their
    /// nonces reused).
    pub dropped_stale: u64,
    /// Mined transactions a reorg took back (their nonces tracked again as free).
    pub unmined_by_reorg: u64,
    /// The account's next nonce, pooled but unmined, written again to check the node still
    /// holds it.
    pub rechecks: u64,
    /// Nonces used (mined, or held by another) that a reorg freed again.
    pub retaken: u64,
    /// Reorgs that took back more than the window could grow to hold.
    pub reorg_too_deep: u64,
    /// Routes reported to the engine as never landing (their pools searched again).
    pub routes_dropped: u64,
    /// Routes reported to the engine as mined (landed or reverted).
    pub routes_mined: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Signed, waiting to be written (first time, or again), not before `due`.
    Queued,
    /// Written; waiting for the answer until `due`.
    Written,
    /// In the node's pool: may land.
    Pooled,
    /// Refused: nothing with this nonce is in the pool; the signer may reuse it.
    Freed,
    /// Used elsewhere: mined already, or another transaction holds it in the pool.
    Taken,
}

/// One tracked nonce.
#[derive(Clone)]
struct Slot {
    nonce: u64,
    state: State,
    /// When the state was entered, ns.
    since: u64,
    /// The state's next timer, ns.
    due: u64,
    /// Pooled: when the replacement of a stuck next nonce is due, ns (kept across the
    /// re-announcements below).
    stuck_at: u64,
    /// Pooled: when the same bytes are written again if the nonce is still the account's next
    /// and unmined (a node may have dropped it: a reorg, an evicted pool entry), ns.
    recheck_at: u64,
    /// Ids of the two newest writes; an answer to either settles the slot.
    ids: [Option<u64>; 2],
    /// Writes of the current bytes so far.
    writes: u32,
    /// Fees (wei per gas: max fee, tip) of the version known to be in the pool, which a
    /// replacement must beat; `None` while no version is known pooled.
    pooled: Option<(u64, u64)>,
    /// Fees of the current bytes.
    fees: (u64, u64),
    /// Pooled once and written again to check it is still there: the stuck clock runs on.
    state_was_pooled: bool,
    /// The route (opportunity `seq`) whose transaction at this nonce may still land, until
    /// the engine is told it will not or was mined.
    route: Option<u64>,
    /// [`TX_KIND_ROUTE`] or [`TX_KIND_CANCEL`]: what the current bytes are.
    kind: u8,
    len: usize,
    raw: [u8; TX_MAX],
}

impl Slot {
    const EMPTY: Self = Self {
        nonce: 0,
        state: State::Taken,
        since: 0,
        due: 0,
        stuck_at: 0,
        recheck_at: 0,
        ids: [None; 2],
        writes: 0,
        pooled: None,
        fees: (0, 0),
        state_was_pooled: false,
        route: None,
        kind: TX_KIND_CANCEL,
        len: 0,
        raw: [0; TX_MAX],
    };

    fn load(&mut self, tx: &TxFrame, now: u64) {
        self.state = State::Queued;
        self.since = now;
        self.due = now;
        self.ids = [None; 2];
        self.writes = 0;
        self.state_was_pooled = false;
        self.fees = (tx.max_fee_wei, tx.tip_wei);
        self.kind = tx.kind;
        if tx.kind == TX_KIND_ROUTE {
            self.route = Some(tx.seq);
        }
        let raw = tx.raw();
        self.len = raw.len();
        self.raw[..raw.len()].copy_from_slice(raw);
    }
}

/// What an answer was to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// The answer to a transaction's newest write: [`Refusal::Known`] for a hash (accepted).
    Tx {
        /// Its nonce.
        nonce: u64,
        /// What the node said.
        refusal: Refusal,
        /// The route it carries (its opportunity's `seq`), if it carries one still.
        route: Option<u64>,
        /// What it is: a route, a cancel (`TX_KIND_*`).
        kind: u8,
    },
    /// An answer to a nonce already settled, or to an older write of it.
    Late {
        /// Its nonce.
        nonce: u64,
    },
    /// The answer to a count request.
    Count,
    /// An error with a null id: every unanswered write goes again.
    NullId,
    /// Not an answer to anything this machine asked.
    NotOurs,
}

/// What an error answer to `eth_sendRawTransaction` says about the nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The node has this transaction already ("already known", "already imported").
    Known,
    /// The nonce is used ("nonce too low").
    NonceTooLow,
    /// Another transaction holds the nonce in the pool and this one does not pay enough more.
    Underpriced,
    /// The node wants lower nonces first ("nonce too high"): ours are missing there.
    NonceTooHigh,
    /// Anything else (funds, fee cap below base fee, gas, …): the transaction is not pooled.
    Refused,
}

/// Reads a node's error object (raw JSON). geth, Bor and anvil word these the same way for the
/// cases that matter; anything unrecognised is a plain refusal, the safe reading for a nonce
/// (it is written again only by a new transaction, which the node orders by nonce anyway).
pub fn classify(error: &[u8]) -> Refusal {
    let has = |needle: &[u8]| {
        error
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if has(b"already known") || has(b"already imported") || has(b"known transaction") {
        Refusal::Known
    } else if has(b"nonce too low") {
        Refusal::NonceTooLow
    } else if has(b"nonce too high") {
        Refusal::NonceTooHigh
    } else if has(b"underpriced") {
        Refusal::Underpriced
    } else {
        Refusal::Refused
    }
}

/// Whether a `eth_sendRawTransaction` result (`"0x…"`, raw JSON) is `hash`.
fn is_hash(result: &[u8], hash: &[u8; 32]) -> bool {
    let Some(hex) = result
        .strip_prefix(b"\"0x")
        .and_then(|r| r.strip_suffix(b"\""))
    else {
        return false;
    };
    hex.len() == 64 && hex.chunks(2).zip(hash).all(|(pair, &b)| {
        let digit = |c: u8| (c as char).to_digit(16);
        matches!((digit(pair[0]), digit(pair[1])), (Some(h), Some(l)) if (h << 4 | l) as u8 == b)
    })
}

/// The state machine. Owned by the feed stage's port; allocation-free after construction.
pub struct Submissions {
    cfg: SubmitConfig,
    /// Ring of `capacity` slots; nonce `n` lives at `n % capacity` while `lo <= n < hi`.
    slots: Vec<Slot>,
    /// Lowest tracked nonce.
    lo: u64,
    /// One past the highest tracked nonce.
    hi: u64,
    /// The highest count the signer was told to skip to: nonces below it that the window
    /// jumps over are someone else's.
    skip_floor: u64,
    /// The node's confirmed count, once known.
    confirmed: Option<u64>,
    /// When that count arrived, ns.
    confirmed_at: u64,
    /// The outstanding count request: id, tag, when written.
    query: Option<(u64, CountTag, u64)>,
    /// A count request to write when none is outstanding.
    want: Option<CountTag>,
    /// When the confirmed count was last asked, ns.
    last_confirm_ask: u64,
    /// Controls for the signer, oldest first; bounded by `capacity` (one per slot event).
    controls: std::collections::VecDeque<Control>,
    /// Routes whose fate the engine is to learn, oldest first: (opportunity `seq`,
    /// `ROUTE_DROPPED` or `ROUTE_MINED`). One per route signed.
    ended: std::collections::VecDeque<(u64, u8)>,
    /// Earliest timer among the slots, ns (a scan before it would find nothing).
    next_due: u64,
    stats: SubmitStats,
}

impl std::fmt::Debug for Submissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submissions")
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

impl Submissions {
    /// Tracks nonces from `first_nonce` (the node's pending count at start).
    pub fn new(cfg: SubmitConfig, first_nonce: u64) -> Self {
        let cap = cfg.capacity.max(1);
        Self {
            cfg: SubmitConfig {
                capacity: cap,
                ..cfg
            },
            slots: vec![Slot::EMPTY; cap],
            lo: first_nonce,
            hi: first_nonce,
            skip_floor: first_nonce,
            confirmed: None,
            confirmed_at: 0,
            query: None,
            want: None,
            last_confirm_ask: 0,
            controls: std::collections::VecDeque::with_capacity(cap * 2),
            ended: std::collections::VecDeque::with_capacity(cap * 2),
            next_due: 0,
            stats: SubmitStats::default(),
        }
    }

    /// The next route whose fate the engine is to learn: (opportunity `seq`,
    /// [`ROUTE_DROPPED`] or [`ROUTE_MINED`]).
    pub fn pop_ended(&mut self) -> Option<(u64, u8)> {
        self.ended.pop_front()
    }

    /// Route `seq` was mined (landed or reverted).
    fn mined(
        ended: &mut std::collections::VecDeque<(u64, u8)>,
        stats: &mut SubmitStats,
        seq: Option<u64>,
    ) {
        if let Some(seq) = seq {
            stats.routes_mined += 1;
            ended.push_back((seq, ROUTE_MINED));
        }
    }

    /// Route `seq` will not land.
    fn dropped(
        ended: &mut std::collections::VecDeque<(u64, u8)>,
        stats: &mut SubmitStats,
        seq: Option<u64>,
    ) {
        if let Some(seq) = seq {
            stats.routes_dropped += 1;
            ended.push_back((seq, ROUTE_DROPPED));
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &SubmitStats {
        &self.stats
    }

    /// The lowest nonce still tracked and one past the highest.
    pub fn window(&self) -> (u64, u64) {
        (self.lo, self.hi)
    }

    fn index(&self, nonce: u64) -> usize {
        (nonce % self.slots.len() as u64) as usize
    }

    fn slot(&mut self, nonce: u64) -> Option<&mut Slot> {
        if nonce < self.lo || nonce >= self.hi {
            return None;
        }
        let i = self.index(nonce);
        Some(&mut self.slots[i])
    }

    /// Takes in a signed transaction. `Err(())` (counted) when it must not be written: its
    /// nonce is then either handed back to the signer or already used.
    #[allow(clippy::result_unit_err, reason = "the reason is counted in the stats")]
    pub fn on_signed(&mut self, tx: &TxFrame, now: u64) -> Result<(), ()> {
        self.stats.signed += 1;
        let nonce = tx.nonce;
        let route = (tx.kind == TX_KIND_ROUTE).then_some(tx.seq);
        if nonce < self.lo {
            // Settled already (a replacement or fill that lost the race with a block).
            self.stats.nonce_conflicts += 1;
            Self::dropped(&mut self.ended, &mut self.stats, route);
            return Err(());
        }
        if nonce < self.hi {
            let i = self.index(nonce);
            let slot = &mut self.slots[i];
            let replacing = tx.kind == TX_KIND_CANCEL && slot.state == State::Pooled;
            if slot.state != State::Freed && !replacing {
                self.stats.nonce_conflicts += 1;
                Self::dropped(&mut self.ended, &mut self.stats, route);
                return Err(());
            }
            slot.load(tx, now);
            self.next_due = now;
            return Ok(());
        }
        // Beyond the window.
        let needed = nonce - self.lo + 1;
        if needed > self.slots.len() as u64 {
            // Not written, so unused: back to the signer. The signer may have signed later
            // nonces before this control reaches it; each comes back the same way.
            self.stats.over_capacity += 1;
            self.controls.push_back(Control::Reuse(nonce));
            Self::dropped(&mut self.ended, &mut self.stats, route);
            return Err(());
        }
        // The nonces between were skipped to (`Control::Skip`: someone else's) or handed back
        // (refused before writing, and signed again later, lowest first): the latter are free
        // and block this one until they are used or filled.
        let fill_after = self.cfg.fill_after_ns;
        while self.hi < nonce {
            let n = self.hi;
            let i = self.index(n);
            let skipped = n < self.skip_floor;
            self.slots[i] = Slot {
                nonce: n,
                state: if skipped { State::Taken } else { State::Freed },
                since: now,
                due: now.saturating_add(fill_after),
                ..Slot::EMPTY
            };
            if !skipped {
                self.controls.push_back(Control::Reuse(n));
            }
            self.hi += 1;
        }
        let i = self.index(nonce);
        let slot = &mut self.slots[i];
        slot.nonce = nonce;
        slot.pooled = None;
        slot.route = None;
        slot.load(tx, now);
        self.hi = nonce + 1;
        self.next_due = now;
        Ok(())
    }

    /// The request for `nonce` was written with id `id`.
    pub fn on_written(&mut self, nonce: u64, id: u64, now: u64) {
        let timeout = self.cfg.answer_timeout_ns;
        let Some(slot) = self.slot(nonce) else { return };
        slot.ids = [Some(id), slot.ids[0]];
        slot.writes += 1;
        let rewrite = slot.writes > 1;
        slot.state = State::Written;
        slot.since = now;
        slot.due = now.saturating_add(timeout);
        self.stats.writes += 1;
        if rewrite {
            self.stats.rewrites += 1;
        }
        self.next_due = self.next_due.min(now.saturating_add(timeout));
    }

    /// The request for `nonce` could not be written (socket error): it stays queued and is
    /// tried again after the answer timeout.
    pub fn on_write_failed(&mut self, nonce: u64, now: u64) {
        let timeout = self.cfg.answer_timeout_ns;
        if let Some(slot) = self.slot(nonce) {
            slot.due = now.saturating_add(timeout);
        }
        self.next_due = self.next_due.min(now.saturating_add(timeout));
    }

    /// The count request asked by [`Action::Count`] was written with id `id`.
    pub fn on_query_written(&mut self, tag: CountTag, id: u64, now: u64) {
        self.query = Some((id, tag, now));
    }

    /// The connection is gone: every unanswered request is written again once it is back.
    pub fn on_disconnect(&mut self, now: u64) {
        self.query = None;
        for n in self.lo..self.hi {
            let i = self.index(n);
            let slot = &mut self.slots[i];
            if slot.state == State::Written {
                slot.state = State::Queued;
                slot.due = now;
            }
        }
        self.next_due = now;
    }

    /// The connection is back and the chain view complete again. Transactions signed but never
    /// written were priced on the view from before the drop: none reached the node, so they are
    /// not written now and their nonces go back to the signer. Returns how many.
    pub fn on_reconnect(&mut self, now: u64) -> u64 {
        let mut dropped = 0;
        for n in self.lo..self.hi {
            let i = self.index(n);
            let slot = &mut self.slots[i];
            if slot.state == State::Queued && slot.writes == 0 && slot.pooled.is_none() {
                Self::dropped(&mut self.ended, &mut self.stats, slot.route.take());
                slot.state = State::Freed;
                slot.since = now;
                slot.due = now.saturating_add(self.cfg.fill_after_ns);
                self.controls.push_back(Control::Reuse(n));
                dropped += 1;
            }
        }
        self.stats.dropped_stale += dropped;
        self.next_due = now;
        dropped
    }

    /// A JSON-RPC answer: `Ok(result)` or `Err(error object)`, raw JSON. Returns what it was
    /// to this machine (for the log).
    pub fn on_answer(
        &mut self,
        id: Option<u64>,
        outcome: Result<&[u8], &[u8]>,
        now: u64,
    ) -> Answered {
        let Some(id) = id else {
            if outcome.is_err() {
                // A request the node could not read; which one cannot be told, and rewriting
                // the same bytes is harmless, so every unanswered one goes again now.
                self.stats.null_id_errors += 1;
                for n in self.lo..self.hi {
                    let i = self.index(n);
                    if self.slots[i].state == State::Written {
                        self.slots[i].state = State::Queued;
                        self.slots[i].due = now;
                    }
                }
                if let Some((_, tag, _)) = self.query.take() {
                    self.want.get_or_insert(tag);
                }
                self.next_due = now;
                return Answered::NullId;
            }
            return Answered::NotOurs;
        };
        if let Some((qid, tag, _)) = self.query
            && qid == id
        {
            self.query = None;
            match outcome
                .ok()
                .and_then(|r| polyarb_feeds::quantity_result(r).ok())
            {
                Some(count) => self.on_count(tag, count, now),
                None => {
                    self.stats.bad_counts += 1;
                }
            }
            return Answered::Count;
        }
        let Some(nonce) = (self.lo..self.hi).find(|&n| {
            let s = &self.slots[self.index(n)];
            s.ids.contains(&Some(id))
        }) else {
            return Answered::NotOurs;
        };
        let (fill_after, i) = (self.cfg.fill_after_ns, self.index(nonce));
        let slot = &mut self.slots[i];
        if slot.state != State::Written && slot.state != State::Queued {
            self.stats.late_answers += 1;
            return Answered::Late { nonce };
        }
        let refusal = match outcome {
            Ok(result) => {
                // Hashed here, when the answer comes, not when the bytes go out.
                let hash = alloy_primitives::keccak256(&slot.raw[..slot.len]);
                if !is_hash(result, &hash.0) {
                    self.stats.hash_mismatches += 1;
                }
                Refusal::Known
            }
            Err(error) => classify(error),
        };
        let newest = slot.ids[0] == Some(id);
        // As written, before the outcome below may end the route.
        let (route, kind) = (slot.route, slot.kind);
        if !newest && matches!(refusal, Refusal::Refused | Refusal::NonceTooHigh) {
            // An earlier write was refused, but the same bytes went out again since and that
            // write may yet be pooled: only the newest write's refusal frees the nonce (a node
            // holding the bytes would have answered it "already known").
            self.stats.late_answers += 1;
            return Answered::Late { nonce };
        }
        match refusal {
            Refusal::Known => {
                self.stats.accepted += 1;
                if slot.kind == TX_KIND_CANCEL {
                    // The node swapped the route in its pool for our cancel: it will not land.
                    Self::dropped(&mut self.ended, &mut self.stats, slot.route.take());
                }
                if slot.state_was_pooled {
                    // A re-announcement answered: the stuck clock runs on.
                } else {
                    slot.since = now;
                    slot.stuck_at = now.saturating_add(self.cfg.stuck_after_ns);
                }
                slot.state = State::Pooled;
                slot.pooled = Some(slot.fees);
                slot.recheck_at = now.saturating_add(self.cfg.answer_timeout_ns);
                slot.due = slot.stuck_at;
            }
            Refusal::NonceTooLow => {
                self.stats.nonce_too_low += 1;
                let first_write = slot.writes <= 1 && slot.pooled.is_none();
                if first_write {
                    Self::dropped(&mut self.ended, &mut self.stats, slot.route.take());
                } else {
                    // Ours was pooled, or written before: it is what was mined.
                    Self::mined(&mut self.ended, &mut self.stats, slot.route.take());
                }
                slot.state = State::Taken;
                slot.recheck_at = now.saturating_add(self.cfg.answer_timeout_ns);
                if first_write {
                    // Never ours before: someone else sends from this account.
                    self.want = Some(CountTag::Pending);
                }
            }
            Refusal::Underpriced => {
                self.stats.occupied += 1;
                if slot.pooled.is_some() {
                    // Our replacement was too cheap (or our own bytes are still there); the
                    // pooled version stands.
                    slot.state = State::Pooled;
                    if !slot.state_was_pooled {
                        slot.stuck_at = now.saturating_add(self.cfg.stuck_after_ns);
                    }
                    slot.recheck_at = now.saturating_add(self.cfg.answer_timeout_ns);
                    slot.due = slot.stuck_at;
                } else {
                    // Another transaction holds the nonce: ours will not land.
                    Self::dropped(&mut self.ended, &mut self.stats, slot.route.take());
                    slot.state = State::Taken;
                    slot.recheck_at = now.saturating_add(self.cfg.answer_timeout_ns);
                }
            }
            Refusal::NonceTooHigh => {
                // Lower nonces are missing at the node: try again later; the stuck timer of
                // the lowest one repairs the hole if it stays.
                self.stats.refused += 1;
                slot.state = State::Queued;
                slot.due = now.saturating_add(self.cfg.answer_timeout_ns);
                self.want.get_or_insert(CountTag::Latest);
            }
            Refusal::Refused => {
                self.stats.refused += 1;
                if let Some(fees) = slot.pooled {
                    // A refused replacement: the version in the pool still holds the nonce.
                    slot.state = State::Pooled;
                    slot.fees = fees;
                    if !slot.state_was_pooled {
                        slot.stuck_at = now.saturating_add(self.cfg.stuck_after_ns);
                    }
                    slot.recheck_at = now.saturating_add(self.cfg.answer_timeout_ns);
                    slot.due = slot.stuck_at;
                } else {
                    Self::dropped(&mut self.ended, &mut self.stats, slot.route.take());
                    slot.state = State::Freed;
                    slot.since = now;
                    slot.due = now.saturating_add(fill_after);
                    self.controls.push_back(Control::Reuse(nonce));
                }
            }
        }
        self.next_due = self.next_due.min(slot.due);
        Answered::Tx {
            nonce,
            refusal,
            route,
            kind,
        }
    }

    fn on_count(&mut self, tag: CountTag, count: u64, now: u64) {
        match tag {
            CountTag::Pending => {
                self.skip_floor = self.skip_floor.max(count);
                self.controls.push_back(Control::Skip(count));
            }
            CountTag::Latest => {
                self.stats.node_latest = count;
                // One count request is out at a time, so answers come in order: a count below
                // the last is a reorg that took back mined transactions.
                if count < self.lo {
                    self.unmined(count, now);
                }
                let confirmed = count;
                self.confirmed = Some(confirmed);
                self.confirmed_at = now;
                let mut freed_below = false;
                while self.lo < self.hi && self.lo < confirmed {
                    let i = self.index(self.lo);
                    Self::mined(&mut self.ended, &mut self.stats, self.slots[i].route.take());
                    match self.slots[i].state {
                        State::Taken => {}
                        // A free nonce the chain used after all (a reorg undone, another
                        // sender): the signer must not hand it out any more.
                        State::Freed => freed_below = true,
                        _ => self.stats.confirmed += 1,
                    }
                    self.lo += 1;
                }
                if freed_below {
                    self.skip_floor = self.skip_floor.max(confirmed);
                    self.controls.push_back(Control::Skip(confirmed));
                }
                if self.lo >= self.hi {
                    if confirmed > self.hi {
                        // The account moved past everything we signed: someone else sends
                        // from it, and the signer must not sign below the node's count.
                        self.skip_floor = self.skip_floor.max(confirmed);
                        self.controls.push_back(Control::Skip(confirmed));
                    }
                    self.lo = self.lo.max(confirmed);
                    self.hi = self.lo;
                }
                self.next_due = now;
            }
        }
    }

    /// A reorg took back transactions of nonces `count..lo` that the machine had seen mined and
    /// no longer tracks. A node may put them back in its pool (geth does) or drop them (anvil
    /// does); either way the nonces are tracked again as free: the signer reuses them, and fills
    /// them if nothing does. A new transaction there meets the old one if it is pooled again
    /// ("underpriced": taken, harmless), or fills the gap if it is gone.
    fn unmined(&mut self, count: u64, now: u64) {
        // The window must reach down to `count`: grow the ring if it has to (a rare, bounded
        // allocation: at most `MAX_GROWTH` times the configured capacity, so a node reporting
        // a count of 0 cannot make it allocate without bound).
        let needed = self.hi - count;
        if needed > self.slots.len() as u64 {
            let limit = (self.cfg.capacity as u64).saturating_mul(MAX_GROWTH);
            let cap = needed.max(2 * self.slots.len() as u64).min(limit);
            self.regrow(cap as usize);
        }
        let floor = count.max(self.hi.saturating_sub(self.slots.len() as u64));
        if floor > count {
            self.stats.reorg_too_deep += 1;
            tracing::error!(
                count,
                floor,
                "a reorg took back more of our transactions than the submission window holds; \
                 nonces below the window are not refilled"
            );
        }
        self.stats.unmined_by_reorg += self.lo - count;
        for n in (floor..self.lo).rev() {
            let i = self.index(n);
            self.slots[i] = Slot {
                nonce: n,
                state: State::Freed,
                since: now,
                due: now.saturating_add(self.cfg.fill_after_ns),
                ..Slot::EMPTY
            };
            self.controls.push_back(Control::Reuse(n));
        }
        self.lo = floor;
        self.next_due = now;
    }

    /// Moves the tracked slots into a ring of `cap` slots (each nonce at `nonce % cap`).
    fn regrow(&mut self, cap: usize) {
        let mut slots = vec![Slot::EMPTY; cap.max(1)];
        for n in self.lo..self.hi {
            let old = &self.slots[self.index(n)];
            slots[(n % cap as u64) as usize] = old.clone();
        }
        self.slots = slots;
    }

    /// Whether nothing is on its way: no transaction waits to be written or answered, no freed
    /// nonce blocks later ones, and no control waits for the signer. Shutdown waits for this.
    pub fn settled(&self) -> bool {
        if !self.controls.is_empty() {
            return false;
        }
        let mut blocking_free = false;
        for n in (self.lo..self.hi).rev() {
            match self.slots[self.index(n)].state {
                State::Queued | State::Written => return false,
                State::Pooled => blocking_free = true,
                State::Freed if blocking_free => return false,
                State::Freed | State::Taken => {}
            }
        }
        true
    }

    /// The next thing to do at `now`; `can_write` false while disconnected (only controls
    /// come out then). Call until `None`.
    pub fn next_action(&mut self, now: u64, can_write: bool) -> Option<Action<'_>> {
        if let Some(c) = self.controls.pop_front() {
            return Some(Action::Signer(c));
        }
        if !can_write {
            return None;
        }
        if now >= self.next_due {
            let send = self.scan(now);
            // Timers may have asked for fills or replacements: those go first.
            if let Some(c) = self.controls.pop_front() {
                return Some(Action::Signer(c));
            }
            if let Some(nonce) = send {
                let i = self.index(nonce);
                let slot = &self.slots[i];
                return Some(Action::Send {
                    nonce,
                    raw: &slot.raw[..slot.len],
                });
            }
        }
        if let Some((_, tag, at)) = self.query {
            if now.saturating_sub(at) < self.cfg.answer_timeout_ns {
                return None;
            }
            // The count answer was lost: ask again.
            self.stats.answer_timeouts += 1;
            self.query = None;
            self.want.get_or_insert(tag);
        }
        if let Some(tag) = self.want.take() {
            if tag == CountTag::Latest {
                self.last_confirm_ask = now;
            }
            return Some(Action::Count(tag));
        }
        if self.lo < self.hi
            && now.saturating_sub(self.last_confirm_ask) >= self.cfg.confirm_every_ns
        {
            self.last_confirm_ask = now;
            return Some(Action::Count(CountTag::Latest));
        }
        None
    }

    /// Runs the timers; returns the lowest nonce due to be written, if any, and queues
    /// controls for fills and replacements.
    fn scan(&mut self, now: u64) -> Option<u64> {
        let mut next_due = u64::MAX;
        let mut send = None;
        // Whether a nonce above the one looked at is on its way (so a free one blocks it).
        let mut later_in_flight = false;
        // The account's next nonce pooled, unmined past its recheck: the node may have dropped
        // it and everything after it (a reorg, an evicted pool), so every pooled one is
        // written again, lowest first.
        let recheck = self.confirmed.is_some_and(|c| {
            (self.lo..self.hi).contains(&c) && {
                let s = &self.slots[self.index(c)];
                s.state == State::Pooled
                    && s.stuck_at > now
                    && s.recheck_at <= now
                    && self.confirmed_at > s.recheck_at
            }
        });
        if recheck {
            self.stats.rechecks += 1;
        }
        for n in (self.lo..self.hi).rev() {
            let i = self.index(n);
            let slot = &mut self.slots[i];
            match slot.state {
                State::Queued => {
                    if slot.due <= now {
                        send = Some(n);
                    } else {
                        next_due = next_due.min(slot.due);
                    }
                    later_in_flight = true;
                }
                State::Written => {
                    if slot.due <= now {
                        // No answer: write the same bytes again.
                        self.stats.answer_timeouts += 1;
                        slot.state = State::Queued;
                        slot.due = now;
                        send = Some(n);
                    } else {
                        next_due = next_due.min(slot.due);
                    }
                    later_in_flight = true;
                }
                State::Pooled => {
                    let next_of_account = self.confirmed == Some(n);
                    if next_of_account && slot.stuck_at <= now {
                        let (max_fee, tip) = slot.pooled.unwrap_or(slot.fees);
                        self.controls.push_back(Control::Replace {
                            nonce: n,
                            min_max_fee: bump(max_fee),
                            min_tip: bump(tip),
                        });
                        self.stats.replacements_asked += 1;
                        slot.stuck_at = now.saturating_add(self.cfg.stuck_after_ns);
                    } else if recheck {
                        // The same bytes again are harmless: "already known" if the node still
                        // has them.
                        slot.state = State::Queued;
                        slot.state_was_pooled = true;
                        slot.due = now;
                        send = Some(n);
                    }
                    if next_of_account {
                        next_due = next_due.min(slot.stuck_at).min(slot.recheck_at);
                    }
                    later_in_flight = true;
                }
                State::Freed => {
                    if later_in_flight {
                        if slot.due <= now {
                            self.controls.push_back(Control::Fill(n));
                            self.stats.fills_asked += 1;
                            slot.due = now.saturating_add(self.cfg.fill_after_ns);
                        }
                        next_due = next_due.min(slot.due);
                    }
                }
                State::Taken => {
                    // Used, yet the account's next nonce and unmined past its recheck: a reorg
                    // took back the transaction that used it (ours, or another's). Free again:
                    // reused or filled; if another's is back in the pool, ours meets it
                    // ("underpriced") and it is taken again.
                    // Only on a count read after the recheck time: a count read before it may
                    // not show the block that used the nonce yet.
                    if self.confirmed == Some(n) {
                        if slot.recheck_at <= now && self.confirmed_at > slot.recheck_at {
                            self.stats.retaken += 1;
                            slot.state = State::Freed;
                            slot.since = now;
                            slot.due = now;
                            self.controls.push_back(Control::Reuse(n));
                            next_due = now;
                        } else {
                            next_due = next_due.min(slot.recheck_at);
                        }
                    }
                }
            }
        }
        self.next_due = if send.is_some() { now } else { next_due };
        send
    }
}

/// The lowest fee that replaces a pooled transaction paying `fee`: geth wants 10 % more on
/// both fees, anvil strictly more; one wei over 10 % satisfies both.
pub fn bump(fee: u64) -> u64 {
    fee.saturating_add(fee / 10).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn cfg() -> SubmitConfig {
        SubmitConfig {
            capacity: 8,
            answer_timeout_ns: 100 * MS,
            fill_after_ns: 50 * MS,
            stuck_after_ns: 1_000 * MS,
            confirm_every_ns: 10_000 * MS,
        }
    }

    fn tx(nonce: u64, byte: u8) -> TxFrame {
        let mut f = TxFrame::EMPTY;
        f.nonce = nonce;
        f.len = 4;
        f.raw[..4].copy_from_slice(&[byte; 4]);
        f.max_fee_wei = 100;
        f.tip_wei = 10;
        f
    }

    /// The node's answer accepting [`tx`]`(_, byte)`: its hash as a JSON string.
    fn accepted(byte: u8) -> String {
        let hash = alloy_primitives::keccak256([byte; 4]);
        format!("\"0x{}\"", alloy_primitives::hex::encode(hash))
    }

    /// Writes everything due, giving ids from `next_id`; returns (nonce, id, first byte) per
    /// write and the controls asked.
    fn drain(
        s: &mut Submissions,
        now: u64,
        next_id: &mut u64,
    ) -> (Vec<(u64, u64, u8)>, Vec<Control>) {
        let (mut sent, mut controls) = (Vec::new(), Vec::new());
        while let Some(a) = s.next_action(now, true) {
            match a {
                Action::Send { nonce, raw } => {
                    let first = raw[0];
                    *next_id += 1;
                    s.on_written(nonce, *next_id, now);
                    sent.push((nonce, *next_id, first));
                }
                Action::Count(tag) => {
                    *next_id += 1;
                    s.on_query_written(tag, *next_id, now);
                }
                Action::Signer(c) => controls.push(c),
            }
        }
        (sent, controls)
    }

    const REFUSED: &[u8] = br#"{"code":-32000,"message":"insufficient funds"}"#;

    #[test]
    fn a_refused_nonce_is_handed_back_and_filled_only_when_later_ones_wait() {
        let mut s = Submissions::new(cfg(), 5);
        let mut id = 0;
        s.on_signed(&tx(5, 1), 0).unwrap();
        s.on_signed(&tx(6, 2), 0).unwrap();
        let (sent, _) = drain(&mut s, 0, &mut id);
        // Lowest nonce first, as the node orders them.
        assert_eq!(sent, vec![(5, 1, 1), (6, 2, 2)]);
        assert_ne!(Answered::NotOurs, s.on_answer(Some(1), Err(REFUSED), MS));
        let (_, controls) = drain(&mut s, MS, &mut id);
        assert_eq!(controls, vec![Control::Reuse(5)]);
        // 6 is still unanswered (so on its way): 5 blocks it, but only after `fill_after`.
        assert_eq!(drain(&mut s, 50 * MS, &mut id).1, vec![]);
        assert_eq!(drain(&mut s, 51 * MS, &mut id).1, vec![Control::Fill(5)]);
        assert!(!s.settled());
        // The fill arrives as a cancel and goes out.
        let mut cancel = tx(5, 9);
        cancel.kind = TX_KIND_CANCEL;
        s.on_signed(&cancel, 52 * MS).unwrap();
        assert_eq!(drain(&mut s, 52 * MS, &mut id).0[0].2, 9);
    }

    #[test]
    fn a_lost_answer_or_a_null_id_error_writes_the_same_bytes_again() {
        let mut s = Submissions::new(cfg(), 0);
        let mut id = 0;
        s.on_signed(&tx(0, 7), 0).unwrap();
        assert_eq!(drain(&mut s, 0, &mut id).0, vec![(0, 1, 7)]);
        // Nothing before the timeout, then the same bytes.
        assert_eq!(drain(&mut s, 99 * MS, &mut id).0, vec![]);
        assert_eq!(drain(&mut s, 100 * MS, &mut id).0, vec![(0, 2, 7)]);
        // A null-id error: whichever request it was, write again at once.
        assert_ne!(Answered::NotOurs, s.on_answer(None, Err(b"{}"), 101 * MS));
        assert_eq!(drain(&mut s, 101 * MS, &mut id).0, vec![(0, 3, 7)]);
        // The second write's refusal arrives late: a newer write may be pooled, so the nonce
        // is not handed back; the newest is accepted.
        assert_eq!(
            s.on_answer(Some(2), Err(REFUSED), 102 * MS),
            Answered::Late { nonce: 0 }
        );
        assert_eq!(drain(&mut s, 102 * MS, &mut id).1, vec![]);
        let hash = accepted(7);
        assert_ne!(
            Answered::NotOurs,
            s.on_answer(Some(3), Ok(hash.as_bytes()), 103 * MS)
        );
        assert!(s.settled());
        assert_eq!(s.stats().late_answers, 1);
        assert_eq!(s.stats().hash_mismatches, 0);
        assert_eq!(s.stats().rewrites, 2);
    }

    #[test]
    fn a_stuck_next_nonce_is_replaced_paying_more_and_a_foreign_sender_is_skipped() {
        let mut s = Submissions::new(cfg(), 3);
        let mut id = 0;
        s.on_signed(&tx(3, 1), 0).unwrap();
        drain(&mut s, 0, &mut id);
        assert_ne!(Answered::NotOurs, s.on_answer(Some(1), Ok(b"\"0x00\""), MS));
        assert_eq!(s.stats().hash_mismatches, 1);
        // The confirmed count says 3 is the account's next nonce; a second later it is stuck.
        let (_, _) = drain(&mut s, 10_000 * MS, &mut id);
        assert_ne!(
            Answered::NotOurs,
            s.on_answer(Some(id), Ok(b"\"0x3\""), 10_000 * MS)
        );
        let controls = drain(&mut s, 10_001 * MS, &mut id).1;
        assert_eq!(
            controls,
            vec![Control::Replace {
                nonce: 3,
                min_max_fee: 111,
                min_tip: 12
            }]
        );
        // Someone else's transaction took nonce 3: "nonce too low" on a first write.
        let mut s = Submissions::new(cfg(), 3);
        let mut id = 0;
        s.on_signed(&tx(3, 1), 0).unwrap();
        drain(&mut s, 0, &mut id);
        assert_ne!(
            Answered::NotOurs,
            s.on_answer(Some(1), Err(br#"{"message":"nonce too low"}"#), MS)
        );
        let (_, c) = drain(&mut s, MS, &mut id);
        assert_eq!(c, vec![]);
        // It asked the pending count (id 2): the answer becomes a skip.
        assert_ne!(
            Answered::NotOurs,
            s.on_answer(Some(2), Ok(b"\"0x9\""), 2 * MS)
        );
        assert_eq!(drain(&mut s, 2 * MS, &mut id).1, vec![Control::Skip(9)]);
    }

    #[test]
    fn beyond_capacity_nothing_is_written_and_the_nonce_comes_back() {
        let mut s = Submissions::new(
            SubmitConfig {
                capacity: 2,
                ..cfg()
            },
            0,
        );
        let mut id = 0;
        s.on_signed(&tx(0, 1), 0).unwrap();
        s.on_signed(&tx(1, 2), 0).unwrap();
        assert!(s.on_signed(&tx(2, 3), 0).is_err());
        let (sent, controls) = drain(&mut s, 0, &mut id);
        assert_eq!(sent.len(), 2);
        assert_eq!(controls, vec![Control::Reuse(2)]);
        assert_eq!(s.stats().over_capacity, 1);
        // A route signed with a nonce already on its way is refused too.
        assert!(s.on_signed(&tx(1, 4), 0).is_err());
        assert_eq!(s.stats().nonce_conflicts, 1);
    }

    fn ended(s: &mut Submissions) -> Vec<(u64, u8)> {
        std::iter::from_fn(|| s.pop_ended()).collect()
    }

    fn route(nonce: u64, byte: u8) -> TxFrame {
        let mut t = tx(nonce, byte);
        t.seq = 100 + nonce;
        t
    }

    #[test]
    fn the_engine_hears_once_of_each_route_that_will_not_land_or_was_mined() {
        let hash = accepted;
        let mut s = Submissions::new(cfg(), 0);
        let mut id = 0;
        for n in 0..4 {
            s.on_signed(&route(n, n as u8 + 1), 0).unwrap();
        }
        assert_eq!(drain(&mut s, 0, &mut id).0.len(), 4);
        // 0 accepted, 1 refused, 2 "nonce too low" on its first write (another sender), 3
        // accepted.
        s.on_answer(Some(1), Ok(hash(1).as_bytes()), MS);
        s.on_answer(Some(2), Err(REFUSED), MS);
        s.on_answer(Some(3), Err(br#"{"message":"nonce too low"}"#), MS);
        s.on_answer(Some(4), Ok(hash(4).as_bytes()), MS);
        assert_eq!(
            ended(&mut s),
            vec![(101, ROUTE_DROPPED), (102, ROUTE_DROPPED)]
        );
        // A cancel replaces 3 (the node takes it): 3 will not land.
        let mut cancel = tx(3, 9);
        cancel.kind = TX_KIND_CANCEL;
        cancel.seq = 777;
        s.on_signed(&cancel, 2 * MS).unwrap();
        let (sent, _) = drain(&mut s, 2 * MS, &mut id);
        let cancel_id = sent.iter().find(|w| w.0 == 3).unwrap().1;
        s.on_answer(Some(cancel_id), Ok(hash(9).as_bytes()), 3 * MS);
        assert_eq!(ended(&mut s), vec![(103, ROUTE_DROPPED)]);
        // The count passes 0..=3 (the pending count 2's refusal asked for, then the confirmed
        // one): only 0 is news (mined); the cancel at 3 names no route.
        for t in [10_000 * MS, 20_000 * MS] {
            let before = id;
            drain(&mut s, t, &mut id);
            assert_eq!(id, before + 1, "one count asked");
            s.on_answer(Some(id), Ok(b"\"0x4\""), t);
        }
        assert_eq!(ended(&mut s), vec![(100, ROUTE_MINED)]);
        assert_eq!((s.stats().routes_dropped, s.stats().routes_mined), (3, 1));

        // Over capacity, a nonce conflict, and a reconnect before the first write: dropped.
        let mut s = Submissions::new(
            SubmitConfig {
                capacity: 2,
                ..cfg()
            },
            0,
        );
        s.on_signed(&route(0, 1), 0).unwrap();
        s.on_signed(&route(1, 2), 0).unwrap();
        assert!(s.on_signed(&route(2, 3), 0).is_err());
        let mut conflict = route(1, 5);
        conflict.seq = 555;
        assert!(s.on_signed(&conflict, 0).is_err());
        s.on_disconnect(0);
        assert_eq!(s.on_reconnect(MS), 2);
        assert_eq!(
            ended(&mut s),
            vec![
                (102, ROUTE_DROPPED),
                (555, ROUTE_DROPPED),
                (100, ROUTE_DROPPED),
                (101, ROUTE_DROPPED)
            ]
        );

        // "nonce too low" on a rewrite: our first write was mined.
        let mut s = Submissions::new(cfg(), 0);
        let mut id = 0;
        s.on_signed(&route(0, 1), 0).unwrap();
        drain(&mut s, 0, &mut id);
        drain(&mut s, 100 * MS, &mut id);
        s.on_answer(Some(2), Err(br#"{"message":"nonce too low"}"#), 101 * MS);
        assert_eq!(ended(&mut s), vec![(100, ROUTE_MINED)]);
        // Nothing more about it when the count passes it.
        let before = id;
        drain(&mut s, 20_000 * MS, &mut id);
        if id > before {
            s.on_answer(Some(id), Ok(b"\"0x1\""), 20_000 * MS);
        }
        assert_eq!(ended(&mut s), vec![]);
    }

    #[test]
    fn replacement_fees_beat_geth_and_anvil_rules() {
        for fee in [0u64, 1, 9, 10, 100, 30_000_000_000, u64::MAX] {
            let b = bump(fee);
            assert!(
                b == u64::MAX || u128::from(b) * 10 >= u128::from(fee) * 11,
                "{fee}"
            );
            assert!(b > fee || fee == u64::MAX);
        }
        assert!(is_hash(
            format!("\"0x{}\"", "aB".repeat(32)).as_bytes(),
            &[0xab; 32]
        ));
        assert!(!is_hash(b"\"0xab\"", &[0xab; 32]));
    }
}

#[cfg(test)]
mod control_layout {
    use super::*;

    #[test]
    fn an_account_control_is_the_size_the_docs_give() {
        // docs/architecture.md lists its size; a new variant field would change it.
        assert_eq!(core::mem::size_of::<AccountControl>(), 40);
    }
}
