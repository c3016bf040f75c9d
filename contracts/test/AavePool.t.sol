// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {AaveFixture} from "./utils/Aave.sol";

/// Aave V3's real Pool deploys here from the npm package core-v3 artifacts, its seven logic
/// libraries linked, behind the proxy its real PoolAddressesProvider makes. `Pool.initialize` in
/// this release sets no flash-loan premium: it starts at 0 and governance sets it through the
/// PoolConfigurator (the next step of the lender fixture: reserves, the premium, a supply).
contract AavePoolTest is AaveFixture {
    function setUp() public {
        deployAavePool();
    }

    function test_the_pool_is_a_proxy_of_the_linked_implementation_with_no_premium_yet() public view {
        assertTrue(address(pool) != address(0) && address(pool).code.length > 0, "pool proxy");
        assertEq(pool.ADDRESSES_PROVIDER(), address(provider), "provider");
        assertEq(pool.FLASHLOAN_PREMIUM_TOTAL(), 0, "premium, basis points");
        assertEq(pool.FLASHLOAN_PREMIUM_TO_PROTOCOL(), 0, "premium to the protocol");
    }
}
