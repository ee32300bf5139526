//! What the writing handlers share after the rules decided: the server's side of a conflict,
//! described from its row, and the change notice for the notifier.

use crate::auth::Caller;
use crate::db::FileState;
use crate::domain::{Cursor, UserId, VaultPath};
use crate::error::ApiError;
use crate::messages::ChangeNotice;
use crate::queue::Queue;
use crate::storage::{PRESIGN_TTL, Storage};
use crate::vault::Conflict;

/// Queues one change notice for the paths a request committed. A failure is logged, never
/// returned: the versions are committed, and devices also sync on launch and on a timer.
pub async fn announce(changes: &Queue, caller: &Caller, cursor: Cursor, paths: Vec<VaultPath>) {
    if paths.is_empty() {
        return;
    }
    let notice = ChangeNotice::new(caller.user_id, caller.device_id, cursor, paths);
    if let Err(err) = changes.send(&notice).await {
        tracing::error!(user_id = %caller.user_id, %cursor, error = %err, "change notice not queued");
    }
}

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
