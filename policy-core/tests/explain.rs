//! The explain entry points (`Pdp::decide_*_explained`, for `mandate decide --explain`): the
//! guardrail input a decision evaluated and what the policy's `print()` calls wrote, next to the
//! very decision the serving entry points give.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::indexing_slicing)]

use policy_core::{GuardrailTrace, Pdp, Pending};
use serde_json::{Value, json};
use testkit::kit::Corpus;
use testkit::world::{Keys, load_config, signed_bundle};

/// A second module of the vectors' decision package, printing what it sees; the package is
/// evaluated whole, so the rule runs on every decision that reaches the guardrails.
const PRINTING: &str = "package mandate\n\
\n\
traced if {\n\
\tprint(\"user\", input.user.id, \"asks\", input.request.action, \"from\", input.request.ip)\n\
\tprint(\"chain\", count(input.delegation.chain), input.agent.labels.nothing)\n\
}\n";

/// The vectors' default load, with the printing module added to its bundle.
fn printing_pdp() -> Pdp {
    let k = Keys::new();
    let bundle = signed_bundle(&k, |b| b["policies"]["trace.rego"] = json!(PRINTING));
    let config = load_config(Some(&bundle), &[&k.root], Some(&k.pdp));
    let pdp = Pdp::load_json(config.to_string().as_bytes());
    assert!(pdp.status().is_ok(), "{:?}", pdp.status().err());
    pdp
}

fn input(name: &str) -> Vec<u8> {
    Corpus::conformance().case(name).input.clone().into_bytes()
}

fn doc(p: &Pending) -> Value {
    serde_json::from_slice(&p.to_unsettled_json()).unwrap_or_default()
}

#[test]
fn explain_returns_the_prints_and_the_input_of_the_decision() {
    let pdp = printing_pdp();
    let bytes = input("seed/allow-trusted-network");
    let (pending, trace) = pdp.decide_document_explained(&bytes);
    let Some(GuardrailTrace { input, prints, .. }) = trace else {
        panic!("the decision reached the guardrails, yet nothing is explained");
    };
    assert_eq!(
        prints,
        [
            "trace.rego:4: user alice asks secrets:read from 10.20.0.7",
            "trace.rego:5: chain 1 <undefined>",
        ]
    );
    assert_eq!(input["user"]["id"], "alice");
    assert_eq!(input["request"]["ip"], "10.20.0.7");
    assert_eq!(input["now"], 1_800_000_000);
    // The decision is the served one, prints or not.
    assert_eq!(doc(&pending)["decision"], "allow");
    assert_eq!(
        pending.to_unsettled_json(),
        pdp.decide_document(&bytes).to_unsettled_json()
    );
    assert_eq!(pdp.decide_json(&bytes), pending.to_unsettled_json());
}

#[test]
fn a_deny_by_the_guardrails_is_explained_too() {
    let pdp = printing_pdp();
    let bytes = input("seed/deny-untrusted-network");
    let (pending, trace) = pdp.decide_document_explained(&bytes);
    let trace = trace.unwrap_or_else(|| panic!("no trace for a guardrail deny"));
    assert_eq!(trace.prints.len(), 2);
    assert!(
        trace.prints[0].ends_with("from 203.0.113.9"),
        "{:?}",
        trace.prints
    );
    let d = doc(&pending);
    assert_eq!(d["reasons"][0]["code"], "policy.denied");
    // The rules that fired and the deny messages, in the audit record.
    assert_eq!(
        d["audit"]["rules"],
        json!(["data.mandate.deny: secrets may only be read from a trusted network"])
    );
    assert_eq!(d["audit"]["reasons"], d["reasons"]);
}

#[test]
fn a_decision_that_stops_before_the_guardrails_explains_nothing() {
    let pdp = printing_pdp();
    for bytes in [
        b"{not json".to_vec(),
        input("credentials/missing"),
        input("proof/missing"),
    ] {
        let (pending, trace) = pdp.decide_document_explained(&bytes);
        assert!(trace.is_none(), "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(doc(&pending)["decision"], "deny");
        assert_eq!(
            pending.to_unsettled_json(),
            pdp.decide_json(&bytes),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn the_typed_entry_point_explains_as_the_document_one() {
    let pdp = printing_pdp();
    let bytes = input("seed/allow-trusted-network");
    let typed: policy_core::DecideInput =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let (pending, trace) = pdp.decide_explained(&typed);
    let (_, from_bytes) = pdp.decide_document_explained(&bytes);
    assert_eq!(trace, from_bytes);
    assert_eq!(
        pending.to_unsettled_json(),
        pdp.decide(&typed).to_unsettled_json()
    );
}
