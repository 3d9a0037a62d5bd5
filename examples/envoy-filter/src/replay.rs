//! The use-once `jti` store, on Envoy's shared data.
//!
//! Shared data is one key-value map per VM id in an Envoy process, shared by every worker thread;
//! it is not shared between Envoy processes (or pods). Envoy's CAS only guards keys that exist (a
//! `set` with CAS on a missing key always succeeds), so `jti`s are not keys of their own: they are
//! spread over a fixed number of shard keys, created up front, and each shard is rewritten with
//! CAS, retried on conflict. A shard's value lists `exp jti` records; expired ones are dropped on
//! every write, which bounds its size by the traffic of one proof lifetime.

use proxy_wasm::types::Status;

use crate::config::ReplayConfig;
use crate::response::UseOnce;

/// How often a CAS conflict is retried before the store is reported unavailable.
const CAS_ATTEMPTS: usize = 32;

/// Envoy's shared data, or a stand-in in tests.
pub trait SharedData {
    /// The value and its CAS token, `(None, None)` when absent.
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status>;
    /// Writes `value` if the key's CAS token is still `cas` (always, when `cas` is `None`).
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status>;
}

/// Envoy's shared data through the proxy-wasm host calls.
#[derive(Debug, Clone, Copy)]
pub struct EnvoySharedData;

impl SharedData for EnvoySharedData {
    fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
        proxy_wasm::hostcalls::get_shared_data(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
        proxy_wasm::hostcalls::set_shared_data(key, Some(value), cas)
    }
}

/// Why the store could not answer; the filter then decides fail-closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// CAS kept failing (heavy contention on one shard).
    Contention,
    /// The host refused a call.
    Host(Status),
    /// A shard holds bytes this filter did not write (another filter with the same key prefix?).
    Corrupt,
}

/// FNV-1a: stable across builds and processes, unlike std's randomly seeded hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The shard key holding `jti`.
pub fn shard_key(config: &ReplayConfig, jti: &str) -> String {
    let shard = fnv1a(jti.as_bytes()) % u64::from(config.shards.max(1));
    format!("{}{shard}", config.key_prefix)
}

/// Creates every shard key that does not exist yet, so later updates are all guarded by CAS.
pub fn ensure_shards(store: &impl SharedData, config: &ReplayConfig) -> Result<(), StoreError> {
    for shard in 0..config.shards {
        let key = format!("{}{shard}", config.key_prefix);
        if store.get(&key).map_err(StoreError::Host)?.0.is_none() {
            store.set(&key, b"", None).map_err(StoreError::Host)?;
        }
    }
    Ok(())
}

/// The second since which this store has remembered every use: kept in the shared data beside
/// the shards (`<prefix>since`), written by the first worker that finds it missing. Shared data
/// lives as long as the Envoy process, so after a restart the store is empty and this is the
/// restart's time; a proof or grant issued before it is then `replay.history_unknown` (its
/// uses before the restart are gone). A VM reload within the process keeps both.
pub fn remembered_since(
    store: &impl SharedData,
    config: &ReplayConfig,
    now: u64,
) -> Result<i64, StoreError> {
    let key = format!("{}since", config.key_prefix);
    if let Some(since) = parse_since(store.get(&key).map_err(StoreError::Host)?.0)? {
        return Ok(since);
    }
    store
        .set(&key, now.to_string().as_bytes(), None)
        .map_err(StoreError::Host)?;
    // Another worker may have written its own second meanwhile: every one of them is at or
    // after the store's start, so whichever is read back is safe.
    parse_since(store.get(&key).map_err(StoreError::Host)?.0)?.ok_or(StoreError::Corrupt)
}

fn parse_since(value: Option<Vec<u8>>) -> Result<Option<i64>, StoreError> {
    let Some(bytes) = value else { return Ok(None) };
    core::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(Some)
        .ok_or(StoreError::Corrupt)
}

/// One shard's records: `<exp> <jti length> <jti>\n` each, so a `jti` may hold any byte.
fn parse(mut bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let (exp, rest) = split_number(bytes)?;
        let (len, rest) = split_number(rest)?;
        let len = usize::try_from(len).ok()?;
        let jti = rest.get(..len)?;
        if rest.get(len) != Some(&b'\n') {
            return None;
        }
        records.push((exp, jti));
        bytes = rest.get(len + 1..)?;
    }
    Some(records)
}

fn split_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let space = bytes.iter().position(|b| *b == b' ')?;
    let digits = core::str::from_utf8(bytes.get(..space)?).ok()?;
    Some((digits.parse().ok()?, bytes.get(space + 1..)?))
}

fn push_record(out: &mut Vec<u8>, exp: u64, jti: &[u8]) {
    out.extend_from_slice(format!("{exp} {} ", jti.len()).as_bytes());
    out.extend_from_slice(jti);
    out.push(b'\n');
}

/// Records `jti` as used unless it already is. `Ok(true)`: it was already recorded (a replay).
pub fn check_and_record(
    store: &impl SharedData,
    config: &ReplayConfig,
    entry: &UseOnce,
    now: u64,
) -> Result<bool, StoreError> {
    let key = shard_key(config, &entry.jti);
    for _ in 0..CAS_ATTEMPTS {
        let (value, cas) = store.get(&key).map_err(StoreError::Host)?;
        let value = value.unwrap_or_default();
        let records = parse(&value).ok_or(StoreError::Corrupt)?;
        if records
            .iter()
            .any(|(exp, jti)| *exp >= now && *jti == entry.jti.as_bytes())
        {
            return Ok(true);
        }
        let mut next = Vec::with_capacity(value.len() + entry.jti.len() + 24);
        for (exp, jti) in records.into_iter().filter(|(exp, _)| *exp >= now) {
            push_record(&mut next, exp, jti);
        }
        push_record(&mut next, entry.exp, entry.jti.as_bytes());
        match store.set(&key, &next, cas) {
            Ok(()) => return Ok(false),
            Err(Status::CasMismatch) => continue,
            Err(status) => return Err(StoreError::Host(status)),
        }
    }
    Err(StoreError::Contention)
}

/// Checks and records every entry; returns the `jti`s that were already recorded.
pub fn record_all(
    store: &impl SharedData,
    config: &ReplayConfig,
    entries: &[UseOnce],
    now: u64,
) -> Result<Vec<String>, StoreError> {
    let mut replayed = Vec::new();
    for entry in entries {
        if check_and_record(store, config, entry, now)? {
            replayed.push(entry.jti.clone());
        }
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::collections::HashMap;

    /// Envoy's semantics: CAS tokens grow on every write; CAS is only checked on existing keys.
    #[derive(Default)]
    struct Fake {
        map: RefCell<HashMap<String, (Vec<u8>, u32)>>,
        next: Cell<u32>,
        /// Writes to make fail with a CAS mismatch, as if another worker had just written.
        conflicts: Cell<usize>,
    }

    impl SharedData for Fake {
        fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
            Ok(self
                .map
                .borrow()
                .get(key)
                .map_or((None, None), |(v, c)| (Some(v.clone()), Some(*c))))
        }

        fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
            if self.conflicts.get() > 0 {
                self.conflicts.set(self.conflicts.get() - 1);
                return Err(Status::CasMismatch);
            }
            let mut map = self.map.borrow_mut();
            if let (Some(cas), Some((_, current))) = (cas, map.get(key))
                && cas != *current
            {
                return Err(Status::CasMismatch);
            }
            self.next.set(self.next.get() + 1);
            map.insert(key.to_owned(), (value.to_vec(), self.next.get()));
            Ok(())
        }
    }

    fn config() -> ReplayConfig {
        ReplayConfig {
            shards: 4,
            key_prefix: "t.".into(),
        }
    }

    fn once(jti: &str, exp: u64) -> UseOnce {
        UseOnce {
            jti: jti.into(),
            exp,
        }
    }

    #[test]
    fn second_use_is_a_replay_until_exp() {
        let store = Fake::default();
        assert_eq!(ensure_shards(&store, &config()), Ok(()));
        assert_eq!(store.map.borrow().len(), 4);
        assert_eq!(
            check_and_record(&store, &config(), &once("a", 100), 50),
            Ok(false)
        );
        assert_eq!(
            check_and_record(&store, &config(), &once("a", 100), 60),
            Ok(true)
        );
        assert_eq!(
            check_and_record(&store, &config(), &once("b", 100), 60),
            Ok(false)
        );
        // Past its exp the record is gone (the core rejects the stale proof by then anyway).
        assert_eq!(
            check_and_record(&store, &config(), &once("a", 200), 101),
            Ok(false)
        );
    }

    #[test]
    fn odd_jtis_round_trip_and_expired_records_are_pruned() {
        let store = Fake::default();
        let cfg = ReplayConfig {
            shards: 1,
            key_prefix: "t.".into(),
        };
        let odd = "x 3 y\nz";
        assert_eq!(check_and_record(&store, &cfg, &once(odd, 10), 0), Ok(false));
        assert_eq!(check_and_record(&store, &cfg, &once("k", 50), 5), Ok(false));
        assert_eq!(check_and_record(&store, &cfg, &once(odd, 10), 5), Ok(true));
        assert_eq!(
            check_and_record(&store, &cfg, &once("m", 50), 20),
            Ok(false)
        );
        let value = store
            .map
            .borrow()
            .get("t.0")
            .map(|(v, _)| v.clone())
            .unwrap_or_default();
        assert_eq!(value, b"50 1 k\n50 1 m\n");
    }

    #[test]
    fn cas_conflicts_are_retried_then_reported() {
        let store = Fake::default();
        store.conflicts.set(3);
        assert_eq!(
            check_and_record(&store, &config(), &once("a", 100), 0),
            Ok(false)
        );
        store.conflicts.set(CAS_ATTEMPTS);
        assert_eq!(
            check_and_record(&store, &config(), &once("b", 100), 0),
            Err(StoreError::Contention)
        );
    }

    #[test]
    fn corrupt_shards_fail_closed() {
        let store = Fake::default();
        let cfg = ReplayConfig {
            shards: 1,
            key_prefix: "t.".into(),
        };
        assert_eq!(store.set("t.0", b"garbage", None), Ok(()));
        assert_eq!(
            check_and_record(&store, &cfg, &once("a", 1), 0),
            Err(StoreError::Corrupt)
        );
    }

    #[test]
    fn the_store_remembers_since_its_first_configure() {
        let store = Fake::default();
        assert_eq!(remembered_since(&store, &config(), 100), Ok(100));
        // A later configure (another worker, a VM reload) reads the same second.
        assert_eq!(remembered_since(&store, &config(), 250), Ok(100));
        store
            .set(&format!("{}since", config().key_prefix), b"soon", None)
            .unwrap();
        assert_eq!(
            remembered_since(&store, &config(), 300),
            Err(StoreError::Corrupt)
        );
    }

    #[test]
    fn record_all_lists_replays() {
        let store = Fake::default();
        assert_eq!(
            record_all(&store, &config(), &[once("a", 9), once("b", 9)], 0),
            Ok(vec![])
        );
        assert_eq!(
            record_all(&store, &config(), &[once("c", 9), once("b", 9)], 0),
            Ok(vec!["b".to_owned()])
        );
    }
}
