//! The wasm backend: the portable module under wasmtime.
//!
//! [`WasmRuntime`] is the module compiled once (or loaded from the on-disk cache) and
//! pre-linked ([`InstancePre`]); it is cheap to clone and share. A loaded engine
//! ([`WasmEngine`]) keeps a pool of instances that have loaded its config; a call takes one
//! (instantiating and loading a new one when none is idle), runs with a fresh fuel budget under a
//! memory limit, and puts it back. An instance that trapped or ran out of fuel or memory is
//! dropped, never reused. So the backend is `Send + Sync`, calls run in parallel on as many
//! instances as there are callers, and one runaway input costs one instance.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};
use wasmtime::{
    Config, Engine, Instance, InstancePre, Linker, Memory, Module, ResourceLimiter, Store, Trap,
    TypedFunc,
};

use super::cache;
use crate::HostError;

/// The ABI version this SDK speaks (`mandate_abi_version`; the module's crate docs list the
/// versions). 2 added `mandate_decide_http`.
pub const ABI_VERSION: u32 = 3;

/// Bounds on each call into the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasmLimits {
    /// Fuel (about one unit per wasm instruction) for one decision or replay call.
    pub fuel_per_call: u64,
    /// Fuel for loading a config into a new instance (bundle verification, policy parsing).
    pub fuel_per_load: u64,
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// How many idle instances a loaded engine keeps for reuse.
    pub max_idle_instances: usize,
}

impl Default for WasmLimits {
    fn default() -> Self {
        WasmLimits {
            fuel_per_call: 1_000_000_000,
            fuel_per_load: 10_000_000_000,
            memory_bytes: 256 << 20,
            max_idle_instances: std::thread::available_parallelism().map_or(4, |n| n.get() * 2),
        }
    }
}

/// The compiled module, pre-linked; share it (it is an `Arc` inside).
#[derive(Clone)]
pub struct WasmRuntime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    pre: InstancePre<SlotData>,
    limits: WasmLimits,
    sha256: String,
}

impl core::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("sha256", &self.inner.sha256)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

fn module_err(e: impl core::fmt::Display) -> HostError {
    HostError::Module(e.to_string())
}

impl WasmRuntime {
    /// Compiles `module` (the bytes of `dist/mandate.wasm`), using `cache_dir` for compiled
    /// artifacts when given: loaded from it when a trusted artifact for these exact bytes
    /// exists, written to it otherwise.
    ///
    /// # Errors
    /// [`HostError::Module`] when the bytes do not compile, import anything, do not speak
    /// ABI version [`ABI_VERSION`], or lack one of its exports.
    pub fn new(
        module: &[u8],
        cache_dir: Option<&Path>,
        limits: WasmLimits,
    ) -> Result<Self, HostError> {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(module_err)?;
        let sha256 = crate::audit::hex(&Sha256::digest(module));
        let compiled = match cache_dir.and_then(|dir| cache::load(&engine, dir, &sha256)) {
            Some(m) => m,
            None => {
                let m = Module::new(&engine, module).map_err(module_err)?;
                if let Some(dir) = cache_dir {
                    cache::store(dir, &sha256, &m);
                }
                m
            }
        };
        if compiled.imports().len() != 0 {
            return Err(HostError::Module(
                "the module imports something; Mandate's imports nothing".into(),
            ));
        }
        let linker: Linker<SlotData> = Linker::new(&engine);
        let pre = linker.instantiate_pre(&compiled).map_err(module_err)?;
        let runtime = WasmRuntime {
            inner: Arc::new(RuntimeInner {
                engine,
                pre,
                limits,
                sha256,
            }),
        };
        // Check the ABI version and the exports once, up front (every instance checks them too).
        Slot::new(&runtime)?;
        Ok(runtime)
    }

    /// Reads and compiles the module at `path` (see [`WasmRuntime::new`]).
    ///
    /// # Errors
    /// [`HostError::Io`] when the file cannot be read, else as [`WasmRuntime::new`].
    pub fn from_file(
        path: impl AsRef<Path>,
        cache_dir: Option<&Path>,
        limits: WasmLimits,
    ) -> Result<Self, HostError> {
        let bytes = std::fs::read(path)?;
        Self::new(&bytes, cache_dir, limits)
    }

    /// Hex SHA-256 of the module's bytes (the cache key).
    #[must_use]
    pub fn module_sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The limits every call runs under.
    #[must_use]
    pub fn limits(&self) -> WasmLimits {
        self.inner.limits
    }

    /// A fresh instance, for benchmarks of instantiation and for ABI tests: the raw exports
    /// with the limits applied.
    ///
    /// # Errors
    /// As instantiation fails.
    pub fn instantiate(&self) -> Result<RawInstance, HostError> {
        Ok(RawInstance {
            slot: Slot::new(self)?,
        })
    }
}

/// What each store carries: the memory limiter, and whether it refused to grow. (wasmtime's
/// `StoreLimits` would bound memory the same way but cannot say afterwards that it refused, and
/// that is what tells a memory-exhaustion trap, `host.limit_exceeded`, from any other.)
struct SlotData {
    max_memory: usize,
    memory_refused: bool,
}

impl ResourceLimiter for SlotData {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_refused = true;
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

/// One instance with its store and typed exports.
struct Slot {
    store: Store<SlotData>,
    memory: Memory,
    abi_version: TypedFunc<(), u32>,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    load: TypedFunc<(u32, u32), u64>,
    replace: TypedFunc<(u32, u32, i64), u64>,
    decide: TypedFunc<(u32, u32), u64>,
    decide_http: TypedFunc<(u32, u32), u64>,
    apply_replay: TypedFunc<(u32, u32), u64>,
    mint: TypedFunc<(u32, u32), u64>,
    status: TypedFunc<(), u64>,
    limits: WasmLimits,
}

/// Which export a call goes to.
#[derive(Debug, Clone, Copy)]
enum Export {
    Load,
    /// `mandate_replace` with the host's clock.
    Replace(i64),
    Decide,
    DecideHttp,
    ApplyReplay,
    Mint,
}

impl Slot {
    fn new(runtime: &WasmRuntime) -> Result<Slot, HostError> {
        let inner = &runtime.inner;
        let mut store = Store::new(
            &inner.engine,
            SlotData {
                max_memory: inner.limits.memory_bytes,
                memory_refused: false,
            },
        );
        store.limiter(|data| data as &mut dyn ResourceLimiter);
        store
            .set_fuel(inner.limits.fuel_per_load)
            .map_err(module_err)?;
        let instance: Instance = inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| HostError::Module("the module exports no memory".into()))?;
        macro_rules! export {
            ($name:literal) => {
                instance
                    .get_typed_func(&mut store, $name)
                    .map_err(module_err)?
            };
        }
        // The version first, so a module of another ABI is refused as such rather than for an
        // export it does not have.
        let abi_version: TypedFunc<(), u32> = export!("mandate_abi_version");
        let version = abi_version
            .call(&mut store, ())
            .map_err(|e| classify(&store, e))?;
        if version != ABI_VERSION {
            return Err(HostError::Module(format!(
                "module speaks ABI {version}, this SDK speaks {ABI_VERSION}"
            )));
        }
        Ok(Slot {
            abi_version,
            alloc: export!("mandate_alloc"),
            free: export!("mandate_free"),
            load: export!("mandate_load"),
            replace: export!("mandate_replace"),
            decide: export!("mandate_decide"),
            decide_http: export!("mandate_decide_http"),
            apply_replay: export!("mandate_apply_replay"),
            mint: export!("mandate_mint"),
            status: export!("mandate_status"),
            memory,
            store,
            limits: inner.limits,
        })
    }

    fn abi_version(&mut self) -> Result<u32, HostError> {
        self.store
            .set_fuel(self.limits.fuel_per_call)
            .map_err(module_err)?;
        self.abi_version
            .call(&mut self.store, ())
            .map_err(|e| classify(&self.store, e))
    }

    /// Reads and frees an answer buffer.
    fn take_answer(&mut self, packed: u64) -> Result<Vec<u8>, HostError> {
        if packed == 0 {
            return Err(HostError::LimitExceeded(
                "the module could not allocate its answer".into(),
            ));
        }
        let ptr = (packed >> 32) as u32;
        let len = (packed & 0xffff_ffff) as u32;
        let mut out = vec![0u8; len as usize];
        self.memory
            .read(&self.store, ptr as usize, &mut out)
            .map_err(|_| {
                HostError::Trap("the module answered a buffer outside its memory".into())
            })?;
        self.free
            .call(&mut self.store, (ptr, len))
            .map_err(|e| classify(&self.store, e))?;
        Ok(out)
    }

    fn call(&mut self, export: Export, input: &[u8], fuel: u64) -> Result<Vec<u8>, HostError> {
        self.store.set_fuel(fuel).map_err(module_err)?;
        let len = u32::try_from(input.len())
            .map_err(|_| HostError::LimitExceeded("the input is larger than 4 GiB".into()))?;
        let ptr = if len == 0 {
            0
        } else {
            let ptr = self
                .alloc
                .call(&mut self.store, len)
                .map_err(|e| classify(&self.store, e))?;
            if ptr == 0 {
                return Err(HostError::LimitExceeded(
                    "the module could not allocate the input".into(),
                ));
            }
            self.memory
                .write(&mut self.store, ptr as usize, input)
                .map_err(|_| {
                    HostError::Trap("mandate_alloc answered a buffer outside memory".into())
                })?;
            ptr
        };
        let func = match export {
            Export::Replace(now) => {
                let replace = self.replace.clone();
                let packed = replace.call(&mut self.store, (ptr, len, now));
                return self.finish_call(packed, ptr, len);
            }
            Export::Load => self.load.clone(),
            Export::Decide => self.decide.clone(),
            Export::DecideHttp => self.decide_http.clone(),
            Export::ApplyReplay => self.apply_replay.clone(),
            Export::Mint => self.mint.clone(),
        };
        let packed = func.call(&mut self.store, (ptr, len));
        self.finish_call(packed, ptr, len)
    }

    /// Frees the input buffer of a call and reads its answer.
    fn finish_call(
        &mut self,
        packed: wasmtime::Result<u64>,
        ptr: u32,
        len: u32,
    ) -> Result<Vec<u8>, HostError> {
        let packed = packed.map_err(|e| classify(&self.store, e))?;
        if len != 0 {
            self.free
                .call(&mut self.store, (ptr, len))
                .map_err(|e| classify(&self.store, e))?;
        }
        self.take_answer(packed)
    }

    /// `mandate_status`, on the load budget (it is part of loading).
    fn status(&mut self) -> Result<Vec<u8>, HostError> {
        self.store
            .set_fuel(self.limits.fuel_per_load)
            .map_err(module_err)?;
        let packed = self
            .status
            .call(&mut self.store, ())
            .map_err(|e| classify(&self.store, e))?;
        self.take_answer(packed)
    }
}

/// Turns a wasmtime error into the SDK's: fuel or memory exhaustion is
/// [`HostError::LimitExceeded`], any other trap [`HostError::Trap`].
fn classify(store: &Store<SlotData>, e: wasmtime::Error) -> HostError {
    if matches!(e.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
        return HostError::LimitExceeded("the module ran out of fuel".into());
    }
    if store.data().memory_refused {
        return HostError::LimitExceeded(format!("the module hit its memory limit ({e})"));
    }
    HostError::Trap(e.to_string())
}

/// One engine loaded from one config: the config, its status, and idle instances holding it.
pub(crate) struct WasmEngine {
    runtime: WasmRuntime,
    config: Arc<[u8]>,
    idle: Mutex<Vec<Slot>>,
}

impl WasmEngine {
    /// Loads `config` into a first instance. Fails only when the module cannot run; a bad
    /// config gives an engine whose instances deny.
    pub(crate) fn load(
        runtime: &WasmRuntime,
        config: &[u8],
    ) -> Result<(WasmEngine, Vec<u8>), HostError> {
        let engine = WasmEngine {
            runtime: runtime.clone(),
            config: Arc::from(config),
            idle: Mutex::new(Vec::new()),
        };
        let mut slot = engine.new_slot()?;
        let status = slot.status()?;
        engine.put_back(slot);
        Ok((engine, status))
    }

    fn new_slot(&self) -> Result<Slot, HostError> {
        let mut slot = Slot::new(&self.runtime)?;
        let limits = self.runtime.inner.limits;
        let status = slot.call(Export::Load, &self.config, limits.fuel_per_load)?;
        drop(status);
        Ok(slot)
    }

    fn take(&self) -> Result<Slot, HostError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(slot) => Ok(slot),
            None => self.new_slot(),
        }
    }

    fn put_back(&self, slot: Slot) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.runtime.inner.limits.max_idle_instances {
            idle.push(slot);
        }
    }

    fn run(&self, export: Export, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let mut slot = self.take()?;
        let fuel = self.runtime.inner.limits.fuel_per_call;
        // On error the slot is dropped: an instance that trapped is never reused.
        let out = slot.call(export, input, fuel)?;
        self.put_back(slot);
        Ok(out)
    }

    pub(crate) fn decide(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        self.run(Export::Decide, input)
    }

    pub(crate) fn decide_http(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        self.run(Export::DecideHttp, input)
    }

    pub(crate) fn apply_replay(&self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        self.run(Export::ApplyReplay, input)
    }
}

/// A bare instance of the module, for tests and benchmarks of the ABI itself. Every call runs
/// under the runtime's limits; errors are the SDK's (fuel, memory, trap).
pub struct RawInstance {
    slot: Slot,
}

impl core::fmt::Debug for RawInstance {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RawInstance")
    }
}

impl RawInstance {
    fn fuel(&self) -> u64 {
        self.slot.limits.fuel_per_call
    }

    /// `mandate_load`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn load(&mut self, config: &[u8]) -> Result<Vec<u8>, HostError> {
        let fuel = self.slot.limits.fuel_per_load;
        self.slot.call(Export::Load, config, fuel)
    }

    /// `mandate_replace` at `now`: installs `config` only when the core's replacement rule
    /// lets it replace what this instance serves.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn replace(&mut self, config: &[u8], now: i64) -> Result<Vec<u8>, HostError> {
        let fuel = self.slot.limits.fuel_per_load;
        self.slot.call(Export::Replace(now), config, fuel)
    }

    /// `mandate_decide`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn decide(&mut self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let fuel = self.fuel();
        self.slot.call(Export::Decide, input, fuel)
    }

    /// `mandate_decide_http`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn decide_http(&mut self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let fuel = self.fuel();
        self.slot.call(Export::DecideHttp, input, fuel)
    }

    /// `mandate_apply_replay`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn apply_replay(&mut self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let fuel = self.fuel();
        self.slot.call(Export::ApplyReplay, input, fuel)
    }

    /// `mandate_mint`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn mint(&mut self, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let fuel = self.fuel();
        self.slot.call(Export::Mint, input, fuel)
    }

    /// `mandate_status`.
    ///
    /// # Errors
    /// When the module traps or exceeds its limits.
    pub fn status(&mut self) -> Result<Vec<u8>, HostError> {
        self.slot.status()
    }

    /// `mandate_abi_version`.
    ///
    /// # Errors
    /// When the module traps.
    pub fn abi_version(&mut self) -> Result<u32, HostError> {
        self.slot.abi_version()
    }

    /// Calls `mandate_alloc(len)` directly.
    ///
    /// # Errors
    /// When the module traps.
    pub fn alloc_raw(&mut self, len: u32) -> Result<u32, HostError> {
        let fuel = self.fuel();
        self.slot.store.set_fuel(fuel).map_err(module_err)?;
        self.slot
            .alloc
            .call(&mut self.slot.store, len)
            .map_err(|e| classify(&self.slot.store, e))
    }

    /// Calls `mandate_free(ptr, len)` directly.
    ///
    /// # Errors
    /// When the module traps.
    pub fn free_raw(&mut self, ptr: u32, len: u32) -> Result<(), HostError> {
        let fuel = self.fuel();
        self.slot.store.set_fuel(fuel).map_err(module_err)?;
        self.slot
            .free
            .call(&mut self.slot.store, (ptr, len))
            .map_err(|e| classify(&self.slot.store, e))
    }

    /// Calls `mandate_decide(ptr, len)` with any pointer and length (no buffer management),
    /// and reads the answer. For robustness tests.
    ///
    /// # Errors
    /// When the module traps or answers a buffer outside its memory.
    pub fn decide_raw(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        let func = self.slot.decide.clone();
        self.call_raw(&func, ptr, len)
    }

    /// Calls `mandate_decide_http(ptr, len)` with any pointer and length, as
    /// [`Self::decide_raw`].
    ///
    /// # Errors
    /// When the module traps or answers a buffer outside its memory.
    pub fn decide_http_raw(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        let func = self.slot.decide_http.clone();
        self.call_raw(&func, ptr, len)
    }

    fn call_raw(
        &mut self,
        func: &TypedFunc<(u32, u32), u64>,
        ptr: u32,
        len: u32,
    ) -> Result<Vec<u8>, HostError> {
        let fuel = self.fuel();
        self.slot.store.set_fuel(fuel).map_err(module_err)?;
        let packed = func
            .call(&mut self.slot.store, (ptr, len))
            .map_err(|e| classify(&self.slot.store, e))?;
        self.slot.take_answer(packed)
    }

    /// Writes bytes into the module's memory at `ptr` (for robustness tests).
    ///
    /// # Errors
    /// When the range is outside memory.
    pub fn write_memory(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), HostError> {
        self.slot
            .memory
            .write(&mut self.slot.store, ptr as usize, bytes)
            .map_err(|e| HostError::Trap(e.to_string()))
    }

    /// Fuel the last call used (of the per-call budget; about one unit per wasm instruction).
    #[must_use]
    pub fn fuel_used(&self) -> u64 {
        let left = self.slot.store.get_fuel().unwrap_or(0);
        self.slot.limits.fuel_per_call.saturating_sub(left)
    }

    /// The module's memory size in bytes.
    #[must_use]
    pub fn memory_size(&self) -> usize {
        self.slot.memory.data_size(&self.slot.store)
    }
}
