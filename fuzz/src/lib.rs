//! Shared support for Mandate's fuzz targets: the conformance vectors, the default world loaded
//! natively, and a small wasmtime driver for `dist/mandate.wasm` that checks every answer the
//! module hands back (packed pointer in bounds, non-zero, JSON).
//!
//! The driver is written against the module's ABI (wasm/src/lib.rs) rather than reusing
//! host-rust, so the fuzz build does not pull `policy-core/std` (the module builds the core
//! without it) and so the targets can pass any pointer and length, not only well-formed ones.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use policy_core::Pdp;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use wasmtime::{
    Config, Engine, Instance as WasmInstance, InstancePre, Linker, Memory, Module, ResourceLimiter,
    Store, TypedFunc,
};

/// The repository root (fuzz/..).
#[must_use]
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// tests/vectors/conformance.json, parsed once.
pub fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        let path = root().join("tests/vectors/conformance.json");
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&text).expect("conformance.json is JSON")
    })
}

/// The `loads.default` config: the world most vectors decide in.
pub fn default_config() -> &'static [u8] {
    vectors()["loads"]["default"]
        .as_str()
        .expect("loads.default is a string")
        .as_bytes()
}

/// The default world, loaded natively once (the core without `std`, as in the module).
pub fn pdp() -> &'static Pdp {
    static P: OnceLock<Pdp> = OnceLock::new();
    P.get_or_init(|| {
        let pdp = Pdp::load_json(default_config());
        assert!(pdp.status().is_ok(), "loads.default does not load: {pdp:?}");
        pdp
    })
}

/// Every string found under `credentials` in any vector's input: the only tokens that carry a
/// signature the fuzzer did not have to forge.
pub fn known_credentials() -> &'static BTreeSet<String> {
    static C: OnceLock<BTreeSet<String>> = OnceLock::new();
    C.get_or_init(|| {
        let mut out = BTreeSet::new();
        for case in vectors()["cases"].as_array().expect("cases") {
            let Some(input) = case["input"].as_str() else {
                continue;
            };
            if let Ok(v) = serde_json::from_str::<Value>(input) {
                strings(&v["credentials"], &mut out);
            }
        }
        out
    })
}

/// Collects every string inside `v`.
pub fn strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Whether `MANDATE_FUZZ_TOLERATE_FLOAT_DRIFT` is set: then the canonical-form checks skip
/// documents that hold a non-integer number. serde_json without its `float_roundtrip` feature
/// parses some decimal forms one ULP off (fuzz/regressions/json_strict/), so a float does not
/// survive canonical form -> parse -> canonical form. Set it only to keep a long run exploring
/// past that known finding; the smoke run leaves it unset.
#[must_use]
pub fn tolerate_float_drift() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("MANDATE_FUZZ_TOLERATE_FLOAT_DRIFT").is_some())
}

/// Whether `v` holds a number that is not an integer (an `f64`).
#[must_use]
pub fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// Asserts that `text` is the canonical form of `v` (unless float drift is tolerated and `v`
/// holds a float).
pub fn assert_canonical(v: &Value, text: &str, what: &str) {
    if tolerate_float_drift() && has_float(v) {
        return;
    }
    assert_eq!(
        policy_core::json::canonical(v),
        text,
        "{what} is not canonical"
    );
}

/// Checks a decision document as `decide` answers it: canonical JSON, a `decision` of allow or
/// deny, reasons exactly when denied, an audit record that agrees, `use_once` only on allow.
/// Returns the parsed document.
pub fn check_decision(out: &[u8]) -> Value {
    let text = std::str::from_utf8(out).expect("decision is UTF-8");
    let v: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("decision is not JSON ({e}): {text}"));
    assert_canonical(&v, text, "decision");
    let decision = v["decision"].as_str().expect("decision field");
    let reasons = v["reasons"].as_array().expect("reasons array");
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r["code"].as_str().expect("reason code"))
        .collect();
    match decision {
        "allow" => {
            assert!(reasons.is_empty(), "allow with reasons: {text}");
        }
        "deny" => {
            assert!(!reasons.is_empty(), "deny without a reason: {text}");
            assert!(codes.iter().all(|c| !c.is_empty()), "empty code: {text}");
            assert_eq!(
                v["use_once"].as_array().map(Vec::len),
                Some(0),
                "deny with use_once: {text}"
            );
            assert!(v.get("grant").is_none(), "deny with a grant: {text}");
        }
        other => panic!("decision {other:?}: {text}"),
    }
    assert_eq!(v["audit"]["outcome"], decision, "audit outcome: {text}");
    let audit_codes: Vec<&str> = v["audit"]["codes"]
        .as_array()
        .expect("audit codes")
        .iter()
        .map(|c| c.as_str().expect("audit code"))
        .collect();
    assert_eq!(audit_codes, codes, "audit codes: {text}");
    v
}

/// The ABI version the module's source declares (`pub const ABI_VERSION` in wasm/src/lib.rs),
/// read once: what `mandate_abi_version` must answer.
pub fn expected_abi_version() -> u32 {
    static V: OnceLock<u32> = OnceLock::new();
    *V.get_or_init(|| {
        let src = std::fs::read_to_string(root().join("wasm/src/lib.rs")).expect("wasm/src/lib.rs");
        src.lines()
            .find_map(|l| l.strip_prefix("pub const ABI_VERSION: u32 = "))
            .and_then(|rest| rest.trim_end_matches(';').trim().parse().ok())
            .expect("ABI_VERSION in wasm/src/lib.rs")
    })
}

impl Instance {
    /// Whether this module has `mandate_decide_http` (ABI 2).
    #[must_use]
    pub fn has_decide_http(&self) -> bool {
        self.decide_http.is_some()
    }

    /// Whether this module has `mandate_replace` (ABI 3).
    #[must_use]
    pub fn has_replace(&self) -> bool {
        self.replace.is_some()
    }
}

/// Fuel for one call (as host-rust's default `fuel_per_call`).
pub const FUEL_PER_CALL: u64 = 1_000_000_000;
/// Fuel for a load (as host-rust's default `fuel_per_load`).
pub const FUEL_PER_LOAD: u64 = 10_000_000_000;
/// Memory limit of one instance (as host-rust's default).
pub const MEMORY_BYTES: usize = 256 << 20;

/// What a store carries: the memory limit and whether it refused to grow.
#[derive(Debug)]
pub struct Limits {
    max_memory: usize,
    /// Set when the limiter refused a growth.
    pub refused: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The compiled module, pre-linked.
pub struct Runtime {
    engine: Engine,
    pre: InstancePre<Limits>,
}

/// The module at `$MANDATE_WASM`, or `dist/mandate.wasm` (built by scripts/build-wasm.sh),
/// compiled once per process. The compiled code is cached under fuzz/target/wasm-cache, keyed
/// by the module's SHA-256, so each fuzzer start does not pay Cranelift (instrumented, slow).
pub fn runtime() -> &'static Runtime {
    static R: OnceLock<Runtime> = OnceLock::new();
    R.get_or_init(|| {
        let path = std::env::var_os("MANDATE_WASM")
            .map_or_else(|| root().join("dist/mandate.wasm"), PathBuf::from);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it with scripts/build-wasm.sh",
                path.display()
            )
        });
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).expect("engine");
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let cache_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/wasm-cache");
        let cached = cache_dir.join(format!("{digest}.cwasm"));
        // SAFETY: the artifact was written by this same harness (below) from these exact module
        // bytes; wasmtime checks the engine configuration and version before using it.
        let module = match unsafe { Module::deserialize_file(&engine, &cached) } {
            Ok(m) => m,
            Err(_) => {
                let m = Module::new(&engine, &bytes).expect("the module compiles");
                if let Ok(ser) = m.serialize() {
                    let _ = std::fs::create_dir_all(&cache_dir);
                    let tmp = cache_dir.join(format!("{digest}.{}.tmp", std::process::id()));
                    if std::fs::write(&tmp, ser).is_ok() {
                        let _ = std::fs::rename(&tmp, &cached);
                    }
                }
                m
            }
        };
        assert_eq!(module.imports().len(), 0, "the module imports something");
        let linker: Linker<Limits> = Linker::new(&engine);
        let pre = linker.instantiate_pre(&module).expect("instantiate_pre");
        Runtime { engine, pre }
    })
}

/// Which call export to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// `mandate_load`
    Load,
    /// `mandate_decide`
    Decide,
    /// `mandate_decide_http` (ABI 2)
    DecideHttp,
    /// `mandate_apply_replay`
    ApplyReplay,
    /// `mandate_mint`
    Mint,
    /// `mandate_replace` at this `now` (ABI 3)
    Replace(i64),
}

/// One fresh instance of the module with typed exports.
pub struct Instance {
    store: Store<Limits>,
    memory: Memory,
    abi_version: TypedFunc<(), u32>,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    load: TypedFunc<(u32, u32), u64>,
    replace: Option<TypedFunc<(u32, u32, i64), u64>>,
    decide: TypedFunc<(u32, u32), u64>,
    decide_http: Option<TypedFunc<(u32, u32), u64>>,
    apply_replay: TypedFunc<(u32, u32), u64>,
    mint: TypedFunc<(u32, u32), u64>,
    status: TypedFunc<(), u64>,
}

/// Panics with the trap, naming the call: a trap is always a finding.
fn no_trap<T>(what: &str, store: &Store<Limits>, r: wasmtime::Result<T>) -> T {
    r.unwrap_or_else(|e| {
        panic!(
            "{what} trapped (memory limit refused: {}): {e:?}",
            store.data().refused
        )
    })
}

impl Instance {
    /// Instantiates the module (nothing loaded).
    #[must_use]
    pub fn new() -> Instance {
        let rt = runtime();
        let mut store = Store::new(
            &rt.engine,
            Limits {
                max_memory: MEMORY_BYTES,
                refused: false,
            },
        );
        store.limiter(|l| l as &mut dyn ResourceLimiter);
        store.set_fuel(FUEL_PER_LOAD).expect("fuel");
        let instance: WasmInstance = rt.pre.instantiate(&mut store).expect("instantiate");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("memory export");
        macro_rules! export {
            ($name:literal) => {
                instance.get_typed_func(&mut store, $name).expect($name)
            };
        }
        Instance {
            abi_version: export!("mandate_abi_version"),
            alloc: export!("mandate_alloc"),
            free: export!("mandate_free"),
            load: export!("mandate_load"),
            replace: instance.get_typed_func(&mut store, "mandate_replace").ok(),
            decide: export!("mandate_decide"),
            decide_http: instance
                .get_typed_func(&mut store, "mandate_decide_http")
                .ok(),
            apply_replay: export!("mandate_apply_replay"),
            mint: export!("mandate_mint"),
            status: export!("mandate_status"),
            memory,
            store,
        }
    }

    /// The linear memory's size in bytes.
    #[must_use]
    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// `mandate_abi_version()`.
    pub fn abi_version(&mut self) -> u32 {
        self.store.set_fuel(FUEL_PER_CALL).expect("fuel");
        let r = self.abi_version.call(&mut self.store, ());
        no_trap("mandate_abi_version", &self.store, r)
    }

    /// `mandate_alloc(len)`.
    pub fn alloc(&mut self, len: u32) -> u32 {
        self.store.set_fuel(FUEL_PER_CALL).expect("fuel");
        let r = self.alloc.call(&mut self.store, len);
        no_trap("mandate_alloc", &self.store, r)
    }

    /// `mandate_free(ptr, len)`.
    pub fn free(&mut self, ptr: u32, len: u32) {
        self.store.set_fuel(FUEL_PER_CALL).expect("fuel");
        let r = self.free.call(&mut self.store, (ptr, len));
        no_trap("mandate_free", &self.store, r);
    }

    /// Calls an export with any `(ptr, len)`; returns the packed answer.
    pub fn call_raw(&mut self, export: Export, ptr: u32, len: u32) -> u64 {
        let fuel = if matches!(export, Export::Load | Export::Replace(_)) {
            FUEL_PER_LOAD
        } else {
            FUEL_PER_CALL
        };
        self.store.set_fuel(fuel).expect("fuel");
        let f = match export {
            Export::Load => &self.load,
            Export::Decide => &self.decide,
            Export::DecideHttp => self
                .decide_http
                .as_ref()
                .expect("this module has no mandate_decide_http (ABI 1)"),
            Export::ApplyReplay => &self.apply_replay,
            Export::Mint => &self.mint,
            Export::Replace(now) => {
                let f = self
                    .replace
                    .as_ref()
                    .expect("this module has no mandate_replace (ABI 1 or 2)");
                let r = f.call(&mut self.store, (ptr, len, now));
                return no_trap(&format!("{export:?}({ptr}, {len})"), &self.store, r);
            }
        };
        let r = f.call(&mut self.store, (ptr, len));
        no_trap(&format!("{export:?}({ptr}, {len})"), &self.store, r)
    }

    /// `mandate_status()`, packed.
    pub fn status_raw(&mut self) -> u64 {
        self.store.set_fuel(FUEL_PER_LOAD).expect("fuel");
        let r = self.status.call(&mut self.store, ());
        no_trap("mandate_status", &self.store, r)
    }

    /// Reads `len` bytes at `ptr`; `None` when out of bounds.
    #[must_use]
    pub fn read(&self, ptr: u32, len: u32) -> Option<Vec<u8>> {
        let mut out = vec![0u8; len as usize];
        self.memory.read(&self.store, ptr as usize, &mut out).ok()?;
        Some(out)
    }

    /// Writes bytes at `ptr`; false when out of bounds.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> bool {
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .is_ok()
    }

    /// Unpacks an answer and checks it: non-zero, inside memory, UTF-8 JSON. Returns
    /// `(ptr, len, bytes)`; the buffer is still live.
    pub fn answer(&self, what: &str, packed: u64) -> (u32, u32, Vec<u8>) {
        assert_ne!(packed, 0, "{what}: the module could not build its answer");
        let ptr = (packed >> 32) as u32;
        let len = (packed & 0xffff_ffff) as u32;
        assert_ne!(ptr, 0, "{what}: answer at address 0");
        assert_ne!(len, 0, "{what}: empty answer");
        let end = u64::from(ptr) + u64::from(len);
        assert!(
            end <= self.memory_size() as u64,
            "{what}: answer {ptr}+{len} runs past memory ({})",
            self.memory_size()
        );
        let bytes = self.read(ptr, len).expect("answer in bounds");
        let text = std::str::from_utf8(&bytes)
            .unwrap_or_else(|e| panic!("{what}: answer is not UTF-8: {e}"));
        if let Err(e) = serde_json::from_str::<Value>(text) {
            panic!("{what}: answer is not JSON ({e}): {text}");
        }
        (ptr, len, bytes)
    }

    /// The whole host round trip: alloc, write, call, free the input, read and free the answer.
    pub fn call(&mut self, export: Export, input: &[u8]) -> Vec<u8> {
        let len = u32::try_from(input.len()).expect("input under 4 GiB");
        let ptr = if len == 0 {
            0
        } else {
            let p = self.alloc(len);
            assert_ne!(p, 0, "mandate_alloc({len}) failed");
            assert!(
                self.write(p, input),
                "mandate_alloc answered {p}+{len} outside memory"
            );
            p
        };
        let packed = self.call_raw(export, ptr, len);
        if len != 0 {
            self.free(ptr, len);
        }
        let (aptr, alen, bytes) = self.answer(&format!("{export:?}"), packed);
        self.free(aptr, alen);
        bytes
    }

    /// `mandate_status`, read and freed.
    pub fn status(&mut self) -> Vec<u8> {
        let packed = self.status_raw();
        let (p, l, bytes) = self.answer("status", packed);
        self.free(p, l);
        bytes
    }

    /// A fresh instance with the default world loaded.
    #[must_use]
    pub fn with_default_world() -> Instance {
        let mut i = Instance::new();
        let status = i.call(Export::Load, default_config());
        assert!(
            String::from_utf8_lossy(&status).contains("\"ok\":true"),
            "loads.default does not load in the module: {}",
            String::from_utf8_lossy(&status)
        );
        i
    }
}

impl Default for Instance {
    fn default() -> Self {
        Instance::new()
    }
}
