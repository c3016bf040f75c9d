// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {FundingFixture} from "./utils/FundingFixture.sol";
import {IV2Pair} from "./utils/V2.sol";

/// Each funding source against the real lenders (Balancer V2 Vault, Aave V3 Pool, and the route's
/// own first pool for flash swaps: Uniswap V2, Uniswap V3, Algebra). Every expected amount comes
/// from the pools' state (quoteRoute / quote) and each lender's premium rule (FundingFixture),
/// never from the executor and never written down.
contract ExecutorFundingTest is FundingFixture {
    // ---- each source pays exactly the quoted profit less the lender's premium

    function test_Capital_PaysQuotedProfit() public {
        assertFunded(CAPITAL, 10e18, pairs2(uniAB, cakeAB));
    }

    function test_FlashSwap_V2FirstHop_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 10e18, pairs2(uniAB, cakeAB));
    }

    /// A V2 flash swap whose second hop is a V3 pool: the pair's output waits in the executor
    /// and the V3 pool takes it in its callback.
    function test_FlashSwap_V2FirstHop_ThenV3_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 10e18, pairs2(uniAB, v3AB5));
    }

    function test_FlashSwap_V3FirstHop_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 5e18, pairs2(v3AB, cakeAB));
    }

    /// A V3 flash swap whose later hops are an Algebra pool and a Pancake pair.
    function test_FlashSwap_V3FirstHop_Triangle_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 5e18, pairs3(v3AB, algBC, cakeCA));
    }

    function test_FlashSwap_AlgebraFirstHop_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 5e18, pairs2(algAB, cakeAB));
    }

    function test_FlashSwap_AlgebraFirstHop_ThenV3_PaysQuotedProfit() public {
        assertFunded(FLASH_SWAP, 5e18, pairs2(algAB, v3AB5));
    }

    function test_Balancer_NoFee_PaysQuotedProfit() public {
        assertFunded(BALANCER, 10e18, pairs2(uniAB, cakeAB));
        assertFunded(BALANCER, 5e18, pairs3(v3AB, algBC, cakeCA));
    }

    function test_Balancer_WithFee_PaysQuotedProfitLessFee() public {
        setBalancerFee(BALANCER_FEE);
        assertFunded(BALANCER, 10e18, pairs2(uniAB, cakeAB));
        // An amount whose fee is not a whole number of raw units: the Vault rounds up.
        assertFunded(BALANCER, 3_333_333_333_333_333_333, pairs3(algAB, v3BC, cakeCA));
    }

    function test_Aave_PaysQuotedProfitLessPremium() public {
        assertFunded(AAVE, 10e18, pairs2(uniAB, cakeAB));
        // 5 bps of this amount ends in ...5 of a unit: percentMul rounds it up.
        assertFunded(AAVE, 3_000_000_000_000_000_001, pairs2(v3AB, cakeAB));
        assertFunded(AAVE, 4e18, pools4(algAB, v3BC, uniBC, cakeAB));
    }

    // ---- Pancake pairs cannot lend to this executor

    /// A Pancake pair asked for a flash swap calls `pancakeCall`, which the executor does not
    /// implement: the call fails without data inside the pair, which re-throws it, and the route
    /// reverts with empty data; nothing moves. The same route from a Balancer loan works.
    function test_FlashSwap_PancakeFirstHop_RevertsWithoutData() public {
        // B -> A on cakeAB (B dear there: A is cheap), A -> B on uniAB.
        Quote memory q = quoteRoute(tokenB, 20e18, pairs2(cakeAB, uniAB));
        assertTrue(q.outs[1] > 20e18, "fixture: the route must be profitable");
        uint256[3] memory before = heldAll();
        (uint112 r0, uint112 r1,) = IV2Pair(cakeAB).getReserves();

        (bool ok, bytes memory ret) = address(executor).call(runCalldata(FLASH_SWAP, tokenB, 20e18, 0, q.hops));
        assertTrue(!ok, "a Pancake flash swap must revert");
        assertEq(ret.length, 0, "revert data length");
        assertHeld(before, "after the Pancake flash swap");
        (uint112 s0, uint112 s1,) = IV2Pair(cakeAB).getReserves();
        assertEq(s0, r0, "reserve0");
        assertEq(s1, r1, "reserve1");

        assertEq(runRoute(executor, BALANCER, tokenB, 20e18, 0, q.hops), q.outs[1] - 20e18, "same route from Balancer");
    }

    // ---- minProfit counts after the premium

    function test_MinProfitAboveNetProfit_RevertsUnprofitable() public {
        setBalancerFee(BALANCER_FEE);
        uint8[4] memory sources = [CAPITAL, FLASH_SWAP, BALANCER, AAVE];
        uint256 start = vm.snapshotState();
        for (uint256 i; i < sources.length; ++i) {
            // Each source meets the same market and an executor holding nothing.
            vm.revertToState(start);
            uint8 funding = sources[i];
            uint256 amountIn = 10e18;
            Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
            uint256 net = q.outs[1] - amountIn - premiumFor(funding, amountIn);
            if (funding == CAPITAL) fund(tokenA, amountIn);
            uint256[3] memory before = heldAll();
            vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, before[0], before[0] + net));
            runRoute(executor, funding, tokenA, amountIn, net + 1, q.hops);
            assertHeld(before, "after Unprofitable");
            // The net profit itself is enough.
            assertEq(runRoute(executor, funding, tokenA, amountIn, net, q.hops), net, "net profit as minProfit");
        }
    }

    // ---- a route that does not earn its premium

    /// Aave: a route earning less than the premium (0 < gross < premium) cannot repay without
    /// capital (CannotRepay: owed amountIn + premium, held the route's output); with capital
    /// covering the shortfall it repays and then fails the profit check (Unprofitable).
    function test_Aave_RouteNotEarningThePremium_CannotRepayOrUnprofitable() public {
        assertPremiumNotEarned(AAVE);
    }

    function test_Balancer_RouteNotEarningTheFee_CannotRepayOrUnprofitable() public {
        setBalancerFee(BALANCER_FEE);
        assertPremiumNotEarned(BALANCER);
    }

    /// A flash swap owes its input back: a losing route cannot repay it without capital, and with
    /// capital it repays and fails the profit check.
    function test_FlashSwap_LosingRoute_CannotRepayOrUnprofitable() public {
        uint256 amountIn = 400e18;
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        uint256 last = q.outs[1];
        assertTrue(last < amountIn, "fixture: the route must lose at this size");
        vm.expectRevert(abi.encodeWithSelector(Executor.CannotRepay.selector, amountIn, last));
        runRoute(executor, FLASH_SWAP, tokenA, amountIn, 0, q.hops);

        uint256 capital = amountIn - last;
        fund(tokenA, capital);
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, capital, 0));
        runRoute(executor, FLASH_SWAP, tokenA, amountIn, 0, q.hops);
        assertEq(held(tokenA), capital, "capital after the revert");
    }

    // ---- helpers

    /// Runs the quoted route from A with `funding` and minProfit = the net profit, and checks the
    /// return value, the Executed event, every token balance of the executor and what the lender
    /// kept. Borrowed routes start with no A in the executor, so the loan paid for them.
    function assertFunded(uint8 funding, uint256 amountIn, address[] memory pools) internal {
        Quote memory q = quoteRoute(tokenA, amountIn, pools);
        uint256 n = pools.length;
        assertEq(q.tokens[n], tokenA, "fixture: route must end in A");
        uint256 premium = premiumFor(funding, amountIn);
        assertTrue(q.outs[n - 1] > amountIn + premium, "fixture: route must earn its premium");
        uint256 net = q.outs[n - 1] - amountIn - premium;

        if (funding == CAPITAL) fund(tokenA, amountIn);
        else assertEq(held(tokenA), 0, "a borrowed route starts without A");
        uint256[3] memory before = heldAll();
        uint256 vaultBefore = balanceOf(tokenA, address(vault));
        uint256 collectorBefore = balanceOf(tokenA, vault.getProtocolFeesCollector());
        uint256 aTokenBefore = balanceOf(tokenA, aToken);

        vm.expectEmit(true, true, true, true, address(executor));
        emit Executed(tokenA, amountIn, net, premium, funding);
        assertEq(runRoute(executor, funding, tokenA, amountIn, net, q.hops), net, "returned profit");

        before[0] += net;
        assertHeld(before, "after the route");
        assertEq(balanceOf(tokenA, address(vault)), vaultBefore, "the Vault got its loan back");
        uint256 fee = funding == BALANCER ? premium : 0;
        assertEq(balanceOf(tokenA, vault.getProtocolFeesCollector()), collectorBefore + fee, "Balancer fee collected");
        assertEq(
            balanceOf(tokenA, aToken), aTokenBefore + (funding == AAVE ? premium : 0), "Aave premium to the aToken"
        );
        // The next route starts from no A again.
        if (funding != CAPITAL) executor.withdraw(tokenA, address(this), type(uint256).max);
    }

    function assertPremiumNotEarned(uint8 funding) internal {
        uint256 amountIn = amountEarningLessThanPremium(funding);
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        uint256 last = q.outs[1];
        uint256 premium = premiumFor(funding, amountIn);
        assertTrue(last > amountIn && last < amountIn + premium, "fixture: 0 < gross profit < premium");

        vm.expectRevert(abi.encodeWithSelector(Executor.CannotRepay.selector, amountIn + premium, last));
        runRoute(executor, funding, tokenA, amountIn, 0, q.hops);

        uint256 capital = amountIn + premium - last;
        fund(tokenA, capital);
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, capital, 0));
        runRoute(executor, funding, tokenA, amountIn, 0, q.hops);
        assertEq(held(tokenA), capital, "capital after the revert");
    }

    /// An amountIn for the two-hop route uniAB -> cakeAB earning more than nothing but less than
    /// `funding`'s premium on it: bisection between a size that earns the premium and one that
    /// loses (the profit curve is concave, so the sizes that earn the premium are one interval).
    function amountEarningLessThanPremium(uint8 funding) internal view returns (uint256) {
        uint256 lo = 1e18;
        uint256 hi = 1_000e18;
        assertTrue(gross(lo) >= int256(premiumFor(funding, lo)), "fixture: the small size earns the premium");
        assertTrue(gross(hi) <= 0, "fixture: the large size loses");
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            int256 g = gross(mid);
            if (g <= 0) hi = mid;
            else if (g >= int256(premiumFor(funding, mid))) lo = mid;
            else return mid;
        }
        revert("no size earns less than the premium");
    }

    function gross(uint256 amountIn) internal view returns (int256) {
        // casting to 'int256' is safe because both amounts are below 2^128 (the payload's width)
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(quote(tokenA, amountIn, pairs2(uniAB, cakeAB)).outs[1]) - int256(amountIn);
    }

    function assertHeld(uint256[3] memory want, string memory what) internal view {
        uint256[3] memory h = heldAll();
        assertEq(h[0], want[0], string.concat("A held ", what));
        assertEq(h[1], want[1], string.concat("B held ", what));
        assertEq(h[2], want[2], string.concat("C held ", what));
    }
}
