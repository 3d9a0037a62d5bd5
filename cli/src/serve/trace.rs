//! The service's `tracing` subscriber (its JSON log lines, `log.rs`) and its traces: one span
//! per decision request, exported over OTLP/HTTP (JSON) when
//! `--otlp-endpoint` is given, and joined to the caller's trace when the request carries a W3C
//! `traceparent` (Envoy, a gateway, an SDK).
//!
//! The span is `mandate.decide`, with the endpoint, the decision, its first reason code, the
//! decision id (which the audit record carries too: a trace leads to its audit record), the
//! agent and the person. Without an endpoint no subscriber is installed and spans cost nothing.
//! Spans are batched and sent from a thread of their own, so a slow or absent collector never
//! delays a decision; on shutdown what is batched is flushed.

use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use host_rust::Decision;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use policy_core::Code;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::error::{CliError, Result};

/// The tracer provider, kept to flush it on shutdown.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the service's `tracing` subscriber: its JSON log lines on stderr (`log.rs`), and,
/// with `otlp` (an OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`), span export.
/// Once per process.
///
/// # Errors
/// `config.invalid` when the endpoint is not an http(s) URL or the exporter cannot be built.
pub fn install(otlp: Option<&str>) -> Result<()> {
    let otel = otlp.map(exporter).transpose()?.map(|provider| {
        let tracer = provider.tracer("mandate");
        let _ = PROVIDER.set(provider);
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    let subscriber = tracing_subscriber::registry()
        .with(super::log::JsonLines)
        .with(otel);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| CliError::failure(format!("tracing: {e}")))
}

fn exporter(endpoint: &str) -> Result<SdkTracerProvider> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(CliError::invalid(
            Code::ConfigInvalid,
            format!("--otlp-endpoint {endpoint}: not an http:// URL"),
        )
        .hint("give the collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces"));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| CliError::invalid(Code::ConfigInvalid, format!("--otlp-endpoint: {e}")))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("mandate-serve")
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The trace and span ids of the current span, when spans are exported (for log lines).
pub fn current_ids() -> Option<(String, String)> {
    PROVIDER.get()?;
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// Sends what is batched (on shutdown).
pub fn flush() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown();
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// The middleware of the decision endpoints: the request's span, child of its `traceparent`.
pub async fn span(req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "mandate.decide",
        endpoint = req.uri().path().split('/').nth(2).unwrap_or(""),
        decision = tracing::field::Empty,
        code = tracing::field::Empty,
        decision_id = tracing::field::Empty,
        agent = tracing::field::Empty,
        user = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if PROVIDER.get().is_some() {
        let parent = TraceContextPropagator::new().extract(&Headers(req.headers()));
        let _ = span.set_parent(parent);
    }
    let response = next.run(req).instrument(span.clone()).await;
    span.record(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    response
}

/// Records a decision on the request's span.
pub fn record(d: &Decision) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    let principal = |k: &str| {
        d.value()
            .get("principal")
            .and_then(|p| p.get(k))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    span.record("decision", if d.is_allow() { "allow" } else { "deny" });
    span.record("code", d.code().unwrap_or("none"));
    span.record("decision_id", d.decision_id());
    if let Some(agent) = principal("agent") {
        span.record("agent", agent);
    }
    if let Some(user) = principal("user") {
        span.record("user", user);
    }
}
