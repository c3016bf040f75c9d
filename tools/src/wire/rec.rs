//! A strict reader of polyarb's recording format, version 1 (docs/recording.md), written here
//! again rather than taken from `polyarb-feeds`: this crate stays independent of what it checks,
//! and the player wants every payload or a clear error, not `polyarb-feeds`' skip-and-go-on
//! recovery (a damaged record would silently drop a log from the schedule).

use std::path::Path;

use super::WireError;

const MAGIC: [u8; 8] = [0x89, b'P', b'A', b'R', b'E', b'C', b'\r', b'\n'];
const MARKER: [u8; 4] = [0xFF, 0xA5, 0x52, 0x43];
/// The format's bound on one payload, bytes.
const MAX_PAYLOAD: usize = 256 << 20;
/// Bytes of a record before its payload: marker, recv_ns, len, crc.
const RECORD_HEAD: usize = 20;

/// One recorded websocket payload and its receive time (wall clock, ns since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Receive time, ns since the Unix epoch (only differences are used).
    pub recv_ns: u64,
    /// The websocket message payload as the node sent it.
    pub payload: Vec<u8>,
}

fn bad(path: &Path, what: String) -> WireError {
    WireError::Recording {
        path: path.to_owned(),
        what,
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads every record of the file at `path`; any damage is an error naming its offset.
pub fn read(path: &Path) -> Result<Vec<Recorded>, WireError> {
    let bytes = std::fs::read(path).map_err(|source| WireError::Io {
        what: format!("read {}", path.display()),
        source,
    })?;
    parse(&bytes).map_err(|what| bad(path, what))
}

/// [`read`] on bytes in memory.
pub fn parse(b: &[u8]) -> Result<Vec<Recorded>, String> {
    if b.get(..8) != Some(&MAGIC[..]) {
        return Err("not a polyarb recording (bad magic)".to_owned());
    }
    let version = u16_at(b, 8).ok_or("file ends inside the header")?;
    if version != 1 {
        return Err(format!("recording version {version}; this reader knows 1"));
    }
    let header_len = usize::from(u16_at(b, 10).ok_or("file ends inside the header")?);
    let source_len = usize::from(u16_at(b, 24).ok_or("file ends inside the header")?);
    if header_len != 30 + source_len || b.len() < header_len {
        return Err("header length does not match its source field".to_owned());
    }
    if u32_at(b, 12) != Some(0) {
        return Err("header flags set (version 1 defines none)".to_owned());
    }
    let crc_at = 26 + source_len;
    if u32_at(b, crc_at) != Some(crc32fast::hash(&b[..crc_at])) {
        return Err("header CRC mismatch".to_owned());
    }
    let mut out = Vec::new();
    let mut at = header_len;
    while at < b.len() {
        if b.get(at..at + 4) != Some(&MARKER[..]) {
            return Err(format!("no record marker at byte {at}"));
        }
        let (Some(recv_ns), Some(len), Some(crc)) =
            (u64_at(b, at + 4), u32_at(b, at + 12), u32_at(b, at + 16))
        else {
            return Err(format!("file ends inside the record at byte {at}"));
        };
        let len = len as usize;
        if len > MAX_PAYLOAD {
            return Err(format!("record at byte {at} claims {len} bytes"));
        }
        let start = at + RECORD_HEAD;
        let Some(payload) = b.get(start..start + len) else {
            return Err(format!("file ends inside the record at byte {at}"));
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&b[at + 4..at + 12]);
        h.update(payload);
        if h.finalize() != crc {
            return Err(format!("CRC mismatch in the record at byte {at}"));
        }
        out.push(Recorded {
            recv_ns,
            payload: payload.to_vec(),
        });
        at = start + len;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A recording of `records` in the version 1 layout.
    pub(crate) fn encode(records: &[(u64, &[u8])]) -> Vec<u8> {
        let source = b"ws://test";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&(30 + source.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&(source.len() as u16).to_le_bytes());
        b.extend_from_slice(source);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        for (t, p) in records {
            b.extend_from_slice(&MARKER);
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&(p.len() as u32).to_le_bytes());
            let mut h = crc32fast::Hasher::new();
            h.update(&t.to_le_bytes());
            h.update(p);
            b.extend_from_slice(&h.finalize().to_le_bytes());
            b.extend_from_slice(p);
        }
        b
    }

    #[test]
    fn reads_back_what_was_written_and_refuses_damage() {
        let file = encode(&[(5, b"{\"a\":1}"), (9, b"xyz")]);
        let recs = parse(&file).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[1].recv_ns, &recs[1].payload[..]), (9, &b"xyz"[..]));
        let mut damaged = file.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(parse(&damaged).unwrap_err().contains("CRC mismatch"));
        assert!(
            parse(&file[..file.len() - 1])
                .unwrap_err()
                .contains("ends inside")
        );
        assert!(parse(b"nope").unwrap_err().contains("magic"));
    }
}
