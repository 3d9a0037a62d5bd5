//! Mandate's portable WebAssembly module.
//!
//! One `cdylib`, built for `wasm32-unknown-unknown` into `dist/mandate.wasm`, that every wasm host
//! (wasmtime, Node, browsers, workerd, Envoy's V8) loads as it is. It wraps the core's byte entry
//! points and adds nothing of its own to a decision: bytes in, bytes out.
//!
//! # ABI (version [`ABI_VERSION`])
//!
//! This is the one description of the ABI; the README and the hosts point here.
//!
//! | export | does |
//! | --- | --- |
//! | `mandate_abi_version() -> u32` | this ABI's version ([`ABI_VERSION`]) |
//! | `mandate_alloc(len: u32) -> u32` | a module-owned buffer of `len` bytes for the host to fill; `0` when `len` is 0, over [`buffers::MAX_BUFFER`], or memory is exhausted |
//! | `mandate_free(ptr: u32, len: u32)` | releases a buffer from `mandate_alloc` or a result; unknown pointers are ignored |
//! | `mandate_load(ptr, len) -> u64` | loads a load config (docs/formats.md), answers its load status |
//! | `mandate_replace(ptr, len, now: i64) -> u64` | loads a load config aside and installs it only when the core's replacement rule lets it replace the serving engine at `now` (loaded, not expired, valid now, not a rollback); answers its load status when installed, else the refusal as a failed status (`bundle.expired`, `bundle.not_yet_valid`, `bundle.rollback`, or the load's own `bundle.*` code) |
//! | `mandate_decide(ptr, len) -> u64` | decides a decide input, answers the decision |
//! | `mandate_decide_http(ptr, len) -> u64` | decides an HTTP decide input (docs/formats.md, "HTTP decide input": the request as received, bound by the core's HTTP binding), answers the decision |
//! | `mandate_apply_replay(ptr, len) -> u64` | `{"decision": …, "replayed": [jti…], "store_error": bool}` → the decision turned into a `replay.detected` (or `replay.store_unavailable`) deny |
//! | `mandate_mint(ptr, len) -> u64` | the core's `mint_json` (bundles, delegations, proofs, grants with a supplied key) |
//! | `mandate_status() -> u64` | the load status of the engine now serving |
//!
//! The decide exports answer a decision and nothing more: recording its `use_once` `jti`s in a
//! replay store (and calling `mandate_apply_replay` when one was used before) is the host's part.
//!
//! Every `u64` result packs `ptr << 32 | len` of a module-owned UTF-8 JSON buffer that the host
//! releases with `mandate_free(ptr, len)`. A result of `0` means the module could not allocate
//! the answer; hosts treat it as a deny. Input buffers stay the host's to free after the call.
//!
//! Input pointers must be buffers this module handed out with `mandate_alloc` (or `0` with length
//! `0`); anything else — a pointer out of range, a length longer than the buffer, a freed buffer —
//! answers `{"error": {"code": "abi.invalid_buffer", …}}` without touching memory, so garbage in
//! can never trap the module or read memory it does not own. A double free, or a free of a
//! pointer that names no live buffer, is ignored. Bytes that are not a valid input (random,
//! truncated, empty, another export's input) reach the core, which answers a deny with an
//! `input.*` or `request.*` code. Garbage never traps and never allows (tested through
//! wasmtime with proptest in `host-rust/tests/abi.rs`).
//!
//! ## Versions
//!
//! The version changes whenever the set of exports or the contract of one changes, additions
//! included, so a host checks one number instead of probing exports (an old module then fails
//! with "speaks ABI n", not a missing export):
//!
//! | version | change |
//! | --- | --- |
//! | 1 | the exports above but `mandate_decide_http` |
//! | 2 | `mandate_decide_http` added; every other export unchanged |
//! | 3 | `mandate_replace` added; every other export unchanged |
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
//! `mandate_load` installs what loaded with no further question, for a host that loads once.
//! A host that reloads bundles from a source it polls calls `mandate_replace` with its clock:
//! the module then also refuses a bundle that has expired, is not valid yet, or rolls back the
//! serving one (issued before it, or its revision with other content), by the same rule
//! `mandate serve`, the Envoy filter and the JS package apply (`policy_core::may_replace`).
//! A refused or failed config never replaces anything under `mandate_replace`.
//!
//! The module imports nothing: no WASI, no JS glue. Time and nonces come in the inputs.

pub mod buffers;
pub mod calls;
#[cfg(target_arch = "wasm32")]
mod exports;

/// The ABI version `mandate_abi_version` answers (see "Versions" above).
pub const ABI_VERSION: u32 = 3;
