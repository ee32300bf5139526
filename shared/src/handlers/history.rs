//! `GET /vault/history?path=&cursor=&limit=`: the versions of one note, newest first, with
//! the device that made each. Past versions' bytes are read with `pull` by version.

use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::history::{self, Author, VersionEntry};
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::vault::request::{page_limit, parse_page_cursor};
pub use steel_protocol::wire::DeviceRef;
use steel_protocol::wire::{HistoryAnswer, HistoryVersion};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

impl From<Author> for DeviceRef {
    fn from(a: Author) -> Self {
        DeviceRef {
            device_id: a.device_id,
            removed: a.device_name.is_none(),
            device_name: a.device_name.unwrap_or_else(|| "removed device".into()),
        }
    }
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::READ).await?;
    if crate::db::sealed::is_encrypted(&state.db, caller.user_id).await? {
        return super::sealed::history(state, &caller, &request).await;
    }
    if request.query_param("path_key").is_some() {
        return Err(ApiError::conflict(
            ErrorCode::VaultNotEncrypted,
            "this account is not end-to-end encrypted: ask for ?path=<note path>",
        ));
    }
    let raw = request.query_param("path").ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "path is required: ?path=<note path>",
        )
    })?;
    let path = VaultPath::parse(raw)?;
    let limit = page_limit(request.query_param("limit"), DEFAULT_LIMIT, MAX_LIMIT)?;
    let below = parse_page_cursor(request.query_param("cursor"), 'v')?;
    let mut entries = history::versions(&state.db, caller.user_id, &path, below, limit + 1).await?;
    if entries.is_empty() && below.is_none() {
        // Another user's path answers exactly as a path that never existed.
        return Err(ApiError::not_found(
            ErrorCode::NotFound,
            format!("{path} has no history in this vault"),
        ));
    }
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = more
        .then(|| entries.last().map(|e| format!("v{}", e.version)))
        .flatten();
    ApiResponse::ok(&HistoryAnswer {
        path,
        versions: entries.into_iter().map(version).collect(),
        next_cursor,
    })
}

fn version(e: VersionEntry) -> HistoryVersion {
    HistoryVersion {
        version: e.version,
        content_hash: e.content_hash,
        size_bytes: e.size_bytes,
        is_deleted: e.is_deleted,
        created_at: e.created_at,
        device: e.author.map(DeviceRef::from),
    }
}
