//! Step 1 of the pipeline, once per bundle: the load config, the bundle verified under the
//! host's trust keys, its guardrails compiled (every call resolved), and what decisions reuse.

use crate::bundle::Bundle;
use crate::guardrails::Guardrails;
use crate::jose::{Es256Verifier, PrivateJwk, PublicJwk};
use crate::reason::{Code, Reason, reason};
use crate::{json, limits};
use alloc::{collections::BTreeMap, format, string::String, vec::Vec};
use serde::Deserialize;
use serde_json::Value;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadConfig {
    bundle: Option<String>,
    #[serde(default)]
    trust_keys: Vec<Value>,
    #[serde(default)]
    grant_key: Option<Value>,
    /// This decision point's own identifiers (RFC 9068 §4): a token must name one in `aud`.
    /// Absent: the request's origin (`scheme://host[:port]`) is the decision point's identifier.
    #[serde(default)]
    audiences: Option<Vec<String>>,
}

/// A loaded decision point.
pub(crate) struct Loaded {
    pub bundle: Bundle,
    pub guardrails: Guardrails,
    pub grant_key: Option<PrivateJwk>,
    pub audiences: Option<Vec<String>>,
    /// `input.agent` for each registered agent, built once per bundle instead of per decision.
    pub agent_inputs: BTreeMap<String, Value>,
}

/// Loads a config document.
///
/// # Errors
/// A `bundle.*` reason.
pub(crate) fn load_state(
    config_json: &[u8],
    verifier: &dyn Es256Verifier,
) -> Result<Loaded, Reason> {
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
    let config: LoadConfig = serde_json::from_value(value)
        .map_err(|e| reason(Code::BundleMalformed, format!("load config: {e}")))?;
    let jws = config
        .bundle
        .ok_or_else(|| reason(Code::BundleMissing, "no bundle is configured"))?;
    let trust_keys = config
        .trust_keys
        .iter()
        .map(PublicJwk::from_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| reason(Code::BundleMissing, format!("trust key: {e}")))?;
    let bundle = Bundle::verify(&jws, &trust_keys, verifier)?;
    let guardrails = Guardrails::compile(
        &bundle.policies,
        &bundle.data,
        &bundle.settings.decision_rule,
    )?;
    let grant_key = match config.grant_key {
        None => None,
        Some(k) => Some(
            PrivateJwk::from_value(&k)
                .map_err(|e| reason(Code::BundleMalformed, format!("grant key: {e}")))?,
        ),
    };
    let agent_inputs = bundle
        .agents
        .iter()
        .map(|(id, a)| (id.clone(), a.to_policy_value()))
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
        audiences: config.audiences,
        agent_inputs,
        bundle,
        guardrails,
        grant_key,
    })
}
