//! The HTTP binding: how an HTTP request, as a server or proxy received it, becomes the
//! request and credentials of a decide input. Written once, here, and used by every host —
//! `mandate serve`, the Envoy filter, the wasm module, the JS package — so that the rules that
//! decide what a request *is* never drift between them:
//!
//! - the authority must be `host[:port]` and agree with any `Host` header;
//! - the path must be unambiguous (no dot-segments, no encoded `/` or `\`), and routes are
//!   matched on the same normalized path the proof, the guardrails and the audit see;
//! - `Authorization`, `DPoP`, `Mandate-Chain` and `Host` may each appear once (RFC 9449 §4.3);
//! - with routes, a request none matches is a deny (`request.unrouted`) unless the binding says
//!   the guardrails decide it;
//! - the client address is the socket peer, or the entry `trusted_hops` from the right of
//!   `X-Forwarded-For` when that many proxies in front each append the address they saw.
//!
//! Credentials: `Authorization: DPoP <token>` with `DPoP: <proof>` and optionally
//! `Mandate-Chain: <ancestor tokens, root first, space-separated>`; or
//! `Authorization: Mandate-Grant <grant>` with `DPoP: <proof>`.

use crate::grant::MintRequest;
use crate::input::Credentials;
use crate::reason::{Code, Reason, reason};
use crate::request::{RequestSpec, TargetUri, path_is_ambiguous, valid_authority};
use alloc::{
    borrow::ToOwned,
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::net::{IpAddr, SocketAddr};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An HTTP request as the host received it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The method, as sent.
    pub method: String,
    /// `http` or `https`: how the request reached the service being protected.
    pub scheme: String,
    /// `:authority`, or the `Host` header (may be empty when only `headers` carry `Host`).
    #[serde(default)]
    pub authority: String,
    /// The request target in origin form: path and query, exactly as received.
    pub path: String,
    /// Every header field in the order received; a repeated field appears repeatedly.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The socket peer's address (`ip` or `ip:port`).
    #[serde(default)]
    pub peer: Option<String>,
    /// base64url SHA-256 of the body, when the host hashed it.
    #[serde(default)]
    pub body_digest: Option<String>,
}

/// An HTTP decide input: the request as the host received it, and its binding.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDecideInput {
    /// As in the decide input (`DecideInput`).
    pub now: i64,
    /// As in the decide input (`DecideInput`).
    #[serde(default)]
    pub decision_id: Option<String>,
    /// The HTTP request.
    pub http: HttpRequest,
    /// Routes and forwarded-hop trust.
    #[serde(default)]
    pub binding: Binding,
    /// As in the decide input (`DecideInput`).
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// As in the decide input (`DecideInput`).
    #[serde(default)]
    pub mint_grant: Option<MintRequest>,
    /// As in the decide input (`DecideInput`).
    #[serde(default)]
    pub enforces: Vec<String>,
    /// As in the decide input (`DecideInput`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_since: Option<i64>,
}

/// Maps requests to actions: `METHOD PATH-GLOB ACTION [RESOURCE]`, e.g.
/// `GET /v1/secrets/* secrets:read`. `*` as the method matches any; the glob's `*` matches any
/// run of characters (including `/`) of the normalized path.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The method, or `*`.
    pub method: String,
    /// A glob over the normalized path.
    pub path: String,
    /// The action a matching request is checked for.
    pub action: String,
    /// The resource it touches.
    #[serde(default)]
    pub resource: Option<String>,
}

impl core::str::FromStr for Route {
    type Err = String;

    fn from_str(s: &str) -> Result<Route, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let (method, path, action, resource) = match parts.as_slice() {
            [m, p, a] => (*m, *p, *a, None),
            [m, p, a, r] => (*m, *p, *a, Some((*r).to_owned())),
            _ => {
                return Err(format!(
                    "route `{s}` is not `METHOD PATH-GLOB ACTION [RESOURCE]` (e.g. `GET /v1/secrets/* secrets:read`)"
                ));
            }
        };
        if !path.starts_with('/') {
            return Err(format!("route `{s}`: the path glob must start with /"));
        }
        Ok(Route {
            method: method.to_owned(),
            path: path.to_owned(),
            action: action.to_owned(),
            resource,
        })
    }
}

impl Route {
    /// Whether this route matches a method and a normalized path.
    #[must_use]
    pub fn matches(&self, method: &str, normalized_path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && crate::registry::glob(&self.path, normalized_path)
    }
}

/// What a decision point configures about its HTTP side.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Routes, first match wins; a request no route matches names no action.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// How many proxies in front each append to `X-Forwarded-For`; 0 uses the socket peer.
    #[serde(default)]
    pub trusted_hops: u8,
    /// What a request no route matches gets, when there are routes: a deny (the default), or
    /// no action, leaving the guardrails alone to decide (`"guardrails"`).
    #[serde(default)]
    pub unrouted: Unrouted,
}

/// What happens to a request no route matches (only when the binding has routes).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unrouted {
    /// `request.unrouted`: a path variant the routes did not foresee (`/v1/Secrets/db`) is
    /// never decided without a scope check.
    #[default]
    Deny,
    /// The request names no action; the guardrails alone decide it.
    Guardrails,
}

/// The headers that may appear at most once.
const SINGLE: [&str; 4] = ["authorization", "dpop", "mandate-chain", "host"];

/// A request's decide-input parts: the request and its credentials.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The request, for the core.
    pub request: RequestSpec,
    /// The credentials it carries.
    pub credentials: Credentials,
}

fn invalid(m: impl Into<String>) -> Reason {
    reason(Code::RequestInvalid, m)
}

impl HttpRequest {
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn single(&self, name: &str) -> Option<&str> {
        self.header(name).next().filter(|v| !v.is_empty())
    }

    /// The request's audit form when binding fails (what was asked, unvalidated).
    #[must_use]
    pub fn audit_value(&self) -> serde_json::Value {
        serde_json::json!({
            "method": self.method, "uri": format!("{}://{}{}", self.scheme, self.authority, self.path),
            "ip": null, "action": null, "resource": null,
        })
    }
}

/// Binds an HTTP request: the rules of this module's documentation, in that order.
///
/// # Errors
/// `request.header_repeated` or `request.invalid`.
pub fn bind(http: &HttpRequest, binding: &Binding) -> Result<Bound, Reason> {
    for name in SINGLE {
        if http.header(name).nth(1).is_some() || joined(http, name) {
            return Err(reason(
                Code::RequestHeaderRepeated,
                format!("the {name} header may appear once"),
            ));
        }
    }
    let scheme = http.scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(invalid("the scheme must be http or https"));
    }
    let authority = match (http.authority.as_str(), http.single("host")) {
        ("", Some(host)) => host,
        (a, Some(host)) if !a.eq_ignore_ascii_case(host) => {
            return Err(invalid("the authority and the Host header disagree"));
        }
        (a, _) => a,
    };
    if !valid_authority(authority) {
        return Err(invalid("the Host must be host[:port]"));
    }
    if !http.path.starts_with('/') {
        return Err(invalid("the request target must be a path (origin form)"));
    }
    let raw_path = http.path.split(['?', '#']).next().unwrap_or("");
    if path_is_ambiguous(raw_path) {
        return Err(invalid(
            "the path has a dot-segment or an encoded slash or backslash; send it normalized",
        ));
    }
    let uri = format!("{scheme}://{authority}{}", http.path);
    let target = TargetUri::parse(&uri).ok_or_else(|| invalid("the URI cannot be parsed"))?;
    let route = binding
        .routes
        .iter()
        .find(|r| r.matches(&http.method, &target.path));
    if route.is_none() && !binding.routes.is_empty() && binding.unrouted == Unrouted::Deny {
        return Err(reason(
            Code::RequestUnrouted,
            format!("no route matches {} {}", http.method, target.path),
        ));
    }
    Ok(Bound {
        request: RequestSpec {
            method: http.method.clone(),
            uri,
            ip: client_ip(http, binding.trusted_hops)?,
            action: route.map(|r| r.action.clone()),
            resource: route.and_then(|r| r.resource.clone()),
            body_digest: http.body_digest.clone(),
        },
        credentials: credentials(http),
    })
}

/// Whether a proxy already joined repeated fields into one (RFC 9110 §5.3: a list joined with
/// commas, as Envoy does before ext_authz). No credential Mandate reads contains a comma: a JWS
/// is base64url and dots, a chain is space-separated; so a comma in `DPoP`, `Mandate-Chain`, or
/// an `Authorization` of the `DPoP` or `Mandate-Grant` scheme is a repeated field.
fn joined(http: &HttpRequest, name: &str) -> bool {
    let Some(value) = http.single(name) else {
        return false;
    };
    match name {
        "dpop" | "mandate-chain" => value.contains(','),
        "authorization" => {
            (auth_value(value, "DPoP").is_some() || auth_value(value, "Mandate-Grant").is_some())
                && value.contains(',')
        }
        _ => false,
    }
}

/// The client's address: the socket peer, or `trusted_hops` entries from the right of
/// `X-Forwarded-For` (all its fields, in order, as one list).
fn client_ip(http: &HttpRequest, trusted_hops: u8) -> Result<Option<String>, Reason> {
    if trusted_hops == 0 {
        return Ok(http.peer.as_deref().map(peer_ip));
    }
    let hops: Vec<&str> = http
        .header("x-forwarded-for")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = hops
        .len()
        .checked_sub(usize::from(trusted_hops))
        .ok_or_else(|| invalid("X-Forwarded-For has fewer hops than the proxies in front"))?;
    let hop = hops.get(index).copied().unwrap_or("");
    hop.parse::<IpAddr>()
        .map(|ip| Some(ip.to_canonical().to_string()))
        .map_err(|_| invalid("the forwarded client address is not an IP address"))
}

/// `1.2.3.4:5678` / `[::1]:5678` / a bare address → the IP; anything else as given. An
/// IPv4-mapped IPv6 address (`::ffff:10.20.0.7`, what a dual-stack socket reports for an IPv4
/// client) is the IPv4 address, so network guardrails see one form.
fn peer_ip(peer: &str) -> String {
    if let Ok(socket) = peer.parse::<SocketAddr>() {
        return socket.ip().to_canonical().to_string();
    }
    peer.parse::<IpAddr>()
        .map_or_else(|_| peer.to_owned(), |ip| ip.to_canonical().to_string())
}

/// Splits `Authorization: <scheme> <value>`, the scheme compared case-insensitively (RFC 9110).
fn auth_value<'a>(authorization: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, value) = authorization.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then(|| value.trim())
}

fn credentials(http: &HttpRequest) -> Credentials {
    let mut creds = Credentials::default();
    let authorization = http.single("authorization").unwrap_or("");
    if let Some(grant) = auth_value(authorization, "Mandate-Grant") {
        creds.grant = Some(grant.to_owned());
    } else if let Some(token) = auth_value(authorization, "DPoP") {
        // Ancestors only mean something below a presented token.
        if let Some(chain) = http.single("mandate-chain") {
            creds
                .delegation
                .extend(chain.split_ascii_whitespace().map(str::to_owned));
        }
        creds.delegation.push(token.to_owned());
    }
    creds.proof = http.single("dpop").map(str::to_owned);
    creds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(authority: &str, path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            scheme: "https".into(),
            authority: authority.into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            peer: Some("192.0.2.9:4242".into()),
            body_digest: None,
        }
    }

    fn routes() -> Binding {
        Binding {
            routes: [
                "GET /v1/trips/* trips:read",
                "GET /v1/secrets/* secrets:read",
            ]
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect(),
            trusted_hops: 0,
            unrouted: Unrouted::Deny,
        }
    }

    fn code(r: Result<Bound, Reason>) -> Option<Code> {
        r.err().map(|r| r.code)
    }

    #[test]
    fn host_must_be_host_and_port() {
        for bad in [
            "api.example.com/v1/trips/1?",
            "api.example.com:443:1",
            "user@api.example.com",
            "api.example.com#x",
            "",
        ] {
            assert_eq!(
                code(bind(&http(bad, "/v1/trips/1", &[]), &routes())),
                Some(Code::RequestInvalid),
                "{bad}"
            );
        }
        assert_eq!(
            code(bind(
                &http(
                    "api.example.com",
                    "/v1/trips/1",
                    &[("Host", "evil.example")]
                ),
                &routes()
            )),
            Some(Code::RequestInvalid)
        );
        let ok = bind(
            &http("", "/v1/trips/1", &[("host", "api.example.com:8443")]),
            &routes(),
        );
        assert_eq!(
            ok.map(|b| b.request.uri).ok().as_deref(),
            Some("https://api.example.com:8443/v1/trips/1")
        );
    }

    #[test]
    fn routes_see_the_path_the_core_sees() {
        for bad in [
            "/v1/trips/../secrets/db",
            "/v1/trips/%2e%2e/secrets/db",
            "/v1/trips/./../secrets/db",
            "/v1/trips/..%2fsecrets",
        ] {
            assert_eq!(
                code(bind(&http("api.example.com", bad, &[]), &routes())),
                Some(Code::RequestInvalid),
                "{bad}"
            );
        }
        // Percent-encoded unreserved characters are decoded before matching.
        let b = bind(&http("api.example.com", "/v1/%73ecrets/db", &[]), &routes());
        assert_eq!(
            b.ok().and_then(|b| b.request.action).as_deref(),
            Some("secrets:read")
        );
    }

    #[test]
    fn single_headers_are_single() {
        for name in ["DPoP", "Authorization", "Mandate-Chain", "Host"] {
            let h = http(
                "api.example.com",
                "/v1/trips/1",
                &[(name, "a"), (&name.to_ascii_lowercase(), "b")],
            );
            assert_eq!(
                code(bind(&h, &routes())),
                Some(Code::RequestHeaderRepeated),
                "{name}"
            );
        }
        // Joined by a proxy into one field: still repeated.
        for (name, value) in [
            ("DPoP", "a.b.c, d.e.f"),
            ("Mandate-Chain", "a.b.c,d.e.f"),
            ("Authorization", "DPoP a.b.c, DPoP d.e.f"),
            ("Authorization", "Mandate-Grant a.b.c,x"),
        ] {
            let h = http("api.example.com", "/v1/trips/1", &[(name, value)]);
            assert_eq!(
                code(bind(&h, &routes())),
                Some(Code::RequestHeaderRepeated),
                "{name}: {value}"
            );
        }
        // Another scheme's parameters may hold commas; that is no credential, not a repeat.
        let basic = http(
            "api.example.com",
            "/v1/trips/1",
            &[("Authorization", "Digest a=1, b=2")],
        );
        assert!(bind(&basic, &routes()).is_ok());
    }

    #[test]
    fn forwarded_for_counts_trusted_hops_from_the_right() {
        let h = http(
            "api.example.com",
            "/v1/trips/1",
            &[("X-Forwarded-For", "10.20.0.7, 198.51.100.4")],
        );
        let ip = |hops| {
            let b = Binding {
                trusted_hops: hops,
                ..routes()
            };
            bind(&h, &b).map(|b| b.request.ip)
        };
        assert_eq!(ip(0).ok().flatten().as_deref(), Some("192.0.2.9"));
        assert_eq!(ip(1).ok().flatten().as_deref(), Some("198.51.100.4"));
        assert_eq!(ip(2).ok().flatten().as_deref(), Some("10.20.0.7"));
        assert_eq!(ip(3).err().map(|r| r.code), Some(Code::RequestInvalid));
        // Dual-stack sockets report IPv4 clients as IPv4-mapped IPv6: one form for guardrails.
        let mut mapped = h.clone();
        mapped.peer = Some("[::ffff:10.20.0.7]:4242".into());
        let b = bind(&mapped, &routes()).map(|b| b.request.ip);
        assert_eq!(b.ok().flatten().as_deref(), Some("10.20.0.7"));
        let xff = http(
            "api.example.com",
            "/v1/trips/1",
            &[("X-Forwarded-For", "::ffff:10.20.0.8")],
        );
        let b = bind(
            &xff,
            &Binding {
                trusted_hops: 1,
                ..routes()
            },
        )
        .map(|b| b.request.ip);
        assert_eq!(b.ok().flatten().as_deref(), Some("10.20.0.8"));
    }

    #[test]
    fn credentials_from_headers() {
        let h = http(
            "api.example.com",
            "/v1/trips/1",
            &[
                ("authorization", "dpop tok"),
                ("dpop", "prf"),
                ("mandate-chain", "root mid"),
            ],
        );
        let c = bind(&h, &routes()).map(|b| b.credentials).ok();
        assert_eq!(
            c.as_ref().map(|c| c.delegation.clone()),
            Some(alloc::vec!["root".into(), "mid".into(), "tok".into()])
        );
        assert_eq!(c.and_then(|c| c.proof).as_deref(), Some("prf"));
        let g = http(
            "api.example.com",
            "/v1/trips/1",
            &[("Authorization", "Mandate-Grant g"), ("DPoP", "p")],
        );
        let c = bind(&g, &routes()).map(|b| b.credentials).ok();
        assert_eq!(
            c.as_ref().and_then(|c| c.grant.clone()).as_deref(),
            Some("g")
        );
        assert_eq!(c.and_then(|c| c.proof).as_deref(), Some("p"));
    }
}
