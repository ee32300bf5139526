//! The sync endpoints of an end-to-end encrypted account, as `handlers/sealed` answers them:
//! the bodies parsed by `steel_core::vault::sealed` (notes named by path key, kept under the
//! key's 64 hex characters), the same cores as the plaintext model (`writes.rs`: the rules,
//! the blob checks, the versions written), pushes and confirms deduplicated by blob id, and
//! every version answered with the sealed fields stored beside it. A version named without
//! its sealed fields is 503 `temporarily_unavailable`, as `sealed_of` answers.

use chrono::TimeDelta;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

use steel_core::db::sealed::StoredSealed;
use steel_core::domain::{ContentHash, DeviceId, VaultPath};
use steel_core::handlers::sealed::pull_entries;
use steel_core::vault::request;
use steel_core::vault::rules::{Decision, DeleteDecision, FileState, Proposal};
use steel_core::vault::sealed::{
    KeyParser, SealedProposal, Shape, case_conflict, key_of, parse_confirm, parse_deletes,
    parse_pull, parse_push, quota_exceeded, sealed_rejected, shape_of,
};
use steel_core::vault::sealed_shape::{StateSealed, is_brief, sealed_conflict, sealed_state_file};
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{
    Conflict, Key32, OwnEntries, PullRequest, Sealed, SealedBytes, SealedConfirmAnswer,
    SealedConfirmRequest, SealedConflict, SealedDeleteAnswer, SealedDeleteRequest, SealedDownload,
    SealedMissing, SealedPullAnswer, SealedPushAnswer, SealedPushRequest, SealedRestoreAnswer,
    SealedRestoreRequest, SealedRestored, SealedStateFile, SealedTombstone, SealedUpload,
    SealedVersioned,
};

use super::restore::Restored1;
use super::{Answer, Server, api_error, object_url, parse};

const REWIND_FIELDS: [&str; 5] = ["as_of", "prefix", "remove_newer", "resume", "limit"];

fn check_count(n: usize) -> Result<(), Answer> {
    request::check_count(n).map_err(api_error)
}

fn key(path: &VaultPath) -> Result<Key32, Answer> {
    key_of(path).map_err(api_error)
}

impl Server {
    /// The sealed fields of a version, in wire form (`None` if a stored value could not be
    /// one); 503 when the version has none stored.
    fn wire_sealed(&self, path: &VaultPath, version: i64) -> Result<Option<Sealed>, Answer> {
        let s = self.sealed.get(&(path.clone(), version)).ok_or_else(|| {
            Answer::error(
                503,
                ErrorCode::TemporarilyUnavailable,
                format!("version {version} of {path} was pruned or compacted"),
            )
        })?;
        Ok((|| {
            Some(Sealed {
                sealed_path: SealedBytes::new(s.sealed_path.clone())?,
                sealed_manifest: SealedBytes::new(s.sealed_manifest.clone())?,
                manifest_version: s.manifest_version,
                blob_id: Key32::parse_as(&s.blob_id, ErrorCode::InvalidBlobId, "blob_id").ok()?,
            })
        })())
    }

    fn sealed_conflict(&self, c: Conflict) -> Result<SealedConflict, Answer> {
        let sealed = if c.server_version > 0 {
            self.wire_sealed(&c.path, c.server_version)?
        } else {
            None
        };
        let path_key = key(&c.path)?;
        Ok(sealed_conflict(c, path_key, sealed))
    }

    /// Dedupe by blob id (`sealed::blobs_of_ids`): a write whose blob id a kept version
    /// names, its blob verified, stores that blob (the newest such version's).
    fn dedupe<'a>(&self, writes: impl Iterator<Item = &'a mut SealedProposal>) {
        let writes: Vec<&mut SealedProposal> = writes.collect();
        let wanted: HashSet<String> = writes.iter().map(|w| w.blob_id.to_hex()).collect();
        let mut stored: HashMap<&str, (ContentHash, i64)> = HashMap::new();
        for h in self.history.iter().rev() {
            if let Some(s) = self.sealed.get(&(h.path.clone(), h.version))
                && wanted.contains(&s.blob_id)
                && !stored.contains_key(s.blob_id.as_str())
                && let Some(size) = self.verified.get(&h.content_hash)
            {
                stored.insert(&s.blob_id, (h.content_hash, *size));
            }
        }
        let stored: HashMap<String, (ContentHash, i64)> =
            stored.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        for w in writes {
            if let Some((hash, size)) = stored.get(&w.blob_id.to_hex()) {
                w.proposal.content.hash = *hash;
                w.proposal.content.size = *size;
            }
        }
    }

    /// The entries of a `GET /vault/state` page in the encrypted shape, the caller's own
    /// live versions brief when `own` asks for it (their sealed fields are not read).
    pub(super) fn sealed_state_entries(
        &self,
        rows: &[FileState],
        device: Option<DeviceId>,
        own: OwnEntries,
    ) -> Result<Vec<SealedStateFile>, Answer> {
        rows.iter()
            .map(|f| {
                let sealed = match is_brief(own, device, f) {
                    true => StateSealed::Brief,
                    false => StateSealed::Full(self.wire_sealed(&f.path, f.version)?),
                };
                let path_key = key(&f.path)?;
                Ok(sealed_state_file(f.clone(), path_key, sealed))
            })
            .collect()
    }

    pub(super) fn sealed_push(
        &mut self,
        device: Option<DeviceId>,
        body: SealedPushRequest,
    ) -> Result<Answer, Answer> {
        check_count(body.files.len())?;
        let (mut writes, rejected) = parse_push(&body.files, self.limits.max_file_bytes);
        self.dedupe(writes.iter_mut());
        let proposals: Vec<Proposal> = writes.iter().map(|w| w.proposal.clone()).collect();
        let decisions = self.decide(device, &proposals, self.room());
        let mut answer = SealedPushAnswer {
            rejected,
            ..SealedPushAnswer::default()
        };
        let mut conflicts = Vec::new();
        for (w, decision) in writes.iter().zip(decisions) {
            let p = &w.proposal;
            match decision {
                Decision::Unchanged | Decision::SameContentNewer => {
                    let Some(row) = self.files.get(&p.path) else {
                        return Err(Answer::error(500, ErrorCode::InternalError, "no row"));
                    };
                    answer.unchanged.push(SealedVersioned {
                        path_key: w.key,
                        version: row.version,
                        content_hash: row.content_hash,
                    });
                }
                Decision::Conflict => conflicts.push(self.conflict(&p.path, p.base.get())),
                Decision::CaseConflict { .. } => answer.rejected.push(case_conflict(&w.key)),
                Decision::QuotaExceeded => answer
                    .rejected
                    .push(quota_exceeded(&w.key, self.limits.vault_quota_bytes)),
                Decision::Write { version, .. } => {
                    let needs = self.verified.get(&p.content.hash) != Some(&p.content.size);
                    let url = needs.then(|| object_url(&p.content.hash));
                    answer.uploads.push(SealedUpload {
                        path_key: w.key,
                        base_version: p.base.get(),
                        version: version.get(),
                        blob_id: w.blob_id,
                        content_hash: p.content.hash,
                        size_bytes: p.content.size,
                        method: url.as_ref().map(|_| "PUT".to_owned()),
                        expires_at: url.as_ref().map(|_| self.now + TimeDelta::hours(1)),
                        headers: url.as_ref().map(|_| Default::default()),
                        deferred: false,
                        upload_url: url,
                    });
                }
            }
        }
        answer.conflicts = (conflicts.into_iter())
            .map(|c| self.sealed_conflict(c))
            .collect::<Result<_, _>>()?;
        Ok(Answer::ok(&answer))
    }

    pub(super) fn sealed_confirm(
        &mut self,
        device: Option<DeviceId>,
        body: SealedConfirmRequest,
    ) -> Result<Answer, Answer> {
        check_count(body.files.len())?;
        let (mut confirms, mut rejected) = parse_confirm(&body.files, self.limits.max_file_bytes);
        self.dedupe(confirms.iter_mut().map(|c| &mut c.write));
        let keys: HashMap<VaultPath, Key32> = (confirms.iter())
            .map(|c| (c.write.proposal.path.clone(), c.write.key))
            .collect();
        let sealed: HashMap<VaultPath, StoredSealed> = (confirms.iter())
            .map(|c| {
                let s = StoredSealed {
                    sealed_path: c.sealed_path.as_bytes().to_vec(),
                    sealed_manifest: c.sealed_manifest.as_bytes().to_vec(),
                    manifest_version: c.version.get(),
                    blob_id: c.write.blob_id.to_hex(),
                };
                (c.write.proposal.path.clone(), s)
            })
            .collect();
        let proposals = confirms.into_iter().map(|c| c.write.proposal).collect();
        let (ready, missing) = self.verify(proposals);
        let mut answer = SealedConfirmAnswer::default();
        for (p, code) in missing {
            answer.missing.push(SealedMissing {
                path_key: key(&p.path)?,
                content_hash: p.content.hash,
                code: code.into(),
            });
        }
        let outcomes = self.commit(device, &ready, Some(&sealed));
        let mut conflicts = Vec::new();
        for (p, (decision, row)) in ready.iter().zip(outcomes) {
            let k = keys[&p.path];
            let row = match (decision, row) {
                (Decision::Write { .. } | Decision::Unchanged, Some(row)) => row,
                (Decision::CaseConflict { .. }, _) => {
                    rejected.push(case_conflict(&k));
                    continue;
                }
                (Decision::QuotaExceeded, _) => {
                    rejected.push(quota_exceeded(&k, self.limits.vault_quota_bytes));
                    continue;
                }
                _ => {
                    conflicts.push(self.conflict(&p.path, p.base.get()));
                    continue;
                }
            };
            answer.confirmed.push(SealedVersioned {
                path_key: k,
                version: row.version,
                content_hash: row.content_hash,
            });
        }
        answer.rejected = rejected;
        answer.conflicts = (conflicts.into_iter())
            .map(|c| self.sealed_conflict(c))
            .collect::<Result<_, _>>()?;
        Ok(Answer::ok(&answer))
    }

    pub(super) fn sealed_delete(
        &mut self,
        device: Option<DeviceId>,
        body: SealedDeleteRequest,
    ) -> Result<Answer, Answer> {
        check_count(body.files.len())?;
        let (parsed, rejected) = parse_deletes(&body.files);
        let deletes: Vec<_> = parsed.iter().map(|(_, p, b)| (p.clone(), *b)).collect();
        let outcomes = self.delete_rows(device, &deletes, body.confirm_mass_delete)?;
        let mut answer = SealedDeleteAnswer {
            rejected,
            ..SealedDeleteAnswer::default()
        };
        let mut tombstones = Vec::new();
        let mut conflicts = Vec::new();
        for ((k, path, base), (decision, row)) in parsed.iter().zip(outcomes) {
            match (decision, row) {
                (DeleteDecision::Tombstone { .. } | DeleteDecision::AlreadyDeleted, Some(row)) => {
                    tombstones.push((*k, row));
                }
                (DeleteDecision::CaseConflict { .. }, _) => answer.rejected.push(case_conflict(k)),
                (DeleteDecision::Conflict, Some(_)) => {
                    conflicts.push(self.conflict(path, base.get()));
                }
                _ => answer.not_found.push(*k),
            }
        }
        for (k, row) in tombstones {
            answer.deleted.push(SealedTombstone {
                path_key: k,
                sealed: self.wire_sealed(&row.path, row.version)?,
                version: row.version,
                deleted_at: row.deleted_at,
            });
        }
        answer.conflicts = (conflicts.into_iter())
            .map(|c| self.sealed_conflict(c))
            .collect::<Result<_, _>>()?;
        Ok(Answer::ok(&answer))
    }

    /// `POST /vault/pull` in either shape, as `handlers/pull.rs` takes it apart.
    pub(super) fn any_pull(&mut self, body: &[u8]) -> Result<Answer, Answer> {
        let encrypted = self.keys.encrypted();
        if shape_of(body) != Some(Shape::Sealed) {
            if !encrypted {
                return parse(body).and_then(|b| self.pull(b));
            }
            let b: PullRequest = parse(body)?;
            let n = match (b.paths, b.files) {
                (Some(p), None) => p.len(),
                (None, Some(f)) => f.len(),
                _ => {
                    return Err(Answer::error(
                        400,
                        ErrorCode::InvalidRequest,
                        "send either \"paths\" (current versions) or \"files\" (path and version)",
                    ));
                }
            };
            check_count(n)?;
            return Err(Answer::error(
                409,
                ErrorCode::VaultEncrypted,
                "this account is end-to-end encrypted: name notes by path_keys",
            ));
        }
        let raw: Value = parse(body)?;
        if raw.get("paths").is_some() {
            return Err(Answer::error(
                400,
                ErrorCode::InvalidRequest,
                "send \"path_keys\" or \"paths\", not both",
            ));
        }
        let entries = pull_entries(parse(body)?).map_err(api_error)?;
        check_count(entries.len())?;
        if !encrypted {
            return Err(Answer::error(
                409,
                ErrorCode::VaultNotEncrypted,
                "this account is not end-to-end encrypted: name notes by path",
            ));
        }
        let mut answer = SealedPullAnswer::default();
        let (wanted, rejected) = parse_pull(entries);
        answer.rejected = rejected;
        for (k, path, version) in wanted {
            let Some((version, hash, size, deleted, deleted_at)) = self.find(&path, version) else {
                answer.not_found.push(k);
                continue;
            };
            let sealed = self.wire_sealed(&path, version)?;
            if deleted {
                answer.deleted.push(SealedTombstone {
                    path_key: k,
                    version,
                    deleted_at,
                    sealed,
                });
            } else {
                answer.files.push(SealedDownload {
                    path_key: k,
                    version,
                    content_hash: hash,
                    size_bytes: size,
                    download_url: object_url(&hash),
                    expires_at: self.now + TimeDelta::hours(1),
                    sealed,
                });
            }
        }
        Ok(Answer::ok(&answer))
    }

    /// `POST /vault/restore` of an encrypted account: versions by path key, or a page of a
    /// rewind of the whole vault (no `prefix`: the server knows no folders).
    pub(super) fn sealed_restore(
        &mut self,
        device: Option<DeviceId>,
        body: &[u8],
    ) -> Result<Answer, Answer> {
        let raw: Value = parse(body)?;
        let has = |field: &str| raw.get(field).is_some_and(|v| !v.is_null());
        let either = || {
            Answer::error(
                400,
                ErrorCode::InvalidRequest,
                "send either \"files\" (restore versions by path_key) or \"as_of\" (rewind, \
                 with optional \"remove_newer\", \"resume\", \"limit\")",
            )
        };
        if !has("files") {
            return self.sealed_rewind(device, body, either());
        }
        if REWIND_FIELDS.iter().any(|f| has(f)) {
            return Err(either());
        }
        let body: SealedRestoreRequest = parse(body)?;
        check_count(body.files.len())?;
        let mut keys = KeyParser::default();
        let mut answer = SealedRestoreAnswer::default();
        let mut requests = Vec::new();
        for e in &body.files {
            let parsed = keys.parse(&e.path_key).and_then(|(_, path)| {
                let version = request::parse_version(&path, &e.version).map_err(sealed_rejected)?;
                let base =
                    request::parse_base(&path, &e.base_version, 0).map_err(sealed_rejected)?;
                Ok((path, version, base))
            });
            match parsed {
                Ok(r) => requests.push(r),
                Err(r) => answer.rejected.push(r),
            }
        }
        let mut conflicts = Vec::new();
        let mut restored = Vec::new();
        for (path, version, base) in requests {
            match self.restore_one(device, &path, version, base) {
                Restored1::NotFound => answer.not_found.push(key(&path)?),
                Restored1::Rejected(r) => answer.rejected.push(sealed_rejected(r)),
                Restored1::Conflict(c) => conflicts.push(c),
                Restored1::Skip => {}
                Restored1::Done(row) => restored.push((row, version.get())),
            }
        }
        answer.conflicts = (conflicts.into_iter())
            .map(|c| self.sealed_conflict(c))
            .collect::<Result<_, _>>()?;
        for (row, from) in restored {
            answer.restored.push(SealedRestored {
                path_key: key(&row.path)?,
                sealed: self.wire_sealed(&row.path, row.version)?,
                version: row.version,
                content_hash: row.content_hash,
                restored_from: from,
            });
        }
        Ok(Answer::ok(&answer))
    }
}
