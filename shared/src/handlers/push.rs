//! `POST /vault/push`: version-check files and hand out presigned upload URLs (or, with
//! `presign=false`, mark the uploads needed `deferred`, for an incoming pack). Commits no
//! version: versions change only at confirm, once the bytes are verified. It records only
//! the URLs it hands out (upload grants), which cap the bytes a user can upload unconfirmed.
//! What each file needs is decided by the same rules confirm commits with, read-only here.

use std::collections::{BTreeMap, HashSet};

use super::write::describe_conflict;
use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::uploads::{self, Granted};
use crate::db::{blobs, files, users};
use crate::domain::{ContentHash, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::VaultState;
use crate::storage::{PRESIGN_TTL, PresignedRequest};
use crate::vault::Rejected;
use crate::vault::request::{self, FilesRequest};
use crate::vault::rules::{self, Decision, Room};
use steel_protocol::wire::{Presign, PushAnswer, Upload, Versioned};

pub async fn handle(state: &VaultState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let caller = authenticate_within(app, &request, Charge::WRITE).await?;
    let encrypted = crate::db::sealed::is_encrypted(&app.db, caller.user_id).await?;
    crate::vault::sealed::check_mode(encrypted, request.body())?;
    let presign = Presign::parse(request.query_param(Presign::PARAM))?;
    if encrypted {
        return super::sealed::push(state, &caller, &request, presign).await;
    }
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

    // The contents this push hands out upload URLs for, each once: a write whose bytes the
    // server does not hold yet. A size that is not the blob's cannot be these bytes, and
    // the signed PUT will refuse whatever is sent for it.
    let needs_upload = |p: &rules::Proposal| verified.get(&p.content.hash) != Some(&p.content.size);
    let asked: BTreeMap<ContentHash, i64> = proposals
        .iter()
        .zip(&decisions)
        .filter(|(p, d)| matches!(d, Decision::Write { .. }) && needs_upload(p))
        .map(|(p, _)| (p.content.hash, p.content.size))
        .collect();
    let asked: Vec<(ContentHash, i64)> = asked.into_iter().collect();
    allow_pushed(app, user_id, &asked, presign).await?;

    let mut response = PushAnswer {
        rejected,
        ..PushAnswer::default()
    };
    for (p, decision) in proposals.into_iter().zip(decisions) {
        let row = current.get(&p.path);
        match decision {
            // The server already has this content: a retry after a lost response, or the
            // same edit made on two devices. Nothing to upload.
            Decision::Unchanged | Decision::SameContentNewer => {
                let row = row.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no row")))?;
                response.unchanged.push(Versioned {
                    path: p.path,
                    version: row.version,
                    content_hash: row.content_hash,
                });
            }
            Decision::Conflict => response.conflicts.push(
                describe_conflict(&state.storage, user_id, &p.path, p.base.get(), row).await?,
            ),
            Decision::CaseConflict { existing } => response
                .rejected
                .push(Rejected::case_conflict(&p.path, &existing)),
            Decision::QuotaExceeded => response
                .rejected
                .push(Rejected::quota_exceeded(&p.path, limits.vault_quota_bytes)),
            Decision::Write { .. } => {
                let (presigned, deferred) =
                    hand_out(state, user_id, &p, needs_upload(&p), presign).await?;
                response.uploads.push(Upload {
                    path: p.path,
                    base_version: p.base.get(),
                    content_hash: p.content.hash,
                    size_bytes: p.content.size,
                    upload_url: presigned.as_ref().map(|r| r.url.clone()),
                    method: presigned.as_ref().map(|r| r.method.clone()),
                    expires_at: presigned.as_ref().map(|r| r.expires_at),
                    headers: presigned.map(|r| r.headers),
                    deferred,
                });
            }
        }
    }
    ApiResponse::ok(&response)
}

/// What a push hands out for a write: nothing when the server holds its bytes (`needed`
/// false); else a presigned PUT, or with `presign=false` none and `deferred` true.
pub(crate) async fn hand_out(
    state: &VaultState,
    user_id: crate::domain::UserId,
    p: &rules::Proposal,
    needed: bool,
    presign: Presign,
) -> Result<(Option<PresignedRequest>, bool), ApiError> {
    match (needed, presign) {
        (false, _) => Ok((None, false)),
        (true, Presign::Deferred) => Ok((None, true)),
        (true, Presign::Each) => {
            let (hash, size) = (&p.content.hash, p.content.size);
            let put = state
                .storage
                .presign_upload(user_id, hash, size, PRESIGN_TTL);
            Ok((Some(put.await?), false))
        }
    }
}

/// [`allow_uploads`] for a push's `asked` contents: the allowance counts the URLs handed
/// out, so a push with `presign=false` records none (the pack's `POST /vault/bulk` is
/// granted itself).
pub(crate) async fn allow_pushed(
    app: &crate::runtime::AppState,
    user_id: crate::domain::UserId,
    asked: &[(ContentHash, i64)],
    presign: Presign,
) -> Result<(), ApiError> {
    match presign {
        Presign::Each => allow_uploads(app, user_id, asked).await,
        Presign::Deferred => Ok(()),
    }
}

/// Records the upload grants of `asked`, or refuses the whole push: 429 `upload_limit` while
/// too many bytes of earlier URLs are unconfirmed (with the seconds until enough of them
/// expire), 400 `push_too_large` for a push that alone asks for more than the allowance.
pub(crate) async fn allow_uploads(
    app: &crate::runtime::AppState,
    user_id: crate::domain::UserId,
    asked: &[(ContentHash, i64)],
) -> Result<(), ApiError> {
    let cap = app.config.limits.unconfirmed_upload_bytes;
    let horizon = app.config.lifecycle.orphan_age
        + chrono::TimeDelta::from_std(PRESIGN_TTL).map_err(ApiError::internal)?;
    let now = chrono::Utc::now();
    let cap_i64 = i64::try_from(cap).unwrap_or(i64::MAX);
    match uploads::grant(&app.db, user_id, asked, now, horizon, cap_i64).await? {
        Granted::Yes => Ok(()),
        Granted::PushTooLarge { asked } => Err(ApiError::bad_request(
            ErrorCode::PushTooLarge,
            format!(
                "this push uploads {asked} bytes of new content, more than the {cap} bytes \
                 of unconfirmed uploads an account may hold: push fewer files at a time"
            ),
        )),
        Granted::Wait { at } => {
            let seconds = (at - now).num_seconds().saturating_add(1).max(1);
            Err(ApiError::too_many_requests(
                ErrorCode::UploadLimit,
                format!(
                    "upload URLs for {cap} bytes are already out unconfirmed: confirm the \
                     uploads made, or retry in {seconds} s"
                ),
                u64::try_from(seconds).unwrap_or(1),
            ))
        }
    }
}
