//! The built module (dist/mandate.wasm, from scripts/build-wasm.sh): it imports nothing and
//! exports exactly the ABI.
#![allow(clippy::std_instead_of_core)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use wasmparser::{ExternalKind, Parser, Payload};

// A helper, not a #[test], so clippy.toml's allow-panic-in-tests does not cover it; failing here
// is the test failing, with the reason.
#[allow(clippy::panic)]
fn module() -> Vec<u8> {
    let path = std::env::var_os("MANDATE_WASM").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/mandate.wasm"),
        PathBuf::from,
    );
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with scripts/build-wasm.sh",
            path.display()
        )
    })
}

#[test]
fn the_module_imports_nothing() {
    let bytes = module();
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        if let Payload::ImportSection(reader) = payload.unwrap() {
            for imp in reader.into_imports() {
                let imp = imp.unwrap();
                imports.push(format!("{}::{}", imp.module, imp.name));
            }
        }
    }
    assert!(imports.is_empty(), "the module imports {imports:?}");
}

#[test]
fn the_module_exports_exactly_the_abi() {
    let bytes = module();
    let mut funcs = BTreeSet::new();
    let mut memories = BTreeSet::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        if let Payload::ExportSection(reader) = payload.unwrap() {
            for exp in reader {
                let exp = exp.unwrap();
                match exp.kind {
                    ExternalKind::Func => {
                        funcs.insert(exp.name.to_string());
                    }
                    ExternalKind::Memory => {
                        memories.insert(exp.name.to_string());
                    }
                    _ => {}
                }
            }
        }
    }
    let want: BTreeSet<String> = [
        "mandate_abi_version",
        "mandate_alloc",
        "mandate_free",
        "mandate_load",
        "mandate_replace",
        "mandate_decide",
        "mandate_decide_http",
        "mandate_apply_replay",
        "mandate_mint",
        "mandate_status",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(funcs, want);
    assert_eq!(memories, BTreeSet::from(["memory".to_string()]));
}
