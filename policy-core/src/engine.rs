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
    /// This decision point's own identifiers (RFC 9068 §4): a token must name one in `aud`.
    /// Absent: the request's origin (`scheme://host[:port]`) is the decision point's identifier.
    #[serde(default)]
    audiences: Option<Vec<String>>,
}

/// A decide input (docs/formats.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    /// The decision time, seconds since the epoch: the only clock the core reads.
    pub now: i64,
    /// A host-chosen id (1 to 128 bytes); derived from the input's hash when absent.
    #[serde(default)]
    pub decision_id: Option<String>,
    /// The request being authorized.
    pub request: RequestSpec,
    /// What it presented.
    #[serde(default)]
    pub credentials: Credentials,
    /// Host-supplied facts for guardrails (`input.context`).
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// Mint a grant on allow.
    #[serde(default)]
    pub mint_grant: Option<MintRequest>,
    /// Obligations the host declares it enforces; any other a guardrail returns is a deny.
    #[serde(default)]
    pub enforces: Vec<String>,
}

/// The credentials a request presents: a delegation chain (root first) with a proof, or a
/// grant with a proof.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Delegation tokens, root first; the last one is presented with the proof.
    #[serde(default)]
    pub delegation: Vec<String>,
    /// The DPoP proof.
    #[serde(default)]
    pub proof: Option<String>,
    /// An ephemeral grant.
    #[serde(default)]
    pub grant: Option<String>,
}

/// An HTTP decide input: the request as the host received it, and its binding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDecideInput {
    /// As in [`DecideInput`].
    pub now: i64,
    /// As in [`DecideInput`].
    #[serde(default)]
    pub decision_id: Option<String>,
    /// The HTTP request.
    pub http: crate::http::HttpRequest,
    /// Routes and forwarded-hop trust.
    #[serde(default)]
    pub binding: crate::http::Binding,
    /// As in [`DecideInput`].
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// As in [`DecideInput`].
    #[serde(default)]
    pub mint_grant: Option<MintRequest>,
    /// As in [`DecideInput`].
    #[serde(default)]
    pub enforces: Vec<String>,
}

struct Loaded {
    bundle: Bundle,
    guardrails: Guardrails,
    grant_key: Option<PrivateJwk>,
    audiences: Option<Vec<String>>,
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
        match parse_input::<DecideInput>(input) {
            Ok(parsed) => self.decide_input(parsed, || derived_id(input)),
            Err(r) => Decision::deny(derived_id(input), 0, r),
        }
    }

    /// Decides an HTTP decide-input document ([`HttpDecideInput`]): the request is bound by
    /// [`crate::http::bind`], then decided as [`Pdp::decide`] would.
    #[must_use]
    pub fn decide_http(&self, input: &[u8]) -> Decision {
        let parsed = match parse_input::<HttpDecideInput>(input) {
            Ok(p) => p,
            Err(r) => return Decision::deny(derived_id(input), 0, r),
        };
        match crate::http::bind(&parsed.http, &parsed.binding) {
            Ok(bound) => self.decide_input(
                DecideInput {
                    now: parsed.now,
                    decision_id: parsed.decision_id,
                    request: bound.request,
                    credentials: bound.credentials,
                    context: parsed.context,
                    mint_grant: parsed.mint_grant,
                    enforces: parsed.enforces,
                },
                || derived_id(input),
            ),
            Err(r) => {
                let id = match choose_id(parsed.decision_id.as_ref(), || derived_id(input)) {
                    Ok(id) => id,
                    Err((bad, id)) => return Decision::deny(id, parsed.now, bad),
                };
                let mut d = Decision::deny(id, parsed.now, r);
                d.request = parsed.http.audit_value();
                if let Ok(l) = &self.state {
                    d.bundle = Some((l.bundle.revision.clone(), l.bundle.digest.clone()));
                }
                d
            }
        }
    }

    /// [`Pdp::decide_http`], serialized canonically.
    #[must_use]
    pub fn decide_http_json(&self, input: &[u8]) -> Vec<u8> {
        self.decide_http(input).to_json()
    }

    /// Decides a parsed input. `derived` names the decision when the input does not.
    pub fn decide_input(&self, input: DecideInput, derived: impl FnOnce() -> String) -> Decision {
        let decision_id = match choose_id(input.decision_id.as_ref(), derived) {
            Ok(id) => id,
            Err((r, id)) => return Decision::deny(id, input.now, r),
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
        let (principal, use_once): (Principal, Vec<UseOnce>) =
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
                (Some(g), true) => {
                    let (principal, grant_use) = grant::verify(&ctx, g, &request)?;
                    check_audience_here(
                        loaded,
                        &request,
                        &principal.aud,
                        Code::GrantAudienceInvalid,
                    )?;
                    if loaded.bundle.settings.grant_requires_proof {
                        let proof = creds.proof.as_deref().ok_or_else(|| {
                            reason(
                                Code::ProofMissing,
                                "a grant is bound to the agent's key: present it with a DPoP proof",
                            )
                        })?;
                        let proof_use = proof::verify(&ctx, proof, g, &principal, &request)?;
                        (principal, alloc::vec![grant_use, proof_use])
                    } else {
                        (principal, alloc::vec![grant_use])
                    }
                }
                (None, false) => {
                    let principal = delegation::verify_chain(&ctx, &creds.delegation)?;
                    check_audience_here(
                        loaded,
                        &request,
                        &principal.aud,
                        Code::TokenAudienceMismatch,
                    )?;
                    let proof = creds.proof.as_deref().ok_or_else(|| {
                        reason(Code::ProofMissing, "a delegation needs a DPoP proof")
                    })?;
                    let presented = creds.delegation.last().map(String::as_str).unwrap_or("");
                    let use_once = proof::verify(&ctx, proof, presented, &principal, &request)?;
                    (principal, alloc::vec![use_once])
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
        check_obligations(&decision.obligations, &input.enforces)?;
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
        decision.use_once = use_once;
        decision.allow = true;
        Ok(())
    }

    /// Applies the host's replay-store result to a decision document:
    /// input `{"decision": {...}, "replayed": ["jti"], "store_error": false}`.
    #[must_use]
    pub fn apply_replay_json(&self, input: &[u8]) -> Vec<u8> {
        /// The host's store result, strictly typed: a value of the wrong type is a deny,
        /// never read as "no replay".
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ReplayResult {
            decision: Map<String, Value>,
            #[serde(default)]
            replayed: Vec<String>,
            #[serde(default)]
            store_error: bool,
        }
        let parsed = json::parse_strict(input, limits::MAX_INPUT_BYTES * 4, limits::MAX_DEPTH);
        let out = match parsed.map(serde_json::from_value::<ReplayResult>) {
            Ok(Ok(r)) => {
                decision::apply_replay(Value::Object(r.decision), &r.replayed, r.store_error)
            }
            _ => error_value(
                Code::InputMalformed,
                "apply_replay input must be {decision: object, replayed: [string], store_error: bool}",
            ),
        };
        json::canonical(&out).into_bytes()
    }
}

/// RFC 9068 §4: the token must be meant for this decision point — one of its configured
/// audiences, or else the origin of the request it guards.
fn check_audience_here(
    loaded: &Loaded,
    request: &Request,
    aud: &[String],
    code: Code,
) -> Result<(), Reason> {
    let ok = match &loaded.audiences {
        Some(here) => aud.iter().any(|a| here.contains(a)),
        None => aud.iter().any(|a| request.target.is_within(a)),
    };
    if ok {
        Ok(())
    } else {
        Err(reason(code, "aud does not name this decision point"))
    }
}

/// The obligation contract: `max_ttl` is the core's own (it caps any grant minted here);
/// `require_approval` is a deny until an approval is presented; any other obligation must be
/// one the host declared in `enforces`, or the decision is a deny. Never silently dropped.
fn check_obligations(obligations: &Map<String, Value>, enforces: &[String]) -> Result<(), Reason> {
    for (name, value) in obligations {
        match name.as_str() {
            "max_ttl" => {
                if value.as_i64().is_none_or(|t| t < 0) {
                    return Err(reason(
                        Code::PolicyOutputInvalid,
                        "obligation max_ttl must be a non-negative integer of seconds",
                    ));
                }
            }
            "require_approval" => {
                if value != &Value::Bool(false) {
                    let why = match value {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o.get("reason").and_then(Value::as_str).map_or_else(
                            || String::from("a person must approve this action"),
                            ToString::to_string,
                        ),
                        _ => String::from("a person must approve this action"),
                    };
                    return Err(reason(Code::ApprovalRequired, why));
                }
            }
            other if enforces.iter().any(|e| e == other) => {}
            other => {
                return Err(reason(
                    Code::ObligationUnsupported,
                    format!("obligation {other} is not one this decision point enforces"),
                ));
            }
        }
    }
    Ok(())
}

fn derived_id(input: &[u8]) -> String {
    let digest = Sha256::digest(input);
    b64::encode(digest.get(..16).unwrap_or(&[]))
}

/// Strict JSON (no duplicate members, bounded), then the typed shape.
fn parse_input<T: serde::de::DeserializeOwned>(input: &[u8]) -> Result<T, Reason> {
    let parsed = match json::parse_strict(input, limits::MAX_INPUT_BYTES, limits::MAX_DEPTH) {
        Ok(v) => v,
        Err(json::JsonError::TooLarge { .. } | json::JsonError::TooDeep(_)) => {
            return Err(reason(
                Code::InputTooLarge,
                "decide input exceeds the size or depth limit",
            ));
        }
        Err(e) => return Err(reason(Code::InputMalformed, format!("{e}"))),
    };
    serde_json::from_value(parsed).map_err(|e| reason(Code::InputMalformed, format!("{e}")))
}

/// The host's decision id when it is 1 to 128 bytes, else the derived one; a bad host id is a
/// deny (named by the derived id).
fn choose_id(
    given: Option<&String>,
    derived: impl FnOnce() -> String,
) -> Result<String, (Reason, String)> {
    match given {
        Some(id) if !id.is_empty() && id.len() <= 128 => Ok(id.clone()),
        Some(_) => Err((
            reason(Code::InputMalformed, "decision_id must be 1 to 128 bytes"),
            derived(),
        )),
        None => Ok(derived()),
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
