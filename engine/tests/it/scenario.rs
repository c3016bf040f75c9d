//! Scenarios: hand-built markets fed `Sync` and head frames through `Engine::on_frame`.
//! Every amount is re-derived from the test's own reserve model with `get_amount_out`.

use alloy_primitives::Address;
use polyarb_core::{
    BuildError, Engine, OpportunityFrame, PoolState, SearchParams, TableError, U112_MAX,
    get_amount_out,
};
use polyarb_core::{FeedFrame, FrameKind};

use crate::common::*;

/// WMATIC/USDC at 0.5 USDC per WMATIC on both DEXes.
fn two_dex() -> (polyarb_core::MarketSpec, Model) {
    market(&[Q_MATIC_USDC_POOL, P_MATIC_USDC_POOL])
}

/// `two_dex` plus WETH at 4000 WMATIC = 2000 USDC: consistent prices everywhere.
fn full() -> (polyarb_core::MarketSpec, Model) {
    market(&[
        Q_MATIC_USDC_POOL,
        P_MATIC_USDC_POOL,
        Q_WETH_MATIC_POOL,
        P_WETH_USDC_POOL,
    ])
}

/// One pool per pair: only triangles exist.
fn triangle() -> (polyarb_core::MarketSpec, Model) {
    market(&[Q_MATIC_USDC_POOL, Q_WETH_MATIC_POOL, P_WETH_USDC_POOL])
}

fn params(start: &[Address]) -> SearchParams {
    let mut p = SearchParams::new(WMATIC, start.to_vec());
    // Updates here come a block apart and no route lands: a route's holds end at the next
    // block, so each update is priced at the chain's state, as the model has it.
    p.hold_blocks = 1;
    p
}

/// Checks the frame fields the engine derives from the frame, the params and the head.
fn check_frame(e: &Engine, opp: &OpportunityFrame, f: &FeedFrame, seq: u64) {
    let p = e.params();
    assert_eq!(opp.recv_ns, f.recv_ns);
    assert_eq!(opp.block_number, f.block_number);
    assert_eq!(opp.detect_ns, 0);
    assert_eq!(opp.seq, seq);
    assert_eq!(opp.base_fee, e.base_fee());
    let hops = u32::from(opp.hop_count);
    assert_eq!(opp.gas_budget, p.gas.base + p.gas.per_hop[0] * hops);
    assert_eq!(opp.log_index, f.log_index);
    assert_eq!(
        opp.gas_cost_native,
        u128::from(opp.gas_budget) * (e.base_fee() + p.tip_wei)
    );
    assert!(opp.profit_native > opp.gas_cost_native + p.min_profit_native);
    for h in opp.hops() {
        assert_eq!(e.pools().address(h.pool_id), Some(Address::from(h.pool)));
    }
    for h in &opp.hops[opp.hops().len()..] {
        assert_eq!(*h, polyarb_core::Hop::default(), "unused hops are zero");
    }
}

/// Profit falls off on both sides of the chosen input (1 % away), as sizing near the
/// optimum implies; the curvature loss there dwarfs any rounding jitter.
fn check_near_optimal(model: &Model, opp: &OpportunityFrame) {
    let x = opp.amount_in;
    let p = opp.profit as i128;
    assert!(
        model.profit_at(opp, x + x / 100) < p,
        "larger input would earn more"
    );
    assert!(
        model.profit_at(opp, x - x / 100) < p,
        "smaller input would earn more"
    );
}

#[test]
fn two_dex_price_gap_gives_an_exact_opportunity() {
    let (spec, mut model) = full();
    // Routes priced through each other (`chain_routes`): the second below is checked on the
    // pools as the first leaves them.
    let mut e = Engine::new(
        &spec,
        SearchParams {
            chain_routes: true,
            ..params(&[WMATIC])
        },
    )
    .unwrap();
    // From WMATIC: 2 two-hop cycles (Q→P, P→Q) and 2 triangles in each direction.
    assert_eq!(e.cycle_count(), 6);
    assert_eq!(e.build_report().cycles_dropped, 0);

    // Same reserves again: consistent prices, nothing to do.
    let same = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 1,
        0,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 500_000 * units(6)),
    );
    assert!(e.on_frame(&same).is_empty());
    assert_eq!(
        e.stats().screened,
        4,
        "the pool is in two 2-hop cycles and a triangle each way"
    );
    assert_eq!(e.stats().opportunities, 0);

    // USDC gets 6 % dearer on the Pancake pair: sell WMATIC there, buy it back on QuickSwap.
    let gap = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 1,
        1,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 530_000 * units(6)),
    );
    let routes = e.on_frame(&gap).to_vec();
    let opp = *routes.first().expect("an opportunity");
    let out = model.verify(&opp);
    assert!(out > opp.amount_in);
    assert_eq!(Address::from(opp.token_in), WMATIC);
    assert_eq!(
        opp.profit_native, opp.profit,
        "native token is valued at par"
    );
    check_frame(&e, &opp, &gap, 0);
    check_near_optimal(&model, &opp);
    assert_eq!(
        Address::from(opp.hops[0].pool),
        P_MATIC_USDC,
        "sell WMATIC where USDC is dear"
    );
    // The triangle through the Pancake pair still pays once the first route has moved it: it
    // comes second, priced on the pools as the first route leaves them.
    assert_eq!(routes.len(), 2, "{routes:?}");
    for (k, pair) in routes.windows(2).enumerate() {
        model.execute(&pair[0]);
        let next = pair[1];
        assert!(model.verify(&next) > next.amount_in);
        check_frame(&e, &next, &gap, k as u64 + 1);
    }
    let s = e.stats();
    assert_eq!(
        (s.frames, s.syncs, s.applied, s.opportunities),
        (2, 2, 2, 2)
    );
    assert!(s.sized >= 1 && s.profitable >= 1);
}

#[test]
fn triangle_across_decimals_is_valued_in_native() {
    let (spec, mut model) = triangle();
    let mut e = Engine::new(&spec, params(&[USDC])).unwrap();
    assert_eq!(e.cycle_count(), 2, "one triangle, two directions");
    // WETH is 5 % cheap in USDC on Pancake.
    let f = sync_model(
        &mut model,
        P_WETH_USDC,
        SNAPSHOT + 3,
        7,
        (WETH, 400 * units(18)),
        (USDC, 760_000 * units(6)),
    );
    let opp = e.on_frame(&f).first().copied().expect("an opportunity");
    model.verify(&opp);
    assert_eq!(opp.hop_count, 3);
    assert_eq!(Address::from(opp.token_in), USDC);
    assert_eq!(
        Address::from(opp.hops[0].pool),
        P_WETH_USDC,
        "buy WETH where it is cheap"
    );
    // Valuation: the exact quote for selling the USDC profit on the only WMATIC/USDC pool.
    let q = model.pools[&Q_MATIC_USDC];
    let (r_usdc, r_wmatic) = if q.token0 == USDC {
        (q.reserve0, q.reserve1)
    } else {
        (q.reserve1, q.reserve0)
    };
    assert_eq!(
        opp.profit_native,
        get_amount_out(opp.profit, r_usdc, r_wmatic, q.fee_bps * 100)
    );
    check_frame(&e, &opp, &f, 0);
    check_near_optimal(&model, &opp);
}

/// The opportunity `two_dex` gives after the 6 % gap, with the engine and frame.
fn gap_opportunity(
    p: SearchParams,
    base_fee: Option<u128>,
) -> (Engine, Option<OpportunityFrame>, Model) {
    let (spec, mut model) = two_dex();
    let mut e = Engine::new(&spec, p).unwrap();
    if let Some(b) = base_fee {
        assert!(e.on_frame(&head(SNAPSHOT + 1, b)).is_empty());
    }
    let f = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 1,
        0,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 530_000 * units(6)),
    );
    let opp = e.on_frame(&f).first().copied();
    (e, opp, model)
}

#[test]
fn gas_threshold_is_exact() {
    let p = params(&[WMATIC]);
    let tip = p.tip_wei;
    let (_, opp, _) = gap_opportunity(p.clone(), None);
    let opp = opp.expect("an opportunity at the snapshot base fee");
    let (profit, gas) = (opp.profit_native, u128::from(opp.gas_budget));

    // Base fee where gas costs at least the whole profit: nothing.
    let fail = profit.div_ceil(gas) - tip;
    let (e, none, _) = gap_opportunity(p.clone(), Some(fail));
    assert_eq!(none, None);
    assert_eq!(e.base_fee(), fail);
    assert!(e.stats().below_threshold >= 1 && e.stats().profitable >= 1);
    assert_eq!(e.stats().opportunities, 0);

    // Highest base fee where gas costs less than the profit: the same trade.
    let pass = (profit - 1) / gas - tip;
    let (e, some, model) = gap_opportunity(p.clone(), Some(pass));
    let got = some.expect("an opportunity just under the bar");
    model.verify(&got);
    assert_eq!(
        (got.amount_in, got.profit),
        (opp.amount_in, opp.profit),
        "sizing ignores gas"
    );
    assert_eq!(got.base_fee, pass);
    assert_eq!(got.gas_cost_native, gas * (pass + tip));
    assert_eq!(e.stats().opportunities, 1);

    // The minimum profit is on top of gas, and strict.
    let margin = profit - gas * (pass + tip);
    let mut at_bar = p.clone();
    at_bar.min_profit_native = margin;
    assert_eq!(gap_opportunity(at_bar, Some(pass)).1, None);
    let mut under_bar = p;
    under_bar.min_profit_native = margin - 1;
    assert!(gap_opportunity(under_bar, Some(pass)).1.is_some());
}

#[test]
fn bad_frames_are_counted_and_do_not_corrupt_state() {
    let (spec, mut model) = two_dex();
    // Removed logs below mark pools stale: the engine without its undo journal (the journal's
    // own tests: engine/core/tests/reorg.rs).
    let no_journal = SearchParams {
        reorg_depth: 0,
        ..params(&[WMATIC])
    };
    let mut e = Engine::new(&spec, no_journal).unwrap();
    let reserves = |e: &Engine, a| e.pool_reserves(&a).unwrap();
    let q0 = reserves(&e, Q_MATIC_USDC);
    let p0 = reserves(&e, P_MATIC_USDC);

    // Unknown pool.
    assert!(
        e.on_frame(&sync(STRANGER, SNAPSHOT + 1, 0, 5, 5))
            .is_empty()
    );
    assert_eq!(e.stats().unknown_pool, 1);

    // At the snapshot block: already reflected in the snapshot.
    assert!(
        e.on_frame(&sync(P_MATIC_USDC, SNAPSHOT, 9, 5, 5))
            .is_empty()
    );
    assert_eq!(e.stats().stale_skipped, 1);
    assert_eq!(reserves(&e, P_MATIC_USDC), p0);

    // A good frame (prices unchanged, pool 10 % deeper) applies.
    let (m, u) = (1_100_000 * units(18), 550_000 * units(6));
    let good = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 2,
        3,
        (WMATIC, m),
        (USDC, u),
    );
    assert!(e.on_frame(&good).is_empty());
    let p1 = reserves(&e, P_MATIC_USDC);
    assert_ne!(p1, p0);
    assert_eq!(e.stats().applied, 1);

    // Older and duplicate positions are skipped.
    assert!(
        e.on_frame(&sync(P_MATIC_USDC, SNAPSHOT + 2, 2, 5, 5))
            .is_empty()
    );
    assert!(
        e.on_frame(&sync(P_MATIC_USDC, SNAPSHOT + 2, 3, 5, 5))
            .is_empty()
    );
    assert!(
        e.on_frame(&sync(P_MATIC_USDC, SNAPSHOT + 1, 50, 5, 5))
            .is_empty()
    );
    assert_eq!(e.stats().stale_skipped, 4);
    assert_eq!(reserves(&e, P_MATIC_USDC), p1);

    // Reserves past uint112, and a word past u128: rejected, position not advanced.
    assert!(
        e.on_frame(&sync(P_MATIC_USDC, SNAPSHOT + 2, 4, U112_MAX + 1, 5))
            .is_empty()
    );
    let mut wide = sync(P_MATIC_USDC, SNAPSHOT + 2, 4, 5, 5);
    wide.words[1][0] = 1;
    assert!(e.on_frame(&wide).is_empty());
    assert_eq!(e.stats().rejected, 2);
    assert_eq!(reserves(&e, P_MATIC_USDC), p1);
    // ...and the next good frame at that same position still applies.
    let good = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 2,
        4,
        (WMATIC, m),
        (USDC, u + 1),
    );
    assert!(e.on_frame(&good).is_empty());
    assert_eq!(e.stats().applied, 2);
    let p2 = reserves(&e, P_MATIC_USDC);
    assert_eq!(
        p2,
        (
            model.pools[&P_MATIC_USDC].reserve0,
            model.pools[&P_MATIC_USDC].reserve1
        )
    );

    // A removed log marks QuickSwap's pair stale without touching its reserves.
    let mut gone = sync(Q_MATIC_USDC, SNAPSHOT + 2, 1, 5, 5);
    gone.removed = 1;
    assert!(e.on_frame(&gone).is_empty());
    assert_eq!(e.stats().removed, 1);
    assert_eq!(e.pool_is_stale(&Q_MATIC_USDC), Some(true));
    assert_eq!(reserves(&e, Q_MATIC_USDC), q0);

    // While it is stale, a gap on the other pair finds nothing: both cycles use the stale pair.
    let screened = e.stats().screened;
    let gap = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 2,
        5,
        (WMATIC, m),
        (USDC, u * 106 / 100),
    );
    assert!(e.on_frame(&gap).is_empty());
    assert_eq!(e.stats().stale_cycles, 2);
    assert_eq!(e.stats().screened, screened);

    // The replacement chain's Sync in the same block (earlier log index) is accepted, clears
    // the stale flag, and the gap is found.
    let (qm, qu) = (2_000_000 * units(18), 1_000_000 * units(6));
    let back = sync_model(
        &mut model,
        Q_MATIC_USDC,
        SNAPSHOT + 2,
        0,
        (WMATIC, qm),
        (USDC, qu),
    );
    let opp = e
        .on_frame(&back)
        .first()
        .copied()
        .expect("the gap, once the pair is fresh again");
    assert_eq!(e.pool_is_stale(&Q_MATIC_USDC), Some(false));
    model.verify(&opp);
    check_frame(&e, &opp, &back, 0);

    // A removed log of an unknown pool is an unknown pool; an empty frame is "other".
    gone.address = STRANGER.into_array();
    assert!(e.on_frame(&gone).is_empty());
    assert!(e.on_frame(&FeedFrame::EMPTY).is_empty());
    let s = *e.stats();
    assert_eq!((s.unknown_pool, s.other, s.removed), (2, 1, 1));
    assert_eq!(s.frames, 14);
    assert_eq!(s.syncs, 13);
}

#[test]
fn heads_set_the_base_fee_and_wide_ones_are_rejected() {
    let (spec, mut model) = two_dex();
    let mut e = Engine::new(&spec, params(&[WMATIC])).unwrap();
    assert_eq!(e.base_fee(), spec.base_fee);
    assert!(e.on_frame(&head(SNAPSHOT + 1, 31_000_000_000)).is_empty());
    assert_eq!(e.base_fee(), 31_000_000_000);
    let mut wide = head(SNAPSHOT + 2, 1);
    wide.words[0][3] = 1;
    assert!(e.on_frame(&wide).is_empty());
    assert_eq!(e.base_fee(), 31_000_000_000);
    assert_eq!((e.stats().heads, e.stats().rejected), (2, 1));
    let f = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 2,
        0,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 530_000 * units(6)),
    );
    let opp = e.on_frame(&f).first().copied().unwrap();
    assert_eq!(opp.base_fee, 31_000_000_000);
    check_frame(&e, &opp, &f, 0);
}

#[test]
fn sequence_numbers_count_opportunities() {
    let (spec, mut model) = two_dex();
    let mut e = Engine::new(&spec, params(&[WMATIC])).unwrap();
    let mut seq = 0;
    for (i, usdc) in [530_000u128, 500_000, 540_000, 470_000]
        .into_iter()
        .enumerate()
    {
        let f = sync_model(
            &mut model,
            P_MATIC_USDC,
            SNAPSHOT + 1 + i as u64,
            0,
            (WMATIC, 1_000_000 * units(18)),
            (USDC, usdc * units(6)),
        );
        match e.on_frame(&f).first().copied() {
            Some(opp) => {
                model.verify(&opp);
                check_frame(&e, &opp, &f, seq);
                seq += 1;
            }
            None => assert_eq!(usdc, 500_000, "only the balanced update finds nothing"),
        }
    }
    assert_eq!(seq, 3);
    assert_eq!(e.stats().opportunities, 3);
}

#[test]
fn cheaper_token_direction_is_found_both_ways() {
    // USDC cheap on Pancake (470k instead of 500k): buy WMATIC there, the other direction.
    let (spec, mut model) = two_dex();
    let mut e = Engine::new(&spec, params(&[WMATIC])).unwrap();
    let f = sync_model(
        &mut model,
        P_MATIC_USDC,
        SNAPSHOT + 1,
        0,
        (WMATIC, 1_000_000 * units(18)),
        (USDC, 470_000 * units(6)),
    );
    let opp = e.on_frame(&f).first().copied().unwrap();
    model.verify(&opp);
    assert_eq!(Address::from(opp.hops[0].pool), Q_MATIC_USDC);
    check_near_optimal(&model, &opp);
}

#[test]
fn build_errors_and_accessors() {
    let (spec, _) = full();
    let stranger_token = STRANGER;
    assert_eq!(
        Engine::new(&spec, SearchParams::new(stranger_token, vec![WMATIC])).unwrap_err(),
        BuildError::UnknownNative(stranger_token)
    );
    assert_eq!(
        Engine::new(&spec, params(&[WMATIC, stranger_token])).unwrap_err(),
        BuildError::UnknownStartToken(stranger_token)
    );
    assert_eq!(
        Engine::new(&spec, params(&[])).unwrap_err(),
        BuildError::NoStartTokens
    );
    let mut bad = spec.clone();
    bad.pools[0].state = PoolState::UniswapV2 {
        reserve0: U112_MAX + 1,
        reserve1: 1,
    };
    assert_eq!(
        Engine::new(&bad, params(&[WMATIC])).unwrap_err(),
        BuildError::Table(TableError::ReserveTooLarge(bad.pools[0].address))
    );
    assert!(!BuildError::NoStartTokens.to_string().is_empty());

    let mut capped = params(&[WMATIC]);
    capped.max_cycles = 2;
    let e = Engine::new(&spec, capped).unwrap();
    assert_eq!(e.cycle_count(), 2);
    assert_eq!(e.build_report().cycles_dropped, 4);

    let e = Engine::new(&spec, params(&[WMATIC])).unwrap();
    assert_eq!(e.token_count(), 3);
    assert_eq!(e.pool_count(), 4);
    assert_eq!(e.token(&USDC), Some(("USDC", 6)));
    assert_eq!(e.token(&WETH), Some(("WETH", 18)));
    assert_eq!(e.token(&STRANGER), None);
    let p = &spec.pools[3];
    let PoolState::UniswapV2 { reserve0, reserve1 } = p.state else {
        panic!("fixture pools are V2 pairs")
    };
    assert_eq!(e.pool_reserves(&p.address), Some((reserve0, reserve1)));
    assert_eq!(e.pool_reserves(&STRANGER), None);
    assert_eq!(e.pool_is_stale(&p.address), Some(false));
    assert_eq!(e.snapshot_block(), SNAPSHOT);
    assert_eq!(FrameKind::default(), FrameKind::Empty);
}
