//! Reorgs (docs/engine.md, "Reorgs") injected into the shipped sample: at points through it,
//! one to five of the sample's blocks are first delivered as a different chain (every Sync's
//! reserves, every Swap's price and tick moved, the heads' base fees and hashes changed; the
//! Mints, Burns and `Fee` logs kept, so the Algebra pools' models may fail on them), then that
//! chain is taken back and the sample's own blocks delivered. The oracle is an engine fed the
//! sample only: after each reorg and its replacement blocks every pool equals it (V2 reserves;
//! price, tick, liquidity and tick table; fee, quoted fee, staleness, position; the fee model's
//! export and volume), and so do the export and the clock.
//!
//! Two ways a node shows the reorg: removed logs (the dropped chain's logs again with
//! `removed: true`, in either order), and block hashes only (heads with `hash`/`parentHash`,
//! logs with their `blockHash` tag, as the decoder is to put them in the frames; read here from
//! the recording's JSON).

use std::ops::Range;
use std::sync::OnceLock;

use alloy_primitives::{Address, U256};
use polyarb_core::clmm::swap::PoolState as ClState;
use polyarb_core::clmm::tick_math::sqrt_ratio_at_tick;
use polyarb_core::{
    AlgebraFeeSpec, Engine, FLAG_MORE_IN_BATCH, FeedFrame, FrameKind, MarketSpec, SearchParams,
    Staleness, block_tag,
};
use polyarb_engine::config::{Config, ProcessEnv};
use polyarb_engine::pipeline::flag_recorded_batches;
use polyarb_engine::snapshot;
use polyarb_feeds::{Decoded, RecordReader};

use crate::replay::sample;

/// The sample's market, parameters and frames (batched as the feed stage batches them), with
/// each frame's block hashes from the recording: a head's `(hash, parentHash)`, a log's
/// `(blockHash, 0)`.
struct Sample {
    market: MarketSpec,
    params: SearchParams,
    frames: Vec<FeedFrame>,
    hashes: Vec<([u8; 32], [u8; 32])>,
    /// Frames by block, in order.
    blocks: Vec<Range<usize>>,
}

fn hash(v: &serde_json::Value, key: &str) -> [u8; 32] {
    let s = v[key].as_str().unwrap_or("0x");
    let mut out = [0u8; 32];
    if let Ok(b) = alloy_primitives::hex::decode(s)
        && b.len() == 32
    {
        out.copy_from_slice(&b);
    }
    out
}

fn load() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let bytes = std::fs::read(sample("rec")).unwrap();
        let records: Vec<_> = RecordReader::new(bytes.as_slice())
            .unwrap()
            .map(|r| r.expect("the shipped sample is undamaged"))
            .collect();
        let mut frames = Vec::new();
        let mut hashes = Vec::new();
        for r in &records {
            match polyarb_feeds::decode(&r.payload, r.recv_ns).unwrap() {
                Decoded::Frame(f) => frames.push(f),
                other => panic!("not a frame: {other:?}"),
            }
            let json: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            let res = &json["params"]["result"];
            hashes.push(if res.get("parentHash").is_some() {
                (hash(res, "hash"), hash(res, "parentHash"))
            } else {
                (hash(res, "blockHash"), [0; 32])
            });
        }
        let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
        let quiet_ns = cfg.node.batch_quiet_ns();
        let recv: Vec<u64> = records.iter().map(|r| r.recv_ns).collect();
        flag_recorded_batches(&mut frames, &recv, quiet_ns);
        let mut blocks: Vec<Range<usize>> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            match blocks.last_mut() {
                Some(r) if frames[r.start].block_number == f.block_number => r.end = i + 1,
                _ => blocks.push(i..i + 1),
            }
        }

        let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
        Sample {
            market,
            params: cfg.search_params(),
            frames,
            hashes,
            blocks,
        }
    })
}

/// The frames with the block hashes a decoder that reads them puts in: a head's hash and parent
/// in `words[2]`, `words[3]`, a log's tag in `block_tag`.
fn with_hashes(s: &Sample) -> Vec<FeedFrame> {
    s.frames
        .iter()
        .zip(&s.hashes)
        .map(|(f, (h, parent))| {
            let mut f = *f;
            if f.kind == FrameKind::NewHead {
                f.words[2] = *h;
                f.words[3] = *parent;
            } else {
                f.block_tag = block_tag(h);
            }
            f
        })
        .collect()
}

/// Another block at the same height as `frames`' block: every state-carrying log moved, the
/// rest kept (a `Fee` its lowest bit flipped if `wrong_fee`); another hash (and another parent hash,
/// but for the first block of the other chain).
fn orphan(frames: &[FeedFrame], first: bool, wrong_fee: bool, e: &Engine) -> Vec<FeedFrame> {
    frames
        .iter()
        .map(|f| {
            let mut f = *f;
            // Another hash where there is one.
            let flip = |h: &mut [u8; 32]| {
                if *h != [0; 32] {
                    h[0] ^= 0xa5;
                }
            };
            match f.kind {
                FrameKind::NewHead => {
                    let fee = U256::from_be_bytes(f.words[0]) + U256::from(1_000u32);
                    f.words[0] = fee.to_be_bytes();
                    flip(&mut f.words[2]);
                    if !first {
                        flip(&mut f.words[3]);
                    }
                }
                FrameKind::AlgebraFee if wrong_fee => {
                    let fee = U256::from_be_bytes(f.words[0]);
                    f.words[0] = (fee ^ U256::from(1u8)).to_be_bytes();
                }
                FrameKind::V2Sync => {
                    for w in 0..2 {
                        let r = U256::from_be_bytes(f.words[w]);
                        f.words[w] = (r - r / U256::from(97u8)).to_be_bytes();
                    }
                }
                FrameKind::ClSwap => {
                    // A tick the pool's window holds, near the real one.
                    let pools = e.pools();
                    let id = pools.id(&Address::from(f.address)).unwrap();
                    let spacing = pools.cl(id).map_or(60, |v| v.state.tick_spacing);
                    let (lo, hi) = pools
                        .cl(id)
                        .map_or((-887_272, 887_272), |v| v.ticks.window());
                    let tick = (f.tick + spacing).clamp(lo, hi);
                    f.tick = tick;
                    f.words[0] = sqrt_ratio_at_tick(tick).unwrap().to_be_bytes();
                }
                _ => {}
            }
            if f.block_tag != 0 {
                f.block_tag ^= 0xa500_0000;
            }
            f
        })
        .collect()
}

/// One concentrated pool's state, ticks and most active liquidity.
type ClRow = (ClState, Vec<(i32, i128, u128)>, u128);

#[derive(Debug, PartialEq)]
struct Row {
    address: Address,
    reserves: (u128, u128),
    fee: u32,
    quote: u32,
    stale: Staleness,
    last: (u64, u32),
    cl: Option<ClRow>,
    model: Option<(Option<AlgebraFeeSpec>, u128)>,
}

fn rows(e: &Engine) -> Vec<Row> {
    let pools = e.pools();
    (0..pools.len() as u32)
        .map(|id| Row {
            address: pools.address(id).unwrap(),
            reserves: pools.reserves(id).unwrap(),
            fee: pools.fee_pips(id).unwrap(),
            quote: pools.quote_fee(id).unwrap(),
            stale: pools.staleness(id),
            last: pools.last_applied(id).unwrap(),
            cl: pools
                .cl(id)
                .map(|v| (v.state, v.ticks.iter().collect(), v.liquidity_max)),
            model: pools
                .fee_model(id)
                .map(|m| (m.to_spec(0), m.volume_in_block())),
        })
        .collect()
}

fn assert_same(reorged: &Engine, oracle: &Engine, what: &str) {
    assert_eq!(
        (reorged.block_time(), reorged.base_fee()),
        (oracle.block_time(), oracle.base_fee()),
        "{what}: clock"
    );
    for (x, y) in rows(reorged).iter().zip(&rows(oracle)) {
        assert_eq!(x, y, "{what}: pool {}", x.address);
    }
    assert!(
        reorged.market_spec() == oracle.market_spec(),
        "{what}: exports differ"
    );
}

fn feed(e: &mut Engine, frames: &[FeedFrame]) {
    for f in frames {
        let _ = e.on_frame(f);
    }
}

/// Marks all of `frames` but the last as one batch.
fn one_batch(mut frames: Vec<FeedFrame>) -> Vec<FeedFrame> {
    let n = frames.len();
    for (i, f) in frames.iter_mut().enumerate() {
        f.flags = if i + 1 < n { FLAG_MORE_IN_BATCH } else { 0 };
    }
    frames
}

/// Runs the sample with a reorg every `every` blocks, `depth` cycling through 1, 2, 3 and 5,
/// every other one with a `Fee` the model refuses; returns how many.
fn run(frames: &[FeedFrame], removed_logs: bool, every: usize) -> u64 {
    let s = load();
    let mut e = Engine::new(&s.market, s.params.clone()).unwrap();
    let mut oracle = Engine::new(&s.market, s.params.clone()).unwrap();
    let depths = [1usize, 2, 3, 5];
    let mut reorgs = 0u64;
    let mut undone = 0u64;
    let mut k = 0;
    while k < s.blocks.len() {
        let depth = depths[reorgs as usize % depths.len()];
        let inject = k > 0 && k % every == 0 && k + depth <= s.blocks.len();
        if !inject {
            let r = s.blocks[k].clone();
            feed(&mut e, &frames[r.clone()]);
            feed(&mut oracle, &frames[r]);
            k += 1;
            continue;
        }
        // The other chain, block by block, then its removal.
        let mut gone: Vec<FeedFrame> = Vec::new();
        for (i, b) in s.blocks[k..k + depth].iter().enumerate() {
            let other = orphan(&frames[b.clone()], i == 0, reorgs % 2 == 1, &e);
            feed(&mut e, &other);
            gone.extend(other.iter().filter(|f| f.kind != FrameKind::NewHead));
        }
        if removed_logs {
            if reorgs.is_multiple_of(2) {
                gone.reverse();
            }
            for f in &mut gone {
                f.removed = 1;
            }
            feed(&mut e, &one_batch(gone));
        }
        // The sample's own blocks.
        for b in &s.blocks[k..k + depth] {
            feed(&mut e, &frames[b.clone()]);
            feed(&mut oracle, &frames[b.clone()]);
        }
        reorgs += 1;
        undone += depth as u64;
        let what = format!(
            "reorg {reorgs} at block {} ({depth} deep), removed logs {removed_logs}",
            frames[s.blocks[k].start].block_number
        );
        assert_same(&e, &oracle, &what);
        let st = *e.stats();
        if removed_logs {
            // Newest block first, each block's removed logs undo it (a block with no logs
            // goes with the one before it).
            assert!(
                st.reorgs >= reorgs && st.reorg_blocks <= undone,
                "{what}: {st:?}"
            );
        } else {
            assert_eq!(
                (st.reorgs, st.reorg_blocks),
                (reorgs, undone),
                "{what}: {st:?}"
            );
        }
        assert_eq!(
            (
                st.reorg_beyond_depth,
                st.reorg_journal_full,
                st.reorg_doubtful
            ),
            (0, 0, 0),
            "{what}"
        );
        k += depth;
    }
    assert_same(&e, &oracle, "end of the sample");
    let st = *e.stats();
    // Half the other chains set an Algebra fee their model did not compute: the models failed
    // there, and came back with the undo.
    assert!(st.fee_models_lost >= 2, "{st:?}");
    assert_eq!(oracle.stats().fee_models_lost, 0);
    assert_eq!(st.reorg_by_hash, if removed_logs { 0 } else { reorgs });
    reorgs
}

#[test]
fn reorgs_injected_into_the_sample_leave_the_tables_of_the_sample() {
    let s = load();
    assert!(s.blocks.len() > 100, "{} blocks", s.blocks.len());
    let n = run(&s.frames, true, 23);
    assert!(n >= 10, "{n} reorgs");
}

#[test]
fn block_hashes_alone_take_back_a_reorg_of_the_sample() {
    let s = load();
    let n = run(&with_hashes(s), false, 29);
    assert!(n >= 10, "{n} reorgs");
}
