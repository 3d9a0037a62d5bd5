//! The per-decision context every pipeline step reads: the bundle, the decision time, the
//! signature verifier, and the cache of signatures already verified.

use crate::bundle::Bundle;
use crate::jose::{Es256Verifier, JoseError, PublicJwk, Unverified, Verified};
use crate::reason::{Code, Reason, reason};
use alloc::collections::BTreeMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Caches successful signature checks of delegation tokens by (key, signed bytes, signature),
/// so the steady state costs one verify per request (the proof's). A hit says only that those
/// exact bytes verify under that key — a fact that never changes — so caching cannot change a
/// decision; the bound only limits memory.
pub(crate) struct SigCache {
    entries: spin::Mutex<BTreeMap<[u8; 32], i64>>,
}

const SIG_CACHE_CAP: usize = 4096;

impl SigCache {
    pub(crate) fn new() -> Self {
        SigCache {
            entries: spin::Mutex::new(BTreeMap::new()),
        }
    }
}

/// Per-decision context shared by the pipeline steps.
pub(crate) struct Ctx<'a> {
    pub bundle: &'a Bundle,
    pub now: i64,
    /// The host's replay store remembers uses since this second (`DecideInput::replay_since`).
    pub replay_since: Option<i64>,
    pub verifier: &'a dyn Es256Verifier,
    pub cache: &'a SigCache,
}

impl Ctx<'_> {
    /// A use-once credential (`what`) issued at `iat` before the host's replay store began
    /// remembering cannot be told from a replay: refused.
    pub(crate) fn check_replay_history(&self, what: &str, iat: i64) -> Result<(), Reason> {
        match self.replay_since {
            Some(since) if iat < since => Err(reason(
                Code::ReplayHistoryUnknown,
                alloc::format!(
                    "{what} issued at {iat}, before the replay store began remembering ({since})"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Verifies through the cache; a hit stands for the verification it remembers.
    pub(crate) fn verify_cached(
        &self,
        jws: Unverified<'_>,
        key: &PublicJwk,
    ) -> Result<Verified, JoseError> {
        let (signed, sig) = jws.signed_parts();
        let mut h = Sha256::new();
        h.update(key.jkt().as_bytes());
        h.update(signed.as_bytes());
        h.update(sig);
        let id: [u8; 32] = h.finalize().into();
        let known = self.cache.entries.lock().contains_key(&id);
        let verified = jws.verify(
            key,
            &Remembered {
                known,
                verifier: self.verifier,
            },
        )?;
        if known {
            return Ok(verified);
        }
        let exp = verified
            .claims()
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(self.now);
        let mut entries = self.cache.entries.lock();
        if entries.len() >= SIG_CACHE_CAP {
            entries.retain(|_, e| *e > self.now);
            if entries.len() >= SIG_CACHE_CAP {
                entries.clear();
            }
        }
        entries.insert(id, exp);
        Ok(verified)
    }
}

/// A verifier that answers from the cache when these exact bytes already verified under this
/// key, and asks the real one otherwise.
struct Remembered<'v> {
    known: bool,
    verifier: &'v dyn Es256Verifier,
}

impl Es256Verifier for Remembered<'_> {
    fn verify(&self, key: &PublicJwk, message: &[u8], signature: &[u8; 64]) -> bool {
        self.known || self.verifier.verify(key, message, signature)
    }
}
