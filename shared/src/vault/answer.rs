//! Shapes the vault endpoints share in their answers (defined in `steel-protocol`): a file
//! refused on its own, and the server's side of a conflict, described from its row.

use crate::db::FileState;
use crate::domain::{UserId, VaultPath};
use crate::error::ApiError;
use crate::storage::{PRESIGN_TTL, Storage};
pub use steel_protocol::wire::{Conflict, Rejected};

/// The server's side of a conflict on `path`, from its current row (if any).
pub async fn describe_conflict(
    storage: &Storage,
    user_id: UserId,
    path: &VaultPath,
    base_version: i64,
    current: Option<&FileState>,
) -> Result<Conflict, ApiError> {
    let download_url = match current {
        Some(row) if !row.is_deleted => Some(
            storage
                .presign_download(user_id, &row.content_hash, PRESIGN_TTL)
                .await?
                .url,
        ),
        _ => None,
    };
    Ok(Conflict {
        path: path.clone(),
        base_version,
        server_version: current.map_or(0, |r| r.version),
        content_hash: current.map(|r| r.content_hash),
        size_bytes: current.map(|r| r.size_bytes),
        is_deleted: current.is_some_and(|r| r.is_deleted),
        updated_at: current.map(|r| r.updated_at),
        updated_by: current.and_then(|r| r.updated_by),
        download_url,
    })
}
