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
    yields: u64,
}

impl Idle {
    /// A fresh strategy.
    pub fn new(spin_limit: u32) -> Self {
        Self {
            spins: 0,
            spin_limit,
            yields: 0,
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
            self.yields += 1;
            thread::yield_now();
        }
    }

    /// How many times this strategy yielded the core.
    pub fn yields(&self) -> u64 {
        self.yields
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
            housekeeping: None,
        };
        assert!(!stages_share_cores(&m, 4));
        assert!(stages_share_cores(&m, 2));
        assert!(stages_share_cores(&m, 1));
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
        let (done, finished) = std::sync::mpsc::channel();
        let tx = done.clone();
        thread::spawn(move || {
            let pinned = pin_current("test-echo", Some(0));
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
            let pinned = pin_current("test-driver", Some(0));
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
            assert_eq!(
                pinned,
                Pinned::Core(core_affinity::get_core_ids().unwrap()[0].id),
                "{who}"
            );
            assert_eq!(n, rounds, "{who}");
            assert!(yields > 0, "{who} never yielded the core while waiting");
        }
    }
}
