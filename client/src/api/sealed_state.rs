//! `GET /vault/state` of an encrypted account: every entry opened and checked into the
//! plaintext listing the engine reads. The device asks `own=brief`: its own live versions
//! come without their content hash and sealed fields, and it names them from what it
//! recorded when it wrote them (`sync.db`: the note under that path key at that version).
//! A page with a brief entry it did not record (a push whose answer was lost, a restore or
//! rewind it made, a new `sync.db`) is read again with `own=full` and that answer used
//! whole: one extra request, never a guess. Either way the engine sees the same listing.

use std::collections::HashMap;

use reqwest::Method;
use steel_protocol::wire::{
    OwnEntries, SealedStateAnswer, SealedStateFile, StateAnswer, StateFile,
};
use steel_protocol::{ContentHash, VaultPath};

use super::Api;
use crate::crypt::{Crypt, Expected, Recorded, tampered};
use crate::error::{Result, SyncError};
use crate::faults::Op;

/// The path and engine hash of each brief entry of `files` (by index), from what this
/// device recorded: exactly one recorded note under the entry's path key at its version.
/// `None` when any brief entry is not so recorded (the page must be read in full).
pub(crate) fn resolve_brief(
    files: &[SealedStateFile],
    recorded: &Recorded,
) -> Option<HashMap<usize, (VaultPath, ContentHash)>> {
    let mut out = HashMap::new();
    for (i, f) in files.iter().enumerate().filter(|(_, f)| f.brief) {
        match recorded.get(&(f.path_key, f.version)).map(Vec::as_slice) {
            Some([(path, hash)]) => {
                out.insert(i, (path.clone(), ContentHash::parse(hash).ok()?));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The plaintext listing's entry for `f`, named `path` with the engine's `content_hash`.
fn plain_entry(f: &SealedStateFile, path: VaultPath, content_hash: ContentHash) -> StateFile {
    StateFile {
        path,
        version: f.version,
        content_hash,
        size_bytes: f.size_bytes,
        updated_at: f.updated_at,
        updated_by: f.updated_by,
        is_deleted: f.is_deleted,
        deleted_at: f.deleted_at,
    }
}

impl Api {
    pub(super) async fn sealed_state(&self, c: &Crypt, query: &str) -> Result<StateAnswer> {
        let ask = |own: OwnEntries| format!("{query}&{}={}", OwnEntries::PARAM, own.as_str());
        let mut a: SealedStateAnswer = self
            .call(Op::State, Method::GET, &ask(OwnEntries::Brief), None::<&()>)
            .await?;
        let mut resolved = HashMap::new();
        if a.files.iter().any(|f| f.brief) {
            match resolve_brief(&a.files, &c.synced()?.recorded) {
                Some(r) => resolved = r,
                None => {
                    a = self
                        .call(Op::State, Method::GET, &ask(OwnEntries::Full), None::<&()>)
                        .await?;
                    if a.files.iter().any(|f| f.brief) {
                        return Err(SyncError::Other(
                            "the server answered brief entries to own=full".into(),
                        ));
                    }
                }
            }
        }
        let files = (a.files.into_iter().enumerate())
            .map(|(i, f)| match resolved.remove(&i) {
                Some((path, content_hash)) => {
                    c.learn_name(&path, !f.is_deleted);
                    Ok(plain_entry(&f, path, content_hash))
                }
                None => Self::open_state_file(c, f),
            })
            .collect::<Result<Vec<_>>>()?;
        let files = Self::with_superseded_names(c, files)?;
        Ok(StateAnswer {
            files,
            cursor: a.cursor,
            has_more: a.has_more,
            server_time: a.server_time,
        })
    }

    /// A full entry, opened and checked; a live one is remembered for a fetch through packs.
    fn open_state_file(c: &Crypt, f: SealedStateFile) -> Result<StateFile> {
        let o = c.open(&f.path_key, f.version, f.sealed.as_ref())?;
        let stored_hash = f
            .content_hash
            .ok_or_else(|| tampered(o.path.as_str(), "a full entry without its content hash"))?;
        c.learn_name(&o.path, !f.is_deleted);
        let content_hash = c.engine_hash(&o.manifest.blob_id);
        if !f.is_deleted {
            let expected = Expected {
                opened: o.clone(),
                content_hash: stored_hash,
            };
            c.list(o.path.as_str(), f.version, expected);
        }
        Ok(plain_entry(&f, o.path, content_hash))
    }

    /// `files` of a state listing, each note preceded by a tombstone (at its version) for
    /// every other letter case of its name this device knows: an encrypted vault keeps one
    /// row per path key, so `Idea.md` renamed to `idea.md` lists only `idea.md`, where a
    /// plaintext vault lists `Idea.md`'s tombstone too. Without it, a device that had
    /// `Idea.md` would keep it beside `idea.md`. A deleted note's other names go too: its
    /// tombstone carries the name of the version it deleted, which a restore of an older
    /// version can make `IDEA.md` where this device knew `idea.md`, and without it that
    /// device kept `idea.md` for good (simulation seed 204).
    fn with_superseded_names(c: &Crypt, files: Vec<StateFile>) -> Result<Vec<StateFile>> {
        if files.is_empty() {
            return Ok(files);
        }
        let synced = c.synced()?;
        let known = &synced.by_case_key;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let others = known.get(&f.path.case_key()).into_iter().flatten();
            for other in others.filter(|o| o.as_str() != f.path.as_str()) {
                out.push(StateFile {
                    path: VaultPath::parse(other).map_err(|e| SyncError::Other(e.message))?,
                    is_deleted: true,
                    deleted_at: Some(f.deleted_at.unwrap_or(f.updated_at)),
                    size_bytes: 0,
                    ..f.clone()
                });
            }
            out.push(f);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steel_protocol::wire::Key32;

    fn entry(key: u8, version: i64, brief: bool) -> SealedStateFile {
        SealedStateFile {
            path_key: Key32([key; 32]),
            version,
            content_hash: (!brief).then(|| ContentHash::of(b"stored")),
            size_bytes: 10,
            updated_at: chrono::Utc::now(),
            updated_by: None,
            is_deleted: false,
            deleted_at: None,
            sealed: None,
            brief,
        }
    }

    fn note(path: &str, content: &[u8]) -> (VaultPath, String) {
        (
            VaultPath::parse(path).unwrap(),
            ContentHash::of(content).to_hex(),
        )
    }

    #[test]
    fn a_brief_entry_is_named_only_by_the_one_note_recorded_at_its_version() {
        let mut recorded = Recorded::new();
        recorded.insert((Key32([1; 32]), 3), vec![note("a.md", b"a")]);
        recorded.insert((Key32([2; 32]), 5), vec![note("b.md", b"b")]);
        recorded.insert(
            (Key32([4; 32]), 2),
            vec![note("d.md", b"d"), note("D.md", b"D")],
        );
        // Full entries need nothing recorded; a brief one at its recorded version resolves.
        let page = [entry(1, 3, true), entry(9, 1, false), entry(2, 5, true)];
        let got = resolve_brief(&page, &recorded).expect("resolved");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[&0],
            (VaultPath::parse("a.md").unwrap(), ContentHash::of(b"a"))
        );
        assert_eq!(
            got[&2],
            (VaultPath::parse("b.md").unwrap(), ContentHash::of(b"b"))
        );
        assert_eq!(
            resolve_brief(&[entry(9, 1, false)], &recorded),
            Some(HashMap::new())
        );
        // Not recorded at that version (a lost answer), unknown key, or two notes: none.
        for unresolved in [entry(1, 4, true), entry(3, 1, true), entry(4, 2, true)] {
            let page = [entry(1, 3, true), unresolved];
            assert_eq!(resolve_brief(&page, &recorded), None);
        }
        assert_eq!(resolve_brief(&[entry(1, 3, true)], &Recorded::new()), None);
    }
}
