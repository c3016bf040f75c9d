//! Arbitrage cycles, enumerated once at build time.
//!
//! A cycle starts and ends at a configured start token: 2-hop (the same token pair on two
//! different pools) or 3-hop (a triangle over three pools). Each is stored once as a small
//! `Copy` record, and every pool keeps the ids of the cycles that use it (a CSR index), so a
//! `Sync` on one pool searches only the cycles it can have changed.

use std::collections::HashMap;

use crate::MAX_HOPS;
use crate::pools::{PoolId, Pools, TokenId};

/// Dense cycle id: index into [`Cycles`].
pub(crate) type CycleId = u32;

/// One directed cycle of swaps. 20 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// Pools in swap order; entries past `len` are unused.
    pub(crate) pools: [PoolId; MAX_HOPS],
    /// Token borrowed at the start and returned with the profit.
    pub(crate) start: TokenId,
    /// Number of hops, 2 or 3.
    pub(crate) len: u8,
    /// Bit `i` set: hop `i` sends the pool's token0 in and takes token1 out.
    pub(crate) zero_for_one: u8,
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
        self.zero_for_one >> i & 1 == 1
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
/// `cap`. All 2-hop cycles come first (over all starts), then triangles, so a cap keeps the
/// cheaper, more common shapes.
///
/// Deduplication: the same directed loop of swaps reached from two start tokens (a triangle
/// through WMATIC and USDC, both start tokens) is one trade in two rotations; it is kept once,
/// under the start token listed first. Otherwise every enumerated cycle is distinct by
/// construction (pool addresses are unique, pools in a cycle are distinct).
pub(crate) fn enumerate(
    pools: &Pools,
    index: &PairIndex,
    starts: &[TokenId],
    token_count: usize,
    cap: usize,
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
    let zfo = |pool: PoolId, from: TokenId| pools.tokens(pool).is_some_and(|(t0, _)| t0 == from);

    let mut out = Cycles::default();
    let push = |c: Cycle, out: &mut Cycles| {
        if out.list.len() < cap {
            out.list.push(c);
        } else {
            out.dropped += 1;
        }
    };

    for (i, &s) in starts.iter().enumerate() {
        if prio(s) != i {
            continue; // a duplicate start token
        }
        for &t in index.neighbors(s) {
            if prio(t) < i {
                continue; // already emitted as a rotation from t
            }
            let ps = index.pools(s, t);
            for &p in ps {
                for &q in ps {
                    if p == q {
                        continue;
                    }
                    let bits = u8::from(zfo(p, s)) | u8::from(zfo(q, t)) << 1;
                    push(
                        Cycle {
                            pools: [p, q, 0],
                            start: s,
                            len: 2,
                            zero_for_one: bits,
                        },
                        &mut out,
                    );
                }
            }
        }
    }

    for (i, &s) in starts.iter().enumerate() {
        if prio(s) != i {
            continue;
        }
        for &b in index.neighbors(s) {
            if prio(b) < i {
                continue;
            }
            for &c in index.neighbors(b) {
                if c == s || prio(c) < i {
                    continue;
                }
                let closing = index.pools(c, s);
                if closing.is_empty() {
                    continue;
                }
                for &p1 in index.pools(s, b) {
                    for &p2 in index.pools(b, c) {
                        for &p3 in closing {
                            let bits = u8::from(zfo(p1, s))
                                | u8::from(zfo(p2, b)) << 1
                                | u8::from(zfo(p3, c)) << 2;
                            push(
                                Cycle {
                                    pools: [p1, p2, p3],
                                    start: s,
                                    len: 3,
                                    zero_for_one: bits,
                                },
                                &mut out,
                            );
                        }
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::build_tables;
    use crate::{DexSpec, MarketSpec, PoolSpec, TokenSpec};
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
                fee_bps: 30,
            }],
            pools: pools
                .iter()
                .map(|&(p, a, b)| PoolSpec {
                    address: addr(p),
                    dex: 0,
                    token0: addr(a.min(b)),
                    token1: addr(a.max(b)),
                    reserve0: 1000,
                    reserve1: 1000,
                })
                .collect(),
            capital: Vec::new(),
        }
    }

    fn build(spec: &MarketSpec, starts: &[TokenId], cap: usize) -> (Pools, Cycles) {
        let (tokens, pools, _) = build_tables(spec).unwrap();
        let index = PairIndex::new(&pools, tokens.len());
        let cycles = enumerate(&pools, &index, starts, tokens.len(), cap);
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
            assert!(seen.insert((c.pools, c.zero_for_one)), "duplicate {c:?}");
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
        let (_, second_first) = build(&spec, &[1, 0], 100);
        assert_eq!(second_first.len(), one.len());
        assert!(
            (0..second_first.len() as CycleId).all(|i| second_first.get(i).unwrap().start == 1)
        );
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
    fn no_cycles_without_a_way_back() {
        let spec = market(3, &[(0x10, 1, 2), (0x12, 2, 3)]);
        let (_, cycles) = build(&spec, &[0, 1, 2], 100);
        assert_eq!(cycles.len(), 0);
    }
}
