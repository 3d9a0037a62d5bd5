//! The load status of an engine (docs/formats.md).

use policy_core::BundleFacts;
use policy_core::reason::{Code, Reason};
use serde_json::Value;

/// What loading a config gave: `ok` with the bundle's facts, or the error's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStatus {
    /// Whether the config loaded.
    pub ok: bool,
    /// The bundle's revision, when it loaded.
    pub revision: Option<String>,
    /// The bundle's digest (b64url SHA-256 of the JWS), when it loaded.
    pub digest: Option<String>,
    /// When the bundle was issued, when it loaded.
    pub iat: Option<i64>,
    /// The bundle's validity window, when it loaded.
    pub nbf: Option<i64>,
    /// The bundle's expiry, when it loaded.
    pub exp: Option<i64>,
    /// `(code, message)` when it did not load.
    pub error: Option<(Code, String)>,
    /// The status document as the engine produced it.
    pub raw: Vec<u8>,
}

impl LoadStatus {
    /// What the replacement rule compares ([`policy_core::may_replace`]), read from the status
    /// the engine produced; the load's reason when it did not load.
    ///
    /// # Errors
    /// The load's reason, or `bundle.malformed` when the status is not one.
    pub fn facts(&self) -> Result<BundleFacts, Reason> {
        BundleFacts::from_status_json(&self.raw)
    }

    pub(crate) fn parse(raw: Vec<u8>) -> LoadStatus {
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(false);
        let error = if ok {
            None
        } else {
            Some((
                // The core only answers codes of its table; anything else is not a load status.
                s("/error/code")
                    .as_deref()
                    .and_then(Code::parse)
                    .unwrap_or(Code::InternalError),
                s("/error/message").unwrap_or_else(|| "the engine gave no load status".into()),
            ))
        };
        LoadStatus {
            ok,
            revision: s("/bundle/revision"),
            digest: s("/bundle/digest"),
            iat: v.pointer("/bundle/iat").and_then(Value::as_i64),
            nbf: v.pointer("/bundle/nbf").and_then(Value::as_i64),
            exp: v.pointer("/bundle/exp").and_then(Value::as_i64),
            error,
            raw,
        }
    }
}
