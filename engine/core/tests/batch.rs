//! Block-coherent search and routes in flight, on two V2 pairs of one token pair:
//! - frames flagged `FLAG_MORE_IN_BATCH` are applied without a search; the batch's last frame
//!   searches every pool the batch touched once, at the state after all of it, so the middle of
//!   a transaction (one pool moved, the other not yet) is never taken for a gap;
//! - a route holds its pools at the state it leaves them in: the same gap is not sent again
//!   while it is pending, a log of the pool from a later block releases the hold, and a head
//!   `hold_blocks` later expires it;
//! - the live edge's `RouteEnded` frames end a hold early: a dropped route's at once (its pools'
//!   next logs price them at the chain's state), a mined one's two blocks after the newest seen.
//!
//! The amounts' oracle is the V2 formula on the reserves the test itself tracks.

use alloy_primitives::{Address, U256};
use polyarb_core::{
    DexSpec, Engine, FLAG_MORE_IN_BATCH, FeedFrame, FrameKind, MarketSpec, OpportunityFrame,
    PoolKind, PoolSpec, ROUTE_DROPPED, ROUTE_MINED, ROUTE_REVERTED, SearchParams, TokenSpec,
    get_amount_out,
};

const SNAPSHOT: u64 = 100;
const A: Address = Address::with_last_byte(1); // native
const B: Address = Address::with_last_byte(2);
const P1: Address = Address::with_last_byte(0x10);
const P2: Address = Address::with_last_byte(0x11);
const E18: u128 = 1_000_000_000_000_000_000;
const R0: u128 = 1_000_000 * E18;
const R1: u128 = 2_000_000 * E18;

fn market() -> MarketSpec {
    let token = |address, symbol: &str| TokenSpec {
        address,
        symbol: symbol.into(),
        decimals: 18,
    };
    let dex = |name: &str, byte| DexSpec {
        name: name.into(),
        factory: Address::with_last_byte(byte),
        kind: PoolKind::UniswapV2,
        flash_swap: true,
    };
    MarketSpec {
        block: SNAPSHOT,
        base_fee: 1,
        tokens: vec![token(A, "A"), token(B, "B")],
        dexes: vec![dex("one", 0xf0), dex("two", 0xf1)],
        pools: vec![
            PoolSpec::v2(P1, 0, A, B, 3_000, R0, R1),
            PoolSpec::v2(P2, 1, A, B, 3_000, R0, R1),
        ],
        capital: Vec::new(),
        lenders: Vec::new(),
    }
}

fn params() -> SearchParams {
    let mut p = SearchParams::new(A, vec![A]);
    p.tip_wei = 0;
    p.max_routes = 1;
    p
}

fn word(v: u128) -> [u8; 32] {
    U256::from(v).to_be_bytes()
}

fn sync(pool: Address, block: u64, log: u32, r: (u128, u128), more: bool) -> FeedFrame {
    let mut f = FeedFrame {
        kind: FrameKind::V2Sync,
        address: pool.into_array(),
        block_number: block,
        log_index: log,
        ..FeedFrame::EMPTY
    };
    f.words[0] = word(r.0);
    f.words[1] = word(r.1);
    if more {
        f.flags |= FLAG_MORE_IN_BATCH;
    }
    f
}

fn head(block: u64) -> FeedFrame {
    let mut f = FeedFrame {
        kind: FrameKind::NewHead,
        block_number: block,
        ..FeedFrame::EMPTY
    };
    f.words[0] = word(1);
    f
}

/// Someone sells 10 % of P1's A reserve into it: A is cheap on P1.
fn moved() -> (u128, u128) {
    let a_in = R0 / 10;
    let out = get_amount_out(a_in, R0, R1, 3_000);
    (R0 + a_in, R1 - out)
}

/// Every hop of `o` recomputed with the V2 formula from `(p1, p2)`; returns the pools' reserves
/// after the route.
fn check(o: &OpportunityFrame, p1: (u128, u128), p2: (u128, u128)) -> [(u128, u128); 2] {
    let mut state = [p1, p2];
    let mut amount = o.amount_in;
    for h in o.hops() {
        let k = usize::from(h.pool != P1.into_array());
        let (r0, r1) = state[k];
        let zfo = h.zero_for_one == 1;
        let (r_in, r_out) = if zfo { (r0, r1) } else { (r1, r0) };
        let out = get_amount_out(amount, r_in, r_out, 3_000);
        assert_eq!(h.amount_out, out, "hop on {:?}", Address::from(h.pool));
        state[k] = if zfo {
            (r0 + amount, r1 - out)
        } else {
            (r0 - out, r1 + amount)
        };
        amount = out;
    }
    assert_eq!(o.profit, amount - o.amount_in);
    state
}

/// An engine holding routes `hold_blocks` at most, and the one route it sent for [`moved`]
/// in the block after the snapshot.
fn routed(hold_blocks: u64) -> (Engine, Vec<OpportunityFrame>) {
    let mut p = params();
    p.hold_blocks = hold_blocks;
    let mut e = Engine::new(&market(), p).unwrap();
    let first = e
        .on_frame(&sync(P1, SNAPSHOT + 1, 0, moved(), false))
        .to_vec();
    assert_eq!(first.len(), 1);
    (e, first)
}

#[test]
fn the_middle_of_a_transaction_is_not_a_gap() {
    let mut e = Engine::new(&market(), params()).unwrap();
    // A two-hop swap through both pairs: P1 first (A cheap there), then P2 the same way, so
    // the block ends with both pairs at the same price. Mid-way the pairs disagree by 20 %.
    let m = moved();
    assert!(e.on_frame(&sync(P1, SNAPSHOT + 1, 0, m, true)).is_empty());
    assert!(e.on_frame(&sync(P2, SNAPSHOT + 1, 1, m, false)).is_empty());
    let s = e.stats();
    assert_eq!((s.applied, s.searches, s.opportunities), (2, 2, 0), "{s:?}");

    // The same two logs, each searched on its own (no flag): the mid-way state is a gap.
    let mut eager = Engine::new(&market(), params()).unwrap();
    let first = eager
        .on_frame(&sync(P1, SNAPSHOT + 1, 0, m, false))
        .to_vec();
    assert_eq!(first.len(), 1, "the mid-way state looks profitable");
    check(&first[0], m, (R0, R1));
}

#[test]
fn a_pool_touched_twice_in_a_batch_is_searched_once_at_its_final_state() {
    let mut e = Engine::new(&market(), params()).unwrap();
    let half = {
        let a_in = R0 / 20;
        let out = get_amount_out(a_in, R0, R1, 3_000);
        (R0 + a_in, R1 - out)
    };
    assert!(
        e.on_frame(&sync(P1, SNAPSHOT + 1, 0, half, true))
            .is_empty()
    );
    let routes = e
        .on_frame(&sync(P1, SNAPSHOT + 1, 3, moved(), false))
        .to_vec();
    let s = e.stats();
    assert_eq!((s.searches, s.coalesced), (1, 1), "{s:?}");
    assert_eq!(routes.len(), 1);
    assert_eq!(
        (routes[0].block_number, routes[0].log_index),
        (SNAPSHOT + 1, 3)
    );
    check(&routes[0], moved(), (R0, R1));
}

#[test]
fn a_route_holds_its_pools_until_the_chain_moves_them() {
    let mut e = Engine::new(&market(), params()).unwrap();
    let m = moved();
    let routes = e.on_frame(&sync(P1, SNAPSHOT + 1, 0, m, false)).to_vec();
    assert_eq!(routes.len(), 1);
    let after = check(&routes[0], m, (R0, R1));
    assert_eq!(e.stats().holds, 2);
    assert_eq!(e.held_reserves(&P1), Some(after[0]));
    assert_eq!(e.held_reserves(&P2), Some(after[1]));

    // The same pool state logged again in the same block (another transaction left P1 as it
    // was): a cycle through a pool a route from this block holds is left out (by default), so
    // nothing is sent twice and no route depends on another's landing.
    assert!(e.on_frame(&sync(P1, SNAPSHOT + 1, 5, m, false)).is_empty());
    assert!(e.stats().same_block_held > 0);
    assert_eq!(e.stats().in_flight_priced, 0);
    assert_eq!(e.stats().opportunities, 1);
    // With `chain_routes` it is priced at what the pending route leaves instead: the gap is
    // gone there too.
    let mut chained = Engine::new(
        &market(),
        SearchParams {
            chain_routes: true,
            ..params()
        },
    )
    .unwrap();
    assert_eq!(
        chained.on_frame(&sync(P1, SNAPSHOT + 1, 0, m, false)).len(),
        1
    );
    assert!(
        chained
            .on_frame(&sync(P1, SNAPSHOT + 1, 5, m, false))
            .is_empty()
    );
    assert!(chained.stats().in_flight_priced > 0);
    assert_eq!(chained.stats().same_block_held, 0);

    // The route lands in the next block: its logs release both pools, now at the chain's
    // state, which is what the route left.
    let _ = e.on_frame(&head(SNAPSHOT + 2));
    assert!(
        e.on_frame(&sync(P1, SNAPSHOT + 2, 0, after[0], true))
            .is_empty()
    );
    assert!(
        e.on_frame(&sync(P2, SNAPSHOT + 2, 1, after[1], false))
            .is_empty()
    );
    let s = e.stats();
    assert_eq!((s.holds_released, s.holds_expired), (2, 0), "{s:?}");
    assert_eq!(e.held_reserves(&P1), None);
    assert_eq!(e.pool_reserves(&P1), Some(after[0]));
}

#[test]
fn a_hold_expires_when_the_route_did_not_land() {
    let m = moved();
    let (mut e, first) = routed(2);
    // The next block passes without the route's logs (it reverted, or is still pending): the
    // pools stay held.
    let _ = e.on_frame(&head(SNAPSHOT + 2));
    assert!(e.held_reserves(&P1).is_some());
    assert!(e.on_frame(&sync(P1, SNAPSHOT + 1, 7, m, false)).is_empty());
    // `hold_blocks` after the route: the holds expire and the gap, still on chain, is found
    // again at the chain's state.
    let _ = e.on_frame(&head(SNAPSHOT + 3));
    assert_eq!(e.stats().holds_expired, 2);
    assert_eq!(e.held_reserves(&P1), None);
    let again = e.on_frame(&sync(P1, SNAPSHOT + 1, 9, m, false)).to_vec();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].amount_in, first[0].amount_in);
    check(&again[0], m, (R0, R1));
}

#[test]
fn a_dropped_route_frees_its_pools_at_once_and_the_gap_is_found_again() {
    let m = moved();
    let (mut e, first) = routed(32);
    // Another route's end touches nothing.
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq + 7, ROUTE_DROPPED, 5))
            .is_empty()
    );
    assert_eq!(e.stats().route_ends_unheld, 1);
    assert!(e.held_reserves(&P1).is_some());
    // The node refused it: both pools are free now, in the same block. The word itself
    // searches nothing (a refusal that repeats would otherwise resend at once, forever)...
    let searches = e.stats().searches;
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq, ROUTE_DROPPED, 9))
            .is_empty()
    );
    let s = e.stats();
    assert_eq!((s.holds_dropped, s.holds_expired), (2, 0), "{s:?}");
    assert_eq!(s.searches, searches);
    assert_eq!(e.held_reserves(&P1), None);
    // ... the pool's next log does: the gap, still on chain, is sent again, sized at the
    // chain's state.
    let again = e.on_frame(&sync(P1, SNAPSHOT + 1, 4, m, false)).to_vec();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].amount_in, first[0].amount_in);
    assert_eq!(again[0].seq, first[0].seq + 1);
    check(&again[0], m, (R0, R1));
    // The new route holds the pools; the old one's word again finds nothing.
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq, ROUTE_DROPPED, 10))
            .is_empty()
    );
    assert_eq!(e.stats().route_ends_unheld, 2);
    assert!(e.held_reserves(&P1).is_some());
}

#[test]
fn a_mined_route_that_moved_nothing_is_released_two_blocks_later() {
    let (mut e, first) = routed(32);
    let _ = e.on_frame(&head(SNAPSHOT + 2));
    // Mined in block 102, reverted: no log of its pools. The hold outlives block 103 (the
    // mined block's logs could still be on their way) and ends at 104, far before 32 blocks.
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq, ROUTE_MINED, 11))
            .is_empty()
    );
    assert_eq!(e.stats().holds_mined, 2);
    let _ = e.on_frame(&head(SNAPSHOT + 3));
    assert!(e.held_reserves(&P1).is_some());
    let _ = e.on_frame(&head(SNAPSHOT + 4));
    assert_eq!(e.held_reserves(&P1), None);
    assert_eq!(e.stats().holds_expired, 2);
    // Never without a word: 32 blocks.
    let (mut quiet, _) = routed(32);
    let _ = quiet.on_frame(&head(SNAPSHOT + 4));
    assert!(quiet.held_reserves(&P1).is_some());
}

#[test]
fn a_reverted_route_frees_its_pools_at_once_without_a_search() {
    let m = moved();
    let (mut e, first) = routed(32);
    let _ = e.on_frame(&head(SNAPSHOT + 2));
    // Its count said mined: held two more blocks. Then its receipt says reverted: free now,
    // in the same block, and the word itself searches nothing.
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq, ROUTE_MINED, 11))
            .is_empty()
    );
    assert!(e.held_reserves(&P1).is_some());
    let searches = e.stats().searches;
    assert!(
        e.on_frame(&FeedFrame::route_ended(first[0].seq, ROUTE_REVERTED, 12))
            .is_empty()
    );
    let s = e.stats();
    assert_eq!(
        (s.holds_reverted, s.holds_expired, s.searches),
        (2, 0, searches)
    );
    assert_eq!(e.held_reserves(&P1), None);
    // The pool's next log prices the gap, still on chain, at the chain's state again.
    let again = e.on_frame(&sync(P1, SNAPSHOT + 1, 4, m, false)).to_vec();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].amount_in, first[0].amount_in);
    check(&again[0], m, (R0, R1));
}

/// `[P1, P2]` reserves.
type Reserves = [(u128, u128); 2];

/// Route X (block 101) holds both pairs; in block 102 someone moves P2, which ends X's hold
/// there, and route Y is made over P1 at X's expected state and P2 at the chain's. Returns the
/// engine and the reserves X and Y leave, `[P1, P2]` each.
fn stacked() -> (Engine, Reserves, Reserves) {
    let m = moved();
    let (mut e, first) = routed(32);
    let after_x = check(&first[0], m, (R0, R1));
    let _ = e.on_frame(&head(SNAPSHOT + 2));
    let y = e.on_frame(&sync(P2, SNAPSHOT + 2, 0, m, false)).to_vec();
    assert_eq!(y.len(), 1, "a new gap against X's expected P1");
    let after_y = check(&y[0], after_x[0], m);
    assert_eq!(e.held_reserves(&P1), Some(after_y[0]));
    (e, after_x, after_y)
}

#[test]
fn a_route_stacked_on_a_pending_one_keeps_its_hold_when_that_one_lands() {
    let (mut e, after_x, after_y) = stacked();
    // Block 103: X lands, and P1's log leaves it exactly where X was to: Y is still pending on
    // top of it, so P1 stays at Y's expected state and the gap Y takes is not sent again.
    let released = e.stats().holds_released;
    assert!(
        e.on_frame(&sync(P1, SNAPSHOT + 3, 0, after_x[0], false))
            .is_empty()
    );
    let s = e.stats();
    assert_eq!(
        (s.holds_stacked_kept, s.holds_released),
        (1, released),
        "{s:?}"
    );
    assert_eq!(e.held_reserves(&P1), Some(after_y[0]));
    assert_eq!(e.pool_reserves(&P1), Some(after_x[0]));
    // Priced from the chain now: Y's own log (block 104) ends it as any landing does.
    assert!(
        e.on_frame(&sync(P1, SNAPSHOT + 4, 0, after_y[0], false))
            .is_empty()
    );
    assert_eq!(e.held_reserves(&P1), None);
    assert_eq!(e.stats().holds_released, released + 1);
}

#[test]
fn a_stacked_hold_ends_when_someone_else_moves_the_pool() {
    let (mut e, after_x, after_y) = stacked();
    // P1's log in block 103 is not X's expected state: someone else got there; Y's hold ends
    // (a route found on the new state may hold the pool again, at its own state).
    let released = e.stats().holds_released;
    let other = (after_x[0].0 + E18, after_x[0].1 - 2 * E18);
    let _ = e.on_frame(&sync(P1, SNAPSHOT + 3, 0, other, false));
    let s = e.stats();
    assert_eq!(
        (s.holds_stacked_kept, s.holds_released),
        (0, released + 1),
        "{s:?}"
    );
    assert_ne!(e.held_reserves(&P1), Some(after_y[0]));
}

#[test]
fn a_log_from_far_ahead_is_refused_and_the_pool_keeps_following() {
    let mut e = Engine::new(&market(), params()).unwrap();
    let far = SNAPSHOT + params().max_blocks_ahead + 1;
    for block in [far, u64::from(u32::MAX), u64::MAX] {
        assert!(e.on_frame(&sync(P1, block, 0, moved(), false)).is_empty());
    }
    assert_eq!(e.stats().future_logs, 3);
    assert_eq!(e.stats().applied, 0);
    assert_eq!(e.pool_reserves(&P1), Some((R0, R1)));
    // Real logs after them still apply: the pool's position did not move to the far block.
    let routes = e
        .on_frame(&sync(P1, SNAPSHOT + 1, 0, moved(), false))
        .to_vec();
    assert_eq!(e.pool_reserves(&P1), Some(moved()));
    assert_eq!(routes.len(), 1);
    // A head moves the bound: a log just inside it applies.
    let _ = e.on_frame(&head(SNAPSHOT + 10));
    let _ = e.on_frame(&sync(
        P2,
        SNAPSHOT + 10 + params().max_blocks_ahead,
        0,
        (R0, R1),
        false,
    ));
    assert_eq!(e.stats().future_logs, 3);
    assert_eq!(e.stats().applied, 2);
}
