//! The `extern "C"` exports: the module's whole ABI (see the crate docs).
//!
//! Only compiled for wasm32, where a pointer is 32 bits and fits the packed `u64` answer.

use crate::{ABI_VERSION, buffers, calls};

/// Packs an answer buffer as `ptr << 32 | len`, recording it for `mandate_free`. `0` when the
/// answer is empty (the module could not build one).
fn answer(bytes: Vec<u8>) -> u64 {
    let len = bytes.len();
    let Ok(len32) = u32::try_from(len) else {
        return 0;
    };
    let addr = buffers::keep(bytes);
    let Ok(addr32) = u32::try_from(addr) else {
        buffers::free(addr, len);
        return 0;
    };
    (u64::from(addr32) << 32) | u64::from(len32)
}

/// Runs `call` over the host's input buffer, or answers `abi.invalid_buffer`.
fn over_input(ptr: u32, len: u32, call: fn(&[u8]) -> Vec<u8>) -> u64 {
    let out = buffers::with_input(ptr as usize, len as usize, call)
        .unwrap_or_else(|_| calls::invalid_buffer());
    answer(out)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_abi_version() -> u32 {
    ABI_VERSION
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_alloc(len: u32) -> u32 {
    buffers::alloc(len as usize)
        .and_then(|addr| u32::try_from(addr).ok())
        .unwrap_or(0)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_free(ptr: u32, len: u32) {
    buffers::free(ptr as usize, len as usize);
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_load(ptr: u32, len: u32) -> u64 {
    over_input(ptr, len, calls::load)
}

// Not through `over_input`: a closure over `now` would make it generic, and one copy of it per
// export costs the module about a kilobyte.
#[unsafe(no_mangle)]
pub extern "C" fn mandate_replace(ptr: u32, len: u32, now: i64) -> u64 {
    let out = buffers::with_input(ptr as usize, len as usize, |config| {
        calls::replace(config, now)
    })
    .unwrap_or_else(|_| calls::invalid_buffer());
    answer(out)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_decide(ptr: u32, len: u32) -> u64 {
    over_input(ptr, len, calls::decide)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_decide_http(ptr: u32, len: u32) -> u64 {
    over_input(ptr, len, calls::decide_http)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_apply_replay(ptr: u32, len: u32) -> u64 {
    over_input(ptr, len, calls::apply_replay)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_mint(ptr: u32, len: u32) -> u64 {
    over_input(ptr, len, calls::mint)
}

#[unsafe(no_mangle)]
pub extern "C" fn mandate_status() -> u64 {
    answer(calls::status())
}
