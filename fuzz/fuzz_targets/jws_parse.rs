//! `Unverified::parse` on arbitrary text. It never panics, and whatever it accepts is a strict ES256
//! compact JWS: three canonical base64url parts, `alg` ES256, no forbidden header member, a
//! 64-byte signature, a JSON-object payload, a `jwk` only when allowed, under the length cap.
//! Allowing `jwk` only ever admits more tokens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_core::jose::Unverified;
use policy_core::{b64, json, limits};
use serde_json::Value;

const FORBIDDEN: &[&str] = &[
    "crit", "jku", "x5u", "x5c", "x5t", "x5t#S256", "b64", "zip", "enc", "cty",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let allow_jwk = flags & 1 == 1;
    let max_len = if flags & 2 == 0 {
        limits::MAX_TOKEN_BYTES
    } else {
        usize::from(flags >> 2) * 16
    };
    let token = String::from_utf8_lossy(rest);
    let Ok(jws) = Unverified::parse(&token, max_len, allow_jwk) else {
        return;
    };
    assert!(
        token.len() <= max_len,
        "over the cap: {} > {max_len}",
        token.len()
    );
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token:?}");
    for part in &parts {
        let bytes = b64::decode(part).expect("every part is base64url");
        assert_eq!(
            &b64::encode(&bytes),
            part,
            "non-canonical base64url accepted"
        );
    }
    let header = jws.header();
    let decoded_header = b64::decode(parts[0]).expect("header");
    match json::parse_strict(&decoded_header, usize::MAX, 64) {
        Ok(Value::Object(h)) => assert_eq!(&h, header, "header differs from its encoding"),
        other => panic!("accepted header is not a strict JSON object: {other:?}"),
    }
    assert_eq!(header.get("alg"), Some(&Value::String("ES256".into())));
    for m in FORBIDDEN {
        assert!(
            !header.contains_key(*m),
            "forbidden header member {m} accepted"
        );
    }
    assert_eq!(jws.typ(), header.get("typ").and_then(Value::as_str));
    assert_eq!(jws.kid(), header.get("kid").and_then(Value::as_str));
    assert!(header.get("typ").is_none_or(Value::is_string));
    assert!(header.get("kid").is_none_or(Value::is_string));
    if allow_jwk {
        assert_eq!(jws.embedded_key().is_some(), header.contains_key("jwk"));
    } else {
        assert!(
            jws.embedded_key().is_none(),
            "jwk accepted where not allowed"
        );
        assert!(!header.contains_key("jwk"));
    }
    assert_eq!(
        b64::decode(parts[2]).map(|s| s.len()),
        Some(64),
        "signature length"
    );
    let payload = b64::decode(parts[1]).expect("payload");
    match json::parse_strict(&payload, usize::MAX, 64) {
        // An unverified JWS exposes no claims; what it accepted must still be a strict object.
        Ok(Value::Object(_)) => {}
        other => panic!("accepted payload is not a strict JSON object: {other:?}"),
    }
    if !allow_jwk {
        assert!(
            Unverified::parse(&token, max_len, true).is_ok(),
            "allowing jwk rejected a token accepted without it"
        );
    }
    assert!(
        Unverified::parse(&token, usize::MAX, allow_jwk).is_ok(),
        "a larger cap rejected it"
    );
});
