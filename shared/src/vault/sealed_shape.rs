//! The encrypted shapes of answer entries: an entry as the rules and the database give it
//! (named by its path), under its path key and with the sealed fields of its version. One
//! mapping for the handlers and the simulation's model, and which state entries go brief
//! ([`is_brief`]).

use steel_protocol::domain::DeviceId;
use steel_protocol::wire::{
    Key32, OwnEntries, RewindAnswer, Sealed, SealedConflict, SealedRewindAnswer, SealedStateFile,
};

use crate::vault::Conflict;
use crate::vault::rules::FileState;
use crate::vault::sealed::sealed_rejected;

/// A conflict in the encrypted shape.
pub fn sealed_conflict(c: Conflict, path_key: Key32, sealed: Option<Sealed>) -> SealedConflict {
    SealedConflict {
        path_key,
        sealed,
        base_version: c.base_version,
        server_version: c.server_version,
        content_hash: c.content_hash,
        size_bytes: c.size_bytes,
        is_deleted: c.is_deleted,
        updated_at: c.updated_at,
        updated_by: c.updated_by,
        download_url: c.download_url,
    }
}

/// Whether a state listing answers `f` brief to `caller` (`own=brief`): a live version the
/// calling device wrote. A tombstone stays full: a device forgets a note it deleted
/// (`sync_state` keeps no row for it), so it could not name a brief one.
pub fn is_brief(own: OwnEntries, caller: Option<DeviceId>, f: &FileState) -> bool {
    own == OwnEntries::Brief && !f.is_deleted && caller.is_some() && f.updated_by == caller
}

/// A state listing's entry in the encrypted shape: full with the version's sealed fields,
/// brief (no content hash, no sealed fields) when `sealed` is `Brief`.
pub fn sealed_state_file(f: FileState, path_key: Key32, sealed: StateSealed) -> SealedStateFile {
    let (content_hash, sealed, brief) = match sealed {
        StateSealed::Full(sealed) => (Some(f.content_hash), sealed, false),
        StateSealed::Brief => (None, None, true),
    };
    SealedStateFile {
        path_key,
        content_hash,
        sealed,
        brief,
        version: f.version,
        size_bytes: f.size_bytes,
        updated_at: f.updated_at,
        updated_by: f.updated_by,
        is_deleted: f.is_deleted,
        deleted_at: f.deleted_at,
    }
}

/// What a state entry carries beside the row: the version's sealed fields (`None` if a
/// stored value could not be one), or nothing ([`is_brief`]).
pub enum StateSealed {
    Full(Option<Sealed>),
    Brief,
}

/// A rewind page's answer in the encrypted shape (its skipped notes named by path key).
pub fn sealed_rewind_answer(done: RewindAnswer) -> SealedRewindAnswer {
    SealedRewindAnswer {
        restored: done.restored,
        deleted: done.deleted,
        unchanged: done.unchanged,
        kept_newer: done.kept_newer,
        skipped: done.skipped.into_iter().map(sealed_rejected).collect(),
        resume: done.resume,
        has_more: done.has_more,
        encrypted: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use steel_protocol::domain::{ContentHash, VaultPath};

    fn row(by: Option<DeviceId>, is_deleted: bool) -> FileState {
        FileState {
            path: VaultPath::parse("a.md").unwrap(),
            version: 2,
            content_hash: ContentHash::of(b"a"),
            size_bytes: 1,
            is_deleted,
            deleted_at: is_deleted.then(Utc::now),
            updated_at: Utc::now(),
            updated_by: by,
            change_seq: 5,
        }
    }

    #[test]
    fn only_the_callers_own_live_versions_go_brief_when_asked() {
        let me: DeviceId = "5f0c1f7e-8a55-4a39-9d8b-0b1c3d2e4f60".parse().unwrap();
        let other: DeviceId = "6f0c1f7e-8a55-4a39-9d8b-0b1c3d2e4f60".parse().unwrap();
        use OwnEntries::{Brief, Full};
        let cases = [
            (Brief, Some(me), Some(me), false, true),
            (Full, Some(me), Some(me), false, false),
            (Brief, Some(me), Some(other), false, false),
            (Brief, Some(me), None, false, false),
            (Brief, None, None, false, false),
            (Brief, None, Some(me), false, false),
            (Brief, Some(me), Some(me), true, false),
        ];
        for (own, caller, by, deleted, want) in cases {
            let got = is_brief(own, caller, &row(by, deleted));
            assert_eq!(got, want, "{own:?} {caller:?} {by:?} deleted={deleted}");
        }
    }

    #[test]
    fn a_brief_entry_carries_neither_hash_nor_sealed_fields() {
        let key = Key32([7; 32]);
        let full = sealed_state_file(row(None, false), key, StateSealed::Full(None));
        assert_eq!(full.content_hash, Some(ContentHash::of(b"a")));
        assert!(!full.brief);
        let brief = sealed_state_file(row(None, false), key, StateSealed::Brief);
        assert_eq!(
            (brief.content_hash, brief.sealed.clone(), brief.brief),
            (None, None, true)
        );
        let json = serde_json::to_value(&brief).unwrap();
        assert_eq!(json.get("brief"), Some(&serde_json::Value::Bool(true)));
        assert!(json.get("content_hash").is_none() && json.get("sealed").is_none());
        let json = serde_json::to_value(&full).unwrap();
        assert!(json.get("brief").is_none() && json.get("content_hash").is_some());
    }
}
