//! Signature verification behind a trait, so a host can plug in a faster backend
//! (WebCrypto, ring) while `p256` stays the portable default. Every backend must agree on
//! Wycheproof's P-256 vectors (see `tests/wycheproof.rs`).

use super::PublicJwk;
use p256::ecdsa::{Signature, signature::Verifier as _};

/// Verifies ES256 (ECDSA P-256 with SHA-256, signature in IEEE P1363 `r || s` form).
pub trait Es256Verifier: Send + Sync {
    /// True when `signature` over `message` verifies under `key`.
    fn verify(&self, key: &PublicJwk, message: &[u8], signature: &[u8; 64]) -> bool;
}

/// The portable pure-Rust verifier.
#[derive(Debug, Default, Clone, Copy)]
pub struct P256Verifier;

impl Es256Verifier for P256Verifier {
    fn verify(&self, key: &PublicJwk, message: &[u8], signature: &[u8; 64]) -> bool {
        match Signature::from_slice(signature) {
            Ok(sig) => key.verifying_key().verify(message, &sig).is_ok(),
            Err(_) => false,
        }
    }
}
