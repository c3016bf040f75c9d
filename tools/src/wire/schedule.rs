//! What the server plays and when: the recording's subscription notifications grouped into
//! blocks' bursts, each payload's subscription id rewritten to the one the server handed out,
//! framed as server websocket frames ahead of time (the send loop only writes bytes), and each
//! payload's intended send time (ns after the start of the play) from the pacing.

use serde_json::Value;

use crate::faultproxy::frame;

/// The subscription id the server answers `eth_subscribe logs` with. 16 bytes of hex as anvil's,
/// so rewritten payloads keep their recorded length.
pub const LOGS_SUBSCRIPTION: &str = "0x77697265000000000000000000006c67";
/// The subscription id the server answers `eth_subscribe newHeads` with.
pub const HEADS_SUBSCRIPTION: &str = "0x77697265000000000000000000006864";

/// How intended send times are set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// This many logs a second on average: block `b` starts `logs before b / rate` seconds into
    /// the play, and its whole burst is due then (a node writes a block's notifications at once).
    LogsPerSecond(f64),
    /// The recorded receive times, divided by this factor (2 = twice as fast).
    Recorded(f64),
}

impl std::fmt::Display for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LogsPerSecond(r) => write!(f, "{r:.0} logs/s"),
            Self::Recorded(x) => write!(f, "recorded pacing × {x}"),
        }
    }
}

/// One block's consecutive notifications in the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Block number.
    pub block: u64,
    /// Index of its first payload in [`Plan::frames`].
    pub first: usize,
    /// Payloads in it (heads and logs).
    pub len: usize,
    /// Log notifications among them.
    pub logs: usize,
}

impl Burst {
    /// Index of its last payload.
    pub fn last(&self) -> usize {
        self.first + self.len - 1
    }
}

/// A notification of the recording, parsed once.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The recorded payload with the subscription id rewritten.
    pub payload: Vec<u8>,
    /// Recorded receive time, ns since the Unix epoch.
    pub recv_ns: u64,
    /// Block number.
    pub block: u64,
    /// A head (else a log).
    pub head: bool,
}

/// What one run plays.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Each payload as one unmasked text frame, ready to write.
    pub frames: Vec<Vec<u8>>,
    /// Each payload's intended send time, ns after the play starts.
    pub intended_ns: Vec<u64>,
    /// Whether each payload is a head (the server counts heads as it writes them).
    pub head: Vec<bool>,
    /// The bursts, in order.
    pub bursts: Vec<Burst>,
}

impl Plan {
    /// Log notifications in the plan.
    pub fn logs(&self) -> usize {
        self.bursts.iter().map(|b| b.logs).sum()
    }
}

/// A quantity string (`0x1f`).
fn quantity(v: Option<&Value>) -> Option<u64> {
    u64::from_str_radix(v?.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// Replaces the value of the first `"subscription":"…"` in `payload` by `id`.
fn rewrite_subscription(payload: &[u8], id: &str) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"\"subscription\":\"";
    let start = payload.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = payload[start..].iter().position(|&b| b == b'"')?;
    let mut out = Vec::with_capacity(payload.len() + id.len());
    out.extend_from_slice(&payload[..start]);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&payload[start + len..]);
    Some(out)
}

/// The recording's subscription notifications, ids rewritten; responses and other messages the
/// recorder kept are skipped (returned as the count). An unreadable notification is an error
/// naming its index: a schedule with a hole would not be the recording.
pub fn notifications(
    records: &[super::rec::Recorded],
) -> Result<(Vec<Notification>, usize), String> {
    let mut out = Vec::with_capacity(records.len());
    let mut skipped = 0;
    for (i, r) in records.iter().enumerate() {
        let v: Value = serde_json::from_slice(&r.payload)
            .map_err(|e| format!("payload {i} is not JSON: {e}"))?;
        if v.get("method").and_then(Value::as_str) != Some("eth_subscription") {
            skipped += 1;
            continue;
        }
        let result = v
            .get("params")
            .and_then(|p| p.get("result"))
            .ok_or_else(|| format!("notification {i} has no params.result"))?;
        let head = result.get("parentHash").is_some();
        let block = if head {
            quantity(result.get("number"))
        } else {
            quantity(result.get("blockNumber"))
        }
        .ok_or_else(|| format!("notification {i} has no block number"))?;
        let id = if head {
            HEADS_SUBSCRIPTION
        } else {
            LOGS_SUBSCRIPTION
        };
        let payload = rewrite_subscription(&r.payload, id)
            .ok_or_else(|| format!("notification {i} has no \"subscription\":\"…\" field"))?;
        out.push(Notification {
            payload,
            recv_ns: r.recv_ns,
            block,
            head,
        });
    }
    Ok((out, skipped))
}

/// Groups consecutive notifications of one block into bursts.
pub fn bursts(notes: &[Notification]) -> Vec<Burst> {
    let mut out: Vec<Burst> = Vec::new();
    for (i, n) in notes.iter().enumerate() {
        match out.last_mut() {
            Some(b) if b.block == n.block => {
                b.len += 1;
                b.logs += usize::from(!n.head);
            }
            _ => out.push(Burst {
                block: n.block,
                first: i,
                len: 1,
                logs: usize::from(!n.head),
            }),
        }
    }
    out
}

/// The plan for `notes` at `pacing`, cut to the bursts due before `limit_ns` (ns into the play).
pub fn plan(notes: &[Notification], pacing: Pacing, limit_ns: u64) -> Plan {
    let all = bursts(notes);
    let mut intended = vec![0u64; notes.len()];
    match pacing {
        Pacing::LogsPerSecond(rate) => {
            let mut logs_before = 0usize;
            for b in &all {
                let at = (logs_before as f64 * 1e9 / rate.max(1e-9)) as u64;
                intended[b.first..=b.last()].fill(at);
                logs_before += b.logs;
            }
        }
        Pacing::Recorded(speed) => {
            let t0 = notes.first().map_or(0, |n| n.recv_ns);
            let mut prev = 0u64;
            for (i, n) in notes.iter().enumerate() {
                // A wall clock can step back (NTP): such a payload is due with the one before.
                let at = (n.recv_ns.saturating_sub(t0) as f64 / speed.max(1e-9)) as u64;
                prev = prev.max(at);
                intended[i] = prev;
            }
        }
    }
    let kept: Vec<Burst> = all
        .into_iter()
        .take_while(|b| intended[b.first] < limit_ns)
        .collect();
    let end = kept.last().map_or(0, |b| b.last() + 1);
    let frames = notes[..end]
        .iter()
        .map(|n| {
            let mut f = Vec::with_capacity(n.payload.len() + 10);
            frame::encode(
                &mut f,
                frame::first_byte(true, frame::opcode::TEXT),
                &n.payload,
                None,
            );
            f
        })
        .collect();
    intended.truncate(end);
    Plan {
        frames,
        intended_ns: intended,
        head: notes[..end].iter().map(|n| n.head).collect(),
        bursts: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rec::Recorded;

    fn note(sub: &str, result: &str, t: u64) -> Recorded {
        Recorded {
            recv_ns: t,
            payload: format!(
                r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{sub}","result":{result}}}}}"#
            )
            .into_bytes(),
        }
    }

    fn sample() -> Vec<Recorded> {
        let head = |n: u64| format!(r#"{{"parentHash":"0x00","number":"{n:#x}"}}"#);
        let log = |n: u64| format!(r#"{{"blockNumber":"{n:#x}","logIndex":"0x0"}}"#);
        vec![
            Recorded {
                recv_ns: 1,
                payload: br#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#.to_vec(),
            },
            note("0xaa", &head(10), 1_000),
            note("0xbb", &log(10), 1_100),
            note("0xbb", &log(10), 1_200),
            note("0xbb", &log(11), 5_000),
            note("0xbb", &log(11), 5_100),
            note("0xaa", &head(11), 5_200),
            note("0xaa", &head(12), 9_000),
            note("0xbb", &log(12), 9_000),
        ]
    }

    #[test]
    fn groups_blocks_rewrites_ids_and_paces() {
        let (notes, skipped) = notifications(&sample()).unwrap();
        assert_eq!((notes.len(), skipped), (8, 1));
        let text = String::from_utf8(notes[0].payload.clone()).unwrap();
        assert!(
            text.contains(HEADS_SUBSCRIPTION) && !text.contains("0xaa"),
            "{text}"
        );
        assert!(String::from_utf8_lossy(&notes[1].payload).contains(LOGS_SUBSCRIPTION));
        let b = bursts(&notes);
        assert_eq!(
            b.iter()
                .map(|b| (b.block, b.len, b.logs))
                .collect::<Vec<_>>(),
            vec![(10, 3, 2), (11, 3, 2), (12, 2, 1)]
        );

        // 2 logs a second: block 11 starts after block 10's two logs (1 s), block 12 after 4.
        let p = plan(&notes, Pacing::LogsPerSecond(2.0), u64::MAX);
        assert_eq!(
            p.intended_ns,
            vec![
                0,
                0,
                0,
                1_000_000_000,
                1_000_000_000,
                1_000_000_000,
                2_000_000_000,
                2_000_000_000
            ]
        );
        assert_eq!(p.logs(), 5);
        let cut = plan(&notes, Pacing::LogsPerSecond(2.0), 2_000_000_000);
        assert_eq!((cut.bursts.len(), cut.frames.len()), (2, 6));

        let p = plan(&notes, Pacing::Recorded(2.0), u64::MAX);
        assert_eq!(p.intended_ns[..3], [0, 50, 100]);
        assert_eq!(p.intended_ns[7], 4_000);
        // A frame is the payload behind a 4-byte header (126..65535 bytes) or a 2-byte one.
        assert_eq!(p.frames[0][0], 0x81);
        assert!(p.frames[0].ends_with(&notes[0].payload));
    }

    #[test]
    fn refuses_notifications_it_cannot_place() {
        let bad = vec![note("0xbb", r#"{"logIndex":"0x0"}"#, 1)];
        assert!(notifications(&bad).unwrap_err().contains("no block number"));
        let bad = vec![Recorded {
            recv_ns: 0,
            payload: b"{oops".to_vec(),
        }];
        assert!(notifications(&bad).unwrap_err().contains("not JSON"));
    }
}
