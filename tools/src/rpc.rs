//! A small blocking HTTP JSON-RPC client for a dev node (anvil).
//!
//! Transactions are sent with `eth_sendTransaction` from accounts the node holds unlocked; a
//! receipt with status 0 becomes [`RpcError::Reverted`] carrying the revert data (fetched with the
//! node's call tracer), so callers can match on `UniswapV2: K` and the like.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_sol_types::{Revert, SolCall, SolError, decode_revert_reason};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::abi::{IERC20, IUniswapV2Pair};

/// `Result` with [`RpcError`].
pub type Result<T, E = RpcError> = std::result::Result<T, E>;

/// JSON-RPC error code nodes use for "execution reverted" (EIP-1474 / geth).
const EXECUTION_REVERTED: i64 = 3;

/// Why a JSON-RPC request or a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcError {
    /// No HTTP answer (connection refused, timeout, HTTP error status).
    Transport { method: String, message: String },
    /// The node answered with a JSON-RPC error object.
    Node {
        method: String,
        code: i64,
        message: String,
        data: Option<Bytes>,
    },
    /// The answer did not have the expected shape.
    Decode { method: String, message: String },
    /// A transaction (`tx` is set) or call (`tx` is `None`) reverted; `data` is the revert data.
    Reverted { tx: Option<B256>, data: Bytes },
    /// A sent transaction had no receipt within the wait.
    NoReceipt { tx: B256, waited: Duration },
    /// A contract creation receipt names no contract.
    NoContract { tx: B256 },
}

impl RpcError {
    /// The revert data if this is a revert.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Reverted { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The decoded revert reason (`Error(string)`, a panic code, or UTF-8) if this is a revert.
    pub fn revert_reason(&self) -> Option<String> {
        self.revert_data().and_then(|d| revert_reason(d))
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport { method, message } => write!(f, "{method}: no answer: {message}"),
            Self::Node {
                method,
                code,
                message,
                ..
            } => {
                write!(f, "{method}: node error {code}: {message}")
            }
            Self::Decode { method, message } => write!(f, "{method}: unexpected answer: {message}"),
            Self::Reverted { tx, data } => {
                match tx {
                    Some(tx) => write!(f, "transaction {tx} reverted")?,
                    None => write!(f, "call reverted")?,
                }
                match revert_reason(data) {
                    Some(reason) => write!(f, ": {reason}"),
                    None if data.is_empty() => write!(f, " without data"),
                    None => write!(f, " with data {data}"),
                }
            }
            Self::NoReceipt { tx, waited } => {
                write!(f, "no receipt for {tx} after {} ms", waited.as_millis())
            }
            Self::NoContract { tx } => write!(f, "creation {tx} deployed no contract"),
        }
    }
}

impl std::error::Error for RpcError {}

/// A transaction for `eth_sendTransaction` (the node signs; `from` must be unlocked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxRequest {
    /// Sender, an account the node holds.
    pub from: Address,
    /// Callee; `None` creates a contract from `data`.
    pub to: Option<Address>,
    /// Calldata, or creation code + constructor arguments.
    pub data: Bytes,
    /// Value, wei.
    pub value: U256,
    /// Gas limit; `None` lets the node estimate (which fails if the call would revert now).
    pub gas: Option<u64>,
    /// Nonce; `None` lets the node pick the next one, counting its pending pool.
    pub nonce: Option<u64>,
    /// `(maxFeePerGas, maxPriorityFeePerGas)`, wei per gas; `None` takes the node's defaults.
    pub fees: Option<(u128, u128)>,
}

impl TxRequest {
    /// A call of `to` with `data`.
    pub fn call(from: Address, to: Address, data: impl Into<Bytes>) -> Self {
        Self {
            from,
            to: Some(to),
            data: data.into(),
            ..Self::default()
        }
    }

    /// A contract creation.
    pub fn create(from: Address, initcode: impl Into<Bytes>) -> Self {
        Self {
            from,
            to: None,
            data: initcode.into(),
            ..Self::default()
        }
    }

    /// Sets the gas limit.
    pub fn with_gas(mut self, gas: u64) -> Self {
        self.gas = Some(gas);
        self
    }

    /// Sets `maxFeePerGas` and `maxPriorityFeePerGas` (wei per gas).
    pub fn with_fees(mut self, max_fee: u128, priority_fee: u128) -> Self {
        self.fees = Some((max_fee, priority_fee));
        self
    }

    fn to_json(&self) -> Value {
        let mut tx = json!({
            "from": self.from,
            "data": self.data,
            "value": format!("{:#x}", self.value),
        });
        if let Some(to) = self.to {
            tx["to"] = json!(to);
        }
        if let Some(gas) = self.gas {
            tx["gas"] = json!(format!("{gas:#x}"));
        }
        if let Some(nonce) = self.nonce {
            tx["nonce"] = json!(format!("{nonce:#x}"));
        }
        if let Some((max_fee, priority_fee)) = self.fees {
            tx["maxFeePerGas"] = json!(format!("{max_fee:#x}"));
            tx["maxPriorityFeePerGas"] = json!(format!("{priority_fee:#x}"));
        }
        tx
    }
}

/// An event log as a node returns it (receipts, `eth_getLogs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    /// The contract that emitted it.
    pub address: Address,
    /// Topic 0 (the event signature hash) and the indexed arguments.
    pub topics: Vec<B256>,
    /// The non-indexed arguments, ABI-encoded.
    pub data: Bytes,
    /// Block it was mined in.
    #[serde(deserialize_with = "quantity")]
    pub block_number: u64,
    /// Transaction that emitted it.
    pub transaction_hash: B256,
    /// Position in its block.
    #[serde(deserialize_with = "quantity")]
    pub log_index: u64,
}

impl Log {
    /// Topic 0, if any (anonymous events have none).
    pub fn topic0(&self) -> Option<B256> {
        self.topics.first().copied()
    }
}

fn quantity<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    U64::deserialize(d).map(|q| q.to())
}

/// The parts of a receipt the tools use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Transaction hash.
    pub tx: B256,
    /// Block it was mined in.
    pub block_number: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Created contract, for a creation.
    pub contract_address: Option<Address>,
    /// Number of logs emitted.
    pub logs: usize,
    /// The logs emitted, in order.
    pub events: Vec<Log>,
    /// `true` if it succeeded.
    pub success: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReceipt {
    transaction_hash: B256,
    block_number: U64,
    gas_used: U64,
    #[serde(default)]
    contract_address: Option<Address>,
    #[serde(default)]
    logs: Vec<Log>,
    status: U64,
}

impl From<RawReceipt> for Receipt {
    fn from(r: RawReceipt) -> Self {
        Self {
            tx: r.transaction_hash,
            block_number: r.block_number.to(),
            gas_used: r.gas_used.to(),
            contract_address: r.contract_address,
            logs: r.logs.len(),
            events: r.logs,
            success: r.status == U64::from(1),
        }
    }
}

/// Blocking JSON-RPC over HTTP. Cheap to share by reference across threads.
#[derive(Debug)]
pub struct Rpc {
    agent: ureq::Agent,
    url: String,
    next_id: AtomicU64,
    receipt_timeout: Duration,
}

impl Rpc {
    /// A client for `url` (`http://host:port`), 60 s per request, 30 s wait for receipts.
    pub fn new(url: impl Into<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            url: url.into(),
            next_id: AtomicU64::new(1),
            receipt_timeout: Duration::from_secs(30),
        }
    }

    /// Sets how long [`Rpc::wait_receipt`] waits.
    pub fn with_receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request; the `result` member, or the node's error.
    pub fn request(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answer = self.post(method, &body)?;
        take_result(method, answer)
    }

    /// One request, its result deserialized.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let value = self.request(method, params)?;
        serde_json::from_value(value).map_err(|e| RpcError::Decode {
            method: method.to_owned(),
            message: e.to_string(),
        })
    }

    /// Several requests in one JSON-RPC batch; results in request order. The node may run a
    /// batch's requests in any order, so only batch reads, never transactions that depend on
    /// each other.
    pub fn batch(&self, requests: &[(&str, Value)]) -> Result<Vec<Result<Value>>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let first = self
            .next_id
            .fetch_add(requests.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = requests
            .iter()
            .enumerate()
            .map(|(i, (method, params))| {
                json!({"jsonrpc": "2.0", "id": first + i as u64, "method": method, "params": params})
            })
            .collect();
        let answer = self.post("batch", &Value::Array(body))?;
        let Value::Array(answers) = answer else {
            return Err(decode_err("batch", "answer is not an array"));
        };
        let mut out: Vec<Option<Result<Value>>> = vec![None; requests.len()];
        for answer in answers {
            let slot = answer
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| id.checked_sub(first))
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < requests.len())
                .ok_or_else(|| decode_err("batch", "answer with unknown id"))?;
            out[slot] = Some(take_result(requests[slot].0, answer));
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| decode_err(requests[i].0, "no answer in batch")))
            .collect()
    }

    fn post(&self, method: &str, body: &Value) -> Result<Value> {
        let transport = |e: ureq::Error| RpcError::Transport {
            method: method.to_owned(),
            message: e.to_string(),
        };
        let mut response = self
            .agent
            .post(&self.url)
            .send_json(body)
            .map_err(transport)?;
        response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_json::<Value>()
            .map_err(|e| decode_err(method, e))
    }

    /// `eth_chainId`.
    pub fn chain_id(&self) -> Result<u64> {
        self.quantity("eth_chainId", json!([]))
    }

    /// `eth_blockNumber`.
    pub fn block_number(&self) -> Result<u64> {
        self.quantity("eth_blockNumber", json!([]))
    }

    /// `eth_accounts`: the accounts the node signs for.
    pub fn accounts(&self) -> Result<Vec<Address>> {
        self.call("eth_accounts", json!([]))
    }

    /// `eth_getTransactionCount(addr, "pending")`: the next nonce, counting the pool.
    pub fn next_nonce(&self, addr: Address) -> Result<u64> {
        self.quantity("eth_getTransactionCount", json!([addr, "pending"]))
    }

    /// `eth_getBalance(addr, "latest")`, wei.
    pub fn balance(&self, addr: Address) -> Result<U256> {
        self.call("eth_getBalance", json!([addr, "latest"]))
    }

    /// `eth_getCode(addr, "latest")`.
    pub fn code(&self, addr: Address) -> Result<Bytes> {
        self.call("eth_getCode", json!([addr, "latest"]))
    }

    /// `eth_sendTransaction`: the hash. A node that estimates gas and finds the call reverting
    /// answers [`RpcError::Reverted`] with `tx: None`.
    pub fn send_transaction(&self, tx: &TxRequest) -> Result<B256> {
        self.call("eth_sendTransaction", json!([tx.to_json()]))
            .map_err(revert_from_node)
    }

    /// `eth_getTransactionReceipt`, `None` while pending.
    pub fn receipt(&self, tx: B256) -> Result<Option<Receipt>> {
        let raw: Option<RawReceipt> = self.call("eth_getTransactionReceipt", json!([tx]))?;
        Ok(raw.map(Receipt::from))
    }

    /// Waits for the receipt; a failed transaction is [`RpcError::Reverted`] with its revert data.
    pub fn wait_receipt(&self, tx: B256) -> Result<Receipt> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(receipt) = self.receipt(tx)? {
                return self.check(receipt);
            }
            if start.elapsed() >= self.receipt_timeout {
                return Err(RpcError::NoReceipt {
                    tx,
                    waited: start.elapsed(),
                });
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The receipts of transactions already mined (one batch request), each status-checked.
    pub fn mined_receipts(&self, txs: &[B256]) -> Result<Vec<Receipt>> {
        let requests: Vec<(&str, Value)> = txs
            .iter()
            .map(|tx| ("eth_getTransactionReceipt", json!([tx])))
            .collect();
        let answers = self.batch(&requests)?;
        let mut out = Vec::with_capacity(txs.len());
        for (tx, answer) in txs.iter().zip(answers) {
            let raw: Option<RawReceipt> = serde_json::from_value(answer?)
                .map_err(|e| decode_err("eth_getTransactionReceipt", e))?;
            let receipt = raw.ok_or(RpcError::NoReceipt {
                tx: *tx,
                waited: Duration::ZERO,
            })?;
            out.push(self.check(receipt.into())?);
        }
        Ok(out)
    }

    fn check(&self, receipt: Receipt) -> Result<Receipt> {
        if receipt.success {
            Ok(receipt)
        } else {
            Err(RpcError::Reverted {
                tx: Some(receipt.tx),
                data: self.revert_data(receipt.tx)?,
            })
        }
    }

    /// The return (revert) data of a mined transaction, from `debug_traceTransaction` with the
    /// call tracer: a receipt does not carry it.
    pub fn revert_data(&self, tx: B256) -> Result<Bytes> {
        #[derive(Deserialize)]
        struct Frame {
            #[serde(default)]
            output: Option<Bytes>,
        }
        let frame: Frame = self.call(
            "debug_traceTransaction",
            json!([tx, {"tracer": "callTracer"}]),
        )?;
        Ok(frame.output.unwrap_or_default())
    }

    /// Sends and waits for a successful receipt.
    pub fn transact(&self, tx: &TxRequest) -> Result<Receipt> {
        let hash = self.send_transaction(tx)?;
        self.wait_receipt(hash)
    }

    /// Deploys `initcode` (creation code with constructor arguments appended) from `from`.
    pub fn deploy(&self, from: Address, initcode: impl Into<Bytes>) -> Result<(Address, Receipt)> {
        let receipt = self.transact(&TxRequest::create(from, initcode))?;
        let address = receipt
            .contract_address
            .ok_or(RpcError::NoContract { tx: receipt.tx })?;
        Ok((address, receipt))
    }

    /// Sends the ABI call `call` to `to` and waits for success.
    pub fn transact_call<C: SolCall>(
        &self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<Receipt> {
        self.transact(&TxRequest::call(from, to, call.abi_encode()))
    }

    /// `eth_call` at `latest`; a revert is [`RpcError::Reverted`] with `tx: None`.
    pub fn eth_call(&self, from: Option<Address>, to: Address, data: &[u8]) -> Result<Bytes> {
        let mut tx = json!({"to": to, "data": Bytes::copy_from_slice(data)});
        if let Some(from) = from {
            tx["from"] = json!(from);
        }
        self.call("eth_call", json!([tx, "latest"]))
            .map_err(revert_from_node)
    }

    /// `eth_call` at `block` (`"latest"` or a `0x` number) with an explicit gas limit, for calls
    /// that need more than the node's default (a batch of many swaps); a revert is
    /// [`RpcError::Reverted`] with `tx: None`.
    pub fn eth_call_with_gas(
        &self,
        from: Option<Address>,
        to: Address,
        data: &[u8],
        gas: u64,
        block: &str,
    ) -> Result<Bytes> {
        self.call("eth_call", json!([call_tx(from, to, data, gas), block]))
            .map_err(revert_from_node)
    }

    /// [`Rpc::eth_call_with_gas`] on the state at the end of `block`, run as if in a block
    /// numbered `number` with timestamp `time` (seconds): geth's `blockOverrides`, the 4th
    /// parameter, which anvil accepts too. For a call whose result depends on the block it runs
    /// in (an Algebra pool writes a timepoint, and may change its fee, at its first swap of a
    /// new timestamp): `block` and `number = block + 1` replay a transaction of the next block.
    #[allow(
        clippy::too_many_arguments,
        reason = "eth_call_with_gas's arguments plus the environment"
    )]
    pub fn eth_call_in_block(
        &self,
        from: Option<Address>,
        to: Address,
        data: &[u8],
        gas: u64,
        block: &str,
        number: u64,
        time: u64,
    ) -> Result<Bytes> {
        let env = json!({"number": format!("{number:#x}"), "time": format!("{time:#x}")});
        let params = json!([call_tx(from, to, data, gas), block, null, env]);
        self.call("eth_call", params).map_err(revert_from_node)
    }

    /// A typed view call.
    pub fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return> {
        let out = self.eth_call(None, to, &call.abi_encode())?;
        C::abi_decode_returns(&out).map_err(|e| decode_err(C::SIGNATURE, e))
    }

    /// `(reserve0, reserve1)` of a V2 pair at `latest`.
    pub fn reserves(&self, pair: Address) -> Result<(U256, U256)> {
        let r = self.view(pair, &IUniswapV2Pair::getReservesCall {})?;
        Ok((U256::from(r.reserve0), U256::from(r.reserve1)))
    }

    /// Reserves of several pairs in one batch request.
    pub fn reserves_many(&self, pairs: &[Address]) -> Result<Vec<(U256, U256)>> {
        let data = Bytes::from(IUniswapV2Pair::getReservesCall {}.abi_encode());
        let requests: Vec<(&str, Value)> = pairs
            .iter()
            .map(|pair| ("eth_call", json!([{"to": pair, "data": data}, "latest"])))
            .collect();
        let mut out = Vec::with_capacity(pairs.len());
        for answer in self.batch(&requests)? {
            let bytes: Bytes =
                serde_json::from_value(answer?).map_err(|e| decode_err("eth_call", e))?;
            let r = IUniswapV2Pair::getReservesCall::abi_decode_returns(&bytes)
                .map_err(|e| decode_err("getReserves()", e))?;
            out.push((U256::from(r.reserve0), U256::from(r.reserve1)));
        }
        Ok(out)
    }

    /// Several `eth_call`s at `latest` in one batch request, `(to, calldata)` each; each answer
    /// is the return data or that call's error (a revert is [`RpcError::Reverted`]).
    pub fn calls_many(&self, calls: &[(Address, Bytes)]) -> Result<Vec<Result<Bytes>>> {
        let requests: Vec<(&str, Value)> = calls
            .iter()
            .map(|(to, data)| ("eth_call", json!([{"to": to, "data": data}, "latest"])))
            .collect();
        Ok(self
            .batch(&requests)?
            .into_iter()
            .map(|answer| {
                answer.map_err(revert_from_node).and_then(|v| {
                    serde_json::from_value::<Bytes>(v).map_err(|e| decode_err("eth_call", e))
                })
            })
            .collect())
    }

    /// `eth_getLogs` over blocks `from..=to`, of the contracts `addresses` (all when empty).
    pub fn logs(&self, from: u64, to: u64, addresses: &[Address]) -> Result<Vec<Log>> {
        let mut filter = json!({
            "fromBlock": format!("{from:#x}"),
            "toBlock": format!("{to:#x}"),
        });
        if !addresses.is_empty() {
            filter["address"] = json!(addresses);
        }
        self.call("eth_getLogs", json!([filter]))
    }

    /// ERC-20 `balanceOf(owner)`.
    pub fn balance_of(&self, token: Address, owner: Address) -> Result<U256> {
        self.view(token, &IERC20::balanceOfCall { owner })
    }

    /// `evm_mine`: mines one block with whatever the pool holds.
    pub fn mine(&self) -> Result<()> {
        self.request("evm_mine", json!([])).map(drop)
    }

    /// `anvil_getAutomine`.
    pub fn automine(&self) -> Result<bool> {
        self.call("anvil_getAutomine", json!([]))
    }

    /// `evm_setAutomine`: `false` leaves transactions pending until [`Rpc::mine`].
    pub fn set_automine(&self, on: bool) -> Result<()> {
        self.request("evm_setAutomine", json!([on])).map(drop)
    }

    /// `evm_snapshot`: an id for [`Rpc::revert_to`].
    pub fn snapshot(&self) -> Result<U256> {
        self.call("evm_snapshot", json!([]))
    }

    /// `evm_revert`: back to the state of `snapshot` (which is used up); `false` if unknown.
    pub fn revert_to(&self, snapshot: U256) -> Result<bool> {
        self.call("evm_revert", json!([snapshot]))
    }

    /// `evm_increaseTime`: later blocks' timestamps move on by `seconds`.
    pub fn increase_time(&self, seconds: u64) -> Result<()> {
        self.request("evm_increaseTime", json!([seconds])).map(drop)
    }

    /// `anvil_setBlockTimestampInterval`: every later block is `seconds` after the previous one,
    /// whatever the wall clock says (so pools whose state depends on time, like Algebra's
    /// adaptive fee, behave the same on every run).
    pub fn set_block_timestamp_interval(&self, seconds: u64) -> Result<()> {
        self.request("anvil_setBlockTimestampInterval", json!([seconds]))
            .map(drop)
    }

    /// `anvil_setCode`: replaces the runtime code at `addr` (storage stays).
    pub fn set_code(&self, addr: Address, code: &[u8]) -> Result<()> {
        self.request("anvil_setCode", json!([addr, Bytes::copy_from_slice(code)]))
            .map(drop)
    }

    /// `anvil_setBalance`, wei.
    pub fn set_balance(&self, addr: Address, wei: U256) -> Result<()> {
        self.request("anvil_setBalance", json!([addr, format!("{wei:#x}")]))
            .map(drop)
    }

    fn quantity(&self, method: &str, params: Value) -> Result<u64> {
        let q: U64 = self.call(method, params)?;
        Ok(q.to())
    }
}

/// `Error(string)` as its bare string; panics, custom errors and UTF-8 as alloy words them.
pub fn revert_reason(data: &[u8]) -> Option<String> {
    match Revert::abi_decode(data) {
        Ok(revert) => Some(revert.reason),
        Err(_) => decode_revert_reason(data),
    }
}

fn decode_err(method: &str, e: impl fmt::Display) -> RpcError {
    RpcError::Decode {
        method: method.to_owned(),
        message: e.to_string(),
    }
}

fn take_result(method: &str, mut answer: Value) -> Result<Value> {
    if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let data = err
            .get("data")
            .and_then(|d| serde_json::from_value::<Bytes>(d.clone()).ok());
        return Err(RpcError::Node {
            method: method.to_owned(),
            code,
            message,
            data,
        });
    }
    match answer.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(decode_err(method, "neither result nor error")),
    }
}

/// The call object of an `eth_call` with an explicit gas limit.
fn call_tx(from: Option<Address>, to: Address, data: &[u8], gas: u64) -> Value {
    let mut tx =
        json!({"to": to, "data": Bytes::copy_from_slice(data), "gas": format!("{gas:#x}")});
    if let Some(from) = from {
        tx["from"] = json!(from);
    }
    tx
}

/// Turns a node's "execution reverted" error into [`RpcError::Reverted`].
fn revert_from_node(e: RpcError) -> RpcError {
    match e {
        RpcError::Node {
            code,
            message,
            data,
            ..
        } if code == EXECUTION_REVERTED || message.starts_with("execution reverted") => {
            RpcError::Reverted {
                tx: None,
                data: data.unwrap_or_default(),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_error_and_result_are_told_apart() {
        let ok = take_result("m", json!({"jsonrpc":"2.0","id":1,"result":"0x1"}));
        assert_eq!(ok, Ok(json!("0x1")));
        let data = Revert::from("UniswapV2: K").abi_encode();
        let err = take_result(
            "eth_call",
            json!({"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted: UniswapV2: K","data":Bytes::from(data.clone())}}),
        )
        .unwrap_err();
        let reverted = revert_from_node(err);
        assert_eq!(
            reverted,
            RpcError::Reverted {
                tx: None,
                data: data.into()
            }
        );
        assert_eq!(reverted.revert_reason().as_deref(), Some("UniswapV2: K"));
        assert_eq!(reverted.to_string(), "call reverted: UniswapV2: K");
        let other = take_result(
            "m",
            json!({"error":{"code":-32601,"message":"no such method"}}),
        );
        assert_eq!(
            revert_from_node(other.unwrap_err()).to_string(),
            "m: node error -32601: no such method"
        );
        assert!(take_result("m", json!({"id":1})).is_err());
    }

    #[test]
    fn tx_request_json() {
        let from = Address::repeat_byte(1);
        let to = Address::repeat_byte(2);
        let tx = TxRequest::call(from, to, vec![0xab]).with_gas(21_000);
        let v = tx.to_json();
        assert_eq!(v["gas"], "0x5208");
        assert_eq!(v["data"], "0xab");
        assert_eq!(v["value"], "0x0");
        assert_eq!(
            v["to"].as_str().map(str::to_lowercase),
            Some(format!("{to:#x}"))
        );
        assert!(
            TxRequest::create(from, vec![0x60])
                .to_json()
                .get("to")
                .is_none()
        );
    }

    #[test]
    fn unreachable_node_is_a_transport_error() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let rpc = Rpc::new(format!("http://127.0.0.1:{port}"));
        assert!(matches!(rpc.chain_id(), Err(RpcError::Transport { .. })));
    }
}
