//! Each device's disk and clock: an in-memory file tree (case-sensitive, names kept byte for
//! byte, so an NFD name and its NFC twin are two files) with modification times from the
//! device's clock, and a clock that is the world's plus the device's skew. A crash freezes
//! the disk: the dying process writes nothing more.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use steel_sync::scan::Stat;
use steel_sync::vfs::{Clock, Disk, Entry, Kind};

/// The world's time, shared by every clock of the simulation (nanoseconds since the epoch).
#[derive(Debug, Default)]
pub struct WorldTime(AtomicI64);

impl WorldTime {
    pub fn starting_at(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(WorldTime(AtomicI64::new(
            at.timestamp_nanos_opt().unwrap_or(0),
        )))
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0.load(Ordering::Relaxed))
    }

    pub fn advance(&self, by: TimeDelta) {
        let ns = by.num_nanoseconds().unwrap_or(0).max(0);
        self.0.fetch_add(ns, Ordering::Relaxed);
    }
}

/// A device's clock: the world's time off by the device's skew.
#[derive(Debug)]
pub struct SkewedClock {
    pub world: Arc<WorldTime>,
    pub skew: TimeDelta,
}

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        self.world.now() + self.skew
    }
}

#[derive(Debug, Clone)]
struct Node {
    bytes: Vec<u8>,
    stat: Stat,
}

#[derive(Debug, Default)]
struct Tree {
    files: BTreeMap<String, Node>,
    next_id: u64,
}

/// One device's vault folder, in memory.
pub struct MemDisk {
    root: PathBuf,
    clock: Arc<dyn Clock>,
    tree: Mutex<Tree>,
    frozen: AtomicBool,
}

fn crashed() -> io::Error {
    io::Error::other("the process crashed (simulated)")
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemDisk {
    pub fn new(name: &str, clock: Arc<dyn Clock>) -> Self {
        MemDisk {
            root: PathBuf::from(format!("/sim/{name}")),
            clock,
            tree: Mutex::new(Tree::default()),
            frozen: AtomicBool::new(false),
        }
    }

    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A crash: nothing more is written until [`MemDisk::thaw`] (the restart).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::Relaxed);
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.frozen.load(Ordering::Relaxed) {
            Err(crashed())
        } else {
            Ok(())
        }
    }

    /// The person's write (never frozen: the person is not the crashed process).
    pub fn put(&self, rel: &str, bytes: &[u8]) {
        let now = self.clock.now_ns();
        let mut tree = self.tree();
        tree.next_id += 1;
        let stat = Stat {
            size: bytes.len() as u64,
            mtime_ns: now,
            ctime_ns: now,
            file_id: tree.next_id,
        };
        tree.files.insert(
            rel.to_owned(),
            Node {
                bytes: bytes.to_vec(),
                stat,
            },
        );
    }

    /// The person's delete.
    pub fn delete(&self, rel: &str) -> bool {
        self.tree().files.remove(rel).is_some()
    }

    /// Every file, hidden ones included: (path on disk, bytes).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let tree = self.tree();
        tree.files
            .iter()
            .map(|(k, n)| (k.clone(), n.bytes.clone()))
            .collect()
    }

    pub fn get(&self, rel: &str) -> Option<Vec<u8>> {
        self.tree().files.get(rel).map(|n| n.bytes.clone())
    }
}

impl Disk for MemDisk {
    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        self.get(rel).ok_or_else(not_found)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> io::Result<()> {
        self.check_alive()?;
        self.put(rel, bytes);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.check_alive()?;
        let now = self.clock.now_ns();
        let mut tree = self.tree();
        let mut node = tree.files.remove(from).ok_or_else(not_found)?;
        node.stat.ctime_ns = now;
        tree.files.insert(to.to_owned(), node);
        Ok(())
    }

    fn remove(&self, rel: &str) -> io::Result<()> {
        self.check_alive()?;
        self.tree()
            .files
            .remove(rel)
            .map(|_| ())
            .ok_or_else(not_found)
    }

    fn exists(&self, rel: &str) -> bool {
        self.tree().files.contains_key(rel)
    }

    fn list(&self, dir: &str) -> io::Result<Vec<Entry>> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let tree = self.tree();
        let mut out: Vec<Entry> = Vec::new();
        for name in tree.files.keys() {
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let entry = match rest.split_once('/') {
                Some((sub, _)) => Entry {
                    name: sub.into(),
                    kind: Kind::Dir,
                },
                None => Entry {
                    name: rest.into(),
                    kind: Kind::File,
                },
            };
            if out.last() != Some(&entry) {
                out.push(entry);
            }
        }
        if out.is_empty() && !dir.is_empty() {
            return Err(not_found());
        }
        Ok(out)
    }

    fn stat(&self, rel: &str) -> io::Result<Stat> {
        self.tree()
            .files
            .get(rel)
            .map(|n| n.stat)
            .ok_or_else(not_found)
    }

    fn in_memory(&self) -> bool {
        true
    }
}
