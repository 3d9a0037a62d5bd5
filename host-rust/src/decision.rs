//! A decision as the SDK hands it out: the canonical bytes the engine produced, with accessors.

use serde_json::Value;

use crate::replay::UseOnce;

/// One reason of a deny: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The stable code, e.g. `token.expired`.
    pub code: String,
    /// For people; never compare it.
    pub message: String,
}

/// A decision: `allow` or `deny`, as canonical JSON bytes (docs/formats.md) and parsed.
#[derive(Debug, Clone)]
pub struct Decision {
    bytes: Vec<u8>,
    value: Value,
}

impl Decision {
    /// Wraps decision bytes from an engine. `None` when they are not a JSON object.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Option<Decision> {
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        value.is_object().then_some(Decision { bytes, value })
    }

    /// A settled decision from the native core: its document, built once (no bytes parsed).
    pub(crate) fn from_core(decision: &policy_core::Decision) -> Decision {
        let value = decision.to_value();
        let bytes = policy_core::json::canonical(&value).into_bytes();
        Decision { bytes, value }
    }

    /// A deny made by the host (limit exceeded, store unavailable, engine failure) with the
    /// core's own deny document, so its shape is every other decision's.
    pub(crate) fn host_deny(
        decision_id: &str,
        now: i64,
        code: policy_core::reason::Code,
        message: &str,
    ) -> Decision {
        let reason = policy_core::reason::Reason::new(code, message);
        let bytes = policy_core::Decision::deny(decision_id.into(), now, reason).to_json();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Decision { bytes, value }
    }

    /// Whether the request is allowed. Anything but exactly `"allow"` is a deny.
    #[must_use]
    pub fn is_allow(&self) -> bool {
        self.value.get("decision").and_then(Value::as_str) == Some("allow")
    }

    /// The canonical decision bytes, as the engine produced them.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The canonical decision bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The parsed decision document.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The reasons, first cause first (empty on allow).
    #[must_use]
    pub fn reasons(&self) -> Vec<Reason> {
        self.value
            .get("reasons")
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .map(|r| Reason {
                        code: r
                            .get("code")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        message: r
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first reason's code, if any.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        self.value
            .pointer("/reasons/0/code")
            .and_then(Value::as_str)
    }

    /// The decision id.
    #[must_use]
    pub fn decision_id(&self) -> &str {
        self.value
            .get("decision_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The `jti`s the host records as used (already recorded by [`crate::Decider::decide`] and
    /// [`crate::Decider::decide_http`]).
    #[must_use]
    pub fn use_once(&self) -> Vec<UseOnce> {
        self.value
            .get("use_once")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// The `use_once` list, or `None` when it is present but not a list of entries (the decider
    /// then refuses rather than skip the replay check).
    pub(crate) fn use_once_strict(&self) -> Option<Vec<UseOnce>> {
        match self.value.get("use_once") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(v) => serde_json::from_value(v.clone()).ok(),
        }
    }

    /// The minted ephemeral grant, on an allow that asked for one.
    #[must_use]
    pub fn grant(&self) -> Option<&str> {
        self.value.get("grant").and_then(Value::as_str)
    }

    /// The obligations the guardrails set.
    #[must_use]
    pub fn obligations(&self) -> Option<&Value> {
        self.value.get("obligations")
    }

    /// The audit record, for [`crate::audit::AuditLog::append`].
    #[must_use]
    pub fn audit(&self) -> Option<&Value> {
        self.value.get("audit")
    }
}
