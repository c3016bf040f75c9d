//! `polyarb report --journal FILE`: realised profit and loss from a journal (docs/journal.md,
//! "The P&L report"). Read-only; exact integer sums, printed in native units with the exact wei
//! alongside.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::db::{Cell, Db, DbError, Target, Val};
use super::value_wei;
use crate::report::utc;

/// Why the report could not be made.
#[derive(Debug)]
pub enum PnlError {
    /// The journal could not be opened or read as one.
    Open {
        /// The file or database.
        target: String,
        /// The database's words.
        source: DbError,
    },
    /// A column holds what no journal writes there (a NULL, a wrong type).
    BadRow {
        /// The query.
        what: &'static str,
        /// The column's position.
        column: usize,
    },
    /// A stored amount is not a decimal number within 128 bits.
    BadAmount {
        /// The column.
        column: &'static str,
        /// What it holds.
        value: String,
    },
}

impl fmt::Display for PnlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { target, source } => {
                write!(f, "journal {target}: cannot read: {source}")
            }
            Self::BadRow { what, column } => write!(
                f,
                "journal: {what}: column {column} holds what no journal writes there"
            ),
            Self::BadAmount { column, value } => write!(
                f,
                "journal: {column} holds {value:?}, not an amount this report can sum"
            ),
        }
    }
}

impl std::error::Error for PnlError {}

/// One sent transaction, as the journal has it.
#[derive(Clone, Debug)]
struct Sent {
    day: String,
    funding: String,
    hops: usize,
    kinds: String,
    predicted: u128,
    /// Native wei per raw unit of the start token, as `(profit_native, profit)` at detection.
    valuation: (u128, u128),
    receipt: Option<Landed>,
}

#[derive(Clone, Debug)]
struct Landed {
    success: bool,
    gas_used: u64,
    gas_cost_wei: u128,
    realised: Option<u128>,
    reason: Option<String>,
}

/// Sums over a set of sent transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Transactions signed (a live run sends each).
    pub sent: u64,
    /// With a successful receipt.
    pub succeeded: u64,
    /// With a reverted receipt.
    pub reverted: u64,
    /// Without a receipt in the journal (not mined, dropped, or the run ended first).
    pub unseen: u64,
    /// Gas used by those with a receipt.
    pub gas_used: u64,
    /// What that gas cost, wei.
    pub gas_wei: i128,
    /// Realised profit valued in native wei at detection-time prices.
    pub realised_wei: i128,
}

impl Tally {
    fn add(&mut self, s: &Sent) {
        self.sent += 1;
        let Some(r) = &s.receipt else {
            self.unseen += 1;
            return;
        };
        if r.success {
            self.succeeded += 1;
        } else {
            self.reverted += 1;
        }
        self.gas_used += r.gas_used;
        self.gas_wei += i128::try_from(r.gas_cost_wei).unwrap_or(i128::MAX);
        if let Some(v) = r.realised.and_then(|p| value_wei(p, s.valuation)) {
            self.realised_wei += v;
        }
    }

    /// Realised less gas, wei.
    pub fn net_wei(&self) -> i128 {
        self.realised_wei - self.gas_wei
    }
}

/// The report of one journal.
#[derive(Clone, Debug)]
pub struct PnlReport {
    /// The file or database.
    pub target: String,
    /// The runs covered: `(run_id, kind, started, chain_id)`.
    pub runs: Vec<(i64, String, i64, Option<i64>)>,
    /// Opportunities the runs found.
    pub opportunities: u64,
    /// Everything sent.
    pub total: Tally,
    /// Succeeded routes whose realised profit equals the prediction to the raw unit.
    pub exact: u64,
    /// Their predicted and realised profits, summed in native wei.
    pub predicted_wei: i128,
    /// Realised, over the succeeded routes only (as `predicted_wei`).
    pub realised_of_predicted_wei: i128,
    /// Revert reasons and how often.
    pub reasons: BTreeMap<String, u64>,
    /// By UTC day of detection, funding source, hop count and pool kinds.
    pub by: [(&'static str, BTreeMap<String, Tally>); 4],
}

/// Column `i` of `row`: present and of the type asked for, or [`PnlError::BadRow`].
struct Row<'a> {
    cells: &'a mut [Cell],
    what: &'static str,
}

impl Row<'_> {
    fn bad(&self, column: usize) -> PnlError {
        PnlError::BadRow {
            what: self.what,
            column,
        }
    }
    fn int(&self, i: usize) -> Result<i64, PnlError> {
        self.cells.get(i).and_then(Cell::int).ok_or(self.bad(i))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, PnlError> {
        match self.cells.get(i) {
            Some(Cell::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    fn text(&mut self, i: usize) -> Result<String, PnlError> {
        self.opt_text(i)?.ok_or(self.bad(i))
    }
    fn opt_text(&mut self, i: usize) -> Result<Option<String>, PnlError> {
        match self
            .cells
            .get_mut(i)
            .map(|c| std::mem::replace(c, Cell::Null))
        {
            Some(Cell::Null) => Ok(None),
            Some(Cell::Text(t)) => Ok(Some(t)),
            _ => Err(self.bad(i)),
        }
    }
    fn opt_flag(&self, i: usize) -> Result<Option<bool>, PnlError> {
        match self.cells.get(i) {
            Some(Cell::Null) => Ok(None),
            Some(c) => c.flag().map(Some).ok_or(self.bad(i)),
            None => Err(self.bad(i)),
        }
    }
}

/// Reads the journal at `target` (read-only) and sums it, over run `run` only if given.
pub fn pnl_report(target: &Target, run: Option<i64>) -> Result<PnlReport, PnlError> {
    let open = |source| PnlError::Open {
        target: target.to_string(),
        source,
    };
    let mut c = Db::open(target, true).map_err(open)?;
    let filter = [Val::from(run.unwrap_or(-1))];
    let mut query = |sql: &str| c.query(sql, &filter).map_err(open);
    let mut runs = Vec::new();
    for mut cells in query(
        "SELECT run_id, kind, started_unix_ms, chain_id FROM runs \
         WHERE CAST(?1 AS BIGINT) < 0 OR run_id = ?1 ORDER BY run_id",
    )? {
        let mut r = Row {
            cells: &mut cells,
            what: "runs",
        };
        runs.push((r.int(0)?, r.text(1)?, r.int(2)?, r.opt_int(3)?));
    }
    let opportunities =
        query("SELECT count(*) FROM opportunities WHERE CAST(?1 AS BIGINT) < 0 OR run_id = ?1")?
            .first()
            .and_then(|r| r.first())
            .and_then(Cell::int)
            .unwrap_or(0);
    let mut kinds: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    for mut cells in query(
        "SELECT run_id, seq, kind FROM hops WHERE CAST(?1 AS BIGINT) < 0 OR run_id = ?1 \
         ORDER BY run_id, seq, position",
    )? {
        let mut r = Row {
            cells: &mut cells,
            what: "hops",
        };
        let key = (r.int(0)?, r.int(1)?);
        kinds.entry(key).or_default().push(r.text(2)?);
    }
    let amount = |column: &'static str, v: String| {
        v.parse::<u128>()
            .map_err(|_| PnlError::BadAmount { column, value: v })
    };
    // A version-1 journal (before receipts) reads as one with no receipt yet; the report never
    // writes, so it does not migrate the journal.
    let has_receipts = c.has_table("receipts").map_err(open)?;
    let receipts = if has_receipts {
        "receipts"
    } else {
        "(SELECT 0 AS run_id, 0 AS seq, NULL AS success, NULL AS gas_used, \
         NULL AS gas_cost_wei, NULL AS realised_profit, NULL AS revert_reason WHERE 1 = 0)"
    };
    let rows = c
        .query(
            &format!(
                "SELECT o.run_id, o.seq, o.recorded_unix_ms, o.funding, o.profit, \
                 o.profit_native_wei, r.success, r.gas_used, r.gas_cost_wei, \
                 r.realised_profit, r.revert_reason \
                 FROM opportunities o JOIN transactions t USING (run_id, seq) \
                 LEFT JOIN {receipts} r USING (run_id, seq) \
                 WHERE t.tx_hash IS NOT NULL AND (CAST(?1 AS BIGINT) < 0 OR o.run_id = ?1) \
                 ORDER BY o.run_id, o.seq"
            ),
            &filter,
        )
        .map_err(open)?;
    let mut raw = Vec::with_capacity(rows.len());
    for mut cells in rows {
        let mut r = Row {
            cells: &mut cells,
            what: "sent transactions",
        };
        let profit = r.text(4)?;
        raw.push((
            r.int(0)?,
            r.int(1)?,
            r.int(2)?,
            r.text(3)?,
            profit.clone(),
            r.text(5)?,
            profit,
            r.opt_flag(6)?,
            r.opt_int(7)?,
            r.opt_text(8)?,
            r.opt_text(9)?,
            r.opt_text(10)?,
        ));
    }
    let mut sent = Vec::with_capacity(raw.len());
    for (run_id, seq, at, funding, predicted, native, profit, success, gas, cost, real, why) in raw
    {
        let k = kinds.remove(&(run_id, seq)).unwrap_or_default();
        let receipt = match success {
            Some(success) => Some(Landed {
                success,
                gas_used: u64::try_from(gas.unwrap_or(0)).unwrap_or(0),
                gas_cost_wei: amount("receipts.gas_cost_wei", cost.unwrap_or_default())?,
                realised: real
                    .map(|v| amount("receipts.realised_profit", v))
                    .transpose()?,
                reason: why,
            }),
            None => None,
        };
        sent.push(Sent {
            day: utc(u64::try_from(at).unwrap_or(0).saturating_mul(1_000_000))
                .chars()
                .take(10)
                .collect(),
            funding,
            hops: k.len(),
            kinds: k.join(" → "),
            predicted: amount("opportunities.profit", predicted)?,
            valuation: (
                amount("opportunities.profit_native_wei", native)?,
                amount("opportunities.profit", profit)?,
            ),
            receipt,
        });
    }
    let mut report = PnlReport {
        target: target.to_string(),
        runs,
        opportunities: u64::try_from(opportunities).unwrap_or(0),
        total: Tally::default(),
        exact: 0,
        predicted_wei: 0,
        realised_of_predicted_wei: 0,
        reasons: BTreeMap::new(),
        by: [
            ("UTC day", BTreeMap::new()),
            ("funding", BTreeMap::new()),
            ("hops", BTreeMap::new()),
            ("pool kinds", BTreeMap::new()),
        ],
    };
    for s in &sent {
        report.total.add(s);
        let keys = [
            s.day.clone(),
            s.funding.clone(),
            format!("{} hops", s.hops),
            s.kinds.clone(),
        ];
        for ((_, map), key) in report.by.iter_mut().zip(keys) {
            map.entry(key).or_default().add(s);
        }
        if let Some(r) = &s.receipt {
            if let Some(why) = &r.reason {
                *report.reasons.entry(why.clone()).or_default() += 1;
            }
            if let (true, Some(real)) = (r.success, r.realised) {
                report.exact += u64::from(real == s.predicted);
                report.predicted_wei += value_wei(s.predicted, s.valuation).unwrap_or(0);
                report.realised_of_predicted_wei += value_wei(real, s.valuation).unwrap_or(0);
            }
        }
    }
    Ok(report)
}

/// Native units of `wei` (18 decimals), six shown, with a sign.
fn native(wei: i128) -> String {
    let sign = if wei < 0 { "−" } else { "" };
    let w = wei.unsigned_abs();
    format!(
        "{sign}{}.{:06}",
        w / 1_000_000_000_000_000_000,
        w % 1_000_000_000_000_000_000 / 1_000_000_000_000
    )
}

impl fmt::Display for PnlReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.runs.first().and_then(|r| r.3) {
            Some(137) => "POL",
            Some(1 | 31_337) => "ETH",
            _ => "native",
        };
        writeln!(f, "journal {}:", self.target)?;
        for (id, kind, started, chain) in &self.runs {
            writeln!(
                f,
                "  run {id}: {kind}, started {}{}",
                utc(u64::try_from(*started)
                    .unwrap_or(0)
                    .saturating_mul(1_000_000)),
                chain.map_or(String::new(), |c| format!(", chain {c}"))
            )?;
        }
        let t = &self.total;
        writeln!(
            f,
            "opportunities: {}; transactions: {} signed, {} succeeded, {} reverted, {} without a \
             receipt",
            self.opportunities, t.sent, t.succeeded, t.reverted, t.unseen
        )?;
        let landed = t.succeeded + t.reverted;
        if landed > 0 {
            writeln!(
                f,
                "success rate: {:.1} % of the {landed} with a receipt",
                100.0 * t.succeeded as f64 / landed as f64
            )?;
        }
        writeln!(
            f,
            "gas: {} used, {} {unit} spent ({} wei)",
            t.gas_used,
            native(t.gas_wei),
            t.gas_wei
        )?;
        writeln!(
            f,
            "realised: {} {unit} profit, {} {unit} gas, {} {unit} net ({} wei net); profits \
             valued at each opportunity's detection-time price",
            native(t.realised_wei),
            native(-t.gas_wei),
            native(t.net_wei()),
            t.net_wei()
        )?;
        if t.succeeded > 0 {
            let ratio = if self.predicted_wei == 0 {
                0.0
            } else {
                100.0 * self.realised_of_predicted_wei as f64 / self.predicted_wei as f64
            };
            writeln!(
                f,
                "prediction: {} of {} succeeded routes paid exactly the predicted profit; \
                 realised {} of {} {unit} predicted ({ratio:.3} %)",
                self.exact,
                t.succeeded,
                native(self.realised_of_predicted_wei),
                native(self.predicted_wei)
            )?;
        } else if self.runs.iter().all(|r| r.1 == "replay") {
            writeln!(
                f,
                "no receipts: a replay signs transactions but does not send them"
            )?;
        }
        if !self.reasons.is_empty() {
            writeln!(f, "revert reasons:")?;
            for (why, n) in &self.reasons {
                writeln!(f, "  {n:>6}  {why}")?;
            }
        }
        for (name, map) in &self.by {
            writeln!(f, "by {name}:")?;
            let width = map
                .keys()
                .map(|k| k.chars().count())
                .max()
                .unwrap_or(0)
                .max(4);
            writeln!(
                f,
                "  {:<width$}  {:>6}  {:>6}  {:>8}  {:>8}  {:>14}  {:>14}",
                "",
                "signed",
                "ok",
                "reverted",
                "no rcpt",
                format!("gas {unit}"),
                format!("net {unit}")
            )?;
            for (key, t) in map {
                writeln!(
                    f,
                    "  {key:<width$}  {:>6}  {:>6}  {:>8}  {:>8}  {:>14}  {:>14}",
                    t.sent,
                    t.succeeded,
                    t.reverted,
                    t.unseen,
                    native(t.gas_wei),
                    native(t.net_wei())
                )?;
            }
        }
        Ok(())
    }
}
