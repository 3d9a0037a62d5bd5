//! wasm-bindgen surface of Mandate's decision engine, packaged on npm as `mandate-pdp`.
//!
//! Every export is a one-line wrapper over a `policy_core` JSON entry point: UTF-8 JSON bytes in,
//! canonical JSON bytes out. Nothing crosses the boundary as an object walk, and no decision logic
//! lives here or in the JS around it (see `bindings-js/npm/src`).
//!
//! The one host hook is signature verification: ES256 through the core's `Es256Verifier` trait,
//! answered by the host (node:crypto on Node, ~10x faster than `p256` in wasm) when the JS side
//! registers a verifier, else by the portable `p256` verifier. Both give the same verdicts on
//! Wycheproof's ECDSA P-256 P1363 vectors (bindings-js/test/verifier.test.js).
#![no_std]

extern crate alloc;

mod host_verifier;

use alloc::vec::Vec;
use policy_core::{Es256Verifier, P256Verifier, PublicJwk};
use wasm_bindgen::prelude::wasm_bindgen;

/// A loaded decision point: one verified bundle, ready to decide.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Pdp {
    inner: policy_core::Pdp,
}

#[wasm_bindgen]
impl Pdp {
    /// Loads a load config (docs/formats.md). Never fails: a bad config gives an engine that
    /// denies every decision with the load error's `bundle.*` code. `host_verifier` selects the
    /// verifier the JS side registered instead of the portable one.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &[u8], host_verifier: bool) -> Pdp {
        let inner = if host_verifier {
            policy_core::Pdp::load_json_with_verifier(
                config,
                alloc::boxed::Box::new(host_verifier::HostVerifier),
            )
        } else {
            policy_core::Pdp::load_json(config)
        };
        Pdp { inner }
    }

    /// The load status JSON.
    pub fn status(&self) -> Vec<u8> {
        self.inner.status_json()
    }

    /// Decides one decide input (JSON bytes) and returns the canonical decision JSON bytes.
    pub fn decide(&self, input: &[u8]) -> Vec<u8> {
        self.inner.decide_json(input)
    }

    /// Decides one HTTP decide input (JSON bytes: the request as the host received it, its
    /// binding and `enforces`) through the core's shared HTTP binding; returns the canonical
    /// decision JSON bytes.
    #[wasm_bindgen(js_name = decideHttp)]
    pub fn decide_http(&self, input: &[u8]) -> Vec<u8> {
        self.inner.decide_http_json(input)
    }
}

/// Turns a decision into a `replay.detected` (or `replay.store_unavailable`) deny: input
/// `{"decision": {...}, "replayed": ["jti"], "store_error": false}`. Needs no engine: a decision
/// is settled the same whichever bundle decided it.
#[wasm_bindgen(js_name = applyReplay)]
pub fn apply_replay(input: &[u8]) -> Vec<u8> {
    policy_core::apply_replay_json(input)
}

/// May the engine whose load status is `next` replace the one whose status is `serving`
/// (`None`: nothing serves) at `now`? The core's replacement rule on the two verified bundles
/// (`policy_core::may_replace_json`): `{"ok":true}`, or the refusal as a failed load status
/// (`bundle.expired`, `bundle.not_yet_valid`, `bundle.rollback`, or `next`'s own load error).
/// `now` is Unix seconds; anything but a whole number there is refused as `bundle.malformed`.
#[wasm_bindgen(js_name = mayReplace)]
pub fn may_replace(serving: Option<Vec<u8>>, next: &[u8], now: f64) -> Vec<u8> {
    match whole_seconds(now) {
        Some(now) => policy_core::may_replace_json(serving.as_deref(), next, now),
        None => policy_core::refusal_json(&policy_core::Reason::new(
            policy_core::Code::BundleMalformed,
            "now must be whole Unix seconds",
        )),
    }
}

/// `now` as whole seconds, when it is one within JS's safe integers.
fn whole_seconds(now: f64) -> Option<i64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    #[allow(clippy::cast_possible_truncation)]
    (now.is_finite() && now.fract() == 0.0 && now.abs() <= MAX_SAFE).then_some(now as i64)
}

/// Mints a token (bundle, delegation, sub-delegation or proof) with a supplied private JWK.
#[wasm_bindgen]
pub fn mint(input: &[u8]) -> Vec<u8> {
    policy_core::mint::mint_json(input)
}

/// The portable verifier's verdict on one ES256 signature (`key` as SEC1 bytes), for the
/// differential test against the host verifier.
#[wasm_bindgen(js_name = verifyEs256Portable)]
pub fn verify_es256_portable(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match (PublicJwk::from_sec1(key), <[u8; 64]>::try_from(signature)) {
        (Ok(key), Ok(sig)) => P256Verifier.verify(&key, message, &sig),
        _ => false,
    }
}
