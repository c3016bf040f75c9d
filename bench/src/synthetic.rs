//! A deterministic synthetic market of any size, for the warm-start bench
//! (`benches/warm_start.rs`): what a snapshot of a running engine holds, with no node.
//!
//! [`market`] builds `pools` pools over six hub tokens (WMATIC, the native token, first;
//! USDC and WETH the other start tokens) and a long tail of tokens ([`tail_tokens`]): about
//! 60 % V2 pairs (0.3 %), 30 % Uniswap V3 pools (fee tiers 0.01/0.05/0.3/1 %) and 10 % Algebra
//! pools (a dynamic fee of 0.01–0.3 %, no fee model: the engine prices them at that fee). A
//! concentrated pool's state is what discovery reads: a √price (Q64.96) and its tick, the
//! active liquidity, and the initialized ticks inside the window of bitmap words
//! `DEFAULT_TICK_WORDS` either side of the price's word, from a full-range position and 2 to 6
//! narrow ones around the price. About one pool in ten carries a `last_log` in the block after
//! the snapshot's, as an export taken in the middle of a block does; [`tip`] names that block.
//! A pair may have several pools on one DEX (a real V2 factory has one per pair): the engine
//! does not mind, and nothing the warm-start bench times depends on it.
//!
//! Why a long tail and not a few dozen tokens: at 10,000 pools a few dozen tokens put dozens of
//! pools on every pair, and a cycle is a choice of pool on every edge of a token loop, so the
//! 4-hop cycles grow with the fourth power of that. `Engine::new` used to walk every one,
//! including those past [`SearchParams::max_cycles`], only to count them: measured with this
//! generator at 10,000 pools (dev profile, a loaded machine), 306 tokens gave 3.9·10⁸ 4-hop pool
//! choices (98 s to build), 1,006 tokens 3.9·10⁷ (10 s), and 36 tokens 5.5·10¹⁰ (hours at that
//! rate). It now counts past the cap without walking (the dense test below builds in well under
//! a second), but the long tail stays: it is the shape of Polygon's market (most pools pair one
//! token with a hub). The default, one token per [`POOLS_PER_TAIL`] pools (5,006 tokens), keeps
//! 10⁶ cycles and counts 1.2·10⁶ more.
//!
//! Everything comes from `seed` (SplitMix64): the same arguments give the same market.

use crate::rng::{Rng, token_address};
use alloy_primitives::{Address, B256, U256};
use polyarb_core::clmm::tick_math::{MAX_TICK, tick_at_sqrt_ratio};
use polyarb_core::clmm::ticks::{TickBitmap, TickRules};
use polyarb_core::{
    CapitalSpec, ChainTip, ClStateSpec, DexSpec, MarketSpec, PoolKind, PoolSpec, PoolState,
    SearchParams, Staleness, TickSpec, TokenSpec,
};
use polyarb_engine::app::discovery::clmm::{window, word_range};
use polyarb_engine::config::DEFAULT_TICK_WORDS;

/// Chain id the snapshot files name (Polygon PoS).
pub const CHAIN_ID: u64 = 137;
/// Block the market's state is read at.
pub const SNAPSHOT_BLOCK: u64 = 65_000_000;
/// Pools per long-tail token.
pub const POOLS_PER_TAIL: usize = 2;

/// Hub tokens: symbol, decimals, price in the native token. The first is the native token;
/// the first three are the start tokens (as in `docs/polygon.example.toml`).
const HUBS: [(&str, u8, f64); 6] = [
    ("WMATIC", 18, 1.0),
    ("USDC", 6, 2.0),
    ("WETH", 18, 5_000.0),
    ("USDT", 6, 2.0),
    ("DAI", 18, 2.0),
    ("WBTC", 8, 100_000.0),
];
/// How often a pool of a long-tail token pairs it with each hub, percent.
const HUB_WEIGHTS: [u64; 6] = [40, 30, 15, 8, 4, 3];
/// Pools on each pair of hubs (when the market has room for them).
const POOLS_PER_HUB_PAIR: usize = 6;
/// Of the pools left after the hub pairs and one per tail: percent that pair a tail with a
/// hub (the rest pair two tails).
const TAIL_HUB_SHARE: u64 = 60;
/// Of all pools: percent V2, then Uniswap V3 (the rest Algebra).
const V2_SHARE: u64 = 60;
const V3_SHARE: u64 = 30;
/// One pool in this many has a `last_log` in block `SNAPSHOT_BLOCK + 1`.
const LAST_LOG_EVERY: u64 = 10;
/// The executor's capital in each start token, worth this much of the native token.
const CAPITAL_NATIVE: f64 = 10_000.0;

/// DEX indices in [`MarketSpec::dexes`].
const DEX_V2: u8 = 0;
const DEX_V3: u8 = 1;
const DEX_ALGEBRA: u8 = 2;

/// Long-tail tokens in a market of `pools` pools: one per [`POOLS_PER_TAIL`] pools, at least
/// one.
pub fn tail_tokens(pools: usize) -> usize {
    (pools / POOLS_PER_TAIL).max(1)
}

/// The native token (WMATIC), the same for every seed.
pub fn native() -> Address {
    token_address(0)
}

/// The start tokens (WMATIC, USDC, WETH), highest priority first.
pub fn start_tokens() -> Vec<Address> {
    (0..3).map(token_address).collect()
}

/// [`SearchParams::new`] over [`native`] and [`start_tokens`], every other field at its
/// default (notably `max_cycles`: 1,000,000).
pub fn search_params() -> SearchParams {
    SearchParams::new(native(), start_tokens())
}

/// A token's decimals and price in the native token (per whole token).
#[derive(Clone, Copy, Debug)]
struct Quote {
    decimals: u8,
    price: f64,
}

/// Which tokens each pool pairs: the hub pairs first, then one pool per tail against a hub,
/// then tail/hub and tail/tail pairs at random; thinned evenly to `pools`. Token ids, lower first,
/// with the range of the pool's value (native, both sides together).
fn plan_pairs(rng: &mut Rng, pools: usize, tails: usize) -> Vec<(usize, usize, (f64, f64))> {
    let hubs = HUBS.len();
    let mut pairs = Vec::with_capacity(pools);
    for a in 0..hubs {
        for b in a + 1..hubs {
            for _ in 0..POOLS_PER_HUB_PAIR {
                pairs.push((a, b, (2e5, 2e6)));
            }
        }
    }
    let hub = |rng: &mut Rng| rng.weighted(&HUB_WEIGHTS);
    for t in 0..tails {
        let h = hub(rng);
        pairs.push((h, hubs + t, (1e2, 1e5)));
    }
    while pairs.len() < pools {
        let t = hubs + rng.below(tails as u64) as usize;
        if rng.below(100) < TAIL_HUB_SHARE || tails < 2 {
            let h = hub(rng);
            pairs.push((h, t, (1e2, 1e5)));
        } else {
            let u = hubs + rng.below(tails as u64) as usize;
            if u != t {
                pairs.push((t.min(u), t.max(u), (1e2, 1e4)));
            }
        }
    }
    // Keep a spread of pair kinds when `pools` is below the planned count.
    if pairs.len() > pools {
        let n = pairs.len();
        pairs = (0..pools).map(|i| pairs[i * n / pools]).collect();
    }
    pairs
}

/// A concentrated pool at `price` (raw token1 per raw token0) holding active liquidity about
/// `l_total`: 40 % of it in a full-range position and the rest in 2 to 6 positions 1 to 20
/// spacings either side of the price. Its state lists the initialized ticks of the window
/// discovery would read.
fn cl_state(rng: &mut Rng, rules: TickRules, price: f64, l_total: f64) -> ClStateSpec {
    let spacing = rules.spacing;
    // √price · 2⁹⁶ in two steps: a price above ~1.8·10¹⁹ would overflow a u128 in one.
    let sqrt_price = U256::from((price.sqrt() * 2f64.powi(48)) as u128) << 48;
    let tick = tick_at_sqrt_ratio(sqrt_price).expect("generated prices are in range");
    let mut bitmap = TickBitmap::new(rules);
    let mut liquidity = 0u128;
    let full = (MAX_TICK / spacing) * spacing;
    bitmap
        .mint(
            tick,
            &mut liquidity,
            -full,
            full,
            (l_total * 0.4).max(1.0) as u128,
        )
        .expect("full-range mint");
    let narrow = 2 + rng.below(5);
    let base = tick.div_euclid(spacing) * spacing;
    for _ in 0..narrow {
        let below = 1 + rng.below(20) as i32;
        let above = 1 + rng.below(20) as i32;
        let amount = l_total * 0.6 / narrow as f64 * (0.5 + rng.unit());
        bitmap
            .mint(
                tick,
                &mut liquidity,
                base - below * spacing,
                base + above * spacing,
                amount.max(1.0) as u128,
            )
            .expect("narrow mint");
    }
    let (lo, hi) = word_range(tick, spacing, DEFAULT_TICK_WORDS);
    let window = window(lo, hi, spacing);
    let ticks = bitmap
        .iter()
        .filter(|&(t, _)| (window[0]..=window[1]).contains(&t))
        .map(|(tick, i)| TickSpec {
            tick,
            liquidity_net: i.liquidity_net,
            liquidity_gross: i.liquidity_gross,
        })
        .collect();
    ClStateSpec {
        sqrt_price_x96: sqrt_price,
        tick,
        liquidity,
        tick_spacing: spacing,
        window,
        ticks,
        fee_model: None,
    }
}

/// A synthetic market of `pools` pools (see the module docs), the same for the same
/// `(pools, seed)`. Its snapshot round-trips through `snapshot::to_json`/`from_json`, and
/// `Engine::new(&market, search_params())` builds it with no pool dropped.
pub fn market(pools: usize, seed: u64) -> MarketSpec {
    market_with_tails(pools, tail_tokens(pools), seed)
}

/// [`market`] with `tails` long-tail tokens.
fn market_with_tails(pools: usize, tails: usize, seed: u64) -> MarketSpec {
    let mut rng = Rng(seed);
    let mut tokens = Vec::with_capacity(HUBS.len() + tails);
    let mut quotes = Vec::with_capacity(HUBS.len() + tails);
    for (i, &(symbol, decimals, price)) in HUBS.iter().enumerate() {
        tokens.push(TokenSpec {
            address: token_address(i),
            symbol: symbol.into(),
            decimals,
        });
        quotes.push(Quote { decimals, price });
    }
    for i in 0..tails {
        tokens.push(TokenSpec {
            address: token_address(HUBS.len() + i),
            symbol: format!("T{i}"),
            decimals: 18,
        });
        quotes.push(Quote {
            decimals: 18,
            price: rng.log_uniform(1e-4, 1e3),
        });
    }
    let dex = |name: &str, n: usize, kind| DexSpec {
        name: name.into(),
        factory: token_address(1 << 40 | n),
        kind,
        flash_swap: true,
    };
    let dexes = vec![
        dex("quickswap", 0, PoolKind::UniswapV2),
        dex("uniswap-v3", 1, PoolKind::UniswapV3),
        dex("quickswap-v3", 2, PoolKind::Algebra),
    ];

    let mut specs = Vec::with_capacity(pools);
    let mut log_index = 0u32;
    for (a, b, (lo, hi)) in plan_pairs(&mut rng, pools, tails) {
        let (q0, q1) = (quotes[a], quotes[b]);
        // Raw token1 per raw token0, within ±0.02 % of the tokens' price ratio.
        let scale = 10f64.powi(i32::from(q1.decimals) - i32::from(q0.decimals));
        let price = q0.price / q1.price * scale * (1.0 + (rng.unit() - 0.5) * 4e-4);
        let value = rng.log_uniform(lo, hi);
        // Virtual reserves worth half the value on each side.
        let x = value / 2.0 / q0.price * 10f64.powi(i32::from(q0.decimals));
        let y = x * price;
        let address = rng.address();
        let kind = rng.below(100);
        let (dex, fee_pips, state) = if kind < V2_SHARE {
            let state = PoolState::UniswapV2 {
                reserve0: (x as u128).max(1),
                reserve1: (y as u128).max(1),
            };
            (DEX_V2, 3_000, state)
        } else if kind < V2_SHARE + V3_SHARE {
            let (fee, spacing) =
                [(100, 1), (500, 10), (3_000, 60), (10_000, 200)][rng.weighted(&[10, 35, 40, 15])];
            let rules = TickRules::uniswap_v3(spacing).expect("a fee tier's spacing");
            let state = cl_state(&mut rng, rules, price, (x * y).sqrt());
            (DEX_V3, fee, PoolState::UniswapV3(state))
        } else {
            let fee = 100 + rng.below(2_901) as u32;
            let state = cl_state(&mut rng, TickRules::algebra(), price, (x * y).sqrt());
            (DEX_ALGEBRA, fee, PoolState::Algebra(state))
        };
        let last_log = (rng.below(LAST_LOG_EVERY) == 0).then(|| {
            log_index += 1 + rng.below(3) as u32;
            (SNAPSHOT_BLOCK + 1, log_index)
        });
        specs.push(PoolSpec {
            address,
            dex,
            token0: token_address(a),
            token1: token_address(b),
            fee_pips,
            state,
            last_log,
            stale: Staleness::Fresh,
        });
    }
    let capital = start_tokens()
        .into_iter()
        .zip(&quotes)
        .map(|(token, q)| CapitalSpec {
            token,
            amount: (CAPITAL_NATIVE / q.price * 10f64.powi(i32::from(q.decimals))) as u128,
        })
        .collect();
    MarketSpec {
        block: SNAPSHOT_BLOCK,
        base_fee: 30_000_000_000,
        tokens,
        dexes,
        pools: specs,
        capital,
        lenders: Vec::new(),
    }
}

/// The chain tip a run that had seen block `market.block + 1` (the block of the pools'
/// `last_log`s) would write into the snapshot: that block and a hash. An engine built straight
/// from the market names none ([`Engine::chain_tip`] is `None`: its undo journal starts after
/// the logs the snapshot already holds), so the bench writes this one, as a run's export does.
///
/// [`Engine::chain_tip`]: polyarb_core::Engine::chain_tip
pub fn tip(market: &MarketSpec) -> ChainTip {
    let block = market.block + 1;
    let mut hash = [0x5a; 32];
    hash[24..].copy_from_slice(&block.to_be_bytes());
    ChainTip {
        block,
        hash: Some(B256::from(hash)),
        tag: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyarb_core::Engine;
    use polyarb_engine::snapshot;

    #[test]
    fn the_market_is_the_same_for_the_same_seed() {
        assert_eq!(market(500, 3), market(500, 3));
        assert_ne!(market(500, 3), market(500, 4));
    }

    #[test]
    fn a_dense_market_builds_at_the_cycle_cap_without_walking_past_it() {
        // 10,000 pools over 36 tokens: dozens of pools on every pair and about 5.5e10 4-hop pool
        // choices. Past `max_cycles` the engine counts them without walking them (it used to
        // walk them all: hours).
        let m = market_with_tails(10_000, 30, 1);
        let engine = Engine::new(&m, search_params()).expect("the market builds");
        let r = engine.build_report();
        assert_eq!(r.cycles, search_params().max_cycles);
        assert!(r.cycles_dropped > 10_000_000_000, "{}", r.cycles_dropped);
    }

    #[test]
    fn ten_thousand_pools_round_trip_and_build() {
        let m = market(10_000, 1);
        assert_eq!(m.pools.len(), 10_000);
        let text = snapshot::to_json(&m, Some(CHAIN_ID));
        let (back, chain) = snapshot::from_json(&text).expect("the snapshot reads back");
        assert_eq!(chain, Some(CHAIN_ID));
        assert_eq!(back, m);

        let engine = Engine::new(&m, search_params()).expect("the market builds");
        let r = engine.build_report();
        assert_eq!(r.pools_dropped, 0);
        assert_eq!(engine.pool_count(), 10_000);
        assert_eq!(engine.token_count(), HUBS.len() + tail_tokens(10_000));
        assert!(r.cycles > 0);
        println!(
            "10,000 pools, {} tokens: {} cycles stored, {} past max_cycles, snapshot {:.1} MB",
            engine.token_count(),
            r.cycles,
            r.cycles_dropped,
            text.len() as f64 / 1e6
        );
        // A running engine's export of the tables it was built from is the market again
        // (`last_log` in the block after the snapshot's included), and with a tip it reads
        // back as `--resume` reads it.
        let export = engine.market_spec();
        assert_eq!(export, m);
        assert_eq!(engine.chain_tip(), None);
        let text = snapshot::to_json_at(&export, Some(CHAIN_ID), Some(tip(&m)));
        assert_eq!(snapshot::tip(&text).expect("tip reads back"), Some(tip(&m)));
        assert_eq!(snapshot::from_json(&text).expect("reads back").0, m);
    }

    #[test]
    fn a_small_market_has_every_kind_and_a_thousand_pools_build() {
        let m = market(1_000, 2);
        let count = |k| m.pools.iter().filter(|p| p.kind() == k).count();
        let (v2, v3, alg) = (
            count(PoolKind::UniswapV2),
            count(PoolKind::UniswapV3),
            count(PoolKind::Algebra),
        );
        assert_eq!(v2 + v3 + alg, 1_000);
        // 60/30/10 % drawn per pool: within a few points.
        assert!(
            (540..=660).contains(&v2) && (240..=360).contains(&v3) && (50..=150).contains(&alg)
        );
        assert!(m.pools.iter().any(|p| p.last_log.is_some()));
        let e = Engine::new(&m, search_params()).expect("builds");
        assert_eq!(e.build_report().pools_dropped, 0);
        assert!(e.cycle_count() > 0);
    }
}
