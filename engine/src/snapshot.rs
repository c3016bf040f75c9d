//! Pool snapshot files: the [`MarketSpec`] a replay starts from, as versioned JSON
//! (documented in `docs/formats.md`).

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};

use alloy_primitives::Address;
use polyarb_core::clmm::algebra_fee::{ConfigError, DataStorage, FeeError, RING_SIZE};
use polyarb_core::{AlgebraFeeSpec, ChainTip, MarketSpec, PoolState, TableError};

/// Value of the `format` field.
pub const SNAPSHOT_FORMAT: &str = "polyarb-snapshot";
/// Version this build writes: 4, where a pool may carry the position of its last applied log
/// (`last_log`) and a staleness flag (`stale`), and an Algebra fee model the block of its
/// newest write (`written_block`): what an export of a running engine
/// ([`Engine::market_spec`](polyarb_core::Engine::market_spec)) needs to restart exactly. It
/// also reads version 3 (the same without those fields), version 2 (also without
/// `fee_model`) and version 1 (V2 pairs only, the fee on the DEX).
pub const SNAPSHOT_VERSION: u32 = 4;

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
    /// A V2 pair with a zero reserve and no `stale` flag: never initialized (a pair that has
    /// been minted keeps reserves above zero for good), which discovery does not keep.
    ZeroReserve(Address),
    /// An Algebra pool's fee model is not a state its `DataStorageOperator` can be in.
    FeeModel {
        /// The pool.
        pool: Address,
        /// Why.
        error: FeeModelError,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "snapshot i/o: {e}"),
            Self::Parse(e) => write!(f, "snapshot is not valid: {e}"),
            Self::Version { format, version } => write!(
                f,
                "snapshot is {format:?} version {version}; this build reads {SNAPSHOT_FORMAT:?} versions 1 to {SNAPSHOT_VERSION}"
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
            Self::FeeModel { pool, error } => {
                write!(
                    f,
                    "snapshot pool {pool} has a bad algebra fee model: {error}"
                )
            }
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Parse(e) => Some(e),
            Self::Invalid(e) => Some(e),
            Self::FeeModel { error, .. } => Some(error),
            Self::Version { .. } | Self::LastBlock | Self::ZeroReserve(_) => None,
        }
    }
}

/// Why an Algebra pool's fee model ([`AlgebraFeeSpec`]) is not a state its
/// `DataStorageOperator` can be in. Discovery drops a pool for the same reasons (it runs
/// [`check_fee_model`]), so whatever it writes loads again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeModelError {
    /// A fee model on a pool that is not Algebra.
    NotAlgebra,
    /// The configuration fails `changeFeeConfiguration`'s checks (a zero gamma, a maximum
    /// fee above 65,535 pips).
    Config(ConfigError),
    /// More timepoints before the newest than the ring of 65,536 holds.
    TooLong(usize),
    /// `earlier[position]` is not older than the timepoint after it. Every write has a later
    /// timestamp; ages are counted back from the newest modulo 2^32, as the contract does.
    Order {
        /// Index into `earlier`.
        position: usize,
    },
    /// `first` is given where it must not be (the ring wrapped, or the newest is timepoint 0)
    /// or missing where it must be; or it is not older than `earlier`, or, when `earlier`
    /// reaches back to index 0, it differs from `earlier[0]`.
    First,
    /// `DataStorage::restore` refused the timepoints.
    History(FeeError),
}

impl fmt::Display for FeeModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAlgebra => f.write_str("only algebra pools have a fee model"),
            Self::Config(e) => write!(f, "fee configuration refused: {e}"),
            Self::TooLong(n) => write!(
                f,
                "{n} timepoints before the newest, more than the ring's {}",
                RING_SIZE - 1
            ),
            Self::Order { position } => write!(
                f,
                "earlier timepoint {position} is not older than the one after it"
            ),
            Self::First => f.write_str(
                "timepoint 0 (first) does not fit: given where the ring wrapped or the newest is \
                 timepoint 0, missing otherwise, or not the oldest of the records",
            ),
            Self::History(e) => write!(f, "timepoints do not restore: {e}"),
        }
    }
}

impl std::error::Error for FeeModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::History(e) => Some(e),
            _ => None,
        }
    }
}

/// Checks an Algebra fee model and rebuilds it: the configuration as
/// `changeFeeConfiguration` would, the timepoints in write order with timepoint 0 where the
/// ring needs it, then `DataStorage::restore` with room for every record given plus the
/// next write (`earlier.len() + 2`: a prediction appends one record, which must not evict
/// the oldest, the one at or before the window's start).
pub fn check_fee_model(spec: &AlgebraFeeSpec) -> Result<DataStorage, FeeModelError> {
    spec.config.validate().map_err(FeeModelError::Config)?;
    let n = spec.earlier.len();
    if n > RING_SIZE - 1 {
        return Err(FeeModelError::TooLong(n));
    }
    // Seconds before the newest timepoint, modulo 2^32 (the contract's clock is uint32).
    let age = |ts: u32| spec.newest.block_timestamp.wrapping_sub(ts);
    let mut younger = 0u32;
    for (position, r) in spec.earlier.iter().enumerate().rev() {
        let a = age(r.block_timestamp);
        if a <= younger {
            return Err(FeeModelError::Order { position });
        }
        younger = a;
    }
    let index = usize::from(spec.timepoint_index);
    match (spec.wrapped || index == 0, spec.first) {
        (true, None) => {}
        (false, Some(first)) => {
            let reaches_zero = n == index;
            let fits = if reaches_zero {
                spec.earlier.first() == Some(&first)
            } else {
                age(first.block_timestamp) > younger
            };
            if !fits {
                return Err(FeeModelError::First);
            }
        }
        _ => return Err(FeeModelError::First),
    }
    spec.restore(n + 2).map_err(FeeModelError::History)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile<M> {
    format: String,
    version: u32,
    /// Chain the snapshot was taken on, if known.
    chain_id: Option<u64>,
    /// The newest block the tables hold logs of, as the chain named it (version 4 files a run
    /// wrote since the tip was added; absent in others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tip: Option<ChainTip>,
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
                        flash_swap: true,
                    })
                    .collect(),
                pools,
                capital: self.capital,
                lenders: Vec::new(),
            })
        }
    }
}

/// Serialises `market` as a snapshot document (the current version).
pub fn to_json(market: &MarketSpec, chain_id: Option<u64>) -> String {
    to_json_at(market, chain_id, None)
}

/// [`to_json`] naming the chain's `tip` the tables were exported at.
pub fn to_json_at(market: &MarketSpec, chain_id: Option<u64>, tip: Option<ChainTip>) -> String {
    let doc = SnapshotFile {
        format: SNAPSHOT_FORMAT.into(),
        version: SNAPSHOT_VERSION,
        chain_id,
        tip,
        market: market.clone(),
    };
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Parses and checks a snapshot document of version 1 to 4: as the engine's tables would
/// ([`MarketSpec::check`]), and that it is a state a chain can be in (a block before
/// `u64::MAX`, no V2 pair with a zero reserve unless flagged stale, Algebra fee models that
/// restore: [`check_fee_model`]).
pub fn from_json(text: &str) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let (market, chain_id) = parse(text)?;
    // Fee models first: the tables refuse a bad one too, but without saying what is wrong.
    for p in &market.pools {
        let fee_model = |error| SnapshotError::FeeModel {
            pool: p.address,
            error,
        };
        match &p.state {
            PoolState::Algebra(s) => {
                if let Some(m) = &s.fee_model {
                    // Rebuilt to be checked, then dropped: the engine restores its own.
                    check_fee_model(m).map_err(fee_model)?;
                }
            }
            PoolState::UniswapV3(s) if s.fee_model.is_some() => {
                return Err(fee_model(FeeModelError::NotAlgebra));
            }
            _ => {}
        }
    }
    market.check().map_err(SnapshotError::Invalid)?;
    if market.block == u64::MAX {
        return Err(SnapshotError::LastBlock);
    }
    for p in &market.pools {
        // An export flags a pair a `Sync` emptied: out of the search until its next one.
        if let PoolState::UniswapV2 { reserve0, reserve1 } = p.state
            && (reserve0 == 0 || reserve1 == 0)
            && p.stale.is_fresh()
        {
            return Err(SnapshotError::ZeroReserve(p.address));
        }
    }
    Ok((market, chain_id))
}

/// Parses a snapshot document of version 1 to 4 without checking it the way the engine's
/// tables would ([`MarketSpec::check`]): for tools that read what `polyarb snapshot` wrote.
pub fn parse(text: &str) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let header: Header = serde_json::from_str(text).map_err(SnapshotError::Parse)?;
    let (market, chain_id) = match (header.format.as_str(), header.version) {
        (SNAPSHOT_FORMAT, SNAPSHOT_VERSION) => {
            let doc: SnapshotFile<MarketSpec> =
                serde_json::from_str(text).map_err(SnapshotError::Parse)?;
            (doc.market, doc.chain_id)
        }
        // Version 4 without positions, staleness and write blocks (version 2: nor fee models).
        (SNAPSHOT_FORMAT, version @ (2 | 3)) => {
            let doc: SnapshotFile<MarketSpec> =
                serde_json::from_str(text).map_err(SnapshotError::Parse)?;
            if let Some(field) = newer_field(&doc.market, version) {
                // As any other field the version does not have.
                return Err(SnapshotError::Parse(serde::de::Error::custom(format!(
                    "unknown field `{field}` in a version {version} snapshot (it came in a later version)"
                ))));
            }
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

/// A field `market` has that a snapshot of `version` (2 or 3) did not: `fee_model` came in
/// version 3, `last_log`, `stale` and `written_block` in version 4.
fn newer_field(market: &MarketSpec, version: u32) -> Option<&'static str> {
    market.pools.iter().find_map(|p| {
        let model = match &p.state {
            PoolState::UniswapV3(s) | PoolState::Algebra(s) => s.fee_model.as_ref(),
            PoolState::UniswapV2 { .. } => None,
        };
        if version < 3 && model.is_some() {
            Some("fee_model")
        } else if p.last_log.is_some() {
            Some("last_log")
        } else if !p.stale.is_fresh() {
            Some("stale")
        } else if model.is_some_and(|m| m.written_block.is_some()) {
            Some("written_block")
        } else {
            None
        }
    })
}

/// Writes a snapshot file (via a temporary file, so a crash never leaves half a snapshot).
pub fn write(path: &Path, market: &MarketSpec, chain_id: Option<u64>) -> Result<(), SnapshotError> {
    write_at(path, market, chain_id, None)
}

/// [`write`] naming the chain's `tip` the tables were exported at (what `--resume` checks).
pub fn write_at(
    path: &Path,
    market: &MarketSpec,
    chain_id: Option<u64>,
    tip: Option<ChainTip>,
) -> Result<(), SnapshotError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, to_json_at(market, chain_id, tip) + "\n").map_err(SnapshotError::Io)?;
    std::fs::rename(&tmp, path).map_err(SnapshotError::Io)
}

/// The chain tip a snapshot document names, if any (files written before it was added, and
/// discovery's, name none).
pub fn tip(text: &str) -> Result<Option<ChainTip>, SnapshotError> {
    #[derive(Deserialize)]
    struct TipOnly {
        #[serde(default)]
        tip: Option<ChainTip>,
    }
    let t: TipOnly = serde_json::from_str(text).map_err(SnapshotError::Parse)?;
    Ok(t.tip)
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
    use polyarb_core::clmm::algebra_fee::{FeeConfig, Record};
    use polyarb_core::clmm::tick_math::{MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK};
    use polyarb_core::{
        ClStateSpec, DexSpec, PoolKind, PoolSpec, PoolState, Staleness, TickSpec, TokenSpec,
    };

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
                flash_swap: true,
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
            lenders: Vec::new(),
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
            flash_swap: true,
        });
        m.dexes.push(DexSpec {
            name: "algebra".into(),
            factory: Address::repeat_byte(11),
            kind: PoolKind::Algebra,
            flash_swap: true,
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
            last_log: None,
            stale: Default::default(),
        });
        m.pools.push(PoolSpec {
            address: Address::repeat_byte(5),
            dex: 2,
            token0: a,
            token1: b,
            fee_pips: 65_535,
            state: PoolState::Algebra(state(MAX_SQRT_RATIO - U256::from(1u8), MAX_TICK - 1, 60)),
            last_log: None,
            stale: Default::default(),
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
        let text = to_json(&market(), None).replace("\"version\": 4", "\"version\": 5");
        assert!(matches!(
            from_json(&text),
            Err(SnapshotError::Version { version: 5, .. })
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

    /// A fee model as discovery reads it from a real operator: a history written by the model
    /// itself (days of blocks at uneven intervals, the tick moving), then what the one-day
    /// window before its newest timepoint reaches, as `timepoints(i)` would give it.
    fn fee_model() -> AlgebraFeeSpec {
        let mut s = DataStorage::new(RING_SIZE, FeeConfig::DEFAULT);
        let mut t = 1_700_000_000u32;
        s.initialize(t, 60).unwrap();
        let mut tick = 60;
        for i in 0..40u32 {
            // 1 h to about 4.5 h apart: about 10 writes a day, so the window cuts the history.
            t += 3_600 + (i * 7_919) % 12_600;
            tick += (i as i32 * 37) % 401 - 200;
            let volume = u128::from(i) << 70;
            s.write(s.index(), t, tick, 1 << 80, volume).unwrap();
        }
        let newest = *s.newest().unwrap();
        let index = s.index();
        let n = s.window_len(newest.block_timestamp);
        let earlier: Vec<Record> = (1..n as u16)
            .rev()
            .map(|k| s.record(index - k).unwrap())
            .collect();
        assert!(earlier.len() + 1 < usize::from(index), "the window cuts");
        AlgebraFeeSpec {
            config: FeeConfig::DEFAULT,
            timepoint_index: index,
            wrapped: false,
            first: s.record(0),
            newest,
            earlier,
            volume_per_liquidity_in_block: (7u128 << 64) + 3,
            written_block: None,
        }
    }

    fn with_fee_model(m: AlgebraFeeSpec) -> MarketSpec {
        let mut market = concentrated_market();
        match &mut market.pools[2].state {
            PoolState::Algebra(s) => s.fee_model = Some(m),
            other => panic!("{other:?}"),
        }
        market
    }

    #[test]
    fn round_trips_a_fee_model_exactly() {
        let spec = fee_model();
        let m = with_fee_model(spec.clone());
        let text = to_json(&m, Some(137));
        assert!(text.contains("\"version\": 4"), "{text}");
        for field in [
            "\"fee_model\"",
            "\"timepoint_index\": 40",
            "\"wrapped\": false",
            "\"gamma2\": 8500",
            &format!(
                "\"volume_per_liquidity_in_block\": {}",
                spec.volume_per_liquidity_in_block
            ),
        ] {
            assert!(text.contains(field), "{field} not in {text}");
        }
        let (back, chain) = from_json(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, m);
        assert_eq!(chain, Some(137));
        // What loads predicts what the model it came from predicts.
        let restored = check_fee_model(&spec).unwrap();
        let t = spec.newest.block_timestamp + 2;
        assert!(
            restored
                .predict_fee(t, 600, 1 << 80, spec.volume_per_liquidity_in_block)
                .unwrap()
                .is_some()
        );
        // A pool without one writes no field at all.
        assert!(!to_json(&concentrated_market(), None).contains("fee_model"));
    }

    #[test]
    fn reads_version_2_whose_algebra_pools_have_no_fee_model() {
        let m = concentrated_market();
        let v2 = to_json(&m, Some(137)).replace("\"version\": 4", "\"version\": 2");
        let (back, _) = from_json(&v2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, m);
        // `fee_model` did not exist in version 2: refused as any unknown field.
        let with =
            to_json(&with_fee_model(fee_model()), None).replace("\"version\": 4", "\"version\": 2");
        let e = from_json(&with).unwrap_err();
        assert!(matches!(e, SnapshotError::Parse(_)), "{e}");
        assert!(e.to_string().contains("fee_model"), "{e}");
    }

    /// What an export adds in version 4: a pool's position, its staleness, a fee model's
    /// newest write block.
    fn exported_market() -> MarketSpec {
        let mut m = with_fee_model(AlgebraFeeSpec {
            written_block: Some(8),
            ..fee_model()
        });
        m.pools[0].last_log = Some((8, 4_294_967_295));
        m.pools[1].stale = Staleness::UntilNextState;
        m.pools[2].last_log = Some((8, 3));
        m.pools[2].stale = Staleness::NeedsReload;
        m
    }

    #[test]
    fn version_4_round_trips_positions_staleness_and_write_blocks() {
        let m = exported_market();
        let text = to_json(&m, Some(137));
        for field in [
            "\"version\": 4",
            "\"last_log\": [\n          8,\n          4294967295\n        ]",
            "\"stale\": \"until-next-state\"",
            "\"stale\": \"needs-reload\"",
            "\"written_block\": 8",
        ] {
            assert!(text.contains(field), "{field} not in {text}");
        }
        let (back, _) = from_json(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, m);
        // Absent fields are fresh pools with no position: a discovered snapshot writes none.
        let plain = to_json(&concentrated_market(), None);
        for field in ["last_log", "stale", "written_block"] {
            assert!(!plain.contains(field), "{field} in {plain}");
        }
    }

    #[test]
    fn reads_version_3_and_refuses_the_fields_version_4_added() {
        let m = with_fee_model(fee_model());
        let v3 = to_json(&m, Some(137)).replace("\"version\": 4", "\"version\": 3");
        let (back, chain) = from_json(&v3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back, chain), (m, Some(137)));
        let exported = exported_market();
        for (field, edit) in [("last_log", 0usize), ("stale", 1), ("written_block", 2)] {
            // One version 4 field at a time.
            let mut one = with_fee_model(fee_model());
            match edit {
                0 => one.pools[0].last_log = exported.pools[0].last_log,
                1 => one.pools[1].stale = Staleness::UntilNextState,
                _ => one.pools[2].state = exported.pools[2].state.clone(),
            }
            let v3 = to_json(&one, None).replace("\"version\": 4", "\"version\": 3");
            let e = from_json(&v3).unwrap_err();
            assert!(matches!(e, SnapshotError::Parse(_)), "{field}: {e}");
            assert!(e.to_string().contains(field), "{field}: {e}");
            // Version 4 reads it.
            assert!(from_json(&to_json(&one, None)).is_ok(), "{field}");
        }
    }

    #[test]
    fn a_stale_pair_may_have_a_zero_reserve() {
        let mut m = market();
        m.pools[0].state = PoolState::UniswapV2 {
            reserve0: 0,
            reserve1: 12345,
        };
        assert!(matches!(
            from_json(&to_json(&m, None)),
            Err(SnapshotError::ZeroReserve(_))
        ));
        m.pools[0].stale = Staleness::UntilNextState;
        let (back, _) = from_json(&to_json(&m, None)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, m);
    }

    #[test]
    fn refuses_a_fee_model_no_operator_can_hold() {
        let good = fee_model();
        let refused = |m: AlgebraFeeSpec| match from_json(&to_json(&with_fee_model(m), None)) {
            Err(SnapshotError::FeeModel { pool, error }) => {
                assert_eq!(pool, Address::repeat_byte(5));
                error
            }
            other => panic!("{other:?}"),
        };
        let mut m = good.clone();
        m.config.gamma1 = 0;
        assert_eq!(refused(m), FeeModelError::Config(ConfigError::ZeroGamma));
        let mut m = good.clone();
        m.config.alpha2 = u16::MAX;
        assert_eq!(
            refused(m),
            FeeModelError::Config(ConfigError::MaxFeeExceeded)
        );
        // Two records swapped, a record as new as the newest.
        let mut m = good.clone();
        m.earlier.swap(1, 2);
        assert_eq!(refused(m), FeeModelError::Order { position: 1 });
        let mut m = good.clone();
        let last = m.earlier.len() - 1;
        m.earlier[last].block_timestamp = m.newest.block_timestamp;
        assert_eq!(refused(m), FeeModelError::Order { position: last });
        // Timepoint 0 missing, given after a wrap, newer than the window.
        let mut m = good.clone();
        m.first = None;
        assert_eq!(refused(m), FeeModelError::First);
        let mut m = good.clone();
        m.wrapped = true;
        assert_eq!(refused(m), FeeModelError::First);
        let mut m = good.clone();
        if let Some(f) = &mut m.first {
            f.block_timestamp = m.earlier[0].block_timestamp + 1;
        }
        assert_eq!(refused(m), FeeModelError::First);
        // More records than were written before the newest; a newest never written.
        let mut m = good.clone();
        m.timepoint_index = m.earlier.len() as u16 - 1;
        assert_eq!(refused(m), FeeModelError::History(FeeError::BadHistory));
        let mut m = good.clone();
        m.newest.initialized = false;
        assert_eq!(refused(m), FeeModelError::History(FeeError::BadHistory));
        // On a Uniswap V3 pool.
        let mut market = concentrated_market();
        if let PoolState::UniswapV3(s) = &mut market.pools[1].state {
            s.fee_model = Some(good.clone());
        }
        let e = from_json(&to_json(&market, None)).unwrap_err();
        assert!(
            matches!(
                e,
                SnapshotError::FeeModel {
                    error: FeeModelError::NotAlgebra,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("only algebra pools"), "{e}");
        // The unchecked reader (tools) still reads them.
        let mut m = good;
        m.config.gamma1 = 0;
        assert!(parse(&to_json(&with_fee_model(m), None)).is_ok());
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
