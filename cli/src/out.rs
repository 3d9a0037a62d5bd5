//! Output: human text by default, one JSON document with `--json`.
//!
//! Every write to stdout and stderr goes through [`write_out`] / [`write_err`] (or the
//! [`outln!`] / [`errln!`] macros) instead of `println!`/`eprintln!`, which panic when the
//! stream is closed (`mandate decide … | head`). A reader that went away (`EPIPE`) is not an
//! error: the output is dropped and the command still ends with its own exit code (for
//! `decide`, allow or deny). Any other failure to write stdout (a full disk, say) is remembered
//! and makes the command exit 1, with one line on stderr.

use core::sync::atomic::{AtomicBool, Ordering};
use std::io::Write;

use serde_json::Value;

/// Where results go.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` (with `--json`) or the human text.
    pub fn result(&self, value: &Value, human: impl FnOnce() -> String) {
        if self.json {
            write_out(&serde_json::to_string(value).unwrap_or_default(), true);
        } else {
            let text = human();
            if !text.is_empty() {
                write_out(&text, true);
            }
        }
    }
}

/// Set once stdout's reader has gone away: later writes are dropped without trying.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when stdout failed for another reason than a closed reader.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// `text`, a newline if asked, then a flush: one locked write.
fn write_flushed(w: &mut impl Write, text: &str, newline: bool) -> std::io::Result<()> {
    w.write_all(text.as_bytes())?;
    if newline {
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Writes `text` (and a newline) to stdout and flushes. Never panics.
pub fn write_out(text: &str, newline: bool) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let written = write_flushed(&mut std::io::stdout().lock(), text, newline);
    if let Err(e) = written {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            write_err(&format!("error: cannot write to stdout: {e}"), true);
        }
    }
}

/// Writes `text` (and a newline) to stderr. Never panics; a closed stderr drops the text.
pub fn write_err(text: &str, newline: bool) {
    if STDERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let written = write_flushed(&mut std::io::stderr().lock(), text, newline);
    if written.is_err() {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether writing stdout failed for a reason other than its reader going away.
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// `println!` that does not panic on a closed stdout.
macro_rules! outln {
    () => {
        $crate::out::write_out("", true)
    };
    ($($arg:tt)*) => {
        $crate::out::write_out(&format!($($arg)*), true)
    };
}

/// `eprintln!` that does not panic on a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::write_err(&format!($($arg)*), true)
    };
}

pub(crate) use {errln, outln};
