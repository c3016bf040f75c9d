//! Thread placement end to end, through the replay of the shipped sample: the fused mode finds and
//! signs exactly what the pipelined one does (the pipelined replay is the oracle), wait policies
//! change nothing but waiting, and what could not be placed as asked is in the run's outcome.

use std::path::PathBuf;

use polyarb_engine::{
    app::{
        AppError,
        replay::{ReplayArgs, ReplaySummary, replay},
    },
    placement::{HugePages, MemoryLock, Mode, Pinned},
};

use crate::replay::{sample, sample_run, scratch, untimed_reports};

/// The sample's config with `extra` appended (a section the sample does not have) or `[cores]`
/// replaced by `cores`.
fn config_with(name: &str, cores: Option<&str>, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(sample("toml")).unwrap();
    let (head, _) = text
        .split_once("[cores]")
        .expect("the sample pins its stages");
    let cores = cores.unwrap_or("[cores]\nfeed = 0\nengine = 1\nsigner = 1\n");
    let path = scratch(name).join("polyarb.toml");
    std::fs::write(&path, format!("{head}{cores}\n{extra}\n")).unwrap();
    path
}

/// The sample's recording and snapshot with `config`, as fast as possible, no output files.
pub(crate) fn sample_args(config: PathBuf) -> ReplayArgs {
    ReplayArgs {
        recording: sample("rec"),
        snapshot: sample("snapshot.json"),
        config,
        opportunities: None,
        txs: None,
        speed: 0.0,
        rfc6979: false,
        journal: None,
    }
}

fn replay_config(config: PathBuf) -> Result<ReplaySummary, AppError> {
    replay(&sample_args(config))
}

/// Fails unless `s` found, signed and digested exactly what the pipelined sample run did.
fn assert_same_as_pipelined(s: &ReplaySummary, what: &str) {
    let (oracle, _) = sample_run();
    assert_eq!(
        untimed_reports(&s.reports),
        untimed_reports(&oracle.reports),
        "{what}: other opportunities"
    );
    assert_eq!(
        s.outcome.port.digest(),
        oracle.digest,
        "{what}: other bytes signed"
    );
    assert_eq!(
        s.outcome.engine, oracle.engine,
        "{what}: other engine counters"
    );
    assert_eq!(s.outcome.signer.signed, oracle.signer.signed, "{what}");
    assert_eq!(s.outcome.feed.submitted, oracle.feed.submitted, "{what}");
    assert_eq!(s.outcome.signer.reports_dropped, 0, "{what}");
}

#[test]
fn a_fused_replay_finds_and_signs_exactly_what_the_pipelined_one_does() {
    let s = replay_config(config_with("fused", None, "[pipeline]\nmode = \"fused\"\n")).unwrap();
    assert_same_as_pipelined(&s, "fused");
    let p = &s.outcome.placement;
    assert_eq!(p.plan.mode, Mode::Fused);
    // One hot thread, on `feed`'s CPU (no `fused` key), which exists on any machine.
    assert_eq!(p.landed.len(), 1, "{p}");
    assert_eq!(p.landed[0], ("fused", Pinned::Core(0)), "{p}");
    // Both latencies are measured in fused mode too.
    assert!(s.outcome.latency.detection.count() > 0);
    assert_eq!(
        s.outcome.latency.submission.count(),
        s.outcome.feed.submitted
    );
    let text = s.to_string();
    assert!(
        text.contains("placement: fused (CPUs from [cores]); fused on CPU 0"),
        "{text}"
    );
}

#[test]
fn each_wait_policy_replays_the_same() {
    for (name, extra) in [
        ("park", "[pipeline]\nwait = \"park\"\npark_max_us = 200\n"),
        (
            "spin",
            "[pipeline]\nwait = \"spin\"\nengine_wait = \"park\"\n",
        ),
        (
            "fused-park",
            "[pipeline]\nmode = \"fused\"\nwait = \"park\"\n",
        ),
    ] {
        let s = replay_config(config_with(name, None, extra)).unwrap();
        assert_same_as_pipelined(&s, name);
    }
}

#[test]
fn a_cpu_that_does_not_exist_is_in_the_outcome_and_strict_refuses_it() {
    let cores = "[cores]\nfeed = 0\nengine = 1\nsigner = 4095\n";
    let s = replay_config(config_with("missing-cpu", Some(cores), "")).unwrap();
    // The run works, unpinned where it could not pin, and says so.
    assert_same_as_pipelined(&s, "missing CPU");
    let p = &s.outcome.placement;
    assert!(p.any_failed(), "{p}");
    assert!(
        p.landed.contains(&("signer", Pinned::Unpinned)),
        "{:?}",
        p.landed
    );
    let text = s.to_string();
    assert!(
        text.contains("signer NOT pinned (CPU 4095 does not exist)"),
        "{text}"
    );

    let strict = "[cores]\nfeed = 0\nengine = 1\nsigner = 4095\nstrict = true\n";
    let Err(e) = replay_config(config_with("missing-cpu-strict", Some(strict), "")) else {
        panic!("strict refuses a CPU that does not exist");
    };
    assert!(matches!(e, AppError::Placement(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "placement: [cores] strict: the signer stage's CPU 4095 does not exist"
    );
}

#[test]
fn locking_memory_is_reported_whether_or_not_it_took() {
    let s = replay_config(config_with("mlock", None, "[memory]\nlock = true\n")).unwrap();
    assert_same_as_pipelined(&s, "mlock");
    let text = s.to_string();
    match &s.outcome.placement.memory {
        MemoryLock::Locked => assert!(text.contains("; memory locked"), "{text}"),
        MemoryLock::Failed(why) => {
            assert!(why.starts_with("mlockall failed"), "{why}");
            assert!(
                text.contains("memory NOT locked (mlockall failed"),
                "{text}"
            );
        }
        MemoryLock::Off => panic!("[memory] lock = true was not tried"),
    }
}

/// `[memory] huge_pages`: the replay is unchanged, the summary says what was marked and how much
/// memory ended on huge pages, and the kernel's own accounting agrees: where its mode offers
/// huge pages only to marked memory (`madvise`), this process has some after the run (nothing
/// else in it marks memory); where it offers none, the run says so and goes on.
#[test]
fn huge_pages_are_marked_and_reported() {
    let s = replay_config(config_with("huge", None, "[memory]\nhuge_pages = true\n")).unwrap();
    assert_same_as_pipelined(&s, "huge pages");
    let text = s.to_string();
    let usage = s.outcome.placement.usage.expect("smaps_rollup read");
    assert!(
        text.contains(&format!(", {usage}")),
        "the summary shows the usage: {text}"
    );
    let mode = polyarb_hugepages::ThpMode::read();
    match (&s.outcome.placement.huge_pages, mode) {
        (HugePages::Advised { regions, .. }, polyarb_hugepages::ThpMode::Madvise) => {
            assert!(*regions > 0, "{text}");
            assert!(text.contains(&format!("huge pages: {regions} stretches marked")));
            let now = polyarb_hugepages::Usage::read().unwrap();
            assert!(
                now.huge_kib > 0 && usage.huge_kib > 0,
                "no anonymous huge page after marking: {now:?}, {text}"
            );
        }
        (HugePages::Advised { .. }, polyarb_hugepages::ThpMode::Always) => {}
        (
            HugePages::Refused(why),
            polyarb_hugepages::ThpMode::Never | polyarb_hugepages::ThpMode::Unavailable,
        ) => {
            assert!(
                text.contains("huge pages NOT used (huge pages: the kernel's"),
                "{why}"
            );
        }
        (h, m) => panic!("huge pages {h:?} with THP {}", m.as_str()),
    }
    // Off by default, and said.
    let off = replay_config(config_with("huge-off", None, "")).unwrap();
    assert_eq!(off.outcome.placement.huge_pages, HugePages::Off);
    assert!(off.to_string().contains("; huge pages off"));
}

/// A route the risk gate refuses is handed back to the engine as dropped, in both modes: every
/// refusal reaches the writer as a marker (none is written), and the engine stops holding the
/// pools those routes would have moved ("released as their transaction will not land"), where
/// it held them until they expired before. Paced, so the words arrive while the run goes on.
#[test]
fn routes_not_signed_release_their_holds() {
    for mode in ["pipelined", "fused"] {
        let config = config_with(
            &format!("not-signed-{mode}"),
            None,
            &format!("[pipeline]\nmode = \"{mode}\"\n[risk.max_input]\nWMATIC = \"100\"\n"),
        );
        let mut args = sample_args(config);
        args.speed = 4.0;
        let s = replay(&args).unwrap();
        let refused: u64 = s.refused.iter().map(|r| r.1).sum();
        assert!(refused > 100, "{mode}: {refused} refused");
        assert_eq!(s.outcome.feed.not_signed, refused, "{mode}");
        // Nothing refused was written.
        assert_eq!(
            s.outcome.port.txs, s.outcome.signer.signed,
            "{mode}: only signed transactions reach the sink"
        );
        assert!(
            s.outcome.engine.holds_dropped > 0,
            "{mode}: no hold was released: {:?}",
            s.outcome.engine
        );
    }
}
