//! A janitor run cut at every statement it sends to Postgres (the connection cut before the
//! statement, or the statement run and its answer lost), then run again as the next hourly
//! run would: the state is consistent after the cut run, and the second run ends exactly where
//! one clean run ends, with nothing deleted that a note still needs and nothing left behind.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::UserId;
use steel_core::janitor;
use steel_core::runtime::{AppState, JanitorState};

use super::harness::Bench;
use crate::support::pg_proxy::PgFault;
use crate::support::{TestApp, TestDevice, oracle};

/// A run that meets a cut connection fails at once; one that waits on a lock gives up here.
const RUN_DEADLINE: Duration = Duration::from_secs(10);

/// A user whose vault gives every pass of the janitor work 400 days later: `a.md` at version
/// 3 (versions 1 and 2 older than the history kept), `b.md` deleted (a tombstone older than
/// the one kept), and the blobs of all of them.
async fn vault(app: &TestApp) -> TestDevice {
    let dev = app
        .new_user_device(&format!("janitor-faults-{}", uuid::Uuid::new_v4()))
        .await;
    for (base, bytes) in [(0, b"a one".as_slice()), (1, b"a two"), (2, b"a three")] {
        app.sync_up(&dev, "a.md", base, bytes).await;
    }
    app.sync_up(&dev, "b.md", 0, b"b only").await;
    let deleted = app
        .delete(
            &dev,
            json!({"files": [{"path": "b.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    dev
}

/// The janitor of one cold start, reaching Postgres through the proxy, sweeping `user`'s
/// part of the bucket only (tests share one bucket).
fn janitor_through(bench: &Bench, app: &TestApp, user: UserId) -> JanitorState {
    let config = (*app.state.config).clone();
    JanitorState {
        // Two connections, as deployed: the run lock holds one.
        app: AppState::new(config, bench.proxied_pool(2)),
        storage: app.storage().clone(),
        sweep_prefix: Some(format!("{user}/")),
        sweep_page: janitor::SWEEP_PAGE,
        history_batch: janitor::HISTORY_BATCH,
    }
}

/// What one complete run leaves of `dev`'s vault: `a.md` at version 3 alone, no `b.md`, one
/// object in the bucket, and consistent counters and rows.
async fn assert_done(app: &TestApp, pool: &PgPool, dev: &TestDevice, what: &str) {
    let versions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT path, version FROM file_versions WHERE user_id = $1 ORDER BY path, version",
    )
    .bind(dev.user_id)
    .fetch_all(pool)
    .await
    .expect("versions");
    assert_eq!(versions, [("a.md".to_owned(), 3)], "{what}");
    let blobs: i64 = sqlx::query_scalar("SELECT count(*) FROM blobs WHERE user_id = $1")
        .bind(dev.user_id)
        .fetch_one(pool)
        .await
        .expect("blobs");
    assert_eq!(blobs, 1, "{what}");
    assert_eq!(
        app.user_keys(dev.user_id).await,
        vec![steel_core::storage::blob_key(
            dev.user_id,
            &steel_core::domain::ContentHash::of(b"a three")
        )],
        "{what}"
    );
    let account = app.account(dev).await;
    assert_eq!(
        (
            account.body["file_count"].as_i64(),
            account.body["stored_bytes"].as_i64()
        ),
        (Some(1), Some(7)),
        "{what}: {:?}",
        account.body
    );
    oracle::assert_consistent(pool, true).await;
}

async fn run(state: &JanitorState, now: DateTime<Utc>) -> Option<janitor::Report> {
    match tokio::time::timeout(RUN_DEADLINE, janitor::run(state, now, RUN_DEADLINE)).await {
        Ok(Ok(report)) => Some(report),
        Ok(Err(_)) | Err(_) => None,
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_janitor_run_cut_at_every_statement_is_finished_by_the_next(pool: PgPool) {
    let bench = Bench::start(pool.clone()).await;
    // The requests that build each vault go straight to the services.
    let app = TestApp::spawn(pool.clone()).await;
    let later = Utc::now() + TimeDelta::days(400);

    // The dry run: how many statements one complete run sends.
    let dev = vault(&app).await;
    let state = janitor_through(&bench, &app, dev.user_id);
    bench.pg.arm(None);
    let report = run(&state, later).await.expect("a clean run");
    let steps = bench.pg.steps();
    assert!(
        report.ran && report.tombstones_compacted == 1 && report.versions_pruned == 2,
        "{report:?}"
    );
    assert_done(&app, &pool, &dev, "the clean run").await;
    state.app.db.close().await;

    let mut cells = 0;
    for step in 1..=steps {
        for kind in [PgFault::CutBefore, PgFault::AnswerLost] {
            let what = format!("cut at statement {step} of {steps} ({kind:?})");
            let dev = vault(&app).await;
            let cut = janitor_through(&bench, &app, dev.user_id);
            bench.pg.arm(Some((step, kind)));
            let first = run(&cut, later).await;
            let fired = bench.pg.fired();
            bench.pg.arm(None);
            cut.app.db.close().await;
            oracle::assert_consistent(&pool, true).await;
            // The next hourly run: a new invocation, a new pool.
            let next = janitor_through(&bench, &app, dev.user_id);
            let report = run(&next, later + TimeDelta::hours(1)).await;
            assert!(
                report.as_ref().is_some_and(|r| r.ran),
                "{what}: the next run failed ({report:?}; first {first:?})"
            );
            next.app.db.close().await;
            assert_done(&app, &pool, &dev, &what).await;
            cells += usize::from(fired);
        }
    }
    eprintln!("janitor fault cells: {cells} (statements of one run: {steps})");
    assert!(cells >= steps, "{cells} cells fired of {steps} statements");
}
