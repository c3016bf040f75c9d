//! Seeded random programs for the probe: block timestamps advancing by 0 (the same block again)
//! to days and years, ticks walking in small and large steps or jumping anywhere in `int24`,
//! liquidity from 0 to `u128::MAX`, volumes from 0 to `u128::MAX`, fee configurations from the
//! default to random and extreme ones (some invalid), and queries at and after each write.
//!
//! The generator keeps a model (capacity 65,536) in step with the program only to know the
//! newest index and where the sigmoids are not flat; the comparison itself replays the program
//! on fresh models.

use std::collections::VecDeque;

use alloy_primitives::{I256, U256};
use polyarb_core::clmm::algebra_fee::{DataStorage, FeeConfig, RING_SIZE, WINDOW};
use polyarb_tools::SplitMix64;

use crate::probe::{Fill, Op, Query, fill_step};

const INT24_MIN: i32 = -(1 << 23);
const INT24_MAX: i32 = (1 << 23) - 1;
const MAX_TICK: i32 = 887_272;

/// A program and what it needs.
#[derive(Debug)]
pub struct Program {
    pub ops: Vec<Op>,
    /// Records a model needs for every write and fee in it (at most 65,536): for each, the
    /// timepoints after the day before it plus the one at or before that day's start (and the
    /// one being written), or 2 while the oldest timepoint is younger than a day (the fee then
    /// reads the first timepoint, which is kept apart).
    pub need: usize,
}

/// Builds programs.
pub struct Gen {
    rng: SplitMix64,
    model: DataStorage,
    ops: Vec<Op>,
    /// Newest timestamp, without the 32-bit wrap.
    now: u64,
    tick: i32,
    liquidity: u128,
    /// Timestamps (unwrapped) the window can still reach, oldest first.
    window: VecDeque<u64>,
    need: usize,
    /// Time of timepoint 0 (unwrapped) and the newest timepoint's sequence number.
    first: u64,
    seq: u64,
    /// Only short steps and queries close to the newest timepoint.
    quiet: bool,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: SplitMix64::new(seed),
            model: DataStorage::new(RING_SIZE, FeeConfig::default()),
            ops: Vec::new(),
            now: 0,
            tick: 0,
            liquidity: 0,
            window: VecDeque::new(),
            need: 2,
            first: 0,
            seq: 0,
            quiet: false,
        }
    }

    /// Keeps to steps of at most 30 s and queries at most a minute ahead from now on.
    pub fn quiet(&mut self) {
        self.quiet = true;
    }

    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }

    pub fn finish(self) -> Program {
        Program {
            ops: self.ops,
            need: self.need.min(RING_SIZE),
        }
    }

    /// `initialize` at a random time (now and then close to the 32-bit wrap) and tick, then a
    /// fee configuration: the default, a random one, or none (the operator's all-zero one).
    pub fn start(&mut self) {
        self.now = match self.rng.below(10) {
            0 => u64::from(u32::MAX) - self.rng.below(200_000),
            1 => self.rng.below(1_000),
            _ => 1_600_000_000 + self.rng.below(200_000_000),
        };
        self.tick = self.any_tick();
        self.liquidity = self.any_liquidity();
        self.push(Op::Init {
            time: self.now as u32,
            tick: self.tick,
        });
        self.window.push_back(self.now);
        self.first = self.now;
        match self.rng.below(10) {
            0 => {}
            1..=5 => self.push(Op::Config(FeeConfig::DEFAULT)),
            _ => {
                let c = self.random_config(false);
                self.push(Op::Config(c));
            }
        }
    }

    /// One block: a timepoint write after `dt` seconds, the pool's `getFee` right after it, and
    /// random further queries.
    pub fn step(&mut self) {
        let dt = self.any_dt();
        self.tick = self.move_tick();
        if self.rng.below(4) == 0 {
            self.liquidity = self.any_liquidity();
        }
        let volume = self.any_volume();
        self.write(dt, self.tick, self.liquidity, volume);
        let q = self.query_at(0);
        self.push(Op::Fee(q));
        match self.rng.below(20) {
            0..=5 => {
                let off = self.any_offset();
                let q = self.query_at(off);
                self.push(Op::Fee(q));
            }
            6..=8 => {
                let off = if self.rng.coin() {
                    0
                } else {
                    self.any_offset()
                };
                let q = self.query_at(off);
                self.push(Op::Averages(q));
            }
            9..=10 => self.timepoints(),
            11 => {
                let index = self.any_index();
                self.push(Op::Timepoint { index });
            }
            12 => self.config_sweep(),
            _ => {}
        }
    }

    /// `n` FILL writes at most `max_dt` seconds apart; `vol_mode` 1 writes `u128::MAX` volumes.
    pub fn fill(&mut self, n: u32, max_dt: u32, vol_mode: u8) {
        let fill = Fill {
            index: self.model.index(),
            time: self.now as u32,
            n,
            seed: self.rng.next_u64(),
            max_dt,
            vol_mode,
        };
        self.push(Op::Fill(fill));
        let mut seed = fill.seed;
        for _ in 0..n {
            let (s, dt, tick, liquidity, volume) = fill_step(seed, max_dt, vol_mode);
            seed = s;
            self.track(dt);
            self.model
                .write(self.model.index(), self.now as u32, tick, liquidity, volume)
                .expect("generator model");
            self.tick = tick;
            self.liquidity = liquidity;
        }
    }

    /// `calculateVolumePerLiquidity` on random amounts and liquidity, extremes included.
    pub fn volume(&mut self) {
        let amount0 = self.any_amount();
        let amount1 = self.any_amount();
        let liquidity = self.any_liquidity();
        self.ops.push(Op::Volume {
            liquidity,
            amount0,
            amount1,
        });
    }

    fn write(&mut self, dt: u64, tick: i32, liquidity: u128, volume: u128) {
        if dt > 0 {
            self.track(dt as u32);
        }
        self.push(Op::Write {
            index: self.model.index(),
            time: self.now as u32,
            tick,
            liquidity,
            volume,
        });
    }

    /// Moves time on by one new timepoint and keeps the window's count.
    fn track(&mut self, dt: u32) {
        let t = self.now + u64::from(dt);
        self.need = self.need.max(self.need_at(t, true));
        self.now = t;
        self.seq += 1;
        let start = self.now.saturating_sub(WINDOW.into());
        while self.window.len() >= 2 && self.window[1] <= start {
            self.window.pop_front();
        }
        self.window.push_back(self.now);
    }

    /// Records a fee at unwrapped time `q` reads (`adding`: after a timepoint at `q` is
    /// appended, as `predict_fee` does).
    fn need_at(&self, q: u64, adding: bool) -> usize {
        let start = q.saturating_sub(WINDOW.into());
        let newest = self.seq + u64::from(adding);
        if newest < RING_SIZE as u64 - 1 && self.first > start {
            return 2;
        }
        let after = self.window.len() - self.window.partition_point(|&t| t <= start);
        after + 1 + usize::from(adding)
    }

    /// A query `offset` seconds after the newest timepoint, counted in the program's need.
    fn query_at(&mut self, offset: u32) -> Query {
        self.need = self
            .need
            .max(self.need_at(self.now + u64::from(offset), false));
        Query {
            time: (self.now as u32).wrapping_add(offset),
            tick: self.tick,
            index: self.model.index(),
            liquidity: self.liquidity,
        }
    }

    /// Appends `op` and applies it to the steering model.
    fn push(&mut self, op: Op) {
        match &op {
            Op::Config(c) => {
                let _ = self.model.set_config(*c);
            }
            Op::Init { time, tick } => {
                self.model
                    .initialize(*time, *tick)
                    .expect("generator model");
            }
            Op::Write {
                index,
                time,
                tick,
                liquidity,
                volume,
            } => {
                self.model
                    .write(*index, *time, *tick, *liquidity, *volume)
                    .expect("generator model");
            }
            _ => {}
        }
        self.ops.push(op);
    }

    /// `getTimepoints` at now or later, seconds ago around the window start, the oldest
    /// timepoint and random; now and then one second before the oldest (`'OLD'`).
    fn timepoints(&mut self) {
        let now = self.now as u32;
        let off = if self.rng.coin() {
            0
        } else {
            self.any_offset()
        };
        let t = now.wrapping_add(off);
        // The contract's oldest timepoint: the one after the newest once the ring has wrapped.
        let i = self.model.index();
        let oldest = self
            .model
            .record(i.wrapping_add(1))
            .or_else(|| self.model.record(0))
            .map_or(now, |r| r.block_timestamp);
        let age = t.wrapping_sub(oldest);
        let mut ago = Vec::new();
        if self.rng.below(8) == 0 {
            ago.push(age.saturating_add(1 + self.rng.below(1000) as u32));
        } else {
            for _ in 0..1 + self.rng.below(6) {
                let a = match self.rng.below(7) {
                    0 => 0,
                    1 => 1,
                    2 => WINDOW.min(age),
                    3 => WINDOW.saturating_sub(self.rng.below(100) as u32).min(age),
                    4 => age,
                    _ => self.rng.below(u64::from(age) + 1) as u32,
                };
                ago.push(a);
            }
        }
        // Reads beyond the window are no fee input: not counted in the need.
        let q = Query {
            time: t,
            tick: self.tick,
            index: self.model.index(),
            liquidity: self.liquidity,
        };
        self.push(Op::Timepoints { q, ago });
    }

    /// A few configurations with the sigmoids' slopes where the current averages are, each
    /// followed by a fee; then back to the one before.
    fn config_sweep(&mut self) {
        let before = *self.model.config();
        for _ in 0..1 + self.rng.below(5) {
            let c = self.random_config(true);
            self.push(Op::Config(c));
            let off = if self.rng.coin() {
                0
            } else {
                self.any_offset()
            };
            let q = self.query_at(off);
            self.push(Op::Fee(q));
        }
        self.push(Op::Config(before));
    }

    /// A random configuration; `steer` puts the betas within reach of the current averages so
    /// that the exp series, not a flat end, decides the fee. One in ten is invalid.
    fn random_config(&mut self, steer: bool) -> FeeConfig {
        let r = &mut self.rng;
        let mut c = FeeConfig::default();
        let total = match r.below(4) {
            0 => u16::MAX,
            _ => r.below(65_536) as u16,
        };
        c.base_fee = r.below(u64::from(total) + 1) as u16;
        let rest = total - c.base_fee;
        c.alpha1 = r.below(u64::from(rest) + 1) as u16;
        c.alpha2 = rest - c.alpha1;
        let gamma = |r: &mut SplitMix64| {
            match r.below(6) {
                0 => 1,
                1 => u16::MAX,
                _ => r.log_uniform(1.0, 65_536.0) as u16,
            }
            .max(1)
        };
        c.gamma1 = gamma(r);
        c.gamma2 = gamma(r);
        c.volume_gamma = gamma(r);
        let beta = |r: &mut SplitMix64| match r.below(6) {
            0 => 0,
            1 => u32::MAX,
            _ => r.log_uniform(1.0, 4_294_967_296.0) as u32,
        };
        c.beta1 = beta(r);
        c.beta2 = beta(r);
        c.volume_beta = beta(r);
        if steer
            && let Ok(a) = self.model.averages(
                self.now as u32,
                self.tick,
                self.model.index(),
                self.liquidity,
            )
        {
            let v = a.volatility.to::<u128>() / 15;
            let near = |r: &mut SplitMix64, x: u128, g: u16| -> u32 {
                let reach = 6 * i128::from(g);
                let off = r.below((2 * reach + 1) as u64) as i128 - reach;
                (x as i128 + off).clamp(0, i128::from(u32::MAX)) as u32
            };
            let r = &mut self.rng;
            c.beta1 = near(r, v, c.gamma1);
            c.beta2 = near(r, v, c.gamma2);
            c.volume_beta = near(r, a.volume_per_liquidity, c.volume_gamma);
        }
        let r = &mut self.rng;
        if r.below(10) == 0 {
            if r.coin() {
                c.alpha1 = u16::MAX;
                c.base_fee = c.base_fee.max(1);
            } else {
                match r.below(3) {
                    0 => c.gamma1 = 0,
                    1 => c.gamma2 = 0,
                    _ => c.volume_gamma = 0,
                }
            }
        }
        c
    }

    fn any_dt(&mut self) -> u64 {
        let r = &mut self.rng;
        if self.quiet {
            return r.below(31);
        }
        match r.below(100) {
            0..=4 => 0,
            5..=64 => 1 + r.below(30),
            65..=84 => 30 + r.below(3_600),
            85..=94 => 3_600 + r.below(2 * 86_400),
            95..=98 => 2 * 86_400 + r.below(28 * 86_400),
            _ => r.below(1 << 27),
        }
    }

    /// Seconds after now for an extra query: just after, around a day, or far.
    fn any_offset(&mut self) -> u32 {
        let r = &mut self.rng;
        if self.quiet {
            return r.below(61) as u32;
        }
        let w = u64::from(WINDOW);
        (match r.below(8) {
            0 => 1,
            1 => 1 + r.below(60),
            2 => r.below(w),
            3 => w - r.below(100),
            4 => w,
            5 => w + 1 + r.below(100),
            6 => w + r.below(10 * w),
            _ => r.below(1 << 28),
        }) as u32
    }

    fn move_tick(&mut self) -> i32 {
        let r = &mut self.rng;
        let step = |r: &mut SplitMix64, n: u64| r.below(2 * n + 1) as i32 - n as i32;
        let t = match r.below(100) {
            0..=29 => self.tick,
            30..=59 => self.tick + step(r, 10),
            60..=79 => self.tick + step(r, 300),
            80..=89 => self.tick + step(r, 5_000),
            90..=96 => r.below(2 * MAX_TICK as u64 + 1) as i32 - MAX_TICK,
            _ => {
                if r.coin() {
                    INT24_MIN
                } else {
                    INT24_MAX
                }
            }
        };
        t.clamp(INT24_MIN, INT24_MAX)
    }

    fn any_tick(&mut self) -> i32 {
        match self.rng.below(10) {
            0 => INT24_MIN,
            1 => INT24_MAX,
            _ => self.rng.below(2 * MAX_TICK as u64 + 1) as i32 - MAX_TICK,
        }
    }

    fn any_liquidity(&mut self) -> u128 {
        let r = &mut self.rng;
        match r.below(20) {
            0..=1 => 0,
            2 => 1,
            3 => u128::MAX,
            _ => wide(r) >> r.below(128),
        }
    }

    fn any_volume(&mut self) -> u128 {
        let r = &mut self.rng;
        match r.below(20) {
            0..=7 => 0,
            8..=15 => wide(r) >> (56 + r.below(32)),
            16..=18 => wide(r) >> r.below(128),
            _ => u128::MAX,
        }
    }

    fn any_amount(&mut self) -> I256 {
        let r = &mut self.rng;
        let raw = match r.below(12) {
            0 => U256::ZERO,
            1 => U256::from(1u8),
            2 => U256::MAX,
            3 => U256::from(1u8) << 255usize,
            4 => (U256::from(1u8) << 255usize) - U256::from(1u8),
            _ => {
                let v = U256::from_limbs([r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()]);
                v >> (r.below(256) as usize)
            }
        };
        let v = I256::from_raw(raw);
        if r.coin() { v.wrapping_neg() } else { v }
    }

    fn any_index(&mut self) -> u16 {
        let i = self.model.index();
        match self.rng.below(5) {
            0 => i,
            1 => i.wrapping_sub(1),
            2 => i.wrapping_add(1),
            3 => 0,
            _ => self.rng.below(u64::from(i) + 1) as u16,
        }
    }
}

fn wide(r: &mut SplitMix64) -> u128 {
    (u128::from(r.next_u64()) << 64) | u128::from(r.next_u64())
}
