// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {AaveFixture, IAavePool} from "./utils/Aave.sol";
import {IERC20Min} from "./utils/V2.sol";

/// A `flashLoanSimple` receiver that repays what the pool asks less `shortBy` (it approves the
/// pool, which pulls) and records what the pool said.
contract AaveBorrower {
    IAavePool internal immutable pool;
    uint256 public lastAmount;
    uint256 public lastPremium;
    address public lastInitiator;

    constructor(IAavePool p) {
        pool = p;
    }

    function borrow(address asset, uint256 amount, uint256 shortBy) external {
        pool.flashLoanSimple(address(this), asset, amount, abi.encode(shortBy), 0);
    }

    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        require(msg.sender == address(pool), "not the pool");
        lastAmount = amount;
        lastPremium = premium;
        lastInitiator = initiator;
        uint256 shortBy = abi.decode(params, (uint256));
        (bool ok,) =
            asset.call(abi.encodeWithSignature("approve(address,uint256)", msg.sender, amount + premium - shortBy));
        require(ok, "approve");
        return true;
    }
}

/// Aave V3's real Pool deploys here from the npm package core-v3 artifacts, its seven logic
/// libraries linked, behind the proxy its real PoolAddressesProvider makes. `Pool.initialize` in
/// this release sets no flash-loan premium: it starts at 0 and governance sets it through the
/// PoolConfigurator, as these tests do before they supply a reserve and borrow it.
contract AavePoolTest is AaveFixture {
    function setUp() public {
        deployAavePool();
    }

    /// A listed, supplied reserve with a 0.05 % premium, and a borrower holding enough for it.
    function market() internal returns (address token, AaveBorrower borrower) {
        token = deployUniToken(1e30);
        deployAaveConfigurator();
        listAndSupply(token, 1e24);
        configurator.updateFlashloanPremiumTotal(5);
        borrower = new AaveBorrower(pool);
        send(token, address(borrower), 1e21);
    }

    function test_a_supplied_reserve_lends_for_the_premium_set_by_governance() public {
        (address token, AaveBorrower borrower) = market();
        assertEq(pool.FLASHLOAN_PREMIUM_TOTAL(), 5, "premium set");
        uint256 amount = 123_456_789_012_345_678_901;
        address aToken = aTokenOf(token);
        uint256 before = IERC20Min(token).balanceOf(aToken);
        borrower.borrow(token, amount, 0);
        // Aave's percentMul: amount * 5 / 10,000, rounded half up.
        uint256 want = (amount * 5 + 5_000) / 10_000;
        assertEq(borrower.lastAmount(), amount, "amount lent");
        assertEq(borrower.lastPremium(), want, "premium");
        assertEq(borrower.lastInitiator(), address(borrower), "initiator");
        // The reserve's tokens sit in its aToken, which keeps the premium (none to the protocol).
        assertEq(IERC20Min(token).balanceOf(aToken), before + want, "aToken balance after");
    }

    function test_a_loan_repaid_short_by_one_wei_reverts() public {
        (address token, AaveBorrower borrower) = market();
        // The pool pulls amount + premium with transferFrom: one wei of allowance short fails the
        // token's own transfer (the v2-core test ERC20's SafeMath), and the pool passes its reason on.
        vm.expectRevert(bytes("ds-math-sub-underflow"));
        borrower.borrow(token, 1e20, 1);
    }

    /// The aToken of `asset`: `getReserveData(asset).aTokenAddress`, the struct's ninth field.
    function aTokenOf(address asset) internal view returns (address aToken) {
        (bool ok, bytes memory data) =
            address(pool).staticcall(abi.encodeWithSignature("getReserveData(address)", asset));
        assertTrue(ok, "getReserveData");
        (,,,,,,,, aToken) =
            abi.decode(data, (uint256, uint128, uint128, uint128, uint128, uint128, uint40, uint16, address));
    }

    function test_the_pool_is_a_proxy_of_the_linked_implementation_with_no_premium_yet() public view {
        assertTrue(address(pool) != address(0) && address(pool).code.length > 0, "pool proxy");
        assertEq(pool.ADDRESSES_PROVIDER(), address(provider), "provider");
        assertEq(pool.FLASHLOAN_PREMIUM_TOTAL(), 0, "premium, basis points");
        assertEq(pool.FLASHLOAN_PREMIUM_TO_PROTOCOL(), 0, "premium to the protocol");
    }
}
