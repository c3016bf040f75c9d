// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../../src/Executor.sol";
import {MixedFixture} from "./MixedFixture.sol";
import {BalancerFixture} from "./Balancer.sol";
import {AaveFixture} from "./Aave.sol";
import {V2Fixture, IV2Pair} from "./V2.sol";

/// Opens a real Aave V3 market (AaveFixture: the npm Pool, its libraries linked, the configurator)
/// from its own account, which is the market's ACL and pool admin, and lends one asset. A contract
/// of its own because AaveFixture's artifact path `AAVE` and RunCalls' funding byte `AAVE` share a
/// name, so one contract cannot inherit both.
contract AaveMarket is AaveFixture {
    address internal immutable creator;

    constructor() {
        creator = msg.sender;
    }

    /// Deploys the market, lists `asset`, supplies `amount` of it (sent here beforehand) and sets
    /// the flash-loan premium to `premiumBps` basis points, as governance would. Returns the Pool.
    function open(address asset, uint256 amount, uint128 premiumBps) external returns (address) {
        require(msg.sender == creator, "AaveMarket: creator only");
        deployAavePool();
        deployAaveConfigurator();
        listAndSupply(asset, amount);
        configurator.updateFlashloanPremiumTotal(premiumBps);
        return address(pool);
    }

    /// The aToken of `asset` (`getReserveData(asset).aTokenAddress`, the struct's ninth field):
    /// where the reserve's tokens sit and where premiums go.
    function aTokenOf(address asset) external view returns (address aToken) {
        (bool ok, bytes memory data) =
            address(pool).staticcall(abi.encodeWithSignature("getReserveData(address)", asset));
        require(ok, "getReserveData");
        (,,,,,,,, aToken) =
            abi.decode(data, (uint256, uint128, uint128, uint128, uint128, uint128, uint40, uint16, address));
    }
}

/// The mixed market of MixedFixture (tokens A, B, C; Uniswap V2 and Pancake pairs, Uniswap V3 and
/// Algebra pools; A cheap on cakeAB and cakeCA) with A also cheap on v3AB5 and algCA, plus two
/// real lenders: the Balancer V2 Vault (it lends its raw balance: it holds 10,000 A and the same
/// value of B and C; fee 0 as deployed, `setBalancerFee` to charge one) and an Aave V3 Pool with A
/// listed and 10,000 A supplied, at a 5 bps premium. The executor here is built with both lenders,
/// names this test as an executor and holds no tokens: a test funds it (`fund`) when it wants
/// capital. (ExecutorFixture's executor, with 100 A, is left unused.)
///
/// Premiums are computed here from each lender's own rule, independently of the lenders:
///   Balancer: FixedPoint.mulUp(amount, fee) = ceil(amount * fee / 1e18)
///   Aave:     PercentageMath.percentMul(amount, bps) = (amount * bps + 5,000) / 10,000
abstract contract FundingFixture is MixedFixture, BalancerFixture {
    uint128 internal constant AAVE_PREMIUM_BPS = 5;
    /// 0.07 % (1e18 = 100 %): the fee tests set when they want Balancer to charge one.
    uint256 internal constant BALANCER_FEE = 7e14;
    /// What each lender can lend of A (raw units).
    uint256 internal constant LENT_A = 10_000e18;
    /// The Vault stores a WETH address for ETH wrapping, which no test uses.
    address internal constant WETH_UNUSED = address(0x7E7);

    AaveMarket internal aaveMarket;
    address internal aavePool;
    address internal aToken;
    /// The Vault's flash-loan fee as last set through `setBalancerFee` (1e18 = 100 %).
    uint256 internal balancerFeePct;

    function setUp() public virtual override {
        super.setUp();
        dumpA(v3AB5, 60e18);
        dumpA(algCA, 60e18);

        deployVault(WETH_UNUSED);
        send(tokenA, address(vault), LENT_A);
        send(tokenB, address(vault), 2 * LENT_A);
        send(tokenC, address(vault), 6 * LENT_A);

        aaveMarket = new AaveMarket();
        send(tokenA, address(aaveMarket), LENT_A);
        aavePool = aaveMarket.open(tokenA, LENT_A, AAVE_PREMIUM_BPS);
        aToken = aaveMarket.aTokenOf(tokenA);

        executor = new Executor(address(vault), aavePool);
        executor.setExecutor(address(this), true);
    }

    function holder() internal view virtual override(V2Fixture, MixedFixture) returns (address) {
        return V2Fixture.holder();
    }

    // ---- lenders' charges

    function setBalancerFee(uint256 pct) internal {
        setFlashLoanFee(pct);
        balancerFeePct = pct;
    }

    /// Balancer's fee on `amount`: FixedPoint.mulUp(amount, fee), rounded up.
    function balancerFee(uint256 amount) internal view returns (uint256) {
        uint256 product = amount * balancerFeePct;
        return product == 0 ? 0 : (product - 1) / 1e18 + 1;
    }

    /// Aave's premium on `amount`: percentMul(amount, bps), rounded half up.
    function aavePremium(uint256 amount) internal pure returns (uint256) {
        return (amount * AAVE_PREMIUM_BPS + 5_000) / 10_000;
    }

    /// What a route funded by `funding` owes on top of `amount` (flash swaps and capital: nothing).
    function premiumFor(uint8 funding, uint256 amount) internal view returns (uint256) {
        if (funding == BALANCER) return balancerFee(amount);
        if (funding == AAVE) return aavePremium(amount);
        return 0;
    }

    // ---- the executor's balances

    function fund(address token, uint256 amount) internal {
        send(token, address(executor), amount);
    }

    function held(address token) internal view returns (uint256) {
        return balanceOf(token, address(executor));
    }

    function tokens() internal view returns (address[3] memory) {
        return [tokenA, tokenB, tokenC];
    }

    function heldAll() internal view returns (uint256[3] memory h) {
        address[3] memory t = tokens();
        for (uint256 i; i < 3; ++i) {
            h[i] = held(t[i]);
        }
    }

    function pools4(address a, address b, address c, address d) internal pure returns (address[] memory p) {
        p = new address[](4);
        (p[0], p[1], p[2], p[3]) = (a, b, c, d);
    }

    // ---- quoting without snapshots (for fuzz handlers)

    /// Carries a simulated route's outputs out of the reverted call.
    error Simulated(uint256[] outs);

    /// Runs `pools` as a trader (swapAny, the same oracle as quoteRoute) and reverts with each
    /// hop's output, so nothing it did stays. Only this contract may call it.
    function simulateRoute(address tokenIn, uint256 amountIn, address[] calldata pools) external {
        require(msg.sender == address(this), "simulateRoute: self only");
        uint256[] memory outs = new uint256[](pools.length);
        address token = tokenIn;
        uint256 amount = amountIn;
        for (uint256 i; i < pools.length; ++i) {
            outs[i] = amount = swapAny(pools[i], token, amount);
            token = otherToken(pools[i], token);
        }
        revert Simulated(outs);
    }

    /// quoteRoute's answer, from a call that reverts instead of a state snapshot (so it also
    /// works inside an invariant handler's call). `ok` is false if a hop failed (e.g. a V2 hop
    /// whose output rounds to zero).
    function quoteByRevert(address tokenIn, uint256 amountIn, address[] memory pools)
        internal
        returns (bool ok, Quote memory q)
    {
        try this.simulateRoute(tokenIn, amountIn, pools) {
            revert("simulateRoute returned");
        } catch (bytes memory err) {
            // casting to 'bytes4' keeps the selector, which is the point
            // forge-lint: disable-next-line(unsafe-typecast)
            if (err.length < 4 || bytes4(err) != Simulated.selector) return (false, q);
            assembly {
                // Drop the selector: the rest is abi.encode(outs).
                let n := sub(mload(err), 4)
                err := add(err, 4)
                mstore(err, n)
            }
            q.outs = abi.decode(err, (uint256[]));
        }
        uint256 n = pools.length;
        q.tokens = new address[](n + 1);
        address token = tokenIn;
        for (uint256 i; i < n; ++i) {
            q.tokens[i] = token;
            q.hops = bytes.concat(q.hops, packHop(pools[i], token, q.outs[i]));
            token = otherToken(pools[i], token);
        }
        q.tokens[n] = token;
        ok = true;
    }

    /// One packed hop selling `tokenIn` on `pool` for `out` (docs/executor.md).
    function packHop(address pool, address tokenIn, uint256 out) internal view returns (bytes memory) {
        bool zeroForOne = IV2Pair(pool).token0() == tokenIn;
        // casting to 'uint128' is safe because callers pass amounts below 2^128
        // forge-lint: disable-next-line(unsafe-typecast)
        return abi.encodePacked(pool, uint8((zeroForOne ? 1 : 0) | (kindOf[pool] << 1)), uint128(out));
    }

    function otherToken(address pool, address token) internal view returns (address) {
        address t0 = IV2Pair(pool).token0();
        return t0 == token ? IV2Pair(pool).token1() : t0;
    }

    // ---- random routes

    /// Every real pool of the market.
    function allPools() internal view returns (address[11] memory) {
        return [uniAB, cakeAB, uniBC, cakeCA, v3AB, v3AB5, v3BC, v3CA, algAB, algBC, algCA];
    }

    /// A route drawn from a seed, and what is known about it.
    struct Drawn {
        uint8 funding;
        address tokenIn;
        uint256 amountIn;
        uint256 minProfit;
        bytes hops;
        /// The hops carry the real pools' exact outputs for amountIn, the route ends in tokenIn
        /// and every output is non-zero; nothing was changed afterwards.
        bool exact;
        /// The last hop's quoted output (when the route was quoted).
        uint256 out;
    }

    /// Draws a route of 2 to 4 hops over the market's real pools from `seed`: a random funding
    /// source (0-3), start token (A 3 times in 5, B or C otherwise), pools (never the same twice
    /// in a row; the last one joins back to the start token when it can; half the time the hop
    /// that buys A, the last from A or the first from B or C, is one where A is cheap, so a fair
    /// share of routes profit) and amountIn (log-uniform, from 2 % of the start token's depth in
    /// one pool down to about 0.0005 %). The hops carry the quoted outputs; then one route in four
    /// is made wrong: a hop asks for more or less, a direction or pool kind is flipped, or
    /// amountIn changes. minProfit is 0, the exact net profit, one more, or random below twice it.
    /// Public so an invariant handler can draw routes too.
    function drawRoute(uint256 seed) public returns (Drawn memory d) {
        uint256 r = uint256(keccak256(abi.encode(seed)));
        // casting to 'uint8' is safe because r % 4 < 4
        // forge-lint: disable-next-line(unsafe-typecast)
        d.funding = uint8(r % 4);
        r >>= 8;
        uint256 t = r % 5;
        d.tokenIn = t < 3 ? tokenA : t == 3 ? tokenB : tokenC;
        r >>= 8;
        uint256 n = 2 + r % 3;
        r >>= 8;
        address[] memory pools = new address[](n);
        address token = d.tokenIn;
        for (uint256 i; i < n; ++i) {
            bool buysA = d.tokenIn == tokenA ? i == n - 1 : i == 0;
            pools[i] = pickPool(token, d.tokenIn, i, n, i == 0 ? address(0) : pools[i - 1], buysA && r & 1 == 0, r >> 1);
            r >>= 16;
            token = otherToken(pools[i], token);
        }
        d.amountIn = (nominal(d.tokenIn) / 50 >> (r % 12)) * (100 + (r >> 8) % 100) / 150;
        r >>= 16;

        (bool ok, Quote memory q) = quoteByRevert(d.tokenIn, d.amountIn, pools);
        if (ok) {
            d.hops = q.hops;
            d.out = q.outs[n - 1];
            d.exact = q.tokens[n] == d.tokenIn;
            for (uint256 i; i < n; ++i) {
                if (q.outs[i] == 0) d.exact = false;
            }
        } else {
            // A guess: what a stale or careless quote would declare.
            token = d.tokenIn;
            for (uint256 i; i < n; ++i) {
                d.hops = bytes.concat(d.hops, packHop(pools[i], token, 1 + (r >> (8 * i)) % (2 * d.amountIn)));
                token = otherToken(pools[i], token);
            }
        }

        r = uint256(keccak256(abi.encode(seed, "wrong")));
        if (r % 4 == 0) {
            d.exact = false;
            spoil(d, n, r >> 8);
        }
        r >>= 64;
        uint256 premium = premiumFor(d.funding, d.amountIn);
        uint256 net = d.exact && d.out > d.amountIn + premium ? d.out - d.amountIn - premium : 0;
        uint256 m = r % 4;
        d.minProfit = m == 0 ? 0 : m == 1 ? net : m == 2 ? net + 1 : (r >> 8) % (2 * net + 2);
    }

    /// A random pool holding `token`, not `previous`; the last hop joins back to `start` when it
    /// can, the one before it avoids landing on `start` (so the last hop can close the cycle).
    /// With `cheap`, one where A is cheap if any fits.
    function pickPool(address token, address start, uint256 i, uint256 n, address previous, bool cheap, uint256 r)
        internal
        view
        returns (address)
    {
        address[11] memory all = allPools();
        address[11] memory fit;
        uint256 k;
        for (uint256 j; j < all.length; ++j) {
            if (all[j] == previous || (cheap && !isCheapA(all[j]))) continue;
            if (fits(all[j], token, start, i == n - 1, i + 2 == n)) fit[k++] = all[j];
        }
        if (k == 0) return pickPool(token, start, i, n, previous, false, r);
        return fit[r % k];
    }

    /// Whether `pool` holds `token` and, for the last hop, leads back to `start` (unless the route
    /// is already there), for the hop before it, does not.
    function fits(address pool, address token, address start, bool last, bool beforeLast) internal view returns (bool) {
        address t0 = IV2Pair(pool).token0();
        address t1 = IV2Pair(pool).token1();
        if (t0 != token && t1 != token) return false;
        address other = t0 == token ? t1 : t0;
        if (last && token != start && other != start) return false;
        return !(beforeLast && other == start);
    }

    /// The pools where A is cheap (MixedFixture's and this fixture's dumps).
    function isCheapA(address p) internal view returns (bool) {
        return p == cakeAB || p == cakeCA || p == v3AB5 || p == algCA;
    }

    /// Makes a drawn route wrong in one of five ways, on a random hop.
    function spoil(Drawn memory d, uint256 n, uint256 r) internal pure {
        uint256 hop = r % n;
        uint256 how = (r >> 8) % 5;
        uint256 at = hop * 37;
        uint256 amount = amountAt(d.hops, hop);
        if (how == 0) {
            setAmountAt(d.hops, hop, amount + 1 + (r >> 16) % 1_000); // asks for more than the pool pays
        } else if (how == 1) {
            setAmountAt(d.hops, hop, amount / 2); // asks for less: legal, the surplus stays behind
        } else if (how == 2) {
            d.hops[at + 20] = bytes1(uint8(d.hops[at + 20]) ^ 1); // the other direction
        } else if (how == 3) {
            d.hops[at + 20] = bytes1(uint8(d.hops[at + 20]) ^ 2); // another pool kind
        } else {
            d.amountIn = (r >> 16) % 2 == 0 ? d.amountIn * 2 : d.amountIn / 2 + 1; // hops quoted for another input
        }
    }

    /// What the fixture seeded each pool with, per token (1,000 A, 2,000 B, 6,000 C).
    function nominal(address token) internal view returns (uint256) {
        return token == tokenA ? 1_000e18 : token == tokenB ? 2_000e18 : 6_000e18;
    }

    function amountAt(bytes memory hops, uint256 i) internal pure returns (uint256 a) {
        uint256 at = i * 37 + 21;
        for (uint256 j; j < 16; ++j) {
            a = a << 8 | uint8(hops[at + j]);
        }
    }

    function setAmountAt(bytes memory hops, uint256 i, uint256 a) internal pure {
        uint256 at = i * 37 + 21;
        for (uint256 j = 16; j > 0; --j) {
            // casting to 'uint8' keeps the low byte, which is the point
            // forge-lint: disable-next-line(unsafe-typecast)
            hops[at + j - 1] = bytes1(uint8(a));
            a >>= 8;
        }
    }
}
