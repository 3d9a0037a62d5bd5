//! JSON Schemas (draft 2020-12) of the documents the core parses, derived from the parser's own
//! types (feature `schema`), so `#[serde(deny_unknown_fields)]`, `default` and `rename` show in
//! the schema exactly as the parser applies them; and of the one document it builds for Rego, the
//! guardrails' `input`, derived from the types it is serialized from. The schemas describe shape
//! only: limits the parser checks on values (sizes, lengths, URI syntax) are not in them.
//! `docs/schemas/` holds the generated files.

use alloc::vec::Vec;
use schemars::{Schema, generate::SchemaSettings, schema_for};

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

/// The guardrails' `input` (docs/guardrails.md), as decisions build it. The core writes this
/// document rather than parsing it, so the schema is the serialization contract: a member the
/// core leaves out when it has no value (`request.port`, `request.ip`, …) is optional, every
/// other member is required, and an object the core builds is closed (`context`, the agent's
/// `labels` and authorization details are open, as given).
#[must_use]
pub fn guardrail_input() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<crate::guardrails::GuardrailInput<'static>>()
}

/// The schemas of members the parser takes as raw JSON and checks itself (keys, RFC 9396
/// details): what those checks accept, so the generated types say more than "any value".
pub mod members {
    use alloc::{collections::BTreeMap, string::String, vec::Vec};
    use schemars::JsonSchema;
    use serde_json::Value;

    /// Which credentials a decision's principal presented (`input.delegation.kind`).
    #[derive(Debug, JsonSchema)]
    #[schemars(rename_all = "lowercase")]
    pub enum CredentialKind {
        /// A delegation chain and a DPoP proof.
        Delegation,
        /// An ephemeral grant.
        Grant,
    }

    /// `kty`: only elliptic-curve keys.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "JwkKty")]
    pub enum Kty {
        /// Elliptic curve.
        EC,
    }

    /// `crv`: only P-256.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "JwkCrv")]
    pub enum Crv {
        /// NIST P-256.
        #[schemars(rename = "P-256")]
        P256,
    }

    /// `alg`, when present: only ES256.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "JwkAlg")]
    pub enum Alg {
        /// ECDSA P-256 SHA-256.
        ES256,
    }

    /// `use`, when present: only signatures.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "JwkUse")]
    pub enum Use {
        /// Signing and verification.
        #[schemars(rename = "sig")]
        Sig,
    }

    /// A public P-256 JWK (RFC 7517/7518) as `jose::PublicJwk::from_value` accepts it: the point
    /// must lie on the curve, `key_ops` must allow `verify` or `sign`, a `d` is refused, and
    /// other members are ignored. Optional members are absent or of their type: `null` is
    /// refused, as the parser refuses it.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "PublicJwk")]
    pub struct PublicJwk {
        /// Key type.
        pub kty: Kty,
        /// Curve.
        pub crv: Crv,
        /// base64url of the 32-byte x coordinate.
        pub x: String,
        /// base64url of the 32-byte y coordinate.
        pub y: String,
        /// Key id; a bundle's `kid` picks the trust key by it.
        #[schemars(default, with = "String")]
        pub kid: Option<String>,
        /// Algorithm.
        #[schemars(default, with = "Alg")]
        pub alg: Option<Alg>,
        /// Public key use.
        #[schemars(default, rename = "use", with = "Use")]
        pub key_use: Option<Use>,
        /// Key operations.
        #[schemars(default, with = "Vec<String>")]
        pub key_ops: Option<Vec<String>>,
        /// Other members, ignored.
        #[schemars(flatten)]
        pub other: BTreeMap<String, Value>,
    }

    /// A private P-256 JWK: the public members and the scalar `d`.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "PrivateJwk")]
    pub struct PrivateJwk {
        /// The public members.
        #[schemars(flatten)]
        pub public: PublicJwk,
        /// base64url of the 32-byte private scalar.
        pub d: String,
    }

    /// An RFC 9396 authorization detail: a `type` and the members that type defines.
    #[derive(Debug, JsonSchema)]
    #[schemars(rename = "AuthorizationDetail")]
    pub struct AuthorizationDetail {
        /// The detail's type (RFC 9396 §2).
        #[schemars(rename = "type")]
        pub kind: String,
        /// The type's members (`actions`, `locations`, …).
        #[schemars(flatten)]
        pub members: BTreeMap<String, Value>,
    }
}
