//! A websocket proxy that injects faults between a JSON-RPC node (anvil) and its client
//! (polyarb), for tests that prove the client survives them (docs/faultproxy.md).
//!
//! Each client connection gets its own upstream connection; the HTTP upgrade is relayed as raw
//! bytes, then every frame is parsed (our own RFC 6455 framing in `frame`, independent of
//! `polyarb-feeds`), reassembled into messages, classified (`inspect`: request method and id;
//! log, new head or response) and relayed, re-masked toward upstream. Faults are queued through
//! [`FaultProxy::inject`] and used up by the current or next session; `relay` decides what they
//! do, `session` does the I/O.
//!
//! Test tooling, not the hot path: plain threads (three per session) and blocking sockets with
//! short timeouts. Bounded: it listens on loopback only, talks to a loopback upstream only, and
//! stops after `max_runtime`, closing every connection and ending its threads.

pub(crate) mod frame;
mod inspect;
mod relay;
mod session;

use std::{
    fmt, io,
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    str::FromStr,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

pub use frame::FrameError;

use crate::SplitMix64;

/// A fault to inject. Each inject applies once: the `n`/`messages` counts are used up by the
/// matching messages of the current session, or of the next one if none is open; the others
/// act on the current (or next) session as soon as it sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Shut down the client and upstream sockets at once (TCP FIN both ways, no close frame).
    DropConnection,
    /// Relay nothing server to client for this long (what arrives meanwhile is kept, in order),
    /// then go on.
    Stall(Duration),
    /// Write the frames of the next `messages` server to client messages one byte per TCP write,
    /// with [`ONE_BYTE_PAUSE`] between bytes.
    OneByteSegments { messages: u32 },
    /// Delay the next `messages` server to client messages by `by` each. Order is kept, so what
    /// comes right behind a delayed message waits for it.
    Delay { by: Duration, messages: u32 },
    /// Send each of the next `n` log notifications twice in a row.
    DuplicateLogs { n: u32 },
    /// Send one text frame whose payload is not JSON, then go on.
    Garbage,
    /// Send one text frame with all three reserved bits set, which RFC 6455 says the client must
    /// fail the connection on; the proxy then half-closes toward the client and ends the session
    /// when the client goes (or after [`VIOLATION_GRACE`]).
    ProtocolViolation,
    /// Hold each of the next `n` newHeads notifications back by `by` while everything else flows
    /// past them.
    DelayHeads { by: Duration, n: u32 },
    /// Forward the next `n` requests of `method` but drop their responses.
    LoseAnswer { method: String, n: u32 },
    /// Do not forward the next `n` requests of `method`; answer each with
    /// `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error (injected)"}}`.
    NullIdError { method: String, n: u32 },
    /// Do not forward the next `n` requests of `method`; answer each with an error carrying the
    /// request's id, code -32000 and `message`.
    Reject {
        method: String,
        n: u32,
        message: String,
    },
}

/// Pause between the bytes of a [`Fault::OneByteSegments`] message: long enough that a reader
/// blocked on the socket mostly wakes for each byte, short enough that a 1 KB message takes
/// about a third of a second.
pub const ONE_BYTE_PAUSE: Duration = Duration::from_micros(250);

/// How long the proxy waits for the client to drop the connection after a
/// [`Fault::ProtocolViolation`] before it closes the session itself.
pub const VIOLATION_GRACE: Duration = Duration::from_secs(2);

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::DropConnection => FaultKind::DropConnection,
            Self::Stall(_) => FaultKind::Stall,
            Self::OneByteSegments { .. } => FaultKind::OneByteSegments,
            Self::Delay { .. } => FaultKind::Delay,
            Self::DuplicateLogs { .. } => FaultKind::DuplicateLogs,
            Self::Garbage => FaultKind::Garbage,
            Self::ProtocolViolation => FaultKind::ProtocolViolation,
            Self::DelayHeads { .. } => FaultKind::DelayHeads,
            Self::LoseAnswer { .. } => FaultKind::LoseAnswer,
            Self::NullIdError { .. } => FaultKind::NullIdError,
            Self::Reject { .. } => FaultKind::Reject,
        }
    }

    /// The count still to use up, or None for a fault that acts once on a session.
    pub(crate) fn remaining(&self) -> Option<u32> {
        self.clone().remaining_mut().copied()
    }

    pub(crate) fn remaining_mut(&mut self) -> Option<&mut u32> {
        match self {
            Self::DropConnection | Self::Stall(_) | Self::Garbage | Self::ProtocolViolation => None,
            Self::OneByteSegments { messages: n }
            | Self::Delay { messages: n, .. }
            | Self::DuplicateLogs { n }
            | Self::DelayHeads { n, .. }
            | Self::LoseAnswer { n, .. }
            | Self::NullIdError { n, .. }
            | Self::Reject { n, .. } => Some(n),
        }
    }

    /// A seeded random fault of `kind` for chaos runs; `method` is the one the request faults
    /// aim at. Durations are 50 ms to 2 s, counts 1 to 5.
    pub fn random(kind: FaultKind, rng: &mut SplitMix64, method: &str) -> Self {
        let by = Duration::from_millis(50 + rng.below(1_950));
        let n = 1 + rng.below(5) as u32;
        let method = method.to_owned();
        match kind {
            FaultKind::DropConnection => Self::DropConnection,
            FaultKind::Stall => Self::Stall(by),
            FaultKind::OneByteSegments => Self::OneByteSegments { messages: n.min(2) },
            FaultKind::Delay => Self::Delay { by, messages: n },
            FaultKind::DuplicateLogs => Self::DuplicateLogs { n },
            FaultKind::Garbage => Self::Garbage,
            FaultKind::ProtocolViolation => Self::ProtocolViolation,
            FaultKind::DelayHeads => Self::DelayHeads { by, n: n.min(2) },
            FaultKind::LoseAnswer => Self::LoseAnswer { method, n: 1 },
            FaultKind::NullIdError => Self::NullIdError { method, n: 1 },
            FaultKind::Reject => Self::Reject {
                method,
                n: 1,
                message: "rejected by faultproxy (injected)".to_owned(),
            },
        }
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |n: &u32, one: &str, many: &str| plural(u64::from(*n), one, many);
        match self {
            Self::DropConnection => write!(f, "drop the connection"),
            Self::Stall(d) => write!(f, "stall server to client for {} ms", ms(*d)),
            Self::OneByteSegments { messages } => write!(
                f,
                "write {} one byte at a time",
                n(messages, "message", "messages")
            ),
            Self::Delay { by, messages } => write!(
                f,
                "delay {} by {} ms",
                n(messages, "message", "messages"),
                ms(*by)
            ),
            Self::DuplicateLogs { n: logs } => write!(f, "send {} twice", n(logs, "log", "logs")),
            Self::Garbage => write!(f, "send a text message that is not JSON"),
            Self::ProtocolViolation => write!(f, "send a frame with the reserved bits set"),
            Self::DelayHeads { by, n: heads } => write!(
                f,
                "hold {} back {} ms",
                n(heads, "new head", "new heads"),
                ms(*by)
            ),
            Self::LoseAnswer { method, n: count } => write!(
                f,
                "lose the answers to {}",
                n(
                    count,
                    &format!("{method} request"),
                    &format!("{method} requests")
                )
            ),
            Self::NullIdError { method, n: count } => write!(
                f,
                "answer {} with a null-id parse error",
                n(
                    count,
                    &format!("{method} request"),
                    &format!("{method} requests")
                )
            ),
            Self::Reject {
                method,
                n: count,
                message,
            } => write!(
                f,
                "reject {} with \"{message}\"",
                n(
                    count,
                    &format!("{method} request"),
                    &format!("{method} requests")
                )
            ),
        }
    }
}

/// The kinds of [`Fault`], for choosing the chaos set by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    DropConnection,
    Stall,
    OneByteSegments,
    Delay,
    DuplicateLogs,
    Garbage,
    ProtocolViolation,
    DelayHeads,
    LoseAnswer,
    NullIdError,
    Reject,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [Self; 11] = [
        Self::DropConnection,
        Self::Stall,
        Self::OneByteSegments,
        Self::Delay,
        Self::DuplicateLogs,
        Self::Garbage,
        Self::ProtocolViolation,
        Self::DelayHeads,
        Self::LoseAnswer,
        Self::NullIdError,
        Self::Reject,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::DropConnection => "drop-connection",
            Self::Stall => "stall",
            Self::OneByteSegments => "one-byte-segments",
            Self::Delay => "delay",
            Self::DuplicateLogs => "duplicate-logs",
            Self::Garbage => "garbage",
            Self::ProtocolViolation => "protocol-violation",
            Self::DelayHeads => "delay-heads",
            Self::LoseAnswer => "lose-answer",
            Self::NullIdError => "null-id-error",
            Self::Reject => "reject",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault kind name that is not one of [`FaultKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFaultKind(pub String);

impl fmt::Display for UnknownFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "unknown fault kind {:?} (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownFaultKind {}

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownFaultKind(s.to_owned()))
    }
}

/// How often each fault was applied: per message for the counted ones, per session for the
/// others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub drop_connection: u64,
    pub stall: u64,
    /// Messages written one byte at a time.
    pub one_byte_segments: u64,
    /// Messages delayed.
    pub delay: u64,
    /// Logs sent twice.
    pub duplicate_logs: u64,
    pub garbage: u64,
    pub protocol_violation: u64,
    /// Heads held back.
    pub delay_heads: u64,
    /// Responses dropped.
    pub lose_answer: u64,
    /// Requests answered with the null-id error.
    pub null_id_error: u64,
    /// Requests rejected.
    pub reject: u64,
}

/// What the proxy did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Client connections accepted.
    pub sessions: u64,
    /// Connections whose upgrade failed (a bad or slow request head, an upstream that did not
    /// answer 101).
    pub failed_handshakes: u64,
    /// Connections for which the upstream could not be reached.
    pub upstream_unreachable: u64,
    /// Text and binary messages forwarded client to server.
    pub client_messages: u64,
    /// Text and binary messages from upstream written to the client (duplicates not counted).
    pub server_messages: u64,
    /// Ping, pong and close frames relayed, both ways.
    pub control_frames: u64,
    /// Frames that broke RFC 6455, from either peer; each ended its session.
    pub bad_frames: u64,
    /// Faults applied.
    pub applied: Applied,
    /// Injected faults not used up yet, counts as they are now.
    pub pending: Vec<Fault>,
}

/// `n thing` or `n things`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({} failed the upgrade, {} found no upstream)",
            plural(self.sessions, "session", "sessions"),
            self.failed_handshakes,
            self.upstream_unreachable
        )?;
        writeln!(
            f,
            "relayed {} client to server, {} server to client, {}",
            plural(self.client_messages, "message", "messages"),
            plural(self.server_messages, "message", "messages"),
            plural(self.control_frames, "control frame", "control frames"),
        )?;
        writeln!(
            f,
            "{} that broke RFC 6455",
            plural(self.bad_frames, "frame", "frames")
        )?;
        let a = &self.applied;
        let items = [
            (
                a.drop_connection,
                "connection dropped",
                "connections dropped",
            ),
            (a.stall, "stall", "stalls"),
            (
                a.one_byte_segments,
                "message written one byte at a time",
                "messages written one byte at a time",
            ),
            (a.delay, "message delayed", "messages delayed"),
            (a.duplicate_logs, "log sent twice", "logs sent twice"),
            (a.garbage, "garbage message", "garbage messages"),
            (
                a.protocol_violation,
                "protocol violation",
                "protocol violations",
            ),
            (a.delay_heads, "head held back", "heads held back"),
            (a.lose_answer, "answer lost", "answers lost"),
            (
                a.null_id_error,
                "request answered with a null-id error",
                "requests answered with a null-id error",
            ),
            (a.reject, "request rejected", "requests rejected"),
        ];
        let applied: Vec<String> = items
            .iter()
            .filter(|(n, ..)| *n > 0)
            .map(|&(n, one, many)| plural(n, one, many))
            .collect();
        if applied.is_empty() {
            write!(f, "faults applied: none")?;
        } else {
            write!(f, "faults applied: {}", applied.join(", "))?;
        }
        if !self.pending.is_empty() {
            let pending: Vec<String> = self.pending.iter().map(Fault::to_string).collect();
            write!(f, "\nstill queued: {}", pending.join("; "))?;
        }
        Ok(())
    }
}

/// Why the proxy could not start.
#[derive(Debug)]
pub enum FaultProxyError {
    /// An address that is not loopback: the proxy only listens on and connects to this machine.
    NotLoopback {
        role: &'static str,
        addr: SocketAddr,
    },
    /// The upstream URL is not `ws://HOST:PORT[/path]` with a loopback host.
    BadUrl { url: String, why: &'static str },
    /// Binding the listen address failed.
    Bind { addr: SocketAddr, source: io::Error },
    /// Starting the accept thread failed.
    Spawn(io::Error),
}

impl fmt::Display for FaultProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotLoopback { role, addr } => write!(
                f,
                "{role} address {addr} is not loopback: the fault proxy only listens on and \
                 connects to 127.0.0.1"
            ),
            Self::BadUrl { url, why } => write!(f, "upstream url {url:?}: {why}"),
            Self::Bind { addr, source } => write!(f, "listen on {addr}: {source}"),
            Self::Spawn(e) => write!(f, "start the fault proxy thread: {e}"),
        }
    }
}

impl std::error::Error for FaultProxyError {}

/// `Result` with [`FaultProxyError`].
pub type Result<T, E = FaultProxyError> = std::result::Result<T, E>;

/// The socket address of a `ws://HOST:PORT[/path]` URL (or a bare `HOST:PORT`), where HOST is a
/// loopback IP or `localhost`. The path does not matter: the client's own request line is
/// relayed.
pub fn upstream_addr(url: &str) -> Result<SocketAddr> {
    let bad = |why| FaultProxyError::BadUrl {
        url: url.to_owned(),
        why,
    };
    if url.starts_with("wss://") {
        return Err(bad("TLS (wss) is not supported"));
    }
    let rest = url.strip_prefix("ws://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| bad("the host is not an IP or localhost"))?
    };
    let addr = SocketAddr::new(ip, port);
    if !ip.is_loopback() {
        return Err(FaultProxyError::NotLoopback {
            role: "upstream",
            addr,
        });
    }
    Ok(addr)
}

/// A running fault proxy. Stops (closing every connection) on [`FaultProxy::stop`], on drop, or
/// when its `max_runtime` is over.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// How often the accept loop looks for a connection, the stop flag and the deadline.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

impl FaultProxy {
    /// Listens on `listen` (loopback only; port 0 picks a free one) and relays each client to a
    /// fresh connection to `upstream` (loopback only) until `max_runtime` has passed.
    pub fn start(upstream: SocketAddr, listen: SocketAddr, max_runtime: Duration) -> Result<Self> {
        for (role, addr) in [("listen", listen), ("upstream", upstream)] {
            if !addr.ip().is_loopback() {
                return Err(FaultProxyError::NotLoopback { role, addr });
            }
        }
        let bind = |source| FaultProxyError::Bind {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        });
        // Far-future runtimes saturate rather than overflow.
        let deadline = Instant::now()
            .checked_add(max_runtime)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("faultproxy-accept".to_owned())
                .spawn(move || accept_loop(&listener, &shared, deadline))
                .map_err(FaultProxyError::Spawn)?
        };
        Ok(Self {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The websocket URL to give the client.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Queues a fault for the current or next session (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        let mut state = self.shared.lock();
        state.armed.push(fault);
        // Wake every open session so a fault that acts at once does so now, not on the next
        // message; a session that already ended is forgotten here.
        state
            .sessions
            .retain(|link| link.tx.send(session::Event::Wake).is_ok());
    }

    /// What it did so far.
    pub fn report(&self) -> Report {
        let state = self.shared.lock();
        Report {
            pending: state.armed.pending(),
            ..state.report.clone()
        }
    }

    /// False once it stopped (by [`FaultProxy::stop`] or because `max_runtime` is over).
    pub fn is_running(&self) -> bool {
        self.acceptor.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Stops accepting, closes every connection, waits for its threads and returns the final
    /// report. Calling it again only returns the report.
    pub fn stop(&mut self) -> Report {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.close_all();
        if let Some(acceptor) = self.acceptor.take() {
            // A panic in the accept loop would be a bug here; the report is still worth having.
            let _ = acceptor.join();
        }
        self.report()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the accept loop, the sessions and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    upstream: SocketAddr,
    stop: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) armed: relay::Armed,
    pub(crate) report: Report,
    sessions: Vec<Link>,
}

/// An open session as the handle sees it: its event queue and its sockets, to wake or close it.
#[derive(Debug)]
struct Link {
    id: u64,
    tx: mpsc::Sender<session::Event>,
    client: TcpStream,
    upstream: TcpStream,
}

impl Shared {
    /// The state; a session thread that panicked holding the lock leaves it usable (counts are
    /// plain numbers, never half-updated in a way that matters).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn close_all(&self) {
        for link in &self.lock().sessions {
            session::close(&link.client, &link.upstream);
        }
    }

    pub(crate) fn register(
        &self,
        id: u64,
        tx: mpsc::Sender<session::Event>,
        client: TcpStream,
        upstream: TcpStream,
    ) {
        let mut state = self.lock();
        if self.stopped() {
            // Stopped between the handshake and here: close_all has run already.
            session::close(&client, &upstream);
        }
        state.sessions.push(Link {
            id,
            tx,
            client,
            upstream,
        });
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.lock().sessions.retain(|link| link.id != id);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, deadline: Instant) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    while !shared.stopped() && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _peer)) => {
                next_id += 1;
                let id = next_id;
                shared.lock().report.sessions += 1;
                let shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name(format!("faultproxy-{id}"))
                    .spawn(move || session::run(&shared, id, stream));
                match spawned {
                    Ok(handle) => sessions.push(handle),
                    // The stream went into the closure and is closed with it.
                    Err(e) => tracing::warn!(error = %e, "faultproxy: cannot start a session"),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            // Out of descriptors and the like: wait rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "faultproxy: accept failed");
                thread::sleep(ACCEPT_POLL);
            }
        }
        sessions.retain(|h| !h.is_finished());
    }
    shared.stop.store(true, Ordering::SeqCst);
    shared.close_all();
    for handle in sessions {
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_loopback() {
        let local = |p| SocketAddr::from(([127, 0, 0, 1], p));
        assert_eq!(upstream_addr("ws://127.0.0.1:8545").unwrap(), local(8545));
        assert_eq!(upstream_addr("ws://localhost:9/x").unwrap(), local(9));
        assert_eq!(
            upstream_addr("[::1]:7").unwrap(),
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 7))
        );
        for bad in [
            "wss://127.0.0.1:1",
            "ws://127.0.0.1",
            "ws://host:1",
            "ws://1.2.3.4:5",
        ] {
            assert!(upstream_addr(bad).is_err(), "{bad}");
        }
        let err = FaultProxy::start(
            local(1),
            SocketAddr::from(([0, 0, 0, 0], 0)),
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not loopback"), "{err}");
    }

    #[test]
    fn kinds_by_name_and_random_faults() {
        let mut rng = SplitMix64::new(3);
        for kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
            let fault = Fault::random(kind, &mut rng, "eth_call");
            assert_eq!(fault.kind(), kind);
            assert_ne!(fault.remaining(), Some(0));
        }
        assert!("nope".parse::<FaultKind>().is_err());
    }

    #[test]
    fn report_reads_as_words() {
        let mut report = Report {
            sessions: 2,
            server_messages: 1,
            ..Report::default()
        };
        report.applied.duplicate_logs = 3;
        report.applied.stall = 1;
        report.pending.push(Fault::Garbage);
        let text = report.to_string();
        assert!(
            text.starts_with("2 sessions (0 failed the upgrade"),
            "{text}"
        );
        assert!(text.contains("1 message server to client"), "{text}");
        assert!(
            text.contains("faults applied: 1 stall, 3 logs sent twice"),
            "{text}"
        );
        assert!(
            text.ends_with("still queued: send a text message that is not JSON"),
            "{text}"
        );
        assert!(!text.contains('{'), "{text}");
    }
}
