//! Pulling: the server's bytes fetched through presigned GETs (checked against their hash),
//! and written over local notes that still have the bytes the plan was made from, each
//! through `sync_pending` so that a crash between the write and its record loses nothing.

use std::collections::HashMap;

use super::bounded::{TRANSFER_CONCURRENCY, for_each_bounded};
use super::classify::{Origin, Pull, Remote};
use super::{Plan, Progress, Round, Syncer};
use crate::api::{BATCH, Download};
use crate::disk;
use crate::error::{Result, SyncError};
use crate::store::{LogEntry, RowChange, Version};

/// Pulled notes written to their temporary files at once (see `Syncer::stage_pulls`).
const STAGE_CONCURRENCY: usize = 8;

/// A version's bytes, fetched.
pub(super) struct Fetched {
    pub version: Version,
    pub bytes: Vec<u8>,
}

impl Syncer {
    /// The current bytes of `paths`: through packs for the paths whose version the server
    /// listed when there are at least `pack_threshold` of them, through `/vault/pull` (one
    /// per batch) for the rest. A note deleted since the plan is learnt for the next round.
    pub(super) async fn fetch_current(
        &self,
        paths: &[String],
        listed: &HashMap<String, Version>,
        round: &mut Round<'_>,
    ) -> Result<HashMap<String, Fetched>> {
        let packable: Vec<(String, Version)> = paths
            .iter()
            .filter_map(|p| Some((p.clone(), listed.get(p)?.clone())))
            .collect();
        let use_packs = packable.len() >= self.pack_threshold;
        let (mut fetched, per_note) = if use_packs {
            // Packs are indexed by what is stored: for an encrypted vault, the ciphertext's
            // hash its state listing named beside the sealed fields. What the packs did not
            // bring (or the server did not list) goes note by note.
            let fetched = if self.api.encrypted() {
                self.fetch_listed_sealed(&packable).await?
            } else {
                self.fetch_packed(&packable).await?
            };
            let rest: Vec<String> = paths
                .iter()
                .filter(|p| !fetched.contains_key(*p))
                .cloned()
                .collect();
            (fetched, rest)
        } else {
            (HashMap::new(), paths.to_vec())
        };
        // An encrypted vault's notes the listing did not name, if many, through packs too:
        // their stored hashes come from the pulls.
        let sealed_packs = per_note.len() >= self.pack_threshold && self.api.encrypted();
        let mut pulled = Vec::new();
        for chunk in per_note.chunks(BATCH) {
            let answer = self.api.pull_current(chunk).await?;
            for d in &answer.deleted {
                let tombstone = Remote::Tombstone {
                    version: d.version,
                    origin: Origin::Elsewhere,
                };
                round.learn(d.path.as_str(), tombstone);
                round.complete = false;
            }
            if sealed_packs {
                pulled.extend(answer.files);
            } else {
                fetched.extend(self.fetch_downloads(&answer.files).await?);
            }
        }
        if sealed_packs {
            fetched.extend(self.fetch_sealed_packed(pulled).await?);
        }
        Ok(fetched)
    }

    /// The bytes of `files` (downloads pulls answered), each checked against its hash.
    pub(super) async fn fetch_downloads(
        &self,
        files: &[Download],
    ) -> Result<HashMap<String, Fetched>> {
        let mut out = HashMap::new();
        let total = files.len();
        let api = &self.api;
        for_each_bounded(
            files.iter().cloned(),
            TRANSFER_CONCURRENCY,
            |file| {
                let api = api.clone();
                async move {
                    let (bytes, hash) = api.fetch_checked(&file).await?;
                    let version = Version::new(file.version, hash);
                    Ok((file.path.to_string(), Fetched { version, bytes }))
                }
            },
            |(path, fetched)| {
                out.insert(path, fetched);
                self.report_progress(Progress::Downloaded {
                    done: out.len(),
                    total,
                });
            },
        )
        .await?;
        Ok(out)
    }

    /// Writes each fetched version over its note, if the note still has the bytes the plan
    /// expected; a note changed since is left for the next sync.
    pub(super) fn write_pulls(
        &self,
        plan: &Plan,
        fetched: &mut HashMap<String, Fetched>,
        round: &mut Round<'_>,
    ) -> Result<()> {
        // The plaintext hashes an encrypted vault learnt while fetching, written before the
        // rows that name them.
        self.api.flush_learned()?;
        let mut staged = self.stage_pulls(plan, fetched);
        for Pull { path, expect } in &plan.pulls {
            let Some(Fetched { version, bytes }) = fetched.remove(path) else {
                continue;
            };
            let rel = plan.disk_path(path);
            let staged = staged.remove(&rel);
            let changed = disk::current_hash(&*self.disk, &rel)?.as_deref() != expect.as_deref();
            if changed || (expect.is_none() && disk::twin_appeared(&*self.disk, &rel)?) {
                if let Some(tmp) = staged {
                    let _ = self.disk.remove(&tmp);
                }
                round.defer(path);
                continue;
            }
            let tmp = match staged {
                Some(tmp) => tmp,
                None => disk::write_temp(&*self.disk, &rel, &bytes)?,
            };
            self.store.begin_pull(path, &version, &tmp)?;
            if let Err(e) = disk::commit_temp(&*self.disk, &tmp, &rel) {
                self.store.clear_pending(path)?;
                return Err(e);
            }
            if self.api.faults().crash_after_write(path) {
                return Err(SyncError::Crash(format!("after writing {path}")));
            }
            let log = LogEntry::pulled(path, version.number);
            self.store.apply(
                &[RowChange::Agreed {
                    path: path.clone(),
                    version,
                }],
                &[log],
            )?;
            round.report.pulled.push(path.clone());
        }
        Ok(())
    }

    /// The temporary files of the fetched pulls, written [`STAGE_CONCURRENCY`] at a time
    /// (each is flushed to the device, and flushes one after the other cost a few ms each,
    /// most of a 10,000-note first sync; side by side they overlap), by disk path. Each is
    /// then recorded and renamed one by one as before, so a crash leaves at most one
    /// recorded pull unrenamed; the others' temporary files are never recorded, and a scan
    /// removes them. Only on a real disk (the simulation's stays one write at a time), only
    /// for notes no other pull's path equals ignoring case (their temporary files could be
    /// one file), and a failure is left to the one-by-one write, which reports it.
    fn stage_pulls(
        &self,
        plan: &Plan,
        fetched: &HashMap<String, Fetched>,
    ) -> HashMap<String, String> {
        if self.disk.in_memory() || plan.pulls.len() < 2 {
            return HashMap::new();
        }
        let mut folded: HashMap<String, usize> = HashMap::new();
        for p in &plan.pulls {
            *folded
                .entry(plan.disk_path(&p.path).to_lowercase())
                .or_default() += 1;
        }
        let jobs: Vec<(String, &[u8])> = (plan.pulls.iter())
            .filter_map(|p| {
                let rel = plan.disk_path(&p.path);
                let alone = folded.get(&rel.to_lowercase()) == Some(&1);
                let bytes = fetched.get(&p.path)?.bytes.as_slice();
                alone.then_some((rel.to_string(), bytes))
            })
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let staged = std::sync::Mutex::new(HashMap::new());
        std::thread::scope(|scope| {
            for _ in 0..STAGE_CONCURRENCY.min(jobs.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((rel, bytes)) = jobs.get(i) else {
                            break;
                        };
                        if let Ok(tmp) = disk::write_temp(&*self.disk, rel, bytes) {
                            let mut staged = staged.lock().unwrap_or_else(|e| e.into_inner());
                            staged.insert(rel.clone(), tmp);
                        }
                    }
                });
            }
        });
        staged.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// Settles pulls that a crash interrupted (before the scan, which clears temporary
    /// files): still in its temporary file, the pull never happened; renamed into place, the
    /// note became that version, whatever the user has done to it since.
    pub(super) fn recover_pulls(&self) -> Result<()> {
        for pending in self.store.pending_pulls()? {
            if self.disk.exists(&pending.temp_path) {
                let _ = self.disk.remove(&pending.temp_path);
                self.store.clear_pending(&pending.path)?;
            } else {
                let log = LogEntry::recovered_pull(&pending.path, pending.version.number);
                self.store.apply(
                    &[RowChange::Agreed {
                        path: pending.path,
                        version: pending.version,
                    }],
                    &[log],
                )?;
            }
        }
        Ok(())
    }
}
