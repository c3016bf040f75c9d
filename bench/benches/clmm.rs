//! Concentrated-liquidity pools on the hot path, each group with its baseline in the same run.
//!
//! `cargo bench -p polyarb-bench --bench clmm` (one group: append a filter, e.g. `-- clmm_swap/`)
//!
//! - `clmm_swap/cross_{0,1,10}_ticks`: one exact-input swap (token0 in, widest limit) of a
//!   Uniswap V3 pool (fee 0.3 %, spacing 60) laid out so that it crosses exactly 0, 1 or 10
//!   initialized ticks (1, 2 and 11 loop steps). `polyarb_swap_tick_slice`: `clmm::swap::swap`
//!   over the engine's `TickSlice`; `polyarb_swap_tick_bitmap`: the same over the reference
//!   `TickBitmap` (BTreeMap words); `uniswap_v3_math_baseline`: the pool's swap loop over
//!   `uniswap_v3_math` 0.6.2 (its `compute_swap_step`, tick math, `HashMap` bitmap,
//!   `add_delta`). Before timing, the three must give the same amounts, price, tick and
//!   liquidity, and cross that many ticks.
//! - `search_10k/*`: one log in, best routes out: `Engine::on_frame` for one `Sync` (V2) or
//!   `Swap` (V3, Algebra) frame, on a generated table of 10,000 pools (see `src/clmm_cases.rs`),
//!   for a pool of each kind on the busiest hub pair (`*_hub`, WMATIC/USDC) and on a long-tail
//!   token (`*_tail`, WMATIC/T0). Each iteration hands the engine the next of two
//!   frames that move the pool's price 1 % below and 1 % above its snapshot price, with rising
//!   (block, log index), so every frame is applied, opens a gap and is searched; the tables
//!   return to the same state every two iterations. The time is the mean of the two: apply
//!   the state, refresh the pool's screen rates, screen every cycle through the pool, size the
//!   candidates exactly and build up to 4 routes. `frame_loop_overhead_baseline`: handing out
//!   the frames without the engine.

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};

#[path = "../src/clmm_cases.rs"]
mod cases;

use cases::{CROSSINGS, LadderPool, Table};

fn quick(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn swap_benches(c: &mut Criterion) {
    let pool = LadderPool::new();
    let slice = pool.columns.slice();
    for crossings in CROSSINGS {
        // Checks ticks crossed and equality with the baseline (panics otherwise).
        let case = pool.case(crossings);
        println!(
            "clmm_swap/cross_{}_ticks: {} loop steps, {} wei of token0 in",
            case.crossings, case.steps, case.amount_in
        );
        let mut g = c.benchmark_group(format!("clmm_swap/cross_{crossings}_ticks"));
        quick(&mut g);
        g.bench_function("polyarb_swap_tick_slice", |b| {
            b.iter(|| pool.ours(black_box(&slice), black_box(case.amount_in)))
        });
        g.bench_function("polyarb_swap_tick_bitmap", |b| {
            b.iter(|| pool.ours(black_box(&pool.bitmap), black_box(case.amount_in)))
        });
        g.bench_function("uniswap_v3_math_baseline", |b| {
            b.iter(|| pool.baseline(black_box(case.amount_in)))
        });
        g.finish();
    }
}

fn search_benches(c: &mut Criterion, table: &Table) {
    let mut engine = table.engine();
    let r = engine.build_report();
    println!(
        "table: {} pools (V2 {}, Uniswap V3 {}, Algebra {}; {} initialized ticks), {} tokens, \
         {} cycles stored ({} more not stored: the engine's cycle cap)",
        engine.pool_count(),
        table.kinds[0],
        table.kinds[1],
        table.kinds[2],
        table.cl_ticks,
        engine.token_count(),
        r.cycles,
        r.cycles_dropped,
    );
    for case in &table.cases {
        let mut frames = case.frames.clone();
        // Warm the tables, check that every frame opens a gap, and say what a frame does.
        let before = *engine.stats();
        let n = 10u32;
        let mut routes = [0usize; 2];
        for _ in 0..n {
            let dir = frames.next_index();
            let k = engine.on_frame(frames.next_frame()).len();
            assert!(k > 0, "{}: a 1 % move opens no route", case.name);
            routes[dir] += k;
        }
        let s = *engine.stats();
        black_box(engine.on_frame(frames.restore()));
        let half = f64::from(n / 2);
        println!(
            "search_10k/{}: {}; per frame: {:.1} routes after a move down, {:.1} up; {} cycles \
             screened (all passes), {} sized",
            case.name,
            case.what,
            routes[0] as f64 / half,
            routes[1] as f64 / half,
            (s.screened - before.screened) / u64::from(n),
            (s.sized - before.sized) / u64::from(n),
        );
        let mut g = c.benchmark_group(format!("search_10k/{}", case.name));
        // A frame on a hub pool takes tens of ms: fewer, longer samples.
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4))
            .sample_size(10);
        g.bench_function("on_frame", |b| {
            b.iter(|| engine.on_frame(black_box(frames.next_frame())).len())
        });
        g.bench_function("frame_loop_overhead_baseline", |b| {
            b.iter(|| black_box(frames.next_frame()).log_index)
        });
        g.finish();
        // Leave the table as the next case expects it: this pool back at its snapshot state.
        black_box(engine.on_frame(frames.restore()));
    }
}

fn main() {
    let table = cases::table();
    let mut c = Criterion::default().configure_from_args();
    swap_benches(&mut c);
    search_benches(&mut c, &table);
    c.final_summary();
}
