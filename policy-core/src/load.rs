//! Step 1 of the pipeline, once per bundle: the load config, the bundle verified under the
//! host's trust keys, its guardrails compiled (every call resolved), and what decisions reuse.

use crate::bundle::Bundle;
use crate::guardrails::{Guardrails, PolicyAgent};
use crate::jose::{Es256Verifier, PrivateJwk, PublicJwk};
use crate::reason::{Code, Reason, reason};
use crate::{json, limits};
use alloc::{collections::BTreeMap, format, string::String, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a decision point is loaded with (docs/formats.md, "Load config").
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadConfig {
    /// The signed bundle (a compact JWS, `typ` `mandate-bundle+jwt`).
    #[serde(default)]
    pub bundle: Option<String>,
    /// The public JWKs the bundle may be signed by.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<crate::schema::members::PublicJwk>")
    )]
    pub trust_keys: Vec<Value>,
    /// The private JWK grants are minted with, when this decision point mints them.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::schema::members::PrivateJwk>")
    )]
    pub grant_key: Option<Value>,
    /// This decision point's own identifiers (RFC 9068 §4): a token must name one in `aud`.
    /// Absent: the request's origin (`scheme://host[:port]`) is the decision point's identifier.
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
}

/// A loaded decision point.
pub(crate) struct Loaded {
    pub bundle: Bundle,
    pub guardrails: Guardrails,
    pub grant_key: Option<PrivateJwk>,
    pub audiences: Option<Vec<String>>,
    /// `input.agent` for each registered agent, built once per bundle instead of per decision.
    pub agent_inputs: BTreeMap<String, PolicyAgent>,
}

/// Parses a load-config document, strictly.
///
/// # Errors
/// `bundle.too_large` or `bundle.malformed`.
pub(crate) fn parse_config(config_json: &[u8]) -> Result<LoadConfig, Reason> {
    let value = json::parse_strict(
        config_json,
        limits::MAX_BUNDLE_BYTES + 64 * 1024,
        limits::MAX_DEPTH,
    )
    .map_err(|e| match e {
        json::JsonError::TooLarge { .. } => {
            reason(Code::BundleTooLarge, "load config exceeds the size limit")
        }
        other => reason(Code::BundleMalformed, format!("load config: {other}")),
    })?;
    serde_json::from_value(value)
        .map_err(|e| reason(Code::BundleMalformed, format!("load config: {e}")))
}

/// Loads a config: the bundle verified, its guardrails compiled.
///
/// # Errors
/// A `bundle.*` reason.
pub(crate) fn load_state(
    config: &LoadConfig,
    verifier: &dyn Es256Verifier,
) -> Result<Loaded, Reason> {
    let jws = config
        .bundle
        .as_deref()
        .ok_or_else(|| reason(Code::BundleMissing, "no bundle is configured"))?;
    let trust_keys = config
        .trust_keys
        .iter()
        .map(PublicJwk::from_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| reason(Code::BundleMissing, format!("trust key: {e}")))?;
    let bundle = Bundle::verify(jws, &trust_keys, verifier)?;
    let guardrails = Guardrails::compile(
        &bundle.policies,
        &bundle.data,
        &bundle.settings.decision_rule,
    )?;
    let grant_key = match &config.grant_key {
        None => None,
        Some(k) => Some(
            PrivateJwk::from_value(k)
                .map_err(|e| reason(Code::BundleMalformed, format!("grant key: {e}")))?,
        ),
    };
    let agent_inputs = bundle
        .agents
        .iter()
        .map(|(id, a)| (id.clone(), a.policy_record()))
        .collect();
    if config
        .audiences
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.iter().any(String::is_empty))
    {
        return Err(reason(
            Code::BundleMalformed,
            "load config: audiences must be non-empty strings",
        ));
    }
    Ok(Loaded {
        audiences: config.audiences.clone(),
        agent_inputs,
        bundle,
        guardrails,
        grant_key,
    })
}
