//! Token builders for the vectors, on top of `policy_core::mint`.

use crate::world::{API, IDP, Keys, NOW, jkt};
use policy_core::PrivateJwk;
use policy_core::jose;
use policy_core::mint::{self, Proof, SubDelegation};
use serde_json::{Map, Value, json};

/// Standard claims of a person's delegation to an agent.
pub fn delegation_claims(
    user: &str,
    agent: &str,
    agent_key: &PrivateJwk,
    scope: &str,
    jti: &str,
) -> Value {
    json!({
        "iss": IDP, "sub": user, "aud": API, "client_id": "travel-app",
        "iat": NOW - 300, "exp": NOW + 3600, "jti": jti, "scope": scope,
        "act": {"sub": agent}, "cnf": {"jkt": jkt(agent_key)}
    })
}

/// A delegation signed by the identity provider, with `edit` applied to the claims.
pub fn delegation(
    k: &Keys,
    user: &str,
    agent: &str,
    agent_key: &PrivateJwk,
    scope: &str,
    jti: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut c = delegation_claims(user, agent, agent_key, scope, jti);
    edit(&mut c);
    mint::delegation(&c, &k.idp)
}

/// A token with an arbitrary header (for header attacks).
pub fn with_header(header: Value, claims: &Value, key: &PrivateJwk) -> String {
    let h: Map<String, Value> = header.as_object().cloned().unwrap_or_default();
    jose::sign(&h, claims, key)
}

/// A sub-delegation hop from the agent of `parent` (signed with `signer`) to `agent`.
pub fn hop(
    parent: &str,
    signer: &PrivateJwk,
    agent: &str,
    agent_key: &PrivateJwk,
    scope: &str,
    jti: &str,
    exp: i64,
) -> String {
    let h = SubDelegation {
        agent: agent.into(),
        agent_key: agent_key.public().to_json_value(),
        scope: scope.into(),
        authorization_details: None,
        aud: None,
        iat: NOW - 60,
        exp,
        jti: jti.into(),
    };
    #[allow(clippy::expect_used)]
    mint::subdelegation(parent, &h, signer).expect("parent is a well-formed token")
}

/// A DPoP proof for `method uri`, bound to `token`.
pub fn proof(
    key: &PrivateJwk,
    method: &str,
    uri: &str,
    iat: i64,
    jti: &str,
    token: Option<&str>,
) -> String {
    mint::proof(
        &Proof {
            htm: method.into(),
            htu: uri.into(),
            iat,
            jti: jti.into(),
            token: token.map(String::from),
            body_digest: None,
            nonce: None,
        },
        key,
    )
}
