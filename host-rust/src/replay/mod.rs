//! Use-once `jti`s: the replay store a decision point consults after every allow.
//!
//! A decision lists in `use_once` every `jti` (proof, grant) the host must record as used until
//! its `exp`. [`crate::Decider::decide`] hands them to a [`ReplayStore`] on every allow; when any
//! was already recorded it asks the core to turn the decision into a `replay.detected` deny, and
//! when the store cannot answer it denies with `replay.store_unavailable`. There is no fail-open
//! switch: a decision point that cannot tell a replay from a first use refuses.
//!
//! Three stores: [`MemoryReplayStore`] (one process, bounded, forgotten on restart),
//! [`FileReplayStore`] (the same, journaled to a file and synced before each answer, so a
//! restart forgets nothing) and, with the `redis` feature, [`RedisReplayStore`] (many nodes; one
//! `SET key 1 NX PX ttl` per `jti`, so it also works on Redis Cluster, where multi-key commands
//! would cross slots). A Redis that does not persist (no AOF, or `appendfsync` other than
//! `always`) forgets the entries of its last moments when it restarts, exactly as a memory
//! store does.

mod any;
mod file;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use core::future::Future;

use policy_core::reason::Code;

pub use any::AnyStore;
pub use file::FileReplayStore;
pub use memory::{DEFAULT_CAPACITY, MemoryReplayStore};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_PREFIX, RedisReplayStore};

/// One `jti` a decision asks the host to record, from the decision's `use_once` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct UseOnce {
    /// The token or proof id.
    pub jti: String,
    /// Unix seconds until which the `jti` must be remembered.
    pub exp: i64,
    /// What it identifies (`proof`, `grant`, …). Part of the store key: a proof and a grant
    /// with the same `jti` are different entries.
    #[serde(default)]
    pub kind: String,
}

/// The longest an entry may need remembering, in seconds (100 Julian years). An entry whose
/// `exp` lies further ahead is refused ([`ReplayError::Refused`]) rather than remembered for
/// less, which could let it be replayed; every store, in every language, agrees on this bound.
pub const MAX_TTL_SECONDS: i64 = 3_155_760_000;

impl UseOnce {
    /// The key the entry is stored under (after a store's own prefix): `<kind>:<jti>`. Injective
    /// because a kind never contains `:`.
    ///
    /// # Errors
    /// [`ReplayError::Refused`] when the kind contains `:`.
    pub fn store_key(&self) -> Result<String, ReplayError> {
        if self.kind.contains(':') {
            return Err(ReplayError::Refused(format!(
                "use_once kind {:?} contains ':'",
                self.kind
            )));
        }
        Ok(format!("{}:{}", self.kind, self.jti))
    }

    /// For how many seconds, from `now`, the entry is remembered: through the whole second of
    /// `exp` (the core still accepts at `now == exp`), and never less than the current second,
    /// i.e. `max(exp - now, 0) + 1`.
    ///
    /// # Errors
    /// [`ReplayError::Refused`] when that exceeds [`MAX_TTL_SECONDS`].
    pub fn ttl_seconds(&self, now: i64) -> Result<i64, ReplayError> {
        let ttl = (i128::from(self.exp) - i128::from(now)).max(0) + 1;
        i64::try_from(ttl)
            .ok()
            .filter(|t| *t <= MAX_TTL_SECONDS)
            .ok_or_else(|| {
                ReplayError::Refused(format!(
                    "use_once exp {} is more than {MAX_TTL_SECONDS}s after now {now}",
                    self.exp
                ))
            })
    }

    /// The last second (Unix) through which the entry is remembered: `max(exp, now)`.
    ///
    /// # Errors
    /// As [`UseOnce::ttl_seconds`].
    pub fn remember_until(&self, now: i64) -> Result<i64, ReplayError> {
        // ttl <= MAX_TTL_SECONDS, so this addition cannot overflow unless `now` is within
        // a century of i64::MAX; saturate there (remembering longer fails closed).
        Ok(now.saturating_add(self.ttl_seconds(now)? - 1))
    }
}

/// Checks every entry before a store writes anything, so a refused step records nothing (every
/// store calls it first; a store written outside this crate should too).
pub fn validate(entries: &[UseOnce], now: i64) -> Result<(), ReplayError> {
    for entry in entries {
        entry.store_key()?;
        entry.ttl_seconds(now)?;
    }
    Ok(())
}

/// A store of used `jti`s. Implementations must be atomic per `jti`: of any number of
/// concurrent callers recording the same `jti`, across any number of processes sharing the
/// store, exactly one sees it as new.
pub trait ReplayStore: Send + Sync {
    /// Records every entry as used until its `exp`, and answers the `jti`s that were already
    /// recorded (in the order given). `now` is the decision's time (Unix seconds), supplied by
    /// the host, never read from a clock here.
    ///
    /// Entries are keyed by kind and `jti` ([`UseOnce::store_key`]) and remembered for
    /// [`UseOnce::ttl_seconds`] from `now`. Entries that were new stay recorded even when others
    /// were replays: a replay attempt burns the fresh nonces it carried, which only ever fails
    /// closed. An entry the store cannot represent (a kind with `:`, a TTL over
    /// [`MAX_TTL_SECONDS`]) makes the whole call fail before anything is written. The semantics
    /// are pinned by `tests/vectors/replay.json` (tests/README.md, "Replay vectors").
    fn record(
        &self,
        entries: &[UseOnce],
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, ReplayError>> + Send;

    /// Whether the store answers now, for a readiness probe (records nothing). A store in this
    /// process always does; a remote store sends its cheapest command, bounded by its timeout.
    fn ping(&self) -> impl Future<Output = Result<(), ReplayError>> + Send {
        core::future::ready(Ok(()))
    }

    /// The second since which this store remembers every use, when it does not remember
    /// further back (a store in memory, since its process started); `None` when it forgets
    /// nothing before an entry's `exp`. [`crate::Decider`] passes it to the core as the decide
    /// input's `replay_since`, so a proof or grant issued before it is refused
    /// (`replay.history_unknown`) rather than allowed a second time after a restart.
    fn remembers_since(&self) -> Option<i64> {
        None
    }
}

/// Why a replay store could not answer. The decision is then a deny with
/// `replay.store_unavailable`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store could not be reached, or did not answer in time.
    #[error("{code}: {0}", code = Code::ReplayStoreUnavailable)]
    Unavailable(String),
    /// A bounded store is full of live entries; refusing is the only safe answer.
    #[error("{code}: the replay store is full ({0} live entries)", code = Code::ReplayStoreUnavailable)]
    Full(usize),
    /// An entry the store cannot record faithfully (a kind containing `:`, or an `exp` more than
    /// [`MAX_TTL_SECONDS`] ahead); nothing of the call was recorded.
    #[error("{code}: {0}", code = Code::ReplayStoreUnavailable)]
    Refused(String),
}

impl ReplayError {
    /// The stable code (always `replay.store_unavailable`: the decision fails closed the same
    /// way whatever the cause).
    #[must_use]
    pub fn code(&self) -> Code {
        Code::ReplayStoreUnavailable
    }
}
