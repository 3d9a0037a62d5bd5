//! `mandate audit verify --key FILE`: a keyed (HMAC-SHA256) audit chain written through
//! host-rust, verified with the right key, the wrong one, none, and after a forged rewrite.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use assert_cmd::Command;
use host_rust::audit::{self, AuditLog, AuditOptions, ChainKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const OTHER: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn mandate(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("mandate").unwrap();
    c.current_dir(dir);
    c
}

/// Runs `audit verify LOG --json` with `args`: the exit code and the document on stdout (the
/// report, or the error).
fn verify_log(dir: &Path, log: &str, args: &[&str]) -> (Option<i32>, Value) {
    let out = mandate(dir)
        .args(["audit", "verify", log, "--json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| Value::String(format!("{e}: {stderr}")));
    (out.status.code(), doc)
}

fn verify(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    verify_log(dir, "audit.jsonl", args)
}

fn code(doc: &Value) -> &str {
    doc["error"]["code"].as_str().unwrap_or_default()
}

/// Five records through host-rust's API, under the key in `chain.key`.
fn keyed_log(dir: &Path) {
    std::fs::write(dir.join("chain.key"), format!("{KEY}\n")).unwrap();
    std::fs::write(dir.join("other.key"), OTHER).unwrap();
    let options = AuditOptions {
        chain_key: Some(ChainKey::from_file(dir.join("chain.key")).unwrap()),
        ..AuditOptions::default()
    };
    let (log, _) = AuditLog::open(dir.join("audit.jsonl"), options).unwrap();
    for i in 0..5 {
        log.append(&json!({"decision_id": format!("d{i}"), "outcome": "allow"}))
            .unwrap();
    }
}

#[test]
fn a_keyed_log_verifies_with_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keyed_log(d);

    let (status, ok) = verify(d, &["--key", "chain.key"]);
    assert_eq!(status, Some(0), "{ok}");
    assert_eq!(
        (
            ok["ok"].as_bool(),
            ok["records"].as_u64(),
            ok["keyed"].as_bool()
        ),
        (Some(true), Some(5), Some(true))
    );
    let human = mandate(d)
        .args(["audit", "verify", "audit.jsonl", "--key", "chain.key"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&human.stdout)
            .contains("5 record(s), keyed (HMAC-SHA256) chain intact"),
        "{human:?}"
    );

    let (status, err) = verify(d, &["--key", "other.key"]);
    assert_eq!(
        (status, code(&err)),
        (Some(7), "audit.key_mismatch"),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("record 1"),
        "{err}"
    );

    let (status, err) = verify(d, &[]);
    assert_eq!(
        (status, code(&err)),
        (Some(7), "audit.key_required"),
        "{err}"
    );
}

#[test]
fn a_forged_rewrite_does_not_verify_under_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keyed_log(d);
    // Edit record 3 and recompute every later link and the head as SHA-256, as someone
    // without the key would.
    let text = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut prev: Option<String> = None;
    for (i, line) in lines.iter_mut().enumerate().skip(2) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if i == 2 {
            v["audit"]["outcome"] = json!("deny");
        }
        if let Some(p) = prev {
            v["prev"] = json!(p);
        }
        *line = audit::canonical_json(&v);
        prev = Some(
            Sha256::digest(line.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
    }
    std::fs::write(d.join("audit.jsonl"), format!("{}\n", lines.join("\n"))).unwrap();
    let head = json!({"chain": "hmac-sha256", "hash": prev.unwrap(), "seq": 5});
    std::fs::write(
        d.join("audit.jsonl.head"),
        format!("{}\n", audit::canonical_json(&head)),
    )
    .unwrap();

    let (status, err) = verify(d, &["--key", "chain.key"]);
    assert_eq!((status, code(&err)), (Some(7), "audit.tampered"), "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at record 4"),
        "{err}"
    );

    // An unkeyed log (or a keyed one rewritten whole as unkeyed): refused under the key.
    let (log, _) = AuditLog::open(d.join("plain.jsonl"), AuditOptions::default()).unwrap();
    log.append(&json!({"decision_id": "d0"})).unwrap();
    drop(log);
    let (status, err) = verify_log(d, "plain.jsonl", &["--key", "chain.key"]);
    assert_eq!(
        (status, code(&err)),
        (Some(7), "audit.key_mismatch"),
        "{err}"
    );
    let (status, ok) = verify_log(d, "plain.jsonl", &[]);
    assert_eq!(
        (status, ok["keyed"].as_bool()),
        (Some(0), Some(false)),
        "{ok}"
    );
}

#[test]
fn a_key_file_that_is_missing_or_not_a_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keyed_log(d);
    let (status, err) = verify(d, &["--key", "missing.key"]);
    assert_eq!((status, code(&err)), (Some(4), "file.not_found"), "{err}");
    std::fs::write(d.join("short.key"), "00112233").unwrap();
    let (status, err) = verify(d, &["--key", "short.key"]);
    assert_eq!(
        (status, code(&err)),
        (Some(5), "audit.key_invalid"),
        "{err}"
    );
}
