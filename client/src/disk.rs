//! Reading and writing notes on disk the way the sync needs it: a write is atomic (a hidden
//! temporary file beside the note, flushed, then renamed over it), and a note is read back
//! only together with a check that it still has the hash the plan was made from.

use std::path::Path;

use crate::error::{Result, SyncError};
use crate::scan::hash_bytes;

/// Marks the client's own temporary files (hidden, so never synced; a scan removes them).
pub const TEMP_MARKER: &str = ".steel-tmp";

/// The file's bytes, if it still has `hash`.
pub fn read_if_hash(root: &Path, rel: &str, hash: &str) -> Option<Vec<u8>> {
    std::fs::read(root.join(rel))
        .ok()
        .filter(|b| hash_bytes(b) == hash)
}

/// The current hash of a file, or `None` if it does not exist.
pub fn current_hash(root: &Path, rel: &str) -> Result<Option<String>> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(hash_bytes(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SyncError::io(&path)(e)),
    }
}

/// Writes a file atomically: a hidden temporary file beside it, flushed, then renamed over.
pub fn write_atomic(root: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let tmp = write_temp(root, rel, bytes)?;
    commit_temp(root, &tmp, rel)
}

/// The first half of [`write_atomic`]: the bytes, flushed, in a hidden temporary file beside
/// `rel`. Answers the temporary file's path relative to the vault.
pub fn write_temp(root: &Path, rel: &str, bytes: &[u8]) -> Result<String> {
    use std::io::Write;
    let (dir_rel, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, rel),
    };
    let tmp_name = format!(".{name}{TEMP_MARKER}-{}", std::process::id());
    let tmp_rel = match dir_rel {
        Some(d) => format!("{d}/{tmp_name}"),
        None => tmp_name,
    };
    let tmp = root.join(&tmp_rel);
    let dir = tmp.parent().unwrap_or(root).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(SyncError::io(&dir))?;
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(SyncError::io(&tmp)(e));
    }
    Ok(tmp_rel)
}

/// The second half of [`write_atomic`]: the temporary file renamed over `rel`.
pub fn commit_temp(root: &Path, tmp_rel: &str, rel: &str) -> Result<()> {
    let (tmp, path) = (root.join(tmp_rel), root.join(rel));
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SyncError::io(&path)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_no_temporary_file_and_reads_back_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_atomic(root, "thoughts/a.md", b"one").unwrap();
        write_atomic(root, "thoughts/a.md", b"two").unwrap();
        let names: Vec<String> = std::fs::read_dir(root.join("thoughts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["a.md"]);
        assert_eq!(
            current_hash(root, "thoughts/a.md").unwrap(),
            Some(hash_bytes(b"two"))
        );
        assert_eq!(current_hash(root, "thoughts/none.md").unwrap(), None);
        assert_eq!(
            read_if_hash(root, "thoughts/a.md", &hash_bytes(b"two")).as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            read_if_hash(root, "thoughts/a.md", &hash_bytes(b"one")),
            None
        );
    }
}
