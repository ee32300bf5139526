//! `POST /vault/restore`: bring notes back, two ways. `files`: the bytes of a past version
//! become a note's newest version, version-checked against `base_version` like a push (a
//! stale base is a conflict, never an overwrite); deleted notes come back, live ones roll
//! back. `as_of`: rewind the vault (or one folder) to a moment, page by page. Both only add
//! versions, so a restore or a rewind is itself undone by another; both count against the
//! quota and announce one change notice, so other devices pull the result as any change.

use chrono::Utc;

use super::write::{announce, describe_conflict};
use crate::auth::{Caller, authenticate_within};
use crate::budget::Charge;
use crate::db::recovery::{self, RestoreDecision, RestoreRequest, RewindPage};
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::vault::Rejected;
use crate::vault::request::{self, PathParser};
use crate::vault::rewind::{self, format_resume};
use crate::vault::rules::Decision;
use steel_protocol::wire::{self as wire, RestoreAnswer, Restored, RewindAnswer};

pub(crate) use crate::db::recovery::RestoreRequest as Restore;

pub use crate::vault::rewind::{DEFAULT_REWIND_PAGE, MAX_REWIND_PAGE};

pub async fn handle(state: &WriteState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(&state.app, &request, Charge::WRITE).await?;
    let encrypted = crate::db::sealed::is_encrypted(&state.app.db, caller.user_id).await?;
    crate::vault::sealed::check_mode(encrypted, request.body())?;
    if encrypted {
        return Box::pin(super::sealed::restore(state, &caller, &request)).await;
    }
    let body: wire::RestoreRequest = request.json()?;
    let rewind_fields =
        body.prefix.is_some() || body.remove_newer || body.resume.is_some() || body.limit.is_some();
    match (body.files, body.as_of) {
        // Boxed: two large futures in one would nest past the compiler's type-depth limit.
        (Some(files), None) if !rewind_fields => {
            request::check_count(files.len())?;
            let mut paths = PathParser::default();
            let mut rejected = Vec::new();
            let mut requests = Vec::new();
            for e in &files {
                let parsed = paths.parse(&e.path).and_then(|path| {
                    let version = request::parse_version(&path, &e.version)?;
                    let base = request::parse_base(&path, &e.base_version, 0)?;
                    Ok(RestoreRequest {
                        path,
                        version,
                        base,
                    })
                });
                match parsed {
                    Ok(r) => requests.push(r),
                    Err(r) => rejected.push(r),
                }
            }
            let answer = Box::pin(restore_files(state, &caller, requests, rejected, false)).await?;
            ApiResponse::ok(&answer)
        }
        (None, Some(as_of)) => {
            let page = rewind_request(
                &as_of,
                state.app.config.lifecycle.history_retention,
                body.prefix,
                body.remove_newer,
                body.resume,
                body.limit,
            )?;
            ApiResponse::ok(&Box::pin(rewind(state, &caller, page, false)).await?)
        }
        _ => Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "send either \"files\" (restore versions) or \"as_of\" (rewind, with optional \
             \"prefix\", \"remove_newer\", \"resume\", \"limit\")",
        )),
    }
}

/// Restores the parsed requests (`rejected`: the entries refused while parsing) and
/// announces the change (without paths for an `encrypted` account).
pub(crate) async fn restore_files(
    state: &WriteState,
    caller: &Caller,
    requests: Vec<RestoreRequest>,
    rejected: Vec<Rejected>,
    encrypted: bool,
) -> Result<RestoreAnswer, ApiError> {
    let limits = &state.app.config.limits;
    let mut response = RestoreAnswer {
        rejected,
        ..RestoreAnswer::default()
    };
    let batch = recovery::restore_versions(
        &state.app.db,
        caller.user_id,
        caller.device_id,
        &requests,
        limits.vault_quota_bytes,
    )
    .await?;
    let mut changed = Vec::new();
    for (r, outcome) in requests.iter().zip(batch.outcomes) {
        let path = &r.path;
        let refuse = |code, message: String| Rejected::new(path.as_str(), code, message);
        match (outcome.decision, outcome.row) {
            (
                RestoreDecision::Write(d @ (Decision::Write { .. } | Decision::Unchanged)),
                Some(row),
            ) => {
                if matches!(d, Decision::Write { .. }) {
                    changed.push(row.path.clone());
                }
                response.restored.push(Restored {
                    path: row.path,
                    version: row.version,
                    content_hash: row.content_hash,
                    restored_from: r.version.get(),
                });
            }
            (RestoreDecision::NotFound, _) => response.not_found.push(path.clone()),
            (RestoreDecision::IsDeletion, _) => response.rejected.push(refuse(
                ErrorCode::InvalidVersion,
                format!(
                    "version {} is a deletion: restore the version before it",
                    r.version
                ),
            )),
            (RestoreDecision::ContentGone, _) => response.rejected.push(refuse(
                ErrorCode::ContentGone,
                format!("the bytes of version {} are no longer stored", r.version),
            )),
            (RestoreDecision::Write(Decision::CaseConflict { existing }), _) => {
                response
                    .rejected
                    .push(Rejected::case_conflict(path, &existing));
            }
            (RestoreDecision::Write(Decision::QuotaExceeded), _) => response
                .rejected
                .push(Rejected::quota_exceeded(path, limits.vault_quota_bytes)),
            // A stale base (or another device already made it so): a conflict.
            (RestoreDecision::Write(_), row) => response.conflicts.push(
                describe_conflict(
                    &state.storage,
                    caller.user_id,
                    path,
                    r.base.get(),
                    row.as_ref(),
                )
                .await?,
            ),
        }
    }
    announce_for(state, caller, batch.cursor, changed, encrypted).await;
    Ok(response)
}

/// The change notice of a restore or rewind: with paths, or none for an encrypted account.
async fn announce_for(
    state: &WriteState,
    caller: &Caller,
    cursor: crate::domain::Cursor,
    changed: Vec<VaultPath>,
    encrypted: bool,
) {
    if encrypted {
        super::sealed::announce(&state.changes, caller, cursor, !changed.is_empty()).await;
    } else {
        announce(&state.changes, caller, cursor, changed).await;
    }
}

/// Parses the rewind form at the server's time.
pub(crate) fn rewind_request(
    as_of: &str,
    retention: chrono::TimeDelta,
    prefix: Option<String>,
    remove_newer: bool,
    resume: Option<String>,
    limit: Option<serde_json::Number>,
) -> Result<RewindPage, ApiError> {
    rewind::parse_page(
        as_of,
        Utc::now(),
        retention,
        prefix,
        remove_newer,
        resume,
        limit,
    )
}

/// One page of a rewind; announces the change (without paths for an `encrypted` account).
pub(crate) async fn rewind(
    state: &WriteState,
    caller: &Caller,
    page: RewindPage,
    encrypted: bool,
) -> Result<RewindAnswer, ApiError> {
    let quota = state.app.config.limits.vault_quota_bytes;
    let done = recovery::rewind_page(
        &state.app.db,
        caller.user_id,
        caller.device_id,
        &page,
        quota,
    )
    .await?;
    let decided = done
        .outcomes
        .into_iter()
        .filter_map(|o| o.row.map(|row| (row.path, o.decision)));
    let (mut response, changed) = rewind::tally(decided, quota);
    response.has_more = done.has_more;
    response.resume = done.has_more.then(|| format_resume(&done.position));
    announce_for(state, caller, done.cursor, changed, encrypted).await;
    Ok(response)
}
