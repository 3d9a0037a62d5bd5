//! Strict JSON in, canonical JSON out.
//!
//! Parsing rejects duplicate member names (RFC 7515 §5.2 lets a JWS parser reject them, and two
//! parsers that keep different duplicates disagree about what was signed) and caps nesting depth.
//! Output is canonical — keys sorted by bytes, no whitespace — so two hosts emit the same bytes.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::fmt;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Larger than the caller's byte cap.
    #[error("document is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Actual length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Nested deeper than the caller's cap.
    #[error("document nests deeper than {0} levels")]
    TooDeep(usize),
    /// Not JSON, trailing data, or a duplicate member name.
    #[error("invalid JSON: {0}")]
    Invalid(String),
}

/// Parses `bytes` as one JSON value, rejecting duplicates and nesting over `max_depth`.
///
/// # Errors
/// [`JsonError`] on any deviation.
pub fn parse_strict(bytes: &[u8], max_len: usize, max_depth: usize) -> Result<Value, JsonError> {
    if bytes.len() > max_len {
        return Err(JsonError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict {
        depth_left: max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| {
        let msg = e.to_string();
        if msg.starts_with(TOO_DEEP) {
            JsonError::TooDeep(max_depth)
        } else {
            JsonError::Invalid(msg)
        }
    })?;
    de.end().map_err(|e| JsonError::Invalid(e.to_string()))?;
    Ok(value)
}

const TOO_DEEP: &str = "nesting too deep";

struct Strict {
    depth_left: usize,
}

impl Strict {
    fn nested<E: serde::de::Error>(&self) -> Result<Strict, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Strict { depth_left }),
            None => Err(E::custom(TOO_DEEP)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            depth_left: inner.depth_left,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!("duplicate member name {key:?}")));
            }
            let v = map.next_value_seed(Strict {
                depth_left: inner.depth_left,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Serializes canonically: object keys sorted by bytes, compact, serde_json's number and
/// string forms (which are deterministic on every platform).
#[must_use]
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is fixed; serializing a &str cannot fail.
    match serde_json::to_string(s) {
        Ok(escaped) => out.push_str(&escaped),
        Err(_) => out.push_str("\"\""),
    }
}

/// Reads an optional string member; `Err(())` when present with another type.
pub(crate) fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ()> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_and_depth_are_rejected() {
        assert!(matches!(
            parse_strict(br#"{"a":1,"a":2}"#, 100, 8),
            Err(JsonError::Invalid(_))
        ));
        assert!(matches!(
            parse_strict(br#"{"a":{"b":1,"b":1}}"#, 100, 8),
            Err(JsonError::Invalid(_))
        ));
        assert!(matches!(
            parse_strict(b"[[[[1]]]]", 100, 3),
            Err(JsonError::TooDeep(3))
        ));
        assert!(parse_strict(b"[[[1]]]", 100, 3).is_ok());
        assert!(matches!(
            parse_strict(b"{} x", 100, 3),
            Err(JsonError::Invalid(_))
        ));
        assert!(matches!(
            parse_strict(b"{}", 1, 3),
            Err(JsonError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_strict(br#""\ud800""#, 100, 3),
            Err(JsonError::Invalid(_))
        ));
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let v = json!({"b": [{"z": 1, "a": "x\u{1}"}], "a": null});
        assert_eq!(canonical(&v), r#"{"a":null,"b":[{"a":"x\u0001","z":1}]}"#);
    }
}
