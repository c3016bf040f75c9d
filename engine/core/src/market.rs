//! What the engine starts from: tokens, DEXes, pools with their state at a known block.
//!
//! A [`MarketSpec`] comes from pool discovery on a live node, from a snapshot file (the same
//! type serialised as JSON, see `docs/formats.md`), or from a running engine's tables
//! ([`Engine::market_spec`](crate::Engine::market_spec), to restart from). The engine builds its
//! tables from it once.

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::clmm::algebra_fee::{FeeConfig, Record, Timepoint};
use crate::{PoolKind, Staleness};

/// A token the engine knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// ERC-20 contract.
    pub address: Address,
    /// Short name for reports (`"WMATIC"`).
    pub symbol: String,
    /// ERC-20 decimals; used only for display.
    pub decimals: u8,
}

/// A DEX: one factory whose pools are all of one kind. The fee is the pool's, not the DEX's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DexSpec {
    /// Short name for reports (`"quickswap"`).
    pub name: String,
    /// Factory contract.
    pub factory: Address,
    /// The kind of every pool the factory makes.
    pub kind: PoolKind,
    /// Whether its pools may front a route's input as a flash swap: they call back a function
    /// the executor implements (`uniswapV2Call`, `uniswapV3SwapCallback`,
    /// `algebraSwapCallback`). A V2 fork that renamed its callback (Pancake's `pancakeCall`)
    /// cannot.
    #[serde(default = "yes")]
    pub flash_swap: bool,
}

fn yes() -> bool {
    true
}

/// One initialized tick of a concentrated-liquidity pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickSpec {
    /// The tick (a multiple of the pool's tick spacing).
    pub tick: i32,
    /// Liquidity added when the price crosses this tick moving up (removed moving down).
    pub liquidity_net: i128,
    /// Total liquidity of the positions with a bound at this tick; > 0 for an initialized tick.
    pub liquidity_gross: u128,
}

/// State of a concentrated-liquidity pool (Uniswap V3 or Algebra) at [`MarketSpec::block`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClStateSpec {
    /// √(token1/token0) in raw units, Q64.96 (`slot0.sqrtPriceX96`, Algebra `globalState.price`).
    pub sqrt_price_x96: U256,
    /// Current tick (`slot0.tick`).
    pub tick: i32,
    /// Active liquidity (`liquidity()`).
    pub liquidity: u128,
    /// Tick spacing.
    pub tick_spacing: i32,
    /// Inclusive tick range `[lo, hi]` over which `ticks` lists every initialized tick: the
    /// window that was loaded around the price. A swap is simulated only inside it.
    pub window: [i32; 2],
    /// The initialized ticks inside `window`, ascending.
    pub ticks: Vec<TickSpec>,
    /// Algebra only: the pool's adaptive-fee state, so the engine can predict the fee the
    /// pool's next timepoint write sets. Absent (older snapshots, hand-made markets): the
    /// engine prices the pool at `fee_pips` and counts the routes it could not check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_model: Option<AlgebraFeeSpec>,
}

/// An Algebra pool's `DataStorageOperator` state at [`MarketSpec::block`]: what
/// [`DataStorage::restore`](crate::clmm::algebra_fee::DataStorage::restore) takes, plus the
/// pool's `volumePerLiquidityInBlock`. Read by discovery from the pool and its operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgebraFeeSpec {
    /// The operator's `feeConfig()`.
    pub config: FeeConfig,
    /// The pool's `globalState().timepointIndex`: the newest timepoint's index.
    pub timepoint_index: u16,
    /// Whether the operator's ring of 65,536 timepoints has wrapped (`timepoints(index + 1)`
    /// is initialized).
    pub wrapped: bool,
    /// `timepoints(0)`, when the ring has not wrapped and the newest is not timepoint 0.
    #[serde(default)]
    pub first: Option<Record>,
    /// `timepoints(timepoint_index)`, in full.
    pub newest: Timepoint,
    /// The timepoints before the newest that the fee's one-day window can still reach, oldest
    /// first, ending at `timepoint_index − 1` (see
    /// [`DataStorage::window_len`](crate::clmm::algebra_fee::DataStorage::window_len)).
    pub earlier: Vec<Record>,
    /// The pool's `volumePerLiquidityInBlock` (storage slot 3, high 128 bits): the volume of
    /// the swaps since its newest timepoint, which the next write adds.
    pub volume_per_liquidity_in_block: u128,
    /// Block of the newest timepoint write, when it is after [`MarketSpec::block`]: an export
    /// taken in the middle of a block whose pool wrote in it (a `Fee` log of that block came).
    /// The pool writes once a block, so its later logs of that block write nothing. Absent: the
    /// newest write is at or before `block` (discovery never writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_block: Option<u64>,
}

/// A pool's pricing state, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolState {
    /// A constant-product pair.
    UniswapV2 {
        /// Reserve of token0, raw units (uint112 on chain).
        reserve0: u128,
        /// Reserve of token1, raw units.
        reserve1: u128,
    },
    /// A Uniswap V3 pool.
    UniswapV3(ClStateSpec),
    /// An Algebra pool.
    Algebra(ClStateSpec),
}

impl PoolState {
    /// The pool kind this state belongs to.
    pub fn kind(&self) -> PoolKind {
        match self {
            Self::UniswapV2 { .. } => PoolKind::UniswapV2,
            Self::UniswapV3(_) => PoolKind::UniswapV3,
            Self::Algebra(_) => PoolKind::Algebra,
        }
    }
}

/// One pool and its state at [`MarketSpec::block`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Pool (pair) contract.
    pub address: Address,
    /// Index into [`MarketSpec::dexes`]; the DEX's kind must be the state's kind.
    pub dex: u8,
    /// The pool's token0 (lower address).
    pub token0: Address,
    /// The pool's token1.
    pub token1: Address,
    /// Swap fee, pips (10⁻⁶ of the input): a V2 pair's 0.3 % is 3 000; a V3 pool's fee tier;
    /// an Algebra pool's current dynamic fee.
    pub fee_pips: u32,
    /// Pricing state by kind.
    pub state: PoolState,
    /// `(block, log index)` of the last log of the pool already reflected in `state`, when
    /// that is after [`MarketSpec::block`]: an export ([`Engine::market_spec`]) taken in the
    /// middle of the block after `block`. The engine skips the pool's logs at or before it
    /// (`stale_skipped`), so a backfill from `block + 1` applies no log twice (a Mint or Burn
    /// is a delta). Absent (discovery): every log after `block` applies.
    ///
    /// [`Engine::market_spec`]: crate::Engine::market_spec
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_log: Option<(u64, u32)>,
    /// Why the pool is out of the search, when an export found it so: until its next `Sync` or
    /// `Swap` (a removed log), or until it is read from the node again (`state` may then be
    /// one the tables could no longer follow, e.g. a tick outside the window). The engine
    /// keeps it out just so. Fresh (the default) writes no field.
    #[serde(default, skip_serializing_if = "Staleness::is_fresh")]
    pub stale: Staleness,
}

impl PoolSpec {
    /// A V2 pair with the given reserves (raw units) and fee (pips).
    pub fn v2(
        address: Address,
        dex: u8,
        token0: Address,
        token1: Address,
        fee_pips: u32,
        reserve0: u128,
        reserve1: u128,
    ) -> Self {
        Self {
            address,
            dex,
            token0,
            token1,
            fee_pips,
            state: PoolState::UniswapV2 { reserve0, reserve1 },
            last_log: None,
            stale: Staleness::Fresh,
        }
    }

    /// The pool's kind.
    pub fn kind(&self) -> PoolKind {
        self.state.kind()
    }
}

/// The newest block the engine's tables hold logs of, as the chain named it: what a warm
/// restart checks against the node, so tables of a block a reorg has since replaced are not
/// resumed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainTip {
    /// Block number.
    pub block: u64,
    /// Its hash, when a head showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<alloy_primitives::B256>,
    /// The first four bytes of its hash, big-endian ([`crate::block_tag`]), when only its logs
    /// showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<u32>,
}

impl ChainTip {
    /// Whether `hash` (the node's block at [`ChainTip::block`]) is this block.
    pub fn matches(&self, hash: &[u8; 32]) -> bool {
        match (self.hash, self.tag) {
            (Some(h), _) => h.0 == *hash,
            (None, Some(t)) => crate::block_tag(hash) == t,
            (None, None) => true,
        }
    }
}

/// How much of a start token the executor can put into one route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapitalSpec {
    /// The start token.
    pub token: Address,
    /// Raw units available: the executor's balance at [`MarketSpec::block`].
    pub amount: u128,
}

/// A flash lender's offer of one start token: a Balancer V2 Vault or an Aave V3 Pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LenderSpec {
    /// [`Funding::Balancer`](crate::Funding::Balancer) or [`Funding::Aave`](crate::Funding::Aave).
    pub funding: crate::Funding,
    /// The token lent.
    pub token: Address,
    /// Raw units it can lend at [`MarketSpec::block`]: the Vault's balance of the token, or the
    /// reserve's aToken's balance of it.
    pub available: u128,
    /// Its charge: Balancer, the flash-loan fee as an 18-decimal fraction; Aave,
    /// `FLASHLOAN_PREMIUM_TOTAL` in basis points.
    pub fee: u64,
    /// The account whose balance of `token` is `available` (the Vault, or the reserve's
    /// aToken): what a live run reads again to keep the offer fresh. Zero: unknown, never
    /// refreshed.
    #[serde(default)]
    pub holder: Address,
}

impl LenderSpec {
    /// What this lender charges, with its rounding; `None` for a funding source that is not a
    /// lender, or an Aave premium above 10 000 bps.
    pub fn premium(&self) -> Option<crate::Premium> {
        match self.funding {
            crate::Funding::Balancer => Some(crate::Premium::Balancer { fee_1e18: self.fee }),
            crate::Funding::Aave => u16::try_from(self.fee)
                .ok()
                .filter(|&bps| bps <= 10_000)
                .map(|bps| crate::Premium::Aave { bps }),
            crate::Funding::Capital | crate::Funding::FlashSwap => None,
        }
    }
}

/// Everything the engine's tables are built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSpec {
    /// Block the reserves were read at: every pool's state reflects every log up to the end
    /// of it. Logs from this block or earlier are skipped (and a pool's logs up to its
    /// [`PoolSpec::last_log`], when it has one).
    pub block: u64,
    /// Base fee of that block, wei per gas (until the first head arrives).
    pub base_fee: u128,
    /// Known tokens. Pools whose tokens are not listed here are dropped at load.
    pub tokens: Vec<TokenSpec>,
    /// Known DEXes.
    pub dexes: Vec<DexSpec>,
    /// Known pools.
    pub pools: Vec<PoolSpec>,
    /// The executor's capital per start token; a route never takes more input than this.
    /// Discovery lists every start token. A token not listed is not capped (hand-made markets
    /// in tests and research).
    #[serde(default)]
    pub capital: Vec<CapitalSpec>,
    /// Flash lenders per start token (borrowed routes are sized up to `available`). Empty: no
    /// lender (routes are capped at `capital`, or funded by flash swaps where enabled).
    #[serde(default)]
    pub lenders: Vec<LenderSpec>,
}

impl AlgebraFeeSpec {
    /// The operator's state as a [`DataStorage`](crate::clmm::algebra_fee::DataStorage)
    /// keeping up to `capacity` records.
    pub fn restore(
        &self,
        capacity: usize,
    ) -> Result<crate::clmm::algebra_fee::DataStorage, crate::clmm::algebra_fee::FeeError> {
        crate::clmm::algebra_fee::DataStorage::restore(
            capacity,
            self.config,
            self.timepoint_index,
            self.wrapped,
            self.first,
            self.newest,
            &self.earlier,
        )
    }
}

impl MarketSpec {
    /// Checks the spec the way building the engine's tables does (DEX indices and kinds, fees
    /// below 100 %, token order, uint112 reserves, duplicate addresses), without keeping the
    /// tables. For readers of snapshot files, which should fail on load, not at engine build.
    pub fn check(&self) -> Result<(), crate::TableError> {
        crate::pools::build_tables(self).map(|_| ())
    }
}
