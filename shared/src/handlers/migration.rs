//! `/vault/migration`: turning end-to-end encryption on for a vault that already has notes
//! (README "Turning encryption on for an existing vault"). `POST` stores the first key slots
//! with the account still plaintext (migrating); `POST .../stage` stages encrypted copies of
//! live notes (handing out upload URLs, within the upload allowance, for ciphertexts not in
//! the bucket yet); `POST .../switch` turns the account encrypted in one step once every
//! live note has a staged copy of its current version; `DELETE` abandons the migration;
//! `GET` says how far it is. The decisions are [`crate::vault::migration`]'s, the SQL
//! [`crate::db::migration`]'s.

use steel_protocol::wire::{
    MigrationAnswer, SourceRef, StageAnswer, StageRequest, StageUpload, StaleStage, SwitchAnswer,
};

use crate::auth::{Caller, authenticate_within};
use crate::budget::Charge;
use crate::db::keys::First;
use crate::db::migration::{self, Status, Switched};
use crate::domain::{ContentHash, Cursor};
use crate::error::{ApiError, ErrorCode};
use crate::handlers::confirm::verify_blobs;
use crate::handlers::push::allow_uploads;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::storage::PRESIGN_TTL;
use crate::vault::Rejected;
use crate::vault::migration::{StageDecision, incomplete, not_migrating, parse_stage};
use crate::vault::request;

pub async fn handle(state: &WriteState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let method = request.method.as_str().to_owned();
    let route = request.path.trim_end_matches('/');
    let action = if route.ends_with("/migration/stage") {
        "stage"
    } else if route.ends_with("/migration/switch") {
        "switch"
    } else {
        ""
    };
    let charge = if method == "GET" {
        Charge::READ
    } else {
        Charge::WRITE
    };
    let caller = authenticate_within(app, &request, charge).await?;
    match (method.as_str(), action) {
        ("GET", "") => status_answer(migration::status(&app.db, caller.user_id).await?),
        ("POST", "") => {
            super::keys::put_first(app, caller.user_id, &request, First::Migrating).await
        }
        ("DELETE", "") => match migration::abort(&app.db, caller.user_id).await? {
            Ok(()) => status_answer(migration::status(&app.db, caller.user_id).await?),
            Err(mode) => Err(not_migrating(mode)),
        },
        // Boxed: the router's future stays small whichever route it runs.
        ("POST", "stage") => Box::pin(stage(state, &caller, &request)).await,
        ("POST", "switch") => Box::pin(switch(state, &caller)).await,
        _ => Err(ApiError::not_found(
            ErrorCode::NotFound,
            format!("no route {method} {}", request.path),
        )),
    }
}

fn status_answer(status: Status) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&MigrationAnswer {
        mode: status.mode.wire(),
        live_notes: status.live_notes,
        staged: status.staged,
        missing: status
            .missing
            .into_iter()
            .map(|(path, version)| SourceRef { path, version })
            .collect(),
    })
}

/// `POST /vault/migration/stage`.
async fn stage(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let limits = &app.config.limits;
    let user_id = caller.user_id;
    let body: StageRequest = request.json()?;
    request::check_count(body.files.len())?;
    let (copies, rejected) = parse_stage(&body.files, limits.max_file_bytes);
    let mut hashes: Vec<ContentHash> = copies.iter().map(|c| c.copy.content_hash).collect();
    hashes.sort();
    hashes.dedup();
    // Records the ciphertexts uploaded since the last stage as verified blobs (the bucket
    // checks their bytes as confirm does); the stage itself re-reads them under lock.
    let (verified, _) = verify_blobs(&state.storage, app, user_id, hashes).await?;
    let decisions = match migration::stage(
        &app.db,
        user_id,
        caller.device_id,
        &copies,
        limits.vault_quota_bytes,
    )
    .await?
    {
        Ok(d) => d,
        Err(mode) => return Err(not_migrating(mode)),
    };
    let mut answer = StageAnswer {
        rejected,
        ..StageAnswer::default()
    };
    let mut uploads = Vec::new();
    for (c, decision) in copies.into_iter().zip(decisions) {
        let path = c.copy.path;
        match decision {
            StageDecision::Stage => answer.staged.push(SourceRef {
                path,
                version: c.copy.version,
            }),
            StageDecision::Stale { current } => answer.stale.push(StaleStage {
                path,
                version: c.copy.version,
                current,
            }),
            StageDecision::QuotaExceeded => answer
                .rejected
                .push(Rejected::quota_exceeded(&path, limits.vault_quota_bytes)),
            // Content-addressed: a verified blob of this hash with another size is not the
            // ciphertext this copy claims.
            StageDecision::NeedsUpload if verified.contains_key(&c.copy.content_hash) => {
                answer.rejected.push(Rejected::new(
                    path.as_str(),
                    ErrorCode::ContentMismatch,
                    "the bucket holds this content_hash with another size_bytes",
                ));
            }
            StageDecision::NeedsUpload => uploads.push((path, c.copy.content_hash, c.copy.size)),
        }
    }
    let mut asked: Vec<(ContentHash, i64)> = uploads.iter().map(|u| (u.1, u.2)).collect();
    asked.sort();
    asked.dedup();
    allow_uploads(app, user_id, &asked).await?;
    for (path, hash, size) in uploads {
        let presigned = state
            .storage
            .presign_upload(user_id, &hash, size, PRESIGN_TTL)
            .await?;
        answer.uploads.push(StageUpload {
            path,
            content_hash: hash,
            size_bytes: size,
            upload_url: presigned.url,
            method: presigned.method,
            headers: presigned.headers,
            expires_at: presigned.expires_at,
        });
    }
    ApiResponse::ok(&answer)
}

/// `POST /vault/migration/switch`.
async fn switch(state: &WriteState, caller: &Caller) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    match migration::switch(&app.db, caller.user_id).await? {
        Switched::Done { notes, cursor } => {
            super::sealed::announce(&state.changes, caller, Cursor::from_seq(cursor), true).await;
            ApiResponse::ok(&SwitchAnswer { notes, cursor })
        }
        Switched::Incomplete(status) => Err(incomplete(status.live_notes, status.staged)),
        Switched::NotMigrating(mode) => Err(not_migrating(mode)),
    }
}
