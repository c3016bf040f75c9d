//! `TickSlice` against the reference bitmap on random tick sets and windows, and the mutable
//! `TickColumns` mint/burn bookkeeping against the bitmap's. The bitmap's search is itself
//! checked against the `uniswap_v3_math` oracle's bitmap here.

use std::collections::HashMap;

use alloy_primitives::U256;
use polyarb_core::clmm::tick_math::{MAX_TICK, MIN_TICK};
use polyarb_core::clmm::ticks::{
    NextTick, TickBitmap, TickColumns, TickError, TickRules, TickSlice, TickSource,
};
use proptest::prelude::*;
use uniswap_v3_math as oracle;

use crate::cases;

fn spacing() -> impl Strategy<Value = i32> {
    prop_oneof![Just(1i32), Just(10), Just(60), Just(200), 1i32..300]
}

/// Random initialized ticks as compressed positions in ±1000 (about eight words), with a few
/// near the ends of the tick range.
fn tick_set(spacing: i32) -> impl Strategy<Value = Vec<i32>> {
    let k = prop_oneof![
        8 => -1000i32..1000,
        1 => (MIN_TICK / spacing)..(MIN_TICK / spacing + 600),
        1 => (MAX_TICK / spacing - 600)..=(MAX_TICK / spacing),
    ];
    prop::collection::btree_set(k, 2..40)
        .prop_map(move |s| s.into_iter().map(|k| k * spacing).collect())
}

fn bitmap_with(spacing: i32, ticks: &[i32]) -> TickBitmap {
    let mut b = TickBitmap::new(TickRules::uniswap_v3(spacing).unwrap());
    let mut l = 0u128;
    // One position per pair of neighbours, so every tick gets gross > 0.
    for w in ticks.windows(2) {
        b.mint(0, &mut l, w[0], w[1], 1_000).unwrap();
    }
    b
}

proptest! {
    #![proptest_config(cases(1_500, 60_000))]

    /// The reference bitmap's search equals the oracle crate's on the same set of ticks.
    #[test]
    fn bitmap_matches_oracle(
        (s, ticks) in spacing().prop_flat_map(|s| (Just(s), tick_set(s))),
        queries in prop::collection::vec((any::<i32>(), any::<bool>()), 1..30),
    ) {
        let ours = bitmap_with(s, &ticks);
        let mut theirs: HashMap<i16, U256> = HashMap::new();
        for t in ticks.iter() {
            if ours.is_initialized(*t) {
                oracle::tick_bitmap::flip_tick(&mut theirs, *t, s).unwrap();
            }
        }
        for (q, lte) in queries {
            let q = MIN_TICK + q.rem_euclid(MAX_TICK - MIN_TICK + 1);
            let (t, init) = oracle::tick_bitmap::next_initialized_tick_within_one_word(&theirs, q, s, lte).unwrap();
            prop_assert_eq!(
                ours.next_initialized_tick_within_one_word(q, s, lte),
                NextTick::Found { tick: t, initialized: init }
            );
        }
    }

    /// Inside its window the slice answers as the bitmap; at the window edge it says `Beyond`
    /// only when the bitmap's answer is past the edge and nothing is initialized up to it, and
    /// `Unknown` only when the search starts outside the window.
    #[test]
    fn slice_matches_bitmap_in_window(
        (s, ticks) in spacing().prop_flat_map(|s| (Just(s), tick_set(s))),
        lo in -1100i32..1100, width in 0i32..1500, jitter in (0i32..7, 0i32..7),
        queries in prop::collection::vec((-1200i32..1200, 0i32..3, any::<bool>()), 1..40),
    ) {
        let bitmap = bitmap_with(s, &ticks);
        let (lo, hi) = (lo * s - jitter.0, (lo + width) * s + jitter.1);
        let (t, n, g) = bitmap.window_columns(lo, hi);
        let slice = TickSlice::new(&t, &n, &g, lo, hi).unwrap();
        for (k, off, lte) in queries {
            let q = (k * s + off * s / 3).clamp(MIN_TICK, MAX_TICK);
            let truth = bitmap.next_initialized_tick_within_one_word(q, s, lte);
            let NextTick::Found { tick: answer, .. } = truth else { unreachable!() };
            match slice.next_initialized_tick_within_one_word(q, s, lte) {
                found @ NextTick::Found { .. } => prop_assert_eq!(found, truth),
                NextTick::Beyond { edge } => {
                    if lte {
                        prop_assert!(answer < edge && edge <= q && edge == lo);
                        prop_assert!(bitmap.iter().all(|(t, _)| t < edge || t > q));
                    } else {
                        prop_assert!(answer > edge && edge >= q && edge == hi);
                        prop_assert!(bitmap.iter().all(|(t, _)| t <= q || t > edge));
                    }
                }
                NextTick::Unknown => prop_assert!(q < lo || q > hi, "unknown inside the window"),
            }
            // A span entirely inside the window must be answered.
            let c = q.div_euclid(s);
            let (a, b) = if lte { (c - (c & 255), c) } else { (c + 1, c + 1 + (255 - ((c + 1) & 255))) };
            let inside = |t: i64| (t >= i64::from(lo) || lo <= MIN_TICK) && (t <= i64::from(hi) || hi >= MAX_TICK);
            if inside(i64::from(a) * i64::from(s)) && inside(i64::from(b) * i64::from(s)) && inside(i64::from(q)) {
                prop_assert_eq!(slice.next_initialized_tick_within_one_word(q, s, lte), truth);
            }
            if (lo..=hi).contains(&q) {
                prop_assert_eq!(slice.liquidity_net(q), bitmap.liquidity_net(q));
            }
        }
        // liquidity_net agrees for every tick in the window.
        for (tick, info) in bitmap.iter() {
            if (lo..=hi).contains(&tick) {
                prop_assert_eq!(slice.liquidity_net(tick), info.liquidity_net);
            } else {
                prop_assert_eq!(slice.liquidity_net(tick), 0);
            }
        }
    }

    /// Mint/burn on fixed-capacity columns over a window equals the reference bitmap restricted
    /// to the window, with the same active liquidity and the same failures; a full column
    /// refuses and changes nothing.
    #[test]
    fn columns_follow_bitmap(
        s in prop_oneof![Just(1i32), Just(10), Just(60)],
        ops in prop::collection::vec((-60i32..60, 1i32..40, 1u128..1_000_000_000, 0u8..10), 1..60),
        window in (-50i32..0, 0i32..60),
        capacity in prop_oneof![Just(4usize), Just(16), Just(128)],
        current in -60i32..60,
    ) {
        let rules = TickRules::uniswap_v3(s).unwrap();
        let (lo, hi) = (window.0 * s, window.1 * s);
        let current = current * s + s / 2;
        let mut bitmap = TickBitmap::new(rules);
        let mut l_bitmap = 0u128;
        let mut t = vec![0i32; capacity];
        let mut n = vec![0i128; capacity];
        let mut g = vec![0u128; capacity];
        let mut cols = TickColumns::new(&mut t, &mut n, &mut g, 0, lo, hi).unwrap();
        let mut l_cols = 0u128;
        let mut open: Vec<(i32, i32, u128)> = Vec::new();
        for (k, w, amount, what) in ops {
            let (lower, upper) = (k * s, (k + w) * s);
            let (lower, upper, amount, burn) = match what {
                // Burn part of an open position (the common, valid case).
                0..=2 if !open.is_empty() => {
                    let i = (amount as usize) % open.len();
                    let (a, b, l) = open[i];
                    let part = (amount % l).max(1);
                    (a, b, part, true)
                }
                // Invalid: unspaced, inverted, or more than the position holds.
                3 => (lower + 1 % s.max(2), upper, amount, false),
                4 => (upper, lower, amount, false),
                5 => (lower, upper, amount, true),
                _ => (lower, upper, amount, false),
            };
            let before = (cols.as_slice().len(), l_cols);
            let (rb, rc) = if burn {
                (
                    bitmap.clone().burn(current, &mut l_bitmap.clone(), lower, upper, amount),
                    cols.burn(rules, current, &mut l_cols, lower, upper, amount),
                )
            } else {
                (
                    bitmap.clone().mint(current, &mut l_bitmap.clone(), lower, upper, amount),
                    cols.mint(rules, current, &mut l_cols, lower, upper, amount),
                )
            };
            match (rb, rc) {
                (Ok(_), Ok(_)) => {
                    if burn {
                        bitmap.burn(current, &mut l_bitmap, lower, upper, amount).unwrap();
                        // A random-range burn can succeed on other positions' liquidity; then
                        // `open` is only approximate, which later burns tolerate (both fail).
                        if let Some(i) = open.iter().position(|&(a, b, l)| a == lower && b == upper && l >= amount) {
                            open[i].2 -= amount;
                            if open[i].2 == 0 {
                                open.swap_remove(i);
                            }
                        }
                    } else {
                        bitmap.mint(current, &mut l_bitmap, lower, upper, amount).unwrap();
                        open.push((lower, upper, amount));
                    }
                }
                (Ok(_), Err(TickError::Full)) => {
                    prop_assert_eq!((cols.as_slice().len(), l_cols), before, "a full column changed");
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                // Outside the window the columns cannot see a burn exceeding a tick's gross.
                (Err(TickError::Liquidity(_)), Ok(_)) => {
                    prop_assert!(lower < lo || lower > hi || upper < lo || upper > hi);
                    return Ok(()); // the two views diverged by construction; stop this case
                }
                (a, b) => prop_assert!(false, "bitmap {:?} vs columns {:?}", a, b),
            }
            prop_assert_eq!(l_cols, l_bitmap);
            let (wt, wn, wg) = bitmap.window_columns(lo, hi);
            let view = cols.as_slice();
            prop_assert_eq!(view.len(), wt.len());
            for (i, &tick) in wt.iter().enumerate() {
                prop_assert_eq!(view.liquidity_net(tick), wn[i]);
                prop_assert!(wg[i] > 0);
            }
        }
    }
}

#[test]
fn columns_refuse_bad_input() {
    let rules = TickRules::uniswap_v3(10).unwrap();
    let mut t = [0i32; 2];
    let mut n = [0i128; 2];
    let mut g = [0u128; 2];
    let mut c = TickColumns::new(&mut t, &mut n, &mut g, 0, -1000, 1000).unwrap();
    let mut l = 0u128;
    assert_eq!(
        c.mint(rules, 0, &mut l, 10, 10, 5),
        Err(TickError::InvertedRange)
    );
    assert_eq!(
        c.mint(rules, 0, &mut l, 5, 10, 5),
        Err(TickError::NotSpaced)
    );
    assert_eq!(
        c.mint(rules, 0, &mut l, MIN_TICK - 8, 10, 5),
        Err(TickError::TickOutOfRange)
    );
    assert_eq!(
        c.mint(rules, 0, &mut l, -10, 10, 0),
        Err(TickError::BadAmount)
    );
    assert_eq!(
        c.mint(rules, 0, &mut l, -10, 10, 1 << 127),
        Err(TickError::BadAmount)
    );
    assert!(c.mint(rules, 0, &mut l, -10, 10, 7).is_ok());
    assert_eq!(l, 7);
    assert_eq!(c.mint(rules, 0, &mut l, -20, 20, 1), Err(TickError::Full));
    assert_eq!(l, 7);
    assert!(matches!(
        c.burn(rules, 0, &mut l, -10, 10, 8),
        Err(TickError::Liquidity(_))
    ));
    assert_eq!(c.burn(rules, 0, &mut l, -10, 10, 0).map(|_| l), Ok(7));
    assert!(c.burn(rules, 0, &mut l, -10, 10, 7).is_ok());
    assert_eq!((l, c.len()), (0, 0));
    let cap = TickRules::uniswap_v3(1).unwrap().max_liquidity_per_tick;
    assert_eq!(
        c.mint(TickRules::uniswap_v3(1).unwrap(), 0, &mut l, -1, 1, cap + 1),
        Err(TickError::TickLiquidityOverflow)
    );
    assert_eq!(
        TickSlice::new(&[3, 1], &[0, 0], &[1, 1], -5, 5).err(),
        Some(TickError::Unsorted)
    );
    assert_eq!(
        TickSlice::new(&[3, 10], &[0, 0], &[1, 1], -5, 5).err(),
        Some(TickError::OutsideWindow)
    );
}
