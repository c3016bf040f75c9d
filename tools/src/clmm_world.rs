//! The concentrated-liquidity part of a test world: the real Uniswap V3 factory
//! (`@uniswap/v3-core` 1.0.1) and Algebra V1 factory and pool deployer (`@cryptoalgebra/core`
//! 2.0.0, the engine of QuickSwap V3, with the one-constant factory patch of docs/algebra.md),
//! pools priced from the world's price vector, each seeded with liquidity in a ladder of ranges
//! around its price by a `PoolActor` the deployer owns, and `PoolActor`s for the accounts that
//! trade on the pools or provide liquidity to them (contracts/test/utils/PoolActor.sol).
//!
//! The npm Algebra build exceeds EIP-170 (docs/algebra.md), so the node must run with
//! `--code-size-limit` of at least [`crate::LAB_CODE_SIZE_LIMIT`] (see
//! [`crate::world_anvil_opts`]).

use alloy_primitives::{
    Address, Bytes, I256, U160, U256,
    aliases::{I24, U24},
    keccak256,
};
use alloy_sol_types::{SolCall, SolEvent, SolValue};

use crate::{
    abi::{
        IAlgebraFactory, IAlgebraPool, IAlgebraPoolDeployer, IERC20, IPoolActor, IUniswapV3Factory,
        IUniswapV3Pool,
    },
    artifact::load_bytecode,
    clmm::{Clmm, PoolKind, Position, i24, patch_init_code_hash},
    clmm_gen::approx_sqrt_price,
    clmm_state::{MAX_TICK, MIN_TICK},
    paths::{Artifact, Toolchain},
    rng::SplitMix64,
    rpc::{Log, Receipt, Rpc, RpcError, TxRequest},
    world::{TokenInfo, WorldError},
};

/// `PoolActor`'s kind codes.
const ACTOR_KIND_V3: u8 = 0;
const ACTOR_KIND_ALGEBRA: u8 = 1;

/// Gas limit of a `PoolActor` call (swap, mint, burn + collect). Set explicitly so several can
/// wait for one block (an estimate would be taken against the state before the block's other
/// transactions). Used on the sample world's pools: swaps 94k–292k gas (the npm Algebra build is
/// coverage-instrumented and dear), mints 102k–285k, burns with their collect 189k–399k.
pub const ACTOR_GAS: u64 = 3_000_000;

/// Half-width of the seed ladder's wide range, ticks (×7.4 in price either way).
const WIDE_TICKS: i32 = 20_000;
/// Half-width of the seed ladder's medium range, ticks (±22 % in price).
const MEDIUM_TICKS: i32 = 2_000;
/// Width of each narrow seed range, ticks before rounding up to the spacing (about 1 % in price).
const NARROW_TICKS: i32 = 100;
/// Narrow seed ranges on each side of the price.
const NARROW_EACH_SIDE: i32 = 3;

/// A concentrated-liquidity pool to create, price and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClmmPoolSpec {
    /// Uniswap V3 of one of [`V3_FEE_TIERS`], or Algebra with `fee: None` (worlds keep Algebra's
    /// default adaptive fee, so its `Fee` events happen).
    pub kind: PoolKind,
    /// Token symbols.
    pub a: String,
    /// Token symbols.
    pub b: String,
    /// Multiplies [`crate::WorldSpec::depth_native_wei`] for this pool's liquidity unit.
    pub depth_scale: f64,
}

impl ClmmPoolSpec {
    /// A pool of normal depth.
    pub fn new(kind: PoolKind, a: &str, b: &str) -> Self {
        Self {
            kind,
            a: a.to_owned(),
            b: b.to_owned(),
            depth_scale: 1.0,
        }
    }
}

/// A deployed concentrated-liquidity pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClmmPoolInfo {
    /// Its kind (fee tier and spacing for V3; Algebra).
    pub kind: PoolKind,
    /// Pool contract.
    pub address: Address,
    /// Index into [`crate::World::tokens`] of the pool's `token0()`.
    pub token0: usize,
    /// Index into [`crate::World::tokens`] of `token1()`.
    pub token1: usize,
    /// The price it was initialized at, Q64.96 √(token1/token0).
    pub init_sqrt_price: U160,
    /// The tick that price is in.
    pub init_tick: i32,
    /// Liquidity (the pools' `L`) of a full-range position worth the pool's depth on each side:
    /// the unit the seed ladder and the liquidity providers size positions in.
    pub unit_liquidity: u128,
    /// Positions minted at deployment by [`crate::World::seeder`], in order.
    pub seeds: Vec<Position>,
    /// `(token0, token1)` raw units each seed took.
    pub seeded: Vec<(U256, U256)>,
}

impl ClmmPoolInfo {
    /// Its protocol.
    pub fn protocol(&self) -> Clmm {
        self.kind.protocol()
    }

    /// Its tick spacing.
    pub fn tick_spacing(&self) -> i32 {
        self.kind.tick_spacing()
    }
}

/// A deployed `PoolActor` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorInfo {
    /// The account that owns it (the only one it obeys).
    pub owner: Address,
    /// The contract.
    pub address: Address,
}

/// The seed positions of a pool whose current tick is `tick`: a wide range (±20,000 ticks) of
/// `unit / 2`, a medium one (±2,000 ticks) of `unit`, and six adjacent narrow ranges of about
/// 100 ticks each (rounded up to the spacing), three on each side of the spacing-aligned tick, of
/// `2 · unit` each. Bounds are multiples of `spacing` within the tick range.
pub fn seed_ladder(tick: i32, spacing: i32, unit: u128) -> Vec<Position> {
    let spacing = spacing.max(1);
    let lo = align_up(MIN_TICK, spacing);
    let hi = align_down(MAX_TICK, spacing);
    let center = align_down(tick, spacing);
    let range = |lower: i32, upper: i32, liquidity: u128| {
        let tick_lower = align_down(lower, spacing).clamp(lo, hi - spacing);
        let tick_upper = align_up(upper, spacing).clamp(tick_lower + spacing, hi);
        Position {
            tick_lower,
            tick_upper,
            liquidity,
        }
    };
    let mut ladder = vec![
        range(center - WIDE_TICKS, center + WIDE_TICKS, unit / 2),
        range(center - MEDIUM_TICKS, center + MEDIUM_TICKS, unit),
    ];
    let width = align_up(NARROW_TICKS, spacing);
    for k in -NARROW_EACH_SIDE..NARROW_EACH_SIDE {
        let lower = center + k * width;
        ladder.push(range(lower, lower + width, unit.saturating_mul(2)));
    }
    ladder
}

/// About `√price · 2^96` for a raw price (token1 raw units per token0 raw unit), clamped into the
/// open interval the pools accept.
pub fn sqrt_price_of(price: f64) -> U160 {
    approx_sqrt_price(price.ln() / 1.0001f64.ln())
}

/// `tick` rounded down to a multiple of `spacing` (`spacing > 0`).
pub(crate) fn align_down(tick: i32, spacing: i32) -> i32 {
    tick - tick.rem_euclid(spacing)
}

/// `tick` rounded up to a multiple of `spacing` (`spacing > 0`).
pub(crate) fn align_up(tick: i32, spacing: i32) -> i32 {
    let down = align_down(tick, spacing);
    if down == tick { tick } else { down + spacing }
}

/// `PoolActor`'s code for a pool kind.
pub(crate) fn actor_kind(kind: PoolKind) -> u8 {
    match kind {
        PoolKind::UniswapV3 { .. } => ACTOR_KIND_V3,
        PoolKind::Algebra { .. } => ACTOR_KIND_ALGEBRA,
    }
}

/// An `int24` argument.
pub(crate) fn int24(x: i32) -> Result<I24, String> {
    I24::try_from(x).map_err(|_| format!("tick {x} does not fit int24"))
}

/// A pool's price and tick (V3 `slot0`, Algebra `globalState`) at `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Q64.96 √price.
    pub sqrt_price: U160,
    /// Current tick.
    pub tick: i32,
}

/// The heads of several pools in one batch request.
pub(crate) fn heads(rpc: &Rpc, pools: &[(Clmm, Address)]) -> Result<Vec<Head>, RpcError> {
    let calls: Vec<(Address, Bytes)> = pools
        .iter()
        .map(|&(protocol, pool)| (pool, head_call(protocol)))
        .collect();
    rpc.calls_many(&calls)?
        .into_iter()
        .zip(pools)
        .map(|(answer, &(protocol, _))| decode_head(protocol, &answer?))
        .collect()
}

pub(crate) fn head_call(protocol: Clmm) -> Bytes {
    match protocol {
        Clmm::UniswapV3 => IUniswapV3Pool::slot0Call {}.abi_encode().into(),
        Clmm::AlgebraV1 => IAlgebraPool::globalStateCall {}.abi_encode().into(),
    }
}

pub(crate) fn decode_head(protocol: Clmm, out: &[u8]) -> Result<Head, RpcError> {
    let bad = |e: alloy_sol_types::Error| RpcError::Decode {
        method: "slot0/globalState".to_owned(),
        message: e.to_string(),
    };
    Ok(match protocol {
        Clmm::UniswapV3 => {
            let s = IUniswapV3Pool::slot0Call::abi_decode_returns(out).map_err(bad)?;
            Head {
                sqrt_price: s.sqrtPriceX96,
                tick: i24(s.tick),
            }
        }
        Clmm::AlgebraV1 => {
            let g = IAlgebraPool::globalStateCall::abi_decode_returns(out).map_err(bad)?;
            Head {
                sqrt_price: g.price,
                tick: i24(g.tick),
            }
        }
    })
}

/// The pool's `Swap` event among a transaction's logs (same layout in V3 and Algebra).
pub(crate) fn swap_event(logs: &[Log], pool: Address) -> Option<IUniswapV3Pool::Swap> {
    event_of::<IUniswapV3Pool::Swap>(logs, pool)
}

/// The pool's `Mint` event in `receipt` (same layout in V3 and Algebra).
pub(crate) fn mint_event(receipt: &Receipt, pool: Address) -> Option<IUniswapV3Pool::Mint> {
    event_of::<IUniswapV3Pool::Mint>(&receipt.events, pool)
}

/// The pool's `Burn` event in `receipt` (same layout in V3 and Algebra).
pub(crate) fn burn_event(receipt: &Receipt, pool: Address) -> Option<IUniswapV3Pool::Burn> {
    event_of::<IUniswapV3Pool::Burn>(&receipt.events, pool)
}

fn event_of<E: SolEvent>(logs: &[Log], emitter: Address) -> Option<E> {
    logs.iter()
        .filter(|l| l.address == emitter && l.topic0() == Some(E::SIGNATURE_HASH))
        .find_map(|l| E::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
}

/// `(paid in, paid out)` of a swap from the pool's signed amounts (positive = into the pool).
pub(crate) fn swap_in_out(amount0: I256, amount1: I256) -> (U256, U256) {
    let (paid, got) = if amount0.is_positive() {
        (amount0, amount1)
    } else {
        (amount1, amount0)
    };
    (paid.unsigned_abs(), got.unsigned_abs())
}

/// The creation code a world with concentrated pools deploys.
pub(crate) struct ClmmCode {
    v3_factory: Option<Bytes>,
    algebra: Option<(Bytes, Bytes, Bytes)>,
    pub(crate) actor: Bytes,
}

impl ClmmCode {
    /// Loads what `kinds` need (the actor always).
    pub(crate) fn load(tc: &Toolchain, kinds: &[PoolKind]) -> Result<Self, WorldError> {
        let npm = |a| -> Result<Bytes, WorldError> { Ok(load_bytecode(&tc.artifact(a)?)?) };
        let has_v3 = kinds
            .iter()
            .any(|k| matches!(k, PoolKind::UniswapV3 { .. }));
        let has_algebra = kinds.iter().any(|k| matches!(k, PoolKind::Algebra { .. }));
        Ok(Self {
            v3_factory: has_v3
                .then(|| npm(Artifact::UniswapV3Factory))
                .transpose()?,
            algebra: if has_algebra {
                Some((
                    npm(Artifact::AlgebraPoolDeployer)?,
                    npm(Artifact::AlgebraFactory)?,
                    npm(Artifact::AlgebraPool)?,
                ))
            } else {
                None
            },
            actor: load_bytecode(&tc.pool_actor_artifact()?)?,
        })
    }
}

/// What [`deploy_clmm`] made.
#[derive(Default)]
pub(crate) struct ClmmDeployment {
    pub(crate) v3_factory: Option<Address>,
    pub(crate) algebra_factory: Option<Address>,
    pub(crate) algebra_pool_deployer: Option<Address>,
    pub(crate) seeder: Option<Address>,
    pub(crate) pools: Vec<ClmmPoolInfo>,
}

/// A pool to deploy: its spec and its tokens' indices.
pub(crate) struct PlannedPool<'a> {
    pub(crate) spec: &'a ClmmPoolSpec,
    pub(crate) a: usize,
    pub(crate) b: usize,
}

fn at(step: impl Into<String>) -> impl FnOnce(RpcError) -> WorldError {
    let step = step.into();
    move |source| WorldError::Rpc { step, source }
}

/// The node, the deployer, the tokens deployed and the world's pricing.
pub(crate) struct DeployCtx<'a> {
    pub(crate) rpc: &'a Rpc,
    /// Deploys and owns the factories and the seeding actor; holds the token supply.
    pub(crate) deployer: Address,
    pub(crate) tokens: &'a [TokenInfo],
    /// Value of each side of a pool of depth scale 1, wei of native.
    pub(crate) depth_native_wei: u128,
    /// Price noise, basis points.
    pub(crate) noise_bps: u32,
}

/// Deploys the factories `pools` need, then each pool: created, initialized at the tokens' price
/// ratio times a uniform noise factor in ±`noise_bps` (drawn from `rng` in pool order), and
/// seeded with [`seed_ladder`] by a `PoolActor` owned by `deployer`, which is first given a
/// quarter of the deployer's balance of every token.
pub(crate) fn deploy_clmm(
    ctx: &DeployCtx<'_>,
    code: &ClmmCode,
    pools: &[PlannedPool<'_>],
    rng: &mut SplitMix64,
) -> Result<ClmmDeployment, WorldError> {
    let (rpc, deployer, tokens) = (ctx.rpc, ctx.deployer, ctx.tokens);
    let mut out = ClmmDeployment {
        v3_factory: None,
        algebra_factory: None,
        algebra_pool_deployer: None,
        seeder: None,
        pools: Vec::new(),
    };
    if pools.is_empty() {
        return Ok(out);
    }
    if let Some(v3) = &code.v3_factory {
        let (factory, _) = rpc
            .deploy(deployer, v3.clone())
            .map_err(at("deploy UniswapV3Factory"))?;
        // The constructor enables 500/10, 3000/60 and 10000/200; 100/1 only if a pool wants it.
        if pools
            .iter()
            .any(|p| matches!(p.spec.kind, PoolKind::UniswapV3 { fee: 100, .. }))
        {
            rpc.transact_call(
                deployer,
                factory,
                &IUniswapV3Factory::enableFeeAmountCall {
                    fee: U24::from(100u32),
                    tickSpacing: I24::ONE,
                },
            )
            .map_err(at("UniswapV3Factory.enableFeeAmount(100, 1)"))?;
        }
        out.v3_factory = Some(factory);
    }
    if let Some((deployer_code, factory_code, pool_code)) = &code.algebra {
        let (pool_deployer, _) = rpc
            .deploy(deployer, deployer_code.clone())
            .map_err(at("deploy AlgebraPoolDeployer"))?;
        // constructor(address poolDeployer, address vaultAddress); the vault gets community fees,
        // which stay 0 here.
        let init = [
            factory_code.as_ref(),
            &(pool_deployer, deployer).abi_encode_params(),
        ]
        .concat();
        let (factory, _) = rpc
            .deploy(deployer, init)
            .map_err(at("deploy AlgebraFactory"))?;
        rpc.transact_call(
            deployer,
            pool_deployer,
            &IAlgebraPoolDeployer::setFactoryCall { factory },
        )
        .map_err(at("AlgebraPoolDeployer.setFactory"))?;
        patch_init_code_hash(rpc, factory, keccak256(pool_code)).map_err(WorldError::Lab)?;
        out.algebra_factory = Some(factory);
        out.algebra_pool_deployer = Some(pool_deployer);
    }

    let (seeder, _) = rpc
        .deploy(deployer, code.actor.clone())
        .map_err(at("deploy seeding PoolActor"))?;
    for t in tokens {
        let held = rpc
            .balance_of(t.address, deployer)
            .map_err(at(format!("balance of {}", t.symbol)))?;
        rpc.transact_call(
            deployer,
            t.address,
            &IERC20::transferCall {
                to: seeder,
                value: held / U256::from(4),
            },
        )
        .map_err(at(format!("fund seeding PoolActor with {}", t.symbol)))?;
    }
    out.seeder = Some(seeder);

    for p in pools {
        let info = deploy_pool(ctx, seeder, &out, p, rng)?;
        out.pools.push(info);
    }
    Ok(out)
}

fn deploy_pool(
    ctx: &DeployCtx<'_>,
    seeder: Address,
    made: &ClmmDeployment,
    p: &PlannedPool<'_>,
    rng: &mut SplitMix64,
) -> Result<ClmmPoolInfo, WorldError> {
    let (rpc, deployer, tokens) = (ctx.rpc, ctx.deployer, ctx.tokens);
    let kind = p.spec.kind;
    let name = format!("{}/{} {kind:?}", p.spec.a, p.spec.b);
    let (ta, tb) = (tokens[p.a].address, tokens[p.b].address);
    let missing = |what: &str| WorldError::Spec(format!("no {what} for {name}"));
    let address = match kind {
        PoolKind::UniswapV3 { fee, .. } => {
            let factory = made
                .v3_factory
                .ok_or_else(|| missing("uniswap v3 factory"))?;
            let fee = U24::from(fee);
            rpc.transact_call(
                deployer,
                factory,
                &IUniswapV3Factory::createPoolCall {
                    tokenA: ta,
                    tokenB: tb,
                    fee,
                },
            )
            .map_err(at(format!("createPool {name}")))?;
            rpc.view(
                factory,
                &IUniswapV3Factory::getPoolCall {
                    tokenA: ta,
                    tokenB: tb,
                    fee,
                },
            )
            .map_err(at(format!("getPool {name}")))?
        }
        PoolKind::Algebra { .. } => {
            let factory = made
                .algebra_factory
                .ok_or_else(|| missing("algebra factory"))?;
            rpc.transact_call(
                deployer,
                factory,
                &IAlgebraFactory::createPoolCall {
                    tokenA: ta,
                    tokenB: tb,
                },
            )
            .map_err(at(format!("createPool {name}")))?;
            rpc.view(
                factory,
                &IAlgebraFactory::poolByPairCall {
                    tokenA: ta,
                    tokenB: tb,
                },
            )
            .map_err(at(format!("poolByPair {name}")))?
        }
    };
    if address == Address::ZERO {
        return Err(WorldError::Spec(format!("{name}: factory lists no pool")));
    }
    let token0 = rpc
        .view(address, &IUniswapV3Pool::token0Call {})
        .map_err(at(format!("token0 {name}")))?;
    let (token0, token1) = if token0 == ta { (p.a, p.b) } else { (p.b, p.a) };

    // Raw price token1 per token0 (all world tokens have the same decimals), with noise.
    let noise = 1.0 + rng.signed_unit() * f64::from(ctx.noise_bps) / 10_000.0;
    let price = tokens[token0].price_native / tokens[token1].price_native * noise;
    let init_sqrt_price = sqrt_price_of(price);
    // V3 and Algebra V1 share `initialize(uint160)`.
    rpc.transact_call(
        deployer,
        address,
        &IUniswapV3Pool::initializeCall {
            sqrtPriceX96: init_sqrt_price,
        },
    )
    .map_err(at(format!("initialize {name}")))?;
    let head = heads(rpc, &[(kind.protocol(), address)])
        .map_err(at(format!("state of {name}")))?
        .into_iter()
        .next()
        .ok_or_else(|| WorldError::Spec(format!("{name}: no state")))?;
    if head.sqrt_price != init_sqrt_price {
        return Err(WorldError::Spec(format!(
            "{name}: initialized at {init_sqrt_price}, reads {}",
            head.sqrt_price
        )));
    }

    // A full range worth `value` on each side: x = value/p0, y = value/p1, L = √(x·y).
    let value = ctx.depth_native_wei as f64 * p.spec.depth_scale;
    let unit = value / (tokens[token0].price_native * tokens[token1].price_native).sqrt();
    if !(1e3..1e30).contains(&unit) {
        return Err(WorldError::Spec(format!(
            "{name}: liquidity unit {unit:e} is outside [1e3, 1e30)"
        )));
    }
    let unit_liquidity = unit as u128;
    let seeds = seed_ladder(head.tick, kind.tick_spacing(), unit_liquidity);
    let mut seeded = Vec::with_capacity(seeds.len());
    for s in &seeds {
        let call = IPoolActor::mintCall {
            kind: actor_kind(kind),
            pool: address,
            tickLower: int24(s.tick_lower).map_err(WorldError::Spec)?,
            tickUpper: int24(s.tick_upper).map_err(WorldError::Spec)?,
            liquidity: s.liquidity,
        };
        let receipt = rpc
            .transact(&TxRequest::call(deployer, seeder, call.abi_encode()).with_gas(ACTOR_GAS))
            .map_err(at(format!(
                "seed {name} [{}, {})",
                s.tick_lower, s.tick_upper
            )))?;
        let minted = mint_event(&receipt, address)
            .ok_or_else(|| WorldError::Spec(format!("{name}: seed mint left no Mint event")))?;
        seeded.push((minted.amount0, minted.amount1));
    }
    Ok(ClmmPoolInfo {
        kind,
        address,
        token0,
        token1,
        init_sqrt_price,
        init_tick: head.tick,
        unit_liquidity,
        seeds,
        seeded,
    })
}

/// Deploys a `PoolActor` owned by `owner`.
pub(crate) fn deploy_actor(rpc: &Rpc, owner: Address, code: &Bytes) -> Result<Address, RpcError> {
    rpc.deploy(owner, code.clone()).map(|(address, _)| address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_is_aligned_nested_and_contains_the_price() {
        for spacing in [1, 10, 60, 200] {
            for tick in [-887_000, -276_325, -61, -1, 0, 59, 60, 119_203, 886_900] {
                let ladder = seed_ladder(tick, spacing, 1_000);
                assert_eq!(ladder.len(), 8);
                for p in &ladder {
                    assert!(p.tick_lower < p.tick_upper, "{p:?}");
                    assert_eq!(p.tick_lower.rem_euclid(spacing), 0, "{p:?}");
                    assert_eq!(p.tick_upper.rem_euclid(spacing), 0, "{p:?}");
                    assert!(p.tick_lower >= MIN_TICK && p.tick_upper <= MAX_TICK);
                }
                let (wide, medium) = (ladder[0], ladder[1]);
                assert!(wide.tick_lower <= medium.tick_lower);
                assert!(wide.tick_upper >= medium.tick_upper);
                assert_eq!((wide.liquidity, medium.liquidity), (500, 1_000));
                // Away from the ends, every range holds the price and the narrow ones tile
                // [center - 3w, center + 3w) with the price's own range in the middle.
                if tick.abs() < 800_000 {
                    let narrow = &ladder[2..];
                    for w in narrow.windows(2) {
                        assert_eq!(w[0].tick_upper, w[1].tick_lower);
                    }
                    let holding: Vec<_> = ladder
                        .iter()
                        .filter(|p| p.tick_lower <= tick && tick < p.tick_upper)
                        .collect();
                    assert_eq!(holding.len(), 3, "tick {tick} spacing {spacing}");
                    assert!(narrow.iter().all(|p| p.liquidity == 2_000));
                    let width = narrow[0].tick_upper - narrow[0].tick_lower;
                    assert!(width >= 100 && width < 100 + spacing, "{width}");
                }
            }
        }
    }

    #[test]
    fn swap_amounts_split_into_paid_and_received() {
        let a = I256::try_from(100).unwrap();
        let b = I256::try_from(-42).unwrap();
        assert_eq!(swap_in_out(a, b), (U256::from(100), U256::from(42)));
        assert_eq!(swap_in_out(b, a), (U256::from(100), U256::from(42)));
    }

    #[test]
    fn sqrt_price_follows_the_price() {
        assert_eq!(sqrt_price_of(1.0), U160::from(1u128 << 96));
        let four = sqrt_price_of(4.0);
        let two = U160::from(2u128 << 96);
        // f64 through ln/exp: within 1e-12 relative.
        let diff = if four > two { four - two } else { two - four };
        assert!(diff < two / U160::from(1_000_000_000_000u64), "{four}");
    }
}
