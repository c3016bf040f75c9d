// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

// A test driver for the REAL Algebra V1 `DataStorageOperator` (npm `@cryptoalgebra/core` 2.0.0
// bytecode, QuickSwap V3's timepoints and adaptive fee). Used by polyarb-core's differential test
// engine/core/tests/algebra_fee.rs to check `polyarb_core::clmm::algebra_fee` exactly.
//
// `run(creationCode, program, outCap)` deploys a fresh operator with this probe as its pool (the
// constructor argument) and as its factory (the deployer), so the probe may call every `onlyPool`
// function and `changeFeeConfiguration`; then it runs a packed program of operations against it
// and returns their packed results. Meant for `eth_call`: nothing is mined, each call starts from
// an empty operator.
//
// Program: operations back to back, each an opcode byte and big-endian fields (signed fields in
// two's complement of their width). Results: per operation a status byte, 1 then the outputs
// listed, or 0 then a 2-byte length and the revert data (at most 256 bytes).
//
//   0x01 CONFIG     alpha1 2, alpha2 2, beta1 4, beta2 4, gamma1 2, gamma2 2, volumeBeta 4,
//                   volumeGamma 2, baseFee 2             -> (nothing)
//   0x02 INIT       time 4, tick 3                       -> (nothing)
//   0x03 WRITE      index 2, time 4, tick 3, liquidity 16, volumePerLiquidity 16
//                                                        -> newIndex 2, timepoints(newIndex) 64
//   0x04 FEE        time 4, tick 3, index 2, liquidity 16  -> fee 2
//   0x05 AVERAGES   time 4, tick 3, index 2, liquidity 16  -> volatility 14, volume 32
//   0x06 TIMEPOINTS time 4, tick 3, index 2, liquidity 16, n 1, secondsAgo 4 * n
//                                                        -> n * (tickCum 7, secPerLiq 20, volatility 14, volume 32)
//   0x07 TIMEPOINT  index 2                              -> timepoint 64
//   0x08 VOLUME     liquidity 16, amount0 32, amount1 32 -> volumePerLiquidity 16
//   0x09 FILL       index 2, time 4, n 4, seed 8, maxDt 4, volMode 1
//                                                        -> index 2, time 4, timepoints(index) 64
//
// A timepoint is 64 bytes: initialized 1, blockTimestamp 4, tickCumulative 7, secondsPerLiquidity
// 20, volatilityCumulative 11, averageTick 3, volumePerLiquidityCumulative 18.
//
// FILL writes n timepoints generated on chain (so a long history costs no calldata), by the
// generator `fillStep` below, which the test repeats: the same 64-bit LCG steps give each write's
// time increment, tick, liquidity and volume.
//
// Not a protocol contract: only the operator's interface is declared here.

struct FeeProbeConfig {
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

/// Algebra V1 `IDataStorageOperator`, the functions the probe calls (signatures as in the npm ABI).
interface IFeeProbeOperator {
    function initialize(uint32 time, int24 tick) external;
    function changeFeeConfiguration(FeeProbeConfig calldata feeConfig) external;
    function write(uint16 index, uint32 blockTimestamp, int24 tick, uint128 liquidity, uint128 volumePerLiquidity)
        external
        returns (uint16 indexUpdated);
    function getFee(uint32 time, int24 tick, uint16 index, uint128 liquidity) external view returns (uint16 fee);
    function getAverages(uint32 time, int24 tick, uint16 index, uint128 liquidity)
        external
        view
        returns (uint112 volatility, uint256 volumePerLiquidity);
    function getTimepoints(uint32 time, uint32[] memory secondsAgos, int24 tick, uint16 index, uint128 liquidity)
        external
        view
        returns (int56[] memory, uint160[] memory, uint112[] memory, uint256[] memory);
    function timepoints(uint256 index)
        external
        view
        returns (bool, uint32, int56, uint160, uint88, int24, uint144);
    function calculateVolumePerLiquidity(uint128 liquidity, int256 amount0, int256 amount1)
        external
        pure
        returns (uint128);
}

contract AlgebraFeeProbe {
    uint256 internal constant MAX_REVERT = 256;

    error DeployFailed();
    error BadOpcode(uint8 op, uint256 at);
    error OutputFull(uint256 at);

    /// Output buffer: `buf` is a bytes array allocated with room for `cap` bytes plus a word.
    struct Out {
        bytes buf;
        uint256 len;
        uint256 cap;
    }

    function run(bytes calldata creationCode, bytes calldata program, uint256 outCap)
        external
        returns (address operator, bytes memory out)
    {
        operator = deploy(creationCode);
        IFeeProbeOperator op = IFeeProbeOperator(operator);
        Out memory o = Out(new bytes(outCap + 32), 0, outCap);
        uint256 at = 0;
        while (at < program.length) {
            uint8 code = uint8(program[at]);
            at += 1;
            if (code == 0x01) {
                at = opConfig(op, program, at, o);
            } else if (code == 0x02) {
                try op.initialize(uint32(rd(program, at, 4)), int24(int256(sx(rd(program, at + 4, 3), 24)))) {
                    ok(o);
                } catch (bytes memory reason) {
                    fail(o, reason);
                }
                at += 7;
            } else if (code == 0x03) {
                at = opWrite(op, program, at, o);
            } else if (code == 0x04) {
                at = opFee(op, program, at, o);
            } else if (code == 0x05) {
                at = opAverages(op, program, at, o);
            } else if (code == 0x06) {
                at = opTimepoints(op, program, at, o);
            } else if (code == 0x07) {
                ok(o);
                putTimepoint(op, uint16(rd(program, at, 2)), o);
                at += 2;
            } else if (code == 0x08) {
                at = opVolume(op, program, at, o);
            } else if (code == 0x09) {
                at = opFill(op, program, at, o);
            } else {
                revert BadOpcode(code, at - 1);
            }
        }
        out = o.buf;
        uint256 len = o.len;
        assembly {
            mstore(out, len)
        }
    }

    function deploy(bytes calldata creationCode) internal returns (address operator) {
        bytes memory init = bytes.concat(creationCode, abi.encode(address(this)));
        assembly {
            operator := create(0, add(init, 32), mload(init))
        }
        if (operator == address(0)) revert DeployFailed();
    }

    function opConfig(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal returns (uint256) {
        FeeProbeConfig memory c = FeeProbeConfig(
            uint16(rd(p, at, 2)),
            uint16(rd(p, at + 2, 2)),
            uint32(rd(p, at + 4, 4)),
            uint32(rd(p, at + 8, 4)),
            uint16(rd(p, at + 12, 2)),
            uint16(rd(p, at + 14, 2)),
            uint32(rd(p, at + 16, 4)),
            uint16(rd(p, at + 20, 2)),
            uint16(rd(p, at + 22, 2))
        );
        try op.changeFeeConfiguration(c) {
            ok(o);
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 24;
    }

    function opWrite(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal returns (uint256) {
        try op.write(
            uint16(rd(p, at, 2)),
            uint32(rd(p, at + 2, 4)),
            int24(int256(sx(rd(p, at + 6, 3), 24))),
            uint128(rd(p, at + 9, 16)),
            uint128(rd(p, at + 25, 16))
        ) returns (uint16 index) {
            ok(o);
            put(o, index, 2);
            putTimepoint(op, index, o);
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 41;
    }

    function opFee(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal view returns (uint256) {
        try op.getFee(
            uint32(rd(p, at, 4)), int24(int256(sx(rd(p, at + 4, 3), 24))), uint16(rd(p, at + 7, 2)), uint128(rd(p, at + 9, 16))
        ) returns (uint16 fee) {
            ok(o);
            put(o, fee, 2);
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 25;
    }

    function opAverages(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal view returns (uint256) {
        try op.getAverages(
            uint32(rd(p, at, 4)), int24(int256(sx(rd(p, at + 4, 3), 24))), uint16(rd(p, at + 7, 2)), uint128(rd(p, at + 9, 16))
        ) returns (uint112 volatility, uint256 volume) {
            ok(o);
            put(o, volatility, 14);
            put(o, volume, 32);
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 25;
    }

    function opTimepoints(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal view returns (uint256) {
        uint256 n = rd(p, at + 25, 1);
        uint32[] memory ago = new uint32[](n);
        for (uint256 i = 0; i < n; i++) {
            ago[i] = uint32(rd(p, at + 26 + 4 * i, 4));
        }
        try op.getTimepoints(
            uint32(rd(p, at, 4)), ago, int24(int256(sx(rd(p, at + 4, 3), 24))), uint16(rd(p, at + 7, 2)), uint128(rd(p, at + 9, 16))
        ) returns (int56[] memory tc, uint160[] memory spl, uint112[] memory vol, uint256[] memory vpl) {
            ok(o);
            for (uint256 i = 0; i < n; i++) {
                put(o, uint256(int256(tc[i])), 7);
                put(o, spl[i], 20);
                put(o, vol[i], 14);
                put(o, vpl[i], 32);
            }
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 26 + 4 * n;
    }

    function opVolume(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal pure returns (uint256) {
        try op.calculateVolumePerLiquidity(uint128(rd(p, at, 16)), int256(rd(p, at + 16, 32)), int256(rd(p, at + 48, 32)))
        returns (uint128 v) {
            ok(o);
            put(o, v, 16);
        } catch (bytes memory reason) {
            fail(o, reason);
        }
        return at + 80;
    }

    struct Fill {
        uint16 index;
        uint32 time;
        uint64 seed;
        uint32 maxDt;
        uint8 volMode;
    }

    function opFill(IFeeProbeOperator op, bytes calldata p, uint256 at, Out memory o) internal returns (uint256) {
        Fill memory f = Fill(
            uint16(rd(p, at, 2)), uint32(rd(p, at + 2, 4)), uint64(rd(p, at + 10, 8)), uint32(rd(p, at + 18, 4)), uint8(rd(p, at + 22, 1))
        );
        uint256 n = rd(p, at + 6, 4);
        for (uint256 i = 0; i < n; i++) {
            (bool good, bytes memory reason) = fillOne(op, f);
            if (!good) {
                fail(o, reason);
                return at + 23;
            }
        }
        ok(o);
        put(o, f.index, 2);
        put(o, f.time, 4);
        putTimepoint(op, f.index, o);
        return at + 23;
    }

    function fillOne(IFeeProbeOperator op, Fill memory f) internal returns (bool, bytes memory) {
        (uint64 seed, uint32 dt, int24 tick, uint128 liquidity, uint128 volume) = fillStep(f.seed, f.maxDt, f.volMode);
        f.seed = seed;
        unchecked {
            f.time += dt;
        }
        try op.write(f.index, f.time, tick, liquidity, volume) returns (uint16 next) {
            f.index = next;
            return (true, "");
        } catch (bytes memory reason) {
            return (false, reason);
        }
    }

    /// One FILL write: four LCG steps (`s = s * 6364136223846793005 + 1442695040888963407` mod
    /// 2^64) give, in order, the time increment `1 + (s >> 33) % maxDt`, the tick
    /// `(s >> 11) % 1774545 - 887272`, the liquidity `(s · 2^64 | s ^ (s >> 29)) >> (s >> 57)` and
    /// the volume: like the liquidity for volMode 0, `type(uint128).max` for volMode 1.
    function fillStep(uint64 s, uint32 maxDt, uint8 volMode)
        internal
        pure
        returns (uint64, uint32 dt, int24 tick, uint128 liquidity, uint128 volume)
    {
        unchecked {
            s = s * 6364136223846793005 + 1442695040888963407;
            dt = uint32(1 + (s >> 33) % maxDt);
            s = s * 6364136223846793005 + 1442695040888963407;
            tick = int24(int64((s >> 11) % 1774545) - 887272);
            s = s * 6364136223846793005 + 1442695040888963407;
            liquidity = ((uint128(s) << 64) | uint128(s ^ (s >> 29))) >> (s >> 57);
            s = s * 6364136223846793005 + 1442695040888963407;
            volume = volMode == 1 ? type(uint128).max : ((uint128(s) << 64) | uint128(s ^ (s >> 29))) >> (s >> 57);
        }
        return (s, dt, tick, liquidity, volume);
    }

    function putTimepoint(IFeeProbeOperator op, uint16 index, Out memory o) internal view {
        (bool init, uint32 ts, int56 tc, uint160 spl, uint88 vol, int24 avg, uint144 vpl) = op.timepoints(index);
        put(o, init ? 1 : 0, 1);
        put(o, ts, 4);
        // Two's complement on purpose: `put` keeps the low bytes, the width of the signed type.
        // forge-lint: disable-next-line(unsafe-typecast)
        put(o, uint256(int256(tc)), 7);
        put(o, spl, 20);
        put(o, vol, 11);
        // forge-lint: disable-next-line(unsafe-typecast)
        put(o, uint256(int256(avg)), 3);
        put(o, vpl, 18);
    }

    /// `n` big-endian bytes at `at`.
    function rd(bytes calldata p, uint256 at, uint256 n) internal pure returns (uint256 v) {
        if (at + n > p.length) revert BadOpcode(0, at);
        assembly {
            v := shr(sub(256, mul(n, 8)), calldataload(add(p.offset, at)))
        }
    }

    /// Sign-extends the low `bits` bits of `v`.
    function sx(uint256 v, uint256 bits) internal pure returns (uint256 r) {
        assembly {
            r := signextend(sub(div(bits, 8), 1), v)
        }
    }

    function ok(Out memory o) internal pure {
        put(o, 1, 1);
    }

    function fail(Out memory o, bytes memory reason) internal pure {
        uint256 n = reason.length > MAX_REVERT ? MAX_REVERT : reason.length;
        put(o, 0, 1);
        put(o, n, 2);
        for (uint256 i = 0; i < n; i++) {
            put(o, uint8(reason[i]), 1);
        }
    }

    /// Appends the low `n` bytes of `v`, big-endian. The buffer has a spare word, so the
    /// 32-byte store never reaches past it.
    function put(Out memory o, uint256 v, uint256 n) internal pure {
        uint256 len = o.len;
        if (len + n > o.cap) revert OutputFull(len);
        bytes memory buf = o.buf;
        assembly {
            let at := add(add(buf, 32), len)
            mstore(at, shl(sub(256, mul(n, 8)), v))
        }
        o.len = len + n;
    }
}
