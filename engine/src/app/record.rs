//! `polyarb record`: every websocket payload with its receive time, to a recording file.
//!
//! The socket thread stamps each payload and hands it to `polyarb-recorder`, whose housekeeping
//! thread encodes and writes the file (io-uring, or plain writes where io-uring cannot be set
//! up): the socket thread never waits on the disk unless the handoff ring is full.

use std::{
    fmt,
    fs::File,
    io,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use polyarb_feeds::RecordError;
pub use polyarb_recorder::WriterChoice;
use polyarb_recorder::{Backend, Pushed, Recorder, RecorderConfig, RecorderError, RecorderSummary};

use super::{
    AppError,
    live::{check_chain, connect, subscribe},
};
use crate::{
    clock::unix_now_ns,
    config::{Config, ProcessEnv},
    placement::{Pinned, pin_current},
};

/// What `polyarb record` wrote.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// Payloads written.
    pub records: u64,
    /// The recording.
    pub out: PathBuf,
    /// The writer: backend, bytes and writes, payloads that waited or were dropped.
    pub recorder: RecorderSummary,
    /// Where the socket thread ran (the plan's first hot CPU: `feed`, or `fused`).
    pub socket: Pinned,
    /// Where the recorder's housekeeping thread ran: `Ok(cpu)`, `Err(cpu)` if pinning failed,
    /// `None` unpinned (the plan had no housekeeping CPU).
    pub recorder_cpu: Option<Result<usize, usize>>,
}

impl RecordSummary {
    /// Payloads dropped because the recorder was behind (docs/recording.md).
    pub fn dropped(&self) -> u64 {
        self.recorder.dropped
    }

    /// The backend that wrote the file.
    pub fn backend(&self) -> &Backend {
        &self.recorder.backend
    }
}

impl RecordSummary {
    fn fmt_counts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "recording: {} payloads -> {} (recorder: {})",
            self.records,
            self.out.display(),
            self.recorder.backend
        )?;
        let r = &self.recorder;
        writeln!(
            f,
            "recording: {} bytes in {} writes ({} short); {} payloads dropped: recorder behind",
            r.bytes, r.writes, r.short_writes, r.dropped
        )?;
        if r.waited > 0 {
            writeln!(
                f,
                "recording: {} payloads waited for room in the handoff ring (longest {:.1} ms)",
                r.waited,
                r.longest_wait.as_secs_f64() * 1e3
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for RecordSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_counts(f)?;
        let socket = match self.socket {
            Pinned::Core(c) => format!("socket thread on CPU {c}"),
            Pinned::Failed(c) => format!("socket thread NOT pinned (pinning to CPU {c} failed)"),
            Pinned::Unpinned => "socket thread unpinned".to_owned(),
        };
        let recorder = match self.recorder_cpu {
            Some(Ok(c)) => format!("recorder on CPU {c}"),
            Some(Err(c)) => format!("recorder NOT pinned (pinning to CPU {c} failed)"),
            None => "recorder unpinned".to_owned(),
        };
        write!(f, "\nplacement: {socket}; {recorder}")
    }
}

/// The recorder's error as the recording's, for [`AppError::Recording`].
fn recording_error(e: RecorderError) -> RecordError {
    match e {
        RecorderError::Record(e) => e,
        e => RecordError::Io(io::Error::other(e)),
    }
}

/// `polyarb record`: subscribes and writes every payload with its receive time (Unix ns) until
/// `stop` is set or `max_messages` were received. `writer` picks the recorder's backend
/// ([`WriterChoice::Auto`]: io-uring if it can be set up, else plain writes; the choice is
/// logged at start and in the summary). `on_subscribed` runs once the subscriptions are live
/// (the binary prints a line that the scenario tool waits for before trading).
pub fn record_cmd(
    config: &Path,
    out: &Path,
    max_messages: Option<u64>,
    writer: WriterChoice,
    stop: &AtomicBool,
    on_subscribed: impl FnOnce(),
) -> Result<RecordSummary, AppError> {
    let cfg = Config::load(config, &ProcessEnv)?;
    let plan = super::plan_threads(&cfg)?;
    let mut rpc = connect(&cfg)?;
    check_chain(&mut rpc, &cfg)?;
    let file = File::create(out).map_err(AppError::file(out))?;
    let recording = |e: RecorderError| AppError::Recording {
        path: out.to_owned(),
        error: recording_error(e),
    };
    let source = format!(
        "polyarb {} record {}",
        env!("CARGO_PKG_VERSION"),
        cfg.node.ws_url
    );
    // The socket is this thread's: it takes the plan's first hot CPU, the recorder's
    // housekeeping thread the plan's housekeeping CPU.
    plan.log_warnings();
    let socket = pin_current("record", plan.hot.first().and_then(|s| s.cpu));
    let rec_cfg = RecorderConfig {
        writer,
        cpu: plan.housekeeping,
        ..RecorderConfig::default()
    };
    let mut rec = Recorder::start(file, unix_now_ns(), &source, &rec_cfg).map_err(recording)?;
    match rec.backend() {
        Backend::Plain {
            uring_unavailable: Some(_),
        } => tracing::warn!("recorder: {}", rec.backend()),
        b => tracing::info!("recorder: {b}"),
    }
    subscribe(&mut rpc)?;
    on_subscribed();

    let mut push_err = None;
    let mut received = 0u64;
    // In a stretch of drops (the ring stayed full), and whether its start is yet to be logged.
    let mut dropping = false;
    let mut warn = false;
    let limit = max_messages.unwrap_or(u64::MAX);
    while !stop.load(Ordering::Relaxed) && received < limit && push_err.is_none() {
        let polled = rpc.poll(Some(Duration::from_millis(100)), |payload| {
            if push_err.is_some() || received >= limit {
                return;
            }
            received += 1;
            match rec.push(unix_now_ns(), payload) {
                Ok(Pushed::Queued) => dropping = false,
                Ok(Pushed::Dropped) => {
                    warn |= !dropping;
                    dropping = true;
                }
                Err(e) => push_err = Some(e),
            }
        });
        if warn {
            // Off the callback: no formatting between payloads.
            tracing::warn!(dropped = rec.dropped(), "recorder behind: payloads dropped");
            warn = false;
        }
        if let Err(e) = polled {
            tracing::error!(error = %e, "websocket failed; closing the recording");
            break;
        }
    }
    // Finish first: after a write error the push only says the recorder stopped, and finish
    // says why.
    let recorder_cpu = rec.pinned();
    let finished = rec.finish();
    if let Some(e) = push_err
        && !matches!(e, RecorderError::Stopped)
    {
        return Err(recording(e));
    }
    let recorder = finished.map_err(recording)?;
    Ok(RecordSummary {
        records: recorder.records,
        out: out.to_owned(),
        recorder,
        socket,
        recorder_cpu,
    })
}
