// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {BalancerFixture, IBalancerVault, IProtocolFeesCollector} from "./utils/Balancer.sol";
import {IERC20Min} from "./utils/V2.sol";

/// A flash-loan recipient that repays what the Vault asks less `shortBy` and records what the
/// Vault said.
contract Borrower {
    IBalancerVault internal immutable vault;
    uint256 public lastAmount;
    uint256 public lastFee;
    uint256 public heldDuringLoan;

    constructor(IBalancerVault v) {
        vault = v;
    }

    function borrow(address token, uint256 amount, uint256 shortBy) external {
        address[] memory tokens = new address[](1);
        tokens[0] = token;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = amount;
        vault.flashLoan(address(this), tokens, amounts, abi.encode(shortBy));
    }

    function receiveFlashLoan(
        address[] memory tokens,
        uint256[] memory amounts,
        uint256[] memory feeAmounts,
        bytes memory userData
    ) external {
        require(msg.sender == address(vault), "not the vault");
        uint256 shortBy = abi.decode(userData, (uint256));
        lastAmount = amounts[0];
        lastFee = feeAmounts[0];
        heldDuringLoan = IERC20Min(tokens[0]).balanceOf(address(this));
        uint256 repay = amounts[0] + feeAmounts[0] - shortBy;
        require(IERC20Min(tokens[0]).transfer(address(vault), repay), "repay");
    }
}

/// The real Balancer V2 Vault deploys here and lends: the amount arrives in the callback, the fee
/// is the collector's percentage of it (set through the real ProtocolFeesCollector, rounded up as
/// the Vault rounds, and passed on to the collector), and a loan not repaid in full, or larger than the Vault holds, reverts with
/// Balancer's own error codes (BAL#602, BAL#528: BalancerErrors.sol).
contract BalancerVaultTest is BalancerFixture {
    address internal token;
    Borrower internal borrower;

    uint256 internal constant SUPPLY = 1e30;
    uint256 internal constant IN_VAULT = 1e24;

    function setUp() public {
        token = deployUniToken(SUPPLY);
        deployVault(token);
        // What pools would hold in the Vault: the loanable balance.
        send(token, address(vault), IN_VAULT);
        borrower = new Borrower(vault);
        // The fee the borrower pays comes from its own balance.
        send(token, address(borrower), 1e21);
    }

    function test_the_fee_is_zero_as_deployed_and_a_loan_round_trips() public {
        IProtocolFeesCollector fees = IProtocolFeesCollector(vault.getProtocolFeesCollector());
        assertEq(fees.getFlashLoanFeePercentage(), 0, "fee as deployed");
        uint256 before = IERC20Min(token).balanceOf(address(vault));
        borrower.borrow(token, 5e23, 0);
        assertEq(borrower.lastAmount(), 5e23, "amount lent");
        assertEq(borrower.lastFee(), 0, "fee");
        assertEq(borrower.heldDuringLoan(), 5e23 + 1e21, "held during the loan");
        assertEq(IERC20Min(token).balanceOf(address(vault)), before, "vault balance after");
    }

    function test_a_fee_set_by_governance_is_charged_rounded_up() public {
        // 0.07 %: 7e14 of 1e18.
        setFlashLoanFee(7e14);
        uint256 amount = 123_456_789_012_345_678_901;
        borrower.borrow(token, amount, 0);
        // The Vault's fee: amount * percentage / 1e18, rounded up (FixedPoint.mulUp).
        uint256 want = (amount * 7e14 + 1e18 - 1) / 1e18;
        assertEq(borrower.lastFee(), want, "fee amount");
        // The Vault passes the fee on to its collector and keeps what it lent.
        assertEq(IERC20Min(token).balanceOf(address(vault)), IN_VAULT, "vault balance after");
        assertEq(IERC20Min(token).balanceOf(vault.getProtocolFeesCollector()), want, "collector's fee");
    }

    function test_a_loan_repaid_short_by_one_wei_reverts() public {
        setFlashLoanFee(7e14);
        vm.expectRevert(bytes("BAL#602"));
        borrower.borrow(token, 1e20, 1);
    }

    function test_a_loan_larger_than_the_vault_holds_reverts() public {
        vm.expectRevert(bytes("BAL#528"));
        borrower.borrow(token, IN_VAULT + 1, 0);
    }
}
