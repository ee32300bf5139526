//! Reading and writing notes on disk the way the sync needs it: a write is atomic (a hidden
//! temporary file beside the note, flushed, then renamed over it), and a note is read back
//! only together with a check that it still has the hash the plan was made from.

use crate::error::{Result, SyncError};
use crate::scan::hash_bytes;
use crate::vfs::Disk;

/// Marks the client's own temporary files (hidden, so never synced; a scan removes them).
pub const TEMP_MARKER: &str = ".steel-tmp";

fn io_error(disk: &dyn Disk, rel: &str) -> impl FnOnce(std::io::Error) -> SyncError {
    SyncError::io(disk.root().join(rel))
}

/// The file's bytes, if it still has `hash`.
pub fn read_if_hash(disk: &dyn Disk, rel: &str, hash: &str) -> Option<Vec<u8>> {
    disk.read(rel).ok().filter(|b| hash_bytes(b) == hash)
}

/// The current hash of a file, or `None` if it does not exist.
pub fn current_hash(disk: &dyn Disk, rel: &str) -> Result<Option<String>> {
    match disk.read(rel) {
        Ok(b) => Ok(Some(hash_bytes(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(disk, rel)(e)),
    }
}

/// Whether another name of the note at `rel` (the same name in another Unicode
/// normalization, NFD beside NFC) is on disk beside it: a note the person made there after
/// the plan, which a pull into a note absent at plan time must not be written beside (on a
/// file system that keeps names byte for byte, the two would be two files, and the scan
/// syncs only one). Only names outside ASCII can have such a twin.
pub fn twin_appeared(disk: &dyn Disk, rel: &str) -> Result<bool> {
    if rel.is_ascii() {
        return Ok(false);
    }
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let entries = match disk.list(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_error(disk, dir)(e)),
    };
    let want = crate::scan::nfc(name);
    Ok(entries.iter().any(|e| {
        e.name
            .to_str()
            .is_some_and(|n| n != name && crate::scan::nfc(n) == want)
    }))
}

/// Writes a file atomically: a hidden temporary file beside it, flushed, then renamed over.
pub fn write_atomic(disk: &dyn Disk, rel: &str, bytes: &[u8]) -> Result<()> {
    let tmp = write_temp(disk, rel, bytes)?;
    commit_temp(disk, &tmp, rel)
}

/// The first half of [`write_atomic`]: the bytes, flushed, in a hidden temporary file beside
/// `rel`. Answers the temporary file's path relative to the vault.
pub fn write_temp(disk: &dyn Disk, rel: &str, bytes: &[u8]) -> Result<String> {
    let (dir_rel, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, rel),
    };
    let tmp_name = format!(".{name}{TEMP_MARKER}-{}", std::process::id());
    let tmp_rel = match dir_rel {
        Some(d) => format!("{d}/{tmp_name}"),
        None => tmp_name,
    };
    disk.write(&tmp_rel, bytes)
        .map_err(io_error(disk, &tmp_rel))?;
    Ok(tmp_rel)
}

/// The second half of [`write_atomic`]: the temporary file renamed over `rel`.
pub fn commit_temp(disk: &dyn Disk, tmp_rel: &str, rel: &str) -> Result<()> {
    disk.rename(tmp_rel, rel).map_err(|e| {
        let _ = disk.remove(tmp_rel);
        io_error(disk, rel)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_no_temporary_file_and_reads_back_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let disk = crate::vfs::FsDisk::new(root);
        write_atomic(&disk, "thoughts/a.md", b"one").unwrap();
        write_atomic(&disk, "thoughts/a.md", b"two").unwrap();
        let names: Vec<String> = std::fs::read_dir(root.join("thoughts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.md"]);
        assert_eq!(
            current_hash(&disk, "thoughts/a.md").unwrap(),
            Some(hash_bytes(b"two"))
        );
        assert_eq!(current_hash(&disk, "thoughts/none.md").unwrap(), None);
        assert_eq!(
            read_if_hash(&disk, "thoughts/a.md", &hash_bytes(b"two")).as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            read_if_hash(&disk, "thoughts/a.md", &hash_bytes(b"one")),
            None
        );
    }
}
