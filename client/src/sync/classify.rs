//! The correctness core of the client: what to do with one path, decided from facts alone
//! (the local file's hash, the version it grew from, the `sync_state` row and the server's
//! side), with no disk, network or database in reach, so that every combination is tested
//! as a table (`classify/tests.rs`).
//!
//! The rules, in words:
//! - Only one side changed: carry the change to the other (push, delete there, pull,
//!   delete here).
//! - Both changed: the same bytes on both sides are simply agreed; two edits are merged (or
//!   kept both); an edit wins over a delete on either side, unless the other side's "edit"
//!   holds exactly the bytes the delete saw (a restore of them): nothing unseen is lost, so
//!   the delete goes on top.
//! - A version this device made whose answer it never saw (a lost response) is what the
//!   local file grew from: it becomes the base, and local changes since go on top of it.
//! - The server no longer has a note this device knows (a full listing after `410
//!   resync_required` does not name it: its tombstone was compacted): the server's delete
//!   is applied here if the local bytes are the last synced ones, and a local edit is pushed
//!   as a new note. Never resurrected, never an edit lost.

use crate::store::{Row, RowChange, SyncStatus, Version};

/// Who made a version on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    ThisDevice,
    Elsewhere,
}

impl Origin {
    /// From the server's `updated_by`, compared with this device's id.
    pub fn of(updated_by: Option<&str>, me: Option<&str>) -> Self {
        if me.is_some() && updated_by == me {
            Origin::ThisDevice
        } else {
            Origin::Elsewhere
        }
    }
}

/// The server's side of one path, as this sync heard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// Not in this delta of changes: the server's side is as `sync_state` last knew it.
    NotInDelta,
    /// The server holds nothing at this path: a full listing does not name it (never
    /// pushed, or its tombstone was compacted), or a conflict answered version 0.
    Absent,
    Live {
        version: Version,
        origin: Origin,
    },
    Tombstone {
        version: i64,
        origin: Origin,
    },
}

impl Remote {
    /// The version number (0: none), to keep the newest of two reports on one path.
    pub fn number(&self) -> i64 {
        match self {
            Remote::Live { version, .. } => version.number,
            Remote::Tombstone { version, .. } => *version,
            Remote::NotInDelta | Remote::Absent => 0,
        }
    }
}

/// Everything [`classify`] knows of one path.
#[derive(Debug, Clone)]
pub struct PathFacts<'a> {
    pub path: &'a str,
    /// The local file's hash; `None`: no file here.
    pub local: Option<&'a str>,
    /// The version the local file grew from: `sync_state`'s, or a later one the local bytes
    /// were found to be (a pull whose recording was lost).
    pub base: Option<Version>,
    pub row: Option<&'a Row>,
    pub remote: &'a Remote,
}

/// Upload the local file (`hash`) as the version after `base_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub path: String,
    pub base_version: i64,
    pub hash: String,
}

/// Delete the server's `base_version`, as this device did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub path: String,
    pub base_version: i64,
}

/// Write the server's current version over the local file, if it still has hash `expect`
/// (`None`: if there is still no file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub path: String,
    pub expect: Option<String>,
}

/// Both sides edited: merge the local file (`local_hash`) with the server's current
/// version against `base`, or keep the local side as a conflict copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub path: String,
    pub base: Option<Version>,
    pub local_hash: String,
}

/// Remove the local file, if it still has hash `expect`: the server deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub path: String,
    pub expect: String,
}

/// Work on a file or on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Push(Push),
    Delete(Delete),
    Pull(Pull),
    Merge(Merge),
    Remove(Removal),
    /// The server refused these very bytes before: reported, not sent again.
    StillRejected {
        path: String,
    },
}

/// What to do with one path: a change to `sync_state` alone, applied first, then work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub record: Option<RowChange>,
    pub work: Option<Work>,
}

impl Decision {
    fn work(work: Work) -> Self {
        Decision {
            record: None,
            work: Some(work),
        }
    }

    fn record(change: RowChange) -> Self {
        Decision {
            record: Some(change),
            work: None,
        }
    }
}

/// How the server's side moved away from the base.
#[derive(Debug, Clone, Copy)]
enum Moved<'a> {
    /// A newer version, made elsewhere.
    Live(&'a Version),
    /// A newer version this device made.
    Own(&'a Version),
    /// Deleted: a tombstone at `version`, or nothing at all (`version` 0, the base a
    /// new note is pushed on).
    Gone { version: i64 },
}

fn moved<'a>(f: &PathFacts<'a>) -> Option<Moved<'a>> {
    let base_number = f.base.as_ref().map_or(0, |b| b.number);
    match f.remote {
        Remote::NotInDelta => None,
        // Nothing on the server, and nothing agreed here: only a local side, if any.
        Remote::Absent if f.base.is_none() => None,
        Remote::Absent => Some(Moved::Gone { version: 0 }),
        r if r.number() == base_number => None,
        Remote::Live {
            version,
            origin: Origin::ThisDevice,
        } => Some(Moved::Own(version)),
        Remote::Live { version, .. } => Some(Moved::Live(version)),
        Remote::Tombstone { version, .. } => Some(Moved::Gone { version: *version }),
    }
}

/// Decides what to do with one path.
pub fn classify(f: &PathFacts<'_>) -> Decision {
    let edited = f.local != f.base.as_ref().map(|b| b.hash.as_str());
    let decision = match moved(f) {
        Some(Moved::Own(version)) => on_top_of_own(f, version),
        None => local_side_only(f, edited),
        Some(remote) if !edited => remote_side_only(f, remote),
        Some(remote) => both_sides(f, remote),
    };
    // Forgetting a row that does not exist (a tombstone never seen here) is no work.
    match decision.record {
        Some(RowChange::Forget { .. }) if f.row.is_none() => Decision::default(),
        _ => decision,
    }
}

fn forget(f: &PathFacts<'_>) -> Decision {
    Decision::record(RowChange::Forget {
        path: f.path.to_owned(),
    })
}

fn agreed(f: &PathFacts<'_>, version: &Version) -> Decision {
    Decision::record(RowChange::Agreed {
        path: f.path.to_owned(),
        version: version.clone(),
    })
}

fn push(f: &PathFacts<'_>, base_version: i64, hash: &str) -> Work {
    Work::Push(Push {
        path: f.path.to_owned(),
        base_version,
        hash: hash.to_owned(),
    })
}

fn delete(f: &PathFacts<'_>, base_version: i64) -> Work {
    Work::Delete(Delete {
        path: f.path.to_owned(),
        base_version,
    })
}

fn pull(f: &PathFacts<'_>) -> Work {
    Work::Pull(Pull {
        path: f.path.to_owned(),
        expect: f.local.map(str::to_owned),
    })
}

/// A version this device made (its answer lost, say) is what the local file grew from: it
/// becomes the base, and any local change since goes on top of it.
fn on_top_of_own(f: &PathFacts<'_>, own: &Version) -> Decision {
    let work = match f.local {
        Some(h) if h == own.hash => None,
        Some(h) => Some(push(f, own.number, h)),
        None => Some(delete(f, own.number)),
    };
    Decision {
        work,
        ..agreed(f, own)
    }
}

/// The server's side is as last agreed: a local change, if any, goes up.
fn local_side_only(f: &PathFacts<'_>, edited: bool) -> Decision {
    match (edited, f.local, &f.base) {
        // A refused file, deleted here: nothing is left to remember.
        (false, None, _) if f.row.is_some_and(|r| r.sync_status == SyncStatus::Rejected) => {
            forget(f)
        }
        (false, _, _) => Decision::default(),
        (true, Some(h), _) if f.row.and_then(Row::refused) == Some(h) => {
            Decision::work(Work::StillRejected {
                path: f.path.to_owned(),
            })
        }
        (true, Some(h), base) => Decision::work(push(f, base.as_ref().map_or(0, |b| b.number), h)),
        (true, None, Some(base)) => Decision::work(delete(f, base.number)),
        // No file and no base is never "edited"; forget whatever row there is.
        (true, None, None) => forget(f),
    }
}

/// Only the server's side moved: follow it.
fn remote_side_only(f: &PathFacts<'_>, remote: Moved<'_>) -> Decision {
    match (remote, f.local) {
        (Moved::Live(v) | Moved::Own(v), Some(h)) if h == v.hash => agreed(f, v),
        (Moved::Live(_) | Moved::Own(_), _) => Decision::work(pull(f)),
        // Deleted there, or compacted away after its delete: the synced bytes go here too.
        (Moved::Gone { .. }, Some(h)) => Decision::work(Work::Remove(Removal {
            path: f.path.to_owned(),
            expect: h.to_owned(),
        })),
        (Moved::Gone { .. }, None) => forget(f),
    }
}

/// Both sides changed.
fn both_sides(f: &PathFacts<'_>, remote: Moved<'_>) -> Decision {
    match (remote, f.local) {
        (Moved::Live(v) | Moved::Own(v), Some(h)) if h == v.hash => agreed(f, v),
        // Deleted here, changed there back to the very bytes this device deleted (a
        // restore of them, say): nothing it has not seen would be lost, so the delete goes
        // on top of the server's version.
        (Moved::Live(v) | Moved::Own(v), None)
            if f.base.as_ref().is_some_and(|b| b.hash == v.hash) =>
        {
            Decision::work(delete(f, v.number))
        }
        // Deleted here, edited there: the edit wins.
        (Moved::Live(_) | Moved::Own(_), None) => Decision::work(pull(f)),
        (Moved::Live(_) | Moved::Own(_), Some(h)) => Decision::work(Work::Merge(Merge {
            path: f.path.to_owned(),
            base: f.base.clone(),
            local_hash: h.to_owned(),
        })),
        // Edited here, deleted there: the edit wins, reviving the file (a new note, on
        // version 0, when the server has nothing left of it).
        (Moved::Gone { version }, Some(h)) => Decision::work(push(f, version, h)),
        (Moved::Gone { .. }, None) => forget(f),
    }
}

#[cfg(test)]
mod tests;
