//! `POST /vault/delete`: version-checked tombstones. A device that never saw the latest
//! version of a file cannot delete it; deleting a deleted file is success. A run of deletes
//! that looks like an accident (an emptied folder) is held until the caller confirms it.

use super::write::{announce, describe_conflict};
use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::writes;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::vault::Rejected;
use crate::vault::request::{self, DeleteRequest};
use crate::vault::rules::DeleteDecision;
use steel_protocol::wire::{DeleteAnswer, Tombstone};

pub async fn handle(state: &WriteState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let app = &state.app;
    let caller = authenticate_within(app, &request, Charge::WRITE).await?;
    let encrypted = crate::db::sealed::is_encrypted(&app.db, caller.user_id).await?;
    crate::vault::sealed::check_mode(encrypted, request.body())?;
    if encrypted {
        return super::sealed::delete(state, &caller, &request).await;
    }
    let body: DeleteRequest = request.json()?;
    request::check_count(body.files.len())?;
    let user_id = caller.user_id;
    let (deletes, rejected) = request::parse_deletes(&body.files);
    let guard = (!body.confirm_mass_delete).then_some(app.config.limits.mass_delete);
    let batch = writes::delete_files(&app.db, user_id, caller.device_id, &deletes, guard).await?;
    let mut response = DeleteAnswer {
        deleted: Vec::new(),
        conflicts: Vec::new(),
        not_found: Vec::new(),
        rejected,
    };
    let mut deleted_now = Vec::new();
    for ((path, base), outcome) in deletes.iter().zip(batch.outcomes) {
        let row = match (outcome.decision, outcome.row) {
            (DeleteDecision::Tombstone { .. }, Some(row)) => {
                deleted_now.push(row.path.clone());
                row
            }
            (DeleteDecision::AlreadyDeleted, Some(row)) => row,
            (DeleteDecision::CaseConflict { existing }, _) => {
                response
                    .rejected
                    .push(Rejected::case_conflict(path, &existing));
                continue;
            }
            (DeleteDecision::Conflict, Some(row)) => {
                response.conflicts.push(
                    describe_conflict(&state.storage, user_id, path, base.get(), Some(&row))
                        .await?,
                );
                continue;
            }
            _ => {
                response.not_found.push(path.clone());
                continue;
            }
        };
        response.deleted.push(Tombstone {
            path: row.path,
            version: row.version,
            deleted_at: row.deleted_at,
        });
    }
    announce(&state.changes, &caller, batch.cursor, deleted_now).await;
    ApiResponse::ok(&response)
}
