//! RFC 6455 framing (section 5), written here on purpose rather than shared with `polyarb-feeds`,
//! whose client this proxy is used to check. Pure: frames from bytes and bytes from frames, no
//! I/O.
//!
//! Strict where a peer could hurt the proxy or hide a fault (reserved bits, unknown opcodes, the
//! masking rule of each direction, control frame limits, sizes); lenient where the RFC's rule
//! changes nothing for a relay (a non-minimal length encoding is accepted and re-encoded minimal).

use std::fmt;

/// Opcodes (RFC 6455 section 5.2).
pub(crate) mod opcode {
    pub(crate) const CONTINUATION: u8 = 0x0;
    pub(crate) const TEXT: u8 = 0x1;
    pub(crate) const BINARY: u8 = 0x2;
    pub(crate) const CLOSE: u8 = 0x8;
    pub(crate) const PING: u8 = 0x9;
    pub(crate) const PONG: u8 = 0xA;
}

/// Largest frame payload accepted, bytes. anvil's largest answers (an `eth_getLogs` over many
/// blocks) stay far below; a length above is a hostile or broken peer.
pub(crate) const MAX_FRAME_PAYLOAD: u64 = 64 << 20;

/// Largest reassembled message, bytes (same reasoning as [`MAX_FRAME_PAYLOAD`]).
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// Control frames carry at most 125 payload bytes (RFC 6455 section 5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Which peer wrote the bytes: clients must mask every frame, servers must mask none (5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    Client,
    Server,
}

/// One frame, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// A frame or message that breaks RFC 6455.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// RSV1-3 set without a negotiated extension (the proxy lets none through).
    ReservedBits(u8),
    /// An opcode the RFC does not define.
    UnknownOpcode(u8),
    /// A client frame without a mask.
    Unmasked,
    /// A server frame with a mask.
    Masked,
    /// A control frame with more than 125 payload bytes.
    ControlTooLong(u64),
    /// A control frame with FIN clear.
    ControlFragmented,
    /// A frame longer than the proxy's limit, bytes.
    FrameTooLong(u64),
    /// A reassembled message longer than the proxy's limit, bytes.
    MessageTooLong(usize),
    /// A continuation frame with no message to continue.
    StrayContinuation,
    /// A new text or binary frame while a fragmented message is still open.
    UnfinishedMessage,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits(bits) => write!(f, "reserved bits {bits:#05b} set"),
            Self::UnknownOpcode(op) => write!(f, "undefined opcode {op:#x}"),
            Self::Unmasked => write!(f, "client frame without a mask"),
            Self::Masked => write!(f, "server frame with a mask"),
            Self::ControlTooLong(n) => write!(f, "control frame of {n} bytes (at most 125)"),
            Self::ControlFragmented => write!(f, "fragmented control frame"),
            Self::FrameTooLong(n) => {
                write!(f, "frame of {n} bytes (at most {MAX_FRAME_PAYLOAD})")
            }
            Self::MessageTooLong(n) => write!(f, "message of {n} bytes (at most {MAX_MESSAGE})"),
            Self::StrayContinuation => write!(f, "continuation frame outside a message"),
            Self::UnfinishedMessage => write!(f, "new message before the last one ended"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses one frame from the start of `buf`. `Ok(None)` until the whole frame is there;
/// otherwise the frame and how many bytes it took. Header errors are reported as soon as the
/// header bytes that show them arrived, so a hostile length is refused before it is waited for.
pub(crate) fn parse(buf: &[u8], from: Sender) -> Result<Option<(Frame, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    let opcode = b0 & 0x0F;
    if rsv != 0 {
        return Err(FrameError::ReservedBits(rsv));
    }
    if !matches!(
        opcode,
        opcode::CONTINUATION
            | opcode::TEXT
            | opcode::BINARY
            | opcode::CLOSE
            | opcode::PING
            | opcode::PONG
    ) {
        return Err(FrameError::UnknownOpcode(opcode));
    }
    let masked = b1 & 0x80 != 0;
    match (from, masked) {
        (Sender::Client, false) => return Err(FrameError::Unmasked),
        (Sender::Server, true) => return Err(FrameError::Masked),
        _ => {}
    }
    let control = opcode & 0x8 != 0;
    if control && !fin {
        return Err(FrameError::ControlFragmented);
    }
    let (len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            // The slice is 8 bytes long, so the conversion cannot fail.
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or([0xFF; 8])), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if control && len > MAX_CONTROL_PAYLOAD {
        return Err(FrameError::ControlTooLong(len));
    }
    if len > MAX_FRAME_PAYLOAD {
        return Err(FrameError::FrameTooLong(len));
    }
    let mask = if masked {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    // `len` is at most MAX_FRAME_PAYLOAD, so it fits a usize on every target the proxy runs on.
    let len = len as usize;
    let Some(body) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let mut payload = body.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

/// XORs `data` with the 4-byte masking key (RFC 6455 section 5.3); masking and unmasking are the
/// same operation.
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Appends one frame to `out`: `first` is the first header byte as is (FIN, RSV bits, opcode),
/// so callers can also write frames that break the RFC on purpose. With `mask`, the payload is
/// masked with that key (client to server frames).
pub(crate) fn encode(out: &mut Vec<u8>, first: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(first);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        // `len` < 126, so it fits the 7-bit field.
        out.push(mask_bit | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            let start = out.len();
            out.extend_from_slice(payload);
            apply_mask(&mut out[start..], key);
        }
        None => out.extend_from_slice(payload),
    }
}

/// The first header byte of a well-formed frame.
pub(crate) fn first_byte(fin: bool, opcode: u8) -> u8 {
    if fin { 0x80 | opcode } else { opcode }
}

/// A whole text or binary message, with the sizes of the frames it came in so it can be relayed
/// fragmented as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
    pub(crate) fragments: Vec<usize>,
}

impl Message {
    /// Appends the message's frames to `out`, split as it arrived; `mask` gives a fresh key per
    /// frame for the client to server direction (None: unmasked, server to client).
    pub(crate) fn encode(&self, out: &mut Vec<u8>, mut mask: impl FnMut() -> Option<[u8; 4]>) {
        let mut at = 0;
        let last = self.fragments.len().saturating_sub(1);
        for (i, &len) in self.fragments.iter().enumerate() {
            let op = if i == 0 {
                self.opcode
            } else {
                opcode::CONTINUATION
            };
            let end = (at + len).min(self.payload.len());
            encode(
                out,
                first_byte(i == last, op),
                &self.payload[at..end],
                mask(),
            );
            at = end;
        }
    }
}

/// What a frame completes: a control frame (relayed at once, even inside a fragmented message,
/// which RFC 6455 section 5.4 allows) or a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Control(Frame),
    Message(Message),
}

/// Reassembles fragmented messages.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    open: Option<Message>,
}

impl Assembler {
    /// Takes one frame; returns what it completes, if anything.
    pub(crate) fn push(&mut self, frame: Frame) -> Result<Option<Piece>, FrameError> {
        if frame.is_control() {
            return Ok(Some(Piece::Control(frame)));
        }
        let Frame {
            fin,
            opcode,
            payload,
        } = frame;
        let mut message = match (self.open.take(), opcode) {
            (None, opcode::CONTINUATION) => return Err(FrameError::StrayContinuation),
            (Some(_), opcode::TEXT | opcode::BINARY) => return Err(FrameError::UnfinishedMessage),
            (Some(mut open), _) => {
                let total = open.payload.len() + payload.len();
                if total > MAX_MESSAGE {
                    return Err(FrameError::MessageTooLong(total));
                }
                open.fragments.push(payload.len());
                open.payload.extend_from_slice(&payload);
                open
            }
            (None, _) => Message {
                opcode,
                fragments: vec![payload.len()],
                payload,
            },
        };
        if fin {
            Ok(Some(Piece::Message(message)))
        } else {
            // Keep the allocation for the rest of the message.
            message.payload.reserve(message.payload.len());
            self.open = Some(message);
            Ok(None)
        }
    }
}

/// Frames from a byte stream: buffers partial frames and reassembles messages.
#[derive(Debug)]
pub(crate) struct Reader {
    from: Sender,
    buf: Vec<u8>,
    /// Where the unparsed bytes of `buf` start; consumed bytes are dropped on the next
    /// [`Reader::extend`], so a burst of many small frames is not shifted once per frame.
    start: usize,
    assembler: Assembler,
}

impl Reader {
    pub(crate) fn new(from: Sender, already: Vec<u8>) -> Self {
        Self {
            from,
            buf: already,
            start: 0,
            assembler: Assembler::default(),
        }
    }

    /// Appends bytes read from the socket.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete piece in the buffered bytes, if any.
    pub(crate) fn next_piece(&mut self) -> Result<Option<Piece>, FrameError> {
        loop {
            let Some((frame, used)) = parse(&self.buf[self.start..], self.from)? else {
                return Ok(None);
            };
            self.start += used;
            if let Some(piece) = self.assembler.push(frame)? {
                return Ok(Some(piece));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn one(bytes: &[u8], from: Sender) -> Result<Option<(Frame, usize)>, FrameError> {
        parse(bytes, from)
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 section 5.7: a single-frame unmasked text message "Hello"...
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (f, used) = one(&unmasked, Sender::Server).unwrap().unwrap();
        assert_eq!(
            (f.fin, f.opcode, &f.payload[..], used),
            (true, 1, &b"Hello"[..], 7)
        );
        // ...the same masked...
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (f, used) = one(&masked, Sender::Client).unwrap().unwrap();
        assert_eq!((&f.payload[..], used), (&b"Hello"[..], 11));
        let mut out = Vec::new();
        encode(&mut out, 0x81, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(out, masked);
        // ...and 256 bytes in one unmasked binary frame (16-bit length).
        let mut out = Vec::new();
        encode(&mut out, 0x82, &[7; 256], None);
        assert_eq!(&out[..4], &[0x82, 0x7E, 0x01, 0x00]);
        // 64 KiB: the 64-bit length.
        let mut out = Vec::new();
        encode(&mut out, 0x82, &[7; 65_536], None);
        assert_eq!(&out[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(one(&out, Sender::Server).unwrap().unwrap().1, out.len());
    }

    #[test]
    fn refuses_what_breaks_the_rfc() {
        let err = |b: &[u8], from| one(b, from).unwrap_err();
        assert_eq!(
            err(&[0xC1, 0x00], Sender::Server),
            FrameError::ReservedBits(4)
        );
        assert_eq!(
            err(&[0x83, 0x00], Sender::Server),
            FrameError::UnknownOpcode(3)
        );
        assert_eq!(
            err(&[0x8B, 0x00], Sender::Server),
            FrameError::UnknownOpcode(0xB)
        );
        assert_eq!(err(&[0x81, 0x00], Sender::Client), FrameError::Unmasked);
        assert_eq!(err(&[0x81, 0x80], Sender::Server), FrameError::Masked);
        assert_eq!(
            err(&[0x09, 0x00], Sender::Server),
            FrameError::ControlFragmented
        );
        assert_eq!(
            err(&[0x89, 0x7E, 0, 126], Sender::Server),
            FrameError::ControlTooLong(126)
        );
        // A hostile 2^63 length is refused from the header alone.
        let huge = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            err(&huge, Sender::Server),
            FrameError::FrameTooLong(1 << 63)
        );
        // Incomplete frames wait.
        assert_eq!(one(&[0x81], Sender::Server), Ok(None));
        assert_eq!(one(&[0x81, 0x7E, 0x01], Sender::Server), Ok(None));
        assert_eq!(one(&[0x81, 0x85, 1, 2, 3], Sender::Client), Ok(None));
        assert_eq!(one(&[0x81, 0x05, b'a'], Sender::Server), Ok(None));
    }

    #[test]
    fn reassembles_with_interleaved_control_frames() {
        let mut bytes = Vec::new();
        encode(&mut bytes, 0x01, b"{\"a\":", None);
        encode(&mut bytes, 0x89, b"hi", None);
        encode(&mut bytes, 0x00, b"1", None);
        encode(&mut bytes, 0x80, b"}", None);
        let mut reader = Reader::new(Sender::Server, Vec::new());
        // Byte by byte: nothing is complete before its last byte.
        let mut pieces = Vec::new();
        for b in &bytes {
            reader.extend(&[*b]);
            while let Some(p) = reader.next_piece().unwrap() {
                pieces.push(p);
            }
        }
        let Piece::Control(ping) = &pieces[0] else {
            panic!("{pieces:?}")
        };
        assert_eq!((ping.opcode, &ping.payload[..]), (opcode::PING, &b"hi"[..]));
        let Piece::Message(m) = &pieces[1] else {
            panic!("{pieces:?}")
        };
        assert_eq!(
            (m.opcode, &m.payload[..], &m.fragments[..]),
            (opcode::TEXT, &b"{\"a\":1}"[..], &[5, 1, 1][..])
        );
        assert_eq!(pieces.len(), 2);
        // Re-encoded, the message has the fragments it came in.
        let mut again = Vec::new();
        m.encode(&mut again, || None);
        let mut direct = Vec::new();
        encode(&mut direct, 0x01, b"{\"a\":", None);
        encode(&mut direct, 0x00, b"1", None);
        encode(&mut direct, 0x80, b"}", None);
        assert_eq!(again, direct);
    }

    #[test]
    fn refuses_broken_fragmentation() {
        let mut a = Assembler::default();
        let frame = |fin, opcode| Frame {
            fin,
            opcode,
            payload: b"x".to_vec(),
        };
        assert_eq!(
            a.push(frame(true, opcode::CONTINUATION)),
            Err(FrameError::StrayContinuation)
        );
        assert_eq!(a.push(frame(false, opcode::TEXT)), Ok(None));
        assert_eq!(
            a.push(frame(true, opcode::BINARY)),
            Err(FrameError::UnfinishedMessage)
        );
    }

    proptest! {
        /// Any payload, cut into any fragments, masked or not, comes back as it went in, however
        /// the byte stream is split into reads.
        #[test]
        fn roundtrip(
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            cuts in proptest::collection::vec(any::<u16>(), 0..4),
            key in any::<[u8; 4]>(),
            masked in any::<bool>(),
            read in 1usize..5_000,
        ) {
            let mut fragments = Vec::new();
            let mut left = payload.len();
            for c in cuts {
                let n = usize::from(c).min(left);
                fragments.push(n);
                left -= n;
            }
            fragments.push(left);
            let msg = Message { opcode: opcode::BINARY, payload: payload.clone(), fragments };
            let mut bytes = Vec::new();
            msg.encode(&mut bytes, || masked.then_some(key));
            let from = if masked { Sender::Client } else { Sender::Server };
            let mut reader = Reader::new(from, Vec::new());
            let mut got = Vec::new();
            for chunk in bytes.chunks(read) {
                reader.extend(chunk);
                while let Some(p) = reader.next_piece().unwrap() {
                    got.push(p);
                }
            }
            prop_assert_eq!(got, vec![Piece::Message(msg)]);
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), client in any::<bool>()) {
            let from = if client { Sender::Client } else { Sender::Server };
            let mut reader = Reader::new(from, bytes);
            while let Ok(Some(_)) = reader.next_piece() {}
        }
    }
}
