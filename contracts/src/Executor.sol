// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// @title polyarb executor
/// @notice Runs one arbitrage cycle of 2 to 4 hops over Uniswap-V2-style pairs, Uniswap V3 pools
///         and Algebra pools (QuickSwap V3), atomically, and reverts unless it ends with at least
///         `minProfit` more of the start token than it began with, after repaying what it borrowed.
///         The input comes from one of four sources: this contract's own balance, a flash swap
///         (the cycle's first pool pays out before it is paid), a Balancer V2 Vault flash loan or
///         an Aave V3 `flashLoanSimple`. The call format is specified in docs/executor.md.
/// @dev    Amounts are computed off chain with each pool's own rounding, so the contract does no
///         pricing. A V2 hop asks its pair for an exact output (the pair's K check refuses a stale
///         quote); a V3 or Algebra hop swaps an exact input and checks the output against the
///         declared amount (`HopShort`). Tokens go straight from one pool to the next whenever the
///         next hop is a V2 pair.
///         Roles: the immutable `owner` names executors, pauses, resumes and withdraws; the
///         executors (the owner only if it names itself) run routes and may pause. Every callback is accepted only from the
///         contract this execution is waiting on, with the route it was given, once; that state
///         is transient (EIP-1153) and lives only inside one `run`.
///         What the contract may lose is bounded by construction: the start token by the profit
///         check, and every other token it pays out of its own balance (the input of a V3/Algebra
///         hop after the first, the second hop's input after a V2 flash swap) by a check that its
///         balance did not fall. A key with the executor role can therefore waste gas but not take
///         funds out, even through contracts posing as pools.
contract Executor {
    /// @notice The deployer: configures executors, pauses and withdraws.
    /// @dev Immutable: read from code (3 gas) instead of storage (2100 gas cold) on every call.
    address public immutable owner;
    /// @notice The Balancer V2 Vault lending to `FUNDING_BALANCER` routes; zero: none.
    address public immutable balancerVault;
    /// @notice The Aave V3 Pool lending to `FUNDING_AAVE` routes; zero: none.
    address public immutable aavePool;

    /// @dev Per account: ROLE_NONE, ROLE_RUN (may call `run`) or ROLE_PAUSED (an executor while
    ///      the contract is paused). Pausing rewrites every executor's word, so `run` learns both
    ///      "may this caller run" and "are we paused" from one storage read (2,100 gas cold).
    mapping(address => uint256) private _role;
    /// @dev Every account ever made an executor, for `pause` and `unpause` to rewrite.
    address[] private _executors;
    /// @notice While true, `run` refuses; withdrawals still work.
    bool public paused;

    // ---- the payload after `run()`'s selector (docs/executor.md), big-endian, no padding:
    //      funding (1) | tokenIn (20) | amountIn (uint128, 16) | minProfit (uint128, 16) | hops
    uint256 private constant TOKEN_IN_AT = 1;
    uint256 private constant AMOUNT_IN_AT = 21;
    uint256 private constant MIN_PROFIT_AT = 37;
    uint256 private constant HOPS_AT = 53;
    /// Packed hop: pool (20 bytes) | flags (1 byte) | amountOut (uint128, 16 bytes).
    uint256 private constant HOP_BYTES = 37;
    uint256 private constant FLAGS_AT = 20;
    uint256 private constant AMOUNT_AT = 21;
    uint256 private constant MIN_HOPS = 2;
    uint256 private constant MAX_HOPS = 4;

    /// Funding byte: where the input comes from.
    uint256 private constant FUNDING_CAPITAL = 0;
    uint256 private constant FUNDING_FLASH_SWAP = 1;
    uint256 private constant FUNDING_BALANCER = 2;
    uint256 private constant FUNDING_AAVE = 3;

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

    /// Transient slots (EIP-1153). While a V3/Algebra hop's `swap` runs: the pool allowed to call
    /// back, tagged with its kind (pool | kind << 160, so a V3 pool cannot use the Algebra
    /// callback or the other way round) and, when that swap is the route's flash swap, FLASH ...
    uint256 private constant T_POOL = 0;
    /// ... the hop's input token ...
    uint256 private constant T_TOKEN = 1;
    /// ... and how much of it the pool may still take (raw units): the hop's input.
    uint256 private constant T_BUDGET = 2;
    /// While a loan is asked for: the lender whose callback is due (lender | funding << 160),
    /// cleared by that callback, so a second call or a lender that never calls back is caught ...
    uint256 private constant T_LENDER = 3;
    /// ... and keccak256 of the payload handed to it, which the callback must bring back.
    uint256 private constant T_ROUTE = 4;
    /// What the lender charged (raw units of the start token), for the event.
    uint256 private constant T_PREMIUM = 5;
    /// For hop k (1..3) whose input this contract pays (a V3/Algebra hop after the first; the
    /// second hop after a V2 flash swap): that input token, read from its pool once, before the
    /// route runs, at slot T_PAYS + k. The hop pays this token and no other, so a contract posing
    /// as a pool cannot name one token to the guard and another to the payment.
    uint256 private constant T_PAYS = 8;
    uint256 private constant ROLE_NONE = 0;
    uint256 private constant ROLE_RUN = 1;
    uint256 private constant ROLE_PAUSED = 2;
    /// Most accounts `setExecutor` keeps, so `pause` stays cheap enough to always fit a block.
    uint256 private constant MAX_EXECUTORS = 32;

    uint256 private constant FLASH = 1 << 168;
    uint256 private constant POOL_AND_KIND = (1 << 168) - 1;

    error NotOwner();
    error NotExecutor();
    error IsPaused();
    /// @notice `setExecutor` would keep more than 32 accounts.
    error TooManyExecutors();
    /// @notice The payload's length is not 53 + 37·n for n in 2..4, or a flags byte is above 5.
    error BadRoute();
    /// @notice The funding byte is above 3.
    error BadFunding();
    /// @notice The route asks for a lender this executor was deployed without.
    error NoLender();
    /// @notice amountIn or some hop's amountOut is zero.
    error ZeroAmount();
    /// @notice The last hop does not pay out the start token.
    error OpenCycle();
    /// @dev Parameters named balanceBefore/balanceAfter because `after` is a reserved word.
    error Unprofitable(uint256 balanceBefore, uint256 balanceAfter);
    /// @notice The call would end with less of `token` (not the start token) than it began with.
    error TokenLost(address token, uint256 balanceBefore, uint256 balanceAfter);
    error TransferFailed();
    error ApproveFailed();
    /// @notice V3/Algebra hop number `hop` (0-based) paid `got` raw units of its output token,
    ///         less than the route's declared `want`.
    error HopShort(uint256 hop, uint256 got, uint256 want);
    /// @notice A callback not from the contract this execution waits on, of the wrong kind, for
    ///         another route, amount or initiator, or asking for more than is owed.
    error UnexpectedCallback();
    /// @notice The lender returned without calling back.
    error NoCallback();
    /// @notice After the route, a lender is owed `owed` raw units of the start token and this
    ///         contract holds only `held`: the route did not earn the premium (or its input back).
    error CannotRepay(uint256 owed, uint256 held);

    /// @notice A route ran: `profit` is the growth of this contract's `tokenIn` balance after
    ///         repaying any loan, `premium` what the lender charged (both raw units of `tokenIn`).
    event Executed(address indexed tokenIn, uint256 amountIn, uint256 profit, uint256 premium, uint8 funding);
    event ExecutorSet(address indexed account, bool allowed);
    event PausedSet(bool paused, address by);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);

    constructor(address balancerVault_, address aavePool_) {
        owner = msg.sender;
        balancerVault = balancerVault_;
        aavePool = aavePool_;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    // ---- the route

    /// @notice Runs the route packed after the selector (docs/executor.md) and returns the profit
    ///         (raw units of its start token). Reverts `Unprofitable` unless it is >= minProfit.
    function run() external returns (uint256 profit) {
        uint256 role = _role[msg.sender];
        if (role != ROLE_RUN) {
            if (role == ROLE_PAUSED) revert IsPaused();
            revert NotExecutor();
        }
        bytes calldata p = msg.data[4:];
        uint256 len = p.length;
        if (len < HOPS_AT + MIN_HOPS * HOP_BYTES || len > HOPS_AT + MAX_HOPS * HOP_BYTES) revert BadRoute();
        if ((len - HOPS_AT) % HOP_BYTES != 0) revert BadRoute();
        uint256 funding = _funding(p);
        if (funding > FUNDING_AAVE) revert BadFunding();
        address tokenIn = _tokenIn(p);
        uint256 amountIn = _amountIn(p);
        if (amountIn == 0) revert ZeroAmount();
        // Every hop is checked before any token moves, so a malformed route never reaches a pool
        // (at most four calldata reads each).
        unchecked {
            for (uint256 o = HOPS_AT; o < len; o += HOP_BYTES) {
                if (_flagsAt(p, o) > MAX_FLAGS) revert BadRoute();
                if (_amountAt(p, o) == 0) revert ZeroAmount();
            }
            uint256 last = len - HOP_BYTES;
            // The last hop's output token (its pool's token1 when zeroForOne, else token0).
            if (_token(_poolAt(p, last), _flagsAt(p, last) & ZERO_FOR_ONE != 0) != tokenIn) revert OpenCycle();
        }
        (address[3] memory guarded, uint256[3] memory held) = _guard(p, funding, tokenIn);
        uint256 balanceBefore = _balanceOf(tokenIn);

        if (funding == FUNDING_CAPITAL) {
            _route(p);
        } else {
            _borrow(p, funding, tokenIn, amountIn);
        }

        unchecked {
            for (uint256 i; i < 3 && guarded[i] != address(0); ++i) {
                uint256 now_ = _balanceOf(guarded[i]);
                if (now_ < held[i]) revert TokenLost(guarded[i], held[i], now_);
            }
        }
        uint256 balanceAfter = _balanceOf(tokenIn);
        // Written as a subtraction so a huge minProfit cannot overflow into a panic.
        if (balanceAfter < balanceBefore || balanceAfter - balanceBefore < _minProfit(p)) {
            revert Unprofitable(balanceBefore, balanceAfter);
        }
        uint256 premium;
        assembly ("memory-safe") {
            premium := tload(T_PREMIUM)
            tstore(T_PREMIUM, 0)
        }
        unchecked {
            profit = balanceAfter - balanceBefore;
        }
        emit Executed(tokenIn, amountIn, profit, premium, uint8(funding));
    }

    // ---- callbacks

    /// @notice Uniswap V3 pool swap callback: pays the pool of the running hop its input; for
    ///         the route's flash swap, runs the rest of the route first.
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external {
        _swapCallback(KIND_V3, amount0Delta, amount1Delta, data);
    }

    /// @notice Algebra pool swap callback, as `uniswapV3SwapCallback`.
    function algebraSwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external {
        _swapCallback(KIND_ALGEBRA, amount0Delta, amount1Delta, data);
    }

    /// @notice Uniswap V2 flash swap: the first pair has paid its output here; runs the rest of
    ///         the route and pays the pair the route's input.
    function uniswapV2Call(address sender, uint256, uint256, bytes calldata data) external {
        _lenderCall(FUNDING_FLASH_SWAP, data);
        if (sender != address(this)) revert UnexpectedCallback();
        uint256 o = HOPS_AT + HOP_BYTES; // the second hop
        uint256 got = _amountAt(data, HOPS_AT);
        // The pair sent its output here (a flash swap calls back its recipient); a V2 second hop
        // is paid before its swap.
        if (_kindAt(data, o) == KIND_V2) {
            address pair = _poolAt(data, o);
            _transfer(_paidToken(1), pair, got);
        }
        _hops(data, o, got);
        _repay(_tokenIn(data), msg.sender, _amountIn(data));
    }

    /// @notice Balancer V2 Vault flash loan: runs the route with the loan, repays it with the fee.
    function receiveFlashLoan(
        address[] calldata tokens,
        uint256[] calldata amounts,
        uint256[] calldata feeAmounts,
        bytes calldata userData
    ) external {
        _lenderCall(FUNDING_BALANCER, userData);
        address tokenIn = _tokenIn(userData);
        uint256 amountIn = _amountIn(userData);
        if (tokens.length != 1 || feeAmounts.length != 1 || amounts.length != 1) revert UnexpectedCallback();
        if (tokens[0] != tokenIn || amounts[0] != amountIn) revert UnexpectedCallback();
        uint256 fee = feeAmounts[0];
        _route(userData);
        assembly ("memory-safe") {
            tstore(T_PREMIUM, fee)
        }
        // The Vault checks its balance grew by the fee after this returns.
        _repay(tokenIn, msg.sender, amountIn + fee);
    }

    /// @notice Aave V3 `flashLoanSimple` receiver: runs the route with the loan and approves the
    ///         Pool to pull the loan and its premium back.
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        _lenderCall(FUNDING_AAVE, params);
        if (initiator != address(this)) revert UnexpectedCallback();
        if (asset != _tokenIn(params) || amount != _amountIn(params)) revert UnexpectedCallback();
        _route(params);
        assembly ("memory-safe") {
            tstore(T_PREMIUM, premium)
        }
        uint256 owed = amount + premium;
        uint256 held = _balanceOf(asset);
        if (held < owed) revert CannotRepay(owed, held);
        // The Pool pulls the loan and premium with transferFrom after this returns.
        _approve(asset, msg.sender, owed);
        return true;
    }

    // ---- administration

    /// @notice Allows or revokes `account` (the owner too, if it is to run routes) as an executor.
    ///         A revoked account leaves the list, so its place can be reused.
    function setExecutor(address account, bool allowed) external onlyOwner {
        uint256 n = _executors.length;
        uint256 at = n;
        for (uint256 i; i < n; ++i) {
            if (_executors[i] == account) at = i;
        }
        if (allowed && at == n) {
            if (n == MAX_EXECUTORS) revert TooManyExecutors();
            _executors.push(account);
        } else if (!allowed && at < n) {
            _executors[at] = _executors[n - 1];
            _executors.pop();
        }
        _role[account] = allowed ? (paused ? ROLE_PAUSED : ROLE_RUN) : ROLE_NONE;
        emit ExecutorSet(account, allowed);
    }

    /// @notice Whether `account` may run routes (while not paused).
    function isExecutor(address account) external view returns (bool) {
        return _role[account] != ROLE_NONE;
    }

    /// @notice Stops `run`. The owner or any executor may pause (a kill switch for the engine);
    ///         only the owner may resume.
    function pause() external {
        if (msg.sender != owner && _role[msg.sender] == ROLE_NONE) revert NotExecutor();
        _setPaused(true);
    }

    /// @notice Lets `run` work again.
    function unpause() external onlyOwner {
        _setPaused(false);
    }

    function _setPaused(bool on) private {
        paused = on;
        uint256 n = _executors.length;
        for (uint256 i; i < n; ++i) {
            address a = _executors[i];
            if (_role[a] != ROLE_NONE) _role[a] = on ? ROLE_PAUSED : ROLE_RUN;
        }
        emit PausedSet(on, msg.sender);
    }

    /// @notice Sends `amount` (raw units; type(uint256).max: the whole balance) of `token` held
    ///         here to `to`. Works while paused: it is the emergency exit.
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        if (amount == type(uint256).max) amount = _balanceOf(token);
        _transfer(token, to, amount);
        emit Withdrawn(token, to, amount);
    }

    // ---- the route, in parts

    /// @dev Runs every hop of `p` with the input at this contract (own capital or a loan).
    function _route(bytes calldata p) private {
        uint256 amountIn = _amountIn(p);
        if (_kindAt(p, HOPS_AT) == KIND_V2) _transfer(_tokenIn(p), _poolAt(p, HOPS_AT), amountIn);
        _hops(p, HOPS_AT, amountIn);
    }

    /// @dev Runs the hops of `p` from offset `o` on, the first of them with `input` (raw units;
    ///      only V3/Algebra hops use it: a V2 pair has been paid already).
    function _hops(bytes calldata p, uint256 o, uint256 input) private {
        unchecked {
            // Offsets are bounded by the length checked in `run`, so none of this can overflow.
            for (; o < p.length; o += HOP_BYTES) {
                input = _hop(p, o, input, address(0));
            }
        }
    }

    /// @dev Asks the lender named by `funding` for `amountIn` of `tokenIn`; its callback runs the
    ///      route. A flash swap is the first hop itself, asked to pay before it is paid.
    function _borrow(bytes calldata p, uint256 funding, address tokenIn, uint256 amountIn) private {
        address lender;
        if (funding == FUNDING_FLASH_SWAP) {
            lender = _poolAt(p, HOPS_AT);
        } else if (funding == FUNDING_BALANCER) {
            lender = balancerVault;
        } else {
            lender = aavePool;
        }
        if (lender == address(0)) revert NoLender();
        bytes32 route = keccak256(p);
        assembly ("memory-safe") {
            tstore(T_LENDER, or(lender, shl(160, funding)))
            tstore(T_ROUTE, route)
        }
        if (funding == FUNDING_FLASH_SWAP) {
            uint256 flags = _flagsAt(p, HOPS_AT);
            if (flags >> 1 == KIND_V2) {
                _swapV2(lender, flags & ZERO_FOR_ONE != 0, _amountAt(p, HOPS_AT), address(this), p);
            } else {
                _hop(p, HOPS_AT, amountIn, tokenIn);
            }
        } else if (funding == FUNDING_BALANCER) {
            _balancerFlashLoan(lender, tokenIn, amountIn, p);
        } else {
            _aaveFlashLoanSimple(lender, tokenIn, amountIn, p);
        }
        uint256 due;
        assembly ("memory-safe") {
            due := tload(T_LENDER)
            tstore(T_ROUTE, 0)
        }
        if (due != 0) revert NoCallback();
    }

    /// @dev Accepts a lender's callback only from the lender `run` is waiting on for `funding`,
    ///      with the payload it was handed, once.
    function _lenderCall(uint256 funding, bytes calldata data) private {
        uint256 due;
        bytes32 route;
        assembly ("memory-safe") {
            due := tload(T_LENDER)
            route := tload(T_ROUTE)
        }
        if (due != uint256(uint160(msg.sender)) | funding << 160 || keccak256(data) != route) {
            revert UnexpectedCallback();
        }
        assembly ("memory-safe") {
            tstore(T_LENDER, 0)
        }
    }

    /// @dev The tokens other than the start token this route may pay out of this contract's
    ///      balance, with that balance now: the input of each V3/Algebra hop after the first, and
    ///      after a V2 flash swap the second hop's input (paid to its pair by `uniswapV2Call`).
    ///      Read from the pools the route names, once: each such hop's token is kept at
    ///      T_PAYS + hop, and the hop pays exactly that token.
    function _guard(bytes calldata p, uint256 funding, address tokenIn)
        private
        returns (address[3] memory tokens, uint256[3] memory held)
    {
        uint256 n;
        bool v2Flash = funding == FUNDING_FLASH_SWAP && _kindAt(p, HOPS_AT) == KIND_V2;
        unchecked {
            uint256 k = 1;
            for (uint256 o = HOPS_AT + HOP_BYTES; o < p.length; (o, k) = (o + HOP_BYTES, k + 1)) {
                if (_kindAt(p, o) == KIND_V2 && !(v2Flash && k == 1)) continue;
                address t = _token(_poolAt(p, o), _flagsAt(p, o) & ZERO_FOR_ONE == 0);
                assembly ("memory-safe") {
                    tstore(add(T_PAYS, k), t)
                }
                if (t == tokenIn || t == tokens[0] || t == tokens[1]) continue;
                tokens[n] = t;
                held[n] = _balanceOf(t);
                ++n;
            }
        }
    }

    /// @dev Runs the hop at offset `o` of `p` with `input` (raw units; only V3/Algebra hops use
    ///      it: a V2 pair has been paid already) and returns its declared amountOut, the next hop's
    ///      input. `flashToken` is non-zero only for the route's flash swap on a V3/Algebra pool:
    ///      its input token, paid after the rest of the route has run inside the callback.
    function _hop(bytes calldata p, uint256 o, uint256 input, address flashToken) private returns (uint256 want) {
        unchecked {
            address pool = _poolAt(p, o);
            uint256 flags = _flagsAt(p, o);
            want = _amountAt(p, o);
            uint256 next = o + HOP_BYTES;
            // A V2 pair is paid before its swap, so the output goes straight into it; any other
            // next hop (or the end of the route) takes the output here.
            address to = next < p.length && _kindAt(p, next) == KIND_V2 ? _poolAt(p, next) : address(this);
            bool zeroForOne = flags & ZERO_FOR_ONE != 0;
            if (flags >> 1 == KIND_V2) {
                _swapV2(pool, zeroForOne, want, to, p[:0]);
            } else {
                uint256 tag = uint256(uint160(pool)) | (flags >> 1) << 160;
                address token = flashToken;
                bytes calldata data = p[:0];
                if (token != address(0)) (tag, data) = (tag | FLASH, p);
                else token = o == HOPS_AT ? _tokenIn(p) : _paidToken((o - HOPS_AT) / HOP_BYTES);
                uint256 got = _swapExactIn(tag, zeroForOne, input, token, to, data);
                if (got < want) revert HopShort((o - HOPS_AT) / HOP_BYTES, got, want);
            }
        }
    }

    /// @dev Pays the positive delta (what the pool must receive, raw units of the hop's input
    ///      token) to the caller, if the caller is the pool of the hop running now, of `kind`, and
    ///      the hop's budget covers it; the budget shrinks by what is paid, so a pool calling back
    ///      twice cannot take more than the hop's input in total. Outside a hop T_POOL is zero and
    ///      no caller matches (`kind` is never zero here). For the route's flash swap the pool has
    ///      paid its output already: the rest of the route runs first, from `data`.
    function _swapCallback(uint256 kind, int256 amount0Delta, int256 amount1Delta, bytes calldata data) private {
        uint256 expected;
        uint256 budget;
        address token;
        assembly ("memory-safe") {
            expected := tload(T_POOL)
            budget := tload(T_BUDGET)
            token := tload(T_TOKEN)
        }
        if (expected & POOL_AND_KIND != uint256(uint160(msg.sender)) | kind << 160) revert UnexpectedCallback();
        // An exact-input swap asks for one token and pays the other: at most one delta is positive.
        if (amount0Delta > 0 && amount1Delta > 0) revert UnexpectedCallback();
        // casting to 'uint256' is safe because the branch taken is positive
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 owed = amount0Delta > 0 ? uint256(amount0Delta) : amount1Delta > 0 ? uint256(amount1Delta) : 0;
        if (owed > budget) revert UnexpectedCallback();
        assembly ("memory-safe") {
            tstore(T_BUDGET, sub(budget, owed))
        }
        if (expected & FLASH != 0) {
            _lenderCall(FUNDING_FLASH_SWAP, data);
            // The output delta is negative: what the pool paid to the first hop's recipient.
            int256 paid = amount0Delta > 0 ? amount1Delta : amount0Delta;
            uint256 want = _amountAt(data, HOPS_AT);
            // casting to 'uint256' is safe because -paid is positive in the branch taken
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 got = paid < 0 ? uint256(-paid) : 0;
            if (got < want) revert HopShort(0, got, want);
            // The hops below use the same slots for their own pools; this hop is done with them.
            assembly ("memory-safe") {
                tstore(T_POOL, 0)
                tstore(T_TOKEN, 0)
                tstore(T_BUDGET, 0)
            }
            _hops(data, HOPS_AT + HOP_BYTES, want);
            _repay(token, msg.sender, owed);
        } else if (owed != 0) {
            _transfer(token, msg.sender, owed);
        }
    }

    /// @dev The input token `_guard` read for hop `k`.
    function _paidToken(uint256 k) private view returns (address t) {
        assembly ("memory-safe") {
            t := tload(add(T_PAYS, k))
        }
    }

    // ---- packed route reads: the length checks in `run` keep every read inside the payload
    //      (and a lender's callback only gets the payload whose hash `run` stored), so we load
    //      words straight from calldata instead of bounds-checked slices.

    function _funding(bytes calldata p) private pure returns (uint256 f) {
        assembly ("memory-safe") {
            f := byte(0, calldataload(p.offset))
        }
    }

    function _tokenIn(bytes calldata p) private pure returns (address t) {
        assembly ("memory-safe") {
            t := shr(96, calldataload(add(p.offset, TOKEN_IN_AT)))
        }
    }

    function _amountIn(bytes calldata p) private pure returns (uint256 a) {
        assembly ("memory-safe") {
            a := shr(128, calldataload(add(p.offset, AMOUNT_IN_AT)))
        }
    }

    function _minProfit(bytes calldata p) private pure returns (uint256 a) {
        assembly ("memory-safe") {
            a := shr(128, calldataload(add(p.offset, MIN_PROFIT_AT)))
        }
    }

    function _poolAt(bytes calldata p, uint256 o) private pure returns (address pool) {
        assembly ("memory-safe") {
            pool := shr(96, calldataload(add(p.offset, o)))
        }
    }

    function _flagsAt(bytes calldata p, uint256 o) private pure returns (uint256 flags) {
        assembly ("memory-safe") {
            flags := byte(0, calldataload(add(p.offset, add(o, FLAGS_AT))))
        }
    }

    function _kindAt(bytes calldata p, uint256 o) private pure returns (uint256) {
        return _flagsAt(p, o) >> 1;
    }

    function _amountAt(bytes calldata p, uint256 o) private pure returns (uint256 amount) {
        assembly ("memory-safe") {
            amount := shr(128, calldataload(add(p.offset, add(o, AMOUNT_AT))))
        }
    }

    // ---- external calls, hand-encoded to skip ABI-encoder overhead on the hot path.

    /// @dev `pair.swap(amount0Out, amount1Out, to, data)`; non-empty `data` makes it a flash swap
    ///      (the pair calls `to.uniswapV2Call`). A revert inside the pair (e.g. `UniswapV2: K`)
    ///      is re-thrown unchanged so the caller sees why the route failed. No extcodesize check:
    ///      a codeless "pair" keeps the tokens and the balance check reverts.
    function _swapV2(address pair, bool zeroForOne, uint256 amountOut, address to, bytes calldata data) private {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x022c0d9f00000000000000000000000000000000000000000000000000000000) // swap(uint256,uint256,address,bytes)
            mstore(add(p, 0x04), mul(iszero(zeroForOne), amountOut)) // amount0Out
            mstore(add(p, 0x24), mul(zeroForOne, amountOut)) // amount1Out
            mstore(add(p, 0x44), to)
            mstore(add(p, 0x64), 0x80) // offset of `data`
            mstore(add(p, 0x84), data.length)
            // The padding after `data` need not be zero for the pair's decoder, but keep it clean.
            mstore(add(add(p, 0xa4), data.length), 0)
            calldatacopy(add(p, 0xa4), data.offset, data.length)
            let size := add(0xa4, and(add(data.length, 31), not(31)))
            if iszero(call(gas(), pair, 0, p, size, 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
    }

    /// @dev `pool.swap(to, zeroForOne, int256(amountIn), limit, data)` on a Uniswap V3 or Algebra
    ///      pool (same signature and return), exact input with no price limit; `tag` is the pool
    ///      | kind << 160, with FLASH for the route's flash swap (then `data` is the payload, else
    ///      empty). Opens the callback window for this pool (tag, input token, budget = amountIn)
    ///      for the duration of the call only. Returns the
    ///      output the pool reports paying (raw units; the negated output delta, or 0 if the pool
    ///      returned no negative delta). A revert inside the pool is re-thrown unchanged.
    ///      amountIn is below 2^128 (the payload's field width), so it is a positive int256.
    function _swapExactIn(
        uint256 tag,
        bool zeroForOne,
        uint256 amountIn,
        address token,
        address to,
        bytes calldata data
    ) private returns (uint256 got) {
        assembly ("memory-safe") {
            tstore(T_POOL, tag)
            tstore(T_TOKEN, token)
            tstore(T_BUDGET, amountIn)
            let len := data.length
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
            mstore(add(p, 0xa4), len)
            mstore(add(add(p, 0xc4), len), 0)
            calldatacopy(add(p, 0xc4), data.offset, len)
            let size := add(0xc4, and(add(len, 31), not(31)))
            if iszero(call(gas(), and(tag, 0xffffffffffffffffffffffffffffffffffffffff), 0, p, size, p, 0x40)) {
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

    /// @dev Balancer `vault.flashLoan(this, [token], [amount], userData)`, ABI-encoded by hand.
    ///      A revert inside the Vault (e.g. `BAL#528` for more than it holds) is re-thrown.
    function _balancerFlashLoan(address vault, address token, uint256 amount, bytes calldata userData) private {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x5c38449e00000000000000000000000000000000000000000000000000000000) // flashLoan(address,address[],uint256[],bytes)
            mstore(add(p, 0x04), address())
            mstore(add(p, 0x24), 0x80) // tokens
            mstore(add(p, 0x44), 0xc0) // amounts
            mstore(add(p, 0x64), 0x100) // userData
            mstore(add(p, 0x84), 1)
            mstore(add(p, 0xa4), token)
            mstore(add(p, 0xc4), 1)
            mstore(add(p, 0xe4), amount)
            mstore(add(p, 0x104), userData.length)
            mstore(add(add(p, 0x124), userData.length), 0)
            calldatacopy(add(p, 0x124), userData.offset, userData.length)
            let size := add(0x124, and(add(userData.length, 31), not(31)))
            if iszero(call(gas(), vault, 0, p, size, 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
    }

    /// @dev Aave `pool.flashLoanSimple(this, asset, amount, params, 0)`, ABI-encoded by hand.
    function _aaveFlashLoanSimple(address pool, address asset, uint256 amount, bytes calldata params) private {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x42b0b77c00000000000000000000000000000000000000000000000000000000) // flashLoanSimple(address,address,uint256,bytes,uint16)
            mstore(add(p, 0x04), address())
            mstore(add(p, 0x24), asset)
            mstore(add(p, 0x44), amount)
            mstore(add(p, 0x64), 0xa0) // params
            mstore(add(p, 0x84), 0) // referralCode
            mstore(add(p, 0xa4), params.length)
            mstore(add(add(p, 0xc4), params.length), 0)
            calldatacopy(add(p, 0xc4), params.offset, params.length)
            let size := add(0xc4, and(add(params.length, 31), not(31)))
            if iszero(call(gas(), pool, 0, p, size, 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
    }

    /// @dev `pool.token1()` when `one`, else `pool.token0()`. Reverts (empty reason) if the call
    ///      fails or returns short data. The call also warms the pool's account for the swap that
    ///      follows, so it costs ~100 gas plus the getter.
    function _token(address pool, bool one) private view returns (address token) {
        assembly ("memory-safe") {
            // token0() = 0x0dfe1681, token1() = 0xd21220a7
            switch one
            case 0 { mstore(0, 0x0dfe168100000000000000000000000000000000000000000000000000000000) }
            default { mstore(0, 0xd21220a700000000000000000000000000000000000000000000000000000000) }
            if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), pool, 0, 4, 0, 0x20))) {
                revert(0, 0)
            }
            token := mload(0)
        }
    }

    /// @dev `token.transfer(to, amount)` that accepts tokens returning `true` or nothing (USDT-style)
    ///      and raises `TransferFailed` if the call reverts, returns false, or `token` has no code.
    function _transfer(address token, address to, uint256 amount) private {
        if (!_call2(token, 0xa9059cbb, to, amount)) revert TransferFailed(); // transfer(address,uint256)
    }

    /// @dev Pays a lender `owed` of `token` after the route ran, or reverts `CannotRepay`.
    function _repay(address token, address to, uint256 owed) private {
        uint256 held = _balanceOf(token);
        if (held < owed) revert CannotRepay(owed, held);
        _transfer(token, to, owed);
    }

    /// @dev `token.approve(spender, amount)`, accepting the same return shapes as `_transfer`.
    function _approve(address token, address spender, uint256 amount) private {
        if (!_call2(token, 0x095ea7b3, spender, amount)) revert ApproveFailed(); // approve(address,uint256)
    }

    /// @dev Calls `selector(a, v)` on `token`: true if it did not revert and returned exactly
    ///      `true` in the first word, or returned nothing from an account with code.
    function _call2(address token, uint256 selector, address a, uint256 v) private returns (bool ok) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(224, selector))
            mstore(add(p, 0x04), a)
            mstore(add(p, 0x24), v)
            ok := call(gas(), token, 0, p, 0x44, 0, 0x20)
            switch returndatasize()
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0), 1))) }
        }
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
