//! The websocket frame codec over arbitrary server bytes: never panics, honours its message limit,
//! gives the same events however the bytes are split across reads, and only ever queues
//! well-formed masked client frames (pongs, close replies).
//!
//! Input: byte 0 picks `max_message`, byte 1 `read_chunk`, byte 2 the read size of the split pass;
//! the rest is what the server sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyarb_feeds::{ProtocolError, WsConfig, WsConn, WsEvent};

/// An event, owned, for comparing two passes.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Message { text: bool, payload: Vec<u8> },
    Close { code: Option<u16>, reason: Vec<u8> },
    Failed(ProtocolError),
}

fuzz_target!(|data: &[u8]| {
    let [m, r, split, stream @ ..] = data else {
        return;
    };
    // Small limits reach the too-large and buffer-growth paths with small inputs; 255 keeps the
    // default (64 MiB), as the live client runs.
    let cfg = match m {
        255 => WsConfig::default(),
        _ => WsConfig {
            max_message: usize::from(*m) * 8,
            read_chunk: usize::from(*r % 64),
        },
    };
    let whole = run(cfg, stream, stream.len().max(1));
    let parts = run(cfg, stream, usize::from(*split % 32) + 1);
    assert_eq!(whole, parts, "events depend on how the bytes were split");
});

/// Feeds `stream` in reads of `step` bytes, draining events (and the output) after each.
fn run(cfg: WsConfig, stream: &[u8], step: usize) -> Vec<Ev> {
    // Masks come from the OS as live; they change only the output bytes, never the events or
    // the frame layout checked here, so runs still repeat.
    let mut conn = WsConn::new(cfg).expect("os random source");
    let mut evs = Vec::new();
    for chunk in stream.chunks(step) {
        conn.feed(chunk);
        loop {
            match conn.next_event() {
                Ok(None) => break,
                Ok(Some(WsEvent::Message { text, payload })) => {
                    assert!(payload.len() <= cfg.max_message, "message over the limit");
                    evs.push(Ev::Message {
                        text,
                        payload: payload.to_vec(),
                    });
                }
                Ok(Some(WsEvent::Close { code, reason })) => {
                    let reason = reason.to_vec();
                    assert!(conn.is_closed());
                    evs.push(Ev::Close { code, reason });
                }
                Err(e) => {
                    // A dead connection keeps reporting its first error.
                    assert_eq!(conn.next_event(), Err(e));
                    evs.push(Ev::Failed(e));
                    check_client_frames(conn.pending());
                    return evs;
                }
            }
        }
        check_client_frames(conn.pending());
        let n = conn.pending().len();
        conn.written(n);
    }
    evs
}

/// Every queued frame is a final, masked client frame with a control opcode (the codec only
/// queues pongs and close replies on its own), and the frames tile the buffer exactly.
fn check_client_frames(mut b: &[u8]) {
    while !b.is_empty() {
        assert!(b.len() >= 2, "truncated frame header");
        assert_eq!(b[0] & 0xF0, 0x80, "FIN set, no reserved bits");
        assert!(
            matches!(b[0] & 0x0F, 0x8 | 0xA),
            "only close or pong is queued"
        );
        assert_ne!(b[1] & 0x80, 0, "client frames are masked");
        let len = usize::from(b[1] & 0x7F);
        assert!(len <= 125, "control payloads fit the short length");
        assert!(b.len() >= 2 + 4 + len, "frame runs past the buffer");
        b = &b[2 + 4 + len..];
    }
}
