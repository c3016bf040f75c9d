//! End to end on a real node with concentrated liquidity: anvil (chain id 137, the code size
//! limit the npm Algebra build needs) with the real Uniswap V2, Uniswap V3 and Algebra V1
//! bytecode, our Executor, and the `polyarb` binary. Each world holds WMATIC/USDC on exactly two
//! pools of different kinds, so the only cycles are the two directions of one 2-hop route. A
//! trader opens a gap; polyarb must find the route, sign it, get it mined, and the executor's
//! balance must grow by exactly the predicted profit.
//!
//! That last check holds by construction for any transaction that succeeds (the executor's
//! `minProfit` is the predicted profit), so each test also asks an oracle independent of
//! `polyarb-core` whether the input polyarb chose was the best one for the state it ran on: the
//! real pools at the block before the transaction, asked by `eth_call` in the environment of the
//! transaction's own block (concentrated hops swap through the trader's `PoolActor`, V2 hops use
//! the pair's reserves at that block and `polyarb_tools::amount_out`), first for the chosen input
//! (which must reproduce the profit the chain paid to the wei) and then for inputs around it,
//! each valued after the gas its crossed ticks add to polyarb's budget (the `PoolActor` reports
//! the pool's tick after the swap). The initialized ticks each concentrated hop crossed on chain
//! (read before and after with `polyarb_tools::read_pool_at`) must be the `ticks_crossed`
//! polyarb reported.
//!
//! The trader's swap opens the gap on one pool or the other: on the V3 pool (the Algebra pool's
//! history stays flat), or on the Algebra pool, whose history then turns volatile, so the pool
//! recomputes its adaptive fee at polyarb's swap (its first of the next block) and polyarb must
//! have predicted that fee; the test reads from the chain that the fee did change.
//!
//! Every wait is bounded (the `e2e` helpers' patience, the RPC client's receipt wait, the exit
//! wait here) and fails with polyarb's log.

use std::{sync::mpsc, thread, time::Duration};

use alloy_primitives::{Address, B256, Bytes, I256, U160, U256};
use alloy_sol_types::{SolCall, SolEvent};
use polyarb_tools::{
    ACTOR_GAS, Anvil, BLOCK_INTERVAL_S, ClmmPoolInfo, ClmmPoolSpec, Dex, ExecutorSpec,
    MAX_SQRT_RATIO, MIN_SQRT_RATIO, PairSpec, PoolKind, PoolSnapshot, Receipt, Rpc, TokenSpec,
    Toolchain, TxRequest, Words, World, WorldSpec,
    abi::{IAlgebraPool, IPoolActor, IUniswapV2Pair},
    amount_out, deploy_world, price_limit, read_pool, read_pool_at, swap_in_one_block,
    world_anvil_opts,
};
use serde_json::{Value, json};

use crate::e2e::{Polyarb, assert_alone_in_block, balance_at, temp_dir, write_config};

/// Value of each start token the executor holds, wei of native: far above any route here, so
/// the input polyarb picks is its unconstrained optimum (asserted below), not its capital.
const EXECUTOR_FUNDING_NATIVE_WEI: u128 = 1_000_000 * 10u128.pow(18);

/// How long polyarb may take to exit after SIGINT.
const EXIT_PATIENCE: Duration = Duration::from_secs(30);

/// Raw units of each token given to the trader and to its `PoolActor`.
const TRADER_FUNDING: u128 = 10u128.pow(30);

/// How much more than the chosen input's profit another input the oracle tries may earn, raw
/// WMATIC.
/// The search sizes routes with concentrated hops to within a few raw units of the integer
/// optimum (docs/engine.md, Limitations); one raw USDC is worth 2 raw WMATIC here.
const ROUNDING_WEI: u64 = 8;

/// WMATIC and USDC (18 decimals each, USDC worth 2 WMATIC) on exactly `pairs` and `pools`,
/// priced without noise so the trader's swap is the only gap; the executor (owned by dev
/// account 1) holds WMATIC only, so cycles start there; dev account 2 trades, directly on the V2
/// pairs and through its `PoolActor` on the concentrated pools.
fn two_token_world(
    node: &Anvil,
    tc: &Toolchain,
    pairs: Vec<PairSpec>,
    pools: Vec<ClmmPoolSpec>,
) -> World {
    let accounts = node.accounts();
    let trader = accounts[2];
    let mut spec = WorldSpec::sample(accounts[0]);
    spec.tokens = [("WMATIC", 1.0), ("USDC", 2.0)]
        .map(|(symbol, price_native)| TokenSpec {
            symbol: symbol.into(),
            price_native,
        })
        .to_vec();
    spec.start_tokens = vec!["WMATIC".into()];
    // Own capital funds these routes; the sample's lenders hold WETH, which this world lacks.
    spec.balancer = None;
    spec.aave = None;
    spec.pairs = pairs;
    spec.clmm_pools = pools;
    spec.noise_bps = 0;
    let mut executor = ExecutorSpec::new(tc, accounts[1]);
    executor.funding_native_wei = EXECUTOR_FUNDING_NATIVE_WEI;
    spec.executor = Some(executor);
    spec.fund = vec![(trader, U256::from(TRADER_FUNDING))];
    spec.actors = vec![(trader, U256::from(TRADER_FUNDING))];
    let rpc = node.rpc();
    let world =
        deploy_world(&rpc, tc, &spec).expect("deploy world (did `forge build` run in contracts/?)");
    // Fixed steps of chain time between blocks, whatever the wall clock: Algebra's adaptive fee
    // reads block times.
    rpc.set_block_timestamp_interval(BLOCK_INTERVAL_S)
        .expect("anvil_setBlockTimestampInterval");
    world
}

fn start_node(tc: &Toolchain) -> Anvil {
    let node = Anvil::start_in(tc, world_anvil_opts(false))
        .expect("start anvil (run tools/toolchain/install.sh)");
    assert_eq!(node.chain_id(), 137);
    node
}

/// Sells `fraction_bps` of the pair's WMATIC reserve into it: WMATIC gets cheap there.
fn sell_wmatic_on_pair(rpc: &Rpc, world: &World, trader: Address, dex: Dex, fraction_bps: u64) {
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let pair = world.pair(dex, w, u).unwrap();
    let (r0, r1) = rpc.reserves(pair.address).unwrap();
    let zero_for_one = pair.token0 == w;
    let (rin, rout) = if zero_for_one { (r0, r1) } else { (r1, r0) };
    let amount_in = rin * U256::from(fraction_bps) / U256::from(10_000u64);
    let out = amount_out(amount_in, rin, rout, dex.fee_bps()).unwrap();
    let wmatic = world.tokens[w].address;
    swap_in_one_block(rpc, trader, pair, wmatic, zero_for_one, amount_in, out).unwrap();
}

/// Sells WMATIC into a concentrated pool through the trader's `PoolActor` until the pool's price
/// has moved by `price_move` (the swap's price limit; the input asked for is more than that
/// takes). Returns the pool's tick before and after.
fn sell_wmatic_on_pool(
    rpc: &Rpc,
    world: &World,
    trader: Address,
    pool: &ClmmPoolInfo,
    price_move: f64,
) -> (i32, i32) {
    let w = world.token("WMATIC").unwrap();
    let zero_for_one = pool.token0 == w;
    let before = read_pool(rpc, pool.address, pool.protocol(), Words::AroundCurrent(0)).unwrap();
    let call = IPoolActor::swapCall {
        pool: pool.address,
        zeroForOne: zero_for_one,
        amountSpecified: I256::try_from(10u128.pow(27)).unwrap(),
        sqrtPriceLimitX96: price_limit(before.sqrt_price, zero_for_one, price_move),
    };
    let actor = world.actor(trader).expect("the trader has a PoolActor");
    let receipt = rpc
        .transact(&TxRequest::call(trader, actor, call.abi_encode()).with_gas(ACTOR_GAS))
        .unwrap();
    assert!(receipt.success);
    let after = read_pool(rpc, pool.address, pool.protocol(), Words::AroundCurrent(0)).unwrap();
    (before.tick, after.tick)
}

/// One hop of an opportunity line.
#[derive(Debug, Clone)]
struct Hop {
    pool: Address,
    kind: String,
    zero_for_one: bool,
    ticks_crossed: u64,
}

fn hops_of(opportunity: &Value) -> Vec<Hop> {
    opportunity["hops"]
        .as_array()
        .expect("hops[]")
        .iter()
        .map(|h| Hop {
            pool: h["pool"].as_str().unwrap().parse().unwrap(),
            kind: h["kind"].as_str().unwrap().to_owned(),
            zero_for_one: h["zero_for_one"].as_bool().unwrap(),
            ticks_crossed: h["ticks_crossed"].as_u64().unwrap(),
        })
        .collect()
}

fn u256_field(v: &Value, key: &str) -> U256 {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .parse()
        .unwrap()
}

/// The real pools as they were at the end of `block`, asked one hop at a time. Every hop of a
/// route here is on a different pool, so each hop sees that pool exactly as the route's own
/// swap did. Independent of `polyarb-core`: concentrated hops are the pools' own `swap` (through
/// the trader's `PoolActor`, by `eth_call` at `block`), V2 hops the pair's reserves at `block`
/// and `polyarb_tools::amount_out`.
///
/// The calls run in the environment `env` (`blockOverrides`), for a transaction mined alone in
/// block `block + 1` that block's number and timestamp: an Algebra pool's first swap at a new
/// timestamp writes a timepoint and recomputes its fee before it trades, so in `block`'s own
/// environment (its timestamp already written) the pool would trade at the fee it had, not the
/// one the transaction paid. The check of the chosen input against what the chain paid, to the
/// wei, shows the environment is the transaction's.
struct Oracle<'a> {
    rpc: &'a Rpc,
    world: &'a World,
    trader: Address,
    actor: Address,
    block: String,
    env: BlockEnv,
    /// Each concentrated pool at `block` (its tick and the initialized ticks near it).
    before: Vec<(Address, PoolSnapshot)>,
    /// What the route's gas budget adds per initialized tick crossed, wei of native: the
    /// config's gas per tick of the pool's kind times the fee per gas polyarb budgeted.
    tick_wei: TickWei,
}

/// The number and timestamp (s) a call runs with.
#[derive(Clone, Copy, Debug)]
struct BlockEnv {
    number: u64,
    time: u64,
}

impl BlockEnv {
    /// Those of mined block `number`.
    fn of(rpc: &Rpc, number: u64) -> Self {
        let header: Value = rpc
            .call(
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), false]),
            )
            .unwrap();
        let time = header["timestamp"].as_str().expect("a block's timestamp");
        Self {
            number,
            time: u64::from_str_radix(time.trim_start_matches("0x"), 16).unwrap(),
        }
    }
}

/// Wei of native per initialized tick crossed, by pool kind.
#[derive(Clone, Copy, Debug)]
struct TickWei {
    v3: U256,
    algebra: U256,
}

impl TickWei {
    /// From the config polyarb ran with (`[gas] gas_per_v3_tick`, `gas_per_algebra_tick`) and
    /// the fee per gas of its opportunity (`gas_cost_native_wei / gas_budget`, an exact quotient).
    fn of(config: &std::path::Path, opportunity: &Value) -> Self {
        let cfg: toml::Table = std::fs::read_to_string(config).unwrap().parse().unwrap();
        let per_tick = |key: &str| {
            let v = cfg["gas"][key]
                .as_integer()
                .unwrap_or_else(|| panic!("[gas] {key} in the rendered config"));
            U256::from(u64::try_from(v).unwrap())
        };
        let cost = u256_field(opportunity, "gas_cost_native_wei");
        let budget = U256::from(opportunity["gas_budget"].as_u64().expect("gas_budget"));
        assert_eq!(
            cost % budget,
            U256::ZERO,
            "gas cost is budget × fee per gas"
        );
        let fee_per_gas = cost / budget;
        Self {
            v3: per_tick("gas_per_v3_tick") * fee_per_gas,
            algebra: per_tick("gas_per_algebra_tick") * fee_per_gas,
        }
    }
}

impl<'a> Oracle<'a> {
    fn at(
        rpc: &'a Rpc,
        world: &'a World,
        trader: Address,
        block: u64,
        env: BlockEnv,
        tick_wei: TickWei,
    ) -> Self {
        let before = world
            .clmm_pools
            .iter()
            .map(|p| {
                let s = read_pool_at(rpc, p.address, p.protocol(), Words::AroundCurrent(2), block)
                    .unwrap();
                (p.address, s)
            })
            .collect();
        Self {
            rpc,
            world,
            trader,
            actor: world.actor(trader).expect("the trader has a PoolActor"),
            block: format!("{block:#x}"),
            env,
            before,
            tick_wei,
        }
    }

    fn call(&self, from: Option<Address>, to: Address, data: Vec<u8>) -> Bytes {
        let BlockEnv { number, time } = self.env;
        self.rpc
            .eth_call_in_block(from, to, &data, 30_000_000, &self.block, number, time)
            .unwrap_or_else(|e| panic!("eth_call of {to} at {} in {:?}: {e}", self.block, self.env))
    }

    /// What `hop` pays for `amount_in`, raw units of its output token, and the initialized
    /// ticks it crosses doing so.
    fn hop_out(&self, hop: &Hop, amount_in: U256) -> (U256, u64) {
        match hop.kind.as_str() {
            "uniswap-v2" => {
                let pair = self
                    .world
                    .pairs
                    .iter()
                    .find(|p| p.address == hop.pool)
                    .expect("a pair of the world");
                let out = self.call(
                    None,
                    hop.pool,
                    IUniswapV2Pair::getReservesCall {}.abi_encode(),
                );
                let r = IUniswapV2Pair::getReservesCall::abi_decode_returns(&out).unwrap();
                let (r0, r1) = (U256::from(r.reserve0), U256::from(r.reserve1));
                let (rin, rout) = if hop.zero_for_one { (r0, r1) } else { (r1, r0) };
                (
                    amount_out(amount_in, rin, rout, pair.dex.fee_bps()).unwrap(),
                    0,
                )
            }
            "uniswap-v3" | "algebra" => {
                // Exact input, no price limit: what the executor asks of the pool.
                let limit = if hop.zero_for_one {
                    MIN_SQRT_RATIO + U160::from(1u8)
                } else {
                    MAX_SQRT_RATIO - U160::from(1u8)
                };
                let call = IPoolActor::swapReportingTickCall {
                    pool: hop.pool,
                    zeroForOne: hop.zero_for_one,
                    amountSpecified: I256::try_from(amount_in).unwrap(),
                    sqrtPriceLimitX96: limit,
                };
                let out = self.call(Some(self.trader), self.actor, call.abi_encode());
                let r = IPoolActor::swapReportingTickCall::abi_decode_returns(&out).unwrap();
                let (paid, got) = if hop.zero_for_one {
                    (r.amount0, r.amount1)
                } else {
                    (r.amount1, r.amount0)
                };
                assert_eq!(
                    paid,
                    I256::try_from(amount_in).unwrap(),
                    "the pool took the whole input"
                );
                assert!(!got.is_positive(), "the pool paid out: {got}");
                let before = &self
                    .before
                    .iter()
                    .find(|(a, _)| *a == hop.pool)
                    .expect("a pool of the world")
                    .1;
                (
                    got.unsigned_abs(),
                    ticks_crossed(before, r.tickAfter.as_i32()),
                )
            }
            other => panic!("unknown hop kind {other}"),
        }
    }

    /// The route's output minus `amount_in`, raw units of the start token (WMATIC, the native
    /// token here), and that profit less the gas its ticks crossed add to the budget.
    fn profit(&self, hops: &[Hop], amount_in: U256) -> (I256, I256) {
        let mut x = amount_in;
        let mut tick_cost = U256::ZERO;
        for h in hops {
            let (out, ticks) = self.hop_out(h, x);
            let per_tick = if h.kind == "algebra" {
                self.tick_wei.algebra
            } else {
                self.tick_wei.v3
            };
            tick_cost += per_tick * U256::from(ticks);
            x = out;
        }
        let gross = I256::try_from(x).unwrap() - I256::try_from(amount_in).unwrap();
        (gross, gross - I256::try_from(tick_cost).unwrap())
    }
}

/// Initialized ticks a swap from `before` to tick `after` crossed: those in `(lo, hi]` of the
/// two ticks (moving up the pool's tick reaches a tick it crosses; moving down it ends below it).
fn ticks_crossed(before: &PoolSnapshot, after: i32) -> u64 {
    let (lo, hi) = (before.tick.min(after), before.tick.max(after));
    before
        .ticks
        .iter()
        .filter(|t| lo < t.tick && t.tick <= hi)
        .count() as u64
}

/// Offsets from `chosen` the oracle tries, each both ways: 1 and 3 times every power of ten, up
/// to 30 % of `chosen`. The profit is concave in the input (each hop's output is, rounding
/// aside), so if the optimum is `δ` away the largest offset `d ≤ δ` (at least `δ/3.4`) moved
/// towards it gains at least `d/δ` of what the chosen input loses (the chord lies below the
/// curve): an input losing more than about 3.4 × [`ROUNDING_WEI`] fails the test.
fn offsets(chosen: U256) -> Vec<U256> {
    let cap = chosen * U256::from(3u8) / U256::from(10u8);
    let mut out = Vec::new();
    let mut p = U256::from(1u8);
    while p <= cap {
        out.extend([p, p * U256::from(3u8)].into_iter().filter(|&d| d <= cap));
        p *= U256::from(10u8);
    }
    out
}

/// What one mined arbitrage showed.
struct Mined {
    /// polyarb's opportunity line.
    opportunity: Value,
    /// Its transaction's receipt.
    receipt: Receipt,
    hops: Vec<Hop>,
    /// Per hop: ticks crossed on chain (concentrated hops; 0 for V2).
    ticks_on_chain: Vec<u64>,
}

/// Waits for polyarb's first opportunity, checks that its transaction was mined alone in its
/// block and paid the executor exactly the predicted profit, that its hops are of `kinds` (in
/// some order), and that no input the oracle tries around the chosen one beats it by more than
/// [`ROUNDING_WEI`] net of the gas its ticks crossed add (polyarb maximises profit after gas, so
/// it may stop short of a tick whose crossing costs more than it pays). Returns the hops and the
/// ticks each crossed on chain.
fn check_first_arbitrage(
    polyarb: &Polyarb,
    config: &std::path::Path,
    rpc: &Rpc,
    world: &World,
    trader: Address,
    kinds: [&str; 2],
) -> Mined {
    let first = polyarb.wait_for_opportunities(1).remove(0);
    let fail = |what: String| -> ! { panic!("{what}\nopportunity: {first}\n{}", polyarb.logs()) };
    let hash: B256 = first["tx_hash"]
        .as_str()
        .unwrap_or_else(|| fail("no transaction was signed".into()))
        .parse()
        .unwrap();
    let receipt: Receipt = match rpc.wait_receipt(hash) {
        Ok(r) => r,
        Err(e) => {
            let r = rpc.receipt(hash).ok().flatten();
            fail(format!("polyarb's tx failed: {e}\nreceipt: {r:?}"))
        }
    };
    if !receipt.success {
        fail(format!("polyarb's tx reverted: {receipt:?}"));
    }

    let hops = hops_of(&first);
    let mut got: Vec<&str> = hops.iter().map(|h| h.kind.as_str()).collect();
    got.sort_unstable();
    let mut want = kinds.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "hop kinds of {first}");

    // Alone in its block (automine), so the executor's balance change over the block is exactly
    // what the route paid.
    assert_alone_in_block(rpc, receipt.block_number);
    let executor = world.executor.unwrap();
    let token: Address = first["token_in"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        token, world.tokens[world.native].address,
        "cycles start at WMATIC"
    );
    let before = balance_at(rpc, token, executor, receipt.block_number - 1);
    let after = balance_at(rpc, token, executor, receipt.block_number);
    let predicted = u256_field(&first, "profit");
    assert!(predicted > U256::ZERO);
    assert_eq!(
        after - before,
        predicted,
        "executor balance change vs predicted profit"
    );

    // Optimality, on the state the transaction ran on.
    let chosen = u256_field(&first, "amount_in");
    assert!(
        chosen < before,
        "the input {chosen} is the executor's whole capital {before}: not an interior optimum"
    );
    let tick_wei = TickWei::of(config, &first);
    let oracle = Oracle::at(
        rpc,
        world,
        trader,
        receipt.block_number - 1,
        BlockEnv::of(rpc, receipt.block_number),
        tick_wei,
    );
    let (gross_at_chosen, at_chosen) = oracle.profit(&hops, chosen);
    assert_eq!(
        gross_at_chosen,
        I256::try_from(predicted).unwrap(),
        "the oracle reproduces what the chain paid for the chosen input"
    );
    let mut tried = 0;
    let mut best = (chosen, at_chosen);
    for d in offsets(chosen) {
        for x in [chosen.checked_sub(d), chosen.checked_add(d)]
            .into_iter()
            .flatten()
            .filter(|x| !x.is_zero() && *x <= before)
        {
            let (_, p) = oracle.profit(&hops, x);
            tried += 1;
            if p > best.1 {
                best = (x, p);
            }
        }
    }
    let gain = best.1 - at_chosen;
    assert!(
        gain <= I256::try_from(ROUNDING_WEI).unwrap(),
        "input {} pays {gain} more after tick gas than the chosen {chosen} (profit {predicted}, \
         {tried} inputs tried, {tick_wei:?} per tick)",
        best.0
    );

    // Ticks crossed on chain, from the independent reader, against what polyarb reported.
    let mut ticks_on_chain = Vec::new();
    for h in &hops {
        let Some(pool) = world.clmm_pools.iter().find(|p| p.address == h.pool) else {
            ticks_on_chain.push(0);
            continue;
        };
        let read = |b: u64| {
            read_pool_at(
                rpc,
                pool.address,
                pool.protocol(),
                Words::AroundCurrent(2),
                b,
            )
            .unwrap()
        };
        let crossed = ticks_crossed(
            &read(receipt.block_number - 1),
            read(receipt.block_number).tick,
        );
        assert_eq!(
            crossed, h.ticks_crossed,
            "ticks crossed on {} vs reported ({first})",
            h.kind
        );
        ticks_on_chain.push(crossed);
    }

    polyarb.wait_for_log("node accepted transaction");
    Mined {
        opportunity: first,
        receipt,
        hops,
        ticks_on_chain,
    }
}

/// WMATIC and USDC on a Uniswap V3 pool (0.05 %) and an Algebra pool, polyarb running live
/// against them (logs and scratch files in a folder named `name`).
struct V3Algebra {
    node: Anvil,
    world: World,
    trader: Address,
    v3: PoolKind,
    algebra: PoolKind,
    config: std::path::PathBuf,
    polyarb: Polyarb,
}

fn v3_algebra_world(name: &str) -> V3Algebra {
    let tc = Toolchain::locate();
    let node = start_node(&tc);
    let v3 = PoolKind::v3(500).unwrap();
    let algebra = PoolKind::Algebra { fee: None };
    let world = two_token_world(
        &node,
        &tc,
        Vec::new(),
        vec![
            ClmmPoolSpec::new(v3, "WMATIC", "USDC"),
            ClmmPoolSpec::new(algebra, "WMATIC", "USDC"),
        ],
    );
    let trader = node.accounts()[2];
    let dir = temp_dir(name);
    let config = write_config(&node, &world, &dir);
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);
    V3Algebra {
        node,
        world,
        trader,
        v3,
        algebra,
        config,
        polyarb,
    }
}

/// SIGINT, then a clean exit with no transaction rejected, within [`EXIT_PATIENCE`]; polyarb's
/// stdout (its summary).
pub(crate) fn stop_cleanly(polyarb: Polyarb) -> String {
    // `Polyarb::stop` waits for the process without a bound; wait for it on another thread.
    let logs = polyarb.logs();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(polyarb.stop());
    });
    let (ok, stdout) = rx.recv_timeout(EXIT_PATIENCE).unwrap_or_else(|_| {
        panic!(
            "polyarb did not exit within {} s of SIGINT; its log before:\n{logs}",
            EXIT_PATIENCE.as_secs()
        )
    });
    assert!(ok, "polyarb exit status after SIGINT\n{stdout}\n{logs}");
    assert!(stdout.contains("0 rejected"), "{stdout}");
    stdout
}

#[test]
fn a_v2_v3_gap_is_mined_at_the_optimal_input() {
    let tc = Toolchain::locate();
    let node = start_node(&tc);
    let rpc = node.rpc();
    let v3 = PoolKind::v3(3000).unwrap();
    let world = two_token_world(
        &node,
        &tc,
        vec![PairSpec::new(Dex::UniswapV2, "WMATIC", "USDC")],
        vec![ClmmPoolSpec::new(v3, "WMATIC", "USDC")],
    );
    let trader = node.accounts()[2];
    let dir = temp_dir("cl-v2-v3");
    let config = write_config(&node, &world, &dir);
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);

    // 3 % of the pair's WMATIC moves its price about 6 %; the V3 pool, deeper near the price,
    // takes the arbitrage over a ladder boundary.
    sell_wmatic_on_pair(&rpc, &world, trader, Dex::UniswapV2, 300);
    let mined = check_first_arbitrage(
        &polyarb,
        &config,
        &rpc,
        &world,
        trader,
        ["uniswap-v2", "uniswap-v3"],
    );
    assert_eq!(
        mined.hops[0].kind, "uniswap-v3",
        "buy USDC where WMATIC is dear"
    );
    stop_cleanly(polyarb);
}

#[test]
fn a_v3_algebra_gap_across_initialized_ticks_is_mined_at_the_optimal_input() {
    let V3Algebra {
        node,
        world,
        trader,
        v3,
        config,
        polyarb,
        ..
    } = v3_algebra_world("cl-v3-algebra");
    let rpc = node.rpc();

    // The gap is opened on the V3 pool: the Algebra pool's tick has not moved since its last
    // timepoint, so the write at polyarb's swap leaves its fee where it was (100 pips before and
    // after, on the runs that wrote this). The gap on the Algebra pool, whose fee does move, is
    // the next test.
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let pool = world.clmm_pool(v3, w, u).unwrap().clone();
    let (from, to) = sell_wmatic_on_pool(&rpc, &world, trader, &pool, 0.03);
    assert!(
        (from - to).abs() > 250,
        "the trader moved the V3 tick {from} → {to}"
    );
    let mined = check_first_arbitrage(
        &polyarb,
        &config,
        &rpc,
        &world,
        trader,
        ["uniswap-v3", "algebra"],
    );
    assert_eq!(
        mined.hops[0].kind, "algebra",
        "buy USDC where WMATIC is dear"
    );
    assert!(
        mined.ticks_on_chain.iter().sum::<u64>() >= 1,
        "the route crossed an initialized tick: {:?}",
        mined.ticks_on_chain
    );
    stop_cleanly(polyarb);
}

#[test]
fn an_algebra_gap_is_mined_at_the_fee_the_pool_recomputes_at_polyarbs_swap() {
    let V3Algebra {
        node,
        world,
        trader,
        algebra,
        config,
        polyarb,
        ..
    } = v3_algebra_world("cl-algebra-fee");
    let rpc = node.rpc();

    // The trader's swap moves the Algebra pool's tick in block B−1; polyarb's route is the pool's
    // first swap of block B, which writes a timepoint holding that jump first and trades at the
    // fee recomputed from it.
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let pool = world.clmm_pool(algebra, w, u).unwrap().clone();
    let (from, to) = sell_wmatic_on_pool(&rpc, &world, trader, &pool, 0.03);
    assert!(
        (from - to).abs() > 250,
        "the trader moved the Algebra tick {from} → {to}"
    );
    let mined = check_first_arbitrage(
        &polyarb,
        &config,
        &rpc,
        &world,
        trader,
        ["uniswap-v3", "algebra"],
    );
    assert_eq!(
        mined.hops[0].kind, "uniswap-v3",
        "sell WMATIC where it is dear"
    );

    // From the chain alone: the pool's fee at polyarb's swap is not the one it had.
    let b = mined.receipt.block_number;
    let fee_at = |block: u64| {
        read_pool_at(
            &rpc,
            pool.address,
            pool.protocol(),
            Words::AroundCurrent(0),
            block,
        )
        .unwrap()
        .fee
    };
    let logged: Vec<u32> = mined
        .receipt
        .events
        .iter()
        .filter(|l| {
            l.address == pool.address
                && l.topics.first() == Some(&IAlgebraPool::Fee::SIGNATURE_HASH)
        })
        .map(|l| U256::from_be_slice(&l.data).to::<u32>())
        .collect();
    let (had, paid) = (fee_at(b - 1), fee_at(b));
    assert_eq!(
        logged,
        vec![paid],
        "polyarb's swap recomputed the Algebra fee once ({:?})",
        mined.receipt
    );
    assert_ne!(
        paid, had,
        "the Algebra fee at polyarb's swap is the one the pool had: this test proves nothing"
    );

    // And it mattered: on the same state in block B−1's own environment (no timepoint write, the
    // old fee) the chosen input pays another profit than the one polyarb predicted and got.
    let chosen = u256_field(&mined.opportunity, "amount_in");
    let predicted = I256::try_from(u256_field(&mined.opportunity, "profit")).unwrap();
    let stale = Oracle::at(
        &rpc,
        &world,
        trader,
        b - 1,
        BlockEnv::of(&rpc, b - 1),
        TickWei::of(&config, &mined.opportunity),
    );
    let (at_old_fee, _) = stale.profit(&mined.hops, chosen);
    assert_ne!(
        at_old_fee, predicted,
        "the fee change moved the route's profit"
    );
    println!(
        "Algebra fee {had} → {paid} pips at polyarb's swap; profit {predicted} wei (at the old \
         fee {at_old_fee}); ticks crossed {:?}",
        mined.ticks_on_chain
    );
    stop_cleanly(polyarb);
}
