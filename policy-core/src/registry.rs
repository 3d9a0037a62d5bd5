//! The agent registry: agents are principals of their own, with an owner, keys, a status, who
//! may delegate to them, a ceiling on what they may ever hold, and whom they may sub-delegate to.

use crate::guardrails::{PolicyAgent, PolicyCeiling};
use crate::jose::PublicJwk;
use crate::scope::Scopes;
use alloc::{string::String, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An agent's lifecycle state. Only `active` agents act.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// May act.
    Active,
    /// Temporarily may not act.
    Suspended,
    /// Permanently may not act.
    Revoked,
}

/// Who may delegate to an agent. Patterns use `*` as "any run of characters" and match user ids
/// and agent ids alike.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegators {
    /// Person ids (token `sub`).
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups (token `groups` claim).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Agents that may sub-delegate to this one.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Glob patterns over user and agent ids.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// The most an agent may ever be delegated.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeilingSpec {
    /// Scopes (wildcards allowed).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 9396 details.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::AuthorizationDetail>")
    )]
    pub authorization_details: Vec<Value>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentSpec {
    id: String,
    owner: String,
    status: AgentStatus,
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::PublicJwk>")
    )]
    keys: Vec<Value>,
    #[serde(default)]
    delegators: Delegators,
    #[serde(default)]
    ceiling: CeilingSpec,
    #[serde(default)]
    may_delegate_to: Vec<String>,
    #[serde(default)]
    max_depth: Option<u32>,
    #[serde(default)]
    labels: Map<String, Value>,
}

/// A registered agent, keys parsed.
#[derive(Debug, Clone)]
pub struct Agent {
    /// e.g. `agent:travel-booker`.
    pub id: String,
    /// The person or team accountable for it.
    pub owner: String,
    /// Lifecycle state.
    pub status: AgentStatus,
    /// Its keys (several, for rotation).
    pub keys: Vec<PublicJwk>,
    /// Who may delegate to it.
    pub delegators: Delegators,
    /// Ceiling scopes.
    pub ceiling_scopes: Scopes,
    /// Ceiling details.
    pub ceiling_details: Vec<Value>,
    /// Agents it may sub-delegate to (patterns allowed).
    pub may_delegate_to: Vec<String>,
    /// How many hops may hang below it; `None` means the bundle's limit.
    pub max_depth: Option<u32>,
    /// Free-form labels (vendor, model, risk tier) for guardrails.
    pub labels: Map<String, Value>,
}

impl Agent {
    /// One agent record of bundle contents (`agents[i]`, docs/formats.md), keys parsed.
    ///
    /// # Errors
    /// What is wrong with the record.
    pub fn from_value(record: &Value) -> Result<Self, String> {
        let spec: AgentSpec = serde_json::from_value(record.clone())
            .map_err(|e| alloc::format!("agent record: {e}"))?;
        Self::from_spec(spec)
    }

    pub(crate) fn from_spec(spec: AgentSpec) -> Result<Self, String> {
        let keys = spec
            .keys
            .iter()
            .map(PublicJwk::from_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| alloc::format!("agent {}: {e}", spec.id))?;
        Ok(Agent {
            ceiling_scopes: spec.ceiling.scopes.into_iter().collect(),
            ceiling_details: spec.ceiling.authorization_details,
            id: spec.id,
            owner: spec.owner,
            status: spec.status,
            keys,
            delegators: spec.delegators,
            may_delegate_to: spec.may_delegate_to,
            max_depth: spec.max_depth,
            labels: spec.labels,
        })
    }

    /// The registered key with this RFC 7638 thumbprint.
    #[must_use]
    pub fn key_by_thumbprint(&self, jkt: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.jkt() == jkt)
    }

    /// True when `principal` (a user with `groups`, or an agent id) may delegate to this agent.
    #[must_use]
    pub fn accepts_delegator(&self, principal: &str, groups: &[String], is_agent: bool) -> bool {
        let d = &self.delegators;
        let listed = if is_agent { &d.agents } else { &d.users };
        listed.iter().any(|u| u == principal)
            || (!is_agent && d.groups.iter().any(|g| groups.contains(g)))
            || d.patterns.iter().any(|p| glob(p, principal))
    }

    /// True when this agent may hand a sub-delegation to `agent_id`.
    #[must_use]
    pub fn may_delegate_to(&self, agent_id: &str) -> bool {
        self.may_delegate_to.iter().any(|p| glob(p, agent_id))
    }

    /// The record as guardrails see it (`input.agent`): keys as thumbprints.
    #[must_use]
    pub fn policy_record(&self) -> PolicyAgent {
        PolicyAgent {
            id: self.id.clone(),
            owner: self.owner.clone(),
            status: self.status,
            keys: self.keys.iter().map(PublicJwk::thumbprint).collect(),
            ceiling: PolicyCeiling {
                scopes: self.ceiling_scopes.as_slice().to_vec(),
                authorization_details: self.ceiling_details.clone(),
            },
            may_delegate_to: self.may_delegate_to.clone(),
            labels: self.labels.clone(),
        }
    }

    /// [`Agent::policy_record`] as a JSON value (what `mandate eval --agent` puts in `input`).
    #[must_use]
    pub fn to_policy_value(&self) -> Value {
        // A record always serializes: its only maps have string keys.
        serde_json::to_value(self.policy_record()).unwrap_or_default()
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if t.get(ti) == Some(&c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_runs() {
        assert!(glob("*@example.com", "alice@example.com"));
        assert!(!glob("*@example.com", "alice@example.org"));
        assert!(glob("agent:*", "agent:x"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXbY"));
        assert!(glob("*", ""));
        assert!(!glob("", "a"));
    }
}
