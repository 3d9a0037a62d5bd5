//! `mandate serve`: the HTTP decision service.
//!
//! - `POST /v1/decide`: a decide input in, the decision out (200 for allow and deny alike).
//! - `POST /v1/grants`: a decide input with `mint_grant`; 200 with the grant on allow, 403 on deny.
//! - `ANY /v1/check/{*path}`: Envoy ext_authz (HTTP service): the original request's method, path
//!   and headers in; 200 with principal headers on allow, 403 with `x-mandate-reason` on deny.
//! - `GET /healthz` (liveness: the process answers; 200 while it does, with what it serves),
//!   `GET /readyz` (readiness: 200 only when a bundle serves inside its window, the audit log
//!   takes records and the replay store answers; 503 with each problem's code otherwise),
//!   `GET /metrics`.
//!
//! Connections are capped, a request head must arrive in time and shutdown drains with a
//! deadline (`listener.rs`).
//!
//! This module holds the HTTP handlers; starting and stopping is `start.rs`, the replay store
//! by configuration `store.rs`, the log `log.rs`. Deciding, the replay check, the audit append (fsynced
//! before the answer is sent: an answer the client received is an audit record on disk), bundle
//! replacement and health are host-rust's `DecisionPoint`; metrics and logs are its hooks
//! (`hooks.rs`). `now`, decision ids and grant nonces come from
//! this process (system clock, OS randomness), never from the client.

pub mod caller;
pub mod check;
mod hooks;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod source;
mod start;
pub mod tls;
pub mod trace;

use core::net::SocketAddr;
use core::time::Duration;
use policy_core::Code;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use host_rust::{Decision, DecisionPoint};
use policy_core::HttpDecideInput;
use policy_core::jose::{PrivateJwk, PublicJwk};
use serde_json::{Value, json};

use metrics::Metrics;
pub use policy_core::http::Route;
use source::Source;

use host_rust::replay::AnyStore as Store;
pub use log::{QUIET, log};
pub use start::{hangup_signal, shutdown_signal, start};

/// Everything `serve` needs; the CLI flags, the demo and the tests fill it.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub source: Source,
    pub trust: Vec<PublicJwk>,
    pub grant_key: Option<PrivateJwk>,
    pub audit: Option<PathBuf>,
    /// Seal the audit log's active segment at this size (a restart reads only the active one).
    pub audit_segment_bytes: Option<u64>,
    pub redis: Option<String>,
    /// How long one Redis command may take before the decision fails closed.
    pub redis_timeout: Duration,
    /// Live entries the memory replay store holds at most (a full store denies).
    pub replay_capacity: usize,
    /// Journal the memory replay store to this file, so a restart forgets no used `jti`.
    pub replay_file: Option<PathBuf>,
    pub poll: Duration,
    pub max_body: usize,
    pub timeout: Duration,
    pub routes: Vec<Route>,
    /// Scheme of the original requests seen by `/v1/check`; `x-forwarded-proto` overrides it
    /// only when `trusted_hops` is at least 1.
    pub scheme: String,
    /// How many proxies in front each append the address they saw to `x-forwarded-for`; the
    /// client address is that many entries from the right. 0: the socket peer.
    pub trusted_hops: u8,
    /// What `/v1/check` does with a request no route matches (when there are routes): deny it
    /// (`request.unrouted`), or let the guardrails decide it without an action.
    pub unrouted: policy_core::http::Unrouted,
    /// This decision point's identifiers: a token's `aud` must name one. Empty: the request's
    /// origin (`scheme://host[:port]`) must be in `aud`.
    pub audiences: Vec<String>,
    /// Default lifetime of grants minted through `/v1/grants` when the input names none.
    pub grant_ttl: i64,
    /// Decide with the portable wasm module (under wasmtime) instead of the native engine.
    pub wasm: Option<PathBuf>,
    /// Where to cache the compiled module (compiling takes seconds; loading a cached one does not).
    pub wasm_cache: Option<PathBuf>,
    /// Connection cap, header timeout and shutdown drain.
    pub limits: listener::Limits,
    /// Serve HTTPS with these files (and authenticate callers by client certificate when a
    /// client CA is given).
    pub tls: Option<tls::TlsFiles>,
    /// Callers of the decision endpoints must present one of the tokens in this file.
    pub caller_tokens: Option<PathBuf>,
    /// Decision requests a second per caller at most.
    pub rate_limit: Option<core::num::NonZeroU32>,
    /// Chain the audit log with HMAC-SHA256 under the key in this file.
    pub audit_key: Option<PathBuf>,
}

impl Config {
    pub fn new(source: Source, trust: Vec<PublicJwk>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            source,
            trust,
            grant_key: None,
            audit: None,
            audit_segment_bytes: Some(64 * 1024 * 1024),
            redis: None,
            redis_timeout: Duration::from_millis(500),
            replay_capacity: host_rust::replay::DEFAULT_CAPACITY,
            replay_file: None,
            poll: Duration::from_secs(2),
            max_body: 64 * 1024,
            timeout: Duration::from_secs(5),
            routes: Vec::new(),
            scheme: "https".into(),
            trusted_hops: 0,
            unrouted: policy_core::http::Unrouted::Deny,
            audiences: Vec::new(),
            grant_ttl: 30,
            wasm: None,
            wasm_cache: None,
            limits: listener::Limits::default(),
            tls: None,
            caller_tokens: None,
            rate_limit: None,
            audit_key: None,
        }
    }
}

/// The shared state of the handlers: the decision point and what the HTTP API adds to it.
#[derive(Debug)]
pub struct Service {
    point: DecisionPoint<Store>,
    pub metrics: Metrics,
    /// Routes and trusted hops for `/v1/check`, handed to the core's HTTP binding.
    binding: policy_core::http::Binding,
    scheme: String,
    grant_ttl: i64,
}

/// Why a request got no decision.
#[derive(Debug)]
pub enum ServiceError {
    /// The request is not a decide input (400).
    BadRequest(String),
    /// The audit record could not be written, so the decision is not given (503).
    Audit(host_rust::HostError),
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ServiceError::BadRequest(m) => (StatusCode::BAD_REQUEST, Code::InputMalformed, m),
            ServiceError::Audit(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Code::AuditUnavailable,
                e.to_string(),
            ),
        };
        let body = json!({"error": {"code": code, "message": message}});
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.to_string(),
        )
            .into_response()
    }
}

fn random_id() -> String {
    // The OS's randomness; if it fails there is no safe nonce, and the host's deny says so.
    host_rust::issuer::random_id().unwrap_or_default()
}

/// A bundle refusal as its code and message (a load refusal carries the core's own message).
fn refusal(e: host_rust::HostError) -> (Code, String) {
    match e {
        host_rust::HostError::Load { code, message } => (code, message),
        e => (e.code(), e.to_string()),
    }
}

impl Service {
    /// Installs a bundle JWS when it verifies and may replace the serving one (the decision
    /// point's one replacement rule); reports it in metrics and the log.
    pub fn load_bundle(&self, jws: &str, origin: &str) -> core::result::Result<(), (Code, String)> {
        self.point
            .load_bundle(jws, origin, crate::io::now())
            .map(|_| ())
            .map_err(refusal)
    }

    /// Installs the first bundle: as [`Self::load_bundle`], except that one that verified and is
    /// only outside its validity window serves anyway, denying with `bundle.expired` (or
    /// `bundle.not_yet_valid`) until a fresh bundle replaces it
    /// ([`DecisionPoint::start_bundle`]). Answers that code as a warning when so.
    pub fn start_bundle(
        &self,
        jws: &str,
        origin: &str,
    ) -> core::result::Result<Option<(Code, String)>, (Code, String)> {
        self.point
            .start_bundle(jws, origin, crate::io::now())
            .map_err(refusal)
    }

    /// Decides one HTTP decide input (the request as received, with its binding, already
    /// filled with `now` and `decision_id`) through the core's HTTP binding; audited.
    pub async fn decide_http(
        &self,
        endpoint: &str,
        input: &HttpDecideInput,
    ) -> core::result::Result<Decision, ServiceError> {
        let d = self
            .point
            .decide_http_input(endpoint, input)
            .await
            .map_err(ServiceError::Audit)?;
        trace::record(&d);
        Ok(d)
    }

    /// Decides one decide input (a JSON object already filled with `now` and `decision_id`);
    /// audited.
    pub async fn decide(
        &self,
        endpoint: &str,
        input: &Value,
    ) -> core::result::Result<Decision, ServiceError> {
        let bytes =
            serde_json::to_vec(input).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        self.decide_bytes(endpoint, &bytes).await
    }

    /// Decides a decide input given as the bytes the core is to parse (strictly); audited.
    pub async fn decide_bytes(
        &self,
        endpoint: &str,
        bytes: &[u8],
    ) -> core::result::Result<Decision, ServiceError> {
        let d = self
            .point
            .decide(endpoint, bytes)
            .await
            .map_err(ServiceError::Audit)?;
        trace::record(&d);
        Ok(d)
    }

    /// Liveness: the process answers (always `ok` when this runs), with what it serves and
    /// whether it could allow anything (`ready`, as `/readyz` without probing the stores).
    fn health(&self) -> Value {
        let h = self.point.health(crate::io::now());
        let problem = |(c, m): (Code, String)| json!({"code": c, "message": m});
        json!({
            "status": "ok",
            "bundle_ok": h.ok,
            "bundle": {"ok": h.status.ok, "revision": h.status.revision, "digest": h.status.digest,
                       "exp": h.status.exp, "expired": h.expired, "error": h.status.error.map(problem)},
            "last_reload_error": h.last_reload_error.map(problem),
            "backend": h.backend,
        })
    }

    /// Readiness: 200 only when a bundle serves inside its window, the audit log takes records
    /// and the replay store answers; each problem with its code.
    async fn readiness(&self) -> (bool, Value) {
        let r = self.point.readiness(crate::io::now()).await;
        let problems: Vec<Value> = r
            .problems
            .iter()
            .map(|(part, code, message)| json!({"part": part, "code": code, "message": message}))
            .collect();
        let v =
            json!({"status": if r.ready { "ready" } else { "unavailable" }, "problems": problems});
        (r.ready, v)
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// A request body, ready for the core.
enum Stamped {
    /// A decide input object, stamped with the service's clock and id.
    Input(Value),
    /// JSON that the core's strict parser refuses (a duplicate member name, too large, too
    /// deep): passed to the core as it came, for the core's own `input.malformed` /
    /// `input.too_large` deny. Never read leniently and rewritten (two parsers that keep
    /// different duplicates disagree about what was asked).
    Raw,
}

/// Parses a request body as a decide input object, with the core's strict parser, and stamps
/// it with the service's clock and id.
fn stamp(
    endpoint: &str,
    svc: &Service,
    body: &[u8],
) -> core::result::Result<Stamped, ServiceError> {
    use policy_core::json::{JsonError, parse_strict};
    use policy_core::limits::{MAX_DEPTH, MAX_INPUT_BYTES};
    let rejected = |reason: &str| {
        svc.metrics
            .rejected
            .with_label_values(&[endpoint, reason])
            .inc();
    };
    let mut v = match parse_strict(body, MAX_INPUT_BYTES, MAX_DEPTH) {
        Ok(v) => v,
        Err(JsonError::TooLarge { .. } | JsonError::TooDeep(_)) => return Ok(Stamped::Raw),
        // JSON to a lenient parser, refused by the strict one: a duplicate member.
        Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            return Ok(Stamped::Raw);
        }
        Err(e) => {
            rejected("malformed");
            return Err(ServiceError::BadRequest(format!(
                "the body is not JSON: {e}"
            )));
        }
    };
    let Some(obj) = v.as_object_mut() else {
        rejected("malformed");
        return Err(ServiceError::BadRequest(
            "the body must be a decide input (a JSON object)".into(),
        ));
    };
    obj.insert("now".into(), Value::from(crate::io::now()));
    obj.insert("decision_id".into(), Value::String(random_id()));
    Ok(Stamped::Input(v))
}

async fn decide_handler(State(svc): State<Arc<Service>>, body: Bytes) -> Response {
    let decided = match stamp("decide", &svc, &body) {
        Ok(Stamped::Input(mut input)) => {
            // Grants are minted only through /v1/grants.
            if let Some(obj) = input.as_object_mut() {
                obj.remove("mint_grant");
            }
            svc.decide("decide", &input).await
        }
        Ok(Stamped::Raw) => svc.decide_bytes("decide", &body).await,
        Err(e) => return e.into_response(),
    };
    match decided {
        Ok(d) => json_response(StatusCode::OK, d.into_bytes()),
        Err(e) => e.into_response(),
    }
}

async fn grants_handler(State(svc): State<Arc<Service>>, body: Bytes) -> Response {
    let decided = match stamp("grants", &svc, &body) {
        Ok(Stamped::Input(mut input)) => {
            let ttl_default = svc.grant_ttl;
            let Some(ask) = input.get_mut("mint_grant").and_then(Value::as_object_mut) else {
                svc.metrics
                    .rejected
                    .with_label_values(&["grants", "no_mint_grant"])
                    .inc();
                return ServiceError::BadRequest(
                    "a grant request needs mint_grant: {\"aud\": ..., \"ttl\": seconds}".into(),
                )
                .into_response();
            };
            ask.insert("jti".into(), Value::String(random_id()));
            ask.entry("ttl").or_insert(Value::from(ttl_default));
            svc.decide("grants", &input).await
        }
        Ok(Stamped::Raw) => svc.decide_bytes("grants", &body).await,
        Err(e) => return e.into_response(),
    };
    match decided {
        Ok(d) if d.is_allow() => json_response(StatusCode::OK, d.into_bytes()),
        Ok(d) => json_response(StatusCode::FORBIDDEN, d.into_bytes()),
        Err(e) => e.into_response(),
    }
}

async fn healthz(State(svc): State<Arc<Service>>) -> Response {
    json_response(StatusCode::OK, svc.health().to_string().into_bytes())
}

async fn readyz(State(svc): State<Arc<Service>>) -> Response {
    let (ok, v) = svc.readiness().await;
    json_response(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        v.to_string().into_bytes(),
    )
}

async fn metrics_handler(State(svc): State<Arc<Service>>) -> Response {
    let entries = svc.point.decider().replay().len();
    svc.metrics
        .replay_entries
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        svc.metrics.render(),
    )
        .into_response()
}

/// The router, with body size limits and timeouts.
pub fn router(
    svc: Arc<Service>,
    callers: Arc<caller::Callers>,
    max_body: usize,
    timeout: Duration,
) -> Router {
    let metrics = svc.metrics.clone();
    Router::new()
        .route("/v1/decide", post(decide_handler))
        .route("/v1/grants", post(grants_handler))
        .route("/v1/check", any(check::handler))
        .route("/v1/check/{*path}", any(check::handler))
        // Only the decision endpoints above: probes and metrics stay open.
        .route_layer(axum::middleware::from_fn_with_state(callers, caller::guard))
        .route_layer(axum::middleware::from_fn(trace::span))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::map_response(move |r: Response| {
            count_refusal(&metrics, r.status());
            core::future::ready(r)
        }))
        .with_state(svc)
}

/// Counts the answers given instead of a decision: 401 (caller not authenticated), 408 (the
/// request did not arrive in time), 413 (body over `--max-body`), 429 (caller over its rate),
/// 503 (audit log unavailable). 431 (a head over hyper's limit)
/// never reaches the router; the accept loop counts it.
fn count_refusal(metrics: &Metrics, status: StatusCode) {
    if matches!(
        status,
        StatusCode::UNAUTHORIZED
            | StatusCode::REQUEST_TIMEOUT
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
    ) {
        metrics.refused.with_label_values(&[status.as_str()]).inc();
    }
}
