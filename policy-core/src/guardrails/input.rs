//! The guardrails' `input` (docs/guardrails.md) as types: what a decision hands the Rego
//! policies once every credential check has passed. The types borrow from the decision (only
//! the agent records and the chain's hops, built once, are owned), so a decision serializes its
//! input straight into one JSON value. Under the `schema` feature the same types give
//! `docs/schemas/guardrail-input.schema.json` (`policy_core::schema::guardrail_input`), the
//! serialization contract: a member the core leaves out when it has no value is optional, every
//! other member is required (and `null` only where the core writes `null`).

use crate::registry::AgentStatus;
use alloc::{string::String, vec::Vec};
use serde::Serialize;
use serde_json::{Map, Value};

/// `input`: what the guardrails see, for a request whose credentials verified.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, Serialize)]
pub struct GuardrailInput<'a> {
    /// The acting agent's registry record (the last hop of the chain), keys as thumbprints;
    /// `null` when the registry holds no record for it.
    pub agent: Option<&'a PolicyAgent>,
    /// The person the chain starts from.
    pub user: PolicyUser<'a>,
    /// What the chain (or the grant) grants after narrowing.
    pub delegation: PolicyDelegation<'a>,
    /// The request as the core bound it.
    pub request: PolicyRequest<'a>,
    /// The host's `context` object, as given (`{}` when the decide input has none). The MCP
    /// guards put `tool: {name, arguments}` here.
    pub context: &'a Map<String, Value>,
    /// The decision time, Unix seconds (the host's clock). Calendar builtins take it in
    /// nanoseconds: `time.clock(input.now * 1000000000)`.
    pub now: i64,
}

/// `input.agent`: a registry record as the guardrails see it. Built once per bundle.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyAgent {
    /// The agent's id, e.g. `agent:travel-booker`.
    pub id: String,
    /// The person or team accountable for it.
    pub owner: String,
    /// Its lifecycle state (a decision only reaches the guardrails for an `active` agent).
    pub status: AgentStatus,
    /// RFC 7638 thumbprints of its registered keys, in registry order.
    pub keys: Vec<String>,
    /// The most it may ever be delegated.
    pub ceiling: PolicyCeiling,
    /// Agents it may sub-delegate to (`*` patterns allowed).
    pub may_delegate_to: Vec<String>,
    /// The registry's free-form labels (vendor, model, risk tier), as registered.
    pub labels: Map<String, Value>,
}

/// `input.agent.ceiling`: the most an agent may ever be delegated.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyCeiling {
    /// Ceiling scopes (a trailing `*` is a prefix wildcard), sorted and deduplicated.
    pub scopes: Vec<String>,
    /// Ceiling RFC 9396 authorization details, as registered.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::AuthorizationDetail>")
    )]
    pub authorization_details: Vec<Value>,
}

/// `input.user`: the person on whose behalf the agent acts.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, Serialize)]
pub struct PolicyUser<'a> {
    /// `sub` of the root delegation (of the grant, for a grant).
    pub id: &'a str,
    /// The root delegation's `groups` claim (`[]` when it has none, and for a grant).
    pub groups: &'a [String],
    /// The root delegation's issuer (the grant's, for a grant).
    pub issuer: &'a str,
}

/// `input.delegation`: what the chain grants after narrowing.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDelegation<'a> {
    /// Which credentials were presented: `delegation` (a chain and a proof) or `grant`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "crate::schema::members::CredentialKind")
    )]
    pub kind: &'a str,
    /// The root delegation's issuer (the grant's, for a grant).
    pub issuer: &'a str,
    /// The effective scopes: the last hop's, sorted and deduplicated.
    pub scopes: &'a [String],
    /// The effective RFC 9396 authorization details: the last hop's.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::AuthorizationDetail>")
    )]
    pub authorization_details: &'a [Value],
    /// Every token of the chain, root first, as verified (`[]` for a grant).
    pub chain: &'a [PolicyHop],
    /// Agents below the person's delegate: 0 for a direct delegation, one more per
    /// sub-delegation (for a grant, from the chain it names).
    pub depth: usize,
    /// The last token's `jti` (the grant's, for a grant).
    pub jti: Option<&'a str>,
    /// The earliest expiry along the chain, Unix seconds.
    pub exp: i64,
    /// The last token's audiences.
    pub aud: &'a [String],
}

/// One token of `input.delegation.chain`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyHop {
    /// The agent this token delegates to (its `act.sub`).
    pub agent: String,
    /// The scopes this token grants, sorted and deduplicated.
    pub scopes: Vec<String>,
    /// The RFC 9396 authorization details this token grants.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::AuthorizationDetail>")
    )]
    pub authorization_details: Vec<Value>,
    /// The token's `jti`.
    pub jti: String,
    /// The token's own `exp`, Unix seconds.
    pub exp: i64,
}

/// `input.request`: the request as the core bound it. A member the request does not have is
/// absent (undefined in Rego, as OPA's inputs are), never `null`, which strict builtins would
/// turn into an evaluation error.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRequest<'a> {
    /// The HTTP method, as given (case-sensitive).
    pub method: &'a str,
    /// The target URI, as given.
    pub uri: &'a str,
    /// `http` or `https`, lower-cased.
    pub scheme: &'a str,
    /// The host, lower-cased (an IPv6 literal keeps its brackets).
    pub host: &'a str,
    /// The port; absent when it is the scheme's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "u16"))]
    pub port: Option<u16>,
    /// The path, normalized (percent-encoding, dot segments), never empty.
    pub path: &'a str,
    /// The raw query, without `?`; `""` when the URI has none.
    pub query: &'a str,
    /// The client address: the socket peer, or `trusted_hops` from the right of
    /// `X-Forwarded-For` (the HTTP binding), or the decide input's `ip`; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub ip: Option<&'a str>,
    /// The action the request maps to (from the route, or the decide input); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub action: Option<&'a str>,
    /// The resource the request touches (from the route, or the decide input); absent when
    /// none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub resource: Option<&'a str>,
    /// base64url SHA-256 of the body, when the host bound one; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub body_digest: Option<&'a str>,
}

impl GuardrailInput<'_> {
    /// The input as the policies get it: one JSON value, serialized straight from the types.
    ///
    /// # Errors
    /// Never for these types (every map key is a string); the caller still fails closed.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}
