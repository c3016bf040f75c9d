//! Pool kinds: the closed set of AMM designs the engine prices exactly.
//!
//! Every layer that depends on how a pool prices a swap (the tables' columns, quoting, the
//! screen's marginal rate, sizing, gas, route encoding) dispatches on [`PoolKind`] with a
//! `match`, never through a trait object: the set is closed and the hot path stays monomorphic.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Fee unit: one pip is 10⁻⁶ of the swap input (Uniswap V3's and Algebra's unit). A V2 pair's
/// 0.3 % fee is 3 000 pips. Every fee in the core is in pips.
pub const PIPS: u32 = 1_000_000;

/// How a pool prices a swap.
#[repr(u8)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    /// Constant product over two reserves (`x·y = k`), Uniswap V2 and its forks (Pancake,
    /// QuickSwap V2, SushiSwap): a fixed fee per factory, state from `Sync`.
    #[default]
    UniswapV2 = 0,
    /// Uniswap V3 concentrated liquidity: sqrt price (Q64.96), ticks, a fee per pool
    /// (its fee tier), state from `Swap`, `Mint` and `Burn`.
    UniswapV3 = 1,
    /// Algebra concentrated liquidity (QuickSwap V3): like Uniswap V3 with a dynamic fee
    /// (`Fee` events) and its own step rounding.
    Algebra = 2,
}

impl PoolKind {
    /// Every kind, in discriminant order.
    pub const ALL: [PoolKind; 3] = [Self::UniswapV2, Self::UniswapV3, Self::Algebra];

    /// The name used in config, snapshots and reports (`uniswap-v2`, `uniswap-v3`, `algebra`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::UniswapV2 => "uniswap-v2",
            Self::UniswapV3 => "uniswap-v3",
            Self::Algebra => "algebra",
        }
    }

    /// True for the concentrated-liquidity kinds (sqrt price, ticks, liquidity).
    pub const fn is_concentrated(self) -> bool {
        matches!(self, Self::UniswapV3 | Self::Algebra)
    }

    /// The kind from its `repr(u8)` value (as carried in frames), if it names one.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::UniswapV2),
            1 => Some(Self::UniswapV3),
            2 => Some(Self::Algebra),
            _ => None,
        }
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a route's input comes from: the executor's funding byte (`docs/executor.md`).
#[repr(u8)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Funding {
    /// The executor's own balance of the start token.
    #[default]
    Capital = 0,
    /// The route's first pool pays its output before it is paid (`uniswapV2Call`, or the
    /// V3/Algebra swap callback); no premium beyond that hop's own fee.
    FlashSwap = 1,
    /// A Balancer V2 Vault flash loan (`receiveFlashLoan`); the Vault's fee percentage.
    Balancer = 2,
    /// An Aave V3 `flashLoanSimple` (`executeOperation`); the Pool's premium.
    Aave = 3,
}

impl Funding {
    /// Every source, in discriminant order.
    pub const ALL: [Funding; 4] = [Self::Capital, Self::FlashSwap, Self::Balancer, Self::Aave];

    /// The name used in config, opportunities and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Capital => "capital",
            Self::FlashSwap => "flash-swap",
            Self::Balancer => "balancer",
            Self::Aave => "aave",
        }
    }

    /// The source from its `repr(u8)` value (as carried in frames), if it names one.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Capital),
            1 => Some(Self::FlashSwap),
            2 => Some(Self::Balancer),
            3 => Some(Self::Aave),
            _ => None,
        }
    }
}

impl fmt::Display for Funding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_u8() {
        for k in PoolKind::ALL {
            let json = format!("\"{}\"", k.name());
            assert_eq!(serde_json::from_str::<PoolKind>(&json).unwrap(), k);
            assert_eq!(PoolKind::from_u8(k as u8), Some(k));
        }
        assert_eq!(PoolKind::from_u8(3), None);
        assert!(serde_json::from_str::<PoolKind>("\"uniswap-v4\"").is_err());
    }

    #[test]
    fn funding_names_round_trip_through_serde_and_u8() {
        for f in Funding::ALL {
            let json = format!("\"{}\"", f.name());
            assert_eq!(serde_json::from_str::<Funding>(&json).unwrap(), f);
            assert_eq!(Funding::from_u8(f as u8), Some(f));
        }
        assert_eq!(Funding::from_u8(4), None);
        assert!(serde_json::from_str::<Funding>("\"maker\"").is_err());
    }
}
