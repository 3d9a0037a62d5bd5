//! Minting: building and signing bundles, delegation tokens, sub-delegations and DPoP proofs
//! with a key the caller supplies. The issuer helpers of every host, the CLI and the vector
//! generator all come through here, so nothing hand-rolls a token twice.

use crate::bundle::{BUNDLE_TYP, DELEGATION_TYP, GRANT_TYP, PROOF_TYP, SUBDELEGATION_TYP};
use crate::chain::token_hash;
use crate::jose::{self, PrivateJwk, PublicJwk, Unverified};
use crate::{b64, json, limits};
use alloc::{format, string::String, vec::Vec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Why minting failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MintError(pub String);

fn header(typ: &str) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("typ".into(), Value::String(typ.into()));
    h
}

/// Signs any claims as a JWS of the given `typ` (the key's `kid` goes in the header).
#[must_use]
pub fn token(typ: &str, claims: &Value, key: &PrivateJwk) -> String {
    jose::sign(&header(typ), claims, key)
}

/// Signs bundle contents (see `bundle.rs` for the schema).
#[must_use]
pub fn bundle(contents: &Value, key: &PrivateJwk) -> String {
    token(BUNDLE_TYP, contents, key)
}

/// Signs a person's delegation to an agent (`at+jwt`). The claims must carry `iss sub aud exp
/// iat jti act.sub cnf.jkt` and `scope`.
#[must_use]
pub fn delegation(claims: &Value, issuer_key: &PrivateJwk) -> String {
    token(DELEGATION_TYP, claims, issuer_key)
}

/// Signs grant claims (`mandate-grant+jwt`) with a decision point's grant key. Decision points
/// mint grants themselves on allow (`mint_grant` in the decide input); this is for issuers and
/// tests that need one directly.
#[must_use]
pub fn grant(claims: &Value, grant_key: &PrivateJwk) -> String {
    token(GRANT_TYP, claims, grant_key)
}

/// A narrower task handed by the agent of `parent` to another agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubDelegation {
    /// The sub-agent's id.
    pub agent: String,
    /// The sub-agent's public key (its thumbprint becomes `cnf.jkt`).
    pub agent_key: Value,
    /// Space-separated scopes (must lie within the parent's).
    pub scope: String,
    /// Optional narrower `authorization_details`.
    #[serde(default)]
    pub authorization_details: Option<Vec<Value>>,
    /// Optional narrower audiences.
    #[serde(default)]
    pub aud: Option<Vec<String>>,
    /// Issued at.
    pub iat: i64,
    /// Expiry (at most the parent's).
    pub exp: i64,
    /// A fresh id.
    pub jti: String,
}

/// Signs a sub-delegation with the delegating agent's key: `iss` is the parent's actor, `sub`
/// the same person, `act` nests the parent's (RFC 8693), `parent` hashes the parent token.
///
/// # Errors
/// [`MintError`] when the parent or the sub-agent key cannot be read.
pub fn subdelegation(
    parent: &str,
    hop: &SubDelegation,
    delegating_agent_key: &PrivateJwk,
) -> Result<String, MintError> {
    let pc = unverified_payload(parent)?;
    let parent_act = pc
        .get("act")
        .cloned()
        .ok_or_else(|| MintError("parent token has no act".into()))?;
    let delegator = parent_act
        .get("sub")
        .cloned()
        .ok_or_else(|| MintError("parent act has no sub".into()))?;
    let sub = pc
        .get("sub")
        .cloned()
        .ok_or_else(|| MintError("parent token has no sub".into()))?;
    let agent_key =
        PublicJwk::from_value(&hop.agent_key).map_err(|e| MintError(format!("agent_key: {e}")))?;
    let mut claims = json!({
        "iss": delegator,
        "sub": sub,
        "iat": hop.iat,
        "exp": hop.exp,
        "jti": hop.jti,
        "scope": hop.scope,
        "act": {"sub": hop.agent, "act": parent_act},
        "cnf": {"jkt": agent_key.thumbprint()},
        "parent": token_hash(parent),
    });
    if let Some(obj) = claims.as_object_mut() {
        if let Some(d) = &hop.authorization_details {
            obj.insert("authorization_details".into(), Value::Array(d.clone()));
        }
        if let Some(aud) = &hop.aud {
            obj.insert("aud".into(), json!(aud));
        }
    }
    Ok(token(SUBDELEGATION_TYP, &claims, delegating_agent_key))
}

/// The payload of the delegating agent's own parent token, read without verifying it: the agent
/// holds that token but not its issuer's key, and the decision point verifies the whole chain.
/// The JOSE layer has no accessor for this on purpose; minting decodes the segment itself,
/// after [`Unverified::parse`] has applied the usual strictness.
fn unverified_payload(token: &str) -> Result<Map<String, Value>, MintError> {
    Unverified::parse(token, limits::MAX_TOKEN_BYTES, false)
        .map_err(|e| MintError(format!("parent token: {e}")))?;
    let payload = token
        .split('.')
        .nth(1)
        .and_then(b64::decode)
        .ok_or_else(|| MintError("parent token: payload is not base64url".into()))?;
    match json::parse_strict(&payload, limits::MAX_TOKEN_BYTES, limits::MAX_DEPTH) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(MintError(
            "parent token: payload is not a JSON object".into(),
        )),
    }
}

/// The request a DPoP proof binds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// HTTP method.
    pub htm: String,
    /// Target URI; its query and fragment are dropped from `htu` (RFC 9449 §4.2).
    pub htu: String,
    /// Issued at.
    pub iat: i64,
    /// A fresh id.
    pub jti: String,
    /// The token presented with it (its hash becomes `ath`).
    #[serde(default)]
    pub token: Option<String>,
    /// base64url SHA-256 of the body, to bind it.
    #[serde(default)]
    pub body_digest: Option<String>,
    /// The server's `DPoP-Nonce` (RFC 9449 §8, §9), when the server asked for one.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// Signs an RFC 9449 proof with the agent's key; the public key goes in the header `jwk`.
/// `htu` is the target URI without its query and fragment (RFC 9449 §4.2).
#[must_use]
pub fn proof(p: &Proof, agent_key: &PrivateJwk) -> String {
    let htu = p.htu.split(['?', '#']).next().unwrap_or("");
    let mut claims = json!({"htm": p.htm, "htu": htu, "iat": p.iat, "jti": p.jti});
    if let Some(obj) = claims.as_object_mut() {
        if let Some(t) = &p.token {
            obj.insert("ath".into(), Value::String(token_hash(t)));
        }
        if let Some(b) = &p.body_digest {
            obj.insert("body_digest".into(), Value::String(b.clone()));
        }
        if let Some(n) = &p.nonce {
            obj.insert("nonce".into(), Value::String(n.clone()));
        }
    }
    let mut h = header(PROOF_TYP);
    h.insert(
        "jwk".into(),
        agent_key.public().clone().with_kid(None).to_json_value(),
    );
    let key = agent_key.clone().with_kid(None);
    jose::sign(&h, &claims, &key)
}

/// JSON entry point for hosts: `{"kind": "bundle"|"delegation"|"subdelegation"|"proof"|"grant"|"token",
/// "key": <private JWK>, ...}` → `{"token": "..."}` or `{"error": {"code": "mint.invalid", ...}}`.
#[must_use]
pub fn mint_json(input: &[u8]) -> Vec<u8> {
    let out = match mint_value(input) {
        Ok(t) => json!({"token": t}),
        Err(MintError(m)) => json!({"error": {"code": "mint.invalid", "message": m}}),
    };
    json::canonical(&out).into_bytes()
}

fn mint_value(input: &[u8]) -> Result<String, MintError> {
    let v = json::parse_strict(input, limits::MAX_BUNDLE_BYTES, limits::MAX_DEPTH)
        .map_err(|e| MintError(format!("{e}")))?;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| MintError("kind is required".into()))?;
    let key = PrivateJwk::from_value(v.get("key").unwrap_or(&Value::Null))
        .map_err(|e| MintError(format!("key: {e}")))?;
    let field = |name: &str| {
        v.get(name)
            .cloned()
            .ok_or_else(|| MintError(format!("{name} is required")))
    };
    match kind {
        "bundle" => Ok(bundle(&field("contents")?, &key)),
        "delegation" => Ok(delegation(&field("claims")?, &key)),
        "grant" => Ok(grant(&field("claims")?, &key)),
        "token" => {
            let typ = v
                .get("typ")
                .and_then(Value::as_str)
                .ok_or_else(|| MintError("typ is required".into()))?;
            Ok(token(typ, &field("claims")?, &key))
        }
        "subdelegation" => {
            let parent = v
                .get("parent")
                .and_then(Value::as_str)
                .ok_or_else(|| MintError("parent is required".into()))?;
            let hop: SubDelegation = serde_json::from_value(field("hop")?)
                .map_err(|e| MintError(format!("hop: {e}")))?;
            subdelegation(parent, &hop, &key)
        }
        "proof" => {
            let p: Proof = serde_json::from_value(field("proof")?)
                .map_err(|e| MintError(format!("proof: {e}")))?;
            Ok(proof(&p, &key))
        }
        other => Err(MintError(format!("unknown kind {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{P256Verifier, Unverified};

    #[test]
    fn proof_htu_drops_query_and_fragment() {
        let key = PrivateJwk::from_scalar_bytes(&[7u8; 32]).unwrap_or_else(|_| unreachable!());
        let p = Proof {
            htm: "GET".into(),
            htu: "https://api.example.com/v1/trips/42?view=full#top".into(),
            iat: 1,
            jti: "j".into(),
            token: None,
            body_digest: None,
            nonce: None,
        };
        let minted = proof(&p, &key);
        let jws = Unverified::parse(&minted, 8192, true)
            .and_then(|j| j.verify(key.public(), &P256Verifier))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            jws.claims().get("htu").and_then(Value::as_str),
            Some("https://api.example.com/v1/trips/42")
        );
    }
}
