//! The CLI's errors: one line for people (what is wrong, and how to fix it), a stable code for
//! machines (a [`Code`] of the one table, docs/reason-codes.md), and a distinct exit code per kind
//! of failure (documented in cli/README.md).

use core::fmt;

use policy_core::reason::Code;

/// Exit codes. `0` is success (and `allow` for `decide`); clap exits with `2` on usage errors.
pub mod exit {
    /// Success; for `decide`, the decision is allow.
    pub const OK: u8 = 0;
    /// An unexpected failure (I/O while serving, a port that cannot be bound, …).
    pub const FAILURE: u8 = 1;
    /// The command line is wrong (clap exits with it itself; listed to keep every code here).
    #[allow(dead_code, reason = "clap exits with this code on its own")]
    pub const USAGE: u8 = 2;
    /// `decide`: the decision is deny.
    pub const DENY: u8 = 3;
    /// A file or URL that was named cannot be read.
    pub const NOT_FOUND: u8 = 4;
    /// Input that was read is not valid: malformed YAML/JSON, a key of the wrong curve, an
    /// unknown agent, a malformed token.
    pub const INVALID: u8 = 5;
    /// A bundle was refused: bad signature, untrusted key, expired, not yet valid, bad policy.
    pub const BUNDLE: u8 = 6;
    /// An audit log does not verify.
    pub const AUDIT: u8 = 7;
    /// `test`: a policy test case failed.
    pub const TEST_FAILED: u8 = 8;
}

/// What kind of failure, which picks the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unexpected.
    Failure,
    /// A file that cannot be read.
    NotFound,
    /// Invalid input.
    Invalid,
    /// A refused bundle.
    Bundle,
    /// An audit log that does not verify.
    Audit,
}

/// One error: a stable code, a message saying what is wrong, and a hint saying how to fix it.
#[derive(Debug)]
pub struct CliError {
    /// Picks the exit code.
    pub kind: Kind,
    /// Stable, e.g. `file.not_found`, `key.invalid`, `bundle.expired`.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// How to fix it (may be empty).
    pub hint: String,
}

impl CliError {
    pub fn new(kind: Kind, code: Code, message: impl Into<String>) -> Self {
        CliError {
            kind,
            code,
            message: message.into(),
            hint: String::new(),
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, code, message)
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Kind::Failure, Code::CliFailure, message)
    }

    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Failure => exit::FAILURE,
            Kind::NotFound => exit::NOT_FOUND,
            Kind::Invalid => exit::INVALID,
            Kind::Bundle => exit::BUNDLE,
            Kind::Audit => exit::AUDIT,
        }
    }

    /// The single line printed on stderr: `error: <message> (<hint>)`, newlines flattened.
    #[must_use]
    pub fn line(&self) -> String {
        let mut s = format!("error: {}", self.message);
        if !self.hint.is_empty() {
            s.push_str("; ");
            s.push_str(&self.hint);
        }
        s.replace(['\n', '\r'], " ")
    }

    /// The machine-readable form (`--json`).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message, "hint": self.hint, "exit_code": self.exit_code()}})
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

impl core::error::Error for CliError {}

pub type Result<T, E = CliError> = core::result::Result<T, E>;
