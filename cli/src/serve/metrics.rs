//! Prometheus metrics of the decision service.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Every metric the service exports, on its own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Decisions by endpoint, outcome and first reason code (`none` on allow).
    pub decisions: IntCounterVec,
    /// Time to decide (engine + replay store + audit append), by endpoint.
    pub latency: HistogramVec,
    /// Bundle loads by result (`ok` / `error`) and code.
    pub reloads: IntCounterVec,
    /// 1 for the revision being served.
    pub bundle_info: IntGaugeVec,
    /// The serving bundle's `exp`.
    pub bundle_expiry: IntGauge,
    /// Audit records appended and acknowledged.
    pub audit_records: IntCounter,
    /// Audit appends that failed (the request then failed with 503, never acknowledged).
    pub audit_errors: IntCounter,
    /// Requests refused before deciding (bad body, bad JSON).
    pub rejected: IntCounterVec,
    /// Responses by HTTP status class of refusal (413, 431, 408, 503): refused before or
    /// instead of an answer.
    pub refused: IntCounterVec,
    /// Connections open now.
    pub connections: IntGauge,
    /// Entries the memory replay store holds (live or not yet swept); 0 with Redis.
    pub replay_entries: IntGauge,
    /// Connections answered 503 and closed because the cap was reached.
    pub shed: IntCounter,
    /// Accept calls that failed (a descriptor limit, despite the cap).
    pub accept_errors: IntCounter,
    /// Connections closed because a request head did not arrive in time (or an idle
    /// kept-alive connection sent none).
    pub header_timeouts: IntCounter,
    /// TLS handshakes that failed (no shared version or cipher, a client certificate that does
    /// not chain to --client-ca, garbage).
    pub tls_failures: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let decisions = IntCounterVec::new(
            Opts::new(
                "mandate_decisions_total",
                "Decisions by endpoint, outcome and first reason code",
            ),
            &["endpoint", "decision", "code"],
        )?;
        let buckets = vec![
            0.000_25, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512,
            1.0, 2.0,
        ];
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "mandate_decision_duration_seconds",
                "Time to decide, replay check and audit append included",
            )
            .buckets(buckets),
            &["endpoint"],
        )?;
        let reloads = IntCounterVec::new(
            Opts::new(
                "mandate_bundle_reloads_total",
                "Bundle loads by result and code (a failed load keeps the previous bundle serving)",
            ),
            &["result", "code"],
        )?;
        let bundle_info = IntGaugeVec::new(
            Opts::new("mandate_bundle_info", "The bundle being served"),
            &["revision", "digest"],
        )?;
        let bundle_expiry = IntGauge::new(
            "mandate_bundle_expiry_timestamp_seconds",
            "exp of the bundle being served",
        )?;
        let audit_records = IntCounter::new(
            "mandate_audit_records_total",
            "Audit records appended, synced and acknowledged",
        )?;
        let audit_errors =
            IntCounter::new("mandate_audit_errors_total", "Audit appends that failed")?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "mandate_requests_rejected_total",
                "Requests refused before deciding",
            ),
            &["endpoint", "reason"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "mandate_http_refused_total",
                "Answers 401, 408, 413, 429, 431 or 503 given instead of a decision (a caller unauthenticated or over its rate, a request refused, or /readyz not ready), by status",
            ),
            &["status"],
        )?;
        let connections = IntGauge::new("mandate_connections_open", "Client connections open now")?;
        let shed = IntCounter::new(
            "mandate_connections_shed_total",
            "Connections answered 503 and closed at the connection cap",
        )?;
        let accept_errors = IntCounter::new(
            "mandate_accept_errors_total",
            "Accept calls that failed (descriptor limits)",
        )?;
        let header_timeouts = IntCounter::new(
            "mandate_header_timeouts_total",
            "Connections closed: no complete request head within the header timeout",
        )?;
        let tls_failures = IntCounter::new(
            "mandate_tls_handshake_failures_total",
            "TLS handshakes that failed (a client certificate refused, no common parameters, not TLS)",
        )?;
        registry.register(Box::new(tls_failures.clone()))?;
        let replay_entries = IntGauge::new(
            "mandate_replay_store_entries",
            "Entries held by the in-memory replay store (its capacity is --replay-capacity)",
        )?;
        registry.register(Box::new(replay_entries.clone()))?;
        registry.register(Box::new(header_timeouts.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        registry.register(Box::new(accept_errors.clone()))?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(bundle_info.clone()))?;
        registry.register(Box::new(bundle_expiry.clone()))?;
        registry.register(Box::new(audit_records.clone()))?;
        registry.register(Box::new(audit_errors.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        Ok(Metrics {
            registry,
            decisions,
            latency,
            reloads,
            bundle_info,
            bundle_expiry,
            audit_records,
            audit_errors,
            rejected,
            refused,
            connections,
            shed,
            accept_errors,
            header_timeouts,
            tls_failures,
            replay_entries,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
