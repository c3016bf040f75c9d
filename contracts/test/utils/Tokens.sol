// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// Test-only tokens with the two non-standard `transfer` behaviours the executor must handle.
/// (Standard tokens in the tests are the real v2-core / pancake-swap-core test ERC20 bytecode.)

/// Like USDT on Ethereum: `transfer` returns nothing and reverts on failure.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "NoReturnToken: balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }
}

/// Like some early tokens: `transfer` returns false instead of reverting when the balance is short.
contract FalseReturnToken {
    mapping(address => uint256) public balanceOf;

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (balanceOf[msg.sender] < amount) return false;
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }
}
