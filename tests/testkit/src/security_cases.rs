//! Cases for the fail-open and confusion paths found by independent testing: ambiguous paths
//! and authorities, the obligation contract, guardrail errors, grants bound to the agent's key,
//! the decision point's own audience, and duplicate members deep in the input.

use crate::cases::{Builder, TRIPS, TRUSTED_IP, creds, input, req};
use crate::tokens::{delegation, proof};
use crate::world::{API, NOW};
use policy_core::mint;
use serde_json::{Value, json};

/// Another API the same IdP issues tokens for (trusted in the `two-apis` load).
pub const OTHER_API: &str = "https://other.example.com";
/// A path-scoped resource identifier (RFC 8707 style) on the same origin.
pub const TRIPS_RESOURCE: &str = "https://api.example.com/v1/trips";

pub(crate) fn all(b: &mut Builder<'_>) {
    paths(b);
    obligations(b);
    guardrail_errors(b);
    grants(b);
    audiences(b);
    duplicates(b);
}

/// alice → travel-booker for `scope`, the proof made for `request`; `edit` changes the token.
fn booked(b: &Builder<'_>, jti: &str, request: &Value, edit: impl FnOnce(&mut Value)) -> String {
    let t = delegation(
        b.k,
        "alice",
        "agent:travel-booker",
        &b.k.booker,
        "trips:read trips:book secrets:read",
        jti,
        edit,
    );
    input(
        request.clone(),
        creds(&[t], &b.k.booker, request, &format!("p-{jti}")),
    )
}

fn with(input: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(input).unwrap_or_default();
    f(&mut v);
    v.to_string()
}

fn paths(b: &mut Builder<'_>) {
    for (name, uri, why) in [
        (
            "request/dot-segments",
            "https://api.example.com/v1/trips/../secrets/db",
            "a trips route must not reach secrets through `..`",
        ),
        (
            "request/encoded-dot-segments",
            "https://api.example.com/v1/trips/%2e%2e/secrets/db",
            "`%2e%2e` is `..` to some servers",
        ),
        (
            "request/single-dot-segment",
            "https://api.example.com/v1/./trips/42",
            "`./` segments are refused, not normalized away",
        ),
        (
            "request/encoded-slash",
            "https://api.example.com/v1/trips%2F..%2Fsecrets%2Fdb",
            "an encoded slash splits differently upstream",
        ),
        (
            "request/authority-two-ports",
            "https://api.example.com:443:8443/v1/trips/42",
            "the authority must be host[:port]",
        ),
    ] {
        let r = req("GET", uri, "trips:read", TRUSTED_IP);
        b.deny(
            name,
            why,
            booked(b, &format!("d-{name}"), &r, |_| {}),
            "request.invalid",
        );
    }
}

fn obligations(b: &mut Builder<'_>) {
    let book = req(
        "POST",
        "https://api.example.com/v1/trips",
        "trips:book",
        TRUSTED_IP,
    );
    let expensive = with(&booked(b, "d-ob-1", &book, |_| {}), |v| {
        v["context"] = json!({"amount": 5000});
    });
    b.deny(
        "obligation/approval-required",
        "a guardrail requires a person's approval and none was presented",
        expensive.clone(),
        "approval.required",
    );
    let declared = with(&expensive, |v| {
        v["enforces"] = json!(["require_approval"]);
    });
    b.deny(
        "obligation/approval-not-declarable",
        "a host cannot declare approval away: without an approval it stays a deny",
        declared,
        "approval.required",
    );
    let read = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let redact = with(&booked(b, "d-ob-2", &read, |_| {}), |v| {
        v["context"] = json!({"redact": true});
    });
    b.deny(
        "obligation/unsupported",
        "an obligation the host did not declare it enforces is a deny, never dropped",
        redact.clone(),
        "obligation.unsupported",
    );
    b.allow(
        "obligation/enforced-by-host",
        "the same obligation, declared by the host in `enforces`, is an allow carrying it",
        with(&redact, |v| v["enforces"] = json!(["redact_response"])),
    );
    b.deny(
        "obligation/other-declared",
        "declaring some other obligation does not cover this one",
        with(&redact, |v| v["enforces"] = json!(["something_else"])),
        "obligation.unsupported",
    );
}

fn guardrail_errors(b: &mut Builder<'_>) {
    let read = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    b.deny(
        "policy/conflict",
        "a rule with two values is an evaluation error, and a deny",
        with(&booked(b, "d-pe-1", &read, |_| {}), |v| {
            v["context"] = json!({"conflict": true});
        }),
        "policy.error",
    );
    for (load, why) in [
        (
            "unknown-function",
            "a deny rule calling a function nobody defines: the bundle does not load",
        ),
        (
            "unknown-function-unreached",
            "the same call behind a condition no dry run reaches: still refused at load",
        ),
    ] {
        b.add(
            &format!("policy/{load}"),
            why,
            load,
            booked(b, &format!("d-{load}"), &read, |_| {}),
            "deny",
            &["bundle.policy_invalid"],
        );
    }
}

fn grants(b: &mut Builder<'_>) {
    let k = b.k;
    let read = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let claims = json!({
        "iss": crate::world::PDP, "sub": "alice", "aud": API, "iat": NOW - 5, "exp": NOW + 25,
        "jti": "g-bound", "act": {"sub": "agent:travel-booker"},
        "cnf": {"jkt": crate::world::jkt(&k.booker)}, "chain": ["agent:travel-booker"],
        "decision_id": "dec-1", "htm": "GET", "htu": TRIPS, "action": "trips:read", "scope": "trips:read"
    });
    let grant = mint::token("mandate-grant+jwt", &claims, &k.pdp);
    b.deny(
        "grant/without-proof",
        "a grant alone is not a bearer token: it needs the agent's proof",
        input(read.clone(), json!({"grant": grant})),
        "proof.missing",
    );
    let stranger = proof(&k.hotel, "GET", TRIPS, NOW - 1, "p-stranger", Some(&grant));
    b.deny(
        "grant/stranger-proof",
        "a proof from a key other than the grant's cnf.jkt",
        input(read.clone(), json!({"grant": grant, "proof": stranger})),
        "proof.key_mismatch",
    );
    let other_token = proof(&k.booker, "GET", TRIPS, NOW - 1, "p-ath", Some("other"));
    b.deny(
        "grant/proof-for-other-token",
        "the proof's ath must hash the grant presented",
        input(read.clone(), json!({"grant": grant, "proof": other_token})),
        "proof.token_mismatch",
    );
    b.add(
        "grant/bearer-when-configured",
        "a bundle that turns grant_requires_proof off accepts the grant alone",
        "bearer-grants",
        input(read.clone(), json!({"grant": grant})),
        "allow",
        &[],
    );
    let mint_other = with(&booked(b, "d-g-aud", &read, |_| {}), |v| {
        v["mint_grant"] = json!({"aud": OTHER_API, "ttl": 30, "jti": "grant-other"});
    });
    b.deny(
        "grant/mint-other-audience",
        "a minted grant may only name an audience the delegation is valid for",
        mint_other,
        "grant.mint_unavailable",
    );
}

fn audiences(b: &mut Builder<'_>) {
    let read = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let secrets = req(
        "GET",
        "https://api.example.com/v1/secrets/db",
        "secrets:read",
        TRUSTED_IP,
    );
    b.add(
        "token/audience-not-here",
        "a token for another API, from an issuer trusted for both, sent to this one",
        "two-apis",
        booked(b, "d-aud-1", &read, |c| c["aud"] = json!(OTHER_API)),
        "deny",
        &["token.audience_mismatch"],
    );
    b.add(
        "token/audience-both-apis",
        "a token naming both APIs is accepted by each",
        "two-apis",
        booked(b, "d-aud-2", &read, |c| c["aud"] = json!([OTHER_API, API])),
        "allow",
        &[],
    );
    b.add(
        "token/audience-resource-path",
        "a token for the trips resource covers a trip",
        "two-apis",
        booked(b, "d-aud-3", &read, |c| c["aud"] = json!(TRIPS_RESOURCE)),
        "allow",
        &[],
    );
    b.add(
        "token/audience-resource-elsewhere",
        "a token for the trips resource does not cover secrets on the same host",
        "two-apis",
        booked(b, "d-aud-4", &secrets, |c| c["aud"] = json!(TRIPS_RESOURCE)),
        "deny",
        &["token.audience_mismatch"],
    );
    b.add(
        "token/audience-configured",
        "a decision point with configured audiences refuses a token naming only its origin",
        "named-audience",
        booked(b, "d-aud-5", &read, |_| {}),
        "deny",
        &["token.audience_mismatch"],
    );
    b.add(
        "token/audience-configured-match",
        "and accepts one naming its configured identifier",
        "named-audience",
        booked(b, "d-aud-6", &read, |c| {
            c["aud"] = json!([API, "urn:mandate:trips-api"]);
        }),
        "allow",
        &[],
    );
}

fn duplicates(b: &mut Builder<'_>) {
    let read = req("GET", TRIPS, "trips:read", TRUSTED_IP);
    let good = booked(b, "d-dup-1", &read, |_| {});
    // Duplicates deep in the document: the last one must never silently win.
    let deep = good.replacen(
        "\"credentials\":",
        "\"context\":{\"block\":true,\"block\":false},\"credentials\":",
        1,
    );
    b.deny(
        "input/duplicate-context-member",
        "a duplicate member inside context",
        deep,
        "input.malformed",
    );
    let twice = good.replacen("\"credentials\":", "\"credentials\":{},\"credentials\":", 1);
    b.deny(
        "input/duplicate-credentials",
        "two credentials members",
        twice,
        "input.malformed",
    );
}
