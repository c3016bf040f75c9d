//! The recording reader over arbitrary and damaged files: never panics, always ends, reads the
//! same records however the file arrives in reads, and loses exactly one record to one flipped
//! byte.
//!
//! Byte 0 picks the mode, byte 1 the read size of the split pass:
//! - 0: the rest is the whole file (header checks);
//! - 1: a valid header, then the rest as the record stream;
//! - 2, 3, 4: records built from the rest (4 bytes each: length u16, fill byte, time byte, so a
//!   small input makes files past the reader's 64 KiB buffer), then 0, 1 or up to 8 flipped
//!   bytes (5 bytes each: offset u32, xor) in the records.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use polyarb_feeds::{RecordReader, RecordWriter};

/// Cap on a built file, bytes: enough to cross the read buffer several times.
const MAX_BUILT: usize = 512 << 10;

fuzz_target!(|data: &[u8]| {
    let [mode, split, rest @ ..] = data else {
        return;
    };
    let step = usize::from(*split) * 3 + 1;
    match mode % 5 {
        0 => {
            let whole = read_all(rest, rest.len().max(1));
            assert_eq!(whole, read_all(rest, step));
        }
        1 => {
            let mut file = header();
            file.extend_from_slice(rest);
            let whole = read_all(&file, file.len());
            assert_eq!(whole, read_all(&file, step));
        }
        m => {
            let (n, rest) = rest.split_first().unwrap_or((&0, &[]));
            let n = usize::from(*n % 32).min(rest.len() / 4);
            let (specs, flips) = rest.split_at(n * 4);
            let (mut file, written) = build(specs);
            let body = header().len();
            let flips: Vec<(usize, u8)> = flips
                .chunks_exact(5)
                .take(if m == 2 {
                    0
                } else if m == 3 {
                    1
                } else {
                    8
                })
                .map(|f| {
                    let off = u32::from_le_bytes([f[0], f[1], f[2], f[3]]) as usize;
                    (off, if m == 3 { f[4].max(1) } else { f[4] })
                })
                .collect();
            let span = file.len() - body;
            if span > 0 {
                for &(off, x) in &flips {
                    file[body + off % span] ^= x;
                }
            }
            let whole = read_all(&file, file.len());
            assert_eq!(whole, read_all(&file, step));
            let Ok(items) = whole else {
                panic!("the header was not touched, yet it was refused");
            };
            let got: Vec<&(u64, Vec<u8>)> = items.iter().filter_map(|i| i.as_ref().ok()).collect();
            // Mode 4's flips may cancel or be zero: only termination and splitting are checked.
            match (m, flips.len()) {
                (_, 0) => {
                    assert_eq!(
                        items.len(),
                        written.len(),
                        "an intact file reads back whole"
                    );
                    assert!(got.iter().zip(&written).all(|(g, w)| *g == w));
                }
                (3, 1) if !written.is_empty() => {
                    assert_eq!(got.len(), written.len() - 1, "one flip loses one record");
                    // The survivors are the written records, in order, less one.
                    let lost = got.iter().zip(&written).position(|(g, w)| *g != w);
                    let lost = lost.unwrap_or(got.len());
                    assert!(
                        got[lost..]
                            .iter()
                            .zip(&written[lost + 1..])
                            .all(|(g, w)| *g == w)
                    );
                }
                _ => {}
            }
        }
    }
});

/// One read result: a record (time, payload) or the error's text.
type Item = Result<(u64, Vec<u8>), String>;

/// Every item a reader yields, reading `step` bytes at a time; `Err` if the header is refused.
fn read_all(file: &[u8], step: usize) -> Result<Vec<Item>, String> {
    let mut r = RecordReader::new(Split { rest: file, step }).map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    while let Some(item) = r.next_ref() {
        items.push(
            item.map(|x| (x.recv_ns, x.payload.to_vec()))
                .map_err(|e| e.to_string()),
        );
        // Each item moves past at least one byte: a reader that does not is stuck.
        assert!(items.len() <= file.len() + 1, "reader does not end");
    }
    assert!(r.next_ref().is_none(), "items after the end");
    Ok(items)
}

fn header() -> Vec<u8> {
    let w = RecordWriter::new(Vec::new(), 1, "fuzz").expect("writing to a Vec");
    w.into_inner().expect("writing to a Vec")
}

/// A recording of the records `specs` describes, and those records.
fn build(specs: &[u8]) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let mut w = RecordWriter::new(Vec::new(), 1, "fuzz").expect("writing to a Vec");
    let mut written = Vec::new();
    let mut size = 0;
    for s in specs.chunks_exact(4) {
        let len = usize::from(u16::from_le_bytes([s[0], s[1]])) * 4;
        if size + len > MAX_BUILT {
            break;
        }
        size += len;
        let rec = (u64::from(s[3]) << 40 | 17, vec![s[2]; len]);
        w.write(rec.0, &rec.1).expect("writing to a Vec");
        written.push(rec);
    }
    (w.into_inner().expect("writing to a Vec"), written)
}

/// A reader that hands out at most `step` bytes a call.
struct Split<'a> {
    rest: &'a [u8],
    step: usize,
}

impl Read for Split<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}
