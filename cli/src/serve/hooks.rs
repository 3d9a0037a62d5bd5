//! What `serve` does when its decision point reports: Prometheus metrics and JSON log lines.

use core::time::Duration;
use host_rust::audit::{AuditError, Receipt};
use host_rust::{Decision, Hooks, LoadStatus};
use policy_core::Code;
use serde_json::json;

use super::log;
use super::metrics::Metrics;

/// The service's hooks: metrics, and a log line for every reload and audit failure.
#[derive(Debug, Clone)]
pub struct ServeHooks(pub Metrics);

impl Hooks for ServeHooks {
    fn decided(&self, endpoint: &str, decision: &Decision, elapsed: Duration) {
        let outcome = if decision.is_allow() { "allow" } else { "deny" };
        self.0
            .decisions
            .with_label_values(&[endpoint, outcome, decision.code().unwrap_or("none")])
            .inc();
        self.0
            .latency
            .with_label_values(&[endpoint])
            .observe(elapsed.as_secs_f64());
    }

    fn audit_appended(&self, _receipt: &Receipt) {
        self.0.audit_records.inc();
    }

    fn audit_failed(&self, error: &AuditError) {
        self.0.audit_errors.inc();
        log(
            "error",
            "audit append failed; the decision is withheld",
            &json!({"code": error.code(), "error": error.to_string()}),
        );
    }

    fn bundle_loaded(&self, origin: &str, status: &LoadStatus) {
        self.0.reloads.with_label_values(&["ok", "none"]).inc();
        self.0.bundle_info.reset();
        self.0
            .bundle_info
            .with_label_values(&[
                status.revision.as_deref().unwrap_or(""),
                status.digest.as_deref().unwrap_or(""),
            ])
            .set(1);
        self.0.bundle_expiry.set(status.exp.unwrap_or(0));
        log(
            "info",
            "bundle loaded",
            &json!({"source": origin, "revision": status.revision, "digest": status.digest, "exp": status.exp}),
        );
    }

    fn bundle_refused(&self, origin: &str, code: Code, message: &str, serving: &LoadStatus) {
        self.0
            .reloads
            .with_label_values(&["error", code.as_str()])
            .inc();
        // Before the first load there is nothing serving: `start` reports the error itself.
        if serving.ok {
            log(
                "error",
                "bundle refused; the previous bundle keeps serving",
                &json!({"source": origin, "code": code, "message": message, "serving": serving.revision}),
            );
        }
    }
}
