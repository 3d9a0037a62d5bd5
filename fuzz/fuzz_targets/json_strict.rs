//! `json::parse_strict` on arbitrary bytes, against serde_json as the reference parser.
//!
//! - What it accepts, serde_json accepts as the same value, nested no deeper than the cap.
//! - The canonical form of an accepted value parses again to the same value, and is a fixed
//!   point (canonical(parse(canonical(v))) == canonical(v)).
//! - When serde_json accepts a document within the caps that the strict parser calls invalid,
//!   the reason is a duplicate member name (the one thing strict rejects on purpose).
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_core::json::{self, JsonError};
use serde_json::Value;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&d, doc)) = data.split_first() else {
        return;
    };
    let max_depth = usize::from(d % 40);
    let max_len = if d & 0x80 == 0 { 64 * 1024 } else { 64 };
    let strict = json::parse_strict(doc, max_len, max_depth);
    let reference = serde_json::from_slice::<Value>(doc);
    match strict {
        Ok(v) => {
            assert!(doc.len() <= max_len);
            let r = reference.expect("strict accepted what serde_json rejects");
            assert_eq!(r, v, "strict and serde_json disagree on the value");
            assert!(
                depth(&v) <= max_depth,
                "nesting {} over {max_depth}",
                depth(&v)
            );
            if fuzz::tolerate_float_drift() && fuzz::has_float(&v) {
                return;
            }
            let c = json::canonical(&v);
            let again = json::parse_strict(c.as_bytes(), usize::MAX, max_depth)
                .unwrap_or_else(|e| panic!("canonical form does not parse ({e}): {c}"));
            assert_eq!(again, v, "canonical form parses to another value: {c}");
            assert_eq!(
                json::canonical(&again),
                c,
                "canonical form is not a fixed point"
            );
        }
        Err(JsonError::TooLarge { len, max }) => {
            assert_eq!((len, max), (doc.len(), max_len));
            assert!(doc.len() > max_len);
        }
        Err(JsonError::TooDeep(n)) => assert_eq!(n, max_depth),
        Err(JsonError::Invalid(msg)) => {
            if let Ok(v) = reference {
                if depth(&v) <= max_depth {
                    assert!(
                        msg.starts_with("duplicate member name"),
                        "strict rejected a valid document ({msg}): {:?}",
                        String::from_utf8_lossy(doc)
                    );
                }
            }
        }
    }
});
