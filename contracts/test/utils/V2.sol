// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {TestBase} from "./TestBase.sol";

// The parts of the real contracts' ABIs the tests call (interfaces only; the code under test is
// the npm build artifacts of `@uniswap/v2-core` and `@pancakeswap-libs/pancake-swap-core`).
interface IERC20Min {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

interface IV2Factory {
    function createPair(address tokenA, address tokenB) external returns (address pair);
}

interface IV2Pair {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function mint(address to) external returns (uint256 liquidity);
    function sync() external;
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

/// Deploys the real V2 factories and test ERC20s from their build artifacts and quotes routes over
/// the resulting pairs with the constant-product formula, independently of the contracts.
abstract contract V2Fixture is TestBase {
    string internal constant NM = "../tools/toolchain/node_modules/";
    string internal constant UNI = "@uniswap/v2-core/build/";
    string internal constant CAKE = "@pancakeswap-libs/pancake-swap-core/build/";

    /// Fee in thousandths of the input, per DEX: Uniswap V2 0.3 %, Pancake V2 0.2 %.
    uint256 internal constant UNI_FEE = 3;
    uint256 internal constant CAKE_FEE = 2;

    /// Fee of each pair we created, and the revert reason its K check gives.
    mapping(address => uint256) internal feeOf;
    mapping(address => string) internal kReasonOf;

    IV2Factory internal uniFactory;
    IV2Factory internal cakeFactory;

    /// The account that deploys the tokens and so holds them, LP shares and trader proceeds:
    /// this test contract, or the broadcasting account in a script (forge forbids scripts to rely
    /// on their own ephemeral address).
    function holder() internal view virtual returns (address) {
        return address(this);
    }

    function deployArtifact(string memory artifact, bytes memory ctorArgs) internal returns (address addr) {
        string memory json = vm.readFile(string.concat(NM, artifact));
        bytes memory code = bytes.concat(vm.parseJsonBytes(json, ".bytecode"), ctorArgs);
        assembly {
            addr := create(0, add(code, 0x20), mload(code))
        }
        assertTrue(addr != address(0) && addr.code.length > 0, string.concat("deploy failed: ", artifact));
    }

    function deployFactories() internal {
        uniFactory = IV2Factory(deployArtifact(string.concat(UNI, "UniswapV2Factory.json"), abi.encode(holder())));
        cakeFactory = IV2Factory(deployArtifact(string.concat(CAKE, "PancakeFactory.json"), abi.encode(holder())));
    }

    /// The v2-core test ERC20: constructor(uint totalSupply) mints to the deployer (this test).
    function deployUniToken(uint256 supply) internal returns (address) {
        return deployArtifact(string.concat(UNI, "ERC20.json"), abi.encode(supply));
    }

    function deployCakeToken(uint256 supply) internal returns (address) {
        return deployArtifact(string.concat(CAKE, "ERC20.json"), abi.encode(supply));
    }

    function createPair(IV2Factory factory, address ta, address tb) internal returns (address pair) {
        pair = factory.createPair(ta, tb);
        bool uni = factory == uniFactory;
        feeOf[pair] = uni ? UNI_FEE : CAKE_FEE;
        kReasonOf[pair] = uni ? "UniswapV2: K" : "Pancake: K";
    }

    /// Adds liquidity the way the router does: transfer both tokens in, then `mint`.
    function addLiquidity(address pair, address ta, uint256 amountA, address tb, uint256 amountB) internal {
        send(ta, pair, amountA);
        send(tb, pair, amountB);
        IV2Pair(pair).mint(holder());
    }

    /// `token.transfer(to, amount)` from this test, for tokens that return a bool or nothing.
    function send(address token, address to, uint256 amount) internal {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Min.transfer, (to, amount)));
        assertTrue(ok && (ret.length == 0 || abi.decode(ret, (bool))), "send: transfer failed");
    }

    /// A trader (this test) sells `amountIn` of `tokenIn` on `pair` for the exact quoted output.
    function traderSwap(address pair, address tokenIn, uint256 amountIn) internal returns (uint256 out) {
        (uint256 rIn, uint256 rOut, bool zeroForOne) = reservesFor(pair, tokenIn);
        out = amountOut(amountIn, rIn, rOut, feeOf[pair]);
        send(tokenIn, pair, amountIn);
        IV2Pair(pair).swap(zeroForOne ? 0 : out, zeroForOne ? out : 0, holder(), "");
    }

    /// Constant-product output for an exact input, rounded down, with `fee` thousandths taken
    /// from the input: the largest output for which the pair's K check still holds.
    function amountOut(uint256 amountIn, uint256 rIn, uint256 rOut, uint256 fee) internal pure returns (uint256) {
        uint256 inAfterFee = amountIn * (1000 - fee);
        return inAfterFee * rOut / (rIn * 1000 + inAfterFee);
    }

    function reservesFor(address pair, address tokenIn)
        internal
        view
        returns (uint256 rIn, uint256 rOut, bool zeroForOne)
    {
        (uint256 r0, uint256 r1,) = IV2Pair(pair).getReserves();
        zeroForOne = IV2Pair(pair).token0() == tokenIn;
        (rIn, rOut) = zeroForOne ? (r0, r1) : (r1, r0);
    }

    /// A quoted route: the packed hops for `Executor.execute` and each hop's exact output.
    struct Quote {
        bytes hops;
        uint256[] outs;
        address[] tokens; // tokens[i] is hop i's input token; tokens[n] is the final output token
    }

    /// Quotes `amountIn` of `tokenIn` through `pairs` in order, simulating each pair's reserves as
    /// the route goes (a pair may appear twice) and packing the hops as docs/executor.md says.
    function quote(address tokenIn, uint256 amountIn, address[] memory pairs) internal view returns (Quote memory q) {
        uint256 n = pairs.length;
        q.outs = new uint256[](n);
        q.tokens = new address[](n + 1);
        // Simulated reserves, keyed by position of the pair's first appearance.
        uint256[] memory r0 = new uint256[](n);
        uint256[] memory r1 = new uint256[](n);
        address token = tokenIn;
        uint256 amount = amountIn;
        for (uint256 i; i < n; ++i) {
            address pair = pairs[i];
            uint256 k = i;
            for (uint256 j; j < i; ++j) {
                if (pairs[j] == pair) {
                    k = j;
                    break;
                }
            }
            if (k == i) (r0[k], r1[k],) = IV2Pair(pair).getReserves();
            bool zeroForOne = IV2Pair(pair).token0() == token;
            assertTrue(zeroForOne || IV2Pair(pair).token1() == token, "quote: token not in pair");
            uint256 out;
            if (zeroForOne) {
                out = amountOut(amount, r0[k], r1[k], feeOf[pair]);
                (r0[k], r1[k]) = (r0[k] + amount, r1[k] - out);
            } else {
                out = amountOut(amount, r1[k], r0[k], feeOf[pair]);
                (r0[k], r1[k]) = (r0[k] - out, r1[k] + amount);
            }
            assertTrue(out <= type(uint128).max, "quote: amountOut does not fit the hop's uint128");
            // casting to 'uint128' is safe because of the check just above
            // forge-lint: disable-next-line(unsafe-typecast)
            q.hops = bytes.concat(q.hops, abi.encodePacked(pair, uint8(zeroForOne ? 1 : 0), uint128(out)));
            q.outs[i] = out;
            q.tokens[i] = token;
            token = zeroForOne ? IV2Pair(pair).token1() : IV2Pair(pair).token0();
            amount = out;
        }
        q.tokens[n] = token;
    }

    /// `hops` with hop `i`'s amountOut raised by one raw unit.
    function bumpAmountOut(bytes memory hops, uint256 i) internal pure returns (bytes memory out) {
        out = bytes.concat(hops); // copy
        uint256 at = i * 37 + 21;
        uint128 amount = uint128(bytes16(_slice16(out, at)));
        bytes16 bumped = bytes16(amount + 1);
        for (uint256 j; j < 16; ++j) {
            out[at + j] = bumped[j];
        }
    }

    function _slice16(bytes memory b, uint256 at) private pure returns (bytes16 v) {
        assembly {
            v := mload(add(add(b, 0x20), at))
        }
    }

    function pairs2(address a, address b) internal pure returns (address[] memory p) {
        p = new address[](2);
        (p[0], p[1]) = (a, b);
    }

    function pairs3(address a, address b, address c) internal pure returns (address[] memory p) {
        p = new address[](3);
        (p[0], p[1], p[2]) = (a, b, c);
    }
}
