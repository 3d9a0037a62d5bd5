//! tests/vectors/replay.json against the Rust replay stores: the memory store (every case, at
//! the case's capacity), the file store (every case; once kept open, once closed and reopened
//! from its journal before every step, so what a restart keeps is what the vectors expect) and
//! the Redis store (the unbounded cases, and the exact `SET` arguments).
//!
//! Redis expires keys on its own clock, so the Redis runner plays the clock: when a step's `now`
//! is later than every earlier one, it takes that many seconds off every key's remaining TTL
//! (`PTTL`, then `PEXPIRE`, or `DEL` at zero); a `now` that goes back leaves Redis's clock alone.
//! scripts/test-host.sh passes its redis-server as MANDATE_REDIS_URL; without it the test starts
//! its own (on a free loopback port, no persistence).
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used, clippy::expect_used)]

use host_rust::replay::{
    DEFAULT_CAPACITY, FileReplayStore, MAX_TTL_SECONDS, MemoryReplayStore, ReplayStore, UseOnce,
};
use testkit::kit::{self, ReplayCase, ReplayCorpus, ReplayHost, run_replay_corpus};
use tokio::runtime::Runtime;

fn vectors() -> ReplayCorpus {
    let v = ReplayCorpus::load();
    assert_eq!(v.max_ttl_seconds, MAX_TTL_SECONDS);
    assert_eq!(v.default_capacity, DEFAULT_CAPACITY);
    assert!(v.cases.len() >= 10);
    v
}

fn entries(e: &[kit::UseOnce]) -> Vec<UseOnce> {
    e.iter()
        .map(|e| UseOnce {
            kind: e.kind.clone(),
            jti: e.jti.clone(),
            exp: e.exp,
        })
        .collect()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The memory store as a kit replay host: every case, at the case's capacity.
struct Memory {
    rt: Runtime,
    store: MemoryReplayStore,
}

impl ReplayHost for Memory {
    fn name(&self) -> &str {
        "rust memory"
    }

    fn open(&mut self, case: &ReplayCase) -> bool {
        self.store = case
            .store
            .capacity
            .map_or_else(MemoryReplayStore::default, MemoryReplayStore::new);
        true
    }

    fn record(&mut self, e: &[kit::UseOnce], now: i64) -> Result<Vec<String>, String> {
        self.rt
            .block_on(self.store.record(&entries(e), now))
            .map_err(|e| e.code().as_str().to_owned())
    }
}

#[test]
fn memory_store_follows_every_replay_vector() {
    let v = vectors();
    let mut host = Memory {
        rt: runtime(),
        store: MemoryReplayStore::default(),
    };
    let report = run_replay_corpus(&mut host, &v);
    report.assert_ok(v.cases.len());
}

/// The file store as a kit replay host: every case in a fresh journal at the case's capacity;
/// with `reopen`, the store is dropped and reopened from its journal before every step.
struct Journaled {
    rt: Runtime,
    dir: tempfile::TempDir,
    n: usize,
    capacity: usize,
    reopen: bool,
    store: Option<FileReplayStore>,
}

impl Journaled {
    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join(format!("case-{}.jsonl", self.n))
    }
}

impl ReplayHost for Journaled {
    fn name(&self) -> &str {
        if self.reopen {
            "rust file (reopened before every step)"
        } else {
            "rust file"
        }
    }

    fn open(&mut self, case: &ReplayCase) -> bool {
        self.store = None;
        self.n += 1;
        self.capacity = case.store.capacity.unwrap_or(DEFAULT_CAPACITY);
        self.store = Some(FileReplayStore::open(self.path(), self.capacity, 0).unwrap());
        true
    }

    fn record(&mut self, e: &[kit::UseOnce], now: i64) -> Result<Vec<String>, String> {
        if self.reopen {
            self.store = None;
            self.store = Some(reopen(&self.path(), self.capacity, now));
        }
        let store = self.store.as_ref().unwrap();
        self.rt
            .block_on(store.record(&entries(e), now))
            .map_err(|e| e.code().as_str().to_owned())
    }
}

/// Opens the journal again. The Redis tests of this binary spawn `redis-server` in parallel, and
/// a child between fork and exec briefly holds a copy of every descriptor, the journal's locked
/// one included (flock is per open file description): the lock is released when the child
/// execs, so the open is retried for up to a second while only the lock refuses it.
fn reopen(path: &std::path::Path, capacity: usize, now: i64) -> FileReplayStore {
    for _ in 0..50 {
        match FileReplayStore::open(path, capacity, now) {
            Err(e) if e.to_string().contains("another process has it open") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    FileReplayStore::open(path, capacity, now).unwrap()
}

#[test]
fn file_store_follows_every_replay_vector_open_and_across_reopens() {
    let v = vectors();
    for reopen in [false, true] {
        let mut host = Journaled {
            rt: runtime(),
            dir: tempfile::tempdir().unwrap(),
            n: 0,
            capacity: DEFAULT_CAPACITY,
            reopen,
            store: None,
        };
        let report = run_replay_corpus(&mut host, &v);
        report.assert_ok(v.cases.len());
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::*;
    use host_rust::issuer;
    use host_rust::replay::RedisReplayStore;
    use redis::aio::MultiplexedConnection;
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A `redis-server` child process, killed on drop.
    struct RedisServer {
        child: Child,
        port: u16,
    }

    impl RedisServer {
        fn start() -> RedisServer {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is not installed: run scripts/test-host.sh (it installs it)");
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            RedisServer { child, port }
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn shared_url() -> (String, Option<RedisServer>) {
        match std::env::var("MANDATE_REDIS_URL") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let s = RedisServer::start();
                (format!("redis://127.0.0.1:{}/", s.port), Some(s))
            }
        }
    }

    async fn conn(url: &str) -> MultiplexedConnection {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Moves Redis's clock for the keys under `prefix` forward by `ms`.
    async fn advance(conn: &mut MultiplexedConnection, prefix: &str, ms: i64) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(conn)
            .await
            .unwrap();
        for key in keys {
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(conn)
                .await
                .unwrap();
            if pttl == -2 {
                continue; // expired meanwhile
            }
            assert!(pttl > 0, "{key} has no TTL ({pttl})");
            let left = pttl - ms;
            if left <= 0 {
                let _: i64 = redis::cmd("DEL").arg(&key).query_async(conn).await.unwrap();
            } else {
                let _: i64 = redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(left)
                    .query_async(conn)
                    .await
                    .unwrap();
            }
        }
    }

    /// The Redis store as a kit replay host: the unbounded cases, each under its own prefix,
    /// with Redis's clock played forward as the steps' `now` moves forward.
    struct Redis {
        rt: Runtime,
        url: String,
        run: String,
        n: usize,
        admin: MultiplexedConnection,
        store: Option<RedisReplayStore>,
        prefix: String,
        clock: Option<i64>,
    }

    impl ReplayHost for Redis {
        fn name(&self) -> &str {
            "rust redis"
        }

        fn open(&mut self, case: &ReplayCase) -> bool {
            if case.store.capacity.is_some() {
                return false; // Redis has no capacity of its own
            }
            self.n += 1;
            self.prefix = format!("mandate-vectors:{}:{}:", self.run, self.n);
            let _in_runtime = self.rt.enter(); // the store spawns its connection task
            let store = RedisReplayStore::connect(&self.url).unwrap();
            self.store = Some(store.with_prefix(self.prefix.clone()));
            self.clock = None;
            true
        }

        fn record(&mut self, e: &[kit::UseOnce], now: i64) -> Result<Vec<String>, String> {
            let last = *self.clock.get_or_insert(now);
            let store = self.store.as_ref().unwrap();
            let (admin, prefix) = (&mut self.admin, &self.prefix);
            let got = self.rt.block_on(async {
                if now > last {
                    advance(admin, prefix, (now - last) * 1000).await;
                }
                store.record(&entries(e), now).await
            });
            if now > last {
                self.clock = Some(now);
            }
            got.map_err(|e| e.code().as_str().to_owned())
        }
    }

    #[test]
    fn redis_store_follows_every_unbounded_replay_vector() {
        let (url, _guard) = shared_url();
        let v = vectors();
        let rt = runtime();
        let admin = rt.block_on(conn(&url));
        let mut host = Redis {
            rt,
            url,
            run: issuer::random_id().unwrap(),
            n: 0,
            admin,
            store: None,
            prefix: String::new(),
            clock: None,
        };
        let report = run_replay_corpus(&mut host, &v);
        report.assert_ok(8);
    }

    #[tokio::test]
    async fn redis_store_sets_the_exact_key_and_px_of_every_host() {
        let (url, _guard) = shared_url();
        let v = vectors();
        assert_eq!(v.redis.prefix, host_rust::replay::DEFAULT_PREFIX);
        let store = RedisReplayStore::connect(&url).unwrap();
        let mut admin = conn(&url).await;
        for set in &v.redis.sets {
            let _: i64 = redis::cmd("DEL")
                .arg(&set.key)
                .query_async(&mut admin)
                .await
                .unwrap();
            let replayed = store
                .record(&entries(std::slice::from_ref(&set.entry)), set.now)
                .await
                .unwrap();
            assert!(replayed.is_empty(), "{}", set.key);
            let value: Option<String> = redis::cmd("GET")
                .arg(&set.key)
                .query_async(&mut admin)
                .await
                .unwrap();
            assert_eq!(value.as_deref(), Some("1"), "{}", set.key);
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&set.key)
                .query_async(&mut admin)
                .await
                .unwrap();
            assert!(
                pttl <= set.px && pttl > set.px - 2000,
                "{}: PTTL {pttl}, want PX {}",
                set.key,
                set.px
            );
            let _: i64 = redis::cmd("DEL")
                .arg(&set.key)
                .query_async(&mut admin)
                .await
                .unwrap();
        }
    }
}
