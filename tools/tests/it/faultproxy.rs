//! The fault proxy against independent peers: a test client and a test upstream written here
//! with their own few lines of RFC 6455 framing (not the proxy's), on blocking sockets whose
//! every read times out. Each fault is shown doing what it says, and only that many times.

use std::{
    io::{BufRead, BufReader, ErrorKind, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use polyarb_tools::{
    AnvilOpts, TxRequest,
    faultproxy::{Fault, FaultProxy, Report, upstream_addr},
};
use serde_json::{Value, json};

/// Any read waiting longer than this fails the test.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The key and accept value of RFC 6455 section 1.3's example handshake.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The test client's masking key.
const CLIENT_KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A proxy in front of a test upstream that the test accepts on by hand.
struct Rig {
    proxy: FaultProxy,
    upstream: TcpListener,
}

/// A client connected through the proxy and the upstream end of the same session.
struct Pair {
    client: TcpStream,
    up: TcpStream,
}

fn rig_with(max_runtime: Duration) -> Rig {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = FaultProxy::start(
        upstream.local_addr().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        max_runtime,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Rig { proxy, upstream }
}

fn rig() -> Rig {
    rig_with(Duration::from_secs(120))
}

fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(ms(2));
            }
            Err(e) => panic!("the proxy did not connect upstream: {e}"),
        }
    }
}

/// Reads an HTTP head byte by byte up to the blank line.
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap_or_else(|e| panic!("head: {e}"));
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

fn connect_to(addr: SocketAddr, upstream: &TcpListener) -> Pair {
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request = format!(
        "GET /rpc HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    client.write_all(request.as_bytes()).unwrap();
    let mut up = accept(upstream);
    assert_eq!(
        read_head(&mut up),
        request,
        "the request head is relayed as is"
    );
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
    );
    up.write_all(response.as_bytes()).unwrap();
    assert_eq!(
        read_head(&mut client),
        response,
        "the response head is relayed as is"
    );
    Pair { client, up }
}

impl Rig {
    fn connect(&self) -> Pair {
        connect_to(self.proxy.local_addr(), &self.upstream)
    }

    /// Waits until the report satisfies `ok` (counts are updated just after the writes the
    /// peers see).
    fn report_until(&self, ok: impl Fn(&Report) -> bool) -> Report {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let report = self.proxy.report();
            if ok(&report) {
                return report;
            }
            assert!(
                Instant::now() < deadline,
                "report never got there: {report:?}"
            );
            thread::sleep(ms(5));
        }
    }
}

/// A frame as read: the first header byte as is, the masking key if any, the payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    b0: u8,
    key: Option<[u8; 4]>,
    payload: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.payload)
            )
        })
    }
}

fn frame_bytes(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn send(s: &mut TcpStream, b0: u8, payload: &[u8], key: Option<[u8; 4]>) {
    s.write_all(&frame_bytes(b0, payload, key)).unwrap();
}

/// A whole text message, server to client (unmasked).
fn server_text(up: &mut TcpStream, text: &str) {
    send(up, 0x81, text.as_bytes(), None);
}

/// A whole text message, client to server (masked).
fn client_text(client: &mut TcpStream, text: &str) {
    send(client, 0x81, text.as_bytes(), Some(CLIENT_KEY));
}

fn read_frame(s: &mut TcpStream) -> Got {
    let mut read = |n: usize| {
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("no frame within {TIMEOUT:?}: {e}"));
        buf
    };
    let h = read(2);
    let len = match h[1] & 0x7F {
        126 => u64::from(u16::from_be_bytes(read(2).try_into().unwrap())),
        127 => u64::from_be_bytes(read(8).try_into().unwrap()),
        n => u64::from(n),
    };
    let key: Option<[u8; 4]> = (h[1] & 0x80 != 0).then(|| read(4).try_into().unwrap());
    let mut payload = read(usize::try_from(len).unwrap());
    if let Some(k) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    Got {
        b0: h[0],
        key,
        payload,
    }
}

/// Reads one whole unfragmented text frame and returns its JSON.
fn read_json(s: &mut TcpStream) -> Value {
    let f = read_frame(s);
    assert_eq!(f.b0, 0x81, "a whole text frame: {f:?}");
    f.json()
}

/// The peer closed: the next read is EOF (no close frame first).
fn expect_eof(s: &mut TcpStream, who: &str) {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("{who}: expected EOF, read {:?}", &b[..n]),
        Err(e) => panic!("{who}: expected EOF within {TIMEOUT:?}: {e}"),
    }
}

/// Nothing arrives for `quiet`.
fn expect_quiet(s: &mut TcpStream, quiet: Duration) {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected nothing, got {other:?} {:?}", &b[..8]),
    }
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
}

fn log_note(index: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xa1","result":{{"address":"0x0000000000000000000000000000000000000001","topics":["0x02"],"data":"0x","blockNumber":"0x10","logIndex":"{index:#x}"}}}}}}"#
    )
}

fn head_note(number: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xb2","result":{{"parentHash":"0x03","number":"{number:#x}"}}}}}}"#
    )
}

fn response(id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"{id:#x}"}}"#)
}

fn request(id: u64, method: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":[]}}"#)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn faultproxy_relays_frames_both_ways() {
    let rig = rig();
    let mut p = rig.connect();
    // A request in three fragments with a ping between the first two: the ping is relayed at
    // once, the fragments once the message is whole, re-masked with another key.
    let req = request(1, "eth_chainId");
    let (a, rest) = req.as_bytes().split_at(10);
    let (b, c) = rest.split_at(7);
    send(&mut p.client, 0x01, a, Some(CLIENT_KEY));
    send(&mut p.client, 0x89, b"ping", Some(CLIENT_KEY));
    send(&mut p.client, 0x00, b, Some(CLIENT_KEY));
    send(&mut p.client, 0x80, c, Some(CLIENT_KEY));
    let ping = read_frame(&mut p.up);
    assert_eq!((ping.b0, &ping.payload[..]), (0x89, &b"ping"[..]));
    let frames: Vec<Got> = (0..3).map(|_| read_frame(&mut p.up)).collect();
    assert_eq!(
        frames.iter().map(|f| f.b0).collect::<Vec<_>>(),
        [0x01, 0x00, 0x80]
    );
    for f in frames.iter().chain([&ping]) {
        let key = f.key.expect("frames to upstream are masked");
        assert_ne!(key, CLIENT_KEY, "re-masked with a new key");
    }
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    assert_eq!(joined, req.as_bytes());

    // Server to client: a pong and a response in two fragments, unmasked.
    let resp = response(1);
    let (a, b) = resp.as_bytes().split_at(12);
    send(&mut p.up, 0x8A, b"ping", None);
    send(&mut p.up, 0x01, a, None);
    send(&mut p.up, 0x80, b, None);
    let pong = read_frame(&mut p.client);
    assert_eq!(
        (pong.b0, pong.key, &pong.payload[..]),
        (0x8A, None, &b"ping"[..])
    );
    let (f1, f2) = (read_frame(&mut p.client), read_frame(&mut p.client));
    assert_eq!((f1.b0, f2.b0, f1.key, f2.key), (0x01, 0x80, None, None));
    assert_eq!([f1.payload, f2.payload].concat(), resp.as_bytes());

    // The close handshake, then upstream closes the TCP connection and so does the proxy.
    send(
        &mut p.client,
        0x88,
        &1000u16.to_be_bytes(),
        Some(CLIENT_KEY),
    );
    let close = read_frame(&mut p.up);
    assert_eq!((close.b0, &close.payload[..]), (0x88, &[0x03, 0xE8][..]));
    send(&mut p.up, 0x88, &1000u16.to_be_bytes(), None);
    drop(p.up);
    assert_eq!(read_frame(&mut p.client).b0, 0x88);
    expect_eof(&mut p.client, "client");
    let report = rig.report_until(|r| r.control_frames == 4);
    assert_eq!(
        (
            report.sessions,
            report.client_messages,
            report.server_messages
        ),
        (1, 1, 1)
    );
    assert_eq!(report.applied, Default::default());
    assert_eq!(report.bad_frames, 0);
}

#[test]
fn faultproxy_drop_connection() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::DropConnection);
    expect_eof(&mut p.client, "client");
    expect_eof(&mut p.up, "upstream");
    // The fault was used up: the next session relays.
    let mut q = rig.connect();
    server_text(&mut q.up, &response(2));
    assert_eq!(read_json(&mut q.client), json_of(&response(2)));
    client_text(&mut q.client, &request(3, "eth_blockNumber"));
    assert_eq!(
        read_json(&mut q.up),
        json_of(&request(3, "eth_blockNumber"))
    );
    let report = rig.proxy.report();
    assert_eq!((report.applied.drop_connection, report.sessions), (1, 2));
    assert!(report.pending.is_empty());
}

#[test]
fn faultproxy_stall() {
    let rig = rig();
    let mut p = rig.connect();
    let stall = ms(1_000);
    let t0 = Instant::now();
    rig.proxy.inject(Fault::Stall(stall));
    for i in 0..3 {
        server_text(&mut p.up, &log_note(i));
    }
    // Client to server still flows during the stall.
    client_text(&mut p.client, &request(4, "eth_call"));
    assert_eq!(read_json(&mut p.up), json_of(&request(4, "eth_call")));
    assert!(t0.elapsed() < stall, "the request waited for the stall");
    for i in 0..3 {
        assert_eq!(read_json(&mut p.client), json_of(&log_note(i)));
        assert!(t0.elapsed() >= stall, "message {i} came through the stall");
    }
    assert_eq!(rig.proxy.report().applied.stall, 1);
}

#[test]
fn faultproxy_one_byte_segments() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::OneByteSegments { messages: 1 });
    let note = log_note(7);
    let want = frame_bytes(0x81, note.as_bytes(), None);
    server_text(&mut p.up, &note);
    let (mut got, mut reads) = (Vec::new(), 0usize);
    let mut buf = [0u8; 4096];
    while got.len() < want.len() {
        let n = p
            .client
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("after {} bytes: {e}", got.len()));
        assert!(n > 0, "EOF after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(got, want);
    // Written one byte per write with a pause between: the reader wakes for (nearly) every byte.
    // A reader descheduled for longer than the pause can see a few bytes at once, hence 1/3.
    assert!(
        reads * 3 >= want.len(),
        "{reads} reads for {} bytes",
        want.len()
    );
    // Only one message.
    server_text(&mut p.up, &log_note(8));
    assert_eq!(read_json(&mut p.client), json_of(&log_note(8)));
    let report = rig.report_until(|r| r.server_messages == 2);
    assert_eq!(report.applied.one_byte_segments, 1);
    assert!(report.pending.is_empty());
}

#[test]
fn faultproxy_delay() {
    let rig = rig();
    let mut p = rig.connect();
    let by = ms(400);
    rig.proxy.inject(Fault::Delay { by, messages: 2 });
    let t0 = Instant::now();
    for id in 1..=3 {
        server_text(&mut p.up, &response(id));
    }
    for id in 1..=3 {
        assert_eq!(read_json(&mut p.client), json_of(&response(id)), "in order");
        assert!(t0.elapsed() >= by, "response {id} arrived before the delay");
    }
    let report = rig.report_until(|r| r.server_messages == 3);
    assert_eq!(report.applied.delay, 2);
    assert!(report.pending.is_empty());
}

#[test]
fn faultproxy_duplicate_logs() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::DuplicateLogs { n: 1 });
    let sent = [head_note(5), log_note(0), response(9), log_note(1)];
    for text in &sent {
        server_text(&mut p.up, text);
    }
    // The head and the response are not logs; the first log comes twice, the second once.
    for want in [&sent[0], &sent[1], &sent[1], &sent[2], &sent[3]] {
        assert_eq!(read_json(&mut p.client), json_of(want));
    }
    expect_quiet(&mut p.client, ms(200));
    let report = rig.report_until(|r| r.server_messages == 4);
    assert_eq!(report.applied.duplicate_logs, 1);
}

#[test]
fn faultproxy_garbage() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::Garbage);
    let f = read_frame(&mut p.client);
    assert_eq!(f.b0, 0x81, "a whole text frame");
    assert!(std::str::from_utf8(&f.payload).is_ok(), "valid UTF-8");
    assert!(
        serde_json::from_slice::<Value>(&f.payload).is_err(),
        "not JSON"
    );
    server_text(&mut p.up, &response(1));
    assert_eq!(read_json(&mut p.client), json_of(&response(1)));
    assert_eq!(rig.proxy.report().applied.garbage, 1);
}

#[test]
fn faultproxy_protocol_violation() {
    let rig = rig();
    // The client drops the connection on seeing the frame; the proxy closes upstream.
    let mut p = rig.connect();
    rig.proxy.inject(Fault::ProtocolViolation);
    let f = read_frame(&mut p.client);
    assert_ne!(f.b0 & 0x70, 0, "reserved bits set: {f:?}");
    drop(p.client);
    expect_eof(&mut p.up, "upstream");
    // A client that stays: the proxy half-closed at once and ends the session after its grace.
    let mut q = rig.connect();
    rig.proxy.inject(Fault::ProtocolViolation);
    assert_ne!(read_frame(&mut q.client).b0 & 0x70, 0);
    expect_eof(&mut q.client, "client");
    expect_eof(&mut q.up, "upstream");
    assert_eq!(rig.proxy.report().applied.protocol_violation, 2);
}

#[test]
fn faultproxy_delay_heads() {
    let rig = rig();
    let mut p = rig.connect();
    let by = ms(500);
    rig.proxy.inject(Fault::DelayHeads { by, n: 1 });
    let t0 = Instant::now();
    for text in [head_note(1), log_note(0), head_note(2)] {
        server_text(&mut p.up, &text);
    }
    // The log and the second head pass the held first head.
    assert_eq!(read_json(&mut p.client), json_of(&log_note(0)));
    assert_eq!(read_json(&mut p.client), json_of(&head_note(2)));
    assert_eq!(read_json(&mut p.client), json_of(&head_note(1)));
    assert!(t0.elapsed() >= by, "the head was not held");
    assert_eq!(rig.proxy.report().applied.delay_heads, 1);
}

#[test]
fn faultproxy_lose_answer() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::LoseAnswer {
        method: "eth_call".into(),
        n: 1,
    });
    let reqs = [
        request(5, "eth_call"),
        request(6, "eth_blockNumber"),
        request(7, "eth_call"),
    ];
    for r in &reqs {
        client_text(&mut p.client, r);
    }
    // All forwarded...
    for r in &reqs {
        assert_eq!(read_json(&mut p.up), json_of(r));
    }
    for id in 5..=7 {
        server_text(&mut p.up, &response(id));
    }
    // ...but the first eth_call's answer is lost.
    assert_eq!(read_json(&mut p.client), json_of(&response(6)));
    assert_eq!(read_json(&mut p.client), json_of(&response(7)));
    expect_quiet(&mut p.client, ms(200));
    let report = rig.proxy.report();
    assert_eq!((report.applied.lose_answer, report.client_messages), (1, 3));
}

#[test]
fn faultproxy_null_id_error() {
    let rig = rig();
    let mut p = rig.connect();
    rig.proxy.inject(Fault::NullIdError {
        method: "eth_sendRawTransaction".into(),
        n: 1,
    });
    client_text(&mut p.client, &request(9, "eth_sendRawTransaction"));
    client_text(&mut p.client, &request(10, "eth_chainId"));
    assert_eq!(
        read_json(&mut p.client),
        json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error (injected)"}})
    );
    // Upstream never sees request 9.
    assert_eq!(read_json(&mut p.up), json_of(&request(10, "eth_chainId")));
    expect_quiet(&mut p.up, ms(200));
    server_text(&mut p.up, &response(10));
    assert_eq!(read_json(&mut p.client), json_of(&response(10)));
    let report = rig.proxy.report();
    assert_eq!(
        (report.applied.null_id_error, report.client_messages),
        (1, 1)
    );
}

#[test]
fn faultproxy_reject() {
    let rig = rig();
    let mut p = rig.connect();
    let message = "execution reverted (injected)";
    rig.proxy.inject(Fault::Reject {
        method: "eth_call".into(),
        n: 2,
        message: message.into(),
    });
    client_text(&mut p.client, &request(3, "eth_call"));
    client_text(&mut p.client, &request(4, "eth_call"));
    client_text(&mut p.client, &request(5, "eth_blockNumber"));
    client_text(&mut p.client, &request(6, "eth_call"));
    for id in [3, 4] {
        assert_eq!(
            read_json(&mut p.client),
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32000,"message":message}})
        );
    }
    // Only the requests past the two rejected reach upstream.
    assert_eq!(
        read_json(&mut p.up),
        json_of(&request(5, "eth_blockNumber"))
    );
    assert_eq!(read_json(&mut p.up), json_of(&request(6, "eth_call")));
    expect_quiet(&mut p.up, ms(200));
    assert_eq!(rig.proxy.report().applied.reject, 2);
}

#[test]
fn faultproxy_survives_hostile_peers() {
    let rig = rig();
    // A client frame without a mask.
    let mut p = rig.connect();
    send(&mut p.client, 0x81, b"{}", None);
    expect_eof(&mut p.client, "client");
    expect_eof(&mut p.up, "upstream");
    // An upstream frame with an undefined opcode.
    let mut q = rig.connect();
    send(&mut q.up, 0x83, b"", None);
    expect_eof(&mut q.client, "client");
    // An upstream that claims a 2^63-byte frame.
    let mut r = rig.connect();
    r.up.write_all(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    expect_eof(&mut r.client, "client");
    // A client whose request head never ends.
    let mut s = TcpStream::connect(rig.proxy.local_addr()).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(&[b'x'; 20_000]).unwrap();
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        // Closed with some of our bytes unread, the proxy's socket may answer with a reset.
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("endless head: expected the connection closed, got {other:?}"),
    }
    // Still serving.
    let mut t = rig.connect();
    server_text(&mut t.up, &response(1));
    assert_eq!(read_json(&mut t.client), json_of(&response(1)));
    let report = rig.report_until(|r| r.failed_handshakes == 1);
    assert_eq!(report.bad_frames, 3);
    assert_eq!(report.sessions, 5);
}

#[test]
fn faultproxy_stops_after_max_runtime() {
    let rig = rig_with(ms(400));
    let mut p = rig.connect();
    expect_eof(&mut p.client, "client");
    expect_eof(&mut p.up, "upstream");
    let deadline = Instant::now() + TIMEOUT;
    while rig.proxy.is_running() {
        assert!(Instant::now() < deadline, "still running");
        thread::sleep(ms(10));
    }
    // The listener is gone with the accept thread.
    assert!(TcpStream::connect(rig.proxy.local_addr()).is_err());
}

#[test]
fn faultproxy_refuses_non_loopback() {
    let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
    for (upstream, listen) in [
        (local, "0.0.0.0:0".parse().unwrap()),
        (
            "10.0.0.1:8545".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        ),
    ] {
        let err = FaultProxy::start(upstream, listen, TIMEOUT).unwrap_err();
        assert!(err.to_string().contains("is not loopback"), "{err}");
    }
}

/// The command: the listening line, chaos from a seed, the summary in words on exit.
#[test]
fn faultproxy_command_line() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyarb-tools"))
        .args(["faultproxy", "--upstream"])
        .arg(format!("ws://{}", upstream.local_addr().unwrap()))
        .args(["--listen", "127.0.0.1:0", "--max-runtime-s", "3"])
        .args(["--chaos-seed", "7", "--chaos-every-ms", "100"])
        .args(["--chaos-faults", "garbage"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("faultproxy listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .parse()
        .unwrap();
    let mut p = connect_to(addr, &upstream);
    // Chaos sends garbage every 100 ms.
    let f = read_frame(&mut p.client);
    assert!(serde_json::from_slice::<Value>(&f.payload).is_err());
    let mut rest = String::new();
    let reading = thread::spawn(move || out.read_to_string(&mut rest).map(|_| rest));
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("faultproxy ran past --max-runtime-s");
        }
        thread::sleep(ms(50));
    }
    let summary = reading.join().unwrap().unwrap();
    assert!(
        summary.starts_with("faultproxy stopped\n1 session "),
        "{summary}"
    );
    assert!(summary.contains("garbage messages"), "{summary}");
    assert!(!summary.contains("Garbage"), "no Debug dumps: {summary}");
}

/// Against the real node: anvil's handshake, answers, newHeads and log notifications go through,
/// and its heads and logs are told apart (a log is duplicated while the head is held back).
#[test]
fn faultproxy_on_anvil() {
    let anvil = super::anvil(AnvilOpts::default());
    let rpc = anvil.rpc();
    let mut proxy = FaultProxy::start(
        upstream_addr(&anvil.ws_url()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_secs(120),
    )
    .unwrap();
    // A contract whose every call emits one log without topics: runtime PUSH1 0 PUSH1 0 LOG0
    // STOP, behind creation code that returns it.
    let from = anvil.accounts()[0];
    let initcode = [
        0x60, 0x06, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, // deploy 6 bytes
        0x60, 0x00, 0x60, 0x00, 0xa0, 0x00, // runtime
    ];
    let (emitter, _) = rpc.deploy(from, initcode.to_vec()).unwrap();

    let addr = proxy.local_addr();
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        client,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut client);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains(ACCEPT), "{head}");

    client_text(&mut client, &request(1, "eth_chainId"));
    assert_eq!(read_json(&mut client)["result"], "0x89");
    client_text(
        &mut client,
        r#"{"jsonrpc":"2.0","id":2,"method":"eth_subscribe","params":["newHeads"]}"#,
    );
    client_text(
        &mut client,
        &format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"eth_subscribe","params":["logs",{{"address":"{emitter}"}}]}}"#
        ),
    );
    for id in [2, 3] {
        let answer = read_json(&mut client);
        assert_eq!(answer["id"], id);
        assert!(answer["result"].is_string(), "{answer}");
    }
    proxy.inject(Fault::DuplicateLogs { n: 1 });
    proxy.inject(Fault::DelayHeads { by: ms(300), n: 1 });
    rpc.transact(&TxRequest::call(from, emitter, Vec::new()))
        .unwrap();
    // Whichever anvil sends first, the held head comes after the log and its copy.
    let got: Vec<Value> = (0..3).map(|_| read_json(&mut client)).collect();
    let result = |i: usize| &got[i]["params"]["result"];
    assert!(result(0)["logIndex"].is_string(), "{got:?}");
    assert_eq!(got[0], got[1], "the log twice");
    assert!(result(2)["parentHash"].is_string(), "{got:?}");
    expect_quiet(&mut client, ms(200));
    let report = proxy.stop();
    assert_eq!(
        (report.applied.duplicate_logs, report.applied.delay_heads),
        (1, 1),
        "{report}"
    );
    assert_eq!(report.bad_frames, 0);
}
