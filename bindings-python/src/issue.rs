//! The agent and issuer side: keys, tokens and proofs minted by the core (the same code every
//! host and the CLI mint with), thumbprints, the code table, and audit log verification.

use std::path::PathBuf;

use host_rust::{PrivateJwk, PublicJwk, audit, issuer};
use policy_core::reason::Code;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
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

/// The chain key argument: the key itself (`bytes`, 32 or more), or the path of a key file
/// (`str` or path-like; hex, as `mandate serve --audit-key` reads).
fn chain_key(key: &Bound<'_, PyAny>) -> PyResult<audit::ChainKey> {
    let loaded = match key.cast::<PyBytes>() {
        Ok(bytes) => audit::ChainKey::new(bytes.as_bytes()),
        Err(_) => {
            let path: PathBuf = key.extract()?;
            audit::ChainKey::from_file(&path)
        }
    };
    loaded.map_err(|e| refused(e.code(), e.to_string()))
}

/// Verifies an audit log (every segment from the first record) against its head file; a keyed
/// log under its chain key `key`. Answers `(records, last_hash)`; raises `MandateError`
/// naming the first record that does not verify (`audit.tampered`), `audit.key_required` for a
/// keyed log without `key`, `audit.key_mismatch` for a key the log is not chained under (or an
/// unkeyed log), `audit.key_invalid` for a key that is not one, or the I/O error.
#[pyfunction]
#[pyo3(signature = (path, key = None))]
pub(crate) fn verify_audit_log(
    py: Python<'_>,
    path: PathBuf,
    key: Option<&Bound<'_, PyAny>>,
) -> PyResult<(u64, String)> {
    let key = key.map(chain_key).transpose()?;
    let report = py
        .detach(|| audit::verify_with_key(&path, None, key.as_ref()))
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
