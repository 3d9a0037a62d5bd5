//! Every vector in tests/vectors/ through both backends, through the public decide path: the
//! decision bytes must equal the vector's bytes exactly.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;

use mandate_host::replay::{MemoryReplayStore, ReplayStore, UseOnce};
use mandate_host::{Backend, Decider};
use serde_json::Value;

/// A decision through `decider` with the store the case calls for: fresh, pre-seeded with the
/// replayed jtis, or unreachable.
async fn decide_case<S: ReplayStore>(decider: &Decider<S>, case: &Value) -> Vec<u8> {
    let input = case["input"].as_str().unwrap().as_bytes();
    match case.get("replay") {
        None => decider
            .with_store(MemoryReplayStore::new(16))
            .decide(input)
            .await
            .into_bytes(),
        Some(r) if r["store_error"].as_bool() == Some(true) => decider
            .with_store(common::DownStore)
            .decide(input)
            .await
            .into_bytes(),
        Some(r) => {
            let store = MemoryReplayStore::new(16);
            // Keys are `<kind>:<jti>`: seed each jti as both kinds, remembered well past the
            // vectors' `now` (and within the stores' TTL cap).
            let seed: Vec<UseOnce> = r["replayed"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|j| {
                    ["proof", "grant"].map(|kind| UseOnce {
                        jti: j.as_str().unwrap().into(),
                        exp: 3_000_000_000,
                        kind: kind.into(),
                    })
                })
                .collect();
            assert!(store.record(&seed, 0).await.unwrap().is_empty());
            decider.with_store(store).decide(input).await.into_bytes()
        }
    }
}

async fn run(backend: Backend) {
    let vectors = common::vectors();
    let loads = vectors["loads"].as_object().unwrap();
    let mut deciders = BTreeMap::new();
    for (name, config) in loads {
        let d = Decider::new(backend.clone(), MemoryReplayStore::new(1)).unwrap();
        let loaded = d.load(config.as_str().unwrap().as_bytes());
        // The load status must agree with the engine's (ok configs load, others report a code).
        match loaded {
            Ok(s) => assert!(s.ok, "{name}"),
            Err(e) => assert!(e.code().starts_with("bundle."), "{name}: {e}"),
        }
        deciders.insert(name.clone(), d);
    }
    let cases = vectors["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 100,
        "expected the full vector set, found {}",
        cases.len()
    );
    let mut mismatches = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let decider = &deciders[case["load"].as_str().unwrap()];
        let got = decide_case(decider, case).await;
        let want = case["output"].as_str().unwrap().as_bytes();
        if got != want {
            mismatches.push(format!(
                "{name}:\n  want {}\n  got  {}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&got)
            ));
        }
        // And the expectation itself (decision and codes), so a wrong vector cannot hide.
        let doc: Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(doc["decision"], case["expect"]["decision"], "{name}");
        let codes: Vec<&str> = doc["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        let want_codes: Vec<&str> = case["expect"]["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(codes, want_codes, "{name}");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ on {}:\n{}",
        mismatches.len(),
        cases.len(),
        backend.name(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn vectors_native() {
    run(Backend::native()).await;
}

#[tokio::test]
async fn vectors_wasm() {
    run(Backend::wasm(&common::runtime())).await;
}
