//! Who acts, for whom, with what: what the chain (or a grant) proves, read by every later step,
//! the guardrails and the audit record.

use crate::guardrails::{PolicyDelegation, PolicyHop, PolicyUser};
use crate::jose::PublicJwk;
use crate::scope::Scopes;
use alloc::{string::String, vec::Vec};
use serde_json::Value;

/// Who acts, for whom, with what — proven by the chain.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `delegation` or `grant`.
    pub kind: &'static str,
    /// The acting agent.
    pub agent: String,
    /// The person on whose behalf it acts (`sub`).
    pub user: String,
    /// The person's groups, from the root token.
    pub groups: Vec<String>,
    /// The root token's issuer.
    pub issuer: String,
    /// Agents from the first delegate to the acting one.
    pub chain: Vec<String>,
    /// The acting agent's key (its thumbprint is `cnf.jkt`).
    pub key: PublicJwk,
    /// Effective scopes.
    pub scopes: Scopes,
    /// Effective `authorization_details`.
    pub details: Vec<Value>,
    /// Every credential `jti`, root first.
    pub jtis: Vec<String>,
    /// Audiences of the last token.
    pub aud: Vec<String>,
    /// The earliest expiry along the chain.
    pub exp: i64,
    /// The last token's `act`.
    pub act: Value,
    /// Per-token detail for guardrails (`input.delegation.chain`), root first; empty for a
    /// grant.
    pub hops: Vec<PolicyHop>,
}

impl Principal {
    /// `input.user` for guardrails.
    #[must_use]
    pub fn policy_user(&self) -> PolicyUser<'_> {
        PolicyUser {
            id: &self.user,
            groups: &self.groups,
            issuer: &self.issuer,
        }
    }

    /// `input.delegation` for guardrails.
    #[must_use]
    pub fn policy_delegation(&self) -> PolicyDelegation<'_> {
        PolicyDelegation {
            kind: self.kind,
            issuer: &self.issuer,
            scopes: self.scopes.as_slice(),
            authorization_details: &self.details,
            chain: &self.hops,
            depth: self.chain.len().saturating_sub(1),
            jti: self.jtis.last().map(String::as_str),
            exp: self.exp,
            aud: &self.aud,
        }
    }

    /// [`Principal::policy_delegation`] as a JSON value.
    #[must_use]
    pub fn to_policy_value(&self) -> Value {
        // Always serializes: the authorization details are JSON values already.
        serde_json::to_value(self.policy_delegation()).unwrap_or_default()
    }
}
