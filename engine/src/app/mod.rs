//! The `polyarb` commands, as library functions so tests can drive them: `replay` (recording →
//! pipeline → sink), `run` (live node), `record` and `snapshot`. Everything here is edge code:
//! files, sockets, signals, printing.

pub mod discovery;
pub mod live;
pub mod replay;

use std::fmt;

use crate::config::ConfigError;

/// Why a command could not run. Each names the input or output at fault.
#[derive(Debug)]
pub enum AppError {
    /// The configuration is unusable.
    Config(ConfigError),
    /// An input file or value is unusable (path or key named in the message).
    Input(String),
    /// An output could not be written.
    Output(String),
    /// The node could not be reached or answered badly.
    Node(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::Input(m) => write!(f, "bad input: {m}"),
            Self::Output(m) => write!(f, "cannot write output: {m}"),
            Self::Node(m) => write!(f, "node: {m}"),
        }
    }
}

impl std::error::Error for AppError {}

/// Creates `path` for buffered writing, if one was given.
pub(crate) fn create_optional(
    path: Option<&std::path::Path>,
) -> Result<Option<std::io::BufWriter<std::fs::File>>, AppError> {
    path.map(|p| {
        std::fs::File::create(p)
            .map(std::io::BufWriter::new)
            .map_err(|e| AppError::Output(format!("{}: {e}", p.display())))
    })
    .transpose()
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}
