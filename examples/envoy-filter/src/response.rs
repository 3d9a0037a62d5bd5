//! The core's decision JSON -> what the filter does with the request. Pure: no proxy calls here.

use policy_core::Code;
use serde_json::{Value, json};

use crate::config::HeaderNames;

/// A use-once `jti` the decision asks the host to record until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseOnce {
    /// The `jti`.
    pub jti: String,
    /// Unix seconds after which the record may be dropped.
    pub exp: u64,
}

/// What the filter does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Forward upstream with these headers added.
    Allow {
        /// Principal headers for the upstream.
        headers: Vec<(String, String)>,
        /// `jti`s to record before forwarding.
        use_once: Vec<UseOnce>,
    },
    /// Answer the client directly.
    Deny {
        /// HTTP status.
        status: u32,
        /// Response headers (the reason code, the content type).
        headers: Vec<(String, String)>,
        /// `{"decision":"deny","decision_id":…,"reasons":[{"code","message"},…]}`.
        body: Vec<u8>,
    },
}

/// Header values come from signed tokens, but a control character would still break the request.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The `use_once` list of a decision.
pub fn use_once(decision: &Value) -> Vec<UseOnce> {
    let entries = decision.get("use_once").and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some(UseOnce {
                jti: entry.get("jti")?.as_str()?.to_owned(),
                exp: entry.get("exp")?.as_u64()?,
            })
        })
        .collect()
}

/// Maps a decision to the filter's outcome. Anything but a well-formed allow is a deny: a
/// decision the filter cannot read fails closed.
pub fn outcome(decision_json: &[u8], names: &HeaderNames, grant_header: Option<&str>) -> Outcome {
    let Ok(decision) = serde_json::from_slice::<Value>(decision_json) else {
        return deny(
            names,
            "",
            &[json!({"code": Code::InternalError, "message": "unreadable decision"})],
        );
    };
    let decision_id = str_at(&decision, "decision_id");
    if str_at(&decision, "decision") == "allow" {
        let principal = decision.get("principal").unwrap_or(&Value::Null);
        let chain: Vec<&str> = principal
            .get("chain")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let headers = [
            (&names.agent, str_at(principal, "agent").to_owned()),
            (&names.user, str_at(principal, "user").to_owned()),
            (&names.chain, chain.join(" ")),
            (&names.decision_id, decision_id.to_owned()),
        ];
        let mut headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), header_safe(&value)))
            .collect();
        if let (Some(name), Some(grant)) =
            (grant_header, decision.get("grant").and_then(Value::as_str))
        {
            headers.push((name.to_owned(), header_safe(grant)));
        }
        return Outcome::Allow {
            headers,
            use_once: use_once(&decision),
        };
    }
    let reasons = decision
        .get("reasons")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    deny(names, decision_id, &reasons)
}

fn deny(names: &HeaderNames, decision_id: &str, reasons: &[Value]) -> Outcome {
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|r| json!({"code": str_at(r, "code"), "message": str_at(r, "message")}))
        .collect();
    let first = reasons
        .first()
        .map(|r| str_at(r, "code"))
        .filter(|c| !c.is_empty());
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.push((
        names.reason.clone(),
        header_safe(first.unwrap_or(Code::InternalError.as_str())),
    ));
    let mut body = json!({"decision": "deny", "reasons": reasons});
    if !decision_id.is_empty()
        && let Some(object) = body.as_object_mut()
    {
        object.insert("decision_id".into(), decision_id.into());
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Outcome::Deny {
        status: 403,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_gives_principal_headers_and_use_once() {
        let decision = br#"{"decision":"allow","decision_id":"d1","reasons":[],
            "principal":{"agent":"agent:b","user":"alice","chain":["agent:a","agent:b"]},
            "use_once":[{"jti":"p1","exp":99,"kind":"proof"}]}"#;
        let Outcome::Allow { headers, use_once } = outcome(decision, &HeaderNames::default(), None)
        else {
            unreachable!("an allow decision must allow");
        };
        let expected = [
            ("x-mandate-agent", "agent:b"),
            ("x-mandate-user", "alice"),
            ("x-mandate-chain", "agent:a agent:b"),
            ("x-mandate-decision-id", "d1"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect();
        assert_eq!(headers, expected);
        assert_eq!(
            use_once,
            vec![UseOnce {
                jti: "p1".into(),
                exp: 99
            }]
        );
    }

    #[test]
    fn deny_carries_first_code_and_all_reasons() -> Result<(), serde_json::Error> {
        let decision = br#"{"decision":"deny","decision_id":"d2","reasons":[
            {"code":"token.expired","message":"m1"},{"code":"proof.stale","message":"m2"}]}"#;
        let Outcome::Deny {
            status,
            headers,
            body,
        } = outcome(decision, &HeaderNames::default(), None)
        else {
            unreachable!("a deny decision must deny");
        };
        assert_eq!(status, 403);
        assert!(headers.contains(&("x-mandate-reason".into(), "token.expired".into())));
        let body: Value = serde_json::from_slice(&body)?;
        assert_eq!(
            body,
            json!({"decision":"deny","decision_id":"d2","reasons":[
                {"code":"token.expired","message":"m1"},{"code":"proof.stale","message":"m2"}]})
        );
        Ok(())
    }

    #[test]
    fn a_minted_grant_is_forwarded_in_its_header() {
        let decision =
            br#"{"decision":"allow","decision_id":"d","principal":{"agent":"a"},"grant":"g.h.s"}"#;
        let Outcome::Allow { headers, .. } =
            outcome(decision, &HeaderNames::default(), Some("x-mandate-grant"))
        else {
            unreachable!("an allow decision must allow");
        };
        assert!(headers.contains(&("x-mandate-grant".into(), "g.h.s".into())));
        let Outcome::Allow { headers, .. } = outcome(decision, &HeaderNames::default(), None)
        else {
            unreachable!("an allow decision must allow");
        };
        assert!(!headers.iter().any(|(name, _)| name == "x-mandate-grant"));
    }

    #[test]
    fn unreadable_decisions_fail_closed() {
        assert!(matches!(
            outcome(b"not json", &HeaderNames::default(), None),
            Outcome::Deny { status: 403, .. }
        ));
        assert!(matches!(
            outcome(br#"{"decision":"maybe"}"#, &HeaderNames::default(), None),
            Outcome::Deny { .. }
        ));
    }
}
