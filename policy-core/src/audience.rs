//! Step 6′: the presented credential is meant for this decision point (RFC 9068 §4).

use crate::reason::{Code, Reason, reason};
use crate::request::Request;
use alloc::string::String;

/// RFC 9068 §4: the token must be meant for this decision point — one of its configured
/// audiences, or else the origin of the request it guards.
pub(crate) fn check(
    here: Option<&[String]>,
    request: &Request,
    aud: &[String],
    code: Code,
) -> Result<(), Reason> {
    let ok = match here {
        Some(here) => aud.iter().any(|a| here.contains(a)),
        None => aud.iter().any(|a| request.target.is_within(a)),
    };
    if ok {
        Ok(())
    } else {
        Err(reason(code, "aud does not name this decision point"))
    }
}
