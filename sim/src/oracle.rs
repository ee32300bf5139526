//! The invariants. Continuously, after every request and op: no committed version brings
//! back content its path had before except through a restore (no silent revert, no
//! resurrection of a deleted note); the mass-delete guard holds a big delete back and only
//! then. At quiescence (faults off, late uploads in, every device synced twice): a third
//! sync of every device has nothing left to do (no conflict-copy loop, no ping-pong); every
//! device's notes equal the server's; every line some committed version held is in a live
//! note unless a person removed it on purpose; and the server's own invariants hold
//! (increasing change sequence, counters equal to a recount, every version's blob stored).

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use steel_core::domain::{ContentHash, VaultPath};
use steel_sync::scan::nfc;
use steel_sync::sync::guard::MissingNotes;
use steel_sync::sync::recovered::begin_recovery;
use steel_sync::{SyncError, SyncReport};

use crate::model::Server;
use crate::person::{Book, notes, tokens};
use crate::world::World;

/// What the oracle watches between ops.
#[derive(Debug, Default)]
pub struct Watch {
    last_seq: i64,
    /// Every content each path ever had.
    seen: HashMap<VaultPath, HashSet<ContentHash>>,
    pub failure: Option<String>,
    /// An encrypted account's keys: the oracle opens what the server stores.
    pub vault: Option<steel_crypto::VaultKeys>,
}

impl Watch {
    /// Looks at every version committed since the last look.
    pub fn observe(&mut self, server: &Server, book: &mut Book) {
        let from = server
            .history
            .partition_point(|h| h.change_seq <= self.last_seq);
        for h in &server.history[from..] {
            self.last_seq = h.change_seq;
            if h.is_deleted {
                continue;
            }
            let Some(bytes) = server.bucket.get(&h.content_hash) else {
                self.fail(format!(
                    "{} v{}: committed without its blob",
                    h.path, h.version
                ));
                continue;
            };
            // An encrypted account's version is opened as a device opens it: its name and
            // its plaintext are what the invariants read.
            let (path, content) = match &self.vault {
                None => (h.path.clone(), h.content_hash),
                Some(keys) => {
                    let opened = crate::vault::open_version(
                        keys,
                        server,
                        &h.path,
                        h.version,
                        h.content_hash,
                        Some(bytes),
                    );
                    match opened {
                        Ok((name, Some(plain))) => {
                            book.acked.extend(tokens(&plain).map(str::to_owned));
                            let name = VaultPath::parse(&name).unwrap_or_else(|_| h.path.clone());
                            (name, ContentHash::of(&plain))
                        }
                        Ok((_, None)) | Err(_) => {
                            self.fail(opened.err().unwrap_or_default());
                            continue;
                        }
                    }
                }
            };
            if self.vault.is_none() {
                book.acked.extend(tokens(bytes).map(str::to_owned));
            }
            let seen = self.seen.entry(path).or_default();
            if !h.restored && !seen.insert(content) {
                let by = h.device.map(|d| d.0.as_u128());
                self.failure.get_or_insert(format!(
                    "{} v{} (by device {by:?}): content an earlier version had came back \
                     without a restore (a silent revert or a resurrected delete)",
                    h.path, h.version
                ));
            }
            seen.insert(content);
        }
    }

    /// The account switched to encrypted: from now on what the server keeps is opened with
    /// `keys`. The switch's versions are copies of the notes' current contents (under their
    /// path keys), not new content: the watch goes on from after them.
    pub fn switched(&mut self, server: &Server, keys: steel_crypto::VaultKeys) {
        self.vault = Some(keys);
        self.last_seq = server.change_seq;
    }

    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(why);
    }
}

fn quiet(r: &SyncReport) -> bool {
    r.pushed.is_empty()
        && r.pulled.is_empty()
        && r.merged.is_empty()
        && r.conflict_copies.is_empty()
        && r.deleted_local.is_empty()
        && r.deleted_remote.is_empty()
        && r.held.is_empty()
}

/// Whether `(missing, known, on disk)` notes at plan time make a plan hold its deletes: more
/// than 50 and more than a quarter of those known, or an emptied folder that knew notes.
pub fn would_hold((missing, known, here): (usize, usize, usize)) -> bool {
    (missing > 50 && missing * 4 > known) || (here == 0 && known > 0 && missing > 1)
}

impl World {
    /// The mass-delete guard, after a guarded sync: a big delete is held, and only a big one.
    pub fn check_guard(&mut self, d: usize, report: Option<&SyncReport>) -> Result<(), String> {
        let Some(r) = report else {
            return Ok(());
        };
        let gone = r.deleted_remote.len();
        if gone > 50 && gone * 4 > r.known {
            return Err(format!(
                "D{d}'s guarded sync deleted {gone} of {} notes on the server",
                r.known
            ));
        }
        if !r.held.is_empty() {
            // Empty when the sync planned: what is there now came down in it.
            let emptied = notes(&self.devices[d].disk).len() <= r.pulled.len();
            let recent = {
                let shared = self.shared();
                let hour_ago = shared.server.now - chrono::TimeDelta::hours(1);
                (shared.server.history.iter())
                    .filter(|h| h.is_deleted && h.created_at > hour_ago)
                    .count()
            };
            // A hold the sync's first plan made (the notes missing then were a mass
            // delete, or the folder was empty) lasts through later rounds holding fewer.
            let first = would_hold(self.devices[d].missing_at_plan);
            let must = r.held.len() > 50
                || emptied
                || first
                || self.devices[d].held
                || recent + r.held.len() > 50;
            if !must {
                return Err(format!(
                    "D{d}'s sync held {} deletes back (of {} notes) that no rule holds",
                    r.held.len(),
                    r.known
                ));
            }
        }
        self.devices[d].held = !r.held.is_empty();
        Ok(())
    }

    /// The notes device `d`'s `sync.db` knows that its disk lacks (by NFC path), how many
    /// it knows, and how many the disk has: a plan made now deletes at most the first.
    pub fn missing(&self, d: usize) -> (usize, usize, usize) {
        let Some(syncer) = self.devices[d].syncer.as_ref() else {
            return (0, 0, 0);
        };
        let rows = syncer.store().rows().unwrap_or_default();
        let here: HashSet<String> = notes(&self.devices[d].disk)
            .iter()
            .map(|p| nfc(p))
            .collect();
        let missing = rows.keys().filter(|p| !here.contains(*p)).count();
        (missing, rows.len(), here.len())
    }

    /// `steel-sync restore`: an older version of a note becomes its newest, and the device
    /// records it (`remember_recovery`) so its next sync pulls it like another's change.
    pub fn restore(&mut self, i: usize, d: usize, rng: &mut ChaCha8Rng) -> Result<(), String> {
        self.restart_if_crashed(d);
        let choice = {
            let mut shared = self.shared();
            let keys = shared.oracle.vault.clone();
            let candidates: Vec<(VaultPath, i64, i64, Option<ContentHash>)> =
                (shared.server.files.values())
                    .filter_map(|f| {
                        let old = (shared.server.history.iter())
                            .filter(|h| h.path == f.path && h.version < f.version && !h.is_deleted)
                            .map(|h| h.version)
                            .next_back()?;
                        Some((
                            f.path.clone(),
                            old,
                            f.version,
                            (!f.is_deleted).then_some(f.content_hash),
                        ))
                    })
                    .collect();
            if candidates.is_empty() {
                None
            } else {
                let (path, old, head, live) =
                    candidates[rng.random_range(0..candidates.len())].clone();
                // The lines the restore takes out of the note are removed on purpose.
                if live.is_some() {
                    let notes = crate::vault::live_notes(&shared.server, keys.as_ref());
                    let name = crate::vault::name_of(&shared.server, keys.as_ref(), &path);
                    if let Some(bytes) = name.and_then(|n| notes.get(&n).cloned()) {
                        shared
                            .book
                            .removed
                            .extend(tokens(&bytes).map(str::to_owned));
                    }
                }
                // A person restores a note by its name: an encrypted one's, opened.
                let path = crate::vault::name_of(&shared.server, keys.as_ref(), &path)
                    .and_then(|n| VaultPath::parse(&n).ok())
                    .unwrap_or(path);
                shared.log(format!("#{i} D{d} restores {path} v{old} over v{head}"));
                Some((path, old, head))
            }
        };
        let Some((path, old, head)) = choice else {
            return Ok(());
        };
        let Some(syncer) = self.devices[d].syncer.as_ref() else {
            return Ok(());
        };
        let api = syncer.api_handle();
        begin_recovery(syncer.store()).map_err(|e| format!("D{d}: {e}"))?;
        let restored = self.rt.block_on(api.restore(path.as_str(), old, head));
        if let Err(e) = restored {
            self.log(format!("    D{d} restore stopped: {e}"));
        }
        // Recorded whatever the answer: a lost answer may hide a made version. Once the
        // network lets it through (the person runs it again until it does).
        match self.remember_calmly(d) {
            Ok(()) | Err(SyncError::Network { .. }) => Ok(()),
            Err(e) => Err(format!("D{d}: remembering the restore failed: {e}")),
        }
    }

    /// Heals the world and checks the invariants at quiescence.
    pub fn quiesce(&mut self) -> Result<(), String> {
        {
            let mut shared = self.shared();
            shared.faults_on = false;
            let late = std::mem::take(&mut shared.late);
            shared.server.bucket.extend(late);
            shared.log("-- the network heals; every device syncs twice, then once more".into());
        }
        for d in 0..self.devices.len() {
            self.restart_if_crashed(d);
            // A sync begun before the heal finishes first (it is not one of the two).
            if self.devices[d].pending.is_some() {
                self.sync(d, MissingNotes::Guarded)?;
            }
        }
        for _ in 0..2 {
            for d in 0..self.devices.len() {
                let r = self.sync(d, MissingNotes::Guarded)?;
                if r.is_none_or(|r| !r.held.is_empty()) {
                    // The person answers the guard: bring the notes back.
                    self.sync(d, MissingNotes::Restore)?;
                }
            }
        }
        // Then syncs until a round where no device has anything to do: the third round in
        // the common case; a note set aside as a case twin goes up one round after its twin's
        // delete came down. A conflict-copy loop or a ping-pong never gets there.
        let mut rejected: Vec<HashSet<String>> = Vec::new();
        for round in 3..=5 {
            rejected.clear();
            let mut busy = Vec::new();
            for d in 0..self.devices.len() {
                let r = self
                    .sync(d, MissingNotes::Guarded)?
                    .ok_or_else(|| format!("D{d}'s sync did not finish with the network healed"))?;
                if !quiet(&r) {
                    busy.push(format!("D{d}: {}", crate::run::details(&r)));
                }
                rejected.push(r.rejected.iter().map(|x| x.path.clone()).collect());
            }
            if busy.is_empty() {
                break;
            }
            if round == 5 {
                return Err(format!(
                    "still had work after every device synced {round} times: {}",
                    busy.join(" | ")
                ));
            }
        }
        let mut shared = self.shared();
        if shared.migrated {
            // The janitor's collection deletes the plaintext blobs the switch left unused.
            shared.server.collect();
        }
        let shared = shared;
        let server = &shared.server;
        let keys = shared.oracle.vault.as_ref();
        if keys.is_some()
            && let Some(leak) = crate::vault::leaks(server, &shared.book.acked)
        {
            return Err(leak);
        }
        let live = crate::vault::live_notes(server, keys);
        for (d, device) in self.devices.iter().enumerate() {
            let files = device.disk.files();
            let mine: BTreeMap<String, Vec<u8>> = notes(&device.disk)
                .into_iter()
                .map(|rel| (nfc(&rel), files.get(&rel).cloned().unwrap_or_default()))
                .filter(|(p, _)| !rejected[d].contains(p))
                .collect();
            // A path the device reports refused (a case twin on its disk) is the person's to
            // sort out: neither side of it is expected to match.
            let live: BTreeMap<String, Vec<u8>> = (live.iter())
                .filter(|(p, _)| !rejected[d].contains(*p))
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect();
            if mine != live {
                let only_here: Vec<&String> =
                    mine.keys().filter(|p| !live.contains_key(*p)).collect();
                let only_there: Vec<&String> =
                    live.keys().filter(|p| !mine.contains_key(*p)).collect();
                let differ: Vec<&String> = (mine.iter())
                    .filter(|(p, b)| live.get(*p).is_some_and(|l| l != *b))
                    .map(|(p, _)| p)
                    .collect();
                return Err(format!(
                    "D{d} did not converge: only here {only_here:?}, only on the server \
                     {only_there:?}, different {differ:?}"
                ));
            }
        }
        // Lines in a note the client refuses to send (a case twin of another note) stay on
        // that device, and every sync tells the person: kept, not lost.
        let mut refused: Vec<Vec<u8>> = Vec::new();
        for (d, device) in self.devices.iter().enumerate() {
            for rel in notes(&device.disk) {
                if rejected[d].contains(&nfc(&rel)) {
                    refused.extend(device.disk.get(&rel));
                }
            }
        }
        let present: HashSet<&str> = (live.values().chain(&refused))
            .flat_map(|b| tokens(b))
            .collect();
        let mut lost: Vec<&String> = (shared.book.acked.iter())
            .filter(|t| !shared.book.removed.contains(*t) && !present.contains(t.as_str()))
            .collect();
        if !lost.is_empty() {
            lost.sort();
            return Err(format!("acknowledged lines lost: {lost:?}"));
        }
        server.check()
    }
}
