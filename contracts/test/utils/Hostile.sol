// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// Test doubles for hostile callers of the executor's swap callbacks. They are not protocol code:
/// they stand for a pool (or its accomplice) that misbehaves in the callback, which no real pool
/// does, to show what the executor's guard refuses.

/// Forwards a call to the executor, re-throwing its revert.
contract Accomplice {
    function forward(address executor, bytes memory data) external {
        (bool ok, bytes memory ret) = executor.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}

/// Looks like a V3 pool to the executor (token0, token1, swap) and never pays any output. In its
/// `swap` it asks the caller for the input through `uniswapV3SwapCallback`, in one of these ways:
contract HostilePool {
    enum Mode {
        Honest, // once, exactly the input
        ViaAccomplice, // once, exactly the input, but the call comes from another contract
        AskMore, // once, the input + 1
        AskTwice // twice, the input each time
    }

    address public immutable token0;
    address public immutable token1;
    Accomplice public immutable accomplice;
    Mode public mode;

    constructor(address t0, address t1) {
        (token0, token1) = (t0, t1);
        accomplice = new Accomplice();
    }

    function setMode(Mode m) external {
        mode = m;
    }

    function swap(address, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata)
        external
        returns (int256 amount0, int256 amount1)
    {
        int256 ask = mode == Mode.AskMore ? amountSpecified + 1 : amountSpecified;
        // Claims to have paid one unit of output (it pays nothing), so a hop declaring 1 passes
        // the executor's HopShort check and the route goes on to its balance checks.
        (amount0, amount1) = zeroForOne ? (ask, int256(-1)) : (int256(-1), ask);
        (int256 d0, int256 d1) = zeroForOne ? (ask, int256(0)) : (int256(0), ask);
        bytes memory callback = abi.encodeWithSignature("uniswapV3SwapCallback(int256,int256,bytes)", d0, d1, "");
        if (mode == Mode.ViaAccomplice) {
            accomplice.forward(msg.sender, callback);
        } else {
            callBack(msg.sender, callback);
            if (mode == Mode.AskTwice) callBack(msg.sender, callback);
        }
    }

    function callBack(address executor, bytes memory data) internal {
        (bool ok, bytes memory ret) = executor.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
