//! Compact JWS (RFC 7515), ES256 only.
//!
//! Parsing is separate from verification, in the types: [`Unverified`] shows the header only;
//! [`Unverified::verify`] turns it into a [`Verified`], the only value whose claims can be read.
//! The caller resolves the key from trusted configuration — never from the token.

use super::{Es256Verifier, JoseError, PrivateJwk, PublicJwk};
use crate::{b64, json};
use alloc::{borrow::ToOwned, string::String};
use serde_json::{Map, Value};

/// Header members that would let a token choose its own key or change how it is processed.
const FORBIDDEN_HEADER: &[(&str, &str)] = &[
    ("crit", "crit is not supported"),
    ("jku", "jku (remote key) is not accepted"),
    ("x5u", "x5u (remote certificate) is not accepted"),
    ("x5c", "x5c (embedded certificate) is not accepted"),
    ("x5t", "x5t is not accepted"),
    ("x5t#S256", "x5t#S256 is not accepted"),
    ("b64", "b64 (unencoded payload) is not supported"),
    ("zip", "zip is not supported"),
    ("enc", "enc (JWE) is not supported"),
    ("cty", "cty (nested token) is not supported"),
];

const HEADER_MAX_DEPTH: usize = 4;
const PAYLOAD_MAX_DEPTH: usize = 16;

/// A parsed compact JWS whose signature has not been checked.
///
/// It shows only the protected header — what a caller needs to choose a key (`typ`, `kid`, and
/// for DPoP the `jwk`) — and has no accessor for the payload: the only way to the claims is
/// [`Unverified::verify`], which consumes it and returns a [`Verified`].
///
/// ```compile_fail,E0599
/// use policy_core::jose::Unverified;
/// fn peek(token: &str) {
///     let jws = Unverified::parse(token, 8192, false).unwrap();
///     // error[E0599]: an unverified JWS has no claims to read
///     let _ = jws.claims();
/// }
/// ```
///
/// ```compile_fail,E0599
/// use policy_core::jose::Unverified;
/// fn peek(token: &str) {
///     let jws = Unverified::parse(token, 8192, false).unwrap();
///     // error[E0599]: nor can it be turned into claims without a key
///     let _ = jws.into_claims();
/// }
/// ```
///
/// ```
/// use policy_core::jose::{P256Verifier, PrivateJwk, Unverified, sign};
/// let key = PrivateJwk::from_scalar_bytes(&[9u8; 32]).unwrap();
/// let token = sign(&Default::default(), &serde_json::json!({"sub": "alice"}), &key);
/// let jws = Unverified::parse(&token, 8192, false).unwrap();
/// let verified = jws.verify(key.public(), &P256Verifier).unwrap();
/// assert_eq!(verified.claims()["sub"], "alice");
/// ```
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    header: Map<String, Value>,
    payload: Map<String, Value>,
    embedded_key: Option<PublicJwk>,
    signing_input: &'a str,
    signature: [u8; 64],
}

/// A JWS whose signature verified under the key the caller chose: its claims are authentic.
/// Only [`Unverified::verify`] makes one.
#[derive(Debug, Clone)]
pub struct Verified {
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl<'a> Unverified<'a> {
    /// Parses `token`, rejecting anything but a strict ES256 compact JWS with a JSON-object
    /// payload (duplicate members refused, size and depth capped). `allow_jwk` admits a `jwk`
    /// header member (only DPoP proofs carry one).
    ///
    /// # Errors
    /// [`JoseError`] naming the first problem.
    pub fn parse(token: &'a str, max_len: usize, allow_jwk: bool) -> Result<Self, JoseError> {
        let raw = RawJws::parse(token, max_len, allow_jwk)?;
        let payload = match json::parse_strict(&raw.payload, raw.payload.len(), PAYLOAD_MAX_DEPTH) {
            Ok(Value::Object(map)) => map,
            _ => return Err(JoseError::Malformed("payload is not a JSON object")),
        };
        Ok(Unverified {
            header: raw.header,
            payload,
            embedded_key: raw.embedded_key,
            signing_input: raw.signing_input,
            signature: raw.signature,
        })
    }

    /// The header's `typ`, if any.
    #[must_use]
    pub fn typ(&self) -> Option<&str> {
        header_str(&self.header, "typ")
    }

    /// The header's `kid`, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        header_str(&self.header, "kid")
    }

    /// The `jwk` header member (DPoP proofs only).
    #[must_use]
    pub fn embedded_key(&self) -> Option<&PublicJwk> {
        self.embedded_key.as_ref()
    }

    /// The protected header. Unauthenticated until [`Unverified::verify`] succeeds.
    #[must_use]
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// Verifies the signature under `key`; only then are the claims readable.
    ///
    /// # Errors
    /// [`JoseError::SignatureInvalid`].
    pub fn verify(
        self,
        key: &PublicJwk,
        verifier: &dyn Es256Verifier,
    ) -> Result<Verified, JoseError> {
        if verifier.verify(key, self.signing_input.as_bytes(), &self.signature) {
            Ok(Verified {
                header: self.header,
                claims: self.payload,
            })
        } else {
            Err(JoseError::SignatureInvalid)
        }
    }

    /// The claims a verifier must read before it has a key, and nothing else (see [`Hints`]).
    #[must_use]
    pub(crate) fn hints(&self) -> Hints<'_> {
        Hints(&self.payload)
    }

    /// The bytes that were signed and the signature; used as a verification-cache key.
    #[must_use]
    pub(crate) fn signed_parts(&self) -> (&str, &[u8; 64]) {
        (self.signing_input, &self.signature)
    }
}

/// The two claims Mandate reads before a signature is checked, because they say which key to
/// check it with or fail the token on grounds that do not depend on it: `iss` names the issuer
/// whose keys are tried (RFC 7519 §4.1.1; for a hop, it must be the previous agent) and a hop's
/// `parent` must hash the previous token. Everything else waits for [`Verified`]. Crate-private:
/// outside this crate an unverified payload cannot be read at all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hints<'p>(&'p Map<String, Value>);

impl<'p> Hints<'p> {
    /// `iss` as a non-empty string; `Err(())` when missing or of another type.
    pub(crate) fn iss(&self) -> Result<&'p str, ()> {
        non_empty_str(self.0, "iss")
    }

    /// `parent` as a non-empty string; `Err(())` when missing or of another type.
    pub(crate) fn parent(&self) -> Result<&'p str, ()> {
        non_empty_str(self.0, "parent")
    }
}

fn non_empty_str<'p>(m: &'p Map<String, Value>, name: &str) -> Result<&'p str, ()> {
    match m.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(()),
    }
}

fn header_str<'h>(header: &'h Map<String, Value>, name: &str) -> Option<&'h str> {
    header.get(name).and_then(Value::as_str)
}

impl Verified {
    /// The header's `typ`, if any.
    #[must_use]
    pub fn typ(&self) -> Option<&str> {
        header_str(&self.header, "typ")
    }

    /// The header's `kid`, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        header_str(&self.header, "kid")
    }

    /// The protected header.
    #[must_use]
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The authenticated claims.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The authenticated claims, by value.
    #[must_use]
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// Deserializes the authenticated claims into a typed struct, once.
    ///
    /// # Errors
    /// serde's error when the claims do not have `T`'s shape.
    pub fn deserialize<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.claims))
    }
}

/// A compact JWS with an arbitrary payload: the JWS layer alone (RFC 7515), before any JWT rules.
struct RawJws<'a> {
    header: Map<String, Value>,
    payload: alloc::vec::Vec<u8>,
    embedded_key: Option<PublicJwk>,
    signing_input: &'a str,
    signature: [u8; 64],
}

impl<'a> RawJws<'a> {
    fn parse(token: &'a str, max_len: usize, allow_jwk: bool) -> Result<Self, JoseError> {
        if token.len() > max_len {
            return Err(JoseError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed("not three dot-separated parts"));
        };
        let header = decode_object(h, HEADER_MAX_DEPTH).ok_or(JoseError::Malformed(
            "header is not a base64url JSON object",
        ))?;
        match header.get("alg") {
            Some(Value::String(alg)) if alg == "ES256" => {}
            _ => return Err(JoseError::AlgNotAllowed),
        }
        for (member, why) in FORBIDDEN_HEADER {
            if header.contains_key(*member) {
                return Err(JoseError::HeaderInvalid(why));
            }
        }
        for member in ["typ", "kid"] {
            if header.get(member).is_some_and(|v| !v.is_string()) {
                return Err(JoseError::HeaderInvalid("typ and kid must be strings"));
            }
        }
        let embedded_key = match header.get("jwk") {
            None => None,
            Some(_) if !allow_jwk => {
                return Err(JoseError::HeaderInvalid(
                    "jwk (embedded key) is not accepted",
                ));
            }
            Some(v) => Some(
                PublicJwk::from_value(v)
                    .map_err(|_| JoseError::HeaderInvalid("jwk is not a public P-256 key"))?,
            ),
        };
        let payload = b64::decode(p).ok_or(JoseError::Malformed("payload is not base64url"))?;
        let sig = b64::decode(s).ok_or(JoseError::Malformed("signature is not base64url"))?;
        let signature: [u8; 64] = sig.try_into().map_err(|_| JoseError::SignatureInvalid)?;
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(JoseError::Malformed("truncated"))?;
        Ok(RawJws {
            header,
            payload,
            embedded_key,
            signing_input,
            signature,
        })
    }
}

/// Verifies a compact JWS whose payload may be any bytes (the JWS layer alone, as Wycheproof's
/// JWS vectors exercise it) and returns the payload. Mandate's tokens go through [`Unverified::parse`].
///
/// # Errors
/// [`JoseError`] naming the first problem.
pub fn verify_compact(
    token: &str,
    max_len: usize,
    key: &PublicJwk,
    verifier: &dyn Es256Verifier,
) -> Result<alloc::vec::Vec<u8>, JoseError> {
    let raw = RawJws::parse(token, max_len, false)?;
    if verifier.verify(key, raw.signing_input.as_bytes(), &raw.signature) {
        Ok(raw.payload)
    } else {
        Err(JoseError::SignatureInvalid)
    }
}

fn decode_object(part: &str, max_depth: usize) -> Option<Map<String, Value>> {
    let bytes = b64::decode(part)?;
    match json::parse_strict(&bytes, bytes.len(), max_depth).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Signs `claims` with `key`. The header gets `alg: ES256` and, when the key has one, its `kid`;
/// `extra_header` adds members such as `typ` or a DPoP `jwk`. Header and payload are canonical
/// JSON, so the same inputs always give the same token.
#[must_use]
pub fn sign(extra_header: &Map<String, Value>, claims: &Value, key: &PrivateJwk) -> String {
    let mut header = extra_header.clone();
    header.insert("alg".to_owned(), Value::String("ES256".to_owned()));
    if let Some(kid) = key.public().kid() {
        header
            .entry("kid")
            .or_insert_with(|| Value::String(kid.to_owned()));
    }
    let mut out = b64::encode(json::canonical(&Value::Object(header)).as_bytes());
    out.push('.');
    out.push_str(&b64::encode(json::canonical(claims).as_bytes()));
    let signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&b64::encode(&signature));
    out
}

/// Compares a `typ` header with the expected media type as RFC 7515 §4.1.9 says: case-insensitive,
/// with the `application/` prefix optional.
#[must_use]
pub fn typ_matches(typ: Option<&str>, expected: &str) -> bool {
    fn short(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => {
                t.get(12..).unwrap_or("")
            }
            _ => t,
        }
    }
    typ.is_some_and(|t| short(t).eq_ignore_ascii_case(short(expected)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::P256Verifier;
    use serde_json::json;

    fn key() -> PrivateJwk {
        PrivateJwk::from_scalar_bytes(&[9u8; 32])
            .unwrap_or_else(|_| unreachable!())
            .with_kid(Some("k1".into()))
    }

    fn header(typ: &str) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("typ".into(), json!(typ));
        h
    }

    #[test]
    fn sign_then_verify_and_flip() {
        let k = key();
        let t = sign(&header("at+jwt"), &json!({"sub": "alice"}), &k);
        let jws = Unverified::parse(&t, 4096, false).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(jws.kid(), Some("k1"));
        let other = PrivateJwk::from_scalar_bytes(&[8u8; 32]).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            jws.clone().verify(other.public(), &P256Verifier).err(),
            Some(JoseError::SignatureInvalid)
        );
        let verified = jws
            .verify(k.public(), &P256Verifier)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(verified.claims().get("sub"), Some(&json!("alice")));
        assert_eq!(verified.kid(), Some("k1"));
        assert_eq!(
            sign(&header("at+jwt"), &json!({"sub": "alice"}), &k),
            t,
            "RFC 6979 is deterministic"
        );
    }

    fn forge(header: Value) -> String {
        let h = b64::encode(json::canonical(&header).as_bytes());
        let p = b64::encode(b"{}");
        let s = b64::encode(&[0u8; 64]);
        alloc::format!("{h}.{p}.{s}")
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            Unverified::parse(&forge(json!({"alg": "none"})), 4096, false).err(),
            Some(JoseError::AlgNotAllowed)
        );
        assert_eq!(
            Unverified::parse(&forge(json!({"alg": "HS256"})), 4096, false).err(),
            Some(JoseError::AlgNotAllowed)
        );
        assert_eq!(
            Unverified::parse(&forge(json!({})), 4096, false).err(),
            Some(JoseError::AlgNotAllowed)
        );
        assert!(matches!(
            Unverified::parse(
                &forge(json!({"alg": "ES256", "crit": ["exp"]})),
                4096,
                false
            ),
            Err(JoseError::HeaderInvalid(_))
        ));
        assert!(matches!(
            Unverified::parse(
                &forge(json!({"alg": "ES256", "jku": "https://x"})),
                4096,
                false
            ),
            Err(JoseError::HeaderInvalid(_))
        ));
        let jwk = key().public().to_json_value();
        assert!(matches!(
            Unverified::parse(&forge(json!({"alg": "ES256", "jwk": jwk})), 4096, false),
            Err(JoseError::HeaderInvalid(_))
        ));
        assert!(Unverified::parse(&forge(json!({"alg": "ES256", "jwk": jwk})), 4096, true).is_ok());
        assert_eq!(
            Unverified::parse(&forge(json!({"alg": "ES256"})), 10, false).err(),
            Some(JoseError::TooLarge)
        );
        assert!(matches!(
            Unverified::parse("a.b", 4096, false),
            Err(JoseError::Malformed(_))
        ));
        assert!(matches!(
            Unverified::parse("a.b.c.d", 4096, false),
            Err(JoseError::Malformed(_))
        ));
    }

    #[test]
    fn hints_are_iss_and_parent_only() {
        let h = b64::encode(br#"{"alg":"ES256"}"#);
        let p = b64::encode(br#"{"iss":"a","parent":"","sub":"s"}"#);
        let s = b64::encode(&[0u8; 64]);
        let t = alloc::format!("{h}.{p}.{s}");
        let jws = Unverified::parse(&t, 4096, false).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(jws.hints().iss(), Ok("a"));
        assert_eq!(jws.hints().parent(), Err(()), "empty is not a parent");
    }

    #[test]
    fn duplicate_payload_member_is_malformed() {
        let h = b64::encode(br#"{"alg":"ES256"}"#);
        let p = b64::encode(br#"{"sub":"a","sub":"b"}"#);
        let s = b64::encode(&[0u8; 64]);
        assert!(matches!(
            Unverified::parse(&alloc::format!("{h}.{p}.{s}"), 4096, false),
            Err(JoseError::Malformed(_))
        ));
    }

    #[test]
    fn typ_comparison() {
        assert!(typ_matches(Some("AT+JWT"), "at+jwt"));
        assert!(typ_matches(Some("application/at+jwt"), "at+jwt"));
        assert!(typ_matches(Some("dpop+jwt"), "application/dpop+jwt"));
        assert!(!typ_matches(Some("jwt"), "at+jwt"));
        assert!(!typ_matches(None, "at+jwt"));
    }
}
