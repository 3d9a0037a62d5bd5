//! The two engines behind one [`crate::Decider`]: the core linked natively, or the portable
//! module run by wasmtime. Both take and give the same bytes; conformance tests hold them to it.

#[cfg(feature = "wasm")]
pub(crate) mod cache;
pub(crate) mod native;
#[cfg(feature = "wasm")]
pub(crate) mod wasm;

use crate::HostError;
use policy_core::{DecideInput, HttpDecideInput, Pending};

#[cfg(feature = "wasm")]
pub use wasm::{WasmLimits, WasmRuntime};

/// Which engine a [`crate::Decider`] runs.
#[derive(Debug, Clone)]
pub struct Backend(pub(crate) Kind);

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Native(Verifier),
    #[cfg(feature = "wasm")]
    Wasm(WasmRuntime),
}

/// Which ES256 implementation the native backend verifies with. Both give the same verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verifier {
    /// The core's portable pure-Rust `p256`.
    Portable,
    /// ring's P-256 (feature `ring`).
    #[cfg(feature = "ring")]
    Ring,
}

impl Backend {
    /// The core, linked into this process (fastest): ES256 through ring when the `ring` feature
    /// is on (the default), else through the portable `p256`.
    #[must_use]
    pub fn native() -> Self {
        #[cfg(feature = "ring")]
        return Backend(Kind::Native(Verifier::Ring));
        #[cfg(not(feature = "ring"))]
        Backend(Kind::Native(Verifier::Portable))
    }

    /// The core, linked into this process, verifying with the portable `p256` — the same code
    /// the wasm module runs.
    #[must_use]
    pub fn native_portable() -> Self {
        Backend(Kind::Native(Verifier::Portable))
    }

    /// The portable module, compiled once into `runtime` and instantiated per engine state.
    #[cfg(feature = "wasm")]
    #[must_use]
    pub fn wasm(runtime: &WasmRuntime) -> Self {
        Backend(Kind::Wasm(runtime.clone()))
    }

    /// `"native"` or `"wasm"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self.0 {
            Kind::Native(_) => "native",
            #[cfg(feature = "wasm")]
            Kind::Wasm(_) => "wasm",
        }
    }
}

/// What an engine answered before the replay check: the core's typed [`Pending`] (native), or
/// the module's decision document (wasm), settled through `mandate_apply_replay`.
pub(crate) enum Answer {
    Typed(Pending),
    #[cfg_attr(not(feature = "wasm"), allow(dead_code))]
    Document(Vec<u8>),
}

/// One loaded engine (a generation), whichever backend runs it.
pub(crate) enum Loaded {
    Native(Box<native::NativeEngine>),
    #[cfg(feature = "wasm")]
    Wasm(wasm::WasmEngine),
}

impl Loaded {
    /// Loads `config` with `backend`. Never fails for a bad config (the engine then denies);
    /// fails only when the backend itself cannot run.
    pub(crate) fn load(backend: &Backend, config: &[u8]) -> Result<(Loaded, Vec<u8>), HostError> {
        match &backend.0 {
            Kind::Native(verifier) => {
                let (engine, status) = native::NativeEngine::load(config, *verifier);
                Ok((Loaded::Native(Box::new(engine)), status))
            }
            #[cfg(feature = "wasm")]
            Kind::Wasm(runtime) => {
                let (engine, status) = wasm::WasmEngine::load(runtime, config)?;
                Ok((Loaded::Wasm(engine), status))
            }
        }
    }

    pub(crate) fn decide(&self, input: &[u8]) -> Result<Answer, HostError> {
        match self {
            Loaded::Native(e) => Ok(Answer::Typed(e.decide(input))),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(e) => e.decide(input).map(Answer::Document),
        }
    }

    pub(crate) fn decide_http(&self, input: &[u8]) -> Result<Answer, HostError> {
        match self {
            Loaded::Native(e) => Ok(Answer::Typed(e.decide_http(input))),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(e) => e.decide_http(input).map(Answer::Document),
        }
    }

    /// A typed input: decided typed by the native engine; the module takes its document.
    pub(crate) fn decide_input(&self, input: &DecideInput) -> Result<Answer, HostError> {
        match self {
            Loaded::Native(e) => Ok(Answer::Typed(e.decide_input(input))),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(e) => {
                let doc = serde_json::to_vec(input).map_err(|e| HostError::Trap(e.to_string()))?;
                e.decide(&doc).map(Answer::Document)
            }
        }
    }

    /// A typed HTTP decide input, as [`Self::decide_input`].
    pub(crate) fn decide_http_input(&self, input: &HttpDecideInput) -> Result<Answer, HostError> {
        match self {
            Loaded::Native(e) => Ok(Answer::Typed(e.decide_http_input(input))),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(e) => {
                let doc = serde_json::to_vec(input).map_err(|e| HostError::Trap(e.to_string()))?;
                e.decide_http(&doc).map(Answer::Document)
            }
        }
    }

    pub(crate) fn apply_replay(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        match self {
            Loaded::Native(e) => Ok(e.apply_replay(input)),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(e) => e.apply_replay(input),
        }
    }
}

impl core::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Loaded::Native(_) => f.write_str("Loaded::Native"),
            #[cfg(feature = "wasm")]
            Loaded::Wasm(_) => f.write_str("Loaded::Wasm"),
        }
    }
}
