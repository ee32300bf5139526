//! A device that retries (a lost answer, a second push) changes nothing twice, and known
//! bytes are never uploaded again.

use serde_json::json;
use sqlx::PgPool;

use super::{one_file, sha256_hex};
use crate::support::{TestApp, oracle};

const BYTES: &[u8] = b"retry me";

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn pushing_twice_asks_for_the_upload_twice(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    let files = one_file("r.md", 0, BYTES);

    let first = app.push(&dev, files.clone()).await;
    let second = app.push(&dev, files).await;
    assert_eq!(first.body["uploads"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["uploads"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_repeated_confirm_answers_the_same_and_commits_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    let files = one_file("r.md", 0, BYTES);
    let pushed = app.push(&dev, files.clone()).await;
    assert!(
        app.upload(&pushed.body["uploads"][0], BYTES)
            .await
            .status()
            .is_success()
    );

    let c1 = app.confirm(&dev, files.clone()).await;
    // The response was lost: the device confirms again. Same answer, no new version.
    let c2 = app.confirm(&dev, files).await;
    assert_eq!(c1.body["confirmed"], c2.body["confirmed"]);
    assert_eq!(c2.body["confirmed"][0]["version"], 1);
    assert_eq!(oracle::history(&pool, "r.md").await.len(), 1);
    assert_eq!(app.drain_notices().await.len(), 1, "announced once");
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn pushing_a_committed_file_again_is_unchanged(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    app.sync_up(&dev, "r.md", 0, BYTES).await;

    let again = app.push(&dev, one_file("r.md", 0, BYTES)).await;
    assert_eq!(
        again.body["unchanged"],
        json!([{"path": "r.md", "version": 1, "content_hash": sha256_hex(BYTES)}])
    );
    assert_eq!(again.body["uploads"], json!([]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_edit_pushed_from_another_device_is_unchanged(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    let other = app.another_device(dev.user_id, "iPad").await;
    app.sync_up(&dev, "r.md", 0, BYTES).await;

    let same = app.push(&other, one_file("r.md", 0, BYTES)).await;
    assert_eq!(same.body["unchanged"][0]["version"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_stale_confirm_from_another_device_is_a_conflict_not_a_retry(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    let other = app.another_device(dev.user_id, "iPad").await;
    app.sync_up(&dev, "r.md", 0, BYTES).await;

    let stale = app.confirm(&other, one_file("r.md", 0, BYTES)).await;
    assert_eq!(
        stale.body["conflicts"][0]["server_version"], 1,
        "{:?}",
        stale.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn known_bytes_under_another_name_need_no_upload(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("retry").await;
    app.sync_up(&dev, "r.md", 0, BYTES).await;

    let copy = app.push(&dev, one_file("copy.md", 0, BYTES)).await;
    assert!(
        copy.body["uploads"][0]["upload_url"].is_null(),
        "{:?}",
        copy.body
    );
    let confirmed = app.confirm(&dev, one_file("copy.md", 0, BYTES)).await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
    oracle::assert_consistent(&pool, true).await;
}
