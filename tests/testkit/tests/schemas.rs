//! The generated schemas agree with the parser and the engine on every vector: each decision a
//! vector records validates against `decision.schema.json`; a decide input validates against
//! its schema exactly when the parser takes its shape (JSON the strict parser refuses, such as a
//! duplicate member, never reaches the schema question); every load config validates, and so do
//! the claims of every bundle that is well formed.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use jsonschema::Validator;
use policy_core::{b64, json, limits};
use serde_json::Value;
use std::collections::BTreeMap;
use testkit::schemas;

fn validators() -> BTreeMap<&'static str, Validator> {
    schemas::all()
        .into_iter()
        .map(|n| {
            let v = jsonschema::validator_for(&n.schema)
                .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", n.file));
            (n.file, v)
        })
        .collect()
}

fn errors(v: &Validator, doc: &Value) -> String {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn vectors(file: &str) -> Value {
    let path = format!("{}/../vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn first_code(case: &Value) -> Option<&str> {
    case["expect"]["codes"].get(0).and_then(Value::as_str)
}

fn check_cases(file: &str, input_schema: &str) {
    let v = validators();
    let vectors = vectors(file);
    let cases = vectors["cases"].as_array().unwrap();
    let mut shaped = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let output: Value = serde_json::from_str(case["output"].as_str().unwrap()).unwrap();
        let e = errors(&v["decision"], &output);
        assert!(
            e.is_empty(),
            "{file} {name}: the decision fails decision.schema.json: {e}"
        );

        let input = case["input"].as_str().unwrap();
        let code = first_code(case);
        let Ok(doc) =
            json::parse_strict(input.as_bytes(), limits::MAX_INPUT_BYTES, limits::MAX_DEPTH)
        else {
            assert!(
                matches!(code, Some("input.malformed" | "input.too_large")),
                "{file} {name}: strict JSON refuses the input, yet the case expects {code:?}"
            );
            continue;
        };
        shaped += 1;
        let e = errors(&v[input_schema], &doc);
        if code == Some("input.malformed") {
            assert!(
                !e.is_empty(),
                "{file} {name}: the parser refuses the input's shape, the schema takes it"
            );
        } else {
            assert!(
                e.is_empty(),
                "{file} {name}: the parser takes the input, the schema refuses it: {e}"
            );
        }
    }
    assert!(
        shaped > 20,
        "{file}: only {shaped} inputs reached the schema"
    );
}

#[test]
fn conformance_vectors_agree_with_the_schemas() {
    check_cases("conformance.json", "decide-input");
}

#[test]
fn http_vectors_agree_with_the_schemas() {
    check_cases("http.json", "http-decide-input");
}

#[test]
fn load_configs_and_bundle_claims_validate() {
    let v = validators();
    let mut bundles = 0;
    for file in ["conformance.json", "http.json"] {
        let vectors = vectors(file);
        for (name, text) in vectors["loads"].as_object().unwrap() {
            let config: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
            let e = errors(&v["load-config"], &config);
            assert!(e.is_empty(), "{file} load {name}: {e}");
            let Some(jws) = config["bundle"].as_str() else {
                continue;
            };
            let claims = jws
                .split('.')
                .nth(1)
                .and_then(b64::decode)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            let Some(claims) = claims else {
                assert_eq!(
                    name, "malformed",
                    "{file} load {name}: the bundle's claims do not decode"
                );
                continue;
            };
            let e = errors(&v["bundle"], &claims);
            if name == "malformed" {
                assert!(
                    !e.is_empty(),
                    "{file} load malformed: the schema takes the malformed bundle"
                );
                continue;
            }
            assert!(e.is_empty(), "{file} load {name}: {e}");
            for (part, schema) in [("agents", "registry"), ("settings", "settings")] {
                if let Some(p) = claims.get(part) {
                    let e = errors(&v[schema], p);
                    assert!(e.is_empty(), "{file} load {name} {part}: {e}");
                }
            }
            bundles += 1;
        }
    }
    assert!(bundles > 10, "only {bundles} bundles were checked");
}

#[test]
fn the_schemas_refuse_unknown_members_as_the_parser_does() {
    let v = validators();
    let input = serde_json::json!({"now": 1, "request": {"method": "GET", "uri": "https://a/b", "actions": "x"}});
    assert!(!v["decide-input"].is_valid(&input));
    let settings = serde_json::json!({"clock_skew": 5, "grant_requires_proofs": false});
    assert!(!v["settings"].is_valid(&settings));
    assert!(v["settings"].is_valid(&serde_json::json!({"clock_skew": 5})));
    let binding = serde_json::json!({"now": 1, "http": {"method": "GET", "scheme": "https", "path": "/"}, "binding": {"unrouted": "allow"}});
    assert!(!v["http-decide-input"].is_valid(&binding));
}

/// Every load status an engine produces validates against `load-status.schema.json`: the
/// statuses of the vector loads (loaded and failed), and what the replacement rule answers for
/// every case of replace.json.
#[test]
fn load_statuses_validate() {
    let v = validators();
    let mut statuses = Vec::new();
    for file in ["conformance.json", "http.json"] {
        for text in vectors(file)["loads"].as_object().unwrap().values() {
            statuses
                .push(policy_core::Pdp::load_json(text.as_str().unwrap().as_bytes()).status_json());
        }
    }
    for case in vectors("replace.json")["cases"].as_array().unwrap() {
        let serving = case["serving"]
            .as_str()
            .map(|s| policy_core::Pdp::load_json(s.as_bytes()).status_json());
        let next = policy_core::Pdp::load_json(case["next"].as_str().unwrap().as_bytes());
        let now = case["now"].as_i64().unwrap();
        let verdict: Value = serde_json::from_slice(&policy_core::may_replace_json(
            serving.as_deref(),
            &next.status_json(),
            now,
        ))
        .unwrap();
        if verdict["ok"] == false {
            statuses.push(serde_json::to_vec(&verdict).unwrap());
        }
        statuses.push(next.status_json());
    }
    let (mut ok, mut failed) = (0, 0);
    for status in &statuses {
        let doc: Value = serde_json::from_slice(status).unwrap();
        let e = errors(&v["load-status"], &doc);
        assert!(e.is_empty(), "{doc}: {e}");
        if doc["ok"] == true {
            ok += 1
        } else {
            failed += 1
        }
    }
    assert!(
        ok > 10 && failed > 5,
        "{ok} loaded and {failed} failed statuses checked"
    );
    // The schema says which is which: a loaded status with an error, or a code outside the table,
    // is refused.
    let mut both = statuses
        .iter()
        .map(|s| serde_json::from_slice::<Value>(s).unwrap())
        .find(|d| d["ok"] == true)
        .unwrap();
    both["error"] = serde_json::json!({"code": "bundle.expired", "message": "m"});
    assert!(!v["load-status"].is_valid(&both));
    let unknown =
        serde_json::json!({"ok": false, "error": {"code": "bundle.exploded", "message": "m"}});
    assert!(!v["load-status"].is_valid(&unknown));
    assert!(v["load-status"].is_valid(
        &serde_json::json!({"ok": false, "error": {"code": "bundle.rollback", "message": "m"}})
    ));
}

/// Descriptions reach JSON Schema readers and TypeScript users: rustdoc link syntax
/// (`` [`crate::X`] ``) means nothing there.
#[test]
fn descriptions_carry_no_rustdoc_links() {
    fn walk(v: &Value, at: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "description" && x.as_str().is_some_and(|d| d.contains("[`")) {
                        found.push(format!("{at}: {x}"));
                    }
                    walk(x, &format!("{at}/{k}"), found);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, at, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for n in schemas::files() {
        walk(&n.schema, n.file, &mut found);
    }
    assert!(found.is_empty(), "{found:#?}");
}
