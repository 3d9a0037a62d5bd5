//! `mandate serve` over real HTTP on 127.0.0.1:0: the decide, grants and ext_authz check
//! endpoints, metrics, body limits, hot reload (file and URL with ETag, good and bad bundles),
//! and a restart under load that loses no acknowledged audit record.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::HashSet;
use std::sync::Arc;

use common::{API, SECRET, Server, TRIP, World, client, eventually, metrics, post, sample};
use serde_json::{Value, json};

/// The flag for servers that `check` talks to: two proxies in front (an edge that appended the
/// client's address, then Envoy, which appended the edge's).
const TWO_HOPS: [&str; 2] = ["--trusted-hops", "2"];

/// An ext_authz check as Envoy sends it behind an edge proxy: `x-forwarded-for: <client>,
/// <edge>` (serve started with `TWO_HOPS`).
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
    let s = Server::start(
        &w,
        &[
            TWO_HOPS[0],
            TWO_HOPS[1],
            "--route",
            "POST /v1/trips/* trips:book",
        ],
    );
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

    // Untrusted client address (the one the edge proxy appended).
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
        .header("x-forwarded-for", "10.20.0.7, 10.0.0.1")
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
        .header("x-forwarded-for", "10.20.0.7, 10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h(&r, "x-mandate-reason").as_deref(),
        Some("credentials.missing")
    );
    // A method no route names is refused before anything else (no decision without a scope check).
    let r = c
        .put(s.url("/v1/check/v1/trips/42"))
        .header("host", "api.example.com")
        .header("x-forwarded-for", "10.20.0.7, 10.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("request.unrouted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_minted_only_after_an_allow_and_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &TWO_HOPS);
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

    // A grant is presented with a proof by the agent's key (`ath` = the grant's hash).
    let auth = format!("Mandate-Grant {grant}");
    let grant_proof = |uri: &str, g: &str| w.proof(&w.booker, "GET", uri, g);
    // Alone (say, copied off the wire) it is refused, and that costs the owner nothing.
    let r = check(&c, &s, "/v1/trips/42", "10.20.0.7", &auth, None, None).await;
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("proof.missing"))
    );
    let p = grant_proof(TRIP, &grant);
    let r = check(&c, &s, "/v1/trips/42", "10.20.0.7", &auth, Some(&p), None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(h(&r, "x-mandate-user").as_deref(), Some("alice"));
    // Used once: again, even with a fresh proof, it is a replay.
    let p = grant_proof(TRIP, &grant);
    let r = check(&c, &s, "/v1/trips/42", "10.20.0.7", &auth, Some(&p), None).await;
    assert_eq!(
        (r.status().as_u16(), h(&r, "x-mandate-reason").as_deref()),
        (403, Some("replay.detected"))
    );
    // Bound to its request: another URI is refused.
    let (_, d) = post(&c, &s.url("/v1/grants"), &ask_for(&w, &alice)).await;
    let g2 = d["grant"].as_str().unwrap().to_string();
    let p2 = grant_proof("https://api.example.com/v1/trips/43", &g2);
    let g2 = format!("Mandate-Grant {g2}");
    let r = check(&c, &s, "/v1/trips/43", "10.20.0.7", &g2, Some(&p2), None).await;
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
    let (header, claims) = unverified_parts(token).unwrap();
    (Value::Object(header), Value::Object(claims))
}

/// Header and payload of a JWS the core parses, decoded without verifying it (the core has no
/// accessor for unverified claims; a test that re-signs or inspects decodes them itself).
fn unverified_parts(
    token: &str,
) -> Option<(
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
)> {
    let jws = policy_core::jose::Unverified::parse(token, 1 << 20, true).ok()?;
    let bytes = policy_core::b64::decode(token.split('.').nth(1)?)?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some((jws.header().clone(), claims)),
        _ => None,
    }
}

/// The value of one sample line of the Prometheus text, e.g.
/// `mandate_decisions_total{code="policy.denied",decision="deny",endpoint="check"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_by_outcome_and_code_with_latency() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &TWO_HOPS);
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

/// A restart during a bundle outage: the only bundle at hand verified but expired. serve must
/// not exit (a crash loop under a supervisor); it serves the bundle, every decision denies with
/// `bundle.expired`, /readyz is 503 and says why (/healthz, liveness, stays 200: restarting
/// would not help), and the first fresh bundle takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_first_bundle_denies_until_a_fresh_one_loads() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let mut old = w.contents("r0-expired", "active");
    old["exp"] = json!(common::now() - 5);
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&old, &w.root));
    let s = Server::start(&w, &[]);
    let c = client();
    let alice = w.alice();
    let health = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let hz: Value = health.json().await.unwrap();
    assert_eq!(
        (
            hz["status"].as_str(),
            hz["bundle_ok"].as_bool(),
            hz["bundle"]["revision"].as_str(),
            hz["bundle"]["expired"].as_bool(),
            hz["last_reload_error"]["code"].as_str(),
        ),
        (
            Some("ok"),
            Some(false),
            Some("r0-expired"),
            Some(true),
            Some("bundle.expired")
        ),
        "{hz}"
    );
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let rz: Value = ready.json().await.unwrap();
    assert_eq!(
        (
            rz["status"].as_str(),
            rz["problems"][0]["part"].as_str(),
            rz["problems"][0]["code"].as_str(),
            rz["problems"].as_array().map(Vec::len),
        ),
        (
            Some("unavailable"),
            Some("bundle"),
            Some("bundle.expired"),
            Some(1)
        ),
        "{rz}"
    );
    let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(
        (
            status,
            d["decision"].as_str(),
            d["reasons"][0]["code"].as_str()
        ),
        (200, Some("deny"), Some("bundle.expired")),
        "{d}"
    );
    assert!(
        s.log().contains("outside its validity window"),
        "{}",
        s.log()
    );

    w.write_bundle("r1", "active", &w.root);
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r1").then_some(())
    })
    .await;
    assert!(
        got.is_some(),
        "the fresh bundle was not loaded: {}",
        s.log()
    );
    let health = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let hz: Value = health.json().await.unwrap();
    assert!(hz["last_reload_error"].is_null(), "{hz}");
    assert_eq!(hz["bundle_ok"], true, "{hz}");
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    let (_, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(d["decision"], "allow", "{d}");
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
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&old, &w.root));
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
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&older, &w.root));
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
        host_rust::issuer::sign_bundle(&w.contents("r1", "active"), &w.root),
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
        host_rust::issuer::sign_bundle(&w.contents("r2", "suspended"), &w.root),
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
    restart_under_load(false).await;
}

/// As above with `kill -9`: no graceful stop, a torn tail left behind (repaired by the next
/// start), and still every decision a client received an answer for is in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_audit_record() {
    restart_under_load(true).await;
}

/// Two rounds of load against serve with an audit log, each ended by SIGTERM (or SIGKILL when
/// `kill`); then the chain verifies and holds every acknowledged decision.
async fn restart_under_load(kill: bool) {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(World::new(dir.path()));
    let audit = w.path("audit.jsonl");
    let audit_arg = audit.to_str().unwrap().to_string();
    let acked: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();

    for round in 0..2 {
        // One proxy in front (it appended 10.20.0.7).
        let mut s = Server::start(&w, &["--audit", &audit_arg, "--trusted-hops", "1"]);
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
        let signal = if kill { "-KILL" } else { "-TERM" };
        std::process::Command::new("kill")
            .args([signal, &s.child.id().to_string()])
            .status()
            .unwrap();
        let status = s.child.wait().unwrap();
        if !kill {
            assert!(status.success(), "graceful exit: {status:?}\n{}", s.log());
            assert!(
                s.log()
                    .contains("every acknowledged decision is in the audit log"),
                "{}",
                s.log()
            );
        }
        for wk in workers {
            wk.await.unwrap();
        }
    }
    if kill {
        // The next start repairs what the kill tore off the end (never an acknowledged record).
        let s = Server::start(&w, &["--audit", &audit_arg]);
        assert!(s.terminate().success());
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
        host_rust::issuer::sign_bundle(&v, &rogue)
    };
    let wait_for = |code: &'static str, n: f64| {
        let c = c.clone();
        let s = &s;
        async move {
            eventually(200, || async {
                (reload_errors(&metrics(&c, s).await, code) >= n).then_some(())
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
    let text = metrics(&c, &s).await;
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
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&r2, &w.root));
    let got = eventually(200, || async {
        (revision(&c, &s).await["bundle"]["revision"] == "r2").then_some(())
    })
    .await;
    assert!(got.is_some(), "r2 was not loaded: {}", s.log());
    // ...and a genuine one issued before r2 is a rollback, compared with r2's verified iat.
    let mut r1b = w.contents("r1b", "active");
    r1b["iat"] = json!(w.now - 45);
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&r1b, &w.root));
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
        host_rust::issuer::sign_bundle(&w.contents("r1", "active"), &w.root);
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
    let text = metrics(&c, &s).await;
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

/// A response read off a raw HTTP/1.1 exchange.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn reason(&self) -> Option<&str> {
        self.header("x-mandate-reason")
    }

    fn codes(&self) -> Vec<String> {
        self.body["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sends `GET <target>` with exactly these header fields, in this order (repeats kept, nothing
/// normalized: an HTTP client library would resolve `..` and fill in Host), over a plain socket.
fn raw(s: &Server, method: &str, target: &str, headers: &[(String, String)]) -> Raw {
    use std::io::{Read, Write};
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(core::time::Duration::from_secs(20)))
        .unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).unwrap();
    let mut text = Vec::new();
    conn.read_to_end(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
        .collect()
}

/// The defect: routes matched the raw path (`/v1/trips/../secrets/db` routed as trips:read)
/// while the core saw the normalized one (/v1/secrets/db). Now the core's binding refuses an
/// ambiguous path before routing, and routes on the path the core sees.
#[test]
fn check_refuses_paths_that_route_as_one_thing_and_read_as_another() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    // A delegation that covers trips only; the secret is what the path really names.
    let trips = w.delegation("alice", "trips:read", w.now + 900);
    for path in [
        "/v1/trips/../secrets/db",
        "/v1/trips/%2e%2e/secrets/db",
        "/v1/trips/./../secrets/db",
        "/v1/trips/%2E%2E/secrets/db",
        "/v1/trips/..%2fsecrets%2fdb",
    ] {
        for htu in [SECRET.to_string(), format!("https://api.example.com{path}")] {
            let r = raw(
                &s,
                "GET",
                &format!("/v1/check{path}"),
                &fields(&[
                    ("host", "api.example.com"),
                    ("authorization", &format!("DPoP {trips}")),
                    ("dpop", &w.proof(&w.booker, "GET", &htu, &trips)),
                ]),
            );
            assert_eq!(
                (r.status, r.reason()),
                (403, Some("request.invalid")),
                "{path} (proof for {htu}): {r:?}"
            );
            assert_eq!(r.body["decision"], "deny");
            assert_eq!(r.codes(), ["request.invalid"]);
        }
    }
    // Routes match the normalized path: an encoded unreserved character routes as what it is.
    let r = raw(
        &s,
        "GET",
        "/v1/check/v1/%74rips/42",
        &fields(&[
            ("host", "api.example.com"),
            ("authorization", &format!("DPoP {trips}")),
            ("dpop", &w.proof(&w.booker, "GET", TRIP, &trips)),
        ]),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // And the same secret, asked for plainly, is the scope's to refuse.
    let r = raw(
        &s,
        "GET",
        "/v1/check/v1/secrets/db",
        &fields(&[
            ("host", "api.example.com"),
            ("authorization", &format!("DPoP {trips}")),
            ("dpop", &w.proof(&w.booker, "GET", SECRET, &trips)),
        ]),
    );
    assert_eq!(r.reason(), Some("delegation.scope_insufficient"), "{r:?}");
}

/// The defect: a Host carrying a path and query (`api.example.com/v1/trips/1?`) was pasted
/// into the URI, so the proof, the audit and the guardrails saw another request.
#[test]
fn check_refuses_a_host_that_is_not_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let alice = w.alice();
    // What the core would have seen: https://api.example.com/v1/trips/1?/v1/admin/x
    let injected = "https://api.example.com/v1/trips/1?/v1/admin/x";
    for (host, htu) in [
        ("api.example.com/v1/trips/1?", injected),
        (
            "api.example.com/v1/trips/1?",
            "https://api.example.com/v1/trips/1",
        ),
        ("api.example.com:443:1", TRIP),
        ("user@api.example.com", TRIP),
    ] {
        let r = raw(
            &s,
            "GET",
            "/v1/check/v1/admin/x",
            &fields(&[
                ("host", host),
                ("authorization", &format!("DPoP {alice}")),
                ("dpop", &w.proof(&w.booker, "GET", htu, &alice)),
            ]),
        );
        assert_eq!(
            (r.status, r.reason()),
            (403, Some("request.invalid")),
            "Host {host}: {r:?}"
        );
        assert_eq!(r.codes(), ["request.invalid"]);
    }
    // Two Host headers, or a request target whose authority disagrees with Host.
    let r = raw(
        &s,
        "GET",
        "/v1/check/v1/trips/42",
        &fields(&[
            ("host", "api.example.com"),
            ("host", "evil.example"),
            ("authorization", &format!("DPoP {alice}")),
            ("dpop", &w.proof(&w.booker, "GET", TRIP, &alice)),
        ]),
    );
    assert_eq!(r.reason(), Some("request.header_repeated"), "{r:?}");
    let r = raw(
        &s,
        "GET",
        "https://api.example.com/v1/check/v1/trips/42",
        &fields(&[
            ("host", "evil.example"),
            ("authorization", &format!("DPoP {alice}")),
            ("dpop", &w.proof(&w.booker, "GET", TRIP, &alice)),
        ]),
    );
    assert_eq!(r.reason(), Some("request.invalid"), "{r:?}");
}

/// The defect: of two `DPoP` headers the first was taken (RFC 9449 §4.3: exactly one).
#[test]
fn check_refuses_repeated_credential_headers() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &[]);
    let alice = w.alice();
    let auth = format!("DPoP {alice}");
    let good = w.proof(&w.booker, "GET", TRIP, &alice);
    let other = w.proof(&w.booker, "GET", TRIP, &alice);
    for (what, headers) in [
        (
            "two DPoP proofs",
            vec![
                ("authorization", auth.as_str()),
                ("dpop", &good),
                ("DPoP", &other),
            ],
        ),
        (
            "a proof twice",
            vec![
                ("authorization", auth.as_str()),
                ("dpop", &good),
                ("dpop", &good),
            ],
        ),
        (
            "a second, empty DPoP",
            vec![
                ("authorization", auth.as_str()),
                ("dpop", &good),
                ("dpop", ""),
            ],
        ),
        (
            "two Authorization",
            vec![
                ("authorization", auth.as_str()),
                ("authorization", "Bearer x"),
                ("dpop", &good),
            ],
        ),
        (
            "two Mandate-Chain",
            vec![
                ("authorization", auth.as_str()),
                ("dpop", &good),
                ("mandate-chain", "a"),
                ("mandate-chain", "b"),
            ],
        ),
    ] {
        let mut h = fields(&[("host", "api.example.com")]);
        h.extend(fields(&headers));
        let r = raw(&s, "GET", "/v1/check/v1/trips/42", &h);
        assert_eq!(
            (r.status, r.reason()),
            (403, Some("request.header_repeated")),
            "{what}: {r:?}"
        );
        assert_eq!(r.codes(), ["request.header_repeated"], "{what}");
    }
    // The same request with one DPoP header is allowed (the proofs above were never used).
    let r = raw(
        &s,
        "GET",
        "/v1/check/v1/trips/42",
        &fields(&[
            ("host", "api.example.com"),
            ("authorization", &auth),
            ("dpop", &good),
        ]),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

fn audited_ips(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["audit"]["request"]["ip"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The defect: the client address was the first `x-forwarded-for` entry, which the client
/// writes. Now it is the socket peer (default `--trusted-hops 0`), or the entry the trusted
/// proxies appended, counted from the right; and `x-forwarded-proto` is believed only behind them.
#[test]
fn check_takes_the_client_address_from_the_peer_or_the_trusted_hops() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let alice = w.alice();
    let ask = |s: &Server, xff: &[&str], proto: Option<&str>| {
        let mut h = fields(&[
            ("host", "api.example.com"),
            ("authorization", &format!("DPoP {alice}")),
            ("dpop", &w.proof(&w.booker, "GET", SECRET, &alice)),
        ]);
        for x in xff {
            h.push(("x-forwarded-for".into(), (*x).to_string()));
        }
        if let Some(p) = proto {
            h.push(("x-forwarded-proto".into(), p.to_string()));
        }
        raw(s, "GET", "/v1/check/v1/secrets/db", &h)
    };

    // No proxy trusted: the peer (loopback, not the office network) decides, whatever the
    // client wrote, and the audit records the peer.
    let audit0 = dir.path().join("audit-0.jsonl");
    let s = Server::start(&w, &["--audit", audit0.to_str().unwrap()]);
    for xff in [
        &["10.20.0.7"][..],
        &["10.20.0.7, 10.20.0.8"],
        &["10.20.0.7", "10.20.0.7"],
    ] {
        let r = ask(&s, xff, None);
        assert_eq!(
            (r.status, r.reason()),
            (403, Some("policy.denied")),
            "x-forwarded-for {xff:?}: {r:?}"
        );
    }
    // x-forwarded-proto is not believed either: the scheme is --scheme (https), so a client
    // claiming http changes nothing (the proof for https still matches).
    let r = ask(&s, &[], Some("http"));
    assert_eq!(r.reason(), Some("policy.denied"), "{r:?}");
    assert!(
        audited_ips(&audit0).iter().all(|ip| ip == "127.0.0.1"),
        "{:?}",
        audited_ips(&audit0)
    );
    drop(s);

    // One trusted proxy (Envoy with use_remote_address: true appends the peer it saw): the
    // rightmost entry is the client; a forged first hop is ignored.
    let audit1 = dir.path().join("audit-1.jsonl");
    let s = Server::start(
        &w,
        &["--trusted-hops", "1", "--audit", audit1.to_str().unwrap()],
    );
    let r = ask(&s, &["10.20.0.7, 203.0.113.9"], None);
    assert_eq!(
        (r.status, r.reason()),
        (403, Some("policy.denied")),
        "forged first hop: {r:?}"
    );
    // Repeated fields are one list, in order.
    let r = ask(&s, &["10.20.0.7", "203.0.113.9"], None);
    assert_eq!(r.reason(), Some("policy.denied"), "{r:?}");
    let r = ask(&s, &["203.0.113.9, 10.20.0.7"], None);
    assert_eq!(
        r.status, 200,
        "the appended hop is in the office network: {r:?}"
    );
    // Fewer entries than trusted proxies: the request did not come through them.
    let r = ask(&s, &[], None);
    assert_eq!(r.reason(), Some("request.invalid"), "{r:?}");
    // Behind the trusted proxy, x-forwarded-proto names the scheme: the origin is then
    // http://api.example.com, which the token (for https://api.example.com) does not name.
    let r = ask(&s, &["10.20.0.7"], Some("http"));
    assert_eq!(r.reason(), Some("token.audience_mismatch"), "{r:?}");
    assert_eq!(
        audited_ips(&audit1)[..3],
        ["203.0.113.9", "203.0.113.9", "10.20.0.7"]
    );
}

/// `--audience`: the decision point's own identifier replaces the origin as what a token's
/// `aud` must name.
#[test]
fn check_names_the_origin_or_the_configured_audience() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let alice = w.alice();
    let ask = |s: &Server, host: &str| {
        let uri = format!("https://{host}/v1/trips/42");
        raw(
            s,
            "GET",
            "/v1/check/v1/trips/42",
            &fields(&[
                ("host", host),
                ("authorization", &format!("DPoP {alice}")),
                ("dpop", &w.proof(&w.booker, "GET", &uri, &alice)),
            ]),
        )
    };
    let s = Server::start(&w, &[]);
    assert_eq!(ask(&s, "api.example.com").status, 200);
    let r = ask(&s, "127.0.0.1:8080");
    assert_eq!(r.reason(), Some("token.audience_mismatch"), "{r:?}");
    drop(s);
    let s = Server::start(&w, &["--audience", API]);
    assert_eq!(ask(&s, "127.0.0.1:8080").status, 200);
    drop(s);
    let s = Server::start(&w, &["--audience", "https://other.example.com"]);
    let r = ask(&s, "api.example.com");
    assert_eq!(r.reason(), Some("token.audience_mismatch"), "{r:?}");
}

/// Obligations: serve enforces none, so it declares none; a guardrail that asks for a person's
/// approval is a 403 `approval.required`, any other obligation `obligation.unsupported`.
/// `/v1/decide` callers declare what they enforce (`enforces`), and serve passes it on.
#[test]
fn check_denies_obligations_it_cannot_enforce_and_decide_passes_enforces_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let mut contents = w.contents("r1", "active");
    contents["policies"]["guardrails.rego"] = json!(format!(
        "{}\n{}",
        common::GUARDRAILS,
        r#"obligations["require_approval"] := {"reason": "bookings need the traveller's approval"} if input.request.action == "trips:book"

obligations["redact_response"] := true if input.request.action == "trips:export"
"#
    ));
    w.write_raw_bundle(&host_rust::issuer::sign_bundle(&contents, &w.root));
    let s = Server::start(
        &w,
        &[
            "--route",
            "POST /v1/trips trips:book",
            "--route",
            "GET /v1/exports/* trips:export",
        ],
    );
    let token = w.delegation("alice", "trips:read trips:book trips:export", w.now + 900);
    let ask = |method: &str, path: &str| {
        let uri = format!("{API}{path}");
        raw(
            &s,
            method,
            &format!("/v1/check{path}"),
            &fields(&[
                ("host", "api.example.com"),
                ("authorization", &format!("DPoP {token}")),
                ("dpop", &w.proof(&w.booker, method, &uri, &token)),
                ("content-length", "0"),
            ]),
        )
    };
    let r = ask("POST", "/v1/trips");
    assert_eq!(
        (r.status, r.reason()),
        (403, Some("approval.required")),
        "{r:?}"
    );
    assert_eq!(r.body["decision"], "deny");
    assert_eq!(r.codes(), ["approval.required"]);
    let r = ask("GET", "/v1/exports/1");
    assert_eq!(
        (r.status, r.reason()),
        (403, Some("obligation.unsupported")),
        "{r:?}"
    );
    assert_eq!(r.codes(), ["obligation.unsupported"]);
    // Without an obligation the same token is allowed.
    assert_eq!(ask("GET", "/v1/trips/42").status, 200);

    // /v1/decide: the caller's `enforces` reaches the core.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = client();
    let export = format!("{API}/v1/exports/1");
    let mut input = w.input("GET", &export, "trips:export", "10.20.0.7", &token);
    let (_, d) = rt.block_on(post(&c, &s.url("/v1/decide"), &input));
    assert_eq!(d["reasons"][0]["code"], "obligation.unsupported", "{d}");
    input = w.input("GET", &export, "trips:export", "10.20.0.7", &token);
    input["enforces"] = json!(["redact_response"]);
    let (_, d) = rt.block_on(post(&c, &s.url("/v1/decide"), &input));
    assert_eq!(d["decision"], "allow", "{d}");
    assert_eq!(d["obligations"]["redact_response"], true, "{d}");
    // Declaring it does not make approval optional.
    let book = format!("{API}/v1/trips");
    let mut input = w.input("POST", &book, "trips:book", "10.20.0.7", &token);
    input["enforces"] = json!(["require_approval"]);
    let (_, d) = rt.block_on(post(&c, &s.url("/v1/decide"), &input));
    assert_eq!(d["reasons"][0]["code"], "approval.required", "{d}");
}

/// The vectors' key for `label` (tests/testkit/src/world.rs: the scalar is SHA-256 of
/// `mandate-vectors/<label>`, re-hashed while out of range).
fn vector_key(label: &str, kid: &str) -> policy_core::PrivateJwk {
    use sha2::{Digest, Sha256};
    let mut seed: [u8; 32] = Sha256::digest(format!("mandate-vectors/{label}").as_bytes()).into();
    loop {
        if let Ok(k) = policy_core::PrivateJwk::from_scalar_bytes(&seed) {
            return k.with_kid(Some(kid.to_string()));
        }
        seed = Sha256::digest(seed).into();
    }
}

/// Re-signs the vectors' tokens `delta` seconds later: the same headers and claims, every time
/// claim (`iat`, `exp`, `nbf`) moved by `delta`, and the hashes that bind one token to another
/// (`parent`, `ath`) recomputed for the re-signed tokens; each with the key that signed it.
/// serve's clock is the wall clock, and a decision point has no business letting anyone set it;
/// moving the tokens instead keeps each case as it was, `delta` seconds on.
struct Resigner {
    delta: i64,
    keys: Vec<policy_core::PrivateJwk>,
    /// Old token hash → re-signed token.
    by_hash: std::collections::HashMap<String, String>,
}

impl Resigner {
    fn new(delta: i64) -> Resigner {
        let keys = [
            ("bundle-root", "root-1"),
            ("idp", "idp-1"),
            ("pdp", "pdp-1"),
            ("agent-travel-booker", "tb-1"),
            ("agent-summarizer", "sum-1"),
        ]
        .iter()
        .map(|(l, k)| vector_key(l, k))
        .collect();
        Resigner {
            delta,
            keys,
            by_hash: std::collections::HashMap::new(),
        }
    }

    fn key(&self, header: &serde_json::Map<String, Value>) -> policy_core::PrivateJwk {
        let found = if let Some(jwk) = header.get("jwk") {
            let jkt = policy_core::PublicJwk::from_value(jwk)
                .unwrap()
                .thumbprint();
            self.keys.iter().find(|k| k.public().thumbprint() == jkt)
        } else {
            let kid = header["kid"].as_str().unwrap();
            self.keys.iter().find(|k| k.public().kid() == Some(kid))
        };
        // The header keeps its own kid (or none); the key adds nothing.
        found
            .unwrap_or_else(|| panic!("no vector key for {header:?}"))
            .clone()
            .with_kid(None)
    }

    /// The re-signed token, or `value` as it was when it is not a JWS.
    fn token(&mut self, value: &str) -> String {
        use policy_core::token_hash;
        let Some((header, claims)) = unverified_parts(value) else {
            return value.to_string();
        };
        let old = token_hash(value);
        if let Some(new) = self.by_hash.get(&old) {
            return new.clone();
        }
        let mut claims = Value::Object(claims);
        for k in ["iat", "exp", "nbf"] {
            if let Some(t) = claims[k].as_i64() {
                claims[k] = json!(t + self.delta);
            }
        }
        for k in ["parent", "ath"] {
            if let Some(bound) = claims[k].as_str().and_then(|h| self.by_hash.get(h)) {
                claims[k] = json!(token_hash(bound));
            }
        }
        let new = policy_core::jose::sign(&header, &claims, &self.key(&header));
        self.by_hash.insert(old, new.clone());
        new
    }

    /// A header field's value with its tokens re-signed (`Authorization: <scheme> <token>`,
    /// `Mandate-Chain: <token> ...`, `DPoP: <proof>`).
    fn field(&mut self, name: &str, value: &str) -> String {
        match name.to_ascii_lowercase().as_str() {
            "authorization" => match value.split_once(' ') {
                Some((scheme, t)) => format!("{scheme} {}", self.token(t)),
                None => value.to_string(),
            },
            "mandate-chain" => value
                .split(' ')
                .map(|t| self.token(t))
                .collect::<Vec<_>>()
                .join(" "),
            "dpop" => self.token(value),
            _ => value.to_string(),
        }
    }

    /// Re-signs a request's fields: ancestors first, then what they bind (a hop names its
    /// parent; a proof the token it is presented with).
    fn fields(&mut self, headers: &[(String, String)]) -> Vec<(String, String)> {
        let mut out = headers.to_vec();
        for pass in ["mandate-chain", "authorization", "dpop"] {
            for (n, v) in &mut out {
                if n.eq_ignore_ascii_case(pass) {
                    *v = self.field(n, v);
                }
            }
        }
        out
    }
}

/// Header fields, in order.
type Fields = Vec<(String, String)>;

/// Cases of tests/vectors/http.json that serve's check endpoint cannot express, and why.
const NOT_OVER_CHECK: [(&str, &str); 3] = [
    (
        "http/approval-required",
        "its guardrail reads input.context (amount); /v1/check passes no host context \
         (approval.required over /v1/check: check_denies_obligations_it_cannot_enforce_...)",
    ),
    (
        "http/obligation-unsupported",
        "its guardrail reads input.context (redact); /v1/check passes no host context \
         (obligation.unsupported over /v1/check: check_denies_obligations_it_cannot_enforce_...)",
    ),
    (
        "http/obligation-enforced",
        "it needs input.context and enforces: [redact_response]; serve enforces no \
         obligation, so it declares none (by design)",
    ),
];

/// Cases whose outcome needs the vector's socket peer (10.20.0.7, the trusted network): over
/// loopback the peer is 127.0.0.1, so they are replayed only through `--trusted-hops 1`, with
/// the vector's peer as the hop a trusted proxy appended.
const PEER_NOT_LOOPBACK: [&str; 1] = ["http/allow-secrets-from-trusted-peer"];

/// tests/vectors/http.json, replayed as real HTTP requests through a real `mandate serve`:
/// every case's method, authority, raw path and header fields (in order, repeats kept),
/// bound with the vectors' routes and trusted hops, decided against the vectors' bundle;
/// compared on the decision, the status, `x-mandate-reason` and every reason code.
///
/// Services with `--trusted-hops 0` (the peer is loopback) and `--trusted-hops 1` (and the
/// case's `--unrouted`). Every case goes to the second (a `trusted_hops: 0` case with its peer appended to X-Forwarded-For, as
/// the one trusted proxy would: the binding's client address is then the vector's peer), and
/// every `trusted_hops: 0` case whose outcome does not need a non-loopback peer also goes to
/// the first, exactly as it is. The tokens are re-signed at the wall clock (`Resigner`).
#[test]
fn http_vectors_replay_through_serve() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/http.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vnow = doc["now"].as_i64().unwrap();
    let load: Value = serde_json::from_str(doc["loads"]["default"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The vectors' bundle, re-signed at the wall clock under the vectors' root key.
    let mut bundle_signer = Resigner::new(common::now() - vnow);
    let root = vector_key("bundle-root", "root-1");
    assert_eq!(
        json!([root.public().to_json_value()]),
        load["trust_keys"],
        "the vectors' root key is derived as tests/testkit derives it"
    );
    let bundle = bundle_signer.token(load["bundle"].as_str().unwrap());
    std::fs::write(dir.path().join("bundle.jws"), &bundle).unwrap();
    std::fs::write(
        dir.path().join("root.pub.jwk"),
        root.public().to_json_value().to_string(),
    )
    .unwrap();

    // The vectors' routes (every case has the same binding).
    let first: Value = serde_json::from_str(doc["cases"][0]["input"].as_str().unwrap()).unwrap();
    let routes = first["binding"]["routes"].clone();
    let mut args: Vec<String> = vec![
        "--bundle".into(),
        dir.path().join("bundle.jws").to_str().unwrap().into(),
        "--trust".into(),
        dir.path().join("root.pub.jwk").to_str().unwrap().into(),
    ];
    for r in routes.as_array().unwrap() {
        args.push("--route".into());
        let mut spec = format!(
            "{} {} {}",
            r["method"].as_str().unwrap(),
            r["path"].as_str().unwrap(),
            r["action"].as_str().unwrap()
        );
        if let Some(res) = r["resource"].as_str() {
            spec.push_str(&format!(" {res}"));
        }
        args.push(spec);
    }
    // One service per (trusted hops, unrouted) that some case needs, started when first needed.
    let mut servers: std::collections::HashMap<(u64, String), Server> =
        std::collections::HashMap::new();

    let (mut replayed, mut skipped) = (0, Vec::new());
    let mut replayed_cases = std::collections::BTreeSet::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let input: Value = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
        assert_eq!(input["binding"]["routes"], routes, "{name}");
        if let Some((_, why)) = NOT_OVER_CHECK.iter().find(|(n, _)| *n == name) {
            skipped.push(format!("{name}: {why}"));
            continue;
        }
        for k in input.as_object().unwrap().keys() {
            assert!(
                ["now", "http", "binding"].contains(&k.as_str()),
                "{name}: `{k}` cannot be sent to /v1/check; list the case in NOT_OVER_CHECK"
            );
        }
        let http = &input["http"];
        assert_eq!(
            http["scheme"], "https",
            "{name}: serve runs with --scheme https"
        );
        for k in input["binding"].as_object().unwrap().keys() {
            assert!(
                ["routes", "trusted_hops", "unrouted"].contains(&k.as_str()),
                "{name}: binding.{k} has no serve flag"
            );
        }
        let hops = input["binding"]["trusted_hops"].as_u64().unwrap_or(0);
        let unrouted = input["binding"]["unrouted"]
            .as_str()
            .unwrap_or("deny")
            .to_string();
        let headers: Vec<(String, String)> = http["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let authority = http["authority"].as_str().unwrap();
        let path = http["path"].as_str().unwrap();
        let method = http["method"].as_str().unwrap();
        let has_host = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
        // HTTP/1.1 carries an authority in the Host header, or, when the vector also has a
        // Host header, in an absolute-form request target.
        let (target, mut sent) = if has_host {
            (format!("https://{authority}/v1/check{path}"), Vec::new())
        } else {
            (
                format!("/v1/check{path}"),
                vec![("Host".to_string(), authority.to_string())],
            )
        };
        // Fresh tokens for this case, the wall clock's now standing for the vectors' now.
        let mut resign = Resigner::new(common::now() - vnow);
        sent.extend(resign.fields(&headers));
        let peer_ip: core::net::SocketAddr = http["peer"].as_str().unwrap().parse().unwrap();

        let mut runs: Vec<(u64, Fields, &str)> = Vec::new();
        if hops == 0 {
            let mut appended = sent.clone();
            appended.push(("X-Forwarded-For".into(), peer_ip.ip().to_string()));
            runs.push((
                1,
                appended,
                "--trusted-hops 1, the peer as the appended hop",
            ));
            if PEER_NOT_LOOPBACK.contains(&name) {
                skipped.push(format!(
                    "{name} at --trusted-hops 0: needs the socket peer {peer_ip}, loopback is 127.0.0.1 \
                     (replayed at --trusted-hops 1)"
                ));
            } else {
                runs.push((0, sent.clone(), "--trusted-hops 0, the loopback peer"));
            }
        } else {
            assert_eq!(hops, 1, "{name}");
            runs.push((1, sent.clone(), "--trusted-hops 1"));
        }
        let want_decision = case["expect"]["decision"].as_str().unwrap();
        let want_codes: Vec<String> = case["expect"]["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        for (hops, fields, how) in runs {
            let server = servers.entry((hops, unrouted.clone())).or_insert_with(|| {
                let mut a = args.clone();
                // A journaled store: the vectors' proofs are issued seconds before their now,
                // which a fresh memory store refuses as issued before its start.
                let journal = dir.path().join(format!("replay-{hops}-{unrouted}.jsonl"));
                a.extend([
                    "--trusted-hops".into(),
                    hops.to_string(),
                    "--unrouted".into(),
                    unrouted.clone(),
                    "--replay-file".into(),
                    journal.to_str().unwrap().into(),
                ]);
                Server::spawn(dir.path(), &a)
            });
            let r = raw(server, method, &target, &fields);
            let got_decision = if r.status == 200 { "allow" } else { "deny" };
            assert_eq!(
                (got_decision, r.codes(), r.body["decision"].as_str()),
                (want_decision, want_codes.clone(), Some(want_decision)),
                "{name} ({how}): {r:?}\n{}",
                server.log()
            );
            assert_eq!(
                r.status,
                if want_decision == "allow" { 200 } else { 403 },
                "{name} ({how})"
            );
            assert_eq!(
                r.reason(),
                want_codes.first().map(String::as_str),
                "{name} ({how})"
            );
            replayed += 1;
            replayed_cases.insert(name);
        }
    }
    eprintln!(
        "http vectors: {replayed} replays; not expressible over serve:\n  {}",
        skipped.join("\n  ")
    );
    // Every case is replayed at least once, unless NOT_OVER_CHECK says why it cannot be.
    let cases = doc["cases"].as_array().unwrap().len();
    assert_eq!(
        replayed_cases.len(),
        cases - NOT_OVER_CHECK.len(),
        "{skipped:?}"
    );
    assert!(replayed >= replayed_cases.len() && cases >= 26);
}
