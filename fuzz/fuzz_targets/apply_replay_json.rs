//! `Pdp::apply_replay_json` on arbitrary bytes, seeded with `{"decision": <a vector's output>,
//! "replayed": [...], "store_error": ...}` documents.
//!
//! - The answer is canonical JSON.
//! - It never turns a deny (or anything but an allow) into an allow: a non-allow decision comes
//!   back unchanged, byte for byte in canonical form.
//! - An allow comes back as a deny with exactly one reason, no `use_once` and no grant when the
//!   store failed or one of its `use_once` jtis was replayed; unchanged otherwise.
//! - Input that is not an object with a `decision` object is an `input.malformed` deny; input
//!   in the documented shape never is (stricter engines may also refuse unknown members or
//!   mistyped `replayed` / `store_error`, and that is all they may refuse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_core::{json, limits};
use fuzz::pdp;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let out = pdp().apply_replay_json(data);
    let text = std::str::from_utf8(&out).expect("UTF-8");
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    fuzz::assert_canonical(&v, text, "the answer");
    let decision = v["decision"].as_str();

    let input = json::parse_strict(data, limits::MAX_INPUT_BYTES * 4, limits::MAX_DEPTH);
    let malformed = decision == Some("deny") && v["reasons"][0]["code"] == "input.malformed";
    let Some((d, obj)) = input.as_ref().ok().and_then(|i| {
        let obj = i.as_object()?;
        let d = obj.get("decision").filter(|d| d.is_object())?;
        Some((d, obj))
    }) else {
        assert!(malformed, "garbage answered {text}");
        return;
    };
    if malformed && !well_formed(obj) {
        // Only a document outside the contract (an unknown member, a mistyped `replayed` or
        // `store_error`) may be refused. A well-formed one goes on to the checks below, which
        // an `input.malformed` answer fails unless the decision itself was that deny.
        return;
    }
    let was_allow = d.get("decision").and_then(Value::as_str) == Some("allow");
    if !was_allow {
        assert_eq!(
            text,
            json::canonical(d),
            "a decision that was not an allow was changed"
        );
        return;
    }
    let store_error = obj.get("store_error").and_then(Value::as_bool) == Some(true);
    let replayed: Vec<&str> = obj
        .get("replayed")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let reported: Vec<&str> = d
        .get("use_once")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.get("jti").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let hit = replayed.iter().any(|r| reported.contains(r));
    if store_error || hit {
        assert_eq!(
            decision,
            Some("deny"),
            "a replayed or unverifiable allow stayed allowed: {text}"
        );
        assert_eq!(v["reasons"].as_array().map(Vec::len), Some(1), "{text}");
        let code = v["reasons"][0]["code"].as_str().expect("code");
        let expected = if store_error {
            "replay.store_unavailable"
        } else {
            "replay.detected"
        };
        assert_eq!(code, expected, "{text}");
        assert_eq!(v["use_once"], Value::Array(vec![]), "{text}");
        assert!(v.get("grant").is_none(), "{text}");
        if v["audit"].is_object() {
            assert_eq!(v["audit"]["outcome"], "deny", "{text}");
        }
    } else {
        assert_eq!(
            text,
            json::canonical(d),
            "an allow with no replay was changed"
        );
    }
});

/// The documented input: `decision` an object, `replayed` (optional) an array of strings,
/// `store_error` (optional) a boolean, nothing else.
fn well_formed(obj: &serde_json::Map<String, Value>) -> bool {
    obj.keys()
        .all(|k| matches!(k.as_str(), "decision" | "replayed" | "store_error"))
        && obj.get("decision").is_some_and(Value::is_object)
        && obj
            .get("replayed")
            .is_none_or(|r| r.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
        && obj.get("store_error").is_none_or(Value::is_boolean)
}
