//! Limits that no portable vector can carry: a bundle over 1 MiB, and a guardrail that runs
//! past the native wall-clock bound.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used)]

use policy_core::{Code, Pdp, PrivateJwk, mint};
use serde_json::json;

fn key(b: u8) -> PrivateJwk {
    PrivateJwk::from_scalar_bytes(&[b; 32])
        .unwrap()
        .with_kid(Some(format!("k{b}")))
}

#[test]
fn oversized_bundle_is_refused() {
    let root = key(1);
    let config = json!({"bundle": "A".repeat(1024 * 1024 + 1), "trust_keys": [root.public().to_json_value()]});
    let pdp = Pdp::load_json(config.to_string().as_bytes());
    assert_eq!(
        pdp.status().err().map(|r| r.code),
        Some(Code::BundleTooLarge)
    );
}

#[test]
fn runaway_guardrail_is_stopped() {
    let root = key(1);
    // A policy whose evaluation is enormous (a 10^8-element comprehension) but whose load-time
    // dry run is instant (it only runs when input.go is set).
    let rego = "package mandate\nallow if {\n input.go\n count([x | some i in numbers.range(1, 100000); some j in numbers.range(1, 1000); x := i * j]) > 0\n}\n";
    let contents = json!({"revision": "r", "iat": 0, "exp": 4_000_000_000i64, "issuers": [], "policies": {"p.rego": rego}});
    let config = json!({"bundle": mint::bundle(&contents, &root), "trust_keys": [root.public().to_json_value()]});
    let pdp = Pdp::load_json(config.to_string().as_bytes());
    assert!(pdp.status().is_ok(), "{:?}", pdp.status().err());
    // The guardrail is reached only after a valid credential chain, which this bundle cannot
    // produce, so exercise the evaluator directly through the public policy API.
    let mut policies = std::collections::BTreeMap::new();
    policies.insert("p.rego".to_string(), rego.to_string());
    let g = policy_core::guardrails::Guardrails::compile(
        &policies,
        &serde_json::Map::new(),
        "data.mandate",
    )
    .unwrap();
    let err = g.evaluate(&json!({"go": true})).unwrap_err();
    assert_eq!(err.code, Code::PolicyLimitExceeded, "{}", err.message);
}
