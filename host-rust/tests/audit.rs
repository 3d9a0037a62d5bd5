//! The audit log: tamper evidence (edit, delete, reorder, truncate) and crash recovery.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use host_rust::audit::{self, AuditError, AuditLog, AuditOptions, Head, Redactor, Tamper};
use serde_json::json;

fn record(i: u64) -> serde_json::Value {
    json!({"v": 1, "decision_id": format!("d-{i}"), "outcome": if i.is_multiple_of(2) { "allow" } else { "deny" },
           "user": "alice", "agent": "agent:booker", "request": {"ip": "10.20.0.7", "uri": "https://api.example.com/x"}})
}

/// A log with `n` records; returns its path and the receipts.
fn log_with(dir: &Path, n: u64) -> (PathBuf, Vec<audit::Receipt>) {
    let path = dir.join("audit.log");
    let (log, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
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

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn tamper_at(path: &Path) -> (u64, Tamper) {
    match audit::verify(path, None) {
        Err(AuditError::Tampered { record, tamper }) => (record, tamper),
        other => panic!("expected tampering to be found, got {other:?}"),
    }
}

#[test]
fn an_intact_log_verifies_and_receipts_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = log_with(dir.path(), 5);
    let report = audit::verify(&path, None).unwrap();
    assert_eq!(report.records, 5);
    assert_eq!(report.last_hash, receipts[4].hash);
    assert_eq!(
        receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let l = lines(&path);
    let second: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
    assert_eq!(second["prev"], receipts[0].hash.as_str());
    assert_eq!(second["seq"], 2);
    assert_eq!(audit::line_hash(l[1].as_bytes()), receipts[1].hash);
    // A receipt kept elsewhere verifies too.
    audit::verify(
        &path,
        Some(&Head {
            seq: 3,
            hash: receipts[2].hash.clone(),
        }),
    )
    .unwrap();
}

#[test]
fn an_edit_is_found_at_the_record_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 5);
    let mut l = lines(&path);
    l[2] = l[2].replace("\"deny\"", "\"allow\""); // record 3 was a deny
    write_lines(&path, &l);
    assert_eq!(tamper_at(&path), (4, Tamper::Chain { previous: 3 }));
}

#[test]
fn an_edit_that_is_not_canonical_is_found_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 3);
    let mut l = lines(&path);
    l[1] = l[1].replacen('{', "{ ", 1);
    write_lines(&path, &l);
    assert_eq!(tamper_at(&path), (2, Tamper::NotCanonical));
}

#[test]
fn an_edit_of_the_last_record_is_found_by_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 4);
    let mut l = lines(&path);
    l[3] = l[3].replace("d-4", "d-x");
    write_lines(&path, &l);
    assert_eq!(tamper_at(&path), (4, Tamper::HeadMismatch));
}

#[test]
fn a_deletion_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 5);
    let mut l = lines(&path);
    l.remove(1); // record 2
    write_lines(&path, &l);
    assert_eq!(
        tamper_at(&path),
        (
            2,
            Tamper::Sequence {
                expected: 2,
                found: 3
            }
        )
    );
}

#[test]
fn a_reordering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 5);
    let mut l = lines(&path);
    l.swap(2, 3); // records 3 and 4
    write_lines(&path, &l);
    assert_eq!(
        tamper_at(&path),
        (
            3,
            Tamper::Sequence {
                expected: 3,
                found: 4
            }
        )
    );
}

#[test]
fn a_truncation_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = log_with(dir.path(), 5);
    let l = lines(&path);
    write_lines(&path, &l[..3]); // records 4 and 5 cut off
    assert_eq!(
        tamper_at(&path),
        (4, Tamper::Truncated { last: 3, head: 5 })
    );
    // Also with the head file gone, against a receipt kept elsewhere.
    std::fs::remove_file(audit::head_path(&path)).unwrap();
    assert!(matches!(tamper_at(&path), (3, Tamper::HeadUnreadable(_))));
    let ext = Head {
        seq: 5,
        hash: receipts[4].hash.clone(),
    };
    assert!(matches!(
        audit::verify(&path, Some(&ext)),
        Err(AuditError::Tampered { record: 3, .. } | AuditError::Tampered { record: 4, .. })
    ));
    // Opening a truncated log refuses to append onto it.
    assert!(AuditLog::open(&path, AuditOptions::default()).is_err());
}

#[test]
fn a_cut_in_the_middle_of_an_acknowledged_record_is_truncation_not_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = log_with(dir.path(), 3);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let (record, _) = tamper_at(&path);
    assert_eq!(record, 3);
    // Open does not "repair" this away: record 3 was acknowledged.
    assert!(matches!(
        AuditLog::open(&path, AuditOptions::default()),
        Err(AuditError::Tampered {
            tamper: Tamper::Truncated { last: 2, head: 3 },
            ..
        })
    ));
}

#[test]
fn a_crash_mid_append_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = log_with(dir.path(), 4);
    // The crash: half of a fifth line reached the disk, the head was never updated.
    let fifth = format!(
        r#"{{"audit":{{"decision_id":"d-5"}},"prev":"{}","seq":5}}"#,
        receipts[3].hash
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&fifth.as_bytes()[..fifth.len() / 2]).unwrap();
    drop(f);
    assert!(matches!(tamper_at(&path), (5, Tamper::TornTail { .. })));

    let (log, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    let recovery = recovery.expect("the torn tail is reported");
    assert_eq!(recovery.kept_through, 4);
    assert_eq!(recovery.truncated_bytes, (fifth.len() / 2) as u64);
    assert_eq!(log.head(), receipts[3]);
    let next = log.append(&record(5)).unwrap();
    assert_eq!(next.seq, 5);
    let report = audit::verify(&path, None).unwrap();
    assert_eq!(report.records, 5);
    // Every acknowledged record is still there, byte for byte.
    let l = lines(&path);
    for r in &receipts {
        assert_eq!(audit::line_hash(l[(r.seq - 1) as usize].as_bytes()), r.hash);
    }
}

#[test]
fn a_complete_but_unacknowledged_last_line_is_dropped_on_open() {
    // The crash came after the line was written but it is garbage past the head: never acked.
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = log_with(dir.path(), 2);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"\0\0\0\0\0\0\n").unwrap();
    drop(f);
    let (log, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    assert_eq!(recovery.unwrap().truncated_bytes, 7);
    assert_eq!(log.head(), receipts[1]);
    audit::verify(&path, None).unwrap();
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (path, receipts) = log_with(dir.path(), 2);
    let (log, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    assert!(recovery.is_none());
    let r3 = log.append(&record(3)).unwrap();
    assert_eq!(r3.seq, 3);
    let third: serde_json::Value = serde_json::from_str(&lines(&path)[2]).unwrap();
    assert_eq!(third["prev"], receipts[1].hash.as_str());
    assert_eq!(audit::verify(&path, None).unwrap().records, 3);
}

#[test]
fn sensitive_fields_are_hmaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let redactor = Redactor::new(b"audit-key".to_vec(), ["/user", "/request/ip"]);
    let (log, _) = AuditLog::open(
        &path,
        AuditOptions {
            redactor: Some(redactor.clone()),
            ..AuditOptions::default()
        },
    )
    .unwrap();
    log.append(&record(1)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("alice") && !text.contains("10.20.0.7"),
        "{text}"
    );
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        line["audit"]["user"],
        redactor.hash(&json!("alice")).as_str()
    );
    assert!(
        line["audit"]["request"]["ip"]
            .as_str()
            .unwrap()
            .starts_with(audit::HMAC_PREFIX)
    );
    assert_eq!(line["audit"]["agent"], "agent:booker");
    audit::verify(&path, None).unwrap();
}

#[tokio::test]
async fn decisions_are_audited_from_their_audit_object() {
    // The record content is the decision's `audit` object, as the engine made it.
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/conformance.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let output: serde_json::Value =
        serde_json::from_str(v["cases"][0]["output"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    log.append(&output["audit"]).unwrap();
    assert!(log.append(&json!("not an object")).is_err());
    let line: serde_json::Value = serde_json::from_str(lines(&path)[0].as_str()).unwrap();
    assert_eq!(line["audit"], output["audit"]);
}

#[test]
fn concurrent_appends_are_committed_in_groups_and_chain_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    let log = std::sync::Arc::new(log);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| log.append(&record(t * 100 + i)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut receipts: Vec<audit::Receipt> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    receipts.sort_by_key(|r| r.seq);
    // Every append got its own place in one chain, and every acknowledged record is on disk.
    assert_eq!(
        receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    assert_eq!(log.head().seq, 200);
    let report = audit::verify(&path, None).unwrap();
    assert_eq!(report.records, 200);
    assert_eq!(lines(&path).len(), 200);
    for (r, line) in receipts.iter().zip(lines(&path)) {
        assert_eq!(r.hash, audit::line_hash(line.as_bytes()));
    }
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (first, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    first.append(&record(1)).unwrap();
    let err =
        AuditLog::open(&path, AuditOptions::default()).expect_err("a second writer was let in");
    assert!(matches!(err, AuditError::Locked), "{err}");
    assert_eq!(err.code().as_str(), "audit.locked");
    // The refused writer touched nothing: the first writer's chain goes on.
    assert_eq!(first.append(&record(2)).unwrap().seq, 2);
    drop(first);
    let (again, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    assert!(recovery.is_none());
    assert_eq!(again.append(&record(3)).unwrap().seq, 3);
    assert_eq!(audit::verify(&path, None).unwrap().records, 3);
}

/// A commit that fails is not acknowledged, the log refuses while it cannot repair itself, and
/// once the fault is gone it repairs itself without a reopen: the records not acknowledged are
/// not in it, the chain and the head verify. The fault is real I/O: the head's temporary file
/// is made a directory, so writing the head fails after the log's own write and sync.
#[test]
fn a_failed_commit_is_not_acknowledged_and_the_log_repairs_itself_once_writes_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    let kept = [
        log.append(&record(1)).unwrap(),
        log.append(&record(2)).unwrap(),
    ];
    let blocker = dir.path().join("audit.log.head.tmp");
    std::fs::create_dir(&blocker).unwrap();

    let failed = log.append(&record(3)).unwrap_err();
    assert_eq!(failed.code().as_str(), "audit.io", "{failed}");
    assert!(log.failure().is_some());
    assert_eq!(log.head(), kept[1]);
    // Still failing: the repair cannot write the head either, so nothing is taken.
    let still = log.append(&record(4)).unwrap_err();
    assert_eq!(still.code().as_str(), "audit.io", "{still}");
    assert!(log.repair().is_err());
    assert!(log.failure().is_some());

    std::fs::remove_dir(&blocker).unwrap();
    // A readiness probe's repair (no append needed) brings it back...
    log.repair().unwrap();
    assert!(log.failure().is_none());
    // ...and the chain goes on from the last acknowledged record.
    let next = log.append(&record(5)).unwrap();
    assert_eq!(next.seq, 3);
    let report = audit::verify(
        &path,
        Some(&Head {
            seq: next.seq,
            hash: next.hash.clone(),
        }),
    )
    .unwrap();
    assert_eq!(report.records, 3);
    let l = lines(&path);
    let third: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
    assert_eq!(
        (
            third["prev"].as_str(),
            third["audit"]["decision_id"].as_str()
        ),
        (Some(kept[1].hash.as_str()), Some("d-5"))
    );
    assert!(
        !l.iter()
            .any(|x| x.contains("\"d-3\"") || x.contains("\"d-4\""))
    );
}

/// As above, without a probe: the next append repairs the log itself.
#[test]
fn the_next_append_after_a_fault_repairs_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    log.append(&record(1)).unwrap();
    let blocker = dir.path().join("audit.log.head.tmp");
    std::fs::create_dir(&blocker).unwrap();
    log.append(&record(2)).unwrap_err();
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(log.append(&record(3)).unwrap().seq, 2);
    drop(log);
    let (reopened, recovery) = AuditLog::open(&path, AuditOptions::default()).unwrap();
    assert!(recovery.is_none(), "{recovery:?}");
    assert_eq!(reopened.head().seq, 2);
}

fn rotating(bytes: u64) -> AuditOptions {
    AuditOptions {
        rotate_bytes: Some(bytes),
        ..AuditOptions::default()
    }
}

/// The sealed segments next to `path`, oldest first: (last seq named, path).
fn sealed(path: &Path) -> Vec<(u64, PathBuf)> {
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n = e.file_name().into_string().unwrap();
            let rest = n.strip_prefix(&format!("{name}."))?.to_string();
            (rest.len() == 20).then(|| (rest.parse().unwrap(), e.path()))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_rotated_log_chains_across_segments_and_reopens_from_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, rotating(600)).unwrap();
    let receipts: Vec<_> = (1..=20).map(|i| log.append(&record(i)).unwrap()).collect();
    drop(log);
    let segments = sealed(&path);
    assert!(segments.len() >= 3, "{segments:?}");
    // Each sealed segment ends at the seq its name says, and the next begins one past it,
    // chained to its last line.
    let mut prev_last: Option<(u64, String)> = None;
    for (last, seg) in &segments {
        let l = lines(seg);
        let first: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
        let end: serde_json::Value = serde_json::from_str(l.last().unwrap()).unwrap();
        assert_eq!(end["seq"], *last);
        if let Some((seq, hash)) = &prev_last {
            assert_eq!(
                (first["seq"].as_u64(), first["prev"].as_str()),
                (Some(seq + 1), Some(hash.as_str()))
            );
        }
        prev_last = Some((*last, audit::line_hash(l.last().unwrap().as_bytes())));
    }
    let report = audit::verify(&path, None).unwrap();
    assert_eq!(
        (report.records, report.last_hash.as_str()),
        (20, receipts[19].hash.as_str())
    );
    // A receipt kept elsewhere for a record in a sealed segment verifies too.
    audit::verify(
        &path,
        Some(&Head {
            seq: 2,
            hash: receipts[1].hash.clone(),
        }),
    )
    .unwrap();
    let wrong = audit::verify(
        &path,
        Some(&Head {
            seq: 2,
            hash: receipts[2].hash.clone(),
        }),
    );
    assert!(
        matches!(
            wrong,
            Err(AuditError::Tampered {
                record: 2,
                tamper: Tamper::HeadMismatch
            })
        ),
        "{wrong:?}"
    );

    // Reopening continues the chain where it stopped.
    let (log, recovery) = AuditLog::open(&path, rotating(600)).unwrap();
    assert!(recovery.is_none());
    assert_eq!(log.append(&record(21)).unwrap().seq, 21);
    drop(log);
    assert_eq!(audit::verify(&path, None).unwrap().records, 21);
}

#[test]
fn a_sealed_segment_deleted_edited_or_cut_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, rotating(600)).unwrap();
    for i in 1..=20 {
        log.append(&record(i)).unwrap();
    }
    drop(log);
    let segments = sealed(&path);
    let (_, middle) = &segments[1];
    let saved = std::fs::read(middle).unwrap();

    std::fs::remove_file(middle).unwrap();
    let deleted = audit::verify(&path, None).unwrap_err();
    assert!(
        matches!(
            deleted,
            AuditError::Tampered {
                tamper: Tamper::Sequence { .. },
                ..
            }
        ),
        "{deleted}"
    );
    std::fs::write(middle, &saved).unwrap();

    let mut l = lines(middle);
    l[0] = l[0].replace("alice", "mallory");
    write_lines(middle, &l);
    let edited = audit::verify(&path, None).unwrap_err();
    assert!(matches!(edited, AuditError::Tampered { .. }), "{edited}");
    std::fs::write(middle, &saved).unwrap();

    let mut l = lines(middle);
    l.pop();
    write_lines(middle, &l);
    let cut = audit::verify(&path, None).unwrap_err();
    assert!(
        matches!(
            cut,
            AuditError::Tampered {
                tamper: Tamper::Truncated { .. },
                ..
            }
        ),
        "{cut}"
    );
    std::fs::write(middle, &saved).unwrap();
    assert_eq!(audit::verify(&path, None).unwrap().records, 20);
}

/// A crash between a seal's two renames leaves no active segment (and maybe the empty next
/// one): opening makes a new active segment anchored at the newest sealed one, and nothing
/// acknowledged is lost.
#[test]
fn a_seal_cut_short_by_a_crash_reopens_anchored_at_the_last_sealed_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (log, _) = AuditLog::open(&path, rotating(600)).unwrap();
    let mut i = 0;
    // Append until a seal has just happened (the active segment is empty).
    let last = loop {
        i += 1;
        let receipt = log.append(&record(i)).unwrap();
        if std::fs::metadata(&path).unwrap().len() == 0 {
            break receipt;
        }
    };
    drop(log);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(dir.path().join("audit.log.next"), b"").unwrap();
    let (log, recovery) = AuditLog::open(&path, rotating(600)).unwrap();
    assert!(recovery.is_none());
    assert_eq!(log.head(), last);
    assert_eq!(log.append(&record(i + 1)).unwrap().seq, i + 1);
    drop(log);
    assert!(!dir.path().join("audit.log.next").exists());
    assert_eq!(audit::verify(&path, None).unwrap().records, i + 1);
}
