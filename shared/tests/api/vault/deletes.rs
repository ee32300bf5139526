//! Deletes are checked against the version a device saw; tombstones revive only from
//! their own version.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::{head_cursor, one_file};
use crate::support::{TestApp, TestDevice, oracle};

/// `d.md` at version 2, written by the Mac; the phone is another device of the same user.
/// The notices of those commits are drained.
async fn two_versions(app: &TestApp) -> (TestDevice, TestDevice) {
    let mac = app.new_user_device("deleter").await;
    let phone = app.another_device(mac.user_id, "iPhone").await;
    app.sync_up(&mac, "d.md", 0, b"v1").await;
    app.sync_up(&mac, "d.md", 1, b"v2").await;
    app.drain_notices().await;
    (mac, phone)
}

fn delete_of(path: &str, base: i64) -> Value {
    json!({"files": [{"path": path, "base_version": base}]})
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_device_cannot_delete_a_version_it_has_not_seen(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, phone) = two_versions(&app).await;

    // The phone only saw v1: it cannot delete v2.
    let stale = app.delete(&phone, delete_of("d.md", 1)).await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body["deleted"], json!([]));
    assert_eq!(stale.body["conflicts"][0]["server_version"], 2);
    assert!(stale.body["conflicts"][0]["download_url"].is_string());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_delete_writes_a_tombstone_and_announces_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, phone) = two_versions(&app).await;

    let ok = app
        .delete(
            &phone,
            json!({"files": [{"path": "d.md", "base_version": 2}, {"path": "ghost.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(ok.body["deleted"][0]["version"], 3, "{:?}", ok.body);
    assert_eq!(ok.body["not_found"], json!(["ghost.md"]));
    let notices = app.drain_notices().await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["paths"], json!(["d.md"]));
    assert_eq!(notices[0]["origin_device_id"], phone.device_id.to_string());
    assert_eq!(notices[0]["cursor"], head_cursor(&app, phone.user_id).await);
    assert_eq!(oracle::vault_size(&pool, None).await, 0);
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_again_succeeds_and_announces_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, phone) = two_versions(&app).await;
    app.delete(&phone, delete_of("d.md", 2)).await;
    app.drain_notices().await;

    let again = app.delete(&phone, delete_of("d.md", 2)).await;
    assert_eq!(again.body["deleted"][0]["version"], 3);
    assert!(app.drain_notices().await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_stale_edit_cannot_resurrect_a_deleted_file(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (mac, phone) = two_versions(&app).await;
    app.delete(&phone, delete_of("d.md", 2)).await;

    let zombie = app.push(&mac, one_file("d.md", 2, b"old edit")).await;
    assert_eq!(
        zombie.body["conflicts"][0]["is_deleted"], true,
        "{:?}",
        zombie.body
    );
    assert!(zombie.body["conflicts"][0]["download_url"].is_null());
    let zombie = app.confirm(&mac, one_file("d.md", 2, b"v2")).await;
    assert_eq!(
        zombie.body["conflicts"][0]["is_deleted"], true,
        "{:?}",
        zombie.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_edit_based_on_the_tombstone_revives_the_file(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (mac, phone) = two_versions(&app).await;
    app.delete(&phone, delete_of("d.md", 2)).await;

    assert_eq!(app.sync_up(&mac, "d.md", 3, b"back again").await, 4);
    let pulled = app
        .pull(
            &phone,
            json!({"files": [{"path": "d.md", "version": 3}, {"path": "d.md", "version": 9}]}),
        )
        .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    let history = oracle::history(&pool, "d.md").await;
    assert_eq!(
        history.iter().map(|v| (v.0, v.2)).collect::<Vec<_>>(),
        vec![(1, false), (2, false), (3, true), (4, false)]
    );
    oracle::assert_consistent(&pool, true).await;
}
