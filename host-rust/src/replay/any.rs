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

impl AnyStore {
    /// The live entries held in this process (a Redis store holds none here: 0).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            AnyStore::Memory(m) => m.len(),
            AnyStore::File(f) => f.len(),
            #[cfg(feature = "redis")]
            AnyStore::Redis(_) => 0,
        }
    }

    /// Whether it holds no live entry in this process.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
