//! The janitor against the real services, travelling in time through the `now` it is given:
//! abandoned uploads go, confirmed ones stay; an unused blob is collected without ever
//! letting a confirm commit a version whose bytes are gone, in every order of push,
//! janitor and confirm; late uploads to a deleted account go; two runs at once.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::db::blobs;
use steel_core::domain::{ContentHash, UserId};
use steel_core::janitor::{self, Report};
use steel_core::runtime::JanitorState;

use crate::support::{TestApp, TestDevice};

mod retention;

pub(crate) const BUDGET: Duration = Duration::from_secs(30);

/// The janitor, sweeping only `user`'s part of the bucket (tests share one bucket).
pub(crate) fn janitor_for(app: &TestApp, user: UserId) -> JanitorState {
    JanitorState {
        app: app.state.clone(),
        storage: app.storage().clone(),
        sweep_prefix: Some(format!("{user}/")),
        sweep_page: janitor::SWEEP_PAGE,
        history_batch: janitor::HISTORY_BATCH,
    }
}

async fn run(state: &JanitorState, hours_later: i64) -> Report {
    janitor::run(state, Utc::now() + TimeDelta::hours(hours_later), BUDGET)
        .await
        .expect("janitor run")
}

pub(crate) fn files(path: &str, bytes: &[u8]) -> Value {
    json!({"files": [{"path": path, "base_version": 0,
        "content_hash": ContentHash::of(bytes).to_hex(), "size_bytes": bytes.len()}]})
}

pub(crate) fn key(user: UserId, bytes: &[u8]) -> String {
    steel_core::storage::blob_key(user, &ContentHash::of(bytes))
}

/// Bytes in the bucket with a verified `blobs` row that no version uses (what a confirm
/// leaves when its commit loses a conflict): collectable once the grace period is over.
async fn unused_blob(app: &TestApp, dev: &TestDevice, bytes: &[u8]) {
    let pushed = app.push(dev, files("unused.md", bytes)).await;
    let put = app.upload(&pushed.body["uploads"][0], bytes).await;
    assert!(put.status().is_success());
    blobs::mark_verified(
        &app.db,
        dev.user_id,
        &[(ContentHash::of(bytes), bytes.len() as i64)],
    )
    .await
    .expect("record blob");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_abandoned_upload_goes_after_the_orphan_age_and_a_confirmed_one_stays(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("orphans").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_file(&dev, "kept.md", 0, b"kept").await;
    let pushed = app.push(&dev, files("left.md", b"never confirmed")).await;
    app.upload(&pushed.body["uploads"][0], b"never confirmed")
        .await;
    let both = vec![
        key(dev.user_id, b"kept"),
        key(dev.user_id, b"never confirmed"),
    ];

    // Within the orphan age (24 h by default) nothing goes: a confirm may still come.
    let early = run(&janitor, 23).await;
    assert!(early.ran && early.sweep_wrapped);
    assert_eq!(early.orphans_deleted, 0);
    let mut keys = app.user_keys(dev.user_id).await;
    keys.sort();
    let mut want = both.clone();
    want.sort();
    assert_eq!(keys, want);

    let late = run(&janitor, 25).await;
    assert_eq!((late.orphans_deleted, late.blobs_collected), (1, 0));
    assert_eq!(app.user_keys(dev.user_id).await, vec![both[0].clone()]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_janitor_confirm_the_confirm_finds_the_blob_gone_and_commits_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("pjc").await;
    let janitor = janitor_for(&app, dev.user_id);
    unused_blob(&app, &dev, b"shared bytes").await;

    let pushed = app.push(&dev, files("n.md", b"shared bytes")).await;
    assert!(pushed.body["uploads"][0]["upload_url"].is_null());
    assert_eq!(run(&janitor, 25).await.blobs_collected, 1);
    let confirmed = app.confirm(&dev, files("n.md", b"shared bytes")).await;
    assert_eq!(confirmed.status, 200);
    assert_eq!(confirmed.body["confirmed"], json!([]));
    assert_eq!(confirmed.body["missing"][0]["code"], "not_uploaded");
    assert!(app.user_keys(dev.user_id).await.is_empty());
    // The client's next push is handed an upload URL, and the note syncs.
    app.sync_file(&dev, "n.md", 0, b"shared bytes").await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_confirm_janitor_the_used_blob_stays(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("pcj").await;
    let janitor = janitor_for(&app, dev.user_id);
    unused_blob(&app, &dev, b"shared bytes").await;

    let pushed = app.push(&dev, files("n.md", b"shared bytes")).await;
    assert!(pushed.body["uploads"][0]["upload_url"].is_null());
    let confirmed = app.confirm(&dev, files("n.md", b"shared bytes")).await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
    let report = run(&janitor, 25).await;
    assert_eq!((report.blobs_collected, report.orphans_deleted), (0, 0));
    assert_eq!(
        app.user_keys(dev.user_id).await,
        vec![key(dev.user_id, b"shared bytes")]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn janitor_push_confirm_the_push_asks_for_the_bytes_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("jpc").await;
    let janitor = janitor_for(&app, dev.user_id);
    unused_blob(&app, &dev, b"shared bytes").await;

    // Within the grace period the unused blob is kept; after it, it goes.
    assert_eq!(run(&janitor, 23).await.blobs_collected, 0);
    assert_eq!(run(&janitor, 25).await.blobs_collected, 1);
    let pushed = app.push(&dev, files("n.md", b"shared bytes")).await;
    assert!(pushed.body["uploads"][0]["upload_url"].is_string());
    app.sync_file(&dev, "n.md", 0, b"shared bytes").await;
}

/// The janitor holds the blob's row lock (rows read, object being deleted) when confirm
/// commits: the confirm waits, then finds the row gone and commits nothing.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_during_the_collection_waits_and_commits_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("during").await;
    unused_blob(&app, &dev, b"shared bytes").await;
    let pushed = app.push(&dev, files("n.md", b"shared bytes")).await;
    assert!(pushed.body["uploads"][0]["upload_url"].is_null());

    let mut tx = pool.begin().await.expect("tx");
    let later = Utc::now() + TimeDelta::hours(25);
    let locked = steel_core::db::janitor::lock_collectable(&mut tx, later, None, 10)
        .await
        .expect("lock")
        .locked;
    assert_eq!(locked.len(), 1);
    let confirm = {
        let app = &app;
        let dev = &dev;
        async move { app.confirm(dev, files("n.md", b"shared bytes")).await }
    };
    let collect = async {
        // Let the confirm reach the row lock first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let keys = vec![key(dev.user_id, b"shared bytes")];
        app.storage().delete_keys(&keys).await.expect("delete");
        steel_core::db::janitor::delete_blob_rows(&mut tx, &locked)
            .await
            .expect("rows");
        tx.commit().await.expect("commit");
    };
    let (confirmed, ()) = tokio::join!(confirm, collect);
    assert_eq!(
        confirmed.body["confirmed"],
        json!([]),
        "{:?}",
        confirmed.body
    );
    assert_eq!(confirmed.body["missing"][0]["code"], "not_uploaded");
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM file_versions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(versions, 0);
}

/// A confirm holds the blob's row (its commit under way): the janitor skips it, and once the
/// version is committed the blob is in use and stays.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_janitor_skips_a_blob_a_commit_holds(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("held").await;
    let janitor = janitor_for(&app, dev.user_id);
    unused_blob(&app, &dev, b"shared bytes").await;
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SELECT 1 FROM blobs FOR SHARE")
        .execute(&mut *tx)
        .await
        .expect("share");
    assert_eq!(run(&janitor, 25).await.blobs_collected, 0);
    tx.rollback().await.expect("rollback");
    assert_eq!(run(&janitor, 25).await.blobs_collected, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_upload_through_a_url_issued_before_the_account_was_deleted_is_swept(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("late").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_file(&dev, "a.md", 0, b"a").await;
    let pushed = app.push(&dev, files("late.md", b"late bytes")).await;
    let gone = app.delete_account(&dev, json!({"confirm": "DELETE"})).await;
    assert_eq!(gone.status, 200, "{:?}", gone.body);
    assert!(app.user_keys(dev.user_id).await.is_empty());

    // The URL still works for its five minutes: the bytes land under the deleted prefix.
    let put = app.upload(&pushed.body["uploads"][0], b"late bytes").await;
    assert!(put.status().is_success());
    assert_eq!(app.user_keys(dev.user_id).await.len(), 1);
    // The purge's second sweep takes it (see retention.rs for its timing); were it to fail,
    // the orphan sweep would, as for any unconfirmed object.
    let report = run(&janitor, 25).await;
    assert_eq!(report.purges_reswept, 1, "{report:?}");
    assert!(app.user_keys(dev.user_id).await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_second_run_at_the_same_time_does_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("two").await;
    let janitor = janitor_for(&app, dev.user_id);
    let mut held = pool.acquire().await.expect("conn");
    assert!(
        steel_core::db::janitor::try_lock_run(&mut held)
            .await
            .expect("lock")
    );
    assert_eq!(run(&janitor, 25).await, Report::default());
    steel_core::db::janitor::unlock_run(&mut held)
        .await
        .expect("unlock");
    assert!(run(&janitor, 25).await.ran);
}

/// A sweep cut short after each page (one key per page here) goes on from where it stopped
/// at the next call, deletes each orphan once, and starts over after the end.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_interrupted_sweep_resumes_where_it_stopped(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("resume").await;
    let janitor = JanitorState {
        sweep_page: 1,
        ..janitor_for(&app, dev.user_id)
    };
    app.sync_file(&dev, "kept.md", 0, b"kept").await;
    for name in ["o1", "o2"] {
        let pushed = app.push(&dev, files(name, name.as_bytes())).await;
        app.upload(&pushed.body["uploads"][0], name.as_bytes())
            .await;
    }
    let later = Utc::now() + TimeDelta::hours(25);
    let lifecycle = &app.state.config.lifecycle;
    let mut pages = Vec::new();
    loop {
        let (listed, deleted, more) = janitor::sweep_bucket_page(&janitor, later, lifecycle)
            .await
            .expect("page");
        pages.push((listed, deleted));
        if !more {
            break;
        }
    }
    // Three keys, one a page, each visited once: two orphans deleted, the confirmed blob kept.
    assert_eq!(pages.iter().map(|p| p.0).sum::<u64>(), 3, "{pages:?}");
    assert_eq!(pages.iter().map(|p| p.1).sum::<u64>(), 2, "{pages:?}");
    assert_eq!(
        app.user_keys(dev.user_id).await,
        vec![key(dev.user_id, b"kept")]
    );
    let position: Option<String> = sqlx::query_scalar("SELECT position FROM janitor_progress")
        .fetch_optional(&pool)
        .await
        .expect("position");
    assert_eq!(position, None, "the next sweep starts over");
}
