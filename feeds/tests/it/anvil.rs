//! The JSON-RPC client and the decoder against a real node (anvil, chain id 137) running real
//! Uniswap V2 bytecode.

use std::time::{Duration, Instant};

use polyarb_core::{FeedFrame, FrameKind};
use polyarb_feeds::{
    BlockTag, Decoded, IgnoreReason, Log, LogFilter, RecordReader, RecordWriter, Reply, RpcClient,
    RpcError, SYNC_TOPIC, decode,
};
use serde_json::{Value, json};

use crate::support::{anvil, hex, toolchain, unhex};

const T: Duration = Duration::from_secs(20);

const TRANSFER_TOPIC: &str = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
// Selectors: first 4 bytes of keccak256 of the signature.
const CREATE_PAIR: [u8; 4] = [0xc9, 0xc6, 0x53, 0x96]; // createPair(address,address)
const GET_PAIR: [u8; 4] = [0xe6, 0xa4, 0x39, 0x05]; // getPair(address,address)
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb]; // transfer(address,uint256)
const SYNC: [u8; 4] = [0xff, 0xf6, 0xca, 0xe9]; // sync()
const GET_RESERVES: [u8; 4] = [0x09, 0x02, 0xf1, 0xac]; // getReserves()

fn connect(url: &str) -> RpcClient {
    RpcClient::connect(url, T).unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

fn account(rpc: &mut RpcClient) -> String {
    let accts = rpc.call("eth_accounts", &json!([])).expect("eth_accounts");
    accts[0].as_str().expect("an unlocked account").to_owned()
}

fn address(s: &str) -> [u8; 20] {
    unhex(s).try_into().expect("20-byte address")
}

fn word_address(a: &[u8; 20]) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a);
    w
}

fn word_u128(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

fn calldata(selector: [u8; 4], words: &[[u8; 32]]) -> Vec<u8> {
    let mut d = selector.to_vec();
    for w in words {
        d.extend_from_slice(w);
    }
    d
}

/// Creation bytecode of a Uniswap V2 build artifact.
fn bytecode(name: &str) -> Vec<u8> {
    let path = toolchain(&format!("node_modules/@uniswap/v2-core/build/{name}.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("read artifact"))
        .expect("artifact json");
    unhex(v["bytecode"].as_str().expect("bytecode string"))
}

/// Sends a transaction from the unlocked account (anvil mines it at once) and returns its
/// receipt, which must show success.
fn transact(rpc: &mut RpcClient, from: &str, to: Option<&[u8; 20]>, data: &[u8]) -> Value {
    let mut tx = json!({ "from": from, "data": hex(data) });
    if let Some(to) = to {
        tx["to"] = json!(hex(to));
    }
    let hash = rpc
        .call("eth_sendTransaction", &json!([tx]))
        .expect("eth_sendTransaction");
    // anvil answers with the hash before the automined block is stored: ask until it is.
    let deadline = Instant::now() + T;
    loop {
        let receipt = rpc
            .call("eth_getTransactionReceipt", &json!([hash]))
            .expect("receipt");
        if !receipt.is_null() {
            assert_eq!(receipt["status"], "0x1", "transaction failed: {receipt}");
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn deploy(rpc: &mut RpcClient, from: &str, code: Vec<u8>, args: &[[u8; 32]]) -> [u8; 20] {
    let mut data = code;
    for a in args {
        data.extend_from_slice(a);
    }
    let receipt = transact(rpc, from, None, &data);
    address(
        receipt["contractAddress"]
            .as_str()
            .expect("contract address"),
    )
}

fn q(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16)
        .expect("hex quantity")
}

#[test]
fn chain_queries_batches_and_node_errors() {
    let (_node, url) = anvil();
    let mut rpc = connect(&url);
    assert_eq!(rpc.chain_id().unwrap(), 137);
    assert_eq!(rpc.block_number().unwrap(), 0);
    let genesis = rpc
        .block_header(BlockTag::Latest)
        .unwrap()
        .expect("genesis");
    assert_eq!(genesis.number, 0);
    assert!(
        genesis.base_fee_per_gas.is_some_and(|f| f > 0),
        "{genesis:?}"
    );
    assert_eq!(rpc.block_header(BlockTag::Number(99)).unwrap(), None);
    let from = account(&mut rpc);
    assert_eq!(
        rpc.transaction_count(&address(&from), BlockTag::Pending)
            .unwrap(),
        0
    );

    // Pipelined: 600 calls, one of them to a method anvil does not have.
    let mut calls: Vec<(&str, Value)> = Vec::new();
    for i in 0..600 {
        let method = match i {
            300 => "no_such_method",
            i if i % 2 == 0 => "eth_chainId",
            _ => "eth_blockNumber",
        };
        calls.push((method, json!([])));
    }
    let results = rpc.call_many(&calls).unwrap();
    assert_eq!(results.len(), 600);
    for (i, r) in results.iter().enumerate() {
        match (i, r) {
            (300, Err(RpcError::Node { .. })) => {}
            (i, Ok(v)) if i != 300 => assert_eq!(v, if i % 2 == 0 { "0x89" } else { "0x0" }),
            other => panic!("unexpected {other:?}"),
        }
    }

    // A value transfer so the nonce moves.
    let to = [0x42u8; 20];
    let tx = json!([{ "from": from, "to": hex(&to), "value": "0x1" }]);
    rpc.call("eth_sendTransaction", &tx).unwrap();
    assert_eq!(
        rpc.transaction_count(&address(&from), BlockTag::Pending)
            .unwrap(),
        1
    );
    // eth_call to an account without code returns empty data.
    assert_eq!(
        rpc.eth_call(&to, &GET_RESERVES, BlockTag::Latest).unwrap(),
        Vec::<u8>::new()
    );

    // Garbage raw transaction, blocking: a node error, cleanly.
    let before = rpc.stats().node_errors;
    match rpc.call("eth_sendRawTransaction", &json!(["0xdeadbeef"])) {
        Err(e @ RpcError::Node { .. }) => assert!(e.to_string().starts_with("node error ")),
        other => panic!("expected a node error, got {other:?}"),
    }
    assert_eq!(rpc.stats().node_errors, before + 1);

    // Non-blocking: the error response is recognised by id when it arrives.
    let id = rpc.send_raw_transaction(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
    let deadline = Instant::now() + T;
    let mut seen = None;
    while seen.is_none() {
        assert!(Instant::now() < deadline, "no response to request {id}");
        rpc.poll(Some(Duration::from_millis(100)), |p| {
            if let Ok(Decoded::Response(r)) = decode(p, 0)
                && r.id == Some(id)
            {
                seen = Some(matches!(r.reply, Reply::Error(_)));
            }
        })
        .unwrap();
    }
    assert_eq!(seen, Some(true));
    rpc.close(T).unwrap();
}

#[test]
fn heads_and_sync_logs_from_real_uniswap_v2_contracts() {
    let (_node, url) = anvil();
    let mut rpc = connect(&url);
    let from = account(&mut rpc);
    let transfer_topic: [u8; 32] = unhex(TRANSFER_TOPIC).try_into().unwrap();
    let heads_sub = rpc.subscribe_new_heads().unwrap();
    let logs_sub = rpc
        .subscribe_logs(&[], &[SYNC_TOPIC, transfer_topic])
        .unwrap();
    assert_ne!(heads_sub, logs_sub);

    // Two tokens, a factory, a pair; fund the pair and sync it. Every transaction mines a block,
    // and their notifications arrive while these blocking calls wait: they must be kept.
    let supply = word_u128(10u128.pow(24));
    let token_a = deploy(&mut rpc, &from, bytecode("ERC20"), &[supply]);
    let token_b = deploy(&mut rpc, &from, bytecode("ERC20"), &[supply]);
    let factory = deploy(
        &mut rpc,
        &from,
        bytecode("UniswapV2Factory"),
        &[word_address(&address(&from))],
    );
    transact(
        &mut rpc,
        &from,
        Some(&factory),
        &calldata(
            CREATE_PAIR,
            &[word_address(&token_a), word_address(&token_b)],
        ),
    );
    let got = rpc
        .eth_call(
            &factory,
            &calldata(GET_PAIR, &[word_address(&token_a), word_address(&token_b)]),
            BlockTag::Latest,
        )
        .unwrap();
    let pair: [u8; 20] = got[12..32].try_into().unwrap();
    assert_ne!(pair, [0; 20]);
    let (amount_a, amount_b) = (1_000_000_123u128, 2_000_000_456u128);
    transact(
        &mut rpc,
        &from,
        Some(&token_a),
        &calldata(TRANSFER, &[word_address(&pair), word_u128(amount_a)]),
    );
    transact(
        &mut rpc,
        &from,
        Some(&token_b),
        &calldata(TRANSFER, &[word_address(&pair), word_u128(amount_b)]),
    );
    let sync_receipt = transact(&mut rpc, &from, Some(&pair), &calldata(SYNC, &[]));
    let last_block = rpc.block_number().unwrap();
    assert_eq!(last_block, 7, "one block per transaction");
    // token0 is the lower address (UniswapV2Factory.createPair sorts).
    let (r0, r1) = if token_a < token_b {
        (amount_a, amount_b)
    } else {
        (amount_b, amount_a)
    };

    // Notifications of the first blocks arrived while later calls waited for their answers.
    assert!(rpc.stats().buffered > 0);
    // Everything kept during the calls comes out of poll first; record it all.
    let clock = Instant::now();
    let mut rec = RecordWriter::new(Vec::new(), 0, &url).unwrap();
    let mut frames: Vec<FeedFrame> = Vec::new();
    let mut ignored = 0;
    let on = |p: &[u8],
              frames: &mut Vec<FeedFrame>,
              ignored: &mut u32,
              rec: &mut RecordWriter<Vec<u8>>| {
        let now = clock.elapsed().as_nanos() as u64;
        rec.write(now, p).unwrap();
        match decode(p, now) {
            Ok(Decoded::Frame(f)) => frames.push(f),
            Ok(Decoded::Ignored(IgnoreReason::UntrackedTopic)) => *ignored += 1,
            other => panic!(
                "unexpected payload {:?}: {other:?}",
                String::from_utf8_lossy(p)
            ),
        }
    };
    let deadline = Instant::now() + T;
    // 7 heads, 1 Sync, 4 Transfers (2 mints, 2 transfers).
    while frames.len() < 8 || ignored < 4 {
        assert!(
            Instant::now() < deadline,
            "have {} frames, {ignored} ignored",
            frames.len()
        );
        rpc.poll(Some(Duration::from_millis(100)), |p| {
            on(p, &mut frames, &mut ignored, &mut rec)
        })
        .unwrap();
    }
    assert_eq!(ignored, 4);
    let heads: Vec<&FeedFrame> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::NewHead)
        .collect();
    let syncs: Vec<&FeedFrame> = frames
        .iter()
        .filter(|f| f.kind == FrameKind::V2Sync)
        .collect();
    assert_eq!(
        heads.iter().map(|f| f.block_number).collect::<Vec<_>>(),
        (1..=last_block).collect::<Vec<_>>()
    );
    for h in &heads {
        let hdr = rpc
            .block_header(BlockTag::Number(h.block_number))
            .unwrap()
            .unwrap();
        assert_eq!(h.word_u128(0), hdr.base_fee_per_gas);
        assert_eq!(h.word_u128(1), Some(u128::from(hdr.timestamp)));
    }
    assert_eq!(syncs.len(), 1);
    let s = syncs[0];
    assert_eq!(s.address, pair);
    assert_eq!(s.block_number, q(&sync_receipt["blockNumber"]));
    assert_eq!(u64::from(s.tx_index), q(&sync_receipt["transactionIndex"]));
    assert_eq!(
        u64::from(s.log_index),
        q(&sync_receipt["logs"][0]["logIndex"])
    );
    assert_eq!(s.removed, 0);
    assert_eq!((s.word_u128(0), s.word_u128(1)), (Some(r0), Some(r1)));
    // The pair's own view agrees with the decoded event.
    let reserves = rpc
        .eth_call(&pair, &GET_RESERVES, BlockTag::Latest)
        .unwrap();
    assert_eq!(reserves[..32], s.words[0]);
    assert_eq!(reserves[32..64], s.words[1]);

    // A head after evm_mine.
    rpc.call("evm_mine", &json!([])).unwrap();
    let deadline = Instant::now() + T;
    while frames.len() < 9 {
        assert!(Instant::now() < deadline, "no head after evm_mine");
        rpc.poll(Some(Duration::from_millis(100)), |p| {
            on(p, &mut frames, &mut ignored, &mut rec)
        })
        .unwrap();
    }
    assert_eq!(
        (frames[8].kind, frames[8].block_number),
        (FrameKind::NewHead, last_block + 1)
    );
    assert!(rpc.unsubscribe(&logs_sub).unwrap());

    // Replay the recording through the decoder: the same frames, with the recorded times.
    let bytes = rec.into_inner().unwrap();
    let mut replayed = Vec::new();
    for r in RecordReader::new(&bytes[..]).unwrap() {
        let r = r.unwrap();
        if let Ok(Decoded::Frame(f)) = decode(&r.payload, r.recv_ns) {
            replayed.push(f);
        }
    }
    assert_eq!(replayed, frames);
    rpc.close(T).unwrap();
}

/// `eth_getLogs`, alone and pipelined, returns exactly the logs the receipts list, every field.
#[test]
fn get_logs_returns_what_the_receipts_say() {
    let (_node, url) = anvil();
    let mut rpc = connect(&url);
    let from = account(&mut rpc);
    let transfer_topic: [u8; 32] = unhex(TRANSFER_TOPIC).try_into().unwrap();
    let supply = word_u128(10u128.pow(24));
    let token_a = deploy(&mut rpc, &from, bytecode("ERC20"), &[supply]);
    let token_b = deploy(&mut rpc, &from, bytecode("ERC20"), &[supply]);
    let mut receipts = Vec::new();
    for i in 0..6u8 {
        let token = if i % 3 == 2 { &token_b } else { &token_a };
        let to = word_address(&[0x40 + i; 20]);
        receipts.push(transact(
            &mut rpc,
            &from,
            Some(token),
            &calldata(TRANSFER, &[to, word_u128(1_000 + u128::from(i))]),
        ));
    }
    let head = rpc.block_number().unwrap();
    // The receipts' logs of token A's transfers (the mints at deployment came first).
    let expect: Vec<Log> = receipts
        .iter()
        .flat_map(|r| r["logs"].as_array().unwrap().clone())
        .filter(|l| address(l["address"].as_str().unwrap()) == token_a)
        .map(|l| Log {
            address: token_a,
            topics: l["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| unhex(t.as_str().unwrap()).try_into().unwrap())
                .collect(),
            data: unhex(l["data"].as_str().unwrap()),
            block_number: q(&l["blockNumber"]),
            block_hash: unhex(l["blockHash"].as_str().unwrap()).try_into().unwrap(),
            transaction_hash: unhex(l["transactionHash"].as_str().unwrap())
                .try_into()
                .unwrap(),
            transaction_index: q(&l["transactionIndex"]),
            log_index: q(&l["logIndex"]),
            removed: false,
        })
        .collect();
    assert_eq!(expect.len(), 4);
    let first = expect[0].block_number;

    let filter = |lo, hi| LogFilter {
        addresses: std::slice::from_ref(&token_a),
        topics0: std::slice::from_ref(&transfer_topic),
        from_block: lo,
        to_block: hi,
    };
    let all = rpc.get_logs(&filter(first, head)).unwrap();
    assert_eq!(all, expect);
    // The deployment's mint is before `first`.
    assert_eq!(rpc.get_logs(&filter(0, head)).unwrap().len(), 5);
    // One block at a time, pipelined: the same logs.
    let singles: Vec<LogFilter<'_>> = (first..=head).map(|b| filter(b, b)).collect();
    let mut pieces = Vec::new();
    for r in rpc.get_logs_many(&singles).unwrap() {
        pieces.extend(r.unwrap());
    }
    assert_eq!(pieces, expect);
    // No topic filter and both tokens: every Transfer of both (2 mints + 6 transfers).
    let both = [token_a, token_b];
    let any = LogFilter {
        addresses: &both,
        topics0: &[],
        from_block: 0,
        to_block: head,
    };
    assert_eq!(rpc.get_logs(&any).unwrap().len(), 8);
    assert!(rpc.get_logs_many(&[]).unwrap().is_empty());
    rpc.close(T).unwrap();
}
