//! The filter's plugin configuration (the JSON in Envoy's `plugin_config.configuration`).
//!
//! Parsed strictly (`deny_unknown_fields`): a typo in a security option must stop Envoy from
//! accepting the filter, not silently fall back to a default.

use policy_core::http::{Binding, Route, Unrouted};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Everything the operator configures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// The signed bundle (compact JWS), served until `bundle_source` delivers a newer one.
    #[serde(default)]
    pub bundle: Option<String>,
    /// The bundle keys this decision point trusts (public JWKs with `kid`).
    pub trust_keys: Vec<Value>,
    /// This decision point's audiences (the core's load option): tokens and grants must name one.
    /// Absent, they must name the origin of the request (`scheme://host[:port]`).
    #[serde(default)]
    pub audiences: Option<Vec<String>>,
    /// Where to fetch bundle updates from, if anywhere.
    #[serde(default)]
    pub bundle_source: Option<BundleSource>,
    /// Remove `Authorization`, `DPoP` and `Mandate-Chain` before the request goes upstream.
    #[serde(default = "default_true")]
    pub strip_credentials: bool,
    /// Names of the headers the filter writes.
    #[serde(default)]
    pub headers: HeaderNames,
    /// Maps requests to the decide input's `action` and `resource`; first match wins. Each rule
    /// is the core's [`Route`] (`policy_core::http`), matched by the core on the normalized path.
    #[serde(default)]
    pub routes: Vec<RouteRule>,
    /// How many proxies in front of this Envoy each append to `X-Forwarded-For`: 0 (default)
    /// takes the client address from `source.address`; N takes the Nth entry from the right of
    /// `X-Forwarded-For` as the filter sees it (the core's rule, the same in every host).
    #[serde(default)]
    pub trusted_hops: u8,
    /// A request no route matches, when there are routes: `"deny"` (the default,
    /// `request.unrouted`: a path the routes did not foresee is never decided without a scope
    /// check) or `"guardrails"` (it names no action; the guardrails alone decide it).
    #[serde(default)]
    pub unrouted: Unrouted,
    /// Static JSON handed to guardrails as `input.context` (e.g. the cluster or environment name).
    #[serde(default)]
    pub context: Option<Value>,
    /// A request header whose value becomes the decision id (Envoy's `x-request-id` by default, so
    /// audit records join Envoy's access log). `null` lets the core derive the id from the input.
    #[serde(default = "default_decision_id_header")]
    pub decision_id_header: Option<String>,
    /// Replay store tuning.
    #[serde(default)]
    pub replay: ReplayConfig,
    /// Log each decision's audit record through Envoy's log (info level, `wasm` logger).
    #[serde(default)]
    pub audit_log: bool,
    /// Mint an ephemeral grant on every allow and forward it to the upstream.
    #[serde(default)]
    pub grant: Option<GrantConfig>,
    /// `routes` and `trusted_hops` as the core's binding, built by [`FilterConfig::parse`].
    #[serde(skip)]
    pub binding: Binding,
}

/// Ephemeral grants for the upstream: after an allow the core mints a short-lived grant bound to
/// this request, which the resource server verifies offline with the same core.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// This decision point's private signing key (JWK with `kid`); its public half must be a
    /// `mandate-grant+jwt` issuer in the bundle.
    pub key: Value,
    /// The grant's audience: the upstream resource server.
    pub aud: String,
    /// Requested lifetime in seconds (the bundle's `grant_max_ttl` and a `max_ttl` obligation cap it).
    #[serde(default = "default_grant_ttl")]
    pub ttl: u64,
    /// The request header the grant is forwarded in.
    #[serde(default = "default_grant_header")]
    pub header: String,
}

/// An HTTP source of bundle updates, polled through an Envoy cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSource {
    /// The Envoy cluster that serves the bundle.
    pub cluster: String,
    /// The request path, e.g. `/bundles/current.jws`.
    pub path: String,
    /// The `:authority` sent; defaults to the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// Seconds between polls once a bundle has been fetched.
    #[serde(default = "default_refresh_seconds")]
    pub refresh_seconds: u64,
    /// Timeout of one poll, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// Header names the filter writes towards the upstream (principal) and the client (deny reason).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeaderNames {
    /// The acting agent's id.
    pub agent: String,
    /// The person the agent acts for.
    pub user: String,
    /// The delegation chain's agents, root first, space-separated.
    pub chain: String,
    /// The decision id (joins the audit record).
    pub decision_id: String,
    /// On a deny, the first reason code.
    pub reason: String,
}

impl Default for HeaderNames {
    fn default() -> Self {
        HeaderNames {
            agent: "x-mandate-agent".into(),
            user: "x-mandate-user".into(),
            chain: "x-mandate-chain".into(),
            decision_id: "x-mandate-decision-id".into(),
            reason: "x-mandate-reason".into(),
        }
    }
}

impl HeaderNames {
    /// The principal headers: the filter owns them towards the upstream.
    pub fn principal(&self) -> [&str; 4] {
        [&self.agent, &self.user, &self.chain, &self.decision_id]
    }
}

/// One route rule: the core's [`Route`], written either as its object
/// `{"method": "GET", "path": "/v1/secrets/*", "action": "secrets:read", "resource": "secret/db"}`
/// or as its string form `"GET /v1/secrets/* secrets:read secret/db"`. `method` may be `*`; the
/// path is a glob (`*` matches any run of characters, `/` included) over the normalized path.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteRule {
    /// `"METHOD PATH-GLOB ACTION [RESOURCE]"`.
    Text(String),
    /// The core's [`Route`] fields.
    Object(Value),
}

impl RouteRule {
    /// The core's route, or why this rule is not one.
    fn route(&self) -> Result<Route, String> {
        let route = match self {
            RouteRule::Text(text) => text.parse::<Route>()?,
            RouteRule::Object(value) => {
                if value.get("path_prefix").is_some() {
                    return Err("routes take {method, path, action, resource} (the core's \
                                binding, a glob such as /v1/secrets/*), not path_prefix"
                        .into());
                }
                Route::deserialize(value).map_err(|e| format!("route: {e}"))?
            }
        };
        if !route.path.starts_with('/') || route.method.is_empty() || route.action.is_empty() {
            return Err(format!(
                "route {} {} {}: needs a method (or *), a path glob starting with / and an action",
                route.method, route.path, route.action
            ));
        }
        Ok(route)
    }
}

/// How use-once `jti`s are kept in Envoy's shared data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// Number of shared-data keys the `jti`s are spread over (each is updated with CAS).
    pub shards: u32,
    /// Prefix of those keys; filters sharing a `vm_id` and a prefix share one replay store.
    pub key_prefix: String,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            shards: 256,
            key_prefix: "mandate.replay.".into(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_decision_id_header() -> Option<String> {
    Some("x-request-id".into())
}

fn default_grant_ttl() -> u64 {
    30
}

fn default_grant_header() -> String {
    "x-mandate-grant".into()
}

fn default_refresh_seconds() -> u64 {
    30
}

fn default_timeout_ms() -> u64 {
    5000
}

/// Why a plugin configuration was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// Not JSON of the documented shape.
    Json(serde_json::Error),
    /// A value is out of range.
    Invalid(&'static str),
    /// A route rule is not one the core can match.
    Route(String),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Json(e) => write!(f, "plugin configuration: {e}"),
            ConfigError::Invalid(what) => write!(f, "plugin configuration: {what}"),
            ConfigError::Route(why) => write!(f, "plugin configuration: {why}"),
        }
    }
}

impl FilterConfig {
    /// Every header the filter writes towards the upstream: always removed from incoming requests
    /// so a client can never forge them.
    pub fn owned_headers(&self) -> Vec<&str> {
        let mut names = self.headers.principal().to_vec();
        if let Some(grant) = &self.grant {
            names.push(&grant.header);
        }
        names
    }

    /// Parses and checks the plugin configuration.
    pub fn parse(bytes: &[u8]) -> Result<FilterConfig, ConfigError> {
        let mut config: FilterConfig = serde_json::from_slice(bytes).map_err(ConfigError::Json)?;
        if config.bundle.is_none() && config.bundle_source.is_none() {
            return Err(ConfigError::Invalid(
                "set `bundle`, `bundle_source`, or both",
            ));
        }
        if config.replay.shards == 0 {
            return Err(ConfigError::Invalid("`replay.shards` must be at least 1"));
        }
        if let Some(source) = &config.bundle_source
            && (source.refresh_seconds == 0 || source.timeout_ms == 0)
        {
            return Err(ConfigError::Invalid(
                "`bundle_source` periods must be positive",
            ));
        }
        if config
            .grant
            .as_ref()
            .is_some_and(|g| !g.key.is_object() || g.aud.is_empty() || g.ttl == 0)
        {
            return Err(ConfigError::Invalid(
                "`grant` needs a private JWK `key`, an `aud` and a positive `ttl`",
            ));
        }
        if config
            .audiences
            .as_ref()
            .is_some_and(|a| a.is_empty() || a.iter().any(String::is_empty))
        {
            return Err(ConfigError::Invalid(
                "`audiences` must list at least one non-empty audience",
            ));
        }
        if config.context.as_ref().is_some_and(|c| !c.is_object()) {
            return Err(ConfigError::Invalid("`context` must be a JSON object"));
        }
        let routes = config
            .routes
            .iter()
            .map(RouteRule::route)
            .collect::<Result<Vec<Route>, String>>()
            .map_err(ConfigError::Route)?;
        config.binding = Binding {
            routes,
            trusted_hops: config.trusted_hops,
            unrouted: config.unrouted,
        };
        Ok(config)
    }

    /// The core's load config for `bundle` (docs/formats.md); no bundle yields a config the core
    /// answers with `bundle.missing`, which is the fail-closed state before the first fetch.
    pub fn load_config(&self, bundle: Option<&str>) -> Vec<u8> {
        let mut load = Map::new();
        if let Some(bundle) = bundle {
            load.insert("bundle".into(), Value::String(bundle.into()));
        }
        load.insert("trust_keys".into(), Value::Array(self.trust_keys.clone()));
        if let Some(audiences) = &self.audiences {
            let audiences = audiences.iter().cloned().map(Value::String).collect();
            load.insert("audiences".into(), Value::Array(audiences));
        }
        if let Some(grant) = &self.grant {
            load.insert("grant_key".into(), grant.key.clone());
        }
        serde_json::to_vec(&Value::Object(load)).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_fields_and_missing_bundle() {
        assert!(FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x","strip":true}"#).is_err());
        assert!(FilterConfig::parse(br#"{"trust_keys":[]}"#).is_err());
        let ok = FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x"}"#);
        assert!(ok.is_ok_and(|c| c.strip_credentials && c.headers.agent == "x-mandate-agent"));
    }

    #[test]
    fn routes_become_the_cores_routes() {
        let config = FilterConfig::parse(
            br#"{"trust_keys":[],"bundle":"x","trusted_hops":1,"routes":[
                "GET /v1/secrets/* secrets:read secret/db",
                {"method":"POST","path":"/v1/trips","action":"trips:book"}]}"#,
        );
        let Ok(config) = config else {
            unreachable!("a valid configuration must parse: {config:?}");
        };
        assert_eq!(config.binding.trusted_hops, 1);
        let routes = &config.binding.routes;
        assert_eq!(routes.len(), 2);
        assert!(
            routes
                .first()
                .is_some_and(|r| r.matches("GET", "/v1/secrets/db")
                    && r.resource.as_deref() == Some("secret/db"))
        );
        assert!(
            routes
                .get(1)
                .is_some_and(|r| r.matches("POST", "/v1/trips"))
        );
        let defaults = FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x"}"#);
        assert!(defaults.is_ok_and(|c| c.binding.trusted_hops == 0
            && c.binding.routes.is_empty()
            && c.binding.unrouted == Unrouted::Deny));
        let open =
            FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x","unrouted":"guardrails"}"#);
        assert!(open.is_ok_and(|c| c.binding.unrouted == Unrouted::Guardrails));
        assert!(
            FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x","unrouted":"allow"}"#).is_err()
        );
    }

    #[test]
    fn refuses_routes_the_core_cannot_match() {
        for routes in [
            r#"[{"path_prefix":"/v1/","action":"a"}]"#,
            r#"["GET v1/x a"]"#,
            r#"["GET /v1/x"]"#,
            r#"[{"method":"GET","path":"v1","action":"a"}]"#,
            r#"[{"method":"GET","path":"/v1","action":"a","extra":1}]"#,
            r#"[{"method":"","path":"/v1","action":"a"}]"#,
            r#"[7]"#,
        ] {
            let json = format!(r#"{{"trust_keys":[],"bundle":"x","routes":{routes}}}"#);
            assert!(FilterConfig::parse(json.as_bytes()).is_err(), "{routes}");
        }
        assert!(
            FilterConfig::parse(br#"{"trust_keys":[],"bundle":"x","trusted_hops":300}"#).is_err()
        );
    }
}
