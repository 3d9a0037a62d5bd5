//! Step 11: replay. The host records every `use_once` entry of an allow in its store; what the
//! store answered comes back here, and an entry already present, or a store that could not
//! answer, turns the allow into a deny. Hosts never edit a decision themselves.

use crate::reason::{Code, Reason};
use crate::{json, limits};
use alloc::{string::String, vec::Vec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The host's store result, strictly typed: a value of the wrong type is a deny, never read as
/// "no replay".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayResult {
    decision: Map<String, Value>,
    #[serde(default)]
    replayed: Vec<String>,
    #[serde(default)]
    store_error: bool,
}

/// Applies the host's replay-store result to a decision document: input
/// `{"decision": {...}, "replayed": ["jti"], "store_error": false}`; returns the canonical
/// decision document.
#[must_use]
pub fn apply_replay_json(input: &[u8]) -> Vec<u8> {
    let parsed = json::parse_strict(input, limits::MAX_INPUT_BYTES * 4, limits::MAX_DEPTH);
    let out = match parsed.map(serde_json::from_value::<ReplayResult>) {
        Ok(Ok(r)) => apply_replay(Value::Object(r.decision), &r.replayed, r.store_error),
        _ => error_value(
            Code::InputMalformed,
            "apply_replay input must be {decision: object, replayed: [string], store_error: bool}",
        ),
    };
    json::canonical(&out).into_bytes()
}

fn error_value(code: Code, message: &str) -> Value {
    json!({"decision": "deny", "reasons": [{"code": code.as_str(), "message": message}]})
}

/// Turns an allow into a deny when the host's replay store already held one of its `use_once`
/// entries (`replayed`), or could not be reached (`store_error`). Operates on the decision
/// document so any host can call it with what `decide` returned.
#[must_use]
pub fn apply_replay(mut decision: Value, replayed: &[String], store_error: bool) -> Value {
    let is_allow = decision.get("decision").and_then(Value::as_str) == Some("allow");
    let reported: Vec<&str> = decision
        .get("use_once")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.get("jti").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let hit = replayed.iter().find(|r| reported.contains(&r.as_str()));
    let reason = match (store_error, hit) {
        (true, _) => Reason::new(
            Code::ReplayStoreUnavailable,
            "the replay store could not be reached",
        ),
        (false, Some(jti)) => Reason::new(
            Code::ReplayDetected,
            alloc::format!("{jti} was already used"),
        ),
        (false, None) => return decision,
    };
    if !is_allow {
        return decision;
    }
    force_deny(&mut decision, &reason);
    decision
}

/// Rewrites a decision document into a deny for `reason`, keeping its principal for the audit.
pub fn force_deny(decision: &mut Value, reason: &Reason) {
    let Some(obj) = decision.as_object_mut() else {
        return;
    };
    obj.insert("decision".into(), Value::String("deny".into()));
    let reasons = json!([{"code": reason.code.as_str(), "message": reason.message}]);
    obj.insert("use_once".into(), Value::Array(Vec::new()));
    obj.remove("grant");
    if let Some(audit) = obj.get_mut("audit").and_then(Value::as_object_mut) {
        audit.insert("outcome".into(), Value::String("deny".into()));
        audit.insert("codes".into(), json!([reason.code.as_str()]));
        audit.insert("reasons".into(), reasons.clone());
    }
    obj.insert("reasons".into(), reasons);
}
