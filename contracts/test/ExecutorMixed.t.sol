// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {MixedFixture} from "./utils/MixedFixture.sol";
import {IAlgebraPoolDeployer, IAlgebraFactory, IConcentratedPool} from "./utils/Concentrated.sol";
import {HostilePool} from "./utils/Hostile.sol";

/// Routes mixing Uniswap V2 / Pancake pairs, Uniswap V3 pools and Algebra pools, against the real
/// npm bytecode of all of them. Every expected amount comes from `quoteRoute`: the same hops run
/// on the real pools by this test as a plain trader, then the state rolled back; never from the
/// executor and never written down.
contract ExecutorMixedTest is MixedFixture {
    address internal constant STRANGER = address(0xBAD);

    // ---- two hops: every kind before and after every other

    function test_TwoHop_V3ThenV2_PaysExactProfit() public {
        assertPaysExactly(10e18, route(v3AB, cakeAB)); // A is cheap on cakeAB (fixture)
    }

    function test_TwoHop_V2ThenV3_PaysExactProfit() public {
        dumpA(v3AB, 60e18);
        assertPaysExactly(10e18, route(uniAB, v3AB));
    }

    function test_TwoHop_V3ThenV3_PaysExactProfit() public {
        dumpA(v3AB5, 60e18);
        assertPaysExactly(10e18, route(v3AB, v3AB5));
    }

    function test_TwoHop_AlgebraThenV3_PaysExactProfit() public {
        dumpA(v3AB, 60e18);
        assertPaysExactly(10e18, route(algAB, v3AB));
    }

    function test_TwoHop_V3ThenAlgebra_PaysExactProfit() public {
        dumpA(algAB, 60e18);
        assertPaysExactly(10e18, route(v3AB, algAB));
    }

    function test_TwoHop_AlgebraThenV2_PaysExactProfit() public {
        assertPaysExactly(10e18, route(algAB, cakeAB));
    }

    function test_TwoHop_V2ThenAlgebra_PaysExactProfit() public {
        dumpA(algAB, 60e18);
        assertPaysExactly(10e18, route(uniAB, algAB));
    }

    // ---- three hops (A -> B -> C -> A): each kind first, in the middle and last

    function test_Triangle_V3_Algebra_V2_PaysExactProfit() public {
        assertPaysExactly(5e18, route(v3AB, algBC, cakeCA));
    }

    function test_Triangle_V2_V3_Algebra_PaysExactProfit() public {
        dumpA(algCA, 60e18);
        assertPaysExactly(5e18, route(uniAB, v3BC, algCA));
    }

    function test_Triangle_Algebra_V2_V3_PaysExactProfit() public {
        dumpA(v3CA, 60e18);
        assertPaysExactly(5e18, route(algAB, uniBC, v3CA));
    }

    function test_Triangle_Algebra_Algebra_V3_PaysExactProfit() public {
        dumpA(v3CA, 60e18);
        assertPaysExactly(5e18, route(algAB, algBC, v3CA));
    }

    function test_Triangle_V3_V3_V2_PaysExactProfit() public {
        assertPaysExactly(5e18, route(v3AB, v3BC, cakeCA));
    }

    // ---- four hops (the longest route)

    /// A -> B -> C -> B -> A: V3, Algebra, V2, V2.
    function test_FourHop_V3_Algebra_V2_V2_PaysExactProfit() public {
        assertPaysExactly(5e18, route(v3AB, algBC, uniBC, cakeAB));
    }

    /// A -> B -> C -> B -> A: V2, V3, Algebra, V3.
    function test_FourHop_V2_V3_Algebra_V3_PaysExactProfit() public {
        dumpA(v3AB5, 60e18);
        assertPaysExactly(5e18, route(uniAB, v3BC, algBC, v3AB5));
    }

    /// The same V3 pool twice: its second hop sees the price the first one left.
    function test_FourHop_SameV3PoolTwice_PaysExactProfit() public {
        assertPaysExactly(3e18, route(v3AB, cakeAB, v3AB, cakeAB));
    }

    /// Property: for any size, a mixed triangle pays exactly the quote or reverts Unprofitable with
    /// the exact balances.
    function testFuzz_MixedTriangle_PaysExactlyOrRevertsUnprofitable(uint256 amountIn) public {
        amountIn = 1e12 + amountIn % (FUNDS - 1e12);
        Quote memory q = quoteRoute(tokenA, amountIn, route(v3AB, algBC, cakeCA));
        uint256 last = q.outs[2];
        uint256 before = balanceOf(tokenA, address(executor));
        if (last > amountIn) {
            assertEq(execute(executor, tokenA, amountIn, 0, q.hops), last - amountIn, "profit");
            assertEq(balanceOf(tokenA, address(executor)), before + last - amountIn, "balance");
        } else {
            vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before - amountIn + last));
            execute(executor, tokenA, amountIn, 0, q.hops);
        }
    }

    // ---- ticks crossed

    /// A route whose Algebra and V3 hops each cross several initialized ticks (ladder boundaries,
    /// read from the pools' own current tick before and after) pays exactly the quote.
    function test_TickCrossingRoute_PaysExactProfit() public {
        dumpA(v3AB, 60e18);
        int24 algBefore = tickOf(algAB);
        int24 v3Before = tickOf(v3AB);
        assertPaysExactly(30e18, route(algAB, v3AB));
        assertTrue(laddersCrossed(algAB, algBefore, tickOf(algAB)) >= 2, "Algebra hop crossed >= 2 ticks");
        assertTrue(laddersCrossed(v3AB, v3Before, tickOf(v3AB)) >= 2, "V3 hop crossed >= 2 ticks");
    }

    // ---- stale quotes

    /// A competitor sells A on the V3 pool first: the pool pays less than the route declares and
    /// the hop reverts HopShort with exactly what the pool would now pay; nothing moves.
    function test_V3PoolMovedAgainstRoute_RevertsHopShort() public {
        uint256 amountIn = 10e18;
        Quote memory q = quoteRoute(tokenA, amountIn, route(v3AB, cakeAB));
        swapAny(v3AB, tokenA, 5e18);
        uint256 got = quoteRoute(tokenA, amountIn, route(v3AB)).outs[0];
        assertTrue(got < q.outs[0], "fixture: the competitor moved the price against us");
        assertRevertsLeavingBalance(
            amountIn, q.hops, abi.encodeWithSelector(Executor.HopShort.selector, 0, got, q.outs[0])
        );
    }

    /// Same for an Algebra hop in the middle of a triangle.
    function test_AlgebraPoolMovedAgainstRoute_RevertsHopShort() public {
        uint256 amountIn = 5e18;
        Quote memory q = quoteRoute(tokenA, amountIn, route(v3AB, algBC, cakeCA));
        swapAny(algBC, tokenB, 20e18);
        uint256 got = quoteRoute(tokenA, amountIn, route(v3AB, algBC)).outs[1];
        assertTrue(got < q.outs[1], "fixture: the competitor moved the price against us");
        assertRevertsLeavingBalance(
            amountIn, q.hops, abi.encodeWithSelector(Executor.HopShort.selector, 1, got, q.outs[1])
        );
    }

    /// A V2 pair after a V3 hop refuses with its own K check when its reserves moved.
    function test_V2PairAfterV3HopMoved_RevertsInsidePair() public {
        uint256 amountIn = 10e18;
        Quote memory q = quoteRoute(tokenA, amountIn, route(v3AB, cakeAB));
        traderSwap(cakeAB, tokenB, 1e18);
        assertRevertsLeavingBalance(amountIn, q.hops, abi.encodeWithSignature("Error(string)", "Pancake: K"));
    }

    /// Declaring one raw unit more than the pool pays fails that hop as HopShort(hop, quote,
    /// quote + 1), first, middle and last, V3 and Algebra: with the exact-amount tests, the check
    /// is exactly `got >= amountOut` and the quote is exactly what the pool pays.
    function test_AmountOutOneAboveQuote_RevertsHopShort() public {
        Quote memory q = quoteRoute(tokenA, 5e18, route(v3AB, algBC, cakeCA));
        for (uint256 i; i < 2; ++i) {
            assertRevertsLeavingBalance(
                5e18,
                bumpAmountOut(q.hops, i),
                abi.encodeWithSelector(Executor.HopShort.selector, i, q.outs[i], q.outs[i] + 1)
            );
        }
        dumpA(v3CA, 60e18);
        q = quoteRoute(tokenA, 5e18, route(algAB, uniBC, v3CA));
        assertRevertsLeavingBalance(
            5e18,
            bumpAmountOut(q.hops, 0),
            abi.encodeWithSelector(Executor.HopShort.selector, 0, q.outs[0], q.outs[0] + 1)
        );
        assertRevertsLeavingBalance(
            5e18,
            bumpAmountOut(q.hops, 2),
            abi.encodeWithSelector(Executor.HopShort.selector, 2, q.outs[2], q.outs[2] + 1)
        );
    }

    // ---- callbacks

    function test_Callbacks_FromOutsider_Revert() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
        executor.uniswapV3SwapCallback(1e18, -1, "");
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
        executor.algebraSwapCallback(1e18, -1, "");
    }

    /// A real pool calling back outside `execute` is refused, also right after a route ran through
    /// that very pool in the same transaction (the transient window was closed after the hop).
    function test_Callbacks_FromPoolOutsideExecute_Revert() public {
        assertCallbacksRefused();
        assertPaysExactly(5e18, route(v3AB, algBC, cakeCA));
        assertCallbacksRefused();
    }

    /// A V3 pool flagged as Algebra calls `uniswapV3SwapCallback`, an Algebra pool flagged as V3
    /// calls `algebraSwapCallback`: both refused, although the pool is the running hop's.
    function test_Callbacks_OfTheWrongKind_Revert() public {
        bytes memory hops = quoteRoute(tokenA, 5e18, route(v3AB, cakeAB)).hops;
        hops[20] = bytes1(uint8(hops[20]) ^ 0x06); // kind 1 (V3) -> 2 (Algebra)
        assertRevertsLeavingBalance(5e18, hops, abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
        hops = quoteRoute(tokenA, 5e18, route(algAB, cakeAB)).hops;
        hops[20] = bytes1(uint8(hops[20]) ^ 0x06); // kind 2 (Algebra) -> 1 (V3)
        assertRevertsLeavingBalance(5e18, hops, abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
    }

    /// Control for the hostile-pool tests below: an honest callback from the running hop's pool is
    /// paid exactly the hop's input (the pool pays nothing back, so the route ends Unprofitable
    /// with the first hop's A gone, which proves the B it bought was paid on).
    function test_HostilePool_HonestCallback_IsPaidTheInput() public {
        HostilePool h = hostile(HostilePool.Mode.Honest);
        uint256 before = balanceOf(tokenA, address(executor));
        bytes memory hops = hostileRoute(h);
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before - 1e18));
        execute(executor, tokenA, 1e18, 0, hops);
    }

    /// During a hop, a callback from a contract that is not the hop's pool is refused.
    function test_Callback_FromContractNotInCurrentHop_Reverts() public {
        HostilePool h = hostile(HostilePool.Mode.ViaAccomplice);
        assertRevertsLeavingBalance(1e18, hostileRoute(h), abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
    }

    /// The hop's pool asking for one unit more than the hop's input is refused.
    function test_Callback_AskingMoreThanInput_Reverts() public {
        HostilePool h = hostile(HostilePool.Mode.AskMore);
        assertRevertsLeavingBalance(1e18, hostileRoute(h), abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
    }

    /// The hop's pool calling back twice cannot take the input twice.
    function test_Callback_AskingTwice_Reverts() public {
        HostilePool h = hostile(HostilePool.Mode.AskTwice);
        assertRevertsLeavingBalance(1e18, hostileRoute(h), abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
    }

    // ---- malformed routes, access

    /// Kind 3 and any of bits 3-7, on any hop of a mixed route, revert BadRoute; flags 0-5 are the
    /// valid ones (used by every route above).
    function test_BadRoute_FlagsOfNoKind() public {
        Quote memory q = quoteRoute(tokenA, 5e18, route(v3AB, algBC, cakeCA));
        uint8[8] memory bad = [uint8(0x06), 0x07, 0x08, 0x09, 0x0e, 0x10, 0x80, 0xff];
        for (uint256 hop; hop < 3; ++hop) {
            for (uint256 i; i < bad.length; ++i) {
                bytes memory hops = bytes.concat(q.hops);
                hops[hop * 37 + 20] = bytes1(bad[i]);
                vm.expectRevert(abi.encodeWithSelector(Executor.BadRoute.selector));
                execute(executor, tokenA, 5e18, 0, hops);
            }
        }
    }

    /// A bad flag on the last hop wins over an over-asking first (V3) hop: no pool is called.
    function test_BadRoute_IsCheckedBeforeAnyPoolIsCalled() public {
        Quote memory q = quoteRoute(tokenA, 5e18, route(v3AB, algBC, cakeCA));
        bytes memory hops = bumpAmountOut(q.hops, 0);
        hops[2 * 37 + 20] = bytes1(uint8(0x06));
        vm.expectRevert(abi.encodeWithSelector(Executor.BadRoute.selector));
        execute(executor, tokenA, 5e18, 0, hops);
    }

    function test_Stranger_CannotExecuteMixedRoute() public {
        Quote memory q = quoteRoute(tokenA, 5e18, route(v3AB, algBC, cakeCA));
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        execute(executor, tokenA, 5e18, 0, q.hops);
    }

    // ---- what this fixture works around

    /// The npm Algebra factory, wired as its own deployment scripts do, creates a pool whose
    /// DataStorageOperator answers only another address: its hard-coded pool init code hash is not
    /// the hash of the (coverage-instrumented) pool code its deployer embeds. Hence the fixture's
    /// own createPool steps (ConcentratedFixture).
    function test_AlgebraNpmFactory_PredictsTheWrongPoolAddress() public {
        (IAlgebraPoolDeployer deployer, IAlgebraFactory factory) = deployAlgebra();
        deployer.setFactory(address(factory));
        address pool = factory.createPool(tokenA, tokenB);
        vm.expectRevert(abi.encodeWithSignature("Error(string)", "only pool can call this"));
        IConcentratedPool(pool).initialize(uint160(1) << 96);
    }

    // ---- helpers

    /// Quotes the route from A with `amountIn`, runs it with minProfit = the quoted profit and
    /// checks the exact result: return value, Executed event, A balance, and that no intermediate
    /// token stayed in the executor.
    function assertPaysExactly(uint256 amountIn, address[] memory pools) internal {
        Quote memory q = quoteRoute(tokenA, amountIn, pools);
        uint256 n = pools.length;
        assertEq(q.tokens[n], tokenA, "fixture: route must end in A");
        uint256 last = q.outs[n - 1];
        assertTrue(last > amountIn, "fixture: route must be profitable");
        uint256 expected = last - amountIn;

        uint256 before = balanceOf(tokenA, address(executor));
        uint256[] memory midBefore = new uint256[](n);
        for (uint256 i = 1; i < n; ++i) {
            midBefore[i] = balanceOf(q.tokens[i], address(executor));
        }

        vm.expectEmit(true, true, true, true, address(executor));
        emit Executed(tokenA, amountIn, expected, 0, CAPITAL);
        uint256 profit = execute(executor, tokenA, amountIn, expected, q.hops);

        assertEq(profit, expected, "returned profit");
        assertEq(balanceOf(tokenA, address(executor)), before + expected, "executor balance");
        for (uint256 i = 1; i < n; ++i) {
            if (q.tokens[i] == tokenA) continue;
            assertEq(balanceOf(q.tokens[i], address(executor)), midBefore[i], "intermediate token left over");
        }
    }

    function assertRevertsLeavingBalance(uint256 amountIn, bytes memory hops, bytes memory err) internal {
        uint256 before = balanceOf(tokenA, address(executor));
        vm.expectRevert(err);
        execute(executor, tokenA, amountIn, 0, hops);
        assertEq(balanceOf(tokenA, address(executor)), before, "balance after revert");
    }

    /// The route's V3 and Algebra pools (v3AB, algBC) and another (algAB) calling back now, asking
    /// for either token or for nothing, are refused and paid nothing. (Asking for nothing is what
    /// shows the window is closed: after a hop its budget is spent anyway.)
    function assertCallbacksRefused() internal {
        uint256 beforeA = balanceOf(tokenA, address(executor));
        uint256 beforeB = balanceOf(tokenB, address(executor));
        address[3] memory pools = [v3AB, algBC, algAB];
        for (uint256 i; i < pools.length; ++i) {
            for (uint256 ask; ask < 3; ++ask) {
                (int256 a0, int256 a1) = ask == 0
                    ? (int256(1e18), int256(-1))
                    : ask == 1 ? (int256(-1), int256(1e18)) : (int256(0), int256(0));
                vm.prank(pools[i]);
                vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
                if (kindOf[pools[i]] == KIND_V3) executor.uniswapV3SwapCallback(a0, a1, "");
                else executor.algebraSwapCallback(a0, a1, "");
            }
        }
        assertEq(balanceOf(tokenA, address(executor)), beforeA, "nothing paid in A");
        assertEq(balanceOf(tokenB, address(executor)), beforeB, "nothing paid in B");
    }

    /// A HostilePool on A/B in `mode`, registered nowhere (the executor knows it only from the route).
    /// A pool posing as V3 on A/B (token0 A), in `mode`.
    function hostile(HostilePool.Mode mode) internal returns (HostilePool h) {
        h = new HostilePool(tokenA, tokenB);
        h.setMode(mode);
    }

    /// A two-hop cycle: A -> B on the real v3AB with 1e18 (its exact quote declared), then B -> A
    /// on `h` (V3-flagged, input its token1 B, declared output 1): `h` is paid from the B the
    /// first hop delivered.
    function hostileRoute(HostilePool h) internal returns (bytes memory) {
        bytes memory first = quoteRoute(tokenA, 1e18, route(v3AB)).hops;
        return bytes.concat(first, abi.encodePacked(address(h), uint8(KIND_V3 << 1), uint128(1)));
    }

    function route(address a) internal pure returns (address[] memory p) {
        p = new address[](1);
        p[0] = a;
    }

    function route(address a, address b) internal pure returns (address[] memory) {
        return pairs2(a, b);
    }

    function route(address a, address b, address c) internal pure returns (address[] memory) {
        return pairs3(a, b, c);
    }

    function route(address a, address b, address c, address d) internal pure returns (address[] memory p) {
        p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (a, b, c, d);
    }
}
