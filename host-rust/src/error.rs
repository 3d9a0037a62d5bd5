//! The SDK's error type. Every variant maps to a stable code ([`HostError::code`]) that crosses
//! host boundaries (HTTP bodies, CLI exit reports); messages are for people.

use policy_core::reason::Code;

use crate::audit::AuditError;
use crate::replay::ReplayError;

/// Anything the SDK can fail at. Decisions themselves never fail: a failure while deciding
/// becomes a deny with one of these codes (see [`crate::Decider::decide`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// A load config did not load; the engine that was serving still serves. `code` is the
    /// core's `bundle.*` code.
    #[error("{code}: {message}")]
    Load {
        /// The core's stable code, e.g. [`Code::BundleSignatureInvalid`].
        code: Code,
        /// What went wrong, for people.
        message: String,
    },
    /// The wasm module could not be compiled, instantiated, or does not speak this ABI.
    #[error("{code}: {0}", code = Code::HostModuleInvalid)]
    Module(String),
    /// The module ran out of fuel or memory (the host's bounds on one call).
    #[error("{code}: {0}", code = Code::HostLimitExceeded)]
    LimitExceeded(String),
    /// The module trapped for another reason, or answered something that is not the ABI's.
    #[error("{code}: {0}", code = Code::InternalError)]
    Trap(String),
    /// The replay store failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Minting a token failed; `code` is the core's mint error code.
    #[error("{code}: {message}")]
    Mint {
        /// The core's stable code.
        code: Code,
        /// What went wrong, for people.
        message: String,
    },
    /// The host's randomness source failed (key generation).
    #[error("{code}: {0}", code = Code::HostRandomUnavailable)]
    Random(String),
    /// Reading or writing a file (module, module cache).
    #[error("{code}: {0}", code = Code::HostIo)]
    Io(#[from] std::io::Error),
}

impl HostError {
    /// The stable code of this error.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            HostError::Load { code, .. } | HostError::Mint { code, .. } => *code,
            HostError::Module(_) => Code::HostModuleInvalid,
            HostError::LimitExceeded(_) => Code::HostLimitExceeded,
            HostError::Trap(_) => Code::InternalError,
            HostError::Replay(e) => e.code(),
            HostError::Audit(e) => e.code(),
            HostError::Random(_) => Code::HostRandomUnavailable,
            HostError::Io(_) => Code::HostIo,
        }
    }
}
