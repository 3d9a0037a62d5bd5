//! Module-owned buffers, tracked by address.
//!
//! Every buffer the host may read or write is one this module allocated and still owns, recorded
//! in a table keyed by its address. The host passes back `(ptr, len)` pairs; looking them up
//! here, instead of trusting them, is what turns a wild pointer or an absurd length into an error
//! answer rather than a trap or a read of memory the module does not own.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The largest buffer the module hands out (64 MiB). The core's own input limits are far lower;
/// this only keeps an absurd `mandate_alloc` from exhausting memory.
pub const MAX_BUFFER: usize = 64 << 20;

/// Live buffers by address. A `Mutex` even though wasm32 has one thread: it keeps the table
/// `Sync` for the static and costs nothing uncontended.
static LIVE: Mutex<BTreeMap<usize, Vec<u8>>> = Mutex::new(BTreeMap::new());

fn with_live<R>(f: impl FnOnce(&mut BTreeMap<usize, Vec<u8>>) -> R) -> R {
    // A poisoned lock can only follow a panic, which aborts on wasm; recover the table anyway.
    let mut guard = LIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

/// Allocates a zeroed buffer of `len` bytes and records it. `None` for `len == 0`, over
/// [`MAX_BUFFER`], or when memory is exhausted (never aborts).
#[must_use]
pub fn alloc(len: usize) -> Option<usize> {
    if len == 0 || len > MAX_BUFFER {
        return None;
    }
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(len).ok()?;
    buf.resize(len, 0);
    Some(keep(buf))
}

/// Records an answer buffer and returns its address. Empty buffers are not recorded (address 0).
#[must_use]
pub fn keep(buf: Vec<u8>) -> usize {
    if buf.is_empty() {
        return 0;
    }
    let addr = buf.as_ptr() as usize;
    with_live(|live| live.insert(addr, buf));
    addr
}

/// Releases a recorded buffer. Unknown addresses, or a length longer than the buffer, are
/// ignored: a double free or a wild free must not corrupt the table.
pub fn free(addr: usize, len: usize) {
    with_live(|live| {
        if live.get(&addr).is_some_and(|b| len <= b.len()) {
            live.remove(&addr);
        }
    });
}

/// Why a `(ptr, len)` pair was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// No live buffer starts at this address, or `len` runs past its end.
    Invalid,
}

/// Runs `f` over the first `len` bytes of the recorded buffer at `addr`. `(0, 0)` is the empty
/// input.
///
/// # Errors
/// [`BufferError::Invalid`] when `addr` is not a live buffer or `len` exceeds it.
pub fn with_input<R>(
    addr: usize,
    len: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, BufferError> {
    if addr == 0 && len == 0 {
        return Ok(f(&[]));
    }
    // Take the buffer out of the table so `f` (which records its answer) never runs under the
    // lock, and put it back afterwards; no copy of the input.
    let taken = with_live(|live| match live.get(&addr) {
        Some(b) if len <= b.len() => live.remove(&addr),
        _ => None,
    });
    let Some(buf) = taken else {
        return Err(BufferError::Invalid);
    };
    let out = f(buf.get(..len).unwrap_or_default());
    with_live(|live| live.insert(addr, buf));
    Ok(out)
}

/// How many buffers are live; for leak checks in tests.
#[must_use]
pub fn live_count() -> usize {
    with_live(|live| live.len())
}
