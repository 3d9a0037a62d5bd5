//! The conformance cases. Each names the decision and reason codes it must produce; the
//! generator refuses to write a vector whose native decision disagrees.

use crate::tokens::{delegation, delegation_claims, hop, proof, with_header};
use crate::world::{API, IDP, Keys, NOW, PDP, jkt};
use policy_core::mint;
use policy_core::{PrivateJwk, b64};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub description: &'static str,
    pub load: &'static str,
    /// The exact input text (a JSON document, or raw bytes for malformed-input cases).
    pub input: String,
    pub replay: Option<Value>,
    pub decision: &'static str,
    pub codes: Vec<&'static str>,
}

pub(crate) const SECRETS: &str = "https://api.example.com/v1/secrets/db";
pub(crate) const TRIPS: &str = "https://api.example.com/v1/trips/42";
pub(crate) const TRUSTED_IP: &str = "10.20.0.7";

pub(crate) fn req(method: &str, uri: &str, action: &str, ip: &str) -> Value {
    json!({"method": method, "uri": uri, "ip": ip, "action": action})
}

fn secrets_req(ip: &str) -> Value {
    let mut r = req("GET", SECRETS, "secrets:read", ip);
    r["resource"] = json!("secret/db");
    r
}

pub(crate) fn input(request: Value, credentials: Value) -> String {
    json!({"now": NOW, "request": request, "credentials": credentials}).to_string()
}

/// Credentials for a chain whose last agent holds `key`, with a fresh proof for `request`.
pub(crate) fn creds(chain: &[String], key: &PrivateJwk, request: &Value, jti: &str) -> Value {
    let method = request["method"].as_str().unwrap_or("GET");
    let uri = request["uri"].as_str().unwrap_or("");
    let last = chain.last().map(String::as_str);
    json!({"delegation": chain, "proof": proof(key, method, uri, NOW - 1, jti, last)})
}

pub(crate) struct Builder<'k> {
    pub(crate) k: &'k Keys,
    pub(crate) cases: Vec<Case>,
}

impl Builder<'_> {
    pub(crate) fn add(
        &mut self,
        name: &str,
        description: &'static str,
        load: &'static str,
        input: String,
        decision: &'static str,
        codes: &[&'static str],
    ) {
        self.cases.push(Case {
            name: name.into(),
            description,
            load,
            input,
            replay: None,
            decision,
            codes: codes.to_vec(),
        });
    }

    pub(crate) fn allow(&mut self, name: &str, description: &'static str, input: String) {
        self.add(name, description, "default", input, "allow", &[]);
    }

    pub(crate) fn deny(
        &mut self,
        name: &str,
        description: &'static str,
        input: String,
        code: &'static str,
    ) {
        self.add(name, description, "default", input, "deny", &[code]);
    }

    /// alice → travel-booker with `scope`, edited; the request is `request`.
    fn booker(
        &self,
        scope: &str,
        jti: &str,
        request: &Value,
        edit: impl FnOnce(&mut Value),
    ) -> String {
        let t = delegation(
            self.k,
            "alice",
            "agent:travel-booker",
            &self.k.booker,
            scope,
            jti,
            edit,
        );
        input(
            request.clone(),
            creds(&[t], &self.k.booker, request, &format!("p-{jti}")),
        )
    }
}

pub fn all(k: &Keys) -> Vec<Case> {
    let mut b = Builder {
        k,
        cases: Vec::new(),
    };
    seed(&mut b);
    bundle_cases(&mut b);
    token_cases(&mut b);
    agent_cases(&mut b);
    chain_cases(&mut b);
    proof_cases(&mut b);
    grant_cases(&mut b);
    policy_cases(&mut b);
    input_cases(&mut b);
    crate::security_cases::all(&mut b);
    jti_bound_cases(&mut b);
    replay_history_cases(&mut b);
    time_cases(&mut b);
    b.cases
}

/// Guardrails that read the calendar of `input.now` (`time.weekday`, `time.clock`,
/// `time.date`, UTC): NOW is a Friday, 08:00.
fn time_cases(b: &mut Builder<'_>) {
    let trips = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let input = b.booker("trips:read", "d-time1", &trips, |_| {});
    b.add(
        "policy/weekday-office-hours",
        "a guardrail allowing weekdays from 08:00, by the calendar of input.now",
        "weekdays-only",
        input.clone(),
        "allow",
        &[],
    );
    b.add(
        "policy/not-on-fridays",
        "a guardrail denying Fridays, by the weekday of input.now",
        "no-fridays",
        input,
        "deny",
        &["policy.denied"],
    );
}

/// `input` with `replay_since` set: the host's replay store remembers uses since `since` only.
fn since(input: &str, since: i64) -> String {
    let mut v: Value = serde_json::from_str(input).unwrap_or_default();
    v["replay_since"] = json!(since);
    v.to_string()
}

/// A host whose replay store does not survive restarts says since when it remembers
/// (`replay_since`): a proof or a grant issued before then is `replay.history_unknown`; one
/// issued at that second or later is decided as usual.
fn replay_history_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    // The proof of `booker` is issued at NOW - 1.
    let before = b.booker("trips:read", "d-hist-1", &r, |_| {});
    b.deny(
        "replay/history-unknown-proof",
        "a proof issued a second before the replay store began remembering",
        since(&before, NOW),
        "replay.history_unknown",
    );
    let at = b.booker("trips:read", "d-hist-2", &r, |_| {});
    b.allow(
        "replay/history-known-proof",
        "a proof issued the second the replay store began remembering",
        since(&at, NOW - 1),
    );
    // A grant issued at NOW - 5, with its proof at NOW - 1: the grant is older than the store.
    let g = mint::token("mandate-grant+jwt", &grant_claims(k, "g-hist"), &k.pdp);
    let p = proof(&k.booker, "GET", TRIPS, NOW - 1, "p-g-hist", Some(&g));
    let presented = input(r.clone(), json!({"grant": g, "proof": p}));
    b.deny(
        "replay/history-unknown-grant",
        "a grant minted before the replay store began remembering, with a fresh proof",
        since(&presented, NOW - 2),
        "replay.history_unknown",
    );
    b.allow(
        "replay/history-known-grant",
        "the same grant, the store remembering since its minting",
        since(&presented, NOW - 5),
    );
}

/// jti bounds: a host keeps every used jti, so one over `MAX_JTI_BYTES` is a bad claim, for
/// the delegation (`token.claims_invalid`) and the proof (`proof.malformed`); at the bound, fine.
fn jti_bound_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let raw = |t: String, jti: &str| input(r.clone(), creds(&[t], &k.booker, &r, jti));
    let max = policy_core::limits::MAX_JTI_BYTES;
    let long_delegation = b.booker("trips:read", &"d".repeat(max + 1), &r, |_| {});
    b.deny(
        "token/jti-too-long",
        "a delegation jti one byte over the bound",
        long_delegation,
        "token.claims_invalid",
    );
    let fine = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-jti-bound",
        |_| {},
    );
    b.deny(
        "proof/jti-too-long",
        "a proof jti one byte over the bound",
        raw(fine.clone(), &"p".repeat(max + 1)),
        "proof.malformed",
    );
    b.allow(
        "proof/jti-at-the-bound",
        "a proof jti of exactly the bound",
        raw(fine, &"q".repeat(max)),
    );
}

fn seed(b: &mut Builder<'_>) {
    let r = secrets_req(TRUSTED_IP);
    b.allow(
        "seed/allow-trusted-network",
        "alice's delegation, secrets read from 10.20.0.0/16",
        b.booker("secrets:read", "d-seed-1", &r, |_| {}),
    );
    let r = secrets_req("203.0.113.9");
    b.add(
        "seed/deny-untrusted-network",
        "the same read from outside the trusted CIDR",
        "default",
        b.booker("secrets:read", "d-seed-2", &r, |_| {}),
        "deny",
        &["policy.denied"],
    );
    let r = secrets_req(TRUSTED_IP);
    let t = delegation(
        b.k,
        "bob",
        "agent:travel-booker",
        &b.k.booker,
        "secrets:read",
        "d-seed-3",
        |_| {},
    );
    b.add(
        "seed/deny-other-user",
        "the same read on behalf of bob, not the secrets' owner",
        "default",
        input(r.clone(), creds(&[t], &b.k.booker, &r, "p-seed-3")),
        "deny",
        &["policy.denied"],
    );
    let r = json!({"method": "GET", "uri": SECRETS, "ip": "fd00:20::5", "action": "secrets:read"});
    b.allow(
        "seed/allow-trusted-ipv6",
        "trusted IPv6 range",
        b.booker("secrets:read", "d-seed-4", &r, |_| {}),
    );
    let r = req(
        "GET",
        "HTTPS://API.EXAMPLE.COM:443/v1/%74rips/42?view=full",
        "trips:read",
        TRUSTED_IP,
    );
    let t = delegation(
        b.k,
        "alice",
        "agent:travel-booker",
        &b.k.booker,
        "trips:read",
        "d-seed-5",
        |_| {},
    );
    let p = proof(
        &b.k.booker,
        "GET",
        "https://api.example.com/v1/trips/42",
        NOW - 1,
        "p-seed-5",
        Some(&t),
    );
    b.allow(
        "seed/allow-normalized-uri",
        "RFC 9449 comparison: case, default port, percent-encoding and query",
        input(r, json!({"delegation": [t], "proof": p})),
    );
    let r = json!({"method": "GET", "uri": TRIPS, "ip": TRUSTED_IP});
    b.allow(
        "seed/allow-without-action",
        "no action named: guardrails alone decide (trips path)",
        {
            let t = delegation(
                b.k,
                "alice",
                "agent:travel-booker",
                &b.k.booker,
                "trips:read",
                "d-seed-6",
                |_| {},
            );
            let mut i: Value =
                serde_json::from_str(&input(r.clone(), creds(&[t], &b.k.booker, &r, "p-seed-6")))
                    .unwrap_or_default();
            i["request"]["action"] = json!("trips:read");
            i.to_string()
        },
    );
    let r = req(
        "POST",
        "https://api.example.com/v1/trips",
        "trips:book",
        TRUSTED_IP,
    );
    b.allow(
        "seed/allow-with-obligations",
        "booking is allowed with a max_ttl obligation (the core enforces it)",
        b.booker("trips:book", "d-seed-7", &r, |_| {}),
    );
    let r = json!({"method": "POST", "uri": "https://api.example.com/v1/payments", "ip": TRUSTED_IP, "action": "initiate", "resource": "https://bank.example.com"});
    let ad = json!([{"type": "payment_initiation", "actions": ["initiate"], "locations": ["https://bank.example.com"], "currency": "EUR"}]);
    b.allow(
        "seed/allow-authorization-details",
        "RFC 9396 details cover the action at its location",
        b.booker("", "d-seed-8", &r, |c| c["authorization_details"] = ad),
    );
    let t = delegation(
        b.k,
        "carol@corp.example",
        "agent:travel-booker",
        &b.k.booker,
        "trips:read",
        "d-seed-9",
        |_| {},
    );
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    b.allow(
        "seed/allow-delegator-pattern",
        "a delegator matched by pattern",
        input(r.clone(), creds(&[t], &b.k.booker, &r, "p-seed-9")),
    );
    let t = delegation(
        b.k,
        "dave",
        "agent:travel-booker",
        &b.k.booker,
        "trips:read",
        "d-seed-10",
        |c| c["groups"] = json!(["travel-team"]),
    );
    b.allow(
        "seed/allow-delegator-group",
        "a delegator matched by group",
        input(r.clone(), creds(&[t], &b.k.booker, &r, "p-seed-10")),
    );
}

fn bundle_cases(b: &mut Builder<'_>) {
    let r = secrets_req(TRUSTED_IP);
    let i = b.booker("secrets:read", "d-bundle", &r, |_| {});
    for (load, code, description) in [
        ("missing", "bundle.missing", "no bundle configured"),
        (
            "no-trust-keys",
            "bundle.missing",
            "a bundle but no trust keys",
        ),
        ("malformed", "bundle.malformed", "the bundle is not a JWS"),
        (
            "tampered",
            "bundle.signature_invalid",
            "a payload byte of the bundle was changed",
        ),
        (
            "untrusted",
            "bundle.untrusted_key",
            "signed by a key the host does not trust",
        ),
        ("expired", "bundle.expired", "the bundle's exp has passed"),
        (
            "not-yet-valid",
            "bundle.not_yet_valid",
            "the bundle's nbf is in the future",
        ),
        (
            "bad-policy",
            "bundle.policy_invalid",
            "a guardrail does not parse",
        ),
        (
            "clock-policy",
            "bundle.policy_invalid",
            "a guardrail reads the clock",
        ),
        (
            "bad-output",
            "policy.output_invalid",
            "a guardrail returns a string for allow",
        ),
    ] {
        b.add(
            &format!("bundle/{load}"),
            description,
            load,
            i.clone(),
            "deny",
            &[code],
        );
    }
    b.add(
        "bundle/rotated-trust-key",
        "a second trust key verifies a bundle signed by it",
        "rotated",
        i,
        "allow",
        &[],
    );
}

fn token_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let claims = delegation_claims(
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-tok",
    );
    let raw = |t: String, jti: &str| input(r.clone(), creds(&[t], &k.booker, &r, jti));
    b.deny(
        "token/too-large",
        "an 8 KiB+ token",
        raw(format!("{}.e30.AA", "A".repeat(9000)), "p-t1"),
        "token.too_large",
    );
    b.deny(
        "token/malformed",
        "two parts",
        raw("eyJhbGciOiJFUzI1NiJ9.e30".into(), "p-t2"),
        "token.malformed",
    );
    b.deny(
        "token/bad-base64",
        "padding in the payload",
        raw("eyJhbGciOiJFUzI1NiJ9.e30=.AA".into(), "p-t2b"),
        "token.malformed",
    );
    let hs = format!(
        "{}.{}.{}",
        b64::encode(br#"{"alg":"HS256","typ":"at+jwt","kid":"idp-1"}"#),
        b64::encode(claims.to_string().as_bytes()),
        b64::encode(&[7u8; 32])
    );
    b.deny(
        "token/alg-hs256",
        "HS256 keyed with the public key must never verify",
        raw(hs, "p-t3"),
        "token.alg_not_allowed",
    );
    let none = format!(
        "{}.{}.",
        b64::encode(br#"{"alg":"none","typ":"at+jwt"}"#),
        b64::encode(claims.to_string().as_bytes())
    );
    b.deny(
        "token/alg-none",
        "alg none",
        raw(none, "p-t4"),
        "token.alg_not_allowed",
    );
    let jku = with_header(
        json!({"typ": "at+jwt", "kid": "idp-1", "jku": "https://evil.example.com/jwks"}),
        &claims,
        &k.idp,
    );
    b.deny(
        "token/header-jku",
        "a remote key URL in the header",
        raw(jku, "p-t5"),
        "token.header_invalid",
    );
    let crit = with_header(
        json!({"typ": "at+jwt", "kid": "idp-1", "crit": ["exp"]}),
        &claims,
        &k.idp,
    );
    b.deny(
        "token/header-crit",
        "crit is not supported",
        raw(crit, "p-t6"),
        "token.header_invalid",
    );
    let embedded = with_header(
        json!({"typ": "at+jwt", "kid": "idp-1", "jwk": k.stranger.public().to_json_value()}),
        &claims,
        &k.stranger,
    );
    b.deny(
        "token/header-jwk",
        "a key embedded in a delegation header",
        raw(embedded, "p-t7"),
        "token.header_invalid",
    );
    let typ = with_header(json!({"typ": "JWT", "kid": "idp-1"}), &claims, &k.idp);
    b.deny(
        "token/typ-jwt",
        "typ JWT instead of at+jwt (RFC 8725 cross-JWT confusion)",
        raw(typ, "p-t8"),
        "token.typ_invalid",
    );
    let as_grant = with_header(
        json!({"typ": "mandate-grant+jwt", "kid": "idp-1"}),
        &claims,
        &k.idp,
    );
    b.deny(
        "token/typ-confusion",
        "a grant-typed token presented as a delegation",
        raw(as_grant, "p-t8b"),
        "token.typ_invalid",
    );
    let grant_issuer = mint::delegation(
        &json!({"iss": PDP, "sub": "alice", "aud": API, "iat": NOW, "exp": NOW + 60, "jti": "x", "scope": "trips:read", "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": jkt(&k.booker)}}),
        &k.pdp,
    );
    b.deny(
        "token/issuer-not-for-delegation",
        "the grant issuer may not issue delegations",
        raw(grant_issuer, "p-t8c"),
        "token.typ_invalid",
    );
    b.deny(
        "token/issuer-unknown",
        "iss not in the bundle",
        b.booker("trips:read", "d-t9", &r, |c| {
            c["iss"] = json!("https://evil.example.com")
        }),
        "token.issuer_unknown",
    );
    let unknown_kid = mint::delegation(&claims, &k.idp.clone().with_kid(Some("idp-9".into())));
    b.deny(
        "token/kid-unknown",
        "kid names no key of the issuer",
        raw(unknown_kid, "p-t10"),
        "token.key_unknown",
    );
    let forged = mint::delegation(&claims, &k.stranger.clone().with_kid(Some("idp-1".into())));
    b.deny(
        "token/signature-invalid",
        "signed by another key under the issuer's kid",
        raw(forged, "p-t11"),
        "token.signature_invalid",
    );
    b.deny(
        "token/claim-wrong-type",
        "exp as a string",
        b.booker("trips:read", "d-t12", &r, |c| c["exp"] = json!("soon")),
        "token.claims_invalid",
    );
    b.deny(
        "token/claim-missing-act",
        "no act claim",
        b.booker("trips:read", "d-t13", &r, |c| {
            c.as_object_mut().map(|o| o.remove("act"));
        }),
        "token.claims_invalid",
    );
    b.deny(
        "token/duplicate-member",
        "duplicate claim names",
        {
            let text = claims.to_string().replacen("{", r#"{"sub":"mallory","#, 1);
            let h = b64::encode(br#"{"alg":"ES256","kid":"idp-1","typ":"at+jwt"}"#);
            let p = b64::encode(text.as_bytes());
            let sig = k.idp.sign(format!("{h}.{p}").as_bytes());
            raw(format!("{h}.{p}.{}", b64::encode(&sig)), "p-t14")
        },
        "token.malformed",
    );
    b.deny(
        "token/expired-at-skew",
        "now = exp + skew: expired",
        b.booker("trips:read", "d-t15", &r, |c| c["exp"] = json!(NOW - 60)),
        "token.expired",
    );
    b.allow(
        "token/valid-inside-skew",
        "now = exp + skew - 1: still valid",
        b.booker("trips:read", "d-t16", &r, |c| c["exp"] = json!(NOW - 59)),
    );
    b.deny(
        "token/not-yet-valid",
        "nbf = now + skew + 1",
        b.booker("trips:read", "d-t17", &r, |c| c["nbf"] = json!(NOW + 61)),
        "token.not_yet_valid",
    );
    b.allow(
        "token/nbf-at-skew",
        "nbf = now + skew: valid",
        b.booker("trips:read", "d-t18", &r, |c| c["nbf"] = json!(NOW + 60)),
    );
    b.deny(
        "token/iat-future",
        "iat beyond the skew",
        b.booker("trips:read", "d-t19", &r, |c| c["iat"] = json!(NOW + 120)),
        "token.not_yet_valid",
    );
    b.deny(
        "token/audience",
        "aud names another API",
        b.booker("trips:read", "d-t20", &r, |c| {
            c["aud"] = json!(["https://other.example.com"])
        }),
        "token.audience_invalid",
    );
    b.allow(
        "token/audience-array",
        "aud as an array including this API",
        b.booker("trips:read", "d-t21", &r, |c| {
            c["aud"] = json!(["https://other.example.com", API])
        }),
    );
    b.deny(
        "token/revoked",
        "jti on the revocation list",
        b.booker("trips:read", "revoked-jti-1", &r, |_| {}),
        "token.revoked",
    );
    b.deny(
        "credentials/missing",
        "no credentials",
        input(r.clone(), json!({})),
        "credentials.missing",
    );
    let t = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-t22",
        |_| {},
    );
    b.deny(
        "credentials/conflict",
        "a grant and a delegation together",
        input(r.clone(), json!({"delegation": [t], "grant": "x.y.z"})),
        "credentials.conflict",
    );
}

fn agent_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let with = |agent: &str, key: &PrivateJwk, user: &str, jti: &str| {
        let t = delegation(k, user, agent, key, "trips:read", jti, |_| {});
        input(r.clone(), creds(&[t], key, &r, &format!("p-{jti}")))
    };
    b.deny(
        "agent/unknown",
        "act.sub is not registered",
        with("agent:ghost", &k.stranger, "alice", "d-a1"),
        "agent.unknown",
    );
    b.deny(
        "agent/suspended",
        "a suspended agent",
        with("agent:suspended", &k.suspended, "alice", "d-a2"),
        "agent.suspended",
    );
    b.deny(
        "agent/revoked-status",
        "an agent whose status is revoked",
        with("agent:retired", &k.retired, "alice", "d-a3"),
        "agent.revoked",
    );
    b.deny(
        "agent/revoked-list",
        "an agent on the revocation list",
        with("agent:banned", &k.banned, "alice", "d-a4"),
        "agent.revoked",
    );
    b.deny(
        "agent/key-mismatch",
        "cnf.jkt names a key the agent does not have",
        with("agent:travel-booker", &k.stranger, "alice", "d-a5"),
        "agent.key_mismatch",
    );
    b.deny(
        "agent/key-revoked",
        "the agent's old key is revoked",
        with(
            "agent:travel-booker",
            &k.booker_compromised,
            "alice",
            "d-a6",
        ),
        "agent.key_revoked",
    );
    b.deny(
        "delegation/delegator-not-allowed",
        "carol may not delegate to the travel booker",
        with("agent:travel-booker", &k.booker, "carol", "d-a7"),
        "delegation.delegator_not_allowed",
    );
    b.deny(
        "delegation/scope-exceeds-ceiling",
        "secrets:write is above the ceiling",
        b.booker("trips:read secrets:write", "d-a8", &r, |_| {}),
        "delegation.scope_exceeds_ceiling",
    );
    let ad = json!([{"type": "payment_initiation", "actions": ["initiate", "refund"], "locations": ["https://bank.example.com"], "currency": "EUR"}]);
    b.deny(
        "delegation/details-exceed-ceiling",
        "refund is above the ceiling's details",
        b.booker("", "d-a9", &r, |c| c["authorization_details"] = ad),
        "delegation.scope_exceeds_ceiling",
    );
    let r2 = secrets_req(TRUSTED_IP);
    b.deny(
        "delegation/scope-insufficient",
        "trips:read does not cover secrets:read",
        b.booker("trips:read", "d-a10", &r2, |_| {}),
        "delegation.scope_insufficient",
    );
}

fn chain_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let root = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read secrets:read",
        "d-c-root",
        |_| {},
    );
    let exp = NOW + 1800;
    let sum = |scope: &str, jti: &str| {
        hop(
            &root,
            &k.booker,
            "agent:summarizer",
            &k.summarizer,
            scope,
            jti,
            exp,
        )
    };
    let run = |chain: Vec<String>, key: &PrivateJwk, jti: &str| {
        input(r.clone(), creds(&chain, key, &r, jti))
    };
    b.allow(
        "chain/two-agents",
        "alice → travel-booker → summarizer (trips:read)",
        run(
            vec![root.clone(), sum("trips:read", "h1")],
            &k.summarizer,
            "p-c1",
        ),
    );
    let h1 = sum("trips:read", "h2");
    let h2 = hop(
        &h1,
        &k.summarizer,
        "agent:leaf",
        &k.leaf,
        "trips:read",
        "h3",
        exp,
    );
    b.allow(
        "chain/three-agents",
        "two sub-delegation hops within every depth limit",
        run(vec![root.clone(), h1.clone(), h2.clone()], &k.leaf, "p-c2"),
    );
    let h3 = hop(
        &h2,
        &k.leaf,
        "agent:summarizer",
        &k.summarizer,
        "trips:read",
        "h4",
        exp,
    );
    b.deny(
        "chain/depth-exceeded",
        "three hops where the bundle allows two",
        run(
            vec![root.clone(), h1.clone(), h2, h3],
            &k.summarizer,
            "p-c3",
        ),
        "chain.depth_exceeded",
    );
    b.deny(
        "chain/escalation",
        "the sub-agent asks for calendar:read, which its parent never had",
        run(
            vec![root.clone(), sum("trips:read calendar:read", "h5")],
            &k.summarizer,
            "p-c4",
        ),
        "chain.scope_escalation",
    );
    let aud_wide = mint::subdelegation(
        &root,
        &mint::SubDelegation {
            agent: "agent:summarizer".into(),
            agent_key: k.summarizer.public().to_json_value(),
            scope: "trips:read".into(),
            authorization_details: None,
            aud: Some(vec!["https://other.example.com".into()]),
            iat: NOW - 60,
            exp,
            jti: "h6".into(),
        },
        &k.booker,
    )
    .unwrap_or_default();
    b.deny(
        "chain/audience-escalation",
        "a hop names an audience its parent lacks",
        run(vec![root.clone(), aud_wide], &k.summarizer, "p-c5"),
        "chain.scope_escalation",
    );
    let wide_root = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-c-aud",
        |c| c["aud"] = json!([API, "https://other.example.com"]),
    );
    let narrowed_away = mint::subdelegation(
        &wide_root,
        &mint::SubDelegation {
            agent: "agent:summarizer".into(),
            agent_key: k.summarizer.public().to_json_value(),
            scope: "trips:read".into(),
            authorization_details: None,
            aud: Some(vec!["https://other.example.com".into()]),
            iat: NOW - 60,
            exp,
            jti: "h6b".into(),
        },
        &k.booker,
    )
    .unwrap_or_default();
    b.deny(
        "chain/audience-narrowed-elsewhere",
        "a hop narrowed to another API's audience is refused here",
        run(vec![wide_root, narrowed_away], &k.summarizer, "p-c5b"),
        "token.audience_invalid",
    );
    b.deny(
        "chain/lifetime-extended",
        "a hop outlives its parent",
        run(
            vec![
                root.clone(),
                hop(
                    &root,
                    &k.booker,
                    "agent:summarizer",
                    &k.summarizer,
                    "trips:read",
                    "h7",
                    NOW + 7200,
                ),
            ],
            &k.summarizer,
            "p-c6",
        ),
        "chain.lifetime_extended",
    );
    b.deny(
        "chain/delegate-not-allowed",
        "travel-booker may not sub-delegate to agent:suspended",
        run(
            vec![
                root.clone(),
                hop(
                    &root,
                    &k.booker,
                    "agent:suspended",
                    &k.suspended,
                    "trips:read",
                    "h8",
                    exp,
                ),
            ],
            &k.suspended,
            "p-c7",
        ),
        "chain.delegate_not_allowed",
    );
    let other_root = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-c-other",
        |_| {},
    );
    let wrong_parent = hop(
        &other_root,
        &k.booker,
        "agent:summarizer",
        &k.summarizer,
        "trips:read",
        "h9",
        exp,
    );
    b.deny(
        "chain/parent-mismatch",
        "a hop names another token as its parent",
        run(vec![root.clone(), wrong_parent], &k.summarizer, "p-c8"),
        "chain.parent_mismatch",
    );
    let forged = hop(
        &root,
        &k.stranger,
        "agent:summarizer",
        &k.summarizer,
        "trips:read",
        "h10",
        exp,
    );
    b.deny(
        "chain/hop-signature",
        "a hop not signed by the delegating agent's bound key",
        run(vec![root.clone(), forged], &k.summarizer, "p-c9"),
        "token.signature_invalid",
    );
    let mut c = serde_json::from_slice::<Value>(
        &b64::decode(h1.split('.').nth(1).unwrap_or("")).unwrap_or_default(),
    )
    .unwrap_or_default();
    c["iss"] = json!("agent:summarizer");
    let signer_mismatch = mint::token("mandate-subdelegation+jwt", &c, &k.summarizer);
    b.deny(
        "chain/signer-mismatch",
        "a hop issued by someone other than the previous agent",
        run(vec![root.clone(), signer_mismatch], &k.summarizer, "p-c10"),
        "chain.signer_mismatch",
    );
    let mut c2 = serde_json::from_slice::<Value>(
        &b64::decode(h1.split('.').nth(1).unwrap_or("")).unwrap_or_default(),
    )
    .unwrap_or_default();
    c2["sub"] = json!("bob");
    let subject = mint::token(
        "mandate-subdelegation+jwt",
        &c2,
        &k.booker.clone().with_kid(Some("tb-1".into())),
    );
    b.deny(
        "chain/subject-mismatch",
        "a hop acting for another person",
        run(vec![root.clone(), subject], &k.summarizer, "p-c11"),
        "chain.subject_mismatch",
    );
    let mut c3 = serde_json::from_slice::<Value>(
        &b64::decode(h1.split('.').nth(1).unwrap_or("")).unwrap_or_default(),
    )
    .unwrap_or_default();
    c3["act"]["act"] = json!({"sub": "agent:someone-else"});
    let act = mint::token("mandate-subdelegation+jwt", &c3, &k.booker);
    b.deny(
        "chain/act-not-nested",
        "a hop whose act does not nest its parent's act",
        run(vec![root.clone(), act], &k.summarizer, "p-c12"),
        "chain.parent_mismatch",
    );
    let hotel = hop(
        &root,
        &k.booker,
        "agent:hotel-finder",
        &k.hotel,
        "trips:read",
        "h11",
        exp,
    );
    let post = req(
        "POST",
        "https://api.example.com/v1/trips",
        "trips:read",
        TRUSTED_IP,
    );
    b.add(
        "chain/high-risk-label",
        "a high-risk sub-agent may not POST (guardrail reads agent labels)",
        "default",
        input(
            post.clone(),
            creds(&[root.clone(), hotel], &k.hotel, &post, "p-c13"),
        ),
        "deny",
        &["policy.denied"],
    );
    let hop_leaf_direct = hop(
        &root,
        &k.booker,
        "agent:leaf",
        &k.leaf,
        "trips:read",
        "h12",
        exp,
    );
    b.deny(
        "chain/sub-agent-refuses-delegator",
        "travel-booker may not delegate to agent:leaf (not in may_delegate_to)",
        run(vec![root.clone(), hop_leaf_direct], &k.leaf, "p-c14"),
        "chain.delegate_not_allowed",
    );
    let hop_sum_wide = hop(
        &root,
        &k.booker,
        "agent:summarizer",
        &k.summarizer,
        "secrets:read trips:read",
        "h13",
        exp,
    );
    let leaf_secret = hop(
        &hop_sum_wide,
        &k.summarizer,
        "agent:leaf",
        &k.leaf,
        "secrets:read",
        "h14",
        exp,
    );
    b.deny(
        "chain/hop-exceeds-ceiling",
        "a narrowing hop still above the sub-agent's own ceiling",
        run(vec![root, hop_sum_wide, leaf_secret], &k.leaf, "p-c15"),
        "delegation.scope_exceeds_ceiling",
    );
}

fn proof_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let t = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-p",
        |_| {},
    );
    let with_proof = |p: String| input(r.clone(), json!({"delegation": [t.clone()], "proof": p}));
    b.deny(
        "proof/missing",
        "a delegation without a DPoP proof",
        input(r.clone(), json!({"delegation": [t.clone()]})),
        "proof.missing",
    );
    b.deny(
        "proof/malformed",
        "not a JWS",
        with_proof("nope".into()),
        "proof.malformed",
    );
    let no_htm = with_header(
        json!({"typ": "dpop+jwt", "jwk": k.booker.public().clone().with_kid(None).to_json_value()}),
        &json!({"htu": TRIPS, "iat": NOW, "jti": "p1", "ath": policy_core::token_hash(&t)}),
        &k.booker.clone().with_kid(None),
    );
    b.deny(
        "proof/missing-claim",
        "no htm",
        with_proof(no_htm),
        "proof.malformed",
    );
    let no_jwk = with_header(
        json!({"typ": "dpop+jwt"}),
        &json!({"htm": "GET", "htu": TRIPS, "iat": NOW, "jti": "p2", "ath": policy_core::token_hash(&t)}),
        &k.booker.clone().with_kid(None),
    );
    b.deny(
        "proof/missing-jwk",
        "no jwk in the header",
        with_proof(no_jwk),
        "proof.malformed",
    );
    let typ = with_header(
        json!({"typ": "jwt", "jwk": k.booker.public().clone().with_kid(None).to_json_value()}),
        &json!({"htm": "GET", "htu": TRIPS, "iat": NOW, "jti": "p3", "ath": policy_core::token_hash(&t)}),
        &k.booker.clone().with_kid(None),
    );
    b.deny("proof/typ", "typ jwt", with_proof(typ), "proof.typ_invalid");
    b.deny(
        "proof/other-key",
        "a proof by a key other than cnf.jkt",
        with_proof(proof(&k.summarizer, "GET", TRIPS, NOW, "p4", Some(&t))),
        "proof.key_mismatch",
    );
    let forged = with_header(
        json!({"typ": "dpop+jwt", "jwk": k.booker.public().clone().with_kid(None).to_json_value()}),
        &json!({"htm": "GET", "htu": TRIPS, "iat": NOW, "jti": "p5", "ath": policy_core::token_hash(&t)}),
        &k.stranger.clone().with_kid(None),
    );
    b.deny(
        "proof/signature",
        "the right jwk, signed by another key",
        with_proof(forged),
        "proof.signature_invalid",
    );
    b.deny(
        "proof/method",
        "a proof for POST",
        with_proof(proof(&k.booker, "POST", TRIPS, NOW, "p6", Some(&t))),
        "proof.method_mismatch",
    );
    b.deny(
        "proof/uri",
        "a proof made for another URI",
        with_proof(proof(
            &k.booker,
            "GET",
            "https://api.example.com/v1/trips/43",
            NOW,
            "p7",
            Some(&t),
        )),
        "proof.uri_mismatch",
    );
    b.deny(
        "proof/host",
        "a proof made for another host",
        with_proof(proof(
            &k.booker,
            "GET",
            "https://evil.example.com/v1/trips/42",
            NOW,
            "p8",
            Some(&t),
        )),
        "proof.uri_mismatch",
    );
    let other = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "d-p-other",
        |_| {},
    );
    b.deny(
        "proof/ath",
        "a proof bound to another token",
        with_proof(proof(&k.booker, "GET", TRIPS, NOW, "p9", Some(&other))),
        "proof.token_mismatch",
    );
    b.deny(
        "proof/stale",
        "iat one second older than proof_max_age",
        with_proof(proof(&k.booker, "GET", TRIPS, NOW - 61, "p10", Some(&t))),
        "proof.stale",
    );
    b.allow(
        "proof/at-max-age",
        "iat exactly proof_max_age old",
        with_proof(proof(&k.booker, "GET", TRIPS, NOW - 60, "p11", Some(&t))),
    );
    b.deny(
        "proof/future",
        "iat beyond the skew",
        with_proof(proof(&k.booker, "GET", TRIPS, NOW + 61, "p12", Some(&t))),
        "proof.stale",
    );
    let digest = b64::encode(&[1u8; 32]);
    let body_proof = mint::proof(
        &mint::Proof {
            htm: "GET".into(),
            htu: TRIPS.into(),
            iat: NOW,
            jti: "p13".into(),
            token: Some(t.clone()),
            body_digest: Some(digest.clone()),
            nonce: None,
        },
        &k.booker,
    );
    let mut with_body = r.clone();
    with_body["body_digest"] = json!(digest);
    b.allow(
        "proof/body-bound",
        "a proof binding the body digest the host computed",
        input(
            with_body,
            json!({"delegation": [t.clone()], "proof": body_proof.clone()}),
        ),
    );
    let mut other_body = r.clone();
    other_body["body_digest"] = json!(b64::encode(&[2u8; 32]));
    b.deny(
        "proof/body-mismatch",
        "a proof binding another body",
        input(
            other_body,
            json!({"delegation": [t.clone()], "proof": body_proof}),
        ),
        "proof.body_mismatch",
    );
    let reused = with_proof(proof(&k.booker, "GET", TRIPS, NOW, "p-replayed", Some(&t)));
    b.cases.push(Case {
        name: "replay/proof-reused".into(),
        description: "the host's store already holds this proof's jti: the allow becomes replay.detected",
        load: "default",
        input: reused.clone(),
        replay: Some(json!({"replayed": [format!("{}:p-replayed", jkt(&k.booker))]})),
        decision: "deny",
        codes: vec!["replay.detected"],
    });
    b.cases.push(Case {
        name: "replay/store-unavailable".into(),
        description: "the host's replay store is unreachable: fail closed",
        load: "default",
        input: reused,
        replay: Some(json!({"replayed": [], "store_error": true})),
        decision: "deny",
        codes: vec!["replay.store_unavailable"],
    });
    b.cases.push(Case {
        name: "replay/other-jti-not-replayed".into(),
        description: "a replayed jti that this decision did not use changes nothing",
        load: "default",
        input: with_proof(proof(&k.booker, "GET", TRIPS, NOW, "p-fresh", Some(&t))),
        replay: Some(json!({"replayed": ["someone-else"]})),
        decision: "allow",
        codes: vec![],
    });
}

fn grant_claims(k: &Keys, jti: &str) -> Value {
    json!({
        "iss": PDP, "sub": "alice", "aud": API, "iat": NOW - 5, "exp": NOW + 25, "jti": jti,
        "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": jkt(&k.booker)}, "chain": ["agent:travel-booker"],
        "decision_id": "dec-1", "htm": "GET", "htu": TRIPS, "action": "trips:read", "scope": "trips:read"
    })
}

fn grant_cases(b: &mut Builder<'_>) {
    let k = b.k;
    let r = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let mut minting: Value =
        serde_json::from_str(&b.booker("trips:read", "d-g-mint", &r, |_| {})).unwrap_or_default();
    minting["mint_grant"] = json!({"aud": API, "ttl": 30, "jti": "grant-1"});
    minting["decision_id"] = json!("dec-mint-1");
    b.allow(
        "grant/minted",
        "an allow that mints a 30 s grant bound to this request",
        minting.to_string(),
    );
    let mut too_long = minting.clone();
    too_long["mint_grant"] = json!({"aud": API, "ttl": 3600, "jti": "grant-2"});
    b.allow(
        "grant/minted-ttl-capped",
        "a 3600 s request is capped at the bundle's grant_max_ttl",
        too_long.to_string(),
    );
    let mut no_key = minting.clone();
    no_key["mint_grant"]["jti"] = json!("grant-3");
    b.add(
        "grant/mint-unavailable",
        "a grant asked of a decision point without a grant key",
        "no-grant-key",
        no_key.to_string(),
        "deny",
        &["grant.mint_unavailable"],
    );
    let book = req(
        "POST",
        "https://api.example.com/v1/trips",
        "trips:book",
        TRUSTED_IP,
    );
    let mut book_mint: Value =
        serde_json::from_str(&b.booker("trips:book", "d-g-book", &book, |_| {}))
            .unwrap_or_default();
    book_mint["mint_grant"] = json!({"aud": API, "ttl": 30, "jti": "grant-4"});
    b.allow(
        "grant/minted-obligation-ttl",
        "a max_ttl obligation shortens the grant",
        book_mint.to_string(),
    );

    // A grant is bound to the agent's key: it comes with a DPoP proof over it (ath = its hash).
    let present = |g: String, request: &Value| {
        let method = request["method"].as_str().unwrap_or("GET");
        let uri = request["uri"].as_str().unwrap_or("");
        let jti = format!("p-{}", &g[g.len().saturating_sub(12)..]);
        let p = proof(&k.booker, method, uri, NOW - 1, &jti, Some(&g));
        input(request.clone(), json!({"grant": g, "proof": p}))
    };
    let good = mint::token("mandate-grant+jwt", &grant_claims(k, "g-ok"), &k.pdp);
    b.allow(
        "grant/presented",
        "a valid grant instead of delegation + proof",
        present(good.clone(), &r),
    );
    b.cases.push(Case {
        name: "grant/used-twice".into(),
        description: "a grant is single-use",
        load: "default",
        input: present(good.clone(), &r),
        replay: Some(json!({"replayed": ["g-ok"]})),
        decision: "deny",
        codes: vec!["replay.detected"],
    });
    let other = req(
        "GET",
        "https://api.example.com/v1/trips/43",
        "trips:read",
        TRUSTED_IP,
    );
    b.deny(
        "grant/other-request",
        "a grant used for a different request",
        present(good.clone(), &other),
        "grant.request_mismatch",
    );
    let delete = req("DELETE", TRIPS, "trips:read", TRUSTED_IP);
    b.deny(
        "grant/other-method",
        "a grant used with another method",
        present(good, &delete),
        "grant.request_mismatch",
    );
    let edit = |f: &dyn Fn(&mut Value), jti: &str| {
        let mut c = grant_claims(k, jti);
        f(&mut c);
        mint::token("mandate-grant+jwt", &c, &k.pdp)
    };
    b.deny(
        "grant/expired",
        "a grant past exp + skew",
        present(
            edit(
                &|c| {
                    c["iat"] = json!(NOW - 100);
                    c["exp"] = json!(NOW - 60);
                },
                "g1",
            ),
            &r,
        ),
        "grant.expired",
    );
    b.deny(
        "grant/ttl-exceeded",
        "exp - iat above grant_max_ttl",
        present(edit(&|c| c["exp"] = json!(NOW + 120), "g2"), &r),
        "grant.ttl_exceeded",
    );
    b.deny(
        "grant/not-yet-valid",
        "iat beyond the skew",
        present(
            edit(
                &|c| {
                    c["iat"] = json!(NOW + 100);
                    c["exp"] = json!(NOW + 130);
                },
                "g3",
            ),
            &r,
        ),
        "grant.not_yet_valid",
    );
    b.deny(
        "grant/audience",
        "a grant for another audience",
        present(
            edit(&|c| c["aud"] = json!("https://other.example.com"), "g4"),
            &r,
        ),
        "grant.audience_invalid",
    );
    b.deny(
        "grant/unbound",
        "a grant naming no action",
        present(
            edit(
                &|c| {
                    let o = c.as_object_mut();
                    if let Some(o) = o {
                        o.remove("htm");
                        o.remove("htu");
                        o.remove("action");
                    }
                },
                "g5",
            ),
            &r,
        ),
        "grant.malformed",
    );
    b.deny(
        "grant/revoked",
        "a revoked grant jti",
        present(edit(&|_| {}, "revoked-jti-1"), &r),
        "token.revoked",
    );
    let by_idp = mint::token("mandate-grant+jwt", &grant_claims(k, "g6"), &k.idp);
    b.deny(
        "grant/wrong-issuer-key",
        "signed by the IdP's key, which names no grant key",
        present(by_idp, &r),
        "grant.issuer_unknown",
    );
    let mut idp_claims = grant_claims(k, "g7");
    idp_claims["iss"] = json!(IDP);
    b.deny(
        "grant/issuer-not-for-grants",
        "an issuer trusted for delegations only",
        present(mint::token("mandate-grant+jwt", &idp_claims, &k.idp), &r),
        "grant.issuer_unknown",
    );
    let forged = mint::token(
        "mandate-grant+jwt",
        &grant_claims(k, "g8"),
        &k.stranger.clone().with_kid(Some("pdp-1".into())),
    );
    b.deny(
        "grant/signature",
        "a forged grant",
        present(forged, &r),
        "grant.signature_invalid",
    );
    let as_delegation = mint::token("at+jwt", &grant_claims(k, "g9"), &k.pdp);
    b.deny(
        "grant/typ",
        "a delegation-typed token presented as a grant",
        present(as_delegation, &r),
        "grant.malformed",
    );
    b.deny(
        "grant/suspended-agent",
        "a grant for an agent suspended since",
        present(
            edit(
                &|c| {
                    c["act"] = json!({"sub": "agent:suspended"});
                    c["cnf"] = json!({"jkt": jkt(&k.suspended)});
                },
                "g10",
            ),
            &r,
        ),
        "agent.suspended",
    );
}

fn policy_cases(b: &mut Builder<'_>) {
    let r = req(
        "GET",
        "https://api.example.com/v1/calendar",
        "calendar:read",
        TRUSTED_IP,
    );
    b.deny(
        "policy/not-allowed",
        "calendar:read is delegated but no guardrail allows it",
        b.booker("calendar:read", "d-pol1", &r, |_| {}),
        "policy.not_allowed",
    );
    let trips = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let mut i: Value =
        serde_json::from_str(&b.booker("trips:read", "d-pol2", &trips, |_| {})).unwrap_or_default();
    i["context"] = json!({"quota": "not-a-number"});
    b.deny(
        "policy/error",
        "a builtin error in a guardrail fails closed",
        i.to_string(),
        "policy.error",
    );
}

fn input_cases(b: &mut Builder<'_>) {
    b.deny(
        "input/not-json",
        "garbage bytes",
        "\u{1}garbage".into(),
        "input.malformed",
    );
    b.deny(
        "input/truncated",
        "truncated JSON",
        r#"{"now": 1800000000, "request": {"method": "GET""#.into(),
        "input.malformed",
    );
    b.deny(
        "input/unknown-member",
        "an unknown top-level member",
        json!({"now": NOW, "request": {"method": "GET", "uri": TRIPS}, "allow": true}).to_string(),
        "input.malformed",
    );
    b.deny(
        "input/duplicate-member",
        "duplicate now",
        format!(r#"{{"now": {NOW}, "now": 0, "request": {{"method": "GET", "uri": "{TRIPS}"}}}}"#),
        "input.malformed",
    );
    b.deny(
        "input/too-deep",
        "nesting beyond the limit",
        format!(
            r#"{{"now": {NOW}, "context": {}1{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        ),
        "input.too_large",
    );
    b.deny(
        "request/invalid-uri",
        "a relative URI",
        input(req("GET", "/v1/trips", "trips:read", TRUSTED_IP), json!({})),
        "request.invalid",
    );
    b.deny(
        "request/invalid-method",
        "a method with spaces",
        input(req("GE T", TRIPS, "trips:read", TRUSTED_IP), json!({})),
        "request.invalid",
    );
}
