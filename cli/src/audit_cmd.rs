//! `mandate audit verify`.

use policy_core::Code;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use host_rust::audit::{self, AuditError, Head};
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
        after_help = "Example:\n  mandate audit verify /var/log/mandate/audit.jsonl\n  mandate audit verify audit.jsonl --expect-head receipts/last.json   # a head shipped elsewhere\n\nExit codes: 0 intact, 4 the log is missing, 7 the log does not verify."
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
    match audit::verify(&v.log, expected.as_ref()) {
        Ok(report) => {
            out.result(
                &json!({"ok": true, "records": report.records, "last_hash": report.last_hash}),
                || {
                    format!(
                        "{}: {} record(s), hash chain intact, last hash {}",
                        v.log.display(),
                        report.records,
                        report.last_hash
                    )
                },
            );
            Ok(())
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
