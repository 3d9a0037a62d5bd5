//! The two engines behind one [`crate::Decider`]: the core linked natively, or the portable
//! module run by wasmtime. Both take and give the same bytes; conformance tests hold them to it.

pub(crate) mod cache;
pub(crate) mod native;
pub(crate) mod wasm;

use crate::HostError;

pub use wasm::{WasmLimits, WasmRuntime};

/// Which engine a [`crate::Decider`] runs.
#[derive(Debug, Clone)]
pub struct Backend(pub(crate) Kind);

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Native,
    Wasm(WasmRuntime),
}

impl Backend {
    /// The core, linked into this process (fastest).
    #[must_use]
    pub fn native() -> Self {
        Backend(Kind::Native)
    }

    /// The portable module, compiled once into `runtime` and instantiated per engine state.
    #[must_use]
    pub fn wasm(runtime: &WasmRuntime) -> Self {
        Backend(Kind::Wasm(runtime.clone()))
    }

    /// `"native"` or `"wasm"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self.0 {
            Kind::Native => "native",
            Kind::Wasm(_) => "wasm",
        }
    }
}

/// One loaded engine (a generation), whichever backend runs it.
pub(crate) enum Loaded {
    Native(Box<native::NativeEngine>),
    Wasm(wasm::WasmEngine),
}

impl Loaded {
    /// Loads `config` with `backend`. Never fails for a bad config (the engine then denies);
    /// fails only when the backend itself cannot run.
    pub(crate) fn load(backend: &Backend, config: &[u8]) -> Result<(Loaded, Vec<u8>), HostError> {
        match &backend.0 {
            Kind::Native => {
                let (engine, status) = native::NativeEngine::load(config);
                Ok((Loaded::Native(Box::new(engine)), status))
            }
            Kind::Wasm(runtime) => {
                let (engine, status) = wasm::WasmEngine::load(runtime, config)?;
                Ok((Loaded::Wasm(engine), status))
            }
        }
    }

    pub(crate) fn decide(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        match self {
            Loaded::Native(e) => Ok(e.decide(input)),
            Loaded::Wasm(e) => e.decide(input),
        }
    }

    pub(crate) fn apply_replay(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        match self {
            Loaded::Native(e) => Ok(e.apply_replay(input)),
            Loaded::Wasm(e) => e.apply_replay(input),
        }
    }
}

impl core::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Loaded::Native(_) => f.write_str("Loaded::Native"),
            Loaded::Wasm(_) => f.write_str("Loaded::Wasm"),
        }
    }
}
