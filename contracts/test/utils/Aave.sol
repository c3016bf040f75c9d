// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {V2Fixture} from "./V2.sol";

// The parts of the real Aave V3 ABIs the tests call (interfaces only; the code under test is the
// Hardhat build artifacts in npm `@aave/core-v3` 1.19.3, their libraries linked here).
interface IAavePoolAddressesProvider {
    function setPoolImpl(address newPoolImpl) external;
    function getPool() external view returns (address);
    function setACLAdmin(address newAclAdmin) external;
    function setACLManager(address newAclManager) external;
    function setPoolConfiguratorImpl(address newPoolConfiguratorImpl) external;
    function getPoolConfigurator() external view returns (address);
}

interface IAaveACLManager {
    function addPoolAdmin(address admin) external;
}

/// `ConfiguratorInputTypes.InitReserveInput`, field for field.
struct InitReserveInput {
    address aTokenImpl;
    address stableDebtTokenImpl;
    address variableDebtTokenImpl;
    uint8 underlyingAssetDecimals;
    address interestRateStrategyAddress;
    address underlyingAsset;
    address treasury;
    address incentivesController;
    string aTokenName;
    string aTokenSymbol;
    string variableDebtTokenName;
    string variableDebtTokenSymbol;
    string stableDebtTokenName;
    string stableDebtTokenSymbol;
    bytes params;
}

interface IAaveConfigurator {
    function initReserves(InitReserveInput[] calldata input) external;
    function updateFlashloanPremiumTotal(uint128 newFlashloanPremiumTotal) external;
    function setReserveFlashLoaning(address asset, bool enabled) external;
}

interface IAavePool {
    function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode) external;
    function flashLoanSimple(
        address receiverAddress,
        address asset,
        uint256 amount,
        bytes calldata params,
        uint16 referralCode
    ) external;
    function FLASHLOAN_PREMIUM_TOTAL() external view returns (uint128);
    function FLASHLOAN_PREMIUM_TO_PROTOCOL() external view returns (uint128);
    function ADDRESSES_PROVIDER() external view returns (address);
}

/// Deploys Aave V3's real contracts from their artifacts, linking the external libraries they
/// call (Hardhat leaves `__$<34 hex of keccak256("file:Library")>$__` where a library's address
/// goes).
abstract contract AaveFixture is V2Fixture {
    string internal constant AAVE = "@aave/core-v3/artifacts/contracts/";
    string internal constant LOGIC = "protocol/libraries/logic/";

    IAavePoolAddressesProvider internal provider;
    IAavePool internal pool;
    IAaveConfigurator internal configurator;

    /// Library names (under `LOGIC`) and where each was deployed.
    string[] internal libNames;
    mapping(string => address) internal libAt;

    /// `path` (under `AAVE`, `X.sol/X.json`) with every library in `libNames` linked, constructor
    /// arguments `ctorArgs` appended, deployed.
    function deployAave(string memory path, bytes memory ctorArgs) internal returns (address addr) {
        string memory json = vm.readFile(string.concat(NM, AAVE, path));
        string memory hexCode = vm.parseJsonString(json, ".bytecode");
        for (uint256 i; i < libNames.length; ++i) {
            string memory name = libNames[i];
            string memory fq = string.concat("contracts/", LOGIC, name, ".sol:", name);
            hexCode = vm.replace(hexCode, placeholder(fq), addressHex(libAt[name]));
        }
        bytes memory code = bytes.concat(vm.parseBytes(hexCode), ctorArgs);
        assembly {
            addr := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(addr != address(0) && addr.code.length > 0, string.concat("deploy failed: ", path));
    }

    /// Deploys logic library `name` (its own libraries in `libNames` already) and records it.
    function deployLib(string memory name) internal {
        libAt[name] = deployAave(string.concat(LOGIC, name, ".sol/", name, ".json"), "");
        libNames.push(name);
    }

    /// The pool of a fresh market: the addresses provider (this test its owner), the logic
    /// libraries, the Pool implementation, and the proxy the provider makes of it.
    function deployAavePool() internal {
        provider = IAavePoolAddressesProvider(
            deployAave(
                "protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json",
                abi.encode("polyarb test market", holder())
            )
        );
        // BorrowLogic first: FlashLoanLogic calls it.
        deployLib("BorrowLogic");
        deployLib("BridgeLogic");
        deployLib("EModeLogic");
        deployLib("FlashLoanLogic");
        deployLib("LiquidationLogic");
        deployLib("PoolLogic");
        deployLib("SupplyLogic");
        address impl = deployAave("protocol/pool/Pool.sol/Pool.json", abi.encode(address(provider)));
        provider.setPoolImpl(impl);
        pool = IAavePool(provider.getPool());
    }

    /// The market's governance: this test as ACL admin and pool admin, and the configurator
    /// (its library linked) behind the provider's proxy.
    function deployAaveConfigurator() internal {
        provider.setACLAdmin(holder());
        address acl = deployAave("protocol/configuration/ACLManager.sol/ACLManager.json", abi.encode(address(provider)));
        provider.setACLManager(acl);
        IAaveACLManager(acl).addPoolAdmin(holder());
        deployLib("ConfiguratorLogic");
        provider.setPoolConfiguratorImpl(deployAave("protocol/pool/PoolConfigurator.sol/PoolConfigurator.json", ""));
        configurator = IAaveConfigurator(provider.getPoolConfigurator());
    }

    /// Lists `asset` (18 decimals) as a reserve with the real token implementations and interest
    /// rate strategy (rates as Aave's stablecoin presets), flash loans enabled, and supplies
    /// `amount` of it from this test: what the pool can lend.
    function listAndSupply(address asset, uint256 amount) internal {
        address strategy = deployAave(
            "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json",
            abi.encode(address(provider), 0.9e27, 0, 0.04e27, 0.6e27, 0.005e27, 0.6e27, 0.01e27, 0.08e27, 0.2e27)
        );
        InitReserveInput[] memory input = new InitReserveInput[](1);
        input[0] = InitReserveInput({
            aTokenImpl: deployAave("protocol/tokenization/AToken.sol/AToken.json", abi.encode(address(pool))),
            stableDebtTokenImpl: deployAave(
                "protocol/tokenization/StableDebtToken.sol/StableDebtToken.json", abi.encode(address(pool))
            ),
            variableDebtTokenImpl: deployAave(
                "protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json", abi.encode(address(pool))
            ),
            underlyingAssetDecimals: 18,
            interestRateStrategyAddress: strategy,
            underlyingAsset: asset,
            treasury: address(0xFEE),
            incentivesController: address(0),
            aTokenName: "aToken",
            aTokenSymbol: "aT",
            variableDebtTokenName: "variable debt",
            variableDebtTokenSymbol: "vd",
            stableDebtTokenName: "stable debt",
            stableDebtTokenSymbol: "sd",
            params: ""
        });
        configurator.initReserves(input);
        configurator.setReserveFlashLoaning(asset, true);
        (bool ok,) = asset.call(abi.encodeWithSignature("approve(address,uint256)", address(pool), amount));
        assertTrue(ok, "approve");
        pool.supply(asset, amount, holder(), 0);
    }

    /// Solidity's library placeholder for fully qualified name `fq`.
    function placeholder(string memory fq) internal pure returns (string memory) {
        bytes32 h = keccak256(bytes(fq));
        bytes memory out = new bytes(40);
        bytes16 digits = "0123456789abcdef";
        out[0] = "_";
        out[1] = "_";
        out[2] = "$";
        for (uint256 i; i < 17; ++i) {
            out[3 + 2 * i] = digits[uint8(h[i]) >> 4];
            out[4 + 2 * i] = digits[uint8(h[i]) & 0x0f];
        }
        out[37] = "$";
        out[38] = "_";
        out[39] = "_";
        return string(out);
    }

    /// `a` as 40 lowercase hex digits, no prefix.
    function addressHex(address a) internal pure returns (string memory) {
        bytes memory out = new bytes(40);
        bytes16 digits = "0123456789abcdef";
        bytes20 b = bytes20(a);
        for (uint256 i; i < 20; ++i) {
            out[2 * i] = digits[uint8(b[i]) >> 4];
            out[2 * i + 1] = digits[uint8(b[i]) & 0x0f];
        }
        return string(out);
    }
}
