//! The tables polyarb ends a live run with (`polyarb run --save-snapshot FILE`) against the
//! node: every pool's state read independently of polyarb (`polyarb_tools`' own readers) at the
//! block the tables are complete up to.

use std::path::Path;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use polyarb_core::PoolState;
use polyarb_tools::{Clmm, Rpc, Words, abi::IUniswapV2Pair, read_pool_at, tick_word};
use serde_json::json;

/// Reserves of a V2 pair at the end of `block`.
fn reserves_at(rpc: &Rpc, pair: Address, block: u64) -> (u128, u128) {
    let out: Bytes = rpc
        .call(
            "eth_call",
            json!([
                {"to": pair, "data": Bytes::from(IUniswapV2Pair::getReservesCall {}.abi_encode())},
                format!("{block:#x}")
            ]),
        )
        .unwrap();
    let word = |i: usize| U256::from_be_slice(&out[32 * i..32 * (i + 1)]);
    (word(0).to::<u128>(), word(1).to::<u128>())
}

/// Panics, naming every pool that differs, unless each pool in the snapshot at `path` equals
/// the node's state at the end of the newest block polyarb applied a log of (the snapshot's
/// `block` is the one it is complete up to; a run that stopped after all its logs arrived has
/// applied that next block whole). Returns how many pools were compared.
pub(crate) fn assert_tables_equal_node(rpc: &Rpc, path: &Path) -> usize {
    let (market, _) = polyarb_engine::snapshot::read(path)
        .unwrap_or_else(|e| panic!("read polyarb's tables {}: {e}", path.display()));
    let block = market
        .pools
        .iter()
        .filter_map(|p| p.last_log.map(|(b, _)| b))
        .max()
        .unwrap_or(market.block)
        .max(market.block);
    let mut diffs = Vec::new();
    for p in &market.pools {
        if !p.stale.is_fresh() {
            diffs.push(format!("{}: exported as stale ({:?})", p.address, p.stale));
            continue;
        }
        match &p.state {
            PoolState::UniswapV2 { reserve0, reserve1 } => {
                let node = reserves_at(rpc, p.address, block);
                if node != (*reserve0, *reserve1) {
                    diffs.push(format!(
                        "V2 {}: polyarb {reserve0}/{reserve1}, node {}/{}",
                        p.address, node.0, node.1
                    ));
                }
            }
            PoolState::UniswapV3(s) | PoolState::Algebra(s) => {
                let protocol = if matches!(p.state, PoolState::Algebra(_)) {
                    Clmm::AlgebraV1
                } else {
                    Clmm::UniswapV3
                };
                let words =
                    tick_word(s.window[0], s.tick_spacing)..=tick_word(s.window[1], s.tick_spacing);
                let node = read_pool_at(rpc, p.address, protocol, Words::Range(words), block)
                    .unwrap_or_else(|e| panic!("read {} at {block}: {e}", p.address));
                let mine = (
                    U256::from(node.sqrt_price),
                    node.tick,
                    node.liquidity,
                    node.fee,
                );
                let ours = (s.sqrt_price_x96, s.tick, s.liquidity, p.fee_pips);
                if mine != ours {
                    diffs.push(format!(
                        "{protocol:?} {}: polyarb (price, tick, liquidity, fee) {ours:?}, node {mine:?}",
                        p.address
                    ));
                }
                let node_ticks: Vec<(i32, i128, u128)> = node
                    .ticks
                    .iter()
                    .filter(|t| (s.window[0]..=s.window[1]).contains(&t.tick))
                    .map(|t| (t.tick, t.liquidity_net, t.liquidity_gross))
                    .collect();
                let our_ticks: Vec<(i32, i128, u128)> = s
                    .ticks
                    .iter()
                    .map(|t| (t.tick, t.liquidity_net, t.liquidity_gross))
                    .collect();
                if node_ticks != our_ticks {
                    diffs.push(format!(
                        "{protocol:?} {}: initialized ticks in {:?} differ: polyarb {our_ticks:?}, node {node_ticks:?}",
                        p.address, s.window
                    ));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} pools differ from the node at block {block}:\n{}",
        diffs.len(),
        market.pools.len(),
        diffs.join("\n")
    );
    market.pools.len()
}
