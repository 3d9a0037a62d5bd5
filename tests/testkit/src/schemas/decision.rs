//! A typed mirror of the decision document. The core builds it by hand (`json!` in
//! `policy-core/src/decision.rs`), so its schema is written here as types, and the test
//! `tests/schemas.rs` holds every conformance and HTTP vector's decision to it.
#![allow(dead_code)]

use policy_core::Code;
use policy_core::schema::members::AuthorizationDetail;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A stable code: one of `policy_core::Code::ALL` (docs/reason-codes.md).
#[derive(Debug)]
pub struct ReasonCode(String);

impl JsonSchema for ReasonCode {
    fn schema_name() -> Cow<'static, str> {
        "ReasonCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        json_schema!({
            "description": "A stable code (docs/reason-codes.md), from `policy_core::Code`.",
            "type": "string",
            "enum": codes,
        })
    }
}

/// A member that is always present, `T` or `null`.
#[derive(Debug)]
pub struct OrNull<T>(Option<T>);

impl<T: JsonSchema> JsonSchema for OrNull<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OrNull_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let some = generator.subschema_for::<T>();
        json_schema!({"anyOf": [some, {"type": "null"}]})
    }
}

/// The canonical decision document (docs/formats.md, "Decision").
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Decision {
    /// `allow` only when every check passed and the guardrails allowed.
    decision: Outcome,
    /// Host-supplied, or derived from the input's hash.
    decision_id: String,
    /// Empty on allow; on deny ordered, first cause first.
    reasons: Vec<Reason>,
    /// What the guardrails require of the enforcement point.
    obligations: Map<String, Value>,
    /// Who acted for whom; null when the credentials never identified an agent.
    principal: OrNull<Principal>,
    /// The effective scopes.
    scopes: Vec<String>,
    /// The effective RFC 9396 authorization details.
    authorization_details: Vec<AuthorizationDetail>,
    /// Every entry the host must record as used until `exp` (allow only).
    use_once: Vec<UseOnce>,
    /// A minted ephemeral grant (compact JWS), only on allow with `mint_grant`.
    #[schemars(default, with = "String")]
    grant: Option<String>,
    /// The audit record (docs/formats.md, "Audit record").
    audit: Audit,
}

/// A decision's outcome.
#[derive(Debug, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check passed.
    Allow,
    /// Some check failed.
    Deny,
}

/// One cause of a deny.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Reason {
    /// A stable reason code (docs/reason-codes.md).
    code: ReasonCode,
    /// A human-readable explanation; never parse it.
    message: String,
}

/// Which credentials a principal presented.
#[derive(Debug, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A delegation chain and a proof.
    Delegation,
    /// An ephemeral grant.
    Grant,
}

/// Who acted for whom, once proven.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Principal {
    /// The acting agent (the last of the chain).
    agent: String,
    /// The person the agent acts for.
    user: String,
    /// The issuer of the person's delegation.
    issuer: String,
    /// Agents from the person's delegate to the acting one.
    chain: Vec<String>,
    /// RFC 7638 thumbprint of the acting key.
    key: String,
    /// Which credentials were presented.
    kind: CredentialKind,
}

/// What a use-once entry came from.
#[derive(Debug, JsonSchema)]
#[schemars(rename_all = "lowercase")]
pub enum UseOnceKind {
    /// A DPoP proof (`<thumbprint>:<jti>`).
    Proof,
    /// An ephemeral grant (its `jti`).
    Grant,
}

/// An entry the host records as used until `exp`.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UseOnce {
    /// What the entry came from.
    kind: UseOnceKind,
    /// The entry.
    jti: String,
    /// Until when it must be remembered.
    exp: i64,
}

/// The audit record of a decision.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Audit {
    /// Audit record schema version.
    #[schemars(range(min = 1, max = 1))]
    v: u32,
    /// As in the decision.
    decision_id: String,
    /// The decision time.
    time: i64,
    /// As the decision's `decision`.
    outcome: Outcome,
    /// The decision's reason codes, in order (the codes of `reasons`).
    codes: Vec<ReasonCode>,
    /// The decision's reasons, in order, with their messages (as the decision's `reasons`).
    reasons: Vec<Reason>,
    /// The acting agent, once proven.
    agent: OrNull<String>,
    /// RFC 7638 thumbprint of the acting key, once proven.
    key: OrNull<String>,
    /// The person, once proven.
    user: OrNull<String>,
    /// The delegation's issuer, once proven.
    issuer: OrNull<String>,
    /// Agents from the person's delegate to the acting one.
    chain: Vec<String>,
    /// The request as asked; null when the input did not parse.
    request: OrNull<AuditRequest>,
    /// The credentials presented.
    credentials: AuditCredentials,
    /// The bundle that decided; null when none is loaded.
    bundle: OrNull<AuditBundle>,
    /// The guardrail rules that decided.
    rules: Vec<String>,
    /// As the decision's `obligations`.
    obligations: Map<String, Value>,
}

/// The request, as audited.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AuditRequest {
    /// HTTP method.
    method: String,
    /// The target URI.
    uri: String,
    /// The client address.
    ip: OrNull<String>,
    /// The action checked.
    action: OrNull<String>,
    /// The resource touched.
    resource: OrNull<String>,
}

/// The credentials, as audited.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AuditCredentials {
    /// Which credentials, once proven.
    kind: OrNull<CredentialKind>,
    /// The `jti`s of the tokens presented.
    jti: Vec<String>,
    /// The decision's use-once entries.
    use_once: Vec<String>,
}

/// The bundle, as audited.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AuditBundle {
    /// Operator-chosen revision label.
    revision: String,
    /// base64url SHA-256 of the bundle JWS.
    digest: String,
}
