//! Every vector in tests/vectors/conformance.json (through `Decider::decide`) and
//! tests/vectors/http.json (through `Decider::decide_http`) on both backends, through the
//! public decide paths and the test kit's runner: the decision bytes must equal the vector's
//! bytes exactly.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used)]

mod common;

use host_rust::replay::{MemoryReplayStore, ReplayStore, UseOnce};
use host_rust::{Backend, Decider, Decision};
use testkit::kit::{Corpus, Host, Replay, run_corpus};
use tokio::runtime::Runtime;

/// A `Decider` on one backend as a kit host; the kit's trait is synchronous, so it blocks on
/// its own runtime.
struct DeciderHost {
    backend: Backend,
    decider: Option<Decider<MemoryReplayStore>>,
    rt: Runtime,
}

impl DeciderHost {
    fn new(backend: Backend) -> DeciderHost {
        DeciderHost {
            backend,
            decider: None,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// A decision with the store the case calls for: fresh, pre-seeded with the replayed
    /// jtis, or unreachable.
    fn run(&self, input: &[u8], replay: Option<&Replay>, http: bool) -> Vec<u8> {
        let decider = self.decider.as_ref().unwrap();
        self.rt.block_on(async {
            match replay {
                None => call(&decider.with_store(MemoryReplayStore::new(16)), input, http).await,
                Some(r) if r.store_error => {
                    call(&decider.with_store(common::DownStore), input, http).await
                }
                Some(r) => {
                    let store = MemoryReplayStore::new(16);
                    // Keys are `<kind>:<jti>`: seed each jti as both kinds, remembered well past
                    // the vectors' `now` (and within the stores' TTL cap).
                    let seed: Vec<UseOnce> = r
                        .replayed
                        .iter()
                        .flat_map(|j| {
                            ["proof", "grant"].map(|kind| UseOnce {
                                jti: j.clone(),
                                exp: 3_000_000_000,
                                kind: kind.into(),
                            })
                        })
                        .collect();
                    assert!(store.record(&seed, 0).await.unwrap().is_empty());
                    call(&decider.with_store(store), input, http).await
                }
            }
            .into_bytes()
        })
    }
}

async fn call<S: ReplayStore>(decider: &Decider<S>, input: &[u8], http: bool) -> Decision {
    if http {
        decider.decide_http(input).await
    } else {
        decider.decide(input).await
    }
}

impl Host for DeciderHost {
    fn name(&self) -> &str {
        self.backend.name()
    }

    fn load(&mut self, config: &[u8]) -> Result<(), String> {
        let d = Decider::new(self.backend.clone(), MemoryReplayStore::new(1))
            .map_err(|e| e.to_string())?;
        // The load status must agree with the engine's (ok configs load, others report a
        // bundle code, which the decisions then carry).
        match d.load(config) {
            Ok(s) if s.ok => {}
            Ok(s) => return Err(format!("load answered not ok without an error: {s:?}")),
            Err(e) if e.code().as_str().starts_with("bundle.") => {}
            Err(e) => return Err(e.to_string()),
        }
        self.decider = Some(d);
        Ok(())
    }

    fn decide(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        self.run(input, replay, false)
    }

    fn decide_http(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        self.run(input, replay, true)
    }
}

#[test]
fn vectors_native() {
    run_corpus(
        &mut DeciderHost::new(Backend::native()),
        &Corpus::conformance(),
    )
    .assert_ok(140);
}

#[test]
fn vectors_wasm() {
    let backend = Backend::wasm(&common::runtime());
    run_corpus(&mut DeciderHost::new(backend), &Corpus::conformance()).assert_ok(140);
}

#[test]
fn http_vectors_native() {
    run_corpus(&mut DeciderHost::new(Backend::native()), &Corpus::http()).assert_ok(23);
}

#[test]
fn http_vectors_wasm() {
    let backend = Backend::wasm(&common::runtime());
    run_corpus(&mut DeciderHost::new(backend), &Corpus::http()).assert_ok(23);
}
