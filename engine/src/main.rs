//! `polyarb`: the arbitrage engine's command line. See `polyarb --help`.
#![forbid(unsafe_code)]

use std::{
    fmt,
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, atomic::AtomicBool},
};

use clap::{Parser, Subcommand};
use polyarb_engine::app::{self, AppError, replay::ReplayArgs};
use polyarb_engine::journal::Target;

/// Low-latency DEX arbitrage for Polygon: reads pool logs from a co-located node, searches
/// cycles in exact integer math, signs executor transactions and sends them back.
///
/// Logs go to stderr through `tracing`; set RUST_LOG (e.g. RUST_LOG=debug) to change the level.
#[derive(Debug, Parser)]
#[command(name = "polyarb", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run live: connect to the node, discover pools, and send a signed executor transaction
    /// for every profitable cycle until SIGINT/SIGTERM. Needs the key (signer.key_env or
    /// signer.key_file) and signer.executor.
    Run {
        /// Configuration file.
        #[arg(long, default_value = "polyarb.toml")]
        config: PathBuf,
        /// Also write every opportunity as one JSON line to this file (flushed per line).
        #[arg(long)]
        opportunities: Option<PathBuf>,
        /// Stop after this many seconds instead of waiting for a signal.
        #[arg(long)]
        max_runtime_s: Option<u64>,
        /// On exit, and on SIGUSR1 while running, write the engine's tables (every pool as its
        /// logs left it) as a snapshot here (docs/formats.md).
        #[arg(long)]
        save_snapshot: Option<PathBuf>,
        /// Start from a snapshot a run saved (--save-snapshot) and backfill the blocks since
        /// (at most node.max_backfill_blocks), instead of discovering every factory's pools.
        /// Pools created since the snapshot are not seen until a run without it.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Write the execution journal to this SQLite file (created if missing; a run is
        /// added to an existing one) or PostgreSQL database (a `postgresql://` URL). Default:
        /// the config's `[journal] path` or `url`, if any.
        #[arg(long, value_parser = Target::parse)]
        journal: Option<Target>,
    },
    /// Record every websocket payload (Sync logs and new heads) with its receive time to a
    /// versioned file (docs/recording.md) until SIGINT/SIGTERM. Prints `recording: subscribed`
    /// once the subscriptions are live.
    Record {
        /// Configuration file (node endpoint).
        #[arg(long, default_value = "polyarb.toml")]
        config: PathBuf,
        /// Recording to write.
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many payloads.
        #[arg(long)]
        max_messages: Option<u64>,
        /// How the recording is written: auto (io-uring if it can be set up, else plain
        /// writes), plain, or uring (fail if io-uring cannot be set up). The choice is logged
        /// and printed in the summary.
        #[arg(long, default_value = "auto", value_name = "auto|plain|uring")]
        writer: app::record::WriterChoice,
    },
    /// Discover the configured factories' pools at the node's current block and write a pool
    /// snapshot (docs/formats.md) that a replay can start from.
    Snapshot {
        /// Configuration file (node endpoint, factories, tokens).
        #[arg(long, default_value = "polyarb.toml")]
        config: PathBuf,
        /// Snapshot to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make and read encrypted keystores (Web3 Secret Storage v3, as geth and `cast wallet`
    /// write them) for `signer.keystore`. Passwords come from --password-file or a prompt on
    /// the terminal, never from an argument.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Replay a recording through the decoder, engine and signer (transactions go to a sink)
    /// and print what was found and the latency table. Deterministic.
    ///
    /// With no argument, replays the shipped sample (data/sample.rec, its snapshot and config).
    Replay {
        /// Recording to replay [default: data/sample.rec].
        recording: Option<PathBuf>,
        /// Pool snapshot the recording starts from [default: the recording's name with
        /// .snapshot.json instead of .rec].
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Configuration [default: the recording's name with .toml instead of .rec].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write every opportunity as one JSON line to this file.
        #[arg(long)]
        opportunities: Option<PathBuf>,
        /// Write every signed transaction as one 0x-hex line to this file.
        #[arg(long)]
        txs: Option<PathBuf>,
        /// Replay speed relative to the recording: payloads are delivered at their recorded
        /// pace divided by this (2 = twice as fast). 0 = as fast as possible, a throughput test
        /// whose latencies include queueing.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Sign with RFC 6979 only, no nonce coupons: the --txs file is then byte-identical on
        /// every run (with coupons only the signatures differ).
        #[arg(long)]
        rfc6979: bool,
        /// Write the execution journal to this SQLite file (created if missing; a run is
        /// added to an existing one) or PostgreSQL database (a `postgresql://` URL). Default:
        /// the config's `[journal] path` or `url`, if any.
        #[arg(long, value_parser = Target::parse)]
        journal: Option<Target>,
    },
    /// Print realised profit and loss from an execution journal: transactions sent, succeeded
    /// and reverted, gas spent, realised profit net of gas, prediction accuracy, revert reasons,
    /// and the same by day, funding source, hop count and pool kinds (docs/journal.md).
    Report {
        /// The journal a run or replay wrote with --journal: a SQLite file or a `postgresql://`
        /// URL.
        #[arg(long, value_parser = Target::parse)]
        journal: Target,
        /// Only this run (its number in the journal's `runs` table); default: every run.
        #[arg(long)]
        run: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create FILE holding a fresh random key; prints its address. Never overwrites.
    New {
        /// The keystore to create.
        file: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        strength: StrengthArgs,
    },
    /// Create FILE holding the raw key read from standard input (64 hex digits, 0x optional);
    /// prints its address. Never overwrites.
    Import {
        /// The keystore to create.
        file: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        strength: StrengthArgs,
    },
    /// Decrypt FILE and print the checksummed address it signs for.
    Address {
        /// The keystore.
        file: PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Debug, clap::Args)]
struct PasswordArgs {
    /// Read the password from this file (private to its owner; the final line ending is not
    /// part of it) instead of asking on the terminal.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

impl PasswordArgs {
    fn source(&self) -> app::keys::PasswordSource<'_> {
        match &self.password_file {
            Some(p) => app::keys::PasswordSource::File(p),
            None => app::keys::PasswordSource::Prompt,
        }
    }
}

#[derive(Debug, clap::Args)]
struct StrengthArgs {
    /// Key derivation: scrypt with geth's standard cost (n = 2^18, about 1 s and 256 MiB to
    /// open) or its light cost (n = 2^12), or PBKDF2-SHA256 with 262,144 rounds.
    #[arg(long, default_value = "standard", value_name = "standard|light|pbkdf2")]
    kdf: KdfChoice,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KdfChoice {
    Standard,
    Light,
    Pbkdf2,
}

impl KdfChoice {
    fn kdf(self) -> polyarb_signer::Kdf {
        match self {
            Self::Standard => polyarb_signer::Kdf::STANDARD,
            Self::Light => polyarb_signer::Kdf::LIGHT,
            Self::Pbkdf2 => polyarb_signer::Kdf::PBKDF2_DEFAULT,
        }
    }
}

fn keys(cmd: KeysCommand) -> Result<(), Failure> {
    use app::keys::{keys_address, keys_import, keys_new, password};
    let keys_err = Failure::Keys;
    let address = match cmd {
        KeysCommand::New {
            file,
            password: p,
            strength,
        } => {
            let pw = password(p.source(), true).map_err(keys_err)?;
            keys_new(&file, &pw, strength.kdf.kdf()).map_err(keys_err)?
        }
        KeysCommand::Import {
            file,
            password: p,
            strength,
        } => {
            // A prompt reads the terminal itself, not standard input, so the key can come
            // through a pipe.
            let pw = password(p.source(), true).map_err(keys_err)?;
            keys_import(&file, io::stdin().lock(), &pw, strength.kdf.kdf()).map_err(keys_err)?
        }
        KeysCommand::Address { file, password: p } => {
            let pw = password(p.source(), false).map_err(keys_err)?;
            keys_address(&file, &pw).map_err(keys_err)?
        }
    };
    // `Address`'s Display is the EIP-55 checksummed form.
    emit(&format!("{address}\n"));
    Ok(())
}

/// Writes `text` to standard output and flushes it. A reader that went away (`polyarb report |
/// head`) is not an error worth a panic: the rest is dropped, quietly.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        tracing::error!("cannot write to standard output: {e}");
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a human at a terminal, never into log files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Why the binary failed.
#[derive(Debug)]
enum Failure {
    /// The SIGINT/SIGTERM handlers could not be installed.
    Signals(io::Error),
    /// The command failed.
    App(AppError),
    /// A `keys` command failed.
    Keys(app::keys::KeysError),
    /// `report` could not read its journal.
    Pnl(polyarb_engine::journal::pnl::PnlError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signals(e) => write!(f, "cannot install the signal handlers: {e}"),
            Self::App(e) => write!(f, "{e}"),
            Self::Keys(e) => write!(f, "{e}"),
            Self::Pnl(e) => write!(f, "{e}"),
        }
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

/// Stops on SIGINT or SIGTERM: the returned flag is set, and the command winds down cleanly.
/// Process-wide handlers are the binary's business, not the library's.
fn stop_on_signals() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(Failure::Signals)?;
    }
    Ok(stop)
}

/// SIGUSR1 asks a live run to write its snapshot and go on: the returned flag is set.
fn export_on_sigusr1() -> Result<Arc<AtomicBool>, Failure> {
    flag_on(signal_hook::consts::SIGUSR1)
}

/// A flag `signal` sets (SIGUSR2: stop sending, or resume; docs/risk.md).
fn flag_on(signal: i32) -> Result<Arc<AtomicBool>, Failure> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal, Arc::clone(&flag)).map_err(Failure::Signals)?;
    Ok(flag)
}

fn run(cmd: Command) -> Result<(), Failure> {
    match cmd {
        Command::Keys { command } => keys(command),
        Command::Report { journal, run } => {
            let report =
                polyarb_engine::journal::pnl::pnl_report(&journal, run).map_err(Failure::Pnl)?;
            emit(&report.to_string());
            Ok(())
        }
        Command::Run {
            config,
            opportunities,
            max_runtime_s,
            save_snapshot,
            resume,
            journal,
        } => {
            let args = app::live::RunArgs {
                config,
                opportunities,
                max_runtime: max_runtime_s.map(std::time::Duration::from_secs),
                save_snapshot,
                resume,
                journal,
                export_now: Some(export_on_sigusr1()?),
                stop_signal: Some(flag_on(signal_hook::consts::SIGUSR2)?),
            };
            let summary = app::live::run_cmd(&args, stop_on_signals()?)?;
            emit(&summary.to_string());
            match summary.failure {
                Some(e) => Err(AppError::Connection(e).into()),
                None => Ok(()),
            }
        }
        Command::Record {
            config,
            out,
            max_messages,
            writer,
        } => {
            let stop = stop_on_signals()?;
            let summary =
                app::record::record_cmd(&config, &out, max_messages, writer, &stop, || {
                    // The scenario tool waits for this line before trading.
                    emit("recording: subscribed\n");
                    let _ = io::stdout().flush();
                })?;
            emit(&summary.to_string());
            Ok(())
        }
        Command::Snapshot { config, out } => {
            let stop = stop_on_signals()?;
            emit(&app::live::snapshot_cmd(&config, &out, &stop)?.to_string());
            Ok(())
        }
        Command::Replay {
            recording,
            snapshot,
            config,
            opportunities,
            speed,
            txs,
            rfc6979,
            journal,
        } => {
            let recording =
                recording.unwrap_or_else(|| app::replay::default_data_dir().join("sample.rec"));
            let sibling = |ext: &str| {
                let mut p = recording.clone();
                p.set_extension(ext);
                p
            };
            let args = ReplayArgs {
                snapshot: snapshot.unwrap_or_else(|| sibling("snapshot.json")),
                config: config.unwrap_or_else(|| sibling("toml")),
                recording,
                opportunities,
                txs,
                speed,
                rfc6979,
                journal,
            };
            let summary = app::replay::replay(&args)?;
            emit(&summary.to_string());
            Ok(())
        }
    }
}
