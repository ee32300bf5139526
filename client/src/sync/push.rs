//! Pushing, in batches of [`BATCH`] notes and at most [`PUSH_BATCH_BYTES`]: each note re-read
//! (the bytes announced are the bytes uploaded and confirmed, or the note waits for the next
//! sync), `/vault/push` with its base version, the presigned PUTs with exactly the signed
//! headers, then `/vault/push/confirm`; a batch that asks for many blobs uploads them as
//! one incoming pack instead (`super::bulk`), and a batch large enough for that asks for no
//! URLs until it knows it needs them (`presign=false`, then a second push if it does).
//! A conflict is learnt for the next round; a refusal is remembered with the refused bytes.

use std::collections::{BTreeSet, HashMap};

use super::bounded::{TRANSFER_CONCURRENCY, for_each_bounded};
use super::classify::Push;
use super::{Plan, Progress, Round, Syncer};
use serde_json::Number;

use crate::api::{BATCH, FileEntry, Presign, PushAnswer, Rejected, Upload, Versioned};
use crate::disk;
use crate::error::Result;
use crate::store::{LogEntry, RowChange, Version};

/// Bytes of note content per push at most (a single larger note goes alone). The server caps
/// the bytes of upload URLs out unconfirmed per account (`UNCONFIRMED_UPLOAD_BYTES`, 1 GiB by
/// default; a push asking for more is refused with `push_too_large`), and every batch is
/// confirmed before the next is pushed, so a batch this size always fits. It also bounds
/// what a push holds in memory.
pub const PUSH_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Notes read for one push, up to [`BATCH`] of them and [`PUSH_BATCH_BYTES`].
#[derive(Default)]
struct Batch {
    entries: Vec<FileEntry>,
    bytes_of: HashMap<String, Vec<u8>>,
    bytes: usize,
}

impl Batch {
    /// Whether a note of `size` bytes must go in the next batch instead.
    fn is_full_before(&self, size: usize) -> bool {
        !self.entries.is_empty()
            && (self.entries.len() >= BATCH || self.bytes.saturating_add(size) > PUSH_BATCH_BYTES)
    }
}

impl Syncer {
    pub(super) async fn push(&self, plan: &Plan, round: &mut Round<'_>) -> Result<()> {
        let total = plan.pushes.len();
        let mut uploaded = 0;
        let mut batch = Batch::default();
        for Push {
            path,
            base_version,
            hash,
        } in &plan.pushes
        {
            let Some(bytes) = disk::read_if_hash(&*self.disk, &plan.disk_path(path), hash) else {
                round.defer(path);
                continue;
            };
            if batch.is_full_before(bytes.len()) {
                self.push_batch(std::mem::take(&mut batch), round, &mut uploaded, total)
                    .await?;
            }
            batch.bytes += bytes.len();
            batch.entries.push(FileEntry {
                path: path.clone(),
                base_version: Number::from(*base_version),
                content_hash: hash.clone(),
                size_bytes: Number::from(bytes.len() as u64),
            });
            batch.bytes_of.insert(path.clone(), bytes);
        }
        if !batch.entries.is_empty() {
            self.push_batch(batch, round, &mut uploaded, total).await?;
        }
        Ok(())
    }

    /// One `/vault/push`, its uploads and its `/vault/push/confirm`.
    async fn push_batch(
        &self,
        batch: Batch,
        round: &mut Round<'_>,
        uploaded: &mut usize,
        total: usize,
    ) -> Result<()> {
        let Batch {
            entries,
            mut bytes_of,
            ..
        } = batch;
        // A batch that may go up as one pack asks for no per-note URL (`presign=false`):
        // 1,000 of them are most of a 0.9 MB answer that a pack does not use.
        let presign = if entries.len() >= self.bulk_threshold {
            Presign::Deferred
        } else {
            Presign::Each
        };
        let answer = self.api.push_notes(&entries, &bytes_of, presign).await?;
        self.learn(&answer, &entries, round)?;

        // Many blobs to upload: one pack (a failure falls back to the per-note path).
        let listed: BTreeSet<&str> = answer
            .uploads
            .iter()
            .filter(|u| bytes_of.contains_key(u.path.as_str()))
            .map(|u| u.path.as_str())
            .collect();
        let bulk_files: Vec<FileEntry> = entries
            .iter()
            .filter(|e| listed.contains(e.path.as_str()))
            .cloned()
            .collect();
        let (to_confirm, answer) = match self
            .try_bulk(&answer.uploads, &bytes_of, &bulk_files)
            .await?
        {
            Some(confirmed) => {
                *uploaded += bulk_files.len();
                self.report_progress(Progress::Uploaded {
                    done: *uploaded,
                    total,
                });
                (bulk_files, confirmed)
            }
            None => {
                let uploads = self
                    .with_urls(answer.uploads, &entries, &bytes_of, round)
                    .await?;
                let ok = self
                    .upload_all(&uploads, &mut bytes_of, uploaded, total)
                    .await?;
                let to_confirm: Vec<FileEntry> = entries
                    .into_iter()
                    .filter(|e| ok.contains(&e.path))
                    .collect();
                if to_confirm.is_empty() {
                    return Ok(());
                }
                let answer = self.api.confirm(&to_confirm).await?;
                (to_confirm, answer)
            }
        };
        let mut records = agreed(&answer.confirmed, round);
        let log: Vec<LogEntry> = answer
            .confirmed
            .iter()
            .map(|c| LogEntry::pushed(c.path.as_str(), c.version))
            .collect();
        if !answer.missing.is_empty() {
            // The bytes never arrived: upload again next round.
            round.again = true;
            round.complete = false;
        }
        round.learn_conflicts(&answer.conflicts, self.api.device_id());
        refused(&answer.rejected, &to_confirm, &mut records, round);
        self.store.apply(&records, &log)?;
        Ok(())
    }

    /// Records what a push answered unchanged, conflicting or refused.
    fn learn(
        &self,
        answer: &PushAnswer,
        entries: &[FileEntry],
        round: &mut Round<'_>,
    ) -> Result<()> {
        let mut records = agreed(&answer.unchanged, round);
        round.learn_conflicts(&answer.conflicts, self.api.device_id());
        refused(&answer.rejected, entries, &mut records, round);
        self.store.apply(&records, &[])
    }

    /// `uploads` with a URL for each deferred one (a batch that did not go up as a pack):
    /// those notes pushed again with `presign=true`, one more request, and what that push
    /// answers learnt as the first's was (another device may have written in between).
    async fn with_urls(
        &self,
        uploads: Vec<Upload>,
        entries: &[FileEntry],
        bytes_of: &HashMap<String, Vec<u8>>,
        round: &mut Round<'_>,
    ) -> Result<Vec<Upload>> {
        let (deferred, mut out): (Vec<Upload>, Vec<Upload>) =
            uploads.into_iter().partition(|u| u.deferred);
        if deferred.is_empty() {
            return Ok(out);
        }
        let again: BTreeSet<&str> = deferred.iter().map(|u| u.path.as_str()).collect();
        let again: Vec<FileEntry> = (entries.iter())
            .filter(|e| again.contains(e.path.as_str()))
            .cloned()
            .collect();
        let answer = self.api.push_notes(&again, bytes_of, Presign::Each).await?;
        self.learn(&answer, &again, round)?;
        out.extend(answer.uploads.into_iter().filter(|u| !u.deferred));
        Ok(out)
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
            let Some(bytes) = bytes_of.remove(upload.path.as_str()) else {
                continue;
            };
            // No URL: the server already holds these bytes.
            if upload.upload_url.is_none() {
                ok.insert(upload.path.to_string());
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
                async move {
                    api.upload(&upload, bytes)
                        .await
                        .map(|()| upload.path.to_string())
                }
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
            round.report.pushed.push(v.path.to_string());
            RowChange::Agreed {
                path: v.path.to_string(),
                version: Version::new(v.version, v.content_hash.to_hex()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(notes: usize, bytes: usize) -> Batch {
        Batch {
            entries: (0..notes)
                .map(|i| FileEntry {
                    path: format!("{i}.md"),
                    base_version: Number::from(0),
                    content_hash: String::new(),
                    size_bytes: Number::from(0),
                })
                .collect(),
            bytes_of: HashMap::new(),
            bytes,
        }
    }

    #[test]
    fn a_batch_closes_at_its_count_or_its_bytes() {
        let cases = [
            // An empty batch takes any note, even one larger than the limit.
            (0, 0, PUSH_BATCH_BYTES + 1, false),
            (1, 10, 10, false),
            (BATCH - 1, 0, 1, false),
            (BATCH, 0, 1, true),
            // Exactly the limit fits; one byte more goes in the next batch.
            (1, PUSH_BATCH_BYTES - 10, 10, false),
            (1, PUSH_BATCH_BYTES - 10, 11, true),
            (1, 1, usize::MAX, true),
        ];
        for (notes, bytes, next, full) in cases {
            assert_eq!(
                batch(notes, bytes).is_full_before(next),
                full,
                "{notes} notes, {bytes} bytes, next {next}"
            );
        }
    }
}
