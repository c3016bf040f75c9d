// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../../src/Executor.sol";
import {V2Fixture, IV2Pair, IERC20Min} from "./V2.sol";
import {RunCalls} from "./Run.sol";

/// Three real test ERC20s (A, B from v2-core, C from pancake-swap-core), four real pairs and a
/// funded executor. All pools start at the same prices (1 A = 2 B = 6 C); then a whale dumps A on
/// both Pancake pools, so A is cheap on Pancake and two arbitrages exist:
///   2-hop:    A -> B on Uniswap (A/B),  B -> A on Pancake (A/B)
///   triangle: A -> B on Uniswap (A/B),  B -> C on Uniswap (B/C),  C -> A on Pancake (C/A)
abstract contract ExecutorFixture is V2Fixture, RunCalls {
    event Executed(address indexed tokenIn, uint256 amountIn, uint256 profit, uint256 premium, uint8 funding);

    uint256 internal constant SUPPLY = 1e30;
    uint256 internal constant FUNDS = 100e18; // the executor's float of A

    Executor internal executor;
    address internal tokenA;
    address internal tokenB;
    address internal tokenC;
    address internal uniAB;
    address internal cakeAB;
    address internal uniBC;
    address internal cakeCA;

    function setUp() public virtual {
        deployFactories();
        tokenA = deployUniToken(SUPPLY);
        tokenB = deployUniToken(SUPPLY);
        tokenC = deployCakeToken(SUPPLY);

        uniAB = createPair(uniFactory, tokenA, tokenB);
        cakeAB = createPair(cakeFactory, tokenA, tokenB);
        uniBC = createPair(uniFactory, tokenB, tokenC);
        cakeCA = createPair(cakeFactory, tokenC, tokenA);

        addLiquidity(uniAB, tokenA, 1_000e18, tokenB, 2_000e18);
        addLiquidity(cakeAB, tokenA, 1_000e18, tokenB, 2_000e18);
        addLiquidity(uniBC, tokenB, 2_000e18, tokenC, 6_000e18);
        addLiquidity(cakeCA, tokenC, 6_000e18, tokenA, 1_000e18);

        // The gap: a whale sells A on both Pancake pools through the pairs' own swap.
        traderSwap(cakeAB, tokenA, 50e18);
        traderSwap(cakeCA, tokenA, 40e18);

        executor = new Executor(address(0), address(0));
        executor.setExecutor(address(this), true);
        send(tokenA, address(executor), FUNDS);
    }

    function balanceOf(address token, address who) internal view returns (uint256) {
        return IERC20Min(token).balanceOf(who);
    }
}
