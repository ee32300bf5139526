//! `POST /vault/push`: version-check files and hand out presigned upload URLs. Changes
//! nothing in the database: versions change only at confirm, once the bytes are verified.

use std::collections::HashSet;

use serde::Serialize;

use crate::auth::authenticate;
use crate::db::{blobs, files, users};
use crate::domain::{ContentHash, VaultPath};
use crate::error::ApiError;
use crate::handlers::vault::{self, Conflict, FilesRequest, Rejected};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::storage::{PRESIGN_TTL, PresignedRequest};

#[derive(Debug, Serialize)]
struct Upload {
    path: VaultPath,
    base_version: i64,
    content_hash: ContentHash,
    size_bytes: i64,
    /// Null when the server already holds these bytes: confirm straight away.
    upload_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    /// Send exactly these headers with the PUT; they are part of the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize)]
struct Unchanged {
    path: VaultPath,
    version: i64,
    content_hash: ContentHash,
}

#[derive(Debug, Serialize)]
struct PushResponse {
    uploads: Vec<Upload>,
    unchanged: Vec<Unchanged>,
    conflicts: Vec<Conflict>,
    rejected: Vec<Rejected>,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let body: FilesRequest = request.json()?;
    vault::check_count(body.files.len())?;
    let limits = &state.config.limits;
    let (candidates, mut rejected) = vault::parse_entries(body.files, limits.max_file_bytes);
    let user_id = caller.user_id;
    let storage = state.storage()?;

    let paths: Vec<VaultPath> = candidates.iter().map(|f| f.path.clone()).collect();
    let current = files::get_files(&state.db, user_id, &paths).await?;
    let collisions = {
        let mut conn = state.db.acquire().await?;
        files::case_collisions(&mut conn, user_id, &paths).await?
    };
    let hashes: Vec<ContentHash> = candidates
        .iter()
        .map(|f| f.content_hash)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let verified = blobs::verified(&state.db, user_id, &hashes).await?;
    let mut vault_size = users::get_user(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token"))?
        .vault_size;

    let mut response = PushResponse {
        uploads: Vec::new(),
        unchanged: Vec::new(),
        conflicts: Vec::new(),
        rejected: Vec::new(),
    };
    for file in candidates {
        let row = current.get(&file.path);
        // The server already has this content: a retry after a lost response, or the same
        // edit made on two devices. Not a conflict.
        if let Some(r) = row.filter(|r| !r.is_deleted && r.content_hash == file.content_hash) {
            response.unchanged.push(Unchanged {
                path: file.path,
                version: r.version,
                content_hash: r.content_hash,
            });
            continue;
        }
        if let Some(existing) = collisions
            .get(&file.path.case_key())
            .filter(|p| **p != file.path)
        {
            rejected.push(vault::case_conflict(&file.path, existing));
            continue;
        }
        let base_matches = match row {
            Some(r) => r.version == file.base_version,
            None => file.base_version == 0,
        };
        if !base_matches {
            response.conflicts.push(
                Conflict::describe(&storage, user_id, &file.path, file.base_version, row).await?,
            );
            continue;
        }
        let delta = file.size_bytes - row.map_or(0, |r| r.live_size());
        if delta > 0 && (vault_size + delta) as u64 > limits.vault_quota_bytes {
            rejected.push(vault::quota_exceeded(&file.path, limits.vault_quota_bytes));
            continue;
        }
        vault_size += delta;
        // Known bytes need no upload; a size that is not the blob's cannot be these bytes,
        // and the signed PUT will refuse whatever is sent for it.
        let known = verified.get(&file.content_hash) == Some(&file.size_bytes);
        let presigned: Option<PresignedRequest> = if known {
            None
        } else {
            Some(
                storage
                    .presign_upload(user_id, &file.content_hash, file.size_bytes, PRESIGN_TTL)
                    .await?,
            )
        };
        response.uploads.push(Upload {
            path: file.path,
            base_version: file.base_version,
            content_hash: file.content_hash,
            size_bytes: file.size_bytes,
            upload_url: presigned.as_ref().map(|p| p.url.clone()),
            method: presigned.as_ref().map(|p| p.method.clone()),
            expires_at: presigned.as_ref().map(|p| p.expires_at),
            headers: presigned.map(|p| p.headers),
        });
    }
    response.rejected = rejected;
    ApiResponse::ok(&response)
}
