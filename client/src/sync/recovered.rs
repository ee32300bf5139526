//! After `restore` or `rewind` through this device's token: the versions they made are
//! recorded in `sync_recovered`, so the next sync takes them for what they are (another
//! change to bring here), not for this device's own push whose answer was lost. A command
//! marks `sync.db` before its first request ([`begin_recovery`]); one that ends before
//! [`remember_recovery`] (the process killed, an answer lost for good) leaves the mark, and
//! the next sync remembers first ([`remember_unfinished`]), so it never pushes the old
//! content back over what the command made.

use crate::api::Api;
use crate::error::{Result, SyncError};
use crate::store::Store;

/// The mark a recovery command leaves in `sync_meta` until it has remembered what it made.
const UNFINISHED: &str = "recovery_unfinished";

/// Run before a restore or rewind sends anything: until [`remember_recovery`] has run, a
/// sync remembers first.
pub fn begin_recovery(store: &Store) -> Result<()> {
    store.set_meta(UNFINISHED, "1")
}

/// A sync's first step: a recovery command that ended before it remembered what it made
/// is remembered now (nothing to do without the mark).
pub async fn remember_unfinished(api: &Api, store: &Store) -> Result<()> {
    if store.meta(UNFINISHED)?.is_some() {
        remember_recovery(api, store).await?;
    }
    Ok(())
}

/// Records every version made with this device's token since the vault's last sync (the
/// state listing from its stored cursor); how many. Run right after a restore or rewind;
/// clears [`begin_recovery`]'s mark.
pub async fn remember_recovery(api: &Api, store: &Store) -> Result<usize> {
    let Some(me) = api.device_id().map(str::to_owned) else {
        store.clear_meta(UNFINISHED)?;
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
    store.clear_meta(UNFINISHED)?;
    Ok(made.len())
}
