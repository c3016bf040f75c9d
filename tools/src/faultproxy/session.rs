//! One client connection: the raw HTTP upgrade, then three threads. The client reader parses
//! client frames and writes upstream (it owns that direction); the upstream reader parses server
//! frames and hands them over; this thread, the writer, owns the client socket, applies the
//! server to client faults through [`Outbox`] and writes. All reads time out every [`POLL`] so
//! every thread sees a stop, and closing the sockets wakes any blocked call.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use super::{
    Fault, ONE_BYTE_PAUSE, Shared, VIOLATION_GRACE,
    frame::{self, Message, Piece, Reader, Sender, opcode},
    inspect::{self, ClientMsg, ServerMsg},
    relay::{Out, OutKind, Outbox, RequestAction},
};
use crate::SplitMix64;

/// How long a blocked read or queue wait lasts before the thread looks at the stop flags.
const POLL: Duration = Duration::from_millis(20);
/// The whole upgrade (request and response heads) must be done within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A peer that takes no bytes for this long ends its session (it would block the proxy).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest HTTP head accepted, bytes.
const MAX_HEAD: usize = 16 << 10;
/// Socket read size, bytes.
const READ_CHUNK: usize = 64 << 10;

/// Valid UTF-8 (so only the JSON is broken, not the websocket text rule): the start of a
/// notification, cut off.
const GARBAGE: &[u8] = br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x <garbage injected by faultproxy>"#;
const NULL_ID_ERROR: &[u8] =
    br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error (injected)"}}"#;
/// FIN, RSV1, RSV2, RSV3 and the text opcode: with no extension negotiated, any reserved bit
/// obliges the client to fail the connection (RFC 6455 section 5.2).
const VIOLATION_FIRST_BYTE: u8 = 0xF1;
const VIOLATION_PAYLOAD: &[u8] = br#"{"injected":"protocol violation"}"#;

/// What the readers and the handle tell the writer.
#[derive(Debug)]
pub(crate) enum Event {
    /// A fault was injected.
    Wake,
    /// A frame or message from upstream.
    Server(Piece),
    /// A text message the proxy answers a request with.
    Answer(Vec<u8>),
    /// Drop the response with this id.
    LoseId(Value),
    ClientEof,
    UpstreamEof,
    /// A bad frame or a failed write: end the session.
    Broken,
}

/// Shuts down both sockets both ways: peers see FIN, blocked calls on any clone return.
pub(crate) fn close(client: &TcpStream, upstream: &TcpStream) {
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn configure(s: &TcpStream) -> io::Result<()> {
    // No Nagle: the proxy must not add latency of its own, and one-byte writes must leave as
    // one-byte segments.
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(POLL))?;
    s.set_write_timeout(Some(WRITE_TIMEOUT))
}

/// Reads an HTTP head up to and including the blank line; returns it and any bytes after it.
fn read_head(
    s: &mut TcpStream,
    shared: &Shared,
    deadline: Instant,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "http head over 16 KiB",
            ));
        }
        if shared.stopped() || Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete http head in time",
            ));
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before the http head ended",
                ));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The response head's status code is 101.
fn switching_protocols(head: &[u8]) -> bool {
    head.starts_with(b"HTTP/1.1 ") && head.split(|&b| b == b' ').nth(1) == Some(b"101")
}

/// Relays the upgrade: the client's request head to a fresh upstream connection, the answer
/// back. Returns the upstream socket and the bytes each side sent after its head.
fn handshake(shared: &Shared, client: &mut TcpStream) -> Option<(TcpStream, Vec<u8>, Vec<u8>)> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::debug!(error = %e, "faultproxy: upgrade failed: {what}");
        shared.lock().report.failed_handshakes += 1;
    };
    if let Err(e) = configure(client) {
        failed("client socket", &e);
        return None;
    }
    let (request, client_rest) = match read_head(client, shared, deadline) {
        Ok(x) => x,
        Err(e) => {
            failed("client request", &e);
            return None;
        }
    };
    let mut upstream = match TcpStream::connect_timeout(&shared.upstream, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, upstream = %shared.upstream, "faultproxy: upstream unreachable");
            shared.lock().report.upstream_unreachable += 1;
            return None;
        }
    };
    if let Err(e) = configure(&upstream).and_then(|()| upstream.write_all(&request)) {
        failed("upstream write", &e);
        return None;
    }
    let (response, upstream_rest) = match read_head(&mut upstream, shared, deadline) {
        Ok(x) => x,
        Err(e) => {
            failed("upstream response", &e);
            return None;
        }
    };
    // Relayed even when it refuses, so the client sees why.
    if let Err(e) = client
        .write_all(&response)
        .and_then(|()| client.write_all(&upstream_rest))
    {
        failed("client write", &e);
        return None;
    }
    if !switching_protocols(&response) {
        let status = String::from_utf8_lossy(response.split(|&b| b == b'\r').next().unwrap_or(&[]))
            .into_owned();
        failed("upstream did not switch protocols", &status);
        return None;
    }
    Some((upstream, client_rest, upstream_rest))
}

/// Runs one client connection to its end.
pub(crate) fn run(shared: &Arc<Shared>, id: u64, mut client: TcpStream) {
    let Some((upstream, client_rest, upstream_rest)) = handshake(shared, &mut client) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let clones = (|| {
        Ok::<_, io::Error>((
            client.try_clone()?,
            upstream.try_clone()?,
            upstream.try_clone()?,
            client.try_clone()?,
            upstream.try_clone()?,
        ))
    })();
    let Ok((client_read, upstream_write, upstream_read, link_client, link_upstream)) = clones
    else {
        tracing::warn!("faultproxy: cannot clone the session's sockets");
        close(&client, &upstream);
        return;
    };
    let (tx, rx) = mpsc::channel();
    shared.register(id, tx.clone(), link_client, link_upstream);
    let done = Arc::new(AtomicBool::new(false));
    // Masking keys (RFC 6455 section 10.3) guard browsers against cache poisoning; a test proxy
    // on loopback needs them fresh, not unpredictable, so a clock-seeded generator will do.
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let c2s = {
        let (shared, tx, done) = (Arc::clone(shared), tx.clone(), Arc::clone(&done));
        thread::Builder::new()
            .name(format!("faultproxy-{id}-c2s"))
            .spawn(move || {
                ClientReader {
                    shared: &shared,
                    tx: &tx,
                    done: &done,
                    upstream: upstream_write,
                    rng: SplitMix64::new(seed),
                }
                .run(client_read, client_rest);
            })
    };
    let s2c = {
        let (shared, done) = (Arc::clone(shared), Arc::clone(&done));
        thread::Builder::new()
            .name(format!("faultproxy-{id}-s2c"))
            .spawn(move || upstream_reader(&shared, &tx, &done, upstream_read, upstream_rest))
    };
    if c2s.is_ok() && s2c.is_ok() {
        Writer {
            shared,
            done: &done,
            client: &client,
            outbox: Outbox::default(),
            lost: Vec::new(),
        }
        .run(&rx);
    } else {
        tracing::warn!("faultproxy: cannot start the session's threads");
    }
    done.store(true, Ordering::SeqCst);
    close(&client, &upstream);
    for handle in [c2s, s2c].into_iter().flatten() {
        let _ = handle.join();
    }
    shared.unregister(id);
}

/// Reads from `s` into `reader`; `Ok(false)` at EOF. A timeout is `Ok(true)` with nothing read.
fn fill(s: &mut TcpStream, buf: &mut [u8], reader: &mut Reader) -> io::Result<bool> {
    match s.read(buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            reader.extend(&buf[..n]);
            Ok(true)
        }
        Err(e) if is_timeout(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

struct ClientReader<'a> {
    shared: &'a Shared,
    tx: &'a mpsc::Sender<Event>,
    done: &'a AtomicBool,
    upstream: TcpStream,
    rng: SplitMix64,
}

impl ClientReader<'_> {
    fn run(mut self, mut client: TcpStream, already: Vec<u8>) {
        let mut reader = Reader::new(Sender::Client, already);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            loop {
                match reader.next_piece() {
                    Ok(Some(piece)) => {
                        if let Err(e) = self.forward(piece) {
                            tracing::debug!(error = %e, "faultproxy: upstream write failed");
                            let _ = self.tx.send(Event::Broken);
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "faultproxy: the client broke RFC 6455");
                        self.shared.lock().report.bad_frames += 1;
                        let _ = self.tx.send(Event::Broken);
                        return;
                    }
                }
            }
            if self.done.load(Ordering::SeqCst) || self.shared.stopped() {
                return;
            }
            match fill(&mut client, &mut buf, &mut reader) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    // The client is done sending: pass its half-close on.
                    let _ = self.upstream.shutdown(Shutdown::Write);
                    let _ = self.tx.send(Event::ClientEof);
                    return;
                }
            }
        }
    }

    fn key(&mut self) -> Option<[u8; 4]> {
        Some((self.rng.next_u64() as u32).to_le_bytes())
    }

    fn forward(&mut self, piece: Piece) -> io::Result<()> {
        let mut bytes = Vec::new();
        match piece {
            Piece::Control(f) => {
                let key = self.key();
                frame::encode(
                    &mut bytes,
                    frame::first_byte(true, f.opcode),
                    &f.payload,
                    key,
                );
                self.upstream.write_all(&bytes)?;
                self.shared.lock().report.control_frames += 1;
            }
            Piece::Message(msg) => {
                let request = match msg.opcode {
                    opcode::TEXT => inspect::client(&msg.payload),
                    _ => ClientMsg::Other,
                };
                let (id, action) = match request {
                    ClientMsg::Request { id, method } => {
                        let mut state = self.shared.lock();
                        let action = state.armed.on_request(&method);
                        match action {
                            RequestAction::AnswerNullId => state.report.applied.null_id_error += 1,
                            RequestAction::Reject(_) => state.report.applied.reject += 1,
                            RequestAction::Forward | RequestAction::ForwardLoseAnswer => {}
                        }
                        (id, action)
                    }
                    ClientMsg::Other => (Value::Null, RequestAction::Forward),
                };
                match action {
                    RequestAction::AnswerNullId => {
                        let _ = self.tx.send(Event::Answer(NULL_ID_ERROR.to_vec()));
                        return Ok(());
                    }
                    RequestAction::Reject(message) => {
                        let answer = json!({
                            "jsonrpc": "2.0",
                            "id": id,
                            "error": {"code": -32000, "message": message},
                        });
                        let _ = self.tx.send(Event::Answer(answer.to_string().into_bytes()));
                        return Ok(());
                    }
                    // Told before the request leaves, so the writer knows before the answer can
                    // come back.
                    RequestAction::ForwardLoseAnswer => {
                        let _ = self.tx.send(Event::LoseId(id));
                    }
                    RequestAction::Forward => {}
                }
                msg.encode(&mut bytes, || self.key());
                self.upstream.write_all(&bytes)?;
                self.shared.lock().report.client_messages += 1;
            }
        }
        Ok(())
    }
}

fn upstream_reader(
    shared: &Shared,
    tx: &mpsc::Sender<Event>,
    done: &AtomicBool,
    mut upstream: TcpStream,
    already: Vec<u8>,
) {
    let mut reader = Reader::new(Sender::Server, already);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        loop {
            match reader.next_piece() {
                Ok(Some(piece)) => {
                    if tx.send(Event::Server(piece)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "faultproxy: the upstream broke RFC 6455");
                    shared.lock().report.bad_frames += 1;
                    let _ = tx.send(Event::Broken);
                    return;
                }
            }
        }
        if done.load(Ordering::SeqCst) || shared.stopped() {
            return;
        }
        match fill(&mut upstream, &mut buf, &mut reader) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                let _ = tx.send(Event::UpstreamEof);
                return;
            }
        }
    }
}

/// The writer is to end the session.
struct End;

struct Writer<'a> {
    shared: &'a Shared,
    done: &'a AtomicBool,
    client: &'a TcpStream,
    outbox: Outbox,
    /// Ids of forwarded requests whose responses are to be dropped.
    lost: Vec<Value>,
}

impl Writer<'_> {
    fn run(mut self, rx: &mpsc::Receiver<Event>) {
        // Faults queued before this session opened act now.
        let mut wake = true;
        let mut upstream_eof = false;
        let mut client_eof = false;
        // After a protocol violation: until when the client has to go.
        let mut violated: Option<Instant> = None;
        loop {
            if self.done.load(Ordering::SeqCst) || self.shared.stopped() {
                return;
            }
            let now = Instant::now();
            if wake && violated.is_none() && !upstream_eof {
                wake = false;
                if self.instant_faults(now).is_err() {
                    return;
                }
            }
            if violated.is_none() {
                while let Some(out) = self.outbox.pop_due(Instant::now()) {
                    if self.write(&out).is_err() {
                        return;
                    }
                    if out.kind == OutKind::Violation {
                        // Half-close: the client can still read the frame and answer with FIN.
                        let _ = self.client.shutdown(Shutdown::Write);
                        violated = Some(Instant::now() + VIOLATION_GRACE);
                        break;
                    }
                }
            }
            match violated {
                Some(until) if client_eof || Instant::now() >= until => return,
                None if upstream_eof && self.outbox.is_empty() => return,
                _ => {}
            }
            let now = Instant::now();
            let wait = match (violated, self.outbox.next_due()) {
                (Some(until), _) => until.saturating_duration_since(now),
                (None, Some(due)) => due.saturating_duration_since(now),
                (None, None) => POLL,
            }
            .min(POLL);
            let event = match rx.recv_timeout(wait) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            match event {
                Event::Wake => wake = true,
                Event::ClientEof => client_eof = true,
                Event::UpstreamEof => upstream_eof = true,
                Event::Broken => return,
                Event::LoseId(id) => self.lost.push(id),
                // After the violation nothing more goes to the client.
                _ if violated.is_some() => {}
                Event::Answer(payload) => {
                    if self.push_text(&payload, OutKind::Injected).is_err() {
                        return;
                    }
                }
                Event::Server(piece) => {
                    if self.server(piece, Instant::now()).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Applies the queued faults that act at once on a session.
    fn instant_faults(&mut self, now: Instant) -> Result<(), End> {
        loop {
            let fault = {
                let mut state = self.shared.lock();
                let fault = state.armed.take_instant();
                let applied = &mut state.report.applied;
                match fault {
                    Some(Fault::DropConnection) => applied.drop_connection += 1,
                    Some(Fault::Stall(_)) => applied.stall += 1,
                    Some(Fault::Garbage) => applied.garbage += 1,
                    Some(Fault::ProtocolViolation) => applied.protocol_violation += 1,
                    _ => {}
                }
                fault
            };
            match fault {
                None => return Ok(()),
                Some(Fault::DropConnection) => {
                    tracing::info!("faultproxy: dropping the connection (injected)");
                    return Err(End);
                }
                Some(Fault::Stall(d)) => self.outbox.stall(now + d),
                Some(Fault::Garbage) => self.push_text(GARBAGE, OutKind::Injected)?,
                Some(Fault::ProtocolViolation) => {
                    let mut bytes = Vec::new();
                    frame::encode(&mut bytes, VIOLATION_FIRST_BYTE, VIOLATION_PAYLOAD, None);
                    self.push(Out {
                        at: now,
                        bytes,
                        one_byte: false,
                        kind: OutKind::Violation,
                    })?;
                }
                // take_instant hands out nothing else.
                Some(_) => {}
            }
        }
    }

    fn push(&mut self, out: Out) -> Result<(), End> {
        self.outbox.push(out).map_err(|_| overflow())
    }

    fn push_text(&mut self, payload: &[u8], kind: OutKind) -> Result<(), End> {
        let mut bytes = Vec::new();
        frame::encode(
            &mut bytes,
            frame::first_byte(true, opcode::TEXT),
            payload,
            None,
        );
        self.push(Out {
            at: Instant::now(),
            bytes,
            one_byte: false,
            kind,
        })
    }

    /// Queues what upstream sent, with the faults it uses up.
    fn server(&mut self, piece: Piece, now: Instant) -> Result<(), End> {
        let msg: Message = match piece {
            Piece::Control(f) => {
                let mut bytes = Vec::new();
                frame::encode(
                    &mut bytes,
                    frame::first_byte(true, f.opcode),
                    &f.payload,
                    None,
                );
                return self.push(Out {
                    at: now,
                    bytes,
                    one_byte: false,
                    kind: OutKind::Control,
                });
            }
            Piece::Message(msg) => msg,
        };
        let class = match msg.opcode {
            opcode::TEXT => inspect::server(&msg.payload),
            _ => ServerMsg::Other,
        };
        if let ServerMsg::Response { id } = &class
            && !id.is_null()
            && let Some(i) = self.lost.iter().position(|lost| lost == id)
        {
            self.lost.swap_remove(i);
            self.shared.lock().report.applied.lose_answer += 1;
            return Ok(());
        }
        let fx = {
            let mut state = self.shared.lock();
            let fx = state.armed.on_server(&class);
            let applied = &mut state.report.applied;
            applied.one_byte_segments += u64::from(fx.one_byte);
            applied.delay += u64::from(fx.delay.is_some());
            applied.duplicate_logs += u64::from(fx.duplicate);
            applied.delay_heads += u64::from(fx.hold.is_some());
            fx
        };
        let mut bytes = Vec::new();
        msg.encode(&mut bytes, || None);
        let delay = fx.delay.unwrap_or_default();
        let mut out = Out {
            at: now + delay,
            bytes,
            one_byte: fx.one_byte,
            kind: OutKind::Message,
        };
        let copy = fx.duplicate.then(|| Out {
            kind: OutKind::Injected,
            ..out.clone()
        });
        match fx.hold {
            Some(by) => {
                out.at += by;
                let copy = copy.map(|c| Out { at: out.at, ..c });
                self.outbox.hold(out).map_err(|_| overflow())?;
                if let Some(copy) = copy {
                    self.outbox.hold(copy).map_err(|_| overflow())?;
                }
            }
            None => {
                self.push(out)?;
                if let Some(copy) = copy {
                    self.push(copy)?;
                }
            }
        }
        Ok(())
    }

    fn write(&self, out: &Out) -> io::Result<()> {
        let mut client = self.client;
        if out.one_byte {
            for (i, b) in out.bytes.iter().enumerate() {
                if i > 0 {
                    thread::sleep(ONE_BYTE_PAUSE);
                }
                if self.done.load(Ordering::SeqCst) || self.shared.stopped() {
                    return Err(io::Error::other("stopped"));
                }
                client.write_all(std::slice::from_ref(b))?;
            }
        } else {
            client.write_all(&out.bytes)?;
        }
        let mut state = self.shared.lock();
        match out.kind {
            OutKind::Message => state.report.server_messages += 1,
            OutKind::Control => state.report.control_frames += 1,
            OutKind::Injected | OutKind::Violation => {}
        }
        Ok(())
    }
}

fn overflow() -> End {
    tracing::warn!(
        "faultproxy: over {} MiB waiting for the client; ending the session",
        super::relay::MAX_QUEUED >> 20
    );
    End
}
