//! Step 0 of the pipeline: the decide input — strict JSON (no duplicate members, bounded size
//! and depth) into typed documents, and the decision's id.

use crate::grant::MintRequest;
use crate::reason::{Code, Reason, reason};
use crate::request::RequestSpec;
use crate::{b64, json, limits};
use alloc::{format, string::String, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A decide input (docs/formats.md).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    /// The decision time, seconds since the epoch: the only clock the core reads.
    pub now: i64,
    /// A host-chosen id (1 to 128 bytes); derived from the input's hash when absent.
    #[serde(default)]
    pub decision_id: Option<String>,
    /// The request being authorized.
    pub request: RequestSpec,
    /// What it presented.
    #[serde(default)]
    pub credentials: Credentials,
    /// Host-supplied facts for guardrails (`input.context`).
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// Mint a grant on allow.
    #[serde(default)]
    pub mint_grant: Option<MintRequest>,
    /// Obligations the host declares it enforces; any other a guardrail returns is a deny.
    #[serde(default)]
    pub enforces: Vec<String>,
    /// The second since which the host's replay store remembers every use: set by a host whose
    /// store does not survive a restart (its start time). A proof or grant issued before it is
    /// refused (`replay.history_unknown`): uses of it before the restart were forgotten, so a
    /// replay could not be told from a first use. Absent: the store remembers everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_since: Option<i64>,
}

/// The credentials a request presents: a delegation chain (root first) with a proof, or a
/// grant with a proof.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Delegation tokens, root first; the last one is presented with the proof.
    #[serde(default)]
    pub delegation: Vec<String>,
    /// The DPoP proof.
    #[serde(default)]
    pub proof: Option<String>,
    /// An ephemeral grant.
    #[serde(default)]
    pub grant: Option<String>,
}

/// The id of a decision on bytes that did not parse: a hash of those bytes.
pub(crate) fn derived_id(input: &[u8]) -> String {
    let digest = Sha256::digest(input);
    b64::encode(digest.get(..16).unwrap_or(&[]))
}

/// The id of a decision whose input names none: a hash of the typed input's canonical JSON, so
/// every host names the same input alike, whichever bytes (or none) carried it.
pub(crate) fn derived_id_of<T: Serialize>(input: &T) -> String {
    let canonical = serde_json::to_value(input)
        .map(|v| json::canonical(&v))
        .unwrap_or_default();
    derived_id(canonical.as_bytes())
}

/// Strict JSON (no duplicate members, bounded), then the typed shape.
pub(crate) fn parse_input<T: serde::de::DeserializeOwned>(input: &[u8]) -> Result<T, Reason> {
    let parsed = match json::parse_strict(input, limits::MAX_INPUT_BYTES, limits::MAX_DEPTH) {
        Ok(v) => v,
        Err(json::JsonError::TooLarge { .. } | json::JsonError::TooDeep(_)) => {
            return Err(reason(
                Code::InputTooLarge,
                "decide input exceeds the size or depth limit",
            ));
        }
        Err(e) => return Err(reason(Code::InputMalformed, format!("{e}"))),
    };
    serde_json::from_value(parsed).map_err(|e| reason(Code::InputMalformed, format!("{e}")))
}

/// The host's decision id when it is 1 to 128 bytes, else the derived one; a bad host id is a
/// deny (named by the derived id).
pub(crate) fn choose_id(
    given: Option<&String>,
    derived: impl FnOnce() -> String,
) -> Result<String, (Reason, String)> {
    match given {
        Some(id) if !id.is_empty() && id.len() <= 128 => Ok(id.clone()),
        Some(_) => Err((
            reason(Code::InputMalformed, "decision_id must be 1 to 128 bytes"),
            derived(),
        )),
        None => Ok(derived()),
    }
}

/// The request as the audit record shows it.
pub(crate) fn audit_request(r: &RequestSpec) -> Value {
    json!({"method": r.method, "uri": r.uri, "ip": r.ip, "action": r.action, "resource": r.resource})
}
