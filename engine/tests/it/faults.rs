//! The fault test (issue 6): polyarb live on the all-kinds world (V2 pairs, Uniswap V3 and
//! Algebra pools, traders and a liquidity provider every block), connected to anvil through the
//! fault-injection proxy (`polyarb_tools::faultproxy`), which drops the connection, stalls the
//! feed past the head-age watchdog while blocks are mined, sends a protocol violation, garbage,
//! duplicated logs, one-byte segments, delayed messages and held-back heads, loses and
//! null-ids transaction answers and refuses a transaction.
//!
//! The node is the oracle. After the faults and a few calm blocks:
//! - polyarb is still running, and says it lost and re-established the connection and
//!   backfilled the blocks it missed;
//! - no nonce was used twice or skipped: the sender's mined count equals its pending count (no
//!   transaction of ours waits behind a gap), and the nonces used are exactly the transactions
//!   polyarb signed less those the node refused (their nonces were reused);
//! - every transaction polyarb reported signing is accounted for on chain or refused;
//! - the executor never lost: its balance of each start token did not fall;
//! - the tables polyarb writes on exit equal the node's state of every pool at the block they
//!   are complete up to.

use std::{
    path::{Path, PathBuf},
    thread,
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use polyarb_tools::{
    LiveWorld, LpOpts, RpcError, Toolchain, TradeError, TraderOpts, Traders, WorldOpts,
    faultproxy::{Fault, FaultProxy, upstream_addr},
    lp_seed, start_world,
};
use serde_json::{Value, json};

use crate::e2e::{Polyarb, balance_at, count_in};
use crate::e2e_cl::stop_cleanly;

/// How long the proxy may run: well past the test's own length.
const PROXY_LIFETIME: Duration = Duration::from_secs(600);
/// The head-age watchdog polyarb runs with here, ms (blocks come every second or so).
const HEAD_AGE_MS: u64 = 4_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("polyarb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The all-kinds world (no automatic mining) in a fresh scratch folder named `name`, its config
/// written there as `name.toml`.
fn world_in(name: &str) -> (LiveWorld, PathBuf) {
    let dir = scratch(name);
    let live = start_world(
        &Toolchain::locate(),
        &WorldOpts {
            out_dir: dir.clone(),
            config_name: format!("{name}.toml"),
            executor_artifact: None,
            no_mining: true,
        },
    )
    .unwrap_or_else(|e| panic!("start the all-kinds world (see tools/toolchain): {e}"));
    (live, dir)
}

/// polyarb running on `live` with anvil's dev key 1, writing its tables to `dir/tables.json` on
/// exit; the process and that path.
fn start_saving(live: &LiveWorld, dir: &Path) -> (Polyarb, PathBuf) {
    let tables = dir.join("tables.json");
    let key = live.anvil.dev_key(1).expect("anvil's dev key 1");
    let polyarb = Polyarb::start_with(
        &live.config_path,
        key,
        dir,
        &["--save-snapshot".as_ref(), tables.as_os_str()],
    );
    (polyarb, tables)
}

/// Traders swapping 3 times a block on `live`, with its liquidity provider, seeded.
fn traders(live: &LiveWorld, seed: u64) -> Traders<'_> {
    Traders::new(
        &live.rpc,
        &live.world,
        TraderOpts::new(live.trader, seed, 3).with_liquidity(LpOpts::new(live.lp, lp_seed(seed))),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `blocks` trading blocks, each followed by a pause for polyarb to answer (as blocks further
/// apart would). A block where a trader's swap reverted is mined anyway and trading goes on.
fn trade_blocks(traders: &mut Traders<'_>, blocks: usize) {
    for _ in 0..blocks {
        match traders.block(3) {
            Ok(_) | Err(TradeError::Rpc(RpcError::Reverted { .. })) => {}
            Err(e) => panic!("trading: {e}"),
        }
        thread::sleep(Duration::from_millis(300));
    }
}

/// The config pointed at the proxy, with quick reconnects, the watchdog, and short submission
/// timers so lost answers are written again within the test.
fn via_proxy(config: &str, anvil_url: &str, proxy_url: &str) -> String {
    let from = format!("ws_url = \"{anvil_url}\"");
    assert!(config.contains(&from), "the config names anvil's url");
    let to = format!(
        "ws_url = \"{proxy_url}\"\nreconnect_min_ms = 20\nreconnect_max_ms = 500\nmax_head_age_ms = {HEAD_AGE_MS}"
    );
    let mut out = config.replacen(&from, &to, 1);
    out.push_str("\n[submit]\nanswer_timeout_ms = 1000\nfill_after_ms = 500\n");
    out
}

/// Waits (bounded) until polyarb's log has `n` lines containing `needle`.
fn wait_log(polyarb: &Polyarb, needle: &str, n: usize, within: Duration) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if polyarb.logs().matches(needle).count() >= n {
            return true;
        }
        thread::sleep(Duration::from_millis(25));
    }
    false
}

#[test]
fn polyarb_survives_a_faulty_node_and_its_tables_end_equal_to_the_node() {
    let (live, dir) = world_in("faults");
    let rpc = &live.rpc;
    let world = &live.world;
    let executor = world.executor.expect("the world has an executor");
    let owner = world.executor_owner.expect("the executor has an owner");
    let anvil_url = live.anvil.ws_url();
    let mut proxy = FaultProxy::start(
        upstream_addr(&anvil_url).expect("anvil's url"),
        "127.0.0.1:0".parse().unwrap(),
        PROXY_LIFETIME,
    )
    .expect("start the fault proxy");
    let config = std::fs::read_to_string(&live.config_path).unwrap();
    std::fs::write(
        &live.config_path,
        via_proxy(&config, &anvil_url, &proxy.ws_url()),
    )
    .unwrap();
    let starts: Vec<Address> = world
        .start_tokens
        .iter()
        .map(|&t| world.tokens[t].address)
        .collect();
    let first_block = rpc.block_number().unwrap();
    let balances_before: Vec<U256> = starts
        .iter()
        .map(|&t| balance_at(rpc, t, executor, first_block))
        .collect();
    let nonce_before = rpc.next_nonce(owner).unwrap();
    let (polyarb, snapshot_out) = start_saving(&live, &dir);

    let mut traders = traders(&live, 7);
    let mut trade = |blocks: usize| trade_blocks(&mut traders, blocks);
    trade(2);

    let send = "eth_sendRawTransaction".to_owned();
    let plan = [
        Fault::DropConnection,
        Fault::ProtocolViolation,
        Fault::Garbage,
        Fault::DuplicateLogs { n: 20 },
        Fault::OneByteSegments { messages: 4 },
        Fault::Delay {
            by: Duration::from_millis(300),
            messages: 10,
        },
        Fault::DelayHeads {
            by: Duration::from_millis(700),
            n: 2,
        },
        Fault::LoseAnswer {
            method: send.clone(),
            n: 2,
        },
        Fault::NullIdError {
            method: send.clone(),
            n: 1,
        },
        Fault::Reject {
            method: send.clone(),
            n: 1,
            message: "insufficient funds for gas * price + value (injected)".to_owned(),
        },
    ];
    for fault in plan {
        proxy.inject(fault);
        trade(2);
    }
    // A stall longer than the watchdog while blocks are mined: polyarb must notice, reconnect
    // and backfill those blocks.
    proxy.inject(Fault::Stall(Duration::from_millis(HEAD_AGE_MS * 3)));
    trade(3);
    assert!(
        wait_log(
            &polyarb,
            "reconnected; catching up",
            3,
            Duration::from_secs(30)
        ),
        "no reconnect after the stall:\n{}",
        polyarb.logs()
    );
    // Calm blocks: everything settles.
    trade(4);
    thread::sleep(Duration::from_millis(1_500));
    rpc.mine().unwrap();
    thread::sleep(Duration::from_millis(1_000));
    let lines = polyarb.wait_for_opportunities(0);
    let _ = std::fs::write(dir.join("polyarb.log"), polyarb.logs());
    let summary = stop_cleanly(polyarb);
    rpc.mine().unwrap();
    let report = proxy.stop();
    println!("fault proxy: {report}");
    println!("{summary}");

    // Survived, and knows it.
    assert!(
        count_in(&summary, "link:", " connections lost") >= 3,
        "{summary}"
    );
    assert!(count_in(&summary, "link:", " reconnects") >= 3, "{summary}");
    assert!(count_in(&summary, "link:", " stalls") >= 1, "{summary}");
    assert!(count_in(&summary, "link:", " blocks and") >= 2, "{summary}");
    assert!(
        count_in(&summary, "feed:", " decode errors") >= 1,
        "{summary}"
    );

    // Nonces: nothing waits behind a gap, nothing skipped, polyarb's view equals the node's.
    let latest = count(rpc, owner, "latest");
    let pending = count(rpc, owner, "pending");
    assert_eq!(
        latest, pending,
        "a transaction of ours waits in the pool (a gap?)"
    );
    // Each nonce from the start to the end holds exactly one transaction polyarb signed: its
    // routes and cancels, less the ones the node refused (their nonces were reused) and the ones
    // dropped unsent at a reconnect (likewise).
    let routes = count_in(&summary, "signer:", " signed");
    let fills = count_in(&summary, "signer:", " fills");
    let replacements = count_in(&summary, "signer:", " replacements");
    let refused = count_in(&summary, "node:", " refused");
    let dropped = count_in(&summary, "submission:", " dropped as signed");
    let used = latest - nonce_before;
    if replacements == 0 {
        assert_eq!(used, routes + fills - refused - dropped, "{summary}");
    } else {
        // A replaced transaction and its cancel share a nonce.
        assert!(
            used <= routes + fills + replacements - refused - dropped,
            "{summary}"
        );
    }
    // Every transaction polyarb reported is on chain or was refused (injected refusals never
    // reached the node).
    let mut on_chain = 0;
    for l in &lines {
        let Some(hash) = l["tx_hash"].as_str() else {
            continue;
        };
        let hash: B256 = hash.parse().unwrap();
        if rpc.receipt(hash).unwrap().is_some() {
            on_chain += 1;
        }
    }
    let signed = lines.iter().filter(|l| l["tx_hash"].is_string()).count() as u64;
    assert!(
        signed > 0,
        "polyarb signed nothing: the test proves nothing"
    );
    assert!(
        on_chain + refused + dropped >= signed,
        "{on_chain} on chain + {refused} refused of {signed} signed\n{summary}"
    );
    // The executor never lost.
    let last = rpc.block_number().unwrap();
    for (t, before) in starts.iter().zip(&balances_before) {
        assert!(
            balance_at(rpc, *t, executor, last) >= *before,
            "executor lost {t}"
        );
    }
    // The tables polyarb ended with equal the node's state at their block.
    let pools = crate::tables::assert_tables_equal_node(rpc, &snapshot_out);
    assert_eq!(
        pools,
        world.pairs.len() + world.clmm_pools.len(),
        "pools in the tables"
    );
}

/// How many of `who`'s transactions the node's pool holds behind a nonce gap.
fn queued(rpc: &polyarb_tools::Rpc, who: Address) -> usize {
    let pool: Value = rpc.call("txpool_inspect", json!([])).unwrap();
    let queued = &pool["queued"];
    queued
        .as_object()
        .into_iter()
        .flat_map(|m| m.iter())
        .filter(|(k, _)| k.parse::<Address>().ok() == Some(who))
        .map(|(_, v)| v.as_object().map_or(0, |n| n.len()))
        .sum()
}

/// The sender's transaction count at `tag`.
fn count(rpc: &polyarb_tools::Rpc, who: Address, tag: &str) -> u64 {
    let v: Value = rpc
        .call("eth_getTransactionCount", json!([who, tag]))
        .unwrap();
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The warm restart (issue 6): a run saves its tables on SIGUSR1 (and goes on) and on exit;
/// while it is down the market moves (swaps, liquidity minted and burnt); a run started from those tables catches up by
/// backfill, arbitrages, and ends with tables equal to the node's.
#[test]
fn a_restart_resumes_from_saved_tables_and_catches_up_on_what_it_missed() {
    let (live, dir) = world_in("restart");
    let rpc = &live.rpc;
    let world = &live.world;
    let key = live.anvil.dev_key(1).expect("anvil's dev key 1");
    let mut traders = traders(&live, 11);
    let mut trade = |blocks: usize| trade_blocks(&mut traders, blocks);

    for sub in ["first", "second"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let first = dir.join("first.json");
    let mut polyarb = Polyarb::start_with(
        &live.config_path,
        key,
        &dir.join("first"),
        &["--save-snapshot".as_ref(), first.as_os_str()],
    );
    trade(3);
    thread::sleep(Duration::from_millis(1_000));
    // SIGUSR1: the tables are written and the run goes on.
    polyarb.signal("USR1");
    assert!(
        wait_log(
            &polyarb,
            "tables written on request",
            1,
            Duration::from_secs(30)
        ),
        "no snapshot on SIGUSR1:\n{}",
        polyarb.logs()
    );
    assert!(
        polyarb.running(),
        "SIGUSR1 ended the run:\n{}",
        polyarb.logs()
    );
    let on_request = crate::tables::assert_tables_equal_node(rpc, &first);
    assert_eq!(on_request, world.pairs.len() + world.clmm_pools.len());
    let (requested_at, _) = polyarb_engine::snapshot::read(&first).unwrap();
    trade(2);
    thread::sleep(Duration::from_millis(1_000));
    let first_log = polyarb.logs();
    stop_cleanly(polyarb);
    let (at_exit, _) = polyarb_engine::snapshot::read(&first).unwrap();
    assert!(
        at_exit.block > requested_at.block,
        "the exit snapshot ({}) is newer than the requested one ({})",
        at_exit.block,
        requested_at.block
    );
    rpc.mine().unwrap();
    // Down: the market moves.
    trade(4);

    let second = dir.join("second.json");
    let polyarb = Polyarb::start_with(
        &live.config_path,
        key,
        &dir.join("second"),
        &[
            "--resume".as_ref(),
            first.as_os_str(),
            "--save-snapshot".as_ref(),
            second.as_os_str(),
        ],
    );
    polyarb.wait_for_log("resumed from a snapshot");
    trade(3);
    thread::sleep(Duration::from_millis(1_000));
    let second_log = polyarb.logs();
    let summary = stop_cleanly(polyarb);
    rpc.mine().unwrap();
    let took = |log: &str| -> String {
        log.lines()
            .find(|l| l.contains(" ready "))
            .and_then(|l| l.split("took_ms=").nth(1))
            .map(|t| t.split_whitespace().next().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    println!(
        "start-up: discovery {} ms, resume {} ms\n{summary}",
        took(&first_log),
        took(&second_log)
    );
    let resumed = second_log
        .lines()
        .find(|l| l.contains("resumed from a snapshot"))
        .unwrap();
    let blocks: u64 = resumed
        .split("blocks=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no block count in {resumed}"));
    assert!(
        blocks >= 4,
        "caught up {blocks} blocks, the market moved in 5: {resumed}"
    );
    assert!(
        !second_log.contains("discovered"),
        "the restart ran a discovery:\n{second_log}"
    );
    let pools = crate::tables::assert_tables_equal_node(rpc, &second);
    assert_eq!(pools, world.pairs.len() + world.clmm_pools.len());

    // The snapshot names its newest block by hash; a reorg that replaces that block while the
    // engine is down makes a resume from it refuse, saying why.
    let text = std::fs::read_to_string(&second).unwrap();
    let tip = polyarb_engine::snapshot::tip(&text)
        .unwrap()
        .expect("a run's snapshot names its tip");
    let head: Value = rpc.call("eth_blockNumber", json!([])).unwrap();
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(
        tip.block <= head && head - tip.block < 8,
        "tip {tip:?}, head {head}"
    );
    let depth = head - tip.block + 1;
    rpc.request("anvil_reorg", json!([depth, []]))
        .expect("anvil_reorg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["run", "--config"])
        .arg(&live.config_path)
        .arg("--resume")
        .arg(&second)
        .env("POLYARB_PRIVATE_KEY", key)
        .output()
        .expect("run polyarb");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "resumed across a reorg:\n{err}");
    assert!(
        err.contains(&format!("the snapshot's block {} is", tip.block))
            && err.contains("a reorg since the snapshot was written"),
        "{err}"
    );
}

/// Start-up against a node that stops answering: a signal ends it at once, and
/// `node.startup_timeout_ms` ends it when nobody sends one; both with a clear message.
#[test]
fn start_up_against_a_stalled_node_ends_on_a_signal_or_its_deadline() {
    let (live, _dir) = world_in("startup");
    let anvil_url = live.anvil.ws_url();
    let proxy = FaultProxy::start(
        upstream_addr(&anvil_url).expect("anvil's url"),
        "127.0.0.1:0".parse().unwrap(),
        PROXY_LIFETIME,
    )
    .expect("start the fault proxy");
    let config = std::fs::read_to_string(&live.config_path).unwrap();
    let config = via_proxy(&config, &anvil_url, &proxy.ws_url()).replacen(
        "reconnect_min_ms",
        "startup_timeout_ms = 2000\nreconnect_min_ms",
        1,
    );
    std::fs::write(&live.config_path, config).unwrap();
    let key = live.anvil.dev_key(1).expect("anvil's dev key 1");
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_polyarb"))
            .args(["run", "--config"])
            .arg(&live.config_path)
            .env("POLYARB_PRIVATE_KEY", key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn polyarb")
    };
    // Waits (bounded) for the process to end: its exit status and stderr.
    let finish = |mut child: std::process::Child, within: Duration| {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                return (status, err, started.elapsed());
            }
            assert!(
                started.elapsed() < within,
                "polyarb still running after {within:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    };

    // The deadline: nobody interrupts; the node never answers within 2 s.
    proxy.inject(Fault::Stall(Duration::from_secs(30)));
    let (status, err, took) = finish(start(), Duration::from_secs(20));
    assert!(!status.success(), "{err}");
    assert!(err.contains("deadline"), "{err}");
    println!("start-up deadline of 2 s ended the run after {took:?}");

    // A signal: it ends at once, however long the node would take.
    proxy.inject(Fault::Stall(Duration::from_secs(30)));
    let child = start();
    thread::sleep(Duration::from_millis(700));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, err, took) = finish(child, Duration::from_secs(10));
    assert!(!status.success(), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    println!("SIGINT during start-up ended the run {took:?} after the signal");
}

/// Two endpoints (two proxies in front of the same node): both are read, the first copy of
/// each log wins and the other is skipped; one endpoint stalling or dropping does not stop the
/// feed or the sending, and the tables end equal to the node.
#[test]
fn two_endpoints_first_arrival_wins_and_one_failing_loses_nothing() {
    let (live, dir) = world_in("endpoints");
    let rpc = &live.rpc;
    let world = &live.world;
    let anvil_url = live.anvil.ws_url();
    let proxy = |_: u8| {
        FaultProxy::start(
            upstream_addr(&anvil_url).expect("anvil's url"),
            "127.0.0.1:0".parse().unwrap(),
            PROXY_LIFETIME,
        )
        .expect("start the fault proxy")
    };
    let (mut a, mut b) = (proxy(0), proxy(1));
    let config = std::fs::read_to_string(&live.config_path).unwrap();
    let config = via_proxy(&config, &anvil_url, &a.ws_url()).replacen(
        "reconnect_min_ms",
        &format!("extra_ws_urls = [\"{}\"]\nreconnect_min_ms", b.ws_url()),
        1,
    );
    std::fs::write(&live.config_path, config).unwrap();
    let (polyarb, tables) = start_saving(&live, &dir);
    let mut traders = traders(&live, 5);
    let mut trade = |blocks: usize| trade_blocks(&mut traders, blocks);
    trade(3);
    // The second endpoint stalls: the first keeps the feed going.
    b.inject(Fault::Stall(Duration::from_secs(2)));
    trade(3);
    // The first drops: the second carries the feed and the sending while it reconnects.
    a.inject(Fault::DropConnection);
    trade(3);
    a.inject(Fault::DuplicateLogs { n: 10 });
    trade(3);
    thread::sleep(Duration::from_millis(1_500));
    rpc.mine().unwrap();
    thread::sleep(Duration::from_millis(1_000));
    let summary = stop_cleanly(polyarb);
    rpc.mine().unwrap();
    println!(
        "endpoint a: {}\nendpoint b: {}\n{summary}",
        a.stop(),
        b.stop()
    );
    assert!(
        count_in(&summary, "engine:", " already applied") > 0,
        "no copy was skipped: was the second endpoint read?\n{summary}"
    );
    assert!(
        count_in(&summary, "link:", " connections lost") >= 1,
        "{summary}"
    );
    assert!(count_in(&summary, "signer:", " signed") > 0, "{summary}");
    let pools = crate::tables::assert_tables_equal_node(rpc, &tables);
    assert_eq!(pools, world.pairs.len() + world.clmm_pools.len());
}

/// A factory that answers a huge `allPairsLength` (2^40, 10^7): discovery refuses it at once
/// with a message naming `max_pairs`, instead of allocating and calling for every index; with
/// `max_pairs` set it reads that many and skips what does not answer as a pair.
#[test]
fn a_factory_claiming_huge_pair_counts_is_refused_or_capped() {
    let (live, dir) = world_in("hostile-factory");
    let rpc = &live.rpc;
    let text = std::fs::read_to_string(&live.config_path).unwrap();
    let cfg = polyarb_engine::config::Config::parse(
        &text,
        &live.config_path,
        &std::collections::HashMap::<String, String>::new(),
    )
    .unwrap();
    let factory = cfg.dexes[0].factory;
    let out = dir.join("snapshot.json");
    let never = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Runtime code answering any call with one 32-byte word: PUSHn value, PUSH1 0, MSTORE,
    // PUSH1 32, PUSH1 0, RETURN.
    let answering = |value: &[u8]| {
        let mut code = vec![0x5f + value.len() as u8];
        code.extend_from_slice(value);
        code.extend_from_slice(&[0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
        format!("0x{}", alloy_primitives::hex::encode(code))
    };
    for (value, what) in [
        (&[0x01, 0, 0, 0, 0, 0][..], "2^40"),
        (&[0x98, 0x96, 0x80][..], "10^7"),
    ] {
        rpc.request("anvil_setCode", json!([factory, answering(value)]))
            .unwrap();
        let started = std::time::Instant::now();
        let e = polyarb_engine::app::live::snapshot_cmd(&live.config_path, &out, &never)
            .expect_err("a factory listing that many pairs is refused");
        let msg = e.to_string();
        assert!(msg.contains("max_pairs"), "{what}: {msg}");
        println!("{what} pairs: refused in {:?}: {msg}", started.elapsed());
    }
    // With a cap, the three "pairs" it names (the same word, read as an address with no
    // contract) are read and skipped; the other dexes load.
    let capped = text.replacen(
        &format!("factory = \"{factory:#x}\""),
        &format!("factory = \"{factory:#x}\"\nmax_pairs = 3"),
        1,
    );
    assert_ne!(capped, text, "the factory line is in the config");
    std::fs::write(&live.config_path, capped).unwrap();
    let summary = polyarb_engine::app::live::snapshot_cmd(&live.config_path, &out, &never)
        .unwrap_or_else(|e| panic!("capped: {e}"));
    println!("capped: {summary}");
    // The three read are skipped as failed; every pool of the other dexes is kept.
    let on_hostile = live
        .world
        .pairs
        .iter()
        .filter(|p| p.dex == polyarb_tools::Dex::UniswapV2)
        .count() as u64;
    let all = (live.world.pairs.len() + live.world.clmm_pools.len()) as u64;
    assert_eq!(summary.stats.failed, 3, "{summary}");
    assert_eq!(summary.stats.kept, all - on_hostile, "{summary}");
}

/// Reorgs on the node (`anvil_reorg`: the newest blocks replaced; `anvil_rollback`: the newest
/// dropped and mined again with other transactions): polyarb takes back what it applied from
/// the abandoned blocks and its tables end equal to the node's.
#[test]
fn reorgs_on_the_node_are_undone_and_the_tables_end_equal_to_the_node() {
    let (live, dir) = world_in("reorg");
    let rpc = &live.rpc;
    let world = &live.world;
    // Short submission timers: the node drops the transactions of blocks it takes back, and
    // the test should see them written again within its run.
    let mut config = std::fs::read_to_string(&live.config_path).unwrap();
    config.push_str("\n[submit]\nanswer_timeout_ms = 1000\nfill_after_ms = 500\n");
    std::fs::write(&live.config_path, config).unwrap();
    let (polyarb, tables) = start_saving(&live, &dir);
    let mut traders = traders(&live, 9);
    let mut trade = |blocks: usize| trade_blocks(&mut traders, blocks);
    trade(4);
    // The two newest blocks replaced by empty ones.
    rpc.request("anvil_reorg", json!([2, []]))
        .expect("anvil_reorg");
    thread::sleep(Duration::from_millis(500));
    trade(3);
    // The newest block dropped; the next ones are mined at its height with other swaps.
    rpc.request("anvil_rollback", json!([1]))
        .expect("anvil_rollback");
    trade(3);
    thread::sleep(Duration::from_millis(1_500));
    rpc.mine().unwrap();
    thread::sleep(Duration::from_millis(1_000));
    let summary = stop_cleanly(polyarb);
    rpc.mine().unwrap();
    println!("{summary}");
    assert!(count_in(&summary, "reorgs:", " undone") >= 2, "{summary}");
    // anvil drops the transactions of the blocks it takes back: polyarb's nonces there are
    // filled again, and none of its transactions waits behind a gap.
    let owner = world.executor_owner.expect("the executor has an owner");
    assert_eq!(
        count(rpc, owner, "latest"),
        count(rpc, owner, "pending"),
        "a transaction of ours waits in the pool (a gap?)\n{summary}"
    );
    if queued(rpc, owner) > 0 {
        let pool: Value = rpc.call("txpool_inspect", json!([])).unwrap();
        println!("POOL {pool}\nLATEST {}", count(rpc, owner, "latest"));
    }
    assert_eq!(
        queued(rpc, owner),
        0,
        "transactions of ours wait behind a gap\n{summary}"
    );
    let pools = crate::tables::assert_tables_equal_node(rpc, &tables);
    assert_eq!(pools, world.pairs.len() + world.clmm_pools.len());
}
