//! Push, confirm and delete of an encrypted account.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{announce, case_conflict, quota_exceeded, sealed_conflicts, sealed_of};
use crate::auth::Caller;
use crate::db::writes::{self, SealedWrite};
use crate::db::{blobs, files, sealed, users};
use crate::domain::{ContentHash, UserId, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::handlers::confirm::{Verified, verify_and_commit};
use crate::handlers::push::{allow_pushed, hand_out};
use crate::handlers::write::describe_conflict;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::{AppState, VaultState, WriteState};
use crate::vault::request;
use crate::vault::rules::{self, Decision, DeleteDecision, Room};
use crate::vault::sealed::{self as parse, SealedConfirm, SealedProposal, key_of};
use steel_protocol::wire::{
    Presign, SealedConfirmAnswer, SealedConfirmRequest, SealedDeleteAnswer, SealedDeleteRequest,
    SealedMissing, SealedPushAnswer, SealedPushRequest, SealedRejected, SealedTombstone,
    SealedUpload, SealedVersioned,
};

/// Dedupe by blob id: a write whose blob id a version of the account already names, with
/// its blob verified, stores that blob (its hash and size) instead of new bytes.
async fn dedupe<'a>(
    app: &AppState,
    user_id: UserId,
    writes: impl Iterator<Item = &'a mut SealedProposal>,
) -> Result<(), ApiError> {
    let mut writes: Vec<&mut SealedProposal> = writes.collect();
    let ids: Vec<String> = writes
        .iter()
        .map(|w| w.blob_id.to_hex())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let stored = sealed::blobs_of_ids(&app.db, user_id, &ids).await?;
    for w in &mut writes {
        if let Some((hash, size)) = stored.get(&w.blob_id.to_hex()) {
            w.proposal.content.hash = *hash;
            w.proposal.content.size = *size;
        }
    }
    Ok(())
}

/// `POST /vault/push` of an encrypted account.
pub async fn push(
    state: &VaultState,
    caller: &Caller,
    request: &ApiRequest,
    presign: Presign,
) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let body: SealedPushRequest = request.json()?;
    request::check_count(body.files.len())?;
    let limits = &app.config.limits;
    let user_id = caller.user_id;
    let (mut writes, rejected) = parse::parse_push(&body.files, limits.max_file_bytes);
    dedupe(app, user_id, writes.iter_mut()).await?;
    let proposals: Vec<rules::Proposal> = writes.iter().map(|w| w.proposal.clone()).collect();

    let paths: Vec<&VaultPath> = proposals.iter().map(|p| &p.path).collect();
    let current = files::get_files(&app.db, user_id, &paths).await?;
    let live = {
        let mut conn = crate::db::single(&app.db).await?;
        let live = files::live_keys(&mut conn, user_id, &paths).await?;
        conn.done().await?;
        live
    };
    let hashes: Vec<ContentHash> = proposals
        .iter()
        .map(|p| p.content.hash)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let verified = blobs::verified(&app.db, user_id, &hashes).await?;
    let user = users::get_user(&app.db, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let room = Room::new(user.vault_size, limits.vault_quota_bytes)
        .above_compacted(user.compacted_version);
    let decisions = rules::decide_writes(&proposals, &current, &live, caller.device_id, room);

    let needs_upload = |p: &rules::Proposal| verified.get(&p.content.hash) != Some(&p.content.size);
    let asked: BTreeMap<ContentHash, i64> = proposals
        .iter()
        .zip(&decisions)
        .filter(|(p, d)| matches!(d, Decision::Write { .. }) && needs_upload(p))
        .map(|(p, _)| (p.content.hash, p.content.size))
        .collect();
    let asked: Vec<(ContentHash, i64)> = asked.into_iter().collect();
    allow_pushed(app, user_id, &asked, presign).await?;

    let mut answer = SealedPushAnswer {
        rejected,
        ..SealedPushAnswer::default()
    };
    let mut conflicts = Vec::new();
    for (w, decision) in writes.into_iter().zip(decisions) {
        let p = &w.proposal;
        let row = current.get(&p.path);
        match decision {
            Decision::Unchanged | Decision::SameContentNewer => {
                let row = row.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no row")))?;
                answer.unchanged.push(SealedVersioned {
                    path_key: w.key,
                    version: row.version,
                    content_hash: row.content_hash,
                });
            }
            Decision::Conflict => conflicts.push(
                describe_conflict(&state.storage, user_id, &p.path, p.base.get(), row).await?,
            ),
            Decision::CaseConflict { .. } => answer.rejected.push(case_conflict(&w.key)),
            Decision::QuotaExceeded => answer
                .rejected
                .push(quota_exceeded(&w.key, limits.vault_quota_bytes)),
            Decision::Write { version, .. } => {
                let (presigned, deferred) =
                    hand_out(state, user_id, p, needs_upload(p), presign).await?;
                answer.uploads.push(SealedUpload {
                    path_key: w.key,
                    base_version: p.base.get(),
                    version: version.get(),
                    blob_id: w.blob_id,
                    content_hash: p.content.hash,
                    size_bytes: p.content.size,
                    upload_url: presigned.as_ref().map(|r| r.url.clone()),
                    method: presigned.as_ref().map(|r| r.method.clone()),
                    expires_at: presigned.as_ref().map(|r| r.expires_at),
                    headers: presigned.map(|r| r.headers),
                    deferred,
                });
            }
        }
    }
    answer.conflicts = sealed_conflicts(app, user_id, conflicts).await?;
    ApiResponse::ok(&answer)
}

/// `POST /vault/push/confirm` of an encrypted account.
pub async fn confirm(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body: SealedConfirmRequest = request.json()?;
    request::check_count(body.files.len())?;
    let parsed = parse::parse_confirm(&body.files, state.app.config.limits.max_file_bytes);
    let answer = commit_sealed(state, caller, parsed).await?;
    ApiResponse::ok(&answer)
}

/// Commits parsed confirm entries of an encrypted account (`rejected`: those refused while
/// parsing) and announces them: confirm's rules, deduped by blob id, with each version's
/// sealed fields. Shared with bulk upload's confirm (`super::bulk`), which commits with the
/// very same rules once the pack's blobs are written.
pub(crate) async fn commit_sealed(
    state: &WriteState,
    caller: &Caller,
    (mut confirms, mut rejected): (Vec<SealedConfirm>, Vec<SealedRejected>),
) -> Result<SealedConfirmAnswer, ApiError> {
    let app = &state.app;
    let limits = &app.config.limits;
    let user_id = caller.user_id;
    dedupe(app, user_id, confirms.iter_mut().map(|c| &mut c.write)).await?;
    let keys: HashMap<VaultPath, steel_protocol::wire::Key32> = confirms
        .iter()
        .map(|c| (c.write.proposal.path.clone(), c.write.key))
        .collect();
    let sealed: HashMap<VaultPath, SealedWrite> = confirms
        .iter()
        .map(|c| {
            let write = SealedWrite {
                sealed_path: c.sealed_path.as_bytes().to_vec(),
                sealed_manifest: c.sealed_manifest.as_bytes().to_vec(),
                manifest_version: c.version.get(),
                blob_id: c.write.blob_id.to_hex(),
            };
            (c.write.proposal.path.clone(), write)
        })
        .collect();
    let proposals = confirms.into_iter().map(|c| c.write.proposal).collect();
    let Verified {
        missing,
        ready,
        batch,
    } = verify_and_commit(state, caller, proposals, Some(&sealed)).await?;
    let mut answer = SealedConfirmAnswer::default();
    for m in missing {
        answer.missing.push(SealedMissing {
            path_key: key_of(&m.path)?,
            content_hash: m.content_hash,
            code: m.code,
        });
    }
    let mut conflicts = Vec::new();
    let mut committed = false;
    for (p, outcome) in ready.iter().zip(batch.outcomes) {
        let key = keys
            .get(&p.path)
            .copied()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no path key")))?;
        let row = match (outcome.decision, outcome.row) {
            (Decision::Write { .. }, Some(row)) => {
                committed = true;
                row
            }
            (Decision::Unchanged, Some(row)) => row,
            (Decision::CaseConflict { .. }, _) => {
                rejected.push(case_conflict(&key));
                continue;
            }
            (Decision::QuotaExceeded, _) => {
                rejected.push(quota_exceeded(&key, limits.vault_quota_bytes));
                continue;
            }
            (_, row) => {
                conflicts.push(
                    describe_conflict(&state.storage, user_id, &p.path, p.base.get(), row.as_ref())
                        .await?,
                );
                continue;
            }
        };
        answer.confirmed.push(SealedVersioned {
            path_key: key,
            version: row.version,
            content_hash: row.content_hash,
        });
    }
    answer.rejected = rejected;
    answer.conflicts = sealed_conflicts(app, user_id, conflicts).await?;
    announce(&state.changes, caller, batch.cursor, committed).await;
    Ok(answer)
}

/// `POST /vault/delete` of an encrypted account: each tombstone keeps the sealed fields of
/// the version it deletes.
pub async fn delete(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let body: SealedDeleteRequest = request.json()?;
    request::check_count(body.files.len())?;
    let user_id = caller.user_id;
    let (parsed, rejected) = parse::parse_deletes(&body.files);
    let deletes: Vec<(VaultPath, crate::domain::Version)> =
        parsed.iter().map(|(_, p, b)| (p.clone(), *b)).collect();
    let guard = (!body.confirm_mass_delete).then_some(app.config.limits.mass_delete);
    let batch = writes::delete_files(&app.db, user_id, caller.device_id, &deletes, guard).await?;
    let mut answer = SealedDeleteAnswer {
        rejected,
        ..SealedDeleteAnswer::default()
    };
    let mut tombstones = Vec::new();
    let mut conflicts = Vec::new();
    let mut deleted_now = false;
    for ((key, path, base), outcome) in parsed.iter().zip(batch.outcomes) {
        match (outcome.decision, outcome.row) {
            (DeleteDecision::Tombstone { .. }, Some(row)) => {
                deleted_now = true;
                tombstones.push((*key, row));
            }
            (DeleteDecision::AlreadyDeleted, Some(row)) => tombstones.push((*key, row)),
            (DeleteDecision::CaseConflict { .. }, _) => answer.rejected.push(case_conflict(key)),
            (DeleteDecision::Conflict, Some(row)) => conflicts.push(
                describe_conflict(&state.storage, user_id, path, base.get(), Some(&row)).await?,
            ),
            _ => answer.not_found.push(*key),
        }
    }
    let wanted: Vec<(VaultPath, i64)> = tombstones
        .iter()
        .map(|(_, r)| (r.path.clone(), r.version))
        .collect();
    let mut found = sealed_of(app, user_id, &wanted).await?;
    answer.deleted = tombstones
        .into_iter()
        .map(|(key, row)| SealedTombstone {
            path_key: key,
            sealed: found.remove(&(row.path.clone(), row.version)),
            version: row.version,
            deleted_at: row.deleted_at,
        })
        .collect();
    answer.conflicts = sealed_conflicts(app, user_id, conflicts).await?;
    announce(&state.changes, caller, batch.cursor, deleted_now).await;
    ApiResponse::ok(&answer)
}
