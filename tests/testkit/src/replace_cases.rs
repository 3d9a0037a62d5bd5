//! The cases of `tests/vectors/replace.json`: may a freshly loaded bundle replace the one that
//! serves? Each case names what serves (a load config, or nothing), the next load config, the
//! host's `now`, and the code the refusal must carry (none: it replaces). Every host that
//! reloads bundles (the core, host-rust's `Decider::replace` on both backends, the Envoy
//! filter, the JS package) replays them.

use crate::world::{Keys, NOW, load_config, signed_bundle};
use serde_json::{Value, json};

/// One replacement case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub description: &'static str,
    /// The load config serving, if any.
    pub serving: Option<Value>,
    pub next: Value,
    pub now: i64,
    /// The refusal's code; `None`: `next` replaces `serving`.
    pub expect: Option<&'static str>,
}

/// A load config of the vectors' bundle with `revision`, `iat`, `nbf`, `exp` (relative to NOW)
/// and a note that changes its content.
fn bundle(k: &Keys, revision: &str, iat: i64, nbf: i64, exp: i64, note: &str) -> Value {
    let b = signed_bundle(k, |b| {
        b["revision"] = json!(revision);
        b["iat"] = json!(NOW + iat);
        b["nbf"] = json!(NOW + nbf);
        b["exp"] = json!(NOW + exp);
        b["data"]["note"] = json!(note);
    });
    load_config(Some(&b), &[&k.root], None)
}

/// Every case.
pub fn all(k: &Keys) -> Vec<Case> {
    let serving = bundle(k, "r2", -3600, -3600, 86_400, "");
    let case = |name, description, serving: Option<&Value>, next, expect| Case {
        name,
        description,
        serving: serving.cloned(),
        next,
        now: NOW,
        expect,
    };
    let s = Some(&serving);
    vec![
        case(
            "first-load",
            "nothing serves; a bundle valid now loads",
            None,
            serving.clone(),
            None,
        ),
        case(
            "first-load-expired",
            "nothing serves; an expired bundle is refused (it would deny everything)",
            None,
            bundle(k, "r2", -7200, -7200, -1, ""),
            Some("bundle.expired"),
        ),
        case(
            "expires-now",
            "a bundle whose exp is now has expired",
            None,
            bundle(k, "r2", -7200, -7200, 0, ""),
            Some("bundle.expired"),
        ),
        case(
            "first-load-not-yet-valid",
            "nothing serves; a bundle valid only from later is refused",
            None,
            bundle(k, "r2", -60, 60, 86_400, ""),
            Some("bundle.not_yet_valid"),
        ),
        case(
            "newer",
            "a bundle issued later replaces the serving one",
            s,
            bundle(k, "r3", -60, -60, 86_400, ""),
            None,
        ),
        case(
            "same-again",
            "the serving bundle again: a reload that changes nothing",
            s,
            serving.clone(),
            None,
        ),
        case(
            "older",
            "a bundle issued before the serving one is a rollback (say, one in which a since-revoked agent was active)",
            s,
            bundle(k, "r1", -7200, -7200, 86_400, ""),
            Some("bundle.rollback"),
        ),
        case(
            "same-revision-other-content",
            "the serving revision with other content is a rollback: a new bundle needs a new revision",
            s,
            bundle(k, "r2", -60, -60, 86_400, "changed"),
            Some("bundle.rollback"),
        ),
        case(
            "same-iat-new-revision",
            "issued in the same second with a new revision replaces",
            s,
            bundle(k, "r2b", -3600, -3600, 86_400, "changed"),
            None,
        ),
        case(
            "newer-but-expired",
            "a newer bundle that has expired is refused",
            s,
            bundle(k, "r3", -60, -60, -1, ""),
            Some("bundle.expired"),
        ),
        case(
            "newer-not-yet-valid",
            "a newer bundle valid only from later is refused",
            s,
            bundle(k, "r3", -60, 60, 86_400, ""),
            Some("bundle.not_yet_valid"),
        ),
        case(
            "next-untrusted",
            "a bundle that does not verify never replaces: its load error",
            s,
            {
                let mut c = bundle(k, "r3", -60, -60, 86_400, "");
                c["trust_keys"] = json!([crate::world::public(&k.rogue)]);
                c
            },
            Some("bundle.untrusted_key"),
        ),
        case(
            "next-malformed",
            "a load config whose bundle is not a JWS",
            s,
            load_config(Some("not-a-jws"), &[&k.root], None),
            Some("bundle.malformed"),
        ),
        case(
            "serving-failed",
            "what serves did not load (nothing valid serves): any bundle valid now replaces it, even an older one",
            Some(&load_config(Some("not-a-jws"), &[&k.root], None)),
            bundle(k, "r1", -7200, -7200, 86_400, ""),
            None,
        ),
    ]
}
