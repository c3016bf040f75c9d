//! The V2 formula against the real pair bytecode, and the simulated traders.

use std::collections::BTreeSet;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use polyarb_tools::{
    AnvilOpts, Dex, PairInfo, Rpc, RpcError, SplitMix64, SwapRecord, TraderOpts, Traders,
    TxRequest, Venue, World, abi::IERC20, amount_out, swap_calldata, swap_now,
};

use crate::{anvil, small_world};

fn fee(world: &World, pair: &PairInfo) -> u32 {
    world.dex(pair.dex).unwrap().fee_bps
}

/// Differential proof of the formula: for each DEX, direction and a spread of sizes, the formula's
/// output is paid and one unit more fails the pair's invariant check with its own `K` message.
#[test]
fn formula_output_swaps_and_one_more_fails_k_on_both_dexes() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let trader = node.accounts()[2];
    let mut rng = SplitMix64::new(0xD1FF);
    let mut checked = BTreeSet::new();

    for pair in &world.pairs {
        for zero_for_one in [true, false] {
            // Fixed fractions from tiny to large, plus random ones.
            let mut fractions = vec![1e-9, 1e-5, 1e-3, 0.03, 0.5];
            fractions.extend((0..3).map(|_| rng.log_uniform(1e-7, 0.2)));
            for fraction in fractions {
                let (r0, r1) = rpc.reserves(pair.address).unwrap();
                let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
                let a = U256::from((r_in.to::<u128>() as f64 * fraction) as u128);
                let out = amount_out(a, r_in, r_out, fee(&world, pair)).unwrap();
                assert!(out > U256::ZERO, "size {fraction} too small for this pool");
                let (token_in, token_out) = if zero_for_one {
                    (
                        world.tokens[pair.token0].address,
                        world.tokens[pair.token1].address,
                    )
                } else {
                    (
                        world.tokens[pair.token1].address,
                        world.tokens[pair.token0].address,
                    )
                };
                assert_one_more_fails(&rpc, pair, trader, token_in, zero_for_one, a, out);

                let got_before = rpc.balance_of(token_out, trader).unwrap();
                let swap = TxRequest::call(
                    trader,
                    pair.address,
                    swap_calldata(zero_for_one, out, trader),
                )
                .with_gas(polyarb_tools::SWAP_GAS);
                rpc.transact(&swap)
                    .unwrap_or_else(|e| panic!("{:?} {fraction}: {e}", pair.dex));
                assert_eq!(rpc.balance_of(token_out, trader).unwrap() - got_before, out);
                let want = if zero_for_one {
                    (r0 + a, r1 - out)
                } else {
                    (r0 - out, r1 + a)
                };
                assert_eq!(rpc.reserves(pair.address).unwrap(), want);
                checked.insert((pair.dex, zero_for_one));
            }
        }
    }
    assert_eq!(checked.len(), 4, "both directions on both DEXes");
}

/// Transfers `a` in, then asks for `out + 1`: as a call and as a mined transaction, both must
/// revert with the DEX's `K` message. The input stays in the pair for the real swap after.
fn assert_one_more_fails(
    rpc: &Rpc,
    pair: &PairInfo,
    trader: Address,
    token_in: Address,
    zero_for_one: bool,
    a: U256,
    out: U256,
) {
    let transfer = IERC20::transferCall {
        to: pair.address,
        value: a,
    }
    .abi_encode();
    rpc.transact(
        &TxRequest::call(trader, token_in, transfer).with_gas(polyarb_tools::TRANSFER_GAS),
    )
    .unwrap();
    let greedy = swap_calldata(zero_for_one, out + U256::from(1), trader);

    let err = rpc
        .eth_call(Some(trader), pair.address, &greedy)
        .unwrap_err();
    assert_eq!(
        err.revert_reason().as_deref(),
        Some(pair.dex.k_error()),
        "{err}"
    );

    let tx = TxRequest::call(trader, pair.address, greedy).with_gas(polyarb_tools::SWAP_GAS);
    let err = rpc.transact(&tx).unwrap_err();
    assert!(
        matches!(err, RpcError::Reverted { tx: Some(_), .. }),
        "{err}"
    );
    assert_eq!(
        err.revert_reason().as_deref(),
        Some(pair.dex.k_error()),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with(&format!("reverted: {}", pair.dex.k_error())),
        "{err}"
    );
}

#[test]
fn swap_now_pays_the_formula_on_each_dex() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let trader = node.accounts()[2];
    let (w, e) = (world.token("WMATIC").unwrap(), world.token("WETH").unwrap());
    let mut outs = Vec::new();
    for dex in Dex::ALL {
        let pair = world.pair(dex, w, e).unwrap();
        let zero_for_one = pair.token0 == w;
        let (r0, r1) = rpc.reserves(pair.address).unwrap();
        let (r_in, r_out) = if zero_for_one { (r0, r1) } else { (r1, r0) };
        let a = U256::from(10u128.pow(20));
        let out = amount_out(a, r_in, r_out, fee(&world, pair)).unwrap();
        let (t, s) = swap_now(
            &rpc,
            trader,
            pair,
            world.tokens[w].address,
            zero_for_one,
            a,
            out,
        )
        .unwrap();
        assert!(t.success && s.success && s.logs >= 3, "{s:?}");
        // Normalise by pool depth so the two pools (with different noise) compare by fee only.
        outs.push(out.to::<u128>() as f64 / r_out.to::<u128>() as f64 * r_in.to::<u128>() as f64);
    }
    assert!(
        outs[1] > outs[0],
        "pancake's 0.2 % pays more than uniswap's 0.3 %: {outs:?}"
    );
}

/// The pair a swap was on (this world has pairs only).
fn pair_of(s: &SwapRecord) -> usize {
    match s.venue {
        Venue::Pair(i) => i,
        Venue::Pool(i) => panic!("swap on pool {i} in a world of pairs"),
    }
}

fn trade_blocks(
    world: &World,
    rpc: &Rpc,
    trader: Address,
    seed: u64,
    blocks: usize,
    per_block: usize,
) -> Vec<Vec<SwapRecord>> {
    let mut traders = Traders::new(rpc, world, TraderOpts::new(trader, seed, per_block)).unwrap();
    (0..blocks)
        .map(|_| traders.block(per_block).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn batched_swaps_share_blocks_and_follow_the_formula() {
    let node = anvil(AnvilOpts {
        no_mining: true,
        ..AnvilOpts::default()
    });
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let start = rpc.block_number().unwrap();
    let blocks = trade_blocks(&world, &rpc, node.accounts()[2], 5, 15, 3);

    let mut model: Vec<(U256, U256)> = world.pairs.iter().map(|p| (p.minted0, p.minted1)).collect();
    let mut sizes = Vec::new();
    for (k, block) in blocks.iter().enumerate() {
        assert_eq!(block.len(), 3);
        let pairs: BTreeSet<usize> = block.iter().map(pair_of).collect();
        assert_eq!(pairs.len(), 3, "never two swaps on one pair in a block");
        for s in block {
            assert_eq!(s.block, start + 1 + k as u64, "one block per batch");
            let pair = pair_of(s);
            let (r0, r1) = model[pair];
            let (r_in, r_out) = if s.zero_for_one { (r0, r1) } else { (r1, r0) };
            // Sized from the reserves at the block's start, which the model tracks.
            let want =
                amount_out(s.amount_in, r_in, r_out, fee(&world, &world.pairs[pair])).unwrap();
            assert_eq!(s.amount_out, want);
            let fraction = s.amount_in.to::<u128>() as f64 / r_in.to::<u128>() as f64;
            assert!((0.99e-4..=3.01e-2).contains(&fraction), "{fraction}");
            sizes.push(fraction);
            model[pair] = if s.zero_for_one {
                (r0 + s.amount_in, r1 - s.amount_out)
            } else {
                (r0 - s.amount_out, r1 + s.amount_in)
            };
        }
    }
    for (pair, want) in world.pairs.iter().zip(&model) {
        assert_eq!(rpc.reserves(pair.address).unwrap(), *want);
    }
    let small = sizes.iter().filter(|&&f| f < 1e-3).count();
    let large = sizes.iter().filter(|&&f| f > 3e-3).count();
    assert!(small > 0 && large > 0, "sizes vary: {sizes:?}");
    assert!(!rpc.automine().unwrap());
}

#[test]
fn same_seed_same_swaps() {
    let run = |seed| {
        let node = anvil(AnvilOpts {
            no_mining: true,
            ..AnvilOpts::default()
        });
        let rpc = node.rpc();
        let world = small_world(&node, &rpc);
        trade_blocks(&world, &rpc, node.accounts()[2], seed, 6, 2)
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a, run(43));
}

#[test]
fn automining_traders_run_one_swap_a_block() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let mut traders =
        Traders::new(&rpc, &world, TraderOpts::new(node.accounts()[2], 1, 1)).unwrap();
    let before = rpc.block_number().unwrap();
    let stats = traders.run(5).unwrap();
    assert_eq!((stats.swaps, stats.blocks), (5, 5));
    // Transfer and swap are each mined on their own.
    assert_eq!(rpc.block_number().unwrap(), before + 10);
}

#[test]
fn bad_trader_options_are_refused() {
    let node = anvil(AnvilOpts::default());
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let mut opts = TraderOpts::new(node.accounts()[2], 1, 0);
    assert!(
        Traders::new(&rpc, &world, opts.clone())
            .unwrap_err()
            .to_string()
            .contains("swaps_per_block")
    );
    opts.swaps_per_block = 1;
    opts.max_fraction = 1.5;
    assert!(Traders::new(&rpc, &world, opts).is_err());
    let mut empty = world.clone();
    empty.pairs.clear();
    let err = Traders::new(&rpc, &empty, TraderOpts::new(node.accounts()[2], 1, 1)).unwrap_err();
    assert_eq!(err.to_string(), "the world has no pairs to trade on");
}
