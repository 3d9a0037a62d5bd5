//! The audit log: append-only JSON lines, hash-chained, fsynced before a record is acknowledged.
//!
//! # Format
//!
//! One canonical JSON object per line (keys sorted, no whitespace):
//!
//! ```text
//! {"audit":{…the decision's audit object…},"prev":"<hex sha-256 of the previous line>","seq":1}
//! ```
//!
//! `seq` counts from 1; the first record's `prev` is 64 zeros. A line's hash is the SHA-256 of its
//! bytes without the newline. Next to the log, `<log>.head` holds the last acknowledged record's
//! `{"hash":…,"seq":…}`; it is what lets [`verify`] notice records cut off the end, which no hash
//! chain can see on its own.
//!
//! # Keyed chain
//!
//! With [`AuditOptions::chain_key`] (a [`ChainKey`], 32 or more random bytes, read from a key
//! file by [`ChainKey::from_file`]) the links are HMAC-SHA256 under that key instead of SHA-256,
//! and the log says so: every record and the head carry `"chain":"hmac-sha256"`.
//!
//! ```text
//! {"audit":{…},"chain":"hmac-sha256","prev":"<hex hmac-sha256(key, previous line)>","seq":1}
//! {"chain":"hmac-sha256","hash":"<hex hmac-sha256(key, last line)>","seq":1}
//! ```
//!
//! The first record's `prev` is HMAC-SHA256(key, the empty string) (not zeros), so the wrong key
//! fails at the first record, and an empty log's head names its key too. A log without a key is
//! byte for byte the format above. A log is keyed or not from its first record on:
//! [`AuditLog::open`] refuses a keyed log without its key ([`AuditError::KeyRequired`],
//! `audit.key_required`), an unkeyed log with a key, and a key the log was not chained under
//! ([`AuditError::KeyMismatch`], `audit.key_mismatch`); the key covers sealed segments alike.
//! [`verify_with_key`] checks a keyed log; [`verify`] (no key) refuses one with
//! `audit.key_required` rather than pass it. The key file format is [`read_key_file`]'s; the
//! chain key must not be the redaction key ([`Redactor`]; [`ChainKey`] says why).
//!
//! # Durability (the fsync policy)
//!
//! [`AuditLog::append`] writes the line, `fdatasync`s the log, then replaces the head file
//! (written to a temporary file, synced, renamed), and only then returns a [`Receipt`]. A record
//! whose receipt was returned survives a crash. Appends that arrive while a sync is under way are
//! committed together by the next one (group commit: one write, two fsyncs for the whole group),
//! so concurrent callers share the cost and each still returns only once its own record is
//! durable. A crash mid-append leaves at most one torn line, after any intact but unacknowledged
//! ones, at the end; [`AuditLog::open`] cuts the torn line off and reports it as a [`Recovery`].
//! If a write or sync fails, the records in flight are not acknowledged and the log repairs
//! itself before it takes the next record: it cuts the file back to the last acknowledged
//! record, syncs it, rewrites the head, and chains on from there
//! ([`AuditLog::repair`], also what a readiness probe calls). While the repair fails (the disk
//! is still full, no file descriptor is free) every append is refused; once it succeeds the log
//! is writable again without a restart.
//!
//! # Segments
//!
//! With [`AuditOptions::rotate_bytes`] the log is sealed into segments as it grows: once the
//! active file reaches that size after a commit it is renamed `<log>.<seq>` (its last record's
//! `seq`, 20 digits) and an empty `<log>` takes the next records, the chain going on across the
//! boundary. [`AuditLog::open`] reads only the active segment, anchored at the newest sealed
//! segment's last record, so a restart costs one segment, not the whole history;
//! [`verify`] walks every segment from the genesis record. Archive sealed segments rather than
//! delete them: verification starts from the first. A keyed log's key is checked at open
//! against record 1, in the oldest sealed segment, and links every segment.
//!
//! # One writer
//!
//! [`AuditLog::open`] takes an exclusive lock (`flock`) on `<log>.lock` before reading the log,
//! and holds it while the log is open: a second writer on the same log (a second `mandate serve` pointed
//! at it) is refused with `audit.locked`, rather than interleaving two chains or cutting off the
//! first writer's records as a torn tail. Readers (`mandate audit verify`) take no lock.
//!
//! # What verification finds
//!
//! Editing a line breaks the chain at the line after it (or, for the last line, no longer
//! matches the head); deleting or reordering lines breaks the `seq` order; cutting lines off the
//! end leaves the log shorter than its head; a torn last line is reported as such. Someone able to
//! rewrite both the log and its head from the edit onwards is not detected by the files alone —
//! unless the log is keyed: without the chain key no link can be recomputed, so an edit is found
//! wherever it is, whatever the links after it were recomputed with (SHA-256, another key), and a
//! log rewritten as an unkeyed one is refused by a verifier given the key (give it whenever the
//! log should be keyed: a log rewritten whole, without `chain`, verifies without a key). What a
//! key does not stop is cutting records off the end and rewriting the head to an earlier record
//! (each record's `prev` discloses the link before it): for that, and without a key, ship
//! receipts (or the lines) to a second place and pass the latest to [`verify`] as the expected
//! head.
//!
//! Sensitive fields can be replaced by their keyed hash before writing ([`Redactor`]).
//!
//! Opening a log reads and verifies its active segment (linear in its size): set
//! [`AuditOptions::rotate_bytes`] rather than growing one file for ever.

mod canonical;
mod key;
mod redact;
mod segments;
mod verify;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use policy_core::reason::Code;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub use canonical::to_string as canonical_json;
pub use key::{CHAIN_HMAC_SHA256, ChainKey, MIN_KEY_BYTES, read_key_file};
pub use redact::{PREFIX as HMAC_PREFIX, Redactor};
pub use verify::{Head, KeyMismatch, Report, Tamper, verify, verify_with_key};

/// The `prev` of the first record (of an unkeyed log; a keyed log's is [`ChainKey::genesis`]).
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What went wrong with an audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing the log failed.
    #[error("{code}: {0}", code = Code::AuditIo)]
    Io(#[from] std::io::Error),
    /// The log is not what was written: `record` is the 1-based position where it stops
    /// matching.
    #[error("{code}: record {record}: {tamper}", code = Code::AuditTampered)]
    Tampered {
        /// The 1-based position (line) where verification failed.
        record: u64,
        /// What was found there.
        tamper: Tamper,
    },
    /// The record to append is not a JSON object.
    #[error("{code}: {0}", code = Code::AuditInvalidRecord)]
    InvalidRecord(String),
    /// Another process has the log open for writing.
    #[error("{code}: another writer holds the audit log", code = Code::AuditLocked)]
    Locked,
    /// The log is keyed and no chain key was given: it can be neither appended to nor verified.
    #[error(
        "{code}: the audit log is keyed ({CHAIN_HMAC_SHA256}) and no chain key was given",
        code = Code::AuditKeyRequired
    )]
    KeyRequired,
    /// The chain key given does not fit the log.
    #[error("{code}: {0}", code = Code::AuditKeyMismatch)]
    KeyMismatch(KeyMismatch),
    /// A key file, or a key, is unusable: not hex of at least [`MIN_KEY_BYTES`] bytes, or the
    /// chain key is the redaction key.
    #[error("{code}: {0}", code = Code::AuditKeyInvalid)]
    KeyInvalid(String),
}

impl AuditError {
    /// The stable code.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            AuditError::Io(_) => Code::AuditIo,
            AuditError::Tampered { .. } => Code::AuditTampered,
            AuditError::InvalidRecord(_) => Code::AuditInvalidRecord,
            AuditError::Locked => Code::AuditLocked,
            AuditError::KeyRequired => Code::AuditKeyRequired,
            AuditError::KeyMismatch(_) => Code::AuditKeyMismatch,
            AuditError::KeyInvalid(_) => Code::AuditKeyInvalid,
        }
    }
}

/// Proof that a record was written and synced: its sequence number and line hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The record's `seq`.
    pub seq: u64,
    /// The record's chain link: hex SHA-256 of its line, or HMAC-SHA256 under the chain key.
    pub hash: String,
}

/// What [`AuditLog::open`] repaired: a torn or unacknowledged tail cut off after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The last intact record kept (0 when none).
    pub kept_through: u64,
    /// How many bytes were cut off the end.
    pub truncated_bytes: u64,
}

/// Options for [`AuditLog::open`].
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Fields to replace by their keyed hash before writing.
    pub redactor: Option<Redactor>,
    /// Seal the active segment once it holds this many bytes (see "Segments" above); `None`
    /// keeps one file.
    pub rotate_bytes: Option<u64>,
    /// Chain the log with HMAC-SHA256 under this key (see "Keyed chain" above): a new log is
    /// keyed; an existing one must have been written under the same key. `None`: SHA-256, and
    /// a keyed log is refused. Must not be the redactor's key.
    pub chain_key: Option<ChainKey>,
}

/// An open audit log, safe to share between threads (appends are chained in arrival order and
/// committed in groups).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    options: AuditOptions,
    state: Mutex<Queue>,
    committed: Condvar,
    file: Mutex<File>,
    /// `<log>.lock`, locked while the log is open (the active segment's file is replaced on
    /// rotation, so the lock is held on a file that is not).
    _lock: File,
    /// A seal's renames are not yet known durable (syncing the directory failed): synced before
    /// the next commit acknowledges anything written to the new segment.
    dir_unsynced: core::sync::atomic::AtomicBool,
}

/// The chain as appended (`seq`, `last_hash`) and as durable (`durable_*`), with the lines in
/// between waiting for the next commit.
#[derive(Debug)]
struct Queue {
    seq: u64,
    last_hash: String,
    pending: Vec<u8>,
    durable_seq: u64,
    durable_hash: String,
    /// The file's length through the last acknowledged record: what a repair cuts back to.
    durable_len: u64,
    committing: bool,
    /// Why the last commit failed; set until a repair succeeds.
    failed: Option<String>,
    /// Counts repairs. A record queued before a repair was dropped by it (its `seq` is reused),
    /// so an append that sees the epoch change fails rather than read a later commit as its own.
    epoch: u64,
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex SHA-256 of one line (without its newline).
#[must_use]
pub fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

/// `path` with `suffix` appended to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The path of a log's head file.
#[must_use]
pub fn head_path(log: &Path) -> PathBuf {
    suffixed(log, ".head")
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, verifying it whole. A torn or unacknowledged last
    /// line, as a crash mid-append leaves, is cut off and reported; anything else that does not
    /// verify is an error and nothing is appended.
    ///
    /// # Errors
    /// [`AuditError::Tampered`] when the log does not verify, [`AuditError::Io`] on I/O errors;
    /// [`AuditError::KeyRequired`] for a keyed log opened without [`AuditOptions::chain_key`],
    /// [`AuditError::KeyMismatch`] for an unkeyed log opened with one or a log chained under
    /// another key, [`AuditError::KeyInvalid`] when the chain key is the redactor's.
    pub fn open(
        path: impl AsRef<Path>,
        options: AuditOptions,
    ) -> Result<(AuditLog, Option<Recovery>), AuditError> {
        let path = path.as_ref().to_path_buf();
        if let (Some(redactor), Some(key)) = (&options.redactor, &options.chain_key)
            && redactor.key() == key.bytes()
        {
            return Err(AuditError::KeyInvalid(
                "the chain key must not be the redaction key".into(),
            ));
        }
        let key = options.chain_key.as_ref();
        // Before reading: a second writer must not cut the first one's records off as a tail.
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(suffixed(&path, ".lock"))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => AuditError::Locked,
            std::fs::TryLockError::Error(e) => AuditError::Io(e),
        })?;
        // A rotation cut short by a crash may leave its empty next segment behind.
        match std::fs::remove_file(suffixed(&path, ".next")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        verify::check_key(&path, key)?;
        let anchor = segments::anchor(&path, key)?;
        let scan = verify::scan(&path, &mut file, true, &anchor, key)?;
        let mut recovery = None;
        let len = file.metadata()?.len();
        if scan.valid_len < len {
            file.set_len(scan.valid_len)?;
            file.sync_all()?;
            recovery = Some(Recovery {
                kept_through: scan.last_seq,
                truncated_bytes: len - scan.valid_len,
            });
        }
        let log = AuditLog {
            path,
            options,
            state: Mutex::new(Queue {
                seq: scan.last_seq,
                last_hash: scan.last_hash.clone(),
                pending: Vec::new(),
                durable_seq: scan.last_seq,
                durable_hash: scan.last_hash,
                durable_len: scan.valid_len,
                committing: false,
                failed: None,
                epoch: 0,
            }),
            committed: Condvar::new(),
            file: Mutex::new(file),
            _lock: lock,
            dir_unsynced: core::sync::atomic::AtomicBool::new(false),
        };
        // Bring the head up to the log (it lags by one record after a crash between the two).
        {
            let q = log.state.lock().unwrap_or_else(PoisonError::into_inner);
            write_head(&log.path, q.durable_seq, &q.durable_hash, log.keyed())?;
        }
        Ok((log, recovery))
    }

    /// Appends one record (the decision's `audit` object), syncs it, and acknowledges it.
    ///
    /// # Errors
    /// [`AuditError::InvalidRecord`] when `audit` is not an object; [`AuditError::Io`] when the
    /// write or sync fails (the record is then not acknowledged; the next `open` repairs the
    /// tail).
    pub fn append(&self, audit: &Value) -> Result<Receipt, AuditError> {
        if !audit.is_object() {
            return Err(AuditError::InvalidRecord(
                "an audit record must be a JSON object".into(),
            ));
        }
        let mut audit = audit.clone();
        if let Some(redactor) = &self.options.redactor {
            redactor.apply(&mut audit);
        }
        let mut q = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if q.failed.is_some() {
            q = self.idle(q);
            self.repair_locked(&mut q)?;
        }
        let epoch = q.epoch;
        let seq = q.seq + 1;
        let mut record = serde_json::Map::new();
        record.insert("audit".into(), audit);
        if self.keyed() {
            record.insert("chain".into(), Value::from(CHAIN_HMAC_SHA256));
        }
        record.insert("prev".into(), Value::String(q.last_hash.clone()));
        record.insert("seq".into(), Value::from(seq));
        let line = canonical::to_string(&Value::Object(record));
        let hash = key::link(self.options.chain_key.as_ref(), line.as_bytes());
        q.pending.extend_from_slice(line.as_bytes());
        q.pending.push(b'\n');
        q.seq = seq;
        q.last_hash.clone_from(&hash);
        loop {
            if q.epoch != epoch {
                return Err(AuditError::Io(std::io::Error::other(
                    "the audit log failed and was repaired; this record was not written",
                )));
            }
            if q.durable_seq >= seq {
                return Ok(Receipt { seq, hash });
            }
            if let Some(e) = &q.failed {
                return Err(AuditError::Io(std::io::Error::other(format!(
                    "the audit log failed: {e}"
                ))));
            }
            if q.committing {
                q = self
                    .committed
                    .wait(q)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Lead a commit of everything queued so far, outside the queue lock.
            q.committing = true;
            let batch = core::mem::take(&mut q.pending);
            let (upto_seq, upto_hash) = (q.seq, q.last_hash.clone());
            let len_after = q.durable_len + batch.len() as u64;
            drop(q);
            let result = self.commit(&batch, upto_seq, &upto_hash, len_after);
            q = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            q.committing = false;
            match result {
                Ok(rotated) => {
                    q.durable_seq = upto_seq;
                    q.durable_hash = upto_hash;
                    q.durable_len = if rotated { 0 } else { len_after };
                }
                Err(e) => q.failed = Some(e.to_string()),
            }
            self.committed.notify_all();
        }
    }

    /// One write for the group (O_APPEND puts it at the end), one fsync, then the head; then,
    /// when the segment has reached `rotate_bytes` (`len` bytes now), it is sealed. Answers
    /// whether it was (the active segment is then empty).
    fn commit(&self, batch: &[u8], seq: u64, hash: &str, len: u64) -> Result<bool, AuditError> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if self
            .dir_unsynced
            .load(core::sync::atomic::Ordering::Acquire)
        {
            segments::sync_dir(&self.path)?;
            self.dir_unsynced
                .store(false, core::sync::atomic::Ordering::Release);
        }
        file.write_all(batch)?;
        file.sync_data()?;
        write_head(&self.path, seq, hash, self.keyed())?;
        match self.options.rotate_bytes {
            Some(limit) if len >= limit => self.seal(&mut file, seq),
            _ => Ok(false),
        }
    }

    /// Seals the active segment as `<log>.<seq>` and puts an empty one in its place: the next
    /// segment is made first (`<log>.next`, synced), then the two renames, then the directory
    /// is synced. A failure before the first rename leaves the log as it was (sealing is tried
    /// again after the next commit); a failure between the renames is undone.
    fn seal(&self, file: &mut File, seq: u64) -> Result<bool, AuditError> {
        let next_path = suffixed(&self.path, ".next");
        let next = match OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .open(&next_path)
            .and_then(|f| f.sync_all().map(|()| f))
        {
            Ok(f) => f,
            Err(_) => {
                let _ = std::fs::remove_file(&next_path);
                return Ok(false);
            }
        };
        let sealed = segments::sealed_path(&self.path, seq);
        if std::fs::rename(&self.path, &sealed).is_err() {
            let _ = std::fs::remove_file(&next_path);
            return Ok(false);
        }
        if let Err(e) = std::fs::rename(&next_path, &self.path) {
            // Undo: the records stay in the active segment. If even that fails, the log has
            // no active segment: refuse, and let a restart (which creates one) sort it out.
            std::fs::rename(&sealed, &self.path).map_err(|_| AuditError::Io(e))?;
            let _ = std::fs::remove_file(&next_path);
            return Ok(false);
        }
        *file = next;
        // The records sealed are durable either way; the renames must be before anything in
        // the new segment is acknowledged.
        if segments::sync_dir(&self.path).is_err() {
            self.dir_unsynced
                .store(true, core::sync::atomic::Ordering::Release);
        }
        Ok(true)
    }

    /// Makes a log whose last commit failed writable again, if it can: cuts the file back to the
    /// last acknowledged record, syncs it and rewrites the head. A no-op on a healthy log.
    /// [`AuditLog::append`] calls it before taking a record; a readiness probe calls it so that
    /// a log nobody appends to (the decision point is out of rotation) still comes back.
    ///
    /// # Errors
    /// [`AuditError::Io`] while the repair fails (the log stays refusing appends).
    pub fn repair(&self) -> Result<(), AuditError> {
        let mut q = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if q.failed.is_some() {
            q = self.idle(q);
            self.repair_locked(&mut q)?;
        }
        Ok(())
    }

    /// Waits until no commit is under way (a failed log has none: the commit that failed set the
    /// failure as it ended, and no append leads a commit while it is set).
    fn idle<'a>(&self, mut q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        while q.committing {
            q = self
                .committed
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        q
    }

    /// The repair, with the queue locked and no commit under way. Every record queued since the
    /// last acknowledged one was refused to its caller; none of them is kept.
    fn repair_locked(&self, q: &mut Queue) -> Result<(), AuditError> {
        let attempt = || -> Result<(), AuditError> {
            let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.set_len(q.durable_len)?;
            file.sync_all()?;
            write_head(&self.path, q.durable_seq, &q.durable_hash, self.keyed())
        };
        if let Err(e) = attempt() {
            q.failed = Some(e.to_string());
            return Err(AuditError::Io(std::io::Error::other(format!(
                "the audit log failed and cannot be repaired yet: {e}"
            ))));
        }
        q.seq = q.durable_seq;
        q.last_hash.clone_from(&q.durable_hash);
        q.pending.clear();
        q.failed = None;
        q.epoch += 1;
        Ok(())
    }

    /// Why the log refuses appends, when it does (its last commit failed and no repair has
    /// succeeded since).
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        let q = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        q.failed.clone()
    }

    /// Appends a decision's `audit` object (see [`AuditLog::append`]).
    ///
    /// # Errors
    /// As [`AuditLog::append`]; [`AuditError::InvalidRecord`] when the decision has no audit
    /// object.
    pub fn append_decision(&self, decision: &crate::Decision) -> Result<Receipt, AuditError> {
        match decision.audit() {
            Some(audit) => self.append(audit),
            None => Err(AuditError::InvalidRecord(
                "the decision carries no audit object".into(),
            )),
        }
    }

    /// The last acknowledged record (seq 0 and the genesis link, [`GENESIS`] or
    /// [`ChainKey::genesis`], for an empty log).
    #[must_use]
    pub fn head(&self) -> Receipt {
        let q = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Receipt {
            seq: q.durable_seq,
            hash: q.durable_hash.clone(),
        }
    }

    /// Where the log is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the log is keyed (chained under [`AuditOptions::chain_key`]).
    #[must_use]
    pub fn keyed(&self) -> bool {
        self.options.chain_key.is_some()
    }
}

/// Replaces the head file: temporary file, sync, rename.
fn write_head(log: &Path, seq: u64, hash: &str, keyed: bool) -> Result<(), AuditError> {
    let head = head_path(log);
    let tmp = suffixed(&head, ".tmp");
    let mut value = serde_json::Map::new();
    if keyed {
        value.insert("chain".into(), Value::from(CHAIN_HMAC_SHA256));
    }
    value.insert("hash".into(), Value::String(hash.to_string()));
    value.insert("seq".into(), Value::from(seq));
    let mut f = File::create(&tmp)?;
    f.write_all(canonical::to_string(&Value::Object(value)).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_data()?;
    std::fs::rename(&tmp, &head)?;
    Ok(())
}
