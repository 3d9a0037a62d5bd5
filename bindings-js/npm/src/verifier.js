// The host side of ES256 verification (bindings-js/src/host_verifier.rs). An entry point that has
// a synchronous verifier faster than the module's portable one registers it here; decision points
// then use it (Pdp.load's `verifier` option). WebCrypto's verify is asynchronous, so browsers and
// Workers keep the portable verifier.

let impl = null;

/** Registers `fn(x, y, message, signature) -> boolean` (x, y: base64url P-256 coordinates). */
export function setEs256Verifier(fn) {
  impl = fn;
}

export function hasHostVerifier() {
  return impl !== null;
}

/** Called from the module. Never throws: an exception inside wasm would skip Rust's cleanup. */
export function hostVerifyEs256(x, y, message, signature) {
  if (impl === null) return false;
  try {
    return impl(x, y, message, signature) === true;
  } catch {
    return false;
  }
}
