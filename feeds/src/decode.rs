//! The hot-path decoder: one websocket payload in, one [`Decoded`] out, no heap allocation.
//!
//! Keys are found by name in any order (geth, anvil, reth and erigon order log fields
//! differently and some add fields such as `blockTimestamp`), escaped keys are matched by their
//! value, duplicates of a field we read are an error, and every value we read is checked. Values
//! we do not read are still walked and grammar-checked, so a payload either decodes exactly or is
//! rejected; it is never half read.
//!
//! In front of that general parser sits the known-shape path ([`known`]): a log notification in
//! the exact bytes geth, Bor or anvil write is read at fixed places, and anything else falls
//! through to the general parser, whose answer it always is.

use crate::hex::{self, HexError};
use crate::json::{JStr, MAX_DEPTH, Scanner, plain_u64};
use polyarb_core::{FeedFrame, FrameKind};

mod known;
pub use known::decode_known_shape;

/// `keccak256("Sync(uint112,uint112)")`, topic0 of the Uniswap-V2-style reserve update.
pub const SYNC_TOPIC: [u8; 32] =
    hex::literal32("1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1");

/// `keccak256("Swap(address,address,int256,int256,uint160,uint128,int24)")`: a Uniswap V3 or
/// Algebra pool's swap (both emit the same signature).
pub const SWAP_TOPIC: [u8; 32] =
    hex::literal32("c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67");

/// `keccak256("Mint(address,address,int24,int24,uint128,uint256,uint256)")`: liquidity added to a
/// Uniswap V3 or Algebra position.
pub const MINT_TOPIC: [u8; 32] =
    hex::literal32("7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde");

/// `keccak256("Burn(address,int24,int24,uint128,uint256,uint256)")`: liquidity removed from a
/// Uniswap V3 or Algebra position.
pub const BURN_TOPIC: [u8; 32] =
    hex::literal32("0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c");

/// `keccak256("Fee(uint16)")`: an Algebra pool's new swap fee.
pub const FEE_TOPIC: [u8; 32] =
    hex::literal32("598b9f043c813aa6be3426ca60d1c65d17256312890be5118dab55b0775ebe2a");

/// Every topic0 the decoder turns into a frame, for one `eth_subscribe("logs")` filter.
pub const TRACKED_TOPICS: [[u8; 32]; 5] =
    [SYNC_TOPIC, SWAP_TOPIC, MINT_TOPIC, BURN_TOPIC, FEE_TOPIC];

/// Digits of one 32-byte ABI word.
const WORD_DIGITS: usize = 64;

/// A tracked log event: its topic0 picks the layout the rest of the log must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// `Sync(uint112 reserve0, uint112 reserve1)`: no indexed field.
    Sync,
    /// `Swap(address indexed, address indexed, int256, int256, uint160, uint128, int24)`.
    Swap,
    /// `Mint(address, address indexed, int24 indexed, int24 indexed, uint128, uint256, uint256)`.
    Mint,
    /// `Burn(address indexed, int24 indexed, int24 indexed, uint128, uint256, uint256)`.
    Burn,
    /// Algebra's `Fee(uint16)`: no indexed field.
    Fee,
}

impl Event {
    #[inline]
    fn of(topic0: &[u8; 32]) -> Option<Self> {
        // Ordered by how often a Polygon node sends them: V2 reserve updates outnumber the rest.
        if *topic0 == SYNC_TOPIC {
            Some(Self::Sync)
        } else if *topic0 == SWAP_TOPIC {
            Some(Self::Swap)
        } else if *topic0 == MINT_TOPIC {
            Some(Self::Mint)
        } else if *topic0 == BURN_TOPIC {
            Some(Self::Burn)
        } else if *topic0 == FEE_TOPIC {
            Some(Self::Fee)
        } else {
            None
        }
    }

    /// Topics of the declared event: topic0 plus one per indexed field.
    fn topics(self) -> usize {
        match self {
            Self::Sync | Self::Fee => 1,
            Self::Swap => 3,
            Self::Mint | Self::Burn => 4,
        }
    }

    /// ABI words of `data`: one per non-indexed field.
    fn data_words(self) -> usize {
        match self {
            Self::Fee => 1,
            Self::Sync => 2,
            Self::Burn => 3,
            Self::Mint => 4,
            Self::Swap => 5,
        }
    }

    fn kind(self) -> FrameKind {
        match self {
            Self::Sync => FrameKind::V2Sync,
            Self::Swap => FrameKind::ClSwap,
            Self::Mint => FrameKind::ClMint,
            Self::Burn => FrameKind::ClBurn,
            Self::Fee => FrameKind::AlgebraFee,
        }
    }
}

/// What one payload was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A tracked event: a `Sync`, `Swap`, `Mint`, `Burn` or `Fee` log, or a new head.
    Frame(FeedFrame),
    /// A JSON-RPC response (the payload has an `"id"`), borrowed from the payload.
    Response(Response<'a>),
    /// A well-formed notification this decoder does not track.
    Ignored(IgnoreReason),
}

impl Decoded<'_> {
    /// The frame, if this is one.
    pub fn frame(&self) -> Option<&FeedFrame> {
        match self {
            Decoded::Frame(f) => Some(f),
            _ => None,
        }
    }
}

/// A JSON-RPC response, borrowed from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The request id if it is a plain non-negative integer (the only kind this crate sends);
    /// `None` for `null` (a node that could not parse the request) or other id shapes.
    pub id: Option<u64>,
    /// The outcome, as raw JSON text.
    pub reply: Reply<'a>,
}

/// The two outcomes of a JSON-RPC call, each the raw JSON text of the member's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The `"result"` value (may be `null`).
    Result(&'a [u8]),
    /// The `"error"` value, normally `{"code":…,"message":…}`.
    Error(&'a [u8]),
}

/// Why a well-formed payload carried nothing tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A log whose topic0 is not one the decoder tracks.
    UntrackedTopic,
    /// A log with no topics (an anonymous event).
    AnonymousLog,
    /// A notification that is neither a log nor a head (another method or subscription kind).
    OtherNotification,
}

/// Why a payload did not decode. `&'static str` fields name the JSON field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid JSON; the byte offset where the scanner stopped.
    Malformed(usize),
    /// JSON nested deeper than the scanner's limit.
    TooDeep,
    /// A field the message kind needs is absent or `null`.
    MissingField(&'static str),
    /// A field the decoder reads appears twice.
    DuplicateField(&'static str),
    /// A response carries both `result` and `error`.
    Conflict,
    /// A field is not the `0x` hex string it must be (wrong type, digit, width or an escape).
    BadHex(&'static str),
    /// A number does not fit its frame field, or an ABI `uintN` word has bits set above N
    /// (`uint112` reserves, `uint160` price, `uint128` liquidity, `uint16` fee).
    ValueTooLarge(&'static str),
    /// An ABI `int24` word (a tick) is not a 24-bit value sign-extended through all 32 bytes:
    /// out of the int24 range, or a fill that does not match the sign.
    NotInt24(&'static str),
    /// Event `data` has the wrong length for the event, in bytes.
    DataLength {
        /// Bytes the event's ABI layout has.
        expected: usize,
        /// Bytes the log carried.
        got: usize,
    },
    /// A tracked event with the wrong number of topics: a declaration with other indexed fields
    /// shares the signature, and its words would be misread.
    TopicCount {
        /// Topics the tracked declaration has (topic0 included).
        expected: usize,
        /// Topics the log carried.
        got: usize,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(at) => write!(f, "malformed json at byte {at}"),
            Self::TooDeep => write!(f, "json nested deeper than {MAX_DEPTH} levels"),
            Self::MissingField(name) => write!(f, "missing field `{name}`"),
            Self::DuplicateField(name) => write!(f, "duplicate field `{name}`"),
            Self::Conflict => write!(f, "response has both `result` and `error`"),
            Self::BadHex(name) => write!(f, "bad hex in field `{name}`"),
            Self::ValueTooLarge(name) => write!(f, "value too large in field `{name}`"),
            Self::NotInt24(name) => write!(f, "not a sign-extended int24 in field `{name}`"),
            Self::DataLength { expected, got } => {
                write!(f, "event data is {got} bytes, expected {expected}")
            }
            Self::TopicCount { expected, got } => {
                write!(f, "tracked event has {got} topics, expected {expected}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

type Result<T, E = DecodeError> = core::result::Result<T, E>;

/// Decodes one websocket payload. `recv_ns` is stamped into any frame produced (pipeline clock,
/// ns). Allocates nothing; errors on anything it cannot read exactly.
///
/// A log notification in the exact bytes geth, Bor or anvil send is read by
/// [`decode_known_shape`]; anything else, and any known-shape payload that does not decode to a
/// frame, goes to [`decode_general`]. The answer is the general parser's in every case.
#[inline]
pub fn decode(payload: &[u8], recv_ns: u64) -> Result<Decoded<'_>> {
    if let Some(frame) = decode_known_shape(payload, recv_ns) {
        return Ok(Decoded::Frame(frame));
    }
    decode_general(payload, recv_ns)
}

/// The general parser behind [`decode`]: any key order, whitespace, escaped keys, extra members.
/// Public so tests, benches and fuzz targets can hold the known-shape path against it; callers
/// want [`decode`].
pub fn decode_general(payload: &[u8], recv_ns: u64) -> Result<Decoded<'_>> {
    let mut s = Scanner::new(payload);
    let mut id: Option<&[u8]> = None;
    let mut method: Option<JStr<'_>> = None;
    // `params` is parsed in place when `method` came first (geth's order), else its position is
    // kept and it is parsed once the method is known.
    let mut params_at: Option<usize> = None;
    let mut event: Option<Decoded<'static>> = None;
    let mut result: Option<&[u8]> = None;
    let mut error: Option<&[u8]> = None;
    if s.peek() != Some(b'{') {
        return Err(DecodeError::Malformed(s.pos()));
    }
    s.object(|s, key| {
        let mut kb = [0u8; 32];
        match key.ascii(&mut kb) {
            Some(b"id") => once(&mut id, s.value()?, "id"),
            Some(b"method") => {
                let m = s.string()?;
                once(&mut method, m, "method")
            }
            Some(b"params") => {
                if params_at.is_some() || event.is_some() {
                    return Err(DecodeError::DuplicateField("params"));
                }
                if method.is_some_and(|m| m.is(b"eth_subscription")) {
                    event = Some(params(s, recv_ns)?);
                } else {
                    s.peek();
                    params_at = Some(s.pos());
                    s.value()?;
                }
                Ok(())
            }
            Some(b"result") => once(&mut result, s.value()?, "result"),
            Some(b"error") => once(&mut error, s.value()?, "error"),
            _ => s.value().map(drop),
        }
    })?;
    s.finish()?;

    if let Some(m) = method {
        if !m.is(b"eth_subscription") {
            return Ok(Decoded::Ignored(IgnoreReason::OtherNotification));
        }
        return match (event, params_at) {
            (Some(ev), _) => Ok(ev),
            (None, Some(at)) => params(&mut Scanner::at(payload, at), recv_ns),
            (None, None) => Err(DecodeError::MissingField("params")),
        };
    }
    // Some servers send `"error": null` beside a result; that is no error.
    let error = error.filter(|e| *e != b"null");
    match (id, result, error) {
        (Some(raw), Some(r), None) => Ok(Decoded::Response(Response {
            id: plain_u64(raw),
            reply: Reply::Result(r),
        })),
        (Some(raw), None, Some(e)) => Ok(Decoded::Response(Response {
            id: plain_u64(raw),
            reply: Reply::Error(e),
        })),
        (Some(_), Some(_), Some(_)) => Err(DecodeError::Conflict),
        (Some(_), None, None) => Err(DecodeError::MissingField("result")),
        (None, _, _) => Err(DecodeError::MissingField("id")),
    }
}

/// Stores the first occurrence of a field; a second one is an error.
#[inline]
fn once<T>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<()> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateField(name));
    }
    *slot = Some(v);
    Ok(())
}

/// Parses the `params` object of an `eth_subscription` notification.
fn params(s: &mut Scanner<'_>, recv_ns: u64) -> Result<Decoded<'static>> {
    let mut out: Option<Decoded<'static>> = None;
    if s.peek() != Some(b'{') {
        return Err(DecodeError::Malformed(s.pos()));
    }
    s.object(|s, key| {
        if key.is(b"result") {
            let d = if s.peek() == Some(b'{') {
                event(s, recv_ns)?
            } else {
                // e.g. `newPendingTransactions` delivers a bare hash string.
                s.value()?;
                Decoded::Ignored(IgnoreReason::OtherNotification)
            };
            once(&mut out, d, "result")
        } else {
            s.value().map(drop)
        }
    })?;
    out.ok_or(DecodeError::MissingField("result"))
}

/// The fields of a log or head object that the decoder reads. `None` = absent or `null`.
#[derive(Default)]
struct Fields<'a> {
    /// One bit per key below, to catch duplicates.
    seen: u32,
    address: Option<JStr<'a>>,
    /// The first [`MAX_TOPICS`] topics, borrowed; later ones are only counted (a log with more
    /// is no tracked event).
    topics: [Option<JStr<'a>>; MAX_TOPICS],
    topic_count: usize,
    data: Option<JStr<'a>>,
    block_number: Option<JStr<'a>>,
    tx_index: Option<JStr<'a>>,
    log_index: Option<JStr<'a>>,
    removed: Option<bool>,
    number: Option<JStr<'a>>,
    base_fee: Option<JStr<'a>>,
    timestamp: Option<JStr<'a>>,
    block_timestamp: Option<JStr<'a>>,
    /// A head's own hash and its parent's; a log's block hash.
    hash: Option<JStr<'a>>,
    parent_hash: Option<JStr<'a>>,
    block_hash: Option<JStr<'a>>,
}

impl Fields<'_> {
    #[inline]
    fn mark(&mut self, bit: u32, name: &'static str) -> Result<()> {
        if self.seen & bit != 0 {
            return Err(DecodeError::DuplicateField(name));
        }
        self.seen |= bit;
        Ok(())
    }
}

/// Topics a log can have (topic0 and three indexed fields; LOG4 is the widest opcode).
const MAX_TOPICS: usize = 4;

const F_ADDRESS: u32 = 1 << 0;
const F_TOPICS: u32 = 1 << 1;
const F_DATA: u32 = 1 << 2;
const F_BLOCK_NUMBER: u32 = 1 << 3;
const F_TX_INDEX: u32 = 1 << 4;
const F_LOG_INDEX: u32 = 1 << 5;
const F_REMOVED: u32 = 1 << 6;
const F_NUMBER: u32 = 1 << 7;
const F_BASE_FEE: u32 = 1 << 8;
const F_TIMESTAMP: u32 = 1 << 9;
const F_PARENT_HASH: u32 = 1 << 10;
const F_BLOCK_TIMESTAMP: u32 = 1 << 11;
const F_HASH: u32 = 1 << 12;
const F_BLOCK_HASH: u32 = 1 << 13;

/// Reads a hex string value or `null`; any other JSON type is `BadHex`.
#[inline]
fn hex_or_null<'a>(s: &mut Scanner<'a>, name: &'static str) -> Result<Option<JStr<'a>>> {
    match s.peek() {
        Some(b'"') => Ok(Some(s.string()?)),
        _ if s.null() => Ok(None),
        _ => {
            s.value()?;
            Err(DecodeError::BadHex(name))
        }
    }
}

/// Parses a log or head object (the notification's `result`).
fn event(s: &mut Scanner<'_>, recv_ns: u64) -> Result<Decoded<'static>> {
    let mut f = Fields::default();
    s.object(|s, key| {
        let mut kb = [0u8; 32];
        match key.ascii(&mut kb) {
            Some(b"address") => {
                f.mark(F_ADDRESS, "address")?;
                f.address = hex_or_null(s, "address")?;
            }
            Some(b"topics") => {
                f.mark(F_TOPICS, "topics")?;
                if s.peek() != Some(b'[') {
                    s.value()?;
                    return Err(DecodeError::BadHex("topics"));
                }
                s.array(|s| {
                    let t = hex_or_null(s, "topics")?.ok_or(DecodeError::BadHex("topics"))?;
                    if let Some(slot) = f.topics.get_mut(f.topic_count) {
                        *slot = Some(t);
                    }
                    f.topic_count += 1;
                    Ok(())
                })?;
            }
            Some(b"data") => {
                f.mark(F_DATA, "data")?;
                f.data = hex_or_null(s, "data")?;
            }
            Some(b"blockNumber") => {
                f.mark(F_BLOCK_NUMBER, "blockNumber")?;
                f.block_number = hex_or_null(s, "blockNumber")?;
            }
            Some(b"transactionIndex") => {
                f.mark(F_TX_INDEX, "transactionIndex")?;
                f.tx_index = hex_or_null(s, "transactionIndex")?;
            }
            Some(b"logIndex") => {
                f.mark(F_LOG_INDEX, "logIndex")?;
                f.log_index = hex_or_null(s, "logIndex")?;
            }
            Some(b"removed") => {
                f.mark(F_REMOVED, "removed")?;
                f.removed = s.bool_or_null()?;
            }
            Some(b"number") => {
                f.mark(F_NUMBER, "number")?;
                f.number = hex_or_null(s, "number")?;
            }
            Some(b"baseFeePerGas") => {
                f.mark(F_BASE_FEE, "baseFeePerGas")?;
                f.base_fee = hex_or_null(s, "baseFeePerGas")?;
            }
            Some(b"timestamp") => {
                f.mark(F_TIMESTAMP, "timestamp")?;
                f.timestamp = hex_or_null(s, "timestamp")?;
            }
            Some(b"blockTimestamp") => {
                f.mark(F_BLOCK_TIMESTAMP, "blockTimestamp")?;
                f.block_timestamp = hex_or_null(s, "blockTimestamp")?;
            }
            Some(b"parentHash") => {
                f.mark(F_PARENT_HASH, "parentHash")?;
                f.parent_hash = hex_or_null(s, "parentHash")?;
            }
            Some(b"hash") => {
                f.mark(F_HASH, "hash")?;
                f.hash = hex_or_null(s, "hash")?;
            }
            Some(b"blockHash") => {
                f.mark(F_BLOCK_HASH, "blockHash")?;
                f.block_hash = hex_or_null(s, "blockHash")?;
            }
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;

    if f.seen & F_TOPICS != 0 {
        return log(&f, recv_ns);
    }
    if f.seen & (F_PARENT_HASH | F_NUMBER) != 0 {
        return head(&f, recv_ns);
    }
    Ok(Decoded::Ignored(IgnoreReason::OtherNotification))
}

/// The raw hex bytes of a field that must be present; escaped strings are not hex.
#[inline]
fn required<'a>(v: Option<JStr<'a>>, name: &'static str) -> Result<&'a [u8]> {
    let v = v.ok_or(DecodeError::MissingField(name))?;
    if v.escaped {
        return Err(DecodeError::BadHex(name));
    }
    Ok(v.raw)
}

#[inline]
fn hex_err(name: &'static str) -> impl Fn(HexError) -> DecodeError {
    move |e| match e {
        HexError::Bad => DecodeError::BadHex(name),
        HexError::TooLarge => DecodeError::ValueTooLarge(name),
    }
}

#[inline]
fn q_u64(v: Option<JStr<'_>>, name: &'static str) -> Result<u64> {
    hex::quantity_u64(required(v, name)?).map_err(hex_err(name))
}

#[inline]
fn q_u32(v: Option<JStr<'_>>, name: &'static str) -> Result<u32> {
    u32::try_from(q_u64(v, name)?).map_err(|_| DecodeError::ValueTooLarge(name))
}

#[inline]
fn q_u256(v: Option<JStr<'_>>, name: &'static str) -> Result<[u8; 32]> {
    hex::quantity_u256(required(v, name)?).map_err(hex_err(name))
}

/// One 32-byte topic, hex-checked.
#[inline]
fn topic(t: Option<JStr<'_>>) -> Result<[u8; 32]> {
    let mut w = [0u8; 32];
    hex::decode_fixed(required(t, "topics")?, &mut w).map_err(hex_err("topics"))?;
    Ok(w)
}

/// The ABI words of a log's `data`, read in order. Built only after the length was checked.
struct Words<'a> {
    /// Hex digits after `0x`, a whole number of words.
    digits: &'a [u8],
}

impl Words<'_> {
    /// The next word, hex-checked.
    #[inline]
    fn next(&mut self) -> Result<[u8; 32]> {
        let Some((d, rest)) = self.digits.split_at_checked(WORD_DIGITS) else {
            // Unreachable after the length check; an error rather than a panic all the same.
            return Err(DecodeError::BadHex("data"));
        };
        self.digits = rest;
        let mut w = [0u8; 32];
        hex::decode_digits(d, &mut w).map_err(hex_err("data"))?;
        Ok(w)
    }
}

/// `w` as an ABI `uintN` (`N = 8 * (32 - pad)`): the `pad` leading bytes must be zero.
#[inline]
fn uint(w: [u8; 32], pad: usize, name: &'static str) -> Result<[u8; 32]> {
    if w[..pad].iter().any(|&b| b != 0) {
        return Err(DecodeError::ValueTooLarge(name));
    }
    Ok(w)
}

/// Leading zero bytes of an ABI word holding a `uint112`, `uint160`, `uint128` and `uint16`.
const UINT112_PAD: usize = 32 - 112 / 8;
const UINT160_PAD: usize = 32 - 160 / 8;
const UINT128_PAD: usize = 32 - 128 / 8;
const UINT16_PAD: usize = 32 - 16 / 8;

/// `w` as an ABI `int24`: bytes 0..29 all equal the sign of byte 29 (0x00 or 0xff). The check
/// is the same as `FeedFrame::word_i24`, so every tick the decoder emits reads back.
#[inline]
fn int24(w: [u8; 32], name: &'static str) -> Result<[u8; 32]> {
    let fill = if w[29] & 0x80 != 0 { 0xff } else { 0 };
    if w[..29].iter().any(|&b| b != fill) {
        return Err(DecodeError::NotInt24(name));
    }
    Ok(w)
}

/// A tracked log. Every topic and data word is hex-checked; the words that go into the frame
/// are range-checked against their ABI type. Words left out of the frame (a Mint's or Burn's
/// amounts, addresses) are any 32 bytes the ABI allows and are not range-checked: nothing the
/// frame says depends on them.
fn log(f: &Fields<'_>, recv_ns: u64) -> Result<Decoded<'static>> {
    let Some(t0) = f.topics[0] else {
        return Ok(Decoded::Ignored(IgnoreReason::AnonymousLog));
    };
    let Some(event) = Event::of(&topic(Some(t0))?) else {
        return Ok(Decoded::Ignored(IgnoreReason::UntrackedTopic));
    };
    tracked_log(f, event, recv_ns).map(Decoded::Frame)
}

/// The frame of a log whose topic0 (already hex-checked) is `event`'s. Both paths end here, so
/// a payload both accept reads the same.
fn tracked_log(f: &Fields<'_>, event: Event, recv_ns: u64) -> Result<FeedFrame> {
    // Indexed flags are not part of the signature: a declaration with other indexed fields has
    // the same topic0 and another split between topics and data, which the reads below would
    // misread.
    if f.topic_count != event.topics() {
        return Err(DecodeError::TopicCount {
            expected: event.topics(),
            got: f.topic_count,
        });
    }
    let mut frame = FeedFrame {
        recv_ns,
        kind: event.kind(),
        ..FeedFrame::EMPTY
    };
    hex::decode_fixed(required(f.address, "address")?, &mut frame.address)
        .map_err(hex_err("address"))?;
    let data = required(f.data, "data")?;
    let got = hex::byte_len(data).map_err(hex_err("data"))?;
    let expected = 32 * event.data_words();
    if got != expected {
        return Err(DecodeError::DataLength { expected, got });
    }
    // `byte_len` checked the `0x` prefix and the digit count: whole words follow.
    let mut words = Words { digits: &data[2..] };
    let w = &mut frame.words;
    match event {
        Event::Sync => {
            w[0] = uint(words.next()?, UINT112_PAD, "data")?; // reserve0
            w[1] = uint(words.next()?, UINT112_PAD, "data")?; // reserve1
        }
        Event::Swap => {
            topic(f.topics[1])?; // sender
            topic(f.topics[2])?; // recipient
            w[2] = words.next()?; // amount0: every int256 is valid
            w[3] = words.next()?; // amount1
            w[0] = uint(words.next()?, UINT160_PAD, "data")?; // sqrtPriceX96
            w[1] = uint(words.next()?, UINT128_PAD, "data")?; // liquidity
            let t = int24(words.next()?, "data")?; // tick
            frame.tick = i32::from_be_bytes([t[28], t[29], t[30], t[31]]);
        }
        Event::Mint | Event::Burn => {
            topic(f.topics[1])?; // owner
            w[0] = int24(topic(f.topics[2])?, "topics")?; // tickLower
            w[1] = int24(topic(f.topics[3])?, "topics")?; // tickUpper
            if event == Event::Mint {
                words.next()?; // sender
            }
            w[2] = uint(words.next()?, UINT128_PAD, "data")?; // liquidity amount
            words.next()?; // amount0
            words.next()?; // amount1
        }
        Event::Fee => {
            w[0] = uint(words.next()?, UINT16_PAD, "data")?; // fee, pips
        }
    }
    frame.block_number = q_u64(f.block_number, "blockNumber")?;
    frame.log_index = q_u32(f.log_index, "logIndex")?;
    frame.tx_index = q_u32(f.tx_index, "transactionIndex")?;
    // Optional: anvil sends it, geth-family nodes may not. Absent or null is 0 (unknown).
    if f.block_timestamp.is_some() {
        frame.block_time = q_u64(f.block_timestamp, "blockTimestamp")?;
    }
    // Nodes that omit `removed` only do so for live logs; a reorged log always says `true`.
    frame.removed = u8::from(f.removed.unwrap_or(false));
    // Which block the log is from, for the engine's reorg check (absent or null: 0, unknown).
    if f.block_hash.is_some() {
        let mut hash = [0u8; 32];
        hex::decode_fixed(required(f.block_hash, "blockHash")?, &mut hash)
            .map_err(hex_err("blockHash"))?;
        frame.block_tag = polyarb_core::block_tag(&hash);
    }
    Ok(frame)
}

fn head(f: &Fields<'_>, recv_ns: u64) -> Result<Decoded<'static>> {
    let mut frame = FeedFrame {
        recv_ns,
        kind: FrameKind::NewHead,
        ..FeedFrame::EMPTY
    };
    frame.block_number = q_u64(f.number, "number")?;
    frame.words[0] = q_u256(f.base_fee, "baseFeePerGas")?;
    frame.words[1] = q_u256(f.timestamp, "timestamp")?;
    // The block's hash and its parent's, for the engine's reorg check (absent or null: zero).
    for (v, word, name) in [(f.hash, 2, "hash"), (f.parent_hash, 3, "parentHash")] {
        if v.is_some() {
            hex::decode_fixed(required(v, name)?, &mut frame.words[word]).map_err(hex_err(name))?;
        }
    }
    // A timestamp beyond u64 seconds is no real block's: unknown (0), as the engine reads it.
    let ts = &frame.words[1];
    if ts[..24].iter().all(|&b| b == 0) {
        frame.block_time = u64::from_be_bytes([
            ts[24], ts[25], ts[26], ts[27], ts[28], ts[29], ts[30], ts[31],
        ]);
    }
    Ok(Decoded::Frame(frame))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) const SYNC_HEX: &str =
        "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1";
    const TRANSFER_HEX: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    const PAIR: &str = "0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827";
    pub(super) const TX_HASH: &str =
        "0x3ad7c5a1b0e8a7b38c2c6b5bf1e1c7d6a5a3b0a6a6b6c2d2e3f4a5b6c7d8e9f0";
    pub(super) const BLOCK_HASH: &str =
        "0x8f2a5e1c0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
    /// The first four bytes of [`BLOCK_HASH`]: the tag every log frame below carries.
    const BLOCK_TAG: u32 = 0x8f2a_5e1c;

    /// ABI data of `Sync(r0, r1)`.
    pub(super) fn sync_data(r0: u128, r1: u128) -> String {
        format!("0x{r0:064x}{r1:064x}")
    }

    /// Log fields as (key, JSON value) in geth's order.
    fn geth_fields(
        data: &str,
        block: &str,
        tx: &str,
        log: &str,
        removed: bool,
    ) -> Vec<(String, String)> {
        [
            ("address", format!("\"{PAIR}\"")),
            ("topics", format!("[\"{SYNC_HEX}\"]")),
            ("data", format!("\"{data}\"")),
            ("blockNumber", format!("\"{block}\"")),
            ("transactionHash", format!("\"{TX_HASH}\"")),
            ("transactionIndex", format!("\"{tx}\"")),
            ("blockHash", format!("\"{BLOCK_HASH}\"")),
            ("logIndex", format!("\"{log}\"")),
            ("removed", removed.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn object(fields: &[(String, String)]) -> String {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    pub(crate) fn notification(result: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0xcd0c3e8af590364c09d0fa6a1210faf5","result":{result}}}}}"#
        )
    }

    fn expected(
        r0: u128,
        r1: u128,
        block: u64,
        tx: u32,
        log: u32,
        removed: bool,
        recv: u64,
    ) -> FeedFrame {
        let mut f = FeedFrame {
            recv_ns: recv,
            block_number: block,
            log_index: log,
            tx_index: tx,
            kind: FrameKind::V2Sync,
            removed: u8::from(removed),
            block_tag: BLOCK_TAG,
            ..FeedFrame::EMPTY
        };
        crate::hex::decode_fixed(PAIR.as_bytes(), &mut f.address).unwrap();
        f.words[0][16..].copy_from_slice(&r0.to_be_bytes());
        f.words[1][16..].copy_from_slice(&r1.to_be_bytes());
        f
    }

    pub(super) fn geth_sync() -> String {
        let data = sync_data(0x3a1c_5c4f_8d1e, 0x00b1_a2bc_2ec5_0000);
        notification(&object(&geth_fields(
            &data,
            "0x3a2b1c0",
            "0x1f",
            "0x7b",
            false,
        )))
    }

    #[test]
    fn geth_sync_log() {
        let p = geth_sync();
        let d = decode(p.as_bytes(), 99).unwrap();
        assert_eq!(
            d,
            Decoded::Frame(expected(
                0x3a1c_5c4f_8d1e,
                0x00b1_a2bc_2ec5_0000,
                0x3a2b1c0,
                0x1f,
                0x7b,
                false,
                99
            ))
        );
        assert_eq!(d.frame().unwrap().word_u128(1), Some(0x00b1_a2bc_2ec5_0000));
    }

    #[test]
    fn reordered_keys_extra_fields_and_whitespace() {
        let data = sync_data(5, u128::from(u64::MAX) << 40);
        let mut fields = geth_fields(&data, "0x10", "0x0", "0x2", true);
        fields.reverse();
        fields.insert(3, ("blockTimestamp".into(), "\"0x6553f100\"".into()));
        fields.push((
            "extra".into(),
            r#"{"a":[1,2,{"topics":["x"]}],"data":"0x00"}"#.into(),
        ));
        fields.insert(0, ("\u{e9}t\u{e9}".into(), "null".into()));
        let result = object(&fields).replace(',', " ,\n\t").replace(':', " : ");
        // Top level: params before method, an unknown member, whitespace.
        let p = format!(
            " {{ \"params\" : {{ \"result\" : {result} , \"subscription\" : \"0x1\" }} , \"x\":[] , \"method\" : \"eth_subscription\" , \"jsonrpc\" : \"2.0\" }} \n"
        );
        let mut want = expected(5, u128::from(u64::MAX) << 40, 0x10, 0, 2, true, 7);
        want.block_time = 0x6553_f100;
        assert_eq!(decode(p.as_bytes(), 7), Ok(Decoded::Frame(want)));
    }

    #[test]
    fn escaped_keys_are_matched_by_value() {
        let p = geth_sync()
            .replace("\"address\"", "\"\\u0061ddress\"")
            .replace("\"logIndex\"", "\"log\\u0049ndex\"")
            .replace("\"method\"", "\"m\\u0065thod\"");
        let d = decode(p.as_bytes(), 1).unwrap();
        assert_eq!(d.frame().map(|f| f.log_index), Some(0x7b));
    }

    #[test]
    fn geth_new_head() {
        let head = format!(
            r#"{{"parentHash":"{TX_HASH}","sha3Uncles":"{TX_HASH}","miner":"{PAIR}","stateRoot":"{TX_HASH}","transactionsRoot":"{TX_HASH}","receiptsRoot":"{TX_HASH}","logsBloom":"0x{bloom}","difficulty":"0x2","number":"0x3a2b1c1","gasLimit":"0x1c9c380","gasUsed":"0x5208","timestamp":"0x6553f100","extraData":"0xd883","mixHash":"{TX_HASH}","nonce":"0x0000000000000000","baseFeePerGas":"0x1c8e9b4f0a","withdrawalsRoot":"{TX_HASH}","hash":"{BLOCK_HASH}"}}"#,
            bloom = "0".repeat(512)
        );
        let p = notification(&head);
        let d = decode(p.as_bytes(), 5).unwrap();
        let f = d.frame().unwrap();
        assert_eq!(f.kind, FrameKind::NewHead);
        assert_eq!(f.block_number, 0x3a2b1c1);
        assert_eq!(f.word_u128(0), Some(0x1c8e9b4f0a));
        assert_eq!(f.word_u128(1), Some(0x6553f100));
        assert_eq!((f.recv_ns, f.address, f.log_index), (5, [0; 20], 0));
        // The block's hash and its parent's, for the reorg check.
        let bytes = |h: &str| alloy_primitives::hex::decode(h).unwrap();
        assert_eq!(f.words[2].to_vec(), bytes(BLOCK_HASH));
        assert_eq!(f.words[3].to_vec(), bytes(TX_HASH));
        // Without them (a node that leaves them out): zero, not an error.
        let bare = head.replace(&format!(",\"hash\":\"{BLOCK_HASH}\""), "");
        let bare = bare.replace(&format!("\"parentHash\":\"{TX_HASH}\","), "");
        let f = *decode(notification(&bare).as_bytes(), 5)
            .unwrap()
            .frame()
            .unwrap();
        assert_eq!((f.words[2], f.words[3]), ([0; 32], [0; 32]), "{bare}");
        // A hash that is not 32 bytes of hex is refused.
        let bad = head.replace(BLOCK_HASH, "0x1234");
        assert!(decode(notification(&bad).as_bytes(), 5).is_err());
    }

    #[test]
    fn responses() {
        let ok = br#"{"jsonrpc":"2.0","id":7,"result":"0x89"}"#;
        assert_eq!(
            decode(ok, 0),
            Ok(Decoded::Response(Response {
                id: Some(7),
                reply: Reply::Result(b"\"0x89\"")
            }))
        );
        let obj = br#"{"result": {"a": [1, 2]}, "id": 18446744073709551615, "jsonrpc": "2.0"}"#;
        assert_eq!(
            decode(obj, 0),
            Ok(Decoded::Response(Response {
                id: Some(u64::MAX),
                reply: Reply::Result(br#"{"a": [1, 2]}"#)
            }))
        );
        let null = br#"{"jsonrpc":"2.0","id":3,"result":null}"#;
        assert_eq!(
            decode(null, 0),
            Ok(Decoded::Response(Response {
                id: Some(3),
                reply: Reply::Result(b"null")
            }))
        );
        let err = br#"{"jsonrpc":"2.0","id":8,"error":{"code":-32000,"message":"nonce too low"}}"#;
        assert_eq!(
            decode(err, 0),
            Ok(Decoded::Response(Response {
                id: Some(8),
                reply: Reply::Error(br#"{"code":-32000,"message":"nonce too low"}"#)
            }))
        );
        let parse_err =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#;
        assert!(matches!(
            decode(parse_err, 0),
            Ok(Decoded::Response(Response {
                id: None,
                reply: Reply::Error(_)
            }))
        ));
        let string_id = br#"{"jsonrpc":"2.0","id":"7","result":true}"#;
        assert!(matches!(
            decode(string_id, 0),
            Ok(Decoded::Response(Response { id: None, .. }))
        ));
        let err_null = br#"{"jsonrpc":"2.0","id":1,"result":"0x1","error":null}"#;
        assert!(matches!(
            decode(err_null, 0),
            Ok(Decoded::Response(Response {
                reply: Reply::Result(_),
                ..
            }))
        ));
    }

    #[test]
    fn ignored_payloads() {
        let transfer = geth_sync().replace(SYNC_HEX, TRANSFER_HEX);
        assert_eq!(
            decode(transfer.as_bytes(), 0),
            Ok(Decoded::Ignored(IgnoreReason::UntrackedTopic))
        );
        let upper = geth_sync().replace(SYNC_HEX, &SYNC_HEX.to_uppercase().replace("0X", "0x"));
        assert!(matches!(decode(upper.as_bytes(), 0), Ok(Decoded::Frame(_))));
        let anon = geth_sync().replace(&format!("[\"{SYNC_HEX}\"]"), "[]");
        assert_eq!(
            decode(anon.as_bytes(), 0),
            Ok(Decoded::Ignored(IgnoreReason::AnonymousLog))
        );
        let pending = notification("\"0xabc\"");
        assert_eq!(
            decode(pending.as_bytes(), 0),
            Ok(Decoded::Ignored(IgnoreReason::OtherNotification))
        );
        let other =
            br#"{"jsonrpc":"2.0","method":"other_thing","params":{"result":{"topics":[1]}}}"#;
        assert_eq!(
            decode(other, 0),
            Ok(Decoded::Ignored(IgnoreReason::OtherNotification))
        );
        let sync_status = notification(r#"{"syncing":true,"status":{}}"#);
        assert_eq!(
            decode(sync_status.as_bytes(), 0),
            Ok(Decoded::Ignored(IgnoreReason::OtherNotification))
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        for p in [
            geth_sync(),
            r#"{"jsonrpc":"2.0","id":1,"result":{"x":"y"}}"#.to_owned(),
        ] {
            for cut in 0..p.len() {
                assert!(decode(&p.as_bytes()[..cut], 0).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn field_errors() {
        use DecodeError::*;
        let good = geth_sync();
        let data = sync_data(0x3a1c_5c4f_8d1e, 0x00b1_a2bc_2ec5_0000);
        let cases: Vec<(String, DecodeError)> = vec![
            (
                good.replace("\"0x3a2b1c0\"", "\"0x10000000000000000\""),
                ValueTooLarge("blockNumber"),
            ),
            (
                good.replace("\"0x7b\"", "\"0x100000000\""),
                ValueTooLarge("logIndex"),
            ),
            (
                good.replace("\"0x1f\"", "\"0x1g\""),
                BadHex("transactionIndex"),
            ),
            (good.replace("\"0x3a2b1c0\"", "3"), BadHex("blockNumber")),
            (
                good.replace("\"0x3a2b1c0\"", "null"),
                MissingField("blockNumber"),
            ),
            (
                good.replace("\"0x3a2b1c0\"", "\"0x\""),
                BadHex("blockNumber"),
            ),
            (
                good.replace("\"0x3a2b1c0\"", "\"3a2b1c0\""),
                BadHex("blockNumber"),
            ),
            (
                good.replace("\"0x3a2b1c0\"", "\"0x3a2b1\\u00630\""),
                BadHex("blockNumber"),
            ),
            (
                good.replace(&data, &data[..data.len() - 2]),
                DataLength {
                    expected: 64,
                    got: 63,
                },
            ),
            (
                good.replace(&data, &format!("{data}00")),
                DataLength {
                    expected: 64,
                    got: 65,
                },
            ),
            (good.replace(&data, &format!("{data}0")), BadHex("data")),
            (
                good.replace(&data, &sync_data(1 << 112, 1)),
                ValueTooLarge("data"),
            ),
            (
                good.replace(&data, &sync_data(1, (1 << 112) - 1))
                    .replace("\"0x7b\"", "\"0x7b\",\"logIndex\":\"0x1\""),
                DuplicateField("logIndex"),
            ),
            (
                good.replace(
                    &format!("[\"{SYNC_HEX}\"]"),
                    &format!("[\"{SYNC_HEX}\",\"{TX_HASH}\"]"),
                ),
                TopicCount {
                    expected: 1,
                    got: 2,
                },
            ),
            (
                good.replace(
                    &format!("[\"{SYNC_HEX}\"]"),
                    &format!("[\"{}\"]", &SYNC_HEX[..64]),
                ),
                BadHex("topics"),
            ),
            (
                good.replace(&format!("[\"{SYNC_HEX}\"]"), "[null]"),
                BadHex("topics"),
            ),
            (
                good.replace(&format!("[\"{SYNC_HEX}\"]"), "\"x\""),
                BadHex("topics"),
            ),
            (good.replace(PAIR, &PAIR[..40]), BadHex("address")),
            (
                good.replace(&format!("\"address\":\"{PAIR}\","), ""),
                MissingField("address"),
            ),
            (
                good.replace(&format!("\"data\":\"{data}\","), ""),
                MissingField("data"),
            ),
            (
                good.replace("\"logIndex\":\"0x7b\",", ""),
                MissingField("logIndex"),
            ),
            (
                good.replace("false", "0"),
                Malformed(good.find("false").unwrap()),
            ),
            (
                good.replace("\"params\"", "\"params\":{\"result\":\"0x1\"},\"params\""),
                DuplicateField("params"),
            ),
            (format!("{good} x"), Malformed(good.len() + 1)),
            (
                notification("{\"number\":\"0x1\"}"),
                MissingField("baseFeePerGas"),
            ),
            (
                notification("{\"number\":\"0x1\",\"baseFeePerGas\":\"0x1\"}"),
                MissingField("timestamp"),
            ),
            (
                notification(&format!(
                    "{{\"number\":\"0x1\",\"baseFeePerGas\":\"0x1{}\",\"timestamp\":\"0x1\"}}",
                    "0".repeat(64)
                )),
                ValueTooLarge("baseFeePerGas"),
            ),
            (
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}".into(),
                Conflict,
            ),
            (
                "{\"jsonrpc\":\"2.0\",\"id\":1}".into(),
                MissingField("result"),
            ),
            (
                "{\"jsonrpc\":\"2.0\",\"result\":1}".into(),
                MissingField("id"),
            ),
            (
                "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\"}".into(),
                MissingField("params"),
            ),
            (
                "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{}}".into(),
                MissingField("result"),
            ),
            (
                "{\"method\":\"eth_subscription\",\"params\":[]}".into(),
                Malformed(38),
            ),
            ("[{\"id\":1,\"result\":1}]".into(), Malformed(0)),
            ("".into(), Malformed(0)),
            ("\u{0}garbage".into(), Malformed(0)),
        ];
        for (p, want) in cases {
            assert_eq!(decode(p.as_bytes(), 0), Err(want), "{p}");
        }
    }

    #[test]
    fn errors_display_lowercase() {
        for e in [
            DecodeError::Malformed(3),
            DecodeError::TooDeep,
            DecodeError::MissingField("data"),
            DecodeError::DuplicateField("data"),
            DecodeError::Conflict,
            DecodeError::BadHex("data"),
            DecodeError::ValueTooLarge("data"),
            DecodeError::DataLength {
                expected: 64,
                got: 3,
            },
            DecodeError::NotInt24("data"),
            DecodeError::TopicCount {
                expected: 4,
                got: 3,
            },
        ] {
            let s = e.to_string();
            assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
        }
    }

    /// A valid `Sync` notification with shuffled keys, optional extra fields, random whitespace.
    fn arb_sync() -> impl Strategy<Value = (String, FeedFrame)> {
        let values = (
            any::<[u8; 20]>(),
            0u128..(1 << 112),
            0u128..(1 << 112),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            any::<u64>(),
        );
        let extras = prop::collection::vec(
            prop::sample::select(vec![
                ("blockTimestamp", "\"0x6553f100\""),
                (
                    "nested",
                    r#"{"topics":["0x00"],"data":"0x","removed":true}"#,
                ),
                ("list", r#"[1,-2.5e3,"a\"b",null,[{}]]"#),
                ("flag", "false"),
            ]),
            0..3,
        );
        (
            values,
            extras,
            any::<u64>(),
            prop::sample::select(vec!["", " ", "\n  ", "\t"]),
        )
            .prop_flat_map(
                |((addr, r0, r1, block, tx, log, removed, recv), extras, _, ws)| {
                    let mut fields = vec![
                        (
                            "address".to_owned(),
                            format!(
                                "\"0x{}\"",
                                addr.iter().map(|b| format!("{b:02X}")).collect::<String>()
                            ),
                        ),
                        ("topics".to_owned(), format!("[\"{SYNC_HEX}\"]")),
                        ("data".to_owned(), format!("\"{}\"", sync_data(r0, r1))),
                        ("blockNumber".to_owned(), format!("\"{block:#x}\"")),
                        ("transactionHash".to_owned(), format!("\"{TX_HASH}\"")),
                        ("transactionIndex".to_owned(), format!("\"{tx:#x}\"")),
                        ("blockHash".to_owned(), format!("\"{BLOCK_HASH}\"")),
                        ("logIndex".to_owned(), format!("\"{log:#x}\"")),
                        ("removed".to_owned(), removed.to_string()),
                    ];
                    for (i, (k, v)) in extras.iter().enumerate() {
                        fields.push((format!("{k}{i}"), (*v).to_owned()));
                    }
                    let mut f = FeedFrame {
                        recv_ns: recv,
                        block_number: block,
                        log_index: log,
                        tx_index: tx,
                        kind: FrameKind::V2Sync,
                        removed: u8::from(removed),
                        address: addr,
                        block_tag: BLOCK_TAG,
                        ..FeedFrame::EMPTY
                    };
                    f.words[0][16..].copy_from_slice(&r0.to_be_bytes());
                    f.words[1][16..].copy_from_slice(&r1.to_be_bytes());
                    (Just(fields).prop_shuffle(), Just(f), Just(ws))
                },
            )
            .prop_map(|(fields, f, ws)| {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"))
                    .collect();
                (notification(&format!("{{{}}}", body.join(","))), f)
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode(&bytes, 0);
        }

        #[test]
        fn generated_logs_roundtrip((payload, frame) in arb_sync()) {
            prop_assert_eq!(decode(payload.as_bytes(), frame.recv_ns), Ok(Decoded::Frame(frame)));
        }

        /// One replaced byte anywhere in a valid payload: an error or a decode, never a panic.
        #[test]
        fn mutations_never_panic((payload, _) in arb_sync(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
            let mut bytes = payload.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = b;
            let _ = decode(&bytes, 0);
        }
    }

    // ---------------------------------------------------------------- concentrated-liquidity logs
    //
    // Payloads are built with alloy's ABI encoder from the event declarations in
    // `polyarb_tools::abi` (checked there against the npm artifacts' ABIs), and expected frames
    // from the values alloy encoded: the decoder's own word handling is not the oracle.

    use alloy_primitives::{Address, B256, I256, U160, U256, aliases::I24, keccak256};
    use alloy_sol_types::SolEvent;
    use polyarb_tools::abi::{IAlgebraPool, IUniswapV3Pool};

    pub(super) const POOL: &str = "0x45dda9cb7c25131df268515131f647d726f50608";

    pub(super) fn hexs(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        crate::hex::push_prefixed(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    /// Key orders nodes use for a log object.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Order {
        /// address, topics, data, blockNumber, transactionHash, transactionIndex, blockHash,
        /// logIndex, removed (geth before 1.16, Bor).
        Geth,
        /// geth 1.16 on: [`Order::Geth`] with blockTimestamp between blockHash and logIndex.
        GethTimestamp,
        /// anvil 1.x: address, topics, data, blockHash, blockNumber, blockTimestamp,
        /// transactionHash, transactionIndex, logIndex, removed.
        Anvil,
    }

    /// Where a log sits and whether it was undone.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct At {
        pub(super) block: u64,
        pub(super) tx: u32,
        pub(super) log: u32,
        pub(super) removed: bool,
    }

    pub(super) const AT: At = At {
        block: 0x4a1b2c3,
        tx: 0x2e,
        log: 0x1a5,
        removed: false,
    };

    pub(super) fn log_json(
        address: &str,
        topics: &[String],
        data: &str,
        at: At,
        order: Order,
    ) -> String {
        let topics = format!(
            "[{}]",
            topics
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let f = |k: &str, v: String| (k.to_owned(), v);
        let geth = || {
            vec![
                f("address", format!("\"{address}\"")),
                f("topics", topics.clone()),
                f("data", format!("\"{data}\"")),
                f("blockNumber", format!("\"{:#x}\"", at.block)),
                f("transactionHash", format!("\"{TX_HASH}\"")),
                f("transactionIndex", format!("\"{:#x}\"", at.tx)),
                f("blockHash", format!("\"{BLOCK_HASH}\"")),
                f("logIndex", format!("\"{:#x}\"", at.log)),
                f("removed", at.removed.to_string()),
            ]
        };
        let fields = match order {
            Order::Geth => geth(),
            // geth 1.16 on: `blockTimestamp` between `blockHash` and `logIndex`.
            Order::GethTimestamp => {
                let mut v = geth();
                v.insert(7, f("blockTimestamp", format!("\"{ANVIL_BLOCK_TIME:#x}\"")));
                v
            }
            Order::Anvil => vec![
                f("address", format!("\"{address}\"")),
                f("topics", topics),
                f("data", format!("\"{data}\"")),
                f("blockHash", format!("\"{BLOCK_HASH}\"")),
                f("blockNumber", format!("\"{:#x}\"", at.block)),
                f("blockTimestamp", format!("\"{ANVIL_BLOCK_TIME:#x}\"")),
                f("transactionHash", format!("\"{TX_HASH}\"")),
                f("transactionIndex", format!("\"{:#x}\"", at.tx)),
                f("logIndex", format!("\"{:#x}\"", at.log)),
                f("removed", at.removed.to_string()),
            ],
        };
        notification(&object(&fields))
    }

    /// The notification of `event` emitted by `address`.
    pub(super) fn event_json<E: SolEvent>(
        event: &E,
        address: &str,
        at: At,
        order: Order,
    ) -> String {
        let d = event.encode_log_data();
        let topics: Vec<String> = d.topics().iter().map(|t| hexs(t.as_slice())).collect();
        log_json(address, &topics, &hexs(&d.data), at, order)
    }

    /// A frame of `kind` from `POOL` at `at`, with `words`, as the layout in feed_frame.rs says.
    pub(super) fn cl_frame(kind: FrameKind, words: &[[u8; 32]], at: At, recv: u64) -> FeedFrame {
        let mut f = FeedFrame {
            recv_ns: recv,
            block_number: at.block,
            log_index: at.log,
            tx_index: at.tx,
            kind,
            removed: u8::from(at.removed),
            block_tag: BLOCK_TAG,
            ..FeedFrame::EMPTY
        };
        f.address = POOL.parse::<Address>().unwrap().into_array();
        f.words[..words.len()].copy_from_slice(words);
        f
    }

    pub(super) fn u256w(v: U256) -> [u8; 32] {
        v.to_be_bytes::<32>()
    }

    fn i256w(v: I256) -> [u8; 32] {
        v.to_be_bytes::<32>()
    }

    fn tickw(t: I24) -> [u8; 32] {
        i256w(I256::try_from(t.as_i32()).unwrap())
    }

    fn i24(v: i32) -> I24 {
        I24::try_from(v).unwrap()
    }

    pub(super) fn swap_frame(e: &IUniswapV3Pool::Swap, at: At, recv: u64) -> FeedFrame {
        cl_frame(
            FrameKind::ClSwap,
            &[
                u256w(U256::from(e.sqrtPriceX96)),
                u256w(U256::from(e.liquidity)),
                i256w(e.amount0),
                i256w(e.amount1),
            ],
            at,
            recv,
        )
        .with_tick(e.tick.as_i32())
    }

    pub(super) trait FrameExt {
        fn with_tick(self, tick: i32) -> Self;
        /// The block time a log in `order` carries (anvil's `blockTimestamp`).
        fn timed(self, order: Order) -> Self;
    }

    impl FrameExt for FeedFrame {
        fn with_tick(mut self, tick: i32) -> Self {
            self.tick = tick;
            self
        }

        fn timed(mut self, order: Order) -> Self {
            if let Order::Anvil | Order::GethTimestamp = order {
                self.block_time = ANVIL_BLOCK_TIME;
            }
            self
        }
    }

    /// The `blockTimestamp` anvil- and geth-1.16-ordered test logs carry.
    pub(super) const ANVIL_BLOCK_TIME: u64 = 0x6b02_6ba0;

    pub(super) fn position_frame(
        kind: FrameKind,
        lower: I24,
        upper: I24,
        amount: u128,
        at: At,
    ) -> FeedFrame {
        cl_frame(
            kind,
            &[tickw(lower), tickw(upper), u256w(U256::from(amount))],
            at,
            0,
        )
    }

    pub(super) fn a_swap() -> IUniswapV3Pool::Swap {
        IUniswapV3Pool::Swap {
            sender: Address::repeat_byte(0x11),
            recipient: Address::repeat_byte(0x22),
            amount0: I256::try_from(-1_234_567_890_123_i64).unwrap(),
            amount1: I256::try_from(987_654_321_987_i64).unwrap(),
            sqrtPriceX96: U160::from(79_228_162_514_264_337_593_543_950_336_u128) * U160::from(3u8),
            liquidity: 0x1234_5678_9abc_def0_1122_3344,
            tick: i24(-197_340),
        }
    }

    pub(super) fn a_mint() -> IUniswapV3Pool::Mint {
        IUniswapV3Pool::Mint {
            sender: Address::repeat_byte(0x33),
            owner: Address::repeat_byte(0x44),
            tickLower: i24(-887_220),
            tickUpper: i24(-60),
            amount: u128::MAX,
            amount0: U256::MAX,
            amount1: U256::from(1u8),
        }
    }

    pub(super) fn a_burn() -> IUniswapV3Pool::Burn {
        IUniswapV3Pool::Burn {
            owner: Address::repeat_byte(0x55),
            tickLower: i24(60),
            tickUpper: i24(887_220),
            amount: 0x0bad_cafe,
            amount0: U256::from(17u8),
            amount1: U256::ZERO,
        }
    }

    pub(super) fn a_fee() -> IAlgebraPool::Fee {
        IAlgebraPool::Fee { fee: 7_550 }
    }

    #[test]
    fn topics_are_keccak_of_the_signatures() {
        for (sig, topic) in [
            ("Sync(uint112,uint112)", SYNC_TOPIC),
            (
                "Swap(address,address,int256,int256,uint160,uint128,int24)",
                SWAP_TOPIC,
            ),
            (
                "Mint(address,address,int24,int24,uint128,uint256,uint256)",
                MINT_TOPIC,
            ),
            (
                "Burn(address,int24,int24,uint128,uint256,uint256)",
                BURN_TOPIC,
            ),
            ("Fee(uint16)", FEE_TOPIC),
        ] {
            assert_eq!(keccak256(sig), B256::from(topic), "{sig}");
        }
        // Uniswap V3 and Algebra declare the same signatures (only parameter names differ).
        assert_eq!(IUniswapV3Pool::Swap::SIGNATURE_HASH, B256::from(SWAP_TOPIC));
        assert_eq!(IAlgebraPool::Swap::SIGNATURE_HASH, B256::from(SWAP_TOPIC));
        assert_eq!(IUniswapV3Pool::Mint::SIGNATURE_HASH, B256::from(MINT_TOPIC));
        assert_eq!(IAlgebraPool::Mint::SIGNATURE_HASH, B256::from(MINT_TOPIC));
        assert_eq!(IUniswapV3Pool::Burn::SIGNATURE_HASH, B256::from(BURN_TOPIC));
        assert_eq!(IAlgebraPool::Burn::SIGNATURE_HASH, B256::from(BURN_TOPIC));
        assert_eq!(IAlgebraPool::Fee::SIGNATURE_HASH, B256::from(FEE_TOPIC));
        assert_eq!(
            TRACKED_TOPICS,
            [SYNC_TOPIC, SWAP_TOPIC, MINT_TOPIC, BURN_TOPIC, FEE_TOPIC]
        );
    }

    #[test]
    fn swap_mint_burn_fee_in_geth_and_anvil_order() {
        for order in [Order::Geth, Order::GethTimestamp, Order::Anvil] {
            for removed in [false, true] {
                let at = At { removed, ..AT };
                let s = a_swap();
                let p = event_json(&s, POOL, at, order);
                let want = swap_frame(&s, at, 9).timed(order);
                assert_eq!(decode(p.as_bytes(), 9), Ok(Decoded::Frame(want)), "{p}");

                let m = a_mint();
                let p = event_json(&m, POOL, at, order);
                let want =
                    position_frame(FrameKind::ClMint, m.tickLower, m.tickUpper, m.amount, at)
                        .timed(order);
                assert_eq!(decode(p.as_bytes(), 0), Ok(Decoded::Frame(want)), "{p}");

                let b = a_burn();
                let p = event_json(&b, POOL, at, order);
                let want =
                    position_frame(FrameKind::ClBurn, b.tickLower, b.tickUpper, b.amount, at)
                        .timed(order);
                assert_eq!(decode(p.as_bytes(), 0), Ok(Decoded::Frame(want)), "{p}");

                let fee = a_fee();
                let p = event_json(&fee, POOL, at, order);
                let want = cl_frame(FrameKind::AlgebraFee, &[u256w(U256::from(fee.fee))], at, 0)
                    .timed(order);
                assert_eq!(decode(p.as_bytes(), 0), Ok(Decoded::Frame(want)), "{p}");
            }
        }
    }

    #[test]
    fn algebra_declarations_give_the_same_frames() {
        let s = IAlgebraPool::Swap {
            sender: Address::repeat_byte(1),
            recipient: Address::repeat_byte(2),
            amount0: I256::MIN,
            amount1: I256::MAX,
            price: U160::MAX,
            liquidity: 0,
            tick: i24(887_272),
        };
        let p = event_json(&s, POOL, AT, Order::Anvil);
        let f = *decode(p.as_bytes(), 0).unwrap().frame().unwrap();
        assert_eq!(f.kind, FrameKind::ClSwap);
        assert_eq!(f.words[0], u256w(U256::from(U160::MAX)));
        assert_eq!((f.word_u128(1), f.tick), (Some(0), 887_272));
        assert_eq!(f.words[2], i256w(I256::MIN));
        assert_eq!(f.words[3], i256w(I256::MAX));
        assert_eq!(f.block_time, ANVIL_BLOCK_TIME);
        let m = IAlgebraPool::Mint {
            sender: Address::ZERO,
            owner: Address::repeat_byte(3),
            bottomTick: i24(-887_272),
            topTick: i24(887_272),
            liquidityAmount: 1,
            amount0: U256::ZERO,
            amount1: U256::ZERO,
        };
        let p = event_json(&m, POOL, AT, Order::Geth);
        let f = *decode(p.as_bytes(), 0).unwrap().frame().unwrap();
        assert_eq!(f.kind, FrameKind::ClMint);
        assert_eq!(
            (f.word_i24(0), f.word_i24(1), f.word_u128(2)),
            (Some(-887_272), Some(887_272), Some(1))
        );
        let b = IAlgebraPool::Burn {
            owner: Address::repeat_byte(3),
            bottomTick: i24(-(1 << 23)),
            topTick: i24((1 << 23) - 1),
            liquidityAmount: u128::MAX,
            amount0: U256::ZERO,
            amount1: U256::ZERO,
        };
        let p = event_json(&b, POOL, AT, Order::Geth);
        let f = *decode(p.as_bytes(), 0).unwrap().frame().unwrap();
        assert_eq!(f.kind, FrameKind::ClBurn);
        assert_eq!(
            (f.word_i24(0), f.word_i24(1), f.word_u128(2)),
            (Some(-(1 << 23)), Some((1 << 23) - 1), Some(u128::MAX))
        );
    }

    /// The raw topics and data of `event`, to break by hand.
    pub(super) fn raw<E: SolEvent>(event: &E) -> (Vec<[u8; 32]>, Vec<u8>) {
        let d = event.encode_log_data();
        (d.topics().iter().map(|t| t.0).collect(), d.data.to_vec())
    }

    pub(super) fn raw_json(topics: &[[u8; 32]], data: &[u8]) -> String {
        let topics: Vec<String> = topics.iter().map(|t| hexs(t)).collect();
        log_json(POOL, &topics, &hexs(data), AT, Order::Geth)
    }

    /// A 32-byte word: `fill` everywhere, then `low` in the last bytes.
    fn word(fill: u8, low: &[u8]) -> [u8; 32] {
        let mut w = [fill; 32];
        w[32 - low.len()..].copy_from_slice(low);
        w
    }

    #[test]
    fn every_truncation_of_a_swap_is_an_error() {
        let p = event_json(&a_swap(), POOL, AT, Order::Anvil);
        for cut in 0..p.len() {
            assert!(decode(&p.as_bytes()[..cut], 0).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn malformed_concentrated_logs() {
        use DecodeError::*;
        let events: [(Vec<[u8; 32]>, Vec<u8>); 4] = [
            raw(&a_swap()),
            raw(&a_mint()),
            raw(&a_burn()),
            raw(&a_fee()),
        ];
        let mut cases: Vec<(String, DecodeError)> = Vec::new();
        for (topics, data) in &events {
            let n = topics.len();
            // One topic fewer, one more (a declaration with other indexed fields). None at all
            // is an anonymous log, ignored.
            if n > 1 {
                cases.push((
                    raw_json(&topics[..n - 1], data),
                    TopicCount {
                        expected: n,
                        got: n - 1,
                    },
                ));
            }
            let mut more = topics.clone();
            more.push([7; 32]);
            cases.push((
                raw_json(&more, data),
                TopicCount {
                    expected: n,
                    got: n + 1,
                },
            ));
            // Data one word short, one word long, one byte long.
            let len = data.len();
            cases.push((
                raw_json(topics, &data[..len - 32]),
                DataLength {
                    expected: len,
                    got: len - 32,
                },
            ));
            let mut long = data.clone();
            long.extend_from_slice(&[0; 32]);
            cases.push((
                raw_json(topics, &long),
                DataLength {
                    expected: len,
                    got: len + 32,
                },
            ));
            long.truncate(len + 1);
            cases.push((
                raw_json(topics, &long),
                DataLength {
                    expected: len,
                    got: len + 1,
                },
            ));
            // A non-hex digit in the last data word and in the last topic.
            let good = raw_json(topics, data);
            let last_digit = good.find("\",\"blockNumber\"").unwrap() - 1;
            let mut bad = good.clone().into_bytes();
            bad[last_digit] = b'x';
            cases.push((String::from_utf8(bad).unwrap(), BadHex("data")));
            let last_topic = hexs(&topics[n - 1]);
            let bad_topic = format!("{}g", &last_topic[..65]);
            cases.push((good.replace(&last_topic, &bad_topic), BadHex("topics")));
        }

        let with_data_word = |(topics, data): &(Vec<[u8; 32]>, Vec<u8>), i: usize, w: [u8; 32]| {
            let mut data = data.clone();
            data[32 * i..32 * (i + 1)].copy_from_slice(&w);
            raw_json(topics, &data)
        };
        let with_topic = |(topics, data): &(Vec<[u8; 32]>, Vec<u8>), i: usize, w: [u8; 32]| {
            let mut topics = topics.clone();
            topics[i] = w;
            raw_json(&topics, data)
        };
        let [swap, mint, burn, fee] = &events;
        // Ticks: 2^23 and -2^23 - 1 (int256 values out of int24), a negative value with a zero
        // fill, a positive one with an 0xff fill, a fill with one odd byte.
        let mut broken_fill = word(0xff, &[0xff, 0xff, 0xfe]);
        broken_fill[5] = 0xfe;
        let bad_ticks = [
            word(0, &[0x80, 0, 0]),
            word(0xff, &[0x7f, 0xff, 0xff]),
            word(0, &[0xff, 0xff, 0xfe]),
            word(0xff, &[0x00, 0x00, 0x05]),
            broken_fill,
        ];
        for t in bad_ticks {
            cases.push((with_data_word(swap, 4, t), NotInt24("data")));
            for ev in [mint, burn] {
                cases.push((with_topic(ev, 2, t), NotInt24("topics")));
                cases.push((with_topic(ev, 3, t), NotInt24("topics")));
            }
        }
        // Price 2^160, liquidity 2^128 (swap and positions), fee 2^16, and all-ones words.
        let above = |bits: usize| {
            let mut w = [0u8; 32];
            w[31 - bits / 8] = 1;
            w
        };
        cases.push((with_data_word(swap, 2, above(160)), ValueTooLarge("data")));
        cases.push((with_data_word(swap, 2, [0xff; 32]), ValueTooLarge("data")));
        cases.push((with_data_word(swap, 3, above(128)), ValueTooLarge("data")));
        cases.push((with_data_word(mint, 1, above(128)), ValueTooLarge("data")));
        cases.push((with_data_word(burn, 0, above(128)), ValueTooLarge("data")));
        cases.push((with_data_word(fee, 0, above(16)), ValueTooLarge("data")));
        cases.push((with_data_word(fee, 0, [0xff; 32]), ValueTooLarge("data")));
        for (p, want) in cases {
            assert_eq!(decode(p.as_bytes(), 0), Err(want), "{p}");
        }

        // The largest values that fit still decode, read back through the frame accessors.
        let mut max_swap = swap.clone();
        max_swap.1[64..96].copy_from_slice(&word(0, &[0xff; 20]));
        let p = with_data_word(&max_swap, 3, word(0, &[0xff; 16]));
        let f = *decode(p.as_bytes(), 0).unwrap().frame().unwrap();
        assert_eq!(f.words[0], u256w(U256::from(U160::MAX)));
        assert_eq!(f.word_u128(1), Some(u128::MAX));
        let p = with_data_word(fee, 0, word(0, &[0xff; 2]));
        let f = *decode(p.as_bytes(), 0).unwrap().frame().unwrap();
        assert_eq!(f.word_u128(0), Some(u128::from(u16::MAX)));
    }

    /// One of the four events with random values, its notification (shuffled keys, extra
    /// fields, whitespace) and the frame its values make.
    fn arb_cl_log() -> impl Strategy<Value = (String, FeedFrame)> {
        let addr = any::<[u8; 20]>().prop_map(Address::from);
        let int256 = any::<[u8; 32]>().prop_map(I256::from_be_bytes);
        let uint256 = any::<[u8; 32]>().prop_map(U256::from_be_bytes);
        let tick = (-(1i32 << 23)..(1 << 23)).prop_map(i24);
        let price = any::<[u8; 20]>().prop_map(U160::from_be_bytes);
        let at = (any::<u64>(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(
            |(block, tx, log, removed)| At {
                block,
                tx,
                log,
                removed,
            },
        );
        let swap = (
            addr.clone(),
            addr.clone(),
            int256.clone(),
            int256,
            price,
            any::<u128>(),
            tick.clone(),
        )
            .prop_map(
                |(sender, recipient, amount0, amount1, p, liquidity, tick)| {
                    let e = IUniswapV3Pool::Swap {
                        sender,
                        recipient,
                        amount0,
                        amount1,
                        sqrtPriceX96: p,
                        liquidity,
                        tick,
                    };
                    let f = swap_frame(&e, AT, 0);
                    (raw(&e), (f.words, f.tick))
                },
            );
        let position = (
            any::<bool>(),
            addr.clone(),
            addr,
            tick.clone(),
            tick,
            any::<u128>(),
            uint256.clone(),
            uint256,
        )
            .prop_map(|(is_mint, sender, owner, lo, hi, amount, a0, a1)| {
                let (r, kind) = if is_mint {
                    let e = IUniswapV3Pool::Mint {
                        sender,
                        owner,
                        tickLower: lo,
                        tickUpper: hi,
                        amount,
                        amount0: a0,
                        amount1: a1,
                    };
                    (raw(&e), FrameKind::ClMint)
                } else {
                    let e = IUniswapV3Pool::Burn {
                        owner,
                        tickLower: lo,
                        tickUpper: hi,
                        amount,
                        amount0: a0,
                        amount1: a1,
                    };
                    (raw(&e), FrameKind::ClBurn)
                };
                let f = position_frame(kind, lo, hi, amount, AT);
                (r, (f.words, 0))
            });
        let fee = any::<u16>().prop_map(|fee| {
            let f = cl_frame(FrameKind::AlgebraFee, &[u256w(U256::from(fee))], AT, 0);
            (raw(&IAlgebraPool::Fee { fee }), (f.words, 0))
        });
        (
            prop_oneof![swap, position, fee],
            at,
            any::<u64>(),
            any::<bool>(),
            any::<[u8; 20]>(),
        )
            .prop_flat_map(
                |(((topics, data), (words, tick)), at, recv, anvil, address)| {
                    let order = if anvil { Order::Anvil } else { Order::Geth };
                    let topics: Vec<String> = topics.iter().map(|t| hexs(t)).collect();
                    let p = log_json(&hexs(&address), &topics, &hexs(&data), at, order);
                    let kind = match topics[0].as_str() {
                        t if t == hexs(&SWAP_TOPIC) => FrameKind::ClSwap,
                        t if t == hexs(&MINT_TOPIC) => FrameKind::ClMint,
                        t if t == hexs(&BURN_TOPIC) => FrameKind::ClBurn,
                        _ => FrameKind::AlgebraFee,
                    };
                    let mut f = cl_frame(kind, &words, at, recv)
                        .with_tick(tick)
                        .timed(order);
                    f.address = address;
                    (Just(p), Just(f))
                },
            )
    }

    proptest! {
        #[test]
        fn generated_concentrated_logs_roundtrip((payload, frame) in arb_cl_log()) {
            prop_assert_eq!(decode(payload.as_bytes(), frame.recv_ns), Ok(Decoded::Frame(frame)));
        }

        /// One replaced byte anywhere in a valid payload: an error or a decode, never a panic.
        #[test]
        fn concentrated_mutations_never_panic(
            (payload, _) in arb_cl_log(),
            at in any::<prop::sample::Index>(),
            b in any::<u8>(),
        ) {
            let mut bytes = payload.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = b;
            let _ = decode(&bytes, 0);
        }

        /// A frame word replaced by a near-boundary value: the decoder accepts it exactly when
        /// alloy's validating decoder accepts the log, and then reads what alloy reads.
        #[test]
        fn boundary_words_agree_with_alloy(
            which in 0usize..7,
            fill in prop::sample::select(vec![0x00u8, 0xff, 0x01, 0x80, 0x7f]),
            low in prop::collection::vec(any::<u8>(), 0..=32),
            cut in 0usize..=32,
        ) {
            // Words that go into frames: (event, topic index or data word, is topic).
            let (mut topics, mut data) = match which {
                0..=2 => raw(&a_swap()),
                3 | 4 => raw(&a_mint()),
                5 => raw(&a_burn()),
                _ => raw(&a_fee()),
            };
            let mut w = [fill; 32];
            // A prefix of the low bytes replaces the word's tail: every width from 0 to 32.
            let low = &low[..cut.min(low.len())];
            w[32 - low.len()..].copy_from_slice(low);
            match which {
                0 => data[64..96].copy_from_slice(&w),   // swap price
                1 => data[96..128].copy_from_slice(&w),  // swap liquidity
                2 => data[128..160].copy_from_slice(&w), // swap tick
                3 => topics[2] = w,                      // mint tickLower
                4 => data[32..64].copy_from_slice(&w),   // mint amount
                5 => topics[3] = w,                      // burn tickUpper
                _ => data[..32].copy_from_slice(&w),     // fee
            }
            let payload = raw_json(&topics, &data);
            let ours = decode(payload.as_bytes(), 0);
            let b256: Vec<B256> = topics.iter().map(|t| B256::from(*t)).collect();
            let words = match which {
                0..=2 => IUniswapV3Pool::Swap::decode_raw_log_validate(b256, &data)
                    .map(|e| swap_frame(&e, AT, 0).words),
                3 | 4 => IUniswapV3Pool::Mint::decode_raw_log_validate(b256, &data).map(|e| {
                    position_frame(FrameKind::ClMint, e.tickLower, e.tickUpper, e.amount, AT).words
                }),
                5 => IUniswapV3Pool::Burn::decode_raw_log_validate(b256, &data).map(|e| {
                    position_frame(FrameKind::ClBurn, e.tickLower, e.tickUpper, e.amount, AT).words
                }),
                _ => IAlgebraPool::Fee::decode_raw_log_validate(b256, &data)
                    .map(|e| [u256w(U256::from(e.fee)), [0; 32], [0; 32], [0; 32]]),
            };
            match (ours, words) {
                (Ok(d), Ok(words)) => prop_assert_eq!(d.frame().map(|f| f.words), Some(words)),
                (Err(_), Err(_)) => {}
                (ours, alloy) => prop_assert!(false, "decoder {ours:?}, alloy {alloy:?}"),
            }
        }
    }
}
