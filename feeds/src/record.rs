//! The recording format: every websocket payload received, with its receive time, so a session
//! can be replayed through the same decoder and engine. Layout and rationale: docs/recording.md.
//!
//! All integers are little-endian. A file is one header, then records back to back:
//!
//! ```text
//! header  magic[8] version:u16 header_len:u16 flags:u32 created_unix_ns:u64
//!         source_len:u16 source[source_len] header_crc:u32
//! record  marker[4] recv_ns:u64 len:u32 crc:u32 payload[len]
//! ```
//!
//! `crc` is CRC-32 (IEEE) over `recv_ns` (8 bytes) followed by the payload. The marker lets a
//! reader find the next record after a damaged one.

use std::io::{self, BufWriter, Read, Write};

/// First bytes of every recording. The high byte and CR LF catch text-mode mangling (as PNG's).
pub const RECORD_MAGIC: [u8; 8] = *b"\x89PAREC\r\n";
/// Format version this crate writes and reads.
pub const RECORD_VERSION: u16 = 1;
/// Largest payload a record may carry, bytes. Above the websocket client's default message
/// limit (64 MiB); a length beyond it can only be damage.
pub const MAX_RECORD_PAYLOAD: usize = 256 << 20;

/// Starts every record. 0xFF never occurs in UTF-8, so it never occurs in a JSON payload.
const MARKER: [u8; 4] = [0xFF, 0xA5, 0x52, 0x43];
/// Bytes before a record's payload: marker, recv_ns, len, crc.
const RECORD_HEAD: usize = 4 + 8 + 4 + 4;
/// Header bytes besides the source text: magic, version, header_len, flags, created, source_len,
/// header_crc.
const HEADER_FIXED: usize = 8 + 2 + 2 + 4 + 8 + 2 + 4;
/// Longest `source` text, bytes.
const MAX_SOURCE: usize = 1024;

/// What the file header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Format version (always [`RECORD_VERSION`] once read).
    pub version: u16,
    /// Wall-clock time the recording started, ns since the Unix epoch (0 = unknown). Record
    /// times are on the pipeline's monotonic clock instead; this only dates the file.
    pub created_unix_ns: u64,
    /// Where the payloads came from, e.g. the websocket URL.
    pub source: String,
}

impl RecordHeader {
    /// The header bytes a recording starts with, as [`RecordWriter::new`] writes them (version
    /// [`RECORD_VERSION`], no flags). For other writers of the format (`polyarb-recorder`), so
    /// that every writer produces the same bytes. `source` is at most 1024 bytes.
    pub fn encode(created_unix_ns: u64, source: &str) -> Result<Vec<u8>, RecordError> {
        if source.len() > MAX_SOURCE {
            return Err(RecordError::TooLarge(source.len()));
        }
        let header_len = HEADER_FIXED + source.len();
        let mut h = Vec::with_capacity(header_len);
        h.extend_from_slice(&RECORD_MAGIC);
        h.extend_from_slice(&RECORD_VERSION.to_le_bytes());
        h.extend_from_slice(&(header_len as u16).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // flags: none defined in version 1
        h.extend_from_slice(&created_unix_ns.to_le_bytes());
        h.extend_from_slice(&(source.len() as u16).to_le_bytes());
        h.extend_from_slice(source.as_bytes());
        h.extend_from_slice(&crc32fast::hash(&h).to_le_bytes());
        Ok(h)
    }
}

/// One record, owned (from the iterator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Receive time of the payload, ns on the pipeline clock.
    pub recv_ns: u64,
    /// The websocket message payload, as received.
    pub payload: Vec<u8>,
}

/// One record, borrowed from the reader's buffer (from [`RecordReader::next_ref`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Receive time of the payload, ns on the pipeline clock.
    pub recv_ns: u64,
    /// The websocket message payload, as received.
    pub payload: &'a [u8],
}

impl RecordRef<'_> {
    /// Bytes a record puts before its payload: marker, `recv_ns`, `len`, `crc`.
    pub const HEAD_LEN: usize = RECORD_HEAD;

    /// The [`Self::HEAD_LEN`] bytes that go before the payload in the file, as
    /// [`RecordWriter::write`] writes them; the record is these bytes followed by the payload.
    /// For other writers of the format (`polyarb-recorder`). No allocation.
    pub fn head(&self) -> Result<[u8; RECORD_HEAD], RecordError> {
        if self.payload.len() > MAX_RECORD_PAYLOAD {
            return Err(RecordError::TooLarge(self.payload.len()));
        }
        let mut head = [0u8; RECORD_HEAD];
        head[..4].copy_from_slice(&MARKER);
        head[4..12].copy_from_slice(&self.recv_ns.to_le_bytes());
        head[12..16].copy_from_slice(&(self.payload.len() as u32).to_le_bytes());
        head[16..20].copy_from_slice(&record_crc(self.recv_ns, self.payload).to_le_bytes());
        Ok(head)
    }
}

/// What was wrong with a damaged record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// No record marker where a record should start.
    BadMarker,
    /// A length over [`MAX_RECORD_PAYLOAD`], or one that runs past the next valid record.
    BadLength,
    /// The CRC does not match the time and payload.
    BadCrc,
}

impl core::fmt::Display for Corruption {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadMarker => "no record marker",
            Self::BadLength => "bad length",
            Self::BadCrc => "crc mismatch",
        })
    }
}

/// Why reading or writing a recording failed.
#[derive(Debug)]
pub enum RecordError {
    /// The underlying file failed.
    Io(io::Error),
    /// Not a recording: the first bytes are not [`RECORD_MAGIC`].
    BadMagic,
    /// A version this build does not read.
    UnsupportedVersion(u16),
    /// The header is damaged or truncated; names what.
    BadHeader(&'static str),
    /// A payload or source text too large to write, bytes.
    TooLarge(usize),
    /// The file ends inside a record (an interrupted recording). Nothing follows.
    Truncated {
        /// File offset of the record's marker.
        offset: u64,
        /// Bytes of it present.
        have: u64,
    },
    /// A damaged record; the reader skipped to the next valid record and goes on from there.
    Corrupt {
        /// File offset where the damaged record starts.
        offset: u64,
        /// Bytes skipped to reach the next valid record (or the end of the file).
        skipped: u64,
        /// What was wrong.
        reason: Corruption,
    },
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "recording i/o: {e}"),
            Self::BadMagic => write!(f, "not a polyarb recording (bad magic)"),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "recording version {v} is not supported (this build reads {RECORD_VERSION})"
                )
            }
            Self::BadHeader(what) => write!(f, "bad recording header: {what}"),
            Self::TooLarge(n) => write!(f, "{n} bytes is too large for a record"),
            Self::Truncated { offset, have } => write!(
                f,
                "recording truncated: the record at byte {offset} has only {have} bytes"
            ),
            Self::Corrupt {
                offset,
                skipped,
                reason,
            } => write!(
                f,
                "corrupt record at byte {offset} ({reason}); skipped {skipped} bytes"
            ),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RecordError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn record_crc(recv_ns: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&recv_ns.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Writes a recording. Buffered: call [`RecordWriter::flush`] (or `into_inner`) to be sure the
/// bytes reached the file; dropping the writer flushes but cannot report an error.
#[derive(Debug)]
pub struct RecordWriter<W: Write> {
    out: BufWriter<W>,
    records: u64,
}

impl<W: Write> RecordWriter<W> {
    /// Writes the header. `created_unix_ns`: wall-clock start time (0 if unknown); `source`: where
    /// the payloads come from (at most 1024 bytes).
    pub fn new(inner: W, created_unix_ns: u64, source: &str) -> Result<Self, RecordError> {
        let h = RecordHeader::encode(created_unix_ns, source)?;
        // Payloads are mostly under 2 KiB; 1 MiB batches a few hundred into one write syscall.
        let mut out = BufWriter::with_capacity(1 << 20, inner);
        out.write_all(&h)?;
        Ok(Self { out, records: 0 })
    }

    /// Appends one record.
    pub fn write(&mut self, recv_ns: u64, payload: &[u8]) -> Result<(), RecordError> {
        let head = RecordRef { recv_ns, payload }.head()?;
        self.out.write_all(&head)?;
        self.out.write_all(payload)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Pushes buffered bytes to the underlying writer and flushes it.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.out.flush().map_err(RecordError::Io)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> Result<W, RecordError> {
        self.out
            .into_inner()
            .map_err(|e| RecordError::Io(e.into_error()))
    }
}

/// Where the next valid record is, found by [`RecordReader::resync`].
enum Found {
    /// A complete record with a good CRC starts at this buffer index.
    Valid(usize),
    /// A marker at this index whose record runs past the end of the file.
    Incomplete(usize),
    /// No marker until the end of the file.
    Nothing,
}

/// Reads a recording: [`RecordReader::next_ref`] without copying, or as an `Iterator` of owned
/// [`Record`]s. Damaged records are reported once each and skipped; a truncated tail is reported
/// and ends the iteration.
#[derive(Debug)]
pub struct RecordReader<R: Read> {
    inner: R,
    header: RecordHeader,
    /// Read-ahead: `buf[start..end]` is unread.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    done: bool,
}

impl<R: Read> RecordReader<R> {
    /// Reads and checks the header.
    pub fn new(inner: R) -> Result<Self, RecordError> {
        let mut r = Self {
            inner,
            header: RecordHeader {
                version: 0,
                created_unix_ns: 0,
                source: String::new(),
            },
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            done: false,
        };
        r.header = r.read_header()?;
        Ok(r)
    }

    /// The file header.
    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    fn read_header(&mut self) -> Result<RecordHeader, RecordError> {
        const TRUNC: RecordError = RecordError::BadHeader("file ends inside the header");
        if !self.fill(12)? {
            let have = &self.buf[..self.end];
            let n = have.len().min(8);
            return Err(if have[..n] == RECORD_MAGIC[..n] {
                TRUNC
            } else {
                RecordError::BadMagic
            });
        }
        let b = &self.buf[..self.end];
        if b[..8] != RECORD_MAGIC {
            return Err(RecordError::BadMagic);
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != RECORD_VERSION {
            return Err(RecordError::UnsupportedVersion(version));
        }
        let header_len = usize::from(u16::from_le_bytes([b[10], b[11]]));
        if !(HEADER_FIXED..=HEADER_FIXED + MAX_SOURCE).contains(&header_len) {
            return Err(RecordError::BadHeader("header length out of range"));
        }
        if !self.fill(header_len)? {
            return Err(TRUNC);
        }
        let h = &self.buf[..header_len];
        let crc_at = header_len - 4;
        if crc32fast::hash(&h[..crc_at]).to_le_bytes() != h[crc_at..] {
            return Err(RecordError::BadHeader("header crc mismatch"));
        }
        let flags = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        if flags != 0 {
            return Err(RecordError::BadHeader("unknown flags"));
        }
        let mut created = [0u8; 8];
        created.copy_from_slice(&h[16..24]);
        let source_len = usize::from(u16::from_le_bytes([h[24], h[25]]));
        if HEADER_FIXED + source_len != header_len {
            return Err(RecordError::BadHeader(
                "source length disagrees with header length",
            ));
        }
        let source = core::str::from_utf8(&h[26..26 + source_len])
            .map_err(|_| RecordError::BadHeader("source is not utf-8"))?
            .to_owned();
        self.consume(header_len);
        Ok(RecordHeader {
            version,
            created_unix_ns: u64::from_le_bytes(created),
            source,
        })
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `n` unread bytes available from `start`; `Ok(false)` if the file ends
    /// first. Keeps everything from `start` on.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                if self.start > 0 {
                    // Move the unread bytes to the front.
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    // Grow by doubling, not straight to `n`: a damaged length may claim far
                    // more than the file holds, and the end of file should stop the growth.
                    let len = self.buf.len();
                    self.buf.resize((2 * len).min(n).max(len + 1), 0);
                }
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The record at buffer index `at` (`at - start` bytes into the unread part): `Ok(Some(len))`
    /// if complete and valid, `Ok(None)` if damaged, `Err(())` if it runs past the end of file.
    fn check_at(&mut self, at: usize) -> io::Result<Result<Option<usize>, ()>> {
        let rel = at - self.start;
        if !self.fill(rel + RECORD_HEAD)? {
            return Ok(Err(()));
        }
        let at = self.start + rel;
        let h = &self.buf[at..at + RECORD_HEAD];
        if h[..4] != MARKER {
            return Ok(Ok(None));
        }
        let len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
        if len > MAX_RECORD_PAYLOAD {
            return Ok(Ok(None));
        }
        if !self.fill(rel + RECORD_HEAD + len)? {
            return Ok(Err(()));
        }
        let at = self.start + rel;
        let h = &self.buf[at..at + RECORD_HEAD];
        let mut t = [0u8; 8];
        t.copy_from_slice(&h[4..12]);
        let crc = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
        let payload = &self.buf[at + RECORD_HEAD..at + RECORD_HEAD + len];
        Ok(Ok(
            (record_crc(u64::from_le_bytes(t), payload) == crc).then_some(len)
        ))
    }

    /// Searches after the record at `start` for the first marker that begins a valid record or
    /// one cut off by the end of the file. Returned indices are relative to `start`.
    fn resync(&mut self) -> io::Result<Found> {
        let mut rel = 1;
        // A cut-off candidate may be a false marker: keep looking for a valid record after it.
        let mut first_incomplete = None;
        loop {
            let hay = &self.buf[self.start + rel..self.end];
            match hay.windows(4).position(|w| w == MARKER) {
                Some(k) => {
                    rel += k;
                    match self.check_at(self.start + rel)? {
                        Ok(Some(_)) => return Ok(Found::Valid(rel)),
                        Err(()) => {
                            first_incomplete.get_or_insert(rel);
                        }
                        Ok(None) => {}
                    }
                    rel += 1;
                }
                None => {
                    // Keep the last 3 bytes: a marker may straddle the read boundary.
                    let scanned = (self.end - self.start).saturating_sub(3).max(rel);
                    if !self.fill(self.end - self.start + 1)? {
                        return Ok(first_incomplete.map_or(Found::Nothing, Found::Incomplete));
                    }
                    rel = scanned;
                }
            }
        }
    }

    /// Reports the damaged record at `start` and moves to where `resync` says.
    fn skip_corrupt(&mut self, reason: Corruption) -> io::Result<RecordError> {
        let offset = self.offset;
        let skip = match self.resync()? {
            Found::Valid(rel) | Found::Incomplete(rel) => rel,
            Found::Nothing => {
                self.done = true;
                self.end - self.start
            }
        };
        self.consume(skip);
        Ok(RecordError::Corrupt {
            offset,
            skipped: skip as u64,
            reason,
        })
    }

    /// The next record, borrowed from the reader's buffer; `None` at the end of the file.
    pub fn next_ref(&mut self) -> Option<Result<RecordRef<'_>, RecordError>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Step::Record { at, len }) => {
                let h = &self.buf[at..at + RECORD_HEAD];
                let mut t = [0u8; 8];
                t.copy_from_slice(&h[4..12]);
                Some(Ok(RecordRef {
                    recv_ns: u64::from_le_bytes(t),
                    payload: &self.buf[at + RECORD_HEAD..at + RECORD_HEAD + len],
                }))
            }
            Ok(Step::Report(e)) => Some(Err(e)),
            Ok(Step::End) => None,
            Err(e) => {
                self.done = true;
                Some(Err(RecordError::Io(e)))
            }
        }
    }

    fn step(&mut self) -> io::Result<Step> {
        if !self.fill(RECORD_HEAD)? {
            self.done = true;
            let have = (self.end - self.start) as u64;
            if have == 0 {
                return Ok(Step::End);
            }
            return Ok(Step::Report(RecordError::Truncated {
                offset: self.offset,
                have,
            }));
        }
        let h = &self.buf[self.start..self.start + RECORD_HEAD];
        if h[..4] != MARKER {
            return Ok(Step::Report(self.skip_corrupt(Corruption::BadMarker)?));
        }
        let len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
        if len > MAX_RECORD_PAYLOAD {
            return Ok(Step::Report(self.skip_corrupt(Corruption::BadLength)?));
        }
        match self.check_at(self.start)? {
            Ok(Some(len)) => {
                let at = self.start;
                self.consume(RECORD_HEAD + len);
                Ok(Step::Record { at, len })
            }
            Ok(None) => Ok(Step::Report(self.skip_corrupt(Corruption::BadCrc)?)),
            Err(()) => {
                // Runs past the end: a cut-off tail, unless a valid record follows inside the
                // claimed length, in which case the length itself is damaged.
                let offset = self.offset;
                match self.resync()? {
                    Found::Valid(rel) => {
                        self.consume(rel);
                        Ok(Step::Report(RecordError::Corrupt {
                            offset,
                            skipped: rel as u64,
                            reason: Corruption::BadLength,
                        }))
                    }
                    Found::Incomplete(_) | Found::Nothing => {
                        self.done = true;
                        Ok(Step::Report(RecordError::Truncated {
                            offset,
                            have: (self.end - self.start) as u64,
                        }))
                    }
                }
            }
        }
    }
}

/// Outcome of one [`RecordReader::step`].
enum Step {
    /// A valid record at this buffer index (already consumed; bytes stay until the next fill).
    Record { at: usize, len: usize },
    /// An error to report.
    Report(RecordError),
    /// Clean end of file.
    End,
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_ref().map(|r| {
            r.map(|r| Record {
                recv_ns: r.recv_ns,
                payload: r.payload.to_vec(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reader that hands out at most `step` bytes per read, to exercise refills.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(out.len()).min(self.step);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn payloads() -> Vec<(u64, Vec<u8>)> {
        vec![
            (1, br#"{"jsonrpc":"2.0","id":1,"result":"0x89"}"#.to_vec()),
            (2, Vec::new()),
            (u64::MAX, vec![0xFF, 0xA5, 0x52, 0x43, 0, 1, 2]), // a marker inside a payload
            (4, vec![b'x'; 70_000]),
            (5, b"last".to_vec()),
        ]
    }

    fn file(records: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut w = RecordWriter::new(Vec::new(), 1_700_000_000_000_000_000, "ws://127.0.0.1:8546")
            .unwrap();
        for (t, p) in records {
            w.write(*t, p).unwrap();
        }
        assert_eq!(w.records(), records.len() as u64);
        w.into_inner().unwrap()
    }

    /// Record start offsets in a file written by `file`.
    fn offsets(records: &[(u64, Vec<u8>)]) -> Vec<usize> {
        let mut at = HEADER_FIXED + "ws://127.0.0.1:8546".len();
        records
            .iter()
            .map(|(_, p)| {
                let o = at;
                at += RECORD_HEAD + p.len();
                o
            })
            .collect()
    }

    /// Reads everything: records as (time, payload), errors as their Display text kinds.
    fn read_all(bytes: &[u8], step: usize) -> (Vec<(u64, Vec<u8>)>, Vec<String>) {
        let r = RecordReader::new(Trickle { data: bytes, step }).unwrap();
        let mut recs = Vec::new();
        let mut errs = Vec::new();
        for item in r {
            match item {
                Ok(r) => recs.push((r.recv_ns, r.payload)),
                Err(e) => errs.push(format!("{e:?}")),
            }
        }
        (recs, errs)
    }

    #[test]
    fn roundtrip_with_header() {
        let recs = payloads();
        let bytes = file(&recs);
        for step in [1, 7, 4096, usize::MAX] {
            let r = RecordReader::new(Trickle { data: &bytes, step }).unwrap();
            assert_eq!(
                *r.header(),
                RecordHeader {
                    version: RECORD_VERSION,
                    created_unix_ns: 1_700_000_000_000_000_000,
                    source: "ws://127.0.0.1:8546".into()
                }
            );
            assert_eq!(read_all(&bytes, step), (recs.clone(), vec![]));
        }
        // Lending reader gives the same.
        let mut r = RecordReader::new(&bytes[..]).unwrap();
        let mut n = 0;
        while let Some(rec) = r.next_ref() {
            let rec = rec.unwrap();
            assert_eq!((rec.recv_ns, rec.payload), (recs[n].0, &recs[n].1[..]));
            n += 1;
        }
        assert_eq!(n, recs.len());
        // Header only: no records, no error.
        assert_eq!(read_all(&file(&[]), 3), (vec![], vec![]));
    }

    #[test]
    fn truncated_tail_is_reported_at_every_cut() {
        let recs = payloads();
        let bytes = file(&recs);
        let offs = offsets(&recs);
        let last = *offs.last().unwrap();
        for cut in last..bytes.len() {
            let (got, errs) = read_all(&bytes[..cut], 64);
            assert_eq!(got, recs[..recs.len() - 1], "cut {cut}");
            if cut == last {
                assert!(errs.is_empty());
            } else {
                assert_eq!(
                    errs,
                    [format!(
                        "Truncated {{ offset: {last}, have: {} }}",
                        cut - last
                    )]
                );
            }
        }
        // Cut inside the 70 kB record (a marker-bearing record is before it).
        let (got, errs) = read_all(&bytes[..offs[3] + 100], 5);
        assert_eq!(got, recs[..3]);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("Truncated"));
    }

    #[test]
    fn corrupt_records_are_skipped_and_reading_resyncs() {
        let recs = payloads();
        let offs = offsets(&recs);
        let keep = |skip: usize| -> Vec<(u64, Vec<u8>)> {
            recs.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, r)| r.clone())
                .collect()
        };
        // (what to damage, which record, expected error)
        type Damage<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;
        let cases: Vec<(Damage<'_>, usize, String)> = vec![
            (
                Box::new(|b: &mut Vec<u8>| b[offs[1] + 4] ^= 1), // recv_ns
                1,
                format!(
                    "Corrupt {{ offset: {}, skipped: {}, reason: BadCrc }}",
                    offs[1], RECORD_HEAD
                ),
            ),
            (
                Box::new(|b: &mut Vec<u8>| b[offs[3] + RECORD_HEAD + 500] ^= 0x20), // payload
                3,
                format!(
                    "Corrupt {{ offset: {}, skipped: {}, reason: BadCrc }}",
                    offs[3],
                    RECORD_HEAD + 70_000
                ),
            ),
            (
                Box::new(|b: &mut Vec<u8>| b[offs[0]] = b'!'), // marker
                0,
                format!(
                    "Corrupt {{ offset: {}, skipped: {}, reason: BadMarker }}",
                    offs[0],
                    offs[1] - offs[0]
                ),
            ),
            (
                Box::new(|b: &mut Vec<u8>| b[offs[2] + 15] = 0xFF), // length over the maximum
                2,
                format!(
                    "Corrupt {{ offset: {}, skipped: {}, reason: BadLength }}",
                    offs[2],
                    offs[3] - offs[2]
                ),
            ),
            (
                Box::new(|b: &mut Vec<u8>| b[offs[1] + 14] = 0x10), // length past the end of file
                1,
                format!(
                    "Corrupt {{ offset: {}, skipped: {}, reason: BadLength }}",
                    offs[1], RECORD_HEAD
                ),
            ),
        ];
        for (damage, idx, want) in cases {
            let mut bytes = file(&recs);
            damage(&mut bytes);
            for step in [3, 1 << 20] {
                assert_eq!(read_all(&bytes, step), (keep(idx), vec![want.clone()]));
            }
        }
    }

    #[test]
    fn garbage_between_records_is_skipped() {
        let recs = payloads();
        let offs = offsets(&recs);
        let mut bytes = file(&recs);
        let garbage = b"garbage \xFF\xA5\x52 almost a marker";
        bytes.splice(offs[2]..offs[2], garbage.iter().copied());
        let want = format!(
            "Corrupt {{ offset: {}, skipped: {}, reason: BadMarker }}",
            offs[2],
            garbage.len()
        );
        assert_eq!(read_all(&bytes, 11), (recs.clone(), vec![want]));
        // Garbage to the end of the file: reported once, then the end.
        let mut bytes = file(&recs);
        let end = bytes.len();
        bytes.extend_from_slice(&[0x55; 300]);
        let want = format!("Corrupt {{ offset: {end}, skipped: 300, reason: BadMarker }}");
        assert_eq!(read_all(&bytes, 64), (recs, vec![want]));
    }

    #[test]
    fn bad_headers_are_rejected() {
        let good = file(&payloads());
        let err = |b: &[u8]| {
            RecordReader::new(b)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let mut b = good.clone();
        b[1] = b'X';
        assert_eq!(err(&b), RecordError::BadMagic.to_string());
        assert_eq!(err(b"{\"jsonrpc\""), RecordError::BadMagic.to_string());
        let mut b = good.clone();
        b[8] = 2;
        assert_eq!(err(&b), RecordError::UnsupportedVersion(2).to_string());
        let mut b = good.clone();
        b[30] ^= 1; // inside the source text
        assert_eq!(
            err(&b),
            RecordError::BadHeader("header crc mismatch").to_string()
        );
        assert_eq!(
            err(&good[..5]),
            RecordError::BadHeader("file ends inside the header").to_string()
        );
        assert_eq!(
            err(&good[..20]),
            RecordError::BadHeader("file ends inside the header").to_string()
        );
        assert_eq!(
            err(b""),
            RecordError::BadHeader("file ends inside the header").to_string()
        );
        assert!(matches!(
            RecordWriter::new(Vec::new(), 0, &"s".repeat(MAX_SOURCE + 1)),
            Err(RecordError::TooLarge(_))
        ));
    }

    proptest! {
        /// One byte changed inside one record: every other record is read back in order and
        /// exactly one problem is reported.
        #[test]
        fn single_damage_loses_only_that_record(
            recs in prop::collection::vec((any::<u64>(), prop::collection::vec(0x20u8..0x7F, 0..300)), 1..12),
            which in any::<prop::sample::Index>(),
            pos in any::<prop::sample::Index>(),
            flip in 1u8..=255,
            step in 1usize..512,
        ) {
            let k = which.index(recs.len());
            let offs = offsets(&recs);
            let mut bytes = file(&recs);
            let at = offs[k] + pos.index(RECORD_HEAD + recs[k].1.len());
            bytes[at] ^= flip;
            let (got, errs) = read_all(&bytes, step);
            let want: Vec<_> = recs.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, r)| r.clone()).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(errs.len(), 1, "{:?}", errs);
        }

        #[test]
        fn arbitrary_bytes_after_header_never_panic(tail in prop::collection::vec(any::<u8>(), 0..400), step in 1usize..64) {
            let mut bytes = file(&[]);
            bytes.extend_from_slice(&tail);
            let _ = read_all(&bytes, step);
        }
    }
}
