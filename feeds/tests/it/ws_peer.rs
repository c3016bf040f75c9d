//! The websocket client against a hand-rolled peer, for handshakes and frames a real server
//! would not send.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use polyarb_feeds::{HandshakeError, ProtocolError, UrlError, WsClient, WsError, accept_for_key};

use crate::support::{recv, scripted_server, server_frame};

const T: Duration = Duration::from_secs(10);

#[test]
fn bad_accept_is_rejected() {
    let (port, server) = scripted_server(|mut peer, key| {
        // Right shape, wrong value: the accept for a different key.
        let wrong = accept_for_key(format!("{key}x").as_bytes());
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            String::from_utf8_lossy(&wrong)
        );
        peer.stream.write_all(resp.as_bytes()).unwrap();
    });
    let err = WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap_err();
    assert!(
        matches!(err, WsError::Handshake(HandshakeError::BadAccept)),
        "got {err}"
    );
    assert_eq!(
        err.to_string(),
        "websocket handshake: sec-websocket-accept does not match the key sent"
    );
    server.join().unwrap();
}

#[test]
fn non_101_status_is_rejected() {
    let (port, server) = scripted_server(|mut peer, _key| {
        peer.stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let err = WsClient::connect(&format!("ws://127.0.0.1:{port}/nope"), T).unwrap_err();
    assert!(
        matches!(err, WsError::Handshake(HandshakeError::Status(404))),
        "got {err}"
    );
    server.join().unwrap();
}

#[test]
fn frames_right_behind_the_handshake_then_masked_frame_is_a_protocol_error() {
    let (port, server) = scripted_server(|mut peer, key| {
        let accept = accept_for_key(key.as_bytes());
        let mut bytes = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            String::from_utf8_lossy(&accept)
        )
        .into_bytes();
        // Same write as the head: the client must not lose these bytes.
        bytes.extend(server_frame(0x1, b"first"));
        bytes.extend(server_frame(0x2, &[7; 300]));
        peer.stream.write_all(&bytes).unwrap();
        // Wait for the client's echo of "first", then break the protocol.
        assert_eq!(peer.read_frame(), (0x1, b"got first".to_vec()));
        peer.stream
            .write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .unwrap();
        // The client answers a protocol error with close 1002.
        assert_eq!(peer.read_frame(), (0x8, 1002u16.to_be_bytes().to_vec()));
    });
    let mut ws = WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap();
    assert_eq!(recv(&mut ws, 2), [b"first".to_vec(), vec![7; 300]]);
    ws.send_text(b"got first").unwrap();
    let deadline = Instant::now() + T;
    let err = loop {
        assert!(Instant::now() < deadline, "no protocol error within {T:?}");
        match ws.poll(Some(Duration::from_millis(100)), |p| {
            panic!("unexpected message {p:?}")
        }) {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, WsError::Protocol(ProtocolError::MaskedFrame)),
        "got {err}"
    );
    server.join().unwrap();
}

#[test]
fn eof_without_close_is_reported() {
    let (port, server) = scripted_server(|mut peer, key| {
        peer.accept(&key);
        peer.write_frame(0x1, b"last words");
        // Dropping the stream ends the TCP connection without a close frame.
    });
    let mut ws = WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap();
    server.join().unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    let err = loop {
        assert!(Instant::now() < deadline);
        match ws.poll(Some(Duration::from_millis(100)), |p| got.push(p.to_vec())) {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(got, [b"last words".to_vec()]);
    assert!(matches!(err, WsError::Eof), "got {err}");
}

#[test]
fn connect_failures_are_clear() {
    assert!(matches!(
        WsClient::connect("wss://127.0.0.1:1/", T),
        Err(WsError::Url(UrlError::TlsUnsupported))
    ));
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(matches!(
        WsClient::connect(&format!("ws://127.0.0.1:{port}/"), T),
        Err(WsError::Io(_))
    ));
    // A server that accepts but never answers the handshake.
    let (port, server) = scripted_server(|peer, _key| {
        std::thread::sleep(Duration::from_millis(1500));
        drop(peer);
    });
    // Without the deadline the client would wait for the drop and report Eof instead.
    let err = WsClient::connect(
        &format!("ws://127.0.0.1:{port}/"),
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(matches!(err, WsError::Timeout), "got {err}");
    server.join().unwrap();
}
