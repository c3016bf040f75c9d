//! Following an Algebra pool's adaptive fee from its logs, so the search prices an Algebra hop
//! at the fee the pool will charge in the block the route lands in (docs/engine.md, "Algebra's
//! fee").
//!
//! The pool recomputes its fee only when it writes a timepoint: at the first swap of a block,
//! or the first mint or burn that changes active liquidity, and then emits `Fee(uint16)`
//! *before* that transaction's `Swap`, `Mint` or `Burn`. So a `Fee` log marks a write, and when
//! it arrives the tables still hold the tick and active liquidity the write reads. The write
//! needs the block's timestamp: from the log (`blockTimestamp`) or the block's head; until one
//! of them arrives the write waits ([`FeeModel::on_block_time`]) and the pool's next fee is
//! unknown. Every write is checked: the fee the model computes must be the one the pool
//! emitted. Anything the logs cannot explain (a mismatch, a block with a swap but no `Fee`, a
//! second write before the first one's time is known, a removed log) ends the model: the pool
//! leaves the search until it is reloaded, never priced at a guessed fee.

use core::fmt;

use alloy_primitives::I256;

use crate::AlgebraFeeSpec;
use crate::clmm::algebra_fee::{
    DataStorage, FeeError, RING_SIZE, WriteMark, add_volume_in_block, volume_per_liquidity,
};

/// Records a restored model keeps at the least (40 bytes each): room for this many timepoint
/// writes beyond what its window held at load before the window's oldest records are evicted.
pub const MIN_MODEL_CAPACITY: usize = 1024;

/// Why an Algebra pool's fee model stopped following the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeModelError {
    /// The fee the pool emitted is not the one the model computed for that write.
    Mismatch {
        /// What the model computed, pips.
        predicted: u16,
        /// What the pool's `Fee` log said, pips.
        seen: u16,
    },
    /// A swap, or a mint or burn in range, in a block where no `Fee` log came first: the pool
    /// wrote a timepoint the logs did not show.
    MissedWrite,
    /// A `Fee` log in a block that already had one, or at the newest timepoint's timestamp:
    /// the pool writes at most once per timestamp.
    SecondWrite,
    /// A write whose block time was still unknown when the next write came.
    NoBlockTime,
    /// A log of the pool was removed by a reorg: its writes and volume cannot be undone.
    Removed,
    /// The model refused the write or the query (an evicted record, a timestamp going back).
    Model(FeeError),
}

impl fmt::Display for FeeModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch { predicted, seen } => write!(
                f,
                "the pool set a fee of {seen} pips where the model computed {predicted}"
            ),
            Self::MissedWrite => f.write_str("a timepoint write without a Fee log before it"),
            Self::SecondWrite => f.write_str("a second timepoint write at one timestamp"),
            Self::NoBlockTime => f.write_str("a write whose block time never arrived"),
            Self::Removed => f.write_str("a log of the pool was removed by a reorg"),
            Self::Model(e) => write!(f, "fee model: {e}"),
        }
    }
}

impl core::error::Error for FeeModelError {}

/// What a `Fee` log did to a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeWrite {
    /// The write was replayed and the pool's fee matched the model's.
    Checked,
    /// The block time is not known yet: the write waits for it.
    Waiting,
}

/// A write seen in a `Fee` log before its block's time: what it read.
#[derive(Clone, Copy, Debug)]
struct PendingWrite {
    block: u64,
    tick: i32,
    liquidity: u128,
    volume: u128,
    fee: u16,
}

/// What undoing a block's changes to a [`FeeModel`] needs, taken before the first of them
/// (the undo journal, docs/engine.md "Reorgs"): the volume, the newest write's block, a write
/// waiting for its time, and the storage before the block's one timepoint write (the newest
/// timepoint and the record that write overwrites, never the ring). About 250 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ModelImage {
    mark: WriteMark,
    volume: u128,
    written_block: u64,
    pending: Option<PendingWrite>,
}

/// One Algebra pool's adaptive fee as its logs drive it. See the module docs.
#[derive(Clone, Debug)]
pub struct FeeModel {
    storage: DataStorage,
    /// The pool's `volumePerLiquidityInBlock`: volume of its swaps since its newest write.
    volume: u128,
    /// Block of the newest write (the snapshot block before any log).
    written_block: u64,
    pending: Option<PendingWrite>,
}

impl FeeModel {
    /// Restores a pool's model from its state at `block` (its newest write in
    /// [`AlgebraFeeSpec::written_block`] when that is later). Keeps twice the records its
    /// window holds now, at least [`MIN_MODEL_CAPACITY`]. Allocates.
    pub fn from_spec(spec: &AlgebraFeeSpec, block: u64) -> Result<Self, FeeError> {
        let capacity = (2 * (spec.earlier.len() + 1)).clamp(MIN_MODEL_CAPACITY, RING_SIZE);
        let storage = spec.restore(capacity)?;
        Ok(Self {
            storage,
            volume: spec.volume_per_liquidity_in_block,
            written_block: spec.written_block.unwrap_or(block).max(block),
            pending: None,
        })
    }

    /// The model as a snapshot complete up to `block` carries it, what [`FeeModel::from_spec`]
    /// restores: the configuration, the newest timepoint, the records the fee's one-day window
    /// can still reach from it (back to the first at or before its time − 1 day, or to
    /// timepoint 0, as far as they are kept), timepoint 0 where the ring needs it, the volume
    /// since the newest write, and the newest write's block if it is after `block`. `None`
    /// while a write waits for its block's time: the write is in no timepoint yet, and a
    /// snapshot cannot carry it. Allocates.
    pub fn to_spec(&self, block: u64) -> Option<AlgebraFeeSpec> {
        if self.pending.is_some() {
            return None;
        }
        let s = &self.storage;
        let newest = *s.newest()?;
        let index = s.index();
        let n = s.window_len(newest.block_timestamp);
        let earlier = (1..n)
            .rev()
            .map(|back| s.record(index.wrapping_sub(u16::try_from(back).ok()?)))
            .collect::<Option<Vec<_>>>()?;
        let wrapped = s.wrapped();
        Some(AlgebraFeeSpec {
            config: *s.config(),
            timepoint_index: index,
            wrapped,
            first: if wrapped || index == 0 {
                None
            } else {
                s.record(0)
            },
            newest,
            earlier,
            volume_per_liquidity_in_block: self.volume,
            written_block: (self.written_block > block).then_some(self.written_block),
        })
    }

    /// A `Fee` log at `block` (its timestamp if known) setting `fee`; `tick` and `liquidity`
    /// are the pool's before the transaction that wrote it (what the tables hold when the log
    /// arrives, since `Fee` precedes that transaction's `Swap`, `Mint` or `Burn`).
    pub fn on_fee(
        &mut self,
        block: u64,
        time: Option<u32>,
        tick: i32,
        liquidity: u128,
        fee: u16,
    ) -> Result<FeeWrite, FeeModelError> {
        if self.pending.is_some() {
            return Err(FeeModelError::NoBlockTime);
        }
        if block <= self.written_block {
            return Err(FeeModelError::SecondWrite);
        }
        let volume = self.volume;
        self.volume = 0;
        self.written_block = block;
        match time {
            Some(t) => {
                self.write(t, tick, liquidity, volume, fee)?;
                Ok(FeeWrite::Checked)
            }
            None => {
                self.pending = Some(PendingWrite {
                    block,
                    tick,
                    liquidity,
                    volume,
                    fee,
                });
                Ok(FeeWrite::Waiting)
            }
        }
    }

    /// `block`'s timestamp became known: replays a write waiting for it. True if one did.
    pub fn on_block_time(&mut self, block: u64, time: u32) -> Result<bool, FeeModelError> {
        match self.pending {
            Some(p) if p.block == block => {
                self.pending = None;
                self.write(time, p.tick, p.liquidity, p.volume, p.fee)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A `Swap` at `block` (its timestamp if known) that left `liquidity` active and moved
    /// `amount0` and `amount1`: adds its volume per liquidity, as the pool does.
    pub fn on_swap(
        &mut self,
        block: u64,
        time: Option<u32>,
        liquidity: u128,
        amount0: I256,
        amount1: I256,
    ) -> Result<(), FeeModelError> {
        self.check_written(block, time)?;
        self.volume = add_volume_in_block(
            self.volume,
            volume_per_liquidity(liquidity, amount0, amount1),
        );
        Ok(())
    }

    /// A `Mint` or `Burn` at `block` that changed active liquidity: the pool wrote a timepoint
    /// first if it had none in the block, so a `Fee` log must have come.
    pub fn on_active_position(
        &mut self,
        block: u64,
        time: Option<u32>,
    ) -> Result<(), FeeModelError> {
        self.check_written(block, time)
    }

    /// A block with no `Fee` seen writes, unless its timestamp is the newest timepoint's.
    fn check_written(&self, block: u64, time: Option<u32>) -> Result<(), FeeModelError> {
        if block <= self.written_block {
            return Ok(());
        }
        let newest = self.storage.newest().map(|n| n.block_timestamp);
        match time {
            Some(t) if self.pending.is_none() && newest == Some(t) => Ok(()),
            _ => Err(FeeModelError::MissedWrite),
        }
    }

    fn write(
        &mut self,
        time: u32,
        tick: i32,
        liquidity: u128,
        volume: u128,
        fee: u16,
    ) -> Result<(), FeeModelError> {
        let index = self.storage.index();
        let new = self
            .storage
            .write(index, time, tick, liquidity, volume)
            .map_err(FeeModelError::Model)?;
        if new == index {
            return Err(FeeModelError::SecondWrite);
        }
        let predicted = self
            .storage
            .get_fee(time, tick, new, liquidity)
            .map_err(FeeModelError::Model)?;
        if predicted != fee {
            return Err(FeeModelError::Mismatch {
                predicted,
                seen: fee,
            });
        }
        Ok(())
    }

    /// The fee a swap pays as the pool's first in a block at `time` (seconds), with the pool
    /// at `tick` and `liquidity` and its fee now `current` (pips). `Ok(None)` while a write
    /// waits for its block time.
    pub fn quote(
        &self,
        time: u32,
        tick: i32,
        liquidity: u128,
        current: u16,
    ) -> Result<Option<u16>, FeeModelError> {
        if self.pending.is_some() {
            return Ok(None);
        }
        match self.storage.predict_fee(time, tick, liquidity, self.volume) {
            Ok(Some(fee)) => Ok(Some(fee)),
            // A timepoint at this time already: the pool keeps its fee.
            Ok(None) => Ok(Some(current)),
            Err(e) => Err(FeeModelError::Model(e)),
        }
    }

    /// The model as it is now, for [`FeeModel::restore_image`]. A pool writes at most one
    /// timepoint a block (a second is an error that ends the model), so an image taken at the
    /// start of a block undoes the whole block.
    pub(crate) fn image(&self) -> ModelImage {
        ModelImage {
            mark: self.storage.mark(),
            volume: self.volume,
            written_block: self.written_block,
            pending: self.pending,
        }
    }

    /// Takes the model back to `image`. Images of several blocks are restored newest first.
    pub(crate) fn restore_image(&mut self, image: &ModelImage) {
        self.storage.rewind(&image.mark);
        self.volume = image.volume;
        self.written_block = image.written_block;
        self.pending = image.pending;
    }

    /// The pool's `volumePerLiquidityInBlock` as the model has it.
    pub fn volume_in_block(&self) -> u128 {
        self.volume
    }

    /// The model's timepoints.
    pub fn storage(&self) -> &DataStorage {
        &self.storage
    }
}
