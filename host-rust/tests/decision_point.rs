//! The decision point: the replacement vectors (`tests/vectors/replace.json`) on every backend
//! through `Decider::replace`, and `DecisionPoint`'s own duties: every answer audited before it
//! is given, a failed append withholds the decision, reloads by the one rule, health, hooks.
// Helpers outside #[test] functions fail the test by panicking (clippy.toml covers only tests).
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{NOW, World};
use host_rust::audit::{AuditError, AuditLog, AuditOptions, Receipt};
use host_rust::replay::MemoryReplayStore;
use host_rust::{
    Backend, Decider, Decision, DecisionPoint, Hooks, HostError, Keys, LoadStatus, NoHooks,
};
use policy_core::Code;
use serde_json::Value;
use testkit::kit::{ReplaceCorpus, ReplaceHost, run_replace_corpus};

/// `Decider::replace` on one backend: the serving config installed as it is, then the next one
/// offered under the rule.
struct Replacing(Backend);

impl ReplaceHost for Replacing {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn replace(
        &mut self,
        serving: Option<&[u8]>,
        next: &[u8],
        now: i64,
    ) -> Result<Option<String>, String> {
        let d = Decider::new(self.0.clone(), MemoryReplayStore::default())
            .map_err(|e| e.to_string())?;
        if let Some(serving) = serving {
            // A serving config that does not load is served as it is (its decisions deny).
            let _ = d.load(serving);
        }
        match d.replace(next, now) {
            Ok(status) => {
                // What replaced now serves.
                if d.status() != status {
                    return Err("the replacement is not what serves".into());
                }
                Ok(None)
            }
            Err(HostError::Load { code, .. }) => Ok(Some(code.as_str().to_owned())),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[test]
fn replacement_vectors_on_every_backend() {
    let corpus = ReplaceCorpus::read();
    for backend in [
        Backend::native(),
        Backend::native_portable(),
        Backend::wasm(&common::runtime()),
    ] {
        run_replace_corpus(&mut Replacing(backend), &corpus).assert_ok(14);
    }
}

/// The module's own `mandate_replace` under wasmtime, on a fresh instance per case: the rule as
/// a host of the bare module (one that is not this SDK) gets it.
struct ModuleReplacing(host_rust::WasmRuntime);

impl ReplaceHost for ModuleReplacing {
    fn name(&self) -> &str {
        "module mandate_replace"
    }

    fn replace(
        &mut self,
        serving: Option<&[u8]>,
        next: &[u8],
        now: i64,
    ) -> Result<Option<String>, String> {
        let mut module = self.0.instantiate().map_err(|e| e.to_string())?;
        if let Some(serving) = serving {
            module.load(serving).map_err(|e| e.to_string())?;
        }
        let before = module.status().map_err(|e| e.to_string())?;
        let answer = module.replace(next, now).map_err(|e| e.to_string())?;
        let after = module.status().map_err(|e| e.to_string())?;
        let doc: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
        if doc["ok"] == true {
            // What replaced now serves, and the answer is its status.
            if after != answer {
                return Err("the replacement is not what serves".into());
            }
            return Ok(None);
        }
        // A refusal leaves what served serving.
        if after != before {
            return Err("a refused config changed what serves".into());
        }
        doc["error"]["code"]
            .as_str()
            .map(|c| Some(c.to_owned()))
            .ok_or_else(|| format!("not a load status: {doc}"))
    }
}

#[test]
fn replacement_vectors_on_the_bare_module() {
    let corpus = ReplaceCorpus::read();
    run_replace_corpus(&mut ModuleReplacing(common::runtime()), &corpus).assert_ok(14);
}

/// Hooks that remember what they were told.
#[derive(Debug, Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Hooks for Seen {
    fn decided(&self, endpoint: &str, decision: &Decision, _: Duration) {
        self.push(format!(
            "decided {endpoint} {}",
            decision.code().unwrap_or("allow")
        ));
    }
    fn audit_appended(&self, receipt: &Receipt) {
        self.push(format!("audited {}", receipt.seq));
    }
    fn audit_failed(&self, error: &AuditError) {
        self.push(format!("audit failed {}", error.code()));
    }
    fn bundle_loaded(&self, _: &str, status: &LoadStatus) {
        self.push(format!(
            "loaded {}",
            status.revision.as_deref().unwrap_or("")
        ));
    }
    fn bundle_refused(&self, _: &str, code: Code, _: &str, _: &LoadStatus) {
        self.push(format!("refused {code}"));
    }
}

fn bundle_of(world: &World) -> String {
    let config: Value = serde_json::from_slice(&world.config).unwrap();
    config["bundle"].as_str().unwrap().to_owned()
}

fn keys(world: &World) -> Keys {
    Keys {
        trust: vec![world.root.public().clone()],
        grant_key: Some(world.pdp.clone()),
        audiences: Vec::new(),
    }
}

fn point(
    backend: Backend,
    audit: Option<AuditLog>,
    world: &World,
    hooks: Arc<dyn Hooks>,
) -> DecisionPoint<MemoryReplayStore> {
    let decider = Decider::new(backend, MemoryReplayStore::default()).unwrap();
    let point = DecisionPoint::new(decider, audit, keys(world), hooks);
    point.load_bundle(&bundle_of(world), "test", NOW).unwrap();
    point
}

#[tokio::test]
async fn every_answer_is_audited_before_it_is_given() {
    let world = World::new();
    for backend in [Backend::native(), Backend::wasm(&common::runtime())] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
        let seen = Arc::new(Seen::default());
        let point = point(backend.clone(), Some(log), &world, seen.clone());
        let input = world.input("jti-dp-1");
        let first = point.decide("decide", &input).await.unwrap();
        assert!(
            first.is_allow(),
            "{}: {:?}",
            backend.name(),
            first.reasons()
        );
        let again = point.decide("decide", &input).await.unwrap();
        assert_eq!(again.code(), Some("replay.detected"), "{}", backend.name());
        let revision = point.decider().status().revision.unwrap_or_default();
        assert_eq!(
            seen.take(),
            [
                format!("loaded {revision}"),
                "audited 1".into(),
                "decided decide allow".into(),
                "audited 2".into(),
                "decided decide replay.detected".into(),
            ]
        );
        let report = host_rust::audit::verify(&path, None).unwrap();
        assert_eq!(report.records, 2, "{}", backend.name());
        assert_eq!(point.audit().unwrap().head().seq, 2);
        // The records are the decisions' own audit objects, in order.
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["audit"]["decision_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            ids,
            [first.decision_id(), again.decision_id()],
            "{}",
            backend.name()
        );
    }
}

#[tokio::test]
async fn a_failed_append_withholds_the_decision() {
    let world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    // The head file is replaced through `<log>.head.tmp`: a directory there makes the commit
    // fail (as root too, unlike a read-only directory).
    std::fs::create_dir(dir.path().join("audit.log.head.tmp")).unwrap();
    let seen = Arc::new(Seen::default());
    let point = point(Backend::native(), Some(log), &world, seen.clone());
    seen.take();
    let got = point.decide("decide", &world.input("jti-dp-2")).await;
    match got {
        Err(HostError::Audit(e)) => assert_eq!(e.code(), Code::AuditIo),
        other => panic!("expected the decision withheld, got {other:?}"),
    }
    // Told as an audit failure, never as a decision.
    assert_eq!(seen.take(), ["audit failed audit.io"]);
}

#[tokio::test]
async fn reloads_follow_the_one_rule_and_health_reports_them() {
    let world = World::new();
    let seen = Arc::new(Seen::default());
    let point = point(Backend::native(), None, &world, seen.clone());
    let serving = point.decider().status();
    assert!(serving.ok);
    assert!(point.health(NOW).ok);
    assert!(point.health(NOW).last_reload_error.is_none());
    // The same bundle again, a day after it expired: refused, and the serving one keeps serving.
    let exp = serving.exp.unwrap();
    let err = point
        .load_bundle(&bundle_of(&world), "test", exp)
        .unwrap_err();
    assert_eq!(err.code(), Code::BundleExpired);
    assert_eq!(point.decider().status(), serving);
    let health = point.health(exp);
    assert!(
        !health.ok && health.expired,
        "an expired bundle serving is not healthy"
    );
    let (code, message) = health.last_reload_error.unwrap();
    assert_eq!(code, Code::BundleExpired);
    assert!(
        !message.starts_with("bundle."),
        "the message is for people: {message}"
    );
    // A bundle under another root is refused with its load code.
    let other = World::other();
    let err = point
        .load_bundle(&bundle_of(&other), "test", NOW)
        .unwrap_err();
    assert_eq!(err.code(), Code::BundleSignatureInvalid);
    // A source that could not be read is reported too.
    point.reload_failed("test", Code::BundleFetchFailed, "connection refused");
    assert_eq!(
        point.health(NOW).last_reload_error.map(|(c, _)| c),
        Some(Code::BundleFetchFailed)
    );
    // A good reload clears the error.
    point.load_bundle(&bundle_of(&world), "test", NOW).unwrap();
    assert!(point.health(NOW).last_reload_error.is_none());
    let told = seen.take();
    assert_eq!(told.len(), 5, "{told:?}");
    assert_eq!(
        &told[1..4],
        [
            "refused bundle.expired",
            "refused bundle.signature_invalid",
            "refused bundle.fetch_failed"
        ]
    );
}

#[tokio::test]
async fn without_an_audit_log_decisions_are_answered() {
    let world = World::new();
    let point = point(Backend::native(), None, &world, Arc::new(NoHooks));
    let d = point
        .decide("decide", &world.input("jti-dp-3"))
        .await
        .unwrap();
    assert!(d.is_allow(), "{:?}", d.reasons());
}

#[tokio::test]
async fn a_first_bundle_out_of_its_window_serves_denials_other_refusals_install_nothing() {
    let world = World::new();
    for backend in [Backend::native(), Backend::wasm(&common::runtime())] {
        let fresh = || {
            let decider = Decider::new(backend.clone(), MemoryReplayStore::default()).unwrap();
            DecisionPoint::new(decider, None, keys(&world), Arc::new(NoHooks))
        };
        // Under another root: refused, nothing serves.
        let point = fresh();
        let err = point
            .start_bundle(&bundle_of(&World::other()), "test", NOW)
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::BundleSignatureInvalid,
            "{}",
            backend.name()
        );
        assert!(!point.decider().status().ok);

        // Verified but expired at `exp`: it serves, denying with bundle.expired, unhealthy.
        let point = fresh();
        let exp = {
            let probe = fresh();
            probe.load_bundle(&bundle_of(&world), "test", NOW).unwrap();
            probe.decider().status().exp.unwrap()
        };
        let (code, _) = point
            .start_bundle(&bundle_of(&world), "test", exp)
            .unwrap()
            .expect("served out of its window");
        assert_eq!(code, Code::BundleExpired, "{}", backend.name());
        assert!(point.decider().status().ok, "{}", backend.name());
        let health = point.health(exp);
        assert!(!health.ok && health.expired, "{}", backend.name());
        assert_eq!(
            health.last_reload_error.map(|(c, _)| c),
            Some(Code::BundleExpired)
        );
        let mut late: Value = serde_json::from_slice(&world.input("jti-dp-4")).unwrap();
        late["now"] = Value::from(exp);
        let d = point
            .decide("decide", &serde_json::to_vec(&late).unwrap())
            .await
            .unwrap();
        assert_eq!(d.code(), Some("bundle.expired"), "{}", backend.name());
        // Before its nbf, the same bundle is not healthy either.
        assert!(!point.health(i64::MIN / 2).ok);
        // A bundle that passes the rule replaces it and clears the error.
        point.load_bundle(&bundle_of(&world), "test", NOW).unwrap();
        assert!(point.health(NOW).ok && point.health(NOW).last_reload_error.is_none());
    }
}
