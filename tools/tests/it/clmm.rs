//! The CLMM lab on the real Uniswap V3 and Algebra V1 bytecode: its batch results are what the
//! pools do when the same steps are mined, rejections come back as failures, and the state reader
//! sees exactly the positions that were minted.
//!
//! `POLYARB_LONG=1` runs the big version of the random comparison (10,000 swaps in batches, a
//! sample of cases also mined).

use std::collections::BTreeMap;

use alloy_primitives::{I256, U160, U256};
use polyarb_tools::{
    Case, CaseResult, CaseShape, Clmm, ClmmLab, LabError, LabOpts, MAX_SQRT_RATIO, MIN_SQRT_RATIO,
    PoolKind, Position, SplitMix64, Swap, TickLiquidity, V3_FEE_TIERS, Words, approx_sqrt_price,
    random_case, random_kind, read_pool, read_pool_state,
};

fn long_mode() -> bool {
    std::env::var_os("POLYARB_LONG").is_some_and(|v| v == "1")
}

fn lab(slots: usize) -> ClmmLab {
    ClmmLab::start_with(LabOpts {
        slots,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn exact_in(x: u128) -> I256 {
    I256::try_from(x).unwrap()
}

fn exact_out(x: u128) -> I256 {
    -I256::try_from(x).unwrap()
}

fn one() -> U160 {
    U160::from(1u8)
}

/// Every V3 tier and Algebra with a few constant fees.
fn all_kinds() -> Vec<PoolKind> {
    let mut kinds: Vec<PoolKind> = V3_FEE_TIERS
        .iter()
        .map(|&(fee, spacing)| PoolKind::UniswapV3 { fee, spacing })
        .collect();
    kinds.extend([0, 500, 3000, 17_000].map(|f| PoolKind::Algebra { fee: Some(f) }));
    kinds
}

/// A case that crosses ticks both ways, runs into the price limit, asks for exact output and
/// includes a rejected swap.
fn crossing_case(kind: PoolKind) -> Case {
    let s = kind.tick_spacing();
    let e18 = 10u128.pow(18);
    Case {
        kind,
        init_sqrt_price: approx_sqrt_price(f64::from(7 * s) + 0.3),
        positions: vec![
            Position {
                tick_lower: -40 * s,
                tick_upper: 40 * s,
                liquidity: 3 * e18,
            },
            Position {
                tick_lower: -5 * s,
                tick_upper: 12 * s,
                liquidity: 50 * e18,
            },
            Position {
                tick_lower: 12 * s,
                tick_upper: 300 * s,
                liquidity: e18 / 7,
            },
        ],
        swaps: vec![
            Swap {
                zero_for_one: false,
                amount_specified: exact_in(40 * e18),
                sqrt_price_limit: MAX_SQRT_RATIO - one(),
            },
            Swap {
                zero_for_one: true,
                amount_specified: exact_out(90 * e18),
                sqrt_price_limit: approx_sqrt_price(f64::from(-20 * s)),
            },
            // The price is now below the start: a limit above it is on the wrong side.
            Swap {
                zero_for_one: true,
                amount_specified: exact_in(e18),
                sqrt_price_limit: approx_sqrt_price(f64::from(1_000 * s)),
            },
            Swap {
                zero_for_one: true,
                amount_specified: exact_in(10u128.pow(30)),
                sqrt_price_limit: MIN_SQRT_RATIO + one(),
            },
            Swap {
                zero_for_one: false,
                amount_specified: exact_out(e18 / 3),
                sqrt_price_limit: MAX_SQRT_RATIO - one(),
            },
        ],
    }
}

/// Checks a batch result against the same case mined as transactions and observed only through
/// the pool's views and token balances. Returns the number of successful swaps compared.
fn assert_batch_matches_mined(lab: &ClmmLab, case: &Case, batch: &CaseResult, what: &str) -> usize {
    let mined = lab.run_mined(case);
    let run = match (batch, mined) {
        (Err(batch_revert), Err(LabError::Setup(mined_revert))) => {
            assert_eq!(batch_revert, &mined_revert, "{what}: setup reverts differ");
            return 0;
        }
        (Ok(run), Ok(mined)) => {
            assert_eq!(run.start, mined.start, "{what}: start state");
            assert_eq!(run.swaps.len(), mined.swaps.len(), "{what}");
            (run, mined)
        }
        (batch, mined) => panic!("{what}: batch {batch:?} but mined {mined:?}"),
    };
    let (run, mined) = run;
    let mut compared = 0;
    for (i, (b, m)) in run.swaps.iter().zip(&mined.swaps).enumerate() {
        match (&b.outcome, &m.outcome) {
            (Ok(amounts), Ok(())) => {
                assert_eq!(
                    (amounts.amount0, amounts.amount1),
                    (m.balance_delta0, m.balance_delta1),
                    "{what}: swap {i} amounts vs the pool's balance changes"
                );
                compared += 1;
            }
            (Err(b_revert), Err(m_revert)) => {
                assert_eq!(b_revert, m_revert, "{what}: swap {i} revert data");
                assert_eq!(
                    (m.balance_delta0, m.balance_delta1),
                    (I256::ZERO, I256::ZERO),
                    "{what}: swap {i} reverted but balances moved"
                );
                assert_eq!(
                    b.after, b.before,
                    "{what}: swap {i} reverted but state moved"
                );
            }
            (b, m) => panic!("{what}: swap {i}: batch {b:?}, mined {m:?}"),
        }
        assert_eq!(b.after, m.after, "{what}: swap {i} state after");
    }
    compared
}

#[test]
fn batch_results_match_the_same_swaps_mined() {
    let lab = lab(8);
    let mut rng = SplitMix64::new(0xC1A0);
    let mut cases: Vec<Case> = all_kinds().into_iter().map(crossing_case).collect();
    for kind in all_kinds() {
        cases.push(random_case(&mut rng, kind, CaseShape::default()));
    }
    let results = lab.run(&cases).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), cases.len());
    let mut compared = 0;
    for (i, (case, result)) in cases.iter().zip(&results).enumerate() {
        compared +=
            assert_batch_matches_mined(&lab, case, result, &format!("case {i} {:?}", case.kind));
    }
    // The hand-made cases alone have four successful swaps each.
    assert!(compared >= 4 * all_kinds().len(), "{compared}");
    // Batches changed nothing on chain: the same cases give the same results again.
    assert_eq!(lab.run(&cases).unwrap(), results);
}

#[test]
fn rejected_swaps_are_failures_and_the_batch_goes_on() {
    let lab = lab(4);
    let e18 = 10u128.pow(18);
    for kind in [
        PoolKind::v3(500).unwrap(),
        PoolKind::Algebra { fee: Some(800) },
    ] {
        let s = kind.tick_spacing();
        let price = approx_sqrt_price(0.5);
        let good = Swap {
            zero_for_one: true,
            amount_specified: exact_in(e18),
            sqrt_price_limit: MIN_SQRT_RATIO + one(),
        };
        let swaps_case = Case {
            kind,
            init_sqrt_price: price,
            positions: vec![Position {
                tick_lower: -100 * s,
                tick_upper: 100 * s,
                liquidity: 1_000 * e18,
            }],
            swaps: vec![
                // Selling token0 with a limit above the price.
                Swap {
                    sqrt_price_limit: price + U160::from(1_000u32),
                    ..good
                },
                // Nothing to swap.
                Swap {
                    amount_specified: I256::ZERO,
                    ..good
                },
                // A limit outside TickMath's range.
                Swap {
                    sqrt_price_limit: MIN_SQRT_RATIO,
                    ..good
                },
                good,
            ],
        };
        // A position whose bound is not on the spacing: the mint reverts, so the whole case.
        let bad_setup = Case {
            positions: vec![Position {
                tick_lower: -s - 1,
                tick_upper: s,
                liquidity: e18,
            }],
            ..swaps_case.clone()
        };
        let results = lab
            .run(&[bad_setup, swaps_case.clone(), swaps_case.clone()])
            .unwrap_or_else(|e| panic!("{e}"));
        let setup_revert = results[0].as_ref().expect_err("unspaced tick was accepted");
        if matches!(kind, PoolKind::Algebra { .. }) {
            assert_eq!(setup_revert.reason().as_deref(), Some("tick is not spaced"));
        }
        for run in [&results[1], &results[2]] {
            let run = run.as_ref().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            let reasons: Vec<Option<String>> = run
                .swaps
                .iter()
                .map(|s| s.outcome.as_ref().err().and_then(|r| r.reason()))
                .collect();
            assert_eq!(
                reasons,
                [Some("SPL"), Some("AS"), Some("SPL"), None].map(|r| r.map(str::to_owned)),
                "{kind:?}"
            );
            // Failed swaps leave the pool as it was; the last one runs from the start state.
            for s in &run.swaps[..3] {
                assert_eq!((s.before, s.after), (run.start, run.start), "{kind:?}");
            }
            let last = &run.swaps[3];
            let amounts = last.outcome.as_ref().unwrap();
            assert!(amounts.amount0 > I256::ZERO && amounts.amount1 < I256::ZERO);
            assert!(last.after.sqrt_price < run.start.sqrt_price);
        }
        // The same case twice in one batch ran on two pools from the same start.
        assert_eq!(
            results[1].as_ref().unwrap().swaps,
            results[2].as_ref().unwrap().swaps
        );
        assert_ne!(
            results[1].as_ref().unwrap().pool,
            results[2].as_ref().unwrap().pool
        );
        assert_batch_matches_mined(&lab, &swaps_case, &results[1], &format!("{kind:?}"));
    }
}

#[test]
fn algebra_constant_fee_is_the_fee_every_swap_sees() {
    let lab = lab(6);
    let fees = [0u16, 1, 100, 2_999, 30_000, 65_535];
    let cases: Vec<Case> = fees
        .iter()
        .map(|&f| {
            let mut case = crossing_case(PoolKind::Algebra { fee: Some(f) });
            // First a small exact-input swap that stays within the liquidity.
            case.swaps.insert(
                0,
                Swap {
                    zero_for_one: false,
                    amount_specified: exact_in(10u128.pow(15)),
                    sqrt_price_limit: MAX_SQRT_RATIO - one(),
                },
            );
            case
        })
        .collect();
    let results = lab.run(&cases).unwrap_or_else(|e| panic!("{e}"));
    for (&fee, result) in fees.iter().zip(&results) {
        let run = result.as_ref().unwrap_or_else(|e| panic!("fee {fee}: {e}"));
        assert_eq!(run.start.fee, u32::from(fee));
        for s in &run.swaps {
            assert_eq!(
                (s.before.fee, s.after.fee),
                (u32::from(fee), u32::from(fee))
            );
        }
    }
    // An exact-input swap pays more output at a lower fee: the fee reaches the swap math.
    let first_out = |r: &CaseResult| {
        r.as_ref().unwrap().swaps[0]
            .outcome
            .as_ref()
            .unwrap()
            .amount0
    };
    for pair in results.windows(2) {
        assert!(
            first_out(&pair[0]) < first_out(&pair[1]),
            "outputs are negative"
        );
    }
}

/// Ticks and active liquidity implied by `positions` at `tick`, computed from the positions alone.
fn expected_ticks(positions: &[Position]) -> Vec<TickLiquidity> {
    let mut ticks: BTreeMap<i32, (u128, i128)> = BTreeMap::new();
    for p in positions {
        let l = p.liquidity;
        let lower = ticks.entry(p.tick_lower).or_default();
        *lower = (lower.0 + l, lower.1 + l as i128);
        let upper = ticks.entry(p.tick_upper).or_default();
        *upper = (upper.0 + l, upper.1 - l as i128);
    }
    ticks
        .into_iter()
        .map(|(tick, (liquidity_gross, liquidity_net))| TickLiquidity {
            tick,
            liquidity_gross,
            liquidity_net,
        })
        .collect()
}

fn active_liquidity(positions: &[Position], tick: i32) -> u128 {
    positions
        .iter()
        .filter(|p| p.tick_lower <= tick && tick < p.tick_upper)
        .map(|p| p.liquidity)
        .sum()
}

#[test]
fn state_reader_sees_exactly_the_minted_positions() {
    let lab = lab(2);
    let rpc = lab.rpc();
    for kind in [
        PoolKind::v3(100).unwrap(),
        PoolKind::v3(10_000).unwrap(),
        PoolKind::Algebra { fee: Some(450) },
    ] {
        let s = kind.tick_spacing();
        // Bounds in several words on both sides of zero (a word is 256 spacings), shared bounds,
        // one position ending where another starts, and one at the ends of the tick range.
        let word = 256 * s;
        let lo_end = -887_272 - (-887_272i32).rem_euclid(s) + s;
        let positions = vec![
            Position {
                tick_lower: -3 * word - 5 * s,
                tick_upper: 2 * word + 7 * s,
                liquidity: 11,
            },
            Position {
                tick_lower: -3 * word - 5 * s,
                tick_upper: -s,
                liquidity: 1_000_003,
            },
            Position {
                tick_lower: -s,
                tick_upper: 17 * s,
                liquidity: 10u128.pow(21),
            },
            Position {
                tick_lower: 17 * s,
                tick_upper: 2 * word + 7 * s,
                liquidity: 5,
            },
            Position {
                tick_lower: -word,
                tick_upper: word - s,
                liquidity: 777,
            },
            Position {
                tick_lower: lo_end,
                tick_upper: -lo_end,
                liquidity: 2,
            },
        ];
        let case = Case {
            kind,
            init_sqrt_price: approx_sqrt_price(f64::from(3 * s) + 0.5),
            positions: positions.clone(),
            swaps: Vec::new(),
        };
        let snapshot = rpc.snapshot().unwrap();
        let pool = lab
            .mine_setup(&case, 1)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let all =
            read_pool(rpc, pool, kind.protocol(), Words::All).unwrap_or_else(|e| panic!("{e}"));
        let expected = expected_ticks(&positions);
        assert_eq!(all.ticks, expected, "{kind:?}");
        assert_eq!(all.tick_spacing, s);
        let state = read_pool_state(rpc, kind.protocol(), pool).unwrap();
        assert_eq!(
            (all.sqrt_price, all.tick, all.liquidity, all.fee),
            (state.sqrt_price, state.tick, state.liquidity, state.fee)
        );
        assert_eq!(
            all.liquidity,
            active_liquidity(&positions, all.tick),
            "{kind:?}"
        );
        if let PoolKind::Algebra { fee: Some(f) } = kind {
            assert_eq!(all.fee, u32::from(f));
        }
        // Fewer words: only the ticks in them.
        let near = read_pool(rpc, pool, kind.protocol(), Words::AroundCurrent(1)).unwrap();
        assert_eq!(near.words, -1..=1);
        let in_range: Vec<TickLiquidity> = expected
            .iter()
            .copied()
            .filter(|t| (-word..2 * word).contains(&t.tick))
            .collect();
        assert_eq!(near.ticks, in_range, "{kind:?}");
        assert!(rpc.revert_to(snapshot).unwrap());
        // The batch path reports the same ticks for the same case.
        let batch = lab.run(&[case]).unwrap().remove(0).unwrap();
        assert_eq!(batch.ticks, expected, "{kind:?}");
    }
}

#[test]
fn npm_algebra_build_is_patched_to_be_consistent() {
    let lab = lab(1);
    let d = lab.deployment();
    // The npm factory carries QuickSwap's hash, the npm pool deployer another pool build: the lab
    // had to replace the constant, and pools then work (they were initialized at creation).
    assert_eq!(
        d.algebra_factory_patched,
        Some(polyarb_tools::ALGEBRA_V1_POOL_INIT_CODE_HASH)
    );
    assert_ne!(
        d.algebra_pool_code_hash,
        polyarb_tools::ALGEBRA_V1_POOL_INIT_CODE_HASH
    );
    let state = read_pool_state(lab.rpc(), Clmm::AlgebraV1, d.algebra_pools[0]).unwrap();
    assert_ne!(state.sqrt_price, U160::ZERO);
}

#[test]
fn bad_cases_are_errors_before_anything_runs() {
    let lab = lab(1);
    let mut case = crossing_case(PoolKind::v3(3000).unwrap());
    case.kind = PoolKind::UniswapV3 {
        fee: 3000,
        spacing: 10,
    };
    let err = lab
        .run(&[crossing_case(PoolKind::v3(500).unwrap()), case])
        .unwrap_err();
    assert!(matches!(err, LabError::Case { index: 1, .. }), "{err}");
    let mut case = crossing_case(PoolKind::v3(3000).unwrap());
    case.positions[0].tick_upper = 1 << 23;
    let err = lab.run(&[case]).unwrap_err().to_string();
    assert_eq!(err, "case 0: tick_upper 8388608 does not fit int24");
}

#[test]
fn random_swaps_in_batches_match_a_mined_sample() {
    let (target, mine_every) = if long_mode() { (10_000, 50) } else { (400, 10) };
    let lab = lab(32);
    let mut rng = SplitMix64::new(0x5EED_C1AA);
    let mut cases = Vec::new();
    let mut swaps = 0;
    while swaps < target {
        let kind = random_kind(&mut rng);
        let case = random_case(&mut rng, kind, CaseShape::default());
        swaps += case.swaps.len();
        cases.push(case);
    }
    let start = std::time::Instant::now();
    let results = lab.run(&cases).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = start.elapsed();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut ok = 0;
    for r in &results {
        match r {
            Err(e) => *reasons.entry(format!("case {e}")).or_default() += 1,
            Ok(run) => {
                for s in &run.swaps {
                    match &s.outcome {
                        Ok(_) => ok += 1,
                        Err(e) => *reasons.entry(format!("swap {e}")).or_default() += 1,
                    }
                }
            }
        }
    }
    // A report, not a pass/fail criterion.
    println!(
        "{} cases, {swaps} swaps ({ok} succeeded) in {:.1} s: {:.0} swaps/s; failures {reasons:?}",
        cases.len(),
        elapsed.as_secs_f64(),
        swaps as f64 / elapsed.as_secs_f64()
    );
    assert!(
        ok * 2 > swaps,
        "most random swaps should succeed: {ok} of {swaps}"
    );
    let mut compared = 0;
    for (i, (case, result)) in cases.iter().zip(&results).enumerate().step_by(mine_every) {
        // Mined one swap per block, an adaptive Algebra fee moves with each block's volatility
        // (the batch runs in one block): only constant fees are comparable.
        if case.kind != (PoolKind::Algebra { fee: None }) {
            compared += assert_batch_matches_mined(&lab, case, result, &format!("case {i}"));
        }
    }
    assert!(compared > 0);
    // Nothing stayed on chain: the probe still holds every token of slot 0.
    let (t0, t1) = lab.deployment().tokens[0];
    for t in [t0, t1] {
        assert_eq!(
            lab.rpc().balance_of(t, lab.deployment().probe).unwrap(),
            U256::MAX
        );
    }
}

/// Compares the npm Algebra build with another build of Algebra V1: `POLYARB_ALGEBRA_BUILD` names
/// a folder with `AlgebraFactory.json`, `AlgebraPoolDeployer.json` and `AlgebraPool.json` (creation
/// `bytecode` in each). Every random Algebra case must give the same results on both. Opt-in
/// because that other build is not shipped (docs/algebra.md says how it was checked).
#[test]
#[ignore = "needs POLYARB_ALGEBRA_BUILD, a folder with another Algebra V1 build"]
fn npm_algebra_build_behaves_like_another_build() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("POLYARB_ALGEBRA_BUILD").expect("POLYARB_ALGEBRA_BUILD is not set"),
    );
    let other = ClmmLab::start_with(LabOpts {
        algebra: polyarb_tools::AlgebraBuild::Artifacts {
            factory: dir.join("AlgebraFactory.json"),
            pool_deployer: dir.join("AlgebraPoolDeployer.json"),
            pool: dir.join("AlgebraPool.json"),
        },
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let npm = lab(32);
    println!(
        "other build: pool code hash {}, factory patched: {:?}",
        other.deployment().algebra_pool_code_hash,
        other.deployment().algebra_factory_patched
    );
    let target = if long_mode() { 10_000 } else { 1_000 };
    let mut rng = SplitMix64::new(0x0A16_EB2A);
    let (mut cases, mut swaps) = (Vec::new(), 0);
    while swaps < target {
        let fee = match rng.below(4) {
            0 => None,
            _ => Some(rng.below(30_001) as u16),
        };
        let case = random_case(&mut rng, PoolKind::Algebra { fee }, CaseShape::default());
        swaps += case.swaps.len();
        cases.push(case);
    }
    let strip = |mut r: Vec<CaseResult>| {
        for run in r.iter_mut().flatten() {
            run.pool = alloy_primitives::Address::ZERO;
        }
        r
    };
    let a = strip(npm.run(&cases).unwrap_or_else(|e| panic!("{e}")));
    let b = strip(other.run(&cases).unwrap_or_else(|e| panic!("{e}")));
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a, b, "case {i}: {:?}", cases[i]);
    }
    let ok: usize = a
        .iter()
        .flatten()
        .map(|r| r.swaps.iter().filter(|s| s.outcome.is_ok()).count())
        .sum();
    println!(
        "{} cases, {swaps} swaps ({ok} succeeded): identical",
        cases.len()
    );
}

/// Storage slots, for readers that use `eth_getStorageAt` instead of view calls: checked against
/// the pools' own views after a mined setup. V3: slot 0 `slot0`, 4 `liquidity`, 5 `ticks`,
/// 6 `tickBitmap`. Algebra V1: 2 `globalState`, 3 `liquidity` (low 128 bits), 5 `ticks`,
/// 6 `tickTable`.
#[test]
fn storage_layout_matches_the_views() {
    use alloy_primitives::{B256, keccak256};
    use polyarb_tools::tick_word;

    fn slot(lab: &ClmmLab, pool: alloy_primitives::Address, slot: U256) -> U256 {
        let word: B256 = lab
            .rpc()
            .call(
                "eth_getStorageAt",
                serde_json::json!([pool, slot, "latest"]),
            )
            .unwrap();
        U256::from_be_bytes(word.0)
    }
    /// `keccak256(abi.encode(key, base))` with a signed key sign-extended to 32 bytes.
    fn mapping(key: i64, base: u64) -> U256 {
        let mut buf = [0u8; 64];
        let k = I256::try_from(key).unwrap().into_raw().to_be_bytes::<32>();
        buf[..32].copy_from_slice(&k);
        buf[32..].copy_from_slice(&U256::from(base).to_be_bytes::<32>());
        U256::from_be_bytes(keccak256(buf).0)
    }
    fn bits(word: U256, from: usize, len: usize) -> U256 {
        (word >> from) & ((U256::from(1u8) << len) - U256::from(1u8))
    }
    fn signed(x: U256, len: usize) -> i128 {
        let v = x.to::<u128>() as i128;
        if len < 128 && v >> (len - 1) & 1 == 1 {
            v - (1i128 << len)
        } else {
            v
        }
    }

    let lab = lab(1);
    let rpc = lab.rpc();
    for kind in [
        PoolKind::v3(3000).unwrap(),
        PoolKind::Algebra { fee: Some(1234) },
    ] {
        let mut case = crossing_case(kind);
        case.swaps.clear();
        let snapshot = rpc.snapshot().unwrap();
        let pool = lab.mine_setup(&case, 0).unwrap_or_else(|e| panic!("{e}"));
        let state = read_pool_state(rpc, kind.protocol(), pool).unwrap();
        let (state_slot, liquidity_slot) = match kind.protocol() {
            Clmm::UniswapV3 => (0u64, 4u64),
            Clmm::AlgebraV1 => (2, 3),
        };
        let word = slot(&lab, pool, U256::from(state_slot));
        assert_eq!(bits(word, 0, 160), U256::from(state.sqrt_price), "{kind:?}");
        assert_eq!(
            signed(bits(word, 160, 24), 24) as i32,
            state.tick,
            "{kind:?}"
        );
        if kind.protocol() == Clmm::AlgebraV1 {
            // fee: 16 bits after the tick; unlocked flag at bit 232 (after timepointIndex and
            // the two community fees).
            assert_eq!(bits(word, 184, 16), U256::from(state.fee));
            assert_eq!(bits(word, 232, 8), U256::from(1u8), "unlocked");
        }
        let liq = slot(&lab, pool, U256::from(liquidity_slot));
        assert_eq!(bits(liq, 0, 128), U256::from(state.liquidity), "{kind:?}");
        let snap = read_pool(rpc, pool, kind.protocol(), Words::All).unwrap();
        for t in &snap.ticks {
            let base = mapping(i64::from(t.tick), 5);
            let w = slot(&lab, pool, base);
            assert_eq!(
                bits(w, 0, 128).to::<u128>(),
                t.liquidity_gross,
                "{kind:?} {t:?}"
            );
            assert_eq!(
                signed(bits(w, 128, 128), 128),
                t.liquidity_net,
                "{kind:?} {t:?}"
            );
            let word_index = tick_word(t.tick, kind.tick_spacing());
            let bitmap = slot(&lab, pool, mapping(i64::from(word_index), 6));
            let bit = (t.tick / kind.tick_spacing()).rem_euclid(256) as usize;
            assert!(bitmap.bit(bit), "{kind:?} {t:?}");
        }
        assert!(rpc.revert_to(snapshot).unwrap());
    }
}

/// The probe moves an Algebra pool from the price it was created at to the case's price; a case
/// that starts exactly there still gets its timepoint written, hence its fee.
#[test]
fn algebra_case_may_start_at_the_creation_price() {
    let lab = lab(1);
    let park = lab
        .rpc()
        .view(
            lab.deployment().probe,
            &polyarb_tools::abi::IClmmProbe::ALGEBRA_PARK_PRICECall {},
        )
        .unwrap();
    let created = read_pool_state(
        lab.rpc(),
        Clmm::AlgebraV1,
        lab.deployment().algebra_pools[0],
    );
    assert_eq!(created.unwrap().sqrt_price, park);
    let mut case = crossing_case(PoolKind::Algebra { fee: Some(777) });
    case.init_sqrt_price = park;
    let run = lab
        .run(&[case])
        .unwrap()
        .remove(0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((run.start.sqrt_price, run.start.fee), (park, 777));
}
