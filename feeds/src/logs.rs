//! `eth_getLogs` for start-up: a filter over one inclusive block range, sent alone or pipelined
//! like the other blocking helpers, and the node's logs with every field checked.
//!
//! Not for the live path: the answer goes through `serde_json::Value` and allocates. Live logs
//! arrive through a subscription and [`crate::decode`].

use core::fmt;

use serde_json::{Map, Value};

use crate::hex;
use crate::rpc::{BadResponse, RpcClient, RpcError};

/// A 20-byte account or contract address.
type Address = [u8; 20];

/// Which logs to ask for: one inclusive block range, optionally only from some contracts and
/// with some topic0 values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogFilter<'a> {
    /// Emitting contracts; empty for any.
    pub addresses: &'a [Address],
    /// Accepted topic0 values; empty for any.
    pub topics0: &'a [[u8; 32]],
    /// First block, inclusive.
    pub from_block: u64,
    /// Last block, inclusive.
    pub to_block: u64,
}

/// One log of a mined block, as `eth_getLogs` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// The emitting contract.
    pub address: Address,
    /// Topics, at most four; topic0 is the event signature hash unless the event is anonymous.
    pub topics: Vec<[u8; 32]>,
    /// The non-indexed arguments, ABI-encoded.
    pub data: Vec<u8>,
    /// Block the log is in.
    pub block_number: u64,
    /// Hash of that block.
    pub block_hash: [u8; 32],
    /// Transaction that emitted the log.
    pub transaction_hash: [u8; 32],
    /// Its index in the block.
    pub transaction_index: u64,
    /// The log's index in the block.
    pub log_index: u64,
    /// True if a reorg undid the log (not expected in answers about mined ranges; an absent
    /// field reads as false).
    pub removed: bool,
}

/// Why an `eth_getLogs` answer was refused. `index` is the log's position in the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The result is not an array.
    NotAList,
    /// An entry is not an object.
    NotAnObject {
        /// Entry.
        index: usize,
    },
    /// A field is absent or null (as in a pending log).
    Missing {
        /// Entry.
        index: usize,
        /// JSON field name.
        field: &'static str,
    },
    /// A field has the wrong type, hex shape, width or range.
    Malformed {
        /// Entry.
        index: usize,
        /// JSON field name.
        field: &'static str,
    },
    /// More than four topics.
    TooManyTopics {
        /// Entry.
        index: usize,
    },
    /// The log does not match the filter it answers (another contract, topic0 or block).
    OutsideFilter {
        /// Entry.
        index: usize,
        /// The field that does not match.
        field: &'static str,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAList => f.write_str("result is not an array of logs"),
            Self::NotAnObject { index } => write!(f, "log {index} is not an object"),
            Self::Missing { index, field } => write!(f, "log {index} has no {field}"),
            Self::Malformed { index, field } => write!(f, "log {index} has a malformed {field}"),
            Self::TooManyTopics { index } => write!(f, "log {index} has more than four topics"),
            Self::OutsideFilter { index, field } => {
                write!(f, "log {index} does not match the filter's {field}")
            }
        }
    }
}

impl std::error::Error for LogError {}

impl RpcClient {
    /// `eth_getLogs` for one filter; the logs in the node's order, each checked against the
    /// filter.
    pub fn get_logs(&mut self, filter: &LogFilter<'_>) -> Result<Vec<Log>, RpcError> {
        self.get_logs_many(core::slice::from_ref(filter))?
            .pop()
            .unwrap_or(Err(RpcError::BadResponse(BadResponse::NoResult)))
    }

    /// `eth_getLogs` for every filter at once (pipelined, like [`RpcClient::call_many`]); one
    /// entry per filter, in order. A node error (such as a refused range) fails only its own
    /// entry; a transport failure fails the whole call.
    pub fn get_logs_many(
        &mut self,
        filters: &[LogFilter<'_>],
    ) -> Result<Vec<Result<Vec<Log>, RpcError>>, RpcError> {
        let mut first = None;
        for filter in filters {
            let id = self.begin("eth_getLogs")?;
            first.get_or_insert(id);
            write_filter(self.request_buf(), filter);
            self.end()?;
        }
        let Some(first) = first else {
            return Ok(Vec::new());
        };
        Ok(self
            .collect(first, filters.len())?
            .into_iter()
            .zip(filters)
            .map(|(r, filter)| r.and_then(|v| parse_logs(&v, filter).map_err(RpcError::Log)))
            .collect())
    }
}

/// `[{"fromBlock":"0x…","toBlock":"0x…","address":["0x…"],"topics":[["0x…"]]}]`
fn write_filter(out: &mut Vec<u8>, f: &LogFilter<'_>) {
    out.extend_from_slice(br#"[{"fromBlock":""#);
    hex::push_quantity(out, f.from_block);
    out.extend_from_slice(br#"","toBlock":""#);
    hex::push_quantity(out, f.to_block);
    out.push(b'"');
    if !f.addresses.is_empty() {
        out.extend_from_slice(br#","address":"#);
        push_hex_list(out, f.addresses.iter().map(|a| &a[..]));
    }
    if !f.topics0.is_empty() {
        out.extend_from_slice(br#","topics":["#);
        push_hex_list(out, f.topics0.iter().map(|t| &t[..]));
        out.push(b']');
    }
    out.extend_from_slice(b"}]");
}

fn push_hex_list<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        hex::push_prefixed(out, item);
        out.push(b'"');
    }
    out.push(b']');
}

/// The logs of one answer, each checked field by field and against `filter`.
fn parse_logs(v: &Value, filter: &LogFilter<'_>) -> Result<Vec<Log>, LogError> {
    let list = v.as_array().ok_or(LogError::NotAList)?;
    list.iter()
        .enumerate()
        .map(|(index, entry)| {
            let obj = entry.as_object().ok_or(LogError::NotAnObject { index })?;
            let log = parse_log(index, obj)?;
            let outside = |field| Err(LogError::OutsideFilter { index, field });
            if !filter.addresses.is_empty() && !filter.addresses.contains(&log.address) {
                return outside("address");
            }
            if !filter.topics0.is_empty()
                && !log
                    .topics
                    .first()
                    .is_some_and(|t| filter.topics0.contains(t))
            {
                return outside("topics");
            }
            if log.block_number < filter.from_block || log.block_number > filter.to_block {
                return outside("blockNumber");
            }
            Ok(log)
        })
        .collect()
}

fn parse_log(index: usize, obj: &Map<String, Value>) -> Result<Log, LogError> {
    let field = |name: &'static str| match obj.get(name) {
        None | Some(Value::Null) => Err(LogError::Missing { index, field: name }),
        Some(v) => Ok(v),
    };
    let malformed = |name: &'static str| LogError::Malformed { index, field: name };
    let string = |name: &'static str| -> Result<&[u8], LogError> {
        field(name)?
            .as_str()
            .map(str::as_bytes)
            .ok_or(malformed(name))
    };
    let fixed = |name: &'static str, out: &mut [u8]| -> Result<(), LogError> {
        hex::decode_fixed(string(name)?, out).map_err(|_| malformed(name))
    };
    let quantity = |name: &'static str| -> Result<u64, LogError> {
        hex::quantity_u64(string(name)?).map_err(|_| malformed(name))
    };

    let mut address = [0u8; 20];
    fixed("address", &mut address)?;
    let topic_values = field("topics")?.as_array().ok_or(malformed("topics"))?;
    if topic_values.len() > 4 {
        return Err(LogError::TooManyTopics { index });
    }
    let topics = topic_values
        .iter()
        .map(|t| {
            let mut w = [0u8; 32];
            let s = t.as_str().ok_or(malformed("topics"))?;
            hex::decode_fixed(s.as_bytes(), &mut w).map_err(|_| malformed("topics"))?;
            Ok(w)
        })
        .collect::<Result<Vec<_>, LogError>>()?;
    let data_hex = string("data")?;
    let n = hex::byte_len(data_hex).map_err(|_| malformed("data"))?;
    let mut data = vec![0u8; n];
    hex::decode_fixed(data_hex, &mut data).map_err(|_| malformed("data"))?;
    let mut block_hash = [0u8; 32];
    fixed("blockHash", &mut block_hash)?;
    let mut transaction_hash = [0u8; 32];
    fixed("transactionHash", &mut transaction_hash)?;
    let removed = match obj.get("removed") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(malformed("removed")),
    };
    Ok(Log {
        address,
        topics,
        data,
        block_number: quantity("blockNumber")?,
        block_hash,
        transaction_hash,
        transaction_index: quantity("transactionIndex")?,
        log_index: quantity("logIndex")?,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ADDR: [u8; 20] = [0xab; 20];
    const TOPIC: [u8; 32] = [0x11; 32];

    fn filter() -> LogFilter<'static> {
        LogFilter {
            addresses: &[ADDR],
            topics0: &[TOPIC],
            from_block: 0x10,
            to_block: 0x20,
        }
    }

    /// A log as geth writes it (field order of REFERENCE.md).
    fn geth_log() -> Value {
        json!({
            "address": format!("0x{}", "ab".repeat(20)),
            "topics": [format!("0x{}", "11".repeat(32)), format!("0x{}", "00".repeat(31) + "07")],
            "data": "0x0102",
            "blockNumber": "0x1b",
            "transactionHash": format!("0x{}", "cd".repeat(32)),
            "transactionIndex": "0x0",
            "blockHash": format!("0x{}", "ef".repeat(32)),
            "logIndex": "0x3",
            "removed": false
        })
    }

    #[test]
    fn filter_is_the_json_the_method_takes() {
        let mut out = Vec::new();
        write_filter(&mut out, &filter());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!([{
                "fromBlock": "0x10",
                "toBlock": "0x20",
                "address": [format!("0x{}", "ab".repeat(20))],
                "topics": [[format!("0x{}", "11".repeat(32))]]
            }])
        );
        out.clear();
        write_filter(
            &mut out,
            &LogFilter {
                addresses: &[],
                topics0: &[],
                from_block: 0,
                to_block: 1,
            },
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!([{"fromBlock": "0x0", "toBlock": "0x1"}]));
    }

    #[test]
    fn a_well_formed_log_reads_field_by_field() {
        let logs = parse_logs(&json!([geth_log()]), &filter()).unwrap();
        let mut topic1 = [0u8; 32];
        topic1[31] = 7;
        assert_eq!(
            logs,
            vec![Log {
                address: ADDR,
                topics: vec![TOPIC, topic1],
                data: vec![1, 2],
                block_number: 0x1b,
                block_hash: [0xef; 32],
                transaction_hash: [0xcd; 32],
                transaction_index: 0,
                log_index: 3,
                removed: false,
            }]
        );
        // Extra fields (anvil's blockTimestamp) are ignored; `removed` may be absent.
        let mut v = geth_log();
        v["blockTimestamp"] = json!("0x5");
        v.as_object_mut().unwrap().remove("removed");
        assert!(!parse_logs(&json!([v]), &filter()).unwrap()[0].removed);
    }

    #[test]
    fn every_field_is_checked() {
        let cases: Vec<(&str, Value, LogError)> = vec![
            (
                "blockNumber",
                Value::Null,
                LogError::Missing {
                    index: 0,
                    field: "blockNumber",
                },
            ),
            (
                "address",
                json!("0xabab"),
                LogError::Malformed {
                    index: 0,
                    field: "address",
                },
            ),
            (
                "data",
                json!("0x012"),
                LogError::Malformed {
                    index: 0,
                    field: "data",
                },
            ),
            (
                "topics",
                json!(["0x11"]),
                LogError::Malformed {
                    index: 0,
                    field: "topics",
                },
            ),
            (
                "logIndex",
                json!(3),
                LogError::Malformed {
                    index: 0,
                    field: "logIndex",
                },
            ),
            (
                "blockHash",
                json!(format!("0x{}", "ef".repeat(31))),
                LogError::Malformed {
                    index: 0,
                    field: "blockHash",
                },
            ),
            (
                "removed",
                json!("false"),
                LogError::Malformed {
                    index: 0,
                    field: "removed",
                },
            ),
            (
                "transactionIndex",
                json!(format!("0x1{}", "0".repeat(16))),
                LogError::Malformed {
                    index: 0,
                    field: "transactionIndex",
                },
            ),
            (
                "address",
                json!(format!("0x{}", "ac".repeat(20))),
                LogError::OutsideFilter {
                    index: 0,
                    field: "address",
                },
            ),
            (
                "topics",
                json!([format!("0x{}", "12".repeat(32))]),
                LogError::OutsideFilter {
                    index: 0,
                    field: "topics",
                },
            ),
            (
                "topics",
                json!([]),
                LogError::OutsideFilter {
                    index: 0,
                    field: "topics",
                },
            ),
            (
                "topics",
                json!(vec![format!("0x{}", "11".repeat(32)); 5]),
                LogError::TooManyTopics { index: 0 },
            ),
            (
                "blockNumber",
                json!("0x21"),
                LogError::OutsideFilter {
                    index: 0,
                    field: "blockNumber",
                },
            ),
            (
                "blockNumber",
                json!("0xf"),
                LogError::OutsideFilter {
                    index: 0,
                    field: "blockNumber",
                },
            ),
        ];
        for (name, value, want) in cases {
            let mut v = geth_log();
            v[name] = value.clone();
            assert_eq!(
                parse_logs(&json!([v]), &filter()),
                Err(want),
                "{name} = {value}"
            );
        }
        assert_eq!(
            parse_logs(&json!({"logs": []}), &filter()),
            Err(LogError::NotAList)
        );
        assert_eq!(
            parse_logs(&json!([geth_log(), 5]), &filter()),
            Err(LogError::NotAnObject { index: 1 })
        );
        assert_eq!(
            LogError::Missing {
                index: 2,
                field: "data"
            }
            .to_string(),
            "log 2 has no data"
        );
    }
}
