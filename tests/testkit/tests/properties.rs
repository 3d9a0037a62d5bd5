//! Properties: a flipped byte anywhere in any token or in the bundle never yields an allow, and
//! attenuation never widens what a chain grants.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use policy_core::scope::Scopes;
use policy_core::{Pdp, json};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::OnceLock;
use testkit::tokens::{delegation, hop, proof};
use testkit::world::{Keys, NOW, load_config, signed_bundle};

const TRIPS: &str = "https://api.example.com/v1/trips/42";

struct Fixture {
    keys: Keys,
    config: String,
    pdp: Pdp,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = Keys::new();
        let config = json::canonical(&load_config(
            Some(&signed_bundle(&keys, |_| {})),
            &[&keys.root],
            Some(&keys.pdp),
        ));
        let pdp = Pdp::load_json(config.as_bytes());
        Fixture { keys, config, pdp }
    })
}

/// An allowed two-hop request: [root, hop] + proof.
fn allowed_input(f: &Fixture) -> Value {
    let k = &f.keys;
    let root = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read secrets:read",
        "prop-root",
        |_| {},
    );
    let h = hop(
        &root,
        &k.booker,
        "agent:summarizer",
        &k.summarizer,
        "trips:read",
        "prop-hop",
        NOW + 600,
    );
    let p = proof(&k.summarizer, "GET", TRIPS, NOW, "prop-proof", Some(&h));
    json!({"now": NOW, "request": {"method": "GET", "uri": TRIPS, "ip": "10.20.0.7", "action": "trips:read"},
           "credentials": {"delegation": [root, h], "proof": p}})
}

fn is_allow(out: &[u8]) -> bool {
    serde_json::from_slice::<Value>(out).unwrap()["decision"] == "allow"
}

fn flip(s: &str, pos: usize, mask: u8) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let i = pos % bytes.len();
    bytes[i] ^= mask;
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn flipped_token_byte_never_allows(which in 0usize..3, pos in any::<usize>(), mask in 1u8..=255) {
        let f = fixture();
        let input = allowed_input(f);
        prop_assert!(is_allow(&f.pdp.decide_json(input.to_string().as_bytes())), "the baseline must allow");
        let mut tampered = input.clone();
        let slot = match which {
            0 => &mut tampered["credentials"]["delegation"][0],
            1 => &mut tampered["credentials"]["delegation"][1],
            _ => &mut tampered["credentials"]["proof"],
        };
        let flipped = flip(slot.as_str().unwrap(), pos, mask);
        *slot = Value::String(flipped);
        prop_assert!(!is_allow(&f.pdp.decide_json(tampered.to_string().as_bytes())));
    }

    #[test]
    fn flipped_bundle_byte_never_allows(pos in any::<usize>(), mask in 1u8..=255) {
        let f = fixture();
        let mut config: Value = serde_json::from_str(&f.config).unwrap();
        let bundle = config["bundle"].as_str().unwrap().to_string();
        config["bundle"] = Value::String(flip(&bundle, pos, mask));
        let pdp = Pdp::load_json(config.to_string().as_bytes());
        prop_assert!(!is_allow(&pdp.decide_json(allowed_input(f).to_string().as_bytes())));
    }

    #[test]
    fn scope_cover_is_sound(held in proptest::collection::vec(scope(), 0..5), asked in proptest::collection::vec(scope(), 0..5), probe in concrete()) {
        let held = Scopes::from_iter(held);
        let asked = Scopes::from_iter(asked);
        if held.covers_all(&asked) && asked.covers(&probe) {
            prop_assert!(held.covers(&probe), "{asked:?} within {held:?} but {probe} escapes");
        }
    }

    #[test]
    fn a_hop_never_widens(hop_scopes in proptest::collection::vec(scope(), 1..4)) {
        let f = fixture();
        let k = &f.keys;
        let root = delegation(k, "alice", "agent:travel-booker", &k.booker, "trips:read", "prop-root-2", |_| {});
        let scope = hop_scopes.join(" ");
        let h = hop(&root, &k.booker, "agent:summarizer", &k.summarizer, &scope, "prop-hop-2", NOW + 600);
        let p = proof(&k.summarizer, "GET", TRIPS, NOW, "prop-proof-2", Some(&h));
        let input = json!({"now": NOW, "request": {"method": "GET", "uri": TRIPS, "ip": "10.20.0.7"},
                           "credentials": {"delegation": [root, h], "proof": p}});
        let out: Value = serde_json::from_slice(&f.pdp.decide_json(input.to_string().as_bytes())).unwrap();
        if out["decision"] == "allow" {
            let parent = Scopes::parse("trips:read");
            for s in out["scopes"].as_array().unwrap() {
                prop_assert!(parent.covers(s.as_str().unwrap()), "effective scope {s} wider than the parent's");
            }
        } else if !Scopes::parse("trips:read").covers_all(&Scopes::parse(&scope)) {
            prop_assert_eq!(&out["reasons"][0]["code"], "chain.scope_escalation");
        }
    }
}

fn scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        Just("trips:*".to_string()),
        Just("trips:read".to_string()),
        Just("trips:read:*".to_string()),
        Just("trips:write".to_string()),
        Just("secrets:read".to_string()),
        Just("calendar:read".to_string())
    ]
}

fn concrete() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("trips:read".to_string()),
        Just("trips:write".to_string()),
        Just("trips:read:x".to_string()),
        Just("secrets:read".to_string()),
        Just("calendar:read".to_string()),
        Just("other".to_string())
    ]
}
