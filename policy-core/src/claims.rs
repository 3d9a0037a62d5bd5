//! Reading JWT claims strictly (RFC 7519): every claim Mandate relies on has one type, and a
//! claim of another type is an error, never a default.

use crate::json;
use alloc::{string::String, vec, vec::Vec};
use serde_json::{Map, Value};

/// A claim is missing or has the wrong type; carries the claim's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadClaim(pub &'static str);

pub(crate) type Claims = Map<String, Value>;

pub(crate) fn req_str<'a>(c: &'a Claims, name: &'static str) -> Result<&'a str, BadClaim> {
    json::opt_str(c, name)
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
        .ok_or(BadClaim(name))
}

pub(crate) fn opt_str<'a>(c: &'a Claims, name: &'static str) -> Result<Option<&'a str>, BadClaim> {
    json::opt_str(c, name).map_err(|()| BadClaim(name))
}

pub(crate) fn req_int(c: &Claims, name: &'static str) -> Result<i64, BadClaim> {
    json::opt_i64(c, name).ok().flatten().ok_or(BadClaim(name))
}

pub(crate) fn opt_int(c: &Claims, name: &'static str) -> Result<Option<i64>, BadClaim> {
    json::opt_i64(c, name).map_err(|()| BadClaim(name))
}

pub(crate) fn opt_str_array(c: &Claims, name: &'static str) -> Result<Vec<String>, BadClaim> {
    json::opt_str_array(c, name)
        .map(Option::unwrap_or_default)
        .map_err(|()| BadClaim(name))
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3); `None` when absent.
pub(crate) fn audiences(c: &Claims) -> Result<Option<Vec<String>>, BadClaim> {
    match c.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(_)) => json::opt_str_array(c, "aud").map_err(|()| BadClaim("aud")),
        Some(_) => Err(BadClaim("aud")),
    }
}

/// `act.sub`, and the whole `act` object (RFC 8693 §4.1).
pub(crate) fn actor(c: &Claims) -> Result<(&str, &Value), BadClaim> {
    let act = c
        .get("act")
        .filter(|a| a.is_object())
        .ok_or(BadClaim("act"))?;
    let sub = act
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(BadClaim("act"))?;
    Ok((sub, act))
}

/// `cnf.jkt` (RFC 9449 §6.1).
pub(crate) fn jkt(c: &Claims) -> Result<&str, BadClaim> {
    c.get("cnf")
        .and_then(|cnf| cnf.get("jkt"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(BadClaim("cnf"))
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
    pub(crate) fn read(c: &Claims) -> Result<Window, BadClaim> {
        Ok(Window {
            exp: req_int(c, "exp")?,
            iat: req_int(c, "iat")?,
            nbf: opt_int(c, "nbf")?,
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
