//! `POST /vault/restore` with `files`: a past version's bytes become the newest version,
//! version-checked like a push, with no upload.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::delete_one;
use crate::support::{TestApp, oracle};
use crate::vault::sha256_hex;

fn restore(path: &str, version: i64, base: i64) -> Value {
    json!({"files": [{"path": path, "version": version, "base_version": base}]})
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn restoring_a_live_note_rolls_it_back_as_a_new_version(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("restore").await;
    let phone = app.another_device(mac.user_id, "phone").await;
    app.sync_up(&mac, "n.md", 0, b"good").await;
    app.sync_up(&mac, "n.md", 1, b"ruined").await;
    app.drain_notices().await;

    let answer = app.restore(&phone, restore("n.md", 1, 2)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let r = &answer.body["restored"][0];
    assert_eq!(
        (r["version"].as_i64(), r["restored_from"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(r["content_hash"], sha256_hex(b"good"));
    // The other device learns it through the normal sync.
    let state = app.state(&mac, &[]).await;
    let f = &state.body["files"][0];
    assert_eq!(
        (f["version"].as_i64(), f["updated_by"].as_str()),
        (Some(3), Some(phone.device_id.to_string().as_str()))
    );
    let pulled = app.pull(&mac, json!({"paths": ["n.md"]})).await;
    assert_eq!(
        app.download(&pulled.body["files"][0]["download_url"]).await,
        b"good"
    );
    let notices = app.drain_notices().await;
    assert_eq!(notices.len(), 1, "one change notice");
    assert_eq!(notices[0]["paths"], json!(["n.md"]));
    assert_eq!(oracle::history(&pool, "n.md").await.len(), 3);
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn restoring_a_deleted_note_brings_it_back(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("restore").await;
    app.sync_up(&dev, "gone.md", 0, b"precious").await;
    let tomb = delete_one(&app, &dev, "gone.md", 1).await;
    let listed = app.deleted(&dev, &[]).await;
    let last = listed.body["files"][0]["last_version"]["version"]
        .as_i64()
        .expect("v");

    let answer = app.restore(&dev, restore("gone.md", last, tomb)).await;
    assert_eq!(
        answer.body["restored"][0]["version"], 3,
        "{:?}",
        answer.body
    );
    assert_eq!(oracle::vault_size(&pool, Some(dev.user_id)).await, 8);
    assert_eq!(
        app.deleted(&dev, &[]).await.body["files"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_stale_base_is_a_conflict_and_writes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("restore").await;
    app.sync_up(&dev, "n.md", 0, b"one").await;
    app.sync_up(&dev, "n.md", 1, b"two").await;

    let answer = app.restore(&dev, restore("n.md", 1, 1)).await;
    assert_eq!(answer.body["restored"], json!([]), "{:?}", answer.body);
    assert_eq!(answer.body["conflicts"][0]["server_version"], 2);
    assert_eq!(oracle::history(&pool, "n.md").await.len(), 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_retried_restore_answers_the_same_and_writes_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("restore").await;
    app.sync_up(&dev, "n.md", 0, b"one").await;
    app.sync_up(&dev, "n.md", 1, b"two").await;
    let first = app.restore(&dev, restore("n.md", 1, 2)).await;
    let again = app.restore(&dev, restore("n.md", 1, 2)).await;
    assert_eq!(
        first.body["restored"], again.body["restored"],
        "{:?}",
        again.body
    );
    assert_eq!(oracle::history(&pool, "n.md").await.len(), 3);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_version_whose_bytes_are_gone_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("restore").await;
    app.sync_up(&dev, "n.md", 0, b"lost bytes").await;
    app.sync_up(&dev, "n.md", 1, b"now").await;
    // The blob of version 1 is gone (as retention or a purge would leave it).
    sqlx::query("DELETE FROM blobs WHERE content_hash = $1")
        .bind(sha256_hex(b"lost bytes"))
        .execute(&pool)
        .await
        .expect("forget the blob");

    let answer = app.restore(&dev, restore("n.md", 1, 2)).await;
    assert_eq!(
        answer.body["rejected"][0]["code"], "content_gone",
        "{:?}",
        answer.body
    );
    assert_eq!(oracle::history(&pool, "n.md").await.len(), 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unknown_versions_deletions_and_other_users_are_told_apart(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let anna = app.new_user_device("anna-r").await;
    let bob = app.new_user_device("bob-r").await;
    app.sync_up(&anna, "n.md", 0, b"one").await;
    let tomb = delete_one(&app, &anna, "n.md", 1).await;

    let unknown = app.restore(&anna, restore("n.md", 7, tomb)).await;
    assert_eq!(unknown.body["not_found"], json!(["n.md"]));
    let deletion = app.restore(&anna, restore("n.md", tomb, tomb)).await;
    assert_eq!(deletion.body["rejected"][0]["code"], "invalid_version");
    // Bob naming Anna's note gets exactly what a note that never existed gets.
    let theirs = app.restore(&bob, restore("n.md", 1, tomb)).await;
    let never = app.restore(&bob, restore("never.md", 1, tomb)).await;
    assert_eq!(theirs.body["not_found"], json!(["n.md"]));
    assert_eq!(never.body["not_found"], json!(["never.md"]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_restore_counts_against_the_quota(pool: PgPool) {
    let app = TestApp::builder(pool.clone())
        .setting("VAULT_QUOTA_BYTES", "20")
        .spawn()
        .await;
    let dev = app.new_user_device("restore").await;
    app.sync_up(&dev, "big.md", 0, b"twelve bytes").await;
    let tomb = delete_one(&app, &dev, "big.md", 1).await;
    app.sync_up(&dev, "other.md", 0, b"twelve bytes!").await;

    let answer = app.restore(&dev, restore("big.md", 1, tomb)).await;
    assert_eq!(
        answer.body["rejected"][0]["code"], "quota_exceeded",
        "{:?}",
        answer.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_two_forms_are_one_or_the_other(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("restore").await;
    for body in [
        json!({}),
        json!({"files": [], "as_of": "2026-01-01T00:00:00Z"}),
        json!({"files": [], "prefix": "a/"}),
    ] {
        let answer = app.restore(&dev, body.clone()).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    let future = app
        .restore(&dev, json!({"as_of": "2999-01-01T00:00:00Z"}))
        .await;
    assert_eq!((future.status, future.code()), (400, "invalid_as_of"));
    let garbled = app.restore(&dev, json!({"as_of": "yesterday"})).await;
    assert_eq!((garbled.status, garbled.code()), (400, "invalid_as_of"));
    let resume = app
        .restore(
            &dev,
            json!({"as_of": "2026-01-01T00:00:00Z", "resume": "r1.x.2"}),
        )
        .await;
    assert_eq!(resume.status, 400);
}
