//! Users are isolated: no route reaches another user's files or blobs.

use serde_json::json;
use sqlx::PgPool;

use super::one_file;
use crate::support::{TestApp, TestDevice, oracle};

const SECRET: &[u8] = b"anna's secret";

/// Anna, with `private.md` at version 1, and Bob.
async fn anna_and_bob(app: &TestApp) -> (TestDevice, TestDevice) {
    let anna = app.new_user_device("anna").await;
    let bob = app.new_user_device("bob").await;
    app.sync_up(&anna, "private.md", 0, SECRET).await;
    (anna, bob)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_users_files_are_not_in_state_or_pull(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, bob) = anna_and_bob(&app).await;

    let seen = app.state(&bob, &[]).await;
    assert_eq!(seen.body["files"], json!([]));
    let pulled = app.pull(&bob, json!({"paths": ["private.md"]})).await;
    assert_eq!(pulled.body["not_found"], json!(["private.md"]));
    let pulled = app
        .pull(
            &bob,
            json!({"files": [{"path": "private.md", "version": 1}]}),
        )
        .await;
    assert_eq!(pulled.body["not_found"], json!(["private.md"]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_users_file_cannot_be_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, bob) = anna_and_bob(&app).await;

    let deleted = app
        .delete(
            &bob,
            json!({"files": [{"path": "private.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.body["not_found"], json!(["private.md"]));
    let anna_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_state WHERE user_id = $1")
        .bind(anna.user_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(anna_rows, 1);
    let seen = app.state(&anna, &[]).await;
    assert_eq!(seen.body["files"][0]["is_deleted"], false, "still live");
    oracle::assert_consistent(&pool, true).await;
}

/// Pushing the same content as another user gets an upload URL under the pusher's own
/// prefix: another user's blob is never shared.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_bytes_upload_under_the_pushers_own_prefix(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, bob) = anna_and_bob(&app).await;

    let pushed = app.push(&bob, one_file("private.md", 0, SECRET)).await;
    let url = pushed.body["uploads"][0]["upload_url"]
        .as_str()
        .expect("own upload");
    assert!(url.contains(&bob.user_id.to_string()) && !url.contains(&anna.user_id.to_string()));
}
