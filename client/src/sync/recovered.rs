//! After `restore` or `rewind` through this device's token: the versions they made are
//! recorded in `sync_recovered`, so the next sync takes them for what they are (another
//! change to bring here), not for this device's own push whose answer was lost.

use crate::api::Api;
use crate::error::{Result, SyncError};
use crate::store::Store;

/// Records every version made with this device's token since the vault's last sync (the
/// state listing from its stored cursor); how many. Run right after a restore or rewind.
pub async fn remember_recovery(api: &Api, store: &Store) -> Result<usize> {
    let Some(me) = api.device_id().map(str::to_owned) else {
        return Ok(0);
    };
    let mut cursor = store.meta("cursor")?;
    let mut made = Vec::new();
    loop {
        let page = match api.state(cursor.as_deref(), 5000).await {
            Ok(page) => page,
            // The stored cursor predates a forgotten tombstone: list everything instead.
            Err(SyncError::Api { status: 410, .. }) if cursor.is_some() => {
                cursor = None;
                made.clear();
                continue;
            }
            Err(e) => return Err(e),
        };
        made.extend(
            page.files
                .iter()
                .filter(|f| f.updated_by.is_some_and(|d| d.to_string() == me))
                .map(|f| (f.path.to_string(), f.version)),
        );
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    store.record_recovered(&made)?;
    Ok(made.len())
}
