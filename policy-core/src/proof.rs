//! RFC 9449 DPoP proofs: the acting agent signs each request with the key its token is bound
//! to, so a stolen token alone is useless and a proof is good for one request only.

use crate::bundle::PROOF_TYP;
use crate::chain::token_hash;
use crate::claims::{self, BadClaim, ProofClaims};
use crate::ctx::Ctx;
use crate::jose::{JoseError, Unverified, typ_matches};
use crate::limits;
use crate::principal::Principal;
use crate::reason::{Code, Reason, reason};
use crate::request::{Request, TargetUri};
use crate::use_once::UseOnce;
use alloc::format;

fn malformed(what: &str) -> Reason {
    reason(Code::ProofMalformed, format!("proof: {what}"))
}

/// Verifies `proof` for `request`, bound to the presented (last) token and the principal's key.
/// Returns the proof's `jti` for the host's replay store.
///
/// # Errors
/// A `proof.*` reason.
pub(crate) fn verify(
    ctx: &Ctx<'_>,
    proof: &str,
    presented: &str,
    principal: &Principal,
    request: &Request,
) -> Result<UseOnce, Reason> {
    let jws = Unverified::parse(proof, limits::MAX_TOKEN_BYTES, true).map_err(|e| match e {
        JoseError::SignatureInvalid => reason(
            Code::ProofSignatureInvalid,
            "proof signature does not verify",
        ),
        other => malformed(&format!("{other}")),
    })?;
    if !typ_matches(jws.typ(), PROOF_TYP) {
        return Err(reason(Code::ProofTypInvalid, "proof typ must be dpop+jwt"));
    }
    let key = jws
        .embedded_key()
        .ok_or_else(|| malformed("header jwk is required"))?;
    if !key.same_key(&principal.key) {
        return Err(reason(
            Code::ProofKeyMismatch,
            "proof key is not the key the token is bound to (cnf.jkt)",
        ));
    }
    let bad = |BadClaim(name)| malformed(&format!("claim {name} is missing or has the wrong type"));
    // The registered key verifies; the header's copy only had to equal it.
    let verified = jws.verify(&principal.key, ctx.verifier).map_err(|_| {
        reason(
            Code::ProofSignatureInvalid,
            "proof signature does not verify",
        )
    })?;
    let c: ProofClaims = claims::read(verified).map_err(bad)?;
    let htm = c.htm().required().map_err(bad)?.as_str();
    let htu = c.htu().required().map_err(bad)?.as_str();
    let iat = *c.iat().required().map_err(bad)?;
    let jti = c.jti().required().map_err(bad)?.as_str();
    let ath = c.ath().required().map_err(bad)?.as_str();
    let body = c.body_digest().optional().map_err(bad)?;
    if htm != request.spec.method {
        return Err(reason(
            Code::ProofMethodMismatch,
            format!("proof is for {htm}, request is {}", request.spec.method),
        ));
    }
    if TargetUri::parse(htu).map(|t| t.htu()) != Some(request.target.htu()) {
        return Err(reason(
            Code::ProofUriMismatch,
            "proof htu does not match the request URI",
        ));
    }
    if ath != token_hash(presented) {
        return Err(reason(
            Code::ProofTokenMismatch,
            "proof ath is not the hash of the presented token",
        ));
    }
    let s = &ctx.bundle.settings;
    if iat > ctx.now.saturating_add(s.clock_skew) || ctx.now.saturating_sub(iat) > s.proof_max_age {
        return Err(reason(
            Code::ProofStale,
            format!("proof iat {iat} is outside the {}s window", s.proof_max_age),
        ));
    }
    ctx.check_replay_history("proof", iat)?;
    if let Some(digest) = body
        && request.spec.body_digest.as_ref() != Some(digest)
    {
        return Err(reason(Code::ProofBodyMismatch, "proof binds another body"));
    }
    Ok(UseOnce {
        kind: "proof",
        jti: format!("{}:{jti}", principal.key.thumbprint()),
        exp: iat
            .saturating_add(s.proof_max_age)
            .saturating_add(s.clock_skew),
    })
}
