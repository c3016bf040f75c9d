//! The journal's two databases behind one small interface (docs/journal.md, "PostgreSQL"):
//! an embedded SQLite file, or a PostgreSQL server for a team's analytics. Both hold the same
//! tables and columns (schema.rs); the statements are written once, with `?N` placeholders,
//! and PostgreSQL gets them as `$N`.
//!
//! A PostgreSQL connection that fails is dropped and made again at the next use, so a server
//! that goes away and comes back costs the failed commits (kept and tried again by the caller),
//! never the rows.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Where a journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file (created if missing).
    File(PathBuf),
    /// A PostgreSQL database, by its connection URL (boxed: its settings are large).
    Postgres(Box<PgTarget>),
}

/// A PostgreSQL database's connection settings, and how they are shown (never the password).
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    shown: String,
    /// As given (with any password): what two targets are compared by.
    url: String,
}

impl PartialEq for PgTarget {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}
impl Eq for PgTarget {}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the config's own Debug: it is the shown form that may go into logs.
        f.write_str(&self.shown)
    }
}

/// How long connecting to PostgreSQL may take before the attempt fails (the URL's own
/// `connect_timeout` wins).
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Target {
    /// `postgres://…` or `postgresql://…` names a PostgreSQL database; anything else a file.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::postgres(s)
        } else if s.is_empty() {
            Err("an empty journal name".into())
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }

    /// A PostgreSQL connection URL.
    pub fn postgres(url: &str) -> Result<Self, String> {
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| format!("not a PostgreSQL connection URL ({})", words(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PG_CONNECT_TIMEOUT);
        }
        // A server that stops answering mid-commit is found by the kernel, not waited on
        // forever: unacknowledged data for this long fails the connection.
        config.tcp_user_timeout(Duration::from_secs(10));
        config.application_name("polyarb");
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
        let shown = format!(
            "postgresql://{}{}{}{}/{}",
            config.get_user().map_or(String::new(), |u| format!("{u}@")),
            hosts.join(","),
            if ports.is_empty() { "" } else { ":" },
            ports.join(","),
            config.get_dbname().unwrap_or("")
        );
        Ok(Self::Postgres(Box::new(PgTarget {
            config,
            shown,
            url: url.to_owned(),
        })))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Postgres(pg) => f.write_str(&pg.shown),
        }
    }
}

/// An error of either database, in its own words.
#[derive(Debug)]
pub enum DbError {
    /// SQLite's.
    Sqlite(rusqlite::Error),
    /// PostgreSQL's (or the client's: a refused connection, a closed one).
    Postgres(postgres::Error),
}

/// A PostgreSQL error with its causes, on one line.
fn words(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string().replace('\n', "; "));
        cause = c.source();
    }
    s
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "{e}"),
            Self::Postgres(e) => f.write_str(&words(e)),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}
impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

/// A value bound to a statement. Every column is one of three types in both databases
/// (INTEGER or BIGINT, TEXT, and a flag: INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL); the
/// type travels with a NULL, as PostgreSQL checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// A 64-bit integer.
    Int(Option<i64>),
    /// Text (amounts are decimal text: they run past any SQL integer).
    Text(Option<String>),
    /// A flag.
    Bool(Option<bool>),
}

impl Val {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        match self {
            Self::Int(v) => v,
            Self::Text(v) => v,
            Self::Bool(v) => v,
        }
    }

    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Self::Int(v) => v,
            Self::Text(v) => v,
            Self::Bool(v) => v,
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Self::Bool(Some(v))
    }
}

/// One column of a row read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer (a SQLite flag reads as one).
    Int(i64),
    /// Text.
    Text(String),
    /// A PostgreSQL flag.
    Bool(bool),
}

impl Cell {
    /// The integer, if it is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if it is text.
    pub fn text(self) -> Option<String> {
        match self {
            Self::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The flag (a SQLite integer: not 0), if it is one.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Self::Bool(v) => Some(*v),
            Self::Int(v) => Some(*v != 0),
            _ => None,
        }
    }
}

/// Rows for one table, inserted together.
#[derive(Debug)]
pub struct Insert {
    /// `table (column, …)`.
    pub into: &'static str,
    /// Its column count.
    pub columns: usize,
    /// The values, row after row (`columns` each).
    pub values: Vec<Val>,
    /// What follows the values (an `ON CONFLICT` clause), or "".
    pub tail: &'static str,
}

/// The advisory lock key of the journal's migrations (any fixed number; "polyarb" in ASCII).
const MIGRATION_LOCK: i64 = 0x0070_6f6c_7961_7262;

/// Parameters in one PostgreSQL statement at most (the protocol's limit is 65,535).
const PG_MAX_PARAMS: usize = 16_384;

/// An open connection to either database.
#[derive(Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(Connection),
    /// A PostgreSQL database.
    Postgres(Pg),
}

/// A PostgreSQL database: the connection, made again after one fails.
pub struct Pg {
    /// Where.
    target: Box<PgTarget>,
    /// The connection; `None` after it failed, until the next use makes one.
    client: Option<Box<postgres::Client>>,
    /// Connections made again after one failed.
    reconnects: u64,
}

impl fmt::Debug for Pg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client has no Debug; where and how often it reconnected is what matters.
        write!(
            f,
            "Pg({}, {} reconnects)",
            self.target.shown, self.reconnects
        )
    }
}

impl Pg {
    /// Runs `f` on the connection (made again if the last one failed); a failure that closed
    /// it drops it, so the next use connects again.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        let c = match &mut self.client {
            Some(c) => c,
            None => {
                let c = self.target.config.connect(postgres::NoTls)?;
                self.reconnects += 1;
                tracing::info!("journal {}: connected again", self.target.shown);
                self.client.insert(Box::new(c))
            }
        };
        let r = f(c);
        if r.is_err() && c.is_closed() {
            self.client = None;
        }
        Ok(r?)
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (the statements hold no `?` elsewhere).
fn pg_sql(sql: &str) -> Cow<'_, str> {
    if sql.contains('?') {
        Cow::Owned(sql.replace('?', "$"))
    } else {
        Cow::Borrowed(sql)
    }
}

impl Db {
    /// Opens `target`: a SQLite file read-write (created if missing) or read-only, or a
    /// connection to PostgreSQL (made now: a server that cannot be reached is said at once).
    pub fn open(target: &Target, read_only: bool) -> Result<Self, DbError> {
        match target {
            Target::File(path) => Ok(Self::Sqlite(open_sqlite(path, read_only)?)),
            Target::Postgres(pg) => {
                let client = pg.config.connect(postgres::NoTls)?;
                Ok(Self::Postgres(Pg {
                    target: pg.clone(),
                    client: Some(Box::new(client)),
                    reconnects: 0,
                }))
            }
        }
    }

    /// The SQLite connection, if this is one.
    pub fn sqlite(&self) -> Option<&Connection> {
        match self {
            Self::Sqlite(c) => Some(c),
            Self::Postgres(_) => None,
        }
    }

    /// Connections made again after one failed (PostgreSQL; 0 for SQLite).
    pub fn reconnects(&self) -> u64 {
        match self {
            Self::Sqlite(_) => 0,
            Self::Postgres(pg) => pg.reconnects,
        }
    }

    /// Runs one statement; rows changed.
    pub fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Self::Sqlite(c) => {
                let n = c.execute(
                    sql,
                    rusqlite::params_from_iter(params.iter().map(Val::sqlite)),
                )?;
                Ok(n as u64)
            }
            Self::Postgres(pg) => {
                let refs: Vec<_> = params.iter().map(Val::pg).collect();
                pg.call(|c| c.execute(pg_sql(sql).as_ref(), &refs))
            }
        }
    }

    /// Runs one query; its rows, each as its cells.
    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Cell>>, DbError> {
        match self {
            Self::Sqlite(c) => {
                let mut s = c.prepare(sql)?;
                let n = s.column_count();
                let rows = s.query_map(
                    rusqlite::params_from_iter(params.iter().map(Val::sqlite)),
                    |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Cell::Null,
                                    rusqlite::types::ValueRef::Integer(v) => Cell::Int(v),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        Cell::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                    rusqlite::types::ValueRef::Real(v) => Cell::Text(v.to_string()),
                                    rusqlite::types::ValueRef::Blob(_) => {
                                        Cell::Text("(a blob)".into())
                                    }
                                })
                            })
                            .collect::<Result<Vec<Cell>, rusqlite::Error>>()
                    },
                )?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Self::Postgres(pg) => {
                let refs: Vec<_> = params.iter().map(Val::pg).collect();
                let rows = pg.call(|c| c.query(pg_sql(sql).as_ref(), &refs))?;
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| pg_cell(r, i))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<_, postgres::Error>>()
                    .map_err(DbError::Postgres)
            }
        }
    }

    /// PostgreSQL: waits for and takes the lock that serialises schema migrations between
    /// processes (a session-level advisory lock), so two runs starting together on an empty
    /// database do not both create its tables; [`Db::unlock_migrations`] gives it back (so does
    /// the connection's end). SQLite: nothing (one file, one writer at a time already).
    pub fn lock_migrations(&mut self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(pg) => pg
                .call(|c| c.query("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]))
                .map(drop),
        }
    }

    /// Gives back [`Db::lock_migrations`]'s lock.
    pub fn unlock_migrations(&mut self) -> Result<(), DbError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(pg) => pg
                .call(|c| c.query("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]))
                .map(drop),
        }
    }

    /// Whether a table of that name exists.
    pub fn has_table(&mut self, name: &str) -> Result<bool, DbError> {
        let sql = match self {
            Self::Sqlite(_) => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"
            }
            Self::Postgres(_) => {
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = ?1"
            }
        };
        let rows = self.query(sql, &[Val::from(name)])?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Cell::int)
            .unwrap_or(0)
            > 0)
    }

    /// Runs `statements` (several, `;`-separated, without parameters) and then `params`'
    /// statement, in one transaction: all or none.
    pub fn migrate_step(&mut self, statements: &str, then: (&str, &[Val])) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => {
                let tx = c.transaction()?;
                tx.execute_batch(statements)?;
                tx.execute(
                    then.0,
                    rusqlite::params_from_iter(then.1.iter().map(Val::sqlite)),
                )?;
                Ok(tx.commit()?)
            }
            Self::Postgres(pg) => {
                let refs: Vec<_> = then.1.iter().map(Val::pg).collect();
                let sql = pg_sql(then.0);
                pg.call(|c| {
                    let mut tx = c.transaction()?;
                    tx.batch_execute(statements)?;
                    tx.execute(sql.as_ref(), &refs)?;
                    tx.commit()
                })
            }
        }
    }

    /// Inserts every row of `tables`, in order, in one transaction: all or none.
    pub fn insert_all(&mut self, tables: &[Insert]) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => {
                let tx = c.transaction()?;
                for t in tables {
                    let sql = format!(
                        "INSERT INTO {} VALUES ({}) {}",
                        t.into,
                        (1..=t.columns)
                            .map(|i| format!("?{i}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        t.tail
                    );
                    let mut s = tx.prepare_cached(&sql)?;
                    for row in t.values.chunks(t.columns.max(1)) {
                        s.execute(rusqlite::params_from_iter(row.iter().map(Val::sqlite)))?;
                    }
                }
                Ok(tx.commit()?)
            }
            Self::Postgres(pg) => pg.call(|c| {
                // Many rows per statement: one round trip per chunk, not per row.
                let mut tx = c.transaction()?;
                for t in tables {
                    let per = (PG_MAX_PARAMS / t.columns.max(1)).max(1);
                    for chunk in t.values.chunks(per * t.columns.max(1)) {
                        let rows = chunk.len() / t.columns.max(1);
                        let mut sql = format!("INSERT INTO {} VALUES ", t.into);
                        for r in 0..rows {
                            sql.push_str(if r == 0 { "(" } else { ", (" });
                            for col in 0..t.columns {
                                if col > 0 {
                                    sql.push_str(", ");
                                }
                                sql.push_str(&format!("${}", r * t.columns + col + 1));
                            }
                            sql.push(')');
                        }
                        sql.push(' ');
                        sql.push_str(t.tail);
                        let refs: Vec<_> = chunk.iter().map(Val::pg).collect();
                        tx.execute(sql.as_str(), &refs)?;
                    }
                }
                tx.commit()
            }),
        }
    }
}

/// Column `i` of a PostgreSQL row, by its type.
fn pg_cell(r: &postgres::Row, i: usize) -> Result<Cell, postgres::Error> {
    use postgres::types::Type;
    let ty = r.columns()[i].type_().clone();
    Ok(if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Int)
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |v| Cell::Int(i64::from(v)))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?
            .map_or(Cell::Null, |v| Cell::Int(i64::from(v)))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, Cell::Bool)
    } else {
        // TEXT and VARCHAR; another type fails here with the client's words.
        r.try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text)
    })
}

/// A SQLite journal file: WAL mode, `synchronous = NORMAL` (a committed transaction survives the
/// process being killed; only a power loss may take the newest ones back), foreign keys on.
fn open_sqlite(path: &Path, read_only: bool) -> Result<Connection, rusqlite::Error> {
    if read_only {
        return Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A corrupt file or another format shows on the first read, here.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_told_apart_and_shown_without_the_password() {
        assert_eq!(
            Target::parse("/var/lib/polyarb/j.db").unwrap(),
            Target::File("/var/lib/polyarb/j.db".into())
        );
        let t = Target::parse("postgresql://ops:s3cret@db.example:5433/arb").unwrap();
        assert!(matches!(t, Target::Postgres(_)));
        assert_eq!(t.to_string(), "postgresql://ops@db.example:5433/arb");
        assert!(!format!("{t:?}").contains("s3cret"));
        let t = Target::parse("postgres://localhost/arb").unwrap();
        // The client's default port is shown.
        assert_eq!(t.to_string(), "postgresql://localhost:5432/arb");
        let e = Target::parse("postgresql://a:b@host:notaport/x").unwrap_err();
        assert!(e.starts_with("not a PostgreSQL connection URL"), "{e}");
        assert!(Target::parse("").is_err());
    }

    #[test]
    fn placeholders_become_postgres_style() {
        assert_eq!(
            pg_sql("UPDATE runs SET a = ?1 WHERE b = ?2"),
            "UPDATE runs SET a = $1 WHERE b = $2"
        );
    }

    /// The SQLite side of the interface against a scratch file: inserts in one transaction
    /// (a failing row takes the whole batch back), reads with their types.
    #[test]
    fn sqlite_inserts_are_all_or_none_and_read_back_typed() {
        let dir = std::env::temp_dir().join(format!("polyarb-db-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut db = Db::open(&Target::File(dir.join("t.db")), false).unwrap();
        db.migrate_step(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, s TEXT, f INTEGER NOT NULL);",
            ("UPDATE t SET f = ?1", &[Val::from(1)]),
        )
        .unwrap();
        let rows = |vals: Vec<Val>| Insert {
            into: "t (k, s, f)",
            columns: 3,
            values: vals,
            tail: "",
        };
        db.insert_all(&[rows(vec![
            Val::from(1),
            Val::from("a"),
            Val::from(true),
            Val::from(2),
            Val::Text(None),
            Val::from(false),
        ])])
        .unwrap();
        // Row 4 breaks the key: row 3 goes back with it.
        let e = db.insert_all(&[rows(vec![
            Val::from(3),
            Val::from("c"),
            Val::from(true),
            Val::from(1),
            Val::from("dup"),
            Val::from(true),
        ])]);
        assert!(e.is_err());
        let got = db
            .query(
                "SELECT k, s, f FROM t WHERE k > ?1 ORDER BY k",
                &[Val::from(0)],
            )
            .unwrap();
        assert_eq!(
            got,
            vec![
                vec![Cell::Int(1), Cell::Text("a".into()), Cell::Int(1)],
                vec![Cell::Int(2), Cell::Null, Cell::Int(0)],
            ]
        );
        assert_eq!(got[0][2].flag(), Some(true));
        assert!(db.has_table("t").unwrap());
        assert!(!db.has_table("u").unwrap());
    }
}
