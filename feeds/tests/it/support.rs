//! Shared helpers: the pinned toolchain, child processes that die with the test, a scripted
//! websocket peer, hex.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A file of the pinned toolchain; fails the test (never skips it) when it is missing.
pub fn toolchain(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/toolchain")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: run tools/toolchain/install.sh first",
        p.display()
    );
    p
}

/// A child process killed and reaped when dropped.
pub struct Proc {
    child: Child,
    /// Held open: the Python server exits when its stdin closes.
    _stdin: Option<ChildStdin>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts tests/ws_server.py; returns it and its port.
pub fn python_ws_server() -> (Proc, u16) {
    let python = toolchain("venv/bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws_server.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let stdin = child.stdin.take();
    let proc = Proc {
        child,
        _stdin: stdin,
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read server stdout");
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("websocket server did not report its port (got {line:?}); is `websockets` installed? run tools/toolchain/install.sh"));
    (proc, port)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Starts anvil (chain id 137) on a free port and waits until it accepts connections.
/// Returns it and its `ws://` URL.
pub fn anvil() -> (Proc, String) {
    let bin = toolchain("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    // The port is free when chosen but another process may take it first: retry a few times.
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--chain-id", "137", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut proc = Proc {
            child,
            _stdin: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = proc.child.try_wait() {
                break; // exited (port taken?): try another port
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (proc, format!("ws://127.0.0.1:{port}"));
            }
            assert!(
                Instant::now() < deadline,
                "anvil did not open port {port} within 30 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("anvil failed to start three times");
}

/// Polls a websocket client until `n` messages arrived; fails after 20 s.
pub fn recv(ws: &mut polyarb_feeds::WsClient, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "timed out with {} of {n} messages",
            out.len()
        );
        ws.poll(Some(Duration::from_millis(100)), |p| out.push(p.to_vec()))
            .expect("poll");
    }
    out
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    assert!(s.len().is_multiple_of(2), "odd hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// One side of a scripted websocket peer: written by hand from RFC 6455, for behaviour the
/// Python server cannot be told to produce (bad accept values, masked frames, canned replies).
pub struct Peer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Accepts one connection on a fresh port and runs `script` with the peer and the client's
/// `Sec-WebSocket-Key`. The script writes the handshake response itself.
pub fn scripted_server<F>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(Peer, String) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut peer = Peer {
            stream,
            buf: Vec::new(),
        };
        let head = peer.read_until(b"\r\n\r\n");
        let text = String::from_utf8(head).expect("request is text");
        let key = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("request has a key");
        script(peer, key);
    });
    (port, handle)
}

impl Peer {
    fn fill(&mut self, n: usize) {
        while self.buf.len() < n {
            let mut tmp = [0u8; 4096];
            let k = self.stream.read(&mut tmp).expect("peer read");
            assert!(k > 0, "client closed the connection early");
            self.buf.extend_from_slice(&tmp[..k]);
        }
    }

    fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                return self.buf.drain(..i + end.len()).collect();
            }
            let have = self.buf.len();
            self.fill(have + 1);
        }
    }

    /// A correct 101 response for `key`.
    pub fn accept(&mut self, key: &str) {
        let accept = polyarb_feeds::accept_for_key(key.as_bytes());
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            String::from_utf8_lossy(&accept)
        );
        self.stream.write_all(resp.as_bytes()).expect("write");
    }

    /// Reads one client frame: (opcode, unmasked payload). Client frames must be masked.
    pub fn read_frame(&mut self) -> (u8, Vec<u8>) {
        self.fill(2);
        let op = self.buf[0] & 0x0F;
        assert!(self.buf[1] & 0x80 != 0, "client frame not masked");
        let (len, mut at) = match self.buf[1] & 0x7F {
            126 => {
                self.fill(4);
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                self.fill(10);
                let mut w = [0u8; 8];
                w.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(w) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        self.fill(at + 4 + len);
        let key = [
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        ];
        at += 4;
        let payload: Vec<u8> = self.buf[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        self.buf.drain(..at + len);
        (op, payload)
    }

    /// Writes one unmasked server frame with FIN.
    pub fn write_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.stream
            .write_all(&server_frame(opcode, payload))
            .expect("write frame");
    }
}

/// An unmasked server frame with FIN (7/16/64-bit lengths).
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
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
    f
}

#[test]
#[should_panic(expected = "is missing: run tools/toolchain/install.sh first")]
fn a_missing_toolchain_fails_the_test_loudly() {
    toolchain("no/such/tool");
}
