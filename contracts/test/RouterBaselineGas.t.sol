// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {Vm} from "./utils/Vm.sol";
import {V2Fixture, IV2Factory, IV2Pair, IERC20Min} from "./utils/V2.sol";
import {RunCalls} from "./utils/Run.sol";

interface IRouter02 {
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts);
}

/// The same arbitrage a router-based bot sends: sell A for B through one DEX's real
/// `UniswapV2Router02`, sell the B back through the other's, in one transaction, keeping the
/// profit in A (and reverting below `minProfit`, as the executor does).
contract RouterBot {
    function arb(IRouter02 buy, IRouter02 sell, address a, address b, uint256 amountIn, uint256 minProfit)
        external
        returns (uint256 profit)
    {
        address[] memory path = new address[](2);
        (path[0], path[1]) = (a, b);
        uint256 outB = buy.swapExactTokensForTokens(amountIn, 0, path, address(this), block.timestamp)[1];
        (path[0], path[1]) = (b, a);
        uint256 outA =
            sell.swapExactTokensForTokens(outB, amountIn + minProfit, path, address(this), block.timestamp)[1];
        profit = outA - amountIn;
    }

    function approve(address token, address spender) external {
        (bool ok,) = token.call(abi.encodeWithSignature("approve(address,uint256)", spender, type(uint256).max));
        require(ok, "approve");
    }
}

/// Gas of a 2-hop V2 arbitrage from own capital: the executor against the same trade through the
/// real `UniswapV2Router02` (the npm v2-periphery build), from the same state, in the same run.
/// Two Uniswap V2 factories of the same npm build (Router02 computes pair addresses from that
/// build's init code hash, so it cannot route through Pancake pairs); A is cheap on the second.
/// Both start in a new block with non-zero accumulators (each pair's first swap in the block, as
/// in `ExecutorGas.t.sol`). Reports numbers (-vv); asserts only that both made the same profit.
contract RouterBaselineGasTest is V2Fixture, RunCalls {
    uint256 internal constant SUPPLY = 1e30;
    uint256 internal constant AMOUNT_IN = 10e18;

    Executor internal executor;
    RouterBot internal bot;
    address internal tokenA;
    address internal tokenB;
    address internal pairOne;
    address internal pairTwo;
    IRouter02 internal routerOne;
    IRouter02 internal routerTwo;
    bytes internal executorCall;
    uint256 internal profit;

    function setUp() public {
        deployFactories();
        IV2Factory second =
            IV2Factory(deployArtifact(string.concat(UNI, "UniswapV2Factory.json"), abi.encode(holder())));
        tokenA = deployUniToken(SUPPLY);
        tokenB = deployUniToken(SUPPLY);
        pairOne = createPair(uniFactory, tokenA, tokenB);
        pairTwo = second.createPair(tokenA, tokenB);
        feeOf[pairTwo] = UNI_FEE;
        kReasonOf[pairTwo] = "UniswapV2: K";
        addLiquidity(pairOne, tokenA, 1_000e18, tokenB, 2_000e18);
        addLiquidity(pairTwo, tokenA, 1_000e18, tokenB, 2_000e18);
        traderSwap(pairTwo, tokenA, 50e18);

        // The router's WETH is only stored (no ETH paths are used).
        routerOne = IRouter02(
            deployArtifact(
                "@uniswap/v2-periphery/build/UniswapV2Router02.json", abi.encode(address(uniFactory), tokenB)
            )
        );
        routerTwo = IRouter02(
            deployArtifact("@uniswap/v2-periphery/build/UniswapV2Router02.json", abi.encode(address(second), tokenB))
        );

        executor = new Executor(address(0), address(0));
        executor.setExecutor(address(this), true);
        send(tokenA, address(executor), 100e18);
        bot = new RouterBot();
        send(tokenA, address(bot), 100e18);
        bot.approve(tokenA, address(routerOne));
        bot.approve(tokenB, address(routerTwo));

        address[] memory pairs = new address[](2);
        (pairs[0], pairs[1]) = (pairOne, pairTwo);
        Quote memory q = quote(tokenA, AMOUNT_IN, pairs);
        profit = q.outs[1] - AMOUNT_IN;
        executorCall = runCalldata(CAPITAL, tokenA, AMOUNT_IN, profit, q.hops);

        vm.warp(block.timestamp + 2);
        IV2Pair(pairOne).sync();
        IV2Pair(pairTwo).sync();
        vm.warp(block.timestamp + 2);
    }

    function test_Gas_TwoHop_ExecutorAgainstRouter02() public {
        uint256 state = vm.snapshotState();
        coolAll();
        (bool ok, bytes memory ret) = address(executor).call(executorCall);
        Vm.Gas memory ge = vm.lastCallGas();
        assertTrue(ok, "execute reverted");
        assertEq(abi.decode(ret, (uint256)), profit, "executor profit");
        uint256 executorTx = report("executor", executorCall, ge);

        vm.revertToState(state);
        coolAll();
        bytes memory botCall = abi.encodeCall(bot.arb, (routerOne, routerTwo, tokenA, tokenB, AMOUNT_IN, profit));
        (ok, ret) = address(bot).call(botCall);
        Vm.Gas memory gr = vm.lastCallGas();
        assertTrue(ok, "router arbitrage reverted");
        assertEq(abi.decode(ret, (uint256)), profit, "router profit");
        uint256 routerTx = report("router02", botCall, gr);

        emit log_named_uint("executor gas per 1,000 of the router's", executorTx * 1000 / routerTx);
    }

    /// Every account either call touches, and its storage, cold again: each measured call pays
    /// its accesses as the first call of a transaction would, whichever ran before it.
    function coolAll() internal {
        address[8] memory all =
            [address(executor), address(bot), tokenA, tokenB, pairOne, pairTwo, address(routerOne), address(routerTwo)];
        for (uint256 i; i < all.length; ++i) {
            vm.cool(all[i]);
        }
    }

    /// Logs the call's gas as `ExecutorGas.t.sol` does and returns the transaction's gasUsed.
    function report(string memory name, bytes memory data, Vm.Gas memory g) internal returns (uint256 used) {
        used = txGas(data, g, name);
        emit log_named_uint(string.concat(name, " tx"), used);
    }
}
