//! `mandate bench-serve`: a bounded load run over loopback against an in-process `serve`, with
//! the demo's world. Every request carries a fresh DPoP proof (so the replay store and the audit
//! log do real work); one in ten comes from an untrusted network and must be denied. Reports
//! decisions/s and p50/p99 round-trip latency; fails on any error or unexpected decision, and
//! when the audit log does not hold exactly one verified record per answered request.

use core::time::Duration;
use policy_core::Code;
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};

use crate::demo::{API, API_HOST, TRUSTED_IP, TempDir, UNTRUSTED_IP, World};
use crate::error::{CliError, Result, exit};
use crate::out::Out;
use crate::serve;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How long to send requests (e.g. 60s); MANDATE_LOAD_SECS overrides the default.
    #[arg(long, env = "MANDATE_LOAD_SECS", default_value = "60s", value_parser = crate::serve_cmd::parse_ms)]
    pub duration: Duration,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Stop after this many requests in all, whichever comes first.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_requests: u64,
    /// Run without the audit log (measures the decision path without fsync).
    #[arg(long)]
    pub no_audit: bool,
    /// Decide with the portable module (e.g. dist/mandate.wasm) under wasmtime.
    #[arg(long)]
    pub wasm: Option<std::path::PathBuf>,
}

#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u64>,
    allows: u64,
    denies: u64,
    errors: u64,
    first_error: Option<String>,
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or(0)
}

pub async fn run(args: &BenchArgs, out: &Out) -> Result<u8> {
    serve::QUIET.store(true, core::sync::atomic::Ordering::Relaxed);
    let tmp = TempDir::new()?;
    let world = std::sync::Arc::new(World::new()?);
    let mut config = world.config(&tmp.0, !args.no_audit)?;
    config.wasm.clone_from(&args.wasm);
    let running = serve::start(config).await?;
    let base = format!("http://{}", running.addr);
    let alice = std::sync::Arc::new(world.delegation(
        "alice",
        "secrets:read trips:read",
        world.now + 3600,
    )?);
    let deadline = Instant::now().checked_add(args.duration).ok_or_else(|| {
        CliError::invalid(Code::DurationInvalid, "--duration is too long")
            .hint("e.g. --duration 60s")
    })?;
    let budget = std::sync::Arc::new(core::sync::atomic::AtomicU64::new(args.max_requests));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency.max(1) {
        let (world, alice, budget, base) =
            (world.clone(), alice.clone(), budget.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let Ok(client) = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
            else {
                t.errors += 1;
                return t;
            };
            let uri = format!("{API}/v1/secrets/db");
            let mut i: u64 = worker as u64;
            while Instant::now() < deadline {
                if budget
                    .fetch_update(
                        core::sync::atomic::Ordering::Relaxed,
                        core::sync::atomic::Ordering::Relaxed,
                        |b| b.checked_sub(1),
                    )
                    .is_err()
                {
                    break;
                }
                i += 1;
                let untrusted = i.is_multiple_of(10);
                let proof = match World::proof(&world.booker, "GET", &uri, &alice) {
                    Ok(p) => p,
                    Err(e) => {
                        t.errors += 1;
                        t.first_error.get_or_insert(e.line());
                        continue;
                    }
                };
                let sent = Instant::now();
                let resp = client
                    .get(format!("{base}/v1/check/v1/secrets/db"))
                    .header("host", API_HOST)
                    .header("x-forwarded-proto", "https")
                    .header(
                        "x-forwarded-for",
                        if untrusted { UNTRUSTED_IP } else { TRUSTED_IP },
                    )
                    .header("authorization", format!("DPoP {alice}"))
                    .header("dpop", proof)
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let reason = r
                            .headers()
                            .get("x-mandate-reason")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let _ = r.bytes().await;
                        Ok((status, reason))
                    }
                    Err(e) => Err(e.to_string()),
                };
                t.latencies_us
                    .push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                match outcome {
                    Ok((200, None)) if !untrusted => t.allows += 1,
                    Ok((403, Some(code))) if untrusted && code == Code::PolicyDenied.as_str() => {
                        t.denies += 1
                    }
                    Ok((status, reason)) => {
                        t.errors += 1;
                        t.first_error.get_or_insert(format!(
                            "unexpected answer: HTTP {status} {reason:?} (untrusted={untrusted})"
                        ));
                    }
                    Err(e) => {
                        t.errors += 1;
                        t.first_error.get_or_insert(e);
                    }
                }
            }
            t
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task
            .await
            .map_err(|e| CliError::failure(format!("a load worker failed: {e}")))?;
        all.latencies_us.extend(t.latencies_us);
        all.allows += t.allows;
        all.denies += t.denies;
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    running.shutdown().await?;
    let decisions = all.allows + all.denies;
    let audit = if args.no_audit {
        json!({"enabled": false})
    } else {
        match host_rust::audit::verify(tmp.0.join("audit.jsonl"), None) {
            Ok(r) => json!({"enabled": true, "ok": r.records == decisions, "records": r.records}),
            Err(e) => json!({"enabled": true, "ok": false, "error": e.to_string()}),
        }
    };
    all.latencies_us.sort_unstable();
    let rate = if elapsed > 0.0 {
        decisions as f64 / elapsed
    } else {
        0.0
    };
    let (p50, p99, max) = (
        pct(&all.latencies_us, 50.0),
        pct(&all.latencies_us, 99.0),
        all.latencies_us.last().copied().unwrap_or(0),
    );
    let audit_ok = audit.get("ok").and_then(Value::as_bool).unwrap_or(true);
    let report = json!({
        "duration_s": (elapsed * 10.0).round() / 10.0, "concurrency": args.concurrency, "decisions": decisions,
        "allows": all.allows, "denies": all.denies, "errors": all.errors, "first_error": all.first_error,
        "decisions_per_s": rate.round(), "p50_ms": p50 as f64 / 1000.0, "p99_ms": p99 as f64 / 1000.0, "max_ms": max as f64 / 1000.0,
        "audit": audit,
    });
    out.result(&report, || {
        format!(
            "load: {decisions} decisions in {elapsed:.1} s over {} connection(s) ({} allow, {} deny), {} error(s)\n\
             rate: {rate:.0} decisions/s   latency p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms\n\
             audit: {}{}",
            args.concurrency,
            all.allows,
            all.denies,
            all.errors,
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0,
            if args.no_audit {
                "off".to_string()
            } else if audit_ok {
                format!("{} records, chain verified, one per answered request", audit.get("records").and_then(Value::as_u64).unwrap_or(0))
            } else {
                format!("MISMATCH {audit}")
            },
            all.first_error.as_ref().map(|e| format!("\nfirst error: {e}")).unwrap_or_default()
        )
    });
    Ok(if all.errors == 0 && audit_ok && decisions > 0 {
        exit::OK
    } else {
        exit::FAILURE
    })
}
