// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {FundingFixture} from "./utils/FundingFixture.sol";
import {RouterBot, IRouter02} from "./RouterBaselineGas.t.sol";
import {Vm} from "./utils/Vm.sol";
import {IV2Factory, IV2Pair} from "./utils/V2.sol";

/// A baseline, not a test double: the least gas any contract can spend on the two-hop V2 trade.
/// Everything is hard-coded at deployment (the pairs, directions and amounts of one quote); its
/// fallback transfers the input into the first pair and calls both pairs' `swap`, the first
/// paying the second, the second paying this contract, and checks nothing at all (no caller, no
/// return values, no profit). Calldata is empty.
contract FloorArb {
    address internal immutable token;
    address internal immutable pairOne;
    address internal immutable pairTwo;
    uint256 internal immutable amountIn;
    uint256 internal immutable outOne;
    uint256 internal immutable outTwo;
    bool internal immutable oneZeroForOne;
    bool internal immutable twoZeroForOne;

    constructor(address t, address p1, address p2, uint256 a, uint256 o1, uint256 o2, bool z1, bool z2) {
        (token, pairOne, pairTwo, amountIn, outOne, outTwo, oneZeroForOne, twoZeroForOne) =
        (t, p1, p2, a, o1, o2, z1, z2);
    }

    fallback() external {
        // Immutables cannot be read inside assembly: copy them to the stack first.
        (address t, address p1, address p2, uint256 a) = (token, pairOne, pairTwo, amountIn);
        (uint256 a0One, uint256 a1One) = oneZeroForOne ? (uint256(0), outOne) : (outOne, uint256(0));
        (uint256 a0Two, uint256 a1Two) = twoZeroForOne ? (uint256(0), outTwo) : (outTwo, uint256(0));
        assembly {
            // Nothing else uses memory here: build each call at 0x80.
            mstore(0x80, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(0x84, p1)
            mstore(0xa4, a)
            pop(call(gas(), t, 0, 0x80, 0x44, 0, 0))
            mstore(0x80, shl(224, 0x022c0d9f)) // swap(uint256,uint256,address,bytes)
            mstore(0x84, a0One)
            mstore(0xa4, a1One)
            mstore(0xc4, p2)
            mstore(0xe4, 0x80)
            mstore(0x104, 0)
            pop(call(gas(), p1, 0, 0x80, 0xa4, 0, 0))
            mstore(0x84, a0Two)
            mstore(0xa4, a1Two)
            mstore(0xc4, address())
            pop(call(gas(), p2, 0, 0x80, 0xa4, 0, 0))
        }
    }
}

/// Transaction gas of `run` per route kind and funding source (own capital, a flash swap on the
/// route's first pool, a Balancer loan at fee 0, an Aave loan at 5 bps), over the real pools and
/// lenders of FundingFixture: the numbers the engine budgets for each source. In the same run,
/// the two-hop V2 trade three ways on the same two Uniswap V2 pairs: the executor from capital,
/// the real UniswapV2Router02 (RouterBaselineGas.t.sol's bot) and a floor (FloorArb: no checks at
/// all). Reports numbers (-vv) and asserts only that each call ran and made its quoted profit
/// (and, in the harness tests, that the measurement method reproduces a fresh transaction): no gas
/// goal is pass/fail here.
///
/// Conditions, as ExecutorGasMixed.t.sol: concentrated pools traded through their ladders before
/// (non-zero fee-growth and oracle words), V2 accumulators non-zero, and the measured block is
/// new, so each swap is its pool's first in the block. The executor holds 40 A in every
/// measurement (its start-token balance word is non-zero, as after any profitable run) and none
/// of B or C. Every measurement starts from a snapshot taken before the test touched any account,
/// so each call pays its accesses as the first call of a transaction does (the harness tests show
/// a rolled-back call costs exactly what the same call costs in a fresh transaction, for each
/// funding source on the route touching the most contracts).
///
/// Not used here: forge's state-diff recording (startStateDiffRecording) to list the touched
/// accounts and vm.cool them. After it ran, the V2-V2 capital call cost 36,000 gas less, even in
/// the next transaction: in the traces the accounts it had seen stayed warm, vm.cool or not.
contract ExecutorGasFundingTest is FundingFixture {
    struct Case {
        string name;
        address to;
        bytes data;
        uint256 profit; // quoted profit of `to`, raw units of A (0: `to` returns no profit)
    }

    uint256 internal constant CAPITAL_A = 40e18;

    string[] internal routeNames;
    /// cases[route * 4 + funding]
    Case[] internal cases;
    Case internal executorV2;
    Case internal router02;
    Case internal floor;
    FloorArb internal floorArb;
    uint256 internal floorProfit;

    function setUp() public override {
        super.setUp();
        (address uni2AB, IRouter02 routerOne, IRouter02 routerTwo, RouterBot bot) = routerMarket();
        address[7] memory concentrated = [v3AB, v3AB5, v3BC, v3CA, algAB, algBC, algCA];
        for (uint256 i; i < concentrated.length; ++i) {
            age(concentrated[i]);
        }
        fund(tokenA, CAPITAL_A);
        vm.warp(block.timestamp + 2);
        address[5] memory pairs = [uniAB, cakeAB, uniBC, cakeCA, uni2AB];
        for (uint256 i; i < pairs.length; ++i) {
            IV2Pair(pairs[i]).sync();
        }
        vm.warp(block.timestamp + 2);

        prepare("V2-V2", 10e18, pairs2(uniAB, cakeAB));
        prepare("V3-V2", 1e18, pairs2(v3AB, cakeAB));
        prepare("Alg-V2", 1e18, pairs2(algAB, cakeAB));
        prepare("V2-V3", 10e18, pairs2(uniAB, v3AB5));
        prepare("V3-V3", 1e18, pairs2(v3AB, v3AB5));
        prepare("Alg-V3", 1e18, pairs2(algAB, v3AB5));
        prepare("V3-Alg-V2", 5e18, pairs3(v3AB, algBC, cakeCA));

        // The router comparison: the same 10 A on uniAB then uni2AB, three ways.
        uint256 amountIn = 10e18;
        Quote memory q = quote(tokenA, amountIn, pairs2(uniAB, uni2AB));
        uint256 profit = q.outs[1] - amountIn;
        executorV2 = Case("executor", address(executor), runCalldata(CAPITAL, tokenA, amountIn, profit, q.hops), profit);
        router02 = Case(
            "router02",
            address(bot),
            abi.encodeCall(RouterBot.arb, (routerOne, routerTwo, tokenA, tokenB, amountIn, profit)),
            profit
        );
        (,, bool z1) = reservesFor(uniAB, tokenA);
        (,, bool z2) = reservesFor(uni2AB, tokenB);
        floorArb = new FloorArb(tokenA, uniAB, uni2AB, amountIn, q.outs[0], q.outs[1], z1, z2);
        // As much A as the executor holds, so neither balance word goes through zero.
        send(tokenA, address(floorArb), CAPITAL_A);
        floor = Case("floor", address(floorArb), "", 0);
        floorProfit = profit;
    }

    function test_Gas_FundingTable_RouterAndFloor() public {
        uint256 start = vm.snapshotState();
        string[4] memory sources = ["capital", "flash-swap", "balancer", "aave"];
        uint256[] memory gas = new uint256[](cases.length);
        for (uint256 i; i < cases.length; ++i) {
            gas[i] = measure(cases[i], start);
        }
        for (uint256 r; r < routeNames.length; ++r) {
            string memory row = string.concat(routeNames[r], ":");
            for (uint256 f; f < 4; ++f) {
                uint256 g = gas[r * 4 + f];
                emit log_named_uint(string.concat(routeNames[r], " ", sources[f], " tx"), g);
                row = string.concat(row, " ", sources[f], " ", toString(g));
                if (f > 0) row = string.concat(row, " (", signed(g, gas[r * 4]), ")");
            }
            emit log_named_string("table", row);
        }

        uint256 ex = measure(executorV2, start);
        uint256 ro = measure(router02, start);
        uint256 fl = measure(floor, start);
        assertEq(balanceOf(tokenA, address(floorArb)), CAPITAL_A + floorProfit, "floor profit");
        emit log_named_uint("2-hop V2 executor (capital) tx", ex);
        emit log_named_uint("2-hop V2 router02 tx", ro);
        emit log_named_uint("2-hop V2 floor tx", fl);
        emit log_named_uint("executor gas per 1,000 of the router's", ex * 1000 / ro);
        emit log_named_uint("floor gas per 1,000 of the router's", fl * 1000 / ro);
        emit log_named_uint("executor gas per 1,000 of the floor's", ex * 1000 / fl);
    }

    // ---- the harness: a rolled-back call costs what it costs in a fresh transaction

    function test_GasHarness_Capital() public {
        assertRolledBackEqualsFresh(cases.length - 4);
    }

    function test_GasHarness_FlashSwap() public {
        assertRolledBackEqualsFresh(cases.length - 3);
    }

    function test_GasHarness_Balancer() public {
        assertRolledBackEqualsFresh(cases.length - 2);
    }

    function test_GasHarness_Aave() public {
        assertRolledBackEqualsFresh(cases.length - 1);
    }

    /// Case `i` (the last route, V3-Alg-V2, touches the most contracts) first as the test's first
    /// call, then again after rolling back to a snapshot taken before it: the same gas, so the
    /// table's rolled-back figures are fresh-transaction figures.
    function assertRolledBackEqualsFresh(uint256 i) internal {
        uint256 start = vm.snapshotState();
        uint256 fresh = call(cases[i]);
        uint256 rolledBack = measure(cases[i], start);
        emit log_named_uint(string.concat(cases[i].name, " fresh tx"), fresh);
        emit log_named_uint(string.concat(cases[i].name, " rolled-back tx"), rolledBack);
        assertEq(rolledBack, fresh, "a rolled-back call costs what a fresh one does");
    }

    // ---- preparing

    /// The real Router02 market of RouterBaselineGas.t.sol: a second Uniswap V2 factory of the
    /// same npm build (Router02 hard-codes that build's pair init code hash, so it cannot route
    /// through Pancake), its A/B pair with A cheap, a router per factory and the bot holding A.
    function routerMarket() internal returns (address uni2AB, IRouter02 routerOne, IRouter02 routerTwo, RouterBot bot) {
        IV2Factory second =
            IV2Factory(deployArtifact(string.concat(UNI, "UniswapV2Factory.json"), abi.encode(holder())));
        uni2AB = second.createPair(tokenA, tokenB);
        feeOf[uni2AB] = UNI_FEE;
        kReasonOf[uni2AB] = "UniswapV2: K";
        addLiquidity(uni2AB, tokenA, 1_000e18, tokenB, 2_000e18);
        traderSwap(uni2AB, tokenA, 50e18);
        // The router's WETH is only stored (no ETH paths are used).
        string memory r02 = "@uniswap/v2-periphery/build/UniswapV2Router02.json";
        routerOne = IRouter02(deployArtifact(r02, abi.encode(address(uniFactory), tokenB)));
        routerTwo = IRouter02(deployArtifact(r02, abi.encode(address(second), tokenB)));
        bot = new RouterBot();
        send(tokenA, address(bot), 100e18);
        bot.approve(tokenA, address(routerOne));
        bot.approve(tokenB, address(routerTwo));
    }

    /// The route from A with each funding source, minProfit = its net profit.
    function prepare(string memory name, uint256 amountIn, address[] memory pools) internal {
        routeNames.push(name);
        Quote memory q = quoteRoute(tokenA, amountIn, pools);
        uint8[4] memory sources = [CAPITAL, FLASH_SWAP, BALANCER, AAVE];
        string[4] memory names = ["capital", "flash-swap", "balancer", "aave"];
        for (uint256 f; f < 4; ++f) {
            uint256 premium = premiumFor(sources[f], amountIn);
            uint256 last = q.outs[pools.length - 1];
            assertTrue(last > amountIn + premium, string.concat("fixture: unprofitable route ", name));
            uint256 net = last - amountIn - premium;
            cases.push(
                Case(
                    string.concat(name, " ", names[f]),
                    address(executor),
                    runCalldata(sources[f], tokenA, amountIn, net, q.hops),
                    net
                )
            );
        }
    }

    /// Trades `pool` through every ladder boundary below the price and back, then above and back
    /// (ExecutorGasMixed.t.sol's aging: live pools have non-zero fee-growth and oracle words).
    function age(address pool) internal {
        address t0 = IV2Pair(pool).token0();
        address t1 = IV2Pair(pool).token1();
        swapAny(pool, t1, swapAny(pool, t0, nominal(t0) * 3 / 10));
        swapAny(pool, t0, swapAny(pool, t1, nominal(t1) * 3 / 10));
    }

    // ---- measuring

    /// The call from snapshot `start`, taken before the test touched any account: rolling back to
    /// it leaves every account and slot cold again, as at a transaction's start (see the harness
    /// tests).
    function measure(Case storage c, uint256 start) internal returns (uint256) {
        vm.revertToState(start);
        return call(c);
    }

    /// Sends the case's call, checks it ran and made its profit, returns the transaction gas.
    function call(Case storage c) internal returns (uint256) {
        bytes memory data = c.data;
        (bool ok, bytes memory ret) = c.to.call(data);
        Vm.Gas memory g = vm.lastCallGas();
        assertTrue(ok, string.concat("reverted: ", c.name));
        if (c.profit > 0) assertEq(abi.decode(ret, (uint256)), c.profit, string.concat("profit of ", c.name));
        return txGas(data, g, c.name);
    }

    /// "+123" or "-123": `a` - `b`.
    function signed(uint256 a, uint256 b) internal pure returns (string memory) {
        return a >= b ? string.concat("+", toString(a - b)) : string.concat("-", toString(b - a));
    }
}
