//! The one decision API: [`Decider`].
//!
//! [`Decider::decide`] (a decide input) and [`Decider::decide_http`] (an HTTP decide input: the
//! request as received, bound by the core's one HTTP binding) are the only public ways to a
//! decision, and both do the host's part of the pipeline the same way: every `use_once` entry of
//! an allow (a delegation's proof; a grant's own `jti` and its proof's) goes to the replay store
//! in one [`ReplayStore::record`] call, and the allow becomes a deny (`replay.detected`) when
//! any was used before, or (`replay.store_unavailable`) when the store cannot answer. A caller
//! cannot forget the replay check because there is no decision without it.
//!
//! Bundles reload atomically: [`Decider::load`] builds the new engine aside and swaps it in only
//! when its config loaded (`"ok": true`); a config that fails leaves the serving engine serving
//! and is reported as [`HostError::Load`] with the core's `bundle.*` code. (Until some config has
//! loaded, a failed one is served, so decisions deny with its code rather than `bundle.missing`.)

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};

use policy_core::reason::Code;
use policy_core::{DecideInput, HttpDecideInput, Pending, ReplayOutcome};
use serde_json::Value;

use crate::HostError;
use crate::backend::{Answer, Backend, Loaded};
use crate::decision::Decision;
use crate::replay::{ReplayStore, UseOnce};
use crate::status::LoadStatus;

/// What is serving: the engine and its load status.
#[derive(Debug)]
struct Serving {
    engine: Loaded,
    status: LoadStatus,
}

/// Decides requests with one engine (native or wasm) and one replay store. `Send + Sync`;
/// share it behind an `Arc` across threads and async tasks.
///
/// A call into the engine is synchronous CPU work (about a millisecond); in an async server,
/// that is usually fine inline, or wrap calls in `spawn_blocking` for very high rates.
#[derive(Debug)]
pub struct Decider<S> {
    backend: Backend,
    serving: Arc<RwLock<Arc<Serving>>>,
    replay: S,
}

/// Parses the decide input's `now` and `decision_id` (for the host's own denies and the
/// replay store's clock); an HTTP decide input has both at the top level too.
fn input_meta(input: &[u8]) -> (i64, String) {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        now: i64,
        #[serde(default)]
        decision_id: Option<String>,
    }
    match serde_json::from_slice::<Meta>(input) {
        Ok(m) => (m.now, m.decision_id.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

impl<S: ReplayStore> Decider<S> {
    /// A decider with nothing loaded yet (it denies with `bundle.missing` until [`Self::load`]).
    ///
    /// # Errors
    /// [`HostError::Module`] (wasm backend) when the module cannot be instantiated.
    pub fn new(backend: Backend, replay: S) -> Result<Self, HostError> {
        let (engine, status) = Loaded::load(&backend, b"{}")?;
        let serving = Serving {
            engine,
            status: LoadStatus::parse(status),
        };
        Ok(Decider {
            backend,
            serving: Arc::new(RwLock::new(Arc::new(serving))),
            replay,
        })
    }

    /// A decider that has loaded `config`.
    ///
    /// # Errors
    /// [`HostError::Load`] when the config does not load, else as [`Self::new`].
    pub fn with_config(backend: Backend, replay: S, config: &[u8]) -> Result<Self, HostError> {
        let decider = Self::new(backend, replay)?;
        decider.load(config)?;
        Ok(decider)
    }

    /// Another decider over the same engine (and its reloads), with another replay store.
    #[must_use]
    pub fn with_store<T: ReplayStore>(&self, replay: T) -> Decider<T> {
        Decider {
            backend: self.backend.clone(),
            serving: Arc::clone(&self.serving),
            replay,
        }
    }

    /// Loads a config (docs/formats.md) and swaps it in atomically when it loaded. Decisions in
    /// flight finish on the engine they started with.
    ///
    /// # Errors
    /// [`HostError::Load`] with the core's `bundle.*` code when the config did not load (the
    /// previous engine keeps serving); [`HostError::Module`] when the wasm backend cannot run.
    pub fn load(&self, config: &[u8]) -> Result<LoadStatus, HostError> {
        let (engine, status) = Loaded::load(&self.backend, config)?;
        let status = LoadStatus::parse(status);
        let mut serving = self.serving.write().unwrap_or_else(PoisonError::into_inner);
        if status.ok || !serving.status.ok {
            *serving = Arc::new(Serving {
                engine,
                status: status.clone(),
            });
        }
        drop(serving);
        match &status.error {
            None if status.ok => Ok(status),
            Some((code, message)) => Err(HostError::Load {
                code: *code,
                message: message.clone(),
            }),
            None => Err(HostError::Load {
                code: Code::BundleMalformed,
                message: "the load status is not ok".into(),
            }),
        }
    }

    /// Loads a config aside and swaps it in only when it loaded **and** the core's replacement
    /// rule ([`policy_core::may_replace`]) lets it replace what serves at `now`: not expired,
    /// valid now, not a rollback (issued before the serving bundle, or its revision with other
    /// content). The rule compares the facts both engines verified (their load statuses), so it
    /// is the same for the native engine and the module. What every host that reloads bundles
    /// from a source it polls should call; [`Self::load`] installs without the rule.
    ///
    /// # Errors
    /// [`HostError::Load`] with the refusal's `bundle.*` code (what serves keeps serving);
    /// [`HostError::Module`] when the wasm backend cannot run.
    pub fn replace(&self, config: &[u8], now: i64) -> Result<LoadStatus, HostError> {
        let (engine, status) = Loaded::load(&self.backend, config)?;
        let status = LoadStatus::parse(status);
        let refused = |r: policy_core::Reason| HostError::Load {
            code: r.code,
            message: r.message,
        };
        let next = status.facts().map_err(refused)?;
        let mut serving = self.serving.write().unwrap_or_else(PoisonError::into_inner);
        // Decided under the write lock: two replacements racing cannot both pass against the
        // same serving bundle.
        let current = serving.status.facts().ok();
        policy_core::may_replace(current.as_ref(), &next, now).map_err(refused)?;
        *serving = Arc::new(Serving {
            engine,
            status: status.clone(),
        });
        Ok(status)
    }

    /// The replay store.
    #[must_use]
    pub fn replay(&self) -> &S {
        &self.replay
    }

    /// The load status of the engine that is serving.
    #[must_use]
    pub fn status(&self) -> LoadStatus {
        self.current().status.clone()
    }

    /// Which backend runs the engine.
    #[must_use]
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn current(&self) -> Arc<Serving> {
        Arc::clone(&self.serving.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Decides one decide input (docs/formats.md), including the replay check. Never fails:
    /// anything that goes wrong is a deny with a stable code (`host.limit_exceeded`,
    /// `replay.store_unavailable`, `internal.error`).
    pub async fn decide(&self, input: &[u8]) -> Decision {
        let input = self.with_history(input);
        self.settle(&input, Loaded::decide).await
    }

    /// Decides one HTTP decide input (docs/formats.md, "HTTP decide input": `now`, the request
    /// as received under `http`, its `binding`, …), including the replay check, exactly as
    /// [`Self::decide`] does; the core binds the request (routes, credentials from the
    /// `Authorization`, `DPoP` and `Mandate-Chain` headers, the client address). Never fails, as
    /// [`Self::decide`].
    pub async fn decide_http(&self, input: &[u8]) -> Decision {
        let input = self.with_history(input);
        self.settle(&input, Loaded::decide_http).await
    }

    /// The input with the store's [`ReplayStore::remembers_since`] as its `replay_since` (the
    /// later of the two when the input names one), for a store that does not remember further
    /// back. A document the core's strict parser refuses is passed on as it came, for the
    /// core's own deny: it is never rewritten by a more lenient reading.
    fn with_history<'i>(&self, input: &'i [u8]) -> Cow<'i, [u8]> {
        use policy_core::json::parse_strict;
        use policy_core::limits::{MAX_DEPTH, MAX_INPUT_BYTES};
        if self.replay.remembers_since().is_none() {
            return Cow::Borrowed(input);
        }
        let Ok(mut doc) = parse_strict(input, MAX_INPUT_BYTES, MAX_DEPTH) else {
            return Cow::Borrowed(input);
        };
        let Some(obj) = doc.as_object_mut() else {
            return Cow::Borrowed(input);
        };
        let given = match obj.get("replay_since") {
            None => None,
            Some(v) => match v.as_i64() {
                Some(g) => Some(g),
                // Not an integer: the core's own `input.malformed`, as it came.
                None => return Cow::Borrowed(input),
            },
        };
        let since = self.history(given);
        if since == given {
            return Cow::Borrowed(input);
        }
        obj.insert("replay_since".into(), Value::from(since));
        serde_json::to_vec(&doc).map_or(Cow::Borrowed(input), Cow::Owned)
    }

    /// `replay_since` for a typed input, as [`Self::with_history`] sets it.
    fn history(&self, given: Option<i64>) -> Option<i64> {
        match (given, self.replay.remembers_since()) {
            (Some(g), Some(s)) => Some(g.max(s)),
            (g, s) => g.or(s),
        }
    }

    /// Decides a typed decide input, exactly as [`Self::decide`] decides its document. The
    /// native engine takes it as it is; the module takes its JSON.
    pub async fn decide_input(&self, input: &DecideInput) -> Decision {
        let serving = self.current();
        let id = input.decision_id.clone().unwrap_or_default();
        let since = self.history(input.replay_since);
        let answer = if since == input.replay_since {
            serving.engine.decide_input(input)
        } else {
            let mut input = input.clone();
            input.replay_since = since;
            serving.engine.decide_input(&input)
        };
        self.settle_answer(&serving, answer, input.now, &id).await
    }

    /// Decides a typed HTTP decide input, exactly as [`Self::decide_http`] decides its document:
    /// the native engine binds it as it is, with no JSON between host and core.
    pub async fn decide_http_input(&self, input: &HttpDecideInput) -> Decision {
        let serving = self.current();
        let id = input.decision_id.clone().unwrap_or_default();
        let since = self.history(input.replay_since);
        let answer = if since == input.replay_since {
            serving.engine.decide_http_input(input)
        } else {
            let mut input = input.clone();
            input.replay_since = since;
            serving.engine.decide_http_input(&input)
        };
        self.settle_answer(&serving, answer, input.now, &id).await
    }

    /// Runs `entry` on the serving engine and settles the decision against the replay store.
    async fn settle(
        &self,
        input: &[u8],
        entry: fn(&Loaded, &[u8]) -> Result<Answer, HostError>,
    ) -> Decision {
        let serving = self.current();
        let (now, decision_id) = input_meta(input);
        let answer = entry(&serving.engine, input);
        self.settle_answer(&serving, answer, now, &decision_id)
            .await
    }

    /// Settles what the engine answered against the replay store.
    async fn settle_answer(
        &self,
        serving: &Serving,
        answer: Result<Answer, HostError>,
        now: i64,
        decision_id: &str,
    ) -> Decision {
        let deny = |code: Code, message: &str| Decision::host_deny(decision_id, now, code, message);
        let raw = match answer {
            Ok(Answer::Typed(pending)) => return self.settle_typed(pending, now, deny).await,
            Ok(Answer::Document(raw)) => raw,
            Err(HostError::LimitExceeded(m)) => return deny(Code::HostLimitExceeded, &m),
            Err(e) => return deny(Code::InternalError, &e.to_string()),
        };
        let Some(decision) = Decision::from_bytes(raw) else {
            return deny(
                Code::InternalError,
                "the engine answered something that is not a decision",
            );
        };
        if !decision.is_allow() {
            return decision;
        }
        let Some(use_once) = decision.use_once_strict() else {
            return deny(
                Code::InternalError,
                "the decision's use_once list is malformed",
            );
        };
        if use_once.is_empty() {
            return decision;
        }
        // Every entry in one call: the store's all-or-nothing refusal and its replay answer then
        // cover the decision as a whole.
        let (replayed, store_error) = match self.replay.record(&use_once, now).await {
            Ok(replayed) if replayed.is_empty() => return decision,
            Ok(replayed) => (replayed, false),
            Err(_) => (Vec::new(), true),
        };
        // The core turns the allow into a deny (`replay.detected` / `replay.store_unavailable`),
        // so the result has the same shape and audit record on every host.
        let mut request = serde_json::Map::new();
        request.insert("decision".into(), decision.value().clone());
        request.insert("replayed".into(), Value::from(replayed));
        request.insert("store_error".into(), Value::Bool(store_error));
        let fallback = if store_error {
            Code::ReplayStoreUnavailable
        } else {
            Code::ReplayDetected
        };
        let Ok(body) = serde_json::to_vec(&Value::Object(request)) else {
            return deny(fallback, "could not encode the replay request");
        };
        match serving.engine.apply_replay(&body).map(Decision::from_bytes) {
            Ok(Some(d)) if !d.is_allow() => d,
            // Whatever else happened, this was a replay or an unknown: never let it through.
            Ok(_) => deny(fallback, "the engine did not turn the replay into a deny"),
            Err(HostError::LimitExceeded(m)) => deny(Code::HostLimitExceeded, &m),
            Err(e) => deny(fallback, &e.to_string()),
        }
    }

    /// The native path: the core's typed [`Pending`], its entries recorded in one call and
    /// settled by the core, with no JSON between host and core.
    async fn settle_typed(
        &self,
        pending: Pending,
        now: i64,
        deny: impl Fn(Code, &str) -> Decision,
    ) -> Decision {
        let pending = match pending.into_decision() {
            Ok(decision) => return Decision::from_core(&decision),
            Err(pending) => pending,
        };
        let use_once: Vec<UseOnce> = pending
            .use_once()
            .iter()
            .map(|u| UseOnce {
                jti: u.jti.clone(),
                exp: u.exp,
                kind: u.kind.to_owned(),
            })
            .collect();
        let outcome = match self.replay.record(&use_once, now).await {
            Ok(replayed) if replayed.is_empty() => ReplayOutcome::Recorded,
            Ok(replayed) => ReplayOutcome::Replayed(replayed),
            Err(_) => ReplayOutcome::StoreUnavailable,
        };
        let settled = pending.settle(&outcome);
        match outcome {
            // A store that reports keys it was not given is not trusted to have recorded ours.
            ReplayOutcome::Replayed(_) if settled.is_allow() => deny(
                Code::ReplayDetected,
                "the replay store answered keys this decision did not present",
            ),
            _ => Decision::from_core(&settled),
        }
    }
}
