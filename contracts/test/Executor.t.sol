// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {ExecutorFixture} from "./utils/ExecutorFixture.sol";
import {IV2Pair} from "./utils/V2.sol";
import {NoReturnToken, FalseReturnToken} from "./utils/Tokens.sol";

/// Executor against the real Uniswap V2 and Pancake V2 pair bytecode. Every expected amount is
/// computed here from the pairs' reserves (see V2Fixture.quote), never written down.
contract ExecutorTest is ExecutorFixture {
    address internal constant STRANGER = address(0xBAD);
    address internal constant ALICE = address(0xA11CE);

    // ---- profitable routes pay exactly the quoted profit

    function test_TwoHop_UniswapThenPancake_PaysExactProfit() public {
        assertPaysExactly(tokenA, 10e18, pairs2(uniAB, cakeAB));
    }

    function test_Triangle_PaysExactProfit() public {
        assertPaysExactly(tokenA, 5e18, pairs3(uniAB, uniBC, cakeCA));
    }

    /// Four hops is the longest route the format allows (148 bytes); a pair may repeat.
    function test_FourHops_AreAccepted_PayExactProfit() public {
        address[] memory p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (uniAB, cakeAB, uniAB, cakeAB);
        assertPaysExactly(tokenA, 5e18, p);
    }

    /// Property: for any size, the route pays exactly the quoted profit or reverts Unprofitable
    /// with the exact balances, i.e. the executor never ends a call with less than it started.
    function testFuzz_TwoHop_PaysExactlyOrRevertsUnprofitable(uint256 amountIn) public {
        amountIn = 1e12 + amountIn % (FUNDS - 1e12);
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        uint256 last = q.outs[1];
        uint256 before = balanceOf(tokenA, address(executor));
        if (last > amountIn) {
            uint256 profit = execute(executor, tokenA, amountIn, 0, q.hops);
            assertEq(profit, last - amountIn, "profit");
            assertEq(balanceOf(tokenA, address(executor)), before + last - amountIn, "balance");
        } else {
            vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before - amountIn + last));
            execute(executor, tokenA, amountIn, 0, q.hops);
        }
    }

    // ---- unprofitable routes revert with the balances

    function test_UnprofitableRoute_RevertsWithBalances() public {
        // The two-hop and triangle routes run backwards buy A where it is dear.
        assertRevertsUnprofitable(tokenA, 10e18, pairs2(cakeAB, uniAB));
        assertRevertsUnprofitable(tokenA, 5e18, pairs3(cakeCA, uniBC, uniAB));
    }

    function test_MinProfitAboveRealProfit_Reverts() public {
        uint256 amountIn = 10e18;
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        uint256 profit = q.outs[1] - amountIn;
        uint256 before = balanceOf(tokenA, address(executor));

        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before + profit));
        execute(executor, tokenA, amountIn, profit + 1, q.hops);

        // The largest minProfit the payload holds is refused the same way, not with an overflow.
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before + profit));
        execute(executor, tokenA, amountIn, type(uint128).max, q.hops);

        // minProfit equal to the real profit passes (the check is >=).
        assertEq(execute(executor, tokenA, amountIn, profit, q.hops), profit, "profit at the boundary");
    }

    // ---- the off-chain formula is the pairs' exact rounding

    /// Asking any hop for one raw unit more than the formula gives makes that pair's K check fail,
    /// for both fees (Uniswap 0.3 %, Pancake 0.2 %) and both swap directions, while the exact
    /// amounts pass (test_TwoHop_*, test_Triangle_*). So the formula is the largest output each pair
    /// accepts.
    function test_AmountOutOneAboveFormula_RevertsInsidePair() public {
        // Forward and backward two-hop routes run each pair in both directions.
        bool[4] memory seen = [false, false, false, false]; // [uni 0->1, uni 1->0, cake 0->1, cake 1->0]
        seen = assertEachHopBumpReverts(tokenA, 10e18, pairs2(uniAB, cakeAB), seen);
        seen = assertEachHopBumpReverts(tokenA, 10e18, pairs2(cakeAB, uniAB), seen);
        seen = assertEachHopBumpReverts(tokenA, 5e18, pairs3(uniAB, uniBC, cakeCA), seen);
        for (uint256 i; i < 4; ++i) {
            assertTrue(seen[i], "every fee and direction was covered");
        }
    }

    function testFuzz_AmountOutOneAboveFormula_RevertsInsidePair(uint256 amountIn, uint256 hop) public {
        amountIn = 1e12 + amountIn % (FUNDS - 1e12);
        hop %= 3;
        address[] memory p = pairs3(uniAB, uniBC, cakeCA);
        Quote memory q = quote(tokenA, amountIn, p);
        vm.expectRevert(abi.encodeWithSignature("Error(string)", kReasonOf[p[hop]]));
        execute(executor, tokenA, amountIn, 0, bumpAmountOut(q.hops, hop));
    }

    /// A competitor trading first moves the reserves against our quote: the pair refuses the swap
    /// and the route costs only gas.
    function test_ReservesMovedAgainstRoute_RevertsInsidePair() public {
        uint256 amountIn = 10e18;
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        traderSwap(cakeAB, tokenB, 1e18); // the same B -> A trade as our second hop
        uint256 before = balanceOf(tokenA, address(executor));
        vm.expectRevert(abi.encodeWithSignature("Error(string)", "Pancake: K"));
        execute(executor, tokenA, amountIn, 0, q.hops);
        assertEq(balanceOf(tokenA, address(executor)), before, "balance after revert");
    }

    // ---- access control

    function test_Owner_IsTheDeployer() public {
        assertEq(executor.owner(), address(this), "owner");
        vm.prank(ALICE);
        Executor e = new Executor(address(0), address(0));
        assertEq(e.owner(), ALICE, "owner of a contract ALICE deployed");
    }

    function test_Stranger_CannotExecute() public {
        Quote memory q = quote(tokenA, 10e18, pairs2(uniAB, cakeAB));
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        vm.prank(STRANGER);
        execute(executor, tokenA, 10e18, 0, q.hops);
    }

    function test_Stranger_CannotWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        vm.prank(STRANGER);
        executor.withdraw(tokenA, STRANGER, 1);
        assertEq(balanceOf(tokenA, address(executor)), FUNDS, "executor balance");
    }

    function test_Owner_Withdraws() public {
        executor.withdraw(tokenA, ALICE, 7e18);
        assertEq(balanceOf(tokenA, ALICE), 7e18, "alice received");
        assertEq(balanceOf(tokenA, address(executor)), FUNDS - 7e18, "executor kept the rest");
    }

    // ---- malformed routes

    function test_BadRoute_Length() public {
        bytes memory five = quote(tokenA, 1e18, fiveHops()).hops; // 185 bytes of well-formed hops
        // 37 is one whole hop: a cycle needs two.
        uint256[10] memory lengths = [uint256(0), 1, 20, 36, 37, 38, 73, 75, 147, 185];
        for (uint256 i; i < lengths.length; ++i) {
            bytes memory hops = new bytes(lengths[i]);
            for (uint256 j; j < hops.length; ++j) {
                hops[j] = five[j];
            }
            vm.expectRevert(abi.encodeWithSelector(Executor.BadRoute.selector));
            execute(executor, tokenA, 1e18, 0, hops);
        }
    }

    /// Flags bits 1-2 = 3 (no pool kind) or any of bits 3-7 set; flags 2-5 name the V3 and
    /// Algebra kinds (test/ExecutorMixed.t.sol).
    function test_BadRoute_FlagsWithOtherBits() public {
        Quote memory q = quote(tokenA, 5e18, pairs3(uniAB, uniBC, cakeCA));
        uint8[4] memory bad = [uint8(0x06), 0x07, 0x80, 0xff];
        for (uint256 hop; hop < 3; ++hop) {
            for (uint256 i; i < bad.length; ++i) {
                bytes memory hops = bytes.concat(q.hops);
                hops[hop * 37 + 20] = bytes1(bad[i]);
                vm.expectRevert(abi.encodeWithSelector(Executor.BadRoute.selector));
                execute(executor, tokenA, 5e18, 0, hops);
            }
        }
    }

    /// Flags are checked before any token moves: with a bad flag on the last hop and an
    /// over-asking first hop, the call fails as BadRoute, not inside the first pair.
    function test_BadRoute_IsCheckedBeforeAnyPairIsCalled() public {
        Quote memory q = quote(tokenA, 5e18, pairs3(uniAB, uniBC, cakeCA));
        bytes memory hops = bumpAmountOut(q.hops, 0);
        hops[2 * 37 + 20] = bytes1(uint8(0x06));
        vm.expectRevert(abi.encodeWithSelector(Executor.BadRoute.selector));
        execute(executor, tokenA, 5e18, 0, hops);
    }

    // ---- tokens with non-standard transfer

    /// A USDT-style input token (transfer returns nothing) works both through the route and withdraw.
    function test_NoReturnToken_RoutePaysAndWithdraws() public {
        address n = address(new NoReturnToken(SUPPLY));
        address uniNB = createPair(uniFactory, n, tokenB);
        address cakeNB = createPair(cakeFactory, n, tokenB);
        addLiquidity(uniNB, n, 1_000e18, tokenB, 2_000e18);
        addLiquidity(cakeNB, n, 1_000e18, tokenB, 2_000e18);
        traderSwap(cakeNB, n, 50e18);
        send(n, address(executor), FUNDS);

        assertPaysExactly(n, 10e18, pairs2(uniNB, cakeNB));

        executor.withdraw(n, ALICE, 3e18);
        assertEq(balanceOf(n, ALICE), 3e18, "alice received");
        uint256 held = balanceOf(n, address(executor));
        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        executor.withdraw(n, ALICE, held + 1);
    }

    function test_TransferFailed_WhenTokenReverts() public {
        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        executor.withdraw(tokenA, ALICE, FUNDS + 1); // the real ERC20 reverts (ds-math-sub-underflow)

        Quote memory q = quote(tokenA, FUNDS + 1, pairs2(uniAB, cakeAB));
        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        execute(executor, tokenA, FUNDS + 1, 0, q.hops);
    }

    function test_TransferFailed_WhenTokenReturnsFalse() public {
        FalseReturnToken f = new FalseReturnToken(SUPPLY);
        assertTrue(f.transfer(address(executor), 5), "fund the executor");
        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        executor.withdraw(address(f), ALICE, 6);
        executor.withdraw(address(f), ALICE, 5);
        assertEq(f.balanceOf(ALICE), 5, "alice received");
    }

    function test_TransferFailed_WhenTokenHasNoCode() public {
        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        executor.withdraw(address(0xDEAD), ALICE, 1);
    }

    // ---- helpers

    /// Runs the quoted route with minProfit = the quoted profit and checks the exact result: the
    /// return value, the Executed event, the input-token balance, and that no intermediate token
    /// stayed in the executor (each pair paid the next one directly).
    function assertPaysExactly(address tokenIn, uint256 amountIn, address[] memory pairs) internal {
        Quote memory q = quote(tokenIn, amountIn, pairs);
        uint256 n = pairs.length;
        assertEq(q.tokens[n], tokenIn, "fixture: route must end in its input token");
        uint256 last = q.outs[n - 1];
        assertTrue(last > amountIn, "fixture: route must be profitable");
        uint256 expected = last - amountIn;

        uint256 before = balanceOf(tokenIn, address(executor));
        uint256[] memory midBefore = new uint256[](n);
        for (uint256 i = 1; i < n; ++i) {
            midBefore[i] = balanceOf(q.tokens[i], address(executor));
        }

        vm.expectEmit(true, true, true, true, address(executor));
        emit Executed(tokenIn, amountIn, expected, 0, CAPITAL);
        uint256 profit = execute(executor, tokenIn, amountIn, expected, q.hops);

        assertEq(profit, expected, "returned profit");
        assertEq(balanceOf(tokenIn, address(executor)), before + expected, "executor balance");
        for (uint256 i = 1; i < n; ++i) {
            if (q.tokens[i] == tokenIn) continue;
            assertEq(balanceOf(q.tokens[i], address(executor)), midBefore[i], "intermediate token left over");
        }
    }

    function assertRevertsUnprofitable(address tokenIn, uint256 amountIn, address[] memory pairs) internal {
        Quote memory q = quote(tokenIn, amountIn, pairs);
        uint256 last = q.outs[pairs.length - 1];
        assertTrue(last < amountIn, "fixture: route must lose");
        uint256 before = balanceOf(tokenIn, address(executor));
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before, before - amountIn + last));
        execute(executor, tokenIn, amountIn, 0, q.hops);
        assertEq(balanceOf(tokenIn, address(executor)), before, "balance after revert");
    }

    /// Bumps each hop's amountOut in turn, expects that pair's own K revert, and records which
    /// (DEX, direction) combinations were exercised.
    function assertEachHopBumpReverts(address tokenIn, uint256 amountIn, address[] memory pairs, bool[4] memory seen)
        internal
        returns (bool[4] memory)
    {
        Quote memory q = quote(tokenIn, amountIn, pairs);
        for (uint256 i; i < pairs.length; ++i) {
            vm.expectRevert(abi.encodeWithSignature("Error(string)", kReasonOf[pairs[i]]));
            execute(executor, tokenIn, amountIn, 0, bumpAmountOut(q.hops, i));
            bool zeroForOne = q.tokens[i] == IV2Pair(pairs[i]).token0();
            seen[(feeOf[pairs[i]] == UNI_FEE ? 0 : 2) + (zeroForOne ? 0 : 1)] = true;
        }
        return seen;
    }

    function fiveHops() internal view returns (address[] memory p) {
        p = new address[](5);
        (p[0], p[1], p[2], p[3], p[4]) = (uniAB, cakeAB, uniAB, cakeAB, uniAB);
    }
}
