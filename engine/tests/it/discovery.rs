//! Pool discovery against the real Uniswap V3 and Algebra V1 bytecode on anvil (the tools
//! crate's `ClmmLab`): every loaded field equals what the independent state reader
//! (`polyarb_tools::read_pool_at`, HTTP, alloy's ABI decoding) reads at the same block, the
//! window holds exactly the initialized ticks inside it, later blocks do not leak in, and the
//! pools that must be skipped are: foreign tokens, never initialized, a pool without code. The
//! creation-log scan is checked in small chunks from block 0 and behind a peer that refuses
//! large ranges the way hosted nodes do.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use alloy_primitives::{Address, I256, U160, U256};
use alloy_sol_types::SolCall;
use polyarb_core::{ClStateSpec, Engine, MarketSpec, PoolSpec, PoolState, TickSpec};
use polyarb_engine::app::AppError;
use polyarb_engine::app::DiscoveryError;
use polyarb_engine::app::discovery::ScanError;
use polyarb_engine::app::discovery::{DiscoveryStats, discover};
use polyarb_engine::app::live::snapshot_cmd;
use polyarb_engine::config::Config;
use polyarb_engine::snapshot;
use polyarb_feeds::RpcClient;
use polyarb_tools::abi::IClmmProbe;
use polyarb_tools::{
    Case, Clmm, ClmmLab, LabOpts, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, PoolKind, Position,
    TxRequest, Words, approx_sqrt_price, read_pool_at,
};
use serde_json::json;

use crate::log_limit_peer::LogLimitPeer;

const T: Duration = Duration::from_secs(60);

fn lab(slots: usize) -> ClmmLab {
    ClmmLab::start_with(LabOpts {
        slots,
        workers: 1,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn pos(tick_lower: i32, tick_upper: i32, liquidity: u128) -> Position {
    Position {
        tick_lower,
        tick_upper,
        liquidity,
    }
}

fn case(kind: PoolKind, tick: f64, positions: Vec<Position>) -> Case {
    Case {
        kind,
        init_sqrt_price: approx_sqrt_price(tick),
        positions,
        swaps: Vec::new(),
    }
}

/// A config for the lab's factories, listing the tokens of `slots` only.
fn config(
    lab: &ClmmLab,
    slots: &[usize],
    node_extra: &str,
    dex_extra: &str,
    tick_words: u16,
) -> Config {
    let text = config_text(lab, slots, node_extra, dex_extra, tick_words);
    Config::parse(&text, Path::new("discovery-test.toml"), &HashMap::new())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn config_text(
    lab: &ClmmLab,
    slots: &[usize],
    node_extra: &str,
    dex_extra: &str,
    tick_words: u16,
) -> String {
    let d = lab.deployment();
    let mut tokens = String::new();
    for &s in slots {
        for (i, t) in [d.tokens[s].0, d.tokens[s].1].iter().enumerate() {
            tokens +=
                &format!("[[tokens]]\nsymbol = \"T{s}{i}\"\naddress = \"{t}\"\ndecimals = 18\n\n");
        }
    }
    format!(
        r#"
[node]
ws_url = "{ws}"
{node_extra}
[gas]
tip_wei = 1
gas_base = 1
gas_per_hop = 1
[search]
native = "T{s0}0"
start_tokens = ["T{s0}0"]
[[dexes]]
kind = "uniswap-v3"
name = "v3"
factory = "{v3}"
tick_words = {tick_words}
{dex_extra}
[[dexes]]
kind = "algebra"
name = "algebra"
factory = "{alg}"
tick_words = {tick_words}
{dex_extra}
{tokens}"#,
        ws = lab.anvil().ws_url(),
        s0 = slots[0],
        v3 = d.v3_factory,
        alg = d.algebra_factory,
    )
}

fn connect(url: &str) -> RpcClient {
    let mut rpc = RpcClient::connect(url, T).unwrap_or_else(|e| panic!("{url}: {e}"));
    rpc.set_timeout(T);
    rpc
}

fn run(url: &str, cfg: &Config, block: u64) -> Result<(MarketSpec, DiscoveryStats), AppError> {
    let mut rpc = connect(url);
    let out = discover(&mut rpc, cfg, block);
    let _ = rpc.close(Duration::from_secs(5));
    out
}

fn cl(p: &PoolSpec) -> (&ClStateSpec, Clmm) {
    match &p.state {
        PoolState::UniswapV3(s) => (s, Clmm::UniswapV3),
        PoolState::Algebra(s) => (s, Clmm::AlgebraV1),
        PoolState::UniswapV2 { .. } => panic!("{} is not concentrated", p.address),
    }
}

/// Checks one discovered pool against the independent reader at `block`; returns how many
/// initialized ticks the pool has outside the loaded window.
fn check_pool(lab: &ClmmLab, p: &PoolSpec, block: u64, n: u16) -> usize {
    let (s, protocol) = cl(p);
    let all = read_pool_at(lab.rpc(), p.address, protocol, Words::All, block)
        .unwrap_or_else(|e| panic!("{}: {e}", p.address));
    assert_eq!(
        (
            U256::from(all.sqrt_price),
            all.tick,
            all.liquidity,
            all.fee,
            all.tick_spacing
        ),
        (
            s.sqrt_price_x96,
            s.tick,
            s.liquidity,
            p.fee_pips,
            s.tick_spacing
        ),
        "{}",
        p.address
    );
    // The window is the span of 2n + 1 whole bitmap words around the price (cut at the tick
    // range), and it lists exactly the pool's initialized ticks inside it.
    let [lo, hi] = s.window;
    let word = 256 * s.tick_spacing;
    assert!(lo <= s.tick && s.tick <= hi, "{}: {lo} {hi}", p.address);
    assert!(lo == MIN_TICK || lo.rem_euclid(word) == 0, "{lo}");
    assert!(hi == MAX_TICK || (hi + 1).rem_euclid(word) == 0, "{hi}");
    if lo != MIN_TICK && hi != MAX_TICK {
        assert_eq!(hi + 1 - lo, (2 * i32::from(n) + 1) * word);
    }
    let inside: Vec<TickSpec> = all
        .ticks
        .iter()
        .filter(|t| (lo..=hi).contains(&t.tick))
        .map(|t| TickSpec {
            tick: t.tick,
            liquidity_net: t.liquidity_net,
            liquidity_gross: t.liquidity_gross,
        })
        .collect();
    assert_eq!(s.ticks, inside, "{}", p.address);
    all.ticks.len() - inside.len()
}

fn exact_in(x: u128) -> I256 {
    I256::try_from(x).unwrap()
}

#[test]
fn v3_and_algebra_pools_are_loaded_exactly_at_one_block() {
    let lab = lab(3);
    let rpc = lab.rpc();
    let d = lab.deployment().clone();
    let v3 = |fee| PoolKind::v3(fee).unwrap();
    let e18 = 10u128.pow(18);
    // Positions inside the 5-word window, across its edges and far outside, in negative and
    // positive words, down to the tick range's end.
    let setups = [
        (
            0,
            case(
                v3(500),
                30.5,
                vec![
                    pos(-5120, 7670, e18),
                    pos(-5130, -10, 3 * e18),
                    pos(7680, 9000, 5),
                    pos(-100_000, 100_000, 7 * e18),
                    pos(-20, 40, 11),
                ],
            ),
        ),
        (
            0,
            case(
                v3(3000),
                -40_000.3,
                vec![
                    pos(-76_800, -60, e18),
                    pos(-76_860, -40_020, 2 * e18),
                    pos(-40_200, 60, 13),
                    pos(-300_000, 300_000, e18),
                ],
            ),
        ),
        (
            0,
            case(
                PoolKind::Algebra { fee: Some(1234) },
                100_000.5,
                vec![
                    pos(61_440, 138_180, e18),
                    pos(61_380, 99_960, 17),
                    pos(100_020, 138_240, 2 * e18),
                    pos(-887_220, 887_220, 1),
                ],
            ),
        ),
        (
            1,
            case(
                v3(100),
                -300.5,
                vec![
                    pos(-1024, 255, e18),
                    pos(-1025, -300, 19),
                    pos(-301, 256, 2 * e18),
                    pos(-5, 5, 23),
                    pos(MIN_TICK, MAX_TICK, 29),
                ],
            ),
        ),
        (
            1,
            case(
                PoolKind::Algebra { fee: None },
                -880_000.5,
                vec![
                    pos(-887_220, -880_020, e18),
                    pos(-880_020, -844_800, 31),
                    pos(-887_220, 887_220, 2 * e18),
                ],
            ),
        ),
    ];
    let mut set_up = Vec::new();
    for (slot, c) in &setups {
        set_up.push(
            lab.mine_setup(c, *slot)
                .unwrap_or_else(|e| panic!("{:?}: {e}", c.kind)),
        );
    }
    // A pool without code: every call answers empty.
    let codeless = d.v3_pools[1][3];
    rpc.set_code(codeless, &[]).unwrap();
    // Blocks with no pool creation, so the scan covers a long empty stretch.
    rpc.request("anvil_mine", json!(["0x200"])).unwrap();
    let block = rpc.block_number().unwrap();

    // After B: a swap moves one pool, a never-initialized pool is set up, an Algebra pool
    // gets a new position inside its window. Discovery at B must see none of it.
    let swap = IClmmProbe::swapOnceCall {
        kind: 0,
        pool: set_up[0],
        s: IClmmProbe::SwapStep {
            zeroForOne: true,
            amountSpecified: exact_in(4 * e18),
            sqrtPriceLimitX96: MIN_SQRT_RATIO + U160::from(1u8),
        },
    };
    rpc.transact(&TxRequest::call(d.deployer, d.probe, swap.abi_encode()).with_gas(2_000_000_000))
        .unwrap();
    let late = lab
        .mine_setup(&case(v3(10000), 0.5, vec![pos(-200, 200, e18)]), 0)
        .unwrap();
    let again = case(
        PoolKind::Algebra { fee: None },
        -879_000.5,
        vec![pos(-870_000, -860_040, e18)],
    );
    lab.mine_setup(&again, 1).unwrap();
    let now = rpc.block_number().unwrap();
    for (pool, protocol) in [(set_up[0], Clmm::UniswapV3), (set_up[4], Clmm::AlgebraV1)] {
        let at_b = read_pool_at(rpc, pool, protocol, Words::All, block).unwrap();
        let later = read_pool_at(rpc, pool, protocol, Words::All, now).unwrap();
        assert_ne!(
            (at_b.tick, at_b.ticks.len()),
            (later.tick, later.ticks.len()),
            "the changes after B must show, or this test proves nothing"
        );
    }

    let n = 2;
    let cfg = config(&lab, &[0, 1], "logs_chunk_blocks = 64", "", n);
    let url = lab.anvil().ws_url();
    let (market, stats) = run(&url, &cfg, block).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(market.block, block);

    // Found: exactly the pools that were set up, each once, with the factory's token order.
    let found: HashSet<Address> = market.pools.iter().map(|p| p.address).collect();
    assert_eq!(found, set_up.iter().copied().collect(), "kept pools");
    assert_eq!(found.len(), market.pools.len());
    let mut outside = 0;
    for p in &market.pools {
        let slot = (0..3)
            .find(|&s| d.v3_pools[s].contains(&p.address) || d.algebra_pools[s] == p.address)
            .unwrap();
        assert_eq!((p.token0, p.token1), d.tokens[slot]);
        assert!(!cl(p).0.ticks.is_empty(), "{}", p.address);
        outside += check_pool(&lab, p, block, n);
    }
    assert!(outside >= 10, "positions outside the windows: {outside}");
    assert!(!found.contains(&late), "initialized after B");
    // 3 slots × (4 V3 + 1 Algebra) pools; slot 2's tokens are not configured; in slots 0 and
    // 1, four V3 pools were never initialized at B (one only later) and one has no code.
    assert_eq!(
        (
            stats.listed,
            stats.kept,
            stats.foreign,
            stats.uninitialized,
            stats.failed
        ),
        (15, 5, 5, 4, 1),
        "{stats:?}"
    );
    assert_eq!(
        stats.ticks,
        market
            .pools
            .iter()
            .map(|p| cl(p).0.ticks.len() as u64)
            .sum::<u64>()
    );
    // The engine takes the market as it is: its checks pass and it builds its tables.
    market.check().unwrap_or_else(|e| panic!("{e}"));
    Engine::new(&market, cfg.search_params()).unwrap_or_else(|e| panic!("{e}"));
    // 64-block chunks from block 0, per factory.
    let per_factory = (block + 1).div_ceil(64);
    assert_eq!(stats.log_requests, 2 * per_factory, "{stats:?}");
    assert_eq!(stats.log_splits, 0);

    // One request per factory finds the same market; a scan that starts after the pools were
    // created finds none; more words load more ticks of the same pools.
    let (one_shot, s1) = run(&url, &config(&lab, &[0, 1], "", "", n), block).unwrap();
    assert_eq!(one_shot, market);
    assert_eq!(s1.log_requests, 2);
    let late_start = config(&lab, &[0, 1], "", &format!("from_block = {}", block - 5), n);
    let (empty, s2) = run(&url, &late_start, block).unwrap();
    assert!(empty.pools.is_empty());
    assert_eq!(s2.listed, 0);
    let (wide, _) = run(&url, &config(&lab, &[0, 1], "", "", 40), block).unwrap();
    let mut wide_outside = 0;
    for p in &wide.pools {
        wide_outside += check_pool(&lab, p, block, 40);
    }
    assert!(wide_outside < outside, "{wide_outside} vs {outside}");

    // `polyarb snapshot` writes the same state (at the node's head, no longer B).
    let dir = crate::replay::scratch("discovery-snapshot");
    let (cfg_file, out) = (dir.join("lab.toml"), dir.join("lab.snapshot.json"));
    std::fs::write(&cfg_file, config_text(&lab, &[0, 1], "", "", n)).unwrap();
    let never = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let summary = snapshot_cmd(&cfg_file, &out, &never).unwrap_or_else(|e| panic!("{e}"));
    let (written, chain) = snapshot::parse(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(chain, Some(137));
    assert_eq!(written.block, rpc.block_number().unwrap());
    // What the command reports is what it wrote.
    assert_eq!((summary.block, &summary.out), (written.block, &out));
    assert_eq!(summary.stats.kept, written.pools.len() as u64);
    let (head, _) = run(&url, &cfg, written.block).unwrap();
    assert_eq!(written, head);
    // The pools set up after B are there now.
    assert!(written.pools.iter().any(|p| p.address == late));
}

#[test]
fn a_node_that_refuses_large_log_ranges_gets_smaller_ones() {
    let lab = lab(1);
    let rpc = lab.rpc();
    let pools = [
        lab.mine_setup(
            &case(
                PoolKind::v3(3000).unwrap(),
                100.5,
                vec![pos(-600, 600, 10u128.pow(18))],
            ),
            0,
        )
        .unwrap(),
        lab.mine_setup(
            &case(
                PoolKind::Algebra { fee: Some(500) },
                -100.5,
                vec![pos(-600, 600, 10u128.pow(18))],
            ),
            0,
        )
        .unwrap(),
    ];
    rpc.request("anvil_mine", json!(["0xc8"])).unwrap();
    let block = rpc.block_number().unwrap();
    let cfg = config(
        &lab,
        &[0],
        "logs_chunk_blocks = 100\nlogs_in_flight = 3",
        "",
        2,
    );
    let (direct, _) = run(&lab.anvil().ws_url(), &cfg, block).unwrap();

    let max_span = 7;
    let peer = LogLimitPeer::start(lab.anvil().http_url(), max_span);
    let (market, stats) = run(&peer.url, &cfg, block).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(market, direct);
    assert_eq!(
        market
            .pools
            .iter()
            .map(|p| p.address)
            .collect::<HashSet<_>>(),
        pools.into_iter().collect()
    );
    let seen = peer.seen();
    assert!(stats.log_splits > 0, "{stats:?}");
    assert_eq!(stats.log_requests, seen.len() as u64);
    assert_eq!(
        stats.log_splits,
        seen.iter().filter(|s| s.refused).count() as u64
    );
    // Per factory (the algebra scan starts once the v3 scan is done), the accepted ranges tile
    // 0..=B exactly, each within the node's limit.
    let mut accepted: Vec<(u64, u64)> = seen
        .iter()
        .filter(|s| !s.refused)
        .map(|s| (s.from, s.to))
        .collect();
    assert!(accepted.iter().all(|(a, b)| b - a < max_span));
    accepted.sort_unstable();
    let mut covered: HashMap<u64, u32> = HashMap::new();
    for (a, b) in &accepted {
        for x in *a..=*b {
            *covered.entry(x).or_default() += 1;
        }
    }
    assert_eq!(covered.len() as u64, block + 1);
    assert!(
        covered.values().all(|&c| c == 2),
        "each block once per factory"
    );

    // A node that refuses even one block: an error naming it, not a panic or a hang.
    let refuse_all = LogLimitPeer::start(lab.anvil().http_url(), 0);
    let err = run(&refuse_all.url, &cfg, block).unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Discovery(DiscoveryError::Logs {
                error: ScanError::Refused { .. },
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("alone refused"), "{err}");
}
