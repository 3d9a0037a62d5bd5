//! Keyed hashing of sensitive audit fields, as Vault's audit devices do.
//!
//! A field named by the operator (a JSON pointer into the decision's `audit` object) is replaced
//! by `hmac-sha256:<hex>` of its value under a key only the operator holds. The log still lets
//! one ask "did user X do this?" (hash X with the key and search, see [`Redactor::hash`]) without
//! the log itself holding X.

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
    pub fn apply(&self, record: &mut Value) {
        for pointer in &self.pointers {
            if let Some(slot) = record.pointer_mut(pointer)
                && !slot.is_null()
            {
                let hashed = self.hash(slot);
                *slot = Value::String(hashed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
