//! The JSON Schemas of Mandate's wire documents and the TypeScript types made from them, and the
//! schema of the guardrails' `input`. The input documents' schemas come from the core's parser
//! types (`policy_core::schema`, feature `schema`); the decision's and the load status's from
//! typed mirrors of the documents the core builds by hand ([`decision`], [`status`]); the
//! guardrail input's from the types the core serializes it from. `gen-schemas` writes them to
//! `docs/schemas/` and the wire documents' types to `bindings-js/npm/types/wire.d.ts`.

pub mod decision;
pub mod status;
mod ts;

use serde_json::Value;

pub use ts::typescript;

/// One generated schema.
#[derive(Debug, Clone)]
pub struct Named {
    /// The file stem: `docs/schemas/<file>.schema.json`.
    pub file: &'static str,
    /// The root type's name (the schema's `title`, and the TypeScript type).
    pub title: &'static str,
    /// The schema.
    pub schema: Value,
}

fn named(file: &'static str, title: &'static str, schema: schemars::Schema) -> Named {
    let mut schema = schema.to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), Value::String(title.into()));
    }
    Named {
        file,
        title,
        schema,
    }
}

/// Every schema, in a fixed order.
#[must_use]
pub fn all() -> Vec<Named> {
    use policy_core::schema as core;
    vec![
        named("load-config", "LoadConfig", core::load_config()),
        named("decide-input", "DecideInput", core::decide_input()),
        named(
            "http-decide-input",
            "HttpDecideInput",
            core::http_decide_input(),
        ),
        named("bundle", "Bundle", core::bundle()),
        named("registry", "Registry", core::registry()),
        named("settings", "Settings", core::settings()),
        named(
            "load-status",
            "LoadStatus",
            schemars::schema_for!(status::LoadStatus),
        ),
        named(
            "decision",
            "Decision",
            schemars::schema_for!(decision::Decision),
        ),
    ]
}

/// The guardrails' `input` (docs/guardrails.md). Not a wire document — no host sends or reads
/// it, Rego policies do — so it is in [`files`] but not in [`all`] or the TypeScript types.
#[must_use]
pub fn guardrail_input() -> Named {
    named(
        "guardrail-input",
        "GuardrailInput",
        policy_core::schema::guardrail_input(),
    )
}

/// Every schema `docs/schemas/` holds: the wire documents ([`all`]), then the guardrail input.
#[must_use]
pub fn files() -> Vec<Named> {
    let mut files = all();
    files.push(guardrail_input());
    files
}

/// A schema as its file holds it: pretty JSON and a final newline.
///
/// # Panics
/// Never: a `Value` always serializes.
#[must_use]
pub fn file_text(schema: &Value) -> String {
    #[allow(clippy::expect_used)]
    let text = serde_json::to_string_pretty(schema).expect("a Value serializes");
    text + "\n"
}
