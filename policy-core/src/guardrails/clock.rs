//! With `std`, guardrail evaluation gets a wall-clock bound (regorus's cooperative timer).
//! Without it (the wasm module), the host bounds evaluation with fuel or epochs instead.

extern crate std;

use core::num::NonZeroU32;
use core::time::Duration;
use regorus::utils::limits::{ExecutionTimerConfig, TimeSource};
use std::sync::OnceLock;
use std::time::Instant;

/// The longest a guardrail evaluation may run natively.
pub const POLICY_TIME_LIMIT: Duration = Duration::from_millis(100);

struct Monotonic(Instant);

impl TimeSource for Monotonic {
    fn now(&self) -> Option<Duration> {
        Some(self.0.elapsed())
    }
}

static CLOCK: OnceLock<Monotonic> = OnceLock::new();

pub(crate) fn install(engine: &mut regorus::Engine) {
    let clock: &'static Monotonic = CLOCK.get_or_init(|| Monotonic(Instant::now()));
    // Already set by an earlier bundle load: the same clock, nothing to do.
    let _ = regorus::utils::limits::set_time_source(clock);
    if let Some(interval) = NonZeroU32::new(64) {
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: POLICY_TIME_LIMIT,
            check_interval: interval,
        });
    }
}
