//! Transparent huge pages for the process's anonymous memory, for `[memory] huge_pages`.
//!
//! The engine's tables, rings and stacks are built before the hot threads run, and nothing is
//! allocated after the warm-up (proven in `engine/tests/it/alloc.rs`). So marking the process's
//! private anonymous mappings once, at start, covers what the hot path touches. Each mapping's
//! whole 2 MiB-aligned stretches are marked `MADV_HUGEPAGE` (the kernel may then back them with
//! huge pages, which the `madvise` THP mode requires, the mode `tuning/apply.sh` sets) and, on
//! request, `MADV_COLLAPSE`d: the kernel (6.1 or later) moves their pages into huge pages at once
//! instead of leaving it to `khugepaged`. The result is read back from the kernel's own
//! accounting (`AnonHugePages` of `/proc/self/smaps_rollup`).
//!
//! This crate is the one place polyarb calls `madvise`: the system call takes a raw address
//! range, and other advice values discard memory, so every wrapper is `unsafe`. The two used
//! here only change how pages are backed, never their contents.

use std::ffi::c_void;
use std::fmt;
use std::io;

/// The kernel's transparent-huge-page mode (`/sys/kernel/mm/transparent_hugepage/enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThpMode {
    /// Every large enough anonymous mapping gets huge pages.
    Always,
    /// Only mappings marked `MADV_HUGEPAGE` do (what this crate marks).
    Madvise,
    /// None: marking does nothing.
    Never,
    /// The file is missing or unreadable (a kernel without THP, or no sysfs).
    Unavailable,
}

impl ThpMode {
    /// The kernel's mode now.
    pub fn read() -> Self {
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .map_or(Self::Unavailable, |s| Self::parse(&s))
    }

    /// The mode in `enabled`'s text: the bracketed word, as in `always [madvise] never`.
    pub fn parse(text: &str) -> Self {
        let chosen = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[')?.strip_suffix(']'));
        match chosen {
            Some("always") => Self::Always,
            Some("madvise") => Self::Madvise,
            Some("never") => Self::Never,
            _ => Self::Unavailable,
        }
    }

    /// The mode's name, as the kernel writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Madvise => "madvise",
            Self::Never => "never",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The huge page size (`hpage_pmd_size`), bytes; 2 MiB where the file cannot be read.
pub fn huge_page_size() -> usize {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|s| s.is_power_of_two())
        .unwrap_or(2 << 20)
}

/// One mapping of `/proc/self/maps` this crate marks: private, writable, anonymous (the heap,
/// malloc's arenas and large allocations, thread stacks). `None` for any other line.
fn anonymous_range(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let inode = fields.next()?;
    let name = fields.next();
    if perms != "rw-p" || inode != "0" {
        return None;
    }
    // Unnamed, the heap, or a named anonymous mapping; not the main stack (it grows down from
    // its top, and its pages are the kernel's to place) nor [vvar] and the like.
    if !matches!(name, None | Some("[heap]")) && !name.is_some_and(|n| n.starts_with("[anon:")) {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (start < end).then_some((start, end))
}

/// The whole `huge`-aligned stretch inside `[start, end)`, if there is one.
fn aligned(start: usize, end: usize, huge: usize) -> Option<(usize, usize)> {
    let lo = start.checked_add(huge - 1)? & !(huge - 1);
    let hi = end & !(huge - 1);
    (lo < hi).then_some((lo, hi))
}

/// What [`advise_anonymous`] did.
#[derive(Debug, Default)]
pub struct Advised {
    /// Stretches marked `MADV_HUGEPAGE`.
    pub regions: u32,
    /// Their bytes.
    pub bytes: u64,
    /// Stretches `MADV_COLLAPSE` moved into huge pages.
    pub collapsed: u32,
    /// Stretches it could not (memory too fragmented, pages locked or shared: each is only a
    /// missed speed-up).
    pub collapse_failed: u32,
    /// The first refusal of either call, for the operator.
    pub first_error: Option<String>,
}

/// Marks every whole huge-page stretch of the process's private anonymous mappings
/// `MADV_HUGEPAGE`, and with `collapse` also `MADV_COLLAPSE`s it. An error reading
/// `/proc/self/maps` is returned; refusals of single stretches are counted in the result (a
/// mapping may vanish between reading the list and advising it; the kernel then refuses).
pub fn advise_anonymous(collapse: bool) -> io::Result<Advised> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let huge = huge_page_size();
    let mut done = Advised::default();
    for (lo, hi) in maps
        .lines()
        .filter_map(anonymous_range)
        .filter_map(|(s, e)| aligned(s, e, huge))
    {
        let len = hi - lo;
        if let Err(e) = advise(lo, len, libc::MADV_HUGEPAGE) {
            done.first_error
                .get_or_insert_with(|| format!("madvise(MADV_HUGEPAGE): {e}"));
            continue;
        }
        done.regions += 1;
        done.bytes += len as u64;
        if collapse {
            match advise(lo, len, libc::MADV_COLLAPSE) {
                Ok(()) => done.collapsed += 1,
                Err(e) => {
                    done.collapse_failed += 1;
                    done.first_error
                        .get_or_insert_with(|| format!("madvise(MADV_COLLAPSE): {e}"));
                }
            }
        }
    }
    Ok(done)
}

/// `madvise(addr, len, advice)` for the two non-destructive advice values this crate uses.
fn advise(addr: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
    debug_assert!(advice == libc::MADV_HUGEPAGE || advice == libc::MADV_COLLAPSE);
    // SAFETY: MADV_HUGEPAGE and MADV_COLLAPSE only change which page size backs the range; they
    // never change, free or remap its contents, so no reference into it is invalidated. The
    // kernel validates the range itself (an unmapped or misaligned one is refused with an error,
    // not acted on), so a stale address from /proc/self/maps is an error, not undefined behaviour.
    let rc = unsafe { libc::madvise(addr as *mut c_void, len, advice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The process's anonymous memory and how much of it sits on huge pages, from the kernel's
/// accounting (`/proc/self/smaps_rollup`), KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// `Anonymous:`, KiB.
    pub anonymous_kib: u64,
    /// `AnonHugePages:`, KiB.
    pub huge_kib: u64,
}

impl Usage {
    /// Reads the calling process's usage.
    pub fn read() -> io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(
            "/proc/self/smaps_rollup",
        )?))
    }

    /// The two fields of an `smaps_rollup` text (absent fields read as 0).
    pub fn parse(text: &str) -> Self {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Self {
            anonymous_kib: field("Anonymous:"),
            huge_kib: field("AnonHugePages:"),
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        write!(
            f,
            "{:.1} MiB of {:.1} MiB anonymous memory on huge pages",
            mib(self.huge_kib),
            mib(self.anonymous_kib)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_texts() {
        assert_eq!(ThpMode::parse("always [madvise] never\n"), ThpMode::Madvise);
        assert_eq!(ThpMode::parse("[always] madvise never"), ThpMode::Always);
        assert_eq!(ThpMode::parse("always madvise [never]"), ThpMode::Never);
        assert_eq!(ThpMode::parse("garbage"), ThpMode::Unavailable);
        let rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 10452 kB\n\
                      Anonymous:          6068 kB\nAnonHugePages:      2048 kB\n";
        assert_eq!(
            Usage::parse(rollup),
            Usage {
                anonymous_kib: 6068,
                huge_kib: 2048
            }
        );
        assert_eq!(Usage::parse("nothing"), Usage::default());
        assert_eq!(
            Usage::parse(rollup).to_string(),
            "2.0 MiB of 5.9 MiB anonymous memory on huge pages"
        );
    }

    #[test]
    fn picks_private_anonymous_mappings_and_their_whole_huge_pages() {
        let r = anonymous_range;
        assert_eq!(
            r("7f0000000000-7f0000400000 rw-p 00000000 00:00 0 "),
            Some((0x7f00_0000_0000, 0x7f00_0040_0000))
        );
        assert!(r("55d000000000-55d000400000 rw-p 00000000 00:00 0   [heap]").is_some());
        assert!(r("7f0000000000-7f0000400000 rw-p 00000000 00:00 0 [anon:scudo]").is_some());
        // Files, shared, read-only, the stack and kernel pages: no.
        assert!(r("7f0000000000-7f0000400000 rw-p 00001000 fd:01 1234 /usr/lib/libc.so").is_none());
        assert!(r("7f0000000000-7f0000400000 rw-s 00000000 00:01 99 /dev/zero").is_none());
        assert!(r("7f0000000000-7f0000400000 r--p 00000000 00:00 0 ").is_none());
        assert!(r("7ffd00000000-7ffd00400000 rw-p 00000000 00:00 0 [stack]").is_none());
        assert!(r("not a line").is_none());
        assert!(r("zz-7f0000400000 rw-p 00000000 00:00 0").is_none());
        let huge = 2 << 20;
        assert_eq!(
            aligned(huge + 1, 4 * huge - 1, huge),
            Some((2 * huge, 3 * huge))
        );
        assert_eq!(aligned(huge + 1, 2 * huge + 5, huge), None);
        assert_eq!(aligned(usize::MAX - 3, usize::MAX, huge), None);
    }

    /// The kernel's own accounting shows huge pages on a buffer after it is advised and
    /// collapsed, where the kernel offers them (THP not `never`); the buffer's contents are
    /// unchanged.
    #[test]
    fn an_advised_buffer_lands_on_huge_pages() {
        let mode = ThpMode::read();
        let huge = huge_page_size();
        // Four huge pages' worth, touched (so there is something to collapse) with a pattern.
        let mut buf: Vec<u64> = (0..(4 * huge / 8) as u64).map(|i| i ^ 0x5a5a).collect();
        let before = buf_huge_kib(&buf);
        let done = advise_anonymous(true).unwrap();
        let after = buf_huge_kib(&buf);
        match mode {
            ThpMode::Madvise | ThpMode::Always => {
                assert!(done.regions > 0 && done.bytes > 0, "{done:?}");
                assert!(
                    after >= before + (huge as u64 / 1024),
                    "no huge page on the buffer: {before} → {after} KiB ({done:?}, THP {})",
                    mode.as_str()
                );
            }
            ThpMode::Never | ThpMode::Unavailable => assert_eq!(after, before),
        }
        assert!(buf.iter().enumerate().all(|(i, &v)| v == i as u64 ^ 0x5a5a));
        buf[0] = 1;
        assert_eq!(buf[0], 1);
    }

    /// `AnonHugePages` of the mappings `buf` spans (advising splits a mapping at the huge-page
    /// boundaries), from `/proc/self/smaps`.
    fn buf_huge_kib(buf: &[u64]) -> u64 {
        let (lo, hi) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len() * 8);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        let mut total = 0;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((s, e)) = range.split_once('-')
                && let (Ok(s), Ok(e)) = (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16))
            {
                inside = s < hi && lo < e;
            } else if inside && let Some(rest) = line.strip_prefix("AnonHugePages:") {
                total += rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap();
            }
        }
        total
    }
}
