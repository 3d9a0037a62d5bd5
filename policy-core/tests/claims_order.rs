//! Typed claims keep the reasons of claims read one by one: which claim is named when several
//! are bad, and whether a bad claim or another check (signature, time) decides. Each case
//! re-signs the seed vector's delegation with one change, using the vector world's keys (the kit's
//! seeded world, `tests/testkit/src/world.rs`), and a fresh proof for it.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use policy_core::jose::PrivateJwk;
use policy_core::{Pdp, b64, mint};
use serde_json::{Value, json};
use testkit::kit::Corpus;
use testkit::world::key;

fn payload(token: &str) -> Value {
    serde_json::from_slice(&b64::decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// The seed allow case with its delegation's claims changed by `edit` (re-signed by `signer`)
/// and a proof for the new token; returns the first reason as (code, message).
fn decide_with(edit: impl FnOnce(&mut Value), signer: &PrivateJwk) -> (String, String) {
    let v = Corpus::conformance();
    let case = v.case("seed/allow-trusted-network");
    let pdp = Pdp::load_json(v.load("default").as_bytes());
    let mut input: Value = serde_json::from_str(&case.input).unwrap();
    let mut claims = payload(input["credentials"]["delegation"][0].as_str().unwrap());
    edit(&mut claims);
    let token = mint::delegation(&claims, signer);
    let old_proof = payload(input["credentials"]["proof"].as_str().unwrap());
    let proof = mint::proof(
        &mint::Proof {
            htm: old_proof["htm"].as_str().unwrap().into(),
            htu: old_proof["htu"].as_str().unwrap().into(),
            iat: old_proof["iat"].as_i64().unwrap(),
            jti: "p-claims-order".into(),
            token: Some(token.clone()),
            body_digest: None,
            nonce: None,
        },
        &key("agent-travel-booker", Some("tb-1")),
    );
    input["credentials"] = json!({"delegation": [token], "proof": proof});
    let out: Value =
        serde_json::from_slice(&pdp.decide_json(input.to_string().as_bytes())).unwrap();
    let r = &out["reasons"][0];
    (
        r["code"].as_str().unwrap_or("").into(),
        r["message"].as_str().unwrap_or("").into(),
    )
}

fn idp() -> PrivateJwk {
    key("idp", Some("idp-1"))
}

fn bad(name: &str) -> (String, String) {
    (
        "token.claims_invalid".into(),
        format!("claim {name} is missing or has the wrong type"),
    )
}

#[test]
fn the_seed_still_allows_once_re_signed() {
    assert_eq!(decide_with(|_| {}, &idp()).0, "");
}

#[test]
fn several_bad_claims_name_the_first_in_pipeline_order() {
    let got = decide_with(
        |c| {
            c["exp"] = json!("soon");
            c["jti"] = json!(7);
            c["groups"] = json!("admins");
        },
        &idp(),
    );
    assert_eq!(got, bad("jti"), "jti is read before exp and groups");
    let got = decide_with(
        |c| {
            c["groups"] = json!(["a", 1]);
            c["cnf"] = json!({"jkt": ""});
        },
        &idp(),
    );
    assert_eq!(got, bad("cnf"), "cnf is read before groups");
    let got = decide_with(|c| c["nbf"] = Value::Null, &idp());
    assert_eq!(got, bad("nbf"), "a null claim is ill-typed, not absent");
}

#[test]
fn bad_claims_come_before_time_and_after_the_signature() {
    let got = decide_with(
        |c| {
            c["exp"] = json!(1);
            c["groups"] = json!({"not": "a list"});
        },
        &idp(),
    );
    assert_eq!(got, bad("groups"), "a bad claim outranks expiry");
    let got = decide_with(|c| c["exp"] = json!(1), &idp());
    assert_eq!(got.0, "token.expired");
    let forger = key("stranger", Some("idp-1"));
    let got = decide_with(|c| c["sub"] = json!(""), &forger);
    assert_eq!(
        got.0, "token.signature_invalid",
        "claims are read only once the signature verifies"
    );
}

#[test]
fn iss_is_read_before_the_signature_to_choose_the_key() {
    let forger = key("stranger", Some("idp-1"));
    let got = decide_with(|c| c["iss"] = json!(["https://idp.example.com"]), &forger);
    assert_eq!(got, bad("iss"));
    let got = decide_with(|c| c["iss"] = json!("https://elsewhere.example"), &forger);
    assert_eq!(got.0, "token.issuer_unknown");
}
