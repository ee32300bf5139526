//! Deleting, both ways: a note the server deleted (or no longer has) is removed here if it
//! still has the bytes the plan was made from; a note deleted here is deleted on the server
//! with its base version, so a delete against an edit made elsewhere is a conflict, not a
//! loss.

use super::classify::{Delete, Removal};
use super::guard::MissingNotes;
use super::{Plan, Round, Syncer};
use crate::api::{BATCH, DeleteEntry};
use crate::disk;
use crate::error::{Result, SyncError};
use crate::store::{LogEntry, RowChange};

impl Syncer {
    /// Applies the server's deletes to local notes.
    pub(super) fn remove_local(&self, plan: &Plan, round: &mut Round<'_>) -> Result<()> {
        for Removal { path, expect } in &plan.removals {
            let rel = plan.disk_path(path);
            if disk::current_hash(&*self.disk, &rel)?.as_deref() != Some(expect.as_str()) {
                round.defer(path);
                continue;
            }
            match self.disk.remove(&rel) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SyncError::io(self.root.join(&rel))(e)),
            }
            self.store.apply(
                &[RowChange::Forget { path: path.clone() }],
                &[LogEntry::deleted_here(path)],
            )?;
            round.report.deleted_local.push(path.clone());
        }
        Ok(())
    }

    /// Sends local deletes to the server (one `/vault/delete` per batch).
    pub(super) async fn delete_remote(
        &self,
        deletes: &[Delete],
        round: &mut Round<'_>,
    ) -> Result<()> {
        let entries: Vec<DeleteEntry> = deletes
            .iter()
            .map(|d| DeleteEntry {
                path: d.path.clone(),
                base_version: serde_json::Number::from(d.base_version),
            })
            .collect();
        let confirm = self.deletes.missing == MissingNotes::DeleteAll;
        for (i, chunk) in entries.chunks(BATCH).enumerate() {
            let answer = match self.api.delete(chunk, confirm).await {
                Ok(answer) => answer,
                // The server counts deletes across requests and devices: this one and the
                // rest are held, the notes stay known here, and the person is asked.
                Err(SyncError::Api {
                    status: 409, code, ..
                }) if code == "mass_delete_held" => {
                    let rest = &entries[i * BATCH..];
                    round
                        .report
                        .held
                        .extend(rest.iter().map(|e| e.path.clone()));
                    round.report.known = round.report.known.max(self.store.rows()?.len());
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let mut records = Vec::new();
            let mut log = Vec::new();
            for d in &answer.deleted {
                records.push(RowChange::Forget {
                    path: d.path.to_string(),
                });
                log.push(LogEntry::deleted_on_server(d.path.as_str(), d.version));
                round.report.deleted_remote.push(d.path.to_string());
            }
            // Already gone on the server: nothing left to remember.
            for path in &answer.not_found {
                records.push(RowChange::Forget {
                    path: path.to_string(),
                });
            }
            round.learn_conflicts(&answer.conflicts, self.api.device_id());
            round
                .report
                .rejected
                .extend(answer.rejected.iter().map(Into::into));
            self.store.apply(&records, &log)?;
        }
        Ok(())
    }
}
