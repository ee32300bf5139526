//! The sync cycle: scan and hash the vault, compare with `sync_state`, read the server's
//! changes since the stored cursor, classify every path, then pull, merge, push and delete,
//! recording each file in `sync_state` only once both sides hold it.
//!
//! Why it never loses an edit:
//! - A local file is only overwritten or removed after re-reading it and finding exactly the
//!   bytes the plan was made from; an edit made during the sync waits for the next one.
//! - Pushes and deletes carry the version they are based on; the server answers a stale one
//!   with a conflict, never an overwrite. Conflicts are resolved in a following round: a
//!   three-way merge, or the local side kept as a conflict copy beside the server's.
//! - An edit wins over a delete on either side.
//! - Every step is idempotent: after a lost answer, a crash or a dropped request, the next
//!   sync finds the files as they are and `sync_state` as it was, and finishes the job. The
//!   cursor is stored only after every change it covers is applied.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::{
    Api, BATCH, ConflictInfo, DeleteEntry, FileEntry, PullAnswer, RemoteFile, Upload,
};
use crate::error::{Result, SyncError};
use crate::merge;
use crate::scan::{self, LocalFile, ScanConfig};
use crate::store::{REJECTED, RowChange, Store};

/// Rounds in one sync: the first does the work; later ones settle conflicts found on the way.
const MAX_ROUNDS: u32 = 6;
/// Parallel transfers to and from S3.
const TRANSFER_CONCURRENCY: usize = 16;
const STATE_PAGE: u32 = 1000;

/// The server's side of one path, when it differs from what `sync_state` knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Live {
        version: i64,
        hash: String,
    },
    Deleted {
        version: i64,
    },
    /// A full listing does not name the file: the server has never had it.
    Absent,
}

impl Remote {
    fn version(&self) -> i64 {
        match self {
            Remote::Live { version, .. } | Remote::Deleted { version } => *version,
            Remote::Absent => 0,
        }
    }

    fn from_state(f: &RemoteFile) -> Self {
        if f.is_deleted {
            Remote::Deleted { version: f.version }
        } else {
            Remote::Live {
                version: f.version,
                hash: f.content_hash.clone(),
            }
        }
    }

    fn from_conflict(c: &ConflictInfo) -> Self {
        match (&c.content_hash, c.is_deleted, c.server_version) {
            (_, _, 0) => Remote::Absent,
            (_, true, v) => Remote::Deleted { version: v },
            (Some(h), false, v) => Remote::Live {
                version: v,
                hash: h.clone(),
            },
            (None, false, v) => Remote::Deleted { version: v },
        }
    }
}

/// What to do with one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Upload the local file as the version after `base_version`.
    Push {
        path: String,
        base_version: i64,
        hash: String,
    },
    /// Propagate a local delete.
    Delete { path: String, base_version: i64 },
    /// Write the server's current version; `expect` is the local hash it replaces.
    Download {
        path: String,
        expect: Option<String>,
    },
    /// Both sides edited: merge, or keep both.
    Merge {
        path: String,
        base: Option<(i64, String)>,
        local_hash: String,
        remote_version: i64,
        remote_hash: String,
    },
    /// The server deleted a file this device has not changed.
    RemoveLocal { path: String, expect: String },
    /// Only `sync_state` changes.
    Record(RowChange),
    /// Still refused by the server (same bytes as last time).
    StillRejected { path: String },
}

/// One round's plan: the actions, and the cursor to store once they are all done.
#[derive(Debug, Clone)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub next_cursor: Option<String>,
    local: HashMap<String, LocalFile>,
    /// `sync_state` as the plan saw it: an action whose row has changed since (another
    /// sync ran in between) is stale and is dropped.
    rows: HashMap<String, crate::store::Row>,
}

impl Action {
    fn path(&self) -> &str {
        match self {
            Action::Push { path, .. }
            | Action::Delete { path, .. }
            | Action::Download { path, .. }
            | Action::Merge { path, .. }
            | Action::RemoveLocal { path, .. }
            | Action::StillRejected { path }
            | Action::Record(
                RowChange::Agreed { path, .. }
                | RowChange::Rejected { path, .. }
                | RowChange::Forget { path },
            ) => path,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Progress {
    Scanned { files: usize },
    Changes { remote: usize, actions: usize },
    Uploaded { done: usize, total: usize },
    Downloaded { done: usize, total: usize },
}

/// What a sync did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    pub pushed: Vec<String>,
    pub pulled: Vec<String>,
    /// Local deletes sent to the server.
    pub deleted_remote: Vec<String>,
    /// Server deletes applied here.
    pub deleted_local: Vec<String>,
    pub merged: Vec<String>,
    /// (path, copy): the server's version is at the path, this device's at the copy.
    pub conflict_copies: Vec<(String, String)>,
    /// (path, code, message)
    pub rejected: Vec<(String, String, String)>,
    /// Changed locally while the sync ran: left for the next sync.
    pub deferred: Vec<String>,
    pub rounds: u32,
}

impl SyncReport {
    pub fn conflicts(&self) -> usize {
        self.merged.len() + self.conflict_copies.len()
    }

    pub fn summary(&self) -> String {
        format!(
            "pushed {}, pulled {}, deleted {} (here {}, on the server {}), conflicts {} (merged {}, kept both {}), rejected {}",
            self.pushed.len(),
            self.pulled.len(),
            self.deleted_local.len() + self.deleted_remote.len(),
            self.deleted_local.len(),
            self.deleted_remote.len(),
            self.conflicts(),
            self.merged.len(),
            self.conflict_copies.len(),
            self.rejected.len(),
        )
    }
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Syncs one vault folder.
pub struct Syncer {
    root: PathBuf,
    api: Arc<Api>,
    store: Store,
    scan: ScanConfig,
    device_name: String,
    progress: Option<ProgressFn>,
}

struct RoundResult {
    /// Something was learnt that another round should act on.
    again: bool,
    /// Every action finished: the plan's cursor may be stored.
    complete: bool,
}

impl Syncer {
    pub fn open(root: &Path, api: Api, device_name: &str, scan: ScanConfig) -> Result<Self> {
        Ok(Syncer {
            root: root.to_path_buf(),
            store: Store::open(root)?,
            api: Arc::new(api),
            scan,
            device_name: device_name.to_owned(),
            progress: None,
        })
    }

    pub fn on_progress(&mut self, f: impl Fn(&Progress) + Send + Sync + 'static) {
        self.progress = Some(Arc::new(f));
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn report_progress(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(&p);
        }
    }

    /// A whole sync: rounds until nothing is left to do.
    pub async fn sync(&mut self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut overrides = HashMap::new();
        let plan = self.plan(&mut overrides).await?;
        self.finish_with(plan, overrides, &mut report).await?;
        Ok(report)
    }

    /// The first half of a sync: look at both sides and decide. [`Syncer::finish`] carries
    /// it out, however much later (the model tests let other devices act in between).
    pub async fn begin(&mut self) -> Result<Plan> {
        self.plan(&mut HashMap::new()).await
    }

    pub async fn finish(&mut self, plan: Plan) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.finish_with(plan, HashMap::new(), &mut report).await?;
        Ok(report)
    }

    async fn finish_with(
        &mut self,
        mut plan: Plan,
        mut overrides: HashMap<String, (Remote, bool)>,
        report: &mut SyncReport,
    ) -> Result<()> {
        loop {
            report.rounds += 1;
            let result = self.apply(&plan, &mut overrides, report).await?;
            if result.complete
                && let Some(c) = &plan.next_cursor
            {
                self.store.set_meta("cursor", c)?;
            }
            if !result.again || report.rounds >= MAX_ROUNDS {
                return Ok(());
            }
            plan = self.plan(&mut overrides).await?;
            if plan.actions.is_empty() && overrides.is_empty() {
                if let Some(c) = &plan.next_cursor {
                    self.store.set_meta("cursor", c)?;
                }
                return Ok(());
            }
        }
    }

    /// Reads the server's changes since the stored cursor, all pages; a cursor the server no
    /// longer knows means a full listing.
    async fn fetch_changes(&self) -> Result<(Vec<RemoteFile>, Option<String>, bool)> {
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
                return Ok((files, cursor, full));
            }
        }
    }

    async fn plan(&mut self, overrides: &mut HashMap<String, (Remote, bool)>) -> Result<Plan> {
        self.recover_pulls()?;
        let root = self.root.clone();
        let config = self.scan.clone();
        let local = tokio::task::spawn_blocking(move || scan::scan(&root, &config))
            .await
            .map_err(|e| SyncError::Other(e.to_string()))??;
        self.report_progress(Progress::Scanned {
            files: local.files.len(),
        });
        let rows = self.store.rows()?;
        let (changes, next_cursor, full) = self.fetch_changes().await?;
        // Each path's newest server state, and whether this device made it.
        let me = self.api.device_id().map(str::to_owned);
        let mut remote_mine: HashMap<String, (Remote, bool)> = HashMap::new();
        let incoming = changes
            .iter()
            .map(|f| {
                let mine = me.is_some() && f.updated_by == me;
                (f.path.clone(), (Remote::from_state(f), mine))
            })
            .chain(overrides.drain());
        for (path, (r, mine)) in incoming {
            match remote_mine.get(&path) {
                Some((old, _)) if old.version() >= r.version() && r != Remote::Absent => {}
                _ => {
                    remote_mine.insert(path, (r, mine));
                }
            }
        }
        if full {
            for path in rows.keys() {
                remote_mine
                    .entry(path.clone())
                    .or_insert((Remote::Absent, false));
            }
        }
        let remote: HashMap<String, Remote> = remote_mine
            .iter()
            .map(|(p, (r, _))| (p.clone(), r.clone()))
            .collect();

        let paths: BTreeSet<&String> = local
            .files
            .keys()
            .chain(rows.keys())
            .chain(remote.keys())
            .collect();
        let ancestors = self
            .known_ancestors(&paths, &rows, &local.files, &remote_mine)
            .await?;
        let mut actions = Vec::new();
        for path in paths {
            if !self.scan.includes(path) {
                continue;
            }
            let row = rows.get(path);
            let base = ancestors
                .get(path)
                .map(|(v, h)| (*v, h.as_str()))
                .or_else(|| row.and_then(|r| r.base()));
            let base_version = base.map_or(0, |(v, _)| v);
            let local_hash = local.files.get(path).map(|f| f.hash.as_str());
            let local_changed = local_hash != base.map(|(_, h)| h);
            let remote_side = remote.get(path).filter(|r| match r {
                Remote::Absent => base.is_some(),
                other => other.version() != base_version,
            });
            let p = path.clone();
            // A version this device made (its answer lost, say) is what the local file grew
            // from: it becomes the base, and local changes since go on top of it.
            if let Some(Remote::Live { version, hash }) = remote_side
                && remote_mine.get(path).is_some_and(|(_, mine)| *mine)
            {
                actions.push(Action::Record(RowChange::Agreed {
                    path: p.clone(),
                    version: *version,
                    hash: hash.clone(),
                }));
                match local_hash {
                    Some(h) if h == hash => {}
                    Some(h) => actions.push(Action::Push {
                        path: p,
                        base_version: *version,
                        hash: h.to_owned(),
                    }),
                    None => actions.push(Action::Delete {
                        path: p,
                        base_version: *version,
                    }),
                }
                continue;
            }
            let action = match (local_changed, remote_side, local_hash) {
                (false, None, None) if row.is_some_and(|r| r.sync_status == REJECTED) => {
                    Some(Action::Record(RowChange::Forget { path: p }))
                }
                (false, None, _) => None,
                (true, None, Some(h)) => {
                    if row.is_some_and(|r| {
                        r.sync_status == REJECTED && r.content_hash.as_deref() == Some(h)
                    }) {
                        Some(Action::StillRejected { path: p })
                    } else {
                        Some(Action::Push {
                            path: p,
                            base_version,
                            hash: h.to_owned(),
                        })
                    }
                }
                (true, None, None) => match base {
                    Some((v, _)) => Some(Action::Delete {
                        path: p,
                        base_version: v,
                    }),
                    // Only a refused file's row: nothing on either side.
                    None => Some(Action::Record(RowChange::Forget { path: p })),
                },
                (false, Some(r), _) => match r {
                    Remote::Live { version, hash } if local_hash == Some(hash.as_str()) => {
                        Some(Action::Record(RowChange::Agreed {
                            path: p,
                            version: *version,
                            hash: hash.clone(),
                        }))
                    }
                    Remote::Live { .. } => Some(Action::Download {
                        path: p,
                        expect: local_hash.map(str::to_owned),
                    }),
                    Remote::Deleted { .. } | Remote::Absent => match local_hash {
                        Some(h) if *r == Remote::Absent => Some(Action::Push {
                            path: p,
                            base_version: 0,
                            hash: h.to_owned(),
                        }),
                        Some(h) => Some(Action::RemoveLocal {
                            path: p,
                            expect: h.to_owned(),
                        }),
                        None => Some(Action::Record(RowChange::Forget { path: p })),
                    },
                },
                (true, Some(r), _) => match (r, local_hash) {
                    (Remote::Live { version, hash }, Some(h)) if h == hash => {
                        Some(Action::Record(RowChange::Agreed {
                            path: p,
                            version: *version,
                            hash: hash.clone(),
                        }))
                    }
                    // Deleted here, edited there: the edit wins.
                    (Remote::Live { .. }, None) => Some(Action::Download {
                        path: p,
                        expect: None,
                    }),
                    (Remote::Live { version, hash }, Some(h)) => Some(Action::Merge {
                        path: p,
                        base: base.map(|(v, bh)| (v, bh.to_owned())),
                        local_hash: h.to_owned(),
                        remote_version: *version,
                        remote_hash: hash.clone(),
                    }),
                    // Edited here, deleted there: the edit wins, reviving the file.
                    (Remote::Deleted { version }, Some(h)) => Some(Action::Push {
                        path: p,
                        base_version: *version,
                        hash: h.to_owned(),
                    }),
                    (Remote::Absent, Some(h)) => Some(Action::Push {
                        path: p,
                        base_version: 0,
                        hash: h.to_owned(),
                    }),
                    (Remote::Deleted { .. } | Remote::Absent, None) => {
                        Some(Action::Record(RowChange::Forget { path: p }))
                    }
                },
            };
            // Forgetting a row that does not exist (a tombstone never seen here) is no work.
            if let Some(Action::Record(RowChange::Forget { .. })) = &action
                && row.is_none()
            {
                continue;
            }
            actions.extend(action);
        }
        self.report_progress(Progress::Changes {
            remote: changes.len(),
            actions: actions.len(),
        });
        Ok(Plan {
            actions,
            next_cursor,
            local: local.files.into_iter().collect(),
            rows,
        })
    }

    /// Both sides changed, and the server has versions this device never recorded (its own
    /// push whose answer was lost, or a pull interrupted by a crash): if the local bytes are
    /// exactly the version the server's change was made on, the local file is not an edit
    /// but that version, and the server's change simply follows it. Answers such paths with
    /// that version as their base. One pull (of version numbers, no bytes) for them all.
    async fn known_ancestors(
        &self,
        paths: &BTreeSet<&String>,
        rows: &HashMap<String, crate::store::Row>,
        local: &std::collections::BTreeMap<String, LocalFile>,
        remote: &HashMap<String, (Remote, bool)>,
    ) -> Result<HashMap<String, (i64, String)>> {
        let mut wanted: Vec<(String, i64)> = Vec::new();
        let mut local_of: HashMap<&str, &str> = HashMap::new();
        for path in paths {
            let (Some(file), Some((r, false))) = (local.get(*path), remote.get(*path)) else {
                continue;
            };
            let base = rows.get(*path).and_then(|row| row.base());
            let base_version = base.map_or(0, |(v, _)| v);
            let changed = base.map(|(_, h)| h) != Some(file.hash.as_str());
            let same_as_remote = matches!(r, Remote::Live { hash, .. } if *hash == file.hash);
            if changed && !same_as_remote && r.version() - 1 > base_version {
                wanted.push(((*path).clone(), r.version() - 1));
                local_of.insert(path.as_str(), file.hash.as_str());
            }
        }
        let mut found = HashMap::new();
        for chunk in wanted.chunks(BATCH) {
            let answer = self.api.pull_versions(chunk).await?;
            for f in answer.files {
                if local_of.get(f.path.as_str()) == Some(&f.content_hash.as_str()) {
                    found.insert(f.path, (f.version, f.content_hash));
                }
            }
        }
        Ok(found)
    }

    /// Settles pulls that a crash interrupted (before the scan, which clears temporary
    /// files): still in its temporary file, the pull never happened; renamed into place, the
    /// note became that version, whatever the user has done to it since.
    fn recover_pulls(&self) -> Result<()> {
        for (path, version, hash, temp) in self.store.pending_pulls()? {
            let tmp = self.root.join(&temp);
            if tmp.exists() {
                let _ = std::fs::remove_file(&tmp);
                self.store.clear_pending(&path)?;
            } else {
                self.store.apply(
                    &[RowChange::Agreed {
                        path: path.clone(),
                        version,
                        hash,
                    }],
                    &[("recovered_pull", path.as_str(), format!("v{version}"))],
                )?;
            }
        }
        Ok(())
    }

    /// The path a note has (or gets) on this device's disk.
    fn disk_path(&self, plan: &Plan, path: &str) -> String {
        plan.local
            .get(path)
            .map_or_else(|| path.to_owned(), |f| f.rel.clone())
    }

    /// The file's bytes, if it still has the hash the plan was made from.
    fn read_if_unchanged(&self, rel: &str, hash: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(rel))
            .ok()
            .filter(|b| scan::hash_bytes(b) == hash)
    }

    /// True when the file on disk still has the hash the plan was made from.
    fn unchanged_since_plan(&self, rel: &str, expect: Option<&str>) -> Result<bool> {
        Ok(scan::current_hash(&self.root, rel)?.as_deref() == expect)
    }

    async fn apply(
        &mut self,
        plan: &Plan,
        overrides: &mut HashMap<String, (Remote, bool)>,
        report: &mut SyncReport,
    ) -> Result<RoundResult> {
        let mut result = RoundResult {
            again: false,
            complete: true,
        };
        self.recover_pulls()?;
        let current_rows = self.store.rows()?;
        let mut records = Vec::new();
        let mut downloads = Vec::new();
        let mut merges = Vec::new();
        let mut removals = Vec::new();
        let mut pushes = Vec::new();
        let mut deletes = Vec::new();
        for action in &plan.actions {
            if current_rows.get(action.path()) != plan.rows.get(action.path()) {
                result.again = true;
                result.complete = false;
                continue;
            }
            match action {
                Action::Record(change) => records.push(change.clone()),
                Action::StillRejected { path } => {
                    report.rejected.push((
                        path.clone(),
                        "rejected".into(),
                        "the server refused this file; change it to try again".into(),
                    ));
                }
                Action::Download { .. } => downloads.push(action),
                Action::Merge { .. } => merges.push(action),
                Action::RemoveLocal { .. } => removals.push(action),
                Action::Push { .. } => pushes.push(action),
                Action::Delete { .. } => deletes.push(action),
            }
        }
        self.store.apply(&records, &[])?;

        // Errors stop the round after what already succeeded is recorded.
        let mut first_error: Option<SyncError> = None;
        if (!downloads.is_empty() || !merges.is_empty())
            && let Err(e) = self
                .apply_downloads(plan, &downloads, &merges, overrides, report, &mut result)
                .await
        {
            first_error.get_or_insert(e);
        }
        if first_error.is_none() {
            for action in removals {
                let Action::RemoveLocal { path, expect } = action else {
                    continue;
                };
                let rel = self.disk_path(plan, path);
                if !self.unchanged_since_plan(&rel, Some(expect))? {
                    report.deferred.push(path.clone());
                    result.complete = false;
                    continue;
                }
                let full = self.root.join(&rel);
                match std::fs::remove_file(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(SyncError::io(full)(e)),
                }
                self.store.apply(
                    &[RowChange::Forget { path: path.clone() }],
                    &[("deleted_here", path.as_str(), String::new())],
                )?;
                report.deleted_local.push(path.clone());
            }
        }
        if first_error.is_none()
            && !pushes.is_empty()
            && let Err(e) = self
                .apply_pushes(plan, &pushes, overrides, report, &mut result)
                .await
        {
            first_error.get_or_insert(e);
        }
        if first_error.is_none()
            && !deletes.is_empty()
            && let Err(e) = self
                .apply_deletes(&deletes, overrides, report, &mut result)
                .await
        {
            first_error.get_or_insert(e);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }

    async fn fetch_bytes(
        &self,
        answer: &PullAnswer,
    ) -> Result<HashMap<String, (i64, String, Vec<u8>)>> {
        let limiter = Arc::new(tokio::sync::Semaphore::new(TRANSFER_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for file in &answer.files {
            let (api, limiter, file) = (self.api.clone(), limiter.clone(), file.clone());
            tasks.spawn(async move {
                let _permit = limiter.acquire_owned().await;
                let bytes = api.download(&file.download_url).await?;
                if scan::hash_bytes(&bytes) != file.content_hash {
                    return Err(SyncError::Integrity {
                        path: file.path.clone(),
                        expected: file.content_hash.clone(),
                    });
                }
                Ok((file.path, file.version, file.content_hash, bytes))
            });
        }
        let mut out = HashMap::new();
        let total = answer.files.len();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined.map_err(|e| SyncError::Other(e.to_string()))? {
                Ok((path, version, hash, bytes)) => {
                    out.insert(path, (version, hash, bytes));
                    self.report_progress(Progress::Downloaded {
                        done: out.len(),
                        total,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn apply_downloads(
        &mut self,
        plan: &Plan,
        downloads: &[&Action],
        merges: &[&Action],
        overrides: &mut HashMap<String, (Remote, bool)>,
        report: &mut SyncReport,
        result: &mut RoundResult,
    ) -> Result<()> {
        let current: Vec<String> = downloads
            .iter()
            .chain(merges)
            .filter_map(|a| match a {
                Action::Download { path, .. } | Action::Merge { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        let bases: Vec<(String, i64)> = merges
            .iter()
            .filter_map(|a| match a {
                Action::Merge {
                    path,
                    base: Some((v, _)),
                    ..
                } => Some((path.clone(), *v)),
                _ => None,
            })
            .collect();
        let mut fetched: HashMap<String, (i64, String, Vec<u8>)> = HashMap::new();
        for chunk in current.chunks(BATCH) {
            let answer = self.api.pull_current(chunk).await?;
            // Deleted since the plan: the next round sees the tombstone.
            for d in &answer.deleted {
                overrides.insert(
                    d.path.clone(),
                    (Remote::Deleted { version: d.version }, false),
                );
                result.again = true;
                result.complete = false;
            }
            fetched.extend(self.fetch_bytes(&answer).await?);
        }
        let mut base_bytes: HashMap<String, Vec<u8>> = HashMap::new();
        for chunk in bases.chunks(BATCH) {
            let answer = self.api.pull_versions(chunk).await?;
            for (path, (_, _, bytes)) in self.fetch_bytes(&answer).await? {
                base_bytes.insert(path, bytes);
            }
        }

        for action in downloads {
            let Action::Download { path, expect } = action else {
                continue;
            };
            let Some((version, hash, bytes)) = fetched.remove(path) else {
                continue;
            };
            let rel = self.disk_path(plan, path);
            if !self.unchanged_since_plan(&rel, expect.as_deref())? {
                report.deferred.push(path.clone());
                result.complete = false;
                continue;
            }
            let tmp = scan::write_temp(&self.root, &rel, &bytes)?;
            self.store.begin_pull(path, version, &hash, &tmp)?;
            if let Err(e) = scan::commit_temp(&self.root, &tmp, &rel) {
                self.store.clear_pending(path)?;
                return Err(e);
            }
            if self.api.faults().crash_after_write(path) {
                return Err(SyncError::Crash(format!("after writing {path}")));
            }
            self.store.apply(
                &[RowChange::Agreed {
                    path: path.clone(),
                    version,
                    hash,
                }],
                &[("pulled", path.as_str(), format!("v{version}"))],
            )?;
            report.pulled.push(path.clone());
        }

        for action in merges {
            let Action::Merge {
                path,
                base,
                local_hash,
                ..
            } = action
            else {
                continue;
            };
            let Some((version, hash, theirs)) = fetched.remove(path) else {
                continue;
            };
            let rel = self.disk_path(plan, path);
            let Some(ours) = self.read_if_unchanged(&rel, local_hash) else {
                report.deferred.push(path.clone());
                result.complete = false;
                continue;
            };
            let merged = base
                .as_ref()
                .and_then(|_| base_bytes.get(path))
                .and_then(|b| merge::three_way(b, &ours, &theirs));
            match merged {
                Some(m) => {
                    scan::write_atomic(&self.root, &rel, &m)?;
                    self.store.apply(
                        &[RowChange::Agreed {
                            path: path.clone(),
                            version,
                            hash,
                        }],
                        &[("merged", path.as_str(), format!("with v{version}"))],
                    )?;
                    report.merged.push(path.clone());
                }
                None => {
                    let copy = self.free_copy_name(path, &ours)?;
                    if scan::current_hash(&self.root, &copy)?.as_deref() != Some(local_hash) {
                        scan::write_atomic(&self.root, &copy, &ours)?;
                    }
                    scan::write_atomic(&self.root, &rel, &theirs)?;
                    self.store.apply(
                        &[RowChange::Agreed {
                            path: path.clone(),
                            version,
                            hash,
                        }],
                        &[("conflict_copy", path.as_str(), copy.clone())],
                    )?;
                    report.conflict_copies.push((path.clone(), copy));
                }
            }
            // The merged file or the copy goes up in the next round.
            result.again = true;
        }
        Ok(())
    }

    /// A conflict-copy name that is free, or already holds exactly these bytes.
    fn free_copy_name(&self, path: &str, bytes: &[u8]) -> Result<String> {
        let today = chrono::Utc::now().date_naive();
        let hash = scan::hash_bytes(bytes);
        for n in 1.. {
            let name = merge::conflict_copy_name(path, &self.device_name, today, n);
            match scan::current_hash(&self.root, &name)? {
                None => return Ok(name),
                Some(h) if h == hash => return Ok(name),
                Some(_) => {}
            }
        }
        unreachable!("an unbounded range ends only by returning")
    }

    async fn apply_pushes(
        &mut self,
        plan: &Plan,
        pushes: &[&Action],
        overrides: &mut HashMap<String, (Remote, bool)>,
        report: &mut SyncReport,
        result: &mut RoundResult,
    ) -> Result<()> {
        let total = pushes.len();
        let mut uploaded = 0;
        for chunk in pushes.chunks(BATCH) {
            // Re-read now: these bytes are the ones announced, uploaded and confirmed.
            let mut entries = Vec::new();
            let mut bytes_of: HashMap<String, Vec<u8>> = HashMap::new();
            for action in chunk {
                let Action::Push {
                    path,
                    base_version,
                    hash,
                } = action
                else {
                    continue;
                };
                let rel = self.disk_path(plan, path);
                let Some(bytes) = self.read_if_unchanged(&rel, hash) else {
                    report.deferred.push(path.clone());
                    result.complete = false;
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
            let mut records = Vec::new();
            for u in &answer.unchanged {
                records.push(RowChange::Agreed {
                    path: u.path.clone(),
                    version: u.version,
                    hash: u.content_hash.clone().unwrap_or_default(),
                });
                report.pushed.push(u.path.clone());
            }
            self.note_conflicts(&answer.conflicts, overrides, result);
            self.note_rejected(&answer.rejected, &entries, &mut records, report);
            self.store.apply(&records, &[])?;

            let ok = self
                .upload_all(&answer.uploads, &mut bytes_of, &mut uploaded, total)
                .await?;
            let to_confirm: Vec<FileEntry> = entries
                .iter()
                .filter(|e| ok.contains(&e.path))
                .cloned()
                .collect();
            if to_confirm.is_empty() {
                continue;
            }
            let answer = self.api.confirm(&to_confirm).await?;
            let mut records = Vec::new();
            let mut log = Vec::new();
            for c in &answer.confirmed {
                records.push(RowChange::Agreed {
                    path: c.path.clone(),
                    version: c.version,
                    hash: c.content_hash.clone().unwrap_or_default(),
                });
                log.push(("pushed", c.path.as_str(), format!("v{}", c.version)));
                report.pushed.push(c.path.clone());
            }
            if !answer.missing.is_empty() {
                // The bytes never arrived: upload again next round.
                result.again = true;
                result.complete = false;
            }
            self.note_conflicts(&answer.conflicts, overrides, result);
            self.note_rejected(&answer.rejected, &to_confirm, &mut records, report);
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
        let limiter = Arc::new(tokio::sync::Semaphore::new(TRANSFER_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for upload in uploads {
            let Some(bytes) = bytes_of.remove(&upload.path) else {
                continue;
            };
            if upload.upload_url.is_none() {
                ok.insert(upload.path.clone());
                continue;
            }
            let (api, limiter, upload) = (self.api.clone(), limiter.clone(), upload.clone());
            tasks.spawn(async move {
                let _permit = limiter.acquire_owned().await;
                api.upload(&upload, bytes).await.map(|()| upload.path)
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined.map_err(|e| SyncError::Other(e.to_string()))? {
                Ok(path) => {
                    ok.insert(path);
                    *uploaded += 1;
                    self.report_progress(Progress::Uploaded {
                        done: *uploaded,
                        total,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            // Confirm what did arrive before giving up? No: the next sync confirms it
            // without uploading again (push answers no URL for known bytes).
            Some(e) => Err(e),
            None => Ok(ok),
        }
    }

    fn note_conflicts(
        &self,
        conflicts: &[ConflictInfo],
        overrides: &mut HashMap<String, (Remote, bool)>,
        result: &mut RoundResult,
    ) {
        let me = self.api.device_id();
        for c in conflicts {
            let mine = me.is_some() && c.updated_by.as_deref() == me;
            overrides.insert(c.path.clone(), (Remote::from_conflict(c), mine));
            result.again = true;
        }
    }

    fn note_rejected(
        &self,
        rejected: &[crate::api::Rejected],
        entries: &[FileEntry],
        records: &mut Vec<RowChange>,
        report: &mut SyncReport,
    ) {
        for r in rejected {
            if let Some(e) = entries.iter().find(|e| e.path == r.path) {
                records.push(RowChange::Rejected {
                    path: r.path.clone(),
                    hash: e.content_hash.clone(),
                });
            }
            report
                .rejected
                .push((r.path.clone(), r.code.clone(), r.message.clone()));
        }
    }

    async fn apply_deletes(
        &mut self,
        deletes: &[&Action],
        overrides: &mut HashMap<String, (Remote, bool)>,
        report: &mut SyncReport,
        result: &mut RoundResult,
    ) -> Result<()> {
        let entries: Vec<DeleteEntry> = deletes
            .iter()
            .filter_map(|a| match a {
                Action::Delete { path, base_version } => Some(DeleteEntry {
                    path: path.clone(),
                    base_version: *base_version,
                }),
                _ => None,
            })
            .collect();
        for chunk in entries.chunks(BATCH) {
            let answer = self.api.delete(chunk).await?;
            let mut records = Vec::new();
            let mut log = Vec::new();
            for d in &answer.deleted {
                records.push(RowChange::Forget {
                    path: d.path.clone(),
                });
                log.push((
                    "deleted_on_server",
                    d.path.as_str(),
                    format!("v{}", d.version),
                ));
                report.deleted_remote.push(d.path.clone());
            }
            for path in &answer.not_found {
                records.push(RowChange::Forget { path: path.clone() });
            }
            self.note_conflicts(&answer.conflicts, overrides, result);
            for r in &answer.rejected {
                report
                    .rejected
                    .push((r.path.clone(), r.code.clone(), r.message.clone()));
            }
            self.store.apply(&records, &log)?;
        }
        Ok(())
    }
}
