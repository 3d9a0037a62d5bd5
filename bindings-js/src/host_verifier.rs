//! ES256 verification answered by the JS host (see `npm/src/verifier.js`).

use policy_core::{Es256Verifier, PublicJwk};
use wasm_bindgen::prelude::wasm_bindgen;

// `raw_module` keeps the specifier as written, so the glue (npm/wasm/mandate_js.js) imports the
// package's own npm/src/verifier.js: the same module instance the entry points register with.
#[wasm_bindgen(raw_module = "../src/verifier.js")]
extern "C" {
    /// Never throws (the JS side catches and answers false).
    #[wasm_bindgen(js_name = hostVerifyEs256)]
    fn host_verify_es256(x: &str, y: &str, message: &[u8], signature: &[u8]) -> bool;
}

/// Verifies through the host's registered verifier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostVerifier;

impl Es256Verifier for HostVerifier {
    fn verify(&self, key: &PublicJwk, message: &[u8], signature: &[u8; 64]) -> bool {
        let jwk = key.to_json_value();
        match (
            jwk.get("x").and_then(|v| v.as_str()),
            jwk.get("y").and_then(|v| v.as_str()),
        ) {
            (Some(x), Some(y)) => host_verify_es256(x, y, message, signature),
            _ => false,
        }
    }
}
