//! The websocket client against an independent server: Python's `websockets` package.

use std::{
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use polyarb_feeds::{ProtocolError, WsClient, WsConfig, WsError};

use crate::support::{python_ws_server, recv};

const T: Duration = Duration::from_secs(10);

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn connect(port: u16, path: &str) -> WsClient {
    WsClient::connect(&format!("ws://127.0.0.1:{port}{path}"), T)
        .unwrap_or_else(|e| panic!("connect {path}: {e}"))
}

/// Polls until the client reports an error; returns the messages delivered before it, and it.
fn until_error(ws: &mut WsClient) -> (Vec<Vec<u8>>, WsError) {
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    loop {
        assert!(Instant::now() < deadline, "no error within {T:?}");
        if let Err(e) = ws.poll(Some(Duration::from_millis(100)), |p| got.push(p.to_vec())) {
            return (got, e);
        }
    }
}

/// The close frame the Python server received on its last connection to `path`, as it reports
/// it: "<code>" or "<code> <reason>".
fn received_close(port: u16, path: &str) -> String {
    let mut ws = connect(port, &format!("/received-close{path}"));
    let report = recv(&mut ws, 1).remove(0);
    String::from_utf8(report).expect("the report is text")
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
fn control_frames_between_fragments_keep_the_message_whole() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/interleaved");
    // Text fragment, ping, continuation, unsolicited pong, final continuation; then the server
    // says whether the pong to its ping came back.
    assert_eq!(
        recv(&mut ws, 2),
        [b"fragments between controls".to_vec(), b"pong ok".to_vec()]
    );
    // The connection goes on as normal.
    ws.send_text(b"after").expect("send");
    assert_eq!(recv(&mut ws, 1), [b"after".to_vec()]);
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
fn server_close_is_reported_after_earlier_messages_and_answered() {
    let (_server, port) = python_ws_server();
    // "Going away" and a private-use code: both reported as sent and echoed.
    for code in [1001u16, 4001] {
        let path = format!("/close/{code}");
        let mut ws = connect(port, &path);
        let (got, err) = until_error(&mut ws);
        assert!(
            matches!(err, WsError::Closed(Some(c)) if c == code),
            "got {err}"
        );
        assert_eq!(got, [b"bye soon".to_vec()]);
        assert!(ws.is_closed());
        assert!(matches!(
            ws.poll(Some(Duration::ZERO), |_| {}),
            Err(WsError::Closed(Some(c))) if c == code
        ));
        assert!(ws.send_text(b"x").is_err());
        // The client's reply close carried the same code (and no reason).
        assert_eq!(received_close(port, &path), code.to_string());
    }
}

#[test]
fn client_close_sends_1000() {
    let (_server, port) = python_ws_server();
    let mut ws = connect(port, "/echo/client-close");
    ws.send_text(b"one").expect("send");
    assert_eq!(recv(&mut ws, 1), [b"one".to_vec()]);
    ws.close(T).expect("clean close");
    assert!(ws.is_closed());
    assert_eq!(received_close(port, "/echo/client-close"), "1000");
}

#[test]
fn protocol_violations_fail_the_client_and_send_1002() {
    let (_server, port) = python_ws_server();
    for (name, want) in [
        ("rsv1", ProtocolError::ReservedBits),
        ("close-1-byte", ProtocolError::BadClosePayload),
        ("close-1005", ProtocolError::BadCloseCode(1005)),
    ] {
        let path = format!("/violation/{name}");
        let mut ws = connect(port, &path);
        let (got, err) = until_error(&mut ws);
        assert_eq!(got, [b"before".to_vec()], "{name}");
        assert!(
            matches!(err, WsError::Protocol(e) if e == want),
            "{name}: got {err}"
        );
        assert_eq!(received_close(port, &path), "1002", "{name}");
    }
}

#[test]
fn message_over_max_message_fails_the_client_and_sends_1009() {
    let (_server, port) = python_ws_server();
    let cfg = WsConfig {
        max_message: 1000,
        ..WsConfig::default()
    };
    let mut ws = WsClient::connect_with(&format!("ws://127.0.0.1:{port}/echo/too-big"), T, cfg)
        .expect("connect");
    // The limit is on what the client receives: these go out, the echo of the second is too big.
    ws.send_text(&[b'a'; 1000]).expect("send");
    ws.send_text(&[b'b'; 1001]).expect("send");
    let (got, err) = until_error(&mut ws);
    assert_eq!(got, [vec![b'a'; 1000]]);
    assert!(
        matches!(
            err,
            WsError::Protocol(ProtocolError::MessageTooLarge { max: 1000 })
        ),
        "got {err}"
    );
    assert_eq!(received_close(port, "/echo/too-big"), "1009");
}

#[test]
fn tcp_nodelay_is_set() {
    let (_server, port) = python_ws_server();
    let ws = connect(port, "/echo");
    assert!(ws.tcp_nodelay().expect("read TCP_NODELAY back"));
}

#[test]
fn tcp_keepalive_is_set() {
    let (_server, port) = python_ws_server();
    let ws = connect(port, "/echo");
    let (on, idle) = ws.tcp_keepalive().expect("read SO_KEEPALIVE back");
    assert!(on);
    assert_eq!(idle, Duration::from_secs(10));
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
