//! Who may ask `serve` for decisions: caller authentication and per-caller rate limits on the
//! decision endpoints (`/v1/decide`, `/v1/grants`, `/v1/check`). Probes (`/healthz`, `/readyz`)
//! and `/metrics` stay open, as a kubelet or Prometheus expects.
//!
//! A caller authenticates by any one configured means:
//! - **a bearer token** from `--caller-token-file` (one token per line; blank lines and `#`
//!   comments ignored): `Authorization: Bearer <token>` on `/v1/decide` and `/v1/grants`;
//!   `x-mandate-caller-token: <token>` on `/v1/check`, whose `Authorization` is the original
//!   request's (Envoy adds the header with `authorization_request.headers_to_add`). Tokens are
//!   held as SHA-256 digests and compared in constant time; the header is removed before the
//!   request reaches the decision, so it is in no audit record.
//! - **a client certificate** that chains to `--client-ca` (mTLS, `tls.rs`).
//!
//! A caller that authenticates by neither is `401` with `WWW-Authenticate: Bearer` and
//! `serve.unauthenticated`, decided nothing. With `--rate-limit N`, each caller (its token, its
//! certificate, or without authentication its address) may make N decision requests a second,
//! in bursts of up to N; over it is `429` with `retry-after` and `serve.rate_limited`.

use core::net::SocketAddr;
use core::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use policy_core::Code;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{CliError, Result};

/// The header that carries the caller's token on `/v1/check`.
pub const CHECK_TOKEN_HEADER: &str = "x-mandate-caller-token";

/// The client certificate a connection presented (verified against `--client-ca`): the
/// SHA-256 of its DER, in hex. Set by the accept loop on every request of the connection.
#[derive(Debug, Clone)]
pub struct PeerCert(pub String);

/// Caller authentication and rate limits.
#[derive(Debug)]
pub struct Callers {
    tokens: RwLock<Vec<[u8; 32]>>,
    /// Whether token authentication is on (a token file was given).
    by_token: bool,
    /// Whether client certificates authenticate callers.
    by_cert: bool,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

/// Largest caller token file read, in bytes.
const MAX_TOKEN_FILE_BYTES: usize = 1024 * 1024;

/// The digests of the tokens in `path`.
///
/// # Errors
/// The file cannot be read, or holds no token.
pub fn read_tokens(path: &Path) -> Result<Vec<[u8; 32]>> {
    let bytes = crate::io::read_max(path, MAX_TOKEN_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::invalid(
            Code::FileNotUtf8,
            format!("{} is not UTF-8", path.display()),
        )
    })?;
    let tokens: Vec<[u8; 32]> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|t| Sha256::digest(t.as_bytes()).into())
        .collect();
    if tokens.is_empty() {
        return Err(CliError::invalid(
            Code::ConfigInvalid,
            format!("{} holds no caller token", path.display()),
        )
        .hint("write one token per line"));
    }
    Ok(tokens)
}

impl Callers {
    /// `tokens` (digests; `None`: no token authentication), client certificates when `by_cert`,
    /// and at most `rate` decision requests a second per caller.
    #[must_use]
    pub fn new(tokens: Option<Vec<[u8; 32]>>, by_cert: bool, rate: Option<NonZeroU32>) -> Callers {
        Callers {
            by_token: tokens.is_some(),
            tokens: RwLock::new(tokens.unwrap_or_default()),
            by_cert,
            limiter: rate.map(|n| RateLimiter::keyed(Quota::per_second(n))),
        }
    }

    /// Replaces the accepted tokens (SIGHUP).
    pub fn set_tokens(&self, tokens: Vec<[u8; 32]>) {
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = tokens;
    }

    /// Whether token authentication is on.
    #[must_use]
    pub fn by_token(&self) -> bool {
        self.by_token
    }

    /// Forgets the rate limit state of callers that have been quiet (bounds its memory).
    pub fn forget_quiet(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn token_ok(&self, token: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        // Every entry is compared, so the time taken says nothing about which one matched.
        let hit = tokens
            .iter()
            .fold(subtle::Choice::from(0), |acc, t| acc | t.ct_eq(&digest));
        bool::from(hit).then(|| {
            let short = super::listener::hex(digest.get(..8).unwrap_or_default());
            format!("token:{short}")
        })
    }

    /// The caller of `req` (what rate limits count), or `None` when it must authenticate and
    /// did not.
    fn identify(&self, req: &mut Request) -> Option<String> {
        let on_check = req.uri().path().starts_with("/v1/check");
        let presented = if on_check {
            req.headers_mut()
                .remove(CHECK_TOKEN_HEADER)
                .and_then(|v| v.to_str().ok().map(|s| s.trim().to_string()))
        } else {
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string())
        };
        if !self.by_token && !self.by_cert {
            let peer = req.extensions().get::<ConnectInfo<SocketAddr>>();
            return Some(peer.map_or_else(String::new, |p| format!("addr:{}", p.0.ip())));
        }
        if let (true, Some(PeerCert(fp))) = (self.by_cert, req.extensions().get::<PeerCert>()) {
            return Some(format!("cert:{fp}"));
        }
        if !self.by_token {
            return None;
        }
        presented.as_deref().and_then(|t| self.token_ok(t))
    }
}

fn refusal(status: StatusCode, code: Code, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}}).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The middleware of the decision endpoints.
pub async fn guard(State(callers): State<Arc<Callers>>, mut req: Request, next: Next) -> Response {
    let Some(who) = callers.identify(&mut req) else {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|p| p.0.ip().to_string());
        super::log(
            "warn",
            "a caller that did not authenticate was refused",
            &json!({"code": Code::ServeUnauthenticated, "path": req.uri().path(), "peer": peer}),
        );
        let mut r = refusal(
            StatusCode::UNAUTHORIZED,
            Code::ServeUnauthenticated,
            "this decision point answers only authenticated callers",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mandate\""),
        );
        return r;
    };
    if let Some(Err(not_until)) = callers.limiter.as_ref().map(|l| l.check_key(&who)) {
        super::log(
            "warn",
            "a caller over its rate limit was refused",
            &json!({"code": Code::ServeRateLimited, "caller": who}),
        );
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut r = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            Code::ServeRateLimited,
            "too many decision requests from this caller; retry later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return r;
    }
    next.run(req).await
}
