// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

// A market participant for the tools' test worlds (polyarb-tools `traders.rs`, `liquidity.rs`):
// it swaps on, and adds and removes liquidity in, the REAL concentrated-liquidity pools (npm
// `@uniswap/v3-core` 1.0.1 and `@cryptoalgebra/core` 2.0.0 bytecode) from its own token balance,
// paying exactly what a pool asks for in its callback, as a router does for its user. Outputs,
// burned liquidity and earned fees come back to this contract, so one funding lasts a whole run.
//
// Only its owner may act; a callback is honoured only from the pool it is calling at that moment.
// Not a protocol contract: only interfaces of the real pools are declared here.

interface IActorToken {
    function transfer(address to, uint256 value) external returns (bool);
}

/// What both pool kinds share (same selectors in Uniswap V3 and Algebra V1).
interface IActorPool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1);
    function burn(int24 tickLower, int24 tickUpper, uint128 amount) external returns (uint256 amount0, uint256 amount1);
    function collect(address recipient, int24 tickLower, int24 tickUpper, uint128 amount0Requested, uint128 amount1Requested)
        external
        returns (uint128 amount0, uint128 amount1);
}

interface IActorV3Pool {
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
}

interface IActorAlgebraPool {
    function mint(address sender, address recipient, int24 bottomTick, int24 topTick, uint128 liquidityDesired, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1, uint128 liquidityActual);
}

contract PoolActor {
    uint8 public constant KIND_V3 = 0;
    uint8 public constant KIND_ALGEBRA = 1;

    error NotOwner();
    error NotActivePool(address caller);
    error BadKind(uint8 kind);
    error TransferFailed(address token);
    /// An Algebra mint took other liquidity than asked (it cannot when paid in full).
    error PartialMint(uint128 wanted, uint128 got);
    /// The pool answered neither `slot0()` nor `globalState()`.
    error NoTick(address pool);

    address public immutable owner;
    /// The pool whose callback we expect while we call it; zero otherwise.
    address internal activePool;

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// Swaps on `pool` (either kind), paying the input from this contract's balance; the output
    /// comes here. `amountSpecified > 0` is an exact input, `< 0` an exact output (raw units).
    function swap(address pool, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96)
        external
        onlyOwner
        returns (int256 amount0, int256 amount1)
    {
        activePool = pool;
        (amount0, amount1) = IActorPool(pool).swap(address(this), zeroForOne, amountSpecified, sqrtPriceLimitX96, "");
        activePool = address(0);
    }

    /// `swap`, then the pool's tick after it (word 1 of `slot0()` on Uniswap V3, of
    /// `globalState()` on Algebra), so an `eth_call` can tell which initialized ticks it crossed.
    function swapReportingTick(address pool, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96)
        external
        onlyOwner
        returns (int256 amount0, int256 amount1, int24 tickAfter)
    {
        activePool = pool;
        (amount0, amount1) = IActorPool(pool).swap(address(this), zeroForOne, amountSpecified, sqrtPriceLimitX96, "");
        activePool = address(0);
        (bool ok, bytes memory state) = pool.staticcall(abi.encodeWithSelector(0x3850c7bd));
        if (!ok) {
            (ok, state) = pool.staticcall(abi.encodeWithSelector(0xe76c01e4));
        }
        if (!ok || state.length < 64) revert NoTick(pool);
        (, tickAfter) = abi.decode(state, (uint160, int24));
    }

    /// Adds `liquidity` to this contract's position `[tickLower, tickUpper)` of `pool`.
    function mint(uint8 kind, address pool, int24 tickLower, int24 tickUpper, uint128 liquidity)
        external
        onlyOwner
        returns (uint256 amount0, uint256 amount1)
    {
        activePool = pool;
        if (kind == KIND_V3) {
            (amount0, amount1) = IActorV3Pool(pool).mint(address(this), tickLower, tickUpper, liquidity, "");
        } else if (kind == KIND_ALGEBRA) {
            uint128 actual;
            (amount0, amount1, actual) =
                IActorAlgebraPool(pool).mint(address(this), address(this), tickLower, tickUpper, liquidity, "");
            if (actual != liquidity) revert PartialMint(liquidity, actual);
        } else {
            revert BadKind(kind);
        }
        activePool = address(0);
    }

    /// Removes `liquidity` from this contract's position and collects everything the position is
    /// owed (the burned amounts plus its fees) back here. Returns the burned amounts.
    function burn(address pool, int24 tickLower, int24 tickUpper, uint128 liquidity)
        external
        onlyOwner
        returns (uint256 amount0, uint256 amount1)
    {
        (amount0, amount1) = IActorPool(pool).burn(tickLower, tickUpper, liquidity);
        IActorPool(pool).collect(address(this), tickLower, tickUpper, type(uint128).max, type(uint128).max);
    }

    function uniswapV3MintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        payPool(amount0Owed, amount1Owed);
    }

    function algebraMintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        payPool(amount0Owed, amount1Owed);
    }

    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        payPool(positive(amount0Delta), positive(amount1Delta));
    }

    function algebraSwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        payPool(positive(amount0Delta), positive(amount1Delta));
    }

    function positive(int256 delta) internal pure returns (uint256) {
        // casting to 'uint256' is safe because delta > 0 here
        // forge-lint: disable-next-line(unsafe-typecast)
        return delta > 0 ? uint256(delta) : 0;
    }

    function payPool(uint256 amount0, uint256 amount1) internal {
        if (msg.sender != activePool || msg.sender == address(0)) revert NotActivePool(msg.sender);
        if (amount0 > 0) pay(IActorPool(msg.sender).token0(), amount0);
        if (amount1 > 0) pay(IActorPool(msg.sender).token1(), amount1);
    }

    function pay(address token, uint256 amount) internal {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IActorToken.transfer, (msg.sender, amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed(token);
    }
}
