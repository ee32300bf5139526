//! The seams between the sync engine and the world it runs in: the vault's files ([`Disk`])
//! and the time ([`Clock`]). The real client uses [`FsDisk`] (the file system under the vault
//! folder) and [`SystemClock`]; the deterministic simulation (`steel-sim`) uses an in-memory
//! file tree and a simulated clock. Paths are relative to the vault, `/`-separated.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::scan::Stat;

/// What a folder entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic link or anything else: never synced, never followed.
    Other,
}

/// One entry of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: OsString,
    pub kind: Kind,
}

/// The vault's files, as the sync engine reads and writes them.
pub trait Disk: Send + Sync {
    /// The vault folder, for messages.
    fn root(&self) -> &Path;
    fn read(&self, rel: &str) -> io::Result<Vec<u8>>;
    /// Creates (or truncates) `rel` with `bytes`, creating its folders, flushed to disk.
    fn write(&self, rel: &str, bytes: &[u8]) -> io::Result<()>;
    /// Renames `from` over `to` (atomic, replacing `to`).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    fn remove(&self, rel: &str) -> io::Result<()>;
    fn exists(&self, rel: &str) -> bool;
    /// The entries of the folder `dir` (`""`: the vault folder itself).
    fn list(&self, dir: &str) -> io::Result<Vec<Entry>>;
    /// The metadata of `rel` (not following a link).
    fn stat(&self, rel: &str) -> io::Result<Stat>;

    /// True when reading never blocks (an in-memory tree): the scan then runs on the sync's
    /// own task, in a fixed order with its requests, instead of on a blocking thread.
    fn in_memory(&self) -> bool {
        false
    }
}

/// The time of day, as the engine asks it (conflict-copy dates, the scan cache's moments).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Nanoseconds since the Unix epoch, saturating.
    fn now_ns(&self) -> i64 {
        self.now().timestamp_nanos_opt().unwrap_or(i64::MAX)
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn now_ns(&self) -> i64 {
        crate::scan::cache::nanos(std::time::SystemTime::now())
    }
}

/// The vault folder on the file system.
#[derive(Debug, Clone)]
pub struct FsDisk {
    root: PathBuf,
}

impl FsDisk {
    pub fn new(root: &Path) -> Self {
        FsDisk {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

impl Disk for FsDisk {
    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(rel))
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let result = (|| {
            let mut file = std::fs::File::create(&path)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.path(from), self.path(to))
    }

    fn remove(&self, rel: &str) -> io::Result<()> {
        std::fs::remove_file(self.path(rel))
    }

    fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    fn list(&self, dir: &str) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.path(dir))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let kind = if kind.is_dir() {
                Kind::Dir
            } else if kind.is_file() {
                Kind::File
            } else {
                Kind::Other
            };
            out.push(Entry {
                name: entry.file_name(),
                kind,
            });
        }
        Ok(out)
    }

    fn stat(&self, rel: &str) -> io::Result<Stat> {
        std::fs::symlink_metadata(self.path(rel)).map(|m| Stat::of(&m))
    }
}
