//! The engine with concentrated-liquidity pools: tables built from a snapshot's state, kept in
//! step by `Swap`, `Mint`, `Burn` and `Fee` frames (checked against the reference tick bitmap
//! after every event), mixed V2/V3/Algebra routes priced exactly, and bad frames counted without
//! touching the pool or, where the tables can no longer follow the chain, taking it out of the
//! search.
//!
//! The amounts' oracle here is the reference `TickBitmap` walked by `quote_exact_in` from the
//! state the test itself tracks (not the engine's tick columns) and the V2 pair formula; that
//! `clmm::swap` equals the real contracts is proven against their bytecode elsewhere.

use alloy_primitives::{Address, I256, U256};
use polyarb_core::clmm::algebra_fee::{DataStorage, FeeConfig, RING_SIZE, volume_per_liquidity};
use polyarb_core::clmm::swap::{PoolState, SwapKind, quote_exact_in};
use polyarb_core::clmm::tick_math::{sqrt_ratio_at_tick, tick_at_sqrt_ratio};
use polyarb_core::clmm::ticks::{TickBitmap, TickRules};
use polyarb_core::{
    AlgebraFeeSpec, ClStateSpec, DexSpec, Engine, FeedFrame, FrameKind, MarketSpec,
    OpportunityFrame, PoolKind, PoolSpec, PoolState as SpecState, SearchParams, TickSpec,
    TokenSpec, get_amount_out,
};

const SNAPSHOT: u64 = 100;
const A: Address = Address::with_last_byte(1); // native, token0 of every pool
const B: Address = Address::with_last_byte(2);
const V2: Address = Address::with_last_byte(0x10);
const V3: Address = Address::with_last_byte(0x11);
const ALG: Address = Address::with_last_byte(0x12);
const E18: u128 = 1_000_000_000_000_000_000;

/// A concentrated pool as the test tracks it, independently of the engine.
struct Model {
    rules: TickRules,
    ticks: TickBitmap,
    state: PoolState,
    kind: SwapKind,
}

impl Model {
    /// A pool at `tick`'s price with the given positions `(lower, upper, liquidity)`.
    fn new(kind: SwapKind, rules: TickRules, tick: i32, positions: &[(i32, i32, u128)]) -> Self {
        let mut ticks = TickBitmap::new(rules);
        let mut liquidity = 0;
        for &(lo, hi, l) in positions {
            ticks.mint(tick, &mut liquidity, lo, hi, l).unwrap();
        }
        let state = PoolState {
            sqrt_price_x96: sqrt_ratio_at_tick(tick).unwrap(),
            tick,
            liquidity,
            tick_spacing: rules.spacing,
        };
        Self {
            rules,
            ticks,
            state,
            kind,
        }
    }

    /// The snapshot state, with the window `[lo, hi]`.
    fn spec(&self, lo: i32, hi: i32) -> ClStateSpec {
        ClStateSpec {
            sqrt_price_x96: self.state.sqrt_price_x96,
            tick: self.state.tick,
            liquidity: self.state.liquidity,
            tick_spacing: self.state.tick_spacing,
            window: [lo, hi],
            ticks: self
                .ticks
                .iter()
                .filter(|&(t, _)| (lo..=hi).contains(&t))
                .map(|(tick, i)| TickSpec {
                    tick,
                    liquidity_net: i.liquidity_net,
                    liquidity_gross: i.liquidity_gross,
                })
                .collect(),
            fee_model: None,
        }
    }

    fn clone_state(&self) -> Self {
        Self {
            rules: self.rules,
            ticks: self.ticks.clone(),
            state: self.state,
            kind: self.kind,
        }
    }

    fn quote(&self, zero_for_one: bool, amount_in: u128) -> u128 {
        quote_exact_in(self.kind, &self.state, &self.ticks, zero_for_one, amount_in).unwrap()
    }
}

fn word_i24(v: i32) -> [u8; 32] {
    let mut w = [if v < 0 { 0xff } else { 0 }; 32];
    w[28..].copy_from_slice(&v.to_be_bytes());
    w
}

fn word_u(v: U256) -> [u8; 32] {
    v.to_be_bytes()
}

fn log(kind: FrameKind, pool: Address, block: u64, log_index: u32) -> FeedFrame {
    FeedFrame {
        kind,
        address: pool.into_array(),
        block_number: block,
        log_index,
        recv_ns: 7,
        ..FeedFrame::EMPTY
    }
}

fn swap_frame(
    pool: Address,
    block: u64,
    i: u32,
    price: U256,
    liquidity: u128,
    tick: i32,
) -> FeedFrame {
    let mut f = log(FrameKind::ClSwap, pool, block, i);
    f.words[0] = word_u(price);
    f.words[1] = word_u(U256::from(liquidity));
    f.tick = tick;
    f
}

fn position_frame(
    mint: bool,
    pool: Address,
    block: u64,
    i: u32,
    lo: i32,
    hi: i32,
    l: u128,
) -> FeedFrame {
    let kind = if mint {
        FrameKind::ClMint
    } else {
        FrameKind::ClBurn
    };
    let mut f = log(kind, pool, block, i);
    f.words[0] = word_i24(lo);
    f.words[1] = word_i24(hi);
    f.words[2] = word_u(U256::from(l));
    f
}

fn fee_frame(pool: Address, block: u64, i: u32, fee: u64) -> FeedFrame {
    let mut f = log(FrameKind::AlgebraFee, pool, block, i);
    f.words[0] = word_u(U256::from(fee));
    f
}

/// Positions of the V3 pool (spacing 60) around tick 6_960 (price ≈ 2 B per A).
const V3_POSITIONS: [(i32, i32, u128); 3] = [
    (-887_220, 887_220, 2_000 * E18),
    (6_000, 7_980, 50_000 * E18),
    (6_900, 7_020, 20_000 * E18),
];
/// Algebra (spacing 60) around the same price.
const ALG_POSITIONS: [(i32, i32, u128); 2] = [
    (-887_220, 887_220, 3_000 * E18),
    (6_600, 7_320, 40_000 * E18),
];
const START_TICK: i32 = 6_960;
const WINDOW: (i32, i32) = (-887_272, 887_272);

fn models() -> (Model, Model) {
    let v3 = Model::new(
        SwapKind::UniswapV3 { fee_pips: 3_000 },
        TickRules::uniswap_v3(60).unwrap(),
        START_TICK,
        &V3_POSITIONS,
    );
    let alg = Model::new(
        SwapKind::Algebra { fee: 500 },
        TickRules::algebra(),
        START_TICK,
        &ALG_POSITIONS,
    );
    (v3, alg)
}

/// A (native) and B; a V2 pair at 2 B per A, a V3 pool and an Algebra pool near that price.
fn market(v3: &Model, alg: &Model) -> MarketSpec {
    let token = |address, symbol: &str| TokenSpec {
        address,
        symbol: symbol.into(),
        decimals: 18,
    };
    let dex = |name: &str, kind, byte| DexSpec {
        name: name.into(),
        factory: Address::with_last_byte(byte),
        kind,
        flash_swap: true,
    };
    let price = f64::from(sqrt_ratio_at_tick(START_TICK).unwrap()) / 2f64.powi(96);
    let r0 = 1_000_000 * E18;
    let r1 = (r0 as f64 * price * price) as u128;
    MarketSpec {
        block: SNAPSHOT,
        base_fee: 1,
        tokens: vec![token(A, "A"), token(B, "B")],
        dexes: vec![
            dex("v2", PoolKind::UniswapV2, 0xf0),
            dex("v3", PoolKind::UniswapV3, 0xf1),
            dex("alg", PoolKind::Algebra, 0xf2),
        ],
        pools: vec![
            PoolSpec::v2(V2, 0, A, B, 3_000, r0, r1),
            PoolSpec {
                address: V3,
                dex: 1,
                token0: A,
                token1: B,
                fee_pips: 3_000,
                state: SpecState::UniswapV3(v3.spec(WINDOW.0, WINDOW.1)),
                last_log: None,
                stale: Default::default(),
            },
            PoolSpec {
                address: ALG,
                dex: 2,
                token0: A,
                token1: B,
                fee_pips: 500,
                state: SpecState::Algebra(alg.spec(WINDOW.0, WINDOW.1)),
                last_log: None,
                stale: Default::default(),
            },
        ],
        capital: Vec::new(),
        lenders: Vec::new(),
    }
}

fn params() -> SearchParams {
    let mut p = SearchParams::new(A, vec![A, B]);
    p.tip_wei = 0;
    p.gas.base = 40_000;
    p.gas.per_hop = [50_000, 70_000, 90_000];
    p.gas.per_tick = [0, 20_000, 30_000];
    p
}

/// The engine's view of a concentrated pool equals the model: price, tick, liquidity and every
/// initialized tick with its net and gross liquidity.
fn assert_same(e: &Engine, pool: Address, m: &Model) {
    let pools = e.pools();
    let v = pools.cl(pools.id(&pool).unwrap()).unwrap();
    assert_eq!(v.state, m.state, "state of {pool}");
    let engine: Vec<(i32, i128, u128)> = v.ticks.iter().collect();
    let model: Vec<(i32, i128, u128)> = m
        .ticks
        .iter()
        .map(|(t, i)| (t, i.liquidity_net, i.liquidity_gross))
        .collect();
    assert_eq!(engine, model, "ticks of {pool}");
}

/// Recomputes every hop of `o` from the test's own models and the V2 formula.
fn check_route(o: &OpportunityFrame, v2: (u128, u128), v3: &Model, alg: &Model) {
    let mut amount = o.amount_in;
    let mut at = Address::from(o.token_in);
    for h in o.hops() {
        let zfo = h.zero_for_one == 1;
        assert_eq!(at, if zfo { A } else { B }, "hop input token");
        let out = match Address::from(h.pool) {
            V2 => {
                assert_eq!(h.kind, PoolKind::UniswapV2 as u8);
                let (r_in, r_out) = if zfo { v2 } else { (v2.1, v2.0) };
                get_amount_out(amount, r_in, r_out, 3_000)
            }
            V3 => {
                assert_eq!(h.kind, PoolKind::UniswapV3 as u8);
                v3.quote(zfo, amount)
            }
            ALG => {
                assert_eq!(h.kind, PoolKind::Algebra as u8);
                alg.quote(zfo, amount)
            }
            other => panic!("unknown pool {other}"),
        };
        assert_eq!(h.amount_out, out, "hop through {}", Address::from(h.pool));
        amount = out;
        at = if zfo { B } else { A };
    }
    assert_eq!(at, Address::from(o.token_in), "route closes");
    assert_eq!(o.profit, amount - o.amount_in);
}

#[test]
fn snapshot_state_is_loaded_exactly() {
    let (v3, alg) = models();
    let e = Engine::new(&market(&v3, &alg), params()).unwrap();
    assert_same(&e, V3, &v3);
    assert_same(&e, ALG, &alg);
    assert_eq!(
        e.pools().kind(e.pools().id(&ALG).unwrap()),
        Some(PoolKind::Algebra)
    );
    assert_eq!(e.pools().fee_pips(e.pools().id(&ALG).unwrap()), Some(500));
}

#[test]
fn mints_and_burns_keep_the_ticks_equal_to_the_reference() {
    let (mut v3, alg) = models();
    let mut e = Engine::new(&market(&v3, &alg), params()).unwrap();
    // In range, out of range, on ticks already initialized and new ones, partial and full
    // burns (the last burn uninitializes 6_900 and 7_020).
    let steps: [(bool, i32, i32, u128); 8] = [
        (true, 6_840, 7_080, 7 * E18),
        (true, 8_040, 9_000, 3 * E18),
        (true, -120, 60, 11 * E18),
        (false, 6_840, 7_080, 2 * E18),
        (true, 6_900, 7_020, E18),
        (false, 8_040, 9_000, 3 * E18),
        (false, 6_840, 7_080, 5 * E18),
        (false, 6_900, 7_020, 20_001 * E18),
    ];
    for (k, &(mint, lo, hi, l)) in steps.iter().enumerate() {
        let f = position_frame(mint, V3, SNAPSHOT + 1, k as u32, lo, hi, l);
        let _ = e.on_frame(&f);
        let (t, mut liq) = (v3.state.tick, v3.state.liquidity);
        if mint {
            v3.ticks.mint(t, &mut liq, lo, hi, l).unwrap();
        } else {
            v3.ticks.burn(t, &mut liq, lo, hi, l).unwrap();
        }
        v3.state.liquidity = liq;
        assert_same(&e, V3, &v3);
    }
    assert!(
        v3.ticks.tick(6_900).is_none(),
        "fully burned ticks are gone"
    );
    let s = e.stats();
    assert_eq!(
        (s.positions, s.applied, s.tick_errors, s.rejected),
        (8, 8, 0, 0)
    );
    assert!(!e.pool_is_stale(&V3).unwrap());
}

#[test]
fn a_swap_opens_a_gap_and_the_route_is_exact_across_kinds() {
    let (mut v3, alg) = models();
    let spec = market(&v3, &alg);
    let v2 = match spec.pools[0].state {
        SpecState::UniswapV2 { reserve0, reserve1 } => (reserve0, reserve1),
        _ => unreachable!(),
    };
    // Routes priced through each other (`chain_routes`): the second is checked on the pools as
    // the first leaves them.
    let mut e = Engine::new(
        &spec,
        SearchParams {
            chain_routes: true,
            ..params()
        },
    )
    .unwrap();
    // Someone sells 1,000 A into the V3 pool: its price falls past the initialized tick 6_900.
    let r = polyarb_core::clmm::swap::swap(
        v3.kind,
        &v3.state,
        &v3.ticks,
        true,
        alloy_primitives::I256::try_from(1_000 * E18).unwrap(),
        sqrt_ratio_at_tick(-887_272).unwrap() + U256::from(1u8),
    )
    .unwrap();
    assert!(r.ticks_crossed >= 1 && r.tick < 6_900, "{r:?}");
    v3.state = PoolState {
        sqrt_price_x96: r.sqrt_price_x96,
        tick: r.tick,
        liquidity: r.liquidity,
        tick_spacing: 60,
    };
    let f = swap_frame(V3, SNAPSHOT + 1, 0, r.sqrt_price_x96, r.liquidity, r.tick);
    let routes = e.on_frame(&f).to_vec();
    assert_same(&e, V3, &v3);
    let best = *routes
        .first()
        .expect("a gap between the V3 pool and the others");
    check_route(&best, v2, &v3, &alg);
    // Buy A cheap on V3 (B in), sell it where it is dear.
    let v3_hop = best
        .hops()
        .iter()
        .find(|h| h.pool == V3.into_array())
        .unwrap();
    assert_eq!(v3_hop.zero_for_one, 0);
    // The gas budget counts each hop by kind and every tick crossed (base fee 1 wei, no tip).
    let p = params();
    for o in &routes {
        let expect = p.gas.base
            + o.hops()
                .iter()
                .map(|h| {
                    p.gas.per_hop[usize::from(h.kind)]
                        + p.gas.per_tick[usize::from(h.kind)] * u32::from(h.ticks_crossed)
                })
                .sum::<u32>();
        assert_eq!(o.gas_budget, expect);
        assert_eq!(o.gas_cost_native, u128::from(expect));
        assert!(o.profit_native > o.gas_cost_native);
        assert_eq!((o.block_number, o.log_index), (SNAPSHOT + 1, 0));
    }
    assert!(
        routes
            .iter()
            .flat_map(|o| o.hops())
            .any(|h| h.ticks_crossed > 0),
        "some route crosses a tick back"
    );
    // The second route is priced on the pools as the first leaves them.
    let [first, second, ..] = routes.as_slice() else {
        panic!("two routes: {routes:?}");
    };
    let mut moved = v3.clone_state();
    let r = polyarb_core::clmm::swap::swap(
        moved.kind,
        &moved.state,
        &moved.ticks,
        false,
        alloy_primitives::I256::try_from(first.hops()[0].amount_out).unwrap(),
        sqrt_ratio_at_tick(887_272).unwrap() - U256::from(1u8),
    )
    .unwrap();
    moved.state = PoolState {
        sqrt_price_x96: r.sqrt_price_x96,
        tick: r.tick,
        liquidity: r.liquidity,
        tick_spacing: 60,
    };
    let r0 = v2.0 + first.amount_in;
    let r1 = v2.1 - first.hops()[0].amount_out;
    check_route(second, (r0, r1), &moved, &alg);
}

#[test]
fn algebra_fee_events_change_the_price_of_its_hops() {
    let (v3, mut alg) = models();
    let mut e = Engine::new(&market(&v3, &alg), params()).unwrap();
    let _ = e.on_frame(&fee_frame(ALG, SNAPSHOT + 1, 0, 7_550));
    alg.kind = SwapKind::Algebra { fee: 7_550 };
    let id = e.pools().id(&ALG).unwrap();
    assert_eq!(e.pools().fee_pips(id), Some(7_550));
    assert_eq!(e.pools().cl(id).unwrap().kind, alg.kind);
    // Too wide for uint16: refused, fee unchanged.
    let _ = e.on_frame(&fee_frame(ALG, SNAPSHOT + 1, 1, 70_000));
    assert_eq!(e.pools().fee_pips(id), Some(7_550));
    // A Fee log from a Uniswap V3 pool is no fee change.
    let _ = e.on_frame(&fee_frame(V3, SNAPSHOT + 1, 2, 1));
    assert_eq!(e.pools().fee_pips(e.pools().id(&V3).unwrap()), Some(3_000));
    let s = e.stats();
    assert_eq!((s.fees, s.applied, s.rejected), (3, 1, 2));
}

#[test]
fn bad_concentrated_frames_are_counted_and_never_corrupt_a_pool() {
    let (v3, alg) = models();
    let mut e = Engine::new(&market(&v3, &alg), params()).unwrap();
    let p = v3.state;
    let b = SNAPSHOT + 1;
    // A tick that does not hold the price; a price out of range; a Swap from a V2 pair; a
    // Mint at ticks off the spacing; an unknown pool: each refused, state untouched.
    assert!(
        e.on_frame(&swap_frame(
            V3,
            b,
            0,
            p.sqrt_price_x96,
            p.liquidity,
            p.tick + 500
        ))
        .is_empty()
    );
    assert!(
        e.on_frame(&swap_frame(V3, b, 1, U256::from(1u8), p.liquidity, p.tick))
            .is_empty()
    );
    assert!(
        e.on_frame(&swap_frame(V2, b, 2, p.sqrt_price_x96, p.liquidity, p.tick))
            .is_empty()
    );
    let mut wide_tick = swap_frame(V3, b, 3, p.sqrt_price_x96, p.liquidity, p.tick);
    wide_tick.tick = 1 << 23; // not an int24
    assert!(e.on_frame(&wide_tick).is_empty());
    assert!(
        e.on_frame(&swap_frame(
            Address::with_last_byte(0x99),
            b,
            4,
            p.sqrt_price_x96,
            1,
            p.tick
        ))
        .is_empty()
    );
    assert_same(&e, V3, &v3);
    let s = *e.stats();
    assert_eq!(
        (s.cl_swaps, s.rejected, s.unknown_pool, s.applied),
        (5, 4, 1, 0)
    );

    // A log at or before the snapshot block, or behind the pool's last one: skipped.
    assert!(
        e.on_frame(&swap_frame(
            V3,
            SNAPSHOT,
            9,
            p.sqrt_price_x96,
            p.liquidity,
            p.tick
        ))
        .is_empty()
    );
    assert_eq!(e.stats().stale_skipped, 1);

    // A Mint off the spacing: the tick columns refuse it and the pool leaves the search
    // until it is reloaded; no other pool is touched.
    assert!(
        e.on_frame(&position_frame(true, V3, b, 10, 6_001, 7_000, E18))
            .is_empty()
    );
    assert_eq!(e.stats().tick_errors, 1);
    assert!(e.pool_is_stale(&V3).unwrap());
    assert_same(&e, ALG, &alg);

    // Burning liquidity at a tick the Algebra pool never initialized: refused the same way.
    assert!(
        e.on_frame(&position_frame(false, ALG, b, 11, 1_200, 2_400, E18))
            .is_empty()
    );
    assert_eq!(e.stats().tick_errors, 2);
    assert!(e.pool_is_stale(&ALG).unwrap());
}

#[test]
fn a_swap_past_the_loaded_window_takes_the_pool_out_of_the_search() {
    let (v3, alg) = models();
    let mut spec = market(&v3, &alg);
    // Load only [6_000, 7_980] for the V3 pool.
    spec.pools[1].state = SpecState::UniswapV3(v3.spec(6_000, 7_980));
    let mut e = Engine::new(&spec, params()).unwrap();
    let tick = 9_000;
    let price = sqrt_ratio_at_tick(tick).unwrap();
    assert_eq!(tick_at_sqrt_ratio(price).unwrap(), tick);
    assert!(
        e.on_frame(&swap_frame(V3, SNAPSHOT + 1, 0, price, 2_000 * E18, tick))
            .is_empty()
    );
    assert_eq!(e.stats().out_of_window, 1);
    assert!(e.pool_is_stale(&V3).unwrap());
}

#[test]
fn removed_logs_mark_pools_stale_by_what_they_undo() {
    let (v3, alg) = models();
    // Without the undo journal (tests/reorg.rs has it): what a removed log can still say.
    let no_journal = SearchParams {
        reorg_depth: 0,
        ..params()
    };
    let mut e = Engine::new(&market(&v3, &alg), no_journal).unwrap();
    let p = v3.state;
    // A removed Swap: the next Swap carries the whole state again.
    let mut gone = swap_frame(V3, SNAPSHOT + 2, 0, p.sqrt_price_x96, p.liquidity, p.tick);
    gone.removed = 1;
    assert!(e.on_frame(&gone).is_empty());
    assert!(e.pool_is_stale(&V3).unwrap());
    let _ = e.on_frame(&swap_frame(
        V3,
        SNAPSHOT + 2,
        0,
        p.sqrt_price_x96,
        p.liquidity,
        p.tick,
    ));
    assert!(!e.pool_is_stale(&V3).unwrap());
    // A removed Mint cannot be undone from logs: the pool needs a reload.
    let mut gone = position_frame(true, ALG, SNAPSHOT + 2, 1, 6_600, 7_320, E18);
    gone.removed = 1;
    assert!(e.on_frame(&gone).is_empty());
    let a = alg.state;
    let _ = e.on_frame(&swap_frame(
        ALG,
        SNAPSHOT + 3,
        0,
        a.sqrt_price_x96,
        a.liquidity,
        a.tick,
    ));
    assert!(
        e.pool_is_stale(&ALG).unwrap(),
        "a Swap does not restore ticks"
    );
    assert_eq!(e.stats().removed, 2);
}

#[test]
fn bad_snapshot_states_are_refused_at_build() {
    use polyarb_core::{BuildError, ClStateError, TableError};
    let (v3, alg) = models();
    let reason = |edit: &dyn Fn(&mut ClStateSpec)| {
        let mut spec = market(&v3, &alg);
        if let SpecState::UniswapV3(s) = &mut spec.pools[1].state {
            edit(s);
        }
        match Engine::new(&spec, params()) {
            Err(BuildError::Table(TableError::BadClState { reason, .. })) => reason,
            other => panic!("expected a bad state, got {other:?}"),
        }
    };
    assert_eq!(
        reason(&|s| s.sqrt_price_x96 = U256::ZERO),
        ClStateError::Price
    );
    assert_eq!(reason(&|s| s.tick += 1_000), ClStateError::Tick);
    assert_eq!(reason(&|s| s.tick_spacing = 0), ClStateError::Spacing);
    assert_eq!(reason(&|s| s.window = [7_000, 8_000]), ClStateError::Window);
    assert_eq!(reason(&|s| s.ticks.swap(0, 1)), ClStateError::Ticks);
    assert_eq!(reason(&|s| s.ticks[0].tick += 1), ClStateError::Ticks);
    assert_eq!(
        reason(&|s| s.ticks[0].liquidity_gross = 0),
        ClStateError::Ticks
    );
    let mut spec = market(&v3, &alg);
    spec.pools[2].fee_pips = 70_000;
    assert!(matches!(
        Engine::new(&spec, params()),
        Err(BuildError::Table(TableError::BadClState {
            reason: ClStateError::Fee,
            ..
        }))
    ));
}

/// An Algebra fee history, and an independent copy of it the test drives alongside the engine.
/// A day-old pool whose last timepoints move the tick ±100 every few seconds: its fee (355
/// pips) is well above the base fee and below the pool's current 500.
fn fee_history(alg: &Model, t0: u32) -> (AlgebraFeeSpec, DataStorage) {
    let mut s = DataStorage::new(RING_SIZE, FeeConfig::DEFAULT);
    // A day-old pool, so the fee reads only the recent moves.
    s.initialize(t0 - 100_000, alg.state.tick).unwrap();
    let l = alg.state.liquidity;
    for k in 1..=3 {
        let i = s.index();
        s.write(i, t0 - 100_000 + 2 * k, alg.state.tick, l, 0)
            .unwrap();
    }
    for (k, dt) in [(1, 2), (2, 4), (3, 8), (4, 10), (5, 16)] {
        let tick = alg.state.tick + if k % 2 == 0 { 100 } else { -100 };
        let i = s.index();
        s.write(i, t0 + dt, tick, l, 1 << 70).unwrap();
    }
    let index = s.index();
    let spec = AlgebraFeeSpec {
        config: FeeConfig::DEFAULT,
        timepoint_index: index,
        wrapped: false,
        first: s.record(0),
        newest: *s.newest().unwrap(),
        earlier: (0..index).map(|i| s.record(i).unwrap()).collect(),
        volume_per_liquidity_in_block: 3 << 64,
        written_block: None,
    };
    (spec, s)
}

/// The market with the Algebra pool's fee state; the test's copy of it and its volume.
fn modelled_market(t0: u32) -> (MarketSpec, Model, DataStorage, u128) {
    let (v3, alg) = models();
    let mut m = market(&v3, &alg);
    let (spec, oracle) = fee_history(&alg, t0);
    let volume = spec.volume_per_liquidity_in_block;
    if let SpecState::Algebra(s) = &mut m.pools[2].state {
        s.fee_model = Some(spec);
    }
    (m, alg, oracle, volume)
}

fn timed_head(block: u64, time: u32) -> FeedFrame {
    let mut f = log(FrameKind::NewHead, Address::ZERO, block, 0);
    f.words[0] = word_u(U256::from(1u8));
    f.words[1] = word_u(U256::from(time));
    f.block_time = u64::from(time);
    f
}

fn timed(mut f: FeedFrame, time: u32) -> FeedFrame {
    f.block_time = u64::from(time);
    f
}

#[test]
fn algebra_hops_are_priced_at_the_fee_of_the_next_block() {
    let t0 = 1_800_000_000;
    let (m, alg, mut oracle, mut volume) = modelled_market(t0);
    let mut e = Engine::new(&m, params()).unwrap();
    let id = e.pools().id(&ALG).unwrap();
    let (tick, l) = (alg.state.tick, alg.state.liquidity);
    // No block time yet: the pool's next fee is unknown, so it sits out of the search.
    assert_eq!(e.pool_is_stale(&ALG), Some(true));

    // A head at t: the next block comes 2 s later, and its first swap writes a timepoint.
    let t = t0 + 40;
    let _ = e.on_frame(&timed_head(SNAPSHOT + 1, t));
    let next = oracle.predict_fee(t + 2, tick, l, volume).unwrap().unwrap();
    assert_ne!(
        next,
        FeeConfig::DEFAULT.base_fee,
        "the history must move the fee"
    );
    assert_ne!(
        u32::from(next),
        m.pools[2].fee_pips,
        "and differ from the current fee"
    );
    assert_eq!(e.pools().quote_fee(id), Some(u32::from(next)));
    assert_eq!(e.pool_is_stale(&ALG), Some(false));
    assert_eq!(
        e.pools().cl(id).unwrap().kind,
        SwapKind::Algebra { fee: next }
    );

    // That block: the pool's Fee (the model's fee, checked), then the swap that wrote it.
    let b = SNAPSHOT + 2;
    let _ = e.on_frame(&timed(fee_frame(ALG, b, 0, next.into()), t + 2));
    let i = oracle.index();
    oracle.write(i, t + 2, tick, l, volume).unwrap();
    let (a0, a1) = (
        I256::try_from(7 * E18).unwrap(),
        I256::try_from(-13 * E18 as i128).unwrap(),
    );
    let mut swap = timed(
        swap_frame(ALG, b, 1, alg.state.sqrt_price_x96, l, tick),
        t + 2,
    );
    swap.words[2] = a0.to_be_bytes::<32>();
    swap.words[3] = a1.to_be_bytes::<32>();
    let _ = e.on_frame(&swap);
    volume = volume_per_liquidity(l, a0, a1);
    let s = e.stats();
    assert_eq!((s.fee_checked, s.fee_models_lost), (1, 0), "{s:?}");
    let model = e.pools().fee_model(id).unwrap();
    assert_eq!(model.volume_in_block(), volume);
    assert_eq!(model.storage().newest(), oracle.newest());
    let after = oracle.predict_fee(t + 4, tick, l, volume).unwrap().unwrap();
    assert_eq!(e.pools().quote_fee(id), Some(u32::from(after)));

    // A second swap in the same block only adds its volume.
    let mut again = swap;
    again.log_index = 2;
    let _ = e.on_frame(&again);
    volume += volume_per_liquidity(l, a0, a1);
    assert_eq!(e.pools().fee_model(id).unwrap().volume_in_block(), volume);
    assert_eq!(e.stats().fee_models_lost, 0);
}

#[test]
fn a_write_without_its_block_time_waits_for_the_head() {
    let t0 = 1_800_000_000;
    let (m, alg, mut oracle, volume) = modelled_market(t0);
    let mut e = Engine::new(&m, params()).unwrap();
    let id = e.pools().id(&ALG).unwrap();
    let (tick, l) = (alg.state.tick, alg.state.liquidity);
    let t = t0 + 50;
    let _ = e.on_frame(&timed_head(SNAPSHOT + 1, t));
    let fee = oracle.predict_fee(t + 2, tick, l, volume).unwrap().unwrap();
    // A geth-family node: the log has no blockTimestamp and its head has not come yet.
    let _ = e.on_frame(&fee_frame(ALG, SNAPSHOT + 2, 0, fee.into()));
    assert_eq!(e.pool_is_stale(&ALG), Some(true), "the next fee waits");
    assert_eq!(e.stats().fee_checked, 0);
    let _ = e.on_frame(&timed_head(SNAPSHOT + 2, t + 2));
    let i = oracle.index();
    oracle.write(i, t + 2, tick, l, volume).unwrap();
    assert_eq!(e.stats().fee_checked, 1);
    let next = oracle.predict_fee(t + 4, tick, l, 0).unwrap().unwrap();
    assert_eq!(e.pools().quote_fee(id), Some(u32::from(next)));
    assert_eq!(e.pool_is_stale(&ALG), Some(false));

    // A log without a time, of a block whose head came first, takes the head's time.
    let fee = oracle.predict_fee(t + 4, tick, l, 0).unwrap().unwrap();
    let _ = e.on_frame(&timed_head(SNAPSHOT + 3, t + 4));
    let _ = e.on_frame(&fee_frame(ALG, SNAPSHOT + 3, 0, fee.into()));
    assert_eq!(e.stats().fee_checked, 2);
    assert_eq!(e.stats().fee_models_lost, 0);
}

#[test]
fn what_the_logs_cannot_explain_takes_the_pool_out_for_good() {
    let t0 = 1_800_000_000;
    let t = t0 + 100;
    let build = || {
        let (m, alg, oracle, volume) = modelled_market(t0);
        let mut e = Engine::new(&m, params()).unwrap();
        let _ = e.on_frame(&timed_head(SNAPSHOT + 1, t));
        let fee = oracle
            .predict_fee(t + 2, alg.state.tick, alg.state.liquidity, volume)
            .unwrap()
            .unwrap();
        assert_eq!(e.pool_is_stale(&ALG), Some(false));
        (e, alg, fee)
    };
    let lost = |e: &Engine| {
        assert_eq!(e.stats().fee_models_lost, 1, "{:?}", e.stats());
        assert_eq!(e.pool_is_stale(&ALG), Some(true));
        assert!(e.pools().fee_model(e.pools().id(&ALG).unwrap()).is_none());
    };

    // The pool set another fee than the model's.
    let (mut e, _, fee) = build();
    let _ = e.on_frame(&timed(
        fee_frame(ALG, SNAPSHOT + 2, 0, u64::from(fee) + 1),
        t + 2,
    ));
    lost(&e);
    // A later swap does not bring it back.
    let (mut e2, alg, _) = build();
    let s = alg.state;
    let _ = e.on_frame(&timed(
        swap_frame(ALG, SNAPSHOT + 2, 1, s.sqrt_price_x96, s.liquidity, s.tick),
        t + 2,
    ));
    lost(&e);

    // A swap in a block with no Fee log before it: a write the logs did not show.
    let _ = e2.on_frame(&timed(
        swap_frame(ALG, SNAPSHOT + 2, 1, s.sqrt_price_x96, s.liquidity, s.tick),
        t + 2,
    ));
    lost(&e2);

    // Two writes in one block.
    let (mut e, _, fee) = build();
    let _ = e.on_frame(&timed(fee_frame(ALG, SNAPSHOT + 2, 0, fee.into()), t + 2));
    let _ = e.on_frame(&timed(fee_frame(ALG, SNAPSHOT + 2, 1, fee.into()), t + 2));
    lost(&e);

    // A removed log of the pool, without the undo journal (tests/reorg.rs has it): its volume
    // and writes cannot be undone.
    let (m, alg, _, _) = modelled_market(t0);
    let no_journal = SearchParams {
        reorg_depth: 0,
        ..params()
    };
    let mut e = Engine::new(&m, no_journal).unwrap();
    let _ = e.on_frame(&timed_head(SNAPSHOT + 1, t));
    let s = alg.state;
    let mut removed = swap_frame(ALG, SNAPSHOT + 1, 1, s.sqrt_price_x96, s.liquidity, s.tick);
    removed.removed = 1;
    let _ = e.on_frame(&removed);
    lost(&e);
}
