// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../../src/Executor.sol";

/// Builds `Executor.run()` calls (docs/executor.md): the selector, then funding (1 byte), tokenIn
/// (20), amountIn (uint128, 16), minProfit (uint128, 16) and the packed hops, with no padding.
abstract contract RunCalls {
    uint8 internal constant CAPITAL = 0;
    uint8 internal constant FLASH_SWAP = 1;
    uint8 internal constant BALANCER = 2;
    uint8 internal constant AAVE = 3;

    /// The calldata of `run()` for this route.
    function runCalldata(uint8 funding, address tokenIn, uint256 amountIn, uint256 minProfit, bytes memory hops)
        internal
        pure
        returns (bytes memory)
    {
        require(amountIn <= type(uint128).max && minProfit <= type(uint128).max, "amount above uint128");
        return abi.encodePacked(Executor.run.selector, funding, tokenIn, uint128(amountIn), uint128(minProfit), hops);
    }

    /// Calls `run()` on `e` and returns its profit, re-throwing its revert. Under vm.expectRevert
    /// the low-level call reports the cheatcode's verdict and mangles the returned data, so the
    /// profit is read only from a 32-byte answer.
    function runRoute(
        Executor e,
        uint8 funding,
        address tokenIn,
        uint256 amountIn,
        uint256 minProfit,
        bytes memory hops
    ) internal returns (uint256 profit) {
        (bool ok, bytes memory ret) = address(e).call(runCalldata(funding, tokenIn, amountIn, minProfit, hops));
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (ret.length == 32) profit = abi.decode(ret, (uint256));
    }

    /// `runRoute` from own capital, the call every pre-flash test makes.
    function execute(Executor e, address tokenIn, uint256 amountIn, uint256 minProfit, bytes memory hops)
        internal
        returns (uint256)
    {
        return runRoute(e, CAPITAL, tokenIn, amountIn, minProfit, hops);
    }
}
