//! `mandate bundle build|sign|inspect|verify`.

use policy_core::Code;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use policy_core::jose::{PublicJwk, Unverified};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{CliError, Kind, Result};
use crate::io;
use crate::out::{Out, outln};
use crate::registry::RegistryFile;

#[derive(Debug, Args)]
pub struct BundleArgs {
    #[command(subcommand)]
    pub cmd: BundleCmd,
}

#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Builds unsigned bundle contents from a registry, policies, data, settings and issuers.
    #[command(
        after_help = "Example:\n  mandate bundle build --registry registry.yaml --policy policies/ --data data.yaml \\\n    --settings settings.yaml --issuers issuers.yaml --revision 2026-11-29.1 --ttl 24h --out bundle.json"
    )]
    Build(BuildArgs),
    /// Signs bundle contents with the bundle (root) key.
    #[command(
        after_help = "Example:\n  mandate bundle sign bundle.json --key keys/root.jwk --out bundle.jws"
    )]
    Sign(SignArgs),
    /// Shows a signed bundle's header and contents, WITHOUT verifying it.
    #[command(
        after_help = "Example:\n  mandate bundle inspect bundle.jws\n  mandate bundle inspect bundle.jws --json | jq .contents.agents"
    )]
    Inspect(InspectArgs),
    /// Verifies a signed bundle against trust keys: signature, schema, policies, validity window.
    #[command(
        after_help = "Example:\n  mandate bundle verify bundle.jws --trust keys/root.pub.jwk"
    )]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The agent registry file (YAML or JSON).
    #[arg(long)]
    pub registry: PathBuf,
    /// A Rego file, or a directory of them (repeatable).
    #[arg(long = "policy")]
    pub policies: Vec<PathBuf>,
    /// Policy data (`data.*`), a YAML or JSON object.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Settings (clock_skew, proof_max_age, grant_max_ttl, max_chain_depth, decision_rule, grant_issuer).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Trusted issuers: a YAML or JSON list of {iss, keys, audiences, typ}; a key may be a JWK or a path to one.
    #[arg(long)]
    pub issuers: PathBuf,
    /// The revision label (default: build-UNIXTIME).
    #[arg(long)]
    pub revision: Option<String>,
    /// How long the bundle is valid (e.g. 24h, 7d).
    #[arg(long, default_value = "24h", value_parser = io::parse_duration)]
    pub ttl: i64,
    /// Where to write the contents (JSON); stdout when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Refuse to write contents that have warnings (`lint.*`: no policies, an undefined
    /// decision rule, an unknown agent in may_delegate_to, a key on two agents, grants without
    /// a grant issuer) instead of only printing them.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The contents (from `bundle build`).
    pub contents: PathBuf,
    /// The bundle signing key (private JWK).
    #[arg(long)]
    pub key: PathBuf,
    /// Where to write the signed bundle (compact JWS); stdout when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The signed bundle (compact JWS file).
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signed bundle (compact JWS file).
    pub bundle: PathBuf,
    /// A trusted bundle public key (repeatable, for rotation).
    #[arg(long = "trust", required = true)]
    pub trust: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerFileEntry {
    iss: String,
    keys: Vec<Value>,
    audiences: Vec<String>,
    #[serde(default)]
    typ: Option<Vec<String>>,
}

pub(crate) fn rego_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| {
            CliError::new(
                Kind::NotFound,
                Code::FileNotFound,
                format!("cannot list {}: {e}", path.display()),
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("rego"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(CliError::invalid(
                Code::PolicyNone,
                format!("{} has no .rego files", path.display()),
            ));
        }
        Ok(files)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

pub(crate) fn object_file(path: &Path, what: &str) -> Result<Map<String, Value>> {
    let v: Value = io::read_doc(path)?;
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(CliError::invalid(
            Code::DocNotObject,
            format!(
                "{} must hold a {what} object (key: value pairs)",
                path.display()
            ),
        )),
    }
}

/// The settings measured in seconds, which a settings file may also give as durations.
const DURATION_SETTINGS: [&str; 3] = ["clock_skew", "proof_max_age", "grant_max_ttl"];

/// `settings` with durations (`90s`, `5m`, `4d`) of the time settings turned into seconds.
fn with_durations(path: &Path, mut settings: Map<String, Value>) -> Result<Map<String, Value>> {
    for name in DURATION_SETTINGS {
        if let Some(Value::String(text)) = settings.get(name) {
            let seconds = io::parse_duration(text).map_err(|e| {
                CliError::invalid(
                    Code::DurationInvalid,
                    format!("{}: {name}: {e}", path.display()),
                )
                .hint("give seconds (60) or a duration (60s, 5m, 1h, 4d)")
            })?;
            settings.insert(name.into(), Value::from(seconds));
        }
    }
    Ok(settings)
}

/// Assembles bundle contents (the schema of policy-core/src/bundle.rs).
pub fn build_contents(args: &BuildArgs, now: i64) -> Result<Value> {
    let registry = RegistryFile::load(&args.registry)?;
    let mut policies = Map::new();
    for p in &args.policies {
        for f in rego_files(p)? {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("policy.rego")
                .to_string();
            if policies
                .insert(name.clone(), Value::String(io::read_string(&f)?))
                .is_some()
            {
                return Err(CliError::invalid(
                    Code::PolicyDuplicate,
                    format!("two policy files are named {name}"),
                )
                .hint("rename one"));
            }
        }
    }
    let data = match &args.data {
        Some(p) => object_file(p, "data")?,
        None => Map::new(),
    };
    let settings = match &args.settings {
        Some(p) => with_durations(p, object_file(p, "settings")?)?,
        None => Map::new(),
    };
    let entries: Vec<IssuerFileEntry> = io::read_doc(&args.issuers)?;
    let base = args.issuers.parent().unwrap_or(Path::new("."));
    let mut issuers = Vec::new();
    for e in entries {
        let mut keys = Vec::new();
        for k in e.keys {
            let key = match &k {
                Value::String(rel) => {
                    let p = base.join(rel);
                    let key = io::read_public_key(&p)?;
                    if key.kid().is_none() {
                        return Err(CliError::invalid(
                            Code::KeyNoKid,
                            format!("{}: issuer keys need a kid", p.display()),
                        )
                        .hint("make it with `mandate keygen --kid ...`"));
                    }
                    key.to_json_value()
                }
                other => {
                    PublicJwk::from_value(other).map_err(|err| {
                        CliError::invalid(
                            Code::KeyInvalid,
                            format!(
                                "{}: issuer {}: {err} (Mandate keys are EC P-256)",
                                args.issuers.display(),
                                e.iss
                            ),
                        )
                    })?;
                    other.clone()
                }
            };
            keys.push(key);
        }
        let mut issuer = json!({"iss": e.iss, "keys": keys, "audiences": e.audiences});
        if let (Some(t), Some(obj)) = (e.typ, issuer.as_object_mut()) {
            obj.insert("typ".into(), json!(t));
        }
        issuers.push(issuer);
    }
    let revision = args
        .revision
        .clone()
        .unwrap_or_else(|| format!("build-{now}"));
    let contents = json!({
        "revision": revision,
        "iat": now,
        "exp": now.saturating_add(args.ttl),
        "issuers": issuers,
        "agents": registry.agents,
        "revocations": registry.revocations,
        "policies": policies,
        "data": data,
        "settings": settings,
    });
    check_contents(&contents)?;
    Ok(contents)
}

/// Checks contents by signing them with a throwaway key and loading them in the engine, so a
/// schema or Rego error shows at build time rather than at the decision point.
pub fn check_contents(contents: &Value) -> Result<()> {
    let key = host_rust::issuer::generate_key(Some("check"))
        .map_err(|e| CliError::failure(e.to_string()))?;
    let jws = host_rust::issuer::sign_bundle(contents, &key);
    let config = host_rust::issuer::load_config(&jws, &[key.public().clone()], None);
    let pdp = policy_core::Pdp::load_json(&config);
    if let Err(r) = pdp.status() {
        return Err(CliError::new(
            Kind::Bundle,
            r.code,
            format!(
                "the bundle would not load: {}: {}",
                r.code.as_str(),
                r.message
            ),
        )
        .hint("fix the registry, policies, data or settings it names"));
    }
    Ok(())
}

/// Parses a signed bundle without verifying it: (header, contents).
pub fn decode(path: &Path, jws: &str) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let not_a_bundle = |e: &dyn core::fmt::Display| {
        CliError::new(
            Kind::Bundle,
            Code::BundleMalformed,
            format!("{} is not a signed bundle: {e}", path.display()),
        )
        .hint("sign contents with `mandate bundle sign`")
    };
    let parsed = Unverified::parse(jws.trim(), policy_core::limits::MAX_BUNDLE_BYTES, false)
        .map_err(|e| not_a_bundle(&e))?;
    let contents =
        crate::token::unverified_payload(jws.trim()).ok_or_else(|| not_a_bundle(&"payload"))?;
    Ok((parsed.header().clone(), contents))
}

/// Verifies a signed bundle against trust keys and the clock; returns the load status.
pub fn verify_jws(
    path: &Path,
    jws: &str,
    trust: &[PublicJwk],
    now: i64,
) -> Result<host_rust::LoadStatus> {
    let config = host_rust::issuer::load_config(jws.trim(), trust, None);
    let decider = host_rust::Decider::new(
        host_rust::Backend::native(),
        host_rust::replay::MemoryReplayStore::new(1),
    )
    .map_err(|e| CliError::failure(e.to_string()))?;
    let status = match decider.load(&config) {
        Ok(s) => s,
        Err(host_rust::HostError::Load { code, message }) => {
            let hint = match code {
                Code::BundleUntrustedKey | Code::BundleSignatureInvalid => {
                    "check --trust names the public half of the key that signed it"
                }
                Code::BundlePolicyInvalid => "fix the Rego policy and rebuild",
                _ => {
                    "rebuild it with `mandate bundle build` and sign it with `mandate bundle sign`"
                }
            };
            return Err(CliError::new(
                Kind::Bundle,
                code,
                format!("{} was refused: {code}: {message}", path.display()),
            )
            .hint(hint));
        }
        Err(e) => return Err(CliError::failure(e.to_string())),
    };
    check_time(path, &status, now)?;
    Ok(status)
}

/// `bundle.expired` / `bundle.not_yet_valid` as CLI errors.
pub fn check_time(path: &Path, status: &host_rust::LoadStatus, now: i64) -> Result<()> {
    let rev = status.revision.clone().unwrap_or_default();
    if let Some(exp) = status.exp
        && now >= exp
    {
        return Err(CliError::new(
            Kind::Bundle,
            Code::BundleExpired,
            format!(
                "{} (revision {rev}) expired at {} ({}s ago)",
                path.display(),
                io::fmt_time(exp),
                now.saturating_sub(exp)
            ),
        )
        .hint("build and sign a fresh one with `mandate bundle build` and `mandate bundle sign`"));
    }
    if let Some(nbf) = status.nbf
        && now < nbf
    {
        return Err(CliError::new(
            Kind::Bundle,
            Code::BundleNotYetValid,
            format!(
                "{} (revision {rev}) is valid only from {}",
                path.display(),
                io::fmt_time(nbf)
            ),
        )
        .hint("check this machine's clock, or the bundle's nbf"));
    }
    Ok(())
}

pub fn read_trust(paths: &[PathBuf]) -> Result<Vec<PublicJwk>> {
    paths.iter().map(|p| io::read_public_key(p)).collect()
}

pub fn run(args: &BundleArgs, out: &Out) -> Result<()> {
    let now = io::now();
    match &args.cmd {
        BundleCmd::Build(b) => {
            let contents = build_contents(b, now)?;
            let warnings = crate::bundle_lint::lint(&contents);
            for w in &warnings {
                crate::out::write_err(
                    &format!("warning: {}: {}", w.code.as_str(), w.message),
                    true,
                );
            }
            if b.deny_warnings
                && let Some(first) = warnings.first()
            {
                return Err(CliError::invalid(
                    Code::LintFailed,
                    format!(
                        "{} warning(s), the first {}: {}",
                        warnings.len(),
                        first.code.as_str(),
                        first.message
                    ),
                )
                .hint("fix what the warnings name, or build without --deny-warnings"));
            }
            let bytes = io::render_doc(Path::new("bundle.json"), &contents)?;
            match &b.out {
                Some(p) => {
                    io::write(p, &bytes, false)?;
                    let summary = json!({"out": p, "revision": contents.get("revision"), "exp": contents.get("exp"),
                        "agents": contents.get("agents").and_then(Value::as_array).map_or(0, Vec::len),
                        "policies": contents.get("policies").and_then(Value::as_object).map_or(0, Map::len),
                        "warnings": warnings.iter().map(|w| json!({"code": w.code, "message": w.message})).collect::<Vec<_>>()});
                    out.result(&summary, || {
                        format!(
                            "wrote {} (revision {}, {} agent(s), {} policy file(s), valid until {}); sign it with `mandate bundle sign`",
                            p.display(),
                            contents.get("revision").and_then(Value::as_str).unwrap_or(""),
                            summary.get("agents").and_then(Value::as_u64).unwrap_or(0),
                            summary.get("policies").and_then(Value::as_u64).unwrap_or(0),
                            io::fmt_time(contents.get("exp").and_then(Value::as_i64).unwrap_or(0))
                        )
                    });
                }
                None => crate::out::write_out(&String::from_utf8_lossy(&bytes), false),
            }
        }
        BundleCmd::Sign(s) => {
            let contents: Value = io::read_doc(&s.contents)?;
            if !contents.is_object() {
                return Err(CliError::invalid(
                    Code::DocNotObject,
                    format!(
                        "{} is not bundle contents (a JSON object)",
                        s.contents.display()
                    ),
                ));
            }
            let key = io::read_private_key(&s.key)?;
            if key.public().kid().is_none() {
                return Err(CliError::invalid(
                    Code::KeyNoKid,
                    format!(
                        "{} has no kid; decision points pick the trust key by kid",
                        s.key.display()
                    ),
                )
                .hint("make it with `mandate keygen --kid ...`"));
            }
            check_contents(&contents)?;
            let jws = host_rust::issuer::sign_bundle(&contents, &key);
            match &s.out {
                Some(p) => {
                    io::write(p, format!("{jws}\n").as_bytes(), false)?;
                    out.result(&json!({"out": p, "kid": key.public().kid()}), || {
                        format!(
                            "signed {} with {} -> {}",
                            s.contents.display(),
                            key.public().kid().unwrap_or(""),
                            p.display()
                        )
                    });
                }
                None => outln!("{jws}"),
            }
        }
        BundleCmd::Inspect(i) => {
            let jws = io::read_bundle(&i.bundle)?;
            let (header, contents) = decode(&i.bundle, &jws)?;
            let digest = policy_core::b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(
                jws.trim().as_bytes(),
            ));
            let v = json!({"verified": false, "header": header, "digest": digest, "contents": contents});
            out.result(&v, || human_inspect(&header, &contents, &digest, now));
        }
        BundleCmd::Verify(v) => {
            let jws = io::read_bundle(&v.bundle)?;
            let trust = read_trust(&v.trust)?;
            let status = verify_jws(&v.bundle, &jws, &trust, now)?;
            let value: Value = serde_json::from_slice(&status.raw).unwrap_or(Value::Null);
            out.result(&value, || {
                format!(
                    "{}: signature valid, contents and policies load; revision {}, valid until {}",
                    v.bundle.display(),
                    status.revision.clone().unwrap_or_default(),
                    io::fmt_time(status.exp.unwrap_or(0))
                )
            });
        }
    }
    Ok(())
}

fn human_inspect(
    header: &Map<String, Value>,
    c: &Map<String, Value>,
    digest: &str,
    now: i64,
) -> String {
    let s = |v: Option<&Value>| {
        v.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    let t = |k: &str| c.get(k).and_then(Value::as_i64);
    let exp = t("exp").unwrap_or(0);
    let mut lines = vec![
        "NOT VERIFIED (use `mandate bundle verify` to check the signature)".to_string(),
        format!(
            "typ {}  alg {}  kid {}",
            s(header.get("typ")),
            s(header.get("alg")),
            s(header.get("kid"))
        ),
        format!("revision  {}", s(c.get("revision"))),
        format!("digest    {digest}"),
        format!("issued    {}", io::fmt_time(t("iat").unwrap_or(0))),
        format!(
            "expires   {}{}",
            io::fmt_time(exp),
            if now >= exp { "  (EXPIRED)" } else { "" }
        ),
    ];
    for i in c
        .get("issuers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(format!(
            "issuer    {}  typ {}  audiences {}",
            s(i.get("iss")),
            i.get("typ")
                .map_or_else(|| "at+jwt".to_string(), Value::to_string),
            i.get("audiences").map(Value::to_string).unwrap_or_default()
        ));
    }
    for a in c
        .get("agents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(format!(
            "agent     {:<26} {:<10} ceiling {}",
            s(a.get("id")),
            s(a.get("status")),
            a.pointer("/ceiling/scopes")
                .map(Value::to_string)
                .unwrap_or_default()
        ));
    }
    if let Some(p) = c.get("policies").and_then(Value::as_object) {
        lines.push(format!(
            "policies  {}",
            p.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(r) = c.get("revocations") {
        lines.push(format!("revoked   {r}"));
    }
    lines.join("\n")
}
