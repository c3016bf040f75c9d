//! Struct-of-arrays tables of tokens and pools of every [`PoolKind`], with dense ids and an
//! address index.
//!
//! Columns rather than a `Vec` of structs because the hot loops read one or two columns of many
//! pools (reserves of the hops of a cycle) and never the cold ones (addresses, symbols). Ids are
//! dense `u32` indices into every column, so a lookup after the address index is a bounds-checked
//! load, and the index itself hashes an address with no allocation.

use core::fmt;
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

use alloy_primitives::Address;

use crate::{MarketSpec, PIPS, PoolKind, PoolSpec, PoolState};

/// Dense token id: index into the token columns.
pub type TokenId = u32;
/// Dense pool id: index into the pool columns; also [`Hop::pool_id`](crate::Hop::pool_id).
pub type PoolId = u32;

/// Largest reserve a V2 pair can hold: reserves are `uint112` on chain.
pub const U112_MAX: u128 = (1u128 << 112) - 1;

/// Hasher for the address index. Addresses of pairs are CREATE2 outputs, i.e. already uniform,
/// so we skip SipHash and fold two 8-byte windows of the address with one multiply (the second
/// window and the multiply keep vanity or hand-made addresses, which share leading bytes, spread).
/// Only ever fed an `Address`: its derived `Hash` writes a length prefix (ignored) and 20 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let mut tail = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        let start = bytes.len().saturating_sub(8);
        tail[..bytes.len() - start].copy_from_slice(&bytes[start..]);
        let folded = u64::from_le_bytes(head) ^ u64::from_le_bytes(tail).rotate_left(29);
        self.0 = (self.0 ^ folded).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, _len: usize) {
        // The slice length prefix of a 20-byte array is a constant; hashing it adds nothing.
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Address-keyed map with the cheap [`AddrHasher`].
pub(crate) type AddrMap<V> = HashMap<Address, V, BuildHasherDefault<AddrHasher>>;

/// Why a [`MarketSpec`] cannot be turned into tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The same token address is listed twice.
    DuplicateToken(Address),
    /// The same pool address is listed twice.
    DuplicatePool(Address),
    /// More tokens or pools than a `u32` id can index.
    TooMany,
    /// A pool names a DEX index past the end of `dexes`.
    BadDex {
        /// The pool.
        pool: Address,
        /// Its `dex` field.
        dex: u8,
    },
    /// A pool's fee is 10⁶ pips (100 %) or more: it would give nothing out.
    BadFee {
        /// The pool.
        pool: Address,
        /// Its fee, pips.
        fee_pips: u32,
    },
    /// A pool's state is of another kind than its DEX's.
    KindMismatch {
        /// The pool.
        pool: Address,
        /// The DEX's kind.
        dex: PoolKind,
        /// The state's kind.
        state: PoolKind,
    },
    /// A pool of a kind this build cannot price yet.
    Unsupported {
        /// The pool.
        pool: Address,
        /// Its kind.
        kind: PoolKind,
    },
    /// A pool's `token0` is not below its `token1`; the pair contract always sorts them, so
    /// a spec that does not would make the engine send swaps in the wrong direction.
    TokenOrder(Address),
    /// A pool's reserve does not fit `uint112`.
    ReserveTooLarge(Address),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateToken(a) => write!(f, "token {a} is listed twice"),
            Self::DuplicatePool(a) => write!(f, "pool {a} is listed twice"),
            Self::TooMany => write!(f, "more tokens or pools than a u32 id can index"),
            Self::BadDex { pool, dex } => write!(f, "pool {pool} names unknown dex index {dex}"),
            Self::BadFee { pool, fee_pips } => {
                write!(
                    f,
                    "pool {pool} has fee {fee_pips} pips, must be below {PIPS}"
                )
            }
            Self::KindMismatch { pool, dex, state } => {
                write!(
                    f,
                    "pool {pool} has {state} state but its dex makes {dex} pools"
                )
            }
            Self::Unsupported { pool, kind } => {
                write!(
                    f,
                    "pool {pool} is of kind {kind}, which this build cannot price"
                )
            }
            Self::TokenOrder(a) => write!(f, "pool {a} has token0 not below token1"),
            Self::ReserveTooLarge(a) => write!(f, "pool {a} has a reserve above uint112"),
        }
    }
}

impl core::error::Error for TableError {}

/// Known tokens, one row per dense [`TokenId`].
#[derive(Debug)]
pub struct Tokens {
    address: Vec<Address>,
    symbol: Vec<String>,
    decimals: Vec<u8>,
    index: AddrMap<TokenId>,
}

impl Tokens {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// Dense id of a token address.
    #[inline]
    pub fn id(&self, address: &Address) -> Option<TokenId> {
        self.index.get(address).copied()
    }

    /// Address of a token id.
    pub fn address(&self, id: TokenId) -> Option<Address> {
        self.address.get(id as usize).copied()
    }

    /// Symbol of a token id, for reports.
    pub fn symbol(&self, id: TokenId) -> Option<&str> {
        self.symbol.get(id as usize).map(String::as_str)
    }

    /// ERC-20 decimals of a token id, for display only (the engine works in raw units).
    pub fn decimals(&self, id: TokenId) -> Option<u8> {
        self.decimals.get(id as usize).copied()
    }
}

/// Known pools, one row per dense [`PoolId`]. Columns common to every kind, then the kind's own
/// (rows of other kinds hold zeros there).
#[derive(Debug)]
pub struct Pools {
    address: Vec<Address>,
    token0: Vec<TokenId>,
    token1: Vec<TokenId>,
    dex: Vec<u8>,
    kind: Vec<PoolKind>,
    /// Swap fee, pips.
    fee_pips: Vec<u32>,
    /// Raw units of token0 (fits uint112).
    reserve0: Vec<u128>,
    /// Raw units of token1 (fits uint112).
    reserve1: Vec<u128>,
    /// Position of the last applied `Sync`: (block, log index).
    last_block: Vec<u64>,
    last_log: Vec<u32>,
    /// Set by a removed (reorged-out) log; cleared by the pool's next applied `Sync`.
    stale: Vec<bool>,
    index: AddrMap<PoolId>,
}

impl Pools {
    /// Number of pools.
    pub fn len(&self) -> usize {
        self.address.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }

    /// Dense id of a pool address. Hashes the address in place; no allocation.
    #[inline]
    pub fn id(&self, address: &Address) -> Option<PoolId> {
        self.index.get(address).copied()
    }

    /// Pair contract of a pool id.
    pub fn address(&self, id: PoolId) -> Option<Address> {
        self.address.get(id as usize).copied()
    }

    /// `(token0, token1)` ids of a pool.
    #[inline]
    pub fn tokens(&self, id: PoolId) -> Option<(TokenId, TokenId)> {
        let i = id as usize;
        Some((*self.token0.get(i)?, *self.token1.get(i)?))
    }

    /// Index into [`MarketSpec::dexes`] of a pool.
    pub fn dex(&self, id: PoolId) -> Option<u8> {
        self.dex.get(id as usize).copied()
    }

    /// Kind of a pool.
    #[inline]
    pub fn kind(&self, id: PoolId) -> Option<PoolKind> {
        self.kind.get(id as usize).copied()
    }

    /// Swap fee of a pool, pips (10⁻⁶ of the input).
    #[inline]
    pub fn fee_pips(&self, id: PoolId) -> Option<u32> {
        self.fee_pips.get(id as usize).copied()
    }

    /// `(reserve0, reserve1)` of a pool, raw token units (zeros for a concentrated pool).
    #[inline]
    pub fn reserves(&self, id: PoolId) -> Option<(u128, u128)> {
        let i = id as usize;
        Some((*self.reserve0.get(i)?, *self.reserve1.get(i)?))
    }

    /// `(block, log index)` of the last applied `Sync` (the snapshot block and 0 before any).
    pub fn last_applied(&self, id: PoolId) -> Option<(u64, u32)> {
        let i = id as usize;
        Some((*self.last_block.get(i)?, *self.last_log.get(i)?))
    }

    /// True if a removed log made the pool's reserves untrustworthy; it is left out of the
    /// search until its next `Sync`.
    #[inline]
    pub fn is_stale(&self, id: PoolId) -> bool {
        self.stale.get(id as usize).copied().unwrap_or(true)
    }

    /// Stores new V2 reserves (raw units, already checked to fit uint112) seen at
    /// `(block, log)` and clears the stale flag. Out-of-range ids are ignored.
    #[inline]
    pub(crate) fn apply(
        &mut self,
        id: PoolId,
        reserve0: u128,
        reserve1: u128,
        block: u64,
        log: u32,
    ) {
        let i = id as usize;
        if i < self.len() {
            self.reserve0[i] = reserve0;
            self.reserve1[i] = reserve1;
            self.last_block[i] = block;
            self.last_log[i] = log;
            self.stale[i] = false;
        }
    }

    /// A log of this pool in `block` was removed by a reorg: mark the pool stale and move its
    /// last applied position back before `block`, so the replacement chain's logs from `block`
    /// on are accepted. Never moves the position forward (a deeper reorg may already have moved
    /// it further back).
    pub(crate) fn mark_removed(&mut self, id: PoolId, block: u64) {
        let i = id as usize;
        if i < self.len() {
            self.stale[i] = true;
            let rewound = (block.saturating_sub(1), u32::MAX);
            if rewound < (self.last_block[i], self.last_log[i]) {
                self.last_block[i] = rewound.0;
                self.last_log[i] = rewound.1;
            }
        }
    }
}

/// Builds the token and pool tables from a spec. Pools naming a token that is not in
/// `spec.tokens` are dropped (as [`MarketSpec::tokens`] documents) and counted in the second
/// return value.
pub(crate) fn build_tables(spec: &MarketSpec) -> Result<(Tokens, Pools, u64), TableError> {
    if spec.tokens.len() > u32::MAX as usize || spec.pools.len() > u32::MAX as usize {
        return Err(TableError::TooMany);
    }

    let mut tokens = Tokens {
        address: Vec::with_capacity(spec.tokens.len()),
        symbol: Vec::with_capacity(spec.tokens.len()),
        decimals: Vec::with_capacity(spec.tokens.len()),
        index: AddrMap::with_capacity_and_hasher(spec.tokens.len(), Default::default()),
    };
    for (id, t) in (0u32..).zip(&spec.tokens) {
        if tokens.index.insert(t.address, id).is_some() {
            return Err(TableError::DuplicateToken(t.address));
        }
        tokens.address.push(t.address);
        tokens.symbol.push(t.symbol.clone());
        tokens.decimals.push(t.decimals);
    }

    let n = spec.pools.len();
    let mut pools = Pools {
        address: Vec::with_capacity(n),
        token0: Vec::with_capacity(n),
        token1: Vec::with_capacity(n),
        dex: Vec::with_capacity(n),
        kind: Vec::with_capacity(n),
        fee_pips: Vec::with_capacity(n),
        reserve0: Vec::with_capacity(n),
        reserve1: Vec::with_capacity(n),
        last_block: Vec::with_capacity(n),
        last_log: Vec::with_capacity(n),
        stale: Vec::with_capacity(n),
        index: AddrMap::with_capacity_and_hasher(n, Default::default()),
    };
    let mut dropped = 0u64;
    for p in &spec.pools {
        check_pool(spec, p)?;
        let (Some(t0), Some(t1)) = (tokens.id(&p.token0), tokens.id(&p.token1)) else {
            dropped += 1;
            continue;
        };
        let (reserve0, reserve1) = match &p.state {
            PoolState::UniswapV2 { reserve0, reserve1 } => (*reserve0, *reserve1),
            PoolState::UniswapV3(_) | PoolState::Algebra(_) => {
                return Err(TableError::Unsupported {
                    pool: p.address,
                    kind: p.kind(),
                });
            }
        };
        let id = pools.len() as PoolId;
        if pools.index.insert(p.address, id).is_some() {
            return Err(TableError::DuplicatePool(p.address));
        }
        pools.address.push(p.address);
        pools.token0.push(t0);
        pools.token1.push(t1);
        pools.dex.push(p.dex);
        pools.kind.push(p.kind());
        pools.fee_pips.push(p.fee_pips);
        pools.reserve0.push(reserve0);
        pools.reserve1.push(reserve1);
        pools.last_block.push(spec.block);
        pools.last_log.push(0);
        pools.stale.push(false);
    }
    Ok((tokens, pools, dropped))
}

/// Checks one pool's spec against its DEX and the chain's invariants.
fn check_pool(spec: &MarketSpec, p: &PoolSpec) -> Result<(), TableError> {
    let Some(dex) = spec.dexes.get(usize::from(p.dex)) else {
        return Err(TableError::BadDex {
            pool: p.address,
            dex: p.dex,
        });
    };
    if dex.kind != p.kind() {
        return Err(TableError::KindMismatch {
            pool: p.address,
            dex: dex.kind,
            state: p.kind(),
        });
    }
    if p.fee_pips >= PIPS {
        return Err(TableError::BadFee {
            pool: p.address,
            fee_pips: p.fee_pips,
        });
    }
    if p.token0 >= p.token1 {
        return Err(TableError::TokenOrder(p.address));
    }
    if let PoolState::UniswapV2 { reserve0, reserve1 } = p.state
        && (reserve0 > U112_MAX || reserve1 > U112_MAX)
    {
        return Err(TableError::ReserveTooLarge(p.address));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DexSpec, TokenSpec};
    use core::hash::BuildHasher;

    fn addr(b: u8) -> Address {
        Address::with_last_byte(b)
    }

    fn spec() -> MarketSpec {
        MarketSpec {
            block: 10,
            base_fee: 1,
            tokens: vec![
                TokenSpec {
                    address: addr(1),
                    symbol: "A".into(),
                    decimals: 18,
                },
                TokenSpec {
                    address: addr(2),
                    symbol: "B".into(),
                    decimals: 6,
                },
            ],
            dexes: vec![DexSpec {
                name: "d".into(),
                factory: addr(0xf0),
                kind: PoolKind::UniswapV2,
            }],
            pools: vec![
                PoolSpec::v2(addr(0x10), 0, addr(1), addr(2), 3_000, 5, 7),
                PoolSpec::v2(addr(0x11), 0, addr(1), addr(9), 3_000, 5, 7),
            ],
            capital: Vec::new(),
        }
    }

    #[test]
    fn builds_columns_and_drops_pools_with_unknown_tokens() {
        let (tokens, pools, dropped) = build_tables(&spec()).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(tokens.len(), 2);
        assert_eq!(pools.len(), 1);
        let id = pools.id(&addr(0x10)).unwrap();
        assert_eq!(pools.tokens(id), Some((0, 1)));
        assert_eq!(pools.reserves(id), Some((5, 7)));
        assert_eq!(pools.fee_pips(id), Some(3_000));
        assert_eq!(pools.kind(id), Some(PoolKind::UniswapV2));
        assert_eq!(pools.last_applied(id), Some((10, 0)));
        assert_eq!(pools.id(&addr(0x11)), None);
        assert_eq!(tokens.symbol(1), Some("B"));
        assert_eq!(tokens.decimals(1), Some(6));
    }

    #[test]
    fn rejects_inconsistent_specs() {
        let mut s = spec();
        s.pools[0].dex = 3;
        assert!(matches!(
            build_tables(&s),
            Err(TableError::BadDex { dex: 3, .. })
        ));

        let mut s = spec();
        s.pools[0].fee_pips = PIPS;
        assert!(matches!(build_tables(&s), Err(TableError::BadFee { .. })));

        let mut s = spec();
        s.dexes[0].kind = PoolKind::UniswapV3;
        assert!(matches!(
            build_tables(&s),
            Err(TableError::KindMismatch { .. })
        ));

        let mut s = spec();
        let p = &mut s.pools[0];
        core::mem::swap(&mut p.token0, &mut p.token1);
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::TokenOrder(addr(0x10))
        );

        let mut s = spec();
        s.pools[0].state = PoolState::UniswapV2 {
            reserve0: 5,
            reserve1: U112_MAX + 1,
        };
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::ReserveTooLarge(addr(0x10))
        );

        let mut s = spec();
        s.pools[1] = s.pools[0].clone();
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::DuplicatePool(addr(0x10))
        );

        let mut s = spec();
        s.tokens[1].address = addr(1);
        assert_eq!(
            build_tables(&s).unwrap_err(),
            TableError::DuplicateToken(addr(1))
        );
    }

    #[test]
    fn removed_rewinds_but_never_forwards() {
        let (_, mut pools, _) = build_tables(&spec()).unwrap();
        pools.apply(0, 1, 2, 20, 4);
        assert!(!pools.is_stale(0));
        pools.mark_removed(0, 19);
        assert!(pools.is_stale(0));
        assert_eq!(pools.last_applied(0), Some((18, u32::MAX)));
        // A later removal must not move the position forward again.
        pools.mark_removed(0, 20);
        assert_eq!(pools.last_applied(0), Some((18, u32::MAX)));
        pools.apply(0, 3, 4, 19, 0);
        assert!(!pools.is_stale(0));
        assert!(pools.is_stale(99), "unknown ids read as stale");
    }

    #[test]
    fn hasher_spreads_addresses_that_differ_only_in_the_last_byte() {
        let b = BuildHasherDefault::<AddrHasher>::default();
        let mut seen: Vec<u64> = (0u8..=255).map(|i| b.hash_one(addr(i))).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
    }
}
