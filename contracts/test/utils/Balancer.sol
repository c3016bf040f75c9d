// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {V2Fixture} from "./V2.sol";

// The parts of the real Balancer V2 ABIs the tests call (interfaces only; the code under test is
// the bytecode Balancer deployed, shipped in npm `@balancer-labs/v2-deployments`, task
// 20210418-vault and 20210418-authorizer: the Vault at 0xBA12222222228d8Ba445958a75a0704d566BF2C8
// on Polygon and mainnet).
interface IBalancerVault {
    function flashLoan(address recipient, address[] memory tokens, uint256[] memory amounts, bytes memory userData)
        external;
    function getProtocolFeesCollector() external view returns (address);
}

interface IProtocolFeesCollector {
    function getFlashLoanFeePercentage() external view returns (uint256);
    function setFlashLoanFeePercentage(uint256 newFlashLoanFeePercentage) external;
    function getActionId(bytes4 selector) external view returns (bytes32);
}

interface IBalancerAuthorizer {
    function grantRole(bytes32 role, address account) external;
}

/// Deploys the real Balancer V2 Authorizer and Vault (test as the Authorizer's admin) and can set
/// the Vault's flash-loan fee through its real ProtocolFeesCollector.
abstract contract BalancerFixture is V2Fixture {
    string internal constant BAL = "@balancer-labs/v2-deployments/dist/tasks/";

    IBalancerAuthorizer internal authorizer;
    IBalancerVault internal vault;

    /// A Balancer task's `creationCode` (bytecode/NAME.json) with `ctorArgs` appended, deployed.
    function deployBalancer(string memory task, string memory name, bytes memory ctorArgs)
        internal
        returns (address addr)
    {
        string memory json = vm.readFile(string.concat(NM, BAL, task, "/bytecode/", name, ".json"));
        bytes memory code = bytes.concat(vm.parseJsonBytes(json, ".creationCode"), ctorArgs);
        assembly {
            addr := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(addr != address(0) && addr.code.length > 0, string.concat("deploy failed: ", name));
    }

    /// `weth` is only stored by the Vault (for ETH wrapping, which the tests never use). The pause
    /// window and buffer are the longest the Vault allows (90 and 30 days), as deployed.
    function deployVault(address weth) internal {
        authorizer = IBalancerAuthorizer(deployBalancer("20210418-authorizer", "Authorizer", abi.encode(holder())));
        vault = IBalancerVault(
            deployBalancer("20210418-vault", "Vault", abi.encode(address(authorizer), weth, 90 days, 30 days))
        );
    }

    /// Sets the Vault's flash-loan fee (1e18 = 100 %; the collector caps it at 1 %), granting
    /// this test the collector's action first, as governance would.
    function setFlashLoanFee(uint256 percentage) internal {
        IProtocolFeesCollector fees = IProtocolFeesCollector(vault.getProtocolFeesCollector());
        authorizer.grantRole(fees.getActionId(IProtocolFeesCollector.setFlashLoanFeePercentage.selector), holder());
        fees.setFlashLoanFeePercentage(percentage);
    }
}
