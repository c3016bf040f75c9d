//! The opening handshake (RFC 6455 §4.1), sans-IO: build the request, then check the server's
//! response bytes as they arrive.

use sha1::{Digest, Sha1};

use super::base64;
use super::url::WsUrl;

/// Fixed GUID appended to the key before hashing (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest response head (status line + headers) accepted, in bytes. Real servers send a few
/// hundred; anything near this is not a websocket server.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Base64 length of the 16-byte key.
const KEY_LEN: usize = base64::encoded_len(16);
/// Base64 length of a SHA-1 digest.
const ACCEPT_LEN: usize = base64::encoded_len(20);

/// Why the server's handshake response was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The response head exceeded [`MAX_RESPONSE_HEAD`] bytes.
    TooLarge,
    /// Not an HTTP/1.1 response head; names what was wrong.
    Malformed(&'static str),
    /// An HTTP status other than 101 (e.g. 404: wrong path; 400: not a websocket endpoint).
    Status(u16),
    /// No `Upgrade: websocket` header.
    MissingUpgrade,
    /// No `Connection: Upgrade` header.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Accept` header.
    MissingAccept,
    /// `Sec-WebSocket-Accept` is not base64(SHA-1(key ‖ GUID)) for the key sent.
    BadAccept,
    /// The server selected an extension although none was offered.
    UnexpectedExtensions,
    /// The server selected a subprotocol although none was offered.
    UnexpectedProtocol,
}

impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLarge => write!(f, "handshake response head over {MAX_RESPONSE_HEAD} bytes"),
            Self::Malformed(what) => write!(f, "malformed handshake response: {what}"),
            Self::Status(code) => write!(f, "handshake refused with http status {code}"),
            Self::MissingUpgrade => write!(f, "handshake response lacks `upgrade: websocket`"),
            Self::MissingConnectionUpgrade => {
                write!(f, "handshake response lacks `connection: upgrade`")
            }
            Self::MissingAccept => write!(f, "handshake response lacks sec-websocket-accept"),
            Self::BadAccept => write!(f, "sec-websocket-accept does not match the key sent"),
            Self::UnexpectedExtensions => write!(f, "server chose an extension none was offered"),
            Self::UnexpectedProtocol => write!(f, "server chose a subprotocol none was offered"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (both base64 text).
pub fn accept_for_key(key: &[u8]) -> [u8; ACCEPT_LEN] {
    let mut h = Sha1::new();
    h.update(key);
    h.update(GUID);
    let digest = h.finalize();
    let mut out = [0u8; ACCEPT_LEN];
    base64::encode(&digest, &mut out);
    out
}

/// One client handshake: the key sent and the accept value expected back.
#[derive(Clone, Debug)]
pub struct Handshake {
    key: [u8; KEY_LEN],
    accept: [u8; ACCEPT_LEN],
}

impl Handshake {
    /// A handshake for a 16-byte nonce, which must be random per connection (RFC 6455 §4.1).
    pub fn new(nonce: [u8; 16]) -> Self {
        let mut key = [0u8; KEY_LEN];
        base64::encode(&nonce, &mut key);
        Self {
            key,
            accept: accept_for_key(&key),
        }
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Appends the HTTP/1.1 upgrade request for `url` to `out`.
    pub fn write_request(&self, url: &WsUrl, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(url.path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(url.host_header().as_bytes());
        out.extend_from_slice(
            b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
        );
        out.extend_from_slice(&self.key);
        out.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n\r\n");
    }

    /// Checks the response received so far. `Ok(None)`: the head is not complete yet, read more.
    /// `Ok(Some(n))`: accepted; the head is `buf[..n]` and any bytes after it are already
    /// websocket frames.
    pub fn read_response(&self, buf: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() > MAX_RESPONSE_HEAD {
                return Err(HandshakeError::TooLarge);
            }
            return Ok(None);
        };
        if end > MAX_RESPONSE_HEAD {
            return Err(HandshakeError::TooLarge);
        }
        let head = &buf[..end];
        let mut lines = head
            .split(|&c| c == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status = lines.next().unwrap_or_default();
        let code = parse_status(status)?;
        if code != 101 {
            return Err(HandshakeError::Status(code));
        }
        let mut upgrade = false;
        let mut connection = false;
        let mut accept: Option<&[u8]> = None;
        for line in lines {
            if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
                return Err(HandshakeError::Malformed("folded header line"));
            }
            let colon = line
                .iter()
                .position(|&c| c == b':')
                .ok_or(HandshakeError::Malformed("header line without colon"))?;
            let name = &line[..colon];
            if name.is_empty() || name.iter().any(|&c| c <= b' ' || c >= 0x7F) {
                return Err(HandshakeError::Malformed("bad header name"));
            }
            let value = line[colon + 1..].trim_ascii();
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            if is("upgrade") {
                upgrade |= has_token(value, b"websocket");
            } else if is("connection") {
                connection |= has_token(value, b"upgrade");
            } else if is("sec-websocket-accept") {
                if accept.replace(value).is_some() {
                    return Err(HandshakeError::Malformed(
                        "two sec-websocket-accept headers",
                    ));
                }
            } else if is("sec-websocket-extensions") {
                return Err(HandshakeError::UnexpectedExtensions);
            } else if is("sec-websocket-protocol") {
                return Err(HandshakeError::UnexpectedProtocol);
            }
        }
        if !upgrade {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !connection {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        match accept {
            None => Err(HandshakeError::MissingAccept),
            Some(a) if a == self.accept => Ok(Some(end + 4)),
            Some(_) => Err(HandshakeError::BadAccept),
        }
    }
}

/// Status code of `HTTP/1.1 NNN reason`.
fn parse_status(line: &[u8]) -> Result<u16, HandshakeError> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .ok_or(HandshakeError::Malformed("status line is not http/1.1"))?;
    match rest {
        [a, b, c, tail @ ..]
            if [a, b, c].iter().all(|d| d.is_ascii_digit())
                && (tail.is_empty() || tail[0] == b' ') =>
        {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err(HandshakeError::Malformed("bad status code")),
    }
}

/// True if a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&c| c == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_example_accept() {
        // RFC 6455 §1.3.
        assert_eq!(
            &accept_for_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // The example key is the base64 of the 16 bytes "the sample nonce".
        let hs = Handshake::new(*b"the sample nonce");
        assert_eq!(hs.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
    }

    fn response(hs: &Handshake, extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            core::str::from_utf8(&hs.accept).unwrap()
        )
        .into_bytes()
    }

    #[test]
    fn request_shape() {
        let hs = Handshake::new([7; 16]);
        let url = WsUrl::parse("ws://127.0.0.1:8546/rpc?x=1").unwrap();
        let mut out = Vec::new();
        hs.write_request(&url, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /rpc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8546\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Key: BwcHBwcHBwcHBwcHBwcHBw==\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn accepts_good_response_incrementally() {
        let hs = Handshake::new([1; 16]);
        let mut resp = response(&hs, "Server: x\r\n");
        let head_len = resp.len();
        resp.extend_from_slice(&[0x81, 0x00]); // a frame right behind the head
        for cut in 0..head_len {
            assert_eq!(hs.read_response(&resp[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(hs.read_response(&resp), Ok(Some(head_len)));
    }

    #[test]
    fn rejects_bad_responses() {
        let hs = Handshake::new([2; 16]);
        let other = Handshake::new([3; 16]);
        assert_eq!(
            hs.read_response(&response(&other, "")),
            Err(HandshakeError::BadAccept)
        );
        assert_eq!(
            hs.read_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            Err(HandshakeError::Status(404))
        );
        assert_eq!(
            hs.read_response(b"HTTP/1.0 101 x\r\n\r\n"),
            Err(HandshakeError::Malformed("status line is not http/1.1"))
        );
        assert_eq!(
            hs.read_response(b"HTTP/1.1 1x1 x\r\n\r\n"),
            Err(HandshakeError::Malformed("bad status code"))
        );
        let good = String::from_utf8(response(&hs, "")).unwrap();
        let without = |h: &str| {
            let kept: Vec<&str> = good.split("\r\n").filter(|l| !l.starts_with(h)).collect();
            kept.join("\r\n").into_bytes()
        };
        assert_eq!(
            hs.read_response(&without("upgrade")),
            Err(HandshakeError::MissingUpgrade)
        );
        assert_eq!(
            hs.read_response(&without("Connection")),
            Err(HandshakeError::MissingConnectionUpgrade)
        );
        assert_eq!(
            hs.read_response(&without("Sec-WebSocket-Accept")),
            Err(HandshakeError::MissingAccept)
        );
        assert_eq!(
            hs.read_response(&response(
                &hs,
                "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            )),
            Err(HandshakeError::UnexpectedExtensions)
        );
        assert_eq!(
            hs.read_response(&response(&hs, "Sec-WebSocket-Protocol: x\r\n")),
            Err(HandshakeError::UnexpectedProtocol)
        );
        assert_eq!(
            hs.read_response(&response(&hs, " folded\r\n")),
            Err(HandshakeError::Malformed("folded header line"))
        );
        let dup = format!(
            "Sec-WebSocket-Accept: {}\r\n",
            core::str::from_utf8(&hs.accept).unwrap()
        );
        assert_eq!(
            hs.read_response(&response(&hs, &dup)),
            Err(HandshakeError::Malformed(
                "two sec-websocket-accept headers"
            ))
        );
        assert_eq!(
            hs.read_response(&vec![b'a'; MAX_RESPONSE_HEAD + 1]),
            Err(HandshakeError::TooLarge)
        );
    }
}
