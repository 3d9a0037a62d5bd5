//! Mandate in one program: a person delegates to an agent, the agent sub-delegates a narrower
//! task, and every request is decided — allowed, denied with a reason, replay refused — on an
//! embedded default bundle with keys generated at start.
//!
//! Run: `cargo run -p quickstart`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use policy_core::mint::{self, Proof, SubDelegation};
use policy_core::{Pdp, PrivateJwk, json};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

const API: &str = "https://api.example.com";
const IDP: &str = "https://idp.example.com";
const PDP: &str = "https://pdp.example.com";
const SECRET: &str = "https://api.example.com/v1/secrets/db";
const TRIPS: &str = "https://api.example.com/v1/trips/42";

/// The seed's guardrail: secrets only for their owner's delegation, only from a trusted network.
const GUARDRAILS: &str = r#"package mandate

default allow := false

trusted if net.cidr_contains("10.20.0.0/16", input.request.ip)

allow if {
	input.request.action == "secrets:read"
	input.user.id == "alice"
	trusted
}

allow if startswith(input.request.action, "trips:")

deny contains "secrets may only be read from 10.20.0.0/16" if {
	input.request.action == "secrets:read"
	not trusted
}

deny contains "secrets belong to alice" if {
	input.request.action == "secrets:read"
	input.user.id != "alice"
}
"#;

/// A fresh key from the OS's randomness (the core has none of its own).
fn keygen(kid: &str) -> PrivateJwk {
    loop {
        let mut d = [0u8; 32];
        getrandom::fill(&mut d).expect("OS randomness");
        if let Ok(k) = PrivateJwk::from_scalar_bytes(&d) {
            return k.with_kid(Some(kid.into()));
        }
    }
}

fn nonce() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("OS randomness");
    policy_core::b64::encode(&b)
}

struct Demo {
    pdp: Pdp,
    now: i64,
    used: HashSet<String>,
}

impl Demo {
    /// Decides like every Mandate host: decide, record use-once ids, refuse replays.
    fn decide(&mut self, input: Value) -> Value {
        let out: Value =
            serde_json::from_slice(&self.pdp.decide_json(input.to_string().as_bytes())).unwrap();
        if out["decision"] != "allow" {
            return out;
        }
        let replayed: Vec<String> = out["use_once"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["jti"].as_str().unwrap().to_string())
            .filter(|jti| !self.used.insert(jti.clone()))
            .collect();
        let req = json!({"decision": out, "replayed": replayed});
        serde_json::from_slice(&self.pdp.apply_replay_json(json::canonical(&req).as_bytes()))
            .unwrap()
    }

    fn request(
        &self,
        method: &str,
        uri: &str,
        action: &str,
        ip: &str,
        chain: &[&String],
        agent_key: &PrivateJwk,
    ) -> Value {
        let leaf = chain.last().map(|s| s.to_string());
        let proof = mint::proof(
            &Proof {
                htm: method.into(),
                htu: uri.into(),
                iat: self.now,
                jti: nonce(),
                token: leaf,
                body_digest: None,
                nonce: None,
            },
            agent_key,
        );
        json!({"now": self.now, "request": {"method": method, "uri": uri, "ip": ip, "action": action},
               "credentials": {"delegation": chain, "proof": proof}})
    }
}

fn row(step: &str, out: &Value) {
    let p = &out["principal"];
    let who = if p.is_null() {
        "-".to_string()
    } else {
        p["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" > ")
    };
    let user = p["user"].as_str().unwrap_or("-");
    let reason = out["reasons"]
        .as_array()
        .unwrap()
        .first()
        .map(|r| {
            format!(
                "{}: {}",
                r["code"].as_str().unwrap(),
                r["message"].as_str().unwrap()
            )
        })
        .unwrap_or_default();
    println!(
        "{:<48} {:<38} {:<7} {:<6} {}",
        step,
        who,
        user,
        out["decision"].as_str().unwrap(),
        reason
    );
}

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    println!("Mandate quickstart: every key below was generated just now.\n");
    let (root, idp, pdp_key) = (keygen("root-1"), keygen("idp-1"), keygen("pdp-1"));
    let (booker, summarizer) = (keygen("tb-1"), keygen("sum-1"));

    // 1. The operator signs a bundle: trusted issuers, the agent registry, guardrails.
    let contents = json!({
        "revision": "quickstart-1", "iat": now, "exp": now + 3600,
        "issuers": [
            {"iss": IDP, "keys": [idp.public().to_json_value()], "audiences": [API]},
            {"iss": PDP, "keys": [pdp_key.public().to_json_value()], "audiences": [API], "typ": ["mandate-grant+jwt"]}
        ],
        "agents": [
            {"id": "agent:travel-booker", "owner": "team:travel", "status": "active", "keys": [booker.public().to_json_value()],
             "delegators": {"users": ["alice", "bob"]}, "ceiling": {"scopes": ["secrets:read", "trips:*"]},
             "may_delegate_to": ["agent:summarizer"], "labels": {"vendor": "acme", "risk": "low"}},
            {"id": "agent:summarizer", "owner": "team:travel", "status": "active", "keys": [summarizer.public().to_json_value()],
             "delegators": {"agents": ["agent:travel-booker"]}, "ceiling": {"scopes": ["trips:read", "secrets:read"]}}
        ],
        "policies": {"guardrails.rego": GUARDRAILS},
        "settings": {"grant_issuer": PDP, "grant_max_ttl": 30}
    });
    let config = json!({"bundle": mint::bundle(&contents, &root), "trust_keys": [root.public().to_json_value()], "grant_key": pdp_key.to_json_value()});
    let mut demo = Demo {
        pdp: Pdp::load_json(config.to_string().as_bytes()),
        now,
        used: HashSet::new(),
    };
    println!(
        "bundle: {}\n",
        String::from_utf8_lossy(&demo.pdp.status_json())
    );

    // 2. alice delegates to the travel booker; bob does too; an old delegation has expired.
    let delegate = |user: &str, scope: &str, exp: i64| {
        mint::delegation(
            &json!({"iss": IDP, "sub": user, "aud": API, "iat": now - 600, "exp": exp, "jti": nonce(), "scope": scope,
            "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": booker.public().thumbprint()}}),
            &idp,
        )
    };
    let alice = delegate("alice", "secrets:read trips:read", now + 900);
    let bob = delegate("bob", "secrets:read", now + 900);
    let stale = delegate("alice", "secrets:read", now - 120);
    // 3. The booker hands the summarizer a narrower task (trips:read), and tries a wider one.
    let hop = |scope: &str| {
        mint::subdelegation(
            &alice,
            &SubDelegation {
                agent: "agent:summarizer".into(),
                agent_key: summarizer.public().to_json_value(),
                scope: scope.into(),
                authorization_details: None,
                aud: None,
                iat: now,
                exp: now + 300,
                jti: nonce(),
            },
            &booker,
        )
        .unwrap()
    };
    let narrow = hop("trips:read");
    let wide = hop("trips:read trips:book");

    println!(
        "{:<48} {:<38} {:<7} {:<6} reason",
        "request", "acting chain", "for", "result"
    );
    println!("{}", "-".repeat(134));
    let ok = demo.request(
        "GET",
        SECRET,
        "secrets:read",
        "10.20.0.7",
        &[&alice],
        &booker,
    );
    row("read secret from trusted network", &demo.decide(ok.clone()));
    row("same request replayed (same DPoP proof)", &demo.decide(ok));
    let r = demo.request(
        "GET",
        SECRET,
        "secrets:read",
        "203.0.113.9",
        &[&alice],
        &booker,
    );
    row("read secret from an untrusted network", &demo.decide(r));
    let r = demo.request("GET", SECRET, "secrets:read", "10.20.0.7", &[&bob], &booker);
    row("read secret on behalf of bob", &demo.decide(r));
    let r = demo.request(
        "GET",
        SECRET,
        "secrets:read",
        "10.20.0.7",
        &[&stale],
        &booker,
    );
    row("read secret with an expired delegation", &demo.decide(r));
    let r = demo.request(
        "GET",
        TRIPS,
        "trips:read",
        "10.20.0.7",
        &[&alice, &narrow],
        &summarizer,
    );
    row("sub-agent reads a trip (narrowed hop)", &demo.decide(r));
    let r = demo.request(
        "POST",
        TRIPS,
        "trips:book",
        "10.20.0.7",
        &[&alice, &wide],
        &summarizer,
    );
    row(
        "sub-agent with an escalating hop (trips:book)",
        &demo.decide(r),
    );

    // 4. An ephemeral grant: minted on allow, bound to this request, used once.
    let mut r = demo.request("GET", TRIPS, "trips:read", "10.20.0.7", &[&alice], &booker);
    r["mint_grant"] = json!({"aud": API, "ttl": 20, "jti": nonce()});
    let minted = demo.decide(r);
    row("allow + mint a 20 s grant", &minted);
    let grant = minted["grant"].as_str().unwrap().to_string();
    // A grant is bound to the agent's key: it is presented with a DPoP proof over it.
    let grant_proof = mint::proof(
        &Proof {
            htm: "GET".into(),
            htu: TRIPS.into(),
            iat: now + 1,
            jti: nonce(),
            token: Some(grant.clone()),
            body_digest: None,
            nonce: None,
        },
        &booker,
    );
    let present = |proof: Option<&str>| {
        json!({"now": now + 1, "request": {"method": "GET", "uri": TRIPS, "ip": "10.20.0.7", "action": "trips:read"},
               "credentials": {"grant": grant, "proof": proof}})
    };
    row(
        "present the grant without a proof (stolen)",
        &demo.decide(present(None)),
    );
    row(
        "present the grant with the agent's proof",
        &demo.decide(present(Some(&grant_proof))),
    );
    row(
        "present the same grant again",
        &demo.decide(present(Some(&grant_proof))),
    );
    println!(
        "\naudit record of the minted-grant decision:\n{}",
        serde_json::to_string_pretty(&minted["audit"]).unwrap()
    );
}
