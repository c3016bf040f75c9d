//! Stage threads: pinning to cores and what a stage does while its ring is empty.
//!
//! Pinning is loud: each stage reports where it landed, and a failed pin is a warning with the
//! reason, never silent. When stages share a core (fewer cores than stages), an idle stage yields
//! its core at once instead of spinning, so the stage it shares with always makes progress.

use std::{hint, thread};

use crate::config::CoreMap;

/// Where a stage ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// Pinned to this logical core.
    Core(usize),
    /// Not pinned: no core map configured.
    Unpinned,
    /// Pinning was asked for but failed; the thread runs wherever the OS puts it.
    Failed,
}

/// Pins the calling thread to `core` (an index into the machine's core list). If the machine has
/// fewer cores, wraps around and says so. Returns what happened; logs it either way.
pub fn pin_current(stage: &'static str, core: Option<usize>) -> Pinned {
    let Some(want) = core else {
        tracing::info!(stage, "not pinned (no [cores] in config)");
        return Pinned::Unpinned;
    };
    let Some(ids) = core_affinity::get_core_ids().filter(|ids| !ids.is_empty()) else {
        tracing::warn!(stage, want, "cannot list CPU cores; thread NOT pinned");
        return Pinned::Failed;
    };
    let idx = want % ids.len();
    if idx != want {
        tracing::warn!(
            stage,
            want,
            have = ids.len(),
            using = idx,
            "core index beyond machine, wrapped"
        );
    }
    let id = ids[idx];
    if core_affinity::set_for_current(id) {
        tracing::info!(stage, core = id.id, "pinned");
        Pinned::Core(id.id)
    } else {
        tracing::warn!(
            stage,
            core = id.id,
            "sched_setaffinity failed; thread NOT pinned"
        );
        Pinned::Failed
    }
}

/// True if two stages of the map land on the same core of a machine with `n_cores` cores.
pub fn stages_share_cores(map: &CoreMap, n_cores: usize) -> bool {
    let n = n_cores.max(1);
    let (f, e, s) = (map.feed % n, map.engine % n, map.signer % n);
    f == e || e == s || f == s
}

/// Idle strategy for a polling stage: spin `spin_limit` times, then yield the core on every
/// further empty poll. `spin_limit = 0` means yield at once (shared cores).
#[derive(Debug, Clone)]
pub struct Idle {
    spins: u32,
    spin_limit: u32,
}

impl Idle {
    /// A fresh strategy.
    pub fn new(spin_limit: u32) -> Self {
        Self {
            spins: 0,
            spin_limit,
        }
    }

    /// Work was found: start spinning again next time.
    #[inline]
    pub fn reset(&mut self) {
        self.spins = 0;
    }

    /// Nothing to do this round.
    #[inline]
    pub fn idle(&mut self) {
        if self.spins < self.spin_limit {
            self.spins += 1;
            hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_is_detected_modulo_core_count() {
        let m = CoreMap {
            feed: 0,
            engine: 1,
            signer: 2,
        };
        assert!(!stages_share_cores(&m, 4));
        assert!(stages_share_cores(&m, 2));
        assert!(stages_share_cores(&m, 1));
    }

    #[test]
    fn stages_on_one_core_both_progress() {
        // Two threads pinned to the same core ping-pong through rings with `Idle::new(0)`.
        // If an idle stage spun without yielding, each round would wait for a scheduler tick and
        // this would take minutes; with yielding it completes promptly. (No timing assertion:
        // a livelock shows up as a hung test.) Both sides run on spawned threads so the test
        // harness thread is never pinned.
        let (mut p1, mut c1) = rtrb::RingBuffer::<u32>::new(4);
        let (mut p2, mut c2) = rtrb::RingBuffer::<u32>::new(4);
        let rounds = 2_000u32;
        let echo = thread::spawn(move || {
            pin_current("test-echo", Some(0));
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
        });
        let driver = thread::spawn(move || {
            pin_current("test-driver", Some(0));
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
            rounds
        });
        assert_eq!(driver.join().unwrap(), rounds);
        echo.join().unwrap();
    }
}
