//! The encrypted shapes of answer entries: an entry as the rules and the database give it
//! (named by its path), under its path key and with the sealed fields of its version. One
//! mapping for the handlers and the simulation's model.

use steel_protocol::wire::{
    Key32, RewindAnswer, Sealed, SealedConflict, SealedRewindAnswer, SealedStateFile,
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

/// A state listing's entry in the encrypted shape.
pub fn sealed_state_file(f: FileState, path_key: Key32, sealed: Option<Sealed>) -> SealedStateFile {
    SealedStateFile {
        path_key,
        sealed,
        version: f.version,
        content_hash: f.content_hash,
        size_bytes: f.size_bytes,
        updated_at: f.updated_at,
        updated_by: f.updated_by,
        is_deleted: f.is_deleted,
        deleted_at: f.deleted_at,
    }
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
