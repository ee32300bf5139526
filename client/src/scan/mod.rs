//! Finds the vault's notes and hashes them. A note is a `.md` file under one of the synced
//! folders; hidden files and folders (`.steel/` among them, and the client's own temporary
//! files) are never synced. Files are keyed by their path in Unicode NFC, as the server names
//! them, so a name written in NFD on one device is the same note as its NFC form on another.
//! A [`HashCache`] spares re-reading the notes whose metadata has not changed ([`cache`]).

pub mod cache;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::disk::TEMP_MARKER;
use crate::error::{Result, SyncError};
use crate::vfs::{Disk, FsDisk, Kind};

pub use cache::{Cached, HashCache, Stat};

/// The seed's vault folders.
pub const DEFAULT_FOLDERS: [&str; 4] = ["sources", "thoughts", "questions", "syntheses"];

#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Top-level folders to sync; empty means the whole vault.
    pub folders: Vec<String>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            folders: DEFAULT_FOLDERS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl ScanConfig {
    pub fn whole_vault() -> Self {
        ScanConfig {
            folders: Vec::new(),
        }
    }

    /// The folders as `sync.db` keeps them (`folders` meta: `*` for the whole vault, else a
    /// comma-separated list); nothing stored means the seed's four.
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            Some("*") => ScanConfig::whole_vault(),
            Some(v) => ScanConfig {
                folders: v
                    .split(',')
                    .map(|s| s.trim().trim_matches('/').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            None => ScanConfig::default(),
        }
    }

    /// Whether a vault path (NFC, `/`-separated) is one this vault syncs.
    pub fn includes(&self, path: &str) -> bool {
        if !is_note(path) || path.split('/').any(|s| s.starts_with('.')) {
            return false;
        }
        self.folders.is_empty()
            || self.folders.iter().any(|f| {
                path.strip_prefix(f.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

pub fn is_note(name: &str) -> bool {
    name.len() > 3
        && name
            .get(name.len() - 3..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".md"))
}

pub fn nfc(path: &str) -> String {
    // Most names are ASCII, or already NFC: no need to rebuild them char by char.
    match unicode_normalization::is_nfc_quick(path.chars()) {
        unicode_normalization::IsNormalized::Yes => path.to_owned(),
        _ => path.nfc().collect(),
    }
}

pub fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The path as it is on disk (`/`-separated, relative to the vault).
    pub rel: String,
    pub hash: String,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// Keyed by the NFC path.
    pub files: BTreeMap<String, LocalFile>,
    /// Files not synced, with why (two names for one note, a name that is not UTF-8).
    pub ignored: Vec<(PathBuf, String)>,
}

/// Scans the vault and hashes every note.
pub fn scan(root: &Path, config: &ScanConfig) -> Result<Scan> {
    scan_with(root, config, &mut HashCache::empty())
}

/// Scans the vault, hashing only the notes `cache` cannot vouch for.
pub fn scan_with(root: &Path, config: &ScanConfig, cache: &mut HashCache) -> Result<Scan> {
    scan_disk(&FsDisk::new(root), config, cache)
}

/// [`scan_with`] on any [`Disk`].
pub fn scan_disk(disk: &dyn Disk, config: &ScanConfig, cache: &mut HashCache) -> Result<Scan> {
    let mut out = Scan::default();
    let tops: Vec<&str> = if config.folders.is_empty() {
        vec![""]
    } else {
        config.folders.iter().map(String::as_str).collect()
    };
    for top in tops {
        walk(disk, top, cache, &mut out)?;
    }
    Ok(out)
}

fn walk(disk: &dyn Disk, dir: &str, cache: &mut HashCache, out: &mut Scan) -> Result<()> {
    let entries = match disk.list(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SyncError::io(disk.root().join(dir))(e)),
    };
    for entry in entries {
        let Some(name) = entry.name.to_str() else {
            out.ignored.push((
                disk.root().join(dir).join(&entry.name),
                "the name is not valid UTF-8".into(),
            ));
            continue;
        };
        let rel = if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        };
        if name.starts_with('.') {
            // A temporary file left by an interrupted write.
            if name.contains(TEMP_MARKER) {
                let _ = disk.remove(&rel);
            }
            continue;
        }
        if entry.kind == Kind::Dir {
            walk(disk, &rel, cache, out)?;
        } else if entry.kind == Kind::File && is_note(name) {
            // Metadata before the bytes: a change in between shows as changed metadata next
            // time, never as an old hash trusted for new bytes.
            let hashed = disk.stat(&rel).and_then(|stat| {
                cache
                    .hash(&rel, stat, || disk.read(&rel))
                    .map(|hash| (stat, hash))
            });
            let (stat, hash) = match hashed {
                Ok(found) => found,
                // Deleted while we scanned: simply not there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(SyncError::io(disk.root().join(&rel))(e)),
            };
            let key = nfc(&rel);
            let file = LocalFile {
                hash,
                size: stat.size,
                rel,
            };
            match out.files.get(&key) {
                // Two names for one note (NFC and NFD side by side): the NFC one wins.
                Some(existing) if existing.rel == key || file.rel != key => {
                    out.ignored.push((
                        disk.root().join(&file.rel),
                        format!("another file names the same note: {}", existing.rel),
                    ));
                }
                Some(existing) => {
                    out.ignored.push((
                        disk.root().join(&existing.rel),
                        format!("another file names the same note: {}", file.rel),
                    ));
                    out.files.insert(key, file);
                }
                None => {
                    out.files.insert(key, file);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_folders_read_back() {
        let cases: [(Option<&str>, &[&str]); 4] = [
            (None, &DEFAULT_FOLDERS),
            (Some("*"), &[]),
            (Some("thoughts, /sources/ ,,"), &["thoughts", "sources"]),
            (Some(""), &[]),
        ];
        for (stored, folders) in cases {
            assert_eq!(
                ScanConfig::from_stored(stored).folders,
                folders,
                "{stored:?}"
            );
        }
    }

    fn write_atomic(root: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
        crate::disk::write_atomic(&FsDisk::new(root), rel, bytes)
    }

    #[test]
    fn scans_notes_in_the_synced_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_atomic(root, "thoughts/a.md", b"a").unwrap();
        write_atomic(root, "thoughts/deep/b.MD", b"b").unwrap();
        write_atomic(root, "thoughts/c.txt", b"c").unwrap();
        write_atomic(root, "thoughts/.hidden.md", b"h").unwrap();
        write_atomic(root, "elsewhere/d.md", b"d").unwrap();
        write_atomic(root, ".steel/e.md", b"e").unwrap();
        std::fs::write(root.join("thoughts/.a.md.steel-tmp-1"), b"partial").unwrap();
        let found = scan(root, &ScanConfig::default()).unwrap();
        let keys: Vec<&str> = found.files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["thoughts/a.md", "thoughts/deep/b.MD"]);
        assert_eq!(found.files["thoughts/a.md"].hash, hash_bytes(b"a"));
        assert!(!root.join("thoughts/.a.md.steel-tmp-1").exists());
        let all = scan(root, &ScanConfig::whole_vault()).unwrap();
        assert!(all.files.contains_key("elsewhere/d.md"));
        assert!(!all.files.contains_key(".steel/e.md"));
    }

    #[test]
    fn nfd_names_are_keyed_in_nfc() {
        let dir = tempfile::tempdir().unwrap();
        let nfd = "thoughts/cafe\u{301}.md";
        write_atomic(dir.path(), nfd, b"x").unwrap();
        let found = scan(dir.path(), &ScanConfig::default()).unwrap();
        let file = &found.files["thoughts/caf\u{e9}.md"];
        assert_eq!(file.rel, nfd);
        // Both forms side by side: one note, the NFC one, and the other is reported.
        write_atomic(dir.path(), "thoughts/caf\u{e9}.md", b"y").unwrap();
        let found = scan(dir.path(), &ScanConfig::default()).unwrap();
        assert_eq!(found.files.len(), 1);
        assert_eq!(
            found.files["thoughts/caf\u{e9}.md"].rel,
            "thoughts/caf\u{e9}.md"
        );
        assert_eq!(found.ignored.len(), 1);
    }

    #[test]
    fn includes_matches_folders_and_skips_hidden() {
        let c = ScanConfig::default();
        assert!(c.includes("thoughts/x.md"));
        assert!(!c.includes("thoughtsx/x.md"));
        assert!(!c.includes("thoughts/.x.md"));
        assert!(!c.includes("thoughts/x.txt"));
        assert!(ScanConfig::whole_vault().includes("a/b.md"));
    }

    /// Sets a file's modification time to `when`.
    fn set_mtime(path: &Path, when: std::time::SystemTime) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(when).unwrap();
    }

    #[test]
    fn a_cached_scan_reads_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // An hour back: old enough for the cache to vouch for the files.
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        write_atomic(root, "thoughts/a.md", b"aaa").unwrap();
        write_atomic(root, "thoughts/b.md", b"bbb").unwrap();
        set_mtime(&root.join("thoughts/a.md"), hour_ago);
        set_mtime(&root.join("thoughts/b.md"), hour_ago);
        let config = ScanConfig::default();
        // What `scan_cache` would hold between scans.
        let mut known = std::collections::HashMap::new();
        let mut scan_and_keep = || {
            let mut cache = HashCache::new(known.clone());
            let found = scan_with(root, &config, &mut cache).unwrap();
            let reads = cache.reads();
            let (hashed, gone) = cache.into_changes();
            known.extend(hashed);
            for g in gone {
                known.remove(&g);
            }
            (found, reads)
        };
        let (first, reads) = scan_and_keep();
        assert_eq!(reads, 2);
        let (second, reads) = scan_and_keep();
        assert_eq!(reads, 0, "nothing changed");
        assert_eq!(first.files, second.files);

        // Same size, same file, the old modification time put back: the change time differs.
        std::fs::write(root.join("thoughts/b.md"), b"BBB").unwrap();
        set_mtime(&root.join("thoughts/b.md"), hour_ago);
        let (third, reads) = scan_and_keep();
        assert_eq!(reads, 1);
        assert_eq!(third.files["thoughts/b.md"].hash, hash_bytes(b"BBB"));
        assert_eq!(third.files["thoughts/a.md"].hash, hash_bytes(b"aaa"));

        // Gone from disk, gone from the cache.
        std::fs::remove_file(root.join("thoughts/a.md")).unwrap();
        let (fourth, reads) = scan_and_keep();
        assert_eq!((fourth.files.len(), reads), (1, 0));
        assert!(!known.contains_key("thoughts/a.md"));
    }
}
