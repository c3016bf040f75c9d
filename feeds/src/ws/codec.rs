//! The websocket framing layer (RFC 6455 §5), sans-IO: bytes read from the socket go in,
//! complete messages come out borrowed from the connection's own buffers, and frames to send
//! (masked, as a client must) collect in an output buffer for the edge to write.
//!
//! Buffers grow to the largest message seen and are then reused, so in steady state receiving
//! and sending allocate nothing.
//!
//! Masking keys (RFC 6455 §5.3: fresh and unpredictable for every frame) come from the OS CSPRNG,
//! drawn ahead into a pool of `MASK_POOL_KEYS` (256) keys per connection. Refilling it is one
//! `getrandom(2)` call of 1 KiB every 256 frames sent (pongs and closes included): about 3 µs
//! measured on the development machine, against ~0.4 µs for a call per frame, so ~12 ns a frame.
//! That call lands on whichever send or pong empties the pool; it allocates nothing.

/// Opcodes (RFC 6455 §5.2).
const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Largest control-frame payload, bytes (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;
/// Largest frame header a server can send: 2 + 8-byte length (servers never mask).
const MAX_SERVER_HEADER: usize = 10;

/// Close status codes this client sends (RFC 6455 §7.4.1).
pub(crate) const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_TOO_BIG: u16 = 1009;
/// Would be sent for [`ProtocolError::NoMaskKeys`], but a close frame needs a mask too.
const CLOSE_INTERNAL: u16 = 1011;

/// Masking keys drawn from the OS per refill of a connection's pool (4 bytes each: 1 KiB).
const MASK_POOL_KEYS: usize = 256;

/// Limits and buffer sizes of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsConfig {
    /// Largest message accepted, bytes of payload after reassembly. A larger one is a
    /// [`ProtocolError::MessageTooLarge`] (and a close with status 1009).
    pub max_message: usize,
    /// Free space offered to each socket read, bytes. The receive buffer starts at four times
    /// this and grows only for a frame that does not fit.
    pub read_chunk: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            // A full block with transactions or a large eth_getLogs answer stays well below this.
            max_message: 64 << 20,
            read_chunk: 64 << 10,
        }
    }
}

/// Why the codec refused: a violation of RFC 6455 by the server, a send on a closing connection,
/// or no random bytes for the masks every client frame needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The server masked a frame (§5.1 forbids it).
    MaskedFrame,
    /// A reserved bit is set and no extension was negotiated.
    ReservedBits,
    /// An opcode RFC 6455 does not define.
    BadOpcode(u8),
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A control frame without FIN.
    FragmentedControl,
    /// A 64-bit length with its most significant bit set.
    BadLength,
    /// A message longer than the configured maximum, bytes.
    MessageTooLarge {
        /// The configured [`WsConfig::max_message`].
        max: usize,
    },
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new text/binary frame while a fragmented message is in progress.
    ExpectedContinuation,
    /// A close frame with a 1-byte payload.
    BadClosePayload,
    /// A close frame with a status code no endpoint may send (below 1000, 1004–1006, 1015,
    /// unassigned 1016–2999, 5000 and up; RFC 6455 §7.4). Echoing it would break the protocol.
    BadCloseCode(u16),
    /// A data or control frame queued after the close handshake began.
    NotOpen,
    /// A control frame payload over 125 bytes was asked to be sent.
    ControlPayloadTooLong,
    /// The OS random source failed while refilling the masking-key pool (or filling it at
    /// [`WsConn::new`]). No frame can be sent unmasked or with a predictable mask, so the
    /// connection is dead; not even a close goes out.
    NoMaskKeys(getrandom::Error),
}

impl ProtocolError {
    /// Status code to close the connection with after this error.
    fn close_code(self) -> u16 {
        match self {
            Self::MessageTooLarge { .. } => CLOSE_TOO_BIG,
            Self::NoMaskKeys(_) => CLOSE_INTERNAL,
            _ => CLOSE_PROTOCOL,
        }
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MaskedFrame => write!(f, "server sent a masked frame"),
            Self::ReservedBits => write!(f, "frame has reserved bits set"),
            Self::BadOpcode(op) => write!(f, "frame has undefined opcode {op:#x}"),
            Self::ControlTooLong => write!(f, "control frame longer than 125 bytes"),
            Self::FragmentedControl => write!(f, "control frame is fragmented"),
            Self::BadLength => write!(f, "frame length has its top bit set"),
            Self::MessageTooLarge { max } => write!(f, "message longer than {max} bytes"),
            Self::UnexpectedContinuation => write!(f, "continuation frame outside a message"),
            Self::ExpectedContinuation => write!(f, "new message before the last one finished"),
            Self::BadClosePayload => write!(f, "close frame with a 1-byte payload"),
            Self::BadCloseCode(code) => write!(f, "close frame with reserved status code {code}"),
            Self::NotOpen => write!(f, "connection is closing"),
            Self::ControlPayloadTooLong => write!(f, "control payload over 125 bytes"),
            Self::NoMaskKeys(e) => write!(f, "os random source failed, no masking keys: {e}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// True for a status code an endpoint may put in a close frame: RFC 6455 §7.4.1's less the
/// reserved 1004–1006 and 1015, IANA's 1012–1014, and 3000–4999 (registered and private use).
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// What [`WsConn::next_event`] yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsEvent<'a> {
    /// One complete (reassembled) message.
    Message {
        /// Text (opcode 1) rather than binary. Text is not UTF-8 checked: JSON consumers read
        /// bytes, and checking would cost a pass over every payload.
        text: bool,
        /// The payload, borrowed from the connection until the next call.
        payload: &'a [u8],
    },
    /// The server closed; the reply close frame is already queued. No more events follow.
    Close {
        /// Status code, if the server sent one.
        code: Option<u16>,
        /// Reason text, as sent.
        reason: &'a [u8],
    },
}

/// Close-handshake progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// We sent a close and wait for the server's.
    CloseSent,
    /// Both closes seen (or the server's, with our reply queued).
    Closed,
}

/// Where the key pool's bytes come from.
#[derive(Clone, Debug)]
enum KeySource {
    /// The OS CSPRNG (`getrandom`): every real connection.
    Os,
    /// SplitMix64 from this state: predictable, for unit tests that compare frames.
    #[cfg(test)]
    Seeded(u64),
    /// Fills this many more times, then fails: the refill-failure path under test.
    #[cfg(test)]
    FailAfter(u32),
}

impl KeySource {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), getrandom::Error> {
        match self {
            Self::Os => getrandom::fill(buf),
            #[cfg(test)]
            Self::Seeded(state) => {
                for chunk in buf.chunks_mut(8) {
                    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = *state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    let z = (z ^ (z >> 31)).to_le_bytes();
                    chunk.copy_from_slice(&z[..chunk.len()]);
                }
                Ok(())
            }
            #[cfg(test)]
            Self::FailAfter(left) => {
                if *left == 0 {
                    return Err(getrandom::Error::UNEXPECTED);
                }
                *left -= 1;
                Self::Seeded(u64::from(*left)).fill(buf)
            }
        }
    }
}

/// Masking keys drawn ahead: `MASK_POOL_KEYS` keys from one call to the source, handed out in
/// order and never reused; the pool refills when the last is taken. Not `Clone`: two copies
/// would hand out the same keys.
struct MaskKeys {
    pool: [u8; 4 * MASK_POOL_KEYS],
    /// Keys of `pool` already handed out; `MASK_POOL_KEYS` means empty.
    used: usize,
    source: KeySource,
    /// Times the pool was filled, the first included.
    fills: u64,
}

impl core::fmt::Debug for MaskKeys {
    // Keys still to be used stay out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MaskKeys")
            .field("source", &self.source)
            .field("left", &(MASK_POOL_KEYS - self.used))
            .field("fills", &self.fills)
            .finish_non_exhaustive()
    }
}

impl MaskKeys {
    /// A full pool from `source`.
    fn new(source: KeySource) -> Result<Self, ProtocolError> {
        let mut keys = Self {
            pool: [0; 4 * MASK_POOL_KEYS],
            used: MASK_POOL_KEYS,
            source,
            fills: 0,
        };
        keys.refill()?;
        Ok(keys)
    }

    /// On failure the pool stays empty (its bytes unspecified, never used) and the next draw
    /// tries again.
    fn refill(&mut self) -> Result<(), ProtocolError> {
        self.source
            .fill(&mut self.pool)
            .map_err(ProtocolError::NoMaskKeys)?;
        self.used = 0;
        self.fills += 1;
        Ok(())
    }

    /// The next unused key; refills the pool (one syscall) when it is empty.
    fn next(&mut self) -> Result<[u8; 4], ProtocolError> {
        if self.used == MASK_POOL_KEYS {
            self.refill()?;
        }
        let i = 4 * self.used;
        self.used += 1;
        Ok([
            self.pool[i],
            self.pool[i + 1],
            self.pool[i + 2],
            self.pool[i + 3],
        ])
    }
}

/// XORs `buf` with the 4-byte mask key, eight bytes at a time.
pub(crate) fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ k8).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so the key phase is 0 again.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// Appends one frame with FIN set, masked with `key` (drawn first, so that a failed draw leaves
/// no half frame behind).
fn encode_frame(tx: &mut Vec<u8>, key: [u8; 4], opcode: u8, payload: &[u8]) {
    let len = payload.len();
    tx.push(0x80 | opcode);
    if len < 126 {
        tx.push(0x80 | len as u8);
    } else if let Ok(l16) = u16::try_from(len) {
        tx.push(0x80 | 126);
        tx.extend_from_slice(&l16.to_be_bytes());
    } else {
        tx.push(0x80 | 127);
        tx.extend_from_slice(&(len as u64).to_be_bytes());
    }
    tx.extend_from_slice(&key);
    let start = tx.len();
    tx.extend_from_slice(payload);
    apply_mask(&mut tx[start..], key);
}

/// A parsed, validated frame header.
struct Header {
    fin: bool,
    opcode: u8,
    header_len: usize,
    payload_len: usize,
}

/// One websocket connection's protocol state, without the socket.
#[derive(Debug)]
pub struct WsConn {
    cfg: WsConfig,
    /// Receive buffer: `rx[rx_start..rx_end]` is read but not yet consumed. Kept zero-filled to
    /// its full length so the socket can read into it without unsafe code.
    rx: Vec<u8>,
    rx_start: usize,
    rx_end: usize,
    /// Bytes (from `rx_start`) the frame being received needs in total; 0 when unknown.
    need: usize,
    /// Reassembly buffer for fragmented messages.
    frag: Vec<u8>,
    /// `Some(is_text)` while a fragmented message is in progress.
    frag_text: Option<bool>,
    /// `frag` holds a message handed out; clear it on the next call.
    frag_delivered: bool,
    /// Output: `tx[tx_start..]` is waiting to be written.
    tx: Vec<u8>,
    tx_start: usize,
    masks: MaskKeys,
    state: State,
    /// The first protocol error; the connection is dead after it and keeps reporting it.
    failed: Option<ProtocolError>,
}

impl WsConn {
    /// A connection past its handshake, masking with keys from the OS CSPRNG. Fills the key pool
    /// now (one `getrandom` call): the only error is [`ProtocolError::NoMaskKeys`].
    pub fn new(cfg: WsConfig) -> Result<Self, ProtocolError> {
        Ok(Self::with_masks(cfg, MaskKeys::new(KeySource::Os)?))
    }

    /// Predictable masks from `seed`, for unit tests that compare frames byte for byte.
    #[cfg(test)]
    fn with_mask_seed(cfg: WsConfig, seed: u64) -> Self {
        Self::with_masks(cfg, MaskKeys::new(KeySource::Seeded(seed)).unwrap())
    }

    fn with_masks(cfg: WsConfig, masks: MaskKeys) -> Self {
        let read_chunk = cfg.read_chunk.max(1);
        Self {
            cfg: WsConfig { read_chunk, ..cfg },
            rx: vec![0; 4 * read_chunk],
            rx_start: 0,
            rx_end: 0,
            need: 0,
            frag: Vec::new(),
            frag_text: None,
            frag_delivered: false,
            tx: Vec::new(),
            tx_start: 0,
            masks,
            state: State::Open,
            failed: None,
        }
    }

    /// Free space to read socket bytes into; report how many arrived with [`WsConn::filled`].
    /// Compacts or grows the receive buffer so that a pending frame fits.
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.rx_start == self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        }
        let unread = self.rx_end - self.rx_start;
        let want = self.cfg.read_chunk.max(self.need.saturating_sub(unread));
        if self.rx.len() - self.rx_end < want {
            if self.rx_start > 0 {
                self.rx.copy_within(self.rx_start..self.rx_end, 0);
                self.rx_start = 0;
                self.rx_end = unread;
            }
            if self.rx.len() - self.rx_end < want {
                self.rx.resize(self.rx_end + want, 0);
            }
        }
        &mut self.rx[self.rx_end..]
    }

    /// Records that `n` bytes were read into [`WsConn::read_buf`].
    pub fn filled(&mut self, n: usize) {
        self.rx_end = (self.rx_end + n).min(self.rx.len());
    }

    /// Copies received bytes in (tests, and bytes that arrived behind the handshake).
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let buf = self.read_buf();
            let n = buf.len().min(bytes.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// True once the server's close frame has been received.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The next complete message or close from the bytes received so far; `Ok(None)` when more
    /// bytes are needed. Pings are answered (the pong is queued) and pongs dropped here.
    pub fn next_event(&mut self) -> Result<Option<WsEvent<'_>>, ProtocolError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.frag_delivered {
            self.frag.clear();
            self.frag_delivered = false;
        }
        if self.state == State::Closed {
            return Ok(None);
        }
        loop {
            let avail = &self.rx[self.rx_start..self.rx_end];
            let h = match self.header(avail) {
                Ok(Some(h)) => h,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            let total = h.header_len + h.payload_len;
            if avail.len() < total {
                self.need = total;
                return Ok(None);
            }
            self.need = 0;
            let p0 = self.rx_start + h.header_len;
            let p1 = p0 + h.payload_len;
            self.rx_start += total;
            match h.opcode {
                OP_PING => {
                    // After our close only the server's close may follow from us: no pong.
                    // Between the fragments of a message is fine (§5.4): `frag` is untouched.
                    if self.state == State::Open {
                        let key = match self.masks.next() {
                            Ok(k) => k,
                            Err(e) => return Err(self.fail(e)),
                        };
                        self.compact_tx();
                        encode_frame(&mut self.tx, key, OP_PONG, &self.rx[p0..p1]);
                    }
                }
                OP_PONG => {}
                OP_CLOSE => {
                    let payload = &self.rx[p0..p1];
                    let code = match payload.len() {
                        0 => None,
                        1 => return Err(self.fail(ProtocolError::BadClosePayload)),
                        _ => match u16::from_be_bytes([payload[0], payload[1]]) {
                            c if close_code_allowed(c) => Some(c),
                            c => return Err(self.fail(ProtocolError::BadCloseCode(c))),
                        },
                    };
                    if self.state == State::Open {
                        // Echo the status code (§5.5.1); no code received means none sent back.
                        let reply = code.map(u16::to_be_bytes);
                        let key = match self.masks.next() {
                            Ok(k) => k,
                            Err(e) => return Err(self.fail(e)),
                        };
                        self.compact_tx();
                        encode_frame(
                            &mut self.tx,
                            key,
                            OP_CLOSE,
                            reply.as_ref().map_or(&[][..], |r| &r[..]),
                        );
                    }
                    self.state = State::Closed;
                    let reason = self.rx.get(p0 + 2..p1).unwrap_or_default();
                    return Ok(Some(WsEvent::Close { code, reason }));
                }
                OP_TEXT | OP_BINARY => {
                    let text = h.opcode == OP_TEXT;
                    if h.fin {
                        return Ok(Some(WsEvent::Message {
                            text,
                            payload: &self.rx[p0..p1],
                        }));
                    }
                    self.frag_text = Some(text);
                    self.frag.extend_from_slice(&self.rx[p0..p1]);
                }
                _ => {
                    // OP_CONTINUATION; `header` rejected every other opcode.
                    self.frag.extend_from_slice(&self.rx[p0..p1]);
                    if h.fin {
                        let text = self.frag_text.take().unwrap_or(false);
                        self.frag_delivered = true;
                        return Ok(Some(WsEvent::Message {
                            text,
                            payload: &self.frag,
                        }));
                    }
                }
            }
        }
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.failed = Some(e);
        e
    }

    /// Parses and validates the header at the front of `b`; `Ok(None)` if incomplete.
    fn header(&self, b: &[u8]) -> Result<Option<Header>, ProtocolError> {
        let (b0, b1) = match b {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        let opcode = b0 & 0x0F;
        if b1 & 0x80 != 0 {
            return Err(ProtocolError::MaskedFrame);
        }
        let is_control = opcode & 0x8 != 0;
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin {
                    return Err(ProtocolError::FragmentedControl);
                }
            }
            OP_TEXT | OP_BINARY if self.frag_text.is_some() => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            OP_TEXT | OP_BINARY => {}
            OP_CONTINUATION if self.frag_text.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            OP_CONTINUATION => {}
            other => return Err(ProtocolError::BadOpcode(other)),
        }
        let (len, header_len): (u64, usize) = match b1 & 0x7F {
            126 => match b.get(2..4) {
                Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
                None => return Ok(None),
            },
            127 => match b.get(2..MAX_SERVER_HEADER) {
                Some(l) => {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(l);
                    let len = u64::from_be_bytes(w);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::BadLength);
                    }
                    (len, MAX_SERVER_HEADER)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if is_control && len > MAX_CONTROL as u64 {
            return Err(ProtocolError::ControlTooLong);
        }
        let so_far = if opcode == OP_CONTINUATION {
            self.frag.len() as u64
        } else {
            0
        };
        if !is_control && so_far.saturating_add(len) > self.cfg.max_message as u64 {
            return Err(ProtocolError::MessageTooLarge {
                max: self.cfg.max_message,
            });
        }
        // Fits usize: bounded by max_message (data) or 125 (control) above.
        let payload_len = len as usize;
        Ok(Some(Header {
            fin,
            opcode,
            header_len,
            payload_len,
        }))
    }

    /// Drops written bytes from the front of the output buffer once they are at least half of it,
    /// so the buffer does not creep while a backlog drains.
    fn compact_tx(&mut self) {
        if self.tx_start > 0 && self.tx_start * 2 >= self.tx.len() {
            self.tx.drain(..self.tx_start);
            self.tx_start = 0;
        }
    }

    fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.state != State::Open {
            return Err(ProtocolError::NotOpen);
        }
        let key = self.masks.next().map_err(|e| self.fail(e))?;
        self.compact_tx();
        encode_frame(&mut self.tx, key, opcode, payload);
        Ok(())
    }

    /// Queues a text message (one frame).
    pub fn send_text(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        self.send(OP_TEXT, payload)
    }

    /// Queues a binary message (one frame).
    pub fn send_binary(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        self.send(OP_BINARY, payload)
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        if payload.len() > MAX_CONTROL {
            return Err(ProtocolError::ControlPayloadTooLong);
        }
        self.send(OP_PING, payload)
    }

    /// Queues a close with a status code and a reason of at most 123 bytes; the connection then
    /// waits for the server's close.
    pub fn send_close(&mut self, code: u16, reason: &[u8]) -> Result<(), ProtocolError> {
        if reason.len() > MAX_CONTROL - 2 {
            return Err(ProtocolError::ControlPayloadTooLong);
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.state != State::Open {
            return Err(ProtocolError::NotOpen);
        }
        let mut payload = [0u8; MAX_CONTROL];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason);
        let key = self.masks.next().map_err(|e| self.fail(e))?;
        self.compact_tx();
        encode_frame(&mut self.tx, key, OP_CLOSE, &payload[..2 + reason.len()]);
        self.state = State::CloseSent;
        Ok(())
    }

    /// Queues the close that a protocol error calls for (best effort; the connection is dead).
    /// Without masking keys nothing can be queued: dropping the TCP connection is all that is left.
    pub(crate) fn close_for_error(&mut self, e: ProtocolError) {
        if self.state != State::Open || matches!(e, ProtocolError::NoMaskKeys(_)) {
            return;
        }
        if let Ok(key) = self.masks.next() {
            self.compact_tx();
            encode_frame(&mut self.tx, key, OP_CLOSE, &e.close_code().to_be_bytes());
        }
        self.state = State::CloseSent;
    }

    /// Bytes waiting to be written to the socket.
    pub fn pending(&self) -> &[u8] {
        &self.tx[self.tx_start..]
    }

    /// Records that the first `n` bytes of [`WsConn::pending`] were written.
    pub fn written(&mut self, n: usize) {
        self.tx_start = (self.tx_start + n).min(self.tx.len());
        if self.tx_start == self.tx.len() {
            self.tx.clear();
            self.tx_start = 0;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A server frame: unmasked unless `mask` is given.
    pub(crate) fn server_frame(
        fin: bool,
        opcode: u8,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        let len = payload.len();
        if len < 126 {
            f.push(m | len as u8);
        } else if len <= 0xFFFF {
            f.push(m | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(m | 127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let start = f.len() + if mask.is_some() { 4 } else { 0 };
        if let Some(k) = mask {
            f.extend_from_slice(&k);
        }
        f.extend_from_slice(payload);
        if let Some(k) = mask {
            apply_mask(&mut f[start..], k);
        }
        f
    }

    /// Parses the client frames in `bytes` as a server would: (fin, opcode, unmasked payload).
    /// Panics on an unmasked or truncated frame (test oracle).
    pub(crate) fn client_frames(mut bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let fin = bytes[0] & 0x80 != 0;
            let op = bytes[0] & 0x0F;
            assert!(bytes[1] & 0x80 != 0, "client frame must be masked");
            let (len, mut at) = match bytes[1] & 0x7F {
                126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            let key: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            at += 4;
            let mut p = bytes[at..at + len].to_vec();
            apply_mask(&mut p, key);
            out.push((fin, op, p));
            bytes = &bytes[at + len..];
        }
        out
    }

    const CFG: WsConfig = WsConfig {
        max_message: 1 << 20,
        read_chunk: 16,
    };

    fn conn() -> WsConn {
        WsConn::with_mask_seed(CFG, 42)
    }

    fn drain(c: &mut WsConn) -> Result<Vec<(bool, Vec<u8>)>, ProtocolError> {
        let mut out = Vec::new();
        while let Some(ev) = c.next_event()? {
            match ev {
                WsEvent::Message { text, payload } => out.push((text, payload.to_vec())),
                WsEvent::Close { .. } => break,
            }
        }
        Ok(out)
    }

    #[test]
    fn mask_matches_bytewise_xor() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for n in 0..40 {
            let data: Vec<u8> = (0..n as u8).collect();
            let mut fast = data.clone();
            apply_mask(&mut fast, key);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut hello = *b"Hello";
        apply_mask(&mut hello, key);
        assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn rfc_examples_unmasked() {
        // RFC 6455 §5.7: single-frame and fragmented unmasked text "Hello".
        let mut c = conn();
        c.feed(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        c.feed(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!(
            drain(&mut c).unwrap(),
            [(true, b"Hello".to_vec()), (true, b"Hello".to_vec())]
        );
    }

    #[test]
    fn all_length_encodings_and_bytewise_feeding() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let frame = server_frame(true, OP_BINARY, &payload, None);
            let mut c = conn();
            let step = if len > 1000 { 4099 } else { 1 };
            let mut got = Vec::new();
            for chunk in frame.chunks(step) {
                c.feed(chunk);
                got.extend(drain(&mut c).unwrap());
            }
            assert_eq!(got, [(false, payload)], "len {len}");
        }
    }

    #[test]
    fn fragments_with_interleaved_ping() {
        let mut c = conn();
        let mut bytes = server_frame(false, OP_TEXT, b"ab", None);
        bytes.extend(server_frame(true, OP_PING, b"p1", None));
        bytes.extend(server_frame(false, OP_CONTINUATION, b"cd", None));
        bytes.extend(server_frame(true, OP_PONG, b"ignored", None));
        bytes.extend(server_frame(true, OP_CONTINUATION, b"ef", None));
        bytes.extend(server_frame(true, OP_BINARY, b"next", None));
        c.feed(&bytes);
        assert_eq!(
            drain(&mut c).unwrap(),
            [(true, b"abcdef".to_vec()), (false, b"next".to_vec())]
        );
        assert_eq!(
            client_frames(c.pending()),
            [(true, OP_PONG, b"p1".to_vec())]
        );
        let n = c.pending().len();
        c.written(n);
        assert!(c.pending().is_empty());
    }

    #[test]
    fn close_is_echoed_and_final() {
        let mut c = conn();
        let mut payload = 4001u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        c.feed(&server_frame(true, OP_CLOSE, &payload, None));
        c.feed(&server_frame(true, OP_TEXT, b"after", None));
        assert_eq!(
            c.next_event(),
            Ok(Some(WsEvent::Close {
                code: Some(4001),
                reason: b"bye"
            }))
        );
        assert!(c.is_closed());
        assert_eq!(c.next_event(), Ok(None));
        assert_eq!(
            client_frames(c.pending()),
            [(true, OP_CLOSE, 4001u16.to_be_bytes().to_vec())]
        );
        assert_eq!(c.send_text(b"x"), Err(ProtocolError::NotOpen));
    }

    #[test]
    fn client_close_then_server_close() {
        let mut c = conn();
        c.send_close(CLOSE_NORMAL, b"done").unwrap();
        let mut expect = CLOSE_NORMAL.to_be_bytes().to_vec();
        expect.extend_from_slice(b"done");
        assert_eq!(client_frames(c.pending()), [(true, OP_CLOSE, expect)]);
        c.written(c.pending().len());
        // Data still arrives until the server's close; pings are not answered any more.
        c.feed(&server_frame(true, OP_TEXT, b"late", None));
        c.feed(&server_frame(true, OP_PING, b"", None));
        c.feed(&server_frame(true, OP_CLOSE, &[], None));
        assert_eq!(drain(&mut c).unwrap(), [(true, b"late".to_vec())]);
        assert!(c.is_closed());
        assert!(c.pending().is_empty());
    }

    #[test]
    fn protocol_violations_are_errors() {
        let big = vec![0u8; 126];
        let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
            (
                server_frame(true, OP_TEXT, b"x", Some([1, 2, 3, 4])),
                ProtocolError::MaskedFrame,
            ),
            (vec![0x81 | 0x40, 0x00], ProtocolError::ReservedBits),
            (vec![0x81 | 0x10, 0x00], ProtocolError::ReservedBits),
            (vec![0x83, 0x00], ProtocolError::BadOpcode(3)),
            (vec![0x8B, 0x00], ProtocolError::BadOpcode(0xB)),
            (
                server_frame(true, OP_PING, &big, None),
                ProtocolError::ControlTooLong,
            ),
            (
                server_frame(false, OP_PING, b"", None),
                ProtocolError::FragmentedControl,
            ),
            (
                server_frame(true, OP_CONTINUATION, b"x", None),
                ProtocolError::UnexpectedContinuation,
            ),
            (
                [
                    server_frame(false, OP_TEXT, b"a", None),
                    server_frame(true, OP_TEXT, b"b", None),
                ]
                .concat(),
                ProtocolError::ExpectedContinuation,
            ),
            (
                server_frame(true, OP_CLOSE, b"x", None),
                ProtocolError::BadClosePayload,
            ),
            (
                vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::BadLength,
            ),
            (
                vec![0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0],
                ProtocolError::MessageTooLarge { max: 1 << 20 },
            ),
            (
                [
                    server_frame(false, OP_TEXT, &vec![b'a'; 1 << 19], None),
                    server_frame(false, OP_CONTINUATION, &vec![b'a'; 1 << 19], None),
                    server_frame(true, OP_CONTINUATION, b"!", None),
                ]
                .concat(),
                ProtocolError::MessageTooLarge { max: 1 << 20 },
            ),
        ];
        for (bytes, want) in cases {
            let mut c = conn();
            c.feed(&bytes);
            assert_eq!(
                drain(&mut c),
                Err(want),
                "{:x?}",
                &bytes[..bytes.len().min(12)]
            );
            // Sticky: the connection stays failed.
            assert_eq!(c.next_event(), Err(want));
            c.close_for_error(want);
            let frames = client_frames(c.pending());
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].2, want.close_code().to_be_bytes());
        }
    }

    #[test]
    fn close_codes_no_endpoint_may_send_are_errors() {
        for code in [
            0u16,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2999,
            5000,
            u16::MAX,
        ] {
            let mut c = conn();
            c.feed(&server_frame(true, OP_CLOSE, &code.to_be_bytes(), None));
            let want = ProtocolError::BadCloseCode(code);
            assert_eq!(c.next_event(), Err(want), "code {code}");
            assert!(!c.is_closed());
            // Not echoed: the reply is a protocol-error close.
            c.close_for_error(want);
            assert_eq!(
                client_frames(c.pending()),
                [(true, OP_CLOSE, CLOSE_PROTOCOL.to_be_bytes().to_vec())]
            );
        }
        for code in [1000u16, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4999] {
            let mut c = conn();
            c.feed(&server_frame(true, OP_CLOSE, &code.to_be_bytes(), None));
            assert_eq!(
                c.next_event(),
                Ok(Some(WsEvent::Close {
                    code: Some(code),
                    reason: b""
                })),
                "code {code}"
            );
            assert_eq!(
                client_frames(c.pending()),
                [(true, OP_CLOSE, code.to_be_bytes().to_vec())]
            );
        }
    }

    #[test]
    fn close_between_fragments_ends_the_message() {
        let mut c = conn();
        let mut bytes = server_frame(false, OP_TEXT, b"half", None);
        bytes.extend(server_frame(true, OP_PING, b"p", None));
        bytes.extend(server_frame(true, OP_CLOSE, &1001u16.to_be_bytes(), None));
        c.feed(&bytes);
        assert_eq!(
            c.next_event(),
            Ok(Some(WsEvent::Close {
                code: Some(1001),
                reason: b""
            }))
        );
        assert_eq!(
            client_frames(c.pending()),
            [
                (true, OP_PONG, b"p".to_vec()),
                (true, OP_CLOSE, 1001u16.to_be_bytes().to_vec())
            ]
        );
    }

    /// The masking key of each frame in `bytes` (client frames, as `client_frames` parses them).
    fn frame_keys(mut bytes: &[u8]) -> Vec<[u8; 4]> {
        let mut keys = Vec::new();
        while !bytes.is_empty() {
            let (len, at) = match bytes[1] & 0x7F {
                126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
                127 => unreachable!("test frames are short"),
                n => (usize::from(n), 2),
            };
            keys.push(bytes[at..at + 4].try_into().unwrap());
            bytes = &bytes[at + 4 + len..];
        }
        keys
    }

    #[test]
    fn masks_are_drawn_in_order_from_a_pool_refilled_when_empty() {
        let mut c = conn();
        assert_eq!(c.masks.fills, 1, "filled at construction");
        let n = 2 * MASK_POOL_KEYS + 10;
        for i in 0..n {
            c.send_binary(&[i as u8; 3]).unwrap();
        }
        // Two refills, each at the frame that found the pool empty.
        assert_eq!(c.masks.fills, 3);
        let keys = frame_keys(c.pending());
        // The same bytes as the source writes them, 4 per key, no key skipped or repeated.
        let mut want = vec![0u8; 3 * 4 * MASK_POOL_KEYS];
        KeySource::Seeded(42).fill(&mut want).unwrap();
        assert_eq!(keys.concat(), want[..4 * n]);
        let frames = client_frames(c.pending());
        assert!(frames.iter().enumerate().all(|(i, f)| f.2 == [i as u8; 3]));
    }

    #[test]
    fn os_masks_are_fresh_per_frame_and_per_connection() {
        let mut a = WsConn::new(CFG).unwrap();
        let mut b = WsConn::new(CFG).unwrap();
        for _ in 0..8 {
            a.send_text(b"x").unwrap();
            b.send_text(b"x").unwrap();
        }
        let (ka, kb) = (frame_keys(a.pending()), frame_keys(b.pending()));
        // 8 keys of 32 random bits each: a false failure has odds around 2^-200.
        assert_ne!(ka, kb);
        assert!(ka.windows(2).any(|w| w[0] != w[1]));
        assert_eq!(client_frames(a.pending()).len(), 8);
    }

    #[test]
    fn a_failed_refill_is_a_sticky_error_and_sends_nothing_partial() {
        let failed = ProtocolError::NoMaskKeys(getrandom::Error::UNEXPECTED);
        // No pool at all: construction reports it.
        assert_eq!(
            MaskKeys::new(KeySource::FailAfter(0)).map(drop),
            Err(failed)
        );
        // A pool that cannot be refilled: the 257th frame fails, whole frames stay queued.
        let mut c = WsConn::with_masks(CFG, MaskKeys::new(KeySource::FailAfter(1)).unwrap());
        for _ in 0..MASK_POOL_KEYS {
            c.send_text(b"ok").unwrap();
        }
        let queued = c.pending().len();
        assert_eq!(c.send_text(b"one too many"), Err(failed));
        assert_eq!(c.pending().len(), queued);
        assert_eq!(client_frames(c.pending()).len(), MASK_POOL_KEYS);
        // Sticky, for sends and receives alike; no close can be masked either.
        c.feed(&server_frame(true, OP_TEXT, b"in", None));
        assert_eq!(c.next_event(), Err(failed));
        assert_eq!(c.send_ping(b""), Err(failed));
        assert_eq!(c.send_close(CLOSE_NORMAL, b""), Err(failed));
        c.close_for_error(failed);
        assert_eq!(c.pending().len(), queued);

        // The same when a ping's pong is the frame that finds the pool empty.
        let mut c = WsConn::with_masks(CFG, MaskKeys::new(KeySource::FailAfter(1)).unwrap());
        for _ in 0..MASK_POOL_KEYS {
            c.send_text(b"ok").unwrap();
        }
        let n = c.pending().len();
        c.written(n);
        c.feed(&server_frame(false, OP_TEXT, b"a", None));
        c.feed(&server_frame(true, OP_PING, b"p", None));
        c.feed(&server_frame(true, OP_CONTINUATION, b"b", None));
        assert_eq!(c.next_event(), Err(failed));
        assert!(c.pending().is_empty());
    }

    #[test]
    fn oversize_frame_rejected_before_its_payload_arrives() {
        let mut c = conn();
        // Only the header of a 2 MiB frame: the error must come now, not after buffering.
        c.feed(&[0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]);
        assert_eq!(
            c.next_event(),
            Err(ProtocolError::MessageTooLarge { max: 1 << 20 })
        );
    }

    #[test]
    fn sent_frames_are_masked_with_all_lengths() {
        let mut c = conn();
        let sizes = [0usize, 5, 125, 126, 65535, 65536, 100_000];
        for &n in &sizes {
            c.send_text(&vec![b'z'; n]).unwrap();
        }
        c.send_ping(b"hi").unwrap();
        assert_eq!(
            c.send_ping(&[0; 126]),
            Err(ProtocolError::ControlPayloadTooLong)
        );
        let frames = client_frames(c.pending());
        assert_eq!(frames.len(), sizes.len() + 1);
        for (f, &n) in frames.iter().zip(&sizes) {
            assert_eq!(*f, (true, OP_TEXT, vec![b'z'; n]));
        }
        assert_eq!(frames[sizes.len()], (true, OP_PING, b"hi".to_vec()));
        // Masks differ frame to frame (the generator advances).
        c.written(c.pending().len());
        c.send_text(b"aaaa").unwrap();
        let a = c.pending()[2..6].to_vec();
        c.written(c.pending().len());
        c.send_text(b"aaaa").unwrap();
        assert_ne!(a, c.pending()[2..6].to_vec());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), step in 1usize..64) {
            let mut c = conn();
            for chunk in bytes.chunks(step) {
                c.feed(chunk);
                if drain(&mut c).is_err() {
                    break;
                }
            }
        }

        /// Random messages, randomly fragmented, with pings between frames, fed in random
        /// chunks, come out whole and in order; every ping gets its pong.
        #[test]
        fn messages_roundtrip(
            msgs in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..3000), 1usize..5), 1..8),
            step in 1usize..5000,
        ) {
            let mut bytes = Vec::new();
            let mut pings = 0;
            for (text, payload, parts) in &msgs {
                let size = payload.len().div_ceil(*parts).max(1);
                let pieces: Vec<&[u8]> = if payload.is_empty() { vec![&[][..]] } else { payload.chunks(size).collect() };
                for (i, p) in pieces.iter().enumerate() {
                    let op = if i == 0 { if *text { OP_TEXT } else { OP_BINARY } } else { OP_CONTINUATION };
                    bytes.extend(server_frame(i + 1 == pieces.len(), op, p, None));
                    if i % 2 == 0 {
                        bytes.extend(server_frame(true, OP_PING, &[pings as u8], None));
                        pings += 1;
                    }
                }
            }
            let mut c = conn();
            let mut got = Vec::new();
            for chunk in bytes.chunks(step) {
                c.feed(chunk);
                got.extend(drain(&mut c).unwrap());
            }
            let want: Vec<(bool, Vec<u8>)> = msgs.iter().map(|(t, p, _)| (*t, p.clone())).collect();
            prop_assert_eq!(got, want);
            let pongs = client_frames(c.pending());
            prop_assert_eq!(pongs.len(), pings);
            for (i, (fin, op, p)) in pongs.into_iter().enumerate() {
                prop_assert!(fin);
                prop_assert_eq!(op, OP_PONG);
                prop_assert_eq!(p, vec![i as u8]);
            }
        }
    }
}
