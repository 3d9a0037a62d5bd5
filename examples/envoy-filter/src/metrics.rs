//! Counters in Envoy's stats: `/stats` shows them as `wasmcustom.mandate.*`, summed over workers.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// The filter's counters (`None` where the host refused to define one: counting is best effort).
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    allow: Option<u32>,
    deny: Option<u32>,
    replay: Option<u32>,
    store_error: Option<u32>,
    bundle_loaded: Option<u32>,
    bundle_rejected: Option<u32>,
}

/// What happened, for counting.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A request was forwarded.
    Allow,
    /// A request was answered 403/5xx.
    Deny,
    /// A use-once jti was seen again.
    Replay,
    /// The replay store could not answer.
    StoreError,
    /// A fetched bundle was loaded and now serves.
    BundleLoaded,
    /// A fetched bundle was refused.
    BundleRejected,
}

impl Metrics {
    /// Defines the counters in this VM (the same name gives the same stat in every worker).
    pub fn define() -> Metrics {
        let counter = |name| hostcalls::define_metric(MetricType::Counter, name).ok();
        Metrics {
            allow: counter("mandate.decisions.allow"),
            deny: counter("mandate.decisions.deny"),
            replay: counter("mandate.replay.detected"),
            store_error: counter("mandate.replay.store_errors"),
            bundle_loaded: counter("mandate.bundle.loaded"),
            bundle_rejected: counter("mandate.bundle.rejected"),
        }
    }

    /// Adds one to the event's counter.
    pub fn count(&self, event: Event) {
        let id = match event {
            Event::Allow => self.allow,
            Event::Deny => self.deny,
            Event::Replay => self.replay,
            Event::StoreError => self.store_error,
            Event::BundleLoaded => self.bundle_loaded,
            Event::BundleRejected => self.bundle_rejected,
        };
        if let Some(id) = id {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}
