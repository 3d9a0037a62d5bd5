//! Shared test support: the module, the vectors, a fresh world built with the issuer helpers,
//! and replay stores for the cases.
// Test helpers, not #[test] functions (clippy.toml's *-in-tests options do not reach them):
// a failed unwrap, expect, panic or index here is the calling test failing.
#![allow(
    clippy::std_instead_of_core,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use host_rust::issuer::{self, Proof};
use host_rust::replay::{MemoryReplayStore, ReplayError, ReplayStore, UseOnce};
use host_rust::{PrivateJwk, WasmLimits, WasmRuntime};
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
    root().join("target/host-rust-test-cache")
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

/// tests/vectors/conformance.json (decide inputs).
pub fn vectors() -> Value {
    vectors_file("conformance.json")
}

/// tests/vectors/http.json (HTTP decide inputs).
pub fn http_vectors() -> Value {
    vectors_file("http.json")
}

pub fn vectors_file(name: &str) -> Value {
    let p = root().join("tests/vectors").join(name);
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

/// A memory store that also keeps every call it was given (the entries of each `record`), and
/// can be shared: clones see the same entries.
#[derive(Debug, Clone)]
pub struct Recording {
    store: Arc<MemoryReplayStore>,
    calls: Arc<Mutex<Vec<Vec<UseOnce>>>>,
}

impl Recording {
    pub fn new(capacity: usize) -> Recording {
        Recording {
            store: Arc::new(MemoryReplayStore::new(capacity)),
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The entries of each `record` call so far, in order.
    pub fn calls(&self) -> Vec<Vec<UseOnce>> {
        self.calls.lock().unwrap().clone()
    }

    /// How many entries the store holds.
    pub fn len(&self) -> usize {
        self.store.len()
    }
}

impl ReplayStore for Recording {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        self.calls.lock().unwrap().push(entries.to_vec());
        self.store.record(entries, now).await
    }
}

pub const NOW: i64 = 1_800_000_000;
pub const API: &str = "https://api.example.com";
pub const IDP: &str = "https://idp.example.com";
pub const PDP: &str = "https://pdp.example.com";
/// The request every world input makes (its origin is the delegation's `aud`).
pub const SECRET_URI: &str = "https://api.example.com/v1/secrets/db";

/// A fresh world made with the issuer helpers over the seeded world's keys (the test kit's
/// `testkit::world::Keys`): a signed bundle with one agent and the seed's guardrail, a
/// delegation from alice. Each world has its own bundle revision and delegation jti, so worlds
/// never share replay entries (the Redis tests share one server).
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
        Self::build(policy, false)
    }

    /// Another world under the same issuer names and kids: its bundle is signed by the seeded
    /// rogue key (as `root-1`) and its delegations by the seeded stranger key (as `idp-1`).
    pub fn other() -> World {
        Self::build(GUARDRAIL, true)
    }

    fn build(policy: &str, other: bool) -> World {
        let k = testkit::world::Keys::new();
        let (root, idp) = if other {
            (k.rogue, k.stranger)
        } else {
            (k.root, k.idp)
        };
        let root = root.with_kid(Some("root-1".into()));
        let idp = idp.with_kid(Some("idp-1".into()));
        let (agent, pdp) = (k.booker, k.pdp);
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

    /// A decide input presenting an ephemeral grant for the same request, with a DPoP proof by
    /// the agent's key (the grant's `cnf.jkt`) bound to the grant (`ath`) under a fresh `jti`,
    /// so presenting the same grant twice replays the grant and nothing else.
    pub fn input_with_grant(&self, grant: &str) -> Vec<u8> {
        self.input_with_grant_proof(grant, &issuer::random_id().unwrap())
    }

    /// As [`Self::input_with_grant`], with the proof's `jti` chosen.
    pub fn input_with_grant_proof(&self, grant: &str, proof_jti: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&self.input("unused")).unwrap();
        v["credentials"] = json!({"grant": grant, "proof": self.proof(proof_jti, grant)});
        serde_json::to_vec(&v).unwrap()
    }

    /// A DPoP proof by the agent for the secret read, bound to `token` (`ath`).
    pub fn proof(&self, jti: &str, token: &str) -> String {
        issuer::proof(
            &Proof {
                htm: "GET".into(),
                htu: SECRET_URI.into(),
                iat: NOW - 1,
                jti: jti.into(),
                token: Some(token.into()),
                body_digest: None,
                nonce: None,
            },
            &self.agent,
        )
    }

    /// The secret read as an HTTP decide input, as a host receives it: `Authorization: DPoP`
    /// with the delegation, a `DPoP` proof carrying `jti`, from the trusted network's peer,
    /// routed by the binding to `secrets:read` on `secret/db`.
    pub fn http_input(&self, jti: &str) -> Vec<u8> {
        let auth = format!("DPoP {}", self.delegation);
        self.http_with_headers(&[
            ("Authorization", &auth),
            ("DPoP", &self.proof(jti, &self.delegation)),
        ])
    }

    /// As [`Self::http_input`], asking for a grant (`grant_jti`) on the allow.
    pub fn http_input_minting(&self, jti: &str, grant_jti: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(&self.http_input(jti)).unwrap();
        v["mint_grant"] = json!({"aud": API, "ttl": 30, "jti": grant_jti});
        serde_json::to_vec(&v).unwrap()
    }

    /// The secret read presenting a grant: `Authorization: Mandate-Grant` and a `DPoP` proof
    /// bound to it under `proof_jti`.
    pub fn http_input_with_grant(&self, grant: &str, proof_jti: &str) -> Vec<u8> {
        let auth = format!("Mandate-Grant {grant}");
        self.http_with_headers(&[
            ("Authorization", &auth),
            ("DPoP", &self.proof(proof_jti, grant)),
        ])
    }

    fn http_with_headers(&self, headers: &[(&str, &str)]) -> Vec<u8> {
        let headers: Vec<[&str; 2]> = headers.iter().map(|(n, v)| [*n, *v]).collect();
        serde_json::to_vec(&json!({
            "now": NOW,
            "http": {
                "method": "GET", "scheme": "https", "authority": "api.example.com",
                "path": "/v1/secrets/db", "headers": headers, "peer": "10.20.0.7:50123"
            },
            "binding": {"routes": [
                {"method": "GET", "path": "/v1/secrets/*", "action": "secrets:read", "resource": "secret/db"}
            ]}
        }))
        .unwrap()
    }

    /// A decide input reading the secret, with a proof carrying `jti`.
    pub fn input(&self, jti: &str) -> Vec<u8> {
        let proof = self.proof(jti, &self.delegation);
        serde_json::to_vec(&json!({
            "now": NOW,
            "request": {"method": "GET", "uri": SECRET_URI, "ip": "10.20.0.7", "action": "secrets:read", "resource": "secret/db"},
            "credentials": {"delegation": [self.delegation], "proof": proof}
        }))
        .unwrap()
    }
}
