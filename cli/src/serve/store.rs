//! The replay store `serve` decides with, by configuration.

use host_rust::replay::{
    FileReplayStore, MemoryReplayStore, RedisReplayStore, ReplayError, ReplayStore, UseOnce,
};

/// The replay store: memory (one process, forgotten on restart), a journaled file (one
/// process, kept across restarts) or Redis (many).
#[derive(Debug)]
pub enum Store {
    Memory(MemoryReplayStore),
    File(FileReplayStore),
    Redis(RedisReplayStore),
}

impl ReplayStore for Store {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        match self {
            Store::Memory(m) => m.record(entries, now).await,
            Store::File(f) => f.record(entries, now).await,
            Store::Redis(r) => r.record(entries, now).await,
        }
    }

    async fn ping(&self) -> Result<(), ReplayError> {
        match self {
            Store::Memory(m) => m.ping().await,
            Store::File(f) => f.ping().await,
            Store::Redis(r) => r.ping().await,
        }
    }

    fn remembers_since(&self) -> Option<i64> {
        match self {
            Store::Memory(m) => m.remembers_since(),
            Store::File(f) => f.remembers_since(),
            Store::Redis(r) => r.remembers_since(),
        }
    }
}
