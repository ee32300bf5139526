//! The sync cycle: gather the facts (scan the vault, read `sync_state`, read the server's
//! changes since the stored cursor), classify every path, then pull, merge, delete and push,
//! recording each file in `sync_state` only once both sides hold it.
//!
//! - [`facts`] gathers; [`classify`] decides one path from its facts alone (the table of
//!   every case is its test); [`plan`] sorts the decisions by kind of work.
//! - [`pull`], [`merge`], [`push`] and [`delete`] carry them out; [`bounded`] runs the S3
//!   transfers side by side.
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

mod bounded;
mod bulk;
pub mod classify;
mod delete;
mod facts;
pub mod guard;
mod merge;
mod packs;
mod plan;
mod pull;
mod push;
pub mod recovered;
mod report;
mod twins;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::{Api, Conflict};
use crate::error::Result;
use crate::scan::ScanConfig;
use crate::store::Store;
use crate::vfs::{Clock, Disk, FsDisk, SystemClock};

pub use bulk::{BULK_THRESHOLD, build_pack};
use classify::Remote;
use facts::Learnt;
use guard::{DeletePolicy, MissingNotes};
pub use packs::{PACK_THRESHOLD, split_pack};
pub use plan::Plan;
pub use report::{Progress, Rejection, SyncReport};

/// `sync_meta` key: set while a mass delete is held back, so it stays held until the person
/// chooses (`--allow-mass-delete` or `--restore-missing`).
const HELD: &str = "mass_delete_held";

/// Rounds in one sync: the first does the work; later ones settle conflicts found on the way.
const MAX_ROUNDS: u32 = 6;

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Syncs one vault folder.
pub struct Syncer {
    root: PathBuf,
    disk: Arc<dyn Disk>,
    clock: Arc<dyn Clock>,
    api: Arc<Api>,
    store: Store,
    scan: ScanConfig,
    deletes: DeletePolicy,
    device_name: String,
    progress: Option<ProgressFn>,
    /// From how many notes to fetch a round goes through packs.
    pack_threshold: usize,
    /// From how many blobs to upload a push batch goes through one incoming pack.
    bulk_threshold: usize,
}

/// How a round ended.
struct Outcome {
    /// Something was learnt that another round should act on.
    again: bool,
    /// Every decision was carried out: the plan's cursor may be stored.
    complete: bool,
}

/// What the executors of one round found out.
struct Round<'a> {
    report: &'a mut SyncReport,
    learnt: &'a mut Learnt,
    /// Something was learnt that another round should act on.
    again: bool,
    /// Every decision was carried out: the plan's cursor may be stored.
    complete: bool,
}

impl Round<'_> {
    /// A note changed since the plan: left for the next sync.
    fn defer(&mut self, path: &str) {
        self.report.deferred.push(path.to_owned());
        self.complete = false;
    }

    /// The server's side of `path`, learnt from an answer, for the next round's plan.
    fn learn(&mut self, path: &str, remote: Remote) {
        self.learnt.insert(path.to_owned(), remote);
        self.again = true;
    }

    fn learn_conflicts(&mut self, conflicts: &[Conflict], me: Option<&str>) {
        for c in conflicts {
            self.learn(c.path.as_str(), Remote::from_conflict(c, me));
        }
    }
}

impl Syncer {
    pub fn open(root: &Path, api: Api, device_name: &str, scan: ScanConfig) -> Result<Self> {
        let store = Store::open(root)?;
        let disk = Arc::new(FsDisk::new(root));
        Ok(Self::with_world(
            api,
            store,
            disk,
            Arc::new(SystemClock),
            device_name,
            scan,
        ))
    }

    /// A syncer on any disk and clock, with its `sync.db` already open (the simulation's
    /// in-memory file tree, clock and database; the API's transport is the [`Api`]'s).
    pub fn with_world(
        api: Api,
        store: Store,
        disk: Arc<dyn Disk>,
        clock: Arc<dyn Clock>,
        device_name: &str,
        scan: ScanConfig,
    ) -> Self {
        Syncer {
            root: disk.root().to_path_buf(),
            disk,
            clock,
            store,
            api: Arc::new(api),
            scan,
            deletes: DeletePolicy::default(),
            device_name: device_name.to_owned(),
            progress: None,
            pack_threshold: PACK_THRESHOLD,
            bulk_threshold: BULK_THRESHOLD,
        }
    }

    /// Ends this syncer and hands back its `sync.db` (a simulated restart opens the same
    /// database again, as a real one opens the file).
    pub fn into_store(self) -> Store {
        self.store
    }

    /// What this sync does with notes missing here (see [`guard`]).
    pub fn set_missing_notes(&mut self, missing: MissingNotes) {
        self.deletes.missing = missing;
    }

    pub fn on_progress(&mut self, f: impl Fn(&Progress) + Send + Sync + 'static) {
        self.progress = Some(Arc::new(f));
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The API client, shared (for calls that outlive a borrow of the syncer).
    pub fn api_handle(&self) -> Arc<Api> {
        self.api.clone()
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
        let limited = self.api.stats.rate_limited();
        let mut learnt = Learnt::new();
        let plan = self.plan(&mut learnt).await?;
        self.finish_with(plan, learnt, &mut report).await?;
        let (count, waited) = self.api.stats.rate_limited();
        report.rate_limited = count - limited.0;
        report.rate_limited_wait = waited.saturating_sub(limited.1);
        Ok(report)
    }

    /// The first half of a sync: look at both sides and decide. [`Syncer::finish`] carries
    /// it out, however much later (the model tests let other devices act in between).
    pub async fn begin(&mut self) -> Result<Plan> {
        self.plan(&mut Learnt::new()).await
    }

    pub async fn finish(&mut self, plan: Plan) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.finish_with(plan, Learnt::new(), &mut report).await?;
        Ok(report)
    }

    async fn finish_with(
        &mut self,
        mut plan: Plan,
        mut learnt: Learnt,
        report: &mut SyncReport,
    ) -> Result<()> {
        loop {
            report.rounds += 1;
            let outcome = self.apply(&mut plan, &mut learnt, report).await?;
            if outcome.complete
                && let Some(c) = &plan.next_cursor
            {
                self.store.set_meta("cursor", c)?;
                self.store.prune_recovered()?;
            }
            if !outcome.again || report.rounds >= MAX_ROUNDS {
                return Ok(());
            }
            // The plan hears (and drains) what this round learnt.
            plan = self.plan(&mut learnt).await?;
            if plan.is_empty() {
                if let Some(c) = &plan.next_cursor {
                    self.store.set_meta("cursor", c)?;
                }
                return Ok(());
            }
        }
    }

    async fn plan(&mut self, learnt: &mut Learnt) -> Result<Plan> {
        self.api.forget_listed();
        let facts = self.gather(learnt).await?;
        let listed = facts.listed;
        // A hold lasts until the person decides: a later sync that finds the folder no
        // longer empty (a note pulled into it meanwhile) must not take that for consent.
        let policy = DeletePolicy {
            held_before: self.store.meta(HELD)?.is_some(),
            ..self.deletes
        };
        let plan = Plan::new(facts, &self.scan, &policy);
        if plan.held.is_empty() {
            self.store.clear_meta(HELD)?;
        } else {
            self.store.set_meta(HELD, &plan.held.len().to_string())?;
        }
        self.report_progress(Progress::Changes {
            remote: listed,
            actions: plan.len(),
        });
        Ok(plan)
    }

    /// Carries out one plan. An error stops the round after what already succeeded is
    /// recorded.
    async fn apply(
        &mut self,
        plan: &mut Plan,
        learnt: &mut Learnt,
        report: &mut SyncReport,
    ) -> Result<Outcome> {
        self.recover_pulls()?;
        let stale = plan.drop_stale(&self.store.rows()?);
        let mut round = Round {
            report,
            learnt,
            again: stale,
            complete: !stale,
        };
        for path in &plan.still_rejected {
            round.report.rejected.push(Rejection {
                path: path.clone(),
                code: "rejected".into(),
                message: "the server refused this file; change it to try again".into(),
            });
        }
        for r in &plan.set_aside {
            if !round.report.rejected.contains(r) {
                round.report.rejected.push(r.clone());
            }
        }
        // The held deletes of the latest plan are the ones to report.
        round.report.held = plan.held.iter().map(|d| d.path.clone()).collect();
        round.report.known = plan.known;
        self.store.apply(&plan.records, &[])?;
        if !plan.pulls.is_empty() || !plan.merges.is_empty() {
            // One fetch of the current bytes for pulls and merges alike.
            let paths: Vec<String> = (plan.pulls.iter().map(|p| p.path.clone()))
                .chain(plan.merges.iter().map(|m| m.path.clone()))
                .collect();
            let mut fetched = self.fetch_current(&paths, &plan.listed, &mut round).await?;
            let bases = self.fetch_bases(&plan.merges).await?;
            self.write_pulls(plan, &mut fetched, &mut round)?;
            self.merge(plan, &mut fetched, &bases, &mut round)?;
        }
        self.remove_local(plan, &mut round)?;
        // Deletes before pushes: a note renamed only in letter case (`Idea.md` to `idea.md`)
        // is a delete and a new note the server refuses while the old name is still live.
        if !plan.deletes.is_empty() {
            self.delete_remote(&plan.deletes, &mut round).await?;
        }
        if !plan.pushes.is_empty() {
            self.push(plan, &mut round).await?;
        }
        Ok(Outcome {
            again: round.again,
            complete: round.complete,
        })
    }
}
