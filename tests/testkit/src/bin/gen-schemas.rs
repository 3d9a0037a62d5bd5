//! Generates `docs/schemas/<name>.schema.json` (JSON Schema 2020-12 of the load config, the
//! decide inputs, the bundle, the registry, the settings, the load status and the decision, and
//! of the guardrails' `input`) and `bindings-js/npm/types/wire.d.ts` (the wire documents'
//! TypeScript types), and the code table for JS
//! (`bindings-js/npm/src/codes.js`, `bindings-js/npm/types/codes.d.ts`, from `policy_core::Code`).
//! The input schemas derive from the core's parser types, so they cannot drift from what the
//! parser accepts; `tests/schemas.rs` holds every vector to them. `gen-schemas --check` fails
//! when a file is stale (or a stray one sits in `docs/schemas/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use testkit::{codes, schemas};

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", ".."].iter().collect();
    let all = schemas::all();
    let ts = match schemas::typescript(&all) {
        Ok(ts) => ts,
        Err(e) => {
            eprintln!("gen-schemas: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = root.join("docs").join("schemas");
    let mut files: Vec<(PathBuf, String)> = schemas::files()
        .iter()
        .map(|n| {
            (
                dir.join(format!("{}.schema.json", n.file)),
                schemas::file_text(&n.schema),
            )
        })
        .collect();
    files.push((root.join("bindings-js/npm/types/wire.d.ts"), ts));
    files.push((root.join("bindings-js/npm/src/codes.js"), codes::js()));
    files.push((root.join("bindings-js/npm/types/codes.d.ts"), codes::dts()));
    let mut stale = Vec::new();
    for (path, text) in &files {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current == *text {
            continue;
        }
        if check {
            stale.push(shown(&root, path));
        } else if let Err(e) = write(path, text) {
            eprintln!("gen-schemas: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if !files.iter().any(|(p, _)| *p == path) {
            stale.push(format!("{} (not generated)", shown(&root, &path)));
        }
    }
    if !stale.is_empty() {
        for s in &stale {
            eprintln!("stale: {s}");
        }
        eprintln!("run `cargo run -p testkit --bin gen-schemas`");
        return ExitCode::FAILURE;
    }
    let verb = if check { "up to date" } else { "written" };
    println!(
        "schemas {verb}: {} schemas, wire.d.ts, codes.js and codes.d.ts",
        files.len() - 3
    );
    ExitCode::SUCCESS
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
