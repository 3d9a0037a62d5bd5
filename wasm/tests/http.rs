//! The HTTP call layer (`mandate_decide_http`), driven natively: every case of
//! tests/vectors/http.json gives the vector's bytes, and garbage gives a deny document.
//! Its own test binary: the serving engine is process-global, like the module's.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_wasm::calls;
use serde_json::Value;

fn vectors(file: &str) -> Value {
    let p = format!("{}/../tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// A deny document: `"decision": "deny"` with at least one reason code.
fn assert_deny(out: &[u8]) -> String {
    let v = json(out);
    assert_eq!(v["decision"], "deny", "{v}");
    v["reasons"][0]["code"].as_str().unwrap().to_string()
}

#[test]
fn http_vectors_and_garbage() {
    let v = vectors("http.json");
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "found {} cases", cases.len());
    let mut mismatches = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let load = v["loads"][case["load"].as_str().unwrap()].as_str().unwrap();
        // Every HTTP case runs on a config that loads (the load rule would otherwise keep the
        // previous engine serving and the case would be decided by the wrong one).
        assert_eq!(json(&calls::load(load.as_bytes()))["ok"], true, "{name}");
        let got = calls::decide_http(case["input"].as_str().unwrap().as_bytes());
        if got != case["output"].as_str().unwrap().as_bytes() {
            mismatches.push(format!("{name}: {}", String::from_utf8_lossy(&got)));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

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
    let decide_input = vectors("conformance.json")["cases"][0]["input"]
        .as_str()
        .unwrap()
        .to_string();
    assert_deny(&calls::decide_http(decide_input.as_bytes()));
    // And an HTTP input is not a decide input.
    assert_deny(&calls::decide(
        cases[0]["input"].as_str().unwrap().as_bytes(),
    ));
}
