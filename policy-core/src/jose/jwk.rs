//! EC P-256 JWKs (RFC 7517/7518) and RFC 7638 thumbprints.

use super::JoseError;
use crate::{b64, json};
use alloc::{borrow::ToOwned, string::String};
use core::fmt;
use p256::ecdsa::{SigningKey, VerifyingKey, signature::Signer as _};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A public EC P-256 key, validated to lie on the curve.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicJwk {
    kid: Option<String>,
    x: [u8; 32],
    y: [u8; 32],
    key: VerifyingKey,
    /// RFC 7638 thumbprint, computed once: decisions compare keys by it many times.
    jkt: String,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid)
            .field("jkt", &self.thumbprint())
            .finish()
    }
}

impl PublicJwk {
    /// Parses a public JWK object. Rejects private members, other curves and key types,
    /// off-curve points, and `use`/`alg`/`key_ops` that say the key is not for ES256 signing.
    ///
    /// # Errors
    /// [`JoseError::KeyInvalid`] with what is wrong.
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let obj = value
            .as_object()
            .ok_or(JoseError::KeyInvalid("not a JSON object"))?;
        if obj.contains_key("d") {
            return Err(JoseError::KeyInvalid(
                "private key material where a public key belongs",
            ));
        }
        Self::from_object(obj)
    }

    fn from_object(obj: &Map<String, Value>) -> Result<Self, JoseError> {
        let s = |k: &str| {
            json::opt_str(obj, k).map_err(|()| JoseError::KeyInvalid("member of the wrong type"))
        };
        if s("kty")? != Some("EC") {
            return Err(JoseError::KeyInvalid("kty must be EC"));
        }
        if s("crv")? != Some("P-256") {
            return Err(JoseError::KeyInvalid("crv must be P-256"));
        }
        if let Some(alg) = s("alg")?
            && alg != "ES256"
        {
            return Err(JoseError::KeyInvalid("alg must be ES256"));
        }
        if let Some(usage) = s("use")?
            && usage != "sig"
        {
            return Err(JoseError::KeyInvalid("use must be sig"));
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops
                .as_array()
                .ok_or(JoseError::KeyInvalid("key_ops must be an array"))?;
            if !ops
                .iter()
                .any(|o| o.as_str() == Some("verify") || o.as_str() == Some("sign"))
            {
                return Err(JoseError::KeyInvalid("key_ops does not allow signing"));
            }
        }
        let x = s("x")?
            .and_then(b64::decode_array::<32>)
            .ok_or(JoseError::KeyInvalid("x must be 32 bytes of base64url"))?;
        let y = s("y")?
            .and_then(b64::decode_array::<32>)
            .ok_or(JoseError::KeyInvalid("y must be 32 bytes of base64url"))?;
        let kid = s("kid")?.map(ToOwned::to_owned);
        Self::from_coordinates(x, y, kid)
    }

    fn from_coordinates(x: [u8; 32], y: [u8; 32], kid: Option<String>) -> Result<Self, JoseError> {
        let mut sec1 = [4u8; 65];
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1)
            .map_err(|_| JoseError::KeyInvalid("point is not on P-256"))?;
        Ok(PublicJwk {
            jkt: thumbprint_of(&x, &y),
            kid,
            x,
            y,
            key,
        })
    }

    /// Builds a key from a SEC1 encoded point (compressed or uncompressed), e.g. Wycheproof's.
    ///
    /// # Errors
    /// [`JoseError::KeyInvalid`] when the point is not on P-256.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, JoseError> {
        let key = VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| JoseError::KeyInvalid("point is not on P-256"))?;
        Ok(Self::from_verifying_key(key, None))
    }

    fn from_verifying_key(key: VerifyingKey, kid: Option<String>) -> Self {
        let point = key.to_sec1_point(false);
        let bytes = point.as_bytes();
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        if let (Some(xs), Some(ys)) = (bytes.get(1..33), bytes.get(33..65)) {
            x.copy_from_slice(xs);
            y.copy_from_slice(ys);
        }
        PublicJwk {
            jkt: thumbprint_of(&x, &y),
            kid,
            x,
            y,
            key,
        }
    }

    /// The `kid`, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The uncompressed SEC1 point (`04 || x || y`), for host verifiers (ring, WebCrypto).
    #[must_use]
    pub fn sec1_uncompressed(&self) -> [u8; 65] {
        let mut out = [4u8; 65];
        if let Some(x) = out.get_mut(1..33) {
            x.copy_from_slice(&self.x);
        }
        if let Some(y) = out.get_mut(33..65) {
            y.copy_from_slice(&self.y);
        }
        out
    }

    /// The same key with another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.kid = kid;
        self
    }

    /// The RFC 7638 thumbprint: base64url SHA-256 of the required members in lexicographic order.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        self.jkt.clone()
    }

    /// The thumbprint, borrowed.
    #[must_use]
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    fn required_members(&self) -> Value {
        required_members(&self.x, &self.y)
    }

    /// True when both are the same point (`kid` ignored).
    #[must_use]
    pub fn same_key(&self, other: &PublicJwk) -> bool {
        self.x == other.x && self.y == other.y
    }

    /// The JWK object, with `kid` when set.
    #[must_use]
    pub fn to_json_value(&self) -> Value {
        let mut v = self.required_members();
        if let (Some(kid), Some(obj)) = (&self.kid, v.as_object_mut()) {
            obj.insert("kid".to_owned(), Value::String(kid.clone()));
        }
        v
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

fn required_members(x: &[u8; 32], y: &[u8; 32]) -> Value {
    json!({"crv": "P-256", "kty": "EC", "x": b64::encode(x), "y": b64::encode(y)})
}

/// RFC 7638: base64url SHA-256 of the required members, canonical (lexicographic) JSON.
fn thumbprint_of(x: &[u8; 32], y: &[u8; 32]) -> String {
    b64::encode(&Sha256::digest(
        json::canonical(&required_members(x, y)).as_bytes(),
    ))
}

/// A P-256 private key. Signing is RFC 6979 deterministic, so minting is reproducible.
#[derive(Clone)]
pub struct PrivateJwk {
    public: PublicJwk,
    signing: SigningKey,
}

impl fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PrivateJwk {
    /// A key from 32 secret bytes the host supplies (its randomness, or a fixed seed in tests).
    ///
    /// # Errors
    /// [`JoseError::KeyInvalid`] when the bytes are zero or not below the curve order.
    pub fn from_scalar_bytes(d: &[u8; 32]) -> Result<Self, JoseError> {
        let signing = SigningKey::from_slice(d)
            .map_err(|_| JoseError::KeyInvalid("d is not a valid P-256 scalar"))?;
        let public = PublicJwk::from_verifying_key(*signing.verifying_key(), None);
        Ok(PrivateJwk { public, signing })
    }

    /// Parses a private JWK; `d` must match `x` and `y`.
    ///
    /// # Errors
    /// [`JoseError::KeyInvalid`] with what is wrong.
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let obj = value
            .as_object()
            .ok_or(JoseError::KeyInvalid("not a JSON object"))?;
        let public = PublicJwk::from_object(obj)?;
        let d = json::opt_str(obj, "d")
            .ok()
            .flatten()
            .and_then(b64::decode_array::<32>)
            .ok_or(JoseError::KeyInvalid("d must be 32 bytes of base64url"))?;
        let key = Self::from_scalar_bytes(&d)?;
        if !key.public.same_key(&public) {
            return Err(JoseError::KeyInvalid("d does not match x and y"));
        }
        Ok(key.with_kid(public.kid))
    }

    /// The same key with another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: Option<String>) -> Self {
        self.public.kid = kid;
        self
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The JWK object including `d`. Handle with care.
    #[must_use]
    pub fn to_json_value(&self) -> Value {
        let mut v = self.public.to_json_value();
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "d".to_owned(),
                Value::String(b64::encode(&self.signing.to_bytes())),
            );
        }
        v
    }

    /// ES256 over `message`, in P1363 form.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let sig: p256::ecdsa::Signature = self.signing.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_style_thumbprint_is_stable_and_kid_free() {
        let k = PrivateJwk::from_scalar_bytes(&[7u8; 32]).unwrap_or_else(|_| unreachable!());
        let with = k.public().clone().with_kid(Some("a".into()));
        assert_eq!(with.thumbprint(), k.public().thumbprint());
        let round = PublicJwk::from_value(&with.to_json_value()).unwrap_or_else(|_| unreachable!());
        assert!(round.same_key(k.public()));
        assert_eq!(round.kid(), Some("a"));
        let private = PrivateJwk::from_value(&k.to_json_value()).unwrap_or_else(|_| unreachable!());
        assert!(private.public().same_key(k.public()));
        assert!(
            PublicJwk::from_value(&k.to_json_value()).is_err(),
            "public parse refuses d"
        );
    }

    #[test]
    fn rejects_other_curves_and_bad_points() {
        let bad = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
        assert!(PublicJwk::from_value(&bad).is_err());
        let off = json!({"kty": "EC", "crv": "P-256", "x": b64::encode(&[1; 32]), "y": b64::encode(&[1; 32])});
        assert_eq!(
            PublicJwk::from_value(&off),
            Err(JoseError::KeyInvalid("point is not on P-256"))
        );
        let oct = json!({"kty": "oct", "k": "AAAA"});
        assert!(PublicJwk::from_value(&oct).is_err());
    }
}
