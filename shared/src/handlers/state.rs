//! `GET /vault/state?cursor=<opaque>&limit=<n>`: the files changed after the caller's
//! cursor, tombstones included, in cursor order, paged.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::authenticate;
use crate::db::{FileState, files};
use crate::domain::{ContentHash, Cursor, DeviceId, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;

pub const DEFAULT_LIMIT: u32 = 1000;
pub const MAX_LIMIT: u32 = 5000;

#[derive(Debug, Serialize)]
struct StateFile {
    path: VaultPath,
    version: i64,
    content_hash: ContentHash,
    size_bytes: i64,
    updated_at: DateTime<Utc>,
    updated_by: Option<DeviceId>,
    is_deleted: bool,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<FileState> for StateFile {
    fn from(f: FileState) -> Self {
        StateFile {
            path: f.path,
            version: f.version,
            content_hash: f.content_hash,
            size_bytes: f.size_bytes,
            updated_at: f.updated_at,
            updated_by: f.updated_by,
            is_deleted: f.is_deleted,
            deleted_at: f.deleted_at,
        }
    }
}

#[derive(Debug, Serialize)]
struct StateResponse {
    files: Vec<StateFile>,
    cursor: Cursor,
    has_more: bool,
    server_time: DateTime<Utc>,
}

fn resync(why: &str) -> ApiError {
    ApiError::gone(
        ErrorCode::ResyncRequired,
        format!("{why}: start again without a cursor (full state)"),
    )
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let limit = match request.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidLimit,
                    format!("limit must be 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let server_time = Utc::now();
    // Read before the page: anything committed later has a higher sequence value.
    let head = files::current_cursor(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let page = match (request.query_param("cursor"), request.query_param("since")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "send cursor or since, not both",
            ));
        }
        (Some(raw), None) => {
            let cursor = Cursor::parse(raw).map_err(|_| resync("unknown cursor"))?;
            if cursor > head {
                return Err(resync("cursor is ahead of the server"));
            }
            files::get_vault_state(&state.db, caller.user_id, cursor, limit).await?
        }
        (None, Some(raw)) => {
            let since = DateTime::parse_from_rfc3339(raw)
                .map_err(|_| {
                    ApiError::bad_request(
                        ErrorCode::InvalidSince,
                        "since must be an ISO-8601 timestamp",
                    )
                })?
                .with_timezone(&Utc);
            let mut page =
                files::get_changed_since_time(&state.db, caller.user_id, since, limit).await?;
            if !page.has_more {
                page.cursor = page.cursor.max(head);
            }
            page
        }
        (None, None) => {
            files::get_vault_state(&state.db, caller.user_id, Cursor::START, limit).await?
        }
    };
    ApiResponse::ok(&StateResponse {
        files: page.files.into_iter().map(StateFile::from).collect(),
        cursor: page.cursor,
        has_more: page.has_more,
        server_time,
    })
}
