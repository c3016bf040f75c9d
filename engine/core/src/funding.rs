//! Borrowed input: what each lender charges for a loan, with its own rounding.
//!
//! The sizing subtracts [`Premium::of`] from a route's gross profit, so the input it settles on
//! is the optimum net of the premium (a premium moves the optimum down: the last units of input
//! must earn their premium too).

use crate::Funding;

/// A set of [`Funding`] sources, one bit each (bit = the source's `u8` value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FundingSet(u8);

impl FundingSet {
    /// Own capital only.
    pub const CAPITAL: Self = Self(1);
    /// Every source.
    pub const ALL: Self = Self(0b1111);

    /// The set of `sources`.
    pub fn of(sources: impl IntoIterator<Item = Funding>) -> Self {
        sources.into_iter().fold(Self(0), Self::with)
    }

    /// This set and `f`.
    pub const fn with(self, f: Funding) -> Self {
        Self(self.0 | 1 << f as u8)
    }

    /// Whether `f` is in the set.
    pub const fn contains(self, f: Funding) -> bool {
        self.0 >> f as u8 & 1 == 1
    }
}

/// What a lender charges for a loan of `amount` raw units of the start token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Premium {
    /// Nothing: own capital, or a flash swap (whose fee is its hop's own).
    #[default]
    None,
    /// Balancer V2 Vault: `FixedPoint.mulUp(amount, fee)`, `fee` an 18-decimal fraction (the
    /// ProtocolFeesCollector's `getFlashLoanFeePercentage`, at most 1 % = 10¹⁶): rounded up.
    Balancer {
        /// Fee fraction, 1e18 = 100 %.
        fee_1e18: u64,
    },
    /// Aave V3 Pool: `PercentageMath.percentMul(amount, FLASHLOAN_PREMIUM_TOTAL)`, the premium in
    /// basis points: `(amount·bps + 5 000) / 10 000`, half up.
    Aave {
        /// Premium, basis points (5 = 0.05 %).
        bps: u16,
    },
}

impl Premium {
    /// The premium on `amount` raw units, exactly as the lender computes it; `None` where the
    /// lender's own arithmetic would overflow (it reverts there).
    pub fn of(self, amount: u128) -> Option<u128> {
        match self {
            Self::None => Some(0),
            Self::Balancer { fee_1e18 } => {
                let product = amount.checked_mul(u128::from(fee_1e18))?;
                Some(if product == 0 {
                    0
                } else {
                    (product - 1) / 1_000_000_000_000_000_000 + 1
                })
            }
            Self::Aave { bps } => {
                let product = amount.checked_mul(u128::from(bps))?.checked_add(5_000)?;
                Some(product / 10_000)
            }
        }
    }

    /// The premium per unit borrowed, as a fraction (for the closed-form estimate and the slope
    /// test of the sizing; the exact profit always uses [`Premium::of`]).
    pub fn rate(self) -> f64 {
        match self {
            Self::None => 0.0,
            Self::Balancer { fee_1e18 } => fee_1e18 as f64 / 1e18,
            Self::Aave { bps } => f64::from(bps) / 10_000.0,
        }
    }

    /// Largest under-count of [`Premium::of`] against `rate() · amount`, raw units: the band
    /// test treats the premium as linear and widens by this.
    pub(crate) fn rounding_slack(self) -> u128 {
        match self {
            // Rounded up: never below the linear value.
            Self::None | Self::Balancer { .. } => 0,
            // Half up: at most half a unit below.
            Self::Aave { .. } => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balancer_rounds_up() {
        let p = Premium::Balancer {
            fee_1e18: 1_000_000_000_000_000, // 0.1 %
        };
        assert_eq!(p.of(0), Some(0));
        assert_eq!(p.of(1), Some(1));
        assert_eq!(p.of(1_000), Some(1));
        assert_eq!(p.of(1_001), Some(2));
        assert_eq!(
            Premium::Balancer { fee_1e18: 0 }.of(10u128.pow(30)),
            Some(0)
        );
        assert_eq!(p.of(u128::MAX), None);
    }

    #[test]
    fn aave_rounds_half_up() {
        let p = Premium::Aave { bps: 5 };
        assert_eq!(p.of(0), Some(0));
        assert_eq!(p.of(999), Some(0)); // 0.4995
        assert_eq!(p.of(1_000), Some(1)); // 0.5 rounds up
        assert_eq!(p.of(2_999), Some(1)); // 1.4995
        assert_eq!(p.of(3_000), Some(2)); // 1.5
        assert_eq!(p.of(10u128.pow(18)), Some(5 * 10u128.pow(14)));
        assert_eq!(p.of(u128::MAX), None);
    }

    #[test]
    fn sets() {
        let s = FundingSet::of([Funding::Capital, Funding::Aave]);
        assert!(s.contains(Funding::Capital) && s.contains(Funding::Aave));
        assert!(!s.contains(Funding::FlashSwap) && !s.contains(Funding::Balancer));
        assert!(Funding::ALL.iter().all(|&f| FundingSet::ALL.contains(f)));
        assert_eq!(FundingSet::of([]), FundingSet::default());
        assert_eq!(FundingSet::CAPITAL, FundingSet::of([Funding::Capital]));
    }

    #[test]
    fn rates() {
        assert_eq!(Premium::None.rate(), 0.0);
        assert_eq!(Premium::Aave { bps: 9 }.rate(), 0.0009);
        assert_eq!(
            Premium::Balancer {
                fee_1e18: 5_000_000_000_000_000
            }
            .rate(),
            0.005
        );
    }
}
