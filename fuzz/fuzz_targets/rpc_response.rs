//! The JSON-RPC response path of the clients: `decode` finds a response and borrows its reply,
//! then the blocking helpers read it with `serde_json` and the live loop with `quantity_result`.
//! None of them may panic; a quantity read back round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use polyarb_feeds::{Decoded, Reply, decode, quantity_result};

fuzz_target!(|payload: &[u8]| {
    // The reply text alone, as `quantity_result` is also handed raw results.
    check_result(payload);
    if let Ok(Decoded::Response(r)) = decode(payload, 0) {
        match r.reply {
            Reply::Result(raw) => check_result(raw),
            Reply::Error(raw) => {
                // What `RpcClient` does with an error object (`reply_value`).
                let _ = serde_json::from_slice::<serde_json::Value>(raw);
            }
        }
    }
});

fn check_result(raw: &[u8]) {
    let _ = serde_json::from_slice::<serde_json::Value>(raw);
    if let Ok(n) = quantity_result(raw) {
        // Canonical form of the same quantity reads back to the same number.
        let canon = format!("\"{n:#x}\"");
        assert_eq!(quantity_result(canon.as_bytes()).ok(), Some(n));
        // And what was accepted is a quoted hex string with the prefix the hex reader takes:
        // `0x`, or `0X` (feeds/src/hex.rs accepts either case, on purpose).
        let t = raw.trim_ascii();
        assert!(
            (t.starts_with(b"\"0x") || t.starts_with(b"\"0X")) && t.ends_with(b"\""),
            "accepted {t:?}"
        );
    }
}
