//! Signing for polyarb: EIP-1559 (type 2) and legacy EIP-155 transactions signed with `k256`,
//! keys from hex, files, the environment or encrypted keystores (kept out of logs), and a
//! local nonce counter.
//!
//! The hot path is [`TxTemplate::sign`]: the fields that change written into a prepared
//! transaction, one keccak, and s = k⁻¹·(z + r·d) with a nonce coupon made ahead of time by a
//! background thread ([`coupon_ring`], [`CouponMint::spawn`]); RFC 6979 when no coupon is
//! waiting. No heap allocation. [`Signer::sign_eip1559`] is the general path (any value, the
//! transaction hash included), shown here. Fees are wei per gas, values wei, gas limits gas
//! units. `docs/signer.md` explains the design.
//!
//! ```
//! use polyarb_signer::{Eip1559Tx, NonceTracker, Signer};
//! use alloy_primitives::{Address, U256};
//!
//! let signer = Signer::from_hex("0x4646464646464646464646464646464646464646464646464646464646464646")?;
//! let mut nonces = NonceTracker::new(0); // from eth_getTransactionCount
//! let tx = Eip1559Tx {
//!     chain_id: 137,
//!     nonce: nonces.next(),
//!     max_priority_fee_per_gas: 30_000_000_000,
//!     max_fee_per_gas: 200_000_000_000,
//!     gas_limit: 400_000,
//!     to: Address::ZERO,
//!     value: U256::ZERO,
//!     input: &[0x42, 0xb0, 0xb7, 0x7c],
//! };
//! let mut buf = [0u8; 512];
//! let signed = signer.sign_eip1559(&tx, &mut buf)?;
//! let raw = &buf[..signed.len]; // for eth_sendRawTransaction; signed.hash is its tx hash
//! # assert_eq!(raw[0], 0x02);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Not for: talking to the node (fetching the nonce, sending), building calldata, access-list
//! transactions, contract creation.
#![forbid(unsafe_code)]

mod coupon;
mod key;
mod keystore;
mod nonce;
mod sign;
mod template;
mod tx;

pub use coupon::{
    Coupon, CouponMint, CouponStats, Coupons, MintError, MintHandle, SignPath, coupon_ring,
};

pub use key::{
    KEY_FILE_MAX_BYTES, KeyError, PrivateFileError, Signer, decode_key_hex, read_private_file,
};
pub use keystore::{
    KEYSTORE_FILE_MAX_BYTES, Kdf, KeystoreError, ParamError, encrypt_keystore, keystore_address,
    write_keystore,
};
pub use nonce::NonceTracker;
pub use sign::{SignError, Signature, Signed};
pub use template::{HEAD, SignedTx, TxFields, TxTemplate, TxType, unsigned_fields};
pub use tx::{BufferTooSmall, EIP1559_TX_TYPE, Eip1559Tx};
