//! `polyarb record`: every websocket payload with its receive time, to a recording file.

use std::{
    fmt,
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use polyarb_feeds::RecordWriter;

use super::{
    AppError,
    live::{check_chain, connect, subscribe},
};
use crate::{
    clock::unix_now_ns,
    config::{Config, ProcessEnv},
};

/// What `polyarb record` wrote.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// Payloads written.
    pub records: u64,
    /// The recording.
    pub out: PathBuf,
}

impl fmt::Display for RecordSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "recording: {} payloads -> {}",
            self.records,
            self.out.display()
        )
    }
}

/// `polyarb record`: subscribes and writes every payload with its receive time (Unix ns) until
/// `stop` is set or `max_messages` were written. `on_subscribed` runs once the subscriptions
/// are live (the binary prints a line that the scenario tool waits for before trading).
pub fn record_cmd(
    config: &Path,
    out: &Path,
    max_messages: Option<u64>,
    stop: &AtomicBool,
    on_subscribed: impl FnOnce(),
) -> Result<RecordSummary, AppError> {
    let cfg = Config::load(config, &ProcessEnv)?;
    let mut rpc = connect(&cfg)?;
    check_chain(&mut rpc, &cfg)?;
    let file = File::create(out).map_err(AppError::file(out))?;
    let recording = |error| AppError::Recording {
        path: out.to_owned(),
        error,
    };
    let source = format!(
        "polyarb {} record {}",
        env!("CARGO_PKG_VERSION"),
        cfg.node.ws_url
    );
    let mut w =
        RecordWriter::new(BufWriter::new(file), unix_now_ns(), &source).map_err(recording)?;
    subscribe(&mut rpc)?;
    on_subscribed();

    let mut write_err = None;
    let limit = max_messages.unwrap_or(u64::MAX);
    while !stop.load(Ordering::Relaxed) && w.records() < limit && write_err.is_none() {
        let polled = rpc.poll(Some(Duration::from_millis(100)), |payload| {
            if write_err.is_none()
                && let Err(e) = w.write(unix_now_ns(), payload)
            {
                write_err = Some(e);
            }
        });
        if let Err(e) = polled {
            tracing::error!(error = %e, "websocket failed; closing the recording");
            break;
        }
    }
    if let Some(e) = write_err {
        return Err(recording(e));
    }
    w.flush().map_err(recording)?;
    Ok(RecordSummary {
        records: w.records(),
        out: out.to_owned(),
    })
}
