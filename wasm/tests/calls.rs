//! The call layer the exports run, driven natively: buffer checks and the load rule.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used)]

use serde_json::Value;
use testkit::kit::Corpus;
use wasm::{buffers, calls};

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn buffers_are_checked_not_trusted() {
    assert_eq!(buffers::alloc(0), None);
    assert_eq!(buffers::alloc(buffers::MAX_BUFFER + 1), None);
    let p = buffers::alloc(8).unwrap();
    assert_eq!(buffers::with_input(p, 8, <[u8]>::len), Ok(8));
    assert_eq!(
        buffers::with_input(p, 9, <[u8]>::len),
        Err(buffers::BufferError::Invalid)
    );
    assert_eq!(
        buffers::with_input(p + 1, 1, <[u8]>::len),
        Err(buffers::BufferError::Invalid)
    );
    assert_eq!(buffers::with_input(0, 0, <[u8]>::len), Ok(0));
    assert_eq!(
        buffers::with_input(0, 1, <[u8]>::len),
        Err(buffers::BufferError::Invalid)
    );
    buffers::free(p, 99); // longer than the buffer: ignored
    assert_eq!(buffers::with_input(p, 8, <[u8]>::len), Ok(8));
    buffers::free(p, 8);
    buffers::free(p, 8); // double free: ignored
    assert_eq!(
        buffers::with_input(p, 1, <[u8]>::len),
        Err(buffers::BufferError::Invalid)
    );
    let err = json(&calls::invalid_buffer());
    assert_eq!(err["error"]["code"], "abi.invalid_buffer");
}

/// One test for the engine state, which is process-global like the module's.
#[test]
fn load_keeps_the_serving_engine_when_a_config_fails() {
    let v = Corpus::conformance();
    let case = v.case("seed/allow-trusted-network");
    let input = case.input.as_bytes();

    // Nothing loaded: a deny with a bundle code.
    let d = json(&calls::decide(input));
    assert_eq!(d["decision"], "deny");
    assert!(
        d["reasons"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("bundle.")
    );
    // A failed load while nothing good serves: it serves, with its own code.
    let s = json(&calls::load(v.load("tampered").as_bytes()));
    assert_eq!(s["ok"], false);
    assert_eq!(
        json(&calls::decide(input))["reasons"][0]["code"],
        "bundle.signature_invalid"
    );

    let good = v.load("default").as_bytes();
    assert_eq!(json(&calls::load(good))["ok"], true);
    assert_eq!(calls::decide(input), case.output.as_bytes());

    // A failed load now keeps the good engine serving, and says what failed.
    let s = json(&calls::load(b"not json"));
    assert_eq!(s["ok"], false);
    assert_eq!(json(&calls::status())["ok"], true);
    assert_eq!(calls::decide(input), case.output.as_bytes());

    // apply_replay and mint go straight to the core.
    let mut req = serde_json::json!({"replayed": [], "store_error": true});
    req["decision"] = json(&calls::decide(input));
    let r = json(&calls::apply_replay(&serde_json::to_vec(&req).unwrap()));
    assert_eq!(r["reasons"][0]["code"], "replay.store_unavailable");
    assert_eq!(json(&calls::mint(b"{}"))["error"]["code"], "mint.invalid");
}
