//! Sealed segments of a rotated audit log.
//!
//! With [`super::AuditOptions::rotate_bytes`], once the log reaches that size after a commit it
//! is sealed: renamed to `<log>.<seq>` (`seq` the last record it holds, 20 digits, so names sort
//! in chain order) and a new, empty `<log>` takes the next records. The chain does not restart:
//! the new segment's first record has `seq` one past the sealed one's last and `prev` its hash.
//!
//! Opening a log reads only the active segment, anchored at the newest sealed segment's last
//! record (read from its tail), so starting takes time in proportion to one segment, not to the
//! whole history. [`super::verify`] walks every segment from the genesis record.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use super::AuditError;
use super::key::{self, ChainKey};

/// The last record before the active segment: `(seq, link)`, or `(0, genesis link)` when no
/// segment was sealed yet.
pub(super) type Anchor = (u64, String);

/// The sealed segments of the log at `log`, oldest first, with the last `seq` each names.
pub(super) fn sealed(log: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let Some(name) = log.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match log.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if rest.len() != 20 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = rest.parse::<u64>() {
            found.push((seq, dir.join(&file_name)));
        }
    }
    found.sort();
    Ok(found)
}

/// Where the segment ending at `seq` is sealed.
pub(super) fn sealed_path(log: &Path, seq: u64) -> PathBuf {
    super::suffixed(log, &format!(".{seq:020}"))
}

/// The anchor of the active segment: the newest sealed segment's last record, read from the
/// end of that file (a record is far smaller than the 1 MiB read), linked under `key`.
pub(super) fn anchor(log: &Path, key: Option<&ChainKey>) -> Result<Anchor, AuditError> {
    let Some((seq, path)) = sealed(log)?.pop() else {
        return Ok((0, key::genesis(key)));
    };
    let mut file = File::open(&path)?;
    let len = file.metadata()?.len();
    let from = len.saturating_sub(1024 * 1024);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = body
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(body, |i| body.get(i + 1..).unwrap_or_default());
    if last.is_empty() {
        return Err(AuditError::Io(std::io::Error::other(format!(
            "sealed audit segment {} is empty",
            path.display()
        ))));
    }
    Ok((seq, key::link(key, last)))
}

/// Syncs the directory holding `path`, so a rename or a new file in it survives a crash.
pub(super) fn sync_dir(path: &Path) -> Result<(), AuditError> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => File::open(d)?.sync_all()?,
        _ => File::open(".")?.sync_all()?,
    }
    Ok(())
}
