//! The decoder against the real concentrated-liquidity pools: Uniswap V3 (`@uniswap/v3-core`)
//! and Algebra V1 (`@cryptoalgebra/core`, QuickSwap V3's engine) from their npm bytecode on
//! anvil, deployed and driven by polyarb-tools' `ClmmLab`.
//!
//! Mints, swaps (several blocks, ticks crossed both ways, into negative ticks), partial, full and
//! zero-liquidity burns, and Algebra's adaptive-fee updates are mined while our client listens to
//! one `logs` subscription with every tracked topic0. Oracles:
//! - every frame against the log the node returns from `eth_getLogs`, decoded with alloy's `sol!`
//!   event types (the Uniswap declaration for the V3 pool, the Algebra one for the Algebra pool);
//! - the last swap and fee frames of each pool against the pool's own views (`slot0` or
//!   `globalState`, `liquidity`).

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, I256, U160, U256, aliases::I24};
use alloy_sol_types::{SolCall, SolEvent, sol};
use polyarb_core::{FeedFrame, FrameKind};
use polyarb_feeds::{Decoded, RpcClient, TRACKED_TOPICS, decode};
use polyarb_tools::{
    Case, Clmm, ClmmLab, LabOpts, MAX_SQRT_RATIO, MIN_SQRT_RATIO, PoolKind, PoolState, Position,
    TxRequest, abi::IAlgebraPool, abi::IClmmProbe, abi::IUniswapV3Pool, approx_sqrt_price,
    read_pool_state,
};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(20);

/// `ClmmProbe` pool kinds.
const KIND_V3: u8 = 0;
const KIND_ALGEBRA: u8 = 1;

/// Gas for one mined swap or burn (the npm Algebra build is unoptimised and large).
const GAS: u64 = 30_000_000;

sol! {
    /// `burn` as both pools declare it (same selector; Algebra names the ticks bottom/top).
    interface IBurnable {
        function burn(int24 tickLower, int24 tickUpper, uint128 amount) external returns (uint256 amount0, uint256 amount1);
    }
}

fn i24(v: i32) -> I24 {
    I24::try_from(v).expect("tick fits int24")
}

fn tick_word(t: I24) -> [u8; 32] {
    I256::try_from(t.as_i32())
        .expect("int24 fits int256")
        .to_be_bytes::<32>()
}

fn u256_word(v: U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

fn price_word(p: U160) -> [u8; 32] {
    u256_word(U256::from(p))
}

/// Positions both pools get (spacing 60 divides every tick): one around the start price, one
/// full range, one wholly below and one wholly above it.
const POSITIONS: [(i32, i32, u128); 4] = [
    (-1_200, 1_200, 1_000_000_000_000_000_000_000),
    (-887_220, 887_220, 1_000_000_000_000_000_000),
    (-3_000, -600, 100_000_000_000_000_000_000),
    (600, 6_000, 100_000_000_000_000_000_000),
];

/// Burns after the swaps: part of the central position, a zero-liquidity poke (which V3 and
/// Algebra allow on a live position; it emits `Burn` with amount 0), and the whole upper one.
const BURNS: [(i32, i32, u128); 3] = [
    (-1_200, 1_200, 400_000_000_000_000_000_000),
    (-3_000, -600, 0),
    (600, 6_000, 100_000_000_000_000_000_000),
];

fn swaps() -> Vec<IClmmProbe::SwapStep> {
    let e18 = |n: i64| I256::try_from(n).expect("small") * I256::try_from(10i64.pow(18)).unwrap();
    let step = |zero_for_one: bool, amount: I256, limit: U160| IClmmProbe::SwapStep {
        zeroForOne: zero_for_one,
        amountSpecified: amount,
        sqrtPriceLimitX96: limit,
    };
    vec![
        // Down through -600 and -1200 into negative ticks, stopped by the limit.
        step(true, e18(500), approx_sqrt_price(-2_500.0)),
        // Exact output, back up a little.
        step(false, -e18(100), MAX_SQRT_RATIO - U160::from(1u8)),
        // Up through 600 and 1200.
        step(false, e18(2_000), approx_sqrt_price(3_000.0)),
        // A small exact input the other way.
        step(true, e18(10), MIN_SQRT_RATIO + U160::from(1u8)),
    ]
}

/// Mints, swaps and burns on slot 0's V3 (0.3 %) and Algebra (adaptive fee) pools. Returns the
/// pools and their state right after the swaps (`slot0`/`globalState`, `liquidity`).
fn scenario(lab: &ClmmLab) -> ((Address, PoolState), (Address, PoolState)) {
    let rpc = lab.rpc();
    let d = lab.deployment();
    let positions: Vec<Position> = POSITIONS
        .iter()
        .map(|&(tick_lower, tick_upper, liquidity)| Position {
            tick_lower,
            tick_upper,
            liquidity,
        })
        .collect();
    let setup = |kind: PoolKind| {
        let case = Case {
            kind,
            init_sqrt_price: approx_sqrt_price(30.0),
            positions: positions.clone(),
            swaps: Vec::new(),
        };
        lab.mine_setup(&case, 0)
            .unwrap_or_else(|e| panic!("setup {kind:?}: {e}"))
    };
    let v3 = setup(PoolKind::v3(3000).expect("0.3 % tier"));
    let algebra = setup(PoolKind::Algebra { fee: None });

    for s in swaps() {
        for (kind, pool) in [(KIND_V3, v3), (KIND_ALGEBRA, algebra)] {
            // Time moves so Algebra writes a timepoint (and recomputes its fee) on every swap.
            rpc.increase_time(120).expect("evm_increaseTime");
            let call = IClmmProbe::swapOnceCall {
                kind,
                pool,
                s: s.clone(),
            };
            rpc.transact(&TxRequest::call(d.deployer, d.probe, call.abi_encode()).with_gas(GAS))
                .unwrap_or_else(|e| panic!("swap on {pool}: {e}"));
        }
    }
    let v3_state = read_pool_state(rpc, Clmm::UniswapV3, v3).expect("v3 state");
    let algebra_state = read_pool_state(rpc, Clmm::AlgebraV1, algebra).expect("algebra state");

    // The probe owns the positions: burn as the probe.
    rpc.request("anvil_impersonateAccount", json!([d.probe]))
        .expect("impersonate the probe");
    rpc.set_balance(d.probe, U256::from(10u128.pow(21)))
        .expect("fund the probe");
    for (lo, hi, amount) in BURNS {
        for pool in [v3, algebra] {
            rpc.increase_time(120).expect("evm_increaseTime");
            let call = IBurnable::burnCall {
                tickLower: i24(lo),
                tickUpper: i24(hi),
                amount,
            };
            rpc.transact(&TxRequest::call(d.probe, pool, call.abi_encode()).with_gas(GAS))
                .unwrap_or_else(|e| panic!("burn on {pool}: {e}"));
        }
    }
    ((v3, v3_state), (algebra, algebra_state))
}

/// An event alloy decoded with validation; a log it rejects fails the test.
fn valid<E>(r: alloy_sol_types::Result<E>, log: &Value) -> E {
    r.unwrap_or_else(|e| panic!("alloy rejects {log}: {e}"))
}

fn quantity(v: &Value, name: &str) -> u64 {
    let s = v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

/// The frame a log returned by `eth_getLogs` must give, from alloy's decoding of the log with the
/// event declaration of the pool that emitted it.
fn expected_frame(log: &Value, algebra: Address) -> FeedFrame {
    let address: Address = log["address"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("address");
    let topics: Vec<B256> = log["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| t.as_str().and_then(|t| t.parse().ok()).expect("topic"))
        .collect();
    let data: Bytes = log["data"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("data");
    let mut f = FeedFrame {
        block_number: quantity(log, "blockNumber"),
        log_index: u32::try_from(quantity(log, "logIndex")).expect("u32"),
        tx_index: u32::try_from(quantity(log, "transactionIndex")).expect("u32"),
        removed: u8::from(log["removed"].as_bool().expect("removed")),
        address: address.into_array(),
        // anvil's logs carry their block's timestamp; the frame must too.
        block_time: quantity(log, "blockTimestamp"),
        // And their block's hash: the frame carries its first four bytes, big-endian.
        block_tag: {
            let hash: B256 = log["blockHash"]
                .as_str()
                .and_then(|h| h.parse().ok())
                .expect("blockHash");
            u32::from_be_bytes(hash[..4].try_into().expect("4 bytes"))
        },
        ..FeedFrame::EMPTY
    };
    let is_algebra = address == algebra;
    let t0 = topics[0];
    if t0 == IUniswapV3Pool::Swap::SIGNATURE_HASH {
        let (price, liquidity, tick, (amount0, amount1)) = if is_algebra {
            let e = valid(
                IAlgebraPool::Swap::decode_raw_log_validate(topics, &data),
                log,
            );
            (e.price, e.liquidity, e.tick, (e.amount0, e.amount1))
        } else {
            let e = valid(
                IUniswapV3Pool::Swap::decode_raw_log_validate(topics, &data),
                log,
            );
            (e.sqrtPriceX96, e.liquidity, e.tick, (e.amount0, e.amount1))
        };
        f.kind = FrameKind::ClSwap;
        f.words = [
            price_word(price),
            u256_word(U256::from(liquidity)),
            amount0.to_be_bytes::<32>(),
            amount1.to_be_bytes::<32>(),
        ];
        f.tick = tick.as_i32();
    } else if t0 == IUniswapV3Pool::Mint::SIGNATURE_HASH
        || t0 == IUniswapV3Pool::Burn::SIGNATURE_HASH
    {
        let mint = t0 == IUniswapV3Pool::Mint::SIGNATURE_HASH;
        let (lo, hi, amount) = match (mint, is_algebra) {
            (true, false) => {
                let e = valid(
                    IUniswapV3Pool::Mint::decode_raw_log_validate(topics, &data),
                    log,
                );
                (e.tickLower, e.tickUpper, e.amount)
            }
            (true, true) => {
                let e = valid(
                    IAlgebraPool::Mint::decode_raw_log_validate(topics, &data),
                    log,
                );
                (e.bottomTick, e.topTick, e.liquidityAmount)
            }
            (false, false) => {
                let e = valid(
                    IUniswapV3Pool::Burn::decode_raw_log_validate(topics, &data),
                    log,
                );
                (e.tickLower, e.tickUpper, e.amount)
            }
            (false, true) => {
                let e = valid(
                    IAlgebraPool::Burn::decode_raw_log_validate(topics, &data),
                    log,
                );
                (e.bottomTick, e.topTick, e.liquidityAmount)
            }
        };
        f.kind = if mint {
            FrameKind::ClMint
        } else {
            FrameKind::ClBurn
        };
        f.words[0] = tick_word(lo);
        f.words[1] = tick_word(hi);
        f.words[2] = u256_word(U256::from(amount));
    } else if t0 == IAlgebraPool::Fee::SIGNATURE_HASH {
        assert!(is_algebra, "a Fee log from {address}");
        let e = valid(
            IAlgebraPool::Fee::decode_raw_log_validate(topics, &data),
            log,
        );
        f.kind = FrameKind::AlgebraFee;
        f.words[0] = u256_word(U256::from(e.fee));
    } else {
        panic!("eth_getLogs returned an untracked log {log}");
    }
    f
}

#[test]
fn frames_match_real_v3_and_algebra_logs() {
    let lab = ClmmLab::start_with(LabOpts {
        slots: 1,
        workers: 1,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("clmm lab: {e}"));
    let mut client = RpcClient::connect(&lab.anvil().ws_url(), T).expect("connect");
    client
        .subscribe_logs(&[], &TRACKED_TOPICS)
        .expect("subscribe logs");
    let first_block = lab.rpc().block_number().expect("block number") + 1;

    let ((v3, v3_state), (algebra, algebra_state)) = scenario(&lab);

    let last_block = lab.rpc().block_number().expect("block number");
    let topics: Vec<B256> = TRACKED_TOPICS.iter().map(|t| B256::from(*t)).collect();
    let logs = lab
        .rpc()
        .request(
            "eth_getLogs",
            json!([{
                "fromBlock": format!("{first_block:#x}"),
                "toBlock": format!("{last_block:#x}"),
                "topics": [topics],
            }]),
        )
        .expect("eth_getLogs");
    let want: Vec<FeedFrame> = logs
        .as_array()
        .expect("log list")
        .iter()
        .map(|l| expected_frame(l, algebra))
        .collect();

    let mut got: Vec<FeedFrame> = Vec::new();
    let clock = Instant::now();
    let deadline = clock + T;
    while got.len() < want.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} log frames arrived",
            got.len(),
            want.len()
        );
        client
            .poll(Some(Duration::from_millis(100)), |p| {
                let now = clock.elapsed().as_nanos() as u64 + 1;
                match decode(p, now) {
                    Ok(Decoded::Frame(f)) => {
                        assert_eq!(f.recv_ns, now);
                        got.push(FeedFrame { recv_ns: 0, ..f });
                    }
                    other => panic!("{}: {other:?}", String::from_utf8_lossy(p)),
                }
            })
            .expect("poll");
    }
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "frame {i}");
    }

    // The run covered what it claims: every kind from both pools, negative ticks, the poke.
    let of = |kind: FrameKind, pool: Address| {
        got.iter()
            .filter(move |f| f.kind == kind && f.address == pool.into_array())
    };
    for pool in [v3, algebra] {
        assert_eq!(of(FrameKind::ClMint, pool).count(), POSITIONS.len());
        // Algebra's setup moves its empty pool to the start price with zero-liquidity swaps.
        assert!(of(FrameKind::ClSwap, pool).count() >= swaps().len());
        assert_eq!(of(FrameKind::ClBurn, pool).count(), BURNS.len());
        assert!(of(FrameKind::ClSwap, pool).any(|f| f.tick < -600));
        assert!(of(FrameKind::ClMint, pool).any(|f| f.word_i24(1) == Some(-600)));
        assert!(of(FrameKind::ClBurn, pool).any(|f| f.word_u128(2) == Some(0)));
    }
    assert_eq!(of(FrameKind::AlgebraFee, v3).count(), 0);
    let fees: Vec<u128> = of(FrameKind::AlgebraFee, algebra)
        .filter_map(|f| f.word_u128(0))
        .collect();
    assert!(fees.len() > swaps().len(), "fees {fees:?}");
    assert!(fees.windows(2).any(|w| w[0] != w[1]), "fees {fees:?}");

    // The last swap of each pool left the state its frame reports; Algebra's last fee frame
    // before the burns is the fee in `globalState`.
    let swaps_end = |pool: Address, state: &PoolState| {
        let burns_start = got
            .iter()
            .position(|f| f.kind == FrameKind::ClBurn)
            .expect("burns");
        let last = got[..burns_start]
            .iter()
            .rfind(|f| f.kind == FrameKind::ClSwap && f.address == pool.into_array())
            .expect("a swap");
        assert_eq!(last.words[0], price_word(state.sqrt_price), "{pool}");
        assert_eq!(last.word_u128(1), Some(state.liquidity), "{pool}");
        assert_eq!(last.tick, state.tick, "{pool}");
        burns_start
    };
    swaps_end(v3, &v3_state);
    let burns_start = swaps_end(algebra, &algebra_state);
    let last_fee = got[..burns_start]
        .iter()
        .rfind(|f| f.kind == FrameKind::AlgebraFee)
        .expect("a fee");
    assert_eq!(last_fee.word_u128(0), Some(u128::from(algebra_state.fee)));
    client.close(T).expect("close");
}
