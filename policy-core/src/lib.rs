#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

// The pipeline (docs/pipeline.md), one module per step, in order.
mod audience;
pub mod bundle;
mod chain;
mod credentials;
pub mod decision;
pub mod engine;
pub mod grant;
pub mod guardrails;
pub mod http;
pub mod input;
mod load;
mod obligations;
mod proof;
pub mod replay;
pub mod request;
pub mod scope;

// What the steps share.
mod claims;
mod ctx;
pub mod principal;
pub mod use_once;

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
pub use decision::Decision;
pub use engine::Pdp;
pub use http::HttpDecideInput;
pub use input::{Credentials, DecideInput};
pub use jose::{Es256Verifier, P256Verifier, PrivateJwk, PublicJwk};
pub use reason::{Code, Reason};
pub use use_once::UseOnce;
