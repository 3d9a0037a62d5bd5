//! JSON Schemas (draft 2020-12) of the documents the core parses, derived from the parser's own
//! types (feature `schema`), so `#[serde(deny_unknown_fields)]`, `default` and `rename` show in
//! the schema exactly as the parser applies them. The schemas describe shape only: limits the
//! parser checks on values (sizes, lengths, URI syntax) are not in them. `docs/schemas/` holds
//! the generated files.

use alloc::vec::Vec;
use schemars::{Schema, schema_for};

/// The load config (docs/formats.md, "Load config").
#[must_use]
pub fn load_config() -> Schema {
    schema_for!(crate::load::LoadConfig)
}

/// A decide input.
#[must_use]
pub fn decide_input() -> Schema {
    schema_for!(crate::input::DecideInput)
}

/// An HTTP decide input.
#[must_use]
pub fn http_decide_input() -> Schema {
    schema_for!(crate::http::HttpDecideInput)
}

/// The claims of a bundle JWS (what the bundle signs).
#[must_use]
pub fn bundle() -> Schema {
    schema_for!(crate::bundle::BundleSpec)
}

/// The agent registry: a bundle's `agents`.
#[must_use]
pub fn registry() -> Schema {
    schema_for!(Vec<crate::registry::AgentSpec>)
}

/// A bundle's `settings`.
#[must_use]
pub fn settings() -> Schema {
    schema_for!(crate::bundle::Settings)
}
