// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {ExecutorFixture} from "./ExecutorFixture.sol";
import {ConcentratedFixture} from "./Concentrated.sol";
import {V2Fixture} from "./V2.sol";

/// ExecutorFixture (tokens A, B, C; four V2 pairs with A cheap on both Pancake pairs; the executor
/// holding 100 A) plus real Uniswap V3 and Algebra pools on the same token pairs at the same
/// starting prices (1 A = 2 B = 6 C), each seeded with a ladder of ranges and a full range:
///   V3:      A/B at 0.3 % (v3AB) and 0.05 % (v3AB5), B/C at 0.05 % (v3BC), C/A at 0.3 % (v3CA)
///   Algebra: A/B (algAB), B/C (algBC), C/A (algCA), dynamic fee
/// No gap is opened on these pools here: a test opens the one its route needs with `dumpA`.
abstract contract MixedFixture is ExecutorFixture, ConcentratedFixture {
    address internal v3AB;
    address internal v3AB5;
    address internal v3BC;
    address internal v3CA;
    address internal algAB;
    address internal algBC;
    address internal algCA;

    function setUp() public virtual override {
        super.setUp();
        deployConcentrated();
        v3AB = createV3Pool(tokenA, 1_000e18, tokenB, 2_000e18, 3000);
        v3AB5 = createV3Pool(tokenA, 1_000e18, tokenB, 2_000e18, 500);
        v3BC = createV3Pool(tokenB, 2_000e18, tokenC, 6_000e18, 500);
        v3CA = createV3Pool(tokenC, 6_000e18, tokenA, 1_000e18, 3000);
        algAB = createAlgebraPool(tokenA, 1_000e18, tokenB, 2_000e18);
        algBC = createAlgebraPool(tokenB, 2_000e18, tokenC, 6_000e18);
        algCA = createAlgebraPool(tokenC, 6_000e18, tokenA, 1_000e18);
    }

    /// A whale sells `amount` of A on `pool`, so A is cheap there: a route ending on `pool`
    /// (buying A back) becomes profitable.
    function dumpA(address pool, uint256 amount) internal {
        swapAny(pool, tokenA, amount);
    }

    function holder() internal view virtual override(V2Fixture) returns (address) {
        return V2Fixture.holder();
    }
}
