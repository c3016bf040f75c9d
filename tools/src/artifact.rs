//! Reading creation bytecode out of build artifacts.
//!
//! Two shapes occur: the npm builds of `@uniswap/v2-core` and `pancake-swap-core` carry a top-level
//! `"bytecode": "<hex>"` (no `0x`), forge writes `"bytecode": {"object": "0x<hex>"}`.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use alloy_primitives::{Bytes, hex};

/// Why an artifact's bytecode could not be read.
#[derive(Debug)]
pub enum ArtifactError {
    /// The file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not JSON.
    Json { path: PathBuf, message: String },
    /// No creation bytecode in it (an interface or abstract contract, or another format).
    NoBytecode { path: PathBuf },
    /// The bytecode is not plain hex (e.g. has unlinked library placeholders).
    BadHex { path: PathBuf, message: String },
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "cannot read artifact {}: {source}", path.display())
            }
            Self::Json { path, message } => {
                write!(f, "artifact {} is not json: {message}", path.display())
            }
            Self::NoBytecode { path } => {
                write!(f, "artifact {} has no creation bytecode", path.display())
            }
            Self::BadHex { path, message } => {
                write!(
                    f,
                    "artifact {} has unusable bytecode: {message}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for ArtifactError {}

/// The creation bytecode (constructor arguments not included) of the artifact at `path`.
pub fn load_bytecode(path: &Path) -> Result<Bytes, ArtifactError> {
    let text = std::fs::read_to_string(path).map_err(|source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    })?;
    bytecode_from_json(&text).map_err(|e| match e {
        FromJson::Json(message) => ArtifactError::Json {
            path: path.to_owned(),
            message,
        },
        FromJson::NoBytecode => ArtifactError::NoBytecode {
            path: path.to_owned(),
        },
        FromJson::BadHex(message) => ArtifactError::BadHex {
            path: path.to_owned(),
            message,
        },
    })
}

enum FromJson {
    Json(String),
    NoBytecode,
    BadHex(String),
}

fn bytecode_from_json(text: &str) -> Result<Bytes, FromJson> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| FromJson::Json(e.to_string()))?;
    let code = match json.get("bytecode") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(serde_json::Value::Object(o)) => match o.get("object") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            _ => return Err(FromJson::NoBytecode),
        },
        _ => return Err(FromJson::NoBytecode),
    };
    let code = code.strip_prefix("0x").unwrap_or(code);
    if code.is_empty() {
        return Err(FromJson::NoBytecode);
    }
    if code.contains("__") {
        return Err(FromJson::BadHex("unlinked library placeholder".to_owned()));
    }
    hex::decode(code)
        .map(Bytes::from)
        .map_err(|e| FromJson::BadHex(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<u8>, String> {
        bytecode_from_json(text)
            .map(|b| b.to_vec())
            .map_err(|e| match e {
                FromJson::Json(m) => format!("json {m}"),
                FromJson::NoBytecode => "none".to_owned(),
                FromJson::BadHex(m) => format!("hex {m}"),
            })
    }

    #[test]
    fn both_artifact_shapes() {
        assert_eq!(
            parse(r#"{"bytecode":"6080ff"}"#),
            Ok(vec![0x60, 0x80, 0xff])
        );
        assert_eq!(
            parse(r#"{"bytecode":{"object":"0x6001"}}"#),
            Ok(vec![0x60, 0x01])
        );
    }

    #[test]
    fn unusable_artifacts_are_errors() {
        assert_eq!(parse(r#"{"abi":[]}"#), Err("none".to_owned()));
        assert_eq!(parse(r#"{"bytecode":"0x"}"#), Err("none".to_owned()));
        assert_eq!(
            parse(r#"{"bytecode":{"object":"0x"}}"#),
            Err("none".to_owned())
        );
        assert!(
            parse(r#"{"bytecode":"60__$abc$__"}"#)
                .unwrap_err()
                .starts_with("hex unlinked")
        );
        assert!(
            parse(r#"{"bytecode":"6z"}"#)
                .unwrap_err()
                .starts_with("hex ")
        );
        assert!(parse("not json").unwrap_err().starts_with("json "));
    }
}
