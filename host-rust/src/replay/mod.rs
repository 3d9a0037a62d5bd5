//! Use-once `jti`s: the replay store a decision point consults after every allow.
//!
//! A decision lists in `use_once` every `jti` (proof, grant) the host must record as used until
//! its `exp`. [`crate::Decider::decide`] hands them to a [`ReplayStore`] on every allow; when any
//! was already recorded it asks the core to turn the decision into a `replay.detected` deny, and
//! when the store cannot answer it denies with `replay.store_unavailable`. There is no fail-open
//! switch: a decision point that cannot tell a replay from a first use refuses.
//!
//! Two stores: [`MemoryReplayStore`] (one process, bounded) and, with the `redis` feature,
//! [`RedisReplayStore`] (many nodes; one `SET key 1 NX PX ttl` per `jti`, so it also works on
//! Redis Cluster, where multi-key commands would cross slots).

mod memory;
#[cfg(feature = "redis")]
mod redis;

use core::future::Future;

pub use memory::MemoryReplayStore;
#[cfg(feature = "redis")]
pub use redis::RedisReplayStore;

/// One `jti` a decision asks the host to record, from the decision's `use_once` list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct UseOnce {
    /// The token or proof id.
    pub jti: String,
    /// Unix seconds until which the `jti` must be remembered.
    pub exp: i64,
    /// What it identifies (`proof`, `grant`, …); informational.
    #[serde(default)]
    pub kind: String,
}

/// A store of used `jti`s. Implementations must be atomic per `jti`: of any number of
/// concurrent callers recording the same `jti`, across any number of processes sharing the
/// store, exactly one sees it as new.
pub trait ReplayStore: Send + Sync {
    /// Records every entry as used until its `exp`, and answers the `jti`s that were already
    /// recorded (in the order given). `now` is the decision's time (Unix seconds), supplied by
    /// the host, never read from a clock here.
    ///
    /// Entries that were new stay recorded even when others were replays: a replay attempt
    /// burns the fresh nonces it carried, which only ever fails closed.
    fn record(
        &self,
        entries: &[UseOnce],
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, ReplayError>> + Send;
}

/// Why a replay store could not answer. The decision is then a deny with
/// `replay.store_unavailable`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store could not be reached, or did not answer in time.
    #[error("replay.store_unavailable: {0}")]
    Unavailable(String),
    /// A bounded store is full of live entries; refusing is the only safe answer.
    #[error("replay.store_unavailable: the replay store is full ({0} live entries)")]
    Full(usize),
}

impl ReplayError {
    /// The stable code (always `replay.store_unavailable`: the decision fails closed the same
    /// way whatever the cause).
    #[must_use]
    pub fn code(&self) -> &'static str {
        "replay.store_unavailable"
    }
}
