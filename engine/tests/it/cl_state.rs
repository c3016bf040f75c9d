//! The pool-state test (issue 5, "Prove it"): a long seeded sequence of swaps on every pool kind,
//! mints and burns of ranges and Algebra fee changes on the all-kinds sample world on anvil,
//! streamed to the real `polyarb record` over the websocket. The recording is then fed through
//! the sans-IO engine from the real `polyarb snapshot`, and afterwards every tracked pool must
//! equal the node's state at the last block as the independent reader in polyarb-tools reads it
//! (`read_pool_at` over HTTP with alloy's ABI decoding; `getReserves` for V2 pairs): √price, tick,
//! active liquidity, fee, and every initialized tick of the engine's loaded window with its net
//! and gross liquidity.
//!
//! Two snapshots of the same block start two replays of the same recording: the rendered config
//! (windows of five bitmap words, the config's search), and the same with `tick_words = 0` (one
//! word, no cycles), where prices leave their windows and minted ranges straddle the window edges. A pool may only leave the
//! search for a reason the engine documents (a swap out of its window, full tick storage), and
//! then it must be marked stale; every other pool must be equal.
//!
//! So that it can fail, the test also checks that the snapshot's state would not pass (most pools
//! moved, on every kind, some pools' ticks and Algebra fees changed), and that a replay dropping
//! the Mint, Burn and Fee frames is caught on exactly the pools whose ticks or fee changed. The
//! recording is checked against `eth_getLogs` (every tracked log of the run, none extra), so a
//! mismatch is the engine's, not the recorder's.
//!
//! Short by default (400 swaps, well under two minutes on two busy cores); `POLYARB_LONG=1` runs
//! 6,000 swaps. `--nocapture` prints the run's numbers.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ffi::OsStr,
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256};
use polyarb_core::{
    Engine, EngineStats, FeedFrame, FrameKind, MarketSpec, PoolKind, PoolState, Staleness,
    TICK_HEADROOM,
};
use polyarb_engine::{config::Config, snapshot};
use polyarb_feeds::{Decoded, RecordReader, TRACKED_TOPICS, decode};
use polyarb_tools::{
    Clmm, LiveWorld, LpChange, LpOpts, Rpc, SUBSCRIBED_LINE, Toolchain, TraderOpts, Traders, Words,
    WorldOpts, lp_seed, read_pool_at, start_world, tick_word,
};

/// `polyarb snapshot` must finish within this.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(180);
/// `polyarb record` must print [`SUBSCRIBED_LINE`] within this.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);
/// `polyarb record` must exit within this after SIGINT.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for the last block's notifications to reach the recorder before it is stopped (the
/// recording is then checked against `eth_getLogs`, so a short settle fails loudly, never
/// silently).
const SETTLE: Duration = Duration::from_secs(2);
/// Blocks per `eth_getLogs` request.
const LOG_CHUNK: u64 = 250;

/// How much trading.
#[derive(Clone, Copy, Debug)]
struct Mode {
    name: &'static str,
    swaps: usize,
    per_block: usize,
    seed: u64,
    /// Chance of a liquidity provider action (mint or burn) in a block.
    lp_rate: f64,
}

fn mode() -> Mode {
    let long = std::env::var("POLYARB_LONG").is_ok_and(|v| v == "1");
    if long {
        Mode {
            name: "long",
            swaps: 6_000,
            per_block: 4,
            seed: 0xC1_57A7E,
            lp_rate: 0.5,
        }
    } else {
        Mode {
            name: "short",
            swaps: 400,
            per_block: 4,
            seed: 0x5_7A7E,
            lp_rate: 0.6,
        }
    }
}

#[test]
fn every_pool_equals_the_node_after_a_random_run() {
    let mode = mode();
    let started = Instant::now();
    let tc = Toolchain::locate();
    let dir = scratch("cl-state");

    // The world, its config, and the snapshots at the last deployment block (no mining until the
    // traders start, so the recorder misses nothing between snapshot and subscription).
    let live = start_world(
        &tc,
        &WorldOpts {
            out_dir: dir.clone(),
            config_name: "cl_state.toml".to_owned(),
            executor_artifact: None,
            no_mining: true,
        },
    )
    .unwrap_or_else(|e| panic!("start the all-kinds world (see tools/toolchain): {e}"));
    let deployed = started.elapsed();
    let narrow_config = dir.join("cl_state_narrow.toml");
    write_narrow_config(&live.config_path, &narrow_config);
    let variants = [
        Variant::snapshot("default", &live.config_path, &dir, true),
        Variant::snapshot("narrow", &narrow_config, &dir, false),
    ];
    let market = &variants[0].market;
    assert_eq!(market.block, variants[1].market.block, "snapshot blocks");
    let tracked = tracked_pools(&live, market);

    // Record while trading.
    let rec_path = dir.join("cl_state.rec");
    let mut recorder = Proc::polyarb(
        "polyarb record",
        &[
            "record".as_ref(),
            "--config".as_ref(),
            live.config_path.as_os_str(),
            "--out".as_ref(),
            rec_path.as_os_str(),
        ],
        &dir,
        true,
    );
    recorder.wait_line(SUBSCRIBED_LINE, SUBSCRIBE_TIMEOUT);
    let mut lp = LpOpts::new(live.lp, lp_seed(mode.seed));
    lp.rate = mode.lp_rate;
    let mut traders = Traders::new(
        &live.rpc,
        &live.world,
        TraderOpts::new(live.trader, mode.seed, mode.per_block).with_liquidity(lp),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let trading = traders.run(mode.swaps).unwrap_or_else(|e| panic!("{e}"));
    let lp_actions = traders.liquidity().map_or(&[][..], |l| l.actions());
    let lp_mints = lp_actions
        .iter()
        .filter(|a| a.change == LpChange::Mint)
        .count();
    let lp_burns = lp_actions.len() - lp_mints;
    let last = live.rpc.block_number().unwrap_or_else(|e| panic!("{e}"));
    thread::sleep(SETTLE);
    recorder.interrupt();
    recorder.expect_success(EXIT_TIMEOUT);

    // The recording holds exactly the run's tracked logs, and a head for every block.
    let rec = Recording::load(&rec_path);
    rec.check_against_node(&live.rpc, market.block, last);
    let kinds = rec.kind_counts();
    for kind in [
        FrameKind::V2Sync,
        FrameKind::ClSwap,
        FrameKind::ClMint,
        FrameKind::ClBurn,
        FrameKind::AlgebraFee,
    ] {
        assert!(
            count(&kinds, kind) > 0,
            "the recording has no {kind:?} log: {kinds:?}"
        );
    }
    assert_eq!(
        count(&kinds, FrameKind::ClMint),
        lp_mints,
        "Mint logs of the run vs the liquidity provider's mints"
    );
    assert_eq!(
        count(&kinds, FrameKind::ClBurn),
        lp_burns,
        "Burn logs of the run vs the liquidity provider's burns"
    );

    // Each snapshot and the recording through the sans-IO engine, then every pool against the
    // node at the last block, over that snapshot's windows.
    let mut lines = Vec::new();
    let mut default_chain = None;
    for v in &variants {
        let out = v.check(&live.rpc, &rec, &tracked, last);
        lines.push(out.line);
        default_chain.get_or_insert(out.chain);
    }
    let chain = default_chain.unwrap_or_default();

    // The comparison can fail: the snapshot's state differs from the node's for most pools,
    // on every kind, in ticks and in Algebra fees too.
    let mut moved = [0usize; 3];
    let mut per_kind = [0usize; 3];
    let (mut ticks_moved, mut fee_moved) = (0usize, 0usize);
    for p in &market.pools {
        let kind = p.kind() as usize;
        per_kind[kind] += 1;
        let before = spec_state(market, p.address);
        let after = &chain[&p.address];
        if !diff(&before, after).is_empty() {
            moved[kind] += 1;
        }
        if let (Seen::Cl(b), Seen::Cl(a)) = (&before, after) {
            ticks_moved += usize::from(b.ticks != a.ticks);
            fee_moved += usize::from(b.fee != a.fee);
        }
    }
    let moved_all: usize = moved.iter().sum();
    assert!(
        moved.iter().all(|&n| n > 0) && moved_all * 10 >= market.pools.len() * 9,
        "too few pools moved to prove anything: {moved:?} of {per_kind:?} (V2, V3, Algebra)"
    );
    assert!(
        ticks_moved > 0 && fee_moved > 0,
        "no tick ({ticks_moved}) or no Algebra fee ({fee_moved}) changed in the run"
    );
    let cfg = Config::load(&live.config_path, &HashMap::<String, String>::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let mutant = mutant_caught(&cfg, market, &rec, &chain);

    println!(
        "cl_state {} mode: {} pools ({per_kind:?} V2/V3/Algebra), {} swaps ({} on concentrated \
         pools) and {lp_mints} mints + {lp_burns} burns in {} blocks ({}..={last}), trading \
         {:.1?}; recording: {} frames, by kind {kinds:?}; moved vs snapshot: {moved:?}, ticks \
         changed in {ticks_moved}, Algebra fee changed in {fee_moved}; a replay without \
         Mint/Burn/Fee frames differs on {mutant} pools\n{}\ndeploy {deployed:.1?}, total {:.1?}",
        mode.name,
        market.pools.len(),
        trading.swaps,
        trading.pool_swaps,
        trading.blocks,
        market.block + 1,
        trading.elapsed,
        rec.frames.len(),
        lines.join("\n"),
        started.elapsed(),
    );
    drop(live);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes `from` with `tick_words = 0` on every concentrated DEX: windows of one bitmap word
/// (256 · spacing ticks), so prices leave them and ranges straddle their edges.
fn write_narrow_config(from: &Path, to: &Path) {
    let text = std::fs::read_to_string(from).unwrap_or_else(|e| panic!("{e}"));
    let mut narrow = text.clone();
    for kind in ["uniswap-v3", "algebra"] {
        let line = format!("kind = \"{kind}\"\n");
        assert_eq!(text.matches(&line).count(), 1, "{kind} dexes in {text}");
        narrow = narrow.replace(&line, &format!("{line}tick_words = 0\n"));
    }
    std::fs::write(to, narrow).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
}

/// One snapshot of the world, taken by `polyarb snapshot` with one config.
struct Variant {
    name: &'static str,
    config: PathBuf,
    market: MarketSpec,
    /// Replay with the config's search; without, no cycles (the tables are what is compared,
    /// and the search in an unoptimised test build is most of the replay's time).
    search: bool,
}

/// What checking a variant gave.
struct Checked {
    /// Its summary line.
    line: String,
    /// The node's state over the variant's windows.
    chain: HashMap<Address, Seen>,
}

impl Variant {
    fn snapshot(name: &'static str, config: &Path, dir: &Path, search: bool) -> Self {
        let out = dir.join(format!("cl_state_{name}.snapshot.json"));
        let mut p = Proc::polyarb(
            "polyarb snapshot",
            &[
                "snapshot".as_ref(),
                "--config".as_ref(),
                config.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
            dir,
            false,
        );
        p.expect_success(SNAPSHOT_TIMEOUT);
        let (market, _) = snapshot::read(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        Self {
            name,
            config: config.to_owned(),
            market,
            search,
        }
    }

    /// Replays `rec` from this snapshot through the engine and compares every pool with the
    /// node at `last`: a fresh pool must be equal; a stale one must have turned stale for a
    /// documented reason (see [`replay`]).
    fn check(
        &self,
        rpc: &Rpc,
        rec: &Recording,
        tracked: &HashMap<Address, Tracked>,
        last: u64,
    ) -> Checked {
        let market = &self.market;
        let cfg = Config::load(&self.config, &HashMap::<String, String>::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut params = cfg.search_params();
        if !self.search {
            params.max_cycles = 0;
        }
        let mut engine = Engine::new(market, params).unwrap_or_else(|e| panic!("{e}"));
        let replay_start = Instant::now();
        let stale = replay(&mut engine, &rec.frames, market);
        let replay_time = replay_start.elapsed();
        let stats = *engine.stats();
        check_counters(&stats, rec);

        let block = || rpc.block_number().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(block(), last, "the node mined after trading stopped");
        let chain = read_chain(rpc, market, tracked, last);
        assert_eq!(block(), last, "the node mined while its state was read");
        let mut wrong = Vec::new();
        let mut stale_but_equal = 0usize;
        for p in &market.pools {
            let label = &tracked[&p.address].label;
            let diffs = diff(&engine_state(&engine, p.address), &chain[&p.address]);
            let id = engine
                .pools()
                .id(&p.address)
                .unwrap_or_else(|| panic!("{label} is not in the engine's tables"));
            match engine.pools().staleness(id) {
                Staleness::Fresh => {
                    if !diffs.is_empty() {
                        wrong.push(format!("{label}:\n    {}", diffs.join("\n    ")));
                    }
                }
                s => {
                    // Out of the search, for a reason the engine documents (checked in `replay`).
                    assert!(
                        stale.contains_key(&p.address),
                        "{}: {label} is {s:?} with no recorded cause",
                        self.name
                    );
                    stale_but_equal += usize::from(diffs.is_empty());
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{}: {} of {} fresh pools differ from the node at block {last}:\n  {}",
            self.name,
            wrong.len(),
            market.pools.len() - stale.len(),
            wrong.join("\n  ")
        );
        let windows: Vec<i64> = market
            .pools
            .iter()
            .filter_map(|p| match &p.state {
                PoolState::UniswapV3(s) | PoolState::Algebra(s) => {
                    Some(i64::from(s.window[1]) - i64::from(s.window[0]) + 1)
                }
                PoolState::UniswapV2 { .. } => None,
            })
            .collect();
        let line = format!(
            "  {} windows ({}..={} ticks wide, {} cycles): replay {replay_time:.1?}; engine: {} applied, {} \
             out of window, {} tick errors; {} fresh pools equal to the node; stale: {} ({} \
             still equal to the node){}",
            self.name,
            windows.iter().min().unwrap_or(&0),
            windows.iter().max().unwrap_or(&0),
            engine.cycle_count(),
            stats.applied,
            stats.out_of_window,
            stats.tick_errors,
            market.pools.len() - stale.len(),
            stale.len(),
            stale_but_equal,
            stale
                .iter()
                .map(|(a, why)| format!("\n    {}: {why}", tracked[a].label))
                .collect::<String>(),
        );
        Checked { line, chain }
    }
}

fn count(kinds: &BTreeMap<u8, usize>, kind: FrameKind) -> usize {
    kinds.get(&(kind as u8)).copied().unwrap_or(0)
}

/// A fresh folder under cargo's test tmp dir.
fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A pool the world deployed, as the test names it.
struct Tracked {
    label: String,
    /// The protocol of a concentrated pool; `None` for a V2 pair.
    clmm: Option<Clmm>,
}

/// Every pair and pool the world deployed, each of which the snapshot must track.
fn tracked_pools(live: &LiveWorld, market: &MarketSpec) -> HashMap<Address, Tracked> {
    let w = &live.world;
    let mut out = HashMap::new();
    for p in &w.pairs {
        let label = format!(
            "{} {}/{} {}",
            p.dex.name(),
            w.tokens[p.token0].symbol,
            w.tokens[p.token1].symbol,
            p.address
        );
        out.insert(p.address, Tracked { label, clmm: None });
    }
    for p in &w.clmm_pools {
        let label = format!(
            "{:?} {}/{} {}",
            p.kind, w.tokens[p.token0].symbol, w.tokens[p.token1].symbol, p.address
        );
        let clmm = Some(p.protocol());
        out.insert(p.address, Tracked { label, clmm });
    }
    let in_snapshot: BTreeSet<Address> = market.pools.iter().map(|p| p.address).collect();
    let deployed: BTreeSet<Address> = out.keys().copied().collect();
    assert_eq!(
        in_snapshot, deployed,
        "the snapshot must track exactly the deployed pools"
    );
    for p in &market.pools {
        let want = match out[&p.address].clmm {
            None => PoolKind::UniswapV2,
            Some(Clmm::UniswapV3) => PoolKind::UniswapV3,
            Some(Clmm::AlgebraV1) => PoolKind::Algebra,
        };
        assert_eq!(p.kind(), want, "{}", out[&p.address].label);
    }
    out
}

/// A pool's state as one side of the comparison sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// `(reserve0, reserve1)`, raw units.
    V2(u128, u128),
    Cl(ClSeen),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ClSeen {
    /// Q64.96.
    sqrt_price: U256,
    tick: i32,
    liquidity: u128,
    /// Pips.
    fee: u32,
    spacing: i32,
    /// `(tick, liquidity_net, liquidity_gross)` of every initialized tick in the engine's window,
    /// ascending.
    ticks: Vec<(i32, i128, u128)>,
}

/// What the engine's tables hold for `pool`.
fn engine_state(engine: &Engine, pool: Address) -> Seen {
    let pools = engine.pools();
    let id = pools
        .id(&pool)
        .unwrap_or_else(|| panic!("{pool} not in the tables"));
    match pools.cl(id) {
        None => {
            let (r0, r1) = pools.reserves(id).unwrap_or_else(|| panic!("{pool}"));
            Seen::V2(r0, r1)
        }
        Some(v) => Seen::Cl(ClSeen {
            sqrt_price: v.state.sqrt_price_x96,
            tick: v.state.tick,
            liquidity: v.state.liquidity,
            fee: pools.fee_pips(id).unwrap_or_else(|| panic!("{pool}")),
            spacing: v.state.tick_spacing,
            ticks: v.ticks.iter().collect(),
        }),
    }
}

/// What the snapshot says about `pool`.
fn spec_state(market: &MarketSpec, pool: Address) -> Seen {
    let p = market
        .pools
        .iter()
        .find(|p| p.address == pool)
        .unwrap_or_else(|| panic!("{pool} not in the snapshot"));
    match &p.state {
        PoolState::UniswapV2 { reserve0, reserve1 } => Seen::V2(*reserve0, *reserve1),
        PoolState::UniswapV3(s) | PoolState::Algebra(s) => Seen::Cl(ClSeen {
            sqrt_price: s.sqrt_price_x96,
            tick: s.tick,
            liquidity: s.liquidity,
            fee: p.fee_pips,
            spacing: s.tick_spacing,
            ticks: s
                .ticks
                .iter()
                .map(|t| (t.tick, t.liquidity_net, t.liquidity_gross))
                .collect(),
        }),
    }
}

/// Every pool's state on the node at `block`, read with the tools' independent reader: the
/// concentrated pools' initialized ticks over the bitmap words covering the snapshot's window,
/// kept inside that window.
fn read_chain(
    rpc: &Rpc,
    market: &MarketSpec,
    tracked: &HashMap<Address, Tracked>,
    block: u64,
) -> HashMap<Address, Seen> {
    let mut out = HashMap::new();
    let pairs: Vec<Address> = market
        .pools
        .iter()
        .filter(|p| p.kind() == PoolKind::UniswapV2)
        .map(|p| p.address)
        .collect();
    // `getReserves` at the latest block; the caller checks nothing was mined since `block`.
    let reserves = rpc
        .reserves_many(&pairs)
        .unwrap_or_else(|e| panic!("getReserves: {e}"));
    for (&a, (r0, r1)) in pairs.iter().zip(reserves) {
        out.insert(a, Seen::V2(r0.to(), r1.to()));
    }
    for p in &market.pools {
        let (PoolState::UniswapV3(s) | PoolState::Algebra(s)) = &p.state else {
            continue;
        };
        let t = &tracked[&p.address];
        let protocol = t
            .clmm
            .unwrap_or_else(|| panic!("{} is not concentrated", t.label));
        let [lo, hi] = s.window;
        let words = tick_word(lo, s.tick_spacing)..=tick_word(hi, s.tick_spacing);
        let r = read_pool_at(rpc, p.address, protocol, Words::Range(words), block)
            .unwrap_or_else(|e| panic!("read {}: {e}", t.label));
        let ticks = r
            .ticks
            .iter()
            .filter(|k| (lo..=hi).contains(&k.tick))
            .map(|k| (k.tick, k.liquidity_net, k.liquidity_gross))
            .collect();
        out.insert(
            p.address,
            Seen::Cl(ClSeen {
                sqrt_price: U256::from(r.sqrt_price),
                tick: r.tick,
                liquidity: r.liquidity,
                fee: r.fee,
                spacing: r.tick_spacing,
                ticks,
            }),
        );
    }
    out
}

/// The fields where `ours` differs from `node`'s, one line each (empty: equal).
fn diff(ours: &Seen, node: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    match (ours, node) {
        (Seen::V2(a0, a1), Seen::V2(b0, b1)) => {
            if (a0, a1) != (b0, b1) {
                out.push(format!("reserves ({a0}, {a1}), node ({b0}, {b1})"));
            }
        }
        (Seen::Cl(a), Seen::Cl(b)) => {
            let head = |c: &ClSeen| (c.sqrt_price, c.tick, c.liquidity, c.fee, c.spacing);
            if head(a) != head(b) {
                out.push(format!(
                    "(sqrt price, tick, liquidity, fee, spacing) {:?}, node {:?}",
                    head(a),
                    head(b)
                ));
            }
            let ta: BTreeMap<i32, (i128, u128)> =
                a.ticks.iter().map(|&(t, n, g)| (t, (n, g))).collect();
            let tb: BTreeMap<i32, (i128, u128)> =
                b.ticks.iter().map(|&(t, n, g)| (t, (n, g))).collect();
            for t in ta.keys().chain(tb.keys()).collect::<BTreeSet<_>>() {
                match (ta.get(t), tb.get(t)) {
                    (x, y) if x == y => {}
                    (x, y) => out.push(format!("tick {t}: (net, gross) {x:?}, node {y:?}")),
                }
            }
        }
        _ => out.push(format!("kind {ours:?}, node {node:?}")),
    }
    out
}

/// A replay that drops every Mint, Burn and Fee frame must differ from the node on every pool
/// whose ticks or fee changed since the snapshot, and only on pools those frames touched.
/// Returns how many pools it differs on. Without cycles: only the tables matter here.
fn mutant_caught(
    cfg: &Config,
    market: &MarketSpec,
    rec: &Recording,
    chain: &HashMap<Address, Seen>,
) -> usize {
    let mut params = cfg.search_params();
    params.max_cycles = 0;
    let mut mutant = Engine::new(market, params).unwrap_or_else(|e| panic!("{e}"));
    let mut touched = BTreeSet::new();
    for f in &rec.frames {
        if matches!(
            f.kind,
            FrameKind::ClMint | FrameKind::ClBurn | FrameKind::AlgebraFee
        ) {
            touched.insert(Address::from(f.address));
        } else {
            mutant.on_frame(f);
        }
    }
    let mut must = BTreeSet::new();
    let mut flagged = BTreeSet::new();
    for p in &market.pools {
        let node = &chain[&p.address];
        if let (Seen::Cl(before), Seen::Cl(after)) = (spec_state(market, p.address), node)
            && (before.ticks != after.ticks || before.fee != after.fee)
        {
            must.insert(p.address);
        }
        if !diff(&engine_state(&mutant, p.address), node).is_empty() {
            flagged.insert(p.address);
        }
    }
    assert!(
        !must.is_empty() && must.is_subset(&flagged),
        "dropping Mint/Burn/Fee frames went unnoticed on {:?}",
        must.difference(&flagged).collect::<Vec<_>>()
    );
    assert!(
        flagged.is_subset(&touched),
        "dropping Mint/Burn/Fee frames changed pools they do not belong to: {:?}",
        flagged.difference(&touched).collect::<Vec<_>>()
    );
    flagged.len()
}

/// Feeds every frame to the engine; returns the pools that turned stale, with the cause. Fails
/// on any cause the engine does not document: a pool leaves the search only when a swap moves
/// its price out of the loaded window, or a mint finds its tick storage full.
fn replay(
    engine: &mut Engine,
    frames: &[FeedFrame],
    market: &MarketSpec,
) -> BTreeMap<Address, String> {
    let initial_ticks: HashMap<Address, usize> = market
        .pools
        .iter()
        .map(|p| match &p.state {
            PoolState::UniswapV3(s) | PoolState::Algebra(s) => (p.address, s.ticks.len()),
            PoolState::UniswapV2 { .. } => (p.address, 0),
        })
        .collect();
    let mut stale = BTreeMap::new();
    for f in frames {
        let pool = Address::from(f.address);
        let id = engine.pools().id(&pool);
        let was = id.map(|id| engine.pools().staleness(id));
        let ticks_before = id
            .and_then(|id| engine.pools().cl(id))
            .map(|v| (v.ticks.len(), v.ticks.window()));
        let tick_errors = engine.stats().tick_errors;
        engine.on_frame(f);
        let (Some(id), Some(Staleness::Fresh)) = (id, was) else {
            continue;
        };
        let now = engine.pools().staleness(id);
        if now == Staleness::Fresh {
            continue;
        }
        let at = format!("block {} log {}", f.block_number, f.log_index);
        let why = match (f.kind, ticks_before) {
            (FrameKind::ClSwap, Some((_, (lo, hi)))) => {
                let tick = f.tick;
                assert!(
                    !(lo..=hi).contains(&tick),
                    "{pool} turned {now:?} at {at} by a swap to tick {tick} inside its window \
                     [{lo}, {hi}]"
                );
                format!("{at}: a swap moved it to tick {tick}, outside its window [{lo}, {hi}]")
            }
            (FrameKind::ClMint, Some((len, _))) => {
                let cap = initial_ticks[&pool] + TICK_HEADROOM;
                assert!(
                    engine.stats().tick_errors > tick_errors && len + 2 > cap,
                    "{pool} turned {now:?} at {at} by a mint with {len} of {cap} tick slots used"
                );
                format!("{at}: a mint found {len} of its {cap} tick slots used")
            }
            (kind, _) => panic!("{pool} turned {now:?} at {at} on a {kind:?} frame"),
        };
        stale.insert(pool, why);
    }
    stale
}

/// The engine's counters after the replay: nothing rejected, unknown, removed, skipped or
/// refused; every pool log applied except those on pools out of the search.
fn check_counters(s: &EngineStats, rec: &Recording) {
    let pool_logs = rec
        .frames
        .iter()
        .filter(|f| f.kind != FrameKind::NewHead)
        .count() as u64;
    assert_eq!(s.frames, rec.frames.len() as u64, "{s:?}");
    assert_eq!(
        (
            s.rejected,
            s.unknown_pool,
            s.removed,
            s.stale_skipped,
            s.other
        ),
        (0, 0, 0, 0, 0),
        "rejected, unknown pool, removed, stale skipped, other: {s:?}"
    );
    assert_eq!(
        s.syncs + s.cl_swaps + s.positions + s.fees,
        pool_logs,
        "{s:?}"
    );
    assert_eq!(
        s.applied + s.out_of_window + s.tick_errors,
        pool_logs,
        "every pool log is applied, or skipped on a pool out of the search: {s:?}"
    );
    // The real pools' fees are the oracle of the Algebra fee model: every Fee log (a swap's or
    // an in-range mint's or burn's timepoint write) is the fee the model computed.
    let fee_logs = rec
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::AlgebraFee)
        .count() as u64;
    assert!(fee_logs > 0, "the run wrote Algebra timepoints");
    assert_eq!(
        (s.fee_checked, s.fee_models_lost),
        (fee_logs, 0),
        "Fee logs replayed and matched, models lost: {s:?}"
    );
}

/// A recording decoded: every payload a frame.
struct Recording {
    frames: Vec<FeedFrame>,
}

impl Recording {
    fn load(path: &Path) -> Self {
        let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reader = RecordReader::new(BufReader::new(file)).unwrap_or_else(|e| panic!("{e}"));
        let mut frames = Vec::new();
        for (i, r) in reader.enumerate() {
            let r = r.unwrap_or_else(|e| panic!("record {i}: {e}"));
            match decode(&r.payload, r.recv_ns) {
                Ok(Decoded::Frame(f)) => frames.push(f),
                other => panic!(
                    "record {i} is not a tracked frame: {other:?}: {}",
                    String::from_utf8_lossy(&r.payload)
                ),
            }
        }
        Self { frames }
    }

    /// Frames per kind (`FrameKind as u8`).
    fn kind_counts(&self) -> BTreeMap<u8, usize> {
        let mut out = BTreeMap::new();
        for f in &self.frames {
            *out.entry(f.kind as u8).or_insert(0) += 1;
        }
        out
    }

    /// The recording's logs are exactly the node's tracked logs of blocks `(from, to]`, in
    /// order, with a head for every one of those blocks, and nothing removed.
    fn check_against_node(&self, rpc: &Rpc, from: u64, to: u64) {
        assert!(to > from, "no block was mined after the snapshot at {from}");
        let tracked: BTreeSet<B256> = TRACKED_TOPICS.iter().map(|t| B256::from(*t)).collect();
        let mut node = Vec::new();
        let mut start = from + 1;
        while start <= to {
            let end = (start + LOG_CHUNK - 1).min(to);
            let logs = rpc
                .logs(start, end, &[])
                .unwrap_or_else(|e| panic!("eth_getLogs {start}..={end}: {e}"));
            node.extend(
                logs.into_iter()
                    .filter(|l| l.topic0().is_some_and(|t| tracked.contains(&t)))
                    .map(|l| (l.block_number, l.log_index, l.address)),
            );
            start = end + 1;
        }
        let recorded: Vec<(u64, u64, Address)> = self
            .frames
            .iter()
            .filter(|f| f.kind != FrameKind::NewHead)
            .map(|f| {
                assert_eq!(f.removed, 0, "a removed log on a chain without reorgs");
                (
                    f.block_number,
                    u64::from(f.log_index),
                    Address::from(f.address),
                )
            })
            .collect();
        if recorded != node {
            let (r, n): (BTreeSet<_>, BTreeSet<_>) =
                (recorded.iter().collect(), node.iter().collect());
            panic!(
                "the recording's logs are not the node's: {} recorded, {} on the node; missing \
                 {:?}; extra {:?}",
                recorded.len(),
                node.len(),
                n.difference(&r).take(10).collect::<Vec<_>>(),
                r.difference(&n).take(10).collect::<Vec<_>>(),
            );
        }
        let heads: BTreeSet<u64> = self
            .frames
            .iter()
            .filter(|f| f.kind == FrameKind::NewHead)
            .map(|f| f.block_number)
            .collect();
        let want: BTreeSet<u64> = (from + 1..=to).collect();
        assert_eq!(
            heads, want,
            "the recording's heads are not blocks {from}+1..={to}"
        );
    }
}

/// A `polyarb` subcommand in the background, its stderr in a log file in the scratch folder;
/// killed on drop if still running.
struct Proc {
    what: &'static str,
    child: Child,
    log: PathBuf,
    lines: Option<mpsc::Receiver<String>>,
}

impl Proc {
    fn polyarb(what: &'static str, args: &[&OsStr], dir: &Path, read_stdout: bool) -> Self {
        let log = dir.join(format!("{}.log", what.replace(' ', "-")));
        let stderr = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyarb"));
        cmd.args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(if read_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(stderr);
        // The config's values, not the shell's overrides.
        for var in [
            "POLYARB_WS_URL",
            "POLYARB_EXECUTOR",
            "POLYARB_KEY_FILE",
            "POLYARB_PRIVATE_KEY",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        let lines = child.stdout.take().map(|out| {
            let (tx, rx) = mpsc::channel();
            // Reads to the end so the child never blocks on a full pipe.
            thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
            rx
        });
        Self {
            what,
            child,
            log,
            lines,
        }
    }

    /// The tail of the child's stderr, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn wait_line(&mut self, want: &str, timeout: Duration) {
        let start = Instant::now();
        let Some(lines) = &self.lines else {
            panic!("{}: stdout is not read", self.what);
        };
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            match lines.recv_timeout(left) {
                Ok(line) if line.trim() == want => return,
                Ok(_) => {}
                Err(e) => panic!(
                    "{} printed no `{want}` within {:.1?} ({e}); stderr:\n{}",
                    self.what,
                    start.elapsed(),
                    self.log_tail()
                ),
            }
        }
    }

    /// SIGINT, by `kill -INT <pid>` (no unsafe in this crate's tests).
    fn interrupt(&mut self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -INT {pid} ({}) failed", self.what);
    }

    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if start.elapsed() < timeout => thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!(
                    "{} still running after {:.1?}; stderr:\n{}",
                    self.what,
                    timeout,
                    self.log_tail()
                ),
                Err(e) => panic!("wait for {}: {e}", self.what),
            }
        }
    }

    fn expect_success(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert!(
            status.success(),
            "{} failed: {status}; stderr:\n{}",
            self.what,
            self.log_tail()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
