//! `polyarb replay` on the shipped sample (`data/sample.{rec,snapshot.json,toml}`):
//! determinism, the signed transactions checked with alloy as the oracle, every opportunity's
//! amounts re-derived from the reserves the engine held, and damaged recordings.
//!
//! Nothing here is compared with a stored number: expectations come from an undamaged run of
//! the same sample, or from the test's own sequential pass of decoder and engine over it.

use std::{
    collections::HashMap,
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use alloy_consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable as _};
use alloy_primitives::{Address, I256, TxKind, U256, keccak256};
use polyarb_core::clmm::swap::{PoolState as ClState, swap};
use polyarb_core::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
use polyarb_core::{
    CALLDATA_MAX, Engine, EngineStats, FeedFrame, FrameKind, Funding, MAX_HOPS, OpportunityFrame,
    PoolKind, PoolState, encode_run, get_amount_out,
};
use polyarb_engine::{
    app::{
        AppError,
        replay::{ReplayArgs, replay},
    },
    config::{Config, ProcessEnv},
    pipeline::{FeedStats, Report, SignerStats, flag_recorded_batches},
    snapshot,
};
use polyarb_feeds::{DecodeError, Decoded, Record, RecordReader, RecordWriter};
use polyarb_tools::{DEV_ACCOUNTS, abi::RunPayload};

/// The shipped sample's folder.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// `data/sample.<ext>`.
pub fn sample(ext: &str) -> PathBuf {
    data_dir().join(format!("sample.{ext}"))
}

/// A fresh, empty folder under cargo's test tmp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What one replay produced, reduced to plain data the tests compare.
pub(crate) struct Run {
    pub(crate) reports: Vec<Report>,
    pub(crate) digest: [u8; 32],
    pub(crate) txs: u64,
    pub(crate) records: u64,
    pub(crate) record_errors: u64,
    pub(crate) feed: FeedStats,
    pub(crate) engine: EngineStats,
    pub(crate) signer: SignerStats,
}

/// Replays `recording` from the sample's snapshot and config.
fn replay_file(recording: &Path, speed: f64, txs: Option<PathBuf>) -> Result<Run, AppError> {
    replay_with(recording, speed, txs, false)
}

pub(crate) fn replay_with(
    recording: &Path,
    speed: f64,
    txs: Option<PathBuf>,
    rfc6979: bool,
) -> Result<Run, AppError> {
    let s = replay(&ReplayArgs {
        recording: recording.to_owned(),
        snapshot: sample("snapshot.json"),
        config: sample("toml"),
        opportunities: None,
        txs,
        speed,
        rfc6979,
        journal: None,
    })?;
    let o = s.outcome;
    Ok(Run {
        reports: s.reports,
        digest: o.port.digest(),
        txs: o.port.txs,
        records: o.port.records,
        record_errors: o.port.record_errors,
        feed: o.feed,
        engine: o.engine,
        signer: o.signer,
    })
}

fn replay_ok(recording: &Path, speed: f64, txs: Option<PathBuf>) -> Run {
    replay_file(recording, speed, txs).unwrap_or_else(|e| panic!("{}: {e}", recording.display()))
}

/// The sample replayed once as fast as possible, with its `--txs` file; shared by the tests.
pub(crate) fn sample_run() -> &'static (Run, PathBuf) {
    static RUN: OnceLock<(Run, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let txs = scratch("replay-sample").join("txs.hex");
        (replay_ok(&sample("rec"), 0.0, Some(txs.clone())), txs)
    })
}

/// The opportunity without its pipeline-clock timestamps (the only fields that may differ).
fn untimed(o: &OpportunityFrame) -> OpportunityFrame {
    let mut o = *o;
    o.recv_ns = 0;
    o.detect_ns = 0;
    o
}

/// Everything a report says except timestamps.
pub(crate) fn untimed_reports(
    reports: &[Report],
) -> Vec<(
    OpportunityFrame,
    Option<polyarb_engine::pipeline::SignedInfo>,
    Option<polyarb_engine::txbuild::TxBuildError>,
)> {
    // The transaction hash covers the signature, which a fresh nonce coupon makes differ run
    // to run, and so does the length (by a byte when r or s starts with a zero byte); what was
    // signed is compared through the digest.
    reports
        .iter()
        .map(|r| {
            let tx = r.tx.map(|t| polyarb_engine::pipeline::SignedInfo {
                hash: [0; 32],
                len: 0,
                ..t
            });
            (untimed(&r.opp), tx, r.error)
        })
        .collect()
}

/// The test's own sequential pass over the pristine sample: decoder and engine driven directly,
/// no pipeline, noting per record what the engine did and, at each opportunity, the reserves the
/// engine held for every hop's pool.
struct Baseline {
    records: Vec<Record>,
    /// Bytes of the file header (records start here).
    header_len: usize,
    /// Per record: a `Sync` frame, a head frame, a `Sync` the engine applied.
    sync: Vec<bool>,
    head: Vec<bool>,
    applied: Vec<bool>,
    /// Opportunities in order.
    opps: Vec<Found>,
    stats: EngineStats,
}

/// An opportunity of the sequential pass.
struct Found {
    /// Index of the record whose frame triggered it.
    record: usize,
    opp: OpportunityFrame,
    /// Each hop's pool state when the engine emitted `opp`, moved by the routes the same frame
    /// yielded before it.
    states: Vec<HopPool>,
}

/// A hop's pool as the test saw it in the engine's tables.
#[derive(Clone, Copy, Debug)]
enum HopPool {
    /// `(reserve0, reserve1)`, raw units.
    V2(u128, u128),
    /// The exact output of the hop's swap on the pool's state (its price, tick, liquidity,
    /// fee and tick window, `polyarb_core::clmm::swap`), and the ticks it crossed.
    Cl { out: u128, ticks: u32 },
}

fn baseline() -> &'static Baseline {
    static BASE: OnceLock<Baseline> = OnceLock::new();
    BASE.get_or_init(|| {
        let bytes = std::fs::read(sample("rec")).unwrap();
        let header_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
        let reader = RecordReader::new(bytes.as_slice()).unwrap();
        let records: Vec<Record> = reader
            .map(|r| r.expect("the shipped sample is undamaged"))
            .collect();

        let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
        let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
        let mut engine = Engine::new(&market, cfg.search_params()).unwrap();
        let n = records.len();
        let (mut sync, mut head, mut applied) = (vec![false; n], vec![false; n], vec![false; n]);
        let mut opps = Vec::new();
        let mut frames: Vec<FeedFrame> = records
            .iter()
            .enumerate()
            .map(
                |(i, rec)| match polyarb_feeds::decode(&rec.payload, rec.recv_ns) {
                    Ok(Decoded::Frame(f)) => f,
                    other => panic!("record {i} of the sample is not a frame: {other:?}"),
                },
            )
            .collect();
        // Batches as the pipeline's feed stage forms them from the recording.
        let quiet_ns = cfg.node.batch_quiet_ns();
        let recv: Vec<u64> = records.iter().map(|r| r.recv_ns).collect();
        flag_recorded_batches(&mut frames, &recv, quiet_ns);
        let addresses: Vec<Address> = market.pools.iter().map(|p| p.address).collect();
        for (i, frame) in frames.iter().enumerate() {
            sync[i] = frame.kind == FrameKind::V2Sync;
            head[i] = frame.kind == FrameKind::NewHead;
            let before = engine.stats().applied;
            // Pools a pending route holds are priced at the state it leaves them in, unless
            // this frame's own log (from a later block) releases the hold or its block expires
            // it.
            let own = Address::from(frame.address);
            let mut held_v2: HashMap<Address, (u128, u128)> = HashMap::new();
            let mut held_cl: HashMap<Address, ClState> = HashMap::new();
            for a in &addresses {
                let released = engine.held_span(a).is_some_and(|(made_at, until)| {
                    (*a == own && frame.block_number > made_at) || frame.block_number >= until
                });
                if released {
                    continue;
                }
                if let Some(r) = engine.held_reserves(a) {
                    held_v2.insert(*a, r);
                }
                if let Some(s) = engine.held_cl_state(a) {
                    held_cl.insert(*a, s);
                }
            }
            let routes = engine.on_frame(frame).to_vec();
            // Later routes of one frame are priced as if the earlier ones had executed: move
            // the pools the test's own way (a V2 pair takes the input and gives the output; a
            // concentrated pool ends where its exact swap ends) before checking them.
            let mut moved = held_v2;
            let mut moved_cl = held_cl;
            for opp in routes {
                let mut states = Vec::new();
                let mut amount = opp.amount_in;
                for h in opp.hops() {
                    let a = Address::from(h.pool);
                    let zfo = h.zero_for_one == 1;
                    if h.kind == PoolKind::UniswapV2 as u8 {
                        let (r0, r1) = moved
                            .get(&a)
                            .copied()
                            .unwrap_or_else(|| engine.pool_reserves(&a).unwrap());
                        states.push(HopPool::V2(r0, r1));
                        let after = if zfo {
                            (r0 + amount, r1 - h.amount_out)
                        } else {
                            (r0 - h.amount_out, r1 + amount)
                        };
                        moved.insert(a, after);
                    } else {
                        let pools = engine.pools();
                        let view = pools.cl(pools.id(&a).unwrap()).unwrap();
                        let state = moved_cl.get(&a).copied().unwrap_or(view.state);
                        let limit = if zfo {
                            MIN_SQRT_RATIO + U256::from(1u8)
                        } else {
                            MAX_SQRT_RATIO - U256::from(1u8)
                        };
                        let r = swap(
                            view.kind,
                            &state,
                            &view.ticks,
                            zfo,
                            I256::try_from(amount).unwrap(),
                            limit,
                        )
                        .unwrap_or_else(|e| panic!("record {i}: the hop's swap fails: {e}"));
                        let got = if zfo { r.amount1 } else { r.amount0 };
                        states.push(HopPool::Cl {
                            out: u128::try_from(got.unsigned_abs()).unwrap(),
                            ticks: r.ticks_crossed,
                        });
                        moved_cl.insert(
                            a,
                            ClState {
                                sqrt_price_x96: r.sqrt_price_x96,
                                tick: r.tick,
                                liquidity: r.liquidity,
                                tick_spacing: state.tick_spacing,
                            },
                        );
                    }
                    amount = h.amount_out;
                }
                opps.push(Found {
                    record: i,
                    opp,
                    states,
                });
            }
            applied[i] = engine.stats().applied > before;
        }
        Baseline {
            records,
            header_len,
            sync,
            head,
            applied,
            opps,
            stats: *engine.stats(),
        }
    })
}

impl Baseline {
    /// File offset of record `i`'s marker.
    fn offset(&self, i: usize) -> usize {
        self.header_len
            + self.records[..i]
                .iter()
                .map(|r| 20 + r.payload.len())
                .sum::<usize>()
    }

    /// A `Sync` the engine applied, about half way through: the record the damage tests break.
    fn victim(&self) -> usize {
        let k = (self.records.len() / 2..self.records.len())
            .find(|&i| self.sync[i] && self.applied[i])
            .expect("an applied Sync in the second half of the sample");
        assert!(
            self.opps.iter().any(|f| f.record > k),
            "opportunities after the damage, to show processing went on"
        );
        k
    }

    /// Counts over the records whose index is in `dropped`.
    fn count(&self, flags: &[bool], dropped: &[usize]) -> u64 {
        dropped.iter().filter(|&&i| flags[i]).count() as u64
    }
}

#[test]
fn replaying_the_sample_is_deterministic() {
    let (first, _) = sample_run();
    assert!(
        !first.reports.is_empty(),
        "the sample must yield opportunities"
    );
    assert!(first.txs > 0 && first.txs == first.signer.signed);
    assert_eq!(first.signer.reports_dropped, 0);

    let again = replay_ok(&sample("rec"), 0.0, None);
    assert_eq!(
        untimed_reports(&again.reports),
        untimed_reports(&first.reports)
    );
    assert_eq!(again.digest, first.digest, "signed transactions differ");
    assert_eq!(again.engine, first.engine);
    // Signed with nonce coupons (fresh random nonces), so the signatures, and with them the
    // transaction hashes, differ between the runs while what was signed does not.
    assert!(first.signer.coupons.used > 0, "{:?}", first.signer.coupons);
    let hashes = |r: &Run| -> Vec<[u8; 32]> {
        r.reports
            .iter()
            .filter_map(|r| r.tx.map(|t| t.hash))
            .collect()
    };
    let (a, b) = (hashes(first), hashes(&again));
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(&b).all(|(x, y)| x != y),
        "a signature repeated across runs: a nonce was reused"
    );

    // Paced delivery changes when payloads arrive, never what is found or signed.
    let paced = replay_ok(&sample("rec"), 50.0, None);
    assert_eq!(
        untimed_reports(&paced.reports),
        untimed_reports(&first.reports)
    );
    assert_eq!(paced.digest, first.digest, "paced run signed other bytes");
    assert_eq!(paced.txs, first.txs);
}

/// Decodes one `--txs` line with alloy from its canonical network form (an RLP string wrapping
/// the EIP-2718 bytes), and checks alloy re-encodes it to the same bytes.
fn decode_tx(line: &str) -> (Vec<u8>, TxEnvelope) {
    let hex = line.strip_prefix("0x").expect("0x prefix");
    let raw = alloy_primitives::hex::decode(hex).expect("hex");
    let wrapped = alloy_rlp::encode(raw.as_slice());
    let mut buf = wrapped.as_slice();
    let env = <TxEnvelope as alloy_rlp::Decodable>::decode(&mut buf)
        .unwrap_or_else(|e| panic!("alloy cannot decode {line}: {e}"));
    assert!(buf.is_empty(), "trailing bytes after the envelope");
    assert_eq!(
        alloy_rlp::encode(&env),
        wrapped,
        "alloy re-encodes other bytes"
    );
    (raw, env)
}

/// The chain is the oracle for the Algebra fee model: every `Fee` log in the sample is a fee a
/// real pool computed at its first timepoint write of a block. Replaying the sample, every one
/// must be the fee the engine's model computed for that write, and, where the engine had last
/// seen the block right before (so it had quoted the pool for exactly that block's time), the
/// fee the search was pricing the pool at.
#[test]
fn algebra_quotes_are_the_fees_the_pools_then_set() {
    let bytes = std::fs::read(sample("rec")).unwrap();
    let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
    let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
    let modelled = market
        .pools
        .iter()
        .filter(|p| matches!(&p.state, PoolState::Algebra(s) if s.fee_model.is_some()))
        .count();
    let algebra = market
        .pools
        .iter()
        .filter(|p| p.kind() == PoolKind::Algebra)
        .count();
    assert!(algebra > 0);
    assert_eq!(
        modelled, algebra,
        "the sample snapshot carries every Algebra pool's fee state"
    );
    let params = cfg.search_params();
    let step = params.block_time_s;
    let mut engine = Engine::new(&market, params).unwrap();
    let (mut fee_logs, mut quoted, mut distinct) = (0u64, 0u64, 0u64);
    for rec in RecordReader::new(bytes.as_slice()).unwrap() {
        let rec = rec.unwrap();
        let Ok(Decoded::Frame(f)) = polyarb_feeds::decode(&rec.payload, rec.recv_ns) else {
            panic!("the sample decodes");
        };
        if f.kind == FrameKind::AlgebraFee && f.block_number > market.block && f.removed == 0 {
            fee_logs += 1;
            let pools = engine.pools();
            let id = pools.id(&Address::from(f.address)).unwrap();
            let fee = f.word_u128(0).unwrap();
            // Quoted for this block's time: the engine's newest block is the one before.
            let now = engine.block_time();
            if now != 0 && u64::from(now + step) == f.block_time {
                let quote = pools.quote_fee(id).unwrap();
                assert_eq!(
                    u128::from(quote),
                    fee,
                    "block {} log {}: the search priced {} at {quote} pips, the pool set {fee}",
                    f.block_number,
                    f.log_index,
                    Address::from(f.address)
                );
                quoted += 1;
                if u128::from(pools.fee_pips(id).unwrap()) != fee {
                    distinct += 1;
                }
            }
        }
        let _ = engine.on_frame(&f);
    }
    let s = engine.stats();
    assert_eq!(s.fee_models_lost, 0, "{s:?}");
    assert_eq!(
        s.fee_checked, fee_logs,
        "every write replayed and matched: {s:?}"
    );
    assert!(
        quoted > 0 && distinct > 0,
        "the sample exercises the quote: {quoted}, {distinct}"
    );
}

#[test]
fn every_signed_tx_is_the_opportunitys_executor_call() {
    let (run, txs_path) = sample_run();
    let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
    let rcfg = cfg.replay.clone().expect("[replay] in the sample config");
    let key = rcfg.key.as_deref().expect("[replay].key");
    // The sender, known independently of polyarb's signer: the key is a public anvil dev key.
    let sender = DEV_ACCOUNTS
        .iter()
        .find(|(_, k)| k.eq_ignore_ascii_case(key))
        .map(|(a, _)| *a)
        .expect("the sample signs with an anvil dev key");
    let executor = cfg.executor().unwrap();
    let fees = cfg.fee_bid();

    let text = std::fs::read_to_string(txs_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let signed: Vec<&Report> = run.reports.iter().filter(|r| r.tx.is_some()).collect();
    assert_eq!(lines.len() as u64, run.txs);
    assert_eq!(lines.len(), signed.len(), "one line per signed report");
    assert!(!lines.is_empty());

    let mut buf = [0u8; CALLDATA_MAX];
    for (i, (line, report)) in lines.iter().zip(&signed).enumerate() {
        let (raw, env) = decode_tx(line);
        let info = report.tx.unwrap();
        let opp = &report.opp;
        let TxEnvelope::Eip1559(stx) = &env else {
            panic!("tx {i} is not type 2: {env:?}");
        };
        assert_eq!(raw[0], 2, "EIP-2718 type byte");
        assert_eq!(*stx.hash(), keccak256(&raw));
        assert_eq!(stx.hash().0, info.hash, "report names another hash");
        assert_eq!(raw.len(), info.len as usize);

        let tx = stx.tx();
        assert_eq!(tx.chain_id, 137);
        assert_eq!(tx.chain_id, rcfg.chain_id);
        assert_eq!(tx.nonce, rcfg.nonce + i as u64, "nonces are consecutive");
        assert_eq!(tx.nonce, info.nonce);
        assert_eq!(tx.to, TxKind::Call(executor));
        assert_eq!(tx.value, U256::ZERO);
        assert!(tx.access_list.is_empty());
        assert_eq!(tx.gas_limit, fees.gas_limit(opp.gas_budget));
        assert!(tx.gas_limit >= u64::from(opp.gas_budget));
        assert_eq!(tx.max_priority_fee_per_gas, fees.tip_wei);
        assert_eq!(
            tx.max_fee_per_gas,
            opp.base_fee * u128::from(fees.max_fee_multiplier) + fees.tip_wei
        );
        assert_eq!(env.recover_signer().unwrap(), sender, "tx {i} signer");

        let n = encode_run(opp, opp.profit, &mut buf).unwrap();
        assert_eq!(env.input().as_ref(), &buf[..n], "tx {i} calldata");
        // And what that calldata means, read back with the tools' independent decoder.
        let call = RunPayload::decode(env.input()).unwrap();
        assert_eq!(call.funding, opp.funding);
        assert_eq!(call.token_in, Address::from(opp.token_in));
        assert_eq!(call.amount_in, opp.amount_in);
        assert_eq!(call.min_profit, opp.profit);
        assert_eq!(call.hops.len(), 37 * opp.hops().len());
        for (h, packed) in opp.hops().iter().zip(call.hops.chunks(37)) {
            assert_eq!(packed[..20], h.pool);
            assert_eq!(packed[20], h.zero_for_one | h.kind << 1);
            assert_eq!(packed[21..], h.amount_out.to_be_bytes());
        }
    }
}

/// `--rfc6979`: every transaction of the replay is byte for byte what alloy's signer makes of
/// the same fields, so the `--txs` file is the same on every run.
#[test]
fn an_rfc6979_replay_signs_exactly_what_alloy_signs() {
    let dir = scratch("replay-rfc6979");
    let txs = dir.join("txs.hex");
    let run = replay_with(&sample("rec"), 0.0, Some(txs.clone()), true).unwrap();
    assert_eq!(run.signer.coupons.used, 0);
    assert_eq!(run.signer.coupons.fallbacks, run.signer.signed);
    assert_eq!(
        run.digest,
        sample_run().0.digest,
        "the same transactions as with coupons"
    );
    let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
    let key = cfg.replay.and_then(|r| r.key).expect("[replay].key");
    let alloy: alloy_signer_local::PrivateKeySigner = key.parse().unwrap();
    let text = std::fs::read_to_string(&txs).unwrap();
    assert_eq!(text.lines().count() as u64, run.txs);
    for (i, line) in text.lines().enumerate() {
        let (raw, env) = decode_tx(line);
        let TxEnvelope::Eip1559(stx) = env else {
            panic!("tx {i} is not type 2");
        };
        let mut tx = stx.tx().clone();
        use alloy_consensus::SignableTransaction as _;
        let sig = alloy_network::TxSignerSync::sign_transaction_sync(&alloy, &mut tx).unwrap();
        let mut want = Vec::new();
        alloy_network::eip2718::Encodable2718::encode_2718(&tx.into_signed(sig), &mut want);
        assert_eq!(raw, want, "tx {i}");
    }
}

#[test]
fn opportunity_amounts_are_exact_at_the_engines_reserves() {
    let base = baseline();
    let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
    // pair → (token0, token1, fee in pips), from the snapshot rather than the engine.
    let pools: HashMap<Address, (Address, Address, u32)> = market
        .pools
        .iter()
        .map(|p| (p.address, (p.token0, p.token1, p.fee_pips)))
        .collect();

    let mut hop_counts = [0usize; MAX_HOPS + 1];
    let mut kinds = [0usize; 3];
    let mut crossed = 0;
    for Found {
        record: i,
        opp,
        states,
    } in &base.opps
    {
        let token_in = Address::from(opp.token_in);
        let mut at = token_in;
        let mut amount = opp.amount_in;
        assert!(amount > 0, "record {i}: zero input");
        for (h, state) in opp.hops().iter().zip(states) {
            let (t0, t1, fee) = pools[&Address::from(h.pool)];
            let next = match h.zero_for_one {
                1 => {
                    assert_eq!(t0, at, "record {i}: hop input is not token0");
                    t1
                }
                0 => {
                    assert_eq!(t1, at, "record {i}: hop input is not token1");
                    t0
                }
                d => panic!("record {i}: direction {d}"),
            };
            let out = match *state {
                HopPool::V2(r0, r1) => {
                    let (r_in, r_out) = if h.zero_for_one == 1 {
                        (r0, r1)
                    } else {
                        (r1, r0)
                    };
                    let out = get_amount_out(amount, r_in, r_out, fee);
                    assert!(out > 0 && out < r_out);
                    out
                }
                HopPool::Cl { out, ticks } => {
                    assert_eq!(
                        u32::from(h.ticks_crossed),
                        ticks,
                        "record {i}: ticks crossed"
                    );
                    crossed += usize::from(ticks > 0);
                    out
                }
            };
            assert_eq!(h.amount_out, out, "record {i}: hop output");
            kinds[usize::from(h.kind)] += 1;
            amount = out;
            at = next;
        }
        assert_eq!(at, token_in, "record {i}: route does not close");
        assert!(amount > opp.amount_in, "record {i}: not profitable");
        assert_eq!(
            opp.profit,
            amount - opp.amount_in - opp.premium,
            "record {i}: profit net of the lender's premium"
        );
        hop_counts[opp.hops().len()] += 1;
    }
    assert!(
        hop_counts[2] > 0 && hop_counts[3] > 0 && hop_counts[4] > 0,
        "the sample should exercise 2-, 3- and 4-hop routes: {hop_counts:?}"
    );
    assert!(
        kinds.iter().all(|&n| n > 0) && crossed > 0,
        "the sample should route through every pool kind and cross ticks: {kinds:?}, {crossed}"
    );

    // The pipeline found exactly what the sequential pass found.
    let (run, _) = sample_run();
    let direct: Vec<OpportunityFrame> = base.opps.iter().map(|f| untimed(&f.opp)).collect();
    let piped: Vec<OpportunityFrame> = run.reports.iter().map(|r| untimed(&r.opp)).collect();
    assert_eq!(piped, direct);
    assert_eq!(run.engine, base.stats);
    assert_eq!(run.records, base.records.len() as u64);
    assert_eq!(run.record_errors, 0);
    assert_eq!(run.feed.decode_errors, 0);
}

/// Copies the sample into `dir` as `name`, lets `damage` edit the bytes, and replays it.
fn replay_damaged(name: &str, damage: impl FnOnce(&mut Vec<u8>)) -> Run {
    let dir = scratch(&format!("replay-damage-{name}"));
    let path = dir.join("sample.rec");
    let mut bytes = std::fs::read(sample("rec")).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    replay_ok(&path, 0.0, None)
}

/// A replay that lost exactly the records `dropped` (reported as `errors` damaged stretches)
/// read every other record, and found the same opportunities up to the damage.
fn assert_lost_only(run: &Run, dropped: &[usize], errors: u64) {
    let base = baseline();
    let n = base.records.len() as u64;
    let lost = dropped.len() as u64;
    assert_eq!(run.record_errors, errors, "damaged stretches reported");
    assert_eq!(run.records, n - lost, "records read");
    assert_eq!(run.feed.payloads, n - lost);
    assert_eq!(run.feed.decode_errors, 0);
    assert_eq!(run.engine.frames, base.stats.frames - lost);
    assert_eq!(
        run.engine.syncs,
        base.stats.syncs - base.count(&base.sync, dropped)
    );
    assert_eq!(
        run.engine.heads,
        base.stats.heads - base.count(&base.head, dropped)
    );
    assert_eq!(
        run.engine.applied,
        base.stats.applied - base.count(&base.applied, dropped),
        "every good Sync after the damage was applied"
    );
    let first = dropped.iter().copied().min().unwrap();
    let before: Vec<OpportunityFrame> = base
        .opps
        .iter()
        .filter(|f| f.record < first)
        .map(|f| untimed(&f.opp))
        .collect();
    let got: Vec<OpportunityFrame> = run.reports.iter().map(|r| untimed(&r.opp)).collect();
    assert!(got.len() >= before.len());
    assert_eq!(got[..before.len()], before[..]);
}

#[test]
fn truncated_recording_replays_everything_before_the_cut() {
    let base = baseline();
    let k = base.victim();
    let cut = base.offset(k) + 20 + base.records[k].payload.len() / 2;
    let run = replay_damaged("truncated", |b| b.truncate(cut));
    let dropped: Vec<usize> = (k..base.records.len()).collect();
    assert_lost_only(&run, &dropped, 1);
    // Nothing after the cut exists, so the opportunities are the undamaged prefix, plus those of
    // one last search: the end of input ends the batch the cut fell in, at its last whole
    // record, which the undamaged replay searched later, after the rest of that batch.
    let want = base.opps.iter().filter(|f| f.record < k).count();
    let last = polyarb_feeds::decode(&base.records[k - 1].payload, 0).unwrap();
    let last_block = last.frame().unwrap().block_number;
    for r in &run.reports[want..] {
        assert_eq!(
            r.opp.block_number, last_block,
            "an opportunity beyond the prefix comes from the cut batch"
        );
    }
}

#[test]
fn flipped_payload_bytes_cost_only_that_record() {
    let base = baseline();
    let k = base.victim();
    let at = base.offset(k) + 20 + base.records[k].payload.len() / 2;
    let run = replay_damaged("flipped", |b| {
        for x in &mut b[at..at + 3] {
            *x ^= 0x5A;
        }
    });
    assert_lost_only(&run, &[k], 1);
}

#[test]
fn bad_record_lengths_cost_only_that_record() {
    let base = baseline();
    let k = base.victim();
    let len_at = base.offset(k) + 12;
    let len = base.records[k].payload.len() as u32;
    // Over the format's limit; a little long (runs into the next record); a little short.
    for (name, bad) in [
        ("huge", u32::MAX - 1),
        ("long", len + 7),
        ("short", len - 3),
    ] {
        let run = replay_damaged(&format!("length-{name}"), |b| {
            b[len_at..len_at + 4].copy_from_slice(&bad.to_le_bytes());
        });
        assert_lost_only(&run, &[k], 1);
    }
}

/// A sample `Sync` notification with its log's `address` and/or `data` replaced.
fn edited_sync(payload: &[u8], address: Option<&str>, data: Option<String>) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    let log = &mut v["params"]["result"];
    assert!(log.get("topics").is_some(), "a log notification");
    if let Some(a) = address {
        log["address"] = a.into();
    }
    if let Some(d) = data {
        log["data"] = d.into();
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn garbage_records_are_counted_and_the_rest_replays_unchanged() {
    let base = baseline();
    let k = base.victim();
    let template = &base.records[k].payload;
    let log: serde_json::Value = serde_json::from_slice(template).unwrap();
    let data = log["params"]["result"]["data"].as_str().unwrap().to_owned();
    // reserve0 = 2^112, one past uint112; reserve1 as it was.
    let oversize = format!("0x{:064x}{}", 1u128 << 112, &data[2 + 64..]);

    let garbage: Vec<Vec<u8>> = vec![
        // Binary, with the record marker inside a valid record: a reader must not resync on it.
        b"\xFF\xA5\x52\x43\x00\x01 not json \xFE".to_vec(),
        br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"result":{"address":"#.to_vec(),
        edited_sync(
            template,
            Some("0x1111111111111111111111111111111111111111"),
            None,
        ),
        edited_sync(template, None, Some(oversize)),
    ];
    // The decoder itself refuses reserves above uint112, before the engine sees them.
    assert_eq!(
        polyarb_feeds::decode(&garbage[3], 0),
        Err(DecodeError::ValueTooLarge("data"))
    );

    let dir = scratch("replay-garbage");
    let path = dir.join("garbage.rec");
    let header = RecordReader::new(File::open(sample("rec")).unwrap())
        .unwrap()
        .header()
        .clone();
    let mut w = RecordWriter::new(
        BufWriter::new(File::create(&path).unwrap()),
        header.created_unix_ns,
        &header.source,
    )
    .unwrap();
    for (i, r) in base.records.iter().enumerate() {
        if i == k {
            for g in &garbage {
                w.write(r.recv_ns, g).unwrap();
            }
        }
        w.write(r.recv_ns, &r.payload).unwrap();
    }
    w.into_inner().unwrap();

    let run = replay_ok(&path, 0.0, None);
    let n = base.records.len() as u64;
    assert_eq!(run.record_errors, 0, "the garbage is in valid records");
    assert_eq!(run.records, n + 4);
    assert_eq!(run.feed.payloads, n + 4);
    assert_eq!(run.feed.decode_errors, 3, "non-JSON, malformed, oversize");
    assert_eq!(run.feed.frames, n + 1);
    let mut want = base.stats;
    want.frames += 1;
    want.syncs += 1;
    want.unknown_pool += 1;
    assert_eq!(
        run.engine, want,
        "only the unknown pool's Sync reached the engine"
    );
    assert_eq!(
        untimed_reports(&run.reports),
        untimed_reports(&sample_run().0.reports),
        "the good records replay exactly as without the garbage"
    );
}

#[test]
fn wrong_magic_version_or_empty_file_is_a_clear_error() {
    let dir = scratch("replay-header");
    let good = std::fs::read(sample("rec")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "magic",
            [b"GIF89a\r\n".as_slice(), &good[8..]].concat(),
            "magic",
        ),
        (
            "version",
            [&good[..8], &2u16.to_le_bytes(), &good[10..]].concat(),
            "version 2",
        ),
        ("empty", Vec::new(), "header"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(format!("{name}.rec"));
        std::fs::write(&path, bytes).unwrap();
        match replay_file(&path, 0.0, None) {
            Err(e @ AppError::Recording { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&*path.to_string_lossy()), "{name}: {msg}");
                assert!(msg.contains(says), "{name}: {msg}");
            }
            Err(e) => panic!("{name}: wrong kind of error: {e}"),
            Ok(run) => panic!("{name}: replayed {} records", run.records),
        }
    }
}

/// The shipped sample's config allows every source its world deployed, and its replay uses each
/// of them. Every borrowed input fits what its lender held at the snapshot and pays exactly the
/// lender's premium (each rule written out here); a flash swap's first pool is on a DEX that may
/// front one; an own-capital input never exceeds the capital. A route left at its capital while
/// a source could lend more is one whose borrowing would cost more than it earns (the engine
/// sizes every allowed source and keeps the best: `engine/core/tests/funding.rs`); the sample
/// has one, listed here so a change shows.
#[test]
fn the_sample_uses_every_funding_source_within_what_each_can_lend() {
    let (run, _) = sample_run();
    let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
    let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
    assert_eq!(
        cfg.funding.sources,
        [
            Funding::Capital,
            Funding::FlashSwap,
            Funding::Balancer,
            Funding::Aave
        ]
    );
    let capital = |t: &Address| {
        market
            .capital
            .iter()
            .find(|c| c.token == *t)
            .map(|c| c.amount)
    };
    let lender = |f: Funding, t: &Address| {
        market
            .lenders
            .iter()
            .find(|l| l.funding == f && l.token == *t)
            .map(|l| (l.available, l.fee))
    };
    let no_flash: Vec<[u8; 20]> = cfg
        .dexes
        .iter()
        .filter(|d| d.flash_swap == Some(false))
        .flat_map(|d| {
            market
                .pools
                .iter()
                .filter(|p| market.dexes[usize::from(p.dex)].factory == d.factory)
                .map(|p| p.address.into_array())
        })
        .collect();
    let mut used = [0u64; 4];
    let mut capped = Vec::new();
    for r in &run.reports {
        let o = &r.opp;
        let token = Address::from(o.token_in);
        let f = Funding::from_u8(o.funding).expect("a funding source");
        used[f as usize] += 1;
        let last = o.hops()[o.hops().len() - 1].amount_out;
        assert_eq!(o.profit + o.amount_in + o.premium, last, "#{}", o.seq);
        match f {
            Funding::Capital => {
                let cap = capital(&token).expect("capital listed");
                assert!(o.amount_in <= cap, "#{} above its capital", o.seq);
                assert_eq!(o.premium, 0);
                let could_lend = !no_flash.contains(&o.hops()[0].pool)
                    || [Funding::Balancer, Funding::Aave]
                        .into_iter()
                        .any(|l| lender(l, &token).is_some_and(|(a, _)| a > cap));
                if o.amount_in == cap && could_lend {
                    capped.push(o.seq);
                }
            }
            Funding::FlashSwap => {
                assert!(!no_flash.contains(&o.hops()[0].pool), "#{}", o.seq);
                assert_eq!(o.premium, 0);
            }
            Funding::Balancer => {
                let (available, fee) = lender(f, &token).expect("a Balancer offer");
                assert!(o.amount_in <= available, "#{} above the Vault's", o.seq);
                // FixedPoint.mulUp.
                let product = o.amount_in * u128::from(fee);
                let want = if product == 0 {
                    0
                } else {
                    (product - 1) / 10u128.pow(18) + 1
                };
                assert_eq!(o.premium, want, "#{}", o.seq);
            }
            Funding::Aave => {
                let (available, bps) = lender(f, &token).expect("an Aave offer");
                assert!(o.amount_in <= available, "#{} above the aToken's", o.seq);
                // PercentageMath.percentMul, half up.
                assert_eq!(
                    o.premium,
                    (o.amount_in * u128::from(bps) + 5_000) / 10_000,
                    "#{}",
                    o.seq
                );
                assert!(o.premium > 0);
            }
        }
    }
    assert!(used.iter().all(|&n| n > 0), "funding split {used:?}");
    assert_eq!(used, run.engine.funded, "the engine's own split");
    assert_eq!(
        capped,
        [350],
        "routes left at their capital while a source could lend"
    );
}
