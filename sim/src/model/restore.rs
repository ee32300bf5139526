//! Restoring one version of a note, as `restore_versions` does it for either mode: the
//! version must exist, not be a deletion and still have its bytes; the rules decide from the
//! given base (the quota's room, without the compaction floor), and a version made by a
//! restore copies the sealed fields of the version it brings back.

use steel_core::domain::{DeviceId, VaultPath, Version};
use steel_core::vault::rules::{Content, Decision, FileState, Proposal, Room};
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{Conflict, Rejected};

use super::{Sealing, Server, WriteRow};

/// What restoring one version did.
pub(super) enum Restored1 {
    NotFound,
    Rejected(Rejected),
    Conflict(Conflict),
    /// Unchanged, and no row to name (never, as the rules stand).
    Skip,
    /// Written, or unchanged: the row.
    Done(FileState),
}

impl Server {
    /// Restores `version` of `path` from `base` as `restore_versions` does: a version made by
    /// a restore copies the sealed fields of the version it brings back.
    pub(super) fn restore_one(
        &mut self,
        device: Option<DeviceId>,
        path: &VaultPath,
        version: Version,
        base: Version,
    ) -> Restored1 {
        let source = (self.history.iter())
            .find(|h| &h.path == path && h.version == version.get())
            .cloned();
        let Some(source) = source else {
            return Restored1::NotFound;
        };
        if source.is_deleted {
            return Restored1::Rejected(Rejected::new(
                path.as_str(),
                ErrorCode::InvalidVersion,
                format!("version {version} is a deletion: restore the version before it"),
            ));
        }
        if !self.verified.contains_key(&source.content_hash) {
            return Restored1::Rejected(Rejected::new(
                path.as_str(),
                ErrorCode::ContentGone,
                format!("the bytes of version {version} are no longer stored"),
            ));
        }
        let proposal = Proposal {
            path: path.clone(),
            base,
            content: Content {
                hash: source.content_hash,
                size: source.size_bytes,
            },
        };
        // As `restore_versions`: the quota's room, without the compaction floor.
        let room = Room::new(self.vault_size, self.limits.vault_quota_bytes);
        let decision = self
            .decide(device, std::slice::from_ref(&proposal), room)
            .pop()
            .unwrap_or(Decision::Conflict);
        match decision {
            Decision::Write {
                version: v,
                size_delta,
            } => Restored1::Done(self.write_row(
                WriteRow {
                    path: path.clone(),
                    version: v.get(),
                    hash: source.content_hash,
                    size: source.size_bytes,
                    deleted: false,
                    size_delta,
                    sealing: Sealing::CopyFrom(source.version),
                },
                device,
                true,
            )),
            Decision::Unchanged => match self.files.get(path) {
                Some(r) => Restored1::Done(r.clone()),
                None => Restored1::Skip,
            },
            Decision::CaseConflict { existing } => {
                Restored1::Rejected(Rejected::case_conflict(path, &existing))
            }
            Decision::QuotaExceeded => Restored1::Rejected(Rejected::quota_exceeded(
                path,
                self.limits.vault_quota_bytes,
            )),
            Decision::Conflict | Decision::SameContentNewer => {
                Restored1::Conflict(self.conflict(path, base.get()))
            }
        }
    }
}
