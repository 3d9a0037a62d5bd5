//! A replay store for one process that survives restarts: the memory store, with every new
//! entry journaled to a file and synced before the call returns.
//!
//! A used `jti` must stay used across a restart, or every proof and grant used in the minutes
//! before it can be presented again. So [`FileReplayStore::record`] appends the call's new
//! entries to the journal and `fdatasync`s it before it answers: a decision that was allowed
//! has its entries on disk. When the write fails the call fails, and the decision denies with
//! `replay.store_unavailable` (the entries stay recorded in memory, which only fails closed).
//!
//! The journal is JSON lines, `{"key":"<kind>:<jti>","until":<unix second>}`. Opening reads it
//! (a torn last line, as a crash mid-append leaves, is dropped: its call never returned), puts
//! back every entry still live, and rewrites the file with only those (temporary file, sync,
//! rename); the journal is compacted the same way when it grows past four times the live entries.
//! The file is locked (`flock`) while open: a second process on the same journal is refused,
//! since two stores that do not see each other's entries would each allow the same `jti` once.
//!
//! Many decision points share one view of used `jti`s through Redis, not through this file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{MemoryReplayStore, ReplayError, ReplayStore, UseOnce};

/// Journal lines appended since the last compaction before the next is considered.
const COMPACT_MIN_LINES: u64 = 65_536;

/// A replay store for one process, journaled to a file (see the module documentation).
#[derive(Debug, Clone)]
pub struct FileReplayStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    memory: MemoryReplayStore,
    path: PathBuf,
    journal: Mutex<Journal>,
}

#[derive(Debug)]
struct Journal {
    file: File,
    /// Lines in the file (live or not), to decide when to compact.
    lines: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    key: String,
    until: i64,
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> ReplayError {
    ReplayError::Unavailable(format!("replay journal {}: {what}: {e}", path.display()))
}

impl FileReplayStore {
    /// Opens (or creates) the journal at `path`, restoring every entry remembered through `now`
    /// or later, and compacts it. At most `capacity` live entries, as [`MemoryReplayStore`]
    /// (entries restored from the journal are kept even past it).
    ///
    /// # Errors
    /// [`ReplayError::Unavailable`] when the file cannot be read, written or locked (another
    /// process has it), or a line other than the last is not an entry.
    pub fn open(path: impl AsRef<Path>, capacity: usize, now: i64) -> Result<Self, ReplayError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io("open", &path, &e))?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => ReplayError::Unavailable(format!(
                "replay journal {}: another process has it open",
                path.display()
            )),
            std::fs::TryLockError::Error(e) => io("lock", &path, &e),
        })?;
        let memory = MemoryReplayStore::new(capacity);
        let mut lines = BufReader::new(&file).split(b'\n').peekable();
        let mut n = 0u64;
        while let Some(line) = lines.next() {
            n += 1;
            let line = line.map_err(|e| io("read", &path, &e))?;
            match serde_json::from_slice::<Line>(&line) {
                Ok(l) => {
                    if l.until >= now {
                        memory.restore(l.key, l.until);
                    }
                }
                // A torn last line: the call that wrote it never returned.
                Err(_) if lines.peek().is_none() => {}
                Err(e) => {
                    return Err(ReplayError::Unavailable(format!(
                        "replay journal {}: line {n} is not an entry ({e}); refusing to start without it",
                        path.display()
                    )));
                }
            }
        }
        let shared = Shared {
            memory,
            path,
            journal: Mutex::new(Journal { file, lines: 0 }),
        };
        {
            let mut journal = shared
                .journal
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            shared.compact(&mut journal, now)?;
        }
        Ok(FileReplayStore {
            shared: Arc::new(shared),
        })
    }

    /// How many entries are live (not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.memory.len()
    }

    /// Whether no entry is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the journal is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.shared.path
    }
}

impl Shared {
    fn record_now(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        // One journal writer at a time, so lines are whole and compaction sees every entry.
        let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let (replayed, fresh) = self.memory.record_keys(entries, now)?;
        if fresh.is_empty() {
            return Ok(replayed);
        }
        let count = fresh.len() as u64;
        let mut text = Vec::new();
        for (key, until) in fresh {
            let line = serde_json::to_vec(&Line { key, until })
                .map_err(|e| ReplayError::Unavailable(e.to_string()))?;
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        journal
            .file
            .write_all(&text)
            .and_then(|()| journal.file.sync_data())
            .map_err(|e| io("append", &self.path, &e))?;
        journal.lines += count;
        let live = self.memory.len() as u64;
        if journal.lines > COMPACT_MIN_LINES.max(live.saturating_mul(4)) {
            // A failed compaction leaves the journal as it was (complete); try again later.
            let _ = self.compact(&mut journal, now);
        }
        Ok(replayed)
    }

    /// Rewrites the journal with only the live entries: temporary file, sync, rename, and the
    /// journal reopened (and locked) at the new file.
    fn compact(&self, journal: &mut Journal, now: i64) -> Result<(), ReplayError> {
        let live = self.memory.live(now);
        let mut tmp_name = self.path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let write = || -> std::io::Result<File> {
            let mut f = File::create(&tmp)?;
            let mut text = Vec::new();
            for (key, until) in &live {
                serde_json::to_writer(
                    &mut text,
                    &Line {
                        key: key.clone(),
                        until: *until,
                    },
                )?;
                text.push(b'\n');
            }
            f.write_all(&text)?;
            f.sync_all()?;
            drop(f);
            let file = OpenOptions::new().read(true).append(true).open(&tmp)?;
            file.try_lock().map_err(std::io::Error::other)?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(file)
        };
        let file = write().map_err(|e| io("compact", &self.path, &e))?;
        journal.file = file;
        journal.lines = live.len() as u64;
        Ok(())
    }
}

impl ReplayStore for FileReplayStore {
    async fn record(&self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, ReplayError> {
        // fdatasync is blocking I/O: off the async workers when there are any.
        let (shared, entries) = (Arc::clone(&self.shared), entries.to_vec());
        crate::blocking::off_workers(move || shared.record_now(&entries, now))
            .await
            .unwrap_or_else(|e| Err(ReplayError::Unavailable(e)))
    }
}
