//! Typed JWT claims (RFC 7519), one struct per token kind, deserialized once from a verified
//! payload ([`crate::jose::Verified::deserialize`]) and then passed along.
//!
//! Every claim Mandate relies on has one type, and a claim of another type is an error, never a
//! default. Deserialization itself never fails: each field records whether its claim was
//! missing, ill-typed or well typed ([`Claim`]), and a check asks for it by name at the point of
//! the pipeline where it always has, so a bad claim yields the same reason (code, message and
//! order against the other checks) as when claims were read field by field.

use alloc::{string::String, vec, vec::Vec};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A claim is missing or has the wrong type; carries the claim's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadClaim(pub &'static str);

/// One claim as found in the payload.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Claim<T> {
    /// Absent.
    #[default]
    Missing,
    /// Present with another type or shape (JSON `null` included).
    Invalid,
    /// Present and well typed.
    Present(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Claim<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(T::deserialize(value).map_or(Claim::Invalid, Claim::Present))
    }
}

/// A claim with its name, as a check reads it.
#[derive(Debug)]
pub(crate) struct Field<'c, T> {
    name: &'static str,
    claim: &'c Claim<T>,
}

impl<'c, T> Field<'c, T> {
    /// The claim, which must be present and well typed.
    pub(crate) fn required(self) -> Result<&'c T, BadClaim> {
        match self.claim {
            Claim::Present(v) => Ok(v),
            Claim::Missing | Claim::Invalid => Err(BadClaim(self.name)),
        }
    }

    /// The claim when present; an error only when it is present with another type.
    pub(crate) fn optional(self) -> Result<Option<&'c T>, BadClaim> {
        match self.claim {
            Claim::Present(v) => Ok(Some(v)),
            Claim::Missing => Ok(None),
            Claim::Invalid => Err(BadClaim(self.name)),
        }
    }
}

/// Declares a claims struct whose fields are [`Claim`]s read through [`Field`] accessors named
/// after them; the member name in the payload is the field's name.
macro_rules! typed_claims {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident: $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Deserialize)]
        pub(crate) struct $name {
            $( $(#[$fdoc])* #[serde(default)] $field: Claim<$ty>, )*
        }

        impl $name {
            $(
                $(#[$fdoc])*
                pub(crate) fn $field(&self) -> Field<'_, $ty> {
                    Field { name: stringify!($field), claim: &self.$field }
                }
            )*
        }
    };
}

typed_claims! {
    /// A person's delegation to an agent (`at+jwt`, RFC 9068 with RFC 8693 `act`).
    DelegationClaims {
        /// The issuer.
        iss: NonEmpty,
        /// The person.
        sub: NonEmpty,
        /// The token id.
        jti: TokenId,
        /// Expiry.
        exp: i64,
        /// Issued at.
        iat: i64,
        /// Not before.
        nbf: i64,
        /// Audiences.
        aud: Audience,
        /// The agent.
        act: Actor,
        /// The agent's key.
        cnf: Confirmation,
        /// Space-separated scopes.
        scope: String,
        /// RFC 9396 details.
        authorization_details: Details,
        /// The person's groups.
        groups: Vec<String>,
    }
}

typed_claims! {
    /// A sub-delegation hop (`mandate-subdelegation+jwt`), signed by the previous agent's key.
    HopClaims {
        /// The same person as the root.
        sub: NonEmpty,
        /// The token id.
        jti: TokenId,
        /// Expiry.
        exp: i64,
        /// Issued at.
        iat: i64,
        /// Not before.
        nbf: i64,
        /// The sub-agent, nesting the previous `act`.
        act: Actor,
        /// The sub-agent's key.
        cnf: Confirmation,
        /// Space-separated scopes.
        scope: String,
        /// RFC 9396 details.
        authorization_details: Details,
        /// Narrower audiences (the parent's when absent).
        aud: Audience,
    }
}

typed_claims! {
    /// An RFC 9449 DPoP proof.
    ProofClaims {
        /// HTTP method.
        htm: NonEmpty,
        /// Target URI.
        htu: NonEmpty,
        /// Issued at.
        iat: i64,
        /// The proof id.
        jti: TokenId,
        /// Hash of the presented token.
        ath: NonEmpty,
        /// Hash of the body, when bound.
        body_digest: String,
    }
}

typed_claims! {
    /// An ephemeral grant (`mandate-grant+jwt`) minted by a decision point.
    GrantClaims {
        /// The grant issuer.
        iss: NonEmpty,
        /// The person.
        sub: NonEmpty,
        /// The grant id.
        jti: TokenId,
        /// The decision it came from.
        decision_id: NonEmpty,
        /// Expiry.
        exp: i64,
        /// Issued at.
        iat: i64,
        /// Not before.
        nbf: i64,
        /// Audiences.
        aud: Audience,
        /// The agent.
        act: Actor,
        /// The agent's key.
        cnf: Confirmation,
        /// Space-separated scopes.
        scope: String,
        /// RFC 9396 details.
        authorization_details: Details,
        /// The delegation chain's agents.
        chain: Vec<String>,
        /// Bound method.
        htm: String,
        /// Bound URI.
        htu: String,
        /// Bound action.
        action: String,
        /// Bound resource.
        resource: String,
    }
}

/// A string that is not empty and at most `MAX` bytes long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounded<const MAX: usize>(String);

/// A string that is not empty (issuers, subjects, hashes; the token's size bounds it).
pub(crate) type NonEmpty = Bounded<{ usize::MAX }>;

/// A token or proof id (`jti`): not empty and at most [`crate::limits::MAX_JTI_BYTES`] bytes,
/// since a host keeps every used one (in memory or in Redis) until it expires.
pub(crate) type TokenId = Bounded<{ crate::limits::MAX_JTI_BYTES }>;

impl<const MAX: usize> Bounded<MAX> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Bounded<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > MAX {
            return Err(D::Error::custom("empty or too long"));
        }
        Ok(Bounded(s))
    }
}

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Audience(pub Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Audience(vec![s])),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(D::Error::custom("aud")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Audience),
            _ => Err(D::Error::custom("aud")),
        }
    }
}

/// `act` (RFC 8693 §4.1): an object with a non-empty `sub`, kept whole for nesting checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Actor {
    /// `act.sub`.
    pub sub: String,
    /// The whole `act` object.
    pub value: Value,
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let sub = match value.get("sub") {
            Some(Value::String(s)) if value.is_object() && !s.is_empty() => s.clone(),
            _ => return Err(D::Error::custom("act")),
        };
        Ok(Actor { sub, value })
    }
}

/// `cnf.jkt` (RFC 9449 §6.1): the thumbprint of the key the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confirmation {
    /// `cnf.jkt`.
    pub jkt: String,
}

impl<'de> Deserialize<'de> for Confirmation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)?.get("jkt") {
            Some(Value::String(s)) if !s.is_empty() => Ok(Confirmation { jkt: s.clone() }),
            _ => Err(D::Error::custom("cnf")),
        }
    }
}

/// `authorization_details` (RFC 9396 §2): an array of objects, each with a string `type`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Details(pub Vec<Value>);

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Array(items)
                if items
                    .iter()
                    .all(|d| d.is_object() && d.get("type").is_some_and(Value::is_string)) =>
            {
                Ok(Details(items))
            }
            _ => Err(D::Error::custom("authorization_details")),
        }
    }
}

/// The validity window of a token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub exp: i64,
    pub iat: i64,
    pub nbf: Option<i64>,
}

/// Why a window does not contain `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeFault {
    Expired,
    NotYetValid,
}

impl Window {
    /// Reads `exp`, `iat` and the optional `nbf`, in that order.
    pub(crate) fn read(
        exp: Field<'_, i64>,
        iat: Field<'_, i64>,
        nbf: Field<'_, i64>,
    ) -> Result<Window, BadClaim> {
        Ok(Window {
            exp: *exp.required()?,
            iat: *iat.required()?,
            nbf: nbf.optional()?.copied(),
        })
    }

    /// Valid while `now < exp + skew`, once `nbf - skew <= now` and `iat - skew <= now`.
    pub(crate) fn check(&self, now: i64, skew: i64) -> Result<(), TimeFault> {
        if now >= self.exp.saturating_add(skew) {
            return Err(TimeFault::Expired);
        }
        let starts = self.nbf.unwrap_or(self.iat).max(self.iat);
        if starts.saturating_sub(skew) > now {
            return Err(TimeFault::NotYetValid);
        }
        Ok(())
    }
}

/// Deserializes verified claims; the structs above have no failing field, so an error here
/// means the payload was not an object, which parsing already refuses. Fails closed anyway.
pub(crate) fn read<T: DeserializeOwned>(verified: crate::jose::Verified) -> Result<T, BadClaim> {
    verified.deserialize().map_err(|_| BadClaim("claims"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hop(v: Value) -> HopClaims {
        serde_json::from_value(v).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn ill_typed_claims_are_recorded_not_fatal() {
        let c = hop(json!({
            "sub": "", "jti": 7, "exp": 1.5, "iat": null, "nbf": 3,
            "act": {"sub": ""}, "cnf": {"jkt": 1}, "scope": ["a"],
            "authorization_details": [{"actions": []}], "aud": [1]
        }));
        assert_eq!(c.sub().required(), Err(BadClaim("sub")), "empty");
        assert_eq!(c.jti().required(), Err(BadClaim("jti")));
        assert_eq!(c.exp().required(), Err(BadClaim("exp")), "a float");
        assert_eq!(
            c.iat().required(),
            Err(BadClaim("iat")),
            "null is not absent"
        );
        assert_eq!(
            c.iat().optional(),
            Err(BadClaim("iat")),
            "null is not absent"
        );
        assert_eq!(c.nbf().optional(), Ok(Some(&3)));
        assert_eq!(c.act().required().err(), Some(BadClaim("act")));
        assert_eq!(c.cnf().required().err(), Some(BadClaim("cnf")));
        assert_eq!(c.scope().optional().err(), Some(BadClaim("scope")));
        assert_eq!(
            c.authorization_details().optional().err(),
            Some(BadClaim("authorization_details"))
        );
        assert_eq!(c.aud().optional().err(), Some(BadClaim("aud")));
    }

    #[test]
    fn well_typed_claims_read_once() {
        let c = hop(json!({
            "sub": "alice", "jti": "j", "exp": 10, "iat": 1,
            "act": {"sub": "agent:b", "act": {"sub": "agent:a"}}, "cnf": {"jkt": "t"},
            "aud": "https://api", "extra": {"ignored": true}
        }));
        assert_eq!(c.sub().required().map(NonEmpty::as_str), Ok("alice"));
        assert_eq!(c.nbf().optional(), Ok(None));
        let act = c.act().required().unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(act.sub, "agent:b");
        assert_eq!(act.value.get("act"), Some(&json!({"sub": "agent:a"})));
        assert_eq!(
            c.aud().optional().ok().flatten().map(|a| a.0.clone()),
            Some(vec!["https://api".into()])
        );
        assert_eq!(c.scope().optional(), Ok(None));
        assert_eq!(
            c.authorization_details().optional().map(|d| d.is_none()),
            Ok(true)
        );
        let w = Window::read(c.exp(), c.iat(), c.nbf()).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!((w.exp, w.iat, w.nbf), (10, 1, None));
    }

    #[test]
    fn window_reads_exp_then_iat_then_nbf() {
        let c = hop(json!({"exp": "x", "iat": "y", "nbf": "z"}));
        assert_eq!(
            Window::read(c.exp(), c.iat(), c.nbf()).err(),
            Some(BadClaim("exp"))
        );
        let c = hop(json!({"exp": 1, "iat": "y", "nbf": "z"}));
        assert_eq!(
            Window::read(c.exp(), c.iat(), c.nbf()).err(),
            Some(BadClaim("iat"))
        );
        let c = hop(json!({"exp": 1, "iat": 0, "nbf": "z"}));
        assert_eq!(
            Window::read(c.exp(), c.iat(), c.nbf()).err(),
            Some(BadClaim("nbf"))
        );
    }
}
