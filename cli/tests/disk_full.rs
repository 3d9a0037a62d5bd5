//! A full disk under the audit log, then room again: real ENOSPC from a small tmpfs mounted in
//! a private mount namespace (`unshare --mount`, so nothing outside the test sees it). Needs
//! root, so it is `#[ignore]`d in a plain `cargo test` and run by scripts/test-cli.sh with
//! `--ignored` (CI runs as root); it fails, never skips, when it cannot set the disk up.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::Write as _;
use std::process::Command;

use common::{Server, TRIP, World, post, verify_audit};
use serde_json::Value;

/// Serve's decisions are withheld (503 `audit.unavailable`, `/readyz` 503) while the disk under
/// its audit log is full, and come back by themselves once there is room: no restart, and the
/// log verifies with exactly the decisions that were answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root (a tmpfs in a private mount namespace); scripts/test-cli.sh runs it with --ignored"]
async fn a_full_disk_withholds_decisions_and_freeing_it_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(dir.path());
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let audit = disk.join("audit.jsonl");
    let mut wrapper = Command::new("unshare");
    wrapper
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=256k tmpfs "$0" && exec "$@""#)
        .arg(&disk)
        .arg(common::mandate().get_program());
    let s = Server::start_command(&w, wrapper, &["--audit", audit.to_str().unwrap()]);
    // The service's own view of the disk (its mount namespace).
    let inside = std::path::PathBuf::from(format!("/proc/{}/root", s.child.id()))
        .join(disk.strip_prefix("/").unwrap());
    let mounts = std::fs::read_to_string(format!("/proc/{}/mounts", s.child.id())).unwrap();
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with("tmpfs ") && l.contains(disk.to_str().unwrap())),
        "the tmpfs is not mounted: {mounts}"
    );

    let c = reqwest::Client::new();
    let alice = w.alice();
    let decide = || {
        let input = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
        let (c, url) = (c.clone(), s.url("/v1/decide"));
        async move { post(&c, &url, &input).await }
    };
    let mut answered = 0;
    for _ in 0..3 {
        let (status, d) = decide().await;
        assert_eq!(
            (status, d["decision"].as_str()),
            (200, Some("allow")),
            "{d}"
        );
        answered += 1;
    }

    // Fill the disk to the last byte.
    let fill = inside.join("fill");
    let mut f = std::fs::File::create(&fill).unwrap();
    let chunk = vec![0u8; 4096];
    let full = loop {
        if let Err(e) = f.write_all(&chunk) {
            break e;
        }
    };
    assert_eq!(full.raw_os_error(), Some(28), "{full}"); // ENOSPC
    let _ = f.write_all(&chunk[..1]);
    drop(f);

    let (status, body) = decide().await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("audit.unavailable")),
        "{body}"
    );
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let rz: Value = ready.json().await.unwrap();
    assert_eq!(rz["problems"][0]["part"], "audit", "{rz}");
    assert!(s.log().contains("audit append failed"), "{}", s.log());

    std::fs::remove_file(&fill).unwrap();
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    for _ in 0..3 {
        let (status, d) = decide().await;
        assert_eq!(
            (status, d["decision"].as_str()),
            (200, Some("allow")),
            "{d}"
        );
        answered += 1;
    }
    let stdout = verify_audit(&inside.join("audit.jsonl"));
    assert!(
        stdout.contains(&format!(": {answered} record(s), hash chain intact")),
        "{stdout}"
    );
}
