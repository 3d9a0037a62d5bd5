//! HTTP request -> the core's decide input (docs/formats.md). Pure: no proxy calls here.

use serde_json::{Map, Value};

use crate::config::{FilterConfig, route_for};

/// What the filter reads from one request.
#[derive(Debug, Default, Clone)]
pub struct RequestParts {
    /// `:method`.
    pub method: String,
    /// `:scheme` (set `scheme_header_transformation` in Envoy when TLS ends before it).
    pub scheme: String,
    /// `:authority`.
    pub authority: String,
    /// `:path`, with its query.
    pub path: String,
    /// The property `source.address` (`ip:port`).
    pub source_address: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `DPoP`.
    pub dpop: Option<String>,
    /// `Mandate-Chain`: ancestor tokens, root first, space-separated.
    pub chain: Option<String>,
    /// The value of the configured decision id header.
    pub decision_id: Option<String>,
    /// `x-request-id` (Envoy's per-request UUID): the `jti` of a minted grant.
    pub request_id: Option<String>,
}

impl RequestParts {
    /// Reads a request from its header pairs (as Envoy hands them over: names lower-case, values
    /// as raw bytes) and the `source.address` property.
    ///
    /// Values are taken as bytes and decoded lossily, so a header that is not UTF-8 becomes a
    /// credential or URI the core refuses, never a panic in the filter. A credential header sent
    /// more than once is passed on with its values joined, so the core refuses it too (RFC 9449
    /// allows one `DPoP` header).
    pub fn from_headers(
        headers: &[(String, Vec<u8>)],
        source_address: Option<String>,
        decision_id_header: Option<&str>,
    ) -> Self {
        let first = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let all = |name: &str| {
            let values: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        RequestParts {
            method: first(":method").unwrap_or_default(),
            scheme: first(":scheme").unwrap_or_default(),
            authority: first(":authority").unwrap_or_default(),
            path: first(":path").unwrap_or_default(),
            source_address,
            authorization: all("authorization"),
            dpop: all("dpop"),
            chain: all("mandate-chain"),
            decision_id: decision_id_header.and_then(first),
            request_id: first("x-request-id"),
        }
    }
}

/// The credentials a request carries, as the core expects them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Root first; the last one is the token presented with the proof.
    pub delegation: Vec<String>,
    /// The DPoP proof.
    pub proof: Option<String>,
    /// An ephemeral grant.
    pub grant: Option<String>,
}

/// Splits `Authorization: <scheme> <value>`, the scheme compared case-insensitively (RFC 9110).
fn authorization_value<'a>(authorization: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, value) = authorization.trim().split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then(|| value.trim())
}

/// Reads `Authorization: DPoP`, `DPoP`, `Mandate-Chain` and `Authorization: Mandate-Grant`.
///
/// Anything else (another scheme, a chain without a token) is left out, so the core, not the
/// filter, names what is missing.
pub fn credentials(parts: &RequestParts) -> Credentials {
    let mut creds = Credentials::default();
    let authorization = parts.authorization.as_deref().unwrap_or("");
    if let Some(grant) = authorization_value(authorization, "Mandate-Grant") {
        creds.grant = Some(grant.to_owned());
    }
    // Ancestors only mean something below a presented token; a lone chain is no credential.
    if let Some(token) = authorization_value(authorization, "DPoP") {
        if let Some(chain) = &parts.chain {
            creds
                .delegation
                .extend(chain.split_ascii_whitespace().map(str::to_owned));
        }
        creds.delegation.push(token.to_owned());
    }
    creds.proof = parts.dpop.as_deref().map(|p| p.trim().to_owned());
    creds
}

/// The IP of `source.address` (`1.2.3.4:5678`, `[::1]:5678`), without the port.
pub fn source_ip(address: &str) -> String {
    match address.parse::<core::net::SocketAddr>() {
        Ok(socket) => socket.ip().to_string(),
        Err(_) => address.to_owned(),
    }
}

/// Builds the decide input for one request at `now` (Unix seconds, from the proxy's clock).
pub fn decide_input(config: &FilterConfig, parts: &RequestParts, now: u64) -> Vec<u8> {
    let mut request = Map::new();
    request.insert("method".into(), parts.method.clone().into());
    let uri = format!("{}://{}{}", parts.scheme, parts.authority, parts.path);
    request.insert("uri".into(), uri.into());
    if let Some(address) = &parts.source_address {
        request.insert("ip".into(), source_ip(address).into());
    }
    if let Some((action, resource)) = route_for(&config.routes, &parts.method, &parts.path) {
        request.insert("action".into(), action.into());
        if let Some(resource) = resource {
            request.insert("resource".into(), resource.into());
        }
    }

    let creds = credentials(parts);
    let mut credentials = Map::new();
    if !creds.delegation.is_empty() {
        credentials.insert("delegation".into(), creds.delegation.into());
    }
    if let Some(proof) = creds.proof {
        credentials.insert("proof".into(), proof.into());
    }
    if let Some(grant) = creds.grant {
        credentials.insert("grant".into(), grant.into());
    }

    let mut input = Map::new();
    input.insert("now".into(), now.into());
    // The core takes 1 to 128 bytes; anything else (a client's own request id) is left out and
    // the core derives the id from the input.
    if let Some(id) = parts
        .decision_id
        .as_ref()
        .filter(|id| (1..=128).contains(&id.len()))
    {
        input.insert("decision_id".into(), id.clone().into());
    }
    input.insert("request".into(), Value::Object(request));
    input.insert("credentials".into(), Value::Object(credentials));
    if let Some(context) = &config.context {
        input.insert("context".into(), context.clone());
    }
    // Without a request id there is no fresh jti, so no grant is asked for (the upstream, which
    // expects one, then refuses the request).
    if let (Some(grant), Some(jti)) = (&config.grant, &parts.request_id) {
        let ask = serde_json::json!({"aud": grant.aud, "ttl": grant.ttl, "jti": jti});
        input.insert("mint_grant".into(), ask);
    }
    serde_json::to_vec(&Value::Object(input)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> RequestParts {
        RequestParts {
            method: "GET".into(),
            scheme: "https".into(),
            authority: "api.example.com".into(),
            path: "/v1/secrets/db?version=2".into(),
            source_address: Some("10.20.0.7:40000".into()),
            ..RequestParts::default()
        }
    }

    #[test]
    fn reads_dpop_token_chain_and_proof() {
        let p = RequestParts {
            authorization: Some("dpop  hop1 ".into()),
            dpop: Some("proof".into()),
            chain: Some("root  mid".into()),
            ..parts()
        };
        let c = credentials(&p);
        assert_eq!(c.delegation, vec!["root", "mid", "hop1"]);
        assert_eq!(c.proof.as_deref(), Some("proof"));
        assert_eq!(c.grant, None);
    }

    #[test]
    fn reads_grant_and_ignores_other_schemes() {
        let grant = credentials(&RequestParts {
            authorization: Some("Mandate-Grant g".into()),
            ..parts()
        });
        assert_eq!(grant.grant.as_deref(), Some("g"));
        assert!(grant.delegation.is_empty());
        let bearer = credentials(&RequestParts {
            authorization: Some("Bearer t".into()),
            ..parts()
        });
        assert_eq!(bearer, Credentials::default());
    }

    #[test]
    fn reads_headers_as_bytes_and_joins_repeated_credentials() {
        let pairs: Vec<(String, Vec<u8>)> = [
            (":method", &b"GET"[..]),
            (":scheme", b"https"),
            (":authority", b"api.example.com"),
            (":path", b"/v1/x"),
            ("authorization", b"DPoP \xff\xfe"),
            ("dpop", b"p1"),
            ("dpop", b"p2"),
            ("x-request-id", b"r-1"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
        .collect();
        let p = RequestParts::from_headers(&pairs, Some("10.0.0.1:1".into()), Some("x-request-id"));
        assert_eq!(p.method, "GET");
        assert_eq!(p.authority, "api.example.com");
        assert_eq!(p.authorization.as_deref(), Some("DPoP \u{fffd}\u{fffd}"));
        assert_eq!(p.dpop.as_deref(), Some("p1, p2"));
        assert_eq!(p.chain, None);
        assert_eq!(p.decision_id.as_deref(), Some("r-1"));
        assert_eq!(p.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn strips_ports_from_source_addresses() {
        assert_eq!(source_ip("10.20.0.7:40000"), "10.20.0.7");
        assert_eq!(source_ip("[::1]:8080"), "::1");
        assert_eq!(source_ip("unix:/x"), "unix:/x");
    }

    #[test]
    fn asks_for_a_grant_with_the_request_id_as_jti() -> Result<(), serde_json::Error> {
        let config = crate::config::FilterConfig::parse(
            br#"{"trust_keys":[],"bundle":"b","grant":{"key":{"kty":"EC"},"aud":"https://api"}}"#,
        )
        .map_err(|_| serde::de::Error::custom("config"))?;
        let with_id = RequestParts {
            request_id: Some("r-1".into()),
            ..parts()
        };
        let input: Value = serde_json::from_slice(&decide_input(&config, &with_id, 5))?;
        assert_eq!(
            input.get("mint_grant"),
            Some(&serde_json::json!({"aud": "https://api", "ttl": 30, "jti": "r-1"}))
        );
        let input: Value = serde_json::from_slice(&decide_input(&config, &parts(), 5))?;
        assert_eq!(input.get("mint_grant"), None);
        Ok(())
    }

    #[test]
    fn builds_the_documented_input() -> Result<(), serde_json::Error> {
        let config = crate::config::FilterConfig::parse(
            br#"{"trust_keys":[],"bundle":"b","context":{"env":"test"}}"#,
        )
        .map_err(|_| serde::de::Error::custom("config"))?;
        let p = RequestParts {
            authorization: Some("DPoP t".into()),
            dpop: Some("p".into()),
            ..parts()
        };
        let input: Value = serde_json::from_slice(&decide_input(&config, &p, 1_767_225_600))?;
        assert_eq!(
            input,
            serde_json::json!({
                "now": 1_767_225_600u64,
                "request": {"method": "GET", "uri": "https://api.example.com/v1/secrets/db?version=2", "ip": "10.20.0.7"},
                "credentials": {"delegation": ["t"], "proof": "p"},
                "context": {"env": "test"}
            })
        );
        Ok(())
    }
}
