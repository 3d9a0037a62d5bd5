//! Canonical JSON for audit lines: object keys sorted by byte order, no whitespace.
//!
//! The chain hashes each line's bytes, so the bytes of a record must be a function of its
//! content. `serde_json`'s map order depends on a crate feature another dependency may switch
//! on, so the order is imposed here rather than assumed.

use serde_json::Value;

/// Writes `value` canonically.
#[must_use]
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_at_every_depth() {
        let v: Value = serde_json::json!({"b": 1, "a": {"z": [true, null, "x"], "y": -2}});
        assert_eq!(to_string(&v), r#"{"a":{"y":-2,"z":[true,null,"x"]},"b":1}"#);
    }
}
