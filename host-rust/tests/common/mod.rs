//! Shared test support: the module, the vectors, a fresh world built with the issuer helpers,
//! and replay stores for the cases.
#![allow(
    clippy::std_instead_of_core,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use mandate_host::issuer::{self, Proof};
use mandate_host::replay::{ReplayError, ReplayStore, UseOnce};
use mandate_host::{PrivateJwk, WasmLimits, WasmRuntime};
use serde_json::{Value, json};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The module built by scripts/build-wasm.sh (or MANDATE_WASM).
pub fn module_path() -> PathBuf {
    std::env::var_os("MANDATE_WASM").map_or_else(|| root().join("dist/mandate.wasm"), PathBuf::from)
}

pub fn module_bytes() -> Vec<u8> {
    let p = module_path();
    std::fs::read(&p)
        .unwrap_or_else(|e| panic!("{}: {e}; build it with scripts/build-wasm.sh", p.display()))
}

pub fn cache_dir() -> PathBuf {
    root().join("target/mandate-host-test-cache")
}

/// One compiled runtime per test binary (compiling is the slow part; the disk cache makes the
/// next binaries fast).
pub fn runtime() -> WasmRuntime {
    static RT: OnceLock<WasmRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        WasmRuntime::new(&module_bytes(), Some(&cache_dir()), WasmLimits::default()).unwrap()
    })
    .clone()
}

pub fn runtime_with(limits: WasmLimits) -> WasmRuntime {
    WasmRuntime::new(&module_bytes(), Some(&cache_dir()), limits).unwrap()
}

pub fn vectors() -> Value {
    let p = root().join("tests/vectors/conformance.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// A replay store that cannot be reached.
#[derive(Debug)]
pub struct DownStore;

impl ReplayStore for DownStore {
    async fn record(&self, _: &[UseOnce], _: i64) -> Result<Vec<String>, ReplayError> {
        Err(ReplayError::Unavailable("down for the test".into()))
    }
}

pub const NOW: i64 = 1_800_000_000;
pub const API: &str = "https://api.example.com";
pub const IDP: &str = "https://idp.example.com";
pub const PDP: &str = "https://pdp.example.com";

/// A fresh world made with the issuer helpers: random keys, a signed bundle with one agent and
/// the seed's guardrail, a delegation from alice.
pub struct World {
    pub root: PrivateJwk,
    pub pdp: PrivateJwk,
    pub idp: PrivateJwk,
    pub agent: PrivateJwk,
    pub config: Vec<u8>,
    pub delegation: String,
}

pub const GUARDRAIL: &str = r#"package mandate

default allow := false

allow if {
	input.request.action == "secrets:read"
	input.user.id == data.secret_owner
	some cidr in data.trusted_networks
	net.cidr_contains(cidr, input.request.ip)
}
"#;

impl World {
    pub fn new() -> World {
        Self::with_policy(GUARDRAIL)
    }

    pub fn with_policy(policy: &str) -> World {
        let root = issuer::generate_key(Some("root-1")).unwrap();
        let idp = issuer::generate_key(Some("idp-1")).unwrap();
        let agent = issuer::generate_key(Some("a-1")).unwrap();
        let pdp = issuer::generate_key(Some("pdp-1")).unwrap();
        let contents = json!({
            "revision": format!("host-tests-{}", issuer::random_id().unwrap()),
            "iat": NOW - 3600,
            "exp": NOW + 86_400,
            "issuers": [
                {"iss": IDP, "keys": [idp.public().to_json_value()], "audiences": [API], "typ": ["at+jwt"]},
                {"iss": PDP, "keys": [pdp.public().to_json_value()], "audiences": [API], "typ": ["mandate-grant+jwt"]}
            ],
            "settings": {"grant_issuer": PDP, "grant_max_ttl": 60},
            "agents": [{
                "id": "agent:booker", "owner": "team:travel", "status": "active",
                "keys": [agent.public().to_json_value()],
                "delegators": {"users": ["alice"]},
                "ceiling": {"scopes": ["secrets:read"]}
            }],
            "policies": {"guardrails.rego": policy},
            "data": {"trusted_networks": ["10.20.0.0/16"], "secret_owner": "alice"}
        });
        let bundle = issuer::sign_bundle(&contents, &root);
        let config = issuer::load_config(&bundle, &[root.public().clone()], Some(&pdp));
        let delegation = issuer::delegation(
            &json!({
                "iss": IDP, "sub": "alice", "aud": API, "iat": NOW - 300, "exp": NOW + 3600,
                "jti": issuer::random_id().unwrap(), "scope": "secrets:read",
                "act": {"sub": "agent:booker"}, "cnf": {"jkt": agent.public().thumbprint()}
            }),
            &idp,
        );
        World {
            root,
            pdp,
            idp,
            agent,
            config,
            delegation,
        }
    }

    /// A decide input asking for a grant (`grant_jti`) on the allow.
    pub fn input_minting(&self, jti: &str, grant_jti: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&self.input(jti)).unwrap();
        v["mint_grant"] = json!({"aud": API, "ttl": 30, "jti": grant_jti});
        serde_json::to_vec(&v).unwrap()
    }

    /// A decide input presenting an ephemeral grant for the same request.
    pub fn input_with_grant(&self, grant: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&self.input("unused")).unwrap();
        v["credentials"] = json!({"grant": grant});
        serde_json::to_vec(&v).unwrap()
    }

    /// A decide input reading the secret, with a proof carrying `jti`.
    pub fn input(&self, jti: &str) -> Vec<u8> {
        let uri = "https://api.example.com/v1/secrets/db";
        let proof = issuer::proof(
            &Proof {
                htm: "GET".into(),
                htu: uri.into(),
                iat: NOW - 1,
                jti: jti.into(),
                token: Some(self.delegation.clone()),
                body_digest: None,
            },
            &self.agent,
        );
        serde_json::to_vec(&json!({
            "now": NOW,
            "request": {"method": "GET", "uri": uri, "ip": "10.20.0.7", "action": "secrets:read", "resource": "secret/db"},
            "credentials": {"delegation": [self.delegation], "proof": proof}
        }))
        .unwrap()
    }
}
