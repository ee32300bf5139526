//! Pushing, in batches of [`BATCH`]: each note re-read (the bytes announced are the bytes
//! uploaded and confirmed, or the note waits for the next sync), `/vault/push` with its base
//! version, the presigned PUTs with exactly the signed headers, then `/vault/push/confirm`.
//! A conflict is learnt for the next round; a refusal is remembered with the refused bytes.

use std::collections::{BTreeSet, HashMap};

use super::bounded::{TRANSFER_CONCURRENCY, for_each_bounded};
use super::classify::Push;
use super::{Plan, Progress, Round, Syncer};
use crate::api::{BATCH, FileEntry, Rejected, Upload, Versioned};
use crate::disk;
use crate::error::Result;
use crate::store::{LogEntry, RowChange, Version};

impl Syncer {
    pub(super) async fn push(&self, plan: &Plan, round: &mut Round<'_>) -> Result<()> {
        let total = plan.pushes.len();
        let mut uploaded = 0;
        for chunk in plan.pushes.chunks(BATCH) {
            let mut entries = Vec::new();
            let mut bytes_of: HashMap<String, Vec<u8>> = HashMap::new();
            for Push {
                path,
                base_version,
                hash,
            } in chunk
            {
                let Some(bytes) = disk::read_if_hash(&self.root, &plan.disk_path(path), hash)
                else {
                    round.defer(path);
                    continue;
                };
                entries.push(FileEntry {
                    path: path.clone(),
                    base_version: *base_version,
                    content_hash: hash.clone(),
                    size_bytes: bytes.len() as i64,
                });
                bytes_of.insert(path.clone(), bytes);
            }
            if entries.is_empty() {
                continue;
            }
            let answer = self.api.push(&entries).await?;
            let mut records = agreed(&answer.unchanged, round);
            round.learn_conflicts(&answer.conflicts, self.api.device_id());
            refused(&answer.rejected, &entries, &mut records, round);
            self.store.apply(&records, &[])?;

            let ok = self
                .upload_all(&answer.uploads, &mut bytes_of, &mut uploaded, total)
                .await?;
            let to_confirm: Vec<FileEntry> = entries
                .into_iter()
                .filter(|e| ok.contains(&e.path))
                .collect();
            if to_confirm.is_empty() {
                continue;
            }
            let answer = self.api.confirm(&to_confirm).await?;
            let mut records = agreed(&answer.confirmed, round);
            let log: Vec<LogEntry> = answer
                .confirmed
                .iter()
                .map(|c| LogEntry::pushed(&c.path, c.version))
                .collect();
            if !answer.missing.is_empty() {
                // The bytes never arrived: upload again next round.
                round.again = true;
                round.complete = false;
            }
            round.learn_conflicts(&answer.conflicts, self.api.device_id());
            refused(&answer.rejected, &to_confirm, &mut records, round);
            self.store.apply(&records, &log)?;
        }
        Ok(())
    }

    /// Uploads concurrently; answers the paths whose bytes the server has (or will have).
    async fn upload_all(
        &self,
        uploads: &[Upload],
        bytes_of: &mut HashMap<String, Vec<u8>>,
        uploaded: &mut usize,
        total: usize,
    ) -> Result<BTreeSet<String>> {
        let mut ok = BTreeSet::new();
        let mut transfers = Vec::new();
        for upload in uploads {
            let Some(bytes) = bytes_of.remove(&upload.path) else {
                continue;
            };
            // No URL: the server already holds these bytes.
            if upload.upload_url.is_none() {
                ok.insert(upload.path.clone());
            } else {
                transfers.push((upload.clone(), bytes));
            }
        }
        let api = &self.api;
        // On an error, what did arrive is not confirmed now: the next sync confirms it
        // without uploading again (push answers no URL for bytes the server has).
        for_each_bounded(
            transfers,
            TRANSFER_CONCURRENCY,
            |(upload, bytes)| {
                let api = api.clone();
                async move { api.upload(&upload, bytes).await.map(|()| upload.path) }
            },
            |path| {
                ok.insert(path);
                *uploaded += 1;
                self.report_progress(Progress::Uploaded {
                    done: *uploaded,
                    total,
                });
            },
        )
        .await?;
        Ok(ok)
    }
}

/// Versions the server holds as this device pushed them: agreed, and reported pushed.
fn agreed(versions: &[Versioned], round: &mut Round<'_>) -> Vec<RowChange> {
    versions
        .iter()
        .map(|v| {
            round.report.pushed.push(v.path.clone());
            RowChange::Agreed {
                path: v.path.clone(),
                version: Version::new(v.version, v.content_hash.clone().unwrap_or_default()),
            }
        })
        .collect()
}

/// Files the server refused: remembered with the refused bytes (not sent again until they
/// change), and reported.
fn refused(
    rejected: &[Rejected],
    entries: &[FileEntry],
    records: &mut Vec<RowChange>,
    round: &mut Round<'_>,
) {
    for r in rejected {
        if let Some(e) = entries.iter().find(|e| e.path == r.path) {
            records.push(RowChange::Rejected {
                path: r.path.clone(),
                hash: e.content_hash.clone(),
            });
        }
        round.report.rejected.push(r.into());
    }
}
