//! World deployment on real bytecode, and the config written for it.

use std::collections::BTreeSet;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolError;
use polyarb_tools::{
    AnvilOpts, ConfigParams, Dex, ExecutorSpec, PairInfo, PairSpec, Rpc, Toolchain, TxRequest,
    World, WorldError, abi::IExecutor, abi::IUniswapV2Factory, abi::run_calldata, amount_out,
    deploy_world, executor_owner, render_config, swap_now,
};

use crate::{anvil, small_spec, small_world, stand_in_executor};

#[test]
fn pair_reserves_match_what_was_minted() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let spec = small_spec(node.accounts()[0]);

    assert_eq!(world.tokens.len(), 3);
    assert!(world.tokens.iter().all(|t| t.decimals == 18));
    let fees: Vec<_> = world.dexes.iter().map(|d| (d.dex, d.fee_bps)).collect();
    assert_eq!(fees, [(Dex::UniswapV2, 30), (Dex::PancakeV2, 20)]);
    assert_eq!(world.pairs.len(), 6);

    for dex in &world.dexes {
        let n = rpc
            .view(dex.factory, &IUniswapV2Factory::allPairsLengthCall {})
            .unwrap();
        assert_eq!(n, U256::from(3), "{:?}", dex.dex);
    }
    let mut addresses = BTreeSet::new();
    for pair in &world.pairs {
        assert!(addresses.insert(pair.address));
        let (t0, t1) = (&world.tokens[pair.token0], &world.tokens[pair.token1]);
        assert!(t0.address < t1.address, "token0 sorts first");
        let factory = world.dex(pair.dex).unwrap().factory;
        let listed = rpc
            .view(
                factory,
                &IUniswapV2Factory::getPairCall {
                    tokenA: t1.address,
                    tokenB: t0.address,
                },
            )
            .unwrap();
        assert_eq!(listed, pair.address);

        assert_eq!(
            rpc.reserves(pair.address).unwrap(),
            (pair.minted0, pair.minted1)
        );
        assert_eq!(
            rpc.balance_of(t0.address, pair.address).unwrap(),
            pair.minted0
        );
        assert_eq!(
            rpc.balance_of(t1.address, pair.address).unwrap(),
            pair.minted1
        );

        // Both sides are worth the depth, one of them off by at most the noise.
        let v0 = f64::from(pair.minted0) * t0.price_native;
        let v1 = f64::from(pair.minted1) * t1.price_native;
        let depth = spec.depth_native_wei as f64;
        let noise = f64::from(spec.noise_bps) / 10_000.0;
        for v in [v0, v1] {
            assert!((v / depth - 1.0).abs() <= noise + 1e-9, "{v} vs {depth}");
        }
        assert!((v0 / depth - 1.0).abs() < 1e-9 || (v1 / depth - 1.0).abs() < 1e-9);
    }
    // The per-pair noise differs between the two DEXes' copies of a pair.
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let uni = world.pair(Dex::UniswapV2, w, u).unwrap();
    let cake = world.pair(Dex::PancakeV2, u, w).unwrap();
    assert_ne!((uni.minted0, uni.minted1), (cake.minted0, cake.minted1));

    // The funded trader holds every token.
    for t in &world.tokens {
        assert_eq!(
            rpc.balance_of(t.address, node.accounts()[2]).unwrap(),
            U256::from(10u128.pow(30))
        );
    }
}

#[test]
fn deployment_restores_no_mining_mode() {
    let node = anvil(AnvilOpts {
        no_mining: true,
        ..AnvilOpts::default()
    });
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    assert_eq!(world.pairs.len(), 6);
    assert!(!rpc.automine().unwrap(), "automine was switched back off");
}

#[test]
fn bad_spec_is_refused_before_sending_anything() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let mut spec = small_spec(node.accounts()[0]);
    spec.pairs
        .push(PairSpec::new(Dex::UniswapV2, "WMATIC", "NOPE"));
    let err = deploy_world(&rpc, &tc, &spec).unwrap_err();
    assert!(matches!(err, WorldError::Spec(_)), "{err}");
    assert_eq!(err.to_string(), "bad world spec: unknown token NOPE");

    let mut spec = small_spec(node.accounts()[0]);
    spec.pairs
        .push(PairSpec::new(Dex::PancakeV2, "WETH", "USDC"));
    assert!(
        deploy_world(&rpc, &tc, &spec)
            .unwrap_err()
            .to_string()
            .contains("twice")
    );

    let mut spec = small_spec(node.accounts()[0]);
    spec.executor = Some(ExecutorSpec {
        artifact: crate::scratch("no-executor").join("Executor.json"),
        owner: node.accounts()[1],
        funding_native_wei: 1,
    });
    let err = deploy_world(&rpc, &tc, &spec).unwrap_err().to_string();
    assert!(
        err.contains("forge build") && err.contains("contracts/"),
        "{err}"
    );
    assert_eq!(rpc.block_number().unwrap(), 0, "nothing was sent");
}

/// The real executor if contracts/ has been built: deployed by its owner, funded, and running a
/// cross-DEX cycle whose amounts come from [`amount_out`] for exactly the predicted profit. Until
/// it is built the error must say how to build it.
#[test]
fn executor_deploys_from_forge_artifact() {
    // Needs `forge build` in contracts/ (tools/test-all.sh runs it before cargo test); a missing
    // artifact fails here rather than quietly testing less. The error path has its own test above.
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let owner = node.accounts()[1];
    let mut spec = small_spec(node.accounts()[0]);
    spec.executor = Some(ExecutorSpec::new(&tc, owner));
    spec.fund = vec![(node.accounts()[2], U256::from(10u128.pow(30)))];
    let world = deploy_world(&rpc, &tc, &spec)
        .unwrap_or_else(|e| panic!("{e} (run `forge build` in contracts/ first)"));
    let executor = world.executor.expect("executor deployed");
    assert_eq!(executor_owner(&rpc, executor).unwrap(), owner);
    let w = &world.tokens[world.native];
    let funded = U256::from(1_000 * 10u128.pow(18));
    assert_eq!(rpc.balance_of(w.address, executor).unwrap(), funded);
    run_cycle(&rpc, &world, executor, owner, node.accounts()[2]);
}

/// Makes USDC cheap on Pancake, then runs WMATIC -> USDC (Pancake) -> WMATIC (Uniswap).
fn run_cycle(rpc: &Rpc, world: &World, executor: Address, owner: Address, trader: Address) {
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let cake = world.pair(Dex::PancakeV2, w, u).unwrap();
    let uni = world.pair(Dex::UniswapV2, w, u).unwrap();
    let side = |pair: &PairInfo, input: usize| {
        let (r0, r1) = rpc.reserves(pair.address).unwrap();
        if pair.token0 == input {
            (r0, r1, true)
        } else {
            (r1, r0, false)
        }
    };

    // Dump 10 % of the pool's USDC into Pancake.
    let (r_in, r_out, zero_for_one) = side(cake, u);
    let dump = r_in / U256::from(10);
    let out = amount_out(dump, r_in, r_out, 20).unwrap();
    swap_now(
        rpc,
        trader,
        cake,
        world.tokens[u].address,
        zero_for_one,
        dump,
        out,
    )
    .unwrap();

    let amount_in = U256::from(500 * 10u128.pow(18));
    let (a_in, a_out, a_dir) = side(cake, w);
    let usdc = amount_out(amount_in, a_in, a_out, 20).unwrap();
    let (b_in, b_out, b_dir) = side(uni, u);
    let back = amount_out(usdc, b_in, b_out, 30).unwrap();
    assert!(back > amount_in, "the dump left a profitable cycle");
    let mut hops = Vec::new();
    for (pair, dir, amount) in [(cake, a_dir, usdc), (uni, b_dir, back)] {
        hops.extend_from_slice(pair.address.as_slice());
        hops.push(u8::from(dir));
        hops.extend_from_slice(&amount.to::<u128>().to_be_bytes());
    }
    let call = run_calldata(0, world.tokens[w].address, 500 * 10u128.pow(18), 0, &hops);
    let stranger = rpc.eth_call(Some(trader), executor, &call).unwrap_err();
    assert_eq!(
        stranger.revert_data().map(|d| d.to_vec()),
        Some(IExecutor::NotExecutor {}.abi_encode())
    );

    let before = rpc.balance_of(world.tokens[w].address, executor).unwrap();
    // An explicit gas limit: anvil's estimate is taken at the pending block's timestamp, and
    // if the swap lands in a later second the pairs' price-accumulator writes make it run out.
    rpc.transact(&TxRequest {
        gas: Some(1_000_000),
        ..TxRequest::call(owner, executor, call.clone())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let after = rpc.balance_of(world.tokens[w].address, executor).unwrap();
    assert_eq!(
        after - before,
        back - amount_in,
        "profit exactly as the formula predicts"
    );

    // The same amounts again: the first hop's reserves moved, so the pair refuses.
    let err = rpc.eth_call(Some(owner), executor, &call).unwrap_err();
    assert_eq!(err.revert_reason().as_deref(), Some("Pancake: K"), "{err}");
}

#[test]
fn config_has_exactly_the_polyarb_keys() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let dir = crate::scratch("config");
    let owner = node.accounts()[1];
    let mut spec = small_spec(node.accounts()[0]);
    spec.start_tokens = vec!["WMATIC".into(), "WETH".into()];
    spec.executor = Some(ExecutorSpec {
        artifact: stand_in_executor(&dir),
        owner,
        funding_native_wei: 500 * 10u128.pow(18),
    });
    let world = deploy_world(&rpc, &Toolchain::locate(), &spec).unwrap_or_else(|e| panic!("{e}"));
    let executor = world.executor.unwrap();
    assert_eq!(rpc.code(executor).unwrap().as_ref(), [0x00]);
    let weth = &world.tokens[world.token("WETH").unwrap()];
    assert_eq!(
        rpc.balance_of(weth.address, executor).unwrap(),
        U256::from(500 * 10u128.pow(18) / 4_000)
    );

    let nonce = rpc.next_nonce(owner).unwrap();
    assert_eq!(
        nonce, 2,
        "the owner deployed the executor, made itself an executor, and nothing else"
    );
    let params = ConfigParams::new(
        node.ws_url(),
        137,
        node.dev_key(1).unwrap().to_owned(),
        nonce,
    );
    let text = render_config(&world, &params).unwrap();
    let cfg: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));

    let keys = |v: &toml::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_table().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut top: Vec<&str> = cfg.keys().map(String::as_str).collect();
    top.sort();
    assert_eq!(
        top,
        [
            "cores", "dexes", "funding", "gas", "node", "replay", "search", "signer", "tokens"
        ]
    );
    assert_eq!(keys(&cfg["node"]), ["ws_url"]);
    assert_eq!(keys(&cfg["signer"]), ["executor", "key_env"]);
    assert_eq!(keys(&cfg["replay"]), ["chain_id", "key", "nonce"]);
    assert_eq!(
        keys(&cfg["gas"]),
        [
            "gas_base",
            "gas_per_algebra_hop",
            "gas_per_algebra_tick",
            "gas_per_hop",
            "gas_per_v3_hop",
            "gas_per_v3_tick",
            "tip_wei"
        ]
    );
    assert_eq!(
        keys(&cfg["search"]),
        ["min_profit_native_wei", "native", "start_tokens"]
    );
    assert_eq!(keys(&cfg["cores"]), ["engine", "feed", "signer"]);
    // No lenders in this world: only the sources that need none, and no lender addresses.
    assert_eq!(keys(&cfg["funding"]), ["sources"]);
    let sources: Vec<&str> = cfg["funding"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(sources, ["capital", "flash-swap"]);

    assert_eq!(cfg["node"]["ws_url"].as_str(), Some(node.ws_url().as_str()));
    assert_eq!(
        cfg["signer"]["key_env"].as_str(),
        Some("POLYARB_PRIVATE_KEY")
    );
    let exec: alloy_primitives::Address =
        cfg["signer"]["executor"].as_str().unwrap().parse().unwrap();
    assert_eq!(exec, executor);
    assert_eq!(cfg["replay"]["chain_id"].as_integer(), Some(137));
    assert_eq!(
        cfg["replay"]["key"].as_str(),
        Some(polyarb_tools::DEV_ACCOUNTS[1].1)
    );
    assert_eq!(cfg["replay"]["nonce"].as_integer(), Some(2));
    assert_eq!(cfg["gas"]["tip_wei"].as_integer(), Some(30_000_000_000));
    for (key, want) in [
        ("gas_base", params.gas_base),
        ("gas_per_hop", params.gas_per_hop),
        ("gas_per_v3_hop", params.gas_per_v3_hop),
        ("gas_per_algebra_hop", params.gas_per_algebra_hop),
        ("gas_per_v3_tick", params.gas_per_v3_tick),
        ("gas_per_algebra_tick", params.gas_per_algebra_tick),
    ] {
        assert_eq!(cfg["gas"][key].as_integer(), Some(i64::from(want)), "{key}");
    }
    assert_eq!(cfg["search"]["native"].as_str(), Some("WMATIC"));
    let starts: Vec<&str> = cfg["search"]["start_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(starts, ["WMATIC", "WETH"]);
    assert_eq!(cfg["search"]["min_profit_native_wei"].as_integer(), Some(0));

    let dexes = cfg["dexes"].as_array().unwrap();
    assert_eq!(dexes.len(), 2);
    for (entry, info) in dexes.iter().zip(&world.dexes) {
        assert_eq!(
            keys(entry),
            ["factory", "fee_bps", "flash_swap", "kind", "name"]
        );
        assert_eq!(entry["kind"].as_str(), Some("uniswap-v2"));
        // Pancake pairs call `pancakeCall`, which the executor does not implement.
        assert_eq!(
            entry["flash_swap"].as_bool(),
            Some(info.dex == Dex::UniswapV2),
            "{}",
            info.dex.name()
        );
        assert_eq!(entry["name"].as_str(), Some(info.dex.name()));
        assert_eq!(entry["fee_bps"].as_integer(), Some(i64::from(info.fee_bps)));
        let factory: alloy_primitives::Address =
            entry["factory"].as_str().unwrap().parse().unwrap();
        assert_eq!(factory, info.factory);
    }
    let tokens = cfg["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    for (entry, info) in tokens.iter().zip(&world.tokens) {
        assert_eq!(keys(entry), ["address", "decimals", "symbol"]);
        assert_eq!(entry["symbol"].as_str(), Some(info.symbol.as_str()));
        assert_eq!(entry["decimals"].as_integer(), Some(18));
        let address: alloy_primitives::Address =
            entry["address"].as_str().unwrap().parse().unwrap();
        assert_eq!(address, info.address);
    }
    assert_eq!(cfg["cores"]["feed"].as_integer(), Some(0));
    assert_eq!(cfg["cores"]["engine"].as_integer(), Some(1));
    assert_eq!(cfg["cores"]["signer"].as_integer(), Some(1));

    let mut no_exec = world.clone();
    no_exec.executor = None;
    assert_eq!(
        render_config(&no_exec, &params).unwrap_err().to_string(),
        "the world has no executor for [signer] executor"
    );
}
