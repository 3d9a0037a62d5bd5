//! The Envoy ext_authz check endpoint (HTTP service mode).
//!
//! Envoy sends the original request's method, path (after the configured `path_prefix`) and
//! headers. Credentials are read from:
//! - `Authorization: DPoP <token>` with `DPoP: <proof>`, and optionally
//!   `Mandate-Chain: <ancestor tokens, root first, space-separated>` for sub-delegations;
//! - or `Authorization: Mandate-Grant <grant>`.
//!
//! The target URI is rebuilt from `x-forwarded-proto` (or the configured scheme), the `Host`
//! (`:authority`) and the path; the client address is the first hop of `x-forwarded-for` (set by
//! Envoy, which must be configured to overwrite what clients send), or the TCP peer. The action
//! and resource come from the configured routes (`--route`).

use core::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Service;

/// Maps requests to actions: `METHOD PATH-GLOB ACTION [RESOURCE]`, e.g.
/// `GET /v1/secrets/* secrets:read`. `*` as the method matches any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub action: String,
    pub resource: Option<String>,
}

impl core::str::FromStr for Route {
    type Err = String;

    fn from_str(s: &str) -> Result<Route, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [m, p, a] => Ok(Route {
                method: (*m).to_string(),
                path: (*p).to_string(),
                action: (*a).to_string(),
                resource: None,
            }),
            [m, p, a, r] => Ok(Route {
                method: (*m).to_string(),
                path: (*p).to_string(),
                action: (*a).to_string(),
                resource: Some((*r).to_string()),
            }),
            _ => Err(format!(
                "route `{s}` is not `METHOD PATH-GLOB ACTION [RESOURCE]` (e.g. `GET /v1/secrets/* secrets:read`)"
            )),
        }
    }
}

impl Route {
    fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && mandate_core::registry::glob(&self.path, path)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Splits `Scheme value` case-insensitively on the scheme.
fn auth_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Builds the decide input for the original request.
pub fn input_for(
    svc: &Service,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Value {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let original = path_and_query
        .strip_prefix("/v1/check")
        .unwrap_or(path_and_query);
    let original = if original.starts_with('/') {
        original.to_string()
    } else {
        format!("/{original}")
    };
    let path_only = original.split('?').next().unwrap_or("/");
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| header_str(headers, "host").map(str::to_string))
        .unwrap_or_default();
    let scheme = header_str(headers, "x-forwarded-proto")
        .and_then(|s| s.split(',').next())
        .map_or_else(|| svc.scheme.clone(), |s| s.trim().to_string());
    let ip = header_str(headers, "x-forwarded-for")
        .and_then(|s| s.split(',').next())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| peer.ip().to_string());
    let mut request =
        json!({"method": method.as_str(), "uri": format!("{scheme}://{host}{original}"), "ip": ip});
    if let (Some(route), Some(obj)) = (
        svc.routes
            .iter()
            .find(|r| r.matches(method.as_str(), path_only)),
        request.as_object_mut(),
    ) {
        obj.insert("action".into(), Value::String(route.action.clone()));
        if let Some(r) = &route.resource {
            obj.insert("resource".into(), Value::String(r.clone()));
        }
    }
    let mut credentials = serde_json::Map::new();
    if let Some(auth) = header_str(headers, "authorization") {
        if let Some(token) = auth_scheme(auth, "DPoP") {
            let mut chain: Vec<Value> = header_str(headers, "mandate-chain")
                .map(|c| {
                    c.split_whitespace()
                        .map(|t| Value::String(t.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            chain.push(Value::String(token.to_string()));
            credentials.insert("delegation".into(), Value::Array(chain));
            if let Some(proof) = header_str(headers, "dpop") {
                credentials.insert("proof".into(), Value::String(proof.to_string()));
            }
        } else if let Some(grant) = auth_scheme(auth, "Mandate-Grant") {
            credentials.insert("grant".into(), Value::String(grant.to_string()));
        }
    }
    json!({
        "now": crate::io::now(),
        "decision_id": super::random_id(),
        "request": request,
        "credentials": credentials,
    })
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

pub async fn handler(
    State(svc): State<Arc<Service>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let input = input_for(&svc, &method, &uri, &headers, peer);
    let decision = match svc.decide("check", &input).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let v = decision.value();
    let id = decision.decision_id().to_string();
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out.insert(HeaderName::from_static("x-mandate-decision-id"), hv(&id));
    if decision.is_allow() {
        let p = |k: &str| {
            v.pointer(&format!("/principal/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let chain: Vec<&str> = v
            .pointer("/principal/chain")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.insert(HeaderName::from_static("x-mandate-agent"), hv(&p("agent")));
        out.insert(HeaderName::from_static("x-mandate-user"), hv(&p("user")));
        out.insert(
            HeaderName::from_static("x-mandate-chain"),
            hv(&chain.join(",")),
        );
        let body = json!({"decision": "allow", "decision_id": id, "principal": v.get("principal")});
        (StatusCode::OK, out, body.to_string()).into_response()
    } else {
        out.insert(
            HeaderName::from_static("x-mandate-reason"),
            hv(decision.code().unwrap_or("internal.error")),
        );
        let body = json!({"decision": "deny", "decision_id": id, "reasons": v.get("reasons"), "principal": v.get("principal")});
        (StatusCode::FORBIDDEN, out, body.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes() {
        let r: Route = "GET /v1/secrets/* secrets:read"
            .parse()
            .unwrap_or_else(|_| Route {
                method: String::new(),
                path: String::new(),
                action: String::new(),
                resource: None,
            });
        assert!(r.matches("GET", "/v1/secrets/db"));
        assert!(!r.matches("POST", "/v1/secrets/db"));
        assert!("GET".parse::<Route>().is_err());
    }

    #[test]
    fn splits_auth_schemes() {
        assert_eq!(auth_scheme("dpop abc", "DPoP"), Some("abc"));
        assert_eq!(auth_scheme("Bearer abc", "DPoP"), None);
    }
}
