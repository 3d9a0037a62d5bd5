//! The decision API: replay check on the only decide path, fail-closed store, atomic reload,
//! limits, thread safety, and issuer helpers round-tripping through both backends.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{DownStore, World};
use mandate_host::replay::MemoryReplayStore;
use mandate_host::{Backend, Decider, HostError, WasmLimits};

fn backends() -> Vec<Backend> {
    vec![Backend::native(), Backend::wasm(&common::runtime())]
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn deciders_are_send_and_sync() {
    assert_send_sync::<Decider<MemoryReplayStore>>();
    assert_send_sync::<mandate_host::WasmRuntime>();
    #[cfg(feature = "redis")]
    assert_send_sync::<Decider<mandate_host::replay::RedisReplayStore>>();
}

#[tokio::test]
async fn issuer_helpers_make_an_allow_and_a_reuse_is_a_replay() {
    let world = World::new();
    for backend in backends() {
        let d = Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
            .unwrap();
        let input = world.input("jti-1");
        let first = d.decide(&input).await;
        assert!(
            first.is_allow(),
            "{}: {:?}",
            backend.name(),
            first.reasons()
        );
        assert_eq!(first.use_once().len(), 1);
        assert!(first.audit().is_some());
        let again = d.decide(&input).await;
        assert!(!again.is_allow());
        assert_eq!(again.code(), Some("replay.detected"), "{}", backend.name());
        // Another proof jti is a first use again.
        assert!(d.decide(&world.input("jti-2")).await.is_allow());
    }
}

#[tokio::test]
async fn an_unreachable_store_denies() {
    let world = World::new();
    for backend in backends() {
        let d = Decider::with_config(backend.clone(), DownStore, &world.config).unwrap();
        let decision = d.decide(&world.input("jti-1")).await;
        assert!(!decision.is_allow());
        assert_eq!(
            decision.code(),
            Some("replay.store_unavailable"),
            "{}",
            backend.name()
        );
        assert!(decision.grant().is_none());
    }
}

#[tokio::test]
async fn a_full_memory_store_denies_rather_than_forgets() {
    let world = World::new();
    let d =
        Decider::with_config(Backend::native(), MemoryReplayStore::new(1), &world.config).unwrap();
    assert!(d.decide(&world.input("a")).await.is_allow());
    let full = d.decide(&world.input("b")).await;
    assert_eq!(full.code(), Some("replay.store_unavailable"));
    assert_eq!(
        d.decide(&world.input("a")).await.code(),
        Some("replay.detected")
    );
}

#[tokio::test]
async fn a_bad_bundle_leaves_the_old_one_serving() {
    let world = World::new();
    let other = World::new(); // signed by another root: does not verify against world's trust key
    for backend in backends() {
        let d = Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
            .unwrap();
        let before = d.status();
        assert!(before.ok);
        // Other's bundle, with world's trust key: signature fails.
        let mut cfg: serde_json::Value = serde_json::from_slice(&other.config).unwrap();
        let world_cfg: serde_json::Value = serde_json::from_slice(&world.config).unwrap();
        cfg["trust_keys"] = world_cfg["trust_keys"].clone();
        let err = d.load(&serde_json::to_vec(&cfg).unwrap()).unwrap_err();
        assert!(matches!(err, HostError::Load { .. }));
        assert_eq!(err.code(), "bundle.signature_invalid", "{}", backend.name());
        assert_eq!(d.status(), before, "the old bundle still serves");
        assert!(
            d.decide(&world.input("x")).await.is_allow(),
            "{}",
            backend.name()
        );
        // Garbage is reported too, and changes nothing.
        assert!(
            d.load(b"{not json")
                .unwrap_err()
                .code()
                .starts_with("bundle.")
        );
        assert!(d.decide(&world.input("y")).await.is_allow());
        // A good new bundle swaps in: world's tokens no longer verify, other's do.
        let rev = d.load(&other.config).unwrap();
        assert!(rev.ok);
        assert_ne!(rev.revision, before.revision);
        // Same issuer name and kid, another key: the old delegation no longer verifies.
        assert_eq!(
            d.decide(&world.input("z")).await.code(),
            Some("token.signature_invalid"),
            "{}",
            backend.name()
        );
        assert!(d.decide(&other.input("o")).await.is_allow());
    }
}

#[tokio::test]
async fn nothing_loaded_denies_with_a_bundle_code() {
    let world = World::new();
    for backend in backends() {
        let d = Decider::new(backend, MemoryReplayStore::default()).unwrap();
        let decision = d.decide(&world.input("a")).await;
        assert!(!decision.is_allow());
        assert!(
            decision.code().unwrap().starts_with("bundle."),
            "{:?}",
            decision.code()
        );
    }
}

#[tokio::test]
async fn fuel_exhaustion_is_a_deny_not_a_crash() {
    let world = World::new();
    // Enough fuel to load, far too little to decide.
    let limits = WasmLimits {
        fuel_per_call: 10_000,
        ..WasmLimits::default()
    };
    let d = Decider::with_config(
        Backend::wasm(&common::runtime_with(limits)),
        MemoryReplayStore::default(),
        &world.config,
    )
    .unwrap();
    for _ in 0..3 {
        let decision = d.decide(&world.input("a")).await;
        assert!(!decision.is_allow());
        assert_eq!(decision.code(), Some("host.limit_exceeded"));
    }
}

#[tokio::test]
async fn memory_exhaustion_is_a_deny_not_a_crash() {
    let world = World::new();
    let limits = WasmLimits {
        memory_bytes: 8 << 20,
        ..WasmLimits::default()
    };
    let d = Decider::with_config(
        Backend::wasm(&common::runtime_with(limits)),
        MemoryReplayStore::default(),
        &world.config,
    )
    .unwrap();
    // A 16 MiB input cannot even be copied in.
    let mut big = b"{\"now\":1800000000,\"pad\":\"".to_vec();
    big.resize(16 << 20, b'a');
    big.extend_from_slice(b"\"}");
    let decision = d.decide(&big).await;
    assert!(!decision.is_allow());
    assert_eq!(decision.code(), Some("host.limit_exceeded"));
    // And the decider still works afterwards.
    assert!(d.decide(&world.input("a")).await.is_allow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decisions_on_both_backends_agree() {
    let world = Arc::new(World::new());
    for backend in backends() {
        let d = Arc::new(
            Decider::with_config(backend, MemoryReplayStore::default(), &world.config).unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (d, w) = (Arc::clone(&d), Arc::clone(&world));
            // Two tasks per jti: exactly one of each pair is allowed.
            tasks.push(tokio::spawn(async move {
                d.decide(&w.input(&format!("j{}", i / 2))).await
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            let decision = t.await.unwrap();
            if decision.is_allow() {
                allowed += 1;
            } else {
                assert_eq!(decision.code(), Some("replay.detected"));
            }
        }
        assert_eq!(allowed, 8);
    }
}

#[test]
fn wasm_runtime_rejects_a_module_that_imports() {
    // A minimal module importing one function: the SDK refuses it.
    let wasm: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
        0x02, 0x07, 0x01, 0x01, b'e', 0x01, b'f', 0x00, 0x00, // import e.f
    ];
    let err = mandate_host::WasmRuntime::new(wasm, None, WasmLimits::default()).unwrap_err();
    assert_eq!(err.code(), "host.module_invalid");
    let err = mandate_host::WasmRuntime::new(b"garbage", None, WasmLimits::default()).unwrap_err();
    assert_eq!(err.code(), "host.module_invalid");
}

#[test]
fn the_cache_is_keyed_by_module_and_survives_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let bytes = common::module_bytes();
    let rt = mandate_host::WasmRuntime::new(&bytes, Some(&cache), WasmLimits::default()).unwrap();
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].to_string_lossy().contains(rt.module_sha256()));
    // Corrupt the artifact: it is ignored (digest mismatch), recompiled, and rewritten.
    let mut art = std::fs::read(&files[0]).unwrap();
    let n = art.len();
    art[n / 2] ^= 0xff;
    std::fs::write(&files[0], &art).unwrap();
    let rt2 = mandate_host::WasmRuntime::new(&bytes, Some(&cache), WasmLimits::default()).unwrap();
    assert_eq!(rt2.module_sha256(), rt.module_sha256());
    let mut i = rt2.instantiate().unwrap();
    assert_eq!(i.abi_version().unwrap(), 1);
    // A world-writable cache directory is not trusted (nothing loaded from it, nothing written).
    use std::os::unix::fs::PermissionsExt as _;
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    mandate_host::WasmRuntime::new(&bytes, Some(&open), WasmLimits::default()).unwrap();
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_during_traffic_never_disturb_decisions() {
    let world = Arc::new(World::new());
    let other = World::new();
    let mut bad: serde_json::Value = serde_json::from_slice(&other.config).unwrap();
    bad["trust_keys"] =
        serde_json::from_slice::<serde_json::Value>(&world.config).unwrap()["trust_keys"].clone();
    let bad = serde_json::to_vec(&bad).unwrap();
    for backend in backends() {
        let d = Arc::new(
            Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for t in 0..4 {
            let (d, w) = (Arc::clone(&d), Arc::clone(&world));
            tasks.push(tokio::spawn(async move {
                let mut codes = Vec::new();
                for i in 0..10 {
                    let decision = d.decide(&w.input(&format!("t{t}-{i}"))).await;
                    codes.push(decision.code().map(str::to_string));
                }
                codes
            }));
        }
        // Meanwhile: failed reloads (bad signature, garbage) and good reloads of the same bundle.
        for i in 0..10 {
            let cfg: &[u8] = match i % 3 {
                0 => &bad,
                1 => b"\xff",
                _ => &world.config,
            };
            let r = d.load(cfg);
            assert_eq!(r.is_ok(), i % 3 == 2);
            tokio::task::yield_now().await;
        }
        for t in tasks {
            let codes = t.await.unwrap();
            assert!(
                codes.iter().all(Option::is_none),
                "{}: {codes:?}",
                backend.name()
            );
        }
    }
}
