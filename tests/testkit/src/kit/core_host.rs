//! The reference [`Host`]: `policy_core::Pdp` through its byte API, replay applied the way
//! every host must (decide, then *apply replay* with the store's answer).

use super::corpus::Replay;
use super::host::Host;
use policy_core::jose::Es256Verifier;
use policy_core::{Pdp, json};
use serde_json::Value;

/// A fresh verifier for each load.
type VerifierFactory = Box<dyn Fn() -> Box<dyn Es256Verifier>>;

/// The core as a host; optionally with another signature verifier (`ring`).
pub struct CoreHost {
    name: String,
    verifier: Option<VerifierFactory>,
    pdp: Option<Pdp>,
}

impl core::fmt::Debug for CoreHost {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CoreHost")
            .field("name", &self.name)
            .finish()
    }
}

impl Default for CoreHost {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreHost {
    /// The core with its portable verifier.
    pub fn new() -> CoreHost {
        CoreHost {
            name: "native".into(),
            verifier: None,
            pdp: None,
        }
    }

    /// The core with the verifier `verifier` makes, named `name` in reports.
    pub fn with_verifier(
        name: &str,
        verifier: impl Fn() -> Box<dyn Es256Verifier> + 'static,
    ) -> CoreHost {
        CoreHost {
            name: name.into(),
            verifier: Some(Box::new(verifier)),
            pdp: None,
        }
    }

    fn pdp(&self) -> &Pdp {
        #[allow(clippy::expect_used)] // PANIC SAFETY: run_corpus loads before it decides
        self.pdp.as_ref().expect("load before decide")
    }

    fn replayed(&self, out: Vec<u8>, replay: Option<&Replay>) -> Vec<u8> {
        let Some(r) = replay else { return out };
        let decision: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        let mut req = serde_json::to_value(r).unwrap_or(Value::Null);
        req["decision"] = decision;
        self.pdp()
            .apply_replay_json(json::canonical(&req).as_bytes())
    }
}

impl Host for CoreHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn load(&mut self, config: &[u8]) -> Result<(), String> {
        self.pdp = Some(match &self.verifier {
            None => Pdp::load_json(config),
            Some(v) => Pdp::load_json_with_verifier(config, v()),
        });
        Ok(())
    }

    fn decide(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        let out = self.pdp().decide_json(input);
        self.replayed(out, replay)
    }

    fn decide_http(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        let out = self.pdp().decide_http_json(input);
        self.replayed(out, replay)
    }
}
