//! Our `sol!` bindings of Uniswap V3 and Algebra V1, and the selectors and topics listed in
//! docs/algebra.md, against the ABIs in the npm build artifacts (the compilers' own output).

use std::collections::BTreeSet;

use alloy_primitives::keccak256;
use polyarb_tools::{
    Artifact, Toolchain,
    abi::{
        IAlgebraFactory, IAlgebraPool, IAlgebraPoolDeployer, IClmmCallbacks, IUniswapV3Factory,
        IUniswapV3Pool,
    },
};
use serde_json::Value;

/// `name(type,...)` of an ABI entry, tuples spelled out as the ABI spec's canonical form.
fn canonical(entry: &Value) -> String {
    fn ty(param: &Value) -> String {
        let t = param["type"].as_str().unwrap();
        match t.strip_prefix("tuple") {
            Some(suffix) => {
                let inner: Vec<String> = param["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(ty)
                    .collect();
                format!("({}){suffix}", inner.join(","))
            }
            None => t.to_owned(),
        }
    }
    let inputs: Vec<String> = entry["inputs"].as_array().unwrap().iter().map(ty).collect();
    format!("{}({})", entry["name"].as_str().unwrap(), inputs.join(","))
}

/// Function selectors and event topics of an npm artifact's ABI (its `abi` member, or the whole
/// file if that is the ABI array).
fn abi_hashes(json: &str) -> (BTreeSet<[u8; 4]>, BTreeSet<[u8; 32]>) {
    let artifact: Value = serde_json::from_str(json).unwrap();
    let abi = artifact.get("abi").unwrap_or(&artifact);
    let (mut functions, mut events) = (BTreeSet::new(), BTreeSet::new());
    for entry in abi.as_array().unwrap() {
        let kind = entry["type"].as_str();
        if kind != Some("function") && kind != Some("event") {
            continue;
        }
        let sig = canonical(entry);
        let hash = keccak256(sig.as_bytes());
        if kind == Some("function") {
            functions.insert(hash[..4].try_into().unwrap());
        } else {
            events.insert(hash.0);
        }
    }
    (functions, events)
}

fn read(artifact: Artifact) -> String {
    let path = Toolchain::locate()
        .artifact(artifact)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::read_to_string(path).unwrap()
}

fn npm_interface(path: &str) -> String {
    let path = Toolchain::locate().root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts every selector and topic of our binding is in the ABI `json`.
pub(crate) fn check(name: &str, json: &str, selectors: &[[u8; 4]], topics: &[[u8; 32]]) {
    let (functions, events) = abi_hashes(json);
    for s in selectors {
        assert!(
            functions.contains(s),
            "{name}: our selector {} is not in the npm ABI",
            alloy_primitives::hex::encode(s)
        );
    }
    for t in topics {
        assert!(
            events.contains(t),
            "{name}: our topic {} is not in the npm ABI",
            alloy_primitives::hex::encode(t)
        );
    }
}

#[test]
fn bindings_match_the_npm_abis() {
    check(
        "UniswapV3Factory",
        &read(Artifact::UniswapV3Factory),
        IUniswapV3Factory::IUniswapV3FactoryCalls::SELECTORS,
        IUniswapV3Factory::IUniswapV3FactoryEvents::SELECTORS,
    );
    check(
        "UniswapV3Pool",
        &read(Artifact::UniswapV3Pool),
        IUniswapV3Pool::IUniswapV3PoolCalls::SELECTORS,
        IUniswapV3Pool::IUniswapV3PoolEvents::SELECTORS,
    );
    check(
        "AlgebraFactory",
        &read(Artifact::AlgebraFactory),
        IAlgebraFactory::IAlgebraFactoryCalls::SELECTORS,
        IAlgebraFactory::IAlgebraFactoryEvents::SELECTORS,
    );
    check(
        "AlgebraPoolDeployer",
        &read(Artifact::AlgebraPoolDeployer),
        IAlgebraPoolDeployer::IAlgebraPoolDeployerCalls::SELECTORS,
        IAlgebraPoolDeployer::IAlgebraPoolDeployerEvents::SELECTORS,
    );
    check(
        "AlgebraPool",
        &read(Artifact::AlgebraPool),
        IAlgebraPool::IAlgebraPoolCalls::SELECTORS,
        IAlgebraPool::IAlgebraPoolEvents::SELECTORS,
    );
    // Callbacks are declared in the npm interface artifacts (one interface each).
    let mut callbacks = String::new();
    for (pkg, file) in [
        ("@uniswap/v3-core", "IUniswapV3MintCallback"),
        ("@uniswap/v3-core", "IUniswapV3SwapCallback"),
        ("@uniswap/v3-core", "IUniswapV3FlashCallback"),
        ("@cryptoalgebra/core", "IAlgebraMintCallback"),
        ("@cryptoalgebra/core", "IAlgebraSwapCallback"),
        ("@cryptoalgebra/core", "IAlgebraFlashCallback"),
    ] {
        let json = npm_interface(&format!(
            "tools/toolchain/node_modules/{pkg}/artifacts/contracts/interfaces/callback/{file}.sol/{file}.json"
        ));
        let artifact: Value = serde_json::from_str(&json).unwrap();
        for entry in artifact["abi"].as_array().unwrap() {
            callbacks.push_str(&canonical(entry));
            callbacks.push('\n');
        }
    }
    for s in IClmmCallbacks::IClmmCallbacksCalls::SELECTORS {
        assert!(
            callbacks
                .lines()
                .any(|sig| keccak256(sig.as_bytes())[..4] == s[..]),
            "callback selector {} is not in the npm interfaces",
            alloy_primitives::hex::encode(s)
        );
    }
}

/// Every `| \`signature\` | \`0x…\` |` row of docs/algebra.md: the hash is the keccak256 of the
/// signature (4 bytes for functions, 32 for events) and the signature is in an npm ABI.
#[test]
fn docs_hashes_are_keccak_of_their_signatures() {
    let root = Toolchain::locate().root().to_owned();
    let doc = std::fs::read_to_string(root.join("docs/algebra.md")).unwrap();
    let mut known = String::new();
    for artifact in [
        Artifact::UniswapV3Factory,
        Artifact::UniswapV3Pool,
        Artifact::AlgebraFactory,
        Artifact::AlgebraPoolDeployer,
        Artifact::AlgebraPool,
    ] {
        known.push_str(&signatures(&read(artifact)));
    }
    for path in [
        "@cryptoalgebra/core/artifacts/contracts/DataStorageOperator.sol/DataStorageOperator.json",
        "@cryptoalgebra/core/artifacts/contracts/interfaces/IAlgebraVirtualPool.sol/IAlgebraVirtualPool.json",
        "@cryptoalgebra/core/artifacts/contracts/interfaces/callback/IAlgebraSwapCallback.sol/IAlgebraSwapCallback.json",
        "@cryptoalgebra/core/artifacts/contracts/interfaces/callback/IAlgebraMintCallback.sol/IAlgebraMintCallback.json",
        "@cryptoalgebra/core/artifacts/contracts/interfaces/callback/IAlgebraFlashCallback.sol/IAlgebraFlashCallback.json",
        "@uniswap/v3-core/artifacts/contracts/interfaces/callback/IUniswapV3SwapCallback.sol/IUniswapV3SwapCallback.json",
        "@uniswap/v3-core/artifacts/contracts/interfaces/callback/IUniswapV3MintCallback.sol/IUniswapV3MintCallback.json",
        "@uniswap/v3-core/artifacts/contracts/interfaces/callback/IUniswapV3FlashCallback.sol/IUniswapV3FlashCallback.json",
    ] {
        known.push_str(&signatures(&npm_interface(&format!(
            "tools/toolchain/node_modules/{path}"
        ))));
    }
    let mut rows = 0;
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, sig, hash, _] = cells.as_slice() else {
            continue;
        };
        let (Some(sig), Some(hash)) = (backticked(sig), backticked(hash)) else {
            continue;
        };
        let Some(hex) = hash.strip_prefix("0x") else {
            continue;
        };
        let want = keccak256(sig.as_bytes());
        let len = hex.len() / 2;
        assert!(len == 4 || len == 32, "{line}");
        assert_eq!(
            alloy_primitives::hex::encode(&want[..len]),
            hex,
            "docs/algebra.md: {sig}"
        );
        assert!(
            known.lines().any(|k| k == sig),
            "docs/algebra.md: {sig} is in no npm ABI"
        );
        rows += 1;
    }
    // The tables list 17 events, 20 pool functions, 11 others, 6 callbacks, 7 V3 entries.
    assert_eq!(rows, 61);
}

/// The text of a cell that starts with a backticked span (`` `x` `` or `` `x` (note) ``).
fn backticked(cell: &str) -> Option<&str> {
    let rest = cell.strip_prefix('`')?;
    rest.split('`').next()
}

/// Canonical signatures of the functions and events of an artifact, one a line.
fn signatures(json: &str) -> String {
    let artifact: Value = serde_json::from_str(json).unwrap();
    let mut out = String::new();
    for entry in artifact["abi"].as_array().unwrap() {
        if matches!(entry["type"].as_str(), Some("function" | "event")) {
            out.push_str(&canonical(entry));
            out.push('\n');
        }
    }
    out
}
