//! What `mandate bundle build` warns about: bundle contents that load, and then silently break
//! production (every decision a deny, a sub-delegation that can never happen, an ambiguous key).
//! Each warning has its own `lint.*` code; `--deny-warnings` makes them an error.

use std::collections::BTreeMap;

use policy_core::Code;
use policy_core::jose::PublicJwk;
use policy_core::registry::glob;
use serde_json::{Map, Value};

/// The typ of a grant, as an issuer's `typ` list names it.
const GRANT_TYP: &str = "mandate-grant+jwt";

/// One warning: its code and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: Code,
    pub message: String,
}

fn warn(code: Code, message: String) -> Warning {
    Warning { code, message }
}

/// The warnings about built contents (the schema of policy-core/src/bundle.rs), in a stable
/// order: policies, the registry, grants.
pub fn lint(contents: &Value) -> Vec<Warning> {
    let mut out = Vec::new();
    policies(contents, &mut out);
    registry(contents, &mut out);
    grants(contents, &mut out);
    out
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn strings<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a str> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
}

/// The `package` a Rego source declares (its first `package` line).
fn package_of(source: &str) -> Option<&str> {
    source
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("package "))
        .map(|p| p.split('#').next().unwrap_or("").trim())
}

fn policies(contents: &Value, out: &mut Vec<Warning>) {
    let empty = Map::new();
    let policies = contents
        .get("policies")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if policies.is_empty() {
        out.push(warn(
            Code::LintNoPolicies,
            "the bundle has no policies: every decision will be a deny (give --policy a .rego file or directory)".into(),
        ));
        return;
    }
    let rule = contents
        .pointer("/settings/decision_rule")
        .and_then(Value::as_str)
        .unwrap_or("data.mandate");
    let package = rule.strip_prefix("data.").unwrap_or(rule);
    let declared: Vec<&str> = policies
        .values()
        .filter_map(Value::as_str)
        .filter_map(package_of)
        .collect();
    if !declared.contains(&package) {
        out.push(warn(
            Code::LintDecisionRuleUndefined,
            format!(
                "no policy declares `package {package}` (the decision rule {rule}); the policies declare {}: every decision will be a deny",
                if declared.is_empty() { "no package".to_string() } else { declared.join(", ") }
            ),
        ));
    }
}

fn registry(contents: &Value, out: &mut Vec<Warning>) {
    let agents = list(contents, "agents");
    let ids: Vec<&str> = agents
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_str))
        .collect();
    for agent in agents {
        let id = agent.get("id").and_then(Value::as_str).unwrap_or("?");
        for (field, pointer) in [
            ("may_delegate_to", "/may_delegate_to"),
            ("delegators.agents", "/delegators/agents"),
        ] {
            for pattern in strings(agent, pointer) {
                if !ids.iter().any(|other| glob(pattern, other)) {
                    out.push(warn(
                        Code::LintUnknownAgent,
                        format!(
                            "agent {id}: {field} entry `{pattern}` matches no agent of the registry"
                        ),
                    ));
                }
            }
        }
    }
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for agent in agents {
        let id = agent.get("id").and_then(Value::as_str).unwrap_or("?");
        for key in list(agent, "keys") {
            if let Ok(k) = PublicJwk::from_value(key) {
                owners.entry(k.thumbprint()).or_default().push(id);
            }
        }
    }
    for (jkt, ids) in owners {
        if ids.len() > 1 {
            out.push(warn(
                Code::LintSharedKey,
                format!(
                    "the key {jkt} is registered for {}: give each agent its own key",
                    ids.join(" and ")
                ),
            ));
        }
    }
}

fn grants(contents: &Value, out: &mut Vec<Warning>) {
    let granting: Vec<&str> = list(contents, "issuers")
        .iter()
        .filter(|i| strings(i, "/typ").any(|t| t == GRANT_TYP))
        .filter_map(|i| i.get("iss").and_then(Value::as_str))
        .collect();
    let grant_issuer = contents
        .pointer("/settings/grant_issuer")
        .and_then(Value::as_str);
    match grant_issuer {
        None if !granting.is_empty() => out.push(warn(
            Code::LintGrantIssuer,
            format!(
                "{} accepts grants ({GRANT_TYP}) but settings.grant_issuer is not set: no grant can be minted here",
                granting.join(", ")
            ),
        )),
        Some(iss) if !granting.contains(&iss) => out.push(warn(
            Code::LintGrantIssuer,
            format!(
                "settings.grant_issuer {iss} is not an issuer that accepts grants (give it typ [{GRANT_TYP}] in the issuers file): minted grants will be refused"
            ),
        )),
        _ => {}
    }
}
