//! Where the workspace, the pinned toolchain and the build artifacts live.
//!
//! The workspace root is fixed at compile time from `CARGO_MANIFEST_DIR` (this crate sits at
//! `<root>/tools`) and can be moved at run time with the environment variable `POLYARB_ROOT`.
//! Every lookup checks that the file is there, so a missing toolchain is one clear error that says
//! what to run, not a confusing spawn or parse failure later on.

use std::{
    fmt,
    path::{Path, PathBuf},
};

/// Environment variable that overrides the workspace root.
pub const ROOT_ENV: &str = "POLYARB_ROOT";

const INSTALL_HINT: &str = "run tools/toolchain/install.sh";
const FORGE_HINT: &str = "run `forge build` in contracts/ (forge is tools/toolchain/node_modules/@foundry-rs/forge-linux-amd64/bin/forge)";

/// A required file is not where the toolchain puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingError {
    /// What was looked for ("anvil", "UniswapV2Factory artifact", ...).
    pub what: String,
    /// Where it was looked for.
    pub path: PathBuf,
    /// What to run to get it.
    pub hint: &'static str,
}

impl fmt::Display for MissingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} not found at {}: {}",
            self.what,
            self.path.display(),
            self.hint
        )
    }
}

impl std::error::Error for MissingError {}

/// The real protocol build artifacts installed from npm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Artifact {
    /// `@uniswap/v2-core` `UniswapV2Factory` (`constructor(address feeToSetter)`).
    UniswapV2Factory,
    /// `@uniswap/v2-core` `UniswapV2Pair`.
    UniswapV2Pair,
    /// `@uniswap/v2-core` test `ERC20` (`constructor(uint totalSupply)`, mints to the deployer).
    TestErc20,
    /// `@pancakeswap-libs/pancake-swap-core` `PancakeFactory` (`constructor(address feeToSetter)`).
    PancakeFactory,
    /// `@pancakeswap-libs/pancake-swap-core` `PancakePair`.
    PancakePair,
    /// `@uniswap/v3-core` `UniswapV3Factory` (no constructor arguments; the deployer owns it).
    UniswapV3Factory,
    /// `@uniswap/v3-core` `UniswapV3Pool` (its creation code; the factory carries its own copy).
    UniswapV3Pool,
    /// `@cryptoalgebra/core` `AlgebraFactory` (`constructor(address poolDeployer, address vault)`).
    AlgebraFactory,
    /// `@cryptoalgebra/core` `AlgebraPoolDeployer` (no arguments; `setFactory` once after).
    AlgebraPoolDeployer,
    /// `@cryptoalgebra/core` `AlgebraPool` (its creation code; the pool deployer carries a copy).
    AlgebraPool,
    /// `@balancer-labs/v2-deployments` task 20210418-authorizer `Authorizer`
    /// (`constructor(address admin)`); its creation code is the file's `creationCode`.
    BalancerAuthorizer,
    /// `@balancer-labs/v2-deployments` task 20210418-vault `Vault` (`constructor(address
    /// authorizer, address weth, uint256 pauseWindowDuration, uint256 bufferPeriodDuration)`).
    BalancerVault,
    /// `@aave/core-v3` `PoolAddressesProvider` (`constructor(string marketId, address owner)`).
    AavePoolAddressesProvider,
    /// `@aave/core-v3` `Pool` (`constructor(address provider)`; links seven logic libraries).
    AavePool,
    /// `@aave/core-v3` `ACLManager` (`constructor(address provider)`).
    AaveAclManager,
    /// `@aave/core-v3` `PoolConfigurator` (no arguments; links `ConfiguratorLogic`).
    AavePoolConfigurator,
    /// `@aave/core-v3` `AToken` (`constructor(address pool)`).
    AaveAToken,
    /// `@aave/core-v3` `StableDebtToken` (`constructor(address pool)`).
    AaveStableDebtToken,
    /// `@aave/core-v3` `VariableDebtToken` (`constructor(address pool)`).
    AaveVariableDebtToken,
    /// `@aave/core-v3` `DefaultReserveInterestRateStrategy` (`constructor(address provider,` and
    /// nine rates and ratios in ray).
    AaveInterestRateStrategy,
    /// An `@aave/core-v3` logic library (no arguments).
    AaveLogic(AaveLibrary),
}

/// The `@aave/core-v3` external logic libraries the Pool and PoolConfigurator link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AaveLibrary {
    /// Linked by `Pool` and by `FlashLoanLogic`.
    Borrow,
    /// Linked by `Pool`.
    Bridge,
    /// Linked by `Pool`.
    EMode,
    /// Linked by `Pool`; links `BorrowLogic`.
    FlashLoan,
    /// Linked by `Pool`.
    Liquidation,
    /// Linked by `Pool`.
    Pool,
    /// Linked by `Pool`.
    Supply,
    /// Linked by `PoolConfigurator`.
    Configurator,
}

impl AaveLibrary {
    /// The Pool's libraries, each after those it links (`BorrowLogic` before `FlashLoanLogic`).
    pub const POOL: [AaveLibrary; 7] = [
        Self::Borrow,
        Self::Bridge,
        Self::EMode,
        Self::FlashLoan,
        Self::Liquidation,
        Self::Pool,
        Self::Supply,
    ];

    /// Contract name (`BorrowLogic`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Borrow => "BorrowLogic",
            Self::Bridge => "BridgeLogic",
            Self::EMode => "EModeLogic",
            Self::FlashLoan => "FlashLoanLogic",
            Self::Liquidation => "LiquidationLogic",
            Self::Pool => "PoolLogic",
            Self::Supply => "SupplyLogic",
            Self::Configurator => "ConfiguratorLogic",
        }
    }

    /// The fully qualified name solc hashes into the library's link placeholder
    /// (`contracts/protocol/libraries/logic/BorrowLogic.sol:BorrowLogic`).
    pub fn fully_qualified_name(self) -> String {
        format!(
            "contracts/protocol/libraries/logic/{0}.sol:{0}",
            self.name()
        )
    }
}

/// A path under the `@aave/core-v3` build artifacts.
macro_rules! aave {
    ($rel:literal) => {
        concat!(
            "tools/toolchain/node_modules/@aave/core-v3/artifacts/contracts/",
            $rel
        )
    };
}

/// A path under the `@balancer-labs/v2-deployments` tasks.
macro_rules! balancer {
    ($rel:literal) => {
        concat!(
            "tools/toolchain/node_modules/@balancer-labs/v2-deployments/dist/tasks/",
            $rel
        )
    };
}

impl Artifact {
    /// Path below the workspace root.
    pub fn relative_path(self) -> &'static str {
        match self {
            Self::UniswapV2Factory => {
                "tools/toolchain/node_modules/@uniswap/v2-core/build/UniswapV2Factory.json"
            }
            Self::UniswapV2Pair => {
                "tools/toolchain/node_modules/@uniswap/v2-core/build/UniswapV2Pair.json"
            }
            Self::TestErc20 => "tools/toolchain/node_modules/@uniswap/v2-core/build/ERC20.json",
            Self::PancakeFactory => {
                "tools/toolchain/node_modules/@pancakeswap-libs/pancake-swap-core/build/PancakeFactory.json"
            }
            Self::PancakePair => {
                "tools/toolchain/node_modules/@pancakeswap-libs/pancake-swap-core/build/PancakePair.json"
            }
            Self::UniswapV3Factory => {
                "tools/toolchain/node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"
            }
            Self::UniswapV3Pool => {
                "tools/toolchain/node_modules/@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"
            }
            Self::AlgebraFactory => {
                "tools/toolchain/node_modules/@cryptoalgebra/core/artifacts/contracts/AlgebraFactory.sol/AlgebraFactory.json"
            }
            Self::AlgebraPoolDeployer => {
                "tools/toolchain/node_modules/@cryptoalgebra/core/artifacts/contracts/AlgebraPoolDeployer.sol/AlgebraPoolDeployer.json"
            }
            Self::AlgebraPool => {
                "tools/toolchain/node_modules/@cryptoalgebra/core/artifacts/contracts/AlgebraPool.sol/AlgebraPool.json"
            }
            Self::BalancerAuthorizer => balancer!("20210418-authorizer/bytecode/Authorizer.json"),
            Self::BalancerVault => balancer!("20210418-vault/bytecode/Vault.json"),
            Self::AavePoolAddressesProvider => {
                aave!("protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json")
            }
            Self::AavePool => aave!("protocol/pool/Pool.sol/Pool.json"),
            Self::AaveAclManager => aave!("protocol/configuration/ACLManager.sol/ACLManager.json"),
            Self::AavePoolConfigurator => {
                aave!("protocol/pool/PoolConfigurator.sol/PoolConfigurator.json")
            }
            Self::AaveAToken => aave!("protocol/tokenization/AToken.sol/AToken.json"),
            Self::AaveStableDebtToken => {
                aave!("protocol/tokenization/StableDebtToken.sol/StableDebtToken.json")
            }
            Self::AaveVariableDebtToken => {
                aave!("protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json")
            }
            Self::AaveInterestRateStrategy => aave!(
                "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json"
            ),
            Self::AaveLogic(lib) => match lib {
                AaveLibrary::Borrow => {
                    aave!("protocol/libraries/logic/BorrowLogic.sol/BorrowLogic.json")
                }
                AaveLibrary::Bridge => {
                    aave!("protocol/libraries/logic/BridgeLogic.sol/BridgeLogic.json")
                }
                AaveLibrary::EMode => {
                    aave!("protocol/libraries/logic/EModeLogic.sol/EModeLogic.json")
                }
                AaveLibrary::FlashLoan => {
                    aave!("protocol/libraries/logic/FlashLoanLogic.sol/FlashLoanLogic.json")
                }
                AaveLibrary::Liquidation => {
                    aave!("protocol/libraries/logic/LiquidationLogic.sol/LiquidationLogic.json")
                }
                AaveLibrary::Pool => {
                    aave!("protocol/libraries/logic/PoolLogic.sol/PoolLogic.json")
                }
                AaveLibrary::Supply => {
                    aave!("protocol/libraries/logic/SupplyLogic.sol/SupplyLogic.json")
                }
                AaveLibrary::Configurator => {
                    aave!("protocol/libraries/logic/ConfiguratorLogic.sol/ConfiguratorLogic.json")
                }
            },
        }
    }

    /// Contract name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::UniswapV2Factory => "UniswapV2Factory",
            Self::UniswapV2Pair => "UniswapV2Pair",
            Self::TestErc20 => "ERC20",
            Self::PancakeFactory => "PancakeFactory",
            Self::PancakePair => "PancakePair",
            Self::UniswapV3Factory => "UniswapV3Factory",
            Self::UniswapV3Pool => "UniswapV3Pool",
            Self::AlgebraFactory => "AlgebraFactory",
            Self::AlgebraPoolDeployer => "AlgebraPoolDeployer",
            Self::AlgebraPool => "AlgebraPool",
            Self::BalancerAuthorizer => "Balancer Authorizer",
            Self::BalancerVault => "Balancer Vault",
            Self::AavePoolAddressesProvider => "Aave PoolAddressesProvider",
            Self::AavePool => "Aave Pool",
            Self::AaveAclManager => "Aave ACLManager",
            Self::AavePoolConfigurator => "Aave PoolConfigurator",
            Self::AaveAToken => "Aave AToken",
            Self::AaveStableDebtToken => "Aave StableDebtToken",
            Self::AaveVariableDebtToken => "Aave VariableDebtToken",
            Self::AaveInterestRateStrategy => "Aave DefaultReserveInterestRateStrategy",
            Self::AaveLogic(lib) => lib.name(),
        }
    }
}

/// The workspace root and the paths of everything the tools run or deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    root: PathBuf,
}

impl Toolchain {
    /// The workspace root from `POLYARB_ROOT`, else the one this crate was compiled in.
    pub fn locate() -> Self {
        match std::env::var_os(ROOT_ENV) {
            Some(root) if !root.is_empty() => Self::at(root),
            _ => Self::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")),
        }
    }

    /// A toolchain rooted at `root` (the workspace root, which holds `tools/` and `contracts/`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        // Canonical form only makes messages shorter; a root that does not exist keeps its name.
        let root = root.canonicalize().unwrap_or(root);
        Self { root }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The anvil binary.
    pub fn anvil(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "anvil",
            "tools/toolchain/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
            INSTALL_HINT,
        )
    }

    /// The forge binary.
    pub fn forge(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "forge",
            "tools/toolchain/node_modules/@foundry-rs/forge-linux-amd64/bin/forge",
            INSTALL_HINT,
        )
    }

    /// The cast binary (keystores made and read by Foundry, for the keystore tests).
    pub fn cast(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "cast",
            "tools/toolchain/node_modules/@foundry-rs/cast-linux-amd64/bin/cast",
            INSTALL_HINT,
        )
    }

    /// The Python interpreter of the toolchain venv (has `websockets`).
    pub fn python(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "toolchain python",
            "tools/toolchain/venv/bin/python",
            INSTALL_HINT,
        )
    }

    /// An npm build artifact.
    pub fn artifact(&self, artifact: Artifact) -> Result<PathBuf, MissingError> {
        self.existing(
            &format!("{} artifact", artifact.name()),
            artifact.relative_path(),
            INSTALL_HINT,
        )
    }

    /// Where `forge build` in `contracts/` writes the executor artifact (may not exist).
    pub fn executor_artifact_path(&self) -> PathBuf {
        self.root.join("contracts/out/Executor.sol/Executor.json")
    }

    /// The executor artifact, or an error saying to build it.
    pub fn executor_artifact(&self) -> Result<PathBuf, MissingError> {
        check_executor_artifact(&self.executor_artifact_path())
    }

    /// The `ClmmProbe` test contract (contracts/test/utils/ClmmProbe.sol) as `forge build` writes
    /// it, or an error saying to build it.
    pub fn clmm_probe_artifact(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "ClmmProbe artifact",
            "contracts/out/ClmmProbe.sol/ClmmProbe.json",
            FORGE_HINT,
        )
    }

    /// The `PoolActor` test contract (contracts/test/utils/PoolActor.sol) as `forge build` writes
    /// it, or an error saying to build it.
    pub fn pool_actor_artifact(&self) -> Result<PathBuf, MissingError> {
        self.existing(
            "PoolActor artifact",
            "contracts/out/PoolActor.sol/PoolActor.json",
            FORGE_HINT,
        )
    }

    fn existing(&self, what: &str, rel: &str, hint: &'static str) -> Result<PathBuf, MissingError> {
        let path = self.root.join(rel);
        if path.is_file() {
            Ok(path)
        } else {
            Err(MissingError {
                what: what.to_owned(),
                path,
                hint,
            })
        }
    }
}

/// `path` if it is a file, else the "run forge build" error.
pub fn check_executor_artifact(path: &Path) -> Result<PathBuf, MissingError> {
    if path.is_file() {
        Ok(path.to_owned())
    } else {
        Err(MissingError {
            what: "executor artifact".to_owned(),
            path: path.to_owned(),
            hint: FORGE_HINT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_names_the_fix() {
        let tc = Toolchain::at("/nonexistent/polyarb-root");
        let err = tc.anvil().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("anvil not found at /nonexistent/polyarb-root/tools/"),
            "{msg}"
        );
        assert!(msg.ends_with("run tools/toolchain/install.sh"), "{msg}");
        let err = tc.executor_artifact().unwrap_err().to_string();
        assert!(
            err.contains("contracts/out/Executor.sol/Executor.json"),
            "{err}"
        );
        assert!(err.contains("forge build"), "{err}");
    }

    #[test]
    fn compiled_root_holds_this_crate() {
        let tc = Toolchain::at(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        assert!(
            tc.root().join("tools/Cargo.toml").is_file(),
            "{}",
            tc.root().display()
        );
    }
}
