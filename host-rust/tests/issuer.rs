//! The issuer helpers: keys from the OS, tokens minted by the core, and a grant's whole life
//! (minted on an allow, accepted once, refused as a replay) through both backends.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used)]

mod common;

use common::World;
use host_rust::issuer::{self, SubDelegation};
use host_rust::replay::MemoryReplayStore;
use host_rust::{Backend, Decider};
use serde_json::{Value, json};

fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&policy_core::b64::decode(h).unwrap()).unwrap()
}

#[test]
fn keys_and_ids_are_fresh_each_time() {
    let a = issuer::generate_key(Some("k")).unwrap();
    let b = issuer::generate_key(Some("k")).unwrap();
    assert_ne!(a.public().thumbprint(), b.public().thumbprint());
    assert_eq!(a.public().kid(), Some("k"));
    assert_ne!(issuer::random_id().unwrap(), issuer::random_id().unwrap());
}

#[test]
fn tokens_carry_their_types_and_errors_their_codes() {
    let w = World::new();
    assert_eq!(header(&w.delegation)["typ"], "at+jwt");
    assert_eq!(
        header(&issuer::grant(&json!({"iss": common::PDP}), &w.pdp))["typ"],
        "mandate-grant+jwt"
    );
    let sub = issuer::generate_key(None).unwrap();
    let hop = SubDelegation {
        agent: "agent:sub".into(),
        agent_key: sub.public().to_json_value(),
        scope: "secrets:read".into(),
        authorization_details: None,
        aud: None,
        iat: common::NOW,
        exp: common::NOW + 60,
        jti: "s-1".into(),
    };
    let token = issuer::subdelegation(&w.delegation, &hop, &w.agent).unwrap();
    assert_eq!(header(&token)["typ"], "mandate-subdelegation+jwt");
    let err = issuer::subdelegation("not-a-token", &hop, &w.agent).unwrap_err();
    assert_eq!(err.code().as_str(), "mint.invalid");
    let err = issuer::mint_json(br#"{"kind":"proof"}"#).unwrap_err();
    assert_eq!(err.code().as_str(), "mint.invalid");
    let via_json = issuer::mint_json(
        &serde_json::to_vec(&json!({"kind": "proof", "key": w.agent.to_json_value(),
            "proof": {"htm": "GET", "htu": "https://api.example.com/x", "iat": common::NOW, "jti": "p"}}))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header(&via_json)["typ"], "dpop+jwt");
}

#[tokio::test]
async fn a_minted_grant_is_accepted_once() {
    let w = World::new();
    for backend in [Backend::native(), Backend::wasm(&common::runtime())] {
        let d =
            Decider::with_config(backend.clone(), MemoryReplayStore::default(), &w.config).unwrap();
        let minted = d.decide(&w.input_minting("p-1", "g-1")).await;
        assert!(
            minted.is_allow(),
            "{}: {:?}",
            backend.name(),
            minted.reasons()
        );
        let grant = minted.grant().expect("a grant on the allow").to_string();
        let first = d.decide(&w.input_with_grant(&grant)).await;
        assert!(
            first.is_allow(),
            "{}: {:?}",
            backend.name(),
            first.reasons()
        );
        let again = d.decide(&w.input_with_grant(&grant)).await;
        assert_eq!(again.code(), Some("replay.detected"), "{}", backend.name());
    }
}
