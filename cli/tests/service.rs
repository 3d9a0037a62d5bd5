//! `mandate serve` over real HTTP on 127.0.0.1:0: the decide, grants and ext_authz check
//! endpoints, metrics, body limits, hot reload (file and URL with ETag, good and bad bundles),
//! and a restart under load that loses no acknowledged audit record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashSet;
use std::sync::Arc;

use common::{API, SECRET, Server, TRIP, World, eventually};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(core::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn post(c: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = c.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An ext_authz check as Envoy sends it.
async fn check(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    ip: &str,
    auth: &str,
    dpop: Option<&str>,
    chain: Option<&str>,
) -> reqwest::Response {
    let mut r = c
        .get(s.url(&format!("/v1/check{path}")))
        .header("host", "api.example.com")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", format!("{ip}, 10.0.0.1"))
        .header("authorization", auth);
    if let Some(p) = dpop {
        r = r.header("dpop", p);
    }
    if let Some(ch) = chain {
        r = r.header("mandate-chain", ch);
    }
    r.send().await.unwrap()
}

fn h(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn revision(c: &reqwest::Client, s: &Server) -> Value {
    c.get(s.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_endpoint_allows_denies_and_refuses_replays() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let input = w.input("GET", SECRET, "secrets:read", "10.20.0.7", &alice);
    let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );
    assert_eq!(d["principal"]["user"], "alice");
    // The service's clock and ids, not the client's: a `now` far in the past is overwritten.
    let mut stale = w.input("GET", SECRET, "secrets:read", "10.20.0.7", &alice);
    stale["now"] = json!(1);
    stale["decision_id"] = json!("client-chosen");
    let (_, d2) = post(&c, &s.url("/v1/decide"), &stale).await;
    assert_eq!(d2["decision"], "allow", "{d2}");
    assert_ne!(d2["decision_id"], "client-chosen");
    // The same input again: the proof's jti was used.
    let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(
        (status, d["reasons"][0]["code"].as_str()),
        (200, Some("replay.detected"))
    );
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", SECRET, "secrets:read", "192.0.2.1", &alice),
    )
    .await;
    assert_eq!(
        (d["decision"].as_str(), d["reasons"][0]["code"].as_str()),
        (Some("deny"), Some("policy.denied"))
    );
    // /v1/decide never mints grants.
    let mut ask = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    ask["mint_grant"] = json!({"aud": API, "ttl": 10});
    let (_, d) = post(&c, &s.url("/v1/decide"), &ask).await;
    assert_eq!(d["decision"], "allow");
    assert!(d.get("grant").is_none());
    // Not JSON: 400 with a code.
    let r = c
        .post(s.url("/v1/decide"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "input.malformed"
    );
    // Over the body limit: 413.
    let big = json!({"context": {"pad": "x".repeat(70 * 1024)}});
    let r = c.post(s.url("/v1/decide")).json(&big).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext_authz_check_allows_with_principal_headers_and_denies_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let auth = format!("DPoP {alice}");
    let r = check(
        &c,
        &s,
        "/v1/secrets/db?version=2",
        "10.20.0.7",
        &auth,
        Some(&w.proof(&w.booker, "GET", SECRET, &alice)),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.headers());
    assert_eq!(
        h(&r, "x-mandate-agent").as_deref(),
        Some("agent:travel-booker")
    );
    assert_eq!(h(&r, "x-mandate-user").as_deref(), Some("alice"));
    assert_eq!(
        h(&r, "x-mandate-chain").as_deref(),
        Some("agent:travel-booker")
    );
    assert!(h(&r, "x-mandate-decision-id").is_some_and(|id| id.len() > 10));
    assert!(h(&r, "x-mandate-reason").is_none());

    // Untrusted client address (first hop of x-forwarded-for).
    let r = check(
        &c,
        &s,
        "/v1/secrets/db",
        "203.0.113.9",
        &auth,
        Some(&w.proof(&w.booker, "GET", SECRET, &alice)),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(h(&r, "x-mandate-reason").as_deref(), Some("policy.denied"));
    assert!(h(&r, "x-mandate-agent").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (
            body["decision"].as_str(),
            body["reasons"][0]["code"].as_str()
        ),
        (Some("deny"), Some("policy.denied"))
    );

    // A proof for another URI.
    let r = check(
        &c,
        &s,
        "/v1/secrets/other",
        "10.20.0.7",
        &auth,
        Some(&w.proof(&w.booker, "GET", SECRET, &alice)),
        None,
    )
    .await;
    assert_eq!(
        h(&r, "x-mandate-reason").as_deref(),
        Some("proof.uri_mismatch")
    );
    // No proof.
    let r = check(&c, &s, "/v1/secrets/db", "10.20.0.7", &auth, None, None).await;
    assert_eq!(h(&r, "x-mandate-reason").as_deref(), Some("proof.missing"));
    // No credentials at all.
    let r = c
        .get(s.url("/v1/check/v1/secrets/db"))
        .header("host", "api.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("credentials.missing"))
    );
    // Bob's delegation: the scope covers it, the guardrail does not.
    let bob = w.delegation("bob", "secrets:read", w.now + 900);
    let r = check(
        &c,
        &s,
        "/v1/secrets/db",
        "10.20.0.7",
        &format!("DPoP {bob}"),
        Some(&w.proof(&w.booker, "GET", SECRET, &bob)),
        None,
    )
    .await;
    assert_eq!(h(&r, "x-mandate-reason").as_deref(), Some("policy.denied"));
    // The route maps trips to trips:read; alice's token without trips scope is insufficient.
    let only_secrets = w.delegation("alice", "secrets:read", w.now + 900);
    let r = check(
        &c,
        &s,
        "/v1/trips/42",
        "10.20.0.7",
        &format!("DPoP {only_secrets}"),
        Some(&w.proof(&w.booker, "GET", TRIP, &only_secrets)),
        None,
    )
    .await;
    assert_eq!(
        h(&r, "x-mandate-reason").as_deref(),
        Some("delegation.scope_insufficient")
    );

    // A sub-delegation: the hop in Authorization, its ancestors in Mandate-Chain.
    let hop = w.hop(&alice, "trips:read");
    let r = check(
        &c,
        &s,
        "/v1/trips/42",
        "10.20.0.7",
        &format!("DPoP {hop}"),
        Some(&w.proof(&w.summarizer, "GET", TRIP, &hop)),
        Some(&alice),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        h(&r, "x-mandate-agent").as_deref(),
        Some("agent:summarizer")
    );
    assert_eq!(
        h(&r, "x-mandate-chain").as_deref(),
        Some("agent:travel-booker,agent:summarizer")
    );
    let wide = w.hop(&alice, "trips:read trips:book");
    let r = check(
        &c,
        &s,
        "/v1/trips/42",
        "10.20.0.7",
        &format!("DPoP {wide}"),
        Some(&w.proof(&w.summarizer, "GET", TRIP, &wide)),
        Some(&alice),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("chain.scope_escalation"))
    );
    // Without the chain header the hop alone does not verify.
    let r = check(
        &c,
        &s,
        "/v1/trips/42",
        "10.20.0.7",
        &format!("DPoP {hop}"),
        Some(&w.proof(&w.summarizer, "GET", TRIP, &hop)),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    // Other methods reach the check endpoint too (Envoy forwards the original method).
    let r = c
        .post(s.url("/v1/check/v1/trips/42"))
        .header("host", "api.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h(&r, "x-mandate-reason").as_deref(),
        Some("credentials.missing")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_minted_only_after_an_allow_and_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let mut ask = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    ask["mint_grant"] = json!({"aud": API, "ttl": 20});
    let (status, d) = post(&c, &s.url("/v1/grants"), &ask).await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );
    let grant = d["grant"].as_str().unwrap().to_string();
    // The grant's claims: bound to this request and decision.
    let (_, claims) = mandate_core_claims(&grant);
    assert_eq!(
        (claims["htm"].as_str(), claims["htu"].as_str()),
        (Some("GET"), Some(TRIP))
    );
    assert_eq!(claims["decision_id"], d["decision_id"]);
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 20);

    let auth = format!("Mandate-Grant {grant}");
    let r = check(&c, &s, "/v1/trips/42", "10.20.0.7", &auth, None, None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(h(&r, "x-mandate-user").as_deref(), Some("alice"));
    let r = check(&c, &s, "/v1/trips/42", "10.20.0.7", &auth, None, None).await;
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("replay.detected"))
    );
    // Bound to its request: another URI is refused.
    let (_, d) = post(&c, &s.url("/v1/grants"), &ask_for(&w, &alice)).await;
    let g2 = format!("Mandate-Grant {}", d["grant"].as_str().unwrap());
    let r = check(&c, &s, "/v1/trips/43", "10.20.0.7", &g2, None, None).await;
    assert_eq!(
        h(&r, "x-mandate-reason").as_deref(),
        Some("grant.request_mismatch")
    );

    // A deny mints nothing: 403 with the decision.
    let mut deny = w.input("GET", SECRET, "secrets:read", "203.0.113.9", &alice);
    deny["mint_grant"] = json!({"aud": API, "ttl": 20});
    let (status, d) = post(&c, &s.url("/v1/grants"), &deny).await;
    assert_eq!(
        (status, d["reasons"][0]["code"].as_str()),
        (403, Some("policy.denied"))
    );
    assert!(d.get("grant").is_none());
    // Longer than the bundle allows: capped at the bundle's grant_max_ttl (30 s).
    let mut long = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    long["mint_grant"] = json!({"aud": API, "ttl": 3600});
    let (status, d) = post(&c, &s.url("/v1/grants"), &long).await;
    assert_eq!(status, 200, "{d}");
    let (_, claims) = mandate_core_claims(d["grant"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        30
    );
    // No mint_grant: 400.
    let (status, _) = post(
        &c,
        &s.url("/v1/grants"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(status, 400);
}

fn ask_for(w: &World, alice: &str) -> Value {
    let mut ask = w.input("GET", TRIP, "trips:read", "10.20.0.7", alice);
    ask["mint_grant"] = json!({"aud": API});
    ask
}

fn mandate_core_claims(token: &str) -> (Value, Value) {
    let jws = mandate_core::jose::Jws::parse(token, 1 << 20, true).unwrap();
    (
        Value::Object(jws.header().clone()),
        Value::Object(jws.claims().clone()),
    )
}

/// The value of one sample line of the Prometheus text, e.g.
/// `mandate_decisions_total{code="policy.denied",decision="deny",endpoint="check"}`.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_by_outcome_and_code_with_latency() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    for _ in 0..3 {
        let r = check(
            &c,
            &s,
            "/v1/secrets/db",
            "203.0.113.9",
            &format!("DPoP {alice}"),
            Some(&w.proof(&w.booker, "GET", SECRET, &alice)),
            None,
        )
        .await;
        assert_eq!(r.status().as_u16(), 403);
    }
    for _ in 0..2 {
        let (_, d) = post(
            &c,
            &s.url("/v1/decide"),
            &w.input("GET", SECRET, "secrets:read", "10.20.0.7", &alice),
        )
        .await;
        assert_eq!(d["decision"], "allow");
    }
    let r = c.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(h(&r, "content-type").unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert_eq!(
        sample(
            &text,
            r#"mandate_decisions_total{code="policy.denied",decision="deny",endpoint="check"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"mandate_decisions_total{code="none",decision="allow",endpoint="decide"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"mandate_decision_duration_seconds_count{endpoint="check"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"mandate_decision_duration_seconds_count{endpoint="decide"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains(r#"mandate_decision_duration_seconds_bucket{endpoint="check",le="+Inf"} 3"#),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"mandate_bundle_reloads_total{code="none",result="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"mandate_bundle_info{digest=""#) && text.contains(r#"revision="r1"} 1"#),
        "{text}"
    );
    let health = revision(&c, &s).await;
    assert_eq!(
        (
            health["status"].as_str(),
            health["bundle"]["revision"].as_str()
        ),
        (Some("ok"), Some("r1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_from_a_file_takes_good_bundles_and_keeps_serving_on_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let allow = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    assert_eq!(
        post(&c, &s.url("/v1/decide"), &allow).await.1["decision"],
        "allow"
    );

    // A good new bundle: the booker is suspended in r2.
    w.write_bundle("r2", "suspended", &w.root);
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r2").then_some(())
    })
    .await;
    assert!(got.is_some(), "r2 was not loaded: {}", s.log());
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(d["reasons"][0]["code"], "agent.suspended", "{d}");

    // A bad bundle (signed by a key the service does not trust): r2 keeps serving, reported.
    let rogue = common::key("root-1");
    w.write_bundle("r3-rogue", "active", &rogue);
    let err = eventually(200, || async {
        let hz = revision(&c, &s).await;
        hz["last_reload_error"]["code"].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(
        err.as_deref(),
        Some("bundle.signature_invalid"),
        "{}",
        s.log()
    );
    let hz = revision(&c, &s).await;
    assert_eq!(
        (hz["status"].as_str(), hz["bundle"]["revision"].as_str()),
        (Some("ok"), Some("r2"))
    );
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(d["reasons"][0]["code"], "agent.suspended", "still r2: {d}");
    // Garbage and an expired bundle are refused the same way.
    w.write_raw_bundle("not a bundle");
    let err = eventually(200, || async {
        revision(&c, &s).await["last_reload_error"]["code"]
            .as_str()
            .filter(|c| *c == "bundle.malformed")
            .map(str::to_string)
    })
    .await;
    assert!(err.is_some(), "{}", s.log());
    let mut old = w.contents("r4-expired", "active");
    old["exp"] = json!(common::now() - 5);
    w.write_raw_bundle(&mandate_host::issuer::sign_bundle(&old, &w.root));
    let err = eventually(200, || async {
        revision(&c, &s).await["last_reload_error"]["code"]
            .as_str()
            .filter(|c| *c == "bundle.expired")
            .map(str::to_string)
    })
    .await;
    assert!(err.is_some(), "{}", s.log());
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r2");
    let text = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for code in [
        "bundle.signature_invalid",
        "bundle.malformed",
        "bundle.expired",
    ] {
        assert_eq!(
            sample(
                &text,
                &format!(r#"mandate_bundle_reloads_total{{code="{code}",result="error"}}"#)
            ),
            Some(1.0),
            "{code}: {text}"
        );
    }
    assert!(
        s.log()
            .contains("bundle refused; the previous bundle keeps serving")
    );

    // And a good one after the bad ones is taken.
    w.write_bundle("r5", "active", &w.root);
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r5").then_some(())
    })
    .await;
    assert!(got.is_some(), "{}", s.log());
    let hz = revision(&c, &s).await;
    assert!(hz["last_reload_error"].is_null(), "{hz}");
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(d["decision"], "allow");

    // A rollback: a validly signed bundle issued before the one serving is refused.
    let mut older = w.contents("r0-older", "active");
    older["iat"] = json!(w.now - 3000);
    w.write_raw_bundle(&mandate_host::issuer::sign_bundle(&older, &w.root));
    let err = eventually(200, || async {
        let hz = revision(&c, &s).await;
        hz["last_reload_error"]["code"]
            .as_str()
            .filter(|c| *c == "bundle.rollback")
            .map(str::to_string)
    })
    .await;
    assert!(err.is_some(), "{}", s.log());
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r5");
}

/// A bundle server with ETags that counts conditional requests answered 304.
#[derive(Default)]
struct BundleHost {
    body: std::sync::Mutex<(String, String)>,
    not_modified: AtomicUsize,
    fetches: AtomicUsize,
}

async fn serve_bundles(host: Arc<BundleHost>) -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/bundle.jws",
        axum::routing::get(move |headers: HeaderMap| {
            let host = host.clone();
            async move {
                let (etag, body) = host.body.lock().unwrap().clone();
                if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str())
                {
                    host.not_modified.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                host.fetches.fetch_add(1, Ordering::SeqCst);
                ([("etag", etag)], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/bundle.jws")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_from_a_url_uses_etags() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let host = Arc::new(BundleHost::default());
    *host.body.lock().unwrap() = (
        "\"r1\"".into(),
        mandate_host::issuer::sign_bundle(&w.contents("r1", "active"), &w.root),
    );
    let url = serve_bundles(host.clone()).await;
    let s = Server::start_with_bundle(&w, &url, &[]);
    let c = client();
    // Unchanged: the service asks with If-None-Match and gets 304s.
    let seen = eventually(200, || async {
        (host.not_modified.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    assert!(seen.is_some(), "{}", s.log());
    assert_eq!(host.fetches.load(Ordering::SeqCst), 1);
    // A new ETag: fetched and loaded.
    *host.body.lock().unwrap() = (
        "\"r2\"".into(),
        mandate_host::issuer::sign_bundle(&w.contents("r2", "suspended"), &w.root),
    );
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r2").then_some(())
    })
    .await;
    assert!(got.is_some(), "{}", s.log());
    // A bad bundle behind a new ETag: refused once (then 304s), r2 keeps serving.
    *host.body.lock().unwrap() = ("\"bad\"".into(), "garbage".into());
    let err = eventually(200, || async {
        revision(&c, &s).await["last_reload_error"]["code"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(err.as_deref(), Some("bundle.malformed"));
    let before = host.not_modified.load(Ordering::SeqCst);
    let more = eventually(200, || async {
        (host.not_modified.load(Ordering::SeqCst) >= before + 2).then_some(())
    })
    .await;
    assert!(more.is_some());
    assert_eq!(
        host.fetches.load(Ordering::SeqCst),
        3,
        "the bad bundle is fetched once, not on every poll"
    );
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r2");
    let alice = w.alice();
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(d["reasons"][0]["code"], "agent.suspended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load_loses_no_acknowledged_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(World::new(dir.path()));
    let audit = w.path("audit.jsonl");
    let audit_arg = audit.to_str().unwrap().to_string();
    let acked: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();

    for round in 0..2 {
        let mut s = Server::start(&w, &["--audit", &audit_arg]);
        let base = s.base.clone();
        let alice = Arc::new(w.alice());
        let sent = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (w, base, alice, acked, sent) = (
                w.clone(),
                base.clone(),
                alice.clone(),
                acked.clone(),
                sent.clone(),
            );
            workers.push(tokio::spawn(async move {
                let c = client();
                // Bounded: at most 400 requests per worker; stops at the first request the
                // stopping server did not answer (those were never acknowledged).
                for _ in 0..400 {
                    let proof = w.proof(&w.booker, "GET", SECRET, &alice);
                    sent.fetch_add(1, Ordering::SeqCst);
                    let r = c
                        .get(format!("{base}/v1/check/v1/secrets/db"))
                        .header("host", "api.example.com")
                        .header("x-forwarded-proto", "https")
                        .header("x-forwarded-for", "10.20.0.7")
                        .header("authorization", format!("DPoP {alice}"))
                        .header("dpop", proof)
                        .send()
                        .await;
                    match r {
                        Ok(r) => {
                            assert_eq!(r.status().as_u16(), 200, "{:?}", h(&r, "x-mandate-reason"));
                            acked
                                .lock()
                                .unwrap()
                                .insert(h(&r, "x-mandate-decision-id").unwrap());
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        // SIGTERM while the load runs.
        let target = if round == 0 { 80 } else { 40 };
        let reached = eventually(4000, || async {
            (sent.load(Ordering::SeqCst) >= target).then_some(())
        })
        .await;
        assert!(reached.is_some(), "{}", s.log());
        std::process::Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status()
            .unwrap();
        let status = s.child.wait().unwrap();
        assert!(status.success(), "graceful exit: {status:?}\n{}", s.log());
        assert!(
            s.log()
                .contains("every acknowledged decision is in the audit log"),
            "{}",
            s.log()
        );
        for wk in workers {
            wk.await.unwrap();
        }
    }
    // The chain verifies, and every acknowledged decision is in it.
    let out = common::mandate()
        .args(["audit", "verify", audit.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: HashSet<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["audit"]["decision_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 100, "load ran: {} acknowledged", acked.len());
    let missing: Vec<&String> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the audit log: {missing:?}"
    );
    assert!(report["records"].as_u64().unwrap() >= acked.len() as u64);
}

async fn post_raw(c: &reqwest::Client, url: &str, body: String) -> (u16, Value) {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_and_grants_hand_duplicate_members_to_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let fresh = || w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    let parts = |v: &Value| (v["request"].to_string(), v["credentials"].to_string());
    let bogus = json!({"delegation": ["x.y.z"]});

    // Without duplicates the same documents allow: every deny below is the duplicate's.
    let (req, creds) = parts(&fresh());
    let (status, d) = post_raw(
        &c,
        &s.url("/v1/decide"),
        format!(r#"{{"request": {req}, "credentials": {creds}}}"#),
    )
    .await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );

    type Body = Box<dyn Fn(&str, &str) -> String>;
    let bodies: Vec<(&str, Body)> = vec![
        (
            "context",
            Box::new(|req, creds| {
                format!(
                    r#"{{"request": {req}, "credentials": {creds}, "context": {{"block": true, "block": false}}}}"#
                )
            }),
        ),
        (
            "credentials",
            Box::new(move |req, creds| {
                format!(r#"{{"request": {req}, "credentials": {bogus}, "credentials": {creds}}}"#)
            }),
        ),
        (
            "now",
            Box::new(|req, creds| {
                format!(r#"{{"now": 1, "now": 2, "request": {req}, "credentials": {creds}}}"#)
            }),
        ),
    ];
    for (name, body) in &bodies {
        let (req, creds) = parts(&fresh());
        let (status, d) = post_raw(&c, &s.url("/v1/decide"), body(&req, &creds)).await;
        assert_eq!(
            (
                status,
                d["decision"].as_str(),
                d["reasons"][0]["code"].as_str()
            ),
            (200, Some("deny"), Some("input.malformed")),
            "/v1/decide, duplicate {name}: {d}"
        );
        assert!(d.get("grant").is_none());
        // /v1/grants: a deny (403), and no grant.
        let (req, creds) = parts(&fresh());
        let text = body(&req, &creds);
        let text = format!(
            r#"{{"mint_grant": {{"aud": "{API}"}}, {}"#,
            text.strip_prefix('{').unwrap()
        );
        let (status, d) = post_raw(&c, &s.url("/v1/grants"), text).await;
        assert_eq!(
            (
                status,
                d["decision"].as_str(),
                d["reasons"][0]["code"].as_str()
            ),
            (403, Some("deny"), Some("input.malformed")),
            "/v1/grants, duplicate {name}: {d}"
        );
        assert!(d.get("grant").is_none(), "{d}");
    }
    // A duplicate inside mint_grant (the ttl the service would fill in) is the core's to refuse.
    let (req, creds) = parts(&fresh());
    let (status, d) = post_raw(
        &c,
        &s.url("/v1/grants"),
        format!(
            r#"{{"request": {req}, "credentials": {creds}, "mint_grant": {{"aud": "{API}", "ttl": 1, "ttl": 10}}}}"#
        ),
    )
    .await;
    assert_eq!(
        (status, d["reasons"][0]["code"].as_str()),
        (403, Some("input.malformed")),
        "{d}"
    );
    // Not JSON at all is still a 400 (as before).
    let (status, d) = post_raw(&c, &s.url("/v1/decide"), "{nope".into()).await;
    assert_eq!(
        (status, d["error"]["code"].as_str()),
        (400, Some("input.malformed"))
    );
}

fn reload_errors(text: &str, code: &str) -> f64 {
    sample(
        text,
        &format!(r#"mandate_bundle_reloads_total{{code="{code}",result="error"}}"#),
    )
    .unwrap_or(0.0)
}

async fn metrics_text(c: &reqwest::Client, s: &Server) -> String {
    c.get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_compares_only_the_claims_of_a_verified_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    // r1 serves (iat = now - 60). A rogue key with the trusted kid: the signature does not verify.
    let rogue = common::key("root-1");
    let forge = |revision: &str, iat: i64, exp: i64| {
        let mut v = w.contents(revision, "active");
        v["iat"] = json!(iat);
        v["exp"] = json!(exp);
        mandate_host::issuer::sign_bundle(&v, &rogue)
    };
    let wait_for = |code: &'static str, n: f64| {
        let c = c.clone();
        let s = &s;
        async move {
            eventually(200, || async {
                (reload_errors(&metrics_text(&c, s).await, code) >= n).then_some(())
            })
            .await
        }
    };

    // A forged bundle claiming to be older: refused for its signature, not called a rollback.
    w.write_raw_bundle(&forge("r0-forged-old", w.now - 3000, w.now + 3600));
    assert!(
        wait_for("bundle.signature_invalid", 1.0).await.is_some(),
        "{}",
        s.log()
    );
    // A forged bundle claiming to be expired: the same.
    w.write_raw_bundle(&forge("r0-forged-expired", w.now - 30, w.now - 5));
    assert!(
        wait_for("bundle.signature_invalid", 2.0).await.is_some(),
        "{}",
        s.log()
    );
    // A forged bundle claiming a newer revision and a later iat.
    w.write_raw_bundle(&forge("r9-forged-new", w.now + 600, w.now + 3600));
    assert!(
        wait_for("bundle.signature_invalid", 3.0).await.is_some(),
        "{}",
        s.log()
    );
    let text = metrics_text(&c, &s).await;
    assert_eq!(reload_errors(&text, "bundle.rollback"), 0.0, "{text}");
    assert_eq!(reload_errors(&text, "bundle.expired"), 0.0, "{text}");
    let hz = revision(&c, &s).await;
    assert_eq!(
        (hz["status"].as_str(), hz["bundle"]["revision"].as_str()),
        (Some("ok"), Some("r1")),
        "{hz}"
    );
    assert_eq!(hz["last_reload_error"]["code"], "bundle.signature_invalid");

    // The forged iat did not move what rollback compares against: a genuine bundle issued
    // after r1 (but before the forged iat) is taken...
    let mut r2 = w.contents("r2", "active");
    r2["iat"] = json!(w.now - 30);
    w.write_raw_bundle(&mandate_host::issuer::sign_bundle(&r2, &w.root));
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r2").then_some(())
    })
    .await;
    assert!(got.is_some(), "r2 was not loaded: {}", s.log());
    // ...and a genuine one issued before r2 is a rollback, compared with r2's verified iat.
    let mut r1b = w.contents("r1b", "active");
    r1b["iat"] = json!(w.now - 45);
    w.write_raw_bundle(&mandate_host::issuer::sign_bundle(&r1b, &w.root));
    assert!(
        wait_for("bundle.rollback", 1.0).await.is_some(),
        "{}",
        s.log()
    );
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r2");
}

/// A bundle host on a plain socket: serves `good` with an ETag until `huge` is set, then a
/// body without a length that goes on (up to `HUGE_LIMIT` bytes, so that a client that reads
/// it all is caught, not crashed), counting what it could send.
#[derive(Default)]
struct RawHost {
    good: std::sync::Mutex<String>,
    huge: core::sync::atomic::AtomicBool,
    huge_fetches: AtomicUsize,
    sent: AtomicUsize,
    hung_up: core::sync::atomic::AtomicBool,
}

const HUGE_LIMIT: usize = 64 * 1024 * 1024;

fn raw_bundle_host(host: Arc<RawHost>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let host = host.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0_u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let huge = host.huge.load(Ordering::SeqCst);
                let etag = if huge { "\"huge\"" } else { "\"good\"" };
                if head.contains(&format!("if-none-match: {etag}")) {
                    let _ = s.write_all(
                        b"HTTP/1.1 304 Not Modified\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    return;
                }
                if !huge {
                    let body = host.good.lock().unwrap().clone();
                    let _ = s.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\netag: {etag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                    return;
                }
                host.huge_fetches.fetch_add(1, Ordering::SeqCst);
                let _ = s.write_all(
                    format!("HTTP/1.1 200 OK\r\netag: {etag}\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
                let chunk = vec![b'A'; 64 * 1024];
                let mut sent = 0;
                while sent < HUGE_LIMIT {
                    if s.write_all(&chunk).is_err() {
                        host.hung_up.store(true, Ordering::SeqCst);
                        break;
                    }
                    sent += chunk.len();
                    host.sent.store(sent, Ordering::SeqCst);
                }
            });
        }
    });
    format!("http://{addr}/bundle.jws")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_download_is_capped_and_the_old_bundle_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let host = Arc::new(RawHost::default());
    *host.good.lock().unwrap() =
        mandate_host::issuer::sign_bundle(&w.contents("r1", "active"), &w.root);
    let url = raw_bundle_host(host.clone());
    let s = Server::start_with_bundle(&w, &url, &[]);
    let c = client();
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r1");

    // The host now answers with a body that does not end.
    host.huge.store(true, Ordering::SeqCst);
    let err = eventually(400, || async {
        revision(&c, &s).await["last_reload_error"]["code"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(err.as_deref(), Some("bundle.too_large"), "{}", s.log());
    // The service hung up after the limit (plus what the sockets buffer) instead of reading on.
    let hung_up = eventually(200, || async {
        host.hung_up.load(Ordering::SeqCst).then_some(())
    })
    .await;
    assert!(
        hung_up.is_some(),
        "the service read {} bytes of an oversized body",
        host.sent.load(Ordering::SeqCst)
    );
    assert!(host.sent.load(Ordering::SeqCst) < HUGE_LIMIT);
    // r1 keeps serving and deciding.
    let hz = revision(&c, &s).await;
    assert_eq!(
        (hz["status"].as_str(), hz["bundle"]["revision"].as_str()),
        (Some("ok"), Some("r1")),
        "{hz}"
    );
    let alice = w.alice();
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice),
    )
    .await;
    assert_eq!(d["decision"], "allow", "{d}");
    // Refused once for its ETag (then 304s), not fetched again on every poll.
    tokio::time::sleep(core::time::Duration::from_millis(600)).await;
    assert_eq!(host.huge_fetches.load(Ordering::SeqCst), 1);
    let text = metrics_text(&c, &s).await;
    assert_eq!(reload_errors(&text, "bundle.too_large"), 1.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_bundle_file_is_refused_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let c = client();
    // 8 MiB of a JWS-looking line, far over the limit.
    w.write_raw_bundle(&"A".repeat(8 * 1024 * 1024));
    let err = eventually(200, || async {
        revision(&c, &s).await["last_reload_error"]["code"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(err.as_deref(), Some("bundle.too_large"), "{}", s.log());
    assert_eq!(revision(&c, &s).await["bundle"]["revision"], "r1");
}
