//! The agent and issuer side: keys, tokens and proofs minted by the core (the same code every
//! host and the CLI mint with), thumbprints, the code table, and audit log verification.

use std::path::PathBuf;

use host_rust::{PrivateJwk, PublicJwk, audit, issuer};
use policy_core::reason::Code;
use pyo3::prelude::*;
use serde_json::Value;

use crate::error::{host, refused};

/// Seconds since the Unix epoch, by this host's clock.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn json(bytes: &[u8], what: &str) -> PyResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| refused(Code::InputMalformed, format!("{what} is not JSON: {e}")))
}

/// Mints a token through the core: `{"kind": "bundle" | "delegation" | "subdelegation" |
/// "proof" | "grant", "key": <private JWK>, ...}` as JSON bytes (docs/formats.md). Answers
/// the compact JWS.
#[pyfunction]
pub(crate) fn mint(py: Python<'_>, input: &[u8]) -> PyResult<String> {
    let input = input.to_vec();
    py.detach(move || issuer::mint_json(&input))
        .map_err(|e| host(&e))
}

/// A fresh P-256 private JWK (JSON bytes), from the OS's randomness.
#[pyfunction]
#[pyo3(signature = (kid = None))]
pub(crate) fn generate_key(kid: Option<&str>) -> PyResult<Vec<u8>> {
    let key = issuer::generate_key(kid).map_err(|e| host(&e))?;
    serde_json::to_vec(&key.to_json_value())
        .map_err(|e| refused(Code::InternalError, e.to_string()))
}

/// The RFC 7638 thumbprint of a P-256 JWK (public or private; JSON bytes): what `cnf.jkt`
/// names.
#[pyfunction]
pub(crate) fn thumbprint(jwk: &[u8]) -> PyResult<String> {
    let value = json(jwk, "jwk")?;
    let key = if value.get("d").is_some() {
        PrivateJwk::from_value(&value).map(|k| k.public().thumbprint())
    } else {
        PublicJwk::from_value(&value).map(|k| k.thumbprint())
    };
    key.map_err(|e| refused(Code::InputMalformed, format!("jwk: {e}")))
}

/// Verifies an audit log (every segment from the first record) against its head file.
/// Answers `(records, last_hash)`; raises `MandateError` naming the first record that does
/// not verify (`audit.tampered`) or the I/O error.
#[pyfunction]
pub(crate) fn verify_audit_log(py: Python<'_>, path: PathBuf) -> PyResult<(u64, String)> {
    let report = py
        .detach(|| audit::verify(&path, None))
        .map_err(|e| refused(e.code(), format!("{}: {e}", path.display())))?;
    Ok((report.records, report.last_hash))
}

/// Every stable reason code, with what it means: `[(code, meaning), ...]`.
#[pyfunction]
pub(crate) fn codes() -> Vec<(&'static str, &'static str)> {
    Code::ALL
        .iter()
        .map(|c| (c.as_str(), c.meaning()))
        .collect()
}
