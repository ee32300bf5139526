//! `POST /vault/push/confirm`: verify the uploaded bytes, then commit the new versions with
//! one compare-and-set each, all in one transaction, and queue a change notice.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::auth::authenticate;
use crate::db::{CommitOutcome, NewVersion, blobs, files};
use crate::domain::{ContentHash, Cursor, VaultPath};
use crate::error::ApiError;
use crate::handlers::vault::{self, Conflict, FilesRequest, Rejected};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::storage::BlobCheck;

/// Blobs checked against the bucket at the same time.
const CHECK_CONCURRENCY: usize = 16;

#[derive(Debug, Serialize)]
struct Confirmed {
    path: VaultPath,
    version: i64,
    content_hash: ContentHash,
}

#[derive(Debug, Serialize)]
struct Missing {
    path: VaultPath,
    content_hash: ContentHash,
    /// `not_uploaded`, or `content_mismatch` when the object is not the promised bytes.
    code: &'static str,
}

#[derive(Debug, Serialize)]
struct ConfirmResponse {
    confirmed: Vec<Confirmed>,
    conflicts: Vec<Conflict>,
    missing: Vec<Missing>,
    rejected: Vec<Rejected>,
    cursor: Cursor,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let body: FilesRequest = request.json()?;
    vault::check_count(body.files.len())?;
    let limits = &state.config.limits;
    let (candidates, mut rejected) = vault::parse_entries(body.files, limits.max_file_bytes);
    let user_id = caller.user_id;

    // Which blobs hold the promised bytes: known-good ones from the database, the others
    // checked in the bucket (and remembered when good).
    let sizes: HashMap<ContentHash, i64> = candidates
        .iter()
        .map(|f| (f.content_hash, f.size_bytes))
        .collect();
    let hashes: Vec<ContentHash> = sizes.keys().copied().collect();
    let known = blobs::verified(&state.db, user_id, &hashes).await?;
    let storage = state.storage()?;
    let limiter = Arc::new(tokio::sync::Semaphore::new(CHECK_CONCURRENCY));
    let mut checks = tokio::task::JoinSet::new();
    for (hash, size) in sizes.iter().filter(|(h, _)| !known.contains_key(*h)) {
        let (storage, limiter, hash, size) = (storage.clone(), limiter.clone(), *hash, *size);
        checks.spawn(async move {
            let _permit = limiter.acquire_owned().await;
            (hash, size, storage.check_blob(user_id, &hash, size).await)
        });
    }
    let mut bad: HashMap<ContentHash, BlobCheck> = HashMap::new();
    let mut newly_verified = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (hash, size, check) = joined.map_err(ApiError::internal)?;
        match check? {
            BlobCheck::Valid => newly_verified.push((hash, size)),
            other => {
                bad.insert(hash, other);
            }
        }
    }
    blobs::mark_verified(&state.db, user_id, &newly_verified).await?;
    let mut verified_sizes = known;
    verified_sizes.extend(newly_verified);

    let mut missing = Vec::new();
    let mut ready: Vec<NewVersion> = Vec::new();
    for file in candidates {
        // Content-addressed: the blob of this hash with another size is not what the file
        // claims to be.
        let code = match (
            verified_sizes.get(&file.content_hash),
            bad.get(&file.content_hash),
        ) {
            (Some(size), _) if *size == file.size_bytes => {
                ready.push(file);
                continue;
            }
            (None, Some(BlobCheck::Missing)) => "not_uploaded",
            _ => "content_mismatch",
        };
        missing.push(Missing {
            path: file.path,
            content_hash: file.content_hash,
            code,
        });
    }

    let quota = i64::try_from(limits.vault_quota_bytes).ok();
    let (outcomes, cursor) =
        files::commit_versions(&state.db, user_id, caller.device_id, &ready, quota).await?;
    let mut response = ConfirmResponse {
        confirmed: Vec::new(),
        conflicts: Vec::new(),
        missing,
        rejected: Vec::new(),
        cursor,
    };
    // Only new commits are news; a retried confirm was announced the first time.
    let mut committed_now = Vec::new();
    for (file, outcome) in ready.iter().zip(outcomes) {
        let (row, new) = match outcome {
            CommitOutcome::Committed(row) => (row, true),
            CommitOutcome::AlreadyCommitted(row) => (row, false),
            CommitOutcome::Conflict { current } => {
                response.conflicts.push(
                    Conflict::describe(
                        &storage,
                        user_id,
                        &file.path,
                        file.base_version,
                        current.as_ref(),
                    )
                    .await?,
                );
                continue;
            }
            CommitOutcome::CaseConflict { existing } => {
                rejected.push(vault::case_conflict(&file.path, &existing));
                continue;
            }
            CommitOutcome::QuotaExceeded => {
                rejected.push(vault::quota_exceeded(&file.path, limits.vault_quota_bytes));
                continue;
            }
        };
        if new {
            committed_now.push(row.path.clone());
        }
        response.confirmed.push(Confirmed {
            path: row.path,
            version: row.version,
            content_hash: row.content_hash,
        });
    }
    response.rejected = rejected;
    vault::notify(state, &caller, cursor, committed_now).await;
    ApiResponse::ok(&response)
}
