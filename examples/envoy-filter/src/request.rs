//! An Envoy request -> the core's decision. Pure: no proxy calls here.
//!
//! The filter does not map HTTP itself. It hands the request to the core as it received it —
//! `:method`, `:scheme`, `:authority`, `:path`, every other header pair in order (repeats kept),
//! and `source.address` as the socket peer — and the core's one HTTP binding
//! (`policy_core::http::bind`) decides what the request is: it refuses an ambiguous path, a bad
//! or disagreeing Host, a repeated credential header, matches the routes on the normalized path,
//! takes the client address by the `trusted_hops` rule and reads the credentials. What stays here
//! is Envoy's: the clock, the decision id from a header, the grant's `jti` from `x-request-id`.

use policy_core::http::{self, HttpRequest};
use policy_core::{DecideInput, HttpDecideInput, MintRequest, Pdp, Pending, Reason};
use serde_json::Value;

use crate::config::FilterConfig;

/// What the filter reads from one request.
#[derive(Debug, Default, Clone)]
pub struct RequestParts {
    /// The request as Envoy handed it over, for the core's binding.
    pub http: HttpRequest,
    /// The value of the configured decision id header.
    pub decision_id: Option<String>,
    /// `x-request-id` (Envoy's per-request UUID): the `jti` of a minted grant.
    pub request_id: Option<String>,
}

impl RequestParts {
    /// Reads a request from its header pairs (as Envoy hands them over: names lower-case, values
    /// as raw bytes) and the `source.address` property.
    ///
    /// Values are decoded lossily, so a header that is not UTF-8 becomes a credential or URI the
    /// core refuses, never a panic in the filter. Every header pair is kept, in order: a header
    /// sent twice reaches the core twice (which refuses a repeated `Authorization`, `DPoP`,
    /// `Mandate-Chain` or `Host`).
    pub fn from_headers(
        pairs: &[(String, Vec<u8>)],
        source_address: Option<String>,
        decision_id_header: Option<&str>,
    ) -> Self {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| text(v))
        };
        let headers = pairs
            .iter()
            .filter(|(n, _)| !n.starts_with(':'))
            .map(|(n, v)| (n.clone(), text(v)))
            .collect();
        RequestParts {
            http: HttpRequest {
                method: first(":method").unwrap_or_default(),
                scheme: first(":scheme").unwrap_or_default(),
                authority: first(":authority").unwrap_or_default(),
                path: first(":path").unwrap_or_default(),
                headers,
                peer: source_address,
                // The filter decides on the headers, before any body exists (see the README).
                body_digest: None,
            },
            decision_id: decision_id_header.and_then(first),
            request_id: first("x-request-id"),
        }
    }

    /// The decision id the filter passes: the header's value when it is 1 to 128 bytes (what the
    /// core accepts); otherwise none, and the id is derived from the request.
    fn decision_id(&self) -> Option<String> {
        self.decision_id
            .clone()
            .filter(|id| (1..=128).contains(&id.len()))
    }
}

/// Binds the request with the core's binding and builds the typed decide input at `now` (Unix
/// seconds, from the proxy's clock).
///
/// The filter declares no obligation in `enforces`: it enforces none, so a decision whose
/// guardrails require one (`require_approval`, or any other but the core's own `max_ttl`) is a
/// deny from the core (`approval.required`, `obligation.unsupported`).
///
/// # Errors
/// The core's binding reason (`request.invalid`, `request.header_repeated`).
pub fn decide_input(
    config: &FilterConfig,
    parts: &RequestParts,
    now: i64,
) -> Result<DecideInput, Reason> {
    let bound = http::bind(&parts.http, &config.binding)?;
    Ok(DecideInput {
        now,
        decision_id: parts.decision_id(),
        request: bound.request,
        credentials: bound.credentials,
        context: config.context.as_ref().and_then(Value::as_object).cloned(),
        mint_grant: mint_grant(config, parts),
        enforces: Vec::new(),
        replay_since: None,
    })
}

/// Decides one request through the core's HTTP path (`Pdp::decide_http`): the binding, then the
/// decision; a request the binding refuses is the core's deny with the binding's reason. Without
/// a usable decision id header the core derives the id from the input.
///
/// `replay_since`: since when the replay store has remembered every use
/// ([`crate::replay::remembered_since`]); a proof or grant issued before is
/// `replay.history_unknown`.
pub fn decide(
    pdp: &Pdp,
    config: &FilterConfig,
    parts: &RequestParts,
    now: i64,
    replay_since: i64,
) -> Pending {
    let input = HttpDecideInput {
        now,
        decision_id: parts.decision_id(),
        http: parts.http.clone(),
        binding: config.binding.clone(),
        context: config.context.as_ref().and_then(Value::as_object).cloned(),
        mint_grant: mint_grant(config, parts),
        enforces: Vec::new(),
        replay_since: Some(replay_since),
    };
    pdp.decide_http(&input)
}

/// The grant the configuration asks for, named by the request id. Without a request id there
/// is no fresh jti, so no grant is asked for (the upstream, which expects one, then refuses the
/// request).
fn mint_grant(config: &FilterConfig, parts: &RequestParts) -> Option<MintRequest> {
    match (&config.grant, &parts.request_id) {
        (Some(grant), Some(jti)) => Some(MintRequest {
            aud: grant.aud.clone(),
            ttl: i64::try_from(grant.ttl).unwrap_or(i64::MAX),
            jti: jti.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_core::{Code, ReplayOutcome};

    fn pairs(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect()
    }

    fn request(path: &str, extra: &[(&str, &[u8])]) -> RequestParts {
        let mut list: Vec<(&str, &[u8])> = vec![
            (":method", b"GET"),
            (":scheme", b"https"),
            (":authority", b"api.example.com"),
            (":path", path.as_bytes()),
        ];
        list.extend_from_slice(extra);
        RequestParts::from_headers(
            &pairs(&list),
            Some("10.20.0.7:40000".into()),
            Some("x-request-id"),
        )
    }

    fn config(json: &str) -> FilterConfig {
        match FilterConfig::parse(json.as_bytes()) {
            Ok(c) => c,
            Err(e) => unreachable!("test configuration: {e}"),
        }
    }

    const ROUTES: &str = r#"{"trust_keys":[],"bundle":"b","context":{"env":"test"},"routes":[
        "GET /v1/trips/* trips:read", "GET /v1/secrets/* secrets:read secret/db"]}"#;

    fn code(r: Result<DecideInput, Reason>) -> Option<Code> {
        r.err().map(|r| r.code)
    }

    #[test]
    fn reads_every_header_as_received() {
        let p = request(
            "/v1/x",
            &[
                ("authorization", b"DPoP \xff\xfe"),
                ("dpop", b"p1"),
                ("dpop", b"p2"),
                ("x-request-id", b"r-1"),
            ],
        );
        assert_eq!(p.http.method, "GET");
        assert_eq!(p.http.scheme, "https");
        assert_eq!(p.http.authority, "api.example.com");
        assert_eq!(p.http.path, "/v1/x");
        assert_eq!(p.http.peer.as_deref(), Some("10.20.0.7:40000"));
        let names: Vec<&str> = p.http.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["authorization", "dpop", "dpop", "x-request-id"]);
        assert_eq!(
            p.http.headers.first().map(|(_, v)| v.as_str()),
            Some("DPoP \u{fffd}\u{fffd}")
        );
        assert_eq!(p.decision_id.as_deref(), Some("r-1"));
        assert_eq!(p.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn binds_with_the_cores_binding() -> Result<(), Reason> {
        let c = config(ROUTES);
        let p = request(
            "/v1/secrets/db?version=2",
            &[("authorization", b"DPoP t"), ("dpop", b"p")],
        );
        let input = decide_input(&c, &p, 1_767_225_600)?;
        assert_eq!(input.now, 1_767_225_600);
        assert_eq!(
            input.request.uri,
            "https://api.example.com/v1/secrets/db?version=2"
        );
        assert_eq!(input.request.ip.as_deref(), Some("10.20.0.7"));
        assert_eq!(input.request.action.as_deref(), Some("secrets:read"));
        assert_eq!(input.request.resource.as_deref(), Some("secret/db"));
        assert_eq!(input.credentials.delegation, vec!["t".to_owned()]);
        assert_eq!(input.credentials.proof.as_deref(), Some("p"));
        assert_eq!(
            input.context.and_then(|c| c.get("env").cloned()),
            Some(serde_json::json!("test"))
        );
        assert!(input.enforces.is_empty());
        assert!(input.mint_grant.is_none());
        Ok(())
    }

    #[test]
    fn refuses_what_the_core_refuses() {
        let c = config(ROUTES);
        for path in [
            "/v1/trips/../secrets/db",
            "/v1/trips/%2e%2e/secrets/db",
            "/v1/trips/./../secrets/db",
            "/v1/trips/..%2Fsecrets",
        ] {
            assert_eq!(
                code(decide_input(&c, &request(path, &[]), 5)),
                Some(Code::RequestInvalid),
                "{path}"
            );
        }
        let mut injected = request("/v1/admin/x", &[]);
        injected.http.authority = "api.example.com/v1/trips/1?".into();
        assert_eq!(
            code(decide_input(&c, &injected, 5)),
            Some(Code::RequestInvalid)
        );
        let twice = request("/v1/trips/1", &[("dpop", b"a"), ("dpop", b"b")]);
        assert_eq!(
            code(decide_input(&c, &twice, 5)),
            Some(Code::RequestHeaderRepeated)
        );
    }

    #[test]
    fn unrouted_requests_are_refused_unless_the_guardrails_decide() -> Result<(), Reason> {
        let p = request("/v1/Secrets/db", &[]);
        assert_eq!(
            code(decide_input(&config(ROUTES), &p, 5)),
            Some(Code::RequestUnrouted)
        );
        let open = ROUTES.replacen('{', r#"{"unrouted":"guardrails","#, 1);
        assert_eq!(decide_input(&config(&open), &p, 5)?.request.action, None);
        Ok(())
    }

    #[test]
    fn trusted_hops_come_from_the_configuration() -> Result<(), Reason> {
        let xff: &[(&str, &[u8])] = &[("x-forwarded-for", b"203.0.113.9, 10.20.0.8")];
        let p = request("/v1/trips/1", xff);
        let none = decide_input(&config(ROUTES), &p, 5)?;
        assert_eq!(none.request.ip.as_deref(), Some("10.20.0.7"));
        let one = config(r#"{"trust_keys":[],"bundle":"b","trusted_hops":1}"#);
        assert_eq!(
            decide_input(&one, &p, 5)?.request.ip.as_deref(),
            Some("10.20.0.8")
        );
        let three = config(r#"{"trust_keys":[],"bundle":"b","trusted_hops":3}"#);
        assert_eq!(
            code(decide_input(&three, &p, 5)),
            Some(Code::RequestInvalid)
        );
        Ok(())
    }

    #[test]
    fn asks_for_a_grant_with_the_request_id_as_jti() -> Result<(), Reason> {
        let c = config(
            r#"{"trust_keys":[],"bundle":"b","grant":{"key":{"kty":"EC"},"aud":"https://api"}}"#,
        );
        let with_id = request("/v1/x", &[("x-request-id", b"r-1")]);
        let ask = decide_input(&c, &with_id, 5)?.mint_grant;
        assert_eq!(
            ask.map(|m| (m.aud, m.ttl, m.jti)),
            Some(("https://api".into(), 30, "r-1".into()))
        );
        assert!(
            decide_input(&c, &request("/v1/x", &[]), 5)?
                .mint_grant
                .is_none()
        );
        Ok(())
    }

    #[test]
    fn decisions_carry_the_binding_reason_and_the_header_id() {
        let pdp = Pdp::load_json(br#"{"trust_keys":[]}"#);
        let c = config(ROUTES);
        let bad = request("/v1/trips/../x", &[("x-request-id", b"r-7")]);
        let d = decide(&pdp, &c, &bad, 9, 0).settle(&ReplayOutcome::Recorded);
        assert!(!d.is_allow());
        assert_eq!(d.decision_id(), "r-7");
        assert_eq!(d.code(), Some(Code::RequestInvalid));
        let good = request("/v1/trips/1", &[]);
        let d = decide(&pdp, &c, &good, 9, 0).settle(&ReplayOutcome::Recorded);
        assert_eq!(d.code(), Some(Code::BundleMissing));
        // No header id: derived from the request, stable for the same request.
        assert_eq!(d.decision_id(), decide(&pdp, &c, &good, 9, 0).decision_id());
        assert_eq!(d.decision_id().len(), 22);
        let long = "x".repeat(129);
        let too_long = request("/v1/trips/1", &[("x-request-id", long.as_bytes())]);
        assert_ne!(decide(&pdp, &c, &too_long, 9, 0).decision_id(), long);
    }
}
