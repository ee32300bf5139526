//! `POST /vault/restore` of an encrypted account: versions by path key, or a rewind of the
//! whole vault. The versions written copy the sealed fields of the versions they bring back
//! (`db::writes::Sealing::CopyFrom`), so the answers carry those.

use serde_json::Value;

use super::{sealed_conflicts, sealed_of};
use crate::auth::Caller;
use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::handlers::restore::{Restore, restore_files, rewind, rewind_request};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::vault::request;
use crate::vault::sealed::{KeyParser, key_of, sealed_rejected};
use crate::vault::sealed_shape::sealed_rewind_answer;
use steel_protocol::wire::{
    RestoreRequest, SealedRestoreAnswer, SealedRestoreRequest, SealedRestored,
};

const REWIND_FIELDS: [&str; 5] = ["as_of", "prefix", "remove_newer", "resume", "limit"];

pub async fn restore(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let raw: Value = request.json()?;
    let has = |field: &str| raw.get(field).is_some_and(|v| !v.is_null());
    if has("files") {
        if REWIND_FIELDS.iter().any(|f| has(f)) {
            return Err(either());
        }
        let body: SealedRestoreRequest = request.json()?;
        return restore_versions(state, caller, body).await;
    }
    let body: RestoreRequest = request.json()?;
    let Some(as_of) = body.as_of else {
        return Err(either());
    };
    if body.prefix.is_some() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "an encrypted vault is rewound whole: the server knows no folders (no \"prefix\")",
        ));
    }
    let page = rewind_request(
        &as_of,
        state.app.config.lifecycle.history_retention,
        None,
        body.remove_newer,
        body.resume,
        body.limit,
    )?;
    let done = rewind(state, caller, page, true).await?;
    ApiResponse::ok(&sealed_rewind_answer(done))
}

fn either() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidRequest,
        "send either \"files\" (restore versions by path_key) or \"as_of\" (rewind, with \
         optional \"remove_newer\", \"resume\", \"limit\")",
    )
}

async fn restore_versions(
    state: &WriteState,
    caller: &Caller,
    body: SealedRestoreRequest,
) -> Result<ApiResponse, ApiError> {
    request::check_count(body.files.len())?;
    let mut keys = KeyParser::default();
    let mut requests = Vec::new();
    let mut answer = SealedRestoreAnswer::default();
    for e in &body.files {
        let parsed = keys.parse(&e.path_key).and_then(|(_, path)| {
            let version = request::parse_version(&path, &e.version).map_err(sealed_rejected)?;
            let base = request::parse_base(&path, &e.base_version, 0).map_err(sealed_rejected)?;
            Ok(Restore {
                path,
                version,
                base,
            })
        });
        match parsed {
            Ok(r) => requests.push(r),
            Err(r) => answer.rejected.push(r),
        }
    }
    let done = restore_files(state, caller, requests, Vec::new(), true).await?;
    answer
        .rejected
        .extend(done.rejected.into_iter().map(sealed_rejected));
    answer.not_found = done
        .not_found
        .iter()
        .map(key_of)
        .collect::<Result<_, _>>()?;
    answer.conflicts = sealed_conflicts(&state.app, caller.user_id, done.conflicts).await?;
    let wanted: Vec<(VaultPath, i64)> = done
        .restored
        .iter()
        .map(|r| (r.path.clone(), r.version))
        .collect();
    let mut found = sealed_of(&state.app, caller.user_id, &wanted).await?;
    for r in done.restored {
        answer.restored.push(SealedRestored {
            path_key: key_of(&r.path)?,
            sealed: found.remove(&(r.path.clone(), r.version)),
            version: r.version,
            content_hash: r.content_hash,
            restored_from: r.restored_from,
        });
    }
    ApiResponse::ok(&answer)
}
