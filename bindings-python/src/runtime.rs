//! The Tokio runtime the stores and the audit log run on: one per process, made on first use,
//! with one worker (Redis connections live on it). Python threads block on it with the GIL
//! released, so other Python threads run meanwhile.

use core::future::Future;
use std::sync::LazyLock;

use policy_core::reason::Code;
use pyo3::prelude::*;

use crate::error::refused;

static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mandate-pdp")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    RUNTIME
        .as_ref()
        .map_err(|e| refused(Code::InternalError, format!("no async runtime: {e}")))
}

/// Runs `future` to completion without the GIL.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| rt.block_on(future)))
}

/// Runs `f` inside the runtime's context (what makes a Redis connection manager).
pub(crate) fn enter<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    let _guard = runtime()?.enter();
    Ok(f())
}
