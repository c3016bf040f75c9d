//! The CLMM lab on the real Uniswap V3 and Algebra bytecode.

use alloy_primitives::{I256, U160};
use polyarb_tools::{Case, ClmmLab, LabOpts, PoolKind, Position, Swap};

fn q96() -> U160 {
    U160::from(1u128 << 96)
}

#[test]
fn smoke() {
    let t = std::time::Instant::now();
    let lab = ClmmLab::start_with(LabOpts {
        slots: 4,
        ..LabOpts::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "start {:?} {:?}",
        t.elapsed(),
        lab.deployment().algebra_factory_patched
    );
    let case = |kind| Case {
        kind,
        init_sqrt_price: q96(),
        positions: vec![Position {
            tick_lower: -600,
            tick_upper: 600,
            liquidity: 10u128.pow(20),
        }],
        swaps: vec![
            Swap {
                zero_for_one: true,
                amount_specified: I256::try_from(10u128.pow(18)).unwrap(),
                sqrt_price_limit: U160::from(4295128740u64),
            },
            Swap {
                zero_for_one: false,
                amount_specified: I256::try_from(-(10i128.pow(18))).unwrap(),
                sqrt_price_limit: U160::from(4295128740u64),
            },
        ],
    };
    let t = std::time::Instant::now();
    let r = lab
        .run(&[
            case(PoolKind::v3(3000).unwrap()),
            case(PoolKind::Algebra { fee: Some(2500) }),
            case(PoolKind::Algebra { fee: None }),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("run {:?}", t.elapsed());
    for x in &r {
        eprintln!("{x:#?}");
    }
}
