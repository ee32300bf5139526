//! The sync rules: what a write or a delete of one file does, decided from the server's row,
//! the request and the room left in the quota.
//!
//! Pure, so there is exactly one copy of them: `push` asks read-only (to know what to upload),
//! the commit asks again under lock with the rows it locked (to know what to write), and
//! restore asks with a past version's bytes. The database layer loads, locks and writes what
//! these functions decide; it decides nothing itself.
//!
//! Precedence for a write (first match wins):
//!
//! | # | the server's row, the request | decision |
//! |---|---|---|
//! | 1 | live with this very content, and the base is that version (or this device's own commit on top of the base: a retry) | `Unchanged` |
//! | 2 | live with this very content, from another base or device | `SameContentNewer` |
//! | 3 | another live path, or an earlier file of this request, differs only by letter case | `CaseConflict` |
//! | 4 | the base is not the server's version (0 when there is no row; a tombstone's version revives it) | `Conflict` |
//! | 5 | the vault would grow past the quota (shrinking always fits) | `QuotaExceeded` |
//! | 6 | otherwise | `Write` version base + 1 |

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::{ContentHash, Cursor, DeviceId, VaultPath, Version};

/// A note as the server holds it now: its newest version (or tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<DeviceId>,
    pub change_seq: i64,
}

impl FileState {
    pub fn cursor(&self) -> Cursor {
        Cursor::from_seq(self.change_seq)
    }

    /// Bytes this row counts against the quota.
    pub fn live_size(&self) -> i64 {
        if self.is_deleted { 0 } else { self.size_bytes }
    }
}

/// What a version's bytes are: their SHA-256 and their length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Content {
    pub hash: ContentHash,
    pub size: i64,
}

/// A write a device asks for: `content` on top of `base` (0: a new file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub path: VaultPath,
    pub base: Version,
    pub content: Content,
}

/// What a write of one file does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Commit `version` with the proposed content; the vault grows by `size_delta` (negative
    /// when it shrinks).
    Write { version: Version, size_delta: i64 },
    /// The server's live version already is this content and the caller knows it: its base
    /// is that version, or that version is this device's own commit on top of the base (a
    /// retry after a lost answer). Nothing to upload or write.
    Unchanged,
    /// The server's live version is this content, but the caller's base is stale (another
    /// device made the same edit). Nothing to upload; a commit reports a conflict so the
    /// caller learns the newer version.
    SameContentNewer,
    /// The server is not at the base: a stale write is a conflict, never an overwrite.
    Conflict,
    /// `existing` differs from this path only by letter case, and case-insensitive file
    /// systems (iOS, macOS) cannot hold both.
    CaseConflict { existing: VaultPath },
    /// The vault would grow past its quota.
    QuotaExceeded,
}

/// What a delete of one file does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteDecision {
    /// Write the tombstone `version`; the vault shrinks by the file's size.
    Tombstone {
        version: Version,
        size_delta: i64,
    },
    /// Already a tombstone: deleting is idempotent.
    AlreadyDeleted,
    /// The caller never saw the server's version: it cannot delete it.
    Conflict,
    NotFound,
    /// An earlier file of this request differs from this one only by letter case.
    CaseConflict {
        existing: VaultPath,
    },
}

/// How far the vault may still grow: the one quota computation, for push, confirm and
/// restore alike. Checked arithmetic: a sum that does not fit is refused, never wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    used: i64,
    /// `None`: a quota beyond what a vault can ever reach.
    quota: Option<i64>,
    /// The version a note that has no row starts at (see [`Room::above_compacted`]).
    first: Version,
}

impl Room {
    pub fn new(used: i64, quota: u64) -> Self {
        Room {
            used,
            quota: i64::try_from(quota).ok(),
            first: Version::NONE.next(),
        }
    }

    /// New notes start above `compacted_version`, the highest version of any tombstone the
    /// janitor compacted away (`users.compacted_version`): a device that slept may still
    /// know such a path at such a version, so a number must never name two contents of one
    /// path. Without compactions new notes start at 1.
    pub fn above_compacted(mut self, compacted_version: i64) -> Self {
        self.first = Version::stored(compacted_version).next();
        self
    }

    /// The version a write on top of `base` gets: the next one, or for a new note (base 0)
    /// the first free one.
    fn next_after(&self, base: Version) -> Version {
        if base == Version::NONE {
            self.first
        } else {
            base.next()
        }
    }

    /// Takes `delta` bytes if they fit. Growth past the quota is refused; a shrink always
    /// fits, even in a vault that is over a quota lowered since it filled.
    pub fn take(&mut self, delta: i64) -> bool {
        let Some(after) = self.used.checked_add(delta) else {
            return false;
        };
        if delta > 0 && self.quota.is_some_and(|quota| after > quota) {
            return false;
        }
        self.used = after.max(0);
        true
    }

    pub fn used(&self) -> i64 {
        self.used
    }
}

/// The bytes a row counts against the quota (a tombstone: none).
pub(crate) fn live_size(row: Option<&FileState>) -> i64 {
    row.filter(|r| !r.is_deleted).map_or(0, |r| r.size_bytes)
}

/// Decides one write. `twin`: a live path of the vault, or an earlier file of the request,
/// that differs from this one only by letter case. `room` shrinks when the write fits.
pub fn decide(
    current: Option<&FileState>,
    twin: Option<&VaultPath>,
    proposal: &Proposal,
    device: Option<DeviceId>,
    room: &mut Room,
) -> Decision {
    let same_content = current.filter(|r| {
        !r.is_deleted
            && r.content_hash == proposal.content.hash
            && r.size_bytes == proposal.content.size
    });
    if let Some(row) = same_content {
        let known = row.version == proposal.base.get();
        let retry = row.version == room.next_after(proposal.base).get() && row.updated_by == device;
        return if known || retry {
            Decision::Unchanged
        } else {
            Decision::SameContentNewer
        };
    }
    if let Some(existing) = twin.filter(|t| **t != proposal.path) {
        return Decision::CaseConflict {
            existing: existing.clone(),
        };
    }
    let server = current.map_or(Version::NONE, |r| Version::stored(r.version));
    if server != proposal.base {
        return Decision::Conflict;
    }
    // Both sides are sizes in 0..=i64::MAX: the difference cannot overflow.
    let size_delta = proposal.content.size - live_size(current);
    if !room.take(size_delta) {
        return Decision::QuotaExceeded;
    }
    Decision::Write {
        version: room.next_after(proposal.base),
        size_delta,
    }
}

/// Decides one delete.
pub fn decide_delete(
    current: Option<&FileState>,
    twin: Option<&VaultPath>,
    path: &VaultPath,
    base: Version,
) -> DeleteDecision {
    if let Some(existing) = twin.filter(|t| *t != path) {
        return DeleteDecision::CaseConflict {
            existing: existing.clone(),
        };
    }
    match current {
        None => DeleteDecision::NotFound,
        Some(row) if row.is_deleted => DeleteDecision::AlreadyDeleted,
        Some(row) if row.version != base.get() => DeleteDecision::Conflict,
        Some(row) => DeleteDecision::Tombstone {
            version: base.next(),
            size_delta: -row.size_bytes,
        },
    }
}

/// Case keys claimed so far in a request: the vault's live paths, then the files of the
/// request in order, so of two new names that differ only by case the second is refused.
struct CaseClaims<'a> {
    vault: &'a HashMap<String, VaultPath>,
    request: HashMap<String, VaultPath>,
}

impl<'a> CaseClaims<'a> {
    fn new(vault: &'a HashMap<String, VaultPath>) -> Self {
        CaseClaims {
            vault,
            request: HashMap::new(),
        }
    }

    /// The other path this one collides with, if any. A key the vault's live path holds
    /// stays that path's; otherwise the first file of the request to name it claims it.
    fn twin_of(&mut self, path: &VaultPath) -> Option<VaultPath> {
        let key = path.case_key();
        if let Some(live) = self.vault.get(&key) {
            return (live != path).then(|| live.clone());
        }
        let first = self.request.entry(key).or_insert_with(|| path.clone());
        (first != path).then(|| first.clone())
    }
}

/// Decides every write of a request, in order. `rows`: the server's rows of these paths;
/// `live_keys`: case key → live path of the vault, for the case keys of these paths.
pub fn decide_writes(
    proposals: &[Proposal],
    rows: &HashMap<VaultPath, FileState>,
    live_keys: &HashMap<String, VaultPath>,
    device: Option<DeviceId>,
    mut room: Room,
) -> Vec<Decision> {
    let mut claims = CaseClaims::new(live_keys);
    proposals
        .iter()
        .map(|p| {
            let twin = claims.twin_of(&p.path);
            decide(rows.get(&p.path), twin.as_ref(), p, device, &mut room)
        })
        .collect()
}

/// Decides every delete of a request, in order.
pub fn decide_deletes(
    deletes: &[(VaultPath, Version)],
    rows: &HashMap<VaultPath, FileState>,
) -> Vec<DeleteDecision> {
    let none = HashMap::new();
    let mut claims = CaseClaims::new(&none);
    deletes
        .iter()
        .map(|(path, base)| {
            let twin = claims.twin_of(path);
            decide_delete(rows.get(path), twin.as_ref(), path, *base)
        })
        .collect()
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
