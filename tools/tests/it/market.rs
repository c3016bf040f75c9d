//! A small world with every pool kind (V2 pairs on two DEXes, Uniswap V3 pools in three fee
//! tiers, Algebra pools) on the real bytecode, traded by the seeded trader while the liquidity
//! provider mints and burns ranges. Checked against the chain's own logs (`eth_getLogs`) and the
//! pools' state as the state reader sees it: what the actors say they did must be what the pools
//! recorded and hold. `POLYARB_LONG=1` trades ten times as many blocks.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, B256, I256, U256};
use alloy_sol_types::SolEvent;
use polyarb_tools::{
    ALGEBRA_DEX_NAME, BLOCK_INTERVAL_S, Clmm, ClmmPoolInfo, ClmmPoolSpec, ConfigParams, Dex,
    ExecutorSpec, LiquidityProvider, Log, LpChange, LpOpts, PoolKind, Position, Rpc, SwapRecord,
    TickLiquidity, Toolchain, TraderOpts, Traders, V3_DEX_NAME, Venue, Words, World, WorldError,
    WorldSpec,
    abi::{IAlgebraPool, IUniswapV2Pair, IUniswapV3Pool},
    deploy_world, read_pool, render_config, world_anvil_opts,
};

use crate::{anvil, small_spec, stand_in_executor};

const FUNDING: u128 = 10u128.pow(30);

fn long() -> bool {
    std::env::var_os("POLYARB_LONG").is_some_and(|v| v == "1")
}

/// [`small_spec`] plus four V3 pools (fees 0.05 %, 0.3 % twice, 1 %) and two Algebra pools, all on
/// pairs that have V2 pairs; `PoolActor`s for `trader` and `lp`.
fn market_spec(deployer: Address, trader: Address, lp: Address) -> WorldSpec {
    let mut spec = small_spec(deployer);
    let v3 = |fee| PoolKind::v3(fee).unwrap();
    let algebra = PoolKind::Algebra { fee: None };
    spec.clmm_pools = vec![
        ClmmPoolSpec::new(v3(500), "WMATIC", "USDC"),
        ClmmPoolSpec::new(v3(3000), "WMATIC", "USDC"),
        ClmmPoolSpec::new(v3(3000), "WMATIC", "WETH"),
        ClmmPoolSpec::new(v3(10000), "USDC", "WETH"),
        ClmmPoolSpec::new(algebra, "WMATIC", "USDC"),
        ClmmPoolSpec::new(algebra, "USDC", "WETH"),
    ];
    spec.fund = vec![(trader, U256::from(FUNDING))];
    spec.actors = vec![(trader, U256::from(FUNDING)), (lp, U256::from(FUNDING))];
    spec
}

struct Market {
    node: polyarb_tools::Anvil,
    rpc: Rpc,
    world: World,
    trader: Address,
    lp: Address,
}

fn market() -> Market {
    let node = anvil(world_anvil_opts(true));
    let rpc = node.rpc();
    rpc.set_block_timestamp_interval(BLOCK_INTERVAL_S).unwrap();
    let accounts = node.accounts().to_vec();
    let (trader, lp) = (accounts[2], accounts[3]);
    let mut spec = market_spec(accounts[0], trader, lp);
    let dir = crate::scratch("market");
    spec.executor = Some(ExecutorSpec::new(&Toolchain::locate(), accounts[1]));
    spec.executor.as_mut().unwrap().artifact = stand_in_executor(&dir);
    let world = deploy_world(&rpc, &Toolchain::locate(), &spec).unwrap_or_else(|e| panic!("{e}"));
    Market {
        node,
        rpc,
        world,
        trader,
        lp,
    }
}

/// Blocks of trading: `per_block` swaps a block, an LP action in about `lp_rate` of them.
fn trade(
    m: &Market,
    seed: u64,
    blocks: usize,
    per_block: usize,
    lp_rate: f64,
) -> (Vec<SwapRecord>, LiquidityProvider) {
    let mut lp = LpOpts::new(m.lp, seed ^ 0x1111);
    lp.rate = lp_rate;
    let opts = TraderOpts::new(m.trader, seed, per_block).with_liquidity(lp);
    let mut traders = Traders::new(&m.rpc, &m.world, opts).unwrap_or_else(|e| panic!("{e}"));
    let mut swaps = Vec::new();
    for _ in 0..blocks {
        swaps.extend(traders.block(per_block).unwrap_or_else(|e| panic!("{e}")));
    }
    (swaps, traders.liquidity().unwrap().clone())
}

fn decode<E: SolEvent>(log: &Log) -> Option<E> {
    if log.topic0() != Some(E::SIGNATURE_HASH) {
        return None;
    }
    E::decode_raw_log(log.topics.iter().copied(), &log.data).ok()
}

fn signed(x: U256) -> I256 {
    I256::try_from(x).unwrap()
}

/// The ticks a set of positions initializes: `(gross, net)` per bound.
fn ticks_of(positions: &BTreeMap<(Address, i32, i32), u128>) -> Vec<TickLiquidity> {
    let mut ticks: BTreeMap<i32, (u128, i128)> = BTreeMap::new();
    for (&(_, lower, upper), &l) in positions {
        if l == 0 {
            continue;
        }
        let net = i128::try_from(l).unwrap();
        let lo = ticks.entry(lower).or_default();
        lo.0 += l;
        lo.1 += net;
        let hi = ticks.entry(upper).or_default();
        hi.0 += l;
        hi.1 -= net;
    }
    ticks
        .into_iter()
        .map(|(tick, (gross, net))| TickLiquidity {
            tick,
            liquidity_gross: gross,
            liquidity_net: net,
        })
        .collect()
}

fn seed_ledger(world: &World, pool: &ClmmPoolInfo) -> BTreeMap<(Address, i32, i32), u128> {
    let seeder = world.seeder.unwrap();
    let mut ledger = BTreeMap::new();
    for s in &pool.seeds {
        *ledger
            .entry((seeder, s.tick_lower, s.tick_upper))
            .or_default() += s.liquidity;
    }
    ledger
}

fn active(ledger: &BTreeMap<(Address, i32, i32), u128>, tick: i32) -> u128 {
    ledger
        .iter()
        .filter(|((_, lo, hi), _)| *lo <= tick && tick < *hi)
        .map(|(_, l)| l)
        .sum()
}

#[test]
fn every_pool_kind_trades_and_the_pools_agree_with_the_actors() {
    let m = market();
    let world = &m.world;
    assert_eq!(world.pairs.len(), 6);
    assert_eq!(world.clmm_pools.len(), 6);
    let seeder = world.seeder.expect("a seeding actor");
    let trader_actor = world.actor(m.trader).unwrap();
    let lp_actor = world.actor(m.lp).unwrap();
    let spec = market_spec(Address::ZERO, m.trader, m.lp);

    // Deployed as asked: priced from the price vector within the noise, the seed ladder exactly
    // in the pool's tick storage, and the three V3 fees as the pools report them.
    let mut fees = BTreeSet::new();
    for pool in &world.clmm_pools {
        let (t0, t1) = (&world.tokens[pool.token0], &world.tokens[pool.token1]);
        assert!(t0.address < t1.address, "token0 sorts first");
        let p = pool.init_sqrt_price.to::<u128>() as f64 / 2f64.powi(96);
        let ratio = p * p / (t0.price_native / t1.price_native);
        let noise = f64::from(spec.noise_bps) / 10_000.0;
        assert!((ratio - 1.0).abs() <= noise + 1e-9, "{ratio}");
        let snap = read_pool(&m.rpc, pool.address, pool.protocol(), Words::All).unwrap();
        assert_eq!(snap.tick_spacing, pool.tick_spacing());
        assert_eq!(snap.ticks, ticks_of(&seed_ledger(world, pool)));
        assert_eq!(snap.liquidity, active(&seed_ledger(world, pool), snap.tick));
        assert_eq!(pool.seeds.len(), pool.seeded.len());
        fees.insert(snap.fee);
        if let PoolKind::UniswapV3 { fee, .. } = pool.kind {
            assert_eq!(snap.fee, fee);
        }
    }
    assert!(
        fees.is_superset(&BTreeSet::from([500, 3000, 10000])),
        "{fees:?}"
    );

    // The config lists the concentrated factories by kind, without fee_bps.
    let params = ConfigParams::new(m.node.ws_url(), 137, "0x01".to_owned(), 0);
    let cfg: toml::Table = render_config(world, &params).unwrap().parse().unwrap();
    let dexes = cfg["dexes"].as_array().unwrap();
    let listed: Vec<(&str, &str, Option<i64>)> = dexes
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["name"].as_str().unwrap(),
                d.get("fee_bps").and_then(toml::Value::as_integer),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("uniswap-v2", Dex::UniswapV2.name(), Some(30)),
            ("uniswap-v2", Dex::PancakeV2.name(), Some(20)),
            ("uniswap-v3", V3_DEX_NAME, None),
            ("algebra", ALGEBRA_DEX_NAME, None),
        ]
    );
    let factory = |i: usize| -> Address { dexes[i]["factory"].as_str().unwrap().parse().unwrap() };
    assert_eq!(Some(factory(2)), world.v3_factory);
    assert_eq!(Some(factory(3)), world.algebra_factory);

    let first_trade_block = m.rpc.block_number().unwrap() + 1;
    let blocks = if long() { 600 } else { 60 };
    let (swaps, lp) = trade(&m, 11, blocks, 3, 0.6);
    let last = m.rpc.block_number().unwrap();
    let logs = m.rpc.logs(0, last, &[]).unwrap();

    // Every kind was traded, and the liquidity provider minted and burned, fully and partly.
    let on = |kind: fn(&PoolKind) -> bool| {
        swaps
            .iter()
            .filter(|s| matches!(s.venue, Venue::Pool(i) if kind(&world.clmm_pools[i].kind)))
            .count()
    };
    let pair_swaps = swaps
        .iter()
        .filter(|s| matches!(s.venue, Venue::Pair(_)))
        .count();
    let v3_swaps = on(|k| matches!(k, PoolKind::UniswapV3 { .. }));
    let algebra_swaps = on(|k| matches!(k, PoolKind::Algebra { .. }));
    assert!(
        pair_swaps > 0 && v3_swaps > 0 && algebra_swaps > 0,
        "{pair_swaps} {v3_swaps} {algebra_swaps}"
    );
    let actions = lp.actions();
    let mints = actions
        .iter()
        .filter(|a| a.change == LpChange::Mint)
        .count();
    let full = actions
        .iter()
        .filter(|a| a.change == LpChange::Burn && a.remaining == 0)
        .count();
    let partial = actions
        .iter()
        .filter(|a| a.change == LpChange::Burn && a.remaining > 0)
        .count();
    assert!(mints > 0 && full > 0 && partial > 0, "{actions:?}");

    // The chain's logs: Sync from the pairs, and from the concentrated pools of each kind Swap,
    // Mint and Burn (the same topics in V3 and Algebra), Fee from Algebra only.
    let pair_set: BTreeSet<Address> = world.pairs.iter().map(|p| p.address).collect();
    let kind_of = |a: Address| world.clmm_pools.iter().find(|p| p.address == a);
    let mut seen: BTreeSet<(&str, B256)> = BTreeSet::new();
    for log in &logs {
        let Some(topic) = log.topic0() else { continue };
        if pair_set.contains(&log.address) {
            seen.insert(("v2", topic));
        } else if let Some(pool) = kind_of(log.address) {
            let kind = match pool.protocol() {
                Clmm::UniswapV3 => "v3",
                Clmm::AlgebraV1 => "algebra",
            };
            seen.insert((kind, topic));
        }
    }
    let sync = IUniswapV2Pair::Sync::SIGNATURE_HASH;
    let swap = IUniswapV3Pool::Swap::SIGNATURE_HASH;
    let mint = IUniswapV3Pool::Mint::SIGNATURE_HASH;
    let burn = IUniswapV3Pool::Burn::SIGNATURE_HASH;
    let fee = IAlgebraPool::Fee::SIGNATURE_HASH;
    for want in [
        ("v2", sync),
        ("v3", swap),
        ("v3", mint),
        ("v3", burn),
        ("algebra", swap),
        ("algebra", mint),
        ("algebra", burn),
        ("algebra", fee),
    ] {
        assert!(seen.contains(&want), "no {want:?} log");
    }
    assert!(!seen.contains(&("v3", fee)));
    let syncs_traded = logs
        .iter()
        .filter(|l| l.block_number >= first_trade_block && l.topic0() == Some(sync))
        .count();
    assert_eq!(syncs_traded, pair_swaps, "one Sync per pair swap");

    // Pool by pool: the actors' records against the pool's logs, and the ledger of positions
    // they imply against the pool's ticks, liquidity and price as the state reader reads them.
    let mut crossings = 0;
    let mut closed_ticks = 0;
    for (index, pool) in world.clmm_pools.iter().enumerate() {
        let own: Vec<&Log> = logs.iter().filter(|l| l.address == pool.address).collect();
        let mut ledger = seed_ledger(world, pool);
        let mut ever: BTreeSet<i32> = ticks_of(&ledger).iter().map(|t| t.tick).collect();

        // Mints: the seeds at deployment, then the liquidity provider's, in order.
        let minted: Vec<IUniswapV3Pool::Mint> = own.iter().filter_map(|l| decode(l)).collect();
        let want_mints: Vec<(Address, i32, i32, u128)> = pool
            .seeds
            .iter()
            .map(|s: &Position| (seeder, s.tick_lower, s.tick_upper, s.liquidity))
            .chain(
                actions
                    .iter()
                    .filter(|a| a.pool == index && a.change == LpChange::Mint)
                    .map(|a| (lp_actor, a.tick_lower, a.tick_upper, a.liquidity)),
            )
            .collect();
        let got_mints: Vec<(Address, i32, i32, u128)> = minted
            .iter()
            .map(|e| {
                (
                    e.owner,
                    e.tickLower.as_i32(),
                    e.tickUpper.as_i32(),
                    e.amount,
                )
            })
            .collect();
        assert_eq!(got_mints, want_mints, "mints of pool {index}");
        let burned: Vec<(Address, i32, i32, u128)> = own
            .iter()
            .filter_map(|l| decode::<IUniswapV3Pool::Burn>(l))
            .map(|e| {
                (
                    e.owner,
                    e.tickLower.as_i32(),
                    e.tickUpper.as_i32(),
                    e.amount,
                )
            })
            .collect();
        let want_burns: Vec<(Address, i32, i32, u128)> = actions
            .iter()
            .filter(|a| a.pool == index && a.change == LpChange::Burn)
            .map(|a| (lp_actor, a.tick_lower, a.tick_upper, a.liquidity))
            .collect();
        assert_eq!(burned, want_burns, "burns of pool {index}");

        // Replay the liquidity provider's actions on the ledger, watching ticks come and go.
        for a in actions.iter().filter(|a| a.pool == index) {
            let key = (lp_actor, a.tick_lower, a.tick_upper);
            match a.change {
                LpChange::Mint => *ledger.entry(key).or_default() += a.liquidity,
                LpChange::Burn => {
                    let held = ledger.get_mut(&key).expect("burn of a held range");
                    *held -= a.liquidity;
                    assert_eq!(*held, a.remaining, "the provider's own count");
                }
            }
            let now: BTreeSet<i32> = ticks_of(&ledger).iter().map(|t| t.tick).collect();
            closed_ticks += ever.difference(&now).count();
            ever = now;
        }

        let snap = read_pool(&m.rpc, pool.address, pool.protocol(), Words::All).unwrap();
        assert_eq!(snap.ticks, ticks_of(&ledger), "ticks of pool {index}");
        assert_eq!(
            snap.liquidity,
            active(&ledger, snap.tick),
            "liquidity of pool {index}"
        );

        // Price: the last Swap's, or the initial one if nobody swapped.
        let swap_logs: Vec<IUniswapV3Pool::Swap> = own.iter().filter_map(|l| decode(l)).collect();
        let (price, tick) = swap_logs
            .last()
            .map_or((pool.init_sqrt_price, pool.init_tick), |s| {
                (s.sqrtPriceX96, s.tick.as_i32())
            });
        assert_eq!((snap.sqrt_price, snap.tick), (price, tick), "pool {index}");

        // Swaps the trader recorded are the pool's Swap logs, in order, from its actor.
        let recorded: Vec<(U256, U256)> = swaps
            .iter()
            .filter(|s| s.venue == Venue::Pool(index))
            .map(|s| (s.amount_in, s.amount_out))
            .collect();
        let logged: Vec<(U256, U256)> = swap_logs
            .iter()
            .map(|s| {
                assert_eq!((s.sender, s.recipient), (trader_actor, trader_actor));
                let (a0, a1) = (s.amount0, s.amount1);
                if a0.is_positive() {
                    (a0.unsigned_abs(), a1.unsigned_abs())
                } else {
                    (a1.unsigned_abs(), a0.unsigned_abs())
                }
            })
            .collect();
        assert_eq!(recorded, logged, "swaps of pool {index}");

        // Tick crossings: a swap moved the price across a seed bound.
        let mut prev = pool.init_tick;
        for s in &swap_logs {
            let t = s.tick.as_i32();
            let (lo, hi) = (prev.min(t), prev.max(t));
            if pool.seeds.iter().any(|p| {
                [p.tick_lower, p.tick_upper]
                    .iter()
                    .any(|&b| lo < b && b <= hi)
            }) {
                crossings += 1;
            }
            prev = t;
        }

        // Tokens: what the pool holds is what was minted in and swapped in, less what was
        // collected out (no protocol or community fee is set).
        let mut held = [I256::ZERO; 2];
        for l in &own {
            if let Some(e) = decode::<IUniswapV3Pool::Mint>(l) {
                held[0] += signed(e.amount0);
                held[1] += signed(e.amount1);
            } else if let Some(e) = decode::<IUniswapV3Pool::Swap>(l) {
                held[0] += e.amount0;
                held[1] += e.amount1;
            } else if let Some(e) = decode::<IUniswapV3Pool::Collect>(l) {
                held[0] -= signed(U256::from(e.amount0));
                held[1] -= signed(U256::from(e.amount1));
            }
        }
        for (k, token) in [pool.token0, pool.token1].into_iter().enumerate() {
            let balance = m
                .rpc
                .balance_of(world.tokens[token].address, pool.address)
                .unwrap();
            assert_eq!(signed(balance), held[k], "pool {index} token{k}");
        }

        // The fee: V3's tier; Algebra's last Fee event, which the first swap of every block
        // (and a mint or burn that moves active liquidity) emits.
        let fee_logs: Vec<u16> = own
            .iter()
            .filter_map(|l| decode::<IAlgebraPool::Fee>(l))
            .map(|e| e.fee)
            .collect();
        match pool.kind {
            PoolKind::UniswapV3 { fee, .. } => assert_eq!(snap.fee, fee),
            PoolKind::Algebra { .. } => {
                let blocks_swapped: BTreeSet<u64> = own
                    .iter()
                    .filter(|l| l.topic0() == Some(swap))
                    .map(|l| l.block_number)
                    .collect();
                assert!(fee_logs.len() >= blocks_swapped.len(), "pool {index}");
                assert_eq!(Some(&(snap.fee as u16)), fee_logs.last(), "pool {index}");
            }
        }
    }
    assert!(crossings > 0, "some swap crossed an initialized tick");
    assert!(closed_ticks > 0, "some tick was uninitialized by a burn");
}

#[test]
fn same_seed_same_market() {
    let run = |seed| {
        let m = market();
        let (swaps, lp) = trade(&m, seed, 8, 3, 0.7);
        let states: Vec<_> = m
            .world
            .clmm_pools
            .iter()
            .map(|p| read_pool(&m.rpc, p.address, p.protocol(), Words::AroundCurrent(2)).unwrap())
            .map(|s| (s.sqrt_price, s.tick, s.liquidity, s.fee, s.ticks))
            .collect();
        (swaps, lp.actions().to_vec(), states)
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a.0, run(6).0);
}

#[test]
fn bad_pool_specs_are_refused_before_sending_anything() {
    let node = anvil(world_anvil_opts(false));
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let deployer = node.accounts()[0];
    let with = |pools: Vec<ClmmPoolSpec>| {
        let mut spec = small_spec(deployer);
        spec.clmm_pools = pools;
        deploy_world(&rpc, &tc, &spec).unwrap_err()
    };
    let algebra = PoolKind::Algebra { fee: None };
    let cases = [
        (
            vec![ClmmPoolSpec::new(
                PoolKind::Algebra { fee: Some(500) },
                "WMATIC",
                "USDC",
            )],
            "adaptive fee",
        ),
        (
            vec![ClmmPoolSpec::new(
                PoolKind::UniswapV3 {
                    fee: 500,
                    spacing: 60,
                },
                "WMATIC",
                "USDC",
            )],
            "no such uniswap v3 fee tier",
        ),
        (
            vec![
                ClmmPoolSpec::new(algebra, "WMATIC", "USDC"),
                ClmmPoolSpec::new(algebra, "USDC", "WMATIC"),
            ],
            "twice",
        ),
        (
            vec![ClmmPoolSpec::new(algebra, "WMATIC", "NOPE")],
            "unknown token NOPE",
        ),
    ];
    for (pools, why) in cases {
        let err = with(pools);
        assert!(matches!(err, WorldError::Spec(_)), "{err}");
        assert!(err.to_string().contains(why), "{err}");
    }
    assert_eq!(rpc.block_number().unwrap(), 0, "nothing was sent");
    // Two V3 tiers of one pair are two pools, not a duplicate.
    let mut spec = small_spec(deployer);
    spec.clmm_pools = vec![
        ClmmPoolSpec::new(PoolKind::v3(500).unwrap(), "WMATIC", "USDC"),
        ClmmPoolSpec::new(PoolKind::v3(3000).unwrap(), "USDC", "WMATIC"),
    ];
    spec.pairs.clear();
    let world = deploy_world(&rpc, &tc, &spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.clmm_pools.len(), 2);
    assert!(world.algebra_factory.is_none() && world.v3_factory.is_some());

    // Nobody got a PoolActor, so nobody can trade on the pools or provide liquidity.
    let trader = node.accounts()[2];
    let err = Traders::new(&rpc, &world, TraderOpts::new(trader, 1, 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{trader} owns no pool actor in this world")
    );
    let err = LiquidityProvider::new(&world, LpOpts::new(trader, 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{trader} owns no pool actor in this world")
    );
}
