//! The service's log: JSON lines on stderr, warnings and errors rate-limited.
//!
//! A line is a `tracing` event (target `mandate::serve`, its `message` and the rendered `line`),
//! written by the [`JsonLines`] layer of the subscriber serve installs (`trace.rs`); inside a
//! traced request it carries `trace_id` and `span_id`, and is an event of that span in the
//! exported trace. Without a subscriber (a library caller) the line is written directly.

use core::time::Duration;

use serde_json::{Value, json};

use crate::out::errln;

/// Silences the service's log lines (the demo and the load run print their own story).
pub static QUIET: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Per message: when its last line was written, and how many were held back since.
static RECENT: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u64)>>,
> = std::sync::LazyLock::new(Default::default);

/// At most one warning or error line per message and code per second: a fault that repeats on every request (an audit
/// log that cannot be written, accept failing) must not flood the log. The next line written
/// for that message says how many were held back (`suppressed`).
fn rate_limited(msg: &str) -> Option<u64> {
    let mut recent = RECENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = std::time::Instant::now();
    match recent.get_mut(msg) {
        Some((last, held)) if now.duration_since(*last) < Duration::from_secs(1) => {
            *held += 1;
            None
        }
        Some((last, held)) => {
            *last = now;
            Some(core::mem::take(held))
        }
        None => {
            if recent.len() >= 1024 {
                recent.clear();
            }
            recent.insert(msg.to_string(), (now, 0));
            Some(0)
        }
    }
}

/// One JSON log line on stderr (warnings and errors rate-limited, see [`rate_limited`]).
pub fn log(level: &str, msg: &str, fields: &Value) {
    if QUIET.load(core::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let suppressed = if level == "info" {
        0
    } else {
        let key = format!("{msg}|{}", fields.get("code").unwrap_or(&Value::Null));
        let Some(n) = rate_limited(&key) else {
            return;
        };
        n
    };
    let mut line = json!({"ts": crate::io::fmt_time(crate::io::now()), "level": level, "msg": msg});
    if let (true, Some(obj)) = (suppressed > 0, line.as_object_mut()) {
        obj.insert("suppressed".into(), Value::from(suppressed));
    }
    if let (Some(obj), Some(extra)) = (line.as_object_mut(), fields.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    if let (Some(obj), Some((trace_id, span_id))) =
        (line.as_object_mut(), super::trace::current_ids())
    {
        obj.insert("trace_id".into(), Value::String(trace_id));
        obj.insert("span_id".into(), Value::String(span_id));
    }
    if !tracing::dispatcher::has_been_set() {
        errln!("{line}");
        return;
    }
    let line = line.to_string();
    match level {
        "error" => tracing::error!(target: "mandate::serve", message = msg, line = %line),
        "warn" => tracing::warn!(target: "mandate::serve", message = msg, line = %line),
        _ => tracing::info!(target: "mandate::serve", message = msg, line = %line),
    }
}

/// The layer that writes serve's log events to stderr: each event's rendered `line`, as is.
/// Events of other targets (libraries' own) are not the service's log and are not written.
#[derive(Debug, Clone, Copy)]
pub struct JsonLines;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for JsonLines {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != "mandate::serve" {
            return;
        }
        let mut visit = LineField(None);
        event.record(&mut visit);
        if let Some(line) = visit.0 {
            errln!("{line}");
        }
    }
}

/// Reads the `line` field of an event.
struct LineField(Option<String>);

impl tracing::field::Visit for LineField {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn core::fmt::Debug) {
        if field.name() == "line" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}
