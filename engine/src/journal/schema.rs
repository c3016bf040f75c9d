//! The journal's schema, as an ordered list of migrations (docs/journal.md, "Schema").
//!
//! `schema_version` holds one row: the number of migrations applied. Opening a journal applies
//! the missing ones in order, each in its own transaction with the version bump, so a crash
//! between two leaves a journal at a known version. A journal whose version is above what this
//! build knows is refused (a newer polyarb wrote it), never written.
//!
//! Amounts are decimal strings of raw units (`TEXT`): they run to 256 bits, past any SQL integer,
//! and SQLite's NUMERIC affinity would turn large ones into lossy floats. Times are integers:
//! Unix milliseconds for wall-clock moments, nanoseconds for the pipeline's durations.

/// The migrations, in order: migration `i` takes the journal from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, opportunities, their hops and the transactions signed for them.
    "CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        started_unix_ms INTEGER NOT NULL,
        ended_unix_ms INTEGER,
        chain_id INTEGER,
        config TEXT NOT NULL,
        polyarb_version TEXT NOT NULL
    );
    CREATE TABLE opportunities (
        run_id INTEGER NOT NULL REFERENCES runs (run_id),
        seq INTEGER NOT NULL,
        block INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        token_in TEXT NOT NULL,
        symbol TEXT NOT NULL,
        amount_in TEXT NOT NULL,
        funding TEXT NOT NULL,
        premium TEXT NOT NULL,
        profit TEXT NOT NULL,
        profit_native_wei TEXT NOT NULL,
        gas_cost_native_wei TEXT NOT NULL,
        base_fee_wei TEXT NOT NULL,
        gas_budget INTEGER NOT NULL,
        detect_ns INTEGER NOT NULL,
        recorded_unix_ms INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE hops (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        position INTEGER NOT NULL,
        pool TEXT NOT NULL,
        kind TEXT NOT NULL,
        dex TEXT NOT NULL,
        zero_for_one INTEGER NOT NULL,
        amount_out TEXT NOT NULL,
        ticks_crossed INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq, position),
        FOREIGN KEY (run_id, seq) REFERENCES opportunities (run_id, seq)
    );
    CREATE TABLE transactions (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        tx_hash TEXT,
        nonce INTEGER,
        tx_len INTEGER,
        build_error TEXT,
        PRIMARY KEY (run_id, seq),
        FOREIGN KEY (run_id, seq) REFERENCES opportunities (run_id, seq)
    );
    CREATE INDEX transactions_by_hash ON transactions (tx_hash);",
    // 2: what the node says became of each sent transaction.
    "CREATE TABLE receipts (
        run_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        success INTEGER NOT NULL,
        block INTEGER NOT NULL,
        tx_index INTEGER NOT NULL,
        gas_used INTEGER NOT NULL,
        effective_gas_price_wei TEXT NOT NULL,
        gas_cost_wei TEXT NOT NULL,
        realised_profit TEXT,
        realised_premium TEXT,
        revert_reason TEXT,
        fetched_unix_ms INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    );",
    // 3: each time sending stopped or resumed (risk limits, the kill switch), and why.
    "CREATE TABLE risk_events (
        run_id INTEGER NOT NULL,
        at_unix_ms INTEGER NOT NULL,
        stopped INTEGER NOT NULL,
        reason TEXT NOT NULL
    );",
];

/// The version this build writes.
pub const VERSION: u32 = MIGRATIONS.len() as u32;
