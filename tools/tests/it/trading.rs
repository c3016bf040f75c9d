//! The V2 formula against the real pair bytecode, and the simulated traders.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Instant,
};

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use polyarb_tools::{
    AnvilOpts, Dex, LpOpts, PairInfo, Rpc, RpcError, SplitMix64, SwapRecord, Toolchain, TradeError,
    TraderOpts, Traders, TxRequest, Venue, World, WorldOpts, abi::IERC20, amount_out, lp_seed,
    price_limit, read_pool_state, start_world, swap_calldata, swap_now,
};

use crate::{anvil, scratch, small_world, stand_in_executor};

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

/// A pair's reserves and its balances of token0 and token1, raw units.
type Book = ((U256, U256), (U256, U256));

/// Reserves and token balances of every pair.
fn pair_books(rpc: &Rpc, world: &World) -> Vec<Book> {
    world
        .pairs
        .iter()
        .map(|p| {
            let balance = |t: usize| rpc.balance_of(world.tokens[t].address, p.address).unwrap();
            (
                rpc.reserves(p.address).unwrap(),
                (balance(p.token0), balance(p.token1)),
            )
        })
        .collect()
}

/// Checks a block's V2 swaps against a model of the pairs, swap by swap in the order sent (the
/// order they were mined in): each output is the formula's on the reserves the earlier swaps
/// left, after which the reserves are the balances. Returns how many swaps followed an earlier
/// one on the same pair in the same direction.
fn check_pair_swaps(world: &World, books: &mut [Book], swaps: &[SwapRecord]) -> usize {
    let mut seen = BTreeSet::new();
    let mut repeats = 0;
    for s in swaps {
        let Venue::Pair(pair) = s.venue else {
            continue;
        };
        let ((r0, r1), (b0, b1)) = books[pair];
        let (r_in, r_out) = if s.zero_for_one { (r0, r1) } else { (r1, r0) };
        let want = amount_out(s.amount_in, r_in, r_out, fee(world, &world.pairs[pair])).unwrap();
        assert_eq!(s.amount_out, want, "{s:?}");
        let synced = if s.zero_for_one {
            (b0 + s.amount_in, b1 - s.amount_out)
        } else {
            (b0 - s.amount_out, b1 + s.amount_in)
        };
        books[pair] = (synced, synced);
        if !seen.insert((pair, s.zero_for_one)) {
            repeats += 1;
        }
    }
    repeats
}

/// More swaps a block than the world has pairs, with tokens lying in every pair above its
/// reserves (as a reverted swap's input stays): pairs repeat within a block, each swap is sized
/// on the reserves the earlier ones leave, all succeed, and the pairs end where the model says.
/// The same seed on a fresh world trades the same.
#[test]
fn repeated_pairs_are_sized_on_what_the_earlier_swaps_leave() {
    let run = |seed: u64| {
        let node = anvil(AnvilOpts {
            no_mining: true,
            ..AnvilOpts::default()
        });
        let rpc = node.rpc();
        let world = small_world(&node, &rpc);
        let trader = node.accounts()[2];
        // 1 % of each reserve lying in each pair: the first swap on a pair syncs it in.
        for pair in &world.pairs {
            for (t, minted) in [(pair.token0, pair.minted0), (pair.token1, pair.minted1)] {
                let transfer = IERC20::transferCall {
                    to: pair.address,
                    value: minted / U256::from(100),
                };
                let tx = TxRequest::call(trader, world.tokens[t].address, transfer.abi_encode())
                    .with_gas(polyarb_tools::TRANSFER_GAS);
                rpc.send_transaction(&tx).unwrap();
            }
        }
        rpc.mine().unwrap();
        let mut books = pair_books(&rpc, &world);
        assert!(books.iter().all(|(r, b)| b.0 > r.0 && b.1 > r.1));
        let start = rpc.block_number().unwrap();
        let blocks = trade_blocks(&world, &rpc, trader, seed, 4, 20);
        let mut repeats = 0;
        for (k, block) in blocks.iter().enumerate() {
            assert_eq!(block.len(), 20);
            assert!(block.iter().all(|s| s.block == start + 1 + k as u64));
            let pairs: BTreeSet<usize> = block.iter().map(pair_of).collect();
            assert_eq!(pairs.len(), world.pairs.len(), "every pair, some again");
            repeats += check_pair_swaps(&world, &mut books, block);
        }
        assert!(repeats > 10, "same pair, same way, same block: {repeats}");
        for (pair, (reserves, balances)) in world.pairs.iter().zip(&books) {
            assert_eq!(rpc.reserves(pair.address).unwrap(), *reserves);
            assert_eq!(reserves, balances);
        }
        blocks
    };
    let a = run(77);
    assert_eq!(a, run(77));
}

/// The block's transaction hashes.
fn block_txs(rpc: &Rpc, block: u64) -> Vec<B256> {
    let b: serde_json::Value = rpc
        .call(
            "eth_getBlockByNumber",
            serde_json::json!([format!("{block:#x}"), false]),
        )
        .unwrap();
    serde_json::from_value(b["transactions"].clone()).unwrap()
}

fn block_gas(rpc: &Rpc, block: u64) -> (u64, u64) {
    let b: serde_json::Value = rpc
        .call(
            "eth_getBlockByNumber",
            serde_json::json!([format!("{block:#x}"), false]),
        )
        .unwrap();
    let q = |k: &str| u64::from_str_radix(b[k].as_str().unwrap().trim_start_matches("0x"), 16);
    (q("gasUsed").unwrap(), q("gasLimit").unwrap())
}

/// Blocks of more swaps than the all-kinds world has venues (200; 1,000 with POLYARB_LONG=1),
/// with the liquidity provider acting in each: every venue is traded, some more than once; the
/// whole block is mined at once and every transaction in it succeeded; its transactions are
/// exactly the swaps' (two per V2 swap, one per pool swap) and the provider's; the V2 pairs end
/// where the formula applied swap by swap says; each pool's price stays within the 3 % band
/// around the block's starting price.
#[test]
fn blocks_of_more_swaps_than_venues_mine_whole_on_the_all_kinds_world() {
    let long = std::env::var_os("POLYARB_LONG").is_some_and(|v| v == "1");
    let (per_block, blocks) = if long { (1_000, 3) } else { (200, 2) };
    let dir = scratch("big-blocks");
    let tc = Toolchain::locate();
    let live = start_world(
        &tc,
        &WorldOpts {
            out_dir: dir.clone(),
            config_name: "world.toml".to_owned(),
            executor_artifact: Some(stand_in_executor(&dir)),
            no_mining: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (rpc, world) = (&live.rpc, &live.world);
    let venues = world.pairs.len() + world.clmm_pools.len();
    assert!(per_block > 3 * venues, "{venues} venues");
    let mut lp = LpOpts::new(live.lp, lp_seed(5));
    lp.rate = 1.0;
    let opts = TraderOpts::new(live.trader, 5, per_block).with_liquidity(lp);
    let max_move = opts.max_price_move;
    let mut traders = Traders::new(rpc, world, opts).unwrap_or_else(|e| panic!("{e}"));
    let price = |i: usize| {
        let pool = &world.clmm_pools[i];
        read_pool_state(rpc, pool.protocol(), pool.address)
            .unwrap()
            .sqrt_price
    };

    for _ in 0..blocks {
        let before = rpc.block_number().unwrap();
        let nonce = rpc.next_nonce(live.trader).unwrap();
        let mut books = pair_books(rpc, world);
        let prices: Vec<_> = (0..world.clmm_pools.len()).map(price).collect();
        let lp_actions = traders.liquidity().unwrap().actions().len();
        let started = Instant::now();
        let swaps = traders.block(per_block).unwrap_or_else(|e| panic!("{e}"));
        let took = started.elapsed();
        let block = before + 1;
        assert_eq!(rpc.block_number().unwrap(), block, "one block");
        assert_eq!(swaps.len(), per_block, "no swap left out");
        assert!(swaps.iter().all(|s| s.block == block));
        let mut uses: BTreeMap<Venue, usize> = BTreeMap::new();
        swaps
            .iter()
            .for_each(|s| *uses.entry(s.venue).or_default() += 1);
        assert_eq!(uses.len(), venues, "every venue");
        assert!(
            uses.values()
                .all(|&u| (per_block / venues..=per_block.div_ceil(venues)).contains(&u)),
            "{uses:?}"
        );

        // Exactly the traders' and the provider's transactions, all successful.
        let pair_swaps = swaps
            .iter()
            .filter(|s| matches!(s.venue, Venue::Pair(_)))
            .count();
        let trader_txs = 2 * pair_swaps + (per_block - pair_swaps);
        let lp_txs = traders.liquidity().unwrap().actions().len() - lp_actions;
        assert_eq!(lp_txs, 1, "the provider's action");
        assert_eq!(
            rpc.next_nonce(live.trader).unwrap() - nonce,
            trader_txs as u64
        );
        let txs = block_txs(rpc, block);
        assert_eq!(txs.len(), trader_txs + lp_txs);
        let receipts = rpc.mined_receipts(&txs).unwrap_or_else(|e| panic!("{e}"));
        assert!(receipts.iter().all(|r| r.success));

        // V2: the model, swap by swap.
        let repeats = check_pair_swaps(world, &mut books, &swaps);
        assert!(repeats > 0);
        for (pair, (reserves, _)) in world.pairs.iter().zip(&books) {
            assert_eq!(rpc.reserves(pair.address).unwrap(), *reserves);
        }
        // Pools: within the band, and moved.
        let mut moved = 0;
        for (i, &start) in prices.iter().enumerate() {
            let now = price(i);
            let (lo, hi) = (
                price_limit(start, true, max_move),
                price_limit(start, false, max_move),
            );
            assert!(lo <= now && now <= hi, "pool {i}: {start} -> {now}");
            moved += usize::from(now != start);
        }
        assert_eq!(moved, world.clmm_pools.len());

        let (used, limit) = block_gas(rpc, block);
        assert!(used <= limit / 2, "{used} of {limit}");
        println!(
            "{per_block} swaps ({pair_swaps} on pairs), {} transactions, {used} gas of a \
             {limit} limit: sent and mined in {} ms",
            txs.len(),
            took.as_millis()
        );
    }
}

/// Someone else's swaps landing first in the block (here the trader's own, sent before the
/// block at lower nonces) move every pair after the traders sized their swaps on it: those
/// going the other way ask for more than the pair can pay and revert. The block is an error of
/// the kind callers trade on through ([`RpcError::Reverted`], the pair's `K` message), it is
/// mined all the same, and the next block trades without a revert.
#[test]
fn a_block_with_reverted_swaps_is_a_revert_and_the_next_one_trades() {
    let node = anvil(AnvilOpts {
        no_mining: true,
        ..AnvilOpts::default()
    });
    let rpc = node.rpc();
    let world = small_world(&node, &rpc);
    let trader = node.accounts()[2];
    let mut traders = Traders::new(&rpc, &world, TraderOpts::new(trader, 11, 20)).unwrap();
    for pair in &world.pairs {
        // Half of each pair's token0 out, for token1 in.
        let (r0, r1) = rpc.reserves(pair.address).unwrap();
        let out = amount_out(r1, r1, r0, fee(&world, pair)).unwrap();
        let (transfer, swap) = polyarb_tools::swap_txs(
            trader,
            pair,
            world.tokens[pair.token1].address,
            false,
            r1,
            out,
        );
        rpc.send_transaction(&transfer).unwrap();
        rpc.send_transaction(&swap).unwrap();
    }
    let before = rpc.block_number().unwrap();
    let err = traders.block(20).unwrap_err();
    assert!(
        matches!(
            &err,
            TradeError::Rpc(RpcError::Reverted { tx: Some(_), .. })
        ),
        "{err}"
    );
    let TradeError::Rpc(e) = &err else {
        unreachable!()
    };
    let reason = e.revert_reason();
    assert!(
        Dex::ALL
            .iter()
            .any(|d| reason.as_deref() == Some(d.k_error())),
        "{err}"
    );
    assert_eq!(
        rpc.block_number().unwrap(),
        before + 1,
        "mined all the same"
    );

    let swaps = traders.block(20).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(swaps.len(), 20);
    assert!(swaps.iter().all(|s| s.block == before + 2));
    for (r, b) in pair_books(&rpc, &world) {
        assert_eq!(r, b, "every pair swapped, so synced");
    }
}
