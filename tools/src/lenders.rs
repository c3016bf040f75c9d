//! The test world's flash-loan lenders, deployed from the bytecode their makers shipped on npm:
//! the Balancer V2 Vault with its Authorizer (`@balancer-labs/v2-deployments`, tasks
//! 20210418-authorizer and 20210418-vault) and an Aave V3 market (`@aave/core-v3` 1.19.3: the
//! addresses provider, the Pool with its seven logic libraries linked, the ACL manager, the
//! configurator, one reserve per listed token).
//!
//! The sequences are those of the forge fixtures (contracts/test/utils/Balancer.sol and Aave.sol),
//! sent over JSON-RPC from the world's deployer, which is the Authorizer's admin, the addresses
//! provider's owner, the ACL admin and the pool admin. Not a copy of either production market:
//! one interest rate strategy (Aave's stablecoin rates) serves every reserve, and no reserve has
//! an oracle or collateral parameters, so the market lends by flash loan only.

use std::path::PathBuf;

use alloy_primitives::{Address, Bytes, U256, hex, keccak256};
use alloy_sol_types::{SolCall, SolValue};
use serde_json::Value;

use crate::{
    abi::{
        IAaveAclManager, IAavePool, IAavePoolAddressesProvider, IAavePoolConfigurator,
        IBalancerAuthorizer, IBalancerProtocolFeesCollector, IBalancerVault, IERC20,
    },
    artifact::ArtifactError,
    paths::{AaveLibrary, Artifact, Toolchain},
    rpc::Rpc,
    world::{TokenInfo, TokenSpec, WorldError, at, reserve},
};

/// Highest Balancer flash-loan fee, 18-decimal fraction: the ProtocolFeesCollector refuses more
/// than 1 %.
pub const BALANCER_MAX_FLASH_LOAN_FEE: u64 = 10u64.pow(16);

/// Highest Aave flash-loan premium, basis points: 100 % (`PercentageMath.PERCENTAGE_FACTOR`).
pub const AAVE_MAX_PREMIUM_BPS: u16 = 10_000;

/// Default value a lender holds of each of its tokens, wei of native: ten times the deepest
/// sample pair, so a loan is limited by the pools, not by the lender.
pub const LENDER_DEPTH_NATIVE_WEI: u128 = 1_000_000 * 10u128.pow(18);

/// Balancer's pause window and buffer period, seconds: the longest the Vault accepts (90 and 30
/// days), as Balancer deployed it.
const PAUSE_WINDOW_S: u64 = 90 * 24 * 3600;
const BUFFER_PERIOD_S: u64 = 30 * 24 * 3600;

/// The Aave addresses provider's market id.
const AAVE_MARKET_ID: &str = "polyarb test market";

/// 1e27: Aave's ray, the unit of its rates and ratios.
const RAY: u128 = 10u128.pow(27);

/// The Balancer V2 Vault to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancerSpec {
    /// Symbols of the tokens the Vault holds, and so lends (it lends its raw balance).
    pub tokens: Vec<String>,
    /// Value of each token sent to the Vault, wei of native.
    pub depth_native_wei: u128,
    /// Flash-loan fee, 18-decimal fraction of the amount (1e18 = 100 %; at most
    /// [`BALANCER_MAX_FLASH_LOAN_FEE`]). 0, the Vault's own default, leaves governance untouched.
    pub flash_loan_fee: u64,
}

impl BalancerSpec {
    /// A Vault holding [`LENDER_DEPTH_NATIVE_WEI`] of each of `tokens`, fee 0 (as on Polygon).
    pub fn new(tokens: &[&str]) -> Self {
        Self {
            tokens: tokens.iter().map(|&s| s.to_owned()).collect(),
            depth_native_wei: LENDER_DEPTH_NATIVE_WEI,
            flash_loan_fee: 0,
        }
    }
}

/// The Aave V3 market to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AaveSpec {
    /// Symbols of the tokens listed as reserves, flash loans enabled, and supplied.
    pub tokens: Vec<String>,
    /// Value of each token supplied by the deployer, wei of native.
    pub depth_native_wei: u128,
    /// `FLASHLOAN_PREMIUM_TOTAL`, basis points of the amount (at most [`AAVE_MAX_PREMIUM_BPS`]).
    pub premium_bps: u16,
}

impl AaveSpec {
    /// A market supplied with [`LENDER_DEPTH_NATIVE_WEI`] of each of `tokens`, premium 5 bps
    /// (0.05 %, Aave V3's on Polygon).
    pub fn new(tokens: &[&str]) -> Self {
        Self {
            tokens: tokens.iter().map(|&s| s.to_owned()).collect(),
            depth_native_wei: LENDER_DEPTH_NATIVE_WEI,
            premium_bps: 5,
        }
    }
}

/// A token a lender holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// Index into [`crate::World::tokens`].
    pub token: usize,
    /// What the deployer put in, raw units.
    pub amount: U256,
}

/// The deployed Balancer V2 Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancerInfo {
    /// The Vault: `flashLoan`, the executor's `balancerVault`.
    pub vault: Address,
    /// Its Authorizer (admin: the deployer).
    pub authorizer: Address,
    /// The ProtocolFeesCollector the Vault created: holds the flash-loan fee setting and receives
    /// the fees.
    pub fees_collector: Address,
    /// Flash-loan fee, 18-decimal fraction (1e18 = 100 %).
    pub flash_loan_fee: u64,
    /// Tokens sent to the Vault, spec order.
    pub holdings: Vec<Holding>,
}

impl BalancerInfo {
    /// What the Vault charges on a loan of `amount` (raw units): `amount · fee / 1e18` rounded
    /// up (Balancer's `FixedPoint.mulUp`); `None` on overflow.
    pub fn fee(&self, amount: U256) -> Option<U256> {
        let scaled = amount.checked_mul(U256::from(self.flash_loan_fee))?;
        Some(scaled.div_ceil(U256::from(10u64.pow(18))))
    }

    /// What the Vault holds of token `token` (index), as funded.
    pub fn holding(&self, token: usize) -> Option<U256> {
        self.holdings
            .iter()
            .find(|h| h.token == token)
            .map(|h| h.amount)
    }
}

/// A listed Aave reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AaveReserve {
    /// Index into [`crate::World::tokens`] of the underlying.
    pub token: usize,
    /// The reserve's aToken (a proxy), which holds the supplied underlying.
    pub a_token: Address,
    /// Underlying supplied by the deployer, raw units.
    pub supplied: U256,
}

/// The deployed Aave V3 market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AaveInfo {
    /// The Pool (the provider's proxy): `flashLoanSimple`, the executor's `aavePool`.
    pub pool: Address,
    /// `PoolAddressesProvider` (owner: the deployer).
    pub addresses_provider: Address,
    /// The PoolConfigurator (the provider's proxy).
    pub configurator: Address,
    /// `ACLManager` (ACL admin and pool admin: the deployer).
    pub acl_manager: Address,
    /// `FLASHLOAN_PREMIUM_TOTAL`, basis points.
    pub premium_bps: u16,
    /// Reserves, spec order.
    pub reserves: Vec<AaveReserve>,
}

impl AaveInfo {
    /// What the Pool charges on a loan of `amount` (raw units): `amount · premium / 10,000`
    /// rounded half up (Aave's `percentMul`); `None` on overflow.
    pub fn premium(&self, amount: U256) -> Option<U256> {
        let scaled = amount.checked_mul(U256::from(self.premium_bps))?;
        Some(scaled.checked_add(U256::from(5_000))? / U256::from(10_000))
    }

    /// The reserve of token `token` (index).
    pub fn reserve(&self, token: usize) -> Option<&AaveReserve> {
        self.reserves.iter().find(|r| r.token == token)
    }
}

/// What `lender` is to hold: each of `symbols` (an index into `tokens` via `find`, no repeats)
/// worth `depth_native_wei` at its spec price. Checked before anything is sent.
pub(crate) fn plan_holdings(
    lender: &str,
    symbols: &[String],
    depth_native_wei: u128,
    tokens: &[TokenSpec],
    find: impl Fn(&str) -> Result<usize, WorldError>,
) -> Result<Vec<Holding>, WorldError> {
    let in_lender = |e| match e {
        WorldError::Spec(why) => WorldError::Spec(format!("{lender}: {why}")),
        e => e,
    };
    let mut out: Vec<Holding> = Vec::new();
    for s in symbols {
        let token = find(s).map_err(in_lender)?;
        if out.iter().any(|h| h.token == token) {
            return Err(WorldError::Spec(format!("{lender}: token {s} twice")));
        }
        let amount = reserve(
            depth_native_wei as f64 / tokens[token].price_native,
            &format!("depth of {s}"),
        )
        .map_err(in_lender)?;
        out.push(Holding { token, amount });
    }
    Ok(out)
}

/// The Balancer creation codes.
#[derive(Debug, Clone)]
pub(crate) struct BalancerCode {
    authorizer: Bytes,
    vault: Bytes,
}

impl BalancerCode {
    pub(crate) fn load(toolchain: &Toolchain) -> Result<Self, WorldError> {
        Ok(Self {
            authorizer: Unlinked::load(toolchain, Artifact::BalancerAuthorizer)?.link(&[])?,
            vault: Unlinked::load(toolchain, Artifact::BalancerVault)?.link(&[])?,
        })
    }
}

/// The Aave creation codes; the Pool, the PoolConfigurator and `FlashLoanLogic` still to link.
#[derive(Debug, Clone)]
pub(crate) struct AaveCode {
    provider: Bytes,
    libs: Vec<(AaveLibrary, Unlinked)>,
    pool: Unlinked,
    acl: Bytes,
    configurator: Unlinked,
    a_token: Bytes,
    stable_debt: Bytes,
    variable_debt: Bytes,
    strategy: Bytes,
}

impl AaveCode {
    pub(crate) fn load(toolchain: &Toolchain) -> Result<Self, WorldError> {
        let plain =
            |a| -> Result<Bytes, WorldError> { Ok(Unlinked::load(toolchain, a)?.link(&[])?) };
        let mut libs = Vec::new();
        for lib in AaveLibrary::POOL
            .into_iter()
            .chain([AaveLibrary::Configurator])
        {
            libs.push((lib, Unlinked::load(toolchain, Artifact::AaveLogic(lib))?));
        }
        Ok(Self {
            provider: plain(Artifact::AavePoolAddressesProvider)?,
            libs,
            pool: Unlinked::load(toolchain, Artifact::AavePool)?,
            acl: plain(Artifact::AaveAclManager)?,
            configurator: Unlinked::load(toolchain, Artifact::AavePoolConfigurator)?,
            a_token: plain(Artifact::AaveAToken)?,
            stable_debt: plain(Artifact::AaveStableDebtToken)?,
            variable_debt: plain(Artifact::AaveVariableDebtToken)?,
            strategy: plain(Artifact::AaveInterestRateStrategy)?,
        })
    }
}

/// Creation code from a build artifact with its library links still open: Hardhat's
/// `bytecode` (Aave) or a Balancer task's `creationCode`, as hex, and where each library goes.
#[derive(Debug, Clone)]
struct Unlinked {
    path: PathBuf,
    hex: String,
    /// Fully qualified library name (`file.sol:Name`) and the hex-digit offsets of its
    /// placeholders, from the artifact's `linkReferences`.
    links: Vec<(String, Vec<usize>)>,
}

impl Unlinked {
    fn load(toolchain: &Toolchain, artifact: Artifact) -> Result<Self, WorldError> {
        let path = toolchain.artifact(artifact)?;
        let text = std::fs::read_to_string(&path).map_err(|source| ArtifactError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self::parse(path, &text)?)
    }

    /// Parses and checks an artifact: every link reference holds the placeholder solc writes
    /// for its library, and the code is hex once linked.
    fn parse(path: PathBuf, text: &str) -> Result<Self, ArtifactError> {
        let bad = |message: String| ArtifactError::BadHex {
            path: path.clone(),
            message,
        };
        let json: Value = serde_json::from_str(text).map_err(|e| ArtifactError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let code = json
            .get("creationCode")
            .or_else(|| json.get("bytecode"))
            .and_then(Value::as_str)
            .map(|s| s.strip_prefix("0x").unwrap_or(s))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ArtifactError::NoBytecode { path: path.clone() })?;
        let mut links = Vec::new();
        if let Some(files) = json.get("linkReferences").and_then(Value::as_object) {
            for (file, libs) in files {
                for (name, refs) in libs.as_object().into_iter().flatten() {
                    let fq = format!("{file}:{name}");
                    let want = link_placeholder(&fq);
                    let mut starts = Vec::new();
                    for r in refs.as_array().into_iter().flatten() {
                        let start = r.get("start").and_then(Value::as_u64);
                        let length = r.get("length").and_then(Value::as_u64);
                        let (Some(start), Some(20)) = (start, length) else {
                            return Err(bad(format!("bad link reference of {fq}: {r}")));
                        };
                        let at = usize::try_from(start)
                            .ok()
                            .and_then(|s| s.checked_mul(2))
                            .filter(|&at| {
                                let end = at.checked_add(40);
                                end.and_then(|end| code.get(at..end)) == Some(want.as_str())
                            })
                            .ok_or_else(|| {
                                bad(format!("no placeholder of {fq} at byte {start}"))
                            })?;
                        starts.push(at);
                    }
                    links.push((fq, starts));
                }
            }
        }
        let unlinked = Self {
            path: path.clone(),
            hex: code.to_owned(),
            links,
        };
        // Linked to anything, the code must be plain hex: a bad artifact fails here, before
        // any transaction.
        let any: Vec<(String, Address)> = unlinked
            .links
            .iter()
            .map(|(fq, _)| (fq.clone(), Address::ZERO))
            .collect();
        unlinked.link(&any)?;
        Ok(unlinked)
    }

    /// The creation code with each library `(fully qualified name, address)` written into its
    /// placeholders; every library the code links must be given.
    fn link(&self, libs: &[(String, Address)]) -> Result<Bytes, ArtifactError> {
        let mut code = self.hex.clone();
        for (fq, starts) in &self.links {
            let Some((_, address)) = libs.iter().find(|(name, _)| name == fq) else {
                return Err(ArtifactError::BadHex {
                    path: self.path.clone(),
                    message: format!("library {fq} is not deployed"),
                });
            };
            let digits = hex::encode(address);
            for &at in starts {
                code.replace_range(at..at + 40, &digits);
            }
        }
        hex::decode(&code)
            .map(Bytes::from)
            .map_err(|e| ArtifactError::BadHex {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }
}

/// solc's placeholder for library `fq` (`path.sol:Name`) in unlinked code:
/// `__$` + the first 34 hex digits of keccak256(fq) + `$__`, 40 characters, an address's width.
fn link_placeholder(fq: &str) -> String {
    let h = hex::encode(keccak256(fq.as_bytes()));
    format!("__${}$__", &h[..34])
}

/// What the lenders are deployed with.
pub(crate) struct LenderCtx<'a> {
    pub(crate) rpc: &'a Rpc,
    /// Sends every transaction; holds the token supply.
    pub(crate) deployer: Address,
    pub(crate) tokens: &'a [TokenInfo],
}

impl LenderCtx<'_> {
    fn deploy(&self, what: &str, code: &[u8], args: &[u8]) -> Result<Address, WorldError> {
        let initcode = [code, args].concat();
        let (address, _) = self
            .rpc
            .deploy(self.deployer, initcode)
            .map_err(at(format!("deploy {what}")))?;
        Ok(address)
    }

    fn send<C: SolCall>(&self, what: String, to: Address, call: &C) -> Result<(), WorldError> {
        self.rpc
            .transact_call(self.deployer, to, call)
            .map_err(at(what))?;
        Ok(())
    }

    fn view<C: SolCall>(&self, what: &str, to: Address, call: &C) -> Result<C::Return, WorldError> {
        self.rpc.view(to, call).map_err(at(what))
    }
}

/// Deploys the Authorizer and the Vault (`weth`: the token the Vault would wrap native into; only
/// stored), sets the flash-loan fee if it is not 0, and sends the Vault `holdings`.
pub(crate) fn deploy_balancer(
    ctx: &LenderCtx<'_>,
    code: &BalancerCode,
    spec: &BalancerSpec,
    holdings: &[Holding],
    weth: Address,
) -> Result<BalancerInfo, WorldError> {
    let authorizer = ctx.deploy(
        "balancer authorizer",
        &code.authorizer,
        &ctx.deployer.abi_encode(),
    )?;
    let args = (
        authorizer,
        weth,
        U256::from(PAUSE_WINDOW_S),
        U256::from(BUFFER_PERIOD_S),
    )
        .abi_encode_params();
    let vault = ctx.deploy("balancer vault", &code.vault, &args)?;
    let fees_collector = ctx.view(
        "balancer getProtocolFeesCollector",
        vault,
        &IBalancerVault::getProtocolFeesCollectorCall {},
    )?;
    if spec.flash_loan_fee != 0 {
        // As governance would: grant the deployer the collector's action, then use it.
        let action = ctx.view(
            "balancer getActionId",
            fees_collector,
            &IBalancerProtocolFeesCollector::getActionIdCall {
                selector: IBalancerProtocolFeesCollector::setFlashLoanFeePercentageCall::SELECTOR
                    .into(),
            },
        )?;
        ctx.send(
            "balancer grantRole".to_owned(),
            authorizer,
            &IBalancerAuthorizer::grantRoleCall {
                role: action,
                account: ctx.deployer,
            },
        )?;
        ctx.send(
            "balancer setFlashLoanFeePercentage".to_owned(),
            fees_collector,
            &IBalancerProtocolFeesCollector::setFlashLoanFeePercentageCall {
                newFlashLoanFeePercentage: U256::from(spec.flash_loan_fee),
            },
        )?;
    }
    for h in holdings {
        let t = &ctx.tokens[h.token];
        ctx.send(
            format!("fund balancer vault with {}", t.symbol),
            t.address,
            &IERC20::transferCall {
                to: vault,
                value: h.amount,
            },
        )?;
    }
    Ok(BalancerInfo {
        vault,
        authorizer,
        fees_collector,
        flash_loan_fee: spec.flash_loan_fee,
        holdings: holdings.to_vec(),
    })
}

/// Deploys an Aave V3 market as contracts/test/utils/Aave.sol does: addresses provider, logic
/// libraries, Pool implementation and its proxy, ACL manager, configurator; then lists the tokens
/// of `supply` in one `initReserves`, enables their flash loans, supplies them from the deployer
/// and sets the premium.
pub(crate) fn deploy_aave(
    ctx: &LenderCtx<'_>,
    code: &AaveCode,
    spec: &AaveSpec,
    supply: &[Holding],
) -> Result<AaveInfo, WorldError> {
    let me = ctx.deployer;
    let provider = ctx.deploy(
        "aave PoolAddressesProvider",
        &code.provider,
        &(AAVE_MARKET_ID.to_owned(), me).abi_encode_params(),
    )?;
    // In dependency order (AaveLibrary::POOL puts BorrowLogic before FlashLoanLogic).
    let mut linked: Vec<(String, Address)> = Vec::new();
    for (lib, unlinked) in &code.libs {
        let initcode = unlinked.link(&linked)?;
        let address = ctx.deploy(lib.name(), &initcode, &[])?;
        linked.push((lib.fully_qualified_name(), address));
    }
    let pool_impl = ctx.deploy(
        "aave Pool",
        &code.pool.link(&linked)?,
        &provider.abi_encode(),
    )?;
    // The provider makes the proxy and calls `initialize(provider)` through it.
    ctx.send(
        "aave setPoolImpl".to_owned(),
        provider,
        &IAavePoolAddressesProvider::setPoolImplCall {
            newPoolImpl: pool_impl,
        },
    )?;
    let pool = ctx.view(
        "aave getPool",
        provider,
        &IAavePoolAddressesProvider::getPoolCall {},
    )?;

    // The ACL manager's constructor reads the ACL admin, so that comes first.
    ctx.send(
        "aave setACLAdmin".to_owned(),
        provider,
        &IAavePoolAddressesProvider::setACLAdminCall { newAclAdmin: me },
    )?;
    let acl_manager = ctx.deploy("aave ACLManager", &code.acl, &provider.abi_encode())?;
    ctx.send(
        "aave setACLManager".to_owned(),
        provider,
        &IAavePoolAddressesProvider::setACLManagerCall {
            newAclManager: acl_manager,
        },
    )?;
    ctx.send(
        "aave addPoolAdmin".to_owned(),
        acl_manager,
        &IAaveAclManager::addPoolAdminCall { admin: me },
    )?;
    let configurator_impl = ctx.deploy(
        "aave PoolConfigurator",
        &code.configurator.link(&linked)?,
        &[],
    )?;
    ctx.send(
        "aave setPoolConfiguratorImpl".to_owned(),
        provider,
        &IAavePoolAddressesProvider::setPoolConfiguratorImplCall {
            newPoolConfiguratorImpl: configurator_impl,
        },
    )?;
    let configurator = ctx.view(
        "aave getPoolConfigurator",
        provider,
        &IAavePoolAddressesProvider::getPoolConfiguratorCall {},
    )?;

    let mut reserves = Vec::new();
    if !supply.is_empty() {
        // Millionths to ray.
        let ray = |ppm: u128| U256::from(ppm * (RAY / 1_000_000));
        // Aave's stablecoin rates, as the forge fixture: optimal usage 90 %, base variable rate
        // 0, slopes 4 % / 60 %, stable slopes 0.5 % / 60 %, stable offsets 1 % / 8 %, optimal
        // stable share 20 % (all ray). Flash loans never read them; supply does.
        let rates = (
            provider,
            ray(900_000),
            U256::ZERO,
            ray(40_000),
            ray(600_000),
            ray(5_000),
            ray(600_000),
            ray(10_000),
            ray(80_000),
            ray(200_000),
        )
            .abi_encode_params();
        let strategy = ctx.deploy("aave interest rate strategy", &code.strategy, &rates)?;
        // One implementation of each token serves every reserve, behind a proxy per reserve.
        let a_token_impl = ctx.deploy("aave AToken", &code.a_token, &pool.abi_encode())?;
        let stable_impl = ctx.deploy(
            "aave StableDebtToken",
            &code.stable_debt,
            &pool.abi_encode(),
        )?;
        let variable_impl = ctx.deploy(
            "aave VariableDebtToken",
            &code.variable_debt,
            &pool.abi_encode(),
        )?;
        let input = supply
            .iter()
            .map(|h| {
                let t = &ctx.tokens[h.token];
                IAavePoolConfigurator::InitReserveInput {
                    aTokenImpl: a_token_impl,
                    stableDebtTokenImpl: stable_impl,
                    variableDebtTokenImpl: variable_impl,
                    underlyingAssetDecimals: t.decimals,
                    interestRateStrategyAddress: strategy,
                    underlyingAsset: t.address,
                    // Gets nothing while the reserve factor is 0, as here.
                    treasury: me,
                    incentivesController: Address::ZERO,
                    aTokenName: format!("Aave test {}", t.symbol),
                    aTokenSymbol: format!("a{}", t.symbol),
                    variableDebtTokenName: format!("Aave test variable debt {}", t.symbol),
                    variableDebtTokenSymbol: format!("variableDebt{}", t.symbol),
                    stableDebtTokenName: format!("Aave test stable debt {}", t.symbol),
                    stableDebtTokenSymbol: format!("stableDebt{}", t.symbol),
                    params: Bytes::new(),
                }
            })
            .collect();
        ctx.send(
            "aave initReserves".to_owned(),
            configurator,
            &IAavePoolConfigurator::initReservesCall { input },
        )?;
        for h in supply {
            let t = &ctx.tokens[h.token];
            ctx.send(
                format!("aave setReserveFlashLoaning {}", t.symbol),
                configurator,
                &IAavePoolConfigurator::setReserveFlashLoaningCall {
                    asset: t.address,
                    enabled: true,
                },
            )?;
            let supplied = h.amount;
            ctx.send(
                format!("approve aave pool for {}", t.symbol),
                t.address,
                &IERC20::approveCall {
                    spender: pool,
                    value: supplied,
                },
            )?;
            ctx.send(
                format!("aave supply {}", t.symbol),
                pool,
                &IAavePool::supplyCall {
                    asset: t.address,
                    amount: supplied,
                    onBehalfOf: me,
                    referralCode: 0,
                },
            )?;
            let data = ctx.view(
                &format!("aave getReserveData {}", t.symbol),
                pool,
                &IAavePool::getReserveDataCall { asset: t.address },
            )?;
            reserves.push(AaveReserve {
                token: h.token,
                a_token: data.aTokenAddress,
                supplied,
            });
        }
    }
    // `Pool.initialize` in this release sets no premium: it starts at 0.
    if spec.premium_bps != 0 {
        ctx.send(
            "aave updateFlashloanPremiumTotal".to_owned(),
            configurator,
            &IAavePoolConfigurator::updateFlashloanPremiumTotalCall {
                newFlashloanPremiumTotal: u128::from(spec.premium_bps),
            },
        )?;
    }
    Ok(AaveInfo {
        pool,
        addresses_provider: provider,
        configurator,
        acl_manager,
        premium_bps: spec.premium_bps,
        reserves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Unlinked, String> {
        Unlinked::parse(PathBuf::from("x.json"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn placeholder_is_solcs() {
        // From the npm Pool artifact: BorrowLogic's placeholder at its first link reference.
        assert_eq!(
            link_placeholder("contracts/protocol/libraries/logic/BorrowLogic.sol:BorrowLogic"),
            "__$c3724b8d563dc83a94e797176cddecb3b9$__"
        );
        assert_eq!(
            link_placeholder(&AaveLibrary::Borrow.fully_qualified_name()),
            "__$c3724b8d563dc83a94e797176cddecb3b9$__"
        );
    }

    #[test]
    fn links_every_reference_and_refuses_a_missing_library() {
        let fq = "a.sol:L";
        let ph = link_placeholder(fq);
        let text = format!(
            r#"{{"bytecode":"0x60{ph}61{ph}","linkReferences":{{"a.sol":{{"L":[{{"start":1,"length":20}},{{"start":22,"length":20}}]}}}}}}"#
        );
        let code = parse(&text).unwrap();
        let lib = Address::repeat_byte(0xab);
        let linked = code.link(&[(fq.to_owned(), lib)]).unwrap();
        let mut want = vec![0x60];
        want.extend_from_slice(lib.as_slice());
        want.push(0x61);
        want.extend_from_slice(lib.as_slice());
        assert_eq!(linked.to_vec(), want);
        let err = code.link(&[]).unwrap_err().to_string();
        assert!(err.ends_with("library a.sol:L is not deployed"), "{err}");
    }

    #[test]
    fn bad_artifacts_are_refused() {
        // Balancer's shape: `creationCode`, no prefix, no links.
        assert_eq!(
            parse(r#"{"creationCode":"6001"}"#)
                .unwrap()
                .link(&[])
                .unwrap()
                .to_vec(),
            [0x60, 0x01]
        );
        assert!(
            parse(r#"{"abi":[]}"#)
                .unwrap_err()
                .contains("no creation bytecode")
        );
        // A placeholder the link references do not name.
        let stray = format!(r#"{{"bytecode":"60{}"}}"#, link_placeholder("a.sol:L"));
        assert!(parse(&stray).unwrap_err().contains("unusable bytecode"));
        // A link reference where the placeholder is not.
        let moved = format!(
            r#"{{"bytecode":"6060{}","linkReferences":{{"a.sol":{{"L":[{{"start":1,"length":20}}]}}}}}}"#,
            link_placeholder("a.sol:L")
        );
        assert!(
            parse(&moved)
                .unwrap_err()
                .contains("no placeholder of a.sol:L at byte 1")
        );
        // A reference far past the end of the code is refused, not a panic.
        let far = format!(
            r#"{{"bytecode":"60","linkReferences":{{"a.sol":{{"L":[{{"start":{},"length":20}}]}}}}}}"#,
            u64::MAX
        );
        assert!(
            parse(&far)
                .unwrap_err()
                .contains("no placeholder of a.sol:L")
        );
    }

    #[test]
    fn fees_round_as_the_lenders_do() {
        let balancer = BalancerInfo {
            vault: Address::ZERO,
            authorizer: Address::ZERO,
            fees_collector: Address::ZERO,
            flash_loan_fee: 7 * 10u64.pow(14),
            holdings: Vec::new(),
        };
        // The forge test's case: 0.07 % of 123,456,789,012,345,678,901, rounded up.
        let amount = U256::from(123_456_789_012_345_678_901u128);
        // 86,419,752,308,641,975.23 up.
        assert_eq!(
            balancer.fee(amount),
            Some(U256::from(86_419_752_308_641_976u128))
        );
        assert_eq!(balancer.fee(U256::ZERO), Some(U256::ZERO));
        assert_eq!(balancer.fee(U256::MAX), None);
        let aave = AaveInfo {
            pool: Address::ZERO,
            addresses_provider: Address::ZERO,
            configurator: Address::ZERO,
            acl_manager: Address::ZERO,
            premium_bps: 5,
            reserves: Vec::new(),
        };
        // 61,728,394,506,172,839.45 half up.
        assert_eq!(
            aave.premium(amount),
            Some(U256::from(61_728_394_506_172_839u128))
        );
        // Half up: 1,000 · 5 bps = 0.5 → 1; 999 · 5 bps = 0.4995 → 0.
        assert_eq!(aave.premium(U256::from(1_000)), Some(U256::from(1)));
        assert_eq!(aave.premium(U256::from(999)), Some(U256::ZERO));
    }
}
