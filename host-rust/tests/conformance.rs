//! Every vector in tests/vectors/conformance.json (through `Decider::decide`) and
//! tests/vectors/http.json (through `Decider::decide_http`) on both backends, through the
//! public decide paths: the decision bytes must equal the vector's bytes exactly.
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
use mandate_host::{Backend, Decider, Decision};
use serde_json::Value;

/// Which public decide path a vector file goes through.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// conformance.json: decide inputs.
    Decide,
    /// http.json: HTTP decide inputs.
    Http,
}

async fn call<S: ReplayStore>(decider: &Decider<S>, entry: Entry, input: &[u8]) -> Decision {
    match entry {
        Entry::Decide => decider.decide(input).await,
        Entry::Http => decider.decide_http(input).await,
    }
}

/// A decision through `decider` with the store the case calls for: fresh, pre-seeded with the
/// replayed jtis, or unreachable.
async fn decide_case<S: ReplayStore>(decider: &Decider<S>, entry: Entry, case: &Value) -> Vec<u8> {
    let input = case["input"].as_str().unwrap().as_bytes();
    match case.get("replay") {
        None => call(
            &decider.with_store(MemoryReplayStore::new(16)),
            entry,
            input,
        )
        .await
        .into_bytes(),
        Some(r) if r["store_error"].as_bool() == Some(true) => {
            call(&decider.with_store(common::DownStore), entry, input)
                .await
                .into_bytes()
        }
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
            call(&decider.with_store(store), entry, input)
                .await
                .into_bytes()
        }
    }
}

/// Runs every case of `vectors` through `entry`; answers how many ran.
async fn run(backend: &Backend, vectors: &Value, entry: Entry) -> usize {
    let loads = vectors["loads"].as_object().unwrap();
    let mut deciders = BTreeMap::new();
    for (name, config) in loads {
        let d = Decider::new(backend.clone(), MemoryReplayStore::new(1)).unwrap();
        let loaded = d.load(config.as_str().unwrap().as_bytes());
        // The load status must agree with the engine's (ok configs load, others report a code).
        match loaded {
            Ok(s) => assert!(s.ok, "{name}"),
            Err(e) => assert!(e.code().as_str().starts_with("bundle."), "{name}: {e}"),
        }
        deciders.insert(name.clone(), d);
    }
    let cases = vectors["cases"].as_array().unwrap();
    let mut mismatches = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let decider = &deciders[case["load"].as_str().unwrap()];
        let got = decide_case(decider, entry, case).await;
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
        assert_eq!(
            doc["decision"],
            case["expect"]["decision"],
            "{name} on {}: {doc}",
            backend.name()
        );
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
        assert_eq!(codes, want_codes, "{name} on {}", backend.name());
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} {entry:?} cases differ on {}:\n{}",
        mismatches.len(),
        cases.len(),
        backend.name(),
        mismatches.join("\n")
    );
    cases.len()
}

async fn run_decide(backend: Backend) {
    let n = run(&backend, &common::vectors(), Entry::Decide).await;
    assert!(n >= 140, "expected the full conformance set, found {n}");
}

async fn run_http(backend: Backend) {
    let n = run(&backend, &common::http_vectors(), Entry::Http).await;
    assert!(n >= 23, "expected the full HTTP set, found {n}");
}

#[tokio::test]
async fn vectors_native() {
    run_decide(Backend::native()).await;
}

#[tokio::test]
async fn vectors_wasm() {
    run_decide(Backend::wasm(&common::runtime())).await;
}

#[tokio::test]
async fn http_vectors_native() {
    run_http(Backend::native()).await;
}

#[tokio::test]
async fn http_vectors_wasm() {
    run_http(Backend::wasm(&common::runtime())).await;
}
