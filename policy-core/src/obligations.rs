//! Step 9′: the obligation contract. An obligation is enforced by the core, declared by the host
//! as one it enforces, or the decision is a deny — never silently dropped.

use crate::reason::{Code, Reason, reason};
use alloc::{
    format,
    string::{String, ToString},
};
use serde_json::{Map, Value};

/// The obligation contract: `max_ttl` is the core's own (it caps any grant minted here);
/// `require_approval` is a deny until an approval is presented; any other obligation must be
/// one the host declared in `enforces`, or the decision is a deny. Never silently dropped.
pub(crate) fn check(obligations: &Map<String, Value>, enforces: &[String]) -> Result<(), Reason> {
    for (name, value) in obligations {
        match name.as_str() {
            "max_ttl" => {
                if value.as_i64().is_none_or(|t| t < 0) {
                    return Err(reason(
                        Code::PolicyOutputInvalid,
                        "obligation max_ttl must be a non-negative integer of seconds",
                    ));
                }
            }
            "require_approval" => {
                if value != &Value::Bool(false) {
                    let why = match value {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o.get("reason").and_then(Value::as_str).map_or_else(
                            || String::from("a person must approve this action"),
                            ToString::to_string,
                        ),
                        _ => String::from("a person must approve this action"),
                    };
                    return Err(reason(Code::ApprovalRequired, why));
                }
            }
            other if enforces.iter().any(|e| e == other) => {}
            other => {
                return Err(reason(
                    Code::ObligationUnsupported,
                    format!("obligation {other} is not one this decision point enforces"),
                ));
            }
        }
    }
    Ok(())
}
