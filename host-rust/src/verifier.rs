//! A faster native ES256 verifier: ring's P-256 (assembly field arithmetic), about five times
//! the portable `p256` crate's speed. The core's `Es256Verifier` trait is the seam; decisions do
//! not change (the conformance vectors and Wycheproof's P-256 vectors, `acceptable` cases
//! included, are held to the same verdicts as `p256` in `tests/verifier.rs`).

use policy_core::jose::{Es256Verifier, PublicJwk};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

/// ES256 through ring.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingVerifier;

impl Es256Verifier for RingVerifier {
    fn verify(&self, key: &PublicJwk, message: &[u8], signature: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.sec1_uncompressed())
            .verify(message, signature)
            .is_ok()
    }
}
