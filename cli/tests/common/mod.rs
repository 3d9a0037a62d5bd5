//! Shared fixtures for the CLI and service tests: a world of keys, a registry, guardrails and a
//! signed bundle, written to a temporary directory; and a `mandate serve` child process.
// Test helpers, not #[test] functions (clippy.toml's *-in-tests options do not reach them):
// a failed unwrap, expect, panic or index here is the calling test failing.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use host_rust::issuer;
use policy_core::jose::PrivateJwk;
use serde_json::{Value, json};

pub const API: &str = "https://api.example.com";
pub const IDP: &str = "https://idp.example.com";
pub const PDP: &str = "https://pdp.example.com";
pub const SECRET: &str = "https://api.example.com/v1/secrets/db";
pub const TRIP: &str = "https://api.example.com/v1/trips/42";

pub const GUARDRAILS: &str = r#"package mandate

default allow := false

from_trusted_network if {
	some cidr in data.trusted_networks
	net.cidr_contains(cidr, input.request.ip)
}

allow if {
	input.request.action == "secrets:read"
	input.user.id == data.secret_owner
	from_trusted_network
}

deny contains "secrets may only be read from a trusted network" if {
	input.request.action == "secrets:read"
	not from_trusted_network
}

deny contains "secrets belong to alice" if {
	input.request.action == "secrets:read"
	input.user.id != data.secret_owner
}

allow if startswith(input.request.action, "trips:")
"#;

pub fn mandate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mandate"))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh random key (a stranger to the seeded world).
pub fn key(kid: &str) -> PrivateJwk {
    issuer::generate_key(Some(kid)).unwrap()
}

pub fn rid() -> String {
    issuer::random_id().unwrap()
}

/// Keys and a signed bundle, written to `dir`.
pub struct World {
    pub dir: PathBuf,
    pub root: PrivateJwk,
    pub idp: PrivateJwk,
    pub pdp: PrivateJwk,
    pub booker: PrivateJwk,
    pub summarizer: PrivateJwk,
    pub now: i64,
}

impl World {
    /// The seeded world's keys (the test kit's `testkit::world::Keys`: `root-1`,
    /// `idp-1`, `pdp-1`, `tb-1`, `sum-1`) at the wall clock, since these tests run the real
    /// binary and server; [`key`] makes fresh keys for a test that needs a stranger.
    pub fn new(dir: &Path) -> World {
        let k = testkit::world::Keys::new();
        let w = World {
            dir: dir.to_path_buf(),
            root: k.root,
            idp: k.idp,
            pdp: k.pdp,
            booker: k.booker,
            summarizer: k.summarizer,
            now: now(),
        };
        for (name, k) in [
            ("root", &w.root),
            ("idp", &w.idp),
            ("pdp", &w.pdp),
            ("booker", &w.booker),
            ("summarizer", &w.summarizer),
        ] {
            std::fs::write(
                dir.join(format!("{name}.jwk")),
                k.to_json_value().to_string(),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{name}.pub.jwk")),
                k.public().to_json_value().to_string(),
            )
            .unwrap();
        }
        w.write_bundle("r1", "active", &w.root);
        w
    }

    pub fn contents(&self, revision: &str, booker_status: &str) -> Value {
        json!({
            "revision": revision, "iat": self.now - 60, "exp": self.now + 3600,
            "issuers": [
                {"iss": IDP, "keys": [self.idp.public().to_json_value()], "audiences": [API]},
                {"iss": PDP, "keys": [self.pdp.public().to_json_value()], "audiences": [API], "typ": ["mandate-grant+jwt"]}
            ],
            "agents": [
                {"id": "agent:travel-booker", "owner": "team:travel", "status": booker_status, "keys": [self.booker.public().to_json_value()],
                 "delegators": {"users": ["alice", "bob"]}, "ceiling": {"scopes": ["secrets:read", "trips:*"]},
                 "may_delegate_to": ["agent:summarizer"]},
                {"id": "agent:summarizer", "owner": "team:travel", "status": "active", "keys": [self.summarizer.public().to_json_value()],
                 "delegators": {"agents": ["agent:travel-booker"]}, "ceiling": {"scopes": ["trips:read", "trips:book"]}}
            ],
            "policies": {"guardrails.rego": GUARDRAILS},
            "data": {"trusted_networks": ["10.20.0.0/16"], "secret_owner": "alice"},
            "settings": {"grant_issuer": PDP, "grant_max_ttl": 30}
        })
    }

    /// Signs a bundle and writes it to `bundle.jws` atomically (rename), as a deploy would.
    pub fn write_bundle(&self, revision: &str, booker_status: &str, signer: &PrivateJwk) -> String {
        let jws = issuer::sign_bundle(&self.contents(revision, booker_status), signer);
        self.write_raw_bundle(&jws);
        jws
    }

    pub fn write_raw_bundle(&self, text: &str) {
        let tmp = self.dir.join("bundle.jws.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.dir.join("bundle.jws")).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn delegation(&self, user: &str, scope: &str, exp: i64) -> String {
        issuer::delegation(
            &json!({"iss": IDP, "sub": user, "aud": API, "iat": self.now - 600, "exp": exp, "jti": rid(), "scope": scope,
                    "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": self.booker.public().thumbprint()}}),
            &self.idp,
        )
    }

    pub fn alice(&self) -> String {
        self.delegation("alice", "secrets:read trips:read", self.now + 900)
    }

    pub fn hop(&self, parent: &str, scope: &str) -> String {
        let hop = issuer::SubDelegation {
            agent: "agent:summarizer".into(),
            agent_key: self.summarizer.public().to_json_value(),
            scope: scope.into(),
            authorization_details: None,
            aud: None,
            iat: self.now,
            exp: self.now + 300,
            jti: rid(),
        };
        issuer::subdelegation(parent, &hop, &self.booker).unwrap()
    }

    pub fn proof(&self, key: &PrivateJwk, method: &str, uri: &str, token: &str) -> String {
        issuer::proof(
            &issuer::Proof {
                htm: method.into(),
                htu: uri.into(),
                iat: now(),
                jti: rid(),
                token: Some(token.into()),
                body_digest: None,
                nonce: None,
            },
            key,
        )
    }

    /// A decide input for the booker acting on `token`.
    pub fn input(&self, method: &str, uri: &str, action: &str, ip: &str, token: &str) -> Value {
        json!({"request": {"method": method, "uri": uri, "ip": ip, "action": action},
               "credentials": {"delegation": [token], "proof": self.proof(&self.booker, method, uri, token)}})
    }
}

/// A `mandate serve` child process on 127.0.0.1:0, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr: PathBuf,
}

impl Server {
    pub fn start(world: &World, extra: &[&str]) -> Server {
        Self::start_with_bundle(world, world.path("bundle.jws").to_str().unwrap(), extra)
    }

    pub fn start_with_bundle(world: &World, bundle: &str, extra: &[&str]) -> Server {
        Self::spawn(&world.dir, &Self::args(world, bundle, extra))
    }

    /// As [`Server::start`], with `command` standing for `mandate` (see [`Server::spawn_command`]).
    pub fn start_command(world: &World, command: Command, extra: &[&str]) -> Server {
        let bundle = world.path("bundle.jws");
        let args = Self::args(world, bundle.to_str().unwrap(), extra);
        Self::spawn_command(&world.dir, command, &args)
    }

    /// The world's serve flags: its bundle, trust and grant keys, two routes, a fast poll.
    fn args(world: &World, bundle: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["--bundle", bundle, "--trust"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        args.push(world.path("root.pub.jwk").to_str().unwrap().to_string());
        args.push("--grant-key".into());
        args.push(world.path("pdp.jwk").to_str().unwrap().to_string());
        args.extend(
            [
                "--route",
                "GET /v1/secrets/* secrets:read",
                "--route",
                "GET /v1/trips/* trips:read",
                "--poll",
                "100ms",
            ]
            .iter()
            .map(|s| (*s).to_string()),
        );
        args.extend(extra.iter().map(|s| (*s).to_string()));
        args
    }

    /// `mandate serve --listen 127.0.0.1:0` with exactly `args`, logging to a file in `dir`.
    pub fn spawn(dir: &Path, args: &[String]) -> Server {
        Self::spawn_command(dir, mandate(), args)
    }

    /// As [`Server::spawn`], with `command` standing for `mandate` (a wrapper that ends by
    /// running it, e.g. in another mount namespace).
    pub fn spawn_command(dir: &Path, mut command: Command, args: &[String]) -> Server {
        let stderr = dir.join(format!("serve-{}.log", rid()));
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("mandate serve: listening on ") else {
            let log = std::fs::read_to_string(&stderr).unwrap_or_default();
            let _ = child.kill();
            panic!("serve did not start: stdout {line:?}, stderr {log}");
        };
        Server {
            child,
            base: addr.to_string(),
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms, at most `tries` times, until it returns `Some`.
pub async fn eventually<T, F, Fut>(tries: usize, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = Option<T>>,
{
    for _ in 0..tries {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(core::time::Duration::from_millis(50)).await;
    }
    None
}

/// An HTTP client for the service: 20 s per request, no idle connection kept (the service
/// closes idle ones at its header timeout; a request must not race that close).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(core::time::Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// POSTs `body` as JSON; the status and the JSON answer (`null` when it is not JSON).
pub async fn post(c: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = c.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The service's Prometheus text.
pub async fn metrics(c: &reqwest::Client, s: &Server) -> String {
    c.get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// One sample of the Prometheus text `text`: the value after `name_and_labels`, exactly as
/// exported (`name{label="v",...}`, labels sorted).
pub fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

/// As [`sample`], 0 when absent (a counter never incremented is not exported).
pub fn metric(text: &str, name_and_labels: &str) -> f64 {
    sample(text, name_and_labels).unwrap_or(0.0)
}

/// `mandate audit verify <log>`, which must pass; its standard output.
pub fn verify_audit(log: &Path) -> String {
    let out = mandate()
        .args(["audit", "verify"])
        .arg(log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
