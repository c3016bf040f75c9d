//! A lab for the real concentrated-liquidity pools: Uniswap V3 (`@uniswap/v3-core` 1.0.1) and
//! Algebra V1 (`@cryptoalgebra/core` 2.0.0, the engine of QuickSwap V3), deployed from their npm
//! bytecode on a private anvil and driven by our `ClmmProbe` contract.
//!
//! [`ClmmLab::run`] runs cases (a pool, its start price, positions, swaps) in batches of one
//! `eth_call` each, nothing mined, and returns every swap's exact amounts with the pool state
//! before and after it, read from the real pool. [`ClmmLab::run_mined`] runs one case as mined
//! transactions and reads the outcome through the pools' own view functions and token balances,
//! the independent check of the batch path.
//!
//! What the lab deploys, once, at start:
//! - the v2-core test ERC-20 (`2 × slots` tokens, whole supply `2^256 - 1` held by the probe);
//! - `UniswapV3Factory` with the 100-pip / spacing-1 tier enabled, and for every slot a pool of
//!   each tier 100/500/3000/10000 (spacings 1/10/60/200), left uninitialized;
//! - `AlgebraPoolDeployer` + `AlgebraFactory` (vault: the deployer account; owner: the probe, so it
//!   may set a pool's fee configuration), and for every slot an Algebra pool initialized at
//!   `ClmmProbe.ALGEBRA_PARK_PRICE` with no liquidity;
//! - one more block one second later, so that every batch runs after the pools' first timepoint.
//!
//! A batch gives case `i` the pools of slot `i`; `eth_call` keeps nothing, so every batch finds
//! them empty again.
//!
//! Two things about the npm Algebra build this module works around (docs/algebra.md):
//! - its contracts exceed EIP-170 (the pool's runtime code is 59,652 bytes, the deployer's
//!   62,750), so anvil runs with `--code-size-limit 65536`;
//! - its `AlgebraFactory` hard-codes the pool init code hash of the optimised build QuickSwap
//!   deployed (`0x6ec6…a4`), but its `AlgebraPoolDeployer` carries a different (unoptimised) pool
//!   build, so the factory would hand every pool's `DataStorageOperator` a wrong pool address and
//!   `initialize` would revert "only pool can call this". [`ClmmLab::start`] replaces that one
//!   32-byte constant in the deployed factory's code with the hash of the pool code the deployer
//!   really uses (`anvil_setCode`), as a consistent build would have it.
//!
//! Algebra's fee is recomputed at the first timepoint write of a block (first swap, or first
//! mint that changes active liquidity). In one `eth_call` everything shares one timestamp, so the
//! probe makes that write before any position exists: a case's fee is fixed for its whole run.
//! [`PoolKind::Algebra`] with `fee: Some(f)` sets the pool's adaptive-fee sigmoids to height 0
//! first, so the fee is exactly `f` pips; `fee: None` keeps the factory's default configuration.

use std::{
    collections::BTreeMap,
    fmt,
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};

use alloy_primitives::{
    Address, B256, Bytes, I256, U160, U256,
    aliases::{I24, U24},
    b256, keccak256,
};
use alloy_sol_types::{SolCall, SolValue};

use crate::{
    abi::{
        IAlgebraFactory, IAlgebraPool, IAlgebraPoolDeployer, IClmmProbe, IUniswapV3Factory,
        IUniswapV3Pool,
    },
    anvil::{Anvil, AnvilError, AnvilOpts},
    artifact::{ArtifactError, load_bytecode},
    paths::{Artifact, MissingError, Toolchain},
    rpc::{Rpc, RpcError, TxRequest, revert_reason},
};

/// The pool init code hash Algebra V1's factory and periphery hard-code: keccak256 of the pool
/// creation code that QuickSwap V3 runs on Polygon (the optimised build of Algebra tag v1.0.0).
pub const ALGEBRA_V1_POOL_INIT_CODE_HASH: B256 =
    b256!("6ec6c9c8091d160c0aa74b2b14ba9c1717e95093bd3ac085cee99a49aab294a4");

/// Uniswap V3 fee tiers the lab's factory has, `(fee in pips, tick spacing)`. v3-core enables
/// the last three in its constructor; the lab enables the first.
pub const V3_FEE_TIERS: [(u32, i32); 4] = [(100, 1), (500, 10), (3000, 60), (10000, 200)];

/// Algebra V1's tick spacing (a constant of the pool, `tickSpacing()` is `pure`).
pub const ALGEBRA_TICK_SPACING: i32 = 60;

/// EIP-170 limit the lab's anvil runs with, bytes: above the npm Algebra build's largest runtime
/// code (the pool deployer, 62,750 bytes). EIP-3860 makes the initcode limit twice this.
pub const LAB_CODE_SIZE_LIMIT: u32 = 65_536;

/// Block gas limit of the lab's anvil: a batch of cases is one call, and creating the Algebra
/// pools of the npm (unoptimised) build costs about 17.5 M gas each.
const BLOCK_GAS_LIMIT: u64 = 100_000_000_000;
/// Gas for one batch `eth_call` (free: nothing is mined).
const CALL_GAS: u64 = 50_000_000_000;
/// Gas for one mined setup transaction.
const TX_GAS: u64 = 2_000_000_000;
/// Slots per pool-creating transaction (8 Algebra pools ≈ 140 M gas).
const CREATE_CHUNK: usize = 8;

/// `ClmmProbe` case kinds.
const KIND_V3: u8 = 0;
const KIND_ALGEBRA: u8 = 1;

/// A pool for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Uniswap V3 with fee `fee` pips and tick spacing `spacing`: one of [`V3_FEE_TIERS`].
    UniswapV3 { fee: u32, spacing: i32 },
    /// Algebra V1 (tick spacing 60). `fee: Some(f)`: constant fee `f` pips; `None`: the factory's
    /// default adaptive configuration, evaluated at the case's first timepoint.
    Algebra { fee: Option<u16> },
}

impl PoolKind {
    /// Uniswap V3 of the tier with fee `fee` pips, if the lab has it.
    pub fn v3(fee: u32) -> Option<Self> {
        V3_FEE_TIERS
            .iter()
            .find(|&&(f, _)| f == fee)
            .map(|&(fee, spacing)| Self::UniswapV3 { fee, spacing })
    }

    /// The pool's tick spacing.
    pub fn tick_spacing(self) -> i32 {
        match self {
            Self::UniswapV3 { spacing, .. } => spacing,
            Self::Algebra { .. } => ALGEBRA_TICK_SPACING,
        }
    }

    /// Which protocol.
    pub fn protocol(self) -> Clmm {
        match self {
            Self::UniswapV3 { .. } => Clmm::UniswapV3,
            Self::Algebra { .. } => Clmm::AlgebraV1,
        }
    }
}

/// A concentrated-liquidity protocol the tools know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Clmm {
    /// Uniswap V3 (`slot0`, `tickBitmap`).
    UniswapV3,
    /// Algebra V1 as QuickSwap V3 runs it (`globalState`, `tickTable`).
    AlgebraV1,
}

/// A liquidity position to mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Lower tick (a multiple of the spacing).
    pub tick_lower: i32,
    /// Upper tick (a multiple of the spacing, above `tick_lower`).
    pub tick_upper: i32,
    /// Liquidity, the pools' `L` unit (√(token0·token1) raw units).
    pub liquidity: u128,
}

/// A swap to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Swap {
    /// Token0 in, token1 out.
    pub zero_for_one: bool,
    /// Raw token units: `> 0` exact input, `< 0` exact output (the pools' convention).
    pub amount_specified: I256,
    /// Price limit, Q64.96 √(token1/token0).
    pub sqrt_price_limit: U160,
}

/// One case: a fresh pool at a start price, positions minted in order, then swaps in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    /// Which pool.
    pub kind: PoolKind,
    /// Start price, Q64.96. V3 accepts `[MIN_SQRT_RATIO, MAX_SQRT_RATIO)`, Algebra (which the
    /// probe moves there by a swap) the open interval.
    pub init_sqrt_price: U160,
    /// Positions, minted by the probe (owner and payer).
    pub positions: Vec<Position>,
    /// Swaps, each with the probe as payer and recipient.
    pub swaps: Vec<Swap>,
}

/// The part of a pool's state that swap math reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolState {
    /// Q64.96 √price (V3 `slot0.sqrtPriceX96`, Algebra `globalState.price`).
    pub sqrt_price: U160,
    /// Current tick.
    pub tick: i32,
    /// Active liquidity.
    pub liquidity: u128,
    /// Swap fee, pips (1e-6): V3 `fee()`, Algebra `globalState.fee`.
    pub fee: u32,
}

/// An initialized tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TickLiquidity {
    /// The tick.
    pub tick: i32,
    /// Total liquidity of positions bounded by it (V3 `liquidityGross`, Algebra `liquidityTotal`).
    pub liquidity_gross: u128,
    /// Liquidity added when crossed upwards (V3 `liquidityNet`, Algebra `liquidityDelta`).
    pub liquidity_net: i128,
}

/// A revert, with its data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revert {
    /// The revert data (`Error(string)`, a panic, a custom error, or empty).
    pub data: Bytes,
}

impl Revert {
    /// `Error(string)` as its string, panics and custom errors as alloy words them.
    pub fn reason(&self) -> Option<String> {
        revert_reason(&self.data)
    }
}

impl fmt::Display for Revert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "reverted: {reason}"),
            None if self.data.is_empty() => f.write_str("reverted without data"),
            None => write!(f, "reverted with data {}", self.data),
        }
    }
}

/// Token amounts of a swap, raw units, from the pool's side: positive = paid into the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SwapAmounts {
    /// Token0.
    pub amount0: I256,
    /// Token1.
    pub amount1: I256,
}

/// One swap as the real pool ran it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SwapRun {
    /// Pool state just before (the start state or the previous swap's `after`).
    pub before: PoolState,
    /// The pool's return values, or its revert.
    pub outcome: Result<SwapAmounts, Revert>,
    /// Pool state just after (equal to `before` when it reverted).
    pub after: PoolState,
}

/// A case that was set up and run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseRun {
    /// The pool it ran on.
    pub pool: Address,
    /// The pool's `tickSpacing()`.
    pub tick_spacing: i32,
    /// Token amounts each mint took, `(token0, token1)` raw units, in position order.
    pub minted: Vec<(U256, U256)>,
    /// The pool's initialized ticks after the mints (every position bound, ascending, each once),
    /// read with `ticks(tick)`. Swaps do not change them.
    pub ticks: Vec<TickLiquidity>,
    /// State after setup, before the first swap.
    pub start: PoolState,
    /// The swaps in order.
    pub swaps: Vec<SwapRun>,
}

/// A case's outcome: its run, or the revert that stopped its setup (start price, fee
/// configuration or a mint).
pub type CaseResult = Result<CaseRun, Revert>;

/// One swap of [`ClmmLab::run_mined`], observed only through the pool's own views and balances.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MinedSwap {
    /// `Ok` if the transaction succeeded, else its revert data (from the node's call trace).
    pub outcome: Result<(), Revert>,
    /// Change of the pool's token0 balance, raw units.
    pub balance_delta0: I256,
    /// Change of the pool's token1 balance, raw units.
    pub balance_delta1: I256,
    /// `slot0`/`globalState`, `liquidity` and the fee, read from the pool after the block.
    pub after: PoolState,
}

/// [`ClmmLab::run_mined`]'s observations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MinedRun {
    /// The pool.
    pub pool: Address,
    /// Its token0 and token1.
    pub tokens: (Address, Address),
    /// Pool state after the setup transaction.
    pub start: PoolState,
    /// Each swap, one transaction and block each.
    pub swaps: Vec<MinedSwap>,
}

/// Why the lab failed (a swap or case that reverts is a result, not an error).
#[derive(Debug)]
pub enum LabError {
    /// Anvil could not be started.
    Anvil(AnvilError),
    /// A toolchain file or the probe artifact is missing.
    Missing(MissingError),
    /// An artifact could not be read.
    Artifact(ArtifactError),
    /// A request failed.
    Rpc { step: String, source: RpcError },
    /// The deployed contracts are not as expected.
    Deploy(String),
    /// Case `index` cannot be encoded.
    Case { index: usize, why: String },
    /// The probe's answer does not decode.
    Decode(String),
    /// The setup transaction of [`ClmmLab::run_mined`] reverted.
    Setup(Revert),
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anvil(e) => e.fmt(f),
            Self::Missing(e) => e.fmt(f),
            Self::Artifact(e) => e.fmt(f),
            Self::Rpc { step, source } => write!(f, "{step}: {source}"),
            Self::Deploy(why) => write!(f, "clmm lab deployment: {why}"),
            Self::Case { index, why } => write!(f, "case {index}: {why}"),
            Self::Decode(why) => write!(f, "probe answer: {why}"),
            Self::Setup(revert) => write!(f, "case setup {revert}"),
        }
    }
}

impl std::error::Error for LabError {}

impl From<MissingError> for LabError {
    fn from(e: MissingError) -> Self {
        Self::Missing(e)
    }
}

impl From<ArtifactError> for LabError {
    fn from(e: ArtifactError) -> Self {
        Self::Artifact(e)
    }
}

impl From<AnvilError> for LabError {
    fn from(e: AnvilError) -> Self {
        Self::Anvil(e)
    }
}

fn at(step: impl Into<String>) -> impl FnOnce(RpcError) -> LabError {
    let step = step.into();
    move |source| LabError::Rpc { step, source }
}

/// Which Algebra V1 bytecode the lab deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgebraBuild {
    /// The npm `@cryptoalgebra/core` 2.0.0 artifacts (with the factory's init code hash fixed,
    /// see the module docs).
    Npm,
    /// Build artifacts from elsewhere, each a JSON file with the creation `bytecode` (as a string
    /// or as forge's `{"object": ...}`): for instance the same source built with the compiler
    /// settings QuickSwap used, to check that the npm build behaves the same.
    Artifacts {
        /// `AlgebraFactory`.
        factory: PathBuf,
        /// `AlgebraPoolDeployer` (holds its own copy of the pool code).
        pool_deployer: PathBuf,
        /// `AlgebraPool` (only its hash is used, to check the factory's constant).
        pool: PathBuf,
    },
}

/// How to start a [`ClmmLab`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabOpts {
    /// Cases per batch call (pools prepared per kind). 32 by default.
    pub slots: usize,
    /// Batch calls in flight at once. 2 by default (this machine kind has 2 cores).
    pub workers: usize,
    /// Where anvil and the artifacts are.
    pub toolchain: Toolchain,
    /// The Algebra bytecode.
    pub algebra: AlgebraBuild,
}

impl Default for LabOpts {
    fn default() -> Self {
        Self {
            slots: 32,
            workers: 2,
            toolchain: Toolchain::locate(),
            algebra: AlgebraBuild::Npm,
        }
    }
}

/// What [`ClmmLab::start`] deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDeployment {
    /// The account that deployed everything (anvil dev account 0).
    pub deployer: Address,
    /// `ClmmProbe`.
    pub probe: Address,
    /// `UniswapV3Factory`.
    pub v3_factory: Address,
    /// `AlgebraFactory`.
    pub algebra_factory: Address,
    /// `AlgebraPoolDeployer`.
    pub algebra_pool_deployer: Address,
    /// Per slot, its two tokens sorted (the pools' token0, token1).
    pub tokens: Vec<(Address, Address)>,
    /// Per slot, its V3 pools in [`V3_FEE_TIERS`] order.
    pub v3_pools: Vec<[Address; 4]>,
    /// Per slot, its Algebra pool.
    pub algebra_pools: Vec<Address>,
    /// keccak256 of the Algebra pool creation code the pool deployer uses.
    pub algebra_pool_code_hash: B256,
    /// `Some(hash the factory had)` if the factory's hard-coded init code hash was replaced.
    pub algebra_factory_patched: Option<B256>,
}

impl LabDeployment {
    /// The pool of `kind` in slot `slot`.
    pub fn pool(&self, kind: PoolKind, slot: usize) -> Option<Address> {
        match kind {
            PoolKind::UniswapV3 { fee, spacing } => {
                let tier = V3_FEE_TIERS.iter().position(|&t| t == (fee, spacing))?;
                Some(self.v3_pools.get(slot)?[tier])
            }
            PoolKind::Algebra { .. } => self.algebra_pools.get(slot).copied(),
        }
    }
}

/// Anvil with the real V3 and Algebra contracts and the probe. Dropping it stops anvil.
#[derive(Debug)]
pub struct ClmmLab {
    anvil: Anvil,
    rpc: Rpc,
    deployment: LabDeployment,
    workers: usize,
}

impl ClmmLab {
    /// Starts anvil and deploys everything with [`LabOpts::default`].
    pub fn start() -> Result<Self, LabError> {
        Self::start_with(LabOpts::default())
    }

    /// Starts anvil and deploys everything.
    pub fn start_with(opts: LabOpts) -> Result<Self, LabError> {
        if opts.slots == 0 || opts.workers == 0 {
            return Err(LabError::Deploy(
                "slots and workers must be at least 1".to_owned(),
            ));
        }
        let code = Code::load(&opts.toolchain, &opts.algebra)?;
        let anvil = Anvil::start_in(
            &opts.toolchain,
            AnvilOpts {
                extra_args: vec![
                    "--code-size-limit".to_owned(),
                    LAB_CODE_SIZE_LIMIT.to_string(),
                    "--gas-limit".to_owned(),
                    BLOCK_GAS_LIMIT.to_string(),
                ],
                ..AnvilOpts::default()
            },
        )?;
        let rpc = anvil.rpc();
        let deployer = *anvil
            .accounts()
            .first()
            .ok_or_else(|| LabError::Deploy("anvil has no accounts".to_owned()))?;
        let deployment = deploy(&rpc, deployer, &code, opts.slots)?;
        Ok(Self {
            anvil,
            rpc,
            deployment,
            workers: opts.workers,
        })
    }

    /// The node.
    pub fn anvil(&self) -> &Anvil {
        &self.anvil
    }

    /// A client of the node.
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// What was deployed.
    pub fn deployment(&self) -> &LabDeployment {
        &self.deployment
    }

    /// Cases per batch call.
    pub fn slots(&self) -> usize {
        self.deployment.algebra_pools.len()
    }

    /// Runs every case (in batch calls of [`ClmmLab::slots`] cases, several at once), results in
    /// case order. Nothing is mined: the chain is unchanged afterwards.
    pub fn run(&self, cases: &[Case]) -> Result<Vec<CaseResult>, LabError> {
        let encoded = cases
            .iter()
            .enumerate()
            .map(|(index, case)| encode_case(index, case))
            .collect::<Result<Vec<_>, _>>()?;
        let batches: Vec<&[(PoolKind, IClmmProbe::Case)]> = encoded.chunks(self.slots()).collect();
        let next = AtomicUsize::new(0);
        let mut done: Vec<Option<Result<Vec<CaseResult>, LabError>>> =
            (0..batches.len()).map(|_| None).collect();
        thread::scope(|scope| {
            let workers: Vec<_> = (0..self.workers.min(batches.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            let Some(batch) = batches.get(b) else { break };
                            mine.push((b, self.run_batch(batch)));
                        }
                        mine
                    })
                })
                .collect();
            for worker in workers {
                match worker.join() {
                    Ok(results) => {
                        for (b, r) in results {
                            done[b] = Some(r);
                        }
                    }
                    // A worker only panics on a bug here; let it surface as one.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        let mut out = Vec::with_capacity(cases.len());
        for (b, r) in done.into_iter().enumerate() {
            let r = r.ok_or_else(|| LabError::Decode(format!("batch {b} did not run")))?;
            out.extend(r?);
        }
        Ok(out)
    }

    fn run_batch(
        &self,
        batch: &[(PoolKind, IClmmProbe::Case)],
    ) -> Result<Vec<CaseResult>, LabError> {
        let mut cases = Vec::with_capacity(batch.len());
        for (slot, (kind, case)) in batch.iter().enumerate() {
            let mut case = case.clone();
            case.pool = self.slot_pool(*kind, slot)?;
            cases.push(case);
        }
        let call = IClmmProbe::runBatchCall {
            cases: cases.clone(),
        };
        let out = self
            .rpc
            .eth_call_with_gas(
                Some(self.deployment.deployer),
                self.deployment.probe,
                &call.abi_encode(),
                CALL_GAS,
                "latest",
            )
            .map_err(at("runBatch"))?;
        let results = IClmmProbe::runBatchCall::abi_decode_returns(&out)
            .map_err(|e| LabError::Decode(e.to_string()))?;
        if results.len() != cases.len() {
            return Err(LabError::Decode(format!(
                "{} results for {} cases",
                results.len(),
                cases.len()
            )));
        }
        results
            .into_iter()
            .zip(&cases)
            .map(|(r, case)| {
                if r.ok {
                    decode_run(case.pool, r.run).map(Ok)
                } else {
                    Ok(Err(Revert { data: r.revertData }))
                }
            })
            .collect()
    }

    fn slot_pool(&self, kind: PoolKind, slot: usize) -> Result<Address, LabError> {
        self.deployment
            .pool(kind, slot)
            .ok_or_else(|| LabError::Decode(format!("no slot {slot} for {kind:?}")))
    }

    /// Runs one case as mined transactions on slot 0's pool (a setup transaction, then one swap
    /// per block) and observes it only through the pool: its `slot0`/`globalState`, `liquidity`,
    /// fee and token balances. The chain is reverted to its prior state afterwards (anvil
    /// snapshot), so later batches find the pool empty again.
    ///
    /// For Algebra every block's first swap recomputes the fee, so this matches [`ClmmLab::run`]
    /// only for a constant fee (`PoolKind::Algebra { fee: Some(_) }`).
    pub fn run_mined(&self, case: &Case) -> Result<MinedRun, LabError> {
        let snapshot = self.rpc.snapshot().map_err(at("evm_snapshot"))?;
        let run = self.run_mined_inner(case);
        let reverted = self.rpc.revert_to(snapshot).map_err(at("evm_revert"));
        let run = run?;
        match reverted? {
            true => Ok(run),
            false => Err(LabError::Deploy("anvil lost the snapshot".to_owned())),
        }
    }

    /// Mines the setup of `case` (start price, fee configuration, mints; no swaps) on the pool of
    /// slot `slot` and returns that pool. The pool keeps that state: later batches that use the
    /// slot will fail, so wrap this in [`Rpc::snapshot`] / [`Rpc::revert_to`].
    pub fn mine_setup(&self, case: &Case, slot: usize) -> Result<Address, LabError> {
        self.send_setup(case, slot).map(|(_, encoded)| encoded.pool)
    }

    fn send_setup(
        &self,
        case: &Case,
        slot: usize,
    ) -> Result<(PoolKind, IClmmProbe::Case), LabError> {
        let (kind, mut encoded) = encode_case(0, case)?;
        encoded.pool = self.slot_pool(kind, slot)?;
        let setup = IClmmProbe::setupCaseCall { c: encoded.clone() };
        let tx = TxRequest::call(
            self.deployment.deployer,
            self.deployment.probe,
            setup.abi_encode(),
        )
        .with_gas(TX_GAS);
        match self.rpc.transact(&tx) {
            Ok(_) => Ok((kind, encoded)),
            Err(RpcError::Reverted { data, .. }) => Err(LabError::Setup(Revert { data })),
            Err(e) => Err(at("setupCase")(e)),
        }
    }

    fn run_mined_inner(&self, case: &Case) -> Result<MinedRun, LabError> {
        let (_, encoded) = self.send_setup(case, 0)?;
        let pool = encoded.pool;
        let kind = encoded.kind;
        let tokens = *self
            .deployment
            .tokens
            .first()
            .ok_or_else(|| LabError::Decode("no token pair".to_owned()))?;
        let from = self.deployment.deployer;
        let probe = self.deployment.probe;
        let start = read_pool_state(&self.rpc, case.kind.protocol(), pool)?;
        let mut balances = self.pool_balances(pool, tokens)?;
        let mut swaps = Vec::with_capacity(encoded.swaps.len());
        for s in &encoded.swaps {
            let call = IClmmProbe::swapOnceCall {
                kind,
                pool,
                s: s.clone(),
            };
            let outcome = match self
                .rpc
                .transact(&TxRequest::call(from, probe, call.abi_encode()).with_gas(TX_GAS))
            {
                Ok(_) => Ok(()),
                Err(RpcError::Reverted { data, .. }) => Err(Revert { data }),
                Err(e) => return Err(at("swapOnce")(e)),
            };
            let after = read_pool_state(&self.rpc, case.kind.protocol(), pool)?;
            let now = self.pool_balances(pool, tokens)?;
            swaps.push(MinedSwap {
                outcome,
                balance_delta0: signed_delta(balances.0, now.0)?,
                balance_delta1: signed_delta(balances.1, now.1)?,
                after,
            });
            balances = now;
        }
        Ok(MinedRun {
            pool,
            tokens,
            start,
            swaps,
        })
    }

    fn pool_balances(
        &self,
        pool: Address,
        (t0, t1): (Address, Address),
    ) -> Result<(U256, U256), LabError> {
        let b0 = self.rpc.balance_of(t0, pool).map_err(at("balanceOf"))?;
        let b1 = self.rpc.balance_of(t1, pool).map_err(at("balanceOf"))?;
        Ok((b0, b1))
    }
}

fn signed_delta(before: U256, after: U256) -> Result<I256, LabError> {
    let overflow = || LabError::Decode("balance change beyond int256".to_owned());
    if after >= before {
        I256::try_from(after - before).map_err(|_| overflow())
    } else {
        I256::try_from(before - after)
            .map(|d| -d)
            .map_err(|_| overflow())
    }
}

/// Reads the swap-relevant state of a pool through its own view functions, at `latest`.
pub fn read_pool_state(rpc: &Rpc, protocol: Clmm, pool: Address) -> Result<PoolState, LabError> {
    let liquidity = match protocol {
        Clmm::UniswapV3 => rpc.view(pool, &IUniswapV3Pool::liquidityCall {}),
        Clmm::AlgebraV1 => rpc.view(pool, &IAlgebraPool::liquidityCall {}),
    }
    .map_err(at("liquidity()"))?;
    match protocol {
        Clmm::UniswapV3 => {
            let slot0 = rpc
                .view(pool, &IUniswapV3Pool::slot0Call {})
                .map_err(at("slot0()"))?;
            let fee = rpc
                .view(pool, &IUniswapV3Pool::feeCall {})
                .map_err(at("fee()"))?;
            Ok(PoolState {
                sqrt_price: slot0.sqrtPriceX96,
                tick: i24(slot0.tick),
                liquidity,
                fee: fee.to(),
            })
        }
        Clmm::AlgebraV1 => {
            let g = rpc
                .view(pool, &IAlgebraPool::globalStateCall {})
                .map_err(at("globalState()"))?;
            Ok(PoolState {
                sqrt_price: g.price,
                tick: i24(g.tick),
                liquidity,
                fee: u32::from(g.fee),
            })
        }
    }
}

/// An `int24` as `i32`.
pub(crate) fn i24(x: I24) -> i32 {
    // An int24 always fits an i32.
    x.as_i32()
}

fn to_i24(x: i32, what: &str) -> Result<I24, String> {
    I24::try_from(x).map_err(|_| format!("{what} {x} does not fit int24"))
}

/// A case as the probe takes it; the pool address is filled in per batch.
fn encode_case(index: usize, case: &Case) -> Result<(PoolKind, IClmmProbe::Case), LabError> {
    let bad = |why: String| LabError::Case { index, why };
    let (kind, set_fee, fee) = match case.kind {
        PoolKind::UniswapV3 { fee, spacing } => {
            if !V3_FEE_TIERS.contains(&(fee, spacing)) {
                return Err(bad(format!(
                    "no uniswap v3 tier with fee {fee} and spacing {spacing}"
                )));
            }
            (KIND_V3, false, 0)
        }
        PoolKind::Algebra { fee } => (KIND_ALGEBRA, fee.is_some(), fee.unwrap_or(0)),
    };
    let positions = case
        .positions
        .iter()
        .map(|p| {
            Ok(IClmmProbe::Position {
                tickLower: to_i24(p.tick_lower, "tick_lower")?,
                tickUpper: to_i24(p.tick_upper, "tick_upper")?,
                liquidity: p.liquidity,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(bad)?;
    let swaps = case
        .swaps
        .iter()
        .map(|s| IClmmProbe::SwapStep {
            zeroForOne: s.zero_for_one,
            amountSpecified: s.amount_specified,
            sqrtPriceLimitX96: s.sqrt_price_limit,
        })
        .collect();
    Ok((
        case.kind,
        IClmmProbe::Case {
            kind,
            pool: Address::ZERO,
            sqrtPriceX96: case.init_sqrt_price,
            setFee: set_fee,
            fee,
            positions,
            swaps,
        },
    ))
}

fn decode_state(s: &IClmmProbe::PoolState) -> PoolState {
    PoolState {
        sqrt_price: s.sqrtPriceX96,
        tick: i24(s.tick),
        liquidity: s.liquidity,
        fee: s.fee.to::<u32>(),
    }
}

fn decode_run(pool: Address, run: IClmmProbe::CaseRun) -> Result<CaseRun, LabError> {
    if run.minted0.len() != run.minted1.len() {
        return Err(LabError::Decode("mint lists differ in length".to_owned()));
    }
    let minted = run.minted0.into_iter().zip(run.minted1).collect();
    // Every bound was read once per position; keep each tick once, and check the reads agree.
    let mut ticks = BTreeMap::new();
    for t in &run.ticks {
        let tick = TickLiquidity {
            tick: i24(t.tick),
            liquidity_gross: t.liquidityGross,
            liquidity_net: t.liquidityNet,
        };
        if !t.initialized {
            return Err(LabError::Decode(format!(
                "position bound {} is not initialized",
                tick.tick
            )));
        }
        if ticks.insert(tick.tick, tick).is_some_and(|old| old != tick) {
            return Err(LabError::Decode(format!(
                "tick {} read twice with different values",
                tick.tick
            )));
        }
    }
    let start = decode_state(&run.start);
    let mut before = start;
    let swaps = run
        .swaps
        .iter()
        .map(|s| {
            let after = decode_state(&s.after_);
            let outcome = if s.ok {
                Ok(SwapAmounts {
                    amount0: s.amount0,
                    amount1: s.amount1,
                })
            } else {
                Err(Revert {
                    data: s.revertData.clone(),
                })
            };
            let r = SwapRun {
                before,
                outcome,
                after,
            };
            before = after;
            r
        })
        .collect();
    Ok(CaseRun {
        pool,
        tick_spacing: i24(run.tickSpacing),
        minted,
        ticks: ticks.into_values().collect(),
        start,
        swaps,
    })
}

/// The creation code the lab deploys.
struct Code {
    token: Bytes,
    v3_factory: Bytes,
    algebra_factory: Bytes,
    algebra_deployer: Bytes,
    algebra_pool: Bytes,
    probe: Bytes,
}

impl Code {
    fn load(tc: &Toolchain, algebra: &AlgebraBuild) -> Result<Self, LabError> {
        let npm = |a| -> Result<Bytes, LabError> { Ok(load_bytecode(&tc.artifact(a)?)?) };
        let (algebra_factory, algebra_deployer, algebra_pool) = match algebra {
            AlgebraBuild::Npm => (
                npm(Artifact::AlgebraFactory)?,
                npm(Artifact::AlgebraPoolDeployer)?,
                npm(Artifact::AlgebraPool)?,
            ),
            AlgebraBuild::Artifacts {
                factory,
                pool_deployer,
                pool,
            } => (
                load_bytecode(factory)?,
                load_bytecode(pool_deployer)?,
                load_bytecode(pool)?,
            ),
        };
        Ok(Self {
            token: npm(Artifact::TestErc20)?,
            v3_factory: npm(Artifact::UniswapV3Factory)?,
            algebra_factory,
            algebra_deployer,
            algebra_pool,
            probe: load_bytecode(&tc.clmm_probe_artifact()?)?,
        })
    }
}

/// A call that returns a value and changes state: `eth_call` it for the value, then mine it. The
/// node is idle between the two (the lab is its only user), so both see the same state.
fn call_and_send<C: SolCall>(
    rpc: &Rpc,
    from: Address,
    to: Address,
    call: &C,
    step: &str,
) -> Result<C::Return, LabError> {
    let data = call.abi_encode();
    let out = rpc
        .eth_call_with_gas(Some(from), to, &data, TX_GAS, "latest")
        .map_err(at(step))?;
    let value = C::abi_decode_returns(&out).map_err(|e| LabError::Decode(e.to_string()))?;
    rpc.transact(&TxRequest::call(from, to, data).with_gas(TX_GAS))
        .map_err(at(step))?;
    Ok(value)
}

fn deploy(
    rpc: &Rpc,
    deployer: Address,
    code: &Code,
    slots: usize,
) -> Result<LabDeployment, LabError> {
    let deploy_err = |why: String| LabError::Deploy(why);

    // Uniswap V3: the constructor enables 500/10, 3000/60 and 10000/200; 100/1 is ours.
    let (v3_factory, _) = rpc
        .deploy(deployer, code.v3_factory.clone())
        .map_err(at("deploy UniswapV3Factory"))?;
    rpc.transact_call(
        deployer,
        v3_factory,
        &IUniswapV3Factory::enableFeeAmountCall {
            fee: U24::from(100u32),
            tickSpacing: I24::ONE,
        },
    )
    .map_err(at("enableFeeAmount(100, 1)"))?;
    for (fee, spacing) in V3_FEE_TIERS {
        let got = rpc
            .view(
                v3_factory,
                &IUniswapV3Factory::feeAmountTickSpacingCall {
                    fee: U24::from(fee),
                },
            )
            .map_err(at("feeAmountTickSpacing"))?;
        if i24(got) != spacing {
            return Err(deploy_err(format!(
                "v3 fee {fee} has spacing {got}, expected {spacing}"
            )));
        }
    }

    // Algebra V1: deployer, then factory(poolDeployer, vault), then deployer.setFactory.
    let (algebra_deployer, _) = rpc
        .deploy(deployer, code.algebra_deployer.clone())
        .map_err(at("deploy AlgebraPoolDeployer"))?;
    let init = [
        code.algebra_factory.as_ref(),
        &(algebra_deployer, deployer).abi_encode_params(),
    ]
    .concat();
    let (algebra_factory, _) = rpc
        .deploy(deployer, init)
        .map_err(at("deploy AlgebraFactory"))?;
    rpc.transact_call(
        deployer,
        algebra_deployer,
        &IAlgebraPoolDeployer::setFactoryCall {
            factory: algebra_factory,
        },
    )
    .map_err(at("AlgebraPoolDeployer.setFactory"))?;
    let algebra_pool_code_hash = keccak256(&code.algebra_pool);
    let algebra_factory_patched =
        patch_init_code_hash(rpc, algebra_factory, algebra_pool_code_hash)?;

    // The probe makes the tokens (it holds their supply) and the pools.
    let (probe, _) = rpc
        .deploy(deployer, code.probe.clone())
        .map_err(at("deploy ClmmProbe"))?;
    let made = call_and_send(
        rpc,
        deployer,
        probe,
        &IClmmProbe::makeTokensCall {
            creationCode: code.token.clone(),
            supply: U256::MAX,
            count: U256::from(2 * slots),
        },
        "ClmmProbe.makeTokens",
    )?;
    let tokens: Vec<(Address, Address)> = made
        .chunks(2)
        .map(|p| match p {
            [a, b] if a < b => Ok((*a, *b)),
            [a, b] => Ok((*b, *a)),
            _ => Err(deploy_err("odd number of tokens".to_owned())),
        })
        .collect::<Result<_, _>>()?;
    if tokens.len() != slots {
        return Err(deploy_err(format!(
            "{} token pairs for {slots} slots",
            tokens.len()
        )));
    }

    let fees: Vec<U24> = V3_FEE_TIERS.iter().map(|&(f, _)| U24::from(f)).collect();
    let mut v3_pools = Vec::with_capacity(slots);
    let mut algebra_pools = Vec::with_capacity(slots);
    for chunk in tokens.chunks(CREATE_CHUNK) {
        let (a, b): (Vec<_>, Vec<_>) = chunk.iter().copied().unzip();
        let v3 = call_and_send(
            rpc,
            deployer,
            probe,
            &IClmmProbe::createV3PoolsCall {
                factory: v3_factory,
                tokenA: a.clone(),
                tokenB: b.clone(),
                fees: fees.clone(),
            },
            "ClmmProbe.createV3Pools",
        )?;
        for tiers in v3.chunks(V3_FEE_TIERS.len()) {
            let tiers: [Address; 4] = tiers
                .try_into()
                .map_err(|_| deploy_err("v3 pool list of the wrong length".to_owned()))?;
            v3_pools.push(tiers);
        }
        let alg = call_and_send(
            rpc,
            deployer,
            probe,
            &IClmmProbe::createAlgebraPoolsCall {
                factory: algebra_factory,
                tokenA: a,
                tokenB: b,
            },
            "ClmmProbe.createAlgebraPools",
        )?;
        algebra_pools.extend(alg);
    }
    if v3_pools.len() != slots || algebra_pools.len() != slots {
        return Err(deploy_err("pool count differs from slot count".to_owned()));
    }

    // The probe sets Algebra fee configurations, which only the factory owner may.
    rpc.transact_call(
        deployer,
        algebra_factory,
        &IAlgebraFactory::setOwnerCall { owner: probe },
    )
    .map_err(at("AlgebraFactory.setOwner"))?;

    // Batches must run after the Algebra pools' first timepoint, in a later second.
    rpc.increase_time(1).map_err(at("evm_increaseTime"))?;
    rpc.mine().map_err(at("evm_mine"))?;

    Ok(LabDeployment {
        deployer,
        probe,
        v3_factory,
        algebra_factory,
        algebra_pool_deployer: algebra_deployer,
        tokens,
        v3_pools,
        algebra_pools,
        algebra_pool_code_hash,
        algebra_factory_patched,
    })
}

/// If the deployed Algebra factory hard-codes [`ALGEBRA_V1_POOL_INIT_CODE_HASH`] while the pool
/// deployer's pool code hashes to `actual`, replaces that constant (found exactly once, as a
/// `PUSH32` operand) with `actual` in the factory's runtime code. Returns the replaced hash.
pub(crate) fn patch_init_code_hash(
    rpc: &Rpc,
    factory: Address,
    actual: B256,
) -> Result<Option<B256>, LabError> {
    if actual == ALGEBRA_V1_POOL_INIT_CODE_HASH {
        return Ok(None);
    }
    let code = rpc
        .code(factory)
        .map_err(at("eth_getCode(AlgebraFactory)"))?;
    let mut needle = vec![0x7f]; // PUSH32
    needle.extend_from_slice(ALGEBRA_V1_POOL_INIT_CODE_HASH.as_slice());
    let hits: Vec<usize> = code
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_slice())
        .map(|(i, _)| i)
        .collect();
    let [at_offset] = hits.as_slice() else {
        return Err(LabError::Deploy(format!(
            "AlgebraFactory holds its init code hash {} times, expected once",
            hits.len()
        )));
    };
    let mut patched = code.to_vec();
    patched[at_offset + 1..at_offset + 33].copy_from_slice(actual.as_slice());
    rpc.set_code(factory, &patched)
        .map_err(at("anvil_setCode(AlgebraFactory)"))?;
    Ok(Some(ALGEBRA_V1_POOL_INIT_CODE_HASH))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_state(price: u64, tick: i32) -> IClmmProbe::PoolState {
        IClmmProbe::PoolState {
            sqrtPriceX96: U160::from(price),
            tick: I24::try_from(tick).unwrap(),
            liquidity: 7,
            fee: U24::from(500u32),
        }
    }

    fn tick_info(tick: i32, gross: u128, net: i128, initialized: bool) -> IClmmProbe::TickInfo {
        IClmmProbe::TickInfo {
            tick: I24::try_from(tick).unwrap(),
            liquidityGross: gross,
            liquidityNet: net,
            initialized,
        }
    }

    fn run_with(ticks: Vec<IClmmProbe::TickInfo>) -> IClmmProbe::CaseRun {
        IClmmProbe::CaseRun {
            tickSpacing: I24::try_from(10).unwrap(),
            minted0: vec![U256::from(1u8)],
            minted1: vec![U256::from(2u8)],
            ticks,
            start: probe_state(100, -3),
            swaps: vec![
                IClmmProbe::SwapResult {
                    ok: true,
                    revertData: Bytes::new(),
                    amount0: I256::try_from(5).unwrap(),
                    amount1: I256::try_from(-4).unwrap(),
                    after_: probe_state(90, -5),
                },
                IClmmProbe::SwapResult {
                    ok: false,
                    revertData: Bytes::from_static(b"x"),
                    amount0: I256::ZERO,
                    amount1: I256::ZERO,
                    after_: probe_state(90, -5),
                },
            ],
        }
    }

    #[test]
    fn runs_chain_states_and_merge_ticks() {
        let ticks = vec![
            tick_info(20, 3, -3, true),
            tick_info(-10, 3, 3, true),
            tick_info(20, 3, -3, true),
        ];
        let run = decode_run(Address::ZERO, run_with(ticks)).unwrap();
        assert_eq!(run.minted, vec![(U256::from(1u8), U256::from(2u8))]);
        assert_eq!(
            run.ticks.iter().map(|t| t.tick).collect::<Vec<_>>(),
            vec![-10, 20]
        );
        assert_eq!(run.swaps[0].before, run.start);
        assert_eq!(run.swaps[1].before, run.swaps[0].after);
        assert_eq!(run.swaps[1].after.tick, -5);
        assert_eq!(
            run.swaps[1].outcome,
            Err(Revert {
                data: Bytes::from_static(b"x")
            })
        );
    }

    #[test]
    fn contradictory_tick_reads_are_errors() {
        let twice = vec![tick_info(20, 3, -3, true), tick_info(20, 4, -3, true)];
        assert!(decode_run(Address::ZERO, run_with(twice)).is_err());
        let uninitialized = vec![tick_info(20, 0, 0, false)];
        assert!(decode_run(Address::ZERO, run_with(uninitialized)).is_err());
    }

    #[test]
    fn balance_deltas_are_signed() {
        let (a, b) = (U256::from(10u8), U256::from(3u8));
        assert_eq!(signed_delta(a, b).unwrap(), I256::try_from(-7).unwrap());
        assert_eq!(signed_delta(b, a).unwrap(), I256::try_from(7).unwrap());
        assert!(signed_delta(U256::ZERO, U256::MAX).is_err());
    }

    #[test]
    fn cases_encode_or_name_their_problem() {
        let case = Case {
            kind: PoolKind::Algebra { fee: Some(250) },
            init_sqrt_price: U160::from(1u128 << 96),
            positions: vec![Position {
                tick_lower: -60,
                tick_upper: 60,
                liquidity: 1,
            }],
            swaps: Vec::new(),
        };
        let (kind, encoded) = encode_case(0, &case).unwrap();
        assert_eq!(kind, case.kind);
        assert_eq!(
            (encoded.kind, encoded.setFee, encoded.fee),
            (KIND_ALGEBRA, true, 250)
        );
        let v3 = Case {
            kind: PoolKind::UniswapV3 {
                fee: 500,
                spacing: 60,
            },
            ..case.clone()
        };
        assert_eq!(
            encode_case(3, &v3).unwrap_err().to_string(),
            "case 3: no uniswap v3 tier with fee 500 and spacing 60"
        );
        assert_eq!(PoolKind::v3(500).map(PoolKind::tick_spacing), Some(10));
        assert_eq!(PoolKind::v3(501), None);
    }
}
