//! Concentrated-liquidity math against independent oracles: the crates.io `uniswap_v3_math`
//! implementation for the libraries and one swap step, a reference swap loop written here over
//! that crate's `HashMap` bitmap for whole swaps, and the reference bitmap for the windowed
//! `TickSlice` and mint/burn bookkeeping.
//!
//! Short by default; `POLYARB_LONG=1` runs many more cases.

mod alloc;
mod oracle;
mod swap_loop;
mod windows;

use alloy_primitives::U256;
use polyarb_core::clmm::tick_math::{MAX_SQRT_RATIO, MIN_SQRT_RATIO};
use proptest::prelude::*;

/// Cases per property: short for CI, long behind `POLYARB_LONG=1`.
pub fn cases(short: u32, long: u32) -> ProptestConfig {
    let long_mode = std::env::var("POLYARB_LONG").is_ok_and(|v| v == "1");
    ProptestConfig {
        cases: if long_mode { long } else { short },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A sqrt price anywhere in the pool range `[MIN_SQRT_RATIO, MAX_SQRT_RATIO)`.
pub fn any_price() -> impl Strategy<Value = U256> {
    any::<[u64; 3]>().prop_map(|l| {
        let raw = U256::from_limbs([l[0], l[1], l[2] & 0xffff_ffff, 0]);
        MIN_SQRT_RATIO + raw % (MAX_SQRT_RATIO - MIN_SQRT_RATIO)
    })
}

/// Any 256-bit value, biased to small and boundary ones.
pub fn any_u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<[u64; 4]>().prop_map(U256::from_limbs),
        any::<[u64; 3]>().prop_map(|l| U256::from_limbs([l[0], l[1], l[2], 0])),
        any::<u128>().prop_map(U256::from),
        any::<u64>().prop_map(U256::from),
        (0usize..256).prop_map(|s| U256::from(1u8) << s),
        (1usize..256).prop_map(|s| (U256::from(1u8) << s) - U256::from(1u8)),
    ]
}
