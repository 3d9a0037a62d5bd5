//! The one exception of the package: `MandateError(code, message)`, `code` a stable reason code
//! (docs/reason-codes.md).

use host_rust::HostError;
use policy_core::reason::Code;
use pyo3::PyErr;
use pyo3::exceptions::PyException;

pyo3::create_exception!(
    _native,
    MandateError,
    PyException,
    "A refusal with a stable reason code: args are (code, message)."
);

/// `MandateError(code, message)`.
pub(crate) fn refused(code: Code, message: impl Into<String>) -> PyErr {
    MandateError::new_err((code.as_str(), message.into()))
}

/// A host error as `MandateError`, with its code.
pub(crate) fn host(e: &HostError) -> PyErr {
    refused(e.code(), e.to_string())
}
