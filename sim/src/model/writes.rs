//! The model's vault endpoints that read and write notes: push, confirm, pull, delete and
//! restore (the `files` form), shaped as `shared/src/handlers` shapes them, deciding with
//! `steel-core`'s pure rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::TimeDelta;
use steel_core::domain::{ContentHash, DeviceId, VaultPath, Version};
use steel_core::vault::recovery::{MassDelete, is_held};
use steel_core::vault::request::{self, PathParser};
use steel_core::vault::rules::{self, Decision, DeleteDecision, Proposal, Room};
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{
    ConfirmAnswer, Conflict, DeleteAnswer, DeleteRequest, Download, FilesRequest, Missing,
    PullAnswer, PullRequest, PushAnswer, Rejected, RestoreAnswer, RestoreRequest, Restored,
    Tombstone, Upload, Versioned,
};

use steel_core::db::sealed::StoredSealed;
use steel_core::vault::rules::FileState;
use steel_core::vault::sealed::check_sealed_version;

use super::restore::Restored1;
use super::{Answer, Sealing, Server, WriteRow, object_url};

/// A version as pull reads it: (version, hash, size, deleted, when deleted).
pub(super) type Found = (
    i64,
    ContentHash,
    i64,
    bool,
    Option<chrono::DateTime<chrono::Utc>>,
);

const BATCH: usize = 1000;

fn check_count(n: usize) -> Result<(), Answer> {
    if n > BATCH {
        return Err(Answer::error(
            400,
            ErrorCode::TooManyFiles,
            format!("at most {BATCH} files per request"),
        ));
    }
    Ok(())
}

impl Server {
    pub(super) fn room(&self) -> Room {
        Room::new(self.vault_size, self.limits.vault_quota_bytes)
            .above_compacted(self.compacted_version)
    }

    pub(super) fn decide(
        &self,
        device: Option<DeviceId>,
        proposals: &[Proposal],
        room: Room,
    ) -> Vec<Decision> {
        let paths: Vec<&VaultPath> = proposals.iter().map(|p| &p.path).collect();
        let current = self.rows_of(&paths);
        let live = self.live_keys(&paths);
        rules::decide_writes(proposals, &current, &live, device, room)
    }

    /// `describe_conflict`: the server's side of `path`.
    pub(super) fn conflict(&self, path: &VaultPath, base: i64) -> Conflict {
        let row = self.files.get(path);
        Conflict {
            path: path.clone(),
            base_version: base,
            server_version: row.map_or(0, |r| r.version),
            content_hash: row.map(|r| r.content_hash),
            size_bytes: row.map(|r| r.size_bytes),
            is_deleted: row.is_some_and(|r| r.is_deleted),
            updated_at: row.map(|r| r.updated_at),
            updated_by: row.and_then(|r| r.updated_by),
            download_url: row
                .filter(|r| !r.is_deleted)
                .map(|r| object_url(&r.content_hash)),
        }
    }

    pub(super) fn push(&mut self, device: Option<DeviceId>, body: FilesRequest) -> Answer {
        if let Err(e) = check_count(body.files.len()) {
            return e;
        }
        let (proposals, rejected) = request::parse_files(&body.files, self.limits.max_file_bytes);
        let decisions = self.decide(device, &proposals, self.room());
        let needs_upload =
            |p: &Proposal| self.verified.get(&p.content.hash) != Some(&p.content.size);
        let mut answer = PushAnswer {
            rejected,
            ..PushAnswer::default()
        };
        for (p, decision) in proposals.iter().zip(decisions) {
            match decision {
                Decision::Unchanged | Decision::SameContentNewer => {
                    let Some(row) = self.files.get(&p.path) else {
                        return Answer::error(500, ErrorCode::InternalError, "no row");
                    };
                    answer.unchanged.push(Versioned {
                        path: p.path.clone(),
                        version: row.version,
                        content_hash: row.content_hash,
                    });
                }
                Decision::Conflict => answer.conflicts.push(self.conflict(&p.path, p.base.get())),
                Decision::CaseConflict { existing } => answer
                    .rejected
                    .push(Rejected::case_conflict(&p.path, &existing)),
                Decision::QuotaExceeded => answer.rejected.push(Rejected::quota_exceeded(
                    &p.path,
                    self.limits.vault_quota_bytes,
                )),
                Decision::Write { .. } => {
                    let url = needs_upload(p).then(|| object_url(&p.content.hash));
                    answer.uploads.push(Upload {
                        path: p.path.clone(),
                        base_version: p.base.get(),
                        content_hash: p.content.hash,
                        size_bytes: p.content.size,
                        method: url.as_ref().map(|_| "PUT".to_owned()),
                        expires_at: url.as_ref().map(|_| self.now + TimeDelta::hours(1)),
                        headers: url.as_ref().map(|_| BTreeMap::new()),
                        deferred: false,
                        upload_url: url,
                    });
                }
            }
        }
        Answer::ok(&answer)
    }

    /// Verifies what the bucket holds for each proposal, once per hash, remembering the
    /// good ones: the proposals ready to commit, and the others with why not.
    pub(super) fn verify(
        &mut self,
        proposals: Vec<Proposal>,
    ) -> (Vec<Proposal>, Vec<(Proposal, ErrorCode)>) {
        let hashes: HashSet<ContentHash> = proposals.iter().map(|p| p.content.hash).collect();
        for hash in hashes {
            if !self.verified.contains_key(&hash)
                && let Some(bytes) = self.bucket.get(&hash)
                && ContentHash::of(bytes) == hash
            {
                self.verified.insert(hash, bytes.len() as i64);
            }
        }
        let mut missing = Vec::new();
        let mut ready = Vec::new();
        for p in proposals {
            let code = match self.verified.get(&p.content.hash) {
                Some(size) if *size == p.content.size => {
                    ready.push(p);
                    continue;
                }
                Some(_) => ErrorCode::ContentMismatch,
                None if self.bucket.contains_key(&p.content.hash) => ErrorCode::ContentMismatch,
                None => ErrorCode::NotUploaded,
            };
            missing.push((p, code));
        }
        (ready, missing)
    }

    /// Commits verified proposals as `commit_sealed_versions` does: each decision, with the
    /// row written (a write) or current (unchanged). An encrypted account's writes carry
    /// their sealed fields, and one whose manifest names another version is a conflict.
    pub(super) fn commit(
        &mut self,
        device: Option<DeviceId>,
        ready: &[Proposal],
        sealed: Option<&HashMap<VaultPath, StoredSealed>>,
    ) -> Vec<(Decision, Option<FileState>)> {
        let decisions = self.decide(device, ready, self.room());
        let mut out = Vec::with_capacity(ready.len());
        for (p, decision) in ready.iter().zip(decisions) {
            let given = sealed.and_then(|s| s.get(&p.path));
            let decision = check_sealed_version(decision, given.map(|g| g.manifest_version));
            let row = match decision {
                Decision::Write {
                    version,
                    size_delta,
                } => Some(self.write_row(
                    WriteRow {
                        path: p.path.clone(),
                        version: version.get(),
                        hash: p.content.hash,
                        size: p.content.size,
                        deleted: false,
                        size_delta,
                        sealing: given.cloned().map_or(Sealing::None, Sealing::Given),
                    },
                    device,
                    false,
                )),
                Decision::Unchanged => self.files.get(&p.path).cloned(),
                _ => None,
            };
            out.push((decision, row));
        }
        out
    }

    pub(super) fn confirm(&mut self, device: Option<DeviceId>, body: FilesRequest) -> Answer {
        if let Err(e) = check_count(body.files.len()) {
            return e;
        }
        let (proposals, mut rejected) =
            request::parse_files(&body.files, self.limits.max_file_bytes);
        let (ready, missing) = self.verify(proposals);
        let mut answer = ConfirmAnswer {
            missing: missing
                .into_iter()
                .map(|(p, code)| Missing {
                    path: p.path,
                    content_hash: p.content.hash,
                    code: code.into(),
                })
                .collect(),
            ..ConfirmAnswer::default()
        };
        let outcomes = self.commit(device, &ready, None);
        for (p, (decision, row)) in ready.iter().zip(outcomes) {
            let row = match (decision, row) {
                (Decision::Write { .. } | Decision::Unchanged, Some(row)) => row,
                (Decision::Unchanged, None) => continue,
                (Decision::CaseConflict { existing }, _) => {
                    rejected.push(Rejected::case_conflict(&p.path, &existing));
                    continue;
                }
                (Decision::QuotaExceeded, _) => {
                    rejected.push(Rejected::quota_exceeded(
                        &p.path,
                        self.limits.vault_quota_bytes,
                    ));
                    continue;
                }
                _ => {
                    answer.conflicts.push(self.conflict(&p.path, p.base.get()));
                    continue;
                }
            };
            answer.confirmed.push(Versioned {
                path: row.path,
                version: row.version,
                content_hash: row.content_hash,
            });
        }
        answer.rejected = rejected;
        Answer::ok(&answer)
    }

    /// The current version of `path` (`None`), or that version from the history: (version,
    /// hash, size, deleted, when deleted), as pull reads it.
    pub(super) fn find(&self, path: &VaultPath, version: Option<i64>) -> Option<Found> {
        match version {
            None => self.files.get(path).map(|r| {
                (
                    r.version,
                    r.content_hash,
                    r.size_bytes,
                    r.is_deleted,
                    r.deleted_at,
                )
            }),
            Some(v) => (self.history.iter())
                .find(|h| &h.path == path && h.version == v)
                .map(|h| (v, h.content_hash, h.size_bytes, h.is_deleted, None)),
        }
    }

    pub(super) fn pull(&mut self, body: PullRequest) -> Result<Answer, Answer> {
        let entries: Vec<(String, Option<serde_json::Number>)> = match (body.paths, body.files) {
            (Some(paths), None) => paths.into_iter().map(|p| (p, None)).collect(),
            (None, Some(files)) => files
                .into_iter()
                .map(|f| (f.path, Some(f.version)))
                .collect(),
            _ => {
                return Err(Answer::error(
                    400,
                    ErrorCode::InvalidRequest,
                    "send either \"paths\" or \"files\"",
                ));
            }
        };
        check_count(entries.len())?;
        let mut answer = PullAnswer::default();
        let mut seen = HashSet::new();
        for (raw, version) in entries {
            let parsed = VaultPath::parse(&raw)
                .map_err(|e| Rejected::new(raw.as_str(), e.code, e.message))
                .and_then(|path| {
                    let version = version
                        .map(|v| request::parse_version(&path, &v))
                        .transpose()?
                        .map(Version::get);
                    if !seen.insert((path.clone(), version)) {
                        return Err(Rejected::new(
                            path.as_str(),
                            ErrorCode::DuplicatePath,
                            "the same file (and version) appears twice in this request",
                        ));
                    }
                    Ok((path, version))
                });
            let (path, version) = match parsed {
                Ok(w) => w,
                Err(r) => {
                    answer.rejected.push(r);
                    continue;
                }
            };
            match self.find(&path, version) {
                None => answer.not_found.push(path),
                Some((version, _, _, true, deleted_at)) => answer.deleted.push(Tombstone {
                    path,
                    version,
                    deleted_at,
                }),
                Some((version, hash, size, false, _)) => answer.files.push(Download {
                    path,
                    version,
                    content_hash: hash,
                    size_bytes: size,
                    download_url: object_url(&hash),
                    expires_at: self.now + TimeDelta::hours(1),
                }),
            }
        }
        Ok(Answer::ok(&answer))
    }

    /// Deletes as `delete_files` does: the mass-delete guard unless `confirmed`, then each
    /// decision with the row written (a tombstone, keeping the sealed fields of the version
    /// it deletes) or current.
    pub(super) fn delete_rows(
        &mut self,
        device: Option<DeviceId>,
        deletes: &[(VaultPath, Version)],
        confirmed: bool,
    ) -> Result<Vec<(DeleteDecision, Option<FileState>)>, Answer> {
        let paths: Vec<&VaultPath> = deletes.iter().map(|(p, _)| p).collect();
        let current = self.rows_of(&paths);
        let decisions = rules::decide_deletes(deletes, &current);
        let requested = decisions
            .iter()
            .filter(|d| matches!(d, DeleteDecision::Tombstone { .. }))
            .count();
        if !confirmed && requested > 0 {
            let hour_ago = self.now - TimeDelta::hours(1);
            let recent = self
                .history
                .iter()
                .filter(|h| h.is_deleted && h.created_at > hour_ago)
                .count();
            let numbers = MassDelete {
                deleted_last_hour: recent as u64,
                requested: requested as u64,
                live: self.file_count.max(0) as u64,
            };
            if is_held(&numbers, self.limits.mass_delete) {
                return Err(Answer::error(
                    409,
                    ErrorCode::MassDeleteHeld,
                    "held as a likely accident",
                ));
            }
        }
        let mut out = Vec::with_capacity(deletes.len());
        for ((path, _), decision) in deletes.iter().zip(decisions) {
            let row = current.get(path).cloned();
            let row = match (&decision, row) {
                (
                    DeleteDecision::Tombstone {
                        version,
                        size_delta,
                    },
                    Some(row),
                ) => Some(self.write_row(
                    WriteRow {
                        path: path.clone(),
                        version: version.get(),
                        hash: row.content_hash,
                        size: row.size_bytes,
                        deleted: true,
                        size_delta: *size_delta,
                        sealing: Sealing::CopyFrom(row.version),
                    },
                    device,
                    false,
                )),
                (_, row) => row,
            };
            out.push((decision, row));
        }
        Ok(out)
    }

    pub(super) fn delete(
        &mut self,
        device: Option<DeviceId>,
        body: DeleteRequest,
    ) -> Result<Answer, Answer> {
        check_count(body.files.len())?;
        let (deletes, rejected) = request::parse_deletes(&body.files);
        let outcomes = self.delete_rows(device, &deletes, body.confirm_mass_delete)?;
        let mut answer = DeleteAnswer {
            rejected,
            ..DeleteAnswer::default()
        };
        for ((path, base), (decision, row)) in deletes.iter().zip(outcomes) {
            let row = match (decision, row) {
                (DeleteDecision::Tombstone { .. } | DeleteDecision::AlreadyDeleted, Some(row)) => {
                    row
                }
                (DeleteDecision::CaseConflict { existing }, _) => {
                    answer
                        .rejected
                        .push(Rejected::case_conflict(path, &existing));
                    continue;
                }
                (DeleteDecision::Conflict, Some(_)) => {
                    answer.conflicts.push(self.conflict(path, base.get()));
                    continue;
                }
                _ => {
                    answer.not_found.push(path.clone());
                    continue;
                }
            };
            answer.deleted.push(Tombstone {
                path: row.path,
                version: row.version,
                deleted_at: row.deleted_at,
            });
        }
        Ok(Answer::ok(&answer))
    }

    /// `POST /vault/restore`: versions with `files` (`restore_versions`), or a page of a
    /// rewind with `as_of` (`rewind.rs`).
    pub(super) fn restore(
        &mut self,
        device: Option<DeviceId>,
        mut body: RestoreRequest,
    ) -> Result<Answer, Answer> {
        let rewind_fields = body.prefix.is_some()
            || body.remove_newer
            || body.resume.is_some()
            || body.limit.is_some();
        let entries = match (body.files.take(), &body.as_of) {
            (Some(files), None) if !rewind_fields => files,
            (None, Some(_)) => {
                let page = self.rewind_form(body)?;
                return Ok(Answer::ok(&self.rewind(device, &page)?));
            }
            _ => {
                return Err(Answer::error(
                    400,
                    ErrorCode::InvalidRequest,
                    "send either \"files\" (restore versions) or \"as_of\" (rewind, with \
                     optional \"prefix\", \"remove_newer\", \"resume\", \"limit\")",
                ));
            }
        };
        check_count(entries.len())?;
        let mut parser = PathParser::default();
        let mut answer = RestoreAnswer::default();
        for e in &entries {
            let parsed = parser.parse(&e.path).and_then(|path| {
                let version = request::parse_version(&path, &e.version)?;
                let base = request::parse_base(&path, &e.base_version, 0)?;
                Ok((path, version, base))
            });
            let (path, version, base) = match parsed {
                Ok(r) => r,
                Err(r) => {
                    answer.rejected.push(r);
                    continue;
                }
            };
            match self.restore_one(device, &path, version, base) {
                Restored1::NotFound => answer.not_found.push(path),
                Restored1::Rejected(r) => answer.rejected.push(r),
                Restored1::Conflict(c) => answer.conflicts.push(c),
                Restored1::Skip => {}
                Restored1::Done(row) => answer.restored.push(Restored {
                    path: row.path,
                    version: row.version,
                    content_hash: row.content_hash,
                    restored_from: version.get(),
                }),
            }
        }
        Ok(Answer::ok(&answer))
    }
}
