//! `mandate decide`: a request plus credentials in, the decision JSON out; exit 0 on allow,
//! 3 on deny.

use policy_core::Code;
use std::path::PathBuf;

use clap::Args;
use host_rust::replay::MemoryReplayStore;
use host_rust::{Backend, Decider};
use serde_json::{Value, json};

use crate::error::{CliError, Kind, Result};
use crate::io;
use crate::out::{Out, errln, outln};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mandate decide --bundle bundle.jws --trust keys/root.pub.jwk \\\n    --method GET --uri https://api.example.com/v1/secrets/db --ip 10.20.0.7 --action secrets:read \\\n    --delegation @alice.jwt --proof @proof.jwt\n  mandate decide --bundle bundle.jws --trust keys/root.pub.jwk --input request.json --json\n\nExit codes: 0 allow, 3 deny, 4 a file is missing, 5 invalid input, 6 bundle refused or expired."
)]
pub struct DecideArgs {
    /// The signed bundle.
    #[arg(long)]
    pub bundle: PathBuf,
    /// A trusted bundle public key (repeatable).
    #[arg(long = "trust", required = true)]
    pub trust: Vec<PathBuf>,
    /// This decision point's grant key, to mint grants (`mint_grant` in the input).
    #[arg(long)]
    pub grant_key: Option<PathBuf>,
    /// A whole decide input (docs/formats.md), or - for stdin. Flags below fill in what it lacks.
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long)]
    pub uri: Option<String>,
    #[arg(long)]
    pub ip: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub resource: Option<String>,
    /// A delegation token, root first (repeatable): the token, @FILE, or -.
    #[arg(long = "delegation")]
    pub delegation: Vec<String>,
    /// The DPoP proof: the token, @FILE, or -.
    #[arg(long)]
    pub proof: Option<String>,
    /// An ephemeral grant instead of delegation + proof.
    #[arg(long)]
    pub grant: Option<String>,
    /// Host context for guardrails (`input.context`), as JSON.
    #[arg(long)]
    pub context: Option<String>,
    /// Decision time in Unix seconds (default: the input's `now`, else the system clock).
    #[arg(long)]
    pub now: Option<i64>,
    /// Append the decision's audit record to this hash-chained log.
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// Also show how the guardrails decided: the rules that decided, what `print()` wrote, and the `input` they evaluated (with --json: `{"decision": …, "explain": …}`).
    #[arg(long)]
    pub explain: bool,
}

fn set(obj: &mut serde_json::Map<String, Value>, key: &str, v: Value) {
    obj.insert(key.to_string(), v);
}

/// The decide input as the engine gets it, and the time to check the bundle's window at.
#[derive(Debug)]
pub struct Input {
    /// The document handed to the core.
    pub bytes: Vec<u8>,
    /// `--now`, else the input's `now`, else the system clock.
    pub now: i64,
}

impl DecideArgs {
    /// Whether any flag adds to (or overrides) the `--input` document.
    fn adds_to_input(&self) -> bool {
        [
            &self.method,
            &self.uri,
            &self.ip,
            &self.action,
            &self.resource,
            &self.proof,
            &self.grant,
            &self.context,
        ]
        .iter()
        .any(|v| v.is_some())
            || !self.delegation.is_empty()
            || self.now.is_some()
    }
}

/// Whether `bytes` are one JSON value to a lenient parser (one that keeps the last of duplicate
/// members): what the strict parser refuses beyond that is for the core to refuse.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Builds the decide input from `--input` and the flags.
///
/// The core parses the input strictly (`policy_core::json::parse_strict`: no duplicate member
/// names, bounded size and depth), so this never reads it more leniently than the core would:
/// the `--input` file is parsed with the same parser, and when that refuses it (a duplicate
/// member, too large, too deep) its bytes go to the core as they are, for the core's own
/// `input.malformed` / `input.too_large` deny. A file that is not JSON at all is a usage error
/// (exit 5). With no flags to add and a `now` of its own, the file goes to the core unchanged.
pub fn build_input(a: &DecideArgs) -> Result<Input> {
    use policy_core::limits::{MAX_DEPTH, MAX_INPUT_BYTES};
    let clock = || a.now.unwrap_or_else(io::now);
    let (mut input, raw) = match &a.input {
        Some(p) => {
            // At most one byte over the core's limit: enough for the core to say input.too_large.
            let bytes = io::read_upto(p, MAX_INPUT_BYTES)?;
            match policy_core::json::parse_strict(&bytes, MAX_INPUT_BYTES, MAX_DEPTH) {
                Ok(v) => (v, Some(bytes)),
                Err(
                    policy_core::json::JsonError::TooLarge { .. }
                    | policy_core::json::JsonError::TooDeep(_),
                ) => {
                    return Ok(Input {
                        bytes,
                        now: clock(),
                    });
                }
                Err(_) if is_json(&bytes) => {
                    return Ok(Input {
                        bytes,
                        now: clock(),
                    });
                }
                Err(e) => {
                    return Err(CliError::invalid(
                        Code::InputMalformed,
                        format!("{} is not a JSON decide input: {e}", p.display()),
                    )
                    .hint("see docs/formats.md"));
                }
            }
        }
        None => (json!({}), None),
    };
    let Some(obj) = input.as_object_mut() else {
        return Err(CliError::invalid(
            Code::InputMalformed,
            "the decide input must be a JSON object",
        )
        .hint("see docs/formats.md"));
    };
    let had_now = obj.contains_key("now");
    // The input's own `now` is the core's to judge (a `now` that is not an integer is its
    // input.malformed); only a missing one is filled in, and --now overrides.
    if a.now.is_some() || !had_now {
        set(obj, "now", json!(clock()));
    }
    let now = obj.get("now").and_then(Value::as_i64).unwrap_or_else(clock);
    let request = obj.entry("request").or_insert_with(|| json!({}));
    if let Some(r) = request.as_object_mut() {
        for (k, v) in [
            ("method", &a.method),
            ("uri", &a.uri),
            ("ip", &a.ip),
            ("action", &a.action),
            ("resource", &a.resource),
        ] {
            if let Some(v) = v {
                set(r, k, json!(v));
            }
        }
    }
    let creds = obj.entry("credentials").or_insert_with(|| json!({}));
    if let Some(c) = creds.as_object_mut() {
        if !a.delegation.is_empty() {
            let chain = a
                .delegation
                .iter()
                .map(|t| io::token_arg(t))
                .collect::<Result<Vec<_>>>()?;
            set(c, "delegation", json!(chain));
        }
        if let Some(p) = &a.proof {
            set(c, "proof", json!(io::token_arg(p)?));
        }
        if let Some(g) = &a.grant {
            set(c, "grant", json!(io::token_arg(g)?));
        }
    }
    // --context text the strict parser refuses (a duplicate member) is spliced in as written,
    // for the core to refuse; it is one JSON value (checked), so it cannot add members.
    let mut raw_context = None;
    if let Some(ctx) = &a.context {
        if !is_json(ctx.as_bytes()) {
            let e = serde_json::from_str::<serde::de::IgnoredAny>(ctx)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Err(CliError::invalid(
                Code::ContextMalformed,
                format!("--context is not JSON: {e}"),
            ));
        }
        match policy_core::json::parse_strict(ctx.as_bytes(), MAX_INPUT_BYTES, MAX_DEPTH) {
            Ok(v) => set(obj, "context", v),
            Err(_) => {
                obj.remove("context");
                raw_context = Some(ctx.trim());
            }
        }
    }
    let has_method = obj.get("request").and_then(|r| r.get("method")).is_some();
    let has_uri = obj.get("request").and_then(|r| r.get("uri")).is_some();
    if !has_method || !has_uri {
        return Err(CliError::invalid(
            Code::RequestInvalid,
            "the request needs a method and a URI",
        )
        .hint("pass --method and --uri, or an --input with request.method and request.uri"));
    }
    if let Some(raw) = raw
        && had_now
        && !a.adds_to_input()
    {
        return Ok(Input { bytes: raw, now });
    }
    let mut bytes = serde_json::to_vec(&input).map_err(|e| CliError::failure(e.to_string()))?;
    if let Some(ctx) = raw_context {
        // `bytes` is a non-empty object (it has `request`): `{` + members + `}`.
        let mut spliced = format!("{{\"context\":{ctx},").into_bytes();
        spliced.extend_from_slice(bytes.get(1..).unwrap_or_default());
        bytes = spliced;
    }
    Ok(Input { bytes, now })
}

/// How the guardrails decided `bytes`: evaluated again by the core's explain entry point (which
/// decides exactly as the served path does, and keeps what the guardrails saw), beside the rules
/// of the decision that was made. `reached` is false when the pipeline denied before the
/// guardrails ran (a credential or registry check), and then there is no input or print.
fn explain(config: &[u8], bytes: &[u8], decision: &host_rust::Decision) -> Value {
    let pdp = policy_core::Pdp::load_json(config);
    let (_, trace) = pdp.decide_document_explained(bytes);
    let rules = decision
        .audit()
        .and_then(|a| a.get("rules"))
        .cloned()
        .unwrap_or_else(|| json!([]));
    match trace {
        Some(t) => json!({"reached": true, "rules": rules, "prints": t.prints, "input": t.input}),
        None => json!({"reached": false, "rules": rules, "prints": [], "input": null}),
    }
}

fn print_explain(e: &Value) {
    if e.get("reached") != Some(&Value::Bool(true)) {
        errln!("explain: the guardrails did not run (the decision was made before them)");
        return;
    }
    let list = |k: &str| -> Vec<String> {
        e.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for rule in list("rules") {
        errln!("explain: decided by {rule}");
    }
    for line in list("prints") {
        errln!("explain: print: {line}");
    }
    let input = e
        .get("input")
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default());
    errln!("explain: input:\n{}", input.unwrap_or_default());
}

pub async fn run(a: &DecideArgs, out: &Out) -> Result<u8> {
    let input = build_input(a)?;
    let now = input.now;
    let jws = io::read_bundle(&a.bundle)?;
    let trust = crate::bundle::read_trust(&a.trust)?;
    let grant_key = a
        .grant_key
        .as_deref()
        .map(io::read_private_key)
        .transpose()?;
    let config = host_rust::issuer::load_config(jws.trim(), &trust, grant_key.as_ref());
    let decider = Decider::new(Backend::native(), MemoryReplayStore::default())
        .map_err(|e| CliError::failure(e.to_string()))?;
    match decider.load(&config) {
        Ok(status) => crate::bundle::check_time(&a.bundle, &status, now)?,
        Err(host_rust::HostError::Load { code, message }) => {
            return Err(CliError::new(
                Kind::Bundle,
                code,
                format!("{} was refused: {code}: {message}", a.bundle.display()),
            )
            .hint("check it with `mandate bundle verify`"));
        }
        Err(e) => return Err(CliError::failure(e.to_string())),
    }
    let decision = decider.decide(&input.bytes).await;
    if let (Some(path), Some(record)) = (&a.audit, decision.audit()) {
        let (log, _) =
            host_rust::audit::AuditLog::open(path, host_rust::audit::AuditOptions::default())
                .map_err(|e| {
                    CliError::new(
                        Kind::Audit,
                        e.code(),
                        format!("audit log {}: {e}", path.display()),
                    )
                    .hint("check it with `mandate audit verify`")
                })?;
        log.append(record).map_err(|e| {
            CliError::new(
                Kind::Audit,
                e.code(),
                format!("audit log {}: {e}", path.display()),
            )
        })?;
    }
    let explained = a.explain.then(|| explain(&config, &input.bytes, &decision));
    if let (true, Some(explained)) = (out.json, &explained) {
        outln!(
            "{}",
            json!({"decision": decision.value(), "explain": explained})
        );
    } else if out.json {
        outln!("{}", String::from_utf8_lossy(decision.as_bytes()));
    } else {
        if let Some(e) = &explained {
            print_explain(e);
        }
        outln!(
            "{}",
            serde_json::to_string_pretty(decision.value()).unwrap_or_default()
        );
        match decision.reasons().first() {
            None => errln!("allow"),
            Some(r) => errln!("deny: {}: {}", r.code, r.message),
        }
    }
    Ok(if decision.is_allow() {
        crate::error::exit::OK
    } else {
        crate::error::exit::DENY
    })
}
