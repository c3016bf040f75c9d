// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {V2Fixture, IERC20Min} from "./V2.sol";

// The parts of the real contracts' ABIs the tests call (interfaces only; the code under test is
// the npm build artifacts of `@uniswap/v3-core` 1.0.1 and `@cryptoalgebra/core` 2.0.0).

/// What a Uniswap V3 pool and an Algebra pool have in common (same selectors).
interface IConcentratedPool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function tickSpacing() external view returns (int24);
    function liquidity() external view returns (uint128);
    function initialize(uint160 sqrtPriceX96) external;
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata)
        external
        returns (int256 amount0, int256 amount1);
}

interface IV3Factory {
    function createPool(address tokenA, address tokenB, uint24 fee) external returns (address pool);
}

interface IV3Pool {
    function slot0() external view returns (uint160 sqrtPriceX96, int24 tick, uint16, uint16, uint16, uint8, bool);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
}

interface IAlgebraFactory {
    function createPool(address tokenA, address tokenB) external returns (address pool);
}

interface IAlgebraPoolDeployer {
    function setFactory(address factory) external;
    function deploy(address dataStorage, address factory, address token0, address token1)
        external
        returns (address pool);
}

/// Algebra's adaptive-fee sigmoid coefficients (AdaptiveFee.Configuration), as the factory keeps
/// them for new pools and each pool's DataStorageOperator uses them.
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

interface IAlgebraFactoryConfig {
    function baseFeeConfiguration() external view returns (AlgebraFeeConfig memory);
}

interface IAlgebraDataStorageOperator {
    function changeFeeConfiguration(AlgebraFeeConfig calldata config) external;
}

interface IAlgebraPool {
    function globalState() external view returns (uint160 price, int24 tick, uint16 fee, uint16, uint8, uint8, bool);
    function mint(address sender, address recipient, int24 bottomTick, int24 topTick, uint128 amount, bytes calldata)
        external
        returns (uint256 amount0, uint256 amount1, uint128 liquidityActual);
}

/// Deploys the real Uniswap V3 factory and the real Algebra stack (pool deployer, factory, one
/// DataStorageOperator per pool) from their npm build artifacts, creates and seeds pools with
/// liquidity in a ladder of ranges, trades on any pool kind as an ordinary trader, and quotes whole
/// routes by running the real pools' own swaps and then rolling the state back.
///
/// Algebra wiring. `AlgebraFactory.createPool` does three things: deploys a DataStorageOperator
/// bound to the pool address it predicts (CREATE2 from the pool deployer with a hard-coded pool
/// init code hash), gives it the factory's fee configuration, and asks the pool deployer to deploy
/// the pool. In the npm 2.0.0 artifacts the hard-coded hash is not the hash of the pool init code
/// the deployer embeds (that build is coverage-instrumented), so the predicted address is wrong and
/// the pool's first call to its DataStorageOperator fails ("only pool can call this"; shown by
/// test_AlgebraNpmFactory_PredictsTheWrongPoolAddress). So this fixture registers itself as the
/// deployer's factory and performs the same three steps with the real init code hash; the pools
/// still name the real AlgebraFactory as their factory (owner, vault and farming address).
abstract contract ConcentratedFixture is V2Fixture {
    string internal constant V3 = "@uniswap/v3-core/artifacts/contracts/";
    string internal constant ALG = "@cryptoalgebra/core/artifacts/contracts/";

    /// Pool kinds, as in the hop flags (bits 1-2) of docs/executor.md.
    uint8 internal constant KIND_V2 = 0;
    uint8 internal constant KIND_V3 = 1;
    uint8 internal constant KIND_ALGEBRA = 2;

    /// TickMath bounds shared by Uniswap V3 and Algebra (Q64.96 sqrt prices; ticks).
    uint160 internal constant MIN_SQRT_RATIO = 4295128739;
    uint160 internal constant MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;
    int24 internal constant MAX_TICK = 887272;

    /// Ladder: LADDER_RANGES adjacent ranges of RANGE_SPACINGS tick spacings each, centred so the
    /// starting price sits mid-range (at least one spacing from either boundary), plus one
    /// full-range position. Every boundary of the ladder is an initialized tick.
    int24 internal constant RANGE_SPACINGS = 4;
    int24 internal constant LADDER_RANGES = 11;

    /// An address that receives Algebra's community fee (0 by default, so it never does).
    address internal constant ALGEBRA_VAULT = address(0xFEE5);

    IV3Factory internal v3Factory;
    IAlgebraFactory internal algebraFactory;
    IAlgebraPoolDeployer internal algebraDeployer;
    /// keccak256 of the Algebra pool init code that the pool deployer embeds.
    bytes32 internal algebraPoolInitHash;

    mapping(address => uint8) internal kindOf;
    /// Lowest boundary of each concentrated pool's ladder (a tick).
    mapping(address => int24) internal ladderLowOf;

    function deployConcentrated() internal {
        v3Factory = IV3Factory(deployArtifact(string.concat(V3, "UniswapV3Factory.sol/UniswapV3Factory.json"), ""));
        // Algebra's wiring: the pool deployer first, then the factory that knows it, then the
        // deployer is told its (only) factory.
        (algebraDeployer, algebraFactory) = deployAlgebra();
        // This fixture stands in for the factory's createPool (see the contract's doc comment).
        algebraDeployer.setFactory(address(this));
        string memory pool = vm.readFile(string.concat(NM, ALG, "AlgebraPool.sol/AlgebraPool.json"));
        algebraPoolInitHash = keccak256(vm.parseJsonBytes(pool, ".bytecode"));
    }

    /// Algebra's pool deployer, then the factory that knows it (and the community-fee vault).
    function deployAlgebra() internal returns (IAlgebraPoolDeployer deployer, IAlgebraFactory factory) {
        deployer = IAlgebraPoolDeployer(
            deployArtifact(string.concat(ALG, "AlgebraPoolDeployer.sol/AlgebraPoolDeployer.json"), "")
        );
        factory = IAlgebraFactory(
            deployArtifact(
                string.concat(ALG, "AlgebraFactory.sol/AlgebraFactory.json"), abi.encode(deployer, ALGEBRA_VAULT)
            )
        );
    }

    /// A Uniswap V3 pool of fee tier `fee` (pips), priced at amountB / amountA and seeded.
    function createV3Pool(address ta, uint256 amountA, address tb, uint256 amountB, uint24 fee)
        internal
        returns (address pool)
    {
        pool = v3Factory.createPool(ta, tb, fee);
        kindOf[pool] = KIND_V3;
        seed(pool, ta, amountA, amountB);
    }

    /// The Algebra pool of ta/tb (one per pair), priced at amountB / amountA and seeded.
    function createAlgebraPool(address ta, uint256 amountA, address tb, uint256 amountB)
        internal
        returns (address pool)
    {
        (address token0, address token1) = ta < tb ? (ta, tb) : (tb, ta);
        bytes32 salt = keccak256(abi.encode(token0, token1));
        address predicted = address(
            uint160(uint256(keccak256(abi.encodePacked(hex"ff", address(algebraDeployer), salt, algebraPoolInitHash))))
        );
        address dataStorage = deployArtifact(
            string.concat(ALG, "DataStorageOperator.sol/DataStorageOperator.json"), abi.encode(predicted)
        );
        IAlgebraDataStorageOperator(dataStorage)
            .changeFeeConfiguration(IAlgebraFactoryConfig(address(algebraFactory)).baseFeeConfiguration());
        pool = algebraDeployer.deploy(dataStorage, address(algebraFactory), token0, token1);
        assertEq(pool, predicted, "Algebra pool address");
        kindOf[pool] = KIND_ALGEBRA;
        seed(pool, ta, amountA, amountB);
    }

    /// Initializes `pool` at the price amountB / amountA and mints the ladder and a full-range
    /// position, each with liquidity sqrt(amountA * amountB) / 2, about the depth of a V2 pair
    /// holding amountA and amountB.
    function seed(address pool, address ta, uint256 amountA, uint256 amountB) internal {
        bool aIs0 = IConcentratedPool(pool).token0() == ta;
        (uint256 amount0, uint256 amount1) = aIs0 ? (amountA, amountB) : (amountB, amountA);
        // sqrt(amount1 / amount0) in Q64.96: the ratio in Q96, its square root in Q48, shifted.
        IConcentratedPool(pool).initialize(toUint160(sqrt((amount1 << 96) / amount0) << 48));

        int24 s = IConcentratedPool(pool).tickSpacing();
        int24 t = tickOf(pool);
        // rounding down to a multiple of the spacing is the point here
        // forge-lint: disable-next-line(divide-before-multiply)
        int24 centre = t / s * s;
        if (t < 0 && centre != t) centre -= s; // floor, not truncation
        int24 width = RANGE_SPACINGS * s;
        // LADDER_RANGES / 2 whole ranges below the middle one: truncation is the point here
        // forge-lint: disable-next-line(divide-before-multiply)
        int24 low = centre - width / 2 - (LADDER_RANGES / 2) * width;
        ladderLowOf[pool] = low;
        uint128 l = toUint128(sqrt(amountA * amountB) / 2);
        for (int24 i; i < LADDER_RANGES; ++i) {
            mintRange(pool, low + i * width, low + (i + 1) * width, l);
        }
        // the widest range on multiples of the spacing: rounding towards zero is the point here
        // forge-lint: disable-next-line(divide-before-multiply)
        int24 edge = MAX_TICK / s * s;
        mintRange(pool, -edge, edge, l);
    }

    function mintRange(address pool, int24 lower, int24 upper, uint128 l) internal {
        if (kindOf[pool] == KIND_V3) {
            IV3Pool(pool).mint(holder(), lower, upper, l, "");
        } else {
            IAlgebraPool(pool).mint(holder(), holder(), lower, upper, l, "");
        }
    }

    /// The pool's current tick (V3 `slot0`, Algebra `globalState`).
    function tickOf(address pool) internal view returns (int24 tick) {
        if (kindOf[pool] == KIND_V3) {
            (, tick,,,,,) = IV3Pool(pool).slot0();
        } else {
            (, tick,,,,,) = IAlgebraPool(pool).globalState();
        }
    }

    /// How many ladder boundaries (initialized ticks) lie between two ticks of `pool`, i.e. how
    /// many a move of the price from one to the other crossed.
    function laddersCrossed(address pool, int24 a, int24 b) internal view returns (uint256 n) {
        (int24 lo, int24 hi) = a < b ? (a, b) : (b, a);
        int24 width = RANGE_SPACINGS * IConcentratedPool(pool).tickSpacing();
        int24 low = ladderLowOf[pool];
        for (int24 i; i <= LADDER_RANGES; ++i) {
            int24 boundary = low + i * width;
            if (lo < boundary && boundary <= hi) ++n;
        }
    }

    // ---- trading as an ordinary trader (this contract pays in the callbacks)

    /// Sells `amountIn` of `tokenIn` on `pool` of any kind (exact input, no price limit) and
    /// returns the output, as the pool itself computes it (for V2 pairs: the constant-product
    /// formula, which the pair's own K check accepts).
    function swapAny(address pool, address tokenIn, uint256 amountIn) internal returns (uint256 out) {
        if (kindOf[pool] == KIND_V2) return traderSwap(pool, tokenIn, amountIn);
        bool zeroForOne = IConcentratedPool(pool).token0() == tokenIn;
        assertTrue(zeroForOne || IConcentratedPool(pool).token1() == tokenIn, "swapAny: token not in pool");
        (int256 a0, int256 a1) = IConcentratedPool(pool)
            .swap(holder(), zeroForOne, toInt256(amountIn), zeroForOne ? MIN_SQRT_RATIO + 1 : MAX_SQRT_RATIO - 1, "");
        int256 delta = zeroForOne ? a1 : a0;
        assertTrue(delta <= 0, "swapAny: pool reported a positive output delta");
        // casting to 'uint256' is safe because delta <= 0 (checked above) and > type(int256).min
        // forge-lint: disable-next-line(unsafe-typecast)
        out = uint256(-delta);
    }

    /// Quotes `amountIn` of `tokenIn` through `pools` in order by running every hop on the real
    /// pools as a trader, reading each output, then restoring the state as it was before: the
    /// independent oracle for the executor's result. Packs the hops as docs/executor.md says, each
    /// hop's amountOut = its exact quoted output.
    function quoteRoute(address tokenIn, uint256 amountIn, address[] memory pools) internal returns (Quote memory q) {
        uint256 n = pools.length;
        q.outs = new uint256[](n);
        q.tokens = new address[](n + 1);
        uint256 snapshot = vm.snapshotState();
        address token = tokenIn;
        uint256 amount = amountIn;
        for (uint256 i; i < n; ++i) {
            address pool = pools[i];
            bool zeroForOne = IConcentratedPool(pool).token0() == token;
            uint256 out = swapAny(pool, token, amount);
            assertTrue(out <= type(uint128).max, "quoteRoute: amountOut does not fit the hop's uint128");
            uint8 flags = (zeroForOne ? 1 : 0) | (kindOf[pool] << 1);
            // casting to 'uint128' is safe because of the check above
            // forge-lint: disable-next-line(unsafe-typecast)
            q.hops = bytes.concat(q.hops, abi.encodePacked(pool, flags, uint128(out)));
            q.outs[i] = out;
            q.tokens[i] = token;
            token = zeroForOne ? IConcentratedPool(pool).token1() : IConcentratedPool(pool).token0();
            amount = out;
        }
        q.tokens[n] = token;
        assertTrue(vm.revertToState(snapshot), "quoteRoute: revert to snapshot");
    }

    // ---- callbacks: this contract pays the pools it created (liquidity and trader swaps)

    function uniswapV3MintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        assertTrue(kindOf[msg.sender] == KIND_V3, "mint callback from an unknown V3 pool");
        payPool(msg.sender, amount0Owed, amount1Owed);
    }

    function algebraMintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        assertTrue(kindOf[msg.sender] == KIND_ALGEBRA, "mint callback from an unknown Algebra pool");
        payPool(msg.sender, amount0Owed, amount1Owed);
    }

    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        assertTrue(kindOf[msg.sender] == KIND_V3, "swap callback from an unknown V3 pool");
        payPool(msg.sender, positive(amount0Delta), positive(amount1Delta));
    }

    function algebraSwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        assertTrue(kindOf[msg.sender] == KIND_ALGEBRA, "swap callback from an unknown Algebra pool");
        payPool(msg.sender, positive(amount0Delta), positive(amount1Delta));
    }

    function payPool(address pool, uint256 amount0, uint256 amount1) internal {
        if (amount0 > 0) send(IConcentratedPool(pool).token0(), pool, amount0);
        if (amount1 > 0) send(IConcentratedPool(pool).token1(), pool, amount1);
    }

    // ---- small math for the fixture (prices only; amounts come from the pools)

    function positive(int256 v) internal pure returns (uint256) {
        // casting to 'uint256' is safe because v > 0 in the branch taken
        // forge-lint: disable-next-line(unsafe-typecast)
        return v > 0 ? uint256(v) : 0;
    }

    function sqrt(uint256 x) internal pure returns (uint256 r) {
        if (x == 0) return 0;
        r = x;
        uint256 y = (x + 1) / 2;
        while (y < r) {
            r = y;
            y = (x / y + y) / 2;
        }
    }

    function toUint160(uint256 v) internal pure returns (uint160) {
        assertTrue(v <= type(uint160).max, "toUint160");
        // casting to 'uint160' is safe because of the check above
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint160(v);
    }

    function toUint128(uint256 v) internal pure returns (uint128) {
        assertTrue(v <= type(uint128).max, "toUint128");
        // casting to 'uint128' is safe because of the check above
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint128(v);
    }

    function toInt256(uint256 v) internal pure returns (int256) {
        assertTrue(v <= uint256(type(int256).max), "toInt256");
        // casting to 'int256' is safe because of the check above
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(v);
    }

    function balanceOfToken(address token, address who) internal view returns (uint256) {
        return IERC20Min(token).balanceOf(who);
    }
}
