//! wasm-bindgen surface of Mandate's decision engine, packaged on npm as `mandate-pdp`.
//!
//! Every export is a one-line wrapper over a `mandate_core` JSON entry point: UTF-8 JSON bytes in,
//! canonical JSON bytes out. Nothing crosses the boundary as an object walk, and no decision logic
//! lives here or in the JS around it (see `bindings-js/npm/src`).
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use wasm_bindgen::prelude::wasm_bindgen;

/// A loaded decision point: one verified bundle, ready to decide.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Pdp {
    inner: mandate_core::Pdp,
}

#[wasm_bindgen]
impl Pdp {
    /// Loads a load config (docs/formats.md). Never fails: a bad config gives an engine that
    /// denies every decision with the load error's `bundle.*` code.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &[u8]) -> Pdp {
        Pdp { inner: mandate_core::Pdp::load(config) }
    }

    /// The load status JSON.
    pub fn status(&self) -> Vec<u8> {
        self.inner.status_json()
    }

    /// Decides one decide input (JSON bytes) and returns the canonical decision JSON bytes.
    pub fn decide(&self, input: &[u8]) -> Vec<u8> {
        self.inner.decide_json(input)
    }

    /// Turns a decision into a `replay.detected` deny for the `jti`s the host's store already held.
    #[wasm_bindgen(js_name = applyReplay)]
    pub fn apply_replay(&self, input: &[u8]) -> Vec<u8> {
        self.inner.apply_replay_json(input)
    }
}

/// Mints a token (bundle, delegation, sub-delegation or proof) with a supplied private JWK.
#[wasm_bindgen]
pub fn mint(input: &[u8]) -> Vec<u8> {
    mandate_core::mint::mint_json(input)
}
