//! The decision point: load a bundle once, then decide requests in the fixed order of
//! `docs/pipeline.md`, each step in its own module and failing closed with its own code:
//!
//! | step | module |
//! | --- | --- |
//! | 0 input | `input.rs` (and `http.rs` for HTTP inputs) |
//! | 1 bundle | `load.rs`, `bundle.rs` |
//! | 2 request | `request.rs` |
//! | 3–7′ credentials: chain, agent, audience, proof, or grant | `credentials.rs` |
//! | 8 scope | `scope.rs` |
//! | 9 guardrails | `guardrails/` |
//! | 9′ obligations | `obligations.rs` |
//! | 10 grant minting | `grant.rs` |
//! | 11 replay (the host's store) | `pending.rs` (typed), `replay.rs` (documents) |

use crate::bundle::Bundle;
use crate::ctx::{Ctx, SigCache};
use crate::decision::Decision;
use crate::http::HttpDecideInput;
use crate::input::{DecideInput, audit_request, choose_id, derived_id, derived_id_of, parse_input};
use crate::jose::{Es256Verifier, P256Verifier};
use crate::load::{self, LoadConfig, Loaded};
use crate::pending::Pending;
use crate::reason::{Code, Reason, reason};
use crate::replace::BundleFacts;
use crate::request::Request;
use crate::{credentials, grant, guardrails, http, json, obligations, replay, scope};
use alloc::{boxed::Box, string::String, vec::Vec};
use serde_json::Value;

/// A decision point. Loading never fails: a bad configuration yields a `Pdp` that denies every
/// request with the load error's code. `Send + Sync`; decide from as many threads as you like.
pub struct Pdp {
    state: Result<Loaded, Reason>,
    verifier: Box<dyn Es256Verifier>,
    cache: SigCache,
}

/// What the guardrails of one decision saw and wrote, for people reading a decision
/// (`mandate decide --explain`): given by the `*_explained` entry points of [`Pdp`] when the
/// pipeline reached the guardrails (every check before them passed).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GuardrailTrace {
    /// The `input` document the guardrails evaluated (docs/guardrails.md; its schema is
    /// `docs/schemas/guardrail-input.schema.json`).
    pub input: Value,
    /// What the policy's `print()` calls wrote, in order, each `file:line: message`.
    pub prints: Vec<String>,
}

/// Whether a decision keeps what its guardrails saw: only the explain entry points do, so the
/// decisions hosts serve neither copy the input nor gather prints.
enum Trace {
    Off,
    On(Option<GuardrailTrace>),
}

impl Trace {
    fn explain(f: impl FnOnce(&mut Trace) -> Decision) -> (Pending, Option<GuardrailTrace>) {
        let mut trace = Trace::On(None);
        let decision = f(&mut trace);
        let trace = match trace {
            Trace::On(t) => t,
            Trace::Off => None,
        };
        (Pending::new(decision), trace)
    }
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
    /// Loads a [`LoadConfig`] with the portable `p256` verifier.
    #[must_use]
    pub fn load(config: &LoadConfig) -> Pdp {
        Self::load_with_verifier(config, Box::new(P256Verifier))
    }

    /// Loads a [`LoadConfig`] with a host-supplied signature verifier.
    #[must_use]
    pub fn load_with_verifier(config: &LoadConfig, verifier: Box<dyn Es256Verifier>) -> Pdp {
        Self::from_state(load::load_state(config, verifier.as_ref()), verifier)
    }

    /// Loads a load-config document (docs/formats.md) with the portable `p256` verifier.
    #[must_use]
    pub fn load_json(config_json: &[u8]) -> Pdp {
        Self::load_json_with_verifier(config_json, Box::new(P256Verifier))
    }

    /// Loads a load-config document with a host-supplied signature verifier.
    #[must_use]
    pub fn load_json_with_verifier(config_json: &[u8], verifier: Box<dyn Es256Verifier>) -> Pdp {
        let state = load::parse_config(config_json)
            .and_then(|config| load::load_state(&config, verifier.as_ref()));
        Self::from_state(state, verifier)
    }

    fn from_state(state: Result<Loaded, Reason>, verifier: Box<dyn Es256Verifier>) -> Pdp {
        Pdp {
            state,
            verifier,
            cache: SigCache::new(),
        }
    }

    /// The verified bundle, or why there is none.
    ///
    /// # Errors
    /// The load failure.
    pub fn status(&self) -> Result<&Bundle, &Reason> {
        self.state.as_ref().map(|l| &l.bundle)
    }

    /// Whether this freshly loaded decision point may replace `serving` (what serves now, if
    /// anything) at `now`: its own load must have succeeded, then [`crate::may_replace`] decides
    /// on the two verified bundles (expired, not yet valid, rollback).
    ///
    /// # Errors
    /// Its load failure, or why the serving bundle stays.
    pub fn may_replace(&self, serving: Option<&BundleFacts>, now: i64) -> Result<(), Reason> {
        let next = self.status().map_err(Clone::clone)?;
        crate::replace::may_replace(serving, &next.facts(), now)
    }

    /// `{"ok": true, "bundle": {...}}` or `{"ok": false, "error": {...}}`, canonical.
    #[must_use]
    pub fn status_json(&self) -> Vec<u8> {
        match &self.state {
            Ok(l) => json::canonical(&l.bundle.status_value()).into_bytes(),
            Err(r) => crate::replace::refusal_json(r),
        }
    }

    /// Decides a decide input. The answer is [`Pending`] until the host has recorded its
    /// use-once entries ([`Pending::settle`]).
    pub fn decide(&self, input: &DecideInput) -> Pending {
        Pending::new(self.decide_owned(input.clone(), &mut Trace::Off))
    }

    /// [`Pdp::decide`], and what its guardrails saw and wrote when the pipeline reached them
    /// (`None` when an earlier step decided). The decision is the one [`Pdp::decide`] gives;
    /// only this path copies the guardrail input and gathers `print()` output, for people
    /// (`mandate decide --explain`), never for serving.
    pub fn decide_explained(&self, input: &DecideInput) -> (Pending, Option<GuardrailTrace>) {
        Trace::explain(|t| self.decide_owned(input.clone(), t))
    }

    /// Decides a decide-input document; returns the canonical decision document, before replay
    /// (the module ABI: the host settles it with [`Pdp::apply_replay_json`]).
    #[must_use]
    pub fn decide_json(&self, input: &[u8]) -> Vec<u8> {
        self.decide_document(input).to_unsettled_json()
    }

    /// Decides a decide-input document (strict JSON, docs/formats.md) into a [`Pending`]: what a
    /// native host holding bytes calls, settling it typed, without reading the answer back from
    /// JSON. A document that does not parse is a deny with its `input.*` code.
    pub fn decide_document(&self, input: &[u8]) -> Pending {
        Pending::new(self.decide_document_traced(input, &mut Trace::Off))
    }

    /// [`Pdp::decide_document`], explained as [`Pdp::decide_explained`] is.
    pub fn decide_document_explained(&self, input: &[u8]) -> (Pending, Option<GuardrailTrace>) {
        Trace::explain(|t| self.decide_document_traced(input, t))
    }

    fn decide_document_traced(&self, input: &[u8], trace: &mut Trace) -> Decision {
        match parse_input::<DecideInput>(input) {
            Ok(parsed) => self.decide_owned(parsed, trace),
            Err(r) => Decision::deny(derived_id(input), 0, r),
        }
    }

    /// Decides an HTTP decide input: the request is bound by [`crate::http::bind`] (a request
    /// the binding refuses is a deny with its reason), then decided as [`Pdp::decide`] would.
    pub fn decide_http(&self, input: &HttpDecideInput) -> Pending {
        Pending::new(self.decide_http_owned(input.clone(), &mut Trace::Off))
    }

    /// [`Pdp::decide_http`], explained as [`Pdp::decide_explained`] is.
    pub fn decide_http_explained(
        &self,
        input: &HttpDecideInput,
    ) -> (Pending, Option<GuardrailTrace>) {
        Trace::explain(|t| self.decide_http_owned(input.clone(), t))
    }

    /// [`Pdp::decide_http`] on a document, serialized canonically as [`Pdp::decide_json`] is.
    #[must_use]
    pub fn decide_http_json(&self, input: &[u8]) -> Vec<u8> {
        self.decide_http_document(input).to_unsettled_json()
    }

    /// [`Pdp::decide_document`] for an HTTP decide-input document.
    pub fn decide_http_document(&self, input: &[u8]) -> Pending {
        Pending::new(self.decide_http_document_traced(input, &mut Trace::Off))
    }

    /// [`Pdp::decide_http_document`], explained as [`Pdp::decide_explained`] is.
    pub fn decide_http_document_explained(
        &self,
        input: &[u8],
    ) -> (Pending, Option<GuardrailTrace>) {
        Trace::explain(|t| self.decide_http_document_traced(input, t))
    }

    fn decide_http_document_traced(&self, input: &[u8], trace: &mut Trace) -> Decision {
        match parse_input::<HttpDecideInput>(input) {
            Ok(parsed) => self.decide_http_owned(parsed, trace),
            Err(r) => Decision::deny(derived_id(input), 0, r),
        }
    }

    /// The id first (a bad host id is a deny; the input is hashed only when it names none), then
    /// the binding, then the pipeline.
    fn decide_http_owned(&self, parsed: HttpDecideInput, trace: &mut Trace) -> Decision {
        let id = match choose_id(parsed.decision_id.as_ref(), || derived_id_of(&parsed)) {
            Ok(id) => id,
            Err((bad, id)) => return Decision::deny(id, parsed.now, bad),
        };
        match http::bind(&parsed.http, &parsed.binding) {
            Ok(bound) => self.decide_named(
                id,
                DecideInput {
                    now: parsed.now,
                    decision_id: parsed.decision_id,
                    request: bound.request,
                    credentials: bound.credentials,
                    context: parsed.context,
                    mint_grant: parsed.mint_grant,
                    enforces: parsed.enforces,
                    replay_since: parsed.replay_since,
                },
                trace,
            ),
            Err(r) => {
                let mut d = Decision::deny(id, parsed.now, r);
                d.request = parsed.http.audit_value();
                if let Ok(l) = &self.state {
                    d.bundle = Some((l.bundle.revision.clone(), l.bundle.digest.clone()));
                }
                d
            }
        }
    }

    /// Decides an owned input, named by its host id, or by its hash only when it names none.
    fn decide_owned(&self, input: DecideInput, trace: &mut Trace) -> Decision {
        match choose_id(input.decision_id.as_ref(), || derived_id_of(&input)) {
            Ok(id) => self.decide_named(id, input, trace),
            Err((r, id)) => Decision::deny(id, input.now, r),
        }
    }

    /// Steps 1–10 for an input whose decision id is settled.
    fn decide_named(&self, decision_id: String, input: DecideInput, trace: &mut Trace) -> Decision {
        let mut decision = Decision::blank(decision_id, input.now, audit_request(&input.request));
        let loaded = match &self.state {
            Ok(l) => l,
            Err(r) => {
                decision.reasons.push(r.clone());
                return decision;
            }
        };
        decision.bundle = Some((loaded.bundle.revision.clone(), loaded.bundle.digest.clone()));
        if let Err(r) = self.pipeline(loaded, input, &mut decision, trace) {
            decision.allow = false;
            decision.use_once.clear();
            decision.grant = None;
            if decision.reasons.is_empty() {
                decision.reasons.push(r);
            }
        }
        decision
    }

    /// Steps 1–10, in order; the first failure decides.
    fn pipeline(
        &self,
        loaded: &Loaded,
        input: DecideInput,
        decision: &mut Decision,
        trace: &mut Trace,
    ) -> Result<(), Reason> {
        let ctx = Ctx {
            bundle: &loaded.bundle,
            now: input.now,
            replay_since: input.replay_since,
            verifier: self.verifier.as_ref(),
            cache: &self.cache,
        };
        loaded.bundle.check_time(input.now)?;
        let request = Request::new(input.request).map_err(|m| reason(Code::RequestInvalid, m))?;
        let (principal, use_once) = credentials::verify(
            &ctx,
            loaded.audiences.as_deref(),
            &request,
            &input.credentials,
        )?;
        decision.principal = Some(principal.clone());
        scope::check_action(&principal.scopes, &principal.details, &request)?;
        let context = input.context.unwrap_or_default();
        let policy_input = guardrails::input(
            loaded.agent_inputs.get(&principal.agent),
            &principal,
            &request,
            &context,
            input.now,
        )?;
        let outcome = match trace {
            Trace::Off => loaded.guardrails.evaluate_owned(policy_input),
            Trace::On(slot) => {
                let (outcome, prints) = loaded
                    .guardrails
                    .evaluate_owned_with_prints(policy_input.clone());
                *slot = Some(GuardrailTrace {
                    input: policy_input,
                    prints,
                });
                outcome
            }
        }?;
        outcome.decide(&loaded.bundle.settings.decision_rule, decision)?;
        obligations::check(&decision.obligations, &input.enforces)?;
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

    /// Settles a decision document with the host's replay-store result, as [`Pending::settle`]
    /// does on the typed path: input `{"decision": {...}, "replayed": ["jti"], "store_error":
    /// false}`; returns the canonical decision document.
    #[must_use]
    pub fn apply_replay_json(&self, input: &[u8]) -> Vec<u8> {
        replay::apply_replay_json(input)
    }
}
