//! The housekeeping thread's output: records encoded (by `polyarb-feeds`) into page-aligned
//! buffers that fill one after another at increasing file offsets, and the [`Sink`]s that write
//! a filled buffer: plain `pwrite`s here, io-uring in `uring.rs`.

use std::{fs::File, io, os::unix::fs::FileExt, time::Instant};

use polyarb_feeds::RecordRef;

use crate::recorder::RecorderError;

/// Alignment of every output buffer: a page. Each write then copies whole pages from the buffer
/// (and O_DIRECT would be possible without copying).
const ALIGN: usize = 4096;

/// A page-aligned, fixed-size buffer (safe code: a slice at the first page boundary of a
/// slightly larger allocation). Its bytes never move while it lives, wherever the `Buf` moves.
#[derive(Debug)]
pub(crate) struct Buf {
    mem: Box<[u8]>,
    start: usize,
    size: usize,
}

impl Buf {
    /// A zeroed buffer of `size` bytes.
    pub(crate) fn new(size: usize) -> Self {
        let mem = vec![0u8; size + ALIGN - 1].into_boxed_slice();
        let start = (ALIGN - mem.as_ptr().addr() % ALIGN) % ALIGN;
        Self { mem, start, size }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.size]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + self.size]
    }
}

/// Faults injected into the sinks' view of their writes (tests): the file still receives
/// exactly the bytes asked for, but the sink believes it did not, and must recover or report.
/// Write faults apply to the backend tried first, not to plain writes taking over from io-uring.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Faults {
    /// Each buffer handed to the sink waits this long first: a slow disk.
    pub(crate) stall: Option<std::time::Duration>,
    /// Every `n`th write (0: none) is taken to have written only half its bytes, so the rest is
    /// written again from the right place: a short write.
    pub(crate) shorten_every: u64,
    /// The `n`th write (counted from 1) is taken to have failed with this errno.
    pub(crate) fail_write: Option<(u64, i32)>,
    /// `io_uring_setup` is taken to have failed with this errno.
    pub(crate) uring_setup: Option<i32>,
}

impl Faults {
    /// What the `n`th write (from 1), which returned `r`, is taken to have done.
    pub(crate) fn apply(&self, n: u64, r: io::Result<usize>) -> io::Result<usize> {
        if let Some((k, errno)) = self.fail_write
            && k == n
        {
            return Err(io::Error::from_raw_os_error(errno));
        }
        match r {
            Ok(w) if w > 1 && self.shorten_every > 0 && n.is_multiple_of(self.shorten_every) => {
                Ok(w / 2)
            }
            r => r,
        }
    }
}

/// Writes filled buffers to the file.
pub(crate) trait Sink: Send + std::fmt::Debug {
    /// Writes `buf[..len]` at file offset `offset`, or starts to. `buf` is then one to fill next:
    /// the same (plain writes, done on return) or a free one in exchange (io-uring: the filled
    /// one stays with the sink until its write completes; this may wait for one to).
    fn write(&mut self, buf: &mut Buf, len: usize, offset: u64) -> Result<(), RecorderError>;
    /// Starts the writes queued so far and collects finished ones, without waiting.
    fn kick(&mut self) -> Result<(), RecorderError> {
        Ok(())
    }
    /// Waits until every write started has completed.
    fn wait_all(&mut self) -> Result<(), RecorderError> {
        Ok(())
    }
    /// After [`Sink::wait_all`]: the file's data to stable storage (`fdatasync`).
    fn sync(&mut self) -> Result<(), RecorderError>;
    /// Write calls or submissions so far (a short write's rest counts again), and how many of
    /// them were short.
    fn counts(&self) -> (u64, u64);
}

/// Plain `pwrite(2)`s on the housekeeping thread.
#[derive(Debug)]
pub(crate) struct PlainSink {
    file: File,
    writes: u64,
    short: u64,
    faults: Faults,
}

impl PlainSink {
    pub(crate) fn new(file: File, faults: Faults) -> Self {
        Self {
            file,
            writes: 0,
            short: 0,
            faults,
        }
    }
}

impl Sink for PlainSink {
    fn write(&mut self, buf: &mut Buf, len: usize, offset: u64) -> Result<(), RecorderError> {
        if let Some(d) = self.faults.stall {
            std::thread::sleep(d);
        }
        let bytes = &buf.bytes()[..len];
        let mut done = 0;
        while done < len {
            let at = offset + done as u64;
            let r = self.file.write_at(&bytes[done..], at);
            if matches!(&r, Err(e) if e.kind() == io::ErrorKind::Interrupted) {
                continue;
            }
            self.writes += 1;
            match self.faults.apply(self.writes, r) {
                Ok(0) => {
                    return Err(RecorderError::io(
                        "write",
                        Some(at),
                        io::ErrorKind::WriteZero.into(),
                    ));
                }
                Ok(n) => {
                    if done + n < len {
                        self.short += 1;
                    }
                    done += n;
                }
                Err(e) => return Err(RecorderError::io("write", Some(at), e)),
            }
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), RecorderError> {
        self.file
            .sync_data()
            .map_err(|e| RecorderError::io("fdatasync", None, e))
    }

    fn counts(&self) -> (u64, u64) {
        (self.writes, self.short)
    }
}

/// What the housekeeping thread wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Written {
    /// Records written.
    pub(crate) records: u64,
    /// Bytes written, header included.
    pub(crate) bytes: u64,
    /// Write calls or submissions (see [`Sink::counts`]).
    pub(crate) writes: u64,
    /// Of which short.
    pub(crate) short_writes: u64,
}

/// The encoder stage: records in, filled buffers to the sink at increasing offsets. A record may
/// straddle two buffers; the file is the concatenation of the buffers in order.
#[derive(Debug)]
pub(crate) struct Out {
    sink: Box<dyn Sink>,
    buf: Buf,
    /// Bytes of `buf` filled.
    len: usize,
    /// File offset of `buf[0]`.
    offset: u64,
    /// File offset of the first byte (the header).
    base: u64,
    /// When the first byte of `buf` not yet shipped was put there.
    since: Option<Instant>,
    records: u64,
}

impl Out {
    /// Writing from file offset `base`, through buffers of `buffer_bytes`.
    pub(crate) fn new(sink: Box<dyn Sink>, buffer_bytes: usize, base: u64) -> Self {
        Self {
            sink,
            buf: Buf::new(buffer_bytes),
            len: 0,
            offset: base,
            base,
            since: None,
            records: 0,
        }
    }

    /// Appends bytes (the header, or anything already encoded).
    pub(crate) fn append(&mut self, mut bytes: &[u8]) -> Result<(), RecorderError> {
        while !bytes.is_empty() {
            if self.len == 0 {
                self.since = Some(Instant::now());
            }
            let n = (self.buf.size - self.len).min(bytes.len());
            self.buf.bytes_mut()[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.len == self.buf.size {
                self.ship()?;
            }
        }
        Ok(())
    }

    /// Encodes and appends one record: `polyarb-feeds`' record head, then the payload.
    pub(crate) fn record(&mut self, recv_ns: u64, payload: &[u8]) -> Result<(), RecorderError> {
        let head = RecordRef { recv_ns, payload }
            .head()
            .map_err(RecorderError::Record)?;
        self.append(&head)?;
        self.append(payload)?;
        self.records += 1;
        Ok(())
    }

    /// Hands what the current buffer holds, full or not, to the sink.
    pub(crate) fn ship(&mut self) -> Result<(), RecorderError> {
        if self.len == 0 {
            return Ok(());
        }
        self.sink.write(&mut self.buf, self.len, self.offset)?;
        self.offset += self.len as u64;
        self.len = 0;
        self.since = None;
        Ok(())
    }

    /// When the oldest byte not yet shipped was appended; `None` if there is none.
    pub(crate) fn pending_since(&self) -> Option<Instant> {
        self.since
    }

    pub(crate) fn sink(&mut self) -> &mut dyn Sink {
        &mut *self.sink
    }

    /// Ships the rest and waits for every write, without syncing.
    pub(crate) fn drain(&mut self) -> Result<(), RecorderError> {
        self.ship()?;
        self.sink.kick()?;
        self.sink.wait_all()
    }

    /// Ships the rest, waits for every write and syncs the file's data.
    pub(crate) fn finish(&mut self) -> Result<Written, RecorderError> {
        self.drain()?;
        self.sink.sync()?;
        let (writes, short_writes) = self.sink.counts();
        Ok(Written {
            records: self.records,
            bytes: self.offset + self.len as u64 - self.base,
            writes,
            short_writes,
        })
    }
}
