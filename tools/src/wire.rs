//! Wire-to-wire measurement of polyarb (docs/wire.md): a loopback websocket server that plays a
//! recording to a resumed `polyarb run` over real TCP at a set rate, answers its requests as a
//! node would, and stamps the signed transactions coming back.
//!
//! - `rec`: the recording reader (strict; independent of `polyarb-feeds`).
//! - `schedule`: the notifications grouped into blocks' bursts and their intended send times.
//! - `node`: the JSON-RPC answers, consistent with the snapshot and the recording.
//! - `server`: the socket, the reader thread and the player.
//! - `report`: the matching rule, histograms, `.hgrm` and summaries.
//! - `run`: one run with polyarb as a child process, and the rate search.
//!
//! Test tooling: plain threads and blocking sockets, not the hot path; the player only writes
//! frames it prepared before the play.

mod node;
mod rec;
mod report;
mod run;
mod schedule;
mod server;

use std::{fmt, path::PathBuf};

pub use node::{ChainSpec, Node, RawTx, tx_nonce};
pub use report::{Dist, PolyarbSummary, parse_polyarb};
pub use run::{
    RunSummary, Search, Step, WireOpts, find_max, load_notifications, polyarb_binary, run_once,
    summary_text,
};
pub use schedule::{HEADS_SUBSCRIPTION, LOGS_SUBSCRIPTION, Pacing};

/// Why a wire run failed.
#[derive(Debug)]
pub enum WireError {
    /// A file or socket operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The recording cannot be played as it is.
    Recording {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The config or snapshot cannot be used.
    Input {
        /// What is wrong, naming the file.
        what: String,
    },
    /// polyarb did not get as far as the play.
    Polyarb {
        /// What happened.
        what: String,
        /// Its log.
        stderr: PathBuf,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Recording { path, what } => {
                write!(f, "recording {}: {what}", path.display())
            }
            Self::Input { what } => write!(f, "{what}"),
            Self::Polyarb { what, stderr } => {
                write!(f, "{what} (polyarb's log: {})", stderr.display())
            }
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
