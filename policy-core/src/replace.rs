//! Whether a newly loaded bundle may replace the one serving: the rule every host that reloads
//! bundles (`mandate serve`, the Envoy filter) applies, written once. It compares only what the
//! core verified — the claims of two bundles whose signatures checked — never what an unverified
//! bundle says.

use crate::reason::{Code, Reason, reason};
use alloc::{format, string::String};
use serde::{Deserialize, Serialize};

/// What the replacement rule compares of a verified bundle: the claims in its load status
/// (`{"ok": true, "bundle": {…}}`). A host that only sees load statuses (the wasm backend, the
/// JS package) applies the same rule to the statuses its engine produced.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFacts {
    /// Operator-chosen revision label.
    pub revision: String,
    /// base64url SHA-256 of the bundle JWS.
    pub digest: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}

impl BundleFacts {
    /// The facts of a load status document as an engine produced it (`Pdp::status_json`, the
    /// module's `mandate_status`): the bundle's facts when it loaded, else the load's own reason.
    ///
    /// # Errors
    /// The load's reason when the status is not ok; `bundle.malformed` when the bytes are not
    /// a load status.
    pub fn from_status_json(status: &[u8]) -> Result<BundleFacts, Reason> {
        #[derive(Deserialize)]
        struct Problem {
            code: String,
            message: String,
        }
        #[derive(Deserialize)]
        struct Status {
            ok: bool,
            bundle: Option<BundleFacts>,
            error: Option<Problem>,
        }
        let not_status = || reason(Code::BundleMalformed, "not a load status document");
        let status: Status = serde_json::from_slice(status).map_err(|_| not_status())?;
        match (status.ok, status.bundle, status.error) {
            (true, Some(facts), None) => Ok(facts),
            (false, None, Some(p)) => Err(reason(
                Code::parse(&p.code).unwrap_or(Code::BundleMalformed),
                p.message,
            )),
            _ => Err(not_status()),
        }
    }
}

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
pub fn may_replace(
    serving: Option<&BundleFacts>,
    next: &BundleFacts,
    now: i64,
) -> Result<(), Reason> {
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

/// [`may_replace`] on load status documents, for hosts that hold only the statuses their engine
/// produced (the JS package): `serving` is the status of what serves (`None`, or a status that
/// is not ok: nothing valid serves), `next` the status of the freshly loaded engine. Answers
/// `{"ok":true}` or the refusal as a failed load status ([`refusal_json`]), canonical.
#[must_use]
pub fn may_replace_json(serving: Option<&[u8]>, next: &[u8], now: i64) -> alloc::vec::Vec<u8> {
    let serving = serving.and_then(|s| BundleFacts::from_status_json(s).ok());
    let verdict = BundleFacts::from_status_json(next)
        .and_then(|next| may_replace(serving.as_ref(), &next, now));
    match verdict {
        Ok(()) => crate::json::canonical(&serde_json::json!({"ok": true})).into_bytes(),
        Err(r) => refusal_json(&r),
    }
}

/// A load that failed, or a bundle refused: `{"ok":false,"error":{"code":…,"message":…}}`,
/// canonical. The one shape of a load status that is not ok.
#[must_use]
pub fn refusal_json(reason: &Reason) -> alloc::vec::Vec<u8> {
    let v = serde_json::json!({"ok": false, "error": {"code": reason.code.as_str(), "message": reason.message}});
    crate::json::canonical(&v).into_bytes()
}
