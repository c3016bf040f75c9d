//! Warm restart (issue 6 item 6, part 1) on the shipped sample: the engine's tables exported as
//! a market snapshot (`Engine::market_spec`), through the snapshot file and back into
//! `Engine::new`.
//!
//! The oracle is the engine that never stopped. Fed the frames after the cut, an engine built
//! from the export must hold every pool exactly as it does after every frame (reserves; price,
//! tick, liquidity, window and ticks; fee, quoted fee and fee model; staleness), and emit the same
//! routes, whether it continues at the cut or first takes the in-progress block again from its
//! start (what a backfill from the snapshot's block + 1 delivers): every log it already applied
//! is skipped by its pool's position. Routes in flight are not exported (their holds die with the
//! process), so route-for-route comparisons cut where no route holds a pool; the tables are
//! compared at any cut, holds or not, even in the middle of a batch.

use std::collections::HashSet;
use std::sync::OnceLock;

use alloy_primitives::{Address, U256};
use polyarb_core::clmm::algebra_fee::Timepoint;
use polyarb_core::clmm::tick_math::sqrt_ratio_at_tick;
use polyarb_core::{
    Engine, FLAG_MORE_IN_BATCH, FeedFrame, FrameKind, MarketSpec, OpportunityFrame, PoolKind,
    PoolState, SearchParams, Staleness,
};
use polyarb_engine::config::{Config, ProcessEnv};
use polyarb_engine::pipeline::flag_recorded_batches;
use polyarb_engine::snapshot;
use polyarb_feeds::{Decoded, RecordReader};

use crate::replay::{sample, scratch};

/// The sample's market, search parameters and frames, batched as the feed stage batches them.
struct Sample {
    market: MarketSpec,
    params: SearchParams,
    frames: Vec<FeedFrame>,
}

fn load() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let bytes = std::fs::read(sample("rec")).unwrap();
        let records: Vec<_> = RecordReader::new(bytes.as_slice())
            .unwrap()
            .map(|r| r.expect("the shipped sample is undamaged"))
            .collect();
        let mut frames: Vec<FeedFrame> = records
            .iter()
            .map(
                |r| match polyarb_feeds::decode(&r.payload, r.recv_ns).unwrap() {
                    Decoded::Frame(f) => f,
                    other => panic!("not a frame: {other:?}"),
                },
            )
            .collect();
        let cfg = Config::load(&sample("toml"), &ProcessEnv).unwrap();
        // Batches of a run with `node.batch_quiet_us = 200`: some of them end inside a block
        // (at the default 5 ms none of the sample's do), the cuts a restart must survive.
        let quiet_ns = 200_000;
        let recv: Vec<u64> = records.iter().map(|r| r.recv_ns).collect();
        flag_recorded_batches(&mut frames, &recv, quiet_ns);

        let (market, _) = snapshot::read(&sample("snapshot.json")).unwrap();
        Sample {
            market,
            params: cfg.search_params(),
            frames,
        }
    })
}

/// The sample's parameters with a minimum profit that only about 1 % of its routes clear: a
/// route holds its pools for two blocks, and with every block's routes there would be no cut
/// where none is held. Taken from a pass at the sample's own parameters.
fn rare_routes() -> SearchParams {
    static MIN: OnceLock<u128> = OnceLock::new();
    let s = load();
    let min = *MIN.get_or_init(|| {
        let mut e = Engine::new(&s.market, s.params.clone()).unwrap();
        let mut nets: Vec<u128> = s
            .frames
            .iter()
            .flat_map(|f| {
                e.on_frame(f)
                    .iter()
                    .map(|o| o.profit_native - o.gas_cost_native)
                    .collect::<Vec<_>>()
            })
            .collect();
        nets.sort_unstable();
        assert!(nets.len() > 1_000, "{}", nets.len());
        nets[nets.len() * 99 / 100]
    });
    SearchParams {
        min_profit_native: min,
        ..s.params.clone()
    }
}

/// One concentrated pool in the tables.
#[derive(Clone, Debug, PartialEq)]
struct ClTable {
    sqrt_price: U256,
    tick: i32,
    liquidity: u128,
    spacing: i32,
    window: (i32, i32),
    ticks: Vec<(i32, i128, u128)>,
    liquidity_max: u128,
}

/// Everything the tables hold of one pool that the search or a later log reads.
#[derive(Clone, Debug, PartialEq)]
struct PoolTable {
    address: Address,
    stale: Staleness,
    fee_pips: u32,
    quote_fee: u32,
    reserves: (u128, u128),
    cl: Option<ClTable>,
    /// Newest timepoint index, the newest timepoint, the volume since.
    model: Option<(u16, Timepoint, u128)>,
}

fn tables(e: &Engine) -> Vec<PoolTable> {
    let pools = e.pools();
    (0..pools.len() as u32)
        .map(|id| PoolTable {
            address: pools.address(id).unwrap(),
            stale: pools.staleness(id),
            fee_pips: pools.fee_pips(id).unwrap(),
            quote_fee: pools.quote_fee(id).unwrap(),
            reserves: pools.reserves(id).unwrap(),
            cl: pools.cl(id).map(|v| ClTable {
                sqrt_price: v.state.sqrt_price_x96,
                tick: v.state.tick,
                liquidity: v.state.liquidity,
                spacing: v.state.tick_spacing,
                window: v.ticks.window(),
                ticks: v.ticks.iter().collect(),
                liquidity_max: v.liquidity_max,
            }),
            model: pools.fee_model(id).map(|m| {
                let s = m.storage();
                (s.index(), *s.newest().unwrap(), m.volume_in_block())
            }),
        })
        .collect()
}

/// A route without what only the run's own counters and clock decide (sequence number, times).
fn plain(o: &OpportunityFrame) -> OpportunityFrame {
    let mut o = *o;
    o.seq = 0;
    o.recv_ns = 0;
    o.detect_ns = 0;
    o
}

fn held(e: &Engine) -> bool {
    let pools = e.pools();
    (0..pools.len() as u32).any(|id| e.held_span(&pools.address(id).unwrap()).is_some())
}

/// The export through the snapshot file: written, read back with the checks replay uses.
fn through_file(spec: &MarketSpec, name: &str) -> MarketSpec {
    let path = scratch(&format!("warm-restart-{name}")).join("tables.snapshot.json");
    snapshot::write(&path, spec, Some(137)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"version\": 4"), "{name}");
    let (back, chain) = snapshot::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(chain, Some(137));
    assert_eq!(&back, spec, "{name}: the file gives back the export");
    back
}

/// An engine built from an export, fed the frames after the cut alongside the one that never
/// stopped.
struct Restarted {
    cut: usize,
    engine: Engine,
    /// Whether it took the in-progress block again from its start first.
    backfilled: bool,
}

/// Starts an engine from `spec`; with `backfill`, first feeds it the frames of the blocks after
/// the snapshot's up to the cut (a backfill from `block + 1`), which must all be skipped.
fn restart(
    spec: &MarketSpec,
    params: &SearchParams,
    frames: &[FeedFrame],
    cut: usize,
    backfill: bool,
) -> Restarted {
    let mut engine = Engine::new(spec, params.clone()).unwrap();
    if backfill {
        let from = frames[..cut]
            .iter()
            .position(|f| f.block_number > spec.block)
            .unwrap_or(cut);
        let logs = frames[from..cut]
            .iter()
            .filter(|f| f.kind != FrameKind::NewHead)
            .count() as u64;
        for f in &frames[from..cut] {
            assert!(
                engine.on_frame(f).is_empty(),
                "cut {cut}: a route from a log applied before"
            );
        }
        let st = engine.stats();
        assert_eq!((st.applied, st.stale_skipped), (0, logs), "cut {cut}");
    }
    Restarted {
        cut,
        engine,
        backfilled: backfill,
    }
}

#[test]
fn a_restart_from_the_export_follows_the_rest_of_the_sample_exactly() {
    let s = load();
    let params = rare_routes();
    let frames = &s.frames;
    let n = frames.len();
    let mut a = Engine::new(&s.market, params.clone()).unwrap();
    // Before any frame the export is the snapshot the engine was built from (a version 3
    // file, read as such).
    assert_eq!(a.market_spec(), s.market);
    let mut restarted: Vec<Restarted> = Vec::new();
    // Batch ends where no route holds a pool: every one in the middle of a block, and the
    // first after each quarter of the sample.
    let quarters = [n / 4, n / 2, 3 * n / 4];
    let mut next_quarter = 0;
    let (mut mid_block_cuts, mut positions, mut routes_compared, mut frames_compared) =
        (0, 0, 0u64, 0u64);
    for (i, f) in frames.iter().enumerate() {
        let routes: Vec<OpportunityFrame> = a.on_frame(f).iter().map(plain).collect();
        let want = tables(&a);
        for r in &mut restarted {
            let got: Vec<OpportunityFrame> = r.engine.on_frame(f).iter().map(plain).collect();
            assert_eq!(
                got, routes,
                "cut {} (backfilled {}), frame {i}: routes",
                r.cut, r.backfilled
            );
            let t = tables(&r.engine);
            if t != want {
                let diff: Vec<_> = t.iter().zip(&want).filter(|(x, y)| x != y).collect();
                panic!(
                    "cut {} (backfilled {}), frame {i}: tables differ: {diff:#?}",
                    r.cut, r.backfilled
                );
            }
            routes_compared += routes.len() as u64;
            frames_compared += 1;
        }
        let cut = i + 1;
        if cut == n || f.flags & FLAG_MORE_IN_BATCH != 0 || held(&a) {
            continue;
        }
        let mid_block = frames[cut].block_number == f.block_number;
        let quarter = quarters.get(next_quarter).is_some_and(|&q| cut >= q);
        if !mid_block && !quarter {
            continue;
        }
        next_quarter += usize::from(quarter && !mid_block);
        let spec = a.market_spec();
        // Complete up to the block before the newest; positions only inside the newest.
        assert_eq!(spec.block, f.block_number - 1, "cut {cut}");
        let p = spec.pools.iter().filter(|p| p.last_log.is_some()).count();
        assert!(
            spec.pools
                .iter()
                .filter_map(|p| p.last_log)
                .all(|(b, _)| b == f.block_number),
            "cut {cut}"
        );
        assert!(spec.pools.iter().all(|p| p.stale.is_fresh()));
        if mid_block {
            mid_block_cuts += 1;
            positions += p;
        }
        let back = through_file(&spec, &format!("cut-{cut}"));
        restarted.push(restart(&back, &params, frames, cut, false));
        restarted.push(restart(&back, &params, frames, cut, true));
    }
    assert!(
        mid_block_cuts >= 1 && positions >= 1,
        "{mid_block_cuts} mid-block cuts, {positions} positions"
    );
    assert!(restarted.len() >= 8, "{} restarts", restarted.len());
    assert!(routes_compared >= 100, "{routes_compared} routes compared");
    assert!(frames_compared > n as u64, "{frames_compared}");
    // An engine built from an export exports it again.
    let end = a.market_spec();
    assert_eq!(
        Engine::new(&end, params).unwrap().market_spec(),
        end,
        "not a fixed point"
    );
}

#[test]
fn the_export_is_the_tables_never_a_pending_routes_state() {
    let s = load();
    let frames = &s.frames;
    let n = frames.len();
    // The sample's own parameters: every block has routes, so pools are held at every cut.
    let mut a = Engine::new(&s.market, s.params.clone()).unwrap();
    // One cut in the middle of a batch: its search is lost, its tables are not.
    let mid_batch = (2 * n / 5..n)
        .find(|&i| frames[i].flags & FLAG_MORE_IN_BATCH != 0)
        .unwrap()
        + 1;
    let cuts = [n / 5, mid_batch, 3 * n / 5];
    let mut restarted: Vec<(usize, Engine)> = Vec::new();
    let (mut held_v2, mut held_cl) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        let _ = a.on_frame(f);
        let want = tables(&a);
        for (cut, b) in &mut restarted {
            let _ = b.on_frame(f);
            assert!(tables(b) == want, "cut {cut}, frame {i}: tables differ");
        }
        let cut = i + 1;
        if !cuts.contains(&cut) {
            continue;
        }
        assert!(held(&a), "cut {cut}: no pool held");
        let spec = a.market_spec();
        for p in &spec.pools {
            let addr = &p.address;
            match &p.state {
                PoolState::UniswapV2 { reserve0, reserve1 } => {
                    let r = (*reserve0, *reserve1);
                    assert_eq!(a.pool_reserves(addr), Some(r), "cut {cut}: {addr}");
                    held_v2 += usize::from(a.held_reserves(addr).is_some_and(|h| h != r));
                }
                PoolState::UniswapV3(c) | PoolState::Algebra(c) => {
                    let v = a.pools().cl(a.pools().id(addr).unwrap()).unwrap();
                    let table = (v.state.sqrt_price_x96, v.state.tick, v.state.liquidity);
                    assert_eq!(
                        (c.sqrt_price_x96, c.tick, c.liquidity),
                        table,
                        "cut {cut}: {addr}"
                    );
                    held_cl += usize::from(
                        a.held_cl_state(addr)
                            .is_some_and(|h| h.sqrt_price_x96 != c.sqrt_price_x96),
                    );
                }
            }
        }
        restarted.push((cut, Engine::new(&spec, s.params.clone()).unwrap()));
    }
    assert_eq!(restarted.len(), 3);
    // Pools a route moved away from their tables' state were exported at the tables'.
    assert!(
        held_v2 > 0 && held_cl > 0,
        "{held_v2} V2, {held_cl} concentrated"
    );
}

#[test]
fn a_mint_or_burn_at_the_cut_is_not_applied_twice() {
    let s = load();
    let params = rare_routes();
    let frames = &s.frames;
    let mut a = Engine::new(&s.market, params.clone()).unwrap();
    let (mut mints, mut burns) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        let _ = a.on_frame(f);
        let mid_block = frames
            .get(i + 1)
            .is_some_and(|next| next.block_number == f.block_number);
        if !matches!(f.kind, FrameKind::ClMint | FrameKind::ClBurn) || !mid_block {
            continue;
        }
        let spec = a.market_spec();
        let addr = Address::from(f.address);
        let pool = spec.pools.iter().find(|p| p.address == addr).unwrap();
        assert_eq!(spec.block, f.block_number - 1, "frame {i}");
        assert_eq!(
            pool.last_log,
            Some((f.block_number, f.log_index)),
            "frame {i}"
        );
        let want = tables(&a);
        // Delivered again, as a backfill from the snapshot's block + 1 would: skipped.
        let mut b = Engine::new(&spec, params.clone()).unwrap();
        assert!(b.on_frame(f).is_empty());
        let st = b.stats();
        assert_eq!((st.applied, st.stale_skipped), (0, 1), "frame {i}");
        assert!(tables(&b) == want, "frame {i}: tables differ");
        // The control: without the pool's position the delivery applies the delta again.
        let mut forgetful = spec.clone();
        for p in &mut forgetful.pools {
            if p.address == addr {
                p.last_log = None;
            }
        }
        let mut c = Engine::new(&forgetful, params.clone()).unwrap();
        let _ = c.on_frame(f);
        if c.stats().applied == 1 && tables(&c) != want {
            match f.kind {
                FrameKind::ClMint => mints += 1,
                _ => burns += 1,
            }
        }
    }
    // At least one of each whose second application would have changed the tables.
    assert!(mints >= 1 && burns >= 1, "{mints} mints, {burns} burns");
}

/// A copy of `f` as a reorg's removal of it.
fn removed(f: &FeedFrame) -> FeedFrame {
    let mut r = *f;
    r.removed = 1;
    r.flags = 0;
    r
}

fn word(v: U256) -> [u8; 32] {
    v.to_be_bytes()
}

#[test]
fn stale_pools_are_exported_flagged_and_stay_out_of_the_search() {
    let s = load();
    // Removed logs below mark pools stale: the engine without its undo journal (with it they
    // are undone: engine/tests/it/reorg_replay.rs).
    let params = SearchParams {
        reorg_depth: 0,
        ..rare_routes()
    };
    let frames = &s.frames;
    let n = frames.len();
    // A block boundary a third of the way in.
    let k = (n / 3..n)
        .find(|&i| frames[i].kind == FrameKind::NewHead)
        .unwrap();
    let mut a = Engine::new(&s.market, params.clone()).unwrap();
    for f in &frames[..k] {
        let _ = a.on_frame(f);
    }
    let kind_of = |f: &FeedFrame| {
        let pools = a.pools();
        pools.kind(pools.id(&Address::from(f.address))?)
    };
    let last =
        |pred: &dyn Fn(&FeedFrame) -> bool| *frames[..k].iter().rev().find(|f| pred(f)).unwrap();
    // A pair with a Sync before the cut and one after: removed, it waits for the next.
    let sync = last(&|f: &FeedFrame| {
        f.kind == FrameKind::V2Sync
            && frames[k..]
                .iter()
                .any(|g| g.kind == FrameKind::V2Sync && g.address == f.address)
    });
    // A V3 pool whose Mint is removed: it needs a reload.
    let mint = last(&|f: &FeedFrame| {
        f.kind == FrameKind::ClMint && kind_of(f) == Some(PoolKind::UniswapV3)
    });
    // Another V3 pool whose Swap is removed: it waits for its next Swap in the running engine.
    let swap = last(&|f: &FeedFrame| {
        f.kind == FrameKind::ClSwap
            && kind_of(f) == Some(PoolKind::UniswapV3)
            && f.address != mint.address
    });
    // A third V3 pool that a swap takes out of its loaded window.
    let out = last(&|f: &FeedFrame| {
        f.kind == FrameKind::ClSwap
            && kind_of(f) == Some(PoolKind::UniswapV3)
            && f.address != mint.address
            && f.address != swap.address
    });
    let newest = frames[k - 1];
    for f in [removed(&sync), removed(&mint), removed(&swap)] {
        let _ = a.on_frame(&f);
    }
    let out_addr = Address::from(out.address);
    let view = a.pools().cl(a.pools().id(&out_addr).unwrap()).unwrap();
    let (_, hi) = view.ticks.window();
    let tick = hi + view.state.tick_spacing;
    let mut away = out;
    away.block_number = newest.block_number;
    away.block_time = newest.block_time;
    away.log_index = 10_000;
    away.flags = 0;
    away.tick = tick;
    away.words = [
        word(sqrt_ratio_at_tick(tick).unwrap()),
        word(U256::from(view.state.liquidity)),
        [0; 32],
        [0; 32],
    ];
    let _ = a.on_frame(&away);
    // An Algebra pool's Fee in a block whose time is not known yet: its write waits.
    let alg = frames[..k]
        .iter()
        .rev()
        .find(|f| f.kind == FrameKind::AlgebraFee)
        .unwrap();
    let mut fee = *alg;
    fee.block_number = newest.block_number + 1;
    fee.block_time = 0;
    fee.log_index = 0;
    fee.flags = 0;
    let _ = a.on_frame(&fee);
    let st = a.stats();
    assert_eq!((st.removed, st.out_of_window), (3, 1));

    let addr = |f: &FeedFrame| Address::from(f.address);
    let staleness =
        |e: &Engine, f: &FeedFrame| e.pools().staleness(e.pools().id(&addr(f)).unwrap());
    // The running engine: the removed Swap's pool waits for its next Swap.
    assert_eq!(staleness(&a, &swap), Staleness::UntilNextState);
    assert!(a.pool_is_stale(&addr(&fee)).unwrap(), "fee not known yet");
    let spec = a.market_spec();
    let flagged: Vec<(Address, Staleness)> = spec
        .pools
        .iter()
        .filter(|p| !p.stale.is_fresh())
        .map(|p| (p.address, p.stale))
        .collect();
    let needs_reload = [addr(&mint), addr(&swap), out_addr, addr(&fee)];
    let mut want = vec![(addr(&sync), Staleness::UntilNextState)];
    want.extend(needs_reload.iter().map(|&a| (a, Staleness::NeedsReload)));
    want.sort_by_key(|w| w.0);
    let mut got = flagged.clone();
    got.sort_by_key(|g| g.0);
    assert_eq!(got, want);
    let spec_of = |a: Address| spec.pools.iter().find(|p| p.address == a).unwrap();
    // The pool a swap took out of its window is exported with that state, flagged.
    match &spec_of(out_addr).state {
        PoolState::UniswapV3(c) => assert!(c.tick > c.window[1], "{c:?}"),
        other => panic!("{other:?}"),
    }
    // The waiting write is in no timepoint: the pool goes without a fee model.
    match &spec_of(addr(&fee)).state {
        PoolState::Algebra(c) => assert!(c.fee_model.is_none()),
        other => panic!("{other:?}"),
    }

    let back = through_file(&spec, "stale");
    let mut b = Engine::new(&back, params.clone()).unwrap();
    for (a, stale) in &flagged {
        let id = b.pools().id(a).unwrap();
        assert_eq!(b.pools().staleness(id), *stale, "{a}");
        assert_eq!(b.pool_is_stale(a), Some(true), "{a}");
    }
    // The flag is what keeps them out: without it the pool would be searched, or (the one out
    // of its window) refused.
    let mut unflagged = back.clone();
    for p in &mut unflagged.pools {
        if p.address == addr(&mint) {
            p.stale = Staleness::Fresh;
        }
    }
    let u = Engine::new(&unflagged, params.clone()).unwrap();
    assert_eq!(u.pool_is_stale(&addr(&mint)), Some(false));
    for p in &mut unflagged.pools {
        if p.address == out_addr {
            p.stale = Staleness::Fresh;
        }
    }
    assert!(Engine::new(&unflagged, params.clone()).is_err());

    // The rest of the sample: the pair comes back at its next Sync; the others stay out, and
    // no route goes through them.
    let out_ids: HashSet<u32> = needs_reload
        .iter()
        .map(|a| b.pools().id(a).unwrap())
        .collect();
    let mut routes = 0;
    for f in &frames[k..] {
        for o in b.on_frame(f) {
            routes += 1;
            assert!(
                o.hops().iter().all(|h| !out_ids.contains(&h.pool_id)),
                "{o:?}"
            );
        }
    }
    assert!(routes > 0);
    assert!(b.stats().stale_cycles > 0);
    assert_eq!(staleness(&b, &sync), Staleness::Fresh);
    for f in [&mint, &swap, &out, &fee] {
        assert_eq!(staleness(&b, f), Staleness::NeedsReload);
    }
}
