//! The one replacement rule (`may_replace`): which verified bundle may replace the serving one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mandate_core::{Code, Pdp, PrivateJwk, mint};
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

fn code(r: Result<(), mandate_core::Reason>) -> Option<Code> {
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
    let serving = serving.status().unwrap();
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
    let r = broken.may_replace(serving.status().ok(), 500);
    assert!(r.is_err());
    assert!(r.err().unwrap().code.as_str().starts_with("bundle."));
}
