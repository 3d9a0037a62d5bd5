//! `mandate audit verify`.

use policy_core::Code;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use host_rust::audit::{self, AuditError, ChainKey, Head, KeyMismatch};
use serde_json::json;

use crate::error::{CliError, Kind, Result};
use crate::io;
use crate::out::Out;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub cmd: AuditCmd,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verifies a hash-chained audit log (and its .head file): edits, deletions, reordering, truncation.
    #[command(
        after_help = "Example:\n  mandate audit verify /var/log/mandate/audit.jsonl\n  mandate audit verify audit.jsonl --expect-head receipts/last.json   # a head shipped elsewhere\n  mandate audit verify audit.jsonl --key /etc/mandate/audit-chain.key  # a keyed (HMAC) chain\n\nExit codes: 0 intact, 4 the log or key file is missing, 5 the key file is not a key, 7 the log does not verify (or is keyed and the key is missing or not its own)."
    )]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The audit log (JSON lines).
    pub log: PathBuf,
    /// A head kept elsewhere ({"seq": N, "hash": "..."}), to catch a rewrite of log and head together.
    #[arg(long)]
    pub expect_head: Option<PathBuf>,
    /// The chain key of a keyed log (hex, 32+ bytes, as given to serve --audit-key): every link is checked as HMAC-SHA256 under it. Give it whenever the log should be keyed: a keyed log does not verify without it, an unkeyed one does not verify with it.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// Reads the chain key file (the format and loader of host-rust's audit keys).
fn read_key(path: &std::path::Path) -> Result<ChainKey> {
    ChainKey::from_file(path).map_err(|e| match e {
        AuditError::Io(io) => CliError::new(
            Kind::NotFound,
            Code::FileNotFound,
            format!("cannot read the chain key {}: {io}", path.display()),
        )
        .hint("check the path"),
        other => CliError::invalid(other.code(), other.to_string())
            .hint("a chain key file holds 32 or more random bytes as hex: openssl rand -hex 32"),
    })
}

pub fn run(args: &AuditArgs, out: &Out) -> Result<()> {
    let AuditCmd::Verify(v) = &args.cmd;
    if !v.log.exists() {
        return Err(CliError::new(
            Kind::NotFound,
            Code::FileNotFound,
            format!("{} does not exist", v.log.display()),
        )
        .hint("check the path"));
    }
    let expected: Option<Head> = v.expect_head.as_deref().map(io::read_doc).transpose()?;
    let key = v.key.as_deref().map(read_key).transpose()?;
    match audit::verify_with_key(&v.log, expected.as_ref(), key.as_ref()) {
        Ok(report) => {
            out.result(
                &json!({"ok": true, "records": report.records, "last_hash": report.last_hash, "keyed": report.keyed}),
                || {
                    format!(
                        "{}: {} record(s), {} chain intact, last hash {}",
                        v.log.display(),
                        report.records,
                        if report.keyed {
                            "keyed (HMAC-SHA256)"
                        } else {
                            "hash"
                        },
                        report.last_hash
                    )
                },
            );
            Ok(())
        }
        Err(e @ (AuditError::KeyRequired | AuditError::KeyMismatch(_))) => {
            let hint = match &e {
                AuditError::KeyRequired => "pass the log's chain key: --key FILE",
                AuditError::KeyMismatch(KeyMismatch::Unkeyed) => {
                    "the log is not keyed: verify it without --key; if it was written keyed, it was rewritten: keep it as evidence"
                }
                _ => {
                    "check that --key is this log's chain key; if it is, the log was rewritten: keep it as evidence"
                }
            };
            Err(CliError::new(
                Kind::Audit,
                e.code(),
                format!("{} does not verify: {e}", v.log.display()),
            )
            .hint(hint))
        }
        Err(AuditError::Tampered { record, tamper }) => Err(CliError::new(
            Kind::Audit,
            Code::AuditTampered,
            format!(
                "{} does not verify at record {record}: {tamper}",
                v.log.display()
            ),
        )
        .hint("keep the file as evidence; restore from a copy you trust")),
        Err(e) => Err(CliError::new(
            Kind::NotFound,
            e.code(),
            format!("{}: {e}", v.log.display()),
        )),
    }
}
