//! Just enough JSON-RPC to aim faults: the method and id of a request, and whether a server
//! message is a log, a new head, another notification or a response. Anything else (binary
//! frames, non-JSON, batches) is `Other` and relayed untouched.

use serde::Deserialize;
use serde_json::Value;

/// A client to server message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientMsg {
    /// A JSON-RPC request; `id` is `Null` for a notification-style request without one.
    Request {
        id: Value,
        method: String,
    },
    Other,
}

/// A server to client message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ServerMsg {
    /// An `eth_subscription` notification whose result has `logIndex` or `topics`.
    Log,
    /// An `eth_subscription` notification whose result has `parentHash`.
    Head,
    /// Any other notification.
    Notification,
    /// A response; `id` is `Null` when it has none (or a null one).
    Response {
        id: Value,
    },
    Other,
}

/// The fields looked at; every other field is skipped without being built.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    result: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

fn envelope(payload: &[u8]) -> Option<Envelope> {
    serde_json::from_slice(payload).ok()
}

/// Classifies a client text message.
pub(crate) fn client(payload: &[u8]) -> ClientMsg {
    match envelope(payload) {
        Some(Envelope {
            id,
            method: Some(method),
            ..
        }) => ClientMsg::Request {
            id: id.unwrap_or(Value::Null),
            method,
        },
        _ => ClientMsg::Other,
    }
}

/// Classifies a server text message.
pub(crate) fn server(payload: &[u8]) -> ServerMsg {
    let Some(env) = envelope(payload) else {
        return ServerMsg::Other;
    };
    match env.method.as_deref() {
        Some("eth_subscription") => {
            let result = env.params.as_ref().and_then(|p| p.get("result"));
            let has = |key| result.and_then(|r| r.get(key)).is_some();
            if has("logIndex") || has("topics") {
                ServerMsg::Log
            } else if has("parentHash") {
                ServerMsg::Head
            } else {
                ServerMsg::Notification
            }
        }
        Some(_) => ServerMsg::Notification,
        None if env.id.is_some() || env.result.is_some() || env.error.is_some() => {
            ServerMsg::Response {
                id: env.id.unwrap_or(Value::Null),
            }
        }
        None => ServerMsg::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests() {
        assert_eq!(
            client(
                br#"{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"to":"0x1"},"latest"]}"#
            ),
            ClientMsg::Request {
                id: json!(7),
                method: "eth_call".into()
            }
        );
        assert_eq!(
            client(br#"{"method":"eth_chainId","params":[],"id":"a"}"#),
            ClientMsg::Request {
                id: json!("a"),
                method: "eth_chainId".into()
            }
        );
        assert_eq!(client(br#"[{"id":1,"method":"x"}]"#), ClientMsg::Other);
        assert_eq!(client(b"{\"jsonrpc\":"), ClientMsg::Other);
        assert_eq!(client(br#"{"id":1,"method":5}"#), ClientMsg::Other);
    }

    #[test]
    fn server_messages() {
        let log = br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{"address":"0x2","topics":["0x3"],"data":"0x","logIndex":"0x0"}}}"#;
        let head = br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x9","result":{"parentHash":"0x1","number":"0x5"}}}"#;
        let pending = br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x9","result":"0xabc"}}"#;
        assert_eq!(server(log), ServerMsg::Log);
        assert_eq!(server(head), ServerMsg::Head);
        assert_eq!(server(pending), ServerMsg::Notification);
        assert_eq!(
            server(br#"{"jsonrpc":"2.0","id":3,"result":null}"#),
            ServerMsg::Response { id: json!(3) }
        );
        assert_eq!(
            server(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#),
            ServerMsg::Response { id: Value::Null }
        );
        assert_eq!(server(b"not json"), ServerMsg::Other);
        assert_eq!(server(b"{}"), ServerMsg::Other);
    }
}
