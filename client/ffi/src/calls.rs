//! The engine's calls beside syncing: getting notes back (history, deleted, restore,
//! rewind), the conflict copies waiting for the person, and the account (push token,
//! details, deletion). Each runs on the engine's runtime like a sync.

use std::collections::BTreeMap;

use steel_sync::store::{LogAction, Store};
use steel_sync::sync::recovered::{begin_recovery, remember_recovery};

use crate::account::{self, AccountDetails, DeviceDetails};
use crate::engine::{SyncEngine, signed_out};
use crate::error::EngineError;
use crate::recovery::{self, DeletedNote, NoteVersion, Restored, RewindSummary};
use crate::types::PushEnvironment;

/// A conflict copy still in the folder: the person has not yet merged it by hand or deleted
/// it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingConflict {
    /// The note (the server's version).
    pub path: String,
    /// This device's version, kept beside it.
    pub copy: String,
    /// When the copy was made, RFC 3339.
    pub created_at: String,
}

/// How far back `pendingConflicts` looks in the sync log.
const LOG_DEPTH: u32 = 100_000;

#[uniffi::export]
impl SyncEngine {
    /// Every version of `path` the server keeps, newest first.
    pub async fn history(&self, path: String) -> Result<Vec<NoteVersion>, EngineError> {
        self.run(|inner| async move {
            let api = inner.api()?;
            let raw = api
                .history(&path)
                .await
                .map_err(|e| inner.tokens.explain(e))?;
            recovery::versions(raw)
        })
        .await
    }

    /// The deleted notes the server can bring back, most recently deleted first.
    pub async fn deleted(&self) -> Result<Vec<DeletedNote>, EngineError> {
        self.run(|inner| async move {
            let api = inner.api()?;
            let raw = api.deleted().await.map_err(|e| inner.tokens.explain(e))?;
            Ok(recovery::deleted_notes(raw))
        })
        .await
    }

    /// Brings back `version` of `path` (default: its newest version with content), a
    /// deleted note or an older version of a live one. The next sync brings it here.
    pub async fn restore(
        &self,
        path: String,
        version: Option<i64>,
    ) -> Result<Restored, EngineError> {
        self.run(|inner| async move {
            // Holding the syncer: no sync runs between the restore and its recording.
            let slot = inner.syncer.lock().await;
            let syncer = slot.as_ref().ok_or_else(signed_out)?;
            let api = syncer.api();
            let explain = |e| inner.tokens.explain(e);
            let history = recovery::versions(api.history(&path).await.map_err(explain)?)?;
            let (version, head) = recovery::version_to_restore(&path, &history, version)?;
            begin_recovery(syncer.store()).map_err(explain)?;
            let answer = api.restore(&path, version, head).await.map_err(explain)?;
            let done = recovery::restore_outcome(&path, version, &answer)?;
            remember_recovery(api, syncer.store())
                .await
                .map_err(explain)?;
            Ok(done)
        })
        .await
    }

    /// Takes the vault (or `folder`) back to how it was at `to` (RFC 3339); notes created
    /// since are deleted too when `remove_newer`. Undone by another rewind.
    pub async fn rewind(
        &self,
        to: String,
        folder: Option<String>,
        remove_newer: bool,
    ) -> Result<RewindSummary, EngineError> {
        self.run(|inner| async move {
            if chrono::DateTime::parse_from_rfc3339(&to).is_err() {
                return Err(EngineError::InvalidArgument {
                    reason: format!("{to:?} is not an RFC 3339 moment"),
                });
            }
            let slot = inner.syncer.lock().await;
            let syncer = slot.as_ref().ok_or_else(signed_out)?;
            let api = syncer.api();
            let explain = |e| inner.tokens.explain(e);
            begin_recovery(syncer.store()).map_err(explain)?;
            let pages = api
                .rewind(&to, folder.as_deref(), remove_newer)
                .await
                .map_err(explain)?;
            remember_recovery(api, syncer.store())
                .await
                .map_err(explain)?;
            Ok(recovery::rewind_summary(&pages))
        })
        .await
    }

    /// The conflict copies syncs made that are still in the folder, oldest first.
    pub async fn pending_conflicts(&self) -> Result<Vec<PendingConflict>, EngineError> {
        self.run(|inner| async move {
            let store = Store::open(&inner.vault)?;
            let mut found = BTreeMap::new();
            for logged in store.recent_log(LOG_DEPTH)? {
                let entry = logged.entry;
                if entry.action != LogAction::ConflictCopy {
                    continue;
                }
                let Some(copy) = entry.detail else { continue };
                if inner.vault.join(&copy).is_file() {
                    found.insert(
                        copy.clone(),
                        PendingConflict {
                            path: entry.path,
                            copy,
                            created_at: logged.at,
                        },
                    );
                }
            }
            let mut list: Vec<PendingConflict> = found.into_values().collect();
            list.sort_by(|a, b| a.created_at.cmp(&b.created_at));
            Ok(list)
        })
        .await
    }

    /// Gives the server this device's push token (APNs or FCM), so other devices' changes
    /// wake it; answers the device as recorded.
    pub async fn register_push_token(
        &self,
        push_token: String,
        environment: PushEnvironment,
    ) -> Result<DeviceDetails, EngineError> {
        self.run(move |inner| async move {
            let api = inner.api()?;
            let device = &inner.device;
            let raw = api
                .register_device(
                    &device.name,
                    device.platform.as_str(),
                    Some(&push_token),
                    environment.as_str(),
                )
                .await
                .map_err(|e| inner.tokens.explain(e))?;
            account::registered(raw)
        })
        .await
    }

    /// Who is signed in, the vault's size against the quota, and the signed-in devices.
    pub async fn account_details(&self) -> Result<AccountDetails, EngineError> {
        self.run(|inner| async move {
            let api = inner.api()?;
            let raw = api.account().await.map_err(|e| inner.tokens.explain(e))?;
            account::account(raw)
        })
        .await
    }

    /// Deletes the account and everything the server stores for it, then signs out here.
    /// The notes stay in this folder.
    pub async fn delete_account(&self) -> Result<(), EngineError> {
        self.run(|inner| async move {
            let api = inner.api()?;
            api.delete_account()
                .await
                .map_err(|e| inner.tokens.explain(e))?;
            inner.forget_session().await
        })
        .await
    }
}
