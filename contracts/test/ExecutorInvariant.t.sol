// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

import {Executor} from "../src/Executor.sol";
import {FundingFixture} from "./utils/FundingFixture.sol";
import {RunCalls} from "./utils/Run.sol";
import {IAavePool} from "./utils/Aave.sol";
import {IBalancerVault} from "./utils/Balancer.sol";
import {IV2Pair} from "./utils/V2.sol";
import {VM_ADDRESS} from "./utils/Vm.sol";
import {PosingPool} from "./utils/Doubles.sol";

/// The cheatcodes the handler uses beyond utils/Vm.sol (forge's cheatcode spec).
interface VmExtra {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address sender) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

/// forge's invariant-target types (what forge-std's StdInvariant declares).
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}

/// The invariant campaign's only target. Each action either succeeds and records what it did in
/// the ghost counters, or reverts with the executor's own error (so forge's metrics count the
/// refused ones). Actions: run a drawn route as an executor; the same as a stranger; a drawn
/// route with one hop replaced by a PosingPool (test double: takes its input, pays nothing);
/// forged callbacks on the executor and forged loans from the real lenders to it.
contract FundingHandler is RunCalls {
    VmExtra internal constant vm = VmExtra(VM_ADDRESS);

    FundingFixture internal immutable fixture;
    Executor internal immutable executor;
    IBalancerVault internal immutable vault;
    IAavePool internal immutable aavePool;
    address[] internal pools;
    /// Posing pools on the fixture's three token pairs, token0 < token1 as on the real pools.
    mapping(address => mapping(address => PosingPool)) internal posing;

    /// Routes this handler (an executor) ran successfully.
    uint256 public okByExecutor;
    /// Executed events the executor emitted during this handler's actions.
    uint256 public executedSeen;
    /// Routes a stranger ran successfully: must stay 0.
    uint256 public okByStranger;
    /// Forged callbacks or loans the executor accepted: must stay 0.
    uint256 public okForged;

    constructor(FundingFixture f, Executor e, address v, address a, address[] memory pools_, address[3] memory t) {
        (fixture, executor, vault, aavePool, pools) = (f, e, IBalancerVault(v), IAavePool(a), pools_);
        for (uint256 i; i < 3; ++i) {
            (address t0, address t1) = t[i] < t[(i + 1) % 3] ? (t[i], t[(i + 1) % 3]) : (t[(i + 1) % 3], t[i]);
            posing[t0][t1] = new PosingPool(t0, t1);
        }
    }

    function runAsExecutor(uint256 seed) external {
        FundingFixture.Drawn memory d = fixture.drawRoute(seed);
        send(address(this), runCalldata(d.funding, d.tokenIn, d.amountIn, d.minProfit, d.hops));
    }

    function runAsStranger(uint256 seed, address stranger) external {
        require(!executor.isExecutor(stranger), "not a stranger");
        FundingFixture.Drawn memory d = fixture.drawRoute(seed);
        send(stranger, runCalldata(d.funding, d.tokenIn, d.amountIn, d.minProfit, d.hops));
    }

    /// A drawn route with hop `at` (not the first) on a PosingPool of the same tokens.
    function runWithPosingPool(uint256 seed, uint256 at) external {
        FundingFixture.Drawn memory d = fixture.drawRoute(seed);
        uint256 n = (d.hops.length) / 37;
        uint256 o = (1 + at % (n - 1)) * 37;
        address real;
        bytes memory hops = d.hops;
        assembly {
            real := shr(96, mload(add(add(hops, 0x20), o)))
        }
        address t0 = IV2Pair(real).token0();
        address t1 = IV2Pair(real).token1();
        bytes memory fake = abi.encodePacked(address(posing[t0][t1]), uint8(1 << 1) | (uint8(d.hops[o + 20]) & 1));
        for (uint256 i; i < 21; ++i) {
            d.hops[o + i] = fake[i];
        }
        send(address(this), runCalldata(d.funding, d.tokenIn, d.amountIn, d.minProfit, d.hops));
    }

    /// One of the five callbacks, or a loan from a real lender to the executor, with a drawn
    /// route's payload, from a real lender, a real pool or anyone.
    function forgeCallback(uint256 seed, uint256 kind, uint256 who) external {
        FundingFixture.Drawn memory d = fixture.drawRoute(seed);
        bytes memory payload = abi.encodePacked(d.funding, d.tokenIn, uint128(d.amountIn), uint128(d.minProfit), d.hops);
        // casting to 'uint160' keeps the low 20 bytes: any address is a fine caller
        // forge-lint: disable-next-line(unsafe-typecast)
        address anyone = address(uint160(who));
        address caller = who % 4 == 0
            ? address(vault)
            : who % 4 == 1 ? address(aavePool) : who % 4 == 2 ? pools[(who >> 2) % pools.length] : anyone;
        address[] memory tokens = new address[](1);
        tokens[0] = d.tokenIn;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = d.amountIn;
        kind %= 7;
        address target = address(executor);
        bytes memory call;
        if (kind == 0) {
            call = abi.encodeCall(Executor.uniswapV3SwapCallback, (int256(d.amountIn), -1, payload));
        } else if (kind == 1) {
            call = abi.encodeCall(Executor.algebraSwapCallback, (int256(d.amountIn), -1, payload));
        } else if (kind == 2) {
            call = abi.encodeCall(Executor.uniswapV2Call, (address(executor), 0, d.amountIn, payload));
        } else if (kind == 3) {
            call = abi.encodeCall(Executor.receiveFlashLoan, (tokens, amounts, new uint256[](1), payload));
        } else if (kind == 4) {
            call = abi.encodeCall(Executor.executeOperation, (d.tokenIn, d.amountIn, 0, address(executor), payload));
        } else if (kind == 5) {
            target = address(aavePool);
            call = abi.encodeCall(IAavePool.flashLoanSimple, (address(executor), d.tokenIn, d.amountIn, payload, 0));
        } else {
            target = address(vault);
            call = abi.encodeCall(IBalancerVault.flashLoan, (address(executor), tokens, amounts, payload));
        }
        vm.prank(caller);
        (bool ok, bytes memory ret) = target.call(call);
        if (!ok) bubble(ret);
        ++okForged;
    }

    /// Sends a run from `from`, counting the Executed events it caused and who succeeded;
    /// re-throws a refusal.
    function send(address from, bytes memory data) internal {
        vm.recordLogs();
        if (from != address(this)) vm.prank(from);
        (bool ok, bytes memory ret) = address(executor).call(data);
        VmExtra.Log[] memory logs = vm.getRecordedLogs();
        if (!ok) bubble(ret);
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(executor) && logs[i].topics[0] == Executor.Executed.selector) {
                ++executedSeen;
            }
        }
        if (from == address(this)) ++okByExecutor;
        else ++okByStranger;
    }

    function bubble(bytes memory ret) internal pure {
        assembly {
            revert(add(ret, 0x20), mload(ret))
        }
    }
}

/// Properties of the executor over random routes on the real market of FundingFixture (real
/// pools and lenders): whatever route, funding source and minProfit an executor sends, a run
/// either reverts or leaves the executor with at least minProfit more of the start token and no
/// less of any token; and no one but an executor ever runs a route or gets a callback accepted.
/// The executor holds capital in all three tokens, so a loss of any of them would show.
///
/// CI runs are short (inline `default.*` config below); `FOUNDRY_PROFILE=long forge test
/// --match-contract ExecutorInvariant` runs the long mode (the inline `long.*` config, the same
/// numbers as foundry.toml's [profile.long]: forge applies a test's inline `default.*` settings in
/// every profile that has none of its own).
contract ExecutorInvariantTest is FundingFixture {
    FundingHandler internal handler;
    uint256[3] internal start;

    function setUp() public override {
        super.setUp();
        fund(tokenA, 20e18);
        fund(tokenB, 40e18);
        fund(tokenC, 120e18);
        start = heldAll();
        address[] memory all = new address[](11);
        address[11] memory p = allPools();
        for (uint256 i; i < 11; ++i) {
            all[i] = p[i];
        }
        handler = new FundingHandler(this, executor, address(vault), aavePool, all, tokens());
        executor.setExecutor(address(handler), true);
    }

    // ---- fuzz

    /// Any drawn route (FundingFixture.drawRoute: 2 to 4 real hops, random directions, amounts
    /// right or wrong, any funding source and minProfit) either reverts, leaving every balance as
    /// it was, or succeeds with the start token grown by at least minProfit and no token fallen.
    /// An exactly quoted route that succeeds pays exactly quote - amountIn - premium; one that
    /// earns its premium and minProfit from a source that can fund it (a Balancer or Aave loan,
    /// or capital it holds) must succeed.
    /// forge-config: default.fuzz.runs = 64
    /// forge-config: long.fuzz.runs = 5000
    function testFuzz_AnyRoute_ProfitsAtLeastMinProfitOrReverts(uint256 seed) public {
        checkDrawn(seed);
    }

    /// The drawn routes are not all refused: over a fixed set of seeds, routes of every funding
    /// source succeed (so the fuzz and invariant runs exercise successful runs too).
    function test_DrawnRoutes_SucceedFromEveryFundingSource() public {
        uint256[4] memory ok;
        for (uint256 seed; seed < 80; ++seed) {
            (bool success, uint8 funding) = checkDrawn(seed);
            if (success) ++ok[funding];
        }
        for (uint256 f; f < 4; ++f) {
            emit log_named_uint(string.concat("routes run, funding ", toString(f)), ok[f]);
            assertTrue(ok[f] > 0, string.concat("no drawn route succeeded from funding ", toString(f)));
        }
    }

    // ---- invariants

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 20
    /// forge-config: default.invariant.show-metrics = true
    /// forge-config: long.invariant.runs = 256
    /// forge-config: long.invariant.depth = 50
    function invariant_ExecutorNeverHoldsLessOfAnyToken() public view {
        uint256[3] memory h = heldAll();
        for (uint256 i; i < 3; ++i) {
            assertTrue(h[i] >= start[i], string.concat("the executor lost token ", toString(i)));
        }
    }

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 20
    /// forge-config: long.invariant.runs = 256
    /// forge-config: long.invariant.depth = 50
    function invariant_OnlyExecutorsRanRoutes() public view {
        assertEq(handler.okByStranger(), 0, "routes run by strangers");
        assertEq(handler.okForged(), 0, "forged callbacks accepted");
        assertEq(handler.executedSeen(), handler.okByExecutor(), "Executed events beyond the executor's runs");
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory s) {
        s = new FuzzSelector[](1);
        s[0].addr = address(handler);
        s[0].selectors = new bytes4[](4);
        s[0].selectors[0] = FundingHandler.runAsExecutor.selector;
        s[0].selectors[1] = FundingHandler.runAsStranger.selector;
        s[0].selectors[2] = FundingHandler.runWithPosingPool.selector;
        s[0].selectors[3] = FundingHandler.forgeCallback.selector;
    }

    // ---- the property

    function checkDrawn(uint256 seed) internal returns (bool ok, uint8 funding) {
        Drawn memory d = drawRoute(seed);
        funding = d.funding;
        uint256 premium = premiumFor(d.funding, d.amountIn);
        uint256 i = d.tokenIn == tokenA ? 0 : d.tokenIn == tokenB ? 1 : 2;
        uint256[3] memory before = heldAll();
        bool mustRun = d.exact && d.out >= d.amountIn + premium + d.minProfit
            && (d.funding == BALANCER
                || (d.funding == AAVE && d.tokenIn == tokenA)
                || (d.funding == CAPITAL && before[i] >= d.amountIn));

        bytes memory ret;
        (ok, ret) = address(executor).call(runCalldata(d.funding, d.tokenIn, d.amountIn, d.minProfit, d.hops));
        uint256[3] memory after_ = heldAll();
        if (!ok) {
            // A route that earns its premium and minProfit from a funded source must not revert.
            if (mustRun) {
                assembly {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
            for (uint256 j; j < 3; ++j) {
                assertEq(after_[j], before[j], "balance after a revert");
            }
            return (ok, funding);
        }
        for (uint256 j; j < 3; ++j) {
            assertTrue(after_[j] >= before[j], string.concat("token ", toString(j), " fell"));
        }
        assertTrue(after_[i] - before[i] >= d.minProfit, "grew by less than minProfit");
        assertEq(abi.decode(ret, (uint256)), after_[i] - before[i], "returned profit");
        if (d.exact) assertEq(after_[i] - before[i], d.out - d.amountIn - premium, "profit of an exact route");
    }
}
