//! The `polyarb` commands, as library functions so tests can drive them: `replay` (recording →
//! pipeline → sink), `run` (live node), `record` and `snapshot`. Everything here is edge code:
//! files and sockets. Each command returns a summary (its `Display` is what the binary prints)
//! or an [`AppError`]; the stop flag comes in from the caller, which owns the signal handlers.

pub mod backfill;
pub mod discovery;
pub mod keys;
pub mod lender_watch;
pub mod live;
pub mod port;
pub mod record;
pub mod replay;

use std::{fmt, io, path::PathBuf, sync::Arc};

use polyarb_core::BuildError;
use polyarb_feeds::{RecordError, RpcError};
use polyarb_signer::KeyError;

use crate::{
    config::ConfigError,
    placement::{PinBoard, Plan},
    snapshot::SnapshotError,
};

pub use discovery::DiscoveryError;
pub use replay::ReplayError;

/// Why a command could not run. Each names the input, output or call at fault.
#[derive(Debug)]
pub enum AppError {
    /// The configuration is unusable.
    Config(ConfigError),
    /// A file could not be opened, created or written.
    File {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: io::Error,
    },
    /// A recording could not be read or written.
    Recording {
        /// The recording.
        path: PathBuf,
        /// Why.
        error: RecordError,
    },
    /// A snapshot could not be read or written.
    Snapshot {
        /// The snapshot.
        path: PathBuf,
        /// Why.
        error: SnapshotError,
    },
    /// The signing key could not be loaded.
    Key {
        /// Where it was looked for (`signer` key file or variable, `[replay].key`).
        from: &'static str,
        /// Why.
        error: KeyError,
    },
    /// A keystore or its password could not be used.
    Keys(keys::KeysError),
    /// The market cannot become an engine.
    Market(BuildError),
    /// The node could not be reached.
    Connect {
        /// The configured `node.ws_url`.
        url: String,
        /// Why.
        error: RpcError,
    },
    /// A start-up call to the node failed.
    Node {
        /// The call (`eth_chainId`, `connect`, ...).
        call: &'static str,
        /// Why.
        error: RpcError,
    },
    /// The node is on another chain than the config expects.
    WrongChain {
        /// The node's chain id.
        node: u64,
        /// The config's `node.expect_chain_id`.
        config: u64,
    },
    /// Pool discovery could not read the market.
    Discovery(DiscoveryError),
    /// A replay's inputs are missing or disagree.
    Replay(ReplayError),
    /// The live edge gave up on the node while running.
    Connection(port::LinkError),
    /// A warm start could not catch up from its snapshot.
    Resume(backfill::BackfillError),
    /// The threads cannot be placed as `[cores] strict` demands.
    Placement(String),
    /// The execution journal could not be opened or started.
    Journal(crate::journal::JournalError),
    /// A housekeeping thread could not be started.
    Thread {
        /// The thread's name.
        name: &'static str,
        /// What the OS said.
        error: io::Error,
    },
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::File { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Recording { path, error } => write!(f, "recording {}: {error}", path.display()),
            Self::Snapshot { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Key { from, error } => write!(f, "signing key ({from}): {error}"),
            Self::Keys(e) => write!(f, "signing key ({}): {e}", keys::FROM_KEYSTORE),
            Self::Market(e) => write!(f, "market: {e}"),
            Self::Connect { url, error } => write!(f, "cannot connect to {url}: {error}"),
            Self::Node { call, error } => write!(f, "node: {call}: {error}"),
            Self::WrongChain { node, config } => {
                write!(f, "node is on chain {node}, config expects {config}")
            }
            Self::Discovery(e) => write!(f, "discovery: {e}"),
            Self::Replay(e) => write!(f, "replay: {e}"),
            Self::Connection(e) => write!(f, "live edge stopped: {e}"),
            Self::Resume(e) => write!(f, "resume: {e}"),
            Self::Thread { name, error } => write!(f, "cannot start thread {name}: {error}"),
            Self::Placement(why) => write!(f, "placement: {why}"),
            Self::Journal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::File { error, .. } => Some(error),
            Self::Recording { error, .. } => Some(error),
            Self::Snapshot { error, .. } => Some(error),
            Self::Key { error, .. } => Some(error),
            Self::Keys(e) => Some(e),
            Self::Market(e) => Some(e),
            Self::Connect { error, .. } | Self::Node { error, .. } => Some(error),
            Self::Connection(e) => Some(e),
            Self::Resume(e) => Some(e),
            Self::Thread { error, .. } => Some(error),
            Self::Journal(e) => Some(e),
            Self::Discovery(e) => Some(e),
            Self::Replay(e) => Some(e),
            Self::WrongChain { .. } | Self::Placement(_) => None,
        }
    }
}

impl AppError {
    /// A failed write or create of `path`.
    pub(crate) fn file(path: &std::path::Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |error| Self::File {
            path: path.to_owned(),
            error,
        }
    }

    /// A failed start-up `call` to the node.
    pub(crate) fn node(call: &'static str) -> impl FnOnce(RpcError) -> Self {
        move |error| Self::Node { call, error }
    }
}

/// Where the run's journal goes: `--journal` first, then `[journal] url` or `path`.
pub(crate) fn journal_target(
    cfg: &crate::config::Config,
    cli: Option<&crate::journal::Target>,
) -> Result<Option<crate::journal::Target>, AppError> {
    cfg.journal.target(cli).map_err(|(key, reason)| {
        AppError::Config(crate::config::ConfigError::Invalid { key, reason })
    })
}

/// The run's thread plan from `cfg` and this machine ([`Plan::new`]); an error if `[cores]
/// strict` cannot be met. Its warnings are logged when the pipeline starts (a run that fails
/// before then says only why).
pub(crate) fn plan_threads(cfg: &crate::config::Config) -> Result<Plan, AppError> {
    let plan = Plan::new(
        cfg.cores.as_ref(),
        &cfg.pipeline,
        cfg.memory,
        &crate::placement::CpuFacts::read(),
    );
    match plan.strict_failure() {
        Some(why) => Err(AppError::Placement(why)),
        None => Ok(plan),
    }
}

/// The signer's coupon ring for `cfg` (`signer.coupons` deep) and the mint thread filling it,
/// started now so the ring fills while the command gets ready, pinned to the plan's
/// housekeeping CPU (recorded on `pins`). With `signer.coupons = 0` (or `rfc6979`) there is no
/// mint: every signature uses RFC 6979.
pub(crate) fn start_coupons(
    cfg: &crate::config::Config,
    rfc6979: bool,
    plan: &Plan,
    pins: &Arc<PinBoard>,
) -> Result<(polyarb_signer::Coupons, Option<polyarb_signer::MintHandle>), AppError> {
    let depth = if rfc6979 { 0 } else { cfg.signer.coupons };
    let (mint, coupons) = polyarb_signer::coupon_ring(depth);
    if depth == 0 {
        return Ok((coupons, None));
    }
    // Off the hot threads' CPUs when the machine has one to spare: minting is ~44 µs of curve
    // arithmetic per coupon, work a spinning stage must not wait behind.
    let cpu = plan.housekeeping;
    let pins = Arc::clone(pins);
    let init = move || {
        pins.pin("coupons", cpu);
    };
    let handle = mint
        .spawn_with("polyarb-coupons", init)
        .map_err(|error| AppError::Thread {
            name: "polyarb-coupons",
            error,
        })?;
    Ok((coupons, Some(handle)))
}

/// Creates `path` for buffered writing, if one was given.
pub(crate) fn create_optional(
    path: Option<&std::path::Path>,
) -> Result<Option<std::io::BufWriter<std::fs::File>>, AppError> {
    path.map(|p| {
        std::fs::File::create(p)
            .map(std::io::BufWriter::new)
            .map_err(AppError::file(p))
    })
    .transpose()
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<DiscoveryError> for AppError {
    fn from(e: DiscoveryError) -> Self {
        Self::Discovery(e)
    }
}

impl From<ReplayError> for AppError {
    fn from(e: ReplayError) -> Self {
        Self::Replay(e)
    }
}
