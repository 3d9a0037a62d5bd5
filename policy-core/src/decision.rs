//! The decision and its audit record, serialized canonically so two hosts can compare bytes.

use crate::json;
use crate::principal::Principal;
use crate::reason::Reason;
use crate::use_once::UseOnce;
use alloc::{string::String, vec::Vec};
use serde_json::{Map, Value, json};

/// Audit record schema version (docs/formats.md, "Audit record"): it changes when a member is
/// removed, renamed or changes meaning, not when one is added.
pub const AUDIT_VERSION: u32 = 1;

/// A settled decision: what the host enforces and audits. Only the core builds one — a
/// [`crate::Pending`] becomes one once its use-once entries are settled — so an allow here has
/// passed every step, replay included.
#[derive(Debug, Clone)]
pub struct Decision {
    pub(crate) allow: bool,
    pub(crate) decision_id: String,
    pub(crate) reasons: Vec<Reason>,
    pub(crate) obligations: Map<String, Value>,
    pub(crate) principal: Option<Principal>,
    pub(crate) use_once: Vec<UseOnce>,
    /// The replay check turned an allow into a deny: the document lists no `use_once` entries
    /// to record, while the audit keeps what was presented.
    pub(crate) replay_denied: bool,
    pub(crate) grant: Option<String>,
    pub(crate) now: i64,
    pub(crate) request: Value,
    pub(crate) bundle: Option<(String, String)>,
    pub(crate) rules: Vec<String>,
}

impl Decision {
    /// A deny for `reason`, as a host answers when it cannot reach the core's pipeline (its own
    /// `host.*` faults). Denies carry nothing to record, so this needs no settling.
    #[must_use]
    pub fn deny(decision_id: String, now: i64, reason: Reason) -> Self {
        let mut d = Decision::blank(decision_id, now, Value::Null);
        d.reasons.push(reason);
        d
    }

    pub(crate) fn blank(decision_id: String, now: i64, request: Value) -> Self {
        Decision {
            allow: false,
            decision_id,
            reasons: Vec::new(),
            obligations: Map::new(),
            principal: None,
            use_once: Vec::new(),
            replay_denied: false,
            grant: None,
            now,
            request,
            bundle: None,
            rules: Vec::new(),
        }
    }

    /// True only when every step passed, the guardrails allowed and replay was settled.
    #[must_use]
    pub fn is_allow(&self) -> bool {
        self.allow
    }

    /// Host-supplied, or derived from the input's hash.
    #[must_use]
    pub fn decision_id(&self) -> &str {
        &self.decision_id
    }

    /// Empty on allow; the ordered causes of a deny.
    #[must_use]
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The first reason's code: what a deny is answered with.
    #[must_use]
    pub fn code(&self) -> Option<crate::Code> {
        self.reasons.first().map(|r| r.code)
    }

    /// What the guardrails require of the enforcement point.
    #[must_use]
    pub fn obligations(&self) -> &Map<String, Value> {
        &self.obligations
    }

    /// Who acted for whom, once proven.
    #[must_use]
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// A minted ephemeral grant (on allow, when asked).
    #[must_use]
    pub fn grant(&self) -> Option<&str> {
        self.grant.as_deref()
    }

    /// The decision time.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Turns this decision into a deny for `reason`, keeping its principal for the audit: what
    /// the replay check does to an allow whose `jti` was used before.
    pub(crate) fn force_deny(&mut self, reason: Reason) {
        self.allow = false;
        self.reasons = alloc::vec![reason];
        self.replay_denied = true;
        self.grant = None;
    }

    /// The decision document (docs/formats.md).
    #[must_use]
    pub fn to_value(&self) -> Value {
        let principal = self.principal.as_ref().map(|p| {
            json!({"agent": p.agent, "user": p.user, "issuer": p.issuer, "chain": p.chain, "key": p.key.thumbprint(), "kind": p.kind})
        });
        let use_once: Vec<Value> = if self.replay_denied {
            Vec::new()
        } else {
            self.use_once
                .iter()
                .map(|u| json!({"kind": u.kind, "jti": u.jti, "exp": u.exp}))
                .collect()
        };
        let mut doc = json!({
            "decision": if self.allow { "allow" } else { "deny" },
            "decision_id": self.decision_id,
            "reasons": self.reasons_value(),
            "obligations": self.obligations,
            "principal": principal.unwrap_or(Value::Null),
            "scopes": self.principal.as_ref().map(|p| p.scopes.as_slice().to_vec()).unwrap_or_default(),
            "authorization_details": self.principal.as_ref().map(|p| p.details.clone()).unwrap_or_default(),
            "use_once": use_once,
            "audit": self.audit_value(),
        });
        if let (Some(grant), Some(obj)) = (&self.grant, doc.as_object_mut()) {
            obj.insert("grant".into(), Value::String(grant.clone()));
        }
        doc
    }

    /// The reasons as the decision document and the audit record list them.
    fn reasons_value(&self) -> Vec<Value> {
        self.reasons
            .iter()
            .map(|r| json!({"code": r.code.as_str(), "message": r.message}))
            .collect()
    }

    fn audit_value(&self) -> Value {
        let p = self.principal.as_ref();
        json!({
            "v": AUDIT_VERSION,
            "decision_id": self.decision_id,
            "time": self.now,
            "outcome": if self.allow { "allow" } else { "deny" },
            "codes": self.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            "reasons": self.reasons_value(),
            "agent": p.map(|p| p.agent.clone()),
            "key": p.map(|p| p.key.thumbprint()),
            "user": p.map(|p| p.user.clone()),
            "issuer": p.map(|p| p.issuer.clone()),
            "chain": p.map(|p| p.chain.clone()).unwrap_or_default(),
            "request": self.request,
            "credentials": {
                "kind": p.map(|p| p.kind),
                "jti": p.map(|p| p.jtis.clone()).unwrap_or_default(),
                "use_once": self.use_once.iter().map(|u| u.jti.clone()).collect::<Vec<_>>(),
            },
            "bundle": self.bundle.as_ref().map(|(revision, digest)| json!({"revision": revision, "digest": digest})),
            "rules": self.rules,
            "obligations": self.obligations,
        })
    }

    /// Canonical JSON bytes.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        json::canonical(&self.to_value()).into_bytes()
    }
}
