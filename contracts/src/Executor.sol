// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// @title polyarb executor
/// @notice Runs one arbitrage route over Uniswap-V2-style pairs, atomically, from this contract's
///         own balance of the input token, and reverts unless the balance grew by `minProfit`.
///         The call format is specified in docs/executor.md.
/// @dev    Amounts are computed off chain with each pair's own `getAmountOut` rounding, so the
///         contract does no pricing: it moves `amountIn` to the first pair and asks every pair for
///         an exact output sent straight to the next pair. A pair whose reserves moved against the
///         route reverts (`UniswapV2: K`); the final balance check is the only safety net needed.
contract Executor {
    /// @notice The deployer; the only caller of `execute` and `withdraw`.
    /// @dev Immutable: read from code (3 gas) instead of storage (2100 gas cold) on every call.
    address public immutable owner;

    /// Packed hop: pair (20 bytes) | flags (1 byte) | amountOut (uint128, 16 bytes, big-endian).
    uint256 private constant HOP_BYTES = 37;
    uint256 private constant FLAGS_OFFSET = 20;
    uint256 private constant AMOUNT_OFFSET = 21;
    uint256 private constant MAX_HOPS = 4;
    /// flags bit 0: the input is the pair's token0 (zeroForOne). Other bits must be clear.
    uint256 private constant ZERO_FOR_ONE = 1;

    error NotOwner();
    error BadRoute();
    /// @dev Parameters named balanceBefore/balanceAfter because `after` is a reserved word in
    ///      Solidity; the ABI signature is `Unprofitable(uint256,uint256)` as specified.
    error Unprofitable(uint256 balanceBefore, uint256 balanceAfter);
    error TransferFailed();

    /// @notice A route ran; `profit` is the growth of this contract's `tokenIn` balance (raw units).
    event Executed(address indexed tokenIn, uint256 amountIn, uint256 profit);

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Runs the packed route `hops` with `amountIn` of `tokenIn` (raw units) and returns the
    ///         profit (raw units of `tokenIn`). Reverts `Unprofitable` unless profit >= `minProfit`.
    function execute(address tokenIn, uint256 amountIn, uint256 minProfit, bytes calldata hops)
        external
        onlyOwner
        returns (uint256 profit)
    {
        uint256 len = hops.length;
        if (len == 0 || len > MAX_HOPS * HOP_BYTES || len % HOP_BYTES != 0) revert BadRoute();
        // Check every flags byte before any token moves, so a malformed route never reaches a pair
        // (at most four calldata reads).
        unchecked {
            for (uint256 o; o < len; o += HOP_BYTES) {
                if (_flagsAt(hops, o) > ZERO_FOR_ONE) revert BadRoute();
            }
        }

        uint256 balanceBefore = _balanceOf(tokenIn);
        address pair = _pairAt(hops, 0);
        _transfer(tokenIn, pair, amountIn);

        unchecked {
            // Offsets are bounded by len <= 148, so none of this arithmetic can overflow.
            for (uint256 o; o < len;) {
                uint256 next = o + HOP_BYTES;
                // Each pair pays straight into the next one: no transfer through this contract.
                address to = next < len ? _pairAt(hops, next) : address(this);
                _swap(pair, _flagsAt(hops, o) != 0, _amountAt(hops, o), to);
                pair = to;
                o = next;
            }
        }

        uint256 balanceAfter = _balanceOf(tokenIn);
        // Written as a subtraction so a huge minProfit cannot overflow into a panic.
        if (balanceAfter < balanceBefore || balanceAfter - balanceBefore < minProfit) {
            revert Unprofitable(balanceBefore, balanceAfter);
        }
        unchecked {
            profit = balanceAfter - balanceBefore;
        }
        emit Executed(tokenIn, amountIn, profit);
    }

    /// @notice Sends `amount` (raw units) of `token` held here to `to`.
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        _transfer(token, to, amount);
    }

    // ---- packed route reads: the length checks in `execute` keep every read inside `hops`,
    //      so we load words straight from calldata instead of bounds-checked slices.

    function _pairAt(bytes calldata hops, uint256 o) private pure returns (address pair) {
        assembly ("memory-safe") {
            pair := shr(96, calldataload(add(hops.offset, o)))
        }
    }

    function _flagsAt(bytes calldata hops, uint256 o) private pure returns (uint256 flags) {
        assembly ("memory-safe") {
            flags := byte(0, calldataload(add(hops.offset, add(o, FLAGS_OFFSET))))
        }
    }

    function _amountAt(bytes calldata hops, uint256 o) private pure returns (uint256 amount) {
        assembly ("memory-safe") {
            amount := shr(128, calldataload(add(hops.offset, add(o, AMOUNT_OFFSET))))
        }
    }

    // ---- external calls, hand-encoded to skip ABI-encoder overhead on the hot path.

    /// @dev `pair.swap(amount0Out, amount1Out, to, "")`; a revert inside the pair (e.g.
    ///      `UniswapV2: K`) is re-thrown unchanged so the caller sees why the route failed.
    ///      No extcodesize check: a codeless "pair" keeps the tokens and the balance check reverts.
    function _swap(address pair, bool zeroForOne, uint256 amountOut, address to) private {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x022c0d9f00000000000000000000000000000000000000000000000000000000) // swap(uint256,uint256,address,bytes)
            mstore(add(p, 0x04), mul(iszero(zeroForOne), amountOut)) // amount0Out
            mstore(add(p, 0x24), mul(zeroForOne, amountOut)) // amount1Out
            mstore(add(p, 0x44), to)
            mstore(add(p, 0x64), 0x80) // offset of `data`
            mstore(add(p, 0x84), 0) // data.length = 0: no flash-swap callback
            if iszero(call(gas(), pair, 0, p, 0xa4, 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
    }

    /// @dev `token.transfer(to, amount)` that accepts tokens returning `true` or nothing (USDT-style)
    ///      and raises `TransferFailed` if the call reverts, returns false, or `token` has no code.
    function _transfer(address token, address to, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0xa9059cbb00000000000000000000000000000000000000000000000000000000) // transfer(address,uint256)
            mstore(add(p, 0x04), to)
            mstore(add(p, 0x24), amount)
            ok := call(gas(), token, 0, p, 0x44, 0, 0x20)
            // Returned data: either exactly `true` in the first word, or nothing from a contract.
            switch returndatasize()
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0), 1))) }
        }
        if (!ok) revert TransferFailed();
    }

    /// @dev `token.balanceOf(this)`; reverts (empty reason) if the call fails or returns short data.
    function _balanceOf(address token) private view returns (uint256 bal) {
        assembly ("memory-safe") {
            mstore(0, 0x70a0823100000000000000000000000000000000000000000000000000000000) // balanceOf(address)
            mstore(4, address())
            // Yul evaluates arguments right to left: the staticcall runs before returndatasize().
            if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0, 0x24, 0, 0x20))) {
                revert(0, 0)
            }
            bal := mload(0)
        }
    }
}
