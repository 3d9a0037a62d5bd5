//! `mandate demo`: the whole story in a few seconds, on an embedded registry and guardrails,
//! with keys generated at start and every request sent over real HTTP to a real `serve`
//! instance on loopback.

use policy_core::Code;
use std::path::Path;

use clap::Args;
use host_rust::issuer;
use policy_core::jose::PrivateJwk;
use serde_json::{Value, json};

use crate::error::{CliError, Result};
use crate::io;
use crate::out::{Out, outln};
use crate::registry::RegistryFile;
use crate::serve::{self, Config, Route, source::Source};

pub const API: &str = "https://api.example.com";
pub const API_HOST: &str = "api.example.com";
pub const IDP: &str = "https://idp.example.com";
pub const PDP: &str = "https://pdp.example.com";
pub const REGISTRY_YAML: &str = include_str!("../demo/registry.yaml");
pub const GUARDRAILS: &str = include_str!("../demo/guardrails.rego");
pub const DATA_YAML: &str = include_str!("../demo/data.yaml");
pub const TRUSTED_IP: &str = "10.20.0.7";
pub const UNTRUSTED_IP: &str = "203.0.113.9";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's files (bundle, keys, audit log) in this directory instead of a temporary one.
    #[arg(long)]
    pub keep: Option<std::path::PathBuf>,
    /// Decide with the portable module (e.g. dist/mandate.wasm, from scripts/build-wasm.sh) under wasmtime.
    #[arg(long)]
    pub wasm: Option<std::path::PathBuf>,
}

/// The demo's world: keys generated now, a signed bundle.
#[derive(Debug)]
pub struct World {
    pub now: i64,
    pub root: PrivateJwk,
    pub idp: PrivateJwk,
    pub pdp: PrivateJwk,
    pub booker: PrivateJwk,
    pub summarizer: PrivateJwk,
    pub bundle: String,
    pub revision: String,
}

fn key(kid: &str) -> Result<PrivateJwk> {
    issuer::generate_key(Some(kid)).map_err(|e| CliError::failure(e.to_string()))
}

fn rid() -> Result<String> {
    issuer::random_id().map_err(|e| CliError::failure(e.to_string()))
}

impl World {
    pub fn new() -> Result<World> {
        let now = io::now();
        let (root, idp, pdp) = (key("root-1")?, key("idp-1")?, key("pdp-1")?);
        let (booker, summarizer) = (key("tb-1")?, key("sum-1")?);
        let mut registry: RegistryFile =
            io::parse_doc(Path::new("registry.yaml"), REGISTRY_YAML.as_bytes())?;
        for a in &mut registry.agents {
            let k = if a.id == "agent:travel-booker" {
                &booker
            } else {
                &summarizer
            };
            a.keys = vec![k.public().to_json_value()];
        }
        let data: Value = io::parse_doc(Path::new("data.yaml"), DATA_YAML.as_bytes())?;
        let revision = format!("demo-{now}");
        let contents = json!({
            "revision": revision, "iat": now - 60, "exp": now + 3600,
            "issuers": [
                {"iss": IDP, "keys": [idp.public().to_json_value()], "audiences": [API]},
                {"iss": PDP, "keys": [pdp.public().to_json_value()], "audiences": [API], "typ": ["mandate-grant+jwt"]}
            ],
            "agents": registry.agents,
            "policies": {"guardrails.rego": GUARDRAILS},
            "data": data,
            "settings": {"grant_issuer": PDP, "grant_max_ttl": 30, "proof_max_age": 60, "clock_skew": 30}
        });
        let bundle = issuer::sign_bundle(&contents, &root);
        Ok(World {
            now,
            root,
            idp,
            pdp,
            booker,
            summarizer,
            bundle,
            revision,
        })
    }

    /// A person's delegation to the travel booker.
    pub fn delegation(&self, user: &str, scope: &str, exp: i64) -> Result<String> {
        Ok(issuer::delegation(
            &json!({"iss": IDP, "sub": user, "aud": API, "iat": self.now - 600, "exp": exp, "jti": rid()?, "scope": scope,
                    "act": {"sub": "agent:travel-booker"}, "cnf": {"jkt": self.booker.public().thumbprint()}}),
            &self.idp,
        ))
    }

    /// The booker hands the summarizer a task.
    pub fn hop(&self, parent: &str, scope: &str) -> Result<String> {
        let hop = issuer::SubDelegation {
            agent: "agent:summarizer".into(),
            agent_key: self.summarizer.public().to_json_value(),
            scope: scope.into(),
            authorization_details: None,
            aud: None,
            iat: self.now,
            exp: self.now + 300,
            jti: rid()?,
        };
        issuer::subdelegation(parent, &hop, &self.booker)
            .map_err(|e| CliError::failure(e.to_string()))
    }

    /// A fresh DPoP proof for one request.
    pub fn proof(key: &PrivateJwk, method: &str, uri: &str, token: &str) -> Result<String> {
        let p = issuer::Proof {
            htm: method.into(),
            htu: crate::token::htu(uri).into(),
            iat: io::now(),
            jti: rid()?,
            token: Some(token.into()),
            body_digest: None,
            nonce: None,
        };
        Ok(issuer::proof(&p, key))
    }

    /// A service config serving this world's bundle from `dir`.
    pub fn config(&self, dir: &Path, audit: bool) -> Result<Config> {
        let bundle_path = dir.join("bundle.jws");
        io::write(&bundle_path, self.bundle.as_bytes(), false)?;
        let mut c = Config::new(Source::File(bundle_path), vec![self.root.public().clone()]);
        c.grant_key = Some(self.pdp.clone());
        if audit {
            c.audit = Some(dir.join("audit.jsonl"));
        }
        c.routes = vec![
            route("GET /v1/secrets/* secrets:read")?,
            route("GET /v1/trips/* trips:read")?,
        ];
        c.poll = core::time::Duration::from_secs(3600);
        // The demo's client plays Envoy in front of the service: one proxy that appends the
        // client's address to x-forwarded-for (and says the original scheme). Without a trusted
        // hop the service would take the socket peer, loopback, for every request.
        c.trusted_hops = 1;
        Ok(c)
    }
}

fn route(s: &str) -> Result<Route> {
    s.parse().map_err(CliError::failure)
}

/// One request of the story.
struct Ask {
    label: &'static str,
    actor: String,
    user: &'static str,
    method: &'static str,
    path: &'static str,
    ip: &'static str,
    /// `Authorization` header value.
    authorization: String,
    dpop: Option<String>,
    chain: Vec<String>,
    expect: (&'static str, Option<Code>),
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Row {
    pub n: usize,
    pub label: String,
    pub actor: String,
    pub user: String,
    pub asked: String,
    pub status: u16,
    pub decision: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub expected: bool,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({"n": self.n, "scenario": self.label, "agent": self.actor, "user": self.user, "asked": self.asked, "http_status": self.status,
               "decision": self.decision, "code": self.code, "message": self.message, "as_expected": self.expected})
    }
}

async fn check(client: &reqwest::Client, base: &str, ask: &Ask) -> Result<(u16, Value)> {
    let mut req = client
        .request(
            reqwest::Method::from_bytes(ask.method.as_bytes())
                .map_err(|e| CliError::failure(e.to_string()))?,
            format!("{base}/v1/check{}", ask.path),
        )
        .header("host", API_HOST)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", ask.ip)
        .header("authorization", &ask.authorization);
    if let Some(p) = &ask.dpop {
        req = req.header("dpop", p);
    }
    if !ask.chain.is_empty() {
        req = req.header("mandate-chain", ask.chain.join(" "));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| CliError::failure(format!("demo request failed: {e}")))?;
    let status = resp.status().as_u16();
    let reason = resp
        .headers()
        .get("x-mandate-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let mut v = body;
    if let (Some(r), Some(obj)) = (reason, v.as_object_mut()) {
        obj.insert("x-mandate-reason".into(), Value::String(r));
    }
    Ok((status, v))
}

fn row(n: usize, ask: &Ask, status: u16, body: &Value) -> Row {
    let decision = body
        .get("decision")
        .and_then(Value::as_str)
        .unwrap_or(if status == 200 { "allow" } else { "deny" })
        .to_string();
    let code = body
        .pointer("/reasons/0/code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = body
        .pointer("/reasons/0/message")
        .and_then(Value::as_str)
        .map(str::to_string);
    let expected = decision == ask.expect.0 && code.as_deref() == ask.expect.1.map(Code::as_str);
    Row {
        n,
        label: ask.label.to_string(),
        actor: ask.actor.clone(),
        user: ask.user.to_string(),
        asked: format!("{} {} from {}", ask.method, ask.path, ask.ip),
        status,
        decision,
        code,
        message,
        expected,
    }
}

const BOOKER: &str = "agent:travel-booker";
const CHAIN: &str = "agent:travel-booker > agent:summarizer";

fn print_table(rows: &[Row]) {
    outln!(
        "{:>2}  {:<30} {:<38} {:<6} {:<36} {:<11} REASON",
        "#",
        "SCENARIO",
        "WHO ACTED",
        "FOR",
        "ASKED",
        "DECISION"
    );
    outln!("{}", "-".repeat(160));
    for r in rows {
        let reason = match (&r.code, &r.message) {
            (Some(c), Some(m)) if m.chars().count() > 64 => {
                format!("{c}: {}…", m.chars().take(63).collect::<String>())
            }
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => "-".into(),
        };
        let decision = format!("{} ({})", r.decision.to_uppercase(), r.status);
        let mark = if r.expected { "" } else { "   <-- UNEXPECTED" };
        outln!(
            "{:>2}  {:<30} {:<38} {:<6} {:<36} {:<11} {reason}{mark}",
            r.n,
            r.label,
            r.actor,
            r.user,
            r.asked,
            decision
        );
    }
}

pub async fn run(args: &DemoArgs, out: &Out) -> Result<u8> {
    let tmp;
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    serve::QUIET.store(true, core::sync::atomic::Ordering::Relaxed);
    let world = World::new()?;
    let human = !out.json;
    if human {
        outln!("Mandate demo: authorization for AI agents, decided per request and audited.\n");
        outln!("1. Setup (everything generated just now, nothing to prepare)");
        outln!(
            "   - keys: bundle root, identity provider, this decision point's grant key, and one key per agent"
        );
        outln!(
            "   - a signed bundle, revision {}: 2 agents from the embedded registry, the guardrails below, valid 1 h",
            world.revision
        );
        outln!(
            "       agent:travel-booker  may act for alice and bob; ceiling secrets:read trips:*; may hand work to agent:summarizer"
        );
        outln!(
            "       agent:summarizer     may act only when the booker delegates; ceiling trips:read trips:book"
        );
        outln!(
            "       guardrails: secrets only for their owner (alice) and only from 10.20.0.0/16; trips for any delegated agent\n"
        );
    }

    // 2. People delegate; the booker sub-delegates a narrower task.
    let alice = world.delegation("alice", "secrets:read trips:read", world.now + 900)?;
    let bob = world.delegation("bob", "secrets:read", world.now + 900)?;
    let stale = world.delegation("alice", "secrets:read", world.now - 300)?;
    let narrow = world.hop(&alice, "trips:read")?;
    let wide = world.hop(&alice, "trips:read trips:book")?;
    if human {
        outln!("2. Delegation");
        outln!(
            "   - alice's identity provider signs a 15-minute delegation to agent:travel-booker: secrets:read trips:read, bound to the agent's key"
        );
        outln!(
            "   - the booker sub-delegates to agent:summarizer, signing with its own key: trips:read only, 5 minutes"
        );
        outln!(
            "   - (also: bob's delegation, an expired one of alice's, and a sub-delegation that tries to add trips:book)\n"
        );
    }

    let mut config = world.config(&dir, true)?;
    config.wasm.clone_from(&args.wasm);
    let running = serve::start(config).await?;
    let base = format!("http://{}", running.addr);
    if human {
        let engine = if args.wasm.is_some() {
            "the portable wasm module under wasmtime"
        } else {
            "the native engine"
        };
        outln!(
            "3. Requests, over HTTP to a real `mandate serve` on {base}, deciding with {engine}"
        );
        outln!(
            "   (Envoy ext_authz style: /v1/check/<path>, Authorization: DPoP <token>, DPoP: <proof>;"
        );
        outln!(
            "    the demo plays the one proxy the service trusts, which appends the client's address to x-forwarded-for)\n"
        );
    }
    let client = reqwest::Client::builder()
        .timeout(core::time::Duration::from_secs(10))
        .build()
        .map_err(|e| CliError::failure(e.to_string()))?;
    let secret = format!("{API}/v1/secrets/db");
    let trip = format!("{API}/v1/trips/42");
    let dpop = |t: &str| format!("DPoP {t}");
    let booker_ask = |label, user, token: &str, ip, expect| -> Result<Ask> {
        Ok(Ask {
            label,
            actor: BOOKER.into(),
            user,
            method: "GET",
            path: "/v1/secrets/db",
            ip,
            authorization: dpop(token),
            dpop: Some(World::proof(&world.booker, "GET", &secret, token)?),
            chain: Vec::new(),
            expect,
        })
    };
    let first = booker_ask(
        "read a secret, office network",
        "alice",
        &alice,
        TRUSTED_IP,
        ("allow", None),
    )?;
    let replay = Ask {
        label: "same request replayed",
        expect: ("deny", Some(Code::ReplayDetected)),
        ..clone_ask(&first)
    };
    let mut asks = vec![
        first,
        replay,
        booker_ask(
            "read a secret, untrusted IP",
            "alice",
            &alice,
            UNTRUSTED_IP,
            ("deny", Some(Code::PolicyDenied)),
        )?,
        booker_ask(
            "wrong user (bob's delegation)",
            "bob",
            &bob,
            TRUSTED_IP,
            ("deny", Some(Code::PolicyDenied)),
        )?,
        booker_ask(
            "expired delegation",
            "alice",
            &stale,
            TRUSTED_IP,
            ("deny", Some(Code::TokenExpired)),
        )?,
    ];
    for (label, hop, expect) in [
        ("sub-agent, narrowed hop", &narrow, ("allow", None)),
        (
            "sub-agent, escalating hop",
            &wide,
            ("deny", Some(Code::ChainScopeEscalation)),
        ),
    ] {
        asks.push(Ask {
            label,
            actor: CHAIN.into(),
            user: "alice",
            method: "GET",
            path: "/v1/trips/42",
            ip: TRUSTED_IP,
            authorization: dpop(hop),
            dpop: Some(World::proof(&world.summarizer, "GET", &trip, hop)?),
            chain: vec![alice.clone()],
            expect,
        });
    }
    let mut rows = Vec::new();
    for ask in &asks {
        let (status, body) = check(&client, &base, ask).await?;
        rows.push(row(rows.len() + 1, ask, status, &body));
    }

    // 4. An ephemeral grant: minted after an allow, bound to one request, used once.
    let grant_input = json!({
        "request": {"method": "GET", "uri": trip, "ip": TRUSTED_IP, "action": "trips:read"},
        "credentials": {"delegation": [alice], "proof": World::proof(&world.booker, "GET", &trip, &alice)?},
        "mint_grant": {"aud": API, "ttl": 20}
    });
    let resp = client
        .post(format!("{base}/v1/grants"))
        .json(&grant_input)
        .send()
        .await
        .map_err(|e| CliError::failure(format!("demo request failed: {e}")))?;
    let status = resp.status().as_u16();
    let minted: Value = resp.json().await.unwrap_or(Value::Null);
    let grant_ask = Ask {
        label: "mint a one-time grant",
        actor: BOOKER.into(),
        user: "alice",
        method: "GET",
        path: "/v1/trips/42",
        ip: TRUSTED_IP,
        authorization: String::new(),
        dpop: None,
        chain: Vec::new(),
        expect: ("allow", None),
    };
    let mut r = row(rows.len() + 1, &grant_ask, status, &minted);
    r.asked = "POST /v1/grants for GET /v1/trips/42".into();
    rows.push(r);
    let grant = minted
        .get("grant")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // A grant is bound to the agent's key: it is presented with a fresh proof by that key
    // (`ath` = the grant's hash). Without one, a grant copied off the wire is worthless.
    for (label, proved, expect) in [
        (
            "a stolen grant alone",
            false,
            ("deny", Some(Code::ProofMissing)),
        ),
        ("use the grant", true, ("allow", None)),
        (
            "use the same grant again",
            true,
            ("deny", Some(Code::ReplayDetected)),
        ),
    ] {
        let dpop = if proved {
            Some(World::proof(&world.booker, "GET", &trip, &grant)?)
        } else {
            None
        };
        let ask = Ask {
            label,
            actor: if proved {
                BOOKER.into()
            } else {
                "whoever copied it (no agent key)".into()
            },
            authorization: format!("Mandate-Grant {grant}"),
            dpop,
            expect,
            ..clone_ask(&grant_ask)
        };
        let (status, body) = check(&client, &base, &ask).await?;
        rows.push(row(rows.len() + 1, &ask, status, &body));
    }

    let audit_path = dir.join("audit.jsonl");
    running.shutdown().await?;
    let verified = host_rust::audit::verify(&audit_path, None);
    let all_expected = rows.iter().all(|r| r.expected);

    if out.json {
        let audit = match &verified {
            Ok(r) => json!({"ok": true, "records": r.records, "last_hash": r.last_hash}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        };
        outln!(
            "{}",
            json!({"rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(), "audit": audit, "all_as_expected": all_expected, "service": base})
        );
    } else {
        print_table(&rows);
        outln!();
        outln!("4. Audit");
        match &verified {
            Ok(r) => {
                let short = r.last_hash.get(..16).unwrap_or(&r.last_hash);
                outln!(
                    "   audit log verified: {} records, hash chain intact (last hash {short}…)",
                    r.records
                );
                outln!(
                    "   every decision above is one record: who acted, for whom, what, which credentials, which bundle, which rule"
                );
                if let Some(first) = first_record(&audit_path) {
                    outln!("   record #1, chained to the next by its hash:");
                    for line in first {
                        outln!("     {line}");
                    }
                }
            }
            Err(e) => outln!("   audit log FAILED verification: {e}"),
        }
        outln!();
        if all_expected {
            outln!("Every decision came out as the story expects. What you saw:");
        } else {
            outln!(
                "Some decisions did NOT come out as expected (marked above). What should have happened:"
            );
        }
        outln!(
            "  - an agent acts only with a person's signed delegation, bound to the agent's own key, and a fresh proof per request"
        );
        outln!(
            "  - guardrails (Rego) narrow further: here, secrets only for alice and only from the office network"
        );
        outln!(
            "  - a sub-agent gets at most what its delegator had; asking for more is refused ({})",
            Code::ChainScopeEscalation
        );
        outln!(
            "  - a grant is presented with the agent's proof too: a grant alone (stolen) is refused ({})",
            Code::ProofMissing
        );
        outln!(
            "  - a replayed proof or a reused grant is refused; every decision is in a hash-chained audit log"
        );
        outln!(
            "Next: `mandate serve --help` (the service), `mandate bundle build --help` (your own registry and policies)."
        );
        if args.keep.is_some() {
            outln!("Files kept in {}", dir.display());
        }
    }
    Ok(if all_expected && verified.is_ok() {
        crate::error::exit::OK
    } else {
        crate::error::exit::FAILURE
    })
}

/// The first audit record, a few fields per line, for people.
fn first_record(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let rec: Value = serde_json::from_str(text.lines().next()?).ok()?;
    let a = rec.get("audit")?;
    let s = |p: &str| {
        a.pointer(p)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    Some(vec![
        format!(
            "seq {}  prev {}",
            rec.get("seq")?,
            rec.get("prev")?.as_str()?.get(..16)?
        ),
        format!(
            "decision {}  outcome {}  time {}",
            s("/decision_id"),
            s("/outcome"),
            io::fmt_time(a.get("time")?.as_i64()?)
        ),
        format!(
            "agent {}  for {}  via {}  key {}",
            s("/agent"),
            s("/user"),
            s("/issuer"),
            s("/key")
        ),
        format!(
            "request {} {}  from {}  action {}",
            s("/request/method"),
            s("/request/uri"),
            s("/request/ip"),
            s("/request/action")
        ),
        format!(
            "credentials {}  bundle {}  rules {}",
            s("/credentials/jti"),
            s("/bundle/revision"),
            s("/rules")
        ),
    ])
}

fn clone_ask(a: &Ask) -> Ask {
    Ask {
        label: a.label,
        actor: a.actor.clone(),
        user: a.user,
        method: a.method,
        path: a.path,
        ip: a.ip,
        authorization: a.authorization.clone(),
        dpop: a.dpop.clone(),
        chain: a.chain.clone(),
        expect: a.expect,
    }
}

/// A temporary directory removed on drop (the demo writes its bundle and audit log there).
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!(
            "mandate-demo-{}-{}",
            std::process::id(),
            rid()?.replace(['-', '_'], "")
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
