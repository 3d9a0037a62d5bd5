//! The Envoy ext_authz check endpoint (HTTP service mode).
//!
//! Envoy sends the original request's method, path (after the configured `path_prefix`) and
//! headers. This endpoint does not interpret them: it hands the request, as received, to the
//! core's one HTTP binding (`policy_core::http`, through the decider's `decide_http`), which
//! every host shares — the Host rules, the refusal of ambiguous paths, the headers that may
//! appear once, the routes matched on the normalized path, the credentials
//! (`Authorization: DPoP <token>` + `DPoP: <proof>` [+ `Mandate-Chain`], or
//! `Authorization: Mandate-Grant <grant>` + `DPoP: <proof>`) and the client address.
//!
//! What this endpoint supplies is only what the core cannot know:
//! - the method, the raw path and query with the `/v1/check` prefix removed exactly once, every
//!   header field in the order received (repeats kept), and the socket peer;
//! - the authority: the request target's, else the `Host` header;
//! - the scheme: `--scheme`, or `x-forwarded-proto` when `--trusted-hops` is at least 1 (a
//!   client can send that header as easily as `x-forwarded-for`, so it is believed only when a
//!   proxy in front is trusted to set it);
//! - the binding: `--route`s, `--unrouted` (a request no route matches is `request.unrouted`, or
//!   the guardrails' alone to decide) and `--trusted-hops` (the client address is the socket
//!   peer, or the entry that many hops from the right of `x-forwarded-for`).

use core::net::SocketAddr;
use policy_core::Code;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use policy_core::HttpDecideInput;
use policy_core::http::HttpRequest;
use serde_json::{Value, json};

use super::Service;

/// A header value as text (bytes outside UTF-8 become U+FFFD, which no credential, host or
/// address accepts, so such a value can only make the request fail).
fn text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// The original request's scheme: the configured one, or — only behind trusted proxies — the
/// one `x-forwarded-proto` names. A repeated or comma-separated `x-forwarded-proto` is passed
/// on as it came, so that the core refuses it (`request.invalid`) rather than this endpoint
/// picking one of its values.
fn scheme(configured: &str, trusted_hops: u8, headers: &HeaderMap) -> String {
    if trusted_hops == 0 {
        return configured.to_string();
    }
    let sent: Vec<String> = headers
        .get_all("x-forwarded-proto")
        .iter()
        .map(|v| text(v).trim().to_string())
        .collect();
    match sent.as_slice() {
        [] => configured.to_string(),
        [one] => one.clone(),
        many => many.join(","),
    }
}

/// The request as the core's HTTP binding takes it.
pub fn http_request(
    configured_scheme: &str,
    trusted_hops: u8,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> HttpRequest {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let rest = target.strip_prefix("/v1/check").unwrap_or(target);
    let path = if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    };
    // The target's authority (absolute form), else the Host header. The core checks that the
    // two agree, that Host appears once, and that the authority is host[:port].
    let authority = uri.authority().map_or_else(
        || headers.get(header::HOST).map(text).unwrap_or_default(),
        |a| a.as_str().to_string(),
    );
    HttpRequest {
        method: method.as_str().to_string(),
        scheme: scheme(configured_scheme, trusted_hops, headers),
        authority,
        path,
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), text(v)))
            .collect(),
        peer: Some(peer.to_string()),
        body_digest: None,
    }
}

/// The HTTP decide input for the original request, stamped with this process's clock and id.
pub fn input_for(
    svc: &Service,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> HttpDecideInput {
    HttpDecideInput {
        now: crate::io::now(),
        decision_id: Some(super::random_id()),
        http: http_request(
            &svc.scheme,
            svc.binding.trusted_hops,
            method,
            uri,
            headers,
            peer,
        ),
        binding: svc.binding.clone(),
        context: None,
        mint_grant: None,
        enforces: Vec::new(),
        // The store's own (as the decider would add it), so the decider need not copy the input.
        replay_since: host_rust::replay::ReplayStore::remembers_since(svc.point.decider().replay()),
    }
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
    let decision = match svc.decide_http("check", &input).await {
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
            hv(decision.code().unwrap_or(Code::InternalError.as_str())),
        );
        let body = json!({"decision": "deny", "decision_id": id, "reasons": v.get("reasons")});
        (StatusCode::FORBIDDEN, out, body.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)], hops: u8) -> HttpRequest {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap_or(header::HOST),
                hv(v),
            );
        }
        let uri: Uri = target.parse().unwrap_or_default();
        let peer = SocketAddr::from(([192, 0, 2, 9], 4242));
        http_request("https", hops, &Method::GET, &uri, &map, peer)
    }

    #[test]
    fn strips_the_prefix_once_and_keeps_the_path_raw() {
        let r = request("/v1/check/v1/check/x/../y?q=%2e", &[], 0);
        assert_eq!(r.path, "/v1/check/x/../y?q=%2e");
        assert_eq!(request("/v1/check", &[], 0).path, "/");
        assert_eq!(request("/v1/check?a=1", &[], 0).path, "/?a=1");
        assert_eq!(r.peer.as_deref(), Some("192.0.2.9:4242"));
    }

    #[test]
    fn keeps_every_header_in_order_with_repeats() {
        let r = request(
            "/v1/check/a",
            &[
                ("dpop", "one"),
                ("host", "api.example.com"),
                ("dpop", "two"),
            ],
            0,
        );
        let dpop: Vec<&str> = r
            .headers
            .iter()
            .filter(|(n, _)| n == "dpop")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(dpop, ["one", "two"]);
        assert_eq!(r.authority, "api.example.com");
        // The target's authority wins; the core compares it with Host.
        let abs = request(
            "https://api.example.com/v1/check/a",
            &[("host", "evil.example")],
            0,
        );
        assert_eq!(abs.authority, "api.example.com");
    }

    #[test]
    fn believes_x_forwarded_proto_only_behind_trusted_hops() {
        let h = [("x-forwarded-proto", "http")];
        assert_eq!(request("/v1/check/a", &h, 0).scheme, "https");
        assert_eq!(request("/v1/check/a", &h, 1).scheme, "http");
        assert_eq!(request("/v1/check/a", &[], 1).scheme, "https");
        let twice = [
            ("x-forwarded-proto", "http"),
            ("x-forwarded-proto", "https"),
        ];
        assert_eq!(request("/v1/check/a", &twice, 1).scheme, "http,https");
    }
}
