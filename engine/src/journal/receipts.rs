//! Receipts: what the node says became of each sent transaction, read off the hot path by a
//! housekeeping thread with its own connection, and journaled (docs/journal.md, "Receipts").
//!
//! [`parse_receipt`] and [`revert_reason`] are sans-IO: they read the node's JSON, checking every
//! field, so a hostile or broken node gives an error that is counted, never a wrong row.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256, keccak256};
use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use polyarb_feeds::RpcClient;
use serde_json::{Value, json};

use super::{Journal, unix_ms, value_wei};

/// `keccak256("Executed(address,uint256,uint256,uint256,uint8)")`: the executor's event
/// (contracts/src/Executor.sol), topic 0.
pub fn executed_topic() -> [u8; 32] {
    keccak256("Executed(address,uint256,uint256,uint256,uint8)").0
}

/// The executor's custom errors (contracts/src/Executor.sol), by signature: a revert's first four
/// bytes name one of them.
const ERRORS: &[&str] = &[
    "NotOwner()",
    "NotExecutor()",
    "IsPaused()",
    "TooManyExecutors()",
    "BadRoute()",
    "BadFunding()",
    "NoLender()",
    "ZeroAmount()",
    "OpenCycle()",
    "Unprofitable(uint256,uint256)",
    "TokenLost(address,uint256,uint256)",
    "TransferFailed()",
    "ApproveFailed()",
    "HopShort(uint256,uint256,uint256)",
    "UnexpectedCallback()",
    "NoCallback()",
    "CannotRepay(uint256,uint256)",
    // Solidity's own: `require(…, "text")` and `assert`/overflow.
    "Error(string)",
    "Panic(uint256)",
];

/// What the executor's `Executed` event said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The route's start token.
    pub token_in: Address,
    /// Its input, raw units.
    pub amount_in: U256,
    /// What it kept after repaying, raw units.
    pub profit: U256,
    /// What the lender took, raw units.
    pub premium: U256,
    /// The funding source's number (as `Funding`).
    pub funding: u8,
}

/// One receipt, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// `status == 1`.
    pub success: bool,
    /// Gas the transaction used.
    pub gas_used: u64,
    /// What each unit of gas cost, wei (base fee + the tip paid).
    pub effective_gas_price: u128,
    /// The block it is in.
    pub block: u64,
    /// Its position in that block.
    pub index: u64,
    /// The executor's event, if the transaction succeeded and emitted one.
    pub executed: Option<Executed>,
}

impl Receipt {
    /// Gas used × effective price, wei.
    pub fn gas_cost_wei(&self) -> U256 {
        U256::from(self.gas_used) * U256::from(self.effective_gas_price)
    }
}

/// Why a node's receipt (or trace) could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadReceipt(pub String);

impl fmt::Display for BadReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable receipt: {}", self.0)
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, BadReceipt> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| BadReceipt(format!("no {name} string")))
}

fn quantity(v: &Value, name: &str) -> Result<u128, BadReceipt> {
    let s = field(v, name)?;
    let hex = s
        .strip_prefix("0x")
        .filter(|h| !h.is_empty() && h.len() <= 32)
        .ok_or_else(|| BadReceipt(format!("{name} {s:?} is not a quantity")))?;
    u128::from_str_radix(hex, 16).map_err(|_| BadReceipt(format!("{name} {s:?} is not hex")))
}

fn bytes(s: &str, what: &str) -> Result<Vec<u8>, BadReceipt> {
    alloy_primitives::hex::decode(s).map_err(|_| BadReceipt(format!("{what} is not hex")))
}

/// Reads an `eth_getTransactionReceipt` result for transaction `hash`, sent to `executor`.
/// `Ok(None)`: not mined yet (`null`).
pub fn parse_receipt(
    v: &Value,
    hash: &[u8; 32],
    executor: Address,
) -> Result<Option<Receipt>, BadReceipt> {
    if v.is_null() {
        return Ok(None);
    }
    let got = bytes(field(v, "transactionHash")?, "transactionHash")?;
    if got.as_slice() != hash {
        return Err(BadReceipt("the receipt is for another transaction".into()));
    }
    let status = quantity(v, "status")?;
    if status > 1 {
        return Err(BadReceipt(format!("status {status}")));
    }
    let to_u64 = |name: &str| {
        quantity(v, name)
            .and_then(|q| u64::try_from(q).map_err(|_| BadReceipt(format!("{name} too large"))))
    };
    let mut executed = None;
    let topic = executed_topic();
    for log in v
        .get("logs")
        .and_then(Value::as_array)
        .ok_or_else(|| BadReceipt("no logs array".into()))?
    {
        let address: Address = field(log, "address")?
            .parse()
            .map_err(|_| BadReceipt("log address".into()))?;
        let topics = log
            .get("topics")
            .and_then(Value::as_array)
            .ok_or_else(|| BadReceipt("no topics".into()))?;
        let first = topics
            .first()
            .and_then(Value::as_str)
            .map(|t| bytes(t, "topic"));
        if address != executor || first != Some(Ok(topic.to_vec())) {
            continue;
        }
        let token = topics
            .get(1)
            .and_then(Value::as_str)
            .map(|t| bytes(t, "topic"))
            .transpose()?
            .filter(|t| t.len() == 32)
            .ok_or_else(|| BadReceipt("Executed without its token topic".into()))?;
        let data = bytes(field(log, "data")?, "log data")?;
        if data.len() != 128 {
            return Err(BadReceipt(format!(
                "Executed data of {} bytes, not 128",
                data.len()
            )));
        }
        let word = |i: usize| U256::from_be_slice(&data[32 * i..32 * (i + 1)]);
        let funding =
            u8::try_from(word(3)).map_err(|_| BadReceipt("Executed funding past uint8".into()))?;
        executed = Some(Executed {
            token_in: Address::from_slice(&token[12..]),
            amount_in: word(0),
            profit: word(1),
            premium: word(2),
            funding,
        });
    }
    Ok(Some(Receipt {
        success: status == 1,
        gas_used: to_u64("gasUsed")?,
        effective_gas_price: quantity(v, "effectiveGasPrice")?,
        block: to_u64("blockNumber")?,
        index: to_u64("transactionIndex")?,
        executed,
    }))
}

/// The revert reason in a `debug_traceTransaction` call-tracer result: the executor's error by
/// name with its arguments (`HopShort(1, 5, 6)`), `Error(string)`'s text, or the raw revert data
/// in hex when no known error matches; the tracer's `error` when there is no output.
pub fn revert_reason(trace: &Value) -> Result<String, BadReceipt> {
    let output = trace.get("output").and_then(Value::as_str).unwrap_or("0x");
    let data = bytes(output, "output")?;
    if data.len() < 4 {
        return Ok(trace
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("reverted without data")
            .to_owned());
    }
    for sig in ERRORS {
        if keccak256(sig.as_bytes())[..4] != data[..4] {
            continue;
        }
        let name = &sig[..sig.find('(').unwrap_or(sig.len())];
        let args = &data[4..];
        if *sig == "Error(string)" {
            // offset, length, bytes.
            let len = args
                .get(32..64)
                .map(|w| U256::from_be_slice(w))
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(0);
            let text = args.get(64..64 + len).map(String::from_utf8_lossy);
            return Ok(format!("Error({:?})", text.unwrap_or_default()));
        }
        let words: Vec<String> = args
            .chunks(32)
            .filter(|c| c.len() == 32)
            .map(|w| {
                if sig.contains("address") && w[..12].iter().all(|&b| b == 0) && w != [0; 32] {
                    Address::from_slice(&w[12..]).to_checksum(None)
                } else {
                    U256::from_be_slice(w).to_string()
                }
            })
            .collect();
        return Ok(format!("{name}({})", words.join(", ")));
    }
    Ok(format!(
        "reverted with 0x{}",
        alloy_primitives::hex::encode(&data)
    ))
}

/// A transaction to follow: the run, its opportunity, its hash.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// The run's id in the journal.
    pub run_id: i64,
    /// The opportunity's `seq`.
    pub seq: u64,
    /// The transaction's hash.
    pub hash: [u8; 32],
    /// `(profit_native_wei, profit)` at detection: how a raw unit of its start token is valued.
    pub valuation: (u128, u128),
}

/// What the receipt thread did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptStats {
    /// Receipts journaled.
    pub receipts: u64,
    /// Of them, reverted.
    pub reverted: u64,
    /// Transactions with no receipt when the run ended (not mined, or dropped).
    pub unseen_at_exit: u64,
    /// Node answers that could not be read, connections lost, journal writes failed.
    pub errors: u64,
    /// The first of those errors.
    pub first_error: Option<String>,
    /// Reverted routes whose word to the engine did not fit its ring (their holds ended two
    /// blocks after mining instead).
    pub revert_words_dropped: u64,
    /// Sent routes the node will never mine (refused, replaced by a cancel, their nonce used
    /// by another): no receipt was asked for after the port said so.
    pub unmined: u64,
}

impl fmt::Display for ReceiptStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "receipts: {} journaled ({} reverted), {} never to be mined (refused or replaced), \
             {} without a receipt at exit, {} errors",
            self.receipts, self.reverted, self.unmined, self.unseen_at_exit, self.errors
        )?;
        if self.revert_words_dropped > 0 {
            write!(
                f,
                ", {} reverts not passed to the engine (ring full)",
                self.revert_words_dropped
            )?;
        }
        if let Some(e) = &self.first_error {
            write!(f, " (first: {e})")?;
        }
        Ok(())
    }
}

/// Settings of the receipt thread.
#[derive(Debug)]
pub struct ReceiptSettings {
    /// The node to ask (its own connection: the hot path's socket is not touched).
    pub ws_url: String,
    /// Connect and call timeouts.
    pub timeout: Duration,
    /// How often pending transactions are asked for.
    pub poll: Duration,
    /// At the end of the run, how long pending ones are still waited for.
    pub wait_at_exit: Duration,
    /// The executor (whose event is read).
    pub executor: Address,
    /// The housekeeping CPU, if any.
    pub cpu: Option<usize>,
    /// The risk breakers fed by each receipt (docs/risk.md).
    pub breakers: Option<crate::risk::Breakers>,
    /// The metrics fed by each receipt (docs/metrics.md).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Where each reverted route's `seq` goes, for the engine to end its holds at once (the
    /// live port reads it). A full ring drops the word (counted); the holds then end two
    /// blocks after the route was mined, as without it.
    pub reverted: Option<rtrb::Producer<u64>>,
    /// The `seq` of each signed route the node will never mine (the live port): its receipt is
    /// no longer asked for.
    pub unmined: Option<rtrb::Consumer<u64>>,
}

/// The running receipt thread.
#[derive(Debug)]
pub struct ReceiptWatcher {
    tx: Sender<Option<Sent>>,
    thread: Option<JoinHandle<ReceiptStats>>,
}

impl ReceiptWatcher {
    /// Starts the thread; it writes through its own connection to `journal`'s file.
    pub fn start(journal: Journal, settings: ReceiptSettings) -> std::io::Result<Self> {
        let (tx, rx) = channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("polyarb-receipts".into())
            .spawn(move || {
                let _ = crate::placement::pin_current("receipts", settings.cpu);
                watch(journal, settings, &rx)
            })?;
        Ok(Self {
            tx,
            thread: Some(thread),
        })
    }

    /// Follows `sent` until its receipt is journaled.
    pub fn follow(&self, sent: Sent) {
        let _ = self.tx.send(Some(sent));
    }

    /// Waits up to the settings' `wait_at_exit` for the pending receipts, then stops.
    pub fn finish(mut self) -> ReceiptStats {
        let _ = self.tx.send(None);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(s)) => s,
            _ => ReceiptStats {
                first_error: Some("the receipt thread panicked".into()),
                ..ReceiptStats::default()
            },
        }
    }
}

fn note(stats: &mut ReceiptStats, e: impl fmt::Display) {
    stats.errors += 1;
    if stats.errors % 1000 == 1 {
        tracing::warn!("receipts: {e} ({} errors so far)", stats.errors);
    }
    stats.first_error.get_or_insert_with(|| e.to_string());
}

/// The thread: asks for every pending transaction's receipt once per `poll`, journals each one
/// found (with the revert reason for a failed one), and at the end waits up to `wait_at_exit`.
fn watch(
    mut journal: Journal,
    mut settings: ReceiptSettings,
    rx: &Receiver<Option<Sent>>,
) -> ReceiptStats {
    let mut breakers = settings.breakers.take();
    let mut reverted = settings.reverted.take();
    let mut unmined = settings.unmined.take();
    // Routes the port said will never be mined before their `follow` arrived here.
    let mut gone: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let s = &settings;
    let mut stats = ReceiptStats::default();
    let mut pending: VecDeque<Sent> = VecDeque::new();
    let mut rpc: Option<RpcClient> = None;
    let mut ending: Option<Instant> = None;
    // The node is asked once per period, however many transactions arrive meanwhile.
    let mut next_poll = Instant::now() + s.poll;
    loop {
        let wait = next_poll.saturating_duration_since(Instant::now());
        let got = rx.recv_timeout(wait);
        if let Some(ring) = unmined.as_mut() {
            while let Ok(seq) = ring.pop() {
                let before = pending.len();
                pending.retain(|p| p.seq != seq);
                if pending.len() == before && gone.len() < 65_536 {
                    gone.insert(seq);
                }
                stats.unmined += 1;
            }
        }
        match got {
            Ok(Some(sent)) if gone.remove(&sent.seq) => {}
            Ok(Some(sent)) => pending.push_back(sent),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                if ending.is_none() {
                    ending = Some(Instant::now() + s.wait_at_exit);
                    // At the end, one round at once, then the usual period.
                    next_poll = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + s.poll;
            if !pending.is_empty() {
                poll_once(
                    &mut journal,
                    s,
                    (&mut breakers, &mut reverted),
                    &mut rpc,
                    &mut pending,
                    &mut stats,
                );
            }
        }
        if let Some(end) = ending
            && (pending.is_empty() || Instant::now() >= end)
        {
            break;
        }
        if ending.is_some() {
            // The channel is closed: recv_timeout returns at once; wait out the period here.
            std::thread::sleep(next_poll.saturating_duration_since(Instant::now()));
        }
    }
    stats.unseen_at_exit = pending.len() as u64;
    stats
}

/// What receipt `r` of `sent` realised, valued in native wei at its opportunity's detection-time
/// price (0 for a revert or without the executor's event).
fn realised_wei(sent: &Sent, r: &Receipt) -> i128 {
    r.executed
        .and_then(|e| u128::try_from(e.profit).ok())
        .and_then(|p| value_wei(p, sent.valuation))
        .unwrap_or(0)
}

/// One round: every pending transaction's receipt, pipelined on one connection.
fn poll_once(
    journal: &mut Journal,
    s: &ReceiptSettings,
    (breakers, reverted): (
        &mut Option<crate::risk::Breakers>,
        &mut Option<rtrb::Producer<u64>>,
    ),
    rpc: &mut Option<RpcClient>,
    pending: &mut VecDeque<Sent>,
    stats: &mut ReceiptStats,
) {
    if rpc.is_none() {
        match RpcClient::connect(&s.ws_url, s.timeout) {
            Ok(mut c) => {
                c.set_timeout(s.timeout);
                *rpc = Some(c);
            }
            Err(e) => {
                note(stats, format!("cannot connect to {}: {e}", s.ws_url));
                return;
            }
        }
    }
    let Some(client) = rpc.as_mut() else { return };
    let calls: Vec<(&str, Value)> = pending
        .iter()
        .map(|p| {
            (
                "eth_getTransactionReceipt",
                json!([format!("0x{}", alloy_primitives::hex::encode(p.hash))]),
            )
        })
        .collect();
    let answers = match client.call_many(&calls) {
        Ok(a) => a,
        Err(e) => {
            note(stats, format!("eth_getTransactionReceipt: {e}"));
            *rpc = None;
            return;
        }
    };
    let mut still = VecDeque::with_capacity(pending.len());
    let mut found = Vec::new();
    for (sent, answer) in pending.drain(..).zip(answers) {
        match answer
            .map_err(|e| e.to_string())
            .and_then(|v| parse_receipt(&v, &sent.hash, s.executor).map_err(|e| e.to_string()))
        {
            Ok(Some(r)) => found.push((sent, r)),
            Ok(None) => still.push_back(sent),
            Err(e) => {
                // Asked again next round; a node that keeps answering badly keeps counting.
                note(stats, e);
                still.push_back(sent);
            }
        }
    }
    *pending = still;
    let mut rows = Vec::with_capacity(found.len());
    for (sent, r) in found {
        let reason = if r.success {
            None
        } else {
            let hash = format!("0x{}", alloy_primitives::hex::encode(sent.hash));
            Some(
                client
                    .call(
                        "debug_traceTransaction",
                        &json!([hash, {"tracer": "callTracer"}]),
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|t| revert_reason(&t).map_err(|e| e.to_string()))
                    .unwrap_or_else(|e| format!("unknown (the trace failed: {e})")),
            )
        };
        rows.push((sent, r, reason));
    }
    if rows.is_empty() {
        return;
    }
    if let Some(ring) = reverted.as_mut() {
        for (sent, r, _) in &rows {
            if !r.success && ring.push(sent.seq).is_err() {
                stats.revert_words_dropped += 1;
            }
        }
    }
    if let Some(b) = breakers.as_mut() {
        for (sent, r, _) in &rows {
            let realised = realised_wei(sent, r);
            let gas = i128::try_from(r.gas_cost_wei()).unwrap_or(i128::MAX);
            let at = u64::try_from(unix_ms()).unwrap_or(0);
            if let Some(t) = b.on_receipt(r.success, realised.saturating_sub(gas), at) {
                tracing::warn!("circuit breaker: {t}");
            }
        }
    }
    if let Some(m) = &s.metrics {
        for (sent, r, _) in &rows {
            let realised = realised_wei(sent, r);
            m.on_receipt(
                r.success,
                u128::try_from(r.gas_cost_wei()).unwrap_or(u128::MAX),
                realised,
            );
        }
    }
    match journal.write_receipts(&rows, unix_ms()) {
        Ok(()) => {
            stats.receipts += rows.len() as u64;
            stats.reverted += rows.iter().filter(|(_, r, _)| !r.success).count() as u64;
        }
        Err(e) => {
            note(stats, format!("journal: {e}"));
            // Asked for again: nothing found is lost while the run lasts.
            pending.extend(rows.into_iter().map(|(sent, _, _)| sent));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXECUTOR: &str = "0x8464135c8f25da09e49bc8782676a84730c318bc";

    fn receipt(status: &str, logs: Value) -> Value {
        json!({
            "transactionHash": format!("0x{}", "ab".repeat(32)),
            "status": status,
            "gasUsed": "0x2222e",
            "effectiveGasPrice": "0x6fc23ac00",
            "blockNumber": "0x1f6",
            "transactionIndex": "0x0",
            "logs": logs,
        })
    }

    fn executed_log(address: &str, data_words: &[u64]) -> Value {
        let data: String = data_words.iter().map(|w| format!("{w:064x}")).collect();
        json!({
            "address": address,
            "topics": [
                format!("0x{}", alloy_primitives::hex::encode(executed_topic())),
                format!("0x{}{}", "00".repeat(12), "5fbdb2315678afecb367f032d93f642f64180aa3"),
            ],
            "data": format!("0x{data}"),
        })
    }

    #[test]
    fn reads_a_receipt_and_the_executors_event() {
        let executor: Address = EXECUTOR.parse().unwrap();
        let v = receipt("0x1", json!([executed_log(EXECUTOR, &[1000, 25, 3, 2])]));
        let r = parse_receipt(&v, &[0xab; 32], executor).unwrap().unwrap();
        assert!(r.success);
        assert_eq!((r.gas_used, r.block, r.index), (139_822, 502, 0));
        assert_eq!(r.effective_gas_price, 30_000_000_000);
        assert_eq!(r.gas_cost_wei(), U256::from(139_822u64 * 30_000_000_000));
        let e = r.executed.unwrap();
        assert_eq!(
            (e.amount_in, e.profit, e.premium, e.funding),
            (U256::from(1000), U256::from(25), U256::from(3), 2)
        );
        assert_eq!(
            e.token_in,
            "0x5fbdb2315678afecb367f032d93f642f64180aa3"
                .parse::<Address>()
                .unwrap()
        );
        // Another contract's identical event is not ours.
        let other = receipt(
            "0x1",
            json!([executed_log(
                "0x0000000000000000000000000000000000000001",
                &[1, 2, 3, 4]
            )]),
        );
        let r = parse_receipt(&other, &[0xab; 32], executor)
            .unwrap()
            .unwrap();
        assert_eq!(r.executed, None);
        // Not mined yet.
        assert_eq!(parse_receipt(&Value::Null, &[0; 32], executor), Ok(None));
    }

    #[test]
    fn a_hostile_receipt_is_an_error_not_a_row() {
        let executor: Address = EXECUTOR.parse().unwrap();
        let bad = [
            (receipt("0x2", json!([])), "status 2"),
            (receipt("0x1", json!("nope")), "no logs array"),
            (receipt("1", json!([])), "is not a quantity"),
            (
                receipt("0x1", json!([executed_log(EXECUTOR, &[1, 2, 3])])),
                "96 bytes",
            ),
            (
                receipt("0x1", json!([executed_log(EXECUTOR, &[1, 2, 3, 256])])),
                "past uint8",
            ),
        ];
        for (v, why) in bad {
            let e = parse_receipt(&v, &[0xab; 32], executor).unwrap_err();
            assert!(e.0.contains(why), "{e} vs {why}");
        }
        let mut v = receipt("0x1", json!([]));
        v["gasUsed"] = json!(format!("0x{}", "f".repeat(33)));
        assert!(parse_receipt(&v, &[0xab; 32], executor).is_err());
        // A receipt for another hash.
        let e = parse_receipt(&receipt("0x1", json!([])), &[0xcd; 32], executor).unwrap_err();
        assert!(e.0.contains("another transaction"), "{e}");
        let mut v = receipt("0x1", json!([]));
        v.as_object_mut().unwrap().remove("blockNumber");
        assert!(parse_receipt(&v, &[0xab; 32], executor).is_err());
    }

    #[test]
    fn revert_reasons_are_named() {
        let sel = |sig: &str| alloy_primitives::hex::encode(&keccak256(sig.as_bytes())[..4]);
        let trace = |out: String| json!({"error": "execution reverted", "output": out});
        assert_eq!(
            revert_reason(&trace(format!("0x{}", sel("IsPaused()")))).unwrap(),
            "IsPaused()"
        );
        assert_eq!(
            revert_reason(&trace(format!(
                "0x{}{:064x}{:064x}{:064x}",
                sel("HopShort(uint256,uint256,uint256)"),
                1,
                5,
                6
            )))
            .unwrap(),
            "HopShort(1, 5, 6)"
        );
        let text = "too little";
        assert_eq!(
            revert_reason(&trace(format!(
                "0x{}{:064x}{:064x}{}{}",
                sel("Error(string)"),
                32,
                text.len(),
                alloy_primitives::hex::encode(text),
                "00".repeat(32 - text.len())
            )))
            .unwrap(),
            "Error(\"too little\")"
        );
        assert_eq!(
            revert_reason(&trace("0xdeadbeef01".into())).unwrap(),
            "reverted with 0xdeadbeef01"
        );
        assert_eq!(
            revert_reason(&json!({"error": "out of gas"})).unwrap(),
            "out of gas"
        );
        assert!(revert_reason(&trace("0xzz".into())).is_err());
    }
}
