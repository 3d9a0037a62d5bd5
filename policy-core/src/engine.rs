//! The decision point: load a bundle once, then decide requests in the fixed pipeline order —
//! bundle → delegation chain → agent → proof (or grant) → scope → guardrails → grant minting —
//! each step failing closed with its own code.

use crate::bundle::Bundle;
use crate::decision::{self, Decision};
use crate::delegation::{self, Principal};
use crate::grant::{self, MintRequest};
use crate::jose::{Es256Verifier, JoseError, Jws, P256Verifier, PrivateJwk, PublicJwk};
use crate::policy::Guardrails;
use crate::reason::{Code, Reason, reason};
use crate::request::{Request, RequestSpec};
use crate::{b64, json, limits, proof, scope};
use alloc::{
    boxed::Box,
    collections::BTreeMap,
    format,
    string::{String, ToString},
    vec::Vec,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A `jti` the host must record as used until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseOnce {
    /// `proof` or `grant`.
    pub kind: &'static str,
    /// The store key (a proof's is scoped by its key's thumbprint).
    pub jti: String,
    /// When the entry may be forgotten.
    pub exp: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadConfig {
    bundle: Option<String>,
    #[serde(default)]
    trust_keys: Vec<Value>,
    #[serde(default)]
    grant_key: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideInput {
    now: i64,
    #[serde(default)]
    decision_id: Option<String>,
    request: RequestSpec,
    #[serde(default)]
    credentials: Credentials,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    mint_grant: Option<MintRequest>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Credentials {
    #[serde(default)]
    delegation: Vec<String>,
    #[serde(default)]
    proof: Option<String>,
    #[serde(default)]
    grant: Option<String>,
}

struct Loaded {
    bundle: Bundle,
    guardrails: Guardrails,
    grant_key: Option<PrivateJwk>,
    /// `input.agent` for each registered agent, built once per bundle instead of per decision.
    agent_inputs: BTreeMap<String, Value>,
}

/// Caches successful signature checks of delegation tokens by (key, signed bytes, signature),
/// so the steady state costs one verify per request (the proof's). A hit says only that those
/// exact bytes verify under that key — a fact that never changes — so caching cannot change a
/// decision; the bound only limits memory.
struct SigCache {
    entries: spin::Mutex<BTreeMap<[u8; 32], i64>>,
}

const SIG_CACHE_CAP: usize = 4096;

/// Per-decision context shared by the pipeline steps.
pub(crate) struct Ctx<'a> {
    pub bundle: &'a Bundle,
    pub now: i64,
    pub verifier: &'a dyn Es256Verifier,
    cache: &'a SigCache,
}

impl Ctx<'_> {
    /// Verifies through the cache.
    pub(crate) fn verify_cached(&self, jws: &Jws<'_>, key: &PublicJwk) -> Result<(), JoseError> {
        let (signed, sig) = jws.signed_parts();
        let mut h = Sha256::new();
        h.update(key.jkt().as_bytes());
        h.update(signed.as_bytes());
        h.update(sig);
        let id: [u8; 32] = h.finalize().into();
        if self.cache.entries.lock().contains_key(&id) {
            return Ok(());
        }
        jws.verify(key, self.verifier)?;
        let exp = jws
            .claims()
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(self.now);
        let mut entries = self.cache.entries.lock();
        if entries.len() >= SIG_CACHE_CAP {
            entries.retain(|_, e| *e > self.now);
            if entries.len() >= SIG_CACHE_CAP {
                entries.clear();
            }
        }
        entries.insert(id, exp);
        Ok(())
    }
}

/// A decision point. Loading never fails: a bad configuration yields a `Pdp` that denies every
/// request with the load error's code. `Send + Sync`; decide from as many threads as you like.
pub struct Pdp {
    state: Result<Loaded, Reason>,
    verifier: Box<dyn Es256Verifier>,
    cache: SigCache,
}

// A decision point is shared across threads by every host; keep it that way.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Pdp>();
};

impl core::fmt::Debug for Pdp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pdp")
            .field("status", &self.status().map(|b| &b.revision))
            .finish_non_exhaustive()
    }
}

impl Pdp {
    /// Loads a config document (docs/formats.md) with the portable `p256` verifier.
    #[must_use]
    pub fn load(config_json: &[u8]) -> Pdp {
        Self::load_with_verifier(config_json, Box::new(P256Verifier))
    }

    /// Loads with a host-supplied signature verifier.
    #[must_use]
    pub fn load_with_verifier(config_json: &[u8], verifier: Box<dyn Es256Verifier>) -> Pdp {
        let state = load_state(config_json, verifier.as_ref());
        Pdp {
            state,
            verifier,
            cache: SigCache {
                entries: spin::Mutex::new(BTreeMap::new()),
            },
        }
    }

    /// The verified bundle, or why there is none.
    ///
    /// # Errors
    /// The load failure.
    pub fn status(&self) -> Result<&Bundle, &Reason> {
        self.state.as_ref().map(|l| &l.bundle)
    }

    /// `{"ok": true, "bundle": {...}}` or `{"ok": false, "error": {...}}`, canonical.
    #[must_use]
    pub fn status_json(&self) -> Vec<u8> {
        let v = match &self.state {
            Ok(l) => l.bundle.status_value(),
            Err(r) => {
                json!({"ok": false, "error": {"code": r.code.as_str(), "message": r.message}})
            }
        };
        json::canonical(&v).into_bytes()
    }

    /// Decides a decide-input document; returns the canonical decision document.
    #[must_use]
    pub fn decide_json(&self, input: &[u8]) -> Vec<u8> {
        self.decide(input).to_json()
    }

    /// Decides a decide-input document.
    #[must_use]
    pub fn decide(&self, input: &[u8]) -> Decision {
        let derived_id = || {
            let digest = Sha256::digest(input);
            b64::encode(digest.get(..16).unwrap_or(&[]))
        };
        let parsed = match json::parse_strict(input, limits::MAX_INPUT_BYTES, limits::MAX_DEPTH) {
            Ok(v) => v,
            Err(json::JsonError::TooLarge { .. } | json::JsonError::TooDeep(_)) => {
                return Decision::deny(
                    derived_id(),
                    0,
                    reason(
                        Code::InputTooLarge,
                        "decide input exceeds the size or depth limit",
                    ),
                );
            }
            Err(e) => {
                return Decision::deny(
                    derived_id(),
                    0,
                    reason(Code::InputMalformed, format!("{e}")),
                );
            }
        };
        let input: DecideInput = match serde_json::from_value(parsed) {
            Ok(i) => i,
            Err(e) => {
                return Decision::deny(
                    derived_id(),
                    0,
                    reason(Code::InputMalformed, format!("{e}")),
                );
            }
        };
        let decision_id = match &input.decision_id {
            Some(id) if !id.is_empty() && id.len() <= 128 => id.clone(),
            Some(_) => {
                return Decision::deny(
                    derived_id(),
                    input.now,
                    reason(Code::InputMalformed, "decision_id must be 1 to 128 bytes"),
                );
            }
            None => derived_id(),
        };
        let mut decision = Decision {
            decision_id,
            now: input.now,
            request: audit_request(&input.request),
            ..Decision::default()
        };
        let loaded = match &self.state {
            Ok(l) => l,
            Err(r) => {
                decision.reasons.push(r.clone());
                return decision;
            }
        };
        decision.bundle = Some((loaded.bundle.revision.clone(), loaded.bundle.digest.clone()));
        if let Err(r) = self.pipeline(loaded, input, &mut decision) {
            decision.allow = false;
            decision.use_once.clear();
            decision.grant = None;
            if decision.reasons.is_empty() {
                decision.reasons.push(r);
            }
        }
        decision
    }

    fn pipeline(
        &self,
        loaded: &Loaded,
        input: DecideInput,
        decision: &mut Decision,
    ) -> Result<(), Reason> {
        let ctx = Ctx {
            bundle: &loaded.bundle,
            now: input.now,
            verifier: self.verifier.as_ref(),
            cache: &self.cache,
        };
        loaded.bundle.check_time(input.now)?;
        let request = Request::new(input.request).map_err(|m| reason(Code::RequestInvalid, m))?;
        let creds = input.credentials;
        let (principal, use_once): (Principal, UseOnce) =
            match (creds.grant.as_deref(), creds.delegation.is_empty()) {
                (Some(_), false) => {
                    return Err(reason(
                        Code::CredentialsConflict,
                        "present a grant or a delegation, not both",
                    ));
                }
                (None, true) => {
                    return Err(reason(
                        Code::CredentialsMissing,
                        "no delegation or grant was presented",
                    ));
                }
                (Some(g), true) => grant::verify(&ctx, g, &request)?,
                (None, false) => {
                    let principal = delegation::verify_chain(&ctx, &creds.delegation)?;
                    let proof = creds.proof.as_deref().ok_or_else(|| {
                        reason(Code::ProofMissing, "a delegation needs a DPoP proof")
                    })?;
                    let presented = creds.delegation.last().map(String::as_str).unwrap_or("");
                    let use_once = proof::verify(&ctx, proof, presented, &principal, &request)?;
                    (principal, use_once)
                }
            };
        decision.principal = Some(principal.clone());
        if let Some(action) = &request.spec.action
            && !scope::action_covered(
                &principal.scopes,
                &principal.details,
                action,
                request.spec.resource.as_deref(),
            )
        {
            return Err(reason(
                Code::DelegationScopeInsufficient,
                format!("the delegation does not cover {action}"),
            ));
        }
        let agent = loaded
            .agent_inputs
            .get(&principal.agent)
            .cloned()
            .unwrap_or(Value::Null);
        let policy_input = json!({
            "agent": agent,
            "user": {"id": principal.user, "groups": principal.groups, "issuer": principal.issuer},
            "delegation": principal.to_policy_value(),
            "request": request.to_policy_value(),
            "context": input.context.unwrap_or_default(),
            "now": input.now,
        });
        let outcome = loaded.guardrails.evaluate_owned(policy_input)?;
        decision.obligations = outcome.obligations;
        let rule = &loaded.bundle.settings.decision_rule;
        if !outcome.deny.is_empty() {
            decision.rules = outcome
                .deny
                .iter()
                .map(|m| format!("{rule}.deny: {m}"))
                .collect();
            decision.reasons = outcome
                .deny
                .into_iter()
                .map(|m| reason(Code::PolicyDenied, m))
                .collect();
            return Err(reason(Code::PolicyDenied, "denied by guardrails"));
        }
        if !outcome.allow {
            decision.rules = alloc::vec![format!("{rule}.allow")];
            return Err(reason(
                Code::PolicyNotAllowed,
                "no guardrail allowed the request",
            ));
        }
        decision.rules = alloc::vec![format!("{rule}.allow")];
        if let Some(ask) = &input.mint_grant {
            let g = grant::mint(
                &ctx,
                loaded.grant_key.as_ref(),
                ask,
                &principal,
                &request,
                &decision.decision_id,
                &decision.obligations,
            )?;
            decision.grant = Some(g);
        }
        decision.use_once = alloc::vec![use_once];
        decision.allow = true;
        Ok(())
    }

    /// Applies the host's replay-store result to a decision document:
    /// input `{"decision": {...}, "replayed": ["jti"], "store_error": false}`.
    #[must_use]
    pub fn apply_replay_json(&self, input: &[u8]) -> Vec<u8> {
        let parsed = json::parse_strict(input, limits::MAX_INPUT_BYTES * 4, limits::MAX_DEPTH);
        let out = match parsed {
            Ok(Value::Object(mut obj)) => {
                let replayed = obj
                    .get("replayed")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(ToString::to_string))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let store_error = obj
                    .get("store_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match obj.remove("decision") {
                    Some(d @ Value::Object(_)) => decision::apply_replay(d, &replayed, store_error),
                    _ => error_value(Code::InputMalformed, "apply_replay needs a decision object"),
                }
            }
            _ => error_value(
                Code::InputMalformed,
                "apply_replay input must be a JSON object",
            ),
        };
        json::canonical(&out).into_bytes()
    }
}

fn error_value(code: Code, message: &str) -> Value {
    json!({"decision": "deny", "reasons": [{"code": code.as_str(), "message": message}]})
}

fn audit_request(r: &RequestSpec) -> Value {
    json!({"method": r.method, "uri": r.uri, "ip": r.ip, "action": r.action, "resource": r.resource})
}

fn load_state(config_json: &[u8], verifier: &dyn Es256Verifier) -> Result<Loaded, Reason> {
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
    Ok(Loaded {
        agent_inputs,
        bundle,
        guardrails,
        grant_key,
    })
}
