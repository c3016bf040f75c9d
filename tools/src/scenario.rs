//! The scenarios behind the binary: a live sample world, and the recording of the shipped sample.
//!
//! The world runs on an anvil whose blocks are [`BLOCK_INTERVAL_S`] apart in chain time and
//! whose code size limit admits the npm Algebra build; traders swap on V2 pairs, Uniswap V3 and
//! Algebra pools while a liquidity provider mints and burns ranges (`traders.rs`,
//! `liquidity.rs`).

use std::{
    fmt,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, U256};

use crate::{
    anvil::{Anvil, AnvilError, AnvilOpts},
    clmm::LAB_CODE_SIZE_LIMIT,
    config::{ConfigError, ConfigParams, render_config},
    liquidity::LpOpts,
    paths::Toolchain,
    rng::SplitMix64,
    rpc::{Rpc, RpcError},
    traders::{TradeError, TradeStats, TraderOpts, Traders},
    world::{ExecutorSpec, World, WorldError, WorldSpec, deploy_world},
};

/// The line `polyarb record` prints on stdout once its log subscription is live.
pub const SUBSCRIBED_LINE: &str = "recording: subscribed";

/// Base fee of the first block, wei (Polygon-like 30 gwei).
pub const BASE_FEE_WEI: u128 = 30_000_000_000;

/// Seconds between a world's blocks (Polygon's 2 s), whatever the wall clock: Algebra's adaptive
/// fee reads block times, so fixed steps make the same seed give the same chain.
pub const BLOCK_INTERVAL_S: u64 = 2;

/// Options of an anvil for a world: chain 137, 30 gwei base fee, and an EIP-170 code size limit
/// the npm Algebra build fits in (docs/algebra.md).
pub fn world_anvil_opts(no_mining: bool) -> AnvilOpts {
    AnvilOpts {
        no_mining,
        base_fee_wei: Some(BASE_FEE_WEI),
        extra_args: vec![
            "--code-size-limit".to_owned(),
            LAB_CODE_SIZE_LIMIT.to_string(),
        ],
        ..AnvilOpts::default()
    }
}

/// Why a scenario failed.
#[derive(Debug)]
pub enum ScenarioError {
    /// anvil did not start.
    Anvil(AnvilError),
    /// anvil's dev accounts are not the well-known ones, so no replay key.
    NoDevKey,
    /// Deployment failed.
    World(WorldError),
    /// The config could not be written.
    Config(ConfigError),
    /// Trading failed.
    Trade(TradeError),
    /// A JSON-RPC request failed.
    Rpc(RpcError),
    /// A file or process operation failed.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A polyarb run failed.
    Polyarb { what: String, status: String },
    /// The recorder did not print the subscribed line in time.
    NotSubscribed { waited: Duration, exited: bool },
    /// A polyarb run succeeded but left no output file.
    NoOutput(PathBuf),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anvil(e) => e.fmt(f),
            Self::NoDevKey => write!(f, "anvil's account 1 is not the well-known dev account"),
            Self::World(e) => write!(f, "deploy world: {e}"),
            Self::Config(e) => e.fmt(f),
            Self::Trade(e) => e.fmt(f),
            Self::Rpc(e) => e.fmt(f),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Polyarb { what, status } => write!(f, "{what} failed: {status}"),
            Self::NotSubscribed {
                waited,
                exited: true,
            } => write!(
                f,
                "recorder exited before printing `{SUBSCRIBED_LINE}` ({} ms)",
                waited.as_millis()
            ),
            Self::NotSubscribed {
                waited,
                exited: false,
            } => {
                write!(
                    f,
                    "recorder printed no `{SUBSCRIBED_LINE}` within {} ms",
                    waited.as_millis()
                )
            }
            Self::NoOutput(path) => write!(f, "polyarb wrote no {}", path.display()),
        }
    }
}

impl std::error::Error for ScenarioError {}

macro_rules! from {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for ScenarioError {
            fn from(e: $ty) -> Self {
                Self::$variant(e)
            }
        }
    )*};
}
from!(
    Anvil(AnvilError),
    World(WorldError),
    Config(ConfigError),
    Trade(TradeError),
    Rpc(RpcError)
);

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ScenarioError {
    let what = what.into();
    move |source| ScenarioError::Io { what, source }
}

/// How to bring up a sample world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldOpts {
    /// The config is written to `out_dir/config_name`.
    pub out_dir: PathBuf,
    /// File name of the config.
    pub config_name: String,
    /// Executor artifact; the toolchain's `contracts/out/...` when `None`.
    pub executor_artifact: Option<PathBuf>,
    /// Start anvil with `--no-mining` (blocks only by `evm_mine`).
    pub no_mining: bool,
}

/// A running anvil with the sample world on it and its config written.
#[derive(Debug)]
pub struct LiveWorld {
    /// The node; dropping it stops the chain.
    pub anvil: Anvil,
    /// Client for it.
    pub rpc: Rpc,
    /// What was deployed.
    pub world: World,
    /// Account the traders swap from (dev account 2, funded with every token, owner of a funded
    /// `PoolActor`).
    pub trader: Address,
    /// Account of the liquidity provider (dev account 3, owner of a funded `PoolActor`).
    pub lp: Address,
    /// The config file written.
    pub config_path: PathBuf,
    /// Time to deploy the world.
    pub deploy_time: Duration,
}

/// Raw units of every token given to the trader and to each `PoolActor`.
const TRADER_FUNDING: u128 = 10u128.pow(33);

/// Starts anvil ([`world_anvil_opts`], blocks [`BLOCK_INTERVAL_S`] apart), deploys
/// [`WorldSpec::sample_all_kinds`] (with the sample's Balancer Vault and Aave Pool) with the
/// executor owned by dev account 1 (the replay key), funds dev account 2 as trader, gives it and
/// dev account 3 (the liquidity provider) a `PoolActor` each, and writes the config.
pub fn start_world(toolchain: &Toolchain, opts: &WorldOpts) -> Result<LiveWorld, ScenarioError> {
    let anvil = Anvil::start_in(toolchain, world_anvil_opts(opts.no_mining))?;
    let rpc = anvil.rpc();
    rpc.set_block_timestamp_interval(BLOCK_INTERVAL_S)?;
    let accounts = anvil.accounts();
    let (deployer, owner, trader, lp) = match accounts {
        [a, b, c, d, ..] => (*a, *b, *c, *d),
        _ => return Err(ScenarioError::NoDevKey),
    };
    let replay_key = anvil.dev_key(1).ok_or(ScenarioError::NoDevKey)?;

    let mut spec = WorldSpec::sample_all_kinds(deployer);
    let mut executor = ExecutorSpec::new(toolchain, owner);
    if let Some(path) = &opts.executor_artifact {
        executor.artifact = path.clone();
    }
    spec.executor = Some(executor);
    spec.fund = vec![(trader, U256::from(TRADER_FUNDING))];
    spec.actors = vec![
        (trader, U256::from(TRADER_FUNDING)),
        (lp, U256::from(TRADER_FUNDING)),
    ];

    let start = Instant::now();
    let world = deploy_world(&rpc, toolchain, &spec)?;
    let deploy_time = start.elapsed();
    tracing::info!(
        tokens = world.tokens.len(),
        pairs = world.pairs.len(),
        clmm_pools = world.clmm_pools.len(),
        balancer_vault = ?world.balancer_vault(),
        aave_pool = ?world.aave_pool(),
        ms = deploy_time.as_millis() as u64,
        "world deployed"
    );

    let nonce = rpc.next_nonce(owner)?;
    let params = ConfigParams::new(
        anvil.ws_url(),
        anvil.chain_id(),
        replay_key.to_owned(),
        nonce,
    );
    let text = render_config(&world, &params)?;
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(io(format!("create {}", opts.out_dir.display())))?;
    let config_path = opts.out_dir.join(&opts.config_name);
    std::fs::write(&config_path, text).map_err(io(format!("write {}", config_path.display())))?;
    Ok(LiveWorld {
        anvil,
        rpc,
        world,
        trader,
        lp,
        config_path,
        deploy_time,
    })
}

/// How to make the sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOpts {
    /// The `polyarb` binary.
    pub polyarb: PathBuf,
    /// Where sample.toml, sample.snapshot.json and sample.rec go.
    pub out_dir: PathBuf,
    /// Swaps to record.
    pub swaps: usize,
    /// Swaps per block.
    pub swaps_per_block: usize,
    /// Trader RNG seed (the liquidity provider's is derived from it).
    pub seed: u64,
    /// Chance of a liquidity provider action in a block.
    pub lp_rate: f64,
    /// Wall-clock time between blocks while recording (see `TraderOpts::block_pause`).
    pub block_pause: Duration,
    /// Executor artifact override.
    pub executor_artifact: Option<PathBuf>,
    /// Wait for the recorder's subscribed line at most this long.
    pub subscribe_timeout: Duration,
    /// Pause after the last swap before stopping the recorder.
    pub settle: Duration,
    /// Wait for the recorder to exit after SIGINT at most this long.
    pub exit_timeout: Duration,
}

impl SampleOpts {
    /// 2,000 swaps, 4 a block, a block every 40 ms of wall-clock time, seed 137, a liquidity
    /// provider action in one block of four, 1 s settle.
    pub fn new(polyarb: PathBuf, out_dir: PathBuf) -> Self {
        Self {
            polyarb,
            out_dir,
            swaps: 2_000,
            swaps_per_block: 4,
            seed: 137,
            lp_rate: 0.25,
            block_pause: Duration::from_millis(40),
            executor_artifact: None,
            subscribe_timeout: Duration::from_secs(60),
            settle: Duration::from_secs(1),
            exit_timeout: Duration::from_secs(60),
        }
    }
}

/// What [`make_sample`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleReport {
    /// The config.
    pub config: PathBuf,
    /// The snapshot polyarb wrote.
    pub snapshot: PathBuf,
    /// The recording polyarb wrote.
    pub recording: PathBuf,
    /// Tokens deployed.
    pub tokens: usize,
    /// V2 pairs deployed.
    pub pairs: usize,
    /// Uniswap V3 and Algebra pools deployed.
    pub clmm_pools: usize,
    /// Time to deploy the world.
    pub deploy_time: Duration,
    /// The trading run.
    pub trading: TradeStats,
}

/// Makes the sample: world, config, `polyarb snapshot`, then `polyarb record` while the traders
/// swap, stopped with SIGINT.
pub fn make_sample(
    toolchain: &Toolchain,
    opts: &SampleOpts,
) -> Result<SampleReport, ScenarioError> {
    let live = start_world(
        toolchain,
        &WorldOpts {
            out_dir: opts.out_dir.clone(),
            config_name: "sample.toml".to_owned(),
            executor_artifact: opts.executor_artifact.clone(),
            no_mining: true,
        },
    )?;
    let snapshot = opts.out_dir.join("sample.snapshot.json");
    let recording = opts.out_dir.join("sample.rec");
    for stale in [&snapshot, &recording] {
        match std::fs::remove_file(stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ScenarioError::Io {
                    what: format!("remove {}", stale.display()),
                    source: e,
                });
            }
            _ => {}
        }
    }

    let status = Command::new(&opts.polyarb)
        .arg("snapshot")
        .arg("--config")
        .arg(&live.config_path)
        .arg("--out")
        .arg(&snapshot)
        .stdin(Stdio::null())
        .status()
        .map_err(io(format!("run {} snapshot", opts.polyarb.display())))?;
    if !status.success() {
        return Err(ScenarioError::Polyarb {
            what: "polyarb snapshot".to_owned(),
            status: status.to_string(),
        });
    }
    require_file(&snapshot)?;

    let mut recorder = Recorder::start(&opts.polyarb, &live.config_path, &recording)?;
    recorder.wait_subscribed(opts.subscribe_timeout)?;
    tracing::info!(
        swaps = opts.swaps,
        per_block = opts.swaps_per_block,
        "recorder subscribed, trading"
    );

    let mut lp = LpOpts::new(live.lp, lp_seed(opts.seed));
    lp.rate = opts.lp_rate;
    let mut traders = Traders::new(
        &live.rpc,
        &live.world,
        TraderOpts {
            block_pause: opts.block_pause,
            ..TraderOpts::new(live.trader, opts.seed, opts.swaps_per_block)
        }
        .with_liquidity(lp),
    )?;
    let trading = traders.run(opts.swaps)?;
    tracing::info!(
        swaps = trading.swaps,
        pool_swaps = trading.pool_swaps,
        lp_actions = trading.lp_actions,
        blocks = trading.blocks,
        ms = trading.elapsed.as_millis() as u64,
        "trading done"
    );
    thread::sleep(opts.settle);

    let status = recorder.interrupt(opts.exit_timeout)?;
    if !status.success() {
        return Err(ScenarioError::Polyarb {
            what: "polyarb record".to_owned(),
            status: status.to_string(),
        });
    }
    require_file(&recording)?;
    Ok(SampleReport {
        config: live.config_path.clone(),
        snapshot,
        recording,
        tokens: live.world.tokens.len(),
        pairs: live.world.pairs.len(),
        clmm_pools: live.world.clmm_pools.len(),
        deploy_time: live.deploy_time,
        trading,
    })
}

/// The liquidity provider's seed for trader seed `seed`: another stream of the same generator.
pub fn lp_seed(seed: u64) -> u64 {
    SplitMix64::new(seed).next_u64()
}

fn require_file(path: &Path) -> Result<(), ScenarioError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(ScenarioError::NoOutput(path.to_owned()))
    }
}

/// `polyarb record` in the background; killed on drop if still running.
struct Recorder {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Recorder {
    fn start(polyarb: &Path, config: &Path, out: &Path) -> Result<Self, ScenarioError> {
        let mut child = Command::new(polyarb)
            .arg("record")
            .arg("--config")
            .arg(config)
            .arg("--out")
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(io(format!("run {} record", polyarb.display())))?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            // Keeps reading to the end so the recorder never blocks on a full pipe.
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    tracing::info!(target: "polyarb record", "{line}");
                    // The receiver is gone after subscription; later lines are only logged.
                    let _ = tx.send(line);
                }
            });
        }
        Ok(Self { child, lines })
    }

    fn wait_subscribed(&mut self, timeout: Duration) -> Result<(), ScenarioError> {
        let start = Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.trim() == SUBSCRIBED_LINE => return Ok(()),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(ScenarioError::NotSubscribed {
                        waited: start.elapsed(),
                        exited: false,
                    });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ScenarioError::NotSubscribed {
                        waited: start.elapsed(),
                        exited: true,
                    });
                }
            }
        }
    }

    /// SIGINT (by `kill -INT <pid>`, keeping this crate free of unsafe), then waits for the exit.
    fn interrupt(&mut self, timeout: Duration) -> Result<ExitStatus, ScenarioError> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .map_err(io("run kill -INT"))?;
        if !status.success() {
            return Err(ScenarioError::Polyarb {
                what: format!("kill -INT {pid}"),
                status: status.to_string(),
            });
        }
        let start = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io("wait for polyarb record"))?
            {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                return Err(ScenarioError::Polyarb {
                    what: "polyarb record".to_owned(),
                    status: format!("still running {} ms after SIGINT", timeout.as_millis()),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
