//! The accept loop: how many connections, for how long, and how the service stops.
//!
//! A client must not be able to take the service down by holding connections open:
//!
//! - **A connection cap** ([`Limits::max_connections`]), kept below the process's file
//!   descriptor limit with room for the audit log, the replay store and bundle fetches, so that
//!   connections alone never exhaust descriptors. A connection over the cap is answered `503`
//!   with `retry-after` and closed (and counted), not left to wait.
//! - **A header timeout** ([`Limits::header_timeout`]): a request's head must arrive within it,
//!   and a kept-alive connection that sends no next request is closed after it (slowloris, idle
//!   connections). The request timeout of the router bounds the rest (a slow body is a `408`).
//! - **A drain on shutdown** ([`Limits::drain`]): once stopping, the listener closes, requests in
//!   flight finish (their audit records are durable before their answers are sent), idle
//!   connections close at once, and after the drain deadline whatever is left is cut off.
//!
//! With TLS (`tls.rs`) the handshake must also finish within the header timeout; a client
//! certificate it verified is handed to every request of the connection ([`PeerCert`]).

use core::time::Duration;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use policy_core::Code;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_service::Service as _;

use super::caller::PeerCert;
use super::log;
use super::metrics::Metrics;
use super::tls::Tls;

/// Connection limits and the shutdown drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// A request head must arrive within this; an idle kept-alive connection is closed after it.
    pub header_timeout: Duration,
    /// On shutdown, how long requests in flight may take before they are cut off.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
        }
    }
}

/// File descriptors kept free of connections: the audit log and its head, the replay store,
/// bundle fetches, the module cache, the runtime's own, and the connections being shed.
const RESERVED_FDS: u64 = 64;

/// Connections over the cap answered at once at most; beyond that one is closed unanswered, so
/// shedding a flood never holds more than this many descriptors.
const SHEDDING: usize = 16;

/// The cap actually applied: `wanted`, lowered below the soft file descriptor limit.
#[must_use]
pub fn effective_cap(wanted: usize) -> usize {
    let wanted = wanted.max(1);
    match fd_limit() {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            wanted.min(room.max(1))
        }
        None => wanted,
    }
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux); `None` elsewhere or unlimited.
fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The answer to a connection over the cap (written once, then the connection is closed).
fn shed_response() -> Vec<u8> {
    let body = json!({"error": {"code": Code::ServeOverloaded, "message": "too many open connections; retry later"}})
        .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `stop` turns true, then drains.
///
/// # Errors
/// Never: accept errors (a descriptor limit reached despite the cap) are logged and retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Metrics,
    tls: Option<Arc<Tls>>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let cap = effective_cap(limits.max_connections);
    if cap < limits.max_connections {
        log(
            "warn",
            "connection cap lowered to fit the file descriptor limit",
            &json!({"max_connections": limits.max_connections, "cap": cap, "fd_limit": fd_limit()}),
        );
    }
    let shed_answer: Arc<[u8]> = shed_response().into();
    let permits = Arc::new(Semaphore::new(cap));
    let shedding = Arc::new(Semaphore::new(SHEDDING));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and the like: the connection stays in the backlog; try again shortly.
                metrics.accept_errors.inc();
                log(
                    "error",
                    "accept failed",
                    &json!({"error": e.to_string(), "open_connections": cap - permits.available_permits()}),
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics.shed.inc();
            if let Ok(slot) = Arc::clone(&shedding).try_acquire_owned() {
                let answer = Arc::clone(&shed_answer);
                tokio::spawn(async move {
                    shed(stream, answer).await;
                    drop(slot);
                });
            }
            // Else the stream is dropped here: closed unanswered.
            continue;
        };
        metrics.connections.inc();
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            app: app.clone(),
            builder: builder.clone(),
            watcher: graceful.watcher(),
            metrics: metrics.clone(),
            peer,
        };
        let tls = tls.as_ref().map(|t| t.acceptor());
        let handshake_timeout = limits.header_timeout;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            match tls {
                None => conn.run(stream, None).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let cert = tls_stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(<[_]>::first)
                                .map(|c| PeerCert(hex(&Sha256::digest(c.as_ref()))));
                            conn.run(tls_stream, cert).await;
                        }
                        // A failed or slow handshake ends this connection only.
                        Ok(Err(_)) => metrics.tls_failures.inc(),
                        Err(_) => metrics.header_timeouts.inc(),
                    }
                }
            }
            metrics.connections.dec();
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain) => {
            log(
                "warn",
                "the drain deadline passed: connections still open are cut off",
                &json!({"drain_ms": limits.drain.as_millis()}),
            );
        }
    }
    Ok(())
}

/// What serving one accepted connection needs.
struct Conn {
    app: Router,
    builder: hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
    metrics: Metrics,
    peer: core::net::SocketAddr,
}

impl Conn {
    /// Serves HTTP/1.1 on `io` until the client or the drain ends it.
    async fn run<IO>(self, io: IO, cert: Option<PeerCert>)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer) = (self.app, self.peer);
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(c) = &cert {
                req.extensions_mut().insert(c.clone());
            }
            app.clone().call(req)
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        // A client that resets, times out or sends garbage ends its own connection only.
        if let Err(e) = self.watcher.watch(conn).await {
            if e.is_parse_too_large() {
                self.metrics.refused.with_label_values(&["431"]).inc();
            } else if e.is_timeout() {
                self.metrics.header_timeouts.inc();
            }
        }
    }
}

/// Lowercase hex (certificate fingerprints, caller ids).
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers a connection over the cap and closes it, within a second whatever the client does.
async fn shed(mut stream: TcpStream, answer: Arc<[u8]>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
}
