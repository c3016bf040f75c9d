//! An Algebra fee model exported (`FeeModel::to_spec`, what `Engine::market_spec` writes) and
//! restored (`FeeModel::from_spec`, what `Engine::new` does) follows its pool exactly as the
//! model that never stopped: the same checks of every later `Fee` log, the same volume, the
//! same quotes. The fees the pool sets come from an independent `DataStorage` with the whole
//! ring (65,536 records) that the test drives as the contract would: `write`, then `getFee`.

use alloy_primitives::I256;
use polyarb_core::AlgebraFeeSpec;
use polyarb_core::clmm::algebra_fee::{
    DataStorage, FeeConfig, RING_SIZE, add_volume_in_block, volume_per_liquidity,
};
use polyarb_core::fee_model::{FeeModel, FeeModelError, FeeWrite};

const LIQUIDITY: u128 = 1 << 80;

/// The pool as the contract keeps it: its operator and `volumePerLiquidityInBlock`.
struct Pool {
    storage: DataStorage,
    volume: u128,
    tick: i32,
    fee: u16,
}

impl Pool {
    /// A pool initialized at `t0` with a history of `writes` timepoints `gap` seconds apart
    /// (the tick moving), so a day's window cuts it when the gaps are long.
    fn new(t0: u32, writes: u32, gap: u32) -> (Self, u32) {
        let mut storage = DataStorage::new(RING_SIZE, FeeConfig::DEFAULT);
        storage.initialize(t0, 60).unwrap();
        let mut t = t0;
        let mut tick = 60;
        for k in 0..writes {
            t += gap + k % 7;
            tick += (k as i32 * 37) % 401 - 200;
            let i = storage.index();
            storage
                .write(i, t, tick, LIQUIDITY, u128::from(k) << 60)
                .unwrap();
        }
        let pool = Self {
            storage,
            volume: 5 << 64,
            tick,
            fee: 500,
        };
        (pool, t)
    }

    /// The spec discovery would read from it.
    fn spec(&self) -> AlgebraFeeSpec {
        let s = &self.storage;
        let index = s.index();
        let newest = *s.newest().unwrap();
        let n = s.window_len(newest.block_timestamp);
        AlgebraFeeSpec {
            config: FeeConfig::DEFAULT,
            timepoint_index: index,
            wrapped: s.wrapped(),
            first: (!s.wrapped() && index != 0).then(|| s.record(0).unwrap()),
            newest,
            earlier: (1..n as u16)
                .rev()
                .map(|k| s.record(index.wrapping_sub(k)).unwrap())
                .collect(),
            volume_per_liquidity_in_block: self.volume,
            written_block: None,
        }
    }

    /// The first swap of a block at `time`: the write and its fee (the `Fee` log).
    fn write(&mut self, time: u32) -> u16 {
        let i = self.storage.index();
        let new = self
            .storage
            .write(i, time, self.tick, LIQUIDITY, self.volume)
            .unwrap();
        self.volume = 0;
        self.fee = self
            .storage
            .get_fee(time, self.tick, new, LIQUIDITY)
            .unwrap();
        self.fee
    }

    /// A swap moving the tick by `step`: its amounts (the `Swap` log).
    fn swap(&mut self, step: i32) -> (I256, I256) {
        self.tick += step;
        let a0 = I256::try_from(i128::from(step) * 1_000_000_007).unwrap();
        let a1 = -a0 * I256::try_from(3).unwrap();
        self.volume = add_volume_in_block(self.volume, volume_per_liquidity(LIQUIDITY, a0, a1));
        (a0, a1)
    }
}

/// One log of the pool.
#[derive(Clone, Copy, Debug)]
enum Log {
    Fee {
        block: u64,
        time: u32,
        tick: i32,
        fee: u16,
    },
    Swap {
        block: u64,
        time: u32,
        a0: I256,
        a1: I256,
    },
}

/// Blocks `first..first + blocks`, 2 s apart from `t`: each with a `Fee` then two or three
/// swaps, as the pool emits them.
fn logs(pool: &mut Pool, first: u64, blocks: u64, mut t: u32) -> Vec<Log> {
    let mut out = Vec::new();
    for b in first..first + blocks {
        t += 2;
        let tick = pool.tick;
        let fee = pool.write(t);
        out.push(Log::Fee {
            block: b,
            time: t,
            tick,
            fee,
        });
        for k in 0..(2 + b % 2) {
            let step = ((b * 31 + k * 17) % 61) as i32 - 30;
            let (a0, a1) = pool.swap(step);
            out.push(Log::Swap {
                block: b,
                time: t,
                a0,
                a1,
            });
        }
    }
    out
}

/// Applies one log; what the model said.
fn apply(m: &mut FeeModel, log: &Log) -> Result<Option<FeeWrite>, FeeModelError> {
    match *log {
        Log::Fee {
            block,
            time,
            tick,
            fee,
        } => m.on_fee(block, Some(time), tick, LIQUIDITY, fee).map(Some),
        Log::Swap {
            block,
            time,
            a0,
            a1,
        } => m
            .on_swap(block, Some(time), LIQUIDITY, a0, a1)
            .map(|()| None),
    }
}

fn block_of(log: &Log) -> u64 {
    match *log {
        Log::Fee { block, .. } | Log::Swap { block, .. } => block,
    }
}

/// Quotes the way the engine asks: the next block, and a few later ones.
fn quotes(m: &FeeModel, now: u32, tick: i32) -> Vec<Result<Option<u16>, FeeModelError>> {
    [2, 4, 60, 3_600, 90_000]
        .iter()
        .map(|dt| m.quote(now + dt, tick, LIQUIDITY, 500))
        .collect()
}

#[test]
fn a_restored_model_follows_the_pool_as_the_one_that_never_stopped() {
    // 60 writes about 3 h apart: the one-day window holds the last 8 or so, not timepoint 0.
    let (mut pool, t) = Pool::new(1_700_000_000, 60, 10_800);
    let spec = pool.spec();
    assert!(spec.earlier.len() + 1 < usize::from(spec.timepoint_index));
    let snapshot = 100;
    let run = logs(&mut pool, snapshot + 1, 40, t);
    let mut checked = 0;
    // A cut after every log: in the middle of a block (after its Fee, after a swap) and at its
    // end.
    for cut in 0..run.len() {
        let mut never = FeeModel::from_spec(&spec, snapshot).unwrap();
        for log in &run[..=cut] {
            assert!(apply(&mut never, log).is_ok(), "{log:?}");
        }
        // The export is complete up to the block before the newest seen.
        let newest = block_of(&run[cut]);
        let block = newest - 1;
        let exported = never.to_spec(block).expect("no write waits for its time");
        // It is a state discovery could have read (the same shape, the window's records).
        assert_eq!(exported.timepoint_index, never.storage().index());
        assert_eq!(exported.first, never.storage().record(0));
        assert_eq!(
            exported.volume_per_liquidity_in_block,
            never.volume_in_block()
        );
        // The write of the newest block, if it came: the pool writes no more in that block.
        assert_eq!(exported.written_block, Some(newest));
        let mut restored = FeeModel::from_spec(&exported, block).unwrap();
        let time = match run[cut] {
            Log::Fee { time, .. } | Log::Swap { time, .. } => time,
        };
        assert_eq!(
            quotes(&restored, time, pool.tick),
            quotes(&never, time, pool.tick)
        );
        for log in &run[cut + 1..] {
            let (a, b) = (apply(&mut never, log), apply(&mut restored, log));
            assert_eq!(a, b, "cut {cut}, {log:?}");
            assert!(a.is_ok(), "{log:?}: {a:?}");
            assert_eq!(restored.volume_in_block(), never.volume_in_block());
            assert_eq!(restored.storage().newest(), never.storage().newest());
            checked += 1;
        }
        assert_eq!(
            quotes(&restored, time + 200, pool.tick),
            quotes(&never, time + 200, pool.tick)
        );
        // Exported again, the restored model gives the same state: the export is a fixed point.
        assert_eq!(
            restored.to_spec(block_of(&run[run.len() - 1])),
            never.to_spec(block_of(&run[run.len() - 1]))
        );
    }
    assert!(checked > 1_000, "{checked}");
}

#[test]
fn the_block_of_the_newest_write_goes_with_an_export_taken_inside_it() {
    let (mut pool, t) = Pool::new(1_700_000_000, 10, 600);
    let spec = pool.spec();
    let run = logs(&mut pool, 11, 2, t);
    let mut m = FeeModel::from_spec(&spec, 10).unwrap();
    // Block 11's Fee, then the snapshot is taken: complete up to block 10.
    apply(&mut m, &run[0]).unwrap();
    let exported = m.to_spec(10).unwrap();
    assert_eq!(exported.written_block, Some(11));
    // A swap of block 11 whose time is not known (no head yet after the restart): the pool
    // wrote in block 11 already, so nothing is missing.
    let Log::Swap { a0, a1, .. } = run[1] else {
        panic!("{:?}", run[1]);
    };
    let mut restored = FeeModel::from_spec(&exported, 10).unwrap();
    assert_eq!(restored.on_swap(11, None, LIQUIDITY, a0, a1), Ok(()));
    // Without it the restored model would take the swap for a write it never saw.
    let mut forgetful = FeeModel::from_spec(
        &AlgebraFeeSpec {
            written_block: None,
            ..exported.clone()
        },
        10,
    )
    .unwrap();
    assert_eq!(
        forgetful.on_swap(11, None, LIQUIDITY, a0, a1),
        Err(FeeModelError::MissedWrite)
    );
    // Taken at the end of block 11, the write is at or before the snapshot: nothing to say.
    assert_eq!(m.to_spec(11).unwrap().written_block, None);
    // A second Fee in block 11 is refused by the restored model as by the running one.
    let Log::Fee { tick, fee, .. } = run[0] else {
        panic!("{:?}", run[0]);
    };
    assert_eq!(
        restored.on_fee(11, None, tick, LIQUIDITY, fee),
        Err(FeeModelError::SecondWrite)
    );
}

#[test]
fn a_write_waiting_for_its_block_time_is_not_exported() {
    let (mut pool, t) = Pool::new(1_700_000_000, 10, 600);
    let spec = pool.spec();
    let run = logs(&mut pool, 11, 1, t);
    let mut m = FeeModel::from_spec(&spec, 10).unwrap();
    let Log::Fee {
        block,
        time,
        tick,
        fee,
    } = run[0]
    else {
        panic!("{:?}", run[0]);
    };
    assert_eq!(
        m.on_fee(block, None, tick, LIQUIDITY, fee),
        Ok(FeeWrite::Waiting)
    );
    // The write is in no timepoint yet: a snapshot cannot carry it.
    assert_eq!(m.to_spec(10), None);
    assert_eq!(m.on_block_time(block, time), Ok(true));
    let exported = m.to_spec(10).unwrap();
    assert_eq!(exported.newest.block_timestamp, time);
}

#[test]
fn a_wrapped_ring_exports_without_timepoint_zero() {
    // More writes than the ring holds, 2 to 8 s apart.
    let (mut pool, t) = Pool::new(1_600_000_000, RING_SIZE as u32 + 500, 2);
    let spec = pool.spec();
    assert!(spec.wrapped && spec.first.is_none());
    let run = logs(&mut pool, 11, 3, t);
    let mut never = FeeModel::from_spec(&spec, 10).unwrap();
    for log in &run[..5] {
        apply(&mut never, log).unwrap();
    }
    let exported = never.to_spec(11).unwrap();
    assert!(exported.wrapped);
    assert_eq!(exported.first, None);
    assert_eq!(exported.written_block, Some(12));
    // The window's records (a day of writes about 5 s apart), not the whole ring.
    let newest = exported.newest.block_timestamp;
    assert_eq!(
        exported.earlier.len() + 1,
        never.storage().window_len(newest)
    );
    assert!(
        (17_000..17_500).contains(&exported.earlier.len()),
        "{}",
        exported.earlier.len()
    );
    let mut restored = FeeModel::from_spec(&exported, 11).unwrap();
    for log in &run[5..] {
        assert_eq!(apply(&mut restored, log), apply(&mut never, log), "{log:?}");
    }
    let now = t + 2 * 3;
    assert_eq!(
        quotes(&restored, now, pool.tick),
        quotes(&never, now, pool.tick)
    );
}
