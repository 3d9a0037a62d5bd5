//! The on-disk cache of compiled modules.
//!
//! Compiling the module with Cranelift takes a good fraction of a second; loading a compiled
//! artifact takes milliseconds. Artifacts are keyed by the SHA-256 of the module's bytes and the
//! wasmtime version, so a new module or a new wasmtime never meets an old artifact.
//!
//! Loading an artifact runs native code from it, so only artifacts this process's user wrote are
//! loaded: the cache directory must be owned by the current user and not writable by group or
//! others (it is created `0700`), and each artifact carries the SHA-256 of its own bytes, so a
//! torn or corrupted write is recompiled rather than loaded. Anything that fails these checks is
//! ignored and the module compiled afresh.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::{Engine, Module};

/// The file that would hold the artifact of a module with this digest.
pub(crate) fn artifact_path(dir: &Path, module_sha256: &str) -> PathBuf {
    dir.join(format!(
        "mandate-{module_sha256}-wasmtime-{}.cwasm",
        wasmtime_version()
    ))
}

fn wasmtime_version() -> &'static str {
    // The crate is pinned exactly in Cargo.toml; keep this in step with it.
    "48.0.8"
}

/// Whether `dir` is a directory only the current user can write.
fn trusted_dir(dir: &Path) -> bool {
    let Ok(meta) = fs::metadata(dir) else {
        return false;
    };
    // The owner of /proc/self is this process's user (no libc call needed).
    let Ok(me) = fs::metadata("/proc/self") else {
        return false;
    };
    meta.is_dir() && meta.uid() == me.uid() && meta.permissions().mode() & 0o022 == 0
}

/// Loads a cached artifact, if a trusted one exists.
pub(crate) fn load(engine: &Engine, dir: &Path, module_sha256: &str) -> Option<Module> {
    if !trusted_dir(dir) {
        return None;
    }
    let path = artifact_path(dir, module_sha256);
    let meta = fs::symlink_metadata(&path).ok()?;
    let me = fs::metadata("/proc/self").ok()?;
    if !meta.is_file() || meta.uid() != me.uid() || meta.permissions().mode() & 0o022 != 0 {
        return None;
    }
    let bytes = fs::read(&path).ok()?;
    let (digest, artifact) = bytes.split_at_checked(32)?;
    if Sha256::digest(artifact).as_slice() != digest {
        return None;
    }
    // SAFETY: `Module::deserialize` trusts its input to be an artifact wasmtime produced. This
    // one was: it sits in a directory only this user can write, under a name keyed by the module
    // digest and wasmtime version, and its bytes hash to the digest written with them. wasmtime
    // itself rejects artifacts from another version or configuration.
    unsafe { Module::deserialize(engine, artifact) }.ok()
}

/// Stores an artifact (best effort: a cache that cannot be written only costs a recompile).
pub(crate) fn store(dir: &Path, module_sha256: &str, module: &Module) {
    let _ = try_store(dir, module_sha256, module);
}

fn try_store(dir: &Path, module_sha256: &str, module: &Module) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if !trusted_dir(dir) {
        return Ok(());
    }
    let artifact = module
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = artifact_path(dir, module_sha256);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&Sha256::digest(&artifact))?;
    f.write_all(&artifact)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)
}
