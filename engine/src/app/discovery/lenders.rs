//! The flash lenders' offers at start-up (`[funding]`): per start token, what the Balancer V2
//! Vault and the Aave V3 Pool can lend and what they charge, read at the discovery block.
//!
//! - Balancer: the Vault's `balanceOf` each start token (it lends its raw balance), and the
//!   fee from `getProtocolFeesCollector().getFlashLoanFeePercentage()` (18 decimals).
//! - Aave: `FLASHLOAN_PREMIUM_TOTAL()` (basis points), and per start token
//!   `getReserveData(token)`: a reserve that is listed, active, not paused and has flash loans
//!   enabled lends what its aToken holds of the token (`balanceOf(aToken)`).
//! - The executor's `balancerVault()` and `aavePool()` must name the configured lenders: a route
//!   funded by a lender the executor does not call would only revert.

use alloy_primitives::{Address, keccak256};
use polyarb_core::{Funding, LenderSpec};
use polyarb_feeds::{BlockTag, RpcClient};

use super::{BALANCE_OF, DiscoveryError, abi};
use crate::app::AppError;
use crate::config::Config;

/// Aave's reserve configuration bits (`ReserveConfiguration.sol`).
const AAVE_ACTIVE_BIT: u32 = 56;
const AAVE_PAUSED_BIT: u32 = 60;
const AAVE_FLASHLOAN_BIT: u32 = 63;
/// Words of Aave V3's `getReserveData` answer (`DataTypes.ReserveData`), and where the aToken is.
const AAVE_RESERVE_WORDS: usize = 15;
const AAVE_ATOKEN_WORD: usize = 8;

/// A function's selector from its signature.
fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// One view call's answer at `at`, or the error naming `what` and `lender`.
fn view(
    rpc: &mut RpcClient,
    to: Address,
    data: &[u8],
    at: BlockTag,
    what: &'static str,
) -> Result<Vec<u8>, AppError> {
    let answers = rpc
        .eth_call_many(&[(to.0.0, data)], at)
        .map_err(AppError::node("eth_call"))?;
    answers
        .into_iter()
        .next()
        .and_then(Result::ok)
        .map(|d| d.to_vec())
        .ok_or(AppError::Discovery(DiscoveryError::Lender {
            lender: to,
            what,
        }))
}

fn address_of(
    rpc: &mut RpcClient,
    to: Address,
    signature: &'static str,
    at: BlockTag,
) -> Result<Address, AppError> {
    let data = view(rpc, to, &selector(signature), at, signature)?;
    abi::address(&data, 0, signature).map_err(|_| {
        AppError::Discovery(DiscoveryError::Lender {
            lender: to,
            what: signature,
        })
    })
}

fn uint_of(
    rpc: &mut RpcClient,
    to: Address,
    data: &[u8],
    at: BlockTag,
    what: &'static str,
) -> Result<u128, AppError> {
    let answer = view(rpc, to, data, at, what)?;
    abi::uint(&answer, 0, 128, what)
        .map(|v| v.to::<u128>())
        .map_err(|_| AppError::Discovery(DiscoveryError::Lender { lender: to, what }))
}

/// The lenders `[funding]` allows, per start token, at `at`. Empty when it allows none.
pub(crate) fn read_lenders(
    rpc: &mut RpcClient,
    cfg: &Config,
    at: BlockTag,
) -> Result<Vec<LenderSpec>, AppError> {
    let sources = &cfg.funding.sources;
    let mut out = Vec::new();
    let executor = cfg.signer.executor;
    let check = |rpc: &mut RpcClient, funding, configured: Address, getter| {
        let Some(executor) = executor else {
            return Ok(());
        };
        let named = address_of(rpc, executor, getter, at)?;
        if named == configured {
            Ok(())
        } else {
            Err(AppError::Discovery(DiscoveryError::LenderMismatch {
                funding,
                configured,
                executor: named,
            }))
        }
    };
    if sources.contains(&Funding::Balancer)
        && let Some(vault) = cfg.funding.balancer_vault
    {
        check(rpc, Funding::Balancer, vault, "balancerVault()")?;
        let collector = address_of(rpc, vault, "getProtocolFeesCollector()", at)?;
        let fee = uint_of(
            rpc,
            collector,
            &selector("getFlashLoanFeePercentage()"),
            at,
            "getFlashLoanFeePercentage()",
        )?;
        let fee = u64::try_from(fee).map_err(|_| {
            AppError::Discovery(DiscoveryError::Lender {
                lender: collector,
                what: "getFlashLoanFeePercentage() above 2^64",
            })
        })?;
        for token in cfg.start_token_addresses() {
            let call = abi::call_address(BALANCE_OF, vault);
            let available = uint_of(rpc, token, &call, at, "balanceOf(vault)")?;
            if available == 0 {
                continue; // the Vault holds none: nothing to lend
            }
            out.push(LenderSpec {
                funding: Funding::Balancer,
                token,
                available,
                fee,
                holder: vault,
            });
        }
    }
    if sources.contains(&Funding::Aave)
        && let Some(pool) = cfg.funding.aave_pool
    {
        check(rpc, Funding::Aave, pool, "aavePool()")?;
        let bps = uint_of(
            rpc,
            pool,
            &selector("FLASHLOAN_PREMIUM_TOTAL()"),
            at,
            "FLASHLOAN_PREMIUM_TOTAL()",
        )?;
        let reserve_data = selector("getReserveData(address)");
        for token in cfg.start_token_addresses() {
            let what = "getReserveData(address)";
            let data = view(rpc, pool, &abi::call_address(reserve_data, token), at, what)?;
            let bad = || AppError::Discovery(DiscoveryError::Lender { lender: pool, what });
            abi::exact(&data, AAVE_RESERVE_WORDS, what).map_err(|_| bad())?;
            let config = abi::word(&data, 0, what).map_err(|_| bad())?;
            let bit = |b: u32| config[31 - (b / 8) as usize] >> (b % 8) & 1 == 1;
            let a_token = abi::address(&data, AAVE_ATOKEN_WORD, what).map_err(|_| bad())?;
            if a_token == Address::ZERO
                || !bit(AAVE_ACTIVE_BIT)
                || bit(AAVE_PAUSED_BIT)
                || !bit(AAVE_FLASHLOAN_BIT)
            {
                tracing::info!(%token, "aave does not flash-lend this start token");
                continue;
            }
            let call = abi::call_address(BALANCE_OF, a_token);
            let available = uint_of(rpc, token, &call, at, "balanceOf(aToken)")?;
            out.push(LenderSpec {
                funding: Funding::Aave,
                token,
                available,
                // Checked against 10 000 bps when the engine is built.
                fee: u64::try_from(bps).unwrap_or(u64::MAX),
                holder: a_token,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_their_known_values() {
        // Values from the contracts' ABIs (4byte.directory agrees).
        assert_eq!(
            selector("getReserveData(address)"),
            [0x35, 0xea, 0x6a, 0x75]
        );
        assert_eq!(
            selector("FLASHLOAN_PREMIUM_TOTAL()"),
            [0x07, 0x4b, 0x2e, 0x43]
        );
    }
}
