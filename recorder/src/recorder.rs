//! [`Recorder`]: the socket thread's handle; the housekeeping thread it starts; the choice of
//! backend at start; back-pressure.

use std::{
    fmt,
    fs::File,
    io::{self, Seek},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle, Thread},
    time::{Duration, Instant},
};

use polyarb_feeds::{MAX_RECORD_PAYLOAD, RecordError, RecordHeader};

use crate::{
    handoff::{self, Receiver, Sender, TrySend},
    out::{Faults, Out, PlainSink, Written},
};

/// Which backend [`Recorder::start`] may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriterChoice {
    /// io-uring if it can be set up and proves itself on the header, else plain writes (the
    /// reason is in [`Backend::Plain`]).
    #[default]
    Auto,
    /// Plain `pwrite(2)`s, always.
    Plain,
    /// io-uring or nothing: start fails if it cannot be set up.
    Uring,
}

impl FromStr for WriterChoice {
    type Err = UnknownWriter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "plain" => Ok(Self::Plain),
            "uring" | "io-uring" => Ok(Self::Uring),
            _ => Err(UnknownWriter(s.to_owned())),
        }
    }
}

impl fmt::Display for WriterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Plain => "plain",
            Self::Uring => "uring",
        })
    }
}

/// A writer name other than `auto`, `plain` or `uring`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownWriter(String);

impl fmt::Display for UnknownWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown writer {:?} (expected auto, plain or uring)",
            self.0
        )
    }
}

impl std::error::Error for UnknownWriter {}

/// CPUs a `cpu_set_t` holds (`CPU_SETSIZE`): `core_affinity` panics (in libc's `CPU_SET`) on a
/// larger CPU number.
const CPU_SET_SIZE: usize = 1_024;

/// How the recorder is built. [`Default`] is what `polyarb record` uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Which backend.
    pub writer: WriterChoice,
    /// Bytes of the handoff ring between the socket thread and the housekeeping thread,
    /// allocated and touched once at start. 16 MiB: some 20,000 typical notifications (a log is
    /// 700–900 bytes). Payloads over a quarter of it travel boxed (one allocation each).
    pub ring_bytes: usize,
    /// Bytes of each output buffer, the unit of one write. 128 KiB.
    pub buffer_bytes: usize,
    /// io-uring entries, and buffers that may be in flight at once. 32.
    pub queue_depth: u32,
    /// How long [`Recorder::push`] waits for room in a full ring before it drops the payload
    /// (and then drops without waiting until a payload fits again). 1 s. See docs/recording.md.
    pub max_wait: Duration,
    /// A partly filled buffer is written once its oldest byte is this old and the ring is empty
    /// (a full buffer is written at once). 10 ms: a crash loses at most about this much.
    pub flush_interval: Duration,
    /// How long the housekeeping thread sleeps when the ring is empty (it is not woken per
    /// payload: that would cost the socket thread a syscall). 1 ms.
    pub poll_interval: Duration,
    /// The CPU (an OS CPU number) the housekeeping thread pins itself to at start, off the
    /// socket thread's; `None`: unpinned. A failed pin is reported ([`Recorder::pinned`]), and
    /// the recorder runs unpinned.
    pub cpu: Option<usize>,
    /// Take `io_uring_setup` to fail with this errno (for example 1, EPERM, as seccomp gives):
    /// checks the fallback on a kernel that allows io-uring. `None` normally.
    pub simulate_uring_failure: Option<i32>,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            writer: WriterChoice::Auto,
            ring_bytes: 16 << 20,
            buffer_bytes: 128 << 10,
            queue_depth: 32,
            max_wait: Duration::from_secs(1),
            flush_interval: Duration::from_millis(10),
            poll_interval: Duration::from_millis(1),
            cpu: None,
            simulate_uring_failure: None,
        }
    }
}

impl RecorderConfig {
    fn check(&self) -> Result<(), RecorderError> {
        if !(4096..=u32::MAX as usize).contains(&self.ring_bytes) {
            return Err(RecorderError::Config("ring_bytes must be 4 KiB to 4 GiB"));
        }
        if !(4096..=1 << 30).contains(&self.buffer_bytes) {
            return Err(RecorderError::Config("buffer_bytes must be 4 KiB to 1 GiB"));
        }
        if !(1..=4096).contains(&self.queue_depth) {
            return Err(RecorderError::Config("queue_depth must be 1 to 4096"));
        }
        Ok(())
    }
}

/// The backend in use, chosen at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// io-uring writes.
    Uring {
        /// io_uring entries, and buffers in flight at most.
        queue_depth: u32,
    },
    /// Plain `pwrite(2)`s on the housekeeping thread.
    Plain {
        /// Why not io-uring: `None` if plain writes were asked for, else what failed.
        uring_unavailable: Option<String>,
    },
}

impl Backend {
    /// io-uring is in use.
    pub fn is_uring(&self) -> bool {
        matches!(self, Self::Uring { .. })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uring { queue_depth } => write!(f, "io-uring (queue depth {queue_depth})"),
            Self::Plain {
                uring_unavailable: None,
            } => f.write_str("plain writes (as asked)"),
            Self::Plain {
                uring_unavailable: Some(why),
            } => write!(f, "plain writes (io-uring unavailable: {why})"),
        }
    }
}

/// What [`Recorder::push`] did with a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for writing.
    Queued,
    /// Dropped: the ring stayed full for [`RecorderConfig::max_wait`] (or was full while the
    /// recorder was already behind). Counted in [`RecorderSummary::dropped`].
    Dropped,
}

/// Why the recorder failed.
#[derive(Debug)]
pub enum RecorderError {
    /// A configuration value out of range; names which.
    Config(&'static str),
    /// The encoder refused (a source text or payload too large for the format).
    Record(RecordError),
    /// A file operation failed.
    Io {
        /// Which (`write`, `io-uring write`, `fdatasync`, `io_uring_enter`, ...).
        what: &'static str,
        /// File offset it was at, if one.
        at: Option<u64>,
        /// The error.
        error: io::Error,
    },
    /// [`WriterChoice::Uring`] was asked for and io-uring cannot be used; says why.
    UringUnavailable(String),
    /// The housekeeping thread could not be started.
    Spawn(io::Error),
    /// The housekeeping thread has stopped (after an error that [`Recorder::finish`] returns).
    Stopped,
    /// The housekeeping thread panicked.
    Panicked,
}

impl RecorderError {
    pub(crate) fn io(what: &'static str, at: Option<u64>, error: io::Error) -> Self {
        Self::Io { what, at, error }
    }
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(what) => write!(f, "recorder config: {what}"),
            Self::Record(e) => e.fmt(f),
            Self::Io {
                what,
                at: Some(at),
                error,
            } => write!(f, "{what} at byte {at}: {error}"),
            Self::Io {
                what,
                at: None,
                error,
            } => write!(f, "{what}: {error}"),
            Self::UringUnavailable(why) => write!(f, "io-uring unavailable: {why}"),
            Self::Spawn(e) => write!(f, "cannot start the recorder thread: {e}"),
            Self::Stopped => f.write_str("the recorder thread has stopped"),
            Self::Panicked => f.write_str("the recorder thread panicked"),
        }
    }
}

impl std::error::Error for RecorderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Record(e) => Some(e),
            Self::Io { error, .. } | Self::Spawn(error) => Some(error),
            _ => None,
        }
    }
}

/// What a recording did, from [`Recorder::finish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecorderSummary {
    /// The backend used.
    pub backend: Backend,
    /// Records written.
    pub records: u64,
    /// Bytes written, header included (the file's length if it started empty).
    pub bytes: u64,
    /// Write calls (plain) or write entries (io-uring); a short write's rest counts again.
    pub writes: u64,
    /// Of which came back short (and were finished by another).
    pub short_writes: u64,
    /// Payloads dropped because the ring stayed full: the recorder was behind.
    pub dropped: u64,
    /// Payloads that waited for room before they were queued.
    pub waited: u64,
    /// Longest such wait.
    pub longest_wait: Duration,
}

impl fmt::Display for RecorderSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} records, {} bytes in {} writes ({} short)",
            self.backend, self.records, self.bytes, self.writes, self.short_writes
        )?;
        if self.waited > 0 {
            write!(
                f,
                "; {} payloads waited for room (longest {:.1} ms)",
                self.waited,
                self.longest_wait.as_secs_f64() * 1e3
            )?;
        }
        if self.dropped > 0 {
            write!(f, "; {} payloads dropped: recorder behind", self.dropped)?;
        }
        Ok(())
    }
}

/// The socket thread's handle on the recorder: see the crate docs.
#[derive(Debug)]
pub struct Recorder {
    /// `None` only once closed.
    tx: Option<Sender>,
    closed: Arc<AtomicBool>,
    /// `None` only once joined.
    thread: Option<JoinHandle<Result<Written, RecorderError>>>,
    waker: Thread,
    backend: Backend,
    max_wait: Duration,
    /// A wait ran out and no payload has fit since: drop without waiting.
    behind: bool,
    dropped: u64,
    waited: u64,
    longest_wait: Duration,
    /// Where the housekeeping thread pinned: `Ok(cpu)`, `Err(cpu)` if that failed; `None` if
    /// no CPU was asked for.
    pinned: Option<Result<usize, usize>>,
}

impl Recorder {
    /// Chooses the backend, writes the recording's header (`created_unix_ns`: wall-clock start,
    /// ns since the Unix epoch; `source`: where the payloads come from, at most 1024 bytes) at
    /// `file`'s current position (records follow at increasing offsets, so the file must not
    /// be opened for appending), and starts the housekeeping thread. With
    /// [`WriterChoice::Auto`] io-uring is used if it can be set up and writes the header;
    /// otherwise plain writes, and [`Recorder::backend`] says why. Returns once the header is
    /// written.
    pub fn start(
        file: File,
        created_unix_ns: u64,
        source: &str,
        cfg: &RecorderConfig,
    ) -> Result<Self, RecorderError> {
        let faults = Faults {
            uring_setup: cfg.simulate_uring_failure,
            ..Faults::default()
        };
        Self::start_with(file, created_unix_ns, source, cfg, faults)
    }

    pub(crate) fn start_with(
        mut file: File,
        created_unix_ns: u64,
        source: &str,
        cfg: &RecorderConfig,
        faults: Faults,
    ) -> Result<Self, RecorderError> {
        cfg.check()?;
        let header =
            RecordHeader::encode(created_unix_ns, source).map_err(RecorderError::Record)?;
        let base = file
            .stream_position()
            .map_err(|e| RecorderError::io("seek", None, e))?;
        let (tx, rx) = handoff::channel(cfg.ring_bytes);
        let closed = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let thread = {
            let cfg = cfg.clone();
            let closed = Arc::clone(&closed);
            thread::Builder::new()
                .name("recorder".into())
                .spawn(move || {
                    let pinned = cfg.cpu.map(|id| {
                        // libc's CPU_SET panics past its 1,024-CPU set: such a CPU is a failed pin.
                        if id < CPU_SET_SIZE
                            && core_affinity::set_for_current(core_affinity::CoreId { id })
                        {
                            Ok(id)
                        } else {
                            Err(id)
                        }
                    });
                    let mut out = match open(file, base, &header, &cfg, faults) {
                        Ok((out, backend)) => {
                            let _ = ready_tx.send(Ok((backend, pinned)));
                            out
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return Ok(Written::default());
                        }
                    };
                    run(rx, &mut out, &closed, &cfg)
                })
                .map_err(RecorderError::Spawn)?
        };
        let (backend, pinned) = match ready.recv() {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(e)) => e,
                    _ => RecorderError::Panicked,
                });
            }
        };
        Ok(Self {
            tx: Some(tx),
            closed,
            waker: thread.thread().clone(),
            thread: Some(thread),
            backend,
            pinned,
            max_wait: cfg.max_wait,
            behind: false,
            dropped: 0,
            waited: 0,
            longest_wait: Duration::ZERO,
        })
    }

    /// The backend chosen at start.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Where the housekeeping thread pinned ([`RecorderConfig::cpu`]): `Ok(cpu)`, `Err(cpu)`
    /// if the pin failed (it runs unpinned), `None` if no CPU was asked for.
    pub fn pinned(&self) -> Option<Result<usize, usize>> {
        self.pinned
    }

    /// Queues one payload received at `recv_ns` (wall-clock ns since the Unix epoch) for
    /// writing. From the socket thread: no allocation (unless the payload is over a quarter of
    /// the ring), no lock, no syscall while the ring has room. A full ring is waited on up to
    /// [`RecorderConfig::max_wait`], then the payload is dropped and counted, and later ones are
    /// dropped without waiting until one fits again (docs/recording.md says why).
    ///
    /// `Err(Stopped)` once the housekeeping thread has stopped on an error
    /// ([`Recorder::finish`] returns it); `Err(Record(TooLarge))` for a payload over the
    /// format's 256 MiB, which is not queued.
    pub fn push(&mut self, recv_ns: u64, payload: &[u8]) -> Result<Pushed, RecorderError> {
        if payload.len() > MAX_RECORD_PAYLOAD {
            return Err(RecorderError::Record(RecordError::TooLarge(payload.len())));
        }
        let Some(tx) = self.tx.as_mut() else {
            return Err(RecorderError::Stopped);
        };
        match tx.try_send(recv_ns, payload) {
            TrySend::Queued => {
                self.behind = false;
                return Ok(Pushed::Queued);
            }
            TrySend::Closed => return Err(RecorderError::Stopped),
            TrySend::Full if self.behind => {
                self.dropped += 1;
                return Ok(Pushed::Dropped);
            }
            TrySend::Full => {}
        }
        // The ring is full: the housekeeping thread may be asleep, or the disk slow.
        self.waker.unpark();
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if spins < 100 {
                spins += 1;
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(100));
            }
            match tx.try_send(recv_ns, payload) {
                TrySend::Queued => {
                    self.waited += 1;
                    self.longest_wait = self.longest_wait.max(start.elapsed());
                    return Ok(Pushed::Queued);
                }
                TrySend::Closed => return Err(RecorderError::Stopped),
                TrySend::Full if start.elapsed() >= self.max_wait => {
                    self.behind = true;
                    self.dropped += 1;
                    self.longest_wait = self.longest_wait.max(start.elapsed());
                    return Ok(Pushed::Dropped);
                }
                TrySend::Full => {}
            }
        }
    }

    /// Payloads dropped so far (the recorder was behind).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes everything queued, waits for the writes, syncs the file's data (`fdatasync`) and
    /// stops the housekeeping thread. The first write error, if any, is returned here.
    pub fn finish(mut self) -> Result<RecorderSummary, RecorderError> {
        let written = self.close()?;
        Ok(RecorderSummary {
            backend: self.backend.clone(),
            records: written.records,
            bytes: written.bytes,
            writes: written.writes,
            short_writes: written.short_writes,
            dropped: self.dropped,
            waited: self.waited,
            longest_wait: self.longest_wait,
        })
    }

    fn close(&mut self) -> Result<Written, RecorderError> {
        // Every push happened before this store; the thread drains the ring after it sees it.
        drop(self.tx.take());
        self.closed.store(true, Ordering::Release);
        self.waker.unpark();
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| RecorderError::Panicked)?,
            None => Err(RecorderError::Stopped),
        }
    }
}

impl Drop for Recorder {
    /// Finishes the recording; an error is lost (call [`Recorder::finish`] to see it).
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.close();
        }
    }
}

/// On the housekeeping thread: chooses the backend and writes the header through it. io-uring
/// counts as set up only once the header is written through it; if that fails for a reason
/// that means io-uring cannot be used (the syscall refused, an unsupported or refused
/// operation), plain writes take over from the header again. Any other failure (disk full, bad
/// file) is the file's, and plain writes would fail too: it is returned.
fn open(
    file: File,
    base: u64,
    header: &[u8],
    cfg: &RecorderConfig,
    faults: Faults,
) -> Result<(Out, Backend), RecorderError> {
    let plain = |file: File,
                 faults: Faults,
                 why: Option<String>|
     -> Result<(Out, Backend), RecorderError> {
        let mut out = Out::new(
            Box::new(PlainSink::new(file, faults)),
            cfg.buffer_bytes,
            base,
        );
        out.append(header)?;
        out.drain()?;
        Ok((
            out,
            Backend::Plain {
                uring_unavailable: why,
            },
        ))
    };
    if cfg.writer == WriterChoice::Plain {
        return plain(file, faults, None);
    }
    let why = match try_uring(&file, base, header, cfg, faults) {
        Ok(out) => {
            return Ok((
                out,
                Backend::Uring {
                    queue_depth: cfg.queue_depth,
                },
            ));
        }
        Err(Unusable::Unavailable(why)) => why,
        Err(Unusable::File(e)) => return Err(e),
    };
    match cfg.writer {
        WriterChoice::Uring => Err(RecorderError::UringUnavailable(why)),
        _ => plain(file, Faults::default(), Some(why)),
    }
}

/// Why io-uring was not taken.
enum Unusable {
    /// io-uring cannot be used here: why.
    Unavailable(String),
    /// The file failed; plain writes would too.
    File(RecorderError),
}

#[cfg(target_os = "linux")]
fn try_uring(
    file: &File,
    base: u64,
    header: &[u8],
    cfg: &RecorderConfig,
    faults: Faults,
) -> Result<Out, Unusable> {
    let dup = file
        .try_clone()
        .map_err(|e| Unusable::File(RecorderError::io("dup", None, e)))?;
    let sink = crate::uring::UringSink::new(dup, cfg.queue_depth, cfg.buffer_bytes, faults)
        .map_err(Unusable::Unavailable)?;
    let mut out = Out::new(Box::new(sink), cfg.buffer_bytes, base);
    match out.append(header).and_then(|()| out.drain()) {
        Ok(()) => Ok(out),
        Err(e) => Err(match &e {
            RecorderError::Io { what, error, .. }
                if *what == "io_uring_enter"
                    || matches!(
                        error.kind(),
                        io::ErrorKind::Unsupported
                            | io::ErrorKind::PermissionDenied
                            | io::ErrorKind::InvalidInput
                    ) =>
            {
                Unusable::Unavailable(format!("writing the header: {e}"))
            }
            _ => Unusable::File(e),
        }),
    }
}

#[cfg(not(target_os = "linux"))]
fn try_uring(
    _file: &File,
    _base: u64,
    _header: &[u8],
    _cfg: &RecorderConfig,
    _faults: Faults,
) -> Result<Out, Unusable> {
    Err(Unusable::Unavailable("not Linux".to_owned()))
}

/// The housekeeping thread's loop: drain the ring into buffers, write full ones at once and a
/// partial one when the ring is empty and its oldest byte is `flush_interval` old; sleep
/// `poll_interval` when there is nothing to do; on close, drain, write the rest and sync.
fn run(
    mut rx: Receiver,
    out: &mut Out,
    closed: &AtomicBool,
    cfg: &RecorderConfig,
) -> Result<Written, RecorderError> {
    loop {
        // Read before draining: everything pushed before the close is in the ring by then.
        let closing = closed.load(Ordering::Acquire);
        let mut took = 0u64;
        while let Some(r) = rx.recv(|t, p| out.record(t, p)) {
            r?;
            took += 1;
        }
        if closing {
            return out.finish();
        }
        if let Some(since) = out.pending_since()
            && rx.is_empty()
            && since.elapsed() >= cfg.flush_interval
        {
            out.ship()?;
        }
        out.sink().kick()?;
        if took == 0 {
            thread::park_timeout(cfg.poll_interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        path::PathBuf,
        sync::atomic::{AtomicU64, Ordering},
    };

    use polyarb_feeds::{RecordReader, RecordWriter};

    use super::*;

    const CREATED: u64 = 1_700_000_000_000_000_000;
    const SOURCE: &str = "ws://127.0.0.1:8546";

    fn scratch(name: &str) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "polyarb-recorder-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn payloads(n: usize) -> Vec<(u64, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let len = [0, 1, 700, 900, 5_000, 70_000][i % 6];
                let p = (0..len).map(|k| (i * 31 + k) as u8).collect();
                (i as u64 * 1_000 + 7, p)
            })
            .collect()
    }

    /// What `RecordWriter` writes for `recs`.
    fn expected(recs: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut w = RecordWriter::new(Vec::new(), CREATED, SOURCE).unwrap();
        for (t, p) in recs {
            w.write(*t, p).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn small(writer: WriterChoice) -> RecorderConfig {
        RecorderConfig {
            writer,
            ring_bytes: 64 << 10,
            buffer_bytes: 4096,
            queue_depth: 4,
            ..RecorderConfig::default()
        }
    }

    /// Pushes every payload (none may be dropped) and finishes.
    fn record(
        cfg: &RecorderConfig,
        faults: Faults,
        recs: &[(u64, Vec<u8>)],
    ) -> (Result<RecorderSummary, RecorderError>, Vec<u8>) {
        let path = scratch("r.rec");
        let file = File::create(&path).unwrap();
        let r = Recorder::start_with(file, CREATED, SOURCE, cfg, faults).and_then(|mut r| {
            for (t, p) in recs {
                match r.push(*t, p) {
                    Ok(Pushed::Queued) => {}
                    Ok(Pushed::Dropped) => panic!("dropped"),
                    Err(RecorderError::Stopped) => break,
                    Err(e) => return Err(e),
                }
            }
            r.finish()
        });
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        (r, bytes)
    }

    #[test]
    fn short_writes_are_finished_from_where_they_stopped() {
        let recs = payloads(200);
        for writer in [WriterChoice::Plain, WriterChoice::Uring] {
            let faults = Faults {
                shorten_every: 3,
                ..Faults::default()
            };
            let (sum, bytes) = record(&small(writer), faults, &recs);
            let sum = sum.unwrap_or_else(|e| panic!("{writer}: {e}"));
            assert!(sum.short_writes > 10, "{writer}: {sum}");
            assert_eq!(sum.records, recs.len() as u64);
            assert_eq!(bytes, expected(&recs), "{writer}");
        }
    }

    #[test]
    fn a_failed_write_stops_the_recorder_and_finish_reports_it() {
        let recs = payloads(300);
        for writer in [WriterChoice::Plain, WriterChoice::Uring] {
            let faults = Faults {
                fail_write: Some((5, 5)), // EIO
                ..Faults::default()
            };
            let (sum, _) = record(&small(writer), faults, &recs);
            match sum {
                Err(RecorderError::Io { error, at, .. }) => {
                    assert_eq!(error.raw_os_error(), Some(5), "{writer}");
                    assert!(at.is_some());
                }
                other => panic!("{writer}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refused_header_write_through_io_uring_falls_back_but_a_file_error_does_not() {
        let recs = payloads(20);
        // EPERM on io-uring's first write: io-uring cannot be used; plain writes take over.
        let faults = Faults {
            fail_write: Some((1, 1)),
            ..Faults::default()
        };
        let (sum, bytes) = record(&small(WriterChoice::Auto), faults, &recs);
        let sum = sum.unwrap();
        match &sum.backend {
            Backend::Plain {
                uring_unavailable: Some(why),
            } => assert!(why.starts_with("writing the header"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(bytes, expected(&recs));
        // EIO: the file's fault, so no fallback.
        let faults = Faults {
            fail_write: Some((1, 5)),
            ..Faults::default()
        };
        let (sum, _) = record(&small(WriterChoice::Auto), faults, &recs);
        assert!(
            matches!(&sum, Err(RecorderError::Io { error, .. }) if error.raw_os_error() == Some(5)),
            "{sum:?}"
        );
    }

    #[test]
    fn a_slow_disk_makes_pushes_wait_then_drop_and_the_file_holds_what_was_queued() {
        let recs: Vec<(u64, Vec<u8>)> = (0..200u64)
            .map(|i| (i, vec![b'a' + (i % 26) as u8; 1000]))
            .collect();
        for writer in [WriterChoice::Plain, WriterChoice::Uring] {
            let cfg = RecorderConfig {
                ring_bytes: 8192,
                max_wait: Duration::from_millis(2),
                ..small(writer)
            };
            let faults = Faults {
                stall: Some(Duration::from_millis(30)),
                ..Faults::default()
            };
            let path = scratch("slow.rec");
            let mut r =
                Recorder::start_with(File::create(&path).unwrap(), CREATED, SOURCE, &cfg, faults)
                    .unwrap();
            let mut queued = Vec::new();
            let mut dropped = 0;
            for (t, p) in &recs {
                match r.push(*t, p).unwrap() {
                    Pushed::Queued => queued.push((*t, p.clone())),
                    Pushed::Dropped => dropped += 1,
                }
            }
            assert_eq!(r.dropped(), dropped);
            let sum = r.finish().unwrap();
            assert!(dropped > 0, "{writer}: {sum}");
            assert_eq!(sum.dropped, dropped);
            assert_eq!(sum.records, queued.len() as u64);
            assert!(
                sum.to_string()
                    .ends_with(&format!("{dropped} payloads dropped: recorder behind")),
                "{sum}"
            );
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes, expected(&queued), "{writer}");
            let back: Vec<_> = RecordReader::new(&bytes[..])
                .unwrap()
                .map(|r| r.map(|r| (r.recv_ns, r.payload)).unwrap())
                .collect();
            assert_eq!(back, queued);
            let _ = std::fs::remove_dir_all(path.parent().unwrap());

            // Waiting long enough loses nothing: the pushes wait for room instead.
            let cfg = RecorderConfig {
                max_wait: Duration::from_secs(5),
                ..cfg
            };
            let faults = Faults {
                stall: Some(Duration::from_millis(2)),
                ..Faults::default()
            };
            let (sum, bytes) = record(&cfg, faults, &recs[..60]);
            let sum = sum.unwrap();
            assert_eq!((sum.dropped, sum.records), (0, 60), "{writer}: {sum}");
            assert!(sum.waited > 0, "{writer}: {sum}");
            assert_eq!(bytes, expected(&recs[..60]));
        }
    }

    #[test]
    fn a_payload_over_the_format_limit_is_refused_and_not_queued() {
        let path = scratch("big.rec");
        let mut r = Recorder::start(
            File::create(&path).unwrap(),
            CREATED,
            SOURCE,
            &small(WriterChoice::Plain),
        )
        .unwrap();
        // Not allocated: only its length is looked at.
        let big = vec![0u8; MAX_RECORD_PAYLOAD + 1];
        assert!(matches!(
            r.push(1, &big),
            Err(RecorderError::Record(RecordError::TooLarge(n))) if n == MAX_RECORD_PAYLOAD + 1
        ));
        r.push(2, b"ok").unwrap();
        assert_eq!(r.finish().unwrap().records, 1);
    }

    #[test]
    fn config_out_of_range_is_refused() {
        for cfg in [
            RecorderConfig {
                ring_bytes: 100,
                ..RecorderConfig::default()
            },
            RecorderConfig {
                buffer_bytes: 0,
                ..RecorderConfig::default()
            },
            RecorderConfig {
                queue_depth: 0,
                ..RecorderConfig::default()
            },
        ] {
            let path = scratch("cfg.rec");
            assert!(matches!(
                Recorder::start(File::create(&path).unwrap(), 0, "", &cfg),
                Err(RecorderError::Config(_))
            ));
        }
        assert_eq!("io-uring".parse(), Ok(WriterChoice::Uring));
        assert_eq!("plain".parse(), Ok(WriterChoice::Plain));
        assert!("fast".parse::<WriterChoice>().is_err());
    }
}
