//! The engine's math against the real thing: the Uniswap V2 and Pancake pair bytecode and the
//! forge-built `Executor`, deployed on anvil by `polyarb-tools`.
//!
//! Needs the toolchain (`tools/toolchain/install.sh`) and `forge build` in `contracts/`; without
//! them these tests fail with the message saying which to run.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use polyarb_core::{
    CALLDATA_MAX, CapitalSpec, DexSpec, Engine, MarketSpec, OpportunityFrame, PoolKind, PoolSpec,
    SearchParams, TokenSpec, encode_run, get_amount_out,
};
use polyarb_engine::txbuild::FeeBid;
use polyarb_tools::{
    Anvil, AnvilOpts, Dex, ExecutorSpec, PairInfo, PairSpec, Rpc, RpcError, SplitMix64,
    TRANSFER_GAS, Toolchain, TxRequest, World, WorldSpec, abi::IERC20, amount_out, deploy_world,
    swap_calldata, swap_now,
};
use serde_json::json;

use crate::common::sync;

/// Trades per DEX and direction.
const TRADES_PER_SIDE: usize = 32;

fn anvil() -> Anvil {
    Anvil::start(AnvilOpts::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// WMATIC, USDC and WETH; all three pairs on both DEXes; WMATIC the only start token. Account 2
/// trades and holds every token.
fn spec(node: &Anvil) -> WorldSpec {
    let mut spec = WorldSpec::sample(node.accounts()[0]);
    spec.tokens = [("WMATIC", 1.0), ("USDC", 2.5), ("WETH", 4_000.0)]
        .map(|(symbol, price_native)| polyarb_tools::TokenSpec {
            symbol: symbol.into(),
            price_native,
        })
        .to_vec();
    spec.start_tokens = vec!["WMATIC".into()];
    spec.pairs = Vec::new();
    for dex in Dex::ALL {
        for (a, b) in [("WMATIC", "USDC"), ("WMATIC", "WETH"), ("USDC", "WETH")] {
            spec.pairs.push(PairSpec::new(dex, a, b));
        }
    }
    spec.fund = vec![(node.accounts()[2], U256::from(10u128.pow(30)))];
    spec
}

fn deploy(rpc: &Rpc, spec: &WorldSpec) -> World {
    deploy_world(rpc, &Toolchain::locate(), spec).unwrap_or_else(|e| panic!("{e}"))
}

fn u128_of(x: U256) -> u128 {
    x.try_into().expect("a uint112 reserve fits u128")
}

/// `(reserve0, reserve1)` on chain now.
fn reserves(rpc: &Rpc, pair: Address) -> (u128, u128) {
    let (r0, r1) = rpc.reserves(pair).unwrap();
    (u128_of(r0), u128_of(r1))
}

/// Input and output token of a swap on `pair`.
fn tokens(world: &World, pair: &PairInfo, zero_for_one: bool) -> (Address, Address) {
    let (t0, t1) = (
        world.tokens[pair.token0].address,
        world.tokens[pair.token1].address,
    );
    if zero_for_one { (t0, t1) } else { (t1, t0) }
}

/// `evm_snapshot`: an id to return to.
fn snapshot(rpc: &Rpc) -> serde_json::Value {
    rpc.request("evm_snapshot", json!([])).unwrap()
}

/// `evm_revert` to `id`.
fn revert(rpc: &Rpc, id: serde_json::Value) {
    let ok = rpc.request("evm_revert", json!([id])).unwrap();
    assert_eq!(ok, json!(true), "evm_revert");
}

/// One trade, as a router does it: transfer `a` in, then `swap` for `get_amount_out`. One unit
/// more must fail the pair's own K check; the exact amount must be paid and leave the reserves
/// at `(r_in + a, r_out − out)`.
fn check_trade(
    rpc: &Rpc,
    world: &World,
    pair: &PairInfo,
    trader: Address,
    zero_for_one: bool,
    a: u128,
) {
    let (r0, r1) = reserves(rpc, pair.address);
    let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
    let out = get_amount_out(a, r_in, r_out, pair.dex.fee_bps() * 100);
    let what = format!(
        "{} {a} in, zero_for_one {zero_for_one}, reserves {r_in}/{r_out}: out {out}",
        pair.dex.name()
    );
    let (token_in, token_out) = tokens(world, pair, zero_for_one);

    // A zero output leaves the input in the pair as a donation; undo the whole trade after.
    let undo = (out == 0).then(|| snapshot(rpc));
    let transfer = IERC20::transferCall {
        to: pair.address,
        value: U256::from(a),
    }
    .abi_encode();
    rpc.transact(&TxRequest::call(trader, token_in, transfer).with_gas(TRANSFER_GAS))
        .unwrap_or_else(|e| panic!("{what}: transfer: {e}"));

    let greedy = swap_calldata(zero_for_one, U256::from(out + 1), trader);
    let err = rpc
        .eth_call(Some(trader), pair.address, &greedy)
        .expect_err(&format!("{what}: one more than get_amount_out was paid"));
    assert_eq!(
        err.revert_reason().as_deref(),
        Some(pair.dex.k_error()),
        "{what}: {err}"
    );

    if let Some(id) = undo {
        revert(rpc, id);
        assert_eq!(reserves(rpc, pair.address), (r0, r1));
        return;
    }
    let got_before = rpc.balance_of(token_out, trader).unwrap();
    let swap = TxRequest::call(
        trader,
        pair.address,
        swap_calldata(zero_for_one, U256::from(out), trader),
    )
    .with_gas(polyarb_tools::SWAP_GAS);
    rpc.transact(&swap)
        .unwrap_or_else(|e| panic!("{what}: the pair refused get_amount_out: {e}"));
    let got = rpc.balance_of(token_out, trader).unwrap() - got_before;
    assert_eq!(got, U256::from(out), "{what}: paid");
    let want = if zero_for_one {
        (r0 + a, r1 - out)
    } else {
        (r0 - out, r1 + a)
    };
    assert_eq!(reserves(rpc, pair.address), want, "{what}: reserves after");
}

/// `get_amount_out` is exactly the most each real pair pays: for both DEXes, both directions
/// and seeded random sizes from 1 wei to half the input reserve, the amount is paid and one more
/// unit reverts with the pair's K error. Reserves drift with the trades, so each check runs at
/// new reserves.
#[test]
fn get_amount_out_is_the_most_real_pairs_pay() {
    let node = anvil();
    let rpc = node.rpc();
    let world = deploy(&rpc, &spec(&node));
    let trader = node.accounts()[2];
    let mut rng = SplitMix64::new(0xD1FF_0137);
    let mut done: BTreeMap<(Dex, bool), usize> = BTreeMap::new();

    for dex in Dex::ALL {
        let pairs: Vec<&PairInfo> = world.pairs.iter().filter(|p| p.dex == dex).collect();
        assert_eq!(world.dex(dex).unwrap().fee_bps, dex.fee_bps());
        for i in 0..2 * TRADES_PER_SIDE {
            // Alternate directions so reserves wander rather than drain one side.
            let zero_for_one = i % 2 == 0;
            let pair = pairs[(i / 2) % pairs.len()];
            let (r0, r1) = reserves(&rpc, pair.address);
            let half = if zero_for_one { r0 } else { r1 } / 2;
            let a = match i / 2 {
                0 => 1,
                1 => half,
                _ => (rng.log_uniform(1.0, half as f64) as u128).clamp(1, half),
            };
            check_trade(&rpc, &world, pair, trader, zero_for_one, a);
            *done.entry((dex, zero_for_one)).or_default() += 1;
        }
    }
    assert_eq!(done.len(), 4, "both directions on both DEXes");
    assert!(done.values().all(|&n| n == TRADES_PER_SIDE), "{done:?}");
}

/// The market the engine would discover: every token and DEX of the world, the given pairs with
/// their reserves read off the chain now, and as capital per start token the executor's balance
/// divided by `capital_divisor` (1: all of it, as discovery lists it).
fn market(rpc: &Rpc, world: &World, pairs: &[&PairInfo], capital_divisor: u128) -> MarketSpec {
    let head: serde_json::Value = rpc
        .request("eth_getBlockByNumber", json!(["latest", false]))
        .unwrap();
    let base_fee: U256 = serde_json::from_value(head["baseFeePerGas"].clone()).unwrap();
    let block: u64 = serde_json::from_value::<alloy_primitives::U64>(head["number"].clone())
        .unwrap()
        .to();
    MarketSpec {
        block,
        base_fee: u128_of(base_fee),
        tokens: world
            .tokens
            .iter()
            .map(|t| TokenSpec {
                address: t.address,
                symbol: t.symbol.clone(),
                decimals: t.decimals,
            })
            .collect(),
        dexes: world
            .dexes
            .iter()
            .map(|d| DexSpec {
                name: d.dex.name().into(),
                factory: d.factory,
                kind: PoolKind::UniswapV2,
                flash_swap: true,
            })
            .collect(),
        pools: pairs
            .iter()
            .map(|p| {
                let (reserve0, reserve1) = reserves(rpc, p.address);
                let dex = world.dexes.iter().position(|d| d.dex == p.dex).unwrap();
                PoolSpec::v2(
                    p.address,
                    dex as u8,
                    world.tokens[p.token0].address,
                    world.tokens[p.token1].address,
                    world.dexes[dex].fee_bps * 100,
                    reserve0,
                    reserve1,
                )
            })
            .collect(),
        capital: world
            .start_tokens
            .iter()
            .map(|&i| CapitalSpec {
                token: world.tokens[i].address,
                amount: u128_of(
                    rpc.balance_of(world.tokens[i].address, world.executor.unwrap())
                        .unwrap(),
                ) / capital_divisor,
            })
            .collect(),
        lenders: Vec::new(),
    }
}

/// Checks `opp` hop by hop against the reserves on chain now; returns each hop's
/// `(pair, zero_for_one, amount in, amount out)`.
fn verify_on_chain(
    rpc: &Rpc,
    world: &World,
    opp: &OpportunityFrame,
) -> Vec<(&'static str, Address, bool, u128, u128)> {
    let token_in = Address::from(opp.token_in);
    let mut at = token_in;
    let mut amount = opp.amount_in;
    let mut hops = Vec::new();
    for h in opp.hops() {
        let pair = world
            .pairs
            .iter()
            .find(|p| p.address == Address::from(h.pool))
            .expect("a pair of the world");
        let zero_for_one = h.zero_for_one == 1;
        let (t_in, t_out) = tokens(world, pair, zero_for_one);
        assert_eq!(t_in, at, "hop input token");
        let (r0, r1) = reserves(rpc, pair.address);
        let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
        let out = get_amount_out(amount, r_in, r_out, pair.dex.fee_bps() * 100);
        assert_eq!(h.amount_out, out, "hop output at the chain's reserves");
        // The tools' independent formula agrees.
        assert_eq!(
            amount_out(
                U256::from(amount),
                U256::from(r_in),
                U256::from(r_out),
                pair.dex.fee_bps()
            ),
            Some(U256::from(out))
        );
        hops.push((pair.dex.k_error(), pair.address, zero_for_one, amount, out));
        amount = out;
        at = t_out;
    }
    assert_eq!(at, token_in, "route closes");
    assert_eq!(opp.profit, amount - opp.amount_in);
    hops
}

/// Builds an engine over `pools` (capital: the executor's balance / `capital_divisor`), moves
/// the price of `dump`'s pair by trading a tenth of its `input` reserve in, feeds the engine a
/// `Sync` of the real post-trade reserves, and runs the opportunity it finds through the real
/// executor.
fn execute_engine_route(
    rpc: &Rpc,
    world: &World,
    trader: Address,
    pools: &[&PairInfo],
    dump: (&PairInfo, usize),
    hops: usize,
    capital_divisor: u128,
) {
    let executor = world.executor.expect("executor deployed");
    let owner = world.executor_owner.expect("executor owner");
    let native = world.tokens[world.native].address;
    let spec = market(rpc, world, pools, capital_divisor);
    let params = SearchParams::new(native, vec![native]);
    let mut engine = Engine::new(&spec, params.clone()).unwrap();
    let mut unlimited = Engine::new(
        &MarketSpec {
            capital: Vec::new(),
            lenders: Vec::new(),
            ..spec.clone()
        },
        params,
    )
    .unwrap();
    assert_eq!(engine.pool_count(), pools.len());

    let (pair, input) = dump;
    let zero_for_one = pair.token0 == input;
    let (r0, r1) = rpc.reserves(pair.address).unwrap();
    let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
    let a = r_in / U256::from(10);
    let out = amount_out(a, r_in, r_out, pair.dex.fee_bps()).unwrap();
    let (_, swapped) = swap_now(
        rpc,
        trader,
        pair,
        world.tokens[input].address,
        zero_for_one,
        a,
        out,
    )
    .unwrap_or_else(|e| panic!("dislocating trade: {e}"));
    assert!(swapped.block_number > spec.block);

    let (p0, p1) = reserves(rpc, pair.address);
    let frame = sync(pair.address, swapped.block_number, 0, p0, p1);
    let opp = engine
        .on_frame(&frame)
        .first()
        .copied()
        .expect("the dislocation opens an opportunity");
    assert_eq!(usize::from(opp.hop_count), hops);
    let capital = spec
        .capital
        .iter()
        .find(|c| c.token == Address::from(opp.token_in))
        .expect("a start token's capital")
        .amount;
    let free = unlimited
        .on_frame(&frame)
        .first()
        .copied()
        .expect("uncapped, too");
    if capital_divisor == 1 {
        assert_eq!(opp, free, "capital above the optimum changes nothing");
        assert!(opp.amount_in < capital);
    } else {
        assert!(
            free.amount_in > capital,
            "the scenario must make the cap bind"
        );
        assert!(opp.amount_in <= capital, "input within the capital");
        assert!(opp.profit < free.profit);
    }
    for p in pools {
        assert_eq!(
            engine.pool_reserves(&p.address),
            Some(reserves(rpc, p.address)),
            "engine reserves are the chain's"
        );
    }
    let route = verify_on_chain(rpc, world, &opp);

    let mut buf = [0u8; CALLDATA_MAX];
    let n = encode_run(&opp, opp.profit, &mut buf).unwrap();
    let calldata = buf[..n].to_vec();
    let held = |t: &polyarb_tools::TokenInfo| rpc.balance_of(t.address, executor).unwrap();
    let before: Vec<U256> = world.tokens.iter().map(held).collect();
    let r_before: Vec<(u128, u128)> = route.iter().map(|h| reserves(rpc, h.1)).collect();

    // Sent by the owner, whom anvil holds unlocked, as `eth_sendTransaction`, with the gas
    // limit polyarb would sign (budget plus the default headroom). Not estimated: anvil's
    // estimate can miss the pairs' price-accumulator writes when the block's second ticks over.
    let gas = FeeBid {
        tip_wei: 0,
        max_fee_multiplier: 1,
        limit_headroom_pct: 100,
    }
    .gas_limit(opp.gas_budget);
    let receipt = rpc
        .transact(&TxRequest::call(owner, executor, calldata.clone()).with_gas(gas))
        .unwrap_or_else(|e| panic!("{hops}-hop route reverted on the real executor: {e}"));
    assert!(receipt.success);

    for (t, was) in world.tokens.iter().zip(&before) {
        let now = held(t);
        if t.address == Address::from(opp.token_in) {
            assert_eq!(
                now - *was,
                U256::from(opp.profit),
                "exactly the predicted profit"
            );
        } else {
            assert_eq!(now, *was, "{} balance moved", t.symbol);
        }
    }
    for ((_, pair, zero_for_one, a, out), (r0, r1)) in route.iter().zip(r_before) {
        let want = if *zero_for_one {
            (r0 + a, r1 - out)
        } else {
            (r0 - out, r1 + a)
        };
        assert_eq!(reserves(rpc, *pair), want, "reserves after the route");
    }

    // The same call again: the first pair's reserves moved against it, so the pair refuses.
    let err = rpc
        .eth_call(Some(owner), executor, &calldata)
        .expect_err("a spent route must not pay twice");
    assert!(matches!(err, RpcError::Reverted { .. }), "{err}");
    assert_eq!(err.revert_reason().as_deref(), Some(route[0].0), "{err}");
}

#[test]
fn engine_routes_pay_exactly_the_predicted_profit_on_the_real_executor() {
    let node = anvil();
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let mut spec = spec(&node);
    let mut executor = ExecutorSpec::new(&tc, node.accounts()[1]);
    // Capital above the optimal input of these dislocations; the capped runs divide it down.
    executor.funding_native_wei = 1_000_000 * 10u128.pow(18);
    spec.executor = Some(executor);
    let world = deploy(&rpc, &spec);
    let trader = node.accounts()[2];
    let (w, u, e) = (
        world.token("WMATIC").unwrap(),
        world.token("USDC").unwrap(),
        world.token("WETH").unwrap(),
    );
    let pair = |dex, a, b| world.pair(dex, a, b).unwrap();
    // Two pools of one token pair: only 2-hop cycles exist. The three Uniswap pools: only the
    // triangle exists.
    let two = [pair(Dex::UniswapV2, w, u), pair(Dex::PancakeV2, w, u)];
    let three = [
        pair(Dex::UniswapV2, w, u),
        pair(Dex::UniswapV2, w, e),
        pair(Dex::UniswapV2, u, e),
    ];
    // (pools, dumped pair and token, hops). Each shape runs with all the capital, then with a
    // ten-thousandth of it, below the optimal input, so the capped route is proven too.
    let cases: [(&[&PairInfo], (&PairInfo, usize), usize); 3] = [
        (&two, (pair(Dex::PancakeV2, w, u), u), 2),
        (&two, (pair(Dex::UniswapV2, w, u), w), 2),
        (&three, (pair(Dex::UniswapV2, u, e), e), 3),
    ];
    for (pools, dump, hops) in cases {
        for capital_divisor in [1, 10_000] {
            // Every case starts from the freshly deployed world.
            let fresh = snapshot(&rpc);
            execute_engine_route(&rpc, &world, trader, pools, dump, hops, capital_divisor);
            revert(&rpc, fresh);
        }
    }
}
