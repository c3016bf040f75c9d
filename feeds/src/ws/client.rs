//! The `mio` edge of the websocket client: one non-blocking TCP socket, one `Poll`, and the
//! sans-IO [`WsConn`] doing the protocol. Connecting is blocking (start-up); after that nothing
//! blocks except an explicit wait in [`WsClient::poll`].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::codec::{CLOSE_NORMAL, ProtocolError, WsConfig, WsConn, WsEvent};
use super::handshake::{Handshake, HandshakeError, MAX_RESPONSE_HEAD};
use super::url::{UrlError, WsUrl};

const SOCKET: Token = Token(0);

/// Socket reads per [`WsClient::poll`] before returning, so a flood of messages cannot keep the
/// caller from its other work; the next poll continues without waiting.
const MAX_READS_PER_POLL: u32 = 64;

/// TCP keepalive: idle time before the first probe.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// TCP keepalive: time between unanswered probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// TCP keepalive: unanswered probes before the kernel drops the connection (10 + 3 × 5 = 25 s
/// of silence at most).
const KEEPALIVE_PROBES: u32 = 3;

/// Why a websocket operation failed.
#[derive(Debug)]
pub enum WsError {
    /// The URL was rejected.
    Url(UrlError),
    /// A socket or name-resolution error.
    Io(io::Error),
    /// Connecting, the handshake or a close did not finish in time.
    Timeout,
    /// The server's handshake response was refused.
    Handshake(HandshakeError),
    /// The server broke the protocol; the connection is closed.
    Protocol(ProtocolError),
    /// The OS random source failed (handshake key, or masking keys: the codec's
    /// [`ProtocolError::NoMaskKeys`] arrives as this). The connection cannot send any more.
    Random(getrandom::Error),
    /// The server closed the connection with this status code (if any).
    Closed(Option<u16>),
    /// The TCP connection ended without a close frame.
    Eof,
}

impl core::fmt::Display for WsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Url(e) => write!(f, "bad websocket url: {e}"),
            Self::Io(e) => write!(f, "websocket i/o: {e}"),
            Self::Timeout => write!(f, "websocket timed out"),
            Self::Handshake(e) => write!(f, "websocket handshake: {e}"),
            Self::Protocol(e) => write!(f, "websocket protocol violation: {e}"),
            Self::Random(e) => write!(f, "websocket: os random source failed: {e}"),
            Self::Closed(Some(code)) => write!(f, "websocket closed by server with status {code}"),
            Self::Closed(None) => write!(f, "websocket closed by server"),
            Self::Eof => write!(f, "websocket connection ended without a close frame"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Url(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> Self {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            Self::Timeout
        } else {
            Self::Io(e)
        }
    }
}

impl From<ProtocolError> for WsError {
    fn from(e: ProtocolError) -> Self {
        match e {
            // Not the server's doing.
            ProtocolError::NoMaskKeys(e) => Self::Random(e),
            e => Self::Protocol(e),
        }
    }
}

impl From<HandshakeError> for WsError {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl From<UrlError> for WsError {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}

/// Time left until `deadline`, or `Timeout`.
fn remaining(deadline: Instant) -> Result<Duration, WsError> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(WsError::Timeout)
}

fn random<const N: usize>() -> Result<[u8; N], WsError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(WsError::Random)?;
    Ok(b)
}

/// A connected websocket client.
#[derive(Debug)]
pub struct WsClient {
    stream: TcpStream,
    poll: Poll,
    events: Events,
    conn: WsConn,
    peer: SocketAddr,
    /// A read loop stopped at [`MAX_READS_PER_POLL`]: more bytes may be waiting, and with
    /// edge-triggered readiness no new event will say so.
    more_to_read: bool,
    /// `WRITABLE` interest is registered (only while output is backed up).
    want_writable: bool,
    /// The server's close (status code) once received; sticky.
    closed: Option<Option<u16>>,
    /// The TCP stream ended or failed; sticky. (Protocol errors are sticky in the codec.)
    dead: bool,
}

impl WsClient {
    /// Connects to a `ws://` URL and completes the handshake, blocking up to `timeout` in all.
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, WsError> {
        Self::connect_with(url, timeout, WsConfig::default())
    }

    /// [`WsClient::connect`] with explicit limits.
    pub fn connect_with(url: &str, timeout: Duration, cfg: WsConfig) -> Result<Self, WsError> {
        let deadline = Instant::now() + timeout;
        let url = WsUrl::parse(url)?;
        let mut last = None;
        let mut connected = None;
        for addr in (url.host.as_str(), url.port).to_socket_addrs()? {
            match std::net::TcpStream::connect_timeout(&addr, remaining(deadline)?) {
                Ok(s) => {
                    connected = Some((s, addr));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let (mut stream, peer) = match (connected, last) {
            (Some(c), _) => c,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => {
                return Err(WsError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    "host resolved to no address",
                )));
            }
        };
        // Small frames (requests, pongs) must leave at once, not wait for Nagle's timer.
        stream.set_nodelay(true)?;
        // A node that vanishes without a FIN (power, cable, a NAT dropping the flow) is found by
        // the kernel's probes instead of leaving a socket that never reads again.
        socket2::SockRef::from(&stream).set_tcp_keepalive(
            &socket2::TcpKeepalive::new()
                .with_time(KEEPALIVE_IDLE)
                .with_interval(KEEPALIVE_INTERVAL)
                .with_retries(KEEPALIVE_PROBES),
        )?;

        let hs = Handshake::new(random::<16>()?);
        let mut req = Vec::with_capacity(256);
        hs.write_request(&url, &mut req);
        stream.set_write_timeout(Some(remaining(deadline)?))?;
        stream.write_all(&req)?;

        let mut buf = vec![0u8; 4096];
        let mut n = 0;
        let head_len = loop {
            stream.set_read_timeout(Some(remaining(deadline)?))?;
            if n == buf.len() {
                // read_response errors before the head can outgrow this.
                buf.resize((2 * n).min(MAX_RESPONSE_HEAD + 4096), 0);
            }
            let k = match stream.read(&mut buf[n..]) {
                Ok(0) => return Err(WsError::Eof),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            n += k;
            if let Some(h) = hs.read_response(&buf[..n])? {
                break h;
            }
        };
        stream.set_read_timeout(None)?;
        stream.set_write_timeout(None)?;
        stream.set_nonblocking(true)?;

        let mut stream = TcpStream::from_std(stream);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut stream, SOCKET, Interest::READABLE)?;
        let mut conn = WsConn::new(cfg)?;
        // The server may send frames right behind its 101 response.
        conn.feed(&buf[head_len..n]);
        Ok(Self {
            stream,
            poll,
            events: Events::with_capacity(8),
            conn,
            peer,
            more_to_read: false,
            want_writable: false,
            closed: None,
            dead: false,
        })
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the socket has `TCP_NODELAY` set, read back from the kernel (it is set at connect:
    /// small frames such as requests and pongs must not wait for Nagle's timer).
    pub fn tcp_nodelay(&self) -> io::Result<bool> {
        self.stream.nodelay()
    }

    /// Whether the socket has `SO_KEEPALIVE` set and its idle time before the first probe, read
    /// back from the kernel.
    pub fn tcp_keepalive(&self) -> io::Result<(bool, Duration)> {
        let s = socket2::SockRef::from(&self.stream);
        Ok((s.keepalive()?, s.tcp_keepalive_time()?))
    }

    /// True once the server's close frame arrived.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Queues a text message and writes as much as the socket takes now; the rest is written by
    /// later polls as the socket becomes writable.
    pub fn send_text(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.conn.send_text(payload)?;
        self.flush().map(drop)
    }

    /// Queues a ping (at most 125 bytes) and writes what the socket takes now.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        self.conn.send_ping(payload)?;
        self.flush().map(drop)
    }

    /// Bytes queued but not yet written.
    pub fn pending_bytes(&self) -> usize {
        self.conn.pending().len()
    }

    /// Writes queued bytes until done or the socket is full. `Ok(true)` when nothing is left.
    pub fn flush(&mut self) -> Result<bool, WsError> {
        loop {
            let out = self.conn.pending();
            if out.is_empty() {
                if self.want_writable {
                    self.poll.registry().reregister(
                        &mut self.stream,
                        SOCKET,
                        Interest::READABLE,
                    )?;
                    self.want_writable = false;
                }
                return Ok(true);
            }
            match self.stream.write(out) {
                Ok(0) => return Err(WsError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.conn.written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.want_writable {
                        self.poll.registry().reregister(
                            &mut self.stream,
                            SOCKET,
                            Interest::READABLE | Interest::WRITABLE,
                        )?;
                        self.want_writable = true;
                    }
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WsError::Io(e)),
            }
        }
    }

    /// Reads what has arrived and hands each complete message payload to `on_message`, borrowed
    /// from the client's buffer. Waits up to `timeout` if nothing is ready (`None` = until
    /// something happens, `Some(ZERO)` = never wait: busy-poll). Returns the number of messages
    /// delivered; 0 on timeout or when only a write or a control frame happened.
    ///
    /// A server close is `Err(WsError::Closed)` after the messages before it were delivered.
    pub fn poll<F: FnMut(&[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut on_message: F,
    ) -> Result<usize, WsError> {
        if let Some(code) = self.closed {
            return Err(WsError::Closed(code));
        }
        let mut n = self.pump(&mut on_message)?;
        if n > 0 || self.more_to_read || timeout == Some(Duration::ZERO) {
            return Ok(n);
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(WsError::Io(e)),
        }
        n += self.pump(&mut on_message)?;
        Ok(n)
    }

    /// Sends a close (status 1000) and waits up to `timeout` for the server's close. Messages
    /// still arriving meanwhile are dropped. A server that just ends the TCP connection instead
    /// of answering (anvil does) counts as closed too: the close was ours to begin with.
    pub fn close(&mut self, timeout: Duration) -> Result<(), WsError> {
        if self.closed.is_some() {
            return Ok(());
        }
        self.conn.send_close(CLOSE_NORMAL, b"")?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.poll(Some(remaining(deadline)?), |_| {}) {
                Ok(_) => {}
                Err(WsError::Closed(_) | WsError::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the socket has nothing more (or the per-poll cap), delivering messages.
    fn pump<F: FnMut(&[u8])>(&mut self, on_message: &mut F) -> Result<usize, WsError> {
        if self.dead {
            return Err(WsError::Eof);
        }
        let mut n = self.dispatch(on_message)?;
        self.more_to_read = false;
        let mut reads = 0;
        loop {
            if reads == MAX_READS_PER_POLL {
                self.more_to_read = true;
                break;
            }
            match self.stream.read(self.conn.read_buf()) {
                Ok(0) => {
                    self.dead = true;
                    return Err(WsError::Eof);
                }
                Ok(k) => {
                    self.conn.filled(k);
                    reads += 1;
                    n += self.dispatch(on_message)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.dead = true;
                    return Err(WsError::Io(e));
                }
            }
        }
        // Pongs and close replies queued while reading go out now.
        self.flush()?;
        Ok(n)
    }

    /// Delivers every complete message already buffered.
    fn dispatch<F: FnMut(&[u8])>(&mut self, on_message: &mut F) -> Result<usize, WsError> {
        let mut n = 0;
        loop {
            match self.conn.next_event() {
                Ok(Some(WsEvent::Message { payload, .. })) => {
                    on_message(payload);
                    n += 1;
                }
                Ok(Some(WsEvent::Close { code, .. })) => {
                    self.closed = Some(code);
                    // Best effort: the reply close is polite, the server is going away anyway.
                    let _ = self.flush();
                    return Err(WsError::Closed(code));
                }
                Ok(None) => return Ok(n),
                Err(e) => {
                    // The codec keeps reporting `e` on later calls; no flag needed here.
                    self.conn.close_for_error(e);
                    let _ = self.flush();
                    return Err(e.into());
                }
            }
        }
    }
}
