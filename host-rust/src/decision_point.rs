//! A decision point: what a service that answers decisions (`mandate serve`, a gateway, a
//! sidecar) does around the [`Decider`], written once.
//!
//! - **Decide, then audit, then answer.** [`DecisionPoint::decide`], [`DecisionPoint::decide_http`]
//!   and [`DecisionPoint::decide_input`] decide through the decider (replay check included) and,
//!   when an audit log is configured, append the decision's audit record and wait until it is
//!   durable. If the append fails the decision is withheld ([`HostError::Audit`]): every answer a
//!   client receives is on disk.
//! - **Reload by the one rule.** [`DecisionPoint::load_bundle`] builds the load config (trust
//!   keys, grant key, audiences) and installs the bundle only when the core's replacement rule
//!   lets it replace what serves ([`Decider::replace`]): verified once, by the engine that will
//!   serve it.
//! - **Health that tells the truth.** [`DecisionPoint::health`]: the serving bundle, whether it
//!   expired, the last reload error.
//! - **Hooks** ([`Hooks`]) for metrics and logs: every decision, audit append and reload.

use core::time::Duration;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use policy_core::reason::Code;
use policy_core::{DecideInput, HttpDecideInput, PrivateJwk, PublicJwk};
use serde_json::Value;

use crate::audit::{AuditError, AuditLog, Receipt};
use crate::decider::Decider;
use crate::decision::Decision;
use crate::error::HostError;
use crate::replay::ReplayStore;
use crate::status::LoadStatus;

/// What a decision point reports as it works; every method has an empty default. Called on the
/// request's task: keep them cheap (count, log), never block.
pub trait Hooks: Send + Sync + core::fmt::Debug {
    /// A decision was made (and, with an audit log, appended): `endpoint` is the caller's label.
    fn decided(&self, endpoint: &str, decision: &Decision, elapsed: Duration) {
        let _ = (endpoint, decision, elapsed);
    }
    /// An audit record was appended and is durable.
    fn audit_appended(&self, receipt: &Receipt) {
        let _ = receipt;
    }
    /// An audit append failed; the decision it recorded is withheld.
    fn audit_failed(&self, error: &AuditError) {
        let _ = error;
    }
    /// A bundle was installed (`status` is what now serves).
    fn bundle_loaded(&self, origin: &str, status: &LoadStatus) {
        let _ = (origin, status);
    }
    /// A bundle (or a poll for one) was refused; `serving` is what keeps serving.
    fn bundle_refused(&self, origin: &str, code: Code, message: &str, serving: &LoadStatus) {
        let _ = (origin, code, message, serving);
    }
}

/// Hooks that do nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// How a decision point loads bundles.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// The public keys a bundle may be signed by.
    pub trust: Vec<PublicJwk>,
    /// The key grants are minted with, when this decision point mints them.
    pub grant_key: Option<PrivateJwk>,
    /// This decision point's identifiers (a token's `aud` must name one). Empty: the request's
    /// origin.
    pub audiences: Vec<String>,
}

/// The state of a decision point, for liveness and readiness endpoints.
#[derive(Debug, Clone)]
pub struct Health {
    /// A bundle loaded, and it is valid now (not expired, not before its `nbf`).
    pub ok: bool,
    /// What serves.
    pub status: LoadStatus,
    /// The serving bundle's `exp` has passed.
    pub expired: bool,
    /// The last reload that failed since the last one that succeeded.
    pub last_reload_error: Option<(Code, String)>,
    /// `"native"` or `"wasm"`.
    pub backend: &'static str,
}

/// Whether a decision point can answer with an allow now, for a readiness endpoint: every
/// part it needs, each problem with its code. Liveness (the process answers) needs none of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// No problem: a bundle serves inside its window, the audit log (when configured) takes
    /// records, and the replay store answers.
    pub ready: bool,
    /// What is wrong, by part (`bundle`, `audit`, `replay`), with its code and message.
    pub problems: Vec<(&'static str, Code, String)>,
}

/// A decider, its audit log, its keys and hooks. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct DecisionPoint<S> {
    decider: Decider<S>,
    audit: Option<Arc<AuditLog>>,
    keys: Keys,
    hooks: Arc<dyn Hooks>,
    last_reload_error: Mutex<Option<(Code, String)>>,
}

impl<S: ReplayStore> DecisionPoint<S> {
    /// A decision point over `decider`, appending to `audit` when given.
    #[must_use]
    pub fn new(
        decider: Decider<S>,
        audit: Option<AuditLog>,
        keys: Keys,
        hooks: Arc<dyn Hooks>,
    ) -> Self {
        DecisionPoint {
            decider,
            audit: audit.map(Arc::new),
            keys,
            hooks,
            last_reload_error: Mutex::new(None),
        }
    }

    /// The decider (its status, its backend).
    #[must_use]
    pub fn decider(&self) -> &Decider<S> {
        &self.decider
    }

    /// The audit log, when one is configured.
    #[must_use]
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_deref()
    }

    /// The load config of a bundle JWS: the trust keys, the grant key, and the audiences when
    /// configured.
    #[must_use]
    pub fn load_config(&self, bundle: &str) -> Vec<u8> {
        let config =
            crate::issuer::load_config(bundle, &self.keys.trust, self.keys.grant_key.as_ref());
        if self.keys.audiences.is_empty() {
            return config;
        }
        match serde_json::from_slice::<Value>(&config) {
            Ok(Value::Object(mut obj)) => {
                obj.insert("audiences".into(), Value::from(self.keys.audiences.clone()));
                serde_json::to_vec(&obj).unwrap_or_default()
            }
            // Never load without the audiences asked for: an empty config does not load.
            _ => Vec::new(),
        }
    }

    /// Installs the bundle JWS read from `origin` when it verifies and may replace what serves
    /// at `now` ([`Decider::replace`]). Blocking CPU work (verification, policy compilation):
    /// in async code, call it from `spawn_blocking`.
    ///
    /// # Errors
    /// [`HostError::Load`] with the refusal's code; what served keeps serving.
    pub fn load_bundle(
        &self,
        bundle: &str,
        origin: &str,
        now: i64,
    ) -> Result<LoadStatus, HostError> {
        let result = self.decider.replace(&self.load_config(bundle), now);
        match &result {
            Ok(status) => {
                *self.reload_error() = None;
                self.hooks.bundle_loaded(origin, status);
            }
            Err(HostError::Load { code, message }) => self.reload_failed(origin, *code, message),
            Err(e) => self.reload_failed(origin, e.code(), &e.to_string()),
        }
        result
    }

    /// Installs the **first** bundle of a decision point that has to run whatever the bundle's
    /// clock says. As [`Self::load_bundle`], except that a bundle that verified and is only
    /// outside its validity window (`bundle.expired`, `bundle.not_yet_valid`) is installed
    /// anyway: every decision then denies with that code, [`Self::health`] reports it, and the
    /// next bundle that passes the rule replaces it. A service restarted during a bundle outage
    /// so keeps answering (deny) and polling instead of exiting and crash-looping. Any other
    /// refusal (a bad signature, an untrusted key, a malformed bundle) installs nothing.
    ///
    /// Answers `None` when the bundle passed the rule, or the window's `(code, message)` when
    /// it serves out of its window.
    ///
    /// # Errors
    /// [`HostError::Load`] with the refusal's code when nothing was installed.
    pub fn start_bundle(
        &self,
        bundle: &str,
        origin: &str,
        now: i64,
    ) -> Result<Option<(Code, String)>, HostError> {
        let out_of_window = match self.load_bundle(bundle, origin, now) {
            Ok(_) => return Ok(None),
            Err(HostError::Load { code, message })
                if matches!(code, Code::BundleExpired | Code::BundleNotYetValid) =>
            {
                (code, message)
            }
            Err(e) => return Err(e),
        };
        // Out of its window only: it verified. Installed without the rule, its decisions deny
        // with the window's code (the core checks the window on every decision).
        let status = self.decider.load(&self.load_config(bundle))?;
        // The refusal stays the last reload error (`load_bundle` recorded it): health says why.
        self.hooks.bundle_loaded(origin, &status);
        Ok(Some(out_of_window))
    }

    /// Records a reload that failed before reaching the engine (the source could not be read):
    /// health reports it, hooks see it.
    pub fn reload_failed(&self, origin: &str, code: Code, message: &str) {
        *self.reload_error() = Some((code, message.to_owned()));
        self.hooks
            .bundle_refused(origin, code, message, &self.decider.status());
    }

    fn reload_error(&self) -> std::sync::MutexGuard<'_, Option<(Code, String)>> {
        self.last_reload_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides a decide input document (already holding this host's `now` and `decision_id`),
    /// then audits it.
    ///
    /// # Errors
    /// [`HostError::Audit`] when the audit record could not be written: the decision is withheld.
    pub async fn decide(&self, endpoint: &str, input: &[u8]) -> Result<Decision, HostError> {
        let started = Instant::now();
        let decision = self.decider.decide(input).await;
        self.answer(endpoint, started, decision).await
    }

    /// Decides an HTTP decide input document (the request as received, bound by the core's
    /// HTTP binding), then audits it.
    ///
    /// # Errors
    /// As [`Self::decide`].
    pub async fn decide_http(&self, endpoint: &str, input: &[u8]) -> Result<Decision, HostError> {
        let started = Instant::now();
        let decision = self.decider.decide_http(input).await;
        self.answer(endpoint, started, decision).await
    }

    /// Decides a typed decide input, then audits it.
    ///
    /// # Errors
    /// As [`Self::decide`].
    pub async fn decide_input(
        &self,
        endpoint: &str,
        input: &DecideInput,
    ) -> Result<Decision, HostError> {
        let started = Instant::now();
        let decision = self.decider.decide_input(input).await;
        self.answer(endpoint, started, decision).await
    }

    /// Decides a typed HTTP decide input, then audits it.
    ///
    /// # Errors
    /// As [`Self::decide`].
    pub async fn decide_http_input(
        &self,
        endpoint: &str,
        input: &HttpDecideInput,
    ) -> Result<Decision, HostError> {
        let started = Instant::now();
        let decision = self.decider.decide_http_input(input).await;
        self.answer(endpoint, started, decision).await
    }

    /// Appends the decision's audit record (the answer waits until it is durable), then reports.
    async fn answer(
        &self,
        endpoint: &str,
        started: Instant,
        decision: Decision,
    ) -> Result<Decision, HostError> {
        if let Some(log) = &self.audit {
            match append(log, &decision).await {
                Ok(receipt) => self.hooks.audit_appended(&receipt),
                Err(e) => {
                    self.hooks.audit_failed(&e);
                    return Err(HostError::Audit(e));
                }
            }
        }
        self.hooks.decided(endpoint, &decision, started.elapsed());
        Ok(decision)
    }

    /// Whether this decision point can allow anything now: the bundle serves inside its window,
    /// the audit log takes records (a log whose last write failed is repaired here if it can
    /// be, so a decision point out of rotation still comes back), and the replay store answers.
    pub async fn readiness(&self, now: i64) -> Readiness {
        let mut problems = Vec::new();
        let health = self.health(now);
        if !health.ok {
            let (code, message) = match (&health.status.error, health.expired) {
                (Some((c, m)), _) => (*c, m.clone()),
                (None, true) => (Code::BundleExpired, "the serving bundle has expired".into()),
                (None, false) => (
                    Code::BundleNotYetValid,
                    "the serving bundle is not valid yet".into(),
                ),
            };
            problems.push(("bundle", code, message));
        }
        if let Some(log) = &self.audit {
            let log = Arc::clone(log);
            let repaired = crate::blocking::off_workers(move || log.repair())
                .await
                .unwrap_or_else(|e| Err(AuditError::Io(std::io::Error::other(e))));
            if let Err(e) = repaired {
                problems.push(("audit", Code::AuditUnavailable, e.to_string()));
            }
        }
        if let Err(e) = self.decider.replay().ping().await {
            problems.push(("replay", e.code(), e.to_string()));
        }
        Readiness {
            ready: problems.is_empty(),
            problems,
        }
    }

    /// The state for liveness and readiness, judged at `now`.
    #[must_use]
    pub fn health(&self, now: i64) -> Health {
        let status = self.decider.status();
        let expired = status.exp.is_some_and(|e| now >= e);
        let early = status.nbf.is_some_and(|n| now < n);
        Health {
            ok: status.ok && !expired && !early,
            status,
            expired,
            last_reload_error: self.reload_error().clone(),
            backend: self.decider.backend().name(),
        }
    }
}

/// Appends the decision's audit object, off the async workers when there are any (fdatasync is
/// blocking I/O), inline otherwise. A decision without one is not answered.
async fn append(log: &Arc<AuditLog>, decision: &Decision) -> Result<Receipt, AuditError> {
    let Some(record) = decision.audit() else {
        return Err(AuditError::InvalidRecord(
            "the decision carries no audit object".into(),
        ));
    };
    let (log, record) = (Arc::clone(log), record.clone());
    crate::blocking::off_workers(move || log.append(&record))
        .await
        .unwrap_or_else(|e| Err(AuditError::Io(std::io::Error::other(e))))
}
