//! `mandate serve` as an operator runs it: settings from `--config`, HTTPS with a test CA,
//! callers authenticated by bearer token or client certificate (mTLS), per-caller rate limits,
//! and SIGHUP reloading the caller tokens and the TLS certificate without a restart.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{SECRET, Server, TRIP, World, client, eventually, metric, metrics, post};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};

/// A test CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (DNS names or IP addresses): its certificate and key, PEM.
    fn leaf(&self, names: &[&str], cn: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// An HTTPS client trusting `ca`, presenting `identity` (certificate + key PEM) when given.
fn tls_client(ca: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(core::time::Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap());
    if let Some((cert, key)) = identity {
        let pem = format!("{cert}{key}");
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

fn hup(s: &Server) {
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Every flag from a file: the world's bundle, trust, grant key and routes come from
/// serve.yaml, the command line's `--listen` wins over the file's, and a decision is made with
/// them. A misspelled setting refuses the start with `config.invalid`, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_every_setting_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let yaml = format!(
        "# serve settings\nlisten: 127.0.0.1:1\nbundle: {}\ntrust:\n  - {}\ngrant-key: {}\naudit: {}\nroute:\n  - GET /v1/secrets/* secrets:read\n  - GET /v1/trips/* trips:read\nmax-body: 65536\ntimeout: 5s\nunrouted: deny\n",
        w.path("bundle.jws").display(),
        w.path("root.pub.jwk").display(),
        w.path("pdp.jwk").display(),
        audit.display(),
    );
    let config = write(dir.path(), "serve.yaml", &yaml);
    let s = Server::spawn(dir.path(), &["--config".into(), config.clone()]);
    assert!(s.base.starts_with("http://127.0.0.1:"), "{}", s.base);
    assert!(!s.base.ends_with(":1"), "the command line's --listen wins");
    let c = client();
    let input = w.input("GET", SECRET, "secrets:read", "10.20.0.7", &w.alice());
    let (status, d) = post(&c, &s.url("/v1/decide"), &input).await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );
    drop(s);
    assert!(audit.exists(), "the file's audit setting applied");

    let bad = write(dir.path(), "bad.yaml", &format!("{yaml}trusted-hop: 1\n"));
    let out = common::mandate()
        .args(["serve", "--config", &bad])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`trusted-hop` is not a serve setting"),
        "{stderr}"
    );
    let out = common::mandate()
        .args(["--json", "serve", "--config", &bad])
        .output()
        .unwrap();
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code(&e), Some("config.invalid"), "{e}");
}

/// Bearer tokens on the decision endpoints: none, a wrong one, or the wrong scheme is 401
/// `serve.unauthenticated` with a `WWW-Authenticate` challenge and no decision; the right one
/// decides. `/v1/check` takes it in `x-mandate-caller-token`, since its `Authorization` is the
/// original request's. Probes and metrics stay open. SIGHUP swaps the token file: the old
/// token stops working and the new one works, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_authenticate_with_bearer_tokens_rotated_by_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let tokens = write(
        dir.path(),
        "callers.txt",
        "# gateways\nold-token-1\n\nsecond-token\n",
    );
    let s = Server::start(&w, &["--caller-token-file", &tokens]);
    let c = client();
    let input = || w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Basic old-token-1"),
        Some("Bearer"),
    ] {
        let mut r = c.post(s.url("/v1/decide")).json(&input());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            r.headers()["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"mandate\""
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            code(&body),
            Some("serve.unauthenticated"),
            "{auth:?}: {body}"
        );
    }
    let decide = |token: &'static str| {
        c.post(s.url("/v1/decide"))
            .header("authorization", format!("Bearer {token}"))
            .json(&input())
            .send()
    };
    let d: Value = decide("old-token-1").await.unwrap().json().await.unwrap();
    assert_eq!(d["decision"], "allow", "{d}");
    let d: Value = decide("second-token").await.unwrap().json().await.unwrap();
    assert_eq!(d["decision"], "allow", "{d}");

    // /v1/check: the caller's token in its own header; without it, 401 before any decision.
    let check = |caller: Option<&'static str>| {
        let mut r = c
            .get(s.url("/v1/check/v1/trips/42"))
            .header("host", "api.example.com")
            .header("authorization", "DPoP not-a-token");
        if let Some(t) = caller {
            r = r.header("x-mandate-caller-token", t);
        }
        r.send()
    };
    assert_eq!(check(None).await.unwrap().status().as_u16(), 401);
    let r = check(Some("second-token")).await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "decided: a deny for the bad agent token"
    );
    assert_ne!(
        r.headers()
            .get("x-mandate-reason")
            .map(|v| v.to_str().unwrap().to_string()),
        None
    );

    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            c.get(s.url(open)).send().await.unwrap().status().as_u16(),
            200,
            "{open}"
        );
    }
    assert!(
        metric(
            &metrics(&c, &s).await,
            "mandate_http_refused_total{status=\"401\"}"
        ) >= 5.0
    );

    // Rotation: the file now holds only a new token; SIGHUP applies it.
    write(dir.path(), "callers.txt", "new-token-2\n");
    hup(&s);
    let rotated = eventually(200, || async move {
        let new = decide("new-token-2").await.unwrap().status().as_u16();
        let old = decide("old-token-1").await.unwrap().status().as_u16();
        (new == 200 && old == 401).then_some(())
    })
    .await;
    assert!(
        rotated.is_some(),
        "SIGHUP did not rotate the tokens: {}",
        s.log()
    );
    // A reload that fails keeps what serves: an empty token file is refused, logged.
    write(dir.path(), "callers.txt", "# nobody\n");
    hup(&s);
    let server = &s;
    let logged = eventually(200, || async move {
        server.log().contains("reload refused").then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", s.log());
    assert_eq!(decide("new-token-2").await.unwrap().status().as_u16(), 200);
}

/// HTTPS with a test CA, and callers authenticated by client certificate: a probe connects
/// without one; a decision request without one is 401; one with a certificate from
/// `--client-ca` decides; a certificate from another CA fails the handshake (counted). SIGHUP
/// re-reads the server certificate: a client that trusts only the new CA connects after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_client_certificates_and_a_certificate_renewed_by_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let ca = Ca::new("Mandate test CA");
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"], "serve");
    let (gw_cert, gw_key) = ca.leaf(&["gateway.internal"], "gateway");
    let stranger_ca = Ca::new("Someone else");
    let (st_cert, st_key) = stranger_ca.leaf(&["gateway.internal"], "stranger");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);
    let cert_file = write(dir.path(), "serve.pem", &cert);
    let key_file = write(dir.path(), "serve.key", &key);
    let s = Server::start(
        &w,
        &[
            "--tls-cert",
            &cert_file,
            "--tls-key",
            &key_file,
            "--client-ca",
            &ca_file,
        ],
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let input = || w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());

    let anonymous = tls_client(&ca.pem, None);
    let r = anonymous.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (status, body) = post(&anonymous, &s.url("/v1/decide"), &input()).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("serve.unauthenticated")),
        "{body}"
    );

    let gateway = tls_client(&ca.pem, Some((&gw_cert, &gw_key)));
    let (status, d) = post(&gateway, &s.url("/v1/decide"), &input()).await;
    assert_eq!(
        (status, d["decision"].as_str()),
        (200, Some("allow")),
        "{d}"
    );

    let stranger = tls_client(&ca.pem, Some((&st_cert, &st_key)));
    assert!(
        stranger
            .post(s.url("/v1/decide"))
            .json(&input())
            .send()
            .await
            .is_err()
    );
    // Plain HTTP to the TLS port is not served either.
    let plain = s.url("/healthz").replacen("https://", "http://", 1);
    let r = client().get(&plain).send().await;
    assert!(r.map_or(true, |r| !r.status().is_success()));
    let m = metrics(&anonymous, &s).await;
    assert!(
        metric(&m, "mandate_tls_handshake_failures_total") >= 2.0,
        "{m}"
    );

    // Renewal: a certificate from a new CA, same key file names.
    let renewed_ca = Ca::new("Mandate renewed CA");
    let (cert2, key2) = renewed_ca.leaf(&["localhost", "127.0.0.1"], "serve");
    write(dir.path(), "serve.pem", &cert2);
    write(dir.path(), "serve.key", &key2);
    let trusts_new = tls_client(&renewed_ca.pem, None);
    assert!(
        trusts_new.get(s.url("/healthz")).send().await.is_err(),
        "before SIGHUP"
    );
    hup(&s);
    let (server, trusts_new) = (&s, &trusts_new);
    let renewed = eventually(200, || async move {
        trusts_new
            .get(server.url("/healthz"))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    assert!(
        renewed.is_some(),
        "SIGHUP did not renew the certificate: {}",
        s.log()
    );
}

/// `--rate-limit 1`: one decision request a second per caller. Thirty at once from one
/// caller: the first decides, most of the rest are 429 `serve.rate_limited` with `retry-after`,
/// and nothing over the limit is decided (the audit log holds only the answered decisions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_is_answered_429() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let s = Server::start(
        &w,
        &["--rate-limit", "1", "--audit", audit.to_str().unwrap()],
    );
    let c = client();
    let asks = (0..30).map(|_| {
        let c = c.clone();
        let url = s.url("/v1/decide");
        let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice());
        async move {
            let r = c.post(url).json(&input).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry, r.json::<Value>().await.unwrap())
        }
    });
    let answers = futures_join(asks).await;
    let decided = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert!(decided >= 1, "{answers:?}");
    assert_eq!(decided + limited.len(), 30, "{answers:?}");
    assert!(limited.len() >= 15, "{answers:?}");
    for (_, retry, body) in &limited {
        assert_eq!(code(body), Some("serve.rate_limited"));
        assert!(
            retry
                .as_deref()
                .is_some_and(|r| r.parse::<u64>().unwrap() >= 1)
        );
    }
    drop(s);
    let records = std::fs::read_to_string(&audit).unwrap().lines().count();
    assert_eq!(records, decided, "only decided requests are audited");
}

/// Runs the futures concurrently on this runtime and collects their outputs in order.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: core::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// SIGHUP looks for a new bundle at once: with an hour between polls, a bundle written after
/// the start serves only after the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_polls_the_bundle_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let s = Server::start(&w, &["--poll", "1h"]);
    let c = client();
    let revision = || async {
        let h: Value = c
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        h["bundle"]["revision"].as_str().map(str::to_string)
    };
    assert_eq!(revision().await.as_deref(), Some("r1"));
    // A later iat than r1's, so that the replacement rule takes it.
    std::thread::sleep(core::time::Duration::from_millis(1100));
    w.write_bundle("r2", "active", &w.root);
    std::thread::sleep(core::time::Duration::from_millis(300));
    assert_eq!(
        revision().await.as_deref(),
        Some("r1"),
        "not before the signal"
    );
    hup(&s);
    let revision = &revision;
    let swapped = eventually(200, || async move {
        (revision().await.as_deref() == Some("r2")).then_some(())
    })
    .await;
    assert!(swapped.is_some(), "{}", s.log());
}

/// A stand-in OpenTelemetry collector: an OTLP/HTTP endpoint that keeps every JSON body posted
/// to `/v1/traces`.
async fn collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::post as route_post;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&got);
    let app = axum::Router::new().route(
        "/v1/traces",
        route_post(move |body: axum::body::Bytes| {
            let keep = std::sync::Arc::clone(&keep);
            async move {
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_slice::<Value>(&body).unwrap());
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// `--otlp-endpoint`: each decision request is a `mandate.decide` span, exported over OTLP/HTTP
/// (JSON) to the collector, a child of the request's W3C `traceparent`, carrying the decision,
/// its code and the decision id that the audit record also carries. A 401 is a span too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_spans_exported_over_otlp() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let (url, got) = collector().await;
    let tokens = write(dir.path(), "callers.txt", "gw\n");
    let s = Server::start(
        &w,
        &["--otlp-endpoint", &url, "--caller-token-file", &tokens],
    );
    let c = client();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = c
        .post(s.url("/v1/decide"))
        .header("authorization", "Bearer gw")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice()))
        .send()
        .await
        .unwrap();
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["decision"], "allow", "{d}");
    let unauth = c
        .post(s.url("/v1/decide"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
    // SIGTERM flushes what is batched.
    let log_path = s.stderr.clone();
    assert!(s.terminate().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let spans: Vec<Value> = got
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|rs| rs["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    let attr = |span: &Value, key: &str| -> Option<Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    let decided = spans
        .iter()
        .find(|sp| {
            attr(sp, "decision_id").and_then(|v| v["stringValue"].as_str().map(str::to_string))
                == d["decision_id"].as_str().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no span for the decision: {spans:?}"));
    assert_eq!(decided["name"], "mandate.decide");
    assert_eq!(
        decided["traceId"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some(trace_id)
    );
    assert_eq!(
        decided["parentSpanId"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("00f067aa0ba902b7")
    );
    assert_eq!(attr(decided, "decision").unwrap()["stringValue"], "allow");
    assert_eq!(attr(decided, "code").unwrap()["stringValue"], "none");
    assert_eq!(
        attr(decided, "agent").unwrap()["stringValue"],
        "agent:travel-booker"
    );
    assert_eq!(attr(decided, "user").unwrap()["stringValue"], "alice");
    let refused = spans
        .iter()
        .filter(|sp| attr(sp, "decision").is_none())
        .find(|sp| attr(sp, "http.response.status_code").is_some_and(|v| v["intValue"] == "401"))
        .unwrap_or_else(|| panic!("no span for the 401: {spans:?}"));
    // The log line said inside that request names its trace and span, and is an event of the
    // span in the exported trace.
    let line: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["code"] == "serve.unauthenticated")
        .unwrap_or_else(|| panic!("no log line for the 401: {log}"));
    assert_eq!(line["level"], "warn");
    assert_eq!(line["trace_id"], refused["traceId"], "{line}");
    assert_eq!(line["span_id"], refused["spanId"], "{line}");
    let events = refused["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["name"] == "a caller that did not authenticate was refused"),
        "{events:?}"
    );
}

/// `--audit-key`: the audit log is chained with HMAC-SHA256. `mandate audit verify --key`
/// accepts it; without the key it cannot be verified (`audit.key_required`), and a restart of
/// serve without the key, or with another, refuses to append to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_audit_chain_needs_its_key_to_verify_and_to_append() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let audit = w.path("audit.jsonl");
    let audit_arg = audit.to_str().unwrap().to_string();
    let key = write(dir.path(), "chain.key", &format!("{}\n", "ab".repeat(32)));
    let other = write(dir.path(), "other.key", &"cd".repeat(32));
    let s = Server::start(&w, &["--audit", &audit_arg, "--audit-key", &key]);
    let c = client();
    let (_, d) = post(
        &c,
        &s.url("/v1/decide"),
        &w.input("GET", TRIP, "trips:read", "10.20.0.7", &w.alice()),
    )
    .await;
    assert_eq!(d["decision"], "allow", "{d}");
    assert!(s.terminate().success());
    let first = std::fs::read_to_string(&audit).unwrap();
    assert!(
        first
            .lines()
            .all(|l| l.contains("\"chain\":\"hmac-sha256\"")),
        "{first}"
    );

    let verify = |extra: &[&str]| {
        let out = common::mandate()
            .args(["--json", "audit", "verify", &audit_arg])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        )
    };
    let (status, report) = verify(&["--key", &key]);
    assert_eq!(status, Some(0), "{report}");
    let (status, e) = verify(&[]);
    assert_eq!(
        (status, code(&e)),
        (Some(7), Some("audit.key_required")),
        "{e}"
    );
    let (status, e) = verify(&["--key", &other]);
    assert_eq!(
        (status, code(&e)),
        (Some(7), Some("audit.key_mismatch")),
        "{e}"
    );

    for (extra, want) in [
        (vec![], "audit.key_required"),
        (vec!["--audit-key", other.as_str()], "audit.key_mismatch"),
    ] {
        let mut args = vec!["--json", "serve", "--listen", "127.0.0.1:0", "--bundle"];
        let bundle = w.path("bundle.jws");
        let trust = w.path("root.pub.jwk");
        args.push(bundle.to_str().unwrap());
        args.extend(["--trust", trust.to_str().unwrap(), "--audit", &audit_arg]);
        args.extend(extra.iter().copied());
        let out = common::mandate().args(&args).output().unwrap();
        let e: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(7), "{e}");
        assert_eq!(code(&e), Some(want), "{extra:?}: {e}");
    }
    assert_eq!(
        std::fs::read_to_string(&audit).unwrap(),
        first,
        "nothing appended"
    );
}
