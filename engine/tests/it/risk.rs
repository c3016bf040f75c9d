//! Risk limits and the kill switch on a real node (docs/risk.md): each limit trips on anvil and
//! stops sending, with its reason in the opportunities file, the journal and the summary; the
//! kill file and SIGUSR2 stop sending at once and resuming works.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use polyarb_tools::abi::IExecutor;
use polyarb_tools::{Anvil, AnvilOpts, Rpc, Toolchain, World};
use rusqlite::Connection;
use serde_json::Value;

use crate::e2e::{
    Polyarb, one_route_per_update, open_gap, small_world_with, temp_dir, write_config,
};

/// A node, its small world (the executor owned by an account of its own, account 1 allowed to
/// call it) and a config with `risk` appended.
pub(crate) struct Setup {
    pub(crate) node: Anvil,
    pub(crate) world: World,
    pub(crate) owner: Address,
    pub(crate) dir: PathBuf,
    pub(crate) config: PathBuf,
}

pub(crate) fn setup(name: &str, risk: &str) -> Setup {
    let tc = Toolchain::locate();
    let node = Anvil::start(AnvilOpts::default()).expect("start anvil");
    let owner = node.accounts()[3];
    let world = small_world_with(&node, &tc, |spec| {
        if let Some(e) = spec.executor.as_mut() {
            e.owner = owner;
        }
    });
    node.rpc()
        .transact_call(
            owner,
            world.executor.unwrap(),
            &IExecutor::setExecutorCall {
                account: node.accounts()[1],
                allowed: true,
            },
        )
        .unwrap();
    let dir = temp_dir(name);
    let config = write_config(&node, &world, &dir);
    one_route_per_update(&config);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n{risk}\n")).unwrap();
    Setup {
        node,
        world,
        owner,
        dir,
        config,
    }
}

/// `polyarb run` on `s` with a journal in its folder; the journal's path.
pub(crate) fn start_journaled(s: &Setup) -> (Polyarb, PathBuf) {
    let journal = s.dir.join("j.db");
    let polyarb = Polyarb::start_with(
        &s.config,
        s.node.dev_key(1).unwrap(),
        &s.dir,
        &["--journal".as_ref(), journal.as_os_str()],
    );
    (polyarb, journal)
}

/// The sender's transactions the node has counted (mined or pending).
fn sent(rpc: &Rpc, who: Address) -> u64 {
    let v: Value = rpc
        .call(
            "eth_getTransactionCount",
            serde_json::json!([who, "pending"]),
        )
        .unwrap();
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Opens a gap and waits for the opportunity it gives (the `n`th); returns it.
pub(crate) fn gap(s: &Setup, polyarb: &Polyarb, n: usize) -> Value {
    open_gap(&s.node.rpc(), &s.world, s.node.accounts()[2], 300);
    polyarb.wait_for_opportunities(n).remove(n - 1)
}

/// Waits until the transaction of opportunity `o` has a receipt; returns whether it succeeded.
pub(crate) fn mined(rpc: &Rpc, o: &Value) -> bool {
    let hash: B256 = o["tx_hash"]
        .as_str()
        .unwrap_or_else(|| panic!("no transaction: {o}"))
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = rpc.receipt(hash).unwrap() {
            return r.success;
        }
        assert!(Instant::now() < deadline, "{hash} never mined");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails unless opportunity `o` was refused for `key` and carries no transaction.
fn refused(o: &Value, key: &str) {
    let e = o["error"].as_str().unwrap_or_else(|| panic!("signed: {o}"));
    assert!(
        e.starts_with("risk: ") && e.contains(key),
        "{e} (want {key})"
    );
    assert!(o.get("tx_hash").is_none(), "{o}");
}

/// Each static limit, alone in the config, refuses the gap's route before it is signed: the
/// opportunity names the limit, the node never sees a transaction from the sender, and the
/// summary counts the refusal.
#[test]
fn each_static_limit_refuses_the_route_before_signing() {
    for (risk, key) in [
        ("[risk]\nmin_net_profit = \"100000\"", "risk.min_net_profit"),
        ("[risk.max_input]\nWMATIC = \"0.001\"", "risk.max_input"),
        (
            "[risk]\nmax_gas_per_hour = \"0.000000001\"",
            "risk.max_gas_per_hour",
        ),
        (
            "[risk]\nmax_gas_per_day = \"0.000000001\"",
            "risk.max_gas_per_day",
        ),
    ] {
        let s = setup("risk-static", risk);
        let sender = s.node.accounts()[1];
        let before = sent(&s.node.rpc(), sender);
        let polyarb = Polyarb::start(&s.config, s.node.dev_key(1).unwrap(), &s.dir);
        let o = gap(&s, &polyarb, 1);
        refused(&o, key);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            sent(&s.node.rpc(), sender),
            before,
            "{key}: a transaction went out"
        );
        let (ok, stdout) = polyarb.stop();
        assert!(ok, "{stdout}");
        assert!(
            stdout.contains("risk: ") && stdout.contains(&format!(" {key}")),
            "{key}: {stdout}"
        );
    }
}

/// `max_in_flight = 1` with receipts asked for only once a minute: the first route goes out,
/// the next waits (in flight), even though the first is long mined.
#[test]
fn max_in_flight_holds_the_next_route_until_a_receipt_is_seen() {
    let s = setup(
        "risk-inflight",
        "[risk]\nmax_in_flight = 1\n[journal]\nreceipt_poll_ms = 60000\nreceipt_wait_ms = 0",
    );
    let (polyarb, _journal) = start_journaled(&s);
    let first = gap(&s, &polyarb, 1);
    assert!(mined(&s.node.rpc(), &first));
    let n = polyarb.opportunities().len();
    let next = gap(&s, &polyarb, n + 1);
    refused(&next, "risk.max_in_flight");
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
}

/// The kill file: created, the next route is refused (after one poll period); removed, the
/// next one is signed and mined. Both changes are in the log and the journal.
#[test]
fn the_kill_file_stops_sending_at_once_and_removing_it_resumes() {
    let kill = std::env::temp_dir().join(format!("polyarb-kill-{}", std::process::id()));
    let _ = std::fs::remove_file(&kill);
    let s = setup(
        "risk-kill",
        &format!(
            "[risk]\nkill_file = \"{}\"\nkill_poll_ms = 20",
            kill.display()
        ),
    );
    let (polyarb, journal) = start_journaled(&s);
    let rpc = s.node.rpc();
    assert!(mined(&rpc, &gap(&s, &polyarb, 1)));
    std::fs::write(&kill, b"stop").unwrap();
    polyarb.wait_for_log("sending stopped: kill file");
    let n = polyarb.opportunities().len();
    refused(&gap(&s, &polyarb, n + 1), "risk.kill_file");
    std::fs::remove_file(&kill).unwrap();
    polyarb.wait_for_log("sending resumed: kill file");
    let n = polyarb.opportunities().len();
    assert!(mined(&rpc, &gap(&s, &polyarb, n + 1)));
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
    assert!(stdout.contains("sending stopped 1 times"), "{stdout}");
    assert_eq!(
        events(&journal),
        [
            (true, format!("kill file {} created", kill.display())),
            (false, format!("kill file {} removed", kill.display())),
        ]
    );
}

/// `(stopped, reason)` of every risk event in the journal, in order.
fn events(journal: &Path) -> Vec<(bool, String)> {
    let c = Connection::open(journal).unwrap();
    let mut q = c
        .prepare("SELECT stopped, reason FROM risk_events ORDER BY rowid")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The revert breaker: with the executor paused, two routes revert, the breaker trips, and the
/// next route is refused; the owner unpauses, SIGUSR2 resumes, and the next route lands.
/// The daily-loss breaker trips the same way on the gas the reverts cost.
#[test]
fn breakers_stop_sending_after_reverts_and_sigusr2_resumes() {
    for (risk, key) in [
        (
            "[risk]\nmax_consecutive_reverts = 2\nkill_poll_ms = 20",
            "risk.max_consecutive_reverts",
        ),
        (
            "[risk]\nmax_daily_loss = \"0.000000000000000001\"\nkill_poll_ms = 20",
            "risk.max_daily_loss",
        ),
    ] {
        let s = setup(
            "risk-breaker",
            &format!("{risk}\n[journal]\nreceipt_poll_ms = 50"),
        );
        let (polyarb, journal) = start_journaled(&s);
        let rpc = s.node.rpc();
        let executor = s.world.executor.unwrap();
        rpc.transact_call(s.owner, executor, &IExecutor::pauseCall {})
            .unwrap();
        // Gaps until the breaker trips: every route sent meanwhile reverts.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let n = polyarb.opportunities().len();
            let o = gap(&s, &polyarb, n + 1);
            if o.get("tx_hash").is_some() {
                assert!(!mined(&rpc, &o), "a paused executor reverts");
                continue;
            }
            refused(&o, key);
            break;
        }
        assert!(Instant::now() < deadline);
        assert!(
            polyarb.logs().contains("circuit breaker: "),
            "{}",
            polyarb.logs()
        );
        // The operator removes the cause first, then resumes: routes the engine finds again at
        // once would otherwise revert on the paused executor and trip the breaker anew.
        rpc.transact_call(s.owner, executor, &IExecutor::unpauseCall {})
            .unwrap();
        polyarb.signal("USR2");
        polyarb.wait_for_log("sending resumed: SIGUSR2");
        let n = polyarb.opportunities().len();
        let o = gap(&s, &polyarb, n + 1);
        assert!(mined(&rpc, &o), "{key}: after the resume: {o}");
        let logs = polyarb.logs();
        let (ok, stdout) = polyarb.stop();
        assert!(ok, "{stdout}");
        let ev = events(&journal);
        assert!(
            ev.len() == 2 && ev[0].0 && ev[0].1.contains(key) && !ev[1].0 && ev[1].1 == "SIGUSR2",
            "{key}: {ev:?}\n{logs}"
        );
    }
}

/// SIGUSR2 alone: stops at once (the next route is refused), and a second one resumes.
#[test]
fn sigusr2_stops_and_resumes() {
    let s = setup("risk-signal", "[risk]\nkill_poll_ms = 20");
    let polyarb = Polyarb::start(&s.config, s.node.dev_key(1).unwrap(), &s.dir);
    let rpc = s.node.rpc();
    polyarb.signal("USR2");
    polyarb.wait_for_log("sending stopped: SIGUSR2");
    refused(&gap(&s, &polyarb, 1), "SIGUSR2");
    polyarb.signal("USR2");
    polyarb.wait_for_log("sending resumed: SIGUSR2");
    let n = polyarb.opportunities().len();
    assert!(mined(&rpc, &gap(&s, &polyarb, n + 1)));
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
}
