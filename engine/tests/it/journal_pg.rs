//! The journal on PostgreSQL (docs/journal.md, "PostgreSQL"), against a real server each test
//! starts from Debian's packages (`tools/toolchain/install.sh` installs them): the same tables
//! and rows as the SQLite journal of the same replay, the same P&L report, and a server that
//! goes away mid-run (back again, or never).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use polyarb_engine::journal::receipts::{Executed, Receipt, Sent};
use polyarb_engine::journal::{
    Journal, JournalConfig, JournalError, JournalHandle, RunInfo, Target,
};
use polyarb_engine::pipeline::{Report, SignedInfo};
use polyarb_engine::report::Names;
use rusqlite::Connection;

use crate::metrics::free_port;
use crate::replay::{sample, scratch};

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`), the newest installed.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server is not installed: run tools/toolchain/install.sh")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/lib/postgresql/*/bin/initdb: run tools/toolchain/install.sh")
}

/// A throwaway PostgreSQL server on a free loopback port, its data in a scratch folder; stopped
/// (immediately, as a crash would) and removed when dropped.
struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl PgServer {
    fn start(name: &str) -> Self {
        // Under /tmp, not the target folder: the `postgres` user must reach it.
        let dir = std::env::temp_dir().join(format!("polyarb-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let server = Self {
            bin: pg_bin(),
            data,
            port: free_port(),
        };
        // The server refuses to run as root: it runs as the package's `postgres` user then.
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres");
        }
        let out = server
            .cmd("initdb")
            .arg("-D")
            .arg(&server.data)
            .args(["-A", "trust", "-U", "polyarb", "--no-sync", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.up();
        server
    }

    /// `program` from the server's folder, as the `postgres` user when we are root.
    fn cmd(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Starts the server and waits until it takes connections.
    fn up(&self) {
        let out = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.data.display()
            ))
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
        );
    }

    /// Stops it at once, as a crash or a pulled cable would (`-m immediate`: no shutdown
    /// checkpoint, connections cut).
    fn down(&self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    fn url(&self) -> String {
        format!("postgresql://polyarb@127.0.0.1:{}/postgres", self.port)
    }

    fn target(&self) -> Target {
        Target::parse(&self.url()).unwrap()
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.down();
        if let Some(dir) = self.data.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether this process runs as root (the owner of its own `/proc` entry).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Column names of `table`, in order, in the SQLite journal at `path`.
fn sqlite_columns(path: &Path, table: &str) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut s = c
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    s.query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pg_columns(c: &mut postgres::Client, table: &str) -> Vec<String> {
    c.query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Columns whose values are the moment of writing or a measured duration: they differ
/// between two runs by nature.
const TIMING: &[&str] = &["recorded_unix_ms", "detect_ns", "fetched_unix_ms"];

/// Every row of `table` (its columns but the timing ones, in `order`), as text: integers in
/// decimal, flags as 0 or 1, NULL as "NULL".
fn sqlite_rows(path: &Path, table: &str, order: &str) -> Vec<Vec<String>> {
    let cols: Vec<String> = sqlite_columns(path, table)
        .into_iter()
        .filter(|c| !TIMING.contains(&c.as_str()))
        .collect();
    let c = Connection::open(path).unwrap();
    let mut s = c
        .prepare(&format!(
            "SELECT {} FROM {table} ORDER BY {order}",
            cols.join(", ")
        ))
        .unwrap();
    s.query_map([], |r| {
        (0..cols.len())
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                    other => panic!("{table}: unexpected {other:?}"),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn pg_rows(c: &mut postgres::Client, table: &str, order: &str) -> Vec<Vec<String>> {
    use postgres::types::Type;
    let cols: Vec<String> = pg_columns(c, table)
        .into_iter()
        .filter(|c| !TIMING.contains(&c.as_str()))
        .collect();
    c.query(
        &format!("SELECT {} FROM {table} ORDER BY {order}", cols.join(", ")),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (0..cols.len())
            .map(|i| {
                let ty = r.columns()[i].type_();
                if *ty == Type::INT8 {
                    r.get::<_, Option<i64>>(i)
                        .map_or("NULL".into(), |v| v.to_string())
                } else if *ty == Type::BOOL {
                    r.get::<_, Option<bool>>(i)
                        .map_or("NULL".into(), |v| u8::from(v).to_string())
                } else {
                    r.get::<_, Option<String>>(i).unwrap_or("NULL".into())
                }
            })
            .collect()
    })
    .collect()
}

/// The same replay journaled to a SQLite file and to PostgreSQL: the same tables with the same
/// columns in the same order, and every row equal (the SQLite journal's rows are checked
/// against the replay's own reports in journal.rs); receipts written to both give the same
/// `polyarb report`, read by the binary from the URL.
#[test]
fn postgres_holds_the_same_journal_as_sqlite() {
    let server = PgServer::start("same");
    // Four runs starting together on the empty database: the migrations lock lets one create
    // the tables and the others find them there.
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let t = server.target();
            std::thread::spawn(move || Journal::open(&t).map(drop).map_err(|e| e.to_string()))
        })
        .collect();
    for h in opened {
        h.join().unwrap().unwrap();
    }
    let file = scratch("pg-same-sqlite").join("j.db");
    let mut args = crate::placement::sample_args(sample("toml"));
    args.rfc6979 = true;
    args.journal = Some(Target::File(file.clone()));
    let lite = polyarb_engine::app::replay::replay(&args).unwrap();
    args.journal = Some(server.target());
    let pg = polyarb_engine::app::replay::replay(&args).unwrap();
    let stats = pg.journal.as_ref().unwrap();
    assert_eq!(
        (
            stats.rows,
            stats.dropped,
            stats.lost_at_exit,
            stats.failed_commits
        ),
        (pg.reports.len() as u64, 0, 0, 0)
    );
    assert!(pg.reports.len() > 1_000);
    // The summary names the database without a password.
    assert!(
        pg.to_string()
            .contains(&format!("journal {}: ", server.url())),
        "{pg}"
    );
    let mut c = server.client();
    for (table, order) in [
        ("runs", "run_id"),
        ("opportunities", "run_id, seq"),
        ("hops", "run_id, seq, position"),
        ("transactions", "run_id, seq"),
        ("receipts", "run_id, seq"),
        ("risk_events", "run_id, at_unix_ms"),
        ("send_answers", "run_id, n"),
        ("schema_version", "version"),
    ] {
        assert_eq!(
            pg_columns(&mut c, table),
            sqlite_columns(&file, table),
            "{table}"
        );
        if table == "runs" {
            continue; // its times and config differ by nature; checked below
        }
        let (a, b) = (
            sqlite_rows(&file, table, order),
            pg_rows(&mut c, table, order),
        );
        assert_eq!(a.len(), b.len(), "{table}");
        assert_eq!(a, b, "{table}");
    }
    let kinds: Vec<(i64, String, bool)> = c
        .query(
            "SELECT run_id, kind, ended_unix_ms IS NOT NULL FROM runs ORDER BY run_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(kinds, [(1, "replay".to_owned(), true)]);

    // Receipts for the first three sent transactions (one reverted), in both journals.
    let sent: Vec<&Report> = lite
        .reports
        .iter()
        .filter(|r| r.tx.is_some())
        .take(3)
        .collect();
    assert_eq!(sent.len(), 3);
    let rows: Vec<(Sent, Receipt, Option<String>)> = sent
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ok = i != 1;
            (
                Sent {
                    run_id: 1,
                    seq: r.opp.seq,
                    hash: r.tx.unwrap().hash,
                    valuation: (r.opp.profit_native, r.opp.profit),
                },
                Receipt {
                    success: ok,
                    gas_used: 150_000 + i as u64,
                    effective_gas_price: 31_000_000_000,
                    block: 77,
                    index: i as u64,
                    executed: ok.then(|| Executed {
                        token_in: Address::from(r.opp.token_in),
                        amount_in: U256::from(r.opp.amount_in),
                        profit: U256::from(r.opp.profit - 1),
                        premium: U256::ZERO,
                        funding: r.opp.funding,
                    }),
                },
                (!ok).then(|| "IsPaused()".to_owned()),
            )
        })
        .collect();
    for target in [Target::File(file.clone()), server.target()] {
        let mut j = Journal::open(&target).unwrap();
        j.write_receipts(&rows, 1_700_000_000_000).unwrap();
        // Written twice: the newest answer replaces the first.
        j.write_receipts(&rows, 1_700_000_000_001).unwrap();
    }
    assert_eq!(
        sqlite_rows(&file, "receipts", "run_id, seq"),
        pg_rows(&mut c, "receipts", "run_id, seq")
    );
    let report = |journal: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_polyarb"))
            .args(["report", "--journal", journal])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b) = (report(file.to_str().unwrap()), report(&server.url()));
    assert_eq!(
        a.lines().skip(2).collect::<Vec<_>>(),
        b.lines().skip(2).collect::<Vec<_>>(),
        "the report past its header (the journal's name, the run's start)"
    );
    assert!(b.starts_with(&format!("journal {}:", server.url())), "{b}");
    assert!(b.contains("1 reverted"), "{b}");
    assert!(b.contains("IsPaused()"), "{b}");
}

/// A report with sequence number `seq`.
fn report(seq: u64) -> Report {
    let mut opp = polyarb_core::OpportunityFrame::EMPTY;
    opp.seq = seq;
    opp.amount_in = u128::MAX - u128::from(seq);
    Report {
        opp,
        tx: Some(SignedInfo {
            hash: [9; 32],
            nonce: seq,
            len: 110,
        }),
        error: None,
    }
}

/// `seq` of every opportunity of run `run`, in order.
fn seqs(c: &mut postgres::Client, run: i64) -> Vec<i64> {
    c.query(
        "SELECT seq FROM opportunities WHERE run_id = $1 ORDER BY seq",
        &[&run],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The server goes away mid-run and comes back: the commits fail meanwhile, their rows wait,
/// and once it is back they are committed on a new connection, each row once (a commit whose
/// answer was lost is not doubled). Then it goes away for good: the rows written before stay,
/// and what could not be committed is said, not hidden. A server that cannot be reached at the
/// start, or a database that does not exist, stops the start with the journal's name and the
/// server's words.
#[test]
fn a_postgres_server_that_goes_away_loses_nothing_written() {
    let server = PgServer::start("away");
    let cfg = JournalConfig {
        flush_ms: 50,
        ..JournalConfig::default()
    };
    let run = RunInfo {
        kind: "replay",
        chain_id: Some(137),
        config: "pg.toml".into(),
    };
    let j = Journal::open(&server.target()).unwrap();
    let handle = JournalHandle::start(j, &run, Names::default(), &cfg, None).unwrap();
    let run_id = handle.run_id();
    let mut next = 0u64;
    let feed = |next: &mut u64, until: Duration| {
        let end = Instant::now() + until;
        while Instant::now() < end {
            handle.record(&report(*next));
            *next += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    feed(&mut next, Duration::from_millis(500));
    server.down();
    let during = next;
    feed(&mut next, Duration::from_millis(1_500));
    server.up();
    feed(&mut next, Duration::from_millis(800));
    let stats = handle.finish();
    assert!(stats.failed_commits > 0, "{stats}");
    assert!(stats.reconnects >= 1, "{stats}");
    assert_eq!((stats.dropped, stats.lost_at_exit), (0, 0), "{stats}");
    assert_eq!(stats.rows, next, "{stats}");
    assert!(stats.to_string().contains("reconnects"), "{stats}");
    assert!(
        next > during + 200,
        "reports kept coming while the server was away"
    );
    let mut c = server.client();
    assert_eq!(seqs(&mut c, run_id), (0..next as i64).collect::<Vec<_>>());
    let amount: String = c
        .query_one(
            "SELECT amount_in FROM opportunities WHERE run_id = $1 AND seq = $2",
            &[&run_id, &((next - 1) as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(amount, (u128::MAX - u128::from(next - 1)).to_string());
    drop(c);

    // Away for good: what was committed stays; the rest is counted as lost at exit.
    let j = Journal::open(&server.target()).unwrap();
    let handle = JournalHandle::start(j, &run, Names::default(), &cfg, None).unwrap();
    let second = handle.run_id();
    for seq in 0..100 {
        handle.record(&report(seq));
    }
    std::thread::sleep(Duration::from_millis(300));
    server.down();
    for seq in 100..150 {
        handle.record(&report(seq));
    }
    let stats = handle.finish();
    assert_eq!((stats.rows, stats.lost_at_exit), (100, 50), "{stats}");
    let said = stats.to_string();
    assert!(said.contains("50 lost at exit"), "{said}");
    assert!(said.contains("first failure"), "{said}");

    // Unreachable at the start: refused with the journal's name, no password shown.
    let e = Journal::open(&server.target()).unwrap_err();
    assert!(matches!(e, JournalError::Open { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "journal {}: cannot open: error connecting",
            server.url()
        )),
        "{e}"
    );
    server.up();
    assert_eq!(
        seqs(&mut server.client(), second),
        (0..100).collect::<Vec<_>>()
    );
    let secret = format!(
        "postgresql://polyarb:hunter2secret@127.0.0.1:{}/nosuchdb",
        server.port
    );
    let e = Journal::open(&Target::parse(&secret).unwrap()).unwrap_err();
    let said = e.to_string();
    assert!(said.contains("nosuchdb"), "{said}");
    assert!(said.contains("does not exist"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");
}
