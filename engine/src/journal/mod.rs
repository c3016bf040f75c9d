//! The execution journal (docs/journal.md): every opportunity, its route and the transaction
//! signed for it, written off the hot path into an embedded SQLite database.
//!
//! The stages never touch it. Their reports reach the thread that drains the report ring (the
//! run's main thread), which hands each to [`JournalHandle::record`]: a bounded queue that never
//! blocks (a full queue drops the report and counts it). A housekeeping thread writes what it
//! receives in batches, one transaction per batch, at most [`JournalConfig::flush_ms`] after the
//! first row of a batch arrived or as soon as [`JournalConfig::flush_rows`] are waiting. The
//! database runs in WAL mode: a committed batch survives the process being killed (`kill -9`),
//! so such a kill loses at most the batch not yet committed. A batch that fails to commit (a
//! full disk, a read-only file) is kept and tried again at the next flush, up to
//! [`JournalConfig::max_pending`] rows; past that, new rows are dropped and counted. Nothing
//! committed is touched again.

pub mod pnl;
pub mod receipts;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use crossbeam::channel::{self, RecvTimeoutError, Sender, TrySendError};
use polyarb_core::{Funding, PoolKind};
use rusqlite::{Connection, OpenFlags, params};
use serde::Deserialize;

use crate::pipeline::Report;
use crate::report::Names;

/// `[journal]`: where and how often the journal is written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The SQLite database file (created if missing). Absent: no journal, unless the command
    /// line names one (`--journal FILE`).
    #[serde(default)]
    pub path: Option<PathBuf>,
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
            flush_ms: default_flush_ms(),
            flush_rows: default_flush_rows(),
            max_pending: default_max_pending(),
            receipt_poll_ms: default_receipt_poll_ms(),
            receipt_wait_ms: default_receipt_wait_ms(),
        }
    }
}

impl JournalConfig {
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
    /// SQLite could not open or read the file (a directory that does not exist, no permission,
    /// not a database, a corrupt one).
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// The file is a journal of a newer polyarb (its schema version is above this build's).
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// A migration failed (the journal stays at the version before it).
    Migrate {
        /// The file.
        path: PathBuf,
        /// The version it was migrating to.
        to: u32,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// Recording the run's start failed (a read-only file, a full disk).
    Write {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// The journal thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, source } => {
                write!(f, "journal {}: cannot open: {source}", path.display())
            }
            Self::TooNew { path, found } => write!(
                f,
                "journal {}: schema version {found} is newer than this build's {} \
                 (written by a newer polyarb; use that one or another file)",
                path.display(),
                schema::VERSION
            ),
            Self::Migrate { path, to, source } => write!(
                f,
                "journal {}: migrating to schema version {to} failed: {source}",
                path.display()
            ),
            Self::Write { path, source } => {
                write!(f, "journal {}: cannot write: {source}", path.display())
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

/// An open journal database at the current schema version.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating if missing) the journal at `path` and brings it to the current schema
    /// version. WAL mode, `synchronous = NORMAL`: a committed transaction survives the process
    /// being killed (only a power loss may take the newest ones back).
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let open_err = |source| JournalError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        // A corrupt file or another format shows on the first read, here.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        let mut journal = Self {
            conn,
            path: path.to_owned(),
        };
        journal.migrate()?;
        Ok(journal)
    }

    /// The schema version the file is at.
    pub fn version(&self) -> Result<i64, rusqlite::Error> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(0);
        }
        self.conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
    }

    fn migrate(&mut self) -> Result<(), JournalError> {
        let path = self.path.clone();
        let found = self.version().map_err(|source| JournalError::Open {
            path: path.clone(),
            source,
        })?;
        if found > i64::from(schema::VERSION) {
            return Err(JournalError::TooNew { path, found });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let to = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let err = |source| JournalError::Migrate {
                path: path.clone(),
                to,
                source,
            };
            let tx = self.conn.transaction().map_err(err)?;
            if i == 0 {
                tx.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")
                    .map_err(err)?;
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", [])
                    .map_err(err)?;
            }
            tx.execute_batch(sql).map_err(err)?;
            tx.execute("UPDATE schema_version SET version = ?1", [to])
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    /// Records a run's start; its id keys every later row.
    pub fn begin_run(&mut self, info: &RunInfo) -> Result<i64, JournalError> {
        self.conn
            .execute(
                "INSERT INTO runs (kind, started_unix_ms, chain_id, config, polyarb_version) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    info.kind,
                    unix_ms(),
                    info.chain_id.and_then(|c| i64::try_from(c).ok()),
                    info.config.display().to_string(),
                    env!("CARGO_PKG_VERSION"),
                ],
            )
            .map_err(|source| JournalError::Write {
                path: self.path.clone(),
                source,
            })?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records a run's end.
    pub fn end_run(&mut self, run_id: i64) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "UPDATE runs SET ended_unix_ms = ?1 WHERE run_id = ?2",
            params![unix_ms(), run_id],
        )?;
        Ok(())
    }

    /// Writes `reports` (each an opportunity, its hops and its transaction or build error) in
    /// one transaction: all of them or none.
    pub fn write_batch(
        &mut self,
        run_id: i64,
        reports: &[Report],
        names: &Names,
    ) -> Result<(), rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let now = unix_ms();
            let mut opp = tx.prepare_cached(
                "INSERT INTO opportunities (run_id, seq, block, log_index, token_in, symbol, \
                 amount_in, funding, premium, profit, profit_native_wei, gas_cost_native_wei, \
                 base_fee_wei, gas_budget, detect_ns, recorded_unix_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            let mut hop = tx.prepare_cached(
                "INSERT INTO hops (run_id, seq, position, pool, kind, dex, zero_for_one, \
                 amount_out, ticks_crossed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut sent = tx.prepare_cached(
                "INSERT INTO transactions (run_id, seq, tx_hash, nonce, tx_len, build_error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in reports {
                let o = &r.opp;
                let seq = i64::try_from(o.seq).unwrap_or(i64::MAX);
                let token = Address::from(o.token_in);
                opp.execute(params![
                    run_id,
                    seq,
                    i64::try_from(o.block_number).unwrap_or(i64::MAX),
                    o.log_index,
                    token.to_checksum(None),
                    names.symbol(&token),
                    o.amount_in.to_string(),
                    Funding::from_u8(o.funding).map_or("?", Funding::name),
                    o.premium.to_string(),
                    o.profit.to_string(),
                    o.profit_native.to_string(),
                    o.gas_cost_native.to_string(),
                    o.base_fee.to_string(),
                    o.gas_budget,
                    i64::try_from(o.detect_ns.saturating_sub(o.recv_ns)).unwrap_or(i64::MAX),
                    now,
                ])?;
                for (i, h) in o.hops().iter().enumerate() {
                    let pool = Address::from(h.pool);
                    hop.execute(params![
                        run_id,
                        seq,
                        i64::try_from(i).unwrap_or(i64::MAX),
                        pool.to_checksum(None),
                        PoolKind::from_u8(h.kind).map_or("?", PoolKind::name),
                        names.dex(&pool),
                        h.zero_for_one == 1,
                        h.amount_out.to_string(),
                        h.ticks_crossed,
                    ])?;
                }
                let hash =
                    r.tx.map(|t| format!("0x{}", alloy_primitives::hex::encode(t.hash)));
                sent.execute(params![
                    run_id,
                    seq,
                    hash,
                    r.tx.map(|t| i64::try_from(t.nonce).unwrap_or(i64::MAX)),
                    r.tx.map(|t| t.len),
                    r.error.map(|e| e.to_string()),
                ])?;
            }
        }
        tx.commit()
    }
}

impl Journal {
    /// Writes receipts in one transaction: `(sent, receipt, revert reason)` each. A receipt
    /// already journaled for the same opportunity is replaced (a reorg may move a transaction;
    /// the newest answer is the node's current word).
    pub fn write_receipts(
        &mut self,
        rows: &[(receipts::Sent, receipts::Receipt, Option<String>)],
        fetched_unix_ms: i64,
    ) -> Result<(), rusqlite::Error> {
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO receipts (run_id, seq, tx_hash, success, block, tx_index, \
                 gas_used, effective_gas_price_wei, gas_cost_wei, realised_profit, \
                 realised_premium, revert_reason, fetched_unix_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for (sent, r, reason) in rows {
                ins.execute(params![
                    sent.run_id,
                    i64::try_from(sent.seq).unwrap_or(i64::MAX),
                    format!("0x{}", alloy_primitives::hex::encode(sent.hash)),
                    r.success,
                    i64::try_from(r.block).unwrap_or(i64::MAX),
                    i64::try_from(r.index).unwrap_or(i64::MAX),
                    i64::try_from(r.gas_used).unwrap_or(i64::MAX),
                    r.effective_gas_price.to_string(),
                    r.gas_cost_wei().to_string(),
                    r.executed.map(|e| e.profit.to_string()),
                    r.executed.map(|e| e.premium.to_string()),
                    reason,
                    fetched_unix_ms,
                ])?;
            }
        }
        tx.commit()
    }
}

impl Journal {
    /// Records a stop or resume of sending (committed at once: there are few).
    pub fn write_risk_event(
        &mut self,
        run_id: i64,
        e: &crate::risk::RiskEvent,
    ) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "INSERT INTO risk_events (run_id, at_unix_ms, stopped, reason) VALUES (?1, ?2, ?3, ?4)",
            params![run_id, e.at_unix_ms, e.stopped, e.reason],
        )?;
        Ok(())
    }
}

/// What the journal thread did, for the run's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// The file.
    pub path: PathBuf,
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
    /// The first failure, in SQLite's words.
    pub first_error: Option<String>,
    /// Commits failed in a row now (0: the last one took).
    pub failing: u64,
}

impl fmt::Display for JournalStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal {}: {} opportunities in {} commits, {} failed commits, {} dropped, {} \
             lost at exit",
            self.path.display(),
            self.rows,
            self.batches,
            self.failed_commits,
            self.dropped,
            self.lost_at_exit
        )?;
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
        mut journal: Journal,
        run: &RunInfo,
        names: Names,
        cfg: &JournalConfig,
        cpu: Option<usize>,
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
                    stats: JournalStats::default(),
                    dropped: dropped_in,
                };
                w.stats.path.clone_from(&w.journal.path);
                let mut due: Option<Instant> = None;
                loop {
                    let wait = due.map_or(Duration::from_secs(3600), |d| {
                        d.saturating_duration_since(Instant::now())
                    });
                    match rx.recv_timeout(wait) {
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
                            due = (!w.flush()).then(|| Instant::now() + flush);
                        }
                        Ok(None) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                w.flush();
                w.stats.lost_at_exit = w.batch.len() as u64;
                if let Err(e) = w.journal.end_run(w.run_id) {
                    w.stats.first_error.get_or_insert_with(|| e.to_string());
                }
                w.stats.dropped = w.dropped.load(Ordering::Relaxed);
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
    stats: JournalStats,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    /// Commits the waiting batch; `true` if nothing is left waiting.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        match self
            .journal
            .write_batch(self.run_id, &self.batch, &self.names)
        {
            Ok(()) => {
                self.stats.rows += self.batch.len() as u64;
                self.stats.batches += 1;
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
                        self.stats.path.display(),
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

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("polyarb-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.db")
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
        let j = Journal::open(&path).unwrap();
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
                "transactions"
            ]
        );
        // Reopening applies nothing twice (a second CREATE TABLE would fail) and keeps rows.
        let mut j = Journal::open(&path).unwrap();
        let run = RunInfo {
            kind: "replay",
            chain_id: Some(137),
            config: "x.toml".into(),
        };
        assert_eq!(j.begin_run(&run).unwrap(), 1);
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.begin_run(&run).unwrap(), 2);
        let mode: String = j
            .conn
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
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.version().unwrap(), i64::from(schema::VERSION));
        assert!(tables(&path).contains(&"receipts".to_owned()));
        let old: String = j
            .conn
            .query_row("SELECT config FROM runs WHERE run_id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old, "old.toml");
    }

    #[test]
    fn a_newer_corrupt_or_unwritable_journal_is_refused_with_its_name() {
        // A newer polyarb's journal: never written.
        let path = scratch("newer");
        drop(Journal::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert!(matches!(e, JournalError::TooNew { found: 99, .. }), "{e:?}");
        assert!(e.to_string().contains("schema version 99 is newer"), "{e}");
        // Not a database.
        let path = scratch("garbage");
        std::fs::write(&path, vec![0x5au8; 8192]).unwrap();
        let e = Journal::open(&path).unwrap_err();
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
        let e = Journal::open(&path).unwrap_err();
        assert!(matches!(e, JournalError::Open { .. }), "{e:?}");
        // A read-only file system (procfs refuses to create files, even for root).
        let path = Path::new("/proc/polyarb-journal.db");
        let e = Journal::open(path).unwrap_err();
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
        let mut journal = Journal::open(&path).unwrap();
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
            stats: JournalStats::default(),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        assert!(w.flush());
        let pages: i64 = w
            .journal
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        w.journal
            .conn
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
            .conn
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
