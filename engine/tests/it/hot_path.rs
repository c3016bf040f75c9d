//! Proof that the assembled pipeline's hot path makes no system call and emits no log event
//! after the warm-up, in both modes (the allocation half of the claim is in `alloc.rs`).
//!
//! The test runs itself again as a child process under `strace -f` (ptrace: every system call
//! of every thread, named by the kernel, not by our code). In the child, the pipeline's clock
//! marks each reading a stage thread takes after the warm-up with one system call on a path
//! nobody else uses (`statx` of `/polyarb-hot-path-mark/<thread>`, which fails with ENOENT);
//! every stage reads the clock on its hot path (the feed stage per payload, the engine per search
//! that finds routes, the signer per transaction). The parent then reads the trace: between a
//! thread's first and last mark, every other system call of that thread was made by the hot
//! path. The only one allowed is the replay port's `read` of the recording (the socket's place:
//! live, that is the websocket read the hot path starts from). A blocking lock shows here too
//! (`futex`); an uncontended one is a few atomic instructions and does not.
//!
//! The child also installs a tracing subscriber that is enabled for every level and counts the
//! events and spans a stage thread creates after the warm-up: none may be.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::alloc::{THREADS, WARM_UP_READINGS};
use crate::replay::{sample, scratch};

/// Set in the child: the pipeline mode it replays in.
const CHILD_ENV: &str = "POLYARB_HOT_PATH_CHILD";

/// The mark paths, one per thread in [`THREADS`]' order (static: building a path would allocate,
/// and an allocation may itself be a system call).
const MARKS: [&str; 4] = [
    "/polyarb-hot-path-mark/polyarb-feed",
    "/polyarb-hot-path-mark/polyarb-engine",
    "/polyarb-hot-path-mark/polyarb-signer",
    "/polyarb-hot-path-mark/polyarb-fused",
];

thread_local! {
    /// This thread is a stage thread past the warm-up.
    static WARM: Cell<bool> = const { Cell::new(false) };
}

/// Log events and spans stage threads created after the warm-up (the child's subscriber).
static LOGGED_WARM: AtomicU64 = AtomicU64::new(0);

/// A monotonic clock that marks each stage thread's readings after the warm-up (see the module
/// comment).
#[derive(Debug)]
struct MarkingClock {
    origin: std::time::Instant,
    feed_readings: AtomicU64,
    warm: AtomicBool,
    warm_at_ns: AtomicU64,
}

impl polyarb_engine::clock::Clock for MarkingClock {
    fn now_ns(&self) -> u64 {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let slot = std::thread::current()
            .name()
            .and_then(|n| THREADS.iter().position(|t| *t == n));
        if let Some(i) = slot {
            if (i == 0 || i == 3)
                && self.feed_readings.fetch_add(1, Ordering::AcqRel) == WARM_UP_READINGS
            {
                self.warm_at_ns.store(now, Ordering::Release);
                self.warm.store(true, Ordering::Release);
            }
            if self.warm.load(Ordering::Acquire) {
                WARM.with(|w| w.set(true));
                // The mark: it fails (no such path), which is the point.
                let _ = std::fs::symlink_metadata(MARKS[i]);
            }
        }
        now
    }
}

/// A subscriber enabled for everything, counting what stage threads past the warm-up create.
struct CountingSubscriber;

fn count_if_warm() {
    if WARM.with(Cell::get) {
        LOGGED_WARM.fetch_add(1, Ordering::Relaxed);
    }
}

impl tracing::Subscriber for CountingSubscriber {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        count_if_warm();
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {
        count_if_warm();
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The child: replays the sample in `mode` on the marking clock with every stage waiting by
/// spinning, unpinned. (An idle `spin-yield` or `park` thread makes system calls by design: that
/// is the price of not burning a CPU while nothing arrives, not hot-path work; and stages that
/// share a CPU, as the sample's `[cores]` has them on this 2-CPU machine kind, yield when idle.)
fn child(mode: &str) {
    tracing::subscriber::set_global_default(CountingSubscriber).unwrap();
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    // The sample's `[cores]` is its last section.
    let text = text.split("\n[cores]").next().unwrap();
    let config = scratch(&format!("hot-path-{mode}")).join("polyarb.toml");
    std::fs::write(
        &config,
        format!("{text}\n[pipeline]\nmode = \"{mode}\"\nwait = \"spin\"\n"),
    )
    .unwrap();
    let clock = Arc::new(MarkingClock {
        origin: std::time::Instant::now(),
        feed_readings: AtomicU64::new(0),
        warm: AtomicBool::new(false),
        warm_at_ns: AtomicU64::new(u64::MAX),
    });
    let s = polyarb_engine::app::replay::replay_clocked(
        &crate::placement::sample_args(config),
        Arc::clone(&clock),
    )
    .unwrap();
    crate::alloc::assert_work_after_warm_up(&s, clock.warm_at_ns.load(Ordering::Acquire), mode);
    assert_eq!(
        LOGGED_WARM.load(Ordering::Relaxed),
        0,
        "{mode}: a stage thread logged after the warm-up"
    );
}

/// One thread's part of the trace.
#[derive(Default)]
struct ThreadTrace {
    /// Which mark it made (its name), if any.
    name: Option<&'static str>,
    marks: usize,
    /// System calls after its first mark, as `(name, line)`, with the marks counted so far.
    calls: Vec<(String, String, usize)>,
}

/// The system call a strace line shows (`name(` after the pid), and whether it is the second
/// half of a call strace split in two (`<... name resumed>`, already counted at its start).
fn call_of(rest: &str) -> Option<(&str, bool)> {
    if let Some(r) = rest.strip_prefix("<... ") {
        return Some((r.split(' ').next()?, true));
    }
    let name = rest.split('(').next()?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some((name, false))
}

/// Per thread id: what the trace at `path` shows, and the recording's file descriptors.
fn read_trace(path: &Path) -> (HashMap<u32, ThreadTrace>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut threads: HashMap<u32, ThreadTrace> = HashMap::new();
    let mut recording_fds = Vec::new();
    for line in text.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.contains("sample.rec\"")
            && let Some((_, fd)) = rest.rsplit_once("= ")
        {
            recording_fds.push(fd.trim().to_owned());
        }
        let Some((call, resumed)) = call_of(rest) else {
            continue;
        };
        let t = threads.entry(pid).or_default();
        if let Some(i) = MARKS
            .iter()
            .position(|m| rest.contains(&format!("\"{m}\"")))
        {
            t.name = Some(THREADS[i]);
            t.marks += 1;
            continue;
        }
        if t.marks > 0 && !resumed {
            t.calls.push((call.to_owned(), line.to_owned(), t.marks));
        }
    }
    (threads, recording_fds)
}

#[test]
fn the_hot_path_makes_no_system_call_and_logs_nothing_after_warm_up() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        child(&mode);
        return;
    }
    let strace = "strace";
    for (mode, expected) in [
        (
            "pipelined",
            &["polyarb-feed", "polyarb-engine", "polyarb-signer"][..],
        ),
        ("fused", &["polyarb-fused"][..]),
    ] {
        let trace = scratch(&format!("hot-path-trace-{mode}")).join("strace.txt");
        let out = Command::new(strace)
            .arg("-f")
            .arg("-qq")
            .arg("-o")
            .arg(&trace)
            .arg("--")
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hot_path::the_hot_path_makes_no_system_call_and_logs_nothing_after_warm_up",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, mode)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot start {strace} (tools/toolchain/install.sh installs it): {e}")
            });
        assert!(
            out.status.success(),
            "{mode}: the traced replay failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (threads, recording_fds) = read_trace(&trace);
        assert!(
            !recording_fds.is_empty(),
            "{mode}: the trace shows no open of the recording; is it a strace trace?"
        );
        for name in expected {
            let Some(t) = threads.values().find(|t| t.name == Some(name)) else {
                panic!("{mode}: {name} made no mark after the warm-up");
            };
            assert!(
                t.marks >= 100,
                "{mode}: {name} read the clock only {} times after the warm-up",
                t.marks
            );
            // Calls between its first and last mark, less the port's reads of the recording.
            let hot: Vec<&str> = t
                .calls
                .iter()
                .filter(|(_, _, seen)| *seen < t.marks)
                .filter(|(call, line, _)| {
                    !(call == "read"
                        && recording_fds
                            .iter()
                            .any(|fd| line.contains(&format!(" read({fd}, "))))
                })
                .map(|(_, line, _)| line.as_str())
                .collect();
            assert!(
                hot.is_empty(),
                "{mode}: {name} made {} system calls on its hot path after the warm-up, the \
                 first: {:?}",
                hot.len(),
                &hot[..hot.len().min(10)]
            );
        }
    }
}
