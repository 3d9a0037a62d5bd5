//! Offline verification of an audit log, and the scan [`super::AuditLog::open`] recovers with.

use std::fs::File;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom};
use std::path::Path;

use serde_json::Value;

use super::key::{self, CHAIN_HMAC_SHA256, ChainKey};
use super::segments::{self, Anchor};
use super::{AuditError, canonical, head_path};

/// A log's head: the last acknowledged record, from `<log>.head` or kept elsewhere (a
/// [`super::Receipt`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Head {
    /// The record's `seq`.
    pub seq: u64,
    /// The record's chain link: hex SHA-256 of its line, or HMAC-SHA256 under the chain key.
    pub hash: String,
}

/// The head file as written: a keyed log's also names its chain.
#[derive(Debug, serde::Deserialize)]
struct HeadFile {
    #[serde(default)]
    chain: Option<String>,
    seq: u64,
    hash: String,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many records the log holds.
    pub records: u64,
    /// The last record's chain link (the genesis link for an empty log: [`super::GENESIS`], or
    /// [`ChainKey::genesis`]).
    pub last_hash: String,
    /// Whether the log is keyed, its links checked under the chain key given.
    pub keyed: bool,
}

/// How a chain key given does not fit a log ([`AuditError::KeyMismatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyMismatch {
    /// The log is not keyed (written without a key, or rewritten without one).
    #[error(
        "a chain key was given but the audit log is not keyed (written without a key, or rewritten)"
    )]
    Unkeyed,
    /// The log's first link (record 1's `prev`, or an empty log's head) is not the key's
    /// genesis link: the log was chained under another key, or that link was edited.
    #[error(
        "the audit log is not chained under this key: record 1's prev (or an empty log's head) is another key's genesis link, or was edited"
    )]
    OtherKey,
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
    /// A record (or the head) is keyed in an unkeyed log, or unkeyed in a keyed one: part of
    /// the log was rewritten under another chain.
    #[error(
        "{} in {} log (part of it was rewritten)",
        if *keyed { "keyed (\"chain\")" } else { "unkeyed (no \"chain\")" },
        if *keyed { "an unkeyed" } else { "a keyed" }
    )]
    ChainKind {
        /// Whether the record (or head) found is keyed.
        keyed: bool,
    },
}

/// The result of a scan: how much of the file is valid.
#[derive(Debug)]
pub(super) struct Scan {
    pub last_seq: u64,
    pub last_hash: String,
    /// Bytes of the file that are intact records (the rest is a torn tail, when recovering).
    pub valid_len: u64,
}

/// Verifies the unkeyed log at `path` — every sealed segment (`<log>.<seq>`, oldest first) from
/// the genesis record, then the active one — against its head file and, when given, a head kept
/// elsewhere (e.g. the last [`super::Receipt`] shipped to another system). A keyed log is not
/// verified: it is [`AuditError::KeyRequired`] (see [`verify_with_key`]).
///
/// # Errors
/// [`AuditError::Tampered`] naming the first record that does not verify; [`AuditError::Io`];
/// [`AuditError::KeyRequired`].
pub fn verify(path: impl AsRef<Path>, expected: Option<&Head>) -> Result<Report, AuditError> {
    verify_with_key(path, expected, None)
}

/// As [`verify`], with the chain key of a keyed log: every link is checked as HMAC-SHA256
/// under `key`. With `None` it is [`verify`].
///
/// # Errors
/// As [`verify`]; [`AuditError::KeyRequired`] when the log is keyed and `key` is `None`,
/// [`AuditError::KeyMismatch`] when the log is unkeyed and a key is given, or its first link
/// is not the key's (the wrong key fails at record 1); [`AuditError::Tampered`] at the first
/// record whose link does not verify under the key (or that is unkeyed in a keyed log).
pub fn verify_with_key(
    path: impl AsRef<Path>,
    expected: Option<&Head>,
    key: Option<&ChainKey>,
) -> Result<Report, AuditError> {
    let path = path.as_ref();
    check_key(path, key)?;
    let mut anchor: Anchor = (0, key::genesis(key));
    let mut expected_hash = None;
    let want = expected.map(|h| h.seq);
    for (last, segment) in segments::sealed(path)? {
        let mut bytes = Vec::new();
        File::open(&segment)?.read_to_end(&mut bytes)?;
        let records = records(&bytes, &anchor, false, want, None, key)?;
        if records.last_seq != last {
            // The name says where the segment ended; anything else was cut or appended.
            return Err(tampered(
                records.last_seq + 1,
                Tamper::Truncated {
                    last: records.last_seq,
                    head: last,
                },
            ));
        }
        expected_hash = expected_hash.or(records.hash_at_want);
        anchor = (records.last_seq, records.last_hash);
    }
    let mut file = File::open(path)?;
    let scan = scan(path, &mut file, false, &anchor, key)?;
    if let Some(head) = expected {
        let at = if head.seq == 0 {
            Some(key::genesis(key))
        } else if head.seq == anchor.0 {
            Some(anchor.1.clone())
        } else {
            expected_hash.or_else(|| scan.hash_at_want(&mut file, head.seq, &anchor, key))
        };
        if head.seq > scan.last_seq {
            return Err(tampered(
                scan.last_seq + 1,
                Tamper::Truncated {
                    last: scan.last_seq,
                    head: head.seq,
                },
            ));
        }
        if at.as_deref() != Some(head.hash.as_str()) {
            return Err(tampered(head.seq, Tamper::HeadMismatch));
        }
    }
    Ok(Report {
        records: scan.last_seq,
        last_hash: scan.last_hash,
        keyed: key.is_some(),
    })
}

/// The first line of the file at `path`, when it has a complete one within the first MiB.
fn first_line(path: &Path) -> Result<Option<Vec<u8>>, AuditError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut bytes = Vec::new();
    file.take(1024 * 1024).read_to_end(&mut bytes)?;
    Ok(bytes
        .iter()
        .position(|&b| b == b'\n')
        .map(|nl| bytes.get(..nl).unwrap_or_default().to_vec()))
}

/// Checks that `key` fits the log at `path`: the log's oldest record (or, when it has none, its
/// head) says whether the log is keyed, and a keyed log's record 1 (or empty head) holds the
/// key's genesis link. A log with no readable record nor head fits any key (it is new, or the
/// scan after this reports what is wrong with it).
pub(super) fn check_key(path: &Path, key: Option<&ChainKey>) -> Result<(), AuditError> {
    let oldest = match segments::sealed(path)?.into_iter().next() {
        Some((_, segment)) => segment,
        None => path.to_path_buf(),
    };
    let first = first_line(&oldest)?.and_then(|line| {
        let value: Value = serde_json::from_slice(&line).ok()?;
        let obj = value.as_object()?;
        let seq = obj.get("seq").and_then(Value::as_u64)?;
        let prev = obj.get("prev").and_then(Value::as_str)?.to_string();
        // The genesis link is known for record 1 only (older segments may be archived).
        Some((obj.contains_key("chain"), (seq == 1).then_some(prev)))
    });
    let (keyed, genesis) = match first {
        Some(found) => found,
        None => match read_head(path) {
            Ok(Some(head)) => (head.chain.is_some(), (head.seq == 0).then_some(head.hash)),
            _ => return Ok(()),
        },
    };
    match (keyed, key) {
        (true, None) => Err(AuditError::KeyRequired),
        (false, Some(_)) => Err(AuditError::KeyMismatch(KeyMismatch::Unkeyed)),
        (true, Some(k)) if genesis.is_some_and(|g| g != k.genesis()) => {
            Err(AuditError::KeyMismatch(KeyMismatch::OtherKey))
        }
        _ => Ok(()),
    }
}

/// The records of one segment, checked from `anchor`.
struct Records {
    last_seq: u64,
    last_hash: String,
    valid_len: usize,
    /// The hash of the record whose seq was asked for, when it is in this segment.
    hash_at_want: Option<String>,
}

/// Checks the lines of `bytes` as the records after `anchor`, linked under `key`, noting the
/// link of record `want`. When `recovering`, a torn last line, or a last line that does not
/// verify and is past `head_seq` (never acknowledged), ends the records instead of being an
/// error.
fn records(
    bytes: &[u8],
    anchor: &Anchor,
    recovering: bool,
    want: Option<u64>,
    head_seq: Option<u64>,
    key: Option<&ChainKey>,
) -> Result<Records, AuditError> {
    let (mut seq, mut last_hash) = (anchor.0, anchor.1.clone());
    let mut valid_len = 0usize;
    let mut hash_at_want = None;
    let mut rest = bytes;
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
        if let Err(t) = check_line(line, seq + 1, &last_hash, key.is_some()) {
            let unacknowledged = head_seq.is_none_or(|h| h < seq + 1);
            if recovering && tail.is_empty() && unacknowledged {
                break;
            }
            return Err(tampered(seq + 1, t));
        }
        seq += 1;
        last_hash = key::link(key, line);
        if want == Some(seq) {
            hash_at_want = Some(last_hash.clone());
        }
        valid_len += nl + 1;
        rest = tail;
    }
    Ok(Records {
        last_seq: seq,
        last_hash,
        valid_len,
        hash_at_want,
    })
}

fn tampered(record: u64, tamper: Tamper) -> AuditError {
    AuditError::Tampered { record, tamper }
}

fn read_head(path: &Path) -> Result<Option<HeadFile>, Tamper> {
    match std::fs::read(head_path(path)) {
        Ok(bytes) => match serde_json::from_slice::<HeadFile>(&bytes) {
            Ok(head)
                if head
                    .chain
                    .as_deref()
                    .is_some_and(|c| c != CHAIN_HMAC_SHA256) =>
            {
                Err(Tamper::HeadUnreadable(format!(
                    "unknown chain {:?}",
                    head.chain
                )))
            }
            Ok(head) => Ok(Some(head)),
            Err(e) => Err(Tamper::HeadUnreadable(e.to_string())),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Tamper::HeadUnreadable(e.to_string())),
    }
}

/// Checks one line as record number `seq` of a log keyed or not, following a line linked
/// `prev`.
fn check_line(line: &[u8], seq: u64, prev: &str, keyed: bool) -> Result<(), Tamper> {
    let value: Value = serde_json::from_slice(line).map_err(|_| Tamper::NotARecord)?;
    let obj = value.as_object().ok_or(Tamper::NotARecord)?;
    let chain = obj.get("chain");
    if chain.is_some() != keyed {
        return Err(Tamper::ChainKind {
            keyed: chain.is_some(),
        });
    }
    if chain.is_some_and(|c| c != CHAIN_HMAC_SHA256) {
        return Err(Tamper::NotARecord);
    }
    let members = if keyed { 4 } else { 3 };
    if obj.len() != members || !obj.get("audit").is_some_and(Value::is_object) {
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

/// Reads and checks the active segment from `anchor` (the last record before it), linked under
/// `key`, and the head file against it. When `recovering`, a torn last line, or a last line that
/// does not verify and was never acknowledged (its seq is past the head), is left out of
/// `valid_len` instead of being an error.
pub(super) fn scan(
    path: &Path,
    file: &mut File,
    recovering: bool,
    anchor: &Anchor,
    key: Option<&ChainKey>,
) -> Result<Scan, AuditError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let head = read_head(path);
    let head_seq = head.as_ref().ok().and_then(|h| h.as_ref().map(|h| h.seq));
    let found = records(&bytes, anchor, recovering, head_seq, head_seq, key)?;
    let seq = found.last_seq;
    match head {
        Err(t) => return Err(tampered(seq, t)),
        Ok(None) if seq > 0 => {
            return Err(tampered(seq, Tamper::HeadUnreadable("no head file".into())));
        }
        Ok(None) => {}
        Ok(Some(h)) => {
            if h.chain.is_some() != key.is_some() {
                return Err(tampered(
                    h.seq,
                    Tamper::ChainKind {
                        keyed: h.chain.is_some(),
                    },
                ));
            }
            if h.seq > seq {
                return Err(tampered(
                    seq + 1,
                    Tamper::Truncated {
                        last: seq,
                        head: h.seq,
                    },
                ));
            }
            let at = if h.seq == anchor.0 {
                Some(anchor.1.clone())
            } else {
                found.hash_at_want
            };
            if at.as_deref() != Some(h.hash.as_str()) {
                return Err(tampered(h.seq, Tamper::HeadMismatch));
            }
        }
    }
    Ok(Scan {
        last_seq: seq,
        last_hash: found.last_hash,
        valid_len: found.valid_len as u64,
    })
}

impl Scan {
    /// The link of record `seq` of the active segment (anchored at `anchor`), read again.
    fn hash_at_want(
        &self,
        file: &mut File,
        seq: u64,
        anchor: &Anchor,
        key: Option<&ChainKey>,
    ) -> Option<String> {
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_to_end(&mut bytes).ok()?;
        let index = usize::try_from(seq.checked_sub(anchor.0)?.checked_sub(1)?).ok()?;
        bytes
            .split(|&b| b == b'\n')
            .nth(index)
            .map(|line| key::link(key, line))
    }
}
