//! `POST /vault/pull`: presigned download URLs for current files (`paths`) or for past
//! versions (`files` with `version`, for 3-way merges).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::authenticate;
use crate::db::files;
use crate::domain::{ContentHash, VaultPath};
use crate::error::ApiError;
use crate::handlers::vault::{self, Rejected};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::storage::PRESIGN_TTL;

#[derive(Debug, Deserialize)]
struct VersionRef {
    path: String,
    version: i64,
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    #[serde(default)]
    paths: Option<Vec<String>>,
    #[serde(default)]
    files: Option<Vec<VersionRef>>,
}

#[derive(Debug, Serialize)]
struct Download {
    path: VaultPath,
    version: i64,
    content_hash: ContentHash,
    size_bytes: i64,
    download_url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct Deleted {
    path: VaultPath,
    version: i64,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct PullResponse {
    files: Vec<Download>,
    deleted: Vec<Deleted>,
    not_found: Vec<VaultPath>,
    rejected: Vec<Rejected>,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let body: PullRequest = request.json()?;
    let user_id = caller.user_id;
    let storage = state.storage()?;
    let mut response = PullResponse {
        files: Vec::new(),
        deleted: Vec::new(),
        not_found: Vec::new(),
        rejected: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut wanted: Vec<(VaultPath, Option<i64>)> = Vec::new();
    let entries: Vec<(String, Option<i64>)> = match (body.paths, body.files) {
        (Some(paths), None) => paths.into_iter().map(|p| (p, None)).collect(),
        (None, Some(files)) => files
            .into_iter()
            .map(|f| (f.path, Some(f.version)))
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "send either \"paths\" (current versions) or \"files\" (path and version)",
            ));
        }
    };
    vault::check_count(entries.len())?;
    for (raw, version) in entries {
        match vault::parse_path(&raw, &mut seen) {
            Ok(_) if version.is_some_and(|v| v < 1) => response.rejected.push(Rejected::new(
                raw,
                "invalid_version",
                "version must be 1 or more",
            )),
            Ok(path) => wanted.push((path, version)),
            Err(r) => response.rejected.push(r),
        }
    }

    let current: Vec<VaultPath> = wanted
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| p.clone())
        .collect();
    let past: Vec<(VaultPath, i64)> = wanted
        .iter()
        .filter_map(|(p, v)| v.map(|v| (p.clone(), v)))
        .collect();
    let rows = files::get_files(&state.db, user_id, &current).await?;
    let history = files::get_versions(&state.db, user_id, &past).await?;
    for (path, version) in wanted {
        let found = match version {
            None => rows.get(&path).map(|r| {
                (
                    r.version,
                    r.content_hash,
                    r.size_bytes,
                    r.is_deleted,
                    r.deleted_at,
                )
            }),
            Some(v) => history
                .get(&(path.clone(), v))
                .map(|h| (v, h.content_hash, h.size_bytes, h.is_deleted, None)),
        };
        match found {
            None => response.not_found.push(path),
            Some((version, _, _, true, deleted_at)) => response.deleted.push(Deleted {
                path,
                version,
                deleted_at,
            }),
            Some((version, hash, size, false, _)) => {
                let presigned = storage
                    .presign_download(user_id, &hash, PRESIGN_TTL)
                    .await?;
                response.files.push(Download {
                    path,
                    version,
                    content_hash: hash,
                    size_bytes: size,
                    download_url: presigned.url,
                    expires_at: presigned.expires_at,
                });
            }
        }
    }
    ApiResponse::ok(&response)
}
