//! Keyed hashing of sensitive audit fields, as Vault's audit devices do.
//!
//! A field named by the operator (a JSON pointer into the decision's `audit` object) is replaced
//! by `hmac-sha256:<hex>` of its value under a key only the operator holds. The log still lets
//! one ask "did user X do this?" (hash X with the key and search, see [`Redactor::hash`]) without
//! the log itself holding X.
//!
//! The key is the operator's; [`Redactor::from_key_file`] reads it from a key file (hex, the
//! format [`super::read_key_file`] reads for the chain key too). It must be another key than the
//! chain key ([`super::ChainKey`]): under one key for both, a caller who picks a redacted value
//! learns the chain link of a line of its choosing.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::canonical;

/// The prefix of a redacted value.
pub const PREFIX: &str = "hmac-sha256:";

/// Replaces chosen fields of audit records by their keyed hash.
#[derive(Clone)]
pub struct Redactor {
    key: Vec<u8>,
    pointers: Vec<String>,
}

impl core::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key.
        f.debug_struct("Redactor")
            .field("pointers", &self.pointers)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Hashes the fields at `pointers` (RFC 6901 JSON pointers into the audit object, e.g.
    /// `/principal/user`) with `key`.
    #[must_use]
    pub fn new(
        key: impl Into<Vec<u8>>,
        pointers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Redactor {
            key: key.into(),
            pointers: pointers.into_iter().map(Into::into).collect(),
        }
    }

    /// Hashes the fields at `pointers` with the key in the key file at `path` (hex, at least
    /// 32 bytes: [`super::read_key_file`]).
    ///
    /// # Errors
    /// As [`super::read_key_file`].
    pub fn from_key_file(
        path: impl AsRef<std::path::Path>,
        pointers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, super::AuditError> {
        Ok(Redactor::new(super::read_key_file(path)?, pointers))
    }

    /// The key (to refuse it as the chain key too).
    pub(super) fn key(&self) -> &[u8] {
        &self.key
    }

    /// The redacted form of one value: strings are hashed as their UTF-8 bytes, anything else as
    /// its canonical JSON.
    #[must_use]
    pub fn hash(&self, value: &Value) -> String {
        let bytes = match value {
            Value::String(s) => s.clone().into_bytes(),
            other => canonical::to_string(other).into_bytes(),
        };
        // HMAC takes keys of any length; the error arm cannot happen for Hmac<Sha256>.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return format!("{PREFIX}invalid-key");
        };
        mac.update(&bytes);
        format!("{PREFIX}{}", super::hex(&mac.finalize().into_bytes()))
    }

    /// Redacts the configured fields of `record` in place. Fields that are absent stay absent.
    ///
    /// A message can repeat any value the record holds (a user id in "user bob may not
    /// delegate", a guardrail's own `sprintf`), so once any field is redacted, every reason's
    /// `message` and the message of every `deny` rule in `rules` are hashed too: the codes and
    /// rule names stay readable, the text does not leak what the pointers hide.
    pub fn apply(&self, record: &mut Value) {
        if self.pointers.is_empty() {
            return;
        }
        for pointer in &self.pointers {
            if let Some(slot) = record.pointer_mut(pointer)
                && !slot.is_null()
            {
                let hashed = self.hash(slot);
                *slot = Value::String(hashed);
            }
        }
        if let Some(Value::Array(reasons)) = record.get_mut("reasons") {
            for message in reasons.iter_mut().filter_map(|r| r.get_mut("message")) {
                if !message.is_null() {
                    *message = Value::String(self.hash(message));
                }
            }
        }
        if let Some(Value::Array(rules)) = record.get_mut("rules") {
            for rule in rules.iter_mut() {
                let Some((name, message)) = rule.as_str().and_then(|r| r.split_once(": ")) else {
                    continue;
                };
                *rule = Value::String(format!(
                    "{name}: {}",
                    self.hash(&Value::String(message.to_string()))
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_that_could_repeat_a_redacted_value_are_hashed_and_codes_kept() {
        let r = Redactor::new(b"k1".to_vec(), ["/user"]);
        let mut rec = serde_json::json!({
            "user": "bob",
            "codes": ["policy.denied"],
            "reasons": [{"code": "policy.denied", "message": "bob may not read secrets"}],
            "rules": ["data.mandate.deny: bob may not read secrets", "data.mandate.allow"],
        });
        r.apply(&mut rec);
        let text = rec.to_string();
        assert!(!text.contains("bob"), "{text}");
        assert_eq!(rec.pointer("/reasons/0/code").unwrap(), "policy.denied");
        assert_eq!(
            rec.pointer("/reasons/0/message").unwrap().as_str().unwrap(),
            r.hash(&Value::String("bob may not read secrets".into()))
        );
        let rule = rec.pointer("/rules/0").unwrap().as_str().unwrap();
        assert!(
            rule.starts_with("data.mandate.deny: hmac-sha256:"),
            "{rule}"
        );
        assert_eq!(rec.pointer("/rules/1").unwrap(), "data.mandate.allow");
        // Nothing configured: nothing touched.
        let mut plain = serde_json::json!({"reasons": [{"code": "c", "message": "m"}]});
        Redactor::new(b"k1".to_vec(), Vec::<String>::new()).apply(&mut plain);
        assert_eq!(plain.pointer("/reasons/0/message").unwrap(), "m");
    }

    #[test]
    fn hashes_named_fields_with_the_key() {
        let r = Redactor::new(b"k1".to_vec(), ["/principal/user", "/missing"]);
        let mut rec = serde_json::json!({"principal": {"user": "alice", "agent": "agent:a"}});
        r.apply(&mut rec);
        let user = rec
            .pointer("/principal/user")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        assert!(user.starts_with(PREFIX));
        assert_eq!(user, r.hash(&Value::String("alice".into())));
        assert_ne!(
            user,
            Redactor::new(b"k2".to_vec(), ["/x"]).hash(&Value::String("alice".into()))
        );
        assert_eq!(rec.pointer("/principal/agent").unwrap(), "agent:a");
        assert!(rec.pointer("/missing").is_none());
    }
}
