//! The fixed world every vector lives in: keys from fixed seeds, one identity provider, one
//! grant issuer, a small agent registry, the seed's guardrail, and a fixed clock.

use policy_core::PrivateJwk;
use policy_core::mint;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The decision time of every vector: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
pub const IDP: &str = "https://idp.example.com";
pub const PDP: &str = "https://pdp.example.com";
pub const API: &str = "https://api.example.com";

/// A P-256 key whose scalar is SHA-256 of a fixed label (re-hashed in the rare case it is out
/// of range), so every run produces the same keys and, with RFC 6979, the same tokens. The
/// `mandate-vectors/` prefix is the kit's former crate name, kept: every checked-in vector's
/// keys derive from it.
pub fn key(label: &str, kid: Option<&str>) -> PrivateJwk {
    let mut seed: [u8; 32] = Sha256::digest(format!("mandate-vectors/{label}").as_bytes()).into();
    loop {
        if let Ok(k) = PrivateJwk::from_scalar_bytes(&seed) {
            return k.with_kid(kid.map(String::from));
        }
        seed = Sha256::digest(seed).into();
    }
}

#[derive(Debug)]
pub struct Keys {
    pub root: PrivateJwk,
    pub rogue: PrivateJwk,
    pub idp: PrivateJwk,
    pub pdp: PrivateJwk,
    pub booker: PrivateJwk,
    pub booker_compromised: PrivateJwk,
    pub summarizer: PrivateJwk,
    pub leaf: PrivateJwk,
    pub hotel: PrivateJwk,
    pub suspended: PrivateJwk,
    pub retired: PrivateJwk,
    pub banned: PrivateJwk,
    pub stranger: PrivateJwk,
}

impl Keys {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Keys {
            root: key("bundle-root", Some("root-1")),
            rogue: key("rogue", Some("rogue-1")),
            idp: key("idp", Some("idp-1")),
            pdp: key("pdp", Some("pdp-1")),
            booker: key("agent-travel-booker", Some("tb-1")),
            booker_compromised: key("agent-travel-booker-old", Some("tb-0")),
            summarizer: key("agent-summarizer", Some("sum-1")),
            leaf: key("agent-leaf", Some("leaf-1")),
            hotel: key("agent-hotel-finder", Some("hotel-1")),
            suspended: key("agent-suspended", Some("susp-1")),
            retired: key("agent-retired", Some("ret-1")),
            banned: key("agent-banned", Some("ban-1")),
            stranger: key("stranger", Some("x-1")),
        }
    }
}

pub fn public(k: &PrivateJwk) -> Value {
    k.public().to_json_value()
}

pub fn jkt(k: &PrivateJwk) -> String {
    k.public().thumbprint()
}

/// The seed's guardrail and a few more, in Rego v1.
pub const GUARDRAILS: &str = r#"package mandate

default allow := false

from_trusted_network if {
	some cidr in data.trusted_networks
	net.cidr_contains(cidr, input.request.ip)
}

# The seed's example: secrets are read only with a valid delegation from their owner,
# and only from a trusted network.
allow if {
	input.request.action == "secrets:read"
	input.user.id == data.secret_owner
	from_trusted_network
}

deny contains "secrets may only be read from a trusted network" if {
	input.request.action == "secrets:read"
	not from_trusted_network
}

deny contains concat("", ["secrets belong to ", data.secret_owner]) if {
	input.request.action == "secrets:read"
	input.user.id != data.secret_owner
}

# Trips and payments are allowed to any properly delegated agent; booking needs a person's approval.
allow if startswith(input.request.action, "trips:")

allow if {
	some d in input.delegation.authorization_details
	d.type == "payment_initiation"
	input.request.action in d.actions
}

deny contains "high-risk agents may not change anything" if {
	input.agent.labels.risk == "high"
	input.request.method != "GET"
}

obligations["max_ttl"] := 10 if input.request.action == "trips:book"

obligations["require_approval"] := {"reason": "bookings over 1000 EUR need the traveller's approval"} if {
	input.request.action == "trips:book"
	input.context.amount > 1000
}

# An obligation only a host that declares it (`enforces`) may accept.
obligations["redact_response"] := true if input.context.redact == true

# Conflicting values for one rule are an evaluation error: the decision fails closed.
tier := "gold" if input.context.conflict == true
tier := "silver" if input.context.conflict == true

# A host can pass a value the policy cannot use; evaluation must then fail closed.
deny contains "unreachable" if to_number(input.context.quota) < 0
"#;

pub fn agents(k: &Keys) -> Value {
    json!([
        {
            "id": "agent:travel-booker", "owner": "team:travel", "status": "active",
            "keys": [public(&k.booker), public(&k.booker_compromised)],
            "delegators": {"users": ["alice", "bob"], "groups": ["travel-team"], "patterns": ["*@corp.example"]},
            "ceiling": {
                "scopes": ["secrets:read", "trips:*", "calendar:read"],
                "authorization_details": [{"type": "payment_initiation", "actions": ["initiate", "status"], "locations": ["https://bank.example.com"], "currency": "EUR"}]
            },
            "may_delegate_to": ["agent:summarizer", "agent:hotel-*"],
            "max_depth": 2,
            "labels": {"vendor": "acme", "model": "planner-2", "risk": "low"}
        },
        {
            "id": "agent:summarizer", "owner": "team:travel", "status": "active",
            "keys": [public(&k.summarizer)],
            "delegators": {"agents": ["agent:travel-booker"]},
            "ceiling": {"scopes": ["trips:read", "calendar:read", "secrets:read"]},
            "may_delegate_to": ["agent:leaf"],
            "max_depth": 1,
            "labels": {"vendor": "acme", "model": "small-1", "risk": "low"}
        },
        {
            "id": "agent:leaf", "owner": "team:travel", "status": "active",
            "keys": [public(&k.leaf)],
            "delegators": {"agents": ["agent:summarizer"]},
            "ceiling": {"scopes": ["trips:read"]},
            "may_delegate_to": ["agent:*"],
            "labels": {"risk": "low"}
        },
        {
            "id": "agent:hotel-finder", "owner": "vendor:hotels", "status": "active",
            "keys": [public(&k.hotel)],
            "delegators": {"agents": ["agent:travel-booker"]},
            "ceiling": {"scopes": ["trips:*"]},
            "labels": {"risk": "high"}
        },
        {
            "id": "agent:suspended", "owner": "team:ops", "status": "suspended",
            "keys": [public(&k.suspended)],
            "delegators": {"users": ["alice"]},
            "ceiling": {"scopes": ["trips:read", "secrets:read"]}
        },
        {
            "id": "agent:retired", "owner": "team:ops", "status": "revoked",
            "keys": [public(&k.retired)],
            "delegators": {"users": ["alice"]},
            "ceiling": {"scopes": ["trips:read", "secrets:read"]}
        },
        {
            "id": "agent:banned", "owner": "team:ops", "status": "active",
            "keys": [public(&k.banned)],
            "delegators": {"users": ["alice"]},
            "ceiling": {"scopes": ["trips:read", "secrets:read"]}
        }
    ])
}

/// The bundle contents; `tweak` edits them before signing.
pub fn bundle_contents(k: &Keys, tweak: impl FnOnce(&mut Value)) -> Value {
    let mut b = json!({
        "revision": "vectors-1",
        "iat": NOW - 3600,
        "exp": NOW + 86_400,
        "issuers": [
            {"iss": IDP, "keys": [public(&k.idp)], "audiences": [API], "typ": ["at+jwt"]},
            {"iss": PDP, "keys": [public(&k.pdp)], "audiences": [API], "typ": ["mandate-grant+jwt"]}
        ],
        "agents": agents(k),
        "revocations": {"jti": ["revoked-jti-1"], "agents": ["agent:banned"], "keys": [jkt(&k.booker_compromised)]},
        "policies": {"guardrails.rego": GUARDRAILS},
        "data": {"trusted_networks": ["10.20.0.0/16", "fd00:20::/32"], "secret_owner": "alice"},
        "settings": {"clock_skew": 60, "proof_max_age": 60, "grant_max_ttl": 60, "max_chain_depth": 2,
                      "decision_rule": "data.mandate", "grant_issuer": PDP}
    });
    tweak(&mut b);
    b
}

/// A load config document.
pub fn load_config(
    bundle: Option<&str>,
    trust: &[&PrivateJwk],
    grant_key: Option<&PrivateJwk>,
) -> Value {
    let trust_keys: Vec<Value> = trust.iter().map(|k| public(k)).collect();
    let mut c = json!({"trust_keys": trust_keys});
    if let Some(b) = bundle {
        c["bundle"] = json!(b);
    }
    if let Some(g) = grant_key {
        c["grant_key"] = g.to_json_value();
    }
    c
}

pub fn signed_bundle(k: &Keys, tweak: impl FnOnce(&mut Value)) -> String {
    mint::bundle(&bundle_contents(k, tweak), &k.root)
}

/// The one seeded world: its keys and the named load configs built from them. Every runner and
/// fixture that needs the vectors' keys, registry or bundle takes them from here (or, outside
/// Rust, from `tests/vectors/world.json`, rendered from it).
#[derive(Debug)]
pub struct World {
    pub keys: Keys,
    /// The load configs by name, as JSON (`loads` in the vector files is their canonical text).
    pub loads: std::collections::BTreeMap<&'static str, Value>,
}

impl World {
    #[allow(clippy::new_without_default)]
    pub fn new() -> World {
        let keys = Keys::new();
        let loads = crate::loads::loads(&keys);
        World { keys, loads }
    }

    /// The canonical text of every load config, as the vector files hold them.
    pub fn load_texts(&self) -> std::collections::BTreeMap<&'static str, String> {
        self.loads
            .iter()
            .map(|(n, v)| (*n, policy_core::json::canonical(v)))
            .collect()
    }

    /// The canonical text of the load config `name` (`default`: the good bundle, the root as
    /// trust key, the grant key).
    pub fn load_text(&self, name: &str) -> Option<String> {
        self.loads.get(name).map(policy_core::json::canonical)
    }
}
