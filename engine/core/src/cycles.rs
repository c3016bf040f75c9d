//! Arbitrage cycles, enumerated once at build time.
//!
//! A cycle is a closed loop of 2 to [`MAX_HOPS`] swaps over distinct pools and distinct tokens
//! that passes through at least one configured start token: 2-hop (the same token pair on two
//! different pools), triangles, and 4-hop loops. Each directed loop is stored once as a small
//! `Copy` record with a mask of the positions where a start token enters it, so the search can
//! borrow it from every start token it passes (each has its own capital and value). Every pool
//! keeps the ids of the cycles that use it (a CSR index), so an update of one pool searches only
//! the cycles it can have changed.

use std::collections::HashMap;

use crate::MAX_HOPS;
use crate::pools::{PoolId, Pools, TokenId};

/// Dense cycle id: index into [`Cycles`].
pub(crate) type CycleId = u32;

/// One directed loop of swaps. 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// Pools in swap order; entries past `len` are unused.
    pub(crate) pools: [PoolId; MAX_HOPS],
    /// The token entering hop 0: the highest-priority start token of the loop.
    pub(crate) start: TokenId,
    /// Number of hops, 2 to [`MAX_HOPS`].
    pub(crate) len: u8,
    /// Bit `i` set: hop `i` sends the pool's token0 in and takes token1 out.
    pub(crate) directions: u8,
    /// Bit `i` set: the token entering hop `i` is a start token, so the loop can also be run
    /// as the rotation that begins at hop `i`. Bit 0 is always set.
    pub(crate) rotations: u8,
}

impl Cycle {
    /// The used pools, in swap order.
    #[inline]
    pub(crate) fn pools(&self) -> &[PoolId] {
        &self.pools[..usize::from(self.len).min(MAX_HOPS)]
    }

    /// True if hop `i` sends token0 in.
    #[inline]
    pub(crate) fn zero_for_one(&self, i: usize) -> bool {
        self.directions >> i & 1 == 1
    }

    /// The loop run from hop `r` on (`r` below `len`): the same swaps, rotated.
    pub(crate) fn rotated(&self, r: usize) -> Cycle {
        let n = usize::from(self.len).min(MAX_HOPS);
        if r == 0 || r >= n {
            return *self;
        }
        let mut pools = [0; MAX_HOPS];
        let mut directions = 0u8;
        let mut rotations = 0u8;
        for (k, slot) in pools.iter_mut().enumerate().take(n) {
            let i = (r + k) % n;
            *slot = self.pools[i];
            directions |= (self.directions >> i & 1) << k;
            rotations |= (self.rotations >> i & 1) << k;
        }
        Cycle {
            pools,
            start: self.start,
            len: self.len,
            directions,
            rotations,
        }
    }
}

/// All cycles plus the per-pool index.
#[derive(Debug, Default)]
pub(crate) struct Cycles {
    list: Vec<Cycle>,
    /// `by_pool[offsets[p]..offsets[p + 1]]` are the cycles through pool `p`, ascending.
    offsets: Vec<u32>,
    by_pool: Vec<CycleId>,
    /// Cycles found beyond the cap and not stored.
    dropped: u64,
}

impl Cycles {
    /// Number of stored cycles.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Cycles found but not stored because of the cap.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// A stored cycle.
    #[inline]
    pub(crate) fn get(&self, id: CycleId) -> Option<&Cycle> {
        self.list.get(id as usize)
    }

    /// Ids of the cycles that use `pool` (empty for an unknown pool).
    #[inline]
    pub(crate) fn through(&self, pool: PoolId) -> &[CycleId] {
        let p = pool as usize;
        match (self.offsets.get(p), self.offsets.get(p + 1)) {
            (Some(&lo), Some(&hi)) => self.by_pool.get(lo as usize..hi as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Pools by unordered token pair, and each token's distinct neighbours. Build time only.
#[derive(Debug, Default)]
pub(crate) struct PairIndex {
    pairs: HashMap<(TokenId, TokenId), Vec<PoolId>>,
    neighbors: Vec<Vec<TokenId>>,
}

impl PairIndex {
    pub(crate) fn new(pools: &Pools, token_count: usize) -> Self {
        let mut pairs: HashMap<(TokenId, TokenId), Vec<PoolId>> = HashMap::new();
        let mut neighbors = vec![Vec::new(); token_count];
        for id in 0..pools.len() as PoolId {
            let Some((t0, t1)) = pools.tokens(id) else {
                continue;
            };
            pairs.entry(key(t0, t1)).or_default().push(id);
            if let Some(n) = neighbors.get_mut(t0 as usize) {
                n.push(t1);
            }
            if let Some(n) = neighbors.get_mut(t1 as usize) {
                n.push(t0);
            }
        }
        for n in &mut neighbors {
            n.sort_unstable();
            n.dedup();
        }
        Self { pairs, neighbors }
    }

    /// Pools between two tokens, ascending id.
    pub(crate) fn pools(&self, a: TokenId, b: TokenId) -> &[PoolId] {
        self.pairs.get(&key(a, b)).map_or(&[], Vec::as_slice)
    }

    fn neighbors(&self, t: TokenId) -> &[TokenId] {
        self.neighbors.get(t as usize).map_or(&[], Vec::as_slice)
    }
}

fn key(a: TokenId, b: TokenId) -> (TokenId, TokenId) {
    (a.min(b), a.max(b))
}

/// Enumerates the cycles through `starts` (in priority order, no duplicates), storing at most
/// `cap`. All 2-hop cycles come first (over all starts), then triangles, then 4-hop loops, so a
/// cap keeps the cheaper, more common shapes.
///
/// Deduplication: the same directed loop of swaps reached from two start tokens (a triangle
/// through WMATIC and USDC, both start tokens) is one loop in two rotations; it is stored once,
/// under the start token listed first, with the other start's position in
/// [`Cycle::rotations`] so the search still borrows it from either token. Otherwise every
/// enumerated cycle is distinct by construction (pool addresses are unique, the pools and the
/// tokens of a cycle are distinct).
pub(crate) fn enumerate(
    pools: &Pools,
    index: &PairIndex,
    starts: &[TokenId],
    token_count: usize,
    cap: usize,
    max_hops: usize,
) -> Cycles {
    let cap = cap.min(u32::MAX as usize);
    // priority[t] = position of t in `starts`, or MAX for non-start tokens.
    let mut priority = vec![usize::MAX; token_count];
    for (i, &s) in starts.iter().enumerate() {
        if let Some(p) = priority.get_mut(s as usize) {
            *p = (*p).min(i);
        }
    }
    let prio = |t: TokenId| priority.get(t as usize).copied().unwrap_or(usize::MAX);

    let mut out = Cycles::default();
    for len in 2..=max_hops.clamp(2, MAX_HOPS) {
        for (i, &s) in starts.iter().enumerate() {
            if prio(s) != i {
                continue; // a duplicate start token
            }
            // Token paths s → t1 → … → t(len−1) → s with distinct tokens, none of a higher
            // priority than s (that loop is emitted from the higher-priority start instead).
            let mut path = [s; MAX_HOPS];
            token_paths(index, &prio, i, len, &mut path, 1, &mut |tokens| {
                emit_pool_choices(pools, index, tokens, &prio, cap, &mut out);
            });
        }
    }
    // Per-pool CSR index: count, prefix-sum, fill (cycle ids ascending per pool).
    let n = pools.len();
    let mut counts = vec![0u32; n + 1];
    for c in &out.list {
        for &p in c.pools() {
            if let Some(k) = counts.get_mut(p as usize + 1) {
                *k += 1;
            }
        }
    }
    for i in 0..n {
        counts[i + 1] += counts[i];
    }
    let mut fill = counts.clone();
    let mut by_pool = vec![0 as CycleId; counts[n] as usize];
    for (id, c) in (0 as CycleId..).zip(&out.list) {
        for &p in c.pools() {
            if let Some(slot) = fill.get_mut(p as usize) {
                by_pool[*slot as usize] = id;
                *slot += 1;
            }
        }
    }
    out.offsets = counts;
    out.by_pool = by_pool;
    out
}

/// Extends `path[..depth]` (starting at a start token of priority `rank`) to every token path of
/// `len` tokens that closes back to `path[0]`, calling `visit` with each.
fn token_paths(
    index: &PairIndex,
    prio: &impl Fn(TokenId) -> usize,
    rank: usize,
    len: usize,
    path: &mut [TokenId; MAX_HOPS],
    depth: usize,
    visit: &mut impl FnMut(&[TokenId]),
) {
    let start = path[0];
    let Some(&last) = path.get(depth - 1) else {
        return;
    };
    if depth == len {
        if !index.pools(last, start).is_empty() {
            visit(&path[..len]);
        }
        return;
    }
    for &t in index.neighbors(last) {
        if t == start || prio(t) < rank || path[..depth].contains(&t) {
            continue;
        }
        path[depth] = t;
        token_paths(index, prio, rank, len, path, depth + 1, visit);
    }
}

/// Stores one cycle per choice of pool on each edge of the token loop `tokens`
/// (`tokens[i] → tokens[i + 1]`, closing back to `tokens[0]`), pools distinct.
fn emit_pool_choices(
    pools: &Pools,
    index: &PairIndex,
    tokens: &[TokenId],
    prio: &impl Fn(TokenId) -> usize,
    cap: usize,
    out: &mut Cycles,
) {
    let n = tokens.len();
    let edge = |i: usize| index.pools(tokens[i], tokens[(i + 1) % n]);
    let mut rotations = 0u8;
    for (i, &t) in tokens.iter().enumerate() {
        if prio(t) != usize::MAX {
            rotations |= 1 << i;
        }
    }
    if out.list.len() >= cap {
        // Full: count this loop's cycles without walking them (a hub-heavy market has billions
        // of pool choices past the cap, and walking them only to count took hours).
        let lens: [u64; MAX_HOPS] =
            core::array::from_fn(|i| if i < n { edge(i).len() as u64 } else { 1 });
        let all = lens[..n].iter().fold(1u64, |a, &m| a.saturating_mul(m));
        // A longer loop's tokens are distinct, so its edges are distinct pairs and its pools
        // differ; a 2-token loop uses one pair twice and needs two different pools of it.
        let cycles = if n == 2 {
            lens[0].saturating_mul(lens[0].saturating_sub(1))
        } else {
            all
        };
        out.dropped = out.dropped.saturating_add(cycles);
        return;
    }
    let mut choice = [0usize; MAX_HOPS];
    loop {
        let mut c = Cycle {
            pools: [0; MAX_HOPS],
            start: tokens[0],
            len: n as u8,
            directions: 0,
            rotations,
        };
        let mut distinct = true;
        for i in 0..n {
            let p = edge(i)[choice[i]];
            if c.pools[..i].contains(&p) {
                distinct = false;
            }
            c.pools[i] = p;
            let zfo = pools.tokens(p).is_some_and(|(t0, _)| t0 == tokens[i]);
            c.directions |= u8::from(zfo) << i;
        }
        if distinct {
            if out.list.len() < cap {
                out.list.push(c);
            } else {
                out.dropped += 1;
            }
        }
        // Next combination (odometer over the edges' pool lists).
        let mut k = 0;
        loop {
            if k == n {
                return;
            }
            choice[k] += 1;
            if choice[k] < edge(k).len() {
                break;
            }
            choice[k] = 0;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::build_tables;
    use crate::{DexSpec, MarketSpec, PoolKind, PoolSpec, TokenSpec};
    use alloy_primitives::Address;
    use std::collections::HashSet;

    fn addr(b: u8) -> Address {
        Address::with_last_byte(b)
    }

    /// Tokens 1..=n; pools given as (pool byte, token a byte, token b byte).
    fn market(n: u8, pools: &[(u8, u8, u8)]) -> MarketSpec {
        MarketSpec {
            block: 0,
            base_fee: 0,
            tokens: (1..=n)
                .map(|i| TokenSpec {
                    address: addr(i),
                    symbol: format!("T{i}"),
                    decimals: 18,
                })
                .collect(),
            dexes: vec![DexSpec {
                name: "d".into(),
                factory: addr(0xf0),
                kind: PoolKind::UniswapV2,
                flash_swap: true,
            }],
            pools: pools
                .iter()
                .map(|&(p, a, b)| {
                    PoolSpec::v2(
                        addr(p),
                        0,
                        addr(a.min(b)),
                        addr(a.max(b)),
                        3_000,
                        1000,
                        1000,
                    )
                })
                .collect(),
            capital: Vec::new(),
            lenders: Vec::new(),
        }
    }

    fn build(spec: &MarketSpec, starts: &[TokenId], cap: usize) -> (Pools, Cycles) {
        let (tokens, pools, _) = build_tables(spec).unwrap();
        let index = PairIndex::new(&pools, tokens.len());
        let cycles = enumerate(&pools, &index, starts, tokens.len(), cap, MAX_HOPS);
        (pools, cycles)
    }

    /// Follows a cycle's tokens and checks it closes at its start with connected hops.
    fn check_closed(pools: &Pools, c: &Cycle) {
        let mut at = c.start;
        for (i, &p) in c.pools().iter().enumerate() {
            let (t0, t1) = pools.tokens(p).unwrap();
            if c.zero_for_one(i) {
                assert_eq!(t0, at);
                at = t1;
            } else {
                assert_eq!(t1, at);
                at = t0;
            }
        }
        assert_eq!(at, c.start);
    }

    #[test]
    fn finds_both_directions_of_pairs_and_triangles() {
        // Tokens 0,1,2 (ids). Two pools on 0-1, one on 1-2, one on 2-0.
        let spec = market(3, &[(0x10, 1, 2), (0x11, 1, 2), (0x12, 2, 3), (0x13, 3, 1)]);
        let (pools, cycles) = build(&spec, &[0], 100);
        // 2-hop: (p10,p11) and (p11,p10). Triangles: 2 pools on 0-1 × 2 directions.
        assert_eq!(cycles.len(), 2 + 4);
        assert_eq!(cycles.dropped(), 0);
        let mut seen = HashSet::new();
        for id in 0..cycles.len() as CycleId {
            let c = *cycles.get(id).unwrap();
            check_closed(&pools, &c);
            assert_eq!(c.start, 0);
            assert!(seen.insert((c.pools, c.directions)), "duplicate {c:?}");
        }
        // Per-pool index: each 0-1 pool is in both 2-hop cycles and 2 triangles.
        assert_eq!(cycles.through(0).len(), 4);
        assert_eq!(cycles.through(2).len(), 4);
        assert_eq!(cycles.through(99).len(), 0);
        for p in 0..4 {
            for &id in cycles.through(p) {
                assert!(cycles.get(id).unwrap().pools().contains(&p));
            }
        }
    }

    #[test]
    fn rotations_through_two_start_tokens_are_kept_once() {
        let spec = market(3, &[(0x10, 1, 2), (0x11, 1, 2), (0x12, 2, 3), (0x13, 3, 1)]);
        let (_, one) = build(&spec, &[0], 100);
        let (_, both) = build(&spec, &[0, 1, 0], 100);
        // Every loop through token 1 also passes token 0, so starting at 1 adds nothing.
        assert_eq!(both.len(), one.len());
        let (pools, second_first) = build(&spec, &[1, 0], 100);
        assert_eq!(second_first.len(), one.len());
        for id in 0..second_first.len() as CycleId {
            let c = *second_first.get(id).unwrap();
            assert_eq!(c.start, 1);
            // Both start tokens are marked: wherever token 0 enters a hop, that rotation may
            // be borrowed in token 0 instead.
            for r in 0..usize::from(c.len) {
                let rotated = c.rotated(r);
                let at = entering(&pools, &c, r);
                assert_eq!(
                    c.rotations >> r & 1 == 1,
                    at == 0 || at == 1,
                    "{c:?} at {r}"
                );
                assert_eq!(rotated.pools[0], c.pools[r]);
                let mut back = rotated;
                back.start = entering(&pools, &rotated, 0);
                check_closed(&pools, &back);
            }
        }
        let (_, only_one) = build(&spec, &[1], 100);
        assert!((0..only_one.len() as CycleId).all(|i| only_one.get(i).unwrap().rotations == 1));
    }

    /// The token entering hop `i` of `c`.
    fn entering(pools: &Pools, c: &Cycle, i: usize) -> TokenId {
        let (t0, t1) = pools.tokens(c.pools[i]).unwrap();
        if c.zero_for_one(i) { t0 } else { t1 }
    }

    #[test]
    fn finds_four_hop_loops_both_ways() {
        // A square 1-2-3-4-1 with one pool per edge: no pairs, no triangles, one 4-loop per
        // direction. A diagonal 1-3 adds two triangles, each in both directions, and no
        // 4-loop (a loop over it would repeat a token).
        let square = market(4, &[(0x10, 1, 2), (0x11, 2, 3), (0x12, 3, 4), (0x13, 4, 1)]);
        let (pools, cycles) = build(&square, &[0], 100);
        assert_eq!(cycles.len(), 2);
        for id in 0..2 {
            let c = *cycles.get(id).unwrap();
            assert_eq!(c.len, 4);
            check_closed(&pools, &c);
        }
        let mut with_diagonal = square.clone();
        with_diagonal.pools.push(PoolSpec::v2(
            addr(0x14),
            0,
            addr(1),
            addr(3),
            3_000,
            1000,
            1000,
        ));
        let (pools, cycles) = build(&with_diagonal, &[0], 100);
        let lens: Vec<u8> = (0..cycles.len() as CycleId)
            .map(|i| cycles.get(i).unwrap().len)
            .collect();
        // Triangles 0-1-2 and 0-3-2 in both directions come before the two 4-loops.
        assert_eq!(lens, [3, 3, 3, 3, 4, 4]);
        for id in 0..cycles.len() as CycleId {
            check_closed(&pools, cycles.get(id).unwrap());
        }
    }

    #[test]
    fn cap_keeps_pairs_first_and_counts_the_rest() {
        let spec = market(3, &[(0x10, 1, 2), (0x11, 1, 2), (0x12, 2, 3), (0x13, 3, 1)]);
        let (_, capped) = build(&spec, &[0], 3);
        assert_eq!(capped.len(), 3);
        assert_eq!(capped.dropped(), 3);
        assert_eq!(capped.get(0).unwrap().len, 2);
        assert_eq!(capped.get(1).unwrap().len, 2);
        assert_eq!(capped.get(2).unwrap().len, 3);
    }

    #[test]
    fn past_the_cap_cycles_are_counted_as_walking_them_would() {
        // Several pools per pair (2-hop loops need two different ones), triangles and squares
        // over four tokens, two start tokens: every cap from none to all stores a prefix and
        // counts the rest, the same total.
        let mut list = Vec::new();
        let mut addr = 0x10;
        for (a, b, n) in [
            (1, 2, 3),
            (2, 3, 2),
            (3, 1, 2),
            (3, 4, 3),
            (4, 1, 1),
            (2, 4, 2),
        ] {
            for _ in 0..n {
                list.push((addr, a, b));
                addr += 1;
            }
        }
        let spec = market(4, &list);
        let (_, all) = build(&spec, &[0, 1], usize::MAX);
        let total = all.len() as u64;
        assert_eq!(all.dropped(), 0);
        assert!(total > 50, "{total}");
        for cap in [
            0,
            1,
            5,
            total as usize / 2,
            total as usize - 1,
            total as usize,
        ] {
            let (_, capped) = build(&spec, &[0, 1], cap);
            assert_eq!(capped.len(), cap, "cap {cap}");
            assert_eq!(capped.len() as u64 + capped.dropped(), total, "cap {cap}");
            for id in 0..cap as CycleId {
                assert_eq!(capped.get(id), all.get(id), "cap {cap}, cycle {id}");
            }
        }
    }

    #[test]
    fn max_hops_bounds_the_cycle_length() {
        // Pairs, triangles and a square: 2 pools on 0-1, one each on 1-2, 2-0, 2-3, 3-0.
        let spec = market(
            4,
            &[
                (0x10, 1, 2),
                (0x11, 1, 2),
                (0x12, 2, 3),
                (0x13, 3, 1),
                (0x14, 3, 4),
                (0x15, 4, 1),
            ],
        );
        let (tokens, pools, _) = build_tables(&spec).unwrap();
        let index = PairIndex::new(&pools, tokens.len());
        let lens = |max_hops| {
            let c = enumerate(&pools, &index, &[0], tokens.len(), 1_000, max_hops);
            let mut lens: Vec<u8> = (0..c.len() as CycleId)
                .map(|i| c.get(i).unwrap().len)
                .collect();
            lens.dedup();
            lens
        };
        assert_eq!(lens(MAX_HOPS), [2, 3, 4]);
        assert_eq!(lens(3), [2, 3]);
        assert_eq!(lens(2), [2]);
        // Out of range is clamped (the config refuses it before it gets here).
        assert_eq!(lens(1), [2]);
        assert_eq!(lens(9), [2, 3, 4]);
    }

    #[test]
    fn no_cycles_without_a_way_back() {
        let spec = market(3, &[(0x10, 1, 2), (0x12, 2, 3)]);
        let (_, cycles) = build(&spec, &[0, 1, 2], 100);
        assert_eq!(cycles.len(), 0);
    }
}
