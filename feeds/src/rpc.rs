//! JSON-RPC 2.0 over one websocket connection.
//!
//! Two kinds of use. At start-up, blocking helpers ([`RpcClient::call`], the pipelined
//! [`RpcClient::call_many`], subscriptions, chain queries) which may allocate. Afterwards, the
//! live loop calls [`RpcClient::poll`] and decodes each payload itself, and sends transactions
//! with [`RpcClient::send_raw_transaction`], which does not wait: its response arrives later
//! through `poll` and is matched by id ([`crate::Response::id`]).
//!
//! Anything that arrives while a blocking call waits (subscription notifications, responses to
//! earlier non-blocking requests) is kept, in arrival order, and handed out by the next `poll`
//! before anything newer. Note that such payloads get their receive time from the caller when
//! handed out, so it is late by the length of the wait.

use std::collections::VecDeque;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::decode::{Decoded, Reply, decode};
use crate::hex;
use crate::logs::LogError;
use crate::ws::{WsClient, WsError};

/// A 20-byte account or contract address.
type Address = [u8; 20];

/// Why a JSON-RPC call failed.
#[derive(Debug)]
pub enum RpcError {
    /// The websocket failed or closed.
    Ws(WsError),
    /// The node answered with an error object.
    Node {
        /// JSON-RPC error code (e.g. -32000 for most geth execution errors, 3 for reverts).
        code: i64,
        /// The node's message.
        message: String,
    },
    /// No response (or, for a batch, no progress) within the call timeout.
    Timeout,
    /// The response was not what the method returns.
    BadResponse(BadResponse),
    /// The request's parameters could not be written as JSON.
    Params(serde_json::Error),
    /// A method name that is not a plain identifier (it is written into JSON unescaped).
    BadMethod,
    /// An `eth_getLogs` answer with a log that is malformed or outside the filter.
    Log(LogError),
    /// The abort flag ([`RpcClient::set_abort`]) was raised while waiting (a signal).
    Aborted,
    /// The overall deadline ([`RpcClient::set_deadline`]) passed while waiting.
    Deadline,
}

impl core::fmt::Display for RpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Ws(e) => write!(f, "rpc transport: {e}"),
            Self::Node { code, message } => write!(f, "node error {code}: {message}"),
            Self::Timeout => write!(f, "rpc call timed out"),
            Self::BadResponse(what) => write!(f, "bad rpc response: {what}"),
            Self::Params(e) => write!(f, "cannot write rpc params: {e}"),
            Self::BadMethod => write!(f, "rpc method name must be letters, digits and `_`"),
            Self::Log(e) => write!(f, "bad eth_getLogs answer: {e}"),
            Self::Aborted => write!(f, "interrupted while waiting for the node"),
            Self::Deadline => write!(f, "the deadline for the node's answers passed"),
        }
    }
}

impl std::error::Error for RpcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ws(e) => Some(e),
            Self::Log(e) => Some(e),
            Self::BadResponse(e) => Some(e),
            Self::Params(e) => Some(e),
            _ => None,
        }
    }
}

/// What a node's answer got wrong ([`RpcError::BadResponse`]). Names the field, not its value:
/// what the node sent is not echoed into errors.
#[derive(Debug)]
pub enum BadResponse {
    /// The call ended without its answer.
    NoResult,
    /// The `result` is not JSON.
    NotJson(serde_json::Error),
    /// The `error` member is not a JSON-RPC error object (`code`, `message`).
    ErrorObject(serde_json::Error),
    /// A field the method returns is missing.
    Missing(&'static str),
    /// A field that must be a `0x` quantity is not one, or does not fit its type.
    NotQuantity(&'static str),
    /// A field that must be `0x` hex bytes is not.
    NotHex(&'static str),
    /// A field of another JSON type than the method returns.
    WrongType {
        /// The field.
        what: &'static str,
        /// The type it must be (`"a string"`).
        want: &'static str,
    },
}

impl core::fmt::Display for BadResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoResult => write!(f, "no result collected"),
            Self::NotJson(e) => write!(f, "result is not json: {e}"),
            Self::ErrorObject(e) => write!(f, "error member is not an error object: {e}"),
            Self::Missing(what) => write!(f, "no `{what}` field"),
            Self::NotQuantity(what) => write!(f, "{what} is not a quantity that fits"),
            Self::NotHex(what) => write!(f, "{what} is not 0x hex"),
            Self::WrongType { what, want } => write!(f, "{what} is not {want}"),
        }
    }
}

impl std::error::Error for BadResponse {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NotJson(e) | Self::ErrorObject(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WsError> for RpcError {
    fn from(e: WsError) -> Self {
        Self::Ws(e)
    }
}

/// Counters kept by the blocking helpers (the live path leaves decoding to the caller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RpcStats {
    /// Error responses received for blocking calls.
    pub node_errors: u64,
    /// Payloads that did not decode while a blocking call waited (still kept for `poll`).
    pub malformed: u64,
    /// Payloads kept aside while a blocking call waited.
    pub buffered: u64,
}

/// A block selector for calls that take one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTag {
    /// The head block.
    Latest,
    /// The pending state (e.g. nonces including queued transactions).
    Pending,
    /// The latest safe block.
    Safe,
    /// The latest finalized block.
    Finalized,
    /// Genesis.
    Earliest,
    /// A block by number.
    Number(u64),
}

impl BlockTag {
    fn write(self, out: &mut Vec<u8>) {
        out.push(b'"');
        match self {
            Self::Latest => out.extend_from_slice(b"latest"),
            Self::Pending => out.extend_from_slice(b"pending"),
            Self::Safe => out.extend_from_slice(b"safe"),
            Self::Finalized => out.extend_from_slice(b"finalized"),
            Self::Earliest => out.extend_from_slice(b"earliest"),
            Self::Number(n) => hex::push_quantity(out, n),
        }
        out.push(b'"');
    }

    fn to_value(self) -> Value {
        let mut s = Vec::with_capacity(20);
        self.write(&mut s);
        // `write` emits a quoted ASCII string: always valid JSON.
        serde_json::from_slice(&s).unwrap_or(Value::Null)
    }
}

/// The header fields of a block that the engine needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: [u8; 32],
    /// Block timestamp, seconds since the Unix epoch.
    pub timestamp: u64,
    /// EIP-1559 base fee, wei per gas; `None` for pre-London blocks.
    pub base_fee_per_gas: Option<u128>,
}

/// The error object of a JSON-RPC error response.
#[derive(Deserialize)]
struct ErrorObject {
    code: i64,
    message: String,
}

/// JSON-RPC client over a [`WsClient`].
#[derive(Debug)]
pub struct RpcClient {
    ws: WsClient,
    next_id: u64,
    /// Request being written; reused.
    req: Vec<u8>,
    /// Payloads that arrived during a blocking call, oldest first.
    backlog: VecDeque<Vec<u8>>,
    /// Emptied backlog buffers, reused.
    spare: Vec<Vec<u8>>,
    stats: RpcStats,
    /// How long a blocking call waits with no progress.
    timeout: Duration,
    /// Raised (by a signal handler) to make blocking calls give up.
    abort: Option<Arc<AtomicBool>>,
    /// Blocking calls give up once this passes, progress or not.
    deadline: Option<Instant>,
}

/// How often a blocking call looks at the abort flag and the deadline while it waits.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// Default no-progress timeout of blocking calls.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl RpcClient {
    /// Connects to a `ws://` URL (connect and handshake within `timeout`, which also becomes the
    /// blocking-call timeout).
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, RpcError> {
        let mut c = Self::new(WsClient::connect(url, timeout)?);
        c.timeout = timeout;
        Ok(c)
    }

    /// Wraps a connected websocket.
    pub fn new(ws: WsClient) -> Self {
        Self {
            ws,
            next_id: 1,
            req: Vec::with_capacity(1024),
            backlog: VecDeque::new(),
            spare: Vec::new(),
            stats: RpcStats::default(),
            timeout: DEFAULT_TIMEOUT,
            abort: None,
            deadline: None,
        }
    }

    /// The id the next request gets.
    pub fn next_request_id(&self) -> u64 {
        self.next_id
    }

    /// Sets the id the next request gets (at least 1): a client replacing another carries on
    /// its ids, so an answer meant for the old connection never matches a new request.
    pub fn set_next_request_id(&mut self, id: u64) {
        self.next_id = id.max(1);
    }

    /// Blocking calls return [`RpcError::Aborted`] within about 50 ms of `flag` being raised
    /// (a signal during start-up or a reconnect must not wait out a slow node).
    pub fn set_abort(&mut self, flag: Arc<AtomicBool>) {
        self.abort = Some(flag);
    }

    /// Blocking calls return [`RpcError::Deadline`] once `at` passes (a bound on a whole phase,
    /// such as start-up, however steadily the node answers); `None` lifts it.
    pub fn set_deadline(&mut self, at: Option<Instant>) {
        self.deadline = at;
    }

    /// Sets how long blocking calls wait without progress before [`RpcError::Timeout`].
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Counters so far.
    pub fn stats(&self) -> RpcStats {
        self.stats
    }

    /// Payloads kept from blocking calls and not yet handed out by [`RpcClient::poll`].
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// The websocket underneath.
    pub fn ws(&self) -> &WsClient {
        &self.ws
    }

    /// Hands every received payload to `on_message`: first those kept during blocking calls (in
    /// arrival order), then new ones, waiting up to `timeout` as [`WsClient::poll`] does (no
    /// wait if kept payloads were handed out). Returns how many were handed out.
    pub fn poll<F: FnMut(&[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut on_message: F,
    ) -> Result<usize, RpcError> {
        let mut n = 0;
        while let Some(buf) = self.backlog.pop_front() {
            on_message(&buf);
            self.spare.push(buf);
            n += 1;
        }
        let timeout = if n > 0 { Some(Duration::ZERO) } else { timeout };
        Ok(n + self.ws.poll(timeout, on_message)?)
    }

    /// Starts a request in `req` up to and including `"params":`; returns its id.
    pub(crate) fn begin(&mut self, method: &str) -> Result<u64, RpcError> {
        if method.is_empty()
            || !method
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Err(RpcError::BadMethod);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.req.clear();
        self.req.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        hex::push_decimal(&mut self.req, id);
        self.req.extend_from_slice(br#","method":""#);
        self.req.extend_from_slice(method.as_bytes());
        self.req.extend_from_slice(br#"","params":"#);
        Ok(id)
    }

    /// The request being written, between [`RpcClient::begin`] (which wrote up to `"params":`)
    /// and [`RpcClient::end`]: callers append the params value.
    pub(crate) fn request_buf(&mut self) -> &mut Vec<u8> {
        &mut self.req
    }

    /// Closes the request object and queues it on the socket.
    pub(crate) fn end(&mut self) -> Result<(), RpcError> {
        self.req.push(b'}');
        self.ws.send_text(&self.req)?;
        Ok(())
    }

    /// Sends a request without waiting; `params_json` is the raw JSON params value (an array or
    /// object), written as given. Returns the request id to match the response by.
    pub fn send_request(&mut self, method: &str, params_json: &[u8]) -> Result<u64, RpcError> {
        let id = self.begin(method)?;
        self.req.extend_from_slice(params_json);
        self.end()?;
        Ok(id)
    }

    /// Sends `eth_sendRawTransaction` without waiting; returns the request id. The response
    /// (transaction hash, or a node error) arrives later through [`RpcClient::poll`]. After the
    /// first call, allocates nothing unless the transaction is the largest yet.
    pub fn send_raw_transaction(&mut self, raw: &[u8]) -> Result<u64, RpcError> {
        let id = self.begin("eth_sendRawTransaction")?;
        self.req.push(b'[');
        self.req.push(b'"');
        hex::push_prefixed(&mut self.req, raw);
        self.req.extend_from_slice(b"\"]");
        self.end()?;
        Ok(id)
    }

    /// Calls `method` and waits for its result.
    pub fn call(&mut self, method: &str, params: &Value) -> Result<Value, RpcError> {
        let id = self.begin(method)?;
        write_value(&mut self.req, params)?;
        self.end()?;
        let mut out = self.collect(id, 1)?;
        out.pop().unwrap_or_else(|| Err(bad(BadResponse::NoResult)))
    }

    /// Sends every call at once (pipelined), then collects the results by id. One entry per
    /// call, in order; a node error fails only its own entry. The timeout applies to progress:
    /// it restarts whenever a response arrives.
    pub fn call_many(
        &mut self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        let first = self.next_id;
        for (method, params) in calls {
            self.begin(method)?;
            write_value(&mut self.req, params)?;
            self.end()?;
        }
        self.collect(first, calls.len())
    }

    /// `eth_call` for many `(to, calldata)` pairs at one block, pipelined like
    /// [`RpcClient::call_many`] (pool discovery issues thousands). Returns each call's return
    /// data, or its error (a revert is a node error).
    pub fn eth_call_many(
        &mut self,
        calls: &[(Address, &[u8])],
        block: BlockTag,
    ) -> Result<Vec<Result<Vec<u8>, RpcError>>, RpcError> {
        let first = self.next_id;
        for (to, data) in calls {
            self.begin("eth_call")?;
            write_call_params(&mut self.req, to, data, block);
            self.end()?;
        }
        Ok(self
            .collect(first, calls.len())?
            .into_iter()
            .map(|r| r.and_then(|v| bytes_of(&v, "eth_call result")))
            .collect())
    }

    /// Waits for the responses to ids `first..first + n`, keeping everything else for `poll`.
    pub(crate) fn collect(
        &mut self,
        first: u64,
        n: usize,
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        let mut slots: Vec<Option<Result<Value, RpcError>>> = (0..n).map(|_| None).collect();
        let mut missing = n;
        let mut deadline = Instant::now() + self.timeout;
        while missing > 0 {
            if self
                .abort
                .as_ref()
                .is_some_and(|a| a.load(Ordering::Relaxed))
            {
                return Err(RpcError::Aborted);
            }
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                return Err(RpcError::Deadline);
            }
            let left = deadline
                .checked_duration_since(now)
                .ok_or(RpcError::Timeout)?
                .min(CHECK_EVERY);
            let Self {
                ws,
                backlog,
                spare,
                stats,
                ..
            } = self;
            let before = missing;
            ws.poll(Some(left), |payload| {
                match decode(payload, 0) {
                    Ok(Decoded::Response(r)) => {
                        let slot = r
                            .id
                            .and_then(|id| id.checked_sub(first))
                            .and_then(|i| usize::try_from(i).ok())
                            .and_then(|i| slots.get_mut(i))
                            .filter(|s| s.is_none());
                        if let Some(slot) = slot {
                            *slot = Some(reply_value(r.reply, stats));
                            missing -= 1;
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        stats.malformed += 1;
                        tracing::warn!(error = %e, "undecodable payload while waiting for a response");
                    }
                }
                let mut buf = spare.pop().unwrap_or_default();
                buf.clear();
                buf.extend_from_slice(payload);
                backlog.push_back(buf);
                stats.buffered += 1;
            })?;
            if missing < before {
                deadline = Instant::now() + self.timeout;
            }
        }
        Ok(slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Err(bad(BadResponse::NoResult))))
            .collect())
    }

    /// `eth_chainId`.
    pub fn chain_id(&mut self) -> Result<u64, RpcError> {
        let v = self.call("eth_chainId", &json!([]))?;
        quantity(&v, "chain id")
    }

    /// `eth_blockNumber`.
    pub fn block_number(&mut self) -> Result<u64, RpcError> {
        let v = self.call("eth_blockNumber", &json!([]))?;
        quantity(&v, "block number")
    }

    /// `eth_getBlockByNumber` without transactions; `None` if the node has no such block.
    pub fn block_header(&mut self, block: BlockTag) -> Result<Option<BlockHeader>, RpcError> {
        let v = self.call("eth_getBlockByNumber", &json!([block.to_value(), false]))?;
        if v.is_null() {
            return Ok(None);
        }
        let field = |name: &'static str| v.get(name).ok_or(bad(BadResponse::Missing(name)));
        let mut hash = [0u8; 32];
        let h = field("hash")?.as_str().unwrap_or_default();
        hex::decode_fixed(h.as_bytes(), &mut hash)
            .map_err(|_| bad(BadResponse::NotHex("block hash")))?;
        let base_fee_per_gas = match v.get("baseFeePerGas") {
            None | Some(Value::Null) => None,
            Some(b) => {
                let w = b
                    .as_str()
                    .and_then(|s| hex::quantity_u256(s.as_bytes()).ok())
                    .filter(|w| w[..16].iter().all(|&x| x == 0))
                    .ok_or(bad(BadResponse::NotQuantity("baseFeePerGas")))?;
                let mut lo = [0u8; 16];
                lo.copy_from_slice(&w[16..]);
                Some(u128::from_be_bytes(lo))
            }
        };
        Ok(Some(BlockHeader {
            number: quantity(field("number")?, "block number")?,
            hash,
            timestamp: quantity(field("timestamp")?, "block timestamp")?,
            base_fee_per_gas,
        }))
    }

    /// `eth_call` of `data` to `to` at `block`; returns the return data.
    pub fn eth_call(
        &mut self,
        to: &Address,
        data: &[u8],
        block: BlockTag,
    ) -> Result<Vec<u8>, RpcError> {
        let id = self.begin("eth_call")?;
        write_call_params(&mut self.req, to, data, block);
        self.end()?;
        let v = self
            .collect(id, 1)?
            .pop()
            .unwrap_or_else(|| Err(bad(BadResponse::NoResult)))?;
        bytes_of(&v, "eth_call result")
    }

    /// `eth_getTransactionCount` (the next nonce, with [`BlockTag::Pending`]).
    pub fn transaction_count(
        &mut self,
        address: &Address,
        block: BlockTag,
    ) -> Result<u64, RpcError> {
        let v = self.call(
            "eth_getTransactionCount",
            &json!([hex_string(address), block.to_value()]),
        )?;
        quantity(&v, "transaction count")
    }

    /// `eth_subscribe("logs")` for logs whose topic0 is one of `topics0`, from `addresses` (all
    /// contracts if empty). Returns the subscription id.
    pub fn subscribe_logs(
        &mut self,
        addresses: &[Address],
        topics0: &[[u8; 32]],
    ) -> Result<String, RpcError> {
        let topics: Vec<Value> = topics0
            .iter()
            .map(|t| Value::String(hex_string(t)))
            .collect();
        let mut filter = json!({ "topics": [topics] });
        if !addresses.is_empty() {
            let a: Vec<Value> = addresses
                .iter()
                .map(|a| Value::String(hex_string(a)))
                .collect();
            filter["address"] = Value::Array(a);
        }
        self.subscribe(json!(["logs", filter]))
    }

    /// `eth_subscribe("newHeads")`. Returns the subscription id.
    pub fn subscribe_new_heads(&mut self) -> Result<String, RpcError> {
        self.subscribe(json!(["newHeads"]))
    }

    fn subscribe(&mut self, params: Value) -> Result<String, RpcError> {
        match self.call("eth_subscribe", &params)? {
            Value::String(id) => Ok(id),
            _ => Err(bad(BadResponse::WrongType {
                what: "subscription id",
                want: "a string",
            })),
        }
    }

    /// `eth_unsubscribe`; true if the node knew the subscription.
    pub fn unsubscribe(&mut self, id: &str) -> Result<bool, RpcError> {
        match self.call("eth_unsubscribe", &json!([id]))? {
            Value::Bool(b) => Ok(b),
            _ => Err(bad(BadResponse::WrongType {
                what: "eth_unsubscribe answer",
                want: "a bool",
            })),
        }
    }

    /// Sends a close and waits up to `timeout` for the node's.
    pub fn close(&mut self, timeout: Duration) -> Result<(), RpcError> {
        Ok(self.ws.close(timeout)?)
    }
}

fn bad(what: BadResponse) -> RpcError {
    RpcError::BadResponse(what)
}

fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<(), RpcError> {
    serde_json::to_writer(out, v).map_err(RpcError::Params)
}

/// `[{"to":"0x…","data":"0x…"},"<block>"]`
fn write_call_params(out: &mut Vec<u8>, to: &Address, data: &[u8], block: BlockTag) {
    out.extend_from_slice(br#"[{"to":""#);
    hex::push_prefixed(out, to);
    out.extend_from_slice(br#"","data":""#);
    hex::push_prefixed(out, data);
    out.extend_from_slice(br#""},"#);
    block.write(out);
    out.push(b']');
}

fn hex_string(bytes: &[u8]) -> String {
    let mut s = Vec::with_capacity(2 + 2 * bytes.len());
    hex::push_prefixed(&mut s, bytes);
    // push_prefixed writes ASCII only.
    String::from_utf8(s).unwrap_or_default()
}

fn reply_value(reply: Reply<'_>, stats: &mut RpcStats) -> Result<Value, RpcError> {
    match reply {
        Reply::Result(raw) => serde_json::from_slice(raw).map_err(|e| bad(BadResponse::NotJson(e))),
        Reply::Error(raw) => {
            stats.node_errors += 1;
            match serde_json::from_slice::<ErrorObject>(raw) {
                Ok(e) => Err(RpcError::Node {
                    code: e.code,
                    message: e.message,
                }),
                Err(e) => Err(bad(BadResponse::ErrorObject(e))),
            }
        }
    }
}

/// A JSON-RPC `result` that is a quantity (`"0x1a"`), given as the raw JSON a
/// [`Reply::Result`] carries, as a `u64`: for answers the pipeline matches itself
/// (`eth_getTransactionCount`), without a `serde_json` round trip.
pub fn quantity_result(raw: &[u8]) -> Result<u64, RpcError> {
    raw.trim_ascii()
        .strip_prefix(b"\"")
        .and_then(|s| s.strip_suffix(b"\""))
        .and_then(|q| hex::quantity_u64(q).ok())
        .ok_or(bad(BadResponse::NotQuantity("result")))
}

fn quantity(v: &Value, what: &'static str) -> Result<u64, RpcError> {
    v.as_str()
        .and_then(|s| hex::quantity_u64(s.as_bytes()).ok())
        .ok_or(bad(BadResponse::NotQuantity(what)))
}

fn bytes_of(v: &Value, what: &'static str) -> Result<Vec<u8>, RpcError> {
    let s = v.as_str().ok_or(bad(BadResponse::WrongType {
        what,
        want: "a hex string",
    }))?;
    let n = hex::byte_len(s.as_bytes()).map_err(|_| bad(BadResponse::NotHex(what)))?;
    let mut out = vec![0u8; n];
    hex::decode_fixed(s.as_bytes(), &mut out).map_err(|_| bad(BadResponse::NotHex(what)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_results_parse_strictly() {
        assert_eq!(quantity_result(b"\"0x1a\"").ok(), Some(26));
        assert_eq!(quantity_result(b" \"0x0\" ").ok(), Some(0));
        assert_eq!(
            quantity_result(b"\"0xffffffffffffffff\"").ok(),
            Some(u64::MAX)
        );
        for bad in [
            &b"26"[..],
            b"\"1a\"",
            b"\"0xzz\"",
            b"\"0x\"",
            b"\"0x10000000000000000\"",
            b"\"0x1a",
            b"null",
        ] {
            assert!(
                quantity_result(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn call_params_shape() {
        let mut out = Vec::new();
        write_call_params(
            &mut out,
            &[0xAB; 20],
            &[0x09, 0x02, 0xf1, 0xac],
            BlockTag::Number(0x1b4),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!([{"to": format!("0x{}", "ab".repeat(20)), "data": "0x0902f1ac"}, "0x1b4"])
        );
        for (tag, s) in [
            (BlockTag::Latest, "latest"),
            (BlockTag::Pending, "pending"),
            (BlockTag::Safe, "safe"),
            (BlockTag::Finalized, "finalized"),
            (BlockTag::Earliest, "earliest"),
            (BlockTag::Number(0), "0x0"),
        ] {
            assert_eq!(tag.to_value(), Value::String(s.into()));
        }
    }

    #[test]
    fn replies_become_values_or_errors() {
        let mut st = RpcStats::default();
        assert_eq!(
            reply_value(Reply::Result(b"\"0x89\""), &mut st).unwrap(),
            json!("0x89")
        );
        match reply_value(
            Reply::Error(br#"{"code":-32000,"message":"nonce too low","data":"0x"}"#),
            &mut st,
        ) {
            Err(RpcError::Node { code, message }) => {
                assert_eq!((code, message.as_str()), (-32000, "nonce too low"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            reply_value(Reply::Error(b"\"oops\""), &mut st),
            Err(RpcError::BadResponse(_))
        ));
        assert_eq!(st.node_errors, 2);
        assert_eq!(quantity(&json!("0x89"), "x").unwrap(), 137);
        assert!(quantity(&json!(137), "x").is_err());
        assert_eq!(bytes_of(&json!("0x0102"), "x").unwrap(), [1, 2]);
        assert!(bytes_of(&json!("0x012"), "x").is_err());
    }
}
