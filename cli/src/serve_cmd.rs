//! `mandate serve` flags.

use core::net::SocketAddr;
use core::time::Duration;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::error::Result;
use crate::io;
use crate::out::outln;
use crate::serve::{self, Config, Route, source::Source};
use policy_core::Code;

#[derive(Debug, Clone, Args)]
#[command(
    // A flag given twice takes its last value: the command line's over the config file's.
    args_override_self = true,
    after_help = "Example:\n  mandate serve --bundle bundle.jws --trust keys/root.pub.jwk --grant-key keys/pdp.jwk \\\n    --audit /var/log/mandate/audit.jsonl --listen 0.0.0.0:8181 \\\n    --route 'GET /v1/secrets/* secrets:read' --route 'GET /v1/trips/* trips:read'\n  mandate serve --bundle https://bundles.example.com/prod.jws --trust keys/root.pub.jwk --redis redis://127.0.0.1:6379/0\n\nEndpoints: POST /v1/decide, POST /v1/grants, ANY /v1/check/{path} (Envoy ext_authz), GET /healthz, GET /readyz, GET /metrics."
)]
pub struct ServeArgs {
    /// Read settings from this YAML file: keys are these flags' long names (`listen`, `trust`, `grant-key`, …), lists repeat a flag; flags on the command line win. SIGHUP re-reads it (TLS files, caller tokens; other changes need a restart).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8181")]
    pub listen: SocketAddr,
    /// The signed bundle: a file path (reloaded when it changes) or an http(s) URL (polled with If-None-Match).
    #[arg(long)]
    pub bundle: String,
    /// A trusted bundle public key (repeatable, for rotation).
    #[arg(long = "trust", required = true)]
    pub trust: Vec<PathBuf>,
    /// This decision point's grant key (private JWK), to mint ephemeral grants.
    #[arg(long)]
    pub grant_key: Option<PathBuf>,
    /// Append every decision's audit record to this hash-chained log (fsynced before answering).
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// Seal the audit log into a segment (FILE.LASTSEQ, the last record's seq in 20 digits) once it reaches this many bytes; a restart reads only the active segment. 0: one file.
    #[arg(long, default_value_t = 64 * 1024 * 1024, requires = "audit")]
    pub audit_segment_bytes: u64,
    /// Keep use-once ids in Redis (shared by many decision points); in memory when absent.
    #[arg(long)]
    pub redis: Option<String>,
    /// How often to look for a new bundle.
    #[arg(long, default_value = "2s", value_parser = parse_ms)]
    pub poll: Duration,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// Per-request timeout.
    #[arg(long, default_value = "5s", value_parser = parse_ms)]
    pub timeout: Duration,
    /// Map requests seen by /v1/check to actions: 'METHOD PATH-GLOB ACTION', optionally followed by a RESOURCE (repeatable).
    #[arg(long = "route")]
    pub routes: Vec<Route>,
    /// Scheme of original requests at /v1/check (x-forwarded-proto overrides it only with --trusted-hops 1 or more).
    #[arg(long, default_value = "https")]
    pub scheme: String,
    /// Proxies in front that each append the address they saw to x-forwarded-for (Envoy with use_remote_address: true is 1); the client address is that many entries from the right. 0: the TCP peer, x-forwarded-for and x-forwarded-proto ignored.
    #[arg(long, default_value_t = 0)]
    pub trusted_hops: u8,
    /// A request at /v1/check that no --route matches: deny it (request.unrouted), or let the guardrails decide it without an action.
    #[arg(long, value_enum, default_value_t = UnroutedArg::Deny)]
    pub unrouted: UnroutedArg,
    /// This decision point's identifier, which a token's aud must name (repeatable); by default the request's origin (`scheme://host[:port]`) must be in aud.
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// Decide with the portable module (e.g. dist/mandate.wasm) under wasmtime instead of the native engine.
    #[arg(long)]
    pub wasm: Option<PathBuf>,
    /// Cache the compiled module in this directory (only this user may write it).
    #[arg(long, requires = "wasm")]
    pub wasm_cache: Option<PathBuf>,
    /// How long one Redis command may take before the decision fails closed (replay.store_unavailable).
    #[arg(long, default_value = "500ms", value_parser = parse_ms, requires = "redis")]
    pub redis_timeout: Duration,
    /// Journal used proof and grant ids to this file (synced before each answer), so a restart forgets none; without it (and without --redis) they are kept in memory only.
    #[arg(long, conflicts_with = "redis")]
    pub replay_file: Option<PathBuf>,
    /// Live use-once entries the in-memory replay store holds at most; when full it denies (replay.store_unavailable).
    #[arg(long, default_value_t = host_rust::replay::DEFAULT_CAPACITY)]
    pub replay_capacity: usize,
    /// Open connections at most (lowered to fit the file descriptor limit); more are answered 503 and closed.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// A request head must arrive within this; a kept-alive connection idle this long is closed.
    #[arg(long, default_value = "10s", value_parser = parse_ms)]
    pub header_timeout: Duration,
    /// On SIGTERM/SIGINT, how long requests in flight may finish before they are cut off.
    #[arg(long, default_value = "10s", value_parser = parse_ms)]
    pub drain: Duration,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); re-read on SIGHUP.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM); re-read on SIGHUP.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Callers presenting a client certificate from this CA (PEM) are authenticated (mTLS); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Callers of /v1/decide, /v1/grants and /v1/check must authenticate: a bearer token from this file (one per line), or a client certificate from --client-ca. /v1/check takes the token in x-mandate-caller-token. Re-read on SIGHUP.
    #[arg(long)]
    pub caller_token_file: Option<PathBuf>,
    /// Decision requests a second per caller (its token, certificate, or address) at most, in bursts of as many; over it is 429.
    #[arg(long)]
    pub rate_limit: Option<core::num::NonZeroU32>,
    /// Export a span per decision request (OpenTelemetry, OTLP/HTTP JSON) to this collector URL, e.g. http://127.0.0.1:4318/v1/traces; a request's W3C traceparent is its parent.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
    /// Chain the audit log with HMAC-SHA256 under this key (a file of 64+ hex digits, e.g. from `openssl rand -hex 32`), so that rewriting the log undetected needs the key; verify with `mandate audit verify --key`.
    #[arg(long, requires = "audit")]
    pub audit_key: Option<PathBuf>,
}

/// `--unrouted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnroutedArg {
    /// `request.unrouted`: never decided without a scope check.
    Deny,
    /// No action; the guardrails alone decide.
    Guardrails,
}

/// `250ms`, `2s`, `1m`.
pub fn parse_ms(s: &str) -> core::result::Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{s}` is not a duration"));
    }
    io::parse_duration(s).map(|secs| Duration::from_secs(secs.unsigned_abs()))
}

/// The service's configuration from its flags (files read: trust keys, grant key).
///
/// # Errors
/// A file named by a flag cannot be read or is not what it must be.
pub fn config(a: &ServeArgs) -> Result<Config> {
    let trust = crate::bundle::read_trust(&a.trust)?;
    let mut config = Config::new(Source::parse(&a.bundle), trust);
    if let Source::File(p) = &config.source {
        // A missing file is the user's mistake: say so before anything starts.
        io::read_upto(p, 0)?;
    }
    config.listen = a.listen;
    config.grant_key = a
        .grant_key
        .as_deref()
        .map(io::read_private_key)
        .transpose()?;
    config.audit.clone_from(&a.audit);
    config.audit_segment_bytes = (a.audit_segment_bytes > 0).then_some(a.audit_segment_bytes);
    config.redis.clone_from(&a.redis);
    config.redis_timeout = a.redis_timeout;
    config.replay_capacity = a.replay_capacity;
    config.replay_file.clone_from(&a.replay_file);
    config.poll = a.poll;
    config.max_body = a.max_body;
    config.timeout = a.timeout;
    config.routes.clone_from(&a.routes);
    config.scheme.clone_from(&a.scheme);
    config.trusted_hops = a.trusted_hops;
    config.unrouted = match a.unrouted {
        UnroutedArg::Deny => policy_core::http::Unrouted::Deny,
        UnroutedArg::Guardrails => policy_core::http::Unrouted::Guardrails,
    };
    config.audiences.clone_from(&a.audiences);
    config.wasm.clone_from(&a.wasm);
    config.wasm_cache.clone_from(&a.wasm_cache);
    config.limits = serve::listener::Limits {
        max_connections: a.max_connections,
        header_timeout: a.header_timeout,
        drain: a.drain,
    };
    config.tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(serve::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: a.client_ca.clone(),
        }),
        _ => None,
    };
    config.caller_tokens.clone_from(&a.caller_token_file);
    config.rate_limit = a.rate_limit;
    config.audit_key.clone_from(&a.audit_key);
    Ok(config)
}

/// Settings that only a restart applies, to say which changed on SIGHUP.
fn fixed_part(a: &ServeArgs) -> String {
    let mut fixed = a.clone();
    (fixed.tls_cert, fixed.tls_key, fixed.caller_token_file) = (None, None, None);
    format!("{fixed:?}")
}

pub async fn run(a: &ServeArgs) -> Result<()> {
    let first = config(a)?;
    serve::trace::install(a.otlp_endpoint.as_deref())?;
    let scheme = if first.tls.is_some() { "https" } else { "http" };
    let signal = serve::shutdown_signal()?;
    let mut hangups = serve::hangup_signal()?;
    let running = serve::start(first).await?;
    let live = std::sync::Arc::clone(&running.live);
    let started = fixed_part(a);
    // SIGHUP: the config file and flags read again; what can change live changes.
    let reloads = tokio::spawn(async move {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        while hangups.recv().await.is_some() {
            let reloaded = crate::serve_config::reparse(&argv).and_then(|args| {
                let next = config(&args)?;
                live.reload(&next)?;
                Ok(args)
            });
            match reloaded {
                Ok(args) if fixed_part(&args) != started => serve::log(
                    "warn",
                    "reloaded TLS files, caller tokens and the bundle; other changed settings apply only after a restart",
                    &json!({"code": Code::ConfigInvalid}),
                ),
                Ok(_) => serve::log(
                    "info",
                    "reloaded TLS files, caller tokens and the bundle",
                    &json!({}),
                ),
                Err(e) => serve::log(
                    "error",
                    "reload refused: what served keeps serving",
                    &json!({"code": e.code, "message": e.message}),
                ),
            }
        }
    });
    outln!("mandate serve: listening on {scheme}://{}", running.addr);
    serve::log(
        "info",
        "listening",
        &json!({"addr": running.addr.to_string(), "audit": a.audit, "replay": match (&a.redis, &a.replay_file) { (Some(_), _) => "redis", (None, Some(_)) => "file", (None, None) => "memory" }, "tls": a.tls_cert.is_some(), "caller_auth": a.caller_token_file.is_some() || a.client_ca.is_some(), "engine": if a.wasm.is_some() { "wasm" } else { "native" }}),
    );
    let stopped = running.until(signal).await;
    reloads.abort();
    // Off the runtime's threads: the exporter's last send blocks.
    let _ = tokio::task::spawn_blocking(serve::trace::flush).await;
    stopped?;
    serve::log(
        "info",
        "stopped; every acknowledged decision is in the audit log",
        &json!({}),
    );
    Ok(())
}
