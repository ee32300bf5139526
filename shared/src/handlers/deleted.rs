//! `GET /vault/deleted?cursor=&limit=`: the user's deleted notes, most recently deleted
//! first, each with the last live version a restore would bring back.

use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::history::{self, DeletedNote};
use crate::error::ApiError;
use crate::handlers::history::DeviceRef;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::vault::request::{page_limit, parse_page_cursor};
use steel_protocol::wire::{self as wire, DeletedAnswer, LastLive};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::READ).await?;
    let encrypted = crate::db::sealed::is_encrypted(&state.db, caller.user_id).await?;
    let limit = page_limit(request.query_param("limit"), DEFAULT_LIMIT, MAX_LIMIT)?;
    let below = parse_page_cursor(request.query_param("cursor"), 'd')?;
    let mut notes = history::deleted_notes(&state.db, caller.user_id, below, limit + 1).await?;
    let more = notes.len() > limit as usize;
    notes.truncate(limit as usize);
    let next_cursor = more
        .then(|| notes.last().map(|n| format!("d{}", n.change_seq)))
        .flatten();
    if encrypted {
        return crate::handlers::sealed::deleted(state, &caller, notes, next_cursor).await;
    }
    ApiResponse::ok(&DeletedAnswer {
        files: notes.into_iter().map(deleted).collect(),
        next_cursor,
    })
}

fn deleted(n: DeletedNote) -> wire::DeletedNote {
    wire::DeletedNote {
        path: n.path,
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
    }
}
