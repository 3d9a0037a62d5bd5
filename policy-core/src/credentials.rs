//! Steps 3–7′: what the request presents. A delegation chain (root token, agent, each hop),
//! meant for this decision point, with the acting agent's DPoP proof; or a grant, meant for this
//! decision point, with the proof of the key it is bound to.

use crate::ctx::Ctx;
use crate::input::Credentials;
use crate::principal::Principal;
use crate::reason::{Code, Reason, reason};
use crate::request::Request;
use crate::use_once::UseOnce;
use crate::{audience, chain, grant, proof};
use alloc::{string::String, vec::Vec};

/// Verifies the credentials for `request`; returns who acts for whom, and what the host must
/// record as used.
///
/// # Errors
/// The first failing check's reason.
pub(crate) fn verify(
    ctx: &Ctx<'_>,
    here: Option<&[String]>,
    request: &Request,
    creds: &Credentials,
) -> Result<(Principal, Vec<UseOnce>), Reason> {
    match (creds.grant.as_deref(), creds.delegation.is_empty()) {
        (Some(_), false) => Err(reason(
            Code::CredentialsConflict,
            "present a grant or a delegation, not both",
        )),
        (None, true) => Err(reason(
            Code::CredentialsMissing,
            "no delegation or grant was presented",
        )),
        (Some(g), true) => {
            let (principal, grant_use) = grant::verify(ctx, g, request)?;
            audience::check(here, request, &principal.aud, Code::GrantAudienceInvalid)?;
            if !ctx.bundle.settings.grant_requires_proof {
                return Ok((principal, alloc::vec![grant_use]));
            }
            let proof = creds.proof.as_deref().ok_or_else(|| {
                reason(
                    Code::ProofMissing,
                    "a grant is bound to the agent's key: present it with a DPoP proof",
                )
            })?;
            let proof_use = proof::verify(ctx, proof, g, &principal, request)?;
            Ok((principal, alloc::vec![grant_use, proof_use]))
        }
        (None, false) => {
            let principal = chain::verify_chain(ctx, &creds.delegation)?;
            audience::check(here, request, &principal.aud, Code::TokenAudienceMismatch)?;
            let proof = creds
                .proof
                .as_deref()
                .ok_or_else(|| reason(Code::ProofMissing, "a delegation needs a DPoP proof"))?;
            let presented = creds.delegation.last().map(String::as_str).unwrap_or("");
            let use_once = proof::verify(ctx, proof, presented, &principal, request)?;
            Ok((principal, alloc::vec![use_once]))
        }
    }
}
