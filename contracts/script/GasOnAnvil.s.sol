// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {ExecutorFixture} from "../test/utils/ExecutorFixture.sol";
import {IV2Pair} from "../test/utils/V2.sol";

interface VmScript {
    function startBroadcast() external;
    function stopBroadcast() external;
}

/// Cross-check of test/ExecutorGas.t.sol with real transactions: builds the same fixture on a
/// local anvil (real factories, pairs and tokens), then sends the 2-, 3- and 4-hop routes as
/// transactions. Each transaction lands in its own block, so every swap is its pair's first in
/// the block, as in the gas test. Read `gasUsed` of the last three receipts in
/// broadcast/GasOnAnvil.s.sol/137/run-latest.json. See README.md for the command.
contract GasOnAnvil is ExecutorFixture {
    /// anvil's first unlocked dev account; the command line passes it as --sender.
    address internal constant SENDER = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266;

    function holder() internal pure override returns (address) {
        return SENDER;
    }

    /// forge calls setUp() before run() in a script; the fixture is built inside run() instead,
    /// while broadcasting.
    function setUp() public override {}

    function run() external {
        VmScript(address(vm)).startBroadcast();
        super.setUp();
        address cakeBC = createPair(cakeFactory, tokenB, tokenC);
        addLiquidity(cakeBC, tokenB, 2_000e18, tokenC, 6_000e18);
        address[5] memory all = [uniAB, cakeAB, uniBC, cakeCA, cakeBC];
        // Non-zero price accumulators, as on a live pair.
        for (uint256 i; i < all.length; ++i) {
            IV2Pair(all[i]).sync();
        }

        runRoute(10e18, pairs2(uniAB, cakeAB));
        runRoute(5e18, pairs3(uniAB, uniBC, cakeCA));
        address[] memory p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (uniAB, uniBC, cakeBC, cakeAB);
        runRoute(5e18, p);
        VmScript(address(vm)).stopBroadcast();
    }

    function runRoute(uint256 amountIn, address[] memory pairs) internal {
        Quote memory q = quote(tokenA, amountIn, pairs);
        uint256 profit = q.outs[pairs.length - 1] - amountIn;
        assertEq(execute(executor, tokenA, amountIn, profit, q.hops), profit, "profit");
    }
}
