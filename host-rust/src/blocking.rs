//! Blocking I/O (fsync) from async code.

/// Runs `f` off the async workers when there is a Tokio runtime (`spawn_blocking`), inline when
/// there is none. `Err` says why a spawned `f` did not finish (it panicked, or the runtime is
/// shutting down).
pub(crate) async fn off_workers<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn_blocking(f).await.map_err(|e| e.to_string()),
        Err(_) => Ok(f()),
    }
}
