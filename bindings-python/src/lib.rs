//! `mandate_pdp._native`: the Python extension module of the `mandate-pdp` package.
//!
//! A thin layer over `host-rust`: every decision is the native engine's (ring ES256), every
//! use-once `jti` goes through a `host-rust` replay store and every audit record through its
//! audit log, so a Python host decides exactly as `mandate serve` does. Documents cross as JSON
//! bytes; the Python package (`python/mandate_pdp`) turns them into dicts.

use pyo3::prelude::*;

mod error;
mod issue;
mod pdp;
mod runtime;
mod stores;

pub use error::MandateError;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MandateError", m.py().get_type::<MandateError>())?;
    m.add_class::<pdp::Pdp>()?;
    m.add_class::<stores::MemoryReplayStore>()?;
    m.add_class::<stores::FileReplayStore>()?;
    m.add_class::<stores::RedisReplayStore>()?;
    m.add_class::<stores::CallbackReplayStore>()?;
    m.add_function(wrap_pyfunction!(issue::mint, m)?)?;
    m.add_function(wrap_pyfunction!(issue::generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(issue::thumbprint, m)?)?;
    m.add_function(wrap_pyfunction!(issue::verify_audit_log, m)?)?;
    m.add_function(wrap_pyfunction!(issue::codes, m)?)?;
    m.add("ABI", "mandate-pdp-native/1")?;
    Ok(())
}
