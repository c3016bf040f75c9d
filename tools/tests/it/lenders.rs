//! The world's flash-loan lenders on real bytecode: the Balancer V2 Vault and the Aave V3 Pool
//! hold what the world reports, and lend to the real executor for exactly the fee the World
//! reports.

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use polyarb_tools::{
    AnvilOpts, Artifact, ConfigParams, Dex, ExecutorSpec, PairInfo, Rpc, Toolchain, TxRequest,
    World, WorldError, WorldSpec,
    abi::{
        IAaveAclManager, IAavePool, IAavePoolAddressesProvider, IAavePoolConfigurator,
        IBalancerAuthorizer, IBalancerProtocolFeesCollector, IBalancerVault, IERC20, IExecutor,
        run_calldata,
    },
    amount_out, deploy_world, render_config, swap_now,
};

use crate::{anvil, clmm_abi::check, small_spec};

/// Bits of Aave's `ReserveConfigurationMap` (ReserveConfiguration.sol).
const AAVE_ACTIVE_BIT: usize = 56;
const AAVE_FROZEN_BIT: usize = 57;
const AAVE_PAUSED_BIT: usize = 60;
const AAVE_FLASH_LOAN_BIT: usize = 63;

/// [`small_spec`] with the sample's lenders (Balancer: WMATIC and WETH; Aave: USDC and WETH),
/// the real executor owned by dev account 1 and funded with WMATIC only, dev account 2 funded
/// as trader.
fn lender_spec(node: &polyarb_tools::Anvil, tc: &Toolchain) -> WorldSpec {
    let accounts = node.accounts();
    let sample = WorldSpec::sample(accounts[0]);
    let mut spec = small_spec(accounts[0]);
    spec.balancer = sample.balancer;
    spec.aave = sample.aave;
    spec.start_tokens = vec!["WMATIC".into()];
    spec.executor = Some(ExecutorSpec::new(tc, accounts[1]));
    spec.fund = vec![(accounts[2], U256::from(10u128.pow(30)))];
    spec
}

fn deploy(rpc: &Rpc, spec: &WorldSpec) -> World {
    deploy_world(rpc, &Toolchain::locate(), spec)
        .unwrap_or_else(|e| panic!("{e} (run `forge build` in contracts/ first)"))
}

#[test]
fn lenders_hold_what_the_world_reports() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let deployer = node.accounts()[0];
    let spec = lender_spec(&node, &tc);
    let world = deploy(&rpc, &spec);
    let symbol = |i: usize| world.tokens[i].symbol.as_str();

    let b = world.balancer.as_ref().expect("vault deployed");
    assert_eq!(
        rpc.view(b.vault, &IBalancerVault::getProtocolFeesCollectorCall {})
            .unwrap(),
        b.fees_collector
    );
    assert_eq!(
        rpc.view(b.vault, &IBalancerVault::getAuthorizerCall {})
            .unwrap(),
        b.authorizer
    );
    let fee = rpc
        .view(
            b.fees_collector,
            &IBalancerProtocolFeesCollector::getFlashLoanFeePercentageCall {},
        )
        .unwrap();
    assert_eq!((fee, b.flash_loan_fee), (U256::ZERO, 0), "fee 0 by default");
    let held: Vec<&str> = b.holdings.iter().map(|h| symbol(h.token)).collect();
    assert_eq!(held, ["WMATIC", "WETH"]);
    for h in &b.holdings {
        let t = &world.tokens[h.token];
        assert_eq!(rpc.balance_of(t.address, b.vault).unwrap(), h.amount);
        // A million native worth, whole tokens at the token's price.
        let want = 1e24 / t.price_native;
        assert!(
            (f64::from(h.amount) / want - 1.0).abs() < 1e-9,
            "{}",
            t.symbol
        );
    }

    let a = world.aave.as_ref().expect("aave deployed");
    assert_eq!(
        rpc.view(a.pool, &IAavePool::ADDRESSES_PROVIDERCall {})
            .unwrap(),
        a.addresses_provider
    );
    let provider = a.addresses_provider;
    assert_eq!(
        rpc.view(provider, &IAavePoolAddressesProvider::getPoolCall {})
            .unwrap(),
        a.pool
    );
    assert_eq!(
        rpc.view(
            provider,
            &IAavePoolAddressesProvider::getPoolConfiguratorCall {}
        )
        .unwrap(),
        a.configurator
    );
    assert_eq!(
        rpc.view(provider, &IAavePoolAddressesProvider::getACLManagerCall {})
            .unwrap(),
        a.acl_manager
    );
    assert!(
        rpc.view(
            a.acl_manager,
            &IAaveAclManager::isPoolAdminCall { admin: deployer }
        )
        .unwrap()
    );
    assert_eq!(
        rpc.view(a.pool, &IAavePool::FLASHLOAN_PREMIUM_TOTALCall {})
            .unwrap(),
        u128::from(a.premium_bps)
    );
    assert_eq!(a.premium_bps, 5, "0.05 % by default");
    assert_eq!(
        rpc.view(a.pool, &IAavePool::FLASHLOAN_PREMIUM_TO_PROTOCOLCall {})
            .unwrap(),
        0
    );
    let listed = rpc
        .view(a.pool, &IAavePool::getReservesListCall {})
        .unwrap();
    let want: Vec<Address> = a
        .reserves
        .iter()
        .map(|r| world.tokens[r.token].address)
        .collect();
    assert_eq!(listed, want);
    let symbols: Vec<&str> = a.reserves.iter().map(|r| symbol(r.token)).collect();
    assert_eq!(symbols, ["USDC", "WETH"]);
    for r in &a.reserves {
        let t = &world.tokens[r.token];
        let data = rpc
            .view(a.pool, &IAavePool::getReserveDataCall { asset: t.address })
            .unwrap();
        assert_eq!(data.aTokenAddress, r.a_token, "{}", t.symbol);
        let config = data.configuration.data;
        assert!(config.bit(AAVE_ACTIVE_BIT), "{} active", t.symbol);
        assert!(!config.bit(AAVE_FROZEN_BIT), "{} not frozen", t.symbol);
        assert!(!config.bit(AAVE_PAUSED_BIT), "{} not paused", t.symbol);
        assert!(config.bit(AAVE_FLASH_LOAN_BIT), "{} lends", t.symbol);
        // The aToken holds the underlying; the deployer holds the aTokens.
        assert_eq!(rpc.balance_of(t.address, r.a_token).unwrap(), r.supplied);
        assert_eq!(rpc.balance_of(r.a_token, deployer).unwrap(), r.supplied);
        let want = 1e24 / t.price_native;
        assert!(
            (f64::from(r.supplied) / want - 1.0).abs() < 1e-9,
            "{}",
            t.symbol
        );
    }

    let executor = world.executor.unwrap();
    assert_eq!(
        rpc.view(executor, &IExecutor::balancerVaultCall {})
            .unwrap(),
        b.vault
    );
    assert_eq!(
        rpc.view(executor, &IExecutor::aavePoolCall {}).unwrap(),
        a.pool
    );
    assert_eq!(world.balancer_vault(), Some(b.vault));
    assert_eq!(world.aave_pool(), Some(a.pool));

    let params = ConfigParams::new(node.ws_url(), 137, node.dev_key(1).unwrap().to_owned(), 0);
    let text = render_config(&world, &params).unwrap();
    let cfg: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
    let funding = cfg["funding"].as_table().unwrap();
    let mut keys: Vec<&str> = funding.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["aave_pool", "balancer_vault", "sources"]);
    let sources: Vec<&str> = funding["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(sources, ["capital", "flash-swap", "balancer", "aave"]);
    let addr = |key: &str| -> Address { funding[key].as_str().unwrap().parse().unwrap() };
    assert_eq!(addr("balancer_vault"), b.vault);
    assert_eq!(addr("aave_pool"), a.pool);
}

/// Moves `cheap` on `dex`'s `cheap`/`other` pair by selling 10 % of the pair's reserve of it.
fn dump(rpc: &Rpc, world: &World, trader: Address, dex: Dex, cheap: usize, other: usize) {
    let pair = world.pair(dex, cheap, other).unwrap();
    let (r_in, r_out, dir) = side(rpc, pair, cheap);
    let amount = r_in / U256::from(10);
    let out = amount_out(amount, r_in, r_out, dex.fee_bps()).unwrap();
    swap_now(
        rpc,
        trader,
        pair,
        world.tokens[cheap].address,
        dir,
        amount,
        out,
    )
    .unwrap();
}

/// `(reserve in, reserve out, zeroForOne)` of `pair` for input token `input`, now.
fn side(rpc: &Rpc, pair: &PairInfo, input: usize) -> (U256, U256, bool) {
    let (r0, r1) = rpc.reserves(pair.address).unwrap();
    if pair.token0 == input {
        (r0, r1, true)
    } else {
        (r1, r0, false)
    }
}

/// The packed hops of `start` -> `mid` on `first` -> `start` on `second` for `amount_in`, each
/// amount from the pair's reserves now, and the amount of `start` back.
fn quote_cycle(
    rpc: &Rpc,
    world: &World,
    start: usize,
    mid: usize,
    (first, second): (Dex, Dex),
    amount_in: U256,
) -> (Vec<u8>, U256) {
    let mut hops = Vec::new();
    let mut amount = amount_in;
    for (dex, input, output) in [(first, start, mid), (second, mid, start)] {
        let pair = world.pair(dex, input, output).unwrap();
        let (r_in, r_out, dir) = side(rpc, pair, input);
        amount = amount_out(amount, r_in, r_out, dex.fee_bps()).unwrap();
        hops.extend_from_slice(pair.address.as_slice());
        hops.push(u8::from(dir));
        hops.extend_from_slice(&amount.to::<u128>().to_be_bytes());
    }
    (hops, amount)
}

/// Runs `run()` calldata from the owner with an explicit gas limit (see world.rs: anvil's
/// estimate may run out when the pairs' accumulators are first written in a later second) and
/// returns the `Executed` event's `(profit, premium, funding)`.
fn run(rpc: &Rpc, owner: Address, executor: Address, call: Vec<u8>) -> (U256, U256, u8) {
    let receipt = rpc
        .transact(&TxRequest {
            gas: Some(2_000_000),
            ..TxRequest::call(owner, executor, call)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let e = receipt
        .events
        .iter()
        .find_map(|l| IExecutor::Executed::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
        .expect("Executed event");
    (e.profit, e.premium, e.funding)
}

/// With the executor holding none of the start token, a dislocated cycle borrowed from each
/// lender ends with exactly the quoted profit less the lender's fee: the Balancer fee set by
/// governance (0.07 %, rounded up) and the Aave premium (0.05 %, rounded half up). The Vault
/// keeps its balance and its collector gets the fee; the aToken gains the premium. A loan larger
/// than the Vault holds and a route that cannot pay the premium revert with the lenders' and the
/// executor's own errors.
#[test]
fn flash_loans_from_both_lenders_fund_a_cycle() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let (owner, trader) = (node.accounts()[1], node.accounts()[2]);
    let mut spec = lender_spec(&node, &tc);
    if let Some(b) = spec.balancer.as_mut() {
        b.flash_loan_fee = 7 * 10u64.pow(14);
    }
    let world = deploy(&rpc, &spec);
    let executor = world.executor.unwrap();
    let (w, u, e) = (
        world.token("WMATIC").unwrap(),
        world.token("USDC").unwrap(),
        world.token("WETH").unwrap(),
    );
    let (weth, usdc) = (world.tokens[e].address, world.tokens[u].address);
    for t in [weth, usdc] {
        assert_eq!(
            rpc.balance_of(t, executor).unwrap(),
            U256::ZERO,
            "no capital"
        );
    }

    // Balancer: WETH -> USDC on Pancake (USDC dumped there) -> WETH on Uniswap.
    let b = world.balancer.clone().unwrap();
    let fee = rpc
        .view(
            b.fees_collector,
            &IBalancerProtocolFeesCollector::getFlashLoanFeePercentageCall {},
        )
        .unwrap();
    assert_eq!(
        fee,
        U256::from(7 * 10u64.pow(14)),
        "fee set through governance"
    );
    dump(&rpc, &world, trader, Dex::PancakeV2, u, e);
    let amount = U256::from(10u128.pow(18)); // 1 WETH
    let (hops, back) = quote_cycle(&rpc, &world, e, u, (Dex::PancakeV2, Dex::UniswapV2), amount);
    let fee = b.fee(amount).unwrap();
    assert_eq!(
        fee,
        (amount * U256::from(7 * 10u64.pow(14))).div_ceil(U256::from(10u64.pow(18)))
    );
    assert!(
        back > amount + fee,
        "the dump left a cycle that pays the fee"
    );

    let too_much = b.holding(e).unwrap() + U256::from(1);
    let call = run_calldata(2, weth, too_much.to::<u128>(), 0, &hops);
    let err = rpc.eth_call(Some(owner), executor, &call).unwrap_err();
    assert_eq!(err.revert_reason().as_deref(), Some("BAL#528"), "{err}");

    let call = run_calldata(2, weth, amount.to::<u128>(), 0, &hops);
    let (profit, premium, funding) = run(&rpc, owner, executor, call);
    assert_eq!((profit, premium, funding), (back - amount - fee, fee, 2));
    assert_eq!(rpc.balance_of(weth, executor).unwrap(), back - amount - fee);
    assert_eq!(
        rpc.balance_of(weth, b.vault).unwrap(),
        b.holding(e).unwrap(),
        "the Vault has its loan back"
    );
    assert_eq!(rpc.balance_of(weth, b.fees_collector).unwrap(), fee);

    // Aave: USDC -> WMATIC on Pancake (WMATIC dumped there) -> USDC on Uniswap.
    let a = world.aave.clone().unwrap();
    let reserve = *a.reserve(u).unwrap();
    dump(&rpc, &world, trader, Dex::PancakeV2, w, u);
    let amount = U256::from(2_000 * 10u128.pow(18)); // 2,000 USDC
    let premium = a.premium(amount).unwrap();
    assert_eq!(
        premium,
        (amount * U256::from(5) + U256::from(5_000)) / U256::from(10_000)
    );

    // The other way round the cycle loses: the Pool lends, the route runs, and the executor
    // refuses to approve what it cannot repay, naming the Pool's amount plus premium.
    let (hops, back) = quote_cycle(&rpc, &world, u, w, (Dex::UniswapV2, Dex::PancakeV2), amount);
    assert!(back < amount);
    let call = run_calldata(3, usdc, amount.to::<u128>(), 0, &hops);
    let err = rpc.eth_call(Some(owner), executor, &call).unwrap_err();
    assert_eq!(
        err.revert_data().map(|d| d.to_vec()),
        Some(
            IExecutor::CannotRepay {
                owed: amount + premium,
                held: back,
            }
            .abi_encode()
        ),
        "{err}"
    );

    let (hops, back) = quote_cycle(&rpc, &world, u, w, (Dex::PancakeV2, Dex::UniswapV2), amount);
    assert!(
        back > amount + premium,
        "the dump left a cycle that pays the premium"
    );
    let call = run_calldata(3, usdc, amount.to::<u128>(), 0, &hops);
    let (profit, charged, funding) = run(&rpc, owner, executor, call);
    assert_eq!(
        (profit, charged, funding),
        (back - amount - premium, premium, 3)
    );
    assert_eq!(
        rpc.balance_of(usdc, executor).unwrap(),
        back - amount - premium
    );
    assert_eq!(
        rpc.balance_of(usdc, reserve.a_token).unwrap(),
        reserve.supplied + premium,
        "the reserve keeps the premium"
    );
}

/// A world without lenders constructs the executor with zero lenders, so a loan route is
/// refused (`NoLender`), and its config offers own capital and flash swaps only.
#[test]
fn without_lenders_the_executor_has_none() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let tc = Toolchain::locate();
    let mut spec = lender_spec(&node, &tc);
    spec.balancer = None;
    spec.aave = None;
    let world = deploy(&rpc, &spec);
    assert_eq!((world.balancer_vault(), world.aave_pool()), (None, None));
    let executor = world.executor.unwrap();
    assert_eq!(
        rpc.view(executor, &IExecutor::balancerVaultCall {})
            .unwrap(),
        Address::ZERO
    );
    assert_eq!(
        rpc.view(executor, &IExecutor::aavePoolCall {}).unwrap(),
        Address::ZERO
    );
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let (hops, _) = quote_cycle(
        &rpc,
        &world,
        w,
        u,
        (Dex::PancakeV2, Dex::UniswapV2),
        U256::from(10u128.pow(18)),
    );
    for funding in [2, 3] {
        let call = run_calldata(funding, world.tokens[w].address, 10u128.pow(18), 0, &hops);
        let err = rpc
            .eth_call(Some(node.accounts()[1]), executor, &call)
            .unwrap_err();
        assert_eq!(
            err.revert_data().map(|d| d.to_vec()),
            Some(IExecutor::NoLender {}.abi_encode()),
            "funding {funding}: {err}"
        );
    }

    let params = ConfigParams::new(node.ws_url(), 137, node.dev_key(1).unwrap().to_owned(), 0);
    let cfg: toml::Table = render_config(&world, &params).unwrap().parse().unwrap();
    let funding = cfg["funding"].as_table().unwrap();
    assert_eq!(funding.keys().collect::<Vec<_>>(), ["sources"]);
    assert_eq!(
        funding["sources"].as_array().unwrap(),
        &[
            toml::Value::from("capital"),
            toml::Value::from("flash-swap")
        ]
    );
}

#[test]
fn bad_lender_specs_are_refused_before_sending_anything() {
    // Nothing listens here: a spec error must come before the first request.
    let rpc = Rpc::new("http://127.0.0.1:9");
    let tc = Toolchain::locate();
    let base = {
        let mut spec = small_spec(Address::repeat_byte(1));
        let sample = WorldSpec::sample(Address::repeat_byte(1));
        spec.balancer = sample.balancer;
        spec.aave = sample.aave;
        spec
    };
    let refused = |edit: &dyn Fn(&mut WorldSpec)| {
        let mut spec = base.clone();
        edit(&mut spec);
        match deploy_world(&rpc, &tc, &spec) {
            Err(e @ WorldError::Spec(_)) => e.to_string(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        refused(&|s| s.balancer.as_mut().unwrap().tokens.push("DAI".into())),
        "bad world spec: balancer: unknown token DAI"
    );
    assert_eq!(
        refused(&|s| s.aave.as_mut().unwrap().tokens.push("USDC".into())),
        "bad world spec: aave: token USDC twice"
    );
    assert_eq!(
        refused(&|s| s.balancer.as_mut().unwrap().flash_loan_fee = 10u64.pow(16) + 1),
        "bad world spec: balancer: flash-loan fee 10000000000000001 is above the collector's \
         cap 10000000000000000"
    );
    assert_eq!(
        refused(&|s| s.aave.as_mut().unwrap().premium_bps = 10_001),
        "bad world spec: aave: premium 10001 bps is above 10000"
    );
    let deep = refused(&|s| s.aave.as_mut().unwrap().depth_native_wei = u128::MAX);
    assert!(
        deep.starts_with("bad world spec: aave: depth of USDC: amount ")
            && deep.ends_with(" is outside [1000, 2^112)"),
        "{deep}"
    );
    // The sample's lenders need WETH and USDC: a world cut down to WMATIC must drop them too.
    assert_eq!(
        refused(&|s| {
            s.tokens.truncate(1);
            s.pairs.clear();
        }),
        "bad world spec: balancer: unknown token WETH"
    );
}

/// Our bindings of the Vault, the Authorizer and the Aave contracts against the npm ABIs (the
/// ProtocolFeesCollector has none in npm: the tests above call it on chain).
#[test]
fn lender_bindings_match_the_npm_abis() {
    let tc = Toolchain::locate();
    let npm = |rel: &str| {
        let path = tc.root().join("tools/toolchain/node_modules").join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let read = |a: Artifact| {
        let path = tc.artifact(a).unwrap_or_else(|e| panic!("{e}"));
        std::fs::read_to_string(path).unwrap()
    };
    let bal = "@balancer-labs/v2-deployments/dist/tasks/";
    check(
        "Vault",
        &npm(&format!("{bal}20210418-vault/abi/Vault.json")),
        IBalancerVault::IBalancerVaultCalls::SELECTORS,
        IBalancerVault::IBalancerVaultEvents::SELECTORS,
    );
    check(
        "Authorizer",
        &npm(&format!("{bal}20210418-authorizer/abi/Authorizer.json")),
        IBalancerAuthorizer::IBalancerAuthorizerCalls::SELECTORS,
        &[],
    );
    check(
        "PoolAddressesProvider",
        &read(Artifact::AavePoolAddressesProvider),
        IAavePoolAddressesProvider::IAavePoolAddressesProviderCalls::SELECTORS,
        &[],
    );
    check(
        "ACLManager",
        &read(Artifact::AaveAclManager),
        IAaveAclManager::IAaveAclManagerCalls::SELECTORS,
        &[],
    );
    check(
        "PoolConfigurator",
        &read(Artifact::AavePoolConfigurator),
        IAavePoolConfigurator::IAavePoolConfiguratorCalls::SELECTORS,
        &[],
    );
    check(
        "Pool",
        &read(Artifact::AavePool),
        IAavePool::IAavePoolCalls::SELECTORS,
        &[],
    );
    // The ERC-20 calls the world makes of the aToken are the v2-core ERC-20's.
    check(
        "AToken",
        &read(Artifact::AaveAToken),
        &[
            IERC20::balanceOfCall::SELECTOR,
            IERC20::transferCall::SELECTOR,
        ],
        &[],
    );
}
