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

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mandate serve --bundle bundle.jws --trust keys/root.pub.jwk --grant-key keys/pdp.jwk \\\n    --audit /var/log/mandate/audit.jsonl --listen 0.0.0.0:8181 \\\n    --route 'GET /v1/secrets/* secrets:read' --route 'GET /v1/trips/* trips:read'\n  mandate serve --bundle https://bundles.example.com/prod.jws --trust keys/root.pub.jwk --redis redis://127.0.0.1:6379/0\n\nEndpoints: POST /v1/decide, POST /v1/grants, ANY /v1/check/{path} (Envoy ext_authz), GET /healthz, GET /readyz, GET /metrics."
)]
pub struct ServeArgs {
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

pub async fn run(a: &ServeArgs) -> Result<()> {
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
    let signal = serve::shutdown_signal()?;
    let running = serve::start(config).await?;
    outln!("mandate serve: listening on http://{}", running.addr);
    serve::log(
        "info",
        "listening",
        &json!({"addr": running.addr.to_string(), "audit": a.audit, "replay": if a.redis.is_some() { "redis" } else { "memory" }, "engine": if a.wasm.is_some() { "wasm" } else { "native" }}),
    );
    running.until(signal).await?;
    serve::log(
        "info",
        "stopped; every acknowledged decision is in the audit log",
        &json!({}),
    );
    Ok(())
}
