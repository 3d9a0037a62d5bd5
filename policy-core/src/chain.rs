//! Delegation chains: a person's grant to an agent (an RFC 9068 access token from a trusted
//! issuer, the agent in RFC 8693 `act`, its key in `cnf.jkt`), then zero or more sub-delegation
//! hops, each signed by the previous agent's bound key, naming its parent by hash and only
//! narrowing. What survives is the effective grant: the last hop's scopes, which every check
//! has proven to lie within every hop before it and within every agent's ceiling.

use crate::bundle::{DELEGATION_TYP, SUBDELEGATION_TYP};
use crate::claims::{
    self, BadClaim, DelegationClaims, Details, Field, HopClaims, TimeFault, Window,
};
use crate::ctx::Ctx;
use crate::guardrails::PolicyHop;
use crate::jose::{JoseError, PublicJwk, Unverified, typ_matches};
use crate::principal::Principal;
use crate::reason::{Code, Reason, reason};
use crate::registry::{Agent, AgentStatus};
use crate::scope::{self, Scopes};
use crate::{b64, limits};
use alloc::{borrow::ToOwned, format, string::String, vec::Vec};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn jose_reason(e: JoseError) -> Reason {
    let code = match e {
        JoseError::TooLarge => Code::TokenTooLarge,
        JoseError::Malformed(_) => Code::TokenMalformed,
        JoseError::AlgNotAllowed => Code::TokenAlgNotAllowed,
        JoseError::HeaderInvalid(_) | JoseError::KeyInvalid(_) => Code::TokenHeaderInvalid,
        JoseError::SignatureInvalid => Code::TokenSignatureInvalid,
    };
    reason(code, format!("delegation token: {e}"))
}

fn bad_claim(BadClaim(name): BadClaim) -> Reason {
    reason(
        Code::TokenClaimsInvalid,
        format!("claim {name} is missing or has the wrong type"),
    )
}

fn time_reason(fault: TimeFault, what: &str) -> Reason {
    match fault {
        TimeFault::Expired => reason(Code::TokenExpired, format!("{what} has expired")),
        TimeFault::NotYetValid => {
            reason(Code::TokenNotYetValid, format!("{what} is not valid yet"))
        }
    }
}

/// What one verified token proves, kept for the next hop and the principal: typed values read
/// once from its claims, and the registry entries (agent and bound key) looked up once.
struct Link<'t, 'b> {
    token: &'t str,
    agent_id: String,
    agent: &'b Agent,
    key: &'b PublicJwk,
    jti: String,
    act: Value,
    scopes: Scopes,
    details: Vec<Value>,
    aud: Vec<String>,
    exp: i64,
}

/// Who the root token speaks for.
struct Person {
    user: String,
    groups: Vec<String>,
    issuer: String,
}

/// Verifies a chain, root first. The last token is the one a proof must bind.
///
/// # Errors
/// The first failing check's reason.
pub(crate) fn verify_chain(ctx: &Ctx<'_>, tokens: &[String]) -> Result<Principal, Reason> {
    let max_hops = ctx.bundle.settings.max_chain_depth as usize;
    if tokens.len() > limits::MAX_CHAIN_TOKENS || tokens.len().saturating_sub(1) > max_hops {
        return Err(reason(
            Code::ChainDepthExceeded,
            format!(
                "chain has {} hops; at most {max_hops} allowed",
                tokens.len().saturating_sub(1)
            ),
        ));
    }
    let Some((root_token, hops)) = tokens.split_first() else {
        return Err(reason(
            Code::CredentialsMissing,
            "no delegation token was presented",
        ));
    };
    let (root, person) = verify_root(ctx, root_token)?;
    let mut principal = Principal {
        kind: "delegation",
        agent: root.agent_id.clone(),
        user: person.user,
        groups: person.groups,
        issuer: person.issuer,
        chain: alloc::vec![root.agent_id.clone()],
        key: root.key.clone(),
        scopes: root.scopes.clone(),
        details: root.details.clone(),
        jtis: alloc::vec![root.jti.clone()],
        aud: root.aud.clone(),
        exp: root.exp,
        act: root.act.clone(),
        hops: alloc::vec![hop_value(&root)],
    };
    let mut parent = root;
    for (i, token) in hops.iter().enumerate() {
        let remaining_below_parent = hops.len() - i;
        let link = verify_hop(ctx, &parent, token, remaining_below_parent, &principal.user)?;
        principal.key = link.key.clone();
        principal.agent = link.agent_id.clone();
        principal.chain.push(link.agent_id.clone());
        principal.scopes = link.scopes.clone();
        principal.details = link.details.clone();
        principal.jtis.push(link.jti.clone());
        principal.aud = link.aud.clone();
        principal.exp = principal.exp.min(link.exp);
        principal.act = link.act.clone();
        principal.hops.push(hop_value(&link));
        parent = link;
    }
    // A hop may narrow the audience, but what is presented here must still be meant for here.
    let here = ctx.bundle.issuer(&principal.issuer).map(|i| &i.audiences);
    if !here.is_some_and(|audiences| principal.aud.iter().any(|a| audiences.contains(a))) {
        return Err(reason(
            Code::TokenAudienceInvalid,
            "the chain's last token names no audience trusted for its issuer",
        ));
    }
    Ok(principal)
}

fn hop_value(link: &Link<'_, '_>) -> PolicyHop {
    PolicyHop {
        agent: link.agent_id.clone(),
        scopes: link.scopes.as_slice().to_vec(),
        authorization_details: link.details.clone(),
        jti: link.jti.clone(),
        exp: link.exp,
    }
}

fn verify_root<'t, 'b>(ctx: &Ctx<'b>, token: &'t str) -> Result<(Link<'t, 'b>, Person), Reason> {
    let jws = Unverified::parse(token, limits::MAX_TOKEN_BYTES, false).map_err(jose_reason)?;
    if !typ_matches(jws.typ(), DELEGATION_TYP) {
        return Err(reason(
            Code::TokenTypInvalid,
            "delegation token typ must be at+jwt",
        ));
    }
    // `iss` chooses the keys to verify with, so it is the one claim read before verification.
    let iss = jws.hints().iss().map_err(|()| bad_claim(BadClaim("iss")))?;
    let issuer = ctx.bundle.issuer(iss).ok_or_else(|| {
        reason(
            Code::TokenIssuerUnknown,
            format!("issuer {iss} is not trusted"),
        )
    })?;
    if !issuer.issues(DELEGATION_TYP) {
        return Err(reason(
            Code::TokenTypInvalid,
            format!("issuer {iss} is not trusted for delegation tokens"),
        ));
    }
    let key = jws
        .kid()
        .and_then(|kid| issuer.keys.iter().find(|k| k.kid() == Some(kid)))
        .ok_or_else(|| {
            reason(
                Code::TokenKeyUnknown,
                format!("kid names no key of issuer {iss}"),
            )
        })?;
    let c: DelegationClaims =
        claims::read(ctx.verify_cached(jws, key).map_err(jose_reason)?).map_err(bad_claim)?;
    let sub = c.sub().required().map_err(bad_claim)?.as_str();
    let jti = c.jti().required().map_err(bad_claim)?.as_str();
    let window = Window::read(c.exp(), c.iat(), c.nbf()).map_err(bad_claim)?;
    let aud = &c.aud().required().map_err(bad_claim)?.0;
    let act = c.act().required().map_err(bad_claim)?;
    let jkt = &c.cnf().required().map_err(bad_claim)?.jkt;
    let scopes = scopes_of(c.scope()).map_err(bad_claim)?;
    let details = details_of(c.authorization_details()).map_err(bad_claim)?;
    let groups = c.groups().optional().map_err(bad_claim)?;
    window
        .check(ctx.now, ctx.bundle.settings.clock_skew)
        .map_err(|f| time_reason(f, "delegation token"))?;
    if !aud.iter().any(|a| issuer.audiences.contains(a)) {
        return Err(reason(
            Code::TokenAudienceInvalid,
            "aud names no audience trusted for this issuer",
        ));
    }
    check_revoked_jti(ctx, jti)?;
    let (agent, agent_key) = active_agent(ctx, &act.sub, jkt)?;
    let groups = groups.cloned().unwrap_or_default();
    if !agent.accepts_delegator(sub, &groups, false) {
        return Err(reason(
            Code::DelegationDelegatorNotAllowed,
            format!("{sub} may not delegate to {}", act.sub),
        ));
    }
    check_ceiling(agent, &scopes, &details)?;
    let person = Person {
        user: sub.to_owned(),
        groups,
        issuer: c.iss().required().map_err(bad_claim)?.as_str().to_owned(),
    };
    let link = Link {
        token,
        agent_id: act.sub.clone(),
        agent,
        key: agent_key,
        jti: jti.to_owned(),
        act: act.value.clone(),
        scopes,
        details,
        aud: aud.clone(),
        exp: window.exp,
    };
    Ok((link, person))
}

fn scopes_of(scope: Field<'_, String>) -> Result<Scopes, BadClaim> {
    Ok(Scopes::parse(scope.optional()?.map_or("", String::as_str)))
}

fn details_of(details: Field<'_, Details>) -> Result<Vec<Value>, BadClaim> {
    Ok(details.optional()?.map(|d| d.0.clone()).unwrap_or_default())
}

fn verify_hop<'t, 'b>(
    ctx: &Ctx<'b>,
    parent: &Link<'_, 'b>,
    token: &'t str,
    hops_below_parent: usize,
    user: &str,
) -> Result<Link<'t, 'b>, Reason> {
    let jws = Unverified::parse(token, limits::MAX_TOKEN_BYTES, false).map_err(jose_reason)?;
    if !typ_matches(jws.typ(), SUBDELEGATION_TYP) {
        return Err(reason(
            Code::TokenTypInvalid,
            "sub-delegation typ must be mandate-subdelegation+jwt",
        ));
    }
    // A hop names its signer (`iss`) and its parent before it is verified: a hop that claims
    // another signer or parent than the chain's is refused as such, whatever its signature.
    let hints = jws.hints();
    let iss = hints.iss().map_err(|()| bad_claim(BadClaim("iss")))?;
    if iss != parent.agent_id {
        return Err(reason(
            Code::ChainSignerMismatch,
            format!(
                "hop issued by {iss}, but the previous hop's agent is {}",
                parent.agent_id
            ),
        ));
    }
    let expected_parent = b64::encode(&Sha256::digest(parent.token.as_bytes()));
    if hints.parent().map_err(|()| bad_claim(BadClaim("parent")))? != expected_parent {
        return Err(reason(
            Code::ChainParentMismatch,
            "parent does not hash the previous token",
        ));
    }
    // The previous link already proved its agent registered and `parent.key` one of its keys.
    let delegator = parent.agent;
    let c: HopClaims = claims::read(ctx.verify_cached(jws, parent.key).map_err(jose_reason)?)
        .map_err(bad_claim)?;
    let jti = c.jti().required().map_err(bad_claim)?.as_str();
    let window = Window::read(c.exp(), c.iat(), c.nbf()).map_err(bad_claim)?;
    let act = c.act().required().map_err(bad_claim)?;
    if act.value.get("act") != Some(&parent.act) {
        return Err(reason(
            Code::ChainParentMismatch,
            "act must nest the previous token's act (RFC 8693)",
        ));
    }
    let agent_id = act.sub.as_str();
    let jkt = &c.cnf().required().map_err(bad_claim)?.jkt;
    let scopes = scopes_of(c.scope()).map_err(bad_claim)?;
    let details = details_of(c.authorization_details()).map_err(bad_claim)?;
    let aud = c.aud().optional().map_err(bad_claim)?;
    window
        .check(ctx.now, ctx.bundle.settings.clock_skew)
        .map_err(|f| time_reason(f, "sub-delegation"))?;
    if window.exp > parent.exp {
        return Err(reason(
            Code::ChainLifetimeExtended,
            "a hop may not outlive its parent",
        ));
    }
    if c.sub().required().map_err(bad_claim)?.as_str() != user {
        return Err(reason(
            Code::ChainSubjectMismatch,
            "a hop must act for the same person",
        ));
    }
    check_revoked_jti(ctx, jti)?;
    if !delegator.may_delegate_to(agent_id) {
        return Err(reason(
            Code::ChainDelegateNotAllowed,
            format!("{} may not sub-delegate to {agent_id}", parent.agent_id),
        ));
    }
    let allowed_below = delegator
        .max_depth
        .unwrap_or(ctx.bundle.settings.max_chain_depth) as usize;
    if hops_below_parent > allowed_below {
        return Err(reason(
            Code::ChainDepthExceeded,
            format!("{} allows {allowed_below} hops below it", parent.agent_id),
        ));
    }
    let (agent, agent_key) = active_agent(ctx, agent_id, jkt)?;
    if !agent.accepts_delegator(&parent.agent_id, &[], true) {
        return Err(reason(
            Code::DelegationDelegatorNotAllowed,
            format!("{} may not delegate to {agent_id}", parent.agent_id),
        ));
    }
    let aud = aud.map_or_else(|| parent.aud.clone(), |a| a.0.clone());
    let widened_aud = !aud.iter().all(|a| parent.aud.contains(a));
    if widened_aud
        || !parent.scopes.covers_all(&scopes)
        || !scope::details_cover_all(&parent.details, &details)
    {
        return Err(reason(
            Code::ChainScopeEscalation,
            format!("{} asks for more than {} holds", agent_id, parent.agent_id),
        ));
    }
    check_ceiling(agent, &scopes, &details)?;
    Ok(Link {
        token,
        agent_id: agent_id.to_owned(),
        agent,
        key: agent_key,
        jti: jti.to_owned(),
        act: act.value.clone(),
        scopes,
        details,
        aud,
        exp: window.exp,
    })
}

fn check_revoked_jti(ctx: &Ctx<'_>, jti: &str) -> Result<(), Reason> {
    if ctx.bundle.revocations.jti.iter().any(|r| r == jti) {
        return Err(reason(
            Code::TokenRevoked,
            format!("token {jti} is revoked"),
        ));
    }
    Ok(())
}

/// The agent is registered, active, not revoked, and `jkt` is one of its unrevoked keys.
/// Returns the agent and that key: the one registry lookup a token's agent gets.
pub(crate) fn active_agent<'b>(
    ctx: &Ctx<'b>,
    agent_id: &str,
    jkt: &str,
) -> Result<(&'b Agent, &'b PublicJwk), Reason> {
    let agent = ctx
        .bundle
        .agents
        .get(agent_id)
        .ok_or_else(|| reason(Code::AgentUnknown, format!("{agent_id} is not registered")))?;
    if ctx.bundle.revocations.agents.iter().any(|a| a == agent_id) {
        return Err(reason(Code::AgentRevoked, format!("{agent_id} is revoked")));
    }
    match agent.status {
        AgentStatus::Active => {}
        AgentStatus::Suspended => {
            return Err(reason(
                Code::AgentSuspended,
                format!("{agent_id} is suspended"),
            ));
        }
        AgentStatus::Revoked => {
            return Err(reason(Code::AgentRevoked, format!("{agent_id} is revoked")));
        }
    }
    if ctx.bundle.revocations.keys.iter().any(|k| k == jkt) {
        return Err(reason(Code::AgentKeyRevoked, "the agent's key is revoked"));
    }
    let key = agent.key_by_thumbprint(jkt).ok_or_else(|| {
        reason(
            Code::AgentKeyMismatch,
            format!("cnf.jkt names no key of {agent_id}"),
        )
    })?;
    Ok((agent, key))
}

fn check_ceiling(agent: &Agent, scopes: &Scopes, details: &[Value]) -> Result<(), Reason> {
    if !agent.ceiling_scopes.covers_all(scopes)
        || !scope::details_cover_all(&agent.ceiling_details, details)
    {
        return Err(reason(
            Code::DelegationScopeExceedsCeiling,
            format!("delegation exceeds the ceiling of {}", agent.id),
        ));
    }
    Ok(())
}

/// `b64url(sha256(token))`: RFC 9449's `ath`, and a hop's `parent`.
#[must_use]
pub fn token_hash(token: &str) -> String {
    b64::encode(&Sha256::digest(token.as_bytes()))
}
