//! The typed API decides exactly as the document API: every conformance and HTTP vector,
//! decided through `Pdp::decide(&DecideInput)` / `decide_http(&HttpDecideInput)` and settled
//! through `Pending::settle`, gives the vector's bytes; `Pending` answers nothing as an allow
//! until it is settled; a typed `LoadConfig` loads as its document does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use policy_core::{
    Code, DecideInput, HttpDecideInput, LoadConfig, Pdp, Pending, ReplayOutcome, json,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn corpus(file: &str) -> Value {
    let path = format!("{}/../tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn loads(v: &Value) -> BTreeMap<String, (Pdp, Option<LoadConfig>)> {
    v["loads"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, t)| {
            let text = t.as_str().unwrap();
            (
                n.clone(),
                (
                    Pdp::load_json(text.as_bytes()),
                    serde_json::from_str(text).ok(),
                ),
            )
        })
        .collect()
}

/// What the case's replay store answered, as the typed path takes it.
fn outcome(case: &Value) -> ReplayOutcome {
    match case.get("replay") {
        None => ReplayOutcome::Recorded,
        Some(r) if r["store_error"] == json!(true) => ReplayOutcome::StoreUnavailable,
        Some(r) => ReplayOutcome::Replayed(
            r["replayed"]
                .as_array()
                .map(|a| a.iter().map(|j| j.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
        ),
    }
}

/// Decides every case whose input is a well-formed typed document through the typed API;
/// returns how many it decided.
fn replay_typed<T: DeserializeOwned>(v: &Value, decide: fn(&Pdp, &T) -> Pending) -> usize {
    let pdps = loads(v);
    let mut typed = 0;
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let text = case["input"].as_str().unwrap();
        // Inputs the strict parser refuses (garbage, duplicates, oversize) have no typed form.
        if case["expect"]["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.starts_with("input.")))
        {
            continue;
        }
        let Ok(input) = serde_json::from_str::<T>(text) else {
            panic!("{name}: a decidable vector input must parse as its typed document");
        };
        let (pdp, config) = &pdps[case["load"].as_str().unwrap()];
        let pending = decide(pdp, &input);
        let unsettled = String::from_utf8(pending.to_unsettled_json()).unwrap();
        if case.get("replay").is_none() {
            assert_eq!(
                unsettled,
                case["output"].as_str().unwrap(),
                "{name}: unsettled"
            );
        }
        let settled = pending.clone().settle(&outcome(case));
        assert_eq!(
            String::from_utf8(settled.to_json()).unwrap(),
            case["output"].as_str().unwrap(),
            "{name}: settled bytes differ"
        );
        // A config that is a typed document loads the same decision point.
        if let Some(config) = config {
            let again = decide(&Pdp::load(config), &input).settle(&outcome(case));
            assert_eq!(again.to_json(), settled.to_json(), "{name}: typed load");
        }
        typed += 1;
    }
    typed
}

#[test]
fn typed_decisions_match_every_conformance_vector() {
    let n = replay_typed::<DecideInput>(&corpus("conformance.json"), Pdp::decide);
    assert!(n >= 100, "only {n} typed cases");
}

#[test]
fn typed_http_decisions_match_every_http_vector() {
    let n = replay_typed::<HttpDecideInput>(&corpus("http.json"), Pdp::decide_http);
    assert!(n >= 20, "only {n} typed cases");
}

/// The typed settlement and the document settlement (`apply_replay_json`, what the module ABI
/// hosts call) give the same bytes for every allow and every store answer.
#[test]
fn settle_and_apply_replay_agree_on_every_allow() {
    let v = corpus("conformance.json");
    let pdps = loads(&v);
    let mut allows = 0;
    for case in v["cases"].as_array().unwrap() {
        if case["expect"]["decision"] != "allow" || case.get("replay").is_some() {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let input: DecideInput = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
        let pdp = &pdps[case["load"].as_str().unwrap()].0;
        let pending = pdp.decide(&input);
        let doc: Value = serde_json::from_slice(&pending.to_unsettled_json()).unwrap();
        let first = pending.use_once().first().map(|u| u.jti.clone());
        let mut answers = vec![
            (
                ReplayOutcome::Recorded,
                json!({"replayed": [], "store_error": false}),
            ),
            (
                ReplayOutcome::StoreUnavailable,
                json!({"replayed": [], "store_error": true}),
            ),
            (
                ReplayOutcome::Replayed(vec!["never-seen".into()]),
                json!({"replayed": ["never-seen"], "store_error": false}),
            ),
        ];
        if let Some(jti) = first {
            answers.push((
                ReplayOutcome::Replayed(vec!["other".into(), jti.clone()]),
                json!({"replayed": ["other", jti], "store_error": false}),
            ));
        }
        for (typed, mut document) in answers {
            document["decision"] = doc.clone();
            let by_document = pdp.apply_replay_json(json::canonical(&document).as_bytes());
            let by_type = pending.clone().settle(&typed).to_json();
            assert_eq!(
                String::from_utf8(by_type).unwrap(),
                String::from_utf8(by_document).unwrap(),
                "{name}: {typed:?}"
            );
        }
        allows += 1;
    }
    assert!(allows >= 20, "only {allows} allows");
}

#[test]
fn a_pending_allow_is_an_allow_only_once_settled() {
    let v = corpus("conformance.json");
    let pdps = loads(&v);
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "seed/allow-trusted-network")
        .unwrap();
    let input: DecideInput = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
    let pdp = &pdps[case["load"].as_str().unwrap()].0;
    let pending = pdp.decide(&input);
    assert_eq!(pending.use_once().len(), 1);
    assert_eq!(pending.use_once()[0].kind, "proof");
    // With something to record, there is no way to the decision but settling.
    let pending = pending.into_decision().unwrap_err();
    let replayed = pending.clone().settle(&ReplayOutcome::Replayed(vec![
        pending.use_once()[0].jti.clone(),
    ]));
    assert!(!replayed.is_allow());
    assert_eq!(replayed.code(), Some(Code::ReplayDetected));
    assert!(replayed.principal().is_some(), "the audit keeps who tried");
    let down = pending.clone().settle(&ReplayOutcome::StoreUnavailable);
    assert_eq!(down.code(), Some(Code::ReplayStoreUnavailable));
    let ok = pending.settle(&ReplayOutcome::Recorded);
    assert!(ok.is_allow());
    assert!(ok.reasons().is_empty());
}

#[test]
fn a_deny_has_nothing_to_record_and_needs_no_store() {
    let pdp = Pdp::load(&LoadConfig::default());
    let input: DecideInput = serde_json::from_value(
        json!({"now": 0, "request": {"method": "GET", "uri": "https://api.example.com/"}}),
    )
    .unwrap();
    let d = pdp.decide(&input).into_decision().unwrap();
    assert!(!d.is_allow());
    assert_eq!(d.code(), Some(Code::BundleMissing));
}

/// The derived decision id names the input's meaning, not its bytes: the same input sent with
/// other whitespace, member order or explicit defaults is the same decision.
#[test]
fn the_derived_id_is_the_same_for_the_same_typed_input() {
    let pdp = Pdp::load(&LoadConfig::default());
    let id = |text: &str| -> String {
        let doc: Value = serde_json::from_slice(&pdp.decide_json(text.as_bytes())).unwrap();
        doc["decision_id"].as_str().unwrap().to_owned()
    };
    let a = id(r#"{"now": 5, "request": {"method": "GET", "uri": "https://a.example/"}}"#);
    let b = id(
        r#"{"request":{"uri":"https://a.example/","method":"GET","ip":null},"enforces":[],"now":5}"#,
    );
    let c = id(r#"{"now": 6, "request": {"method": "GET", "uri": "https://a.example/"}}"#);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let typed: DecideInput = serde_json::from_str(
        r#"{"now": 5, "request": {"method": "GET", "uri": "https://a.example/"}}"#,
    )
    .unwrap();
    let settled = pdp.decide(&typed).settle(&ReplayOutcome::Recorded);
    assert_eq!(settled.decision_id(), a);
}
