//! The replay stores, as Python classes. Each holds its `host-rust` store behind an `Arc`, so
//! one store may serve several `Pdp`s in a process (one `jti` space), as in the other hosts.

use core::time::Duration;
use std::path::PathBuf;
use std::sync::Arc;

use host_rust::replay::{self, AnyStore, ReplayError, ReplayStore, UseOnce};
use pyo3::prelude::*;

use crate::error::refused;

/// A store shared between the Python object and the decision points using it: one of
/// `host-rust`'s, or one written in Python.
#[derive(Debug, Clone)]
pub(crate) enum Shared {
    Rust(Arc<AnyStore>),
    Python(Arc<Py<PyAny>>),
}

impl ReplayStore for Shared {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        match self {
            Shared::Rust(store) => store.record(entries, now).await,
            Shared::Python(record) => call_record(record, entries, now),
        }
    }

    async fn ping(&self) -> Result<(), ReplayError> {
        match self {
            Shared::Rust(store) => store.ping().await,
            Shared::Python(_) => Ok(()),
        }
    }

    fn remembers_since(&self) -> Option<i64> {
        match self {
            Shared::Rust(store) => store.remembers_since(),
            Shared::Python(_) => None,
        }
    }
}

impl Shared {
    /// The live entries held in this process (none for Redis or a Python store: 0).
    fn len(&self) -> usize {
        match self {
            Shared::Rust(store) => store.len(),
            Shared::Python(_) => 0,
        }
    }
}

/// Calls a Python store's `record(entries, now)`; anything but a list of strings, or an
/// exception, is a store that could not answer (the decision denies).
fn call_record(
    record: &Py<PyAny>,
    entries: &[UseOnce],
    now: i64,
) -> Result<Vec<String>, ReplayError> {
    replay::validate(entries, now)?;
    Python::attach(|py| {
        let list = pyo3::types::PyList::empty(py);
        for e in entries {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("jti", &e.jti)?;
            d.set_item("exp", e.exp)?;
            d.set_item("kind", &e.kind)?;
            list.append(d)?;
        }
        record.call1(py, (list, now))?.extract::<Vec<String>>(py)
    })
    .map_err(|e: PyErr| ReplayError::Unavailable(format!("the Python store raised: {e}")))
}

/// A replay store written in Python: `record(entries, now)` gets the allow's use-once entries
/// (`[{"jti", "exp", "kind"}]`, `now` the decision's time) and answers the `jti`s that were
/// already recorded. It must record every new entry through `exp` and be atomic per
/// `<kind>:<jti>` across everything sharing it. An exception, or an answer that is not a list
/// of strings, denies with `replay.store_unavailable`.
#[pyclass(module = "mandate_pdp._native", frozen)]
#[derive(Debug)]
pub struct CallbackReplayStore {
    pub(crate) shared: Shared,
}

#[pymethods]
impl CallbackReplayStore {
    #[new]
    fn new(record: Py<PyAny>) -> Self {
        CallbackReplayStore {
            shared: Shared::Python(Arc::new(record)),
        }
    }
}

/// One process's store, bounded: full of live entries it denies, never forgets one.
/// `remembering_since` (unix seconds, e.g. the process start): it holds no use from before, so
/// proofs and grants issued earlier are denied with `replay.history_unknown`.
#[pyclass(module = "mandate_pdp._native", frozen)]
#[derive(Debug)]
pub struct MemoryReplayStore {
    pub(crate) shared: Shared,
}

#[pymethods]
impl MemoryReplayStore {
    #[new]
    #[pyo3(signature = (capacity = replay::DEFAULT_CAPACITY, remembering_since = None))]
    fn new(capacity: usize, remembering_since: Option<i64>) -> Self {
        let store = replay::MemoryReplayStore::new(capacity);
        let store = match remembering_since {
            Some(since) => store.remembering_since(since),
            None => store,
        };
        MemoryReplayStore {
            shared: Shared::Rust(Arc::new(AnyStore::Memory(store))),
        }
    }

    /// Live entries.
    #[getter]
    fn size(&self) -> usize {
        self.shared.len()
    }

    /// Since when every use is remembered (unix seconds), or None: always.
    #[getter]
    fn remembers_since(&self) -> Option<i64> {
        self.shared.remembers_since()
    }
}

/// The memory store with each new entry journaled to `path` and synced before the decision is
/// answered: a restart (even `kill -9`) forgets no used `jti`. One process at a time (locked).
#[pyclass(module = "mandate_pdp._native", frozen)]
#[derive(Debug)]
pub struct FileReplayStore {
    pub(crate) shared: Shared,
}

#[pymethods]
impl FileReplayStore {
    #[new]
    #[pyo3(signature = (path, capacity = replay::DEFAULT_CAPACITY, now = None))]
    fn new(path: PathBuf, capacity: usize, now: Option<i64>) -> PyResult<Self> {
        let now = now.unwrap_or_else(crate::issue::unix_now);
        let store = replay::FileReplayStore::open(&path, capacity, now)
            .map_err(|e| refused(e.code(), format!("{}: {e}", path.display())))?;
        Ok(FileReplayStore {
            shared: Shared::Rust(Arc::new(AnyStore::File(store))),
        })
    }

    /// Live entries.
    #[getter]
    fn size(&self) -> usize {
        self.shared.len()
    }
}

/// Redis shared by many processes and nodes: `SET <prefix><kind>:<jti> 1 NX PX <ttl>` per
/// entry, the keys every Mandate host uses. Connects lazily; while Redis cannot answer, every
/// allow that needs it is a `replay.store_unavailable` deny.
#[pyclass(module = "mandate_pdp._native", frozen)]
#[derive(Debug)]
pub struct RedisReplayStore {
    pub(crate) shared: Shared,
}

#[pymethods]
impl RedisReplayStore {
    #[new]
    #[pyo3(signature = (url, prefix = None, timeout_ms = 500))]
    fn new(url: &str, prefix: Option<String>, timeout_ms: u64) -> PyResult<Self> {
        let store = crate::runtime::enter(|| replay::RedisReplayStore::connect(url))?
            .map_err(|e| refused(e.code(), format!("{url}: {e}")))?
            .with_timeout(Duration::from_millis(timeout_ms));
        let store = match prefix {
            Some(p) => store.with_prefix(p),
            None => store,
        };
        Ok(RedisReplayStore {
            shared: Shared::Rust(Arc::new(AnyStore::Redis(store))),
        })
    }
}

/// The store a `Pdp` was given (a memory store of its own when none).
pub(crate) fn extract(store: Option<&Bound<'_, PyAny>>) -> PyResult<Shared> {
    let Some(store) = store else {
        return Ok(MemoryReplayStore::new(replay::DEFAULT_CAPACITY, None).shared);
    };
    if let Ok(s) = store.extract::<PyRef<'_, MemoryReplayStore>>() {
        return Ok(s.shared.clone());
    }
    if let Ok(s) = store.extract::<PyRef<'_, FileReplayStore>>() {
        return Ok(s.shared.clone());
    }
    if let Ok(s) = store.extract::<PyRef<'_, RedisReplayStore>>() {
        return Ok(s.shared.clone());
    }
    if let Ok(s) = store.extract::<PyRef<'_, CallbackReplayStore>>() {
        return Ok(s.shared.clone());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "replay_store must be a MemoryReplayStore, FileReplayStore, RedisReplayStore or CallbackReplayStore",
    ))
}
