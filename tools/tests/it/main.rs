//! Integration tests on a real anvil with the real Uniswap V2, Pancake, Uniswap V3, Algebra,
//! Balancer V2 Vault and Aave V3 bytecode.
//!
//! They need the toolchain (tools/toolchain/install.sh); without it every test here fails with
//! the message to run it.

mod clmm;
mod clmm_abi;
mod faultproxy;
mod harness;
mod lenders;
mod market;
mod sample;
mod trading;
mod wire;
mod world;

use std::path::PathBuf;

use polyarb_tools::{
    Anvil, AnvilOpts, Dex, PairSpec, Rpc, TokenSpec, Toolchain, World, WorldSpec, deploy_world,
};

/// Starts anvil or fails the test with the error (which says to run install.sh if it is missing).
pub fn anvil(opts: AnvilOpts) -> Anvil {
    Anvil::start(opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Three tokens, all three pairs on both DEXes, no concentrated pools, no lenders (the sample's
/// would fit these tokens: tests of lenders put them back, the rest save their deployment).
pub fn small_spec(deployer: alloy_primitives::Address) -> WorldSpec {
    let mut spec = WorldSpec::sample(deployer);
    spec.balancer = None;
    spec.aave = None;
    spec.tokens = vec![
        TokenSpec {
            symbol: "WMATIC".into(),
            price_native: 1.0,
        },
        TokenSpec {
            symbol: "USDC".into(),
            price_native: 2.5,
        },
        TokenSpec {
            symbol: "WETH".into(),
            price_native: 4_000.0,
        },
    ];
    spec.start_tokens = vec!["WMATIC".into()];
    spec.pairs = Vec::new();
    for dex in Dex::ALL {
        for (a, b) in [("WMATIC", "USDC"), ("WMATIC", "WETH"), ("USDC", "WETH")] {
            spec.pairs.push(PairSpec::new(dex, a, b));
        }
    }
    spec
}

/// Deploys [`small_spec`] from account 0, funding account 2.
pub fn small_world(anvil: &Anvil, rpc: &Rpc) -> World {
    let mut spec = small_spec(anvil.accounts()[0]);
    spec.fund = vec![(
        anvil.accounts()[2],
        alloy_primitives::U256::from(10u128.pow(30)),
    )];
    deploy_world(rpc, &Toolchain::locate(), &spec).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh folder under cargo's test tmp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An artifact in forge's shape for a stand-in executor: creation code that deploys the one-byte
/// runtime `STOP` (accepts calls and token transfers, does nothing). For tests of the plumbing
/// while the real executor is built elsewhere.
pub fn stand_in_executor(dir: &std::path::Path) -> PathBuf {
    // PUSH1 1 PUSH1 12 PUSH1 0 CODECOPY PUSH1 1 PUSH1 0 RETURN | STOP
    let path = dir.join("StandIn.json");
    std::fs::write(
        &path,
        r#"{"bytecode":{"object":"0x6001600c60003960016000f300"}}"#,
    )
    .unwrap();
    path
}
