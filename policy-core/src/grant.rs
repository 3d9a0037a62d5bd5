//! Ephemeral grants: after an allow, a decision point mints a token that lives seconds, is
//! bound to one audience and one action, carries the decision id and principals, and can be
//! used once. A resource server verifies it offline with the same engine.

use crate::bundle::{GRANT_TYP, Issuer};
use crate::chain::active_agent;
use crate::claims::{self, BadClaim, GrantClaims, TimeFault, Window};
use crate::ctx::Ctx;
use crate::jose::{self, JoseError, PrivateJwk, Unverified, typ_matches};
use crate::limits;
use crate::principal::Principal;
use crate::reason::{Code, Reason, reason};
use crate::request::{Request, TargetUri};
use crate::scope::Scopes;
use crate::use_once::UseOnce;
use alloc::{borrow::ToOwned, format, string::String, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What the host asks for when it wants a grant minted on allow.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The resource server the grant is for.
    pub aud: String,
    /// Requested lifetime in seconds; capped by the bundle and by a `max_ttl` obligation.
    pub ttl: i64,
    /// A fresh nonce from the host.
    pub jti: String,
}

fn malformed(what: &str) -> Reason {
    reason(Code::GrantMalformed, format!("grant: {what}"))
}

fn bad(BadClaim(name): BadClaim) -> Reason {
    malformed(&format!("claim {name} is missing or has the wrong type"))
}

/// Verifies a presented grant for `request`.
///
/// # Errors
/// A `grant.*`, `token.revoked` or `agent.*` reason.
pub(crate) fn verify(
    ctx: &Ctx<'_>,
    grant: &str,
    request: &Request,
) -> Result<(Principal, UseOnce), Reason> {
    let jws = Unverified::parse(grant, limits::MAX_TOKEN_BYTES, false).map_err(|e| match e {
        JoseError::SignatureInvalid => reason(
            Code::GrantSignatureInvalid,
            "grant signature does not verify",
        ),
        other => malformed(&format!("{other}")),
    })?;
    if !typ_matches(jws.typ(), GRANT_TYP) {
        return Err(malformed("typ must be mandate-grant+jwt"));
    }
    // `iss` chooses the keys to verify with, so it is the one claim read before verification.
    let iss = jws.hints().iss().map_err(|()| bad(BadClaim("iss")))?;
    let issuer: &Issuer = ctx
        .bundle
        .issuer(iss)
        .filter(|i| i.issues(GRANT_TYP))
        .ok_or_else(|| {
            reason(
                Code::GrantIssuerUnknown,
                format!("{iss} is not trusted for grants"),
            )
        })?;
    let key = jws
        .kid()
        .and_then(|kid| issuer.keys.iter().find(|k| k.kid() == Some(kid)))
        .ok_or_else(|| {
            reason(
                Code::GrantIssuerUnknown,
                "kid names no grant key of the issuer",
            )
        })?;
    let verified = jws.verify(key, ctx.verifier).map_err(|_| {
        reason(
            Code::GrantSignatureInvalid,
            "grant signature does not verify",
        )
    })?;
    let c: GrantClaims = claims::read(verified).map_err(bad)?;
    let window = Window::read(c.exp(), c.iat(), c.nbf()).map_err(bad)?;
    let user = c.sub().required().map_err(bad)?.as_str();
    let jti = c.jti().required().map_err(bad)?.as_str();
    c.decision_id().required().map_err(bad)?;
    let aud = c.aud().required().map_err(bad)?.0.clone();
    let act = c.act().required().map_err(bad)?;
    let agent_id = act.sub.as_str();
    let jkt = &c.cnf().required().map_err(bad)?.jkt;
    let scopes = Scopes::parse(
        c.scope()
            .optional()
            .map_err(bad)?
            .map_or("", String::as_str),
    );
    let details = c
        .authorization_details()
        .optional()
        .map_err(bad)?
        .map(|d| d.0.clone())
        .unwrap_or_default();
    let chain = c
        .chain()
        .optional()
        .map_err(bad)?
        .cloned()
        .unwrap_or_default();
    let iss = c.iss().required().map_err(bad)?.as_str();
    let s = &ctx.bundle.settings;
    if window.exp.saturating_sub(window.iat) > s.grant_max_ttl {
        return Err(reason(
            Code::GrantTtlExceeded,
            format!("grant lives longer than {}s", s.grant_max_ttl),
        ));
    }
    match window.check(ctx.now, s.clock_skew) {
        Err(TimeFault::Expired) => return Err(reason(Code::GrantExpired, "grant has expired")),
        Err(TimeFault::NotYetValid) => {
            return Err(reason(Code::GrantNotYetValid, "grant is not valid yet"));
        }
        Ok(()) => {}
    }
    ctx.check_replay_history("grant", window.iat)?;
    if !aud.iter().any(|a| issuer.audiences.contains(a)) {
        return Err(reason(
            Code::GrantAudienceInvalid,
            "grant aud is not accepted here",
        ));
    }
    if ctx.bundle.revocations.jti.iter().any(|r| r == jti) {
        return Err(reason(
            Code::TokenRevoked,
            format!("grant {jti} is revoked"),
        ));
    }
    let (_, agent_key) = active_agent(ctx, agent_id, jkt)?;
    check_binding(&c, request)?;
    let principal = Principal {
        kind: "grant",
        agent: agent_id.to_owned(),
        user: user.to_owned(),
        groups: Vec::new(),
        issuer: iss.to_owned(),
        chain: if chain.is_empty() {
            alloc::vec![agent_id.to_owned()]
        } else {
            chain
        },
        key: agent_key.clone(),
        scopes,
        details,
        jtis: alloc::vec![jti.to_owned()],
        aud,
        exp: window.exp,
        act: act.value.clone(),
        hops: Vec::new(),
    };
    let use_once = UseOnce {
        kind: "grant",
        jti: jti.to_owned(),
        exp: window.exp.saturating_add(s.clock_skew),
    };
    Ok((principal, use_once))
}

/// The grant names one action: method and URI (`htm`/`htu`), and/or `action` and `resource`.
fn check_binding(c: &GrantClaims, request: &Request) -> Result<(), Reason> {
    let mismatch = |what: &str| {
        reason(
            Code::GrantRequestMismatch,
            format!("grant is bound to another {what}"),
        )
    };
    let htm = c.htm().optional().map_err(bad)?;
    let htu = c.htu().optional().map_err(bad)?;
    let action = c.action().optional().map_err(bad)?;
    let resource = c.resource().optional().map_err(bad)?;
    if htm.is_none() && htu.is_none() && action.is_none() {
        return Err(malformed("a grant must bind htm/htu or action"));
    }
    if htm.is_some_and(|m| *m != request.spec.method) {
        return Err(mismatch("method"));
    }
    if htu.is_some_and(|u| TargetUri::parse(u).map(|t| t.htu()) != Some(request.target.htu())) {
        return Err(mismatch("URI"));
    }
    if action.is_some_and(|a| request.spec.action.as_ref() != Some(a)) {
        return Err(mismatch("action"));
    }
    if resource.is_some_and(|r| request.spec.resource.as_ref() != Some(r)) {
        return Err(mismatch("resource"));
    }
    Ok(())
}

/// Mints a grant for an allowed request.
///
/// # Errors
/// `grant.mint_unavailable` when there is no grant key or issuer, or the request is unusable.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mint(
    ctx: &Ctx<'_>,
    key: Option<&PrivateJwk>,
    ask: &MintRequest,
    principal: &Principal,
    request: &Request,
    decision_id: &str,
    obligations: &Map<String, Value>,
) -> Result<String, Reason> {
    let unavailable = |m: &str| reason(Code::GrantMintUnavailable, m.to_owned());
    let key = key.ok_or_else(|| unavailable("this decision point has no grant key"))?;
    let s = &ctx.bundle.settings;
    let iss = s
        .grant_issuer
        .as_deref()
        .ok_or_else(|| unavailable("the bundle names no grant_issuer"))?;
    if ask.ttl <= 0 || ask.aud.is_empty() || ask.jti.is_empty() || ask.jti.len() > 128 {
        return Err(unavailable(
            "mint_grant needs aud, a positive ttl and a jti of at most 128 bytes",
        ));
    }
    if !principal.aud.iter().any(|a| a == &ask.aud) {
        return Err(unavailable(
            "a grant may only name an audience the delegation is valid for",
        ));
    }
    let mut ttl = ask.ttl.min(s.grant_max_ttl);
    if let Some(max) = obligations.get("max_ttl").and_then(Value::as_i64) {
        ttl = ttl.min(max);
    }
    if ttl <= 0 {
        return Err(unavailable(
            "an obligation leaves no lifetime for the grant",
        ));
    }
    let mut claims = json!({
        "iss": iss,
        "sub": principal.user,
        "aud": ask.aud,
        "iat": ctx.now,
        "exp": ctx.now.saturating_add(ttl),
        "jti": ask.jti,
        "act": principal.act,
        "cnf": {"jkt": principal.key.thumbprint()},
        "chain": principal.chain,
        "decision_id": decision_id,
        "htm": request.spec.method,
        "htu": request.target.htu(),
        "scope": principal.scopes.as_slice().join(" "),
    });
    if let Some(obj) = claims.as_object_mut() {
        if let Some(action) = &request.spec.action {
            obj.insert("action".into(), Value::String(action.clone()));
        }
        if let Some(resource) = &request.spec.resource {
            obj.insert("resource".into(), Value::String(resource.clone()));
        }
        if !principal.details.is_empty() {
            obj.insert(
                "authorization_details".into(),
                Value::Array(principal.details.clone()),
            );
        }
    }
    let mut header = Map::new();
    header.insert("typ".into(), Value::String(GRANT_TYP.into()));
    Ok(jose::sign(&header, &claims, key))
}
