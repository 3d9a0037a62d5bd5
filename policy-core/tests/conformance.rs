//! The native host of the cross-host conformance suite: every vector in tests/vectors/ must
//! produce its expected decision, its reason codes, and its exact output bytes. Also checks that
//! the vectors exercise every reason code a decision can carry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_core::{Code, Pdp, json};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn corpus(file: &str) -> Value {
    let path = format!("{}/../tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vectors() -> Value {
    corpus("conformance.json")
}

/// Decides one case as every host must: decide, then apply the replay-store result if any.
fn run(pdp: &Pdp, case: &Value, decide: fn(&Pdp, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let out = decide(pdp, case["input"].as_str().unwrap().as_bytes());
    match case.get("replay") {
        None => out,
        Some(replay) => {
            let mut req = replay.clone();
            req["decision"] = serde_json::from_slice(&out).unwrap();
            pdp.apply_replay_json(json::canonical(&req).as_bytes())
        }
    }
}

#[test]
fn every_vector_matches_bytes_and_codes() {
    replay_corpus(&vectors(), Pdp::decide_json, 60);
}

#[test]
fn every_http_vector_matches_bytes_and_codes() {
    replay_corpus(&corpus("http.json"), Pdp::decide_http_json, 20);
}

fn replay_corpus(v: &Value, decide: fn(&Pdp, &[u8]) -> Vec<u8>, at_least: usize) {
    let pdps: BTreeMap<String, Pdp> = v["loads"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, t)| (n.clone(), Pdp::load_json(t.as_str().unwrap().as_bytes())))
        .collect();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= at_least, "at least {at_least} cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let out = run(&pdps[case["load"].as_str().unwrap()], case, decide);
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["decision"], case["expect"]["decision"], "{name}");
        let codes: Vec<&str> = doc["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = case["expect"]["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(codes, expected, "{name}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            case["output"].as_str().unwrap(),
            "{name}: output bytes differ"
        );
    }
}

/// Codes no vector can carry, and why (each is tested elsewhere).
const NOT_IN_VECTORS: &[(Code, &str)] = &[
    (
        Code::BundleTooLarge,
        "needs a 1 MiB bundle; tests/limits.rs",
    ),
    (
        Code::PolicyLimitExceeded,
        "wall-clock bound, not deterministic; tests/limits.rs",
    ),
    (
        Code::HostLimitExceeded,
        "raised by hosts (wasmtime fuel), not the core",
    ),
    (
        Code::InternalError,
        "an invariant failure with no input that reaches it",
    ),
];

#[test]
fn vectors_cover_every_reason_code() {
    let (v, h) = (vectors(), corpus("http.json"));
    let seen: BTreeSet<String> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .chain(h["cases"].as_array().unwrap())
        .flat_map(|c| {
            c["expect"]["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
        })
        .collect();
    let exempt: BTreeSet<Code> = NOT_IN_VECTORS.iter().map(|(c, _)| *c).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.origin() == mandate_core::reason::Origin::Decision)
        .filter(|c| !exempt.contains(c) && !seen.contains(c.as_str()))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "codes without a vector: {missing:?}");
}

#[test]
fn output_is_deterministic_across_loads() {
    let v = vectors();
    let text = v["loads"]["default"].as_str().unwrap();
    let (a, b) = (
        Pdp::load_json(text.as_bytes()),
        Pdp::load_json(text.as_bytes()),
    );
    for case in v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["load"] == "default")
    {
        // Twice on one engine (second time through the signature cache) and once on another.
        let input = case["input"].as_str().unwrap().as_bytes();
        let first = a.decide_json(input);
        assert_eq!(first, a.decide_json(input));
        assert_eq!(first, b.decide_json(input));
    }
}
