//! The JSON-RPC client against a scripted peer: canned replies in a chosen order, so buffering,
//! counting and error mapping are checked exactly.

use std::time::{Duration, Instant};

use polyarb_feeds::{Decoded, Reply, RpcClient, RpcError, WsClient, decode};
use serde_json::{Value, json};

use crate::support::scripted_server;

const T: Duration = Duration::from_secs(10);

/// Reads one request from the client and returns (id, method, params).
fn request(peer: &mut crate::support::Peer) -> (u64, String, Value) {
    let (op, payload) = peer.read_frame();
    assert_eq!(op, 0x1, "requests are text frames");
    let v: Value = serde_json::from_slice(&payload).expect("request is json");
    assert_eq!(v["jsonrpc"], "2.0");
    (
        v["id"].as_u64().expect("numeric id"),
        v["method"].as_str().expect("method").to_owned(),
        v["params"].clone(),
    )
}

fn note(n: u32) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x1","result":"0x{n:x}"}}}}"#
    )
}

#[test]
fn blocking_call_keeps_everything_else_in_order() {
    let (port, server) = scripted_server(|mut peer, key| {
        peer.accept(&key);
        let (id, method, params) = request(&mut peer);
        assert_eq!((method.as_str(), params), ("eth_chainId", json!([])));
        peer.write_frame(0x1, note(1).as_bytes());
        peer.write_frame(0x1, b"{not json");
        peer.write_frame(0x1, note(2).as_bytes());
        // A reply to someone else's id, then ours, then more.
        peer.write_frame(0x1, br#"{"jsonrpc":"2.0","id":999,"result":"0x0"}"#);
        peer.write_frame(
            0x1,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"0x89"}}"#).as_bytes(),
        );
        peer.write_frame(0x1, note(3).as_bytes());

        let (id, method, _) = request(&mut peer);
        assert_eq!(method, "eth_blockNumber");
        peer.write_frame(
            0x1,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"boom"}}}}"#)
                .as_bytes(),
        );
        let (id, _, _) = request(&mut peer);
        peer.write_frame(
            0x1,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":"not an object"}}"#).as_bytes(),
        );
        let (id, method, params) = request(&mut peer);
        assert_eq!(method, "eth_sendRawTransaction");
        assert_eq!(params, json!(["0x02f8deadbeef"]));
        peer.write_frame(
            0x1,
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"rlp: bad"}}}}"#
            )
            .as_bytes(),
        );
        // Stay until the client closes.
        assert_eq!(peer.read_frame().0, 0x8);
        peer.write_frame(0x8, &1000u16.to_be_bytes());
    });
    let mut rpc = RpcClient::new(WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap());
    rpc.set_timeout(T);
    assert_eq!(rpc.chain_id().unwrap(), 137);
    match rpc.block_number() {
        Err(RpcError::Node { code, message }) => {
            assert_eq!((code, message.as_str()), (-32000, "boom"))
        }
        other => panic!("expected a node error, got {other:?}"),
    }
    assert!(matches!(
        rpc.call("eth_gasPrice", &json!([])),
        Err(RpcError::BadResponse(_))
    ));
    let stats = rpc.stats();
    assert_eq!(stats.node_errors, 2);
    assert_eq!(stats.malformed, 1);

    // Non-blocking send: the response comes through poll, after everything kept earlier.
    let tx_id = rpc
        .send_raw_transaction(&[0x02, 0xf8, 0xde, 0xad, 0xbe, 0xef])
        .unwrap();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + T;
    while got.len() < 6 {
        assert!(Instant::now() < deadline, "got only {:?}", got.len());
        rpc.poll(Some(Duration::from_millis(100)), |p| got.push(p.to_vec()))
            .unwrap();
    }
    let want: [Vec<u8>; 5] = [
        note(1).into_bytes(),
        b"{not json".to_vec(),
        note(2).into_bytes(),
        br#"{"jsonrpc":"2.0","id":999,"result":"0x0"}"#.to_vec(),
        note(3).into_bytes(),
    ];
    assert_eq!(got[..5], want);
    assert_eq!(rpc.backlog_len(), 0);
    match decode(&got[5], 0).unwrap() {
        Decoded::Response(r) => {
            assert_eq!(r.id, Some(tx_id));
            assert!(matches!(r.reply, Reply::Error(e) if e.starts_with(br#"{"code":-32000"#)));
        }
        other => panic!("expected the tx response, got {other:?}"),
    }
    assert_eq!(rpc.stats().buffered, 5);
    rpc.close(T).unwrap();
    server.join().unwrap();
}

#[test]
fn pipelined_calls_collect_out_of_order_responses() {
    const N: usize = 2000;
    let (port, server) = scripted_server(|mut peer, key| {
        peer.accept(&key);
        let reqs: Vec<(u64, String, Value)> = (0..N).map(|_| request(&mut peer)).collect();
        // Answer in reverse, with a notification in between and one error.
        let mut out = Vec::new();
        for (i, (id, method, params)) in reqs.iter().enumerate().rev() {
            assert_eq!(method, "eth_call");
            let data = params[0]["data"].as_str().unwrap();
            let reply = if i == 7 {
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":3,"message":"execution reverted"}}}}"#
                )
            } else {
                // Echo the calldata back as the return data.
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"{data}"}}"#)
            };
            out.extend(crate::support::server_frame(0x1, reply.as_bytes()));
            if i == N / 2 {
                out.extend(crate::support::server_frame(0x1, note(9).as_bytes()));
            }
        }
        use std::io::Write;
        peer.stream.write_all(&out).unwrap();
        assert_eq!(peer.read_frame().0, 0x8);
    });
    let mut rpc = RpcClient::new(WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap());
    let to = [0x11u8; 20];
    let datas: Vec<Vec<u8>> = (0..N as u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let calls: Vec<([u8; 20], &[u8])> = datas.iter().map(|d| (to, &d[..])).collect();
    let results = rpc
        .eth_call_many(&calls, polyarb_feeds::BlockTag::Latest)
        .unwrap();
    assert_eq!(results.len(), N);
    for (i, r) in results.iter().enumerate() {
        if i == 7 {
            assert!(matches!(r, Err(RpcError::Node { code: 3, .. })), "{r:?}");
        } else {
            assert_eq!(r.as_ref().unwrap(), &datas[i]);
        }
    }
    assert_eq!(rpc.backlog_len(), 1);
    let _ = rpc.close(Duration::from_millis(200));
    server.join().unwrap();
}
