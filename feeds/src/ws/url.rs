//! `ws://host[:port][/path][?query]` URLs. No TLS: `wss://` is rejected by name.

/// A parsed websocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// Host name or IP literal, without the brackets of an IPv6 literal.
    pub host: String,
    /// TCP port; 80 when the URL has none.
    pub port: u16,
    /// Request target: path plus query, at least `/`.
    pub path: String,
}

/// Why a URL was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// `wss://`: this client speaks plain TCP only.
    TlsUnsupported,
    /// A scheme other than `ws://`.
    BadScheme,
    /// Empty host, bad IPv6 brackets or a port that is not a number in 1..=65535.
    BadAuthority,
    /// Whitespace, control characters or a `#` fragment.
    BadCharacter,
}

impl core::fmt::Display for UrlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TlsUnsupported => "wss:// (tls) is not supported, use ws://",
            Self::BadScheme => "url must start with ws://",
            Self::BadAuthority => "url has a bad host or port",
            Self::BadCharacter => "url has whitespace, a control character or a fragment",
        })
    }
}

impl std::error::Error for UrlError {}

impl WsUrl {
    /// Parses a `ws://` URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.bytes().any(|c| c <= b' ' || c == 0x7F || c == b'#') {
            return Err(UrlError::BadCharacter);
        }
        let has = |p: &str| {
            url.len() >= p.len() && url.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        };
        let rest = if has("wss://") {
            return Err(UrlError::TlsUnsupported);
        } else if has("ws://") {
            &url[5..]
        } else {
            return Err(UrlError::BadScheme);
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            // User info has no use here and would leak into logs.
            return Err(UrlError::BadAuthority);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(UrlError::BadAuthority)?;
            let after = &v6[end + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::BadAuthority)?),
            };
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || (!authority.starts_with('[') && host.contains(':')) {
            return Err(UrlError::BadAuthority);
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|c| c.is_ascii_digit()) => n,
                _ => return Err(UrlError::BadAuthority),
            },
        };
        let path = if target.starts_with('/') {
            target.to_owned()
        } else {
            format!("/{target}")
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header value: the port is left out when it is the default 80 (RFC 6455 §4.1).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, path: &str) -> WsUrl {
        WsUrl {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn parses() {
        assert_eq!(
            WsUrl::parse("ws://127.0.0.1:8546"),
            Ok(url("127.0.0.1", 8546, "/"))
        );
        assert_eq!(
            WsUrl::parse("WS://node/a/b?x=1"),
            Ok(url("node", 80, "/a/b?x=1"))
        );
        assert_eq!(WsUrl::parse("ws://node?x"), Ok(url("node", 80, "/?x")));
        assert_eq!(
            WsUrl::parse("ws://[::1]:9000/p"),
            Ok(url("::1", 9000, "/p"))
        );
        assert_eq!(WsUrl::parse("ws://[::1]"), Ok(url("::1", 80, "/")));
        assert_eq!(url("::1", 9000, "/").host_header(), "[::1]:9000");
        assert_eq!(url("node", 80, "/").host_header(), "node");
    }

    #[test]
    fn rejects() {
        assert_eq!(WsUrl::parse("wss://node"), Err(UrlError::TlsUnsupported));
        assert_eq!(WsUrl::parse("http://node"), Err(UrlError::BadScheme));
        assert_eq!(WsUrl::parse("ws:/"), Err(UrlError::BadScheme));
        assert_eq!(WsUrl::parse(""), Err(UrlError::BadScheme));
        for bad in [
            "ws://",
            "ws://:80",
            "ws://h:0",
            "ws://h:65536",
            "ws://h:+1",
            "ws://h:",
            "ws://u@h",
            "ws://[::1",
            "ws://[::1]x",
            "ws://::1",
        ] {
            assert_eq!(WsUrl::parse(bad), Err(UrlError::BadAuthority), "{bad}");
        }
        assert_eq!(WsUrl::parse("ws://h/a b"), Err(UrlError::BadCharacter));
        assert_eq!(WsUrl::parse("ws://h/#f"), Err(UrlError::BadCharacter));
    }
}
