//! The module's C-style ABI (wasm/src/exports.rs, buffers.rs) driven through wasmtime with
//! arbitrary call sequences: allocations of any size, frees of live, freed and wild buffers,
//! writes, and every call export over live buffers, over-long lengths and wild pointers.
//!
//! A model of the live buffers predicts every outcome, and the target checks:
//! - no call ever traps (under host-rust's fuel and memory limits);
//! - `mandate_alloc` answers 0 exactly for 0 and over 64 MiB, otherwise a zeroed buffer inside
//!   memory that overlaps no live buffer;
//! - `mandate_decide` and `mandate_decide_http` (ABI 2) answer allow or deny documents;
//! - every answer is non-zero, inside memory, UTF-8 JSON, and overlaps no live buffer;
//! - a `(ptr, len)` answers `abi.invalid_buffer` exactly when it names no live buffer (or
//!   runs past its end), and never otherwise; the input buffer is not modified by the call;
//! - a config that does not load leaves the serving engine's status unchanged, and a
//!   `mandate_replace` (ABI 3, at any `now`) that is refused never changes it;
//! - `mandate_abi_version` is the `ABI_VERSION` wasm/src/lib.rs declares.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use fuzz::{Export, Instance, default_config};
use serde_json::Value;

const MAX_BUFFER: u32 = 64 << 20;
/// Mid-size allocations are capped so the live total stays far under the 256 MiB limit.
const MAX_LIVE_BYTES: u64 = 48 << 20;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Which {
    Load,
    Decide,
    DecideHttp,
    ApplyReplay,
    Mint,
    Replace(i64),
}

impl From<Which> for Export {
    fn from(w: Which) -> Export {
        match w {
            Which::Load => Export::Load,
            Which::Decide => Export::Decide,
            Which::DecideHttp => Export::DecideHttp,
            Which::ApplyReplay => Export::ApplyReplay,
            Which::Mint => Export::Mint,
            Which::Replace(now) => Export::Replace(now),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Target {
    /// `(0, 0)`: the empty input.
    Empty,
    /// A live buffer (by index into the model), with its length changed by `delta`.
    Live { index: u8, delta: i16 },
    /// A live buffer's address plus `offset` (an interior or neighbouring pointer).
    Offset { index: u8, offset: i16, len: u16 },
    /// Any pointer and length.
    Wild { ptr: u32, len: u32 },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc(u32),
    AllocSmall(u16),
    Free {
        index: u8,
        delta: i8,
    },
    FreeWild {
        ptr: u32,
        len: u32,
    },
    Write {
        index: u8,
        offset: u16,
        bytes: Vec<u8>,
    },
    Call {
        which: Which,
        target: Target,
        keep_answer: bool,
    },
    CallBytes {
        which: Which,
        bytes: Vec<u8>,
    },
    LoadDefault,
    Status,
    AbiVersion,
}

#[derive(Debug, Clone, Copy)]
struct Buf {
    ptr: u32,
    len: u32,
}

struct Model {
    live: Vec<Buf>,
    loaded_default: bool,
}

impl Model {
    fn live_bytes(&self) -> u64 {
        self.live.iter().map(|b| u64::from(b.len)).sum()
    }
    fn pick(&self, index: u8) -> Option<Buf> {
        if self.live.is_empty() {
            None
        } else {
            self.live.get(usize::from(index) % self.live.len()).copied()
        }
    }
    fn find(&self, ptr: u32) -> Option<usize> {
        self.live.iter().position(|b| b.ptr == ptr)
    }
    /// Whether the module will accept `(ptr, len)` as an input.
    fn valid_input(&self, ptr: u32, len: u32) -> bool {
        (ptr == 0 && len == 0) || self.find(ptr).is_some_and(|i| len <= self.live[i].len)
    }
    fn assert_fresh(&self, what: &str, ptr: u32, len: u32) {
        let (a0, a1) = (u64::from(ptr), u64::from(ptr) + u64::from(len));
        for b in &self.live {
            let (b0, b1) = (u64::from(b.ptr), u64::from(b.ptr) + u64::from(b.len));
            assert!(
                a1 <= b0 || b1 <= a0,
                "{what} {ptr}+{len} overlaps the live buffer {}+{}",
                b.ptr,
                b.len
            );
        }
    }
}

fn is_invalid_buffer(answer: &[u8]) -> bool {
    serde_json::from_slice::<Value>(answer)
        .ok()
        .and_then(|v| {
            v.get("error")?
                .get("code")?
                .as_str()
                .map(|c| c == "abi.invalid_buffer")
        })
        .unwrap_or(false)
}

fn alloc(inst: &mut Instance, model: &mut Model, len: u32) {
    if len != 0 && len <= MAX_BUFFER && model.live_bytes() + u64::from(len) > MAX_LIVE_BYTES {
        return;
    }
    let ptr = inst.alloc(len);
    if len == 0 || len > MAX_BUFFER {
        assert_eq!(ptr, 0, "mandate_alloc({len}) should refuse");
        return;
    }
    assert_ne!(ptr, 0, "mandate_alloc({len}) failed");
    assert!(
        u64::from(ptr) + u64::from(len) <= inst.memory_size() as u64,
        "mandate_alloc({len}) = {ptr} runs past memory"
    );
    model.assert_fresh("mandate_alloc", ptr, len);
    // Zeroed: check both ends (a full scan of 64 MiB per op would dominate the run).
    let head = len.min(4096);
    let tail_start = ptr + len - head;
    for (at, n) in [(ptr, head), (tail_start, head)] {
        let bytes = inst.read(at, n).expect("in bounds");
        assert!(
            bytes.iter().all(|&b| b == 0),
            "mandate_alloc({len}) is not zeroed"
        );
    }
    model.live.push(Buf { ptr, len });
}

fn free(inst: &mut Instance, model: &mut Model, ptr: u32, len: u32) {
    inst.free(ptr, len);
    if let Some(i) = model.find(ptr) {
        if len <= model.live[i].len {
            model.live.swap_remove(i);
        }
    }
}

fn call(inst: &mut Instance, model: &mut Model, which: Which, ptr: u32, len: u32, keep: bool) {
    let mut export = Export::from(which);
    if export == Export::DecideHttp && !inst.has_decide_http() {
        export = Export::Decide;
    }
    if matches!(export, Export::Replace(_)) && !inst.has_replace() {
        export = Export::Load;
    }
    let valid = model.valid_input(ptr, len);
    let before = if valid && len <= 65536 {
        inst.read(ptr, len)
    } else {
        None
    };
    let replacing = matches!(export, Export::Replace(_));
    let status_before = (export == Export::Load || replacing).then(|| inst.status());
    let packed = inst.call_raw(export, ptr, len);
    let what = format!("{export:?}({ptr}, {len})");
    let (aptr, alen, answer) = inst.answer(&what, packed);
    model.assert_fresh(&format!("{what} answer"), aptr, alen);
    assert_eq!(
        is_invalid_buffer(&answer),
        !valid,
        "{what}: valid={valid}, answered {}",
        String::from_utf8_lossy(&answer)
    );
    if let Some(before) = before {
        assert_eq!(
            inst.read(ptr, len),
            Some(before),
            "{what} modified its input buffer"
        );
    }
    if let (Some(status_before), true) = (status_before, valid) {
        let v: Value = serde_json::from_slice(&answer).expect("load status");
        let ok = v["ok"].as_bool().expect("load answers ok");
        let serving_ok = serde_json::from_slice::<Value>(&status_before)
            .ok()
            .and_then(|s| s["ok"].as_bool())
            .unwrap_or(false);
        // A refused replacement never changes what serves, whether or not anything served.
        if !ok && (serving_ok || replacing) {
            assert_eq!(
                inst.status(),
                status_before,
                "a failed load replaced a serving engine"
            );
        }
    }
    if matches!(export, Export::Decide | Export::DecideHttp) && valid {
        let v: Value = serde_json::from_slice(&answer).expect("decision");
        let d = v["decision"].as_str().expect("decide answers a decision");
        assert!(d == "allow" || d == "deny", "{d}");
        if !model.loaded_default {
            assert_eq!(d, "deny", "allowed with no bundle loaded");
        }
    }
    if keep {
        model.live.push(Buf {
            ptr: aptr,
            len: alen,
        });
    } else {
        inst.free(aptr, alen);
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut inst = Instance::new();
    let mut model = Model {
        live: Vec::new(),
        loaded_default: false,
    };
    for op in ops.into_iter().take(64) {
        match op {
            Op::Alloc(len) => alloc(&mut inst, &mut model, len),
            Op::AllocSmall(len) => alloc(&mut inst, &mut model, u32::from(len)),
            Op::Free { index, delta } => {
                if let Some(b) = model.pick(index) {
                    let len = b.len.saturating_add_signed(i32::from(delta));
                    free(&mut inst, &mut model, b.ptr, len);
                }
            }
            Op::FreeWild { ptr, len } => free(&mut inst, &mut model, ptr, len),
            Op::Write {
                index,
                offset,
                bytes,
            } => {
                if let Some(b) = model.pick(index) {
                    let off = u32::from(offset) % b.len;
                    let n = (bytes.len() as u32).min(b.len - off) as usize;
                    assert!(
                        inst.write(b.ptr + off, &bytes[..n]),
                        "a live buffer is outside memory"
                    );
                }
            }
            Op::Call {
                which,
                target,
                keep_answer,
            } => {
                let (ptr, len) = match target {
                    Target::Empty => (0, 0),
                    Target::Live { index, delta } => match model.pick(index) {
                        Some(b) => (b.ptr, b.len.saturating_add_signed(i32::from(delta))),
                        None => (0, 0),
                    },
                    Target::Offset { index, offset, len } => match model.pick(index) {
                        Some(b) => (b.ptr.wrapping_add_signed(i32::from(offset)), u32::from(len)),
                        None => (u32::from(len), u32::from(len)),
                    },
                    Target::Wild { ptr, len } => (ptr, len),
                };
                call(&mut inst, &mut model, which, ptr, len, keep_answer);
            }
            Op::CallBytes { which, bytes } => {
                let before = model.live.len();
                alloc(&mut inst, &mut model, bytes.len() as u32);
                if model.live.len() > before {
                    let b = model.live[model.live.len() - 1];
                    assert!(inst.write(b.ptr, &bytes));
                    call(&mut inst, &mut model, which, b.ptr, b.len, false);
                    free(&mut inst, &mut model, b.ptr, b.len);
                } else {
                    call(&mut inst, &mut model, which, 0, 0, false);
                }
            }
            Op::LoadDefault => {
                if !model.loaded_default {
                    let answer = inst.call(Export::Load, default_config());
                    assert!(String::from_utf8_lossy(&answer).contains("\"ok\":true"));
                    model.loaded_default = true;
                }
            }
            Op::Status => {
                let packed = inst.status_raw();
                let (p, l, answer) = inst.answer("status", packed);
                model.assert_fresh("status answer", p, l);
                let v: Value = serde_json::from_slice(&answer).expect("status");
                assert!(v["ok"].is_boolean(), "status: {v}");
                inst.free(p, l);
            }
            Op::AbiVersion => {
                assert_eq!(inst.abi_version(), fuzz::expected_abi_version());
            }
        }
    }
    // Every live buffer is still inside memory and freeable; afterwards nothing is valid.
    let live = std::mem::take(&mut model.live);
    for b in &live {
        assert!(
            inst.read(b.ptr, b.len).is_some(),
            "live buffer {b:?} outside memory"
        );
        inst.free(b.ptr, b.len);
    }
    for b in live.iter().take(4) {
        call(
            &mut inst,
            &mut model,
            Which::Decide,
            b.ptr,
            b.len.min(1),
            false,
        );
    }
});
