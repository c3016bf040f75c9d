//! The decoder's known-shape path against its general parser: on every input `decode` answers
//! what `decode_general` answers, and a frame from `decode_known_shape` is the general parser's
//! frame for the same bytes.
//!
//! Input: the first byte picks the mode. Even: the rest is the payload. Odd: a known-shape
//! payload (one of six, by the second byte) is edited by the rest, three bytes per edit
//! (operation, position high and low byte), so the fuzzer spends its time near the shapes the
//! fast path reads instead of rediscovering them.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use polyarb_feeds::{Decoded, decode, decode_general, decode_known_shape};

/// The receive time stamped into frames: any value, the decoder only copies it.
const RECV_NS: u64 = 0x0123_4567_89AB_CDEF;

const SYNC: &str = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
const SWAP: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";
const MINT: &str = "0x7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde";
const BURN: &str = "0x0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c";
const FEE: &str = "0x598b9f043c813aa6be3426ca60d1c65d17256312890be5118dab55b0775ebe2a";

/// A log notification: `order` 0 is geth's (no `blockTimestamp`), 1 geth 1.16's, 2 anvil's.
fn notification(order: u8, topics: &[&str], words: &[String], removed: bool) -> Vec<u8> {
    let topics: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    let (topics, data) = (topics.join(","), words.concat());
    let h = "ab".repeat(32);
    let head = format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x2e4b6a","result":{{"address":"0x45dda9cb7c25131df268515131f647d726f50608","topics":[{topics}],"data":"0x{data}","#
    );
    let tail = match order {
        0 => format!(
            r#""blockNumber":"0x4a1b2c3","transactionHash":"0x{h}","transactionIndex":"0x2e","blockHash":"0x{h}","logIndex":"0x1a5","#
        ),
        1 => format!(
            r#""blockNumber":"0x4a1b2c3","transactionHash":"0x{h}","transactionIndex":"0x2e","blockHash":"0x{h}","blockTimestamp":"0x6b026ba0","logIndex":"0x1a5","#
        ),
        _ => format!(
            r#""blockHash":"0x{h}","blockNumber":"0x4a1b2c3","blockTimestamp":"0x6b026ba0","transactionHash":"0x{h}","transactionIndex":"0x2e","logIndex":"0x1a5","#
        ),
    };
    format!("{head}{tail}\"removed\":{removed}}}}}}}").into_bytes()
}

/// Six payloads the fast path takes: every tracked kind, every order, `removed` both ways.
fn templates() -> &'static [Vec<u8>] {
    static T: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    T.get_or_init(|| {
        let small = |v: u64| format!("{v:064x}");
        let neg = |v: i64| format!("{}{:016x}", "f".repeat(48), v);
        let addr = format!("0x{:0>64}", "11".repeat(20));
        let tick_lo = format!("0x{}", neg(-887_220));
        let tick_hi = format!("0x{}", small(60));
        vec![
            notification(0, &[SYNC], &[small(123_456_789), small(987_654_321)], false),
            notification(1, &[SYNC], &[small(5), small(6)], true),
            notification(
                2,
                &[SWAP, &addr, &addr],
                &[
                    neg(-1_234),
                    small(987),
                    small(1 << 60),
                    small(1 << 40),
                    neg(-197_340),
                ],
                false,
            ),
            notification(
                0,
                &[MINT, &addr, &tick_lo, &tick_hi],
                &[small(7), small(1 << 50), small(1), small(2)],
                false,
            ),
            notification(
                1,
                &[BURN, &addr, &tick_lo, &tick_hi],
                &[small(1 << 50), small(1), small(2)],
                true,
            ),
            notification(2, &[FEE], &[small(7_550)], false),
        ]
    })
}

/// Applies three-byte edits to `p`: replace, insert, delete a byte, or cut the payload short.
fn edit(p: &mut Vec<u8>, edits: &[u8]) {
    for e in edits.chunks_exact(3) {
        let (op, at) = (e[0], usize::from(u16::from_be_bytes([e[1], e[2]])));
        // The operation's high bits give the byte written.
        let b = op >> 2;
        let b = match b % 8 {
            0 => b'"',
            1 => b'\\',
            2 => b' ',
            3 => b',',
            4 => b'}',
            5 => b'0',
            6 => b'g',
            _ => b.wrapping_mul(37),
        };
        match op % 4 {
            0 if !p.is_empty() => {
                let i = at % p.len();
                p[i] = b;
            }
            1 => {
                let i = at % (p.len() + 1);
                p.insert(i, b);
            }
            2 if !p.is_empty() => {
                p.remove(at % p.len());
            }
            3 if !p.is_empty() => p.truncate(at % p.len()),
            _ => {}
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let owned;
    let payload: &[u8] = if mode % 2 == 0 {
        rest
    } else {
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        let t = templates();
        let mut p = t[usize::from(pick) % t.len()].clone();
        edit(&mut p, edits);
        owned = p;
        &owned
    };
    let general = decode_general(payload, RECV_NS);
    assert_eq!(
        decode(payload, RECV_NS),
        general,
        "decode is the general parser's answer"
    );
    if let Some(f) = decode_known_shape(payload, RECV_NS) {
        assert_eq!(
            general,
            Ok(Decoded::Frame(f)),
            "a known-shape frame is the general parser's frame"
        );
    }
    // An unedited template is a frame, and the fast path takes it.
    if mode % 2 == 1 && rest.len() == 1 {
        assert!(decode_known_shape(payload, RECV_NS).is_some());
    }
});
