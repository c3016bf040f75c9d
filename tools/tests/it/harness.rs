//! The anvil harness, the toolchain lookup and the dev keys.

use std::str::FromStr;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use polyarb_tools::{Anvil, AnvilOpts, DEV_ACCOUNTS, RpcError, Toolchain};

use crate::anvil;

#[test]
fn toolchain_is_installed() {
    let tc = Toolchain::locate();
    for found in [tc.anvil(), tc.forge(), tc.python()] {
        if let Err(e) = found {
            panic!("{e}");
        }
    }
}

#[test]
fn missing_toolchain_says_what_to_run() {
    let empty = crate::scratch("no-toolchain");
    let err = Anvil::start_in(&Toolchain::at(&empty), AnvilOpts::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("anvil not found") && err.ends_with("run tools/toolchain/install.sh"),
        "{err}"
    );
}

#[test]
fn anvil_answers_with_options_and_dies_on_drop() {
    let node = anvil(AnvilOpts {
        chain_id: 31_337_137,
        base_fee_wei: Some(30_000_000_000),
        balance_ether: Some(77),
        accounts: Some(4),
        no_mining: true,
        ..AnvilOpts::default()
    });
    let rpc = node.rpc();
    assert_eq!(rpc.chain_id().unwrap(), 31_337_137);
    assert_eq!(node.accounts().len(), 4);
    assert_eq!(
        rpc.balance(node.accounts()[3]).unwrap(),
        U256::from(77u128 * 10u128.pow(18))
    );
    assert!(!rpc.automine().unwrap());
    assert!(
        node.ws_url().starts_with("ws://127.0.0.1:")
            && node.http_url().ends_with(&node.port().to_string())
    );

    rpc.set_balance(node.accounts()[0], U256::from(5)).unwrap();
    assert_eq!(rpc.balance(node.accounts()[0]).unwrap(), U256::from(5));
    let before = rpc.block_number().unwrap();
    rpc.mine().unwrap();
    assert_eq!(rpc.block_number().unwrap(), before + 1);

    let url = node.http_url();
    drop(node);
    let err = polyarb_tools::Rpc::new(url).chain_id().unwrap_err();
    assert!(matches!(err, RpcError::Transport { .. }), "{err}");
}

#[test]
fn dev_keys_belong_to_anvils_accounts() {
    let node = anvil(AnvilOpts::default());
    assert_eq!(node.chain_id(), 137);
    for (i, (address, key)) in DEV_ACCOUNTS.iter().enumerate() {
        let signer = PrivateKeySigner::from_str(key).unwrap();
        assert_eq!(signer.address(), *address, "key {i}");
        assert_eq!(node.accounts()[i], *address, "account {i}");
        assert_eq!(node.dev_key(i), Some(*key));
    }
    assert_eq!(node.dev_key(DEV_ACCOUNTS.len()), None);
}

#[test]
fn two_anvils_run_side_by_side() {
    let (a, b) = (anvil(AnvilOpts::default()), anvil(AnvilOpts::default()));
    assert_ne!(a.port(), b.port());
    assert_eq!(a.rpc().chain_id().unwrap(), b.rpc().chain_id().unwrap());
}
