//! What a stage thread does while its ring is empty: [`Idle`], by the thread's
//! [`WaitPolicy`](crate::placement::WaitPolicy). Pinning and the plan of which thread runs where
//! are in [`crate::placement`].
//!
//! When stages share a CPU the plan gives them no spins, so an idle stage yields its CPU at once
//! and the stage it shares with always makes progress.

use std::{hint, thread, time::Duration};

use crate::placement::{Wait, WaitPolicy};

/// Yields a parked thread makes before it starts sleeping.
const YIELDS_BEFORE_PARK: u32 = 64;
/// A parked thread's first sleep, ns; each further empty poll doubles it up to the policy's
/// `park_max_ns`.
const FIRST_PARK_NS: u64 = 10_000;

/// Idle strategy of a polling thread: spin, yield or sleep on empty polls, per its [`Wait`].
#[derive(Debug, Clone)]
pub struct Idle {
    wait: Wait,
    spins: u32,
    yields_in_row: u32,
    park_ns: u64,
    yields: u64,
    parks: u64,
}

impl Idle {
    /// Spin `spin_limit` times, then yield on every further empty poll (`spin_limit = 0`: yield
    /// at once, as on a shared CPU).
    pub fn new(spin_limit: u32) -> Self {
        Self::with(Wait {
            policy: WaitPolicy::SpinYield,
            spins: spin_limit,
            park_max_ns: 0,
        })
    }

    /// The strategy `wait` describes.
    pub fn with(wait: Wait) -> Self {
        Self {
            wait,
            spins: 0,
            yields_in_row: 0,
            park_ns: FIRST_PARK_NS,
            yields: 0,
            parks: 0,
        }
    }

    /// Work was found: start spinning again next time.
    #[inline]
    pub fn reset(&mut self) {
        self.spins = 0;
        self.yields_in_row = 0;
        self.park_ns = FIRST_PARK_NS;
    }

    /// Nothing to do this round.
    #[inline]
    pub fn idle(&mut self) {
        if self.wait.policy == WaitPolicy::Spin || self.spins < self.wait.spins {
            self.spins = self.spins.saturating_add(1);
            hint::spin_loop();
            return;
        }
        if self.wait.policy == WaitPolicy::Park && self.yields_in_row >= YIELDS_BEFORE_PARK {
            self.parks += 1;
            thread::sleep(Duration::from_nanos(self.park_ns));
            self.park_ns = (self.park_ns * 2).min(self.wait.park_max_ns.max(FIRST_PARK_NS));
            return;
        }
        self.yields_in_row += 1;
        self.yields += 1;
        thread::yield_now();
    }

    /// How many times this strategy yielded the CPU.
    pub fn yields(&self) -> u64 {
        self.yields
    }

    /// How many times it slept ([`WaitPolicy::Park`]).
    pub fn parks(&self) -> u64 {
        self.parks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::{CpuFacts, Pinned, pin_current};

    #[test]
    fn each_policy_waits_as_it_says() {
        let wait = |policy, spins| Wait {
            policy,
            spins,
            park_max_ns: 40_000,
        };
        // Spin never gives the CPU up.
        let mut spin = Idle::with(wait(WaitPolicy::Spin, 3));
        for _ in 0..200 {
            spin.idle();
        }
        assert_eq!((spin.yields(), spin.parks()), (0, 0));
        // Spin-yield: its spins, then a yield per empty poll.
        let mut sy = Idle::with(wait(WaitPolicy::SpinYield, 3));
        for _ in 0..10 {
            sy.idle();
        }
        assert_eq!((sy.yields(), sy.parks()), (7, 0));
        // Park: spins, YIELDS_BEFORE_PARK yields, then sleeps of 10, 20, 40, 40 µs.
        let mut park = Idle::with(wait(WaitPolicy::Park, 3));
        let n = 3 + YIELDS_BEFORE_PARK as usize + 4;
        let started = std::time::Instant::now();
        for _ in 0..n {
            park.idle();
        }
        assert_eq!(
            (park.yields(), park.parks()),
            (u64::from(YIELDS_BEFORE_PARK), 4)
        );
        // The sleeps happened (110 µs at least; an upper bound would be a timed test).
        assert!(started.elapsed() >= Duration::from_micros(110));
        // Work found: back to spinning.
        park.reset();
        park.idle();
        assert_eq!(park.parks(), 4);
    }

    #[test]
    fn stages_on_one_core_both_progress() {
        // Two threads pinned to the same core ping-pong through rings with `Idle::new(0)`, as
        // stages sharing a core do. Proven: both pins took (else the premise is void), both
        // sides yielded the core while waiting (the mechanism that lets the other run), and
        // the exchange completed. The deadline is a hang guard, not a speed goal: a livelock
        // fails the test instead of hanging it. Both sides run on spawned threads so the test
        // harness thread is never pinned.
        let (mut p1, mut c1) = rtrb::RingBuffer::<u32>::new(4);
        let (mut p2, mut c2) = rtrb::RingBuffer::<u32>::new(4);
        let rounds = 2_000u32;
        let cpu0 = CpuFacts::read().online[0];
        let (done, finished) = std::sync::mpsc::channel();
        let tx = done.clone();
        thread::spawn(move || {
            let pinned = pin_current("test-echo", Some(cpu0));
            let mut idle = Idle::new(0);
            let mut n = 0;
            while n < rounds {
                match c1.pop() {
                    Ok(v) => {
                        idle.reset();
                        while p2.push(v + 1).is_err() {
                            idle.idle();
                        }
                        n += 1;
                    }
                    Err(_) => idle.idle(),
                }
            }
            let _ = tx.send(("echo", pinned, idle.yields(), n));
        });
        thread::spawn(move || {
            let pinned = pin_current("test-driver", Some(cpu0));
            let mut idle = Idle::new(0);
            for i in 0..rounds {
                while p1.push(i).is_err() {
                    idle.idle();
                }
                loop {
                    if let Ok(v) = c2.pop() {
                        assert_eq!(v, i + 1);
                        break;
                    }
                    idle.idle();
                }
            }
            let _ = done.send(("driver", pinned, idle.yields(), rounds));
        });
        for _ in 0..2 {
            let (who, pinned, yields, n) = finished
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("no progress within 120 s: stages sharing a core livelocked");
            assert_eq!(pinned, Pinned::Core(cpu0), "{who}");
            assert_eq!(n, rounds, "{who}");
            assert!(yields > 0, "{who} never yielded the core while waiting");
        }
    }
}
