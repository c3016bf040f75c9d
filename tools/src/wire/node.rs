//! The node the server pretends to be: JSON-RPC answers to a resumed `polyarb run`, consistent
//! with the snapshot and the recording (chain id, the snapshot's block as the head, `[]` for
//! catch-up logs, the executor's capital and the lenders' offers the snapshot holds, a nonce, a
//! hash for each raw transaction). Pure: a request's bytes in, the answer's bytes out, plus what
//! the run needs to count; time and sockets live in `server`.

use std::collections::HashMap;

use alloy_primitives::{Address, keccak256};
use serde_json::{Value, json};

use super::schedule::{HEADS_SUBSCRIPTION, LOGS_SUBSCRIPTION};

/// Aave's reserve configuration bits polyarb reads (`ReserveConfiguration.sol`): active, flash
/// loans enabled (paused, bit 60, stays clear).
const AAVE_ACTIVE_BIT: u32 = 56;
const AAVE_FLASHLOAN_BIT: u32 = 63;
/// Words of Aave V3's `getReserveData` answer and where the aToken sits in it.
const AAVE_RESERVE_WORDS: usize = 15;
const AAVE_ATOKEN_WORD: usize = 8;

/// What the answers are made from (the run's config and snapshot).
#[derive(Debug, Clone, Default)]
pub struct ChainSpec {
    /// `eth_chainId`.
    pub chain_id: u64,
    /// The snapshot's block: the head until the play's heads pass it.
    pub block: u64,
    /// Base fee of synthetic heads, wei per gas.
    pub base_fee_wei: u128,
    /// The sender's pending nonce at start.
    pub first_nonce: u64,
    /// `signer.executor`.
    pub executor: Option<Address>,
    /// `[funding] balancer_vault`.
    pub balancer_vault: Option<Address>,
    /// `[funding] aave_pool`.
    pub aave_pool: Option<Address>,
    /// The executor's balance of each token, raw units.
    pub capital: Vec<(Address, u128)>,
    /// Balancer's offers: token, available (raw units); and its fee (18 decimals).
    pub balancer: Vec<(Address, u128)>,
    /// Balancer's flash-loan fee, 18-decimal fraction.
    pub balancer_fee: u128,
    /// Aave's offers: token, available (raw units).
    pub aave: Vec<(Address, u128)>,
    /// Aave's `FLASHLOAN_PREMIUM_TOTAL`, basis points.
    pub aave_premium_bps: u128,
    /// Recorded heads by number (`eth_getBlockByNumber` answers them as recorded).
    pub heads: HashMap<u64, Value>,
}

/// A raw transaction the node was handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTx {
    /// keccak256 of the bytes: the hash answered.
    pub hash: [u8; 32],
    /// The nonce read from the envelope (`None` if the bytes are not an RLP transaction).
    pub nonce: Option<u64>,
    /// Envelope bytes.
    pub len: usize,
    /// The same bytes came before (a rewrite).
    pub repeat: bool,
}

/// One request's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The response payload (JSON text).
    pub response: Vec<u8>,
    /// The request's method (`"?"` when it had none).
    pub method: String,
    /// The request's params, shortened, for the request log.
    pub params: String,
    /// Set for `eth_sendRawTransaction`.
    pub tx: Option<RawTx>,
}

/// The node's state across one run.
#[derive(Debug)]
pub struct Node {
    spec: ChainSpec,
    calls: HashMap<(Address, Vec<u8>), Vec<u8>>,
    seen: HashMap<[u8; 32], ()>,
    /// (nonce, heads played when it arrived): mined once a later head has been played.
    nonces: Vec<(u64, u64)>,
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature.as_bytes())[..4].to_vec()
}

fn word_u128(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

fn word_address(a: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_slice());
    w
}

fn call_address(sig: &str, a: Address) -> Vec<u8> {
    let mut d = selector(sig);
    d.extend_from_slice(&word_address(a));
    d
}

/// The fee collector the fake Vault names (no contract has this address on a real chain).
fn collector() -> Address {
    Address::from_slice(&keccak256(b"polyarb-wire balancer fee collector")[12..])
}

/// The aToken the fake Aave pool names for `token`.
fn a_token(token: Address) -> Address {
    let mut seed = b"polyarb-wire aToken ".to_vec();
    seed.extend_from_slice(token.as_slice());
    Address::from_slice(&keccak256(&seed)[12..])
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

/// The nonce of an EIP-2718 typed transaction (`[chainId, nonce, …]`) or a legacy one
/// (`[nonce, …]`).
pub fn tx_nonce(raw: &[u8]) -> Option<u64> {
    let (typed, body) = match raw.first()? {
        0..=0x7f => (true, raw.get(1..)?),
        0xc0.. => (false, raw),
        _ => return None,
    };
    let (list, items, _) = rlp_item(body)?;
    if !list {
        return None;
    }
    let items = if typed { rlp_item(items)?.2 } else { items };
    let (list, nonce, _) = rlp_item(items)?;
    if list || nonce.len() > 8 {
        return None;
    }
    Some(nonce.iter().fold(0u64, |n, &b| n << 8 | u64::from(b)))
}

/// One RLP item: (is a list, its payload, the bytes after it).
fn rlp_item(b: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let first = *b.first()?;
    let (list, start, len) = match first {
        0..=0x7f => return Some((false, &b[..1], &b[1..])),
        0x80..=0xb7 => (false, 1, usize::from(first - 0x80)),
        0xb8..=0xbf => {
            let n = usize::from(first - 0xb7);
            (false, 1 + n, be_len(b.get(1..1 + n)?)?)
        }
        0xc0..=0xf7 => (true, 1, usize::from(first - 0xc0)),
        0xf8.. => {
            let n = usize::from(first - 0xf7);
            (true, 1 + n, be_len(b.get(1..1 + n)?)?)
        }
    };
    let end = start.checked_add(len)?;
    Some((list, b.get(start..end)?, b.get(end..)?))
}

fn be_len(b: &[u8]) -> Option<usize> {
    if b.len() > 4 {
        return None;
    }
    Some(b.iter().fold(0usize, |n, &x| n << 8 | usize::from(x)))
}

impl Node {
    /// A node answering from `spec`.
    pub fn new(spec: ChainSpec) -> Self {
        let mut calls = HashMap::new();
        let mut put = |to: Address, data: Vec<u8>, answer: Vec<u8>| {
            calls.insert((to, data), answer);
        };
        if let Some(executor) = spec.executor {
            for &(token, amount) in &spec.capital {
                put(
                    token,
                    call_address("balanceOf(address)", executor),
                    word_u128(amount).to_vec(),
                );
            }
            if let Some(vault) = spec.balancer_vault {
                put(
                    executor,
                    selector("balancerVault()"),
                    word_address(vault).to_vec(),
                );
            }
            if let Some(pool) = spec.aave_pool {
                put(
                    executor,
                    selector("aavePool()"),
                    word_address(pool).to_vec(),
                );
            }
        }
        if let Some(vault) = spec.balancer_vault {
            put(
                vault,
                selector("getProtocolFeesCollector()"),
                word_address(collector()).to_vec(),
            );
            put(
                collector(),
                selector("getFlashLoanFeePercentage()"),
                word_u128(spec.balancer_fee).to_vec(),
            );
            for &(token, available) in &spec.balancer {
                put(
                    token,
                    call_address("balanceOf(address)", vault),
                    word_u128(available).to_vec(),
                );
            }
        }
        if let Some(pool) = spec.aave_pool {
            put(
                pool,
                selector("FLASHLOAN_PREMIUM_TOTAL()"),
                word_u128(spec.aave_premium_bps).to_vec(),
            );
            for &(token, available) in &spec.aave {
                let mut data = vec![0u8; 32 * AAVE_RESERVE_WORDS];
                let config = (1u128 << AAVE_ACTIVE_BIT) | (1u128 << AAVE_FLASHLOAN_BIT);
                data[..32].copy_from_slice(&word_u128(config));
                let at = 32 * AAVE_ATOKEN_WORD;
                data[at..at + 32].copy_from_slice(&word_address(a_token(token)));
                put(pool, call_address("getReserveData(address)", token), data);
                put(
                    token,
                    call_address("balanceOf(address)", a_token(token)),
                    word_u128(available).to_vec(),
                );
            }
        }
        Self {
            spec,
            calls,
            seen: HashMap::new(),
            nonces: Vec::new(),
        }
    }

    /// The sender's pending count: one past the highest nonce handed over, or the first nonce.
    fn pending(&self) -> u64 {
        self.nonces
            .iter()
            .map(|&(n, _)| n + 1)
            .max()
            .unwrap_or(0)
            .max(self.spec.first_nonce)
    }

    /// The mined count: a transaction is mined by the first head played after it arrived.
    fn latest(&self, heads_played: u64) -> u64 {
        self.nonces
            .iter()
            .filter(|&&(_, at)| at < heads_played)
            .map(|&(n, _)| n + 1)
            .max()
            .unwrap_or(0)
            .max(self.spec.first_nonce)
    }

    fn head(&self, number: u64) -> Value {
        if let Some(h) = self.spec.heads.get(&number) {
            return h.clone();
        }
        let hash = |n: u64| hex(&keccak256(format!("polyarb-wire block {n}").as_bytes())[..]);
        json!({
            "number": format!("{number:#x}"),
            "hash": hash(number),
            "parentHash": hash(number.saturating_sub(1)),
            "timestamp": "0x0",
            "baseFeePerGas": format!("{:#x}", self.spec.base_fee_wei),
            "gasLimit": "0x1c9c380",
            "gasUsed": "0x0",
            "miner": hex(&[0u8; 20]),
            "logsBloom": hex(&[0u8; 256]),
            "transactions": [],
        })
    }

    /// The answer to one request payload. `head` is the newest block played (the snapshot's
    /// until the play passes it); `heads_played` how many head notifications were written.
    pub fn answer(&mut self, request: &[u8], head: u64, heads_played: u64) -> Answer {
        let v: Value = match serde_json::from_slice(request) {
            Ok(v) => v,
            Err(_) => {
                return Answer {
                    response: error(&Value::Null, -32700, "parse error"),
                    method: "?".to_owned(),
                    params: String::new(),
                    tx: None,
                };
            }
        };
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let method = v.get("method").and_then(Value::as_str).unwrap_or("?");
        let params = v.get("params").cloned().unwrap_or(Value::Null);
        let mut shown = params.to_string();
        if shown.len() > 200 {
            // Cut on a char boundary: params are JSON text, mostly ASCII.
            let mut at = 200;
            while !shown.is_char_boundary(at) {
                at -= 1;
            }
            shown.truncate(at);
            shown.push('…');
        }
        let mut tx = None;
        let result: Result<Value, (i64, &str)> = match method {
            "eth_chainId" => Ok(json!(format!("{:#x}", self.spec.chain_id))),
            "eth_blockNumber" => Ok(json!(format!("{head:#x}"))),
            "eth_subscribe" => match params.get(0).and_then(Value::as_str) {
                Some("logs") => Ok(json!(LOGS_SUBSCRIPTION)),
                Some("newHeads") => Ok(json!(HEADS_SUBSCRIPTION)),
                _ => Err((-32602, "unsupported subscription")),
            },
            "eth_unsubscribe" => Ok(json!(true)),
            "eth_getLogs" => Ok(json!([])),
            "eth_getBlockByNumber" => match params.get(0).and_then(Value::as_str) {
                Some("latest" | "pending" | "safe" | "finalized") => Ok(self.head(head)),
                Some(q) => match q
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                {
                    Some(n) if n <= head => Ok(self.head(n)),
                    Some(_) => Ok(Value::Null),
                    None => Err((-32602, "bad block number")),
                },
                None => Err((-32602, "bad block number")),
            },
            "eth_getTransactionCount" => match params.get(1).and_then(Value::as_str) {
                Some("pending") => Ok(json!(format!("{:#x}", self.pending()))),
                _ => Ok(json!(format!("{:#x}", self.latest(heads_played)))),
            },
            "eth_call" => {
                let call = params.get(0);
                let to = call
                    .and_then(|c| c.get("to"))
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<Address>().ok());
                let data = call
                    .and_then(|c| c.get("data").or_else(|| c.get("input")))
                    .and_then(Value::as_str)
                    .and_then(|s| alloy_primitives::hex::decode(s).ok());
                match (to, data) {
                    (Some(to), Some(data)) => match self.calls.get(&(to, data.clone())) {
                        Some(answer) => Ok(json!(hex(answer))),
                        // Anyone else's token balance: none.
                        None if data.len() == 36
                            && data[..4] == selector("balanceOf(address)")[..] =>
                        {
                            Ok(json!(hex(&[0u8; 32])))
                        }
                        // A reserve the fake pool does not list: all zero (no aToken, inactive).
                        None if Some(to) == self.spec.aave_pool
                            && data.len() == 36
                            && data[..4] == selector("getReserveData(address)")[..] =>
                        {
                            Ok(json!(hex(&[0u8; 32 * AAVE_RESERVE_WORDS])))
                        }
                        None => Err((3, "execution reverted")),
                    },
                    _ => Err((-32602, "eth_call needs to and data")),
                }
            }
            "eth_sendRawTransaction" => {
                match params
                    .get(0)
                    .and_then(Value::as_str)
                    .and_then(|s| alloy_primitives::hex::decode(s).ok())
                {
                    Some(raw) => {
                        let hash: [u8; 32] = keccak256(&raw).0;
                        let repeat = self.seen.insert(hash, ()).is_some();
                        let nonce = tx_nonce(&raw);
                        if let (Some(n), false) = (nonce, repeat) {
                            self.nonces.push((n, heads_played));
                        }
                        tx = Some(RawTx {
                            hash,
                            nonce,
                            len: raw.len(),
                            repeat,
                        });
                        Ok(json!(hex(&hash)))
                    }
                    None => Err((-32602, "transaction is not hex")),
                }
            }
            _ => Err((-32601, "method not found")),
        };
        let response = match result {
            Ok(r) => serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": r}))
                .unwrap_or_default(),
            Err((code, message)) => error(&id, code, message),
        };
        Answer {
            response,
            method: method.to_owned(),
            params: shown,
            tx,
        }
    }
}

fn error(id: &Value, code: i64, message: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(node: &mut Node, req: &str, head: u64, heads: u64) -> Value {
        serde_json::from_slice(&node.answer(req.as_bytes(), head, heads).response).unwrap()
    }

    #[test]
    fn reads_nonces_of_typed_and_legacy_envelopes() {
        // EIP-1559: 0x02 ‖ rlp([chainId 137, nonce 0x0102, …]).
        assert_eq!(
            tx_nonce(&[0x02, 0xc5, 0x81, 0x89, 0x82, 0x01, 0x02]),
            Some(0x0102)
        );
        // Legacy: rlp([nonce 7, gasPrice 0]).
        assert_eq!(tx_nonce(&[0xc2, 0x07, 0x80]), Some(7));
        // Nonce 0 is the empty string.
        assert_eq!(tx_nonce(&[0x02, 0xc3, 0x81, 0x89, 0x80]), Some(0));
        for bad in [&[][..], &[0x02], &[0x02, 0xc5, 0x81], &[0x85, 1, 2]] {
            assert_eq!(tx_nonce(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn answers_a_resumed_start_and_counts_transactions() {
        let executor = Address::repeat_byte(0xe0);
        let token = Address::repeat_byte(0x70);
        let pool = Address::repeat_byte(0xaa);
        let mut node = Node::new(ChainSpec {
            chain_id: 137,
            block: 502,
            first_nonce: 2,
            executor: Some(executor),
            aave_pool: Some(pool),
            capital: vec![(token, 1_000)],
            aave: vec![(token, 77)],
            aave_premium_bps: 5,
            ..ChainSpec::default()
        });
        let r = ask(
            &mut node,
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#,
            502,
            0,
        );
        assert_eq!(
            (r["id"].clone(), r["result"].clone()),
            (json!(1), json!("0x89"))
        );
        let r = ask(
            &mut node,
            r#"{"id":2,"method":"eth_subscribe","params":["newHeads"]}"#,
            502,
            0,
        );
        assert_eq!(r["result"], json!(HEADS_SUBSCRIPTION));
        let call = |to: Address, data: &[u8]| {
            format!(
                r#"{{"id":3,"method":"eth_call","params":[{{"to":"{to}","data":"{}"}},"0x1f6"]}}"#,
                hex(data)
            )
        };
        let r = ask(
            &mut node,
            &call(token, &call_address("balanceOf(address)", executor)),
            502,
            0,
        );
        assert_eq!(r["result"], json!(hex(&word_u128(1_000))));
        let r = ask(
            &mut node,
            &call(pool, &call_address("getReserveData(address)", token)),
            502,
            0,
        );
        let data = alloy_primitives::hex::decode(r["result"].as_str().unwrap()).unwrap();
        assert_eq!(data.len(), 32 * AAVE_RESERVE_WORDS);
        assert_eq!(&data[32 * 8 + 12..32 * 9], a_token(token).as_slice());
        let r = ask(
            &mut node,
            &call(token, &call_address("balanceOf(address)", a_token(token))),
            502,
            0,
        );
        assert_eq!(r["result"], json!(hex(&word_u128(77))));
        let r = ask(&mut node, &call(pool, &selector("nope()")), 502, 0);
        assert_eq!(r["error"]["code"], json!(3));

        let count = |tag: &str| {
            format!(r#"{{"id":4,"method":"eth_getTransactionCount","params":["0x00","{tag}"]}}"#)
        };
        assert_eq!(
            ask(&mut node, &count("pending"), 502, 0)["result"],
            json!("0x2")
        );
        let raw = [0x02, 0xc3, 0x81, 0x89, 0x02];
        let send = format!(
            r#"{{"id":5,"method":"eth_sendRawTransaction","params":["{}"]}}"#,
            hex(&raw)
        );
        let a = node.answer(send.as_bytes(), 503, 1);
        let tx = a.tx.unwrap();
        assert_eq!(
            (tx.nonce, tx.repeat, tx.hash),
            (Some(2), false, keccak256(raw).0)
        );
        let r: Value = serde_json::from_slice(&a.response).unwrap();
        assert_eq!(r["result"], json!(hex(&keccak256(raw)[..])));
        assert!(node.answer(send.as_bytes(), 503, 1).tx.unwrap().repeat);
        assert_eq!(
            ask(&mut node, &count("pending"), 503, 1)["result"],
            json!("0x3")
        );
        // Mined by the next head played, not before.
        assert_eq!(
            ask(&mut node, &count("latest"), 503, 1)["result"],
            json!("0x2")
        );
        assert_eq!(
            ask(&mut node, &count("latest"), 504, 2)["result"],
            json!("0x3")
        );
        let r = ask(
            &mut node,
            r#"{"id":6,"method":"eth_getLogs","params":[{}]}"#,
            502,
            0,
        );
        assert_eq!(r["result"], json!([]));
        let r = ask(
            &mut node,
            r#"{"id":7,"method":"eth_getBlockByNumber","params":["0x1f6",false]}"#,
            502,
            0,
        );
        assert_eq!(r["result"]["number"], json!("0x1f6"));
        let r = ask(
            &mut node,
            r#"{"id":8,"method":"eth_mine","params":[]}"#,
            502,
            0,
        );
        assert_eq!(r["error"]["code"], json!(-32601));
        assert!(node.answer(b"{nope", 502, 0).response.starts_with(b"{"));
    }
}
