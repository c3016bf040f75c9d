//! The one configuration file (TOML) and its environment overrides.
//!
//! Keys are documented in `docs/config.md`; unknown keys are rejected so a typo is an error, not
//! a silently ignored setting. Secrets and endpoints can come from the environment:
//!
//! | variable | overrides |
//! |---|---|
//! | `POLYARB_WS_URL` | `node.ws_url` |
//! | `POLYARB_EXECUTOR` | `signer.executor` |
//! | `POLYARB_KEY_FILE` | `signer.key_file` |
//! | `POLYARB_KEYSTORE` | `signer.keystore` |
//! | `POLYARB_PASSWORD_FILE` | `signer.password_file` |
//! | `POLYARB_JOURNAL_URL` | `journal.url` |
//! | the variable named by `signer.key_env` (default `POLYARB_PRIVATE_KEY`) | the signing key itself |

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use serde::Deserialize;

use polyarb_core::{DexSpec, Funding, FundingSet, PoolKind, TokenSpec};

pub use crate::placement::{Mode, WaitPolicy};

/// Default name of the environment variable holding the signing key (hex).
pub const DEFAULT_KEY_ENV: &str = "POLYARB_PRIVATE_KEY";

/// Why a configuration could not be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML for our schema (unknown key, wrong type, missing key).
    Parse { path: PathBuf, message: String },
    /// A value is present but unusable.
    Invalid { key: &'static str, reason: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "cannot read config {}: {source}", path.display())
            }
            Self::Parse { path, message } => {
                write!(f, "bad config {}: {}", path.display(), message.trim_end())
            }
            Self::Invalid { key, reason } => write!(f, "bad config value `{key}`: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `[node]`: where the node is.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Websocket JSON-RPC endpoint, `ws://host:port[/path]`. Env: `POLYARB_WS_URL`.
    pub ws_url: String,
    /// More endpoints read at once during a live run: the first to deliver a log wins, later
    /// copies are skipped. Start-up reads the market from `ws_url` alone.
    #[serde(default)]
    pub extra_ws_urls: Vec<String>,
    /// Refuse to run if the node reports another chain id.
    #[serde(default)]
    pub expect_chain_id: Option<u64>,
    /// Connect + handshake timeout, ms.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Timeout for one start-up RPC round trip (discovery, nonce, chain id), ms.
    #[serde(default = "default_rpc_timeout_ms")]
    pub rpc_timeout_ms: u64,
    /// How many `eth_call`s pool discovery keeps in flight at once.
    #[serde(default = "default_discovery_batch")]
    pub discovery_batch: usize,
    /// Blocks per `eth_getLogs` request when concentrated-liquidity discovery scans factory
    /// creation logs. A range the node refuses as too large is halved and asked again, and the
    /// smaller size is kept for the rest of the scan.
    #[serde(default = "default_logs_chunk_blocks")]
    pub logs_chunk_blocks: u64,
    /// How many `eth_getLogs` requests that scan keeps in flight at once.
    #[serde(default = "default_logs_in_flight")]
    pub logs_in_flight: usize,
    /// First wait before reconnecting after the connection dropped, ms; doubled per failed
    /// attempt up to `reconnect_max_ms`, each wait drawn between half and all of it (jitter).
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// Longest wait between reconnect attempts, ms.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// No new head for this long (ms) while connected: warn, stop sending and reconnect.
    /// 0 turns the watchdog off (a dev node that mines only on demand).
    #[serde(default = "default_max_head_age_ms")]
    pub max_head_age_ms: u64,
    /// Most blocks a reconnect backfills with `eth_getLogs`; a longer outage ends the run (the
    /// tables would need a fresh discovery).
    #[serde(default = "default_max_backfill_blocks")]
    pub max_backfill_blocks: u64,
    /// A drained socket ends a batch (the engine searches) only once no payload has come for
    /// this long, µs: a node streams a block's logs one notification at a time, and the socket
    /// drains between them. 0: every drain ends a batch. Detection waits this long after a
    /// block's last log.
    #[serde(default = "default_batch_quiet_us")]
    pub batch_quiet_us: u64,
    /// Start-up (connect, discovery or resume, nonce) must finish within this, ms, however
    /// steadily the node answers; SIGINT/SIGTERM interrupt it at any time.
    #[serde(default = "default_startup_timeout_ms")]
    pub startup_timeout_ms: u64,
}

impl NodeConfig {
    /// `batch_quiet_us` in ns: the live port and a replay end a batch at a gap this long.
    pub fn batch_quiet_ns(&self) -> u64 {
        self.batch_quiet_us.saturating_mul(1_000)
    }
}

fn default_batch_quiet_us() -> u64 {
    // Measured on anvil with 1,000 swaps a block on a loaded two-core machine: a block's logs
    // came with gaps of up to 4.5 ms, and searching at such a gap sent routes priced on half a
    // block (a third of them reverted); 5 ms removed them all (docs/live.md).
    5_000
}

fn default_startup_timeout_ms() -> u64 {
    // A full Polygon discovery with Algebra fee models runs for minutes, not an hour.
    1_800_000
}

fn default_reconnect_min_ms() -> u64 {
    100
}
fn default_reconnect_max_ms() -> u64 {
    10_000
}
fn default_max_head_age_ms() -> u64 {
    // Polygon mines every 2 s: fifteen missed blocks is a stalled feed, not a slow one.
    30_000
}
fn default_max_backfill_blocks() -> u64 {
    // An hour of 2-second blocks.
    1_800
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_rpc_timeout_ms() -> u64 {
    30_000
}
fn default_discovery_batch() -> usize {
    512
}
fn default_logs_chunk_blocks() -> u64 {
    10_000
}
fn default_logs_in_flight() -> usize {
    4
}

/// `[signer]`: who signs and what is called.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// Name of the environment variable that holds the key as hex.
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// A file holding the key as hex; used when set (env `POLYARB_KEY_FILE` overrides).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// An encrypted keystore (Web3 Secret Storage v3, as geth and `cast wallet` write); used
    /// before `key_file` and `key_env` when set. Env: `POLYARB_KEYSTORE`.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    /// The keystore's password file (private to its owner; its content without the final
    /// line ending). Unset: asked on the terminal. Env: `POLYARB_PASSWORD_FILE`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The deployed executor contract. Env: `POLYARB_EXECUTOR`.
    #[serde(default)]
    pub executor: Option<Address>,
    /// Precomputed nonce coupons kept ready: the depth of the ring a background thread fills.
    /// 0 signs every transaction with RFC 6979.
    #[serde(default = "default_coupons")]
    pub coupons: usize,
    /// The transaction type sent: EIP-1559 (type 2) or legacy EIP-155.
    #[serde(default)]
    pub tx_type: TxTypeSetting,
    /// More sending accounts (`[[signer.senders]]`), each with its own nonce sequence: routes
    /// go to the accounts in turn, so a burst is not serialised on one nonce. Each needs the
    /// executor's executor role and gas money.
    #[serde(default)]
    pub senders: Vec<SenderKey>,
}

/// `[[signer.senders]]`: where one more sending account's key comes from; exactly one of
/// `keystore`, `key_file` and `key_env`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderKey {
    /// An encrypted keystore.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    /// The keystore's password file; unset: asked on the terminal.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A file holding the key as hex (private to its owner).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the key as hex.
    #[serde(default)]
    pub key_env: Option<String>,
}

/// `signer.tx_type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxTypeSetting {
    /// `"eip1559"`: type 2 with an empty access list.
    #[default]
    Eip1559,
    /// `"legacy"`: EIP-155, gas price = the max fee bid.
    Legacy,
}

impl TxTypeSetting {
    /// The signer's transaction type.
    pub fn tx_type(self) -> polyarb_signer::TxType {
        match self {
            Self::Eip1559 => polyarb_signer::TxType::Eip1559,
            Self::Legacy => polyarb_signer::TxType::Legacy,
        }
    }
}

/// Largest `signer.coupons`: a coupon is 72 bytes, so the ring stays under 80 MB.
pub const MAX_COUPONS: usize = 1 << 20;

fn default_key_env() -> String {
    DEFAULT_KEY_ENV.to_owned()
}

/// A burst of opportunities several blocks long; the mint refills some 22,000 a second per
/// core (docs/benchmarks.md).
fn default_coupons() -> usize {
    4096
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            key_env: default_key_env(),
            key_file: None,
            keystore: None,
            password_file: None,
            executor: None,
            coupons: default_coupons(),
            tx_type: TxTypeSetting::default(),
            senders: Vec::new(),
        }
    }
}

/// `[replay]`: what replay signs with, since there is no node to ask.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// Chain id replay signs for.
    #[serde(default = "default_chain_id")]
    pub chain_id: u64,
    /// Hex key replay signs with. Only ever a public test key: replay output is not sent anywhere.
    #[serde(default)]
    pub key: Option<String>,
    /// First nonce replay uses.
    #[serde(default)]
    pub nonce: u64,
}

fn default_chain_id() -> u64 {
    137
}

/// `[gas]`: what a route is budgeted and bid.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GasConfig {
    /// Priority fee bid, wei per gas.
    pub tip_wei: u128,
    /// Gas units budgeted for an execute call regardless of hops.
    pub gas_base: u32,
    /// Gas units budgeted per Uniswap-V2-style hop.
    pub gas_per_hop: u32,
    /// Gas units budgeted per Uniswap V3 hop (swap, callback, transfers), before ticks.
    #[serde(default = "default_gas_per_v3_hop")]
    pub gas_per_v3_hop: u32,
    /// Gas units budgeted per Algebra hop, before ticks.
    #[serde(default = "default_gas_per_algebra_hop")]
    pub gas_per_algebra_hop: u32,
    /// Gas units budgeted per initialized tick a Uniswap V3 hop crosses.
    #[serde(default = "default_gas_per_v3_tick")]
    pub gas_per_v3_tick: u32,
    /// Gas units budgeted per initialized tick an Algebra hop crosses.
    #[serde(default = "default_gas_per_algebra_tick")]
    pub gas_per_algebra_tick: u32,
    /// `maxFeePerGas = base_fee * max_fee_multiplier + tip`, so the tx survives base-fee rises.
    #[serde(default = "default_max_fee_multiplier")]
    pub max_fee_multiplier: u32,
    /// The transaction's gas limit is the budget (`gas_base + gas_per_hop · hops`) plus this
    /// many percent. Unused gas is not paid for, and a swap can cost more than the typical
    /// budget (a pair's first price-accumulator write, a balance slot going 0 → non-zero), so
    /// the limit is generous while profit is still judged against the budget.
    #[serde(default = "default_limit_headroom_pct")]
    pub limit_headroom_pct: u32,
    /// Extra gas units budgeted for a route funded by a flash swap, over own capital.
    #[serde(default = "default_gas_flash_swap")]
    pub gas_flash_swap: u32,
    /// Extra gas units budgeted for a route funded by a Balancer flash loan.
    #[serde(default = "default_gas_balancer")]
    pub gas_balancer: u32,
    /// Extra gas units budgeted for a route funded by an Aave flash loan.
    #[serde(default = "default_gas_aave")]
    pub gas_aave: u32,
}

// Extra gas per funding source over own capital, measured on the executor against the real
// lenders (contracts/test/ExecutorGasFunding.t.sol, docs/executor.md "Gas by funding"), the
// largest over the route kinds measured, rounded up.
fn default_gas_flash_swap() -> u32 {
    FLASH_SWAP_GAS
}
fn default_gas_balancer() -> u32 {
    BALANCER_GAS
}
fn default_gas_aave() -> u32 {
    AAVE_GAS
}
/// Default `[gas] gas_flash_swap`.
pub const FLASH_SWAP_GAS: u32 = 12_000;
/// Default `[gas] gas_balancer`.
pub const BALANCER_GAS: u32 = 38_000;
/// Default `[gas] gas_aave`.
pub const AAVE_GAS: u32 = 128_000;

// Per-kind budgets measured on the executor (contracts/test/ExecutorGasMixed.t.sol, fitted in
// docs/executor.md: each swap its pool's first in a new block, the worst live case), rounded up.
// The Algebra figures come from the npm build, larger than QuickSwap's deployed pool (about 22k
// per hop and 9k per tick more, docs/algebra.md): budgeting them over-counts, never under.
fn default_gas_per_v3_hop() -> u32 {
    68_600
}

fn default_gas_per_algebra_hop() -> u32 {
    169_800
}

fn default_gas_per_v3_tick() -> u32 {
    25_500
}

fn default_gas_per_algebra_tick() -> u32 {
    36_200
}

fn default_limit_headroom_pct() -> u32 {
    100
}

fn default_max_fee_multiplier() -> u32 {
    2
}

/// `[search]`: what counts as an opportunity.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Symbol (from `[[tokens]]`) of the wrapped native token profits are valued in.
    pub native: String,
    /// Symbols of tokens a cycle may start and end at (the executor holds these).
    pub start_tokens: Vec<String>,
    /// Profit over gas cost an opportunity must clear, wei of native.
    #[serde(default)]
    pub min_profit_native_wei: u128,
    /// Cap on enumerated cycles.
    #[serde(default = "default_max_cycles")]
    pub max_cycles: usize,
    /// Most routes one pool update may yield (the best, then the best against the pools it
    /// moved, …).
    #[serde(default = "default_max_routes")]
    pub max_routes: usize,
    /// Longest cycle searched, in hops (2 to 4).
    #[serde(default = "default_max_hops")]
    pub max_hops: usize,
    /// Seconds between blocks: Algebra hops are priced at the fee of a block this much after
    /// the newest block seen (1 to 3,600).
    #[serde(default = "default_block_time_s")]
    pub block_time_s: u32,
    /// Blocks a sent route holds its pools at the state it leaves them in at most, unless a
    /// later block's log of the pool comes first (1 to 64). A live run ends a hold sooner when
    /// the node's answers show the transaction will not land or was mined, so there this is
    /// a timeout for what it is never told (default [`LIVE_HOLD_BLOCKS`]); a replay has no
    /// answers and models inclusion in the next block (default 2).
    #[serde(default)]
    pub hold_blocks: Option<u64>,
    /// Blocks the engine can take back on a reorg (its undo journal's depth, docs/engine.md
    /// "Reorgs"); 0 turns the journal off (a removed log then marks its pool stale). At most
    /// 1,024.
    #[serde(default = "default_reorg_depth")]
    pub reorg_depth: u64,
    /// Whether a route may be priced on the state another route made from the same block
    /// leaves a pool in (docs/engine.md, "Routes in flight"). Off by default: one block's
    /// routes use disjoint pools, so a revert sinks no other.
    #[serde(default)]
    pub chain_routes: bool,
}

fn default_reorg_depth() -> u64 {
    polyarb_core::DEFAULT_REORG_DEPTH
}

/// Largest `pipeline.ring_capacity`: each of the three rings preallocates this many frames
/// (up to 640 bytes each), 1 Mi frames is about 1.2 GB; more would fail to allocate and abort.
pub const MAX_RING_CAPACITY: usize = 1 << 20;

/// [`SearchConfig::hold_blocks`] of a live run when the config names none: about a minute of
/// Polygon blocks. Answers end holds long before (a stuck transaction is replaced after
/// `submit.stuck_after_ms`, and the replacement taken by the node ends its route's hold).
pub const LIVE_HOLD_BLOCKS: u64 = 32;

fn default_block_time_s() -> u32 {
    polyarb_core::DEFAULT_BLOCK_TIME_S
}

fn default_max_hops() -> usize {
    polyarb_core::MAX_HOPS
}

fn default_max_cycles() -> usize {
    polyarb_core::DEFAULT_MAX_CYCLES
}

fn default_max_routes() -> usize {
    polyarb_core::DEFAULT_MAX_ROUTES
}

/// `[[dexes]]`: one factory and the kind of pools it makes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DexConfig {
    /// Short name for reports.
    pub name: String,
    /// Factory contract.
    pub factory: Address,
    /// Kind of every pool of this factory (`uniswap-v2`, `uniswap-v3`, `algebra`).
    pub kind: PoolKind,
    /// Swap fee of every pair, basis points (30 = 0.3 %): `uniswap-v2` only, where the factory
    /// fixes the fee in the pair's code and no call reads it. Concentrated pools report theirs.
    #[serde(default)]
    pub fee_bps: Option<u32>,
    /// Discover at most this many pairs (from index 0; for concentrated kinds, the first
    /// created).
    #[serde(default)]
    pub max_pairs: Option<u64>,
    /// `uniswap-v3` / `algebra` only: first block whose creation logs are scanned (the
    /// factory's deployment block saves scanning the chain before it). Default 0.
    #[serde(default)]
    pub from_block: Option<u64>,
    /// `uniswap-v3` / `algebra` only: tick bitmap words loaded on each side of the current
    /// tick's word (`2 · tick_words + 1` words, each `256 · spacing` ticks). Default 2.
    #[serde(default)]
    pub tick_words: Option<u16>,
    /// `algebra` only: the most timepoints read per pool, before its newest, for its
    /// adaptive-fee model. A pool whose one-day window holds more is kept without a model (the
    /// engine then prices it at its current fee); 0 reads no model at all. Default: no cap
    /// (a pool swapped every block of Polygon's 2 s needs 43,201).
    #[serde(default)]
    pub max_timepoints: Option<u32>,
    /// Whether this DEX's pools may front a route's input as a flash swap (`[funding]` must
    /// list `flash-swap` too). Default true: Uniswap V2 pairs call `uniswapV2Call`, V3 and
    /// Algebra pools their swap callbacks, all of which the executor implements. Set false for
    /// a V2 fork that renamed its callback (Pancake's pairs call `pancakeCall`).
    #[serde(default)]
    pub flash_swap: Option<bool>,
}

/// Default [`DexConfig::tick_words`].
pub const DEFAULT_TICK_WORDS: u16 = 2;

impl DexConfig {
    /// First block of the creation-log scan.
    pub fn from_block(&self) -> u64 {
        self.from_block.unwrap_or(0)
    }

    /// Bitmap words loaded on each side of the current one.
    pub fn tick_words(&self) -> u16 {
        self.tick_words.unwrap_or(DEFAULT_TICK_WORDS)
    }
}

/// `[[tokens]]`: one ERC-20 the engine trades.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Short name, unique.
    pub symbol: String,
    /// Contract.
    pub address: Address,
    /// ERC-20 decimals (display only).
    pub decimals: u8,
}

/// `[cores]`: stage → CPU map (OS CPU numbers, as `taskset`, `isolcpus` and `/proc/cpuinfo`
/// name them). Absent: the kernel's isolated CPUs if it has any, else unpinned
/// (`crate::placement`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CoreMap {
    /// Feed I/O thread (socket, decode, send).
    pub feed: usize,
    /// Engine thread (update, search).
    pub engine: usize,
    /// Signer thread (calldata, sign).
    pub signer: usize,
    /// The fused thread (`pipeline.mode = "fused"`); absent: `feed`'s CPU.
    #[serde(default)]
    pub fused: Option<usize>,
    /// The CPU of housekeeping threads (the nonce-coupon mint). Absent: the first CPU no hot
    /// thread uses, if the machine has one; else they run unpinned.
    #[serde(default)]
    pub housekeeping: Option<usize>,
    /// A CPU that does not exist or a pin that fails stops the run instead of running that
    /// thread unpinned (the default, which says so in the summary).
    #[serde(default)]
    pub strict: bool,
}

/// `[pipeline]`: the threads' layout, ring sizes and waiting.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Pipelined (a thread per stage, rings between) or fused (one thread does it all).
    #[serde(default)]
    pub mode: Mode,
    /// Capacity of each SPSC ring, frames.
    #[serde(default = "default_ring")]
    pub ring_capacity: usize,
    /// Busy-spin iterations before an idle thread starts yielding (or parking).
    #[serde(default = "default_spin")]
    pub spin_before_yield: u32,
    /// How idle threads wait: `spin`, `spin-yield` (default) or `park`.
    #[serde(default)]
    pub wait: WaitPolicy,
    /// The feed (or fused) thread's waiting, if not `wait`.
    #[serde(default)]
    pub feed_wait: Option<WaitPolicy>,
    /// The engine thread's waiting, if not `wait`.
    #[serde(default)]
    pub engine_wait: Option<WaitPolicy>,
    /// The signer thread's waiting, if not `wait`.
    #[serde(default)]
    pub signer_wait: Option<WaitPolicy>,
    /// Longest sleep of a parked thread, µs: its worst wake-up delay.
    #[serde(default = "default_park_max_us")]
    pub park_max_us: u32,
}

fn default_ring() -> usize {
    4_096
}
fn default_spin() -> u32 {
    1_000
}
fn default_park_max_us() -> u32 {
    1_000
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            ring_capacity: default_ring(),
            spin_before_yield: default_spin(),
            wait: WaitPolicy::default(),
            feed_wait: None,
            engine_wait: None,
            signer_wait: None,
            park_max_us: default_park_max_us(),
        }
    }
}

impl PipelineConfig {
    /// The wait policy of `stage` (`feed`, `engine`, `signer`; `fused` waits as `feed`).
    pub fn wait_of(&self, stage: &str) -> WaitPolicy {
        let own = match stage {
            "feed" | "fused" => self.feed_wait,
            "engine" => self.engine_wait,
            "signer" => self.signer_wait,
            _ => None,
        };
        own.unwrap_or(self.wait)
    }
}

/// `[memory]`: keeping the hot path's pages in RAM.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// `mlockall` at start (needs a memlock limit or `CAP_IPC_LOCK`; a failure is warned and
    /// shown in the summary, and the run goes on unlocked).
    #[serde(default)]
    pub lock: bool,
    /// KiB of each hot thread's stack touched at its start, so its pages are not faulted in on
    /// the first frame.
    #[serde(default = "default_prefault_kb")]
    pub prefault_stack_kb: u32,
    /// Mark the process's anonymous memory (tables, rings, stacks: all built before the hot
    /// threads run) for transparent huge pages and collapse it into them at start
    /// (`polyarb-hugepages`; needs the kernel's THP mode `madvise` or `always`; a refusal is
    /// warned and shown in the summary, and the run goes on with normal pages).
    #[serde(default)]
    pub huge_pages: bool,
}

fn default_prefault_kb() -> u32 {
    256
}

/// Most stack a thread may pre-fault, KiB: half of Rust's default 2 MiB thread stack.
pub const MAX_PREFAULT_KB: u32 = 1_024;

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            lock: false,
            prefault_stack_kb: default_prefault_kb(),
            huge_pages: false,
        }
    }
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[node]`.
    pub node: NodeConfig,
    /// `[signer]`.
    #[serde(default)]
    pub signer: SignerConfig,
    /// `[replay]`, optional.
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
    /// `[gas]`.
    pub gas: GasConfig,
    /// `[search]`.
    pub search: SearchConfig,
    /// `[[dexes]]`.
    pub dexes: Vec<DexConfig>,
    /// `[[tokens]]`.
    pub tokens: Vec<TokenConfig>,
    /// `[cores]`; when absent the stages are not pinned.
    #[serde(default)]
    pub cores: Option<CoreMap>,
    /// `[pipeline]`.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// `[memory]`.
    #[serde(default)]
    pub memory: MemoryConfig,
    /// `[submit]`: the live run's submission timers.
    #[serde(default)]
    pub submit: SubmitSection,
    /// `[funding]`: where routes may get their input.
    #[serde(default)]
    pub funding: FundingConfig,
    /// `[journal]`: the execution journal (docs/journal.md).
    #[serde(default)]
    pub journal: crate::journal::JournalConfig,
    /// `[risk]`: limits checked before each route is signed, and the kill switch
    /// (docs/risk.md).
    #[serde(default)]
    pub risk: crate::risk::RiskConfig,
    /// `[metrics]`: the Prometheus endpoint (docs/metrics.md).
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
}

/// `[funding]`: the sources a route's input may come from (docs/config.md). The engine picks,
/// per route, the one leaving the most net value.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FundingConfig {
    /// Allowed sources: `capital` (always listed), `flash-swap`, `balancer`, `aave`.
    #[serde(default = "default_sources")]
    pub sources: Vec<Funding>,
    /// The Balancer V2 Vault (Polygon: 0xBA12222222228d8Ba445958a75a0704d566BF2C8); needed
    /// for `balancer`, and must be the executor's `balancerVault()`.
    #[serde(default)]
    pub balancer_vault: Option<Address>,
    /// The Aave V3 Pool (Polygon: 0x794a61358D6845594F94dc1DB02A252b5b4814aD); needed for
    /// `aave`, and must be the executor's `aavePool()`.
    #[serde(default)]
    pub aave_pool: Option<Address>,
    /// How often a live run reads the lenders' offers again, ms (default 2000, a Polygon
    /// block; 0: never, the start-up reading stays).
    #[serde(default = "default_refresh_ms")]
    pub refresh_ms: u64,
}

fn default_refresh_ms() -> u64 {
    2_000
}

fn default_sources() -> Vec<Funding> {
    vec![Funding::Capital]
}

impl Default for FundingConfig {
    fn default() -> Self {
        Self {
            sources: default_sources(),
            balancer_vault: None,
            aave_pool: None,
            refresh_ms: default_refresh_ms(),
        }
    }
}

/// `[submit]`: how the live run follows what it sent (see `engine/src/submission.rs` and
/// docs/live.md). Times in milliseconds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SubmitSection {
    /// Nonces tracked at once (sent and not yet mined, or refused and waiting to be reused).
    pub capacity: usize,
    /// A transaction whose answer has not come after this long is written again.
    pub answer_timeout_ms: u64,
    /// A refused nonce that later nonces wait behind is filled with a cancel after this long.
    pub fill_after_ms: u64,
    /// The account's next transaction, pooled and unmined this long, is replaced by a cancel.
    pub stuck_after_ms: u64,
    /// How often the node's mined transaction count is asked while transactions are out.
    pub confirm_every_ms: u64,
    /// At shutdown, how long to keep reading answers and filling nonces.
    pub shutdown_wait_ms: u64,
}

/// Largest `submit.capacity`: each tracked nonce keeps its signed bytes (under 600 bytes).
pub const MAX_SUBMIT_CAPACITY: usize = 1 << 16;

impl Default for SubmitSection {
    fn default() -> Self {
        Self {
            capacity: 256,
            answer_timeout_ms: 5_000,
            fill_after_ms: 2_000,
            stuck_after_ms: 60_000,
            confirm_every_ms: 1_000,
            shutdown_wait_ms: 3_000,
        }
    }
}

impl SubmitSection {
    /// The state machine's settings.
    pub fn machine(&self) -> crate::submission::SubmitConfig {
        let ns = |ms: u64| ms.saturating_mul(1_000_000);
        crate::submission::SubmitConfig {
            capacity: self.capacity,
            answer_timeout_ns: ns(self.answer_timeout_ms),
            fill_after_ns: ns(self.fill_after_ms),
            stuck_after_ns: ns(self.stuck_after_ms),
            confirm_every_ns: ns(self.confirm_every_ms),
        }
    }
}

/// A TOML error as one log line: `line L, column C: message` (toml's own text carries a
/// multi-line source snippet).
fn one_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = start - line_start + 1;
            // The offending line names the key (toml's message alone often does not).
            let src: String = text[line_start..]
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .chars()
                .take(80)
                .collect();
            format!("line {line}, column {column} `{src}`: {msg}")
        }
        None => msg,
    }
}

/// Reads the environment. A trait so tests can pass a map instead of mutating the process env.
pub trait Env {
    /// The variable's value, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Config {
    /// Reads, parses, applies env overrides and validates.
    pub fn load(path: &Path, env: &impl Env) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path, env)
    }

    /// Parses `text` (named `origin` in errors), applies env overrides and validates.
    pub fn parse(text: &str, origin: &Path, env: &impl Env) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: one_line(text, &e),
        })?;
        if let Some(url) = env.var("POLYARB_WS_URL") {
            cfg.node.ws_url = url;
        }
        if let Some(exec) = env.var("POLYARB_EXECUTOR") {
            cfg.signer.executor = Some(exec.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "POLYARB_EXECUTOR",
                reason: "not a 20-byte hex address".into(),
            })?);
        }
        if let Some(file) = env.var("POLYARB_KEY_FILE") {
            cfg.signer.key_file = Some(PathBuf::from(file));
        }
        if let Some(file) = env.var("POLYARB_KEYSTORE") {
            cfg.signer.keystore = Some(PathBuf::from(file));
        }
        if let Some(file) = env.var("POLYARB_PASSWORD_FILE") {
            cfg.signer.password_file = Some(PathBuf::from(file));
        }
        if let Some(url) = env.var("POLYARB_JOURNAL_URL") {
            cfg.journal.url = Some(url);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        // The `[signer]` key is account 0; `TxFrame::account` is a byte.
        if self.signer.senders.len() + 1 > crate::txbuild::MAX_ACCOUNTS {
            return invalid(
                "signer.senders",
                format!(
                    "{} senders; at most {} besides [signer]'s own key",
                    self.signer.senders.len(),
                    crate::txbuild::MAX_ACCOUNTS - 1
                ),
            );
        }
        for (k, s) in self.signer.senders.iter().enumerate() {
            let sources = usize::from(s.keystore.is_some())
                + usize::from(s.key_file.is_some())
                + usize::from(s.key_env.is_some());
            if sources != 1 {
                return invalid(
                    "signer.senders",
                    format!(
                        "sender {} names {sources} key sources; give exactly one of keystore, key_file, key_env",
                        k + 1
                    ),
                );
            }
            if s.password_file.is_some() && s.keystore.is_none() {
                return invalid(
                    "signer.senders",
                    format!("sender {} has a password_file but no keystore", k + 1),
                );
            }
        }
        if self.signer.coupons > MAX_COUPONS {
            return invalid(
                "signer.coupons",
                format!("{} coupons; at most {MAX_COUPONS}", self.signer.coupons),
            );
        }
        if self.node.extra_ws_urls.len() > 8 {
            return invalid(
                "node.extra_ws_urls",
                format!("{} endpoints; at most 8", self.node.extra_ws_urls.len()),
            );
        }
        if let Some(bad) = self
            .node
            .extra_ws_urls
            .iter()
            .find(|u| !u.starts_with("ws://"))
        {
            return invalid("node.extra_ws_urls", format!("{bad:?} is not a ws:// URL"));
        }
        if !self.node.ws_url.starts_with("ws://") {
            return invalid(
                "node.ws_url",
                format!("{:?} is not a ws:// URL", self.node.ws_url),
            );
        }
        if self.node.discovery_batch == 0 {
            return invalid("node.discovery_batch", "must be at least 1".into());
        }
        let sources = &self.funding.sources;
        if !sources.contains(&Funding::Capital) {
            return invalid(
                "funding.sources",
                "must list \"capital\" (own capital is always a source)".into(),
            );
        }
        if let Some(f) = Funding::ALL
            .into_iter()
            .find(|f| sources.iter().filter(|&s| s == f).count() > 1)
        {
            return invalid("funding.sources", format!("lists \"{f}\" twice"));
        }
        if sources.contains(&Funding::Balancer) && self.funding.balancer_vault.is_none() {
            return invalid(
                "funding.balancer_vault",
                "needed when funding.sources lists \"balancer\"".into(),
            );
        }
        if sources.contains(&Funding::Aave) && self.funding.aave_pool.is_none() {
            return invalid(
                "funding.aave_pool",
                "needed when funding.sources lists \"aave\"".into(),
            );
        }
        if !(2..=polyarb_core::MAX_HOPS).contains(&self.search.max_hops) {
            return invalid(
                "search.max_hops",
                format!(
                    "{} is not between 2 and {} hops",
                    self.search.max_hops,
                    polyarb_core::MAX_HOPS
                ),
            );
        }
        if self.search.reorg_depth > polyarb_core::MAX_REORG_DEPTH {
            return invalid(
                "search.reorg_depth",
                format!(
                    "{} is more than {} blocks",
                    self.search.reorg_depth,
                    polyarb_core::MAX_REORG_DEPTH
                ),
            );
        }
        if let Some(h) = self.search.hold_blocks
            && !(1..=64).contains(&h)
        {
            return invalid(
                "search.hold_blocks",
                format!("{h} is not between 1 and 64 blocks"),
            );
        }
        if !(1..=3_600).contains(&self.search.block_time_s) {
            return invalid(
                "search.block_time_s",
                format!(
                    "{} s is not between 1 and 3600 seconds",
                    self.search.block_time_s
                ),
            );
        }
        if self.node.logs_chunk_blocks == 0 {
            return invalid("node.logs_chunk_blocks", "must be at least 1".into());
        }
        if self.node.logs_in_flight == 0 {
            return invalid("node.logs_in_flight", "must be at least 1".into());
        }
        if self.dexes.is_empty() {
            return invalid("dexes", "at least one [[dexes]] entry is needed".into());
        }
        if self.dexes.len() > usize::from(u8::MAX) {
            return invalid("dexes", "at most 255 DEXes".into());
        }
        for d in &self.dexes {
            match (d.kind, d.fee_bps) {
                (PoolKind::UniswapV2, None) => {
                    return invalid(
                        "dexes.fee_bps",
                        format!("{} is a uniswap-v2 dex and needs fee_bps", d.name),
                    );
                }
                (PoolKind::UniswapV2, Some(f)) if f >= 10_000 => {
                    return invalid(
                        "dexes.fee_bps",
                        format!("{f} for {} is not below 10000", d.name),
                    );
                }
                (PoolKind::UniswapV3 | PoolKind::Algebra, Some(_)) => {
                    return invalid(
                        "dexes.fee_bps",
                        format!(
                            "{} is a {} dex: its pools report their own fee",
                            d.name, d.kind
                        ),
                    );
                }
                _ => {}
            }
            if d.max_timepoints.is_some() && d.kind != PoolKind::Algebra {
                return invalid(
                    "dexes.max_timepoints",
                    format!(
                        "{} is a {} dex: only algebra pools have an adaptive-fee model",
                        d.name, d.kind
                    ),
                );
            }
            if !d.kind.is_concentrated() {
                // Keys that only concentrated discovery reads are refused, not ignored.
                let stray = [
                    ("dexes.from_block", d.from_block.is_some()),
                    ("dexes.tick_words", d.tick_words.is_some()),
                ];
                if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                    return invalid(
                        key,
                        format!(
                            "{} is a {} dex: pairs are listed by the factory, not found in logs",
                            d.name, d.kind
                        ),
                    );
                }
            }
        }
        let mut seen = HashMap::new();
        for t in &self.tokens {
            if seen.insert(t.symbol.as_str(), t.address).is_some() {
                return invalid("tokens.symbol", format!("{} appears twice", t.symbol));
            }
        }
        self.token_address(&self.search.native, "search.native")?;
        if self.search.start_tokens.is_empty() {
            return invalid(
                "search.start_tokens",
                "at least one start token is needed".into(),
            );
        }
        for s in &self.search.start_tokens {
            self.token_address(s, "search.start_tokens")?;
        }
        if self.gas.max_fee_multiplier == 0 {
            return invalid("gas.max_fee_multiplier", "must be at least 1".into());
        }
        if !(2..=MAX_RING_CAPACITY).contains(&self.pipeline.ring_capacity) {
            return invalid(
                "pipeline.ring_capacity",
                format!(
                    "{} is not between 2 and {MAX_RING_CAPACITY} frames",
                    self.pipeline.ring_capacity
                ),
            );
        }
        if !(1..=1_000_000).contains(&self.pipeline.park_max_us) {
            return invalid(
                "pipeline.park_max_us",
                format!(
                    "{} is not between 1 and 1,000,000 µs",
                    self.pipeline.park_max_us
                ),
            );
        }
        if let Err((key, reason)) = self.journal.check() {
            return invalid(key, reason);
        }
        self.risk_limits()?;
        if !(500..=3_600_000).contains(&self.metrics.balance_refresh_ms) {
            return invalid(
                "metrics.balance_refresh_ms",
                format!(
                    "{} is not between 500 and 3600000",
                    self.metrics.balance_refresh_ms
                ),
            );
        }
        if !(10..=10_000).contains(&self.risk.kill_poll_ms) {
            return invalid(
                "risk.kill_poll_ms",
                format!("{} is not between 10 and 10000", self.risk.kill_poll_ms),
            );
        }
        if self.memory.prefault_stack_kb > MAX_PREFAULT_KB {
            return invalid(
                "memory.prefault_stack_kb",
                format!(
                    "{} KiB is more than {MAX_PREFAULT_KB} KiB (half a thread's stack)",
                    self.memory.prefault_stack_kb
                ),
            );
        }
        let node = &self.node;
        if node.reconnect_min_ms == 0 || node.reconnect_min_ms > node.reconnect_max_ms {
            return invalid(
                "node.reconnect_min_ms",
                format!(
                    "{} must be at least 1 and at most node.reconnect_max_ms ({})",
                    node.reconnect_min_ms, node.reconnect_max_ms
                ),
            );
        }
        if node.reconnect_max_ms > 3_600_000 {
            return invalid(
                "node.reconnect_max_ms",
                format!("{} is more than an hour", node.reconnect_max_ms),
            );
        }
        if !(1_000..=86_400_000).contains(&node.startup_timeout_ms) {
            return invalid(
                "node.startup_timeout_ms",
                format!(
                    "{} is not between 1,000 (a second) and 86,400,000 (a day)",
                    node.startup_timeout_ms
                ),
            );
        }
        if node.batch_quiet_us > 1_000_000 {
            return invalid(
                "node.batch_quiet_us",
                format!("{} is more than a second", node.batch_quiet_us),
            );
        }
        if !(1..=1_000_000).contains(&node.max_backfill_blocks) {
            return invalid(
                "node.max_backfill_blocks",
                format!(
                    "{} is not between 1 and 1,000,000",
                    node.max_backfill_blocks
                ),
            );
        }
        let sub = &self.submit;
        if !(1..=MAX_SUBMIT_CAPACITY).contains(&sub.capacity) {
            return invalid(
                "submit.capacity",
                format!(
                    "{} is not between 1 and {MAX_SUBMIT_CAPACITY} nonces",
                    sub.capacity
                ),
            );
        }
        // A day bounds every timer: longer is a typo, and zero would spin.
        const DAY_MS: u64 = 86_400_000;
        for (key, ms) in [
            ("submit.answer_timeout_ms", sub.answer_timeout_ms),
            ("submit.fill_after_ms", sub.fill_after_ms),
            ("submit.stuck_after_ms", sub.stuck_after_ms),
            ("submit.confirm_every_ms", sub.confirm_every_ms),
            ("submit.shutdown_wait_ms", sub.shutdown_wait_ms),
        ] {
            if !(1..=DAY_MS).contains(&ms) {
                return invalid(key, format!("{ms} is not between 1 and {DAY_MS} ms"));
            }
        }
        Ok(())
    }

    fn token_address(&self, symbol: &str, key: &'static str) -> Result<Address, ConfigError> {
        self.tokens
            .iter()
            .find(|t| t.symbol == symbol)
            .map(|t| t.address)
            .ok_or_else(|| ConfigError::Invalid {
                key,
                reason: format!("{symbol} is not in [[tokens]]"),
            })
    }

    /// Address of the native (valuation) token.
    pub fn native_address(&self) -> Address {
        // Validated in `parse`.
        self.token_address(&self.search.native, "search.native")
            .unwrap_or(Address::ZERO)
    }

    /// Addresses of the start tokens, in configured order.
    pub fn start_token_addresses(&self) -> Vec<Address> {
        self.search
            .start_tokens
            .iter()
            .filter_map(|s| self.token_address(s, "search.start_tokens").ok())
            .collect()
    }

    /// Tokens as the engine's market spec lists them.
    pub fn token_specs(&self) -> Vec<TokenSpec> {
        self.tokens
            .iter()
            .map(|t| TokenSpec {
                address: t.address,
                symbol: t.symbol.clone(),
                decimals: t.decimals,
            })
            .collect()
    }

    /// DEXes as the engine's market spec lists them.
    pub fn dex_specs(&self) -> Vec<DexSpec> {
        self.dexes
            .iter()
            .map(|d| DexSpec {
                name: d.name.clone(),
                factory: d.factory,
                kind: d.kind,
                flash_swap: d.flash_swap.unwrap_or(true),
            })
            .collect()
    }

    /// Applies the config's `[[dexes]] flash_swap` to a market read from a snapshot (matched
    /// by factory): the operator's word on which DEXes may front a flash swap wins over what
    /// the snapshot's writer thought.
    pub fn apply_flash_swap(&self, market: &mut polyarb_core::MarketSpec) {
        for d in &mut market.dexes {
            if let Some(c) = self.dexes.iter().find(|c| c.factory == d.factory) {
                d.flash_swap = c.flash_swap.unwrap_or(true);
            }
        }
    }

    /// Search parameters for a live run: [`Config::search_params`] with holds timed out after
    /// [`LIVE_HOLD_BLOCKS`] unless the config says otherwise.
    pub fn live_search_params(&self) -> polyarb_core::SearchParams {
        let mut p = self.search_params();
        p.hold_blocks = self.search.hold_blocks.unwrap_or(LIVE_HOLD_BLOCKS);
        p
    }

    /// Search parameters for the engine (a replay's: see [`Config::live_search_params`]).
    pub fn search_params(&self) -> polyarb_core::SearchParams {
        let mut p =
            polyarb_core::SearchParams::new(self.native_address(), self.start_token_addresses());
        p.tip_wei = self.gas.tip_wei;
        p.gas = polyarb_core::GasModel {
            base: self.gas.gas_base,
            per_hop: [
                self.gas.gas_per_hop,
                self.gas.gas_per_v3_hop,
                self.gas.gas_per_algebra_hop,
            ],
            per_tick: [0, self.gas.gas_per_v3_tick, self.gas.gas_per_algebra_tick],
            per_funding: [
                0,
                self.gas.gas_flash_swap,
                self.gas.gas_balancer,
                self.gas.gas_aave,
            ],
        };
        p.funding = FundingSet::of(self.funding.sources.iter().copied());
        p.max_routes = self.search.max_routes;
        p.max_hops = self.search.max_hops;
        p.block_time_s = self.search.block_time_s;
        p.hold_blocks = self
            .search
            .hold_blocks
            .unwrap_or(polyarb_core::DEFAULT_HOLD_BLOCKS);
        p.reorg_depth = self.search.reorg_depth;
        p.chain_routes = self.search.chain_routes;
        p.min_profit_native = self.search.min_profit_native_wei;
        p.max_cycles = self.search.max_cycles;
        p
    }

    /// `[risk]` in raw units: amounts of the native token (`[search] native`) and of each
    /// `max_input` token, by their `[[tokens]]` decimals.
    pub fn risk_limits(&self) -> Result<crate::risk::RiskLimits, ConfigError> {
        use crate::risk::{MAX_INPUT_TOKENS, RiskLimits, parse_units};
        let decimals = |symbol: &str, key: &'static str| {
            self.tokens
                .iter()
                .find(|t| t.symbol == symbol)
                .map(|t| t.decimals)
                .ok_or_else(|| ConfigError::Invalid {
                    key,
                    reason: format!("{symbol} is not in [[tokens]]"),
                })
        };
        let native = |text: &Option<String>, key: &'static str| {
            text.as_deref()
                .map(|t| {
                    parse_units(t, decimals(&self.search.native, "search.native")?)
                        .map_err(|reason| ConfigError::Invalid { key, reason })
                })
                .transpose()
        };
        let r = &self.risk;
        let mut limits = RiskLimits {
            min_net_profit_wei: native(&r.min_net_profit, "risk.min_net_profit")?,
            max_gas_hour_wei: native(&r.max_gas_per_hour, "risk.max_gas_per_hour")?,
            max_gas_day_wei: native(&r.max_gas_per_day, "risk.max_gas_per_day")?,
            max_in_flight: r.max_in_flight.map(u64::from),
            max_daily_loss_wei: native(&r.max_daily_loss, "risk.max_daily_loss")?,
            ..RiskLimits::default()
        };
        if r.max_input.len() > MAX_INPUT_TOKENS {
            return Err(ConfigError::Invalid {
                key: "risk.max_input",
                reason: format!("{} tokens, at most {MAX_INPUT_TOKENS}", r.max_input.len()),
            });
        }
        for (i, (symbol, amount)) in r.max_input.iter().enumerate() {
            let key = "risk.max_input";
            let raw = parse_units(amount, decimals(symbol, key)?).map_err(|reason| {
                ConfigError::Invalid {
                    key,
                    reason: format!("{symbol}: {reason}"),
                }
            })?;
            limits.max_input[i] = (self.token_address(symbol, key)?.0.0, raw);
            limits.max_input_len = i + 1;
        }
        Ok(limits)
    }

    /// Fee bid for the transaction builder.
    pub fn fee_bid(&self) -> crate::txbuild::FeeBid {
        crate::txbuild::FeeBid {
            tip_wei: self.gas.tip_wei,
            max_fee_multiplier: self.gas.max_fee_multiplier,
            limit_headroom_pct: self.gas.limit_headroom_pct,
        }
    }

    /// The executor, or an error naming how to set it.
    pub fn executor(&self) -> Result<Address, ConfigError> {
        self.signer.executor.ok_or(ConfigError::Invalid {
            key: "signer.executor",
            reason: "not set (config or POLYARB_EXECUTOR)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[node]
ws_url = "ws://127.0.0.1:8546"
[signer]
executor = "0x00000000000000000000000000000000000000e1"
[gas]
tip_wei = 30000000000
gas_base = 90000
gas_per_hop = 60000
[search]
native = "WMATIC"
start_tokens = ["WMATIC"]
[[dexes]]
kind = "uniswap-v2"
name = "quickswap"
factory = "0x5757371414417b8c6caad45baef941abc7d3ab32"
fee_bps = 30
[[tokens]]
symbol = "WMATIC"
address = "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"
decimals = 18
"#;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::parse(text, Path::new("test.toml"), &env)
    }

    /// `GOOD` with `extra` added to its `[signer]` table.
    fn with_signer(extra: &str) -> String {
        GOOD.replacen("[signer]\n", &format!("[signer]\n{extra}\n"), 1)
    }

    #[test]
    fn signer_keys_parse_with_their_defaults_and_env_overrides() {
        let c = parse(GOOD, &[]).expect("good");
        assert_eq!(c.signer.coupons, 4096);
        assert_eq!(c.signer.tx_type, TxTypeSetting::Eip1559);
        assert!(c.signer.keystore.is_none() && c.signer.senders.is_empty());
        let c = parse(
            &with_signer("coupons = 0\ntx_type = \"legacy\"\nkeystore = \"/k.json\""),
            &[("POLYARB_PASSWORD_FILE", "/pw")],
        )
        .expect("good");
        assert_eq!(c.signer.coupons, 0);
        assert_eq!(c.signer.tx_type.tx_type(), polyarb_signer::TxType::Legacy);
        assert_eq!(c.signer.keystore, Some(PathBuf::from("/k.json")));
        assert_eq!(c.signer.password_file, Some(PathBuf::from("/pw")));
        let c = parse(GOOD, &[("POLYARB_KEYSTORE", "/other.json")]).expect("good");
        assert_eq!(c.signer.keystore, Some(PathBuf::from("/other.json")));
    }

    #[test]
    fn the_journal_goes_to_a_file_or_a_postgres_url_not_both() {
        use crate::journal::Target;
        let c = parse(&format!("{GOOD}\n[journal]\npath = \"/j.db\"\n"), &[]).expect("good");
        assert_eq!(
            c.journal.target(None),
            Ok(Some(Target::File("/j.db".into())))
        );
        let url = "postgresql://ops:pw@db:5432/arb";
        let c = parse(GOOD, &[("POLYARB_JOURNAL_URL", url)]).expect("good");
        assert_eq!(
            c.journal.target(None),
            Ok(Some(Target::parse(url).unwrap()))
        );
        // The command line wins.
        let cli = Target::File("/cli.db".into());
        assert_eq!(c.journal.target(Some(&cli)), Ok(Some(cli)));
        let e = parse(
            &format!("{GOOD}\n[journal]\npath = \"/j.db\"\n"),
            &[("POLYARB_JOURNAL_URL", url)],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("journal.url") && e.contains("set one"), "{e}");
        let e = parse(
            &format!("{GOOD}\n[journal]\nurl = \"postgresql://a@h:x/d\"\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a PostgreSQL connection URL"), "{e}");
    }

    #[test]
    fn risk_keys_resolve_to_raw_units_and_bad_values_are_named() {
        let c = parse(
            &format!(
                "{GOOD}\n[risk]\nmin_net_profit = \"0.01\"\nmax_gas_per_hour = \"2\"\n\
                 max_gas_per_day = \"20.5\"\nmax_in_flight = 4\nmax_consecutive_reverts = 3\n\
                 max_daily_loss = \"10\"\nkill_file = \"/run/polyarb/stop\"\nkill_poll_ms = 50\n\
                 [risk.max_input]\nWMATIC = \"5000\"\n"
            ),
            &[],
        )
        .expect("good");
        let l = c.risk_limits().unwrap();
        let e18 = 10u128.pow(18);
        assert_eq!(l.min_net_profit_wei, Some(e18 / 100));
        assert_eq!(l.max_gas_hour_wei, Some(2 * e18));
        assert_eq!(l.max_gas_day_wei, Some(20 * e18 + e18 / 2));
        assert_eq!(l.max_in_flight, Some(4));
        assert_eq!(l.max_input_len, 1);
        assert_eq!(l.max_input[0].1, 5_000 * e18);
        assert_eq!(l.max_daily_loss_wei, Some(10 * e18));
        assert!(c.risk.needs_receipts());
        // Defaults: no limit at all.
        let d = parse(GOOD, &[]).unwrap();
        assert_eq!(d.risk_limits().unwrap(), crate::risk::RiskLimits::default());
        assert!(!d.risk.needs_receipts());
        for (extra, key) in [
            (
                "[risk]\nmin_net_profit = \"0.0000000000000000001\"\n",
                "risk.min_net_profit",
            ),
            (
                "[risk]\nmax_gas_per_day = \"lots\"\n",
                "risk.max_gas_per_day",
            ),
            ("[risk.max_input]\nUSDT = \"1\"\n", "risk.max_input"),
            ("[risk]\nkill_poll_ms = 5\n", "risk.kill_poll_ms"),
        ] {
            match parse(&format!("{GOOD}\n{extra}"), &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
    }

    #[test]
    fn placement_keys_parse_and_bad_values_are_named() {
        let c = parse(
            &format!(
                "{GOOD}\n[cores]\nfeed = 0\nengine = 1\nsigner = 1\nfused = 1\nhousekeeping = 3\n\
                 strict = true\n[pipeline]\nmode = \"fused\"\nwait = \"park\"\n\
                 engine_wait = \"spin\"\npark_max_us = 250\n[memory]\nlock = true\n\
                 prefault_stack_kb = 64\nhuge_pages = true\n"
            ),
            &[],
        )
        .expect("good");
        let cores = c.cores.expect("[cores]");
        assert_eq!(
            (cores.fused, cores.housekeeping, cores.strict),
            (Some(1), Some(3), true)
        );
        assert_eq!(c.pipeline.mode, Mode::Fused);
        assert_eq!(c.pipeline.wait_of("feed"), WaitPolicy::Park);
        assert_eq!(c.pipeline.wait_of("fused"), WaitPolicy::Park);
        assert_eq!(c.pipeline.wait_of("engine"), WaitPolicy::Spin);
        assert_eq!(c.pipeline.park_max_us, 250);
        assert_eq!(
            c.memory,
            MemoryConfig {
                lock: true,
                prefault_stack_kb: 64,
                huge_pages: true,
            }
        );
        // Defaults.
        let d = parse(GOOD, &[]).expect("good");
        assert_eq!(d.pipeline.mode, Mode::Pipelined);
        assert_eq!(d.pipeline.wait_of("signer"), WaitPolicy::SpinYield);
        assert_eq!(d.memory, MemoryConfig::default());
        for (extra, key) in [
            ("[pipeline]\nmode = \"both\"\n", "mode"),
            ("[pipeline]\nwait = \"sleep\"\n", "wait"),
            ("[pipeline]\npark_max_us = 0\n", "pipeline.park_max_us"),
            (
                "[memory]\nprefault_stack_kb = 4096\n",
                "memory.prefault_stack_kb",
            ),
            ("[memory]\nhuge = true\n", "huge"),
        ] {
            let e = parse(&format!("{GOOD}\n{extra}"), &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
    }

    #[test]
    fn bad_signer_keys_are_named() {
        let senders = |n: usize, body: &str| {
            let mut text = GOOD.to_owned();
            for _ in 0..n {
                text.push_str(&format!("[[signer.senders]]\n{body}\n"));
            }
            text
        };
        let cases = [
            (with_signer("coupons = 1048577"), "signer.coupons"),
            (with_signer("tx_type = \"eip4844\""), "tx_type"),
            (senders(16, "key_env = \"K\""), "signer.senders"),
            (senders(1, ""), "signer.senders"),
            (
                senders(1, "key_env = \"K\"\nkey_file = \"/k\""),
                "signer.senders",
            ),
            (
                senders(1, "key_env = \"K\"\npassword_file = \"/pw\""),
                "signer.senders",
            ),
            (senders(1, "key = \"0x01\""), "key"),
        ];
        for (text, key) in cases {
            let e = parse(&text, &[]).expect_err(key);
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
        // Fifteen senders besides [signer]'s key are allowed.
        assert!(parse(&senders(15, "key_env = \"K\""), &[]).is_ok());
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = parse(GOOD, &[]).unwrap();
        assert_eq!(c.signer.key_env, DEFAULT_KEY_ENV);
        assert_eq!(c.gas.max_fee_multiplier, 2);
        assert_eq!(c.pipeline.ring_capacity, 4096);
        assert!(c.cores.is_none());
        assert_eq!(
            c.native_address(),
            "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"
                .parse::<Address>()
                .unwrap()
        );
    }

    #[test]
    fn env_overrides_endpoint_and_executor() {
        let c = parse(
            GOOD,
            &[
                ("POLYARB_WS_URL", "ws://10.0.0.1:9000"),
                (
                    "POLYARB_EXECUTOR",
                    "0x00000000000000000000000000000000000000e2",
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.node.ws_url, "ws://10.0.0.1:9000");
        assert_eq!(c.executor().unwrap().0[19], 0xe2);
        let e = parse(GOOD, &[("POLYARB_EXECUTOR", "nope")]).unwrap_err();
        assert!(e.to_string().contains("POLYARB_EXECUTOR"), "{e}");
    }

    #[test]
    fn funding_sources_and_lenders_are_checked() {
        // Absent: own capital only, every DEX may front a flash swap (unused then).
        let cfg = parse(GOOD, &[]).unwrap();
        assert_eq!(cfg.funding.sources, [Funding::Capital]);
        assert_eq!(cfg.search_params().funding, FundingSet::CAPITAL);
        assert!(cfg.dex_specs().iter().all(|d| d.flash_swap));
        let vault = "0xba12222222228d8ba445958a75a0704d566bf2c8";
        let pool = "0x794a61358d6845594f94dc1db02a252b5b4814ad";
        let all = format!(
            "{GOOD}\n[funding]\nsources = [\"capital\", \"flash-swap\", \"balancer\", \"aave\"]\n\
             balancer_vault = \"{vault}\"\naave_pool = \"{pool}\"\n"
        );
        let cfg = parse(&all, &[]).unwrap();
        assert_eq!(cfg.search_params().funding, FundingSet::ALL);
        let p = cfg.search_params();
        assert_eq!(
            p.gas.per_funding,
            [0, FLASH_SWAP_GAS, BALANCER_GAS, AAVE_GAS],
            "the measured defaults"
        );
        let no_flash = all.replacen("fee_bps = 30\n", "fee_bps = 30\nflash_swap = false\n", 1);
        assert!(!parse(&no_flash, &[]).unwrap().dex_specs()[0].flash_swap);
        for (text, key, says) in [
            (
                all.replace("\"capital\", ", ""),
                "funding.sources",
                "must list \"capital\"",
            ),
            (
                all.replace("\"aave\"]", "\"aave\", \"aave\"]"),
                "funding.sources",
                "lists \"aave\" twice",
            ),
            (
                all.replace(&format!("balancer_vault = \"{vault}\"\n"), ""),
                "funding.balancer_vault",
                "needed",
            ),
            (
                all.replace(&format!("aave_pool = \"{pool}\"\n"), ""),
                "funding.aave_pool",
                "needed",
            ),
        ] {
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(says), "{e}");
        }
        // Unknown sources and keys are parse errors naming them.
        let e = parse(&all.replace("\"aave\"]", "\"maker\"]"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("maker"), "{e}");
        let e = parse(&format!("{all}lender = 1\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lender"), "{e}");
    }

    #[test]
    fn missing_unknown_and_bad_keys_are_errors() {
        let missing = GOOD.replace("gas_base = 90000\n", "");
        let e = parse(&missing, &[]).unwrap_err();
        assert!(e.to_string().contains("gas_base"), "{e}");

        let unknown = GOOD.replace("gas_base = 90000", "gas_base = 90000\ngas_bsae = 1");
        let e = parse(&unknown, &[]).unwrap_err().to_string();
        assert!(e.contains("gas_bsae"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
        let line = GOOD[..GOOD.find("gas_base").unwrap()].matches('\n').count() + 2;
        assert!(e.contains(&format!("line {line}, column 1")), "{e}");

        let bad_native = GOOD.replace("native = \"WMATIC\"", "native = \"WETH\"");
        let e = parse(&bad_native, &[]).unwrap_err();
        assert!(e.to_string().contains("search.native"), "{e}");

        let bad_url = GOOD.replace("ws://127.0.0.1:8546", "http://x");
        assert!(
            parse(&bad_url, &[])
                .unwrap_err()
                .to_string()
                .contains("node.ws_url")
        );

        let bad_fee = GOOD.replace("fee_bps = 30", "fee_bps = 10000");
        assert!(
            parse(&bad_fee, &[])
                .unwrap_err()
                .to_string()
                .contains("fee_bps")
        );

        let bad_addr = GOOD.replace("0x5757371414417b8c6caad45baef941abc7d3ab32", "0x12");
        assert!(matches!(
            parse(&bad_addr, &[]),
            Err(ConfigError::Parse { .. })
        ));

        assert!(matches!(
            parse("not toml [", &[]),
            Err(ConfigError::Parse { .. })
        ));

        // Cycle length: 2 to 4 hops, 4 when absent, anything else named.
        assert_eq!(
            parse(GOOD, &[]).unwrap().search_params().max_hops,
            polyarb_core::MAX_HOPS
        );
        assert_eq!(parse(GOOD, &[]).unwrap().search_params().block_time_s, 2);
        assert_eq!(parse(GOOD, &[]).unwrap().search_params().hold_blocks, 2);
        assert_eq!(
            parse(GOOD, &[]).unwrap().live_search_params().hold_blocks,
            LIVE_HOLD_BLOCKS
        );
        let five = GOOD.replace("[search]\n", "[search]\nhold_blocks = 5\n");
        let five = parse(&five, &[]).unwrap();
        assert_eq!(five.search_params().hold_blocks, 5);
        assert_eq!(five.live_search_params().hold_blocks, 5);
        for bad in [1usize, MAX_RING_CAPACITY + 1, 1 << 40] {
            let text = format!("{GOOD}\n[pipeline]\nring_capacity = {bad}\n");
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(e.contains("pipeline.ring_capacity"), "{e}");
        }
        for (key, bad) in [
            ("capacity", 0u64),
            ("capacity", (MAX_SUBMIT_CAPACITY + 1) as u64),
            ("answer_timeout_ms", 0),
            ("stuck_after_ms", 86_400_001),
            ("shutdown_wait_ms", 0),
        ] {
            let text = format!("{GOOD}\n[submit]\n{key} = {bad}\n");
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(e.contains(&format!("submit.{key}")), "{e}");
        }
        let text = format!("{GOOD}\n[submit]\nfill_after_ms = 250\n");
        let sub = parse(&text, &[]).unwrap().submit;
        assert_eq!(sub.machine().fill_after_ns, 250_000_000);
        assert_eq!(sub.capacity, SubmitSection::default().capacity);
        for bad in [0, 65] {
            let text = GOOD.replace("[search]\n", &format!("[search]\nhold_blocks = {bad}\n"));
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(e.contains("search.hold_blocks"), "{e}");
        }
        let five = GOOD.replace("[search]\n", "[search]\nblock_time_s = 5\n");
        assert_eq!(parse(&five, &[]).unwrap().search_params().block_time_s, 5);
        for bad in [0, 3_601] {
            let text = GOOD.replace("[search]\n", &format!("[search]\nblock_time_s = {bad}\n"));
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(e.contains("search.block_time_s"), "{e}");
        }
        let three = GOOD.replace("[search]\n", "[search]\nmax_hops = 3\n");
        assert_eq!(parse(&three, &[]).unwrap().search_params().max_hops, 3);
        for bad in [0, 1, 5] {
            let text = GOOD.replace("[search]\n", &format!("[search]\nmax_hops = {bad}\n"));
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(
                e.contains("search.max_hops") && e.contains(&bad.to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn concentrated_dexes_take_log_scan_keys_and_v2_dexes_refuse_them() {
        let cl = GOOD.replace(
            "[[tokens]]",
            "[[dexes]]\nkind = \"algebra\"\nname = \"quickswap-v3\"\nfactory = \"0x411b0facc3489691f28ad58c47006af5e3ab3a28\"\nfrom_block = 32610688\ntick_words = 5\nmax_timepoints = 3000\n\n[[dexes]]\nkind = \"uniswap-v3\"\nname = \"uniswap-v3\"\nfactory = \"0x1F98431c8aD98523631AE4a59f267346ea31F984\"\n\n[[tokens]]",
        );
        let c = parse(&cl, &[]).unwrap();
        assert_eq!(
            (c.dexes[1].from_block(), c.dexes[1].tick_words()),
            (32_610_688, 5)
        );
        assert_eq!(
            (c.dexes[2].from_block(), c.dexes[2].tick_words()),
            (0, DEFAULT_TICK_WORDS)
        );
        assert_eq!(
            (c.dexes[1].max_timepoints, c.dexes[2].max_timepoints),
            (Some(3000), None)
        );
        // Only Algebra pools have a fee model to cap.
        let v3 = cl.replace(
            "name = \"uniswap-v3\"",
            "name = \"uniswap-v3\"\nmax_timepoints = 5",
        );
        let e = parse(&v3, &[]).unwrap_err().to_string();
        assert!(e.contains("dexes.max_timepoints"), "{e}");
        assert_eq!(
            (c.node.logs_chunk_blocks, c.node.logs_in_flight),
            (10_000, 4)
        );

        for (key, line) in [
            ("dexes.from_block", "from_block = 5"),
            ("dexes.tick_words", "tick_words = 1"),
            ("dexes.max_timepoints", "max_timepoints = 1"),
        ] {
            let v2 = GOOD.replace("fee_bps = 30", &format!("fee_bps = 30\n{line}"));
            let e = parse(&v2, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        for key in ["logs_chunk_blocks", "logs_in_flight"] {
            let zero = GOOD.replace("[signer]", &format!("{key} = 0\n[signer]"));
            let e = parse(&zero, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn shipped_examples_parse() {
        for name in ["docs/polygon.example.toml", "data/sample.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
            let c = Config::load(&path, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
            assert!(c.dexes.len() >= 2, "{name}");
            assert!(c.cores.is_some(), "{name}");
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = Config::load(Path::new("/nonexistent/polyarb.toml"), &ProcessEnv).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/polyarb.toml"));
    }
}
