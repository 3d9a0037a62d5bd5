//! An in-process replay store: bounded, entries forgotten once their `exp` has passed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use super::{ReplayError, ReplayStore, UseOnce};

/// A replay store for one process. Entries expire at their `exp`, judged against the `now` the
/// host passes in (no clock is read here). At most `capacity` live entries: when full, recording
/// fails (and the decision denies) rather than forgetting a live `jti`, which would let it be
/// replayed.
#[derive(Debug)]
pub struct MemoryReplayStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_jti: HashMap<String, i64>,
    by_exp: BTreeSet<(i64, String)>,
}

impl Inner {
    /// Forgets entries whose `exp` is before `now`.
    fn purge(&mut self, now: i64) {
        while let Some((exp, _)) = self.by_exp.first() {
            if *exp >= now {
                break;
            }
            if let Some((_, jti)) = self.by_exp.pop_first() {
                self.by_jti.remove(&jti);
            }
        }
    }
}

/// The default capacity: 1,000,000 live `jti`s (roughly 100 MB at worst).
pub const DEFAULT_CAPACITY: usize = 1_000_000;

impl MemoryReplayStore {
    /// A store holding at most `capacity` live entries.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many entries are live (not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_jti
            .len()
    }

    /// Whether no entry is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record_now(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        // A poisoned lock means a panic elsewhere mid-update; the maps are still consistent
        // (each update is two inserts that cannot panic between them), so keep serving.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.purge(now);
        let mut replayed = Vec::new();
        for entry in entries {
            if inner.by_jti.contains_key(&entry.jti) {
                replayed.push(entry.jti.clone());
                continue;
            }
            if inner.by_jti.len() >= self.capacity {
                return Err(ReplayError::Full(inner.by_jti.len()));
            }
            inner.by_jti.insert(entry.jti.clone(), entry.exp);
            inner.by_exp.insert((entry.exp, entry.jti.clone()));
        }
        Ok(replayed)
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(DEFAULT_CAPACITY)
    }
}

impl ReplayStore for MemoryReplayStore {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        self.record_now(entries, now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn e(jti: &str, exp: i64) -> UseOnce {
        UseOnce {
            jti: jti.into(),
            exp,
            kind: "proof".into(),
        }
    }

    #[test]
    fn second_use_is_a_replay_until_exp() {
        let s = MemoryReplayStore::new(10);
        assert!(s.record_now(&[e("a", 100)], 50).unwrap().is_empty());
        assert_eq!(
            s.record_now(&[e("a", 100)], 60).unwrap(),
            vec!["a".to_string()]
        );
        assert_eq!(
            s.record_now(&[e("a", 100)], 100).unwrap(),
            vec!["a".to_string()]
        );
        // After exp the entry is forgotten (the token itself is expired by then).
        assert!(s.record_now(&[e("a", 200)], 101).unwrap().is_empty());
    }

    #[test]
    fn full_store_refuses_instead_of_forgetting() {
        let s = MemoryReplayStore::new(2);
        s.record_now(&[e("a", 100), e("b", 100)], 0).unwrap();
        assert!(matches!(
            s.record_now(&[e("c", 100)], 0),
            Err(ReplayError::Full(2))
        ));
        // Still a replay, not forgotten.
        assert_eq!(
            s.record_now(&[e("a", 100)], 0).unwrap(),
            vec!["a".to_string()]
        );
        // Expiry frees room.
        assert!(s.record_now(&[e("c", 300)], 101).unwrap().is_empty());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn duplicate_within_one_call_is_a_replay() {
        let s = MemoryReplayStore::new(10);
        assert_eq!(
            s.record_now(&[e("a", 100), e("a", 100)], 0).unwrap(),
            vec!["a".to_string()]
        );
    }
}
