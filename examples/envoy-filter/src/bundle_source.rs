//! Bundle updates from an HTTP source, without restarting Envoy.
//!
//! Each worker's root context polls the configured cluster with `If-None-Match`. A `200` body is
//! loaded into a fresh engine; it replaces the serving one only when the core reports the load as
//! `ok`, so a bad, tampered or expired bundle leaves the last good one serving.

use mandate_core::Pdp;
use serde_json::Value;

use crate::config::{BundleSource, FilterConfig};

/// What to do with the answer to one poll.
#[derive(Debug)]
pub enum Fetched {
    /// A bundle that loaded: serve it. `etag` is sent on the next poll.
    Loaded {
        /// The new engine (boxed: it is large, and the other answers are not).
        pdp: Box<Pdp>,
        /// The response's `ETag`, if any.
        etag: Option<String>,
        /// The core's load status (revision, digest), for the log.
        status: String,
    },
    /// `304 Not Modified`.
    Unchanged,
    /// Anything else; the serving bundle stays.
    Rejected {
        /// Why, for the log.
        why: String,
        /// The `ETag` of a bundle that arrived but was refused, so the next poll does not fetch
        /// and verify the same bytes again.
        etag: Option<String>,
    },
}

/// The request headers of one poll.
pub fn poll_headers<'a>(source: &'a BundleSource, etag: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let authority = source.authority.as_deref().unwrap_or(&source.cluster);
    let mut headers = vec![(":method", "GET"), (":path", source.path.as_str()), (":authority", authority)];
    if let Some(etag) = etag {
        headers.push(("if-none-match", etag));
    }
    headers
}

/// Loads a polled response into an engine, or says why it is not served.
pub fn on_response(
    config: &FilterConfig,
    serving: &Pdp,
    now: u64,
    status: Option<&str>,
    etag: Option<String>,
    body: &[u8],
) -> Fetched {
    match status {
        Some("304") => return Fetched::Unchanged,
        Some("200") => {}
        other => {
            let why = format!("bundle source answered {}", other.unwrap_or("nothing"));
            return Fetched::Rejected { why, etag: None };
        }
    }
    let Ok(bundle) = core::str::from_utf8(body) else {
        return Fetched::Rejected { why: "bundle source sent a non-UTF-8 body".into(), etag };
    };
    let pdp = Pdp::load(&config.load_config(Some(bundle.trim())));
    let status = String::from_utf8_lossy(&pdp.status_json()).into_owned();
    let Some((nbf, exp)) = loaded_window(status.as_bytes()) else {
        return Fetched::Rejected { why: format!("fetched bundle not loaded: {status}"), etag };
    };
    if exp <= now {
        return Fetched::Rejected { why: format!("fetched bundle has expired: {status}"), etag };
    }
    if loaded_window(&serving.status_json()).is_some_and(|(current, _)| nbf < current) {
        return Fetched::Rejected { why: format!("fetched bundle is older than the serving one: {status}"), etag };
    }
    Fetched::Loaded { pdp: Box::new(pdp), etag, status }
}

/// The bundle's `nbf` and `exp` when the load status is `ok`.
pub fn loaded_window(status_json: &[u8]) -> Option<(u64, u64)> {
    let status: Value = serde_json::from_slice(status_json).ok()?;
    if !status.get("ok")?.as_bool()? {
        return None;
    }
    let bundle = status.get("bundle")?;
    Some((bundle.get("nbf")?.as_u64()?, bundle.get("exp")?.as_u64()?))
}
