//! `polyarb-tools`: developer tooling (see `--help`).
#![forbid(unsafe_code)]

use std::{
    io::{self, Write},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use clap::{Args, Parser, Subcommand};
use polyarb_tools::{
    LpOpts, RpcError, SampleOpts, ScenarioError, SplitMix64, Toolchain, TradeError, TraderOpts,
    Traders, WorldOpts,
    faultproxy::{Fault, FaultKind, FaultProxy, upstream_addr},
    lp_seed, make_sample, start_world, wire,
};
use signal_hook::consts::{SIGINT, SIGTERM};

#[derive(Debug, Parser)]
#[command(about = "polyarb developer tooling: anvil test worlds and the recorded sample")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Deploy the sample world on anvil, snapshot it and record >= 2,000 swaps (and liquidity
    /// provider actions) with `polyarb`.
    MakeSample {
        /// The polyarb binary.
        #[arg(long)]
        polyarb: PathBuf,
        /// Output folder (sample.toml, sample.snapshot.json, sample.rec).
        #[arg(long, default_value = "data")]
        out_dir: PathBuf,
        /// Number of swaps.
        #[arg(long, default_value_t = 2_000)]
        swaps: usize,
        /// Swaps per block, 1 to 5,000: on distinct pairs and pools while the world has enough,
        /// then venues repeat.
        #[arg(long, default_value_t = 4, value_parser = swaps_per_block())]
        swaps_per_block: usize,
        /// Trader RNG seed (the liquidity provider's is derived from it).
        #[arg(long, default_value_t = 137)]
        seed: u64,
        /// Chance of a liquidity provider action (mint or burn of a range) in a block.
        #[arg(long, default_value_t = 0.25)]
        lp_rate: f64,
        /// Wall-clock milliseconds between blocks while recording (0: as fast as anvil mines).
        #[arg(long, default_value_t = 40)]
        block_ms: u64,
        /// Executor artifact (default: contracts/out/Executor.sol/Executor.json).
        #[arg(long)]
        executor_artifact: Option<PathBuf>,
    },
    /// Start anvil, deploy the sample world, write its config and print the websocket URL.
    World {
        /// Output folder for world.toml.
        #[arg(long, default_value = "data")]
        out_dir: PathBuf,
        /// Keep anvil running until interrupted.
        #[arg(long)]
        keep_running: bool,
        /// With --keep-running: keep swapping, one block of this many swaps (1 to 5,000; beyond
        /// the world's 63 pairs and pools venues repeat) every --interval-ms.
        #[arg(long, value_parser = swaps_per_block())]
        trade: Option<usize>,
        /// Pause between trading blocks (from one block mined to the next one's first swap), ms.
        #[arg(long, default_value_t = 2_000)]
        interval_ms: u64,
        /// Start anvil with --no-mining (blocks only by evm_mine; --trade mines its own).
        #[arg(long)]
        no_mining: bool,
        /// Executor artifact (default: contracts/out/Executor.sol/Executor.json).
        #[arg(long)]
        executor_artifact: Option<PathBuf>,
    },
    /// Relay websocket JSON-RPC between a node and polyarb, injecting faults (docs/faultproxy.md).
    Faultproxy(FaultproxyArgs),
    /// Wire-to-wire latency: play a recording to `polyarb run --resume` over loopback TCP at a
    /// set rate and time the signed transactions coming back (docs/wire.md).
    Wire(WireArgs),
}

#[derive(Debug, Args)]
struct WireArgs {
    /// The polyarb binary (default: target/release/polyarb of this workspace).
    #[arg(long)]
    polyarb: Option<PathBuf>,
    /// The config the run's config is made from (ws_url and batch_quiet_us replaced).
    #[arg(long, default_value = "data/sample.toml")]
    config: PathBuf,
    /// The snapshot polyarb resumes from.
    #[arg(long, default_value = "data/sample.snapshot.json")]
    snapshot: PathBuf,
    /// The recording played.
    #[arg(long, default_value = "data/sample.rec")]
    recording: PathBuf,
    /// Logs a second (each block's notifications written together when its turn comes).
    #[arg(long, conflicts_with = "speed")]
    rate: Option<f64>,
    /// Play at the recorded pacing, this many times as fast (instead of --rate).
    #[arg(long)]
    speed: Option<f64>,
    /// Play at most this many seconds (the sample's 2,435 logs may end first).
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Output folder.
    #[arg(long, default_value = "wire-out")]
    out: PathBuf,
    /// Pin the server's threads to this logical core (default: unpinned).
    #[arg(long)]
    core: Option<usize>,
    /// polyarb's node.batch_quiet_us for the run, µs.
    #[arg(long, default_value_t = 100)]
    batch_quiet_us: u64,
    /// Pause after polyarb read its nonce before playing, ms.
    #[arg(long, default_value_t = 1_000)]
    warmup_ms: u64,
    /// After the last payload, SIGINT once no transaction came for this long (at most 2 min), ms.
    #[arg(long, default_value_t = 1_000)]
    drain_ms: u64,
    /// Write each block's notifications in one write (default: one write per notification).
    #[arg(long)]
    one_write_per_burst: bool,
    /// Search the highest rate whose wire-to-wire p99 stays under --budget-us: double from
    /// --rate (default 250 logs/s), then bisect.
    #[arg(long, requires = "budget_us")]
    find_max: bool,
    /// The p99 budget of --find-max, µs.
    #[arg(long)]
    budget_us: Option<f64>,
    /// Bisection steps of --find-max after the doubling.
    #[arg(long, default_value_t = 3)]
    bisect: u32,
    /// Highest rate --find-max tries, logs/s.
    #[arg(long, default_value_t = 1_000_000.0)]
    max_rate: f64,
}

#[derive(Debug, Args)]
struct FaultproxyArgs {
    /// The node's websocket URL (loopback only).
    #[arg(long)]
    upstream: String,
    /// Where to listen (loopback only; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_runtime_s: u64,
    /// Chaos mode: inject a random fault, from this seed, every --chaos-every-ms.
    #[arg(long)]
    chaos_seed: Option<u64>,
    /// Milliseconds between chaos faults.
    #[arg(long, default_value_t = 5_000)]
    chaos_every_ms: u64,
    /// Comma-separated fault kinds chaos picks from (default: all of them).
    #[arg(long, value_delimiter = ',')]
    chaos_faults: Vec<FaultKind>,
    /// The method that chaos's request faults (lose-answer, null-id-error, reject) aim at.
    #[arg(long, default_value = "eth_call")]
    chaos_method: String,
}

/// Swaps a block: 1 to [`TraderOpts::MAX_SWAPS_PER_BLOCK`], refused before anvil starts.
fn swaps_per_block() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..=TraderOpts::MAX_SWAPS_PER_BLOCK as u64)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), ScenarioError> {
    let toolchain = Toolchain::locate();
    match cli.command {
        Cmd::Faultproxy(args) => faultproxy(&args).map_err(|source| ScenarioError::Io {
            what: "faultproxy".to_owned(),
            source,
        }),
        Cmd::Wire(args) => wire(&args, &toolchain).map_err(|e| ScenarioError::Io {
            what: "wire".to_owned(),
            source: io::Error::other(e.to_string()),
        }),
        Cmd::MakeSample {
            polyarb,
            out_dir,
            swaps,
            swaps_per_block,
            seed,
            lp_rate,
            block_ms,
            executor_artifact,
        } => {
            let mut opts = SampleOpts::new(polyarb, out_dir);
            opts.swaps = swaps;
            opts.swaps_per_block = swaps_per_block;
            opts.seed = seed;
            opts.lp_rate = lp_rate;
            opts.block_pause = std::time::Duration::from_millis(block_ms);
            opts.executor_artifact = executor_artifact;
            let report = make_sample(&toolchain, &opts)?;
            println!(
                "sample: {} tokens, {} pairs, {} v3/algebra pools, deployed in {} ms; {} swaps \
                 ({} on v3/algebra) and {} liquidity actions in {} blocks in {} ms",
                report.tokens,
                report.pairs,
                report.clmm_pools,
                report.deploy_time.as_millis(),
                report.trading.swaps,
                report.trading.pool_swaps,
                report.trading.lp_actions,
                report.trading.blocks,
                report.trading.elapsed.as_millis()
            );
            println!("config {}", report.config.display());
            println!("snapshot {}", report.snapshot.display());
            println!("recording {}", report.recording.display());
            Ok(())
        }
        Cmd::World {
            out_dir,
            keep_running,
            trade,
            interval_ms,
            no_mining,
            executor_artifact,
        } => {
            let live = start_world(
                &toolchain,
                &WorldOpts {
                    out_dir,
                    config_name: "world.toml".to_owned(),
                    executor_artifact,
                    no_mining,
                },
            )?;
            println!("{}", live.anvil.ws_url());
            println!("config {}", live.config_path.display());
            if !keep_running {
                return Ok(());
            }
            // A flag, not the default action, so `live` is dropped and anvil killed on the way out.
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [SIGINT, SIGTERM] {
                signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|source| {
                    ScenarioError::Io {
                        what: "install signal handler".to_owned(),
                        source,
                    }
                })?;
            }
            tracing::info!(pid = live.anvil.pid(), "anvil running; Ctrl-C stops it");
            let mut traders = match trade {
                Some(per_block) => Some(Traders::new(
                    &live.rpc,
                    &live.world,
                    TraderOpts::new(live.trader, 1, per_block)
                        .with_liquidity(LpOpts::new(live.lp, lp_seed(1))),
                )?),
                None => None,
            };
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let (Some(traders), Some(per_block)) = (traders.as_mut(), trade)
                    && Instant::now() >= next
                {
                    let started = Instant::now();
                    match traders.block(per_block) {
                        Ok(swaps) => tracing::info!(
                            swaps = swaps.len(),
                            block = swaps.first().map(|s| s.block),
                            ms = started.elapsed().as_millis() as u64,
                            "traded"
                        ),
                        // An arbitrageur (polyarb, run against this world) may move a pool in
                        // the block before a trade priced on the old state lands: that trade
                        // reverts, the block is mined anyway, and trading goes on.
                        Err(TradeError::Rpc(e @ RpcError::Reverted { .. })) => {
                            tracing::warn!(error = %e, "a trade reverted; trading on");
                        }
                        // A terminal's Ctrl-C reaches anvil too (same process group), and with
                        // big blocks it mostly lands while one is being sent or read back.
                        Err(e) if stop.load(Ordering::Relaxed) => {
                            tracing::info!(error = %e, "stopped during a block");
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    next = Instant::now() + Duration::from_millis(interval_ms);
                }
                thread::sleep(Duration::from_millis(50));
            }
            tracing::info!("stopping anvil");
            Ok(())
        }
    }
}

/// Chaos injects no more while this many faults wait to be used up.
const CHAOS_MAX_QUEUED: usize = 4;

/// Runs the fault proxy until --max-runtime-s is over or SIGINT/SIGTERM, with chaos if asked;
/// prints the listening line first and a summary of what it did last.
fn faultproxy(args: &FaultproxyArgs) -> io::Result<()> {
    let upstream = upstream_addr(&args.upstream).map_err(io::Error::other)?;
    let mut proxy = FaultProxy::start(
        upstream,
        args.listen,
        Duration::from_secs(args.max_runtime_s),
    )
    .map_err(io::Error::other)?;
    {
        // Flushed at once: a test harness waits for this line to learn the port.
        let mut out = io::stdout().lock();
        writeln!(out, "faultproxy listening on {}", proxy.local_addr())?;
        out.flush()?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let kinds = if args.chaos_faults.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        args.chaos_faults.clone()
    };
    let mut chaos = args.chaos_seed.map(SplitMix64::new);
    let every = Duration::from_millis(args.chaos_every_ms.max(1));
    let mut next = Instant::now() + every;
    while proxy.is_running() && !stop.load(Ordering::Relaxed) {
        if let Some(rng) = chaos.as_mut()
            && Instant::now() >= next
        {
            let kind = kinds[rng.below(kinds.len() as u64) as usize];
            let fault = Fault::random(kind, rng, &args.chaos_method);
            // Without a client nothing uses faults up; a few queued are enough to greet the
            // next one, a pile of them would all land on it at once.
            if proxy.report().pending.len() < CHAOS_MAX_QUEUED {
                tracing::info!("chaos: {fault}");
                proxy.inject(fault);
            }
            next += every;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let report = proxy.stop();
    println!("faultproxy stopped\n{report}");
    Ok(())
}

/// `polyarb-tools wire`: one run, or the rate search; prints the summary in words.
fn wire(args: &WireArgs, toolchain: &Toolchain) -> Result<(), wire::WireError> {
    let pacing = match (args.speed, args.rate) {
        (Some(x), _) if x > 0.0 => wire::Pacing::Recorded(x),
        (Some(x), _) => {
            return Err(wire::WireError::Input {
                what: format!("--speed {x}: must be above 0"),
            });
        }
        (None, Some(r)) if r > 0.0 => wire::Pacing::LogsPerSecond(r),
        (None, Some(r)) => {
            return Err(wire::WireError::Input {
                what: format!("--rate {r}: must be above 0 logs/s"),
            });
        }
        (None, None) => wire::Pacing::LogsPerSecond(250.0),
    };
    let opts = wire::WireOpts {
        polyarb: args
            .polyarb
            .clone()
            .unwrap_or_else(|| wire::polyarb_binary(toolchain.root(), "release")),
        config: args.config.clone(),
        snapshot: args.snapshot.clone(),
        recording: args.recording.clone(),
        pacing,
        seconds: args.seconds,
        out: args.out.clone(),
        core: args.core,
        batch_quiet_us: args.batch_quiet_us,
        warmup: Duration::from_millis(args.warmup_ms),
        drain: Duration::from_millis(args.drain_ms),
        one_write_per_burst: args.one_write_per_burst,
    };
    if !opts.polyarb.is_file() {
        return Err(wire::WireError::Input {
            what: format!(
                "no polyarb binary at {}: build it (cargo build --release -p polyarb-engine) or pass --polyarb",
                opts.polyarb.display()
            ),
        });
    }
    let notes = wire::load_notifications(&opts.recording)?;
    if args.find_max {
        let start = match pacing {
            wire::Pacing::LogsPerSecond(r) => r,
            wire::Pacing::Recorded(_) => {
                return Err(wire::WireError::Input {
                    what: "--find-max steps --rate, not --speed".to_owned(),
                });
            }
        };
        let budget = args.budget_us.unwrap_or(f64::INFINITY);
        let search = wire::find_max(&opts, &notes, start, budget, args.bisect, args.max_rate, 1)?;
        let text = std::fs::read_to_string(opts.out.join("search.txt")).unwrap_or_default();
        print!("{text}");
        if search.max_rate.is_none() {
            tracing::warn!("no rate held the budget");
        }
    } else {
        let summary = wire::run_once(&opts, &notes)?;
        print!("{}", wire::summary_text(&summary));
        println!("files in {}", opts.out.display());
        if !summary.problems.is_empty() {
            return Err(wire::WireError::Input {
                what: format!(
                    "the run had {} problem(s), listed above",
                    summary.problems.len()
                ),
            });
        }
    }
    Ok(())
}
