//! Fixtures of the concentrated-liquidity benches, shared by `benches/clmm.rs` (criterion) and
//! `src/bin/clmm-report.rs` (ns per op, p50/p99), which include this file with `#[path]`.
//! It is not a module of the `polyarb_bench` library because the baseline, the crates.io
//! `uniswap_v3_math`, is a dev-dependency: only bench targets can see it.
//!
//! - [`LadderPool`]: one Uniswap V3 pool (fee 3000 pips, spacing 60) whose initialized ticks
//!   form a ladder below the price, so that an exact-input swap of token0 crosses exactly 0, 1
//!   or 10 of them ([`SwapCase`]). Ours is `clmm::swap::swap` over the engine's `TickSlice`
//!   (and over the reference `TickBitmap`); the baseline is [`baseline_swap`], the
//!   `UniswapV3Pool.swap` loop written here over `uniswap_v3_math`'s `compute_swap_step`,
//!   tick math, `HashMap` tick bitmap and `add_delta`. [`LadderPool::case`] checks that both
//!   give the same amounts, price, tick and liquidity before anything is timed.
//! - [`Table`]: a generated market of 10,000 pools (V2, Uniswap V3, Algebra) over hub and
//!   long-tail tokens, and [`SearchCase`]s: two `Sync`/`Swap` frames for one pool that move its
//!   price 1 % down and 1 % up, each opening a gap; [`FramePair`] alternates them with rising
//!   (block, log index) so that the engine applies every one.
//!
//! Everything is seeded ([`SEED`]) and deterministic. The one randomised thing is the SipHash
//! key of the baseline's `HashMap` (its API takes the std hasher): it changes timings by a hair
//! between runs, never results.

use std::collections::HashMap;

use alloy_primitives::{Address, I256, U256};
use polyarb_bench::rng::{Rng, token_address};
use polyarb_core::clmm::swap::{PoolState, SwapKind, SwapResult, swap};
use polyarb_core::clmm::tick_math::{
    MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, sqrt_ratio_at_tick, tick_at_sqrt_ratio,
};
use polyarb_core::clmm::ticks::{TickBitmap, TickRules, TickSlice, TickSource};
use polyarb_core::{
    ClStateSpec, DexSpec, Engine, FeedFrame, FrameKind, MarketSpec, PoolKind, PoolSpec,
    PoolState as SpecState, SearchParams, TickSpec, TokenSpec,
};
use uniswap_v3_math as uv3;

/// Seed of the generated table.
pub const SEED: u64 = 0x706f_6c79_6172_6221;

const E18: u128 = 1_000_000_000_000_000_000;

// ---------------------------------------------------------------------------------------------
// One swap crossing 0, 1 or 10 initialized ticks

/// Initialized ticks the swap cases cross.
pub const CROSSINGS: [u32; 3] = [0, 1, 10];

/// The ladder pool's fee, pips.
pub const LADDER_FEE_PIPS: u32 = 3_000;
const LADDER_SPACING: i32 = 60;
/// The pool's tick (its price is exactly this tick's).
const LADDER_START: i32 = 6_990;
/// The first initialized tick below the price; the others follow every 60 ticks down.
const LADDER_TOP: i32 = 6_960;
/// Ranges on the ladder: ticks `LADDER_TOP − 60·j` for `j` in `0..=RUNGS` are initialized.
const RUNGS: i32 = 12;
/// The widest limit for token0 in (what `quote_exact_in` passes).
pub const LIMIT_ZERO_FOR_ONE: U256 = MIN_SQRT_RATIO.wrapping_add(U256::from_limbs([1, 0, 0, 0]));

/// Tick columns owned by the bench, viewed as the engine's `TickSlice`.
#[derive(Debug)]
pub struct Columns {
    ticks: Vec<i32>,
    net: Vec<i128>,
    gross: Vec<u128>,
}

impl Columns {
    /// The full-range window view (what the engine walks).
    pub fn slice(&self) -> TickSlice<'_> {
        TickSlice::new(&self.ticks, &self.net, &self.gross, MIN_TICK, MAX_TICK)
            .expect("columns come from a TickBitmap: sorted, inside the window")
    }
}

/// The baseline's tick storage: `uniswap_v3_math`'s bitmap (`HashMap<i16, U256>` of words of
/// compressed ticks) and each initialized tick's `liquidity_net`.
#[derive(Debug)]
pub struct BaselineTicks {
    spacing: i32,
    bitmap: HashMap<i16, U256>,
    net: HashMap<i32, i128>,
}

/// What [`baseline_swap`] returns, in the pool's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaselineResult {
    /// Token0 delta of the pool (positive: the pool receives), raw units.
    pub amount0: I256,
    /// Token1 delta of the pool, raw units.
    pub amount1: I256,
    /// Sqrt price after, Q64.96.
    pub sqrt_price_x96: U256,
    /// Tick after.
    pub tick: i32,
    /// Active liquidity after.
    pub liquidity: u128,
    /// Initialized ticks crossed.
    pub ticks_crossed: u32,
}

/// `UniswapV3Pool.swap`'s loop (v3-core 1.0.1) for an exact input, built from
/// `uniswap_v3_math`'s functions: next tick within one bitmap word, clamp to the tick range,
/// target = that tick's price unless the limit comes first, `compute_swap_step`, cross
/// (`add_delta` with the net, negated moving left) or recompute the tick from the price.
/// Same price-limit check as the pool; `None` where the pool would revert.
pub fn baseline_swap(
    ticks: &BaselineTicks,
    fee_pips: u32,
    start: (U256, i32, u128),
    zero_for_one: bool,
    amount_in: I256,
    limit: U256,
) -> Option<BaselineResult> {
    let (mut price, mut tick, mut liquidity) = start;
    let limit_ok = if zero_for_one {
        limit < price && limit > MIN_SQRT_RATIO
    } else {
        limit > price && limit < MAX_SQRT_RATIO
    };
    if !limit_ok || amount_in <= I256::ZERO {
        return None;
    }
    let mut remaining = amount_in;
    let mut out = I256::ZERO;
    let mut crossed = 0u32;
    while !remaining.is_zero() && price != limit {
        let step_start = price;
        let (next, initialized) = uv3::tick_bitmap::next_initialized_tick_within_one_word(
            &ticks.bitmap,
            tick,
            ticks.spacing,
            zero_for_one,
        )
        .ok()?;
        let next = next.clamp(MIN_TICK, MAX_TICK);
        let next_price = uv3::tick_math::get_sqrt_ratio_at_tick(next).ok()?;
        let limit_first = if zero_for_one {
            next_price < limit
        } else {
            next_price > limit
        };
        let target = if limit_first { limit } else { next_price };
        let (p, step_in, step_out, fee) =
            uv3::swap_math::compute_swap_step(price, target, liquidity, remaining, fee_pips)
                .ok()?;
        price = p;
        // `(amountIn + feeAmount).toInt256()` and `amountCalculated.sub(amountOut.toInt256())`.
        remaining -= I256::try_from(step_in.checked_add(fee)?).ok()?;
        out = out.checked_sub(I256::try_from(step_out).ok()?)?;
        if price == next_price {
            if initialized {
                let net = ticks.net.get(&next).copied().unwrap_or(0);
                let net = if zero_for_one { -net } else { net };
                liquidity = uv3::liquidity_math::add_delta(liquidity, net).ok()?;
                crossed += 1;
            }
            tick = if zero_for_one { next - 1 } else { next };
        } else if price != step_start {
            tick = uv3::tick_math::get_tick_at_sqrt_ratio(price).ok()?;
        }
    }
    let paid = amount_in - remaining;
    let (amount0, amount1) = if zero_for_one {
        (paid, out)
    } else {
        (out, paid)
    };
    Some(BaselineResult {
        amount0,
        amount1,
        sqrt_price_x96: price,
        tick,
        liquidity,
        ticks_crossed: crossed,
    })
}

/// A Uniswap V3 pool (fee 3000, spacing 60) at tick 6,990 with a full-range position and a
/// ladder of 60-tick ranges below the price (different liquidity on each, so every crossed
/// tick changes the active liquidity), held three ways: the engine's columns, the reference
/// bitmap, and the baseline's `HashMap`s.
#[derive(Debug)]
pub struct LadderPool {
    /// Swap kind and fee.
    pub kind: SwapKind,
    /// Price, tick, active liquidity, spacing.
    pub state: PoolState,
    /// The reference bitmap the positions were minted into.
    pub bitmap: TickBitmap,
    /// The same ticks as `TickSlice` columns.
    pub columns: Columns,
    /// The same ticks for the baseline.
    pub baseline: BaselineTicks,
}

/// One swap of the ladder pool: token0 in, exact input, widest limit.
#[derive(Clone, Copy, Debug)]
pub struct SwapCase {
    /// Initialized ticks it crosses.
    pub crossings: u32,
    /// Exact input, raw token0 units.
    pub amount_in: I256,
    /// Loop iterations it takes (ours).
    pub steps: u32,
}

impl Default for LadderPool {
    fn default() -> Self {
        Self::new()
    }
}

impl LadderPool {
    /// Builds the pool (mints into the bitmap, copies the ticks to the other two stores).
    pub fn new() -> Self {
        let rules = TickRules::uniswap_v3(LADDER_SPACING).expect("spacing 60");
        let mut bitmap = TickBitmap::new(rules);
        let mut liquidity = 0u128;
        let full = (MAX_TICK / LADDER_SPACING) * LADDER_SPACING;
        bitmap
            .mint(LADDER_START, &mut liquidity, -full, full, 2_000 * E18)
            .expect("full-range mint");
        for j in 0..RUNGS {
            let upper = LADDER_TOP - LADDER_SPACING * j;
            let amount = (1_000 + 250 * j as u128) * E18;
            bitmap
                .mint(
                    LADDER_START,
                    &mut liquidity,
                    upper - LADDER_SPACING,
                    upper,
                    amount,
                )
                .expect("ladder mint");
        }
        let state = PoolState {
            sqrt_price_x96: sqrt_ratio_at_tick(LADDER_START).expect("tick in range"),
            tick: LADDER_START,
            liquidity,
            tick_spacing: LADDER_SPACING,
        };
        let (ticks, net, gross) = bitmap.window_columns(MIN_TICK, MAX_TICK);
        let mut baseline = BaselineTicks {
            spacing: LADDER_SPACING,
            bitmap: HashMap::new(),
            net: HashMap::new(),
        };
        for (t, info) in bitmap.iter() {
            uv3::tick_bitmap::flip_tick(&mut baseline.bitmap, t, LADDER_SPACING)
                .expect("spaced tick");
            baseline.net.insert(t, info.liquidity_net);
        }
        Self {
            kind: SwapKind::UniswapV3 {
                fee_pips: LADDER_FEE_PIPS,
            },
            state,
            bitmap,
            columns: Columns { ticks, net, gross },
            baseline,
        }
    }

    /// Our swap over any tick source, token0 in, widest limit.
    #[inline]
    pub fn ours<T: TickSource>(&self, ticks: &T, amount_in: I256) -> SwapResult {
        swap(
            self.kind,
            &self.state,
            ticks,
            true,
            amount_in,
            LIMIT_ZERO_FOR_ONE,
        )
        .expect("the ladder swap is valid")
    }

    /// The baseline's swap, same inputs.
    #[inline]
    pub fn baseline(&self, amount_in: I256) -> BaselineResult {
        baseline_swap(
            &self.baseline,
            LADDER_FEE_PIPS,
            (
                self.state.sqrt_price_x96,
                self.state.tick,
                self.state.liquidity,
            ),
            true,
            amount_in,
            LIMIT_ZERO_FOR_ONE,
        )
        .expect("the ladder swap is valid")
    }

    /// The swap that crosses exactly `crossings` ladder ticks (at most `RUNGS − 1`) and ends
    /// halfway down the next range: its input is what reaching that price takes. Panics unless
    /// ours over the slice, ours over the bitmap and the baseline all cross that many and agree
    /// on amounts, price, tick and liquidity.
    pub fn case(&self, crossings: u32) -> SwapCase {
        assert!(crossings < RUNGS as u32, "the ladder has {RUNGS} rungs");
        // Where the swap should stop: between the start and the top rung, or between rungs.
        let stop_tick = if crossings == 0 {
            (LADDER_START + LADDER_TOP) / 2
        } else {
            LADDER_TOP - LADDER_SPACING * (crossings as i32 - 1) - LADDER_SPACING / 2
        };
        let stop = sqrt_ratio_at_tick(stop_tick).expect("tick in range");
        let to_stop = swap(
            self.kind,
            &self.state,
            &self.bitmap,
            true,
            I256::try_from(u128::MAX).expect("fits"),
            stop,
        )
        .expect("swap to the stop price");
        let amount_in = to_stop.amount0;
        let slice = self.columns.slice();
        let ours = self.ours(&slice, amount_in);
        let on_bitmap = self.ours(&self.bitmap, amount_in);
        let base = self.baseline(amount_in);
        assert_eq!(ours, on_bitmap, "TickSlice and TickBitmap disagree");
        assert_eq!(
            ours.ticks_crossed, crossings,
            "the {crossings}-tick case crosses {} ticks: {ours:?}",
            ours.ticks_crossed
        );
        assert!(!ours.hit_window_edge);
        assert_eq!(ours.amount0, amount_in, "the whole input is taken");
        assert_eq!(
            (
                ours.amount0,
                ours.amount1,
                ours.sqrt_price_x96,
                ours.tick,
                ours.liquidity,
                ours.ticks_crossed
            ),
            (
                base.amount0,
                base.amount1,
                base.sqrt_price_x96,
                base.tick,
                base.liquidity,
                base.ticks_crossed
            ),
            "polyarb and uniswap_v3_math differ on the {crossings}-tick swap \
             (amount0, amount1, sqrt price, tick, liquidity, ticks crossed)"
        );
        SwapCase {
            crossings,
            amount_in,
            steps: ours.steps,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A generated 10,000-pool table and one log in

/// Pools in the generated table.
pub const TABLE_POOLS: usize = 10_000;
/// Hub tokens: (symbol, price in the native token). The first is the native token; the first
/// three are the start tokens (as in `docs/polygon.example.toml`).
const HUBS: [(&str, f64); 6] = [
    ("WMATIC", 1.0),
    ("USDC", 2.0),
    ("WETH", 5_000.0),
    ("USDT", 2.0),
    ("DAI", 2.0),
    ("WBTC", 100_000.0),
];
/// How often a long-tail token's pool pairs it with each hub, percent.
const HUB_WEIGHTS: [u64; 6] = [40, 30, 15, 8, 4, 3];
/// How often a long-tail token has 1, 2, 3 or 4 pools against hubs, percent.
const TAIL_POOL_WEIGHTS: [u64; 4] = [50, 30, 15, 5];
/// Pools per pair of hubs; the first three are V2, V3 (0.05 %) and Algebra.
const POOLS_PER_HUB_PAIR: usize = 6;
/// Long-tail tokens; each gets 1 to 4 pools against hubs ([`TAIL_POOL_WEIGHTS`]), and the rest
/// of the 10,000 pools pair two tails.
const TAILS: usize = 4_800;
/// Block of the generated snapshot.
pub const SNAPSHOT_BLOCK: u64 = 1_000;
/// How far each case frame moves its pool's price: 1 % down, 1 % up.
const MOVE: f64 = 0.01;

/// The DEXes of the table: two V2 forks, Uniswap V3, Algebra.
const DEX_V2: [u8; 2] = [0, 1];
const DEX_V3: u8 = 2;
const DEX_ALGEBRA: u8 = 3;

/// One search case: a pool and the two frames that move it.
#[derive(Clone, Debug)]
pub struct SearchCase {
    /// Short name (criterion's bench id).
    pub name: &'static str,
    /// What the pool is, for the report.
    pub what: String,
    /// Price 1 % down, price 1 % up (each from the snapshot state).
    pub frames: FramePair,
}

/// Two frames for one pool, handed out alternately with rising (block, log index): the engine
/// applies every one, and its tables return to the same state every two frames. A third frame
/// puts the pool back to its snapshot state ([`restore`](Self::restore)), so that one case
/// leaves the table as it found it for the next, whatever the number of frames it ran.
#[derive(Clone, Debug)]
pub struct FramePair {
    /// Price down, price up, snapshot state.
    frames: [FeedFrame; 3],
    n: u64,
}

impl FramePair {
    fn new(frames: [FeedFrame; 3]) -> Self {
        Self { frames, n: 0 }
    }

    /// Stamps frame `i` with the next (block, log index).
    #[inline]
    fn stamp(&mut self, i: usize) -> &FeedFrame {
        self.n += 1;
        let f = &mut self.frames[i];
        f.block_number = SNAPSHOT_BLOCK + 1 + (self.n >> 32);
        f.log_index = self.n as u32;
        f
    }

    /// The frame that puts the pool back to its snapshot state; the next
    /// [`next_frame`](Self::next_frame) is a move down again.
    pub fn restore(&mut self) -> &FeedFrame {
        // Skip a log index if needed so that the count is even after this frame.
        self.n |= 1;
        self.stamp(2)
    }

    /// Which frame [`next_frame`](Self::next_frame) hands out next: 0 (price down) or 1 (up).
    #[inline]
    pub fn next_index(&self) -> usize {
        (self.n & 1) as usize
    }

    /// The next frame: down, up, down, … Costs two stores.
    #[inline]
    pub fn next_frame(&mut self) -> &FeedFrame {
        self.stamp((self.n & 1) as usize)
    }
}

/// The generated market, its search parameters and the cases.
#[derive(Debug)]
pub struct Table {
    /// Tokens, DEXes and the 10,000 pools.
    pub market: MarketSpec,
    /// Native WMATIC, start tokens WMATIC/USDC/WETH, Polygon-sized gas.
    pub params: SearchParams,
    /// Pools by kind: V2, Uniswap V3, Algebra.
    pub kinds: [usize; 3],
    /// Initialized ticks over all concentrated pools.
    pub cl_ticks: usize,
    /// Six cases: the WMATIC/USDC pool of each kind (a hub pair), then the WMATIC/T0 pool of
    /// each kind (a long-tail token).
    pub cases: Vec<SearchCase>,
}

impl Table {
    /// A fresh engine over the table (about a second: tables, cycles, rates).
    pub fn engine(&self) -> Engine {
        Engine::new(&self.market, self.params.clone()).expect("the generated market is valid")
    }
}

/// A pool to generate: token ids `a`, `b`, value range of its reserves (native), and for the
/// case pools their kind (0 V2, 1 Uniswap V3, 2 Algebra).
type Planned = (usize, usize, (f64, f64), Option<u8>);

/// A concentrated pool as generated: kind, spec state, and the bitmap its positions were
/// minted into (to compute the state after a swap for the case frames).
struct GenCl {
    kind: SwapKind,
    state: PoolState,
    bitmap: TickBitmap,
}

/// Builds a concentrated pool at the price `p1_per_0` (token1 per token0, raw units) with
/// active liquidity about `l_total` (`sqrt(x·y)` of its virtual reserves): a full-range
/// position with 40 % of it and 2 to 6 positions 1 to 20 spacings either side of the price.
fn gen_cl(rng: &mut Rng, kind: SwapKind, p1_per_0: f64, l_total: f64) -> GenCl {
    let spacing = match kind {
        SwapKind::UniswapV3 { fee_pips } => match fee_pips {
            100 => 1,
            500 => 10,
            3_000 => 60,
            _ => 200,
        },
        SwapKind::Algebra { .. } => 60,
    };
    let rules = match kind {
        SwapKind::UniswapV3 { .. } => TickRules::uniswap_v3(spacing).expect("tier spacing"),
        SwapKind::Algebra { .. } => TickRules::algebra(),
    };
    let sqrt_price = U256::from((p1_per_0.sqrt() * 2f64.powi(96)) as u128);
    let tick = tick_at_sqrt_ratio(sqrt_price).expect("price in range");
    let mut bitmap = TickBitmap::new(rules);
    let mut liquidity = 0u128;
    let full = (MAX_TICK / spacing) * spacing;
    bitmap
        .mint(tick, &mut liquidity, -full, full, (l_total * 0.4) as u128)
        .expect("full-range mint");
    let narrow = 2 + rng.below(5);
    let base = tick.div_euclid(spacing) * spacing;
    for _ in 0..narrow {
        let below = 1 + rng.below(20) as i32;
        let above = 1 + rng.below(20) as i32;
        let amount = (l_total * 0.6 / narrow as f64 * (0.5 + rng.unit())) as u128;
        bitmap
            .mint(
                tick,
                &mut liquidity,
                base - below * spacing,
                base + above * spacing,
                amount.max(1),
            )
            .expect("narrow mint");
    }
    GenCl {
        kind,
        state: PoolState {
            sqrt_price_x96: sqrt_price,
            tick,
            liquidity,
            tick_spacing: spacing,
        },
        bitmap,
    }
}

fn cl_spec(g: &GenCl) -> ClStateSpec {
    ClStateSpec {
        sqrt_price_x96: g.state.sqrt_price_x96,
        tick: g.state.tick,
        liquidity: g.state.liquidity,
        tick_spacing: g.state.tick_spacing,
        window: [MIN_TICK, MAX_TICK],
        ticks: g
            .bitmap
            .iter()
            .map(|(tick, i)| TickSpec {
                tick,
                liquidity_net: i.liquidity_net,
                liquidity_gross: i.liquidity_gross,
            })
            .collect(),
        fee_model: None,
    }
}

fn word_u(v: U256) -> [u8; 32] {
    v.to_be_bytes()
}

fn log_frame(kind: FrameKind, pool: Address) -> FeedFrame {
    FeedFrame {
        kind,
        address: pool.into_array(),
        block_number: SNAPSHOT_BLOCK + 1,
        recv_ns: 1,
        ..FeedFrame::EMPTY
    }
}

/// A `Sync` carrying reserves `(r0, r1)`.
fn sync_frame(pool: Address, r0: u128, r1: u128) -> FeedFrame {
    let mut f = log_frame(FrameKind::V2Sync, pool);
    f.words[0] = word_u(U256::from(r0));
    f.words[1] = word_u(U256::from(r1));
    f
}

/// A `Sync` with the reserves moved so that the price (token1 per token0) is `factor` times
/// the snapshot's, at about the same product.
fn moved_sync_frame(pool: Address, r0: u128, r1: u128, factor: f64) -> FeedFrame {
    let s = factor.sqrt();
    sync_frame(pool, (r0 as f64 / s) as u128, (r1 as f64 * s) as u128)
}

/// A `Swap` carrying a pool state (what the pool's `Swap` event reports after a swap).
fn swap_frame(pool: Address, s: &PoolState) -> FeedFrame {
    let mut f = log_frame(FrameKind::ClSwap, pool);
    f.words[0] = word_u(s.sqrt_price_x96);
    f.words[1] = word_u(U256::from(s.liquidity));
    f.tick = s.tick;
    f
}

/// A `Swap` carrying the state after a real swap (over the pool's own ticks) that moves the
/// price by `factor`.
fn moved_swap_frame(pool: Address, g: &GenCl, factor: f64) -> FeedFrame {
    let price = f64::from(g.state.sqrt_price_x96) * factor.sqrt();
    let limit = U256::from(price as u128);
    let zero_for_one = factor < 1.0;
    let r = swap(
        g.kind,
        &g.state,
        &g.bitmap,
        zero_for_one,
        I256::try_from(u128::MAX).expect("fits"),
        limit,
    )
    .expect("case swap");
    assert_eq!(r.sqrt_price_x96, limit, "the case swap reaches its price");
    let after = PoolState {
        sqrt_price_x96: r.sqrt_price_x96,
        tick: r.tick,
        liquidity: r.liquidity,
        ..g.state
    };
    swap_frame(pool, &after)
}

/// Generates the table (deterministic: [`SEED`]).
///
/// Tokens: 6 hubs and 4,800 long-tail tokens, all 18 decimals, each with a price in the
/// native token (tails log-uniform over 10⁻⁴..10³). Pools: 6 per hub pair (90); T0's four
/// (WMATIC/T0 of each kind, USDC/T0 V2); 1 to 4 per other tail ([`TAIL_POOL_WEIGHTS`])
/// against hubs drawn by [`HUB_WEIGHTS`]; then tail/tail pairs up to 10,000. Kinds of the
/// pools not forced by a case: half V2 (two forks, 0.3 %), 30 % Uniswap V3 (tiers
/// 0.01/0.05/0.3/1 % at 10/35/40/15 %), 20 % Algebra (fee 0.01–0.3 %). Each pool's price is the
/// two tokens' ratio within ±0.02 %; liquidity (native value of the virtual reserves) is
/// log-uniform, 2·10⁵..2·10⁶ for hub pairs, 10²..10⁵ for tails (T0's pools: 5·10⁴).
/// Concentrated pools: 40 % of the liquidity in a full-range position, the rest in 2 to 6
/// positions 1 to 20 spacings either side of the price; the window is the whole tick range.
///
/// With the engine's default cap (1,000,000 cycles) most 4-hop loops are not stored: the
/// loops hub → tail → hub → tail → hub grow with the square of the tails that share two hubs,
/// as on a real chain.
pub fn table() -> Table {
    let mut rng = Rng(SEED);
    let mut tokens = Vec::with_capacity(HUBS.len() + TAILS);
    let mut price = Vec::with_capacity(HUBS.len() + TAILS);
    for (i, &(symbol, p)) in HUBS.iter().enumerate() {
        tokens.push(TokenSpec {
            address: token_address(i),
            symbol: symbol.into(),
            decimals: 18,
        });
        price.push(p);
    }
    for i in 0..TAILS {
        tokens.push(TokenSpec {
            address: token_address(HUBS.len() + i),
            symbol: format!("T{i}"),
            decimals: 18,
        });
        price.push(rng.log_uniform(1e-4, 1e3));
    }
    let dexes = vec![
        DexSpec {
            name: "v2-a".into(),
            factory: token_address(1_000_001),
            kind: PoolKind::UniswapV2,
            flash_swap: true,
        },
        DexSpec {
            name: "v2-b".into(),
            factory: token_address(1_000_002),
            kind: PoolKind::UniswapV2,
            flash_swap: true,
        },
        DexSpec {
            name: "uniswap-v3".into(),
            factory: token_address(1_000_003),
            kind: PoolKind::UniswapV3,
            flash_swap: true,
        },
        DexSpec {
            name: "algebra".into(),
            factory: token_address(1_000_004),
            kind: PoolKind::Algebra,
            flash_swap: true,
        },
    ];

    let mut pairs: Vec<Planned> = Vec::with_capacity(TABLE_POOLS);
    for a in 0..HUBS.len() {
        for b in a + 1..HUBS.len() {
            for k in 0..POOLS_PER_HUB_PAIR {
                // WMATIC/USDC's first three pools are the hub cases.
                let case = ((a, b) == (0, 1) && k < 3).then_some(k as u8);
                pairs.push((a, b, (2e5, 2e6), case));
            }
        }
    }
    // The tail case token T0: one pool of each kind against WMATIC and a V2 pair against USDC
    // (so its pools are in triangles), each worth 5·10⁴ native.
    let t0 = HUBS.len();
    for kind in 0..3 {
        pairs.push((0, t0, (5e4, 5e4), Some(kind)));
    }
    pairs.push((1, t0, (5e4, 5e4), None));
    for t in 1..TAILS {
        for _ in 0..=rng.weighted(&TAIL_POOL_WEIGHTS) {
            let hub = rng.weighted(&HUB_WEIGHTS);
            pairs.push((hub, HUBS.len() + t, (1e2, 1e5), None));
        }
    }
    while pairs.len() < TABLE_POOLS {
        let a = HUBS.len() + rng.below(TAILS as u64) as usize;
        let b = HUBS.len() + rng.below(TAILS as u64) as usize;
        if a != b {
            pairs.push((a.min(b), a.max(b), (1e2, 1e4), None));
        }
    }
    pairs.truncate(TABLE_POOLS);

    let mut pools = Vec::with_capacity(TABLE_POOLS);
    let mut kinds = [0usize; 3];
    let mut cl_ticks = 0usize;
    let mut cases = Vec::new();
    for &(a, b, (lo, hi), case) in &pairs {
        let (t0, t1) = (a.min(b), a.max(b));
        let address = rng.address();
        // Token1 per token0 (both 18 decimals) within ±0.02 % of the tokens' price ratio.
        let p = price[t0] / price[t1] * (1.0 + (rng.unit() - 0.5) * 4e-4);
        let value = rng.log_uniform(lo, hi);
        // Virtual reserves worth value/2 native on each side.
        let x = value / 2.0 / price[t0] * E18 as f64;
        let y = x * p;
        let kind = case.unwrap_or_else(|| match rng.below(10) {
            0..5 => 0,
            5..8 => 1,
            _ => 2,
        });
        let (dex, fee_pips, state, g) = match kind {
            0 => {
                let dex = DEX_V2[rng.below(2) as usize];
                let reserves = SpecState::UniswapV2 {
                    reserve0: x as u128,
                    reserve1: y as u128,
                };
                (dex, 3_000, reserves, None)
            }
            1 => {
                let fee = match case {
                    Some(_) if t1 == 1 => 500,
                    Some(_) => 3_000,
                    None => [100, 500, 3_000, 10_000][rng.weighted(&[10, 35, 40, 15])],
                };
                let g = gen_cl(
                    &mut rng,
                    SwapKind::UniswapV3 { fee_pips: fee },
                    p,
                    (x * y).sqrt(),
                );
                (DEX_V3, fee, SpecState::UniswapV3(cl_spec(&g)), Some(g))
            }
            _ => {
                let fee = 100 + rng.below(2_901) as u16;
                let g = gen_cl(&mut rng, SwapKind::Algebra { fee }, p, (x * y).sqrt());
                let state = SpecState::Algebra(cl_spec(&g));
                (DEX_ALGEBRA, u32::from(fee), state, Some(g))
            }
        };
        kinds[kind as usize] += 1;
        if let SpecState::UniswapV3(s) | SpecState::Algebra(s) = &state {
            cl_ticks += s.ticks.len();
        }
        if case.is_some() && t0 == 0 {
            let frames = match (&state, &g) {
                (&SpecState::UniswapV2 { reserve0, reserve1 }, _) => [
                    moved_sync_frame(address, reserve0, reserve1, 1.0 - MOVE),
                    moved_sync_frame(address, reserve0, reserve1, 1.0 + MOVE),
                    sync_frame(address, reserve0, reserve1),
                ],
                (_, Some(g)) => [
                    moved_swap_frame(address, g, 1.0 - MOVE),
                    moved_swap_frame(address, g, 1.0 + MOVE),
                    swap_frame(address, &g.state),
                ],
                _ => unreachable!("a concentrated pool has its generator state"),
            };
            let hub = t1 == 1;
            let pair = if hub { "WMATIC/USDC" } else { "WMATIC/T0" };
            let ticks = g.as_ref().map_or(0, |g| g.bitmap.iter().count());
            let (name, what) = match (kind, hub) {
                (0, true) => ("v2_sync_hub", format!("V2 Sync, {pair} pair (0.3 %)")),
                (0, false) => ("v2_sync_tail", format!("V2 Sync, {pair} pair (0.3 %)")),
                (1, h) => (
                    if h { "v3_swap_hub" } else { "v3_swap_tail" },
                    format!(
                        "Uniswap V3 Swap, {pair} pool (fee {fee_pips} pips, spacing {}, {ticks} \
                         ticks)",
                        g.as_ref().map_or(0, |g| g.state.tick_spacing)
                    ),
                ),
                (_, h) => (
                    if h {
                        "algebra_swap_hub"
                    } else {
                        "algebra_swap_tail"
                    },
                    format!("Algebra Swap, {pair} pool (fee {fee_pips} pips, {ticks} ticks)"),
                ),
            };
            cases.push(SearchCase {
                name,
                what,
                frames: FramePair::new(frames),
            });
        }
        pools.push(PoolSpec {
            address,
            dex,
            token0: token_address(t0),
            token1: token_address(t1),
            fee_pips,
            state,
            last_log: None,
            stale: Default::default(),
        });
    }
    let market = MarketSpec {
        block: SNAPSHOT_BLOCK,
        base_fee: 30_000_000_000,
        tokens,
        dexes,
        pools,
        capital: Vec::new(),
        lenders: Vec::new(),
    };
    let mut params = SearchParams::new(
        token_address(0),
        vec![token_address(0), token_address(1), token_address(2)],
    );
    params.gas.base = 40_000;
    params.gas.per_hop = [52_000, 90_000, 90_000];
    params.gas.per_tick = [0, 20_000, 20_000];
    Table {
        market,
        params,
        kinds,
        cl_ticks,
        cases,
    }
}
