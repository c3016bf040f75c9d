//! A hand-rolled websocket peer in front of anvil that refuses `eth_getLogs` over more than a
//! set number of blocks, as Infura and several node clients do ("query returned more than 10000
//! results", code -32005); anvil itself has no such limit. Every other request, and every
//! accepted log query, goes to anvil over HTTP unchanged. The server side of RFC 6455 is written
//! here from the RFC, for this test only: one connection, unfragmented text frames.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use polyarb_tools::{Rpc, RpcError};
use serde_json::{Value, json};

/// One `eth_getLogs` the peer saw: its block range and whether it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub from: u64,
    pub to: u64,
    pub refused: bool,
}

/// The peer: its `ws://` URL and the log queries it saw, in arrival order.
pub struct LogLimitPeer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl LogLimitPeer {
    /// Serves one client, forwarding to `anvil_http`; refuses log queries spanning more than
    /// `max_span` blocks (`0`: refuses them all).
    pub fn start(anvil_http: String, max_span: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let thread = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            serve(stream, &Rpc::new(anvil_http), max_span, &log);
        });
        Self {
            url: format!("ws://127.0.0.1:{port}/"),
            seen,
            thread: Some(thread),
        }
    }

    /// The log queries seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for LogLimitPeer {
    fn drop(&mut self) {
        // The serving thread ends when the client closes or drops its socket.
        if let Some(t) = self.thread.take()
            && !thread::panicking()
        {
            t.join().expect("peer thread");
        }
    }
}

fn serve(mut stream: TcpStream, anvil: &Rpc, max_span: u64, seen: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut buf = Vec::new();
    let head = read_until(&mut stream, &mut buf, b"\r\n\r\n");
    let text = String::from_utf8(head).expect("request is text");
    let key = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .expect("request has a key");
    let accept = polyarb_feeds::accept_for_key(key.as_bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        String::from_utf8_lossy(&accept)
    );
    stream.write_all(resp.as_bytes()).expect("write handshake");
    loop {
        let Some((op, payload)) = read_frame(&mut stream, &mut buf) else {
            return; // the client dropped the connection
        };
        match op {
            0x1 => {
                let req: Value = serde_json::from_slice(&payload).expect("request is json");
                let answer = answer(&req, anvil, max_span, seen);
                write_frame(&mut stream, 0x1, answer.to_string().as_bytes());
            }
            0x8 => {
                write_frame(&mut stream, 0x8, &1000u16.to_be_bytes());
                return;
            }
            0x9 => write_frame(&mut stream, 0xA, &payload),
            _ => {}
        }
    }
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16)
        .expect("hex quantity")
}

fn answer(req: &Value, anvil: &Rpc, max_span: u64, seen: &Mutex<Vec<Seen>>) -> Value {
    let id = req["id"].clone();
    let method = req["method"].as_str().expect("method");
    let params = req["params"].clone();
    if method == "eth_getLogs" {
        let (from, to) = (
            quantity(&params[0]["fromBlock"]),
            quantity(&params[0]["toBlock"]),
        );
        let refused = to - from + 1 > max_span;
        seen.lock().unwrap().push(Seen { from, to, refused });
        if refused {
            return json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": -32005, "message": "query returned more than 10000 results"}});
        }
    }
    match anvil.request(method, params) {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(RpcError::Node { code, message, .. }) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
        Err(RpcError::Reverted { data, .. }) => json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": 3, "message": "execution reverted", "data": data}}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": -32603, "message": e.to_string()}}),
    }
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> bool {
    while buf.len() < n {
        let mut tmp = [0u8; 65536];
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(k) => buf.extend_from_slice(&tmp[..k]),
        }
    }
    true
}

fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, end: &[u8]) -> Vec<u8> {
    loop {
        if let Some(i) = buf.windows(end.len()).position(|w| w == end) {
            return buf.drain(..i + end.len()).collect();
        }
        let have = buf.len();
        assert!(fill(stream, buf, have + 1), "client left mid-handshake");
    }
}

/// One masked client frame: (opcode, payload); `None` when the client has gone.
fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if !fill(stream, buf, 2) {
        return None;
    }
    let op = buf[0] & 0x0F;
    assert!(
        buf[0] & 0x80 != 0,
        "fragmented client frames are not scripted"
    );
    assert!(buf[1] & 0x80 != 0, "client frame not masked");
    let (len, mut at) = match buf[1] & 0x7F {
        126 => {
            fill(stream, buf, 4).then_some(())?;
            (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            fill(stream, buf, 10).then_some(())?;
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[2..10]);
            (usize::try_from(u64::from_be_bytes(w)).expect("length"), 10)
        }
        n => (usize::from(n), 2),
    };
    fill(stream, buf, at + 4 + len).then_some(())?;
    let key = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
    at += 4;
    let payload = buf[at..at + len]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    buf.drain(..at + len);
    Some((op, payload))
}

/// One unmasked server frame with FIN.
fn write_frame(stream: &mut TcpStream, opcode: u8, payload: &[u8]) {
    let mut f = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        f.push(len as u8);
    } else if len <= 0xFFFF {
        f.push(126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    // A client that has gone is the test's business, not the peer's.
    let _ = stream.write_all(&f);
}
