//! The proxy-wasm contexts: a root context per worker (configuration, bundle polling) and an HTTP
//! context per request (read the request, decide, answer or forward).

use core::time::Duration;
use policy_core::Code;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use policy_core::{Pdp, ReplayOutcome};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MapType};
use serde_json::{Value, json};

use crate::bundle_source::{self, Fetched};
use crate::config::{FilterConfig, HeaderNames};
use crate::metrics::{Event, Metrics};
use crate::replay::{self, EnvoySharedData};
use crate::request::{self, RequestParts};
use crate::response::{Outcome, outcome};

/// What a request is decided with: one configuration and one loaded bundle. Requests hold their
/// own `Rc`, so a bundle swap never changes an in-flight decision.
#[derive(Debug)]
struct Serving {
    config: Rc<FilterConfig>,
    pdp: Pdp,
    /// Since when the replay store (this process's shared data) has remembered every use.
    replay_since: i64,
}

/// One per worker thread (Envoy runs a VM per worker).
#[derive(Debug, Default)]
pub struct MandateRoot {
    serving: Option<Rc<Serving>>,
    etag: Option<String>,
    poll_in_flight: Option<u32>,
    polled_ok: bool,
    metrics: Metrics,
}

impl MandateRoot {
    fn configure(&mut self) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten();
        let config = match FilterConfig::parse(bytes.as_deref().unwrap_or_default()) {
            Ok(config) => Rc::new(config),
            Err(e) => {
                log::error!("mandate: {e}");
                return false;
            }
        };
        let pdp = Pdp::load_json(&config.load_config(config.bundle.as_deref()));
        log::info!(
            "mandate: bundle status {}",
            String::from_utf8_lossy(&pdp.status_json())
        );
        if let Err(e) = replay::ensure_shards(&EnvoySharedData, &config.replay) {
            log::error!("mandate: replay store: {e:?}");
            return false;
        }
        let Some(now) = proxy_now() else {
            log::error!("mandate: the proxy has no clock");
            return false;
        };
        let replay_since = match replay::remembered_since(&EnvoySharedData, &config.replay, now) {
            Ok(since) => since,
            Err(e) => {
                log::error!("mandate: replay store: {e:?}");
                return false;
            }
        };
        self.metrics = Metrics::define();
        let polling = config.bundle_source.is_some();
        self.serving = Some(Rc::new(Serving {
            config,
            pdp,
            replay_since,
        }));
        self.etag = None;
        self.polled_ok = false;
        if polling {
            // Poll every second until the first answer, then at the configured period.
            let _ = hostcalls::set_tick_period(Duration::from_secs(1));
            self.poll();
        }
        true
    }

    fn poll(&mut self) {
        let Some(serving) = &self.serving else { return };
        let Some(source) = &serving.config.bundle_source else {
            return;
        };
        if self.poll_in_flight.is_some() {
            return;
        }
        let headers = bundle_source::poll_headers(source, self.etag.as_deref());
        let timeout = Duration::from_millis(source.timeout_ms);
        match hostcalls::dispatch_http_call(&source.cluster, headers, None, vec![], timeout) {
            Ok(token) => self.poll_in_flight = Some(token),
            Err(status) => log::warn!(
                "mandate: bundle poll to cluster {} failed: {status:?}",
                source.cluster
            ),
        }
    }

    fn on_poll_response(&mut self, body_size: usize) {
        let Some(serving) = self.serving.clone() else {
            return;
        };
        let header = |name| {
            hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, name)
                .ok()
                .flatten()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let status = header(":status");
        let etag = header("etag");
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten();
        let fetched = bundle_source::on_response(
            &serving.config,
            &serving.pdp,
            proxy_now().unwrap_or(u64::MAX),
            status.as_deref(),
            etag,
            body.as_deref().unwrap_or_default(),
        );
        match fetched {
            Fetched::Loaded { pdp, etag, status } => {
                log::info!("mandate: serving fetched bundle {status}");
                self.metrics.count(Event::BundleLoaded);
                self.serving = Some(Rc::new(Serving {
                    config: serving.config.clone(),
                    pdp: *pdp,
                    replay_since: serving.replay_since,
                }));
                self.etag = etag;
                self.mark_polled(&serving.config);
            }
            Fetched::Unchanged => self.mark_polled(&serving.config),
            Fetched::Rejected { why, etag, .. } => {
                log::warn!("mandate: {why}; the serving bundle stays");
                self.metrics.count(Event::BundleRejected);
                if etag.is_some() {
                    self.etag = etag;
                }
            }
        }
    }

    fn mark_polled(&mut self, config: &FilterConfig) {
        if !self.polled_ok
            && let Some(source) = &config.bundle_source
        {
            self.polled_ok = true;
            let _ = hostcalls::set_tick_period(Duration::from_secs(source.refresh_seconds));
        }
    }
}

impl Context for MandateRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        if self.poll_in_flight == Some(token_id) {
            self.poll_in_flight = None;
            self.on_poll_response(body_size);
        }
    }
}

impl RootContext for MandateRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        self.configure()
    }

    fn on_tick(&mut self) {
        self.poll();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(MandateHttp {
            serving: self.serving.clone(),
            metrics: self.metrics,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One per request.
#[derive(Debug)]
struct MandateHttp {
    serving: Option<Rc<Serving>>,
    metrics: Metrics,
}

/// The request's IP:port as Envoy sees it (after its own `x-forwarded-for` handling).
fn source_address() -> Option<String> {
    let bytes = hostcalls::get_property(vec!["source", "address"])
        .ok()
        .flatten()?;
    String::from_utf8(bytes).ok()
}

/// Seconds since the Unix epoch, from the proxy's clock.
fn proxy_now() -> Option<u64> {
    let time = hostcalls::get_current_time().ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// A deny the filter answers itself (no decision could be made), with a core reason code.
fn host_deny(names: &HeaderNames, status: u32, code: Code, message: &str) -> Outcome {
    let decision = json!({"decision": "deny", "reasons": [{"code": code, "message": message}]});
    match outcome(decision.to_string().as_bytes(), names, None) {
        Outcome::Deny { headers, body, .. } => Outcome::Deny {
            status,
            headers,
            body,
        },
        allow => allow,
    }
}

impl MandateHttp {
    fn read_request(config: &FilterConfig) -> RequestParts {
        // Bytes, never `String`s: the SDK's string getters panic on a value that is not UTF-8,
        // which would let one request take the filter down.
        let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        RequestParts::from_headers(
            &headers,
            source_address(),
            config.decision_id_header.as_deref(),
        )
    }

    /// Decides, then applies the replay store to an allow.
    fn decide(serving: &Serving, parts: &RequestParts, now: u64, metrics: Metrics) -> Outcome {
        let config = &serving.config;
        let Ok(decide_now) = i64::try_from(now) else {
            return host_deny(
                &config.headers,
                500,
                Code::InternalError,
                "proxy clock out of range",
            );
        };
        let pending = request::decide(
            &serving.pdp,
            config,
            parts,
            decide_now,
            serving.replay_since,
        );
        let decision = pending.to_unsettled_json();
        if config.audit_log {
            log_audit(&decision);
        }
        let grant_header = config.grant.as_ref().map(|g| g.header.as_str());
        let first = outcome(&decision, &config.headers, grant_header);
        let Outcome::Allow { use_once, .. } = &first else {
            return first;
        };
        let (answer, store_error) =
            match replay::record_all(&EnvoySharedData, &config.replay, use_once, now) {
                Ok(replayed) if replayed.is_empty() => return first,
                Ok(replayed) => {
                    metrics.count(Event::Replay);
                    (ReplayOutcome::Replayed(replayed), false)
                }
                Err(e) => {
                    log::warn!("mandate: replay store: {e:?}; deciding fail-closed");
                    metrics.count(Event::StoreError);
                    (ReplayOutcome::StoreUnavailable, true)
                }
            };
        // The core turns the allow into a deny (`replay.detected` or `replay.store_unavailable`).
        let replay_decision = pending.settle(&answer).to_json();
        if config.audit_log {
            log_audit(&replay_decision);
        }
        match outcome(&replay_decision, &config.headers, grant_header) {
            // apply_replay never allows a replayed jti; should it ever, fail closed.
            Outcome::Allow { .. } => host_deny(
                &config.headers,
                403,
                Code::ReplayDetected,
                "use-once jti already used",
            ),
            Outcome::Deny { headers, body, .. } if store_error => Outcome::Deny {
                status: 503,
                headers,
                body,
            },
            deny => deny,
        }
    }

    fn forward(config: &FilterConfig, headers: &[(String, String)]) {
        if config.strip_credentials {
            for name in ["authorization", "dpop", "mandate-chain"] {
                let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name);
            }
        }
        for (name, value) in headers {
            let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
        }
    }
}

fn log_audit(decision: &[u8]) {
    if let Ok(decision) = serde_json::from_slice::<Value>(decision)
        && let Some(audit) = decision.get("audit")
    {
        log::info!("mandate audit {audit}");
    }
}

impl Context for MandateHttp {}

impl HttpContext for MandateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(serving) = self.serving.clone() else {
            return respond(host_deny(
                &HeaderNames::default(),
                500,
                Code::InternalError,
                "filter not configured",
            ));
        };
        let config = &serving.config;
        // The principal (and grant) headers belong to this filter: a client never gets to set them.
        for name in config.owned_headers() {
            let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name);
        }
        let outcome = match proxy_now() {
            Some(now) => Self::decide(&serving, &Self::read_request(config), now, self.metrics),
            None => host_deny(
                &config.headers,
                500,
                Code::InternalError,
                "proxy clock unavailable",
            ),
        };
        match outcome {
            Outcome::Allow { headers, .. } => {
                self.metrics.count(Event::Allow);
                Self::forward(config, &headers);
                Action::Continue
            }
            deny => {
                self.metrics.count(Event::Deny);
                respond(deny)
            }
        }
    }
}

/// Answers the client directly and stops the request.
fn respond(outcome: Outcome) -> Action {
    if let Outcome::Deny {
        status,
        headers,
        body,
    } = outcome
    {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        if let Err(e) = hostcalls::send_http_response(status, headers, Some(&body)) {
            log::error!("mandate: could not answer a denied request: {e:?}");
            let _ = hostcalls::reset_http_request();
        }
    }
    Action::Pause
}
