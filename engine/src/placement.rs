//! Where the hot path runs: which threads, on which CPUs, how they wait, and what became of it.
//!
//! A [`Plan`] is made once at start from the config and the machine's CPU facts (online and
//! isolated CPUs from sysfs); the pipeline spawns its threads by it, each thread pins itself and
//! records where it landed, and the [`Placement`] that comes back with the run's outcome says it
//! in words, failures included. Nothing is silently misplaced: a configured CPU that does not
//! exist leaves that thread unpinned with a warning (or stops the start with `[cores] strict`),
//! a failed pin is in the summary, and hot threads sharing a CPU are warned about loudly.

use std::{
    fmt,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use serde::Deserialize;

use crate::config::{CoreMap, MemoryConfig, PipelineConfig};

/// How the hot path is laid out on threads (`[pipeline] mode`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One pinned thread per stage (feed I/O + decode, engine, signer), SPSC rings between.
    #[default]
    Pipelined,
    /// One pinned thread runs read → decode → update → search → sign → write to completion.
    Fused,
}

impl Mode {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pipelined => "pipelined",
            Self::Fused => "fused",
        }
    }
}

/// What a thread does while it has nothing to do (`[pipeline] wait`, per stage overrides).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WaitPolicy {
    /// Spin on the CPU for ever: the lowest wake-up latency, a whole CPU burnt while idle.
    Spin,
    /// Spin `spin_before_yield` empty polls, then yield the CPU on each further one.
    #[default]
    SpinYield,
    /// Spin, yield a little, then sleep with a growing pause up to `park_max_us`: an idle
    /// engine on a shared host costs almost nothing, at the price of up to that pause in
    /// wake-up latency.
    Park,
}

impl WaitPolicy {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spin => "spin",
            Self::SpinYield => "spin-yield",
            Self::Park => "park",
        }
    }
}

/// A thread's waiting, resolved for where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The policy.
    pub policy: WaitPolicy,
    /// Empty polls spun before yielding or parking (0 when the CPU is shared: spinning would
    /// only burn the time slice the other thread needs).
    pub spins: u32,
    /// Longest sleep of [`WaitPolicy::Park`], ns.
    pub park_max_ns: u64,
}

/// Online and isolated CPUs (OS CPU numbers, as `taskset`, `isolcpus` and `/proc/cpuinfo` name
/// them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuFacts {
    /// Online CPUs.
    pub online: Vec<usize>,
    /// CPUs the kernel isolated from the scheduler (`isolcpus=`), a subset of `online`.
    pub isolated: Vec<usize>,
}

impl CpuFacts {
    /// Reads `/sys/devices/system/cpu/{online,isolated}`; without sysfs, the CPUs this process
    /// may run on and none isolated.
    pub fn read() -> Self {
        let read = |name: &str| {
            std::fs::read_to_string(format!("/sys/devices/system/cpu/{name}"))
                .ok()
                .and_then(|s| parse_cpu_list(&s).ok())
        };
        let online = read("online").filter(|v| !v.is_empty()).unwrap_or_else(|| {
            core_affinity::get_core_ids()
                .map(|ids| ids.into_iter().map(|c| c.id).collect())
                .unwrap_or_else(|| vec![0])
        });
        let isolated = read("isolated")
            .unwrap_or_default()
            .into_iter()
            .filter(|c| online.contains(c))
            .collect();
        Self { online, isolated }
    }
}

/// Why a CPU list (`0-3,8,10-11`, the kernel's format) is unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuListError(pub String);

impl fmt::Display for CpuListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a CPU list: {:?}", self.0)
    }
}

impl std::error::Error for CpuListError {}

/// Most CPUs a list may name: far above any machine, low enough that a hostile range cannot
/// make us allocate much.
const MAX_CPUS: usize = 1 << 14;

/// Parses the kernel's CPU list format (`""`, `"3"`, `"0-3,8,10-11"`), sorted and deduplicated.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, CpuListError> {
    let bad = || CpuListError(s.trim().chars().take(64).collect());
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= MAX_CPUS {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats CPUs as the kernel does (`0-3,8`).
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if cpus[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{}", cpus[i]));
        }
        i += 1;
    }
    out
}

/// Where the CPUs of a plan came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `[cores]` in the config.
    Config,
    /// No `[cores]`: the kernel's isolated CPUs.
    Isolated,
    /// No `[cores]` and nothing isolated: the OS places the threads.
    Unpinned,
}

/// One hot thread of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The thread's stage name (`feed`, `engine`, `signer`, or `fused`).
    pub stage: &'static str,
    /// The CPU it is to pin to; `None`: unpinned.
    pub cpu: Option<usize>,
    /// The CPU the config asked for when it does not exist (the thread then runs unpinned).
    pub missing: Option<usize>,
    /// How it waits.
    pub wait: Wait,
}

/// The threads of a run and their CPUs, before they start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Pipelined or fused.
    pub mode: Mode,
    /// The hot threads: feed, engine, signer (pipelined) or the one fused thread.
    pub hot: Vec<Slot>,
    /// The CPU of housekeeping threads (the nonce-coupon mint); `None`: unpinned.
    pub housekeeping: Option<usize>,
    /// Where the CPUs came from.
    pub source: Source,
    /// A failed pin stops the run (`[cores] strict`).
    pub strict: bool,
    /// What the plan could not give as asked, in words (also logged as warnings at start).
    pub warnings: Vec<String>,
    /// `[memory]`.
    pub memory: MemoryConfig,
}

impl Plan {
    /// Plans the threads of a run from the config and the machine.
    pub fn new(
        cores: Option<&CoreMap>,
        pipeline: &PipelineConfig,
        memory: MemoryConfig,
        facts: &CpuFacts,
    ) -> Self {
        let mode = pipeline.mode;
        let stages: &[&'static str] = match mode {
            Mode::Pipelined => &["feed", "engine", "signer"],
            Mode::Fused => &["fused"],
        };
        let mut warnings = Vec::new();
        let exists = |cpu: usize| facts.online.contains(&cpu);
        let online = format_cpu_list(&facts.online);
        let (source, wanted, housekeeping): (Source, Vec<Option<usize>>, Option<usize>) =
            match cores {
                Some(map) => {
                    let wanted = match mode {
                        Mode::Pipelined => vec![map.feed, map.engine, map.signer],
                        Mode::Fused => vec![map.fused.unwrap_or(map.feed)],
                    };
                    let housekeeping = match map.housekeeping {
                        Some(h) if exists(h) => Some(h),
                        Some(h) => {
                            warnings.push(format!(
                                "[cores] housekeeping = {h}: no such CPU (online: {online}); \
                                 housekeeping threads run unpinned"
                            ));
                            None
                        }
                        None => facts.online.iter().copied().find(|c| !wanted.contains(c)),
                    };
                    (
                        Source::Config,
                        wanted.into_iter().map(Some).collect(),
                        housekeeping,
                    )
                }
                None if !facts.isolated.is_empty() => {
                    let iso = &facts.isolated;
                    let wanted = (0..stages.len())
                        .map(|i| Some(iso[i % iso.len()]))
                        .collect();
                    let housekeeping = facts.online.iter().copied().find(|c| !iso.contains(c));
                    (Source::Isolated, wanted, housekeeping)
                }
                None => (Source::Unpinned, vec![None; stages.len()], None),
            };
        let mut hot: Vec<Slot> = stages
            .iter()
            .zip(&wanted)
            .map(|(&stage, &want)| {
                let (cpu, missing) = match want {
                    Some(c) if exists(c) => (Some(c), None),
                    Some(c) => {
                        warnings.push(format!(
                            "[cores] {stage} = {c}: no such CPU (online: {online}); the {stage} \
                             thread runs unpinned"
                        ));
                        (None, Some(c))
                    }
                    None => (None, None),
                };
                let policy = pipeline.wait_of(stage);
                Slot {
                    stage,
                    cpu,
                    missing,
                    wait: Wait {
                        policy,
                        spins: pipeline.spin_before_yield,
                        park_max_ns: u64::from(pipeline.park_max_us) * 1_000,
                    },
                }
            })
            .collect();
        // Hot threads sharing a CPU: each must give the CPU up at once when idle, or the other
        // waits out a whole time slice.
        for i in 0..hot.len() {
            let Some(cpu) = hot[i].cpu else { continue };
            let with: Vec<&str> = hot
                .iter()
                .enumerate()
                .filter(|&(j, s)| j != i && s.cpu == Some(cpu))
                .map(|(_, s)| s.stage)
                .collect();
            if with.is_empty() {
                continue;
            }
            if hot[i].wait.policy == WaitPolicy::Spin {
                hot[i].wait.policy = WaitPolicy::SpinYield;
            }
            hot[i].wait.spins = 0;
            if with
                .iter()
                .all(|w| stages.iter().position(|s| s == w) > Some(i))
            {
                warnings.push(format!(
                    "hot stages share CPU {cpu} ({} and {}): they yield it to each other when \
                     idle instead of spinning, and latency suffers; give each its own CPU",
                    hot[i].stage,
                    with.join(" and ")
                ));
            }
        }
        if let Some(h) = housekeeping {
            if let Some(s) = hot.iter().find(|s| s.cpu == Some(h)) {
                warnings.push(format!(
                    "housekeeping threads (the coupon mint) share CPU {h} with the {} stage",
                    s.stage
                ));
            }
        } else if source != Source::Unpinned {
            warnings.push(
                "every CPU runs a hot stage: housekeeping threads (the coupon mint) run \
                 unpinned among them (add a CPU or set [cores] housekeeping)"
                    .to_owned(),
            );
        }
        Self {
            mode,
            hot,
            housekeeping,
            source,
            strict: cores.is_some_and(|c| c.strict),
            warnings,
            memory,
        }
    }

    /// The slot of `stage`.
    pub fn slot(&self, stage: &str) -> Option<&Slot> {
        self.hot.iter().find(|s| s.stage == stage)
    }

    /// Logs the plan's warnings (once, at start).
    pub fn log_warnings(&self) {
        for w in &self.warnings {
            tracing::warn!("placement: {w}");
        }
    }

    /// Whether the plan itself already fails `[cores] strict` (a configured CPU is missing);
    /// the reason in words.
    pub fn strict_failure(&self) -> Option<String> {
        if !self.strict {
            return None;
        }
        self.hot
            .iter()
            .find_map(|s| s.missing.map(|c| (s.stage, c)))
            .map(|(stage, c)| format!("[cores] strict: the {stage} stage's CPU {c} does not exist"))
    }
}

/// Where a thread ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// Pinned to this CPU.
    Core(usize),
    /// Not pinned: the plan gave it no CPU.
    Unpinned,
    /// Pinning to this CPU was asked for and failed; the thread runs wherever the OS puts it.
    Failed(usize),
}

/// CPUs a `cpu_set_t` holds (`CPU_SETSIZE`).
const CPU_SET_SIZE: usize = 1_024;

/// Pins the calling thread to `cpu` (an OS CPU number). Returns what happened; logs it either way
/// (a failure as a warning with the reason).
pub fn pin_current(stage: &'static str, cpu: Option<usize>) -> Pinned {
    let Some(id) = cpu else {
        tracing::debug!(stage, "not pinned");
        return Pinned::Unpinned;
    };
    // libc's CPU_SET panics past its 1,024-CPU set (`CPU_SETSIZE`): such a CPU cannot be pinned
    // to this way, and is a failed pin rather than a crash.
    if id < CPU_SET_SIZE && core_affinity::set_for_current(core_affinity::CoreId { id }) {
        tracing::info!(stage, cpu = id, "pinned");
        Pinned::Core(id)
    } else {
        tracing::warn!(
            stage,
            cpu = id,
            "sched_setaffinity failed (a cpuset or container may forbid this CPU); thread NOT \
             pinned"
        );
        Pinned::Failed(id)
    }
}

/// Where each thread landed, written by the threads as they start.
#[derive(Debug, Default)]
pub struct PinBoard {
    landed: Mutex<Vec<(&'static str, Pinned)>>,
    failed: AtomicBool,
}

impl PinBoard {
    /// Pins the calling thread by `cpu` and records the result under `stage`.
    pub fn pin(&self, stage: &'static str, cpu: Option<usize>) -> Pinned {
        let p = pin_current(stage, cpu);
        if matches!(p, Pinned::Failed(_)) {
            self.failed.store(true, Ordering::Release);
        }
        // A poisoned lock only means another thread panicked while recording; the list is
        // still whole (push cannot half-happen).
        self.landed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((stage, p));
        p
    }

    /// Whether a pin failed so far.
    pub fn any_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// How many threads recorded.
    pub fn recorded(&self) -> usize {
        self.landed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// What was recorded.
    pub fn landed(&self) -> Vec<(&'static str, Pinned)> {
        self.landed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What `[memory]` achieved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MemoryLock {
    /// `lock` was off.
    #[default]
    Off,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)` took: no page of the process is swapped out or
    /// faulted in on the hot path.
    Locked,
    /// `mlockall` failed; the run goes on unlocked.
    Failed(String),
}

/// Locks the process's memory if `[memory] lock` asks for it (before the stage threads start,
/// so their stacks are locked too, MCL_FUTURE). A failure is a warning and the run goes on.
pub fn lock_memory(memory: &MemoryConfig) -> MemoryLock {
    if !memory.lock {
        return MemoryLock::Off;
    }
    match rustix::mm::mlockall(
        rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE,
    ) {
        Ok(()) => {
            tracing::info!("memory locked (mlockall)");
            MemoryLock::Locked
        }
        Err(e) => {
            let why = format!(
                "mlockall failed: {e} (raise the memlock limit: `ulimit -l unlimited`, \
                 LimitMEMLOCK=infinity as in tuning/polyarb.service, or CAP_IPC_LOCK)"
            );
            tracing::warn!("{why}; running with memory unlocked");
            MemoryLock::Failed(why)
        }
    }
}

/// What `[memory] huge_pages` achieved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HugePages {
    /// `huge_pages` was off.
    #[default]
    Off,
    /// The anonymous memory was marked `MADV_HUGEPAGE` and collapsed.
    Advised {
        /// Whole huge-page stretches marked.
        regions: u32,
        /// Of them, those `MADV_COLLAPSE` moved into huge pages at once.
        collapsed: u32,
        /// The first refusal (a stretch the kernel could not collapse: only a missed
        /// speed-up), if any.
        first_error: Option<String>,
    },
    /// Not possible here; the run goes on with normal pages.
    Refused(String),
}

/// Marks the process's anonymous memory for huge pages and collapses it, if `[memory]
/// huge_pages` asks for it: after the tables and rings are built, before the stage threads
/// run (nothing is allocated after the warm-up). A kernel that offers no huge pages is a
/// warning, and the run goes on.
pub fn advise_huge_pages(memory: &MemoryConfig) -> HugePages {
    use polyarb_hugepages::{ThpMode, advise_anonymous};
    if !memory.huge_pages {
        return HugePages::Off;
    }
    let refuse = |why: String| {
        tracing::warn!("{why}; running with normal pages");
        HugePages::Refused(why)
    };
    let mode = ThpMode::read();
    if matches!(mode, ThpMode::Never | ThpMode::Unavailable) {
        return refuse(format!(
            "huge pages: the kernel's transparent huge pages are {} \
             (/sys/kernel/mm/transparent_hugepage/enabled; tuning/apply.sh sets madvise)",
            mode.as_str()
        ));
    }
    match advise_anonymous(true) {
        Ok(done) => {
            tracing::info!(
                regions = done.regions,
                collapsed = done.collapsed,
                "anonymous memory marked for huge pages"
            );
            HugePages::Advised {
                regions: done.regions,
                collapsed: done.collapsed,
                first_error: done.first_error,
            }
        }
        Err(e) => refuse(format!("huge pages: cannot read /proc/self/maps: {e}")),
    }
}

/// Touches `kb` KiB of the calling thread's stack (16 KiB at a time), so the pages the hot path
/// will use are faulted in before the first frame, not on it.
pub fn prefault_stack(kb: u32) {
    if kb >= 16 {
        touch_stack(kb / 16);
    }
}

#[inline(never)]
fn touch_stack(chunks: u32) {
    let mut page = [0u8; 16 * 1024];
    std::hint::black_box(&mut page);
    if chunks > 1 {
        touch_stack(chunks - 1);
    }
    std::hint::black_box(&page);
}

/// The placement of a finished run: the plan and where each thread landed.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The plan.
    pub plan: Plan,
    /// Where each hot thread landed, in start order.
    pub landed: Vec<(&'static str, Pinned)>,
    /// Where the coupon mint landed, if there is one.
    pub housekeeping: Option<Pinned>,
    /// What `[memory] lock` achieved.
    pub memory: MemoryLock,
    /// What `[memory] huge_pages` achieved.
    pub huge_pages: HugePages,
    /// The process's anonymous memory and its share on huge pages at the end of the run (the
    /// kernel's accounting; `None` where it cannot be read).
    pub usage: Option<polyarb_hugepages::Usage>,
}

impl Placement {
    /// Whether any thread asked for a CPU and did not get it (a missing CPU or a failed pin).
    pub fn any_failed(&self) -> bool {
        self.plan.hot.iter().any(|s| s.missing.is_some())
            || self
                .landed
                .iter()
                .chain(self.housekeeping.as_ref().map(|p| ("coupons", *p)).iter())
                .any(|(_, p)| matches!(p, Pinned::Failed(_)))
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.plan;
        let source = match p.source {
            Source::Config => "CPUs from [cores]",
            Source::Isolated => "on the kernel's isolated CPUs",
            Source::Unpinned => "unpinned: no [cores] and no isolated CPUs",
        };
        write!(f, "placement: {} ({source});", p.mode.as_str())?;
        for slot in &p.hot {
            let landed = self
                .landed
                .iter()
                .find(|(s, _)| *s == slot.stage)
                .map(|&(_, p)| p);
            let at = match (landed, slot.missing) {
                (_, Some(c)) => format!("NOT pinned (CPU {c} does not exist)"),
                (Some(Pinned::Core(c)), _) => format!("on CPU {c}"),
                (Some(Pinned::Failed(c)), _) => format!("NOT pinned (pinning to CPU {c} failed)"),
                (Some(Pinned::Unpinned), _) | (None, None) => "unpinned".to_owned(),
            };
            let wait = if slot.wait.policy == WaitPolicy::Spin || slot.wait.spins == 0 {
                slot.wait.policy.as_str().to_owned()
            } else {
                format!("{}, {} spins", slot.wait.policy.as_str(), slot.wait.spins)
            };
            write!(f, " {} {at} ({wait});", slot.stage)?;
        }
        match self.housekeeping {
            Some(Pinned::Core(c)) => write!(f, " coupon mint on CPU {c};")?,
            Some(Pinned::Failed(c)) => {
                write!(f, " coupon mint NOT pinned (pinning to CPU {c} failed);")?;
            }
            Some(Pinned::Unpinned) => write!(f, " coupon mint unpinned;")?,
            None => {}
        }
        match &self.memory {
            MemoryLock::Off => write!(f, " memory not locked"),
            MemoryLock::Locked => write!(f, " memory locked"),
            MemoryLock::Failed(why) => write!(f, " memory NOT locked ({why})"),
        }?;
        match &self.huge_pages {
            HugePages::Off => write!(f, "; huge pages off")?,
            HugePages::Advised {
                regions,
                collapsed,
                first_error,
            } => {
                write!(
                    f,
                    "; huge pages: {regions} stretches marked, {collapsed} collapsed"
                )?;
                if let Some(e) = first_error {
                    write!(f, " (first refusal: {e})")?;
                }
            }
            HugePages::Refused(why) => write!(f, "; huge pages NOT used ({why})")?,
        }
        match self.usage {
            Some(u) => write!(f, ", {u}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(online: &str, isolated: &str) -> CpuFacts {
        CpuFacts {
            online: parse_cpu_list(online).unwrap(),
            isolated: parse_cpu_list(isolated).unwrap(),
        }
    }

    fn map(feed: usize, engine: usize, signer: usize) -> CoreMap {
        CoreMap {
            feed,
            engine,
            signer,
            fused: None,
            housekeeping: None,
            strict: false,
        }
    }

    fn cpus(plan: &Plan) -> Vec<Option<usize>> {
        plan.hot.iter().map(|s| s.cpu).collect()
    }

    #[test]
    fn cpu_lists_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("3\n").unwrap(), vec![3]);
        assert_eq!(
            parse_cpu_list("0-3,8,10-11").unwrap(),
            vec![0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_cpu_list("2,1,2").unwrap(), vec![1, 2]);
        for bad in ["a", "1-", "3-1", "-1", "1,,x", "0-99999999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn without_cores_the_hot_stages_take_the_isolated_cpus() {
        let p = Plan::new(
            None,
            &PipelineConfig::default(),
            MemoryConfig::default(),
            &facts("0-7", "4-6"),
        );
        assert_eq!(p.source, Source::Isolated);
        assert_eq!(cpus(&p), vec![Some(4), Some(5), Some(6)]);
        assert_eq!(
            p.housekeeping,
            Some(0),
            "housekeeping off the isolated CPUs"
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);

        // Two isolated CPUs for three stages: two share, loudly, and yield at once.
        let p = Plan::new(
            None,
            &PipelineConfig::default(),
            MemoryConfig::default(),
            &facts("0-3", "2-3"),
        );
        assert_eq!(cpus(&p), vec![Some(2), Some(3), Some(2)]);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("share CPU 2 (feed and signer)"));
        assert_eq!(p.slot("feed").unwrap().wait.spins, 0);
        assert_eq!(p.slot("engine").unwrap().wait.spins, 1_000);

        // Fused: one thread, on the first isolated CPU.
        let fused = PipelineConfig {
            mode: Mode::Fused,
            ..PipelineConfig::default()
        };
        let p = Plan::new(None, &fused, MemoryConfig::default(), &facts("0-3", "2-3"));
        assert_eq!(p.hot.len(), 1);
        assert_eq!((p.hot[0].stage, p.hot[0].cpu), ("fused", Some(2)));

        // Nothing isolated, no [cores]: unpinned, nothing to warn about.
        let p = Plan::new(
            None,
            &PipelineConfig::default(),
            MemoryConfig::default(),
            &facts("0-1", ""),
        );
        assert_eq!((p.source, cpus(&p)), (Source::Unpinned, vec![None; 3]));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn a_missing_cpu_runs_unpinned_and_is_said() {
        let p = Plan::new(
            Some(&map(0, 1, 9)),
            &PipelineConfig::default(),
            MemoryConfig::default(),
            &facts("0-1", ""),
        );
        assert_eq!(cpus(&p), vec![Some(0), Some(1), None]);
        assert_eq!(p.slot("signer").unwrap().missing, Some(9));
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("[cores] signer = 9: no such CPU (online: 0-1)")),
            "{:?}",
            p.warnings
        );
        assert_eq!(p.strict_failure(), None, "not strict");
        let strict = CoreMap {
            strict: true,
            ..map(0, 1, 9)
        };
        let p = Plan::new(
            Some(&strict),
            &PipelineConfig::default(),
            MemoryConfig::default(),
            &facts("0-1", ""),
        );
        assert_eq!(
            p.strict_failure().as_deref(),
            Some("[cores] strict: the signer stage's CPU 9 does not exist")
        );
        let placement = Placement {
            plan: p,
            landed: vec![
                ("feed", Pinned::Core(0)),
                ("engine", Pinned::Core(1)),
                ("signer", Pinned::Unpinned),
            ],
            housekeeping: None,
            memory: MemoryLock::Off,
            huge_pages: HugePages::Off,
            usage: None,
        };
        assert!(placement.any_failed());
        assert!(
            placement
                .to_string()
                .contains("signer NOT pinned (CPU 9 does not exist)"),
            "{placement}"
        );
    }

    #[test]
    fn housekeeping_takes_a_cpu_no_hot_stage_uses() {
        let cfg = PipelineConfig::default();
        let mem = MemoryConfig::default();
        let p = Plan::new(Some(&map(0, 1, 1)), &cfg, mem, &facts("0-3", ""));
        assert_eq!(p.housekeeping, Some(2));
        let p = Plan::new(Some(&map(2, 3, 3)), &cfg, mem, &facts("0-3", ""));
        assert_eq!(p.housekeeping, Some(0));
        // Every CPU runs a stage: unpinned, warned.
        let p = Plan::new(Some(&map(0, 1, 1)), &cfg, mem, &facts("0-1", ""));
        assert_eq!(p.housekeeping, None);
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("every CPU runs a hot stage"))
        );
        // Configured on a stage's CPU: kept, warned.
        let m = CoreMap {
            housekeeping: Some(1),
            ..map(0, 1, 1)
        };
        let p = Plan::new(Some(&m), &cfg, mem, &facts("0-1", ""));
        assert_eq!(p.housekeeping, Some(1));
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("share CPU 1 with the engine stage")),
            "{:?}",
            p.warnings
        );
        // Fused frees the other stages' CPUs for housekeeping.
        let fused = PipelineConfig {
            mode: Mode::Fused,
            ..cfg
        };
        let p = Plan::new(Some(&map(1, 0, 0)), &fused, mem, &facts("0-1", ""));
        assert_eq!((cpus(&p), p.housekeeping), (vec![Some(1)], Some(0)));
    }

    #[test]
    fn a_cpu_past_the_cpu_set_or_offline_is_a_failed_pin_not_a_crash() {
        // A CPU inside a cpu_set_t that is not online here, and one past the set.
        let offline = (0..CPU_SET_SIZE)
            .find(|c| !CpuFacts::read().online.contains(c))
            .expect("a machine with fewer than 1,024 CPUs");
        // Pinned on a spawned thread, so the test harness's own thread is never moved.
        let pins = std::thread::spawn(move || {
            [
                pin_current("test", Some(4_095)),
                pin_current("test", Some(offline)),
            ]
        })
        .join()
        .expect("no panic");
        assert_eq!(pins, [Pinned::Failed(4_095), Pinned::Failed(offline)]);
    }

    #[test]
    fn spin_on_a_shared_cpu_becomes_yield_at_once() {
        let cfg = PipelineConfig {
            wait: WaitPolicy::Spin,
            signer_wait: Some(WaitPolicy::Park),
            ..PipelineConfig::default()
        };
        let p = Plan::new(
            Some(&map(0, 1, 1)),
            &cfg,
            MemoryConfig::default(),
            &facts("0-1", ""),
        );
        let w = |s| p.slot(s).unwrap().wait;
        assert_eq!(
            (w("feed").policy, w("feed").spins),
            (WaitPolicy::Spin, 1_000)
        );
        assert_eq!(
            (w("engine").policy, w("engine").spins),
            (WaitPolicy::SpinYield, 0)
        );
        assert_eq!(
            (w("signer").policy, w("signer").spins),
            (WaitPolicy::Park, 0)
        );
    }
}
