//! Which notes a scan must read again. Hashing every note on every sync is what a sync of
//! an unchanged vault used to spend its time on, so the scan keeps, as git's index does,
//! each file's metadata (size, modification and change time, file id) beside the hash of
//! its bytes, and trusts that hash while the metadata stays the same.
//!
//! Racily clean files: a modification time is only as fine as the file system keeps it
//! (2 s on FAT, 1 s on HFS+ and ext3, nanoseconds on APFS, ext4 and NTFS, but read from a
//! clock the kernel advances once per tick, 1 to 16 ms). A file written again within that
//! granularity of the moment its bytes were read can show the very metadata it had when
//! they were read. So a hash vouches for a file only if the file was last modified more
//! than one granularity before the scan that read it began; a file modified closer to that
//! scan is read again by the next one, and by every later one until it is old enough.
//!
//! A rename onto the path gives another file id; a write that restores the old modification
//! time changes the change time (on Unix; elsewhere file id and change time are 0 and the
//! cache relies on size and modification time).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::hash_bytes;

/// Whole-second modification times: the file system may round to 2 s (FAT).
const COARSE_GRANULARITY: Duration = Duration::from_secs(2);
/// Sub-second modification times: exFAT's 10 ms, or a kernel clock tick, with room to spare.
const FINE_GRANULARITY: Duration = Duration::from_millis(100);

/// What the file system says of a file, as far as its content is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    /// Nanoseconds since the Unix epoch; `i64::MAX` when the platform has none.
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub file_id: u64,
}

impl Stat {
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        #[cfg(unix)]
        let (ctime_ns, file_id) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec()),
                meta.ino(),
            )
        };
        #[cfg(not(unix))]
        let (ctime_ns, file_id) = (0, 0);
        Stat {
            size: meta.len(),
            // No modification time: a value no hash can vouch for (see `Cached::vouches_for`).
            mtime_ns: meta.modified().map_or(i64::MAX, nanos),
            ctime_ns,
            file_id,
        }
    }

    /// How far apart two writes may be and still leave the same modification time.
    fn granularity_ns(&self) -> i64 {
        let g = if self.mtime_ns.rem_euclid(1_000_000_000) == 0 {
            COARSE_GRANULARITY
        } else {
            FINE_GRANULARITY
        };
        g.as_nanos() as i64
    }
}

/// Nanoseconds since the Unix epoch (negative before it), saturating.
pub fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// A file's hash and its metadata when the scan that hashed it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub stat: Stat,
    pub hash: String,
    /// When the scan that read the bytes began (nanoseconds since the Unix epoch).
    pub hashed_at_ns: i64,
}

impl Cached {
    /// True when the file whose metadata is now `stat` still has the cached hash.
    pub fn vouches_for(&self, stat: &Stat) -> bool {
        self.stat == *stat
            && stat.mtime_ns < self.hashed_at_ns.saturating_sub(stat.granularity_ns())
    }
}

/// The hashes one scan uses and learns.
#[derive(Debug)]
pub struct HashCache {
    /// What earlier scans hashed, by path on disk; an entry is taken out when its file is
    /// found, so what is left at the end is gone.
    known: HashMap<String, Cached>,
    started_ns: i64,
    hashed: Vec<(String, Cached)>,
}

impl HashCache {
    /// A cache holding what earlier scans hashed; the scan using it begins now.
    pub fn new(known: HashMap<String, Cached>) -> Self {
        Self::starting_at(known, nanos(SystemTime::now()))
    }

    /// A cache for a scan that begins at `started_ns` (nanoseconds since the Unix epoch, by
    /// the clock the disk's modification times come from).
    pub fn starting_at(known: HashMap<String, Cached>, started_ns: i64) -> Self {
        HashCache {
            known,
            started_ns,
            hashed: Vec::new(),
        }
    }

    /// No earlier hashes: every file is read.
    pub fn empty() -> Self {
        Self::new(HashMap::new())
    }

    /// The hash of the file at `rel` whose metadata is now `stat`: the cached one if it still
    /// vouches for the file, else `read()`'s bytes hashed, and remembered.
    pub fn hash(
        &mut self,
        rel: &str,
        stat: Stat,
        read: impl FnOnce() -> std::io::Result<Vec<u8>>,
    ) -> std::io::Result<String> {
        if let Some(cached) = self.known.remove(rel)
            && cached.vouches_for(&stat)
        {
            return Ok(cached.hash);
        }
        let hash = hash_bytes(&read()?);
        self.hashed.push((
            rel.to_owned(),
            Cached {
                stat,
                hash: hash.clone(),
                hashed_at_ns: self.started_ns,
            },
        ));
        Ok(hash)
    }

    /// How many files this scan read (the rest came from the cache).
    pub fn reads(&self) -> usize {
        self.hashed.len()
    }

    /// What to store: the files hashed by this scan, and the cached paths it did not find.
    pub fn into_changes(self) -> (Vec<(String, Cached)>, Vec<String>) {
        (self.hashed, self.known.into_keys().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;

    fn stat(mtime_ns: i64) -> Stat {
        Stat {
            size: 10,
            mtime_ns,
            ctime_ns: mtime_ns,
            file_id: 7,
        }
    }

    fn cached(mtime_ns: i64, hashed_at_ns: i64) -> Cached {
        Cached {
            stat: stat(mtime_ns),
            hash: "h".into(),
            hashed_at_ns,
        }
    }

    #[test]
    fn a_hash_vouches_only_for_the_same_metadata() {
        let t = 1_700_000_000 * SEC + 123 * MS;
        let c = cached(t, t + SEC);
        assert!(c.vouches_for(&stat(t)));
        for other in [
            Stat {
                size: 11,
                ..stat(t)
            },
            Stat {
                mtime_ns: t + 1,
                ..stat(t)
            },
            Stat {
                ctime_ns: t + 1,
                ..stat(t)
            },
            Stat {
                file_id: 8,
                ..stat(t)
            },
        ] {
            assert!(!c.vouches_for(&other), "{other:?}");
        }
    }

    #[test]
    fn a_file_modified_within_the_granularity_of_its_scan_is_racily_clean() {
        let t = 1_700_000_000 * SEC + 123 * MS;
        // Fine timestamps: 100 ms.
        assert!(!cached(t, t).vouches_for(&stat(t)));
        assert!(!cached(t, t + 100 * MS).vouches_for(&stat(t)));
        assert!(cached(t, t + 100 * MS + 1).vouches_for(&stat(t)));
        // Whole seconds (FAT, HFS+): 2 s.
        let whole = 1_700_000_000 * SEC;
        assert!(!cached(whole, whole + SEC).vouches_for(&stat(whole)));
        assert!(!cached(whole, whole + 2 * SEC).vouches_for(&stat(whole)));
        assert!(cached(whole, whole + 2 * SEC + 1).vouches_for(&stat(whole)));
        // A modification time in the future (a skewed clock) never vouches.
        assert!(!cached(t + SEC, t).vouches_for(&stat(t + SEC)));
        // Neither does a platform without modification times.
        assert!(!cached(i64::MAX, i64::MAX).vouches_for(&stat(i64::MAX)));
    }

    #[test]
    fn a_scan_reads_what_the_cache_cannot_vouch_for_and_reports_what_is_gone() {
        let old = 1_600_000_000 * SEC + 5 * MS;
        let known = HashMap::from([
            ("same.md".to_owned(), cached(old, old + SEC)),
            ("edited.md".to_owned(), cached(old, old + SEC)),
            ("gone.md".to_owned(), cached(old, old + SEC)),
        ]);
        let mut cache = HashCache::new(known);
        let same = cache
            .hash("same.md", stat(old), || panic!("read a vouched-for file"))
            .unwrap();
        assert_eq!(same, "h");
        let edited = cache
            .hash("edited.md", stat(old + 1), || Ok(b"new".to_vec()))
            .unwrap();
        assert_eq!(edited, hash_bytes(b"new"));
        let new = cache
            .hash("new.md", stat(old), || Ok(b"n".to_vec()))
            .unwrap();
        assert_eq!(new, hash_bytes(b"n"));
        assert_eq!(cache.reads(), 2);
        let started = cache.started_ns;
        let (hashed, gone) = cache.into_changes();
        let names: Vec<&str> = hashed.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["edited.md", "new.md"]);
        assert!(hashed.iter().all(|(_, c)| c.hashed_at_ns == started));
        assert_eq!(gone, ["gone.md"]);
    }
}
