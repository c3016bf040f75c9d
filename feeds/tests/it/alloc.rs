//! "No allocation on the hot path", proven with a counting global allocator. Counts are per
//! thread, so tests running in parallel do not disturb each other.

use std::time::Duration;

use polyarb_alloc_count::{Counting, count};
use polyarb_core::FrameKind;
use polyarb_feeds::{
    Decoded, RecordReader, RecordWriter, RpcClient, WsConfig, WsConn, WsEvent, decode,
    decode_general, decode_known_shape,
};

use crate::support::{python_ws_server, server_frame};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the number of allocations it made on this thread.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let (r, n) = count(f);
    (r, n.calls)
}

const SYNC: &str = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
const SWAP: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";
const MINT: &str = "0x7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde";
const BURN: &str = "0x0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c";
const FEE: &str = "0x598b9f043c813aa6be3426ca60d1c65d17256312890be5118dab55b0775ebe2a";

/// A log notification in anvil's key order with `topics` and `data` (hex words, no `0x`).
fn cl_log(topics: &[&str], data: &[String]) -> String {
    let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xabc","result":{{"address":"0x45dda9cb7c25131df268515131f647d726f50608","topics":[{}],"data":"0x{}","blockHash":"0x{h}","blockNumber":"0x4a1b2c3","blockTimestamp":"0x6b026ba0","transactionHash":"0x{h}","transactionIndex":"0x2e","logIndex":"0x1a5","removed":false}}}}}}"#,
        topics.join(","),
        data.concat(),
        h = "ab".repeat(32)
    )
}

/// Swap, Mint, Burn and Fee notifications, each with negative numbers where the ABI has them
/// (a sign-extended tick, a negative amount).
fn concentrated_payloads() -> Vec<String> {
    // An int256 word: `v` in 16 two's-complement digits, sign-extended.
    let signed = |v: i64| {
        let fill = if v < 0 { "f" } else { "0" };
        format!("{}{:016x}", fill.repeat(48), v)
    };
    let addr = format!("{:0>64}", "11".repeat(20));
    vec![
        cl_log(
            &[SWAP, &format!("0x{addr}"), &format!("0x{addr}")],
            &[
                signed(-1_234_567),
                signed(987_654),
                format!("{:064x}", 79_228_162_514_264_337_593_543_950_336_u128),
                format!("{:064x}", 1_000_000_000_000_000_000_u128),
                signed(-197_340),
            ],
        ),
        cl_log(
            &[
                MINT,
                &format!("0x{addr}"),
                &format!("0x{}", signed(-887_220)),
                &format!("0x{}", signed(-60)),
            ],
            &[
                addr.clone(),
                format!("{:064x}", u128::MAX),
                signed(5),
                signed(6),
            ],
        ),
        cl_log(
            &[
                BURN,
                &format!("0x{addr}"),
                &format!("0x{}", signed(60)),
                &format!("0x{}", signed(887_220)),
            ],
            &[format!("{:064x}", 0), signed(7), signed(8)],
        ),
        cl_log(&[FEE], &[format!("{:064x}", 7_550)]),
    ]
}

fn payloads() -> Vec<String> {
    let data = format!("0x{:064x}{:064x}", 123_456_789u128, 987_654_321u128);
    let geth = format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xabc","result":{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":["{SYNC}"],"data":"{data}","blockNumber":"0x3a2b1c0","transactionHash":"0x{h}","transactionIndex":"0x1f","blockHash":"0x{h}","logIndex":"0x7b","removed":false}}}}}}"#,
        h = "ab".repeat(32)
    );
    // anvil's key order, with blockTimestamp, and params before method.
    let anvil = format!(
        r#"{{"jsonrpc":"2.0","params":{{"subscription":"0xabc","result":{{"address":"0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827","topics":["{SYNC}"],"data":"{data}","blockHash":"0x{h}","blockNumber":"0x3a2b1c0","blockTimestamp":"0x6b026ba0","transactionHash":"0x{h}","transactionIndex":"0x1f","logIndex":"0x7b","removed":false}}}},"method":"eth_subscription"}}"#,
        h = "ab".repeat(32)
    );
    let head = format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xdef","result":{{"hash":"0x{h}","parentHash":"0x{h}","number":"0x1","gasLimit":"0x1c9c380","timestamp":"0x6b026ba0","baseFeePerGas":"0x3b9aca00","uncles":[],"transactions":["0x{h}"]}}}}}}"#,
        h = "cd".repeat(32)
    );
    let transfer = geth.replace(
        SYNC,
        "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
    );
    vec![
        geth,
        anvil,
        head,
        transfer,
        r#"{"jsonrpc":"2.0","id":42,"result":"0x89"}"#.into(),
        r#"{"jsonrpc":"2.0","id":43,"error":{"code":-32000,"message":"nonce too low"}}"#.into(),
        r#"{"jsonrpc":"2.0","id":43,"error":{"code":-3"#.into(), // truncated
        "\\u0000 garbage".into(),
    ]
}

#[test]
fn decoding_concentrated_pool_logs_allocates_nothing() {
    let payloads = concentrated_payloads();
    let (kinds, n) = counted(|| {
        let mut kinds = [0u32; 5];
        for _ in 0..1000 {
            for p in &payloads {
                let k = match decode(p.as_bytes(), 5) {
                    Ok(Decoded::Frame(f)) if f.kind == FrameKind::ClSwap => 0,
                    Ok(Decoded::Frame(f)) if f.kind == FrameKind::ClMint => 1,
                    Ok(Decoded::Frame(f)) if f.kind == FrameKind::ClBurn => 2,
                    Ok(Decoded::Frame(f)) if f.kind == FrameKind::AlgebraFee => 3,
                    _ => 4,
                };
                kinds[k] += 1;
            }
        }
        kinds
    });
    assert_eq!(kinds, [1000, 1000, 1000, 1000, 0]);
    assert_eq!(n, 0, "decode allocated {n} times");
}

#[test]
fn decode_allocates_nothing() {
    let payloads = payloads();
    let (kinds, n) = counted(|| {
        let mut kinds = [0u32; 6];
        for _ in 0..1000 {
            for p in &payloads {
                let k = match decode(p.as_bytes(), 5) {
                    Ok(Decoded::Frame(f)) if f.kind == FrameKind::V2Sync => 0,
                    Ok(Decoded::Frame(_)) => 1,
                    Ok(Decoded::Ignored(_)) => 2,
                    Ok(Decoded::Response(r)) if r.id == Some(42) => 3,
                    Ok(Decoded::Response(_)) => 4,
                    Err(_) => 5,
                };
                kinds[k] += 1;
            }
        }
        kinds
    });
    assert_eq!(kinds, [2000, 1000, 1000, 1000, 1000, 2000]);
    assert_eq!(n, 0, "decode allocated {n} times");
}

/// The known-shape path (geth with and without `blockTimestamp`, anvil, every tracked kind) and
/// the general parser on the same payloads: neither allocates.
#[test]
fn known_shape_path_allocates_nothing() {
    let mut known = payloads();
    known.truncate(1); // geth's order without blockTimestamp
    let ts = known[0].replace(
        "\"logIndex\"",
        "\"blockTimestamp\":\"0x6b026ba0\",\"logIndex\"",
    );
    known.push(ts);
    known.extend(concentrated_payloads()); // anvil's order
    for p in &known {
        assert!(decode_known_shape(p.as_bytes(), 5).is_some(), "{p}");
    }
    let (frames, n) = counted(|| {
        let mut frames = 0u32;
        for _ in 0..1000 {
            for p in &known {
                frames += u32::from(decode_known_shape(p.as_bytes(), 5).is_some());
                frames += u32::from(matches!(decode(p.as_bytes(), 5), Ok(Decoded::Frame(_))));
                frames += u32::from(matches!(
                    decode_general(p.as_bytes(), 5),
                    Ok(Decoded::Frame(_))
                ));
            }
        }
        frames
    });
    assert_eq!(frames, 3 * 1000 * 6);
    assert_eq!(n, 0, "the decoder's paths allocated {n} times");
}

/// A server frame without FIN (a fragment that is not the last).
fn fragment(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = server_frame(opcode, payload);
    f[0] &= 0x7F;
    f
}

#[test]
fn websocket_codec_steady_state_allocates_nothing() {
    // OS-random masks, as live: the key pool (256 keys) is filled here, and 3 keys a round trip
    // (2 pongs, 1 request) × 50 per round means the warm-up takes 150 and the counted round
    // takes keys 151–300, refilling the pool once in between.
    let mut conn = WsConn::new(WsConfig::default()).expect("os random source");
    let msg = payloads().swap_remove(0);
    let mut inbound = server_frame(0x1, msg.as_bytes());
    inbound.extend(server_frame(0x9, b"ping")); // answered with a pong
    inbound.extend(server_frame(0x2, &[5; 70_000]));
    // A fragmented text message with a ping and a pong between its fragments: reassembled in
    // the connection's reused buffer, the ping answered.
    let (a, b, c) = (
        &msg.as_bytes()[..100],
        &msg.as_bytes()[100..200],
        &msg.as_bytes()[200..],
    );
    inbound.extend(fragment(0x1, a));
    inbound.extend(server_frame(0x9, b"between"));
    inbound.extend(fragment(0x0, b));
    inbound.extend(server_frame(0xA, b"unsolicited"));
    inbound.extend(server_frame(0x0, c));
    let round = |conn: &mut WsConn| -> usize {
        let mut total = 0;
        for _ in 0..50 {
            conn.feed(&inbound);
            while let Ok(Some(WsEvent::Message { payload, .. })) = conn.next_event() {
                total += payload.len();
            }
            conn.send_text(br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#)
                .unwrap();
            let n = conn.pending().len();
            conn.written(n);
        }
        total
    };
    round(&mut conn); // warm-up: buffers grow to their working size
    let (total, n) = counted(|| round(&mut conn));
    assert_eq!(total, 50 * (2 * msg.len() + 70_000));
    assert_eq!(n, 0, "codec allocated {n} times after warm-up");
}

#[test]
fn send_raw_transaction_and_poll_allocate_nothing_after_warmup() {
    let (_server, port) = python_ws_server();
    let mut rpc = RpcClient::connect(
        &format!("ws://127.0.0.1:{port}/echo"),
        Duration::from_secs(10),
    )
    .expect("connect");
    let tx = [0xA5u8; 180];
    let mut echoed = 0usize;
    let step = |rpc: &mut RpcClient, echoed: &mut usize| {
        rpc.send_raw_transaction(&tx).expect("send");
        rpc.poll(Some(Duration::ZERO), |p| {
            if let Ok(Decoded::Ignored(_)) = decode(p, 0) {
                *echoed += 1;
            }
        })
        .expect("poll");
    };
    for _ in 0..20 {
        step(&mut rpc, &mut echoed);
    }
    let ((), n) = counted(|| {
        for _ in 0..200 {
            step(&mut rpc, &mut echoed);
        }
    });
    assert_eq!(n, 0, "send_raw_transaction + poll allocated {n} times");
    // The echoes are our requests coming back (a method, no result: ignored by the decoder).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while echoed < 220 {
        assert!(std::time::Instant::now() < deadline, "only {echoed} echoes");
        rpc.poll(Some(Duration::from_millis(50)), |p| {
            if let Ok(Decoded::Ignored(_)) = decode(p, 0) {
                echoed += 1;
            }
        })
        .expect("poll");
    }
}

#[test]
fn recording_and_replay_allocate_nothing_per_record() {
    let payloads = payloads();
    let mut w = RecordWriter::new(Vec::with_capacity(8 << 20), 0, "test").unwrap();
    for (i, p) in payloads.iter().enumerate() {
        w.write(i as u64, p.as_bytes()).unwrap(); // warm-up
    }
    let ((), n) = counted(|| {
        for i in 0..2000 {
            let p = &payloads[i % payloads.len()];
            w.write(i as u64, p.as_bytes()).unwrap();
        }
    });
    assert_eq!(n, 0, "writer allocated {n} times");
    let bytes = w.into_inner().unwrap();
    let mut r = RecordReader::new(&bytes[..]).unwrap();
    for _ in 0..payloads.len() {
        r.next_ref().unwrap().unwrap(); // warm-up
    }
    let (count, n) = counted(|| {
        let mut count = 0;
        while let Some(rec) = r.next_ref() {
            let rec = rec.unwrap();
            assert_eq!(rec.payload, payloads[count % payloads.len()].as_bytes());
            count += 1;
        }
        count
    });
    assert_eq!(count, 2000);
    assert_eq!(n, 0, "reader allocated {n} times");
}
