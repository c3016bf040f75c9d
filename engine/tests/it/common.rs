//! Hand-built markets, frame builders, and an independent model of pool reserves that checks
//! an opportunity hop by hop with `get_amount_out`.

use std::collections::HashMap;

use alloy_primitives::{Address, address};
use polyarb_core::{
    DexSpec, MarketSpec, OpportunityFrame, PoolKind, PoolSpec, TokenSpec, get_amount_out,
};
use polyarb_core::{FeedFrame, FrameKind};

/// Polygon WMATIC (18 decimals), the native token in these tests.
pub const WMATIC: Address = address!("0d500b1d8e8ef31e21c99d1db9a6444d3adf1270");
/// Polygon USDC.e (6 decimals).
pub const USDC: Address = address!("2791bca1f2de4661ed88a30c99a7a9449aa84174");
/// Polygon WETH (18 decimals).
pub const WETH: Address = address!("7ceb23fd6bc0add59e62ac25578270cff1b9f619");

/// QuickSwap-like WMATIC/USDC pair (30 bps).
pub const Q_MATIC_USDC: Address = address!("6e7a5fafcec6bb1e78bae2a1f0b612012bf14827");
/// Pancake-like WMATIC/USDC pair (20 bps).
pub const P_MATIC_USDC: Address = address!("cd353f79d9fade311fc3119b841e1f456b54e858");
/// QuickSwap-like WETH/WMATIC pair (30 bps).
pub const Q_WETH_MATIC: Address = address!("adbf1854e5883eb8aa7baf50705338739e558e5b");
/// Pancake-like WETH/USDC pair (20 bps).
pub const P_WETH_USDC: Address = address!("853ee4b2a13f8a742d64c8f088be7ba2131f670d");
/// A pair the engine was never told about.
pub const STRANGER: Address = address!("1111111111111111111111111111111111111111");

/// 10^d.
pub const fn units(d: u32) -> u128 {
    10u128.pow(d)
}

/// Snapshot block of every test market.
pub const SNAPSHOT: u64 = 1_000;

/// The test's own view of a pool: tokens in pair order, reserves in raw units, fee in bps.
#[derive(Clone, Copy, Debug)]
pub struct PoolModel {
    pub token0: Address,
    pub token1: Address,
    pub reserve0: u128,
    pub reserve1: u128,
    pub fee_bps: u32,
}

/// The test's independent model of the market.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub pools: HashMap<Address, PoolModel>,
}

impl Model {
    /// Moves the model's reserves as executing `opp` would: each hop's input added to its
    /// input reserve, its output taken from its output reserve.
    pub fn execute(&mut self, opp: &OpportunityFrame) {
        let mut amount = opp.amount_in;
        for h in opp.hops() {
            let p = self.pools.get_mut(&Address::from(h.pool)).unwrap();
            if h.zero_for_one == 1 {
                p.reserve0 += amount;
                p.reserve1 -= h.amount_out;
            } else {
                p.reserve1 += amount;
                p.reserve0 -= h.amount_out;
            }
            amount = h.amount_out;
        }
    }

    /// Checks every hop of `opp` against the model: the route closes at `token_in`, each hop's
    /// direction matches the pair's token order, and each `amount_out` is exactly
    /// `get_amount_out` of the previous amount. Returns the final output.
    pub fn verify(&self, opp: &OpportunityFrame) -> u128 {
        let token_in = Address::from(opp.token_in);
        let mut at = token_in;
        let mut amount = opp.amount_in;
        for h in opp.hops() {
            let p = self.pools[&Address::from(h.pool)];
            let (r_in, r_out, next) = if h.zero_for_one == 1 {
                assert_eq!(p.token0, at, "hop input is not token0");
                (p.reserve0, p.reserve1, p.token1)
            } else {
                assert_eq!(p.token1, at, "hop input is not token1");
                (p.reserve1, p.reserve0, p.token0)
            };
            let expect = get_amount_out(amount, r_in, r_out, p.fee_bps * 100);
            assert_eq!(
                h.amount_out, expect,
                "hop amount_out is not the pair's getAmountOut"
            );
            amount = expect;
            at = next;
        }
        assert_eq!(at, token_in, "route does not close");
        assert_eq!(opp.profit, amount - opp.amount_in);
        amount
    }

    /// Profit (raw units, may be negative) of the route of `opp` at another input.
    pub fn profit_at(&self, opp: &OpportunityFrame, amount_in: u128) -> i128 {
        let mut amount = amount_in;
        for h in opp.hops() {
            let p = self.pools[&Address::from(h.pool)];
            let (r_in, r_out) = if h.zero_for_one == 1 {
                (p.reserve0, p.reserve1)
            } else {
                (p.reserve1, p.reserve0)
            };
            amount = get_amount_out(amount, r_in, r_out, p.fee_bps * 100);
        }
        amount as i128 - amount_in as i128
    }
}

/// One side of a pool: a token and its reserve, raw units.
pub type Side = (Address, u128);

/// A pool as the tests write it: `(pair, dex index, side a, side b)`.
pub type PoolDef = (Address, u8, Side, Side);

/// WMATIC/USDC on DEX 0 (30 bps) at 0.5 USDC per WMATIC.
pub const Q_MATIC_USDC_POOL: PoolDef = (
    Q_MATIC_USDC,
    0,
    (WMATIC, 2_000_000 * units(18)),
    (USDC, 1_000_000 * units(6)),
);
/// WMATIC/USDC on DEX 1 (20 bps), half as deep, same price.
pub const P_MATIC_USDC_POOL: PoolDef = (
    P_MATIC_USDC,
    1,
    (WMATIC, 1_000_000 * units(18)),
    (USDC, 500_000 * units(6)),
);
/// WETH/WMATIC on DEX 0 at 4,000 WMATIC per WETH.
pub const Q_WETH_MATIC_POOL: PoolDef = (
    Q_WETH_MATIC,
    0,
    (WETH, 500 * units(18)),
    (WMATIC, 2_000_000 * units(18)),
);
/// WETH/USDC on DEX 1 at 2,000 USDC per WETH (consistent with the two above).
pub const P_WETH_USDC_POOL: PoolDef = (
    P_WETH_USDC,
    1,
    (WETH, 400 * units(18)),
    (USDC, 800_000 * units(6)),
);

/// Builds a market from `(pair, dex, (token a, reserve a), (token b, reserve b))`, sorting each
/// pair's tokens as the pair contract does. DEX 0 charges 30 bps, DEX 1 20 bps.
pub fn market(pools: &[PoolDef]) -> (MarketSpec, Model) {
    // The model's fees, bps, by DEX index (the spec carries them per pool, in pips).
    let dex_fee_bps = [30u32, 20];
    let dexes = vec![
        DexSpec {
            name: "quickswap".into(),
            factory: address!("5757371414417b8c6caad45baef941abc7d3ab32"),
            kind: PoolKind::UniswapV2,
            flash_swap: true,
        },
        DexSpec {
            name: "pancake".into(),
            factory: address!("02a84c1b3bbd7401a5f7fa98a384ebc70bb5749e"),
            kind: PoolKind::UniswapV2,
            flash_swap: true,
        },
    ];
    let mut model = Model::default();
    let mut specs = Vec::new();
    for &(pair, dex, (a, ra), (b, rb)) in pools {
        let ((token0, reserve0), (token1, reserve1)) = if a < b {
            ((a, ra), (b, rb))
        } else {
            ((b, rb), (a, ra))
        };
        let fee_bps = dex_fee_bps[usize::from(dex)];
        specs.push(PoolSpec::v2(
            pair,
            dex,
            token0,
            token1,
            fee_bps * 100,
            reserve0,
            reserve1,
        ));
        model.pools.insert(
            pair,
            PoolModel {
                token0,
                token1,
                reserve0,
                reserve1,
                fee_bps,
            },
        );
    }
    let tokens = vec![
        TokenSpec {
            address: WMATIC,
            symbol: "WMATIC".into(),
            decimals: 18,
        },
        TokenSpec {
            address: USDC,
            symbol: "USDC".into(),
            decimals: 6,
        },
        TokenSpec {
            address: WETH,
            symbol: "WETH".into(),
            decimals: 18,
        },
    ];
    (
        MarketSpec {
            block: SNAPSHOT,
            base_fee: 30_000_000_000,
            tokens,
            dexes,
            pools: specs,
            capital: Vec::new(),
            lenders: Vec::new(),
        },
        model,
    )
}

/// 32-byte big-endian word holding `v`.
pub fn word(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A `Sync` of `pair` at `(block, log_index)` with reserves in pair order.
pub fn sync(
    pair: Address,
    block: u64,
    log_index: u32,
    reserve0: u128,
    reserve1: u128,
) -> FeedFrame {
    let mut f = FeedFrame::EMPTY;
    f.kind = FrameKind::V2Sync;
    f.recv_ns = block * 1_000 + u64::from(log_index);
    f.block_number = block;
    f.log_index = log_index;
    f.address = pair.into_array();
    f.words[0] = word(reserve0);
    f.words[1] = word(reserve1);
    f
}

/// A `Sync` that also updates the model. Reserves are given per token, like [`market`].
pub fn sync_model(
    model: &mut Model,
    pair: Address,
    block: u64,
    log_index: u32,
    (a, ra): Side,
    (_, rb): Side,
) -> FeedFrame {
    let p = model.pools.get_mut(&pair).expect("pair in model");
    let (r0, r1) = if p.token0 == a { (ra, rb) } else { (rb, ra) };
    p.reserve0 = r0;
    p.reserve1 = r1;
    sync(pair, block, log_index, r0, r1)
}

/// A `newHeads` frame with a base fee in wei per gas.
pub fn head(block: u64, base_fee: u128) -> FeedFrame {
    let mut f = FeedFrame::EMPTY;
    f.kind = FrameKind::NewHead;
    f.block_number = block;
    f.words[0] = word(base_fee);
    f
}
