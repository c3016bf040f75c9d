// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// @title polyarb executor
/// @notice Runs one arbitrage route of 1 to 4 hops over Uniswap-V2-style pairs, Uniswap V3 pools
///         and Algebra pools (QuickSwap V3), atomically, from this contract's own balance of the
///         input token, and reverts unless the balance grew by `minProfit`. The call format is
///         specified in docs/executor.md.
/// @dev    Amounts are computed off chain with each pool's own rounding, so the contract does no
///         pricing. A V2 hop asks its pair for an exact output (the pair's K check refuses a stale
///         quote); a V3 or Algebra hop swaps an exact input and checks the output against the
///         declared amount (`HopShort`). Tokens go straight from one pool to the next whenever the
///         next hop is a V2 pair; the final balance check is the last safety net.
///         The only state besides the immutable owner is transient (EIP-1153), and lives only
///         while one V3/Algebra hop runs: which pool may call back, in which token it is paid,
///         and how much it may still take.
contract Executor {
    /// @notice The deployer; the only caller of `execute` and `withdraw`.
    /// @dev Immutable: read from code (3 gas) instead of storage (2100 gas cold) on every call.
    address public immutable owner;

    /// Packed hop: pool (20 bytes) | flags (1 byte) | amountOut (uint128, 16 bytes, big-endian).
    uint256 private constant HOP_BYTES = 37;
    uint256 private constant FLAGS_OFFSET = 20;
    uint256 private constant AMOUNT_OFFSET = 21;
    uint256 private constant MAX_HOPS = 4;
    /// flags bit 0: the input is the pool's token0 (zeroForOne).
    uint256 private constant ZERO_FOR_ONE = 1;
    /// flags bits 1-2: the pool kind. Kind 3 and bits 3-7 are refused, so the largest valid flags
    /// byte is ALGEBRA << 1 | ZERO_FOR_ONE = 5.
    uint256 private constant KIND_V2 = 0;
    uint256 private constant KIND_V3 = 1;
    uint256 private constant KIND_ALGEBRA = 2;
    uint256 private constant MAX_FLAGS = 5;

    /// Exact-input swaps with no price limit: one step inside the price range both Uniswap V3 and
    /// Algebra accept (their TickMath bounds, Q64.96 sqrt prices).
    uint256 private constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740;
    uint256 private constant MAX_SQRT_RATIO_MINUS_ONE = 1461446703485210103287273052203988822378723970341;

    /// Transient slots (EIP-1153), set only while a V3/Algebra hop's `swap` runs, cleared after:
    /// the pool allowed to call back, tagged with its kind (pool | kind << 160), so a V3 pool
    /// cannot use the Algebra callback or the other way round ...
    uint256 private constant T_POOL = 0;
    /// ... the hop's input token ...
    uint256 private constant T_TOKEN = 1;
    /// ... and how much of it the pool may still take (raw units): the hop's input.
    uint256 private constant T_BUDGET = 2;

    error NotOwner();
    error BadRoute();
    /// @dev Parameters named balanceBefore/balanceAfter because `after` is a reserved word in
    ///      Solidity; the ABI signature is `Unprofitable(uint256,uint256)` as specified.
    error Unprofitable(uint256 balanceBefore, uint256 balanceAfter);
    error TransferFailed();
    /// @notice V3/Algebra hop number `hop` (0-based) paid `got` raw units of its output token,
    ///         less than the route's declared `want`.
    error HopShort(uint256 hop, uint256 got, uint256 want);
    /// @notice A swap callback not from the pool of the hop running now, of the wrong kind, or
    ///         asking for more than that hop's input.
    error UnexpectedCallback();

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
        // Check every flags byte before any token moves, so a malformed route never reaches a pool
        // (at most four calldata reads).
        unchecked {
            for (uint256 o; o < len; o += HOP_BYTES) {
                if (_flagsAt(hops, o) > MAX_FLAGS) revert BadRoute();
            }
        }
        // A V3/Algebra pool reads its input as int256: a larger amountIn would turn into a negative
        // amount, i.e. an exact-output swap.
        if (_flagsAt(hops, 0) >> 1 != KIND_V2 && amountIn > uint256(type(int256).max)) revert BadRoute();

        uint256 balanceBefore = _balanceOf(tokenIn);
        if (_flagsAt(hops, 0) >> 1 == KIND_V2) _transfer(tokenIn, _poolAt(hops, 0), amountIn);

        unchecked {
            // Offsets are bounded by len <= 148, so none of this arithmetic can overflow.
            uint256 input = amountIn; // this hop's input (raw units): amountIn, then the last amountOut
            for (uint256 o; o < len; o += HOP_BYTES) {
                input = _hop(hops, o, tokenIn, input);
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

    /// @notice Uniswap V3 pool swap callback: pays the pool of the running hop its input.
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        _pay(KIND_V3, amount0Delta, amount1Delta);
    }

    /// @notice Algebra pool swap callback: pays the pool of the running hop its input.
    function algebraSwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        _pay(KIND_ALGEBRA, amount0Delta, amount1Delta);
    }

    /// @notice Sends `amount` (raw units) of `token` held here to `to`.
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        _transfer(token, to, amount);
    }

    // ---- one hop

    /// @dev Runs the hop at offset `o` of `hops` with `input` (raw units; only V3/Algebra hops use
    ///      it: a V2 pair has been paid already) and returns its declared amountOut, the next
    ///      hop's input. `tokenIn` is the route's input token, the first hop's input.
    function _hop(bytes calldata hops, uint256 o, address tokenIn, uint256 input) private returns (uint256 want) {
        unchecked {
            address pool = _poolAt(hops, o);
            uint256 flags = _flagsAt(hops, o);
            want = _amountAt(hops, o);
            uint256 next = o + HOP_BYTES;
            // A V2 pair is paid before its swap, so the output goes straight into it; any other
            // next hop (or the end of the route) takes the output here.
            address to =
                next < hops.length && _flagsAt(hops, next) >> 1 == KIND_V2 ? _poolAt(hops, next) : address(this);
            bool zeroForOne = flags & ZERO_FOR_ONE != 0;
            if (flags >> 1 == KIND_V2) {
                _swapV2(pool, zeroForOne, want, to);
            } else {
                address token = o == 0 ? tokenIn : _inputToken(pool, zeroForOne);
                uint256 got = _swapExactIn(pool, flags >> 1, zeroForOne, input, token, to);
                if (got < want) revert HopShort(o / HOP_BYTES, got, want);
            }
        }
    }

    // ---- callbacks

    /// @dev Pays the positive delta (what the pool must receive, raw units of the hop's input
    ///      token) to the caller, if the caller is the pool of the hop running now, of `kind`, and
    ///      the hop's budget covers it; the budget shrinks by what is paid, so a pool calling back
    ///      twice cannot take more than the hop's input in total. Outside a hop T_POOL is zero and
    ///      no caller matches (`kind` is never zero here).
    function _pay(uint256 kind, int256 amount0Delta, int256 amount1Delta) private {
        uint256 expected;
        uint256 budget;
        assembly ("memory-safe") {
            expected := tload(T_POOL)
            budget := tload(T_BUDGET)
        }
        if (expected != uint256(uint160(msg.sender)) | kind << 160) revert UnexpectedCallback();
        // An exact-input swap asks for one token and pays the other: at most one delta is positive.
        if (amount0Delta > 0 && amount1Delta > 0) revert UnexpectedCallback();
        // casting to 'uint256' is safe because the branch taken is positive
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 owed = amount0Delta > 0 ? uint256(amount0Delta) : amount1Delta > 0 ? uint256(amount1Delta) : 0;
        if (owed == 0) return; // a swap too small to move anything owes nothing
        if (owed > budget) revert UnexpectedCallback();
        address token;
        assembly ("memory-safe") {
            tstore(T_BUDGET, sub(budget, owed))
            token := tload(T_TOKEN)
        }
        _transfer(token, msg.sender, owed);
    }

    // ---- packed route reads: the length checks in `execute` keep every read inside `hops`,
    //      so we load words straight from calldata instead of bounds-checked slices.

    function _poolAt(bytes calldata hops, uint256 o) private pure returns (address pool) {
        assembly ("memory-safe") {
            pool := shr(96, calldataload(add(hops.offset, o)))
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
    function _swapV2(address pair, bool zeroForOne, uint256 amountOut, address to) private {
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

    /// @dev `pool.swap(to, zeroForOne, int256(amountIn), limit, "")` on a Uniswap V3 or Algebra
    ///      pool (same signature and return), exact input with no price limit. Opens the callback
    ///      window for this pool (kind, input token, budget = amountIn) for the duration of the
    ///      call only. Returns the output the pool reports paying (raw units; the negated output
    ///      delta, or 0 if the pool returned no negative delta). A revert inside the pool is
    ///      re-thrown unchanged.
    function _swapExactIn(address pool, uint256 kind, bool zeroForOne, uint256 amountIn, address token, address to)
        private
        returns (uint256 got)
    {
        assembly ("memory-safe") {
            tstore(T_POOL, or(pool, shl(160, kind)))
            tstore(T_TOKEN, token)
            tstore(T_BUDGET, amountIn)
            let p := mload(0x40)
            mstore(p, 0x128acb0800000000000000000000000000000000000000000000000000000000) // swap(address,bool,int256,uint160,bytes)
            mstore(add(p, 0x04), to)
            mstore(add(p, 0x24), zeroForOne)
            mstore(add(p, 0x44), amountIn)
            // zeroForOne pushes the price down, towards the lower bound.
            switch zeroForOne
            case 0 { mstore(add(p, 0x64), MAX_SQRT_RATIO_MINUS_ONE) }
            default { mstore(add(p, 0x64), MIN_SQRT_RATIO_PLUS_ONE) }
            mstore(add(p, 0x84), 0xa0) // offset of `data`
            mstore(add(p, 0xa4), 0) // data.length = 0
            if iszero(call(gas(), pool, 0, p, 0xc4, p, 0x40)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
            // (amount0, amount1): the output is amount1 when zeroForOne, else amount0.
            if gt(returndatasize(), 0x3f) {
                let delta := mload(add(p, shl(5, zeroForOne)))
                if slt(delta, 0) { got := sub(0, delta) }
            }
            tstore(T_POOL, 0)
            tstore(T_TOKEN, 0)
            tstore(T_BUDGET, 0)
        }
    }

    /// @dev The input token of a V3/Algebra hop: `pool.token0()` when zeroForOne, else `token1()`.
    ///      Reverts (empty reason) if the call fails or returns short data. The call also warms the
    ///      pool's account for the swap that follows, so it costs ~100 gas plus the getter.
    function _inputToken(address pool, bool zeroForOne) private view returns (address token) {
        assembly ("memory-safe") {
            // token0() = 0x0dfe1681, token1() = 0xd21220a7
            switch zeroForOne
            case 0 { mstore(0, 0xd21220a700000000000000000000000000000000000000000000000000000000) }
            default { mstore(0, 0x0dfe168100000000000000000000000000000000000000000000000000000000) }
            if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), pool, 0, 4, 0, 0x20))) {
                revert(0, 0)
            }
            token := mload(0)
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
