// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Vm, VM_ADDRESS} from "./Vm.sol";

/// Minimal test base: the cheatcode handle, a few asserts that revert with a readable reason
/// (forge reports the reason of a failing test), and ds-test style log events forge prints at -vv.
abstract contract TestBase {
    Vm internal constant vm = Vm(VM_ADDRESS);

    event log_named_uint(string key, uint256 val);
    event log_named_string(string key, string val);

    /// The gasUsed of a transaction that sends exactly `data` to a call whose frame used `g`
    /// (vm.lastCallGas): 21000 + EIP-2028 calldata (4 per zero byte, 16 per other) + the frame,
    /// less the refund capped at a fifth (EIP-3529). Logs the frame, refund and calldata parts
    /// under `name`.
    function txGas(bytes memory data, Vm.Gas memory g, string memory name) internal returns (uint256) {
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) {
            calldataGas += data[i] == 0 ? 4 : 16;
        }
        uint256 gross = 21000 + calldataGas + g.gasTotalUsed;
        // casting to 'uint256' is safe because the value is positive in the branch taken
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 refund = g.gasRefunded > 0 ? uint256(uint64(g.gasRefunded)) : 0;
        if (refund > gross / 5) refund = gross / 5;
        emit log_named_uint(string.concat(name, " frame"), g.gasTotalUsed);
        emit log_named_uint(string.concat(name, " refund"), refund);
        emit log_named_uint(string.concat(name, " calldata"), calldataGas);
        return gross - refund;
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", toString(a), " != ", toString(b)));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": addresses differ"));
    }

    function assertTrue(bool ok, string memory what) internal pure {
        if (!ok) revert(what);
    }

    function toString(uint256 v) internal pure returns (string memory s) {
        if (v == 0) return "0";
        bytes memory b = new bytes(78);
        uint256 i = b.length;
        while (v != 0) {
            // casting to 'uint8' is safe because 48 + v % 10 < 58
            // forge-lint: disable-next-line(unsafe-typecast)
            b[--i] = bytes1(uint8(48 + v % 10));
            v /= 10;
        }
        s = string(new bytes(b.length - i));
        for (uint256 j; j < b.length - i; ++j) {
            bytes(s)[j] = b[i + j];
        }
    }
}
