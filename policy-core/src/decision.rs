//! The decision and its audit record, serialized canonically so two hosts can compare bytes.

use crate::json;
use crate::principal::Principal;
use crate::reason::Reason;
use crate::use_once::UseOnce;
use alloc::{string::String, vec::Vec};
use serde_json::{Map, Value, json};

/// Audit record schema version.
pub const AUDIT_VERSION: u32 = 1;

/// A decision, before serialization.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// True only when every check passed and the guardrails allowed.
    pub allow: bool,
    /// Host-supplied, or derived from the input's hash.
    pub decision_id: String,
    /// Empty on allow; ordered causes on deny.
    pub reasons: Vec<Reason>,
    /// What the guardrails require of the enforcement point.
    pub obligations: Map<String, Value>,
    /// Who acted for whom, once proven.
    pub principal: Option<Principal>,
    /// `jti`s the host must record as used (on allow only).
    pub use_once: Vec<UseOnce>,
    /// A minted ephemeral grant.
    pub grant: Option<String>,
    /// The decision time.
    pub now: i64,
    /// The request, as audited.
    pub request: Value,
    /// Bundle revision and digest.
    pub bundle: Option<(String, String)>,
    /// Which rules decided.
    pub rules: Vec<String>,
}

impl Decision {
    /// A deny for `reason`.
    #[must_use]
    pub fn deny(decision_id: String, now: i64, reason: Reason) -> Self {
        Decision {
            decision_id,
            now,
            reasons: alloc::vec![reason],
            request: Value::Null,
            ..Decision::default()
        }
    }

    /// The decision document (docs/formats.md).
    #[must_use]
    pub fn to_value(&self) -> Value {
        let principal = self.principal.as_ref().map(|p| {
            json!({"agent": p.agent, "user": p.user, "issuer": p.issuer, "chain": p.chain, "key": p.key.thumbprint(), "kind": p.kind})
        });
        let use_once: Vec<Value> = self
            .use_once
            .iter()
            .map(|u| json!({"kind": u.kind, "jti": u.jti, "exp": u.exp}))
            .collect();
        let mut doc = json!({
            "decision": if self.allow { "allow" } else { "deny" },
            "decision_id": self.decision_id,
            "reasons": self.reasons.iter().map(|r| json!({"code": r.code.as_str(), "message": r.message})).collect::<Vec<_>>(),
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

    fn audit_value(&self) -> Value {
        let p = self.principal.as_ref();
        json!({
            "v": AUDIT_VERSION,
            "decision_id": self.decision_id,
            "time": self.now,
            "outcome": if self.allow { "allow" } else { "deny" },
            "codes": self.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
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
