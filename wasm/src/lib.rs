//! Mandate's portable WebAssembly module.
//!
//! One `cdylib`, built for `wasm32-unknown-unknown` into `dist/mandate.wasm`, that every wasm host
//! (wasmtime, Node, browsers, workerd, Envoy's V8) loads as it is. It wraps the core's byte entry
//! points and adds nothing of its own to a decision: bytes in, bytes out.
//!
//! # ABI (version [`ABI_VERSION`])
//!
//! | export | does |
//! | --- | --- |
//! | `mandate_abi_version() -> u32` | this ABI's version |
//! | `mandate_alloc(len: u32) -> u32` | a module-owned buffer of `len` bytes for the host to fill; `0` when `len` is 0, over [`buffers::MAX_BUFFER`], or memory is exhausted |
//! | `mandate_free(ptr: u32, len: u32)` | releases a buffer from `mandate_alloc` or a result; unknown pointers are ignored |
//! | `mandate_load(ptr, len) -> u64` | loads a load config (docs/formats.md), answers its load status |
//! | `mandate_decide(ptr, len) -> u64` | decides a decide input, answers the decision |
//! | `mandate_apply_replay(ptr, len) -> u64` | `{"decision": …, "replayed": [jti…]}` → the decision turned into a `replay.detected` deny |
//! | `mandate_mint(ptr, len) -> u64` | the core's `mint_json` (bundles, delegations, proofs, grants with a supplied key) |
//! | `mandate_status() -> u64` | the load status of the engine now serving |
//!
//! Every `u64` result packs `ptr << 32 | len` of a module-owned UTF-8 JSON buffer that the host
//! releases with `mandate_free(ptr, len)`. A result of `0` means the module could not allocate
//! the answer; hosts treat it as a deny. Input buffers stay the host's to free after the call.
//!
//! Input pointers must be buffers this module handed out with `mandate_alloc` (or `0` with length
//! `0`); anything else — a pointer out of range, a length longer than the buffer, a freed buffer —
//! answers `{"error": {"code": "abi.invalid_buffer", …}}` without touching memory, so garbage in
//! can never trap the module or read memory it does not own.
//!
//! # Load semantics
//!
//! The core's `Pdp::load` never fails: a bad config gives an engine that denies everything with a
//! `bundle.*` code. The module keeps the engine that is serving when a new config does not load
//! (`"ok": false`), so a bad push cannot take a decision point down; the answer of
//! `mandate_load` is the new config's status either way, and `mandate_status` tells which engine
//! serves. Until a config has loaded, the serving engine is the one from the last attempt (or
//! from an empty config), which denies with its `bundle.*` code.
//!
//! The module imports nothing: no WASI, no JS glue. Time and nonces come in the inputs.

pub mod buffers;
pub mod calls;
#[cfg(target_arch = "wasm32")]
mod exports;

/// The ABI version `mandate_abi_version` answers. Bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;
