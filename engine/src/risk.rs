//! Risk limits and the kill switch (docs/risk.md): what stops polyarb from signing before a bug
//! or a hostile market drains the account.
//!
//! [`RiskGate`] sits inside [`TxBuilder::build`](crate::txbuild::TxBuilder::build), so every
//! route in either pipeline mode passes it before it is signed. It reads plain values and
//! relaxed atomics only: no lock, allocation or system call on the hot path. What needs time or
//! the node is decided elsewhere and published in [`RiskState`]:
//! - the kill file and the stop signal: the `polyarb-risk` housekeeping thread
//!   ([`spawn_watch`]), every `kill_poll_ms`;
//! - the consecutive-revert and daily-loss breakers: the receipt thread, from each receipt.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use polyarb_core::OpportunityFrame;
use serde::Deserialize;

/// `[risk]` (docs/config.md). Amounts are decimal strings in whole units (a token's, or the
/// native token's for gas, profit and loss), so "0.5" and "5000" read as an operator means them.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// Least net profit (the route's value less its gas estimate), native units.
    #[serde(default)]
    pub min_net_profit: Option<String>,
    /// Most input per route, per start token symbol, in that token's units.
    #[serde(default)]
    pub max_input: BTreeMap<String, String>,
    /// Most gas (the engine's estimate of each signed route) over the last hour, native units.
    #[serde(default)]
    pub max_gas_per_hour: Option<String>,
    /// The same over the last 24 hours.
    #[serde(default)]
    pub max_gas_per_day: Option<String>,
    /// Most transactions signed and without a receipt yet (needs the journal's receipts).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Reverted receipts in a row that stop sending until resumed (needs receipts).
    #[serde(default)]
    pub max_consecutive_reverts: Option<u32>,
    /// Most realised loss (value less gas, since 00:00 UTC), native units, before sending stops
    /// for the rest of the day (needs receipts).
    #[serde(default)]
    pub max_daily_loss: Option<String>,
    /// Sending stops while this file exists.
    #[serde(default)]
    pub kill_file: Option<PathBuf>,
    /// How often the kill file and the stop signal are looked at, ms (10 to 10,000).
    #[serde(default = "default_kill_poll_ms")]
    pub kill_poll_ms: u32,
}

fn default_kill_poll_ms() -> u32 {
    100
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            min_net_profit: None,
            max_input: BTreeMap::new(),
            max_gas_per_hour: None,
            max_gas_per_day: None,
            max_in_flight: None,
            max_consecutive_reverts: None,
            max_daily_loss: None,
            kill_file: None,
            kill_poll_ms: default_kill_poll_ms(),
        }
    }
}

impl RiskConfig {
    /// Whether a limit needs receipts (the journal's receipt thread).
    pub fn needs_receipts(&self) -> bool {
        self.max_in_flight.is_some()
            || self.max_consecutive_reverts.is_some()
            || self.max_daily_loss.is_some()
    }
}

/// `text` (a decimal number such as "12.5") in raw units of a token with `decimals` decimals,
/// exactly; an error names what is wrong.
pub fn parse_units(text: &str, decimals: u8) -> Result<u128, String> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{text:?} is not a decimal number"));
    }
    if frac.len() > usize::from(decimals) {
        return Err(format!("{text:?} has more than {decimals} decimals"));
    }
    let scale = 10u128
        .checked_pow(u32::from(decimals))
        .ok_or_else(|| format!("{decimals} decimals are too many"))?;
    let whole: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| format!("{text:?} is too large"))?
    };
    let padded = format!("{frac:0<width$}", width = usize::from(decimals));
    let part: u128 = if padded.is_empty() {
        0
    } else {
        padded
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(part))
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Most start tokens with their own `max_input`.
pub const MAX_INPUT_TOKENS: usize = 16;

/// The limits, resolved to raw units (no strings: the gate reads these on the hot path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskLimits {
    /// Least net profit, native wei.
    pub min_net_profit_wei: Option<u128>,
    /// `(token, most raw input)` for the first `max_input_len` entries.
    pub max_input: [([u8; 20], u128); MAX_INPUT_TOKENS],
    /// How many of `max_input` are set.
    pub max_input_len: usize,
    /// Most gas per hour, native wei.
    pub max_gas_hour_wei: Option<u128>,
    /// Most gas per day, native wei.
    pub max_gas_day_wei: Option<u128>,
    /// Most signed transactions without a receipt.
    pub max_in_flight: Option<u64>,
    /// Most realised loss in a UTC day, native wei (the receipt thread's breaker).
    pub max_daily_loss_wei: Option<u128>,
}

/// Why a route was not signed, or why sending stopped. `Copy`: it rides in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Trip {
    /// The kill file exists.
    KillFile = 1,
    /// The stop signal (SIGUSR2) was given.
    Signal = 2,
    /// The consecutive-revert breaker tripped.
    Reverts = 3,
    /// The daily loss limit was reached.
    DailyLoss = 4,
    /// The route's net profit is below `min_net_profit`.
    MinProfit = 5,
    /// Its input is above `max_input` for its token.
    MaxInput = 6,
    /// `max_in_flight` transactions wait for receipts.
    InFlight = 7,
    /// Its gas would take the last hour's above `max_gas_per_hour`.
    GasHour = 8,
    /// Or the last day's above `max_gas_per_day`.
    GasDay = 9,
    /// Paused from the dashboard.
    Dashboard = 10,
}

/// Every [`Trip`], in code order (index = code − 1).
pub const TRIPS: [Trip; 10] = [
    Trip::KillFile,
    Trip::Signal,
    Trip::Reverts,
    Trip::DailyLoss,
    Trip::MinProfit,
    Trip::MaxInput,
    Trip::InFlight,
    Trip::GasHour,
    Trip::GasDay,
    Trip::Dashboard,
];

impl Trip {
    /// The trip with code `c`.
    pub fn from_code(c: u8) -> Option<Self> {
        TRIPS.get(usize::from(c).checked_sub(1)?).copied()
    }

    /// The config key or control behind it.
    pub fn key(self) -> &'static str {
        match self {
            Self::KillFile => "risk.kill_file",
            Self::Signal => "SIGUSR2",
            Self::Reverts => "risk.max_consecutive_reverts",
            Self::DailyLoss => "risk.max_daily_loss",
            Self::MinProfit => "risk.min_net_profit",
            Self::MaxInput => "risk.max_input",
            Self::InFlight => "risk.max_in_flight",
            Self::GasHour => "risk.max_gas_per_hour",
            Self::GasDay => "risk.max_gas_per_day",
            Self::Dashboard => "dashboard",
        }
    }
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::KillFile => "the kill file exists",
            Self::Signal => "stopped by SIGUSR2",
            Self::Reverts => "too many reverts in a row (circuit breaker)",
            Self::DailyLoss => "the day's loss reached its limit",
            Self::MinProfit => "net profit below the minimum",
            Self::MaxInput => "input above its token's maximum",
            Self::InFlight => "too many transactions in flight",
            Self::GasHour => "the last hour's gas would pass its limit",
            Self::GasDay => "the last day's gas would pass its limit",
            Self::Dashboard => "paused from the dashboard",
        };
        write!(f, "risk: {what} ({})", self.key())
    }
}

/// What the housekeeping threads publish for the gate, and what the gate counts.
#[derive(Debug, Default)]
pub struct RiskState {
    /// The kill file exists (the watch thread).
    pub kill_file: AtomicBool,
    /// Stopped by the signal (the watch thread toggles it on each SIGUSR2).
    pub signal_stop: AtomicBool,
    /// Paused from the dashboard (docs/dashboard.md).
    pub dashboard_stop: AtomicBool,
    /// A tripped breaker's code (0: none): [`Trip::Reverts`] or [`Trip::DailyLoss`].
    pub breaker: AtomicU8,
    /// Receipts seen so far (the receipt thread): the gate's in-flight count is what it signed
    /// less these.
    pub receipted: AtomicU64,
    /// Signed routes the node will never mine (refused, replaced by a cancel, their nonce used
    /// by another; the live port): they leave the in-flight count as a receipt would.
    pub ended_unmined: AtomicU64,
    /// Routes refused, per [`Trip`] code − 1.
    pub refused: [AtomicU64; TRIPS.len()],
    /// Operator resumes so far (SIGUSR2, the dashboard): the breakers restart their counts at
    /// each.
    pub resumes: AtomicU64,
}

impl RiskState {
    /// Signed routes settled so far: with a receipt, or ended without one.
    pub fn settled(&self) -> u64 {
        self.receipted
            .load(Ordering::Relaxed)
            .saturating_add(self.ended_unmined.load(Ordering::Relaxed))
    }

    /// The operator resumes (SIGUSR2 or the dashboard): the signal's stop and a tripped breaker
    /// are cleared, and the breakers count reverts and the day's loss afresh from here.
    pub fn resume(&self) {
        self.signal_stop.store(false, Ordering::Relaxed);
        self.breaker.store(0, Ordering::Relaxed);
        self.resumes.fetch_add(1, Ordering::Relaxed);
    }

    /// Why sending is stopped now, if it is: the kill file, the signal, then a breaker.
    pub fn stopped(&self) -> Option<Trip> {
        if self.kill_file.load(Ordering::Relaxed) {
            Some(Trip::KillFile)
        } else if self.signal_stop.load(Ordering::Relaxed) {
            Some(Trip::Signal)
        } else if self.dashboard_stop.load(Ordering::Relaxed) {
            Some(Trip::Dashboard)
        } else {
            Trip::from_code(self.breaker.load(Ordering::Relaxed))
        }
    }

    /// Refusals so far, per reason, the nonzero ones.
    pub fn refusals(&self) -> Vec<(Trip, u64)> {
        TRIPS
            .iter()
            .zip(&self.refused)
            .map(|(t, n)| (*t, n.load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// Minutes in the gas windows' ring: a day.
const MINUTES: usize = 1_440;
const MINUTE_NS: u64 = 60_000_000_000;

/// The gate [`TxBuilder::build`](crate::txbuild::TxBuilder::build) asks before it signs.
#[derive(Debug)]
pub struct RiskGate {
    limits: RiskLimits,
    state: Arc<RiskState>,
    /// Routes this gate let through.
    signed: u64,
    /// Gas (estimate, wei) signed per minute, a day's ring, and the minute each slot holds.
    gas: Box<[(u64, u128); MINUTES]>,
}

impl RiskGate {
    /// A gate enforcing `limits`, reading and counting in `state`.
    pub fn new(limits: RiskLimits, state: Arc<RiskState>) -> Self {
        Self {
            limits,
            state,
            signed: 0,
            gas: Box::new([(u64::MAX, 0); MINUTES]),
        }
    }

    /// Gas signed in the last `minutes` minutes up to minute `now`, wei.
    fn gas_over(&self, now: u64, minutes: u64) -> u128 {
        self.gas
            .iter()
            .filter(|(m, _)| *m != u64::MAX && *m <= now && now - *m < minutes)
            .map(|&(_, g)| g)
            .fold(0u128, u128::saturating_add)
    }

    /// Whether `opp` may be signed at `now_ns` (the pipeline clock: the opportunity's detection
    /// stamp); on `Ok` its gas is counted
    /// as spent. A refusal is counted in the state.
    pub fn check(&mut self, opp: &OpportunityFrame, now_ns: u64) -> Result<(), Trip> {
        let r = self.decide(opp, now_ns);
        match r {
            Ok(()) => {
                self.signed += 1;
                let minute = now_ns / MINUTE_NS;
                let slot = &mut self.gas[(minute % MINUTES as u64) as usize];
                if slot.0 != minute {
                    *slot = (minute, 0);
                }
                slot.1 = slot.1.saturating_add(opp.gas_cost_native);
            }
            Err(t) => {
                self.state.refused[usize::from(t as u8 - 1)].fetch_add(1, Ordering::Relaxed);
            }
        }
        r
    }

    fn decide(&self, opp: &OpportunityFrame, now_ns: u64) -> Result<(), Trip> {
        if let Some(t) = self.state.stopped() {
            return Err(t);
        }
        let l = &self.limits;
        if let Some(min) = l.min_net_profit_wei
            && opp.profit_native.saturating_sub(opp.gas_cost_native) < min
        {
            return Err(Trip::MinProfit);
        }
        if l.max_input[..l.max_input_len.min(MAX_INPUT_TOKENS)]
            .iter()
            .any(|(t, max)| *t == opp.token_in && opp.amount_in > *max)
        {
            return Err(Trip::MaxInput);
        }
        if let Some(max) = l.max_in_flight
            && self.signed.saturating_sub(self.state.settled()) >= max
        {
            return Err(Trip::InFlight);
        }
        let minute = now_ns / MINUTE_NS;
        for (limit, minutes, trip) in [
            (l.max_gas_hour_wei, 60, Trip::GasHour),
            (l.max_gas_day_wei, MINUTES as u64, Trip::GasDay),
        ] {
            if let Some(max) = limit
                && self
                    .gas_over(minute, minutes)
                    .saturating_add(opp.gas_cost_native)
                    > max
            {
                return Err(trip);
            }
        }
        Ok(())
    }
}

/// The breakers the receipt thread keeps: consecutive reverts and the day's realised net.
#[derive(Debug)]
pub struct Breakers {
    state: Arc<RiskState>,
    max_reverts: Option<u32>,
    max_loss_wei: Option<u128>,
    in_a_row: u32,
    /// The UTC day (days since 1970) `net_wei` is for.
    day: u64,
    /// Realised less gas since the start of `day` or the last resume, whichever is later.
    net_wei: i128,
    /// [`RiskState::resumes`] when the counts last restarted.
    resumes: u64,
}

impl Breakers {
    /// Breakers with these limits, publishing in `state`.
    pub fn new(
        state: Arc<RiskState>,
        max_reverts: Option<u32>,
        max_loss_wei: Option<u128>,
    ) -> Self {
        Self {
            state,
            max_reverts,
            max_loss_wei,
            in_a_row: 0,
            day: 0,
            net_wei: 0,
            resumes: 0,
        }
    }

    /// One receipt: whether it succeeded, its realised value less its gas (wei), and the wall
    /// clock (Unix ms). Returns the breaker it tripped, if any.
    pub fn on_receipt(&mut self, success: bool, net_wei: i128, unix_ms: u64) -> Option<Trip> {
        self.state.receipted.fetch_add(1, Ordering::Relaxed);
        // An operator resumed since the last receipt: a receipt of a route sent before the stop
        // must not trip the breaker again at once, so both counts start over.
        let resumes = self.state.resumes.load(Ordering::Relaxed);
        if resumes != self.resumes {
            self.resumes = resumes;
            self.in_a_row = 0;
            self.net_wei = 0;
        }
        let day = unix_ms / 86_400_000;
        if day != self.day {
            self.day = day;
            self.net_wei = 0;
            // A new day lifts the day's loss stop.
            let _ = self.state.breaker.compare_exchange(
                Trip::DailyLoss as u8,
                0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        self.net_wei = self.net_wei.saturating_add(net_wei);
        self.in_a_row = if success { 0 } else { self.in_a_row + 1 };
        let trip = if self.max_reverts.is_some_and(|m| self.in_a_row >= m) {
            Some(Trip::Reverts)
        } else if self
            .max_loss_wei
            .is_some_and(|m| self.net_wei < 0 && self.net_wei.unsigned_abs() >= m)
        {
            Some(Trip::DailyLoss)
        } else {
            None
        }?;
        let fresh = self
            .state
            .breaker
            .compare_exchange(0, trip as u8, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        fresh.then_some(trip)
    }
}

/// A stop or resume, for the log, the journal and the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskEvent {
    /// Wall clock, Unix ms.
    pub at_unix_ms: i64,
    /// `true`: sending stopped; `false`: it resumed.
    pub stopped: bool,
    /// Why, in words.
    pub reason: String,
}

/// The watch thread: the kill file and the stop signal, every `poll`. `signal` is set by the
/// SIGUSR2 handler; each time it is seen set, sending toggles between stopped and running (a
/// resume also clears a tripped breaker). Each change is logged and handed to `on_event`.
pub fn spawn_watch(
    state: Arc<RiskState>,
    kill_file: Option<PathBuf>,
    signal: Arc<AtomicBool>,
    poll: Duration,
    stop: Arc<AtomicBool>,
    cpu: Option<usize>,
    mut on_event: impl FnMut(RiskEvent) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("polyarb-risk".into())
        .spawn(move || {
            let _ = crate::placement::pin_current("risk", cpu);
            let mut event = |stopped: bool, reason: String| {
                if stopped {
                    tracing::warn!("sending stopped: {reason}");
                } else {
                    tracing::warn!("sending resumed: {reason}");
                }
                on_event(RiskEvent {
                    at_unix_ms: crate::journal::unix_ms(),
                    stopped,
                    reason,
                });
            };
            let mut breaker_seen = 0u8;
            let mut resumes_seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Breakers trip in the receipt thread; their stop is logged and journaled here,
                // before a signal read in the same round resumes it.
                let b = state.breaker.load(Ordering::Relaxed);
                let resumes = state.resumes.load(Ordering::Relaxed);
                if resumes != resumes_seen {
                    // The dashboard resumed (and recorded it): a cleared breaker is no event.
                    resumes_seen = resumes;
                    breaker_seen = b;
                } else if b != breaker_seen {
                    if let Some(t) = Trip::from_code(b) {
                        event(true, format!("{t}; SIGUSR2 resumes"));
                    } else if let Some(t) = Trip::from_code(breaker_seen) {
                        event(false, format!("{} cleared (a new UTC day)", t.key()));
                    }
                    breaker_seen = b;
                }
                if let Some(path) = &kill_file {
                    let present = path.exists();
                    if present != state.kill_file.swap(present, Ordering::Relaxed) {
                        event(
                            present,
                            format!(
                                "kill file {} {}",
                                path.display(),
                                if present { "created" } else { "removed" }
                            ),
                        );
                    }
                }
                if signal.swap(false, Ordering::Relaxed) {
                    let stopping = !(state.signal_stop.load(Ordering::Relaxed)
                        || state.breaker.load(Ordering::Relaxed) != 0);
                    if stopping {
                        state.signal_stop.store(true, Ordering::Relaxed);
                        event(true, "SIGUSR2 (send it again to resume)".into());
                    } else {
                        state.resume();
                        resumes_seen = state.resumes.load(Ordering::Relaxed);
                        breaker_seen = 0;
                        event(false, "SIGUSR2".into());
                    }
                }
                std::thread::sleep(poll);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opp(token: u8, amount_in: u128, profit_native: u128, gas: u128) -> OpportunityFrame {
        let mut o = OpportunityFrame::EMPTY;
        o.token_in = [token; 20];
        o.amount_in = amount_in;
        o.profit_native = profit_native;
        o.gas_cost_native = gas;
        o
    }

    #[test]
    fn units_read_exactly() {
        assert_eq!(parse_units("12.5", 6), Ok(12_500_000));
        assert_eq!(parse_units("0.000001", 6), Ok(1));
        assert_eq!(parse_units("5000", 18), Ok(5_000 * 10u128.pow(18)));
        assert_eq!(parse_units(".5", 1), Ok(5));
        assert!(
            parse_units("0.0000001", 6)
                .unwrap_err()
                .contains("more than 6 decimals")
        );
        for bad in ["", ".", "1e18", "-1", "1.2.3", "12 5"] {
            assert!(parse_units(bad, 18).is_err(), "{bad:?}");
        }
        assert!(
            parse_units("999999999999999999999", 18)
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn each_limit_refuses_and_counts_its_reason() {
        let state = Arc::new(RiskState::default());
        let mut limits = RiskLimits {
            min_net_profit_wei: Some(100),
            max_gas_hour_wei: Some(1_000),
            max_gas_day_wei: Some(1_500),
            max_in_flight: Some(5),
            ..RiskLimits::default()
        };
        limits.max_input[0] = ([7; 20], 1_000);
        limits.max_input_len = 1;
        let mut g = RiskGate::new(limits, Arc::clone(&state));
        let min = 60 * 1_000_000_000u64;
        // Net 99 < 100; 100 passes.
        assert_eq!(g.check(&opp(7, 10, 109, 10), 0), Err(Trip::MinProfit));
        assert_eq!(g.check(&opp(7, 10, 110, 10), 0), Ok(()));
        // Input over its token's maximum; another token has none.
        assert_eq!(g.check(&opp(7, 1_001, 1_000, 10), 0), Err(Trip::MaxInput));
        assert_eq!(g.check(&opp(8, 10u128.pow(30), 1_000, 10), 0), Ok(()));
        // Gas: 20 so far this hour; 980 more is 1,000 (allowed), 1 more is not.
        assert_eq!(g.check(&opp(7, 1, 10_000, 980), 5 * min), Ok(()));
        assert_eq!(g.check(&opp(7, 1, 10_000, 1), 6 * min), Err(Trip::GasHour));
        // An hour later the hour's window is empty, but the day's holds 1,000 of 1,500.
        assert_eq!(g.check(&opp(7, 1, 10_000, 400), 70 * min), Ok(()));
        assert_eq!(
            g.check(&opp(7, 1, 10_000, 101), 71 * min),
            Err(Trip::GasDay)
        );
        // A day after the last, both windows are empty again.
        assert_eq!(g.check(&opp(7, 1, 10_000, 1_000), 1_600 * min), Ok(()));
        // In flight: 5 signed, no receipt: the sixth waits; a receipt lets it through.
        assert_eq!(
            g.check(&opp(7, 1, 10_000, 0), 1_600 * min),
            Err(Trip::InFlight)
        );
        state.receipted.store(1, Ordering::Relaxed);
        assert_eq!(g.check(&opp(7, 1, 10_000, 0), 1_600 * min), Ok(()));
        // Stops come first, whatever the route.
        state.kill_file.store(true, Ordering::Relaxed);
        assert_eq!(g.check(&opp(8, 1, 10_000, 0), 0), Err(Trip::KillFile));
        state.kill_file.store(false, Ordering::Relaxed);
        state.signal_stop.store(true, Ordering::Relaxed);
        assert_eq!(g.check(&opp(8, 1, 10_000, 0), 0), Err(Trip::Signal));
        state.signal_stop.store(false, Ordering::Relaxed);
        state.breaker.store(Trip::Reverts as u8, Ordering::Relaxed);
        assert_eq!(g.check(&opp(8, 1, 10_000, 0), 0), Err(Trip::Reverts));
        let counts = state.refusals();
        for t in [
            Trip::MinProfit,
            Trip::MaxInput,
            Trip::GasHour,
            Trip::GasDay,
            Trip::InFlight,
            Trip::KillFile,
            Trip::Signal,
            Trip::Reverts,
        ] {
            assert_eq!(
                counts.iter().find(|(x, _)| *x == t).map(|c| c.1),
                Some(1),
                "{t}"
            );
        }
        assert_eq!(
            Trip::GasHour.to_string(),
            "risk: the last hour's gas would pass its limit (risk.max_gas_per_hour)"
        );
    }

    #[test]
    fn breakers_trip_on_reverts_in_a_row_and_on_the_days_loss() {
        let state = Arc::new(RiskState::default());
        let mut b = Breakers::new(Arc::clone(&state), Some(3), Some(1_000));
        let day = 86_400_000u64;
        assert_eq!(b.on_receipt(false, -10, day), None);
        assert_eq!(b.on_receipt(false, -10, day), None);
        // A success breaks the run.
        assert_eq!(b.on_receipt(true, 50, day), None);
        assert_eq!(b.on_receipt(false, -10, day), None);
        assert_eq!(b.on_receipt(false, -10, day), None);
        assert_eq!(b.on_receipt(false, -10, day), Some(Trip::Reverts));
        assert_eq!(state.stopped(), Some(Trip::Reverts));
        assert_eq!(state.receipted.load(Ordering::Relaxed), 6);
        // Resumed: the loss limit next, counted from the resume; −1,000 reaches it.
        state.resume();
        assert_eq!(state.stopped(), None);
        // A route sent before the stop reverts after the resume: the count restarted, so one
        // revert does not trip it again.
        assert_eq!(b.on_receipt(false, 0, day), None);
        assert_eq!(b.on_receipt(true, -999, day), None);
        assert_eq!(b.on_receipt(true, -1, day), Some(Trip::DailyLoss));
        // The next UTC day lifts it.
        assert_eq!(b.on_receipt(true, 5, 2 * day), None);
        assert_eq!(state.stopped(), None);
    }
}
