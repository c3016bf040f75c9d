//! Reads a live concentrated-liquidity pool's swap state over JSON-RPC: price, tick, liquidity,
//! fee, spacing and every initialized tick in a range of bitmap words, all at one block.
//!
//! Word semantics, from the sources: both protocols keep one bit per *compressed* tick
//! (`tick / spacing`, the ticks being multiples of the spacing) in 256-bit words keyed by
//! `int16`: word `compressed >> 8` (arithmetic, so rounding towards minus infinity), bit
//! `compressed & 0xff`. Uniswap V3 calls the map `tickBitmap(int16)` and spells this
//! `TickBitmap.position`; Algebra V1 calls it `tickTable(int16)` and computes the same word and
//! bit in assembly (`TickTable.toggleTick`: `shr(8, tick)`, cleaned to `int16`, and
//! `and(tick, 0xFF)`) with its constant spacing of 60.

use std::{fmt, ops::RangeInclusive};

use alloy_primitives::{Address, Bytes, U160, U256, aliases::I24};
use alloy_sol_types::SolCall;
use serde_json::{Value, json};

use crate::{
    abi::{IAlgebraPool, IUniswapV3Pool},
    clmm::{Clmm, TickLiquidity, i24},
    rpc::{Rpc, RpcError},
};

/// Uniswap V3 and Algebra `TickMath.MIN_TICK`.
pub const MIN_TICK: i32 = -887_272;
/// Uniswap V3 and Algebra `TickMath.MAX_TICK`.
pub const MAX_TICK: i32 = 887_272;

/// Requests per JSON-RPC batch.
const BATCH: usize = 1_000;

/// Which bitmap words to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Words {
    /// Every word a tick of this spacing can fall in.
    All,
    /// The current tick's word and `n` words on each side.
    AroundCurrent(u16),
    /// These words.
    Range(RangeInclusive<i16>),
}

/// A pool's swap state at one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSnapshot {
    /// The pool.
    pub pool: Address,
    /// Its protocol.
    pub protocol: Clmm,
    /// The block every value was read at.
    pub block: u64,
    /// Q64.96 √price.
    pub sqrt_price: U160,
    /// Current tick.
    pub tick: i32,
    /// Active liquidity.
    pub liquidity: u128,
    /// Swap fee, pips (1e-6).
    pub fee: u32,
    /// Tick spacing.
    pub tick_spacing: i32,
    /// The words read.
    pub words: RangeInclusive<i16>,
    /// Initialized ticks in those words, ascending.
    pub ticks: Vec<TickLiquidity>,
}

/// Why a pool could not be read.
#[derive(Debug)]
pub enum StateError {
    /// A request failed.
    Rpc { what: String, source: RpcError },
    /// An answer did not decode.
    Decode { what: String, message: String },
    /// The pool answered something impossible (a spacing of 0, a set bit whose tick is not
    /// initialized, a word range out of order).
    Inconsistent(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rpc { what, source } => write!(f, "{what}: {source}"),
            Self::Decode { what, message } => write!(f, "{what}: cannot decode: {message}"),
            Self::Inconsistent(why) => write!(f, "inconsistent pool state: {why}"),
        }
    }
}

impl std::error::Error for StateError {}

/// The bitmap word holding `tick` (`floor(tick / spacing) >> 8`, `spacing > 0`). Ticks that are
/// not multiples of the spacing are never initialized; they map to the word of the multiple below.
pub fn tick_word(tick: i32, spacing: i32) -> i16 {
    let compressed = tick.div_euclid(spacing.max(1));
    // |compressed| <= 887272, so compressed >> 8 fits an i16.
    (compressed >> 8) as i16
}

/// The ticks whose bits are set in word `word` of a bitmap with spacing `spacing`, ascending.
pub fn ticks_in_word(word: i16, bits: U256, spacing: i32) -> impl Iterator<Item = i32> {
    (0..256usize)
        .filter(move |&bit| bits.bit(bit))
        .map(move |bit| ((i32::from(word) << 8) + bit as i32) * spacing)
}

/// Every word a tick of `spacing` can be in.
pub fn all_words(spacing: i32) -> RangeInclusive<i16> {
    tick_word(MIN_TICK, spacing)..=tick_word(MAX_TICK, spacing)
}

/// Reads `pool` at the current block.
pub fn read_pool(
    rpc: &Rpc,
    pool: Address,
    protocol: Clmm,
    words: Words,
) -> Result<PoolSnapshot, StateError> {
    let block = rpc.block_number().map_err(|source| StateError::Rpc {
        what: "eth_blockNumber".to_owned(),
        source,
    })?;
    read_pool_at(rpc, pool, protocol, words, block)
}

/// Reads `pool` at block `block`.
pub fn read_pool_at(
    rpc: &Rpc,
    pool: Address,
    protocol: Clmm,
    words: Words,
    block: u64,
) -> Result<PoolSnapshot, StateError> {
    let reader = Reader {
        rpc,
        pool,
        block: format!("{block:#x}"),
    };
    let head = reader.head(protocol)?;
    if head.tick_spacing <= 0 {
        return Err(StateError::Inconsistent(format!(
            "tick spacing {}",
            head.tick_spacing
        )));
    }
    let range = match words {
        Words::All => all_words(head.tick_spacing),
        Words::AroundCurrent(n) => {
            let w = i32::from(tick_word(head.tick, head.tick_spacing));
            let n = i32::from(n);
            let lo = (w - n).max(i32::from(i16::MIN)) as i16;
            let hi = (w + n).min(i32::from(i16::MAX)) as i16;
            lo..=hi
        }
        Words::Range(r) => r,
    };
    if range.start() > range.end() {
        return Err(StateError::Inconsistent(format!(
            "word range {}..={} is empty",
            range.start(),
            range.end()
        )));
    }
    let word_list: Vec<i16> = range.clone().collect();
    let bitmaps = reader.many(&word_list, |&w| match protocol {
        Clmm::UniswapV3 => IUniswapV3Pool::tickBitmapCall { wordPosition: w }.abi_encode(),
        Clmm::AlgebraV1 => IAlgebraPool::tickTableCall { index: w }.abi_encode(),
    })?;
    let mut set = Vec::new();
    for (&w, out) in word_list.iter().zip(&bitmaps) {
        let bits = word_u256(out, "tick bitmap word")?;
        set.extend(ticks_in_word(w, bits, head.tick_spacing));
    }
    let tick_args = set
        .iter()
        .map(|&t| {
            I24::try_from(t)
                .map_err(|_| StateError::Inconsistent(format!("bitmap bit for tick {t}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let infos = reader.many(&tick_args, |&tick| match protocol {
        Clmm::UniswapV3 => IUniswapV3Pool::ticksCall { tick }.abi_encode(),
        Clmm::AlgebraV1 => IAlgebraPool::ticksCall { tick }.abi_encode(),
    })?;
    let mut ticks = Vec::with_capacity(set.len());
    for (&tick, out) in set.iter().zip(&infos) {
        let (gross, net, initialized) = match protocol {
            Clmm::UniswapV3 => {
                let r = IUniswapV3Pool::ticksCall::abi_decode_returns(out)
                    .map_err(|e| decode_err("ticks(int24)", e))?;
                (r.liquidityGross, r.liquidityNet, r.initialized)
            }
            Clmm::AlgebraV1 => {
                let r = IAlgebraPool::ticksCall::abi_decode_returns(out)
                    .map_err(|e| decode_err("ticks(int24)", e))?;
                (r.liquidityTotal, r.liquidityDelta, r.initialized)
            }
        };
        if !initialized || gross == 0 {
            return Err(StateError::Inconsistent(format!(
                "tick {tick} has its bitmap bit set but is not initialized"
            )));
        }
        ticks.push(TickLiquidity {
            tick,
            liquidity_gross: gross,
            liquidity_net: net,
        });
    }
    Ok(PoolSnapshot {
        pool,
        protocol,
        block,
        sqrt_price: head.sqrt_price,
        tick: head.tick,
        liquidity: head.liquidity,
        fee: head.fee,
        tick_spacing: head.tick_spacing,
        words: range,
        ticks,
    })
}

struct Head {
    sqrt_price: U160,
    tick: i32,
    liquidity: u128,
    fee: u32,
    tick_spacing: i32,
}

struct Reader<'a> {
    rpc: &'a Rpc,
    pool: Address,
    block: String,
}

impl Reader<'_> {
    fn head(&self, protocol: Clmm) -> Result<Head, StateError> {
        match protocol {
            Clmm::UniswapV3 => {
                let calls = [
                    IUniswapV3Pool::slot0Call {}.abi_encode(),
                    IUniswapV3Pool::liquidityCall {}.abi_encode(),
                    IUniswapV3Pool::feeCall {}.abi_encode(),
                    IUniswapV3Pool::tickSpacingCall {}.abi_encode(),
                ];
                let out = self.many(&calls, Clone::clone)?;
                let slot0 = IUniswapV3Pool::slot0Call::abi_decode_returns(&out[0])
                    .map_err(|e| decode_err("slot0()", e))?;
                Ok(Head {
                    sqrt_price: slot0.sqrtPriceX96,
                    tick: i24(slot0.tick),
                    liquidity: IUniswapV3Pool::liquidityCall::abi_decode_returns(&out[1])
                        .map_err(|e| decode_err("liquidity()", e))?,
                    fee: IUniswapV3Pool::feeCall::abi_decode_returns(&out[2])
                        .map_err(|e| decode_err("fee()", e))?
                        .to(),
                    tick_spacing: i24(IUniswapV3Pool::tickSpacingCall::abi_decode_returns(&out[3])
                        .map_err(|e| decode_err("tickSpacing()", e))?),
                })
            }
            Clmm::AlgebraV1 => {
                let calls = [
                    IAlgebraPool::globalStateCall {}.abi_encode(),
                    IAlgebraPool::liquidityCall {}.abi_encode(),
                    IAlgebraPool::tickSpacingCall {}.abi_encode(),
                ];
                let out = self.many(&calls, Clone::clone)?;
                let g = IAlgebraPool::globalStateCall::abi_decode_returns(&out[0])
                    .map_err(|e| decode_err("globalState()", e))?;
                Ok(Head {
                    sqrt_price: g.price,
                    tick: i24(g.tick),
                    liquidity: IAlgebraPool::liquidityCall::abi_decode_returns(&out[1])
                        .map_err(|e| decode_err("liquidity()", e))?,
                    fee: u32::from(g.fee),
                    tick_spacing: i24(IAlgebraPool::tickSpacingCall::abi_decode_returns(&out[2])
                        .map_err(|e| decode_err("tickSpacing()", e))?),
                })
            }
        }
    }

    /// `eth_call`s of the pool with the calldata `encode` makes of each item, in JSON-RPC
    /// batches, at the reader's block; the return data in item order.
    fn many<T>(
        &self,
        items: &[T],
        encode: impl Fn(&T) -> Vec<u8>,
    ) -> Result<Vec<Bytes>, StateError> {
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(BATCH) {
            let requests: Vec<(&str, Value)> = chunk
                .iter()
                .map(|item| {
                    let data = Bytes::from(encode(item));
                    (
                        "eth_call",
                        json!([{"to": self.pool, "data": data}, self.block]),
                    )
                })
                .collect();
            let answers = self
                .rpc
                .batch(&requests)
                .map_err(|source| StateError::Rpc {
                    what: "eth_call batch".to_owned(),
                    source,
                })?;
            for answer in answers {
                let value = answer.map_err(|source| StateError::Rpc {
                    what: format!("eth_call of pool {}", self.pool),
                    source,
                })?;
                let bytes: Bytes =
                    serde_json::from_value(value).map_err(|e| decode_err("eth_call", e))?;
                out.push(bytes);
            }
        }
        Ok(out)
    }
}

fn decode_err(what: &str, e: impl fmt::Display) -> StateError {
    StateError::Decode {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

/// A `uint256` return value.
fn word_u256(out: &[u8], what: &str) -> Result<U256, StateError> {
    if out.len() == 32 {
        Ok(U256::from_be_slice(out))
    } else {
        Err(decode_err(
            what,
            format!("{} bytes, expected 32", out.len()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_towards_minus_infinity() {
        assert_eq!(tick_word(0, 1), 0);
        assert_eq!(tick_word(255, 1), 0);
        assert_eq!(tick_word(256, 1), 1);
        assert_eq!(tick_word(-1, 1), -1);
        assert_eq!(tick_word(-256, 1), -1);
        assert_eq!(tick_word(-257, 1), -2);
        assert_eq!(tick_word(-60, 60), -1);
        assert_eq!(tick_word(60 * 256, 60), 1);
        assert_eq!(tick_word(60 * 256 - 60, 60), 0);
        assert_eq!(tick_word(-60 * 256, 60), -1);
        assert_eq!(tick_word(-60 * 257, 60), -2);
        assert_eq!(all_words(1), -3466..=3465);
        assert_eq!(all_words(60), -58..=57);
        assert_eq!(all_words(200), -18..=17);
    }

    #[test]
    fn bits_map_back_to_their_ticks() {
        for spacing in [1, 10, 60, 200] {
            for tick in [-887_200i32, -15_360, -60, 0, 60, 15_300, 887_200] {
                let tick = tick - tick.rem_euclid(spacing);
                let word = tick_word(tick, spacing);
                let bit = (tick / spacing).rem_euclid(256) as usize;
                let bits = U256::from(1u8) << bit;
                let back: Vec<i32> = ticks_in_word(word, bits, spacing).collect();
                assert_eq!(back, vec![tick], "spacing {spacing} tick {tick}");
            }
        }
    }
}
