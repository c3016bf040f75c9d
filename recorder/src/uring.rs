//! The io-uring sink: each filled buffer becomes one `IORING_OP_WRITE` at its file offset, queued
//! without a syscall and started in batches (one `io_uring_enter` per drain of the handoff ring);
//! completions are reaped and checked, a short write's rest is queued again from where it
//! stopped, and the first error is reported. At most `queue_depth` buffers are in flight; the
//! buffers are the sink's own and are reused once their write has completed.
//!
//! The only `unsafe` of the crate is here: pushing an entry that points the kernel at a buffer.

use std::{fmt, fs::File, io, os::fd::AsRawFd};

use io_uring::{IoUring, Probe, opcode, types};

use crate::{
    out::{Buf, Faults, Sink},
    recorder::RecorderError,
};

/// `user_data` of the fsync entry; writes carry their slot index.
const SYNC: u64 = u64::MAX;

/// A buffer and the write it carries.
#[derive(Debug)]
struct Slot {
    buf: Buf,
    /// File offset of `buf[0]`.
    offset: u64,
    /// Bytes of `buf` to write.
    len: usize,
    /// Bytes of them written so far.
    done: usize,
}

/// Writes through an io_uring. See the module docs.
pub(crate) struct UringSink {
    ring: IoUring,
    file: File,
    slots: Vec<Slot>,
    /// Indices of slots whose buffer the kernel is not using.
    free: Vec<usize>,
    /// Write entries queued or submitted and not yet completed.
    in_flight: usize,
    /// Completions copied out of the queue before they are handled (preallocated).
    cqes: Vec<(u64, i32)>,
    /// Write entries queued (a short write's rest counts again).
    writes: u64,
    /// Write completions seen (counts for fault injection).
    completions: u64,
    short: u64,
    /// The first failed write; reported by the next call.
    error: Option<RecorderError>,
    /// The fsync's result once it completes.
    synced: Option<i32>,
    faults: Faults,
}

impl fmt::Debug for UringSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringSink")
            .field("slots", &self.slots.len())
            .field("in_flight", &self.in_flight)
            .field("writes", &self.writes)
            .field("short", &self.short)
            .finish_non_exhaustive()
    }
}

impl UringSink {
    /// An io_uring of `queue_depth` entries and as many buffers of `buffer_bytes`, writing to
    /// `file`. `Err` says why io-uring cannot be used here (the caller falls back to plain writes).
    pub(crate) fn new(
        file: File,
        queue_depth: u32,
        buffer_bytes: usize,
        faults: Faults,
    ) -> Result<Self, String> {
        if let Some(errno) = faults.uring_setup {
            let e = io::Error::from_raw_os_error(errno);
            return Err(format!("io_uring_setup: {e} (simulated)"));
        }
        // Fails with EPERM or ENOSYS under seccomp, in some containers, with
        // kernel.io_uring_disabled set, or on kernels before 5.1.
        let ring = IoUring::new(queue_depth).map_err(|e| format!("io_uring_setup: {e}"))?;
        // IORING_OP_WRITE is 5.6+, and so is the probe itself.
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| format!("io_uring opcode probe: {e}"))?;
        for (code, name) in [
            (opcode::Write::CODE, "IORING_OP_WRITE"),
            (opcode::Fsync::CODE, "IORING_OP_FSYNC"),
        ] {
            if !probe.is_supported(code) {
                return Err(format!("this kernel's io_uring has no {name}"));
            }
        }
        let n = queue_depth as usize;
        let cq = ring.params().cq_entries() as usize;
        Ok(Self {
            ring,
            file,
            slots: (0..n)
                .map(|_| Slot {
                    buf: Buf::new(buffer_bytes),
                    offset: 0,
                    len: 0,
                    done: 0,
                })
                .collect(),
            free: (0..n).rev().collect(),
            in_flight: 0,
            cqes: Vec::with_capacity(cq),
            writes: 0,
            completions: 0,
            short: 0,
            error: None,
            synced: None,
            faults,
        })
    }

    /// Queues the write of slot `i`'s bytes not yet written.
    fn queue(&mut self, i: usize) -> Result<(), RecorderError> {
        let s = &self.slots[i];
        let rest = &s.buf.bytes()[s.done..s.len];
        let entry = opcode::Write::new(
            types::Fd(self.file.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32, // buffers are at most 1 GiB (RecorderConfig::check)
        )
        .offset(s.offset + s.done as u64)
        .build()
        .user_data(i as u64);
        // SAFETY: the entry points at `self.slots[i].buf`, a heap buffer this sink owns. Slot `i`
        // is off the free list until this write's completion is reaped (`complete`), so the buffer
        // is not written, handed out or reused meanwhile; `Drop` waits for every write in flight
        // (or leaks the buffers) before freeing them. The fd stays open in `self.file`.
        unsafe { self.ring.submission().push(&entry) }.map_err(|_| {
            RecorderError::io("io-uring queue", None, io::ErrorKind::QuotaExceeded.into())
        })?;
        self.in_flight += 1;
        self.writes += 1;
        Ok(())
    }

    /// Submits what is queued and, with `wait`, waits for at least one completion.
    fn enter(&mut self, wait: bool) -> Result<(), RecorderError> {
        loop {
            let r = if wait {
                self.ring.submit_and_wait(1)
            } else {
                self.ring.submit()
            };
            match r {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecorderError::io("io_uring_enter", None, e)),
            }
        }
    }

    /// Handles every completion in the queue.
    fn reap(&mut self) {
        self.cqes.clear();
        self.cqes
            .extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
        for k in 0..self.cqes.len() {
            let (user_data, res) = self.cqes[k];
            self.complete(user_data, res);
        }
    }

    fn complete(&mut self, user_data: u64, res: i32) {
        if user_data == SYNC {
            self.synced = Some(res);
            return;
        }
        let i = user_data as usize;
        self.in_flight -= 1;
        self.completions += 1;
        let r = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as usize)
        };
        let s = &mut self.slots[i];
        let at = s.offset + s.done as u64;
        match self.faults.apply(self.completions, r) {
            Ok(0) if s.done < s.len => {
                self.fail(RecorderError::io(
                    "io-uring write",
                    Some(at),
                    io::ErrorKind::WriteZero.into(),
                ));
                self.free.push(i);
            }
            Ok(n) => {
                s.done += n;
                if s.done < s.len {
                    self.short += 1;
                    if let Err(e) = self.queue(i) {
                        self.fail(e);
                        self.free.push(i);
                    }
                } else {
                    self.free.push(i);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                if let Err(e) = self.queue(i) {
                    self.fail(e);
                    self.free.push(i);
                }
            }
            Err(e) => {
                self.fail(RecorderError::io("io-uring write", Some(at), e));
                self.free.push(i);
            }
        }
    }

    fn fail(&mut self, e: RecorderError) {
        self.error.get_or_insert(e);
    }

    fn check(&mut self) -> Result<(), RecorderError> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Sink for UringSink {
    fn write(&mut self, buf: &mut Buf, len: usize, offset: u64) -> Result<(), RecorderError> {
        self.check()?;
        if let Some(d) = self.faults.stall {
            std::thread::sleep(d);
        }
        let i = loop {
            if let Some(i) = self.free.pop() {
                break i;
            }
            // Every buffer is in flight: wait for one.
            self.enter(true)?;
            self.reap();
            self.check()?;
        };
        let s = &mut self.slots[i];
        std::mem::swap(&mut s.buf, buf);
        s.offset = offset;
        s.len = len;
        s.done = 0;
        self.queue(i)
    }

    fn kick(&mut self) -> Result<(), RecorderError> {
        self.check()?;
        // A syscall only to submit; completions are read from the shared queue without one.
        if !self.ring.submission().is_empty() {
            self.enter(false)?;
        }
        self.reap();
        self.check()
    }

    fn wait_all(&mut self) -> Result<(), RecorderError> {
        self.check()?;
        while self.in_flight > 0 {
            self.enter(true)?;
            self.reap();
        }
        self.check()
    }

    fn sync(&mut self) -> Result<(), RecorderError> {
        self.wait_all()?;
        let entry = opcode::Fsync::new(types::Fd(self.file.as_raw_fd()))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(SYNC);
        self.synced = None;
        // SAFETY: an fsync entry points at no memory; the fd stays open in `self.file`.
        unsafe { self.ring.submission().push(&entry) }.map_err(|_| {
            RecorderError::io("io-uring queue", None, io::ErrorKind::QuotaExceeded.into())
        })?;
        while self.synced.is_none() {
            self.enter(true)?;
            self.reap();
        }
        match self.synced {
            Some(res) if res < 0 => Err(RecorderError::io(
                "io-uring fdatasync",
                None,
                io::Error::from_raw_os_error(-res),
            )),
            _ => self.check(),
        }
    }

    fn counts(&self) -> (u64, u64) {
        (self.writes, self.short)
    }
}

impl Drop for UringSink {
    fn drop(&mut self) {
        // The kernel may still read the buffers of writes in flight (after an error, or a drop
        // without `wait_all`): they must outlive those writes.
        while self.in_flight > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Cannot wait: leak the buffers rather than free memory the kernel may read.
                    for s in self.slots.drain(..) {
                        std::mem::forget(s.buf);
                    }
                    return;
                }
            }
            for c in self.ring.completion() {
                if c.user_data() != SYNC {
                    self.in_flight -= 1;
                }
            }
        }
    }
}
