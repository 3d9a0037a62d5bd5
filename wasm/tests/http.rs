//! The HTTP call layer (`mandate_decide_http`), driven natively: every case of
//! tests/vectors/http.json gives the vector's bytes, and garbage gives a deny document.
//! Its own test binary: the serving engine is process-global, like the module's.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use serde_json::Value;
use testkit::kit::{Corpus, Host, Replay, run_corpus};
use wasm::calls;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The call layer as a kit host (it holds the one process-global engine, like the module).
struct Calls;

impl Calls {
    fn replayed(out: Vec<u8>, replay: Option<&Replay>) -> Vec<u8> {
        let Some(r) = replay else { return out };
        let mut req = serde_json::to_value(r).unwrap();
        req["decision"] = json(&out);
        calls::apply_replay(&serde_json::to_vec(&req).unwrap())
    }
}

impl Host for Calls {
    fn name(&self) -> &str {
        "wasm call layer"
    }

    /// Every HTTP case runs on a config that loads: the load rule would otherwise keep the
    /// previous engine serving, and the case would be decided by the wrong one.
    fn load(&mut self, config: &[u8]) -> Result<(), String> {
        let status = json(&calls::load(config));
        (status["ok"] == true)
            .then_some(())
            .ok_or_else(|| status.to_string())
    }

    fn decide(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        Self::replayed(calls::decide(input), replay)
    }

    fn decide_http(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        Self::replayed(calls::decide_http(input), replay)
    }
}

/// A deny document: `"decision": "deny"` with at least one reason code.
fn assert_deny(out: &[u8]) -> String {
    let v = json(out);
    assert_eq!(v["decision"], "deny", "{v}");
    v["reasons"][0]["code"].as_str().unwrap().to_string()
}

#[test]
fn http_vectors_and_garbage() {
    let v = Corpus::http();
    run_corpus(&mut Calls, &v).assert_ok(20);

    // Garbage, and the other export's input, are deny documents with the core's codes.
    for bytes in [
        &b""[..],
        b"\xff\xfe",
        b"{",
        b"[]",
        b"null",
        b"{\"now\":1}",
        b"{\"now\":1,\"http\":{}}",
    ] {
        let code = assert_deny(&calls::decide_http(bytes));
        assert!(code.starts_with("input."), "{code}");
    }
    let decide_input = Corpus::conformance().cases[0].input.clone();
    assert_deny(&calls::decide_http(decide_input.as_bytes()));
    // And an HTTP input is not a decide input.
    assert_deny(&calls::decide(v.cases[0].input.as_bytes()));
}
