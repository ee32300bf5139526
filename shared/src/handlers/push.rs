//! `POST /vault/push`: version-check files and hand out presigned upload URLs. Changes
//! nothing in the database: versions change only at confirm, once the bytes are verified.
//! What each file needs is decided by the same rules confirm commits with, read-only here.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::auth::authenticate;
use crate::db::{blobs, files, users};
use crate::domain::{ContentHash, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::VaultState;
use crate::storage::{PRESIGN_TTL, PresignedRequest};
use crate::vault::request::{self, FilesRequest};
use crate::vault::rules::{self, Decision, Room};
use crate::vault::{Conflict, Rejected};

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
    headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize)]
struct Unchanged {
    path: VaultPath,
    version: i64,
    content_hash: ContentHash,
}

#[derive(Debug, Default, Serialize)]
struct PushResponse {
    uploads: Vec<Upload>,
    unchanged: Vec<Unchanged>,
    conflicts: Vec<Conflict>,
    rejected: Vec<Rejected>,
}

pub async fn handle(state: &VaultState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let caller = authenticate(app, &request).await?;
    let body: FilesRequest = request.json()?;
    request::check_count(body.files.len())?;
    let limits = &app.config.limits;
    let (proposals, rejected) = request::parse_files(&body.files, limits.max_file_bytes);
    let user_id = caller.user_id;

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

    let mut response = PushResponse {
        rejected,
        ..PushResponse::default()
    };
    for (p, decision) in proposals.into_iter().zip(decisions) {
        let row = current.get(&p.path);
        match decision {
            // The server already has this content: a retry after a lost response, or the
            // same edit made on two devices. Nothing to upload.
            Decision::Unchanged | Decision::SameContentNewer => {
                let row = row.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no row")))?;
                response.unchanged.push(Unchanged {
                    path: p.path,
                    version: row.version,
                    content_hash: row.content_hash,
                });
            }
            Decision::Conflict => response.conflicts.push(
                Conflict::describe(&state.storage, user_id, &p.path, p.base.get(), row).await?,
            ),
            Decision::CaseConflict { existing } => response
                .rejected
                .push(Rejected::case_conflict(&p.path, &existing)),
            Decision::QuotaExceeded => response
                .rejected
                .push(Rejected::quota_exceeded(&p.path, limits.vault_quota_bytes)),
            Decision::Write { .. } => {
                // Known bytes need no upload; a size that is not the blob's cannot be these
                // bytes, and the signed PUT will refuse whatever is sent for it.
                let known = verified.get(&p.content.hash) == Some(&p.content.size);
                let presigned: Option<PresignedRequest> = if known {
                    None
                } else {
                    Some(
                        state
                            .storage
                            .presign_upload(user_id, &p.content.hash, p.content.size, PRESIGN_TTL)
                            .await?,
                    )
                };
                response.uploads.push(Upload {
                    path: p.path,
                    base_version: p.base.get(),
                    content_hash: p.content.hash,
                    size_bytes: p.content.size,
                    upload_url: presigned.as_ref().map(|r| r.url.clone()),
                    method: presigned.as_ref().map(|r| r.method.clone()),
                    expires_at: presigned.as_ref().map(|r| r.expires_at),
                    headers: presigned.map(|r| r.headers),
                });
            }
        }
    }
    ApiResponse::ok(&response)
}
