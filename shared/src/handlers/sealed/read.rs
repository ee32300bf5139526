//! State and pull of an encrypted account.

use super::sealed_of;
use crate::auth::Caller;
use crate::db::{FileState, files};
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::http::ApiResponse;
use crate::runtime::{AppState, VaultState};
use crate::storage::PRESIGN_TTL;
use crate::vault::sealed::{key_of, parse_pull};
use crate::vault::sealed_shape::{StateSealed, is_brief, sealed_state_file};
use steel_protocol::wire::{
    OwnEntries, SealedDownload, SealedPullAnswer, SealedPullRequest, SealedStateFile,
    SealedTombstone,
};

/// The entries of a `GET /vault/state` page in the encrypted shape: each with its path key
/// and the sealed fields of its version, or brief ([`is_brief`]: the caller's own live
/// versions, when `own` asks for it; their sealed fields are not read).
pub async fn state_entries(
    app: &AppState,
    caller: &Caller,
    files: &[FileState],
    own: OwnEntries,
) -> Result<Vec<SealedStateFile>, ApiError> {
    let brief = |f: &FileState| is_brief(own, caller.device_id, f);
    let wanted: Vec<(VaultPath, i64)> = (files.iter())
        .filter(|f| !brief(f))
        .map(|f| (f.path.clone(), f.version))
        .collect();
    let mut found = sealed_of(app, caller.user_id, &wanted).await?;
    files
        .iter()
        .map(|f| {
            let path_key = key_of(&f.path)?;
            let sealed = match brief(f) {
                true => StateSealed::Brief,
                false => StateSealed::Full(found.remove(&(f.path.clone(), f.version))),
            };
            Ok(sealed_state_file(f.clone(), path_key, sealed))
        })
        .collect()
}

/// The entries a sealed pull names: (path key as sent, version as sent).
pub fn pull_entries(
    body: SealedPullRequest,
) -> Result<Vec<(String, Option<serde_json::Number>)>, ApiError> {
    match (body.path_keys, body.files) {
        (Some(keys), None) => Ok(keys.into_iter().map(|k| (k, None)).collect()),
        (None, Some(files)) => Ok(files
            .into_iter()
            .map(|f| (f.path_key, Some(f.version)))
            .collect()),
        _ => Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "send either \"path_keys\" (current versions) or \"files\" (path_key and version)",
        )),
    }
}

/// `POST /vault/pull` of an encrypted account (the caller already admitted).
pub async fn pull(
    state: &VaultState,
    caller: &Caller,
    entries: Vec<(String, Option<serde_json::Number>)>,
) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let user_id = caller.user_id;
    let mut answer = SealedPullAnswer::default();
    let (wanted, rejected) = parse_pull(entries);
    answer.rejected = rejected;
    let current: Vec<&VaultPath> = wanted
        .iter()
        .filter(|(_, _, v)| v.is_none())
        .map(|(_, p, _)| p)
        .collect();
    let past: Vec<(VaultPath, i64)> = wanted
        .iter()
        .filter_map(|(_, p, v)| v.map(|v| (p.clone(), v)))
        .collect();
    let rows = files::get_files(&app.db, user_id, &current).await?;
    let mut conn = crate::db::single(&app.db).await?;
    let history = files::get_versions(&mut *conn, user_id, &past).await?;
    conn.done().await?;
    let mut found_versions = Vec::new();
    let mut found = Vec::new();
    for (key, path, version) in wanted {
        let hit = match version {
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
        match hit {
            None => answer.not_found.push(key),
            Some(hit) => {
                found_versions.push((path.clone(), hit.0));
                found.push((key, path, hit));
            }
        }
    }
    let mut sealed = sealed_of(app, user_id, &found_versions).await?;
    for (key, path, (version, hash, size, is_deleted, deleted_at)) in found {
        let fields = sealed.remove(&(path, version));
        if is_deleted {
            answer.deleted.push(SealedTombstone {
                path_key: key,
                version,
                deleted_at,
                sealed: fields,
            });
            continue;
        }
        let presigned = state
            .storage
            .presign_download(user_id, &hash, PRESIGN_TTL)
            .await?;
        answer.files.push(SealedDownload {
            path_key: key,
            version,
            content_hash: hash,
            size_bytes: size,
            download_url: presigned.url,
            expires_at: presigned.expires_at,
            sealed: fields,
        });
    }
    ApiResponse::ok(&answer)
}
