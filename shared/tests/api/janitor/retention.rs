//! History retention, tombstone compaction, the counters behind `GET /account`, and the
//! second sweep of a deleted account's prefix, travelling in time through the janitor's
//! `now`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::UserId;
use steel_core::janitor;
use steel_core::runtime::JanitorState;

use super::{BUDGET, files, janitor_for, key};
use crate::support::{TestApp, TestDevice};

async fn run_at(state: &JanitorState, now: DateTime<Utc>) -> janitor::Report {
    janitor::run(state, now, BUDGET).await.expect("janitor run")
}

/// Every version number of `path` the history still has, oldest first.
async fn versions(pool: &PgPool, user: UserId, path: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT version FROM file_versions WHERE user_id = $1 AND path = $2 ORDER BY version",
    )
    .bind(user)
    .bind(path)
    .fetch_all(pool)
    .await
    .expect("versions")
}

async fn created_at(pool: &PgPool, user: UserId, path: &str, version: i64) -> DateTime<Utc> {
    sqlx::query_scalar(
        "SELECT created_at FROM file_versions WHERE user_id = $1 AND path = $2 AND version = $3",
    )
    .bind(user)
    .bind(path)
    .bind(version)
    .fetch_one(pool)
    .await
    .expect("created_at")
}

fn restore(path: &str, version: i64, base: i64) -> Value {
    json!({"files": [{"path": path, "version": version, "base_version": base}]})
}

async fn delete(app: &TestApp, dev: &TestDevice, path: &str, base: i64) {
    let answer = app
        .delete(
            dev,
            json!({"files": [{"path": path, "base_version": base}]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

/// The account's counters, and the same figures counted the slow way.
async fn counters(app: &TestApp, dev: &TestDevice) -> (Value, (i64, i64, i64)) {
    let account = app.account(dev).await;
    assert_eq!(account.status, 200, "{:?}", account.body);
    let counted: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM file_state WHERE user_id = $1 AND NOT is_deleted),
                (SELECT COALESCE(sum(size_bytes), 0)::BIGINT FROM file_state
                 WHERE user_id = $1 AND NOT is_deleted),
                (SELECT COALESCE(sum(size_bytes), 0)::BIGINT FROM blobs WHERE user_id = $1)",
    )
    .bind(dev.user_id)
    .fetch_one(&app.db)
    .await
    .expect("count");
    (account.body, counted)
}

async fn assert_counters(app: &TestApp, dev: &TestDevice) -> Value {
    let (body, (files, live, stored)) = counters(app, dev).await;
    assert_eq!(body["file_count"], files, "{body}");
    assert_eq!(body["vault_size"], live, "{body}");
    assert_eq!(body["stored_bytes"], stored, "{body}");
    body
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_version_exactly_at_the_limit_stays_and_one_a_second_older_goes(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("edges").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_up(&dev, "n.md", 0, b"one").await;
    app.sync_up(&dev, "n.md", 1, b"two").await;
    app.sync_up(&dev, "n.md", 2, b"three").await;
    let retention = app.state.config.lifecycle.history_retention;
    assert_eq!(retention, TimeDelta::days(365), "the default");
    let first = created_at(&pool, dev.user_id, "n.md", 1).await;
    let second = created_at(&pool, dev.user_id, "n.md", 2).await;
    assert!(first < second, "versions are stamped in commit order");

    // Exactly at the limit: kept.
    let report = run_at(&janitor, first + retention).await;
    assert_eq!(report.versions_pruned, 0, "{report:?}");
    assert_eq!(versions(&pool, dev.user_id, "n.md").await, vec![1, 2, 3]);

    // Version 1 is older than the limit; version 2 is not yet.
    let report = run_at(&janitor, second + retention).await;
    assert_eq!(report.versions_pruned, 1, "{report:?}");
    assert_eq!(versions(&pool, dev.user_id, "n.md").await, vec![2, 3]);

    // Years later: the current version stays, whatever its age.
    run_at(&janitor, Utc::now() + TimeDelta::days(3650)).await;
    assert_eq!(versions(&pool, dev.user_id, "n.md").await, vec![3]);
    let history = app.history(&dev, &[("path", "n.md")]).await;
    assert_eq!(history.body["versions"].as_array().map(Vec::len), Some(1));

    // The pruned versions' bytes were collected (nothing else used them), the current kept.
    assert_eq!(
        app.user_keys(dev.user_id).await,
        vec![key(dev.user_id, b"three")]
    );
    assert_counters(&app, &dev).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_deleted_note_keeps_its_last_content_while_its_tombstone_lives(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("tomb").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_up(&dev, "gone.md", 0, b"first").await;
    app.sync_up(&dev, "gone.md", 1, b"last words").await;
    delete(&app, &dev, "gone.md", 2).await;

    // A year on, with a tombstone retention longer than that: version 1 goes; version 2 (the
    // last content) and 3 (the tombstone) stay, so the deleted note can still be restored.
    let long_tombstones = JanitorState {
        app: steel_core::runtime::AppState::new(
            {
                let mut config = (*app.state.config).clone();
                config.lifecycle.tombstone_retention = TimeDelta::days(3650);
                config
            },
            pool.clone(),
        ),
        ..janitor_for(&app, dev.user_id)
    };
    run_at(&long_tombstones, Utc::now() + TimeDelta::days(400)).await;
    assert_eq!(versions(&pool, dev.user_id, "gone.md").await, vec![2, 3]);
    let listed = app.deleted(&dev, &[]).await;
    assert_eq!(
        listed.body["files"][0]["path"], "gone.md",
        "{:?}",
        listed.body
    );
    let back = app.restore(&dev, restore("gone.md", 2, 3)).await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    let pulled = app.pull(&dev, json!({"paths": ["gone.md"]})).await;
    let url = &pulled.body["files"][0]["download_url"];
    assert_eq!(app.download(url).await, b"last words");

    // With the default retention (90 days) the janitor forgets a deleted note entirely.
    delete(&app, &dev, "gone.md", 4).await;
    let report = run_at(&janitor, Utc::now() + TimeDelta::days(91)).await;
    assert_eq!(report.tombstones_compacted, 1, "{report:?}");
    assert!(versions(&pool, dev.user_id, "gone.md").await.is_empty());
    let listed = app.deleted(&dev, &[]).await;
    assert_eq!(listed.body["files"], json!([]), "{:?}", listed.body);
    assert!(app.user_keys(dev.user_id).await.is_empty());
    assert_counters(&app, &dev).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_note_deleted_and_restored_around_the_horizon_is_never_compacted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("around").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_up(&dev, "back.md", 0, b"keep me").await;
    delete(&app, &dev, "back.md", 1).await;
    // 89 days later: the tombstone is still young.
    let report = run_at(&janitor, Utc::now() + TimeDelta::days(89)).await;
    assert_eq!(report.tombstones_compacted, 0, "{report:?}");
    // Restored: live again, so no later run may compact it.
    let back = app.restore(&dev, restore("back.md", 1, 2)).await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    let report = run_at(&janitor, Utc::now() + TimeDelta::days(200)).await;
    assert_eq!(report.tombstones_compacted, 0, "{report:?}");
    let state = app.state(&dev, &[]).await;
    assert_eq!(state.body["files"][0]["path"], "back.md");
    assert_eq!(state.body["files"][0]["is_deleted"], false);
    assert_eq!(
        app.user_keys(dev.user_id).await,
        vec![key(dev.user_id, b"keep me")]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_cursor_from_before_a_compacted_tombstone_must_resync(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("compact").await;
    let phone = app.another_device(mac.user_id, "phone").await;
    let janitor = janitor_for(&app, mac.user_id);
    for (i, name) in ["a.md", "b.md", "c.md", "d.md"].iter().enumerate() {
        app.sync_up(&mac, name, 0, format!("note {i}").as_bytes())
            .await;
    }
    // The phone synced everything and went to sleep with this cursor.
    let slept = app.state(&phone, &[]).await.body["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    delete(&app, &mac, "b.md", 1).await;
    app.sync_up(&mac, "a.md", 1, b"edited").await;
    let awake_before = app.state(&mac, &[]).await.body["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();

    // Before compaction the phone hears the delete.
    let heard = app.state(&phone, &[("cursor", &slept)]).await;
    assert_eq!(heard.status, 200);
    run_at(&janitor, Utc::now() + TimeDelta::days(91)).await;

    // After it, its cursor predates a forgotten delete: 410, not a silent gap.
    let stale = app.state(&phone, &[("cursor", &slept)]).await;
    assert_eq!(stale.status, 410, "{:?}", stale.body);
    assert_eq!(stale.code(), "resync_required");
    let since = app
        .state(&phone, &[("since", "2000-01-01T00:00:00Z")])
        .await;
    assert_eq!(since.status, 410, "{:?}", since.body);
    // A cursor from after the delete is still good.
    let fresh = app.state(&mac, &[("cursor", &awake_before)]).await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);

    // The full listing, one note a page, goes through although every page's position is
    // below the compacted delete, names the three live notes and not b.md, and ends with a
    // cursor the phone can store.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut query = vec![("limit", "1")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let page = app.state(&phone, &query).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for f in page.body["files"].as_array().expect("files") {
            seen.push(f["path"].as_str().expect("path").to_owned());
        }
        let next = page.body["cursor"].as_str().expect("cursor").to_owned();
        if page.body["has_more"] == false {
            assert!(
                next.starts_with('c'),
                "the last page's cursor is stored: {next}"
            );
            cursor = Some(next);
            break;
        }
        assert!(next.starts_with('l'), "a listing page's cursor: {next}");
        cursor = Some(next);
    }
    seen.sort();
    assert_eq!(seen, ["a.md", "c.md", "d.md"]);
    let stored = cursor.expect("cursor");
    let next = app.state(&phone, &[("cursor", &stored)]).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    assert_eq!(next.body["files"], json!([]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn when_the_latest_change_was_compacted_the_stored_cursor_still_holds(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("latest").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_up(&dev, "keep.md", 0, b"keep").await;
    app.sync_up(&dev, "drop.md", 0, b"drop").await;
    delete(&app, &dev, "drop.md", 1).await;
    run_at(&janitor, Utc::now() + TimeDelta::days(91)).await;
    // The listing's last row (keep.md) is older than the compacted delete; its cursor is
    // the head, so the next sync is incremental instead of a full listing for ever.
    let listing = app.state(&dev, &[]).await;
    let cursor = listing.body["cursor"].as_str().expect("cursor").to_owned();
    let again = app.state(&dev, &[("cursor", &cursor)]).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_counters_follow_every_write_and_the_janitor(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("counters").await;
    let janitor = janitor_for(&app, dev.user_id);
    let body = assert_counters(&app, &dev).await;
    assert_eq!(body["file_count"], 0);
    assert_eq!(
        body["retention"],
        json!({"history_days": 365, "deleted_days": 90})
    );
    app.sync_up(&dev, "a.md", 0, b"aaaa").await;
    app.sync_up(&dev, "b.md", 0, b"bb").await;
    app.sync_up(&dev, "a.md", 1, b"a2").await;
    // The same bytes under another name: one blob.
    app.sync_up(&dev, "c.md", 0, b"bb").await;
    let body = assert_counters(&app, &dev).await;
    assert_eq!(body["file_count"], 3);
    assert_eq!(body["vault_size"], 6);
    assert_eq!(body["stored_bytes"], 8);
    delete(&app, &dev, "b.md", 1).await;
    let body = assert_counters(&app, &dev).await;
    assert_eq!(body["file_count"], 2);
    // A restore brings a note back; a tombstone compacted and history pruned leave it.
    let back = app.restore(&dev, restore("b.md", 1, 2)).await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    assert_eq!(assert_counters(&app, &dev).await["file_count"], 3);
    delete(&app, &dev, "c.md", 1).await;
    run_at(&janitor, Utc::now() + TimeDelta::days(400)).await;
    let body = assert_counters(&app, &dev).await;
    assert_eq!(body["file_count"], 2);
    // "aaaa" (a.md's old version) went with the history; "bb" stays (b.md uses it).
    assert_eq!(body["stored_bytes"], 4);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_rewind_before_the_history_kept_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("rewind").await;
    let old = (Utc::now() - TimeDelta::days(366)).to_rfc3339();
    let answer = app.restore(&dev, json!({"as_of": old})).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert_eq!(answer.code(), "invalid_as_of");
    let recent = (Utc::now() - TimeDelta::days(364)).to_rfc3339();
    let answer = app.restore(&dev, json!({"as_of": recent})).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_deleted_accounts_prefix_is_swept_again_once_its_urls_expired(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("resweep").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_file(&dev, "a.md", 0, b"a").await;
    let pushed = app.push(&dev, files("late.md", b"late upload")).await;
    let gone = app.delete_account(&dev, json!({"confirm": "DELETE"})).await;
    assert_eq!(gone.body["purge_complete"], true, "{:?}", gone.body);
    let put = app.upload(&pushed.body["uploads"][0], b"late upload").await;
    assert!(put.status().is_success());
    assert_eq!(app.user_keys(dev.user_id).await.len(), 1);

    // Within the URL's life the purge is not swept again (the URL may still be used).
    let report = run_at(&janitor, Utc::now() + TimeDelta::minutes(4)).await;
    assert_eq!(report.purges_reswept, 0, "{report:?}");
    // Ten minutes on, every URL issued before the deletion has expired: swept, well before
    // the orphan sweep's 24 hours; and only once.
    let report = run_at(&janitor, Utc::now() + TimeDelta::minutes(11)).await;
    assert_eq!(report.purges_reswept, 1, "{report:?}");
    assert!(app.user_keys(dev.user_id).await.is_empty());
    let report = run_at(&janitor, Utc::now() + TimeDelta::minutes(20)).await;
    assert_eq!(report.purges_reswept, 0, "{report:?}");
}

/// A history pass cut after every version goes on where it stopped, deletes each version
/// once, and starts over after its end.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_interrupted_history_pass_resumes_where_it_stopped(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("pass").await;
    let janitor = JanitorState {
        history_batch: 1,
        ..janitor_for(&app, dev.user_id)
    };
    for v in 0..4 {
        app.sync_up(&dev, "x.md", v, format!("x{v}").as_bytes())
            .await;
    }
    app.sync_up(&dev, "y.md", 0, b"y").await;
    let later = Utc::now() + TimeDelta::days(400);
    let lifecycle = &app.state.config.lifecycle;
    let mut batches = Vec::new();
    loop {
        let pruned = janitor::prune_history_batch(&janitor, later, lifecycle)
            .await
            .expect("batch");
        let end = pruned.last.is_none();
        batches.push((pruned.scanned, pruned.deleted));
        if end {
            break;
        }
    }
    // Five versions looked at once each (the last call finds the end), three deleted.
    assert_eq!(batches.iter().map(|b| b.0).sum::<u64>(), 5, "{batches:?}");
    assert_eq!(batches.iter().map(|b| b.1).sum::<u64>(), 3, "{batches:?}");
    assert_eq!(versions(&pool, dev.user_id, "x.md").await, vec![4]);
    assert_eq!(versions(&pool, dev.user_id, "y.md").await, vec![1]);
    let position: Option<String> =
        sqlx::query_scalar("SELECT position FROM janitor_progress WHERE task = 'history'")
            .fetch_optional(&pool)
            .await
            .expect("position");
    assert_eq!(position, None, "the next pass starts over");
}

/// After a compaction the path's version numbers are not used again: a device that slept
/// and still knows `n.md` at version 2 must never see another content under that number.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_note_created_again_after_its_tombstone_was_compacted_never_reuses_a_version(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse").await;
    let janitor = janitor_for(&app, dev.user_id);
    app.sync_up(&dev, "n.md", 0, b"one").await;
    app.sync_up(&dev, "n.md", 1, b"two").await;
    delete(&app, &dev, "n.md", 2).await;
    run_at(&janitor, Utc::now() + TimeDelta::days(91)).await;
    assert!(versions(&pool, dev.user_id, "n.md").await.is_empty());
    // Created again from nothing (base 0): above the compacted tombstone's version 3.
    assert_eq!(app.sync_up(&dev, "n.md", 0, b"new life").await, 4);
    // Any other new note too (the mark is per user).
    assert_eq!(app.sync_up(&dev, "other.md", 0, b"x").await, 4);
    let again = app.sync_file(&dev, "n.md", 0, b"new life").await;
    assert!(
        again.body["confirmed"][0]["version"] == 4,
        "a retry answers the same version: {:?}",
        again.body
    );
}
