//! Where the bundle comes from: a file (polled by mtime and size) or an HTTP URL (polled with
//! `If-None-Match`), and the check a new bundle passes before it is swapped in.

use core::time::Duration;
use policy_core::Code;
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
    pub code: Code,
    pub message: String,
}

fn err(code: Code, message: impl Into<String>) -> FetchError {
    FetchError {
        code,
        message: message.into(),
    }
}

/// The most a bundle source may hold: the core's bundle limit plus the load config's overhead
/// (the core refuses a load config over this). A larger file or download is refused
/// (`bundle.too_large`) after reading at most this many bytes (and one more); the bundle that
/// is serving keeps serving.
pub const MAX_SOURCE_BYTES: usize = policy_core::limits::MAX_BUNDLE_BYTES + 64 * 1024;

fn too_large(what: &str) -> FetchError {
    err(
        Code::BundleTooLarge,
        format!("{what} is over the {MAX_SOURCE_BYTES}-byte bundle limit"),
    )
}

/// Reads at most `MAX_SOURCE_BYTES + 1` bytes of a file (off the async workers).
async fn read_file_capped(path: &std::path::Path) -> Result<Vec<u8>, FetchError> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut buf = Vec::new();
        std::fs::File::open(&owned)?
            .take(
                u64::try_from(MAX_SOURCE_BYTES)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1),
            )
            .read_to_end(&mut buf)
            .map(|_| buf)
    })
    .await
    .map_err(|e| err(Code::BundleUnreadable, format!("{}: {e}", path.display())))?;
    read.map_err(|e| err(Code::BundleUnreadable, format!("{}: {e}", path.display())))
}

/// Reads a response body, streaming, refusing it as soon as it is over [`MAX_SOURCE_BYTES`]
/// (by its `Content-Length`, or by what arrived): an endless or huge body is never held.
async fn read_body_capped(url: &str, mut resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(MAX_SOURCE_BYTES).unwrap_or(u64::MAX))
    {
        return Err(too_large(url));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| err(Code::BundleFetchFailed, format!("{url}: {e}")))?
    {
        if body.len().saturating_add(chunk.len()) > MAX_SOURCE_BYTES {
            return Err(too_large(url));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The HTTP client for URL sources (rustls, bounded time).
pub fn client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| err(Code::BundleFetchFailed, e.to_string()))
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
                .map_err(|e| err(Code::BundleUnreadable, format!("{}: {e}", path.display())))?;
            let stamp = (
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            );
            if seen.file == Some(stamp) {
                return Ok(Fetched::Unchanged);
            }
            let too_big = u64::try_from(MAX_SOURCE_BYTES).unwrap_or(u64::MAX);
            if meta.len() > too_big {
                seen.file = Some(stamp);
                return Err(too_large(&path.display().to_string()));
            }
            // The file may have grown since: read no more than the limit allows.
            let bytes = read_file_capped(path).await?;
            seen.file = Some(stamp);
            if bytes.len() > MAX_SOURCE_BYTES {
                return Err(too_large(&path.display().to_string()));
            }
            let text = String::from_utf8(bytes).map_err(|_| {
                err(
                    Code::BundleMalformed,
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
                .map_err(|e| err(Code::BundleFetchFailed, format!("{url}: {e}")))?;
            if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(Fetched::Unchanged);
            }
            if !resp.status().is_success() {
                return Err(err(
                    Code::BundleFetchFailed,
                    format!("{url}: HTTP {}", resp.status()),
                ));
            }
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = match read_body_capped(url, resp).await {
                Ok(body) => body,
                Err(e) => {
                    // An oversized bundle is refused once per ETag, like any bad bundle.
                    if e.code == Code::BundleTooLarge {
                        seen.etag = etag;
                    }
                    return Err(e);
                }
            };
            seen.etag = etag;
            let text = String::from_utf8(body).map_err(|_| {
                err(
                    Code::BundleMalformed,
                    format!("{url}: the body is not UTF-8"),
                )
            })?;
            Ok(Fetched::New(text.trim().to_string()))
        }
    }
}
