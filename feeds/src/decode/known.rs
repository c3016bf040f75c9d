//! The known-shape path: a log notification in the exact bytes a geth-family node or anvil
//! writes, read at fixed places instead of key by key.
//!
//! geth (and Bor, its fork) marshal a log with a generated encoder, fields in struct order and
//! no whitespace (`core/types/gen_log_json.go`): `address`, `topics`, `data`, `blockNumber`,
//! `transactionHash`, `transactionIndex`, `blockHash`, `blockTimestamp` (geth 1.16 on; older
//! releases and Bor leave it out), `logIndex`, `removed`. anvil writes `address`, `topics`,
//! `data`, `blockHash`, `blockNumber`, `blockTimestamp`, `transactionHash`, `transactionIndex`,
//! `logIndex`, `removed` (data/sample.rec). Both wrap it in the same envelope:
//! `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x…","result":{…}}}`
//! (geth's `rpc/subscription.go`: `jsonrpc`, `method`, `params`; `subscription`, `result`).
//!
//! The reader matches the literal key sequence, takes each value's bytes, and hands the same
//! [`Fields`] the general parser would have built to the same [`tracked_log`]. It answers only
//! with a frame: on any other byte (key order, whitespace, an extra key, an escape, a value of
//! another width, an untracked topic, a field the frame check refuses) it answers `None` and
//! [`super::decode`] runs the general parser, so errors and ignored payloads always come from
//! there.
//!
//! Why an accepted payload reads exactly as the general parser reads it: every value the reader
//! takes is either checked here to be a plain JSON string body (no quote, backslash or control
//! byte: the subscription id, `transactionHash`) or hex-checked in full by [`tracked_log`]
//! (address, every topic, every data word, `blockHash`, the quantities) before a frame comes
//! out; so the payload is valid JSON with these members and no others, and the general parser
//! fills [`Fields`] with the same slices.

use super::{Event, Fields, WORD_DIGITS, tracked_log};
use crate::hex;
use crate::json::{JStr, find_stop};
use polyarb_core::FeedFrame;

/// Everything before the subscription id's digits.
const ENVELOPE: &[u8] =
    br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":""#;
/// From the subscription id's closing quote to the address's digits.
const ADDRESS: &[u8] = br#"","result":{"address":""#;
const TOPICS: &[u8] = br#"","topics":[""#;
/// Between two topics.
const NEXT_TOPIC: &[u8] = br#"",""#;
const DATA: &[u8] = br#""],"data":""#;
/// A value's closing quote, before an optional member.
const QUOTE: &[u8] = b"\"";
const BLOCK_NUMBER: &[u8] = br#","blockNumber":""#;
const BLOCK_HASH: &[u8] = br#","blockHash":""#;
const BLOCK_TIMESTAMP: &[u8] = br#","blockTimestamp":""#;
const TX_HASH: &[u8] = br#","transactionHash":""#;
const TX_INDEX: &[u8] = br#"","transactionIndex":""#;
const LOG_INDEX: &[u8] = br#","logIndex":""#;
const REMOVED: &[u8] = br#"","removed":"#;
/// Closes `result`, `params` and the envelope; nothing may follow.
const END_TRUE: &[u8] = b"true}}}";
const END_FALSE: &[u8] = b"false}}}";

/// `0x` and 40 digits.
const ADDRESS_CHARS: usize = 2 + 40;
/// `0x` and 64 digits: a topic or a block hash.
const HASH_CHARS: usize = 2 + 64;
/// Longest quantity taken here: `0x` and 16 digits (a `u64` without leading zeros, as geth and
/// anvil write them). A longer one is left to the general parser.
const MAX_QUANTITY_CHARS: usize = 2 + 16;

/// A cursor over the payload. Every read is bounds-checked and answers `None` past the end.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Consumes `lit` if the payload continues with exactly it.
    #[inline(always)]
    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i + lit.len();
        if self.b.get(self.i..end)? == lit {
            self.i = end;
            Some(())
        } else {
            None
        }
    }

    /// Takes the next `n` bytes as a string body. Not checked here: [`tracked_log`] hex-checks
    /// every value taken this way, and a quote or escape is no hex digit.
    #[inline(always)]
    fn fixed(&mut self, n: usize) -> Option<JStr<'a>> {
        let end = self.i + n;
        let raw = self.b.get(self.i..end)?;
        self.i = end;
        Some(plain(raw))
    }

    /// Takes a quantity's body, up to the next quote (not consumed; at most
    /// [`MAX_QUANTITY_CHARS`]). Hex-checked by [`tracked_log`].
    #[inline(always)]
    fn quantity(&mut self) -> Option<JStr<'a>> {
        let rest = self.b.get(self.i..)?;
        let window = rest.get(..MAX_QUANTITY_CHARS + 1).unwrap_or(rest);
        let n = window.iter().position(|&c| c == b'"')?;
        self.i += n;
        Some(plain(&rest[..n]))
    }

    /// Skips a string body that nothing reads (the subscription id, the transaction hash), up
    /// to its closing quote (not consumed). It must be plain, no escape or control byte, which
    /// makes it the same string to the general parser.
    #[inline(always)]
    fn skip_plain(&mut self) -> Option<()> {
        let k = find_stop(self.b, self.i)?;
        if self.b[k] != b'"' {
            return None;
        }
        self.i = k;
        Some(())
    }

    /// A quantity and its closing quote.
    #[inline(always)]
    fn quantity_member(&mut self) -> Option<JStr<'a>> {
        let q = self.quantity()?;
        self.lit(QUOTE)?;
        Some(q)
    }

    /// A 32-byte hash and its closing quote.
    #[inline(always)]
    fn hash_member(&mut self) -> Option<JStr<'a>> {
        let h = self.fixed(HASH_CHARS)?;
        self.lit(QUOTE)?;
        Some(h)
    }

    /// `"transactionHash":"…","transactionIndex":"…"`: the hash skipped, the index kept.
    #[inline(always)]
    fn transaction(&mut self, f: &mut Fields<'a>) -> Option<()> {
        self.lit(TX_HASH)?;
        self.skip_plain()?;
        self.lit(TX_INDEX)?;
        f.tx_index = Some(self.quantity_member()?);
        Some(())
    }

    /// An optional `"blockTimestamp":"…"` (geth 1.16 on, anvil).
    #[inline(always)]
    fn timestamp(&mut self, f: &mut Fields<'a>) -> Option<()> {
        if self.lit(BLOCK_TIMESTAMP).is_some() {
            f.block_timestamp = Some(self.quantity_member()?);
        }
        Some(())
    }

    /// `true` or `false`, then the envelope's end and the payload's.
    #[inline(always)]
    fn removed_and_end(&mut self) -> Option<bool> {
        let rest = self.b.get(self.i..)?;
        if rest == END_FALSE {
            Some(false)
        } else if rest == END_TRUE {
            Some(true)
        } else {
            None
        }
    }
}

/// A string body taken verbatim: the reader only takes bodies without escapes.
#[inline(always)]
fn plain(raw: &[u8]) -> JStr<'_> {
    JStr {
        raw,
        escaped: false,
    }
}

/// Reads a log notification in geth's or anvil's exact byte shape (module docs). `Some` only
/// for a frame, and then exactly the frame [`super::decode_general`] reads from the same bytes;
/// `None` for anything else, which [`super::decode`] hands to the general parser. Allocates
/// nothing and never panics. Public for differential tests, benches and fuzzing; callers want
/// [`super::decode`].
#[inline]
pub fn decode_known_shape(payload: &[u8], recv_ns: u64) -> Option<FeedFrame> {
    let mut c = Cursor { b: payload, i: 0 };
    let mut f = Fields::default();
    c.lit(ENVELOPE)?;
    c.skip_plain()?;
    c.lit(ADDRESS)?;
    f.address = Some(c.fixed(ADDRESS_CHARS)?);
    c.lit(TOPICS)?;
    let t0 = c.fixed(HASH_CHARS)?;
    f.topics[0] = Some(t0);
    f.topic_count = 1;
    while c.lit(NEXT_TOPIC).is_some() {
        // More than LOG4 allows is no tracked event: the general parser says which error.
        let slot = f.topics.get_mut(f.topic_count)?;
        *slot = Some(c.fixed(HASH_CHARS)?);
        f.topic_count += 1;
    }
    c.lit(DATA)?;
    // The data's width follows from the event: a tracked topic0 and `0x` plus its words. Any
    // other width puts a byte other than the closing quote where the quote is expected below.
    let mut topic0 = [0u8; 32];
    hex::decode_fixed(t0.raw, &mut topic0).ok()?;
    let event = Event::of(&topic0)?;
    f.data = Some(c.fixed(2 + WORD_DIGITS * event.data_words())?);
    c.lit(QUOTE)?;
    if c.lit(BLOCK_NUMBER).is_some() {
        // geth and Bor: number, transaction, hash, timestamp.
        f.block_number = Some(c.quantity_member()?);
        c.transaction(&mut f)?;
        c.lit(BLOCK_HASH)?;
        f.block_hash = Some(c.hash_member()?);
        c.timestamp(&mut f)?;
    } else {
        // anvil: hash, number, timestamp, transaction.
        c.lit(BLOCK_HASH)?;
        f.block_hash = Some(c.hash_member()?);
        c.lit(BLOCK_NUMBER)?;
        f.block_number = Some(c.quantity_member()?);
        c.timestamp(&mut f)?;
        c.transaction(&mut f)?;
    }
    c.lit(LOG_INDEX)?;
    f.log_index = Some(c.quantity()?);
    c.lit(REMOVED)?;
    f.removed = Some(c.removed_and_end()?);
    tracked_log(&f, event, recv_ns).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{
        AT, At, BLOCK_HASH, FrameExt, Order, POOL, TX_HASH, a_burn, a_fee, a_mint, a_swap,
        cl_frame, event_json, geth_sync, log_json, position_frame, raw, raw_json, swap_frame,
        sync_data, u256w,
    };
    use crate::decode::{Decoded, decode, decode_general};
    use alloy_primitives::U256;
    use polyarb_core::FrameKind;
    use polyarb_tools::abi::IUniswapV2Pair;

    const ORDERS: [Order; 3] = [Order::Geth, Order::GethTimestamp, Order::Anvil];

    /// Asserts the three entry points agree on `p`, and returns what the known-shape path said.
    fn agree(p: &[u8]) -> Option<FeedFrame> {
        let general = decode_general(p, 3);
        let known = decode_known_shape(p, 3);
        if let Some(f) = known {
            assert_eq!(
                general,
                Ok(Decoded::Frame(f)),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        assert_eq!(decode(p, 3), general, "{}", String::from_utf8_lossy(p));
        known
    }

    /// One notification of every tracked kind in `order`, with the frame the ABI oracle (alloy's
    /// encoder, the values it encoded) says it carries.
    fn every_kind(order: Order, at: At) -> Vec<(String, FeedFrame)> {
        let sync = IUniswapV2Pair::Sync {
            reserve0: alloy_primitives::Uint::from(0x3a1c_5c4f_8d1e_u64),
            reserve1: alloy_primitives::Uint::from((1u128 << 112) - 1),
        };
        let mut sync_frame = cl_frame(FrameKind::V2Sync, &[], at, 3).timed(order);
        sync_frame.words[0] = u256w(U256::from(0x3a1c_5c4f_8d1e_u64));
        sync_frame.words[1] = u256w(U256::from((1u128 << 112) - 1));
        let (s, m, b, fee) = (a_swap(), a_mint(), a_burn(), a_fee());
        vec![
            (event_json(&sync, POOL, at, order), sync_frame),
            (
                event_json(&s, POOL, at, order),
                swap_frame(&s, at, 3).timed(order),
            ),
            (
                event_json(&m, POOL, at, order),
                position_frame(FrameKind::ClMint, m.tickLower, m.tickUpper, m.amount, at)
                    .with_recv(3)
                    .timed(order),
            ),
            (
                event_json(&b, POOL, at, order),
                position_frame(FrameKind::ClBurn, b.tickLower, b.tickUpper, b.amount, at)
                    .with_recv(3)
                    .timed(order),
            ),
            (
                event_json(&fee, POOL, at, order),
                cl_frame(FrameKind::AlgebraFee, &[u256w(U256::from(fee.fee))], at, 3).timed(order),
            ),
        ]
    }

    trait Recv {
        fn with_recv(self, recv: u64) -> Self;
    }

    impl Recv for FeedFrame {
        fn with_recv(mut self, recv: u64) -> Self {
            self.recv_ns = recv;
            self
        }
    }

    #[test]
    fn every_kind_in_every_order_takes_the_known_path() {
        for order in ORDERS {
            for removed in [false, true] {
                for (p, want) in every_kind(order, At { removed, ..AT }) {
                    assert_eq!(decode_known_shape(p.as_bytes(), 3), Some(want), "{p}");
                    assert_eq!(agree(p.as_bytes()), Some(want));
                }
            }
        }
    }

    #[test]
    fn the_recorded_anvil_payloads_take_the_known_path() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/sample.rec");
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let mut reader = crate::RecordReader::new(file).unwrap();
        let (mut logs, mut heads) = (0, 0);
        while let Some(r) = reader.next_ref() {
            let r = r.unwrap();
            match agree(r.payload) {
                Some(_) => logs += 1,
                None => {
                    assert!(matches!(
                        decode_general(r.payload, 3),
                        Ok(Decoded::Frame(FeedFrame {
                            kind: FrameKind::NewHead,
                            ..
                        }))
                    ));
                    heads += 1;
                }
            }
        }
        // The sample's 2,435 logs all take it; its 500 heads are left to the general parser.
        assert_eq!((logs, heads), (2_435, 500));
    }

    /// Each change leaves valid JSON the general parser reads the same (or refuses the same
    /// way), but not in the known shape: the fast path must step aside.
    #[test]
    fn deviations_fall_back() {
        let good = log_json(
            POOL,
            &[crate::decode::tests::SYNC_HEX.to_owned()],
            &sync_data(5, 6),
            AT,
            Order::Geth,
        );
        assert!(agree(good.as_bytes()).is_some());
        let swapped = good.replace(
            &format!("\"blockHash\":\"{BLOCK_HASH}\",\"logIndex\":\"0x1a5\""),
            &format!("\"logIndex\":\"0x1a5\",\"blockHash\":\"{BLOCK_HASH}\""),
        );
        let cases: Vec<String> = vec![
            // Key order: two members swapped, the envelope's members swapped.
            swapped,
            good.replace(
                "\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\"",
                "\"method\":\"eth_subscription\",\"jsonrpc\":\"2.0\"",
            ),
            // Whitespace: after a colon, before the first key, at the end.
            good.replace("\"address\":", "\"address\": "),
            good.replacen('{', "{ ", 1),
            format!("{good}\n"),
            format!(" {good}"),
            // An unknown extra member, in the log and in the envelope; an id in the envelope.
            good.replace("\"removed\"", "\"foo\":1,\"removed\""),
            good.replace("\"params\"", "\"x\":null,\"params\""),
            good.replace("\"jsonrpc\":\"2.0\",", "\"jsonrpc\":\"2.0\",\"id\":1,"),
            // Another envelope value: a method, a version.
            good.replace("eth_subscription", "eth_subscriptioN"),
            good.replace("\"2.0\"", "\"1.0\""),
            // An escaped key, an escape inside a skipped and a read value.
            good.replace("\"logIndex\"", "\"log\\u0049ndex\""),
            good.replace(TX_HASH, &format!("{}\\u0030", &TX_HASH[..62])),
            good.replace("\"0x1a5\"", "\"0x1a\\u0035\""),
            // Quantities with leading zeros past 16 digits, null, a number.
            good.replace("\"0x1a5\"", "\"0x00000000000000001a5\""),
            good.replace("\"0x1a5\"", "null"),
            good.replace("\"0x4a1b2c3\"", "19"),
            // `removed` null or absent; `blockHash` null.
            good.replace("\"removed\":false", "\"removed\":null"),
            good.replace(",\"removed\":false", ""),
            good.replace(&format!("\"{BLOCK_HASH}\""), "null"),
            // An untracked topic, an anonymous log, five topics.
            good.replace("0x1c411e9a", "0x1c411e9b"),
            good.replace(&format!("[\"{}\"]", crate::decode::tests::SYNC_HEX), "[]"),
            good.replace(
                &format!("[\"{}\"]", crate::decode::tests::SYNC_HEX),
                &format!(
                    "[\"{}\"{}]",
                    crate::decode::tests::SYNC_HEX,
                    format!(",\"{TX_HASH}\"").repeat(4)
                ),
            ),
            // Values the frame check refuses: a reserve past uint112, data a word short,
            // a bad digit in the address, a log index past u32.
            good.replace(&sync_data(5, 6), &sync_data(1 << 112, 6)),
            good.replace(&sync_data(5, 6), &sync_data(5, 6)[..66]),
            good.replace(&POOL[..8], "0x45ddz9"),
            good.replace("\"0x1a5\"", "\"0x100000000\""),
            // A subscription id with an escape or a control byte.
            good.replace("\"subscription\":\"0x", "\"subscription\":\"\\n0x"),
            good.replace("\"subscription\":\"0x", "\"subscription\":\"\t0x"),
        ];
        for p in cases {
            assert_eq!(agree(p.as_bytes()), None, "{p}");
        }
    }

    /// Accepted on purpose: differences the general parser reads the same way.
    #[test]
    fn same_reading_variants_stay_fast() {
        let good = log_json(
            POOL,
            &[crate::decode::tests::SYNC_HEX.to_owned()],
            &sync_data(5, 6),
            AT,
            Order::GethTimestamp,
        );
        for p in [
            // Upper-case digits, an `0X` prefix (the hex reader takes both), a short or empty
            // subscription id, leading zeros within 16 digits.
            good.replace(POOL, &POOL.to_uppercase().replacen("0X", "0x", 1)),
            good.replace(&sync_data(5, 6), &sync_data(5, 6).replacen("0x", "0X", 1)),
            good.replace("\"0xcd0c3e8af590364c09d0fa6a1210faf5\"", "\"0x0\""),
            good.replace("\"0xcd0c3e8af590364c09d0fa6a1210faf5\"", "\"\""),
            good.replace("\"0x1a5\"", "\"0x00001a5\""),
        ] {
            assert!(agree(p.as_bytes()).is_some(), "{p}");
        }
    }

    #[test]
    fn every_truncation_falls_back() {
        for order in ORDERS {
            for (p, _) in every_kind(order, AT) {
                let p = p.as_bytes();
                for cut in 0..p.len() {
                    assert_eq!(agree(&p[..cut]), None, "cut at {cut}");
                    assert!(decode(&p[..cut], 0).is_err(), "cut at {cut}");
                }
            }
        }
    }

    /// Every byte of every shape replaced by each of a few bytes that matter to JSON or hex:
    /// the paths agree, and the known path takes only what reads the same.
    #[test]
    fn every_single_byte_change_agrees() {
        for order in ORDERS {
            for (p, _) in every_kind(order, AT) {
                let mut bytes = p.into_bytes();
                for i in 0..bytes.len() {
                    let was = bytes[i];
                    for b in [b'"', b'\\', b' ', b',', b'}', b'0', b'f', b'F', b'g', 0] {
                        bytes[i] = b;
                        agree(&bytes);
                    }
                    bytes[i] = was;
                }
            }
        }
    }

    #[test]
    fn raw_logs_with_the_wrong_layout_fall_back() {
        // One topic too many, one word too few: the general parser's errors, not a misread.
        let (mut topics, data) = raw(&a_swap());
        topics.push([7; 32]);
        assert_eq!(agree(raw_json(&topics, &data).as_bytes()), None);
        let (topics, data) = raw(&a_mint());
        assert_eq!(
            agree(raw_json(&topics, &data[..data.len() - 32]).as_bytes()),
            None
        );
        assert!(agree(geth_sync().as_bytes()).is_some());
    }
}
