//! One contract's logs of one event over a block range, in chunks the node accepts.
//!
//! Nodes bound `eth_getLogs` by block span or by result count (Infura -32005 "query returned
//! more than 10000 results", erigon "query block range exceeds server limit", reth "query exceeds
//! max block range", ...). The scan asks for `chunk` blocks at a time, `in_flight` requests at
//! once; a range refused with such a limit error is halved and both halves asked again, and new
//! ranges use the smaller size from then on (it is handed back for the next scan). A single block
//! refused, or any other error, ends the scan with an error naming the range.

use std::collections::VecDeque;
use std::fmt;

use polyarb_feeds::{Log, LogFilter, RpcClient, RpcError};

/// JSON-RPC code Infura and several node clients answer a too-large log query with.
const LIMIT_CODE: i64 = -32005;

/// Words (lower case) by which nodes say a log query was too large rather than wrong.
const LIMIT_HINTS: [&str; 10] = [
    "too many",
    "more than",
    "limit",
    "exceed",
    "too large",
    "too big",
    "bigger than",
    "range",
    "response size",
    "max results",
];

/// What a scan found and what it cost.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The logs, by block then log index.
    pub logs: Vec<Log>,
    /// `eth_getLogs` requests sent (refused ones included).
    pub requests: u64,
    /// Ranges halved after a limit error.
    pub splits: u64,
    /// The chunk size the scan ended with, blocks.
    pub chunk: u64,
}

/// Why a scan stopped.
#[derive(Debug)]
pub enum ScanError {
    /// The node refused even a single block as too large.
    Refused {
        /// The block.
        block: u64,
        /// The node's answer.
        source: RpcError,
    },
    /// Another error (transport, timeout, malformed logs, a node error that is not a limit).
    Rpc {
        /// First block of the range asked (or of the batch, for a transport failure).
        from: u64,
        /// Last block.
        to: u64,
        /// The error.
        source: RpcError,
    },
}

impl std::error::Error for ScanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused { source, .. } | Self::Rpc { source, .. } => Some(source),
        }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { block, source } => {
                write!(f, "eth_getLogs of block {block} alone refused: {source}")
            }
            Self::Rpc { from, to, source } => {
                write!(f, "eth_getLogs of blocks {from}..={to}: {source}")
            }
        }
    }
}

/// True when `e` says the query was too large (so a smaller range may pass).
pub(crate) fn is_limit_error(e: &RpcError) -> bool {
    match e {
        RpcError::Node { code, message } => {
            let m = message.to_ascii_lowercase();
            *code == LIMIT_CODE || LIMIT_HINTS.iter().any(|h| m.contains(h))
        }
        _ => false,
    }
}

/// Logs with topic0 `topic0` emitted by `address` in blocks `from..=to` (`from <= to`), asked
/// `chunk` blocks (at least 1) and `in_flight` requests (at least 1) at a time.
pub(crate) fn scan(
    rpc: &mut RpcClient,
    address: [u8; 20],
    topic0: [u8; 32],
    from: u64,
    to: u64,
    chunk: u64,
    in_flight: usize,
) -> Result<Scan, ScanError> {
    let addresses = [address];
    let topics0 = [topic0];
    let in_flight = in_flight.max(1);
    let mut chunk = chunk.max(1);
    let mut out = Scan {
        logs: Vec::new(),
        requests: 0,
        splits: 0,
        chunk,
    };
    // Halves of refused ranges, asked before new ranges.
    let mut retry: VecDeque<(u64, u64)> = VecDeque::new();
    // First block not yet put in any range; `None` once past `to`.
    let mut next = (from <= to).then_some(from);
    let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(in_flight);
    loop {
        ranges.clear();
        while ranges.len() < in_flight {
            if let Some(r) = retry.pop_front() {
                ranges.push(r);
            } else if let Some(lo) = next {
                let hi = lo.saturating_add(chunk - 1).min(to);
                ranges.push((lo, hi));
                next = hi.checked_add(1).filter(|&n| n <= to);
            } else {
                break;
            }
        }
        let (Some(&(first, _)), Some(&(_, last))) = (ranges.first(), ranges.last()) else {
            break;
        };
        let filters: Vec<LogFilter<'_>> = ranges
            .iter()
            .map(|&(lo, hi)| LogFilter {
                addresses: &addresses,
                topics0: &topics0,
                from_block: lo,
                to_block: hi,
            })
            .collect();
        out.requests += filters.len() as u64;
        let answers = rpc
            .get_logs_many(&filters)
            .map_err(|source| ScanError::Rpc {
                from: first,
                to: last,
                source,
            })?;
        for (&(lo, hi), answer) in ranges.iter().zip(answers) {
            match answer {
                Ok(logs) => out.logs.extend(logs),
                Err(e) if is_limit_error(&e) => {
                    if lo == hi {
                        return Err(ScanError::Refused {
                            block: lo,
                            source: e,
                        });
                    }
                    let mid = lo + (hi - lo) / 2;
                    retry.push_back((lo, mid));
                    retry.push_back((mid + 1, hi));
                    out.splits += 1;
                    chunk = chunk.min(mid - lo + 1);
                    tracing::debug!(lo, hi, chunk, error = %e, "eth_getLogs range refused; halved");
                }
                Err(source) => {
                    return Err(ScanError::Rpc {
                        from: lo,
                        to: hi,
                        source,
                    });
                }
            }
        }
    }
    out.logs.sort_by_key(|l| (l.block_number, l.log_index));
    out.chunk = chunk;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(code: i64, message: &str) -> RpcError {
        RpcError::Node {
            code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn limit_errors_of_known_nodes_are_recognised() {
        for (code, message) in [
            (-32005, "query returned more than 10000 results"),
            (-32602, "range 1000000 exceeds limit of 10000"),
            (-32000, "block range is bigger than maxBlockRange"),
            (
                -32000,
                "query block range exceeds server limit, narrow your filter: 1000",
            ),
            (-32000, "query exceeds max block range 100000"),
            (-32000, "Log response size exceeded."),
            (-32005, "query timeout exceeded"),
        ] {
            assert!(is_limit_error(&node(code, message)), "{message}");
        }
        for e in [
            node(-32000, "header not found"),
            node(
                -32601,
                "the method eth_getLogs does not exist/is not available",
            ),
            RpcError::Timeout,
            RpcError::BadResponse(polyarb_feeds::BadResponse::NoResult),
        ] {
            assert!(!is_limit_error(&e), "{e}");
        }
    }
}
