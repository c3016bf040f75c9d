//! Prometheus metrics (docs/metrics.md): `GET /metrics` on `[metrics] listen`, served by the
//! `polyarb-metrics` housekeeping thread in the Prometheus text format (`prometheus-client`).
//!
//! Nothing here runs on the hot path. The report thread updates the opportunity counters and
//! latency histograms from each report. The receipt thread updates receipts, gas and profit, the
//! feed stage keeps [`FeedHealth`] (relaxed stores), and the risk state is read as it stands. The
//! executor's balances are read from the node by this thread, on its own connection, at most
//! once per `balance_refresh_ms`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use prometheus::{
    Counter, Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, exponential_buckets,
};
use serde::Deserialize;

use crate::pipeline::Report;
use crate::risk::{RiskState, TRIPS};

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `GET /metrics` and the dashboard (e.g. "127.0.0.1:9184"); absent: no
    /// endpoint.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// A file holding the dashboard's control token (pause and resume); absent: the controls are
    /// off. Read at start; it must not be readable by group or others.
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
    /// How often the executor's start-token balances are read again, at most, ms (500 to
    /// 3,600,000).
    #[serde(default = "default_balance_ms")]
    pub balance_refresh_ms: u32,
}

fn default_balance_ms() -> u32 {
    5_000
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            token_file: None,
            balance_refresh_ms: default_balance_ms(),
        }
    }
}

/// Feed health, kept by the feed stage with relaxed stores (no lock, no allocation).
#[derive(Debug, Default)]
pub struct FeedHealth {
    /// Heads seen.
    pub heads: AtomicU64,
    /// The newest head's block number.
    pub head_block: AtomicU64,
    /// Wall clock of the newest head, Unix ms.
    pub head_unix_ms: AtomicU64,
    /// Connections lost.
    pub drops: AtomicU64,
    /// Reconnects.
    pub reconnects: AtomicU64,
}

/// The metrics a run keeps, and their registry (`prometheus`: atomics, and a lock per labelled
/// family, none of it on the hot path).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    opportunities: IntCounter,
    signed: IntCounter,
    not_signed: IntCounterVec,
    detection: Histogram,
    last_nonce: IntGauge,
    receipts: IntCounterVec,
    gas_spent: Counter,
    realised: Counter,
    balance: GaugeVec,
    in_flight: IntGauge,
    stopped: IntGauge,
    heads: IntGauge,
    head_block: IntGauge,
    head_age: prometheus::Gauge,
    drops: IntGauge,
    reconnects: IntGauge,
    refused: IntGaugeVec,
    /// Signed routes (for the in-flight gauge: less the receipts seen).
    signed_count: AtomicU64,
    /// Submission latency (log read → signed transaction written), counted by the feed stage
    /// itself; exposed as `polyarb_submission_seconds`.
    pub submission: Arc<crate::latency::SharedLatency>,
    /// For the dashboard: the newest opportunities, the realised net over time and the stops.
    page: std::sync::Mutex<Page>,
}

/// What the dashboard shows beyond the counters (kept by the report and receipt threads and the
/// controls; read by the metrics thread: a lock, none of it on the hot path).
#[derive(Debug, Default)]
struct Page {
    /// `(Unix ms, one line, transaction hash or why not signed)`, newest last, at most 50.
    recent: std::collections::VecDeque<(i64, String, Option<String>, Option<String>)>,
    /// `(Unix ms, realised net so far, native units)`, at most 2,000 points.
    pnl: Vec<(i64, f64)>,
    /// Stops and resumes, newest last, at most 50.
    events: std::collections::VecDeque<crate::risk::RiskEvent>,
    /// Realised profit less gas so far, native units.
    net: f64,
    /// The executor's start-token balances, token units.
    balances: std::collections::BTreeMap<String, f64>,
}

/// Opportunities, stop events and P&L points the dashboard keeps.
const PAGE_ROWS: usize = 50;
const PAGE_POINTS: usize = 2_000;

/// A metric of a name this file spells: registered, and its handle kept.
macro_rules! metric {
    ($registry:expr, $make:expr) => {{
        let m = $make.expect("a valid metric name and help");
        $registry
            .register(Box::new(m.clone()))
            .expect("metric names are registered once");
        m
    }};
}

impl Metrics {
    /// Empty metrics, registered.
    pub fn new() -> Self {
        let r = Registry::new();
        // Latency buckets in seconds, from 5 µs doubling to ~80 s.
        let buckets = exponential_buckets(5e-6, 2.0, 25).unwrap_or_default();
        Self {
            opportunities: metric!(
                r,
                IntCounter::new(
                    "polyarb_opportunities_total",
                    "Opportunities the engine found"
                )
            ),
            signed: metric!(
                r,
                IntCounter::new(
                    "polyarb_signed_total",
                    "Routes signed and handed to the socket"
                )
            ),
            not_signed: metric!(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "polyarb_not_signed_total",
                        "Opportunities not signed, by reason (a risk limit's key, or a build error)"
                    ),
                    &["reason"]
                )
            ),
            detection: metric!(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "polyarb_detection_seconds",
                        "Log read to opportunity, seconds"
                    )
                    .buckets(buckets)
                )
            ),
            last_nonce: metric!(
                r,
                IntGauge::new("polyarb_last_nonce", "The nonce of the newest signed route")
            ),
            receipts: metric!(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "polyarb_receipts_total",
                        "Receipts journaled, by status (success, reverted)"
                    ),
                    &["status"]
                )
            ),
            gas_spent: metric!(
                r,
                Counter::new(
                    "polyarb_gas_spent_native_total",
                    "Gas the receipts paid (gasUsed x effectiveGasPrice), native units"
                )
            ),
            realised: metric!(
                r,
                Counter::new(
                    "polyarb_realised_profit_native_total",
                    "Profit the executor's events reported, valued at detection, native units"
                )
            ),
            balance: metric!(
                r,
                GaugeVec::new(
                    Opts::new(
                        "polyarb_executor_balance",
                        "The executor's balance of each start token, token units"
                    ),
                    &["token"]
                )
            ),
            in_flight: metric!(
                r,
                IntGauge::new("polyarb_in_flight", "Signed routes without a receipt yet")
            ),
            stopped: metric!(
                r,
                IntGauge::new(
                    "polyarb_sending_stopped",
                    "1 while sending is stopped (kill file, SIGUSR2 or a breaker)"
                )
            ),
            heads: metric!(
                r,
                IntGauge::new("polyarb_feed_heads", "Heads the feed has seen")
            ),
            head_block: metric!(
                r,
                IntGauge::new("polyarb_feed_head_block", "The newest head's block number")
            ),
            head_age: metric!(
                r,
                prometheus::Gauge::new(
                    "polyarb_feed_head_age_seconds",
                    "Seconds since the newest head arrived (-1: none yet)"
                )
            ),
            drops: metric!(
                r,
                IntGauge::new("polyarb_feed_drops", "Connections to the node lost")
            ),
            reconnects: metric!(
                r,
                IntGauge::new("polyarb_feed_reconnects", "Reconnects to the node")
            ),
            refused: metric!(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "polyarb_risk_refused",
                        "Routes refused by a risk limit so far, by limit"
                    ),
                    &["limit"]
                )
            ),
            registry: r,
            signed_count: AtomicU64::new(0),
            submission: Arc::default(),
            page: std::sync::Mutex::new(Page::default()),
        }
    }

    /// The dashboard's page state, even if a thread panicked while holding it.
    fn page(&self) -> std::sync::MutexGuard<'_, Page> {
        self.page
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One opportunity for the dashboard's list: its one-line description.
    pub fn note_recent(&self, r: &Report, line: String) {
        let mut p = self.page();
        p.recent.push_back((
            crate::journal::unix_ms(),
            line,
            r.tx.map(|t| format!("0x{}", alloy_primitives::hex::encode(t.hash))),
            r.error.map(|e| e.to_string()),
        ));
        while p.recent.len() > PAGE_ROWS {
            p.recent.pop_front();
        }
    }

    /// A stop or resume, for the dashboard.
    pub fn on_risk_event(&self, e: &crate::risk::RiskEvent) {
        let mut p = self.page();
        p.events.push_back(e.clone());
        while p.events.len() > PAGE_ROWS {
            p.events.pop_front();
        }
    }

    /// The dashboard's `/api/status`.
    pub fn status(&self, s: &Sources) -> serde_json::Value {
        use serde_json::json;
        let stopped = s.risk.stopped();
        let head_ms = s.feed.head_unix_ms.load(Ordering::Relaxed);
        let receipts = |st: &str| self.receipts.with_label_values(&[st]).get();
        let p = self.page();
        let balances: serde_json::Map<String, serde_json::Value> = p
            .balances
            .iter()
            .map(|(t, v)| (t.clone(), json!(v)))
            .collect();
        json!({
            "sending": if stopped.is_some() { "stopped" } else { "running" },
            "stop_reason": stopped.map(|t| t.to_string()),
            "started_ms": s.started_unix_ms,
            "opportunities": self.opportunities.get(),
            "signed": self.signed.get(),
            "not_signed": self.opportunities.get().saturating_sub(self.signed.get()),
            "in_flight": self.in_flight(&s.risk),
            "receipts": {"success": receipts("success"), "reverted": receipts("reverted")},
            "realised_net_native": p.net,
            "gas_native": self.gas_spent.get(),
            "balances": balances,
            "head": {
                "block": s.feed.head_block.load(Ordering::Relaxed),
                "age_s": if head_ms == 0 { -1.0 } else {
                    (crate::journal::unix_ms().max(0) as u64).saturating_sub(head_ms) as f64 / 1e3
                },
            },
            "limits": TRIPS.iter().zip(&s.risk.refused).map(|(t, n)| json!({
                "key": t.key(), "refused": n.load(Ordering::Relaxed)
            })).collect::<Vec<_>>(),
            "recent": p.recent.iter().rev().map(|(at, line, tx, error)| json!({
                "at_ms": at, "line": line, "tx": tx, "error": error
            })).collect::<Vec<_>>(),
            "pnl": p.pnl.iter().map(|(at, v)| json!([at, v])).collect::<Vec<_>>(),
            "events": p.events.iter().rev().map(|e| json!({
                "at_ms": e.at_unix_ms, "stopped": e.stopped, "reason": e.reason
            })).collect::<Vec<_>>(),
            "controls": s.token.is_some(),
        })
    }

    /// One report from the pipeline (the report thread).
    pub fn on_report(&self, r: &Report) {
        self.opportunities.inc();
        let o = &r.opp;
        self.detection
            .observe(o.detect_ns.saturating_sub(o.recv_ns) as f64 / 1e9);
        match (&r.tx, &r.error) {
            (Some(tx), _) => {
                self.signed.inc();
                self.signed_count.fetch_add(1, Ordering::Relaxed);
                self.last_nonce
                    .set(i64::try_from(tx.nonce).unwrap_or(i64::MAX));
            }
            (None, Some(e)) => {
                self.not_signed.with_label_values(&[e.label()]).inc();
            }
            (None, None) => {}
        }
    }

    /// One receipt (the receipt thread): success, gas paid and profit realised, native wei.
    pub fn on_receipt(&self, success: bool, gas_wei: u128, realised_wei: i128) {
        let status = if success { "success" } else { "reverted" };
        self.receipts.with_label_values(&[status]).inc();
        self.gas_spent.inc_by(gas_wei as f64 / 1e18);
        if realised_wei > 0 {
            self.realised.inc_by(realised_wei as f64 / 1e18);
        }
        let mut p = self.page();
        p.net += (realised_wei as f64 - gas_wei as f64) / 1e18;
        let point = (crate::journal::unix_ms(), p.net);
        p.pnl.push(point);
        if p.pnl.len() > PAGE_POINTS {
            // Thin the history by half rather than forget its start.
            let kept: Vec<(i64, f64)> = p.pnl.iter().step_by(2).copied().collect();
            p.pnl = kept;
        }
    }

    /// The executor's balance of `token`, in its units.
    pub fn set_balance(&self, token: &str, units: f64) {
        self.balance.with_label_values(&[token]).set(units);
        self.page().balances.insert(token.to_owned(), units);
    }

    /// Signed routes not settled yet: without a receipt, less those never to be mined.
    fn in_flight(&self, risk: &RiskState) -> u64 {
        self.signed_count
            .load(Ordering::Relaxed)
            .saturating_sub(risk.settled())
    }

    /// The text exposition (format 0.0.4), with the gauges read now from `risk` and `feed`.
    pub fn encode(&self, risk: &RiskState, feed: &FeedHealth) -> String {
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.in_flight.set(as_i64(self.in_flight(risk)));
        self.stopped.set(i64::from(risk.stopped().is_some()));
        self.heads.set(as_i64(feed.heads.load(Ordering::Relaxed)));
        self.head_block
            .set(as_i64(feed.head_block.load(Ordering::Relaxed)));
        let head_ms = feed.head_unix_ms.load(Ordering::Relaxed);
        self.head_age.set(if head_ms == 0 {
            -1.0
        } else {
            (crate::journal::unix_ms().max(0) as u64).saturating_sub(head_ms) as f64 / 1e3
        });
        self.drops.set(as_i64(feed.drops.load(Ordering::Relaxed)));
        self.reconnects
            .set(as_i64(feed.reconnects.load(Ordering::Relaxed)));
        for (t, n) in TRIPS.iter().zip(&risk.refused) {
            self.refused
                .with_label_values(&[t.key()])
                .set(as_i64(n.load(Ordering::Relaxed)));
        }
        let mut out = Vec::with_capacity(8_192);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return format!("# the exposition failed: {e}\n");
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        // The feed stage's own buckets, in the same text format (the registry holds no
        // histogram another thread fills).
        let (buckets, sum) = self.submission.snapshot();
        let name = "polyarb_submission_seconds";
        text.push_str(&format!(
            "# HELP {name} Log read to signed transaction written, seconds\n# TYPE {name} histogram\n"
        ));
        for (le, n) in &buckets {
            let le = if le.is_finite() {
                le.to_string()
            } else {
                "+Inf".into()
            };
            text.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {n}\n"));
        }
        let total = buckets.last().map_or(0, |b| b.1);
        text.push_str(&format!("{name}_sum {sum}\n{name}_count {total}\n"));
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the metrics thread reads the executor's balances.
#[derive(Debug, Clone)]
pub struct BalanceSource {
    /// The node's websocket URL (its own connection).
    pub url: String,
    /// Connect and call timeout.
    pub timeout: Duration,
    /// The executor.
    pub executor: Address,
    /// The start tokens: `(symbol, address, decimals)`.
    pub tokens: Vec<(String, Address, u8)>,
}

/// What the metrics thread needs besides the metrics.
#[derive(Debug)]
pub struct Sources {
    /// The risk state (stops, refusals, receipts seen).
    pub risk: Arc<RiskState>,
    /// The feed's health.
    pub feed: Arc<FeedHealth>,
    /// For balances: where to read them, if anywhere.
    pub node: Option<BalanceSource>,
    /// How often balances are read, at most.
    pub balance_every: Duration,
    /// The dashboard's control token (`None`: the controls are off).
    pub token: Option<String>,
    /// The journal and the run's id, for the dashboard's stops and resumes.
    pub journal: Option<(crate::journal::Journal, i64)>,
    /// The run: its kind, chain and start (Unix ms), shown on the page.
    pub started_unix_ms: i64,
}

/// Serves `GET /metrics` on `listener` until `stop`. Requests are read with a 2 s timeout and
/// an 8 KiB cap; anything else than `GET /metrics` gets a 404 or 400 in words.
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut sources: Sources,
    stop: Arc<AtomicBool>,
    cpu: Option<usize>,
) -> std::io::Result<JoinHandle<u64>> {
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("polyarb-metrics".into())
        .spawn(move || {
            let _ = crate::placement::pin_current("metrics", cpu);
            let mut served = 0u64;
            let mut balances_at: Option<Instant> = None;
            let mut rpc: Option<polyarb_feeds::RpcClient> = None;
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if balances_at.is_none_or(|t| t.elapsed() >= sources.balance_every) {
                            balances_at = Some(Instant::now());
                            read_balances(&metrics, &sources, &mut rpc);
                        }
                        served += u64::from(answer(stream, &metrics, &mut sources));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        tracing::warn!("metrics: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
            served
        })
}

/// The executor's start-token balances, by `balanceOf` on the metrics thread's own connection.
fn read_balances(metrics: &Metrics, sources: &Sources, rpc: &mut Option<polyarb_feeds::RpcClient>) {
    let Some(BalanceSource {
        url,
        timeout,
        executor,
        tokens,
    }) = &sources.node
    else {
        return;
    };
    if rpc.is_none() {
        match polyarb_feeds::RpcClient::connect(url, *timeout) {
            Ok(mut c) => {
                c.set_timeout(*timeout);
                *rpc = Some(c);
            }
            Err(e) => {
                tracing::warn!("metrics: cannot reach the node for balances: {e}");
                return;
            }
        }
    }
    let Some(c) = rpc.as_mut() else { return };
    let mut data = [0u8; 36];
    data[..4].copy_from_slice(&[0x70, 0xa0, 0x82, 0x31]);
    data[16..].copy_from_slice(executor.as_slice());
    let calls: Vec<([u8; 20], &[u8])> = tokens.iter().map(|t| (t.1.0.0, &data[..])).collect();
    match c.eth_call_many(&calls, polyarb_feeds::BlockTag::Latest) {
        Ok(answers) => {
            for ((symbol, _, decimals), a) in tokens.iter().zip(answers) {
                if let Ok(bytes) = a
                    && bytes.len() == 32
                {
                    let raw = alloy_primitives::U256::from_be_slice(&bytes);
                    let units = f64::from(raw) / 10f64.powi(i32::from(*decimals));
                    metrics.set_balance(symbol, units);
                }
            }
        }
        Err(e) => {
            tracing::warn!("metrics: balances: {e}");
            *rpc = None;
        }
    }
}

/// Answers one connection; `true` if it was a metrics scrape.
/// Answers one connection; `true` if it was a metrics scrape. Routes: `GET /metrics`, the
/// dashboard `GET /` and `GET /api/status`, and `POST /api/pause` and `/api/resume` with the
/// control token (docs/dashboard.md).
fn answer(mut stream: TcpStream, metrics: &Metrics, sources: &mut Sources) -> bool {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8_192];
    let mut len = 0;
    // Read the head only (up to the blank line); a body is not read.
    while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let bearer = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| {
            v.trim()
                .strip_prefix("Bearer ")
                .map(str::trim)
                .map(str::to_owned)
        });
    let mut parts = line.split(' ');
    let (method, path, version) = (parts.next(), parts.next(), parts.next());
    let text = "text/plain; charset=utf-8";
    let http1 = version.is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next().is_none();
    let (status, ctype, body, scrape) = match (method, path) {
        _ if !http1 => (
            "400 Bad Request",
            text,
            "bad request: expected an HTTP/1.x request line\n".to_owned(),
            false,
        ),
        (Some("GET"), Some("/metrics")) => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.encode(&sources.risk, &sources.feed),
            true,
        ),
        (Some("GET"), Some("/")) => (
            "200 OK",
            "text/html; charset=utf-8",
            include_str!("dashboard.html").to_owned(),
            false,
        ),
        (Some("GET"), Some("/api/status")) => (
            "200 OK",
            "application/json",
            metrics.status(sources).to_string(),
            false,
        ),
        (Some("POST"), Some(p @ ("/api/pause" | "/api/resume"))) => {
            let (status, body) = control(metrics, sources, p == "/api/pause", bearer.as_deref());
            (status, text, body, false)
        }
        (Some(_), Some("/metrics" | "/" | "/api/status" | "/api/pause" | "/api/resume")) => (
            "405 Method Not Allowed",
            text,
            "method not allowed: GET /metrics, GET /, GET /api/status, POST /api/pause, POST \
             /api/resume\n"
                .to_owned(),
            false,
        ),
        _ => (
            "404 Not Found",
            text,
            "not found: polyarb serves GET /metrics, the dashboard at /, GET /api/status, \
             POST /api/pause and POST /api/resume\n"
                .to_owned(),
            false,
        ),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    scrape
}

/// Whether `a` equals `b`, comparing every byte (no early exit on the first difference).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Pause or resume from the dashboard, if `bearer` is the control token. A pause stops
/// sending (the engine keeps its state); a resume clears the dashboard's pause, a SIGUSR2 stop
/// and a tripped breaker. Each is logged, kept for the page and journaled.
fn control(
    metrics: &Metrics,
    sources: &mut Sources,
    pause: bool,
    bearer: Option<&str>,
) -> (&'static str, String) {
    let Some(token) = sources.token.as_deref() else {
        return (
            "403 Forbidden",
            "controls are off: set metrics.token_file to a file holding the control token\n".into(),
        );
    };
    let Some(given) = bearer else {
        return (
            "401 Unauthorized",
            "a control needs the header Authorization: Bearer <token>\n".into(),
        );
    };
    if !same_secret(given.as_bytes(), token.as_bytes()) {
        return ("401 Unauthorized", "wrong token\n".into());
    }
    let risk = &sources.risk;
    if pause {
        risk.dashboard_stop.store(true, Ordering::Relaxed);
    } else {
        risk.dashboard_stop.store(false, Ordering::Relaxed);
        risk.resume();
    }
    let event = crate::risk::RiskEvent {
        at_unix_ms: crate::journal::unix_ms(),
        stopped: pause,
        reason: "dashboard".into(),
    };
    if pause {
        tracing::warn!("sending stopped: dashboard");
    } else {
        tracing::warn!("sending resumed: dashboard");
    }
    if let Some((j, run_id)) = sources.journal.as_mut()
        && let Err(e) = j.write_risk_event(*run_id, &event)
    {
        tracing::error!("journal: cannot record a risk event: {e}");
    }
    metrics.on_risk_event(&event);
    (
        "200 OK",
        if pause {
            "sending paused\n".into()
        } else {
            "sending resumed\n".into()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_help_and_type() {
        let m = Metrics::new();
        let mut r = Report {
            opp: polyarb_core::OpportunityFrame::EMPTY,
            tx: Some(crate::pipeline::SignedInfo {
                hash: [1; 32],
                nonce: 7,
                len: 100,
            }),
            error: None,
        };
        r.opp.recv_ns = 1_000;
        r.opp.detect_ns = 51_000;
        m.on_report(&r);
        r.tx = None;
        r.error = Some(crate::txbuild::TxBuildError::Risk(
            crate::risk::Trip::MaxInput,
        ));
        m.on_report(&r);
        m.on_receipt(true, 2_000_000_000_000_000, 5_000_000_000_000_000_000);
        m.on_receipt(false, 1_000_000_000_000_000, 0);
        m.set_balance("WMATIC", 12.5);
        let risk = RiskState::default();
        risk.receipted.store(1, Ordering::Relaxed);
        let text = m.encode(&risk, &FeedHealth::default());
        for want in [
            "polyarb_opportunities_total 2",
            "polyarb_signed_total 1",
            "polyarb_not_signed_total{reason=\"risk.max_input\"} 1",
            "polyarb_last_nonce 7",
            "polyarb_receipts_total{status=\"reverted\"} 1",
            "polyarb_gas_spent_native_total 0.003",
            "polyarb_realised_profit_native_total 5",
            "polyarb_executor_balance{token=\"WMATIC\"} 12.5",
            "polyarb_in_flight 0",
            "polyarb_sending_stopped 0",
            "polyarb_detection_seconds_count 2",
            "polyarb_risk_refused{limit=\"risk.kill_file\"} 0",
            "polyarb_feed_head_age_seconds -1",
        ] {
            assert!(text.contains(want), "no {want:?} in\n{text}");
        }
    }

    /// Every metric the Grafana dashboard (docs/grafana/polyarb.json) queries is one this
    /// exposition has: a renamed metric cannot leave a panel silently empty.
    #[test]
    fn the_grafana_dashboard_queries_only_metrics_that_exist() {
        let dash: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/grafana/polyarb.json")).unwrap();
        // Labelled families appear once they have a child: give each one.
        let m = Metrics::new();
        m.on_report(&Report {
            opp: polyarb_core::OpportunityFrame::EMPTY,
            tx: None,
            error: Some(crate::txbuild::TxBuildError::Route),
        });
        m.on_receipt(true, 1, 1);
        m.set_balance("WMATIC", 1.0);
        let text = m.encode(&RiskState::default(), &FeedHealth::default());
        let mut queried = 0;
        for panel in dash["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                let mut rest = expr;
                while let Some(at) = rest.find("polyarb_") {
                    let name: String = rest[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    assert!(
                        text.contains(&format!("# TYPE {name} "))
                            || text.contains(&format!(
                                "# TYPE {} histogram",
                                name.trim_end_matches("_bucket")
                            )),
                        "{} queries {name}, which /metrics does not have",
                        panel["title"]
                    );
                    queried += 1;
                    rest = &rest[at + name.len()..];
                }
            }
        }
        assert!(queried >= 15, "{queried}");
    }
}
