//! A note goes from one device to another: push, upload, confirm, state, pull, notice.

use serde_json::json;
use sqlx::PgPool;

use super::{head_cursor, one_file, sha256_hex};
use crate::support::{TestApp, oracle};

const IDEA: &[u8] = b"# Idea\n\nNotes sync without losing a word.\n";

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_answers_a_signed_upload_and_commits_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("happy").await;

    let pushed = app.push(&mac, one_file("thoughts/Idea.md", 0, IDEA)).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let up = &pushed.body["uploads"][0];
    assert_eq!(up["method"], "PUT");
    let url = up["upload_url"].as_str().expect("url");
    assert!(
        url.contains(&format!("{}/blobs/{}", mac.user_id, sha256_hex(IDEA))),
        "{url}"
    );
    assert_eq!(
        up["headers"]["x-amz-checksum-sha256"],
        steel_core::domain::ContentHash::of(IDEA).to_base64()
    );
    // Push changed nothing yet.
    assert!(oracle::history(&pool, "thoughts/Idea.md").await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirmed_note_is_in_the_other_devices_state(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("happy").await;
    let phone = app.another_device(mac.user_id, "iPhone").await;
    let files = one_file("thoughts/Idea.md", 0, IDEA);
    let pushed = app.push(&mac, files.clone()).await;

    let put = app.upload(&pushed.body["uploads"][0], IDEA).await;
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let confirmed = app.confirm(&mac, files).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
    // Confirm answers no cursor (only state hands one out): the user's head after it.
    assert!(
        confirmed.body.get("cursor").is_none(),
        "{:?}",
        confirmed.body
    );
    let cursor = head_cursor(&app, mac.user_id).await;

    let seen = app.state(&phone, &[]).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    let f = &seen.body["files"][0];
    assert_eq!(f["path"], "thoughts/Idea.md");
    assert_eq!(f["version"], 1);
    assert_eq!(f["content_hash"], sha256_hex(IDEA));
    assert_eq!(f["size_bytes"], IDEA.len());
    assert_eq!(f["updated_by"], mac.device_id.to_string());
    assert_eq!(f["is_deleted"], false);
    assert_eq!(seen.body["cursor"], cursor.as_str());
    assert_eq!(seen.body["has_more"], false);
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_other_device_pulls_the_same_bytes(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("happy").await;
    let phone = app.another_device(mac.user_id, "iPhone").await;
    app.sync_file(&mac, "thoughts/Idea.md", 0, IDEA).await;

    let pulled = app
        .pull(&phone, json!({"paths": ["thoughts/Idea.md", "nope.md"]}))
        .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    assert_eq!(pulled.body["not_found"], json!(["nope.md"]));
    assert_eq!(
        app.download(&pulled.body["files"][0]["download_url"]).await,
        IDEA
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_commit_queues_one_notice_and_grows_the_vault(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("happy").await;
    app.sync_file(&mac, "thoughts/Idea.md", 0, IDEA).await;
    let cursor = head_cursor(&app, mac.user_id).await;

    // One notice for the notifier, naming the change.
    assert_eq!(
        app.drain_notices().await,
        vec![
            json!({"user_id": mac.user_id, "origin_device_id": mac.device_id, "cursor": cursor, "paths": ["thoughts/Idea.md"]})
        ]
    );
    assert_eq!(oracle::vault_size(&pool, None).await, IDEA.len() as i64);
    oracle::assert_consistent(&pool, true).await;
}

/// A three-way merge needs the base and the current version of one path: one pull fetches
/// both (the same version twice is still a duplicate).
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn one_pull_fetches_two_versions_of_a_path(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("merge").await;
    app.sync_up(&dev, "m.md", 0, b"base\n").await;
    app.sync_up(&dev, "m.md", 1, b"base\ntheirs\n").await;

    let pulled = app
        .pull(
            &dev,
            json!({"files": [{"path": "m.md", "version": 1}, {"path": "m.md", "version": 2},
                             {"path": "m.md", "version": 2}]}),
        )
        .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    let files = pulled.body["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{:?}", pulled.body);
    assert_eq!(app.download(&files[0]["download_url"]).await, b"base\n");
    assert_eq!(
        app.download(&files[1]["download_url"]).await,
        b"base\ntheirs\n"
    );
    assert_eq!(pulled.body["rejected"][0]["code"], "duplicate_path");
}
