//! Native vs the module: the same decide input (a vector's input, mutated by libFuzzer) gives
//! byte-identical answers from the native core (`Pdp::decide_json`, built without `std` as the
//! module is) and from dist/mandate.wasm under wasmtime, both in the default world. The same
//! bytes through `decide_http_json` / `mandate_decide_http` (ABI 2; seeded with
//! tests/vectors/http.json) and `apply_replay_json` must agree too. The native answer is also checked as in
//! the `decide_json` target.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use fuzz::{Export, Instance, check_decision, pdp};

static MODULE: Mutex<Option<Instance>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let native = pdp().decide_json(data);
    check_decision(&native);
    let native_replay = pdp().apply_replay_json(data);
    let mut guard = MODULE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let inst = guard.get_or_insert_with(Instance::with_default_world);
    let wasm = inst.call(Export::Decide, data);
    assert!(
        native == wasm,
        "decide differs\n native: {}\n   wasm: {}",
        String::from_utf8_lossy(&native),
        String::from_utf8_lossy(&wasm)
    );
    if inst.has_decide_http() {
        let native_http = pdp().decide_http_json(data);
        check_decision(&native_http);
        let wasm_http = inst.call(Export::DecideHttp, data);
        assert!(
            native_http == wasm_http,
            "decide_http differs\n native: {}\n   wasm: {}",
            String::from_utf8_lossy(&native_http),
            String::from_utf8_lossy(&wasm_http)
        );
    }
    let wasm_replay = inst.call(Export::ApplyReplay, data);
    assert!(
        native_replay == wasm_replay,
        "apply_replay differs\n native: {}\n   wasm: {}",
        String::from_utf8_lossy(&native_replay),
        String::from_utf8_lossy(&wasm_replay)
    );
});
