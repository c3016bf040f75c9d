//! The hot-path decoder over arbitrary payloads: never panics, and what it returns is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyarb_core::FrameKind;
use polyarb_feeds::{Decoded, Reply, decode};

/// The receive time stamped into frames: any value, the decoder only copies it.
const RECV_NS: u64 = 0x0123_4567_89AB_CDEF;

fuzz_target!(|payload: &[u8]| {
    let out = decode(payload, RECV_NS);
    // Pure: a second pass over the same bytes gives the same answer.
    assert_eq!(out, decode(payload, RECV_NS));
    match out {
        Ok(Decoded::Frame(f)) => {
            assert_ne!(
                f.kind,
                FrameKind::Empty,
                "the decoder never emits an empty frame"
            );
            assert_eq!(f.recv_ns, RECV_NS);
            assert!(f.removed <= 1, "removed is a flag");
            if f.kind == FrameKind::ClSwap {
                assert!((-(1 << 23)..1 << 23).contains(&f.tick), "tick is an int24");
            }
        }
        Ok(Decoded::Response(r)) => {
            let (Reply::Result(raw) | Reply::Error(raw)) = r.reply;
            assert!(within(payload, raw), "a reply borrows from the payload");
            assert!(!raw.is_empty(), "a reply is a JSON value");
        }
        Ok(Decoded::Ignored(_)) | Err(_) => {}
    }
});

/// True if `part` lies inside `whole` (pointer ranges, so a copy would not pass).
fn within(whole: &[u8], part: &[u8]) -> bool {
    let w = whole.as_ptr_range();
    let p = part.as_ptr_range();
    w.start <= p.start && p.end <= w.end
}
