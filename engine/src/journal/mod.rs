//! The execution journal (docs/journal.md): every opportunity, its route and the transaction
//! signed for it, written off the hot path into an embedded SQLite database or, for a team's
//! analytics, a PostgreSQL one (db.rs).
//!
//! The stages never touch it. Their reports reach the thread that drains the report ring (the
//! run's main thread), which hands each to [`JournalHandle::record`]: a bounded queue that never
//! blocks (a full queue drops the report and counts it). A housekeeping thread writes what it
//! receives in batches, one transaction per batch, at most [`JournalConfig::flush_ms`] after the
//! first row of a batch arrived or as soon as [`JournalConfig::flush_rows`] are waiting. The
//! database runs in WAL mode (SQLite) or is a server (PostgreSQL): a committed batch survives
//! the process being killed (`kill -9`), so such a kill loses at most the batch not yet
//! committed. A batch that fails to commit (a full disk, a read-only file, a PostgreSQL server
//! gone away) is kept and tried again at the next flush, on a new connection where the old one
//! failed, up to
//! [`JournalConfig::max_pending`] rows; past that, new rows are dropped and counted. Nothing
//! committed is touched again.

pub mod db;
pub mod pnl;
pub mod receipts;
pub mod schema;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use crossbeam::channel::{self, RecvTimeoutError, Sender, TrySendError};
use polyarb_core::{Funding, PoolKind};

use db::{Db, Insert, Val};
pub use db::{DbError, Target};
use serde::Deserialize;

use crate::pipeline::Report;
use crate::report::Names;

/// `[journal]`: where and how often the journal is written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The SQLite database file (created if missing). Absent: no journal, unless `url` or the
    /// command line names one (`--journal FILE|URL`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead, by its connection URL
    /// (`postgresql://user[:password]@host[:port]/database`). Env: `POLYARB_JOURNAL_URL` (it may
    /// carry a password). Not with `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// Longest a written row waits before its batch is committed, ms (1 to 60,000): what a
    /// `kill -9` can lose at most, in time.
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u32,
    /// Rows that commit a batch at once (1 to 65,536).
    #[serde(default = "default_flush_rows")]
    pub flush_rows: u32,
    /// Rows a failing database may keep waiting for a retry (1 to 1,048,576), and the most the
    /// queue to the journal thread holds (at most 4,096); past them, new reports are dropped
    /// and counted.
    #[serde(default = "default_max_pending")]
    pub max_pending: u32,
    /// A live run: how often the receipts of sent transactions are asked for, ms (50 to
    /// 60,000).
    #[serde(default = "default_receipt_poll_ms")]
    pub receipt_poll_ms: u32,
    /// A live run: at its end, how long receipts still missing are waited for, ms (0 to
    /// 600,000).
    #[serde(default = "default_receipt_wait_ms")]
    pub receipt_wait_ms: u32,
}

fn default_flush_ms() -> u32 {
    200
}
fn default_flush_rows() -> u32 {
    512
}
fn default_max_pending() -> u32 {
    65_536
}
fn default_receipt_poll_ms() -> u32 {
    1_000
}
fn default_receipt_wait_ms() -> u32 {
    15_000
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            path: None,
            url: None,
            flush_ms: default_flush_ms(),
            flush_rows: default_flush_rows(),
            max_pending: default_max_pending(),
            receipt_poll_ms: default_receipt_poll_ms(),
            receipt_wait_ms: default_receipt_wait_ms(),
        }
    }
}

impl JournalConfig {
    /// Where the journal goes: the command line's `--journal` first, then `url` or `path`.
    pub fn target(&self, cli: Option<&Target>) -> Result<Option<Target>, (&'static str, String)> {
        if let Some(t) = cli {
            return Ok(Some(t.clone()));
        }
        match (&self.path, &self.url) {
            (Some(_), Some(_)) => Err((
                "journal.url",
                "journal.path and journal.url name two journals; set one".into(),
            )),
            (Some(p), None) => Ok(Some(Target::File(p.clone()))),
            (None, Some(u)) => Target::postgres(u)
                .map(Some)
                .map_err(|e| ("journal.url", e)),
            (None, None) => Ok(None),
        }
    }

    /// The first key out of range: its name and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let within = |key: &'static str, v: u32, hi: u32| {
            if (1..=hi).contains(&v) {
                Ok(())
            } else {
                Err((key, format!("{v} is not between 1 and {hi}")))
            }
        };
        within("journal.flush_ms", self.flush_ms, 60_000)?;
        within("journal.flush_rows", self.flush_rows, 65_536)?;
        within("journal.max_pending", self.max_pending, 1_048_576)?;
        if !(50..=60_000).contains(&self.receipt_poll_ms) {
            return Err((
                "journal.receipt_poll_ms",
                format!("{} is not between 50 and 60000", self.receipt_poll_ms),
            ));
        }
        self.target(None)?;
        if self.receipt_wait_ms > 600_000 {
            return Err((
                "journal.receipt_wait_ms",
                format!("{} is more than 600000", self.receipt_wait_ms),
            ));
        }
        Ok(())
    }
}

/// Why the journal could not be opened or started.
#[derive(Debug)]
pub enum JournalError {
    /// The database could not be opened or read (a directory that does not exist, no
    /// permission, not a database, a corrupt one; a PostgreSQL server that cannot be reached or
    /// refuses the login).
    Open {
        /// The file or database.
        target: Target,
        /// The database's words.
        source: DbError,
    },
    /// The journal is one of a newer polyarb (its schema version is above this build's).
    TooNew {
        /// The file or database.
        target: Target,
        /// Its version.
        found: i64,
    },
    /// A migration failed (the journal stays at the version before it).
    Migrate {
        /// The file or database.
        target: Target,
        /// The version it was migrating to.
        to: u32,
        /// The database's words.
        source: DbError,
    },
    /// Recording the run's start failed (a read-only file, a full disk).
    Write {
        /// The file or database.
        target: Target,
        /// The database's words.
        source: DbError,
    },
    /// The journal thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { target, source } => {
                write!(f, "journal {target}: cannot open: {source}")
            }
            Self::TooNew { target, found } => write!(
                f,
                "journal {target}: schema version {found} is newer than this build's {} \
                 (written by a newer polyarb; use that one or another journal)",
                schema::VERSION
            ),
            Self::Migrate { target, to, source } => write!(
                f,
                "journal {target}: migrating to schema version {to} failed: {source}"
            ),
            Self::Write { target, source } => {
                write!(f, "journal {target}: cannot write: {source}")
            }
            Self::Thread(e) => write!(f, "journal: cannot start its thread: {e}"),
        }
    }
}

impl std::error::Error for JournalError {}

/// What a run says of itself in the `runs` table.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// `"replay"` or `"live"`.
    pub kind: &'static str,
    /// The chain, where known.
    pub chain_id: Option<u64>,
    /// The configuration file it ran with.
    pub config: PathBuf,
}

/// `raw` start-token units in native wei at an opportunity's own valuation
/// `(profit_native_wei, profit)` (detection-time prices), floor; `None` without a profit to
/// value by or past `i128`.
pub fn value_wei(raw: u128, (native, profit): (u128, u128)) -> Option<i128> {
    if profit == 0 {
        return None;
    }
    let v = alloy_primitives::U256::from(raw) * alloy_primitives::U256::from(native)
        / alloy_primitives::U256::from(profit);
    i128::try_from(v).ok()
}

/// Milliseconds since the Unix epoch, now (0 before 1970: a clock that wrong is not ours to
/// fix).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bytes of a node's error object a [`SendAnswer`] keeps.
const ANSWER_ERROR: usize = 240;

/// The node's answer to one send, for the `send_answers` table. The live port builds it on its
/// own thread, by value and without allocating, and hands it to the journal thread through a
/// ring; the words are read there.
#[derive(Clone, Copy, Debug)]
pub struct SendAnswer {
    n: u64,
    at_unix_ms: i64,
    account: u8,
    nonce: u64,
    route: Option<u64>,
    kind: u8,
    refusal: crate::submission::Refusal,
    error: [u8; ANSWER_ERROR],
    error_len: u8,
}

impl SendAnswer {
    /// Answer number `n` of the run (from 1), at `at_unix_ms`, to the send of `(account, nonce,
    /// route, kind)`: what it was, and the node's error object (raw JSON; its first 240 bytes
    /// kept) if it was one.
    pub fn new(
        n: u64,
        at_unix_ms: i64,
        (account, nonce, route, kind): (u8, u64, Option<u64>, u8),
        refusal: crate::submission::Refusal,
        error: Option<&[u8]>,
    ) -> Self {
        let mut a = Self {
            n,
            at_unix_ms,
            account,
            nonce,
            route,
            kind,
            refusal,
            error: [0; ANSWER_ERROR],
            error_len: 0,
        };
        if let Some(e) = error {
            let len = e.len().min(ANSWER_ERROR);
            a.error[..len].copy_from_slice(&e[..len]);
            a.error_len = u8::try_from(len).unwrap_or(u8::MAX);
        }
        a
    }

    /// The node's words: the error object's `message`, or the raw text where it is not one
    /// (or was cut); `None` for an acceptance.
    fn words(&self) -> Option<String> {
        let raw = &self.error[..usize::from(self.error_len)];
        if raw.is_empty() {
            return None;
        }
        let parsed: Option<String> = serde_json::from_slice::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
        Some(parsed.unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned()))
    }
}

/// An open journal database at the current schema version.
#[derive(Debug)]
pub struct Journal {
    db: Db,
    target: Target,
}

/// Runs as an integer column (an id, a count, a block): past `i64` reads as `i64::MAX`.
fn int(v: u64) -> Val {
    Val::from(i64::try_from(v).unwrap_or(i64::MAX))
}

/// A 32-byte hash as `0x…` text.
fn hash_text(h: &[u8; 32]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(h))
}

impl Journal {
    /// Opens (creating if missing) the journal at `target` and brings it to the current schema
    /// version. SQLite: WAL mode, `synchronous = NORMAL` (a committed transaction survives the
    /// process being killed; only a power loss may take the newest ones back). PostgreSQL: one
    /// connection, made again after it fails.
    pub fn open(target: &Target) -> Result<Self, JournalError> {
        let db = Db::open(target, false).map_err(|source| JournalError::Open {
            target: target.clone(),
            source,
        })?;
        let mut journal = Self {
            db,
            target: target.clone(),
        };
        journal.migrate()?;
        Ok(journal)
    }

    /// Where it is.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The SQLite connection, if it is a file (for tests and the file's own checks).
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        self.db.sqlite()
    }

    /// The schema version the journal is at.
    pub fn version(&mut self) -> Result<i64, DbError> {
        if !self.db.has_table("schema_version")? {
            return Ok(0);
        }
        let rows = self.db.query("SELECT version FROM schema_version", &[])?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(db::Cell::int)
            .unwrap_or(0))
    }

    fn migrate(&mut self) -> Result<(), JournalError> {
        let target = self.target.clone();
        let open = |source| JournalError::Open {
            target: target.clone(),
            source,
        };
        // Another process may be migrating the same database: read the version under its lock.
        self.db.lock_migrations().map_err(open)?;
        let done = self.migrate_locked();
        self.db.unlock_migrations().map_err(open)?;
        done
    }

    fn migrate_locked(&mut self) -> Result<(), JournalError> {
        let target = self.target.clone();
        let found = self.version().map_err(|source| JournalError::Open {
            target: target.clone(),
            source,
        })?;
        if found > i64::from(schema::VERSION) {
            return Err(JournalError::TooNew { target, found });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let to = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mut statements = if i == 0 {
                format!(
                    "CREATE TABLE schema_version (version INTEGER NOT NULL); \
                     INSERT INTO schema_version (version) VALUES (0); {sql}"
                )
            } else {
                (*sql).to_owned()
            };
            if matches!(self.target, Target::Postgres(_)) {
                statements = schema::postgres(&statements);
            }
            self.db
                .migrate_step(
                    &statements,
                    (
                        "UPDATE schema_version SET version = ?1",
                        &[Val::from(i64::from(to))],
                    ),
                )
                .map_err(|source| JournalError::Migrate {
                    target: target.clone(),
                    to,
                    source,
                })?;
        }
        Ok(())
    }

    /// Records a run's start; its id keys every later row.
    pub fn begin_run(&mut self, info: &RunInfo) -> Result<i64, JournalError> {
        let rows = self
            .db
            .query(
                "INSERT INTO runs (kind, started_unix_ms, chain_id, config, polyarb_version) \
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING run_id",
                &[
                    Val::from(info.kind),
                    Val::from(unix_ms()),
                    Val::from(info.chain_id.and_then(|c| i64::try_from(c).ok())),
                    Val::from(info.config.display().to_string()),
                    Val::from(env!("CARGO_PKG_VERSION")),
                ],
            )
            .map_err(|source| JournalError::Write {
                target: self.target.clone(),
                source,
            })?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(db::Cell::int)
            .unwrap_or(0))
    }

    /// Records a run's end.
    pub fn end_run(&mut self, run_id: i64) -> Result<(), DbError> {
        self.db.execute(
            "UPDATE runs SET ended_unix_ms = ?1 WHERE run_id = ?2",
            &[Val::from(unix_ms()), Val::from(run_id)],
        )?;
        Ok(())
    }

    /// Writes `reports` (each an opportunity, its hops and its transaction or build error) in
    /// one transaction: all of them or none. A row already there is left as it is: a commit
    /// whose answer was lost with its PostgreSQL connection may have landed, and its retry
    /// must not fail on it.
    pub fn write_batch(
        &mut self,
        run_id: i64,
        reports: &[Report],
        answers: &[SendAnswer],
        names: &Names,
    ) -> Result<(), DbError> {
        let now = unix_ms();
        let mut opps = Vec::with_capacity(reports.len() * 16);
        let mut hops = Vec::new();
        let mut sent = Vec::with_capacity(reports.len() * 6);
        for r in reports {
            let o = &r.opp;
            let seq = int(o.seq);
            let token = Address::from(o.token_in);
            opps.extend([
                Val::from(run_id),
                seq.clone(),
                int(o.block_number),
                Val::from(i64::from(o.log_index)),
                Val::from(token.to_checksum(None)),
                Val::from(names.symbol(&token)),
                Val::from(o.amount_in.to_string()),
                Val::from(Funding::from_u8(o.funding).map_or("?", Funding::name)),
                Val::from(o.premium.to_string()),
                Val::from(o.profit.to_string()),
                Val::from(o.profit_native.to_string()),
                Val::from(o.gas_cost_native.to_string()),
                Val::from(o.base_fee.to_string()),
                Val::from(i64::from(o.gas_budget)),
                int(o.detect_ns.saturating_sub(o.recv_ns)),
                Val::from(now),
            ]);
            for (i, h) in o.hops().iter().enumerate() {
                let pool = Address::from(h.pool);
                hops.extend([
                    Val::from(run_id),
                    seq.clone(),
                    int(i as u64),
                    Val::from(pool.to_checksum(None)),
                    Val::from(PoolKind::from_u8(h.kind).map_or("?", PoolKind::name)),
                    Val::from(names.dex(&pool)),
                    Val::from(h.zero_for_one == 1),
                    Val::from(h.amount_out.to_string()),
                    Val::from(i64::from(h.ticks_crossed)),
                ]);
            }
            sent.extend([
                Val::from(run_id),
                seq,
                Val::from(r.tx.map(|t| hash_text(&t.hash))),
                Val::from(r.tx.map(|t| i64::try_from(t.nonce).unwrap_or(i64::MAX))),
                Val::from(r.tx.map(|t| i64::from(t.len))),
                Val::from(r.error.map(|e| e.to_string())),
            ]);
        }
        let mut said = Vec::with_capacity(answers.len() * 9);
        for a in answers {
            said.extend([
                Val::from(run_id),
                int(a.n),
                Val::from(a.at_unix_ms),
                Val::from(i64::from(a.account)),
                int(a.nonce),
                Val::from(a.route.map(|s| i64::try_from(s).unwrap_or(i64::MAX))),
                Val::from(match a.kind {
                    polyarb_core::TX_KIND_ROUTE => "route",
                    polyarb_core::TX_KIND_CANCEL => "cancel",
                    _ => "other",
                }),
                Val::from(a.refusal.label()),
                Val::from(a.words()),
            ]);
        }
        const KEEP: &str = "ON CONFLICT DO NOTHING";
        self.db.insert_all(&[
            Insert {
                into: "send_answers (run_id, n, at_unix_ms, account, nonce, seq, kind, outcome, \
                       error)",
                columns: 9,
                values: said,
                tail: KEEP,
            },
            Insert {
                into: "opportunities (run_id, seq, block, log_index, token_in, symbol, \
                       amount_in, funding, premium, profit, profit_native_wei, \
                       gas_cost_native_wei, base_fee_wei, gas_budget, detect_ns, recorded_unix_ms)",
                columns: 16,
                values: opps,
                tail: KEEP,
            },
            Insert {
                into: "hops (run_id, seq, position, pool, kind, dex, zero_for_one, amount_out, \
                       ticks_crossed)",
                columns: 9,
                values: hops,
                tail: KEEP,
            },
            Insert {
                into: "transactions (run_id, seq, tx_hash, nonce, tx_len, build_error)",
                columns: 6,
                values: sent,
                tail: KEEP,
            },
        ])
    }

    /// Writes receipts in one transaction: `(sent, receipt, revert reason)` each. A receipt
    /// already journaled for the same opportunity is replaced (a reorg may move a transaction;
    /// the newest answer is the node's current word).
    pub fn write_receipts(
        &mut self,
        rows: &[(receipts::Sent, receipts::Receipt, Option<String>)],
        fetched_unix_ms: i64,
    ) -> Result<(), DbError> {
        let mut values = Vec::with_capacity(rows.len() * 13);
        for (sent, r, reason) in rows {
            values.extend([
                Val::from(sent.run_id),
                int(sent.seq),
                Val::from(hash_text(&sent.hash)),
                Val::from(r.success),
                int(r.block),
                int(r.index),
                int(r.gas_used),
                Val::from(r.effective_gas_price.to_string()),
                Val::from(r.gas_cost_wei().to_string()),
                Val::from(r.executed.map(|e| e.profit.to_string())),
                Val::from(r.executed.map(|e| e.premium.to_string())),
                Val::from(reason.clone()),
                Val::from(fetched_unix_ms),
            ]);
        }
        self.db.insert_all(&[Insert {
            into: "receipts (run_id, seq, tx_hash, success, block, tx_index, gas_used, \
                   effective_gas_price_wei, gas_cost_wei, realised_profit, realised_premium, \
                   revert_reason, fetched_unix_ms)",
            columns: 13,
            values,
            tail: "ON CONFLICT (run_id, seq) DO UPDATE SET tx_hash = excluded.tx_hash, \
                   success = excluded.success, block = excluded.block, \
                   tx_index = excluded.tx_index, gas_used = excluded.gas_used, \
                   effective_gas_price_wei = excluded.effective_gas_price_wei, \
                   gas_cost_wei = excluded.gas_cost_wei, \
                   realised_profit = excluded.realised_profit, \
                   realised_premium = excluded.realised_premium, \
                   revert_reason = excluded.revert_reason, \
                   fetched_unix_ms = excluded.fetched_unix_ms",
        }])
    }

    /// Records a stop or resume of sending (committed at once: there are few).
    pub fn write_risk_event(
        &mut self,
        run_id: i64,
        e: &crate::risk::RiskEvent,
    ) -> Result<(), DbError> {
        self.db.execute(
            "INSERT INTO risk_events (run_id, at_unix_ms, stopped, reason) VALUES (?1, ?2, ?3, ?4)",
            &[
                Val::from(run_id),
                Val::from(e.at_unix_ms),
                Val::from(e.stopped),
                Val::from(e.reason.clone()),
            ],
        )?;
        Ok(())
    }

    /// Connections made again after one failed (PostgreSQL).
    pub fn reconnects(&self) -> u64 {
        self.db.reconnects()
    }
}

/// What the journal thread did, for the run's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// The file or database (PostgreSQL's without the password).
    pub target: String,
    /// Opportunities committed (each with its hops and transaction row).
    pub rows: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Commits that failed (their rows were kept and tried again).
    pub failed_commits: u64,
    /// Reports dropped: the queue was full, or a failing database already kept `max_pending`
    /// rows.
    pub dropped: u64,
    /// Rows still uncommitted when the run ended (the database kept failing): lost.
    pub lost_at_exit: u64,
    /// The first failure, in the database's words.
    pub first_error: Option<String>,
    /// Commits failed in a row now (0: the last one took).
    pub failing: u64,
    /// PostgreSQL connections made again after one failed.
    pub reconnects: u64,
    /// The node's answers to sends committed (a live run).
    pub answers: u64,
}

impl fmt::Display for JournalStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal {}: {} opportunities in {} commits, {} failed commits, {} dropped, {} \
             lost at exit",
            self.target,
            self.rows,
            self.batches,
            self.failed_commits,
            self.dropped,
            self.lost_at_exit
        )?;
        if self.answers > 0 {
            write!(f, ", {} send answers", self.answers)?;
        }
        if self.reconnects > 0 {
            write!(f, ", {} reconnects", self.reconnects)?;
        }
        if let Some(e) = &self.first_error {
            write!(f, " (first failure: {e})")?;
        }
        Ok(())
    }
}

/// Reports the queue to the journal thread holds (about 460 bytes each, allocated at start): four
/// seconds of a thousand opportunities a second, which the thread writes far faster.
const QUEUE: usize = 4_096;

/// The running journal thread and the queue to it.
#[derive(Debug)]
pub struct JournalHandle {
    run_id: i64,
    /// Reports by value (handing one over allocates nothing); `None` asks the thread to finish.
    tx: Sender<Option<Report>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<JournalStats>>,
}

impl JournalHandle {
    /// Records the run in `journal` and starts the thread that writes its reports, on CPU
    /// `cpu` if given (the housekeeping CPU: never a hot one).
    pub fn start(
        journal: Journal,
        run: &RunInfo,
        names: Names,
        cfg: &JournalConfig,
        cpu: Option<usize>,
    ) -> Result<Self, JournalError> {
        Self::start_with_answers(journal, run, names, cfg, cpu, None)
    }

    /// As [`JournalHandle::start`], and the thread also writes the node's answers to each
    /// send that arrive on `answers` (the live port's ring), read at least once per
    /// `flush_ms`.
    pub fn start_with_answers(
        mut journal: Journal,
        run: &RunInfo,
        names: Names,
        cfg: &JournalConfig,
        cpu: Option<usize>,
        mut answers: Option<rtrb::Consumer<SendAnswer>>,
    ) -> Result<Self, JournalError> {
        let run_id = journal.begin_run(run)?;
        let (tx, rx) = channel::bounded::<Option<Report>>(QUEUE.min(cfg.max_pending as usize));
        let dropped = Arc::new(AtomicU64::new(0));
        let flush = Duration::from_millis(u64::from(cfg.flush_ms));
        let (rows, max_pending) = (cfg.flush_rows as usize, cfg.max_pending as usize);
        let dropped_in = Arc::clone(&dropped);
        let thread = std::thread::Builder::new()
            .name("polyarb-journal".into())
            .spawn(move || {
                // A failed pin only moves a housekeeping thread; pin_current logs it.
                let _ = crate::placement::pin_current("journal", cpu);
                let mut w = Writer {
                    journal,
                    run_id,
                    names,
                    batch: Vec::with_capacity(rows),
                    answers: Vec::new(),
                    stats: JournalStats::default(),
                    dropped: dropped_in,
                };
                w.stats.target = w.journal.target.to_string();
                let mut due: Option<Instant> = None;
                // With answers to read, the thread looks at their ring once a period at least.
                let idle = if answers.is_some() {
                    flush
                } else {
                    Duration::from_secs(3600)
                };
                loop {
                    let wait = due.map_or(idle, |d| {
                        d.saturating_duration_since(Instant::now()).min(idle)
                    });
                    let got = rx.recv_timeout(wait);
                    if let Some(ring) = answers.as_mut() {
                        while let Ok(a) = ring.pop() {
                            if w.answers.len() >= max_pending {
                                w.dropped.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            w.answers.push(a);
                        }
                        if !w.answers.is_empty() && due.is_none() {
                            due = Some(Instant::now() + flush);
                        }
                    }
                    match got {
                        Ok(Some(r)) => {
                            if w.batch.len() >= max_pending {
                                w.dropped.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            w.batch.push(r);
                            let now = Instant::now();
                            let at = *due.get_or_insert(now + flush);
                            // A steady stream never lets `recv_timeout` time out: the period is
                            // checked here too.
                            // A failing database is retried once a period, not per report.
                            if now >= at || (w.batch.len() >= rows && w.stats.failing == 0) {
                                due = (!w.flush()).then(|| now + flush);
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            // Committed: nothing waits. Failed: try again one period later.
                            if due.is_some_and(|d| Instant::now() >= d) {
                                due = (!w.flush()).then(|| Instant::now() + flush);
                            }
                        }
                        Ok(None) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                // The port has stopped by now: its last answers are in the ring.
                if let Some(ring) = answers.as_mut() {
                    while let Ok(a) = ring.pop() {
                        w.answers.push(a);
                    }
                }
                w.flush();
                w.stats.lost_at_exit = (w.batch.len() + w.answers.len()) as u64;
                if let Err(e) = w.journal.end_run(w.run_id) {
                    w.stats.first_error.get_or_insert_with(|| e.to_string());
                }
                w.stats.dropped = w.dropped.load(Ordering::Relaxed);
                w.stats.reconnects = w.journal.reconnects();
                w.stats
            })
            .map_err(JournalError::Thread)?;
        Ok(Self {
            run_id,
            tx,
            dropped,
            thread: Some(thread),
        })
    }

    /// The run's id in the journal.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Hands one report to the journal thread. Never blocks: a full queue drops it (counted).
    pub fn record(&self, r: &Report) {
        match self.tx.try_send(Some(*r)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Commits what is waiting, records the run's end and stops the thread.
    pub fn finish(mut self) -> JournalStats {
        let _ = self.tx.send(None);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(stats)) => stats,
            _ => JournalStats {
                first_error: Some("the journal thread panicked".into()),
                dropped: self.dropped.load(Ordering::Relaxed),
                ..JournalStats::default()
            },
        }
    }
}

/// The journal thread's state.
struct Writer {
    journal: Journal,
    run_id: i64,
    names: Names,
    batch: Vec<Report>,
    /// The node's answers to sends, waiting with `batch`.
    answers: Vec<SendAnswer>,
    stats: JournalStats,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    /// Commits the waiting batch; `true` if nothing is left waiting.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() && self.answers.is_empty() {
            return true;
        }
        match self
            .journal
            .write_batch(self.run_id, &self.batch, &self.answers, &self.names)
        {
            Ok(()) => {
                self.stats.rows += self.batch.len() as u64;
                self.stats.answers += self.answers.len() as u64;
                self.answers.clear();
                self.stats.batches += 1;
                if self.stats.failing > 0 {
                    tracing::info!(
                        "journal {}: committing again after {} failed commits; the {} rows \
                         kept are in",
                        self.stats.target,
                        self.stats.failing,
                        self.batch.len()
                    );
                }
                self.stats.failing = 0;
                let last = self.batch.last().map_or(0, |r| r.opp.seq);
                tracing::debug!(
                    rows = self.batch.len(),
                    through_seq = last,
                    "journal: committed"
                );
                self.batch.clear();
                true
            }
            Err(e) => {
                self.stats.failed_commits += 1;
                self.stats.failing += 1;
                // The first failure and then one in a thousand, not one per flush.
                if self.stats.failed_commits % 1000 == 1 {
                    tracing::warn!(
                        "journal {}: commit failed ({} so far), {} rows kept for a retry: {e}",
                        self.stats.target,
                        self.stats.failed_commits,
                        self.batch.len()
                    );
                }
                self.stats.first_error.get_or_insert_with(|| e.to_string());
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::Path;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("polyarb-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.db")
    }

    fn file(path: &Path) -> Target {
        Target::File(path.to_owned())
    }

    fn tables(path: &Path) -> Vec<String> {
        let c = Connection::open(path).unwrap();
        let mut s = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_new_journal_is_at_the_current_version_and_reopening_keeps_it() {
        let path = scratch("new");
        let mut j = Journal::open(&file(&path)).unwrap();
        assert_eq!(j.version().unwrap(), i64::from(schema::VERSION));
        drop(j);
        assert_eq!(
            tables(&path),
            [
                "hops",
                "opportunities",
                "receipts",
                "risk_events",
                "runs",
                "schema_version",
                "send_answers",
                "transactions"
            ]
        );
        // Reopening applies nothing twice (a second CREATE TABLE would fail) and keeps rows.
        let mut j = Journal::open(&file(&path)).unwrap();
        let run = RunInfo {
            kind: "replay",
            chain_id: Some(137),
            config: "x.toml".into(),
        };
        assert_eq!(j.begin_run(&run).unwrap(), 1);
        drop(j);
        let mut j = Journal::open(&file(&path)).unwrap();
        assert_eq!(j.begin_run(&run).unwrap(), 2);
        let mode: String = j
            .sqlite()
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// A journal written at version 1 (by the migration list's first entry alone, as the first
    /// build with a journal wrote it) opens at the current version with its rows kept.
    #[test]
    fn an_older_journal_is_migrated_and_keeps_its_rows() {
        let path = scratch("older");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL); \
                 INSERT INTO schema_version (version) VALUES (1);",
            )
            .unwrap();
            c.execute_batch(schema::MIGRATIONS[0]).unwrap();
            c.execute(
                "INSERT INTO runs (kind, started_unix_ms, config, polyarb_version) \
                 VALUES ('live', 5, 'old.toml', '0.0.9')",
                [],
            )
            .unwrap();
        }
        assert!(!tables(&path).contains(&"receipts".to_owned()));
        let mut j = Journal::open(&file(&path)).unwrap();
        assert_eq!(j.version().unwrap(), i64::from(schema::VERSION));
        assert!(tables(&path).contains(&"receipts".to_owned()));
        let old: String = j
            .sqlite()
            .unwrap()
            .query_row("SELECT config FROM runs WHERE run_id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old, "old.toml");
    }

    #[test]
    fn a_newer_corrupt_or_unwritable_journal_is_refused_with_its_name() {
        // A newer polyarb's journal: never written.
        let path = scratch("newer");
        drop(Journal::open(&file(&path)).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        let e = Journal::open(&file(&path)).unwrap_err();
        assert!(matches!(e, JournalError::TooNew { found: 99, .. }), "{e:?}");
        assert!(e.to_string().contains("schema version 99 is newer"), "{e}");
        // Not a database.
        let path = scratch("garbage");
        std::fs::write(&path, vec![0x5au8; 8192]).unwrap();
        let e = Journal::open(&file(&path)).unwrap_err();
        assert!(matches!(e, JournalError::Open { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("journal {}: cannot open:", path.display())),
            "{e}"
        );
        // A folder that does not exist.
        let path = scratch("missing")
            .with_file_name("no-such-dir")
            .join("j.db");
        let e = Journal::open(&file(&path)).unwrap_err();
        assert!(matches!(e, JournalError::Open { .. }), "{e:?}");
        // A read-only file system (procfs refuses to create files, even for root).
        let path = Path::new("/proc/polyarb-journal.db");
        let e = Journal::open(&file(path)).unwrap_err();
        assert!(matches!(e, JournalError::Open { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("journal /proc/polyarb-journal.db: cannot open:"),
            "{e}"
        );
    }

    /// A report with sequence number `seq` and a transaction.
    fn report(seq: u64) -> Report {
        let mut opp = polyarb_core::OpportunityFrame::EMPTY;
        opp.seq = seq;
        opp.amount_in = u128::MAX - u128::from(seq);
        opp.block_number = 7;
        Report {
            opp,
            tx: Some(crate::pipeline::SignedInfo {
                hash: [seq as u8; 32],
                nonce: seq,
                len: 120,
            }),
            error: None,
        }
    }

    /// A full database (SQLite's `SQLITE_FULL`, as a full disk gives; here from a page cap):
    /// the commit fails, is counted, and its rows wait; once there is room, the retry commits
    /// them all in order, and nothing committed before was touched.
    #[test]
    fn a_full_database_keeps_the_batch_and_the_retry_loses_nothing() {
        let path = scratch("full");
        let mut journal = Journal::open(&file(&path)).unwrap();
        let run_id = journal
            .begin_run(&RunInfo {
                kind: "replay",
                chain_id: None,
                config: "x.toml".into(),
            })
            .unwrap();
        let mut w = Writer {
            journal,
            run_id,
            names: Names::default(),
            batch: (0..10).map(report).collect(),
            answers: Vec::new(),
            stats: JournalStats::default(),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        assert!(w.flush());
        let pages: i64 = w
            .journal
            .sqlite()
            .unwrap()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        w.journal
            .sqlite()
            .unwrap()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        w.batch.extend((10..2_000).map(report));
        assert!(!w.flush(), "a full database refuses the commit");
        assert!(!w.flush(), "and again");
        assert_eq!(w.stats.failed_commits, 2);
        assert!(
            w.stats
                .first_error
                .as_deref()
                .is_some_and(|e| e.contains("full")),
            "{:?}",
            w.stats.first_error
        );
        assert_eq!(w.batch.len(), 1_990, "the rows wait for a retry");
        w.journal
            .sqlite()
            .unwrap()
            .pragma_update(None, "max_page_count", 1_000_000)
            .unwrap();
        assert!(w.flush());
        assert_eq!((w.stats.rows, w.batch.len()), (2_000, 0));
        let c = Connection::open(&path).unwrap();
        let seqs: Vec<i64> = c
            .prepare("SELECT seq FROM opportunities ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seqs, (0..2_000).collect::<Vec<i64>>());
        let amount: String = c
            .query_row(
                "SELECT amount_in FROM opportunities WHERE seq = 1999",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(amount, (u128::MAX - 1_999).to_string());
    }

    #[test]
    fn a_send_answer_keeps_the_nodes_words() {
        use crate::submission::Refusal;
        let refused = br#"{"code":-32003,"message":"insufficient funds for gas * price + value"}"#;
        let a = SendAnswer::new(1, 5, (0, 7, Some(3), 0), Refusal::Refused, Some(refused));
        assert_eq!(
            a.words().as_deref(),
            Some("insufficient funds for gas * price + value")
        );
        // Not an object with a message, or cut at 240 bytes: the raw text.
        let long = format!(r#"{{"code":1,"message":"{}"}}"#, "x".repeat(300));
        let a = SendAnswer::new(
            2,
            5,
            (0, 7, None, 1),
            Refusal::Refused,
            Some(long.as_bytes()),
        );
        assert_eq!(a.words().unwrap(), long[..240]);
        let a = SendAnswer::new(3, 5, (0, 7, None, 1), Refusal::Refused, Some(b"oops"));
        assert_eq!(a.words().as_deref(), Some("oops"));
        let a = SendAnswer::new(4, 5, (0, 8, Some(4), 0), Refusal::Known, None);
        assert_eq!(a.words(), None);
    }

    #[test]
    fn config_ranges_are_named() {
        assert_eq!(JournalConfig::default().check(), Ok(()));
        for (cfg, key) in [
            (
                JournalConfig {
                    flush_ms: 0,
                    ..JournalConfig::default()
                },
                "journal.flush_ms",
            ),
            (
                JournalConfig {
                    flush_rows: 70_000,
                    ..JournalConfig::default()
                },
                "journal.flush_rows",
            ),
            (
                JournalConfig {
                    max_pending: 0,
                    ..JournalConfig::default()
                },
                "journal.max_pending",
            ),
        ] {
            assert_eq!(cfg.check().unwrap_err().0, key);
        }
    }
}
