#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod b64;
pub mod bundle;
mod claims;
pub mod decision;
pub mod delegation;
pub mod engine;
pub mod grant;
pub mod http;
pub mod jose;
pub mod json;
pub mod limits;
pub mod mint;
pub mod policy;
#[cfg(feature = "std")]
mod policy_clock;
mod proof;
pub mod reason;
pub mod registry;
mod rego_calls;
pub mod request;
pub mod scope;

pub use decision::Decision;
pub use engine::{Credentials, DecideInput, HttpDecideInput, Pdp, UseOnce};
pub use jose::{Es256Verifier, P256Verifier, PrivateJwk, PublicJwk};
pub use reason::{Code, Reason};
