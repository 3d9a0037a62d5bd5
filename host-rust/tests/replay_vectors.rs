//! tests/vectors/replay.json against the Rust replay stores: the memory store (every case, at
//! the case's capacity) and the Redis store (the unbounded cases, and the exact `SET` arguments).
//!
//! Redis expires keys on its own clock, so the Redis runner plays the clock: when a step's `now`
//! is later than every earlier one, it takes that many seconds off every key's remaining TTL
//! (`PTTL`, then `PEXPIRE`, or `DEL` at zero); a `now` that goes back leaves Redis's clock alone.
//! scripts/test-host.sh passes its redis-server as MANDATE_REDIS_URL; without it the test starts
//! its own (on a free loopback port, no persistence).
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_host::replay::{
    DEFAULT_CAPACITY, MAX_TTL_SECONDS, MemoryReplayStore, ReplayStore, UseOnce,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    max_ttl_seconds: i64,
    default_capacity: usize,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    redis: RedisVectors,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
struct RedisVectors {
    prefix: String,
    sets: Vec<Set>,
}

#[derive(Deserialize)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
struct Set {
    now: i64,
    entry: UseOnce,
    key: String,
    px: i64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    store: StoreConfig,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct StoreConfig {
    capacity: Option<usize>,
}

#[derive(Deserialize)]
struct Step {
    now: i64,
    entries: Vec<UseOnce>,
    expect: String,
    #[serde(default)]
    replayed: Vec<String>,
}

fn vectors() -> Vectors {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/replay.json");
    let v: Vectors = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(v.max_ttl_seconds, MAX_TTL_SECONDS);
    assert_eq!(v.default_capacity, DEFAULT_CAPACITY);
    assert!(v.cases.len() >= 10);
    v
}

/// `None` when the store's answer is the step's expectation, else what went wrong.
fn mismatch(
    step: &Step,
    got: &Result<Vec<String>, mandate_host::replay::ReplayError>,
) -> Option<String> {
    let ok = match (step.expect.as_str(), got) {
        ("inserted", Ok(r)) => r.is_empty(),
        ("replayed", Ok(r)) => !r.is_empty() && *r == step.replayed,
        ("store_error", Err(e)) => e.code().as_str() == "replay.store_unavailable",
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "now {}: expected {} {:?}, got {got:?}",
            step.now, step.expect, step.replayed
        )
    })
}

async fn run_case<S: ReplayStore>(
    store: &S,
    case: &Case,
    mut before_step: impl AsyncFnMut(i64),
) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        before_step(step.now).await;
        let got = store.record(&step.entries, step.now).await;
        if let Some(p) = mismatch(step, &got) {
            problems.push(format!("{} step {i}: {p}", case.name));
        }
    }
    problems
}

#[tokio::test]
async fn memory_store_follows_every_replay_vector() {
    let v = vectors();
    let mut problems = Vec::new();
    for case in &v.cases {
        let store = case
            .store
            .capacity
            .map_or_else(MemoryReplayStore::default, MemoryReplayStore::new);
        problems.extend(run_case(&store, case, async |_| {}).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::*;
    use mandate_host::issuer;
    use mandate_host::replay::RedisReplayStore;
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

    #[tokio::test]
    async fn redis_store_follows_every_unbounded_replay_vector() {
        let (url, _guard) = shared_url();
        let v = vectors();
        let run = issuer::random_id().unwrap();
        let mut admin = conn(&url).await;
        let mut problems = Vec::new();
        let mut ran = 0;
        for (n, case) in v.cases.iter().enumerate() {
            if case.store.capacity.is_some() {
                continue; // Redis has no capacity of its own
            }
            ran += 1;
            let prefix = format!("mandate-vectors:{run}:{n}:");
            let store = RedisReplayStore::connect(&url)
                .unwrap()
                .with_prefix(prefix.clone());
            let mut clock: Option<i64> = None;
            let admin = &mut admin;
            let prefix = &prefix;
            problems.extend(
                run_case(&store, case, async |now| {
                    let last = *clock.get_or_insert(now);
                    if now > last {
                        advance(admin, prefix, (now - last) * 1000).await;
                        clock = Some(now);
                    }
                })
                .await,
            );
        }
        assert!(ran >= 8, "only {ran} cases ran");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[tokio::test]
    async fn redis_store_sets_the_exact_key_and_px_of_every_host() {
        let (url, _guard) = shared_url();
        let v = vectors();
        assert_eq!(v.redis.prefix, mandate_host::replay::DEFAULT_PREFIX);
        let store = RedisReplayStore::connect(&url).unwrap();
        let mut admin = conn(&url).await;
        for set in &v.redis.sets {
            let _: i64 = redis::cmd("DEL")
                .arg(&set.key)
                .query_async(&mut admin)
                .await
                .unwrap();
            let replayed = store
                .record(std::slice::from_ref(&set.entry), set.now)
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
