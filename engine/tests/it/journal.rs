//! The execution journal (docs/journal.md): what a replay writes, read back with SQLite against
//! what the replay returned; and what a `kill -9` leaves behind, the bound included.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use polyarb_engine::journal::{Journal, JournalConfig, JournalHandle, RunInfo};
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
    args.journal = Some(path.clone());
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
        Journal::open(path).unwrap(),
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
    let mut j = Journal::open(&path).unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["replay", "--speed", "0", "--journal"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
