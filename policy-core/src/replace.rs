//! Whether a newly loaded bundle may replace the one serving: the rule every host that reloads
//! bundles (`mandate serve`, the Envoy filter) applies, written once. It compares only what the
//! core verified — the claims of two bundles whose signatures checked — never what an unverified
//! bundle says.

use crate::bundle::Bundle;
use crate::reason::{Code, Reason, reason};
use alloc::format;

/// May `next` (verified) replace `serving` (verified, when something serves) at `now`?
///
/// - `bundle.expired`: `next` has expired (`exp ≤ now`);
/// - `bundle.not_yet_valid`: `next` is not valid yet (`nbf > now`): serving it would deny every
///   request until then;
/// - `bundle.rollback`: `next` was issued before the serving one (a lower `iat`: say, a bundle in
///   which a since-revoked agent was active), or carries the serving revision with other content.
///   Re-sign to roll back on purpose.
///
/// The same bundle again (same digest) may replace itself: a reload that changes nothing.
///
/// # Errors
/// The reason the serving bundle stays.
pub fn may_replace(serving: Option<&Bundle>, next: &Bundle, now: i64) -> Result<(), Reason> {
    if next.exp <= now {
        return Err(reason(
            Code::BundleExpired,
            format!("the bundle expired at {} (now {now})", next.exp),
        ));
    }
    if next.nbf > now {
        return Err(reason(
            Code::BundleNotYetValid,
            format!("the bundle is valid from {} (now {now})", next.nbf),
        ));
    }
    let Some(serving) = serving else {
        return Ok(());
    };
    if next.iat < serving.iat {
        return Err(reason(
            Code::BundleRollback,
            format!(
                "the bundle was issued at {}, before the one serving ({})",
                next.iat, serving.iat
            ),
        ));
    }
    if next.revision == serving.revision && next.digest != serving.digest {
        return Err(reason(
            Code::BundleRollback,
            format!(
                "revision {} is serving with other content; a new bundle needs a new revision",
                next.revision
            ),
        ));
    }
    Ok(())
}
