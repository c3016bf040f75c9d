//! Pool snapshot files: the [`MarketSpec`] a replay starts from, as versioned JSON
//! (documented in `docs/formats.md`).

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};

use alloy_primitives::Address;
use polyarb_core::{MarketSpec, PoolState, TableError};

/// Value of the `format` field.
pub const SNAPSHOT_FORMAT: &str = "polyarb-snapshot";
/// Version this build writes. It also reads version 1 (V2 pairs only, the fee on the DEX).
pub const SNAPSHOT_VERSION: u32 = 2;

/// Why a snapshot could not be read or written.
#[derive(Debug)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    Io(std::io::Error),
    /// Not JSON of the snapshot shape.
    Parse(serde_json::Error),
    /// A snapshot, but of another format or version.
    Version { format: String, version: u32 },
    /// Well-formed but inconsistent (a pool naming an unknown DEX, a fee of 100 %, …).
    Invalid(TableError),
    /// The block is `u64::MAX`: logs at or before the snapshot's block count as applied, so no
    /// log could ever update its pools.
    LastBlock,
    /// A V2 pair with a zero reserve: never initialized (a pair that has been minted keeps
    /// reserves above zero for good), which discovery does not keep.
    ZeroReserve(Address),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "snapshot i/o: {e}"),
            Self::Parse(e) => write!(f, "snapshot is not valid: {e}"),
            Self::Version { format, version } => write!(
                f,
                "snapshot is {format:?} version {version}; this build reads {SNAPSHOT_FORMAT:?} versions 1 and {SNAPSHOT_VERSION}"
            ),
            Self::Invalid(e) => write!(f, "snapshot is inconsistent: {e}"),
            Self::LastBlock => write!(
                f,
                "snapshot block is u64::MAX: no later block's logs could apply to it"
            ),
            Self::ZeroReserve(pool) => write!(
                f,
                "snapshot pair {pool} has a zero reserve (an uninitialized pair)"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Parse(e) => Some(e),
            Self::Invalid(e) => Some(e),
            Self::Version { .. } | Self::LastBlock | Self::ZeroReserve(_) => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile<M> {
    format: String,
    version: u32,
    /// Chain the snapshot was taken on, if known.
    chain_id: Option<u64>,
    market: M,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// Version 1: V2 pairs only, with the fee on the DEX (basis points) and reserves on the pool.
mod v1 {
    use alloy_primitives::Address;
    use polyarb_core::{
        CapitalSpec, DexSpec, MarketSpec, PoolKind, PoolSpec, TableError, TokenSpec,
    };
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Market {
        block: u64,
        base_fee: u128,
        tokens: Vec<TokenSpec>,
        dexes: Vec<Dex>,
        pools: Vec<Pool>,
        #[serde(default)]
        capital: Vec<CapitalSpec>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Dex {
        name: String,
        factory: Address,
        fee_bps: u32,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pool {
        address: Address,
        dex: u8,
        token0: Address,
        token1: Address,
        reserve0: u128,
        reserve1: u128,
    }

    impl Market {
        /// The same market in today's types: each pair takes its DEX's fee, in pips.
        pub(super) fn upgrade(self) -> Result<MarketSpec, TableError> {
            let mut pools = Vec::with_capacity(self.pools.len());
            for p in self.pools {
                let Some(dex) = self.dexes.get(usize::from(p.dex)) else {
                    return Err(TableError::BadDex {
                        pool: p.address,
                        dex: p.dex,
                    });
                };
                let fee_pips = dex.fee_bps.saturating_mul(100);
                pools.push(PoolSpec::v2(
                    p.address, p.dex, p.token0, p.token1, fee_pips, p.reserve0, p.reserve1,
                ));
            }
            Ok(MarketSpec {
                block: self.block,
                base_fee: self.base_fee,
                tokens: self.tokens,
                dexes: self
                    .dexes
                    .into_iter()
                    .map(|d| DexSpec {
                        name: d.name,
                        factory: d.factory,
                        kind: PoolKind::UniswapV2,
                    })
                    .collect(),
                pools,
                capital: self.capital,
            })
        }
    }
}

/// Serialises `market` as a snapshot document (the current version).
pub fn to_json(market: &MarketSpec, chain_id: Option<u64>) -> String {
    let doc = SnapshotFile {
        format: SNAPSHOT_FORMAT.into(),
        version: SNAPSHOT_VERSION,
        chain_id,
        market: market.clone(),
    };
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Parses and checks a snapshot document of version 1 or 2: as the engine's tables would
/// ([`MarketSpec::check`]), and that it is a state a chain can be in (a block before
/// `u64::MAX`, no V2 pair with a zero reserve).
pub fn from_json(text: &str) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let (market, chain_id) = parse(text)?;
    market.check().map_err(SnapshotError::Invalid)?;
    if market.block == u64::MAX {
        return Err(SnapshotError::LastBlock);
    }
    for p in &market.pools {
        if let PoolState::UniswapV2 { reserve0, reserve1 } = p.state
            && (reserve0 == 0 || reserve1 == 0)
        {
            return Err(SnapshotError::ZeroReserve(p.address));
        }
    }
    Ok((market, chain_id))
}

/// Parses a snapshot document of version 1 or 2 without checking it the way the engine's
/// tables would ([`MarketSpec::check`]): for tools that read what `polyarb snapshot` wrote.
pub fn parse(text: &str) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let header: Header = serde_json::from_str(text).map_err(SnapshotError::Parse)?;
    let (market, chain_id) = match (header.format.as_str(), header.version) {
        (SNAPSHOT_FORMAT, SNAPSHOT_VERSION) => {
            let doc: SnapshotFile<MarketSpec> =
                serde_json::from_str(text).map_err(SnapshotError::Parse)?;
            (doc.market, doc.chain_id)
        }
        (SNAPSHOT_FORMAT, 1) => {
            let doc: SnapshotFile<v1::Market> =
                serde_json::from_str(text).map_err(SnapshotError::Parse)?;
            let market = doc.market.upgrade().map_err(SnapshotError::Invalid)?;
            (market, doc.chain_id)
        }
        _ => {
            return Err(SnapshotError::Version {
                format: header.format,
                version: header.version,
            });
        }
    };
    Ok((market, chain_id))
}

/// Writes a snapshot file (via a temporary file, so a crash never leaves half a snapshot).
pub fn write(path: &Path, market: &MarketSpec, chain_id: Option<u64>) -> Result<(), SnapshotError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, to_json(market, chain_id) + "\n").map_err(SnapshotError::Io)?;
    std::fs::rename(&tmp, path).map_err(SnapshotError::Io)
}

/// Reads a snapshot file.
pub fn read(path: &Path) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(SnapshotError::Io)?;
    from_json(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use polyarb_core::clmm::tick_math::{MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK};
    use polyarb_core::{ClStateSpec, DexSpec, PoolKind, PoolSpec, PoolState, TickSpec, TokenSpec};

    fn market() -> MarketSpec {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        MarketSpec {
            block: 7,
            base_fee: 30_000_000_000,
            tokens: vec![
                TokenSpec {
                    address: a,
                    symbol: "A".into(),
                    decimals: 18,
                },
                TokenSpec {
                    address: b,
                    symbol: "B".into(),
                    decimals: 6,
                },
            ],
            dexes: vec![DexSpec {
                name: "x".into(),
                factory: Address::repeat_byte(9),
                kind: PoolKind::UniswapV2,
            }],
            pools: vec![PoolSpec::v2(
                Address::repeat_byte(3),
                0,
                a,
                b,
                3_000,
                (1u128 << 111) + 5,
                12345,
            )],
            capital: Vec::new(),
        }
    }

    #[test]
    fn round_trips_exactly() {
        let m = market();
        let (back, chain) = from_json(&to_json(&m, Some(137))).unwrap();
        assert_eq!(back, m);
        assert_eq!(chain, Some(137));
    }

    /// A V3 and an Algebra pool at the edges of their types: the lowest and the highest √price
    /// (160 bits), the ticks that hold them, the extreme liquidities.
    fn concentrated_market() -> MarketSpec {
        let mut m = market();
        m.dexes.push(DexSpec {
            name: "v3".into(),
            factory: Address::repeat_byte(10),
            kind: PoolKind::UniswapV3,
        });
        m.dexes.push(DexSpec {
            name: "algebra".into(),
            factory: Address::repeat_byte(11),
            kind: PoolKind::Algebra,
        });
        let state = |sqrt_price_x96: U256, tick: i32, spacing: i32| ClStateSpec {
            sqrt_price_x96,
            tick,
            liquidity: u128::MAX,
            tick_spacing: spacing,
            window: [-887_272, 887_272],
            ticks: vec![
                TickSpec {
                    tick: -887_220,
                    liquidity_net: i128::MAX,
                    liquidity_gross: u128::MAX,
                },
                TickSpec {
                    tick: 887_220,
                    liquidity_net: i128::MIN + 1,
                    liquidity_gross: (1u128 << 127) + 1,
                },
            ],
            fee_model: None,
        };
        let (a, b) = (m.tokens[0].address, m.tokens[1].address);
        m.pools.push(PoolSpec {
            address: Address::repeat_byte(4),
            dex: 1,
            token0: a,
            token1: b,
            fee_pips: 999_999,
            state: PoolState::UniswapV3(state(MIN_SQRT_RATIO, MIN_TICK, 1)),
        });
        m.pools.push(PoolSpec {
            address: Address::repeat_byte(5),
            dex: 2,
            token0: a,
            token1: b,
            fee_pips: 65_535,
            state: PoolState::Algebra(state(MAX_SQRT_RATIO - U256::from(1u8), MAX_TICK - 1, 60)),
        });
        m
    }

    #[test]
    fn concentrated_pools_round_trip_exactly() {
        let m = concentrated_market();
        let text = to_json(&m, Some(137));
        let (back, chain) = parse(&text).unwrap();
        assert_eq!(back, m);
        assert_eq!(chain, Some(137));
        // Exact: the big integers are written as JSON integers (the U256 as a hex string),
        // never as floats.
        for field in [
            format!("\"liquidity\": {}", u128::MAX),
            format!("\"liquidity_net\": {}", i128::MIN + 1),
            format!("\"liquidity_gross\": {}", (1u128 << 127) + 1),
            "\"sqrt_price_x96\": \"0xfffd8963efd1fc6a506488495d951d5263988d25\"".to_owned(),
        ] {
            assert!(text.contains(&field), "{field} not in {text}");
        }
        // The checked reader (what replay uses) takes it and gives back the same market.
        let (checked, _) = from_json(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked, m);
    }

    #[test]
    fn rejects_other_versions_garbage_and_bad_dex() {
        let text = to_json(&market(), None).replace("\"version\": 2", "\"version\": 3");
        assert!(matches!(
            from_json(&text),
            Err(SnapshotError::Version { version: 3, .. })
        ));
        assert!(matches!(from_json("{"), Err(SnapshotError::Parse(_))));
        let cut = to_json(&market(), None);
        assert!(from_json(&cut[..cut.len() / 2]).is_err());
        let mut m = market();
        m.pools[0].dex = 4;
        assert!(matches!(
            from_json(&to_json(&m, None)),
            Err(SnapshotError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_a_block_no_log_can_follow_and_zero_reserves() {
        let mut m = market();
        m.block = u64::MAX;
        let e = from_json(&to_json(&m, Some(137))).unwrap_err();
        assert!(matches!(e, SnapshotError::LastBlock), "{e}");
        assert!(e.to_string().contains("u64::MAX"), "{e}");
        m.block = u64::MAX - 1;
        assert!(from_json(&to_json(&m, Some(137))).is_ok());

        for (r0, r1) in [(0, 12345), (12345, 0), (0, 0)] {
            let mut m = market();
            m.pools[0].state = PoolState::UniswapV2 {
                reserve0: r0,
                reserve1: r1,
            };
            let e = from_json(&to_json(&m, None)).unwrap_err();
            assert!(
                matches!(e, SnapshotError::ZeroReserve(a) if a == m.pools[0].address),
                "{r0}/{r1}: {e}"
            );
            assert!(e.to_string().contains("zero reserve"), "{e}");
            // The unchecked reader (tools) still reads it.
            assert!(parse(&to_json(&m, None)).is_ok());
        }
        // A concentrated pool with no active liquidity is a real state, not refused.
        let mut cl = concentrated_market();
        if let PoolState::UniswapV3(s) = &mut cl.pools[1].state {
            s.liquidity = 0;
        }
        assert!(from_json(&to_json(&cl, None)).is_ok());
    }

    #[test]
    fn reads_version_1_with_the_dex_fee_on_each_pool() {
        let text = r#"{"format": "polyarb-snapshot", "version": 1, "chain_id": 137,
          "market": {"block": 7, "base_fee": 9,
            "tokens": [{"address": "0x0101010101010101010101010101010101010101", "symbol": "A", "decimals": 18},
                       {"address": "0x0202020202020202020202020202020202020202", "symbol": "B", "decimals": 6}],
            "dexes": [{"name": "x", "factory": "0x0909090909090909090909090909090909090909", "fee_bps": 25}],
            "pools": [{"address": "0x0303030303030303030303030303030303030303", "dex": 0,
                       "token0": "0x0101010101010101010101010101010101010101",
                       "token1": "0x0202020202020202020202020202020202020202",
                       "reserve0": 5, "reserve1": 12345}]}}"#;
        let (m, chain) = from_json(text).unwrap();
        assert_eq!(chain, Some(137));
        assert_eq!(m.dexes[0].kind, PoolKind::UniswapV2);
        // 25 bps = 2 500 pips, now on the pool.
        assert_eq!(
            m.pools[0],
            PoolSpec::v2(
                Address::repeat_byte(3),
                0,
                Address::repeat_byte(1),
                Address::repeat_byte(2),
                2_500,
                5,
                12345
            )
        );
        // A version-1 pool naming a DEX that is not there is refused, not guessed.
        let bad = text.replace("\"dex\": 0", "\"dex\": 1");
        assert!(matches!(from_json(&bad), Err(SnapshotError::Invalid(_))));
    }
}
