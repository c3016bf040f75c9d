//! An Algebra V1 pool's adaptive-fee state at block B ([`AlgebraFeeSpec`]): what the engine's
//! model of the pool's `DataStorageOperator` is restored from (docs/algebra.md, "The dynamic
//! fee").
//!
//! Per pool, pipelined at B, in rounds:
//! 1. `dataStorageOperator()`; `timepoints(index)`, the newest (`index` is
//!    `globalState().timepointIndex`); `timepoints(index + 1)`, initialized once the ring of
//!    65,536 has wrapped; `timepoints(0)`; and `eth_getStorageAt(pool, 3)`, whose high 128 bits
//!    are `volumePerLiquidityInBlock`, which has no getter ([`POOL_STATE_SLOT`]).
//! 2. The operator's `feeConfig()`.
//! 3. `timepoints(i)` back from `index − 1` (modulo 65,536 once wrapped) until the first at or
//!    before `timestamp(B) − 1 day` is in, or timepoint 0 (not wrapped), or `index + 1` (the
//!    oldest, wrapped). A fee at any later time reads no older record. Chunks per pool and
//!    round grow from [`FIRST_CHUNK`] to [`MAX_CHUNK`]: a quiet pool costs one round, a busy
//!    one (Polygon: a timepoint every 2 s, 43,200 a day) about 45.
//!
//! The timepoints are read through the pool, which forwards `timepoints(i)` to its operator.
//! Every answer is checked (exact ABI lengths, every field inside its type, the timepoints
//! initialized and each older than the one after it, slot 3's low half equal to
//! `liquidity()`), then the whole state must pass the snapshot reader's
//! [`check_fee_model`] and predict a fee at `timestamp(B) + 1`. A pool that fails is dropped
//! with the reason, like any other bad pool.

use alloy_primitives::{Address, U256};
use polyarb_core::AlgebraFeeSpec;
use polyarb_core::clmm::algebra_fee::{FeeConfig, RING_SIZE, Record, Timepoint, WINDOW};
use polyarb_feeds::{BlockTag, RpcClient, RpcError};
use serde_json::{Value, json};

use super::DiscoveryError;
use super::abi::{address, boolean, call_uint, exact, int, uint};
use super::clmm::{PoolFault, answer, call_all};
use crate::config::DexConfig;
use crate::snapshot::{FeeModelError, check_fee_model};

/// Pool `dataStorageOperator()`.
pub(super) const DATA_STORAGE_OPERATOR: [u8; 4] = [0x29, 0x04, 0x7d, 0xfa];
/// Operator `feeConfig()`: the nine fields of `AdaptiveFee.Configuration`.
pub(super) const FEE_CONFIG: [u8; 4] = [0x1e, 0x5e, 0xb1, 0xd0];
/// Pool (and operator) `timepoints(uint256)`: the seven fields of `DataStorage.Timepoint`.
pub(super) const TIMEPOINTS: [u8; 4] = [0x74, 0xec, 0xea, 0xe6];

/// The pool's storage slot holding `liquidity` (low 128 bits) and `volumePerLiquidityInBlock`
/// (high 128 bits). `PoolState` at tag v1.0.0 declares `totalFeeGrowth0Token` (slot 0),
/// `totalFeeGrowth1Token` (1), `globalState` (2, 240 bits), then `liquidity` and
/// `volumePerLiquidityInBlock` (`uint128` each, packed into 3); `AlgebraPool` inherits it first
/// and `PoolImmutables` has no storage. solc's storage layout of that source says the same
/// (docs/formats.md); discovery checks the low half against `liquidity()` for every pool.
pub const POOL_STATE_SLOT: u64 = 3;

/// Timepoints read per pool in the walk's first round.
pub const FIRST_CHUNK: usize = 32;
/// The most read per pool in one round (the chunk doubles each round up to this).
pub const MAX_CHUNK: usize = 1024;

/// One Algebra pool to read, with what its head already gave.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    pub pool: Address,
    /// `globalState().timepointIndex`.
    pub index: u16,
    /// `globalState().tick`.
    pub tick: i32,
    /// `liquidity()`.
    pub liquidity: u128,
}

/// What became of one pool's fee model.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Read and checked.
    Model(Box<AlgebraFeeSpec>),
    /// Its one-day window holds more timepoints than `max_timepoints`: kept without a model.
    Capped,
    /// A call failed or answered what no operator holds: the pool is dropped.
    Fault(PoolFault),
}

/// The fee models of `targets` at `block` (timestamp `block_time`, seconds), one outcome per
/// target in order, and how many `timepoints` calls were made. `max_timepoints` caps the
/// records read before the newest (`None`: as many as the window needs). Transport failures
/// end discovery; a failed call is its pool's problem.
pub(super) fn read(
    rpc: &mut RpcClient,
    targets: &[Target],
    (block, block_time): (u64, u64),
    batch: usize,
    max_timepoints: Option<u32>,
    dex: &DexConfig,
) -> Result<(Vec<Outcome>, u64), DiscoveryError> {
    let at = BlockTag::Number(block);
    // The contract's clock: `uint32(block.timestamp)`, truncation intended (its arithmetic on
    // timestamps wraps modulo 2^32 too).
    let now = block_time as u32;
    let cap = max_timepoints.map_or(usize::MAX, |c| c as usize);
    let mut timepoints = 0u64;

    // Round 1: the operator, the newest timepoint and the two that say whether the ring
    // wrapped and where it starts; slot 3.
    let calldata: Vec<[[u8; 36]; 3]> = targets
        .iter()
        .map(|t| {
            [
                call_uint(TIMEPOINTS, t.index.into()),
                call_uint(TIMEPOINTS, t.index.wrapping_add(1).into()),
                call_uint(TIMEPOINTS, 0),
            ]
        })
        .collect();
    let mut calls: Vec<([u8; 20], &[u8])> = Vec::with_capacity(targets.len() * 4);
    for (t, d) in targets.iter().zip(&calldata) {
        calls.push((t.pool.0.0, &DATA_STORAGE_OPERATOR));
        calls.extend(d.iter().map(|d| (t.pool.0.0, &d[..])));
    }
    timepoints += 3 * targets.len() as u64;
    let answers = call_all(rpc, &calls, at, batch, "algebra fee state", dex)?;
    let slots = storage_all(rpc, targets, block, batch, dex)?;
    let mut pools: Vec<Result<Walk, Outcome>> = targets
        .iter()
        .zip(answers.chunks(4))
        .zip(&slots)
        .map(|((t, a), slot)| Walk::start(t, now, a, slot).map_err(Outcome::Fault))
        .collect();

    // Round 2: each operator's configuration.
    let asked: Vec<usize> = (0..pools.len()).filter(|&p| pools[p].is_ok()).collect();
    let calls: Vec<([u8; 20], &[u8])> = asked
        .iter()
        .filter_map(|&p| pools[p].as_ref().ok())
        .map(|w| (w.operator.0.0, &FEE_CONFIG[..]))
        .collect();
    let answers = call_all(rpc, &calls, at, batch, "feeConfig", dex)?;
    for (&p, a) in asked.iter().zip(&answers) {
        if let Ok(w) = &mut pools[p] {
            match answer(a, "feeConfig").and_then(decode_config) {
                Ok(c) => w.config = c,
                Err(fault) => pools[p] = Err(Outcome::Fault(fault)),
            }
        }
    }

    // Round 3 on: the walk back, every pool still walking in each round.
    let mut chunk = FIRST_CHUNK;
    loop {
        let mut asked: Vec<(usize, usize)> = Vec::new();
        let mut data: Vec<[u8; 36]> = Vec::new();
        for (p, slot) in pools.iter_mut().enumerate() {
            let Ok(w) = slot else { continue };
            if w.done {
                continue;
            }
            if w.back.len() >= cap {
                *slot = Err(Outcome::Capped);
                continue;
            }
            let n = chunk.min(cap - w.back.len());
            let from = data.len();
            data.extend(w.next_indices(n).map(|i| call_uint(TIMEPOINTS, i.into())));
            asked.push((p, data.len() - from));
        }
        if asked.is_empty() {
            break;
        }
        let mut calls: Vec<([u8; 20], &[u8])> = Vec::with_capacity(data.len());
        let mut d = data.iter();
        for &(p, n) in &asked {
            calls.extend(d.by_ref().take(n).map(|d| (targets[p].pool.0.0, &d[..])));
        }
        timepoints += calls.len() as u64;
        let answers = call_all(rpc, &calls, at, batch, "timepoints", dex)?;
        let mut a = answers.iter();
        for &(p, n) in &asked {
            let mine: Vec<&Result<Vec<u8>, RpcError>> = a.by_ref().take(n).collect();
            if let Ok(w) = &mut pools[p]
                && let Err(fault) = w.take(&mine)
            {
                pools[p] = Err(Outcome::Fault(fault));
            }
        }
        chunk = (chunk * 2).min(MAX_CHUNK);
    }

    let outcomes = pools
        .into_iter()
        .zip(targets)
        .map(|(w, t)| match w {
            Ok(w) => match w.finish(t) {
                Ok(spec) => Outcome::Model(Box::new(spec)),
                Err(fault) => Outcome::Fault(fault),
            },
            Err(o) => o,
        })
        .collect();
    Ok((outcomes, timepoints))
}

/// `eth_getStorageAt(pool, POOL_STATE_SLOT, block)` for every target, pipelined.
fn storage_all(
    rpc: &mut RpcClient,
    targets: &[Target],
    block: u64,
    batch: usize,
    dex: &DexConfig,
) -> Result<Vec<Result<Value, RpcError>>, DiscoveryError> {
    let slot = format!("{POOL_STATE_SLOT:#x}");
    let block = format!("{block:#x}");
    let calls: Vec<(&str, Value)> = targets
        .iter()
        .map(|t| ("eth_getStorageAt", json!([t.pool, slot, block])))
        .collect();
    let mut out = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(batch.max(1)) {
        out.extend(
            rpc.call_many(chunk)
                .map_err(|error| DiscoveryError::Factory {
                    dex: dex.name.clone(),
                    factory: dex.factory,
                    what: "eth_getStorageAt",
                    error,
                })?,
        );
    }
    Ok(out)
}

/// A storage word as nodes answer it: `0x` and up to 64 hex digits (geth and anvil pad to 64).
pub(super) fn storage_word(v: &Result<Value, RpcError>) -> Result<U256, PoolFault> {
    let v = v.as_ref().map_err(|e| PoolFault::Call {
        what: "eth_getStorageAt",
        error: e.to_string(),
    })?;
    let digits = v
        .as_str()
        .ok_or(PoolFault::Storage("is not a string"))?
        .strip_prefix("0x")
        .ok_or(PoolFault::Storage("is not 0x hex"))?;
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PoolFault::Storage("is not one word of hex"));
    }
    U256::from_str_radix(digits, 16).map_err(|_| PoolFault::Storage("is not one word of hex"))
}

/// One `feeConfig()` answer, fields in `AdaptiveFee.Configuration` order (tag v1.0.0):
/// alpha1, alpha2 (`uint16`), beta1, beta2 (`uint32`), gamma1, gamma2 (`uint16`), volumeBeta
/// (`uint32`), volumeGamma, baseFee (`uint16`).
pub(super) fn decode_config(data: &[u8]) -> Result<FeeConfig, PoolFault> {
    exact(data, 9, "feeConfig")?;
    let u16_at = |i, what| uint(data, i, 16, what).map(|v| v.to::<u16>());
    let u32_at = |i, what| uint(data, i, 32, what).map(|v| v.to::<u32>());
    Ok(FeeConfig {
        alpha1: u16_at(0, "feeConfig.alpha1")?,
        alpha2: u16_at(1, "feeConfig.alpha2")?,
        beta1: u32_at(2, "feeConfig.beta1")?,
        beta2: u32_at(3, "feeConfig.beta2")?,
        gamma1: u16_at(4, "feeConfig.gamma1")?,
        gamma2: u16_at(5, "feeConfig.gamma2")?,
        volume_beta: u32_at(6, "feeConfig.volumeBeta")?,
        volume_gamma: u16_at(7, "feeConfig.volumeGamma")?,
        base_fee: u16_at(8, "feeConfig.baseFee")?,
    })
}

/// One `timepoints(uint256)` answer: initialized (`bool`), blockTimestamp (`uint32`),
/// tickCumulative (`int56`), secondsPerLiquidityCumulative (`uint160`), volatilityCumulative
/// (`uint88`), averageTick (`int24`), volumePerLiquidityCumulative (`uint144`).
pub(super) fn decode_timepoint(data: &[u8]) -> Result<Timepoint, PoolFault> {
    exact(data, 7, "timepoints")?;
    Ok(Timepoint {
        initialized: boolean(data, 0, "timepoints.initialized")?,
        block_timestamp: uint(data, 1, 32, "timepoints.blockTimestamp")?.to(),
        // int56 and int24: both checked to fit their type, so the casts are exact.
        tick_cumulative: int(data, 2, 56, "timepoints.tickCumulative")? as i64,
        seconds_per_liquidity_cumulative: uint(
            data,
            3,
            160,
            "timepoints.secondsPerLiquidityCumulative",
        )?
        .to(),
        volatility_cumulative: uint(data, 4, 88, "timepoints.volatilityCumulative")?.to(),
        average_tick: int(data, 5, 24, "timepoints.averageTick")? as i32,
        volume_per_liquidity_cumulative: uint(
            data,
            6,
            144,
            "timepoints.volumePerLiquidityCumulative",
        )?
        .to(),
    })
}

const NOT_INITIALIZED: &str = "is not initialized";
const NOT_OLDER: &str = "is not older than the timepoint after it";

/// One pool's fee state being read: what round 1 gave, then the records walked back from the
/// newest. Pure: it takes the node's answers, so the walk is tested without a node.
#[derive(Debug)]
struct Walk {
    index: u16,
    wrapped: bool,
    newest: Timepoint,
    /// `timepoints(0)`, when the ring has not wrapped and the newest is not timepoint 0.
    first: Option<Record>,
    operator: Address,
    config: FeeConfig,
    /// `volumePerLiquidityInBlock`.
    volume: u128,
    /// Block B's timestamp as the contract's `uint32` clock.
    now: u32,
    /// Records read, newest first: `index − 1`, `index − 2`, … (modulo 65,536).
    back: Vec<Record>,
    /// Age of the last record taken, seconds before `now` modulo 2^32.
    last_age: u32,
    /// Timepoints written before the newest that the ring still holds.
    written: usize,
    /// The window's oldest record is in (or there is no older one).
    done: bool,
}

impl Walk {
    /// Round 1's answers for `t`: `dataStorageOperator()`, `timepoints(index)`,
    /// `timepoints(index + 1)`, `timepoints(0)`, and storage slot 3.
    fn start(
        t: &Target,
        now: u32,
        a: &[Result<Vec<u8>, RpcError>],
        slot: &Result<Value, RpcError>,
    ) -> Result<Self, PoolFault> {
        let [operator, newest, next, zero] = a else {
            return Err(PoolFault::Length {
                what: "algebra fee state reads",
                got: a.len(),
                want: 4,
            });
        };
        let operator = answer(operator, "dataStorageOperator")?;
        exact(operator, 1, "dataStorageOperator")?;
        let operator = address(operator, 0, "dataStorageOperator")?;
        let newest = decode_timepoint(answer(newest, "timepoints")?)?;
        if !newest.initialized {
            return Err(PoolFault::Timepoint {
                index: t.index,
                why: "(the newest) is not initialized",
            });
        }
        // The ring is written in order: the slot after the newest is written only once every
        // one has been (with index 65,535 that is timepoint 0, which makes the ring full).
        let wrapped = decode_timepoint(answer(next, "timepoints")?)?.initialized;
        let zero = decode_timepoint(answer(zero, "timepoints")?)?;
        let first = if wrapped || t.index == 0 {
            None
        } else if zero.initialized {
            Some(Record::from(&zero))
        } else {
            return Err(PoolFault::Timepoint {
                index: 0,
                why: NOT_INITIALIZED,
            });
        };
        let word = storage_word(slot)?;
        let low = (word & U256::from(u128::MAX)).to::<u128>();
        if low != t.liquidity {
            return Err(PoolFault::SlotLayout {
                low,
                liquidity: t.liquidity,
            });
        }
        let written = if wrapped {
            RING_SIZE - 1
        } else {
            usize::from(t.index)
        };
        Ok(Self {
            index: t.index,
            wrapped,
            newest,
            first,
            operator,
            config: FeeConfig::default(),
            volume: (word >> 128usize).to::<u128>(),
            now,
            back: Vec::new(),
            last_age: now.wrapping_sub(newest.block_timestamp),
            written,
            done: written == 0,
        })
    }

    /// The next (up to) `n` indices to read, newest first.
    fn next_indices(&self, n: usize) -> impl Iterator<Item = u16> + '_ {
        let k = self.back.len();
        let n = n.min(self.written - k);
        // Fits: k + j < written ≤ 65,535.
        (0..n).map(move |j| self.index.wrapping_sub((1 + k + j) as u16))
    }

    /// The answers to the indices [`Walk::next_indices`] gave, in order. Stops at the first
    /// record at or before `now − 1 day`; the answers after it are not needed.
    fn take(&mut self, answers: &[&Result<Vec<u8>, RpcError>]) -> Result<(), PoolFault> {
        for a in answers {
            let index = self.index.wrapping_sub((1 + self.back.len()) as u16);
            let t = decode_timepoint(answer(a, "timepoints")?)?;
            if !t.initialized {
                // Below the newest every timepoint back to 0 (or all of them once wrapped)
                // has been written.
                return Err(PoolFault::Timepoint {
                    index,
                    why: NOT_INITIALIZED,
                });
            }
            let age = self.now.wrapping_sub(t.block_timestamp);
            if age <= self.last_age {
                return Err(PoolFault::Timepoint {
                    index,
                    why: NOT_OLDER,
                });
            }
            self.back.push(Record::from(&t));
            self.last_age = age;
            if age >= WINDOW || self.back.len() == self.written {
                self.done = true;
                break;
            }
        }
        Ok(())
    }

    /// The state read, checked as a snapshot would be and asked for the fee of a swap in the
    /// block after B (at `now + 1`, with the pool's tick and liquidity at B).
    fn finish(self, t: &Target) -> Result<AlgebraFeeSpec, PoolFault> {
        let mut earlier = self.back;
        earlier.reverse();
        let spec = AlgebraFeeSpec {
            config: self.config,
            timepoint_index: self.index,
            wrapped: self.wrapped,
            first: self.first,
            newest: self.newest,
            earlier,
            volume_per_liquidity_in_block: self.volume,
            written_block: None,
        };
        let model = check_fee_model(&spec).map_err(PoolFault::FeeModel)?;
        model
            .predict_fee(self.now.wrapping_add(1), t.tick, t.liquidity, self.volume)
            .map_err(|e| PoolFault::FeeModel(FeeModelError::History(e)))?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{
        U160,
        aliases::{I24, I56, U88, U144},
        keccak256,
    };
    use alloy_sol_types::{SolCall, sol};
    use polyarb_core::clmm::algebra_fee::{ConfigError, DataStorage};

    sol! {
        interface IOperator {
            function feeConfig() external view returns (uint16 alpha1, uint16 alpha2, uint32 beta1, uint32 beta2, uint16 gamma1, uint16 gamma2, uint32 volumeBeta, uint16 volumeGamma, uint16 baseFee);
            function timepoints(uint256 index) external view returns (bool initialized, uint32 blockTimestamp, int56 tickCumulative, uint160 secondsPerLiquidityCumulative, uint88 volatilityCumulative, int24 averageTick, uint144 volumePerLiquidityCumulative);
            function dataStorageOperator() external view returns (address);
        }
    }

    #[test]
    fn selectors_are_keccak_of_signatures() {
        for (sel, sig) in [
            (DATA_STORAGE_OPERATOR, "dataStorageOperator()"),
            (FEE_CONFIG, "feeConfig()"),
            (TIMEPOINTS, "timepoints(uint256)"),
        ] {
            assert_eq!(sel, keccak256(sig)[..4], "{sig}");
        }
        assert_eq!(
            call_uint(TIMEPOINTS, 65_535)[..],
            IOperator::timepointsCall {
                index: U256::from(65_535u32)
            }
            .abi_encode()[..]
        );
    }

    fn encode(t: &Timepoint) -> Vec<u8> {
        IOperator::timepointsCall::abi_encode_returns(&IOperator::timepointsReturn {
            initialized: t.initialized,
            blockTimestamp: t.block_timestamp,
            tickCumulative: I56::try_from(t.tick_cumulative).unwrap(),
            secondsPerLiquidityCumulative: t.seconds_per_liquidity_cumulative,
            volatilityCumulative: t.volatility_cumulative,
            averageTick: I24::try_from(t.average_tick).unwrap(),
            volumePerLiquidityCumulative: t.volume_per_liquidity_cumulative,
        })
    }

    #[test]
    fn answers_decode_as_alloy_encodes_them() {
        let c = FeeConfig {
            alpha1: 1,
            alpha2: u16::MAX,
            beta1: 3,
            beta2: u32::MAX,
            gamma1: 5,
            gamma2: 6,
            volume_beta: 7,
            volume_gamma: 8,
            base_fee: 9,
        };
        let data = IOperator::feeConfigCall::abi_encode_returns(&IOperator::feeConfigReturn {
            alpha1: c.alpha1,
            alpha2: c.alpha2,
            beta1: c.beta1,
            beta2: c.beta2,
            gamma1: c.gamma1,
            gamma2: c.gamma2,
            volumeBeta: c.volume_beta,
            volumeGamma: c.volume_gamma,
            baseFee: c.base_fee,
        });
        assert_eq!(decode_config(&data), Ok(c));
        let t = Timepoint {
            initialized: true,
            block_timestamp: u32::MAX,
            tick_cumulative: -(1 << 55),
            seconds_per_liquidity_cumulative: U160::MAX,
            volatility_cumulative: U88::MAX,
            average_tick: -(1 << 23),
            volume_per_liquidity_cumulative: U144::MAX,
        };
        assert_eq!(decode_timepoint(&encode(&t)), Ok(t));
    }

    #[test]
    fn garbage_answers_are_faults() {
        let t = Timepoint {
            initialized: true,
            block_timestamp: 5,
            ..Timepoint::default()
        };
        let good = encode(&t);
        // Each field one bit wider than its type; `initialized` = 2; a word short.
        for (word, byte) in [
            (0, 31),
            (1, 27),
            (2, 24),
            (3, 11),
            (4, 20),
            (5, 28),
            (6, 13),
        ] {
            let mut bad = good.clone();
            bad[32 * word + byte] = 2;
            assert!(
                matches!(decode_timepoint(&bad), Err(PoolFault::Range { .. })),
                "word {word}"
            );
        }
        assert!(matches!(
            decode_timepoint(&good[..192]),
            Err(PoolFault::Length { .. })
        ));
        let mut cfg = vec![0u8; 9 * 32];
        assert!(decode_config(&cfg).is_ok());
        cfg[29] = 1; // alpha1 above uint16
        assert!(matches!(
            decode_config(&cfg),
            Err(PoolFault::Range {
                what: "feeConfig.alpha1"
            })
        ));
        assert!(matches!(
            decode_config(&cfg[..256]),
            Err(PoolFault::Length { .. })
        ));
        // Storage words: padded or not, never more than one word, never bare.
        let word = |s: &str| storage_word(&Ok(Value::String(s.into())));
        assert_eq!(word("0x03"), Ok(U256::from(3u8)));
        assert_eq!(word(&format!("0x{}", "f".repeat(64))), Ok(U256::MAX));
        for bad in ["0x", "03", "0xzz", &format!("0x1{}", "0".repeat(64))] {
            assert!(matches!(word(bad), Err(PoolFault::Storage(_))), "{bad}");
        }
        assert!(matches!(
            storage_word(&Ok(json!(3))),
            Err(PoolFault::Storage(_))
        ));
    }

    /// A pool whose operator holds what `model` holds: the answers a node would give.
    struct Chain {
        model: DataStorage,
        /// Every timepoint by index, as the operator keeps them.
        ring: Vec<Timepoint>,
    }

    impl Chain {
        /// `n` writes after initialization, `dt(i)` seconds apart.
        fn new(n: usize, dt: impl Fn(usize) -> u32) -> Self {
            let mut model = DataStorage::new(RING_SIZE, FeeConfig::DEFAULT);
            let mut ring = vec![Timepoint::default(); RING_SIZE];
            let mut t = 1_000_000u32;
            model.initialize(t, 0).unwrap();
            ring[0] = *model.newest().unwrap();
            for i in 0..n {
                t += dt(i);
                let tick = ((i * 7_919) % 2_001) as i32 - 1_000;
                let i = model
                    .write(model.index(), t, tick, 1 << 70, 1 << 66)
                    .unwrap();
                ring[usize::from(i)] = *model.newest().unwrap();
            }
            Self { model, ring }
        }

        fn answer(&self, i: u16) -> Result<Vec<u8>, RpcError> {
            Ok(encode(&self.ring[usize::from(i)]))
        }

        fn target(&self) -> Target {
            Target {
                pool: Address::repeat_byte(7),
                index: self.model.index(),
                tick: 5,
                liquidity: 1 << 70,
            }
        }

        fn start(&self, now: u32) -> Result<Walk, PoolFault> {
            let t = self.target();
            let mut op = vec![0u8; 32];
            op[31] = 9;
            let round1 = [
                Ok(op),
                self.answer(t.index),
                self.answer(t.index.wrapping_add(1)),
                self.answer(0),
            ];
            let slot = Ok(Value::String(format!(
                "{:#066x}",
                (U256::from(77u8) << 128usize) | U256::from(t.liquidity)
            )));
            Walk::start(&t, now, &round1, &slot)
        }

        /// Walks as `read` does, in chunks of `chunk`, at most `cap` records.
        fn walk(
            &self,
            now: u32,
            chunk: usize,
            cap: usize,
        ) -> Result<Option<AlgebraFeeSpec>, PoolFault> {
            let mut w = self.start(now)?;
            w.config = FeeConfig::DEFAULT;
            while !w.done {
                if w.back.len() >= cap {
                    return Ok(None);
                }
                let idx: Vec<u16> = w.next_indices(chunk.min(cap - w.back.len())).collect();
                let answers: Vec<_> = idx.iter().map(|&i| self.answer(i)).collect();
                let refs: Vec<_> = answers.iter().collect();
                w.take(&refs)?;
            }
            w.finish(&self.target()).map(Some)
        }
    }

    /// The records the model says the window at `now` reaches, oldest first, before the newest.
    fn expected(c: &Chain, now: u32) -> Vec<Record> {
        let m = &c.model;
        let index = m.index();
        let mut out = Vec::new();
        let mut back = 1u16;
        while let Some(r) = m.record(index.wrapping_sub(back)) {
            out.push(r);
            if now.wrapping_sub(r.block_timestamp) >= WINDOW {
                break;
            }
            back += 1;
        }
        out.reverse();
        out
    }

    #[test]
    fn the_walk_stops_at_the_window_start() {
        // An hour apart: the walk reads back to the first record at or before `now − 1 day`
        // (inclusive: at the newest's time that one is exactly a day old).
        let c = Chain::new(100, |_| 3_600);
        let newest = c.model.newest().unwrap().block_timestamp;
        for (now, chunk, len) in [
            (newest, 32, 24),
            (newest + 1_800, 5, 24),
            (newest + 7_200, 1, 22),
        ] {
            let spec = c.walk(now, chunk, usize::MAX).unwrap().unwrap();
            assert_eq!(spec.earlier, expected(&c, now), "now {now} chunk {chunk}");
            assert_eq!(spec.earlier.len(), len);
            assert!(now - spec.earlier[0].block_timestamp >= WINDOW);
            assert!(now - spec.earlier[1].block_timestamp < WINDOW);
            assert_eq!(spec.first, c.model.record(0));
            assert!(!spec.wrapped);
            assert_eq!(spec.volume_per_liquidity_in_block, 77);
            // What the walk read predicts what the whole history predicts.
            let restored = check_fee_model(&spec).unwrap();
            for dt in [1, 600, WINDOW] {
                assert_eq!(
                    restored.predict_fee(now + dt, 5, 1 << 70, 77),
                    c.model.predict_fee(now + dt, 5, 1 << 70, 77),
                    "now {now} + {dt}"
                );
            }
        }
        // Idle for two days: the newest and the one before it are enough.
        let spec = c
            .walk(newest + 2 * WINDOW, 32, usize::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(spec.earlier.len(), 1);
        // Capped below what the window needs: no model; at exactly it: one.
        assert_eq!(c.walk(newest, 32, 23).unwrap(), None);
        assert!(c.walk(newest, 32, 24).unwrap().is_some());
    }

    #[test]
    fn a_young_pool_is_read_back_to_timepoint_0() {
        let c = Chain::new(10, |i| 60 + i as u32);
        let now = c.model.newest().unwrap().block_timestamp + 3;
        let spec = c.walk(now, 4, usize::MAX).unwrap().unwrap();
        assert_eq!(spec.earlier.len(), 10);
        assert_eq!(Some(spec.earlier[0]), spec.first);
        // Only timepoint 0: nothing before it, no `first`.
        let c = Chain::new(0, |_| 1);
        let spec = c.walk(1_000_000 + 50, 32, usize::MAX).unwrap().unwrap();
        assert_eq!((spec.timepoint_index, spec.earlier.len()), (0, 0));
        assert_eq!(spec.first, None);
    }

    #[test]
    fn a_wrapped_ring_is_walked_across_index_0() {
        // 65,536 + 40 writes 2 s apart: the ring wrapped; the newest is index 40.
        let c = Chain::new(RING_SIZE + 40, |_| 2);
        assert_eq!(c.model.index(), 40);
        let now = c.model.newest().unwrap().block_timestamp;
        let spec = c.walk(now, 1024, usize::MAX).unwrap().unwrap();
        assert!(spec.wrapped);
        assert_eq!(spec.first, None);
        assert_eq!(spec.earlier.len(), 43_200);
        assert_eq!(spec.earlier, expected(&c, now));
        let restored = check_fee_model(&spec).unwrap();
        assert_eq!(
            restored.predict_fee(now + 2, 5, 1 << 70, 77),
            c.model.predict_fee(now + 2, 5, 1 << 70, 77)
        );
    }

    #[test]
    fn inconsistent_operators_are_faults_that_name_the_timepoint() {
        let c = Chain::new(50, |_| 3_600);
        let now = c.model.newest().unwrap().block_timestamp;
        // A hole in the ring.
        let mut holed = Chain::new(50, |_| 3_600);
        holed.ring[45] = Timepoint::default();
        assert_eq!(
            holed.walk(now, 32, usize::MAX).unwrap_err(),
            PoolFault::Timepoint {
                index: 45,
                why: NOT_INITIALIZED
            }
        );
        // Time going back.
        let mut back = Chain::new(50, |_| 3_600);
        back.ring[44].block_timestamp = back.ring[45].block_timestamp;
        assert_eq!(
            back.walk(now, 32, usize::MAX).unwrap_err(),
            PoolFault::Timepoint {
                index: 44,
                why: NOT_OLDER
            }
        );
        // Timepoint 0 never written below a written newest.
        let mut no_zero = Chain::new(50, |_| 3_600);
        no_zero.ring[0] = Timepoint::default();
        assert!(matches!(
            no_zero.walk(now, 32, usize::MAX),
            Err(PoolFault::Timepoint { index: 0, .. })
        ));
        // A configuration no operator accepts.
        let mut w = c.start(now).unwrap();
        while !w.done {
            let answers: Vec<_> = w.next_indices(64).map(|i| c.answer(i)).collect();
            w.take(&answers.iter().collect::<Vec<_>>()).unwrap();
        }
        w.config = FeeConfig::default();
        assert_eq!(
            w.finish(&c.target()).unwrap_err(),
            PoolFault::FeeModel(FeeModelError::Config(ConfigError::ZeroGamma))
        );
        // Slot 3 that does not hold liquidity(): another layout.
        let t = Target {
            liquidity: 3,
            ..c.target()
        };
        let round1 = [Ok(vec![0u8; 32]), c.answer(50), c.answer(51), c.answer(0)];
        let slot = Ok(Value::String(format!("{:#066x}", U256::from(4u8))));
        assert_eq!(
            Walk::start(&t, now, &round1, &slot).unwrap_err(),
            PoolFault::SlotLayout {
                low: 4,
                liquidity: 3
            }
        );
        // A reverted call, a short answer list.
        let reverted = [
            Err(RpcError::Node {
                code: 3,
                message: "execution reverted".into(),
            }),
            c.answer(50),
            c.answer(51),
            c.answer(0),
        ];
        assert!(matches!(
            Walk::start(&t, now, &reverted, &slot),
            Err(PoolFault::Call {
                what: "dataStorageOperator",
                ..
            })
        ));
        assert!(matches!(
            Walk::start(&t, now, &round1[..3], &slot),
            Err(PoolFault::Length { .. })
        ));
        for f in [
            PoolFault::SlotLayout {
                low: 4,
                liquidity: 3,
            },
            PoolFault::Timepoint {
                index: 44,
                why: NOT_OLDER,
            },
            PoolFault::FeeModel(FeeModelError::Config(ConfigError::ZeroGamma)),
        ] {
            let s = f.to_string();
            assert!(s.chars().next().is_some_and(|c| !c.is_uppercase()), "{s}");
        }
    }
}
