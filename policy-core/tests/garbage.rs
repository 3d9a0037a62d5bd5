//! Fail closed on garbage: random bytes and mangled documents through every parser and entry
//! point never panic and never allow (a coverage-blind fuzz pass that runs with `cargo test`).
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use policy_core::jose::Unverified;
use policy_core::request::TargetUri;
use policy_core::{Pdp, json, mint};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;
use testkit::kit::Corpus;

fn vectors() -> &'static Corpus {
    static V: OnceLock<Corpus> = OnceLock::new();
    V.get_or_init(Corpus::conformance)
}

fn pdp() -> &'static Pdp {
    static P: OnceLock<Pdp> = OnceLock::new();
    P.get_or_init(|| Pdp::load_json(vectors().load("default").as_bytes()))
}

fn never_allows(out: &[u8]) -> bool {
    let doc: Value = serde_json::from_slice(out).expect("every answer is JSON");
    doc["decision"] == "deny" && !doc["reasons"].as_array().unwrap().is_empty()
}

/// A valid allow input with bytes spliced in at a random place.
fn spliced(pos: usize, junk: &[u8]) -> Vec<u8> {
    let case = vectors().case("seed/allow-trusted-network");
    let mut bytes = case.input.as_bytes().to_vec();
    let at = pos % (bytes.len() + 1);
    bytes.splice(at..at, junk.iter().copied());
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_into_every_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Unverified::parse(&text, 8192, true);
        let _ = json::parse_strict(&bytes, 4096, 32);
        let _ = TargetUri::parse(&text);
        let _ = policy_core::b64::decode(&text);
        let _ = mint::mint_json(&bytes);
        prop_assert!(never_allows(&pdp().decide_json(&bytes)));
        let loaded = Pdp::load_json(&bytes);
        prop_assert!(loaded.status().is_err());
        prop_assert!(never_allows(&loaded.decide_json(&bytes)));
        let replayed: Value = serde_json::from_slice(&pdp().apply_replay_json(&bytes)).unwrap();
        prop_assert_ne!(&replayed["decision"], "allow");
    }

    #[test]
    fn junk_spliced_into_credentials_never_allows(pos in any::<usize>(), junk in proptest::collection::vec(any::<u8>(), 1..8)) {
        let input = spliced(pos, &junk);
        let doc: Value = serde_json::from_slice(&pdp().decide_json(&input)).unwrap();
        // Junk may land where the document stays valid and the tokens intact (whitespace, the
        // ip, the uri's query); an allow is only ever earned by unmodified credentials.
        if doc["decision"] == "allow" {
            let original: Value = serde_json::from_slice(&spliced(0, &[])).unwrap();
            let parsed: Value = serde_json::from_slice(&input).expect("an allowed input is JSON");
            prop_assert_eq!(&parsed["credentials"], &original["credentials"]);
        }
    }

    #[test]
    fn absurd_numbers_and_nesting(now in any::<i64>(), depth in 0usize..80) {
        let context = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let input = format!(r#"{{"now": {now}, "request": {{"method": "GET", "uri": "https://api.example.com/"}}, "context": {{"x": {context}}}}}"#);
        prop_assert!(never_allows(&pdp().decide_json(input.as_bytes())));
    }
}
