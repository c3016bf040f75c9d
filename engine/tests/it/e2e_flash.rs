//! Borrowed input end to end on a real node: anvil with the real Uniswap V2 and Pancake V2
//! pairs, the real Balancer V2 Vault and Aave V3 Pool, our Executor holding almost none of the
//! start tokens, and the `polyarb` binary. For each funding source (a flash swap, a Balancer
//! loan with a fee, an Aave loan with its premium) a trader opens a gap; polyarb must fund the
//! route from that source, sign and send it, and it must be mined with the executor's balance
//! growing by exactly the profit polyarb predicted net of the premium, the `Executed` event
//! naming the same profit and premium, the premium equal to the lender's own rule, and the input
//! the best for the state it ran on (an oracle independent of polyarb-core).

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use polyarb_tools::{
    AaveSpec, Anvil, AnvilOpts, BalancerSpec, ExecutorSpec, Toolchain, TxRequest, World,
    abi::{IAavePool, IExecutor},
};
use serde_json::Value;

use crate::e2e::{
    Polyarb, V2Oracle, assert_alone_in_block, balance_at, open_gap, small_world_with, temp_dir,
    write_config,
};

/// Balancer's flash-loan fee in this world: 0.07 % (an 18-decimal fraction), so its premium is
/// not zero and its rounding shows.
const BALANCER_FEE: u64 = 700_000_000_000_000;

/// The e2e world (WMATIC, WETH and USDC, every pair on both DEXes) with the executor holding
/// 0.001 native worth of each start token (a gap pays to close with far more); Balancer lends
/// WMATIC and WETH at 0.07 %, Aave USDC and WETH at 5 bps.
fn world(node: &Anvil, tc: &Toolchain) -> World {
    let owner = node.accounts()[1];
    small_world_with(node, tc, |spec| {
        spec.start_tokens = vec!["WMATIC".into(), "USDC".into()];
        spec.balancer = Some(BalancerSpec {
            flash_loan_fee: BALANCER_FEE,
            ..BalancerSpec::new(&["WMATIC", "WETH"])
        });
        spec.aave = Some(AaveSpec::new(&["USDC", "WETH"]));
        spec.executor = Some(ExecutorSpec {
            funding_native_wei: 10u128.pow(15),
            ..ExecutorSpec::new(tc, owner)
        });
    })
}

/// The config for one case: only `sources` allowed, cycles from `start` only, one route per
/// update (the balance check below is for one route alone).
fn config_for(base: &str, sources: &[&str], start: &str) -> String {
    let mut out = String::new();
    let list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    let (mut sources_set, mut start_set) = (false, false);
    for line in base.lines() {
        if line.starts_with("sources = ") {
            // Lenders read again every 200 ms: the refresh case below waits for one reading.
            out.push_str(&format!("sources = {}\nrefresh_ms = 200\n", list(sources)));
            sources_set = true;
        } else if line.starts_with("start_tokens = ") {
            out.push_str(&format!(
                "start_tokens = {}\nmax_routes = 1\n",
                list(&[start])
            ));
            start_set = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(sources_set && start_set, "the world's config:\n{base}");
    out
}

/// What a case expects of the route.
struct Case {
    name: &'static str,
    sources: &'static [&'static str],
    start: &'static str,
    funding: &'static str,
    /// Before the gap, with polyarb running: the deployer withdraws its USDC from Aave but
    /// this much (raw units), and the test waits for polyarb to read the offer again.
    aave_left: Option<U256>,
}

/// The `Executed` event of the executor in `receipt`'s logs: (amountIn, profit, premium,
/// funding).
fn executed(logs: &[polyarb_tools::Log], executor: Address) -> (U256, U256, U256, u8) {
    let e = logs
        .iter()
        .filter(|l| l.address == executor)
        .find_map(|l| IExecutor::Executed::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
        .expect("an Executed event");
    (e.amountIn, e.profit, e.premium, e.funding)
}

fn run_case(node: &Anvil, world: &World, base: &str, case: &Case) {
    let rpc = node.rpc();
    let executor = world.executor.unwrap();
    let dir = temp_dir(&format!("flash-{}", case.name));
    let config = dir.join("polyarb.toml");
    std::fs::write(&config, config_for(base, case.sources, case.start)).unwrap();
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);

    if let Some(left) = case.aave_left {
        let aave = world.aave.as_ref().unwrap();
        let usdc = world.token("USDC").unwrap();
        let a_token = aave.reserve(usdc).unwrap().a_token;
        let asset = world.tokens[usdc].address;
        let held = rpc.balance_of(asset, a_token).unwrap();
        let withdraw = IAavePool::withdrawCall {
            asset,
            amount: held - left,
            to: world.deployer,
        };
        // An explicit gas limit: anvil's estimate falls short for the Pool's withdraw.
        rpc.transact(&TxRequest {
            gas: Some(1_000_000),
            ..TxRequest::call(world.deployer, aave.pool, withdraw.abi_encode())
        })
        .unwrap_or_else(|e| panic!("withdraw from aave: {e}"));
        assert_eq!(rpc.balance_of(asset, a_token).unwrap(), left);
        // Readings every 200 ms: two of them.
        std::thread::sleep(std::time::Duration::from_millis(600));
    }

    open_gap(&rpc, world, node.accounts()[2], 300);
    let first: Value = polyarb.wait_for_opportunities(1).remove(0);
    assert_eq!(first["funding"], case.funding, "{}: {first}", case.name);
    let hash: B256 = first["tx_hash"]
        .as_str()
        .expect("a transaction was signed")
        .parse()
        .unwrap();
    let receipt = rpc.wait_receipt(hash).unwrap_or_else(|e| {
        panic!(
            "{}: polyarb's tx failed: {e}\nopportunity: {first}\n{}",
            case.name,
            polyarb.logs()
        )
    });
    assert!(receipt.success, "{}: reverted: {first}", case.name);
    assert_alone_in_block(&rpc, receipt.block_number);

    let token: Address = first["token_in"].as_str().unwrap().parse().unwrap();
    let t = world
        .tokens
        .iter()
        .position(|t| t.address == token)
        .unwrap();
    let amount_in: U256 = first["amount_in"].as_str().unwrap().parse().unwrap();
    let predicted: U256 = first["profit"].as_str().unwrap().parse().unwrap();
    let premium: U256 = first["premium"].as_str().unwrap().parse().unwrap();
    let before = balance_at(&rpc, token, executor, receipt.block_number - 1);
    let after = balance_at(&rpc, token, executor, receipt.block_number);
    assert!(
        amount_in > before,
        "{}: the input {amount_in} exceeds the executor's {before}: it was borrowed",
        case.name
    );
    assert!(predicted > U256::ZERO);
    assert_eq!(
        after - before,
        predicted,
        "{}: executor balance change vs the predicted profit net of the premium",
        case.name
    );
    let (event_in, event_profit, event_premium, event_funding) =
        executed(&receipt.events, executor);
    assert_eq!(
        (event_in, event_profit, event_premium),
        (amount_in, predicted, premium),
        "{}: the Executed event",
        case.name
    );

    // The premium by the lender's own rule, and the input the best for that lender.
    let oracle = V2Oracle::at(&rpc, world, &first, receipt.block_number - 1);
    let oracle = match case.funding {
        "flash-swap" => {
            assert_eq!(event_funding, 1);
            assert_eq!(premium, U256::ZERO);
            oracle.borrowing(U256::MAX, |_| U256::ZERO)
        }
        "balancer" => {
            assert_eq!(event_funding, 2);
            let b = world.balancer.clone().unwrap();
            assert_eq!(Some(premium), b.fee(amount_in));
            assert!(premium > U256::ZERO);
            let cap = b.holding(t).unwrap();
            oracle.borrowing(cap, move |x| b.fee(x).unwrap())
        }
        "aave" => {
            assert_eq!(event_funding, 3);
            let a = world.aave.clone().unwrap();
            assert_eq!(Some(premium), a.premium(amount_in));
            assert!(premium > U256::ZERO);
            // What the aToken holds now: polyarb must have read it again.
            let cap = case
                .aave_left
                .unwrap_or_else(|| a.reserve(t).unwrap().supplied);
            assert!(
                amount_in <= cap,
                "{}: {amount_in} above the {cap} Aave holds",
                case.name
            );
            oracle.borrowing(cap, move |x| a.premium(x).unwrap())
        }
        other => panic!("no such funding {other}"),
    };
    oracle.assert_optimal(amount_in, predicted);

    polyarb.wait_for_log("node accepted transaction");
    let (ok, _) = polyarb.stop();
    assert!(ok, "{}: polyarb exit status after SIGINT", case.name);
}

#[test]
fn gaps_funded_by_a_flash_swap_and_by_flash_loans_pay_the_prediction_to_the_wei() {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    let world = world(&node, &tc);
    let dir = temp_dir("flash");
    let base = std::fs::read_to_string(write_config(&node, &world, &dir)).unwrap();
    assert!(
        base.contains("flash_swap = false"),
        "the Pancake DEX cannot front flash swaps:\n{base}"
    );
    // Dumping WMATIC into Pancake's WMATIC/USDC pair makes WMATIC dear on Uniswap: the cycle
    // from WMATIC starts on Uniswap's pair (a flash swap may fund it), the cycle from USDC on
    // Pancake's (no flash swap: its pairs call back `pancakeCall`).
    for case in [
        Case {
            name: "flash-swap",
            sources: &["capital", "flash-swap"],
            start: "WMATIC",
            funding: "flash-swap",
            aave_left: None,
        },
        Case {
            name: "balancer",
            sources: &["capital", "balancer", "aave"],
            start: "WMATIC",
            funding: "balancer",
            aave_left: None,
        },
        Case {
            name: "aave",
            sources: &["capital", "flash-swap", "balancer", "aave"],
            start: "USDC",
            funding: "aave",
            aave_left: None,
        },
        // Aave now holds 300 USDC, less than the gap's optimum (about 840 USDC above): the
        // route is sized to what polyarb read while running, and lands.
        Case {
            name: "aave-refreshed",
            sources: &["capital", "flash-swap", "balancer", "aave"],
            start: "USDC",
            funding: "aave",
            aave_left: Some(U256::from(300u64) * U256::from(10u64).pow(U256::from(18u64))),
        },
    ] {
        run_case(&node, &world, &base, &case);
    }

    // A config naming another Aave Pool than the executor was built with: refused at start-up,
    // naming both, before anything is sent.
    let pool = world.aave.as_ref().unwrap().pool;
    let vault = world.balancer.as_ref().unwrap().vault;
    let wrong = base.replace(
        &format!("aave_pool = \"{pool:#x}\""),
        &format!("aave_pool = \"{vault:#x}\""),
    );
    assert_ne!(wrong, base, "the config names the Aave Pool:\n{base}");
    let dir = temp_dir("flash-wrong-lender");
    let config = dir.join("polyarb.toml");
    std::fs::write(&config, wrong).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--max-runtime-s", "30"])
        .env("POLYARB_PRIVATE_KEY", node.dev_key(1).unwrap())
        .output()
        .expect("run polyarb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let (pool, vault) = (pool.to_string(), vault.to_string());
    assert!(
        stderr.contains("funding.aave") && stderr.contains(&pool) && stderr.contains(&vault),
        "the error names the lender and both addresses:\n{stderr}"
    );
}
