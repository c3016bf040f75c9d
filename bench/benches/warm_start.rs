//! What a warm restart (`polyarb run --resume FILE`) and a snapshot export on request (SIGUSR1)
//! cost locally, on a synthetic market of 1,000 and 10,000 pools (`src/synthetic.rs`), with a
//! bare JSON parse of the same file as the baseline in the same run.
//!
//! `cargo bench -p polyarb-bench --bench warm_start` (one size: append a filter, e.g. `-- 10k`;
//! HTML plots are off unless `-- --plotting-backend plotters` asks for them)
//!
//! - `warm_start_{1k,10k}/resume`: `snapshot::from_json` of the file text, then
//!   `Engine::new(&market, params)` with the default `SearchParams` (`max_cycles` 1,000,000):
//!   what `polyarb run --resume` does besides talking to the node. Its two halves alone
//!   (`from_json`, `engine_new`), and `snapshot_tip`: the second parse of the same text resume
//!   makes to read the file's chain tip. `serde_json_value_baseline`: the text parsed into a
//!   `serde_json::Value`, the floor for reading the file at all.
//! - `warm_start_{1k,10k}/export`: `market_spec_chain_tip`, the engine stage's pause when
//!   SIGUSR1 asks for a snapshot (`Engine::market_spec` plus `Engine::chain_tip`);
//!   `to_json_at`, the housekeeping thread's serialisation of it (the file write and rename
//!   are not timed); `serde_json_value_to_string_baseline`: the parsed `Value` written back
//!   as pretty JSON, the floor for writing the same document.
//!
//! Every routine's result is dropped outside the timing (`BatchSize::PerIteration`): the
//! resumed engine and market live on, and an export's market is dropped on the writer thread.
//!
//! Not measured: the node's part of a resume (connecting, the chain tip's header, the
//! executor's capital, the backfill of the blocks since the snapshot, which grows with the
//! blocks missed, not with the pools) and the engine's first searches.
//!
//! Before timing, each size prints the file size, the market, the cycles, and a quick
//! wall-clock run (median of 3) with the ratio of resume to the baseline, so the numbers are
//! in the log without criterion's folder.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use polyarb_bench::synthetic::{self, CHAIN_ID};
use polyarb_core::{ChainTip, Engine, MarketSpec, PoolKind, PoolState};
use polyarb_engine::snapshot;

/// Seed of the synthetic markets.
const SEED: u64 = 0x7761_726d_2d73_7461;
/// Market sizes, pools, and their names in the group ids.
const SIZES: [(usize, &str); 2] = [(1_000, "1k"), (10_000, "10k")];

/// Routines of up to half a second: ten samples of equal iteration counts (at least one
/// iteration each, so a 10k resume takes ~4 s whatever the measurement time). The whole bench
/// then takes about a minute and a half on a loaded 2-vCPU VM.
fn slow(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat);
}

/// One market size: the market, the snapshot file a running engine would write of it, and an
/// engine built from it.
struct Case {
    name: &'static str,
    market: MarketSpec,
    tip: ChainTip,
    text: String,
    engine: Engine,
}

impl Case {
    fn new(pools: usize, name: &'static str) -> Self {
        let market = synthetic::market(pools, SEED);
        let engine = Engine::new(&market, synthetic::search_params()).expect("the market builds");
        let tip = synthetic::tip(&market);
        // What the export writes (`snapshot::write_at` adds a newline), of the engine's tables.
        let text = snapshot::to_json_at(&engine.market_spec(), Some(CHAIN_ID), Some(tip)) + "\n";
        let (back, _) = snapshot::from_json(&text).expect("the export reads back");
        assert_eq!(back, market, "the export is the market");
        Self {
            name,
            market,
            tip,
            text,
            engine,
        }
    }

    fn resume(&self) -> (MarketSpec, Engine) {
        let (market, _) = snapshot::from_json(&self.text).expect("reads");
        let engine = Engine::new(&market, synthetic::search_params()).expect("builds");
        (market, engine)
    }

    fn export(&self) -> (MarketSpec, Option<ChainTip>) {
        (self.engine.market_spec(), self.engine.chain_tip())
    }

    fn write(&self, spec: &MarketSpec) -> String {
        snapshot::to_json_at(spec, Some(CHAIN_ID), Some(self.tip))
    }

    fn baseline(&self) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&self.text).expect("JSON")
    }
}

/// Median wall-clock time of 3 runs of `f` (its result dropped outside the timing).
fn median3<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut t: Vec<Duration> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let out = black_box(f());
            let took = started.elapsed();
            drop(out);
            took
        })
        .collect();
    t.sort();
    t[1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints what the case is and a quick wall-clock measurement of each routine.
fn describe(case: &Case) {
    let m = &case.market;
    let kind = |k| m.pools.iter().filter(|p| p.kind() == k).count();
    let ticks: usize = m
        .pools
        .iter()
        .map(|p| match &p.state {
            PoolState::UniswapV3(s) | PoolState::Algebra(s) => s.ticks.len(),
            PoolState::UniswapV2 { .. } => 0,
        })
        .sum();
    let r = case.engine.build_report();
    println!(
        "warm_start_{}: snapshot {:.1} MB; {} pools (V2 {}, Uniswap V3 {}, Algebra {}; {} \
         initialized ticks; {} with a last_log), {} tokens; Engine::new keeps {} cycles and \
         counts {} more past max_cycles",
        case.name,
        case.text.len() as f64 / 1e6,
        m.pools.len(),
        kind(PoolKind::UniswapV2),
        kind(PoolKind::UniswapV3),
        kind(PoolKind::Algebra),
        ticks,
        m.pools.iter().filter(|p| p.last_log.is_some()).count(),
        m.tokens.len(),
        r.cycles,
        r.cycles_dropped,
    );
    let from_json = median3(|| snapshot::from_json(&case.text).expect("reads"));
    let engine_new = median3(|| Engine::new(m, synthetic::search_params()).expect("builds"));
    // Without triangles and 4-hop loops: how much of Engine::new the cycles take.
    let two_hop = median3(|| {
        let mut p = synthetic::search_params();
        p.max_hops = 2;
        Engine::new(m, p).expect("builds")
    });
    let resume = median3(|| case.resume());
    let tip = median3(|| snapshot::tip(&case.text).expect("reads"));
    let baseline = median3(|| case.baseline());
    println!(
        "warm_start_{} (wall clock, median of 3): resume {:.1} ms (from_json {:.1} + \
         Engine::new {:.1}; Engine::new with max_hops 2: {:.1}), snapshot_tip {:.1} ms; \
         serde_json Value baseline {:.1} ms; resume / baseline = {:.1}",
        case.name,
        ms(resume),
        ms(from_json),
        ms(engine_new),
        ms(two_hop),
        ms(tip),
        ms(baseline),
        resume.as_secs_f64() / baseline.as_secs_f64(),
    );
    let export = median3(|| case.export());
    let spec = case.engine.market_spec();
    let write = median3(|| case.write(&spec));
    let value = case.baseline();
    let write_baseline = median3(|| serde_json::to_string_pretty(&value).expect("JSON"));
    println!(
        "warm_start_{} (wall clock, median of 3): export pause (market_spec + chain_tip) {:.1} \
         ms; to_json_at {:.1} ms; serde_json Value to_string_pretty baseline {:.1} ms",
        case.name,
        ms(export),
        ms(write),
        ms(write_baseline),
    );
}

fn resume_benches(c: &mut Criterion, case: &Case) {
    let mut g = c.benchmark_group(format!("warm_start_{}/resume", case.name));
    slow(&mut g);
    g.bench_function("resume", |b| {
        b.iter_batched(|| (), |()| case.resume(), BatchSize::PerIteration)
    });
    g.bench_function("from_json", |b| {
        b.iter_batched(
            || (),
            |()| snapshot::from_json(black_box(&case.text)).expect("reads"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("engine_new", |b| {
        b.iter_batched(
            synthetic::search_params,
            |p| Engine::new(black_box(&case.market), p).expect("builds"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("snapshot_tip", |b| {
        b.iter_batched(
            || (),
            |()| snapshot::tip(black_box(&case.text)).expect("reads"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("serde_json_value_baseline", |b| {
        b.iter_batched(|| (), |()| case.baseline(), BatchSize::PerIteration)
    });
    g.finish();
}

fn export_benches(c: &mut Criterion, case: &Case) {
    let spec = case.engine.market_spec();
    let value = case.baseline();
    let mut g = c.benchmark_group(format!("warm_start_{}/export", case.name));
    slow(&mut g);
    g.bench_function("market_spec_chain_tip", |b| {
        b.iter_batched(|| (), |()| case.export(), BatchSize::PerIteration)
    });
    g.bench_function("to_json_at", |b| {
        b.iter_batched(
            || (),
            |()| case.write(black_box(&spec)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("serde_json_value_to_string_baseline", |b| {
        b.iter_batched(
            || (),
            |()| serde_json::to_string_pretty(black_box(&value)).expect("JSON"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn main() {
    // No HTML plots unless asked for (`-- --plotting-backend plotters`): on a loaded 2-vCPU VM
    // drawing them took two of this bench's three minutes (1m04 with `--noplot`, 2m11–3m14
    // with plots).
    let mut c = Criterion::default().without_plots().configure_from_args();
    for (pools, name) in SIZES {
        let case = Case::new(pools, name);
        describe(&case);
        resume_benches(&mut c, &case);
        export_benches(&mut c, &case);
    }
    c.final_summary();
}
