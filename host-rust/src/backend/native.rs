//! The native backend: the core linked into this process.

use policy_core::jose::{Es256Verifier, P256Verifier};
use policy_core::{DecideInput, HttpDecideInput, Pdp, Pending};

/// One loaded native engine. `Pdp` is `Send + Sync` and decides through `&self`, so one engine
/// serves every thread at once.
pub(crate) struct NativeEngine {
    pdp: Pdp,
}

impl NativeEngine {
    pub(crate) fn load(config: &[u8], verifier: super::Verifier) -> (NativeEngine, Vec<u8>) {
        let verifier: Box<dyn Es256Verifier> = match verifier {
            super::Verifier::Portable => Box::new(P256Verifier),
            #[cfg(feature = "ring")]
            super::Verifier::Ring => Box::new(crate::verifier::RingVerifier),
        };
        let pdp = Pdp::load_json_with_verifier(config, verifier);
        let status = pdp.status_json();
        (NativeEngine { pdp }, status)
    }

    /// Decides typed: the answer is the core's [`Pending`], settled by the decider without a
    /// JSON round trip.
    pub(crate) fn decide(&self, input: &[u8]) -> Pending {
        self.pdp.decide_document(input)
    }

    pub(crate) fn decide_http(&self, input: &[u8]) -> Pending {
        self.pdp.decide_http_document(input)
    }

    pub(crate) fn decide_input(&self, input: &DecideInput) -> Pending {
        self.pdp.decide(input)
    }

    pub(crate) fn decide_http_input(&self, input: &HttpDecideInput) -> Pending {
        self.pdp.decide_http(input)
    }

    pub(crate) fn apply_replay(&self, input: &[u8]) -> Vec<u8> {
        self.pdp.apply_replay_json(input)
    }
}
