//! Issuer helpers: keys, bundles, delegation tokens, sub-delegations, DPoP proofs and grants.
//!
//! Thin wrappers over `policy_core::mint`, so every token the SDK, the CLI and the tests make
//! is made by the same code the engine verifies against. The one thing added here is what the
//! core must not have: randomness, from the operating system (`getrandom`).

use policy_core::bundle::GRANT_TYP;
use policy_core::jose::{PrivateJwk, PublicJwk};
use policy_core::mint;
use policy_core::reason::Code;
use serde_json::{Value, json};

pub use policy_core::mint::{Proof, SubDelegation};

use crate::HostError;

/// A new P-256 key with the given `kid`, from the operating system's randomness.
///
/// # Errors
/// [`HostError::Random`] when the OS has no randomness to give.
pub fn generate_key(kid: Option<&str>) -> Result<PrivateJwk, HostError> {
    // A uniformly random 32-byte string is a valid scalar except with probability ~2^-32;
    // draw again in that case.
    for _ in 0..16 {
        let mut d = [0u8; 32];
        getrandom::fill(&mut d).map_err(|e| HostError::Random(e.to_string()))?;
        if let Ok(key) = PrivateJwk::from_scalar_bytes(&d) {
            return Ok(key.with_kid(kid.map(str::to_string)));
        }
    }
    Err(HostError::Random(
        "no valid P-256 scalar in 16 draws".into(),
    ))
}

/// A fresh random id (128 bits, base64url) for `jti`s and nonces.
///
/// # Errors
/// [`HostError::Random`] when the OS has no randomness to give.
pub fn random_id() -> Result<String, HostError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| HostError::Random(e.to_string()))?;
    Ok(policy_core::b64::encode(&b))
}

/// Signs bundle contents (the schema of `policy-core/src/bundle.rs`) with the bundle key.
#[must_use]
pub fn sign_bundle(contents: &Value, bundle_key: &PrivateJwk) -> String {
    mint::bundle(contents, bundle_key)
}

/// Signs a person's delegation to an agent (`at+jwt`) with the issuer's key.
#[must_use]
pub fn delegation(claims: &Value, issuer_key: &PrivateJwk) -> String {
    mint::delegation(claims, issuer_key)
}

/// Signs a sub-delegation hop with the delegating agent's key.
///
/// # Errors
/// [`HostError::Mint`] (`mint.invalid`) when the parent or the sub-agent key cannot be read.
pub fn subdelegation(
    parent: &str,
    hop: &SubDelegation,
    agent_key: &PrivateJwk,
) -> Result<String, HostError> {
    mint::subdelegation(parent, hop, agent_key).map_err(|e| HostError::Mint {
        code: Code::MintInvalid,
        message: e.0,
    })
}

/// Signs a DPoP proof with the acting agent's key.
#[must_use]
pub fn proof(p: &Proof, agent_key: &PrivateJwk) -> String {
    mint::proof(p, agent_key)
}

/// Signs ephemeral-grant claims (`mandate-grant+jwt`) with a decision point's grant key. A
/// decision point mints its own grants on an allow (`mint_grant` in the decide input); this is
/// for tests and tools.
#[must_use]
pub fn grant(claims: &Value, grant_key: &PrivateJwk) -> String {
    mint::token(GRANT_TYP, claims, grant_key)
}

/// The core's JSON minting entry point, for hosts that carry requests as JSON.
///
/// # Errors
/// [`HostError::Mint`] with the core's code when the input cannot be minted.
pub fn mint_json(input: &[u8]) -> Result<String, HostError> {
    let out: Value = serde_json::from_slice(&mint::mint_json(input)).unwrap_or(Value::Null);
    if let Some(token) = out.get("token").and_then(Value::as_str) {
        return Ok(token.to_string());
    }
    let error = |p: &str| out.pointer(p).and_then(Value::as_str);
    Err(HostError::Mint {
        code: error("/error/code")
            .and_then(Code::parse)
            .unwrap_or(Code::MintInvalid),
        message: error("/error/message")
            .unwrap_or(Code::MintInvalid.as_str())
            .to_string(),
    })
}

/// A load config (docs/formats.md) for a signed bundle.
#[must_use]
pub fn load_config(
    bundle: &str,
    trust_keys: &[PublicJwk],
    grant_key: Option<&PrivateJwk>,
) -> Vec<u8> {
    let mut config = json!({
        "bundle": bundle,
        "trust_keys": trust_keys.iter().map(PublicJwk::to_json_value).collect::<Vec<_>>(),
    });
    if let (Some(k), Some(obj)) = (grant_key, config.as_object_mut()) {
        obj.insert("grant_key".into(), k.to_json_value());
    }
    serde_json::to_vec(&config).unwrap_or_default()
}
