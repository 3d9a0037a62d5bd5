//! Where the bundle comes from: a file (polled by mtime and size) or an HTTP URL (polled with
//! `If-None-Match`), and the check a new bundle passes before it is swapped in.

use core::time::Duration;
use std::path::PathBuf;
use std::time::SystemTime;

/// A bundle location.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Url(String),
}

impl Source {
    pub fn parse(s: &str) -> Source {
        if s.starts_with("http://") || s.starts_with("https://") {
            Source::Url(s.to_string())
        } else {
            Source::File(PathBuf::from(s))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Url(u) => u.clone(),
        }
    }
}

/// What was seen last, so an unchanged bundle is not fetched or reloaded again.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    file: Option<(SystemTime, u64)>,
    etag: Option<String>,
}

/// The result of one poll.
#[derive(Debug)]
pub enum Fetched {
    /// Nothing changed.
    Unchanged,
    /// A new bundle JWS.
    New(String),
}

/// Why a poll failed.
#[derive(Debug)]
pub struct FetchError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> FetchError {
    FetchError {
        code,
        message: message.into(),
    }
}

/// The HTTP client for URL sources (rustls, bounded time).
pub fn client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| err("bundle.fetch_failed", e.to_string()))
}

/// Polls `source`; `seen` is updated to what was read, even when it will fail to load (so a
/// bad bundle is reported once, not on every poll).
pub async fn poll(
    source: &Source,
    seen: &mut Seen,
    client: &reqwest::Client,
) -> Result<Fetched, FetchError> {
    match source {
        Source::File(path) => {
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|e| err("bundle.unreadable", format!("{}: {e}", path.display())))?;
            let stamp = (
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            );
            if seen.file == Some(stamp) {
                return Ok(Fetched::Unchanged);
            }
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| err("bundle.unreadable", format!("{}: {e}", path.display())))?;
            seen.file = Some(stamp);
            let text = String::from_utf8(bytes).map_err(|_| {
                err(
                    "bundle.malformed",
                    format!("{} is not UTF-8", path.display()),
                )
            })?;
            Ok(Fetched::New(text.trim().to_string()))
        }
        Source::Url(url) => {
            let mut req = client.get(url);
            if let Some(etag) = &seen.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| err("bundle.fetch_failed", format!("{url}: {e}")))?;
            if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(Fetched::Unchanged);
            }
            if !resp.status().is_success() {
                return Err(err(
                    "bundle.fetch_failed",
                    format!("{url}: HTTP {}", resp.status()),
                ));
            }
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = resp
                .text()
                .await
                .map_err(|e| err("bundle.fetch_failed", format!("{url}: {e}")))?;
            seen.etag = etag;
            Ok(Fetched::New(text.trim().to_string()))
        }
    }
}
