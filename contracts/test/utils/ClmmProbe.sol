// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

// A test driver for the REAL concentrated-liquidity pools (npm `@uniswap/v3-core` 1.0.1 and
// `@cryptoalgebra/core` 2.0.0 bytecode): it mints positions and swaps on them, paying from its own
// token balance in the pools' callbacks, and reports exact amounts and pool state. Used by
// polyarb-tools (`tools/src/clmm.rs`) to check the engine's swap math to the wei.
//
// `runBatch` runs many cases in ONE `eth_call` (nothing is mined): each case takes a pool that was
// created beforehand and is still empty (a V3 pool not yet initialized, or an Algebra pool
// initialized at `ALGEBRA_PARK_PRICE` with no liquidity), sets its price, mints, and swaps. A
// revert of one swap is caught and reported with its revert data; a revert while setting a case up
// is caught around the whole case (`this.runCase` is an external self-call, so the case's writes
// are undone and the batch goes on). `setupCase` and `swapOnce` do the same steps as transactions.
//
// Not a protocol contract: only interfaces of the real pools are declared here.

/// The v2-core test ERC-20 the tools deploy (also what the pools call on their tokens).
interface IProbeToken {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

interface IProbeV3Factory {
    function createPool(address tokenA, address tokenB, uint24 fee) external returns (address pool);
}

interface IProbeAlgebraFactory {
    function createPool(address tokenA, address tokenB) external returns (address pool);
}

/// What both pool kinds share (same selectors in V3 and Algebra V1).
interface IProbePool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function initialize(uint160 sqrtPriceX96) external;
    function liquidity() external view returns (uint128);
    function tickSpacing() external view returns (int24);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1);
    /// V3: (liquidityGross, liquidityNet, ...); Algebra: (liquidityTotal, liquidityDelta, ...), same layout.
    function ticks(int24 tick)
        external
        view
        returns (uint128 gross, int128 net, uint256, uint256, int56, uint160, uint32, bool initialized);
}

interface IProbeV3Pool {
    function slot0()
        external
        view
        returns (uint160 sqrtPriceX96, int24 tick, uint16, uint16, uint16, uint8, bool unlocked);
    function fee() external view returns (uint24);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
}

interface IProbeAlgebraPool {
    function globalState()
        external
        view
        returns (uint160 price, int24 tick, uint16 fee, uint16 timepointIndex, uint8, uint8, bool unlocked);
    function dataStorageOperator() external view returns (address);
    function mint(address sender, address recipient, int24 bottomTick, int24 topTick, uint128 liquidityDesired, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1, uint128 liquidityActual);
}

/// Algebra V1 `AdaptiveFee.Configuration`, field for field.
struct AlgebraFeeConfig {
    uint16 alpha1;
    uint16 alpha2;
    uint32 beta1;
    uint32 beta2;
    uint16 gamma1;
    uint16 gamma2;
    uint32 volumeBeta;
    uint16 volumeGamma;
    uint16 baseFee;
}

interface IProbeDataStorage {
    function changeFeeConfiguration(AlgebraFeeConfig calldata config) external;
}

contract ClmmProbe {
    uint8 internal constant KIND_V3 = 0;
    uint8 internal constant KIND_ALGEBRA = 1;

    /// TickMath bounds (Q64.96), the same in both protocols.
    uint160 internal constant MIN_SQRT_RATIO = 4295128739;
    uint160 internal constant MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;

    /// The price every Algebra pool is initialized at when created: 1.0 (tick 0) plus an odd
    /// offset, so a case's start price rarely equals it (see `resetAlgebraPrice`).
    uint160 public constant ALGEBRA_PARK_PRICE = 79228162514264337593543950336 + 12345;

    struct Position {
        int24 tickLower;
        int24 tickUpper;
        uint128 liquidity;
    }

    struct SwapStep {
        bool zeroForOne;
        /// > 0 exact input, < 0 exact output (raw token units).
        int256 amountSpecified;
        uint160 sqrtPriceLimitX96;
    }

    struct Case {
        uint8 kind;
        address pool;
        /// Start price, Q64.96.
        uint160 sqrtPriceX96;
        /// Algebra only: when set, the pool's fee configuration becomes the constant `fee` (pips)
        /// before the case's first timepoint write; otherwise the factory's adaptive default stays.
        bool setFee;
        uint16 fee;
        Position[] positions;
        SwapStep[] swaps;
    }

    struct PoolState {
        uint160 sqrtPriceX96;
        int24 tick;
        uint128 liquidity;
        /// Pips (1e-6): V3 `fee()`, Algebra `globalState.fee`.
        uint24 fee;
    }

    struct TickInfo {
        int24 tick;
        uint128 liquidityGross;
        int128 liquidityNet;
        bool initialized;
    }

    struct SwapResult {
        bool ok;
        /// Revert data when `ok` is false.
        bytes revertData;
        int256 amount0;
        int256 amount1;
        PoolState after_;
    }

    struct CaseRun {
        int24 tickSpacing;
        /// Token amounts each mint took, raw units.
        uint256[] minted0;
        uint256[] minted1;
        /// `ticks()` of every position's lower and upper tick after all mints, in position order.
        TickInfo[] ticks;
        PoolState start;
        SwapResult[] swaps;
    }

    struct CaseResult {
        bool ok;
        bytes revertData;
        CaseRun run;
    }

    error NotOwner();
    error NotActivePool(address caller);
    error BadKind(uint8 kind);
    error TransferFailed(address token);

    address public immutable owner;
    /// The pool whose callback we expect; a callback from anyone else is refused.
    address internal activePool;

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    // ---------------------------------------------------------------- one-time world setup (mined)

    /// Deploys `count` tokens from `creationCode` (the v2-core test ERC-20, whose constructor mints
    /// `supply` to its deployer: this probe).
    function makeTokens(bytes calldata creationCode, uint256 supply, uint256 count)
        external
        onlyOwner
        returns (address[] memory tokens)
    {
        tokens = new address[](count);
        bytes memory code = bytes.concat(creationCode, abi.encode(supply));
        for (uint256 i = 0; i < count; i++) {
            address token;
            assembly {
                token := create(0, add(code, 0x20), mload(code))
            }
            require(token != address(0), "token creation failed");
            tokens[i] = token;
        }
    }

    /// Creates a V3 pool for each pair and fee (left uninitialized).
    function createV3Pools(address factory, address[] calldata tokenA, address[] calldata tokenB, uint24[] calldata fees)
        external
        onlyOwner
        returns (address[] memory pools)
    {
        pools = new address[](tokenA.length * fees.length);
        for (uint256 i = 0; i < tokenA.length; i++) {
            for (uint256 j = 0; j < fees.length; j++) {
                pools[i * fees.length + j] = IProbeV3Factory(factory).createPool(tokenA[i], tokenB[i], fees[j]);
            }
        }
    }

    /// Creates an Algebra pool for each pair and initializes it at `ALGEBRA_PARK_PRICE`, so that
    /// its first timepoint lies in this block and a case in a later block writes a new one.
    function createAlgebraPools(address factory, address[] calldata tokenA, address[] calldata tokenB)
        external
        onlyOwner
        returns (address[] memory pools)
    {
        pools = new address[](tokenA.length);
        for (uint256 i = 0; i < tokenA.length; i++) {
            address pool = IProbeAlgebraFactory(factory).createPool(tokenA[i], tokenB[i]);
            IProbePool(pool).initialize(ALGEBRA_PARK_PRICE);
            pools[i] = pool;
        }
    }

    // ---------------------------------------------------------------- batch (eth_call)

    /// Runs every case; a case that cannot be set up comes back with `ok == false`.
    function runBatch(Case[] calldata cases) external returns (CaseResult[] memory results) {
        results = new CaseResult[](cases.length);
        for (uint256 i = 0; i < cases.length; i++) {
            try this.runCase(cases[i]) returns (CaseRun memory run) {
                results[i].ok = true;
                results[i].run = run;
            } catch (bytes memory reason) {
                results[i].revertData = reason;
            }
        }
    }

    /// One case: set up, then every swap with its own try/catch. External only so that
    /// `runBatch` can undo a failed setup; callable by the owner or by this contract.
    function runCase(Case calldata c) external returns (CaseRun memory run) {
        if (msg.sender != address(this) && msg.sender != owner) revert NotOwner();
        (run.minted0, run.minted1) = setUp(c);
        run.tickSpacing = IProbePool(c.pool).tickSpacing();
        run.ticks = readTicks(c.pool, c.positions);
        run.start = readState(c.kind, c.pool);
        run.swaps = new SwapResult[](c.swaps.length);
        for (uint256 i = 0; i < c.swaps.length; i++) {
            run.swaps[i] = trySwap(c.kind, c.pool, c.swaps[i]);
        }
    }

    // ---------------------------------------------------------------- the same steps as transactions

    /// Sets a case up (price, fee configuration, mints) as a transaction.
    function setupCase(Case calldata c) external onlyOwner returns (uint256[] memory minted0, uint256[] memory minted1) {
        return setUp(c);
    }

    /// One swap as a transaction; reverts when the pool does.
    function swapOnce(uint8 kind, address pool, SwapStep calldata s)
        external
        onlyOwner
        returns (int256 amount0, int256 amount1)
    {
        checkKind(kind);
        return swapRaw(pool, s.zeroForOne, s.amountSpecified, s.sqrtPriceLimitX96);
    }

    /// The state `runCase` reports, as a view.
    function poolState(uint8 kind, address pool) external view returns (PoolState memory) {
        return readState(kind, pool);
    }

    // ---------------------------------------------------------------- callbacks: pay what is owed

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

    // ---------------------------------------------------------------- internals

    function setUp(Case calldata c) internal returns (uint256[] memory minted0, uint256[] memory minted1) {
        checkKind(c.kind);
        if (c.kind == KIND_V3) {
            IProbePool(c.pool).initialize(c.sqrtPriceX96);
        } else {
            if (c.setFee) setAlgebraFee(c.pool, c.fee);
            resetAlgebraPrice(c.pool, c.sqrtPriceX96);
        }
        minted0 = new uint256[](c.positions.length);
        minted1 = new uint256[](c.positions.length);
        for (uint256 i = 0; i < c.positions.length; i++) {
            (minted0[i], minted1[i]) = mintOne(c.kind, c.pool, c.positions[i]);
        }
    }

    function checkKind(uint8 kind) internal pure {
        if (kind != KIND_V3 && kind != KIND_ALGEBRA) revert BadKind(kind);
    }

    /// A constant fee: both sigmoids of the adaptive formula get height 0, so the fee computed at
    /// the next timepoint is exactly `baseFee` (gammas must stay non-zero).
    function setAlgebraFee(address pool, uint16 fee) internal {
        address dataStorage = IProbeAlgebraPool(pool).dataStorageOperator();
        IProbeDataStorage(dataStorage).changeFeeConfiguration(
            AlgebraFeeConfig({
                alpha1: 0,
                alpha2: 0,
                beta1: 360,
                beta2: 60000,
                gamma1: 59,
                gamma2: 8500,
                volumeBeta: 0,
                volumeGamma: 10,
                baseFee: fee
            })
        );
    }

    /// Moves an empty Algebra pool to `target` with zero-liquidity swaps (1 wei exact input, which
    /// the pool neither takes nor pays). The first of them is the pool's first swap in this block,
    /// so it writes a timepoint and recomputes the fee before any position exists; every later
    /// step of the case then runs with that fee. When `target` is already the price, the price
    /// goes one unit up and back down, so the timepoint is written all the same.
    function resetAlgebraPrice(address pool, uint160 target) internal {
        (uint160 price,,,,,,) = IProbeAlgebraPool(pool).globalState();
        if (target == price) {
            swapRaw(pool, false, 1, price + 1);
            swapRaw(pool, true, 1, target);
        } else {
            swapRaw(pool, target < price, 1, target);
        }
    }

    function mintOne(uint8 kind, address pool, Position calldata p) internal returns (uint256 amount0, uint256 amount1) {
        activePool = pool;
        if (kind == KIND_V3) {
            (amount0, amount1) = IProbeV3Pool(pool).mint(address(this), p.tickLower, p.tickUpper, p.liquidity, "");
        } else {
            (amount0, amount1,) =
                IProbeAlgebraPool(pool).mint(address(this), address(this), p.tickLower, p.tickUpper, p.liquidity, "");
        }
        activePool = address(0);
    }

    function swapRaw(address pool, bool zeroForOne, int256 amount, uint160 limit)
        internal
        returns (int256 amount0, int256 amount1)
    {
        activePool = pool;
        (amount0, amount1) = IProbePool(pool).swap(address(this), zeroForOne, amount, limit, "");
        activePool = address(0);
    }

    function trySwap(uint8 kind, address pool, SwapStep calldata s) internal returns (SwapResult memory r) {
        activePool = pool;
        try IProbePool(pool).swap(address(this), s.zeroForOne, s.amountSpecified, s.sqrtPriceLimitX96, "") returns (
            int256 amount0, int256 amount1
        ) {
            (r.ok, r.amount0, r.amount1) = (true, amount0, amount1);
        } catch (bytes memory reason) {
            r.revertData = reason;
        }
        activePool = address(0);
        r.after_ = readState(kind, pool);
    }

    function readState(uint8 kind, address pool) internal view returns (PoolState memory s) {
        if (kind == KIND_V3) {
            (s.sqrtPriceX96, s.tick,,,,,) = IProbeV3Pool(pool).slot0();
            s.fee = IProbeV3Pool(pool).fee();
        } else {
            uint16 fee;
            (s.sqrtPriceX96, s.tick, fee,,,,) = IProbeAlgebraPool(pool).globalState();
            s.fee = fee;
        }
        s.liquidity = IProbePool(pool).liquidity();
    }

    function readTicks(address pool, Position[] calldata positions) internal view returns (TickInfo[] memory out) {
        out = new TickInfo[](positions.length * 2);
        for (uint256 i = 0; i < positions.length; i++) {
            out[2 * i] = readTick(pool, positions[i].tickLower);
            out[2 * i + 1] = readTick(pool, positions[i].tickUpper);
        }
    }

    function readTick(address pool, int24 tick) internal view returns (TickInfo memory t) {
        t.tick = tick;
        (t.liquidityGross, t.liquidityNet,,,,,, t.initialized) = IProbePool(pool).ticks(tick);
    }

    function positive(int256 delta) internal pure returns (uint256) {
        // casting to 'uint256' is safe because delta > 0 here
        // forge-lint: disable-next-line(unsafe-typecast)
        return delta > 0 ? uint256(delta) : 0;
    }

    function payPool(uint256 amount0, uint256 amount1) internal {
        if (msg.sender != activePool || msg.sender == address(0)) revert NotActivePool(msg.sender);
        if (amount0 > 0) pay(IProbePool(msg.sender).token0(), amount0);
        if (amount1 > 0) pay(IProbePool(msg.sender).token1(), amount1);
    }

    function pay(address token, uint256 amount) internal {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IProbeToken.transfer, (msg.sender, amount)));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed(token);
    }
}
