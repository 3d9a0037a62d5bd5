//! Audit log benchmarks: what a restart costs. Opening a log verifies its active segment, so a
//! log kept in one file costs time in proportion to its whole history, and a segmented one in
//! proportion to one segment. Both logs below hold the same 20,000 records (a decision's audit
//! object, ~500 bytes a line); the segmented one was written with 1 MiB segments.
//!
//! Run: `cargo bench -p host-rust --bench audit`. Figures: BENCHMARKS.md ("Audit log").
#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use host_rust::audit::{AuditLog, AuditOptions};
use serde_json::json;

const RECORDS: u64 = 20_000;

fn record(i: u64) -> serde_json::Value {
    json!({"v": 1, "decision_id": format!("d-{i:08}"), "outcome": "allow", "user": "alice",
           "agent": "agent:travel-booker", "chain": ["agent:travel-booker"],
           "request": {"ip": "10.20.0.7", "method": "GET", "uri": "https://api.example.com/v1/trips/42", "action": "trips:read"},
           "reasons": [], "jti": ["d-0123456789abcdef"], "use_once": ["p-0123456789abcdef0123456789abcdef"],
           "bundle": {"revision": "r1", "digest": "R5cj5oBKf8Vr-cv2roZpQaO8xt24qo6Og8Ifnhlzq9k"}, "now": 1_800_000_000})
}

fn write(path: &Path, options: AuditOptions) {
    let (log, _) = AuditLog::open(path, options).unwrap();
    for i in 1..=RECORDS {
        log.append(&record(i)).unwrap();
    }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.jsonl");
    let segmented = dir.path().join("segmented.jsonl");
    write(&one, AuditOptions::default());
    let rotating = AuditOptions {
        rotate_bytes: Some(1024 * 1024),
        ..AuditOptions::default()
    };
    write(&segmented, rotating.clone());

    let mut g = c.benchmark_group("audit_open_20k_records");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("one_file", |b| {
        b.iter(|| AuditLog::open(&one, AuditOptions::default()).unwrap());
    });
    g.bench_function("segments_1MiB", |b| {
        b.iter(|| AuditLog::open(&segmented, rotating.clone()).unwrap());
    });
    g.finish();
    let mut g = c.benchmark_group("audit_verify_20k_records");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("one_file", |b| {
        b.iter(|| host_rust::audit::verify(&one, None).unwrap());
    });
    g.bench_function("segments_1MiB", |b| {
        b.iter(|| host_rust::audit::verify(&segmented, None).unwrap());
    });
    g.finish();
}

criterion_group!(audit, benches);
criterion_main!(audit);
