//! `POST /vault/delete`: version-checked tombstones. A device that never saw the latest
//! version of a file cannot delete it; deleting a deleted file is success.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::auth::authenticate;
use crate::db::{DeleteOutcome, Tombstone, files};
use crate::domain::{Cursor, VaultPath};
use crate::error::ApiError;
use crate::handlers::vault::{self, Conflict, Rejected};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;

#[derive(Debug, Deserialize)]
struct DeleteEntry {
    path: String,
    base_version: i64,
}

#[derive(Debug, Deserialize)]
struct DeleteRequest {
    files: Vec<DeleteEntry>,
}

#[derive(Debug, Serialize)]
struct Deleted {
    path: VaultPath,
    /// The tombstone's version.
    version: i64,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize)]
struct DeleteResponse {
    deleted: Vec<Deleted>,
    conflicts: Vec<Conflict>,
    not_found: Vec<VaultPath>,
    rejected: Vec<Rejected>,
    cursor: Cursor,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let body: DeleteRequest = request.json()?;
    vault::check_count(body.files.len())?;
    let user_id = caller.user_id;
    let mut rejected = Vec::new();
    let mut seen = HashSet::new();
    let mut tombstones = Vec::new();
    for entry in body.files {
        match vault::parse_path(&entry.path, &mut seen) {
            Ok(path) if entry.base_version < 1 => rejected.push(Rejected::new(
                path.as_str(),
                "invalid_base_version",
                "base_version must be the version being deleted (1 or more)",
            )),
            Ok(path) => tombstones.push(Tombstone {
                path,
                base_version: entry.base_version,
            }),
            Err(r) => rejected.push(r),
        }
    }
    let (outcomes, cursor) =
        files::delete_files(&state.db, user_id, caller.device_id, &tombstones).await?;
    let storage = state.storage()?;
    let mut response = DeleteResponse {
        deleted: Vec::new(),
        conflicts: Vec::new(),
        not_found: Vec::new(),
        rejected,
        cursor,
    };
    let mut deleted_now = Vec::new();
    for (file, outcome) in tombstones.iter().zip(outcomes) {
        let row = match outcome {
            DeleteOutcome::Deleted(row) => {
                deleted_now.push(row.path.clone());
                row
            }
            DeleteOutcome::AlreadyDeleted(row) => row,
            DeleteOutcome::Conflict { current } => {
                response.conflicts.push(
                    Conflict::describe(
                        &storage,
                        user_id,
                        &file.path,
                        file.base_version,
                        Some(&current),
                    )
                    .await?,
                );
                continue;
            }
            DeleteOutcome::NotFound => {
                response.not_found.push(file.path.clone());
                continue;
            }
        };
        response.deleted.push(Deleted {
            path: row.path,
            version: row.version,
            deleted_at: row.deleted_at,
        });
    }
    vault::notify(state, &caller, cursor, deleted_now).await;
    ApiResponse::ok(&response)
}
