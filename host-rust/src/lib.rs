#![doc = include_str!("../README.md")]

pub mod audit;
mod backend;
mod blocking;
mod decider;
mod decision;
mod decision_point;
mod error;
pub mod issuer;
pub mod replay;
mod status;
#[cfg(feature = "ring")]
pub mod verifier;

pub use backend::Backend;
#[cfg(feature = "wasm")]
pub use backend::wasm::{ABI_VERSION, RawInstance};
#[cfg(feature = "wasm")]
pub use backend::{WasmLimits, WasmRuntime};
pub use decider::Decider;
pub use decision::{Decision, Reason};
pub use decision_point::{DecisionPoint, Health, Hooks, Keys, NoHooks, Readiness};
pub use error::HostError;
pub use policy_core::jose::{PrivateJwk, PublicJwk};
pub use status::LoadStatus;
