//! The janitor: a scheduled run that keeps storage bounded. In order: it deletes upload
//! grants that no longer count, deletes packs at the end of their lifetime, compacts tombstones older than their retention, prunes
//! versions older than the history's, collects blobs that nothing uses any more, sweeps
//! deleted accounts' prefixes once more after the last upload URL issued to them expired,
//! and deletes objects in the bucket that no confirm recorded (abandoned uploads, and
//! whatever reaches a deleted account's prefix). Each run does bounded work inside a time
//! budget and records where it stopped; a second run at the same time finds the run lock
//! taken and does nothing. Every rule takes `now` from the caller, so tests travel in time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Lifecycle;
use crate::db::janitor as db;
use crate::db::retention::{self, HistoryPosition};
use crate::runtime::JanitorState;

mod decide;

pub use decide::{Sweep, sweep_page};

/// How long one scheduled run works (its Lambda timeout is 300 s).
pub const RUN_BUDGET: Duration = Duration::from_secs(240);
/// Blobs looked at per transaction of the collection pass (at most one DeleteObjects call).
pub const COLLECT_BATCH: i64 = 1000;
pub use crate::config::{HISTORY_BATCH, SWEEP_PAGE};
/// Tombstones compacted per transaction (one user's).
pub const COMPACT_BATCH: i64 = 1000;
/// Expired upload grants deleted per statement.
pub const GRANT_BATCH: i64 = 1000;
/// Packs deleted at the end of their lifetime per batch (one DeleteObjects call).
pub const PACK_BATCH: i64 = 1000;
/// Users whose tombstones are looked up at once.
const COMPACT_USERS: i64 = 50;
/// A purge is swept again once every upload URL issued before it has expired, plus this
/// margin for clock skew between the bucket and us.
const RESWEEP_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Purges swept again per batch.
const RESWEEP_BATCH: i64 = 10;
/// The `janitor_progress` task of the collection pass.
const COLLECT_TASK: &str = "collect";
/// The `janitor_progress` task of the history pass.
const HISTORY_TASK: &str = "history";

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// False when another run held the lock: this one did nothing.
    pub ran: bool,
    pub grants_expired: u64,
    /// Packs deleted at the end of their lifetime.
    pub packs_expired: u64,
    pub tombstones_compacted: u64,
    pub versions_scanned: u64,
    pub versions_pruned: u64,
    /// True when the history pass reached its end in this run.
    pub history_wrapped: bool,
    pub blobs_collected: u64,
    pub purges_reswept: u64,
    pub orphans_deleted: u64,
    pub objects_listed: u64,
    /// True when the bucket sweep reached the end of the bucket in this run.
    pub sweep_wrapped: bool,
    /// True when the time budget ended the run before all its work was done.
    pub out_of_time: bool,
}

/// One janitor run at time `now`, stopping its loops once `budget` has passed.
pub async fn run(
    state: &JanitorState,
    now: DateTime<Utc>,
    budget: Duration,
) -> Result<Report, anyhow::Error> {
    let started = Instant::now();
    let mut lock = state.app.db.acquire().await?;
    if !db::try_lock_run(&mut lock).await? {
        tracing::info!("another janitor run holds the lock");
        return Ok(Report::default());
    }
    let result = run_locked(state, now, started, budget).await;
    db::unlock_run(&mut lock).await?;
    match &result {
        Ok(report) => tracing::info!(?report, "janitor run"),
        Err(err) => tracing::error!(error = %err, "janitor run failed"),
    }
    result
}

async fn run_locked(
    state: &JanitorState,
    now: DateTime<Utc>,
    started: Instant,
    budget: Duration,
) -> Result<Report, anyhow::Error> {
    let lifecycle = &state.app.config.lifecycle;
    let mut report = Report {
        ran: true,
        ..Report::default()
    };
    let out_of_time = |report: &mut Report| {
        let over = started.elapsed() >= budget;
        report.out_of_time |= over;
        over
    };
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let n = expire_grants(state, now, lifecycle).await?;
        report.grants_expired += n;
        if n < GRANT_BATCH as u64 {
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let n = expire_packs(state, now).await?;
        report.packs_expired += n;
        if n < PACK_BATCH as u64 {
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let n = compact_tombstones(state, now, lifecycle).await?;
        report.tombstones_compacted += n;
        if n == 0 {
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let pruned = prune_history_batch(state, now, lifecycle).await?;
        report.versions_scanned += pruned.scanned;
        report.versions_pruned += pruned.deleted;
        if pruned.last.is_none() {
            report.history_wrapped = true;
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let (n, done) = collect_blobs(state, now, lifecycle).await?;
        report.blobs_collected += n;
        if done {
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let n = resweep_purges(state, now).await?;
        report.purges_reswept += n;
        if n < RESWEEP_BATCH as u64 {
            break;
        }
    }
    loop {
        if out_of_time(&mut report) {
            return Ok(report);
        }
        let (listed, deleted, more) = sweep_bucket_page(state, now, lifecycle).await?;
        report.objects_listed += listed;
        report.orphans_deleted += deleted;
        if !more {
            report.sweep_wrapped = true;
            return Ok(report);
        }
    }
}

/// Deletes up to [`GRANT_BATCH`] upload grants that no longer count (older than the orphan
/// age plus an upload URL's life): push deletes its own user's on the way, this pass those
/// of users who stopped pushing.
pub async fn expire_grants(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<u64, anyhow::Error> {
    let horizon = lifecycle.orphan_age + chrono::TimeDelta::from_std(crate::storage::PRESIGN_TTL)?;
    Ok(crate::db::uploads::delete_expired(&state.app.db, now - horizon, GRANT_BATCH).await?)
}

/// Deletes up to [`PACK_BATCH`] packs older than [`crate::packs::PACK_LIFETIME`]: objects
/// first, then rows (a failure in between leaves rows whose objects are gone: deleted again
/// next time).
pub async fn expire_packs(state: &JanitorState, now: DateTime<Utc>) -> Result<u64, anyhow::Error> {
    let db = &state.app.db;
    let old = crate::db::packs::expired(db, now - crate::packs::PACK_LIFETIME, PACK_BATCH).await?;
    let keys: Vec<String> = old
        .iter()
        .map(|(u, p)| crate::storage::pack_key(*u, *p))
        .collect();
    state.storage.delete_keys(&keys).await?;
    crate::db::packs::delete(db, &old).await?;
    Ok(old.len() as u64)
}

/// Compacts the tombstones older than their retention of up to [`COMPACT_USERS`] users,
/// one transaction per user and batch. Returns how many went.
pub async fn compact_tombstones(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<u64, anyhow::Error> {
    let cutoff = now - lifecycle.tombstone_retention;
    let mut total = 0;
    for user in retention::users_with_old_tombstones(&state.app.db, cutoff, COMPACT_USERS).await? {
        total += retention::compact_tombstones(&state.app.db, user, cutoff, COMPACT_BATCH).await?;
    }
    Ok(total)
}

/// One batch of the pass over the history, from where the last batch stopped; the pass
/// starts over after its end (`last` is then `None`).
pub async fn prune_history_batch(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<retention::Pruned, anyhow::Error> {
    let db = &state.app.db;
    let from = db::position(db, HISTORY_TASK)
        .await?
        .and_then(|raw| HistoryPosition::decode(&raw));
    let cutoff = now - lifecycle.history_retention;
    let mut pruned =
        retention::prune_history(db, cutoff, from.as_ref(), state.history_batch).await?;
    // A short batch reached the end: the next pass starts over.
    if pruned.scanned < state.history_batch as u64 {
        pruned.last = None;
    }
    let next = pruned.last.as_ref().map(HistoryPosition::encode);
    db::set_position(db, HISTORY_TASK, next.as_deref()).await?;
    Ok(pruned)
}

/// Sweeps the prefixes of up to [`RESWEEP_BATCH`] finished purges once more, once every
/// upload URL issued before their deletion has expired. Returns how many were finished; fewer
/// than the batch means nothing is left for now (or a prefix too big for one call, which the
/// next run takes up again).
pub async fn resweep_purges(
    state: &JanitorState,
    now: DateTime<Utc>,
) -> Result<u64, anyhow::Error> {
    let url_life = chrono::TimeDelta::from_std(crate::storage::PRESIGN_TTL)?;
    let before = now - url_life - RESWEEP_MARGIN;
    let mut finished = 0;
    for user in retention::purges_to_resweep(&state.app.db, before, RESWEEP_BATCH).await? {
        let (deleted, done) = state
            .storage
            .purge_user(
                user,
                crate::purge::PURGE_PAGE,
                crate::purge::PURGE_PAGES_PER_CALL,
            )
            .await?;
        if !done {
            break;
        }
        retention::mark_reswept(&state.app.db, user, deleted).await?;
        finished += 1;
    }
    Ok(finished)
}

/// Collects the unused blobs among the next window of the pass over `blobs`, from where
/// the last window stopped: rows locked, the packs holding them deleted, objects deleted,
/// rows deleted, in one transaction (a
/// failure leaves them for the next run, which looks at the same window again). Returns how
/// many went and whether the pass reached its end (the next one starts over).
pub async fn collect_blobs(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<(u64, bool), anyhow::Error> {
    let pool = &state.app.db;
    let from = db::position(pool, COLLECT_TASK)
        .await?
        .and_then(|raw| db::BlobPosition::decode(&raw));
    let mut tx = pool.begin().await?;
    let window = db::lock_collectable(
        &mut tx,
        now - lifecycle.blob_grace,
        from.as_ref(),
        COLLECT_BATCH,
    )
    .await?;
    let mut n = 0;
    if !window.locked.is_empty() {
        // The packs holding a collected blob go with it (rows, then objects, before the
        // commit): see `db::packs` for how a pack being built agrees.
        let packs = crate::db::packs::delete_holding(&mut tx, &window.locked).await?;
        let mut keys: Vec<String> = window
            .locked
            .iter()
            .map(|(u, h)| crate::storage::blob_key(*u, h))
            .collect();
        keys.extend(packs.iter().map(|(u, p)| crate::storage::pack_key(*u, *p)));
        // DeleteObjects takes at most 1,000 keys.
        for chunk in keys.chunks(1000) {
            state.storage.delete_keys(chunk).await?;
        }
        n = db::delete_blob_rows(&mut tx, &window.locked).await?;
    }
    tx.commit().await?;
    let done = window.looked_at < COLLECT_BATCH as usize;
    let next = window.last.filter(|_| !done).map(|p| p.encode());
    db::set_position(pool, COLLECT_TASK, next.as_deref()).await?;
    Ok((n, done))
}

/// Sweeps one page of the bucket from where the last page stopped: objects that no confirm
/// recorded and that are older than the orphan age are deleted. Returns (listed, deleted,
/// whether the bucket goes on).
pub async fn sweep_bucket_page(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<(u64, u64, bool), anyhow::Error> {
    // The sweep's entry in `janitor_progress`, one per swept prefix.
    let prefix = state.sweep_prefix.as_deref();
    let task = format!("bucket_sweep:{}", prefix.unwrap_or(""));
    let from = db::position(&state.app.db, &task).await?;
    let (objects, more) = state
        .storage
        .list_page(prefix, from.as_deref(), state.sweep_page)
        .await?;
    let Sweep {
        candidates,
        strays,
        last_key,
    } = sweep_page(&objects, now, lifecycle.orphan_age);
    // Candidates are deleted under their exclusive locks, which a confirm checking the same
    // object holds shared; a candidate recorded meanwhile is kept.
    let mut tx = state.app.db.begin().await?;
    let orphans = db::lock_unrecorded(&mut tx, &candidates).await?;
    let mut keys: Vec<String> = orphans
        .iter()
        .map(|(u, h)| crate::storage::blob_key(*u, h))
        .collect();
    keys.extend(strays);
    state.storage.delete_keys(&keys).await?;
    tx.commit().await?;
    let next = if more { last_key.as_deref() } else { None };
    db::set_position(&state.app.db, &task, next).await?;
    Ok((objects.len() as u64, keys.len() as u64, more))
}
