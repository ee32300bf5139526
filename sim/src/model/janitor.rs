//! The janitor's passes over the model, as `shared/src/janitor` runs them on the database and
//! the bucket: tombstones older than their retention compacted away with their history
//! (raising the compaction marks that answer old cursors 410), then blobs and uploads that
//! no kept version names collected. And the server-side invariants, checked by recount.

use chrono::TimeDelta;

use super::Server;

/// How long the janitor keeps what.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub tombstones: TimeDelta,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            tombstones: TimeDelta::days(90),
        }
    }
}

impl Server {
    /// One janitor pass at the server's `now`; answers how many tombstones went.
    pub fn janitor(&mut self, retention: Retention) -> usize {
        let gone = self.compact(self.now - retention.tombstones);
        self.collect();
        gone
    }

    /// Compacts the tombstones deleted before `cutoff` with their history, raising the
    /// compaction marks (`compact_tombstones`); how many went.
    pub fn compact(&mut self, cutoff: chrono::DateTime<chrono::Utc>) -> usize {
        let gone: Vec<_> = self
            .files
            .values()
            .filter(|f| f.is_deleted && f.deleted_at.is_some_and(|at| at < cutoff))
            .map(|f| (f.path.clone(), f.change_seq, f.version, f.deleted_at))
            .collect();
        for (path, seq, version, deleted_at) in &gone {
            self.files.remove(path);
            self.history.retain(|h| &h.path != path);
            self.sealed.retain(|(p, _), _| p != path);
            self.compacted_seq = self.compacted_seq.max(*seq);
            self.compacted_version = self.compacted_version.max(*version);
            self.compacted_until = self.compacted_until.max(*deleted_at);
        }
        gone.len()
    }

    /// Collects the blobs no kept version names, and uploads never confirmed.
    pub fn collect(&mut self) {
        let named = self.named_hashes();
        self.verified.retain(|h, _| named.contains(h));
        self.bucket.retain(|h, _| named.contains(h));
        // A pack holding a collected blob goes with it.
        self.packs
            .retain(|_, p| p.blobs.iter().all(|h| named.contains(h)));
    }

    /// The server-side invariants: the change sequence strictly increasing through the
    /// history, every row's counters equal to a recount, every live version's blob stored.
    pub fn check(&self) -> Result<(), String> {
        let mut last = 0;
        for h in &self.history {
            if h.change_seq <= last {
                return Err(format!(
                    "change sequence not increasing at {} v{}: {} after {last}",
                    h.path, h.version, h.change_seq
                ));
            }
            last = h.change_seq;
        }
        if last > self.change_seq {
            return Err(format!("history at {last}, user at {}", self.change_seq));
        }
        let live: Vec<_> = self.files.values().filter(|f| !f.is_deleted).collect();
        let size: i64 = live.iter().map(|f| f.size_bytes).sum();
        if size != self.vault_size || live.len() as i64 != self.file_count {
            return Err(format!(
                "counters: vault_size {} file_count {}, recount {size} and {}",
                self.vault_size,
                self.file_count,
                live.len()
            ));
        }
        for f in self.files.values() {
            let newest = self.history.iter().rev().find(|h| h.path == f.path);
            if newest.map(|h| (h.version, h.change_seq)) != Some((f.version, f.change_seq)) {
                return Err(format!(
                    "{}: row v{} is not its newest version",
                    f.path, f.version
                ));
            }
        }
        for h in self.history.iter().filter(|h| !h.is_deleted) {
            if !self.bucket.contains_key(&h.content_hash) {
                return Err(format!(
                    "{} v{}: blob {} missing",
                    h.path,
                    h.version,
                    h.content_hash.to_hex()
                ));
            }
        }
        Ok(())
    }
}
