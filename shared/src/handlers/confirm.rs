//! `POST /vault/push/confirm`: verify the uploaded bytes, then commit the new versions with
//! one compare-and-set each, all in one transaction, and queue a change notice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::write::{announce, describe_conflict};
use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::{blobs, sealed, writes};
use crate::domain::ContentHash;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::storage::BlobCheck;
use crate::vault::Rejected;
use crate::vault::request::{self, FilesRequest};
use crate::vault::rules::{Decision, Proposal};
use steel_protocol::wire::{ConfirmAnswer, Missing, Versioned};

/// Blobs checked against the bucket at the same time.
const CHECK_CONCURRENCY: usize = 16;

pub async fn handle(state: &WriteState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let caller = authenticate_within(app, &request, Charge::WRITE).await?;
    let encrypted = sealed::is_encrypted(&app.db, caller.user_id).await?;
    crate::vault::sealed::check_mode(encrypted, request.body())?;
    if encrypted {
        return super::sealed::confirm(state, &caller, &request).await;
    }
    let body: FilesRequest = request.json()?;
    request::check_count(body.files.len())?;
    let limits = &app.config.limits;
    let (proposals, rejected) = request::parse_files(&body.files, limits.max_file_bytes);
    let response = commit_files(state, &caller, proposals, rejected).await?;
    ApiResponse::ok(&response)
}

/// Verifies and commits plaintext files (see [`verify_and_commit`]), announces the new
/// versions and answers as confirm does; `rejected` are the files refused while parsing.
/// Shared with bulk upload's confirm, which commits with the very same rules.
pub(crate) async fn commit_files(
    state: &WriteState,
    caller: &crate::auth::Caller,
    proposals: Vec<Proposal>,
    mut rejected: Vec<Rejected>,
) -> Result<ConfirmAnswer, ApiError> {
    let limits = &state.app.config.limits;
    let user_id = caller.user_id;
    let Verified {
        missing,
        ready,
        batch,
    } = verify_and_commit(state, caller, proposals, None).await?;

    let mut response = ConfirmAnswer {
        confirmed: Vec::new(),
        conflicts: Vec::new(),
        missing,
        rejected: Vec::new(),
    };
    // Only new commits are news; a retried confirm was announced the first time.
    let mut committed_now = Vec::new();
    for (p, outcome) in ready.iter().zip(batch.outcomes) {
        let row = match (outcome.decision, outcome.row) {
            (Decision::Write { .. }, Some(row)) => {
                committed_now.push(row.path.clone());
                row
            }
            (Decision::Unchanged, Some(row)) => row,
            (Decision::CaseConflict { existing }, _) => {
                rejected.push(Rejected::case_conflict(&p.path, &existing));
                continue;
            }
            (Decision::QuotaExceeded, _) => {
                rejected.push(Rejected::quota_exceeded(&p.path, limits.vault_quota_bytes));
                continue;
            }
            // A stale base (or the same content reached from another base): the caller
            // learns the server's version.
            (_, row) => {
                response.conflicts.push(
                    describe_conflict(&state.storage, user_id, &p.path, p.base.get(), row.as_ref())
                        .await?,
                );
                continue;
            }
        };
        response.confirmed.push(Versioned {
            path: row.path,
            version: row.version,
            content_hash: row.content_hash,
        });
    }
    response.rejected = rejected;
    announce(&state.changes, caller, batch.cursor, committed_now).await;
    Ok(response)
}

/// What confirm found and committed: the files whose bytes are not (yet) the promised ones,
/// the files that went to the commit, and the commit's outcomes (in `ready`'s order).
pub(crate) struct Verified {
    pub missing: Vec<Missing>,
    pub ready: Vec<Proposal>,
    pub batch: writes::Batch<Decision>,
}

/// Verifies the proposals' blobs (database, then bucket) and commits the files whose bytes
/// are the promised ones, with their sealed fields for an encrypted account.
pub(crate) async fn verify_and_commit(
    state: &WriteState,
    caller: &crate::auth::Caller,
    proposals: Vec<Proposal>,
    sealed: Option<&HashMap<crate::domain::VaultPath, writes::SealedWrite>>,
) -> Result<Verified, ApiError> {
    let app = &state.app;
    let limits = &app.config.limits;
    let user_id = caller.user_id;
    // Each file is compared with its blob on its own, so one wrong size fails only the
    // file that claims it.
    let hashes: Vec<ContentHash> = proposals
        .iter()
        .map(|p| p.content.hash)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (verified_sizes, bad) = verify_blobs(&state.storage, app, user_id, hashes).await?;

    let mut missing = Vec::new();
    let mut ready: Vec<Proposal> = Vec::new();
    for p in proposals {
        // Content-addressed: the blob of this hash with another size is not what the file
        // claims to be.
        let code = match (
            verified_sizes.get(&p.content.hash),
            bad.get(&p.content.hash),
        ) {
            (Some(size), _) if *size == p.content.size => {
                ready.push(p);
                continue;
            }
            (None, Some(BlobCheck::Missing)) => ErrorCode::NotUploaded,
            _ => ErrorCode::ContentMismatch,
        };
        missing.push(Missing {
            path: p.path,
            content_hash: p.content.hash,
            code: code.into(),
        });
    }

    // A blob read as verified above may have been collected since (commit re-reads it under
    // lock): its files are `not_uploaded` (a new push hands out an upload URL), the rest
    // commit. Each round removes at least one hash, so this ends.
    let batch = loop {
        match writes::commit_sealed_versions(
            &app.db,
            user_id,
            caller.device_id,
            &ready,
            sealed,
            limits.vault_quota_bytes,
        )
        .await
        {
            Err(writes::WriteError::BlobsGone(gone)) => {
                let (lost, kept) = ready
                    .into_iter()
                    .partition::<Vec<_>, _>(|p| gone.contains(&p.content.hash));
                ready = kept;
                missing.extend(lost.into_iter().map(|p| Missing {
                    path: p.path,
                    content_hash: p.content.hash,
                    code: ErrorCode::NotUploaded.into(),
                }));
            }
            other => break other?,
        }
    };
    Ok(Verified {
        missing,
        ready,
        batch,
    })
}

/// Which of `hashes` are blobs holding bytes with their hash, and how many: known-good ones
/// from the database, the others checked in the bucket once per hash (and recorded when
/// good); and why the others are not.
pub(crate) async fn verify_blobs(
    storage: &crate::storage::Storage,
    app: &crate::runtime::AppState,
    user_id: crate::domain::UserId,
    hashes: Vec<ContentHash>,
) -> Result<(HashMap<ContentHash, i64>, HashMap<ContentHash, BlobCheck>), ApiError> {
    let known = blobs::verified(&app.db, user_id, &hashes).await?;
    let unknown: Vec<ContentHash> = hashes
        .into_iter()
        .filter(|h| !known.contains_key(h))
        .collect();
    // Checked and recorded under the blobs' shared locks: the janitor's sweep of
    // unrecorded objects cannot delete one in between.
    let verifying = blobs::Verifying::begin(&app.db, user_id, &unknown).await?;
    let limiter = Arc::new(tokio::sync::Semaphore::new(CHECK_CONCURRENCY));
    let mut checks = tokio::task::JoinSet::new();
    for hash in unknown {
        let (storage, limiter) = (storage.clone(), limiter.clone());
        checks.spawn(async move {
            let _permit = limiter.acquire_owned().await;
            (hash, storage.check_blob(user_id, &hash).await)
        });
    }
    let mut bad: HashMap<ContentHash, BlobCheck> = HashMap::new();
    let mut newly_verified = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (hash, check) = joined.map_err(ApiError::internal)?;
        match check? {
            BlobCheck::Valid { size } => newly_verified.push((hash, size)),
            other => {
                bad.insert(hash, other);
            }
        }
    }
    verifying.record(&newly_verified).await?;
    let mut verified_sizes = known;
    verified_sizes.extend(newly_verified);
    Ok((verified_sizes, bad))
}
