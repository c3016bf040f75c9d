//! The sockets: one loopback connection from polyarb, a reader thread that answers its requests
//! (and stamps the raw transactions as its `read` returns them), and the player that writes the
//! plan's frames at their intended times and stamps each write's return. Both stamp with
//! `Instant` (CLOCK_MONOTONIC), as ns after one shared origin.

use std::{
    collections::BTreeMap,
    io::{self, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use sha1::{Digest, Sha1};

use super::{
    node::{Node, RawTx},
    schedule::Plan,
};
use crate::faultproxy::frame::{self, Sender, opcode};

/// The RFC 6455 handshake GUID (section 1.3).
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest upgrade request accepted, bytes.
const MAX_UPGRADE: usize = 16 << 10;
/// How often a blocked read looks at the stop flag.
const READ_POLL: Duration = Duration::from_millis(20);
/// Requests kept in the request log (polyarb asks a count a second and the lenders every 2 s;
/// transactions are only counted).
const MAX_LOGGED: usize = 20_000;
/// The player sleeps until this close to a send time, then spins: `thread::sleep` overshoots
/// by about 50–100 µs on Linux (timer slack).
const SPIN_BEFORE: Duration = Duration::from_micros(200);

/// State both threads see.
#[derive(Debug)]
pub struct Shared {
    /// The clock origin of every stamp.
    pub origin: Instant,
    /// The newest block whose head was written (`eth_blockNumber`).
    pub head: AtomicU64,
    /// Heads written so far (a transaction counts as mined once a later head is written).
    pub heads_played: AtomicU64,
    /// When the first `eth_getTransactionCount(…, "pending")` was answered (ns; 0 = not yet):
    /// polyarb has its tables and is starting its stages.
    pub ready_ns: AtomicU64,
    /// When the newest raw transaction arrived, ns (0 = none yet).
    pub last_rx_ns: AtomicU64,
    /// Set to end the reader.
    pub stop: AtomicBool,
}

impl Shared {
    /// ns since the origin.
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct Request {
    /// When its read returned, ns.
    pub at_ns: u64,
    /// Method.
    pub method: String,
    /// Params, shortened.
    pub params: String,
}

/// A raw transaction as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When the read that completed its message returned, ns.
    pub rx_ns: u64,
    /// What it was.
    pub tx: RawTx,
}

/// What the reader saw.
#[derive(Debug, Default)]
pub struct ReadLog {
    /// Requests other than transactions, in order (at most [`MAX_LOGGED`]).
    pub requests: Vec<Request>,
    /// Requests per method, transactions included.
    pub methods: BTreeMap<String, u64>,
    /// Every `eth_sendRawTransaction`, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Whether polyarb closed with a close frame (else the stream ended or was stopped).
    pub closed_cleanly: bool,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

/// When each payload's write returned.
#[derive(Debug, Default, Clone)]
pub struct PlayLog {
    /// The play's start, ns (intended times count from here).
    pub start_ns: u64,
    /// Per payload, ns.
    pub written_ns: Vec<u64>,
}

/// Accepts polyarb's connection and answers the upgrade. `alive` says whether to keep waiting
/// (the child still runs).
pub fn accept(
    listener: &TcpListener,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
) -> Result<TcpStream, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let started = Instant::now();
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if started.elapsed() > timeout {
                    return Err(format!(
                        "polyarb did not connect within {} s",
                        timeout.as_secs()
                    ));
                }
                if !alive() {
                    return Err("polyarb exited before it connected".to_owned());
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_nodelay(true))
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(5))))
        .map_err(|e| format!("socket options: {e}"))?;
    let mut req = Vec::new();
    let mut chunk = [0u8; 2048];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("reading the upgrade request: {e}"))?;
        if n == 0 || req.len() + n > MAX_UPGRADE {
            return Err("no complete upgrade request".to_owned());
        }
        req.extend_from_slice(&chunk[..n]);
    }
    let key = upgrade_key(&req).ok_or("the upgrade request has no Sec-WebSocket-Key")?;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_value(&key)
    );
    stream
        .write_all(answer.as_bytes())
        .map_err(|e| format!("writing the upgrade answer: {e}"))?;
    Ok(stream)
}

/// The `Sec-WebSocket-Key` of an upgrade request (header names are case-insensitive).
fn upgrade_key(req: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(req).ok()?;
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })
}

/// base64(SHA-1(key ‖ GUID)) (RFC 6455 section 4.2.2).
fn accept_value(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64(&h.finalize())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes one server frame under the write lock.
fn send(w: &Mutex<TcpStream>, op: u8, payload: &[u8]) -> io::Result<()> {
    let mut f = Vec::with_capacity(payload.len() + 10);
    frame::encode(&mut f, frame::first_byte(true, op), payload, None);
    w.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .write_all(&f)
}

/// Starts the reader: answers every request through `node` until polyarb closes, the stream
/// ends, or `shared.stop` is set.
pub fn spawn_reader(
    mut stream: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    mut node: Node,
    shared: Arc<Shared>,
    core: Option<usize>,
) -> io::Result<JoinHandle<ReadLog>> {
    stream.set_read_timeout(Some(READ_POLL))?;
    thread::Builder::new()
        .name("wire-reader".into())
        .spawn(move || {
            let mut log = ReadLog::default();
            if let Some(c) = core
                && let Err(e) = pin(c)
            {
                log.error = Some(e);
                return log;
            }
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
            let mut message: Option<Vec<u8>> = None;
            let mut chunk = vec![0u8; 1 << 16];
            'read: while !shared.stop.load(Ordering::Relaxed) {
                let n = match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        log.error = Some(format!("read: {e}"));
                        break;
                    }
                };
                // The stamp of every message this read completes.
                let rx_ns = shared.now_ns();
                buf.extend_from_slice(&chunk[..n]);
                let mut used = 0;
                loop {
                    let (f, len) = match frame::parse(&buf[used..], Sender::Client) {
                        Ok(Some(x)) => x,
                        Ok(None) => break,
                        Err(e) => {
                            log.error = Some(format!("polyarb sent a bad frame: {e}"));
                            break 'read;
                        }
                    };
                    used += len;
                    let whole = match (f.opcode, message.as_mut()) {
                        (opcode::PING, _) => {
                            let _ = send(&writer, opcode::PONG, &f.payload);
                            continue;
                        }
                        (opcode::PONG, _) => continue,
                        (opcode::CLOSE, _) => {
                            let _ = send(&writer, opcode::CLOSE, &f.payload);
                            log.closed_cleanly = true;
                            break 'read;
                        }
                        (opcode::CONTINUATION, Some(m)) => {
                            m.extend_from_slice(&f.payload);
                            if !f.fin {
                                continue;
                            }
                            message.take().unwrap_or_default()
                        }
                        (opcode::TEXT | opcode::BINARY, None) if !f.fin => {
                            message = Some(f.payload);
                            continue;
                        }
                        (opcode::TEXT | opcode::BINARY, None) => f.payload,
                        _ => {
                            log.error = Some("polyarb broke the framing".to_owned());
                            break 'read;
                        }
                    };
                    let answer = node.answer(
                        &whole,
                        shared.head.load(Ordering::Acquire),
                        shared.heads_played.load(Ordering::Acquire),
                    );
                    // Answer first: polyarb's submission machine waits on it, not on the log.
                    if let Err(e) = send(&writer, opcode::TEXT, &answer.response) {
                        log.error = Some(format!("write: {e}"));
                        break 'read;
                    }
                    *log.methods.entry(answer.method.clone()).or_default() += 1;
                    match answer.tx {
                        Some(tx) => {
                            log.arrivals.push(Arrival { rx_ns, tx });
                            shared.last_rx_ns.store(rx_ns, Ordering::Release);
                        }
                        None => {
                            if answer.method == "eth_getTransactionCount"
                                && answer.params.contains("pending")
                                && shared.ready_ns.load(Ordering::Relaxed) == 0
                            {
                                shared.ready_ns.store(rx_ns.max(1), Ordering::Release);
                            }
                            if log.requests.len() < MAX_LOGGED {
                                log.requests.push(Request {
                                    at_ns: rx_ns,
                                    method: answer.method,
                                    params: answer.params,
                                });
                            }
                        }
                    }
                }
                buf.drain(..used);
            }
            log
        })
}

/// Pins the calling thread to logical core `core`; a failure is an error, never ignored.
pub fn pin(core: usize) -> Result<(), String> {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    match ids.into_iter().find(|c| c.id == core) {
        Some(id) if core_affinity::set_for_current(id) => Ok(()),
        Some(_) => Err(format!("pinning to core {core} failed")),
        None => Err(format!("no core {core} on this machine")),
    }
}

/// Writes the plan: each payload at its intended time (or at once, if the player is behind:
/// the lateness is measured, not hidden), each burst's payloads back to back, one write each,
/// or the whole burst in one write with `one_write_per_burst`. Counts heads for the node.
pub fn play(
    plan: &Plan,
    writer: &Mutex<TcpStream>,
    shared: &Shared,
    one_write_per_burst: bool,
    abort: &AtomicBool,
) -> Result<PlayLog, String> {
    let joined: Vec<Vec<u8>> = if one_write_per_burst {
        plan.bursts
            .iter()
            .map(|b| plan.frames[b.first..=b.last()].concat())
            .collect()
    } else {
        Vec::new()
    };
    let start = Instant::now();
    let mut log = PlayLog {
        start_ns: start.duration_since(shared.origin).as_nanos() as u64,
        written_ns: vec![0; plan.frames.len()],
    };
    for (k, b) in plan.bursts.iter().enumerate() {
        if abort.load(Ordering::Relaxed) {
            return Err("the play was stopped".to_owned());
        }
        let due = start + Duration::from_nanos(plan.intended_ns[b.first]);
        wait_until(due);
        let mut w = writer.lock().unwrap_or_else(PoisonError::into_inner);
        if one_write_per_burst {
            w.write_all(&joined[k])
                .map_err(|e| format!("writing block {}: {e}", b.block))?;
            let done = shared.now_ns();
            log.written_ns[b.first..=b.last()].fill(done);
        } else {
            for i in b.first..=b.last() {
                if i > b.first {
                    // Payloads of one burst are due together (rate pacing) or microseconds
                    // apart (recorded pacing).
                    wait_until(start + Duration::from_nanos(plan.intended_ns[i]));
                }
                w.write_all(&plan.frames[i])
                    .map_err(|e| format!("writing block {}: {e}", b.block))?;
                log.written_ns[i] = shared.now_ns();
            }
        }
        drop(w);
        let heads = plan.head[b.first..=b.last()].iter().filter(|&&h| h).count() as u64;
        if heads > 0 {
            shared.head.fetch_max(b.block, Ordering::AcqRel);
            shared.heads_played.fetch_add(heads, Ordering::AcqRel);
        }
    }
    Ok(log)
}

/// Sleeps until shortly before `due`, then spins to it.
fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + SPIN_BEFORE {
        thread::sleep(due - now - SPIN_BEFORE);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_value_matches_rfc_6455_example() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_value("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(
            upgrade_key(b"GET / HTTP/1.1\r\nsec-websocket-KEY:  abc \r\n\r\n").as_deref(),
            Some("abc")
        );
    }
}
