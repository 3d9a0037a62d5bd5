//! Offline verification of an audit log, and the scan [`super::AuditLog::open`] recovers with.

use std::fs::File;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom};
use std::path::Path;

use serde_json::Value;

use super::{AuditError, GENESIS, canonical, head_path, line_hash};

/// A log's head: the last acknowledged record, from `<log>.head` or kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Head {
    /// The record's `seq`.
    pub seq: u64,
    /// Hex SHA-256 of the record's line.
    pub hash: String,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many records the log holds.
    pub records: u64,
    /// The last record's hash ([`GENESIS`] for an empty log).
    pub last_hash: String,
}

/// What verification found at the record it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tamper {
    /// The line is not a JSON object with `audit`, `prev` and `seq`.
    #[error("not a record line")]
    NotARecord,
    /// The line is not in canonical form (it was rewritten).
    #[error("not canonical JSON (the line was rewritten)")]
    NotCanonical,
    /// The line's `seq` is not the next one: a record before it was deleted, or records were
    /// reordered.
    #[error("expected seq {expected}, found {found} (records deleted or reordered)")]
    Sequence {
        /// The seq that should be here.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The line's `prev` is not the hash of the line before it: that line was edited (or this
    /// line's `prev` was).
    #[error("prev does not match the hash of record {previous} (one of the two was edited)")]
    Chain {
        /// The record before.
        previous: u64,
    },
    /// The last line is incomplete (a crash mid-append; opening the log repairs it).
    #[error("torn last line ({bytes} bytes without a newline)")]
    TornTail {
        /// How many bytes.
        bytes: u64,
    },
    /// The log ends before the head it acknowledged: records were cut off the end.
    #[error("log ends at record {last} but record {head} was acknowledged (truncated)")]
    Truncated {
        /// The last record present.
        last: u64,
        /// The acknowledged head.
        head: u64,
    },
    /// The record the head names has another hash: it was edited.
    #[error("record's hash does not match the acknowledged head (edited)")]
    HeadMismatch,
    /// The head file is missing or unreadable although the log has records.
    #[error("head file missing or unreadable: {0}")]
    HeadUnreadable(String),
}

/// The result of a scan: how much of the file is valid.
#[derive(Debug)]
pub(super) struct Scan {
    pub last_seq: u64,
    pub last_hash: String,
    /// Bytes of the file that are intact records (the rest is a torn tail, when recovering).
    pub valid_len: u64,
}

/// Verifies the log at `path` against its head file and, when given, a head kept elsewhere
/// (e.g. the last [`super::Receipt`] shipped to another system).
///
/// # Errors
/// [`AuditError::Tampered`] naming the first record that does not verify; [`AuditError::Io`].
pub fn verify(path: impl AsRef<Path>, expected: Option<&Head>) -> Result<Report, AuditError> {
    let path = path.as_ref();
    let mut file = File::open(path)?;
    let scan = scan(path, &mut file, false)?;
    if let Some(head) = expected {
        check_head(path, &mut file, &scan, head)?;
    }
    Ok(Report {
        records: scan.last_seq,
        last_hash: scan.last_hash,
    })
}

fn tampered(record: u64, tamper: Tamper) -> AuditError {
    AuditError::Tampered { record, tamper }
}

fn read_head(path: &Path) -> Result<Option<Head>, Tamper> {
    match std::fs::read(head_path(path)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Tamper::HeadUnreadable(e.to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Tamper::HeadUnreadable(e.to_string())),
    }
}

/// Checks one line as record number `seq` following a line hashed `prev`.
fn check_line(line: &[u8], seq: u64, prev: &str) -> Result<(), Tamper> {
    let value: Value = serde_json::from_slice(line).map_err(|_| Tamper::NotARecord)?;
    let obj = value.as_object().ok_or(Tamper::NotARecord)?;
    if obj.len() != 3 || !obj.get("audit").is_some_and(Value::is_object) {
        return Err(Tamper::NotARecord);
    }
    if canonical::to_string(&value).as_bytes() != line {
        return Err(Tamper::NotCanonical);
    }
    let found = obj
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or(Tamper::NotARecord)?;
    if found != seq {
        return Err(Tamper::Sequence {
            expected: seq,
            found,
        });
    }
    if obj.get("prev").and_then(Value::as_str) != Some(prev) {
        return Err(Tamper::Chain { previous: seq - 1 });
    }
    Ok(())
}

/// Reads and checks the whole log. When `recovering`, a torn last line, or a last line that
/// does not verify and was never acknowledged (its seq is past the head), is left out of
/// `valid_len` instead of being an error.
pub(super) fn scan(path: &Path, file: &mut File, recovering: bool) -> Result<Scan, AuditError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let head = read_head(path);

    let mut seq = 0u64;
    let mut last_hash = GENESIS.to_string();
    let mut valid_len = 0usize;
    let mut hash_at_head: Option<String> = None;
    let head_seq = head.as_ref().ok().and_then(|h| h.as_ref().map(|h| h.seq));

    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            // No newline: a torn last line.
            if recovering {
                break;
            }
            return Err(tampered(
                seq + 1,
                Tamper::TornTail {
                    bytes: rest.len() as u64,
                },
            ));
        };
        let (line, tail) = rest.split_at(nl);
        let tail = tail.get(1..).unwrap_or_default();
        if let Err(t) = check_line(line, seq + 1, &last_hash) {
            let unacknowledged = head_seq.is_none_or(|h| h < seq + 1);
            if recovering && tail.is_empty() && unacknowledged {
                break;
            }
            return Err(tampered(seq + 1, t));
        }
        seq += 1;
        last_hash = line_hash(line);
        if head_seq == Some(seq) {
            hash_at_head = Some(last_hash.clone());
        }
        valid_len += nl + 1;
        rest = tail;
    }

    match head {
        Err(t) => return Err(tampered(seq, t)),
        Ok(None) if seq > 0 => {
            return Err(tampered(seq, Tamper::HeadUnreadable("no head file".into())));
        }
        Ok(None) => {}
        Ok(Some(h)) => {
            if h.seq > seq {
                return Err(tampered(
                    seq + 1,
                    Tamper::Truncated {
                        last: seq,
                        head: h.seq,
                    },
                ));
            }
            let at = if h.seq == 0 {
                Some(GENESIS.to_string())
            } else {
                hash_at_head
            };
            if at.as_deref() != Some(h.hash.as_str()) {
                return Err(tampered(h.seq, Tamper::HeadMismatch));
            }
        }
    }
    Ok(Scan {
        last_seq: seq,
        last_hash,
        valid_len: valid_len as u64,
    })
}

/// Checks a head kept elsewhere against the log.
fn check_head(_path: &Path, file: &mut File, scan: &Scan, head: &Head) -> Result<(), AuditError> {
    if head.seq > scan.last_seq {
        return Err(tampered(
            scan.last_seq + 1,
            Tamper::Truncated {
                last: scan.last_seq,
                head: head.seq,
            },
        ));
    }
    if head.seq == 0 {
        return if head.hash == GENESIS {
            Ok(())
        } else {
            Err(tampered(0, Tamper::HeadMismatch))
        };
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let line = bytes
        .split(|&b| b == b'\n')
        .nth(usize::try_from(head.seq - 1).unwrap_or(usize::MAX))
        .unwrap_or_default();
    if line_hash(line) != head.hash {
        return Err(tampered(head.seq, Tamper::HeadMismatch));
    }
    Ok(())
}
