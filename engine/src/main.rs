//! `polyarb`: the arbitrage engine's command line. See `polyarb --help`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use polyarb_engine::app::{self, AppError, replay::ReplayArgs};

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
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
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

fn run(cmd: Command) -> Result<(), AppError> {
    match cmd {
        Command::Replay {
            recording,
            snapshot,
            config,
            opportunities,
            txs,
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
            };
            let summary = app::replay::replay(&args)?;
            print!("{summary}");
            Ok(())
        }
    }
}
