//! The request being authorized, and RFC 9449 §4.3 URI comparison: the target URI without query
//! and fragment, after RFC 3986 §6.2.2 syntax-based normalization (case, percent-encoding,
//! dot segments) and §6.2.3 scheme-based normalization (default port, empty path).

use crate::guardrails::PolicyRequest;
use crate::limits;
use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The request as the host describes it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
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
        if !valid_host(host) {
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

    /// `scheme://host[:port]`, normalized.
    #[must_use]
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{}", self.scheme, self.host, p),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// Whether this target lies within the resource `aud` names (RFC 8707 style): `aud` is an
    /// absolute http(s) URI with the same origin, and its path is this path or a parent of it
    /// on a segment boundary (`https://api.example.com` and `https://api.example.com/v1` both
    /// cover `https://api.example.com/v1/x`; neither covers another host, port or scheme).
    #[must_use]
    pub fn is_within(&self, aud: &str) -> bool {
        let Some(resource) = TargetUri::parse(aud) else {
            return false;
        };
        if resource.origin() != self.origin() || !resource.query.is_empty() {
            return false;
        }
        let base = resource.path.trim_end_matches('/');
        base.is_empty()
            || self.path == base
            || self
                .path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
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

/// `host` of `host[:port]`: a DNS-style reg-name (letters, digits, `-`, `.`, `_`, `~`), an IPv4
/// address, or a bracketed IPv6 literal. Nothing that could smuggle a path, query, user info or
/// second port into the authority (`api.example.com/v1/x?`, `a:1:2`) passes.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<core::net::Ipv6Addr>().is_ok());
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `authority` is exactly `host[:port]` (see [`TargetUri::parse`] for what a host is).
#[must_use]
pub fn valid_authority(authority: &str) -> bool {
    !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', '\\'])
        && split_port(authority).is_some_and(|(host, _)| valid_host(host))
}

/// Whether a raw request path is one that proxies, routers and servers may read differently:
/// a `.` or `..` segment (also percent-encoded), an encoded `/` or `\`, or a raw `\`. The
/// request being authorized must not carry one: what routes match, what the proof binds, what
/// guardrails and the audit see and what the upstream receives must be the same path.
#[must_use]
pub fn path_is_ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.contains('\\') || lower.contains("%2f") || lower.contains("%5c") {
        return true;
    }
    let decoded_dots = lower.replace("%2e", ".");
    decoded_dots
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

/// The raw path of an absolute URI (after the authority, before `?` or `#`).
fn raw_path(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("")
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
        let target = TargetUri::parse(&spec.uri).ok_or_else(|| {
            String::from("uri must be an absolute http(s) URI with a host[:port] authority")
        })?;
        if path_is_ambiguous(raw_path(&spec.uri)) {
            return Err(String::from(
                "the path has a dot-segment or an encoded slash or backslash; send it normalized",
            ));
        }
        Ok(Request { spec, target })
    }

    /// `input.request` for guardrails. Members the request does not have (no `ip`, no
    /// `action`, the default port) are absent — undefined in Rego, as OPA's inputs are — not
    /// `null`, which strict builtins would turn into an evaluation error.
    #[must_use]
    pub fn policy_request(&self) -> PolicyRequest<'_> {
        PolicyRequest {
            method: &self.spec.method,
            uri: &self.spec.uri,
            scheme: &self.target.scheme,
            host: &self.target.host,
            port: self.target.port,
            path: &self.target.path,
            query: &self.target.query,
            ip: self.spec.ip.as_deref(),
            action: self.spec.action.as_deref(),
            resource: self.spec.resource.as_deref(),
            body_digest: self.spec.body_digest.as_deref(),
        }
    }

    /// [`Request::policy_request`] as a JSON value.
    #[must_use]
    pub fn to_policy_value(&self) -> Value {
        // Always serializes: every member is a string or a number.
        serde_json::to_value(self.policy_request()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::{Request, RequestSpec, TargetUri, path_is_ambiguous};

    #[test]
    fn ambiguous_paths_are_refused() {
        for p in [
            "/v1/trips/../secrets/db",
            "/v1/trips/%2e%2e/secrets/db",
            "/v1/trips/%2E./secrets",
            "/v1/./trips",
            "/v1/trips/..",
            "/v1/a%2fb",
            "/v1/a%5Cb",
            "/v1/a\\b",
        ] {
            assert!(path_is_ambiguous(p), "{p}");
            let spec = RequestSpec {
                method: "GET".into(),
                uri: alloc::format!("https://api.example.com{p}"),
                ip: None,
                action: None,
                resource: None,
                body_digest: None,
            };
            assert!(Request::new(spec).is_err(), "{p}");
        }
        for p in [
            "/v1/trips/1",
            "/v1/trips/a.b",
            "/v1/...",
            "/",
            "/v1/%7Euser",
        ] {
            assert!(!path_is_ambiguous(p), "{p}");
        }
    }

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
        // Host header injection: nothing but host[:port] in the authority.
        assert!(htu("https://api.example.com:443:80/x").is_none());
        assert!(htu("https://a b/x").is_none());
        assert!(htu("https://[::1/x").is_none());
        assert!(htu("https://[nothex]/x").is_none());
        assert!(htu("https://api.example.com%2fv1/x").is_none());
    }
}
