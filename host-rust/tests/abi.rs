//! The module's ABI under garbage, through wasmtime: random bytes, truncated JSON, absurd
//! lengths, length 0, pointers out of range, to every export (`mandate_decide` and
//! `mandate_decide_http` alike). No call may trap, and nothing may be allowed.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use host_rust::RawInstance;
use proptest::prelude::*;
use serde_json::Value;

fn instance() -> RawInstance {
    let mut i = common::runtime().instantiate().unwrap();
    let v = common::vectors();
    let status = i
        .load(v["loads"]["default"].as_str().unwrap().as_bytes())
        .unwrap();
    assert!(String::from_utf8_lossy(&status).contains("\"ok\":true"));
    i
}

/// The answer is JSON and is not an allow.
fn not_allowed(out: &[u8]) {
    let v: Value = serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", String::from_utf8_lossy(out)));
    assert_ne!(
        v.get("decision").and_then(Value::as_str),
        Some("allow"),
        "{v}"
    );
}

/// A real allow input, to truncate and mutate.
fn allow_input() -> Vec<u8> {
    let v = common::vectors();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "seed/allow-trusted-network")
        .unwrap();
    case["input"].as_str().unwrap().as_bytes().to_vec()
}

/// A real HTTP allow input (the request as received, with its binding).
fn http_allow_input() -> Vec<u8> {
    let v = common::http_vectors();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "http/allow-dpop")
        .unwrap();
    assert_eq!(case["load"], "default");
    case["input"].as_str().unwrap().as_bytes().to_vec()
}

/// The byte ranges of the signed tokens (every `eyJ…` run up to its closing quote) in an input.
fn token_ranges(input: &[u8]) -> Vec<std::ops::Range<usize>> {
    let text = std::str::from_utf8(input).unwrap();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("eyJ") {
        let start = from + at;
        let end = start + text[start..].find('"').unwrap();
        out.push(start..end);
        from = end;
    }
    assert!(out.len() >= 2, "the input carries a token and a proof");
    out
}

/// The answer is a deny document (`"decision": "deny"` with a reason), not an error answer:
/// what the decide exports answer for bytes that are not a valid input.
fn a_deny(out: &[u8]) {
    let v: Value = serde_json::from_slice(out).unwrap();
    assert_eq!(v["decision"], "deny", "{v}");
    assert!(v["reasons"][0]["code"].is_string(), "{v}");
}

#[test]
fn the_real_input_is_allowed_so_the_properties_mean_something() {
    let mut i = instance();
    let out = i.decide_http(&http_allow_input()).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("\"decision\":\"allow\""));
    let out = i.decide(&allow_input()).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("\"decision\":\"allow\""));
    // The default fuel budget leaves a wide margin over a real decision.
    let used = i.fuel_used();
    eprintln!("fuel for one allow (2 ES256 verifies + guardrail): {used}");
    assert!(
        used > 0 && used < host_rust::WasmLimits::default().fuel_per_call / 10,
        "{used}"
    );
}

#[test]
fn edge_lengths_and_pointers() {
    let mut i = instance();
    // len 0: the empty input.
    not_allowed(&i.decide(b"").unwrap());
    not_allowed(&i.decide_raw(0, 0).unwrap());
    a_deny(&i.decide_http(b"").unwrap());
    a_deny(&i.decide_http_raw(0, 0).unwrap());
    // Absurd lengths: alloc refuses (0), never traps.
    for len in [u32::MAX, u32::MAX / 2, 1 << 30, (64 << 20) + 1] {
        assert_eq!(i.alloc_raw(len).unwrap(), 0, "alloc({len})");
    }
    // Pointers that name no buffer: an error answer, no trap.
    let size = u32::try_from(i.memory_size()).unwrap();
    for (ptr, len) in [
        (0, 10),
        (1, 1),
        (size - 1, 1),
        (size, 1),
        (u32::MAX, 1),
        (8, u32::MAX),
        (u32::MAX, u32::MAX),
    ] {
        for out in [
            i.decide_raw(ptr, len).unwrap(),
            i.decide_http_raw(ptr, len).unwrap(),
        ] {
            assert!(
                String::from_utf8_lossy(&out).contains("abi.invalid_buffer"),
                "({ptr}, {len})"
            );
        }
    }
    // A real buffer with a length past its end, a freed buffer, a double free.
    let p = i.alloc_raw(16).unwrap();
    assert_ne!(p, 0);
    i.write_memory(p, b"{\"now\":1}").unwrap();
    assert!(String::from_utf8_lossy(&i.decide_raw(p, 17).unwrap()).contains("abi.invalid_buffer"));
    assert!(
        String::from_utf8_lossy(&i.decide_http_raw(p, 17).unwrap()).contains("abi.invalid_buffer")
    );
    not_allowed(&i.decide_raw(p, 9).unwrap());
    a_deny(&i.decide_http_raw(p, 9).unwrap());
    i.free_raw(p, 16).unwrap();
    i.free_raw(p, 16).unwrap();
    i.free_raw(12345, 99).unwrap();
    assert!(String::from_utf8_lossy(&i.decide_raw(p, 9).unwrap()).contains("abi.invalid_buffer"));
    assert!(
        String::from_utf8_lossy(&i.decide_http_raw(p, 9).unwrap()).contains("abi.invalid_buffer")
    );
    // The instance still decides.
    assert!(
        String::from_utf8_lossy(&i.decide(&allow_input()).unwrap())
            .contains("\"decision\":\"allow\"")
    );
    assert!(
        String::from_utf8_lossy(&i.decide_http(&http_allow_input()).unwrap())
            .contains("\"decision\":\"allow\"")
    );
}

#[test]
fn garbage_to_every_entry_point_gets_an_error_answer() {
    let mut i = instance();
    for bytes in [
        &b""[..],
        b"\xff\xfe",
        b"{",
        b"[]",
        b"null",
        b"{\"kind\":\"proof\"}",
    ] {
        not_allowed(&i.decide(bytes).unwrap());
        a_deny(&i.decide_http(bytes).unwrap());
        not_allowed(&i.apply_replay(bytes).unwrap());
        let minted: Value = serde_json::from_slice(&i.mint(bytes).unwrap()).unwrap();
        assert!(minted.get("error").is_some(), "{minted}");
    }
    // A config that does not load keeps the loaded engine (the module's documented rule).
    let status: Value = serde_json::from_slice(&i.load(b"garbage").unwrap()).unwrap();
    assert_eq!(status["ok"], false);
    let serving: Value = serde_json::from_slice(&i.status().unwrap()).unwrap();
    assert_eq!(serving["ok"], true);
    // Nor does it replace it: the refusal is the load's own code, and the engine stays.
    for bytes in [&b""[..], b"garbage", b"{}", b"{\"bundle\":1}"] {
        let refused: Value = serde_json::from_slice(&i.replace(bytes, 1).unwrap()).unwrap();
        assert_eq!(refused["ok"], false, "{refused}");
        assert!(
            refused["error"]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("bundle.")),
            "{refused}"
        );
        let still: Value = serde_json::from_slice(&i.status().unwrap()).unwrap();
        assert_eq!(still, serving);
    }
    // Each decide export refuses the other's input.
    a_deny(&i.decide_http(&allow_input()).unwrap());
    a_deny(&i.decide(&http_allow_input()).unwrap());
    assert!(
        String::from_utf8_lossy(&i.decide(&allow_input()).unwrap())
            .contains("\"decision\":\"allow\"")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_trap_or_allow(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut i = instance();
        not_allowed(&i.decide(&bytes).unwrap());
        a_deny(&i.decide_http(&bytes).unwrap());
        not_allowed(&i.apply_replay(&bytes).unwrap());
        let _ = i.mint(&bytes).unwrap();
        let serving = i.status().unwrap();
        let refused: Value = serde_json::from_slice(&i.replace(&bytes, 1).unwrap()).unwrap();
        prop_assert_eq!(&refused["ok"], &Value::Bool(false));
        prop_assert_eq!(i.status().unwrap(), serving);
        let _ = i.load(&bytes).unwrap();
        not_allowed(&i.decide(&bytes).unwrap());
        a_deny(&i.decide_http(&bytes).unwrap());
    }

    #[test]
    fn truncated_and_flipped_allow_inputs_never_allow(cut in 0usize..4000, flip in any::<(usize, u8)>()) {
        let mut i = instance();
        let input = allow_input();
        let cut = cut % input.len();
        not_allowed(&i.decide(&input[..cut]).unwrap());
        let mut flipped = input.clone();
        let at = flip.0 % flipped.len();
        let bit = 1u8 << (flip.1 % 8);
        flipped[at] ^= bit;
        let out = i.decide(&flipped).unwrap();
        // A flip outside the credentials may be harmless (an IP still inside the trusted
        // range); a flip anywhere inside the signed tokens must never be allowed.
        let v: Value = serde_json::from_slice(&out).unwrap();
        if v["decision"] == "allow" {
            let text = std::str::from_utf8(&input).unwrap();
            let (start, end) = (text.find("eyJ").unwrap(), text.find(",\"now\"").unwrap());
            prop_assert!(!(start..end).contains(&at), "a flip at {at} inside the credentials was allowed: {v}");
        }
    }

    #[test]
    fn truncated_and_flipped_http_allow_inputs_never_allow(cut in 0usize..4000, flip in any::<(usize, u8)>()) {
        let mut i = instance();
        let input = http_allow_input();
        let cut = cut % input.len();
        a_deny(&i.decide_http(&input[..cut]).unwrap());
        let mut flipped = input.clone();
        let at = flip.0 % flipped.len();
        let bit = 1u8 << (flip.1 % 8);
        flipped[at] ^= bit;
        let out = i.decide_http(&flipped).unwrap();
        // A flip outside the tokens may be harmless (a header name's case, a route this request
        // does not take); a flip anywhere inside the token or the proof must never be allowed.
        let v: Value = serde_json::from_slice(&out).unwrap();
        if v["decision"] == "allow" {
            for r in token_ranges(&input) {
                prop_assert!(!r.contains(&at), "a flip at {at} inside a token was allowed: {v}");
            }
        }
    }

    #[test]
    fn random_pointers_never_trap(ptr in any::<u32>(), len in any::<u32>()) {
        let mut i = instance();
        let out = i.decide_raw(ptr, len).unwrap();
        not_allowed(&out);
        not_allowed(&i.decide_http_raw(ptr, len).unwrap());
        prop_assert_eq!(i.alloc_raw(len.max(1 << 27)).unwrap(), 0);
        i.free_raw(ptr, len).unwrap();
    }
}
