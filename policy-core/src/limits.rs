//! Size and depth caps. Everything a decision reads is bounded before it is parsed.

/// Largest bundle JWS.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Largest single token (delegation, hop, proof, grant).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Largest decide input (tokens, request and context together).
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting accepted anywhere.
pub const MAX_DEPTH: usize = 32;
/// Most tokens in one delegation chain (root included), whatever the bundle says.
pub const MAX_CHAIN_TOKENS: usize = 8;
/// Longest URI accepted in a request or proof.
pub const MAX_URI_BYTES: usize = 4096;
/// Largest `jti` of a delegation, sub-delegation, proof or grant, in bytes: a host remembers
/// every used one until it expires, so an id is bounded like everything else it keeps.
/// Generated ids (UUIDs, 128-bit random in base64url) are a fraction of it.
pub const MAX_JTI_BYTES: usize = 256;
