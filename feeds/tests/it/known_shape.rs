//! The known-shape path held against the general parser: random log notifications in the byte
//! shapes geth, Bor and anvil send, then random mutations of them. Whatever the bytes,
//! `decode` answers what `decode_general` answers, and a frame from `decode_known_shape` is the
//! general parser's frame. Unmutated payloads that decode to a frame must take the known path.

use polyarb_feeds::{
    BURN_TOPIC, Decoded, FEE_TOPIC, MINT_TOPIC, SWAP_TOPIC, SYNC_TOPIC, decode, decode_general,
    decode_known_shape,
};
use proptest::prelude::*;

/// The key orders of a log object that the known path reads.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// geth before 1.16, Bor: no `blockTimestamp`.
    Geth,
    /// geth 1.16 on: `blockTimestamp` between `blockHash` and `logIndex`.
    GethTimestamp,
    /// anvil: `blockHash` after `data`, `blockTimestamp` after `blockNumber`.
    Anvil,
    /// anvil's order without `blockTimestamp`.
    AnvilUntimed,
}

/// One generated log: its members as (key, JSON value), in order, and the envelope's id.
#[derive(Clone, Debug)]
struct Log {
    subscription: String,
    members: Vec<(String, String)>,
}

impl Log {
    fn json(&self) -> String {
        let body: Vec<String> = self
            .members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!(
            r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{}","result":{{{}}}}}}}"#,
            self.subscription,
            body.join(",")
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

fn quoted(s: String) -> String {
    format!("\"{s}\"")
}

/// A 32-byte word that is often a valid value of some ABI type (a small unsigned number, a
/// sign-extended negative one) and sometimes any 32 bytes.
fn word() -> impl Strategy<Value = [u8; 32]> {
    prop_oneof![
        // Up to 3 low bytes fit every type the frames read (int24 ticks, uint16 fees); up to
        // 20 reach past some (uint112 reserves, uint128 liquidity).
        3 => (
            prop::sample::select(vec![0u8, 0xff]),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..=3),
                prop::collection::vec(any::<u8>(), 0..=20),
            ],
        )
            .prop_map(|(fill, low)| {
                let mut w = [fill; 32];
                w[32 - low.len()..].copy_from_slice(&low);
                // A negative fill needs a negative low part to be a valid signed value.
                if fill == 0xff && !low.is_empty() {
                    w[32 - low.len()] |= 0x80;
                }
                w
            }),
        1 => any::<[u8; 32]>(),
    ]
}

/// A quantity that usually fits its field (u32 indexes) and sometimes does not.
fn quantity() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u32>().prop_map(u64::from),
        1 => any::<u64>(),
    ]
}

/// A log notification of a tracked kind (or, rarely, an untracked topic0), in one of the
/// shapes the known path reads.
fn arb_log() -> impl Strategy<Value = Log> {
    let topic0 = prop_oneof![
        Just(SYNC_TOPIC),
        Just(SWAP_TOPIC),
        Just(MINT_TOPIC),
        Just(BURN_TOPIC),
        Just(FEE_TOPIC),
        any::<[u8; 32]>(),
    ];
    let order = prop::sample::select(vec![
        Order::Geth,
        Order::GethTimestamp,
        Order::Anvil,
        Order::AnvilUntimed,
    ]);
    (
        topic0,
        prop::collection::vec(word(), 4),
        prop::collection::vec(word(), 5),
        order,
        (any::<u64>(), quantity(), quantity(), any::<u32>()),
        (any::<[u8; 20]>(), any::<[u8; 32]>(), any::<[u8; 32]>()),
        (any::<bool>(), any::<u128>(), 1usize..=32, any::<bool>()),
    )
        .prop_map(
            |(
                t0,
                words,
                data,
                order,
                (block, tx, log, time),
                (addr, tx_hash, block_hash),
                extra,
            )| {
                let (removed, sub, sub_len, upper) = extra;
                // Topics and data words as the event declares them (topic count, data length).
                let (topics, words_n) = match t0 {
                    t if t == SYNC_TOPIC => (1, 2),
                    t if t == SWAP_TOPIC => (3, 5),
                    t if t == MINT_TOPIC => (4, 4),
                    t if t == BURN_TOPIC => (4, 3),
                    t if t == FEE_TOPIC => (1, 1),
                    _ => (2, 2),
                };
                let mut all_topics = vec![quoted(hex(&t0))];
                all_topics.extend(words[..topics - 1].iter().map(|w| quoted(hex(w))));
                let data: Vec<u8> = data[..words_n].concat();
                let mut address = hex(&addr);
                if upper {
                    // Upper-case digits: the hex reader takes them, and so must both paths.
                    address = format!("0x{}", address[2..].to_uppercase());
                }
                let m = |k: &str, v: String| (k.to_owned(), v);
                let address = m("address", quoted(address));
                let topics = m("topics", format!("[{}]", all_topics.join(",")));
                let data = m("data", quoted(hex(&data)));
                let number = m("blockNumber", quoted(format!("{block:#x}")));
                let tx_hash = m("transactionHash", quoted(hex(&tx_hash)));
                let tx_index = m("transactionIndex", quoted(format!("{tx:#x}")));
                let block_hash = m("blockHash", quoted(hex(&block_hash)));
                let timestamp = m("blockTimestamp", quoted(format!("{time:#x}")));
                let log_index = m("logIndex", quoted(format!("{log:#x}")));
                let removed = m("removed", removed.to_string());
                let members = match order {
                    Order::Geth => vec![
                        address, topics, data, number, tx_hash, tx_index, block_hash, log_index,
                        removed,
                    ],
                    Order::GethTimestamp => vec![
                        address, topics, data, number, tx_hash, tx_index, block_hash, timestamp,
                        log_index, removed,
                    ],
                    Order::Anvil => vec![
                        address, topics, data, block_hash, number, timestamp, tx_hash, tx_index,
                        log_index, removed,
                    ],
                    Order::AnvilUntimed => vec![
                        address, topics, data, block_hash, number, tx_hash, tx_index, log_index,
                        removed,
                    ],
                };
                // geth's ids are `0x` and up to 32 digits without leading zeros.
                let digits = format!("{sub:032x}");
                let subscription = format!("0x{}", &digits[32 - sub_len..]);
                Log {
                    subscription,
                    members,
                }
            },
        )
}

/// A change to a generated payload.
#[derive(Clone, Debug)]
enum Mutation {
    /// One byte replaced.
    Replace(prop::sample::Index, u8),
    /// One byte inserted.
    Insert(prop::sample::Index, u8),
    /// One byte removed.
    Delete(prop::sample::Index),
    /// The payload cut short.
    Truncate(prop::sample::Index),
    /// Two neighbouring members of the log swapped.
    SwapMembers(prop::sample::Index),
    /// An extra member inserted into the log.
    ExtraMember(prop::sample::Index, &'static str),
    /// A member left out.
    DropMember(prop::sample::Index),
    /// A member's value replaced by another JSON value.
    OtherValue(prop::sample::Index, &'static str),
}

/// Bytes that matter to JSON and hex, and any byte.
fn mutation_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"\"\\ \n\t,:{}[]0aAfFgxX".to_vec()),
        any::<u8>(),
    ]
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<prop::sample::Index>;
    let value = prop::sample::select(vec![
        "null",
        "1",
        "true",
        "\"0x\"",
        "\"\"",
        "[]",
        "{\"a\":[1]}",
        "\"0x1\"",
    ]);
    prop_oneof![
        (i(), mutation_byte()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (i(), mutation_byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        i().prop_map(Mutation::Delete),
        i().prop_map(Mutation::Truncate),
        i().prop_map(Mutation::SwapMembers),
        (i(), value.clone()).prop_map(|(at, v)| Mutation::ExtraMember(at, v)),
        i().prop_map(Mutation::DropMember),
        (i(), value).prop_map(|(at, v)| Mutation::OtherValue(at, v)),
    ]
}

/// Applies a member-level mutation to `log`; byte-level ones are left to [`apply_bytes`].
fn apply_members(log: &mut Log, m: &Mutation) {
    let n = log.members.len();
    match m {
        Mutation::SwapMembers(at) => {
            let i = at.index(n - 1);
            log.members.swap(i, i + 1);
        }
        Mutation::ExtraMember(at, v) => {
            log.members
                .insert(at.index(n + 1), ("extra".to_owned(), (*v).to_owned()));
        }
        Mutation::DropMember(at) if n > 1 => {
            log.members.remove(at.index(n));
        }
        Mutation::OtherValue(at, v) => log.members[at.index(n)].1 = (*v).to_owned(),
        _ => {}
    }
}

/// Applies a byte-level mutation to `p`; member-level ones are left to [`apply_members`].
fn apply_bytes(p: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::Replace(at, b) if !p.is_empty() => {
            let i = at.index(p.len());
            p[i] = b;
        }
        Mutation::Insert(at, b) => p.insert(at.index(p.len() + 1), b),
        Mutation::Delete(at) if !p.is_empty() => {
            p.remove(at.index(p.len()));
        }
        Mutation::Truncate(at) if !p.is_empty() => p.truncate(at.index(p.len())),
        _ => {}
    }
}

/// The three entry points agree on `p`; returns whether the known path took it.
fn check(p: &[u8], recv_ns: u64) -> Result<bool, TestCaseError> {
    let general = decode_general(p, recv_ns);
    prop_assert_eq!(decode(p, recv_ns), general);
    let known = decode_known_shape(p, recv_ns);
    if let Some(f) = known {
        prop_assert_eq!(general, Ok(Decoded::Frame(f)));
    }
    Ok(known.is_some())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// An unmutated payload takes the known path exactly when it decodes to a frame.
    #[test]
    fn known_shapes_take_the_known_path(log in arb_log(), recv_ns in any::<u64>()) {
        let p = log.json().into_bytes();
        let took = check(&p, recv_ns)?;
        let framed = matches!(decode_general(&p, recv_ns), Ok(Decoded::Frame(_)));
        prop_assert_eq!(took, framed, "{}", String::from_utf8_lossy(&p));
    }

    /// Up to three mutations: whatever the bytes, the paths agree.
    #[test]
    fn mutated_shapes_agree(
        log in arb_log(),
        mutations in prop::collection::vec(arb_mutation(), 1..=3),
        recv_ns in any::<u64>(),
    ) {
        // Member-level mutations first (they rebuild the text), then the byte-level ones.
        let mut log = log;
        for m in &mutations {
            apply_members(&mut log, m);
        }
        let mut p = log.json().into_bytes();
        for m in &mutations {
            apply_bytes(&mut p, m);
        }
        check(&p, recv_ns)?;
    }
}
