//! The keyed audit chain (`AuditOptions::chain_key`): the format, the refusals of a key that
//! does not fit, and forgeries found under the right key even when every later link and the head
//! were recomputed (as SHA-256, or under another key).
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit as _, Mac as _};
use host_rust::audit::{
    self, AuditError, AuditLog, AuditOptions, ChainKey, Head, KeyMismatch, Redactor, Tamper,
};
use policy_core::Code;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const KEY_HEX: &str = "5c1f0e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER_HEX: &str = "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key() -> ChainKey {
    ChainKey::new(unhex(KEY_HEX)).unwrap()
}

fn other_key() -> ChainKey {
    ChainKey::new(unhex(OTHER_HEX)).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256, computed here rather than by the crate under test.
fn hmac_hex(key: &[u8], line: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(line);
    hex(&mac.finalize().into_bytes())
}

fn sha_hex(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

fn keyed(rotate: Option<u64>) -> AuditOptions {
    AuditOptions {
        chain_key: Some(key()),
        rotate_bytes: rotate,
        ..AuditOptions::default()
    }
}

fn record(i: u64) -> Value {
    json!({"decision_id": format!("d-{i}"), "outcome": "allow", "user": "alice"})
}

/// A keyed log of `n` records in `dir`.
fn keyed_log(dir: &Path, n: u64) -> (PathBuf, Vec<audit::Receipt>) {
    let path = dir.join("audit.log");
    let (log, recovery) = AuditLog::open(&path, keyed(None)).unwrap();
    assert!(recovery.is_none());
    let receipts = (1..=n).map(|i| log.append(&record(i)).unwrap()).collect();
    (path, receipts)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn head_text(path: &Path) -> String {
    std::fs::read_to_string(audit::head_path(path)).unwrap()
}

/// How a forger recomputes links: the next line's `prev`, and the head's `hash`.
#[derive(Clone, Copy)]
enum Relink<'a> {
    /// SHA-256, keeping `"chain":"hmac-sha256"` in the lines and the head.
    Sha256,
    /// SHA-256 in the unkeyed format (no `chain` from the edit on, nor in the head).
    Unkeyed,
    /// HMAC-SHA256 under a key of the forger's.
    Key(&'a [u8]),
}

impl Relink<'_> {
    fn link(self, line: &str) -> String {
        match self {
            Relink::Sha256 | Relink::Unkeyed => sha_hex(line.as_bytes()),
            Relink::Key(k) => hmac_hex(k, line.as_bytes()),
        }
    }
}

/// Rewrites the log from record `from` (1-based) on: `edit` changes that record's audit
/// object, every later `prev` and the head are recomputed with `relink`. When `from` is 1 the
/// first `prev` is recomputed too (zeros for SHA-256, the forger's genesis for a key).
fn forge(path: &Path, from: usize, relink: Relink<'_>, edit: impl Fn(&mut Value)) {
    let mut l = lines(path);
    let mut prev: Option<String> = match relink {
        _ if from > 1 => None,
        Relink::Key(k) => Some(hmac_hex(k, b"")),
        Relink::Sha256 | Relink::Unkeyed => Some(audit::GENESIS.to_string()),
    };
    for (i, line) in l.iter_mut().enumerate().skip(from - 1) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if i == from - 1 {
            edit(&mut v["audit"]);
        }
        if let Some(p) = &prev {
            v["prev"] = Value::String(p.clone());
        }
        if matches!(relink, Relink::Unkeyed) {
            v.as_object_mut().unwrap().remove("chain");
        }
        *line = audit::canonical_json(&v);
        prev = Some(relink.link(line));
    }
    let mut text = l.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
    let mut head = json!({"hash": prev.unwrap(), "seq": l.len()});
    if !matches!(relink, Relink::Unkeyed) {
        head["chain"] = json!("hmac-sha256");
    }
    std::fs::write(
        audit::head_path(path),
        format!("{}\n", audit::canonical_json(&head)),
    )
    .unwrap();
}

fn verify_keyed(path: &Path) -> Result<audit::Report, AuditError> {
    audit::verify_with_key(path, None, Some(&key()))
}

#[test]
fn a_keyed_record_and_head_are_these_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = keyed_log(dir.path(), 2);
    let k = unhex(KEY_HEX);
    let genesis = hmac_hex(&k, b"");
    assert_eq!(genesis, key().genesis());
    let l = lines(&path);
    let first = format!(
        r#"{{"audit":{{"decision_id":"d-1","outcome":"allow","user":"alice"}},"chain":"hmac-sha256","prev":"{genesis}","seq":1}}"#
    );
    assert_eq!(l[0], first);
    let link1 = hmac_hex(&k, first.as_bytes());
    let second = format!(
        r#"{{"audit":{{"decision_id":"d-2","outcome":"allow","user":"alice"}},"chain":"hmac-sha256","prev":"{link1}","seq":2}}"#
    );
    assert_eq!(l[1], second);
    let link2 = hmac_hex(&k, second.as_bytes());
    assert_eq!(
        head_text(&path),
        format!("{{\"chain\":\"hmac-sha256\",\"hash\":\"{link2}\",\"seq\":2}}\n")
    );
    assert_eq!(
        receipts.iter().map(|r| r.hash.clone()).collect::<Vec<_>>(),
        vec![link1, link2.clone()]
    );
    let report = verify_keyed(&path).unwrap();
    assert_eq!(
        (report.records, report.last_hash, report.keyed),
        (2, link2, true)
    );
}

#[test]
fn an_unkeyed_log_is_todays_format_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    assert!(!log.keyed());
    log.append(&record(1)).unwrap();
    drop(log);
    let line = format!(
        r#"{{"audit":{{"decision_id":"d-1","outcome":"allow","user":"alice"}},"prev":"{}","seq":1}}"#,
        audit::GENESIS
    );
    assert_eq!(lines(&path), vec![line.clone()]);
    assert_eq!(
        head_text(&path),
        format!("{{\"hash\":\"{}\",\"seq\":1}}\n", sha_hex(line.as_bytes()))
    );
    assert!(!audit::verify(&path, None).unwrap().keyed);
}

#[test]
fn a_keyed_log_is_not_verified_without_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = keyed_log(dir.path(), 3);
    let err = audit::verify(&path, None).unwrap_err();
    assert!(matches!(err, AuditError::KeyRequired), "{err}");
    assert_eq!(err.code(), Code::AuditKeyRequired);
    assert_eq!(err.code().as_str(), "audit.key_required");
    // An empty keyed log too: its head says it is keyed.
    let empty = dir.path().join("empty.log");
    drop(AuditLog::open(&empty, keyed(None)).unwrap());
    assert!(matches!(
        audit::verify(&empty, None),
        Err(AuditError::KeyRequired)
    ));
}

#[test]
fn the_wrong_key_fails_at_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = keyed_log(dir.path(), 3);
    let err = audit::verify_with_key(&path, None, Some(&other_key())).unwrap_err();
    assert!(
        matches!(err, AuditError::KeyMismatch(KeyMismatch::OtherKey)),
        "{err}"
    );
    assert_eq!(err.code().as_str(), "audit.key_mismatch");
    assert!(err.to_string().contains("record 1"), "{err}");
    // An empty keyed log names its key in its head.
    let empty = dir.path().join("empty.log");
    drop(AuditLog::open(&empty, keyed(None)).unwrap());
    assert!(matches!(
        audit::verify_with_key(&empty, None, Some(&other_key())),
        Err(AuditError::KeyMismatch(KeyMismatch::OtherKey))
    ));
    assert_eq!(verify_keyed(&empty).unwrap().records, 0);
}

#[test]
fn an_unkeyed_log_is_refused_under_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    log.append(&record(1)).unwrap();
    drop(log);
    let err = verify_keyed(&path).unwrap_err();
    assert!(
        matches!(err, AuditError::KeyMismatch(KeyMismatch::Unkeyed)),
        "{err}"
    );
    let err = AuditLog::open(&path, keyed(None)).unwrap_err();
    assert!(
        matches!(err, AuditError::KeyMismatch(KeyMismatch::Unkeyed)),
        "{err}"
    );
    assert_eq!(err.code(), Code::AuditKeyMismatch);
}

#[test]
fn opening_refuses_a_key_that_does_not_fit_and_the_right_key_chains_on() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = keyed_log(dir.path(), 3);
    let without = AuditLog::open(&path, AuditOptions::default()).unwrap_err();
    assert!(matches!(without, AuditError::KeyRequired), "{without}");
    let other = AuditOptions {
        chain_key: Some(other_key()),
        ..AuditOptions::default()
    };
    let wrong = AuditLog::open(&path, other.clone()).unwrap_err();
    assert!(
        matches!(wrong, AuditError::KeyMismatch(KeyMismatch::OtherKey)),
        "{wrong}"
    );
    // Nothing was changed by the refusals.
    assert_eq!(verify_keyed(&path).unwrap().records, 3);

    let (log, recovery) = AuditLog::open(&path, keyed(None)).unwrap();
    assert!(recovery.is_none() && log.keyed());
    assert_eq!(log.head().hash, receipts[2].hash);
    let fourth = log.append(&record(4)).unwrap();
    drop(log);
    let l = lines(&path);
    let v: Value = serde_json::from_str(&l[3]).unwrap();
    assert_eq!(v["prev"], receipts[2].hash.as_str());
    assert_eq!(fourth.hash, hmac_hex(&unhex(KEY_HEX), l[3].as_bytes()));
    assert_eq!(verify_keyed(&path).unwrap().records, 4);

    // An empty keyed log: refused without its key and under another.
    let empty = dir.path().join("empty.log");
    let (log, _) = AuditLog::open(&empty, keyed(None)).unwrap();
    assert_eq!(log.head().hash, key().genesis());
    drop(log);
    assert!(matches!(
        AuditLog::open(&empty, AuditOptions::default()),
        Err(AuditError::KeyRequired)
    ));
    assert!(matches!(
        AuditLog::open(&empty, other),
        Err(AuditError::KeyMismatch(KeyMismatch::OtherKey))
    ));
    // And an empty unkeyed log is not keyed by opening it with a key.
    let plain = dir.path().join("plain.log");
    drop(AuditLog::open(&plain, AuditOptions::default()).unwrap());
    assert!(matches!(
        AuditLog::open(&plain, keyed(None)),
        Err(AuditError::KeyMismatch(KeyMismatch::Unkeyed))
    ));
}

/// An edit anywhere, with the head and every later link recomputed by someone without the
/// key, is found under the key: by `verify` and by `open` alike.
#[test]
fn an_edit_with_the_rest_recomputed_is_found_under_the_key() {
    let n = 5;
    let other = unhex(OTHER_HEX);
    for relink in [Relink::Sha256, Relink::Unkeyed, Relink::Key(&other)] {
        for from in 1..=n {
            let dir = tempfile::tempdir().unwrap();
            let (path, _) = keyed_log(dir.path(), n as u64);
            forge(&path, from, relink, |a| a["user"] = json!("mallory"));
            let found = verify_keyed(&path).unwrap_err();
            let what = format!("edit of record {from}: {found}");
            match (relink, from) {
                // The whole log rewritten: its first link is not the key's, or it is unkeyed.
                (Relink::Key(_) | Relink::Sha256, 1) => assert!(
                    matches!(found, AuditError::KeyMismatch(KeyMismatch::OtherKey)),
                    "{what}"
                ),
                (Relink::Unkeyed, 1) => assert!(
                    matches!(found, AuditError::KeyMismatch(KeyMismatch::Unkeyed)),
                    "{what}"
                ),
                // An unkeyed record in a keyed log, where the rewrite begins.
                (Relink::Unkeyed, _) => assert!(
                    matches!(
                        found,
                        AuditError::Tampered { record, tamper: Tamper::ChainKind { keyed: false } }
                            if record == from as u64
                    ),
                    "{what}"
                ),
                // The last record: its link is not the head's.
                (_, f) if f == n => assert!(
                    matches!(
                        found,
                        AuditError::Tampered { record, tamper: Tamper::HeadMismatch }
                            if record == n as u64
                    ),
                    "{what}"
                ),
                // The record after the edit does not chain to it under the key.
                _ => assert!(
                    matches!(
                        found,
                        AuditError::Tampered { record, tamper: Tamper::Chain { previous } }
                            if record == from as u64 + 1 && previous == from as u64
                    ),
                    "{what}"
                ),
            }
            // Without the key, a forged log is no pass either, but for one rewritten whole in
            // the unkeyed format: that one is told apart only by a verifier given the key.
            if !matches!((relink, from), (Relink::Unkeyed, 1)) {
                assert!(audit::verify(&path, None).is_err(), "{what}");
            }
            // And the writer refuses to chain on from it.
            assert!(AuditLog::open(&path, keyed(None)).is_err(), "{what}");
        }
    }
}

#[test]
fn a_receipt_kept_elsewhere_verifies_under_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = keyed_log(dir.path(), 4);
    let head = |i: usize| Head {
        seq: receipts[i].seq,
        hash: receipts[i].hash.clone(),
    };
    audit::verify_with_key(&path, Some(&head(1)), Some(&key())).unwrap();
    let wrong = Head {
        seq: 2,
        hash: receipts[2].hash.clone(),
    };
    assert!(matches!(
        audit::verify_with_key(&path, Some(&wrong), Some(&key())),
        Err(AuditError::Tampered {
            record: 2,
            tamper: Tamper::HeadMismatch
        })
    ));
    let empty = Head {
        seq: 0,
        hash: key().genesis(),
    };
    audit::verify_with_key(&path, Some(&empty), Some(&key())).unwrap();
}

#[test]
fn the_key_covers_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, keyed(Some(600))).unwrap();
    for i in 1..=20 {
        log.append(&record(i)).unwrap();
    }
    drop(log);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.len() == 20)
        })
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    for segment in &segments {
        assert!(
            lines(segment)
                .iter()
                .all(|l| l.contains(r#""chain":"hmac-sha256""#))
        );
    }
    assert_eq!(verify_keyed(&path).unwrap().records, 20);
    assert!(matches!(
        audit::verify(&path, None),
        Err(AuditError::KeyRequired)
    ));

    // Reopening reads the active segment anchored at the newest sealed one, under the key;
    // without it, or under another, it is refused (record 1 is in the oldest segment).
    assert!(matches!(
        AuditLog::open(&path, AuditOptions::default()),
        Err(AuditError::KeyRequired)
    ));
    let other = AuditOptions {
        chain_key: Some(other_key()),
        rotate_bytes: Some(600),
        ..AuditOptions::default()
    };
    assert!(matches!(
        AuditLog::open(&path, other),
        Err(AuditError::KeyMismatch(KeyMismatch::OtherKey))
    ));
    let (log, _) = AuditLog::open(&path, keyed(Some(600))).unwrap();
    assert_eq!(log.append(&record(21)).unwrap().seq, 21);
    drop(log);
    assert_eq!(verify_keyed(&path).unwrap().records, 21);

    // An edit in a sealed segment, the rest of that segment relinked by a forger (SHA-256):
    // found where the forged links begin.
    let middle = &segments[1];
    let saved = std::fs::read(middle).unwrap();
    let mut l = lines(middle);
    let first_seq = serde_json::from_str::<Value>(&l[0]).unwrap()["seq"]
        .as_u64()
        .unwrap();
    let mut prev: Option<String> = None;
    for (i, line) in l.iter_mut().enumerate() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if i == 0 {
            v["audit"]["user"] = json!("mallory");
        }
        if let Some(p) = &prev {
            v["prev"] = json!(p);
        }
        *line = audit::canonical_json(&v);
        prev = Some(sha_hex(line.as_bytes()));
    }
    std::fs::write(middle, format!("{}\n", l.join("\n"))).unwrap();
    let found = verify_keyed(&path).unwrap_err();
    assert!(
        matches!(
            found,
            AuditError::Tampered { record, tamper: Tamper::Chain { .. } } if record == first_seq + 1
        ),
        "{found}"
    );
    std::fs::write(middle, saved).unwrap();
    assert_eq!(verify_keyed(&path).unwrap().records, 21);
}

#[test]
fn a_keyed_log_recovers_from_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = keyed_log(dir.path(), 2);
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(br#"{"audit":{"decision_id":"d-3"#);
    std::fs::write(&path, text).unwrap();
    let (log, recovery) = AuditLog::open(&path, keyed(None)).unwrap();
    assert_eq!(recovery.unwrap().kept_through, 2);
    assert_eq!(log.head(), receipts[1]);
    log.append(&record(3)).unwrap();
    drop(log);
    assert_eq!(verify_keyed(&path).unwrap().records, 3);
}

#[test]
fn key_files_are_hex_and_the_chain_key_is_not_the_redaction_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.key");
    std::fs::write(&file, format!("{KEY_HEX}\n")).unwrap();
    assert_eq!(ChainKey::from_file(&file).unwrap(), key());
    assert_eq!(audit::read_key_file(&file).unwrap(), unhex(KEY_HEX));

    for bad in ["", "abc", &KEY_HEX[..62], &format!("{KEY_HEX}zz")] {
        std::fs::write(&file, bad).unwrap();
        let err = ChainKey::from_file(&file).unwrap_err();
        assert!(matches!(err, AuditError::KeyInvalid(_)), "{bad:?}: {err}");
        assert_eq!(err.code().as_str(), "audit.key_invalid");
    }
    assert!(matches!(
        ChainKey::from_file(dir.path().join("missing.key")),
        Err(AuditError::Io(_))
    ));
    assert!(matches!(
        ChainKey::new(vec![1; 16]),
        Err(AuditError::KeyInvalid(_))
    ));

    // The redactor reads the same format; one key for both is refused.
    std::fs::write(&file, KEY_HEX).unwrap();
    let redactor = Redactor::from_key_file(&file, ["/user"]).unwrap();
    let same = AuditOptions {
        redactor: Some(redactor),
        chain_key: Some(key()),
        ..AuditOptions::default()
    };
    let err = AuditLog::open(dir.path().join("a.log"), same).unwrap_err();
    assert!(matches!(err, AuditError::KeyInvalid(_)), "{err}");
    std::fs::write(&file, OTHER_HEX).unwrap();
    let apart = AuditOptions {
        redactor: Some(Redactor::from_key_file(&file, ["/user"]).unwrap()),
        chain_key: Some(key()),
        ..AuditOptions::default()
    };
    let (log, _) = AuditLog::open(dir.path().join("a.log"), apart).unwrap();
    log.append(&record(1)).unwrap();
    drop(log);
    let l = lines(&dir.path().join("a.log"));
    assert!(l[0].contains(audit::HMAC_PREFIX), "{}", l[0]);
    assert_eq!(verify_keyed(&dir.path().join("a.log")).unwrap().records, 1);
}
