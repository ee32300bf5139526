//! The sync endpoints for an end-to-end encrypted account (README "Encrypted notes on the
//! server"): each plaintext handler checks the account's mode and hands an encrypted
//! account's request here. The same rules, database writes and blob checks run; the bodies
//! are the encrypted shapes (`steel_protocol::wire::sealed`), with the sealed fields of each
//! version beside it. A change notice of an encrypted account names no paths.

mod bulk;
mod read;
mod recovery;
mod restore;
mod write;

use std::collections::HashMap;

pub use bulk::bulk_confirm;
pub use read::{pull, pull_entries, state_entries};
pub use recovery::{deleted, history};
pub use restore::restore;
pub use write::{confirm, delete, push};

use crate::auth::Caller;
use crate::db::sealed::{self, StoredSealed};
use crate::domain::{Cursor, UserId, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::messages::ChangeNotice;
use crate::queue::Queue;
use crate::runtime::AppState;
use crate::vault::Conflict;
use crate::vault::sealed::{case_conflict, key_of, quota_exceeded};
use crate::vault::sealed_shape::sealed_conflict;
use steel_protocol::wire::{Key32, Sealed, SealedBytes, SealedConflict};

/// Stored sealed fields in their wire form (`None` if a stored value could not be one).
fn to_wire(s: StoredSealed) -> Option<Sealed> {
    Some(Sealed {
        sealed_path: SealedBytes::new(s.sealed_path)?,
        sealed_manifest: SealedBytes::new(s.sealed_manifest)?,
        manifest_version: s.manifest_version,
        blob_id: Key32::parse_as(&s.blob_id, ErrorCode::InvalidBlobId, "blob_id").ok()?,
    })
}

/// The sealed fields of these versions, in wire form. The versions were just read (or
/// written) by the same request, in a statement of their own: one that is gone now was
/// pruned or compacted by a janitor pass in between, and the answer would name a version
/// without its sealed fields, which a device must take for a lie. That answer is 503
/// `temporarily_unavailable` instead; the client sends the request again (every request is
/// safe to repeat) and reads a state without it.
async fn sealed_of(
    app: &AppState,
    user_id: UserId,
    wanted: &[(VaultPath, i64)],
) -> Result<HashMap<(VaultPath, i64), Sealed>, ApiError> {
    let stored = sealed::of_versions(&app.db, user_id, wanted).await?;
    if let Some((path, version)) = wanted.iter().find(|w| !stored.contains_key(*w)) {
        return Err(ApiError::Unavailable(anyhow::anyhow!(
            "version {version} of {path} was pruned or compacted while this request read it"
        )));
    }
    Ok(stored
        .into_iter()
        .filter_map(|(k, s)| Some((k, to_wire(s)?)))
        .collect())
}

/// Conflicts described on the server's rows, in the encrypted shape with the sealed fields
/// of the server's version.
async fn sealed_conflicts(
    app: &AppState,
    user_id: UserId,
    conflicts: Vec<Conflict>,
) -> Result<Vec<SealedConflict>, ApiError> {
    let wanted: Vec<(VaultPath, i64)> = conflicts
        .iter()
        .filter(|c| c.server_version > 0)
        .map(|c| (c.path.clone(), c.server_version))
        .collect();
    let mut found = sealed_of(app, user_id, &wanted).await?;
    conflicts
        .into_iter()
        .map(|c| {
            let path_key = key_of(&c.path)?;
            let sealed = found.remove(&(c.path.clone(), c.server_version));
            Ok(sealed_conflict(c, path_key, sealed))
        })
        .collect()
}

/// Queues the change notice of an encrypted account: the cursor, no paths (not even path
/// keys), so no push payload names a note. Logged, never returned, on failure.
pub(crate) async fn announce(changes: &Queue, caller: &Caller, cursor: Cursor, changed: bool) {
    if !changed {
        return;
    }
    let notice = ChangeNotice {
        user_id: caller.user_id,
        origin_device_id: caller.device_id,
        cursor,
        paths: None,
    };
    if let Err(err) = changes.send(&notice).await {
        tracing::error!(user_id = %caller.user_id, %cursor, error = %err, "change notice not queued");
    }
}
