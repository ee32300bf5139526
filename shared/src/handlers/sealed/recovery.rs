//! History and deleted notes of an encrypted account: by path key, each version with the
//! sealed fields a device needs to name it.

use super::sealed_of;
use crate::auth::Caller;
use crate::db::history;
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::handlers::history::{DEFAULT_LIMIT, DeviceRef, MAX_LIMIT};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::vault::request::{page_limit, parse_page_cursor};
use crate::vault::sealed::{key_of, path_of};
use steel_protocol::wire::{
    Key32, LastLive, SealedDeletedAnswer, SealedDeletedNote, SealedHistoryAnswer,
    SealedHistoryVersion,
};

/// `GET /vault/history?path_key=` of an encrypted account.
pub async fn history(
    app: &AppState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    if request.query_param("path").is_some() {
        return Err(ApiError::conflict(
            ErrorCode::VaultEncrypted,
            "this account is end-to-end encrypted: ask for ?path_key=<path key>",
        ));
    }
    let raw = request.query_param("path_key").ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "path_key is required: ?path_key=<64 hex characters>",
        )
    })?;
    let key = Key32::parse_as(raw, ErrorCode::InvalidPathKey, "path_key")
        .map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let path = path_of(&key);
    let limit = page_limit(request.query_param("limit"), DEFAULT_LIMIT, MAX_LIMIT)?;
    let below = parse_page_cursor(request.query_param("cursor"), 'v')?;
    let mut entries = history::versions(&app.db, caller.user_id, &path, below, limit + 1).await?;
    if entries.is_empty() && below.is_none() {
        return Err(ApiError::not_found(
            ErrorCode::NotFound,
            "this path key has no history in this vault",
        ));
    }
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = more
        .then(|| entries.last().map(|e| format!("v{}", e.version)))
        .flatten();
    let wanted: Vec<(VaultPath, i64)> = entries.iter().map(|e| (path.clone(), e.version)).collect();
    let mut found = sealed_of(app, caller.user_id, &wanted).await?;
    let versions = entries
        .into_iter()
        .map(|e| SealedHistoryVersion {
            sealed: found.remove(&(path.clone(), e.version)),
            version: e.version,
            content_hash: e.content_hash,
            size_bytes: e.size_bytes,
            is_deleted: e.is_deleted,
            created_at: e.created_at,
            device: e.author.map(DeviceRef::from),
        })
        .collect();
    ApiResponse::ok(&SealedHistoryAnswer {
        path_key: key,
        versions,
        next_cursor,
    })
}

/// A page of `GET /vault/deleted` of an encrypted account, from the plaintext page's notes.
pub async fn deleted(
    app: &AppState,
    caller: &Caller,
    notes: Vec<history::DeletedNote>,
    next_cursor: Option<String>,
) -> Result<ApiResponse, ApiError> {
    let wanted: Vec<(VaultPath, i64)> = notes.iter().map(|n| (n.path.clone(), n.version)).collect();
    let mut found = sealed_of(app, caller.user_id, &wanted).await?;
    let files = notes
        .into_iter()
        .map(|n| {
            Ok(SealedDeletedNote {
                path_key: key_of(&n.path)?,
                sealed: found.remove(&(n.path.clone(), n.version)),
                version: n.version,
                deleted_at: n.deleted_at,
                deleted_by: n.deleted_by.map(DeviceRef::from),
                last_version: n
                    .last_live
                    .map(|(version, content_hash, size_bytes, restorable)| LastLive {
                        version,
                        content_hash,
                        size_bytes,
                        restorable,
                    }),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    ApiResponse::ok(&SealedDeletedAnswer {
        files,
        next_cursor,
        encrypted: true,
    })
}
