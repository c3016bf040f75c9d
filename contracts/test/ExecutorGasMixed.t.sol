// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {MixedFixture} from "./utils/MixedFixture.sol";
import {Vm} from "./utils/Vm.sol";
import {IV2Pair} from "./utils/V2.sol";

/// Gas of `execute` per hop kind (V2, Uniswap V3, Algebra), per tick crossed, cold and warm, for
/// 2- to 4-hop routes over the real pools: the numbers behind the engine's gas model in
/// docs/executor.md. Reports (run with -vv); asserts only that each measured call ran its route
/// and paid the quoted profit: gas is never pass/fail here.
///
/// Each route is quoted in setUp (its own transaction), so the measured test touches nothing
/// before the call: every pool, token and slot is cold, as in a live transaction. The executor's
/// own account access is paid by the caller's CALL, outside the measured frame, as for `tx.to`.
/// In `ExecutorGasMixedTest` each swap is its pool's first in a new block (the worst case: V2 pairs
/// write their price accumulators, V3 pools write an oracle observation when the tick moves,
/// Algebra pools write a timepoint and recompute their dynamic fee through their
/// DataStorageOperator); `ExecutorGasMixedSameBlockTest` runs the same routes in the block of
/// the pools' last swap (a backrun of that swap).
///
/// Logged per route (name = the hop kinds in order and the amountIn in A):
///   frame, refund, calldata, tx: as in ExecutorGas.t.sol (tx = gasUsed of a transaction sending
///     exactly this call: 21000 + calldata + frame - min(refund, that / 5))
///   ticks: initialized ticks crossed by each hop, as digits in hop order (0 for V2 hops), read
///     from each pool's own tick before and after
/// Warm routes (`test_Gas_Warm_*`): the same route twice in one transaction, the second time with
/// every pool, token and slot already touched; logged as "<name> warm tx" (the second call alone,
/// its own 21000 and calldata included).
contract ExecutorGasMixedTest is MixedFixture {
    address internal cakeBC;

    struct Route {
        string name;
        address[] pools;
        bytes data; // calldata for execute
        uint256 profit; // quoted profit (raw units of A)
        int24[] ticksBefore; // each hop's pool tick after setUp (0 for V2 pairs)
        bytes warmData; // the same route quoted again after the first run, for warm routes
        uint256 warmProfit;
    }

    mapping(uint256 => Route) internal routes;

    /// True: measure each swap as its pool's first in a new block; false: in the same block.
    function newBlock() internal pure virtual returns (bool) {
        return true;
    }

    function setUp() public override {
        super.setUp();
        cakeBC = createPair(cakeFactory, tokenB, tokenC);
        addLiquidity(cakeBC, tokenB, 2_000e18, tokenC, 6_000e18);
        // Live pools have been traded through their ranges before: a tick crossing then rewrites
        // fee-growth and oracle words that are already non-zero. On a fresh pool it would write
        // them from zero (about 20,000 gas more per word), so first trade every concentrated pool
        // down through its whole ladder and back up, and the same upwards.
        address[7] memory concentrated = [v3AB, v3AB5, v3BC, v3CA, algAB, algBC, algCA];
        for (uint256 i; i < concentrated.length; ++i) {
            age(concentrated[i]);
        }
        // Gaps: A is cheap on the pools that only ever end a route (cakeAB and cakeCA already, by
        // the fixture); routes start on uniAB, v3AB, algAB, which nobody dumps.
        dumpA(v3AB5, 60e18);
        dumpA(v3CA, 60e18);
        dumpA(algCA, 60e18);
        // Non-zero V2 price accumulators, as on a live pair, then the block of the measured routes.
        vm.warp(block.timestamp + 2);
        address[5] memory pairs = [uniAB, cakeAB, uniBC, cakeCA, cakeBC];
        for (uint256 i; i < pairs.length; ++i) {
            IV2Pair(pairs[i]).sync();
        }
        vm.warp(block.timestamp + 2);
        if (!newBlock()) {
            // Someone traded on every pool in this block already (the swap a backrun follows),
            // enough to move a V3 pool's tick (a V3 pool writes its oracle only when it does).
            for (uint256 i; i < pairs.length; ++i) {
                swapAny(pairs[i], IV2Pair(pairs[i]).token0(), 1e18);
            }
            for (uint256 i; i < concentrated.length; ++i) {
                swapAny(concentrated[i], IV2Pair(concentrated[i]).token0(), 1e18);
            }
        }

        prepare(1, "V2-V2 10", 10e18, r(uniAB, cakeAB), true);
        prepare(2, "V3-V2 1", 1e18, r(v3AB, cakeAB), false);
        prepare(3, "Alg-V2 1", 1e18, r(algAB, cakeAB), false);
        prepare(4, "V2-V3 10", 10e18, r(uniAB, v3AB5), false);
        prepare(5, "V3-V3 1", 1e18, r(v3AB, v3AB5), true);
        prepare(6, "V3-V3 8", 8e18, r(v3AB, v3AB5), false);
        prepare(7, "V3-V3 30", 30e18, r(v3AB, v3AB5), false);
        prepare(8, "Alg-V3 1", 1e18, r(algAB, v3AB5), true);
        prepare(9, "Alg-V3 8", 8e18, r(algAB, v3AB5), false);
        prepare(10, "Alg-V3 30", 30e18, r(algAB, v3AB5), false);
        prepare(11, "V2-V2-V2 5", 5e18, r(uniAB, uniBC, cakeCA), false);
        prepare(12, "V3-V3-V3 5", 5e18, r(v3AB, v3BC, v3CA), false);
        prepare(13, "Alg-Alg-Alg 5", 5e18, r(algAB, algBC, algCA), false);
        prepare(14, "V2-V3-Alg 5", 5e18, r(uniAB, v3BC, algCA), false);
        prepare(15, "Alg-V2-V3 5", 5e18, r(algAB, uniBC, v3CA), false);
        prepare(16, "V3-Alg-V2 5", 5e18, r(v3AB, algBC, cakeCA), false);
        prepare(17, "V2-V2-V2-V2 5", 5e18, r(uniAB, uniBC, cakeBC, cakeAB), false);
        prepare(18, "V3-Alg-V2-V3 5", 5e18, r(v3AB, algBC, uniBC, v3AB5), false);
        prepare(19, "Alg-V3-V2-V2 5", 5e18, r(algAB, v3BC, cakeBC, cakeAB), false);
        prepare(20, "Alg-Alg-V3-V3 5", 5e18, r(algAB, algBC, v3BC, v3AB5), false);
    }

    function test_Gas_01() public {
        measure(1);
    }

    function test_Gas_02() public {
        measure(2);
    }

    function test_Gas_03() public {
        measure(3);
    }

    function test_Gas_04() public {
        measure(4);
    }

    function test_Gas_05() public {
        measure(5);
    }

    function test_Gas_06() public {
        measure(6);
    }

    function test_Gas_07() public {
        measure(7);
    }

    function test_Gas_08() public {
        measure(8);
    }

    function test_Gas_09() public {
        measure(9);
    }

    function test_Gas_10() public {
        measure(10);
    }

    function test_Gas_11() public {
        measure(11);
    }

    function test_Gas_12() public {
        measure(12);
    }

    function test_Gas_13() public {
        measure(13);
    }

    function test_Gas_14() public {
        measure(14);
    }

    function test_Gas_15() public {
        measure(15);
    }

    function test_Gas_16() public {
        measure(16);
    }

    function test_Gas_17() public {
        measure(17);
    }

    function test_Gas_18() public {
        measure(18);
    }

    function test_Gas_19() public {
        measure(19);
    }

    function test_Gas_20() public {
        measure(20);
    }

    function test_Gas_Warm_01() public {
        measureWarm(1);
    }

    function test_Gas_Warm_05() public {
        measureWarm(5);
    }

    function test_Gas_Warm_08() public {
        measureWarm(8);
    }

    // ---- preparing and measuring

    /// Trades `pool` through every ladder boundary below the price and back, then above and back
    /// (each leg sells 30 % of the pool's nominal amount of one token).
    function age(address pool) internal {
        address t0 = IV2Pair(pool).token0();
        address t1 = IV2Pair(pool).token1();
        uint256 a0 = nominal(t0) * 3 / 10;
        uint256 a1 = nominal(t1) * 3 / 10;
        swapAny(pool, t1, swapAny(pool, t0, a0));
        swapAny(pool, t0, swapAny(pool, t1, a1));
    }

    /// What the fixture seeded each pool with, per token (1,000 A, 2,000 B, 6,000 C).
    function nominal(address token) internal view returns (uint256) {
        return token == tokenA ? 1_000e18 : token == tokenB ? 2_000e18 : 6_000e18;
    }

    function prepare(uint256 id, string memory name, uint256 amountIn, address[] memory pools, bool warm) internal {
        Route storage rt = routes[id];
        rt.name = name;
        rt.pools = pools;
        Quote memory q = quoteRoute(tokenA, amountIn, pools);
        assertTrue(q.outs[pools.length - 1] > amountIn, string.concat("fixture: unprofitable route ", name));
        rt.profit = q.outs[pools.length - 1] - amountIn;
        rt.data = runCalldata(CAPITAL, tokenA, amountIn, rt.profit, q.hops);
        for (uint256 i; i < pools.length; ++i) {
            rt.ticksBefore.push(kindOf[pools[i]] == KIND_V2 ? int24(0) : tickOf(pools[i]));
        }
        if (warm) {
            // The state after a first run, to quote the second run of the same route. (Written to
            // storage only after the rollback, which would undo it too.)
            uint256 snapshot = vm.snapshotState();
            (bool ok,) = address(executor).call(rt.data);
            assertTrue(ok, "first run of a warm route");
            q = quoteRoute(tokenA, amountIn, pools);
            assertTrue(q.outs[pools.length - 1] > amountIn, string.concat("fixture: unprofitable rerun ", name));
            uint256 warmProfit = q.outs[pools.length - 1] - amountIn;
            assertTrue(vm.revertToState(snapshot), "revert after the first run");
            rt.warmProfit = warmProfit;
            rt.warmData = runCalldata(CAPITAL, tokenA, amountIn, warmProfit, q.hops);
        }
    }

    function measure(uint256 id) internal {
        Route storage rt = routes[id];
        uint256 tx_ = call(rt.data, rt.profit, rt.name);
        emit log_named_uint(string.concat(rt.name, " tx"), tx_);
        emit log_named_string(string.concat(rt.name, " ticks"), ticksCrossed(rt));
    }

    function measureWarm(uint256 id) internal {
        Route storage rt = routes[id];
        uint256 cold = call(rt.data, rt.profit, rt.name);
        uint256 warm = call(rt.warmData, rt.warmProfit, string.concat(rt.name, " warm"));
        emit log_named_uint(string.concat(rt.name, " cold tx"), cold);
        emit log_named_uint(string.concat(rt.name, " warm tx"), warm);
    }

    /// Sends `data` to the executor, checks the profit and returns the transaction gas; logs the
    /// frame, refund and calldata parts.
    function call(bytes memory data, uint256 profit, string memory name) internal returns (uint256) {
        (bool ok, bytes memory ret) = address(executor).call(data);
        Vm.Gas memory g = vm.lastCallGas();
        assertTrue(ok, string.concat("execute reverted: ", name));
        assertEq(abi.decode(ret, (uint256)), profit, string.concat("profit of ", name));

        return txGas(data, g, name);
    }

    function ticksCrossed(Route storage rt) internal view returns (string memory s) {
        for (uint256 i; i < rt.pools.length; ++i) {
            address pool = rt.pools[i];
            uint256 n = kindOf[pool] == KIND_V2 ? 0 : laddersCrossed(pool, rt.ticksBefore[i], tickOf(pool));
            s = string.concat(s, toString(n));
        }
    }

    function r(address a, address b) internal pure returns (address[] memory) {
        return pairs2(a, b);
    }

    function r(address a, address b, address c) internal pure returns (address[] memory) {
        return pairs3(a, b, c);
    }

    function r(address a, address b, address c, address d) internal pure returns (address[] memory p) {
        p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (a, b, c, d);
    }
}

/// The same routes, each in the block of its pools' last swap (as a backrun of that swap is).
contract ExecutorGasMixedSameBlockTest is ExecutorGasMixedTest {
    function newBlock() internal pure override returns (bool) {
        return false;
    }
}
