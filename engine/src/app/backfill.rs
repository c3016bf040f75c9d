//! After a reconnect: the blocks missed while the socket was down, as the payloads the live
//! subscriptions would have delivered (each block's head, then its tracked logs in log-index
//! order), so the feed stage reads them with the same decoder and the engine applies them in
//! chain order before anything that arrives live.
//!
//! Off the hot path: it runs once per reconnect, with blocking calls. Logs already applied (the
//! last block before the drop is asked again, since its logs may have arrived in part) are
//! skipped by the engine, which applies a pool's log only after the last one it applied.

use std::{collections::VecDeque, fmt};

use polyarb_feeds::{RpcClient, RpcError, TRACKED_TOPICS};
use serde_json::{Value, json};

use super::discovery::logscan::is_limit_error;

/// Heads asked per pipelined batch.
const HEADS_PER_BATCH: u64 = 256;

/// What a backfill fetched.
#[derive(Debug, Default)]
pub struct Backfill {
    /// Notification payloads in chain order.
    pub payloads: VecDeque<Vec<u8>>,
    /// Blocks covered.
    pub blocks: u64,
    /// Logs among the payloads.
    pub logs: u64,
    /// `eth_getLogs` requests sent (halved ranges included).
    pub log_requests: u64,
}

/// Why a backfill failed (the link then tries again from the same block).
#[derive(Debug)]
pub enum BackfillError {
    /// More blocks missed than `node.max_backfill_blocks`: the tables cannot be caught up by logs.
    TooFar {
        /// First block missed.
        from: u64,
        /// The node's head.
        to: u64,
        /// The configured bound.
        max: u64,
    },
    /// The node failed or answered something unusable.
    Rpc {
        /// What was asked.
        what: &'static str,
        /// The error.
        source: RpcError,
    },
    /// A head or log without the fields the feed needs.
    Malformed(&'static str),
    /// The snapshot's newest block is not the node's block at that height (a reorg since it
    /// was written), or the node has no such block: its tables may hold logs of a chain that
    /// is gone.
    Forked {
        /// The block.
        block: u64,
        /// What the snapshot names it (hash, or `tag 0x…` for the first four bytes).
        ours: String,
        /// The node's hash at that height, if it has the block.
        node: Option<String>,
    },
}

impl fmt::Display for BackfillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFar { from, to, max } => write!(
                f,
                "blocks {from} to {to} missed, more than node.max_backfill_blocks = {max}; restart to rediscover"
            ),
            Self::Rpc { what, source } => write!(f, "{what}: {source}"),
            Self::Malformed(what) => write!(f, "backfill answer malformed: {what}"),
            Self::Forked { block, ours, node } => write!(
                f,
                "the snapshot's block {block} is {ours}, but the node's is {}: a reorg since the \
                 snapshot was written; start without --resume to rediscover",
                node.as_deref().unwrap_or("missing")
            ),
        }
    }
}

impl std::error::Error for BackfillError {}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

/// A quantity field of a JSON object.
fn quantity(v: &Value, key: &str) -> Option<u64> {
    let s = v.get(key)?.as_str()?.strip_prefix("0x")?;
    u64::from_str_radix(s, 16).ok()
}

/// Wraps a head or log object as the subscription notification carrying it.
fn notification(result: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(
        br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x0","result":"#,
    );
    // Serialising a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut out, result);
    out.extend_from_slice(b"}}");
    out
}

/// Every tracked log of blocks `from..=to`, halving a range the node refuses as too large.
fn logs(
    rpc: &mut RpcClient,
    from: u64,
    to: u64,
    requests: &mut u64,
) -> Result<Vec<Value>, BackfillError> {
    let topics: Vec<String> = TRACKED_TOPICS
        .iter()
        .map(|t| format!("0x{}", alloy_primitives::hex::encode(t)))
        .collect();
    let mut out = Vec::new();
    let mut ranges = vec![(from, to)];
    while let Some((lo, hi)) = ranges.pop() {
        *requests += 1;
        let params = json!([{ "fromBlock": hex(lo), "toBlock": hex(hi), "topics": [topics] }]);
        match rpc.call("eth_getLogs", &params) {
            Ok(Value::Array(logs)) => out.extend(logs),
            Ok(_) => return Err(BackfillError::Malformed("eth_getLogs answer is not a list")),
            Err(e) if is_limit_error(&e) && lo < hi => {
                let mid = lo + (hi - lo) / 2;
                // Popped last-in first: the lower half first keeps the order.
                ranges.push((mid + 1, hi));
                ranges.push((lo, mid));
            }
            Err(source) => {
                return Err(BackfillError::Rpc {
                    what: "eth_getLogs",
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// Fetches blocks `from..=to` (nothing if `from > to`), at most `max_blocks` of them.
pub fn fetch(
    rpc: &mut RpcClient,
    from: u64,
    to: u64,
    max_blocks: u64,
) -> Result<Backfill, BackfillError> {
    let mut out = Backfill::default();
    if from > to {
        return Ok(out);
    }
    let blocks = to - from + 1;
    if blocks > max_blocks {
        return Err(BackfillError::TooFar {
            from,
            to,
            max: max_blocks,
        });
    }
    let mut logs = logs(rpc, from, to, &mut out.log_requests)?;
    let mut keyed = Vec::with_capacity(logs.len());
    for log in logs.drain(..) {
        let block =
            quantity(&log, "blockNumber").ok_or(BackfillError::Malformed("log blockNumber"))?;
        let index = quantity(&log, "logIndex").ok_or(BackfillError::Malformed("log logIndex"))?;
        keyed.push((block, index, log));
    }
    keyed.sort_by_key(|&(b, i, _)| (b, i));
    let mut keyed = keyed.into_iter().peekable();
    let mut first = from;
    while first <= to {
        let last = first.saturating_add(HEADS_PER_BATCH - 1).min(to);
        let calls: Vec<(&str, Value)> = (first..=last)
            .map(|n| ("eth_getBlockByNumber", json!([hex(n), false])))
            .collect();
        let heads = rpc.call_many(&calls).map_err(|source| BackfillError::Rpc {
            what: "eth_getBlockByNumber",
            source,
        })?;
        for (n, head) in (first..=last).zip(heads) {
            let head = head.map_err(|source| BackfillError::Rpc {
                what: "eth_getBlockByNumber",
                source,
            })?;
            if quantity(&head, "number") != Some(n) {
                return Err(BackfillError::Malformed("a head is not the block asked"));
            }
            out.payloads.push_back(notification(&head));
            out.blocks += 1;
            while let Some((_, _, log)) = keyed.next_if(|&(b, _, _)| b == n) {
                out.payloads.push_back(notification(&log));
                out.logs += 1;
            }
        }
        first = last + 1;
    }
    Ok(out)
}
