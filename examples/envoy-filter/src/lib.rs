#![doc = include_str!("../README.md")]
//!
//! Modules: [`config`] (the plugin configuration), [`request`] (the request, bound by the
//! core's HTTP binding, -> a decision),
//! [`response`] (decision -> forward or answer), [`replay`] (use-once `jti`s in shared data),
//! [`bundle_source`] (bundle updates), [`metrics`] (counters in Envoy's stats), and the
//! proxy-wasm contexts in `filter`.

pub mod bundle_source;
pub mod config;
mod filter;
pub mod metrics;
pub mod replay;
pub mod request;
pub mod response;

use proxy_wasm::traits::RootContext;
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(filter::MandateRoot::default()) });
}}
