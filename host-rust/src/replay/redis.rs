//! The Redis replay store, for many decision points sharing one view of used `jti`s.
//!
//! One key per entry (`<prefix><kind>:<jti>`, see [`UseOnce::store_key`]), written with
//! `SET key 1 NX PX <ttl>`, the TTL relative to the decision's `now`
//! ([`UseOnce::ttl_seconds`], in milliseconds) so no absolute clock of Redis's is trusted: Redis runs each
//! command atomically, so of any number of nodes racing on one `jti` exactly one gets `OK` and the
//! rest get nil. No command touches two keys, so the store is correct on Redis Cluster too (pass a
//! cluster connection to [`RedisReplayStore::with_connection`]). Keys expire on their own at the
//! `jti`'s `exp`, so the store needs no sweeping.
//!
//! Every command is bounded by a timeout; an error or a timeout is
//! [`ReplayError::Unavailable`], and the decision denies with `replay.store_unavailable`.

use core::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};

use super::{ReplayError, ReplayStore, UseOnce, validate};

/// The key prefix unless configured otherwise. Other Mandate hosts sharing a Redis use the same
/// scheme, so a `jti` used through one is a replay through any.
pub const DEFAULT_PREFIX: &str = "mandate:jti:";

/// How long one Redis command may take before the decision fails closed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// A replay store on Redis (single node, replicated, or Cluster).
#[derive(Clone)]
pub struct RedisReplayStore<C = ConnectionManager> {
    conn: C,
    prefix: String,
    timeout: Duration,
}

impl<C> core::fmt::Debug for RedisReplayStore<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore<ConnectionManager> {
    /// A store on the Redis at `url` (`redis://host:port/db`). The connection is made lazily and
    /// re-made after failures, so a decision point can start while Redis is down (it denies
    /// until Redis answers). Must be called within a Tokio runtime.
    ///
    /// # Errors
    /// [`ReplayError::Unavailable`] when the URL is invalid.
    pub fn connect(url: &str) -> Result<Self, ReplayError> {
        let client =
            redis::Client::open(url).map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEFAULT_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        Ok(Self::with_connection(conn))
    }
}

impl<C> RedisReplayStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store over an existing connection: a `ConnectionManager`, a multiplexed connection, or
    /// a Redis Cluster connection.
    #[must_use]
    pub fn with_connection(conn: C) -> Self {
        RedisReplayStore {
            conn,
            prefix: DEFAULT_PREFIX.to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Uses another key prefix (keep it equal on every node that shares the store).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds each Redis command by `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `SET <prefix><kind>:<jti> 1 NX PX <ttl>`: `true` when the entry was new.
    async fn set_nx(&self, entry: &UseOnce, now: i64) -> Result<bool, ReplayError> {
        // Remember it through the whole second of `exp` (the core accepts at `now == exp`), and
        // never for less than a second; MAX_TTL_SECONDS keeps the milliseconds far from overflow.
        let ttl_ms = entry.ttl_seconds(now)?.saturating_mul(1000);
        let key = entry.store_key()?;
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        let reply =
            tokio::time::timeout(self.timeout, cmd.query_async::<Option<String>>(&mut conn))
                .await
                .map_err(|_| {
                    ReplayError::Unavailable(format!(
                        "redis did not answer within {:?}",
                        self.timeout
                    ))
                })?
                .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        Ok(reply.is_some())
    }
}

impl<C> ReplayStore for RedisReplayStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        validate(entries, now)?;
        let mut replayed = Vec::new();
        for entry in entries {
            if !self.set_nx(entry, now).await? {
                replayed.push(entry.jti.clone());
            }
        }
        Ok(replayed)
    }

    async fn ping(&self) -> Result<(), ReplayError> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| {
            ReplayError::Unavailable(format!("redis did not answer within {:?}", self.timeout))
        })?
        .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
        Ok(())
    }
}
