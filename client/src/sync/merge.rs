//! Merging, when both sides edited a note: a three-way line merge against the version both
//! last agreed on; when the edits overlap, the server's version goes to the path and this
//! device's bytes to a conflict copy beside it. Either way the result goes up in the next
//! round, so nothing is lost.

use std::collections::HashMap;

use super::classify::Merge;
use super::pull::Fetched;
use super::{Plan, Round, Syncer};
use crate::api::BATCH;
use crate::disk;
use crate::error::Result;
use crate::merge::{conflict_copy_name, three_way};
use crate::scan::hash_bytes;
use crate::store::{LogEntry, RowChange};

impl Syncer {
    /// The bytes of each merge's base version, by path (one `/vault/pull` per batch).
    pub(super) async fn fetch_bases(&self, merges: &[Merge]) -> Result<HashMap<String, Vec<u8>>> {
        let bases: Vec<(String, i64)> = merges
            .iter()
            .filter_map(|m| Some((m.path.clone(), m.base.as_ref()?.number)))
            .collect();
        let mut out = HashMap::new();
        for chunk in bases.chunks(BATCH) {
            let answer = self.api.pull_versions(chunk).await?;
            for (path, fetched) in self.fetch_downloads(&answer.files).await? {
                out.insert(path, fetched.bytes);
            }
        }
        Ok(out)
    }

    /// Merges each note with the server's version fetched for it, if the note still has
    /// the bytes the plan was made from.
    pub(super) fn merge(
        &self,
        plan: &Plan,
        fetched: &mut HashMap<String, Fetched>,
        bases: &HashMap<String, Vec<u8>>,
        round: &mut Round<'_>,
    ) -> Result<()> {
        for Merge {
            path,
            base,
            local_hash,
        } in &plan.merges
        {
            let Some(Fetched {
                version,
                bytes: theirs,
            }) = fetched.remove(path)
            else {
                continue;
            };
            let rel = plan.disk_path(path);
            let Some(ours) = disk::read_if_hash(&*self.disk, &rel, local_hash) else {
                round.defer(path);
                continue;
            };
            let merged = base
                .as_ref()
                .and_then(|_| bases.get(path))
                .and_then(|b| three_way(b, &ours, &theirs));
            let log = match merged {
                Some(m) => {
                    disk::write_atomic(&*self.disk, &rel, &m)?;
                    round.report.merged.push(path.clone());
                    LogEntry::merged(path, version.number)
                }
                None => {
                    let copy = self.free_copy_name(path, &ours)?;
                    if disk::current_hash(&*self.disk, &copy)?.as_deref() != Some(local_hash) {
                        disk::write_atomic(&*self.disk, &copy, &ours)?;
                    }
                    disk::write_atomic(&*self.disk, &rel, &theirs)?;
                    let log = LogEntry::conflict_copy(path, &copy);
                    round.report.conflict_copies.push((path.clone(), copy));
                    log
                }
            };
            let agreed = RowChange::Agreed {
                path: path.clone(),
                version,
            };
            self.store.apply(&[agreed], &[log])?;
            // The merged file or the copy goes up in the next round.
            round.again = true;
        }
        Ok(())
    }

    /// A conflict-copy name that is free, or already holds exactly these bytes.
    fn free_copy_name(&self, path: &str, bytes: &[u8]) -> Result<String> {
        let today = self.clock.now().date_naive();
        let hash = hash_bytes(bytes);
        for n in 1.. {
            let name = conflict_copy_name(path, &self.device_name, today, n);
            match disk::current_hash(&*self.disk, &name)? {
                None => return Ok(name),
                Some(h) if h == hash => return Ok(name),
                Some(_) => {}
            }
        }
        unreachable!("an unbounded range ends only by returning")
    }
}
