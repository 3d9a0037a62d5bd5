//! Starting and stopping the service: the replay store, the engine, the audit log and the first
//! bundle, then the listener and the bundle poller; and the signals that stop it.

use core::net::SocketAddr;
use std::sync::Arc;

use host_rust::audit::{AuditLog, AuditOptions};
use host_rust::replay::{AnyStore as Store, FileReplayStore, MemoryReplayStore, RedisReplayStore};
use host_rust::{Backend, Decider, DecisionPoint, Keys};
use policy_core::Code;
use serde_json::json;
use tokio::sync::watch;

use super::caller::{self, Callers};
use super::metrics::Metrics;
use super::source::{self, Fetched, Seen};
use super::tls::Tls;
use super::{Config, Service, hooks, listener, log, router};
use crate::error::{CliError, Kind, Result};

/// A running service: its address, and how to reload and stop it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// What SIGHUP replaces while it serves.
    pub live: Arc<Live>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    reloader: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
}

/// What a running service can replace without a restart: its TLS material and caller tokens,
/// and the next bundle poll, which a reload brings forward to now.
#[derive(Debug)]
pub struct Live {
    pub tls: Option<Arc<Tls>>,
    pub callers: Arc<Callers>,
    poll_now: Arc<tokio::sync::Notify>,
}

impl Live {
    /// Re-reads the TLS files and the caller tokens of `config`, and looks for a new bundle at
    /// once. Each part that does not load keeps what serves; the first failure is returned.
    ///
    /// # Errors
    /// A TLS file or the token file does not load.
    pub fn reload(&self, config: &Config) -> Result<()> {
        self.poll_now.notify_one();
        let mut first = None;
        if let (Some(tls), Some(files)) = (&self.tls, &config.tls)
            && let Err(e) = tls.replace(files)
        {
            first.get_or_insert(e);
        }
        if let Some(path) = &config.caller_tokens {
            match caller::read_tokens(path) {
                Ok(tokens) if self.callers.by_token() => self.callers.set_tokens(tokens),
                Ok(_) => {
                    first.get_or_insert(CliError::invalid(
                        Code::ConfigInvalid,
                        "--caller-token-file was added: restart serve to change how callers authenticate",
                    ));
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Running {
    /// Stops accepting, lets requests in flight finish (their audit records are on disk when
    /// their answers are sent), and returns when the server has stopped.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let served = self.server.await;
        self.reloader.abort();
        self.sweeper.abort();
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CliError::failure(format!("the server failed: {e}"))),
            Err(e) => Err(CliError::failure(format!("the server task failed: {e}"))),
        }
    }

    /// Waits until `signal` resolves, then shuts down.
    pub async fn until<F: core::future::Future<Output = ()>>(self, signal: F) -> Result<()> {
        let mut stopped = self.stop.subscribe();
        tokio::select! {
            () = signal => {}
            _ = stopped.changed() => {}
        }
        self.shutdown().await
    }
}

/// Loads the first bundle, binds, and starts serving in the background (within a Tokio
/// multi-threaded runtime).
pub async fn start(config: Config) -> Result<Running> {
    let audit = match &config.audit {
        Some(path) => {
            let chain_key = match &config.audit_key {
                Some(key) => Some(host_rust::audit::ChainKey::from_file(key).map_err(|e| {
                    CliError::invalid(e.code(), format!("--audit-key {}: {e}", key.display()))
                        .hint("write 32 random bytes as hex: openssl rand -hex 32")
                })?),
                None => None,
            };
            let options = AuditOptions {
                rotate_bytes: config.audit_segment_bytes,
                chain_key,
                ..AuditOptions::default()
            };
            let (audit_log, recovery) = AuditLog::open(path, options).map_err(|e| {
                CliError::new(
                    Kind::Audit,
                    e.code(),
                    format!("audit log {}: {e}", path.display()),
                )
                .hint("check it with `mandate audit verify`, or point --audit at a new file")
            })?;
            if let Some(r) = recovery {
                log(
                    "warn",
                    "audit log: cut off an unacknowledged tail left by a crash",
                    &json!({"kept_through": r.kept_through, "bytes": r.truncated_bytes}),
                );
            }
            Some(audit_log)
        }
        None => None,
    };
    let store = match &config.redis {
        Some(url) => Store::Redis(
            RedisReplayStore::connect(url)
                .map_err(|e| {
                    CliError::invalid(Code::RedisInvalid, format!("--redis {url}: {e}"))
                        .hint("use redis://host:port/db")
                })?
                .with_timeout(config.redis_timeout),
        ),
        None => match &config.replay_file {
            Some(path) => Store::File(
                FileReplayStore::open(path, config.replay_capacity, crate::io::now()).map_err(
                    |e| {
                        CliError::invalid(e.code(), e.to_string())
                            .hint("point --replay-file at a file only this service writes")
                    },
                )?,
            ),
            // A memory store knows no use from before its start, whether a previous run
            // answered decisions or not: it remembers since now, and says so to every decision,
            // so a proof or grant issued before the start is refused while it lives.
            None => Store::Memory(
                MemoryReplayStore::new(config.replay_capacity).remembering_since(crate::io::now()),
            ),
        },
    };
    let backend = match &config.wasm {
        None => Backend::native(),
        Some(path) => {
            // A module is a few MiB; refuse anything far larger rather than read it whole.
            let module = crate::io::read_max(path, 256 * 1024 * 1024)?;
            let limits = host_rust::WasmLimits::default();
            let cache = config.wasm_cache.as_deref();
            let runtime = host_rust::WasmRuntime::new(&module, cache, limits).map_err(|e| {
                CliError::invalid(e.code(), format!("{}: {e}", path.display()))
                    .hint("build the module with scripts/build-wasm.sh")
            })?;
            Backend::wasm(&runtime)
        }
    };
    let decider = Decider::new(backend, store).map_err(|e| CliError::failure(e.to_string()))?;
    let metrics = Metrics::new().map_err(|e| CliError::failure(format!("metrics: {e}")))?;
    let keys = Keys {
        trust: config.trust.clone(),
        grant_key: config.grant_key.clone(),
        audiences: config.audiences.clone(),
    };
    let hooks = Arc::new(hooks::ServeHooks(metrics.clone()));
    let svc = Arc::new(Service {
        point: DecisionPoint::new(decider, audit, keys, hooks),
        metrics,
        binding: policy_core::http::Binding {
            routes: config.routes.clone(),
            trusted_hops: config.trusted_hops,
            unrouted: config.unrouted,
        },
        scheme: config.scheme.clone(),
        grant_ttl: config.grant_ttl,
    });

    // The first bundle must verify: a decision point that starts without one only denies. One
    // that verified but is out of its validity window serves anyway (every decision denies with
    // its code, /healthz is 503) while the poller waits for a fresh one: a restart during a
    // bundle outage must not become a crash loop.
    let client = source::client().map_err(|e| CliError::failure(e.message))?;
    let mut seen = Seen::default();
    let origin = config.source.describe();
    let first = match source::poll(&config.source, &mut seen, &client).await {
        Ok(Fetched::New(jws)) => jws,
        Ok(Fetched::Unchanged) => String::new(),
        Err(e) => {
            let kind = if e.code == Code::BundleUnreadable || e.code == Code::BundleFetchFailed {
                Kind::NotFound
            } else {
                Kind::Bundle
            };
            return Err(CliError::new(
                kind,
                e.code,
                format!("cannot read the bundle: {}", e.message),
            )
            .hint("check --bundle"));
        }
    };
    let loaded = {
        let svc = Arc::clone(&svc);
        let origin = origin.clone();
        tokio::task::spawn_blocking(move || svc.start_bundle(&first, &origin)).await
    };
    match loaded {
        Ok(Ok(None)) => {}
        Ok(Ok(Some((code, message)))) => log(
            "warn",
            "the bundle is outside its validity window: every decision denies until a fresh one loads",
            &json!({"origin": origin, "code": code, "message": message}),
        ),
        Ok(Err((code, message))) => {
            let hint = match code {
                Code::BundleUntrustedKey | Code::BundleSignatureInvalid => {
                    "check --trust names the key that signed the bundle"
                }
                _ => "check it with `mandate bundle verify`",
            };
            return Err(CliError::new(
                Kind::Bundle,
                code,
                format!("the bundle {origin} was refused: {code}: {message}"),
            )
            .hint(hint));
        }
        Err(e) => return Err(CliError::failure(format!("loading the bundle: {e}"))),
    }

    let tls = config
        .tls
        .as_ref()
        .map(Tls::load)
        .transpose()?
        .map(Arc::new);
    let tokens = config
        .caller_tokens
        .as_deref()
        .map(caller::read_tokens)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            CliError::failure(format!("cannot listen on {}: {e}", config.listen))
                .hint("choose another --listen address")
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failure(e.to_string()))?;
    let (stop, stop_rx) = watch::channel(false);

    let callers = Arc::new(Callers::new(
        tokens,
        tls.as_ref().is_some_and(|t| t.mtls),
        config.rate_limit,
    ));
    let poll_now = Arc::new(tokio::sync::Notify::new());
    let live = Arc::new(Live {
        tls: tls.clone(),
        callers: Arc::clone(&callers),
        poll_now: Arc::clone(&poll_now),
    });
    let app = router(
        Arc::clone(&svc),
        Arc::clone(&callers),
        config.max_body,
        config.timeout,
    );
    let server = tokio::spawn(listener::serve(
        listener,
        app,
        config.limits,
        svc.metrics.clone(),
        tls,
        stop_rx.clone(),
    ));

    let reloader = {
        let svc = Arc::clone(&svc);
        let source = config.source.clone();
        let poll = config.poll;
        let mut rx = stop_rx;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = poll_now.notified() => {}
                    _ = rx.wait_for(|s| *s) => return,
                }
                match source::poll(&source, &mut seen, &client).await {
                    Ok(Fetched::Unchanged) => {}
                    Ok(Fetched::New(jws)) => {
                        let svc = Arc::clone(&svc);
                        let origin = origin.clone();
                        let _ = tokio::task::spawn_blocking(move || svc.load_bundle(&jws, &origin))
                            .await;
                    }
                    Err(e) => svc.point.reload_failed(&origin, e.code, &e.message),
                }
            }
        })
    };
    // The rate limiter's memory of callers that went quiet is dropped every few seconds,
    // however rarely the bundle is polled: many addresses must not grow it without bound.
    let sweeper = {
        let callers = Arc::clone(&callers);
        let mut rx = stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(core::time::Duration::from_secs(5)) => callers.forget_quiet(),
                    _ = rx.wait_for(|s| *s) => return,
                }
            }
        })
    };
    // Said once the service has started (a refused start prints only its error).
    if let Store::Memory(_) = svc.point.decider().replay() {
        log(
            "warn",
            "replay store in memory: it forgets used proofs and grants on restart, so those issued before this start are refused while they live (--replay-file or --redis keep them)",
            &json!({"code": Code::ReplayHistoryUnknown}),
        );
    }
    Ok(Running {
        addr,
        live,
        stop,
        server,
        reloader,
        sweeper,
    })
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not when the
/// future is first polled), so a signal that arrives right after the service says it listens is
/// not lost: call it before announcing the address.
///
/// # Errors
/// When the handlers cannot be installed.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl core::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind| {
        signal(kind).map_err(|e| CliError::failure(format!("cannot install a signal handler: {e}")))
    };
    let (mut int, mut term) = (
        install(SignalKind::interrupt())?,
        install(SignalKind::terminate())?,
    );
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// SIGHUP, as a stream: each `recv` resolves on the next one. Installed when called.
///
/// # Errors
/// When the handler cannot be installed.
#[cfg(unix)]
pub fn hangup_signal() -> Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .map_err(|e| CliError::failure(format!("cannot install a signal handler: {e}")))
}

/// Resolves on Ctrl-C.
///
/// # Errors
/// Never on this platform.
#[cfg(not(unix))]
pub fn shutdown_signal() -> Result<impl core::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
