//! The request being authorized, and RFC 9449 §4.3 URI comparison: the target URI without query
//! and fragment, after RFC 3986 §6.2.2 syntax-based normalization (case, percent-encoding,
//! dot segments) and §6.2.3 scheme-based normalization (default port, empty path).

use crate::limits;
use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The request as the host describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method, case-sensitive.
    pub method: String,
    /// The full target URI, e.g. `https://api.example.com/v1/x?y=1`.
    pub uri: String,
    /// The client address as the host saw it.
    #[serde(default)]
    pub ip: Option<String>,
    /// The action the host maps this request to (checked against the effective scopes).
    #[serde(default)]
    pub action: Option<String>,
    /// The resource the request touches.
    #[serde(default)]
    pub resource: Option<String>,
    /// base64url SHA-256 of the body.
    #[serde(default)]
    pub body_digest: Option<String>,
}

/// A parsed, normalized target URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUri {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-cased host (IPv6 literals keep their brackets).
    pub host: String,
    /// Explicit non-default port.
    pub port: Option<u16>,
    /// Normalized path, never empty.
    pub path: String,
    /// The raw query, without `?`.
    pub query: String,
}

impl TargetUri {
    /// Parses an absolute http(s) URI. `None` when it is not one.
    #[must_use]
    pub fn parse(uri: &str) -> Option<TargetUri> {
        if uri.len() > limits::MAX_URI_BYTES || uri.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return None;
        }
        let (scheme, rest) = uri.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let without_fragment = rest.split('#').next().unwrap_or("");
        let (before_query, query) = without_fragment
            .split_once('?')
            .unwrap_or((without_fragment, ""));
        let (authority, path) = match before_query.find('/') {
            Some(i) => (before_query.get(..i)?, before_query.get(i..)?),
            None => (before_query, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_port(authority)?;
        if host.is_empty() {
            return None;
        }
        let port = port.filter(|p| *p != default_port);
        Some(TargetUri {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: normalize_path(path)?,
            query: query.to_string(),
        })
    }

    /// The form RFC 9449 compares: `scheme://host[:port]/path`.
    #[must_use]
    pub fn htu(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{}{}", self.scheme, self.host, p, self.path),
            None => format!("{}://{}{}", self.scheme, self.host, self.path),
        }
    }
}

fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_sep = if authority.starts_with('[') {
        let close = authority.find(']')?;
        match authority.get(close + 1..)? {
            "" => None,
            rest if rest.starts_with(':') => Some(close + 1),
            _ => return None,
        }
    } else {
        authority.rfind(':')
    };
    match port_sep {
        None => Some((authority, None)),
        Some(i) => {
            let digits = authority.get(i + 1..)?;
            let host = authority.get(..i)?;
            if digits.is_empty() {
                return Some((host, None));
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((host, Some(digits.parse().ok()?)))
        }
    }
}

/// Percent-encoding to upper-case hex, unreserved characters decoded, dot segments removed.
fn normalize_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(hex, 16).ok()?;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                decoded.push(char::from(v));
            } else {
                decoded.push('%');
                decoded.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            decoded.push(char::from(b));
            i += 1;
        }
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (idx, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if idx == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if idx == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut path = String::from("/");
    path.push_str(&out.join("/"));
    Some(path)
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Request {
    /// As given.
    pub spec: RequestSpec,
    /// Parsed target.
    pub target: TargetUri,
}

impl Request {
    /// Validates the method and URI.
    ///
    /// # Errors
    /// A message for `request.invalid`.
    pub fn new(spec: RequestSpec) -> Result<Request, String> {
        let method_ok = !spec.method.is_empty()
            && spec.method.len() <= 32
            && spec
                .method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !method_ok {
            return Err(String::from("method must be an HTTP method token"));
        }
        let target = TargetUri::parse(&spec.uri)
            .ok_or_else(|| String::from("uri must be an absolute http(s) URI"))?;
        Ok(Request { spec, target })
    }

    /// `input.request` for guardrails.
    #[must_use]
    pub fn to_policy_value(&self) -> Value {
        json!({
            "method": self.spec.method,
            "uri": self.spec.uri,
            "scheme": self.target.scheme,
            "host": self.target.host,
            "port": self.target.port,
            "path": self.target.path,
            "query": self.target.query,
            "ip": self.spec.ip,
            "action": self.spec.action,
            "resource": self.spec.resource,
            "body_digest": self.spec.body_digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TargetUri;

    fn htu(s: &str) -> Option<alloc::string::String> {
        TargetUri::parse(s).map(|t| t.htu())
    }

    #[test]
    fn rfc9449_comparison_form() {
        assert_eq!(
            htu("HTTPS://API.Example.com:443/a/./b/../c?q=1#f").as_deref(),
            Some("https://api.example.com/a/c")
        );
        assert_eq!(htu("https://h").as_deref(), Some("https://h/"));
        assert_eq!(
            htu("http://h:8080/%7euser/%2f").as_deref(),
            Some("http://h:8080/~user/%2F")
        );
        assert_eq!(
            htu("https://[::1]:8443/x").as_deref(),
            Some("https://[::1]:8443/x")
        );
        assert!(htu("ftp://h/").is_none());
        assert!(htu("https://user@h/").is_none());
        assert!(htu("https://h/%zz").is_none());
        assert!(htu("https://h:99999/").is_none());
        assert!(htu("/relative").is_none());
    }
}
