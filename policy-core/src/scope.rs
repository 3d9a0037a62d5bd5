//! Scopes and RFC 9396 `authorization_details`, and the one question attenuation asks of them:
//! does what a granter holds cover what is asked for?
//!
//! Covering is conservative: when in doubt it says no, so a hop can only narrow.

use alloc::{string::String, vec::Vec};
use serde_json::Value;

/// A set of OAuth scopes. A trailing `*` is a prefix wildcard (`repo:*`, or `*` for all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses an RFC 6749 space-delimited `scope` string. Empty tokens are ignored;
    /// the result is sorted and deduplicated so it serializes the same everywhere.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        Self::from_iter(s.split(' ').filter(|t| !t.is_empty()).map(String::from))
    }

    /// The scopes, sorted.
    #[must_use]
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// True when every scope in `asked` is covered by some scope here.
    #[must_use]
    pub fn covers_all(&self, asked: &Scopes) -> bool {
        asked.0.iter().all(|a| self.covers(a))
    }

    /// True when `asked` (a scope, possibly itself a wildcard) is covered by some scope here.
    #[must_use]
    pub fn covers(&self, asked: &str) -> bool {
        self.0.iter().any(|held| scope_covers(held, asked))
    }
}

impl FromIterator<String> for Scopes {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut v: Vec<String> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        Scopes(v)
    }
}

/// `held` covers `asked` when equal, or when `held` is `P*` and `asked` starts with `P`
/// (a wildcard `asked` with a longer prefix denotes a subset, so it is covered too).
fn scope_covers(held: &str, asked: &str) -> bool {
    match held.strip_suffix('*') {
        Some(prefix) => asked.starts_with(prefix),
        None => held == asked,
    }
}

/// RFC 9396 array members whose values are sets: asking may only name a subset.
const SET_MEMBERS: &[&str] = &["locations", "actions", "datatypes", "privileges"];

/// True when every asked detail is covered by some held detail.
#[must_use]
pub fn details_cover_all(held: &[Value], asked: &[Value]) -> bool {
    asked
        .iter()
        .all(|a| held.iter().any(|h| detail_covers(h, a)))
}

/// A held detail covers an asked one of the same `type` when, for every member the held one
/// restricts, the asked one restricts at least as much: a subset for the RFC 9396 set members,
/// equality for every other member (`identifier` and type-specific ones).
fn detail_covers(held: &Value, asked: &Value) -> bool {
    let (Some(h), Some(a)) = (held.as_object(), asked.as_object()) else {
        return false;
    };
    if h.get("type").and_then(Value::as_str).is_none() || h.get("type") != a.get("type") {
        return false;
    }
    h.iter().all(|(name, held_value)| match a.get(name) {
        None => false,
        Some(asked_value) if SET_MEMBERS.contains(&name.as_str()) => {
            is_subset(held_value, asked_value)
        }
        Some(asked_value) => held_value == asked_value,
    })
}

fn is_subset(held: &Value, asked: &Value) -> bool {
    match (held.as_array(), asked.as_array()) {
        (Some(h), Some(a)) => a.iter().all(|x| h.contains(x)),
        _ => false,
    }
}

/// True when the action is covered by the scopes, or by a detail whose `actions` name it and
/// whose `locations`, if any, include `resource`.
#[must_use]
pub fn action_covered(
    scopes: &Scopes,
    details: &[Value],
    action: &str,
    resource: Option<&str>,
) -> bool {
    if scopes.covers(action) {
        return true;
    }
    details.iter().any(|d| {
        let names_action = d
            .get("actions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(action)));
        let location_ok = match d.get("locations").and_then(Value::as_array) {
            None => true,
            Some(locs) => resource.is_some_and(|r| locs.iter().any(|l| l.as_str() == Some(r))),
        };
        names_action && location_ok
    })
}

/// Step 8: the request's `action` (when the host named one) is covered by the effective scopes
/// or an `authorization_details` entry at its location.
///
/// # Errors
/// `delegation.scope_insufficient`.
pub(crate) fn check_action(
    scopes: &Scopes,
    details: &[Value],
    request: &crate::request::Request,
) -> Result<(), crate::reason::Reason> {
    match &request.spec.action {
        Some(action)
            if !action_covered(scopes, details, action, request.spec.resource.as_deref()) =>
        {
            Err(crate::reason::reason(
                crate::reason::Code::DelegationScopeInsufficient,
                alloc::format!("the delegation does not cover {action}"),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_only_narrow() {
        let held = Scopes::parse("repo:* secrets:read");
        assert!(held.covers_all(&Scopes::parse("repo:read repo:write:* secrets:read")));
        assert!(!held.covers_all(&Scopes::parse("secrets:write")));
        assert!(!Scopes::parse("repo:read").covers("repo:*"));
        assert!(Scopes::parse("*").covers("anything"));
    }

    #[test]
    fn details_need_type_and_subsets() {
        let held = [
            json!({"type": "payment", "actions": ["read", "pay"], "locations": ["https://bank"], "currency": "EUR"}),
        ];
        assert!(details_cover_all(
            &held,
            &[
                json!({"type": "payment", "actions": ["read"], "locations": ["https://bank"], "currency": "EUR"})
            ]
        ));
        assert!(
            !details_cover_all(
                &held,
                &[json!({"type": "payment", "actions": ["read"], "locations": ["https://bank"]})]
            ),
            "dropping a restriction widens"
        );
        assert!(!details_cover_all(
            &held,
            &[
                json!({"type": "payment", "actions": ["refund"], "locations": ["https://bank"], "currency": "EUR"})
            ]
        ));
        assert!(!details_cover_all(&held, &[json!({"type": "other"})]));
    }
}
