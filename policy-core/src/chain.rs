//! Delegation chains: a person's grant to an agent (an RFC 9068 access token from a trusted
//! issuer, the agent in RFC 8693 `act`, its key in `cnf.jkt`), then zero or more sub-delegation
//! hops, each signed by the previous agent's bound key, naming its parent by hash and only
//! narrowing. What survives is the effective grant: the last hop's scopes, which every check
//! has proven to lie within every hop before it and within every agent's ceiling.

use crate::bundle::{DELEGATION_TYP, SUBDELEGATION_TYP};
use crate::claims::{self, BadClaim, Claims, TimeFault, Window};
use crate::ctx::Ctx;
use crate::jose::{JoseError, Jws, PublicJwk, typ_matches};
use crate::principal::Principal;
use crate::reason::{Code, Reason, reason};
use crate::registry::{Agent, AgentStatus};
use crate::scope::{self, Scopes};
use crate::{b64, limits};
use alloc::{borrow::ToOwned, format, string::String, vec::Vec};
use serde_json::{Value, json};
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

/// The parts of one verified token a later hop is checked against.
struct Link<'t> {
    token: &'t str,
    claims: Claims,
    agent: String,
    jkt: String,
    scopes: Scopes,
    details: Vec<Value>,
    aud: Vec<String>,
    exp: i64,
}

impl Link<'_> {
    fn act(&self) -> &Value {
        self.claims.get("act").unwrap_or(&Value::Null)
    }
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
    let root = verify_root(ctx, root_token)?;
    let groups = claims::opt_str_array(&root.claims, "groups").map_err(bad_claim)?;
    let mut principal = Principal {
        kind: "delegation",
        agent: root.agent.clone(),
        user: claims::req_str(&root.claims, "sub")
            .map_err(bad_claim)?
            .to_owned(),
        groups,
        issuer: claims::req_str(&root.claims, "iss")
            .map_err(bad_claim)?
            .to_owned(),
        chain: alloc::vec![root.agent.clone()],
        key: acting_key(ctx, &root.agent, &root.jkt)?.clone(),
        scopes: root.scopes.clone(),
        details: root.details.clone(),
        jtis: alloc::vec![
            claims::req_str(&root.claims, "jti")
                .map_err(bad_claim)?
                .to_owned()
        ],
        aud: root.aud.clone(),
        exp: root.exp,
        act: root.act().clone(),
        hops: alloc::vec![hop_value(&root)],
    };
    let mut parent = root;
    for (i, token) in hops.iter().enumerate() {
        let remaining_below_parent = hops.len() - i;
        let link = verify_hop(ctx, &parent, token, remaining_below_parent, &principal.user)?;
        principal.key = acting_key(ctx, &link.agent, &link.jkt)?.clone();
        principal.agent = link.agent.clone();
        principal.chain.push(link.agent.clone());
        principal.scopes = link.scopes.clone();
        principal.details = link.details.clone();
        principal.jtis.push(
            claims::req_str(&link.claims, "jti")
                .map_err(bad_claim)?
                .to_owned(),
        );
        principal.aud = link.aud.clone();
        principal.exp = principal.exp.min(link.exp);
        principal.act = link.act().clone();
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

fn hop_value(link: &Link<'_>) -> Value {
    json!({"agent": link.agent, "scopes": link.scopes.as_slice(), "authorization_details": link.details,
           "jti": link.claims.get("jti"), "exp": link.exp})
}

fn acting_key<'b>(ctx: &Ctx<'b>, agent: &str, jkt: &str) -> Result<&'b PublicJwk, Reason> {
    ctx.bundle
        .agents
        .get(agent)
        .and_then(|a| a.key_by_thumbprint(jkt))
        .ok_or_else(|| reason(Code::AgentKeyMismatch, "cnf.jkt names no key of the agent"))
}

fn verify_root<'t>(ctx: &Ctx<'_>, token: &'t str) -> Result<Link<'t>, Reason> {
    let jws = Jws::parse(token, limits::MAX_TOKEN_BYTES, false).map_err(jose_reason)?;
    if !typ_matches(jws.typ(), DELEGATION_TYP) {
        return Err(reason(
            Code::TokenTypInvalid,
            "delegation token typ must be at+jwt",
        ));
    }
    let iss = claims::req_str(jws.claims(), "iss").map_err(bad_claim)?;
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
    ctx.verify_cached(&jws, key).map_err(jose_reason)?;
    let c = jws.claims();
    claims::req_str(c, "sub").map_err(bad_claim)?;
    claims::req_str(c, "jti").map_err(bad_claim)?;
    let window = Window::read(c).map_err(bad_claim)?;
    let aud = claims::audiences(c)
        .map_err(bad_claim)?
        .ok_or(bad_claim(BadClaim("aud")))?;
    let (agent_id, _) = claims::actor(c).map_err(bad_claim)?;
    let jkt = claims::jkt(c).map_err(bad_claim)?;
    let scopes = Scopes::parse(
        claims::opt_str(c, "scope")
            .map_err(bad_claim)?
            .unwrap_or(""),
    );
    let details =
        scope::parse_details(c).map_err(|()| bad_claim(BadClaim("authorization_details")))?;
    let sub = claims::req_str(c, "sub").map_err(bad_claim)?;
    let groups = claims::opt_str_array(c, "groups").map_err(bad_claim)?;
    window
        .check(ctx.now, ctx.bundle.settings.clock_skew)
        .map_err(|f| time_reason(f, "delegation token"))?;
    if !aud.iter().any(|a| issuer.audiences.contains(a)) {
        return Err(reason(
            Code::TokenAudienceInvalid,
            "aud names no audience trusted for this issuer",
        ));
    }
    check_revoked_jti(ctx, c)?;
    let agent = active_agent(ctx, agent_id, jkt)?;
    if !agent.accepts_delegator(sub, &groups, false) {
        return Err(reason(
            Code::DelegationDelegatorNotAllowed,
            format!("{sub} may not delegate to {agent_id}"),
        ));
    }
    check_ceiling(agent, &scopes, &details)?;
    Ok(Link {
        token,
        claims: c.clone(),
        agent: agent_id.to_owned(),
        jkt: jkt.to_owned(),
        scopes,
        details,
        aud,
        exp: window.exp,
    })
}

fn verify_hop<'t>(
    ctx: &Ctx<'_>,
    parent: &Link<'_>,
    token: &'t str,
    hops_below_parent: usize,
    user: &str,
) -> Result<Link<'t>, Reason> {
    let jws = Jws::parse(token, limits::MAX_TOKEN_BYTES, false).map_err(jose_reason)?;
    if !typ_matches(jws.typ(), SUBDELEGATION_TYP) {
        return Err(reason(
            Code::TokenTypInvalid,
            "sub-delegation typ must be mandate-subdelegation+jwt",
        ));
    }
    let c = jws.claims();
    let iss = claims::req_str(c, "iss").map_err(bad_claim)?;
    if iss != parent.agent {
        return Err(reason(
            Code::ChainSignerMismatch,
            format!(
                "hop issued by {iss}, but the previous hop's agent is {}",
                parent.agent
            ),
        ));
    }
    let expected_parent = b64::encode(&Sha256::digest(parent.token.as_bytes()));
    if claims::req_str(c, "parent").map_err(bad_claim)? != expected_parent {
        return Err(reason(
            Code::ChainParentMismatch,
            "parent does not hash the previous token",
        ));
    }
    let delegator = ctx
        .bundle
        .agents
        .get(&parent.agent)
        .ok_or_else(|| reason(Code::AgentUnknown, "delegating agent is not registered"))?;
    let signer = acting_key(ctx, &parent.agent, &parent.jkt)?;
    ctx.verify_cached(&jws, signer).map_err(jose_reason)?;
    claims::req_str(c, "jti").map_err(bad_claim)?;
    let window = Window::read(c).map_err(bad_claim)?;
    let (agent_id, act) = claims::actor(c).map_err(bad_claim)?;
    if act.get("act") != Some(parent.act()) {
        return Err(reason(
            Code::ChainParentMismatch,
            "act must nest the previous token's act (RFC 8693)",
        ));
    }
    let jkt = claims::jkt(c).map_err(bad_claim)?;
    let scopes = Scopes::parse(
        claims::opt_str(c, "scope")
            .map_err(bad_claim)?
            .unwrap_or(""),
    );
    let details =
        scope::parse_details(c).map_err(|()| bad_claim(BadClaim("authorization_details")))?;
    let aud = claims::audiences(c).map_err(bad_claim)?;
    window
        .check(ctx.now, ctx.bundle.settings.clock_skew)
        .map_err(|f| time_reason(f, "sub-delegation"))?;
    if window.exp > parent.exp {
        return Err(reason(
            Code::ChainLifetimeExtended,
            "a hop may not outlive its parent",
        ));
    }
    if claims::req_str(c, "sub").map_err(bad_claim)? != user {
        return Err(reason(
            Code::ChainSubjectMismatch,
            "a hop must act for the same person",
        ));
    }
    check_revoked_jti(ctx, c)?;
    if !delegator.may_delegate_to(agent_id) {
        return Err(reason(
            Code::ChainDelegateNotAllowed,
            format!("{} may not sub-delegate to {agent_id}", parent.agent),
        ));
    }
    let allowed_below = delegator
        .max_depth
        .unwrap_or(ctx.bundle.settings.max_chain_depth) as usize;
    if hops_below_parent > allowed_below {
        return Err(reason(
            Code::ChainDepthExceeded,
            format!("{} allows {allowed_below} hops below it", parent.agent),
        ));
    }
    let agent = active_agent(ctx, agent_id, jkt)?;
    if !agent.accepts_delegator(&parent.agent, &[], true) {
        return Err(reason(
            Code::DelegationDelegatorNotAllowed,
            format!("{} may not delegate to {agent_id}", parent.agent),
        ));
    }
    let aud = aud.unwrap_or_else(|| parent.aud.clone());
    let widened_aud = !aud.iter().all(|a| parent.aud.contains(a));
    if widened_aud
        || !parent.scopes.covers_all(&scopes)
        || !scope::details_cover_all(&parent.details, &details)
    {
        return Err(reason(
            Code::ChainScopeEscalation,
            format!("{} asks for more than {} holds", agent_id, parent.agent),
        ));
    }
    check_ceiling(agent, &scopes, &details)?;
    Ok(Link {
        token,
        claims: c.clone(),
        agent: agent_id.to_owned(),
        jkt: jkt.to_owned(),
        scopes,
        details,
        aud,
        exp: window.exp,
    })
}

fn check_revoked_jti(ctx: &Ctx<'_>, c: &Claims) -> Result<(), Reason> {
    let jti = claims::req_str(c, "jti").map_err(bad_claim)?;
    if ctx.bundle.revocations.jti.iter().any(|r| r == jti) {
        return Err(reason(
            Code::TokenRevoked,
            format!("token {jti} is revoked"),
        ));
    }
    Ok(())
}

/// The agent is registered, active, not revoked, and `jkt` is one of its unrevoked keys.
pub(crate) fn active_agent<'b>(
    ctx: &Ctx<'b>,
    agent_id: &str,
    jkt: &str,
) -> Result<&'b Agent, Reason> {
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
    if agent.key_by_thumbprint(jkt).is_none() {
        return Err(reason(
            Code::AgentKeyMismatch,
            format!("cnf.jkt names no key of {agent_id}"),
        ));
    }
    Ok(agent)
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
