//! The JOSE layer: strict, ES256 only, hand-written on `p256` so it stays `no_std`.
//!
//! The algorithm is fixed by the key type (a P-256 key only ever verifies ES256); a token's
//! header can only fail to agree with it, never choose it.

pub mod jwk;
pub mod jws;
pub mod verify;

pub use jwk::{PrivateJwk, PublicJwk};
pub use jws::{Unverified, Verified, sign, typ_matches, verify_compact};
pub use verify::{Es256Verifier, P256Verifier};

/// Why a JOSE object was rejected. Callers map it to a reason code for the token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Over the size cap.
    #[error("too large")]
    TooLarge,
    /// Not compact serialization, bad base64url, or not a JSON object.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is anything but ES256 (including `none` and HS256).
    #[error("alg must be ES256")]
    AlgNotAllowed,
    /// A forbidden or ill-typed header member.
    #[error("header: {0}")]
    HeaderInvalid(&'static str),
    /// The signature does not verify (or is not 64 bytes).
    #[error("signature does not verify")]
    SignatureInvalid,
    /// A JWK that is not an EC P-256 key of the expected kind.
    #[error("key: {0}")]
    KeyInvalid(&'static str),
}
