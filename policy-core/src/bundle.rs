//! The signed bundle: everything a decision point trusts, as one ES256 JWS verified against the
//! host's trust keys. Parsed once per load; decisions only read it.

use crate::jose::{Es256Verifier, PublicJwk, Unverified, typ_matches};
use crate::limits;
use crate::reason::{Code, Reason, reason};
use crate::registry::{Agent, AgentSpec};
use crate::replace::BundleFacts;
use crate::{b64, json};
use alloc::{collections::BTreeMap, format, string::String, vec::Vec};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `typ` of a bundle JWS.
pub const BUNDLE_TYP: &str = "mandate-bundle+jwt";
/// The `typ` of a delegation token (RFC 9068).
pub const DELEGATION_TYP: &str = "at+jwt";
/// The `typ` of a sub-delegation hop.
pub const SUBDELEGATION_TYP: &str = "mandate-subdelegation+jwt";
/// The `typ` of a DPoP proof (RFC 9449).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The `typ` of an ephemeral grant.
pub const GRANT_TYP: &str = "mandate-grant+jwt";

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BundleSpec {
    revision: String,
    iat: i64,
    #[serde(default)]
    nbf: Option<i64>,
    exp: i64,
    issuers: Vec<IssuerSpec>,
    #[serde(default)]
    agents: Vec<AgentSpec>,
    #[serde(default)]
    revocations: Revocations,
    #[serde(default)]
    policies: BTreeMap<String, String>,
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    settings: Settings,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssuerSpec {
    iss: String,
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::PublicJwk>")
    )]
    keys: Vec<Value>,
    audiences: Vec<String>,
    #[serde(default = "default_typ")]
    typ: Vec<String>,
}

fn default_typ() -> Vec<String> {
    alloc::vec![String::from(DELEGATION_TYP)]
}

/// A token issuer the bundle trusts.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Its `iss`.
    pub iss: String,
    /// Its keys, each with a `kid`.
    pub keys: Vec<PublicJwk>,
    /// Audiences its tokens may name.
    pub audiences: Vec<String>,
    /// Token types it is trusted for (`at+jwt`, `mandate-grant+jwt`).
    pub typ: Vec<String>,
}

impl Issuer {
    /// True when this issuer is trusted for tokens of `typ`.
    #[must_use]
    pub fn issues(&self, typ: &str) -> bool {
        self.typ.iter().any(|t| typ_matches(Some(t), typ))
    }
}

/// Revoked token ids, agent ids and key thumbprints.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    /// Token `jti`s.
    #[serde(default)]
    pub jti: Vec<String>,
    /// Agent ids.
    #[serde(default)]
    pub agents: Vec<String>,
    /// RFC 7638 key thumbprints.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// Tunables. Every default is the conservative one.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Seconds of clock skew tolerated on token times.
    pub clock_skew: i64,
    /// How old a DPoP proof's `iat` may be, in seconds.
    pub proof_max_age: i64,
    /// The longest `exp - iat` of an ephemeral grant, in seconds.
    pub grant_max_ttl: i64,
    /// The most sub-delegation hops below the person's delegation.
    pub max_chain_depth: u32,
    /// The Rego package whose `allow`, `deny` and `obligations` decide.
    pub decision_rule: String,
    /// The `iss` of grants this decision point mints.
    pub grant_issuer: Option<String>,
    /// A presented grant must come with a DPoP proof from the key in its `cnf.jkt` (the
    /// agent's), so a grant is never a bearer token. Default on.
    pub grant_requires_proof: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clock_skew: 60,
            proof_max_age: 60,
            grant_max_ttl: 60,
            max_chain_depth: 2,
            decision_rule: String::from("data.mandate"),
            grant_issuer: None,
            grant_requires_proof: true,
        }
    }
}

/// A verified bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Operator-chosen revision label.
    pub revision: String,
    /// base64url SHA-256 of the bundle JWS.
    pub digest: String,
    /// Issued at.
    pub iat: i64,
    /// Not before (defaults to `iat`).
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Trusted issuers.
    pub issuers: Vec<Issuer>,
    /// The registry.
    pub agents: BTreeMap<String, Agent>,
    /// Revocations.
    pub revocations: Revocations,
    /// Rego sources by file name.
    pub policies: BTreeMap<String, String>,
    /// Policy data (`data.*`).
    pub data: Map<String, Value>,
    /// Settings.
    pub settings: Settings,
}

impl Bundle {
    /// Verifies `jws` against `trust_keys` and parses its contents. Time is not checked here
    /// (decisions check `nbf`/`exp` against their own `now`).
    ///
    /// # Errors
    /// A `bundle.*` reason.
    pub fn verify(
        jws: &str,
        trust_keys: &[PublicJwk],
        verifier: &dyn Es256Verifier,
    ) -> Result<Bundle, Reason> {
        if trust_keys.is_empty() {
            return Err(reason(Code::BundleMissing, "no trust keys are configured"));
        }
        let parsed =
            Unverified::parse(jws, limits::MAX_BUNDLE_BYTES, false).map_err(|e| match e {
                crate::jose::JoseError::TooLarge => {
                    reason(Code::BundleTooLarge, "bundle exceeds the size limit")
                }
                other => reason(Code::BundleMalformed, format!("bundle JWS: {other}")),
            })?;
        if !typ_matches(parsed.typ(), BUNDLE_TYP) {
            return Err(reason(
                Code::BundleMalformed,
                "bundle typ must be mandate-bundle+jwt",
            ));
        }
        let key = match parsed.kid() {
            Some(kid) => trust_keys.iter().find(|k| k.kid() == Some(kid)),
            None if trust_keys.len() == 1 => trust_keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            reason(
                Code::BundleUntrustedKey,
                "the bundle's kid names no configured trust key",
            )
        })?;
        let verified = parsed.verify(key, verifier).map_err(|_| {
            reason(
                Code::BundleSignatureInvalid,
                "bundle signature does not verify",
            )
        })?;
        let spec: BundleSpec = verified
            .deserialize()
            .map_err(|e| reason(Code::BundleMalformed, format!("bundle contents: {e}")))?;
        Self::from_spec(spec, b64::encode(&Sha256::digest(jws.as_bytes())))
    }

    fn from_spec(spec: BundleSpec, digest: String) -> Result<Bundle, Reason> {
        let malformed = |m: String| reason(Code::BundleMalformed, m);
        let mut issuers = Vec::with_capacity(spec.issuers.len());
        for i in spec.issuers {
            let keys = i
                .keys
                .iter()
                .map(PublicJwk::from_value)
                .collect::<Result<Vec<_>, _>>();
            let keys = keys.map_err(|e| malformed(format!("issuer {}: {e}", i.iss)))?;
            if keys.iter().any(|k| k.kid().is_none()) {
                return Err(malformed(format!(
                    "issuer {}: every key needs a kid",
                    i.iss
                )));
            }
            issuers.push(Issuer {
                iss: i.iss,
                keys,
                audiences: i.audiences,
                typ: i.typ,
            });
        }
        let mut agents = BTreeMap::new();
        for a in spec.agents {
            let agent = Agent::from_spec(a).map_err(malformed)?;
            if agents.insert(agent.id.clone(), agent).is_some() {
                return Err(malformed(String::from("duplicate agent id")));
            }
        }
        let s = &spec.settings;
        if s.clock_skew < 0
            || s.proof_max_age <= 0
            || s.grant_max_ttl <= 0
            || !s.decision_rule.starts_with("data.")
        {
            return Err(malformed(String::from("settings out of range")));
        }
        Ok(Bundle {
            revision: spec.revision,
            digest,
            iat: spec.iat,
            nbf: spec.nbf.unwrap_or(spec.iat),
            exp: spec.exp,
            issuers,
            agents,
            revocations: spec.revocations,
            policies: spec.policies,
            data: spec.data,
            settings: spec.settings,
        })
    }

    /// The issuer with this `iss`.
    #[must_use]
    pub fn issuer(&self, iss: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.iss == iss)
    }

    /// Checks `now` against the bundle's validity window.
    ///
    /// # Errors
    /// `bundle.expired` or `bundle.not_yet_valid`.
    pub fn check_time(&self, now: i64) -> Result<(), Reason> {
        if now >= self.exp {
            return Err(reason(
                Code::BundleExpired,
                format!("bundle {} expired at {}", self.revision, self.exp),
            ));
        }
        if now < self.nbf {
            return Err(reason(
                Code::BundleNotYetValid,
                format!("bundle {} is valid from {}", self.revision, self.nbf),
            ));
        }
        Ok(())
    }

    /// The claims the replacement rule compares ([`crate::may_replace`]).
    #[must_use]
    pub fn facts(&self) -> BundleFacts {
        BundleFacts {
            revision: self.revision.clone(),
            digest: self.digest.clone(),
            iat: self.iat,
            nbf: self.nbf,
            exp: self.exp,
        }
    }

    /// The load status document (`{"ok": true, "bundle": {...}}`, the bundle's [`BundleFacts`]).
    #[must_use]
    pub fn status_value(&self) -> Value {
        serde_json::json!({"ok": true, "bundle": self.facts()})
    }
}

/// Parses the strict JSON of a whole bundle payload limit; exposed for hosts that inspect bundles.
///
/// # Errors
/// `bundle.malformed` when the bytes are not a JSON object.
pub fn parse_contents(bytes: &[u8]) -> Result<Value, Reason> {
    json::parse_strict(bytes, limits::MAX_BUNDLE_BYTES, limits::MAX_DEPTH)
        .map_err(|e| reason(Code::BundleMalformed, format!("{e}")))
}
