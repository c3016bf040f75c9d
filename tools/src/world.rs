//! Deploys a test market from real bytecode: tokens, the Uniswap V2 and Pancake factories, pairs
//! with liquidity priced from a per-token price vector, Uniswap V3 and Algebra pools priced from the
//! same vector and seeded with ranges of liquidity (`clmm_world`), the flash-loan lenders
//! (Balancer V2 Vault, Aave V3 Pool: `lenders`), the executor (constructed with the lenders'
//! addresses) funded with start tokens, and `PoolActor` contracts for the accounts that trade on
//! or provide liquidity to the concentrated pools.

use std::{collections::HashMap, fmt, path::PathBuf};

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolValue;

use crate::{
    abi::{IERC20, IExecutor, IUniswapV2Factory, IUniswapV2Pair},
    artifact::{ArtifactError, load_bytecode},
    clmm::{LabError, PoolKind, V3_FEE_TIERS},
    clmm_world::{
        ActorInfo, ClmmCode, ClmmPoolInfo, ClmmPoolSpec, DeployCtx, PlannedPool, deploy_actor,
        deploy_clmm,
    },
    lenders::{
        AAVE_MAX_PREMIUM_BPS, AaveCode, AaveInfo, AaveSpec, BALANCER_MAX_FLASH_LOAN_FEE,
        BalancerCode, BalancerInfo, BalancerSpec, Holding, LenderCtx, deploy_aave, deploy_balancer,
        plan_holdings,
    },
    paths::{Artifact, MissingError, Toolchain, check_executor_artifact},
    rng::SplitMix64,
    rpc::{Rpc, RpcError},
};

/// A Uniswap-V2-style DEX the world can deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dex {
    /// `@uniswap/v2-core`: 0.3 % fee.
    UniswapV2,
    /// `@pancakeswap-libs/pancake-swap-core`: 0.2 % fee.
    PancakeV2,
}

impl Dex {
    /// Both, in config order.
    pub const ALL: [Dex; 2] = [Dex::UniswapV2, Dex::PancakeV2];

    /// Name in the polyarb config.
    pub fn name(self) -> &'static str {
        match self {
            Self::UniswapV2 => "uniswap-v2",
            Self::PancakeV2 => "pancake-v2",
        }
    }

    /// Swap fee, basis points.
    pub fn fee_bps(self) -> u32 {
        match self {
            Self::UniswapV2 => 30,
            Self::PancakeV2 => 20,
        }
    }

    /// The factory's build artifact.
    pub fn factory_artifact(self) -> Artifact {
        match self {
            Self::UniswapV2 => Artifact::UniswapV2Factory,
            Self::PancakeV2 => Artifact::PancakeFactory,
        }
    }

    /// Whether the executor can borrow a cycle's input from the pair (a flash swap): it implements
    /// `uniswapV2Call` only, and Pancake pairs call `pancakeCall` instead.
    pub fn flash_swap(self) -> bool {
        match self {
            Self::UniswapV2 => true,
            Self::PancakeV2 => false,
        }
    }

    /// The revert reason of the pair's invariant check.
    pub fn k_error(self) -> &'static str {
        match self {
            Self::UniswapV2 => "UniswapV2: K",
            Self::PancakeV2 => "Pancake: K",
        }
    }
}

/// A token to deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpec {
    /// Our symbol for it (the test ERC-20 has a fixed on-chain name and symbol).
    pub symbol: String,
    /// Price of one whole token in whole native tokens (all test tokens have 18 decimals).
    pub price_native: f64,
}

/// A pair to create and fill.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSpec {
    /// On which DEX.
    pub dex: Dex,
    /// Token symbols.
    pub a: String,
    /// Token symbols.
    pub b: String,
    /// Multiplies [`WorldSpec::depth_native_wei`] for this pair.
    pub depth_scale: f64,
}

impl PairSpec {
    /// A pair of normal depth.
    pub fn new(dex: Dex, a: &str, b: &str) -> Self {
        Self {
            dex,
            a: a.to_owned(),
            b: b.to_owned(),
            depth_scale: 1.0,
        }
    }
}

/// The executor to deploy and fund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorSpec {
    /// Its forge artifact.
    pub artifact: PathBuf,
    /// Who deploys it, and so owns it.
    pub owner: Address,
    /// Each start token gets this much value, wei of native.
    pub funding_native_wei: u128,
}

impl ExecutorSpec {
    /// The forge artifact of `toolchain`, owned by `owner`, with 1,000 native worth of each start
    /// token.
    pub fn new(toolchain: &Toolchain, owner: Address) -> Self {
        Self {
            artifact: toolchain.executor_artifact_path(),
            owner,
            funding_native_wei: 1_000 * 10u128.pow(18),
        }
    }
}

/// What to deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldSpec {
    /// Deploys tokens (and holds their whole supply), factories and liquidity; `feeToSetter`.
    pub deployer: Address,
    /// Tokens, with prices.
    pub tokens: Vec<TokenSpec>,
    /// Symbol of the native (wrapped) token prices are in; its price must be 1.
    pub native: String,
    /// Symbols of the tokens cycles start from; the executor is funded with these.
    pub start_tokens: Vec<String>,
    /// Pairs.
    pub pairs: Vec<PairSpec>,
    /// Value of each side of a pair of `depth_scale` 1, wei of native.
    pub depth_native_wei: u128,
    /// Each pair's price is off the price vector by a uniform factor in ±`noise_bps`.
    pub noise_bps: u32,
    /// Seed of the noise.
    pub seed: u64,
    /// Total supply minted of each token, raw units.
    pub supply: U256,
    /// The executor, if any.
    pub executor: Option<ExecutorSpec>,
    /// Accounts given `amount` raw units of every token (e.g. traders).
    pub fund: Vec<(Address, U256)>,
    /// Uniswap V3 and Algebra pools, priced from the same vector (with their own noise) and
    /// seeded with [`crate::seed_ladder`] ranges worth `depth_native_wei · depth_scale`.
    pub clmm_pools: Vec<ClmmPoolSpec>,
    /// Accounts that get a `PoolActor` contract (owned by them) holding `amount` raw units of
    /// every token: what trades on the concentrated pools and provides liquidity to them.
    pub actors: Vec<(Address, U256)>,
    /// The Balancer V2 Vault, if any: the executor's `balancerVault` (else zero).
    pub balancer: Option<BalancerSpec>,
    /// The Aave V3 market, if any: its Pool is the executor's `aavePool` (else zero).
    pub aave: Option<AaveSpec>,
}

impl WorldSpec {
    /// The V2 sample market: 8 tokens, 36 pairs (every WMATIC pair and most major pairs on both
    /// DEXes, plus some on one DEX only), so cross-DEX two-hop cycles and triangles exist. No
    /// concentrated pools: V2-only tests start from it and replace tokens and pairs.
    ///
    /// Both lenders: the Balancer Vault holds WMATIC and WETH (fee 0), Aave lists USDC and WETH
    /// (premium 0.05 %), so with flash swaps and own capital every funding source has a use.
    /// A test that replaces the tokens must keep these or replace the lenders too.
    pub fn sample(deployer: Address) -> Self {
        let e18 = 10u128.pow(18);
        let tokens = [
            ("WMATIC", 1.0),
            ("WETH", 5_000.0),
            ("USDC", 2.0),
            ("USDT", 2.0),
            ("DAI", 2.0),
            ("WBTC", 150_000.0),
            ("LINK", 30.0),
            ("AAVE", 400.0),
        ]
        .map(|(symbol, price_native)| TokenSpec {
            symbol: symbol.to_owned(),
            price_native,
        })
        .to_vec();
        let both = [
            ("WMATIC", "WETH", 2.0),
            ("WMATIC", "USDC", 2.0),
            ("WMATIC", "USDT", 1.0),
            ("WMATIC", "DAI", 0.5),
            ("WMATIC", "WBTC", 0.5),
            ("WMATIC", "LINK", 0.5),
            ("WMATIC", "AAVE", 0.3),
            ("WETH", "USDC", 2.0),
            ("WETH", "USDT", 1.0),
            ("WETH", "DAI", 0.5),
            ("WBTC", "WETH", 1.0),
            ("USDC", "USDT", 2.0),
            ("USDC", "DAI", 1.0),
            ("LINK", "WETH", 0.4),
            ("AAVE", "WETH", 0.3),
        ];
        let one = [
            (Dex::UniswapV2, "WBTC", "USDC", 0.5),
            (Dex::PancakeV2, "LINK", "USDC", 0.2),
            (Dex::UniswapV2, "AAVE", "USDC", 0.2),
            (Dex::PancakeV2, "USDT", "DAI", 0.5),
            (Dex::PancakeV2, "WBTC", "USDT", 0.3),
            (Dex::UniswapV2, "LINK", "AAVE", 0.1),
        ];
        let mut pairs = Vec::new();
        for (a, b, scale) in both {
            for dex in Dex::ALL {
                // Pancake pools a little shallower, as on most chains.
                let scale = if dex == Dex::PancakeV2 {
                    scale * 0.6
                } else {
                    scale
                };
                pairs.push(PairSpec {
                    dex,
                    a: a.to_owned(),
                    b: b.to_owned(),
                    depth_scale: scale,
                });
            }
        }
        for (dex, a, b, scale) in one {
            pairs.push(PairSpec {
                dex,
                a: a.to_owned(),
                b: b.to_owned(),
                depth_scale: scale,
            });
        }
        Self {
            deployer,
            tokens,
            native: "WMATIC".to_owned(),
            start_tokens: vec!["WMATIC".to_owned(), "WETH".to_owned(), "USDC".to_owned()],
            pairs,
            depth_native_wei: 100_000 * e18,
            noise_bps: 60,
            seed: 0x5EED_0137,
            supply: U256::from(10u128.pow(36)),
            executor: None,
            fund: Vec::new(),
            clmm_pools: Vec::new(),
            actors: Vec::new(),
            balancer: Some(BalancerSpec::new(&["WMATIC", "WETH"])),
            aave: Some(AaveSpec::new(&["USDC", "WETH"])),
        }
    }

    /// The sample market of every pool kind (what `make-sample` deploys): [`WorldSpec::sample`]
    /// plus [`WorldSpec::sample_clmm_pools`], which sit on pairs that also have V2 pairs, so
    /// cycles across pool kinds exist.
    pub fn sample_all_kinds(deployer: Address) -> Self {
        Self {
            clmm_pools: Self::sample_clmm_pools(),
            ..Self::sample(deployer)
        }
    }

    /// The sample's concentrated pools: 19 Uniswap V3 pools in all four fee tiers (0.01 % on the
    /// stable pair only, 0.05 % / 0.3 % on the majors, 1 % on the long tail) and 8 Algebra pools
    /// (adaptive fee), every one on a token pair that also has V2 pairs.
    pub fn sample_clmm_pools() -> Vec<ClmmPoolSpec> {
        let v3 = [
            (100, "USDC", "USDT", 1.0),
            (500, "USDC", "USDT", 1.0),
            (500, "WMATIC", "WETH", 1.0),
            (3000, "WMATIC", "WETH", 0.5),
            (500, "WMATIC", "USDC", 1.0),
            (3000, "WMATIC", "USDC", 0.5),
            (500, "WETH", "USDC", 1.5),
            (3000, "WETH", "USDC", 0.7),
            (10000, "WETH", "USDC", 0.2),
            (500, "WBTC", "WETH", 0.5),
            (3000, "WBTC", "WETH", 0.3),
            (500, "WETH", "USDT", 0.5),
            (3000, "WETH", "DAI", 0.3),
            (500, "USDC", "DAI", 0.5),
            (3000, "WMATIC", "LINK", 0.3),
            (10000, "WMATIC", "LINK", 0.1),
            (3000, "LINK", "WETH", 0.2),
            (3000, "AAVE", "WETH", 0.2),
            (10000, "WMATIC", "AAVE", 0.1),
        ];
        let algebra = [
            ("WMATIC", "WETH", 0.8),
            ("WMATIC", "USDC", 0.8),
            ("WETH", "USDC", 0.8),
            ("WMATIC", "USDT", 0.4),
            ("USDC", "USDT", 0.6),
            ("WBTC", "WETH", 0.3),
            ("WMATIC", "LINK", 0.2),
            ("AAVE", "WETH", 0.1),
        ];
        let mut pools = Vec::new();
        for (fee, a, b, depth_scale) in v3 {
            if let Some(kind) = PoolKind::v3(fee) {
                pools.push(ClmmPoolSpec {
                    kind,
                    a: a.to_owned(),
                    b: b.to_owned(),
                    depth_scale,
                });
            }
        }
        for (a, b, depth_scale) in algebra {
            pools.push(ClmmPoolSpec {
                kind: PoolKind::Algebra { fee: None },
                a: a.to_owned(),
                b: b.to_owned(),
                depth_scale,
            });
        }
        pools
    }
}

/// A deployed token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// Our symbol.
    pub symbol: String,
    /// Contract.
    pub address: Address,
    /// `decimals()` as the contract reports it.
    pub decimals: u8,
    /// Price used for the liquidity, whole native per whole token.
    pub price_native: f64,
}

/// A deployed factory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DexInfo {
    /// Which DEX.
    pub dex: Dex,
    /// Factory contract.
    pub factory: Address,
    /// Swap fee, basis points.
    pub fee_bps: u32,
}

/// A deployed pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairInfo {
    /// On which DEX.
    pub dex: Dex,
    /// Pair contract.
    pub address: Address,
    /// Index into [`World::tokens`] of the pair's `token0()`.
    pub token0: usize,
    /// Index into [`World::tokens`] of `token1()`.
    pub token1: usize,
    /// Liquidity minted, token0 raw units.
    pub minted0: U256,
    /// Liquidity minted, token1 raw units.
    pub minted1: U256,
}

/// Everything deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// Deployer, holder of the remaining supply.
    pub deployer: Address,
    /// Tokens in spec order.
    pub tokens: Vec<TokenInfo>,
    /// Index of the native token.
    pub native: usize,
    /// Indices of the start tokens.
    pub start_tokens: Vec<usize>,
    /// Factories, in [`Dex::ALL`] order (only those used by a pair).
    pub dexes: Vec<DexInfo>,
    /// Pairs in spec order.
    pub pairs: Vec<PairInfo>,
    /// Executor contract, if deployed.
    pub executor: Option<Address>,
    /// Its owner.
    pub executor_owner: Option<Address>,
    /// `UniswapV3Factory`, if a V3 pool was asked for.
    pub v3_factory: Option<Address>,
    /// `AlgebraFactory`, if an Algebra pool was asked for.
    pub algebra_factory: Option<Address>,
    /// `AlgebraPoolDeployer` (the CREATE2 deployer of Algebra pools).
    pub algebra_pool_deployer: Option<Address>,
    /// Concentrated pools in spec order.
    pub clmm_pools: Vec<ClmmPoolInfo>,
    /// The `PoolActor` owned by the deployer that minted every pool's seed positions.
    pub seeder: Option<Address>,
    /// `PoolActor`s in spec order.
    pub actors: Vec<ActorInfo>,
    /// The Balancer V2 Vault, if deployed.
    pub balancer: Option<BalancerInfo>,
    /// The Aave V3 market, if deployed.
    pub aave: Option<AaveInfo>,
}

impl World {
    /// Index of the token named `symbol`.
    pub fn token(&self, symbol: &str) -> Option<usize> {
        self.tokens.iter().position(|t| t.symbol == symbol)
    }

    /// The factory of `dex`.
    pub fn dex(&self, dex: Dex) -> Option<&DexInfo> {
        self.dexes.iter().find(|d| d.dex == dex)
    }

    /// The pair of tokens `a` and `b` (indices, any order) on `dex`.
    pub fn pair(&self, dex: Dex, a: usize, b: usize) -> Option<&PairInfo> {
        self.pairs.iter().find(|p| {
            p.dex == dex && ((p.token0 == a && p.token1 == b) || (p.token0 == b && p.token1 == a))
        })
    }

    /// The concentrated pool of `kind` for tokens `a` and `b` (indices, any order).
    pub fn clmm_pool(&self, kind: PoolKind, a: usize, b: usize) -> Option<&ClmmPoolInfo> {
        self.clmm_pools.iter().find(|p| {
            p.kind == kind && ((p.token0 == a && p.token1 == b) || (p.token0 == b && p.token1 == a))
        })
    }

    /// The Balancer V2 Vault, if deployed.
    pub fn balancer_vault(&self) -> Option<Address> {
        self.balancer.as_ref().map(|b| b.vault)
    }

    /// The Aave V3 Pool, if deployed.
    pub fn aave_pool(&self) -> Option<Address> {
        self.aave.as_ref().map(|a| a.pool)
    }

    /// The `PoolActor` owned by `owner`.
    pub fn actor(&self, owner: Address) -> Option<Address> {
        self.actors
            .iter()
            .find(|a| a.owner == owner)
            .map(|a| a.address)
    }
}

/// Why a world could not be deployed.
#[derive(Debug)]
pub enum WorldError {
    /// The spec is unusable.
    Spec(String),
    /// A toolchain file or the executor artifact is missing.
    Missing(MissingError),
    /// An artifact could not be read.
    Artifact(ArtifactError),
    /// A JSON-RPC request or transaction failed.
    Rpc { step: String, source: RpcError },
    /// The Algebra factory could not be patched (docs/algebra.md).
    Lab(LabError),
}

impl fmt::Display for WorldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spec(why) => write!(f, "bad world spec: {why}"),
            Self::Missing(e) => e.fmt(f),
            Self::Artifact(e) => e.fmt(f),
            Self::Rpc { step, source } => write!(f, "{step}: {source}"),
            Self::Lab(e) => write!(f, "algebra factory: {e}"),
        }
    }
}

impl std::error::Error for WorldError {}

impl From<MissingError> for WorldError {
    fn from(e: MissingError) -> Self {
        Self::Missing(e)
    }
}

impl From<ArtifactError> for WorldError {
    fn from(e: ArtifactError) -> Self {
        Self::Artifact(e)
    }
}

pub(crate) fn at(step: impl Into<String>) -> impl FnOnce(RpcError) -> WorldError {
    let step = step.into();
    move |source| WorldError::Rpc { step, source }
}

fn spec_err<T>(why: impl Into<String>) -> Result<T, WorldError> {
    Err(WorldError::Spec(why.into()))
}

/// Largest reserve a V2 pair can hold.
const MAX_RESERVE: f64 = 5.192_296_858_534_828e33; // 2^112

/// Deploys `spec` on the node behind `rpc` with the artifacts of `toolchain`.
///
/// Transactions are mined one by one: if the node is not automining, automine is switched on for
/// the deployment and off again after it (also on error).
pub fn deploy_world(
    rpc: &Rpc,
    toolchain: &Toolchain,
    spec: &WorldSpec,
) -> Result<World, WorldError> {
    let plan = Plan::new(toolchain, spec)?;
    let automine = rpc.automine().map_err(at("anvil_getAutomine"))?;
    if !automine {
        rpc.set_automine(true).map_err(at("evm_setAutomine"))?;
    }
    let world = plan.deploy(rpc, spec);
    if !automine {
        let restored = rpc.set_automine(false).map_err(at("evm_setAutomine"));
        // A deployment error is the one to report; a failed restore only after a success.
        if world.is_ok() {
            restored?;
        }
    }
    world
}

/// A checked spec with its bytecode loaded, before anything is sent.
struct Plan {
    native: usize,
    start_tokens: Vec<usize>,
    pairs: Vec<(Dex, usize, usize)>,
    token_code: Bytes,
    factory_code: Vec<(Dex, Bytes)>,
    executor_code: Option<Bytes>,
    clmm_pools: Vec<(usize, usize)>,
    clmm_code: Option<ClmmCode>,
    /// The Vault's code and what it is sent.
    balancer: Option<(BalancerCode, Vec<Holding>)>,
    /// The Aave market's code and what is supplied to it (one reserve each).
    aave: Option<(AaveCode, Vec<Holding>)>,
}

impl Plan {
    fn new(toolchain: &Toolchain, spec: &WorldSpec) -> Result<Self, WorldError> {
        let mut index = HashMap::new();
        for (i, t) in spec.tokens.iter().enumerate() {
            if index.insert(t.symbol.as_str(), i).is_some() {
                return spec_err(format!("token {} twice", t.symbol));
            }
            if !(t.price_native.is_finite() && t.price_native > 0.0) {
                return spec_err(format!("price of {} is {}", t.symbol, t.price_native));
            }
        }
        let find = |s: &str| {
            index
                .get(s)
                .copied()
                .ok_or_else(|| WorldError::Spec(format!("unknown token {s}")))
        };
        let native = find(&spec.native)?;
        if spec.tokens[native].price_native != 1.0 {
            return spec_err(format!("native {} must have price 1", spec.native));
        }
        let start_tokens = spec
            .start_tokens
            .iter()
            .map(|s| find(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pairs = Vec::new();
        for p in &spec.pairs {
            let (a, b) = (find(&p.a)?, find(&p.b)?);
            if a == b {
                return spec_err(format!("pair of {} with itself", p.a));
            }
            if pairs
                .iter()
                .any(|&(d, x, y)| d == p.dex && ((x, y) == (a, b) || (x, y) == (b, a)))
            {
                return spec_err(format!("pair {}/{} twice on {}", p.a, p.b, p.dex.name()));
            }
            if !(p.depth_scale.is_finite() && p.depth_scale > 0.0) {
                return spec_err(format!(
                    "depth scale of {}/{} is {}",
                    p.a, p.b, p.depth_scale
                ));
            }
            pairs.push((p.dex, a, b));
        }
        let mut clmm_pools: Vec<(PoolKind, usize, usize)> = Vec::new();
        for p in &spec.clmm_pools {
            let (a, b) = (find(&p.a)?, find(&p.b)?);
            let name = format!("{}/{} {:?}", p.a, p.b, p.kind);
            if a == b {
                return spec_err(format!("pool of {} with itself", p.a));
            }
            match p.kind {
                PoolKind::UniswapV3 { fee, spacing } if !V3_FEE_TIERS.contains(&(fee, spacing)) => {
                    return spec_err(format!("{name}: no such uniswap v3 fee tier"));
                }
                PoolKind::Algebra { fee: Some(_) } => {
                    return spec_err(format!(
                        "{name}: world algebra pools keep the adaptive fee (fee: None)"
                    ));
                }
                _ => {}
            }
            // Algebra has one pool per pair whatever its fee; V3 one per pair and tier.
            let same = |k: PoolKind| match (k, p.kind) {
                (PoolKind::Algebra { .. }, PoolKind::Algebra { .. }) => true,
                (k, kind) => k == kind,
            };
            if clmm_pools
                .iter()
                .any(|&(k, x, y)| same(k) && ((x, y) == (a, b) || (x, y) == (b, a)))
            {
                return spec_err(format!("{name} twice"));
            }
            if !(p.depth_scale.is_finite() && p.depth_scale > 0.0) {
                return spec_err(format!("depth scale of {name} is {}", p.depth_scale));
            }
            clmm_pools.push((p.kind, a, b));
        }
        if spec.noise_bps >= 10_000 {
            return spec_err("noise_bps must be below 10000");
        }
        let balancer_holdings = match &spec.balancer {
            Some(b) if b.flash_loan_fee > BALANCER_MAX_FLASH_LOAN_FEE => {
                return spec_err(format!(
                    "balancer: flash-loan fee {} is above the collector's cap {BALANCER_MAX_FLASH_LOAN_FEE}",
                    b.flash_loan_fee
                ));
            }
            Some(b) => Some(plan_holdings(
                "balancer",
                &b.tokens,
                b.depth_native_wei,
                &spec.tokens,
                find,
            )?),
            None => None,
        };
        let aave_holdings = match &spec.aave {
            Some(a) if a.premium_bps > AAVE_MAX_PREMIUM_BPS => {
                return spec_err(format!(
                    "aave: premium {} bps is above {AAVE_MAX_PREMIUM_BPS}",
                    a.premium_bps
                ));
            }
            Some(a) => Some(plan_holdings(
                "aave",
                &a.tokens,
                a.depth_native_wei,
                &spec.tokens,
                find,
            )?),
            None => None,
        };
        let token_code = load_bytecode(&toolchain.artifact(Artifact::TestErc20)?)?;
        let mut factory_code = Vec::new();
        for dex in Dex::ALL {
            if pairs.iter().any(|&(d, ..)| d == dex) {
                factory_code.push((
                    dex,
                    load_bytecode(&toolchain.artifact(dex.factory_artifact())?)?,
                ));
            }
        }
        let executor_code = match &spec.executor {
            Some(e) => Some(load_bytecode(&check_executor_artifact(&e.artifact)?)?),
            None => None,
        };
        let clmm_code = if clmm_pools.is_empty() && spec.actors.is_empty() {
            None
        } else {
            let kinds: Vec<PoolKind> = clmm_pools.iter().map(|&(k, ..)| k).collect();
            Some(ClmmCode::load(toolchain, &kinds)?)
        };
        let balancer = match balancer_holdings {
            Some(held) => Some((BalancerCode::load(toolchain)?, held)),
            None => None,
        };
        let aave = match aave_holdings {
            Some(supply) => Some((AaveCode::load(toolchain)?, supply)),
            None => None,
        };
        Ok(Self {
            native,
            start_tokens,
            pairs,
            token_code,
            factory_code,
            executor_code,
            clmm_pools: clmm_pools.into_iter().map(|(_, a, b)| (a, b)).collect(),
            clmm_code,
            balancer,
            aave,
        })
    }

    fn deploy(self, rpc: &Rpc, spec: &WorldSpec) -> Result<World, WorldError> {
        let deployer = spec.deployer;
        let mut tokens = Vec::new();
        for t in &spec.tokens {
            let initcode = [self.token_code.as_ref(), &spec.supply.abi_encode()].concat();
            let (address, _) = rpc
                .deploy(deployer, initcode)
                .map_err(at(format!("deploy token {}", t.symbol)))?;
            let decimals = rpc
                .view(address, &IERC20::decimalsCall {})
                .map_err(at(format!("decimals of {}", t.symbol)))?;
            tokens.push(TokenInfo {
                symbol: t.symbol.clone(),
                address,
                decimals,
                price_native: t.price_native,
            });
        }

        let mut dexes = Vec::new();
        for (dex, code) in &self.factory_code {
            // constructor(address feeToSetter)
            let initcode = [code.as_ref(), &deployer.abi_encode()].concat();
            let (factory, _) = rpc
                .deploy(deployer, initcode)
                .map_err(at(format!("deploy {} factory", dex.name())))?;
            dexes.push(DexInfo {
                dex: *dex,
                factory,
                fee_bps: dex.fee_bps(),
            });
        }

        let mut rng = SplitMix64::new(spec.seed);
        let mut pairs = Vec::new();
        for (p, &(dex, a, b)) in spec.pairs.iter().zip(&self.pairs) {
            let name = format!("{}/{} on {}", p.a, p.b, dex.name());
            let factory = dexes
                .iter()
                .find(|d| d.dex == dex)
                .map(|d| d.factory)
                .ok_or_else(|| WorldError::Spec(format!("no factory for {}", dex.name())))?;
            let (ta, tb) = (tokens[a].address, tokens[b].address);
            rpc.transact_call(
                deployer,
                factory,
                &IUniswapV2Factory::createPairCall {
                    tokenA: ta,
                    tokenB: tb,
                },
            )
            .map_err(at(format!("createPair {name}")))?;
            let address = rpc
                .view(
                    factory,
                    &IUniswapV2Factory::getPairCall {
                        tokenA: ta,
                        tokenB: tb,
                    },
                )
                .map_err(at(format!("getPair {name}")))?;
            let token0 = rpc
                .view(address, &IUniswapV2Pair::token0Call {})
                .map_err(at(format!("token0 {name}")))?;

            let value = spec.depth_native_wei as f64 * p.depth_scale;
            let noise = 1.0 + rng.signed_unit() * f64::from(spec.noise_bps) / 10_000.0;
            let amount_a = reserve(value / tokens[a].price_native, &name)?;
            let amount_b = reserve(value / tokens[b].price_native * noise, &name)?;
            for (token, amount) in [(ta, amount_a), (tb, amount_b)] {
                rpc.transact_call(
                    deployer,
                    token,
                    &IERC20::transferCall {
                        to: address,
                        value: amount,
                    },
                )
                .map_err(at(format!("fund {name}")))?;
            }
            rpc.transact_call(
                deployer,
                address,
                &IUniswapV2Pair::mintCall { to: deployer },
            )
            .map_err(at(format!("mint {name}")))?;
            let (token0, token1, minted0, minted1) = if token0 == ta {
                (a, b, amount_a, amount_b)
            } else {
                (b, a, amount_b, amount_a)
            };
            pairs.push(PairInfo {
                dex,
                address,
                token0,
                token1,
                minted0,
                minted1,
            });
        }

        let planned: Vec<PlannedPool<'_>> = spec
            .clmm_pools
            .iter()
            .zip(&self.clmm_pools)
            .map(|(spec, &(a, b))| PlannedPool { spec, a, b })
            .collect();
        let clmm = match &self.clmm_code {
            Some(code) => {
                let ctx = DeployCtx {
                    rpc,
                    deployer,
                    tokens: &tokens,
                    depth_native_wei: spec.depth_native_wei,
                    noise_bps: spec.noise_bps,
                };
                Some(deploy_clmm(&ctx, code, &planned, &mut rng)?)
            }
            None => None,
        };

        let lender_ctx = LenderCtx {
            rpc,
            deployer,
            tokens: &tokens,
        };
        let balancer = match (&spec.balancer, &self.balancer) {
            (Some(b), Some((code, held))) => Some(deploy_balancer(
                &lender_ctx,
                code,
                b,
                held,
                tokens[self.native].address,
            )?),
            _ => None,
        };
        let aave = match (&spec.aave, &self.aave) {
            (Some(a), Some((code, supply))) => Some(deploy_aave(&lender_ctx, code, a, supply)?),
            _ => None,
        };

        let (mut executor, mut executor_owner) = (None, None);
        if let (Some(e), Some(code)) = (&spec.executor, &self.executor_code) {
            // constructor(address balancerVault, address aavePool); zero: no such lender.
            let lenders = (
                balancer.as_ref().map_or(Address::ZERO, |b| b.vault),
                aave.as_ref().map_or(Address::ZERO, |a| a.pool),
            );
            let mut init = code.to_vec();
            init.extend_from_slice(&lenders.abi_encode_params());
            let (address, _) = rpc
                .deploy(e.owner, Bytes::from(init))
                .map_err(at("deploy executor"))?;
            // The owner runs the routes too in this test world.
            rpc.transact_call(
                e.owner,
                address,
                &IExecutor::setExecutorCall {
                    account: e.owner,
                    allowed: true,
                },
            )
            .map_err(at("make the owner an executor"))?;
            for &i in &self.start_tokens {
                let t = &tokens[i];
                let amount = reserve(
                    e.funding_native_wei as f64 / t.price_native,
                    "executor funding",
                )?;
                rpc.transact_call(
                    deployer,
                    t.address,
                    &IERC20::transferCall {
                        to: address,
                        value: amount,
                    },
                )
                .map_err(at(format!("fund executor with {}", t.symbol)))?;
            }
            executor = Some(address);
            executor_owner = Some(e.owner);
        }

        for &(to, amount) in &spec.fund {
            for t in &tokens {
                rpc.transact_call(
                    deployer,
                    t.address,
                    &IERC20::transferCall { to, value: amount },
                )
                .map_err(at(format!("fund {to} with {}", t.symbol)))?;
            }
        }

        let mut actors = Vec::new();
        if let Some(code) = &self.clmm_code {
            for &(owner, amount) in &spec.actors {
                let address = deploy_actor(rpc, owner, &code.actor)
                    .map_err(at(format!("deploy PoolActor of {owner}")))?;
                for t in &tokens {
                    rpc.transact_call(
                        deployer,
                        t.address,
                        &IERC20::transferCall {
                            to: address,
                            value: amount,
                        },
                    )
                    .map_err(at(format!("fund PoolActor of {owner} with {}", t.symbol)))?;
                }
                actors.push(ActorInfo { owner, address });
            }
        }

        let clmm = clmm.unwrap_or_default();
        Ok(World {
            deployer,
            tokens,
            native: self.native,
            start_tokens: self.start_tokens,
            dexes,
            pairs,
            executor,
            executor_owner,
            v3_factory: clmm.v3_factory,
            algebra_factory: clmm.algebra_factory,
            algebra_pool_deployer: clmm.algebra_pool_deployer,
            clmm_pools: clmm.pools,
            seeder: clmm.seeder,
            actors,
            balancer,
            aave,
        })
    }
}

/// A raw amount from a float computed from prices: positive, below 2^112.
pub(crate) fn reserve(x: f64, what: &str) -> Result<U256, WorldError> {
    if !(1_000.0..MAX_RESERVE).contains(&x) {
        return spec_err(format!("{what}: amount {x:e} is outside [1000, 2^112)"));
    }
    // Drops the fraction (floats above 2^53 have none).
    Ok(U256::from(x as u128))
}

/// Calls `owner()` on the executor, for checks.
pub fn executor_owner(rpc: &Rpc, executor: Address) -> Result<Address, RpcError> {
    rpc.view(executor, &IExecutor::ownerCall {})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn sample_of_all_kinds_mixes_kinds_on_shared_pairs() {
        let spec = WorldSpec::sample_all_kinds(Address::ZERO);
        assert!(WorldSpec::sample(Address::ZERO).clmm_pools.is_empty());
        assert!(spec.pairs.len() + spec.clmm_pools.len() >= 40);
        let key = |a: &str, b: &str| {
            if a < b {
                (a.to_owned(), b.to_owned())
            } else {
                (b.to_owned(), a.to_owned())
            }
        };
        let v2: BTreeSet<_> = spec.pairs.iter().map(|p| key(&p.a, &p.b)).collect();
        let mut tiers = BTreeSet::new();
        let mut algebra = 0;
        for p in &spec.clmm_pools {
            assert!(v2.contains(&key(&p.a, &p.b)), "{p:?} has no V2 pair");
            match p.kind {
                PoolKind::UniswapV3 { fee, .. } => {
                    tiers.insert(fee);
                }
                PoolKind::Algebra { fee } => {
                    assert_eq!(fee, None, "adaptive fee");
                    algebra += 1;
                }
            }
        }
        assert!(tiers.len() >= 3 && algebra >= 2, "{tiers:?} {algebra}");
    }
}
