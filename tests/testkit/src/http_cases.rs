//! HTTP binding cases: requests as a server or proxy received them (method, scheme, authority,
//! raw path, header fields in order, socket peer), decided through `Pdp::decide_http`. Every
//! host that takes HTTP requests (serve, the Envoy filter, the module, JS) replays them.

use crate::cases::Case;
use crate::tokens::{delegation, hop, proof};
use crate::world::{Keys, NOW, PDP, jkt};
use policy_core::mint;
use serde_json::{Value, json};

/// The routes every HTTP case is bound with.
pub const ROUTES: [&str; 4] = [
    "GET /v1/trips/* trips:read",
    "POST /v1/trips trips:book",
    "GET /v1/secrets/* secrets:read secret/db",
    "GET /v1/calendar calendar:read",
];

const HOST: &str = "api.example.com";
const PEER: &str = "10.20.0.7:50123";
const UNTRUSTED_PEER: &str = "198.51.100.4:40000";

/// One HTTP request.
#[derive(Clone)]
struct Http {
    method: &'static str,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    peer: &'static str,
}

impl Http {
    fn get(path: &str) -> Http {
        Http {
            method: "GET",
            authority: HOST.into(),
            path: path.into(),
            headers: Vec::new(),
            peer: PEER,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Http {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The URI the proof must name: what the binding builds.
    fn uri(&self) -> String {
        format!("https://{}{}", self.authority, self.path)
    }
}

fn routes() -> Value {
    ROUTES
        .iter()
        .map(|r| {
            let p: Vec<&str> = r.split(' ').collect();
            let mut v = json!({"method": p[0], "path": p[1], "action": p[2]});
            if let Some(res) = p.get(3) {
                v["resource"] = json!(res);
            }
            v
        })
        .collect()
}

fn doc(h: &Http, trusted_hops: u8, extra: impl FnOnce(&mut Value)) -> String {
    let headers: Vec<Value> = h.headers.iter().map(|(n, v)| json!([n, v])).collect();
    let mut v = json!({
        "now": NOW,
        "http": {"method": h.method, "scheme": "https", "authority": h.authority, "path": h.path,
                 "headers": headers, "peer": h.peer},
        "binding": {"routes": routes(), "trusted_hops": trusted_hops},
    });
    extra(&mut v);
    v.to_string()
}

/// alice → travel-booker, presented with a proof for `h` (as the agent would sign it).
fn signed(k: &Keys, h: Http, jti: &str) -> Http {
    let t = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read trips:book secrets:read calendar:read",
        jti,
        |_| {},
    );
    let p = proof(
        &k.booker,
        h.method,
        &h.uri(),
        NOW - 1,
        &format!("p-{jti}"),
        Some(&t),
    );
    h.header("Authorization", &format!("DPoP {t}"))
        .header("DPoP", &p)
}

struct B {
    cases: Vec<Case>,
}

impl B {
    fn add(
        &mut self,
        name: &str,
        description: &'static str,
        input: String,
        codes: &[&'static str],
    ) {
        self.cases.push(Case {
            name: format!("http/{name}"),
            description,
            load: "default",
            input,
            replay: None,
            decision: if codes.is_empty() { "allow" } else { "deny" },
            codes: codes.to_vec(),
        });
    }
}

pub fn all(k: &Keys) -> Vec<Case> {
    let mut b = B { cases: Vec::new() };
    let trips = signed(k, Http::get("/v1/trips/42"), "h-1");
    b.add(
        "allow-dpop",
        "Authorization: DPoP with a DPoP proof, routed to trips:read",
        doc(&trips, 0, |_| {}),
        &[],
    );
    b.add(
        "allow-secrets-from-trusted-peer",
        "the seed guardrail: secrets from the trusted network (the socket peer)",
        doc(&signed(k, Http::get("/v1/secrets/db"), "h-2"), 0, |_| {}),
        &[],
    );
    paths_and_hosts(k, &mut b);
    headers(k, &mut b);
    forwarded(k, &mut b);
    chain_and_grant(k, &mut b);
    obligations(k, &mut b);
    b.cases
}

fn paths_and_hosts(k: &Keys, b: &mut B) {
    for (name, path) in [
        ("dot-segments", "/v1/trips/../secrets/db"),
        ("encoded-dot-segments", "/v1/trips/%2e%2e/secrets/db"),
        ("dot-slash-dot-dot", "/v1/trips/./../secrets/db"),
        ("encoded-slash", "/v1/trips/..%2Fsecrets%2Fdb"),
    ] {
        b.add(
            name,
            "a path that routes as trips but reads as secrets is refused before routing",
            doc(&signed(k, Http::get(path), &format!("h-{name}")), 0, |_| {}),
            &["request.invalid"],
        );
    }
    let mut injected = signed(k, Http::get("/v1/admin/x"), "h-host");
    injected.authority = "api.example.com/v1/trips/1?".into();
    b.add(
        "host-injection",
        "a Host carrying a path and query is not host[:port]",
        doc(&injected, 0, |_| {}),
        &["request.invalid"],
    );
    let mismatch = signed(k, Http::get("/v1/trips/42"), "h-host2").header("Host", "evil.example");
    b.add(
        "host-disagrees",
        ":authority and Host name different hosts",
        doc(&mismatch, 0, |_| {}),
        &["request.invalid"],
    );
    let mut elsewhere = signed(k, Http::get("/v1/trips/42"), "h-other-host");
    elsewhere.authority = "other.example.com".into();
    b.add(
        "token-for-another-origin",
        "a token for api.example.com presented to another origin (proof signed for it too)",
        doc(&elsewhere, 0, |_| {}),
        &["token.audience_mismatch"],
    );
    b.add(
        "no-route",
        "with routes, a path none names is refused: no decision without a scope check",
        doc(
            &signed(k, Http::get("/v1/unrouted"), "h-noroute"),
            0,
            |_| {},
        ),
        &["request.unrouted"],
    );
    b.add(
        "no-route-case-variant",
        "routes are case-sensitive: /v1/Secrets/db is not /v1/secrets/* and is refused",
        doc(
            &signed(k, Http::get("/v1/Secrets/db"), "h-noroute-case"),
            0,
            |_| {},
        ),
        &["request.unrouted"],
    );
    b.add(
        "no-route-guardrails-decide",
        "a binding that lets the guardrails decide unrouted requests: no action is named",
        doc(
            &signed(k, Http::get("/v1/unrouted"), "h-noroute-g"),
            0,
            |v| v["binding"]["unrouted"] = json!("guardrails"),
        ),
        &["policy.not_allowed"],
    );
}

fn headers(k: &Keys, b: &mut B) {
    let base = signed(k, Http::get("/v1/trips/42"), "h-rep");
    let dpop = base
        .headers
        .iter()
        .find(|(n, _)| n == "DPoP")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    b.add(
        "dpop-repeated",
        "RFC 9449 §4.3: more than one DPoP header is refused",
        doc(&base.clone().header("dpop", &dpop), 0, |_| {}),
        &["request.header_repeated"],
    );
    b.add(
        "dpop-joined-by-a-proxy",
        "two DPoP fields a proxy joined into one (RFC 9110 §5.3) are still two",
        doc(
            &Http {
                headers: base
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        if n == "DPoP" {
                            (n.clone(), format!("{v}, {dpop}"))
                        } else {
                            (n.clone(), v.clone())
                        }
                    })
                    .collect(),
                ..base.clone()
            },
            0,
            |_| {},
        ),
        &["request.header_repeated"],
    );
    b.add(
        "authorization-repeated",
        "two Authorization headers",
        doc(&base.clone().header("authorization", "Bearer x"), 0, |_| {}),
        &["request.header_repeated"],
    );
    b.add(
        "no-credentials",
        "an unknown Authorization scheme is no credential",
        doc(
            &Http::get("/v1/trips/42").header("Authorization", "Bearer abc"),
            0,
            |_| {},
        ),
        &["credentials.missing"],
    );
}

fn forwarded(k: &Keys, b: &mut B) {
    let mut spoofed =
        signed(k, Http::get("/v1/secrets/db"), "h-xff-1").header("X-Forwarded-For", "10.20.0.7");
    spoofed.peer = UNTRUSTED_PEER;
    b.add(
        "xff-ignored-without-trusted-hops",
        "with no proxy trusted, a client's X-Forwarded-For is ignored: the peer decides",
        doc(&spoofed, 0, |_| {}),
        &["policy.denied"],
    );
    let mut appended = signed(k, Http::get("/v1/secrets/db"), "h-xff-2")
        .header("X-Forwarded-For", "10.20.0.7, 198.51.100.4");
    appended.peer = PEER;
    b.add(
        "xff-spoofed-behind-proxy",
        "one trusted proxy appended the real client; the forged first hop is ignored",
        doc(&appended, 1, |_| {}),
        &["policy.denied"],
    );
    let mut real = signed(k, Http::get("/v1/secrets/db"), "h-xff-3")
        .header("X-Forwarded-For", "203.0.113.9, 10.20.0.7");
    real.peer = UNTRUSTED_PEER;
    b.add(
        "xff-trusted-hop",
        "the address one trusted proxy appended is the client's",
        doc(&real, 1, |_| {}),
        &[],
    );
    let short = signed(k, Http::get("/v1/secrets/db"), "h-xff-4");
    b.add(
        "xff-missing-hops",
        "fewer X-Forwarded-For entries than trusted proxies: the request did not come through them",
        doc(&short, 1, |_| {}),
        &["request.invalid"],
    );
}

fn chain_and_grant(k: &Keys, b: &mut B) {
    let root = delegation(
        k,
        "alice",
        "agent:travel-booker",
        &k.booker,
        "trips:read",
        "h-chain-root",
        |_| {},
    );
    let sub = hop(
        &root,
        &k.booker,
        "agent:summarizer",
        &k.summarizer,
        "trips:read",
        "h-chain-hop",
        NOW + 600,
    );
    let h = Http::get("/v1/trips/42");
    let p = proof(
        &k.summarizer,
        "GET",
        &h.uri(),
        NOW - 1,
        "p-h-chain",
        Some(&sub),
    );
    let chained = h
        .header("Authorization", &format!("DPoP {sub}"))
        .header("DPoP", &p)
        .header("Mandate-Chain", &root);
    b.add(
        "chain-header",
        "a sub-delegation presented with its ancestors in Mandate-Chain",
        doc(&chained, 0, |_| {}),
        &[],
    );
    let claims = json!({
        "iss": PDP, "sub": "alice", "aud": "https://api.example.com", "iat": NOW - 5, "exp": NOW + 25,
        "jti": "h-grant", "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": jkt(&k.booker)},
        "chain": ["agent:travel-booker"], "decision_id": "dec-h", "htm": "GET",
        "htu": "https://api.example.com/v1/trips/42", "action": "trips:read", "scope": "trips:read"
    });
    let grant = mint::token("mandate-grant+jwt", &claims, &k.pdp);
    let h = Http::get("/v1/trips/42");
    let gp = proof(
        &k.booker,
        "GET",
        &h.uri(),
        NOW - 1,
        "p-h-grant",
        Some(&grant),
    );
    let with_grant = h.header("Authorization", &format!("Mandate-Grant {grant}"));
    b.add(
        "grant-with-proof",
        "Authorization: Mandate-Grant with the agent's DPoP proof",
        doc(&with_grant.clone().header("DPoP", &gp), 0, |_| {}),
        &[],
    );
    b.add(
        "grant-without-proof",
        "a grant alone is not a bearer token",
        doc(&with_grant, 0, |_| {}),
        &["proof.missing"],
    );
}

fn obligations(k: &Keys, b: &mut B) {
    let mut book = Http::get("/v1/trips");
    book.method = "POST";
    let book = signed(k, book, "h-ob-1");
    b.add(
        "approval-required",
        "a guardrail asks for a person's approval: a deny with its own code",
        doc(&book, 0, |v| v["context"] = json!({"amount": 5000})),
        &["approval.required"],
    );
    let read = signed(k, Http::get("/v1/trips/42"), "h-ob-2");
    b.add(
        "obligation-unsupported",
        "an obligation the host did not declare is a deny",
        doc(&read, 0, |v| v["context"] = json!({"redact": true})),
        &["obligation.unsupported"],
    );
    b.add(
        "obligation-enforced",
        "the same obligation declared in enforces is an allow carrying it",
        doc(&read, 0, |v| {
            v["context"] = json!({"redact": true});
            v["enforces"] = json!(["redact_response"]);
        }),
        &[],
    );
}
