//! The Redis replay store against a real `redis-server`: one allow among concurrent replays
//! across independent hosts, and a stopped Redis means deny.
//!
//! scripts/test-host.sh starts a server and passes it as MANDATE_REDIS_URL; the tests that stop
//! Redis start their own `redis-server` (on a free loopback port, no persistence) and kill it.
#![cfg(feature = "redis")]
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::World;
use host_rust::issuer;
use host_rust::replay::{RedisReplayStore, ReplayStore, UseOnce};
use host_rust::{Backend, Decider};

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
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/test-host.sh (it installs it)");
        let server = RedisServer { child, port };
        // Wait until it accepts connections (a readiness poll, not a timing assertion).
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The script's server when given, else one of our own (kept alive by the returned guard).
fn shared_url() -> (String, Option<RedisServer>) {
    match std::env::var("MANDATE_REDIS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let s = RedisServer::start();
            (s.url(), Some(s))
        }
    }
}

fn store(url: &str, prefix: &str) -> RedisReplayStore {
    RedisReplayStore::connect(url).unwrap().with_prefix(prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_jti_from_eight_tasks_on_two_hosts_is_allowed_exactly_once() {
    let (url, _guard) = shared_url();
    let prefix = format!("mandate-test:{}:", issuer::random_id().unwrap());
    let world = Arc::new(World::new());
    // Two independent hosts: separate deciders, separate connections; one native, one wasm.
    let hosts = [
        Arc::new(
            Decider::with_config(Backend::native(), store(&url, &prefix), &world.config).unwrap(),
        ),
        Arc::new(
            Decider::with_config(
                Backend::wasm(&common::runtime()),
                store(&url, &prefix),
                &world.config,
            )
            .unwrap(),
        ),
    ];
    for round in 0..3 {
        let input = Arc::new(world.input(&format!("same-jti-{round}")));
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (host, input, barrier) = (
                Arc::clone(&hosts[t % 2]),
                Arc::clone(&input),
                Arc::clone(&barrier),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                host.decide(&input).await
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            let d = t.await.unwrap();
            if d.is_allow() {
                allowed += 1;
            } else {
                assert_eq!(d.code(), Some("replay.detected"), "{:?}", d.reasons());
            }
        }
        assert_eq!(allowed, 1, "round {round}");
    }
}

#[tokio::test]
async fn keys_expire_with_the_jti() {
    let (url, _guard) = shared_url();
    let prefix = format!("mandate-test:{}:", issuer::random_id().unwrap());
    let s = store(&url, &prefix);
    let entry = UseOnce {
        jti: "j".into(),
        exp: 1_000_119,
        kind: "proof".into(),
    };
    assert!(
        s.record(std::slice::from_ref(&entry), 1_000_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.record(std::slice::from_ref(&entry), 1_000_000)
            .await
            .unwrap(),
        vec!["j".to_string()]
    );
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}proof:j"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 110_000 && pttl <= 120_000, "pttl {pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_means_deny() {
    let mut server = RedisServer::start();
    let world = World::new();
    let deciders: Vec<_> = [Backend::native(), Backend::wasm(&common::runtime())]
        .into_iter()
        .map(|b| {
            Decider::with_config(b, store(&server.url(), "mandate-test:stop:"), &world.config)
                .unwrap()
        })
        .collect();
    for d in &deciders {
        assert!(
            d.decide(&world.input(&format!("before-{}", d.backend().name())))
                .await
                .is_allow()
        );
    }
    server.stop();
    // The same deciders, with Redis gone: every allow the engine makes is refused.
    for d in &deciders {
        for i in 0..3 {
            let decision = d
                .decide(&world.input(&format!("after-{}-{i}", d.backend().name())))
                .await;
            assert!(!decision.is_allow(), "{}", d.backend().name());
            assert_eq!(decision.code(), Some("replay.store_unavailable"));
        }
    }
}

#[tokio::test]
async fn a_store_that_was_never_up_denies() {
    // Nothing listens on this port (bound and released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let world = World::new();
    let d = Decider::with_config(
        Backend::native(),
        store(&format!("redis://127.0.0.1:{port}/"), "x:"),
        &world.config,
    )
    .unwrap();
    let decision = d.decide(&world.input("a")).await;
    assert_eq!(decision.code(), Some("replay.store_unavailable"));
}
