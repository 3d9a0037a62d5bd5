//! `mandate serve` against hostile clients and faults, over real sockets on 127.0.0.1: idle and
//! slowloris connections, more connections than the cap, a half-sent request at shutdown, a
//! second writer on the audit log, and an audit log whose writes fail and then succeed again.
//! Each test is bounded (every wait has a deadline far above what it waits for) and loopback only.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use core::time::Duration;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Instant;

use common::{Server, TRIP, World, client, eventually, metric, metrics, post, verify_audit};
use serde_json::Value;

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes the connection (or `limit` passes: then `None`).
fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(got),
        }
    }
    None
}

/// Slowloris (a request head sent a few bytes at a time and never finished) and idle
/// connections (connected, nothing sent; or kept alive after a response): each is closed once
/// the header timeout passes, and legitimate clients are answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_at_the_header_timeout_while_clients_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let s = Server::start(
        &w,
        &[
            "--header-timeout",
            "1s",
            "--max-connections",
            "64",
            "--audit",
            audit.to_str().unwrap(),
        ],
    );
    let target = addr(&s);
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut t = TcpStream::connect(&target).unwrap();
        if i % 2 == 0 {
            // Half a request head; the rest never comes.
            t.write_all(b"POST /v1/decide HTTP/1.1\r\nhost: x\r\ncontent-")
                .unwrap();
        }
        slow.push(t);
    }
    // A connection kept alive after a full exchange, then left idle.
    let mut kept = TcpStream::connect(&target).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();

    let c = client();
    let alice = w.alice();
    for _ in 0..5 {
        let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
        let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
        assert_eq!(
            (status, d["decision"].as_str()),
            (200, Some("allow")),
            "{d}"
        );
    }
    for (i, t) in slow.iter_mut().enumerate() {
        let got = read_to_close(t, Duration::from_secs(30));
        assert!(got.is_some(), "slow connection {i} still open after 30 s");
    }
    let answered = read_to_close(&mut kept, Duration::from_secs(30))
        .expect("an idle kept-alive connection was never closed");
    assert!(
        answered.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    let m = metrics(&c, &s).await;
    assert!(metric(&m, "mandate_header_timeouts_total") >= 10.0, "{m}");
    // The audit log was never disturbed: every answered decision is in it.
    verify_audit(&audit);
}

/// More connections than the cap: the ones over it are answered 503 `serve.overloaded` with
/// `retry-after` and closed at once; once connections close, clients are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_answered_503_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &["--max-connections", "4", "--header-timeout", "60s"]);
    let target = addr(&s);
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&target).unwrap())
        .collect();
    // The server counts a connection once it has accepted it; give it the time to.
    let c = client();
    let mut over = None;
    for _ in 0..50 {
        let mut t = TcpStream::connect(&target).unwrap();
        let _ = t.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
        let got = read_to_close(&mut t, Duration::from_secs(10)).expect("not closed");
        if got.starts_with(b"HTTP/1.1 503") {
            over = Some(String::from_utf8_lossy(&got).to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let over = over.expect("no connection over the cap was refused");
    assert!(over.contains("retry-after: 1"), "{over}");
    assert!(over.contains("\"code\":\"serve.overloaded\""), "{over}");
    drop(held);
    let served = eventually(100, || async {
        let r = c.get(s.url("/healthz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(
        served.is_some(),
        "not served after the held connections closed"
    );
    let m = metrics(&c, &s).await;
    assert!(metric(&m, "mandate_connections_shed_total") >= 1.0, "{m}");
}

/// SIGTERM while a request is half sent (its head complete, its body never finished): the
/// service stops accepting, waits for the drain deadline and exits, instead of waiting for the
/// client (or the 60 s request timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_request_exits_after_the_drain_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(
        &w,
        &[
            "--drain",
            "1s",
            "--timeout",
            "60s",
            "--header-timeout",
            "60s",
        ],
    );
    let mut half = TcpStream::connect(addr(&s)).unwrap();
    half.write_all(
        b"POST /v1/decide HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\":",
    )
    .unwrap();
    // Let the server read the head and start the handler.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let status = s.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    // Far below the 60 s the request could otherwise hold it; far above the 1 s drain.
    assert!(took < Duration::from_secs(30), "exit took {took:?}");
    drop(half);
}

/// Two services on one audit log: the second is refused (`audit.locked`) and the first keeps
/// its chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_service_on_the_same_audit_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let flags = ["--audit", audit.to_str().unwrap()];
    let first = Server::start(&w, &flags);
    let out = common::mandate()
        .args(["serve", "--listen", "127.0.0.1:0", "--bundle"])
        .arg(w.path("bundle.jws"))
        .arg("--trust")
        .arg(w.path("root.pub.jwk"))
        .args(flags)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audit.locked"), "{stderr}");
    let c = client();
    let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
    let (status, d) = post(&c, &first.url("/v1/decide"), &input).await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );
    drop(first);
    verify_audit(&audit);
}

/// The audit log's writes fail (its head file cannot be written: a real I/O error), then
/// succeed again: decisions are withheld (503 `audit.unavailable`) and `/readyz` says why while
/// it fails; once writes succeed the service recovers by itself, without a restart, and the
/// log verifies with every acknowledged decision in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_that_fails_recovers_by_itself_once_writes_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let s = Server::start(&w, &["--audit", audit.to_str().unwrap()]);
    let c = client();
    let alice = w.alice();
    let decide = || {
        let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
        let (c, url) = (c.clone(), s.url("/v1/decide"));
        async move { post(&c, &url, &input).await }
    };
    assert_eq!(decide().await.0, 200);
    let blocker = w.path("audit.jsonl.head.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let (status, body) = decide().await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("audit.unavailable")),
        "{body}"
    );
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let rz: Value = ready.json().await.unwrap();
    assert_eq!(
        (
            rz["problems"][0]["part"].as_str(),
            rz["problems"][0]["code"].as_str()
        ),
        (Some("audit"), Some("audit.unavailable")),
        "{rz}"
    );
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);

    std::fs::remove_dir(&blocker).unwrap();
    // The probe repairs the log; no decision is needed to bring it back.
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let (status, d) = decide().await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );
    verify_audit(&audit);
    let records = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert_eq!(records, 2, "the acknowledged decisions, and only them");
}

/// A used proof stays used across a crash: with `--replay-file`, serve killed with SIGKILL
/// right after an allow and started again refuses the same proof (`replay.detected`). With the
/// memory store the use is forgotten, so the service started again refuses every proof issued
/// before its start (`replay.history_unknown`) and allows fresh ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_proofs_stay_used_across_a_kill_9_with_a_replay_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let journal = w.path("replay.jsonl");
    let c = client();
    let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
    let with = ["--replay-file", journal.to_str().unwrap()];

    let mut s = Server::start(&w, &with);
    let (_, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(d["decision"], "allow", "{d}");
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = Server::start(&w, &with);
    let (_, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(
        (d["decision"].as_str(), d["reasons"][0]["code"].as_str()),
        (Some("deny"), Some("replay.detected")),
        "{d}"
    );
    drop(s);

    // The memory store: a used proof is forgotten with the process, so the service refuses
    // every proof issued before its start, whatever ran before it.
    let mut s = Server::start(&w, &[]);
    assert!(
        s.log()
            .contains("forgets used proofs and grants on restart"),
        "{}",
        s.log()
    );
    let used = w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
    let (_, d) = post(&c, &s.url("/v1/decide"), &used).await;
    assert_eq!(d["decision"], "allow", "{d}");
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    // Start again in a later second than the proof's iat, so the proof is older than the store.
    let iat_second = common::now();
    while common::now() == iat_second {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = Server::start(&w, &[]);
    let (_, d) = post(&c, &s.url("/v1/decide"), &used).await;
    assert_eq!(
        (d["decision"].as_str(), d["reasons"][0]["code"].as_str()),
        (Some("deny"), Some("replay.history_unknown")),
        "{d}"
    );
    let fresh = w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
    let (_, d) = post(&c, &s.url("/v1/decide"), &fresh).await;
    assert_eq!(d["decision"], "allow", "{d}");
}

/// Requests refused before a decision are counted by status: a body over `--max-body` (413),
/// a head over hyper's limit (431), a body that does not arrive within `--timeout` (408).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_answered_with_their_status_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &["--max-body", "1024", "--timeout", "1s"]);
    let c = client();
    let big = c
        .post(s.url("/v1/decide"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);

    let mut head = TcpStream::connect(addr(&s)).unwrap();
    let mut req = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
    req.extend(core::iter::repeat_n(b'a', 512 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let _ = head.write_all(&req);
    let got = read_to_close(&mut head, Duration::from_secs(20)).unwrap_or_default();
    assert!(
        got.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    let mut slow = TcpStream::connect(addr(&s)).unwrap();
    slow.write_all(
        b"POST /v1/decide HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{",
    )
    .unwrap();
    let got = read_to_close(&mut slow, Duration::from_secs(20)).unwrap_or_default();
    assert!(
        got.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    let m = metrics(&c, &s).await;
    for status in ["408", "413", "431"] {
        let name = format!("mandate_http_refused_total{{status=\"{status}\"}}");
        assert!(metric(&m, &name) >= 1.0, "{name}: {m}");
    }
}

/// `--audit-segment-bytes`: the audit log is sealed into segments as it grows, a restart goes
/// on from the active one, and `mandate audit verify` walks them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_rotates_into_segments_and_verifies_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let flags = [
        "--audit",
        audit.to_str().unwrap(),
        "--audit-segment-bytes",
        "4000",
    ];
    let c = client();
    let alice = w.alice();
    let mut answered = 0;
    for _ in 0..2 {
        let s = Server::start(&w, &flags);
        for _ in 0..8 {
            let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
            let (status, _) = post(&c, &s.url("/v1/decide"), &input).await;
            assert_eq!(status, 200);
            answered += 1;
        }
        assert_eq!(s.terminate().code(), Some(0));
    }
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name().into_string().unwrap();
            name.strip_prefix("audit.jsonl.")
                .is_some_and(|rest| rest.len() == 20 && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    assert!(segments >= 2, "{segments} sealed segments");
    let stdout = verify_audit(&audit);
    assert!(
        stdout.contains(&format!(": {answered} record(s), hash chain intact")),
        "{stdout}"
    );
}

/// Descriptor exhaustion: serve under `ulimit -n 256` and 400 connections held open by one
/// client. The cap is lowered to fit the limit (with room for the audit log), connections over
/// it are shed, no accept fails, the audit log never fails, and once the client lets go the
/// service answers again — audited, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_connections_cannot_exhaust_descriptors_or_break_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let mut wrapper = std::process::Command::new("sh");
    wrapper
        .args(["-c", r#"ulimit -n 256 && exec "$0" "$@""#])
        .arg(common::mandate().get_program());
    let s = Server::start_command(
        &w,
        wrapper,
        &[
            "--audit",
            audit.to_str().unwrap(),
            "--header-timeout",
            "60s",
        ],
    );
    let lowered = eventually(100, || async {
        s.log()
            .contains("connection cap lowered to fit the file descriptor limit")
            .then_some(())
    })
    .await;
    assert!(lowered.is_some(), "{}", s.log());
    assert!(s.log().contains("\"cap\":192"), "{}", s.log());
    let c = client();
    let alice = w.alice();
    let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    assert_eq!(post(&c, &s.url("/v1/decide"), &input).await.0, 200);

    let target = addr(&s);
    let held: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(&target).ok())
        .collect();
    assert!(held.len() >= 300, "{} connections", held.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(held);
    let answered = eventually(100, || async {
        let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
        let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
        (status == 200 && d["decision"] == "allow").then_some(())
    })
    .await;
    assert!(answered.is_some(), "{}", s.log());
    let m = metrics(&c, &s).await;
    assert!(metric(&m, "mandate_connections_shed_total") >= 1.0, "{m}");
    assert_eq!(metric(&m, "mandate_accept_errors_total"), 0.0, "{m}");
    assert_eq!(metric(&m, "mandate_audit_errors_total"), 0.0, "{m}");
    verify_audit(&audit);
}
