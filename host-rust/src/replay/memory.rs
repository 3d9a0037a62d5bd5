//! An in-process replay store: bounded, entries forgotten once their `exp` has passed.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use super::{ReplayError, ReplayStore, UseOnce, validate};

/// A replay store for one process. Entries are keyed by kind and `jti` and remembered through
/// the second `max(exp, now)`, judged against the `now` the host passes in (no clock is read
/// here). At most `capacity` live entries: every call first forgets the entries whose second has
/// passed, and when the new entries of a call do not fit, the call fails (the decision denies)
/// and records none of them, rather than forgetting a live `jti`, which would let it be replayed.
#[derive(Debug)]
pub struct MemoryReplayStore {
    capacity: usize,
    inner: Mutex<Inner>,
    /// Since when it remembers, when the host said ([`MemoryReplayStore::remembering_since`]).
    since: Option<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Store key (`<kind>:<jti>`) to the last second it is remembered through.
    by_key: HashMap<String, i64>,
    by_until: BTreeSet<(i64, String)>,
}

impl Inner {
    /// Forgets entries remembered only through a second before `now`. A `now` earlier than a
    /// previous one (a clock stepped back) forgets nothing more.
    fn purge(&mut self, now: i64) {
        while let Some((until, _)) = self.by_until.first() {
            if *until >= now {
                break;
            }
            if let Some((_, key)) = self.by_until.pop_first() {
                self.by_key.remove(&key);
            }
        }
    }
}

/// An entry as kept: its store key (`<kind>:<jti>`) and the last second it is remembered through.
pub(crate) type Kept = (String, i64);

/// The default capacity: 1,000,000 live `jti`s (roughly 100 MB at worst).
pub const DEFAULT_CAPACITY: usize = 1_000_000;

impl MemoryReplayStore {
    /// A store holding at most `capacity` live entries.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            capacity,
            inner: Mutex::new(Inner::default()),
            since: None,
        }
    }

    /// Says the store began remembering at `now` (its process's start): decisions through it
    /// then refuse proofs and grants issued before, whose earlier uses it cannot know
    /// ([`ReplayStore::remembers_since`]). A host whose process restarts sets it; a store
    /// that outlives restarts ([`super::FileReplayStore`], Redis with persistence) needs none.
    #[must_use]
    pub fn remembering_since(mut self, now: i64) -> Self {
        self.since = Some(now);
        self
    }

    /// How many entries are live (not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .len()
    }

    /// Whether no entry is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record_now(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        self.record_keys(entries, now).map(|(replayed, _)| replayed)
    }

    /// Records `entries`; answers the `jti`s already recorded and the new entries as written
    /// (store key, last second remembered), for a store that also journals them.
    pub(crate) fn record_keys(
        &self,
        entries: &[UseOnce],
        now: i64,
    ) -> Result<(Vec<String>, Vec<Kept>), ReplayError> {
        validate(entries, now)?;
        // A poisoned lock means a panic elsewhere mid-update; the maps are still consistent
        // (each update is two inserts that cannot panic between them), so keep serving.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.purge(now);
        let mut replayed = Vec::new();
        let mut fresh: Vec<Kept> = Vec::new();
        for entry in entries {
            let key = entry.store_key()?;
            if inner.by_key.contains_key(&key) || fresh.iter().any(|(k, _)| *k == key) {
                replayed.push(entry.jti.clone());
            } else {
                fresh.push((key, entry.remember_until(now)?));
            }
        }
        // All or none of the new entries: a call that does not fit records nothing.
        // (A call with nothing new records nothing, so it fits even in a store that is over its
        // capacity, as one restored from a journal can be.)
        if !fresh.is_empty() && inner.by_key.len().saturating_add(fresh.len()) > self.capacity {
            return Err(ReplayError::Full(inner.by_key.len()));
        }
        for (key, until) in &fresh {
            inner.by_until.insert((*until, key.clone()));
            inner.by_key.insert(key.clone(), *until);
        }
        Ok((replayed, fresh))
    }

    /// Puts back an entry read from a journal, whatever the capacity (a live entry is never
    /// dropped; a store over capacity refuses new entries until enough expire).
    pub(crate) fn restore(&self, key: String, until: i64) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.by_key.get(&key).copied() {
            if old >= until {
                return;
            }
            inner.by_until.remove(&(old, key.clone()));
        }
        inner.by_until.insert((until, key.clone()));
        inner.by_key.insert(key, until);
    }

    /// Every entry remembered through `now` or later, as (store key, last second).
    pub(crate) fn live(&self, now: i64) -> Vec<Kept> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.purge(now);
        inner
            .by_until
            .iter()
            .map(|(until, key)| (key.clone(), *until))
            .collect()
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

    fn remembers_since(&self) -> Option<i64> {
        self.since
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
    fn a_call_that_does_not_fit_records_nothing() {
        let s = MemoryReplayStore::new(2);
        s.record_now(&[e("a", 100)], 0).unwrap();
        assert!(matches!(
            s.record_now(&[e("b", 100), e("c", 100)], 0),
            Err(ReplayError::Full(1))
        ));
        assert_eq!(s.len(), 1);
        assert!(s.record_now(&[e("b", 100)], 0).unwrap().is_empty());
    }

    #[test]
    fn kinds_do_not_collide_and_an_expired_exp_is_kept_for_the_current_second() {
        let s = MemoryReplayStore::new(10);
        let grant = UseOnce {
            kind: "grant".into(),
            ..e("a", 100)
        };
        assert!(s.record_now(&[e("a", 100)], 0).unwrap().is_empty());
        assert!(s.record_now(&[grant], 0).unwrap().is_empty());
        assert!(s.record_now(&[e("old", 10)], 50).unwrap().is_empty());
        assert_eq!(s.record_now(&[e("old", 10)], 50).unwrap(), vec!["old"]);
        assert!(s.record_now(&[e("old", 10)], 51).unwrap().is_empty());
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
