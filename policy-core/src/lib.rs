#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

// The pipeline (docs/pipeline.md), one module per step, in order. Private: the API is the
// `Pdp` and the typed documents re-exported below.
mod audience;
pub mod bundle;
mod chain;
mod credentials;
mod decision;
mod engine;
mod grant;
#[doc(hidden)]
pub mod guardrails;
pub mod http;
mod input;
mod load;
mod obligations;
mod pending;
mod proof;
mod replace;
mod replay;
#[doc(hidden)]
pub mod request;
#[doc(hidden)]
pub mod scope;

// What the steps share.
mod claims;
mod ctx;
mod principal;
mod use_once;

// Building blocks.
pub mod b64;
pub mod jose;
pub mod json;
pub mod limits;
pub mod mint;
pub mod reason;
pub mod registry;
#[cfg(feature = "schema")]
pub mod schema;

pub use chain::token_hash;
pub use decision::{AUDIT_VERSION, Decision};
pub use engine::{GuardrailTrace, Pdp};
pub use grant::MintRequest;
pub use http::HttpDecideInput;
pub use input::{Credentials, DecideInput};
pub use jose::{Es256Verifier, P256Verifier, PrivateJwk, PublicJwk};
pub use load::LoadConfig;
pub use pending::{Pending, ReplayOutcome};
pub use principal::Principal;
pub use reason::{Code, Origin, Reason};
pub use replace::{BundleFacts, may_replace, may_replace_json, refusal_json};
pub use replay::apply_replay_json;
pub use request::RequestSpec;
pub use use_once::UseOnce;
