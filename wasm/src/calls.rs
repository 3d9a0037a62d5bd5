//! The call layer behind the exports: bytes in, bytes out, over the engine that is serving.
//!
//! Kept apart from the `extern "C"` exports so native tests can drive exactly what the module
//! runs. Nothing here interprets a decision; it only keeps the serving engine and forwards.

use std::sync::{Mutex, PoisonError};

use policy_core::Pdp;

/// The engine that is serving, once anything was loaded (or a decision asked for one).
static ENGINE: Mutex<Option<Pdp>> = Mutex::new(None);

fn with_engine<R>(f: impl FnOnce(&mut Pdp) -> R) -> R {
    let mut guard = ENGINE.lock().unwrap_or_else(PoisonError::into_inner);
    let pdp = guard.get_or_insert_with(|| Pdp::load_json(b"{}"));
    f(pdp)
}

/// Whether a load status document says `"ok": true`.
fn status_ok(status: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(status)
        .ok()
        .and_then(|v| v.get("ok").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// Loads a config. The new engine replaces the serving one when it loaded (`"ok": true`), or
/// when the serving one never did (so its denials carry the latest load error); otherwise the
/// serving engine stays. Answers the new config's load status.
#[must_use]
pub fn load(config: &[u8]) -> Vec<u8> {
    let next = Pdp::load_json(config);
    let status = next.status_json();
    let next_ok = status_ok(&status);
    let mut guard = ENGINE.lock().unwrap_or_else(PoisonError::into_inner);
    let serving_ok = guard.as_ref().is_some_and(|p| status_ok(&p.status_json()));
    if next_ok || !serving_ok {
        *guard = Some(next);
    }
    status
}

/// Loads a config aside and installs it only when the core's replacement rule lets it replace
/// the serving engine at `now` ([`Pdp::may_replace`]: it loaded, it is valid now, it is not a
/// rollback of what serves). Answers the new config's load status when it was installed, else
/// the refusal as a failed load status; what serves keeps serving. What a host that reloads
/// bundles from a source it polls calls instead of [`load`].
#[must_use]
pub fn replace(config: &[u8], now: i64) -> Vec<u8> {
    let next = Pdp::load_json(config);
    let mut guard = ENGINE.lock().unwrap_or_else(PoisonError::into_inner);
    // Decided under the lock: two replacements cannot both pass against the same engine.
    let serving = guard
        .as_ref()
        .and_then(|p| p.status().ok())
        .map(policy_core::bundle::Bundle::facts);
    match next.may_replace(serving.as_ref(), now) {
        Ok(()) => {
            let status = next.status_json();
            *guard = Some(next);
            status
        }
        Err(refused) => policy_core::refusal_json(&refused),
    }
}

/// The load status of the serving engine.
#[must_use]
pub fn status() -> Vec<u8> {
    with_engine(|pdp| pdp.status_json())
}

/// Decides one decide input with the serving engine.
#[must_use]
pub fn decide(input: &[u8]) -> Vec<u8> {
    with_engine(|pdp| pdp.decide_json(input))
}

/// Decides one HTTP decide input (the request as the host received it, bound by the core's one
/// HTTP binding) with the serving engine.
#[must_use]
pub fn decide_http(input: &[u8]) -> Vec<u8> {
    with_engine(|pdp| pdp.decide_http_json(input))
}

/// Turns a decision into a `replay.detected` deny for the replayed `jti`s.
#[must_use]
pub fn apply_replay(input: &[u8]) -> Vec<u8> {
    with_engine(|pdp| pdp.apply_replay_json(input))
}

/// Mints a token with a supplied private key (the core's `mint_json`).
#[must_use]
pub fn mint(input: &[u8]) -> Vec<u8> {
    policy_core::mint::mint_json(input)
}

/// The answer for a `(ptr, len)` pair that names no live buffer.
#[must_use]
pub fn invalid_buffer() -> Vec<u8> {
    let doc = serde_json::json!({"error": {
        "code": policy_core::Code::AbiInvalidBuffer.as_str(),
        "message": "the pointer and length do not name a live buffer from mandate_alloc",
    }});
    policy_core::json::canonical(&doc).into_bytes()
}
