//! The janitor: a scheduled run that keeps storage bounded. It collects blobs that nothing
//! uses, and deletes objects in the bucket that no confirm recorded (abandoned uploads, and
//! whatever reaches a deleted account's prefix through an upload URL issued before the
//! deletion). Each run does bounded work inside a time budget and records where it stopped;
//! a second run at the same time finds the run lock taken and does nothing. Every rule takes
//! `now` from the caller, so tests travel in time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Lifecycle;
use crate::db::janitor as db;
use crate::runtime::JanitorState;

mod decide;

pub use decide::{Sweep, sweep_page};

/// How long one scheduled run works (its Lambda timeout is 300 s).
pub const RUN_BUDGET: Duration = Duration::from_secs(240);
/// Blobs collected per transaction (and per DeleteObjects call).
pub const COLLECT_BATCH: i64 = 500;
/// Keys per bucket listing page.
pub const SWEEP_PAGE: i32 = 1000;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// False when another run held the lock: this one did nothing.
    pub ran: bool,
    pub blobs_collected: u64,
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
    loop {
        if started.elapsed() >= budget {
            report.out_of_time = true;
            return Ok(report);
        }
        let n = collect_blobs(state, now, lifecycle).await?;
        report.blobs_collected += n;
        if n < COLLECT_BATCH as u64 {
            break;
        }
    }
    loop {
        if started.elapsed() >= budget {
            report.out_of_time = true;
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

/// Collects one batch of unused blobs: rows locked, objects deleted, rows deleted, in one
/// transaction (a failure leaves the rows for the next run).
pub async fn collect_blobs(
    state: &JanitorState,
    now: DateTime<Utc>,
    lifecycle: &Lifecycle,
) -> Result<u64, anyhow::Error> {
    let mut tx = state.app.db.begin().await?;
    let blobs = db::lock_collectable(&mut tx, now - lifecycle.blob_grace, COLLECT_BATCH).await?;
    if blobs.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = blobs
        .iter()
        .map(|(u, h)| crate::storage::blob_key(*u, h))
        .collect();
    state.storage.delete_keys(&keys).await?;
    let n = db::delete_blob_rows(&mut tx, &blobs).await?;
    tx.commit().await?;
    Ok(n)
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
