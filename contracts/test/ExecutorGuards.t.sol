// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {FundingFixture} from "./utils/FundingFixture.sol";
import {IAavePool} from "./utils/Aave.sol";
import {IV2Pair} from "./utils/V2.sol";
import {NoReturnToken} from "./utils/Tokens.sol";
import {FakeLender, PosingPool, TwoFacedPool, FeeOnTransferToken} from "./utils/Doubles.sol";

/// What the executor refuses: callers without the role, a paused contract, callbacks that are not
/// the one it waits for, lenders that do not call back, malformed payloads, odd tokens, and
/// contracts posing as pools that try to take tokens it holds. The honest lenders and pools are
/// the real npm bytecode (FundingFixture); misbehaving ones are the named test doubles of
/// utils/Doubles.sol, each shown working when it behaves (the controls) so a refusal is the
/// executor's doing.
contract ExecutorGuardsTest is FundingFixture {
    address internal constant STRANGER = address(0xBAD);
    address internal constant ALICE = address(0xA11CE);

    // ---- roles

    function test_Stranger_CannotRun_TheSameRouteRunsForTheExecutor() public {
        bytes memory data = goodRoute();
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        rawRun(executor, data);
        assertTrue(rawRun(executor, data) > 0, "the executor runs the same route");
    }

    function test_Stranger_CannotAdminister() public {
        fund(tokenA, 1e18);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.setExecutor(STRANGER, true);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.unpause();
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.withdraw(tokenA, STRANGER, 1);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        executor.pause();
        assertTrue(!executor.isExecutor(STRANGER) && !executor.paused(), "nothing changed");
        assertEq(held(tokenA), 1e18, "nothing withdrawn");
    }

    /// An executor may run and pause, nothing else.
    function test_Executor_CannotAdminister() public {
        executor.setExecutor(ALICE, true);
        fund(tokenA, 1e18);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.setExecutor(STRANGER, true);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.withdraw(tokenA, ALICE, 1);
        vm.prank(ALICE);
        executor.pause();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotOwner.selector));
        executor.unpause();
        assertTrue(executor.paused(), "still paused");
    }

    function test_Owner_MustNameItselfToRun() public {
        Executor e = new Executor(address(vault), aavePool);
        bytes memory data = goodRoute();
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        rawRun(e, data);
        e.setExecutor(address(this), true);
        assertTrue(rawRun(e, data) > 0, "the owner runs once it named itself");
    }

    /// Any executor can stop the contract; while paused no executor runs, the owner still
    /// withdraws, and only the owner resumes.
    function test_ExecutorPauses_RunRefused_WithdrawWorks_OwnerResumes() public {
        executor.setExecutor(ALICE, true);
        fund(tokenA, 5e18);
        bytes memory data = goodRoute();
        vm.prank(ALICE);
        executor.pause();
        assertTrue(executor.paused(), "paused");

        vm.expectRevert(abi.encodeWithSelector(Executor.IsPaused.selector));
        rawRun(executor, data);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.IsPaused.selector));
        rawRun(executor, data);
        // A stranger still learns only that it is not an executor.
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        rawRun(executor, data);

        executor.withdraw(tokenA, ALICE, 2e18);
        assertEq(balanceOf(tokenA, ALICE), 2e18, "withdrawn while paused");

        executor.unpause();
        assertTrue(!executor.paused(), "resumed");
        assertTrue(rawRun(executor, data) > 0, "runs again");
        data = goodRoute(); // quoted before the prank, which the quote's calls would use up
        vm.prank(ALICE);
        assertTrue(rawRun(executor, data) > 0, "the other executor runs again");
    }

    /// The owner may pause without being an executor.
    function test_Owner_PausesWithoutTheRole() public {
        Executor e = new Executor(address(0), address(0));
        e.pause();
        assertTrue(e.paused(), "paused by the owner");
    }

    function test_WithdrawMax_SendsTheWholeBalance_AlsoWhilePaused() public {
        uint256 amount = 7e18 + 1;
        fund(tokenA, amount);
        executor.pause();
        vm.expectEmit(true, true, true, true, address(executor));
        emit Executor.Withdrawn(tokenA, ALICE, amount);
        executor.withdraw(tokenA, ALICE, type(uint256).max);
        assertEq(balanceOf(tokenA, ALICE), amount, "alice received");
        assertEq(held(tokenA), 0, "nothing left");
    }

    /// A revoked executor can neither run nor pause; a revocation made while paused survives the
    /// resume, and an executor named while paused runs once resumed.
    function test_SetExecutor_Revoke() public {
        bytes memory data = goodRoute();
        executor.setExecutor(ALICE, true);
        assertTrue(executor.isExecutor(ALICE), "named");
        executor.setExecutor(ALICE, false);
        assertTrue(!executor.isExecutor(ALICE), "revoked");
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        rawRun(executor, data);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        executor.pause();

        executor.setExecutor(ALICE, true);
        executor.pause();
        executor.setExecutor(ALICE, false);
        executor.setExecutor(STRANGER, true);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Executor.IsPaused.selector));
        rawRun(executor, data);
        executor.unpause();
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(Executor.NotExecutor.selector));
        rawRun(executor, data);
        vm.prank(STRANGER);
        assertTrue(rawRun(executor, data) > 0, "named while paused, runs once resumed");
    }

    /// At most 32 accounts are kept (this test is the first): the 33rd is refused, naming a known
    /// account again is not, and revoking one makes room for a new one.
    function test_TooManyExecutors_At33() public {
        for (uint160 i = 1; i < 32; ++i) {
            executor.setExecutor(address(0x1000 + i), true);
        }
        vm.expectRevert(abi.encodeWithSelector(Executor.TooManyExecutors.selector));
        executor.setExecutor(address(0x2000), true);
        executor.setExecutor(address(0x1005), false);
        executor.setExecutor(address(0x1005), true);
        assertTrue(executor.isExecutor(address(0x1005)), "a known account named again");
        // A revoked account leaves the list: its place takes a new one, and then the list is full
        // again.
        executor.setExecutor(address(0x1007), false);
        executor.setExecutor(address(0x2000), true);
        assertTrue(executor.isExecutor(address(0x2000)), "a new account in a freed place");
        assertTrue(!executor.isExecutor(address(0x1007)), "the revoked one is out");
        vm.expectRevert(abi.encodeWithSelector(Executor.TooManyExecutors.selector));
        executor.setExecutor(address(0x2001), true);
        // Pausing rewrites all 32 words and still works.
        executor.pause();
        executor.unpause();
        assertTrue(rawRun(executor, goodRoute()) > 0, "runs after pausing 32 executors");
    }

    // ---- callbacks outside an execution

    /// Each of the five callbacks, called directly by a stranger or by the real lenders and pools
    /// themselves, with the payload of a real profitable route, is refused; nothing moves.
    function test_Callbacks_OutsideAnExecution_Revert() public {
        fund(tokenA, 10e18);
        fund(tokenB, 10e18);
        bytes memory payload = payloadOf(goodRoute());
        address[6] memory callers = [STRANGER, address(vault), aavePool, uniAB, v3AB, algAB];
        uint256[3] memory before = heldAll();
        bytes memory unexpected = abi.encodeWithSelector(Executor.UnexpectedCallback.selector);
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(unexpected);
            executor.uniswapV3SwapCallback(1e18, -1, payload);
            vm.prank(callers[i]);
            vm.expectRevert(unexpected);
            executor.algebraSwapCallback(1e18, -1, payload);
            vm.prank(callers[i]);
            vm.expectRevert(unexpected);
            executor.uniswapV2Call(address(executor), 0, 1e18, payload);
            vm.prank(callers[i]);
            vm.expectRevert(unexpected);
            executor.receiveFlashLoan(one(tokenA), one(10e18), one(0), payload);
            vm.prank(callers[i]);
            vm.expectRevert(unexpected);
            executor.executeOperation(tokenA, 10e18, 0, address(executor), payload);
        }
        assertHeldAll(before, "after forged callbacks");
    }

    /// Someone else asks the real lenders to lend to the executor (Aave with initiator = that
    /// someone, a V2 pair's flash swap with sender = that someone), with the payload of a real
    /// route: the executor's callback refuses, so the lender's call reverts.
    function test_RealLenders_AskedByAStrangerToLendToTheExecutor_Revert() public {
        bytes memory payload = payloadOf(goodRoute());
        bytes memory unexpected = abi.encodeWithSelector(Executor.UnexpectedCallback.selector);
        uint256 aBefore = balanceOf(tokenA, aToken);
        vm.prank(STRANGER);
        vm.expectRevert(unexpected);
        IAavePool(aavePool).flashLoanSimple(address(executor), tokenA, 10e18, payload, 0);
        assertEq(balanceOf(tokenA, aToken), aBefore, "Aave reserve");

        vm.prank(STRANGER);
        vm.expectRevert(unexpected);
        vault.flashLoan(address(executor), one(tokenA), one(10e18), payload);

        (,, bool zeroForOne) = reservesFor(uniAB, tokenA);
        vm.prank(STRANGER);
        vm.expectRevert(unexpected);
        IV2Pair(uniAB).swap(zeroForOne ? 0 : 1e18, zeroForOne ? 1e18 : 0, address(executor), payload);
        assertEq(held(tokenA) + held(tokenB), 0, "the executor received nothing");
    }

    // ---- callbacks during an execution

    /// A contract in the route (hop 2, posing as a V3 pool) calls the lenders' callbacks on the
    /// executor with the route's own payload, or asks the real lenders to lend to the executor,
    /// while the route runs from capital, a Balancer loan or an Aave loan. Every attempt is
    /// refused with UnexpectedCallback, except re-entering the Balancer Vault during its own loan,
    /// which the Vault refuses first (BAL#400, its re-entrancy guard).
    function test_LenderCallbacks_FromAContractInTheRoute_Revert() public {
        uint256 amountIn = 5e18;
        PosingPool h = new PosingPool(tokenB, tokenA);
        // Hop 1 on v3AB (A -> B), hop 2 on the posing pool (B -> A, declared 1).
        bytes memory hops = bytes.concat(
            quoteRoute(tokenA, amountIn, route1(v3AB)).hops,
            abi.encodePacked(address(h), uint8(KIND_V3 << 1 | 1), uint128(1))
        );
        uint8[3] memory sources = [CAPITAL, BALANCER, AAVE];

        // Control: without a forged call the posing pool takes hop 2's B and pays nothing.
        fund(tokenA, amountIn);
        vm.expectRevert(abi.encodeWithSelector(Executor.Unprofitable.selector, amountIn, 0));
        runRoute(executor, CAPITAL, tokenA, amountIn, 0, hops);

        for (uint256 s; s < sources.length; ++s) {
            uint8 funding = sources[s];
            bytes memory payload = payloadOf(runCalldata(funding, tokenA, amountIn, 0, hops));
            bytes[5] memory forged = [
                abi.encodeWithSelector(Executor.receiveFlashLoan.selector, one(tokenA), one(amountIn), one(0), payload),
                abi.encodeWithSelector(
                    Executor.executeOperation.selector, tokenA, amountIn, 0, address(executor), payload
                ),
                abi.encodeWithSelector(Executor.uniswapV2Call.selector, address(executor), 0, amountIn, payload),
                abi.encodeCall(IAavePool.flashLoanSimple, (address(executor), tokenA, amountIn, payload, 0)),
                abi.encodeWithSignature(
                    "flashLoan(address,address[],uint256[],bytes)",
                    address(executor),
                    one(tokenA),
                    one(amountIn),
                    payload
                )
            ];
            address[5] memory targets =
                [address(executor), address(executor), address(executor), aavePool, address(vault)];
            for (uint256 i; i < forged.length; ++i) {
                h.forge(targets[i], forged[i]);
                bytes memory err = funding == BALANCER && i == 4
                    ? abi.encodeWithSignature("Error(string)", "BAL#400")
                    : abi.encodeWithSelector(Executor.UnexpectedCallback.selector);
                vm.expectRevert(err);
                runRoute(executor, funding, tokenA, amountIn, 0, hops);
            }
        }
        assertEq(held(tokenA), amountIn, "capital after the refusals");
    }

    /// Controls for the fake lenders below: behaving, each shape funds a route that pays exactly
    /// its quote (the double charges nothing).
    function test_FakeLender_Honest_FundsTheRoute() public {
        uint256 amountIn = 10e18;
        uint256 start = vm.snapshotState();
        for (uint256 shape; shape < 3; ++shape) {
            vm.revertToState(start); // each shape meets the same market
            (Executor e, uint8 funding, bytes memory hops, uint256 last) =
                fakeFunded(FakeLender.Mode.Honest, shape, amountIn);
            assertEq(runRoute(e, funding, tokenA, amountIn, 0, hops), last - amountIn, "profit of the honest double");
        }
    }

    /// A lender that returns without calling back: NoCallback, for the Balancer and Aave shapes
    /// and a first hop asked for a flash swap as a V2 pair or as a V3 pool.
    function test_LenderThatDoesNotCallBack_RevertsNoCallback() public {
        for (uint256 shape; shape < 4; ++shape) {
            (Executor e, uint8 funding, bytes memory hops,) = fakeFunded(FakeLender.Mode.Silent, shape, 10e18);
            vm.expectRevert(abi.encodeWithSelector(Executor.NoCallback.selector));
            runRoute(e, funding, tokenA, 10e18, 0, hops);
        }
    }

    /// The awaited lender calling back with a payload other than the one it was handed.
    function test_LenderCallback_WithAnotherPayload_Reverts() public {
        assertEveryShapeRefused(FakeLender.Mode.OtherPayload, 4);
    }

    /// The awaited lender calling back a second time (the first call ran the route and repaid).
    function test_LenderCallback_Twice_Reverts() public {
        assertEveryShapeRefused(FakeLender.Mode.Twice, 3);
    }

    /// The awaited lender calling another lender's callback (Balancer's from Aave or a flash
    /// swap, Aave's from Balancer).
    function test_LenderCallback_OfAnotherKind_Reverts() public {
        assertEveryShapeRefused(FakeLender.Mode.WrongKind, 3);
    }

    /// The awaited Aave-shaped lender naming another initiator: refused, as is the real Aave Pool
    /// asked by a stranger (test_RealLenders_AskedByAStrangerToLendToTheExecutor_Revert).
    function test_AaveCallback_WithAnotherInitiator_Reverts() public {
        (Executor e, uint8 funding, bytes memory hops,) = fakeFunded(FakeLender.Mode.OtherInitiator, 1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
        runRoute(e, funding, tokenA, 10e18, 0, hops);
    }

    /// A V2-shaped flash lender naming another sender in `uniswapV2Call`.
    function test_FlashSwapCallback_WithAnotherSender_Reverts() public {
        (Executor e, uint8 funding, bytes memory hops,) = fakeFunded(FakeLender.Mode.OtherSender, 2, 10e18);
        vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
        runRoute(e, funding, tokenA, 10e18, 0, hops);
    }

    /// An executor built without lenders refuses routes that need one, before calling anything;
    /// so does a flash swap whose first pool is the zero address.
    function test_NoLender() public {
        Executor e = new Executor(address(0), address(0));
        e.setExecutor(address(this), true);
        bytes memory hops = quote(tokenA, 10e18, pairs2(uniAB, cakeAB)).hops;
        vm.expectRevert(abi.encodeWithSelector(Executor.NoLender.selector));
        runRoute(e, BALANCER, tokenA, 10e18, 0, hops);
        vm.expectRevert(abi.encodeWithSelector(Executor.NoLender.selector));
        runRoute(e, AAVE, tokenA, 10e18, 0, hops);
        for (uint256 i; i < 20; ++i) {
            hops[i] = 0;
        }
        vm.expectRevert(abi.encodeWithSelector(Executor.NoLender.selector));
        runRoute(e, FLASH_SWAP, tokenA, 10e18, 0, hops);
    }

    // ---- malformed payloads

    /// Every payload length from 0 to 250 bytes other than 53 + 37·n (n = 2, 3, 4) is BadRoute:
    /// the prefixes of a valid 4-hop payload followed by more hop-like bytes. The three valid
    /// lengths get past the length check (their prefixes are not closed cycles: OpenCycle).
    function test_BadRoute_EveryMalformedLength() public {
        bytes memory valid = payloadOf(
            runCalldata(CAPITAL, tokenA, 4e18, 0, quoteRoute(tokenA, 4e18, pools4(algAB, v3BC, uniBC, cakeAB)).hops)
        );
        bytes memory long = bytes.concat(valid, quoteRoute(tokenA, 1e18, pairs2(uniAB, cakeAB)).hops);
        assertTrue(long.length > 250, "fixture: 250 bytes to cut from");
        for (uint256 len; len <= 250; ++len) {
            bytes memory data = bytes.concat(Executor.run.selector, prefix(long, len));
            bytes4 err = Executor.BadRoute.selector;
            // The 2- and 3-hop prefixes end in C and B; the whole route needs capital it lacks.
            if (len == 127 || len == 164) err = Executor.OpenCycle.selector;
            if (len == 201) err = Executor.TransferFailed.selector;
            vm.expectRevert(abi.encodeWithSelector(err));
            rawRun(executor, data);
        }
    }

    /// Funding bytes 4 to 255 are BadFunding.
    function test_BadFunding_4To255() public {
        bytes memory data = goodRoute();
        for (uint256 f = 4; f < 256; ++f) {
            // casting to 'uint8' is safe because f < 256
            // forge-lint: disable-next-line(unsafe-typecast)
            data[4] = bytes1(uint8(f));
            vm.expectRevert(abi.encodeWithSelector(Executor.BadFunding.selector));
            rawRun(executor, data);
        }
    }

    /// amountIn 0, or any hop's amountOut 0, is ZeroAmount.
    function test_ZeroAmount() public {
        Quote memory q = quoteRoute(tokenA, 5e18, pairs3(v3AB, algBC, cakeCA));
        vm.expectRevert(abi.encodeWithSelector(Executor.ZeroAmount.selector));
        runRoute(executor, BALANCER, tokenA, 0, 0, q.hops);
        for (uint256 hop; hop < 3; ++hop) {
            bytes memory hops = bytes.concat(q.hops);
            setAmountAt(hops, hop, 0);
            vm.expectRevert(abi.encodeWithSelector(Executor.ZeroAmount.selector));
            runRoute(executor, BALANCER, tokenA, 5e18, 0, hops);
        }
    }

    /// A route whose last hop does not pay out the start token: OpenCycle, before anything moves.
    function test_OpenCycle() public {
        fund(tokenA, 10e18);
        bytes memory open = abi.encodeWithSelector(Executor.OpenCycle.selector);
        bytes memory toC = quote(tokenA, 1e18, pairs2(uniAB, uniBC)).hops; // A -> B -> C
        bytes memory toB = quoteRoute(tokenA, 1e18, pairs3(v3AB, algBC, uniBC)).hops; // A -> B -> C -> B
        // A -> B, then the last hop the wrong way round (it would sell A for B).
        bytes memory backwards = quote(tokenA, 1e18, pairs2(uniAB, cakeAB)).hops;
        backwards[37 + 20] = bytes1(uint8(backwards[37 + 20]) ^ 1);
        vm.expectRevert(open);
        runRoute(executor, CAPITAL, tokenA, 1e18, 0, toC);
        vm.expectRevert(open);
        runRoute(executor, BALANCER, tokenA, 1e18, 0, toB);
        vm.expectRevert(open);
        runRoute(executor, AAVE, tokenA, 1e18, 0, backwards);
        assertEq(held(tokenA), 10e18, "capital untouched");
    }

    // ---- tokens with odd transfers

    /// A fee-on-transfer start token (1 % burnt on every transfer) on real V2 pairs: quoted as if
    /// the pair received what was sent, the first pair refuses with its own K check and nothing
    /// moves; from a Balancer loan the executor holds 1 % less than it must send and the token
    /// refuses the transfer (TransferFailed). Quoted on what the pair really receives, the route
    /// runs and pays exactly that quote less the 1 % the token burns on the way back.
    function test_FeeOnTransferToken_StartToken() public {
        FeeOnTransferToken f = new FeeOnTransferToken(SUPPLY);
        address fot = address(f);
        (address uniFB, address cakeFB) = v2Market(fot);
        uint256 amountIn = 10e18;
        send(fot, address(vault), 100e18);
        Quote memory naive = quote(fot, amountIn, pairs2(uniFB, cakeFB));
        (uint112 r0, uint112 r1,) = IV2Pair(uniFB).getReserves();

        vm.expectRevert(abi.encodeWithSelector(Executor.TransferFailed.selector));
        runRoute(executor, BALANCER, fot, amountIn, 0, naive.hops);
        fund(fot, 50e18);
        uint256 capital = held(fot); // 49.5: the fee was burnt on the way in
        vm.expectRevert(abi.encodeWithSignature("Error(string)", "UniswapV2: K"));
        runRoute(executor, CAPITAL, fot, amountIn, 0, naive.hops);
        assertEq(held(fot), capital, "capital untouched");
        (uint112 s0, uint112 s1,) = IV2Pair(uniFB).getReserves();
        assertTrue(s0 == r0 && s1 == r1, "reserves untouched");

        assertFeeAwareQuotePays(f, pairs2(uniFB, cakeFB), amountIn);
    }

    /// Quoted on what the first pair receives, the fee-on-transfer route pays exactly that quote
    /// less what the token burns on its way back.
    function assertFeeAwareQuotePays(FeeOnTransferToken f, address[] memory pairs, uint256 amountIn) internal {
        address fot = address(f);
        uint256 before = held(fot);
        Quote memory q = quote(fot, amountIn - amountIn * f.FEE_PERCENT() / 100, pairs);
        uint256 back = q.outs[1] - q.outs[1] * f.FEE_PERCENT() / 100;
        assertTrue(back > amountIn, "fixture: profitable after the fee");
        assertEq(runRoute(executor, CAPITAL, fot, amountIn, back - amountIn, q.hops), back - amountIn, "profit");
        assertEq(held(fot), before + back - amountIn, "capital after");
    }

    /// A start token whose `transfer` returns nothing (USDT-style) runs from a V2 flash swap and
    /// from a Balancer loan (the executor holding none of it) and pays exactly the quote.
    function test_NoReturnToken_FlashSwapAndBalancer() public {
        address n = address(new NoReturnToken(SUPPLY));
        (address uniNB, address cakeNB) = v2Market(n);
        send(n, address(vault), 100e18);
        uint8[2] memory sources = [FLASH_SWAP, BALANCER];
        for (uint256 i; i < sources.length; ++i) {
            Quote memory q = quote(n, 5e18, pairs2(uniNB, cakeNB));
            uint256 before = held(n);
            uint256 profit = q.outs[1] - 5e18;
            assertEq(runRoute(executor, sources[i], n, 5e18, profit, q.hops), profit, "profit");
            assertEq(held(n), before + profit, "balance");
        }
    }

    // ---- contracts posing as pools cannot take tokens the executor holds

    /// Hop 1 buys C on a real pool; hop 2 is a contract posing as a V3 pool whose token0 claims B
    /// (which the executor holds) and which asks for hop 2's input while paying nothing. The
    /// executor pays it B out of its own balance, then finds B short: TokenLost.
    /// From a Balancer loan the same: capital in A lets it repay the loan, so the run gets as far
    /// as the guard (without it the repayment fails first: CannotRepay).
    function test_PosingPool_ClaimingAHeldToken_RevertsTokenLost() public {
        fund(tokenB, 100e18);
        fund(tokenA, 1e18);
        PosingPool h = new PosingPool(tokenB, tokenA);
        Quote memory q = quoteRoute(tokenA, 1e18, route1(v3CA));
        bytes memory hops = bytes.concat(q.hops, abi.encodePacked(address(h), uint8(KIND_V3 << 1 | 1), uint128(1)));
        uint256 heldB = held(tokenB);
        assertTrue(q.outs[0] <= heldB, "fixture: the executor holds enough B");
        uint8[2] memory sources = [CAPITAL, BALANCER];
        for (uint256 i; i < sources.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(Executor.TokenLost.selector, tokenB, heldB, heldB - q.outs[0]));
            runRoute(executor, sources[i], tokenA, 1e18, 0, hops);
        }
    }

    /// A flash-swap lender (V2 shape) that calls back without paying its output: the executor
    /// pays hop 2's pair the declared output out of its own B, then finds B short: TokenLost.
    function test_FlashSwapLender_PayingNothing_RevertsTokenLost() public {
        (Executor e, uint8 funding, bytes memory hops,) = fakeFunded(FakeLender.Mode.Unpaid, 2, 10e18);
        uint256 got = amountAt(hops, 0);
        send(tokenB, address(e), 100e18);
        vm.expectRevert(abi.encodeWithSelector(Executor.TokenLost.selector, tokenB, 100e18, 100e18 - got));
        runRoute(e, funding, tokenA, 10e18, 0, hops);
    }

    /// The guard lists the tokens a route may pay out of the executor's balance by asking each
    /// pool for its tokens before the route runs; the hop then pays that token, never asking
    /// again. A contract posing as a pool that answers B the first time and would answer C the
    /// second is paid B, which the guard watches. Here one such contract is both hops (V3 shape):
    /// hop 1 asks for nothing and reports an output as large as the executor's C balance; hop 2
    /// would claim C. (An earlier build asked twice and lost all its C here.)
    function test_PoolChangingItsTokenMidRoute_CannotTakeAnUnguardedToken() public {
        fund(tokenB, 100e18);
        fund(tokenC, 300e18);
        uint256 loot = held(tokenC);
        TwoFacedPool h = new TwoFacedPool(tokenB, tokenC, tokenA, loot);
        bytes memory hops = bytes.concat(
            abi.encodePacked(address(h), uint8(KIND_V3 << 1), toUint128(loot)),
            abi.encodePacked(address(h), uint8(KIND_V3 << 1 | 1), uint128(1))
        );
        assertRouteCannotTakeC(CAPITAL, hops, loot);
    }

    /// The same through `uniswapV2Call`: a V2-shaped flash lender that is also hop 2's pair
    /// answers B when the guard asks and would answer C when the callback pays hop 2's input.
    function test_FlashLenderChangingItsTokenMidRoute_CannotTakeAnUnguardedToken() public {
        fund(tokenB, 100e18);
        fund(tokenC, 300e18);
        uint256 loot = held(tokenC);
        uint256 amountIn = 1e18;
        TwoFacedPool h = new TwoFacedPool(tokenB, tokenC, tokenA, 0);
        send(tokenA, address(h), amountIn);
        bytes memory hops = bytes.concat(
            abi.encodePacked(address(h), uint8(KIND_V2 << 1), toUint128(loot)),
            abi.encodePacked(address(h), uint8(KIND_V2 << 1 | 1), toUint128(amountIn))
        );
        assertRouteCannotTakeC(FLASH_SWAP, hops, loot);
    }

    // ---- helpers

    /// A profitable two-hop route from a Balancer loan (no capital needed), as calldata.
    function goodRoute() internal view returns (bytes memory) {
        return runCalldata(BALANCER, tokenA, 1e18, 0, quote(tokenA, 1e18, pairs2(uniAB, cakeAB)).hops);
    }

    /// Sends `data` to `e` and returns its profit (0 if it returned other data), re-throwing a revert.
    function rawRun(Executor e, bytes memory data) internal returns (uint256 profit) {
        (bool ok, bytes memory ret) = address(e).call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (ret.length == 32) profit = abi.decode(ret, (uint256));
    }

    /// The payload of a `run()` call: its calldata without the selector.
    function payloadOf(bytes memory data) internal pure returns (bytes memory) {
        bytes memory p = new bytes(data.length - 4);
        for (uint256 i; i < p.length; ++i) {
            p[i] = data[i + 4];
        }
        return p;
    }

    function prefix(bytes memory b, uint256 len) internal pure returns (bytes memory p) {
        p = new bytes(len);
        for (uint256 i; i < len; ++i) {
            p[i] = b[i];
        }
    }

    function one(address a) internal pure returns (address[] memory v) {
        v = new address[](1);
        v[0] = a;
    }

    function one(uint256 a) internal pure returns (uint256[] memory v) {
        v = new uint256[](1);
        v[0] = a;
    }

    function route1(address a) internal pure returns (address[] memory p) {
        p = new address[](1);
        p[0] = a;
    }

    function assertHeldAll(uint256[3] memory want, string memory what) internal view {
        uint256[3] memory h = heldAll();
        for (uint256 i; i < 3; ++i) {
            assertEq(h[i], want[i], what);
        }
    }

    /// Two real V2 pairs of `token` against B, at 1 token = 2 B, with `token` dumped on the
    /// Pancake one (so it is cheap there): token -> B on Uniswap, B -> token on Pancake profits.
    function v2Market(address token) internal returns (address uniTB, address cakeTB) {
        uniTB = createPair(uniFactory, token, tokenB);
        cakeTB = createPair(cakeFactory, token, tokenB);
        addLiquidity(uniTB, token, 1_000e18, tokenB, 2_000e18);
        addLiquidity(cakeTB, token, 1_000e18, tokenB, 2_000e18);
        // traderSwap's quote, on what the pair received (less than sent for a fee-on-transfer token).
        (uint256 rIn, uint256 rOut, bool zeroForOne) = reservesFor(cakeTB, token);
        send(token, cakeTB, 50e18);
        uint256 out = amountOut(balanceOf(token, cakeTB) - rIn, rIn, rOut, feeOf[cakeTB]);
        IV2Pair(cakeTB).swap(zeroForOne ? 0 : out, zeroForOne ? out : 0, holder(), "");
    }

    /// An executor whose lenders are a FakeLender in `mode`, lending A (it holds 1,000 A and
    /// 2,000 B), and a route funded through it, with the route's quoted last output:
    ///   shape 0: Balancer-shaped, uniAB -> cakeAB
    ///   shape 1: Aave-shaped, uniAB -> cakeAB
    ///   shape 2: flash swap on the fake as a V2 pair (A/B, A -> B at uniAB's quote), then cakeAB
    ///   shape 3: flash swap on the fake as a V3 pool (A -> B, declared 1), then cakeAB
    function fakeFunded(FakeLender.Mode mode, uint256 shape, uint256 amountIn)
        internal
        returns (Executor e, uint8 funding, bytes memory hops, uint256 last)
    {
        FakeLender fake = new FakeLender(tokenA, tokenB);
        fake.setMode(mode);
        send(tokenA, address(fake), 1_000e18);
        send(tokenB, address(fake), 2_000e18);
        e = new Executor(address(fake), address(fake));
        e.setExecutor(address(this), true);
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, cakeAB));
        last = q.outs[1];
        hops = q.hops;
        if (shape == 0) {
            funding = BALANCER;
        } else if (shape == 1) {
            funding = AAVE;
        } else {
            funding = FLASH_SWAP;
            // The fake in hop 1's place, A (its token0) -> B; hop 2 unchanged.
            bytes memory first = shape == 2
                ? abi.encodePacked(address(fake), uint8(KIND_V2 << 1 | 1), uint128(q.outs[0]))
                : abi.encodePacked(address(fake), uint8(KIND_V3 << 1 | 1), uint128(1));
            for (uint256 i; i < 37; ++i) {
                hops[i] = first[i];
            }
        }
    }

    /// Each fake-lender shape below `shapes` (see fakeFunded), in `mode`, is refused with
    /// UnexpectedCallback and the executor keeps nothing.
    function assertEveryShapeRefused(FakeLender.Mode mode, uint256 shapes) internal {
        for (uint256 shape; shape < shapes; ++shape) {
            (Executor e, uint8 funding, bytes memory hops,) = fakeFunded(mode, shape, 10e18);
            vm.expectRevert(abi.encodeWithSelector(Executor.UnexpectedCallback.selector));
            runRoute(e, funding, tokenA, 10e18, 0, hops);
            assertEq(balanceOf(tokenA, address(e)) + balanceOf(tokenB, address(e)), 0, "the executor kept nothing");
        }
    }

    /// The route must not succeed, and the executor's C must stay.
    function assertRouteCannotTakeC(uint8 funding, bytes memory hops, uint256 loot) internal {
        uint256 heldB = held(tokenB);
        (bool ok,) = address(executor).call(runCalldata(funding, tokenA, 1e18, 0, hops));
        uint256 lost = loot - held(tokenC);
        assertEq(held(tokenB), heldB, "B (guarded) untouched");
        assertTrue(
            !ok,
            string.concat(
                "run succeeded after paying ", toString(lost), " raw units of C it held to a contract posing as a pool"
            )
        );
        assertEq(held(tokenC), loot, "C held");
    }
}
