//! End to end on a real node: anvil (chain id 137) with the real Uniswap V2 and Pancake V2
//! bytecode, our Executor, and the `polyarb` binary connected over websocket. A trader opens a
//! price gap; polyarb must detect it, sign and send a transaction that is mined, and the
//! executor's balance must grow by exactly the profit polyarb predicted, and an oracle independent
//! of polyarb-core must find that input the best for the state it ran on. A node that refuses
//! polyarb's transactions must get a clear logged error and polyarb must keep running.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, I256, U256};
use polyarb_tools::{
    Anvil, AnvilOpts, ConfigParams, Dex, ExecutorSpec, PairSpec, Rpc, TokenSpec, Toolchain, World,
    WorldSpec, amount_out, deploy_world, render_config, swap_in_one_block,
};
use serde_json::{Value, json};

/// Generous bound for "eventually": a hung pipeline fails the test instead of hanging CI.
/// Not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `polyarb run` whose output lines are collected.
pub(crate) struct Polyarb {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    opportunities: PathBuf,
}

impl Polyarb {
    pub(crate) fn start(config: &Path, key: &str, dir: &Path) -> Self {
        Self::start_with(config, key, dir, &[])
    }

    /// [`Polyarb::start`] with more arguments to `polyarb run`.
    pub(crate) fn start_with(
        config: &Path,
        key: &str,
        dir: &Path,
        extra: &[&std::ffi::OsStr],
    ) -> Self {
        Self::start_env(config, key, dir, extra, &[])
    }

    /// [`Polyarb::start_with`] with more environment variables.
    pub(crate) fn start_env(
        config: &Path,
        key: &str,
        dir: &Path,
        extra: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Self {
        let opportunities = dir.join("opportunities.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_polyarb"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--opportunities")
            .arg(&opportunities)
            .args(extra)
            .env("POLYARB_PRIVATE_KEY", key)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn polyarb");
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&lines);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let p = Self {
            child,
            stderr,
            stdout,
            opportunities,
        };
        p.wait_for_log("ready");
        p
    }

    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits until a stderr line contains `needle`, or fails with the log so far.
    pub(crate) fn wait_for_log(&self, needle: &str) {
        self.wait_for_logs(needle, 1);
    }

    fn wait_for_logs(&self, needle: &str, count: usize) {
        let start = Instant::now();
        loop {
            if self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .count()
                >= count
            {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "no {count}× {needle:?} in polyarb's log:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opportunity lines written so far.
    pub(crate) fn opportunities(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.opportunities)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("opportunity line is JSON"))
            .collect()
    }

    pub(crate) fn wait_for_opportunities(&self, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let o = self.opportunities();
            if o.len() >= n {
                return o;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "polyarb reported {} opportunities, wanted {n}:\n{}",
                o.len(),
                self.logs()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`"USR1"`, …) to the running process.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([format!("-{signal}").as_str(), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Whether the process is still running.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT, then the exit status and stdout.
    pub(crate) fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT {pid}");
        let status = self.child.wait().expect("wait polyarb");
        // The output threads end when the pipes close.
        thread::sleep(Duration::from_millis(100));
        (status.success(), self.stdout.lock().unwrap().join("\n"))
    }
}

impl Drop for Polyarb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three tokens, every pair on both DEXes: 2-hop and 3-hop cycles exist.
fn small_world(node: &Anvil, tc: &Toolchain) -> World {
    small_world_with(node, tc, |_| {})
}

/// [`small_world`] with `edit` applied to its spec before it is deployed (the sample's lenders
/// hold WMATIC, WETH and USDC, which this world has).
pub(crate) fn small_world_with(
    node: &Anvil,
    tc: &Toolchain,
    edit: impl FnOnce(&mut WorldSpec),
) -> World {
    let accounts = node.accounts();
    let mut spec = WorldSpec::sample(accounts[0]);
    spec.tokens = [("WMATIC", 1.0), ("WETH", 5_000.0), ("USDC", 2.0)]
        .map(|(symbol, price_native)| TokenSpec {
            symbol: symbol.into(),
            price_native,
        })
        .to_vec();
    spec.start_tokens = vec!["WMATIC".into()];
    spec.pairs = [("WMATIC", "WETH"), ("WMATIC", "USDC"), ("WETH", "USDC")]
        .into_iter()
        .flat_map(|(a, b)| Dex::ALL.map(|dex| PairSpec::new(dex, a, b)))
        .collect();
    // Capital well above what a gap pays to close, so the size is the curve's optimum, not the
    // executor's balance.
    spec.executor = Some(ExecutorSpec {
        funding_native_wei: 100_000 * 10u128.pow(18),
        ..ExecutorSpec::new(tc, accounts[1])
    });
    spec.fund = vec![(accounts[2], U256::from(10u128.pow(30)))];
    edit(&mut spec);
    let world = deploy_world(&node.rpc(), tc, &spec)
        .expect("deploy world (did `forge build` run in contracts/?)");
    // Every later block is 1 s after the previous one, so each swap polyarb sends is the first
    // in its pairs' new second and pays their price-accumulator writes (zero to non-zero on
    // these fresh pairs: the costliest case its gas limit must cover), every run alike.
    node.rpc()
        .request("anvil_setBlockTimestampInterval", json!([1]))
        .expect("anvil_setBlockTimestampInterval");
    world
}

pub(crate) fn write_config(node: &Anvil, world: &World, dir: &Path) -> PathBuf {
    let params = ConfigParams::new(node.ws_url(), 137, node.dev_key(1).unwrap().to_owned(), 0);
    let path = dir.join("polyarb.toml");
    std::fs::write(&path, render_config(world, &params).unwrap()).unwrap();
    path
}

/// Sells `fraction` of the pair's WMATIC reserve into the Pancake WMATIC/USDC pair: USDC gets
/// cheap there relative to Uniswap, which opens a gap. The trader's transfer and swap share a
/// block, so a route polyarb is still sending from an earlier gap cannot take the transfer.
pub(crate) fn open_gap(rpc: &Rpc, world: &World, trader: Address, fraction_bps: u64) {
    let (w, u) = (world.token("WMATIC").unwrap(), world.token("USDC").unwrap());
    let pair = world.pair(Dex::PancakeV2, w, u).unwrap();
    let wmatic = world.tokens[w].address;
    let (r0, r1) = rpc.reserves(pair.address).unwrap();
    let zero_for_one = pair.token0 == w;
    let (rin, rout) = if zero_for_one { (r0, r1) } else { (r1, r0) };
    let amount_in = rin * U256::from(fraction_bps) / U256::from(10_000u64);
    let out = amount_out(amount_in, rin, rout, Dex::PancakeV2.fee_bps()).unwrap();
    swap_in_one_block(rpc, trader, pair, wmatic, zero_for_one, amount_in, out).unwrap();
}

/// Fails unless block `number` holds exactly one transaction: then the executor's balance
/// change over the block is what that one route paid.
pub(crate) fn assert_alone_in_block(rpc: &Rpc, number: u64) {
    let block: Value = rpc
        .call(
            "eth_getBlockByNumber",
            json!([format!("{number:#x}"), false]),
        )
        .unwrap();
    assert_eq!(
        block["transactions"].as_array().map(Vec::len),
        Some(1),
        "{block}"
    );
}

/// `token.balanceOf(who)` at the end of `block`.
pub(crate) fn balance_at(rpc: &Rpc, token: Address, who: Address, block: u64) -> U256 {
    let mut data = vec![0x70, 0xa0, 0x82, 0x31];
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(who.as_slice());
    let out: Bytes = rpc
        .call(
            "eth_call",
            json!([{"to": token, "data": Bytes::from(data)}, format!("0x{block:x}")]),
        )
        .unwrap();
    U256::from_be_slice(&out)
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("polyarb-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The sizing's tolerance where it is not proven exact: a few raw units of the start token
/// (docs/engine.md, Limitations), plus one raw unit of each intermediate token, valued in the
/// start token (added per route by [`V2Oracle::tolerance`]).
const ROUNDING_WEI: u64 = 8;

/// A V2 route re-priced independently of polyarb-core: each hop's pair reserves at one block (by
/// `eth_call`) and `polyarb_tools::amount_out` with its DEX's fee. The route's pairs are
/// distinct, so each hop sees its pair as the route's own swap did.
pub(crate) struct V2Oracle {
    /// Per hop: reserve in, reserve out, fee in basis points.
    hops: Vec<(U256, U256, u32)>,
    /// The most the route's funding can provide: the executor's balance of the start token by
    /// default, or a lender's (see [`V2Oracle::borrowing`]). No route can take more.
    pub(crate) capital: U256,
    /// What the route's lender charges on an input (none by default).
    premium: Box<dyn Fn(U256) -> U256>,
}

impl V2Oracle {
    /// The route of `opportunity` on the state at the end of `block`.
    pub(crate) fn at(rpc: &Rpc, world: &World, opportunity: &Value, block: u64) -> Self {
        let token: Address = opportunity["token_in"].as_str().unwrap().parse().unwrap();
        let capital = balance_at(rpc, token, world.executor.unwrap(), block);
        let hops = opportunity["hops"]
            .as_array()
            .expect("hops[]")
            .iter()
            .map(|h| {
                assert_eq!(h["kind"], "uniswap-v2", "{opportunity}");
                let address: Address = h["pool"].as_str().unwrap().parse().unwrap();
                let pair = world
                    .pairs
                    .iter()
                    .find(|p| p.address == address)
                    .expect("a pair of the world");
                let out: Bytes = rpc
                    .call(
                        "eth_call",
                        json!([{"to": address, "data": "0x0902f1ac"}, format!("{block:#x}")]),
                    )
                    .unwrap();
                let (r0, r1) = (
                    U256::from_be_slice(&out[..32]),
                    U256::from_be_slice(&out[32..64]),
                );
                let (rin, rout) = if h["zero_for_one"].as_bool().unwrap() {
                    (r0, r1)
                } else {
                    (r1, r0)
                };
                (rin, rout, pair.dex.fee_bps())
            })
            .collect::<Vec<_>>();
        let mut seen: Vec<_> = opportunity["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["pool"].clone())
            .collect();
        seen.sort_by_key(|v| v.to_string());
        seen.dedup();
        assert_eq!(seen.len(), hops.len(), "a pair twice in {opportunity}");
        Self {
            hops,
            capital,
            premium: Box::new(|_| U256::ZERO),
        }
    }

    /// The route funded by a lender that can provide `cap` and charges `premium(input)`.
    pub(crate) fn borrowing(self, cap: U256, premium: impl Fn(U256) -> U256 + 'static) -> Self {
        Self {
            capital: cap,
            premium: Box::new(premium),
            ..self
        }
    }

    /// Every hop's output for `amount_in`.
    fn outs(&self, amount_in: U256) -> Vec<U256> {
        let mut x = amount_in;
        self.hops
            .iter()
            .map(|&(rin, rout, fee)| {
                x = amount_out(x, rin, rout, fee).unwrap();
                x
            })
            .collect()
    }

    /// The route's output minus `amount_in` and the lender's premium, raw units of the start
    /// token.
    fn profit(&self, amount_in: U256) -> I256 {
        let out = *self.outs(amount_in).last().unwrap();
        I256::try_from(out).unwrap()
            - I256::try_from(amount_in).unwrap()
            - I256::try_from((self.premium)(amount_in)).unwrap()
    }

    /// [`ROUNDING_WEI`] plus one raw unit of each intermediate token in start-token units, at
    /// the route's own rate for `amount_in` (rounded up).
    fn tolerance(&self, amount_in: U256) -> I256 {
        let outs = self.outs(amount_in);
        let units = outs[..outs.len() - 1]
            .iter()
            .map(|&o| amount_in.div_ceil(o))
            .max()
            .unwrap_or(U256::ZERO);
        I256::try_from(units + U256::from(ROUNDING_WEI)).unwrap()
    }

    /// The best profit at the inputs `chosen ± d` for `d` = 1 and 3 times every power of ten,
    /// up to 30 % of `chosen`, and at `chosen ± 1..=100`, none above the capital: (input,
    /// profit). Profit is concave in the input (rounding aside), so an input losing more than a
    /// few times the tolerance to the optimum loses more than the tolerance to one of these.
    fn best_near(&self, chosen: U256) -> (U256, I256) {
        let cap = chosen * U256::from(3u8) / U256::from(10u8);
        let mut offsets: Vec<U256> = (1..=100u64).map(U256::from).collect();
        let mut p = U256::from(1u8);
        while p <= cap {
            offsets.extend([p, p * U256::from(3u8)].into_iter().filter(|&d| d <= cap));
            p *= U256::from(10u8);
        }
        offsets
            .iter()
            .flat_map(|&d| [chosen + d, chosen.saturating_sub(d)])
            .filter(|x| !x.is_zero() && *x <= self.capital)
            .map(|x| (x, self.profit(x)))
            .max_by_key(|&(_, p)| p)
            .unwrap()
    }

    /// The oracle pays exactly `predicted` for `chosen`, and no input near it pays more than the
    /// tolerance more. And the check can fail: an input 10 % short of `chosen` is caught.
    pub(crate) fn assert_optimal(&self, chosen: U256, predicted: U256) {
        let at_chosen = self.profit(chosen);
        assert_eq!(
            at_chosen,
            I256::try_from(predicted).unwrap(),
            "the oracle's profit for the chosen input {chosen}"
        );
        let (input, best) = self.best_near(chosen);
        let tolerance = self.tolerance(chosen);
        assert!(
            best - at_chosen <= tolerance,
            "input {input} pays {} more than the chosen {chosen} (tolerance {tolerance})",
            best - at_chosen
        );
        let short = chosen - chosen / U256::from(10u8);
        let (_, near_short) = self.best_near(short);
        assert!(
            near_short - self.profit(short) > self.tolerance(short),
            "the check would not catch an input 10 % short ({short})"
        );
    }
}

/// Sets `[search] max_routes = 1` in the config at `path`.
pub(crate) fn one_route_per_update(path: &Path) {
    set_in_table(path, "[search]", "max_routes = 1");
}

/// Adds `line` at the top of the config's `table` (e.g. `[signer]`) in the file at `path`.
fn set_in_table(path: &Path, table: &str, line: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = format!("{table}\n");
    let edited = text.replacen(&header, &format!("{header}{line}\n"), 1);
    assert_ne!(edited, text, "the config has a {table} table");
    std::fs::write(path, edited).unwrap();
}

/// Appends `[pipeline] mode = "fused"` to the config at `path` (which has no `[pipeline]`).
fn fused(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(!text.contains("[pipeline]"), "{text}");
    std::fs::write(path, format!("{text}\n[pipeline]\nmode = \"fused\"\n")).unwrap();
}

/// What `who`'s balance of `token` gained over block `number`, raw units.
pub(crate) fn gain_in_block(rpc: &Rpc, token: Address, who: Address, number: u64) -> U256 {
    balance_at(rpc, token, who, number) - balance_at(rpc, token, who, number - 1)
}

#[test]
fn a_gap_on_a_live_node_becomes_a_mined_profitable_arbitrage() {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    assert_eq!(node.chain_id(), 137);
    let rpc = node.rpc();
    let world = small_world(&node, &tc);
    let executor = world.executor.unwrap();
    let dir = temp_dir("mined");
    let config = write_config(&node, &world, &dir);
    // One transaction for the gap: later routes of the same update, sent in the same burst, can
    // be mined in the same block, and the balance check below is for one route alone.
    one_route_per_update(&config);
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);

    open_gap(&rpc, &world, node.accounts()[2], 300);
    let first = polyarb.wait_for_opportunities(1).remove(0);
    let hash: B256 = first["tx_hash"]
        .as_str()
        .expect("a transaction was signed")
        .parse()
        .unwrap();
    let receipt = match rpc.wait_receipt(hash) {
        Ok(r) => r,
        Err(e) => {
            let r = rpc.receipt(hash).ok().flatten();
            panic!(
                "polyarb's tx failed: {e}\nreceipt: {r:?}\nopportunity: {first}\n{}",
                polyarb.logs()
            )
        }
    };
    assert!(receipt.success);

    // The transaction is alone in its block, so the executor's balance change over that block
    // is exactly what the route paid.
    assert_alone_in_block(&rpc, receipt.block_number);
    let token: Address = first["token_in"].as_str().unwrap().parse().unwrap();
    let predicted: U256 = first["profit"].as_str().unwrap().parse().unwrap();
    assert!(predicted > U256::ZERO);
    assert_eq!(
        gain_in_block(&rpc, token, executor, receipt.block_number),
        predicted,
        "executor balance change vs predicted profit"
    );
    // That holds for any route that did not revert (minProfit is the prediction), an undersized
    // one too: check that the input was the best one for the state the route ran on.
    let oracle = V2Oracle::at(&rpc, &world, &first, receipt.block_number - 1);
    let chosen: U256 = first["amount_in"].as_str().unwrap().parse().unwrap();
    assert!(
        chosen < oracle.capital,
        "sized to the capital {chosen}: the optimum check would prove less"
    );
    oracle.assert_optimal(chosen, predicted);

    polyarb.wait_for_log("node accepted transaction");
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "polyarb exit status after SIGINT");
    assert!(
        stdout.contains("detection") && stdout.contains("p99.9"),
        "latency table on exit:\n{stdout}"
    );
    assert!(stdout.contains("0 rejected"), "{stdout}");
    // The mined transaction (and any later one) was signed with a precomputed nonce coupon
    // (the mint fills its ring during discovery), not the RFC 6979 fallback.
    assert!(
        count_in(&stdout, "signatures:", " with a precomputed nonce coupon") >= 1,
        "{stdout}"
    );
    assert_eq!(
        count_in(&stdout, "signatures:", " with RFC 6979"),
        0,
        "{stdout}"
    );
}

/// Opens a gap (`trader` sells into Pancake), waits for polyarb's first opportunity and its
/// receipt, and checks it was alone in its block and the executor gained exactly the predicted
/// profit. Returns the transaction's hash.
fn gap_route_pays_the_prediction(
    rpc: &Rpc,
    world: &World,
    polyarb: &Polyarb,
    trader: Address,
) -> B256 {
    open_gap(rpc, world, trader, 300);
    let opp = polyarb.wait_for_opportunities(1).remove(0);
    let hash: B256 = opp["tx_hash"].as_str().unwrap().parse().unwrap();
    let receipt = rpc
        .wait_receipt(hash)
        .unwrap_or_else(|e| panic!("{e}\n{}", polyarb.logs()));
    assert_alone_in_block(rpc, receipt.block_number);
    let token: Address = opp["token_in"].as_str().unwrap().parse().unwrap();
    let executor = world.executor.expect("the world has an executor");
    assert_eq!(
        gain_in_block(rpc, token, executor, receipt.block_number),
        opp["profit"].as_str().unwrap().parse::<U256>().unwrap()
    );
    hash
}

/// `signer.tx_type = "legacy"`: the route goes out as an EIP-155 transaction (type 0, chain id
/// in v), anvil mines it, and it pays exactly the prediction.
#[test]
fn a_legacy_eip155_route_is_mined_and_pays_the_prediction() {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    let rpc = node.rpc();
    let world = small_world(&node, &tc);
    let dir = temp_dir("legacy");
    let config = write_config(&node, &world, &dir);
    one_route_per_update(&config);
    set_in_table(&config, "[signer]", "tx_type = \"legacy\"");
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);

    let hash = gap_route_pays_the_prediction(&rpc, &world, &polyarb, node.accounts()[2]);
    let tx: Value = rpc.call("eth_getTransactionByHash", json!([hash])).unwrap();
    assert_eq!(tx["type"], "0x0", "{tx}");
    // EIP-155: v = 35 + 2 · 137 + parity.
    let v = u64::from_str_radix(tx["v"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(v == 309 || v == 310, "v = {v}");
    let (ok, _) = polyarb.stop();
    assert!(ok);
}

/// The fused mode live: one thread reads the gap's logs, searches, signs and writes; the node
/// mines the route and it pays exactly the prediction.
#[test]
fn a_fused_run_sends_a_route_that_pays_the_prediction() {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    let rpc = node.rpc();
    let world = small_world(&node, &tc);
    let dir = temp_dir("fused");
    let config = write_config(&node, &world, &dir);
    one_route_per_update(&config);
    fused(&config);
    let polyarb = Polyarb::start(&config, node.dev_key(1).unwrap(), &dir);

    gap_route_pays_the_prediction(&rpc, &world, &polyarb, node.accounts()[2]);
    polyarb.wait_for_log("node accepted transaction");
    let (ok, stdout) = polyarb.stop();
    assert!(ok);
    assert!(stdout.contains("placement: fused"), "{stdout}");
    assert!(count_in(&stdout, "signer:", " signed") >= 1, "{stdout}");
}

/// Two sending accounts (`[[signer.senders]]`): routes go to them in turn, each with its own
/// nonce sequence, and the node mines the routes of both.
#[test]
fn routes_take_turns_between_two_senders_and_both_land() {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    let rpc = node.rpc();
    let world = small_world(&node, &tc);
    let executor = world.executor.unwrap();
    let accounts = node.accounts();
    // The owner (account 1) lets the second sender (account 4) run routes too.
    rpc.transact_call(
        accounts[1],
        executor,
        &polyarb_tools::abi::IExecutor::setExecutorCall {
            account: accounts[4],
            allowed: true,
        },
    )
    .unwrap();
    let dir = temp_dir("senders");
    let config = write_config(&node, &world, &dir);
    one_route_per_update(&config);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[signer.senders]]\nkey_env = \"POLYARB_SECOND_KEY\"\n");
    std::fs::write(&config, text).unwrap();
    let polyarb = Polyarb::start_env(
        &config,
        node.dev_key(1).unwrap(),
        &dir,
        &[],
        &[("POLYARB_SECOND_KEY", node.dev_key(4).unwrap())],
    );

    // A gap may leave a smaller one on another cycle that polyarb takes too, so the second
    // route may be that one rather than the second gap's: the first two routes are checked.
    for round in 1..=2 {
        open_gap(&rpc, &world, accounts[2], 300);
        polyarb.wait_for_opportunities(round);
    }
    let mut senders = Vec::new();
    for (n, opp) in polyarb.opportunities().iter().take(2).enumerate() {
        let hash: B256 = opp["tx_hash"].as_str().unwrap().parse().unwrap();
        // `wait_receipt` fails on a reverted receipt. (Routes of both senders may share a block,
        // so the exact payout is checked by the single-sender test, not here.)
        rpc.wait_receipt(hash)
            .unwrap_or_else(|e| panic!("route {}: {e}\n{}", n + 1, polyarb.logs()));
        let tx: Value = rpc.call("eth_getTransactionByHash", json!([hash])).unwrap();
        senders.push(tx["from"].as_str().unwrap().parse::<Address>().unwrap());
    }
    assert_eq!(
        senders,
        vec![accounts[1], accounts[4]],
        "one route from each, in turn"
    );
    polyarb.wait_for_logs("node accepted transaction", 2);
    let (ok, stdout) = polyarb.stop();
    assert!(ok);
    for a in [accounts[1], accounts[4]] {
        assert!(stdout.contains(&format!("sender {a}:")), "{stdout}");
    }
    assert!(
        count_in(&stdout, "signatures:", " with a precomputed nonce coupon") >= 2,
        "{stdout}"
    );
}

#[test]
fn a_node_that_rejects_the_transaction_is_logged_and_polyarb_keeps_running() {
    rejected_then_reused(false);
}

/// The same in the fused mode: the refused nonce comes back to the signer on the same thread.
#[test]
fn a_fused_run_reuses_a_refused_nonce_too() {
    rejected_then_reused(true);
}

fn rejected_then_reused(fused_mode: bool) {
    let tc = Toolchain::locate();
    let node =
        Anvil::start(AnvilOpts::default()).expect("start anvil (run tools/toolchain/install.sh)");
    let rpc = node.rpc();
    let world = small_world(&node, &tc);
    let dir = temp_dir(if fused_mode {
        "rejected-fused"
    } else {
        "rejected"
    });
    let config = write_config(&node, &world, &dir);
    if fused_mode {
        fused(&config);
    }
    // One route per update, so each gap is exactly one transaction and the counts below are
    // exact (several routes per update are tested in the engine scenarios).
    one_route_per_update(&config);
    // A key anvil never funded: every transaction fails the node's balance check.
    let broke = "0x4242424242424242424242424242424242424242424242424242424242424242";
    // One transaction in flight at most: a refused one never gets a receipt, and must leave
    // the count when the node refuses it, or the second route would be held back forever.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[risk]\nmax_in_flight = 1\n");
    std::fs::write(&config, text).unwrap();
    let journal = dir.join("journal.db");
    let polyarb = Polyarb::start_with(
        &config,
        broke,
        &dir,
        &["--journal".as_ref(), journal.as_os_str()],
    );

    open_gap(&rpc, &world, node.accounts()[2], 300);
    polyarb.wait_for_opportunities(1);
    polyarb.wait_for_log("node rejected transaction");
    let log = polyarb.logs();
    assert!(
        log.to_lowercase().contains("insufficient funds"),
        "the node's reason is in the log:\n{log}"
    );

    // Still running: the next gap is found and tried again.
    open_gap(&rpc, &world, node.accounts()[2], 300);
    polyarb.wait_for_opportunities(2);
    polyarb.wait_for_logs("node rejected transaction", 2);
    let nonces: Vec<u64> = polyarb
        .opportunities()
        .iter()
        .map(|o| o["nonce"].as_u64().expect("a signed transaction's nonce"))
        .collect();
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "polyarb exit status after SIGINT");
    let mode = if fused_mode { "fused" } else { "pipelined" };
    assert!(stdout.contains(&format!("placement: {mode}")), "{stdout}");
    // Both routes were signed, sent and refused; the refused nonce went back to the signer,
    // which signed the second route with it: no gap, no nonce skipped.
    assert_eq!(count_in(&stdout, "signer:", " signed"), 2, "{stdout}");
    assert_eq!(count_in(&stdout, "node:", " refused"), 2, "{stdout}");
    assert!(
        count_in(&stdout, "signer:", " reused after a refusal") >= 1,
        "{stdout}"
    );
    assert_eq!(nonces.len(), 2, "{nonces:?}");
    assert_eq!(nonces[0], nonces[1], "the refused nonce is reused");
    // Neither was left waiting for a receipt it will never have.
    assert!(
        stdout.contains("2 never to be mined (refused or replaced), 0 without a receipt at exit"),
        "{stdout}"
    );
    // The journal holds both answers as the node gave them: refused, in its words, for the
    // route each carried (the opportunities' own seq and nonce).
    let c = rusqlite::Connection::open(&journal).unwrap();
    type Answer = (i64, i64, Option<i64>, String, String, Option<String>);
    let rows: Vec<Answer> = c
        .prepare("SELECT n, nonce, seq, kind, outcome, error FROM send_answers ORDER BY n")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let opps = polyarb_seqs(&dir);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (i, (n, nonce, seq, kind, outcome, error)) in rows.iter().enumerate() {
        assert_eq!(*n, i as i64 + 1);
        assert_eq!(*nonce as u64, nonces[i]);
        assert_eq!(*seq, Some(opps[i]), "{rows:?}");
        assert_eq!((kind.as_str(), outcome.as_str()), ("route", "refused"));
        let e = error.as_deref().unwrap_or_default().to_lowercase();
        assert!(e.starts_with("insufficient funds"), "{e}");
    }
}

/// The `seq` of each opportunity the run in `dir` wrote, in order.
fn polyarb_seqs(dir: &Path) -> Vec<i64> {
    std::fs::read_to_string(dir.join("opportunities.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// On the summary line starting with `line`, the number printed just before `label`
/// (`"node: 0 transactions accepted, 3 rejected"`, `" rejected"` → 3).
pub(crate) fn count_in(text: &str, line: &str, label: &str) -> u64 {
    let l = text
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no {line:?} line in {text}"));
    let end = l
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {l}"));
    let head = &l[..end];
    let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    head[end - digits..]
        .parse()
        .unwrap_or_else(|_| panic!("no count before {label:?} in {l}"))
}
