//! `POST /vault/pull`: presigned download URLs for current files (`paths`) or for past
//! versions (`files` with `version`, for 3-way merges).

use std::collections::HashSet;

use crate::auth::{admit, verify};
use crate::budget::Charge;
use crate::db::files;
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::VaultState;
use crate::storage::PRESIGN_TTL;
use crate::vault::Rejected;
use crate::vault::request;
use steel_protocol::wire::{Download, PullAnswer, PullRequest, Tombstone};

pub async fn handle(state: &VaultState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    // The token first (no I/O), then the body: the budget this pull spends from is one
    // download URL per file it names.
    let claimed = verify(app, &request)?;
    // An encrypted body is charged like a plaintext one, before the account's mode is read.
    if crate::vault::sealed::shape_of(request.body()) == Some(crate::vault::sealed::Shape::Sealed) {
        let raw: serde_json::Value = request.json()?;
        if raw.get("paths").is_some() {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "send \"path_keys\" or \"paths\", not both",
            ));
        }
        let entries = super::sealed::pull_entries(request.json()?)?;
        request::check_count(entries.len())?;
        let caller = admit(app, claimed, Charge::downloads(entries.len())).await?;
        if !crate::db::sealed::is_encrypted(&app.db, caller.user_id).await? {
            crate::vault::sealed::check_mode(false, request.body())?;
        }
        return super::sealed::pull(state, &caller, entries).await;
    }
    let body: PullRequest = request.json()?;
    let storage = &state.storage;
    let mut response = PullAnswer {
        files: Vec::new(),
        deleted: Vec::new(),
        not_found: Vec::new(),
        rejected: Vec::new(),
    };
    let entries: Vec<(String, Option<serde_json::Number>)> = match (body.paths, body.files) {
        (Some(paths), None) => paths.into_iter().map(|p| (p, None)).collect(),
        (None, Some(files)) => files
            .into_iter()
            .map(|f| (f.path, Some(f.version)))
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "send either \"paths\" (current versions) or \"files\" (path and version)",
            ));
        }
    };
    request::check_count(entries.len())?;
    let caller = admit(app, claimed, Charge::downloads(entries.len())).await?;
    let user_id = caller.user_id;
    if crate::db::sealed::is_encrypted(&app.db, user_id).await? {
        crate::vault::sealed::check_mode(true, request.body())?;
        // A body that does not say its shape (no paths): nothing of the plaintext kind.
        return Err(ApiError::conflict(
            ErrorCode::VaultEncrypted,
            "this account is end-to-end encrypted: name notes by path_keys",
        ));
    }
    // Two versions of one path are two files (a three-way merge needs the base and the
    // current one); the same version twice is a duplicate.
    let mut seen = HashSet::new();
    let mut wanted: Vec<(VaultPath, Option<i64>)> = Vec::new();
    for (raw, version) in entries {
        let parsed = VaultPath::parse(&raw)
            .map_err(|e| Rejected::new(raw.as_str(), e.code, e.message))
            .and_then(|path| {
                let version = version
                    .map(|v| request::parse_version(&path, &v))
                    .transpose()?
                    .map(|v| v.get());
                if !seen.insert((path.clone(), version)) {
                    return Err(Rejected::new(
                        path.as_str(),
                        ErrorCode::DuplicatePath,
                        "the same file (and version) appears twice in this request",
                    ));
                }
                Ok((path, version))
            });
        match parsed {
            Ok(w) => wanted.push(w),
            Err(r) => response.rejected.push(r),
        }
    }

    let current: Vec<&VaultPath> = wanted
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| p)
        .collect();
    let past: Vec<(VaultPath, i64)> = wanted
        .iter()
        .filter_map(|(p, v)| v.map(|v| (p.clone(), v)))
        .collect();
    let rows = files::get_files(&app.db, user_id, &current).await?;
    let mut conn = crate::db::single(&app.db).await?;
    let history = files::get_versions(&mut *conn, user_id, &past).await?;
    conn.done().await?;
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
            Some((version, _, _, true, deleted_at)) => response.deleted.push(Tombstone {
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
