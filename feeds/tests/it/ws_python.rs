//! The websocket client against an independent server: Python's `websockets` package.

use std::{
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use polyarb_feeds::{WsClient, WsError};

use crate::support::{python_ws_server, recv};

const T: Duration = Duration::from_secs(10);

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn connect(port: u16, path: &str) -> WsClient {
    WsClient::connect(&format!("ws://127.0.0.1:{port}{path}"), T)
        .unwrap_or_else(|e| panic!("connect {path}: {e}"))
}

#[test]
fn echo_all_length_encodings() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/echo");
    // 7-bit, 16-bit and 64-bit length frames in both directions.
    let msgs: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        Vec::new(),
        vec![b'a'; 125],
        vec![b'b'; 126],
        vec![b'c'; 65_535],
        vec![b'd'; 65_536],
        pattern(1_000_000).iter().map(|b| b'A' + b % 26).collect(),
    ];
    for m in &msgs {
        ws.send_text(m).expect("send");
    }
    let got = recv(&mut ws, msgs.len());
    assert_eq!(got, msgs);
    ws.close(T).expect("clean close");
    assert!(ws.is_closed());
}

#[test]
fn fragmented_messages_are_reassembled() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/fragmented");
    let got = recv(&mut ws, 2);
    assert_eq!(got[0], b"fragmented text");
    let want: Vec<u8> = (0u8..5)
        .flat_map(|i| std::iter::repeat_n(i, 1000))
        .collect();
    assert_eq!(got[1], want);
}

#[test]
fn server_ping_is_answered_with_matching_pong() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/ping");
    assert_eq!(recv(&mut ws, 1), [b"pong ok".to_vec()]);
}

#[test]
fn large_messages_with_64_bit_lengths() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/large");
    let got = recv(&mut ws, 2);
    assert_eq!(got[0].len(), 70_000);
    assert_eq!(got[0], pattern(70_000));
    assert_eq!(got[1].len(), 5_000_000);
    assert!(got[1] == pattern(5_000_000), "5 MB payload differs");
}

#[test]
fn server_close_is_reported_after_earlier_messages() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/close");
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    let code = loop {
        assert!(Instant::now() < deadline, "no close within {T:?}");
        match ws.poll(Some(Duration::from_millis(100)), |p| got.push(p.to_vec())) {
            Ok(_) => {}
            Err(WsError::Closed(code)) => break code,
            Err(e) => panic!("unexpected error {e}"),
        }
    };
    assert_eq!(code, Some(4001));
    assert_eq!(got, [b"bye soon".to_vec()]);
    assert!(ws.is_closed());
    assert!(matches!(
        ws.poll(Some(Duration::ZERO), |_| {}),
        Err(WsError::Closed(Some(4001)))
    ));
    assert!(ws.send_text(b"x").is_err());
}

#[test]
fn busy_poll_never_waits() {
    let (_server, port) = python_ws_server();
    let ws = connect(port, "/echo");
    // The echo server sends nothing unprompted: a zero timeout must come back empty at once.
    // The polls run on a helper thread and the test waits for them at most `T`, so a poll that
    // blocks fails the test instead of hanging it (checked by making `poll` ignore the zero
    // timeout: the test then fails after `T`).
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let mut ws = ws;
        for _ in 0..1000 {
            let n = ws
                .poll(Some(Duration::ZERO), |p| panic!("unprompted {p:?}"))
                .expect("poll");
            assert_eq!(n, 0);
        }
        let _ = done.send(ws);
    });
    let mut ws = finished
        .recv_timeout(T)
        .unwrap_or_else(|e| panic!("1000 zero-timeout polls did not return within {T:?}: {e}"));
    ws.send_text(b"spin").expect("send");
    let deadline = Instant::now() + T;
    let mut got = Vec::new();
    while got.is_empty() {
        assert!(Instant::now() < deadline, "no echo within {T:?}");
        ws.poll(Some(Duration::ZERO), |p| got.push(p.to_vec()))
            .expect("poll");
    }
    assert_eq!(got, [b"spin".to_vec()]);
}
