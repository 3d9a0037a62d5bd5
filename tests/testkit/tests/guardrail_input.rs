//! The guardrails' `input` agrees with its generated schema (`docs/schemas/guardrail-input.schema.json`):
//! the input the engine actually evaluated — obtained through the explain entry points — of every
//! conformance and HTTP vector that reaches the guardrails validates, and so does the example of
//! docs/guardrails.md; an input of the wrong shape does not (a wrong type, an unknown member
//! where the schema is closed, a missing member, a `null` where the core leaves a member out).
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use jsonschema::Validator;
use policy_core::{Pdp, Pending};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use testkit::kit::{Case, Corpus, Entry};
use testkit::schemas;

fn validator() -> Validator {
    jsonschema::validator_for(&schemas::guardrail_input().schema)
        .unwrap_or_else(|e| panic!("guardrail-input: not a valid schema: {e}"))
}

fn errors(v: &Validator, doc: &Value) -> String {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Calls `f` with every conformance and HTTP vector case and the engine its load config makes
/// (each config loaded once).
fn each_case(mut f: impl FnMut(&Corpus, &Case, &Pdp)) {
    for corpus in Corpus::all() {
        let mut pdps: BTreeMap<&str, Pdp> = BTreeMap::new();
        for case in &corpus.cases {
            let pdp = pdps
                .entry(case.load.as_str())
                .or_insert_with(|| Pdp::load_json(corpus.load(&case.load).as_bytes()));
            f(&corpus, case, pdp);
        }
    }
}

/// Every guardrail input the vectors produce, by case name, through the explain entry points.
fn vector_inputs() -> Vec<(String, Value)> {
    let mut inputs = Vec::new();
    each_case(|corpus, case, pdp| {
        let input = case.input.as_bytes();
        let (pending, trace) = match corpus.entry {
            Entry::Decide => pdp.decide_document_explained(input),
            Entry::Http => pdp.decide_http_document_explained(input),
        };
        let decision: Value = serde_json::from_slice(&pending.to_unsettled_json()).unwrap();
        let first = decision["reasons"][0]["code"].as_str().unwrap_or("");
        let after_guardrails = decision["decision"] == "allow"
            || ["policy.", "obligation.", "approval."]
                .iter()
                .any(|p| first.starts_with(p));
        assert!(
            !after_guardrails || trace.is_some(),
            "{} {}: decided by the guardrails ({first}), yet no guardrail trace",
            corpus.file(),
            case.name
        );
        if let Some(t) = trace {
            inputs.push((format!("{} {}", corpus.file(), case.name), t.input));
        }
    });
    inputs
}

#[test]
fn the_input_of_every_vector_that_reaches_the_guardrails_validates() {
    let v = validator();
    let inputs = vector_inputs();
    for (name, input) in &inputs {
        let e = errors(&v, input);
        assert!(
            e.is_empty(),
            "{name}: the guardrail input fails its schema: {e}\n{input}"
        );
    }
    // The seeded world reaches the guardrails with delegations, sub-delegations and grants, and
    // the HTTP binding's inputs too.
    assert!(inputs.len() > 50, "only {} inputs checked", inputs.len());
    let kinds: Vec<&str> = inputs
        .iter()
        .filter_map(|(_, i)| i["delegation"]["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"delegation") && kinds.contains(&"grant"));
    assert!(inputs.iter().any(|(_, i)| i["delegation"]["depth"] != 0));
    assert!(inputs.iter().any(|(n, _)| n.starts_with("http.json")));
}

/// The example under "`input`" in docs/guardrails.md, every member shown.
fn docs_example() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/guardrails.md");
    let page = std::fs::read_to_string(path).unwrap();
    let section = page.split_once("\n## `input`\n").unwrap().1;
    let block = section.split_once("```json\n").unwrap().1;
    let json = block.split_once("\n```").unwrap().0;
    serde_json::from_str(json).unwrap_or_else(|e| panic!("docs/guardrails.md example: {e}"))
}

#[test]
fn the_documented_example_validates_and_shows_every_member() {
    let v = validator();
    let example = docs_example();
    let e = errors(&v, &example);
    assert!(
        e.is_empty(),
        "docs/guardrails.md's input example fails the schema: {e}"
    );
    // "every member shown": each property of each object the schema defines is in the example.
    let schema = schemas::guardrail_input().schema;
    let members = |s: &Value| -> Vec<String> {
        s["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let defs = &schema["$defs"];
    for (at, def) in [
        ("", &schema),
        ("/agent", &defs["PolicyAgent"]),
        ("/agent/ceiling", &defs["PolicyCeiling"]),
        ("/user", &defs["PolicyUser"]),
        ("/delegation", &defs["PolicyDelegation"]),
        ("/delegation/chain/0", &defs["PolicyHop"]),
        ("/request", &defs["PolicyRequest"]),
    ] {
        let shown = example
            .pointer(at)
            .unwrap_or_else(|| panic!("{at} missing"));
        for m in members(def) {
            assert!(
                shown.get(&m).is_some(),
                "docs/guardrails.md's example lacks {at}/{m}"
            );
        }
    }
}

/// One real input, to break in the negative cases.
fn real_input() -> Value {
    vector_inputs()
        .into_iter()
        .find(|(n, _)| n.ends_with("seed/allow-trusted-network"))
        .unwrap()
        .1
}

#[test]
fn inputs_of_the_wrong_shape_are_refused() {
    let v = validator();
    let good = real_input();
    assert!(v.is_valid(&good));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        doc
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "now as a string",
            broken(&|d| d["now"] = json!("1800000000")),
        ),
        ("now as a float", broken(&|d| d["now"] = json!(1.5))),
        (
            "an unknown top-level member",
            broken(&|d| d["session"] = json!({})),
        ),
        (
            "an unknown request member",
            broken(&|d| d["request"]["actions"] = json!("secrets:read")),
        ),
        (
            "an unknown member of a chain hop",
            broken(&|d| d["delegation"]["chain"][0]["sub"] = json!("alice")),
        ),
        (
            "an unknown agent member",
            broken(&|d| d["agent"]["delegators"] = json!({})),
        ),
        (
            "no user",
            broken(&|d| {
                d.as_object_mut().unwrap().remove("user");
            }),
        ),
        (
            "no request.query",
            broken(&|d| {
                d["request"].as_object_mut().unwrap().remove("query");
            }),
        ),
        (
            "no delegation.jti",
            broken(&|d| {
                d["delegation"].as_object_mut().unwrap().remove("jti");
            }),
        ),
        (
            "a null request.ip (the core leaves it out instead)",
            broken(&|d| d["request"]["ip"] = Value::Null),
        ),
        (
            "an unknown delegation kind",
            broken(&|d| d["delegation"]["kind"] = json!("impersonation")),
        ),
        (
            "an agent status outside the registry's",
            broken(&|d| d["agent"]["status"] = json!("retired")),
        ),
        (
            "a port out of range",
            broken(&|d| d["request"]["port"] = json!(70000)),
        ),
    ];
    for (what, doc) in &cases {
        assert!(!v.is_valid(doc), "the schema takes {what}");
    }
    // What the core may write, or leaves open, still validates.
    let fine: Vec<(&str, Value)> = vec![
        (
            "a host's own context",
            broken(&|d| d["context"] = json!({"tool": {"name": "read_file", "arguments": {}}})),
        ),
        (
            "free-form agent labels",
            broken(&|d| d["agent"]["labels"]["tier"] = json!(3)),
        ),
        ("no agent record", broken(&|d| d["agent"] = Value::Null)),
        (
            "a null delegation.jti",
            broken(&|d| d["delegation"]["jti"] = Value::Null),
        ),
        (
            "no request.ip",
            broken(&|d| {
                d["request"].as_object_mut().unwrap().remove("ip");
            }),
        ),
        (
            "an explicit port",
            broken(&|d| d["request"]["port"] = json!(8443)),
        ),
    ];
    for (what, doc) in &fine {
        let e = errors(&v, doc);
        assert!(e.is_empty(), "the schema refuses {what}: {e}");
    }
}

/// The explain entry points decide exactly as the serving ones do, byte for byte, on every
/// vector (the typed entry points too), and explain nothing for a decision that stopped before
/// the guardrails.
#[test]
fn explained_decisions_are_the_decisions() {
    let unsettled = |p: &Pending| String::from_utf8(p.to_unsettled_json()).unwrap();
    let mut compared = 0;
    each_case(|corpus, case, pdp| {
        let input = case.input.as_bytes();
        let (served, (explained, trace)) = match corpus.entry {
            Entry::Decide => (
                pdp.decide_document(input),
                pdp.decide_document_explained(input),
            ),
            Entry::Http => (
                pdp.decide_http_document(input),
                pdp.decide_http_document_explained(input),
            ),
        };
        assert_eq!(
            unsettled(&served),
            unsettled(&explained),
            "{} {}",
            corpus.file(),
            case.name
        );
        // The typed entry points, where the document parses.
        let typed = match corpus.entry {
            Entry::Decide => serde_json::from_slice(input)
                .ok()
                .map(|i| (pdp.decide(&i), pdp.decide_explained(&i))),
            Entry::Http => serde_json::from_slice(input)
                .ok()
                .map(|i| (pdp.decide_http(&i), pdp.decide_http_explained(&i))),
        };
        if let Some((served, (explained, _))) = typed {
            assert_eq!(unsettled(&served), unsettled(&explained), "{}", case.name);
        }
        if trace.is_none() {
            let doc: serde_json::Value =
                serde_json::from_slice(&explained.to_unsettled_json()).unwrap();
            assert_eq!(
                doc["audit"]["rules"],
                json!([]),
                "{}: rules without guardrails",
                case.name
            );
        }
        compared += 1;
    });
    assert!(compared > 150);
}
