//! Gathering what a plan is made from, and nothing else: the vault on disk (scanned, with
//! the hash cache), `sync_state`, and the server's changes since the stored cursor (every
//! page; a full listing when there is no cursor or the server no longer serves it).
//! [`Facts::of`] hands one path's share to [`classify`](super::classify::classify).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Syncer;
use super::classify::{Origin, PathFacts, Remote};
use super::report::Rejection;
use crate::api::{BATCH, Conflict, StateFile};
use crate::error::{Result, SyncError};
use crate::scan::{self, HashCache, LocalFile, ScanConfig};
use crate::store::{Row, Version};

/// Changes per `state` page: the server's most (its default is 1,000). A page of 5,000 is
/// about 1.3 MB of JSON, far below Lambda's 6 MB; after this device pushed a whole vault, the
/// next sync reads its own 10,000 new versions back in 2 requests instead of 10.
const STATE_PAGE: u32 = 5000;

/// Server states learnt from answers during a round (conflicts, notes deleted since the
/// plan), heard by the next round's plan on top of the listing.
pub(super) type Learnt = HashMap<String, Remote>;

/// Everything one plan is made from, as read at one moment.
#[derive(Debug)]
pub(super) struct Facts {
    /// The vault's notes, by NFC path.
    pub local: BTreeMap<String, LocalFile>,
    pub rows: HashMap<String, Row>,
    pub remote: RemoteView,
    /// Bases found among the server's versions (see [`Syncer::known_ancestors`]).
    pub ancestors: HashMap<String, Version>,
    /// The cursor to store once every change the listing covered is applied.
    pub next_cursor: Option<String>,
    /// How many changes the server listed.
    pub listed: usize,
    /// Notes taken out of `local` because the server would refuse their names.
    pub set_aside: Vec<Rejection>,
}

impl Facts {
    /// Every path to decide on: on disk, in `sync_state` or heard of from the server, and
    /// one this vault syncs.
    pub fn paths<'a>(&'a self, config: &ScanConfig) -> BTreeSet<&'a str> {
        self.local
            .keys()
            .chain(self.rows.keys())
            .chain(self.remote.heard.keys())
            .map(String::as_str)
            .filter(|p| config.includes(p))
            .collect()
    }

    pub fn of<'a>(&'a self, path: &'a str) -> PathFacts<'a> {
        let row = self.rows.get(path);
        PathFacts {
            path,
            local: self.local.get(path).map(|f| f.hash.as_str()),
            base: self
                .ancestors
                .get(path)
                .cloned()
                .or_else(|| row.and_then(Row::base)),
            row,
            remote: self.remote.of(path),
        }
    }
}

/// The server's side of every path this sync heard about.
#[derive(Debug, Default)]
pub(super) struct RemoteView {
    /// A full listing: a path it does not name is absent on the server.
    full: bool,
    heard: HashMap<String, Remote>,
}

impl RemoteView {
    /// Keeps the newest report on a path; an `Absent` (a conflict saying the server has
    /// nothing there) replaces whatever was heard before.
    fn hear(&mut self, path: String, remote: Remote) {
        match self.heard.get(&path) {
            Some(old) if old.number() >= remote.number() && remote != Remote::Absent => {}
            _ => {
                self.heard.insert(path, remote);
            }
        }
    }

    /// What was heard of `path`; else absent after a full listing, unchanged after a delta.
    pub fn of(&self, path: &str) -> &Remote {
        const ABSENT: &Remote = &Remote::Absent;
        const NOT_IN_DELTA: &Remote = &Remote::NotInDelta;
        match self.heard.get(path) {
            Some(r) => r,
            None if self.full => ABSENT,
            None => NOT_IN_DELTA,
        }
    }
}

impl Remote {
    /// A listed file.
    fn listed(f: &StateFile, me: Option<&str>) -> Self {
        let by = f.updated_by.map(|d| d.to_string());
        let origin = Origin::of(by.as_deref(), me);
        if f.is_deleted {
            Remote::Tombstone {
                version: f.version,
                origin,
            }
        } else {
            Remote::Live {
                version: Version::new(f.version, f.content_hash.to_hex()),
                origin,
            }
        }
    }

    /// The server's side named by a conflict answer.
    pub(super) fn from_conflict(c: &Conflict, me: Option<&str>) -> Self {
        let by = c.updated_by.map(|d| d.to_string());
        let origin = Origin::of(by.as_deref(), me);
        match (&c.content_hash, c.is_deleted, c.server_version) {
            (_, _, 0) => Remote::Absent,
            (Some(h), false, v) => Remote::Live {
                version: Version::new(v, h.to_hex()),
                origin,
            },
            (_, _, v) => Remote::Tombstone { version: v, origin },
        }
    }
}

/// The server's changes since a cursor, all pages.
struct Listing {
    files: Vec<StateFile>,
    cursor: Option<String>,
    /// Everything, not a delta.
    full: bool,
}

impl Syncer {
    /// Reads the disk, `sync_state` and the server; `learnt` is heard on top of the listing.
    pub(super) async fn gather(&self, learnt: &mut Learnt) -> Result<Facts> {
        // Before the scan, which clears temporary files, and before `sync_state` is read.
        self.recover_pulls()?;
        // A restore or rewind that ended before it remembered its versions: they must not
        // be taken for this device's own lost pushes.
        super::recovered::remember_unfinished(&self.api, &self.store).await?;
        // The three sources side by side: the scan on a blocking thread, the listing on the
        // network, `sync_state` read meanwhile. The order they are read in does not matter:
        // what is decided from them is checked again when carried out (local bytes re-read,
        // base versions checked by the server).
        let (mut local, listing, rows) =
            tokio::try_join!(self.scan_vault(), self.fetch_changes(), async {
                self.store.rows()
            })?;
        let set_aside = super::twins::set_aside(&mut local, &rows);
        let me = self.api.device_id();
        let mut remote = RemoteView {
            full: listing.full,
            heard: HashMap::new(),
        };
        // A version this device made by `restore` or `rewind` comes down like another's.
        let recovered = self.store.recovered()?;
        for f in &listing.files {
            let path = f.path.to_string();
            let me = if recovered.contains(&(path.clone(), f.version)) {
                None
            } else {
                me
            };
            remote.hear(path, Remote::listed(f, me));
        }
        for (path, r) in learnt.drain() {
            remote.hear(path, r);
        }
        let mut facts = Facts {
            local,
            rows,
            remote,
            ancestors: HashMap::new(),
            next_cursor: listing.cursor,
            listed: listing.files.len(),
            set_aside,
        };
        facts.ancestors = self.known_ancestors(&facts).await?;
        Ok(facts)
    }

    /// Scans the vault off the async threads, re-hashing only what the cache cannot vouch
    /// for, and stores what it learnt in the cache.
    async fn scan_vault(&self) -> Result<BTreeMap<String, LocalFile>> {
        let mut cache = HashCache::starting_at(self.store.scan_cache()?, self.clock.now_ns());
        let (disk, config) = (self.disk.clone(), self.scan.clone());
        let (found, cache) = if disk.in_memory() {
            let found = scan::scan_disk(&*disk, &config, &mut cache)?;
            (found, cache)
        } else {
            tokio::task::spawn_blocking(move || {
                scan::scan_disk(&*disk, &config, &mut cache).map(|found| (found, cache))
            })
            .await
            .map_err(|e| SyncError::Other(e.to_string()))??
        };
        self.report_progress(super::Progress::Scanned {
            files: found.files.len(),
            read: cache.reads(),
        });
        let (hashed, gone) = cache.into_changes();
        self.store.update_scan_cache(&hashed, &gone)?;
        Ok(found.files)
    }

    /// Reads the server's changes since the stored cursor, all pages; a cursor the server no
    /// longer knows (`410 resync_required`) means a full listing.
    async fn fetch_changes(&self) -> Result<Listing> {
        let stored = self.store.meta("cursor")?;
        let mut cursor = stored.clone();
        let mut full = stored.is_none();
        let mut files = Vec::new();
        loop {
            let page = match self.api.state(cursor.as_deref(), STATE_PAGE).await {
                Ok(p) => p,
                Err(SyncError::Api { status: 410, .. }) if !full => {
                    full = true;
                    cursor = None;
                    files.clear();
                    continue;
                }
                Err(e) => return Err(e),
            };
            files.extend(page.files);
            let done = !page.has_more;
            cursor = Some(page.cursor);
            if done {
                return Ok(Listing {
                    files,
                    cursor,
                    full,
                });
            }
        }
    }

    /// Both sides changed, and the server has versions this device never recorded (its own
    /// push whose answer was lost, or a pull interrupted by a crash): if the local bytes are
    /// exactly the version the server's change was made on, the local file is not an edit
    /// but that version, and the server's change simply follows it. Answers such paths with
    /// that version as their base. One pull (of version numbers, no bytes) for them all.
    async fn known_ancestors(&self, facts: &Facts) -> Result<HashMap<String, Version>> {
        let mut wanted: Vec<(String, i64)> = Vec::new();
        for (path, r) in &facts.remote.heard {
            let Some(file) = facts.local.get(path) else {
                continue;
            };
            let elsewhere = match r {
                Remote::Live { origin, .. } | Remote::Tombstone { origin, .. } => {
                    *origin == Origin::Elsewhere
                }
                Remote::Absent | Remote::NotInDelta => true,
            };
            let base = facts.rows.get(path).and_then(Row::base);
            let base_number = base.as_ref().map_or(0, |b| b.number);
            let changed = base.as_ref().map(|b| b.hash.as_str()) != Some(file.hash.as_str());
            let same_as_remote =
                matches!(r, Remote::Live { version, .. } if version.hash == file.hash);
            if elsewhere && changed && !same_as_remote && r.number() - 1 > base_number {
                wanted.push((path.clone(), r.number() - 1));
            }
        }
        // The same order on every run: the requests are the same for the same facts.
        wanted.sort();
        let mut found = HashMap::new();
        for chunk in wanted.chunks(BATCH) {
            let answer = self.api.pull_versions(chunk).await?;
            for f in answer.files {
                let hash = f.content_hash.to_hex();
                if facts.local.get(f.path.as_str()).map(|l| l.hash.as_str()) == Some(&hash) {
                    found.insert(f.path.to_string(), Version::new(f.version, hash));
                }
            }
        }
        Ok(found)
    }
}
