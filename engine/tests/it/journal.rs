//! The execution journal (docs/journal.md): what a replay writes, read back with SQLite against
//! what the replay returned; and what a `kill -9` leaves behind, the bound included.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polyarb_engine::journal::{Journal, JournalConfig, JournalHandle, RunInfo, Target};
use polyarb_engine::pipeline::{Report, SignedInfo};
use polyarb_engine::report::Names;
use rusqlite::Connection;

use crate::replay::{sample, scratch};

/// `(seq, amount_in, profit, tx_hash)` of each opportunity of run `run_id`, in order.
fn rows(path: &Path, run_id: i64) -> Vec<(i64, String, String, Option<String>)> {
    let c = Connection::open(path).unwrap();
    let mut s = c
        .prepare(
            "SELECT o.seq, o.amount_in, o.profit, t.tx_hash FROM opportunities o \
             JOIN transactions t USING (run_id, seq) WHERE o.run_id = ?1 ORDER BY o.seq",
        )
        .unwrap();
    s.query_map([run_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// `polyarb ARGS FILE`, which must succeed; its standard output.
fn polyarb_ok(args: &[&str], file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "polyarb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(run_id, kind, ended)` of every run.
fn runs(path: &Path) -> Vec<(i64, String, bool)> {
    let c = Connection::open(path).unwrap();
    let mut s = c
        .prepare("SELECT run_id, kind, ended_unix_ms IS NOT NULL FROM runs ORDER BY run_id")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every opportunity of the sample replay is in the journal with the amounts and transaction
/// the replay returned (the oracle: the run's own reports), its hops too; a second replay into
/// the same file adds a second run with the same rows.
#[test]
fn a_replay_journals_every_opportunity_it_found() {
    let path = scratch("journal-replay").join("j.db");
    let mut args = crate::placement::sample_args(sample("toml"));
    args.journal = Some(Target::File(path.clone()));
    args.rfc6979 = true;
    let s = polyarb_engine::app::replay::replay(&args).unwrap();
    let j = s.journal.as_ref().expect("journal stats");
    assert_eq!(
        (j.rows, j.dropped, j.lost_at_exit, j.failed_commits),
        (s.reports.len() as u64, 0, 0, 0)
    );
    assert!(s.to_string().contains(&format!(
        "journal {}: {} opportunities in",
        path.display(),
        s.reports.len()
    )));
    let expected: Vec<_> = s
        .reports
        .iter()
        .map(|r| {
            (
                r.opp.seq as i64,
                r.opp.amount_in.to_string(),
                r.opp.profit.to_string(),
                r.tx.map(|t| format!("0x{}", alloy_primitives::hex::encode(t.hash))),
            )
        })
        .collect();
    assert!(expected.len() > 1_000);
    assert_eq!(rows(&path, 1), expected);
    let c = Connection::open(&path).unwrap();
    let hops: i64 = c
        .query_row("SELECT count(*) FROM hops WHERE run_id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let want: usize = s.reports.iter().map(|r| r.opp.hops().len()).sum();
    assert_eq!(hops as usize, want);
    // A second run appends; RFC 6979 signing makes it identical.
    let again = polyarb_engine::app::replay::replay(&args).unwrap();
    assert_eq!(again.journal.unwrap().rows, expected.len() as u64);
    assert_eq!(rows(&path, 2), expected);
    assert_eq!(
        runs(&path),
        [
            (1, "replay".to_owned(), true),
            (2, "replay".to_owned(), true)
        ]
    );
}

/// Set in the child of the kill test: the journal file it writes.
const CHILD_ENV: &str = "POLYARB_JOURNAL_KILL_CHILD";
/// The child's flush period, ms: the bound under test.
const FLUSH_MS: u32 = 100;

/// A report with sequence number `seq`.
fn report(seq: u64) -> Report {
    let mut opp = polyarb_core::OpportunityFrame::EMPTY;
    opp.seq = seq;
    opp.amount_in = 1_000_000 + u128::from(seq);
    Report {
        opp,
        tx: Some(SignedInfo {
            hash: [7; 32],
            nonce: seq,
            len: 100,
        }),
        error: None,
    }
}

/// The child: hands the journal a report every millisecond and says so on stdout after each,
/// until it is killed.
fn child(path: &Path) {
    let cfg = JournalConfig {
        flush_ms: FLUSH_MS,
        ..JournalConfig::default()
    };
    let run = RunInfo {
        kind: "replay",
        chain_id: None,
        config: "kill-test".into(),
    };
    let h = JournalHandle::start(
        Journal::open(&Target::File(path.to_owned())).unwrap(),
        &run,
        Names::default(),
        &cfg,
        None,
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    for seq in 0..u64::MAX {
        h.record(&report(seq));
        writeln!(out, "{seq}").unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `kill -9` mid-run: every report handed to the journal more than one flush period (plus a
/// margin for a loaded machine) before the kill is in the file; what is there is a gap-free
/// prefix of what was handed over, with its amounts; the run stays open (no end time); and the
/// file opens and takes a new run afterwards.
#[test]
fn a_kill_loses_at_most_the_last_flush_period() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(Path::new(&path));
        return;
    }
    let path = scratch("journal-kill").join("j.db");
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "journal::a_kill_loses_at_most_the_last_flush_period",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    // (seq, when the parent read that the child had handed it over).
    let mut handed: Vec<(i64, Instant)> = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_500) {
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        if let Ok(seq) = line.trim().parse::<i64>() {
            handed.push((seq, Instant::now()));
        }
    }
    c.kill().unwrap();
    let killed = Instant::now();
    c.wait().unwrap();
    assert!(
        handed.len() > 200,
        "the child handed over only {}",
        handed.len()
    );
    let margin = Duration::from_millis(u64::from(FLUSH_MS) + 400);
    let must: i64 = handed
        .iter()
        .filter(|(_, at)| killed.duration_since(*at) > margin)
        .map(|&(s, _)| s)
        .max()
        .expect("reports older than the bound");
    let got = rows(&path, 1);
    let seqs: Vec<i64> = got.iter().map(|r| r.0).collect();
    assert_eq!(
        seqs,
        (0..seqs.len() as i64).collect::<Vec<_>>(),
        "a gap-free prefix"
    );
    assert!(
        seqs.len() as i64 > must,
        "reports handed over {margin:?} before the kill are missing: have {} rows, must have \
         through seq {must}",
        seqs.len()
    );
    let last_handed = handed.last().unwrap().0;
    assert!(
        seqs.len() as i64 <= last_handed + 2,
        "rows nobody handed over"
    );
    assert!(
        got.iter()
            .all(|(s, amount, _, _)| *amount == (1_000_000 + s).to_string()),
        "amounts"
    );
    assert_eq!(runs(&path), [(1, "replay".to_owned(), false)]);
    // The killed file opens and takes the next run.
    let mut j = Journal::open(&Target::File(path.clone())).unwrap();
    let run = RunInfo {
        kind: "replay",
        chain_id: None,
        config: "after".into(),
    };
    assert_eq!(j.begin_run(&run).unwrap(), 2);
}

/// The binary: `polyarb replay --journal` killed mid-run leaves a file whose committed rows (as
/// the journal's own debug log said, before the kill) are all there, and a second replay into
/// the same file completes and adds its run.
#[test]
fn the_binary_killed_mid_replay_leaves_a_usable_journal() {
    let path = scratch("journal-binary").join("j.db");
    let mut c = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["replay", "--speed", "1", "--journal"])
        .arg(&path)
        .env("RUST_LOG", "polyarb_engine::journal=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut committed_through = None;
    let mut commits = 0;
    for line in BufReader::new(c.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("through_seq=").nth(1) {
            let seq: i64 = rest.split_whitespace().next().unwrap().parse().unwrap();
            committed_through = Some(seq);
            commits += 1;
            if commits == 3 {
                break;
            }
        }
    }
    c.kill().unwrap();
    c.wait().unwrap();
    let through = committed_through.expect("the journal logged its commits");
    let got = rows(&path, 1);
    assert!(
        got.len() as i64 > through,
        "committed through seq {through}, found {}",
        got.len()
    );
    assert_eq!(runs(&path), [(1, "replay".to_owned(), false)]);
    polyarb_ok(&["replay", "--speed", "0", "--journal"], &path);
    assert_eq!(
        runs(&path),
        [
            (1, "replay".to_owned(), false),
            (2, "replay".to_owned(), true)
        ]
    );
    assert_eq!(rows(&path, 1), got, "the killed run's rows are untouched");
    assert!(rows(&path, 2).len() > 1_000);
}

/// A hex quantity of a raw node answer.
fn q(v: &serde_json::Value, name: &str) -> u128 {
    let s = v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// On anvil, a live run with `--journal`: two routes mined and one forced to revert (the owner
/// pauses the executor before the second gap). Every sent transaction has a receipt row equal
/// to what the node's own `eth_getTransactionReceipt` says (status, block, position, gas used,
/// effective gas price, their product); each mined route's realised profit is what the
/// executor's balance gained over its block and what polyarb predicted; the reverted one is
/// named `IsPaused()`, and its receipt ended its pools' holds at once.
#[test]
fn a_live_run_journals_receipts_as_the_node_shows_them() {
    use crate::e2e::{
        Polyarb, gain_in_block, one_route_per_update, open_gap, small_world_with, temp_dir,
        write_config,
    };
    use alloy_primitives::{Address, B256, U256};
    use polyarb_tools::abi::IExecutor;
    use polyarb_tools::{Anvil, AnvilOpts, Toolchain};

    let tc = Toolchain::locate();
    let node = Anvil::start(AnvilOpts::default()).expect("start anvil");
    let rpc = node.rpc();
    let accounts = node.accounts();
    // The owner is an account of its own, so its pause and unpause take none of the sender's
    // nonces.
    let owner = accounts[3];
    let world = small_world_with(&node, &tc, |spec| {
        if let Some(e) = spec.executor.as_mut() {
            e.owner = owner;
        }
    });
    let executor = world.executor.unwrap();
    rpc.transact_call(
        owner,
        executor,
        &IExecutor::setExecutorCall {
            account: accounts[1],
            allowed: true,
        },
    )
    .unwrap();
    let dir = temp_dir("journal-live");
    let config = write_config(&node, &world, &dir);
    one_route_per_update(&config);
    // Receipts asked for every 50 ms: the paused route's revert reaches the engine well within
    // the half second `settle` waits, before the next phase's logs.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[journal]\nreceipt_poll_ms = 50\n");
    std::fs::write(&config, text).unwrap();
    let journal = dir.join("journal.db");
    let polyarb = Polyarb::start_with(
        &config,
        node.dev_key(1).unwrap(),
        &dir,
        &["--journal".as_ref(), journal.as_os_str()],
    );
    let trader = accounts[2];
    // Waits until every opportunity so far has its transaction mined and none new came for
    // half a second; returns how many there are. Each phase's routes (and the follow-ups their
    // own swaps open) are then settled before the next phase changes the executor.
    let settle = || -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut n = usize::MAX;
        loop {
            let opps = polyarb.opportunities();
            for o in &opps {
                let hash: B256 = o["tx_hash"].as_str().unwrap().parse().unwrap();
                while rpc.receipt(hash).unwrap().is_none() {
                    assert!(Instant::now() < deadline, "{hash} never mined");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if opps.len() == n {
                return n;
            }
            n = opps.len();
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    open_gap(&rpc, &world, trader, 300);
    polyarb.wait_for_opportunities(1);
    let n1 = settle();
    rpc.transact_call(owner, executor, &IExecutor::pauseCall {})
        .unwrap();
    open_gap(&rpc, &world, trader, 300);
    polyarb.wait_for_opportunities(n1 + 1);
    let n2 = settle();
    rpc.transact_call(owner, executor, &IExecutor::unpauseCall {})
        .unwrap();
    open_gap(&rpc, &world, trader, 300);
    polyarb.wait_for_opportunities(n2 + 1);
    settle();
    polyarb.wait_for_log("node accepted transaction");
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(
            "reverted), 0 never to be mined (refused or replaced), 0 without a receipt at exit"
        ),
        "{stdout}"
    );

    let c = Connection::open(&journal).unwrap();
    let mut s = c
        .prepare(
            "SELECT o.seq, t.tx_hash, o.token_in, o.profit, r.success, r.block, r.tx_index, r.gas_used, \
             r.effective_gas_price_wei, r.gas_cost_wei, r.realised_profit, r.revert_reason \
             FROM transactions t JOIN opportunities o USING (run_id, seq) \
             LEFT JOIN receipts r USING (run_id, seq) WHERE t.tx_hash IS NOT NULL ORDER BY seq",
        )
        .unwrap();
    type Row = (
        i64,
        String,
        String,
        String,
        Option<bool>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = s
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(rows.len() >= 3, "{rows:?}");
    // The node accepted every route it mined (each has a receipt below): the journal holds an
    // `accepted` answer for each, with its route and nonce, and no other answer.
    let pairs = |sql: &str| -> std::collections::BTreeSet<(i64, i64)> {
        c.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let sent = pairs("SELECT seq, nonce FROM transactions WHERE tx_hash IS NOT NULL");
    assert_eq!(sent.len(), rows.len());
    assert_eq!(
        pairs(
            "SELECT seq, nonce FROM send_answers \
             WHERE outcome = 'accepted' AND kind = 'route' AND error IS NULL"
        ),
        sent
    );
    assert_eq!(
        pairs("SELECT seq, nonce FROM send_answers WHERE outcome != 'accepted'"),
        Default::default()
    );
    let (mut mined, mut reverted, mut paused_reverts) = (0, 0, 0);
    let mut realised_in: std::collections::BTreeMap<(u64, Address), u128> = Default::default();
    // Independent sums for the P&L report: the node's gas, the executor's balance gains.
    let (mut gas_wei, mut gained_wei) = (0i128, 0i128);
    for row in &rows {
        let (seq, hash, token, predicted, success, block, index, gas, price, cost, profit, reason) =
            row.clone();
        let node_receipt: serde_json::Value = rpc
            .call("eth_getTransactionReceipt", serde_json::json!([hash]))
            .unwrap();
        let success = success.unwrap_or_else(|| panic!("no receipt row for {hash}"));
        assert_eq!(success, q(&node_receipt, "status") == 1, "{hash}");
        assert_eq!(block.unwrap() as u128, q(&node_receipt, "blockNumber"));
        assert_eq!(index.unwrap() as u128, q(&node_receipt, "transactionIndex"));
        assert_eq!(gas.unwrap() as u128, q(&node_receipt, "gasUsed"));
        let p = q(&node_receipt, "effectiveGasPrice");
        gas_wei += (p * q(&node_receipt, "gasUsed")) as i128;
        assert_eq!(price.unwrap(), p.to_string());
        assert_eq!(cost.unwrap(), (p * gas.unwrap() as u128).to_string());
        let paused = (n1 as i64..n2 as i64).contains(&seq);
        assert!(
            !(paused && success),
            "{hash} landed while the executor was paused"
        );
        if success {
            mined += 1;
            let token: Address = token.parse().unwrap();
            // Two routes may share a block: their profits are summed per (block, token).
            *realised_in
                .entry((block.unwrap() as u64, token))
                .or_insert(0u128) += profit.clone().unwrap().parse::<u128>().unwrap();
            assert_eq!(profit.unwrap(), predicted, "{hash}");
            assert_eq!(reason, None);
        } else {
            reverted += 1;
            assert_eq!(profit, None);
            if paused {
                paused_reverts += 1;
                assert_eq!(reason.as_deref(), Some("IsPaused()"), "{hash}");
            } else {
                // A route outside the paused phase may still meet a state another moved; it
                // must say why.
                assert!(reason.is_some(), "{hash}");
            }
        }
    }
    // The executor's balance gain over each block (only polyarb's routes move it) is what the
    // journal says its routes realised there; the start token is the native one here, so the
    // sum is also the realised value.
    for (&(block, token), &realised) in &realised_in {
        let gained = gain_in_block(&rpc, token, executor, block);
        assert_eq!(U256::from(realised), gained, "block {block}");
        gained_wei += i128::try_from(gained).unwrap();
    }
    assert!(
        mined >= 2 && paused_reverts >= 1,
        "{mined} mined, {paused_reverts} reverted while paused"
    );
    // Each reverted receipt ended its route's holds at once (the receipt thread's word to the
    // engine): the summary counts holds released so.
    let released = stdout
        .split(" released as it reverted")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no reverted-holds count in {stdout}"));
    // (Holds a later block's log released first are not counted again.)
    assert!(released >= 1, "{stdout}");
    // And no route outside the pause reverted: each follow-up was priced on the state the
    // routes still pending would leave (a hold stacked on a pending route outlives that
    // route's own log), so none met a state it did not expect.
    assert_eq!(
        reverted, paused_reverts,
        "reverts outside the pause: {rows:?}"
    );

    // `polyarb report` on that journal says the same, to the wei.
    let text = polyarb_ok(&["report", "--journal"], &journal);
    for want in [
        format!(
            "transactions: {} signed, {mined} succeeded, {reverted} reverted, 0 without a receipt",
            rows.len()
        ),
        format!("POL spent ({gas_wei} wei)"),
        format!("({} wei net)", gained_wei - gas_wei),
        format!(
            "prediction: {mined} of {mined} succeeded routes paid exactly the predicted profit"
        ),
        format!("{paused_reverts:>6}  IsPaused()"),
        "by funding:".to_owned(),
        "uniswap-v2 → uniswap-v2".to_owned(),
    ] {
        assert!(text.contains(&want), "report lacks {want:?}:\n{text}");
    }
}

/// Load: the sample replayed six times at full speed into one journal, 11,514 opportunities,
/// over 10,000: every report of every run is a committed row, none dropped or lost. (What the
/// journal costs the hot path is measured, not asserted: `polyarb-report`'s "fused,
/// journaled" series against "fused", same run.)
#[test]
fn ten_thousand_opportunities_at_full_speed_lose_no_row() {
    let path = scratch("journal-load").join("j.db");
    let mut args = crate::placement::sample_args(sample("toml"));
    args.journal = Some(Target::File(path.clone()));
    let mut total = 0u64;
    for run in 1..=6i64 {
        let s = polyarb_engine::app::replay::replay(&args).unwrap();
        let j = s.journal.unwrap();
        assert_eq!(
            (j.rows, j.dropped, j.lost_at_exit, j.failed_commits),
            (s.reports.len() as u64, 0, 0, 0),
            "run {run}"
        );
        assert_eq!(rows(&path, run).len(), s.reports.len(), "run {run}");
        total += j.rows;
    }
    assert!(total >= 10_000, "{total}");
}
