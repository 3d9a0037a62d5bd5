//! The one replacement rule (`may_replace`): which verified bundle may replace the serving one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use policy_core::{Code, Pdp, PrivateJwk, mint};
use serde_json::json;

fn root() -> PrivateJwk {
    PrivateJwk::from_scalar_bytes(&[7; 32])
        .unwrap()
        .with_kid(Some("root-1".into()))
}

/// A decision point loaded with a bundle of these claims.
fn load(revision: &str, iat: i64, nbf: i64, exp: i64, note: &str) -> Pdp {
    let contents = json!({"revision": revision, "iat": iat, "nbf": nbf, "exp": exp,
        "issuers": [], "data": {"note": note}});
    let config = json!({"bundle": mint::bundle(&contents, &root()),
        "trust_keys": [root().public().to_json_value()]});
    let pdp = Pdp::load_json(config.to_string().as_bytes());
    assert!(pdp.status().is_ok(), "{:?}", pdp.status().err());
    pdp
}

fn code(r: Result<(), policy_core::Reason>) -> Option<Code> {
    r.err().map(|r| r.code)
}

#[test]
fn nothing_serving_takes_any_bundle_valid_now() {
    let next = load("r1", 100, 100, 1000, "");
    assert_eq!(code(next.may_replace(None, 500)), None);
    assert_eq!(
        code(next.may_replace(None, 1000)),
        Some(Code::BundleExpired)
    );
    assert_eq!(
        code(next.may_replace(None, 99)),
        Some(Code::BundleNotYetValid)
    );
}

#[test]
fn an_older_or_a_reused_revision_is_a_rollback() {
    let serving = load("r2", 200, 200, 2000, "");
    let serving = &serving.status().unwrap().facts();
    let older = load("r1", 100, 100, 2000, "");
    assert_eq!(
        code(older.may_replace(Some(serving), 500)),
        Some(Code::BundleRollback)
    );
    let same_revision_other_content = load("r2", 300, 300, 2000, "changed");
    assert_eq!(
        code(same_revision_other_content.may_replace(Some(serving), 500)),
        Some(Code::BundleRollback)
    );
    let same = load("r2", 200, 200, 2000, "");
    assert_eq!(
        code(same.may_replace(Some(serving), 500)),
        None,
        "a reload of the same bundle"
    );
    let newer = load("r3", 300, 300, 2000, "");
    assert_eq!(code(newer.may_replace(Some(serving), 500)), None);
    let newer_expired = load("r3", 300, 300, 400, "");
    assert_eq!(
        code(newer_expired.may_replace(Some(serving), 500)),
        Some(Code::BundleExpired)
    );
}

#[test]
fn a_bundle_that_did_not_load_never_replaces() {
    let broken = Pdp::load_json(br#"{"bundle": "not.a.jws", "trust_keys": []}"#);
    let serving = load("r1", 100, 100, 1000, "");
    let serving = serving.status().unwrap().facts();
    let r = broken.may_replace(Some(&serving), 500);
    assert!(r.is_err());
    assert!(r.err().unwrap().code.as_str().starts_with("bundle."));
}

/// The rule on load statuses (what the JS package and the wasm backend hold) answers as the
/// rule on the verified bundles does.
#[test]
fn the_rule_on_statuses_is_the_rule_on_bundles() {
    let verdict = |serving: Option<&Pdp>, next: &Pdp, now: i64| {
        let doc = policy_core::may_replace_json(
            serving.map(|s| s.status_json()).as_deref(),
            &next.status_json(),
            now,
        );
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        v.pointer("/error/code")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
    };
    let typed = |serving: Option<&Pdp>, next: &Pdp, now: i64| {
        let facts = serving.map(|s| s.status().unwrap().facts());
        code(next.may_replace(facts.as_ref(), now)).map(|c| c.as_str().to_owned())
    };
    let serving = load("r2", 200, 200, 2000, "");
    let cases = [
        load("r1", 100, 100, 2000, ""),
        load("r2", 300, 300, 2000, "changed"),
        load("r2", 200, 200, 2000, ""),
        load("r3", 300, 300, 2000, ""),
        load("r3", 300, 300, 400, ""),
        load("r4", 300, 900, 2000, ""),
    ];
    let mut codes = Vec::new();
    for next in &cases {
        for s in [None, Some(&serving)] {
            assert_eq!(verdict(s, next, 500), typed(s, next, 500));
            codes.push(verdict(s, next, 500));
        }
    }
    // The cases cover every outcome.
    for want in [
        None,
        Some("bundle.rollback"),
        Some("bundle.expired"),
        Some("bundle.not_yet_valid"),
    ] {
        assert!(codes.contains(&want.map(str::to_owned)), "{want:?}");
    }
    let broken = Pdp::load_json(br#"{"bundle": "not.a.jws", "trust_keys": []}"#);
    // A next that did not load: its own load error.
    let load_error = broken.status().err().unwrap().code.as_str().to_owned();
    assert_eq!(verdict(Some(&serving), &broken, 500), Some(load_error));
    // A serving status that is not ok: nothing valid serves.
    assert_eq!(verdict(Some(&broken), &cases[0], 500), None);
}

/// The core on the replacement vectors, by both its typed rule and its rule on statuses.
struct Core {
    statuses: bool,
}

impl testkit::kit::ReplaceHost for Core {
    fn name(&self) -> &str {
        if self.statuses {
            "core (statuses)"
        } else {
            "core"
        }
    }

    fn replace(
        &mut self,
        serving: Option<&[u8]>,
        next: &[u8],
        now: i64,
    ) -> Result<Option<String>, String> {
        let serving = serving.map(Pdp::load_json);
        let next = Pdp::load_json(next);
        if self.statuses {
            let doc = policy_core::may_replace_json(
                serving.as_ref().map(Pdp::status_json).as_deref(),
                &next.status_json(),
                now,
            );
            let v: serde_json::Value = serde_json::from_slice(&doc).map_err(|e| e.to_string())?;
            return Ok(v
                .pointer("/error/code")
                .and_then(|c| c.as_str())
                .map(str::to_owned));
        }
        let facts = serving.and_then(|s| s.status().ok().map(|b| b.facts()));
        Ok(code(next.may_replace(facts.as_ref(), now)).map(|c| c.as_str().to_owned()))
    }
}

#[test]
fn replacement_vectors() {
    let corpus = testkit::kit::ReplaceCorpus::read();
    for statuses in [false, true] {
        testkit::kit::run_replace_corpus(&mut Core { statuses }, &corpus).assert_ok(14);
    }
}
