//! `Pdp`: one decision point — a loaded bundle, its replay store and, when given, its audit
//! log — over `host-rust`'s `DecisionPoint`, so a decision is audited (and synced) before it is
//! returned, exactly as `mandate serve` answers.

use std::path::PathBuf;
use std::sync::Arc;

use host_rust::audit::{AuditLog, AuditOptions};
use host_rust::{Backend, Decider, DecisionPoint, HostError, Keys, NoHooks};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{host, refused};
use crate::runtime::block_on;
use crate::stores::{self, Shared};

/// A decision point. Documents in and out are JSON bytes; the Python `mandate_pdp.Pdp` wraps
/// this class with dicts. Safe to share between threads.
#[pyclass(module = "mandate_pdp._native", frozen)]
#[derive(Debug)]
pub struct Pdp {
    point: Arc<DecisionPoint<Shared>>,
}

#[pymethods]
impl Pdp {
    /// Loads `config` (a load config: bundle, trust keys, ...). A config that does not load
    /// makes a decision point that denies everything with the load error's `bundle.*` code (see
    /// `status`). `verifier`: `"native"` (ring, the default) or `"portable"` (the core's p256,
    /// the code the wasm module runs); both give the same verdicts. `audit_log`: a path; every
    /// decision is appended and synced there before it is returned (one writer per file).
    #[new]
    #[pyo3(signature = (config, replay_store = None, audit_log = None, audit_segment_bytes = None, verifier = "native"))]
    fn new(
        py: Python<'_>,
        config: &[u8],
        replay_store: Option<&Bound<'_, PyAny>>,
        audit_log: Option<PathBuf>,
        audit_segment_bytes: Option<u64>,
        verifier: &str,
    ) -> PyResult<Self> {
        let backend = match verifier {
            "native" => Backend::native(),
            "portable" => Backend::native_portable(),
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "verifier must be \"native\" or \"portable\", not {other:?}"
                )));
            }
        };
        let store = stores::extract(replay_store)?;
        let config = config.to_vec();
        let decider = py.detach(move || {
            let decider = Decider::new(backend, store)?;
            // A config that does not load serves as a deny-everything engine with its code.
            match decider.load(&config) {
                Ok(_) | Err(HostError::Load { .. }) => Ok(decider),
                Err(e) => Err(e),
            }
        });
        let decider = decider.map_err(|e| host(&e))?;
        let audit = match audit_log {
            None => None,
            Some(path) => {
                let options = AuditOptions {
                    rotate_bytes: audit_segment_bytes,
                    ..AuditOptions::default()
                };
                let (log, _recovered) = py
                    .detach(|| AuditLog::open(&path, options))
                    .map_err(|e| refused(e.code(), format!("{}: {e}", path.display())))?;
                Some(log)
            }
        };
        let keys = Keys {
            trust: Vec::new(),
            grant_key: None,
            audiences: Vec::new(),
        };
        let point = DecisionPoint::new(decider, audit, keys, Arc::new(NoHooks));
        Ok(Pdp {
            point: Arc::new(point),
        })
    }

    /// The load status document (JSON bytes): `{"ok": true, "bundle": {...}}` or
    /// `{"ok": false, "error": {"code", "message"}}`.
    fn status<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.point.decider().status().raw)
    }

    /// Decides a decide input (JSON bytes, holding `now`), records the `use_once` ids of an
    /// allow in the replay store, audits it, and answers the decision's canonical JSON bytes.
    /// Raises `MandateError` only when the audit record could not be written (the decision is
    /// withheld); every other failure is a deny with its code.
    fn decide<'py>(&self, py: Python<'py>, input: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let point = Arc::clone(&self.point);
        let decision = block_on(py, async move { point.decide("decide", input).await })?
            .map_err(|e| host(&e))?;
        Ok(PyBytes::new(py, decision.as_bytes()))
    }

    /// Decides an HTTP decide input (the request as received: `http`, its `binding`, ...) as
    /// `decide` does, through the core's one HTTP binding.
    fn decide_http<'py>(&self, py: Python<'py>, input: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let point = Arc::clone(&self.point);
        let decision = block_on(py, async move { point.decide_http("check", input).await })?
            .map_err(|e| host(&e))?;
        Ok(PyBytes::new(py, decision.as_bytes()))
    }

    /// Loads `config` aside and serves it only when the core's replacement rule lets it
    /// replace what serves at `now` (not expired, valid now, not a rollback). Answers the new
    /// status; raises `MandateError` with the refusal's `bundle.*` code, and then what served
    /// keeps serving.
    fn replace<'py>(
        &self,
        py: Python<'py>,
        config: &[u8],
        now: i64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let config = config.to_vec();
        let point = Arc::clone(&self.point);
        let status = py
            .detach(move || point.decider().replace(&config, now))
            .map_err(|e| host(&e))?;
        Ok(PyBytes::new(py, &status.raw))
    }

    /// Whether the replay store answers now (a readiness probe): `None`, or the reason it
    /// does not, as `(code, message)`.
    fn ping(&self, py: Python<'_>) -> PyResult<Option<(String, String)>> {
        let point = Arc::clone(&self.point);
        let readiness = block_on(py, async move {
            use host_rust::replay::ReplayStore as _;
            point.decider().replay().ping().await
        })?;
        Ok(readiness
            .err()
            .map(|e| (e.code().as_str().to_string(), e.to_string())))
    }

    /// The last audit record's `(seq, hash)`, when there is an audit log.
    fn audit_head(&self) -> Option<(u64, String)> {
        self.point.audit().map(|log| {
            let head = log.head();
            (head.seq, head.hash)
        })
    }
}
