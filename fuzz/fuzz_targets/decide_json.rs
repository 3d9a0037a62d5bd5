//! `Pdp::decide_json` in the default world (tests/vectors/conformance.json `loads.default`) on
//! arbitrary bytes, seeded with the vectors' inputs.
//!
//! - The answer is a well-formed decision (`fuzz::check_decision`): canonical JSON,
//!   allow or deny, at least one reason code on deny and none on allow, the audit record agrees,
//!   no `use_once` or grant on deny.
//! - An allow needs credentials the fuzzer cannot forge: every string under `credentials` in an
//!   allowed input is byte-identical to a credential in some vector.
//! - Deciding is deterministic: the same bytes decide to the same bytes again.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use policy_core::{json, limits};
use fuzz::{check_decision, known_credentials, pdp, strings};

fuzz_target!(|data: &[u8]| {
    let pdp = pdp();
    let out = pdp.decide_json(data);
    let v = check_decision(&out);
    if v["decision"] == "allow" {
        let input = json::parse_strict(data, limits::MAX_INPUT_BYTES, limits::MAX_DEPTH)
            .expect("an allowed input is strict JSON");
        let mut creds = BTreeSet::new();
        strings(&input["credentials"], &mut creds);
        assert!(!creds.is_empty(), "allowed without credentials");
        let known = known_credentials();
        for c in &creds {
            assert!(
                known.contains(c),
                "allowed with a credential no vector carries: {c}"
            );
        }
    }
    assert_eq!(
        pdp.decide_json(data),
        out,
        "the same input decided differently"
    );
});
