//! One of the stores, chosen at run time (by a service's configuration, or by a binding's
//! caller): what `mandate serve` and the Python package decide with.

#[cfg(feature = "redis")]
use super::RedisReplayStore;
use super::{FileReplayStore, MemoryReplayStore, ReplayError, ReplayStore, UseOnce};

/// A replay store picked at run time: memory (one process, forgotten on restart), a journaled
/// file (one process, kept across restarts) or Redis (many processes and nodes).
#[derive(Debug)]
pub enum AnyStore {
    /// [`MemoryReplayStore`].
    Memory(MemoryReplayStore),
    /// [`FileReplayStore`].
    File(FileReplayStore),
    /// [`RedisReplayStore`].
    #[cfg(feature = "redis")]
    Redis(RedisReplayStore),
}

impl ReplayStore for AnyStore {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        match self {
            AnyStore::Memory(m) => m.record(entries, now).await,
            AnyStore::File(f) => f.record(entries, now).await,
            #[cfg(feature = "redis")]
            AnyStore::Redis(r) => r.record(entries, now).await,
        }
    }

    async fn ping(&self) -> Result<(), ReplayError> {
        match self {
            AnyStore::Memory(m) => m.ping().await,
            AnyStore::File(f) => f.ping().await,
            #[cfg(feature = "redis")]
            AnyStore::Redis(r) => r.ping().await,
        }
    }

    fn remembers_since(&self) -> Option<i64> {
        match self {
            AnyStore::Memory(m) => m.remembers_since(),
            AnyStore::File(f) => f.remembers_since(),
            #[cfg(feature = "redis")]
            AnyStore::Redis(r) => r.remembers_since(),
        }
    }
}
