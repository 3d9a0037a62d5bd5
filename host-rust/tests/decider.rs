//! The decision API: replay check on both decide paths (decide inputs and HTTP decide inputs),
//! every use_once entry of a decision recorded in one all-or-nothing call, fail-closed store,
//! atomic reload, limits, thread safety, the ABI version check, and issuer helpers
//! round-tripping through both backends.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{DownStore, Recording, World};
use host_rust::replay::{MemoryReplayStore, ReplayStore};
use host_rust::{Backend, Decider, Decision, HostError, WasmLimits};

fn backends() -> Vec<Backend> {
    vec![Backend::native(), Backend::wasm(&common::runtime())]
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn deciders_are_send_and_sync() {
    assert_send_sync::<Decider<MemoryReplayStore>>();
    assert_send_sync::<host_rust::WasmRuntime>();
    #[cfg(feature = "redis")]
    assert_send_sync::<Decider<host_rust::replay::RedisReplayStore>>();
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

/// A typed decide input decides exactly as its document, replay included, on both backends
/// (natively it never becomes JSON; the module takes its document).
#[tokio::test]
async fn typed_inputs_decide_as_their_documents() {
    let world = World::new();
    for backend in backends() {
        let typed =
            Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
                .unwrap();
        let bytes =
            Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
                .unwrap();
        let doc = world.input("jti-typed");
        let input: policy_core::DecideInput = serde_json::from_slice(&doc).unwrap();
        let a = typed.decide_input(&input).await;
        let b = bytes.decide(&doc).await;
        assert!(a.is_allow(), "{}: {:?}", backend.name(), a.reasons());
        assert_eq!(a.as_bytes(), b.as_bytes(), "{}", backend.name());
        let again = typed.decide_input(&input).await;
        assert_eq!(again.code(), Some("replay.detected"), "{}", backend.name());
        assert_eq!(
            again.as_bytes(),
            bytes.decide(&doc).await.as_bytes(),
            "{}",
            backend.name()
        );
        let down = Decider::with_config(backend.clone(), DownStore, &world.config).unwrap();
        let denied = down.decide_input(&input).await;
        assert_eq!(
            denied.code(),
            Some("replay.store_unavailable"),
            "{}",
            backend.name()
        );
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
    let other = World::other(); // signed by another root: does not verify against world's trust key
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
        assert_eq!(
            err.code().as_str(),
            "bundle.signature_invalid",
            "{}",
            backend.name()
        );
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
                .as_str()
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
    let err = host_rust::WasmRuntime::new(wasm, None, WasmLimits::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "host.module_invalid");
    let err = host_rust::WasmRuntime::new(b"garbage", None, WasmLimits::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "host.module_invalid");
}

#[test]
fn wasm_runtime_rejects_a_module_of_another_abi_version() {
    // A module exporting a memory and `mandate_abi_version` answering 1 (the ABI before
    // `mandate_decide_http`): refused for its version, not for the export it lacks.
    let mut wasm: Vec<u8> = vec![
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
        0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
        0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, 1 page
        0x07, 0x20, 0x02, // export section: 32 bytes, two exports
        0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, // "memory": memory 0
        0x13, // "mandate_abi_version" (19 bytes): function 0
    ];
    wasm.extend_from_slice(b"mandate_abi_version");
    wasm.extend_from_slice(&[0x00, 0x00]);
    wasm.extend_from_slice(&[0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x01, 0x0b]); // code: i32.const 1
    let err = host_rust::WasmRuntime::new(&wasm, None, WasmLimits::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "host.module_invalid");
    assert!(
        err.to_string()
            .contains("module speaks ABI 1, this SDK speaks 3"),
        "{err}"
    );
}

#[test]
fn the_cache_is_keyed_by_module_and_survives_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    let bytes = common::module_bytes();
    let rt = host_rust::WasmRuntime::new(&bytes, Some(&cache), WasmLimits::default()).unwrap();
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
    let rt2 = host_rust::WasmRuntime::new(&bytes, Some(&cache), WasmLimits::default()).unwrap();
    assert_eq!(rt2.module_sha256(), rt.module_sha256());
    let mut i = rt2.instantiate().unwrap();
    assert_eq!(i.abi_version().unwrap(), host_rust::ABI_VERSION);
    assert_eq!(host_rust::ABI_VERSION, 3);
    // A world-writable cache directory is not trusted (nothing loaded from it, nothing written).
    use std::os::unix::fs::PermissionsExt as _;
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    host_rust::WasmRuntime::new(&bytes, Some(&open), WasmLimits::default()).unwrap();
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_during_traffic_never_disturb_decisions() {
    let world = Arc::new(World::new());
    let other = World::other();
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

async fn http<S: ReplayStore>(d: &Decider<S>, input: &[u8]) -> Decision {
    d.decide_http(input).await
}

#[tokio::test]
async fn http_decisions_consult_the_store_as_decide_does() {
    let world = World::new();
    let mut bytes = Vec::new();
    for backend in backends() {
        let name = backend.name();
        let d = Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
            .unwrap();
        let input = world.http_input("h-1");
        let first = http(&d, &input).await;
        assert!(first.is_allow(), "{name}: {:?}", first.reasons());
        assert_eq!(first.use_once().len(), 1, "{name}");
        assert_eq!(first.use_once()[0].kind, "proof", "{name}");
        // The same request again: its proof is a replay.
        let again = http(&d, &input).await;
        assert!(!again.is_allow());
        assert_eq!(again.code(), Some("replay.detected"), "{name}");
        // The HTTP path and the decide path share the store: the proof is spent on both.
        assert_eq!(
            d.decide(&world.input("h-1")).await.code(),
            Some("replay.detected"),
            "{name}"
        );
        // A new proof is a first use.
        assert!(
            http(&d, &world.http_input("h-2")).await.is_allow(),
            "{name}"
        );
        // A store that cannot answer denies.
        let down = http(&d.with_store(DownStore), &world.http_input("h-3")).await;
        assert_eq!(down.code(), Some("replay.store_unavailable"), "{name}");
        assert!(down.grant().is_none());
        // And garbage is the core's deny, not an error.
        let garbage = http(&d, b"{\"now\":1800000000}").await;
        assert!(!garbage.is_allow());
        assert!(garbage.code().unwrap().starts_with("input."), "{name}");
        // The same input on a fresh store: the same bytes on both backends.
        bytes.push(
            http(&d.with_store(MemoryReplayStore::default()), &input)
                .await
                .into_bytes(),
        );
    }
    assert_eq!(bytes[0], bytes[1], "native and wasm differ");
}

/// A grant minted on an HTTP allow, with the store the minting decision used.
async fn mint_http(
    d: &Decider<MemoryReplayStore>,
    world: &World,
    jti: &str,
    grant_jti: &str,
) -> String {
    let minted = http(d, &world.http_input_minting(jti, grant_jti)).await;
    assert!(minted.is_allow(), "{:?}", minted.reasons());
    minted.grant().expect("a grant on the allow").to_string()
}

#[tokio::test]
async fn a_grant_decision_records_both_its_jtis_in_one_call() {
    let world = World::new();
    for backend in backends() {
        let name = backend.name();
        let d = Decider::with_config(backend.clone(), MemoryReplayStore::default(), &world.config)
            .unwrap();
        let grant = mint_http(&d, &world, "m-1", "g-1").await;
        let other = mint_http(&d, &world, "m-2", "g-2").await;
        for (path, present) in [
            (
                "decide",
                World::input_with_grant_proof as fn(&World, &str, &str) -> Vec<u8>,
            ),
            ("decide_http", World::http_input_with_grant),
        ] {
            let at = format!("{name}/{path}");
            let store = Recording::new(100);
            let r = d.with_store(store.clone());
            let run = |input: Vec<u8>| {
                let r = &r;
                async move {
                    if path == "decide" {
                        r.decide(&input).await
                    } else {
                        r.decide_http(&input).await
                    }
                }
            };
            let p1 = format!("{path}-p-1");
            let first = run(present(&world, &grant, &p1)).await;
            assert!(first.is_allow(), "{at}: {:?}", first.reasons());
            // Two entries, the grant's and the proof's, handed to the store in one call.
            let use_once = first.use_once();
            let mut kinds: Vec<&str> = use_once.iter().map(|u| u.kind.as_str()).collect();
            kinds.sort_unstable();
            assert_eq!(kinds, ["grant", "proof"], "{at}");
            assert_eq!(store.calls(), vec![use_once.clone()], "{at}");
            assert_eq!(store.len(), 2, "{at}");
            // The same grant with a fresh proof: the grant is spent.
            let again = run(present(&world, &grant, &format!("{path}-p-2"))).await;
            assert_eq!(again.code(), Some("replay.detected"), "{at}");
            // Another grant with the spent proof's jti: the proof is spent.
            let reused = run(present(&world, &other, &p1)).await;
            assert_eq!(reused.code(), Some("replay.detected"), "{at}");
            // Each call again handed the store both entries at once.
            assert!(store.calls().iter().all(|c| c.len() == 2), "{at}");

            // A store with room for one entry only: the two-entry decision is refused as a
            // whole (store_unavailable), and neither entry was recorded.
            let small = Recording::new(1);
            let tight = d.with_store(small.clone());
            let input = present(&world, &grant, &format!("{path}-p-3"));
            let refused = if path == "decide" {
                tight.decide(&input).await
            } else {
                tight.decide_http(&input).await
            };
            assert_eq!(refused.code(), Some("replay.store_unavailable"), "{at}");
            assert!(refused.grant().is_none());
            assert_eq!(small.calls().len(), 1, "{at}");
            assert_eq!(small.calls()[0].len(), 2, "{at}");
            assert_eq!(small.len(), 0, "{at}: a refused call records nothing");
            // One-entry decisions still fit: nothing of the refused one took the room.
            assert!(
                tight
                    .decide_http(&world.http_input(&format!("{at}-one")))
                    .await
                    .is_allow()
            );
        }
    }
}

/// A memory store that says since when it remembers (a process that restarted) has the
/// decider refuse proofs issued before then (`replay.history_unknown`) on every decide path
/// and both backends; one issued that second or later is decided as usual. A `replay_since`
/// the input names is kept when it is later than the store's.
#[tokio::test]
async fn a_store_remembering_since_its_start_refuses_older_proofs_on_every_path() {
    let world = World::new();
    // The world's proofs are issued at NOW - 1.
    let iat = common::NOW - 1;
    for backend in backends() {
        let restarted = |since: i64| {
            Decider::with_config(
                backend.clone(),
                MemoryReplayStore::default().remembering_since(since),
                &world.config,
            )
            .unwrap()
        };
        let name = backend.name();
        let d = restarted(iat + 1);
        let doc = world.input("jti-hist-1");
        let typed: policy_core::DecideInput = serde_json::from_slice(&doc).unwrap();
        let http = world.http_input("jti-hist-2");
        let http_typed: policy_core::HttpDecideInput = serde_json::from_slice(&http).unwrap();
        for (path, got) in [
            ("decide", d.decide(&doc).await),
            ("decide_input", d.decide_input(&typed).await),
            ("decide_http", d.decide_http(&http).await),
            ("decide_http_input", d.decide_http_input(&http_typed).await),
        ] {
            assert_eq!(got.code(), Some("replay.history_unknown"), "{name} {path}");
        }
        let d = restarted(iat);
        assert!(
            d.decide(&world.input("jti-hist-3")).await.is_allow(),
            "{name}"
        );
        assert!(
            d.decide_http(&world.http_input("jti-hist-4"))
                .await
                .is_allow(),
            "{name}"
        );
        // The later of the input's and the store's wins.
        let mut stricter: serde_json::Value =
            serde_json::from_slice(&world.input("jti-hist-5")).unwrap();
        stricter["replay_since"] = serde_json::json!(iat + 1);
        let got = d.decide(&serde_json::to_vec(&stricter).unwrap()).await;
        assert_eq!(got.code(), Some("replay.history_unknown"), "{name}");
        let mut looser: serde_json::Value =
            serde_json::from_slice(&world.input("jti-hist-6")).unwrap();
        looser["replay_since"] = serde_json::json!(iat - 100);
        let strict = restarted(iat + 1);
        let got = strict.decide(&serde_json::to_vec(&looser).unwrap()).await;
        assert_eq!(got.code(), Some("replay.history_unknown"), "{name}");
        // A `replay_since` that is not an integer is the core's to refuse, never overwritten.
        let mut garbled: serde_json::Value =
            serde_json::from_slice(&world.input("jti-hist-7")).unwrap();
        garbled["replay_since"] = serde_json::json!("yesterday");
        let got = strict.decide(&serde_json::to_vec(&garbled).unwrap()).await;
        assert_eq!(got.code(), Some("input.malformed"), "{name}");
    }
}
