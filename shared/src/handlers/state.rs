//! `GET /vault/state?cursor=<opaque>&limit=<n>`: the files changed after the caller's
//! cursor, tombstones included, in cursor order, paged. A cursor (or `since`) from before
//! the newest compacted tombstone answers 410 `resync_required`: a delete it would have to
//! report is no longer there, so the device must compare a full listing instead.
//! `own=brief` answers an encrypted account's own live versions of the calling device
//! without their content hash and sealed fields (`OwnEntries`, `sealed_shape::is_brief`).

use chrono::{DateTime, Utc};

use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::{ChangePage, FileState, files};
use crate::domain::Cursor;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use steel_protocol::wire::page::{MAX_PAGE_BYTES, entries_within};
use steel_protocol::wire::{OwnEntries, SealedStateAnswer, StateAnswer, StateFile};

pub const DEFAULT_LIMIT: u32 = 1000;
pub const MAX_LIMIT: u32 = 5000;

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

/// A feed cursor (`c<seq>`) or a full listing's page cursor (`l<seq>`, true).
fn parse_cursor(raw: &str) -> Result<(Cursor, bool), ApiError> {
    let (raw, listing) = match raw.strip_prefix('l') {
        Some(rest) => (format!("c{rest}"), true),
        None => (raw.to_owned(), false),
    };
    let cursor = Cursor::parse(&raw).map_err(|_| resync("unknown cursor"))?;
    Ok((cursor, listing))
}

fn resync(why: &str) -> ApiError {
    ApiError::gone(
        ErrorCode::ResyncRequired,
        format!("{why}: start again without a cursor (full state)"),
    )
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::READ).await?;
    let encrypted = crate::db::sealed::is_encrypted(&state.db, caller.user_id).await?;
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
    let own = OwnEntries::parse(request.query_param(OwnEntries::PARAM))?;
    let server_time = Utc::now();
    // Read before the page: anything committed later has a higher sequence value.
    let vault = files::vault_head(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let head = vault.cursor;
    // A full listing's own pages are exempt from the compaction check: it names every note
    // the server still has, so a delete it cannot show is no loss (the device compares sets).
    let mut listing = false;
    let mut page = match (request.query_param("cursor"), request.query_param("since")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "send cursor or since, not both",
            ));
        }
        (Some(raw), None) => {
            let (cursor, continues_listing) = parse_cursor(raw)?;
            if cursor > head {
                return Err(resync("cursor is ahead of the server"));
            }
            if cursor < vault.compacted && !continues_listing {
                return Err(resync(
                    "deleted notes older than this cursor were forgotten (tombstone retention)",
                ));
            }
            listing = continues_listing;
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
            if vault.compacted_until.is_some_and(|until| since < until) {
                return Err(resync(
                    "deleted notes since then were forgotten (tombstone retention)",
                ));
            }
            files::get_changed_since_time(&state.db, caller.user_id, since, limit).await?
        }
        (None, None) => {
            listing = true;
            files::get_vault_state(&state.db, caller.user_id, Cursor::START, limit).await?
        }
    };
    if encrypted {
        let mut files =
            crate::handlers::sealed::state_entries(state, &caller, &page.files, own).await?;
        fit(&mut page, &mut files);
        return ApiResponse::ok(&SealedStateAnswer {
            files,
            cursor: cursor_after(&mut page, head, listing),
            has_more: page.has_more,
            server_time,
            encrypted: true,
        });
    }
    let mut files: Vec<StateFile> = page.files.iter().cloned().map(StateFile::from).collect();
    fit(&mut page, &mut files);
    ApiResponse::ok(&StateAnswer {
        files,
        cursor: cursor_after(&mut page, head, listing),
        has_more: page.has_more,
        server_time,
    })
}

/// Ends the page early where its answer would pass [`MAX_PAGE_BYTES`]: the next page starts
/// after the last entry kept.
fn fit<T: serde::Serialize>(page: &mut ChangePage, entries: &mut Vec<T>) {
    let kept = entries_within(entries, MAX_PAGE_BYTES);
    if kept < entries.len() {
        entries.truncate(kept);
        page.files.truncate(kept);
        page.cursor = page.files.last().map_or(page.cursor, FileState::cursor);
        page.has_more = true;
    }
}

/// The cursor a page hands out: `l<seq>` while a full listing has more pages, else `c<seq>`.
fn cursor_after(page: &mut ChangePage, head: Cursor, listing: bool) -> String {
    // The last page hands out the head read before it (everything up to it was committed
    // then, so the page saw it): a stored cursor is then never below a compacted tombstone
    // the device could not see, e.g. when the vault's latest change was a compacted delete.
    if !page.has_more {
        page.cursor = page.cursor.max(head);
    }
    if listing && page.has_more {
        format!("l{}", page.cursor.seq())
    } else {
        page.cursor.to_string()
    }
}
