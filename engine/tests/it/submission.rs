//! The submission state machine and the signer's nonce handling, together, against a fake node
//! (issue 6: "a nonce test with rejections, null-id errors, lost answers and reconnects").
//!
//! The fake node keeps a pool and a chain the way geth and anvil do for one account: a
//! transaction whose nonce is mined is "nonce too low", the same bytes again are "already
//! known", a different transaction for a pooled nonce replaces it only paying more. It decodes
//! every transaction it is sent with alloy (not with our code), and between it and the machine
//! a faulty wire refuses transactions, loses answers, answers with null ids, delays answers,
//! and drops the connection; the chain mines some transactions late (stuck until replaced) and
//! another sender uses the account now and then.
//!
//! After each run, with the faults stopped and time let pass: no nonce of ours was signed twice
//! while a transaction with it could still land, none was skipped (the node's count equals the
//! signer's next nonce, the pool is empty), and every transaction we signed is accounted for.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::atomic::{AtomicU64, Ordering},
};

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256};
use polyarb_core::{Hop, OpportunityFrame, ROUTE_DROPPED, TxFrame};
use polyarb_engine::{
    clock::Clock,
    submission::{
        AccountControl, Action, CountTag, Submissions, SubmitConfig, SubmitStats, bump, classify,
    },
    txbuild::{ControlOutcome, FeeBid, TxBuilder},
};
use polyarb_signer::{Signer, TxType, coupon_ring};
use polyarb_tools::SplitMix64;

const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const MS: u64 = 1_000_000;

/// A clock the test moves by hand.
#[derive(Debug)]
struct FakeClock(AtomicU64);

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// True with probability `p` percent.
fn pct(rng: &mut SplitMix64, p: u64) -> bool {
    rng.below(100) < p
}

/// Fault rates of the wire and the chain, percent.
#[derive(Clone, Copy)]
struct Faults {
    refuse: u64,
    lose_answer: u64,
    null_id: u64,
    disconnect: u64,
    stuck: u64,
    foreign: u64,
    /// A pooled transaction of ours dropped by the node (evicted).
    evict: u64,
    /// A reorg: the newest block taken back, its transactions dropped (as anvil does).
    reorg: u64,
}

const CALM: Faults = Faults {
    refuse: 0,
    lose_answer: 0,
    null_id: 0,
    disconnect: 0,
    stuck: 0,
    foreign: 0,
    evict: 0,
    reorg: 0,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mined {
    Ours(B256),
    Foreign,
}

struct PoolTx {
    hash: B256,
    max_fee: u128,
    tip: u128,
    /// Priced under what blocks take: never mined until replaced.
    stuck: bool,
}

/// One account's view of a node: chain, pool, and what it did with each of our transactions.
#[derive(Default)]
struct FakeNode {
    chain: Vec<Mined>,
    pool: BTreeMap<u64, PoolTx>,
    /// Hashes the node refused outright (never pooled).
    refused: HashSet<B256>,
    /// Hashes replaced in the pool by a later transaction of ours.
    replaced: HashSet<B256>,
    /// Broken rules, in words.
    violations: Vec<String>,
    next_id: u64,
}

/// An answer on its way back.
struct Answer {
    at: u64,
    id: Option<u64>,
    outcome: Result<Vec<u8>, Vec<u8>>,
}

fn err(msg: &str) -> Result<Vec<u8>, Vec<u8>> {
    Err(format!(r#"{{"code":-32000,"message":"{msg}"}}"#).into_bytes())
}

impl FakeNode {
    fn pending(&self) -> u64 {
        let mut n = self.chain.len() as u64;
        while self.pool.contains_key(&n) {
            n += 1;
        }
        n
    }

    /// `eth_sendRawTransaction` as geth and anvil answer it.
    fn send(
        &mut self,
        raw: &[u8],
        sender: Address,
        refuse: bool,
        stuck: bool,
    ) -> Result<Vec<u8>, Vec<u8>> {
        // The network form wraps the EIP-2718 bytes in an RLP string.
        let wrapped = alloy_rlp::encode(raw);
        let env = <TxEnvelope as alloy_rlp::Decodable>::decode(&mut wrapped.as_slice())
            .expect("our bytes decode");
        let hash = *env.tx_hash();
        let nonce = env.nonce();
        let cancel = env.to() == Some(sender) && env.input().is_empty();
        if nonce < self.chain.len() as u64 {
            return err("nonce too low");
        }
        if let Some(old) = self.pool.get(&nonce) {
            if old.hash == hash {
                return err("already known");
            }
            // A different transaction of ours for a nonce that may still land: only a
            // cancel that outbids it is allowed.
            if !cancel {
                self.violations
                    .push(format!("nonce {nonce} signed again while pooled"));
            }
            let pays_more = env.max_fee_per_gas() >= u128::from(bump(old.max_fee as u64))
                && env.max_priority_fee_per_gas().unwrap_or(0) >= u128::from(bump(old.tip as u64));
            if !pays_more {
                return err("replacement transaction underpriced");
            }
            self.replaced.insert(old.hash);
        } else if refuse {
            self.refused.insert(hash);
            return err("insufficient funds for gas * price + value");
        }
        self.pool.insert(
            nonce,
            PoolTx {
                hash,
                max_fee: env.max_fee_per_gas(),
                tip: env.max_priority_fee_per_gas().unwrap_or(0),
                stuck: stuck && !cancel,
            },
        );
        Ok(format!("\"{hash}\"").into_bytes())
    }

    /// The node forgets a pooled transaction (evicted, or its block reorged away).
    fn evict(&mut self, pick: u64) {
        if self.pool.is_empty() {
            return;
        }
        let k = *self
            .pool
            .keys()
            .nth((pick % self.pool.len() as u64) as usize)
            .unwrap();
        self.pool.remove(&k);
    }

    /// The newest block is taken back and its transactions dropped.
    fn reorg(&mut self) {
        if let Some(Mined::Ours(_)) = self.chain.last() {
            self.chain.pop();
        }
    }

    /// One block: mines our pooled transactions in nonce order (a stuck one stops the rest),
    /// or, sometimes, another sender's transaction with the account's next nonce.
    fn mine(&mut self, foreign: bool) {
        let next = self.chain.len() as u64;
        if foreign && !self.pool.contains_key(&next) {
            self.chain.push(Mined::Foreign);
            return;
        }
        for _ in 0..4 {
            let next = self.chain.len() as u64;
            match self.pool.get(&next) {
                Some(tx) if !tx.stuck => {
                    let tx = self.pool.remove(&next).expect("present");
                    self.chain.push(Mined::Ours(tx.hash));
                }
                _ => break,
            }
        }
        // What the chain passed is gone from the pool.
        let mined = self.chain.len() as u64;
        self.pool.retain(|&n, _| n >= mined);
    }
}

struct Run {
    node: FakeNode,
    subs: Submissions,
    builder: TxBuilder,
    clock: FakeClock,
    rng: SplitMix64,
    answers: Vec<Answer>,
    /// Ids the wire handed out and the request each stands for.
    sender: Address,
    /// Every transaction we signed: hash → nonce.
    signed: HashMap<B256, u64>,
    /// Hashes the machine would not write.
    not_written: HashSet<B256>,
    frame: TxFrame,
    /// Controls on their way to the signer (a ring in the real pipeline): it signs more
    /// transactions before it sees them.
    in_transit: Vec<(u64, polyarb_engine::submission::Control)>,
    /// Routes signed: opportunity seq → transaction hash.
    routes: HashMap<u64, B256>,
    /// What the machine told the engine of each route, in order: (seq, how).
    ends: Vec<(u64, u8)>,
}

fn opportunity(base_fee: u128) -> OpportunityFrame {
    let mut opp = OpportunityFrame::EMPTY;
    opp.token_in = [0x11; 20];
    opp.amount_in = 1_000;
    opp.profit = 10;
    opp.base_fee = base_fee;
    opp.gas_budget = 150_000;
    // Two hops: the executor's call takes 2 to 4.
    opp.hop_count = 2;
    opp.hops[0] = Hop {
        amount_out: 2_000,
        pool: [0x22; 20],
        ..Hop::default()
    };
    opp.hops[1] = Hop {
        amount_out: 1_010,
        pool: [0x33; 20],
        zero_for_one: 1,
        ..Hop::default()
    };
    opp
}

impl Run {
    fn new(seed: u64, capacity: usize) -> Self {
        let signer = Signer::from_hex(KEY).expect("test key");
        let sender = signer.address();
        let fees = FeeBid {
            tip_wei: 30_000_000_000,
            max_fee_multiplier: 2,
            limit_headroom_pct: 20,
        };
        let cfg = SubmitConfig {
            capacity,
            answer_timeout_ns: 50 * MS,
            fill_after_ns: 20 * MS,
            stuck_after_ns: 200 * MS,
            confirm_every_ns: 10 * MS,
        };
        Self {
            node: FakeNode::default(),
            subs: Submissions::new(cfg, 0),
            // RFC 6979 only: a seed replays the same run, signatures included.
            builder: TxBuilder::new(
                signer,
                31_337,
                0,
                Address::repeat_byte(0xEE),
                fees,
                TxType::Eip1559,
                coupon_ring(0).1,
            ),
            clock: FakeClock(AtomicU64::new(1_000 * MS)),
            rng: SplitMix64::new(seed),
            answers: Vec::new(),
            sender,
            signed: HashMap::new(),
            not_written: HashSet::new(),
            frame: TxFrame::EMPTY,
            in_transit: Vec::new(),
            routes: HashMap::new(),
            ends: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Hands the frame just signed to the machine.
    fn hand_over(&mut self) {
        let hash = B256::from(self.frame.tx_hash());
        self.signed.insert(hash, self.frame.nonce);
        if self.subs.on_signed(&self.frame, self.now()).is_err() {
            self.not_written.insert(hash);
        }
    }

    fn opportunity(&mut self) {
        let base_fee = 25_000_000_000 + u128::from(self.rng.below(1_000)) * 1_000_000;
        let mut opp = opportunity(base_fee);
        opp.seq = self.routes.len() as u64;
        // Each route its own bytes: two routes signed alike at one nonce would be one
        // transaction, and the test could not tell which of them landed.
        opp.amount_in += u128::from(opp.seq);
        self.builder
            .build(&opp, &self.clock, &mut self.frame)
            .expect("signs");
        self.routes
            .insert(opp.seq, B256::from(self.frame.tx_hash()));
        self.hand_over();
    }

    /// Does what the machine asks, through the faulty wire.
    fn drive(&mut self, f: Faults) {
        let now = self.now();
        while let Some(action) = self.subs.next_action(now, true) {
            self.node.next_id += 1;
            let id = self.node.next_id;
            let delay = self.rng.below(30) * MS;
            match action {
                Action::Send { nonce, raw } => {
                    let raw = raw.to_vec();
                    self.subs.on_written(nonce, id, now);
                    if pct(&mut self.rng, f.null_id) {
                        // The node could not read it: not executed, answered with id null.
                        self.answers.push(Answer {
                            at: now + delay,
                            id: None,
                            outcome: err("parse error"),
                        });
                        continue;
                    }
                    let (refuse, stuck) =
                        (pct(&mut self.rng, f.refuse), pct(&mut self.rng, f.stuck));
                    let outcome = self.node.send(&raw, self.sender, refuse, stuck);
                    if !pct(&mut self.rng, f.lose_answer) {
                        self.answers.push(Answer {
                            at: now + delay,
                            id: Some(id),
                            outcome,
                        });
                    }
                }
                Action::Count(tag) => {
                    self.subs.on_query_written(tag, id, now);
                    let count = match tag {
                        CountTag::Latest => self.node.chain.len() as u64,
                        CountTag::Pending => self.node.pending(),
                    };
                    if !pct(&mut self.rng, f.lose_answer) {
                        self.answers.push(Answer {
                            at: now + delay,
                            id: Some(id),
                            outcome: Ok(format!("\"{count:#x}\"").into_bytes()),
                        });
                    }
                }
                Action::Signer(c) => {
                    // Delivered a few steps later: the signer goes on signing meanwhile.
                    let at = now + self.rng.below(8) * MS;
                    self.in_transit.push((at, c));
                }
            }
        }
    }

    /// Delivers the answers due by now, in arrival order.
    fn deliver(&mut self) {
        let now = self.now();
        self.answers.sort_by_key(|a| a.at);
        let due: Vec<Answer> = self.answers.extract_if(.., |a| a.at <= now).collect();
        for a in due {
            let outcome = a.outcome.as_deref().map_err(|e| e.as_slice());
            self.subs.on_answer(a.id, outcome, now);
        }
    }

    /// The signer takes the controls that reached it, in order.
    fn signer_reads(&mut self) {
        let now = self.now();
        let due: Vec<_> = self
            .in_transit
            .extract_if(.., |(at, _)| *at <= now)
            .collect();
        for (_, c) in due {
            match self
                .builder
                .on_control(
                    AccountControl {
                        account: 0,
                        control: c,
                    },
                    &self.clock,
                    &mut self.frame,
                )
                .expect("cancel signs")
            {
                ControlOutcome::Signed { .. } => self.hand_over(),
                ControlOutcome::Reused | ControlOutcome::Skipped | ControlOutcome::AlreadyUsed => {}
            }
        }
    }

    fn step(&mut self, f: Faults, opportunities: bool) {
        let dt = self.rng.below(5) * MS + 1;
        self.clock.0.fetch_add(dt, Ordering::Relaxed);
        self.signer_reads();
        if opportunities && pct(&mut self.rng, 20) {
            // Sometimes a burst: several routes signed before any control arrives.
            for _ in 0..1 + self.rng.below(3) * u64::from(pct(&mut self.rng, 30)) {
                self.opportunity();
            }
        }
        if pct(&mut self.rng, f.disconnect) {
            // The connection drops: answers on the way are gone.
            self.answers.clear();
            self.subs.on_disconnect(self.now());
        }
        self.deliver();
        self.drive(f);
        while let Some(end) = self.subs.pop_ended() {
            self.ends.push(end);
        }
        if pct(&mut self.rng, 10) {
            let foreign = pct(&mut self.rng, f.foreign);
            self.node.mine(foreign);
        }
        if pct(&mut self.rng, f.evict) {
            let pick = self.rng.next_u64();
            self.node.evict(pick);
        }
        if pct(&mut self.rng, f.reorg) {
            self.node.reorg();
        }
    }
}

/// Runs one seed: `steps` with faults, then calm until everything settled. Returns the
/// machine's counters.
fn run(seed: u64, steps: u32, faults: Faults, capacity: usize) -> SubmitStats {
    let mut r = Run::new(seed, capacity);
    for _ in 0..steps {
        r.step(faults, true);
    }
    // Calm: no opportunities, no faults; time passes (several stuck timeouts) and blocks come.
    for _ in 0..4_000 {
        r.step(CALM, false);
        r.node.mine(false);
        if r.node.pool.is_empty()
            && r.answers.is_empty()
            && r.in_transit.is_empty()
            && r.subs.settled()
            && r.subs.window().0 == r.node.chain.len() as u64
        {
            break;
        }
    }
    let ctx = format!("seed {seed}");
    assert_eq!(r.node.violations, Vec::<String>::new(), "{ctx}");
    assert!(r.subs.settled(), "{ctx}: still settling");
    assert!(
        r.node.pool.is_empty(),
        "{ctx}: pool left {:?}; chain {}, machine window {:?}, signer next {:?} free {:?}, {:?}",
        r.node.pool.keys(),
        r.node.chain.len(),
        r.subs.window(),
        r.builder.next_nonce(0),
        r.builder.free_nonces(0),
        r.subs.stats()
    );
    let mined = r.node.chain.len() as u64;
    // None skipped: the signer continues exactly where the account is.
    assert_eq!(
        r.builder.next_nonce(0),
        Some(mined),
        "{ctx}: signer vs node"
    );
    // The machine tracks nothing below the node's count, and above it only nonces refused and
    // free for the signer's next transaction (a refusal with nothing after it leaves no gap).
    let (lo, hi) = r.subs.window();
    assert_eq!(lo, mined, "{ctx}: machine vs node");
    assert!(
        (lo..hi).all(|n| r.builder.free_nonces(0).contains(&n)),
        "{ctx}: tracked {lo}..{hi}, free {:?}",
        r.builder.free_nonces(0)
    );
    // Every transaction of ours on chain is one we signed, with its own nonce, once.
    let mut ours_mined = HashSet::new();
    for (n, m) in r.node.chain.iter().enumerate() {
        if let Mined::Ours(h) = m {
            assert_eq!(
                r.signed.get(h),
                Some(&(n as u64)),
                "{ctx}: mined {h} at {n}"
            );
            assert!(ours_mined.insert(*h), "{ctx}: {h} mined twice");
        }
    }
    // Every signed transaction is accounted for: mined, refused by the node, replaced by our
    // cancel, never written, or beaten to its nonce (mined by another or by an earlier one
    // of ours, which the node answered "nonce too low" / "underpriced").
    for (h, &n) in &r.signed {
        let landed_here = r.node.chain.get(n as usize) == Some(&Mined::Ours(*h));
        let accounted = landed_here
            || r.node.refused.contains(h)
            || r.node.replaced.contains(h)
            || r.not_written.contains(h)
            || n < mined;
        assert!(accounted, "{ctx}: {h} (nonce {n}) unaccounted for");
    }
    // The engine hears of every route exactly once, and a route it was told will not land
    // never did (its pools were freed for a new transaction).
    let mut heard = HashMap::new();
    for &(seq, how) in &r.ends {
        assert!(
            r.routes.contains_key(&seq),
            "{ctx}: a word on unknown route {seq}"
        );
        assert!(
            heard.insert(seq, how).is_none(),
            "{ctx}: route {seq} ended twice"
        );
    }
    for (seq, h) in &r.routes {
        match heard.get(seq) {
            Some(&ROUTE_DROPPED) => {
                assert!(
                    !ours_mined.contains(h),
                    "{ctx}: route {seq} dropped, yet mined"
                )
            }
            Some(_) => {}
            None => panic!("{ctx}: route {seq} never ended"),
        }
    }
    *r.subs.stats()
}

fn add(total: &mut SubmitStats, s: &SubmitStats) {
    total.signed += s.signed;
    total.accepted += s.accepted;
    total.refused += s.refused;
    total.rewrites += s.rewrites;
    total.null_id_errors += s.null_id_errors;
    total.answer_timeouts += s.answer_timeouts;
    total.fills_asked += s.fills_asked;
    total.replacements_asked += s.replacements_asked;
    total.nonce_too_low += s.nonce_too_low;
    total.over_capacity += s.over_capacity;
    total.confirmed += s.confirmed;
}

fn seeds() -> u64 {
    if std::env::var_os("POLYARB_LONG").is_some() {
        200
    } else {
        12
    }
}

#[test]
fn no_nonce_is_reused_or_skipped_under_faults() {
    let faults = Faults {
        refuse: 15,
        lose_answer: 15,
        null_id: 8,
        disconnect: 1,
        stuck: 5,
        foreign: 5,
        evict: 0,
        reorg: 1,
    };
    let mut total = SubmitStats::default();
    for seed in 0..seeds() {
        let s = run(seed, 600, faults, 64);
        add(&mut total, &s);
    }
    println!(
        "{} seeds: {} signed, {} accepted, {} refused, {} rewrites, {} null-id errors, {} answer timeouts, {} fills, {} replacements, {} nonce too low, {} over capacity, {} confirmed",
        seeds(),
        total.signed,
        total.accepted,
        total.refused,
        total.rewrites,
        total.null_id_errors,
        total.answer_timeouts,
        total.fills_asked,
        total.replacements_asked,
        total.nonce_too_low,
        total.over_capacity,
        total.confirmed
    );
    // The faults happened, so the invariants above were checked against them.
    for (what, n) in [
        ("refusals", total.refused),
        ("rewrites", total.rewrites),
        ("null-id errors", total.null_id_errors),
        ("fills", total.fills_asked),
        ("replacements", total.replacements_asked),
        ("nonce too low", total.nonce_too_low),
    ] {
        assert!(n > 0, "no {what} exercised");
    }
}

#[test]
fn a_full_table_hands_the_nonce_back_and_nothing_untracked_is_sent() {
    // Four slots, transactions never answered and never mined for a while: the fifth is
    // refused before writing and its nonce comes back for the next one.
    let mut total = SubmitStats::default();
    for seed in 0..seeds() {
        let faults = Faults {
            lose_answer: 40,
            stuck: 30,
            ..CALM
        };
        let s = run(1_000 + seed, 400, faults, 4);
        add(&mut total, &s);
    }
    assert!(total.over_capacity > 0, "the table never filled");
}

#[test]
fn node_error_texts_are_read_as_geth_and_anvil_word_them() {
    use polyarb_engine::submission::Refusal::*;
    for (text, want) in [
        (r#"{"code":-32000,"message":"already known"}"#, Known),
        (
            r#"{"code":-32003,"message":"transaction already imported"}"#,
            Known,
        ),
        (r#"{"code":-32000,"message":"nonce too low"}"#, NonceTooLow),
        (
            r#"{"code":-32003,"message":"Nonce too high"}"#,
            NonceTooHigh,
        ),
        (
            r#"{"code":-32000,"message":"replacement transaction underpriced"}"#,
            Underpriced,
        ),
        (
            r#"{"code":-32000,"message":"insufficient funds for gas * price + value"}"#,
            Refused,
        ),
        (
            r#"{"code":-32003,"message":"max fee per gas less than block base fee"}"#,
            Refused,
        ),
    ] {
        assert_eq!(classify(text.as_bytes()), want, "{text}");
    }
}
