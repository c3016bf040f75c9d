// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// The few forge cheatcodes our tests use (forge-std is not available offline).
/// Signatures follow forge's cheatcode spec; forge answers calls to VM_ADDRESS.
interface Vm {
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    function prank(address sender) external;
    function warp(uint256 newTimestamp) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
    function parseBytes(string calldata stringifiedValue) external pure returns (bytes memory);
    function replace(string calldata input, string calldata from, string calldata to)
        external
        pure
        returns (string memory output);
    /// Gas figures of the last call made by the test contract.
    function lastCallGas() external view returns (Gas memory);
    /// Saves the whole EVM state; `revertToState` restores it (the snapshot stays usable).
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
    /// Marks an account and all its storage slots cold again (EIP-2929), as at a transaction's start.
    function cool(address target) external;
}

// address(uint160(uint256(keccak256("hevm cheat code"))))
address constant VM_ADDRESS = 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D;
