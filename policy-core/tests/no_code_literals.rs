//! Every code lives in one table, `policy_core::Code` (policy-core/src/reason.rs). The hosts'
//! production sources — the CLI, the Rust SDK, the Envoy filter, the npm and Python packages — name codes
//! through it (`Code::ReplayDetected`, `Codes.REPLAY_DETECTED`), never as string literals: this
//! test scans their string literals and fails naming file:line for any that holds a code (the
//! whole literal, or a code word inside it, such as a `"host.io: {0}"` message format).
//!
//! Tests are exempt: `tests/` directories are not scanned, nor the `#[cfg(test)]` module that
//! ends a Rust file. `bindings-js/npm/src/codes.js` is the table itself, generated from `Code` by
//! `gen-schemas` (which checks it is current), so it is not scanned either.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use policy_core::Code;

/// Directories of production sources, and the extension scanned in each.
const SCANNED: &[(&str, &str)] = &[
    ("cli/src", "rs"),
    ("host-rust/src", "rs"),
    ("examples/envoy-filter/src", "rs"),
    ("wasm/src", "rs"),
    ("bindings-js/src", "rs"),
    ("bindings-python/src", "rs"),
    ("bindings-js/npm/src", "js"),
];

/// The generated JS table (see the crate doc).
const TABLE: &str = "bindings-js/npm/src/codes.js";

/// A string literal's text and the 1-based line it starts on.
struct Literal {
    line: usize,
    text: String,
}

/// The string literals of Rust source, skipping comments, char literals and lifetimes.
fn rust_literals(src: &str) -> Vec<Literal> {
    let b: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            i += 2;
            while i < b.len() && !(b[i] == '*' && at(i + 1) == '/') {
                line += usize::from(b[i] == '\n');
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(at(i + 1), '"' | '#') && !(i > 0 && ident(b[i - 1])) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                i += 1;
                continue;
            }
            let start_line = line;
            let mut text = String::new();
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                line += usize::from(b[j] == '\n');
                text.push(b[j]);
                j += 1;
            }
            out.push(Literal {
                line: start_line,
                text,
            });
            i = j;
        } else if c == '"' {
            let start_line = line;
            let mut text = String::new();
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    text.push(b[i]);
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                text.push(at(i));
                i += 1;
            }
            i += 1;
            out.push(Literal {
                line: start_line,
                text,
            });
        } else if c == '\'' {
            // '\x' or 'x' is a char literal; anything else is a lifetime or label.
            if at(i + 1) == '\\' {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The string literals of JS source ('…', "…", `…`), skipping comments and regex literals.
fn js_literals(src: &str) -> Vec<Literal> {
    let b: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    // The last significant character, to tell a regex literal from a division.
    let mut prev = '\0';
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            i += 2;
            while i < b.len() && !(b[i] == '*' && at(i + 1) == '/') {
                line += usize::from(b[i] == '\n');
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == '/' && !(ident(prev) || prev == ')' || prev == ']') {
            // A regex literal: skip it (a class may hold '/').
            let mut in_class = false;
            i += 1;
            while i < b.len() && b[i] != '\n' && (in_class || b[i] != '/') {
                match b[i] {
                    '\\' => i += 1,
                    '[' => in_class = true,
                    ']' => in_class = false,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
            prev = 'r';
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let start_line = line;
            let mut text = String::new();
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' {
                    text.push(b[i]);
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                text.push(at(i));
                i += 1;
            }
            i += 1;
            out.push(Literal {
                line: start_line,
                text,
            });
            prev = 's';
            continue;
        }
        prev = c;
        i += 1;
    }
    out
}

/// The code a literal holds: the whole literal, or a code word in it (bounded by characters
/// that cannot be part of a code).
fn code_in(text: &str) -> Option<Code> {
    let part = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.';
    text.split(|c: char| !part(c))
        .map(|w| w.trim_matches('.'))
        .find_map(Code::parse)
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

#[test]
fn hosts_name_codes_through_the_table() {
    let root: PathBuf = [env!("CARGO_MANIFEST_DIR"), ".."].iter().collect();
    let mut found = Vec::new();
    let mut scanned = 0;
    for (dir, ext) in SCANNED {
        let mut paths = Vec::new();
        files(&root.join(dir), ext, &mut paths);
        paths.sort();
        for path in paths {
            let shown = path.strip_prefix(&root).unwrap().display().to_string();
            if shown == TABLE {
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            let literals = if *ext == "rs" {
                // Production code stops at the file's test module.
                let end = src.find("#[cfg(test)]").unwrap_or(src.len());
                rust_literals(&src[..end])
            } else {
                js_literals(&src)
            };
            scanned += 1;
            for l in literals {
                if let Some(code) = code_in(&l.text) {
                    found.push(format!("{shown}:{}: {:?} holds `{code}`", l.line, l.text));
                }
            }
        }
    }
    assert!(
        scanned > 20,
        "only {scanned} files scanned: are the paths right?"
    );
    assert!(
        found.is_empty(),
        "code string literals outside the table (use policy_core::Code / Codes.X):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_literals_and_skips_comments() {
    let rs = "// \"token.expired\"\nlet a = 'x'; fn f<'a>() {}\nlet s = r#\"proof.stale\"#;\nlet t = \"host.io: {0}\";\n/* \"agent.unknown\" */";
    let got: Vec<_> = rust_literals(rs)
        .iter()
        .filter_map(|l| code_in(&l.text).map(|c| (l.line, c)))
        .collect();
    assert_eq!(got, [(3, Code::ProofStale), (4, Code::HostIo)]);
    let js = "// 'token.expired'\nconst r = /['\"]/g;\nconst c = x || 'internal.error';\nconst n = a / b / `${y} mint.invalid`;";
    let got: Vec<_> = js_literals(js)
        .iter()
        .filter_map(|l| code_in(&l.text).map(|c| (l.line, c)))
        .collect();
    assert_eq!(got, [(3, Code::InternalError), (4, Code::MintInvalid)]);
    assert_eq!(code_in("registry.yaml"), None);
    assert_eq!(
        code_in("a `replay.detected` deny"),
        Some(Code::ReplayDetected)
    );
}
