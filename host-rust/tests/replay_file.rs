//! The file replay store: what a restart keeps (every used entry still live), what it drops
//! (expired entries, a torn last line), and what it refuses (a corrupt journal, a second
//! process on the same journal).
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::std_instead_of_core, clippy::unwrap_used, clippy::expect_used)]

use host_rust::replay::{FileReplayStore, ReplayError, ReplayStore, UseOnce};

fn e(kind: &str, jti: &str, exp: i64) -> UseOnce {
    UseOnce {
        kind: kind.into(),
        jti: jti.into(),
        exp,
    }
}

fn record(s: &FileReplayStore, entries: &[UseOnce], now: i64) -> Vec<String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(s.record(entries, now))
        .unwrap()
}

#[test]
fn used_ids_are_still_used_after_a_restart_and_expired_ones_are_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.jsonl");
    let s = FileReplayStore::open(&path, 100, 1000).unwrap();
    assert!(record(&s, &[e("proof", "p1", 1060), e("grant", "g1", 1030)], 1000).is_empty());
    assert!(record(&s, &[e("proof", "short", 1001)], 1000).is_empty());
    drop(s);

    // Restarted at 1010: p1 and g1 are live, `short` has expired.
    let s = FileReplayStore::open(&path, 100, 1010).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(record(&s, &[e("proof", "p1", 1060)], 1010), vec!["p1"]);
    assert_eq!(record(&s, &[e("grant", "g1", 1030)], 1010), vec!["g1"]);
    // Kinds stay apart across the restart too.
    assert!(record(&s, &[e("grant", "p1", 1060)], 1010).is_empty());
    drop(s);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("short"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn a_torn_last_line_is_dropped_and_a_corrupt_line_before_it_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.jsonl");
    let s = FileReplayStore::open(&path, 100, 0).unwrap();
    record(&s, &[e("proof", "kept", 100)], 0);
    drop(s);
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"{\"key\":\"proof:to");
    std::fs::write(&path, &text).unwrap();
    let s = FileReplayStore::open(&path, 100, 0).unwrap();
    assert_eq!(record(&s, &[e("proof", "kept", 100)], 0), vec!["kept"]);
    drop(s);

    let mut text = b"not an entry\n".to_vec();
    text.extend_from_slice(&std::fs::read(&path).unwrap());
    std::fs::write(&path, &text).unwrap();
    let err = FileReplayStore::open(&path, 100, 0).unwrap_err();
    assert!(matches!(err, ReplayError::Unavailable(_)), "{err}");
    assert_eq!(err.code().as_str(), "replay.store_unavailable");
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn a_second_process_on_the_same_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.jsonl");
    let first = FileReplayStore::open(&path, 100, 0).unwrap();
    let err = FileReplayStore::open(&path, 100, 0).unwrap_err();
    assert!(err.to_string().contains("another process"), "{err}");
    drop(first);
    FileReplayStore::open(&path, 100, 0).unwrap();
}

#[test]
fn entries_restored_past_the_capacity_are_kept_and_new_ones_refused_until_room() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.jsonl");
    let s = FileReplayStore::open(&path, 3, 0).unwrap();
    record(
        &s,
        &[
            e("proof", "a", 50),
            e("proof", "b", 50),
            e("proof", "c", 50),
        ],
        0,
    );
    drop(s);
    // Reopened with a smaller capacity: nothing live is dropped, new entries do not fit.
    let s = FileReplayStore::open(&path, 1, 10).unwrap();
    assert_eq!(s.len(), 3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let full = rt
        .block_on(s.record(&[e("proof", "d", 100)], 10))
        .unwrap_err();
    assert!(matches!(full, ReplayError::Full(3)), "{full}");
    assert_eq!(record(&s, &[e("proof", "a", 50)], 10), vec!["a"]);
    // Once they expire there is room for one.
    assert!(record(&s, &[e("proof", "d", 100)], 51).is_empty());
}
