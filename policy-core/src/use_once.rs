//! What a decision hands the host to record: each credential that may be used only once.

use alloc::string::String;

/// A `jti` the host must record as used until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseOnce {
    /// `proof` or `grant`.
    pub kind: &'static str,
    /// The store key (a proof's is scoped by its key's thumbprint).
    pub jti: String,
    /// When the entry may be forgotten.
    pub exp: i64,
}
