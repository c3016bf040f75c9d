// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {ExecutorFixture} from "./utils/ExecutorFixture.sol";
import {Vm} from "./utils/Vm.sol";
import {IV2Pair} from "./utils/V2.sol";

/// Gas of `execute` for the engine's per-route gas budget. Reports numbers (run with -vv) and
/// asserts only that the measured call really ran the route: gas goals are not pass/fail here.
///
/// Worst case for a live route: each pair is first swapped in a new block, so each swap also
/// writes the pair's two price accumulators (non-zero, as on any live pair), and no pair or token
/// has been touched earlier in the transaction. The routes are quoted in setUp (its own
/// transaction) so the measured test touches nothing before the call; the executor's own account
/// access is paid by the caller's CALL, outside the measured frame, as it is for `tx.to`.
///
/// Logged values:
///   frame:    gas used inside the executor's call frame (vm.lastCallGas), before refunds
///   refund:   refund counter after the call (each pair's re-entrancy lock goes 1 -> 0 -> 1)
///   calldata: EIP-2028 calldata cost of the transaction data (4 per zero byte, 16 per other)
///   tx:       21000 + calldata + frame - min(refund, (21000 + calldata + frame) / 5),
///             the gasUsed of a transaction sending exactly this call
/// `forge test --isolate --gas-report --match-contract ExecutorGasTest` runs each call as its own
/// transaction; its `execute` figures equal the `tx` values logged here, and so do the receipts'
/// gasUsed of real transactions on anvil (./gas-on-anvil.sh, script/GasOnAnvil.s.sol).
contract ExecutorGasTest is ExecutorFixture {
    address internal cakeBC;

    /// Per route: the calldata for `execute` and the profit it must return.
    mapping(uint256 => bytes) internal callOf;
    mapping(uint256 => uint256) internal profitOf;

    function setUp() public override {
        super.setUp();
        cakeBC = createPair(cakeFactory, tokenB, tokenC);
        addLiquidity(cakeBC, tokenB, 2_000e18, tokenC, 6_000e18);

        // Let time pass and sync, so the accumulators are non-zero like those of a live pair ...
        vm.warp(block.timestamp + 2);
        address[5] memory all = [uniAB, cakeAB, uniBC, cakeCA, cakeBC];
        for (uint256 i; i < all.length; ++i) {
            IV2Pair(all[i]).sync();
        }
        // ... then start a new block: the measured route is each pair's first swap in it.
        vm.warp(block.timestamp + 2);

        prepare(2, 10e18, pairs2(uniAB, cakeAB));
        prepare(3, 5e18, pairs3(uniAB, uniBC, cakeCA));
        address[] memory p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (uniAB, uniBC, cakeBC, cakeAB); // four distinct pairs
        prepare(4, 5e18, p);
    }

    function test_Gas_TwoHop() public {
        measure(2);
    }

    function test_Gas_ThreeHop() public {
        measure(3);
    }

    function test_Gas_FourHop() public {
        measure(4);
    }

    function prepare(uint256 hops, uint256 amountIn, address[] memory pairs) internal {
        Quote memory q = quote(tokenA, amountIn, pairs);
        uint256 profit = q.outs[pairs.length - 1] - amountIn;
        callOf[hops] = runCalldata(CAPITAL, tokenA, amountIn, profit, q.hops);
        profitOf[hops] = profit;
    }

    function measure(uint256 hops) internal {
        bytes memory data = callOf[hops];
        (bool ok, bytes memory ret) = address(executor).call(data);
        Vm.Gas memory g = vm.lastCallGas();
        assertTrue(ok, "execute reverted");
        assertEq(abi.decode(ret, (uint256)), profitOf[hops], "profit");

        string memory name = string.concat(toString(hops), "-hop");
        emit log_named_uint(string.concat(name, " tx"), txGas(data, g, name));
    }
}
