//! `mandate token delegate|subdelegate|proof|grant|inspect`.

use policy_core::Code;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use host_rust::issuer;
use policy_core::jose::Unverified;
use serde_json::{Map, Value, json};

use crate::error::{CliError, Result};
use crate::io;
use crate::out::Out;

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub cmd: TokenCmd,
    /// Mint as if it were this time (Unix seconds): the token's `iat`, and its `exp` counted from
    /// it. For fixtures and tests of policies that read `input.now`; default the clock.
    #[arg(long, visible_alias = "iat", global = true, allow_hyphen_values = true)]
    pub now: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// A person's delegation to an agent (at+jwt), signed by the identity provider's key.
    #[command(
        after_help = "Example:\n  mandate token delegate --key keys/idp.jwk --iss https://idp.example.com --sub alice \\\n    --agent agent:travel-booker --agent-key keys/booker.pub.jwk --aud https://api.example.com \\\n    --scope 'secrets:read trips:read' --ttl 15m > alice.jwt"
    )]
    Delegate(DelegateArgs),
    /// A sub-delegation: an agent hands a narrower task to another agent, signed by its own key.
    #[command(
        after_help = "Example:\n  mandate token subdelegate --parent @alice.jwt --key keys/booker.jwk --agent agent:summarizer \\\n    --agent-key keys/summarizer.pub.jwk --scope trips:read --ttl 5m > hop.jwt"
    )]
    Subdelegate(SubdelegateArgs),
    /// A DPoP proof (RFC 9449) binding one HTTP request to the presented token.
    #[command(
        after_help = "Example:\n  mandate token proof --key keys/booker.jwk --method GET \\\n    --uri https://api.example.com/v1/secrets/db --token @alice.jwt"
    )]
    Proof(ProofArgs),
    /// An ephemeral grant signed with a decision point's grant key (decision points mint their own on allow; this is for tests and tools).
    #[command(
        after_help = "Example:\n  mandate token grant --key keys/pdp.jwk --iss https://pdp.example.com --sub alice \\\n    --agent agent:travel-booker --agent-key keys/booker.pub.jwk --aud https://api.example.com \\\n    --method GET --uri https://api.example.com/v1/trips/42 --action trips:read --ttl 30s"
    )]
    Grant(GrantArgs),
    /// Decodes a token's header and claims, WITHOUT verifying it.
    #[command(
        after_help = "Example:\n  mandate token inspect @alice.jwt\n  mandate token inspect - < hop.jwt"
    )]
    Inspect {
        /// The token, @FILE, or - for stdin.
        token: String,
    },
}

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The issuer's private key.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub iss: String,
    /// The person delegating.
    #[arg(long)]
    pub sub: String,
    /// The agent id (act.sub).
    #[arg(long)]
    pub agent: String,
    /// The agent's public key (its thumbprint becomes cnf.jkt).
    #[arg(long)]
    pub agent_key: PathBuf,
    /// Audience (repeatable).
    #[arg(long = "aud", required = true)]
    pub aud: Vec<String>,
    /// Scopes (space-separated, repeatable).
    #[arg(long = "scope", required = true)]
    pub scope: Vec<String>,
    /// The person's groups (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// RFC 9396 authorization_details, a JSON or YAML file holding a list.
    #[arg(long)]
    pub authorization_details: Option<PathBuf>,
    #[arg(long, default_value = "15m", value_parser = io::parse_duration)]
    pub ttl: i64,
    /// Token id (random when absent).
    #[arg(long)]
    pub jti: Option<String>,
}

#[derive(Debug, Args)]
pub struct SubdelegateArgs {
    /// The parent token (root delegation or previous hop): the token, @FILE, or -.
    #[arg(long)]
    pub parent: String,
    /// The delegating agent's private key (the parent's cnf.jkt).
    #[arg(long)]
    pub key: PathBuf,
    /// The sub-agent's id.
    #[arg(long)]
    pub agent: String,
    /// The sub-agent's public key.
    #[arg(long)]
    pub agent_key: PathBuf,
    /// Scopes (space-separated, repeatable); must lie within the parent's.
    #[arg(long = "scope", required = true)]
    pub scope: Vec<String>,
    /// Narrower audiences (repeatable).
    #[arg(long = "aud")]
    pub aud: Vec<String>,
    /// Narrower authorization_details (JSON or YAML list file).
    #[arg(long)]
    pub authorization_details: Option<PathBuf>,
    /// Lifetime; capped at the parent's expiry.
    #[arg(long, default_value = "5m", value_parser = io::parse_duration)]
    pub ttl: i64,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The acting agent's private key.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub uri: String,
    /// The presented token (last of the chain), bound by `ath`: the token, @FILE, or -.
    #[arg(long)]
    pub token: Option<String>,
    /// A body file to bind by digest.
    #[arg(long)]
    pub body: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The decision point's grant key (private).
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub iss: String,
    #[arg(long)]
    pub sub: String,
    #[arg(long)]
    pub agent: String,
    #[arg(long)]
    pub agent_key: PathBuf,
    #[arg(long)]
    pub aud: String,
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub uri: String,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub resource: Option<String>,
    #[arg(long, default_value = "")]
    pub scope: String,
    #[arg(long, default_value = "30s", value_parser = io::parse_duration)]
    pub ttl: i64,
    #[arg(long)]
    pub decision_id: Option<String>,
}

fn rid() -> Result<String> {
    issuer::random_id().map_err(|e| CliError::failure(e.to_string()))
}

fn details(path: Option<&PathBuf>) -> Result<Option<Vec<Value>>> {
    path.map(|p| io::read_doc::<Vec<Value>>(p)).transpose()
}

/// A proof's `htu`: the target URI without its query and fragment (RFC 9449 §4.2). The query
/// starts at the first `?` and the fragment at the first `#` (a query holds no `#`), so the
/// URI ends at whichever comes first.
pub fn htu(uri: &str) -> &str {
    uri.find(['?', '#'])
        .and_then(|i| uri.get(..i))
        .unwrap_or(uri)
}

fn emit(out: &Out, token: &str) {
    out.result(&json!({"token": token}), || token.to_string());
}

pub fn run(args: &TokenArgs, out: &Out) -> Result<()> {
    let now = args.now.unwrap_or_else(io::now);
    match &args.cmd {
        TokenCmd::Delegate(d) => {
            let key = io::read_private_key(&d.key)?;
            let agent_key = io::read_public_key(&d.agent_key)?;
            let aud = if d.aud.len() == 1 {
                json!(d.aud.first())
            } else {
                json!(d.aud)
            };
            let mut claims = json!({"iss": d.iss, "sub": d.sub, "aud": aud, "iat": now, "nbf": now, "exp": now.saturating_add(d.ttl),
                "jti": d.jti.clone().map_or_else(rid, Ok)?, "scope": d.scope.join(" "),
                "act": {"sub": d.agent}, "cnf": {"jkt": agent_key.thumbprint()}});
            if let Some(obj) = claims.as_object_mut() {
                if !d.groups.is_empty() {
                    obj.insert("groups".into(), json!(d.groups));
                }
                if let Some(det) = details(d.authorization_details.as_ref())? {
                    obj.insert("authorization_details".into(), Value::Array(det));
                }
            }
            emit(out, &issuer::delegation(&claims, &key));
        }
        TokenCmd::Subdelegate(s) => {
            let parent = io::token_arg(&s.parent)?;
            let (_, pc) = decode(&parent)?;
            let parent_exp = pc.get("exp").and_then(Value::as_i64).unwrap_or(i64::MAX);
            let key = io::read_private_key(&s.key)?;
            let agent_key = io::read_public_key(&s.agent_key)?;
            let hop = issuer::SubDelegation {
                agent: s.agent.clone(),
                agent_key: agent_key.to_json_value(),
                scope: s.scope.join(" "),
                authorization_details: details(s.authorization_details.as_ref())?,
                aud: if s.aud.is_empty() {
                    None
                } else {
                    Some(s.aud.clone())
                },
                iat: now,
                exp: now.saturating_add(s.ttl).min(parent_exp),
                jti: rid()?,
            };
            let token = issuer::subdelegation(&parent, &hop, &key).map_err(|e| {
                CliError::invalid(Code::TokenMalformed, format!("cannot sub-delegate: {e}"))
                    .hint("--parent must be a delegation token or a previous hop")
            })?;
            emit(out, &token);
        }
        TokenCmd::Proof(p) => {
            let key = io::read_private_key(&p.key)?;
            let token = p.token.as_deref().map(io::token_arg).transpose()?;
            let body_digest = p.body.as_deref().map(io::sha256_file).transpose()?;
            let proof = issuer::Proof {
                htm: p.method.clone(),
                htu: htu(&p.uri).to_string(),
                iat: now,
                jti: rid()?,
                token,
                body_digest,
                nonce: None,
            };
            emit(out, &issuer::proof(&proof, &key));
        }
        TokenCmd::Grant(g) => {
            let key = io::read_private_key(&g.key)?;
            let agent_key = io::read_public_key(&g.agent_key)?;
            let mut claims = json!({"iss": g.iss, "sub": g.sub, "aud": g.aud, "iat": now, "exp": now.saturating_add(g.ttl),
                "jti": rid()?, "act": {"sub": g.agent}, "cnf": {"jkt": agent_key.thumbprint()}, "chain": [g.agent],
                "decision_id": g.decision_id.clone().map_or_else(rid, Ok)?, "htm": g.method, "htu": g.uri, "scope": g.scope});
            if let Some(obj) = claims.as_object_mut() {
                if let Some(a) = &g.action {
                    obj.insert("action".into(), json!(a));
                }
                if let Some(r) = &g.resource {
                    obj.insert("resource".into(), json!(r));
                }
            }
            emit(out, &issuer::grant(&claims, &key));
        }
        TokenCmd::Inspect { token } => {
            let t = io::token_arg(token)?;
            let (header, claims) = decode(&t)?;
            let kind = match header.get("typ").and_then(Value::as_str).unwrap_or("") {
                "at+jwt" => "delegation",
                "mandate-subdelegation+jwt" => "sub-delegation",
                "dpop+jwt" => "DPoP proof",
                "mandate-grant+jwt" => "ephemeral grant",
                "mandate-bundle+jwt" => "bundle",
                _ => "unknown",
            };
            let hash =
                policy_core::b64::encode(&<sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()));
            let jwk_thumbprint = header
                .get("jwk")
                .and_then(|j| policy_core::PublicJwk::from_value(j).ok())
                .map(|k| k.thumbprint());
            let v = json!({"verified": false, "kind": kind, "header": header, "claims": claims, "hash": hash, "jwk_thumbprint": jwk_thumbprint});
            out.result(&v, || {
                let mut lines = vec![
                    format!("{kind} (NOT VERIFIED: `mandate decide` verifies)"),
                    format!("header  {}", Value::Object(header.clone())),
                ];
                for (k, val) in &claims {
                    let shown = match (k.as_str(), val.as_i64()) {
                        ("iat" | "nbf" | "exp", Some(t)) => {
                            let rel = match t.cmp(&now) {
                                core::cmp::Ordering::Less => {
                                    format!("{}s ago", now.saturating_sub(t))
                                }
                                core::cmp::Ordering::Equal => "now".to_string(),
                                core::cmp::Ordering::Greater => {
                                    format!("in {}s", t.saturating_sub(now))
                                }
                            };
                            format!("{t} ({}, {rel})", io::fmt_time(t))
                        }
                        _ => val.to_string(),
                    };
                    lines.push(format!("{k:<22}{shown}"));
                }
                lines.push(format!("{:<22}{hash}", "token hash"));
                if let Some(j) = &jwk_thumbprint {
                    lines.push(format!("{:<22}{j}", "jwk thumbprint"));
                }
                lines.join("\n")
            });
        }
    }
    Ok(())
}

/// Decodes a compact JWS without verifying it.
pub fn decode(token: &str) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let jws =
        Unverified::parse(token, policy_core::limits::MAX_BUNDLE_BYTES, true).map_err(|e| {
            CliError::invalid(
                Code::TokenMalformed,
                format!("not a token Mandate reads: {e}"),
            )
            .hint("pass the compact JWS, @FILE, or - for stdin")
        })?;
    let claims = unverified_payload(token).ok_or_else(|| {
        CliError::invalid(Code::TokenMalformed, "not a token Mandate reads: payload")
    })?;
    Ok((jws.header().clone(), claims))
}

/// The payload of a compact JWS that [`Unverified::parse`] accepted, for display only: the core
/// deliberately has no accessor for the claims of an unverified token, so inspection decodes the
/// segment itself.
pub(crate) fn unverified_payload(token: &str) -> Option<Map<String, Value>> {
    let bytes = policy_core::b64::decode(token.split('.').nth(1)?)?;
    match policy_core::json::parse_strict(&bytes, bytes.len(), policy_core::limits::MAX_DEPTH) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}
