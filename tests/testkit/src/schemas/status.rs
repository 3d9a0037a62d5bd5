//! A typed mirror of the load status document (`Pdp::status_json`, the module's
//! `mandate_status`, what `mandate_replace` answers): the core builds it by hand, so its schema
//! is written here as types, and `tests/schemas.rs` holds the statuses of the vector loads to it.
#![allow(dead_code)]

use super::decision::Reason;
use policy_core::BundleFacts;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// A load status: the verified bundle's facts, or why nothing loaded (or a bundle was refused).
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum LoadStatus {
    /// The config loaded.
    Loaded(LoadStatusOk),
    /// It did not, or the replacement rule refused it.
    Failed(LoadStatusFailed),
}

/// A config that loaded.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadStatusOk {
    /// `true`.
    ok: Const<true>,
    /// What the replacement rule compares of the verified bundle.
    bundle: BundleFacts,
}

/// A config that did not load, or a bundle refused.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadStatusFailed {
    /// `false`.
    ok: Const<false>,
    /// The `bundle.*` code and a message.
    error: Reason,
}

/// The boolean `B` and nothing else.
#[derive(Debug)]
pub struct Const<const B: bool>;

impl<const B: bool> JsonSchema for Const<B> {
    fn schema_name() -> Cow<'static, str> {
        format!("Const_{B}").into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "boolean", "const": B})
    }
}
