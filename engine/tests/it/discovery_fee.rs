//! Discovery of an Algebra pool's adaptive-fee state, against the chain as the oracle: on anvil
//! with the real npm Algebra bytecode (`ClmmLab`), a pool with days of uneven history (swaps in
//! blocks whose timestamps the test sets, two in the discovery block B), discovery at B, the
//! fee model restored from what it read; then a swap mined at a chosen time t must emit exactly
//! the `Fee(uint16)` that `predict_fee(t, tick, liquidity, volumePerLiquidityInBlock)` gave.
//! Four times: t two seconds, three hours, thirty hours (the newest timepoint then older than
//! the fee's one-day window) and five seconds after B (the newest's predecessor then older than
//! the window: one record is all the walk reads).
//!
//! Besides the fee: every timepoint discovery read equals `timepoints(i)` decoded by alloy,
//! the window cut is where the one-day rule puts it, and `volumePerLiquidityInBlock` (read from
//! storage slot 3, there is no getter) is the sum the pool's `calculateVolumePerLiquidity`
//! gives for the swaps of block B, recomputed from their `Swap` events. Then the faults: an
//! operator whose ring has a hole drops the pool with a reason; `max_timepoints` keeps it
//! without a model.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use alloy_primitives::{Address, B256, I256, U160, U256};
use alloy_sol_types::{SolCall, SolEvent, sol};
use polyarb_core::clmm::algebra_fee::{
    DataStorage, Record, WINDOW, add_volume_in_block, volume_per_liquidity,
};
use polyarb_core::{AlgebraFeeSpec, MarketSpec, PoolSpec, PoolState};
use polyarb_engine::app::discovery::{DiscoveryStats, discover};
use polyarb_engine::config::Config;
use polyarb_engine::snapshot;
use polyarb_feeds::RpcClient;
use polyarb_tools::abi::{IAlgebraPool, IClmmProbe};
use polyarb_tools::{
    Case, ClmmLab, LabOpts, MAX_SQRT_RATIO, MIN_SQRT_RATIO, PoolKind, Position, Receipt, Rpc,
    TxRequest, approx_sqrt_price,
};
use serde_json::json;

sol! {
    /// What the tools' bindings leave out: the pool's view of its operator's ring.
    interface IAlgebraTimepoints {
        function timepoints(uint256 index) external view returns (bool initialized, uint32 blockTimestamp, int56 tickCumulative, uint160 secondsPerLiquidityCumulative, uint88 volatilityCumulative, int24 averageTick, uint144 volumePerLiquidityCumulative);
    }
}

const T: Duration = Duration::from_secs(60);
/// Gas for one swap of the npm (unoptimised) build through the probe.
const SWAP_GAS: u64 = 50_000_000;
/// `ClmmProbe`'s case kind for Algebra.
const KIND_ALGEBRA: u8 = 1;

fn config(lab: &ClmmLab, dex_extra: &str) -> Config {
    let d = lab.deployment();
    let (t0, t1) = d.tokens[0];
    let text = format!(
        r#"
[node]
ws_url = "{ws}"
[gas]
tip_wei = 1
gas_base = 1
gas_per_hop = 1
[search]
native = "A"
start_tokens = ["A"]
[[dexes]]
kind = "algebra"
name = "algebra"
factory = "{alg}"
{dex_extra}
[[tokens]]
symbol = "A"
address = "{t0}"
decimals = 18
[[tokens]]
symbol = "B"
address = "{t1}"
decimals = 18
"#,
        ws = lab.anvil().ws_url(),
        alg = d.algebra_factory,
    );
    Config::parse(&text, Path::new("discovery-fee-test.toml"), &HashMap::new())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn discover_at(lab: &ClmmLab, cfg: &Config, block: u64) -> (MarketSpec, DiscoveryStats) {
    let url = lab.anvil().ws_url();
    let mut rpc = RpcClient::connect(&url, T).unwrap_or_else(|e| panic!("{url}: {e}"));
    rpc.set_timeout(T);
    let out = discover(&mut rpc, cfg, block).unwrap_or_else(|e| panic!("{e}"));
    let _ = rpc.close(Duration::from_secs(5));
    out
}

/// The one Algebra pool of the market, its state and fee model.
fn algebra(m: &MarketSpec) -> (&PoolSpec, &polyarb_core::ClStateSpec) {
    let [p] = &m.pools[..] else {
        panic!("one pool expected: {:?}", m.pools);
    };
    match &p.state {
        PoolState::Algebra(s) => (p, s),
        other => panic!("{other:?}"),
    }
}

fn block_time(rpc: &Rpc, block: u64) -> u64 {
    let b: serde_json::Value = rpc
        .call(
            "eth_getBlockByNumber",
            json!([format!("{block:#x}"), false]),
        )
        .unwrap();
    u64::from_str_radix(
        b["timestamp"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

/// Mines one block at `timestamp` holding `swaps` (zero for one, exact input) on `pool`, in
/// order; returns its number and the receipts.
fn mine_swaps(
    lab: &ClmmLab,
    pool: Address,
    timestamp: u64,
    swaps: &[(bool, u128)],
) -> (u64, Vec<Receipt>) {
    let rpc = lab.rpc();
    let d = lab.deployment();
    rpc.set_automine(false).unwrap();
    let hashes: Vec<B256> = swaps
        .iter()
        .map(|&(zero_for_one, amount)| {
            let call = IClmmProbe::swapOnceCall {
                kind: KIND_ALGEBRA,
                pool,
                s: IClmmProbe::SwapStep {
                    zeroForOne: zero_for_one,
                    amountSpecified: I256::try_from(amount).unwrap(),
                    sqrtPriceLimitX96: if zero_for_one {
                        MIN_SQRT_RATIO + U160::from(1u8)
                    } else {
                        MAX_SQRT_RATIO - U160::from(1u8)
                    },
                },
            };
            rpc.send_transaction(
                &TxRequest::call(d.deployer, d.probe, call.abi_encode()).with_gas(SWAP_GAS),
            )
            .unwrap()
        })
        .collect();
    rpc.request("evm_setNextBlockTimestamp", json!([timestamp]))
        .unwrap();
    rpc.mine().unwrap();
    rpc.set_automine(true).unwrap();
    let receipts = rpc.mined_receipts(&hashes).unwrap();
    let block = receipts[0].block_number;
    assert!(receipts.iter().all(|r| r.block_number == block));
    assert_eq!(block_time(rpc, block), timestamp);
    (block, receipts)
}

/// The `Fee` events `pool` emitted in `receipts`.
fn fees(receipts: &[Receipt], pool: Address) -> Vec<u16> {
    receipts
        .iter()
        .flat_map(|r| &r.events)
        .filter(|l| l.address == pool)
        .filter_map(|l| IAlgebraPool::Fee::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
        .map(|e| e.fee)
        .collect()
}

/// `volumePerLiquidityInBlock` after the swaps in `receipts` (all of one block, the first of
/// them the block's first swap on `pool`): the pool's sum of `calculateVolumePerLiquidity`
/// over them, from each `Swap` event's amounts and the liquidity it ended with.
fn volume_in_block(receipts: &[Receipt], pool: Address) -> u128 {
    receipts
        .iter()
        .flat_map(|r| &r.events)
        .filter(|l| l.address == pool)
        .filter_map(|l| IAlgebraPool::Swap::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
        .fold(0, |sum, s| {
            add_volume_in_block(sum, volume_per_liquidity(s.liquidity, s.amount0, s.amount1))
        })
}

fn timepoint_at(rpc: &Rpc, pool: Address, index: u16, block: u64) -> Record {
    let call = IAlgebraTimepoints::timepointsCall {
        index: U256::from(index),
    };
    let out = rpc
        .eth_call_with_gas(
            None,
            pool,
            &call.abi_encode(),
            30_000_000,
            &format!("{block:#x}"),
        )
        .unwrap();
    let t = IAlgebraTimepoints::timepointsCall::abi_decode_returns(&out).unwrap();
    assert!(t.initialized, "timepoint {index}");
    Record {
        block_timestamp: t.blockTimestamp,
        tick_cumulative: t.tickCumulative.as_i64(),
        volatility_cumulative: t.volatilityCumulative,
        volume_per_liquidity_cumulative: t.volumePerLiquidityCumulative,
    }
}

fn restore(spec: &AlgebraFeeSpec) -> DataStorage {
    // One record more than read: the prediction appends the next write.
    spec.restore(spec.earlier.len() + 2)
        .unwrap_or_else(|e| panic!("restore: {e}"))
}

#[test]
fn algebra_fee_state_is_read_at_b_and_predicts_the_pools_next_fee() {
    let lab = ClmmLab::start_with(LabOpts {
        slots: 1,
        workers: 1,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let rpc = lab.rpc();
    let e18 = 10u128.pow(18);
    let pos = |tick_lower, tick_upper, liquidity| Position {
        tick_lower,
        tick_upper,
        liquidity,
    };
    // The factory's default adaptive configuration (fees 100 to 15,000 pips).
    let setup = Case {
        kind: PoolKind::Algebra { fee: None },
        init_sqrt_price: approx_sqrt_price(0.5),
        positions: vec![pos(-12_000, 12_000, 1_000 * e18), pos(-600, 600, 300 * e18)],
        swaps: Vec::new(),
    };
    let pool = lab.mine_setup(&setup, 0).unwrap_or_else(|e| panic!("{e}"));

    // Days of history at uneven intervals, the price pushed both ways by a few hundred ticks,
    // so the volatility and the window's edge both matter. Seconds after `t0`.
    let t0 = block_time(rpc, rpc.block_number().unwrap()) + 100;
    let history: [(u64, bool, u128); 11] = [
        (0, true, 20 * e18),
        (90, false, 35 * e18),
        (1_000, true, 8 * e18),
        (5_000, true, 30 * e18),
        (20_000, false, 50 * e18),
        (50_000, false, 12 * e18),
        (90_000, true, 40 * e18),
        (100_000, false, 5 * e18),
        (120_000, true, 25 * e18),
        (150_000, false, 60 * e18),
        (170_000, true, 15 * e18),
    ];
    for (dt, zero_for_one, amount) in history {
        mine_swaps(&lab, pool, t0 + dt, &[(zero_for_one, amount)]);
    }
    // Block B: two swaps, so `volumePerLiquidityInBlock` is the sum of two.
    let b_time = t0 + 175_000;
    let (mut b, receipts) = mine_swaps(&lab, pool, b_time, &[(false, 22 * e18), (true, 9 * e18)]);
    let mut expect_volume = volume_in_block(&receipts, pool);
    assert_ne!(expect_volume, 0);

    let cfg = config(&lab, "");
    let mut checked = Vec::new();
    for (round, gap) in [2u64, 3 * 3_600, 30 * 3_600, 5].into_iter().enumerate() {
        let (market, stats) = discover_at(&lab, &cfg, b);
        assert_eq!(
            (
                stats.kept,
                stats.failed,
                stats.fee_models,
                stats.fee_models_capped
            ),
            (1, 0, 1, 0),
            "{stats:?}"
        );
        let (p, s) = algebra(&market);
        assert_eq!(p.address, pool);
        let spec = s.fee_model.as_ref().expect("a fee model");
        let b_time = block_time(rpc, b);

        // Every record is the pool's `timepoints(i)` at B; `earlier` ends at index − 1 and
        // starts at the first record at or before B's time − 1 day (or at timepoint 0).
        let index = spec.timepoint_index;
        let n = spec.earlier.len() as u16;
        assert!(n >= 1);
        for (k, r) in spec.earlier.iter().enumerate() {
            assert_eq!(
                *r,
                timepoint_at(rpc, pool, index - n + k as u16, b),
                "record {k}"
            );
        }
        assert_eq!(
            Record::from(&spec.newest),
            timepoint_at(rpc, pool, index, b)
        );
        assert!(!spec.wrapped);
        assert_eq!(spec.first, Some(timepoint_at(rpc, pool, 0, b)));
        let start = b_time as u32 - WINDOW;
        if n < index {
            assert!(spec.earlier[0].block_timestamp <= start, "{round}");
        }
        if let Some(second) = spec.earlier.get(1) {
            assert!(second.block_timestamp > start, "{round}: read one too many");
        }
        // The discovery block's swaps, as the pool accumulated them.
        assert_eq!(spec.volume_per_liquidity_in_block, expect_volume, "{round}");
        // What discovery wrote is what the snapshot reader takes back.
        let text = snapshot::to_json(&market, Some(137));
        assert_eq!(snapshot::from_json(&text).unwrap().0, market);

        // The oracle: the pool's own fee at the first swap of a block at t.
        let t = b_time + gap;
        let model = restore(spec);
        let predicted = model
            .predict_fee(
                t as u32,
                s.tick,
                s.liquidity,
                spec.volume_per_liquidity_in_block,
            )
            .unwrap_or_else(|e| panic!("{round}: {e}"))
            .expect("a new timestamp writes a timepoint");
        if round == 0 {
            // Two seconds after two swaps the volume moves the fee: the oracle below checks
            // the slot-3 read, not only the timepoints.
            let without = model.predict_fee(t as u32, s.tick, s.liquidity, 0).unwrap();
            assert_ne!(without, Some(predicted));
        }
        let (next, receipts) = mine_swaps(&lab, pool, t, &[(round % 2 == 0, 7 * e18)]);
        assert_eq!(
            fees(&receipts, pool),
            vec![predicted],
            "round {round}, t = B + {gap}"
        );
        assert_eq!(t as u32 - spec.newest.block_timestamp > WINDOW, round == 2);
        checked.push((n, index, predicted));
        b = next;
        expect_volume = volume_in_block(&receipts, pool);
    }
    // Round 0 cut the history (the window reaches back to t0 + 50,000 s, not to the start);
    // the fees moved with the volatility; in round 3 the timepoint before the newest is 30 h
    // old, so it alone was read.
    let (n0, index0, _) = checked[0];
    assert!(n0 + 3 < index0, "{checked:?}");
    assert!(
        checked.iter().any(|&(_, _, fee)| fee > 100),
        "the history is volatile: {checked:?}"
    );
    assert_eq!(checked[3].0, 1, "{checked:?}");

    // A cap below the window: kept, without a model. A cap of 0 reads none at all.
    let (market, stats) = discover_at(&lab, &config(&lab, "max_timepoints = 1"), b);
    assert_eq!(algebra(&market).1.fee_model, None);
    assert_eq!(
        (stats.kept, stats.fee_models, stats.fee_models_capped),
        (1, 0, 1)
    );
    let full = discover_at(&lab, &cfg, b).1.timepoints;
    let (_, stats) = discover_at(&lab, &config(&lab, "max_timepoints = 0"), b);
    assert_eq!(
        (stats.kept, stats.fee_models_capped, stats.timepoints),
        (1, 1, 0)
    );
    assert!(full > 0);

    // An operator that answers what no operator holds: a hole in the ring below the newest.
    // `timepoints` is the operator's first state variable, two slots per timepoint.
    let (market, _) = discover_at(&lab, &cfg, b);
    let spec = algebra(&market).1.fee_model.clone().unwrap();
    let hole = spec.timepoint_index - 1;
    let operator = rpc
        .view(pool, &IAlgebraPool::dataStorageOperatorCall {})
        .unwrap();
    let snap = rpc.snapshot().unwrap();
    rpc.request(
        "anvil_setStorageAt",
        json!([operator, format!("{:#x}", 2 * u64::from(hole)), B256::ZERO]),
    )
    .unwrap();
    rpc.mine().unwrap();
    let head = rpc.block_number().unwrap();
    let call = IAlgebraTimepoints::timepointsCall {
        index: U256::from(hole),
    };
    let out = rpc.eth_call(None, pool, &call.abi_encode()).unwrap();
    let t = IAlgebraTimepoints::timepointsCall::abi_decode_returns(&out).unwrap();
    assert!(!t.initialized, "the slot written is timepoint {hole}'s");
    let (market, stats) = discover_at(&lab, &cfg, head);
    assert!(market.pools.is_empty());
    assert_eq!((stats.kept, stats.failed), (0, 1), "{stats:?}");
    assert!(rpc.revert_to(snap).unwrap());
}
