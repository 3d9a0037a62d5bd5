//! Criterion benchmarks of a full decision and its parts, on the conformance vectors' world.
//! Run: `cargo bench -p policy-core --bench decide`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use core::hint::black_box;
use core::time::Duration;
use criterion::{Criterion, criterion_group, criterion_main};
use policy_core::Pdp;
use policy_core::guardrails::Guardrails;
use policy_core::jose::{Es256Verifier, P256Verifier};
use serde_json::{Value, json};
use testkit::kit::Corpus;

fn benches(c: &mut Criterion) {
    let v = Corpus::conformance();
    let config = v.load("default").to_string();
    let pdp = Pdp::load_json(config.as_bytes());
    let seed = v.case("seed/allow-trusted-network").input.clone();
    let chain = v.case("chain/two-agents").input.clone();
    let grant = v.case("grant/presented").input.clone();
    for input in [&seed, &chain, &grant] {
        let out: Value = serde_json::from_slice(&pdp.decide_json(input.as_bytes())).unwrap();
        assert_eq!(out["decision"], "allow");
    }

    c.bench_function(
        "decide/seed (delegation cached, proof verified, guardrails)",
        |b| b.iter(|| black_box(pdp.decide_json(black_box(seed.as_bytes())))),
    );
    c.bench_function("decide/two-hop chain (cached) + proof + guardrails", |b| {
        b.iter(|| black_box(pdp.decide_json(black_box(chain.as_bytes()))))
    });
    c.bench_function("decide/grant (one verify + guardrails)", |b| {
        b.iter(|| black_box(pdp.decide_json(black_box(grant.as_bytes()))))
    });
    c.bench_function("decide/seed, cold engine (no signature cache)", |b| {
        b.iter_batched(
            || Pdp::load_json(config.as_bytes()),
            |p| black_box(p.decide_json(seed.as_bytes())),
            criterion::BatchSize::LargeInput,
        )
    });

    let key = testkit::world::Keys::new().idp;
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
    let sig = key.sign(msg);
    assert!(P256Verifier.verify(key.public(), msg, &sig));
    c.bench_function("part/es256 verify (p256)", |b| {
        b.iter(|| black_box(P256Verifier.verify(key.public(), black_box(msg), &sig)))
    });
    c.bench_function("part/es256 sign (p256, RFC 6979)", |b| {
        b.iter(|| black_box(key.sign(black_box(msg))))
    });

    let bundle = pdp.status().unwrap();
    let g = Guardrails::compile(&bundle.policies, &bundle.data, "data.mandate").unwrap();
    let input = json!({"agent": {"labels": {"risk": "low"}}, "user": {"id": "alice"}, "delegation": {"scopes": ["secrets:read"], "authorization_details": []},
                       "request": {"method": "GET", "action": "secrets:read", "ip": "10.20.0.7"}, "context": {}, "now": 0});
    assert!(g.evaluate(&input).unwrap().allow);
    c.bench_function("part/guardrails evaluate (seed policy)", |b| {
        b.iter(|| black_box(g.evaluate(black_box(&input)).unwrap()))
    });
    c.bench_function("part/bundle load (verify + parse + compile Rego)", |b| {
        b.iter(|| black_box(Pdp::load_json(black_box(config.as_bytes()))))
    });
}

criterion_group! {
    name = decide;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(decide);
