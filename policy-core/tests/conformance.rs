//! The native host of the cross-host conformance suite, through the test kit: every vector in
//! tests/vectors/ must produce its expected decision, its reason codes, and its exact output
//! bytes. Also checks that the vectors exercise every reason code a decision can carry.

use policy_core::{Code, Pdp};
use std::collections::BTreeSet;
use testkit::kit::{CoreHost, Corpus, run_corpus};

#[test]
fn every_vector_matches_bytes_and_codes() {
    run_corpus(&mut CoreHost::new(), &Corpus::conformance()).assert_ok(60);
}

#[test]
fn every_http_vector_matches_bytes_and_codes() {
    run_corpus(&mut CoreHost::new(), &Corpus::http()).assert_ok(20);
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
    let seen: BTreeSet<String> = Corpus::all()
        .iter()
        .flat_map(|c| c.cases.iter().flat_map(|c| c.expect.codes.clone()))
        .collect();
    let exempt: BTreeSet<Code> = NOT_IN_VECTORS.iter().map(|(c, _)| *c).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.origin() == policy_core::reason::Origin::Decision)
        .filter(|c| !exempt.contains(c) && !seen.contains(c.as_str()))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "codes without a vector: {missing:?}");
}

#[test]
fn output_is_deterministic_across_loads() {
    let v = Corpus::conformance();
    let text = v.load("default");
    let (a, b) = (
        Pdp::load_json(text.as_bytes()),
        Pdp::load_json(text.as_bytes()),
    );
    for case in v.cases.iter().filter(|c| c.load == "default") {
        // Twice on one engine (second time through the signature cache) and once on another.
        let input = case.input.as_bytes();
        let first = a.decide_json(input);
        assert_eq!(first, a.decide_json(input));
        assert_eq!(first, b.decide_json(input));
    }
}
