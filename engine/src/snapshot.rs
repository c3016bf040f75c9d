//! Pool snapshot files: the [`MarketSpec`] a replay starts from, as versioned JSON
//! (documented in `docs/formats.md`).

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};

use polyarb_core::MarketSpec;

/// Value of the `format` field.
pub const SNAPSHOT_FORMAT: &str = "polyarb-snapshot";
/// Version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot could not be read or written.
#[derive(Debug)]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    Io(std::io::Error),
    /// Not JSON of the snapshot shape.
    Parse(String),
    /// A snapshot, but of another format or version.
    Version { format: String, version: u32 },
    /// Well-formed but inconsistent (e.g. a pool naming an unknown DEX).
    Invalid(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "snapshot i/o: {e}"),
            Self::Parse(m) => write!(f, "snapshot is not valid: {m}"),
            Self::Version { format, version } => write!(
                f,
                "snapshot is {format:?} version {version}; this build reads {SNAPSHOT_FORMAT:?} version {SNAPSHOT_VERSION}"
            ),
            Self::Invalid(m) => write!(f, "snapshot is inconsistent: {m}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFile {
    format: String,
    version: u32,
    /// Chain the snapshot was taken on, if known.
    chain_id: Option<u64>,
    market: MarketSpec,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// Serialises `market` as a snapshot document.
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

/// Parses and checks a snapshot document.
pub fn from_json(text: &str) -> Result<(MarketSpec, Option<u64>), SnapshotError> {
    let header: Header =
        serde_json::from_str(text).map_err(|e| SnapshotError::Parse(e.to_string()))?;
    if header.format != SNAPSHOT_FORMAT || header.version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version {
            format: header.format,
            version: header.version,
        });
    }
    let doc: SnapshotFile =
        serde_json::from_str(text).map_err(|e| SnapshotError::Parse(e.to_string()))?;
    for p in &doc.market.pools {
        if usize::from(p.dex) >= doc.market.dexes.len() {
            return Err(SnapshotError::Invalid(format!(
                "pool {} names dex {} of {}",
                p.address,
                p.dex,
                doc.market.dexes.len()
            )));
        }
    }
    Ok((doc.market, doc.chain_id))
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
    use alloy_primitives::Address;
    use polyarb_core::{DexSpec, PoolSpec, TokenSpec};

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
                fee_bps: 30,
            }],
            pools: vec![PoolSpec {
                address: Address::repeat_byte(3),
                dex: 0,
                token0: a,
                token1: b,
                reserve0: (1u128 << 111) + 5,
                reserve1: 12345,
            }],
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

    #[test]
    fn rejects_other_versions_garbage_and_bad_dex() {
        let text = to_json(&market(), None).replace("\"version\": 1", "\"version\": 2");
        assert!(matches!(
            from_json(&text),
            Err(SnapshotError::Version { version: 2, .. })
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
}
