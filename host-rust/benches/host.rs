//! Host benchmarks: decision latency native vs wasmtime (warm), instantiation, cold start from a
//! serialized module to the first decision.
//!
//! Run: `scripts/build-wasm.sh && cargo bench -p host-rust --bench host`
//! (`MANDATE_WASM=path` benches another build of the module). Figures: docs/bench/host.md.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use host_rust::replay::{ReplayError, ReplayStore, UseOnce};
use host_rust::{Backend, Decider, WasmLimits, WasmRuntime};
use testkit::kit::Corpus;

/// A store that never sees a replay, so one input can be decided again and again.
struct AcceptAll;

impl ReplayStore for AcceptAll {
    async fn record(&self, _: &[UseOnce], _: i64) -> Result<Vec<String>, ReplayError> {
        Ok(Vec::new())
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let module_path = std::env::var_os("MANDATE_WASM")
        .map_or_else(|| root().join("dist/mandate.wasm"), PathBuf::from);
    let module = std::fs::read(module_path).expect("build the module with scripts/build-wasm.sh");
    let v = Corpus::conformance();
    let case = v.case("seed/allow-trusted-network");
    (
        module,
        v.load(&case.load).as_bytes().to_vec(),
        case.input.as_bytes().to_vec(),
    )
}

/// The config and input of tests/vectors/http.json's `http/allow-secrets-from-trusted-peer`.
fn http_fixture() -> (Vec<u8>, Vec<u8>) {
    let v = Corpus::http();
    let case = v.case("http/allow-secrets-from-trusted-peer");
    (
        v.load(&case.load).as_bytes().to_vec(),
        case.input.as_bytes().to_vec(),
    )
}

fn benches(c: &mut Criterion) {
    let (module, config, input) = fixture();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = WasmRuntime::new(&module, Some(cache.path()), WasmLimits::default()).unwrap();

    let mut g = c.benchmark_group("decide_warm");
    for (label, backend) in [
        ("native", Backend::native()),
        ("native_portable_p256", Backend::native_portable()),
        ("wasm", Backend::wasm(&runtime)),
    ] {
        let d = Decider::with_config(backend.clone(), AcceptAll, &config).unwrap();
        assert!(rt.block_on(d.decide(&input)).is_allow());
        g.bench_function(label, |b| b.iter(|| rt.block_on(d.decide(&input))));
    }
    g.finish();

    // The same kind of allow as the HTTP host sees it: the core's binding first.
    let (http_config, http_input) = http_fixture();
    let mut g = c.benchmark_group("decide_http_warm");
    for (label, backend) in [
        ("native", Backend::native()),
        ("wasm", Backend::wasm(&runtime)),
    ] {
        let d = Decider::with_config(backend.clone(), AcceptAll, &http_config).unwrap();
        assert!(rt.block_on(d.decide_http(&http_input)).is_allow());
        g.bench_function(label, |b| {
            b.iter(|| rt.block_on(d.decide_http(&http_input)))
        });
    }
    g.finish();

    // The verifier seam side by side: the portable p256 (what wasm runs) against ring.
    let key = policy_core::PrivateJwk::from_scalar_bytes(&[5u8; 32]).unwrap();
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
    let sig = key.sign(msg);
    let mut g = c.benchmark_group("es256_verify");
    g.bench_function("p256", |b| {
        b.iter(|| {
            policy_core::jose::Es256Verifier::verify(
                &policy_core::P256Verifier,
                key.public(),
                msg,
                &sig,
            )
        })
    });
    g.bench_function("ring", |b| {
        b.iter(|| {
            policy_core::jose::Es256Verifier::verify(
                &host_rust::verifier::RingVerifier,
                key.public(),
                msg,
                &sig,
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("instantiate");
    g.bench_function("instance_pre_and_store", |b| {
        b.iter(|| runtime.instantiate().unwrap())
    });
    g.bench_function("instance_and_load_bundle", |b| {
        b.iter(|| {
            let mut i = runtime.instantiate().unwrap();
            i.load(&config).unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cold_start");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("serialized_module_to_first_decision", |b| {
        b.iter(|| {
            let runtime =
                WasmRuntime::new(&module, Some(cache.path()), WasmLimits::default()).unwrap();
            let d = Decider::with_config(Backend::wasm(&runtime), AcceptAll, &config).unwrap();
            assert!(rt.block_on(d.decide(&input)).is_allow());
        })
    });
    g.bench_function("compile_module_no_cache", |b| {
        b.iter(|| WasmRuntime::new(&module, None, WasmLimits::default()).unwrap())
    });
    g.finish();
}

criterion_group!(host, benches);
criterion_main!(host);
